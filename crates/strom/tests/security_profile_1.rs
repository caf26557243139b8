//! OCPP security profile 1 (1.6 security whitepaper §2, 2.0.1 block A, issue 25 item 1): HTTP
//! Basic credentials on the WebSocket upgrade, checked before any session exists. Real
//! handshakes on loopback: accepted with the right credentials (the AuthorizationKey raw or hex),
//! refused with 401 otherwise, counted and recorded; an impostor never replaces a charging
//! station's session; the password is never shown or logged.

mod common;

use base64::Engine;
use common::{Backend, Server, Station};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Error as WsError;

both_backends!(
    profile_1_accepts_the_right_credentials_and_refuses_the_rest,
    authorization_key_in_raw_and_hex_form,
    profile_0_station_connects_without_credentials,
    impostor_cannot_take_over_a_charging_station,
    password_is_write_only,
    security_settings_are_checked,
    cli_sets_the_security_profile,
);

const PASSWORD: &str = "s3cret-station-pass";

fn basic(user: &str, password: &[u8]) -> Vec<u8> {
    let mut raw = format!("{user}:").into_bytes();
    raw.extend_from_slice(password);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)).into_bytes()
}

/// Gives `station` profile 1 with `password` through the API.
async fn secure(server: &Server, station: &str, password: &str) -> Value {
    let body = json!({"security_profile": 1, "basic_auth_password": password});
    let (status, view) = server.http("PUT", &format!("/api/v1/stations/{station}"), Some(body)).await;
    assert_eq!(status, 200, "{view}");
    view
}

async fn connect(server: &Server, station: &str, authorization: Option<&[u8]>) -> Result<Station, WsError> {
    let headers: Vec<(&str, &[u8])> = authorization.map(|a| ("Authorization", a)).into_iter().collect();
    Station::connect_with(server, station, "ocpp1.6", &headers).await
}

/// Connects and expects the handshake refused with 401 and a Basic challenge.
async fn refused(server: &Server, station: &str, authorization: Option<&[u8]>) {
    match connect(server, station, authorization).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 401);
            let challenge = response.headers().get("www-authenticate").expect("a challenge").as_bytes();
            assert_eq!(challenge, "Basic realm=\"Ström\"".as_bytes());
        }
        Err(other) => panic!("expected 401, got {other}"),
        Ok(_) => panic!("connection with {:?} accepted", authorization.map(String::from_utf8_lossy)),
    }
}

async fn connected(server: &Server, station: &str) -> bool {
    server.get(&format!("/api/v1/stations/{station}")).await["connected"] == true
}

async fn refused_count(server: &Server, reason: &str) -> u64 {
    server.metric(&format!("strom_handshakes_refused_total{{reason=\"{reason}\"}}")).await
}

async fn profile_1_accepts_the_right_credentials_and_refuses_the_rest(backend: Backend) {
    let server = Server::start(backend).await;
    let view = secure(&server, "CP1", PASSWORD).await;
    assert_eq!(view["security_profile"], 1);
    assert_eq!(view["basic_auth_password_set"], true);

    refused(&server, "CP1", None).await;
    refused(&server, "CP1", Some(&basic("CP1", b"s3cret-station-pasX"))).await;
    refused(&server, "CP1", Some(&basic("CP2", PASSWORD.as_bytes()))).await;
    refused(&server, "CP1", Some(b"Basic not*base64")).await;
    refused(&server, "CP1", Some(b"Bearer abc")).await;
    assert!(!connected(&server, "CP1").await, "a refused handshake leaves no session");
    for (reason, count) in [("no_credentials", 1), ("wrong_password", 1), ("wrong_username", 1), ("malformed", 2)] {
        assert_eq!(refused_count(&server, reason).await, count, "{reason}");
    }
    let events = server.items("/api/v1/stations/CP1/events?kind=InvalidCredentials").await;
    let mut reasons: Vec<&str> =
        events.as_array().expect("events").iter().filter_map(|e| e["detail"].as_str()).collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["malformed", "malformed", "no_credentials", "wrong_password", "wrong_username"]);

    let mut station = connect(&server, "CP1", Some(&basic("CP1", PASSWORD.as_bytes()))).await.expect("accepted");
    let boot = station.call_ok("BootNotification", common::boot_payload("ocpp1.6", "Test", "T1")).await;
    assert_eq!(boot["status"], "Accepted");
    assert!(connected(&server, "CP1").await);

    // 2.0.1 stations use the same credentials (SecurityCtrlr.BasicAuthPassword).
    secure(&server, "CS201", PASSWORD).await;
    let headers: [(&str, &[u8]); 1] = [("Authorization", &basic("CS201", PASSWORD.as_bytes()))];
    let mut station = Station::connect_with(&server, "CS201", "ocpp2.0.1", &headers).await.expect("accepted");
    let boot = station.call_ok("BootNotification", common::boot_payload("ocpp2.0.1", "Test", "T1")).await;
    assert_eq!(boot["status"], "Accepted");
    match Station::connect_with(&server, "CS201", "ocpp2.0.1", &[]).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {:?}", other.err()),
    }
}

