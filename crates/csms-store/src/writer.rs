//! The single writer: one thread and connection that takes the queued writes, runs each batch in one
//! transaction (group commit), and answers it once durable.

use crate::durability::{answer, publish, Durability, Syncer, WalSync};
use crate::event_index::EventIndex;
use crate::message_log::{log_part_full, LogTarget, LogWork, LogWriter, LooseFrames, LOG_DELAY};
use crate::writes::{Events, Settling, StoredEvent};
use crate::{db, message_log_path, path_of, writes, Backend, StoreError, StoreMetrics, StoreOptions};
use csms_core::fault_kinds::VendorCategories;
use csms_core::ops::FrameLog;
use csms_core::port::{PortError, Request};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// An operation with the frames it came with (stored in the message log).
pub(crate) struct Job {
    pub(crate) request: Request,
    pub(crate) log: Vec<FrameLog>,
}

// Jobs travel by value: boxing them would cost an allocation per station message.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    Job(Job),
    /// Work on the message log (pruning, rare: boxed), handed to the log's thread.
    Maintenance(Box<writes::Maintenance>, oneshot::Sender<Result<(), StoreError>>),
    /// Answered once every frame queued before it is in the message log.
    FlushLog(oneshot::Sender<()>),
    /// The loose frames make a part of the log (`LooseFrames`): take them now rather than at
    /// the next batch or within `LOG_DELAY`.
    TakeLoose,
    /// Indexes the events by station now (`event_index`); answered with how far it reaches
    /// (`None`: the run failed, and is logged).
    IndexEvents(oneshot::Sender<Option<i64>>),
    Shutdown,
}

