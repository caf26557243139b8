//! OCPP 2.0.1 conformance scenarios that need no CSMS-initiated command (CONFORMANCE Part 2,
//! blocks B, C, E, G, J, N, P, and Part 3 X-01..X-06), run against a real `strom serve`; plus
//! a mixed fleet of 1.6 and 2.0.1 stations in one domain.

mod common;

use common::{energy_reading, id_token, tx_event, Backend, Reply, Server, Station};
use serde_json::{json, Value};

both_backends!(
    tc_b_01_cold_boot,
    tc_b_12_notify_report_parts_are_assembled_once,
    tc_b_30_pending_station_may_only_boot_and_report,
    tc_b_58_subprotocol_validation,
    tc_c_02_06_07_authorize_unknown_blocked_expired,
    tc_c_08_20_authorized_event_gets_id_token_info,
    tc_c_39_group_tokens,
    tc_c_47_master_pass_stops_transactions,
    tc_e_03_plug_in_first_then_authorized,
    tc_e_09_start_without_token,
    tc_e_11_signed_meter_values_kept_verbatim,
    tc_e_15_local_stop_with_stop_token,
    tc_e_53_second_transaction_restarts_at_seq_no_0,
    x_01_duplicate_event_is_applied_once,
    x_02_seq_no_gap_is_flagged,
    x_03_updated_for_unknown_transaction_creates_it,
    x_04_offline_events_keep_their_timestamps,
    tc_g_20_notify_event_opens_and_clears_a_fault,
    tc_j_01_meter_values_outside_transactions,
    tc_j_07_10_energy_from_begin_and_end_readings,
    tc_n_21_47_alert_uses_the_monitor_severity,
    tc_n_24_48_50_periodic_and_empty_events_are_recorded,
    tc_p_02_data_transfer_unknown_vendor,
    tc_p_03_custom_data_is_accepted_everywhere,
    every_station_action_is_answered,
    mixed_fleet_one_domain,
    rpc_errors_use_the_2_0_1_codes,
);

const T0: &str = "2026-11-26T10:00:00.000Z";

async fn tc_b_01_cold_boot(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.station201("CS1").await;
    let boot = cs
        .call_ok(
            "BootNotification",
            json!({"reason": "PowerUp", "chargingStation": {"vendorName": "ABB", "model": "Terra", "serialNumber": "SN9",
                   "firmwareVersion": "1.8", "modem": {"iccid": "8931", "imsi": "2620"}}}),
        )
        .await;
    assert_eq!((boot["status"].as_str(), boot["interval"].as_i64()), (Some("Accepted"), Some(300)));
    cs.call_ok(
        "StatusNotification",
        json!({"timestamp": T0, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}),
    )
    .await;
    cs.call_ok(
        "StatusNotification",
        json!({"timestamp": T0, "connectorStatus": "Occupied", "evseId": 2, "connectorId": 1}),
    )
    .await;
    cs.call_ok("Heartbeat", json!({})).await;
    let station = server.get("/api/v1/stations/CS1").await;
    assert_eq!(station["ocpp_version"], "2.0.1");
    assert_eq!((station["vendor"].as_str(), station["model"].as_str()), (Some("ABB"), Some("Terra")));
    assert_eq!((station["serial_number"].as_str(), station["iccid"].as_str()), (Some("SN9"), Some("8931")));
    let connectors = station["connectors"].as_array().expect("connectors");
    assert_eq!(connectors.len(), 2);
    assert_eq!((connectors[0]["evse_id"].as_i64(), connectors[0]["connector_id"].as_i64()), (Some(1), Some(1)));
    assert_eq!(connectors[1]["status"], "Occupied");
    assert_eq!(connectors[1]["error_code"], Value::Null, "2.0.1 reports errors through NotifyEvent");
}

fn report_part(request_id: i64, seq_no: i64, tbc: bool, variables: &[(&str, &str, &str)]) -> Value {
    let data: Vec<Value> = variables
        .iter()
        .map(|(component, variable, value)| {
            json!({
                "component": {"name": component},
                "variable": {"name": variable},
                "variableAttribute": [{"type": "Actual", "value": value, "mutability": "ReadWrite"}],
                "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": false, "unit": "s"}
            })
        })
        .collect();
    json!({"requestId": request_id, "generatedAt": T0, "seqNo": seq_no, "tbc": tbc, "reportData": data})
}

