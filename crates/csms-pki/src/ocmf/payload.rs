//! The payload section read into a `Record`: serde reads the JSON shape (borrowing each reading
//! value's raw text, since OCMF forbids rewriting a value's digits, table 7 RV), and the fields
//! are then checked one by one so that each error names the field that is wrong.

use super::reading::{parse_time, CurrentType, ErrorFlags, MeterStatus, Reading, ReadingReason, ReadingValue, Unit};
use super::{Identification, OcmfError, Pagination, Record};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The payload's JSON. Every field is optional here so that a missing mandatory one is reported
/// by name; fields Ström does not use (LC, the U–Z vendor extensions) are skipped.
#[derive(Deserialize)]
struct RawPayload<'a> {
    #[serde(rename = "FV")]
    format_version: Option<String>,
    #[serde(rename = "GI")]
    gateway_identification: Option<String>,
    #[serde(rename = "GS")]
    gateway_serial: Option<String>,
    #[serde(rename = "GV")]
    gateway_version: Option<String>,
    #[serde(rename = "PG")]
    pagination: Option<String>,
    #[serde(rename = "MV")]
    meter_vendor: Option<String>,
    #[serde(rename = "MM")]
    meter_model: Option<String>,
    #[serde(rename = "MS")]
    meter_serial: Option<String>,
    #[serde(rename = "MF")]
    meter_firmware: Option<String>,
    #[serde(rename = "IS")]
    identification_status: Option<bool>,
    #[serde(rename = "IL")]
    identification_level: Option<String>,
    #[serde(rename = "IF")]
    identification_flags: Option<Vec<String>>,
    #[serde(rename = "IT")]
    identification_type: Option<String>,
    #[serde(rename = "ID")]
    identification_data: Option<String>,
    #[serde(rename = "TT")]
    tariff_text: Option<String>,
    #[serde(rename = "CF")]
    charge_controller_firmware: Option<String>,
    #[serde(rename = "CT")]
    charge_point_type: Option<String>,
    #[serde(rename = "CI")]
    charge_point_id: Option<String>,
    #[serde(rename = "RD", borrow)]
    readings: Option<Vec<RawReading<'a>>>,
}

/// One element of RD (OCMF table 7). CL is skipped: cable loss is already taken out of RV.
#[derive(Deserialize)]
struct RawReading<'a> {
    #[serde(rename = "TM")]
    time: Option<String>,
    #[serde(rename = "TX")]
    reason: Option<String>,
    #[serde(rename = "RV", borrow)]
    value: Option<&'a RawValue>,
    #[serde(rename = "RI")]
    obis: Option<String>,
    #[serde(rename = "RU")]
    unit: Option<String>,
    #[serde(rename = "RT")]
    current: Option<String>,
    #[serde(rename = "EF")]
    error_flags: Option<String>,
    #[serde(rename = "ST")]
    status: Option<String>,
}

/// Reads the record `text` from its payload section and then its signature section.
pub(super) fn read(text: &str, payload: &str, signature: &str) -> Result<Record, OcmfError> {
    let raw: RawPayload<'_> = serde_json::from_str(payload).map_err(|e| OcmfError::Payload(e.to_string()))?;
    let pagination_text = raw.pagination.ok_or(OcmfError::Missing("PG"))?;
    let pagination = Pagination::parse(&pagination_text).ok_or(OcmfError::Invalid {
        field: "PG",
        value: pagination_text,
        reason: "pagination is T or F and a number without leading zeros",
    })?;
    let meter_serial = raw.meter_serial.ok_or(OcmfError::Missing("MS"))?;
    let raw_readings = raw.readings.ok_or(OcmfError::Missing("RD"))?;
    if raw_readings.is_empty() {
        return Err(OcmfError::Invalid {
            field: "RD",
            value: "[]".into(),
            reason: "a record has at least one reading",
        });
    }
    let mut readings: Vec<Reading> = Vec::with_capacity(raw_readings.len());
    for (index, raw) in raw_readings.into_iter().enumerate() {
        let reading = read_reading(index, raw, readings.last())?;
        readings.push(reading);
    }
    let identification = raw.identification_status.map(|assigned| Identification {
        assigned,
        level: raw.identification_level,
        flags: raw.identification_flags.unwrap_or_default(),
        kind: raw.identification_type,
        data: raw.identification_data,
    });
    let signature = super::signature::read(signature)?;
    Ok(Record {
        text: text.to_string(),
        payload: payload.to_string(),
        format_version: raw.format_version,
        gateway_identification: raw.gateway_identification,
        gateway_serial: raw.gateway_serial,
        gateway_version: raw.gateway_version,
        pagination,
        meter_vendor: raw.meter_vendor,
        meter_model: raw.meter_model,
        meter_serial,
        meter_firmware: raw.meter_firmware,
        identification,
        tariff_text: raw.tariff_text,
        charge_controller_firmware: raw.charge_controller_firmware,
        charge_point_type: raw.charge_point_type,
        charge_point_id: raw.charge_point_id,
        readings,
        signature,
    })
}

