//! A station's certificate signing request (PKCS #10, PEM), read and checked before Ström signs
//! anything: its self-signature must verify (the station holds the key it asks a certificate
//! for), and its subject must name the station (OCPP 1.6 security whitepaper ed. 2 §3.2: CN is
//! the Charge Point's identity, O the CPO's name; OCPP 2.0.1 A02.FR.06/A03.FR.06), and its key
//! must be as strong as OCPP asks of certificate keys (RSA ≥ 2048 bits, EC ≥ 224 bits;
//! whitepaper §2.4, 2.0.1 A00.FR.410; CHECKLIST §3.1).

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// The weakest keys a station certificate may carry (OCPP 1.6 security whitepaper ed. 2 §2.4).
const MIN_RSA_BITS: usize = 2048;
const MIN_EC_BITS: usize = 224;

/// What Ström takes from a CSR whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationCsr {
    pub common_name: Option<String>,
    pub organization: Option<String>,
    /// The DER-encoded SubjectPublicKeyInfo the certificate will carry.
    pub public_key_info: Vec<u8>,
}

/// Why a station's CSR is not signed. Each has a short code for the 2.0.1 answer's
/// `statusInfo.reasonCode` (at most 20 characters) and a sentence for the station's events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrRefusal {
    #[error("no CA is configured, so Ström signs no certificates")]
    NoAuthority,
    #[error("ISO 15118 (V2G) certificates are signed by a V2G PKI, which Ström does not have")]
    V2gNotSupported,
    #[error("the CSR is not a PEM CERTIFICATE REQUEST")]
    NotPem,
    #[error("the CSR cannot be read: {0}")]
    Unreadable(String),
    #[error("the CSR's signature does not verify with its own public key")]
    BadSignature,
    #[error("the CSR's subject has no common name (CN)")]
    NoCommonName,
    #[error("the CSR's common name is {found:?}, not the station's identity {expected:?}")]
    WrongCommonName { expected: String, found: String },
    #[error("the CSR's organization is {found:?}, not the operator's name {expected:?}")]
    WrongOrganization { expected: String, found: Option<String> },
    #[error("the CSR's key is too weak: {0}")]
    WeakKey(String),
    #[error("the CSR's key cannot be put in a certificate: {0}")]
    UnsupportedKey(String),
    #[error("signing failed: {0}")]
    Signing(String),
}

impl CsrRefusal {
    /// For 2.0.1's `statusInfo.reasonCode` (StatusInfoType, maxLength 20).
    pub fn reason_code(&self) -> &'static str {
        match self {
            CsrRefusal::NoAuthority => "NoCA",
            CsrRefusal::V2gNotSupported => "NoV2GPKI",
            CsrRefusal::NotPem | CsrRefusal::Unreadable(_) => "InvalidCSR",
            CsrRefusal::BadSignature => "InvalidSignature",
            CsrRefusal::NoCommonName | CsrRefusal::WrongCommonName { .. } => "InvalidCommonName",
            CsrRefusal::WrongOrganization { .. } => "InvalidOrganization",
            CsrRefusal::WeakKey(_) => "WeakKey",
            CsrRefusal::UnsupportedKey(_) => "UnsupportedKey",
            CsrRefusal::Signing(_) => "SigningFailed",
        }
    }
}

/// Reads a PEM CSR, checks the strength of its key and verifies its self-signature.
pub fn parse_csr(pem: &str) -> Result<StationCsr, CsrRefusal> {
    let block = Pem::iter_from_buffer(pem.as_bytes())
        .filter_map(Result::ok)
        // "NEW CERTIFICATE REQUEST" is the label older tools (Netscape, some firmware) write.
        .find(|b| b.label == "CERTIFICATE REQUEST" || b.label == "NEW CERTIFICATE REQUEST")
        .ok_or(CsrRefusal::NotPem)?;
    let (_, csr) =
        X509CertificationRequest::from_der(&block.contents).map_err(|e| CsrRefusal::Unreadable(e.to_string()))?;
    let info = &csr.certification_request_info;
    check_strength(info.subject_pki.parsed().ok())?;
    csr.verify_signature().map_err(|_| CsrRefusal::BadSignature)?;
    let text = |a: &x509_parser::x509::AttributeTypeAndValue<'_>| a.as_str().ok().map(str::to_string);
    let common_name = info.subject.iter_common_name().next().and_then(text);
    let organization = info.subject.iter_organization().next().and_then(text);
    Ok(StationCsr { common_name, organization, public_key_info: info.subject_pki.raw.to_vec() })
}

/// RSA and EC keys must have at least `MIN_RSA_BITS` / `MIN_EC_BITS`; whether a key of another
/// algorithm (Ed25519, say) can be certified is for the signing to find out.
fn check_strength(key: Option<PublicKey<'_>>) -> Result<(), CsrRefusal> {
    match key {
        Some(PublicKey::RSA(rsa)) => {
            let modulus = rsa.modulus.iter().skip_while(|b| **b == 0).count();
            let bits = modulus * 8;
            if bits < MIN_RSA_BITS {
                return Err(CsrRefusal::WeakKey(format!("RSA of {bits} bits, at least {MIN_RSA_BITS} are needed")));
            }
        }
        Some(PublicKey::EC(point)) => {
            let bits = point.key_size();
            if bits < MIN_EC_BITS {
                return Err(CsrRefusal::WeakKey(format!("EC of {bits} bits, at least {MIN_EC_BITS} are needed")));
            }
        }
        Some(PublicKey::DSA(_)) => return Err(CsrRefusal::UnsupportedKey("DSA".into())),
        _ => {}
    }
    Ok(())
}

