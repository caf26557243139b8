//! Durable storage for Ström: SQLite (embedded, the default) or PostgreSQL, chosen by URL.
//!
//! Every write goes through one writer task that gathers whatever is queued into one database
//! transaction and commits it once (group commit): a station's message is acknowledged only after
//! the commit that holds its effects, yet a busy server commits hundreds of messages per fsync.
//! The domain rules run inside that transaction, so reads and writes of one message are atomic
//! with respect to every other message. Reads for the API go straight to the pool.

mod db;
mod log_blocks;
mod ops;
mod queries;
mod schema;
mod terms;

pub use queries::{
    Availability, AvailabilityView, ChargingProfileView, CommandView, ConfigurationView, ConnectorView,
    DeviceModelView, FaultView, MessageView, MeterValueView, MonitorView, Page, PageRequest, ReservationView,
    StationEventView, StationView, TransactionFilter, TransactionView, TransferView,
};

use csms_core::ops::FrameLog;
use csms_core::port::{Answer, Operation, Port, PortError, Request, Room};
use csms_core::station::{RegistrationStatus, StationId};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store is shut down")]
    Closed,
    #[error("the write could not be made durable: {0}")]
    Durability(String),
    #[error("could not start the writer: {0}")]
    Thread(std::io::Error),
    #[error("unsupported database URL {0:?}: use a SQLite file path, sqlite://PATH or postgres://...")]
    InvalidUrl(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Limits of the writer: how many queued writes one commit may take, and how many may wait;
/// and, on SQLite, how much of the WAL's file is written ahead (`db::Conn::reserve_wal`).
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    pub max_batch: usize,
    pub queue_capacity: usize,
    /// The size the WAL's file is extended to with zeros when the store opens; 0 leaves it.
    pub wal_reserve_bytes: u64,
}

/// A little more than the WAL reaches before the checkpointer has it start over
/// (`Checkpointer::RESTART_PAGES` frames of 4 KiB and their headers, and what is appended while
/// the last passes copy).
pub const WAL_RESERVE_BYTES: u64 = 80 << 20;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_batch: 512, queue_capacity: 8192, wal_reserve_bytes: WAL_RESERVE_BYTES }
    }
}

/// An operation with the frames it came with (stored in the message log).
struct Job {
    request: Request,
    log: Vec<FrameLog>,
}

// Jobs travel by value: boxing them would cost an allocation per station message.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Job(Job),
    /// Work on the message log (pruning, rare: boxed), handed to the log's thread.
    Maintenance(Box<ops::Maintenance>, oneshot::Sender<Result<(), StoreError>>),
    /// Answered once every frame queued before it is in the message log.
    FlushLog(oneshot::Sender<()>),
    /// The loose frames make a part of the log (`LooseFrames`): take them now rather than at
    /// the next batch or within `LOG_DELAY`.
    TakeLoose,
    Shutdown,
}

/// The message log is written in bulk, apart from the writes it records: at most this long
/// after a frame arrived ...
const LOG_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
/// ... or once this many frames, or this many bytes of them, wait. A part is stored as a block
/// per station (`log_blocks`), so the more frames a station has in a part the fewer rows and
/// index entries each costs (parts of up to 32,768 frames or 1 s instead of 8,192 or 200 ms
/// took the log thread's CPU per MeterValues from 14.5–15.7 µs to 12.0–12.9 when the log still
/// had a row per frame, BENCHMARKS.md).
const LOG_MAX_FRAMES: usize = 32 * 1024;
const LOG_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Whether the frames waiting for the log make a part, whatever their age.
fn log_part_full(frames: usize, bytes: usize) -> bool {
    frames >= LOG_MAX_FRAMES || bytes >= LOG_MAX_BYTES
}

/// How the writer is doing, for `/metrics`.
#[derive(Debug)]
pub struct StoreMetrics {
    /// Writes per commit.
    pub batch_size: csms_metrics::Histogram,
    /// Time from the start of a batch's transaction to its commit.
    pub commit_seconds: csms_metrics::Histogram,
    /// Time to make the commits so far durable (SQLite: fsync of the WAL; PostgreSQL: a flush
    /// of its WAL), which every answer waits for.
    pub flush_seconds: csms_metrics::Histogram,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            batch_size: csms_metrics::Histogram::new(csms_metrics::SIZE_BUCKETS),
            commit_seconds: csms_metrics::Histogram::new(csms_metrics::LATENCY_BUCKETS),
            flush_seconds: csms_metrics::Histogram::new(csms_metrics::ANSWER_BUCKETS),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    jobs: mpsc::Sender<Msg>,
    /// Resolves when the writer thread has committed its last batch and stopped.
    writer: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
    metrics: Arc<StoreMetrics>,
    loose: Arc<LooseFrames>,
}

/// Frames logged without a write (`Store::log_frames`: the answers Ström sends, a station's
/// answers to Ström's CALLs, the frames of a Heartbeat), waiting for the writer to take them
/// into the log. Sent as jobs, they woke the writer once more per answered message for nothing
/// else (BENCHMARKS.md, thirteenth session). The order of a station's frames holds: its messages
/// are handled one at a time, and its task logs here only after the writer has taken its write
/// before (every write is awaited), so the writer takes what waits here before it keeps any other
/// frame and before it hands frames to the log (`Writer::keep_frames`, `Writer::flush_log`).
///
/// Nothing here is dropped while the writer runs. The writer takes these frames at every batch,
/// at least every `LOG_DELAY`, and at once when they make a part of the log (`Msg::TakeLoose`).
/// Should they reach two parts' worth (`loose_full`: the writer is held back by the log's
/// thread, or busy), the session that logs more waits for room before it reads the station's
/// next message (`LogRoom`): back-pressure on the stations that talk, not lost frames. A
/// station pipelining Heartbeats, answered without a write, would otherwise outrun the log.
struct LooseFrames {
    state: std::sync::Mutex<Loose>,
    /// Woken when the writer has taken the frames, or stopped.
    room: tokio::sync::Notify,
}

