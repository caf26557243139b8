//! OCPP 1.6J conformance scenarios that need no CSMS-initiated command (CONFORMANCE Part 1 and
//! its "gaps worth adding", Part 3 X-07..X-12), run against a real `strom serve`.

mod common;

use common::{Backend, Server};
use serde_json::json;

const T0: &str = "2026-11-26T10:00:00.000Z";
const T1: &str = "2026-11-26T10:30:00.000Z";

both_backends!(
    tc_001_cold_boot,
    tc_003_plug_in_first,
    tc_004_1_identification_first,
    tc_004_2_authorized_without_plug_in,
    tc_005_1_ev_side_disconnect,
    tc_007_start_with_cached_tag,
    tc_023_authorize_unknown_expired_blocked,
    tc_024_connector_lock_failure,
    tc_032_1_power_loss_during_transaction,
    tc_037_1_offline_start_valid_tag,
    tc_037_3_offline_start_invalid_tag,
    tc_039_whole_transaction_offline,
    tc_064_data_transfer_unknown_vendor,
    x_07_retried_start_gets_the_same_transaction,
    x_08_concurrent_tx,
    x_09_stop_for_unknown_transaction,
    x_11_meter_values_are_normalised,
    x_11_many_readings_in_one_message,
    x_12_station_level_fault,
    status_older_than_the_stored_one_is_not_applied,
    boot_rejected_for_unknown_station,
    boot_pending_for_unknown_station,
    register_going_backwards_is_flagged,
    firmware_diagnostics_security_notifications_are_recorded,
);

async fn tc_001_cold_boot(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.station("CP1").await;
    let boot = cp
        .call_ok(
            "BootNotification",
            json!({"chargePointVendor": "Alfen", "chargePointModel": "NG9", "firmwareVersion": "6.1", "chargePointSerialNumber": "S1"}),
        )
        .await;
    assert_eq!(boot["status"], "Accepted");
    assert_eq!(boot["interval"], 300);
    assert!(boot["currentTime"].as_str().is_some_and(|t| t.ends_with('Z')));
    for connector in 0..=2 {
        cp.status(connector, "Available", "NoError").await;
    }
    let hb = cp.call_ok("Heartbeat", json!({})).await;
    assert!(hb["currentTime"].is_string());

    let station = server.get("/api/v1/stations/CP1").await;
    assert_eq!(station["registration_status"], "Accepted");
    assert_eq!(station["ocpp_version"], "1.6");
    assert_eq!((station["vendor"].as_str(), station["model"].as_str()), (Some("Alfen"), Some("NG9")));
    assert_eq!(station["firmware_version"], "6.1");
    assert_eq!(station["connected"], true);
    let connectors = station["connectors"].as_array().expect("connectors");
    assert_eq!(connectors.len(), 3);
    assert!(connectors.iter().all(|c| c["status"] == "Available" && c["error_code"] == "NoError"));
    let list = server.items("/api/v1/stations").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    cp.close().await;
}

async fn tc_003_plug_in_first(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    cp.status(1, "Preparing", "NoError").await;
    let auth = cp.call_ok("Authorize", json!({"idTag": "TAG1"})).await;
    assert_eq!(auth["idTagInfo"]["status"], "Accepted");
    let (tx, status) = cp.start(1, "TAG1", 1000, T0).await;
    assert_eq!(status, "Accepted");
    assert!(tx > 0);
    cp.status(1, "Charging", "NoError").await;
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!((t["id_token"].as_str(), t["active"].as_bool()), (Some("TAG1"), Some(true)));
    assert_eq!(t["meter_start_wh"], 1000.0);
    assert_eq!(t["started_at"], T0);
    let active = server.items("/api/v1/transactions?station_id=CP1&active=true").await;
    assert_eq!(active.as_array().map(Vec::len), Some(1));
    let station = server.get("/api/v1/stations/CP1").await;
    assert_eq!(station["connectors"][0]["status"], "Charging");
}

