//! Meter integrity on the charge detail record (issue 28 item 4): signed meter values (OCMF, in
//! 2.0.1 signedMeterValue) verified against the meter key (and serial) registered for the station, with a
//! key made in the test; and the anomalies of a transaction's readings flagged; on both backends.

mod common;

use base64::Engine;
use common::{id_token, tx_event, Backend, Server};
use rcgen::{PublicKeyData, SigningKey};
use serde_json::{json, Value};

both_backends!(
    signed_meter_values_prove_a_records_energy,
    anomalies_of_the_readings_are_on_the_transaction_and_its_record
);

/// A meter that signs OCMF records.
struct Meter(rcgen::KeyPair);

impl Meter {
    fn new() -> Meter {
        Meter(rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key"))
    }

    fn public_key_hex(&self) -> String {
        hex::encode(self.0.subject_public_key_info())
    }

    /// A record of one reading: pagination `pg`, `tx` (B or E), the register in kWh, at minute `minute`.
    fn record(&self, pg: &str, tx: &str, kwh: &str, minute: u32) -> String {
        self.sign(&payload(pg, tx, kwh, minute))
    }

    /// `payload` signed as a record.
    fn sign(&self, payload: &str) -> String {
        let signature = self.0.sign(payload.as_bytes()).expect("signed");
        format!(r#"OCMF|{payload}|{{"SA":"ECDSA-secp256r1-SHA256","SD":"{}"}}"#, hex::encode_upper(signature))
    }
}

fn payload(pg: &str, tx: &str, kwh: &str, minute: u32) -> String {
    format!(
        r#"{{"FV":"1.0","GI":"Strom Test","GS":"GW-1","GV":"1.0","PG":"{pg}","MV":"Meters","MM":"M1","MS":"METER-1","IS":true,"IL":"VERIFIED","IF":["RFID_PLAIN"],"IT":"ISO14443","ID":"DRIVER","RD":[{{"TM":"2026-12-07T10:{minute:02}:00,000+0000 S","TX":"{tx}","RV":{kwh},"RI":"01-00:B2.08.00*FF","RU":"kWh","RT":"AC","EF":"","ST":"G"}}]}}"#
    )
}

/// A 2.0.1 meterValue: the register in Wh, signed by `record` (base64, as 2.0.1 carries it).
fn signed_reading(wh: f64, context: &str, minute: u32, record: Option<&str>) -> Value {
    let mut sampled = json!({"value": wh, "context": context, "measurand": "Energy.Active.Import.Register"});
    if let Some(record) = record {
        sampled["signedMeterValue"] = json!({"signedMeterData": base64::engine::general_purpose::STANDARD.encode(record),
            "signingMethod": "ECDSA-secp256r1-SHA256", "encodingMethod": "OCMF", "publicKey": ""});
    }
    json!([{"timestamp": format!("2026-12-07T10:{minute:02}:00.000Z"), "sampledValue": [sampled]}])
}

/// A transaction `tx` from 10 to 17.345 kWh with the two records given; its record's check.
async fn session(server: &Server, cp: &mut common::Station, tx: &str, begin: Option<&str>, end: Option<&str>) -> Value {
    let mut started = json!({"evse": {"id": 1, "connectorId": 1}, "idToken": id_token("DRIVER")});
    started["meterValue"] = signed_reading(10_000.0, "Transaction.Begin", 0, begin);
    cp.call_ok("TransactionEvent", tx_event("Started", 0, tx, "Authorized", "2026-12-07T10:00:00.000Z", started)).await;
    let ended = json!({"meterValue": signed_reading(17_345.0, "Transaction.End", 30, end),
        "transactionInfo": {"stoppedReason": "EVDisconnected"}});
    cp.call_ok("TransactionEvent", tx_event("Ended", 1, tx, "EVCommunicationLost", "2026-12-07T10:30:00.000Z", ended))
        .await;
    let stored = server.items("/api/v1/transactions?limit=1000").await;
    let id = stored
        .as_array()
        .expect("array")
        .iter()
        .find(|t| t["station_transaction_id"] == tx)
        .map(|t| t["id"].clone())
        .expect("stored");
    let records = server.items_eventually(&format!("/api/v1/cdrs?transaction_id={id}"), 1).await;
    records[0].clone()
}

fn status(cdr: &Value) -> (&str, bool) {
    (
        cdr["energy_verification"]["status"].as_str().unwrap_or_default(),
        cdr["energy_verified"].as_bool().unwrap_or(true),
    )
}

fn problems(cdr: &Value) -> String {
    cdr["energy_verification"]["problems"].to_string()
}

async fn signed_meter_values_prove_a_records_energy(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("DRIVER", "Accepted", None, None).await;
    let mut cp = server.booted201("CS-OCMF").await;
    let meter = Meter::new();
    let (begin, end) = (meter.record("T1", "B", "10.000", 0), meter.record("T2", "E", "17.345", 30));

    // Before a key is registered the records cannot be checked; without records nothing is signed.
    let cdr = session(&server, &mut cp, "NO-KEY", Some(&begin), Some(&end)).await;
    assert_eq!(status(&cdr), ("no_meter_key", false), "{cdr}");
    let cdr = session(&server, &mut cp, "UNSIGNED", None, None).await;
    assert_eq!(status(&cdr), ("unsigned", false), "{cdr}");

    // The key, as an operator registers it; a key that is not one is refused.
    let (code, body) =
        server.http("PUT", "/api/v1/stations/CS-OCMF/meter-key", Some(json!({"public_key": "00ff"}))).await;
    assert_eq!(code, 422, "{body}");
    let (code, _) = server
        .http("PUT", "/api/v1/stations/NOBODY/meter-key", Some(json!({"public_key": meter.public_key_hex()})))
        .await;
    assert_eq!(code, 404);
    let registered = json!({"public_key": meter.public_key_hex(), "meter_serial": "METER-1"});
    let (code, key) = server.http("PUT", "/api/v1/stations/CS-OCMF/meter-key", Some(registered)).await;
    assert_eq!((code, key["curve"].as_str()), (200, Some("secp256r1")), "{key}");

    let cdr = session(&server, &mut cp, "VALID", Some(&begin), Some(&end)).await;
    assert_eq!(status(&cdr), ("verified", true), "{cdr}");
    assert_eq!(cdr["energy_verification"]["signed_energy_wh"].as_f64(), Some(7345.0));

    // The end record's value changed after signing: its signature no longer holds.
    let tampered = end.replace("\"RV\":17.345", "\"RV\":18.345");
    let cdr = session(&server, &mut cp, "TAMPERED", Some(&begin), Some(&tampered)).await;
    assert_eq!(status(&cdr), ("failed", false), "{cdr}");
    assert!(problems(&cdr).contains("signature"), "{}", problems(&cdr));

    // Records of another meter's key.
    let other = Meter::new();
    let cdr = session(
        &server,
        &mut cp,
        "WRONG-KEY",
        Some(&other.record("T1", "B", "10.000", 0)),
        Some(&other.record("T2", "E", "17.345", 30)),
    )
    .await;
    assert_eq!(status(&cdr), ("failed", false), "{cdr}");

    // A record missing between the two (T3, then T5).
    let cdr = session(
        &server,
        &mut cp,
        "GAP",
        Some(&meter.record("T3", "B", "10.000", 0)),
        Some(&meter.record("T5", "E", "17.345", 30)),
    )
    .await;
    assert_eq!(status(&cdr), ("failed", false), "{cdr}");
    assert!(problems(&cdr).contains("records are missing"), "{}", problems(&cdr));

    // Records the registered key signed, but of another meter than the one registered with it.
    let of_meter_2 = |pg: &str, tx: &str, kwh: &str, minute: u32| {
        meter.sign(&payload(pg, tx, kwh, minute).replace(r#""MS":"METER-1""#, r#""MS":"METER-2""#))
    };
    let (begin_2, end_2) = (of_meter_2("T1", "B", "10.000", 0), of_meter_2("T2", "E", "17.345", 30));
    let cdr = session(&server, &mut cp, "OTHER-METER", Some(&begin_2), Some(&end_2)).await;
    assert_eq!(status(&cdr), ("failed", false), "{cdr}");
    assert!(problems(&cdr).contains("METER-2") && problems(&cdr).contains("METER-1"), "{}", problems(&cdr));
    // Registered without a serial, the key's own signature is what counts.
    let (code, _) = server
        .http("PUT", "/api/v1/stations/CS-OCMF/meter-key", Some(json!({"public_key": meter.public_key_hex()})))
        .await;
    assert_eq!(code, 200);
    let cdr = session(&server, &mut cp, "ANY-METER", Some(&begin_2), Some(&end_2)).await;
    assert_eq!(status(&cdr), ("verified", true), "{cdr}");
    let registered = json!({"public_key": meter.public_key_hex(), "meter_serial": "METER-1"});
    let (code, _) = server.http("PUT", "/api/v1/stations/CS-OCMF/meter-key", Some(registered)).await;
    assert_eq!(code, 200);

    // Signed readings that prove another energy than the one billed.
    let cdr = session(&server, &mut cp, "MISMATCH", Some(&begin), Some(&meter.record("T2", "E", "17.000", 30))).await;
    assert_eq!(status(&cdr), ("mismatch", false), "{cdr}");

    let (code, _) = server.http("DELETE", "/api/v1/stations/CS-OCMF/meter-key", None).await;
    assert_eq!(code, 204);
    let (code, _) = server.http("GET", "/api/v1/stations/CS-OCMF/meter-key", None).await;
    assert_eq!(code, 404);
}

async fn anomalies_of_the_readings_are_on_the_transaction_and_its_record(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("A", "Accepted", None, None).await;
    let mut cp = server.booted("CS-16").await;
    let (tx, _) = cp.start(1, "A", 5_000, "2026-12-07T10:00:00.000Z").await;
    let reading = |minute: u32, wh: i64| {
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": format!("2026-12-07T10:{minute:02}:00.000Z"),
            "sampledValue": [{"value": wh.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
                              "context": "Sample.Periodic"}]}]})
    };
    cp.call_ok("MeterValues", reading(10, 6_000)).await;
    let running = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(running["anomalies"], json!([]), "{running}");
    // The register goes back by 500 Wh: the running transaction shows it at once.
    cp.call_ok("MeterValues", reading(20, 5_500)).await;
    let running = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(running["active"], true);
    assert_eq!(running["anomalies"][0]["code"], "register_backwards", "{running}");
    assert_eq!(running["anomalies"].as_array().map(Vec::len), Some(1), "{running}");
    let stop =
        json!({"transactionId": tx, "meterStop": 8_000, "timestamp": "2026-12-07T10:30:00.000Z", "reason": "Local"});
    cp.call_ok("StopTransaction", stop).await;
    let records = server.items_eventually(&format!("/api/v1/cdrs?transaction_id={tx}"), 1).await;
    let codes: Vec<&str> =
        records[0]["anomalies"].as_array().expect("anomalies").iter().filter_map(|a| a["code"].as_str()).collect();
    assert_eq!(codes, vec!["register_backwards"], "{}", records[0]);
    assert!(records[0]["anomalies"][0]["description"].as_str().unwrap_or_default().contains("5500"), "{}", records[0]);
    // The ended transaction shows what its record says.
    let ended = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(ended["anomalies"], records[0]["anomalies"], "{ended}");
    // A clean session has none.
    let (clean, _) = cp.start(1, "A", 8_000, "2026-12-07T11:00:00.000Z").await;
    cp.call_ok(
        "StopTransaction",
        json!({"transactionId": clean, "meterStop": 9_000, "timestamp": "2026-12-07T11:30:00.000Z"}),
    )
    .await;
    let records = server.items_eventually(&format!("/api/v1/cdrs?transaction_id={clean}"), 1).await;
    assert_eq!(records[0]["anomalies"], json!([]), "{}", records[0]);
}
