//! Reads of transactions and of the meter readings taken during them.

use super::paging::{BindPage, BindWindow, Page, PageRequest};
use crate::schema::readings_with_words;
use crate::{Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct TransactionView {
    pub id: i64,
    pub station_id: String,
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub station_tx_id: Option<String>,
    pub id_token: Option<String>,
    pub start_auth_status: Option<String>,
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
    id_token_type, charging_state, last_trigger_reason, time_spent_charging, remote_start_id";

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
        let view = |r: &AnyRow| -> Result<MeterValueView, sqlx::Error> {
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
        };
        let items = rows.iter().map(view).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |m: &MeterValueView| (m.timestamp.clone(), m.id)))
    }
}