async fn tc_004_1_identification_first(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    assert_eq!(cp.call_ok("Authorize", json!({"idTag": "TAG1"})).await["idTagInfo"]["status"], "Accepted");
    cp.status(1, "Preparing", "NoError").await;
    let (tx, status) = cp.start(1, "TAG1", 0, T0).await;
    assert_eq!(status, "Accepted");
    cp.status(1, "Charging", "NoError").await;
    assert_eq!(server.get(&format!("/api/v1/transactions/{tx}")).await["id_token"], "TAG1");
}

async fn tc_004_2_authorized_without_plug_in(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    assert_eq!(cp.call_ok("Authorize", json!({"idTag": "TAG1"})).await["idTagInfo"]["status"], "Accepted");
    cp.status(1, "Preparing", "NoError").await;
    cp.status(1, "Available", "NoError").await;
    assert_eq!(server.items("/api/v1/transactions").await, json!([]));
    assert_eq!(server.get("/api/v1/stations/CP1").await["connectors"][0]["status"], "Available");
}

async fn tc_005_1_ev_side_disconnect(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, _) = cp.start(1, "TAG1", 100, T0).await;
    cp.status(1, "Charging", "NoError").await;
    cp.status(1, "SuspendedEV", "NoError").await;
    let stop = cp
        .call_ok("StopTransaction", json!({"transactionId": tx, "meterStop": 5100, "timestamp": T1, "reason": "EVDisconnected", "idTag": "TAG1"}))
        .await;
    assert_eq!(stop["idTagInfo"]["status"], "Accepted");
    cp.status(1, "Finishing", "NoError").await;
    cp.status(1, "Available", "NoError").await;
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(t["active"], false);
    assert_eq!(t["stop_reason"], "EVDisconnected");
    assert_eq!(t["stopped_at"], T1);
    assert_eq!(t["energy_wh"], 5000.0);
    assert_eq!(t["meter_stop_wh"], 5100.0);
}

async fn tc_007_start_with_cached_tag(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("CACHED", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (_, status) = cp.start(1, "CACHED", 0, T0).await;
    assert_eq!(status, "Accepted");
}

async fn tc_023_authorize_unknown_expired_blocked(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("OLD", "Accepted", Some("2020-01-01T00:00:00Z"), None).await;
    server.add_token("MARKED", "Expired", None, None).await;
    server.add_token("BAD", "Blocked", None, None).await;
    server.add_token("KID", "Accepted", Some("2099-01-01T00:00:00Z"), Some("FAMILY")).await;
    let mut cp = server.booted("CP1").await;
    for (tag, expected) in
        [("NOBODY", "Invalid"), ("OLD", "Expired"), ("MARKED", "Expired"), ("BAD", "Blocked"), ("KID", "Accepted")]
    {
        let r = cp.call_ok("Authorize", json!({"idTag": tag})).await;
        assert_eq!(r["idTagInfo"]["status"], expected, "{tag}");
    }
    let kid = cp.call_ok("Authorize", json!({"idTag": "KID"})).await;
    assert_eq!(kid["idTagInfo"]["parentIdTag"], "FAMILY");
    assert_eq!(kid["idTagInfo"]["expiryDate"], "2099-01-01T00:00:00.000Z");
}

async fn tc_024_connector_lock_failure(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.status(1, "Preparing", "NoError").await;
    cp.call_ok(
        "StatusNotification",
        json!({"connectorId": 1, "status": "Faulted", "errorCode": "ConnectorLockFailure", "vendorErrorCode": "E42", "info": "lock stuck"}),
    )
    .await;
    let station = server.get("/api/v1/stations/CP1").await;
    assert_eq!(station["connectors"][0]["error_code"], "ConnectorLockFailure");
    assert_eq!(station["connectors"][0]["status"], "Faulted");
    let faults = server.items("/api/v1/faults?station_id=CP1&open=true").await;
    assert_eq!(faults.as_array().map(Vec::len), Some(1));
    let f = &faults[0];
    assert_eq!((f["error_code"].as_str(), f["severity"].as_str()), (Some("ConnectorLockFailure"), Some("Error")));
    assert_eq!((f["vendor_error_code"].as_str(), f["info"].as_str()), (Some("E42"), Some("lock stuck")));
    assert_eq!(f["connector_id"], 1);
    // Recovery clears it.
    cp.status(1, "Available", "NoError").await;
    assert_eq!(server.items("/api/v1/faults?open=true").await, json!([]));
    let cleared = server.items("/api/v1/faults?open=false").await;
    assert!(cleared[0]["cleared_at"].is_string());
}

async fn tc_032_1_power_loss_during_transaction(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, _) = cp.start(1, "TAG1", 0, T0).await;
    cp.status(1, "Charging", "NoError").await;
    cp.close().await;
    // Power comes back: boot, statuses, then the stop that was queued, with its old timestamp.
    let mut cp = server.booted("CP1").await;
    cp.status(1, "Finishing", "NoError").await;
    cp.call_ok(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 7000, "timestamp": T1, "reason": "PowerLoss"}),
    )
    .await;
    cp.status(1, "Available", "NoError").await;
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!((t["stop_reason"].as_str(), t["stopped_at"].as_str()), (Some("PowerLoss"), Some(T1)));
    assert_eq!(t["energy_wh"], 7000.0);
}

