//! Issue 23: what third-party stations, a peer's conformance suite and attackers found Ström
//! acknowledging and then dropping, or answering against the protocol. One test per defect,
//! named after what it protects, on both storage backends.

mod common;

use common::{energy_reading as register, id_token as card, tx_event, Backend, Server, Station};
use serde_json::{json, Value};

both_backends!(
    faulted_status_opens_a_fault_on_both_versions,
    stale_fault_report_is_recorded,
    typed_token_is_not_a_token_of_another_type,
    authorize_16_answers_concurrent_tx_for_a_tag_charging_elsewhere,
    boot_reason_and_evse_of_notifications_are_kept,
    superseded_transaction_is_closed_16,
    superseded_transaction_is_closed_201,
    concurrent_tx_only_answers_a_started_event,
    negative_meter_register_is_flagged,
    protocol_version_changes_only_through_a_boot,
    repeated_seq_no_is_applied_and_flagged,
    reused_transaction_id_is_a_new_transaction,
    late_events_after_an_ended_belong_to_its_transaction,
    real_end_replaces_the_estimate_of_a_superseded_transaction_201,
    boot_answer_keeps_the_configured_heartbeat_interval,
);

const T0: &str = "2026-11-26T10:00:00.000Z";
const T1: &str = "2026-11-26T10:10:00.000Z";
const T2: &str = "2026-11-26T10:20:00.000Z";
const T3: &str = "2026-11-26T10:30:00.000Z";
const T4: &str = "2026-11-26T10:40:00.000Z";

/// Every row of a list endpoint, following its pages.
async fn list(server: &Server, path: &str) -> Vec<Value> {
    server.items(path).await.as_array().expect("a list").clone()
}

async fn faults(server: &Server, station: &str) -> Vec<Value> {
    list(server, &format!("/api/v1/faults?station_id={station}")).await
}

async fn transactions(server: &Server, station: &str) -> Vec<Value> {
    let mut all = list(server, &format!("/api/v1/transactions?station_id={station}")).await;
    all.sort_by_key(|t| t["id"].as_i64());
    all
}

fn flags(t: &Value) -> Vec<&str> {
    t["flags"].as_array().expect("flags").iter().filter_map(Value::as_str).collect()
}

async fn status201(cs: &mut Station, evse: i64, connector: i64, status: &str, timestamp: &str) {
    let payload = json!({"timestamp": timestamp, "connectorStatus": status, "evseId": evse, "connectorId": connector});
    cs.call_ok("StatusNotification", payload).await;
}

async fn faulted_status_opens_a_fault_on_both_versions(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let faulted = json!({"connectorId": 1, "status": "Faulted", "errorCode": "HighTemperature", "timestamp": T0});
    cp.call_ok("StatusNotification", faulted).await;
    let open: Vec<Value> = faults(&server, "CP1").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0]["error_code"].as_str(), open[0]["open"].as_bool()), (Some("HighTemperature"), Some(true)));

    let mut cs = server.booted201("CS1").await;
    status201(&mut cs, 1, 1, "Faulted", T0).await;
    status201(&mut cs, 2, 1, "Faulted", T1).await;
    let opened = faults(&server, "CS1").await;
    assert_eq!(opened.len(), 2, "one fault per EVSE: {opened:?}");
    assert!(opened.iter().all(|f| f["error_code"] == "Faulted" && f["severity"] == "Error" && f["open"] == true));
    // EVSE 1 recovers; EVSE 2's connector 1 is another connector and stays faulted.
    status201(&mut cs, 1, 1, "Available", T2).await;
    let after = faults(&server, "CS1").await;
    let state: Vec<(i64, bool, Option<&str>)> = after
        .iter()
        .map(|f| (f["evse_id"].as_i64().unwrap_or(-1), f["open"] == true, f["cleared_at"].as_str()))
        .collect();
    assert!(state.contains(&(1, false, Some(T2))) && state.contains(&(2, true, None)), "{state:?}");
}