/// Starts the writer on a thread of its own, with its own connection: SQLite's writes run there
/// synchronously, off the threads that serve stations; PostgreSQL's run on that thread's runtime.
/// What it commits goes on to `hub` (the live events) and `settling` (the settler).
pub(crate) async fn spawn_writer(
    url: String,
    backend: Backend,
    rx: mpsc::Receiver<Msg>,
    options: StoreOptions,
    metrics: Arc<StoreMetrics>,
    loose: Arc<LooseFrames>,
    (hub, settling): (EventHub, Settling),
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
                let next_event_id = match writes::next_event_id(&mut conn).await {
                    Ok(id) => id,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let event_index = match EventIndex::load(&mut conn, next_event_id - 1).await {
                    Ok(index) => index,
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
                    Backend::Postgres => Syncer::postgres(&url, Arc::clone(&metrics), hub.clone()).and_then(|syncer| {
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
                    known_tx: writes::KnownTxRows::default(),
                    fault_categories: options.fault_categories.clone().unwrap_or_default(),
                    loose_taken: Vec::new(),
                    events: Events::default(),
                    settling,
                    next_event_id,
                    event_index,
                    published: Vec::new(),
                    hub,
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

pub(crate) struct Writer {
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
    known_tx: writes::KnownTxRows,
    /// The operator's vendor codes, with which faults are classified as they are stored.
    fault_categories: Arc<VendorCategories>,
    /// Swapped with `loose` when the writer takes its frames, so that neither vector is grown
    /// anew each time.
    loose_taken: Vec<FrameLog>,
    /// The domain events of the transaction being written, the id the next one gets, and those
    /// committed and waiting to be durable before they are sent to `hub`'s subscribers.
    events: Events,
    /// The transactions the batch ended, for the settler (`crate::records`).
    settling: Settling,
    next_event_id: i64,
    /// How far the events are indexed by station, written behind them (`event_index`).
    event_index: EventIndex,
    published: Vec<Arc<StoredEvent>>,
    hub: EventHub,
}

/// Where committed domain events go live once durable (the API's event stream subscribes).
pub(crate) type EventHub = tokio::sync::broadcast::Sender<Arc<StoredEvent>>;

impl Writer {
    pub(crate) async fn connect(url: &str, backend: Backend) -> Result<db::Conn, StoreError> {
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
                    self.index_events(false).await;
                    continue;
                }
            };
            let Some(first) = first else { break };
            let mut batch = Vec::new();
            let mut flushes = Vec::new();
            let mut indexes = Vec::new();
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Job(job) => batch.push(job),
                    // Pruning the log is the log thread's work, answered there, after the
                    // frames kept so far (those of the writes gathered into this batch follow).
                    Msg::Maintenance(work, done) => {
                        self.flush_log(Vec::new());
                        let sent = self.log_writer.work.send(LogWork::Maintain(work, done));
                        if let Err(std::sync::mpsc::SendError(LogWork::Maintain(_, done))) = sent {
                            let _ = done.send(Err(StoreError::Closed));
                        }
                    }
                    Msg::FlushLog(done) => flushes.push(done),
                    // Kept now, flushed below once they make a part (`log_part_full`). No
                    // station's later frame is in this batch's jobs yet (`LooseFrames`).
                    Msg::TakeLoose => self.take_loose_frames(),
                    Msg::IndexEvents(done) => indexes.push(done),
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
            // Also after the batch is answered: the stations wait for it only in the next one.
            let indexed = self.index_events(!indexes.is_empty()).await;
            for done in indexes {
                let _ = done.send(indexed);
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
                Msg::IndexEvents(done) => drop(done),
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
        let events = std::mem::take(&mut self.published);
        match &mut self.durability {
            Durability::Wal(wal) => {
                let started = std::time::Instant::now();
                let synced = wal.sync();
                self.metrics.flush_seconds.observe_duration(started.elapsed());
                // Live first: whoever was answered finds its events already out.
                publish(&self.hub, events, &synced);
                answer(replies, &synced);
            }
            Durability::Syncer(syncer) => {
                if let Err(unsent) = syncer.batches.send((replies, events)) {
                    // The syncer is gone only when the store is closing; nothing says these are
                    // durable.
                    for request in unsent.0 .0 {
                        request.settle(&Err(PortError::Closed));
                    }
                }
            }
        }
    }

    /// Indexes the committed events by station when a run is due (`event_index`), or with
    /// `now` whatever waits. A failed run is rolled back and tried again later: the events
    /// themselves are committed, and reads by station find those above the mark without it.
    async fn index_events(&mut self, now: bool) -> Option<i64> {
        let last = self.next_event_id - 1;
        if !now && !self.event_index.due(last) {
            return None;
        }
        let started = std::time::Instant::now();
        match self.event_index.run(&mut self.conn, last).await {
            Ok(upto) => {
                self.metrics.event_index_seconds.observe_duration(started.elapsed());
                Some(upto)
            }
            Err(e) => {
                tracing::warn!(error = %e, "events not indexed by station: tried again later");
                self.recover().await;
                None
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
        self.events.clear();
        self.settling.clear();
        let result = Self::transaction(
            &mut self.conn,
            &mut self.known_tx,
            &self.fault_categories,
            &mut self.events,
            &mut self.settling,
            self.next_event_id,
            jobs,
        )
        .await;
        match result {
            Ok(events) => {
                self.next_event_id += events.len() as i64;
                self.event_index.committed(self.next_event_id - 1);
                self.published.extend(events);
                self.settling.committed();
                Ok(())
            }
            Err(e) => {
                self.events.clear();
                self.settling.clear();
                self.recover().await;
                Err(e)
            }
        }
    }

    /// Ends a failed transaction; a connection that cannot even roll back is replaced. The
    /// transaction rows noted during it may be gone.
    async fn recover(&mut self) {
        self.known_tx.clear();
        if self.conn.rollback().await.is_err() {
            self.reconnect().await;
        }
    }

    /// Runs the jobs in one transaction; answers the domain events it committed.
    async fn transaction(
        conn: &mut db::Conn,
        known: &mut writes::KnownTxRows,
        vendor: &VendorCategories,
        events: &mut Events,
        settling: &mut Settling,
        next_event_id: i64,
        jobs: &mut [Job],
    ) -> Result<Vec<Arc<StoredEvent>>, StoreError> {
        conn.begin().await?;
        for job in jobs {
            writes::run(conn, known, vendor, events, settling, &mut job.request).await?;
        }
        let stored = events.write(conn, next_event_id).await?;
        conn.commit().await?;
        Ok(stored)
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
