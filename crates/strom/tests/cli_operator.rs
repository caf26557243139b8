//! The operator's everyday commands, run as the binary against a live server and read as text
//! (issue 26 item 3): tags blocked and unblocked, the command log, a station's messages as a
//! trace, faults with open ones first (and by category), sessions exported and stopped by
//! station, and a non-zero exit when the station refuses a command.

mod common;

use common::{Backend, Server};
use serde_json::json;

both_backends!(
    tags_are_blocked_and_unblocked,
    commands_messages_and_faults_read_as_text,
    a_session_is_shown_with_its_readings_and_lists_page_by_time,
    a_decommissioned_station_cannot_connect_and_keeps_its_history
);

/// Runs `strom ARGS` against the server (API open) in the background.
fn spawn_strom(server: &Server, args: &[&str]) -> tokio::task::JoinHandle<(bool, String, String)> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"));
    command.args(args).env("STROM_URL", format!("http://{}", server.addr));
    tokio::spawn(async move {
        let output = command.output().await.expect("strom runs");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (output.status.success(), text(&output.stdout), text(&output.stderr))
    })
}

async fn strom(server: &Server, args: &[&str]) -> (bool, String, String) {
    spawn_strom(server, args).await.expect("join")
}

async fn tags_are_blocked_and_unblocked(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", Some("2030-01-01T00:00:00Z"), Some("FLEET")).await;
    let (ok, out, err) = strom(&server, &["tag", "block", "TAG1"]).await;
    assert!(ok, "{err}");
    assert!(out.lines().nth(1).is_some_and(|l| l.starts_with("TAG1") && l.contains("Blocked")), "{out}");
    let token = server.get("/api/v1/id-tokens/TAG1").await;
    assert_eq!((token["status"].as_str(), token["parent_id_token"].as_str()), (Some("Blocked"), Some("FLEET")));
    assert!(token["expiry"].as_str().is_some_and(|e| e.starts_with("2030-01-01")), "the rest is kept: {token}");
    let mut station = server.booted("CP1").await;
    let answer = station.call_ok("Authorize", json!({"idTag": "TAG1"})).await;
    assert_eq!(answer["idTagInfo"]["status"], "Blocked");

    let (ok, _, err) = strom(&server, &["tag", "unblock", "TAG1"]).await;
    assert!(ok, "{err}");
    let answer = station.call_ok("Authorize", json!({"idTag": "TAG1"})).await;
    assert_eq!(answer["idTagInfo"]["status"], "Accepted");
    let (ok, _, err) =
        strom(&server, &["tag", "set", "TAG1", "--parent", "none", "--expiry", "2031-06-01T00:00:00Z"]).await;
    assert!(ok, "{err}");
    let token = server.get("/api/v1/id-tokens/TAG1").await;
    assert!(
        token["parent_id_token"].is_null() && token["expiry"].as_str().is_some_and(|e| e.starts_with("2031-06-01"))
    );
    let (ok, _, err) = strom(&server, &["tag", "block", "NOBODY"]).await;
    assert!(!ok && err.contains("404"), "an unknown tag: {err}");
}

