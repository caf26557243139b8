//! The message log: frames read back newest first and page by page, retention (frames older
//! than the cut-off go, each station keeps its newest N, in whole blocks), the move of older
//! layouts into blocks.

mod common;

use chrono::TimeZone;
use csms_core::ops::{Direction, FrameLog, Seen, UpsertIdToken};
use csms_core::port::PortError;
use csms_core::station::StationId;
use csms_store::{PageRequest, Store, StoreOptions};

/// A write that changes nothing (a station never registered was seen), to carry frames into the
/// log as a station's message does.
fn no_change() -> Seen {
    Seen {
        station: csms_core::station::StationId::parse("nobody").expect("valid id"),
        at: chrono::Utc::now(),
        reason: "closed",
    }
}

fn frame(station: &str, day: u32, text: &str) -> FrameLog {
    FrameLog {
        station_id: StationId::parse(station).expect("a valid station id"),
        direction: Direction::In,
        at: chrono::Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).single().expect("valid"),
        frame: text.to_string(),
    }
}

/// A store on a new SQLite file in `dir`.
async fn open_in(dir: &tempfile::TempDir, file: &str) -> Store {
    Store::open(&dir.path().join(file).display().to_string(), StoreOptions::default()).await.expect("open")
}

/// A station's logged frames, newest first, up to `limit`.
async fn frames_of(store: &Store, station: &str, limit: i64) -> Vec<String> {
    store
        .messages(station, &PageRequest::first(limit))
        .await
        .expect("read")
        .items
        .into_iter()
        .map(|m| m.frame)
        .collect()
}

#[tokio::test]
async fn pruning_applies_age_and_per_station_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_in(&dir, "log.db").await;
    let mut frames = Vec::new();
    for day in 1..=10 {
        frames.push(frame("A", day, &format!("a{day}")));
    }
    for day in 8..=10 {
        frames.push(frame("B", day, &format!("b{day}")));
    }
    // A part of the log each, so each frame is a block of its own.
    for f in frames {
        store.execute(no_change(), vec![f]).await.expect("stored");
        store.flush_log().await.expect("flushed");
    }

    store.prune_messages("2026-11-05T00:00:00.000Z", 4).await.expect("pruned");
    let a = frames_of(&store, "A", 100).await;
    let b = frames_of(&store, "B", 100).await;
    assert_eq!(a, ["a10", "a9", "a8", "a7"], "newest four of A, newest first");
    assert_eq!(b, ["b10", "b9", "b8"], "B is under both limits");
    store.close().await;
}

/// Issue 23, at the store: a station's frames logged without a write, in and out, as a
/// Heartbeat's are, 100,000 of them handed over far faster than the writer's round
/// (`LOG_DELAY`), while another station's are logged too. Each caller awaits the room it is
/// given (as a session does before it reads the station's next message): every frame is
/// logged, each station's in order. Before back-pressure, frames beyond 32,768 waiting were
/// dropped, the other station's among them.
async fn a_burst_of_loose_frames_is_logged_whole(store: Store) {
    const BURST: usize = 50_000;
    const OTHER: usize = 2_000;
    let other = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..OTHER {
                store.log_frames(vec![frame("B", 1, &format!("b{i}"))]).await;
                tokio::task::yield_now().await;
            }
        })
    };
    for i in 0..BURST {
        store.log_frames(vec![frame("A", 1, &format!("in{i}")), frame("A", 1, &format!("out{i}"))]).await;
    }
    other.await.expect("the other station");
    let mut a = frames_of(&store, "A", 3 * BURST as i64).await;
    a.reverse();
    let expected: Vec<String> = (0..BURST).flat_map(|i| [format!("in{i}"), format!("out{i}")]).collect();
    assert_eq!(a.len(), expected.len(), "every frame of the burst");
    assert!(a == expected, "the burst in order");
    let mut b = frames_of(&store, "B", 2 * OTHER as i64).await;
    b.reverse();
    assert_eq!(b, (0..OTHER).map(|i| format!("b{i}")).collect::<Vec<_>>(), "every frame of the other station");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_loose_frames_is_logged_whole_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    a_burst_of_loose_frames_is_logged_whole(open_in(&dir, "burst.db").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_loose_frames_is_logged_whole_postgres() {
    let Some((mut admin, tag, url)) = common::pg_schema("a_burst_of_loose_frames_is_logged_whole_postgres").await
    else {
        return;
    };
    a_burst_of_loose_frames_is_logged_whole(Store::open(&url, StoreOptions::default()).await.expect("open")).await;
    common::drop_schema(&mut admin, &tag).await;
}

/// Whether `future` finishes when polled once, without waiting.
fn ready_now<F: std::future::Future + Unpin>(future: &mut F) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(future).poll(&mut cx).is_ready()
}