async fn stale_fault_report_is_recorded(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.call_ok(
        "StatusNotification",
        json!({"connectorId": 1, "status": "Available", "errorCode": "NoError", "timestamp": T2}),
    )
    .await;
    // A fault from the station's offline queue, older than the status Ström has.
    let stale =
        json!({"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure", "timestamp": T1, "info": "RCD"});
    cp.call_ok("StatusNotification", stale).await;
    let station = server.get("/api/v1/stations/CP1").await;
    assert_eq!(station["connectors"][0]["status"], "Available", "the newer status stays current");
    let recorded = faults(&server, "CP1").await;
    assert_eq!(recorded.len(), 1, "the fault is recorded: {recorded:?}");
    let f = &recorded[0];
    assert_eq!(
        (f["error_code"].as_str(), f["started_at"].as_str(), f["cleared_at"].as_str(), f["info"].as_str()),
        (Some("GroundFailure"), Some(T1), Some(T2), Some("RCD")),
        "open from its report until the newer status"
    );
    // The same late report delivered again (a retry) records nothing more.
    let again =
        json!({"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure", "timestamp": T1, "info": "RCD"});
    cp.call_ok("StatusNotification", again).await;
    assert_eq!(faults(&server, "CP1").await.len(), 1);

    // A stale report of the fault that is open moves its start back; no second fault.
    cp.call_ok(
        "StatusNotification",
        json!({"connectorId": 2, "status": "Faulted", "errorCode": "OverVoltage", "timestamp": T3}),
    )
    .await;
    cp.call_ok(
        "StatusNotification",
        json!({"connectorId": 2, "status": "Faulted", "errorCode": "OverVoltage", "timestamp": T0}),
    )
    .await;
    let on_two: Vec<Value> = faults(&server, "CP1").await.into_iter().filter(|f| f["connector_id"] == 2).collect();
    assert_eq!(on_two.len(), 1, "{on_two:?}");
    assert_eq!((on_two[0]["started_at"].as_str(), on_two[0]["open"].as_bool()), (Some(T0), Some(true)));
}

async fn typed_token_is_not_a_token_of_another_type(backend: Backend) {
    let server = Server::start(backend).await;
    let body = json!({"id_token": "1234", "type": "ISO14443", "status": "Accepted"});
    assert_eq!(server.http("POST", "/api/v1/id-tokens", Some(body)).await.0, 201);
    let body = json!({"id_token": "ANY", "status": "Accepted"});
    assert_eq!(server.http("POST", "/api/v1/id-tokens", Some(body)).await.0, 201);
    let (code, bad) = server
        .http("POST", "/api/v1/id-tokens", Some(json!({"id_token": "X", "type": "Card", "status": "Accepted"})))
        .await;
    assert_eq!(code, 422, "{bad}");
    assert!(bad.to_string().contains("ISO14443"), "the message names the allowed types: {bad}");
    let shown = server.get("/api/v1/id-tokens/1234").await;
    assert_eq!(shown["type"], "ISO14443");
    assert_eq!(server.get("/api/v1/id-tokens/ANY").await["type"], Value::Null);

    let mut cs = server.booted201("CS1").await;
    let authorize = |value: &str, kind: &str| json!({"idToken": {"idToken": value, "type": kind}});
    let status = |r: Value| r["idTokenInfo"]["status"].as_str().unwrap_or_default().to_string();
    assert_eq!(status(cs.call_ok("Authorize", authorize("1234", "ISO14443")).await), "Accepted");
    assert_eq!(status(cs.call_ok("Authorize", authorize("1234", "KeyCode")).await), "Unknown", "a PIN is not the card");
    assert_eq!(status(cs.call_ok("Authorize", authorize("ANY", "KeyCode")).await), "Accepted", "untyped: any type");
    let started = tx_event(
        "Started",
        0,
        "K1",
        "Authorized",
        T0,
        json!({"idToken": {"idToken": "1234", "type": "KeyCode"}, "evse": {"id": 1, "connectorId": 1}}),
    );
    assert_eq!(status(cs.call_ok("TransactionEvent", started).await), "Unknown");
    // 1.6 tags carry no type: the value alone.
    let mut cp = server.booted("CP1").await;
    let r = cp.call_ok("Authorize", json!({"idTag": "1234"})).await;
    assert_eq!(r["idTagInfo"]["status"], "Accepted");
}

