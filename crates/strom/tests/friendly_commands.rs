//! Version-independent command endpoints: the operator says what, Ström says it in the
//! station's OCPP version (CONFORMANCE 1.6 TC_010, 012, 013, 014, 017_1, 021, 028;
//! 2.0.1 TC_B_20/22, TC_F_01/06, TC_E_21, TC_G_03).

mod common;

use common::{Backend, Server};
use serde_json::json;

both_backends!(everyday_commands_for_1_6, everyday_commands_for_2_0_1, friendly_bodies_are_checked);

async fn everyday_commands_for_1_6(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let accepted = json!({"status": "Accepted"});
    let base = "/api/v1/stations/CP1";

    let (action, payload, reply) = server
        .answered(
            &mut cp,
            "POST",
            &format!("{base}/remote-start"),
            json!({"id_token": "TAG1", "connector_id": 1}),
            accepted.clone(),
        )
        .await;
    assert_eq!(
        (action.as_str(), payload, reply),
        ("RemoteStartTransaction", json!({"idTag": "TAG1", "connectorId": 1}), (200, accepted.clone()))
    );
    let (tx, _) = cp.start(1, "TAG1", 0, "2026-11-26T10:00:00Z").await;

    let (action, payload, reply) = server
        .answered(&mut cp, "POST", &format!("{base}/remote-stop"), json!({"transaction_id": tx}), accepted.clone())
        .await;
    assert_eq!((action.as_str(), payload, reply.0), ("RemoteStopTransaction", json!({"transactionId": tx}), 200));
    cp.call_ok(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 900, "timestamp": "2026-11-26T10:20:00Z", "reason": "Remote"}),
    )
    .await;
    assert_eq!(server.get(&format!("/api/v1/transactions/{tx}")).await["stop_reason"], "Remote");

    let (status, answer) =
        server.http("POST", &format!("{base}/remote-stop"), Some(json!({"transaction_id": 999_999}))).await;
    assert_eq!(status, 422, "TC_028: an unknown transaction is refused before anything is sent: {answer}");

    for (kind, expected) in [("hard", "Hard"), ("soft", "Soft")] {
        let (action, payload, reply) =
            server.answered(&mut cp, "POST", &format!("{base}/reset"), json!({"type": kind}), accepted.clone()).await;
        assert_eq!((action.as_str(), payload, reply.0), ("Reset", json!({"type": expected}), 200));
    }
    let (action, payload, reply) = server
        .answered(&mut cp, "POST", &format!("{base}/unlock"), json!({"connector_id": 1}), json!({"status": "Unlocked"}))
        .await;
    assert_eq!(
        (action.as_str(), payload, reply.1),
        ("UnlockConnector", json!({"connectorId": 1}), json!({"status": "Unlocked"}))
    );
    let (action, payload, _) = server
        .answered(
            &mut cp,
            "POST",
            &format!("{base}/availability"),
            json!({"operative": false, "connector_id": 1}),
            accepted.clone(),
        )
        .await;
    assert_eq!((action.as_str(), payload), ("ChangeAvailability", json!({"connectorId": 1, "type": "Inoperative"})));
    let (action, payload, _) = server
        .answered(
            &mut cp,
            "PUT",
            &format!("{base}/configuration/MeterValueSampleInterval"),
            json!({"value": "60"}),
            accepted.clone(),
        )
        .await;
    assert_eq!(
        (action.as_str(), payload),
        ("ChangeConfiguration", json!({"key": "MeterValueSampleInterval", "value": "60"}))
    );
    let config = server.get(&format!("{base}/configuration")).await;
    assert_eq!(
        (config[0]["key"].as_str(), config[0]["value"].as_str()),
        (Some("MeterValueSampleInterval"), Some("60"))
    );
    let (action, payload, _) = server
        .answered(&mut cp, "POST", &format!("{base}/configuration/fetch"), json!({}), json!({"configurationKey": []}))
        .await;
    assert_eq!((action.as_str(), payload), ("GetConfiguration", json!({})));
}

