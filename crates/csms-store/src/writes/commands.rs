//! The log of Ström's calls to stations: a command when sent and when answered.

use super::Events;
use crate::db::{query, query_scalar, Conn};
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::events::EventKind;
use csms_core::ops::*;

pub(super) async fn command_started(conn: &mut Conn, ev: &mut Events, op: &CommandStarted) -> Result<i64, StoreError> {
    let CommandStarted { station, action, request, at } = op;
    let id: i64 = query_scalar(
        "INSERT INTO commands (station_id, action, request, status, requested_at) VALUES ($1, $2, $3, 'Pending', $4) RETURNING id",
    )
    .bind(station.as_str())
    .bind(action)
    .bind(request)
    .bind(format_timestamp(at))
    .fetch_one(conn)
    .await?;
    ev.push(EventKind::CommandSent, station.as_str(), serde_json::json!({"command_id": id, "action": action}));
    Ok(id)
}

pub(super) async fn command_finished(conn: &mut Conn, ev: &mut Events, op: &CommandFinished) -> Result<(), StoreError> {
    let CommandFinished { command_id, status, response, error_code, error_description, at } = op;
    let rows = query(
        "UPDATE commands SET status = $1, response = $2, error_code = $3, error_description = $4, finished_at = $5 WHERE id = $6 \
         RETURNING station_id, action",
    )
    .bind(status.as_str())
    .bind(response.as_deref())
    .bind(error_code.as_deref())
    .bind(error_description.as_deref())
    .bind(format_timestamp(at))
    .bind(*command_id)
    .fetch_all(conn)
    .await?;
    for row in rows {
        let station: String = row.try_get("station_id")?;
        let action: String = row.try_get("action")?;
        // The station's own answer's status (`Accepted`, `Rejected`, …) where it gave one.
        let answer = response
            .as_deref()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .and_then(|r| r.get("status").and_then(|s| s.as_str()).map(str::to_string));
        ev.push(
            EventKind::CommandAnswered,
            &station,
            serde_json::json!({"command_id": command_id, "action": action, "status": status.as_str(),
                "answer": answer, "error_code": error_code}),
        );
    }
    Ok(())
}
