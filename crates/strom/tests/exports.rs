//! Streamed exports and the energy report (issue 28 item 5): the export of a simulated fleet's
//! charge detail records and readings is, as text, what the API's paged lists give; filters and
//! windows choose what they say; a formula-like id token is text in CSV; the energy report's
//! buckets add up to the transactions' energy and split a session across an hour by time;
//! `strom cdr export` writes what the API streams; a store failure midway breaks the body.

mod common;
mod sim_support;

use common::{Backend, Server};
use csms_api::csv_field;
use serde_json::{json, Value};
use sim_support::{add_tags, sim};

both_backends!(a_simulated_fleet_exports_what_its_lists_say, hand_made_sessions_split_by_hour_and_stay_text);

/// The records' CSV columns, as the export documents them: (header, JSON pointer in a record).
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

const READING_COLUMNS: [&str; 14] = [
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

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => csv_field(text),
        Some(other) => csv_field(&other.to_string()),
    }
}

/// The CDR CSV the export should write for `records`, built here from the list's items.
fn cdr_csv(records: &[Value]) -> String {
    let mut out = CDR_COLUMNS.map(|(h, _)| h).join(",") + "\n";
    for r in records {
        out += &(CDR_COLUMNS.iter().map(|(_, p)| cell(r.pointer(p))).collect::<Vec<_>>().join(",") + "\n");
    }
    out
}

fn reading_csv(readings: &[Value]) -> String {
    let mut out = READING_COLUMNS.join(",") + "\n";
    for r in readings {
        out += &(READING_COLUMNS.iter().map(|c| cell(r.get(*c))).collect::<Vec<_>>().join(",") + "\n");
    }
    out
}

