//! What a charge detail record takes from an ended transaction's readings: the moments the
//! tariff prices (register, power, current), the readings the integrity checks judge, and the
//! signed meter data (OCMF) that may prove the energy, with the station's meter key.

use crate::db::{query, query_scalar, Conn};
use crate::schema::readings_of_samples;
use crate::terms::{self, Term};
use crate::StoreError;
use base64::Engine;
use csms_core::clock::parse_timestamp;
use csms_core::integrity::MeterPoint;
use csms_core::metering::{Measurand, Phase, ReadingContext, ValueFormat};
use csms_core::tariffs::pricing::Point;
use csms_core::tariffs::Decimal;
use std::str::FromStr;

pub(super) struct MeterData {
    /// One per moment, in time order.
    pub(super) points: Vec<Point>,
    pub(super) integrity: Vec<MeterPoint>,
    /// OCMF records in the order they were taken, each once.
    pub(super) signed: Vec<String>,
    /// Signed values that are not OCMF (another format Ström cannot check).
    pub(super) other_signed: usize,
}

/// A decimal from a stored float: its shortest text, which is the decimal the station wrote for
/// any reading of up to 15 digits.
pub(super) fn exact(value: f64) -> Decimal {
    Decimal::from_str(&value.to_string()).or_else(|_| Decimal::try_from(value)).unwrap_or_default()
}

fn time(text: &str) -> Result<csms_core::Timestamp, StoreError> {
    parse_timestamp(text).ok_or_else(|| StoreError::Corrupt(format!("reading time {text:?} is no time")))
}

fn word(code: Option<i64>) -> Option<&'static str> {
    code.and_then(terms::term)
}