/// The back-pressure itself: while the writer is held up (a PostgreSQL lock on the table a write
/// needs), loose frames pile up; once two parts' worth wait, whoever logs more is handed a future
/// that does not finish until the writer has taken them, and then does. Nothing is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_up_writer_holds_back_whoever_logs_more_postgres() {
    const PART: usize = 32 * 1024;
    let Some((mut admin, tag, url)) = common::pg_schema("a_held_up_writer_holds_back_whoever_logs_more_postgres").await
    else {
        return;
    };
    let store = Store::open(&url, StoreOptions::default()).await.expect("open");
    let mut locker = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.expect("connection");
    let mut lock = sqlx::Connection::begin(&mut locker).await.expect("begin");
    sqlx::query("LOCK TABLE id_tokens IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await.expect("locked");
    let record = csms_core::authorization::IdTokenRecord {
        id_token: "HELD".to_string(),
        token_type: None,
        status: csms_core::authorization::TokenStatus::Accepted,
        expiry: None,
        parent_id_token: None,
    };
    let held = tokio::spawn(store.execute(UpsertIdToken { record, now: chrono::Utc::now() }, Vec::new()));
    // The writer is in that write, waiting for the lock, once PostgreSQL says so.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&tag)
        .fetch_one(&mut admin)
        .await
        .expect("activity");
        if waiting > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the writer never waited for the lock");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for i in 0..2 * PART - 1 {
        let mut room = store.log_frames(vec![frame("A", 1, &format!("f{i}"))]);
        assert!(ready_now(&mut room), "room below two parts ({i})");
    }
    let mut room = store.log_frames(vec![frame("A", 1, "last")]);
    assert!(!ready_now(&mut room), "two parts wait: no room while the writer is held up");
    assert!(!ready_now(&mut room), "still none");
    lock.commit().await.expect("lock released");
    tokio::time::timeout(std::time::Duration::from_secs(30), room).await.expect("room once the writer takes them");
    held.await.expect("joined").expect("the held write went through");
    let logged = frames_of(&store, "A", 3 * PART as i64).await;
    assert_eq!(logged.len(), 2 * PART, "every frame");
    assert_eq!(logged[0], "last");
    store.close().await;
    drop(locker);
    common::drop_schema(&mut admin, &tag).await;
}

/// `cap_messages` holds each station to its newest N frames (and at most one block more) from
/// counts the log's thread keeps: right after the first count, after more frames were written,
/// and after `prune_messages` had the counts taken again. A station under the limit keeps all.
async fn capping_holds_each_station_to_its_count(store: Store) {
    let part = |part: usize, station: &'static str, frames: usize| {
        (0..frames).map(move |i| frame(station, 1, &format!("{}{part}.{i}", station.to_lowercase())))
    };
    // Newest first, as `frames_of` reads them.
    let newest = |parts: std::ops::Range<usize>| -> Vec<String> {
        parts.rev().flat_map(|p| (0..10).rev().map(move |i| format!("a{p}.{i}"))).collect()
    };
    // A part of the log each, so that A has ten blocks of ten frames.
    for p in 0..10 {
        store.execute(no_change(), part(p, "A", 10).collect()).await.expect("stored");
        store.flush_log().await.expect("flushed");
    }
    store.execute(no_change(), part(0, "B", 5).collect()).await.expect("stored");
    store.flush_log().await.expect("flushed");

    store.cap_messages(35).await.expect("capped");
    // Blocks with 0, 10, 20 and 30 newer frames stay; the one with 40 goes.
    assert_eq!(frames_of(&store, "A", 1000).await, newest(6..10), "newest 35 and the rest of their block");
    assert_eq!(frames_of(&store, "B", 1000).await.len(), 5, "under the limit: untouched");

    for p in 10..13 {
        store.execute(no_change(), part(p, "A", 10).collect()).await.expect("stored");
        store.flush_log().await.expect("flushed");
    }
    store.cap_messages(35).await.expect("capped");
    assert_eq!(frames_of(&store, "A", 1000).await, newest(9..13), "the counts followed the frames written since");

    // Nothing is old enough to go; the counts are taken afresh at the next cap.
    store.prune_messages("2026-01-01T00:00:00.000Z", 1000).await.expect("pruned");
    store.cap_messages(20).await.expect("capped");
    assert_eq!(frames_of(&store, "A", 1000).await, newest(11..13));
    assert_eq!(frames_of(&store, "B", 1000).await.len(), 5);
    store.close().await;
}

