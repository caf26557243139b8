//! Alert rules and the alerts they raise and resolve, each as a domain event.

use super::Events;
use crate::db::{query, query_scalar, Conn, Row};
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::events::EventKind;
use csms_core::ops::{AlertChanges, CreateAlertRule, DeleteAlertRule};

pub(super) async fn create_rule(conn: &mut Conn, op: &CreateAlertRule) -> Result<i64, StoreError> {
    let c = &op.condition;
    query_scalar(
        "INSERT INTO alert_rules (name, kind, category, minutes, count, station_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&op.name)
    .bind(c.kind())
    .bind(c.category().map(|c| c.as_str()))
    .bind(c.minutes())
    .bind(c.count())
    .bind(op.station_id.as_deref())
    .bind(format_timestamp(&op.now))
    .fetch_one(conn)
    .await
}

/// Removes a rule; its open alerts are resolved first.
pub(super) async fn delete_rule(conn: &mut Conn, ev: &mut Events, op: &DeleteAlertRule) -> Result<bool, StoreError> {
    let open: Vec<i64> = query("SELECT id FROM alerts WHERE rule_id = $1 AND resolved_at IS NULL")
        .bind(op.id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    let now = format_timestamp(&op.now);
    for id in open {
        resolve(conn, ev, id, &now).await?;
    }
    Ok(query("DELETE FROM alert_rules WHERE id = $1").bind(op.id).execute(conn).await?.rows_affected() > 0)
}

pub(super) async fn changes(conn: &mut Conn, ev: &mut Events, op: &AlertChanges) -> Result<(), StoreError> {
    let now = format_timestamp(&op.now);
    for id in &op.resolve {
        resolve(conn, ev, *id, &now).await?;
    }
    for h in &op.raise {
        // Raised once per rule and subject while open (a check racing a deletion raises none).
        let rule = query("SELECT name, kind FROM alert_rules WHERE id = $1")
            .bind(h.rule_id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(rule) = rule else { continue };
        let open: Option<i64> =
            query_scalar("SELECT id FROM alerts WHERE rule_id = $1 AND subject = $2 AND resolved_at IS NULL LIMIT 1")
                .bind(h.rule_id)
                .bind(&h.subject)
                .fetch_optional(&mut *conn)
                .await?;
        if open.is_some() {
            continue;
        }
        let id: i64 = query_scalar(
            "INSERT INTO alerts (rule_id, subject, station_id, since, detail, raised_at) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id",
        )
        .bind(h.rule_id)
        .bind(&h.subject)
        .bind(&h.station_id)
        .bind(&h.since)
        .bind(&h.detail)
        .bind(&now)
        .fetch_one(&mut *conn)
        .await?;
        ev.push(
            EventKind::AlertRaised,
            &h.station_id,
            serde_json::json!({"alert_id": id, "rule_id": h.rule_id, "rule": rule.try_get::<String, _>("name")?,
                "condition": rule.try_get::<String, _>("kind")?, "subject": h.subject, "since": h.since, "detail": h.detail}),
        );
    }
    Ok(())
}

async fn resolve(conn: &mut Conn, ev: &mut Events, id: i64, now: &str) -> Result<(), StoreError> {
    let rows: Vec<Row> = query(
        "UPDATE alerts SET resolved_at = $1 WHERE id = $2 AND resolved_at IS NULL \
         RETURNING id, rule_id, subject, station_id, since, detail",
    )
    .bind(now)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let station: String = row.try_get("station_id")?;
        ev.push(
            EventKind::AlertResolved,
            &station,
            serde_json::json!({"alert_id": row.try_get::<i64, _>("id")?, "rule_id": row.try_get::<i64, _>("rule_id")?,
                "subject": row.try_get::<String, _>("subject")?, "since": row.try_get::<String, _>("since")?,
                "resolved_at": now}),
        );
    }
    Ok(())
}