/// Reads one reading. A field that is absent takes the previous reading's value: OCMF omits
/// fields equal to the reading before within a record (table 7), e.g. RI and RU after the
/// first. RV is never inherited; a reading without one only reports an event or error.
fn read_reading(index: usize, raw: RawReading<'_>, previous: Option<&Reading>) -> Result<Reading, OcmfError> {
    let invalid = |field: &'static str, value: &str, reason: &'static str| OcmfError::ReadingInvalid {
        index,
        field,
        value: value.to_string(),
        reason,
    };
    let (time_text, time, time_status) = match raw.time {
        Some(text) => {
            let (time, status) = parse_time(&text).ok_or_else(|| {
                invalid("TM", &text, "time is 2018-07-24T13:22:04,000+0200 and a status U, I, S or R")
            })?;
            (text, time, status)
        }
        None => match previous {
            Some(p) => (p.time_text.clone(), p.time, p.time_status),
            None => return Err(OcmfError::ReadingMissing { index, field: "TM" }),
        },
    };
    let reason = match raw.reason {
        Some(text) => {
            Some(ReadingReason::parse(&text).ok_or_else(|| invalid("TX", &text, "not a reason in OCMF table 7"))?)
        }
        None => previous.and_then(|p| p.reason),
    };
    let unit = match raw.unit {
        Some(text) => Some(Unit::parse(&text).ok_or_else(|| invalid("RU", &text, "not a unit in OCMF table 20"))?),
        None => previous.and_then(|p| p.unit),
    };
    let current = match raw.current {
        Some(text) => Some(CurrentType::parse(&text).ok_or_else(|| invalid("RT", &text, "not AC or DC"))?),
        None => previous.and_then(|p| p.current),
    };
    let error_flags = match raw.error_flags {
        Some(text) => {
            ErrorFlags::parse(&text).ok_or_else(|| invalid("EF", &text, "flags are E (energy) and t (time)"))?
        }
        None => previous.map(|p| p.error_flags).unwrap_or_default(),
    };
    let status = match raw.status {
        Some(text) => MeterStatus::parse(&text).ok_or_else(|| invalid("ST", &text, "not a status in OCMF table 10"))?,
        None => match previous {
            Some(p) => p.status,
            None => return Err(OcmfError::ReadingMissing { index, field: "ST" }),
        },
    };
    let value = match raw.value {
        Some(raw_value) => {
            let text = raw_value.get();
            let unit = unit.ok_or(OcmfError::ReadingMissing { index, field: "RU" })?;
            Some(ReadingValue::read(text, unit).map_err(|reason| invalid("RV", text, reason))?)
        }
        None => None,
    };
    Ok(Reading {
        time,
        time_status,
        time_text,
        reason,
        value,
        obis: raw.obis.or_else(|| previous.and_then(|p| p.obis.clone())),
        unit,
        current,
        error_flags,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocmf::TimeStatus;

    const SIGNATURE: &str = r#"{"SD":"00"}"#;

    #[test]
    fn readings_inherit_the_fields_the_meter_left_out() {
        let payload = r#"{"PG":"T1","MS":"M","RD":[
            {"TM":"2024-01-01T10:00:00,000+0000 S","TX":"B","RV":1.5,"RI":"01-00:B2.08.00*FF","RU":"kWh","RT":"AC","EF":"","ST":"G"},
            {"RV":2},
            {"TX":"E","RV":3,"EF":"t"},
            {"TM":"2024-01-01T11:00:00,000+0000 I"}]}"#;
        let record = read("", payload, SIGNATURE).expect("reads");
        let r = &record.readings;
        assert_eq!(r[1].time, r[0].time);
        assert_eq!(r[1].reason, Some(ReadingReason::Begin));
        assert_eq!(r[1].obis.as_deref(), Some("01-00:B2.08.00*FF"));
        assert_eq!(r[1].unit, Some(Unit::KiloWattHours));
        assert_eq!(r[1].current, Some(CurrentType::Ac));
        assert_eq!(r[1].status, MeterStatus::Good);
        assert_eq!(r[1].energy().map(|e| e.0), Some(2_000_000));
        assert_eq!(r[2].reason, Some(ReadingReason::End));
        assert!(r[2].error_flags.time && !r[2].error_flags.energy);
        assert_eq!(r[3].value, None, "a value is never inherited");
        assert_eq!(r[3].time_status, TimeStatus::Informative);
        assert!(r[3].error_flags.time, "the error flags are inherited too");
    }

    #[test]
    fn the_first_reading_must_carry_its_time_and_status() {
        let cases = [
            (r#"{"PG":"T1","MS":"M","RD":[{"ST":"G"}]}"#, "TM"),
            (r#"{"PG":"T1","MS":"M","RD":[{"TM":"2024-01-01T10:00:00,000+0000 S"}]}"#, "ST"),
            (r#"{"PG":"T1","MS":"M","RD":[{"TM":"2024-01-01T10:00:00,000+0000 S","ST":"G","RV":1}]}"#, "RU"),
        ];
        for (payload, field) in cases {
            assert_eq!(read("", payload, SIGNATURE), Err(OcmfError::ReadingMissing { index: 0, field }), "{payload}");
        }
    }
}
