//! Durable storage for Ström: SQLite (embedded, the default) or PostgreSQL, chosen by URL.
//!
//! Every write goes through one writer task that gathers whatever is queued into one database
//! transaction and commits it once (group commit): a station's message is acknowledged only after
//! the commit that holds its effects, yet a busy server commits hundreds of messages per fsync.
//! The domain rules run inside that transaction, so reads and writes of one message are atomic
//! with respect to every other message. Reads for the API go straight to the pool.

mod billing;
mod db;
mod durability;
mod event_index;
mod log_blocks;
mod message_log;
pub mod ocpi;
mod queries;
mod reach;
mod records;
mod schema;
mod terms;
mod writer;
mod writes;

pub use queries::{
    AlertRuleView, AlertView, CdrFilter, CdrView, EventFilter, InstalledCertificateView, IssuedCertificateView,
    MeterKeyView, RunningCost, TariffView, WebhookDeliveryView, WebhookView,
};
pub use queries::{
    Availability, AvailabilityView, ChargingProfileView, CommandView, ConfigurationView, ConnectorView,
    DeviceModelView, FaultFilter, FaultView, MessageView, MeterValueView, MonitorView, Page, PageRequest,
    ReservationView, StationEventView, StationView, TransactionFilter, TransactionView, TransferView,
};
pub use queries::{ExportFilter, ExportedReading, RegisterPoints};
pub use records::anomaly_view;
pub use writes::StoredEvent;

use csms_core::fault_kinds::VendorCategories;
use csms_core::ops::FrameLog;
use csms_core::port::{Answer, Operation, Port, PortError, Request, Room};
use csms_core::security::SecuritySettings;
use csms_core::station::{ProtocolVersion, RegistrationStatus, StationId};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

use message_log::{log_part_full, loose_full, LooseFrames};
use writer::{spawn_writer, Job, Msg};

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
    #[error("could not reach PostgreSQL: {reason} at {at}")]
    Unreachable { reason: String, at: String },
    #[error(
        "the PostgreSQL database {name:?} does not exist and this user may not create it; create it with: {create}"
    )]
    MissingDatabase { name: String, create: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Limits of the writer: how many queued writes one commit may take, and how many may wait;
/// and, on SQLite, how much of the WAL's file is written ahead (`db::Conn::reserve_wal`).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_batch: usize,
    pub queue_capacity: usize,
    /// The size the WAL's file is extended to with zeros when the store opens; 0 leaves it.
    pub wal_reserve_bytes: u64,
    /// The operator's vendor codes for fault categories (`strom serve`'s configuration): faults
    /// are classified with them as they are stored, and every stored fault again as the store
    /// opens when they (or Ström's own mapping) changed. `None` (a command that only reads or
    /// manages tokens) leaves the stored categories as they are.
    pub fault_categories: Option<Arc<VendorCategories>>,
    /// The stations' time zone, in which tariffs' times of day, dates and weekdays are read, unless
    /// a station has its own (`stations.time_zone`).
    pub time_zone: chrono_tz::Tz,
}

/// A little more than the WAL reaches before the checkpointer has it start over
/// (`Checkpointer::RESTART_PAGES` frames of 4 KiB and their headers, and what is appended while
/// the last passes copy).
pub const WAL_RESERVE_BYTES: u64 = 80 << 20;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: 512,
            queue_capacity: 8192,
            wal_reserve_bytes: WAL_RESERVE_BYTES,
            fault_categories: None,
            time_zone: chrono_tz::UTC,
        }
    }
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
    /// Time to index a run of events by station (`event_index`), during which writes wait.
    pub event_index_seconds: csms_metrics::Histogram,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            batch_size: csms_metrics::Histogram::new(csms_metrics::SIZE_BUCKETS),
            commit_seconds: csms_metrics::Histogram::new(csms_metrics::LATENCY_BUCKETS),
            flush_seconds: csms_metrics::Histogram::new(csms_metrics::ANSWER_BUCKETS),
            event_index_seconds: csms_metrics::Histogram::new(csms_metrics::LATENCY_BUCKETS),
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
    /// Where durable domain events go live (`subscribe_events`).
    events: writer::EventHub,
    /// Writes the records of ended transactions (`records`).
    settler: records::Settler,
}