#[tokio::test]
async fn capping_holds_each_station_to_its_count_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    capping_holds_each_station_to_its_count(open_in(&dir, "cap.db").await).await;
}

#[tokio::test]
async fn capping_holds_each_station_to_its_count_postgres() {
    let Some((mut admin, tag, url)) = common::pg_schema("capping_holds_each_station_to_its_count_postgres").await
    else {
        return;
    };
    capping_holds_each_station_to_its_count(Store::open(&url, StoreOptions::default()).await.expect("open")).await;
    common::drop_schema(&mut admin, &tag).await;
}

/// `Store::execute` queues its job when called; a job that finds the queue full waits in its
/// future for room. Every one of many writes racing for a queue of one is applied.
#[tokio::test]
async fn writes_wait_for_room_in_a_full_queue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions { queue_capacity: 1, ..StoreOptions::default() };
    let store = Store::open(&dir.path().join("q.db").display().to_string(), options).await.expect("open");
    // The future does not carry the operation: a station's message is handled in a future
    // allocated for every message, which holds this one.
    let probe = store.execute(no_change(), Vec::new());
    assert!(
        std::mem::size_of_val(&probe) < std::mem::size_of::<csms_core::port::Request>(),
        "{}",
        std::mem::size_of_val(&probe)
    );
    probe.await.expect("stored");
    // The futures borrow nothing, so they can be spawned; they are all made before any is run.
    let writes: Vec<_> = (0..200).map(|i| store.execute(no_change(), vec![frame("A", 1, &format!("f{i}"))])).collect();
    for write in writes.into_iter().map(tokio::spawn) {
        write.await.expect("joined").expect("stored");
    }
    let logged = store.messages("A", &PageRequest::first(500)).await.expect("read").items;
    assert_eq!(logged.len(), 200, "every write applied");
    store.close().await;
}

#[tokio::test]
async fn writes_after_close_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_in(&dir, "c.db").await;
    store.execute(no_change(), vec![frame("A", 1, "kept")]).await.expect("stored before close");
    store.close().await;
    assert!(matches!(store.execute(no_change(), Vec::new()).await, Err(PortError::Closed)));
    let reopened = open_in(&dir, "c.db").await;
    assert_eq!(reopened.messages("A", &PageRequest::first(10)).await.expect("read").items.len(), 1);
}

#[tokio::test]
async fn frames_reach_the_log_within_its_delay_without_a_reader_asking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("d.db").display().to_string();
    let store = Store::open(&path, StoreOptions::default()).await.expect("open");
    store.log_frames(vec![frame("A", 1, "queued")]).await;
    let count = || -> i64 {
        let conn = rusqlite::Connection::open(csms_store::message_log_path(&path)).expect("reader");
        conn.query_row("SELECT count(*) FROM message_blocks", [], |r| r.get(0)).expect("count")
    };
    let started = std::time::Instant::now();
    while count() == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "the frame never reached the log");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    store.close().await;
}

