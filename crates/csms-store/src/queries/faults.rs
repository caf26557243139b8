//! Reads of faults (opened and cleared from what stations report) and of the other notifications
//! stations send about themselves.

use super::paging::{BindPage, Page, PageRequest};
use crate::{Store, StoreError};
use csms_core::fault_kinds::{self, FaultCategory, Kind, Reported};
use sqlx::any::AnyRow;
use sqlx::{Acquire, AnyConnection, Row};

#[derive(Debug, Clone, PartialEq)]
pub struct FaultView {
    pub id: i64,
    pub station_id: String,
    pub evse_id: Option<i64>,
    pub connector_id: i64,
    /// 2.0.1 faults come from device-model events: the component and variable that reported.
    pub component: Option<String>,
    pub variable: Option<String>,
    pub tech_code: Option<String>,
    pub tech_info: Option<String>,
    pub event_id: Option<i64>,
    pub error_code: String,
    pub severity: String,
    pub status: String,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    pub info: Option<String>,
    pub started_at: String,
    pub cleared_at: Option<String>,
    /// The protocol version of the station ("1.6", "2.0.1"), which says how to read the raw
    /// fields.
    pub station_version: Option<String>,
    /// `strom` for a fault Ström detected itself (a power loss, a lost connection); none for one
    /// the station reported.
    pub detected_by: Option<String>,
}

impl FaultView {
    /// The fault in the one vocabulary of both versions, from its raw fields.
    pub fn kind(&self) -> Kind {
        fault_kinds::classify(&Reported {
            evse_id: self.evse_id,
            connector_id: self.connector_id,
            component: self.component.as_deref(),
            variable: self.variable.as_deref(),
            error_code: &self.error_code,
            tech_code: self.tech_code.as_deref(),
            tech_info: self.tech_info.as_deref(),
            vendor_error_code: self.vendor_error_code.as_deref(),
            info: self.info.as_deref(),
        })
    }
}

/// Which faults a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultFilter<'a> {
    pub station_id: Option<&'a str>,
    /// Whether they are still open (not cleared).
    pub open: Option<bool>,
    pub category: Option<FaultCategory>,
}

/// A notification a station sent about itself (firmware, diagnostics and log progress, security
/// events, data transfers, certificate requests).
#[derive(Debug, Clone, PartialEq)]
pub struct StationEventView {
    pub id: i64,
    pub kind: String,
    pub status: Option<String>,
    pub request_id: Option<i64>,
    /// The EVSE the event is about, when it names one.
    pub evse_id: Option<i64>,
    pub detail: Option<String>,
    pub at: String,
}

fn fault_from_row(r: &AnyRow) -> Result<FaultView, sqlx::Error> {
    Ok(FaultView {
        id: r.try_get("id")?,
        station_id: r.try_get("station_id")?,
        evse_id: r.try_get("evse_id")?,
        connector_id: r.try_get("connector_id")?,
        component: r.try_get("component")?,
        variable: r.try_get("variable")?,
        tech_code: r.try_get("tech_code")?,
        tech_info: r.try_get("tech_info")?,
        event_id: r.try_get("event_id")?,
        error_code: r.try_get("error_code")?,
        severity: r.try_get("severity")?,
        status: r.try_get("status")?,
        vendor_id: r.try_get("vendor_id")?,
        vendor_error_code: r.try_get("vendor_error_code")?,
        info: r.try_get("info")?,
        started_at: r.try_get("started_at")?,
        cleared_at: r.try_get("cleared_at")?,
        station_version: r.try_get("station_version")?,
        detected_by: r.try_get("detected_by")?,
    })
}

