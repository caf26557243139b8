//! Domain events (`csms_core::events`): gathered by the writes of a transaction, stored in
//! `events` with it before COMMIT, and handed to live subscribers once the commit is durable.
//!
//! The writer numbers them: it is the only writer, so the next id is one more than the largest
//! stored (read once as it starts), and ids follow commit order, which is what a client resuming
//! from the last id it saw needs. A transaction that rolls back takes its events with it and
//! gives their ids out again.

use crate::db::{query, query_scalar, Conn, MultiRow};
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::events::EventKind;
use csms_core::metering::{Measurand, Reading};
use serde_json::Value;
use std::sync::Arc;
use std::sync::LazyLock;

/// An event as it is kept and sent: its id, what filters look at, and its whole JSON text
/// (`{"id", "kind", "at", "station_id", "data"}`), rendered once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub kind: String,
    pub station_id: Option<String>,
    /// A fault event's category.
    pub category: Option<String>,
    pub json: String,
}

struct NewEvent {
    kind: EventKind,
    station: String,
    category: Option<&'static str>,
    data: Value,
}

/// The events of the transaction being written.
#[derive(Default)]
pub(crate) struct Events {
    new: Vec<NewEvent>,
}

impl Events {
    pub(crate) fn push(&mut self, kind: EventKind, station: &str, data: Value) {
        self.new.push(NewEvent { kind, station: station.to_string(), category: None, data });
    }

    /// A fault event, which filters also select by category.
    pub(crate) fn push_fault(&mut self, kind: EventKind, station: &str, category: &'static str, data: Value) {
        self.new.push(NewEvent { kind, station: station.to_string(), category: Some(category), data });
    }

    /// Forgets the events of a transaction that failed.
    pub(crate) fn clear(&mut self) {
        self.new.clear();
    }

    /// Stores the events gathered, numbered from `next_id`, and returns them as sent. Runs last
    /// in the transaction, before COMMIT.
    pub(crate) async fn write(&mut self, conn: &mut Conn, next_id: i64) -> Result<Vec<Arc<StoredEvent>>, StoreError> {
        if self.new.is_empty() {
            return Ok(Vec::new());
        }
        let at = format_timestamp(&chrono::Utc::now());
        let mut stored = Vec::with_capacity(self.new.len());
        for (n, event) in self.new.drain(..).enumerate() {
            let id = next_id + n as i64;
            // By hand: the kind and time need no escaping, and the writer does this per event.
            let json = format!(
                r#"{{"id":{id},"kind":"{}","at":"{at}","station_id":{},"data":{}}}"#,
                event.kind.as_str(),
                Value::from(event.station.as_str()),
                event.data
            );
            stored.push(Arc::new(StoredEvent {
                id,
                kind: event.kind.as_str().to_string(),
                station_id: Some(event.station),
                category: event.category.map(str::to_string),
                json,
            }));
        }
        match conn.postgres() {
            // One `COPY` with the batch's readings (`PgWriter::flush`).
            Some(pg) => {
                for e in &stored {
                    pg.events
                        .row(6)
                        .bigint(Some(e.id))
                        .text(Some(&at))
                        .text(Some(&e.kind))
                        .text(e.station_id.as_deref())
                        .text(e.category.as_deref())
                        .text(Some(&e.json));
                }
            }
            // Up to `INSERT_EVENTS.max()` a statement, the batch's time bound once.
            None => {
                for chunk in stored.chunks(INSERT_EVENTS.max()) {
                    let mut insert =
                        query(INSERT_EVENTS.sql(chunk.len())).reserve(INSERT_EVENTS.params(chunk.len())).bind(&at);
                    for e in chunk {
                        insert = insert
                            .bind(e.id)
                            .bind(e.kind.as_str())
                            .bind(e.station_id.as_deref())
                            .bind(e.category.as_deref())
                            .bind(e.json.as_str());
                    }
                    insert.execute(&mut *conn).await?;
                }
            }
        }
        Ok(stored)
    }
}

/// SQLite: the events of a batch, many rows a statement (a statement per event cost a tenth of
/// the writer's time per MeterValues).
static INSERT_EVENTS: LazyLock<MultiRow> =
    LazyLock::new(|| MultiRow::new("events (at, id, kind, station_id, category, body)", 1, 5, 32));

/// The id the next event gets: one more than the largest stored.
pub(crate) async fn next_event_id(conn: &mut Conn) -> Result<i64, StoreError> {
    let last: Option<i64> = query_scalar("SELECT MAX(id) FROM events").fetch_one(conn).await?;
    Ok(last.unwrap_or(0) + 1)
}

/// What a `meter.sample` (and a 2.0.1 `transaction.updated`) tells of readings: the latest
/// timestamp, the import register in Wh, active power in W (the whole device's, else the sum of
/// its phases) and the state of charge, where the readings have them.
pub(crate) fn sample_summary(readings: &[Reading]) -> serde_json::Map<String, Value> {
    let mut summary = serde_json::Map::new();
    let Some(last) = readings.iter().map(|r| r.timestamp).max() else { return summary };
    summary.insert("timestamp".into(), format_timestamp(&last).into());
    let latest = readings.iter().filter(|r| r.timestamp == last);
    let mut power_total = None;
    let mut power_phases: Option<f64> = None;
    for r in latest {
        let Some(value) = r.value else { continue };
        if let Some(wh) = r.import_register_wh() {
            summary.insert("energy_wh".into(), wh.into());
        }
        match (r.measurand, r.normalised_unit.as_ref(), r.phase.is_some()) {
            (Measurand::PowerActiveImport, "W", false) => power_total = Some(value),
            (Measurand::PowerActiveImport, "W", true) => *power_phases.get_or_insert(0.0) += value,
            (Measurand::SoC, _, _) => {
                summary.insert("soc".into(), value.into());
            }
            _ => {}
        }
    }
    if let Some(power) = power_total.or(power_phases) {
        summary.insert("power_w".into(), power.into());
    }
    summary
}
