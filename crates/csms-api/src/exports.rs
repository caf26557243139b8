//! Streamed exports and the energy report: `GET /api/v1/exports/cdrs`, `GET
//! /api/v1/exports/meter-values` and `GET /api/v1/reports/energy`, as JSON or CSV. A year of a
//! large network must export without sitting in memory, so the body is a stream: the store is
//! read in keyset chunks of `CHUNK` rows and each chunk is written out before the next is read
//! (hyper asks for the next only once the last is on its way, so a slow client slows the reads
//! instead of filling memory). A store failure midway ends the body with an error, which hyper
//! turns into a chunked body without its last chunk: the client sees a broken download, never
//! a short file that looks whole.

use crate::billing::cdr_view;
use crate::{csv_field, views, Api, ApiError, Params};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use csms_core::clock::{format_timestamp, parse_timestamp};
use csms_core::energy_report::{Buckets, Granularity, Millis};
use csms_store::{ExportFilter, StoreError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// Rows per read of the store: large enough that a query's cost is spread over many rows, small
/// enough that a chunk is a few hundred kilobytes.
const CHUNK: i64 = 1000;
/// Transactions per read of the energy report (each with all its register readings).
const TRANSACTIONS_PER_READ: i64 = 200;
const DAY_MS: Millis = 86_400_000;
/// A period is at most this long; a longer one is cut to the days before `to` (as the
/// availability report does: a request the document allows is never a 400).
pub(crate) const MAX_DAYS: i64 = 366;
/// The period without `from`: the 30 days before `to`.
const DEFAULT_DAYS: i64 = 30;
/// The instants an answer can name as RFC 3339 (four-digit years); the last is a month short of
/// the end of 9999 so that a month bucket's end still has four digits.
const FIRST_MS: Millis = -62_167_219_200_000;
const LAST_MS: Millis = 253_399_622_400_000;

/// The CSV columns of a record: (header, where the value is in the record's JSON).
const CDR_COLUMNS: [(&str, &str); 20] = [
    ("id", "/id"),
    ("transaction_id", "/transaction_id"),
    ("station_id", "/station_id"),
    ("evse_id", "/evse_id"),
    ("connector_id", "/connector_id"),
    ("id_token", "/id_token"),
    ("start_date_time", "/start_date_time"),
    ("end_date_time", "/end_date_time"),
    ("energy_kwh", "/total_energy"),
    ("energy_wh", "/energy_wh"),
    ("charging_time_s", "/charging_time_s"),
    ("parking_time_s", "/parking_time_s"),
    ("currency", "/currency"),
    ("total_excl_vat", "/total_cost/excl_vat"),
    ("total_incl_vat", "/total_cost/incl_vat"),
    ("tariff_id", "/tariff_id"),
    ("tariff_version", "/tariff_version"),
    ("corrects", "/corrects"),
    ("energy_rule", "/energy_rule"),
    ("created_at", "/created_at"),
];

/// The CSV columns of a reading, named as in its JSON. `value` is in `normalised_unit` (Wh, W,
/// A, …); `raw_value` and `unit` are as the station sent them. Signed data is in the JSON only.
pub const READING_COLUMNS: [&str; 14] = [
    "timestamp",
    "station_id",
    "evse_id",
    "connector_id",
    "transaction_id",
    "measurand",
    "phase",
    "location",
    "context",
    "format",
    "value",
    "normalised_unit",
    "raw_value",
    "unit",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// One CSV cell of a JSON value: empty for null, numbers as JSON writes them, text through
/// `csv_field` (formula-like text made text, quoted when it must be).
pub fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => csv_field(text),
        other => csv_field(&other.to_string()),
    }
}

/// The CSV line of `columns` of a JSON object (by JSON pointer), with its line break.
fn csv_line<'a>(object: &Value, columns: impl Iterator<Item = &'a str>) -> String {
    let cells: Vec<String> = columns.map(|c| csv_cell(object.pointer(c).unwrap_or(&Value::Null))).collect();
    cells.join(",") + "\n"
}

/// A reading as the export writes it: the transaction's reading view with its station and
/// transaction.
fn reading_json(r: &csms_store::ExportedReading) -> Value {
    let mut value = views::meter_value(&r.reading);
    value["station_id"] = json!(r.station_id);
    value["transaction_id"] = json!(r.transaction_id);
    value
}