async fn authorize_16_answers_concurrent_tx_for_a_tag_charging_elsewhere(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut a = server.booted("CP-A").await;
    let mut b = server.booted("CP-B").await;
    let (_, status) = a.start(1, "TAG", 0, T0).await;
    assert_eq!(status, "Accepted");
    let at_b = b.call_ok("Authorize", json!({"idTag": "TAG"})).await;
    assert_eq!(at_b["idTagInfo"]["status"], "ConcurrentTx", "the tag charges at CP-A");
    // At the station where it charges, the driver may be presenting it to stop.
    let at_a = a.call_ok("Authorize", json!({"idTag": "TAG"})).await;
    assert_eq!(at_a["idTagInfo"]["status"], "Accepted");
}

async fn boot_reason_and_evse_of_notifications_are_kept(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.station201("CS1").await;
    let boot = json!({"reason": "FirmwareUpdate", "chargingStation": {"vendorName": "V", "model": "M"}});
    assert_eq!(cs.call_ok("BootNotification", boot).await["status"], "Accepted");
    assert_eq!(server.get("/api/v1/stations/CS1").await["boot_reason"], "FirmwareUpdate");
    let limit = json!({"evseId": 2, "chargingLimit": {"chargingLimitSource": "EMS"}});
    cs.call_ok("NotifyChargingLimit", limit).await;
    cs.call_ok("ClearedChargingLimit", json!({"evseId": 3, "chargingLimitSource": "EMS"})).await;
    let needs = json!({"evseId": 4, "chargingNeeds": {"requestedEnergyTransfer": "DC"}});
    cs.call_ok("NotifyEVChargingNeeds", needs).await;
    let events = list(&server, "/api/v1/stations/CS1/events").await;
    let placed: Vec<(&str, Option<i64>, Option<i64>)> = events
        .iter()
        .map(|e| (e["kind"].as_str().unwrap_or(""), e["evse_id"].as_i64(), e["request_id"].as_i64()))
        .collect();
    for expected in [
        ("NotifyChargingLimit", Some(2), None),
        ("ClearedChargingLimit", Some(3), None),
        ("NotifyEVChargingNeeds", Some(4), None),
    ] {
        assert!(placed.contains(&expected), "{expected:?} in {placed:?}");
    }
}

