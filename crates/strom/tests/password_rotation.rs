//! Station password rotation (issue 25 item 2; OCPP 1.6 security whitepaper ed. 2 §3.1.1 and
//! TC_073, 2.0.1 A01 and TC_A_09 / TC_A_10): `POST /api/v1/stations/{id}/password` and
//! `strom station rotate-password` send the station a new password (1.6 ChangeConfiguration
//! AuthorizationKey, hex-encoded; 2.0.1 SetVariables SecurityCtrlr.BasicAuthPassword); only if
//! the station takes it does it replace the old one. Real handshakes on loopback show which
//! password works afterwards.

mod common;

use base64::Engine;
use common::{Backend, Server, Station};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Error as WsError;

both_backends!(
    tc_073_rotation_accepted_by_a_16_station,
    tc_073_rotation_rejected_by_a_16_station_keeps_the_old_password,
    tc_a_09_new_basic_auth_password_accepted,
    tc_a_10_new_basic_auth_password_rejected,
    a_station_that_does_not_answer_keeps_the_old_password,
    the_new_password_opens_the_door_while_it_is_in_flight,
    rotation_needs_a_connected_station_and_a_valid_password,
    a_password_set_by_a_configuration_command_counts_too,
    cli_rotates_a_password,
);

const OLD: &str = "old-station-password";

fn basic(user: &str, password: &[u8]) -> Vec<u8> {
    let mut raw = format!("{user}:").into_bytes();
    raw.extend_from_slice(password);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)).into_bytes()
}

async fn connect(server: &Server, station: &str, protocol: &str, password: &[u8]) -> Result<Station, WsError> {
    let header = basic(station, password);
    Station::connect_with(server, station, protocol, &[("Authorization", &header)]).await
}

/// Whether a connection with `password` is accepted; an accepted one is closed again.
async fn admitted(server: &Server, station: &str, protocol: &str, password: &[u8]) -> bool {
    match connect(server, station, protocol, password).await {
        Ok(s) => {
            s.close().await;
            true
        }
        Err(WsError::Http(response)) if response.status() == 401 => false,
        Err(other) => panic!("neither accepted nor 401: {other}"),
    }
}

/// A station held to profile 1 with the password `OLD`, connected with it and booted.
async fn secured(server: &Server, station: &str, protocol: &str) -> Station {
    let body = json!({"security_profile": 1, "basic_auth_password": OLD});
    let (status, view) = server.http("PUT", &format!("/api/v1/stations/{station}"), Some(body)).await;
    assert_eq!(status, 200, "{view}");
    let mut s = connect(server, station, protocol, OLD.as_bytes()).await.expect("accepted with the old password");
    let boot = s.call_ok("BootNotification", common::boot_payload(protocol, "Test", "T1")).await;
    assert_eq!(boot["status"], "Accepted");
    s
}

/// Asks for a rotation (with `body`) while `station` answers the CALL it gets with `answer`
/// (built from the CALL's payload); returns the CALL's action and payload and the API's answer.
async fn rotate(
    server: &Server,
    station: &mut Station,
    id: &str,
    body: Value,
    answer: impl FnOnce(&Value) -> Value,
) -> (String, Value, (u16, Value)) {
    let operator = server.spawn_http("POST", &format!("/api/v1/stations/{id}/password"), body);
    let (call_id, action, payload) = station.expect_call().await;
    station.reply(&call_id, answer(&payload)).await;
    (action, payload, operator.await.expect("operator task"))
}

/// The password a 1.6 ChangeConfiguration carries: the AuthorizationKey's hex decoding.
fn key_sent(payload: &Value) -> String {
    assert_eq!(payload["key"], "AuthorizationKey");
    let hex = payload["value"].as_str().expect("value");
    String::from_utf8(hex::decode(hex).expect("hex-encoded")).expect("text")
}

fn set_variables_answer(payload: &Value, status: &str) -> Value {
    let data = &payload["setVariableData"][0];
    json!({"setVariableResult": [{"attributeStatus": status, "component": data["component"], "variable": data["variable"]}]})
}

