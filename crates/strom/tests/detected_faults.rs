//! Faults Ström detects itself from the connections (issue 27 item 2): a station whose connection
//! is lost and not back within `offline_grace_secs` gets a `CommunicationLost` fault (category
//! `communication`, source `strom`) from the moment it went, cleared when it connects again, also
//! across a restart of Ström; one back within the grace gets none; a 2.0.1 station that boots
//! with reason PowerUp while its connection is lost was without power (`power_loss`). A station
//! that stays connected but silent for longer than its heartbeat interval and the grace missed
//! its heartbeats: the same fault, cleared once it is heard again.

mod common;

use common::{boot_payload, Backend, Server};
use serde_json::{json, Value};
use std::time::Duration;

both_backends!(
    tc_lost_connections_are_faults_until_the_station_is_back,
    tc_missed_heartbeats_are_faults_until_heard_again
);

/// Ström's faults of `station` of `category`, once `done` holds for them (within five seconds).
async fn faults_when(server: &Server, station: &str, category: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let path = format!("/api/v1/faults?station_id={station}&category={category}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let items = server.items(&path).await.as_array().cloned().expect("faults");
        if done(&items) || tokio::time::Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_open(f: &Value) -> bool {
    f["open"] == true
}

async fn tc_lost_connections_are_faults_until_the_station_is_back(backend: Backend) {
    let server = Server::start_with_config(backend, "offline_grace_secs = 1").await;
    let cp1 = server.booted("CP1").await;
    let cp2 = server.booted("CP2").await;
    let cs1 = server.booted201("CS1").await;
    let before = chrono::Utc::now();
    cp1.close().await;
    cp2.close().await;
    cs1.close().await;
    // CP2 is back within the grace: no fault.
    let _cp2 = server.booted("CP2").await;

    let lost = faults_when(&server, "CP1", "communication", |f| !f.is_empty()).await;
    assert_eq!(lost.len(), 1, "{lost:?}");
    let fault = &lost[0];
    assert_eq!(
        (fault["code"].as_str(), fault["component"].as_str(), fault["source"].as_str(), is_open(fault)),
        (Some("CommunicationLost"), Some("station"), Some("strom"), true),
        "{fault}"
    );
    let started =
        fault["started_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).expect("time");
    let late = started.signed_duration_since(before);
    assert!(late < chrono::Duration::milliseconds(900), "from when it went, not after the grace: {late}");
    assert!(fault["raw"]["reason"].as_str().is_some_and(|r| r.contains("connection lost")), "{fault}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.items("/api/v1/faults?station_id=CP2").await.as_array().is_some_and(Vec::is_empty));

    // Back: cleared.
    let _cp1 = server.booted("CP1").await;
    let cleared = faults_when(&server, "CP1", "communication", |f| f.iter().all(|f| !is_open(f))).await;
    assert!(cleared.len() == 1 && !is_open(&cleared[0]), "{cleared:?}");

    // A 2.0.1 station that boots after a power cut while its connection was lost.
    let lost = faults_when(&server, "CS1", "communication", |f| !f.is_empty()).await;
    assert!(lost.len() == 1 && is_open(&lost[0]), "{lost:?}");
    let mut cs1 = server.station201("CS1").await;
    let boot = json!({"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}});
    assert_eq!(cs1.call_ok("BootNotification", boot).await["status"], "Accepted");
    let power = faults_when(&server, "CS1", "power_loss", |f| !f.is_empty()).await;
    assert_eq!(power.len(), 1, "{power:?}");
    assert_eq!((power[0]["code"].as_str(), is_open(&power[0])), (Some("PowerLoss"), false), "{}", power[0]);
    assert_eq!(power[0]["started_at"], lost[0]["started_at"], "without power since the connection went");
    let cleared = faults_when(&server, "CS1", "communication", |f| f.iter().all(|f| !is_open(f))).await;
    assert!(!is_open(&cleared[0]), "{cleared:?}");

    // Lost, then Ström restarts: the station's return still clears it.
    let cp3 = server.booted("CP3").await;
    cp3.close().await;
    let lost = faults_when(&server, "CP3", "communication", |f| !f.is_empty()).await;
    assert!(lost.len() == 1 && is_open(&lost[0]), "{lost:?}");
    drop((_cp1, _cp2, cs1));
    let (_, db) = server.terminate().await;
    let server = Server::restart(db).await;
    let mut cp3 = server.station("CP3").await;
    cp3.call_ok("BootNotification", boot_payload("1.6", "V", "M")).await;
    let cleared = faults_when(&server, "CP3", "communication", |f| f.iter().all(|f| !is_open(f))).await;
    assert!(cleared.len() == 1 && !is_open(&cleared[0]), "{cleared:?}");
    // Ström's own shutdown lost no connection: nobody else got a fault.
    let all = server.items("/api/v1/faults?category=communication").await;
    assert_eq!(all.as_array().map(Vec::len), Some(3), "{all}");
}

async fn tc_missed_heartbeats_are_faults_until_heard_again(backend: Backend) {
    // Heartbeats every second, a one-second grace: silent for two seconds is a missed heartbeat.
    let server = Server::start_with_config(backend, "offline_grace_secs = 1\nheartbeat_interval_secs = 1").await;
    let mut cp1 = server.booted("CP1").await;
    let mut cs1 = server.booted201("CS1").await;
    let mut talkative = server.booted("CP2").await;
    let silent_from = chrono::Utc::now();
    // CP2 keeps its heartbeats; CP1 and CS1 say nothing.
    let mut opened = Vec::new();
    for _ in 0..8 {
        talkative.call_ok("Heartbeat", json!({})).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for station in ["CP1", "CS1"] {
        let faults = faults_when(&server, station, "communication", |f| !f.is_empty()).await;
        assert_eq!(faults.len(), 1, "{station}: {faults:?}");
        let fault = &faults[0];
        assert_eq!(
            (fault["code"].as_str(), fault["source"].as_str(), is_open(fault)),
            (Some("CommunicationLost"), Some("strom"), true),
            "{fault}"
        );
        assert!(fault["raw"]["reason"].as_str().is_some_and(|r| r.contains("no heartbeat")), "{fault}");
        let started =
            fault["started_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).expect("time");
        // From when its heartbeat was due: a second after it was last heard.
        let due = started.signed_duration_since(silent_from);
        assert!(due > chrono::Duration::milliseconds(500) && due < chrono::Duration::milliseconds(1500), "{due}");
        opened.push(fault["id"].clone());
    }
    assert!(server.items("/api/v1/faults?station_id=CP2").await.as_array().is_some_and(Vec::is_empty));

    // Heard again on the same connection: cleared, and the station's own fault stays apart.
    cp1.call_ok("Heartbeat", json!({})).await;
    cs1.call_ok("Heartbeat", json!({})).await;
    for station in ["CP1", "CS1"] {
        let faults = faults_when(&server, station, "communication", |f| f.iter().all(|f| !is_open(f))).await;
        assert!(faults.len() == 1 && !is_open(&faults[0]), "{station}: {faults:?}");
    }
    let events = server.get("/api/v1/events?kind=fault&station_id=CP1").await;
    let kinds: Vec<&str> =
        events["items"].as_array().expect("items").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["fault.opened", "fault.cleared"]);
    assert_eq!(opened.len(), 2);
}