async fn tc_037_1_offline_start_valid_tag(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, status) = cp.start(1, "TAG1", 10, "2026-11-20T08:00:00Z").await;
    assert_eq!(status, "Accepted");
    cp.status(1, "Charging", "NoError").await;
    assert_eq!(server.get(&format!("/api/v1/transactions/{tx}")).await["started_at"], "2026-11-20T08:00:00.000Z");
}

async fn tc_037_3_offline_start_invalid_tag(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let (tx, status) = cp.start(1, "STRANGER", 0, T0).await;
    assert_eq!(status, "Invalid");
    assert!(tx > 0, "a transactionId is given even for an invalid tag");
    let stop = cp
        .call(
            "StopTransaction",
            json!({"transactionId": tx, "meterStop": 50, "timestamp": T1, "reason": "DeAuthorized"}),
        )
        .await;
    assert!(matches!(stop, common::Reply::Result(_)));
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    // Stored as the station was told it (1.6 has no Unknown), with Ström's reason beside it.
    assert_eq!(
        (t["start_auth_status"].as_str(), t["start_auth_reason"].as_str(), t["stop_reason"].as_str()),
        (Some("Invalid"), Some("Unknown"), Some("DeAuthorized"))
    );
    assert_eq!(t["flags"], json!(["charged_while_unauthorized"]), "50 Wh flowed for a refused tag: {t}");
}

async fn tc_039_whole_transaction_offline(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, status) = cp.start(2, "TAG1", 2000, "2026-11-25T20:00:00Z").await;
    assert_eq!(status, "Accepted");
    cp.call_ok(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 9500, "timestamp": "2026-11-25T21:00:00Z", "reason": "Local", "idTag": "TAG1"}),
    )
    .await;
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(t["started_at"], "2026-11-25T20:00:00.000Z");
    assert_eq!(t["stopped_at"], "2026-11-25T21:00:00.000Z");
    assert_eq!(t["energy_wh"], 7500.0);
    assert_eq!(t["connector_id"], 2);
}

async fn tc_064_data_transfer_unknown_vendor(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let r = cp.call_ok("DataTransfer", json!({"vendorId": "com.unknown", "messageId": "x", "data": "{\"a\":1}"})).await;
    assert_eq!(r["status"], "UnknownVendorId");
    let events = server.items("/api/v1/stations/CP1/events?kind=DataTransfer").await;
    let detail: serde_json::Value = serde_json::from_str(events[0]["detail"].as_str().expect("detail")).expect("JSON");
    assert_eq!(detail, json!({"vendorId": "com.unknown", "messageId": "x", "data": "{\"a\":1}"}));
}