/// GET of a streamed answer as text (the harness joins the chunks and fails on a broken body).
async fn text(server: &Server, path: &str) -> String {
    let (status, head, body) = common::get_with_head(&server.addr, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    assert!(head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "streamed: {head}");
    body
}

async fn json_export(server: &Server, path: &str) -> Vec<Value> {
    let body = text(server, path).await;
    match serde_json::from_str::<Value>(&body) {
        Ok(Value::Array(items)) => items,
        other => panic!("GET {path}: not a JSON array: {other:?}"),
    }
}

fn list(value: Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

/// The readings of transaction `tx` from its paged list, with the station and transaction the
/// export adds.
async fn listed_readings(server: &Server, tx: &Value) -> Vec<Value> {
    let items = list(server.items(&format!("/api/v1/transactions/{}/meter-values?limit=7", tx["id"])).await);
    items
        .into_iter()
        .map(|mut r| {
            r["station_id"] = tx["station_id"].clone();
            r["transaction_id"] = tx["id"].clone();
            r
        })
        .collect()
}

/// Runs `strom ARGS` against the server (API open): (success, stdout, stderr).
async fn strom(server: &Server, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(args)
        .env("STROM_URL", format!("http://{}", server.addr))
        .output()
        .await
        .expect("strom runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 0.01, "{what}: {a} ≠ {b}");
}

async fn a_simulated_fleet_exports_what_its_lists_say(backend: Backend) {
    let server = Server::start(backend).await;
    let tariff = json!({"id": "FLEET", "currency": "EUR", "tax_rate": 19,
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]}]});
    assert_eq!(server.http("POST", "/api/v1/tariffs", Some(tariff)).await.0, 201);
    add_tags(&server, "SIM", 4).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let output = sim(&url, "--stations 4 --version mixed --sessions 3 --samples 6 --seed 5 --fast").await.expect("sim");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let records = list(server.items_eventually("/api/v1/cdrs", 12).await);
    assert_eq!(records.len(), 12, "a record per session");
    let ends: Vec<&str> = records.iter().filter_map(|r| r["end_date_time"].as_str()).collect();
    let last_end = ends.iter().max().expect("ends").to_string();
    let to = chrono::DateTime::parse_from_rfc3339(&last_end).expect("time") + chrono::Duration::hours(1);
    let to = to.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let from = "2000-01-01T00:00:00Z";
    let window = format!("from={from}&to={to}");

    // Every record: the JSON export is the list, the CSV what the list's fields give.
    let exported = json_export(&server, &format!("/api/v1/exports/cdrs?{window}")).await;
    assert_eq!(exported, records, "the JSON export is the paged list");
    let csv = text(&server, &format!("/api/v1/exports/cdrs?{window}&format=csv")).await;
    assert_eq!(csv, cdr_csv(&records));
    // Filters: a station, a token, a window on the session's end.
    let station = records[0]["station_id"].as_str().expect("station").to_string();
    let own: Vec<Value> = records.iter().filter(|r| r["station_id"] == station.as_str()).cloned().collect();
    assert!(!own.is_empty() && own.len() < records.len());
    let csv = text(&server, &format!("/api/v1/exports/cdrs?{window}&station_id={station}&format=csv")).await;
    assert_eq!(csv, cdr_csv(&own));
    let token = records[1]["id_token"].as_str().expect("token").to_string();
    let theirs = list(server.items(&format!("/api/v1/cdrs?id_token={token}")).await);
    assert_eq!(json_export(&server, &format!("/api/v1/exports/cdrs?{window}&id_token={token}")).await, theirs);
    let mut sorted = ends.clone();
    sorted.sort();
    let cut = sorted[sorted.len() / 2];
    let before: Vec<Value> = records.iter().filter(|r| r["end_date_time"].as_str() < Some(cut)).cloned().collect();
    assert!(!before.is_empty() && before.len() < records.len());
    let path = format!("/api/v1/exports/cdrs?from={from}&to={cut}&format=csv");
    assert_eq!(text(&server, &path).await, cdr_csv(&before), "to is on the end, excluded");
    let from_cut = json_export(&server, &format!("/api/v1/exports/cdrs?from={cut}&to={to}")).await;
    assert_eq!(from_cut.len(), records.len() - before.len(), "from is on the end, included");

    // Readings: per transaction, as its paged list; all of them, grouped by transaction, too.
    let transactions = list(server.items("/api/v1/transactions").await);
    let everything = json_export(&server, &format!("/api/v1/exports/meter-values?{window}")).await;
    let mut compared = 0;
    for tx in &transactions {
        let expected = listed_readings(&server, tx).await;
        assert!(!expected.is_empty(), "{tx}");
        let path = format!("/api/v1/exports/meter-values?{window}&transaction_id={}", tx["id"]);
        assert_eq!(json_export(&server, &path).await, expected, "transaction {}", tx["id"]);
        assert_eq!(text(&server, &format!("{path}&format=csv")).await, reading_csv(&expected));
        let in_all: Vec<Value> = everything.iter().filter(|r| r["transaction_id"] == tx["id"]).cloned().collect();
        assert_eq!(in_all, expected, "the whole export holds transaction {}'s readings in order", tx["id"]);
        compared += expected.len();
    }
    assert!(compared > 100, "{compared} readings compared");
    let theirs: Vec<Value> = everything.iter().filter(|r| r["station_id"] == station.as_str()).cloned().collect();
    let path = format!("/api/v1/exports/meter-values?{window}&station_id={station}&format=csv");
    assert_eq!(text(&server, &path).await, reading_csv(&theirs));

    // Energy: each station's buckets add up to its transactions' energy, the network's to all.
    let report = server.get(&format!("/api/v1/reports/energy?{window}&granularity=hour")).await;
    assert_eq!((report["granularity"].as_str(), report["time_zone"].as_str()), (Some("hour"), Some("UTC")));
    let total: f64 = transactions.iter().filter_map(|t| t["energy_wh"].as_f64()).sum();
    assert!(total > 1000.0, "{total}");
    let network: f64 =
        report["network"].as_array().expect("network").iter().filter_map(|b| b["energy_wh"].as_f64()).sum();
    close(network, total, "the network's buckets");
    for station in
        transactions.iter().filter_map(|t| t["station_id"].as_str()).collect::<std::collections::BTreeSet<_>>()
    {
        let delivered: f64 =
            transactions.iter().filter(|t| t["station_id"] == station).filter_map(|t| t["energy_wh"].as_f64()).sum();
        let rows = report["stations"].as_array().expect("stations").iter().filter(|b| b["station_id"] == station);
        close(rows.filter_map(|b| b["energy_wh"].as_f64()).sum(), delivered, station);
    }

    // The CLI writes what the API streams.
    let (ok, out, err) = strom(&server, &["cdr", "export", "--from", from, "--to", &to]).await;
    assert!(ok, "{err}");
    assert_eq!(out, cdr_csv(&records));
    let file = tempfile::NamedTempFile::new().expect("file");
    let file_path = file.path().display().to_string();
    let (ok, _, err) = strom(
        &server,
        &["cdr", "export", "--from", from, "--to", &to, "--station", &station, "--format", "json", "-o", &file_path],
    )
    .await;
    assert!(ok, "{err}");
    let written = std::fs::read_to_string(file.path()).expect("written");
    assert_eq!(written, text(&server, &format!("/api/v1/exports/cdrs?{window}&station_id={station}")).await);
}

