//! The message log holds every frame in and out: a station that pipelines a burst of messages is
//! held back until the log has room rather than losing frames (its own or another station's),
//! and each station is held to its configured count of frames within seconds of writing.

mod common;

use common::{Backend, Server, TIMEOUT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

both_backends!(a_burst_of_pipelined_heartbeats_is_logged_whole, a_station_over_its_count_is_pruned_within_seconds);

/// Every frame the log holds for `station`, oldest first, read page by page through the API.
async fn logged(server: &Server, station: &str) -> Vec<Value> {
    let mut frames = server
        .items(&format!("/api/v1/stations/{station}/messages?limit=1000"))
        .await
        .as_array()
        .expect("an array")
        .clone();
    frames.reverse();
    frames
}

/// The frames of `log` as (direction, frame) pairs.
fn said(log: &[Value]) -> Vec<(String, Value)> {
    log.iter().map(|m| (m["direction"].as_str().expect("a direction").to_string(), m["frame"].clone())).collect()
}

/// Issue 23: one station sends 50,000 Heartbeats without waiting for their answers (Ström answers
/// them without a write, so only the log can hold it back) while another talks as usual. Every
/// frame of both is logged, each station's in order.
async fn a_burst_of_pipelined_heartbeats_is_logged_whole(backend: Backend) {
    const BURST: usize = 50_000;
    // A burst far beyond a real station's: no per-station limits.
    let server = Server::start_with(backend, &["--no-rate-limits"]).await;
    let mut calm = server.booted("CALM").await;

    let mut request = server.ws_url("BURST").into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().expect("header"));
    let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .expect("handshake in time")
        .expect("connects");
    let (mut to_strom, mut from_strom) = ws.split();
    let boot = json!([2, "boot", "BootNotification", {"chargePointVendor": "Test", "chargePointModel": "T1"}]);
    to_strom.send(Message::text(boot.to_string())).await.expect("sent");
    let booted = loop {
        match tokio::time::timeout(TIMEOUT, from_strom.next()).await.expect("answered in time") {
            Some(Ok(Message::Text(text))) => break serde_json::from_str::<Value>(text.as_str()).expect("JSON"),
            Some(Ok(_)) => continue,
            other => panic!("no answer to the boot: {other:?}"),
        }
    };
    assert_eq!(booted[2]["status"], "Accepted", "{booted}");

    let send = tokio::spawn(async move {
        for i in 0..BURST {
            to_strom.send(Message::text(format!(r#"[2,"h{i}","Heartbeat",{{}}]"#))).await.expect("sent");
        }
        to_strom
    });
    let receive = tokio::spawn(async move {
        let mut answered = 0;
        while answered < BURST {
            match tokio::time::timeout(TIMEOUT, from_strom.next()).await.expect("Ström keeps answering") {
                Some(Ok(Message::Text(text))) => {
                    let answer: Value = serde_json::from_str(text.as_str()).expect("JSON");
                    assert_eq!(answer[0], 3, "{answer}");
                    assert_eq!(answer[1], format!("h{answered}"), "answers in order");
                    answered += 1;
                }
                Some(Ok(_)) => {}
                other => panic!("the connection ended after {answered} answers: {other:?}"),
            }
        }
        from_strom
    });
    // The other station talks while the burst goes on, and is answered. Its writes would have
    // the writer take the loose frames at once; Heartbeats leave them waiting for the writer's
    // round (`LOG_DELAY`), as the burst's do.
    let mut calm_said = Vec::new();
    for i in 0..200 {
        let (action, payload) = match i {
            0 | 199 => ("StatusNotification", json!({"connectorId": 1, "errorCode": "NoError", "status": "Available"})),
            _ => ("Heartbeat", json!({})),
        };
        calm.call_ok(action, payload).await;
        calm_said.push(action);
    }
    let to_strom = send.await.expect("the burst was sent");
    let from_strom = receive.await.expect("the burst was answered");
    drop(to_strom.reunite(from_strom).expect("one connection"));

    let burst = said(&logged(&server, "BURST").await);
    assert_eq!(burst.len(), 2 + 2 * BURST, "the boot and every Heartbeat, in and out");
    assert_eq!(burst[0], ("in".to_string(), boot));
    assert_eq!(burst[1].0, "out");
    for (i, pair) in burst[2..].chunks(2).enumerate() {
        let id = format!("h{i}");
        assert_eq!((pair[0].0.as_str(), &pair[0].1[1], &pair[0].1[2]), ("in", &json!(id), &json!("Heartbeat")));
        assert_eq!((pair[1].0.as_str(), &pair[1].1[0], &pair[1].1[1]), ("out", &json!(3), &json!(id)));
    }
    let calm = said(&logged(&server, "CALM").await);
    assert_eq!(calm.len(), 2 + 2 * calm_said.len(), "every frame of the other station");
    for (pair, action) in calm[2..].chunks(2).zip(&calm_said) {
        assert_eq!((pair[0].0.as_str(), &pair[0].1[2]), ("in", &json!(action)));
        assert_eq!((pair[1].0.as_str(), &pair[1].1[0], &pair[1].1[1]), ("out", &json!(3), &pair[0].1[1]));
    }
}

/// A station that writes more than `message_log_max_per_station` is cut back to it (and at most
/// one block more) within seconds, by the pruning that runs every `message_log_cap_every_secs`,
/// while a station under it keeps everything.
async fn a_station_over_its_count_is_pruned_within_seconds(backend: Backend) {
    const MAX: usize = 100;
    const PER_BLOCK: usize = 50;
    let config = format!("message_log_max_per_station = {MAX}\nmessage_log_cap_every_secs = 1\n");
    let server = Server::start_with_config_and(backend, &config, &["--no-rate-limits"]).await;
    let mut quiet = server.booted("QUIET").await;
    quiet.call_ok("Heartbeat", json!({})).await;
    let mut busy = server.booted("BUSY").await;
    let mut last = Value::Null;
    for _ in 0..10 {
        for _ in 0..PER_BLOCK / 2 {
            last = busy.call_ok("Heartbeat", json!({})).await;
        }
        // A read of the log writes what waits: a block of the station's frames each time.
        server.get("/api/v1/stations/BUSY/messages?limit=1").await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let kept = loop {
        let kept = logged(&server, "BUSY").await;
        if kept.len() <= MAX + PER_BLOCK {
            break kept;
        }
        assert!(std::time::Instant::now() < deadline, "still {} frames after 30 s", kept.len());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(kept.len() >= MAX, "the newest {MAX} stay: {}", kept.len());
    let newest = kept.last().expect("frames");
    assert_eq!((newest["direction"].as_str(), &newest["frame"][2]), (Some("out"), &last), "the newest frame stays");
    assert_eq!(logged(&server, "QUIET").await.len(), 4, "a station under the count keeps every frame");
}
