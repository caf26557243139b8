//! One fault vocabulary for both versions (issue 26 item 2): 1.6 and 2.0.1 faults read back
//! through the API with the same fields (`component`, `code`, `category`, `severity`, `vendor`),
//! the raw protocol fields beside them, and the fields the API had before unchanged; a fault
//! stored before the vocabulary existed gets it when read.

mod common;

use common::{Backend, Server};
use serde_json::{json, Value};

both_backends!(faults_of_both_versions_speak_one_vocabulary, faults_stored_before_get_the_vocabulary);

const T0: &str = "2026-12-07T10:00:00.000Z";

fn notify_event(event_id: i64, component: Value, variable: &str, value: &str, extra: Value) -> Value {
    let mut event = json!({
        "eventId": event_id, "timestamp": T0, "trigger": "Delta", "actualValue": value,
        "component": component, "variable": {"name": variable}, "eventNotificationType": "HardWiredNotification"
    });
    if let (Some(obj), Value::Object(more)) = (event.as_object_mut(), extra) {
        obj.extend(more);
    }
    json!({"generatedAt": T0, "seqNo": 0, "eventData": [event]})
}

/// The open faults of `station`, each as (component, code, category, severity).
async fn vocabulary(server: &Server, station: &str) -> Vec<Value> {
    server.items(&format!("/api/v1/faults?station_id={station}&open=true")).await.as_array().cloned().expect("faults")
}

fn words(f: &Value) -> (&str, &str, &str, &str) {
    let word = |k: &str| f[k].as_str().unwrap_or_else(|| panic!("{k} in {f}"));
    (word("component"), word("code"), word("category"), word("severity"))
}

async fn faults_of_both_versions_speak_one_vocabulary(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.call_ok(
        "StatusNotification",
        json!({"connectorId": 1, "status": "Faulted", "errorCode": "HighTemperature", "info": "cable 92C",
               "vendorId": "ACME", "vendorErrorCode": "T92"}),
    )
    .await;
    cp.call_ok(
        "StatusNotification",
        json!({"connectorId": 0, "status": "Available", "errorCode": "OtherError", "info": "Ground fault detected"}),
    )
    .await;
    let faults = vocabulary(&server, "CP1").await;
    assert_eq!(faults.len(), 2, "{faults:?}");
    let (station, connector) = (&faults[0], &faults[1]);
    assert_eq!(words(connector), ("connector", "HighTemperature", "thermal", "Error"));
    assert_eq!(connector["vendor"], json!({"id": "ACME", "code": "T92", "info": "cable 92C"}));
    assert_eq!(
        connector["raw"],
        json!({"errorCode": "HighTemperature", "vendorErrorCode": "T92", "vendorId": "ACME", "info": "cable 92C"})
    );
    assert_eq!((connector["error_code"].as_str(), connector["open"].as_bool()), (Some("HighTemperature"), Some(true)));
    assert_eq!(words(station), ("station", "GroundFailure", "electrical_protection", "Warning"));
    assert_eq!(station["error_code"], "OtherError", "the station's own code stays where it was");

    let mut cs = server.booted201("CS1").await;
    let connector = json!({"name": "Connector", "evse": {"id": 1, "connectorId": 1}});
    let extra = json!({"techCode": "E-417", "techInfo": "cable overheating"});
    cs.call_ok("NotifyEvent", notify_event(1, connector, "Problem", "true", extra)).await;
    let rcd = json!({"name": "RCD", "evse": {"id": 2}});
    cs.call_ok("NotifyEvent", notify_event(2, rcd, "Tripped", "true", json!({}))).await;
    cs.call_ok(
        "StatusNotification",
        json!({"timestamp": T0, "connectorStatus": "Faulted", "evseId": 3, "connectorId": 1}),
    )
    .await;
    let faults = vocabulary(&server, "CS1").await;
    assert_eq!(faults.len(), 3, "{faults:?}");
    let (status, rcd, overheating) = (&faults[0], &faults[1], &faults[2]);
    assert_eq!(words(overheating), ("connector", "HighTemperature", "thermal", "Error"));
    assert_eq!(overheating["vendor"], json!({"id": null, "code": "E-417", "info": "cable overheating"}));
    assert_eq!(
        overheating["raw"],
        json!({"component": "Connector", "variable": "Problem", "techCode": "E-417", "techInfo": "cable overheating",
               "actualValue": "true"})
    );
    assert_eq!(
        (overheating["error_code"].as_str(), overheating["tech_info"].as_str()),
        (Some("Connector.Problem"), Some("cable overheating")),
        "the fields the API had before stay"
    );
    assert_eq!(words(rcd), ("evse", "GroundFailure", "electrical_protection", "Error"));
    assert_eq!(words(status), ("connector", "Unspecified", "other", "Error"));
    assert_eq!(status["raw"], json!({"connectorStatus": "Faulted"}));

    // The same fields whatever the version.
    let keys = |f: &Value| f.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).expect("object");
    assert_eq!(keys(overheating), keys(&vocabulary(&server, "CP1").await[0]));
}

async fn faults_stored_before_get_the_vocabulary(backend: Backend) {
    let server = Server::start(backend).await;
    let _cp = server.booted("CP1").await;
    // A row as an older Ström wrote it: nothing but the raw fields.
    let mut db = server.database().await;
    sqlx::query(
        "INSERT INTO faults (station_id, evse_id, connector_id, error_code, severity, status, started_at) \
         VALUES ('CP1', 0, 2, 'OverVoltage', 'Error', 'Faulted', '2026-01-01T00:00:00.000Z')",
    )
    .execute(&mut db)
    .await
    .expect("insert");
    let faults = vocabulary(&server, "CP1").await;
    assert_eq!(words(&faults[0]), ("connector", "OverVoltage", "electrical_protection", "Error"));
    assert_eq!(faults[0]["raw"]["errorCode"], "OverVoltage");
}