async fn x_07_retried_start_gets_the_same_transaction(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (first, _) = cp.start(1, "TAG1", 500, T0).await;
    let (retry, status) = cp.start(1, "TAG1", 500, T0).await;
    assert_eq!((retry, status.as_str()), (first, "Accepted"));
    assert_eq!(server.items("/api/v1/transactions").await.as_array().map(Vec::len), Some(1));
}

async fn x_08_concurrent_tx(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (_, first) = cp.start(1, "TAG1", 0, T0).await;
    let (second_tx, second) = cp.start(2, "TAG1", 0, T1).await;
    assert_eq!((first.as_str(), second.as_str()), ("Accepted", "ConcurrentTx"));
    assert!(second_tx > 0);
}

async fn x_09_stop_for_unknown_transaction(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let r = cp.call("StopTransaction", json!({"transactionId": 4242, "meterStop": 10, "timestamp": T1})).await;
    assert!(matches!(r, common::Reply::Result(_)), "{r:?}");
    let all = server.items("/api/v1/transactions?station_id=CP1").await;
    assert_eq!(all[0]["station_transaction_id"], "4242");
    assert_eq!(all[0]["flags"], json!(["unknown_transaction"]));
}

async fn x_11_meter_values_are_normalised(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, _) = cp.start(1, "TAG1", 1000, T0).await;
    cp.call_ok(
        "MeterValues",
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-11-26T10:10:00Z", "sampledValue": [
            {"value": "2.5", "unit": "kWh"},
            {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
            {"value": "230.4", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
            {"value": "31", "measurand": "Temperature", "unit": "Celcius", "location": "Body"},
            {"value": "50", "measurand": "Frequency", "unit": "Hertz"}
        ]}]}),
    )
    .await;
    cp.call_ok(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 4000, "timestamp": T1, "transactionData": [
            {"timestamp": T1, "sampledValue": [{"value": "4000", "context": "Transaction.End"}]}
        ]}),
    )
    .await;
    let values = server.items(&format!("/api/v1/transactions/{tx}/meter-values")).await;
    let values = values.as_array().expect("array");
    assert_eq!(values.len(), 6);
    let find = |measurand: &str| values.iter().find(|v| v["measurand"] == measurand).expect(measurand).clone();
    let energy = find("Energy.Active.Import.Register");
    assert_eq!(
        (energy["value"].as_f64(), energy["normalised_unit"].as_str(), energy["raw_value"].as_str()),
        (Some(2500.0), Some("Wh"), Some("2.5"))
    );
    assert_eq!(energy["unit"], "kWh");
    assert_eq!(find("Power.Active.Import")["value"], 7200.0);
    assert_eq!(find("Voltage")["phase"], "L1-N");
    assert_eq!(find("Temperature")["normalised_unit"], "Celsius");
    // Each reading keeps its own location and the defaults apply to the others.
    assert_eq!(
        (find("Temperature")["location"].as_str(), find("Frequency")["location"].as_str()),
        (Some("Body"), Some("Outlet"))
    );
    assert_eq!((energy["context"].as_str(), energy["format"].as_str()), (Some("Sample.Periodic"), Some("Raw")));
    assert_eq!(find("Frequency")["value"], 50.0);
    let end = values.iter().find(|v| v["context"] == "Transaction.End").expect("end reading");
    assert_eq!(end["value"], 4000.0);
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(t["energy_wh"], 3000.0);
    assert_eq!(t["flags"], json!([]));
}

