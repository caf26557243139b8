//! One fault vocabulary for both versions (issue 26 item 2): 1.6 and 2.0.1 faults read back
//! through the API with the same fields (`component`, `code`, `category`, `severity`, `vendor`),
//! the raw protocol fields beside them, and the fields the API had before unchanged; a fault
//! stored before the vocabulary existed gets it when read.

mod common;

use common::{id_token, tx_event, Backend, Server};
use serde_json::{json, Value};

both_backends!(
    faults_of_both_versions_speak_one_vocabulary,
    faults_stored_before_get_the_vocabulary,
    tc_power_loss_is_a_fault_strom_detects
);

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

    // Listed by category, whatever the version, with the other filters.
    let listed = |path: String| {
        let server = &server;
        async move {
            let items = server.items(&path).await;
            let items = items.as_array().cloned().expect("faults");
            items
                .iter()
                .map(|f| (f["station_id"].as_str().map(String::from), f["code"].as_str().map(String::from)))
                .collect::<Vec<_>>()
        }
    };
    let pair = |station: &str, code: &str| (Some(station.to_string()), Some(code.to_string()));
    assert_eq!(
        listed("/api/v1/faults?category=thermal".into()).await,
        [pair("CS1", "HighTemperature"), pair("CP1", "HighTemperature")]
    );
    assert_eq!(
        listed("/api/v1/faults?category=electrical_protection&station_id=CS1&open=true".into()).await,
        [pair("CS1", "GroundFailure")]
    );
    assert_eq!(listed("/api/v1/faults?category=meter".into()).await, []);
    let (status, body) = server.http("GET", "/api/v1/faults?category=hot", None).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains("thermal") && message.contains("power_loss") && message.contains("\"hot\""), "{message}");
}

async fn faults_stored_before_get_the_vocabulary(backend: Backend) {
    let server = Server::start(backend).await;
    let _cp = server.booted("CP1").await;
    // Rows as older versions of Ström wrote them: nothing but the raw fields, or a category from
    // an older mapping (a HighTemperature the older mapping called a meter fault).
    let mut db = server.database().await;
    for (connector, code, category) in [(2, "OverVoltage", None), (3, "HighTemperature", Some("meter"))] {
        sqlx::query(
            "INSERT INTO faults (station_id, evse_id, connector_id, error_code, severity, status, started_at, category) \
             VALUES ('CP1', 0, $1, $2, 'Error', 'Faulted', '2026-01-01T00:00:00.000Z', $3)",
        )
        .bind(connector)
        .bind(code)
        .bind(category)
        .execute(&mut db)
        .await
        .expect("insert");
    }
    sqlx::query("UPDATE fault_mapping SET fingerprint = 'an older mapping'").execute(&mut db).await.expect("update");
    drop(db);
    // Read, the vocabulary comes from the raw fields at once.
    let faults = vocabulary(&server, "CP1").await;
    assert_eq!(words(&faults[0]), ("connector", "HighTemperature", "thermal", "Error"));
    assert_eq!(words(&faults[1]), ("connector", "OverVoltage", "electrical_protection", "Error"));
    assert_eq!(faults[1]["raw"]["errorCode"], "OverVoltage");

    // The category a list filters on is stored; the next start classifies every fault again
    // because the mapping changed.
    let (_, db) = server.terminate().await;
    let server = Server::restart(db).await;
    let codes = |category: &'static str| {
        let server = &server;
        async move {
            let items = server.items(&format!("/api/v1/faults?station_id=CP1&category={category}")).await;
            items
                .as_array()
                .cloned()
                .expect("faults")
                .iter()
                .map(|f| f["code"].as_str().map(String::from))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(codes("thermal").await, [Some("HighTemperature".to_string())]);
    assert_eq!(codes("electrical_protection").await, [Some("OverVoltage".to_string())]);
    assert_eq!(codes("meter").await, Vec::<Option<String>>::new());
    let mut db = server.database().await;
    let fingerprint: String =
        sqlx::query_scalar("SELECT fingerprint FROM fault_mapping").fetch_one(&mut db).await.expect("fingerprint");
    assert_ne!(fingerprint, "an older mapping");
}

/// A transaction ended by a power loss (1.6 StopTransaction reason PowerLoss, 2.0.1
/// TransactionEvent Ended stoppedReason PowerLoss) is a `power_loss` fault Ström detected, at the
/// connector, from the stop until the station reported it; delivered twice, it is one fault.
async fn tc_power_loss_is_a_fault_strom_detects(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, _) = cp.start(2, "TAG", 1_000, "2026-12-07T09:00:00.000Z").await;
    let stop = json!({"transactionId": tx, "meterStop": 5_000, "timestamp": T0, "reason": "PowerLoss"});
    cp.call_ok("StopTransaction", stop.clone()).await;
    cp.call_ok("StopTransaction", stop).await;

    let mut cs = server.booted201("CS1").await;
    let started = json!({"idToken": id_token("TAG"), "evse": {"id": 1, "connectorId": 1}});
    cs.call_ok("TransactionEvent", tx_event("Started", 0, "T-1", "Authorized", "2026-12-07T09:00:00.000Z", started))
        .await;
    let ended =
        tx_event("Ended", 1, "T-1", "StopAuthorized", T0, json!({"transactionInfo": {"stoppedReason": "PowerLoss"}}));
    cs.call_ok("TransactionEvent", ended.clone()).await;
    cs.call_ok("TransactionEvent", ended).await;
    // An ordinary stop is no fault.
    cs.call_ok(
        "TransactionEvent",
        tx_event(
            "Started",
            0,
            "T-2",
            "Authorized",
            T0,
            json!({"idToken": id_token("TAG"), "evse": {"id": 2, "connectorId": 1}}),
        ),
    )
    .await;
    cs.call_ok(
        "TransactionEvent",
        tx_event("Ended", 1, "T-2", "EVDeparted", T0, json!({"transactionInfo": {"stoppedReason": "EVDisconnected"}})),
    )
    .await;

    for (station, evse) in [("CP1", Value::Null), ("CS1", json!(1))] {
        let faults = server.items(&format!("/api/v1/faults?station_id={station}&category=power_loss")).await;
        let faults = faults.as_array().cloned().expect("faults");
        assert_eq!(faults.len(), 1, "{station}: {faults:?}");
        let fault = &faults[0];
        assert_eq!(words(fault), ("connector", "PowerLoss", "power_loss", "Error"), "{station}");
        assert_eq!((fault["source"].as_str(), fault["raw"]["detected_by"].as_str()), (Some("strom"), Some("strom")));
        assert_eq!(fault["evse_id"], evse, "{station}");
        assert_eq!(fault["connector_id"], if station == "CP1" { 2 } else { 1 }, "{station}");
        assert!(fault["started_at"].as_str().is_some_and(|t| t.starts_with("2026-12-07T10:00:00")), "{fault}");
        assert_eq!(fault["open"], false, "the station is powered again: {fault}");
        assert!(fault["raw"]["reason"].as_str().is_some_and(|r| r.contains("power loss")), "{fault}");
    }
    let all = server.items("/api/v1/faults?station_id=CS1").await;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "no fault for an ordinary stop: {all}");
    // The station's own faults say so too.
    cp.status(1, "Faulted", "HighTemperature").await;
    let reported = server.items("/api/v1/faults?station_id=CP1&category=thermal").await;
    assert_eq!(reported[0]["source"], "station");
}
