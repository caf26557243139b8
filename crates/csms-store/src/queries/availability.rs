//! Reads for the availability figures (`csms_core::availability_report`): each station's
//! registration and decommissioning, the statuses its places reported (the `connector.status`
//! events kept, `event_retention_days`, and each connector's current status), and the faults
//! that touch the period. The work is bounded by the period (at most 366 days of faults) and by
//! the events kept; statuses are read a station and a block at a time.

use crate::{Store, StoreError};
use csms_core::availability_report::{
    status_is_down, FaultRecord, Millis, Period, Place, StationHistory, StatusChange,
};
use csms_core::clock::{format_timestamp, parse_timestamp};
use csms_core::fault_kinds::{FaultCategory, FaultCode};
use csms_core::faults::Severity;
use sqlx::Row;
use std::collections::HashMap;

/// Status events read at once.
const STATUS_BLOCK: i64 = 10_000;

/// An instant as stored, kept within the four-digit years whose text order is time order (an
/// absurd bound asked of the API still compares right with every stored time).
fn stored_text(ms: Millis) -> String {
    const FIRST: Millis = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
    const LAST: Millis = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let at = chrono::DateTime::from_timestamp_millis(ms.clamp(FIRST, LAST)).unwrap_or_default();
    format_timestamp(&at)
}

/// A stored instant in ms; a text that is none (there should be none) as `otherwise`.
fn millis(text: &str, otherwise: Millis) -> Millis {
    parse_timestamp(text).map_or(otherwise, |t| t.timestamp_millis())
}