async fn everyday_commands_for_2_0_1(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("REMOTE", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    let accepted = json!({"status": "Accepted"});
    let base = "/api/v1/stations/CS1";

    let (action, payload, reply) = server
        .answered(
            &mut cs,
            "POST",
            &format!("{base}/remote-start"),
            json!({"id_token": "REMOTE", "evse_id": 1}),
            accepted.clone(),
        )
        .await;
    assert_eq!((action.as_str(), reply.0), ("RequestStartTransaction", 200));
    assert_eq!(
        (payload["idToken"].clone(), payload["evseId"].as_i64()),
        (json!({"idToken": "REMOTE", "type": "Central"}), Some(1))
    );
    let remote_start_id = payload["remoteStartId"].as_i64().expect("remoteStartId");
    let started = json!({"eventType": "Started", "timestamp": "2026-11-26T10:00:00Z", "triggerReason": "RemoteStart", "seqNo": 0,
        "transactionInfo": {"transactionId": "RS-1", "remoteStartId": remote_start_id}, "idToken": {"idToken": "REMOTE", "type": "Central"}});
    cs.call_ok("TransactionEvent", started).await;
    let tx = server.items("/api/v1/transactions?station_id=CS1").await[0].clone();
    assert_eq!(tx["remote_start_id"].as_i64(), Some(remote_start_id));

    let tx_id = tx["id"].as_i64().expect("id");
    let (action, payload, _) = server
        .answered(&mut cs, "POST", &format!("{base}/remote-stop"), json!({"transaction_id": tx_id}), accepted.clone())
        .await;
    assert_eq!((action.as_str(), payload), ("RequestStopTransaction", json!({"transactionId": "RS-1"})));
    let (action, payload, _) =
        server.answered(&mut cs, "POST", &format!("{base}/reset"), json!({"type": "hard"}), accepted.clone()).await;
    assert_eq!((action.as_str(), payload), ("Reset", json!({"type": "Immediate"})));
    let (action, payload, _) = server
        .answered(
            &mut cs,
            "POST",
            &format!("{base}/unlock"),
            json!({"evse_id": 1, "connector_id": 1}),
            json!({"status": "Unlocked"}),
        )
        .await;
    assert_eq!((action.as_str(), payload), ("UnlockConnector", json!({"evseId": 1, "connectorId": 1})));
    let (action, payload, _) = server
        .answered(
            &mut cs,
            "POST",
            &format!("{base}/availability"),
            json!({"operative": false, "evse_id": 1}),
            accepted.clone(),
        )
        .await;
    assert_eq!(
        (action.as_str(), payload),
        ("ChangeAvailability", json!({"operationalStatus": "Inoperative", "evse": {"id": 1}}))
    );
    let key = "OCPPCommCtrlr.MessageAttempts[TransactionEvent]";
    let result = json!({"setVariableResult": [{"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "MessageAttempts", "instance": "TransactionEvent"}}]});
    let (action, payload, reply) =
        server.answered(&mut cs, "PUT", &format!("{base}/configuration/{key}"), json!({"value": "5"}), result).await;
    assert_eq!(reply.0, 200);
    assert_eq!(action, "SetVariables");
    assert_eq!(
        payload["setVariableData"][0]["variable"],
        json!({"name": "MessageAttempts", "instance": "TransactionEvent"})
    );
    let variables = server.get(&format!("{base}/variables")).await;
    assert_eq!(
        (variables[0]["variable_instance"].as_str(), variables[0]["value"].as_str()),
        (Some("TransactionEvent"), Some("5"))
    );
    let (status, _) = server.http("POST", &format!("{base}/configuration/fetch"), Some(json!({}))).await;
    assert_eq!(status, 422, "2.0.1 has no 'everything' read without names");
}

async fn friendly_bodies_are_checked(backend: Backend) {
    let server = Server::start(backend).await;
    let _cp = server.booted("CP1").await;
    let base = "/api/v1/stations/CP1";
    let cases = [
        ("remote-start", json!({"connector_id": 1}), 422),
        ("remote-start", json!({"id_token": "A", "colour": "red"}), 422),
        ("reset", json!({"type": "gentle"}), 422),
        ("unlock", json!({"connector_id": "one"}), 422),
        ("availability", json!({}), 422),
        // Ids are 0 to 2^31-1, as the document says (found by the schema fuzzer: a 1.6 unlock
        // with evse_id -1 was sent).
        ("unlock", json!({"connector_id": 1, "evse_id": -1}), 422),
        ("unlock", json!({"connector_id": -1}), 422),
        ("availability", json!({"operative": true, "connector_id": -2}), 422),
        ("remote-start", json!({"id_token": "A", "evse_id": -1, "force": true}), 422),
        ("unlock", json!({"connector_id": 2_147_483_648i64}), 422),
    ];
    for (endpoint, body, expected) in cases {
        let (status, answer) = server.http("POST", &format!("{base}/{endpoint}"), Some(body.clone())).await;
        assert_eq!(status, expected, "{endpoint} {body}: {answer}");
        assert!(answer["error"].is_string());
    }
    let (status, _) = server.http("POST", "/api/v1/stations/NOPE/reset", Some(json!({"type": "soft"}))).await;
    assert_eq!(status, 404);
    assert_eq!(server.items(&format!("{base}/commands")).await, json!([]));
}
