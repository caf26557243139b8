//! OCPP security profiles 2 and 3 over real TLS handshakes on loopback (1.6 security whitepaper
//! §2, 2.0.1 block A; issue 25 item 1), with certificates the tests make: Basic auth over TLS,
//! client certificates checked against the station (CN) and operator (O), the highest profile a
//! station used remembered (no downgrade), TLS below 1.2 and bad certificates refused at the
//! handshake, the OCPP cipher suites negotiated, the certificate reloaded on SIGHUP, and the API
//! on a listener of its own.

mod common;

use base64::Engine;
use common::pki::{client, client_with, Ca, TlsFiles};
use common::{Backend, Server, Station};
use serde_json::json;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Error as WsError;

both_backends!(
    tc_a_11_a_certificate_strom_signed_connects_with_profile_3,
    tc_a_04_profile_2_basic_auth_over_tls,
    tc_083_upgrade_to_tls_is_remembered_and_no_downgrade,
    tc_a_08_profile_3_client_certificates,
);

const PASSWORD: &str = "s3cret-station-pass";
const OPERATOR: &str = "Acme Charging";

fn basic(user: &str, password: &str) -> Vec<u8> {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))).into_bytes()
}

/// A server with a TLS listener: its certificate from `ca`, client certificates from `stations`.
struct Pki {
    ca: Ca,
    stations: Ca,
    files: TlsFiles,
}

impl Pki {
    fn new() -> Pki {
        let (ca, stations) = (Ca::new("Strom test server CA"), Ca::new("Strom test stations CA"));
        let files = TlsFiles::new(&ca, &ca.server("strom-a"), &stations);
        Pki { ca, stations, files }
    }

    async fn start(&self, backend: Backend) -> Server {
        let args = self.files.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Server::start_with_config_and(backend, &format!("operator_name = {OPERATOR:?}"), &args).await
    }
}

async fn tls(
    server: &Server,
    pki: &Pki,
    id: &str,
    password: Option<&str>,
    cert: Option<(&str, &str)>,
) -> Result<Station, WsError> {
    let issued = cert.map(|(cn, o)| pki.stations.client(cn, Some(o), 30));
    let authorization = password.map(|p| basic(id, p));
    let headers: Vec<(&str, &[u8])> = authorization.iter().map(|a| ("Authorization", a.as_slice())).collect();
    Station::connect_tls(server, id, "ocpp1.6", &headers, client(&pki.ca, issued.as_ref())).await
}

async fn plain(server: &Server, id: &str, password: &str) -> Result<Station, WsError> {
    Station::connect_with(server, id, "ocpp1.6", &[("Authorization", &basic(id, password))]).await
}

async fn boots(mut station: Station) -> Station {
    let answer = station.call_ok("BootNotification", common::boot_payload("ocpp1.6", "Acme", "TLS")).await;
    assert_eq!(answer["status"], "Accepted", "{answer}");
    station
}

fn assert_401(result: Result<Station, WsError>, what: &str) {
    match result {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401, "{what}"),
        Err(other) => panic!("{what}: expected 401, got {other}"),
        Ok(_) => panic!("{what}: accepted"),
    }
}

