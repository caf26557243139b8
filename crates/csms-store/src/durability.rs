//! How commits become durable before their messages are answered: the WAL fsynced by the writer
//! (SQLite) with a background checkpointer, or a syncer thread flushing PostgreSQL's WAL.

use crate::writer::EventHub;
use crate::writes::StoredEvent;
use crate::{StoreError, StoreMetrics};
use csms_core::port::{PortError, Request};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How a batch's commit is made durable before its messages are answered.
pub(crate) enum Durability {
    /// SQLite: by the writer, right after the commit.
    Wal(WalSync),
    /// PostgreSQL: by a thread of its own, while the writer runs the next batch.
    Syncer(Syncer),
}

impl Durability {
    pub(crate) fn stop(self) {
        match self {
            Durability::Wal(wal) => wal.checkpointer.stop(),
            Durability::Syncer(syncer) => syncer.stop(),
        }
    }
}

/// SQLite's commits made durable by the writer itself: COMMIT (`synchronous=NORMAL`) writes the
/// WAL without syncing it; the writer then fsyncs the WAL, which covers every commit before it,
/// and only then answers the batch. While it waits for the disk, messages queue, so under load
/// the next batch is larger and one commit and one fsync cover more of them. This was a thread
/// of its own (as PostgreSQL's `Syncer` still is), so that the next batch ran during the fsync;
/// on two cores shared with the connections the hand-off between the threads and the smaller
/// batches cost more than the overlap gave (BENCHMARKS.md, thirteenth session).
pub(crate) struct WalSync {
    wal: String,
    /// Opened at the first sync, when SQLite has certainly created the WAL; the writer's
    /// connection keeps it from being deleted while the store is open.
    file: Option<std::fs::File>,
    pub(crate) checkpointer: Checkpointer,
}

impl WalSync {
    pub(crate) fn start(path: &str) -> Result<WalSync, StoreError> {
        Ok(WalSync { wal: format!("{path}-wal"), file: None, checkpointer: Checkpointer::start(path)? })
    }

    pub(crate) fn sync(&mut self) -> Result<(), String> {
        let synced = match &self.file {
            Some(file) => file.sync_data(),
            None => std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.wal)
                .and_then(|opened| self.file.insert(opened).sync_data()),
        };
        synced.map_err(|e| format!("fsync of {}: {e}", self.wal))
    }
}

/// Makes PostgreSQL commits durable off the writer's path: the writer commits with
/// `synchronous_commit = off` (COMMIT returns before PostgreSQL's WAL is flushed) and hands the
/// batch's answers here; this thread commits a transaction of its own that writes to the WAL and
/// waits for the flush, which covers every record before it, and only then answers them. While
/// one batch is being flushed the writer already runs the next (PostgreSQL's commit is a round
/// trip the writer would otherwise wait out), and one flush covers every batch that committed
/// meanwhile.
pub(crate) struct Syncer {
    /// A batch's answers, with the domain events it committed (sent once durable).
    pub(crate) batches: std::sync::mpsc::Sender<(Vec<Request>, Vec<Arc<StoredEvent>>)>,
    thread: std::thread::JoinHandle<()>,
}

/// Answers a batch's messages: with their results if their commit is durable, else with the
/// reason it is not (the stations repeat them).
/// Hands durable domain events to the live subscribers, in id order. Events whose commit could
/// not be made durable are not sent live (they are stored; a client reading the store may see
/// them).
pub(crate) fn publish(hub: &EventHub, events: Vec<Arc<StoredEvent>>, durable: &Result<(), String>) {
    if durable.is_ok() {
        for event in events {
            // No subscriber is no error.
            let _ = hub.send(event);
        }
    }
}

pub(crate) fn answer(requests: Vec<Request>, durable: &Result<(), String>) {
    if let Err(e) = durable {
        tracing::error!(error = %e, "making commits durable failed: writes are answered with an error");
    }
    let durable = durable.clone().map_err(PortError::Durability);
    for request in requests {
        request.settle(&durable);
    }
}

