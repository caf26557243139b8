//! Ström's certificate authority (OCPP 1.6 security whitepaper ed. 2 §3, OCPP 2.0.1 block A
//! A02/A03): a station's certificate signing request is read, its self-signature verified and
//! its subject checked against the station, and a certificate for the station signed by the CA
//! that Ström is configured with; certificates are read for what the operator is shown (subject,
//! validity, fingerprint) and for the hash data OCPP names them by; and signed meter readings
//! (OCMF) are read and their signatures verified against the meter's registered key. No I/O:
//! PEM text in, PEM text out; the files are the binary's business.

mod authority;
mod csr;
mod facts;
pub mod ocmf;

pub use authority::{Authority, GeneratedCa, Issued, Policy};
pub use csr::{parse_csr, CsrRefusal, StationCsr};
pub use facts::{certificates_in, CertificateFacts, HashAlgorithm, HashData};

/// Why a CA, a key or a certificate could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("no PEM CERTIFICATE block in the text")]
    NoCertificate,
    #[error("the certificate cannot be read: {0}")]
    Certificate(String),
    #[error("the private key cannot be read (a PKCS#8 PEM \"PRIVATE KEY\" is needed): {0}")]
    Key(String),
    #[error("the private key does not belong to the CA certificate")]
    KeyMismatch,
    #[error("the CA certificate is not a CA (its basicConstraints do not say cA)")]
    NotCa,
    #[error("the CA certificate is valid only from {not_before} to {not_after}")]
    OutsideValidity { not_before: String, not_after: String },
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("no randomness for a serial number: {0}")]
    Random(String),
}