/// More readings in one message than the store writes with one statement: all of them are kept,
/// each with its own element's timestamp and its own value.
async fn x_11_many_readings_in_one_message(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, _) = cp.start(1, "TAG1", 1000, T0).await;
    let elements: Vec<_> = (0..5)
        .map(|minute| {
            let sampled: Vec<_> = (0..7)
                .map(|i| {
                    let phase = ["L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N"][i];
                    json!({"value": format!("{}", minute * 100 + i), "measurand": "Current.Import", "unit": "A", "phase": phase})
                })
                .collect();
            json!({"timestamp": format!("2026-11-26T10:{:02}:00.000Z", 10 + minute), "sampledValue": sampled})
        })
        .collect();
    cp.call_ok("MeterValues", json!({"connectorId": 1, "transactionId": tx, "meterValue": elements})).await;
    let values = server.items(&format!("/api/v1/transactions/{tx}/meter-values")).await;
    let got: Vec<(String, f64)> = values
        .as_array()
        .expect("array")
        .iter()
        .map(|v| (v["timestamp"].as_str().expect("timestamp").to_string(), v["value"].as_f64().expect("value")))
        .collect();
    let want: Vec<(String, f64)> = (0..5)
        .flat_map(|minute| {
            (0..7).map(move |i| (format!("2026-11-26T10:{:02}:00.000Z", 10 + minute), f64::from(minute * 100 + i)))
        })
        .collect();
    assert_eq!(got, want);
}

async fn x_12_station_level_fault(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.status(1, "Available", "NoError").await;
    cp.status(0, "Faulted", "PowerMeterFailure").await;
    let faults = server.items("/api/v1/faults?open=true").await;
    assert_eq!(
        (faults[0]["connector_id"].as_i64(), faults[0]["error_code"].as_str()),
        (Some(0), Some("PowerMeterFailure"))
    );
    let station = server.get("/api/v1/stations/CP1").await;
    let connector1 =
        station["connectors"].as_array().expect("connectors").iter().find(|c| c["connector_id"] == 1).cloned();
    assert_eq!(connector1.expect("connector 1")["status"], "Available");
    // A warning (error code on an operative connector) is a fault too, with lower severity.
    cp.status(1, "Charging", "OverVoltage").await;
    let open = server.items("/api/v1/faults?open=true&station_id=CP1").await;
    let warning = open.as_array().expect("array").iter().find(|f| f["connector_id"] == 1).cloned().expect("warning");
    assert_eq!((warning["error_code"].as_str(), warning["severity"].as_str()), (Some("OverVoltage"), Some("Warning")));
}

/// Statuses queued offline arrive after newer ones (CHECKLIST §2.6): the newest stays, and an old
/// fault report neither replaces it nor opens a fault; an old healthy report closes nothing.
async fn status_older_than_the_stored_one_is_not_applied(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let status = |s: &str, e: &str, at: &str| json!({"connectorId": 1, "status": s, "errorCode": e, "timestamp": at});
    cp.call_ok("StatusNotification", status("Available", "NoError", T1)).await;
    cp.call_ok("StatusNotification", status("Faulted", "HighTemperature", T0)).await;
    let connector = &server.get("/api/v1/stations/CP1").await["connectors"][0];
    assert_eq!((connector["status"].as_str(), connector["error_code"].as_str()), (Some("Available"), Some("NoError")));
    // The late fault report is not dropped: it lasted until the newer status (issue 23).
    let recorded = server.items("/api/v1/faults?station_id=CP1").await;
    assert_eq!(recorded.as_array().map(Vec::len), Some(1), "{recorded}");
    assert_eq!((recorded[0]["started_at"].as_str(), recorded[0]["cleared_at"].as_str()), (Some(T0), Some(T1)));
    // A newer fault opens; a healthy report older than it leaves it open; a newer one closes it.
    cp.call_ok("StatusNotification", status("Faulted", "HighTemperature", "2026-11-26T11:00:00.000Z")).await;
    cp.call_ok("StatusNotification", status("Available", "NoError", "2026-11-26T10:45:00.000Z")).await;
    let open = server.items("/api/v1/faults?station_id=CP1&open=true").await;
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{open}");
    assert_eq!(server.get("/api/v1/stations/CP1").await["connectors"][0]["status"], "Faulted");
    cp.call_ok("StatusNotification", status("Available", "NoError", "2026-11-26T11:05:00.000Z")).await;
    assert_eq!(server.items("/api/v1/faults?station_id=CP1&open=true").await, json!([]));
}

