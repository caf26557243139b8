//! The message log: frames logged without a write (`LooseFrames`) and the thread with its own
//! connection that writes the log in blocks and prunes it.

use crate::{db, log_blocks, writes, StoreError};
use csms_core::ops::FrameLog;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The message log is written in bulk, apart from the writes it records: at most this long
/// after a frame arrived ...
pub(crate) const LOG_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
/// ... or once this many frames, or this many bytes of them, wait. A part is stored as a block
/// per station (`log_blocks`), so the more frames a station has in a part the fewer rows and
/// index entries each costs (parts of up to 32,768 frames or 1 s instead of 8,192 or 200 ms
/// took the log thread's CPU per MeterValues from 14.5–15.7 µs to 12.0–12.9 when the log still
/// had a row per frame, BENCHMARKS.md).
const LOG_MAX_FRAMES: usize = 32 * 1024;
const LOG_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Whether the frames waiting for the log make a part, whatever their age.
pub(crate) fn log_part_full(frames: usize, bytes: usize) -> bool {
    frames >= LOG_MAX_FRAMES || bytes >= LOG_MAX_BYTES
}

/// Frames logged without a write (`Store::log_frames`: the answers Ström sends, a station's
/// answers to Ström's CALLs, the frames of a Heartbeat), waiting for the writer to take them
/// into the log. Sent as jobs, they woke the writer once more per answered message for nothing
/// else (BENCHMARKS.md, thirteenth session). The order of a station's frames holds: its messages
/// are handled one at a time, and its task logs here only after the writer has taken its write
/// before (every write is awaited), so the writer takes what waits here before it keeps any other
/// frame and before it hands frames to the log (`Writer::keep`, `Writer::flush_log`).
///
/// Nothing here is dropped while the writer runs. The writer takes these frames at every batch,
/// at least every `LOG_DELAY`, and at once when they make a part of the log (`Msg::TakeLoose`).
/// Should they reach two parts' worth (`loose_full`: the writer is held back by the log's
/// thread, or busy), the session that logs more waits for room before it reads the station's
/// next message (`Room`): back-pressure on the stations that talk, not lost frames. A
/// station pipelining Heartbeats, answered without a write, would otherwise outrun the log.
pub(crate) struct LooseFrames {
    state: std::sync::Mutex<Loose>,
    /// Woken when the writer has taken the frames, or stopped.
    room: tokio::sync::Notify,
}

#[derive(Default)]
pub(crate) struct Loose {
    pub(crate) frames: Vec<FrameLog>,
    pub(crate) bytes: usize,
    /// The writer will take the frames soon: a `Msg::TakeLoose` is queued, or the queue was full
    /// and every job in it makes the writer take them.
    pub(crate) asked: bool,
    /// A session waits for room (`LooseFrames::room`).
    pub(crate) waiting: bool,
    /// When a session last had to wait, for a warning at most every `LOG_WAIT_WARN_EVERY`.
    pub(crate) warned: Option<std::time::Instant>,
    /// The writer has stopped and takes nothing more; frames logged now are not logged.
    pub(crate) closed: bool,
    /// Frames not logged because the writer had stopped.
    pub(crate) lost: u64,
}

impl LooseFrames {
    pub(crate) fn new() -> Arc<LooseFrames> {
        Arc::new(LooseFrames { state: std::sync::Mutex::default(), room: tokio::sync::Notify::new() })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Loose> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands the frames waiting here to the writer in `taken` (an empty vector, swapped so that
    /// neither is grown anew each time), and wakes the sessions waiting for room. With `close`
    /// the writer takes them for the last time.
    pub(crate) fn take(&self, taken: &mut Vec<FrameLog>, close: bool) {
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
    pub(crate) async fn room(self: Arc<Self>) {
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
pub(crate) fn loose_full(frames: usize, bytes: usize) -> bool {
    frames >= 2 * LOG_MAX_FRAMES || bytes >= 2 * LOG_MAX_BYTES
}

/// At most one warning this often that stations wait for the message log.
const LOG_WAIT_WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Writes the message log on a thread and connection of its own; on SQLite into a database file
/// of its own. Written by the writer, its bulk inserts held the station writes back: on SQLite
/// (one writer per file) a part of 4,096 frames took 7 ms, during which no station was
/// answered, every 60 ms at 33,000 MeterValues per second; on PostgreSQL every statement of
/// the writer's connection waits for the one before. Pruning runs here too, for the same reason.
pub(crate) struct LogWriter {
    pub(crate) work: std::sync::mpsc::SyncSender<LogWork>,
    /// The frames' vectors, emptied, back for the writer to fill again: a fresh one grew by
    /// reallocation and faulted its pages in at every part of the log.
    pub(crate) emptied: std::sync::mpsc::Receiver<Vec<FrameLog>>,
    thread: std::thread::JoinHandle<()>,
}

pub(crate) enum LogWork {
    /// Frames in arrival order, and who waits for them to be written.
    Frames(Vec<FrameLog>, Vec<oneshot::Sender<()>>),
    /// Work on the log (pruning), answered once committed.
    Maintain(Box<writes::Maintenance>, oneshot::Sender<Result<(), StoreError>>),
}

pub(crate) enum LogTarget {
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
    /// prunes. `None` until counted, and again after `Maintenance::Prune` or a failure.
    held: Option<HashMap<String, i64>>,
}

impl LogConn {
    fn write_frames(&mut self, frames: &[FrameLog]) -> Result<(), StoreError> {
        let conn = &mut self.conn;
        let blocks = self.packer.blocks(frames);
        let result = self.runtime.block_on(async {
            conn.begin().await?;
            writes::log_blocks(conn, &blocks).await?;
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

    fn maintain(&mut self, work: &writes::Maintenance) -> Result<(), StoreError> {
        let conn = &mut self.conn;
        let held = &mut self.held;
        let result = self.runtime.block_on(async {
            let (before, max_per_station) = match work {
                writes::Maintenance::Prune { before, max_per_station } => (before, *max_per_station),
                writes::Maintenance::Cap { max_per_station } => {
                    let counted = match held.take() {
                        Some(counted) => counted,
                        None => writes::count_log(conn).await?,
                    };
                    let held = held.insert(counted);
                    let over = held.values().any(|frames| frames > max_per_station);
                    if over {
                        conn.begin().await?;
                        // Counts taken off before the commit are thrown away if it fails (below).
                        writes::cap_log(conn, held, *max_per_station).await?;
                        conn.commit().await?;
                    }
                    return Ok(());
                }
            };
            // Pruning by age and count; the counts are taken afresh at the next `Cap`.
            *held = None;
            conn.begin().await?;
            writes::prune_log(conn, before, max_per_station).await?;
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
    pub(crate) fn start(target: LogTarget) -> Result<LogWriter, StoreError> {
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
    pub(crate) fn stop(self) {
        drop(self.work);
        let _ = self.thread.join();
    }
}

/// The nice value of the message log's thread: the lowest priority there is.
pub(crate) const LOG_NICE: i32 = 19;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreOptions};
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
}
