//! What pricing and checking a transaction take from its readings, shared by the writer (a
//! charge detail record as the transaction ends) and the reads (the running cost a station is
//! sent): the readings as rows, assembled into the moments the tariff prices (register, power,
//! current), the readings the integrity checks judge, and the signed meter data (OCMF).

use crate::terms;
use base64::Engine;
use csms_core::clock::parse_timestamp;
use csms_core::integrity::MeterPoint;
use csms_core::metering::{Measurand, Phase, ReadingContext, ValueFormat};
use csms_core::tariffs::pricing::Point;
use csms_core::tariffs::{Decimal, Tariff};
use std::str::FromStr;

use crate::StoreError;

/// A transaction's readings that matter to its bill, in time order: the energy register, power
/// and current, and any signed reading. `$1` the transaction; `$2`–`$4` the measurands' codes;
/// `$5` SignedData's.
macro_rules! tx_readings {
    ($backend:ident) => {
        concat!(
            "SELECT s.timestamp, s.context, s.format, r.measurand, r.phase, r.value, r.normalised_unit, r.raw_value, \
             r.signed_data FROM samples s ",
            crate::schema::readings_of_samples!($backend),
            " WHERE s.transaction_id = $1 AND (r.measurand IN ($2, $3, $4) OR r.signed_data IS NOT NULL OR s.format = $5) \
             ORDER BY s.timestamp, r.id"
        )
    };
}
pub(crate) const TX_READINGS_SQLITE: &str = tx_readings!(sqlite);
pub(crate) const TX_READINGS_POSTGRES: &str = tx_readings!(postgres);

/// The codes `TX_READINGS_*` binds after the transaction: energy, power, current, SignedData.
pub(crate) fn reading_codes() -> [i64; 4] {
    use crate::terms::Term;
    [
        Measurand::EnergyActiveImportRegister.code(),
        Measurand::PowerActiveImport.code(),
        Measurand::CurrentImport.code(),
        ValueFormat::SignedData.code(),
    ]
}

/// The sample interval a station was configured with, for the gap check: 1.6
/// MeterValueSampleInterval, 2.0.1 SampledDataCtrlr.TxUpdatedInterval (as last read from it).
/// `$1` the station.
pub(crate) const SAMPLE_INTERVAL: &str = "SELECT value FROM station_configuration WHERE station_id = $1 \
     AND key = 'MeterValueSampleInterval' UNION ALL SELECT value FROM device_model WHERE station_id = $1 \
     AND component = 'SampledDataCtrlr' AND variable = 'TxUpdatedInterval' AND attribute_type = 'Actual'";

/// `SAMPLE_INTERVAL`'s answer in seconds.
pub(crate) fn sample_interval(value: Option<Option<String>>) -> Option<u32> {
    value.flatten().and_then(|v| v.trim().parse().ok())
}

/// The station's own time zone, as a column `station_time_zone` of a `SELECT ... FROM
/// transactions` (the settler's and the running cost's reads of a transaction).
macro_rules! station_time_zone {
    () => {
        "(SELECT time_zone FROM stations WHERE stations.id = transactions.station_id) AS station_time_zone"
    };
}
pub(crate) use station_time_zone;

/// The zone a station's tariffs are read in: its own (`stations.time_zone`, read with its
/// transaction as `station_time_zone!`), else the server's.
pub(crate) fn zone_of(stored: Option<String>, server: chrono_tz::Tz) -> chrono_tz::Tz {
    match stored.map(|name| name.parse::<chrono_tz::Tz>().map_err(|_| name)) {
        Some(Ok(zone)) => zone,
        Some(Err(name)) => {
            // The API lets only IANA names in; a name this build does not know is read as absent.
            tracing::warn!(time_zone = %name, "a station's time zone is unknown: the server's is used");
            server
        }
        None => server,
    }
}

/// The tariffs in force (not withdrawn), by id: id, version, body, when saved.
pub(crate) const TARIFFS_IN_FORCE: &str =
    "SELECT id, version, body, updated_at FROM tariffs WHERE deleted_at IS NULL ORDER BY id";

/// What the integrity checks take of a transaction's row: a 1.6 transaction's meter start and
/// stop are readings of the register; a 2.0.1 one's are not (its registers are in its events).
pub(crate) fn checked_transaction(
    ocpp_version: Option<&str>,
    (started_at, stopped_at): (Option<csms_core::Timestamp>, Option<csms_core::Timestamp>),
    (meter_start_wh, meter_stop_wh): (Option<f64>, Option<f64>),
) -> csms_core::integrity::Transaction {
    let is_16 = ocpp_version == Some("1.6");
    csms_core::integrity::Transaction {
        started_at,
        stopped_at,
        meter_start_wh: meter_start_wh.filter(|_| is_16),
        meter_stop_wh: meter_stop_wh.filter(|_| is_16),
    }
}

