//! What Ström reads from a certificate: the facts an operator is shown (subject, issuer,
//! validity, fingerprint) and the hash data OCPP names an installed certificate by (OCPP 1.6
//! security whitepaper ed. 2 §4.1 CertificateHashDataType, OCPP 2.0.1 §2.6), which Ström
//! computes for a certificate it installs so that the station's own listing can be matched.

use crate::PkiError;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_parser::certificate::X509Certificate;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;

/// The hash algorithms of OCPP's CertificateHashDataType (HashAlgorithmEnumType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// As OCPP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "SHA256",
            HashAlgorithm::Sha384 => "SHA384",
            HashAlgorithm::Sha512 => "SHA512",
        }
    }

    pub fn parse(text: &str) -> Option<HashAlgorithm> {
        [HashAlgorithm::Sha256, HashAlgorithm::Sha384, HashAlgorithm::Sha512].into_iter().find(|a| a.as_str() == text)
    }

    fn digest(self, data: &[u8]) -> String {
        match self {
            HashAlgorithm::Sha256 => hex::encode(Sha256::digest(data)),
            HashAlgorithm::Sha384 => hex::encode(Sha384::digest(data)),
            HashAlgorithm::Sha512 => hex::encode(Sha512::digest(data)),
        }
    }
}

/// OCPP's name for a certificate: the hashes of its issuer's name and public key and its
/// serial number, all as lowercase hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashData {
    pub algorithm: HashAlgorithm,
    /// The hash of the DER-encoded issuer name.
    pub issuer_name_hash: String,
    /// The hash of the issuer's public key (the subjectPublicKey bits, as in an OCSP CertID,
    /// RFC 6960 §4.1.1). Known only when the issuer's key is: for a self-signed certificate,
    /// which every root certificate OCPP installs is; `None` otherwise.
    pub issuer_key_hash: Option<String>,
    /// Without leading zeroes (OCPP 2.0.1 CertificateHashDataType.serialNumber).
    pub serial_number: String,
}

/// What Ström keeps of a certificate; never any private material (a certificate has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// Hexadecimal, lowercase, without leading zeroes.
    pub serial_number: String,
    /// RFC 4514 text, e.g. `CN=CP1, O=Example`.
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the DER encoding, lowercase hexadecimal.
    pub fingerprint_sha256: String,
    /// Subject and issuer are the same name: a root, whose own key is its issuer's.
    pub self_signed: bool,
    /// The subjectPublicKey bits, which a self-signed certificate's issuerKeyHash hashes.
    public_key: Vec<u8>,
    /// The DER-encoded issuer name, which issuerNameHash hashes.
    issuer_der: Vec<u8>,
}

impl CertificateFacts {
    /// Reads one DER-encoded certificate.
    pub fn from_der(der: &[u8]) -> Result<CertificateFacts, PkiError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::Certificate(e.to_string()))?;
        Self::of(&cert, der)
    }

    /// Reads the first certificate of a PEM text (a chain starts with its leaf).
    pub fn from_pem(pem: &str) -> Result<CertificateFacts, PkiError> {
        let ders = certificates_in(pem)?;
        let first = ders.first().ok_or(PkiError::NoCertificate)?;
        Self::from_der(first)
    }

    fn of(cert: &X509Certificate<'_>, der: &[u8]) -> Result<CertificateFacts, PkiError> {
        let time = |t: i64| {
            DateTime::from_timestamp(t, 0).ok_or_else(|| PkiError::Certificate(format!("time {t} out of range")))
        };
        let validity = cert.validity();
        let subject = cert.subject();
        let issuer = cert.issuer();
        Ok(CertificateFacts {
            serial_number: serial_hex(cert.raw_serial()),
            subject: subject.to_string(),
            issuer: issuer.to_string(),
            common_name: subject.iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_string),
            not_before: time(validity.not_before.timestamp())?,
            not_after: time(validity.not_after.timestamp())?,
            fingerprint_sha256: hex::encode(Sha256::digest(der)),
            self_signed: subject.as_raw() == issuer.as_raw(),
            public_key: cert.public_key().subject_public_key.data.to_vec(),
            issuer_der: issuer.as_raw().to_vec(),
        })
    }

    /// The certificate's OCPP hash data with `algorithm`.
    pub fn hash_data(&self, algorithm: HashAlgorithm) -> HashData {
        HashData {
            algorithm,
            issuer_name_hash: algorithm.digest(&self.issuer_der),
            issuer_key_hash: self.self_signed.then(|| algorithm.digest(&self.public_key)),
            serial_number: self.serial_number.clone(),
        }
    }

    /// Whole days from `now` until the certificate expires; negative once it has.
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after - now).num_days()
    }
}

/// Every CERTIFICATE block of a PEM text, DER-encoded, in order. Other blocks are skipped.
pub fn certificates_in(pem: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    let mut ders = Vec::new();
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| PkiError::Certificate(e.to_string()))?;
        if block.label == "CERTIFICATE" {
            ders.push(block.contents);
        }
    }
    if ders.is_empty() {
        return Err(PkiError::NoCertificate);
    }
    Ok(ders)
}

/// A serial number as OCPP writes it: hexadecimal without leading zeroes ("0" for zero).
pub(crate) fn serial_hex(raw: &[u8]) -> String {
    let text = hex::encode(raw);
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_lose_their_leading_zeroes_only() {
        assert_eq!(serial_hex(&[0x00, 0x0a, 0xb0]), "ab0");
        assert_eq!(serial_hex(&[0x00]), "0");
        assert_eq!(serial_hex(&[0x7f, 0x01]), "7f01");
    }

    #[test]
    fn hash_algorithms_are_spelled_as_ocpp_spells_them() {
        for a in [HashAlgorithm::Sha256, HashAlgorithm::Sha384, HashAlgorithm::Sha512] {
            assert_eq!(HashAlgorithm::parse(a.as_str()), Some(a));
        }
        assert_eq!(HashAlgorithm::parse("sha256"), None);
        assert_eq!(HashAlgorithm::Sha384.digest(b"").len(), 96);
    }

    #[test]
    fn text_without_a_certificate_is_refused() {
        assert!(matches!(certificates_in("no pem here"), Err(PkiError::NoCertificate)));
        assert!(CertificateFacts::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
    }
}
