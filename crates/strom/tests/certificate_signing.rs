//! Station certificates signed by Ström's CA (OCPP 1.6 security whitepaper ed. 2 §3.2, OCPP
//! 2.0.1 A02/A03; CONFORMANCE TC_074, TC_077, TC_A_11, TC_A_14): the operator triggers a renewal,
//! the station sends a CSR, Ström answers Accepted and then sends CertificateSigned with a chain
//! that verifies against its CA and carries the CSR's key; the station's answer is recorded. A
//! CSR for another station or operator, a V2G certificate, or no CA at all: Rejected, recorded.

mod common;

use common::certs::{csr, poll, verify_chain, TestCa};
use common::{Backend, Server, Station};
use serde_json::{json, Value};

both_backends!(
    tc_074_certificate_renewal,
    tc_a_11_certificate_renewal,
    tc_077_station_rejects_the_certificate,
    tc_a_14_station_rejects_the_certificate,
    csrs_naming_another_station_or_operator_are_rejected,
    without_a_ca_every_csr_is_rejected,
);

const T0: &str = "2026-12-07T10:00:00.000Z";

async fn server_with_ca(backend: Backend, ca: &TestCa, extra: &[&str]) -> Server {
    let mut flags = ca.flags();
    flags.extend(extra.iter().map(|s| s.to_string()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::start_with(backend, &flags).await
}

/// The operator asks the station for a new certificate (1.6 ExtendedTriggerMessage
/// SignChargePointCertificate, 2.0.1 TriggerMessage SignChargingStationCertificate); the station
/// accepts.
async fn trigger_renewal(server: &Server, station: &mut Station, id: &str) {
    let (action, body) = if station.protocol == "ocpp2.0.1" {
        ("TriggerMessage", json!({"requestedMessage": "SignChargingStationCertificate"}))
    } else {
        ("ExtendedTriggerMessage", json!({"requestedMessage": "SignChargePointCertificate"}))
    };
    let path = format!("/api/v1/stations/{id}/commands/{action}");
    let (sent, payload, (status, answer)) =
        server.answered(station, "POST", &path, body.clone(), json!({"status": "Accepted"})).await;
    assert_eq!((sent.as_str(), &payload), (action, &body));
    assert_eq!(status, 200, "{answer}");
}

/// The station sends its CSR and is answered Accepted; then Ström's CertificateSigned arrives.
/// Returns the CertificateSigned's message id and payload.
async fn renewal_signed(station: &mut Station, csr_pem: &str) -> (String, Value) {
    let mut request = json!({"csr": csr_pem});
    if station.protocol == "ocpp2.0.1" {
        request["certificateType"] = json!("ChargingStationCertificate");
    }
    let answer = station.call_ok("SignCertificate", request).await;
    assert_eq!(answer["status"], "Accepted", "{answer}");
    let (id, action, payload) = station.expect_call().await;
    assert_eq!(action, "CertificateSigned");
    (id, payload)
}

/// Runs `strom ARGS` against the server's API; returns what it printed.
async fn strom(server: &Server, args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(args)
        .env("STROM_URL", format!("http://{}", server.addr))
        .output()
        .await
        .expect("strom runs");
    assert!(output.status.success(), "strom {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn certificates(server: &Server, station: &str) -> Value {
    server.get(&format!("/api/v1/stations/{station}/certificates")).await
}

/// Waits until the station's answer to CertificateSigned is recorded on the issued certificate.
async fn issued_status_becomes(server: &Server, station: &str, status: &str) -> Value {
    let what = format!("issued certificate {status}");
    poll(&what, || certificates(server, station), |v: &Value| v["issued"][0]["status"] == status).await
}

async fn renewal(backend: Backend, version: &str) {
    let ca = TestCa::init().await;
    let server = server_with_ca(backend, &ca, &[]).await;
    let mut station = if version == "1.6" { server.booted("CP1").await } else { server.booted201("CP1").await };
    trigger_renewal(&server, &mut station, "CP1").await;
    let (csr_pem, key) = csr("CP1", Some("Example CPO"));
    let (id, payload) = renewal_signed(&mut station, &csr_pem).await;
    if version == "2.0.1" {
        assert_eq!(payload["certificateType"], "ChargingStationCertificate");
    }
    let chain = payload["certificateChain"].as_str().expect("certificateChain");
    let serial = verify_chain(chain, &ca, &key, "CP1");
    station.reply(&id, json!({"status": "Accepted"})).await;

    let view = issued_status_becomes(&server, "CP1", "accepted").await;
    let issued = &view["issued"][0];
    assert_eq!(issued["serial_number"], serial.as_str());
    assert_eq!(issued["subject"], "CN=CP1, O=Example CPO");
    assert_eq!(issued["certificate_type"], "ChargingStationCertificate");
    assert!(matches!(issued["days_left"].as_i64(), Some(364..=365)), "{issued}");
    assert_eq!(issued["fingerprint_sha256"].as_str().map(str::len), Some(64));
    assert!(!view.to_string().contains("PRIVATE KEY"), "no private material in any view");
    let commands = server.items("/api/v1/stations/CP1/commands").await;
    assert_eq!(commands[0]["action"], "CertificateSigned");
    let events = server.items("/api/v1/stations/CP1/events?kind=SignCertificate").await;
    assert_eq!(
        (events[0]["status"].as_str(), events[0]["detail"].as_str()),
        (Some("Accepted"), Some(csr_pem.as_str()))
    );

    // Listed as expiring within 400 days, not within 30.
    let soon = server.get("/api/v1/certificates?expiring_within_days=400").await;
    assert_eq!(soon.as_array().map(Vec::len), Some(1), "{soon}");
    assert_eq!((soon[0]["station_id"].as_str(), soon[0]["kind"].as_str()), (Some("CP1"), Some("issued")));
    assert_eq!(server.get("/api/v1/certificates?expiring_within_days=30").await, json!([]));
    let (status, _) = server.http("GET", "/api/v1/certificates?expiring_within_days=soon", None).await;
    assert_eq!(status, 400);
    // The same through the command line.
    let shown = strom(&server, &["station", "certificates", "CP1"]).await;
    let row = shown.lines().find(|l| l.contains(serial.as_str())).unwrap_or_else(|| panic!("{shown}"));
    assert!(row.starts_with("CP1") && row.contains("issued") && row.ends_with("accepted"), "{shown}");
    assert!(strom(&server, &["ca", "expiring", "--days", "400"]).await.contains(serial.as_str()));
    assert!(!strom(&server, &["ca", "expiring", "--days", "30"]).await.contains(serial.as_str()));

    // A renewal replaces the certificate in use: only the newest is listed as expiring. This one
    // asked for without OCPP words: Ström says it in the station's version.
    let (sent, payload, (status, answer)) = server
        .answered(
            &mut station,
            "POST",
            "/api/v1/stations/CP1/certificates/renew",
            json!({}),
            json!({"status": "Accepted"}),
        )
        .await;
    assert_eq!((status, &answer), (200, &json!({"status": "Accepted"})));
    let expected = if version == "1.6" {
        ("ExtendedTriggerMessage", json!({"requestedMessage": "SignChargePointCertificate"}))
    } else {
        ("TriggerMessage", json!({"requestedMessage": "SignChargingStationCertificate"}))
    };
    assert_eq!((sent.as_str(), payload), expected);
    let (csr_pem, key) = csr("CP1", Some("Example CPO"));
    let (id, payload) = renewal_signed(&mut station, &csr_pem).await;
    let newer = verify_chain(payload["certificateChain"].as_str().expect("chain"), &ca, &key, "CP1");
    assert_ne!(newer, serial, "a new serial number");
    station.reply(&id, json!({"status": "Accepted"})).await;
    let view = issued_status_becomes(&server, "CP1", "accepted").await;
    assert_eq!(view["issued"].as_array().map(Vec::len), Some(2));
    let soon = server.get("/api/v1/certificates?expiring_within_days=400").await;
    assert_eq!(soon.as_array().map(Vec::len), Some(1), "{soon}");
    assert_eq!(soon[0]["serial_number"], newer.as_str());
}

async fn tc_074_certificate_renewal(backend: Backend) {
    renewal(backend, "1.6").await
}

async fn tc_a_11_certificate_renewal(backend: Backend) {
    renewal(backend, "2.0.1").await
}

async fn station_rejects(backend: Backend, version: &str) {
    let ca = TestCa::init().await;
    let server = server_with_ca(backend, &ca, &[]).await;
    let mut station = if version == "1.6" { server.booted("CP1").await } else { server.booted201("CP1").await };
    trigger_renewal(&server, &mut station, "CP1").await;
    let (csr_pem, _) = csr("CP1", None);
    let (id, _) = renewal_signed(&mut station, &csr_pem).await;
    station.reply(&id, json!({"status": "Rejected"})).await;
    let event = if version == "1.6" { "InvalidChargePointCertificate" } else { "InvalidChargingStationCertificate" };
    station
        .call_ok("SecurityEventNotification", json!({"type": event, "timestamp": T0, "techInfo": "chain invalid"}))
        .await;

    let view = issued_status_becomes(&server, "CP1", "rejected").await;
    assert!(view["issued"][0]["answered_at"].is_string());
    let security = view["security_events"].as_array().expect("security events");
    assert_eq!(security.len(), 1, "{view}");
    assert_eq!((security[0]["status"].as_str(), security[0]["detail"].as_str()), (Some(event), Some("chain invalid")));
    // A rejected certificate is not in use, so it is not listed as expiring.
    assert_eq!(server.get("/api/v1/certificates?expiring_within_days=400").await, json!([]));
    let commands = server.items("/api/v1/stations/CP1/commands").await;
    assert_eq!(commands[0]["action"], "CertificateSigned");
    assert!(commands[0]["response"].to_string().contains("Rejected"), "{}", commands[0]);
}

async fn tc_077_station_rejects_the_certificate(backend: Backend) {
    station_rejects(backend, "1.6").await
}

async fn tc_a_14_station_rejects_the_certificate(backend: Backend) {
    station_rejects(backend, "2.0.1").await
}

/// Sends a SignCertificate and checks it is Rejected, with the 2.0.1 reason code.
async fn rejected(station: &mut Station, request: Value, reason_code: &str) {
    let answer = station.call_ok("SignCertificate", request).await;
    assert_eq!(answer["status"], "Rejected", "{answer}");
    if station.protocol == "ocpp2.0.1" {
        assert_eq!(answer["statusInfo"]["reasonCode"], reason_code, "{answer}");
    }
}

/// Nothing was issued, nothing sent: the next frame after a Heartbeat is its answer, and each
/// refusal is among the station's events.
async fn nothing_issued(server: &Server, station: &mut Station, id: &str, refusals: usize) {
    station.call_ok("Heartbeat", json!({})).await;
    assert_eq!(certificates(server, id).await["issued"], json!([]));
    let events = server.items(&format!("/api/v1/stations/{id}/events?kind=SignCertificate")).await;
    let events = events.as_array().expect("events");
    assert_eq!(events.len(), refusals);
    assert!(events.iter().all(|e| e["status"] == "Rejected"), "{events:?}");
}

async fn csrs_naming_another_station_or_operator_are_rejected(backend: Backend) {
    let ca = TestCa::init().await;
    let server = server_with_ca(backend, &ca, &["--operator-name", "Example CPO"]).await;
    let mut cp = server.booted("CP1").await;
    let (other_station, _) = csr("CP2", Some("Example CPO"));
    rejected(&mut cp, json!({"csr": other_station}), "InvalidCommonName").await;
    let (other_operator, _) = csr("CP1", Some("Another CPO"));
    rejected(&mut cp, json!({"csr": other_operator}), "InvalidOrganization").await;
    rejected(&mut cp, json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----"}), "InvalidCSR").await;
    nothing_issued(&server, &mut cp, "CP1", 3).await;
    let events = server.items("/api/v1/stations/CP1/events?kind=SignCertificate").await;
    assert!(events[2]["detail"].as_str().is_some_and(|d| d.contains("not the station's identity")), "{events}");

    let mut cs = server.booted201("CS1").await;
    let (other_station, _) = csr("CS2", Some("Example CPO"));
    rejected(&mut cs, json!({"csr": other_station}), "InvalidCommonName").await;
    let (no_organization, _) = csr("CS1", None);
    rejected(
        &mut cs,
        json!({"csr": no_organization, "certificateType": "ChargingStationCertificate"}),
        "InvalidOrganization",
    )
    .await;
    // Ström has no V2G root to sign ISO 15118 certificates with, and says so.
    let (v2g, _) = csr("CS1", Some("Example CPO"));
    rejected(&mut cs, json!({"csr": v2g, "certificateType": "V2GCertificate"}), "NoV2GPKI").await;
    nothing_issued(&server, &mut cs, "CS1", 3).await;

    // The right CN and O is signed.
    let (good, key) = csr("CS1", Some("Example CPO"));
    let (id, payload) = renewal_signed(&mut cs, &good).await;
    verify_chain(payload["certificateChain"].as_str().expect("chain"), &ca, &key, "CS1");
    cs.reply(&id, json!({"status": "Accepted"})).await;
    issued_status_becomes(&server, "CS1", "accepted").await;
}

async fn without_a_ca_every_csr_is_rejected(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let (request, _) = csr("CP1", None);
    rejected(&mut cp, json!({"csr": request}), "NoCA").await;
    nothing_issued(&server, &mut cp, "CP1", 1).await;
    let mut cs = server.booted201("CS1").await;
    let (request, _) = csr("CS1", None);
    rejected(&mut cs, json!({"csr": request}), "NoCA").await;
    nothing_issued(&server, &mut cs, "CS1", 1).await;
}