#[derive(Default)]
struct Loose {
    frames: Vec<FrameLog>,
    bytes: usize,
    /// The writer will take the frames soon: a `Msg::TakeLoose` is queued, or the queue was full
    /// and every job in it makes the writer take them.
    asked: bool,
    /// A session waits for room (`LooseFrames::room`).
    waiting: bool,
    /// When a session last had to wait, for a warning at most every `LOG_WAIT_WARN_EVERY`.
    warned: Option<std::time::Instant>,
    /// The writer has stopped and takes nothing more; frames logged now are not logged.
    closed: bool,
    /// Frames not logged because the writer had stopped.
    lost: u64,
}

impl LooseFrames {
    fn new() -> Arc<LooseFrames> {
        Arc::new(LooseFrames { state: std::sync::Mutex::default(), room: tokio::sync::Notify::new() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loose> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands the frames waiting here to the writer in `taken` (an empty vector, swapped so that
    /// neither is grown anew each time), and wakes the sessions waiting for room. With `close`
    /// the writer takes them for the last time.
    fn take(&self, taken: &mut Vec<FrameLog>, close: bool) {
        let waiting = {
            let mut loose = self.lock();
            loose.closed |= close;
            if loose.frames.is_empty() && !loose.waiting {
                return;
            }
            std::mem::swap(&mut loose.frames, taken);
            loose.bytes = 0;
            loose.asked = false;
            std::mem::take(&mut loose.waiting)
        };
        if waiting || close {
            self.room.notify_waiters();
        }
    }

    /// Waits until the loose frames are below `loose_full` again, or the writer has stopped.
    async fn room(self: Arc<Self>) {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            // Registered before the check, so that a take between the two still wakes it.
            room.as_mut().enable();
            {
                let mut loose = self.lock();
                if loose.closed || !loose_full(loose.frames.len(), loose.bytes) {
                    return;
                }
                loose.waiting = true;
                if loose.warned.is_none_or(|at| at.elapsed() >= LOG_WAIT_WARN_EVERY) {
                    loose.warned = Some(std::time::Instant::now());
                    tracing::warn!(
                        frames = loose.frames.len(),
                        "the message log is behind: stations wait for it before their next message is read"
                    );
                }
            }
            room.await;
        }
    }
}

/// Whether so many loose frames wait that the sessions logging more wait for room: two parts of
/// the log, so that a writer that takes them as soon as they make one part (`Msg::TakeLoose`)
/// never has a station wait, and memory stays bounded (64 MiB, and one message per station).
fn loose_full(frames: usize, bytes: usize) -> bool {
    frames >= 2 * LOG_MAX_FRAMES || bytes >= 2 * LOG_MAX_BYTES
}

/// At most one warning this often that stations wait for the message log.
const LOG_WAIT_WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish()
    }
}

/// Turns what an operator types (`strom.db`, `sqlite:strom.db`, `postgres://...`) into a URL.
fn normalise_url(url: &str) -> Result<(String, Backend), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((url.to_string(), Backend::Postgres));
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    if path.is_empty() || path.contains("://") {
        return Err(StoreError::InvalidUrl(url.to_string()));
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let query = if query.is_empty() { "mode=rwc".to_string() } else { query.to_string() };
    Ok((format!("sqlite://{path}?{query}"), Backend::Sqlite))
}

impl Store {
    pub async fn open(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = normalise_url(url)?;
        let connect = AnyConnectOptions::from_str(&url)?;
        // The readers see the message log's file as schema `log`; `messages` finds it there.
        let attach_log = (backend == Backend::Sqlite)
            .then(|| format!("ATTACH DATABASE '{}' AS log", message_log_path(&path_of(&url)).replace('\'', "''")));
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                let attach_log = attach_log.clone();
                Box::pin(async move {
                    if let Some(attach_log) = attach_log {
                        // WAL lets API reads run beside the writer.
                        conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;")
                            .await?;
                        conn.execute(attach_log.as_str()).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        if backend == Backend::Sqlite {
            let mut conn = pool.acquire().await?;
            conn.execute("PRAGMA log.journal_mode=WAL").await?;
            for statement in statements(schema::MESSAGE_LOG) {
                conn.execute(statement).await?;
            }
        }
        migrate(&pool, backend).await?;
        let (jobs, rx) = mpsc::channel(options.queue_capacity);
        let metrics = Arc::new(StoreMetrics::default());
        let loose = LooseFrames::new();
        let writer = spawn_writer(url, backend, rx, options, metrics.clone(), Arc::clone(&loose)).await?;
        Ok(Store { pool, backend, jobs, writer: Arc::new(Mutex::new(Some(writer))), metrics, loose })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Carries out `op` (committed with `log`, the frames it came with) and answers with its
    /// result once durable: `Port::execute` for callers that hold the store itself.
    pub fn execute<O: Operation>(
        &self,
        op: O,
        log: Vec<FrameLog>,
    ) -> impl std::future::Future<Output = Result<O::Output, PortError>> + Send + 'static {
        <dyn Port>::execute(self, op, log)
    }

    /// Queues frames for the message log without waiting for them to be written (see
    /// `LooseFrames`); they reach it within `LOG_DELAY` or at the next `flush_log`. The frames
    /// are kept whatever the returned `Room` does; awaiting it holds the caller back while the
    /// log is behind (two parts of the log wait), which is how a station that talks faster than
    /// the log is written is made to wait rather than lose frames. Once the store is closed,
    /// frames are not logged (a warning says so once).
    pub fn log_frames(&self, mut log: Vec<FrameLog>) -> Room {
        let bytes = log.iter().map(|f| f.frame.len() + f.station_id.as_str().len()).sum::<usize>();
        let mut loose = self.loose.lock();
        if loose.closed {
            let first = loose.lost == 0;
            loose.lost += log.len() as u64;
            drop(loose);
            if first {
                tracing::warn!(frames = log.len(), "the store is closed: frames logged from now on are not kept");
            }
            return Room::now();
        }
        loose.frames.append(&mut log);
        loose.bytes += bytes;
        if !log_part_full(loose.frames.len(), loose.bytes) {
            return Room::now();
        }
        let ask = !std::mem::replace(&mut loose.asked, true);
        let full = loose_full(loose.frames.len(), loose.bytes);
        drop(loose);
        if ask {
            // A full queue holds jobs, each of which has the writer take the loose frames; a
            // closed one, a writer that takes them one last time as it stops.
            let _ = self.jobs.try_send(Msg::TakeLoose);
        }
        if full {
            Room::after(Arc::clone(&self.loose).room())
        } else {
            Room::now()
        }
    }

    /// Waits until every frame queued so far is in the message log (readers of the log call it).
    pub async fn flush_log(&self) -> Result<(), StoreError> {
        let (done, rx) = oneshot::channel();
        self.jobs.send(Msg::FlushLog(done)).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)
    }

    /// Commits everything queued so far and stops the writer. Later writes fail with `Closed`.
    pub async fn close(&self) {
        let _ = self.jobs.send(Msg::Shutdown).await;
        if let Some(stopped) = self.writer.lock().await.take() {
            let _ = stopped.await;
        }
        self.pool.close().await;
    }

    /// Deletes logged frames older than `max_age` and beyond `max_per_station` per station. It
    /// reads the whole log: run it rarely, and `cap_messages` often.
    pub async fn prune_messages(&self, before: &str, max_per_station: i64) -> Result<(), StoreError> {
        self.flush_log().await?;
        self.maintain(ops::Maintenance::Prune { before: before.to_string(), max_per_station }).await
    }

    /// Deletes each station's oldest frames beyond `max_per_station` (in whole blocks: a station
    /// keeps up to one block more), among the frames written so far. The log's thread keeps each
    /// station's count (`LogConn::held`), so this reads the log only for stations over the
    /// limit, and there only the blocks it deletes (the first run after opening or after
    /// `prune_messages` counts the log once).
    pub async fn cap_messages(&self, max_per_station: i64) -> Result<(), StoreError> {
        self.maintain(ops::Maintenance::Cap { max_per_station }).await
    }

    async fn maintain(&self, work: ops::Maintenance) -> Result<(), StoreError> {
        let (done, rx) = oneshot::channel();
        self.jobs.send(Msg::Maintenance(Box::new(work), done)).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

impl Port for Store {
    fn submit(&self, request: Request, frames: Vec<FrameLog>) -> Room {
        // A closed queue drops the job and with it the request's slot: its caller is answered
        // `Closed`. A full one: the job waits for room in a box of its own.
        match self.jobs.try_send(Msg::Job(Job { request, log: frames })) {
            Err(mpsc::error::TrySendError::Full(job)) => {
                let jobs = self.jobs.clone();
                Room::after(async move {
                    if let Ok(room) = jobs.reserve().await {
                        room.send(job);
                    }
                })
            }
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Room::now(),
        }
    }

    fn log_frames(&self, frames: Vec<FrameLog>) -> Room {
        Store::log_frames(self, frames)
    }

    fn registration(&self, station: &StationId, ocpp_version: &'static str) -> Answer<Option<RegistrationStatus>> {
        let (store, station) = (self.clone(), station.clone());
        Box::pin(async move { Ok(store.registration(station.as_str(), ocpp_version).await?) })
    }
}

impl From<StoreError> for PortError {
    fn from(e: StoreError) -> PortError {
        match e {
            StoreError::Closed => PortError::Closed,
            StoreError::Durability(e) => PortError::Durability(e),
            other => PortError::Storage(other.to_string()),
        }
    }
}

/// The statements of a schema text, one by one (the pool's driver runs one at a time).
fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(';').map(str::trim).filter(|s| !s.is_empty())
}

async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)").await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(&mut *conn).await?;
    for (i, sql) in schema::migrations(backend).iter().enumerate() {
        let version = i as i64 + 1;
        if applied.contains(&version) {
            continue;
        }
        let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
        for statement in statements(sql) {
            tx.execute(statement).await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)").bind(version).execute(&mut *tx).await?;
        tx.commit().await?;
        tracing::info!(version, "applied database migration");
    }
    if backend == Backend::Postgres {
        store_log_blocks_uncompressed(&mut conn).await?;
    }
    write_reading_terms(&mut conn).await
}

/// Adds the terms a newer list has (`terms`), and refuses a database whose codes mean other
/// words than this build's: its readings would be misread.
async fn write_reading_terms(conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
    conn.execute(terms::insert_all().as_str()).await?;
    let stored: Vec<(i64, String)> =
        sqlx::query_as("SELECT code, term FROM reading_terms").fetch_all(&mut *conn).await?;
    for (code, term) in stored {
        if let Some(ours) = terms::term(code).filter(|ours| *ours != term) {
            return Err(StoreError::Corrupt(format!(
                "reading_terms gives code {code} the term {term:?}, this version {ours:?}"
            )));
        }
    }
    Ok(())
}

/// PostgreSQL: the message log's blocks are stored as they come. Ström compresses each block
/// itself (`log_blocks`), so TOAST's compression of the body (pglz, or lz4 as an earlier version
/// of this function chose) would only spend PostgreSQL's CPU failing to shrink it; `EXTERNAL`
/// still moves a long body out of line, uncompressed. Blocks already written keep what they were
/// written with.
async fn store_log_blocks_uncompressed(conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
    let compressing: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'message_blocks'::regclass \
         AND attname = 'body' AND attstorage <> 'e')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if compressing {
        conn.execute("ALTER TABLE message_blocks ALTER COLUMN body SET STORAGE EXTERNAL").await?;
        tracing::info!("the message log's blocks, compressed by Ström, are no longer compressed again by PostgreSQL");
    }
    Ok(())
}

/// Starts the writer on a thread of its own, with its own connection: SQLite's writes run there
/// synchronously, off the threads that serve stations; PostgreSQL's run on that thread's runtime.
async fn spawn_writer(
    url: String,
    backend: Backend,
    rx: mpsc::Receiver<Msg>,
    options: StoreOptions,
    metrics: Arc<StoreMetrics>,
    loose: Arc<LooseFrames>,
) -> Result<oneshot::Receiver<()>, StoreError> {
    let (ready_tx, ready) = oneshot::channel();
    let (stopped_tx, stopped) = oneshot::channel::<()>();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(StoreError::Thread)?;
    std::thread::Builder::new()
        .name("strom-writer".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut conn = match Writer::connect(&url, backend).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let started = match backend {
                    Backend::Sqlite => {
                        let path = path_of(&url);
                        if let Err(e) = conn.reserve_wal(&path, options.wal_reserve_bytes) {
                            // Only a fresh WAL's first pass is slower without it.
                            tracing::warn!(error = %e, "the WAL's file could not be written ahead");
                        }
                        WalSync::start(&path).and_then(|wal| {
                            Ok((Durability::Wal(wal), LogWriter::start(LogTarget::Sqlite(message_log_path(&path)))?))
                        })
                    }
                    Backend::Postgres => Syncer::postgres(&url, Arc::clone(&metrics)).and_then(|syncer| {
                        Ok((Durability::Syncer(syncer), LogWriter::start(LogTarget::Postgres(url.clone()))?))
                    }),
                };
                let (durability, log_writer) = match started {
                    Ok(started) => started,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let mut writer = Writer {
                    conn,
                    url,
                    backend,
                    metrics,
                    durability,
                    log_writer,
                    log: Vec::new(),
                    log_bytes: 0,
                    log_since: None,
                    loose,
                    known_tx: ops::KnownTxRows::default(),
                    loose_taken: Vec::new(),
                };
                writer.run(rx, options.max_batch).await;
                writer.durability.stop();
                writer.log_writer.stop();
            });
            drop(stopped_tx);
        })
        .map_err(StoreError::Thread)?;
    ready.await.map_err(|_| StoreError::Closed)??;
    Ok(stopped)
}

