//! Reads of alert rules and alerts, and what each rule's condition finds holding now
//! (`csms_core::alerts`).

use super::paging::{BindPage, Page, PageRequest};
use crate::{Store, StoreError};
use csms_core::alerts::{Condition, Holding};
use csms_core::clock::format_timestamp;
use csms_core::fault_kinds::FaultCode;
use csms_core::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRuleView {
    pub id: i64,
    pub name: String,
    pub condition: Condition,
    pub station_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertView {
    pub id: i64,
    pub rule_id: i64,
    pub subject: String,
    pub station_id: String,
    pub since: String,
    pub detail: String,
    pub raised_at: String,
    pub resolved_at: Option<String>,
}

fn rule_from_row(r: &AnyRow) -> Result<AlertRuleView, StoreError> {
    let kind: String = r.try_get("kind")?;
    let category: Option<String> = r.try_get("category")?;
    let condition = Condition::from_parts(&kind, category.as_deref(), r.try_get("minutes")?, r.try_get("count")?)
        .map_err(StoreError::Corrupt)?;
    Ok(AlertRuleView {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        condition,
        station_id: r.try_get("station_id")?,
        created_at: r.try_get("created_at")?,
    })
}

fn alert_from_row(r: &AnyRow) -> Result<AlertView, StoreError> {
    Ok(AlertView {
        id: r.try_get("id")?,
        rule_id: r.try_get("rule_id")?,
        subject: r.try_get("subject")?,
        station_id: r.try_get("station_id")?,
        since: r.try_get("since")?,
        detail: r.try_get("detail")?,
        raised_at: r.try_get("raised_at")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

const RULE_COLUMNS: &str = "id, name, kind, category, minutes, count, station_id, created_at";

impl Store {
    /// Every rule, oldest first (there are few).
    pub async fn alert_rules(&self) -> Result<Vec<AlertRuleView>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY id")).fetch_all(self.pool()).await?;
        rows.iter().map(rule_from_row).collect()
    }

    pub async fn alert_rule(&self, id: i64) -> Result<Option<AlertRuleView>, StoreError> {
        let row = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(rule_from_row).transpose()
    }

    /// Alerts, newest first; `open`: only unresolved (true) or resolved (false) ones.
    pub async fn alerts(
        &self,
        open: Option<bool>,
        page: &PageRequest<i64>,
    ) -> Result<Page<AlertView, i64>, StoreError> {
        let open = match open {
            Some(true) => " AND resolved_at IS NULL",
            Some(false) => " AND resolved_at IS NOT NULL",
            None => "",
        };
        let rows = sqlx::query(&format!(
            "SELECT id, rule_id, subject, station_id, since, detail, raised_at, resolved_at FROM alerts \
             WHERE ($1 IS NULL OR id < $1) AND ($2 IS NULL OR raised_at >= $2) AND ($3 IS NULL OR raised_at < $3){open} \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(alert_from_row).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |a: &AlertView| a.id))
    }

    /// The open alerts: (id, rule, subject).
    pub async fn open_alerts(&self) -> Result<Vec<(i64, i64, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, rule_id, subject FROM alerts WHERE resolved_at IS NULL")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("rule_id")?, r.try_get("subject")?))).collect()
    }

    /// The subjects `rule` holds for at `now`.
    pub async fn holding(&self, rule: &AlertRuleView, now: Timestamp) -> Result<Vec<Holding>, StoreError> {
        let station = rule.station_id.as_deref();
        let minutes_ago = |m: i64| format_timestamp(&(now - chrono::Duration::minutes(m)));
        let holding = |subject: String, station_id: String, since: String, detail: String| Holding {
            rule_id: rule.id,
            subject,
            station_id,
            since,
            detail,
        };
        match rule.condition {
            Condition::FaultOpenLonger { category, minutes } => {
                let rows = sqlx::query(
                    "SELECT id, station_id, started_at, error_code, category FROM faults WHERE cleared_at IS NULL \
                     AND started_at < $1 AND ($2 IS NULL OR category = $2) AND ($3 IS NULL OR station_id = $3) \
                     ORDER BY id LIMIT 10000",
                )
                .bind(minutes_ago(minutes))
                .bind(category.map(|c| c.as_str()))
                .bind(station)
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|r| {
                        let id: i64 = r.try_get("id")?;
                        let code: String = r.try_get("error_code")?;
                        let category: Option<String> = r.try_get("category")?;
                        let detail = format!(
                            "fault {id} ({code}, {}) open longer than {minutes} min",
                            category.as_deref().unwrap_or("other")
                        );
                        Ok(holding(format!("fault:{id}"), r.try_get("station_id")?, r.try_get("started_at")?, detail))
                    })
                    .collect()
            }
            Condition::StationOfflineLonger { minutes } => {
                let rows = sqlx::query(
                    "SELECT station_id, MIN(started_at) AS since FROM faults WHERE cleared_at IS NULL AND error_code = $1 \
                     AND detected_by IS NOT NULL AND started_at < $2 AND ($3 IS NULL OR station_id = $3) \
                     GROUP BY station_id ORDER BY station_id LIMIT 10000",
                )
                .bind(FaultCode::CommunicationLost.as_str())
                .bind(minutes_ago(minutes))
                .bind(station)
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|r| {
                        let station: String = r.try_get("station_id")?;
                        let detail = format!("{station} offline longer than {minutes} min");
                        Ok(holding(format!("station:{station}"), station, r.try_get("since")?, detail))
                    })
                    .collect()
            }
            Condition::FaultsPerDay { count } => {
                let rows = sqlx::query(
                    "SELECT station_id, COUNT(*) AS n, MIN(started_at) AS since FROM faults WHERE started_at >= $1 \
                     AND ($2 IS NULL OR station_id = $2) GROUP BY station_id HAVING COUNT(*) > $3 \
                     ORDER BY station_id LIMIT 10000",
                )
                .bind(minutes_ago(24 * 60))
                .bind(station)
                .bind(count)
                .fetch_all(self.pool())
                .await?;
                rows.iter()
                    .map(|r| {
                        let station: String = r.try_get("station_id")?;
                        let n: i64 = r.try_get("n")?;
                        let detail = format!("{station}: {n} faults within 24 h (more than {count})");
                        Ok(holding(format!("station:{station}"), station, r.try_get("since")?, detail))
                    })
                    .collect()
            }
        }
    }
}
