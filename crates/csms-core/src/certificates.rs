//! The certificates Ström keeps track of for each station (OCPP 1.6 security whitepaper ed. 2
//! §3–4, OCPP 2.0.1 blocks A and M): those it signed for the station, with what the station
//! answered to them (CertificateSigned), and those the station holds by its own word
//! (GetInstalledCertificateIds) or by an InstallCertificate or DeleteCertificate it accepted.
//! Only public facts: no private key ever reaches Ström from a station.

use crate::station::StationId;
use crate::Timestamp;

/// What became of a certificate Ström signed for a station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuedStatus {
    /// Signed and recorded; CertificateSigned not (yet) answered.
    Issued,
    /// The station answered CertificateSigned with Accepted.
    Accepted,
    /// The station answered Rejected: it found the chain invalid (OCPP 1.6 TC_077, 2.0.1
    /// TC_A_14); its SecurityEventNotification says why.
    Rejected,
}

impl IssuedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IssuedStatus::Issued => "issued",
            IssuedStatus::Accepted => "accepted",
            IssuedStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<IssuedStatus> {
        [IssuedStatus::Issued, IssuedStatus::Accepted, IssuedStatus::Rejected].into_iter().find(|s| s.as_str() == text)
    }
}

/// A certificate Ström signed for a station.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedCertificate {
    pub station: StationId,
    /// OCPP's certificate type: ChargingStationCertificate (1.6: the Charge Point certificate).
    pub certificate_type: String,
    /// Hexadecimal, lowercase, without leading zeroes.
    pub serial_number: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub fingerprint_sha256: String,
}

/// OCPP's CertificateHashDataType: how a station names a certificate it holds, and how
/// DeleteCertificate names it back (exactly as listed, CHECKLIST §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateHash {
    pub hash_algorithm: String,
    pub issuer_name_hash: String,
    /// Empty when unknown: Ström computes it only for self-signed certificates it installs.
    pub issuer_key_hash: String,
    pub serial_number: String,
}

impl CertificateHash {
    /// The certificate's identity for matching: hexadecimal is compared without regard to
    /// case, a serial number also without leading zeroes, since stations differ in both.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.hash_algorithm.to_ascii_uppercase(),
            self.issuer_name_hash.to_ascii_lowercase(),
            self.issuer_key_hash.to_ascii_lowercase(),
            serial_key(&self.serial_number)
        )
    }
}

/// A serial number for matching: lowercase, no leading zeroes.
pub fn serial_key(serial: &str) -> String {
    let lower = serial.trim().to_ascii_lowercase();
    let trimmed = lower.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// A certificate a station holds.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledCertificate {
    /// The station's word for its use: CentralSystemRootCertificate, ManufacturerRootCertificate
    /// (1.6); CSMSRootCertificate, ManufacturerRootCertificate, V2GRootCertificate,
    /// MORootCertificate, V2GCertificateChain (2.0.1).
    pub certificate_type: String,
    pub hash: CertificateHash,
    /// For a certificate below another in a 2.0.1 V2GCertificateChain listing: the key
    /// (`CertificateHash::key`) of the one above.
    pub parent: Option<String>,
    /// Known when Ström installed it (or signed it): the station's listing has hashes only.
    pub subject: Option<String>,
    pub not_after: Option<Timestamp>,
}

/// What a station's answer to a certificate command changes.
#[derive(Debug, Clone, PartialEq)]
pub enum CertificateChange {
    /// The station answered the CertificateSigned that carried the certificate with this
    /// serial number.
    Answered { station: StationId, serial_number: String, accepted: bool, now: Timestamp },
    /// The station listed the certificates it holds of `types` (empty: of every type): they
    /// replace what Ström knew of those types. Facts Ström knew of a listed certificate
    /// (subject, expiry) are kept, matched by serial number.
    Reported { station: StationId, types: Vec<String>, certificates: Vec<InstalledCertificate>, now: Timestamp },
    /// The station accepted an InstallCertificate.
    Installed { station: StationId, certificate: InstalledCertificate, now: Timestamp },
    /// The station accepted a DeleteCertificate.
    Deleted { station: StationId, hash: CertificateHash },
}

/// Whole days from `now` until `not_after`; negative once it has passed.
pub fn days_left(not_after: Timestamp, now: Timestamp) -> i64 {
    (not_after - now).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(algorithm: &str, name: &str, key: &str, serial: &str) -> CertificateHash {
        CertificateHash {
            hash_algorithm: algorithm.into(),
            issuer_name_hash: name.into(),
            issuer_key_hash: key.into(),
            serial_number: serial.into(),
        }
    }

    #[test]
    fn hash_data_matches_whatever_the_case_and_leading_zeroes() {
        assert_eq!(hash("SHA256", "AB", "CD", "00F1").key(), hash("SHA256", "ab", "cd", "f1").key());
        assert_ne!(hash("SHA256", "ab", "cd", "f1").key(), hash("SHA384", "ab", "cd", "f1").key());
        assert_ne!(hash("SHA256", "ab", "cd", "f1").key(), hash("SHA256", "ab", "cd", "f2").key());
        assert_eq!(serial_key("000"), "0");
    }

    #[test]
    fn days_left_count_whole_days_and_go_negative_after_expiry() {
        let now = Timestamp::from_timestamp(1_800_000_000, 0).expect("in range");
        let cases = [(0, 0), (86_399, 0), (86_400, 1), (30 * 86_400 + 5, 30), (-1, 0), (-86_400, -1)];
        for (seconds, days) in cases {
            assert_eq!(days_left(now + chrono::Duration::seconds(seconds), now), days, "{seconds} s");
        }
    }

    #[test]
    fn issued_statuses_read_back() {
        for s in [IssuedStatus::Issued, IssuedStatus::Accepted, IssuedStatus::Rejected] {
            assert_eq!(IssuedStatus::parse(s.as_str()), Some(s));
        }
    }
}
