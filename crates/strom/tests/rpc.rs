//! Transport and RPC framing (CONFORMANCE Part 0) and bad input: every malformed frame gets the
//! right answer, the connection survives where the protocol allows, nothing is stored from a
//! refused message.

mod common;

use common::{Backend, Server, Station};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

both_backends!(
    rpc_01_subprotocol_ocpp16,
    rpc_02_first_supported_subprotocol_is_chosen,
    rpc_03_unsupported_subprotocol_is_refused,
    rpc_04_bad_identity_is_refused,
    rpc_05_new_connection_replaces_the_old,
    rpc_06_non_json_text,
    rpc_07_unknown_message_type,
    rpc_07_call_with_extra_elements,
    rpc_08_unknown_action,
    rpc_09_csms_only_action_from_a_station,
    rpc_10_missing_required_field,
    rpc_11_wrong_type,
    rpc_12_bad_enum_and_too_long,
    rpc_13_message_id_of_37_characters,
    rpc_18_answer_with_unknown_id_is_ignored,
    rpc_19_ping_is_answered,
    rpc_22_meter_value_unit_spellings,
    rpc_23_reconnect_without_boot,
    oversized_frame_closes_with_1009,
    binary_frame_closes_with_1003,
    invalid_utf8_text_frame_closes_with_1007,
    missing_required_field_is_an_occurrence_violation_spelled_with_one_r,
    unknown_field_is_refused,
    message_log_keeps_every_frame,
);

async fn rpc_01_subprotocol_ocpp16(backend: Backend) {
    let server = Server::start(backend).await;
    let station = Station::connect(&server, "CP1", "ocpp1.6").await.expect("connects");
    assert_eq!(station.protocol, "ocpp1.6");
}

async fn rpc_02_first_supported_subprotocol_is_chosen(backend: Backend) {
    let server = Server::start(backend).await;
    let station = Station::connect(&server, "CP1", "ocpp2.0.1, ocpp1.6").await.expect("connects");
    assert_eq!(station.protocol, "ocpp2.0.1", "the station's first choice that Ström speaks");
    let station = Station::connect(&server, "CP2", "ocpp0.1,ocpp1.6").await.expect("connects");
    assert_eq!(station.protocol, "ocpp1.6");
    let station = Station::connect(&server, "CP3", "ocpp2.1, ocpp1.6, ocpp2.0.1").await.expect("connects");
    assert_eq!(station.protocol, "ocpp1.6");
}

fn refused_with(result: Result<Station, tokio_tungstenite::tungstenite::Error>) -> u16 {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the upgrade should have been refused"),
    }
}

async fn rpc_03_unsupported_subprotocol_is_refused(backend: Backend) {
    let server = Server::start(backend).await;
    assert_eq!(refused_with(Station::connect(&server, "CP1", "ocpp0.1").await), 400);
    assert_eq!(server.items("/api/v1/stations").await, json!([]));
}

async fn rpc_04_bad_identity_is_refused(backend: Backend) {
    let server = Server::start(backend).await;
    assert_eq!(refused_with(Station::connect(&server, "", "ocpp1.6").await), 404);
    assert_eq!(refused_with(Station::connect(&server, &"x".repeat(49), "ocpp1.6").await), 400);
    assert_eq!(refused_with(Station::connect(&server, "a%3Ab", "ocpp1.6").await), 400);
    assert!(Station::connect(&server, &"x".repeat(48), "ocpp1.6").await.is_ok());
}

async fn rpc_05_new_connection_replaces_the_old(backend: Backend) {
    let server = Server::start(backend).await;
    let mut old = server.booted("CP1").await;
    let mut new = server.station("CP1").await;
    match old.next_message().await {
        Some(Message::Close(frame)) => assert_eq!(frame.map(|f| u16::from(f.code)), Some(1000)),
        other => panic!("the old connection should be closed, got {other:?}"),
    }
    new.call_ok("Heartbeat", json!({})).await;
    assert_eq!(server.get("/api/v1/stations/CP1").await["connected"], true);
}

