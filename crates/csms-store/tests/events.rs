//! The store's domain events: numbered in commit order, live once durable, read back after an
//! id, pruned by age without the numbering ever starting over (a client resuming with the last
//! id it saw must never be handed an older event under a new number). Both backends.

// Shared with the other test binaries, which use all of it.
#[allow(dead_code)]
mod common;

use csms_core::availability_report::Period;
use csms_core::ops::{Boot, Connectivity, ConnectivityChange, Seen, StationStatusReport};
use csms_core::station::{BootInfo, ProtocolVersion, RegistrationPolicy, StationId};
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
    // Nothing but the key: the events by station are indexed behind them (`event_index`).
    assert!(indexes.is_empty(), "{indexes:?}");
}

#[tokio::test]
async fn postgres_events_are_numbered_live_and_pruned() {
    let Some((mut admin, tag, url)) = common::pg_schema("store_events").await else { return };
    numbered_live_and_pruned(&url).await;
    common::drop_schema(&mut admin, &tag).await;
}

async fn boot(store: &Store, id: &str) {
    let info = BootInfo { vendor: "Test".into(), model: "T1".into(), ..BootInfo::default() };
    let op = Boot {
        station: station(id),
        ocpp_version: ProtocolVersion::V16,
        info,
        policy: RegistrationPolicy::Accept,
        now: chrono::Utc::now() - chrono::Duration::hours(1),
    };
    store.execute(op, Vec::new()).await.expect("booted");
}

/// A status of connector 1, `n` seconds into the last hour (later ones are later reports).
async fn status(store: &Store, id: &str, status: &str, n: i64) {
    let report = StationStatusReport {
        station: station(id),
        evse_id: 0,
        connector_id: 1,
        status: status.into(),
        error_code: Some("NoError".into()),
        info: None,
        vendor_id: None,
        vendor_error_code: None,
        timestamp: chrono::Utc::now() - chrono::Duration::hours(1) + chrono::Duration::seconds(n),
    };
    store.execute(report, Vec::new()).await.expect("written");
}

fn of_station(id: &str) -> EventFilter {
    EventFilter { station_id: Some(id.into()), ..EventFilter::default() }
}

/// A station's events, a page of `limit` at a time.
async fn paged(store: &Store, id: &str, limit: i64) -> Vec<i64> {
    let (mut ids, mut after) = (Vec::new(), 0);
    loop {
        let page = store.events_after(after, &of_station(id), limit).await.expect("read");
        ids.extend(page.iter().map(|e| e.id));
        match page.last() {
            Some(last) if page.len() as i64 == limit => after = last.id,
            _ => return ids,
        }
    }
}

/// The rows of `event_index` and `event_index_statuses` as (station, id, whether a status), in
/// key order, and the mark.
async fn index_rows(url: &str) -> (Vec<(String, i64, bool)>, i64) {
    const ROWS: &str = "SELECT x.station_id, x.id, s.id IS NOT NULL AS status FROM event_index x \
        LEFT JOIN event_index_statuses s ON s.station_id = x.station_id AND s.id = x.id ORDER BY x.station_id, x.id";
    const STATUSES_ONLY: &str = "SELECT COUNT(*) FROM event_index_statuses s WHERE NOT EXISTS \
        (SELECT 1 FROM event_index x WHERE x.station_id = s.station_id AND x.id = s.id)";
    const MARK: &str = "SELECT id FROM event_index_mark";
    use sqlx::Connection;
    let (rows, strays, mark): (Vec<(String, i64, bool)>, i64, i64) = if url.starts_with("postgres") {
        let mut db = sqlx::PgConnection::connect(url).await.expect("open");
        let rows = sqlx::query_as(ROWS).fetch_all(&mut db).await.expect("rows");
        let strays = sqlx::query_scalar(STATUSES_ONLY).fetch_one(&mut db).await.expect("strays");
        (rows, strays, sqlx::query_scalar(MARK).fetch_one(&mut db).await.expect("mark"))
    } else {
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{url}")).await.expect("open");
        let rows = sqlx::query_as(ROWS).fetch_all(&mut db).await.expect("rows");
        let strays = sqlx::query_scalar(STATUSES_ONLY).fetch_one(&mut db).await.expect("strays");
        (rows, strays, sqlx::query_scalar(MARK).fetch_one(&mut db).await.expect("mark"))
    };
    assert_eq!(strays, 0, "a status entry without its event's entry");
    (rows, mark)
}

async fn raw_exec(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut db = sqlx::PgConnection::connect(url).await.expect("open");
        sqlx::raw_sql(sql).execute(&mut db).await.expect("executed");
    } else {
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{url}")).await.expect("open");
        sqlx::raw_sql(sql).execute(&mut db).await.expect("executed");
    }
}

