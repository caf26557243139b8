//! Reservations: made, ended, and used up by the transaction that names them.

use super::key_number;
use crate::db::{query, Conn};
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::ops::Reservation;
use csms_core::station::StationId;
use csms_core::Timestamp;

/// A reservation the station accepted. The same reservation id replaces the reservation (OCPP
/// 1.6 §5.13, 2.0.1 H01.FR.02).
pub(super) async fn made(conn: &mut Conn, r: &Reservation) -> Result<(), StoreError> {
    query(
        "INSERT INTO reservations (station_id, reservation_id, evse_id, connector_id, id_token, group_id_token, expiry, \
         status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'Active', $8, $8) \
         ON CONFLICT (station_id, reservation_id) DO UPDATE SET evse_id = excluded.evse_id, \
         connector_id = excluded.connector_id, id_token = excluded.id_token, group_id_token = excluded.group_id_token, \
         expiry = excluded.expiry, status = 'Active', transaction_id = NULL, updated_at = excluded.updated_at",
    )
    .bind(r.station.as_str())
    .bind(r.reservation_id)
    .bind(key_number(r.evse_id))
    .bind(key_number(r.connector_id))
    .bind(&r.id_token)
    .bind(r.group_id_token.as_deref())
    .bind(format_timestamp(&r.expiry))
    .bind(format_timestamp(&r.now))
    .execute(conn)
    .await?;
    Ok(())
}

/// A reservation ended (`status`: Cancelled, Expired or Removed), if it was still active.
pub(super) async fn ended(
    conn: &mut Conn,
    station: &StationId,
    reservation_id: i64,
    status: &'static str,
    now: &Timestamp,
) -> Result<(), StoreError> {
    query(
        "UPDATE reservations SET status = $1, updated_at = $2 WHERE station_id = $3 AND reservation_id = $4 AND status = 'Active'",
    )
    .bind(status)
    .bind(format_timestamp(now))
    .bind(station.as_str())
    .bind(reservation_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A transaction that names a reservation uses it up (OCPP 1.6 §5.13, 2.0.1 H01.FR.23).
pub(super) async fn consume_reservation(
    conn: &mut Conn,
    station: &StationId,
    reservation_id: i64,
    transaction_id: i64,
    now: &Timestamp,
) -> Result<(), StoreError> {
    query(
        "UPDATE reservations SET status = 'Used', transaction_id = $1, updated_at = $2 WHERE station_id = $3 \
         AND reservation_id = $4 AND status = 'Active'",
    )
    .bind(transaction_id)
    .bind(format_timestamp(now))
    .bind(station.as_str())
    .bind(reservation_id)
    .execute(conn)
    .await?;
    Ok(())
}
