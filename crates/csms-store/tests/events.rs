//! The store's domain events: numbered in commit order, live once durable, read back after an
//! id, pruned by age without the numbering ever starting over (a client resuming with the last
//! id it saw must never be handed an older event under a new number). Both backends.

// Shared with the other test binaries, which use all of it.
#[allow(dead_code)]
mod common;

use csms_core::ops::{Connectivity, ConnectivityChange, Seen};
use csms_core::station::{ProtocolVersion, StationId};
use csms_store::{EventFilter, Store, StoreOptions};

fn station(id: &str) -> StationId {
    StationId::parse(id).expect("valid id")
}

async fn connect(store: &Store, id: &str) {
    let change =
        ConnectivityChange::Connected { at: chrono::Utc::now(), protocol: ProtocolVersion::V16, was_lost: false };
    let cleared = store.execute(Connectivity { station: station(id), change }, Vec::new()).await.expect("written");
    assert!(!cleared);
}

async fn numbered_live_and_pruned(url: &str) {
    let store = Store::open(url, StoreOptions::default()).await.expect("open");
    let mut live = store.subscribe_events();
    connect(&store, "CP1").await;
    store
        .execute(Seen { station: station("CP1"), at: chrono::Utc::now(), reason: "closed" }, Vec::new())
        .await
        .expect("written");
    // Replaced by the station's next connection: no disconnection of the station.
    store
        .execute(Seen { station: station("CP1"), at: chrono::Utc::now(), reason: "replaced" }, Vec::new())
        .await
        .expect("written");
    connect(&store, "CP2").await;
    let stored = store.events_after(0, &EventFilter::default(), 10).await.expect("read");
    let seen: Vec<(i64, &str, Option<&str>)> =
        stored.iter().map(|e| (e.id, e.kind.as_str(), e.station_id.as_deref())).collect();
    assert_eq!(
        seen,
        [
            (1, "station.connected", Some("CP1")),
            (2, "station.disconnected", Some("CP1")),
            (3, "station.connected", Some("CP2")),
        ]
    );
    for event in &stored {
        let sent = live.try_recv().expect("live once durable");
        assert_eq!(*sent, *event);
        let json: serde_json::Value = serde_json::from_str(&event.json).expect("JSON");
        assert_eq!(json["id"], event.id);
        assert_eq!(json["kind"], event.kind.as_str());
    }
    assert_eq!(store.last_event_id().await.expect("read"), 3);

    // Everything is old: all but the newest go, and after a restart the numbers go on.
    let future = csms_core::clock::format_timestamp(&(chrono::Utc::now() + chrono::Duration::days(1)));
    assert_eq!(store.prune_events(&future).await.expect("pruned"), 2);
    store.close().await;
    let store = Store::open(url, StoreOptions::default()).await.expect("reopen");
    connect(&store, "CP3").await;
    let after = store.events_after(0, &EventFilter::default(), 10).await.expect("read");
    let ids: Vec<i64> = after.iter().map(|e| e.id).collect();
    assert_eq!(ids, [3, 4]);
    store.close().await;
}

#[tokio::test]
async fn sqlite_events_are_numbered_live_and_pruned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.db").display().to_string();
    numbered_live_and_pruned(&path).await;
    // An event's id is the table's rowid: no second B-tree for the key, and what the indexes are.
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{path}")).await.expect("open");
    let key: String = sqlx::query_scalar("SELECT type FROM pragma_table_info('events') WHERE pk = 1")
        .fetch_one(&mut db)
        .await
        .expect("the key");
    assert_eq!(key, "INTEGER");
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name")
            .fetch_all(&mut db)
            .await
            .expect("indexes");
    assert_eq!(indexes, ["events_connector_status", "events_station"]);
}

#[tokio::test]
async fn postgres_events_are_numbered_live_and_pruned() {
    let Some((mut admin, tag, url)) = common::pg_schema("store_events").await else { return };
    numbered_live_and_pruned(&url).await;
    common::drop_schema(&mut admin, &tag).await;
}
