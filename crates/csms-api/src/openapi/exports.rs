//! The streamed exports' and the energy report's operations and schemas (`crate::exports`):
//! records and readings of a period as JSON arrays or CSV, and energy per station and bucket.

use super::schemas::{nullable, number, object, reference, string, timestamp, AT};
use super::{op, query, Op, Success};
use serde_json::{json, Value};

fn period(time: &str) -> Vec<Value> {
    vec![
        query(
            "from",
            &format!(
                "Only those whose {time} is at or after this (default: 30 days before to); a period longer than \
                 366 days is cut to the 366 days before to, and the x-period-from header says so"
            ),
            json!({"type": "string", "format": "date-time"}),
        ),
        query(
            "to",
            &format!("Only those whose {time} is before this (default: now); at or before from: nothing"),
            json!({"type": "string", "format": "date-time"}),
        ),
    ]
}

fn format() -> Value {
    query(
        "format",
        "json (default): one array, or csv: a header line, then a line per row; text a spreadsheet would run \
         as a formula gets a leading '",
        json!({"type": "string", "enum": ["json", "csv"]}),
    )
}

const STREAMED: &str = "Streamed as it is read, in chunks of 1,000 rows, whatever the size; if storage fails \
    midway the chunked body ends without its last chunk (a broken download, never a short file that looks whole). \
    Headers x-period-from and x-period-to give the period covered.";

const CDR_CSV: &str = "id,transaction_id,station_id,evse_id,connector_id,id_token,start_date_time,end_date_time,\
energy_kwh,energy_wh,charging_time_s,parking_time_s,currency,total_excl_vat,total_incl_vat,tariff_id,tariff_version,\
corrects,energy_rule,created_at\n\
1,42,CP1,,1,TAG1,2026-12-01T09:00:00.000Z,2026-12-01T10:00:00.000Z,7.345,7345,3600,0,EUR,2.86,3.41,FLEET,1,,\
meterStop - meterStart,2026-12-01T10:00:00.100Z\n";

const READING_CSV: &str = "timestamp,station_id,evse_id,connector_id,transaction_id,measurand,phase,location,context,\
format,value,normalised_unit,raw_value,unit\n\
2026-12-01T10:00:00.000Z,CP1,,1,42,Energy.Active.Import.Register,,Outlet,Sample.Periodic,Raw,12500.0,Wh,12.5,kWh\n";

const ENERGY_CSV: &str = "scope,station_id,start,end,energy_wh\n\
station,CP1,2026-12-01T10:00:00.000Z,2026-12-01T11:00:00.000Z,7345.0\n\
network,,2026-12-01T10:00:00.000Z,2026-12-01T11:00:00.000Z,7345.0\n";

pub(super) fn operations() -> Vec<(&'static str, &'static str, Op)> {
    let mut cdr_params = period("session end");
    cdr_params.extend([
        query("station_id", "Only this station's", string()),
        query("id_token", "Only sessions of this id token", string()),
        format(),
    ]);
    let mut reading_params = period("time");
    reading_params.extend([
        query("station_id", "Only this station's", string()),
        query(
            "transaction_id",
            "Only this transaction's (without it, readings outside transactions too)",
            json!({"type": "integer", "format": "int64"}),
        ),
        format(),
    ]);
    let mut energy_params = period("bucket");
    energy_params.extend([
        query(
            "granularity",
            "Bucket size, in UTC (default day); the period is widened to whole buckets",
            json!({"type": "string", "enum": ["hour", "day", "month"]}),
        ),
        query("station_id", "Only this station", string()),
        format(),
    ]);
    vec![
        (
            "/api/v1/exports/cdrs",
            "get",
            op(
                "exportCdrs",
                &format!(
                    "Every charge detail record whose session ended in the period, in the order written. {STREAMED}"
                ),
                "viewer",
                cdr_params,
                Success::JsonOrCsv("The records (text/csv with format=csv)", "CdrExport", CDR_CSV),
            )
            .errors(&["400"]),
        ),
        (
            "/api/v1/exports/meter-values",
            "get",
            op(
                "exportMeterValues",
                &format!("Every meter reading taken in the period, in the order stored. {STREAMED}"),
                "viewer",
                reading_params,
                Success::JsonOrCsv("The readings (text/csv with format=csv)", "MeterValueExport", READING_CSV),
            )
            .errors(&["400"]),
        ),
        (
            "/api/v1/reports/energy",
            "get",
            op(
                "energyReport",
                &format!(
                    "Energy delivered per station and per hour, day or month (UTC), and the network's per bucket: \
                     the rise of each transaction's energy register (meter start, Energy.Active.Import.Register \
                     readings, meter stop) spread over the time between two readings, so a session is split \
                     across buckets by time. Stations list only buckets with energy; the network lists every \
                     bucket. {STREAMED}"
                ),
                "viewer",
                energy_params,
                Success::JsonOrCsv("The report (text/csv with format=csv)", "EnergyReport", ENERGY_CSV),
            )
            .errors(&["400"]),
        ),
    ]
}

fn bucket(station: bool) -> Value {
    let mut fields = vec![
        ("start", timestamp()),
        ("end", timestamp()),
        ("energy_wh", {
            let mut wh = number();
            wh["description"] = json!("Wh delivered in [start, end), three decimals");
            wh
        }),
    ];
    if station {
        fields.insert(0, ("station_id", string()));
    }
    let required: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    let mut schema = object(&fields, &required);
    let mut example = json!({"start": AT, "end": "2026-12-01T11:00:00.000Z", "energy_wh": 7345.0});
    if station {
        example["station_id"] = json!("CP1");
    }
    schema["example"] = example;
    schema
}

fn exported_reading() -> Value {
    let mut schema = super::schemas::components().get("MeterValue").cloned().unwrap_or_default();
    schema["properties"]["station_id"] = string();
    schema["properties"]["transaction_id"] = nullable(json!({"type": "integer", "format": "int64",
        "description": "Ström's transaction id; null for a reading outside a transaction"}));
    if let Some(required) = schema["required"].as_array_mut() {
        required.extend([json!("station_id"), json!("transaction_id")]);
    }
    schema["example"]["station_id"] = json!("CP1");
    schema["example"]["transaction_id"] = json!(42);
    schema
}

pub(super) fn schemas() -> Vec<(String, Value)> {
    let reading = exported_reading();
    let mut report = object(
        &[
            ("from", timestamp()),
            ("to", timestamp()),
            ("granularity", json!({"type": "string", "enum": ["hour", "day", "month"]})),
            ("time_zone", json!({"type": "string", "enum": ["UTC"], "description": "The buckets' time zone"})),
            ("stations", json!({"type": "array", "items": reference("EnergyStationBucket")})),
            ("network", json!({"type": "array", "items": reference("EnergyBucket")})),
        ],
        &["from", "to", "granularity", "time_zone", "stations", "network"],
    );
    report["example"] = json!({"from": AT, "to": "2026-12-01T11:00:00.000Z", "granularity": "hour", "time_zone": "UTC",
        "stations": [bucket(true)["example"].clone()], "network": [bucket(false)["example"].clone()]});
    vec![
        ("ExportedMeterValue".into(), reading),
        ("EnergyStationBucket".into(), bucket(true)),
        ("EnergyBucket".into(), bucket(false)),
        ("EnergyReport".into(), report),
    ]
}
