//! Reads of transactions and of the meter readings taken during them.

use super::paging::{BindPage, BindWindow, Page, PageRequest};
use crate::schema::{readings_of_samples, readings_with_words};
use crate::terms::Term;
use crate::{Backend, Store, StoreError};
use csms_core::clock::parse_timestamp;
use csms_core::metering::Measurand;
use csms_core::sessions::Sample;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct TransactionView {
    pub id: i64,
    pub station_id: String,
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub station_tx_id: Option<String>,
    pub id_token: Option<String>,
    /// The start's status as the station was told it.
    pub start_auth_status: Option<String>,
    /// Ström's own decision, where it is finer than what the station's version can say (a 1.6
    /// unknown tag is answered Invalid; this says Unknown).
    pub start_auth_reason: Option<String>,
    /// The latest token check of the transaction after its start, as answered.
    pub last_auth_status: Option<String>,
    pub started_at: Option<String>,
    pub meter_start_wh: Option<f64>,
    pub reservation_id: Option<i64>,
    pub stopped_at: Option<String>,
    pub meter_stop_wh: Option<f64>,
    pub energy_wh: Option<f64>,
    pub stop_reason: Option<String>,
    pub stop_id_token: Option<String>,
    pub flags: Vec<String>,
    pub id_token_type: Option<String>,
    pub charging_state: Option<String>,
    pub last_trigger_reason: Option<String>,
    pub time_spent_charging: Option<i64>,
    pub remote_start_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MeterValueView {
    /// The reading's id: with its time, its place in the transaction's readings.
    pub id: i64,
    pub evse_id: Option<i64>,
    pub connector_id: i64,
    pub timestamp: String,
    pub measurand: String,
    pub phase: Option<String>,
    pub location: String,
    pub context: String,
    pub format: String,
    pub unit: String,
    pub raw_value: String,
    pub value: Option<f64>,
    pub normalised_unit: String,
    pub signed_data: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TransactionFilter {
    pub station_id: Option<String>,
    pub active: Option<bool>,
}

const TRANSACTION_COLUMNS: &str = "id, station_id, evse_id, connector_id, station_tx_id, id_token, start_auth_status, \
    started_at, meter_start_wh, reservation_id, stopped_at, meter_stop_wh, energy_wh, stop_reason, stop_id_token, flags, \
    id_token_type, charging_state, last_trigger_reason, time_spent_charging, remote_start_id, start_auth_reason, \
    last_auth_status";

fn transaction_from_row(r: &AnyRow) -> Result<TransactionView, sqlx::Error> {
    let flags: String = r.try_get("flags")?;
    Ok(TransactionView {
        id: r.try_get("id")?,
        station_id: r.try_get("station_id")?,
        evse_id: r.try_get("evse_id")?,
        connector_id: r.try_get("connector_id")?,
        station_tx_id: r.try_get("station_tx_id")?,
        id_token: r.try_get("id_token")?,
        start_auth_status: r.try_get("start_auth_status")?,
        start_auth_reason: r.try_get("start_auth_reason")?,
        last_auth_status: r.try_get("last_auth_status")?,
        started_at: r.try_get("started_at")?,
        meter_start_wh: r.try_get("meter_start_wh")?,
        reservation_id: r.try_get("reservation_id")?,
        stopped_at: r.try_get("stopped_at")?,
        meter_stop_wh: r.try_get("meter_stop_wh")?,
        energy_wh: r.try_get("energy_wh")?,
        stop_reason: r.try_get("stop_reason")?,
        stop_id_token: r.try_get("stop_id_token")?,
        flags: flags.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect(),
        id_token_type: r.try_get("id_token_type")?,
        charging_state: r.try_get("charging_state")?,
        last_trigger_reason: r.try_get("last_trigger_reason")?,
        time_spent_charging: r.try_get("time_spent_charging")?,
        remote_start_id: r.try_get("remote_start_id")?,
    })
}

/// A reading as `readings_with_words!` selects it.
pub(super) fn meter_value_from_row(r: &AnyRow) -> Result<MeterValueView, sqlx::Error> {
    Ok(MeterValueView {
        id: r.try_get("id")?,
        evse_id: r.try_get("evse_id")?,
        connector_id: r.try_get("connector_id")?,
        timestamp: r.try_get("timestamp")?,
        measurand: r.try_get("measurand")?,
        phase: r.try_get("phase")?,
        location: r.try_get("location")?,
        context: r.try_get("context")?,
        format: r.try_get("format")?,
        unit: r.try_get("unit")?,
        raw_value: r.try_get("raw_value")?,
        value: r.try_get("value")?,
        normalised_unit: r.try_get("normalised_unit")?,
        signed_data: r.try_get("signed_data")?,
    })
}

impl Store {
    /// Transactions, newest first (by id); `from`/`to` on their start.
    pub async fn transactions(
        &self,
        filter: &TransactionFilter,
        page: &PageRequest<i64>,
    ) -> Result<Page<TransactionView, i64>, StoreError> {
        let active = match filter.active {
            Some(true) => " AND stopped_at IS NULL",
            Some(false) => " AND stopped_at IS NOT NULL",
            None => "",
        };
        let sql = format!(
            "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE ($1 IS NULL OR station_id = $1){active} \
             AND ($2 IS NULL OR id < $2) AND ($3 IS NULL OR started_at >= $3) AND ($4 IS NULL OR started_at < $4) \
             ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(&sql).bind(filter.station_id.as_deref()).bind_page(page).fetch_all(self.pool()).await?;
        let items = rows.iter().map(transaction_from_row).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |t: &TransactionView| t.id))
    }

    pub async fn transaction(&self, id: i64) -> Result<Option<TransactionView>, StoreError> {
        let row = sqlx::query(&format!("SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(transaction_from_row).transpose()?)
    }

    /// The energy registers and active import power of each of `transaction_ids`, one `Sample`
    /// per moment in time order, for the sessions' figures (`csms_core::sessions`). A moment's
    /// power is the reading without a phase, else the sum of its phases' readings.
    pub async fn session_samples(&self, transaction_ids: &[i64]) -> Result<HashMap<i64, Vec<Sample>>, StoreError> {
        let mut samples: HashMap<i64, Vec<Sample>> = HashMap::new();
        if transaction_ids.is_empty() {
            return Ok(samples);
        }
        macro_rules! session_readings {
            ($backend:ident) => {
                concat!(
                    "SELECT s.transaction_id, s.timestamp, r.measurand, r.phase, r.value FROM samples s ",
                    readings_of_samples!($backend),
                    " WHERE r.value IS NOT NULL AND ((r.measurand = $1 AND r.phase IS NULL AND r.normalised_unit = 'Wh') \
                     OR (r.measurand = $2 AND r.normalised_unit = 'W')) AND s.transaction_id IN "
                )
            };
        }
        let head = match self.backend() {
            Backend::Sqlite => session_readings!(sqlite),
            Backend::Postgres => session_readings!(postgres),
        };
        let list: Vec<String> = (0..transaction_ids.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!("{head}({}) ORDER BY s.transaction_id, s.timestamp, r.id", list.join(", "));
        let energy = Measurand::EnergyActiveImportRegister.code();
        let mut q = sqlx::query(&sql).bind(energy).bind(Measurand::PowerActiveImport.code());
        for id in transaction_ids {
            q = q.bind(*id);
        }
        // Per moment (transaction, time): the register, the power without a phase, the sum of
        // the phases' powers.
        struct Moment {
            tx: i64,
            at: String,
            register: Option<f64>,
            total: Option<f64>,
            phases: Option<f64>,
        }
        let mut moments: Vec<Moment> = Vec::new();
        for row in q.fetch_all(self.pool()).await? {
            let (tx, at): (i64, String) = (row.try_get("transaction_id")?, row.try_get("timestamp")?);
            let (measurand, phase, value): (i64, Option<i64>, f64) =
                (row.try_get("measurand")?, row.try_get("phase")?, row.try_get("value")?);
            if moments.last().is_none_or(|m| m.tx != tx || m.at != at) {
                moments.push(Moment { tx, at, register: None, total: None, phases: None });
            }
            let Some(moment) = moments.last_mut() else { continue };
            match (measurand == energy, phase) {
                (true, _) => moment.register = Some(value),
                (false, None) => moment.total = Some(value),
                (false, Some(_)) => moment.phases = Some(moment.phases.unwrap_or(0.0) + value),
            }
        }
        for m in moments {
            let at = parse_timestamp(&m.at)
                .ok_or_else(|| StoreError::Corrupt(format!("reading time {:?} is no time", m.at)))?;
            samples.entry(m.tx).or_default().push(Sample {
                at,
                register_wh: m.register,
                power_w: m.total.or(m.phases),
            });
        }
        Ok(samples)
    }

    /// A transaction's readings in time order, oldest first (the transaction's curve), keyed by
    /// their time and id; `from`/`to` on their time.
    pub async fn meter_values(
        &self,
        transaction_id: i64,
        page: &PageRequest<(String, i64)>,
    ) -> Result<Page<MeterValueView, (String, i64)>, StoreError> {
        macro_rules! page_of_readings {
            ($backend:ident) => {
                concat!(
                    readings_with_words!($backend),
                    " WHERE s.transaction_id = $1 AND ($2 IS NULL OR s.timestamp > $2 OR (s.timestamp = $2 AND r.id > $3)) \
                     AND ($4 IS NULL OR s.timestamp >= $4) AND ($5 IS NULL OR s.timestamp < $5) \
                     ORDER BY s.timestamp, r.id LIMIT $6"
                )
            };
        }
        let sql = match self.backend() {
            Backend::Sqlite => page_of_readings!(sqlite),
            Backend::Postgres => page_of_readings!(postgres),
        };
        let (after_time, after_id) = match &page.after {
            Some((time, id)) => (Some(time.as_str()), Some(*id)),
            None => (None, None),
        };
        let rows = sqlx::query(sql)
            .bind(transaction_id)
            .bind(after_time)
            .bind(after_id)
            .bind_window(page)
            .fetch_all(self.pool())
            .await?;
        let items = rows.iter().map(meter_value_from_row).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |m: &MeterValueView| (m.timestamp.clone(), m.id)))
    }
}