async fn tc_b_12_notify_report_parts_are_assembled_once(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    cs.call_ok("NotifyReport", report_part(7, 0, true, &[("OCPPCommCtrlr", "HeartbeatInterval", "300")])).await;
    cs.call_ok("NotifyReport", report_part(7, 1, true, &[("OCPPCommCtrlr", "OfflineThreshold", "60")])).await;
    assert_eq!(server.get("/api/v1/stations/CS1/variables").await, json!([]), "nothing before the last part");
    cs.call_ok("NotifyReport", report_part(7, 2, false, &[("OCPPCommCtrlr", "HeartbeatInterval", "900")])).await;
    let variables = server.get("/api/v1/stations/CS1/variables").await;
    let variables = variables.as_array().expect("array");
    assert_eq!(variables.len(), 2);
    let hb = variables.iter().find(|v| v["variable"] == "HeartbeatInterval").expect("heartbeat");
    assert_eq!(hb["value"], "900", "the latest part wins");
    assert_eq!((hb["component"].as_str(), hb["attribute_type"].as_str()), (Some("OCPPCommCtrlr"), Some("Actual")));
    assert_eq!(
        (hb["mutability"].as_str(), hb["data_type"].as_str(), hb["unit"].as_str()),
        (Some("ReadWrite"), Some("integer"), Some("s"))
    );
    assert_eq!((hb["evse_id"].clone(), hb["component_instance"].clone()), (Value::Null, Value::Null));
    // A later report updates the model in place.
    cs.call_ok("NotifyReport", report_part(8, 0, false, &[("OCPPCommCtrlr", "OfflineThreshold", "120")])).await;
    let variables = server.get("/api/v1/stations/CS1/variables").await;
    let offline = variables.as_array().expect("array").iter().find(|v| v["variable"] == "OfflineThreshold").cloned();
    assert_eq!(offline.expect("offline threshold")["value"], "120");
}

async fn tc_b_30_pending_station_may_only_boot_and_report(backend: Backend) {
    let server = Server::start_with(backend, &["--unknown-stations", "pending"]).await;
    let mut cs = server.station201("NEW").await;
    let boot = cs.call_ok("BootNotification", common::boot_payload("ocpp2.0.1", "V", "M")).await;
    assert_eq!((boot["status"].as_str(), boot["interval"].as_i64()), (Some("Pending"), Some(60)));
    let status = json!({"timestamp": T0, "connectorStatus": "Available", "evseId": 1, "connectorId": 1});
    assert_eq!(cs.call_err("StatusNotification", status).await, "SecurityError");
    cs.call_ok("NotifyReport", report_part(1, 0, false, &[("SecurityCtrlr", "SecurityProfile", "1")])).await;
    assert_eq!(server.get("/api/v1/stations/NEW/variables").await.as_array().map(Vec::len), Some(1));
}

async fn tc_b_58_subprotocol_validation(backend: Backend) {
    let server = Server::start(backend).await;
    assert!(Station::connect(&server, "CS1", "ocpp0.1").await.is_err());
    let station = Station::connect(&server, "CS1", "ocpp0.1,ocpp2.0.1").await.expect("connects");
    assert_eq!(station.protocol, "ocpp2.0.1");
}

async fn tc_c_02_06_07_authorize_unknown_blocked_expired(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("BAD", "Blocked", None, None).await;
    server.add_token("OLD", "Accepted", Some("2020-01-01T00:00:00Z"), None).await;
    server.add_token("BROKE", "NoCredit", None, None).await;
    server.add_token("GOOD", "Accepted", Some("2099-01-01T00:00:00Z"), None).await;
    let mut cs = server.booted201("CS1").await;
    for (token, expected) in
        [("NOBODY", "Unknown"), ("BAD", "Blocked"), ("OLD", "Expired"), ("BROKE", "NoCredit"), ("GOOD", "Accepted")]
    {
        let r = cs.call_ok("Authorize", json!({"idToken": id_token(token)})).await;
        assert_eq!(r["idTokenInfo"]["status"], expected, "{token}");
    }
    let good = cs.call_ok("Authorize", json!({"idToken": id_token("GOOD")})).await;
    assert_eq!(good["idTokenInfo"]["cacheExpiryDateTime"], "2099-01-01T00:00:00.000Z");
}