pub use schema::{MESSAGE_LOG_IN_BLOCKS_FROM, MESSAGE_LOG_MOVED_BY, READING_TERMS_FROM, SAMPLES_FROM};

/// SQLite: the file of the message log beside the database (`strom.db` → `strom.messages.db`).
pub fn message_log_path(database: &str) -> String {
    match database.strip_suffix(".db") {
        Some(stem) => format!("{stem}.messages.db"),
        None => format!("{database}.messages.db"),
    }
}

/// The file of a normalised `sqlite://PATH?OPTIONS` URL.
fn path_of(url: &str) -> String {
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    path.split_once('?').map_or(path, |(p, _)| p).to_string()
}

struct Writer {
    conn: db::Conn,
    url: String,
    backend: Backend,
    metrics: Arc<StoreMetrics>,
    /// Acknowledges commits once they are on disk (SQLite: the WAL fsynced; PostgreSQL: its WAL
    /// flushed).
    durability: Durability,
    /// Writes the message log (SQLite: into its own file), on a connection of its own.
    log_writer: LogWriter,
    /// Frames waiting for the message log, their bytes, and when the oldest arrived.
    log: Vec<FrameLog>,
    log_bytes: usize,
    log_since: Option<std::time::Instant>,
    loose: Arc<LooseFrames>,
    /// Which row each station's transaction id names, as this writer last wrote or read it.
    known_tx: ops::KnownTxRows,
    /// Swapped with `loose` when the writer takes its frames, so that neither vector is grown
    /// anew each time.
    loose_taken: Vec<FrameLog>,
}

