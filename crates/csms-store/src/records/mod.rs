//! The settler: writes the charge detail record of every ended transaction, off the writer.
//!
//! The writer only counts a transaction's end (`end_gen`, in the transaction that ends it) and,
//! once that is committed, hands the transaction here (`writes::cdrs::Settling`). The settler,
//! on a thread and connection of its own, reads the transaction's readings back, prices them
//! (`price`), renders the record and has the writer store it (`RecordCdr`), which it does only
//! if that end is still the transaction's latest. Reading, pricing and rendering thus cost the
//! stations' writes nothing; the writer's part is an `UPDATE` at the end and an `INSERT` of the
//! finished row. A transaction whose latest end has no record yet (`settled_gen < end_gen`:
//! Ström stopped in between) is settled when the store next opens.
//!
//! A 2.0.1 Ended answer carries the record's total (`totalCost`); the gateway asks for it after
//! the end is committed (`Port::record_total`), and is answered once the record is written.

mod meter_data;
mod price;

use crate::billing::{listed, Listed, TARIFFS_IN_FORCE};
use crate::db::{query, query_scalar, Conn};
use crate::writer::{Job, Msg};
use crate::{Backend, StoreError};
use csms_core::clock::{Clock, SystemClock};
use csms_core::tariffs::Decimal;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// An anomaly as the API shows it, on a record and on its transaction.
pub fn anomaly_view(anomaly: &csms_core::integrity::Anomaly) -> serde_json::Value {
    let at = csms_core::clock::format_timestamp(&anomaly.at());
    serde_json::json!({"code": anomaly.code(), "at": at, "description": anomaly.describe()})
}

pub(crate) enum SettlerMsg {
    /// Transactions whose end the writer committed.
    Ended(Vec<i64>),
    /// Answered with the total including tax of the transaction's record once its latest end is
    /// settled (`None`: no tariff priced it).
    Total(i64, oneshot::Sender<Option<Decimal>>),
    /// Stops the settler after what it has taken; answered when it has stopped.
    Stop(oneshot::Sender<()>),
}

/// How often the ends without a record are looked for again (those given up on after
/// `ATTEMPTS`, or missed while the database was away).
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// How many ends one round prices before their records are written together.
const ROUND: usize = 256;
/// A record that failed (the database away, say) is tried again this much later, a few times;
/// after that, when the store next opens.
const RETRY_AFTER: Duration = Duration::from_secs(2);
const ATTEMPTS: u8 = 3;

/// Whether there are tariffs. Without one, no record has a total and a 2.0.1 Ended answer need
/// not wait for its record. The writer counts the commits that saved or withdrew a tariff; the
/// settler notes the count it last found no tariff at, read before it looked. A tariff saved
/// while it looked makes the two differ, so "none" is never believed of a count it has not seen.
#[derive(Debug)]
pub(crate) struct TariffWatch {
    changes: AtomicU64,
    none_at: AtomicU64,
}

impl TariffWatch {
    /// A tariff was saved or withdrawn (committed).
    pub(crate) fn changed(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    fn none(&self) -> bool {
        self.none_at.load(Ordering::Acquire) == self.changes.load(Ordering::Acquire)
    }
}

/// The store's handle on its settler.
#[derive(Clone)]
pub(crate) struct Settler {
    tx: mpsc::UnboundedSender<SettlerMsg>,
    tariffs: Arc<TariffWatch>,
}

impl Settler {
    pub(crate) fn channel() -> (Settler, mpsc::UnboundedReceiver<SettlerMsg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let tariffs = TariffWatch { changes: AtomicU64::new(0), none_at: AtomicU64::new(u64::MAX) };
        (Settler { tx, tariffs: Arc::new(tariffs) }, rx)
    }

    /// What the writer hands ends to, and the flag it sets as a tariff is saved.
    pub(crate) fn for_writer(&self) -> (mpsc::UnboundedSender<SettlerMsg>, Arc<TariffWatch>) {
        (self.tx.clone(), Arc::clone(&self.tariffs))
    }

