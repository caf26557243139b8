//! Reads of webhook subscriptions (for the API, without their secrets, and for the deliverer,
//! with them) and of their delivery log.

use super::paging::{BindPage, Page, PageRequest};
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A subscription as stored. `secret` is the deliverer's alone: the API never shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub kinds: String,
    pub categories: String,
    pub min_severity: Option<String>,
    pub station_id: Option<String>,
    /// The last event it has moved past (delivered, or given up).
    pub last_event_id: i64,
    pub created_at: String,
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDeliveryView {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: i64,
    pub attempt: i64,
    pub outcome: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: String,
}

const WEBHOOK_COLUMNS: &str = "id, url, secret, kinds, categories, min_severity, station_id, last_event_id, created_at";

fn webhook_from_row(r: &AnyRow) -> Result<WebhookView, StoreError> {
    Ok(WebhookView {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        secret: r.try_get("secret")?,
        kinds: r.try_get("kinds")?,
        categories: r.try_get("categories")?,
        min_severity: r.try_get("min_severity")?,
        station_id: r.try_get("station_id")?,
        last_event_id: r.try_get("last_event_id")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Subscriptions by id.
    pub async fn webhooks(&self, page: &PageRequest<i64>) -> Result<Page<WebhookView, i64>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE ($1 IS NULL OR id > $1) \
             AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at < $3) ORDER BY id LIMIT $4"
        ))
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(webhook_from_row).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |w: &WebhookView| w.id))
    }

    /// Every subscription, for the deliverer.
    pub async fn all_webhooks(&self) -> Result<Vec<WebhookView>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id")).fetch_all(self.pool()).await?;
        rows.iter().map(webhook_from_row).collect()
    }

    pub async fn webhook(&self, id: i64) -> Result<Option<WebhookView>, StoreError> {
        let row = sqlx::query(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    /// A subscription's delivery attempts, newest first.
    pub async fn webhook_deliveries(
        &self,
        webhook_id: i64,
        page: &PageRequest<i64>,
    ) -> Result<Page<WebhookDeliveryView, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, webhook_id, event_id, attempt, outcome, status_code, error, duration_ms, at \
             FROM webhook_deliveries WHERE webhook_id = $1 AND ($2 IS NULL OR id < $2) \
             AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4) ORDER BY id DESC LIMIT $5",
        )
        .bind(webhook_id)
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(WebhookDeliveryView {
                    id: r.try_get("id")?,
                    webhook_id: r.try_get("webhook_id")?,
                    event_id: r.try_get("event_id")?,
                    attempt: r.try_get("attempt")?,
                    outcome: r.try_get("outcome")?,
                    status_code: r.try_get("status_code")?,
                    error: r.try_get("error")?,
                    duration_ms: r.try_get("duration_ms")?,
                    at: r.try_get("at")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Page::of(items, page.len(), |d: &WebhookDeliveryView| d.id))
    }
}