/// Waits until the station's session has ended.
async fn disconnected(server: &Server, station: &str) {
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    while server.get(&format!("/api/v1/stations/{station}")).await["connected"] == true {
        assert!(tokio::time::Instant::now() < deadline, "{station} still connected");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn password_events(server: &Server, station: &str) -> Vec<(String, String)> {
    let events = server.items(&format!("/api/v1/stations/{station}/events?kind=PasswordChange")).await;
    let pair =
        |e: &Value| (e["status"].as_str().unwrap_or("-").to_string(), e["detail"].as_str().unwrap_or("-").to_string());
    events.as_array().expect("events").iter().map(pair).collect()
}

async fn tc_073_rotation_accepted_by_a_16_station(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = secured(&server, "CP1", "ocpp1.6").await;
    let (action, payload, (status, answer)) =
        rotate(&server, &mut station, "CP1", json!({}), |_| json!({"status": "Accepted"})).await;
    assert_eq!(action, "ChangeConfiguration");
    let new = key_sent(&payload);
    assert_eq!(payload["value"].as_str().map(str::len), Some(40), "20 characters, hex-encoded: {payload}");
    assert!(new.bytes().all(|b| b.is_ascii_alphanumeric()), "{new}");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["changed"], &answer["status"], &answer["password"], &answer["security_profile"]),
        (&json!(true), &json!("Accepted"), &json!(new), &json!(1))
    );
    station.close().await;

    // The station reconnects with its new key, raw or as ChangeConfiguration carried it (OCTT
    // TC_085); the old one no longer opens the door.
    assert!(admitted(&server, "CP1", "ocpp1.6", new.as_bytes()).await);
    assert!(admitted(&server, "CP1", "ocpp1.6", payload["value"].as_str().expect("hex").as_bytes()).await);
    assert!(!admitted(&server, "CP1", "ocpp1.6", OLD.as_bytes()).await);
    assert_eq!(password_events(&server, "CP1").await, [("Accepted".to_string(), "rotation".to_string())]);
    // Shown once: nowhere afterwards.
    let station_view = server.get("/api/v1/stations/CP1").await.to_string();
    assert!(!station_view.contains(&new) && station_view.contains("\"basic_auth_password_set\":true"));
}

async fn tc_073_rotation_rejected_by_a_16_station_keeps_the_old_password(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = secured(&server, "CP1", "ocpp1.6").await;
    // A null password is as none (the document says so): Ström makes one.
    let (_, payload, (status, answer)) =
        rotate(&server, &mut station, "CP1", json!({"password": null}), |_| json!({"status": "Rejected"})).await;
    let refused = key_sent(&payload);
    assert_eq!(payload["value"].as_str().map(str::len), Some(40), "one Ström made: {payload}");
    assert_eq!(status, 502, "{answer}");
    assert_eq!(
        (&answer["changed"], &answer["status"], &answer["password"]),
        (&json!(false), &json!("Rejected"), &Value::Null)
    );
    station.close().await;
    assert!(admitted(&server, "CP1", "ocpp1.6", OLD.as_bytes()).await);
    assert!(!admitted(&server, "CP1", "ocpp1.6", refused.as_bytes()).await);
    assert_eq!(password_events(&server, "CP1").await, [("Rejected".to_string(), "rotation".to_string())]);
}