    /// The total of transaction `id`'s record, once written (`SettlerMsg::Total`).
    pub(crate) async fn total(&self, id: i64) -> Result<Option<Decimal>, StoreError> {
        if self.tariffs.none() {
            return Ok(None);
        }
        let (answer, total) = oneshot::channel();
        self.tx.send(SettlerMsg::Total(id, answer)).map_err(|_| StoreError::Closed)?;
        total.await.map_err(|_| StoreError::Closed)
    }

    /// Stops the settler; ends it had not settled are settled at the next start.
    pub(crate) async fn stop(&self) {
        let (done, stopped) = oneshot::channel();
        if self.tx.send(SettlerMsg::Stop(done)).is_ok() {
            let _ = stopped.await;
        }
    }

    /// Starts the settler on a thread of its own, with a connection of its own, writing through
    /// the writer's queue `jobs` (held weakly: a store dropped without `close` still stops).
    pub(crate) async fn spawn(
        &self,
        url: String,
        backend: Backend,
        time_zone: chrono_tz::Tz,
        jobs: mpsc::WeakSender<Msg>,
        rx: mpsc::UnboundedReceiver<SettlerMsg>,
    ) -> Result<(), StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(StoreError::Thread)?;
        let tariffs = Arc::clone(&self.tariffs);
        // Connected before the store opens: a store that cannot record is not opened.
        let (ready_tx, ready) = oneshot::channel();
        std::thread::Builder::new()
            .name("strom-settler".into())
            .spawn(move || {
                let pricing = Arc::new(AtomicI64::new(0));
                let at = Arc::clone(&pricing);
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(async move {
                        let conn = match crate::writer::Writer::connect(&url, backend).await {
                            Ok(conn) => conn,
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                return;
                            }
                        };
                        let _ = ready_tx.send(Ok(()));
                        let (waiting, due, retry) = (HashMap::new(), Vec::new(), Vec::new());
                        let mut work =
                            Work { conn, url, backend, jobs, time_zone, book: None, tariffs, waiting, due, retry, at };
                        work.run(rx).await;
                    })
                }));
                if ran.is_err() {
                    // Loud: from here on ends are only counted, and recorded at the next start.
                    let id = pricing.load(Ordering::Acquire);
                    tracing::error!(
                        transaction = id,
                        "the settler stopped on a panic: no more charge detail records until Ström restarts"
                    );
                }
            })
            .map_err(StoreError::Thread)?;
        ready.await.map_err(|_| StoreError::Closed)?
    }
}

struct Work {
    conn: Conn,
    /// Where `conn` connects again after a failed round.
    url: String,
    backend: Backend,
    jobs: mpsc::WeakSender<Msg>,
    time_zone: chrono_tz::Tz,
    /// The tariffs, and the count of tariff changes they were read at (`TariffWatch`): read
    /// again once that count moves.
    book: Option<(u64, Vec<Listed>)>,
    tariffs: Arc<TariffWatch>,
    /// Who waits for which transaction's record.
    waiting: HashMap<i64, Vec<oneshot::Sender<Option<Decimal>>>>,
    /// The ends taken for the next round, and those to try again after `RETRY_AFTER`.
    due: Vec<Due>,
    retry: Vec<Due>,
    /// The transaction being priced, for the report of a panic.
    at: Arc<AtomicI64>,
}

/// An end to settle and the attempts made so far.
type Due = (i64, u8);

