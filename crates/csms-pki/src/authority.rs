//! The CA Ström signs station certificates with (OCPP 1.6 security whitepaper ed. 2 §3.2
//! "certificate renewal", OCPP 2.0.1 A02/A03): loaded from a PEM certificate and its PKCS#8
//! key, or made anew by `strom ca init`. A station certificate is for TLS client
//! authentication (security profile 3): CN = the station's identity, O = the CSR's (checked
//! against the operator's name when one is configured), key usage digitalSignature and
//! keyAgreement, extended key usage clientAuth, a random serial number.

use crate::csr::{parse_csr, CsrRefusal};
use crate::facts::{certificates_in, CertificateFacts};
use crate::PkiError;
use chrono::{DateTime, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber, SubjectPublicKeyInfo,
};

/// How Ström issues station certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// When set, a CSR's O must be this (the 1.6 CpoName; 2.0.1 SecurityCtrlr.OrganizationName).
    pub operator_name: Option<String>,
    /// How long an issued certificate is valid (never past the CA's own end).
    pub validity: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { operator_name: None, validity: Duration::days(365) }
    }
}

/// A signed station certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The station certificate then the CA's certificate(s), PEM: OCPP's certificateChain
    /// (leaf first).
    pub chain_pem: String,
    pub facts: CertificateFacts,
}

/// A CA made by `Authority::generate`: its certificate and its private key, both PEM.
pub struct GeneratedCa {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for GeneratedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCa").field("cert_pem", &self.cert_pem).field("key_pem", &"***").finish()
    }
}

/// Ström's CA: the issuer (name, key identifier, signing key) and the chain it hands out.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA's certificate and any above it, as PEM, appended to every issued certificate.
    chain_pem: String,
    facts: CertificateFacts,
    policy: Policy,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signing key is never printed.
        f.debug_struct("Authority").field("subject", &self.facts.subject).field("policy", &self.policy).finish()
    }
}

/// Station clocks may run a little behind Ström's: a certificate valid only from this very
/// second would be refused by such a station until its clock caught up.
const BACKDATE: Duration = Duration::minutes(5);

impl Authority {
    /// A new CA: an ECDSA P-256 key and a self-signed certificate valid for `validity` from
    /// `now`, allowed to sign certificates but no further CAs (pathLenConstraint 0).
    pub fn generate(
        common_name: &str,
        organization: Option<&str>,
        validity: Duration,
        now: DateTime<Utc>,
    ) -> Result<GeneratedCa, PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| PkiError::Key(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, organization);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.not_before = offset(now - BACKDATE)?;
        params.not_after = offset(now + validity)?;
        params.serial_number = Some(random_serial()?);
        let cert = params.self_signed(&key).map_err(|e| PkiError::Signing(e.to_string()))?;
        Ok(GeneratedCa { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// Loads the CA from its certificate (PEM; any further certificates in the text are its
    /// own issuers, handed out with it) and its PKCS#8 private key, checked: the key must be
    /// the certificate's, the certificate a CA's and valid at `now`.
    pub fn load(cert_pem: &str, key_pem: &str, policy: Policy, now: DateTime<Utc>) -> Result<Authority, PkiError> {
        let ders = certificates_in(cert_pem)?;
        let own = &ders[0];
        let (_, cert) = x509_parser::parse_x509_certificate(own).map_err(|e| PkiError::Certificate(e.to_string()))?;
        if !cert.is_ca() {
            return Err(PkiError::NotCa);
        }
        let facts = CertificateFacts::from_der(own)?;
        if now < facts.not_before || now >= facts.not_after {
            return Err(PkiError::OutsideValidity {
                not_before: facts.not_before.to_rfc3339(),
                not_after: facts.not_after.to_rfc3339(),
            });
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| PkiError::Key(e.to_string()))?;
        if key.public_key_raw() != cert.public_key().subject_public_key.data.as_ref() {
            return Err(PkiError::KeyMismatch);
        }
        let issuer =
            Issuer::from_ca_cert_der(&own.as_slice().into(), key).map_err(|e| PkiError::Certificate(e.to_string()))?;
        let chain_pem = ders.iter().map(|der| pem("CERTIFICATE", der)).collect();
        Ok(Authority { issuer, chain_pem, facts, policy })
    }

    /// The CA's own certificate, as read.
    pub fn certificate(&self) -> &CertificateFacts {
        &self.facts
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Checks a station's CSR (signature, CN = `station`, O = the operator's name if set) and
    /// signs a certificate for its key.
    pub fn sign_station_csr(&self, station: &str, csr_pem: &str, now: DateTime<Utc>) -> Result<Issued, CsrRefusal> {
        let csr = parse_csr(csr_pem)?;
        csr.check_subject(station, self.policy.operator_name.as_deref())?;
        let public_key = SubjectPublicKeyInfo::from_der(&csr.public_key_info)
            .map_err(|e| CsrRefusal::UnsupportedKey(e.to_string()))?;
        let mut params = CertificateParams::default();
        // Only what Ström vouches for goes into the subject: the station's identity and the
        // organization checked above, never other attributes the station asked for.
        params.distinguished_name = name(station, csr.organization.as_deref());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyAgreement];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let signing = |e: PkiError| CsrRefusal::Signing(e.to_string());
        params.not_before = offset(now - BACKDATE).map_err(signing)?;
        params.not_after = offset((now + self.policy.validity).min(self.facts.not_after)).map_err(signing)?;
        params.serial_number = Some(random_serial().map_err(signing)?);
        let cert = params.signed_by(&public_key, &self.issuer).map_err(|e| CsrRefusal::Signing(e.to_string()))?;
        let facts = CertificateFacts::from_der(cert.der()).map_err(signing)?;
        Ok(Issued { chain_pem: format!("{}{}", cert.pem(), self.chain_pem), facts })
    }
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}

fn offset(at: DateTime<Utc>) -> Result<time::OffsetDateTime, PkiError> {
    time::OffsetDateTime::from_unix_timestamp(at.timestamp()).map_err(|e| PkiError::Signing(e.to_string()))
}

/// 16 random bytes, positive and without a leading zero byte: unpredictable (RFC 5280 §4.1.2.2
/// and the CA/B Forum's 64 bits of entropy) and at most 20 octets.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| PkiError::Random(e.to_string()))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn pem(label: &str, der: &[u8]) -> String {
    use std::fmt::Write;
    let body = base64_lines(der);
    let mut out = String::new();
    let _ = write!(out, "-----BEGIN {label}-----\n{body}-----END {label}-----\n");
    out
}

/// Base64 in 64-character lines (RFC 7468 §2), each ending in a newline.
fn base64_lines(der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(text.len() + text.len() / 64 + 1);
    for line in text.as_bytes().chunks(64) {
        // Base64 is ASCII, so every chunk is text.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