async fn commands_messages_and_faults_read_as_text(backend: Backend) {
    let server = Server::start(backend).await;
    let mut station = server.booted("CP1").await;
    station.status(1, "Faulted", "HighTemperature").await;

    // A refused command exits non-zero; an accepted one zero.
    for (answer, succeeds) in [("Rejected", false), ("Accepted", true)] {
        let cli = spawn_strom(&server, &["station", "reset", "CP1"]);
        let (id, action, _) = station.expect_call().await;
        assert_eq!(action, "Reset");
        station.reply(&id, json!({"status": answer})).await;
        let (ok, out, err) = cli.await.expect("join");
        assert_eq!(ok, succeeds, "{answer}: {out} {err}");
        assert!(out.contains(answer), "{out}");
        if !succeeds {
            assert!(err.contains("the station answered Rejected"), "{err}");
        }
    }
    let (ok, out, err) = strom(&server, &["command", "log", "CP1"]).await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["ID", "REQUESTED", "ACTION", "STATUS", "ANSWER"]);
    assert!(lines[1].contains("Reset") && lines[1].ends_with("Accepted"), "newest first: {out}");
    assert!(lines[2].contains("Reset") && lines[2].ends_with("Rejected"), "{out}");

    let (ok, out, err) = strom(&server, &["messages", "CP1", "--limit", "4"]).await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].contains(" ← [2,") && lines[0].contains("\"Reset\""), "oldest first: {out}");
    assert!(lines[3].contains(" → [3,") && lines[3].contains("Accepted"), "{out}");

    station.status(1, "Available", "NoError").await;
    station.status(2, "Faulted", "GroundFailure").await;
    let (ok, out, err) = strom(&server, &["fault", "list", "--station", "CP1"]).await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[1].contains("GroundFailure") && lines[1].ends_with("open"), "open first: {out}");
    assert!(lines[2].contains("HighTemperature") && lines[2].contains("cleared"), "{out}");
    let (ok, out, err) = strom(&server, &["fault", "list", "--category", "thermal"]).await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() == 2 && lines[1].contains("HighTemperature"), "only the thermal fault: {out}");
    let (ok, _, err) = strom(&server, &["fault", "list", "--category", "hot"]).await;
    assert!(!ok && err.contains("thermal") && err.contains("electrical_protection"), "the allowed values: {err}");
    let (ok, out, err) = strom(&server, &["station", "show", "CP1"]).await;
    assert!(ok, "{err}");
    assert!(
        out.lines().any(|l| l.split_whitespace().take(2).collect::<Vec<_>>() == ["registration", "Accepted"]),
        "{out}"
    );
    let connector = out.lines().find(|l| l.split_whitespace().nth(1) == Some("2")).unwrap_or_else(|| panic!("{out}"));
    assert!(connector.contains("Faulted") && connector.contains("GroundFailure"), "{out}");
    let open: Vec<&str> = out.lines().filter(|l| l.ends_with("open")).collect();
    assert!(open.len() == 1 && open[0].contains("GroundFailure"), "only the open fault: {out}");
    let (ok, out, _) = strom(&server, &["fault", "list", "--open", "--json"]).await;
    assert!(ok);
    let faults: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(faults.as_array().map(Vec::len), Some(1), "{faults}");
    let id = faults[0]["id"].to_string();
    let (ok, out, err) = strom(&server, &["fault", "show", &id]).await;
    assert!(ok, "{err}");
    for (field, value) in [("category", "electrical_protection"), ("code", "GroundFailure"), ("open", "true")] {
        assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [field, value]), "{field}: {out}");
    }
    let (ok, _, err) = strom(&server, &["fault", "show", "999999"]).await;
    assert!(!ok && err.contains("404"), "{err}");
}