async fn rpc_06_non_json_text(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let answer = cp.raw(r#"[2,"abc","Heartbeat",{"#).await;
    assert_eq!(answer, json!([4, "abc", "FormationViolation", answer[3], {}]));
    let answer = cp.raw("hello").await;
    assert_eq!((answer[0].as_u64(), answer[1].as_str()), (Some(4), Some("-1")));
    cp.call_ok("Heartbeat", json!({})).await;
}

async fn rpc_07_unknown_message_type(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let answer = cp.raw(r#"[9,"t1","Heartbeat",{}]"#).await;
    assert_eq!((answer[1].as_str(), answer[2].as_str()), (Some("t1"), Some("ProtocolError")));
    cp.call_ok("Heartbeat", json!({})).await;
}

/// A CALL with a fifth element is a malformed frame whatever its action, also when its layout
/// lets the gateway split it without a full parse (`ocpp::split_call`).
async fn rpc_07_call_with_extra_elements(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    for (id, action) in [("x1", "Heartbeat"), ("x2", "Foo"), ("x3", "Reset")] {
        let answer = cp.raw(&format!(r#"[2,"{id}","{action}",{{}}, {{}}]"#)).await;
        assert_eq!(
            (answer[0].as_u64(), answer[1].as_str(), answer[2].as_str()),
            (Some(4), Some(id), Some("ProtocolError"))
        );
    }
    let answer = cp.raw(r#"[2,"x4","Heartbeat",{"a":1}, {}]"#).await;
    assert_eq!((answer[1].as_str(), answer[2].as_str()), (Some("x4"), Some("ProtocolError")));
    cp.call_ok("Heartbeat", json!({})).await;
}

async fn rpc_08_unknown_action(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    assert_eq!(cp.call_err("Foo", json!({})).await, "NotImplemented");
    assert_eq!(cp.call_err("heartbeat", json!({})).await, "NotImplemented", "action names are case-sensitive");
    cp.call_ok("Heartbeat", json!({})).await;
}

async fn rpc_09_csms_only_action_from_a_station(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    assert_eq!(cp.call_err("Reset", json!({"type": "Hard"})).await, "NotSupported");
}

async fn rpc_10_missing_required_field(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.station("CP1").await;
    assert_eq!(
        cp.call_err("BootNotification", json!({"chargePointVendor": "V"})).await,
        "OccurenceConstraintViolation"
    );
    assert_eq!(server.items("/api/v1/stations").await, json!([]), "nothing stored from a refused boot");
}

async fn rpc_11_wrong_type(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let code = cp
        .call_err("StatusNotification", json!({"connectorId": "1", "status": "Available", "errorCode": "NoError"}))
        .await;
    assert_eq!(code, "TypeConstraintViolation");
    let code = cp.call_err("StatusNotification", json!({"connectorId": 1, "status": 5, "errorCode": "NoError"})).await;
    assert_eq!(code, "TypeConstraintViolation");
    assert_eq!(server.get("/api/v1/stations/CP1").await["connectors"], json!([]));
}

async fn rpc_12_bad_enum_and_too_long(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let code =
        cp.call_err("StatusNotification", json!({"connectorId": 1, "status": "Broken", "errorCode": "NoError"})).await;
    assert_eq!(code, "PropertyConstraintViolation");
    assert_eq!(cp.call_err("Authorize", json!({"idTag": "x".repeat(21)})).await, "PropertyConstraintViolation");
    let code = cp
        .call_err(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "yesterday"}),
        )
        .await;
    assert_eq!(code, "PropertyConstraintViolation");
    assert_eq!(server.items("/api/v1/transactions").await, json!([]));
}

async fn rpc_13_message_id_of_37_characters(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let id = "x".repeat(37);
    let frame =
        json!([2, id, "StatusNotification", {"connectorId": 1, "status": "Faulted", "errorCode": "HighTemperature"}]);
    let answer = cp.raw(&frame.to_string()).await;
    assert_eq!((answer[0].as_u64(), answer[1].as_str()), (Some(4), Some(id.as_str())));
    assert_eq!(answer[2], "PropertyConstraintViolation");
    assert_eq!(server.items("/api/v1/faults").await, json!([]), "not processed");
    let ok_id = "y".repeat(36);
    let answer = cp.raw(&json!([2, ok_id, "Heartbeat", {}]).to_string()).await;
    assert_eq!(answer[0], 3);
}

async fn rpc_18_answer_with_unknown_id_is_ignored(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.send_text(r#"[3,"never-sent",{"status":"Accepted"}]"#).await;
    cp.send_text(r#"[4,"never-sent","GenericError","",{}]"#).await;
    cp.send_text(r#"[3,"broken"]"#).await;
    // The next thing Ström sends is the answer to this CALL: the three frames got no reply.
    let answer = cp.raw(r#"[2,"hb","Heartbeat",{}]"#).await;
    assert_eq!((answer[0].as_u64(), answer[1].as_str()), (Some(3), Some("hb")));
}

async fn rpc_19_ping_is_answered(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.send_ping(b"are you there").await;
    match cp.next_raw_message().await {
        Some(Message::Pong(payload)) => assert_eq!(payload.as_ref(), b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
}

async fn rpc_22_meter_value_unit_spellings(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    for unit in ["Celsius", "Celcius", "Hertz", "Fahrenheit"] {
        let mv = json!({"connectorId": 1, "meterValue": [{"timestamp": "2026-11-26T10:00:00Z", "sampledValue": [{"value": "20", "unit": unit, "measurand": "Temperature"}]}]});
        cp.call_ok("MeterValues", mv).await;
    }
}

async fn rpc_23_reconnect_without_boot(backend: Backend) {
    let server = Server::start(backend).await;
    let cp = server.booted("CP1").await;
    cp.close().await;
    let mut cp = server.station("CP1").await;
    cp.call_ok("Heartbeat", json!({})).await;
    cp.status(1, "Available", "NoError").await;
    // A station that never booted is not served.
    let mut stranger = server.station("CP2").await;
    assert_eq!(stranger.call_err("Heartbeat", json!({})).await, "SecurityError");
}

async fn oversized_frame_closes_with_1009(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let big = json!([2, "big", "DataTransfer", {"vendorId": "v", "data": "x".repeat(70 * 1024)}]);
    cp.send_text(&big.to_string()).await;
    match cp.next_raw_message().await {
        Some(Message::Close(frame)) => assert_eq!(frame.map(|f| u16::from(f.code)), Some(1009)),
        other => panic!("expected close 1009, got {other:?}"),
    }
    // The server and the station's record survive; the station may reconnect.
    let mut cp = server.station("CP1").await;
    cp.call_ok("Heartbeat", json!({})).await;
}

async fn binary_frame_closes_with_1003(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.send_binary(b"[2,\"1\",\"Heartbeat\",{}]").await;
    match cp.next_raw_message().await {
        Some(Message::Close(frame)) => assert_eq!(frame.map(|f| u16::from(f.code)), Some(1003)),
        other => panic!("expected close 1003, got {other:?}"),
    }
}

async fn unknown_field_is_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let code = cp
        .call_err(
            "StatusNotification",
            json!({"connectorId": 1, "status": "Available", "errorCode": "NoError", "colour": "red"}),
        )
        .await;
    assert_eq!(code, "FormationViolation");
    assert_eq!(server.get("/api/v1/stations/CP1").await["connectors"], json!([]));
}

async fn message_log_keeps_every_frame(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.call_ok("Authorize", json!({"idTag": "SECRET1"})).await;
    cp.call_err("Foo", json!({})).await;
    // Outbound frames are queued for the log without waiting for their commit; the writer
    // commits in order, so once the Heartbeat is answered every earlier frame is stored. Only
    // the Heartbeat's own answer may still be on its way.
    cp.call_ok("Heartbeat", json!({})).await;
    let messages = server.items("/api/v1/stations/CP1/messages").await;
    let messages = messages.as_array().cloned().unwrap_or_default();
    assert!(messages.len() >= 7, "{messages:?}");
    let frames: Vec<&Value> = messages.iter().map(|m| &m["frame"]).collect();
    // Newest first: in/out pairs for Boot, Authorize, Foo, Heartbeat.
    assert!(frames.iter().any(|f| f[2] == "Authorize" && f[3]["idTag"] == "SECRET1"), "tokens are stored unmasked");
    assert!(frames.iter().any(|f| f[0] == 4 && f[2] == "NotImplemented"));
    let directions: Vec<&str> = messages.iter().filter_map(|m| m["direction"].as_str()).collect();
    assert_eq!(directions.iter().filter(|d| **d == "in").count(), 4);
    let (status, _) = server.http("GET", "/api/v1/stations/NOPE/messages", None).await;
    assert_eq!(status, 404);
    let page = server.get("/api/v1/stations/CP1/messages?limit=2").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let last = page["items"][1]["id"].as_i64().expect("id");
    let cursor = page["next_cursor"].as_str().expect("more pages");
    let older = server.get(&format!("/api/v1/stations/CP1/messages?limit=100&cursor={cursor}")).await;
    assert!(older["items"].as_array().expect("array").iter().all(|m| m["id"].as_i64() < Some(last)));
    let (status, answer) = server.http("GET", &format!("/api/v1/stations/CP1/messages?before={last}"), None).await;
    assert_eq!(status, 400, "an offset-style parameter is refused, not ignored: {answer}");
}

/// RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with 1007 (invalid frame
/// payload data), not 1002. Other stations are served on; the station may connect again.
async fn invalid_utf8_text_frame_closes_with_1007(backend: Backend) {
    let server = Server::start(backend).await;
    let mut other = server.booted("CP2").await;
    let mut cp = server.booted("CP1").await;
    cp.send_text_bytes(b"[2,\"u1\",\"Heartbeat\",{\"x\":\"\xff\xfe\"}]").await;
    match cp.next_message().await {
        Some(Message::Close(frame)) => assert_eq!(frame.map(|f| u16::from(f.code)), Some(1007)),
        other => panic!("expected a close frame, got {other:?}"),
    }
    other.call_ok("Heartbeat", json!({})).await;
    let mut again = server.station("CP1").await;
    again.call_ok("Heartbeat", json!({})).await;
}

/// A missing required property, at the top, nested, or in an array's item, is
/// `OccurenceConstraintViolation` with one r on both versions: OCA kept the 1.6 typo in 2.0.1
/// and spells it with two only from OCPP 2.1 (CHECKLIST §1.2, CONFORMANCE RPC-10; the pinned
/// `ocpp==2.1.0` calls the double r "not valid OCPP 2.0.1").
async fn missing_required_field_is_an_occurrence_violation_spelled_with_one_r(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let sampled =
        json!({"connectorId": 1, "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{}]}]});
    for (action, payload) in [
        ("StatusNotification", json!({"connectorId": 1, "status": "Available"})),
        ("MeterValues", json!({"connectorId": 1, "meterValue": [{"sampledValue": [{"value": "1"}]}]})),
        ("MeterValues", sampled),
    ] {
        assert_eq!(
            cp.call_err(action, payload.clone()).await,
            "OccurenceConstraintViolation",
            "1.6 {action} {payload}"
        );
    }
    let mut cs = server.booted201("CS1").await;
    for (action, payload) in [
        ("BootNotification", json!({"reason": "PowerUp"})),
        ("BootNotification", json!({"reason": "PowerUp", "chargingStation": {"vendorName": "V"}})),
        (
            "MeterValues",
            json!({"evseId": 1, "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{}]}]}),
        ),
    ] {
        assert_eq!(
            cs.call_err(action, payload.clone()).await,
            "OccurenceConstraintViolation",
            "2.0.1 {action} {payload}"
        );
    }
    cp.call_ok("Heartbeat", json!({})).await;
    cs.call_ok("Heartbeat", json!({})).await;
}