/// Waits until a `/metrics` series reaches `expected`: a failed TLS handshake is counted after
/// its connection is closed, so the client may see the close first.
async fn metric_reaches(server: &Server, series: &str, expected: u64) {
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    loop {
        let value = server.metric(series).await;
        if value == expected {
            return;
        }
        assert!(value < expected && tokio::time::Instant::now() < deadline, "{series} = {value}, not {expected}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

async fn profile(server: &Server, id: &str) -> serde_json::Value {
    server.get(&format!("/api/v1/stations/{id}")).await["security_profile"].clone()
}

async fn put(server: &Server, id: &str, body: serde_json::Value) {
    let (status, view) = server.http("PUT", &format!("/api/v1/stations/{id}"), Some(body)).await;
    assert_eq!(status, 200, "{view}");
}

async fn tc_a_04_profile_2_basic_auth_over_tls(backend: Backend) {
    let pki = Pki::new();
    let server = pki.start(backend).await;
    put(&server, "CP2", json!({"security_profile": 2, "basic_auth_password": PASSWORD})).await;
    let mut station = boots(tls(&server, &pki, "CP2", Some(PASSWORD), None).await.expect("profile 2 accepted")).await;
    station.call_ok("Heartbeat", json!({})).await;
    assert_401(tls(&server, &pki, "CP2", None, None).await, "no credentials over TLS");
    assert_401(tls(&server, &pki, "CP2", Some("wrong-password-0000"), None).await, "wrong password over TLS");
    assert_401(plain(&server, "CP2", PASSWORD).await, "the right password over plain WebSocket");
    assert_eq!(server.metric("strom_handshakes_refused_total{reason=\"tls_required\"}").await, 1);
    // The live session was never replaced by the refused ones.
    station.call_ok("Heartbeat", json!({})).await;
}

async fn tc_083_upgrade_to_tls_is_remembered_and_no_downgrade(backend: Backend) {
    let pki = Pki::new();
    let server = pki.start(backend).await;
    put(&server, "CP1", json!({"security_profile": 1, "basic_auth_password": PASSWORD})).await;
    boots(plain(&server, "CP1", PASSWORD).await.expect("profile 1 over plain WebSocket")).await.close().await;
    assert_eq!(profile(&server, "CP1").await, 1);
    // The station moves to profile 2 (ChangeConfiguration SecurityProfile, reset) and comes back
    // over TLS: Ström remembers, and plain WebSocket is refused from then on.
    boots(tls(&server, &pki, "CP1", Some(PASSWORD), None).await.expect("profile 2 accepted")).await.close().await;
    assert_eq!(profile(&server, "CP1").await, 2);
    assert_401(plain(&server, "CP1", PASSWORD).await, "a downgrade to profile 1");
    // Then to profile 3 with its client certificate; a password over TLS is no longer enough.
    let own = Some(("CP1", OPERATOR));
    boots(tls(&server, &pki, "CP1", None, own).await.expect("profile 3 accepted")).await.close().await;
    assert_eq!(profile(&server, "CP1").await, 3);
    assert_401(tls(&server, &pki, "CP1", Some(PASSWORD), None).await, "a downgrade to profile 2");
    assert_eq!(server.metric("strom_handshakes_refused_total{reason=\"no_client_certificate\"}").await, 1);
    // A station Ström has not been told about is held to what it proved, too.
    boots(tls(&server, &pki, "NEW", None, Some(("NEW", OPERATOR))).await.expect("unknown station accepted")).await;
}

async fn tc_a_08_profile_3_client_certificates(backend: Backend) {
    let pki = Pki::new();
    let server = pki.start(backend).await;
    put(&server, "CP3", json!({"security_profile": 3})).await;
    let mut station = boots(tls(&server, &pki, "CP3", None, Some(("CP3", OPERATOR))).await.expect("accepted")).await;

    // Certificates that verify but name another station or operator: refused by Ström (401)
    // and recorded; the live session stays.
    assert_401(tls(&server, &pki, "CP3", None, Some(("CP4", OPERATOR))).await, "another station's certificate");
    assert_401(tls(&server, &pki, "CP3", None, Some(("CP3", "Evil Corp"))).await, "another operator's certificate");
    assert_401(tls(&server, &pki, "CP3", Some(PASSWORD), None).await, "no certificate");
    assert_eq!(server.metric("strom_handshakes_refused_total{reason=\"certificate_mismatch\"}").await, 2);
    let events = server.items("/api/v1/stations/CP3/events").await;
    let refusals = events.as_array().expect("events").iter().filter(|e| e["kind"] == "InvalidCredentials").count();
    assert_eq!(refusals, 3, "{events}");

    // Certificates that do not verify: the TLS handshake itself fails (TC_A_08).
    let expired = pki.stations.client("CP3", Some(OPERATOR), -1);
    let other_ca = Ca::new("Somebody else's CA");
    let foreign = other_ca.client("CP3", Some(OPERATOR), 30);
    for (what, issued) in [("expired", &expired), ("of another CA", &foreign)] {
        match Station::connect_tls(&server, "CP3", "ocpp1.6", &[], client(&pki.ca, Some(issued))).await {
            Err(WsError::Http(response)) => panic!("a certificate {what} reached HTTP: {}", response.status()),
            Err(_) => {}
            Ok(_) => panic!("a certificate {what} was accepted"),
        }
    }
    metric_reaches(&server, "strom_tls_handshakes_failed_total{reason=\"bad_certificate\"}", 2).await;
    station.call_ok("Heartbeat", json!({})).await;
}

/// TC_A_11 to its end: a station on profile 2 asks Ström's CA for a certificate, takes it, and
/// reconnects with it on profile 3; the TLS listener trusts Ström's CA without a client CA of
/// its own.
async fn tc_a_11_a_certificate_strom_signed_connects_with_profile_3(backend: Backend) {
    let pki = Pki::new();
    let strom_ca = common::certs::TestCa::init().await;
    // The TLS listener's flags without --tls-client-ca (the last two).
    let mut args: Vec<String> = pki.files.args().into_iter().take(6).collect();
    args.extend(strom_ca.flags());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with_config_and(backend, &format!("operator_name = {OPERATOR:?}"), &args).await;
    put(&server, "CP1", json!({"security_profile": 2, "basic_auth_password": PASSWORD})).await;
    let authorization = basic("CP1", PASSWORD);
    let headers: Vec<(&str, &[u8])> = vec![("Authorization", &authorization)];
    let station = Station::connect_tls(&server, "CP1", "ocpp2.0.1", &headers, client(&pki.ca, None)).await;
    let mut station = station.expect("profile 2");
    station.call_ok("BootNotification", common::boot_payload("ocpp2.0.1", "Acme", "TLS")).await;

    let renew = server.answered(
        &mut station,
        "POST",
        "/api/v1/stations/CP1/certificates/renew",
        json!({}),
        json!({"status": "Accepted"}),
    );
    let (action, _, (status, _)) = renew.await;
    assert_eq!((action.as_str(), status), ("TriggerMessage", 200));
    let (csr, key) = common::certs::csr("CP1", Some(OPERATOR));
    let answer =
        station.call_ok("SignCertificate", json!({"csr": csr, "certificateType": "ChargingStationCertificate"})).await;
    assert_eq!(answer["status"], "Accepted", "{answer}");
    let (id, action, payload) = station.expect_call().await;
    assert_eq!(action, "CertificateSigned");
    station.reply(&id, json!({"status": "Accepted"})).await;
    station.close().await;

    let pem = payload["certificateChain"].as_str().expect("a chain");
    let chain: Vec<_> =
        common::certs::pem_blocks(pem).into_iter().map(rustls::pki_types::CertificateDer::from).collect();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let client = common::pki::client_presenting(&pki.ca, chain, key);
    let mut station = Station::connect_tls(&server, "CP1", "ocpp2.0.1", &[], client).await.expect("profile 3");
    let answer = station.call_ok("BootNotification", common::boot_payload("ocpp2.0.1", "Acme", "TLS")).await;
    assert_eq!(answer["status"], "Accepted");
    assert_eq!(profile(&server, "CP1").await, 3);
    assert_401(tls(&server, &pki, "CP1", Some(PASSWORD), None).await, "back to a password");
}

/// A ClientHello that offers TLS 1.1 at most (version 3.2, no supported_versions extension) and
/// is otherwise acceptable: an OCPP cipher suite, the P-256 group, ECDSA signatures.
fn tls_1_1_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend_from_slice(&[0x42; 32]);
    body.push(0);
    // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA.
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x09]);
    body.extend_from_slice(&[0x01, 0x00]);
    let extensions: &[u8] = &[
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, // supported_groups: secp256r1
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
        0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03, // signature_algorithms: ecdsa_secp256r1_sha256
    ];
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(extensions);
    let mut handshake = vec![0x01, 0x00];
    handshake.extend_from_slice(&(body.len() as u16).to_be_bytes());
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tc_a_06_tls_below_1_2_is_refused_and_the_ocpp_suites_are_offered() {
    let pki = Pki::new();
    let server = pki.start(Backend::Sqlite).await;
    let addr = server.tls_addr.clone().expect("TLS listener");
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.expect("connects");
    tcp.write_all(&tls_1_1_client_hello()).await.expect("sent");
    let mut answer = Vec::new();
    tokio::time::timeout(common::TIMEOUT, tcp.read_to_end(&mut answer)).await.expect("closed in time").expect("read");
    // One fatal alert record: protocol_version (70). No ServerHello.
    assert_eq!(answer, [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 70], "{answer:?}");
    metric_reaches(&server, "strom_tls_handshakes_failed_total{reason=\"incompatible\"}", 1).await;

    // TLS 1.2 with each suite OCPP requires of an ECDSA server (CHECKLIST §3.1).
    use rustls::crypto::ring::cipher_suite;
    for suite in
        [cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]
    {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = vec![suite];
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca.der()).expect("root");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .expect("TLS 1.2")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(&addr).await.expect("connects");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let stream = connector.connect(name, tcp).await.expect("TLS 1.2 handshake");
        let connection = stream.get_ref().1;
        assert_eq!(connection.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
        assert_eq!(connection.negotiated_cipher_suite().map(|s| s.suite()), Some(suite.suite()));
    }
    // And a whole station session over TLS 1.2 only.
    let client = client_with(&pki.ca, &[&rustls::version::TLS12], None);
    let station = Station::connect_tls(&server, "CP12", "ocpp1.6", &[], client).await.expect("TLS 1.2 station");
    boots(station).await;
}

/// The server certificate a TLS client is shown now.
async fn served_certificate(server: &Server, pki: &Pki) -> Vec<u8> {
    let connector = tokio_rustls::TlsConnector::from(client(&pki.ca, None));
    let tcp = tokio::net::TcpStream::connect(server.tls_addr.as_deref().expect("TLS")).await.expect("connects");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let stream = connector.connect(name, tcp).await.expect("TLS handshake");
    stream.get_ref().1.peer_certificates().expect("a certificate")[0].to_vec()
}

/// Sends SIGHUP and waits until the server has counted the reload with `result`.
async fn hang_up(server: &Server, result: &str, count: u64) {
    let status = std::process::Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().expect("kill");
    assert!(status.success());
    let series = format!("strom_tls_reloads_total{{result=\"{result}\"}}");
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    while server.metric(&series).await < count {
        assert!(tokio::time::Instant::now() < deadline, "reload not counted in time");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_and_key_reload_on_sighup() {
    let pki = Pki::new();
    let server = pki.start(Backend::Sqlite).await;
    let first = served_certificate(&server, &pki).await;
    let mut station = boots(tls(&server, &pki, "CP1", None, None).await.expect("connects")).await;

    let renewed = pki.ca.server("strom-b");
    pki.files.replace(&pki.ca, &renewed);
    hang_up(&server, "ok", 1).await;
    let now = served_certificate(&server, &pki).await;
    assert_ne!(now, first);
    assert_eq!(now, renewed.der.to_vec(), "the renewed certificate is served");
    let (_, parsed) = x509_parser::parse_x509_certificate(&renewed.der).expect("a certificate");
    let not_after = parsed.validity().not_after.timestamp();
    assert_eq!(server.metric("strom_tls_certificate_not_after_seconds").await as i64, not_after);
    station.call_ok("Heartbeat", json!({})).await;

    // A broken key file: the reload fails, the renewed pair stays in use.
    std::fs::write(&pki.files.key, "not a key").expect("written");
    hang_up(&server, "failed", 1).await;
    assert_eq!(served_certificate(&server, &pki).await, renewed.der.to_vec());
    station.call_ok("Heartbeat", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_on_a_listener_of_its_own() {
    let server = Server::start_with(Backend::Sqlite, &["--api-listen", "127.0.0.1:0"]).await;
    let api = server.api_addr.clone().expect("API listener");
    boots(Station::connect(&server, "CP1", "ocpp1.6").await.expect("stations on the main listener")).await;
    let (status, body) = common::get_text(&api, "/api/v1/stations/CP1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(common::get_text(&api, "/metrics").await.0, 200);
    assert_eq!(common::get_text(&server.addr, "/api/v1/stations/CP1").await.0, 404, "no API with the stations");
    assert_eq!(common::get_text(&api, "/ocpp/CP2").await.0, 404, "no stations with the API");
}
