//! Trust on first use (issue 25 item 1; `secure_new_stations = true` with
//! `unknown_stations = "accept"`): a station Ström accepts for the first time is sent a password
//! of its own right after its boot's answer, and once it takes it, it must connect with it
//! (security profile 1). A station that refuses stays at profile 0, and that is recorded. That
//! only a station's first boot counts is the store's to say (csms-store tests/security.rs) and
//! core's rule to use (`security::secure_on_first_use`).

mod common;

use base64::Engine;
use common::{Backend, Server, Station};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Error as WsError;

both_backends!(
    a_new_16_station_that_takes_its_password_must_use_it,
    a_new_201_station_that_takes_its_password_must_use_it,
    a_new_station_that_refuses_stays_without_credentials,
);

const CONFIG: &str = "secure_new_stations = true\nunknown_stations = \"accept\"\n";

fn basic(user: &str, password: &[u8]) -> Vec<u8> {
    let mut raw = format!("{user}:").into_bytes();
    raw.extend_from_slice(password);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)).into_bytes()
}

/// Whether a connection (with `password`, or without credentials) is accepted; an accepted one
/// is closed again.
async fn admitted(server: &Server, station: &str, protocol: &str, password: Option<&[u8]>) -> bool {
    let header = password.map(|p| basic(station, p));
    let headers: Vec<(&str, &[u8])> = header.as_deref().map(|h| ("Authorization", h)).into_iter().collect();
    match Station::connect_with(server, station, protocol, &headers).await {
        Ok(s) => {
            s.close().await;
            true
        }
        Err(WsError::Http(response)) if response.status() == 401 => false,
        Err(other) => panic!("neither accepted nor 401: {other}"),
    }
}

/// A station that has never been seen boots and is Accepted; returns it with the CALL Ström sends
/// it next (message id, action, payload).
async fn first_boot(server: &Server, id: &str, protocol: &str) -> (Station, (String, String, Value)) {
    let mut station = Station::connect(server, id, protocol).await.expect("connects without credentials");
    let boot = station.call_ok("BootNotification", common::boot_payload(protocol, "Test", "T1")).await;
    assert_eq!(boot["status"], "Accepted");
    let call = station.expect_call().await;
    (station, call)
}

/// The station's `PasswordChange` events, once there is one: (status, detail). The event is
/// written after the station's answer is handled, so it is waited for.
async fn password_events(server: &Server, station: &str) -> Vec<(String, String)> {
    let path = format!("/api/v1/stations/{station}/events?kind=PasswordChange");
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    loop {
        let events = server.items(&path).await;
        let events = events.as_array().expect("events");
        if !events.is_empty() {
            let pair =
                |e: &Value| (e["status"].as_str().unwrap_or("-").into(), e["detail"].as_str().unwrap_or("-").into());
            return events.iter().map(pair).collect();
        }
        assert!(tokio::time::Instant::now() < deadline, "no PasswordChange event for {station}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn accepted() -> Vec<(String, String)> {
    vec![("Accepted".to_string(), "trust on first use".to_string())]
}

async fn a_new_16_station_that_takes_its_password_must_use_it(backend: Backend) {
    let server = Server::start_with_config(backend, CONFIG).await;
    let (mut station, (call_id, action, payload)) = first_boot(&server, "CP1", "ocpp1.6").await;
    assert_eq!((action.as_str(), &payload["key"]), ("ChangeConfiguration", &json!("AuthorizationKey")));
    let key = hex::decode(payload["value"].as_str().expect("hex")).expect("hex-encoded");
    assert_eq!(key.len(), 20);
    station.reply(&call_id, json!({"status": "Accepted"})).await;
    assert_eq!(password_events(&server, "CP1").await, accepted());
    station.close().await;

    let view = server.get("/api/v1/stations/CP1").await;
    assert_eq!((&view["security_profile"], &view["basic_auth_password_set"]), (&json!(1), &json!(true)));
    assert!(!admitted(&server, "CP1", "ocpp1.6", None).await, "credentials are now required");
    assert!(!admitted(&server, "CP1", "ocpp1.6", Some(b"some-other-password")).await);
    assert!(admitted(&server, "CP1", "ocpp1.6", Some(&key)).await);
    assert!(admitted(&server, "CP1", "ocpp1.6", payload["value"].as_str().map(str::as_bytes)).await);
}

async fn a_new_201_station_that_takes_its_password_must_use_it(backend: Backend) {
    let server = Server::start_with_config(backend, CONFIG).await;
    let (mut station, (call_id, action, payload)) = first_boot(&server, "CS1", "ocpp2.0.1").await;
    assert_eq!(action, "SetVariables");
    let data = &payload["setVariableData"][0];
    assert_eq!(
        (&data["component"]["name"], &data["variable"]["name"]),
        (&json!("SecurityCtrlr"), &json!("BasicAuthPassword"))
    );
    let password = data["attributeValue"].as_str().expect("password").to_string();
    let result = json!({"attributeStatus": "Accepted", "component": data["component"], "variable": data["variable"]});
    station.reply(&call_id, json!({"setVariableResult": [result]})).await;
    assert_eq!(password_events(&server, "CS1").await, accepted());
    station.close().await;

    assert_eq!(server.get("/api/v1/stations/CS1").await["security_profile"], 1);
    assert!(!admitted(&server, "CS1", "ocpp2.0.1", None).await);
    assert!(admitted(&server, "CS1", "ocpp2.0.1", Some(password.as_bytes())).await);
}

async fn a_new_station_that_refuses_stays_without_credentials(backend: Backend) {
    let server = Server::start_with_config(backend, CONFIG).await;
    let (mut station, (call_id, _, _)) = first_boot(&server, "CP1", "ocpp1.6").await;
    station.reply(&call_id, json!({"status": "Rejected"})).await;
    assert_eq!(password_events(&server, "CP1").await, [("Rejected".to_string(), "trust on first use".to_string())]);
    station.close().await;
    let view = server.get("/api/v1/stations/CP1").await;
    assert_eq!((&view["security_profile"], &view["basic_auth_password_set"]), (&json!(0), &json!(false)));
    assert!(admitted(&server, "CP1", "ocpp1.6", None).await);

    let (mut station, (call_id, _, payload)) = first_boot(&server, "CS1", "ocpp2.0.1").await;
    let data = &payload["setVariableData"][0];
    let result = json!({"attributeStatus": "Rejected", "component": data["component"], "variable": data["variable"]});
    station.reply(&call_id, json!({"setVariableResult": [result]})).await;
    assert_eq!(password_events(&server, "CS1").await, [("Rejected".to_string(), "trust on first use".to_string())]);
    station.close().await;
    assert_eq!(server.get("/api/v1/stations/CS1").await["security_profile"], 0);
    assert!(admitted(&server, "CS1", "ocpp2.0.1", None).await);
}
