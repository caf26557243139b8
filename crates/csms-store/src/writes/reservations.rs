//! Reservations: made, ended, and used up by the transaction that names them.

use super::key_number;
use crate::db::{query, query_scalar, Conn};
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::ops::Reservation;
use csms_core::reservations::{self, ReservationChange, ReservationEnd, ReservationEvent, ReservationStatus};
use csms_core::station::StationId;
use csms_core::Timestamp;

/// A reservation the station accepted (`reservations::change`: it replaces whatever was recorded
/// under its id).
pub(super) async fn made(conn: &mut Conn, r: &Reservation) -> Result<(), StoreError> {
    let recorded = recorded_status(conn, &r.station, r.reservation_id).await?;
    match reservations::change(recorded, ReservationEvent::Made) {
        ReservationChange::Replace => {
            query(
                "INSERT INTO reservations (station_id, reservation_id, evse_id, connector_id, id_token, group_id_token, \
                 expiry, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'Active', $8, $8) \
                 ON CONFLICT (station_id, reservation_id) DO UPDATE SET evse_id = excluded.evse_id, \
                 connector_id = excluded.connector_id, id_token = excluded.id_token, \
                 group_id_token = excluded.group_id_token, expiry = excluded.expiry, status = 'Active', \
                 transaction_id = NULL, updated_at = excluded.updated_at",
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
        change => record(conn, &r.station, r.reservation_id, change, None, &r.now).await,
    }
}

/// A reservation ended, if it was still active (`reservations::change`).
pub(super) async fn ended(
    conn: &mut Conn,
    station: &StationId,
    reservation_id: i64,
    end: ReservationEnd,
    now: &Timestamp,
) -> Result<(), StoreError> {
    let recorded = recorded_status(conn, station, reservation_id).await?;
    let change = reservations::change(recorded, ReservationEvent::Ended(end));
    record(conn, station, reservation_id, change, None, now).await
}

/// A transaction that names a reservation uses it up if it is still active (OCPP 1.6 §5.13,
/// 2.0.1 H01.FR.23; `reservations::change`).
pub(super) async fn consume_reservation(
    conn: &mut Conn,
    station: &StationId,
    reservation_id: i64,
    transaction_id: i64,
    now: &Timestamp,
) -> Result<(), StoreError> {
    let recorded = recorded_status(conn, station, reservation_id).await?;
    let change = reservations::change(recorded, ReservationEvent::UsedByTransaction);
    record(conn, station, reservation_id, change, Some(transaction_id), now).await
}

/// The status of the reservation recorded under `reservation_id`, if any.
async fn recorded_status(
    conn: &mut Conn,
    station: &StationId,
    reservation_id: i64,
) -> Result<Option<ReservationStatus>, StoreError> {
    let status: Option<String> =
        query_scalar("SELECT status FROM reservations WHERE station_id = $1 AND reservation_id = $2")
            .bind(station.as_str())
            .bind(reservation_id)
            .fetch_optional(conn)
            .await?;
    status
        .map(|s| ReservationStatus::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("reservation status {s:?}"))))
        .transpose()
}

/// Records a change of a recorded reservation's status; a used one records `transaction_id`.
/// `Replace` needs a reservation's facts, which only `made` has: elsewhere it changes nothing.
async fn record(
    conn: &mut Conn,
    station: &StationId,
    reservation_id: i64,
    change: ReservationChange,
    transaction_id: Option<i64>,
    now: &Timestamp,
) -> Result<(), StoreError> {
    let ReservationChange::Becomes(status) = change else {
        return Ok(());
    };
    let transaction_id = transaction_id.filter(|_| status == ReservationStatus::Used);
    query(
        "UPDATE reservations SET status = $1, transaction_id = COALESCE($2, transaction_id), updated_at = $3 \
         WHERE station_id = $4 AND reservation_id = $5",
    )
    .bind(status.as_str())
    .bind(transaction_id)
    .bind(format_timestamp(now))
    .bind(station.as_str())
    .bind(reservation_id)
    .execute(conn)
    .await?;
    Ok(())
}