impl Work {
    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<SettlerMsg>) {
        match self.unsettled().await {
            Ok(ids) => ids.into_iter().for_each(|id| self.add(id, 0)),
            Err(e) => {
                tracing::error!(error = %e, "unsettled transactions not read: their records follow at the next start")
            }
        }
        let mut retry_at = tokio::time::Instant::now();
        let mut sweep_at = tokio::time::Instant::now() + SWEEP_EVERY;
        let mut stop = None;
        while stop.is_none() {
            let now = tokio::time::Instant::now();
            if !self.retry.is_empty() && now >= retry_at {
                for (id, attempts) in std::mem::take(&mut self.retry) {
                    self.add(id, attempts);
                }
            }
            if now >= sweep_at {
                sweep_at = now + SWEEP_EVERY;
                // Ends given up on, or missed by a failed read: the index still names them.
                match self.unsettled().await {
                    Ok(ids) => ids.into_iter().for_each(|id| self.add(id, 0)),
                    Err(e) => tracing::warn!(error = %e, "unsettled transactions not read"),
                }
            }
            if self.due.is_empty() {
                let wake = if self.retry.is_empty() { sweep_at } else { retry_at.min(sweep_at) };
                let msg = match tokio::time::timeout_at(wake, rx.recv()).await {
                    Ok(msg) => msg,
                    Err(_) => continue,
                };
                let Some(msg) = msg else { break };
                self.take(msg, &mut stop).await;
            }
            while self.due.len() < ROUND && stop.is_none() {
                let Ok(msg) = rx.try_recv() else { break };
                self.take(msg, &mut stop).await;
            }
            let round: Vec<Due> = std::mem::take(&mut self.due);
            let failed = self.settle(round).await;
            if !failed.is_empty() {
                // The database may have gone away (PostgreSQL restarted): a new connection.
                match crate::writer::Writer::connect(&self.url, self.backend).await {
                    Ok(conn) => self.conn = conn,
                    Err(e) => tracing::warn!(error = %e, "the settler could not connect again"),
                }
                if self.retry.is_empty() {
                    retry_at = tokio::time::Instant::now() + RETRY_AFTER;
                }
                for (id, attempts) in failed {
                    if !self.retry.iter().any(|(d, _)| *d == id) {
                        self.retry.push((id, attempts));
                    }
                }
            }
        }
        // Whoever still waits is answered without a total: its record follows.
        for (_, waiters) in self.waiting.drain() {
            for waiter in waiters {
                let _ = waiter.send(None);
            }
        }
        if let Some(done) = stop {
            let _ = done.send(());
        }
    }

    /// Takes transaction `id`'s end for the next round, once: not if it is taken already or
    /// waits to be tried again (a round then settles its latest end, whichever it was handed).
    fn add(&mut self, id: i64, attempts: u8) {
        if !self.due.iter().chain(&self.retry).any(|(d, _)| *d == id) {
            self.due.push((id, attempts));
        }
    }

    /// Whether transaction `id`'s end is still to be settled here.
    fn pending(&self, id: i64) -> bool {
        self.due.iter().chain(&self.retry).any(|(d, _)| *d == id) || self.waiting.contains_key(&id)
    }

    async fn take(&mut self, msg: SettlerMsg, stop: &mut Option<oneshot::Sender<()>>) {
        match msg {
            SettlerMsg::Ended(ids) => ids.into_iter().for_each(|id| self.add(id, 0)),
            SettlerMsg::Total(id, answer) => {
                // Its end came before (the writer hands it over before answering the station):
                // taken in this round, to be tried again, waiting for a newer end, or recorded.
                if self.pending(id) {
                    self.waiting.entry(id).or_default().push(answer);
                } else {
                    let total = latest_total(&mut self.conn, id).await.unwrap_or_else(|e| {
                        tracing::warn!(transaction = id, error = %e, "record total not read");
                        None
                    });
                    let _ = answer.send(total);
                }
            }
            SettlerMsg::Stop(done) => *stop = Some(done),
        }
    }

    /// Prices a round of ends and has their records written; answers those that failed.
    async fn settle(&mut self, round: Vec<Due>) -> Vec<Due> {
        if round.is_empty() {
            return Vec::new();
        }
        let mut failed = Vec::new();
        if let Err(e) = self.read_book().await {
            tracing::warn!(error = %e, "tariffs not read: records wait");
            return self.failed(round);
        }
        // Put back below: the round prices with the tariffs as they were when it began (a change
        // committed with an end counts before the end is handed over, so it is in them).
        let (seen, book) = self.book.take().unwrap_or_default();
        let now = SystemClock.now();
        let mut writes = Vec::with_capacity(round.len());
        for (id, attempts) in round {
            self.at.store(id, Ordering::Release);
            match price::settle(&mut self.conn, &book, self.time_zone, id, &now).await {
                Ok(Some((op, total))) => {
                    let (request, written) = csms_core::port::request(op);
                    // The store is gone (dropped without `close`): nothing more to do.
                    let Some(jobs) = self.jobs.upgrade() else { return Vec::new() };
                    if jobs.send(Msg::Job(Job { request, log: Vec::new() })).await.is_err() {
                        return Vec::new();
                    }
                    writes.push((id, attempts, total, written));
                }
                Ok(None) => self.answer(id, None),
                Err(e) => {
                    tracing::warn!(transaction = id, error = %e, "charge detail record not made");
                    failed.push((id, attempts));
                }
            }
        }
        self.book = Some((seen, book));
        for (id, attempts, total, written) in writes {
            match written.await {
                Ok(true) => self.answer(id, total),
                // A newer end replaced this one: its record comes next.
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(transaction = id, error = %e, "charge detail record not written");
                    failed.push((id, attempts));
                }
            }
        }
        self.failed(failed)
    }

    /// Ends to try again; those tried often enough wait for the next start, their waiters
    /// answered without a total.
    fn failed(&mut self, failed: Vec<Due>) -> Vec<Due> {
        let mut again = Vec::new();
        for (id, attempts) in failed {
            if attempts + 1 < ATTEMPTS {
                again.push((id, attempts + 1));
            } else {
                tracing::error!(transaction = id, "charge detail record left for the next start");
                self.answer(id, None);
            }
        }
        again
    }

    fn answer(&mut self, id: i64, total: Option<Decimal>) {
        for waiter in self.waiting.remove(&id).unwrap_or_default() {
            let _ = waiter.send(total);
        }
    }

    async fn read_book(&mut self) -> Result<(), StoreError> {
        let seen = self.tariffs.changes.load(Ordering::Acquire);
        if self.book.as_ref().is_some_and(|(at, _)| *at == seen) {
            return Ok(());
        }
        let rows = query(TARIFFS_IN_FORCE).fetch_all(&mut self.conn).await?;
        let mut book = Vec::with_capacity(rows.len());
        for row in rows {
            book.push(listed(
                row.try_get("id")?,
                row.try_get("version")?,
                row.try_get("body")?,
                row.try_get("updated_at")?,
            )?);
        }
        self.tariffs.none_at.store(if book.is_empty() { seen } else { u64::MAX }, Ordering::Release);
        self.book = Some((seen, book));
        Ok(())
    }

    /// Transactions whose latest end has no record yet.
    async fn unsettled(&mut self) -> Result<Vec<i64>, StoreError> {
        self.read_book().await?;
        let rows = query("SELECT id FROM transactions WHERE settled_gen < end_gen ORDER BY id")
            .fetch_all(&mut self.conn)
            .await?;
        rows.iter().map(|r| r.try_get("id")).collect()
    }
}

/// The total after tax of transaction `id`'s latest record, if a tariff priced it.
async fn latest_total(conn: &mut Conn, id: i64) -> Result<Option<Decimal>, StoreError> {
    let total: Option<Option<String>> =
        query_scalar("SELECT total_incl_vat FROM cdrs WHERE transaction_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    total
        .flatten()
        .map(|t| Decimal::from_str(&t).map_err(|e| StoreError::Corrupt(format!("total {t:?} of record of {id}: {e}"))))
        .transpose()
}