/// The period [from, to) as asked: `to` defaults to now, `from` to 30 days before `to`; a
/// period over `MAX_DAYS` is cut to the days before `to`; both within four-digit years. An
/// inverted period stays inverted: it holds nothing.
struct Period {
    from: Millis,
    to: Millis,
}

impl Period {
    fn text(ms: Millis) -> String {
        chrono::DateTime::from_timestamp_millis(ms).map(|t| format_timestamp(&t)).unwrap_or_default()
    }
}

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

/// Checks the parameters' names against `known` and reads the period and the format.
fn common(api: &Api, params: &HashMap<String, String>, known: &[&str]) -> Result<(Period, Format), ApiError> {
    if let Some(unknown) = params.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter {unknown:?}; this takes {}",
            known.join(", ")
        )));
    }
    let format = match params.get("format").map(String::as_str) {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(other) => return Err(ApiError::bad_request(format!("format must be json or csv, not {other:?}"))),
    };
    let to = time_param(params, "to")?.unwrap_or_else(|| api.clock.now().timestamp_millis()).clamp(FIRST_MS, LAST_MS);
    let from = time_param(params, "from")?
        .unwrap_or(to - DEFAULT_DAYS * DAY_MS)
        .max(to - MAX_DAYS * DAY_MS)
        .clamp(FIRST_MS, LAST_MS);
    Ok((Period { from, to }, format))
}

/// What streams a body chunk by chunk: each call reads the store once and gives the bytes of
/// the next chunk, or `None` when there is nothing more.
trait Chunks: Sized + Send + 'static {
    fn next(self) -> impl Future<Output = Result<Option<(Vec<u8>, Self)>, StoreError>> + Send;
}

enum Step<C> {
    Head(String, C),
    Rows(C),
    End,
}