/// How many live events a subscriber may fall behind before it must read the store.
pub const EVENT_BUFFER: usize = 16_384;

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
        if backend == Backend::Postgres {
            reach::ensure_database(&url).await?;
        }
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
        if let Some(vendor) = &options.fault_categories {
            let mut conn = pool.acquire().await?;
            queries::classify_faults(&mut conn, vendor).await?;
        }
        let (jobs, rx) = mpsc::channel(options.queue_capacity);
        let metrics = Arc::new(StoreMetrics::default());
        let loose = LooseFrames::new();
        let (events, _) = tokio::sync::broadcast::channel(EVENT_BUFFER);
        let (settler, settler_rx) = records::Settler::channel();
        let time_zone = options.time_zone;
        let onward = (events.clone(), writes::Settling::new(settler.for_writer()));
        let writer =
            spawn_writer(url.clone(), backend, rx, options, metrics.clone(), Arc::clone(&loose), onward).await?;
        let writer = Arc::new(Mutex::new(Some(writer)));
        let store = Store { pool, backend, jobs, writer, metrics, loose, events, settler: settler.clone() };
        settler.spawn(url, backend, time_zone, store.jobs.downgrade(), settler_rx).await?;
        Ok(store)
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

    /// Indexes the committed events by station now rather than within half a second
    /// (`event_index`; reads by station find them either way); returns how far the index
    /// reaches.
    pub async fn index_events(&self) -> Result<i64, StoreError> {
        let (done, rx) = oneshot::channel();
        self.jobs.send(Msg::IndexEvents(done)).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?.ok_or_else(|| StoreError::Durability("events not indexed".into()))
    }

    /// Commits everything queued so far and stops the writer. Later writes fail with `Closed`.
    pub async fn close(&self) {
        // The settler first: the records it is writing go through the writer.
        self.settler.stop().await;
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
        self.maintain(writes::Maintenance::Prune { before: before.to_string(), max_per_station }).await
    }

    /// Deletes each station's oldest frames beyond `max_per_station` (in whole blocks: a station
    /// keeps up to one block more), among the frames written so far. The log's thread keeps each
    /// station's count (`LogConn::held`), so this reads the log only for stations over the
    /// limit, and there only the blocks it deletes (the first run after opening or after
    /// `prune_messages` counts the log once).
    pub async fn cap_messages(&self, max_per_station: i64) -> Result<(), StoreError> {
        self.maintain(writes::Maintenance::Cap { max_per_station }).await
    }

    async fn maintain(&self, work: writes::Maintenance) -> Result<(), StoreError> {
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

    fn registration(&self, station: &StationId, ocpp_version: ProtocolVersion) -> Answer<Option<RegistrationStatus>> {
        let (store, station) = (self.clone(), station.clone());
        Box::pin(async move { Ok(store.registration(station.as_str(), ocpp_version.as_str()).await?) })
    }

    fn security(&self, station: &StationId) -> Answer<Option<SecuritySettings>> {
        let (store, station) = (self.clone(), station.clone());
        Box::pin(async move { Ok(store.security(station.as_str()).await?) })
    }

    fn record_total(&self, id: i64) -> Answer<Option<csms_core::tariffs::Decimal>> {
        let settler = self.settler.clone();
        Box::pin(async move { Ok(settler.total(id).await?) })
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

/// The PostgreSQL advisory lock migrations hold ("strm" in ASCII).
const MIGRATION_LOCK: i64 = 0x7374_726d;

async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    // PostgreSQL's CREATE TABLE IF NOT EXISTS can still fail when two sessions run it at once.
    let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await?;
    }
    tx.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)").await?;
    tx.commit().await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(&mut *conn).await?;
    let migrations = schema::migrations(backend);
    let mut ran = 0;
    for (i, sql) in migrations.iter().enumerate() {
        let version = i as i64 + 1;
        if applied.contains(&version) {
            continue;
        }
        // Another process may be migrating the same database at this moment (`strom serve` and
        // `strom token create` started together, nodes of a cluster): each migration runs under
        // the database's write lock (SQLite: an immediate transaction; PostgreSQL: an advisory
        // lock held to the commit) and is skipped if the other got there first.
        let mut tx = match backend {
            Backend::Sqlite => sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?,
            Backend::Postgres => sqlx::Acquire::begin(&mut *conn).await?,
        };
        if backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await?;
        }
        let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            tx.commit().await?;
            continue;
        }
        for statement in statements(sql) {
            tx.execute(statement).await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)").bind(version).execute(&mut *tx).await?;
        tx.commit().await?;
        ran += 1;
    }
    // One line whatever the number: a new database runs every migration, and a line each told a
    // newcomer nothing but the count.
    let version = migrations.len();
    if ran > 0 {
        tracing::info!(ran, version, "migrated the database: {ran} migrations, now at schema version {version}");
    } else {
        tracing::info!(version, "the database schema is up to date (version {version})");
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
        tracing::debug!("the message log's blocks, compressed by Ström, are no longer compressed again by PostgreSQL");
    }
    Ok(())
}

pub use schema::{
    AUTH_AS_ANSWERED_BY, MESSAGE_LOG_IN_BLOCKS_FROM, MESSAGE_LOG_MOVED_BY, READING_TERMS_FROM, SAMPLES_FROM,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