impl StationCsr {
    /// The subject rule: CN is the station's identity; O is the operator's name when one is
    /// configured (OCPP 1.6 security whitepaper ed. 2 §3.2, CpoName).
    pub fn check_subject(&self, station: &str, operator_name: Option<&str>) -> Result<(), CsrRefusal> {
        let Some(cn) = &self.common_name else {
            return Err(CsrRefusal::NoCommonName);
        };
        if cn != station {
            return Err(CsrRefusal::WrongCommonName { expected: station.to_string(), found: cn.clone() });
        }
        match operator_name {
            Some(expected) if self.organization.as_deref() != Some(expected) => {
                Err(CsrRefusal::WrongOrganization { expected: expected.to_string(), found: self.organization.clone() })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(cn: Option<&str>, o: Option<&str>) -> StationCsr {
        StationCsr {
            common_name: cn.map(str::to_string),
            organization: o.map(str::to_string),
            public_key_info: Vec::new(),
        }
    }

    #[test]
    fn the_subject_must_name_the_station_and_the_operator() {
        // (CN, O, operator name configured, refusal code)
        type Case = (Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<&'static str>);
        let cases: &[Case] = &[
            (Some("CP1"), None, None, None),
            (Some("CP1"), Some("Any"), None, None),
            (Some("CP1"), Some("Ström AB"), Some("Ström AB"), None),
            (Some("CP2"), None, None, Some("InvalidCommonName")),
            (Some("cp1"), None, None, Some("InvalidCommonName")),
            (None, Some("Ström AB"), None, Some("InvalidCommonName")),
            (Some("CP1"), None, Some("Ström AB"), Some("InvalidOrganization")),
            (Some("CP1"), Some("Other"), Some("Ström AB"), Some("InvalidOrganization")),
        ];
        for (cn, o, operator, refusal) in cases {
            let got = csr(*cn, *o).check_subject("CP1", *operator).err().map(|e| e.reason_code());
            assert_eq!(got, *refusal, "CN {cn:?}, O {o:?}, operator {operator:?}");
        }
    }

    #[test]
    fn reason_codes_fit_the_201_status_info() {
        let all = [
            CsrRefusal::NoAuthority,
            CsrRefusal::V2gNotSupported,
            CsrRefusal::NotPem,
            CsrRefusal::BadSignature,
            CsrRefusal::NoCommonName,
            CsrRefusal::WrongOrganization { expected: String::new(), found: None },
            CsrRefusal::UnsupportedKey(String::new()),
            CsrRefusal::WeakKey(String::new()),
            CsrRefusal::Signing(String::new()),
        ];
        assert!(all.iter().all(|r| r.reason_code().len() <= 20));
    }

    /// An RSA key of `bits` bits that signs with zeros: ring makes no RSA keys, and the strength
    /// of the key is checked before the signature is.
    struct RsaOfSize {
        bits: usize,
        /// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER 65537 }
        der: Vec<u8>,
    }

    impl RsaOfSize {
        fn new(bits: usize) -> RsaOfSize {
            let modulus = bits / 8;
            let mut integers = vec![0x02, 0x82];
            integers.extend_from_slice(&((modulus + 1) as u16).to_be_bytes());
            integers.push(0x00);
            integers.extend(std::iter::repeat_n(0xc3, modulus));
            integers.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
            let mut der = vec![0x30, 0x82];
            der.extend_from_slice(&(integers.len() as u16).to_be_bytes());
            der.extend(integers);
            RsaOfSize { bits, der }
        }
    }

    impl rcgen::PublicKeyData for RsaOfSize {
        fn der_bytes(&self) -> &[u8] {
            &self.der
        }

        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &rcgen::PKCS_RSA_SHA256
        }
    }

    impl rcgen::SigningKey for RsaOfSize {
        fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
            Ok(vec![0; self.bits / 8])
        }
    }

    #[test]
    fn weak_keys_are_refused_before_their_signature_is_checked() {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name.push(rcgen::DnType::CommonName, "CP1");
        let weak = params.serialize_request(&RsaOfSize::new(1024)).expect("CSR").pem().expect("PEM");
        assert!(matches!(parse_csr(&weak), Err(CsrRefusal::WeakKey(reason)) if reason.contains("1024 bits")));
        let strong = params.serialize_request(&RsaOfSize::new(2048)).expect("CSR").pem().expect("PEM");
        assert_eq!(parse_csr(&strong), Err(CsrRefusal::BadSignature), "strong enough, but signed with zeros");
    }

    #[test]
    fn text_that_is_no_csr_is_refused() {
        assert_eq!(parse_csr("-----BEGIN CERTIFICATE REQUEST-----"), Err(CsrRefusal::NotPem));
        let garbage = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
        assert!(matches!(parse_csr(garbage), Err(CsrRefusal::Unreadable(_))));
    }
}
