//! Alert rules (issue 27 item 4): a fault of a category open longer than N minutes, more than K
//! faults at a station within a day; each raises one alert (an `alert.raised` event) while it
//! holds and resolves it (`alert.resolved`) when it ends or its rule goes. The station-offline
//! rule's condition is checked in the store's tests (`csms-store/tests/alerts.rs`), where the
//! times can be set.

mod common;

use common::{Backend, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

both_backends!(tc_alert_rules_raise_and_resolve_alerts);

/// The alerts once `done` holds for them (within ten seconds).
async fn alerts_when(server: &Server, query: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let items = server.items(&format!("/api/v1/alerts{query}")).await.as_array().cloned().expect("alerts");
        if done(&items) || Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn tc_alert_rules_raise_and_resolve_alerts(backend: Backend) {
    let server = Server::start_with_config(backend, "alert_check_secs = 1").await;
    let hot = json!({"name": "Overheating 1 min", "kind": "fault_open_longer", "category": "thermal", "minutes": 1});
    let (status, hot) = server.http("POST", "/api/v1/alert-rules", Some(hot)).await;
    assert_eq!(status, 201, "{hot}");
    assert_eq!(
        (hot["kind"].as_str(), hot["minutes"].as_i64(), hot["count"].clone()),
        (Some("fault_open_longer"), Some(1), Value::Null)
    );
    let busy = json!({"name": "Troubled", "kind": "faults_per_day", "count": 2});
    let (status, busy) = server.http("POST", "/api/v1/alert-rules", Some(busy)).await;
    assert_eq!(status, 201, "{busy}");

    // CP1 overheats, reported two minutes late (from its queue): open longer than a minute.
    let mut cp1 = server.booted("CP1").await;
    let two_minutes_ago = (chrono::Utc::now() - chrono::Duration::minutes(2)).to_rfc3339();
    cp1.call_ok(
        "StatusNotification",
        json!({"connectorId": 1, "status": "Faulted", "errorCode": "HighTemperature", "timestamp": two_minutes_ago}),
    )
    .await;
    // CP2 faults three times today: more than two.
    let mut cp2 = server.booted("CP2").await;
    for code in ["OverVoltage", "GroundFailure", "OverCurrentFailure"] {
        cp2.status(1, "Faulted", code).await;
    }
    // A fresh thermal fault elsewhere is no alert yet.
    let mut cp3 = server.booted("CP3").await;
    cp3.status(1, "Faulted", "HighTemperature").await;

    let open = alerts_when(&server, "?open=true", |a| a.len() >= 2).await;
    let mut subjects: Vec<(i64, String)> = open
        .iter()
        .map(|a| (a["rule_id"].as_i64().expect("rule"), a["subject"].as_str().expect("subject").to_string()))
        .collect();
    subjects.sort();
    let fault = server.items("/api/v1/faults?station_id=CP1").await[0].clone();
    assert_eq!(
        subjects,
        [
            (hot["id"].as_i64().expect("id"), format!("fault:{}", fault["id"])),
            (busy["id"].as_i64().expect("id"), "station:CP2".to_string())
        ]
    );
    assert!(open.iter().all(|a| a["open"] == true && a["resolved_at"].is_null()));
    let cp2_alert = open.iter().find(|a| a["station_id"] == "CP2").expect("CP2's alert");
    assert!(cp2_alert["detail"].as_str().is_some_and(|d| d.contains("3 faults")), "{cp2_alert}");
    // Raised once, whatever the number of checks.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server.items("/api/v1/alerts").await.as_array().map(Vec::len), Some(2));

    // The fault clears: its alert is resolved. The rule goes: its alert is resolved.
    cp1.status(1, "Available", "NoError").await;
    let (status, _) = server.http("DELETE", &format!("/api/v1/alert-rules/{}", busy["id"]), None).await;
    assert_eq!(status, 204);
    let resolved = alerts_when(&server, "?open=false", |a| a.len() == 2).await;
    assert_eq!(resolved.len(), 2, "{resolved:?}");
    assert!(alerts_when(&server, "?open=true", |a| a.is_empty()).await.is_empty());
    let rules = server.get("/api/v1/alert-rules").await;
    assert_eq!(
        rules.as_array().map(|r| r.iter().map(|r| r["id"].clone()).collect::<Vec<_>>()),
        Some(vec![hot["id"].clone()])
    );

    // Each as an event, for the stream and webhooks.
    let events = server.get("/api/v1/events?kind=alert").await;
    let kinds: Vec<&str> =
        events["items"].as_array().expect("items").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["alert.raised", "alert.raised", "alert.resolved", "alert.resolved"]);
    let raised = &events["items"][0]["data"];
    assert!(raised["rule"].is_string() && raised["subject"].is_string() && raised["alert_id"].is_i64(), "{raised}");

    // What a rule may not be.
    for (body, says) in [
        (json!({"name": "x", "kind": "fault_open_longer"}), "needs minutes"),
        (json!({"name": "x", "kind": "faults_per_day", "count": 2, "minutes": 5}), "takes no minutes"),
        (json!({"name": "x", "kind": "sometimes"}), "kind must be one of"),
        (json!({"name": "", "kind": "faults_per_day", "count": 2}), "name must be"),
        (json!({"kind": "faults_per_day", "count": 2}), "name is required"),
        (json!({"name": "x", "kind": "fault_open_longer", "minutes": 1, "category": "hot"}), "category must be"),
    ] {
        let (status, answer) = server.http("POST", "/api/v1/alert-rules", Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains(says)), "{body}: {answer}");
    }
    drop((cp1, cp2, cp3));
}