async fn tc_a_09_new_basic_auth_password_accepted(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = secured(&server, "CS1", "ocpp2.0.1").await;
    let given = "a-given-2.0.1-password-of-36-chars!!";
    let (action, payload, (status, answer)) =
        rotate(&server, &mut station, "CS1", json!({"password": given}), |p| set_variables_answer(p, "Accepted")).await;
    assert_eq!(action, "SetVariables");
    let data = &payload["setVariableData"][0];
    assert_eq!(
        (&data["component"]["name"], &data["variable"]["name"], &data["attributeValue"]),
        (&json!("SecurityCtrlr"), &json!("BasicAuthPassword"), &json!(given))
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!((&answer["changed"], &answer["password"]), (&json!(true), &json!(given)));
    station.close().await;
    assert!(admitted(&server, "CS1", "ocpp2.0.1", given.as_bytes()).await);
    assert!(!admitted(&server, "CS1", "ocpp2.0.1", OLD.as_bytes()).await);

    // Without a password in the body, Ström makes one of 32 letters and digits.
    let mut station = connect(&server, "CS1", "ocpp2.0.1", given.as_bytes()).await.expect("accepted");
    // A round trip: the session is registered (and the closed ones gone) before it is commanded.
    station.call_ok("Heartbeat", json!({})).await;
    let (_, payload, (status, answer)) =
        rotate(&server, &mut station, "CS1", json!({}), |p| set_variables_answer(p, "RebootRequired")).await;
    let made = payload["setVariableData"][0]["attributeValue"].as_str().expect("password").to_string();
    assert!(made.len() == 32 && made.bytes().all(|b| b.is_ascii_alphanumeric()), "{made}");
    assert_eq!((status, &answer["password"], &answer["status"]), (200, &json!(made), &json!("RebootRequired")));
    station.close().await;
    assert!(admitted(&server, "CS1", "ocpp2.0.1", made.as_bytes()).await);
    assert!(!admitted(&server, "CS1", "ocpp2.0.1", given.as_bytes()).await);
}

async fn tc_a_10_new_basic_auth_password_rejected(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = secured(&server, "CS1", "ocpp2.0.1").await;
    let given = "a-password-the-station-refuses";
    let (_, _, (status, answer)) =
        rotate(&server, &mut station, "CS1", json!({"password": given}), |p| set_variables_answer(p, "Rejected")).await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(
        (&answer["changed"], &answer["status"], &answer["password"]),
        (&json!(false), &json!("Rejected"), &Value::Null)
    );

    // A CALLERROR is no acceptance either.
    let operator = server.spawn_http("POST", "/api/v1/stations/CS1/password", json!({}));
    let (call_id, _, _) = station.expect_call().await;
    station.reply_error(&call_id, "InternalError", "no").await;
    let (status, answer) = operator.await.expect("operator task");
    assert_eq!(
        (status, &answer["changed"], &answer["status"]),
        (502, &json!(false), &json!("CallError InternalError"))
    );
    station.close().await;
    assert!(admitted(&server, "CS1", "ocpp2.0.1", OLD.as_bytes()).await);
    assert!(!admitted(&server, "CS1", "ocpp2.0.1", given.as_bytes()).await);
    let events = password_events(&server, "CS1").await;
    assert!(events.contains(&("Rejected".to_string(), "rotation".to_string())), "{events:?}");
    assert!(events.contains(&("CallError".to_string(), "rotation".to_string())), "{events:?}");
}

async fn a_station_that_does_not_answer_keeps_the_old_password(backend: Backend) {
    let server = Server::start_with_config(backend, "call_timeout_secs = 1").await;
    let mut station = secured(&server, "CP1", "ocpp1.6").await;
    let operator = server.spawn_http("POST", "/api/v1/stations/CP1/password", json!({}));
    let (_, _, payload) = station.expect_call().await;
    let (status, answer) = operator.await.expect("operator task");
    assert_eq!(status, 504, "{answer}");
    station.close().await;
    assert!(admitted(&server, "CP1", "ocpp1.6", OLD.as_bytes()).await);
    assert!(!admitted(&server, "CP1", "ocpp1.6", key_sent(&payload).as_bytes()).await);
    assert_eq!(password_events(&server, "CP1").await, [("Timeout".to_string(), "rotation".to_string())]);
}

async fn the_new_password_opens_the_door_while_it_is_in_flight(backend: Backend) {
    // A station that takes its new password may reconnect with it before Ström has stored its
    // answer (2.0.1 A01): while the command is in flight, both passwords are let in.
    let server = Server::start(backend).await;
    let mut station = secured(&server, "CS1", "ocpp2.0.1").await;
    let operator = server.spawn_http("POST", "/api/v1/stations/CS1/password", json!({}));
    let (_, _, payload) = station.expect_call().await;
    let new = payload["setVariableData"][0]["attributeValue"].as_str().expect("password").to_string();
    let again = connect(&server, "CS1", "ocpp2.0.1", new.as_bytes()).await.expect("in flight: let in");
    // That connection replaced the one the command was waiting on: no answer, so no change.
    let (status, answer) = operator.await.expect("operator task");
    assert_eq!(status, 502, "{answer}");
    again.close().await;
    assert!(!admitted(&server, "CS1", "ocpp2.0.1", new.as_bytes()).await, "no longer in flight");
    assert!(admitted(&server, "CS1", "ocpp2.0.1", OLD.as_bytes()).await);
    assert_eq!(password_events(&server, "CS1").await, [("Disconnected".to_string(), "rotation".to_string())]);
}

async fn rotation_needs_a_connected_station_and_a_valid_password(backend: Backend) {
    let server = Server::start(backend).await;
    let station = secured(&server, "CP1", "ocpp1.6").await;
    let post = |body: Value| server.http("POST", "/api/v1/stations/CP1/password", Some(body));
    let (status, answer) = post(json!({"password": "x".repeat(21)})).await;
    assert_eq!(status, 422, "a 1.6 AuthorizationKey is 16-20 characters: {answer}");
    assert!(!answer.to_string().contains(&"x".repeat(21)), "an error never quotes the password: {answer}");
    for body in
        [json!({"password": "short"}), json!({"password": "tab\tis not printable ascii"}), json!({"password": 7})]
    {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
    }
    let (status, answer) = post(json!({"passwd": "0123456789abcdef"})).await;
    assert_eq!(status, 422, "{answer}");
    station.close().await;
    // Let the session end before asking again.
    disconnected(&server, "CP1").await;
    let (status, answer) = post(json!({})).await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("not connected")), "{answer}");
    let (status, _) = server.http("POST", "/api/v1/stations/NOPE/password", Some(json!({}))).await;
    assert_eq!(status, 404);
    // A body is needed: a browser's simple request (no JSON body) cannot cause a rotation.
    let (status, _) = server.http("POST", "/api/v1/stations/CP1/password", None).await;
    assert_eq!(status, 400);
    assert!(admitted(&server, "CP1", "ocpp1.6", OLD.as_bytes()).await, "nothing changed");
    assert_eq!(password_events(&server, "CP1").await, []);
}