/// Copies the WAL into the database in the background (PASSIVE checkpoints, which never block
/// the writer).
///
/// The WAL starts over from its first frame, and so stops growing, only when a write transaction
/// begins with every frame of it already copied. Under steady load the background checkpoints
/// never get there (the writer appends while they copy), so SQLite's own checkpoint at
/// `wal_autocheckpoint` did it, inside a commit: it copied up to 100 ms of WAL and synced the
/// database while every station waited (30–40 ms stalls, the p99 of the meter benchmark). Now,
/// once the WAL is past `RESTART_PAGES`, the checkpointer copies again until a pass leaves
/// little behind, then asks the writer to checkpoint that rest itself between two batches.
pub(crate) struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
    /// Set when the WAL is long and nearly all copied: the writer's next checkpoint is short
    /// and lets its next transaction start the WAL over.
    pub(crate) restart_wal: Arc<AtomicBool>,
}

/// What the checkpointer does after a pass, given SQLite's answer to `wal_checkpoint`.
#[derive(Debug, PartialEq, Eq)]
enum AfterPass {
    /// Wait for the next round.
    Rest,
    /// The WAL is long and the pass left much behind (the writer appended meanwhile).
    Again,
    /// The WAL is long and nearly all copied: the writer's checkpoint will be short.
    AskWriter,
}

impl Checkpointer {
    /// Between passes. Each pass that copied something ends with an fsync of the database,
    /// which writes back what it copied; while that runs, the writer's fsync of the WAL waits
    /// behind it on the disk, and so does every station with a message in the batch. Every
    /// 100 ms at 56,000 MeterValues a second a pass copied ~1,100 pages and its fsync took 1.8
    /// ms (p90 2.4); every 25 ms the fsyncs are a quarter as long and p99 at 100 stations fell
    /// from 4.3–4.5 to 3.1–3.5 ms (BENCHMARKS.md, seventeenth session). Sessions rewrite the
    /// same pages often, and more passes copy them more often: the checkpointer's CPU doubles
    /// there, to 5 % of a core, with sessions per second unchanged within the noise.
    const EVERY: std::time::Duration = std::time::Duration::from_millis(25);
    /// Between passes while the WAL stays as it was: an idle server's checkpointer wakes four
    /// times a second rather than forty (its CPU 0.3 % of a core at `EVERY`).
    const IDLE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
    /// 64 MiB of 4 KiB pages. Not less: even the short checkpoint syncs the database and the
    /// WAL (1–12 ms on this machine's disk), so it is worth doing rarely.
    const RESTART_PAGES: i64 = 16384;
    /// Left uncopied after a pass: few enough for the writer to copy without a noticeable stall.
    const SMALL_REST: i64 = 256;
    const MAX_PASSES: usize = 4;

    fn after_pass(busy: bool, frames: i64, copied: i64) -> AfterPass {
        if busy || frames < Self::RESTART_PAGES {
            AfterPass::Rest
        } else if frames - copied <= Self::SMALL_REST {
            AfterPass::AskWriter
        } else {
            AfterPass::Again
        }
    }

    /// How long to rest after a round whose last pass found the WAL at `now` (frames in it,
    /// frames copied), where the round before left it at `before`; `None`: the pass failed.
    fn rest(before: Option<(i64, i64)>, now: Option<(i64, i64)>) -> std::time::Duration {
        if now.is_some() && now == before {
            Self::IDLE_EVERY
        } else {
            Self::EVERY
        }
    }

    fn start(path: &str) -> Result<Checkpointer, StoreError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(1))?;
        // Synced after every pass that copied something. The writer's short checkpoint ends
        // with an fsync of the database; left to it, that fsync wrote back every page the
        // background passes had copied since the WAL last started over: 22–35 ms of stall at
        // 64 MiB, against 1–12 ms with this (BENCHMARKS.md).
        let database = std::fs::File::open(path).map_err(StoreError::Thread)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let restart_wal = Arc::new(AtomicBool::new(false));
        let ask_writer = Arc::clone(&restart_wal);
        let thread = std::thread::Builder::new()
            .name("strom-checkpoint".into())
            .spawn(move || {
                let mut synced_up_to = 0;
                let (mut wait, mut seen) = (Self::EVERY, None);
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                    let mut found = None;
                    for _ in 0..Self::MAX_PASSES {
                        // (busy, frames in the WAL, frames copied into the database)
                        let pass = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                            Ok((row.get::<_, i64>(0)? != 0, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                        });
                        let (busy, frames, copied) = match pass {
                            Ok(pass) => pass,
                            Err(e) => {
                                tracing::debug!(error = %e, "background checkpoint did not run");
                                found = None;
                                break;
                            }
                        };
                        found = Some((frames, copied));
                        if copied != synced_up_to {
                            synced_up_to = copied;
                            if let Err(e) = database.sync_data() {
                                tracing::debug!(error = %e, "background sync of the database did not run");
                            }
                        }
                        match Self::after_pass(busy, frames, copied) {
                            AfterPass::Rest => break,
                            AfterPass::Again => {}
                            AfterPass::AskWriter => {
                                ask_writer.store(true, Ordering::Release);
                                break;
                            }
                        }
                    }
                    wait = Self::rest(seen, found);
                    seen = found;
                }
            })
            .map_err(StoreError::Thread)?;
        Ok(Checkpointer { stop, thread, restart_wal })
    }

    fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

