//! The certificates a station holds, as Ström tracks them (CONFORMANCE TC_075, TC_076, TC_078,
//! TC_M_12, TC_M_15, TC_M_18, TC_M_20): an InstallCertificate the station accepts adds the certificate, with hash
//! data Ström computed from the PEM it sent; a GetInstalledCertificateIds listing replaces what
//! Ström knew of the listed types (keeping the subject and expiry it knew); a DeleteCertificate
//! the station accepts removes it. And `strom ca init`: the files, their permissions, no
//! overwriting; `strom serve` refuses a CA whose key is not its own.

mod common;

use common::certs::{ca_init, pem_blocks, poll, root_certificate};
use common::{Backend, Server, Station};
use serde_json::{json, Value};
use sha2::Digest;
use x509_parser::prelude::*;

both_backends!(tc_075_tc_076_tc_078_install_list_delete_16, tc_075_tc_076_tc_078_install_list_delete_201);

/// The hash data a station would list for a self-signed certificate (OCPP 2.0.1 §2.6; the
/// issuer's key is the certificate's own).
fn hash_data(pem: &str) -> Value {
    let der = pem_blocks(pem).remove(0);
    let (_, cert) = parse_x509_certificate(&der).expect("parses");
    let serial = hex::encode(cert.raw_serial());
    json!({
        "hashAlgorithm": "SHA256",
        "issuerNameHash": hex::encode(sha2::Sha256::digest(cert.issuer().as_raw())),
        "issuerKeyHash": hex::encode(sha2::Sha256::digest(cert.public_key().subject_public_key.data.as_ref())),
        "serialNumber": serial.trim_start_matches('0'),
    })
}

async fn installed(server: &Server, station: &str) -> Vec<Value> {
    let view = server.get(&format!("/api/v1/stations/{station}/certificates")).await;
    view["installed"].as_array().expect("installed").clone()
}

/// Sends a command through the API, has the station answer it, and returns the API's answer.
async fn command(server: &Server, station: &mut Station, id: &str, action: &str, body: Value, answer: Value) {
    let path = format!("/api/v1/stations/{id}/commands/{action}");
    let (sent, _, (status, reply)) = server.answered(station, "POST", &path, body, answer).await;
    assert_eq!((sent.as_str(), status), (action, 200), "{reply}");
}

async fn install_list_delete(backend: Backend, version: &str) {
    let server = Server::start(backend).await;
    let (mut station, root_type, listing_key) = if version == "1.6" {
        (server.booted("CP1").await, "CentralSystemRootCertificate", "certificateHashData")
    } else {
        (server.booted201("CP1").await, "CSMSRootCertificate", "certificateHashDataChain")
    };
    let root = root_certificate("Example CSMS Root", 20);
    let expected = hash_data(&root);

    // TC_075: installed and tracked, with the subject and expiry read from the PEM sent.
    let body = json!({"certificateType": root_type, "certificate": root});
    command(&server, &mut station, "CP1", "InstallCertificate", body, json!({"status": "Accepted"})).await;
    let list = poll("installed certificate", || installed(&server, "CP1"), |l: &Vec<Value>| l.len() == 1).await;
    let c = &list[0];
    assert_eq!((c["certificate_type"].as_str(), c["source"].as_str()), (Some(root_type), Some("installed")));
    assert_eq!(c["subject"], "CN=Example CSMS Root");
    assert!(matches!(c["days_left"].as_i64(), Some(19..=20)), "{c}");
    for (ours, theirs) in [
        ("hash_algorithm", "hashAlgorithm"),
        ("issuer_name_hash", "issuerNameHash"),
        ("issuer_key_hash", "issuerKeyHash"),
        ("serial_number", "serialNumber"),
    ] {
        assert_eq!(c[ours], expected[theirs], "{ours}");
    }
    // TC_078: a rejected install changes nothing; the station's security event about it is
    // shown with its certificates.
    let other = root_certificate("Refused Root", 20);
    let body = json!({"certificateType": root_type, "certificate": other});
    command(&server, &mut station, "CP1", "InstallCertificate", body, json!({"status": "Rejected"})).await;
    let event = if version == "1.6" { "InvalidCentralSystemCertificate" } else { "InvalidCsmsCertificate" };
    let notification = json!({"type": event, "timestamp": "2026-12-07T10:00:00.000Z"});
    station.call_ok("SecurityEventNotification", notification).await;
    let view = server.get("/api/v1/stations/CP1/certificates").await;
    assert_eq!(view["installed"].as_array().map(Vec::len), Some(1));
    assert_eq!(view["security_events"][0]["status"], event);
    let soon = server.get("/api/v1/certificates?expiring_within_days=30").await;
    assert_eq!(soon.as_array().map(Vec::len), Some(1), "{soon}");
    assert_eq!((soon[0]["kind"].as_str(), soon[0]["station_id"].as_str()), (Some("installed"), Some("CP1")));

    // The station's listing: the installed root (serial in upper case with a leading zero, as
    // some firmware writes it) and one Ström never saw. It replaces what Ström knew of the
    // type; what Ström knew of the root stays with it.
    let mut listed = expected.clone();
    listed["serialNumber"] =
        json!(format!("0{}", expected["serialNumber"].as_str().unwrap_or_default().to_uppercase()));
    let unknown =
        json!({"hashAlgorithm": "SHA384", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "2a"});
    let (request, answer) = if version == "1.6" {
        (json!({"certificateType": root_type}), json!({"status": "Accepted", listing_key: [listed, unknown]}))
    } else {
        let chain = |kind: &str, h: &Value, children: Option<Value>| {
            let mut c = json!({"certificateType": kind, "certificateHashData": h});
            if let Some(children) = children {
                c["childCertificateHashData"] = children;
            }
            c
        };
        let sub =
            json!({"hashAlgorithm": "SHA256", "issuerNameHash": "cc", "issuerKeyHash": "dd", "serialNumber": "3b"});
        // No type asked for: every certificate the station holds (TC_M_18), a V2G chain with
        // the certificate below its root (TC_M_15).
        let listing = [chain(root_type, &listed, None), chain("V2GCertificateChain", &unknown, Some(json!([sub])))];
        (json!({}), json!({"status": "Accepted", listing_key: listing}))
    };
    command(&server, &mut station, "CP1", "GetInstalledCertificateIds", request, answer).await;
    let count = if version == "1.6" { 2 } else { 3 };
    let list = poll(
        "listing",
        || installed(&server, "CP1"),
        |l: &Vec<Value>| l.iter().any(|c| c["source"] == "reported" && c["serial_number"] == "2a"),
    )
    .await;
    assert_eq!(list.len(), count, "{list:?}");
    let root_row = list
        .iter()
        .find(|c| c["hash_algorithm"] == "SHA256" && c["issuer_name_hash"] == expected["issuerNameHash"])
        .expect("the root");
    assert_eq!(root_row["serial_number"], listed["serialNumber"], "kept as the station wrote it");
    assert_eq!(
        (root_row["subject"].as_str(), root_row["source"].as_str()),
        (Some("CN=Example CSMS Root"), Some("reported"))
    );
    let unknown_row = list.iter().find(|c| c["serial_number"] == "2a").expect("the other");
    assert!(unknown_row["subject"].is_null() && unknown_row["days_left"].is_null(), "{unknown_row}");
    if version == "2.0.1" {
        let child = list.iter().find(|c| c["serial_number"] == "3b").expect("the child of the V2G chain");
        assert_eq!(child["parent_hash_key"], "SHA384:aa:bb:2a");
        assert_eq!(child["certificate_type"], "V2GCertificateChain");
    }

    // TC_076: deleted with the hash data as listed; the other stays. Failed changes nothing.
    let body = json!({"certificateHashData": unknown});
    command(&server, &mut station, "CP1", "DeleteCertificate", body, json!({"status": "Failed"})).await;
    let body = json!({"certificateHashData": listed});
    command(&server, &mut station, "CP1", "DeleteCertificate", body, json!({"status": "Accepted"})).await;
    let list = poll("deletion", || installed(&server, "CP1"), |l: &Vec<Value>| l.len() == count - 1).await;
    assert!(list.iter().all(|c| c["serial_number"] != listed["serialNumber"]), "{list:?}");
    assert_eq!(server.get("/api/v1/certificates?expiring_within_days=30").await, json!([]));

    // NotFound: the station holds none of the type any more.
    let (request, answer) = if version == "1.6" {
        (json!({"certificateType": root_type}), json!({"status": "NotFound"}))
    } else {
        (json!({}), json!({"status": "NotFound"}))
    };
    command(&server, &mut station, "CP1", "GetInstalledCertificateIds", request, answer).await;
    poll("empty listing", || installed(&server, "CP1"), Vec::is_empty).await;

    let (status, _) = server.http("GET", "/api/v1/stations/NOPE/certificates", None).await;
    assert_eq!(status, 404);
}

