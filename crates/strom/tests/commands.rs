//! Operator commands through the API: any CSMS-initiated action of the station's version,
//! validated before it is sent, answered with the station's reply, logged with its outcome
//! (CONFORMANCE 1.6 TC_019_1, TC_026, 2.0.1 TC_B_02/X-10, RPC-17 through the API).

mod common;

use common::{Backend, Server};
use serde_json::{json, Value};

both_backends!(
    tc_019_1_get_configuration_through_the_api,
    tc_026_rejected_remote_start_is_surfaced,
    command_errors_are_clear,
    station_call_errors_and_invalid_answers_are_reported,
    malformed_answer_settles_the_command_at_once,
    command_timeout_frees_the_queue,
    commands_to_2_0_1_stations,
    x_10_pending_station_is_accepted_by_the_operator,
    pending_station_may_send_what_a_trigger_asked_for,
    a_rejected_station_is_sent_no_commands,
);

async fn tc_019_1_get_configuration_through_the_api(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let operator = server.spawn_http("POST", "/api/v1/stations/CP1/commands/GetConfiguration", json!({}));
    let (id, action, payload) = cp.expect_call().await;
    assert_eq!((action.as_str(), payload), ("GetConfiguration", json!({})));
    let answer = json!({"configurationKey": [{"key": "HeartbeatInterval", "readonly": false, "value": "300"}], "unknownKey": []});
    cp.reply(&id, answer.clone()).await;
    let (status, body) = operator.await.expect("operator task");
    assert_eq!((status, body), (200, answer.clone()));
    let log = server.items("/api/v1/stations/CP1/commands").await;
    let entry = &log[0];
    assert_eq!((entry["action"].as_str(), entry["status"].as_str()), (Some("GetConfiguration"), Some("Answered")));
    assert_eq!((entry["request"].clone(), entry["response"].clone()), (json!({}), answer));
    assert!(entry["finished_at"].is_string());
    // The CALL and its answer are in the message log too.
    let messages = server.items("/api/v1/stations/CP1/messages").await;
    assert!(messages
        .as_array()
        .expect("array")
        .iter()
        .any(|m| m["direction"] == "out" && m["frame"][2] == "GetConfiguration"));
}

async fn tc_026_rejected_remote_start_is_surfaced(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let body = json!({"idTag": "TAG1", "connectorId": 1});
    let path = "/api/v1/stations/CP1/commands/RemoteStartTransaction";
    let (_, payload, reply) = server.answered(&mut cp, "POST", path, body, json!({"status": "Rejected"})).await;
    assert_eq!(payload, json!({"idTag": "TAG1", "connectorId": 1}));
    assert_eq!(reply, (200, json!({"status": "Rejected"})));
    assert_eq!(server.items("/api/v1/transactions").await, json!([]));
}

async fn command_errors_are_clear(backend: Backend) {
    let server = Server::start(backend).await;
    let cp = server.booted("CP1").await;
    let cases: [(&str, Value, u16); 7] = [
        ("/api/v1/stations/NOPE/commands/Reset", json!({"type": "Hard"}), 404),
        ("/api/v1/stations/CP1/commands/Dance", json!({}), 404),
        ("/api/v1/stations/CP1/commands/Heartbeat", json!({}), 422),
        ("/api/v1/stations/CP1/commands/Reset", json!({"type": "Sideways"}), 422),
        ("/api/v1/stations/CP1/commands/Reset", json!({}), 422),
        ("/api/v1/stations/CP1/commands/Reset", json!(["Hard"]), 422),
        (
            "/api/v1/stations/CP1/commands/RequestStartTransaction",
            json!({"remoteStartId": 1, "idToken": {"idToken": "A", "type": "Central"}}),
            404,
        ),
    ];
    for (path, body, expected) in cases {
        let (status, answer) = server.http("POST", path, Some(body.clone())).await;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{answer}");
    }
    assert_eq!(server.items("/api/v1/stations/CP1/commands").await, json!([]), "refused requests are not commands");
    // Offline: after a restart the station is certainly not connected.
    cp.close().await;
    let (_, db) = server.terminate().await;
    let server = Server::restart(db).await;
    let (status, answer) =
        server.http("POST", "/api/v1/stations/CP1/commands/Reset", Some(json!({"type": "Soft"}))).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(server.items("/api/v1/stations/CP1/commands").await[0]["status"], "Offline");
}