/// One row of `TX_READINGS_*`.
pub(crate) struct RawReading {
    pub(crate) timestamp: String,
    pub(crate) context: Option<i64>,
    pub(crate) format: Option<i64>,
    pub(crate) measurand: i64,
    pub(crate) phase: Option<i64>,
    pub(crate) value: Option<f64>,
    pub(crate) unit: Option<String>,
    pub(crate) raw_value: Option<String>,
    pub(crate) signed_data: Option<String>,
}

/// A row of `TX_READINGS_*` as a `RawReading`, from the settler's `db::Row` or the pool's
/// `AnyRow` alike (both read a column by name with `try_get`); `?` on each column.
macro_rules! raw_reading {
    ($row:expr) => {
        crate::billing::RawReading {
            timestamp: $row.try_get("timestamp")?,
            context: $row.try_get("context")?,
            format: $row.try_get("format")?,
            measurand: $row.try_get("measurand")?,
            phase: $row.try_get("phase")?,
            value: $row.try_get("value")?,
            unit: $row.try_get("normalised_unit")?,
            raw_value: $row.try_get("raw_value")?,
            signed_data: $row.try_get("signed_data")?,
        }
    };
}
pub(crate) use raw_reading;

pub(crate) struct MeterData {
    /// One per moment, in time order.
    pub(crate) points: Vec<Point>,
    pub(crate) integrity: Vec<MeterPoint>,
    /// OCMF records in the order they were taken, each once.
    pub(crate) signed: Vec<String>,
    /// Signed values that are not OCMF (another format Ström cannot check).
    pub(crate) other_signed: usize,
}

/// A decimal from a stored float: its shortest text, which is the decimal the station wrote for
/// any reading of up to 15 digits.
pub(crate) fn exact(value: f64) -> Decimal {
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

/// The rows of `TX_READINGS_*` as what pricing and the checks take.
pub(crate) fn assemble(rows: Vec<RawReading>) -> Result<MeterData, StoreError> {
    let [energy, power, current, _] = reading_codes();
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
        let at_text = row.timestamp;
        let (measurand, phase) = (row.measurand, row.phase);
        let value = row.value;
        let unit = row.unit;
        let (raw, signed) = (row.raw_value, row.signed_data);
        let format = word(row.format);
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
            let context = word(row.context).and_then(ReadingContext::parse).unwrap_or(ReadingContext::SamplePeriodic);
            let measurand =
                if measurand == energy { Measurand::EnergyActiveImportRegister } else { Measurand::PowerActiveImport };
            let phase = word(phase).and_then(Phase::parse);
            data.integrity.push(MeterPoint { at, measurand, phase, context, value: v });
        }
    }
    flush(moment, &mut data.points);
    Ok(data)
}

/// A tariff in force, as the writer and the reads price with it.
pub(crate) struct Listed {
    pub(crate) tariff: Tariff,
    pub(crate) version: i64,
    pub(crate) body: String,
    /// When this version was saved (OCPI's `last_updated`).
    pub(crate) updated_at: String,
}

/// Reads a stored tariff (id, version, body, when saved).
pub(crate) fn listed(id: String, version: i64, body: String, updated_at: String) -> Result<Listed, StoreError> {
    let tariff = crate::ocpi::parse_tariff(&body, Some(&id))
        .map_err(|e| StoreError::Corrupt(format!("tariff {id:?} no longer reads: {e}")))?;
    Ok(Listed { tariff, version, body, updated_at })
}

/// The tariff that prices a session at `station` begun at `at` by a token of `group`.
pub(crate) fn choose<'l>(
    listed: &'l [Listed],
    station: &str,
    group: Option<&str>,
    at: csms_core::Timestamp,
) -> Option<&'l Listed> {
    let all: Vec<Tariff> = listed.iter().map(|l| l.tariff.clone()).collect();
    let chosen = csms_core::tariffs::select(&all, station, group, at)?;
    listed.iter().find(|l| l.tariff.id == chosen.id)
}

#[cfg(test)]
mod zone_tests {
    use super::zone_of;

    #[test]
    fn a_stations_own_zone_wins_and_an_unknown_or_absent_one_is_the_servers() {
        let server = chrono_tz::Europe::Berlin;
        assert_eq!(zone_of(Some("America/New_York".into()), server), chrono_tz::America::New_York);
        assert_eq!(zone_of(Some("Mars/Olympus".into()), server), server);
        assert_eq!(zone_of(None, server), server);
    }
}
