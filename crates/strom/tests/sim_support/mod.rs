//! What the simulator's integration tests share: running `strom sim` against a server, waiting
//! for its stations, and finding what the server stored of the sessions it reports.

#![allow(dead_code)]

use super::common::Server;
use serde_json::Value;

/// Polls the API until `n` stations are connected. The simulator is a separate process that
/// says nothing until it ends, so its stations' arrival is observed, within a bound.
pub async fn wait_connected(server: &Server, n: usize) {
    for _ in 0..200 {
        let stations = server.items("/api/v1/stations").await;
        if stations.as_array().is_some_and(|s| s.iter().filter(|s| s["connected"] == true).count() == n) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{n} simulated stations did not connect within 10 s");
}

/// How many BootNotifications a station sent, from the message log.
pub async fn boots(server: &Server, station: &str) -> usize {
    let messages = server.items(&format!("/api/v1/stations/{station}/messages?limit=1000")).await;
    messages
        .as_array()
        .expect("array")
        .iter()
        .filter(|m| m["direction"] == "in" && m["frame"][2] == "BootNotification")
        .count()
}

/// Adds the Accepted tokens `{prefix}-0` … the first `n` simulated stations present.
pub async fn add_tags(server: &Server, prefix: &str, n: usize) {
    for i in 0..n {
        server.add_token(&format!("{prefix}-{i}"), "Accepted", None, None).await;
    }
}

/// The stored transaction of a session the simulator reports.
pub fn stored_session<'a>(stored: &'a [Value], session: &Value) -> &'a Value {
    stored
        .iter()
        .find(|t| t["station_id"] == session["station"] && t["station_transaction_id"] == session["transaction_id"])
        .unwrap_or_else(|| panic!("{session} not stored"))
}

pub fn stored_list(stored: &Value) -> &[Value] {
    stored.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// `strom sim` against `url` with `flags` (separated by spaces), started now; the future (which
/// may be spawned) ends with it.
pub fn sim(
    url: &str,
    flags: &str,
) -> impl std::future::Future<Output = std::io::Result<std::process::Output>> + 'static {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["sim", "--url", url])
        .args(flags.split_whitespace())
        .output()
}

pub async fn run_sim(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .arg("sim")
        .args(args)
        .output()
        .await
        .expect("strom sim runs")
}

/// Checks every frame `station` sent, as the server logged it, against the official schemas:
/// a CALL by its action, a CALLRESULT by the action of the CSMS's CALL it answers. Returns how
/// many were checked.
pub async fn assert_sent_frames_valid(server: &Server, station: &str) -> usize {
    let (_, view) = server.http("GET", &format!("/api/v1/stations/{station}"), None).await;
    let version = if view["ocpp_version"] == "2.0.1" { "v201" } else { "v16" };
    let messages = server.items(&format!("/api/v1/stations/{station}/messages?limit=1000")).await;
    let messages = stored_list(&messages);
    let asked: std::collections::HashMap<String, String> = messages
        .iter()
        .filter(|m| m["direction"] == "out" && m["frame"][0] == 2)
        .filter_map(|m| Some((m["frame"][1].as_str()?.to_string(), m["frame"][2].as_str()?.to_string())))
        .collect();
    let mut checked = 0;
    for m in messages.iter().filter(|m| m["direction"] == "in") {
        let frame = &m["frame"];
        let (action, response, payload) = match frame[0].as_u64() {
            Some(2) => (frame[2].as_str().map(str::to_string), false, &frame[3]),
            Some(3) => (frame[1].as_str().and_then(|id| asked.get(id)).cloned(), true, &frame[2]),
            _ => panic!("{station} sent a frame that is no CALL or CALLRESULT: {frame}"),
        };
        let action = action.unwrap_or_else(|| panic!("{station}: an answer to no logged CALL: {frame}"));
        if let Err(e) = testkit::validate(version, &action, response, payload) {
            panic!("{station} sent an invalid {action}: {e}: {frame}");
        }
        checked += 1;
    }
    checked
}