async fn station_call_errors_and_invalid_answers_are_reported(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let operator = server.spawn_http("POST", "/api/v1/stations/CP1/commands/ClearCache", json!({}));
    let (id, _, _) = cp.expect_call().await;
    cp.reply_error(&id, "NotSupported", "no cache here").await;
    let (status, body) = operator.await.expect("operator task");
    assert_eq!(
        (status, body["code"].as_str(), body["description"].as_str()),
        (502, Some("NotSupported"), Some("no cache here"))
    );
    let operator = server.spawn_http("POST", "/api/v1/stations/CP1/commands/ClearCache", json!({}));
    let (id, _, _) = cp.expect_call().await;
    cp.reply(&id, json!({"status": "Maybe"})).await;
    let (status, body) = operator.await.expect("operator task");
    assert_eq!((status, body["response"].clone()), (502, json!({"status": "Maybe"})));
    let log = server.items("/api/v1/stations/CP1/commands").await;
    let statuses: Vec<&str> = log.as_array().expect("array").iter().filter_map(|c| c["status"].as_str()).collect();
    assert_eq!(statuses, ["InvalidResponse", "CallError"]);
    assert_eq!(log[1]["error_code"], "NotSupported");
}

/// A malformed answer under the command's message id (a CALLERROR whose code is `null`, a
/// CALLRESULT whose payload is not an object, one that is not JSON) settles the command at
/// once as an invalid answer, rather than leaving the operator to wait for the 30 s timeout.
/// The station gets no answer to it (CHECKLIST §1.1) and keeps its connection.
async fn malformed_answer_settles_the_command_at_once(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let mut cs = server.booted201("CS1").await;
    let cases = [
        ("CP1", r#"[4,"ID",null,"x",{}]"#),
        ("CP1", r#"[3,"ID",null]"#),
        ("CP1", r#"[3,"ID",{"status":"#),
        ("CS1", r#"[4,"ID",null,"x",{}]"#),
        ("CS1", r#"[3,"ID","Accepted"]"#),
    ];
    for (station_id, template) in cases {
        let station = if station_id == "CP1" { &mut cp } else { &mut cs };
        let started = std::time::Instant::now();
        let path = format!("/api/v1/stations/{station_id}/commands/ClearCache");
        let operator = server.spawn_http("POST", &path, json!({}));
        let (id, _, _) = station.expect_call().await;
        let frame = template.replace("ID", &id);
        station.send_text(&frame).await;
        let (status, body) = operator.await.expect("operator task");
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "settled at once, not by the 30 s timeout");
        assert_eq!(status, 502, "{frame}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains("not a valid CALLRESULT or CALLERROR"), "{frame}: {body}");
        assert_eq!(body["response"], frame.as_str());
        // Nothing answers the broken frame: the next frame the station gets answers its own CALL.
        station.call_ok("Heartbeat", json!({})).await;
    }
    for (station_id, count) in [("CP1", 3), ("CS1", 2)] {
        let log = server.items(&format!("/api/v1/stations/{station_id}/commands")).await;
        let entries = log.as_array().expect("array");
        assert_eq!(entries.len(), count);
        for entry in entries {
            assert_eq!(entry["status"], "InvalidResponse", "{entry}");
            let description = entry["error_description"].as_str().unwrap_or_default();
            assert!(description.starts_with("malformed answer: "), "{entry}");
        }
    }
}

async fn command_timeout_frees_the_queue(backend: Backend) {
    let server = Server::start_with_config(backend, "call_timeout_secs = 1\n").await;
    let mut cp = server.booted("CP1").await;
    let operator = server.spawn_http("POST", "/api/v1/stations/CP1/commands/ClearCache", json!({}));
    let (ignored, _, _) = cp.expect_call().await;
    let (status, body) = operator.await.expect("operator task");
    assert_eq!(status, 504, "{body}");
    let operator = server.spawn_http("POST", "/api/v1/stations/CP1/commands/ClearCache", json!({}));
    let (id, _, _) = cp.expect_call().await;
    assert_ne!(id, ignored);
    cp.reply(&ignored, json!({"status": "Rejected"})).await;
    cp.reply(&id, json!({"status": "Accepted"})).await;
    assert_eq!(operator.await.expect("operator task"), (200, json!({"status": "Accepted"})));
    assert_eq!(server.items("/api/v1/stations/CP1/commands").await[1]["status"], "Timeout");
}

async fn commands_to_2_0_1_stations(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let body = json!({"type": "OnIdle", "evseId": 1});
    let path = "/api/v1/stations/CS1/commands/Reset";
    let (action, payload, reply) = server.answered(&mut cs, "POST", path, body, json!({"status": "Scheduled"})).await;
    assert_eq!((action.as_str(), payload), ("Reset", json!({"type": "OnIdle", "evseId": 1})));
    assert_eq!(reply, (200, json!({"status": "Scheduled"})));
    let (status, _) = server.http("POST", "/api/v1/stations/CS1/commands/Reset", Some(json!({"type": "Hard"}))).await;
    assert_eq!(status, 422, "a 1.6 reset type is invalid for 2.0.1");
    let (status, _) =
        server.http("POST", "/api/v1/stations/CS1/commands/RemoteStartTransaction", Some(json!({"idTag": "A"}))).await;
    assert_eq!(status, 404, "a 1.6 action is unknown to a 2.0.1 station");
}

async fn x_10_pending_station_is_accepted_by_the_operator(backend: Backend) {
    let server = Server::start_with(backend, &["--unknown-stations", "pending"]).await;
    let mut cp = server.station("NEWCOMER").await;
    let boot = cp.call_ok("BootNotification", json!({"chargePointVendor": "V", "chargePointModel": "M"})).await;
    assert_eq!(boot["status"], "Pending");
    // While Pending, the operator may look at the station...
    let answer = json!({"configurationKey": [{"key": "NumberOfConnectors", "readonly": true, "value": "2"}]});
    let body = json!({"key": ["NumberOfConnectors"]});
    let path = "/api/v1/stations/NEWCOMER/commands/GetConfiguration";
    assert_eq!(server.answered(&mut cp, "POST", path, body, answer).await.2 .0, 200);
    // ...then accept it and ask it to boot again.
    let (status, station) =
        server.http("PUT", "/api/v1/stations/NEWCOMER", Some(json!({"registration_status": "Accepted"}))).await;
    assert_eq!((status, station["registration_status"].as_str()), (200, Some("Accepted")));
    let body = json!({"requestedMessage": "BootNotification"});
    let path = "/api/v1/stations/NEWCOMER/commands/TriggerMessage";
    let (action, _, reply) = server.answered(&mut cp, "POST", path, body, json!({"status": "Accepted"})).await;
    assert_eq!((action.as_str(), reply), ("TriggerMessage", (200, json!({"status": "Accepted"}))));
    let boot = cp.call_ok("BootNotification", json!({"chargePointVendor": "V", "chargePointModel": "M"})).await;
    assert_eq!(boot["status"], "Accepted");
    cp.call_ok("Heartbeat", json!({})).await;
    let (status, _) =
        server.http("PUT", "/api/v1/stations/NEWCOMER", Some(json!({"registration_status": "Sure"}))).await;
    assert_eq!(status, 422);
}

/// A Pending station sends nothing of its own, but what an accepted TriggerMessage asked for
/// (OCPP 1.6 §4.2, 2.0.1 B02.FR.05).
async fn pending_station_may_send_what_a_trigger_asked_for(backend: Backend) {
    let server = Server::start_with(backend, &["--unknown-stations", "pending"]).await;
    let mut cp = server.station("NEWCOMER").await;
    let boot = cp.call_ok("BootNotification", json!({"chargePointVendor": "V", "chargePointModel": "M"})).await;
    assert_eq!(boot["status"], "Pending");
    let status = json!({"connectorId": 1, "status": "Available", "errorCode": "NoError"});
    assert_eq!(cp.call_err("StatusNotification", status.clone()).await, "SecurityError");
    let trigger = json!({"requestedMessage": "StatusNotification", "connectorId": 1});
    let path = "/api/v1/stations/NEWCOMER/commands/TriggerMessage";
    let (_, _, reply) = server.answered(&mut cp, "POST", path, trigger.clone(), json!({"status": "Rejected"})).await;
    assert_eq!(reply.0, 200);
    assert_eq!(
        cp.call_err("StatusNotification", status.clone()).await,
        "SecurityError",
        "a refused trigger allows nothing"
    );
    server.answered(&mut cp, "POST", path, trigger, json!({"status": "Accepted"})).await;
    cp.call_ok("StatusNotification", status).await;
    assert_eq!(cp.call_err("Heartbeat", json!({})).await, "SecurityError", "only what was asked for");
    assert_eq!(server.get("/api/v1/stations/NEWCOMER").await["connectors"][0]["status"], "Available");
}

/// A station the operator set to Rejected is cut off: commands are refused with 409 and a
/// message, nothing reaches the station, and none is logged; accepted again, it is commanded again.
async fn a_rejected_station_is_sent_no_commands(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let (status, body) =
        server.http("PUT", "/api/v1/stations/CP1", Some(json!({"registration_status": "Rejected"}))).await;
    assert_eq!(status, 200, "{body}");
    for (path, body) in [
        ("/api/v1/stations/CP1/reset", json!({"type": "soft"})),
        ("/api/v1/stations/CP1/commands/GetConfiguration", json!({})),
        ("/api/v1/stations/CP1/local-list", json!({"update_type": "Full"})),
    ] {
        let (status, answer) = server.http("POST", path, Some(body)).await;
        assert_eq!(status, 409, "{path}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains("Rejected")), "{answer}");
    }
    assert_eq!(server.items("/api/v1/stations/CP1/commands").await, json!([]));
    let (status, body) =
        server.http("PUT", "/api/v1/stations/CP1", Some(json!({"registration_status": "Accepted"}))).await;
    assert_eq!(status, 200, "{body}");
    // The first CALL the station gets is this one: none of the refused ones was queued.
    let (action, _, (status, _)) = server
        .answered(&mut cp, "POST", "/api/v1/stations/CP1/reset", json!({"type": "soft"}), json!({"status": "Accepted"}))
        .await;
    assert_eq!((action.as_str(), status), ("Reset", 200));
}