impl Syncer {
    pub(crate) fn postgres(url: &str, metrics: Arc<StoreMetrics>, hub: EventHub) -> Result<Syncer, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(StoreError::Thread)?;
        let url = url.to_string();
        // Connected by the first flush (on this runtime, which the syncer's thread then runs: a
        // PostgreSQL connection belongs to the runtime it was made on), and again after one
        // fails.
        let mut conn: Option<sqlx::PgConnection> = None;
        let flush = move || {
            runtime.block_on(async {
                let flushed = async {
                    let conn = match &mut conn {
                        Some(conn) => conn,
                        None => conn.insert(<sqlx::PgConnection as sqlx::Connection>::connect(&url).await?),
                    };
                    // A transaction that wrote nothing commits without waiting even with
                    // `synchronous_commit = on`; a transactional logical message is a WAL
                    // record (at any `wal_level`) and nothing else.
                    let mut tx = sqlx::Connection::begin(conn).await?;
                    sqlx::query("SELECT pg_logical_emit_message(true, 'strom', '')").execute(&mut *tx).await?;
                    tx.commit().await
                }
                .await;
                if flushed.is_err() {
                    conn = None;
                }
                flushed.map_err(|e| format!("PostgreSQL WAL flush: {e}"))
            })
        };
        // Once before the store opens: a database where this cannot work (the function's
        // EXECUTE revoked from the store's role, say) is refused with the reason, rather than
        // every write failing later.
        Self::spawn(metrics, hub, flush)
    }

    /// The thread: answers each batch once `flush` (which covers every commit before it) has
    /// succeeded, or with an error if it failed. A first flush on the thread must succeed
    /// before this returns.
    fn spawn(
        metrics: Arc<StoreMetrics>,
        hub: EventHub,
        mut flush: impl FnMut() -> Result<(), String> + Send + 'static,
    ) -> Result<Syncer, StoreError> {
        let (batches, rx) = std::sync::mpsc::channel::<(Vec<Request>, Vec<Arc<StoredEvent>>)>();
        let (ready_tx, ready) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("strom-syncer".into())
            .spawn(move || {
                let checked = flush();
                let failed = checked.is_err();
                let _ = ready_tx.send(checked);
                if failed {
                    return;
                }
                while let Ok((mut pending, mut events)) = rx.recv() {
                    while let Ok((more, more_events)) = rx.try_recv() {
                        pending.extend(more);
                        events.extend(more_events);
                    }
                    let started = std::time::Instant::now();
                    let flushed = flush();
                    metrics.flush_seconds.observe_duration(started.elapsed());
                    publish(&hub, events, &flushed);
                    answer(pending, &flushed);
                }
            })
            .map_err(StoreError::Thread)?;
        if let Err(e) = ready.recv().map_err(|_| "the syncer's thread stopped".to_string()).and_then(|checked| checked)
        {
            let _ = thread.join();
            return Err(StoreError::Durability(e));
        }
        Ok(Syncer { batches, thread })
    }

    /// Answers what is pending and waits for the thread.
    fn stop(self) {
        drop(self.batches);
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreOptions, WAL_RESERVE_BYTES};

    /// The WAL's file is written ahead as far as the checkpointer lets the WAL grow before it
    /// starts over (a frame is a 24-byte header and a 4 KiB page, after a 32-byte file header).
    #[test]
    fn the_wal_reserve_covers_the_wal_the_checkpointer_allows() {
        let frames = (Checkpointer::RESTART_PAGES + Checkpointer::SMALL_REST) as u64;
        assert!(WAL_RESERVE_BYTES >= 32 + frames * (24 + 4096), "{WAL_RESERVE_BYTES}");
        assert_eq!(StoreOptions::default().wal_reserve_bytes, WAL_RESERVE_BYTES);
    }

    /// Commits in a WAL written ahead are recovered after a crash: the files as a crash leaves
    /// them (frames, then the zeros written ahead, no shared index) open with every write.
    #[tokio::test]
    async fn writes_in_a_wal_written_ahead_are_recovered_after_a_crash() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db").display().to_string();
        let reserve = 4 << 20;
        let options = StoreOptions { wal_reserve_bytes: reserve, ..StoreOptions::default() };
        let store = Store::open(&path, options.clone()).await.expect("open");
        let wal_size = || std::fs::metadata(format!("{path}-wal")).expect("the WAL").len();
        assert_eq!(wal_size(), reserve, "written ahead when the store opened");
        // A reader holding its snapshot keeps the checkpointer from copying the writes below
        // into the database: they are only in the WAL, where recovery must find them.
        let reader = rusqlite::Connection::open(&path).expect("reader");
        reader.execute_batch("BEGIN").expect("begin");
        reader.query_row("SELECT count(*) FROM id_tokens", [], |_| Ok(())).expect("snapshot");
        let now = chrono::Utc::now();
        for i in 0..40 {
            let record = csms_core::authorization::IdTokenRecord {
                id_token: format!("T{i}"),
                token_type: None,
                status: csms_core::authorization::TokenStatus::Accepted,
                expiry: None,
                parent_id_token: None,
            };
            store.execute(csms_core::ops::UpsertIdToken { record, now }, Vec::new()).await.expect("durable");
        }
        assert_eq!(wal_size(), reserve, "the commits overwrote the zeros, the file did not grow");
        let crashed = dir.path().join("crashed.db").display().to_string();
        std::fs::copy(&path, &crashed).expect("database copied");
        std::fs::copy(format!("{path}-wal"), format!("{crashed}-wal")).expect("WAL copied");
        drop(reader);
        store.close().await;

        let recovered = Store::open(&crashed, StoreOptions { wal_reserve_bytes: 0, ..options }).await.expect("reopen");
        let tokens = recovered.all_id_tokens().await.expect("tokens");
        assert_eq!(tokens.len(), 40, "{tokens:?}");
        recovered.close().await;
    }

    /// The checkpointer rests longer only once a round found the WAL as the round before left it.
    #[test]
    fn the_checkpointer_rests_longer_only_while_the_wal_is_unchanged() {
        let (busy, idle) = (Checkpointer::EVERY, Checkpointer::IDLE_EVERY);
        assert!(idle > busy);
        assert_eq!(Checkpointer::rest(Some((40, 40)), Some((40, 40))), idle);
        assert_eq!(Checkpointer::rest(Some((40, 40)), Some((52, 52))), busy, "the WAL grew");
        assert_eq!(Checkpointer::rest(Some((40, 40)), Some((40, 30))), busy, "started over, as long again");
        assert_eq!(Checkpointer::rest(None, Some((40, 40))), busy, "the first round");
        assert_eq!(Checkpointer::rest(None, None), busy, "passes that failed");
    }

    #[test]
    fn the_checkpointer_asks_the_writer_only_for_a_long_wal_nearly_copied() {
        let long = Checkpointer::RESTART_PAGES;
        let near = long - Checkpointer::SMALL_REST;
        for (busy, frames, copied, expected) in [
            (false, 100, 0, AfterPass::Rest),
            (false, long - 1, long - 1, AfterPass::Rest),
            (true, long, long, AfterPass::Rest),
            (false, long, near - 1, AfterPass::Again),
            (false, long, near, AfterPass::AskWriter),
            (false, 4 * long, 4 * long, AfterPass::AskWriter),
        ] {
            assert_eq!(Checkpointer::after_pass(busy, frames, copied), expected, "{busy} {frames} {copied}");
        }
    }
}