async fn authorization_key_in_raw_and_hex_form(backend: Backend) {
    let server = Server::start(backend).await;
    // The operator stored the password; the station sends it hex-encoded.
    secure(&server, "CP1", PASSWORD).await;
    let hex = hex::encode(PASSWORD);
    let mut station = connect(&server, "CP1", Some(&basic("CP1", hex.as_bytes()))).await.expect("hex form accepted");
    station.call_ok("Heartbeat", json!({})).await;
    station.close().await;

    // The operator stored a 1.6 AuthorizationKey as its hex form (as ChangeConfiguration carries
    // it); the station sends the decoded key bytes (OCTT TC_085).
    let key: [u8; 16] =
        [0x9f, 0x01, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0];
    secure(&server, "CP2", &hex::encode_upper(key)).await;
    let mut station = connect(&server, "CP2", Some(&basic("CP2", &key))).await.expect("raw key accepted");
    station.call_ok("Heartbeat", json!({})).await;
    refused(&server, "CP2", Some(&basic("CP2", &[0x9e; 16]))).await;
}

async fn profile_0_station_connects_without_credentials(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = server.booted("CP0").await;
    station.call_ok("Heartbeat", json!({})).await;
    let view = server.get("/api/v1/stations/CP0").await;
    assert_eq!(view["security_profile"], 0);
    assert_eq!(view["basic_auth_password_set"], false);
    // A station moved back to profile 0 connects without credentials again, its password kept.
    secure(&server, "CP1", PASSWORD).await;
    refused(&server, "CP1", None).await;
    let (status, view) = server.http("PUT", "/api/v1/stations/CP1", Some(json!({"security_profile": 0}))).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["basic_auth_password_set"], true);
    server.booted("CP1").await;
}

