//! What the station-offline alert rule finds: a station whose connection Ström has as lost for
//! longer than the rule's minutes, and no other (times set here, which a live server's tests
//! cannot). Both backends.

// Shared with the other test binaries, which use all of it.
#[allow(dead_code)]
mod common;

use csms_core::alerts::Condition;
use csms_core::ops::{Connectivity, ConnectivityChange, CreateAlertRule};
use csms_core::station::StationId;
use csms_store::{Store, StoreOptions};

async fn lost(store: &Store, id: &str, minutes_ago: i64) {
    let since = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    let change = ConnectivityChange::Lost { since, reason: "test".into() };
    let op = Connectivity { station: StationId::parse(id).expect("valid id"), change };
    assert!(store.execute(op, Vec::new()).await.expect("written"));
}

async fn offline_longer(url: &str) {
    let store = Store::open(url, StoreOptions::default()).await.expect("open");
    lost(&store, "CP1", 5).await;
    lost(&store, "CP2", 0).await;
    let now = chrono::Utc::now();
    let condition = Condition::StationOfflineLonger { minutes: 2 };
    let op = CreateAlertRule { name: "away".into(), condition, station_id: None, now };
    let id = store.execute(op, Vec::new()).await.expect("rule");
    let rules = store.alert_rules().await.expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!((rules[0].id, rules[0].condition), (id, condition));
    let holding = store.holding(&rules[0], now).await.expect("holding");
    let subjects: Vec<&str> = holding.iter().map(|h| h.subject.as_str()).collect();
    assert_eq!(subjects, ["station:CP1"]);
    assert!(holding[0].detail.contains("offline longer than 2 min"), "{:?}", holding[0]);
    // Ten minutes on, CP2 too.
    let later = store.holding(&rules[0], now + chrono::Duration::minutes(10)).await.expect("holding");
    assert_eq!(later.len(), 2);
    store.close().await;
}

#[tokio::test]
async fn sqlite_station_offline_rule() {
    let dir = tempfile::tempdir().expect("temp dir");
    offline_longer(&dir.path().join("alerts.db").display().to_string()).await;
}

#[tokio::test]
async fn postgres_station_offline_rule() {
    let Some((mut admin, tag, url)) = common::pg_schema("store_alerts").await else { return };
    offline_longer(&url).await;
    common::drop_schema(&mut admin, &tag).await;
}