async fn a_password_set_by_a_configuration_command_counts_too(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = secured(&server, "CP1", "ocpp1.6").await;
    let new = "set-by-a-command!";
    let key = json!({"key": "AuthorizationKey", "value": hex::encode(new)});
    let (_, _, (status, _)) = server
        .answered(
            &mut station,
            "POST",
            "/api/v1/stations/CP1/commands/ChangeConfiguration",
            key,
            json!({"status": "Accepted"}),
        )
        .await;
    assert_eq!(status, 200);
    // A key that could never verify is refused before it is sent.
    let (status, answer) = server
        .http(
            "POST",
            "/api/v1/stations/CP1/commands/ChangeConfiguration",
            Some(json!({"key": "AuthorizationKey", "value": "short"})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    station.close().await;
    assert!(admitted(&server, "CP1", "ocpp1.6", new.as_bytes()).await);
    assert!(!admitted(&server, "CP1", "ocpp1.6", OLD.as_bytes()).await);
    assert_eq!(password_events(&server, "CP1").await, [("Accepted".to_string(), "command".to_string())]);

    // 2.0.1, through the configuration endpoint: rejected, so nothing changes.
    let mut station = secured(&server, "CS1", "ocpp2.0.1").await;
    let body = json!({"value": "refused-by-the-station"});
    let operator = server.spawn_http("PUT", "/api/v1/stations/CS1/configuration/SecurityCtrlr.BasicAuthPassword", body);
    let (call_id, action, payload) = station.expect_call().await;
    assert_eq!(action, "SetVariables");
    station.reply(&call_id, set_variables_answer(&payload, "Rejected")).await;
    assert_eq!(operator.await.expect("operator").0, 200, "the command itself was answered");
    station.close().await;
    assert!(admitted(&server, "CS1", "ocpp2.0.1", OLD.as_bytes()).await);
    assert_eq!(password_events(&server, "CS1").await, [("Rejected".to_string(), "command".to_string())]);
}

async fn cli_rotates_a_password(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = secured(&server, "CP1", "ocpp1.6").await;
    let url = format!("http://{}", server.addr);
    let run = || {
        let url = url.clone();
        tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
            .args(["station", "rotate-password", "CP1", "--url", &url])
            .env("STROM_NEW_STATION_PASSWORD", "given-by-the-cli-1")
            .env("STROM_LOG", "error")
            .output()
    };
    let cli = tokio::spawn(run());
    let (call_id, _, payload) = station.expect_call().await;
    assert_eq!(key_sent(&payload), "given-by-the-cli-1");
    station.reply(&call_id, json!({"status": "Accepted"})).await;
    let output = cli.await.expect("task").expect("strom runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout} {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("given-by-the-cli-1") && stdout.contains("Accepted"), "{stdout}");

    let cli = tokio::spawn(run());
    let (call_id, _, _) = station.expect_call().await;
    station.reply(&call_id, json!({"status": "Rejected"})).await;
    let output = cli.await.expect("task").expect("strom runs");
    assert!(!output.status.success(), "a refused rotation is a failure");
    assert!(String::from_utf8_lossy(&output.stderr).contains("kept its old password"));
}