async fn tc_c_08_20_authorized_event_gets_id_token_info(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("CACHED", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    let started = cs.call_ok("TransactionEvent", tx_event("Started", 0, "T-1", "CablePluggedIn", T0, json!({}))).await;
    assert!(started.get("idTokenInfo").is_none(), "no token, no idTokenInfo");
    let r = cs
        .call_ok(
            "TransactionEvent",
            tx_event("Updated", 1, "T-1", "Authorized", T0, json!({"idToken": id_token("CACHED")})),
        )
        .await;
    assert_eq!(r["idTokenInfo"]["status"], "Accepted");
    let r = cs
        .call_ok(
            "TransactionEvent",
            tx_event("Started", 0, "T-2", "Authorized", T0, json!({"idToken": id_token("STALE")})),
        )
        .await;
    assert_eq!(r["idTokenInfo"]["status"], "Unknown", "a token the station cached but Ström does not know");
}

async fn tc_c_39_group_tokens(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("ALICE", "Accepted", None, Some("FAMILY")).await;
    server.add_token("BOB", "Accepted", None, Some("FAMILY")).await;
    let mut cs = server.booted201("CS1").await;
    let auth = cs.call_ok("Authorize", json!({"idToken": id_token("ALICE")})).await;
    assert_eq!(auth["idTokenInfo"]["groupIdToken"], json!({"idToken": "FAMILY", "type": "Central"}));
    cs.call_ok(
        "TransactionEvent",
        tx_event("Started", 0, "T-1", "Authorized", T0, json!({"idToken": id_token("ALICE")})),
    )
    .await;
    let stop = cs
        .call_ok(
            "TransactionEvent",
            tx_event(
                "Ended",
                1,
                "T-1",
                "StopAuthorized",
                "2026-11-26T11:00:00Z",
                json!({"idToken": id_token("BOB"), "transactionInfo": {"stoppedReason": "Local"}}),
            ),
        )
        .await;
    assert_eq!(
        (stop["idTokenInfo"]["status"].as_str(), stop["idTokenInfo"]["groupIdToken"]["idToken"].as_str()),
        (Some("Accepted"), Some("FAMILY"))
    );
    let t = &server.items("/api/v1/transactions?station_id=CS1").await[0];
    assert_eq!((t["id_token"].as_str(), t["stop_id_token"].as_str()), (Some("ALICE"), Some("BOB")));
}

/// A master-pass token is a token of the station's `AuthCtrlr.MasterPassGroupId` group: Ström
/// tells the station the group, and the station may then stop any transaction with it.
async fn tc_c_47_master_pass_stops_transactions(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("DRIVER", "Accepted", None, None).await;
    server.add_token("SERVICE", "Accepted", None, Some("MASTERPASS")).await;
    let mut cs = server.booted201("CS1").await;
    for (tx, evse) in [("M1", 1), ("M2", 2)] {
        let started = json!({"idToken": id_token("DRIVER"), "evse": {"id": evse, "connectorId": 1}});
        cs.call_ok("TransactionEvent", tx_event("Started", 0, tx, "Authorized", T0, started)).await;
    }
    let auth = cs.call_ok("Authorize", json!({"idToken": id_token("SERVICE")})).await;
    assert_eq!(auth["idTokenInfo"]["groupIdToken"]["idToken"], "MASTERPASS");
    for tx in ["M1", "M2"] {
        let ended = json!({"idToken": id_token("SERVICE"), "transactionInfo": {"stoppedReason": "MasterPass"}});
        let r = cs
            .call_ok("TransactionEvent", tx_event("Ended", 1, tx, "StopAuthorized", "2026-11-26T10:05:00Z", ended))
            .await;
        assert_eq!(r["idTokenInfo"]["groupIdToken"]["idToken"], "MASTERPASS");
    }
    let all = server.items("/api/v1/transactions?station_id=CS1").await;
    for t in all.as_array().expect("array") {
        assert_eq!(
            (t["stop_reason"].as_str(), t["stop_id_token"].as_str(), t["active"].as_bool()),
            (Some("MasterPass"), Some("SERVICE"), Some(false))
        );
    }
}

async fn tc_e_03_plug_in_first_then_authorized(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    cs.call_ok(
        "StatusNotification",
        json!({"timestamp": T0, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}),
    )
    .await;
    cs.call_ok(
        "TransactionEvent",
        tx_event(
            "Started",
            0,
            "E3",
            "CablePluggedIn",
            T0,
            json!({"evse": {"id": 1, "connectorId": 1}, "transactionInfo": {"chargingState": "EVConnected"}}),
        ),
    )
    .await;
    let r = cs
        .call_ok(
            "TransactionEvent",
            tx_event("Updated", 1, "E3", "Authorized", "2026-11-26T10:01:00Z", json!({"idToken": id_token("TAG")})),
        )
        .await;
    assert_eq!(r["idTokenInfo"]["status"], "Accepted");
    cs.call_ok(
        "TransactionEvent",
        tx_event(
            "Updated",
            2,
            "E3",
            "ChargingStateChanged",
            "2026-11-26T10:02:00Z",
            json!({"transactionInfo": {"chargingState": "Charging"}}),
        ),
    )
    .await;
    let t = &server.items("/api/v1/transactions?station_id=CS1&active=true").await[0];
    assert_eq!((t["station_transaction_id"].as_str(), t["id_token"].as_str()), (Some("E3"), Some("TAG")));
    assert_eq!((t["evse_id"].as_i64(), t["connector_id"].as_i64()), (Some(1), Some(1)));
    assert_eq!((t["charging_state"].as_str(), t["start_auth_status"].as_str()), (Some("Charging"), Some("Accepted")));
    assert_eq!((t["id_token_type"].as_str(), t["started_at"].as_str()), (Some("ISO14443"), Some(T0)));
    assert_eq!(t["flags"], json!([]));
}

async fn tc_e_09_start_without_token(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let r =
        cs.call("TransactionEvent", tx_event("Started", 0, "E9", "EVDetected", T0, json!({"evse": {"id": 1}}))).await;
    assert!(matches!(r, Reply::Result(_)));
    assert_eq!(server.items("/api/v1/transactions?active=true").await.as_array().map(Vec::len), Some(1));
}

async fn tc_e_11_signed_meter_values_kept_verbatim(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let signed = json!({"signedMeterData": "QUJDREVG", "signingMethod": "ECDSA-secp256r1-SHA256", "encodingMethod": "OCMF", "publicKey": "MFkw"});
    let mv = json!([{"timestamp": T0, "sampledValue": [{"value": 1234.5, "context": "Transaction.Begin", "signedMeterValue": signed}]}]);
    cs.call_ok("TransactionEvent", tx_event("Started", 0, "E11", "SignedDataReceived", T0, json!({"meterValue": mv})))
        .await;
    let id = server.items("/api/v1/transactions?station_id=CS1").await[0]["id"].as_i64().expect("id");
    let readings = server.items(&format!("/api/v1/transactions/{id}/meter-values")).await;
    assert_eq!(readings[0]["signed_data"], signed);
    assert_eq!((readings[0]["value"].as_f64(), readings[0]["raw_value"].as_str()), (Some(1234.5), Some("1234.5")));
}

async fn tc_e_15_local_stop_with_stop_token(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    let started = cs
        .call_ok(
            "TransactionEvent",
            tx_event(
                "Started",
                0,
                "E15",
                "Authorized",
                T0,
                json!({"idToken": id_token("TAG"), "evse": {"id": 1, "connectorId": 1}}),
            ),
        )
        .await;
    assert_eq!(started["idTokenInfo"]["status"], "Accepted");
    let ended = cs
        .call_ok(
            "TransactionEvent",
            tx_event("Ended", 1, "E15", "StopAuthorized", "2026-11-26T10:45:00Z", json!({"idToken": id_token("TAG"), "transactionInfo": {"stoppedReason": "Local", "timeSpentCharging": 2700}})),
        )
        .await;
    assert_eq!(ended["idTokenInfo"]["status"], "Accepted");
    let t = &server.items("/api/v1/transactions?station_id=CS1").await[0];
    assert_eq!((t["active"].as_bool(), t["stop_reason"].as_str()), (Some(false), Some("Local")));
    assert_eq!(
        (t["stopped_at"].as_str(), t["time_spent_charging_s"].as_i64()),
        (Some("2026-11-26T10:45:00.000Z"), Some(2700))
    );
    assert_eq!(t["flags"], json!(["no_energy_register"]), "no readings: no energy, and the record says why");
}

async fn tc_e_53_second_transaction_restarts_at_seq_no_0(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    for tx in ["A", "B"] {
        cs.call_ok("TransactionEvent", tx_event("Started", 0, tx, "EVDetected", T0, json!({}))).await;
        let ended = json!({"transactionInfo": {"stoppedReason": "EVDisconnected"}});
        cs.call_ok("TransactionEvent", tx_event("Ended", 1, tx, "EVCommunicationLost", T0, ended)).await;
    }
    let all = server.items("/api/v1/transactions?station_id=CS1").await;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    assert!(all.as_array().expect("array").iter().all(|t| !t["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .any(|f| f.as_str().is_some_and(|f| f.starts_with("seq")))));
}

async fn x_01_duplicate_event_is_applied_once(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let started = tx_event(
        "Started",
        0,
        "X1",
        "EVDetected",
        T0,
        json!({"meterValue": energy_reading(100.0, "Transaction.Begin", T0)}),
    );
    cs.call_ok("TransactionEvent", started.clone()).await;
    cs.call_ok("TransactionEvent", started).await;
    let id = server.items("/api/v1/transactions?station_id=CS1").await[0]["id"].as_i64().expect("id");
    assert_eq!(
        server.items(&format!("/api/v1/transactions/{id}/meter-values")).await.as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(server.items("/api/v1/transactions").await.as_array().map(Vec::len), Some(1));
}

async fn x_02_seq_no_gap_is_flagged(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    for (seq, kind) in [(0, "Started"), (1, "Updated"), (3, "Updated")] {
        cs.call_ok("TransactionEvent", tx_event(kind, seq, "X2", "MeterValuePeriodic", T0, json!({}))).await;
    }
    let t = &server.items("/api/v1/transactions?station_id=CS1").await[0];
    assert_eq!(t["flags"], json!(["seq_no_gap"]));
}

async fn x_03_updated_for_unknown_transaction_creates_it(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    let r = cs
        .call_ok(
            "TransactionEvent",
            tx_event("Updated", 5, "X3", "MeterValuePeriodic", T0, json!({"idToken": id_token("TAG")})),
        )
        .await;
    assert_eq!(r["idTokenInfo"]["status"], "Accepted", "X-05: idTokenInfo whenever the request had an idToken");
    let ended = json!({"transactionInfo": {"stoppedReason": "Remote"}, "meterValue": energy_reading(900.0, "Transaction.End", T0)});
    cs.call_ok("TransactionEvent", tx_event("Ended", 6, "X3", "RemoteStop", T0, ended)).await;
    let t = &server.items("/api/v1/transactions?station_id=CS1").await[0];
    assert_eq!((t["station_transaction_id"].as_str(), t["stop_reason"].as_str()), (Some("X3"), Some("Remote")));
    assert_eq!(t["flags"], json!(["started_event_missing"]));
}

async fn x_04_offline_events_keep_their_timestamps(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let begin =
        json!({"offline": true, "meterValue": energy_reading(5000.0, "Transaction.Begin", "2026-11-25T08:00:00Z")});
    cs.call_ok("TransactionEvent", tx_event("Started", 0, "X4", "EVDetected", "2026-11-25T08:00:00Z", begin)).await;
    let end = json!({"offline": true, "transactionInfo": {"stoppedReason": "EVDisconnected"},
                     "meterValue": energy_reading(12_250.0, "Transaction.End", "2026-11-25T09:30:00Z")});
    cs.call_ok("TransactionEvent", tx_event("Ended", 1, "X4", "EVDeparted", "2026-11-25T09:30:00Z", end)).await;
    let t = &server.items("/api/v1/transactions?station_id=CS1").await[0];
    assert_eq!(
        (t["started_at"].as_str(), t["stopped_at"].as_str()),
        (Some("2026-11-25T08:00:00.000Z"), Some("2026-11-25T09:30:00.000Z"))
    );
    assert_eq!(t["energy_wh"], 7250.0);
}

fn notify_event(event_id: i64, component: Value, variable: &str, value: &str, trigger: &str, extra: Value) -> Value {
    let mut event = json!({
        "eventId": event_id, "timestamp": T0, "trigger": trigger, "actualValue": value,
        "component": component, "variable": {"name": variable}, "eventNotificationType": "HardWiredNotification"
    });
    if let (Some(obj), Value::Object(more)) = (event.as_object_mut(), extra) {
        obj.extend(more);
    }
    json!({"generatedAt": T0, "seqNo": 0, "eventData": [event]})
}

async fn tc_g_20_notify_event_opens_and_clears_a_fault(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let lock = json!({"name": "ConnectorPlugRetentionLock", "evse": {"id": 1, "connectorId": 1}});
    cs.call_ok(
        "NotifyEvent",
        notify_event(
            1,
            lock.clone(),
            "Problem",
            "true",
            "Delta",
            json!({"techCode": "LCK-7", "techInfo": "motor stall"}),
        ),
    )
    .await;
    let open = server.items("/api/v1/faults?station_id=CS1&open=true").await;
    assert_eq!(open.as_array().map(Vec::len), Some(1));
    let f = &open[0];
    assert_eq!(
        (f["error_code"].as_str(), f["severity"].as_str()),
        (Some("ConnectorPlugRetentionLock.Problem"), Some("Error"))
    );
    assert_eq!(
        (f["evse_id"].as_i64(), f["connector_id"].as_i64(), f["tech_code"].as_str()),
        (Some(1), Some(1), Some("LCK-7"))
    );
    // Reported again while open: still one fault.
    cs.call_ok("NotifyEvent", notify_event(2, lock.clone(), "Problem", "true", "Delta", json!({}))).await;
    assert_eq!(server.items("/api/v1/faults?open=true").await.as_array().map(Vec::len), Some(1));
    cs.call_ok("NotifyEvent", notify_event(3, lock, "Problem", "false", "Delta", json!({}))).await;
    assert_eq!(server.items("/api/v1/faults?open=true").await, json!([]));
    let events = server.items("/api/v1/stations/CS1/events?kind=NotifyEvent").await;
    assert_eq!(events.as_array().map(Vec::len), Some(3));
}

async fn tc_j_01_meter_values_outside_transactions(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let mv = json!({"evseId": 0, "meterValue": [{"timestamp": T0, "sampledValue": [
        {"value": 52.1, "context": "Sample.Clock", "unitOfMeasure": {"unit": "kWh"}},
        {"value": 229.9, "measurand": "Voltage", "phase": "L1-N", "unitOfMeasure": {"unit": "V"}}]}]});
    cs.call_ok("MeterValues", mv).await;
    assert_eq!(server.items("/api/v1/transactions").await, json!([]));
}

async fn tc_j_07_10_energy_from_begin_and_end_readings(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let begin = json!({"evse": {"id": 1, "connectorId": 1}, "meterValue": [{"timestamp": T0, "sampledValue": [
        {"value": 10.5, "context": "Transaction.Begin", "unitOfMeasure": {"unit": "kWh"}}]}]});
    cs.call_ok("TransactionEvent", tx_event("Started", 0, "J7", "Authorized", T0, begin)).await;
    let periodic = json!({"meterValue": [{"timestamp": "2026-11-26T10:15:00Z", "sampledValue": [
        {"value": 125, "context": "Sample.Periodic", "unitOfMeasure": {"unit": "Wh", "multiplier": 2}},
        {"value": 7.4, "context": "Sample.Periodic", "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}},
        {"value": 32, "context": "Sample.Periodic", "measurand": "Current.Import", "phase": "L1", "unitOfMeasure": {"unit": "A"}}]}]});
    cs.call_ok(
        "TransactionEvent",
        tx_event("Updated", 1, "J7", "MeterValuePeriodic", "2026-11-26T10:15:00Z", periodic),
    )
    .await;
    let id = server.items("/api/v1/transactions?station_id=CS1").await[0]["id"].as_i64().expect("id");
    assert_eq!(
        server.get(&format!("/api/v1/transactions/{id}")).await["meter_start_wh"],
        10_500.0,
        "known while charging"
    );
    let end = json!({"transactionInfo": {"stoppedReason": "EVDisconnected"}, "meterValue": [
        {"timestamp": "2026-11-26T10:30:00Z", "sampledValue": [{"value": 14000, "context": "Sample.Clock"}]},
        {"timestamp": "2026-11-26T10:40:00Z", "sampledValue": [{"value": 16.25, "context": "Transaction.End", "unitOfMeasure": {"unit": "kWh"}}]}]});
    cs.call_ok("TransactionEvent", tx_event("Ended", 2, "J7", "EVCommunicationLost", "2026-11-26T10:40:00Z", end))
        .await;
    let t = server.get(&format!("/api/v1/transactions/{id}")).await;
    assert_eq!(
        (t["meter_start_wh"].as_f64(), t["meter_stop_wh"].as_f64(), t["energy_wh"].as_f64()),
        (Some(10_500.0), Some(16_250.0), Some(5_750.0))
    );
    assert_eq!(t["flags"], json!([]));
    let readings = server.items(&format!("/api/v1/transactions/{id}/meter-values")).await;
    let readings = readings.as_array().expect("array");
    assert_eq!(readings.len(), 6);
    assert!(readings.iter().all(|r| r["evse_id"] == 1));
    let power = readings.iter().find(|r| r["measurand"] == "Power.Active.Import").expect("power");
    assert_eq!((power["value"].as_f64(), power["normalised_unit"].as_str()), (Some(7400.0), Some("W")));
}

async fn tc_n_21_47_alert_uses_the_monitor_severity(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let cable = json!({"name": "ChargingStation"});
    let report = json!({"requestId": 3, "generatedAt": T0, "seqNo": 0, "monitor": [{
        "component": cable, "variable": {"name": "Temperature"},
        "variableMonitoring": [{"id": 42, "transaction": false, "value": 85.0, "type": "UpperThreshold", "severity": 2}]}]});
    cs.call_ok("NotifyMonitoringReport", report).await;
    let alert = notify_event(
        9,
        cable.clone(),
        "Temperature",
        "91.5",
        "Alerting",
        json!({"variableMonitoringId": 42, "eventNotificationType": "HardWiredMonitor"}),
    );
    cs.call_ok("NotifyEvent", alert).await;
    let f = &server.items("/api/v1/faults?open=true").await[0];
    assert_eq!(
        (f["error_code"].as_str(), f["severity"].as_str(), f["status"].as_str()),
        (Some("ChargingStation.Temperature"), Some("Error"), Some("91.5"))
    );
    // TC_N_49: cleared after reboot.
    cs.call_ok("NotifyEvent", notify_event(10, cable, "Temperature", "60", "Alerting", json!({"cleared": true}))).await;
    assert_eq!(server.items("/api/v1/faults?open=true").await, json!([]));
}

async fn tc_n_24_48_50_periodic_and_empty_events_are_recorded(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let meter = json!({"name": "EVSE", "evse": {"id": 1}});
    cs.call_ok("NotifyEvent", notify_event(1, meter.clone(), "Power", "7200", "Periodic", json!({}))).await;
    cs.call_ok(
        "NotifyEvent",
        notify_event(2, json!({"name": "SecurityCtrlr"}), "BasicAuthPassword", "", "Alerting", json!({})),
    )
    .await;
    let events = server.items("/api/v1/stations/CS1/events?kind=NotifyEvent").await;
    assert_eq!(events.as_array().map(Vec::len), Some(2));
    assert_eq!(events[1]["detail"], "EVSE.Power=7200");
    assert_eq!(
        server.items("/api/v1/faults?open=true").await.as_array().map(Vec::len),
        Some(1),
        "an alert is a fault, a periodic report is not"
    );
}

async fn tc_p_02_data_transfer_unknown_vendor(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let r = cs
        .call_ok("DataTransfer", json!({"vendorId": "com.example", "messageId": "m", "data": {"any": ["json", 1]}}))
        .await;
    assert_eq!(r["status"], "UnknownVendorId");
}

async fn tc_p_03_custom_data_is_accepted_everywhere(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.station201("CS1").await;
    let custom = json!({"vendorId": "com.example", "anything": {"nested": true}});
    let boot = json!({"reason": "PowerUp", "customData": custom,
                      "chargingStation": {"vendorName": "V", "model": "M", "customData": custom, "modem": {"customData": custom}}});
    assert_eq!(cs.call_ok("BootNotification", boot).await["status"], "Accepted");
    let event = tx_event(
        "Started",
        0,
        "P3",
        "EVDetected",
        T0,
        json!({"customData": custom,
        "evse": {"id": 1, "customData": custom},
        "meterValue": [{"timestamp": T0, "customData": custom, "sampledValue": [{"value": 1.0, "customData": custom, "unitOfMeasure": {"unit": "Wh", "customData": custom}}]}]}),
    );
    cs.call_ok("TransactionEvent", event).await;
    // customData without its required vendorId is still refused.
    let bad = json!({"customData": {"anything": 1}});
    assert_eq!(cs.call_err("Heartbeat", bad).await, "OccurenceConstraintViolation");
}

/// Every action a 2.0.1 station can send gets a schema-valid answer (validated by the harness).
async fn every_station_action_is_answered(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let schedule =
        json!({"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}]});
    let calls = [
        ("SecurityEventNotification", json!({"type": "TamperDetectionActivated", "timestamp": T0, "techInfo": "lid"})),
        ("FirmwareStatusNotification", json!({"status": "Downloading", "requestId": 1})),
        (
            "PublishFirmwareStatusNotification",
            json!({"status": "Published", "location": ["http://cs.local/fw"], "requestId": 2}),
        ),
        ("LogStatusNotification", json!({"status": "Uploading", "requestId": 3})),
        ("ReservationStatusUpdate", json!({"reservationId": 4, "reservationUpdateStatus": "Expired"})),
        (
            "NotifyChargingLimit",
            json!({"chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": false}, "evseId": 1}),
        ),
        ("ClearedChargingLimit", json!({"chargingLimitSource": "EMS", "evseId": 1})),
        ("NotifyEVChargingNeeds", json!({"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"}})),
        ("NotifyEVChargingSchedule", json!({"timeBase": T0, "evseId": 1, "chargingSchedule": schedule})),
        ("NotifyDisplayMessages", json!({"requestId": 5})),
        ("NotifyCustomerInformation", json!({"data": "no data", "seqNo": 0, "generatedAt": T0, "requestId": 6})),
        (
            "ReportChargingProfiles",
            json!({"requestId": 7, "chargingLimitSource": "CSO", "evseId": 1, "chargingProfile": [{
            "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
            "chargingSchedule": [{"id": 1, "startSchedule": T0, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}]}]}),
        ),
        ("SignCertificate", json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----"})),
        (
            "Get15118EVCertificate",
            json!({"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install", "exiRequest": "AAAA"}),
        ),
        (
            "GetCertificateStatus",
            json!({"ocspRequestData": {"hashAlgorithm": "SHA256", "issuerNameHash": "a", "issuerKeyHash": "b", "serialNumber": "c", "responderURL": "http://ocsp.example"}}),
        ),
    ];
    for (action, payload) in calls {
        cs.call_ok(action, payload).await;
    }
    let station = server.get("/api/v1/stations/CS1").await;
    assert_eq!(
        (station["firmware_status"].as_str(), station["log_status"].as_str()),
        (Some("Downloading"), Some("Uploading"))
    );
    let events = server.items("/api/v1/stations/CS1/events?limit=100").await;
    assert_eq!(events.as_array().map(Vec::len), Some(15));
    assert_eq!(
        cs.call_err("RequestStartTransaction", json!({"idToken": id_token("A"), "remoteStartId": 1})).await,
        "NotSupported"
    );
}

/// 1.6 and 2.0.1 stations at once, in one network: the same session energy shows as the same
/// `energy_wh`, whichever version reported it.
async fn mixed_fleet_one_domain(backend: Backend) {
    let server = Server::start(backend).await;
    let mut tasks = Vec::new();
    for i in 0..4 {
        let token = format!("FLEET-{i}");
        server.add_token(&token, "Accepted", None, None).await;
        let mut cp = server.booted(&format!("OLD-{i}")).await;
        tasks.push(tokio::spawn(async move {
            let (tx, status) = cp.start(1, &token, 1_000 * i, T0).await;
            assert_eq!(status, "Accepted");
            cp.call_ok("MeterValues", json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-11-26T10:30:00Z", "sampledValue": [{"value": format!("{}", 1.0 * i as f64 + 3.0), "unit": "kWh"}]}]})).await;
            cp.call_ok("StopTransaction", json!({"transactionId": tx, "meterStop": 1_000 * i + 7_500, "timestamp": "2026-11-26T11:00:00Z"})).await;
        }));
        let mut cs = server.booted201(&format!("NEW-{i}")).await;
        tasks.push(tokio::spawn(async move {
            let tx = format!("N{i}");
            let begin = json!({"meterValue": energy_reading(1_000.0 * i as f64, "Transaction.Begin", T0)});
            cs.call_ok("TransactionEvent", tx_event("Started", 0, &tx, "EVDetected", T0, begin)).await;
            let mid = json!({"meterValue": [{"timestamp": "2026-11-26T10:30:00Z", "sampledValue": [{"value": 1.0 * i as f64 + 3.0, "unitOfMeasure": {"unit": "kWh"}}]}]});
            cs.call_ok("TransactionEvent", tx_event("Updated", 1, &tx, "MeterValuePeriodic", "2026-11-26T10:30:00Z", mid)).await;
            let end = json!({"meterValue": energy_reading(1_000.0 * i as f64 + 7_500.0, "Transaction.End", "2026-11-26T11:00:00Z")});
            cs.call_ok("TransactionEvent", tx_event("Ended", 2, &tx, "EVDeparted", "2026-11-26T11:00:00Z", end)).await;
        }));
    }
    for t in tasks {
        t.await.expect("station task");
    }
    let all = server.items("/api/v1/transactions?limit=100").await;
    let all = all.as_array().expect("array");
    assert_eq!(all.len(), 8);
    for t in all {
        assert_eq!(t["energy_wh"], 7_500.0, "{t}");
        assert_eq!(t["flags"], json!([]), "{t}");
    }
    let stations = server.items("/api/v1/stations").await;
    let versions: Vec<&str> =
        stations.as_array().expect("array").iter().filter_map(|s| s["ocpp_version"].as_str()).collect();
    assert_eq!(versions.iter().filter(|v| **v == "1.6").count(), 4);
    assert_eq!(versions.iter().filter(|v| **v == "2.0.1").count(), 4);
}

/// 2.0.1 spells its error codes differently and has two codes 1.6 lacks (CHECKLIST §1.2).
async fn rpc_errors_use_the_2_0_1_codes(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let answer = cs.raw(r#"[2,"a1","Heartbeat",{"#).await;
    assert_eq!((answer[1].as_str(), answer[2].as_str()), (Some("a1"), Some("FormatViolation")));
    let answer = cs.raw("not json at all").await;
    assert_eq!((answer[1].as_str(), answer[2].as_str()), (Some("-1"), Some("RpcFrameworkError")));
    let answer = cs.raw(r#"[7,"a2","Heartbeat",{}]"#).await;
    assert_eq!((answer[1].as_str(), answer[2].as_str()), (Some("a2"), Some("MessageTypeNotSupported")));
    assert_eq!(cs.call_err("Heartbeat", json!({"unexpected": 1})).await, "FormatViolation");
    assert_eq!(
        cs.call_err("Authorize", json!({"idToken": {"idToken": "A", "type": "Badge"}})).await,
        "PropertyConstraintViolation"
    );
    assert_eq!(
        cs.call_err("Authorize", json!({"idToken": {"idToken": "x".repeat(37), "type": "Local"}})).await,
        "PropertyConstraintViolation"
    );
    assert_eq!(
        cs.call_err(
            "StatusNotification",
            json!({"timestamp": T0, "connectorStatus": "Available", "evseId": "1", "connectorId": 1})
        )
        .await,
        "TypeConstraintViolation"
    );
    assert_eq!(cs.call_err("BootNotification", json!({"reason": "PowerUp"})).await, "OccurenceConstraintViolation");
    assert_eq!(cs.call_err("StartTransaction", json!({})).await, "NotImplemented", "a 1.6 action is unknown in 2.0.1");
    assert_eq!(
        server.get("/api/v1/stations/CS1").await["connectors"],
        json!([]),
        "nothing stored from refused messages"
    );
    cs.call_ok("Heartbeat", json!({})).await;
}
