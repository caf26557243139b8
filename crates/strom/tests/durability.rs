//! Nothing acknowledged is lost: a server killed with SIGKILL in the middle of a stream of
//! MeterValues has every acknowledged reading after restart, and SIGTERM drains sessions and
//! exits cleanly.

mod common;

use common::{Backend, Server};
use serde_json::json;
use std::collections::BTreeSet;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

both_backends!(
    sigkill_loses_no_acknowledged_reading,
    sigterm_drains_sessions_and_exits_cleanly,
    sigterm_right_after_start_is_a_clean_shutdown
);

async fn sigkill_loses_no_acknowledged_reading(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, _) = cp.start(1, "TAG1", 0, "2026-11-26T10:00:00Z").await;

    // The station streams readings and reports each one Ström acknowledged.
    let (acked_tx, mut acked_rx) = mpsc::unbounded_channel::<u64>();
    let streamer = tokio::spawn(async move {
        for i in 1..=100_000u64 {
            let payload = json!({"connectorId": 1, "transactionId": tx, "meterValue": [{
                "timestamp": "2026-11-26T10:01:00Z", "sampledValue": [{"value": i.to_string(), "context": "Sample.Periodic"}]}]});
            let frame = json!([2, format!("mv{i}"), "MeterValues", payload]).to_string();
            cp.send_text(&frame).await;
            match cp.next_message().await {
                Some(Message::Text(answer)) if answer.as_str() == format!("[3,\"mv{i}\",{{}}]") => {
                    if acked_tx.send(i).is_err() {
                        return;
                    }
                }
                _ => return, // the server died mid-stream
            }
        }
    });
    let mut acknowledged = BTreeSet::new();
    while acknowledged.len() < 300 {
        acknowledged.insert(acked_rx.recv().await.expect("stream runs"));
    }
    let db = server.kill().await;
    let _ = streamer.await;
    while let Ok(i) = acked_rx.try_recv() {
        acknowledged.insert(i);
    }

    let server = Server::restart(db).await;
    let stored: BTreeSet<u64> = server
        .items(&format!("/api/v1/transactions/{tx}/meter-values"))
        .await
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["raw_value"].as_str()?.parse().ok())
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged readings lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    // At most the one reading in flight at the kill may be stored without its acknowledgement.
    assert!(stored.len() <= acknowledged.len() + 1, "stored {} acknowledged {}", stored.len(), acknowledged.len());
}

async fn sigterm_drains_sessions_and_exits_cleanly(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.status(1, "Available", "NoError").await;
    let station_side = tokio::spawn(async move { cp.next_message().await });
    let (exit, db) = server.terminate().await;
    assert!(exit.success(), "strom exits 0 on SIGTERM: {exit:?}");
    match station_side.await.expect("join") {
        Some(Message::Close(frame)) => assert_eq!(frame.map(|f| u16::from(f.code)), Some(1001)),
        other => panic!("the station should get close 1001 (going away), got {other:?}"),
    }
    let server = Server::restart(db).await;
    let station = server.get("/api/v1/stations/CP1").await;
    assert_eq!(station["connected"], false);
    assert!(station["last_seen_at"].is_string());
    assert_eq!(station["connectors"][0]["status"], "Available");
}

/// A supervisor may stop Ström the moment it says it listens: the SIGTERM handler is already
/// there, so that is a clean shutdown, not death by the signal's default action.
async fn sigterm_right_after_start_is_a_clean_shutdown(backend: Backend) {
    let server = Server::start(backend).await;
    let (exit, _) = server.terminate().await;
    assert!(exit.success(), "strom exits 0 on SIGTERM at once: {exit:?}");
}