impl Store {
    /// Faults, newest first (by id), as `filter` says; `from`/`to` on their start.
    pub async fn faults(
        &self,
        filter: &FaultFilter<'_>,
        page: &PageRequest<i64>,
    ) -> Result<Page<FaultView, i64>, StoreError> {
        let open = match filter.open {
            Some(true) => " AND f.cleared_at IS NULL",
            Some(false) => " AND f.cleared_at IS NOT NULL",
            None => "",
        };
        let sql = format!(
            "SELECT f.*, st.ocpp_version AS station_version FROM faults f LEFT JOIN stations st ON st.id = f.station_id \
             WHERE ($1 IS NULL OR f.station_id = $1) AND ($2 IS NULL OR f.category = $2){open} AND ($3 IS NULL OR f.id < $3) \
             AND ($4 IS NULL OR f.started_at >= $4) AND ($5 IS NULL OR f.started_at < $5) ORDER BY f.id DESC LIMIT $6"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.station_id)
            .bind(filter.category.map(FaultCategory::as_str))
            .bind_page(page)
            .fetch_all(self.pool())
            .await?;
        let items = rows.iter().map(fault_from_row).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |f: &FaultView| f.id))
    }

    /// One fault by its id.
    pub async fn fault(&self, id: i64) -> Result<Option<FaultView>, StoreError> {
        let row = sqlx::query(
            "SELECT f.*, st.ocpp_version AS station_version FROM faults f LEFT JOIN stations st ON st.id = f.station_id \
             WHERE f.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(fault_from_row).transpose()?)
    }

    /// Stations whose connection Ström recorded as lost and not yet back (an open
    /// `CommunicationLost` fault it detected), as Ström starts.
    pub async fn stations_offline(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT station_id FROM faults WHERE cleared_at IS NULL AND error_code = $1 AND detected_by IS NOT NULL",
        )
        .bind(fault_kinds::FaultCode::CommunicationLost.as_str())
        .fetch_all(self.pool())
        .await?)
    }

    /// Faults not yet cleared, for `/metrics`.
    pub async fn open_fault_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM faults WHERE cleared_at IS NULL")
            .fetch_one(self.pool())
            .await?)
    }

    /// A station's events, newest first (by id), optionally of one kind (the OCPP action name);
    /// `from`/`to` on their time.
    pub async fn station_events(
        &self,
        station_id: &str,
        kind: Option<&str>,
        page: &PageRequest<i64>,
    ) -> Result<Page<StationEventView, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, status, request_id, evse_id, detail, at FROM station_events WHERE station_id = $1 \
             AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR id < $3) AND ($4 IS NULL OR at >= $4) \
             AND ($5 IS NULL OR at < $5) ORDER BY id DESC LIMIT $6",
        )
        .bind(station_id)
        .bind(kind)
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let view = |r: &AnyRow| -> Result<StationEventView, sqlx::Error> {
            Ok(StationEventView {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                request_id: r.try_get("request_id")?,
                evse_id: r.try_get("evse_id")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
            })
        };
        let items = rows.iter().map(view).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |e: &StationEventView| e.id))
    }
}

/// Faults classified per batch when the mapping changed.
const CLASSIFY_BATCH: i64 = 1_000;

/// Gives every stored fault the category of this version's mapping, unless the faults were
/// classified with this very mapping already (`fault_mapping` holds its fingerprint). Runs as the
/// store opens, before the writer, which classifies new faults as it stores them; a batch at a
/// time, each its own transaction, so a crash midway leaves the fingerprint unchanged and the next
/// start finishes the job. Answers how many faults it classified.
pub(crate) async fn classify_faults(conn: &mut AnyConnection) -> Result<u64, StoreError> {
    let fingerprint = fault_kinds::mapping_fingerprint();
    let stored: Option<String> =
        sqlx::query_scalar("SELECT fingerprint FROM fault_mapping").fetch_optional(&mut *conn).await?;
    if stored.as_deref() == Some(fingerprint.as_str()) {
        return Ok(0);
    }
    let mut classified = 0;
    let mut after = 0_i64;
    loop {
        let mut tx = conn.begin().await?;
        let rows = sqlx::query(
            "SELECT f.*, st.ocpp_version AS station_version FROM faults f LEFT JOIN stations st ON st.id = f.station_id \
             WHERE f.id > $1 ORDER BY f.id LIMIT $2",
        )
        .bind(after)
        .bind(CLASSIFY_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("id")?;
        for row in &rows {
            let fault = fault_from_row(row)?;
            sqlx::query("UPDATE faults SET category = $1 WHERE id = $2")
                .bind(fault.kind().category.as_str())
                .bind(fault.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        classified += rows.len() as u64;
    }
    let mut tx = conn.begin().await?;
    sqlx::query("DELETE FROM fault_mapping").execute(&mut *tx).await?;
    sqlx::query("INSERT INTO fault_mapping (fingerprint) VALUES ($1)").bind(&fingerprint).execute(&mut *tx).await?;
    tx.commit().await?;
    if classified > 0 {
        tracing::info!(classified, "classified {classified} stored faults with this version's fault mapping");
    }
    Ok(classified)
}
