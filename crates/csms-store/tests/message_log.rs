//! Message-log retention: frames older than the cut-off go, and each station keeps at most its
//! newest N frames.

use chrono::TimeZone;
use csms_store::{FrameLog, Op, Store, StoreOptions};

fn frame(station: &str, day: u32, text: &str) -> FrameLog {
    FrameLog {
        station_id: station.to_string(),
        direction: "in",
        at: chrono::Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).single().expect("valid"),
        frame: text.to_string(),
    }
}

#[tokio::test]
async fn pruning_applies_age_and_per_station_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        Store::open(&dir.path().join("log.db").display().to_string(), StoreOptions::default()).await.expect("open");
    let mut frames = Vec::new();
    for day in 1..=10 {
        frames.push(frame("A", day, &format!("a{day}")));
    }
    for day in 8..=10 {
        frames.push(frame("B", day, &format!("b{day}")));
    }
    store.apply(Op::Nothing, frames).await.expect("stored");

    store.prune_messages("2026-11-05T00:00:00.000Z", 4).await.expect("pruned");
    let a: Vec<String> = store.messages("A", None, 100).await.expect("read").into_iter().map(|m| m.frame).collect();
    let b: Vec<String> = store.messages("B", None, 100).await.expect("read").into_iter().map(|m| m.frame).collect();
    assert_eq!(a, ["a10", "a9", "a8", "a7"], "newest four of A, newest first");
    assert_eq!(b, ["b10", "b9", "b8"], "B is under both limits");
    store.close().await;
}

/// `Store::apply` queues its job when called; a job that finds the queue full waits in its
/// future for room. Every one of many writes racing for a queue of one is applied.
#[tokio::test]
async fn writes_wait_for_room_in_a_full_queue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions { queue_capacity: 1, ..StoreOptions::default() };
    let store = Store::open(&dir.path().join("q.db").display().to_string(), options).await.expect("open");
    // The future does not carry the operation: a station's message is handled in a future
    // allocated for every message, which holds this one.
    let probe = store.apply(Op::Nothing, Vec::new());
    assert!(std::mem::size_of_val(&probe) < std::mem::size_of::<Op>(), "{}", std::mem::size_of_val(&probe));
    probe.await.expect("stored");
    // The futures borrow nothing, so they can be spawned; they are all made before any is run.
    let writes: Vec<_> = (0..200).map(|i| store.apply(Op::Nothing, vec![frame("A", 1, &format!("f{i}"))])).collect();
    for write in writes.into_iter().map(tokio::spawn) {
        write.await.expect("joined").expect("stored");
    }
    let logged = store.messages("A", None, 500).await.expect("read");
    assert_eq!(logged.len(), 200, "every write applied");
    store.close().await;
}

#[tokio::test]
async fn writes_after_close_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        Store::open(&dir.path().join("c.db").display().to_string(), StoreOptions::default()).await.expect("open");
    store.apply(Op::Nothing, vec![frame("A", 1, "kept")]).await.expect("stored before close");
    store.close().await;
    assert!(matches!(store.apply(Op::Nothing, Vec::new()).await, Err(csms_store::StoreError::Closed)));
    let reopened =
        Store::open(&dir.path().join("c.db").display().to_string(), StoreOptions::default()).await.expect("reopen");
    assert_eq!(reopened.messages("A", None, 10).await.expect("read").len(), 1);
}

#[tokio::test]
async fn frames_reach_the_log_within_its_delay_without_a_reader_asking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("d.db").display().to_string();
    let store = Store::open(&path, StoreOptions::default()).await.expect("open");
    store.log_frames(vec![frame("A", 1, "queued")]);
    let count = || -> i64 {
        let conn = rusqlite::Connection::open(csms_store::message_log_path(&path)).expect("reader");
        conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).expect("count")
    };
    let started = std::time::Instant::now();
    while count() == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "the frame never reached the log");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    store.close().await;
}

#[tokio::test]
async fn pruning_by_age_removes_a_log_that_is_all_old() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        Store::open(&dir.path().join("e.db").display().to_string(), StoreOptions::default()).await.expect("open");
    store
        .apply(Op::Nothing, vec![frame("A", 1, "a1"), frame("B", 2, "b2"), frame("A", 3, "a3")])
        .await
        .expect("stored");
    store.prune_messages("2026-11-04T00:00:00.000Z", 100).await.expect("pruned");
    assert!(store.messages("A", None, 10).await.expect("read").is_empty());
    assert!(store.messages("B", None, 10).await.expect("read").is_empty());
    store.close().await;
}

