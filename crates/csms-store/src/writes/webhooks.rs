//! Webhook subscriptions and their delivery log.

use crate::db::{query, query_scalar, Conn};
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::ops::{CreateWebhook, DeleteWebhook, WebhookAttempt};

/// A new subscription starts after the newest event stored: it receives what happens from now.
pub(super) async fn create(conn: &mut Conn, op: &CreateWebhook) -> Result<i64, StoreError> {
    query_scalar(
        "INSERT INTO webhooks (url, secret, kinds, categories, min_severity, station_id, last_event_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(MAX(id), 0) FROM events), $7) RETURNING id",
    )
    .bind(&op.url)
    .bind(&op.secret)
    .bind(&op.kinds)
    .bind(&op.categories)
    .bind(op.min_severity.as_deref())
    .bind(op.station_id.as_deref())
    .bind(format_timestamp(&op.now))
    .fetch_one(conn)
    .await
}

/// Removes the subscription and its delivery log.
pub(super) async fn delete(conn: &mut Conn, op: &DeleteWebhook) -> Result<bool, StoreError> {
    query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(op.id).execute(&mut *conn).await?;
    Ok(query("DELETE FROM webhooks WHERE id = $1").bind(op.id).execute(conn).await?.rows_affected() > 0)
}

pub(super) async fn attempt(conn: &mut Conn, op: &WebhookAttempt) -> Result<(), StoreError> {
    query(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, attempt, outcome, status_code, error, duration_ms, at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1)",
    )
    .bind(op.webhook_id)
    .bind(op.event_id)
    .bind(op.attempt)
    .bind(op.outcome)
    .bind(op.status_code)
    .bind(op.error.as_deref())
    .bind(op.duration_ms)
    .bind(format_timestamp(&op.at))
    .execute(&mut *conn)
    .await?;
    if op.outcome != "failed" {
        query("UPDATE webhooks SET last_event_id = $1 WHERE id = $2 AND last_event_id < $1")
            .bind(op.event_id)
            .bind(op.webhook_id)
            .execute(conn)
            .await?;
    }
    Ok(())
}