/// How a batch's commit is made durable before its messages are answered.
enum Durability {
    /// SQLite: by the writer, right after the commit.
    Wal(WalSync),
    /// PostgreSQL: by a thread of its own, while the writer runs the next batch.
    Syncer(Syncer),
}

impl Durability {
    fn stop(self) {
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
struct WalSync {
    wal: String,
    /// Opened at the first sync, when SQLite has certainly created the WAL; the writer's
    /// connection keeps it from being deleted while the store is open.
    file: Option<std::fs::File>,
    checkpointer: Checkpointer,
}

impl WalSync {
    fn start(path: &str) -> Result<WalSync, StoreError> {
        Ok(WalSync { wal: format!("{path}-wal"), file: None, checkpointer: Checkpointer::start(path)? })
    }

    fn sync(&mut self) -> Result<(), String> {
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
struct Syncer {
    batches: std::sync::mpsc::Sender<Vec<Request>>,
    thread: std::thread::JoinHandle<()>,
}

/// Answers a batch's messages: with their results if their commit is durable, else with the
/// reason it is not (the stations repeat them).
fn answer(requests: Vec<Request>, durable: &Result<(), String>) {
    if let Err(e) = durable {
        tracing::error!(error = %e, "making commits durable failed: writes are answered with an error");
    }
    let durable = durable.clone().map_err(PortError::Durability);
    for request in requests {
        request.settle(&durable);
    }
}

/// Writes the message log on a thread and connection of its own; on SQLite into a database file
/// of its own. Written by the writer, its bulk inserts held the station writes back: on SQLite
/// (one writer per file) a part of 4,096 frames took 7 ms, during which no station was
/// answered, every 60 ms at 33,000 MeterValues per second; on PostgreSQL every statement of
/// the writer's connection waits for the one before. Pruning runs here too, for the same reason.
struct LogWriter {
    work: std::sync::mpsc::SyncSender<LogWork>,
    /// The frames' vectors, emptied, back for the writer to fill again: a fresh one grew by
    /// reallocation and faulted its pages in at every part of the log.
    emptied: std::sync::mpsc::Receiver<Vec<FrameLog>>,
    thread: std::thread::JoinHandle<()>,
}

enum LogWork {
    /// Frames in arrival order, and who waits for them to be written.
    Frames(Vec<FrameLog>, Vec<oneshot::Sender<()>>),
    /// Work on the log (pruning), answered once committed.
    Maintain(Box<ops::Maintenance>, oneshot::Sender<Result<(), StoreError>>),
}

enum LogTarget {
    /// The log's own file.
    Sqlite(String),
    /// The database's URL: the log's table is the database's `messages`.
    Postgres(String),
}

impl LogTarget {
    /// Opened on the log's thread: a PostgreSQL connection belongs to the runtime it was made on.
    fn open(&self, runtime: &tokio::runtime::Runtime) -> Result<db::Conn, StoreError> {
        match self {
            LogTarget::Sqlite(path) => db::Conn::open_sqlite_log(path),
            LogTarget::Postgres(url) => {
                runtime.block_on(db::PgWriter::connect(url)).map(|pg| db::Conn::Postgres(Box::new(pg)))
            }
        }
    }
}

/// The log thread's connection, reopened like the writer's when it cannot even roll back
/// (PostgreSQL restarted, say).
struct LogConn {
    conn: db::Conn,
    target: LogTarget,
    runtime: tokio::runtime::Runtime,
    packer: log_blocks::Packer,
    /// How many frames each station has in the log, for `Maintenance::Cap`: counted once (a pass
    /// over the log), then kept by this thread, which alone writes the log, as it writes and
    /// prunes. `None` until counted, and again after `PruneMessages` or a failure.
    held: Option<HashMap<String, i64>>,
}

impl LogConn {
    fn write_frames(&mut self, frames: &[FrameLog]) -> Result<(), StoreError> {
        let conn = &mut self.conn;
        let blocks = self.packer.blocks(frames);
        let result = self.runtime.block_on(async {
            conn.begin().await?;
            ops::log_blocks(conn, &blocks).await?;
            conn.commit().await
        });
        match (&result, &mut self.held) {
            (Ok(()), Some(held)) => {
                for block in &blocks {
                    match held.get_mut(block.station_id) {
                        Some(frames) => *frames += block.frames,
                        None => {
                            held.insert(block.station_id.to_string(), block.frames);
                        }
                    }
                }
            }
            // A failed commit may have stored the blocks or not.
            (Err(_), held) => *held = None,
            (Ok(()), None) => {}
        }
        self.recover_if(result)
    }

    fn maintain(&mut self, work: &ops::Maintenance) -> Result<(), StoreError> {
        let conn = &mut self.conn;
        let held = &mut self.held;
        let result = self.runtime.block_on(async {
            let (before, max_per_station) = match work {
                ops::Maintenance::Prune { before, max_per_station } => (before, *max_per_station),
                ops::Maintenance::Cap { max_per_station } => {
                    let counted = match held.take() {
                        Some(counted) => counted,
                        None => ops::count_log(conn).await?,
                    };
                    let held = held.insert(counted);
                    let over = held.values().any(|frames| frames > max_per_station);
                    if over {
                        conn.begin().await?;
                        // Counts taken off before the commit are thrown away if it fails (below).
                        ops::cap_log(conn, held, *max_per_station).await?;
                        conn.commit().await?;
                    }
                    return Ok(());
                }
            };
            // Pruning by age and count; the counts are taken afresh at the next `Cap`.
            *held = None;
            conn.begin().await?;
            ops::prune_log(conn, before, max_per_station).await?;
            conn.commit().await
        });
        if result.is_err() {
            self.held = None;
        }
        self.recover_if(result)
    }

    fn recover_if<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_err() && self.runtime.block_on(self.conn.rollback()).is_err() {
            match self.target.open(&self.runtime) {
                Ok(conn) => {
                    tracing::warn!("message log connection replaced");
                    self.conn = conn;
                }
                Err(e) => tracing::error!(error = %e, "message log connection lost and could not be reopened"),
            }
        }
        result
    }

    fn close(self) {
        if let db::Conn::Postgres(pg) = self.conn {
            self.runtime.block_on(pg.close());
        }
    }
}

impl LogWriter {
    fn start(target: LogTarget) -> Result<LogWriter, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(StoreError::Thread)?;
        // Bounded: a log that falls behind slows the writer down rather than filling memory.
        let (work, rx) = std::sync::mpsc::sync_channel::<LogWork>(64);
        let (give_back, emptied) = std::sync::mpsc::sync_channel::<Vec<FrameLog>>(1);
        let (ready_tx, ready) = std::sync::mpsc::channel::<Result<(), StoreError>>();
        let thread = std::thread::Builder::new()
            .name("strom-log".into())
            .spawn(move || {
                yield_to_stations();
                let mut log = match target.open(&runtime) {
                    Ok(conn) => {
                        let _ = ready_tx.send(Ok(()));
                        LogConn { conn, target, runtime, packer: log_blocks::Packer::default(), held: None }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(first) = rx.recv() {
                    let mut frames = Vec::new();
                    let mut waiting = Vec::new();
                    let mut maintenance = Vec::new();
                    for item in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                        match item {
                            LogWork::Frames(mut more, done) => {
                                if frames.is_empty() {
                                    frames = more;
                                } else {
                                    frames.append(&mut more);
                                }
                                waiting.extend(done);
                            }
                            LogWork::Maintain(work, done) => maintenance.push((work, done)),
                        }
                    }
                    if !frames.is_empty() {
                        if let Err(e) = log.write_frames(&frames) {
                            tracing::warn!(error = %e, frames = frames.len(), "could not write frames to the message log");
                        }
                    }
                    for done in waiting {
                        let _ = done.send(());
                    }
                    // Kept at half again what this part needed, so a burst (a boot storm) does
                    // not stay allocated once the load is back to normal.
                    let used = frames.len();
                    frames.clear();
                    if used > 0 {
                        frames.shrink_to(used + used / 2);
                    }
                    let _ = give_back.try_send(frames);
                    for (work, done) in maintenance {
                        let _ = done.send(log.maintain(&work));
                    }
                }
                log.close();
            })
            .map_err(StoreError::Thread)?;
        ready.recv().map_err(|_| StoreError::Closed)??;
        Ok(LogWriter { work, emptied, thread })
    }

    /// Writes what is queued and waits for the thread.
    fn stop(self) {
        drop(self.work);
        let _ = self.thread.join();
    }
}

/// The nice value of the message log's thread: the lowest priority there is.
const LOG_NICE: i32 = 19;

/// Lowers the calling thread's priority to `LOG_NICE` (Linux; elsewhere `setpriority` would
/// lower the whole process). The log's thread packs and inserts a part of up to 32,768 frames
/// at a time, about 10 ms of a core at 100 stations; at the priority of the connections and
/// the writer it took a core from them for as long, and the stations whose messages came in then
/// waited: at 100 stations p99 fell by 0.3–0.5 ms when it ran at nice 19 (BENCHMARKS.md,
/// seventeenth session). It still gets every cycle the others leave, and the log fell no further
/// behind at 1,000 stations, where the cores are busiest; should it ever, its bounded queue
/// holds the writer back rather than let it fall behind without bound.
fn yield_to_stations() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), LOG_NICE) {
        tracing::debug!(error = %e, "the message log's thread keeps its priority");
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
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
    /// Set when the WAL is long and nearly all copied: the writer's next checkpoint is short
    /// and lets its next transaction start the WAL over.
    restart_wal: Arc<AtomicBool>,
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
    fn postgres(url: &str, metrics: Arc<StoreMetrics>) -> Result<Syncer, StoreError> {
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
        Self::spawn(metrics, flush)
    }

    /// The thread: answers each batch once `flush` (which covers every commit before it) has
    /// succeeded, or with an error if it failed. A first flush on the thread must succeed
    /// before this returns.
    fn spawn(
        metrics: Arc<StoreMetrics>,
        mut flush: impl FnMut() -> Result<(), String> + Send + 'static,
    ) -> Result<Syncer, StoreError> {
        let (batches, rx) = std::sync::mpsc::channel::<Vec<Request>>();
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
                while let Ok(mut pending) = rx.recv() {
                    while let Ok(more) = rx.try_recv() {
                        pending.extend(more);
                    }
                    let started = std::time::Instant::now();
                    let flushed = flush();
                    metrics.flush_seconds.observe_duration(started.elapsed());
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

impl Writer {
    async fn connect(url: &str, backend: Backend) -> Result<db::Conn, StoreError> {
        match backend {
            Backend::Sqlite => db::Conn::open_sqlite(&path_of(url)),
            Backend::Postgres => {
                let mut pg = db::PgWriter::connect(url).await?;
                // Durability is the syncer's (`Syncer::postgres`): COMMIT returns at once and
                // the writer goes on with the next batch while PostgreSQL flushes.
                pg.execute("SET synchronous_commit = off").await?;
                Ok(db::Conn::Postgres(Box::new(pg)))
            }
        }
    }

    async fn run(&mut self, mut rx: mpsc::Receiver<Msg>, max_batch: usize) {
        let mut shutting_down = false;
        while !shutting_down {
            // Without frames waiting here, loose ones may wait (`LooseFrames`): an idle writer
            // looks for them every `LOG_DELAY`.
            let due = self.log_since.unwrap_or_else(std::time::Instant::now) + LOG_DELAY;
            let first = match tokio::time::timeout_at(due.into(), rx.recv()).await {
                Ok(msg) => msg,
                Err(_) => {
                    self.flush_log(Vec::new());
                    continue;
                }
            };
            let Some(first) = first else { break };
            let mut batch = Vec::new();
            let mut flushes = Vec::new();
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Job(job) => batch.push(job),
                    // Pruning the log is the log thread's work, answered there, after the
                    // frames queued before it.
                    Msg::Maintenance(work, done) => {
                        self.take_loose_frames();
                        let sent = self.log_writer.work.send(LogWork::Maintain(work, done));
                        if let Err(std::sync::mpsc::SendError(LogWork::Maintain(_, done))) = sent {
                            let _ = done.send(Err(StoreError::Closed));
                        }
                    }
                    Msg::FlushLog(done) => flushes.push(done),
                    // Kept now, flushed below once they make a part (`log_part_full`). No
                    // station's later frame is in this batch's jobs yet (`LooseFrames`).
                    Msg::TakeLoose => self.take_loose_frames(),
                    Msg::Shutdown => shutting_down = true,
                }
                // What is queued now, and no more: a batch that waited for more writes (300 µs
                // when the last batch held more than one, in earlier versions) made every
                // station wait that long, and once commits cost less, bought nothing back:
                // without it 11 % more sessions per second at 100 stations, 1–2 % more
                // MeterValues, 2 % fewer at 1,000 stations (BENCHMARKS.md, ninth session).
                if batch.len() < max_batch && !shutting_down {
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.metrics.batch_size.observe(batch.len() as f64);
                let started = std::time::Instant::now();
                let replies = self.commit_batch(batch).await;
                self.metrics.commit_seconds.observe_duration(started.elapsed());
                self.acknowledge(replies);
            }
            // After the batch is answered: it is not held back by the checkpoint, only the next
            // one.
            let restart_wal = match &self.durability {
                Durability::Wal(wal) => wal.checkpointer.restart_wal.swap(false, Ordering::AcqRel),
                Durability::Syncer(_) => false,
            };
            if restart_wal {
                self.catch_up_checkpoint();
            }
            let due = self.log_since.is_some_and(|since| since.elapsed() >= LOG_DELAY);
            if !flushes.is_empty() || due || log_part_full(self.log.len(), self.log_bytes) {
                self.flush_log(flushes);
            }
        }
        rx.close();
        // Writes that raced with shutdown are refused rather than left waiting forever.
        while let Ok(msg) = rx.try_recv() {
            match msg {
                Msg::Job(job) => job.request.settle(&Err(PortError::Closed)),
                Msg::Maintenance(_, done) => drop(done),
                Msg::FlushLog(done) => drop(done),
                Msg::TakeLoose | Msg::Shutdown => {}
            }
        }
        // The last loose frames, and the sessions still waiting for room let go.
        self.take_loose(true);
        self.flush_log(Vec::new());
        if let db::Conn::Postgres(pg) = std::mem::replace(&mut self.conn, db::Conn::Closed) {
            pg.close().await;
        }
    }

    /// Takes the frames logged without a write (`LooseFrames`).
    fn take_loose_frames(&mut self) {
        self.take_loose(false);
    }

    /// With `close`, for the last time: frames logged later are not kept.
    fn take_loose(&mut self, close: bool) {
        let mut taken = std::mem::take(&mut self.loose_taken);
        self.loose.take(&mut taken, close);
        self.keep(&mut taken);
        self.loose_taken = taken;
    }

    fn keep(&mut self, frames: &mut Vec<FrameLog>) {
        if !frames.is_empty() {
            self.log_since.get_or_insert_with(std::time::Instant::now);
            self.log_bytes += frames.iter().map(|f| f.frame.len() + f.station_id.as_str().len()).sum::<usize>();
            self.log.append(frames);
        }
    }

    /// Hands the waiting frames, oldest first, to the log's thread (`LogWriter`), which answers
    /// `waiting` once they are written. The log is a copy of what was said, kept apart from the
    /// writes that carry its meaning: those are committed (and on SQLite synced) before a
    /// message is answered; its frames follow within `LOG_DELAY`, so a busy server touches each
    /// station's part of the log index once per flush rather than once per message. A crash can
    /// lose the last moments of the log, never an answered message's effects.
    fn flush_log(&mut self, waiting: Vec<oneshot::Sender<()>>) {
        self.take_loose_frames();
        self.log_since = None;
        self.log_bytes = 0;
        if self.log.is_empty() && waiting.is_empty() {
            return;
        }
        let emptied = self.log_writer.emptied.try_recv().unwrap_or_default();
        let frames = std::mem::replace(&mut self.log, emptied);
        if self.log_writer.work.send(LogWork::Frames(frames, waiting)).is_err() {
            tracing::warn!("the message log's thread has stopped: frames not logged");
        }
    }

    /// Applies a batch in one transaction. If any job fails, the batch is rolled back and every
    /// job is retried in a transaction of its own, so one bad write costs only its own answer.
    /// Returns the requests, their results in their slots, for `acknowledge`.
    async fn commit_batch(&mut self, mut batch: Vec<Job>) -> Vec<Request> {
        // The loose frames once for the whole batch: none of them is a later frame of a
        // station with a write in it (`LooseFrames`).
        self.take_loose_frames();
        for job in &mut batch {
            self.keep(&mut job.log);
        }
        let size = batch.len();
        match self.run_jobs(&mut batch).await {
            Ok(()) => {}
            Err(e) if size > 1 => {
                tracing::warn!(error = %e, size, "batch failed, retrying its writes one by one");
                for job in &mut batch {
                    if let Err(e) = self.run_jobs(std::slice::from_mut(job)).await {
                        tracing::error!(error = %e, operation = job.request.name(), "write failed");
                        job.request.fail(e.into());
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "write failed");
                let e = PortError::from(e);
                for job in &mut batch {
                    job.request.fail(e.clone());
                }
            }
        }
        batch.into_iter().map(|job| job.request).collect()
    }

    /// Answers a committed batch once it is durable: on SQLite after syncing the WAL here, on
    /// PostgreSQL through the syncer.
    fn acknowledge(&mut self, replies: Vec<Request>) {
        match &mut self.durability {
            Durability::Wal(wal) => {
                let started = std::time::Instant::now();
                let synced = wal.sync();
                self.metrics.flush_seconds.observe_duration(started.elapsed());
                answer(replies, &synced);
            }
            Durability::Syncer(syncer) => {
                if let Err(unsent) = syncer.batches.send(replies) {
                    // The syncer is gone only when the store is closing; nothing says these are
                    // durable.
                    for request in unsent.0 {
                        request.settle(&Err(PortError::Closed));
                    }
                }
            }
        }
    }

    /// Copies what the background checkpointer left of a long WAL (see `Checkpointer`).
    fn catch_up_checkpoint(&mut self) {
        if let Err(e) = self.conn.checkpoint() {
            tracing::debug!(error = %e, "writer's checkpoint did not run");
        }
    }

    async fn run_jobs(&mut self, jobs: &mut [Job]) -> Result<(), StoreError> {
        let result = Self::transaction(&mut self.conn, &mut self.known_tx, jobs).await;
        if result.is_err() {
            self.recover().await;
        }
        result
    }

    /// Ends a failed transaction; a connection that cannot even roll back is replaced. The
    /// transaction rows noted during it may be gone.
    async fn recover(&mut self) {
        self.known_tx.clear();
        if self.conn.rollback().await.is_err() {
            self.reconnect().await;
        }
    }

    async fn transaction(
        conn: &mut db::Conn,
        known: &mut ops::KnownTxRows,
        jobs: &mut [Job],
    ) -> Result<(), StoreError> {
        conn.begin().await?;
        for job in jobs {
            ops::run(conn, known, &mut job.request).await?;
        }
        conn.commit().await
    }

    /// A connection that cannot even roll back is replaced (PostgreSQL restarted, say); until a
    /// new one opens, writes fail and are answered with an error.
    async fn reconnect(&mut self) {
        match Self::connect(&self.url, self.backend).await {
            Ok(conn) => {
                tracing::warn!("writer connection replaced");
                self.conn = conn;
            }
            Err(e) => tracing::error!(error = %e, "writer connection lost and could not be reopened"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use csms_core::ops::Direction;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    fn loose_frame() -> FrameLog {
        FrameLog {
            station_id: csms_core::station::StationId::parse("A").expect("id"),
            direction: Direction::Out,
            at: chrono::Utc::now(),
            frame: "[3,\"1\",{}]".to_string(),
        }
    }

    /// Once the writer has stopped nothing takes loose frames: they are not kept, and no one
    /// waits for room that will never come.
    #[tokio::test]
    async fn frames_logged_after_close_are_not_kept_and_wait_for_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(&dir.path().join("l.db").display().to_string(), StoreOptions::default()).await.expect("open");
        store.close().await;
        let calls = 2 * LOG_MAX_FRAMES / 100 + 10;
        for _ in 0..calls {
            store.log_frames((0..100).map(|_| loose_frame()).collect()).await;
        }
        let loose = store.loose.lock();
        assert!(loose.frames.is_empty(), "{}", loose.frames.len());
        assert_eq!(loose.lost, calls as u64 * 100);
    }

    /// A session that finds two parts of loose frames waiting waits until the writer takes
    /// them, and not for longer.
    #[tokio::test]
    async fn a_session_waits_for_room_until_the_writer_takes_the_loose_frames() {
        let loose = LooseFrames::new();
        let mut room = Box::pin(Arc::clone(&loose).room());
        fn poll(room: &mut Pin<Box<impl Future<Output = ()>>>) -> Poll<()> {
            room.as_mut().poll(&mut Context::from_waker(std::task::Waker::noop()))
        }
        assert!(poll(&mut room).is_ready(), "room while the log keeps up");
        loose.lock().frames = (0..2 * LOG_MAX_FRAMES - 1).map(|_| loose_frame()).collect();
        let mut room = Box::pin(Arc::clone(&loose).room());
        assert!(poll(&mut room).is_ready(), "room below two parts");
        loose.lock().frames.push(loose_frame());
        let mut room = Box::pin(Arc::clone(&loose).room());
        assert!(poll(&mut room).is_pending(), "two parts wait: no room");
        assert!(poll(&mut room).is_pending(), "still none");
        let mut taken = Vec::new();
        loose.take(&mut taken, false);
        assert_eq!(taken.len(), 2 * LOG_MAX_FRAMES);
        // A guard against a lost wake-up, not a wait for something to happen.
        tokio::time::timeout(std::time::Duration::from_secs(10), room).await.expect("room once the frames are taken");
    }

    #[test]
    fn a_log_part_is_full_by_count_or_by_size() {
        assert!(!log_part_full(LOG_MAX_FRAMES - 1, 1024));
        assert!(log_part_full(LOG_MAX_FRAMES, 1024));
        // A few large frames (NotifyReport parts, say) make a part long before the count does.
        assert!(!log_part_full(100, LOG_MAX_BYTES - 1));
        assert!(log_part_full(100, LOG_MAX_BYTES));
    }

    #[test]
    fn urls_are_normalised() {
        assert_eq!(normalise_url("strom.db").ok(), Some(("sqlite://strom.db?mode=rwc".into(), Backend::Sqlite)));
        assert_eq!(
            normalise_url("sqlite:/tmp/a.db").ok(),
            Some(("sqlite:///tmp/a.db?mode=rwc".into(), Backend::Sqlite))
        );
        assert_eq!(normalise_url("postgres://u@h/db").ok(), Some(("postgres://u@h/db".into(), Backend::Postgres)));
        assert!(normalise_url("mysql://x").is_err());
    }

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
        let store = Store::open(&path, options).await.expect("open");
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

    /// The nice value of each of this process's threads with the name `name` (Linux).
    #[cfg(target_os = "linux")]
    fn nice_of_threads(name: &str) -> Vec<i64> {
        let mut nice = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").expect("tasks") {
            let task = task.expect("task").path();
            let Ok(comm) = std::fs::read_to_string(task.join("comm")) else { continue };
            if comm.trim_end() != name {
                continue;
            }
            let stat = std::fs::read_to_string(task.join("stat")).expect("stat");
            // After the name in parentheses: the state is field 3, the nice value field 19.
            let fields: Vec<&str> = stat.rsplit_once(") ").expect("stat").1.split(' ').collect();
            nice.push(fields[16].parse().expect("nice"));
        }
        nice
    }

    /// The log's thread runs at the lowest priority, the writer and the rest as they were.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_message_log_thread_yields_to_the_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(&dir.path().join("n.db").display().to_string(), StoreOptions::default()).await.expect("open");
        let process = nice_of_threads(std::fs::read_to_string("/proc/self/comm").expect("comm").trim_end());
        let log = nice_of_threads("strom-log");
        let writer = nice_of_threads("strom-writer");
        store.close().await;
        assert!(!log.is_empty() && log.iter().all(|&n| n == i64::from(LOG_NICE)), "{log:?}");
        assert!(!writer.is_empty() && writer.iter().all(|n| process.contains(n)), "{writer:?} {process:?}");
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