async fn boot_rejected_for_unknown_station(backend: Backend) {
    let server = Server::start_with(backend, &["--unknown-stations", "reject"]).await;
    let mut cp = server.station("STRANGER").await;
    let boot = cp.call_ok("BootNotification", json!({"chargePointVendor": "X", "chargePointModel": "Y"})).await;
    assert_eq!(boot["status"], "Rejected");
    assert_eq!(boot["interval"], 60);
    assert_eq!(cp.call_err("Heartbeat", json!({})).await, "SecurityError");
    assert_eq!(
        cp.call_err("StatusNotification", json!({"connectorId": 1, "status": "Available", "errorCode": "NoError"}))
            .await,
        "SecurityError"
    );
    let station = server.get("/api/v1/stations/STRANGER").await;
    assert_eq!(station["registration_status"], "Rejected");
    assert_eq!(station["connectors"], json!([]), "nothing from a rejected station is applied");
}

async fn boot_pending_for_unknown_station(backend: Backend) {
    let server = Server::start_with(backend, &["--unknown-stations", "pending"]).await;
    let mut cp = server.station("NEWCOMER").await;
    let boot = cp.call_ok("BootNotification", json!({"chargePointVendor": "X", "chargePointModel": "Y"})).await;
    assert_eq!(boot["status"], "Pending");
    assert_eq!(cp.call_err("Authorize", json!({"idTag": "A"})).await, "SecurityError");
}

async fn register_going_backwards_is_flagged(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, _) = cp.start(1, "TAG1", 1000, T0).await;
    for (minute, wh) in [(5, "3000"), (10, "2000"), (15, "4000")] {
        let ts = format!("2026-11-26T10:{minute:02}:00Z");
        cp.call_ok("MeterValues", json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": ts, "sampledValue": [{"value": wh}]}]}))
            .await;
    }
    cp.call_ok("StopTransaction", json!({"transactionId": tx, "meterStop": 4000, "timestamp": T1})).await;
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(t["energy_wh"], 3000.0);
    assert_eq!(t["flags"], json!(["register_went_backwards"]));
}

async fn firmware_diagnostics_security_notifications_are_recorded(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.call_ok("FirmwareStatusNotification", json!({"status": "Downloading"})).await;
    cp.call_ok("DiagnosticsStatusNotification", json!({"status": "Uploaded"})).await;
    cp.call_ok("LogStatusNotification", json!({"status": "Uploading", "requestId": 7})).await;
    cp.call_ok("SignedFirmwareStatusNotification", json!({"status": "InstallVerificationFailed", "requestId": 3}))
        .await;
    cp.call_ok(
        "SecurityEventNotification",
        json!({"type": "TamperDetectionActivated", "timestamp": T0, "techInfo": "lid"}),
    )
    .await;
    let sign = cp.call_ok("SignCertificate", json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----"})).await;
    assert_eq!(sign["status"], "Rejected", "Ström cannot sign yet and says so");
    let station = server.get("/api/v1/stations/CP1").await;
    assert_eq!(station["firmware_status"], "InstallVerificationFailed");
    assert_eq!(station["diagnostics_status"], "Uploaded");
    assert_eq!(station["log_status"], "Uploading");
    let security = server.items("/api/v1/stations/CP1/events?kind=SecurityEventNotification").await;
    assert_eq!(security.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (security[0]["status"].as_str(), security[0]["detail"].as_str(), security[0]["at"].as_str()),
        (Some("TamperDetectionActivated"), Some("lid"), Some(T0))
    );
    let all = server.items("/api/v1/stations/CP1/events").await;
    assert_eq!(all.as_array().map(Vec::len), Some(6));
    assert_eq!(all[0]["kind"], "SignCertificate", "newest first");
    let log = server.items("/api/v1/stations/CP1/events?kind=LogStatusNotification").await;
    assert_eq!(log[0]["request_id"], 7);
}
