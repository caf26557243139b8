//! Per-station rate limits (issue 25 item 4): a station over its message rate gets a CALLERROR
//! that says so for ordinary messages, while its transaction messages are answered later but
//! all stored; an Authorize over its limit is answered Invalid without a look-up (no id-tag
//! oracle); the connection survives; everything is counted in `/metrics`.

mod common;

use common::{Backend, Reply, Server, Station};
use serde_json::json;

both_backends!(
    messages_over_the_rate_are_refused,
    transaction_messages_over_the_rate_are_paced_and_all_stored,
    tc_authorize_guessing_is_limited
);

async fn messages_over_the_rate_are_refused(backend: Backend) {
    // One a second: hardly anything refills while the test runs, however slow the machine.
    let limits = "station_messages_per_second = 1\nstation_message_burst = 10";
    let server = Server::start_with_config(backend, limits).await;
    let mut station = server.booted("CP1").await;
    let started = std::time::Instant::now();
    let mut refused = Vec::new();
    for _ in 0..30 {
        if let Reply::Error { code, description } = station.call("Heartbeat", json!({})).await {
            refused.push((code, description));
        }
    }
    // The boot and nine Heartbeats fit the burst, and one more for each second that passed.
    let refilled = started.elapsed().as_secs() as usize;
    assert!(
        (21usize.saturating_sub(refilled + 1)..=21).contains(&refused.len()),
        "{} refused in {refilled} s",
        refused.len()
    );
    let (code, description) = &refused[0];
    assert_eq!(code, "GenericError");
    assert!(description.contains("1 per second (10 at once)"), "{description}");
    let series = "strom_rate_limited_total{limit=\"messages\",treatment=\"refused\"}";
    assert_eq!(server.metric(series).await, refused.len() as u64);
    // The connection survives; the station is served again as the bucket refills.
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    while let Reply::Error { .. } = station.call("Heartbeat", json!({})).await {
        assert!(std::time::Instant::now() < deadline, "never served again");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn transaction_messages_over_the_rate_are_paced_and_all_stored(backend: Backend) {
    let limits = "station_messages_per_second = 20\nstation_message_burst = 10";
    let server = Server::start_with_config(backend, limits).await;
    server.add_token("TAG", "Accepted", None, None).await;
    let mut station = server.booted("CP1").await;
    // Transaction messages beyond the rate wait for their turn; none is refused, all are stored.
    let (transaction_id, _) = station.start(1, "TAG", 0, "2026-12-07T10:00:00Z").await;
    // Sent at once, faster than any rate (waiting for each answer would make the rate that of
    // the store's answers, which a loaded machine can hold below the limit); answered in order.
    for n in 1..=30 {
        let sample =
            json!({"value": format!("{}", n * 10), "measurand": "Energy.Active.Import.Register", "unit": "Wh"});
        let values = json!({"connectorId": 1, "transactionId": transaction_id,
            "meterValue": [{"timestamp": format!("2026-12-07T10:{n:02}:00Z"), "sampledValue": [sample]}]});
        station.send_text(&json!([2, format!("mv-{n}"), "MeterValues", values]).to_string()).await;
    }
    for n in 1..=30 {
        let answer = station.next_frame().await;
        assert_eq!((answer[0].as_i64(), answer[1].as_str()), (Some(3), Some(format!("mv-{n}").as_str())), "{answer}");
    }
    assert!(server.metric("strom_rate_limited_total{limit=\"messages\",treatment=\"paced\"}").await >= 10);
    let readings = server.items(&format!("/api/v1/transactions/{transaction_id}/meter-values")).await;
    assert_eq!(readings.as_array().expect("readings").len(), 30, "{readings}");
}

async fn tc_authorize_guessing_is_limited(backend: Backend) {
    let limits = "station_authorize_per_minute = 6\nstation_authorize_burst = 3";
    let server = Server::start_with_config(backend, limits).await;
    server.add_token("REAL", "Accepted", None, None).await;
    let mut station = server.booted("CP1").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let answer = station.call_ok("Authorize", json!({"idTag": "REAL"})).await;
        statuses.push(answer["idTagInfo"]["status"].as_str().expect("a status").to_string());
    }
    assert_eq!(statuses, ["Accepted", "Accepted", "Accepted", "Invalid", "Invalid"]);
    assert_eq!(server.metric("strom_rate_limited_total{limit=\"authorize\",treatment=\"answered_invalid\"}").await, 2);

    // 2.0.1 the same, and the limit is per station: another station is not held back.
    let mut other = Station::connect(&server, "CP2", "ocpp2.0.1").await.expect("connects");
    other.call_ok("BootNotification", common::boot_payload("ocpp2.0.1", "Acme", "X")).await;
    let token = json!({"idToken": {"idToken": "REAL", "type": "Central"}});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let answer = other.call_ok("Authorize", token.clone()).await;
        statuses.push(answer["idTokenInfo"]["status"].as_str().expect("a status").to_string());
    }
    assert_eq!(statuses, ["Accepted", "Accepted", "Accepted", "Invalid"]);
}
