//! `/metrics` in the Prometheus text format: connected stations by version, messages by action
//! and result, CALLERRORs by code, commands, storage batches and commits, the event index's runs, open faults.

mod common;

use common::{Backend, Server};
use serde_json::json;

both_backends!(metrics_count_what_happened);

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
}

async fn metrics_count_what_happened(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let _cs = server.booted201("CS1").await;
    cp.call_ok("Heartbeat", json!({})).await;
    cp.call_ok("Heartbeat", json!({})).await;
    cp.call_err("Foo", json!({})).await;
    cp.raw("garbage").await;
    cp.status(1, "Faulted", "HighTemperature").await;
    let api = server.api();
    let operator =
        tokio::spawn(
            async move { api.http("POST", "/api/v1/stations/CP1/commands/ClearCache", Some(json!({}))).await },
        );
    let (id, _, _) = cp.expect_call().await;
    cp.reply(&id, json!({"status": "Accepted"})).await;
    assert_eq!(operator.await.expect("operator").0, 200);

    let (status, text) = common::get_text(&server.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(value(&text, "strom_connected_stations{version=\"1.6\"}"), Some(1.0), "{text}");
    assert_eq!(value(&text, "strom_connected_stations{version=\"2.0.1\"}"), Some(1.0));
    assert_eq!(
        value(&text, "strom_messages_total{direction=\"in\",action=\"Heartbeat\",result=\"ok\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(value(&text, "strom_messages_total{direction=\"in\",action=\"(unknown)\",result=\"error\"}"), Some(1.0));
    assert_eq!(
        value(&text, "strom_messages_total{direction=\"in\",action=\"(malformed)\",result=\"error\"}"),
        Some(1.0)
    );
    assert_eq!(value(&text, "strom_callerrors_sent_total{code=\"NotImplemented\"}"), Some(1.0));
    assert_eq!(value(&text, "strom_callerrors_sent_total{code=\"ProtocolError\"}"), Some(1.0));
    assert_eq!(value(&text, "strom_commands_total{action=\"ClearCache\",status=\"Answered\"}"), Some(1.0));
    assert_eq!(value(&text, "strom_command_duration_seconds_count"), Some(1.0));
    // Every CALL answered: the two boots, two heartbeats, the unknown action, the status.
    assert_eq!(value(&text, "strom_call_answer_seconds_count"), Some(6.0), "{text}");
    assert_eq!(value(&text, "strom_call_answer_seconds_bucket{le=\"5\"}"), Some(6.0));
    // Writes at least: the two boots and the status (frames alone are not writes).
    assert!(value(&text, "strom_store_batch_size_sum").is_some_and(|n| n >= 3.0), "{text}");
    let batches = value(&text, "strom_store_batch_size_count");
    assert!(batches.is_some_and(|n| n >= 1.0), "{text}");
    assert_eq!(value(&text, "strom_store_commit_duration_seconds_count"), batches);
    // Every answer waited for a flush; one flush may cover several commits.
    assert!(value(&text, "strom_store_flush_duration_seconds_count").is_some_and(|n| n >= 1.0), "{text}");
    assert_eq!(value(&text, "strom_open_faults"), Some(1.0));
    assert!(text.contains("# TYPE strom_messages_total counter"));
    // The events are indexed by station behind them, on the writer's own within a second or so
    // of the first waiting (500 ms, looked at after a batch or every second when idle).
    let mut indexed = None;
    for _ in 0..50 {
        let (_, text) = common::get_text(&server.addr, "/metrics").await;
        indexed = value(&text, "strom_store_event_index_duration_seconds_count").filter(|n| *n >= 1.0);
        if indexed.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(indexed.is_some(), "no run of the event index within 5 s");
}