/// The status changes availability reads of `id` (`connector.status` events, in order).
async fn status_changes(store: &Store, id: &str) -> usize {
    let now = chrono::Utc::now().timestamp_millis();
    let period = Period { from: now - 7_200_000, to: now, now };
    let history = store.availability_history(Some(id), period).await.expect("history");
    history[0].statuses.len()
}

/// A station's events are read through `event_index` up to its mark and from `events` after it:
/// the same events either way, and the index holds exactly the events it has reached, the
/// connector statuses apart as well. Pruning takes the index's entries with the events.
async fn by_station_through_the_index_and_after_it(url: &str) {
    let store = Store::open(url, StoreOptions::default()).await.expect("open");
    boot(&store, "CP1").await;
    boot(&store, "CP2").await;
    // The last event before the index runs is CP1's: the one at the mark.
    for n in 0..6 {
        connect(&store, "CP2").await;
        status(&store, "CP1", if n % 2 == 0 { "Available" } else { "Unavailable" }, n).await;
    }
    let before = paged(&store, "CP1", 100).await;
    assert!(before.len() >= 7, "a boot and six statuses: {before:?}");
    assert_eq!(status_changes(&store, "CP1").await, 6);

    let last = store.last_event_id().await.expect("last");
    assert_eq!(before.last(), Some(&last));
    assert_eq!(store.index_events().await.expect("indexed"), last);
    let all = store.events_after(0, &EventFilter::default(), 1_000).await.expect("read");
    let expected: Vec<(String, i64, bool)> = {
        let mut e: Vec<_> = all
            .iter()
            .map(|e| (e.station_id.clone().expect("a station"), e.id, e.kind == "connector.status"))
            .collect();
        e.sort();
        e
    };
    assert_eq!(index_rows(url).await, (expected, last));
    assert_eq!(paged(&store, "CP1", 100).await, before, "the same through the index");
    assert_eq!(status_changes(&store, "CP1").await, 6);

    // Two more after the mark: pages that cross it, and statuses from both sides.
    status(&store, "CP1", "Available", 6).await;
    connect(&store, "CP2").await;
    status(&store, "CP1", "Unavailable", 7).await;
    let now = paged(&store, "CP1", 100).await;
    assert_eq!(now.len(), before.len() + 2);
    assert_eq!(&now[..before.len()], &before[..]);
    for limit in [1, 2, 3, 5] {
        assert_eq!(paged(&store, "CP1", limit).await, now, "pages of {limit}");
    }
    assert_eq!(status_changes(&store, "CP1").await, 8);
    let kinds = EventFilter {
        kinds: csms_core::events::KindFilter::parse("connector.status").expect("kind"),
        ..of_station("CP1")
    };
    let statuses = store.events_after(0, &kinds, 100).await.expect("read");
    assert_eq!(statuses.len(), 8);
    assert!(statuses.windows(2).all(|w| w[0].id < w[1].id));

    // A run lost with a database that restarted before making it durable (PostgreSQL's writer
    // commits without waiting): its entries and mark are gone, and the next run starts from the
    // mark that is stored, not from where the writer thought the index reached.
    let reached = store.index_events().await.expect("indexed");
    raw_exec(url, &format!("DELETE FROM event_index WHERE id > {last}")).await;
    raw_exec(url, &format!("DELETE FROM event_index_statuses WHERE id > {last}")).await;
    raw_exec(url, &format!("UPDATE event_index_mark SET id = {last}")).await;
    connect(&store, "CP2").await;
    let newest = store.index_events().await.expect("indexed");
    assert_eq!(newest, reached + 1);
    let all = store.events_after(0, &EventFilter::default(), 1_000).await.expect("read");
    let (rows, mark) = index_rows(url).await;
    assert_eq!((rows.len(), mark), (all.len(), newest), "every event indexed again");

    // All but the newest event pruned: its entries go too, a station's at a time.
    let future = csms_core::clock::format_timestamp(&(chrono::Utc::now() + chrono::Duration::days(1)));
    store.prune_events(&future).await.expect("pruned");
    store.index_events().await.expect("indexed");
    let newest = store.last_event_id().await.expect("last");
    let (rows, mark) = index_rows(url).await;
    assert_eq!(mark, newest);
    assert_eq!(rows.iter().map(|r| r.1).collect::<Vec<_>>(), [newest]);
    store.close().await;
}

#[tokio::test]
async fn sqlite_events_by_station_through_the_index_and_after_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    by_station_through_the_index_and_after_it(&dir.path().join("events.db").display().to_string()).await;
}

#[tokio::test]
async fn postgres_events_by_station_through_the_index_and_after_it() {
    let Some((mut admin, tag, url)) = common::pg_schema("store_events_by_station").await else { return };
    by_station_through_the_index_and_after_it(&url).await;
    common::drop_schema(&mut admin, &tag).await;
}
