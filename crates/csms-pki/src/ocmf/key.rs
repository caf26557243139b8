//! A meter's public key as an operator registers it. Meter makers publish the key, and
//! transparency software takes it, as the hexadecimal DER SubjectPublicKeyInfo; a PEM
//! "PUBLIC KEY" block and base64 DER are the same structure in other clothes. The OCMF record
//! does not carry the key (OCMF "Relation of Serial Numbers, Charge Point and Public Key"): it
//! must come out of band, which is why a key is read and checked when it is registered.

use super::signature::Curve;
use base64::Engine;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// id-ecPublicKey (RFC 5480 §2.1.1).
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// A meter's ECDSA public key on a curve Ström verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterKey {
    curve: Curve,
    /// The uncompressed point (SEC 1 §2.3.3), as ring takes it.
    point: Vec<u8>,
    /// The DER SubjectPublicKeyInfo, the key's canonical form.
    spki: Vec<u8>,
}

/// Why a text is not a meter key Ström can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is neither hexadecimal, base64 nor a PEM PUBLIC KEY block")]
    Encoding,
    #[error("the PEM text has no PUBLIC KEY block")]
    NoPublicKeyBlock,
    #[error("the key is not a DER SubjectPublicKeyInfo: {0}")]
    NotPublicKeyInfo(String),
    #[error("the key is not an elliptic-curve key (its algorithm is {0})")]
    NotEc(String),
    #[error("the key's curve {0} is not one OCMF names")]
    UnknownCurve(String),
    #[error("unsupported curve {0}: Ström verifies ECDSA on secp256r1 and secp384r1 only")]
    UnsupportedCurve(Curve),
    #[error("the key's point is not an uncompressed point on {0}")]
    BadPoint(Curve),
}

impl MeterKey {
    /// Reads a key from hexadecimal DER (upper or lower case), a PEM `PUBLIC KEY` block, or
    /// base64 DER; whitespace and line breaks inside are ignored. Hexadecimal is tried first:
    /// a DER SubjectPublicKeyInfo in base64 starts with `M`, which is no hex digit, so the two
    /// cannot be confused.
    pub fn parse(text: &str) -> Result<MeterKey, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        if text.starts_with("-----BEGIN") {
            let block = Pem::iter_from_buffer(text.as_bytes())
                .filter_map(Result::ok)
                .find(|b| b.label == "PUBLIC KEY")
                .ok_or(KeyError::NoPublicKeyBlock)?;
            return MeterKey::from_der(&block.contents);
        }
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let der = if compact.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(&compact).map_err(|_| KeyError::Encoding)?
        } else {
            base64::engine::general_purpose::STANDARD.decode(&compact).map_err(|_| KeyError::Encoding)?
        };
        MeterKey::from_der(&der)
    }

    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_der(der: &[u8]) -> Result<MeterKey, KeyError> {
        let (rest, info) =
            SubjectPublicKeyInfo::from_der(der).map_err(|e| KeyError::NotPublicKeyInfo(e.to_string()))?;
        if !rest.is_empty() {
            return Err(KeyError::NotPublicKeyInfo(format!("{} bytes after the key", rest.len())));
        }
        let algorithm = info.algorithm.algorithm.to_id_string();
        if algorithm != EC_PUBLIC_KEY {
            return Err(KeyError::NotEc(algorithm));
        }
        // RFC 5480 §2.1.1: the parameters of an EC key name its curve.
        let curve_oid = info
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|oid| oid.to_id_string())
            .ok_or_else(|| KeyError::UnknownCurve("(none named)".into()))?;
        let curve = Curve::ALL.into_iter().find(|c| c.oid() == curve_oid).ok_or(KeyError::UnknownCurve(curve_oid))?;
        if !curve.is_supported() {
            return Err(KeyError::UnsupportedCurve(curve));
        }
        let point = info.subject_public_key.data.to_vec();
        let field_bytes = match curve {
            Curve::Secp384r1 => 48,
            _ => 32,
        };
        // ring takes uncompressed points only; a compressed one (02/03) is refused here, when
        // the operator can still fix it, rather than at every verification.
        if point.len() != 1 + 2 * field_bytes || point.first() != Some(&0x04) {
            return Err(KeyError::BadPoint(curve));
        }
        Ok(MeterKey { curve, point, spki: der.to_vec() })
    }

    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The uncompressed EC point.
    pub fn point(&self) -> &[u8] {
        &self.point
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn der(&self) -> &[u8] {
        &self.spki
    }

    /// The key as operators and transparency software write it: hexadecimal DER, upper case.
    pub fn to_hex(&self) -> String {
        hex::encode_upper(&self.spki)
    }
}
