//! Tariffs (each save a new version, kept for the records priced by it) and the meter keys that
//! signed meter values are verified against.

use super::cdrs::Settling;
use crate::db::{query, Conn};
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::ops::{DeleteTariff, PutTariff, SetMeterKey, TariffSaved};

pub(super) async fn put(conn: &mut Conn, settling: &mut Settling, op: &PutTariff) -> Result<TariffSaved, StoreError> {
    let id = op.tariff.id.as_str();
    let current =
        query("SELECT version, deleted_at FROM tariffs WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
    let (version, live) = match &current {
        Some(row) => (row.try_get::<i64, _>("version")? + 1, row.try_get::<Option<String>, _>("deleted_at")?.is_none()),
        None => (1, false),
    };
    if op.create_only && live {
        return Ok(TariffSaved { version: None, created: false });
    }
    let now = format_timestamp(&op.now);
    let sql = if current.is_some() {
        "UPDATE tariffs SET version = $2, body = $3, updated_at = $4, deleted_at = NULL WHERE id = $1"
    } else {
        "INSERT INTO tariffs (id, version, body, updated_at) VALUES ($1, $2, $3, $4)"
    };
    query(sql).bind(id).bind(version).bind(op.body.as_str()).bind(now.as_str()).execute(&mut *conn).await?;
    query("INSERT INTO tariff_versions (id, version, body, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(version)
        .bind(op.body.as_str())
        .bind(now.as_str())
        .execute(conn)
        .await?;
    settling.tariffs_changed();
    Ok(TariffSaved { version: Some(version), created: !live })
}

/// A station's meter key, set or removed.
pub(super) async fn set_meter_key(conn: &mut Conn, op: &SetMeterKey) -> Result<bool, StoreError> {
    let station = op.station.as_str();
    let Some(key) = &op.public_key else {
        let done = query("DELETE FROM meter_keys WHERE station_id = $1").bind(station).execute(conn).await?;
        return Ok(done.rows_affected() > 0);
    };
    let known = query("SELECT 1 AS known FROM stations WHERE id = $1").bind(station).fetch_optional(&mut *conn).await?;
    if known.is_none() {
        return Ok(false);
    }
    query(
        "INSERT INTO meter_keys (station_id, public_key, meter_serial, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (station_id) DO UPDATE SET public_key = excluded.public_key, meter_serial = excluded.meter_serial, \
         updated_at = excluded.updated_at",
    )
    .bind(station)
    .bind(key.as_str())
    .bind(op.meter_serial.as_deref())
    .bind(format_timestamp(&op.now))
    .execute(conn)
    .await?;
    Ok(true)
}

pub(super) async fn delete(conn: &mut Conn, settling: &mut Settling, op: &DeleteTariff) -> Result<bool, StoreError> {
    let done = query("UPDATE tariffs SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
        .bind(op.id.as_str())
        .bind(format_timestamp(&op.now))
        .execute(conn)
        .await?;
    settling.tariffs_changed();
    Ok(done.rows_affected() > 0)
}
