//! The signature section of an OCMF record (OCMF table 8) and its verification with ring.
//! OCMF names seven ECDSA variants (table 22); ring verifies the two NIST curves among them,
//! P-256 and P-384 (each with SHA-256, as OCMF pairs them). The brainpool and the 192-bit and
//! secp256k1 curves are read but refused by name, never passed over.

use super::key::MeterKey;
use super::{OcmfError, Record};
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA256_ASN1};
use serde::Deserialize;

/// The elliptic curves of OCMF's algorithms and key types (OCMF tables 22 and 23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    Secp192k1,
    Secp256k1,
    Secp192r1,
    /// NIST P-256, prime256v1.
    Secp256r1,
    Brainpool256r1,
    /// NIST P-384.
    Secp384r1,
    Brainpool384r1,
}

impl Curve {
    /// As OCMF names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Curve::Secp192k1 => "secp192k1",
            Curve::Secp256k1 => "secp256k1",
            Curve::Secp192r1 => "secp192r1",
            Curve::Secp256r1 => "secp256r1",
            Curve::Brainpool256r1 => "brainpool256r1",
            Curve::Secp384r1 => "secp384r1",
            Curve::Brainpool384r1 => "brainpool384r1",
        }
    }

    /// Whether Ström can verify signatures on this curve (ring has the NIST curves only).
    pub fn is_supported(self) -> bool {
        matches!(self, Curve::Secp256r1 | Curve::Secp384r1)
    }

    /// The curve's object identifier in dotted form (SEC 2 §A.2, RFC 5639 §4.1), as a key's
    /// SubjectPublicKeyInfo names it.
    pub(super) fn oid(self) -> &'static str {
        match self {
            Curve::Secp192k1 => "1.3.132.0.31",
            Curve::Secp256k1 => "1.3.132.0.10",
            Curve::Secp192r1 => "1.2.840.10045.3.1.1",
            Curve::Secp256r1 => "1.2.840.10045.3.1.7",
            Curve::Brainpool256r1 => "1.3.36.3.3.2.8.1.1.7",
            Curve::Secp384r1 => "1.3.132.0.34",
            Curve::Brainpool384r1 => "1.3.36.3.3.2.8.1.1.11",
        }
    }

    pub(super) const ALL: [Curve; 7] = [
        Curve::Secp192k1,
        Curve::Secp256k1,
        Curve::Secp192r1,
        Curve::Secp256r1,
        Curve::Brainpool256r1,
        Curve::Secp384r1,
        Curve::Brainpool384r1,
    ];
}

impl std::fmt::Display for Curve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SA: the signature algorithms of OCMF table 22, all ECDSA with SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignatureAlgorithm {
    pub curve: Curve,
}

impl SignatureAlgorithm {
    /// OCMF's default since version 0.4, meant when SA is absent.
    pub const DEFAULT: SignatureAlgorithm = SignatureAlgorithm { curve: Curve::Secp256r1 };

    /// `ECDSA-<curve>-SHA256`, the only shape table 22 has.
    pub fn parse(text: &str) -> Option<SignatureAlgorithm> {
        let curve = text.strip_prefix("ECDSA-")?.strip_suffix("-SHA256")?;
        Curve::ALL.into_iter().find(|c| c.as_str() == curve).map(|curve| SignatureAlgorithm { curve })
    }
}

impl std::fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ECDSA-{}-SHA256", self.curve)
    }
}

/// SE: how SD is written in the JSON string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// The default.
    Hex,
    Base64,
}

/// A record's signature, decoded. SM can only be `application/x-der` (OCMF table 8), so the
/// bytes are always an ASN.1 DER ECDSA-Sig-Value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub algorithm: SignatureAlgorithm,
    pub encoding: SignatureEncoding,
    pub der: Vec<u8>,
}

/// The signature section's JSON; other keys are extension points (OCMF "Extension Points in
/// Signature Section") and skipped.
#[derive(Deserialize)]
struct RawSignature {
    #[serde(rename = "SA")]
    algorithm: Option<String>,
    #[serde(rename = "SE")]
    encoding: Option<String>,
    #[serde(rename = "SM")]
    mime: Option<String>,
    #[serde(rename = "SD")]
    data: Option<String>,
}

/// Reads the signature section, applying OCMF's defaults for the fields left out.
pub(super) fn read(section: &str) -> Result<Signature, OcmfError> {
    let raw: RawSignature = serde_json::from_str(section).map_err(|e| OcmfError::SignatureSection(e.to_string()))?;
    let algorithm = match raw.algorithm {
        Some(text) => SignatureAlgorithm::parse(&text).ok_or(OcmfError::Invalid {
            field: "SA",
            value: text,
            reason: "not a signature algorithm in OCMF table 22",
        })?,
        None => SignatureAlgorithm::DEFAULT,
    };
    let encoding = match raw.encoding.as_deref() {
        None | Some("hex") => SignatureEncoding::Hex,
        Some("base64") => SignatureEncoding::Base64,
        Some(other) => {
            return Err(OcmfError::Invalid {
                field: "SE",
                value: other.into(),
                reason: "the encoding is hex or base64",
            })
        }
    };
    match raw.mime.as_deref() {
        None | Some("application/x-der") => {}
        Some(other) => {
            return Err(OcmfError::Invalid {
                field: "SM",
                value: other.into(),
                reason: "the only signature type OCMF has is application/x-der",
            })
        }
    }
    let data = raw.data.ok_or(OcmfError::Missing("SD"))?;
    let der = match encoding {
        SignatureEncoding::Hex => hex::decode(&data).ok(),
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.decode(&data).ok(),
    };
    let der = der.filter(|d| !d.is_empty()).ok_or(OcmfError::Invalid {
        field: "SD",
        value: data,
        reason: match encoding {
            SignatureEncoding::Hex => "the signature is not hexadecimal (SE is hex)",
            SignatureEncoding::Base64 => "the signature is not base64 (SE is base64)",
        },
    })?;
    Ok(Signature { algorithm, encoding, der })
}

/// Why a record's signature does not verify with a meter's key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("unsupported algorithm {0}: Ström verifies ECDSA on secp256r1 and secp384r1 only")]
    UnsupportedAlgorithm(SignatureAlgorithm),
    #[error("the record is signed with {algorithm}, but the meter's key is on {key}")]
    CurveMismatch { algorithm: SignatureAlgorithm, key: Curve },
    #[error("the signature does not verify with the meter's key: the record was changed or signed with another key")]
    BadSignature,
}

/// Verifies a record's signature over its payload with the meter's public key.
pub fn verify(record: &Record, key: &MeterKey) -> Result<(), VerifyError> {
    let algorithm = record.signature.algorithm;
    let verification = match algorithm.curve {
        Curve::Secp256r1 => &ECDSA_P256_SHA256_ASN1,
        Curve::Secp384r1 => &ECDSA_P384_SHA256_ASN1,
        _ => return Err(VerifyError::UnsupportedAlgorithm(algorithm)),
    };
    if key.curve() != algorithm.curve {
        return Err(VerifyError::CurveMismatch { algorithm, key: key.curve() });
    }
    UnparsedPublicKey::new(verification, key.point())
        .verify(record.signed_data(), &record.signature.der)
        .map_err(|_| VerifyError::BadSignature)
}
