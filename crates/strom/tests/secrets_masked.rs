//! Secrets are write-only everywhere (issue 25 item 2): a station's Basic-auth password (1.6
//! AuthorizationKey, 2.0.1 SecurityCtrlr.BasicAuthPassword), a network profile's APN and VPN
//! secrets and any private key are never returned by any endpoint or CLI view, whoever sent them (Ström, or a
//! station reporting them back): not the command's answer, the command log, the message log,
//! the configuration keys, the device model, the station's events or its faults. Rows an older
//! Ström kept in plain text are masked when read.

mod common;

use common::{Backend, Server, Station};
use serde_json::{json, Value};

both_backends!(
    no_view_shows_a_16_station_password,
    no_view_shows_a_201_station_password,
    rows_kept_in_plain_text_are_masked_when_read,
);

const T0: &str = "2026-03-01T10:00:00.000Z";

/// Every view of a station an operator (of any role) can read, as one text.
async fn every_view(server: &Server, station: &str) -> String {
    let mut all = String::new();
    for path in ["commands", "messages", "events"] {
        all.push_str(&server.items(&format!("/api/v1/stations/{station}/{path}")).await.to_string());
    }
    for path in ["configuration", "variables"] {
        all.push_str(&server.get(&format!("/api/v1/stations/{station}/{path}")).await.to_string());
    }
    all.push_str(&server.get(&format!("/api/v1/stations/{station}")).await.to_string());
    all.push_str(&server.items(&format!("/api/v1/faults?station_id={station}")).await.to_string());
    all
}

/// Everything the store kept about a station, read through the store itself rather than the
/// API's views (which mask again on the way out): Ström masks secrets before it keeps anything.
async fn stored(server: Server, station: &str) -> String {
    let (_, db) = server.terminate().await;
    let store = csms_store::Store::open(&db.url, csms_store::StoreOptions::default()).await.expect("store");
    let page = csms_store::PageRequest { after: None, limit: 1000, from: None, to: None };
    let mut all = String::new();
    for m in store.messages(station, &page).await.expect("messages").items {
        all.push_str(&m.frame);
    }
    for c in store.commands(station, &page).await.expect("commands").items {
        all.push_str(&c.request);
        all.push_str(c.response.as_deref().unwrap_or_default());
    }
    for k in store.configuration(station).await.expect("configuration") {
        all.push_str(k.value.as_deref().unwrap_or_default());
    }
    for v in store.device_model(station).await.expect("device model") {
        all.push_str(v.value.as_deref().unwrap_or_default());
    }
    for e in store.station_events(station, None, &page).await.expect("events").items {
        all.push_str(e.detail.as_deref().unwrap_or_default());
    }
    for f in store
        .faults(&csms_store::FaultFilter { station_id: Some(station), ..Default::default() }, &page)
        .await
        .expect("faults")
        .items
    {
        all.push_str(&f.status);
    }
    store.close().await;
    assert!(all.contains("***"), "masked values are kept as masked: {all}");
    all
}

fn assert_hidden(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{secret:?} shown in {text}");
    }
}

/// Makes an API request that sends one CALL to `station`, which answers it with `answer`
/// (built from the CALL's payload); returns the API's answer.
async fn answered(
    server: &Server,
    station: &mut Station,
    method: &'static str,
    path: &str,
    body: Value,
    answer: impl FnOnce(&Value) -> Value,
) -> (u16, Value) {
    let operator = server.spawn_http(method, path, body);
    let (call_id, _, payload) = station.expect_call().await;
    station.reply(&call_id, answer(&payload)).await;
    operator.await.expect("operator task")
}

