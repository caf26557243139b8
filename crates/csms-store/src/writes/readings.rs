//! Meter readings: MeterValues and the readings other messages carry, stored as samples; a
//! transaction's energy registers read back.

use super::events::sample_summary;
use super::transactions::{find_transaction, V16};
use super::{Events, KnownTxRows};
use crate::db::{query, reading_columns, sample_columns, Conn, MultiRow, Row};
use crate::schema::readings_of_samples;
use crate::terms::Term;
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::events::EventKind;
use csms_core::metering::{Measurand, Reading};
use csms_core::ops::*;
use csms_core::station::StationId;
use std::sync::LazyLock;

pub(super) async fn meter_values(
    conn: &mut Conn,
    known: &mut KnownTxRows,
    ev: &mut Events,
    op: &MeterValues,
) -> Result<(), StoreError> {
    let MeterValues { station, evse_id, connector_id, station_tx_id, readings } = op;
    let tx = match station_tx_id {
        Some(id) => match known.get(station.as_str(), id) {
            Some(row) => Some(row),
            None => {
                let row = find_transaction(conn, station, id, V16).await?.map(|t| t.id);
                if let Some(row) = row {
                    known.note(station.as_str(), id, row);
                }
                row
            }
        },
        None => None,
    };
    let place = Place { evse_id: *evse_id, connector_id: *connector_id };
    insert_readings(conn, station, place, tx, station_tx_id.as_deref(), readings).await?;
    let mut data = sample_summary(readings);
    data.insert("transaction_id".into(), tx.into());
    data.insert("evse_id".into(), (*evse_id).into());
    data.insert("connector_id".into(), (*connector_id).into());
    ev.push(EventKind::MeterSample, station.as_str(), data.into());
    Ok(())
}

/// A transaction's energy registers in time order: rows of `value`, `context` (its code) and
/// `timestamp`.
/// On PostgreSQL the readings gathered for `COPY` are sent first.
pub(super) async fn energy_registers(conn: &mut Conn, transaction_id: i64) -> Result<Vec<Row>, StoreError> {
    macro_rules! energy_registers {
        ($backend:ident) => {
            concat!(
                "SELECT r.value, s.context, s.timestamp FROM samples s ",
                readings_of_samples!($backend),
                " WHERE s.transaction_id = $1 AND r.measurand = $2 AND r.phase IS NULL \
                 AND r.normalised_unit = 'Wh' AND r.value IS NOT NULL ORDER BY s.timestamp, r.id"
            )
        };
    }
    let sql = if conn.is_sqlite() { energy_registers!(sqlite) } else { energy_registers!(postgres) };
    conn.send_gathered().await?;
    query(sql).bind(transaction_id).bind(Measurand::EnergyActiveImportRegister.code()).fetch_all(conn).await
}

/// Where on a station a reading was taken.
#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    pub(super) evse_id: Option<i64>,
    pub(super) connector_id: i64,
}

/// A sample's row (`samples`): its readings' ids and what they share.
static INSERT_SAMPLE: &str = concat!(
    "INSERT OR FAIL INTO samples (",
    sample_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
);
/// A sample's readings, up to 16 a statement; SQLite gives their ids.
static INSERT_READINGS: LazyLock<MultiRow> =
    LazyLock::new(|| MultiRow::new(concat!("readings (", reading_columns!(), ")"), 0, 7, 16));
/// The most readings one sample holds; a longer run is several samples (PostgreSQL's writer
/// takes a sample's ids from one block).
const SAMPLE_MAX: usize = 256;

/// A message's readings, as samples: each run of readings that share their timestamp, location,
/// context and format (a MeterValue element's, mostly) is one row of `samples` with the station,
/// place and transaction, its readings rows of `readings` with consecutive ids, the first of
/// which is the sample's. SQLite: the readings, up to 16 a statement, whose ids it gives in
/// order (nothing else inserts or deletes readings), then the sample. PostgreSQL, where every
/// statement is a round trip: both gathered for `COPY`, sent before COMMIT or a read of them
/// (see `db::PgWriter`), with ids from a block the writer holds.
pub(super) async fn insert_readings(
    conn: &mut Conn,
    station: &StationId,
    place: Place,
    transaction_id: Option<i64>,
    station_tx_id: Option<&str>,
    readings: &[Reading],
) -> Result<(), StoreError> {
    let mut rest = readings;
    while let Some(first) = rest.first() {
        let run = rest
            .iter()
            .take(SAMPLE_MAX)
            .position(|r| {
                r.timestamp != first.timestamp
                    || r.location != first.location
                    || r.context != first.context
                    || r.format != first.format
            })
            .unwrap_or(rest.len().min(SAMPLE_MAX));
        let (sample, after) = rest.split_at(run);
        rest = after;
        let timestamp = format_timestamp(&first.timestamp);
        let (location, context, format) = (first.location.code(), first.context.code(), first.format.code());
        if let Some(pg) = conn.postgres() {
            let first_id = pg.reading_ids(sample.len()).await?;
            for (id, r) in (first_id..).zip(sample) {
                // `sample_id, id`, then in the order of `reading_columns!`.
                pg.readings
                    .row(9)
                    .bigint(Some(first_id))
                    .bigint(Some(id))
                    .bigint(Some(r.measurand.code()))
                    .bigint(r.phase.map(Term::code))
                    .text(Some(&r.unit))
                    .text(Some(&r.raw_value))
                    .double(r.value)
                    .text(Some(&r.normalised_unit))
                    .text(r.signed_data.as_deref());
            }
            // In the order of `sample_columns!`.
            pg.samples
                .row(11)
                .bigint(Some(first_id))
                .bigint(Some(first_id + sample.len() as i64 - 1))
                .text(Some(station.as_str()))
                .bigint(place.evse_id)
                .bigint(Some(place.connector_id))
                .bigint(transaction_id)
                .text(station_tx_id)
                .text(Some(&timestamp))
                .bigint(Some(location))
                .bigint(Some(context))
                .bigint(Some(format));
            continue;
        }
        for values in sample.chunks(INSERT_READINGS.max()) {
            let mut insert = query(INSERT_READINGS.sql(values.len())).reserve(INSERT_READINGS.params(values.len()));
            for r in values {
                insert = insert
                    .bind(r.measurand.code())
                    .bind(r.phase.map(Term::code))
                    .bind(&r.unit)
                    .bind(&r.raw_value)
                    .bind(r.value)
                    .bind(&r.normalised_unit)
                    .bind(r.signed_data.as_deref());
            }
            insert.execute(conn).await?;
        }
        let last_id = conn.last_insert_rowid().ok_or(StoreError::Closed)?;
        query(INSERT_SAMPLE)
            .bind(last_id - sample.len() as i64 + 1)
            .bind(last_id)
            .bind(station.as_str())
            .bind(place.evse_id)
            .bind(place.connector_id)
            .bind(transaction_id)
            .bind(station_tx_id)
            .bind(&timestamp)
            .bind(location)
            .bind(context)
            .bind(format)
            .execute(conn)
            .await?;
    }
    Ok(())
}
