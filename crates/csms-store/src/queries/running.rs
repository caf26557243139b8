//! The cost of a transaction still running, as a station is told it (2.0.1 CostUpdated, the 1.6
//! California Pricing RunningCost): its readings so far priced by the tariff that will price its
//! record, with now as its end. Read from the pool, never through the writer.

use crate::billing::{
    assemble, checked_transaction, choose, exact, listed, raw_reading, reading_codes, sample_interval, zone_of,
    MeterData, SAMPLE_INTERVAL, TARIFFS_IN_FORCE, TX_READINGS_POSTGRES, TX_READINGS_SQLITE,
};
use crate::{Backend, Store, StoreError};
use csms_core::clock::parse_timestamp;
use csms_core::integrity::{self, Anomaly};
use csms_core::tariffs::pricing::{price, Usage};
use csms_core::tariffs::Decimal;
use csms_core::Timestamp;
use sqlx::Row;

/// What a running transaction has cost so far.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningCost {
    pub transaction_id: i64,
    /// The id the station knows it by.
    pub station_tx_id: Option<String>,
    /// Including tax, rounded to the currency.
    pub total_incl_vat: Decimal,
    pub currency: String,
    pub energy_wh: Decimal,
    /// Whether it is charging now (else idle, connected).
    pub charging: bool,
}

impl Store {
    /// The running cost of transaction `id` at `now`; `None` when it has ended, never started,
    /// or no tariff applies to it.
    pub async fn running_cost(
        &self,
        id: i64,
        now: Timestamp,
        time_zone: chrono_tz::Tz,
    ) -> Result<Option<RunningCost>, StoreError> {
        let Some(row) = sqlx::query(concat!(
            "SELECT station_id, station_tx_id, id_token, started_at, stopped_at, meter_start_wh, ",
            crate::billing::station_time_zone!(),
            " FROM transactions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let (started, stopped): (Option<String>, Option<String>) =
            (row.try_get("started_at")?, row.try_get("stopped_at")?);
        let (Some(started), None) = (started, stopped) else { return Ok(None) };
        let Some(started_at) = parse_timestamp(&started) else {
            return Err(StoreError::Corrupt(format!("start {started:?} of transaction {id} is no time")));
        };
        let station: String = row.try_get("station_id")?;
        let token: Option<String> = row.try_get("id_token")?;
        let group: Option<String> = match &token {
            Some(t) => {
                sqlx::query_scalar::<_, Option<String>>("SELECT parent_id_token FROM id_tokens WHERE id_token = $1")
                    .bind(t.as_str())
                    .fetch_optional(self.pool())
                    .await?
                    .flatten()
            }
            None => None,
        };
        let mut book = Vec::new();
        for t in sqlx::query(TARIFFS_IN_FORCE).fetch_all(self.pool()).await? {
            book.push(listed(t.try_get("id")?, t.try_get("version")?, t.try_get("body")?, t.try_get("updated_at")?)?);
        }
        let Some(chosen) = choose(&book, &station, group.as_deref(), started_at) else { return Ok(None) };
        let meter = self.meter_data(id).await?;
        let meter_start = row.try_get::<Option<f64>, _>("meter_start_wh")?.map(exact);
        let first = meter.points.iter().find_map(|p| p.register_wh);
        let last = meter.points.iter().rev().find_map(|p| p.register_wh);
        let energy_wh = match (meter_start.or(first), last) {
            (Some(from), Some(to)) => (to - from).max(Decimal::ZERO),
            _ => Decimal::ZERO,
        };
        let usage = Usage {
            started_at,
            stopped_at: now.max(started_at),
            meter_start_wh: meter_start,
            energy_wh,
            points: &meter.points,
        };
        let bill = price(&chosen.tariff, &usage, zone_of(row.try_get("station_time_zone")?, time_zone));
        let charging = bill.periods.last().is_some_and(|p| p.charging_ms > 0 && p.parking_ms == 0);
        Ok(Some(RunningCost {
            transaction_id: id,
            station_tx_id: row.try_get("station_tx_id")?,
            total_incl_vat: bill.total_incl_vat(),
            currency: chosen.tariff.currency.clone(),
            energy_wh: bill.energy_wh,
            charging,
        }))
    }

    /// What transaction `id`'s readings show that billing must not take on trust
    /// (`csms_core::integrity`), as far as it has run: a running transaction is judged up to
    /// its last reading. Its record, once it ends, carries the same checks.
    pub async fn transaction_anomalies(&self, id: i64) -> Result<Vec<Anomaly>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT station_id, started_at, stopped_at, meter_start_wh, meter_stop_wh, ocpp_version FROM transactions \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(Vec::new());
        };
        let time = |column: &str| -> Result<Option<Timestamp>, StoreError> {
            let text: Option<String> = row.try_get(column)?;
            Ok(text.as_deref().and_then(parse_timestamp))
        };
        let checked = checked_transaction(
            row.try_get::<Option<String>, _>("ocpp_version")?.as_deref(),
            (time("started_at")?, time("stopped_at")?),
            (row.try_get("meter_start_wh")?, row.try_get("meter_stop_wh")?),
        );
        let station: String = row.try_get("station_id")?;
        let interval: Option<Option<String>> =
            sqlx::query_scalar(SAMPLE_INTERVAL).bind(station.as_str()).fetch_optional(self.pool()).await?;
        let inputs = integrity::Inputs { sample_interval_s: sample_interval(interval), max_power_w: None };
        let meter = self.meter_data(id).await?;
        Ok(integrity::anomalies(&checked, &meter.integrity, &inputs))
    }

    /// Transaction `id`'s readings that matter to its bill, read from the pool.
    async fn meter_data(&self, id: i64) -> Result<MeterData, StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => TX_READINGS_SQLITE,
            Backend::Postgres => TX_READINGS_POSTGRES,
        };
        let [energy, power, current, signed] = reading_codes();
        let rows = sqlx::query(sql)
            .bind(id)
            .bind(energy)
            .bind(power)
            .bind(current)
            .bind(signed)
            .fetch_all(self.pool())
            .await?;
        let mut raw = Vec::with_capacity(rows.len());
        for r in rows {
            raw.push(raw_reading!(r));
        }
        assemble(raw)
    }
}