/// A streamed answer: `head`, the chunks, `tail`; a failed read ends the body with an error.
fn streamed<C: Chunks>(head: String, chunks: C, tail: &'static str, headers: Vec<(String, String)>) -> Response {
    let body = futures_util::stream::unfold(Step::Head(head, chunks), move |step| async move {
        match step {
            Step::Head(head, chunks) => Some((Ok(Bytes::from(head)), Step::Rows(chunks))),
            Step::Rows(chunks) => match chunks.next().await {
                Ok(Some((bytes, chunks))) => Some((Ok(Bytes::from(bytes)), Step::Rows(chunks))),
                Ok(None) => Some((Ok(Bytes::from_static(tail.as_bytes())), Step::End)),
                Err(e) => {
                    tracing::error!(error = %e, "storage failed during an export; its body ends with an error");
                    Some((Err(std::io::Error::other(format!("storage failed: {e}"))), Step::End))
                }
            },
            Step::End => None,
        }
    });
    let mut response = Body::from_stream(body).into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (header::HeaderName::try_from(name), header::HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The content type, the file name, and the period the answer covers.
fn answer_headers(format: Format, name: &str, period: &Period) -> Vec<(String, String)> {
    let (content_type, extension) = match format {
        Format::Json => ("application/json", "json"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    vec![
        (header::CONTENT_TYPE.to_string(), content_type.into()),
        (header::CONTENT_DISPOSITION.to_string(), format!("attachment; filename=\"{name}.{extension}\"")),
        ("x-period-from".into(), Period::text(period.from)),
        ("x-period-to".into(), Period::text(period.to)),
    ]
}

/// Rows of an export: JSON elements joined by commas across chunks, or CSV lines.
struct Rows {
    format: Format,
    written: u64,
}

impl Rows {
    fn add(&mut self, out: &mut Vec<u8>, value: &Value, csv: impl FnOnce(&Value) -> String) {
        match self.format {
            Format::Json => {
                if self.written > 0 {
                    out.extend_from_slice(b",\n");
                }
                out.extend_from_slice(value.to_string().as_bytes());
            }
            Format::Csv => out.extend_from_slice(csv(value).as_bytes()),
        }
        self.written += 1;
    }
}

fn head_and_tail(format: Format, header: String) -> (String, &'static str) {
    match format {
        Format::Json => ("[".into(), "]\n"),
        Format::Csv => (header + "\n", ""),
    }
}

struct CdrChunks {
    api: Arc<Api>,
    filter: ExportFilter,
    after: i64,
    rows: Rows,
}

impl Chunks for CdrChunks {
    async fn next(mut self) -> Result<Option<(Vec<u8>, Self)>, StoreError> {
        let records = self.api.store.export_cdrs(&self.filter, self.after, CHUNK).await?;
        let Some(last) = records.last() else { return Ok(None) };
        self.after = last.id;
        let mut out = Vec::with_capacity(records.len() * 1024);
        for record in &records {
            self.rows.add(&mut out, &cdr_view(record), |v| csv_line(v, CDR_COLUMNS.iter().map(|(_, p)| *p)));
        }
        Ok(Some((out, self)))
    }
}

struct ReadingChunks {
    api: Arc<Api>,
    filter: ExportFilter,
    after: (i64, i64),
    rows: Rows,
    pointers: Vec<String>,
}

impl Chunks for ReadingChunks {
    async fn next(mut self) -> Result<Option<(Vec<u8>, Self)>, StoreError> {
        let readings = self.api.store.export_readings(&self.filter, self.after, CHUNK).await?;
        let Some(last) = readings.last() else { return Ok(None) };
        self.after = last.key;
        let mut out = Vec::with_capacity(readings.len() * 256);
        for reading in &readings {
            let pointers = &self.pointers;
            self.rows.add(&mut out, &reading_json(reading), |v| csv_line(v, pointers.iter().map(String::as_str)));
        }
        Ok(Some((out, self)))
    }
}

fn filter(period: &Period, params: &HashMap<String, String>) -> Result<ExportFilter, ApiError> {
    let transaction_id = params
        .get("transaction_id")
        .map(|t| t.parse::<i64>().map_err(|_| ApiError::bad_request("transaction_id must be an integer")))
        .transpose()?;
    Ok(ExportFilter {
        from: Period::text(period.from),
        to: Period::text(period.to),
        station_id: params.get("station_id").cloned(),
        id_token: params.get("id_token").cloned(),
        transaction_id,
    })
}

/// `GET /api/v1/exports/cdrs?from=&to=&station_id=&id_token=&format=`: the records whose session
/// ended in the period, in the order they were written.
pub(crate) async fn cdrs(State(api): State<Arc<Api>>, Query(params): Params) -> Result<Response, ApiError> {
    let (period, format) = common(&api, &params, &["from", "to", "station_id", "id_token", "format"])?;
    let filter = filter(&period, &params)?;
    let header = CDR_COLUMNS.iter().map(|(h, _)| *h).collect::<Vec<_>>().join(",");
    let (head, tail) = head_and_tail(format, header);
    let chunks = CdrChunks { api, filter, after: i64::MIN, rows: Rows { format, written: 0 } };
    Ok(streamed(head, chunks, tail, answer_headers(format, "cdrs", &period)))
}

/// `GET /api/v1/exports/meter-values?from=&to=&station_id=&transaction_id=&format=`: the readings
/// taken in the period, in the order they were stored.
pub(crate) async fn meter_values(State(api): State<Arc<Api>>, Query(params): Params) -> Result<Response, ApiError> {
    let (period, format) = common(&api, &params, &["from", "to", "station_id", "transaction_id", "format"])?;
    let filter = filter(&period, &params)?;
    let (head, tail) = head_and_tail(format, READING_COLUMNS.join(","));
    let chunks = ReadingChunks {
        api,
        filter,
        after: (i64::MIN, i64::MIN),
        rows: Rows { format, written: 0 },
        pointers: READING_COLUMNS.iter().map(|c| format!("/{c}")).collect(),
    };
    Ok(streamed(head, chunks, tail, answer_headers(format, "meter-values", &period)))
}

/// Wh to three decimals (milliwatt-hours): what interpolation gives beyond that is noise.
fn rounded(wh: f64) -> f64 {
    (wh * 1000.0).round() / 1000.0
}

/// The energy report: per station, the buckets with energy, then the network's every bucket.
struct EnergyChunks {
    api: Arc<Api>,
    format: Format,
    buckets: Buckets,
    from: String,
    to: String,
    station_id: Option<String>,
    /// Read at the first chunk; then the stations still to report, last first.
    stations: Option<Vec<String>>,
    network: Vec<f64>,
    rows: Rows,
    done: bool,
}

impl EnergyChunks {
    fn row(&self, station: Option<&str>, i: usize, wh: f64) -> Value {
        let (start, end) = self.buckets.bucket(i);
        let mut row = json!({"start": Period::text(start), "end": Period::text(end), "energy_wh": rounded(wh)});
        if let Some(station) = station {
            row["station_id"] = json!(station);
        }
        row
    }

    fn csv(row: &Value) -> String {
        let scope = if row.get("station_id").is_some() { "station" } else { "network" };
        format!("{scope},{}", csv_line(row, ["/station_id", "/start", "/end", "/energy_wh"].into_iter()))
    }
}

impl Chunks for EnergyChunks {
    async fn next(mut self) -> Result<Option<(Vec<u8>, Self)>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let mut stations = match self.stations.take() {
            Some(stations) => stations,
            None => {
                let mut all = self.api.store.energy_stations(&self.from, &self.to, self.station_id.as_deref()).await?;
                all.reverse();
                all
            }
        };
        let mut out = Vec::new();
        if let Some(station) = stations.pop() {
            let mut energy = vec![0.0; self.buckets.len()];
            let mut after = i64::MIN;
            loop {
                let part = self
                    .api
                    .store
                    .register_points(&station, &self.from, &self.to, after, TRANSACTIONS_PER_READ)
                    .await?;
                let Some(last) = part.last() else { break };
                after = last.transaction_id;
                for t in &part {
                    self.buckets.spread(&t.points, &mut energy);
                }
            }
            for (i, wh) in energy.iter().enumerate() {
                self.network[i] += wh;
                if *wh != 0.0 {
                    let row = self.row(Some(&station), i, *wh);
                    self.rows.add(&mut out, &row, EnergyChunks::csv);
                }
            }
            self.stations = Some(stations);
            return Ok(Some((out, self)));
        }
        // The stations are done: the network's buckets, each one, and the end of the JSON.
        if self.format == Format::Json {
            out.extend_from_slice(b"],\n\"network\":[");
        }
        self.rows.written = 0;
        for i in 0..self.buckets.len() {
            let row = self.row(None, i, self.network[i]);
            self.rows.add(&mut out, &row, EnergyChunks::csv);
        }
        self.done = true;
        Ok(Some((out, self)))
    }
}

/// `GET /api/v1/reports/energy?from=&to=&granularity=&station_id=&format=`: energy delivered per
/// station and per hour, day or month (UTC), from the transactions' energy registers.
pub(crate) async fn energy(State(api): State<Arc<Api>>, Query(params): Params) -> Result<Response, ApiError> {
    let (period, format) = common(&api, &params, &["from", "to", "granularity", "station_id", "format"])?;
    let granularity = match params.get("granularity") {
        None => Granularity::Day,
        Some(text) => Granularity::parse(text)
            .ok_or_else(|| ApiError::bad_request(format!("granularity must be hour, day or month, not {text:?}")))?,
    };
    let buckets = Buckets::new(period.from, period.to, granularity);
    // The period widened to whole buckets is what the answer covers and what is read.
    let period = match buckets.period() {
        Some((from, to)) => Period { from, to },
        None => period,
    };
    let (from, to) = (Period::text(period.from), Period::text(period.to));
    let head = match format {
        Format::Json => format!(
            "{{\"from\":{},\"to\":{},\"granularity\":\"{}\",\"time_zone\":\"UTC\",\"stations\":[",
            json!(from),
            json!(to),
            granularity.as_str()
        ),
        Format::Csv => "scope,station_id,start,end,energy_wh\n".into(),
    };
    let tail = if format == Format::Json { "]}\n" } else { "" };
    let chunks = EnergyChunks {
        api,
        format,
        network: vec![0.0; buckets.len()],
        buckets,
        from,
        to,
        station_id: params.get("station_id").cloned(),
        stations: None,
        rows: Rows { format, written: 0 },
        done: false,
    };
    Ok(streamed(head, chunks, tail, answer_headers(format, "energy", &period)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_numbers_as_json_writes_them_and_formulas_become_text() {
        let cases = [
            (json!(null), ""),
            (json!(12.5), "12.5"),
            (json!(-3), "-3"),
            (json!("=1+2"), "'=1+2"),
            (json!("a,b"), "\"a,b\""),
        ];
        for (value, cell) in cases {
            assert_eq!(csv_cell(&value), cell, "{value}");
        }
        let record = json!({"id": "7", "total_cost": {"excl_vat": 1.5, "incl_vat": null}});
        assert_eq!(
            csv_line(&record, ["/id", "/total_cost/excl_vat", "/total_cost/incl_vat", "/nope"].into_iter()),
            "7,1.5,,\n"
        );
    }
}