/// Frames logged without a write (`log_frames`: Ström's answers) wait apart from the writes'
/// frames, yet a station's log keeps the order in which its frames were handed over.
#[tokio::test]
async fn frames_logged_without_a_write_keep_their_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_in(&dir, "o.db").await;
    let mut expected = Vec::new();
    for i in 0..50 {
        store.execute(no_change(), vec![frame("A", 1, &format!("call{i}"))]).await.expect("stored");
        store.log_frames(vec![frame("A", 1, &format!("answer{i}"))]).await;
        store.log_frames(vec![frame("B", 1, &format!("b{i}"))]).await;
        expected.extend([format!("call{i}"), format!("answer{i}")]);
        if i % 20 == 0 {
            store.flush_log().await.expect("flushed");
        }
    }
    store.flush_log().await.expect("flushed");
    expected.reverse();
    assert_eq!(frames_of(&store, "A", 1000).await, expected, "newest first, each answer after its call");
    assert_eq!(frames_of(&store, "B", 1000).await.len(), 50, "every loose frame reached the log");
    store.close().await;
}

/// A part of the log holds a block per station; pruning keeps or drops a block whole.
#[tokio::test]
async fn pruning_by_count_drops_whole_blocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_in(&dir, "w.db").await;
    store.execute(no_change(), vec![frame("A", 1, "a1"), frame("A", 1, "a2"), frame("A", 1, "a3")]).await.expect("1");
    store.flush_log().await.expect("flushed");
    store.execute(no_change(), vec![frame("A", 2, "a4"), frame("A", 2, "a5")]).await.expect("2");
    store.prune_messages("2026-01-01T00:00:00.000Z", 3).await.expect("pruned");
    let kept = frames_of(&store, "A", 100).await;
    assert_eq!(kept, ["a5", "a4", "a3", "a2", "a1"], "the older block has only two newer frames: it stays");
    store.prune_messages("2026-01-01T00:00:00.000Z", 2).await.expect("pruned");
    let kept = frames_of(&store, "A", 100).await;
    assert_eq!(kept, ["a5", "a4"], "two newer frames: the older block goes");
    store.close().await;
}

/// Pages are read after a cursor (the last frame's block and place): frames logged while a
/// reader pages come before its first page and never shift the pages, so every frame that was
/// there is read exactly once; `from`/`to` bound the frames' time.
#[tokio::test]
async fn pages_stay_put_while_frames_arrive_and_keep_to_the_time_range() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_in(&dir, "cursor.db").await;
    for day in 1..=9 {
        store
            .execute(no_change(), vec![frame("A", day, &format!("a{day}")), frame("B", day, "b")])
            .await
            .expect("stored");
        store.flush_log().await.expect("flushed");
    }
    let mut request = PageRequest::first(2);
    let mut seen = Vec::new();
    loop {
        let page = store.messages("A", &request).await.expect("read");
        seen.extend(page.items.into_iter().map(|m| m.frame));
        // A frame arrives between every two pages.
        let late = format!("late{}", seen.len());
        store.execute(no_change(), vec![frame("A", 20, &late)]).await.expect("stored");
        match page.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=9).rev().map(|d| format!("a{d}")).collect();
    assert_eq!(seen, expected);

    let range = PageRequest {
        after: None,
        limit: 100,
        from: Some("2026-11-03T12:00:00.000Z".into()),
        to: Some("2026-11-06T12:00:00.000Z".into()),
    };
    let frames: Vec<String> =
        store.messages("A", &range).await.expect("read").items.into_iter().map(|m| m.frame).collect();
    assert_eq!(frames, ["a5", "a4", "a3"], "from is inclusive, to exclusive");
    store.close().await;
}

/// Reading page by page (after the last frame seen) gives every frame once, newest first, across
/// many blocks and stations.
#[tokio::test]
async fn the_log_reads_back_page_by_page_across_blocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_in(&dir, "p.db").await;
    let mut written = Vec::new();
    for part in 0..20 {
        let mut frames = Vec::new();
        for i in 0..3 {
            written.push(format!("a{part}.{i}"));
            frames.push(frame("A", 1, &format!("a{part}.{i}")));
            frames.push(frame("B", 1, &format!("b{part}.{i}")));
        }
        store.execute(no_change(), frames).await.expect("stored");
        store.flush_log().await.expect("flushed");
    }
    written.reverse();
    assert_eq!(frames_of(&store, "A", 1000).await, written);
    for page_size in [1, 2, 7] {
        let mut paged = Vec::new();
        let mut request = PageRequest::first(page_size);
        loop {
            let page = store.messages("A", &request).await.expect("read");
            assert!(page.items.len() <= page_size as usize);
            paged.extend(page.items.into_iter().map(|m| m.frame));
            match page.next {
                Some(next) => request.after = Some(next),
                None => break,
            }
        }
        assert_eq!(paged, written, "pages of {page_size}");
    }
    store.close().await;
}

