//! Certificates for the tests, made by the tests (nothing committed): a CA written by the real
//! `strom ca init`, CSRs as a station writes them, self-signed roots to install, and checks of
//! the chains Ström sends.

use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
use std::path::PathBuf;
use x509_parser::prelude::*;

/// A CA made by `strom ca init` in a temporary folder.
pub struct TestCa {
    pub cert: PathBuf,
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    pub async fn init() -> TestCa {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
        let output = ca_init(&cert, &key, &[]).await;
        assert!(output.status.success(), "strom ca init: {}", String::from_utf8_lossy(&output.stderr));
        TestCa { cert, key, _dir: dir }
    }

    /// `strom serve` flags that configure this CA.
    pub fn flags(&self) -> Vec<String> {
        vec!["--ca-cert".into(), self.cert.display().to_string(), "--ca-key".into(), self.key.display().to_string()]
    }

    pub fn cert_der(&self) -> Vec<u8> {
        let pem = std::fs::read_to_string(&self.cert).expect("CA certificate readable");
        pem_blocks(&pem).remove(0)
    }
}

/// Runs `strom ca init --cert CERT --key KEY EXTRA`.
pub async fn ca_init(cert: &std::path::Path, key: &std::path::Path, extra: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["ca", "init", "--cert", &cert.display().to_string(), "--key", &key.display().to_string()])
        .args(extra)
        .output()
        .await
        .expect("strom runs")
}

/// A CSR as a station writes it, with its own new key.
pub fn csr(common_name: &str, organization: Option<&str>) -> (String, KeyPair) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key).expect("CSR");
    (csr.pem().expect("PEM"), key)
}

/// A self-signed root certificate (PEM) with the given CN, as an operator would install.
pub fn root_certificate(common_name: &str, days: i64) -> String {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Eight bytes, the first below 0x10, so that its hexadecimal has a leading zero to drop;
    // the rest from the new key, so that every root has its own.
    let mut serial = vec![0x0a];
    serial.extend_from_slice(&key.public_key_raw()[1..8]);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let now = ::time::OffsetDateTime::now_utc();
    params.not_before = now - ::time::Duration::days(1);
    params.not_after = now + ::time::Duration::days(days);
    params.self_signed(&key).expect("self-signed").pem()
}

/// The DER of every CERTIFICATE block of a PEM text.
pub fn pem_blocks(pem: &str) -> Vec<Vec<u8>> {
    Pem::iter_from_buffer(pem.as_bytes())
        .map(|b| b.expect("PEM block"))
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| b.contents)
        .collect()
}

/// Checks a certificateChain Ström sent: the station certificate first, signed by the CA,
/// carrying the CSR's key and CN, then the CA's own certificate. Returns the leaf's serial
/// number as OCPP writes it (lowercase hexadecimal, no leading zeroes).
pub fn verify_chain(chain: &str, ca: &TestCa, station_key: &KeyPair, station: &str) -> String {
    let blocks = pem_blocks(chain);
    assert_eq!(blocks.len(), 2, "station certificate, then the CA's: {chain}");
    let ca_der = ca.cert_der();
    assert_eq!(blocks[1], ca_der, "the CA's own certificate follows the station's");
    let (_, ca_cert) = parse_x509_certificate(&ca_der).expect("CA parses");
    let (_, leaf) = parse_x509_certificate(&blocks[0]).expect("leaf parses");
    leaf.verify_signature(Some(ca_cert.public_key())).expect("the station certificate verifies against the CA");
    assert_eq!(leaf.public_key().subject_public_key.data.as_ref(), station_key.public_key_raw(), "the CSR's key");
    let cn = leaf.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_string);
    assert_eq!(cn.as_deref(), Some(station));
    assert!(!leaf.is_ca());
    let eku = leaf.extended_key_usage().expect("one EKU").expect("EKU present").value;
    assert!(eku.client_auth);
    let serial = hex::encode(leaf.raw_serial());
    serial.trim_start_matches('0').to_string()
}

/// Fetches with `fetch` until `done` holds for what it gave (at most the harness's timeout), and
/// returns that: what a station's answer to a CSMS CALL changes is recorded after the answer
/// arrives, with nothing the test could wait on.
pub async fn poll<T, F, Fut>(what: &str, mut fetch: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + super::TIMEOUT;
    loop {
        let value = fetch().await;
        if done(&value) {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {:?}", super::TIMEOUT);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
