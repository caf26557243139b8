//! Certificates made by the tests, never committed: a CA, a server certificate for `localhost`
//! that it signs, client certificates for stations (any CN, O and validity, from this CA or
//! another), written to a temporary folder for `strom serve --tls-*`, and rustls client
//! configurations that trust the CA.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ClientConfig;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as rustls and as PEM files take them.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    key_der: Vec<u8>,
    ca_der: CertificateDer<'static>,
}

impl Issued {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// The certificate then its CA's: the chain a station sends.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.der.clone(), self.ca_der.clone()]
    }
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        Ca { issuer }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server certificate for `localhost` and 127.0.0.1, named `cn`.
    pub fn server(&self, cn: &str) -> Issued {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A station's client certificate with subject CN `cn` and O `o`; `days` of validity from
    /// now (negative: expired that many days ago, valid for one day before that).
    pub fn client(&self, cn: &str, o: Option<&str>, days: i64) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(o) = o {
            params.distinguished_name.push(DnType::OrganizationName, o);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let now = std::time::SystemTime::now();
        let day = std::time::Duration::from_secs(86_400);
        let (not_before, not_after) = if days >= 0 {
            (now - day, now + day * days as u32)
        } else {
            let not_after = now - day * days.unsigned_abs() as u32;
            (not_after - day, not_after)
        };
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
            ca_der: self.der(),
        }
    }
}

/// The files `strom serve --tls-cert --tls-key --tls-client-ca` reads, in a folder of their own.
pub struct TlsFiles {
    pub dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

impl TlsFiles {
    /// `server` (chain: it then its CA) and, as the client CA, `stations`.
    pub fn new(ca: &Ca, server: &Issued, stations: &Ca) -> TlsFiles {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = TlsFiles {
            cert: dir.path().join("server.pem"),
            key: dir.path().join("server.key"),
            client_ca: dir.path().join("stations-ca.pem"),
            dir,
        };
        files.replace(ca, server);
        std::fs::write(&files.client_ca, stations.pem()).expect("client CA written");
        files
    }

    /// Writes `server` (and its CA) over the certificate and key files.
    pub fn replace(&self, ca: &Ca, server: &Issued) {
        std::fs::write(&self.cert, format!("{}{}", server.cert_pem, ca.pem())).expect("certificate written");
        std::fs::write(&self.key, &server.key_pem).expect("key written");
    }

    /// The `strom serve` flags for a TLS listener on a free loopback port.
    pub fn args(&self) -> Vec<String> {
        let path = |p: &PathBuf| p.display().to_string();
        vec![
            "--tls-listen".into(),
            "127.0.0.1:0".into(),
            "--tls-cert".into(),
            path(&self.cert),
            "--tls-key".into(),
            path(&self.key),
            "--tls-client-ca".into(),
            path(&self.client_ca),
        ]
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client that trusts `ca`, speaks `versions`, and presents `certificate` if given.
pub fn client_with(
    ca: &Ca,
    versions: &[&'static rustls::SupportedProtocolVersion],
    certificate: Option<&Issued>,
) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der()).expect("root added");
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots);
    let config = match certificate {
        Some(issued) => builder.with_client_auth_cert(issued.chain(), issued.key()).expect("client certificate"),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// A client that trusts `ca` and presents `chain` (a station's certificate first) with `key`.
pub fn client_presenting(
    ca: &Ca,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der()).expect("root added");
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client certificate");
    Arc::new(config)
}

/// A TLS 1.2/1.3 client that trusts `ca`, with `certificate` if given.
pub fn client(ca: &Ca, certificate: Option<&Issued>) -> Arc<ClientConfig> {
    client_with(ca, rustls::DEFAULT_VERSIONS, certificate)
}