#[tokio::test]
async fn pruning_by_age_removes_a_log_that_is_all_old() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_in(&dir, "e.db").await;
    store
        .execute(no_change(), vec![frame("A", 1, "a1"), frame("B", 2, "b2"), frame("A", 3, "a3")])
        .await
        .expect("stored");
    store.prune_messages("2026-11-04T00:00:00.000Z", 100).await.expect("pruned");
    assert!(store.messages("A", &PageRequest::first(10)).await.expect("read").items.is_empty());
    assert!(store.messages("B", &PageRequest::first(10)).await.expect("read").items.is_empty());
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
         ('A', 'in', '2026-11-01T12:00:00.123Z', 'öld1'), ('A', 'out', '2026-11-02T12:00:00.000Z', 'old2');",
    )
    .expect("old log");
    // The log's migrations only: later ones (readings' codes) are not for running twice.
    conn.execute(
        "DELETE FROM schema_migrations WHERE version >= ?1 AND version < ?2",
        [csms_store::MESSAGE_LOG_MOVED_BY, csms_store::READING_TERMS_FROM],
    )
    .expect("forget the move");
    drop(conn);
    let log = csms_store::message_log_path(&path);
    for file in [log.clone(), format!("{log}-wal"), format!("{log}-shm")] {
        let _ = std::fs::remove_file(file);
    }

    let store = Store::open(&path, StoreOptions::default()).await.expect("reopen migrates");
    let old = store.messages("A", &PageRequest::first(10)).await.expect("read").items;
    assert_eq!(
        old.iter().map(|m| (m.frame.as_str(), m.direction.as_str(), m.at.as_str())).collect::<Vec<_>>(),
        [("old2", "out", "2026-11-02T12:00:00.000Z"), ("öld1", "in", "2026-11-01T12:00:00.123Z")]
    );
    store.execute(no_change(), vec![frame("A", 3, "new")]).await.expect("stored");
    let all = store.messages("A", &PageRequest::first(10)).await.expect("read").items;
    assert_eq!(all.iter().map(|m| m.frame.as_str()).collect::<Vec<_>>(), ["new", "old2", "öld1"]);
    assert!(all[0].id > all[1].id, "new frames are numbered after the moved ones: {all:?}");
    store.close().await;
    let main = rusqlite::Connection::open(&path).expect("main file");
    let left: i64 =
        main.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'messages'", [], |r| r.get(0)).expect("schema");
    assert_eq!(left, 0, "the main file keeps no log");
}