async fn hand_made_sessions_split_by_hour_and_stay_text(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("=1+2", "Accepted", None, None).await;
    server.add_token("PLAIN", "Accepted", None, None).await;
    let mut cp = server.booted("CP-A").await;
    // 10:30 to 11:10 with a reading at 10:50: 1,000 Wh in the first 20 minutes, then 1,000 Wh
    // over 20 minutes of which 10 are before 11:00.
    let (tx, _) = cp.start(1, "=1+2", 1_000, "2026-12-07T10:30:00.000Z").await;
    let mv = json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-12-07T10:50:00.000Z",
        "sampledValue": [{"value": "2000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                         {"value": "=cmd", "measurand": "Energy.Active.Import.Register", "unit": "Wh", "phase": "L1"}]}]});
    cp.call_ok("MeterValues", mv).await;
    let stop =
        json!({"transactionId": tx, "meterStop": 3_000, "timestamp": "2026-12-07T11:10:00.000Z", "reason": "Local"});
    cp.call_ok("StopTransaction", stop).await;
    // Another station's session the next day, inside one hour.
    let mut other = server.booted("CP-B").await;
    let (tx2, _) = other.start(1, "PLAIN", 0, "2026-12-08T08:05:00.000Z").await;
    let stop =
        json!({"transactionId": tx2, "meterStop": 500, "timestamp": "2026-12-08T08:20:00.000Z", "reason": "Local"});
    other.call_ok("StopTransaction", stop).await;

    let window = "from=2026-12-07T00:00:00Z&to=2026-12-09T00:00:00Z";
    let report = server.get(&format!("/api/v1/reports/energy?{window}&granularity=hour")).await;
    let rows: Vec<(String, String, f64)> = report["stations"]
        .as_array()
        .expect("stations")
        .iter()
        .map(|b| {
            (
                b["station_id"].as_str().unwrap_or("").into(),
                b["start"].as_str().unwrap_or("").into(),
                b["energy_wh"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    let expected = [
        ("CP-A", "2026-12-07T10:00:00.000Z", 1500.0),
        ("CP-A", "2026-12-07T11:00:00.000Z", 500.0),
        ("CP-B", "2026-12-08T08:00:00.000Z", 500.0),
    ];
    assert_eq!(rows, expected.map(|(s, t, e)| (s.to_string(), t.to_string(), e)).to_vec());
    assert_eq!(report["network"].as_array().map(Vec::len), Some(48), "every hour of the period");
    assert_eq!(report["network"][10]["energy_wh"].as_f64(), Some(1500.0));
    let csv = text(&server, &format!("/api/v1/reports/energy?{window}&granularity=day&format=csv")).await;
    assert_eq!(
        csv,
        "scope,station_id,start,end,energy_wh\n\
         station,CP-A,2026-12-07T00:00:00.000Z,2026-12-08T00:00:00.000Z,2000.0\n\
         station,CP-B,2026-12-08T00:00:00.000Z,2026-12-09T00:00:00.000Z,500.0\n\
         network,,2026-12-07T00:00:00.000Z,2026-12-08T00:00:00.000Z,2000.0\n\
         network,,2026-12-08T00:00:00.000Z,2026-12-09T00:00:00.000Z,500.0\n"
    );
    let month = server.get("/api/v1/reports/energy?from=2026-12-07T12:00:00Z&to=2026-12-07T13:00:00Z&granularity=month&station_id=CP-B").await;
    assert_eq!(
        (month["from"].as_str(), month["to"].as_str()),
        (Some("2026-12-01T00:00:00.000Z"), Some("2027-01-01T00:00:00.000Z"))
    );
    assert_eq!(
        month["stations"],
        json!([{"station_id": "CP-B", "start": "2026-12-01T00:00:00.000Z", "end": "2027-01-01T00:00:00.000Z", "energy_wh": 500.0}])
    );

    // A formula-like token and reading value are text in CSV; JSON keeps them as they are.
    let csv = text(&server, &format!("/api/v1/exports/cdrs?{window}&station_id=CP-A&format=csv")).await;
    let row = csv.lines().nth(1).expect("a record");
    assert!(row.contains(",'=1+2,"), "{row}");
    let records = json_export(&server, &format!("/api/v1/exports/cdrs?{window}&id_token=%3D1%2B2")).await;
    assert_eq!((records.len(), records[0]["id_token"].as_str()), (1, Some("=1+2")));
    let csv = text(&server, &format!("/api/v1/exports/meter-values?{window}&transaction_id={tx}&format=csv")).await;
    assert!(csv.contains(",'=cmd,"), "{csv}");

    // Bad parameters are 400s that name them; a window past the cap is cut, said in a header.
    for (path, word) in [
        ("/api/v1/exports/cdrs?from=yesterday", "from"),
        ("/api/v1/exports/cdrs?format=xml", "format"),
        ("/api/v1/exports/cdrs?limit=5", "limit"),
        ("/api/v1/exports/meter-values?transaction_id=x", "transaction_id"),
        ("/api/v1/reports/energy?granularity=week", "granularity"),
        ("/api/v1/reports/energy?to=2026-13-01T00:00:00Z", "to"),
    ] {
        let (status, answer) = server.http("GET", path, None).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains(word)), "{path}: {answer}");
    }
    let (status, head, _) =
        common::get_with_head(&server.addr, "/api/v1/exports/cdrs?from=2000-01-01T00:00:00Z&to=2026-12-09T00:00:00Z")
            .await;
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("x-period-from: 2025-12-08t00:00:00.000z"), "366 days before to: {head}");
    assert!(head.contains("content-type: application/json"), "{head}");
}

/// A store that fails midway ends the body without its last chunk, and `strom cdr export` fails
/// rather than leave a short file. SQLite only: a row the store cannot read (a BLOB where text
/// belongs) is the failure, planted after the first chunk; PostgreSQL's typed columns take no
/// such row, and no other failure can be timed between two chunks from outside the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_midway_breaks_the_body_sqlite() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start(Backend::Sqlite).await;
    let mut db = server.database().await;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) \
         INSERT INTO cdrs (transaction_id, station_id, id_token, start_date_time, end_date_time, energy_wh, created_at, body) \
         SELECT i, 'CP1', 'T', '2026-12-01T09:00:00.000Z', '2026-12-01T10:00:00.000Z', '0', '2026-12-01T10:00:00.000Z', '{}' FROM n",
    )
    .execute(&mut db)
    .await
    .expect("records");
    sqlx::query(
        "INSERT INTO cdrs (transaction_id, station_id, id_token, start_date_time, end_date_time, energy_wh, created_at, body) \
         VALUES (0, 'CP1', 'T', '2026-12-01T09:00:00.000Z', '2026-12-01T10:00:00.000Z', '0', X'00FF', '{}')",
    )
    .execute(&mut db)
    .await
    .expect("the unreadable record");
    let path = "/api/v1/exports/cdrs?from=2026-11-01T00:00:00Z&to=2026-12-02T00:00:00Z&format=csv";
    let mut socket = tokio::net::TcpStream::connect(&server.addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr);
    socket.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(common::TIMEOUT, socket.read_to_end(&mut answer)).await.expect("in time").expect("read");
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("\n1000,"), "the first chunk was sent: {}", &body[..body.len().min(300)]);
    assert!(!body.contains("\n1001,"), "the second chunk failed as a whole");
    assert_eq!(common::dechunked(body), None, "the body ends without its last chunk");
    let (ok, _, err) =
        strom(&server, &["cdr", "export", "--from", "2026-11-01T00:00:00Z", "--to", "2026-12-02T00:00:00Z"]).await;
    assert!(!ok && err.contains("broke off"), "{err}");
}