async fn no_view_shows_a_16_station_password(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = server.booted("CP1").await;
    let (status, rotation) = answered(
        &server,
        &mut station,
        "POST",
        "/api/v1/stations/CP1/password",
        json!({}),
        |_| json!({"status": "Accepted"}),
    )
    .await;
    assert_eq!(status, 200, "{rotation}");
    let password = rotation["password"].as_str().expect("shown once").to_string();
    let hex = hex::encode(&password);

    // Firmware that reports the key back (the whitepaper makes it write-only): masked in the
    // command's answer, and in what Ström keeps of it.
    let leaked = "leaked-by-the-firmware";
    let (status, answer) = answered(
        &server,
        &mut station,
        "POST",
        "/api/v1/stations/CP1/configuration/fetch",
        json!({"keys": []}),
        |_| {
            json!({"configurationKey": [{"key": "AuthorizationKey", "readonly": false, "value": leaked},
                                        {"key": "HeartbeatInterval", "readonly": false, "value": "300"}]})
        },
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["configurationKey"][0]["value"], "***");
    assert_eq!(answer["configurationKey"][1]["value"], "300", "other keys as they are");

    // A key the station refused is masked in the logs just the same.
    let refused = hex::encode("refused-new-key!");
    let (status, _) = answered(
        &server,
        &mut station,
        "POST",
        "/api/v1/stations/CP1/commands/ChangeConfiguration",
        json!({"key": "AuthorizationKey", "value": refused}),
        |_| json!({"status": "Rejected"}),
    )
    .await;
    assert_eq!(status, 200);

    // The CLI shows what the API shows.
    let url = format!("http://{}", server.addr);
    let cli = tokio::spawn(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
            .args(["config", "get", "CP1", "AuthorizationKey", "--url", &url])
            .env("STROM_LOG", "error")
            .output(),
    );
    let (call_id, _, _) = station.expect_call().await;
    station
        .reply(&call_id, json!({"configurationKey": [{"key": "AuthorizationKey", "readonly": false, "value": leaked}]}))
        .await;
    let output = cli.await.expect("task").expect("strom runs");
    assert!(output.status.success());
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("AuthorizationKey") && shown.contains("***"), "{shown}");
    assert_hidden(&shown, &[leaked]);

    // A private key put into a DataTransfer is not kept either.
    let key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";
    station.call_ok("DataTransfer", json!({"vendorId": "com.example", "data": key})).await;

    station.close().await;
    let views = every_view(&server, "CP1").await;
    assert_hidden(&views, &[&password, &hex, leaked, &refused, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"]);
    let configuration = server.get("/api/v1/stations/CP1/configuration").await;
    let key = configuration.as_array().expect("keys").iter().find(|k| k["key"] == "AuthorizationKey").expect("kept");
    assert_eq!(key["value"], "***");
    let commands = server.items("/api/v1/stations/CP1/commands").await;
    assert!(commands.as_array().expect("commands").iter().any(|c| c["request"]["value"] == "***"), "{commands}");
    let secrets = [&password[..], &hex, leaked, &refused, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"];
    assert_hidden(&stored(server, "CP1").await, &secrets);
}

async fn no_view_shows_a_201_station_password(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = server.booted201("CS1").await;
    let (status, rotation) =
        answered(&server, &mut station, "POST", "/api/v1/stations/CS1/password", json!({}), |p| {
            let data = &p["setVariableData"][0];
            json!({"setVariableResult": [{"attributeStatus": "Accepted", "component": data["component"], "variable": data["variable"]}]})
        })
        .await;
    assert_eq!(status, 200, "{rotation}");
    let password = rotation["password"].as_str().expect("shown once").to_string();

    let security = json!({"name": "SecurityCtrlr"});
    let variable = json!({"name": "BasicAuthPassword"});
    let read_back = "read-back-by-GetVariables";
    let (status, answer) = answered(
        &server,
        &mut station,
        "POST",
        "/api/v1/stations/CS1/commands/GetVariables",
        json!({"getVariableData": [{"component": security, "variable": variable}]}),
        |_| {
            json!({"getVariableResult": [{"attributeStatus": "Accepted", "component": security, "variable": variable,
                                          "attributeValue": read_back}]})
        },
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["getVariableResult"][0]["attributeValue"], "***");

    // The station reports the value itself: in a device-model report, and in an event.
    let reported = "reported-in-NotifyReport";
    let report = json!({"requestId": 1, "generatedAt": T0, "seqNo": 0, "tbc": false, "reportData": [{
        "component": security, "variable": variable,
        "variableAttribute": [{"type": "Actual", "value": reported, "mutability": "WriteOnly"}],
        "variableCharacteristics": {"dataType": "string", "supportsMonitoring": false}}]});
    station.call_ok("NotifyReport", report).await;
    let in_event = "reported-in-NotifyEvent";
    let event = json!({"generatedAt": T0, "seqNo": 0, "eventData": [{"eventId": 1, "timestamp": T0, "trigger": "Alerting",
        "actualValue": in_event, "component": security, "variable": variable, "eventNotificationType": "HardWiredNotification"}]});
    station.call_ok("NotifyEvent", event).await;

    // A network profile's secrets.
    let profile = json!({"configurationSlot": 1, "connectionData": {
        "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": "wss://csms.example/ocpp", "messageTimeout": 30,
        "securityProfile": 1, "ocppInterface": "Wireless0",
        "apn": {"apn": "internet", "apnPassword": "the-apn-password", "apnAuthentication": "AUTO"},
        "vpn": {"server": "vpn.example", "user": "u", "password": "the-vpn-password", "key": "the-vpn-key", "type": "IPSec"}}});
    let (status, _) = answered(
        &server,
        &mut station,
        "POST",
        "/api/v1/stations/CS1/commands/SetNetworkProfile",
        profile,
        |_| json!({"status": "Accepted"}),
    )
    .await;
    assert_eq!(status, 200);

    station.close().await;
    let views = every_view(&server, "CS1").await;
    assert_hidden(
        &views,
        &[&password, read_back, reported, in_event, "the-apn-password", "the-vpn-password", "the-vpn-key"],
    );
    let variables = server.get("/api/v1/stations/CS1/variables").await;
    let kept =
        variables.as_array().expect("variables").iter().find(|v| v["variable"] == "BasicAuthPassword").expect("kept");
    assert_eq!(kept["value"], "***");
    let events = server.items("/api/v1/stations/CS1/events?kind=NotifyEvent").await;
    assert_eq!(events[0]["detail"], "SecurityCtrlr.BasicAuthPassword=***");
    // The message log keeps the frames, masked, not dropped.
    let messages = server.items("/api/v1/stations/CS1/messages").await;
    let frames: Vec<&Value> = messages.as_array().expect("messages").iter().map(|m| &m["frame"]).collect();
    assert!(frames
        .iter()
        .any(|f| f[2] == "NotifyReport" && f[3]["reportData"][0]["variableAttribute"][0]["value"] == "***"));
    assert!(frames.iter().any(|f| f[2] == "SetVariables" && f[3]["setVariableData"][0]["attributeValue"] == "***"));
    let secrets = [&password[..], read_back, reported, in_event, "the-apn-password", "the-vpn-password", "the-vpn-key"];
    assert_hidden(&stored(server, "CS1").await, &secrets);
}

async fn rows_kept_in_plain_text_are_masked_when_read(backend: Backend) {
    let server = Server::start(backend).await;
    server.booted("CP1").await.close().await;
    let secret = "kept-before-masking-1";
    let mut db = server.database().await;
    let request = json!({"key": "AuthorizationKey", "value": secret}).to_string();
    sqlx::query(
        "INSERT INTO commands (station_id, action, request, status, response, requested_at, finished_at) \
         VALUES ('CP1', 'ChangeConfiguration', $1, 'Answered', '{\"status\":\"Accepted\"}', $2, $2)",
    )
    .bind(&request)
    .bind(T0)
    .execute(&mut db)
    .await
    .expect("old command row");
    sqlx::query(
        "INSERT INTO station_configuration (station_id, key, value, readonly, updated_at) VALUES ('CP1', 'AuthorizationKey', $1, 0, $2)",
    )
    .bind(secret)
    .bind(T0)
    .execute(&mut db)
    .await
    .expect("old configuration row");
    sqlx::query(
        "INSERT INTO station_events (station_id, kind, status, detail, at) VALUES ('CP1', 'NotifyEvent', 'Alerting', $1, $2)",
    )
    .bind(format!("SecurityCtrlr.BasicAuthPassword={secret}"))
    .bind(T0)
    .execute(&mut db)
    .await
    .expect("old event row");
    let views = every_view(&server, "CP1").await;
    assert_hidden(&views, &[secret]);
    let commands = server.items("/api/v1/stations/CP1/commands").await;
    assert_eq!(commands[0]["request"], json!({"key": "AuthorizationKey", "value": "***"}));
}