async fn superseded_transaction_is_closed_16(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (first, _) = cp.start(1, "TAG", 1000, T0).await;
    let readings = json!({"connectorId": 1, "transactionId": first, "meterValue": [{"timestamp": T1, "sampledValue": [
        {"value": "1800", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]});
    cp.call_ok("MeterValues", readings).await;
    // The station lost the first stop and starts again on the same connector with the same tag.
    let (second, status) = cp.start(1, "TAG", 2000, T2).await;
    assert_eq!(status, "Accepted", "the superseded transaction does not block its own tag");
    assert_ne!(first, second);
    let all = transactions(&server, "CP1").await;
    let active: Vec<i64> = all.iter().filter(|t| t["active"] == true).filter_map(|t| t["id"].as_i64()).collect();
    assert_eq!(active, [second], "one active transaction per connector");
    let old = all.iter().find(|t| t["id"] == first).expect("first");
    assert_eq!(flags(old), ["superseded"]);
    assert_eq!(
        (
            old["stopped_at"].as_str(),
            old["meter_stop_wh"].as_f64(),
            old["energy_wh"].as_f64(),
            old["stop_reason"].as_str()
        ),
        (Some(T1), Some(1800.0), Some(800.0), Some("Superseded")),
        "stopped at its last register reading"
    );
    // Its real stop, delivered late, replaces the estimate; the flag stays. Retried, it changes
    // nothing more (its readings are not stored twice).
    let data = json!([{"timestamp": T1, "sampledValue": [{"value": "1900", "measurand": "Energy.Active.Import.Register", "context": "Transaction.End"}]}]);
    let stop = json!({"transactionId": first, "meterStop": 1900, "timestamp": T1, "reason": "PowerLoss", "transactionData": data});
    for _ in 0..3 {
        cp.call_ok("StopTransaction", stop.clone()).await;
    }
    let old = transactions(&server, "CP1").await.into_iter().find(|t| t["id"] == first).expect("first");
    assert_eq!((old["energy_wh"].as_f64(), old["stop_reason"].as_str()), (Some(900.0), Some("PowerLoss")));
    assert_eq!(flags(&old), ["superseded"]);
    let readings = list(&server, &format!("/api/v1/transactions/{first}/meter-values")).await;
    assert_eq!(readings.len(), 2, "the periodic reading and the stop's, once: {readings:?}");
    // Many starts on one connector leave one active transaction.
    for n in 0..5 {
        cp.start(2, "OTHER", n * 10, &format!("2026-11-26T11:0{n}:00.000Z")).await;
    }
    let on_two: Vec<Value> = transactions(&server, "CP1")
        .await
        .into_iter()
        .filter(|t| t["connector_id"] == 2 && t["active"] == true)
        .collect();
    assert_eq!(on_two.len(), 1, "{on_two:?}");
}

async fn superseded_transaction_is_closed_201(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    let evse = json!({"id": 1, "connectorId": 1});
    let first = tx_event(
        "Started",
        0,
        "A",
        "Authorized",
        T0,
        json!({"idToken": card("TAG"), "evse": evse, "meterValue": register(500.0, "Transaction.Begin", T0)}),
    );
    assert_eq!(cs.call_ok("TransactionEvent", first).await["idTokenInfo"]["status"], "Accepted");
    let update = tx_event(
        "Updated",
        1,
        "A",
        "MeterValuePeriodic",
        T1,
        json!({"meterValue": register(700.0, "Sample.Periodic", T1)}),
    );
    cs.call_ok("TransactionEvent", update).await;
    // The Ended of A never came; B starts on the same EVSE with the same token.
    let second = tx_event("Started", 0, "B", "Authorized", T2, json!({"idToken": card("TAG"), "evse": evse}));
    let answer = cs.call_ok("TransactionEvent", second).await;
    assert_eq!(answer["idTokenInfo"]["status"], "Accepted", "not ConcurrentTx: A is superseded");
    let all = transactions(&server, "CS1").await;
    let a = all.iter().find(|t| t["station_transaction_id"] == "A").expect("A");
    let b = all.iter().find(|t| t["station_transaction_id"] == "B").expect("B");
    assert_eq!((a["active"].as_bool(), b["active"].as_bool()), (Some(false), Some(true)));
    assert_eq!(flags(a), ["superseded"]);
    assert_eq!((a["energy_wh"].as_f64(), a["stopped_at"].as_str()), (Some(200.0), Some(T1)));
    // Another EVSE is untouched.
    let other = tx_event("Started", 0, "C", "CablePluggedIn", T3, json!({"evse": {"id": 2, "connectorId": 1}}));
    cs.call_ok("TransactionEvent", other).await;
    let b = transactions(&server, "CS1").await.into_iter().find(|t| t["station_transaction_id"] == "B").expect("B");
    assert_eq!(b["active"], true);
}

async fn concurrent_tx_only_answers_a_started_event(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut one = server.booted201("CS1").await;
    let mut two = server.booted201("CS2").await;
    let started =
        |tx: &str| tx_event("Started", 0, tx, "Authorized", T0, json!({"idToken": card("TAG"), "evse": {"id": 1}}));
    assert_eq!(one.call_ok("TransactionEvent", started("X")).await["idTokenInfo"]["status"], "Accepted");
    // The same token starting at another station while X charges: ConcurrentTx, on the Started.
    assert_eq!(two.call_ok("TransactionEvent", started("Y")).await["idTokenInfo"]["status"], "ConcurrentTx");
    // Never on an Updated or Ended, even while X is still active (OCPP 2.0.1 E05).
    let updated = tx_event("Updated", 1, "Y", "StopAuthorized", T1, json!({"idToken": card("TAG")}));
    assert_eq!(two.call_ok("TransactionEvent", updated).await["idTokenInfo"]["status"], "Accepted");
    let ended = tx_event(
        "Ended",
        2,
        "Y",
        "StopAuthorized",
        T2,
        json!({"idToken": card("TAG"), "transactionInfo": {"transactionId": "Y", "stoppedReason": "DeAuthorized"}}),
    );
    assert_eq!(two.call_ok("TransactionEvent", ended).await["idTokenInfo"]["status"], "Accepted");
}

async fn negative_meter_register_is_flagged(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (id, _) = cp.start(1, "TAG", -2147483648, T0).await;
    cp.call_ok("StopTransaction", json!({"transactionId": id, "meterStop": 2147483647, "timestamp": T1})).await;
    let t = transactions(&server, "CP1").await.into_iter().find(|t| t["id"] == id).expect("transaction");
    assert_eq!(t["energy_wh"], Value::Null, "no energy from a negative register: {t}");
    assert!(flags(&t).contains(&"negative_meter_value"), "{t}");
}

async fn protocol_version_changes_only_through_a_boot(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (id, _) = cp.start(1, "TAG", 100, T0).await;
    cp.close().await;
    // Someone connects under CP1's identity speaking 2.0.1: nothing but a boot is served.
    let mut impostor = server.station201("CP1").await;
    let ended = tx_event(
        "Ended",
        0,
        &id.to_string(),
        "StopAuthorized",
        T1,
        json!({"transactionInfo": {"transactionId": id.to_string(), "stoppedReason": "Local"}}),
    );
    assert_eq!(impostor.call_err("TransactionEvent", ended.clone()).await, "SecurityError");
    assert_eq!(impostor.call_err("Heartbeat", json!({})).await, "SecurityError");
    let t = transactions(&server, "CP1").await.into_iter().find(|t| t["id"] == id).expect("the 1.6 transaction");
    assert_eq!(t["active"], true, "untouched: {t}");
    // After a 2.0.1 boot the station is a 2.0.1 station; its transaction ids are its own and
    // never name the 1.6 transaction with the same number.
    let boot = json!({"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}});
    assert_eq!(impostor.call_ok("BootNotification", boot).await["status"], "Accepted");
    impostor.call_ok("TransactionEvent", ended).await;
    let all = transactions(&server, "CP1").await;
    let old = all.iter().find(|t| t["id"] == id).expect("the 1.6 transaction");
    assert_eq!((old["active"].as_bool(), old["stopped_at"].as_str()), (Some(true), None), "{old}");
    assert_eq!(all.len(), 2, "the 2.0.1 event made a transaction of its own: {all:?}");
    assert_eq!(server.get("/api/v1/stations/CP1").await["ocpp_version"], "2.0.1");
    impostor.close().await;
    // Back on 1.6 without a boot: refused again.
    let mut back = server.station("CP1").await;
    assert_eq!(back.call_err("Heartbeat", json!({})).await, "SecurityError");
}

async fn repeated_seq_no_is_applied_and_flagged(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let evse = json!({"id": 1, "connectorId": 1});
    let started = tx_event(
        "Started",
        0,
        "S1",
        "CablePluggedIn",
        T0,
        json!({"evse": evse, "meterValue": register(100.0, "Transaction.Begin", T0)}),
    );
    cs.call_ok("TransactionEvent", started.clone()).await;
    // The very same event again is a retry, not a repeat.
    cs.call_ok("TransactionEvent", started).await;
    let updated = tx_event(
        "Updated",
        0,
        "S1",
        "ChargingStateChanged",
        T1,
        json!({"transactionInfo": {"transactionId": "S1", "chargingState": "Charging"}}),
    );
    cs.call_ok("TransactionEvent", updated).await;
    let ended = tx_event(
        "Ended",
        0,
        "S1",
        "EVCommunicationLost",
        T2,
        json!({"transactionInfo": {"transactionId": "S1", "stoppedReason": "EVDisconnected"}, "meterValue": register(900.0, "Transaction.End", T2)}),
    );
    cs.call_ok("TransactionEvent", ended).await;
    let all = transactions(&server, "CS1").await;
    assert_eq!(all.len(), 1, "{all:?}");
    let t = &all[0];
    assert_eq!(
        (t["active"].as_bool(), t["stopped_at"].as_str(), t["energy_wh"].as_f64(), t["stop_reason"].as_str()),
        (Some(false), Some(T2), Some(800.0), Some("EVDisconnected")),
        "the Ended with a repeated seqNo closed the session: {t}"
    );
    assert_eq!(t["charging_state"], "Charging");
    assert_eq!(flags(t), ["seq_no_repeated"]);
}

async fn reused_transaction_id_is_a_new_transaction(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let evse = json!({"id": 1, "connectorId": 1});
    let session = |start: &str, end: &str, begin: f64, finish: f64| {
        [
            tx_event(
                "Started",
                0,
                "tx-1",
                "CablePluggedIn",
                start,
                json!({"evse": evse, "meterValue": register(begin, "Transaction.Begin", start)}),
            ),
            tx_event(
                "Ended",
                1,
                "tx-1",
                "EVCommunicationLost",
                end,
                json!({"transactionInfo": {"transactionId": "tx-1", "stoppedReason": "EVDisconnected"}, "meterValue": register(finish, "Transaction.End", end)}),
            ),
        ]
    };
    for event in session(T0, T1, 1000.0, 1500.0) {
        cs.call_ok("TransactionEvent", event).await;
    }
    // The station restarts and counts its ids from 1 again.
    for event in session(T3, T4, 2000.0, 2600.0) {
        cs.call_ok("TransactionEvent", event).await;
    }
    let all = transactions(&server, "CS1").await;
    assert_eq!(all.len(), 2, "the second session is kept: {all:?}");
    assert_eq!((all[0]["energy_wh"].as_f64(), flags(&all[0])), (Some(500.0), vec![]));
    assert_eq!((all[1]["energy_wh"].as_f64(), all[1]["started_at"].as_str()), (Some(600.0), Some(T3)));
    assert_eq!(flags(&all[1]), ["transaction_id_reused"]);
    assert!(all.iter().all(|t| t["station_transaction_id"] == "tx-1" && t["active"] == false));
}

async fn boot_answer_keeps_the_configured_heartbeat_interval(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let path = "/api/v1/stations/CP1/commands/ChangeConfiguration";
    let change = json!({"key": "HeartbeatInterval", "value": "60"});
    let (_, _, (code, _)) = server.answered(&mut cp, "POST", path, change, json!({"status": "Accepted"})).await;
    assert_eq!(code, 200);
    let boot = json!({"chargePointVendor": "Test", "chargePointModel": "T1"});
    assert_eq!(cp.call_ok("BootNotification", boot).await["interval"], 60);

    let mut cs = server.booted201("CS1").await;
    let ctrlr = json!({"name": "OCPPCommCtrlr"});
    let set = json!({"setVariableData": [{"component": ctrlr, "variable": {"name": "HeartbeatInterval"}, "attributeValue": "45"}]});
    let accepted = json!({"setVariableResult": [{"attributeStatus": "Accepted", "component": ctrlr, "variable": {"name": "HeartbeatInterval"}}]});
    server.answered(&mut cs, "POST", "/api/v1/stations/CS1/commands/SetVariables", set, accepted).await;
    let boot = json!({"reason": "PowerUp", "chargingStation": {"vendorName": "Test", "model": "T1"}});
    assert_eq!(cs.call_ok("BootNotification", boot).await["interval"], 45);
    // A station never configured gets Ström's default.
    let mut fresh = server.station("CP2").await;
    let boot = json!({"chargePointVendor": "Test", "chargePointModel": "T1"});
    assert_eq!(fresh.call_ok("BootNotification", boot).await["interval"], 300);
}

async fn late_events_after_an_ended_belong_to_its_transaction(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    // CONFORMANCE X-03 the other way round: the Started was queued and comes last.
    let updated = tx_event(
        "Updated",
        1,
        "A",
        "MeterValuePeriodic",
        T1,
        json!({"evse": {"id": 1, "connectorId": 1}, "meterValue": register(600.0, "Sample.Periodic", T1)}),
    );
    cs.call_ok("TransactionEvent", updated).await;
    let ended = tx_event(
        "Ended",
        2,
        "A",
        "EVCommunicationLost",
        T2,
        json!({"transactionInfo": {"transactionId": "A", "stoppedReason": "EVDisconnected"}, "meterValue": register(900.0, "Transaction.End", T2)}),
    );
    cs.call_ok("TransactionEvent", ended.clone()).await;
    let started = tx_event(
        "Started",
        0,
        "A",
        "Authorized",
        T0,
        json!({"idToken": card("TAG"), "evse": {"id": 1, "connectorId": 1}, "meterValue": register(100.0, "Transaction.Begin", T0)}),
    );
    assert_eq!(cs.call_ok("TransactionEvent", started).await["idTokenInfo"]["status"], "Accepted");
    // Firmware that stamps a retried Ended anew.
    let restamped = tx_event(
        "Ended",
        2,
        "A",
        "EVCommunicationLost",
        T3,
        json!({"transactionInfo": {"transactionId": "A", "stoppedReason": "EVDisconnected"}}),
    );
    cs.call_ok("TransactionEvent", restamped).await;
    let all = transactions(&server, "CS1").await;
    assert_eq!(all.len(), 1, "one transaction: {all:?}");
    let t = &all[0];
    assert_eq!(
        (t["active"].as_bool(), t["energy_wh"].as_f64(), t["started_at"].as_str()),
        (Some(false), Some(800.0), Some(T0))
    );
    assert!(!flags(t).contains(&"transaction_id_reused"), "{t}");
    // Nothing left open holds the token: it may start at another station.
    let mut other = server.booted201("CS2").await;
    let elsewhere = tx_event("Started", 0, "B", "Authorized", T4, json!({"idToken": card("TAG"), "evse": {"id": 1}}));
    assert_eq!(other.call_ok("TransactionEvent", elsewhere).await["idTokenInfo"]["status"], "Accepted");
}

async fn real_end_replaces_the_estimate_of_a_superseded_transaction_201(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let evse = json!({"id": 1, "connectorId": 1});
    // Firmware that sends every event with seqNo 0.
    let started = tx_event(
        "Started",
        0,
        "A",
        "CablePluggedIn",
        T0,
        json!({"evse": evse, "meterValue": register(500.0, "Transaction.Begin", T0)}),
    );
    cs.call_ok("TransactionEvent", started).await;
    let update = tx_event(
        "Updated",
        0,
        "A",
        "MeterValuePeriodic",
        T1,
        json!({"meterValue": register(700.0, "Sample.Periodic", T1)}),
    );
    cs.call_ok("TransactionEvent", update).await;
    let newer = tx_event("Started", 0, "B", "CablePluggedIn", T3, json!({"evse": evse}));
    cs.call_ok("TransactionEvent", newer).await;
    let a = transactions(&server, "CS1").await.into_iter().find(|t| t["station_transaction_id"] == "A").expect("A");
    assert_eq!((a["energy_wh"].as_f64(), a["stop_reason"].as_str()), (Some(200.0), Some("Superseded")));
    // A's own Ended comes late (after the estimated end): it replaces the estimate.
    let ended = tx_event(
        "Ended",
        0,
        "A",
        "EVCommunicationLost",
        T2,
        json!({"transactionInfo": {"transactionId": "A", "stoppedReason": "EVDisconnected"}, "meterValue": register(800.0, "Transaction.End", T2)}),
    );
    cs.call_ok("TransactionEvent", ended).await;
    let all = transactions(&server, "CS1").await;
    assert_eq!(all.len(), 2, "A and B, no third row: {all:?}");
    let a = all.iter().find(|t| t["station_transaction_id"] == "A").expect("A");
    assert_eq!(
        (a["energy_wh"].as_f64(), a["stop_reason"].as_str(), a["stopped_at"].as_str()),
        (Some(300.0), Some("EVDisconnected"), Some(T2))
    );
    assert_eq!(flags(a), ["seq_no_repeated", "superseded"]);
}
