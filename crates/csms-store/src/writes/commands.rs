//! The log of Ström's calls to stations: a command when sent and when answered.

use crate::db::{query, query_scalar, Conn};
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::ops::*;

pub(super) async fn command_started(conn: &mut Conn, op: &CommandStarted) -> Result<i64, StoreError> {
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
    Ok(id)
}

pub(super) async fn command_finished(conn: &mut Conn, op: &CommandFinished) -> Result<(), StoreError> {
    let CommandFinished { command_id, status, response, error_code, error_description, at } = op;
    query(
        "UPDATE commands SET status = $1, response = $2, error_code = $3, error_description = $4, finished_at = $5 WHERE id = $6",
    )
    .bind(status.as_str())
    .bind(response.as_deref())
    .bind(error_code.as_deref())
    .bind(error_description.as_deref())
    .bind(format_timestamp(at))
    .bind(*command_id)
    .execute(conn)
    .await?;
    Ok(())
}