fn severity(text: &str) -> Severity {
    match text {
        "Error" => Severity::Error,
        "Warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

/// The place, status and time a `connector.status` event's JSON tells.
fn status_of(body: &str) -> Option<(Place, String, Millis)> {
    let event: serde_json::Value = serde_json::from_str(body).ok()?;
    let data = &event["data"];
    let place = Place::new(data["evse_id"].as_i64()?, data["connector_id"].as_i64()?);
    let at = parse_timestamp(data["at"].as_str()?)?.timestamp_millis();
    Some((place, data["status"].as_str()?.to_string(), at))
}

/// A station's statuses as they are gathered: only changes between usable and not matter
/// beyond the first of each place, so a repeat of the same state is not kept.
#[derive(Default)]
struct Statuses {
    changes: Vec<StatusChange>,
    last: HashMap<Place, bool>,
}

impl Statuses {
    fn push(&mut self, place: Place, status: &str, at: Millis) {
        let down = status_is_down(status);
        if self.last.insert(place, down) != Some(down) {
            self.changes.push(StatusChange { place, at, down });
        }
    }
}

impl Store {
    /// What the availability figures of `period` are made from, for every station (or one)
    /// registered before its end and not decommissioned before its start, by station id.
    pub async fn availability_history(
        &self,
        station_id: Option<&str>,
        period: Period,
    ) -> Result<Vec<StationHistory>, StoreError> {
        let (from, to) = (stored_text(period.from), stored_text(period.to));
        let stations = sqlx::query(
            "SELECT id, created_at, decommissioned_at FROM stations WHERE ($1 IS NULL OR id = $1) AND created_at < $2 \
             AND (decommissioned_at IS NULL OR decommissioned_at > $3) ORDER BY id",
        )
        .bind(station_id)
        .bind(&to)
        .bind(&from)
        .fetch_all(self.pool())
        .await?;
        let mut current: HashMap<String, Vec<(Place, String, Millis)>> = HashMap::new();
        let rows = sqlx::query(
            "SELECT station_id, evse_id, connector_id, status, status_at FROM connectors WHERE ($1 IS NULL OR station_id = $1)",
        )
        .bind(station_id)
        .fetch_all(self.pool())
        .await?;
        for r in rows {
            let place = Place::new(r.try_get("evse_id")?, r.try_get("connector_id")?);
            let at: String = r.try_get("status_at")?;
            let Some(at) = parse_timestamp(&at) else { continue };
            current.entry(r.try_get("station_id")?).or_default().push((
                place,
                r.try_get("status")?,
                at.timestamp_millis(),
            ));
        }
        let faults = self.faults_in(station_id, &from, &to).await?;
        let mut histories = Vec::with_capacity(stations.len());
        for r in stations {
            let id: String = r.try_get("id")?;
            let created: String = r.try_get("created_at")?;
            let decommissioned: Option<String> = r.try_get("decommissioned_at")?;
            let mut statuses = self.statuses_of(&id).await?;
            for (place, status, at) in current.remove(&id).unwrap_or_default() {
                statuses.push(place, &status, at);
            }
            histories.push(StationHistory {
                created_at: millis(&created, Millis::MIN),
                decommissioned_at: decommissioned.map(|d| millis(&d, Millis::MAX)),
                statuses: statuses.changes,
                faults: faults.get(&id).cloned().unwrap_or_default(),
                station_id: id,
            });
        }
        Ok(histories)
    }

    /// The `connector.status` events kept of a station, in the order they were recorded (a
    /// place's statuses in time order: a report older than the current status makes none).
    async fn statuses_of(&self, station_id: &str) -> Result<Statuses, StoreError> {
        let mut statuses = Statuses::default();
        let mut after = 0_i64;
        // Those indexed (`event_index_statuses`, up to the mark), then those after the mark from the
        // table itself, a short scan by the key.
        let mark = self.event_index_mark().await?;
        let mut indexed = true;
        loop {
            let rows = if indexed {
                sqlx::query(
                    "SELECT e.id, e.body FROM event_index_statuses x JOIN events e ON e.id = x.id \
                     WHERE x.station_id = $1 AND x.id > $2 AND x.id <= $3 ORDER BY x.id LIMIT $4",
                )
                .bind(station_id)
                .bind(after)
                .bind(mark)
                .bind(STATUS_BLOCK)
                .fetch_all(self.pool())
                .await?
            } else {
                sqlx::query(
                    "SELECT id, body FROM events WHERE id > $1 AND station_id = $2 AND kind = 'connector.status' \
                     ORDER BY id LIMIT $3",
                )
                .bind(after.max(mark))
                .bind(station_id)
                .bind(STATUS_BLOCK)
                .fetch_all(self.pool())
                .await?
            };
            for r in &rows {
                after = r.try_get("id")?;
                let body: String = r.try_get("body")?;
                match status_of(&body) {
                    Some((place, status, at)) => statuses.push(place, &status, at),
                    None => {
                        tracing::warn!(station = station_id, event = after, "a connector.status event without its data")
                    }
                }
            }
            if (rows.len() as i64) < STATUS_BLOCK {
                if !indexed {
                    return Ok(statuses);
                }
                indexed = false;
            }
        }
    }

    /// The faults that began before `to` and were open at or after `from`, by station.
    async fn faults_in(
        &self,
        station_id: Option<&str>,
        from: &str,
        to: &str,
    ) -> Result<HashMap<String, Vec<FaultRecord>>, StoreError> {
        let rows = sqlx::query(
            "SELECT station_id, evse_id, connector_id, error_code, severity, category, detected_by, started_at, cleared_at \
             FROM faults WHERE ($1 IS NULL OR station_id = $1) AND started_at < $2 AND (cleared_at IS NULL OR cleared_at >= $3)",
        )
        .bind(station_id)
        .bind(to)
        .bind(from)
        .fetch_all(self.pool())
        .await?;
        let mut faults: HashMap<String, Vec<FaultRecord>> = HashMap::new();
        for r in rows {
            let code: String = r.try_get("error_code")?;
            let detected_by: Option<String> = r.try_get("detected_by")?;
            let category: Option<String> = r.try_get("category")?;
            let started: String = r.try_get("started_at")?;
            let cleared: Option<String> = r.try_get("cleared_at")?;
            let evse: Option<i64> = r.try_get("evse_id")?;
            let severity_text: String = r.try_get("severity")?;
            faults.entry(r.try_get("station_id")?).or_default().push(FaultRecord {
                // Rows from before 2.0.1 have no EVSE: 1.6's, EVSE 0.
                place: Place::new(evse.unwrap_or(0), r.try_get("connector_id")?),
                // Every fault is classified as the store opens; a row without is "other".
                category: category.as_deref().and_then(FaultCategory::parse).unwrap_or(FaultCategory::Other),
                severity: severity(&severity_text),
                offline: detected_by.is_some() && code == FaultCode::CommunicationLost.as_str(),
                started_at: millis(&started, Millis::MIN),
                cleared_at: cleared.map(|c| millis(&c, Millis::MAX)),
            });
        }
        Ok(faults)
    }
}