async fn impostor_cannot_take_over_a_charging_station(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    secure(&server, "CP1", PASSWORD).await;
    let mut station = connect(&server, "CP1", Some(&basic("CP1", PASSWORD.as_bytes()))).await.expect("accepted");
    let boot = station.call_ok("BootNotification", common::boot_payload("ocpp1.6", "Test", "T1")).await;
    assert_eq!(boot["status"], "Accepted");
    let (tx, status) = station.start(1, "TAG1", 1_000, "2026-12-07T10:00:00.000Z").await;
    assert_eq!(status, "Accepted");
    let before = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(before["active"], true);

    refused(&server, "CP1", None).await;
    refused(&server, "CP1", Some(&basic("CP1", b"guessed-password-123"))).await;

    // The real session stays: it is still answered, and the API shows it connected.
    station.call_ok("Heartbeat", json!({})).await;
    let values = json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-12-07T10:05:00.000Z",
        "sampledValue": [{"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]});
    station.call_ok("MeterValues", values).await;
    assert!(connected(&server, "CP1").await);
    let after = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(after["active"], true);
    assert_eq!(after["stopped_at"], Value::Null);
    assert_eq!(after["meter_start_wh"], before["meter_start_wh"]);
    assert_eq!(after["id_token"], "TAG1");

    let stop = json!({"transactionId": tx, "meterStop": 2_000, "timestamp": "2026-12-07T10:10:00.000Z"});
    station.call_ok("StopTransaction", stop).await;
    assert_eq!(server.get(&format!("/api/v1/transactions/{tx}")).await["energy_wh"].as_f64(), Some(1_000.0));
}

async fn password_is_write_only(backend: Backend) {
    let server = Server::start_logging(backend, "debug").await;
    let view = secure(&server, "CP1", PASSWORD).await;
    let mut station = connect(&server, "CP1", Some(&basic("CP1", PASSWORD.as_bytes()))).await.expect("accepted");
    station.call_ok("BootNotification", common::boot_payload("ocpp1.6", "Test", "T1")).await;
    refused(&server, "CP1", Some(&basic("CP1", b"wrong-password-9999"))).await;
    let (status, answer) =
        server.http("PUT", "/api/v1/stations/CP1", Some(json!({"basic_auth_password": "tiny-pw-77"}))).await;
    assert_eq!(status, 422, "{answer}");

    let answers = [
        view,
        answer,
        server.get("/api/v1/stations/CP1").await,
        server.items("/api/v1/stations").await,
        server.items("/api/v1/stations/CP1/commands").await,
        server.items("/api/v1/stations/CP1/events").await,
        server.items("/api/v1/stations/CP1/messages").await,
    ];
    for answer in &answers {
        let text = answer.to_string();
        assert!(!text.contains(PASSWORD) && !text.contains("wrong-password-9999"), "password shown: {text}");
        assert!(!text.contains("argon2"), "hash shown: {text}");
    }
    let log = server.log_output();
    assert!(!log.is_empty(), "the server logged at debug");
    for secret in [PASSWORD, "wrong-password-9999", "tiny-pw-77"] {
        assert!(!log.contains(secret), "{secret:?} logged");
    }
    let encoded = String::from_utf8(basic("CP1", PASSWORD.as_bytes())).expect("ASCII");
    assert!(!log.contains(&encoded["Basic ".len()..]), "credentials logged");
}

async fn security_settings_are_checked(backend: Backend) {
    let server = Server::start(backend).await;
    let put = |body: Value| async { server.http("PUT", "/api/v1/stations/CP1", Some(body)).await };
    // Without a stored password: a conflict with what is stored (409), not a bad field.
    let (status, answer) = put(json!({"security_profile": 1})).await;
    assert_eq!(status, 409, "profile 1 without a password: {answer}");
    let (status, answer) = put(json!({"security_profile": 2})).await;
    assert_eq!(status, 409, "profile 2 without a password: {answer}");
    for bad in [
        json!({"security_profile": 4}),
        json!({"security_profile": "1"}),
        json!({"basic_auth_password": 42}),
        json!({"basic_auth_password": "x".repeat(41)}),
        json!({"basic_auth_password": "fifteen-chars!!"}),
        json!({"basic_auth_password": "non-ascii-päss-word"}),
        json!({}),
    ] {
        let (status, answer) = put(bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {answer}");
    }
    let (status, _) = server.http("GET", "/api/v1/stations/CP1", None).await;
    assert_eq!(status, 404, "nothing refused was stored");
    // Profile 3 authenticates by client certificate: no password needed.
    let (status, view) = server.http("PUT", "/api/v1/stations/CP3", Some(json!({"security_profile": 3}))).await;
    assert_eq!((status, &view["security_profile"], &view["basic_auth_password_set"]), (200, &json!(3), &json!(false)));

    // A password alone is stored; profile 1 may then be set on its own.
    let (status, view) = put(json!({"basic_auth_password": PASSWORD})).await;
    assert_eq!((status, &view["security_profile"], &view["basic_auth_password_set"]), (200, &json!(0), &json!(true)));
    let (status, view) = put(json!({"security_profile": 1})).await;
    assert_eq!((status, &view["security_profile"]), (200, &json!(1)));
    // The operator's registration is kept apart.
    let (status, view) = put(json!({"registration_status": "Pending"})).await;
    assert_eq!((status, &view["registration_status"], &view["security_profile"]), (200, &json!("Pending"), &json!(1)));
}

async fn cli_sets_the_security_profile(backend: Backend) {
    let server = Server::start(backend).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["station", "set", "CP1", "--security-profile", "1"])
        .env("STROM_URL", format!("http://{}", server.addr))
        .env("STROM_BASIC_AUTH_PASSWORD", PASSWORD)
        .output()
        .await
        .expect("strom runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.lines().nth(1).is_some_and(|l| l.starts_with("CP1") && l.contains(" 1 ") && l.ends_with("set")),
        "{stdout}"
    );
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    refused(&server, "CP1", None).await;
    connect(&server, "CP1", Some(&basic("CP1", PASSWORD.as_bytes()))).await.expect("accepted");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["station", "set", "CP2", "--security-profile", "2"])
        .env("STROM_URL", format!("http://{}", server.addr))
        .output()
        .await
        .expect("strom runs");
    assert!(!output.status.success(), "profile 2 needs a password");
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs a basic_auth_password"));
    // A plain connection below a station's profile 2 is refused, whatever its credentials.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["station", "set", "CP2", "--security-profile", "2", "--basic-auth-password", PASSWORD])
        .env("STROM_URL", format!("http://{}", server.addr))
        .output()
        .await
        .expect("strom runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    refused(&server, "CP2", Some(&basic("CP2", PASSWORD.as_bytes()))).await;
    assert_eq!(refused_count(&server, "tls_required").await, 1);
}