async fn a_session_is_shown_with_its_readings_and_lists_page_by_time(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut station = server.booted("CP1").await;
    let (first, _) = station.start(1, "TAG", 1_000, "2026-12-01T10:00:00Z").await;
    let sampled = json!([
        {"value": "2500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "230.5", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
        {"value": "16", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
    ]);
    let values = json!({"connectorId": 1, "transactionId": first,
        "meterValue": [{"timestamp": "2026-12-01T10:05:00Z", "sampledValue": sampled}]});
    station.call_ok("MeterValues", values).await;
    let stop = json!({"transactionId": first, "meterStop": 4_000, "timestamp": "2026-12-01T10:30:00Z"});
    station.call_ok("StopTransaction", stop).await;
    let (second, _) = station.start(1, "TAG", 4_000, "2026-12-02T10:00:00Z").await;

    let (ok, out, err) = strom(&server, &["tx", "show", &first.to_string(), "--readings"]).await;
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["energy_wh", "3000.0"]), "{out}");
    let header = out.lines().find(|l| l.starts_with("TIME")).unwrap_or_else(|| panic!("{out}"));
    assert!(header.contains("Voltage L1-N (V)") && header.contains("Current.Import L1 (A)"), "{header}");
    let row = out.lines().find(|l| l.starts_with("2026-12-01T10:05")).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(row.split_whitespace().skip(1).collect::<Vec<_>>(), ["2500.0", "230.5", "16.0"], "{out}");

    let (ok, out, err) = strom(&server, &["tx", "list", "--limit", "1"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2, "a header and the newest: {out}");
    assert!(out.lines().nth(1).is_some_and(|l| l.starts_with(&second.to_string())), "{out}");
    assert!(err.contains("there are more"), "{err}");
    let (ok, out, _) = strom(&server, &["tx", "list", "--until", "2026-12-02T00:00:00Z"]).await;
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "{out}");
    let row = out.lines().nth(1).unwrap_or_default();
    assert!(row.starts_with(&first.to_string()) && row.contains("3.000 kWh") && row.contains(" 0:30 "), "{out}");
    let (ok, out, _) = strom(&server, &["tx", "show", &second.to_string()]).await;
    assert!(ok);
    // Running, with no reading yet: no energy so far, but a duration in h:mm.
    assert!(out.lines().next().is_some_and(|l| l.split_whitespace().collect::<Vec<_>>() == ["energy", "-"]), "{out}");
    let duration = out.lines().find_map(|l| l.strip_prefix("duration")).map(str::trim).unwrap_or_default();
    assert!(duration.split_once(':').is_some_and(|(h, m)| h.parse::<u64>().is_ok() && m.len() == 2), "{out}");

    // An export of a period: CSV with plain numbers, every session in it; JSON to a file.
    let (ok, out, err) = strom(&server, &["tx", "export", "--since", "2026-12-01T00:00:00Z"]).await;
    assert!(ok, "{err}");
    assert!(err.contains("exported 2 transactions"), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("transaction_id,station_id,evse_id,connector_id,id_token,started_at"), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    let first_row: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(first_row[..5], [first.to_string().as_str(), "CP1", "", "1", "TAG"], "{out}");
    assert!(first_row.contains(&"3000.0") && first_row.contains(&"1800"), "energy in Wh, duration in s: {out}");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("sessions.json");
    let file_arg = file.to_str().expect("path");
    let (ok, out, err) =
        strom(&server, &["tx", "export", "--until", "2026-12-02T00:00:00Z", "--format", "json", "-o", file_arg]).await;
    assert!(ok && out.is_empty(), "{out} {err}");
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("JSON");
    assert_eq!(exported.as_array().map(|a| a.iter().map(|t| t["id"].as_i64()).collect()), Some(vec![Some(first)]));

    // The running session stopped by its station's name, as the operator knows it.
    let (ok, _, err) = strom(&server, &["tx", "stop", "--station", "CP1", "--connector", "2"]).await;
    assert!(!ok && err.contains("CP1 has no running transaction on connector 2"), "{err}");
    let cli = spawn_strom(&server, &["tx", "stop", "--station", "CP1"]);
    let (id, action, payload) = station.expect_call().await;
    assert_eq!((action.as_str(), payload["transactionId"].as_i64()), ("RemoteStopTransaction", Some(second)));
    station.reply(&id, json!({"status": "Accepted"})).await;
    let (ok, out, err) = cli.await.expect("join");
    assert!(ok && out.contains("Accepted"), "{out} {err}");
}

async fn a_decommissioned_station_cannot_connect_and_keeps_its_history(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut station = server.booted("CP1").await;
    let (transaction, _) = station.start(1, "TAG", 0, "2026-12-01T10:00:00Z").await;

    let (ok, out, err) = strom(&server, &["station", "remove", "CP1"]).await;
    assert!(ok && out.contains("CP1"), "{out} {err}");
    // The live session is closed at once.
    let closed = tokio::time::timeout(common::TIMEOUT, async {
        while let Some(message) = station.next_raw_message().await {
            if matches!(message, tokio_tungstenite::tungstenite::Message::Close(_)) {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the session was closed");
    // It may not connect again, whatever it presents.
    match common::Station::connect(&server, "CP1", "ocpp1.6").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(other) => panic!("expected 403, got {other}"),
        Ok(_) => panic!("a decommissioned station connected"),
    }
    let (status, text) = common::get_text(&server.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(text.contains("strom_handshakes_refused_total{reason=\"decommissioned\"} 1"), "{text}");
    // Its history stays.
    let view = server.get("/api/v1/stations/CP1").await;
    assert!(view["decommissioned_at"].is_string() && view["connected"] == false, "{view}");
    assert_eq!(server.get(&format!("/api/v1/transactions/{transaction}")).await["station_id"], "CP1");
    let (ok, out, _) = strom(&server, &["station", "show", "CP1"]).await;
    assert!(ok && out.lines().any(|l| l.starts_with("decommissioned") && l.contains("20")), "{out}");
    // Unknown stations are 404; a second removal is harmless.
    let (ok, _, err) = strom(&server, &["station", "remove", "NOPE"]).await;
    assert!(!ok && err.contains("404"), "{err}");
    assert!(strom(&server, &["station", "remove", "CP1"]).await.0);
}