/// PostgreSQL: a log of a row per frame (before blocks) becomes blocks of one frame each, in
/// order, and new frames are numbered after them.
#[tokio::test]
async fn a_postgres_log_of_rows_becomes_blocks() {
    let Some((mut admin, tag, url)) = common::pg_schema("a_postgres_log_of_rows_becomes_blocks").await else {
        return;
    };
    Store::open(&url, StoreOptions::default()).await.expect("open").close().await;
    // Back to the layout before blocks, with a log in it.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.expect("connection");
    for statement in [
        "DROP TABLE message_blocks".to_string(),
        "CREATE TABLE messages (id BIGSERIAL PRIMARY KEY, station_id TEXT NOT NULL, direction TEXT NOT NULL, \
         at TEXT NOT NULL, frame TEXT NOT NULL)"
            .to_string(),
        "INSERT INTO messages (station_id, direction, at, frame) VALUES \
         ('A', 'in', '2026-11-01T12:00:00.123Z', '[2,\"1\",\"Heartbeat\",{}]'), ('B', 'in', '2026-11-01T12:00:01.000Z', 'b'), \
         ('A', 'out', '2026-11-01T12:00:02.000Z', 'ünï')"
            .to_string(),
        format!(
            "DELETE FROM schema_migrations WHERE version >= {} AND version < {}",
            csms_store::MESSAGE_LOG_IN_BLOCKS_FROM,
            csms_store::READING_TERMS_FROM
        ),
    ] {
        sqlx::query(&statement).execute(&mut conn).await.expect(&statement);
    }
    drop(conn);

    let store = Store::open(&url, StoreOptions::default()).await.expect("reopen migrates");
    store.execute(no_change(), vec![frame("A", 3, "new")]).await.expect("stored");
    let all = store.messages("A", &PageRequest::first(10)).await.expect("read").items;
    assert_eq!(
        all.iter().map(|m| (m.frame.as_str(), m.direction.as_str(), m.at.as_str())).collect::<Vec<_>>(),
        [
            ("new", "in", "2026-11-03T12:00:00.000Z"),
            ("ünï", "out", "2026-11-01T12:00:02.000Z"),
            ("[2,\"1\",\"Heartbeat\",{}]", "in", "2026-11-01T12:00:00.123Z")
        ]
    );
    assert!(all[0].id > all[1].id && all[1].id > all[2].id, "{all:?}");
    assert_eq!(store.messages("B", &PageRequest::first(10)).await.expect("read").items.len(), 1);
    store.close().await;
    common::drop_schema(&mut admin, &tag).await;
}

/// PostgreSQL restarted under a running server: the log's connection dies with the writer's, and
/// is reopened, so frames after the outage are logged again.
#[tokio::test]
async fn the_log_reconnects_after_postgres_drops_its_connection() {
    let Some((mut admin, tag, url)) = common::pg_schema("the_log_reconnects_after_postgres_drops_its_connection").await
    else {
        return;
    };
    let store = Store::open(&url, StoreOptions::default()).await.expect("open");
    store.execute(no_change(), vec![frame("A", 1, "before")]).await.expect("stored");
    store.flush_log().await.expect("flushed");

    // Every connection of this store goes, as when PostgreSQL restarts.
    let dropped = common::drop_connections(&mut admin, &tag).await;
    assert!(dropped >= 3, "the writer's, the syncer's and the log's connections at least: {dropped}");
    // The first write and flush after the outage find the connections dead (the write is
    // answered with an error, the flush's frames are lost with a warning) and replace them; the
    // next ones are stored and written.
    for round in 0..3 {
        let stored = store.execute(no_change(), vec![frame("A", 2, &format!("after{round}"))]).await;
        if round > 0 {
            stored.expect("stored");
        }
        store.flush_log().await.expect("flushed");
    }
    let frames: Vec<String> =
        store.messages("A", &PageRequest::first(10)).await.expect("read").items.into_iter().map(|m| m.frame).collect();
    assert!(frames.contains(&"after2".to_string()), "{frames:?}");
    assert!(frames.contains(&"before".to_string()), "{frames:?}");
    store.close().await;
    common::drop_schema(&mut admin, &tag).await;
}

/// Frames like a busy station's MeterValues, one second apart: long and alike, as a block's
/// frames are.
fn meter_frames(station: &str, n: usize) -> Vec<FrameLog> {
    (0..n)
        .map(|i| FrameLog {
            station_id: StationId::parse(station).expect("a valid station id"),
            direction: if i % 2 == 0 { Direction::In } else { Direction::Out },
            at: chrono::Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).single().expect("valid")
                + chrono::Duration::seconds(i as i64),
            frame: format!(
                r#"[2,"{i}","MeterValues",{{"connectorId":1,"meterValue":[{{"timestamp":"2026-11-01T12:00:00Z","sampledValue":[{{"value":"{}","measurand":"Energy.Active.Import.Register","unit":"Wh"}}]}}]}}]"#,
                1000 + 7 * i
            ),
        })
        .collect()
}

