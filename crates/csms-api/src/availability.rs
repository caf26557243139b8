//! `GET /api/v1/availability`: uptime, unavailable time and why, faults by category and mean
//! time to repair, per connector and station over a period, with network totals; as JSON or as
//! CSV (one row per connector). The figures are `csms_core::availability_report`'s, whose rules
//! the README's "Availability" states.

use crate::exports::csv_cell;
use crate::{Api, ApiError, Params};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use csms_core::availability_report::{network_report, Figures, Millis, NetworkReport, Period};
use csms_core::clock::{format_timestamp, parse_timestamp};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

const PARAMETERS: [&str; 4] = ["from", "to", "station_id", "format"];

/// The instants an answer can name as RFC 3339: years 0000 to 9999.
const FIRST_MS: Millis = -62_167_219_200_000;
const LAST_MS: Millis = 253_402_300_799_999;

/// The CSV's columns after the connector's place and the period, in order.
const FIGURE_COLUMNS: [&str; 8] = [
    "known_s",
    "uptime_percent",
    "unavailable_s",
    "offline_s",
    "faulted_s",
    "unavailable_status_s",
    "faults",
    "repairs",
];

fn time_param(params: &HashMap<String, String>, name: &str) -> Result<Option<Millis>, ApiError> {
    params
        .get(name)
        .map(|text| {
            parse_timestamp(text).map(|t| t.timestamp_millis()).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{name} must be an RFC 3339 date-time such as 2026-01-31T00:00:00Z, not {text:?}"
                ))
            })
        })
        .transpose()
}

fn time(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| format_timestamp(&t)).unwrap_or_default()
}

fn seconds(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

/// Three decimals are plenty for a percentage or a mean, and keep the figures readable.
fn rounded(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn figures(f: &Figures) -> Map<String, Value> {
    let by_category: Map<String, Value> = f.faults.iter().map(|(c, n)| (c.as_str().to_string(), json!(n))).collect();
    let value = json!({
        "known_s": seconds(f.known_ms),
        "uptime_percent": f.uptime_percent().map(rounded),
        "unavailable_s": seconds(f.unavailable_ms()),
        "offline_s": seconds(f.offline_ms),
        "faulted_s": seconds(f.faulted_ms),
        "unavailable_status_s": seconds(f.unavailable_status_ms),
        "faults": f.faults.total(),
        "faults_by_category": by_category,
        "repairs": f.repairs,
        "mttr_s": f.mttr_ms().map(|ms| rounded(ms / 1000.0)),
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn with(mut first: Map<String, Value>, rest: Map<String, Value>) -> Value {
    first.extend(rest);
    Value::Object(first)
}

fn report_json(report: &NetworkReport) -> Value {
    let stations: Vec<Value> = report
        .stations
        .iter()
        .map(|s| {
            let connectors: Vec<Value> = s
                .connectors
                .iter()
                .map(|c| {
                    let place = json!({
                        "evse_id": (c.place.evse_id != 0).then_some(c.place.evse_id),
                        "connector_id": c.place.connector_id,
                        "known_from": c.known_from.map(time),
                    });
                    with(place.as_object().cloned().unwrap_or_default(), figures(&c.figures))
                })
                .collect();
            let head = json!({
                "station_id": s.station_id,
                "station_known_s": seconds(s.station_known_ms),
                "station_offline_s": seconds(s.station_offline_ms),
                "connectors": connectors,
            });
            with(head.as_object().cloned().unwrap_or_default(), figures(&s.figures))
        })
        .collect();
    let totals = json!({
        "stations": report.stations.len(),
        "connectors": report.connectors,
        "station_known_s": seconds(report.station_known_ms),
        "station_offline_s": seconds(report.station_offline_ms),
    });
    json!({
        "from": time(report.period.from),
        "to": time(report.period.to),
        "generated_at": time(report.period.now),
        "stations": stations,
        "totals": with(totals.as_object().cloned().unwrap_or_default(), figures(&report.totals)),
    })
}

/// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. A field
/// a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first, as an id token could be) gets
/// a leading `'`, so opening the file runs nothing. Shared with the CLI's exports.
pub fn csv_field(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@') if text.parse::<f64>().is_err() => format!("'{text}"),
        _ => text.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// One row per connector: its station and place, the period, the figures, the faults per
/// category, the mean time to repair.
fn report_csv(report: &Value) -> String {
    let categories: Vec<&str> = csms_core::fault_kinds::FaultCategory::ALL.iter().map(|c| c.as_str()).collect();
    let mut header: Vec<String> =
        ["station_id", "evse_id", "connector_id", "from", "to", "known_from"].map(String::from).to_vec();
    header.extend(FIGURE_COLUMNS.map(String::from));
    header.extend(categories.iter().map(|c| format!("faults_{c}")));
    header.push("mttr_s".into());
    let mut out = header.join(",") + "\n";
    for station in report["stations"].as_array().into_iter().flatten() {
        for c in station["connectors"].as_array().into_iter().flatten() {
            let mut cells =
                vec![&station["station_id"], &c["evse_id"], &c["connector_id"], &report["from"], &report["to"]];
            cells.push(&c["known_from"]);
            cells.extend(FIGURE_COLUMNS.iter().map(|name| &c[*name]));
            cells.extend(categories.iter().map(|name| &c["faults_by_category"][*name]));
            cells.push(&c["mttr_s"]);
            out += &cells.into_iter().map(csv_cell).collect::<Vec<_>>().join(",");
            out.push('\n');
        }
    }
    out
}

/// `GET /api/v1/availability?from=&to=&station_id=&format=json|csv`.
pub(crate) async fn report(State(api): State<Arc<Api>>, Query(params): Params) -> Result<Response, ApiError> {
    if let Some(unknown) = params.keys().find(|k| !PARAMETERS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter {unknown:?}; this report takes {}",
            PARAMETERS.join(", ")
        )));
    }
    let csv = match params.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::bad_request(format!("format must be json or csv, not {other:?}"))),
    };
    let (from, to) = (time_param(&params, "from")?, time_param(&params, "to")?);
    let now = api.clock.now().timestamp_millis();
    let mut period = Period::asked(from, to, now);
    // An answer names its period in RFC 3339, which has four-digit years.
    period.from = period.from.clamp(FIRST_MS, LAST_MS);
    period.to = period.to.clamp(FIRST_MS, LAST_MS);
    let histories = api.store.availability_history(params.get("station_id").map(String::as_str), period).await?;
    let report = report_json(&network_report(&histories, period));
    if csv {
        let headers = [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"availability.csv\""),
        ];
        return Ok((headers, report_csv(&report)).into_response());
    }
    Ok(Json(report).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_plain_numbers_and_formulas_become_text() {
        let cases = [
            (json!(null), ""),
            (json!(12.5), "12.5"),
            (json!(-3), "-3"),
            (json!("CP1"), "CP1"),
            (json!("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\""),
            (json!("@SUM"), "'@SUM"),
            (json!("a,b"), "\"a,b\""),
        ];
        for (value, cell) in cases {
            assert_eq!(csv_cell(&value), cell, "{value}");
        }
    }
}