/// An OCMF record as a station sent it: the text itself, or base64 or hex of it (2.0.1's
/// signedMeterData is base64; 1.6 signed data comes in each form).
fn ocmf_text(data: &str) -> Option<String> {
    let data = data.trim();
    if data.starts_with("OCMF|") {
        return Some(data.to_string());
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(data).ok().or_else(|| hex::decode(data).ok())?;
    String::from_utf8(decoded).ok().filter(|t| t.starts_with("OCMF|"))
}

/// The signed data of a reading: 2.0.1 keeps the signedMeterValue object (its signedMeterData),
/// 1.6 the value of a SignedData reading.
fn signed_text(signed_data: Option<&str>, raw_value: Option<&str>, format: Option<&str>) -> Option<String> {
    if let Some(json) = signed_data {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        return value.get("signedMeterData").and_then(|d| d.as_str()).map(str::to_string);
    }
    (format == Some(ValueFormat::SignedData.as_str())).then(|| raw_value.map(str::to_string)).flatten()
}

/// Reads the transaction's readings (PostgreSQL: after sending those gathered for `COPY`).
pub(super) async fn read(conn: &mut Conn, id: i64) -> Result<MeterData, StoreError> {
    macro_rules! tx_readings {
        ($backend:ident) => {
            concat!(
                "SELECT s.timestamp, s.context, s.format, r.measurand, r.phase, r.value, r.normalised_unit, r.raw_value, \
                 r.signed_data FROM samples s ",
                readings_of_samples!($backend),
                " WHERE s.transaction_id = $1 AND (r.measurand IN ($2, $3, $4) OR r.signed_data IS NOT NULL OR s.format = $5) \
                 ORDER BY s.timestamp, r.id"
            )
        };
    }
    let sql = if conn.is_sqlite() { tx_readings!(sqlite) } else { tx_readings!(postgres) };
    conn.send_gathered().await?;
    let (energy, power, current) = (
        Measurand::EnergyActiveImportRegister.code(),
        Measurand::PowerActiveImport.code(),
        Measurand::CurrentImport.code(),
    );
    let rows = query(sql)
        .bind(id)
        .bind(energy)
        .bind(power)
        .bind(current)
        .bind(ValueFormat::SignedData.code())
        .fetch_all(conn)
        .await?;
    let mut data = MeterData { points: Vec::new(), integrity: Vec::new(), signed: Vec::new(), other_signed: 0 };
    // Per moment: the point, and the phases' power summed and current's highest.
    let mut moment: Option<(String, Point, Option<Decimal>, Option<Decimal>)> = None;
    let flush = |m: Option<(String, Point, Option<Decimal>, Option<Decimal>)>, out: &mut Vec<Point>| {
        if let Some((_, mut p, phase_power, phase_current)) = m {
            p.power_w = p.power_w.or(phase_power);
            p.current_a = p.current_a.or(phase_current);
            out.push(p);
        }
    };
    for row in rows {
        let at_text: String = row.try_get("timestamp")?;
        let (measurand, phase): (i64, Option<i64>) = (row.try_get("measurand")?, row.try_get("phase")?);
        let value: Option<f64> = row.try_get("value")?;
        let unit: Option<String> = row.try_get("normalised_unit")?;
        let (raw, signed): (Option<String>, Option<String>) = (row.try_get("raw_value")?, row.try_get("signed_data")?);
        let format = word(row.try_get("format")?);
        if let Some(text) = signed_text(signed.as_deref(), raw.as_deref(), format) {
            match ocmf_text(&text) {
                Some(record) if data.signed.last() != Some(&record) => data.signed.push(record),
                Some(_) => {}
                None => data.other_signed += 1,
            }
        }
        let (Some(v), Some(unit)) = (value, unit.as_deref()) else { continue };
        let at = time(&at_text)?;
        let base = match measurand {
            m if m == energy => "Wh",
            m if m == power => "W",
            m if m == current => "A",
            _ => continue,
        };
        if unit != base {
            continue;
        }
        if moment.as_ref().is_none_or(|(t, ..)| *t != at_text) {
            flush(moment.take(), &mut data.points);
            moment = Some((at_text, Point { at, register_wh: None, power_w: None, current_a: None }, None, None));
        }
        let Some((_, p, phase_power, phase_current)) = moment.as_mut() else { continue };
        let d = exact(v);
        match (measurand, phase) {
            (m, None) if m == energy => p.register_wh = Some(d),
            (m, _) if m == energy => continue,
            (m, None) if m == power => p.power_w = Some(d),
            (m, Some(_)) if m == power => *phase_power = Some(phase_power.unwrap_or_default() + d),
            (_, None) => p.current_a = Some(d),
            (_, Some(_)) => *phase_current = Some(phase_current.map_or(d, |c: Decimal| c.max(d))),
        }
        if measurand != current {
            let context =
                word(row.try_get("context")?).and_then(ReadingContext::parse).unwrap_or(ReadingContext::SamplePeriodic);
            let measurand =
                if measurand == energy { Measurand::EnergyActiveImportRegister } else { Measurand::PowerActiveImport };
            let phase = word(phase).and_then(Phase::parse);
            data.integrity.push(MeterPoint { at, measurand, phase, context, value: v });
        }
    }
    flush(moment, &mut data.points);
    Ok(data)
}

/// The sample interval a station was configured with, for the gap check: 1.6
/// MeterValueSampleInterval, 2.0.1 SampledDataCtrlr.TxUpdatedInterval (as last read from it).
pub(super) async fn sample_interval(conn: &mut Conn, station: &str) -> Result<Option<u32>, StoreError> {
    let configured: Option<Option<String>> = query_scalar(
        "SELECT value FROM station_configuration WHERE station_id = $1 AND key = 'MeterValueSampleInterval' \
         UNION ALL SELECT value FROM device_model WHERE station_id = $1 AND component = 'SampledDataCtrlr' \
         AND variable = 'TxUpdatedInterval' AND attribute_type = 'Actual'",
    )
    .bind(station)
    .fetch_optional(conn)
    .await?;
    Ok(configured.flatten().and_then(|v| v.trim().parse().ok()))
}

/// The meter key registered for the station, hex-encoded DER.
pub(super) async fn meter_key(conn: &mut Conn, station: &str) -> Result<Option<String>, StoreError> {
    query_scalar("SELECT public_key FROM meter_keys WHERE station_id = $1").bind(station).fetch_optional(conn).await
}