async fn tc_075_tc_076_tc_078_install_list_delete_16(backend: Backend) {
    install_list_delete(backend, "1.6").await
}

async fn tc_075_tc_076_tc_078_install_list_delete_201(backend: Backend) {
    install_list_delete(backend, "2.0.1").await
}

#[tokio::test]
async fn ca_init_writes_a_ca_with_a_private_key_file_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
    let output =
        ca_init(&cert, &key, &["--common-name", "Test CA", "--organization", "Example CPO", "--days", "100"]).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&key), 0o600, "the key is its owner's only");
    let cert_pem = std::fs::read_to_string(&cert).expect("certificate written");
    let key_pem = std::fs::read_to_string(&key).expect("key written");
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!cert_pem.contains("PRIVATE"));
    let der = pem_blocks(&cert_pem).remove(0);
    let (_, ca) = parse_x509_certificate(&der).expect("parses");
    assert!(ca.is_ca());
    assert_eq!(ca.subject().to_string(), "CN=Test CA, O=Example CPO");
    assert_eq!(ca.subject(), ca.issuer(), "self-signed");
    ca.verify_signature(None).expect("signed with its own key");
    let days = (ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp()) / 86_400;
    assert_eq!(days, 100, "five minutes of backdating included");

    // Neither file is overwritten, not even one of the two.
    for (c, k) in [(&cert, &key), (&cert, &dir.path().join("new.key")), (&dir.path().join("new.pem"), &key)] {
        let again = ca_init(c, k, &[]).await;
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    }
    assert_eq!(std::fs::read_to_string(&cert).expect("kept"), cert_pem);
    assert_eq!(std::fs::read_to_string(&key).expect("kept"), key_pem);
    assert!(!dir.path().join("new.key").exists() && !dir.path().join("new.pem").exists());

    // Serving with a certificate and another CA's key is refused at start.
    let (other_cert, other_key) = (dir.path().join("other.pem"), dir.path().join("other.key"));
    assert!(ca_init(&other_cert, &other_key, &[]).await.status.success());
    let db = dir.path().join("strom.db");
    let serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db.display().to_string()])
        .args(["--ca-cert", &cert.display().to_string(), "--ca-key", &other_key.display().to_string()])
        .env("STROM_LOG", "error")
        .output();
    let output = tokio::time::timeout(common::TIMEOUT, serve).await.expect("exits in time").expect("strom runs");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("does not belong"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