#[tokio::test]
async fn an_older_database_has_its_log_moved_into_the_log_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db").display().to_string();
    Store::open(&path, StoreOptions::default()).await.expect("open").close().await;
    // Back to the layout before the move: the log in the main file, no log file, and the
    // migration that moves it not applied.
    let conn = rusqlite::Connection::open(&path).expect("main file");
    conn.execute_batch(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, station_id TEXT NOT NULL, \
         direction TEXT NOT NULL, at TEXT NOT NULL, frame TEXT NOT NULL); \
         CREATE INDEX messages_station ON messages (station_id, id); \
         INSERT INTO messages (station_id, direction, at, frame) VALUES \
         ('A', 'in', '2026-11-01T12:00:00.000Z', 'old1'), ('A', 'out', '2026-11-02T12:00:00.000Z', 'old2');",
    )
    .expect("old log");
    conn.execute("DELETE FROM schema_migrations WHERE version >= ?1", [csms_store::MESSAGE_LOG_MOVED_BY])
        .expect("forget the move");
    drop(conn);
    let log = csms_store::message_log_path(&path);
    for file in [log.clone(), format!("{log}-wal"), format!("{log}-shm")] {
        let _ = std::fs::remove_file(file);
    }

    let store = Store::open(&path, StoreOptions::default()).await.expect("reopen migrates");
    let old: Vec<String> = store.messages("A", None, 10).await.expect("read").into_iter().map(|m| m.frame).collect();
    assert_eq!(old, ["old2", "old1"]);
    store.apply(Op::Nothing, vec![frame("A", 3, "new")]).await.expect("stored");
    let all = store.messages("A", None, 10).await.expect("read");
    assert_eq!(all.iter().map(|m| m.frame.as_str()).collect::<Vec<_>>(), ["new", "old2", "old1"]);
    assert!(all[0].id > all[1].id, "new frames are numbered after the moved ones: {all:?}");
    store.close().await;
    let main = rusqlite::Connection::open(&path).expect("main file");
    let left: i64 =
        main.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'messages'", [], |r| r.get(0)).expect("schema");
    assert_eq!(left, 0, "the main file keeps no log");
}

/// PostgreSQL restarted under a running server: the log's connection dies with the writer's, and
/// is reopened, so frames after the outage are logged again.
#[tokio::test]
async fn the_log_reconnects_after_postgres_drops_its_connection() {
    let Some(base) = std::env::var("STROM_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!(
            "!!! SKIPPED the_log_reconnects_after_postgres_drops_its_connection: STROM_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let tag = format!("strom_logtest_{}", std::process::id());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base).await.expect("admin connection");
    sqlx::query(&format!("CREATE SCHEMA {tag}")).execute(&mut admin).await.expect("schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}application_name={tag}&options=-csearch_path%3D{tag}");
    let store = Store::open(&url, StoreOptions::default()).await.expect("open");
    store.apply(Op::Nothing, vec![frame("A", 1, "before")]).await.expect("stored");
    store.flush_log().await.expect("flushed");

    // Every connection of this store goes, as when PostgreSQL restarts.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
        .bind(&tag)
        .execute(&mut admin)
        .await
        .expect("terminated");
    // The first flush after the outage finds the connection dead (its frames are lost, with a
    // warning) and replaces it; the next ones are written.
    for round in 0..3 {
        store.apply(Op::Nothing, vec![frame("A", 2, &format!("after{round}"))]).await.expect("stored");
        store.flush_log().await.expect("flushed");
    }
    let frames: Vec<String> = store.messages("A", None, 10).await.expect("read").into_iter().map(|m| m.frame).collect();
    assert!(frames.contains(&"after2".to_string()), "{frames:?}");
    assert!(frames.contains(&"before".to_string()), "{frames:?}");
    store.close().await;
    sqlx::query(&format!("DROP SCHEMA {tag} CASCADE")).execute(&mut admin).await.expect("drop schema");
}
