//! The settler's reads for a charge detail record: the transaction's readings (`billing`), the
//! station's sample interval and its meter key.

use crate::billing::{
    self, assemble, raw_reading, reading_codes, MeterData, SAMPLE_INTERVAL, TX_READINGS_POSTGRES, TX_READINGS_SQLITE,
};
use crate::db::{query, query_scalar, Conn};
use crate::StoreError;

/// Reads the transaction's readings (PostgreSQL: after sending those gathered for `COPY`).
pub(super) async fn read(conn: &mut Conn, id: i64) -> Result<MeterData, StoreError> {
    let sql = if conn.is_sqlite() { TX_READINGS_SQLITE } else { TX_READINGS_POSTGRES };
    conn.send_gathered().await?;
    let [energy, power, current, signed] = reading_codes();
    let rows = query(sql).bind(id).bind(energy).bind(power).bind(current).bind(signed).fetch_all(conn).await?;
    let mut raw = Vec::with_capacity(rows.len());
    for row in rows {
        raw.push(raw_reading!(row));
    }
    assemble(raw)
}

/// The sample interval a station was configured with (`SAMPLE_INTERVAL`), for the gap check.
pub(super) async fn sample_interval(conn: &mut Conn, station: &str) -> Result<Option<u32>, StoreError> {
    let configured: Option<Option<String>> = query_scalar(SAMPLE_INTERVAL).bind(station).fetch_optional(conn).await?;
    Ok(billing::sample_interval(configured))
}

/// The meter key registered for the station, hex-encoded DER, and the meter serial registered
/// with it.
pub(super) async fn meter_key(conn: &mut Conn, station: &str) -> Result<Option<(String, Option<String>)>, StoreError> {
    let row = query("SELECT public_key, meter_serial FROM meter_keys WHERE station_id = $1")
        .bind(station)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get("public_key")?, r.try_get("meter_serial")?))).transpose()
}