/// A block as versions before compression stored it: the frames one after another, each after
/// its direction, time and length.
fn plain_body(frames: &[FrameLog]) -> Vec<u8> {
    let mut body = Vec::new();
    for f in frames {
        body.push(if f.direction == Direction::Out { b'o' } else { b'i' });
        body.extend_from_slice(&f.at.timestamp_millis().to_be_bytes());
        body.extend_from_slice(&(f.frame.len() as u32).to_be_bytes());
        body.extend_from_slice(f.frame.as_bytes());
    }
    body
}

/// SQLite: Ström stores a block's frames compressed, in a fraction of their length, and reads
/// them back, together with a block an older version stored plain.
#[tokio::test]
async fn the_log_is_stored_compressed_and_reads_back_with_older_plain_blocks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("c.db").display().to_string();
    let store = open_in(&dir, "c.db").await;
    let older = meter_frames("A", 3);
    let frames = meter_frames("A", 200);
    store.flush_log().await.expect("log file created");
    let log = rusqlite::Connection::open(csms_store::message_log_path(&path)).expect("log file");
    log.execute(
        "INSERT INTO message_blocks (station_id, frames, last_at, body) VALUES ('A', 3, '2026-11-01T12:00:02.000Z', ?1)",
        [plain_body(&older)],
    )
    .expect("older block");
    store.execute(no_change(), frames.clone()).await.expect("stored");
    store.flush_log().await.expect("flushed");
    let (first, stored): (Vec<u8>, i64) = log
        .query_row("SELECT substr(body, 1, 1), length(body) FROM message_blocks ORDER BY id DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("newest block");
    let plain = plain_body(&frames).len() as i64;
    assert_eq!(first, b"z", "compressed");
    assert!(stored * 4 < plain, "{stored} bytes stored for {plain}");
    let back: Vec<(String, String, String)> = store
        .messages("A", &PageRequest::first(1000))
        .await
        .expect("read")
        .items
        .into_iter()
        .map(|m| (m.direction, m.at, m.frame))
        .collect();
    let sent: Vec<(String, String, String)> = older
        .iter()
        .chain(&frames)
        .rev()
        .map(|f| (f.direction.as_str().to_string(), csms_core::clock::format_timestamp(&f.at), f.frame.clone()))
        .collect();
    assert_eq!(back, sent);
    store.close().await;
}

/// PostgreSQL: the blocks Ström compressed are stored as they come, not compressed again by
/// TOAST (`EXTERNAL`, set once), and read back.
#[tokio::test]
async fn postgres_stores_the_compressed_log_as_it_comes() {
    let Some((mut admin, tag, url)) = common::pg_schema("postgres_stores_the_compressed_log_as_it_comes").await else {
        return;
    };
    let store = Store::open(&url, StoreOptions::default()).await.expect("open");
    let frames = meter_frames("A", 200);
    store.execute(no_change(), frames.clone()).await.expect("stored");
    store.flush_log().await.expect("flushed");
    let (first, stored, method): (i32, i32, Option<String>) = sqlx::query_as(&format!(
        "SELECT get_byte(body, 0), length(body), pg_column_compression(body) FROM {tag}.message_blocks WHERE station_id = 'A'"
    ))
    .fetch_one(&mut admin)
    .await
    .expect("block");
    assert_eq!(first, i32::from(b'z'), "compressed by Ström");
    assert!((stored as usize) * 4 < plain_body(&frames).len(), "{stored} bytes");
    assert_eq!(method, None, "not compressed again");
    let storage: i8 = sqlx::query_scalar(&format!(
        "SELECT attstorage FROM pg_attribute WHERE attrelid = '{tag}.message_blocks'::regclass AND attname = 'body'"
    ))
    .fetch_one(&mut admin)
    .await
    .expect("storage");
    assert_eq!(storage as u8, b'e');
    let back: Vec<String> = store
        .messages("A", &PageRequest::first(1000))
        .await
        .expect("read")
        .items
        .into_iter()
        .map(|m| m.frame)
        .collect();
    let sent: Vec<String> = frames.into_iter().rev().map(|f| f.frame).collect();
    assert_eq!(back, sent);
    // Opening again changes nothing more.
    store.close().await;
    Store::open(&url, StoreOptions::default()).await.expect("reopen").close().await;
    common::drop_schema(&mut admin, &tag).await;
}
