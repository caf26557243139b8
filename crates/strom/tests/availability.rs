//! Availability figures (issue 27 item 5) from a running server: a 1.6 station is faulted at a
//! connector, faulted as a whole while its other connector is Unavailable, and offline for a
//! while; `GET /api/v1/availability` must give each connector's known, offline, faulted and
//! Unavailable-status time as the test computes them from the instants it recorded itself
//! (each edge between the moment before the test's action and the moment after), its faults
//! by category, the mean time to repair, and the same figures as CSV, also from the command line.
//! A 2.0.1 station's EVSE-level fault concerns that EVSE's connectors and no other.

mod common;

use common::{Backend, Server};
use serde_json::{json, Value};
use std::time::Duration;

both_backends!(
    tc_availability_figures_match_the_outages_the_test_made,
    tc_a_201_evse_fault_concerns_its_connectors_only
);

type Instant = chrono::DateTime<chrono::Utc>;

/// When the server did something the test asked for: between `before` and `after`.
#[derive(Debug, Clone, Copy)]
struct Edge {
    before: Instant,
    after: Instant,
}

impl Edge {
    /// The server may take a little longer than the test's `after` to notice (a closed socket).
    fn later_by(self, ms: i64) -> Edge {
        Edge { after: self.after + chrono::Duration::milliseconds(ms), ..self }
    }

    fn exactly(at: Instant) -> Edge {
        Edge { before: at, after: at }
    }
}

async fn edge<F: std::future::Future>(action: F) -> (Edge, F::Output) {
    let before = chrono::Utc::now();
    let out = action.await;
    (Edge { before, after: chrono::Utc::now() }, out)
}

/// Bounds of a sum of spans, in seconds: the least and the most the edges allow.
fn bounds(spans: &[(Edge, Edge)]) -> (f64, f64) {
    let ms = |d: chrono::Duration| d.num_milliseconds() as f64 / 1000.0;
    let least = spans.iter().map(|(start, end)| ms(end.before - start.after)).sum();
    let most = spans.iter().map(|(start, end)| ms(end.after - start.before)).sum();
    (least, most)
}

/// `got` is within `bounds`, give or take the milliseconds stored times are truncated to.
fn within(what: &str, got: &Value, (least, most): (f64, f64)) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got} is no number"));
    let slack = 0.005;
    assert!(got >= least - slack && got <= most + slack, "{what}: {got} s is not within [{least}, {most}]");
}

fn stamp(at: Instant) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Ström's faults of the station of `category`, once `done` holds for them (within five seconds).
async fn faults_when(server: &Server, category: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let path = format!("/api/v1/faults?station_id=CP1&category={category}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let items = server.items(&path).await.as_array().cloned().expect("faults");
        if done(&items) || tokio::time::Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `strom ARGS` against the server; its standard output, once it succeeded.
async fn strom_cli(server: &Server, args: Vec<&str>) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(&args)
        .env("STROM_URL", format!("http://{}", server.addr))
        .output()
        .await
        .expect("strom runs");
    assert!(output.status.success(), "strom {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn connector(station: &Value, id: i64) -> &Value {
    station["connectors"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["connector_id"] == id))
        .unwrap_or_else(|| panic!("no connector {id} in {station}"))
}

async fn tc_availability_figures_match_the_outages_the_test_made(backend: Backend) {
    let server = Server::start_with_config(backend, "offline_grace_secs = 1").await;
    let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));
    let begin = chrono::Utc::now();
    let (created, mut cp) = edge(server.booted("CP1")).await;
    let (c1_known, _) = edge(cp.status(1, "Available", "NoError")).await;
    let (c2_known, _) = edge(cp.status(2, "Available", "NoError")).await;
    // A station whose id a spreadsheet would take for a formula, for the CSV.
    let mut formula = server.booted("=X1").await;
    formula.status(1, "Available", "NoError").await;
    pause(300).await;
    // Connector 1 faulted.
    let (fault_on, _) = edge(cp.status(1, "Faulted", "HighTemperature")).await;
    pause(700).await;
    let (fault_off, _) = edge(cp.status(1, "Available", "NoError")).await;
    // Connector 2 Unavailable, and meanwhile the whole station faulted (1.6 connector 0).
    let (unavailable_on, _) = edge(cp.status(2, "Unavailable", "NoError")).await;
    pause(400).await;
    let (station_fault_on, _) = edge(cp.status(0, "Faulted", "PowerSwitchFailure")).await;
    pause(400).await;
    let (station_fault_off, _) = edge(cp.status(0, "Available", "NoError")).await;
    pause(300).await;
    let (unavailable_off, _) = edge(cp.status(2, "Available", "NoError")).await;
    // Offline: the connection lost for longer than the grace, then back.
    let (gone, _) = edge(cp.close()).await;
    let gone = gone.later_by(200);
    let lost = faults_when(&server, "communication", |f| !f.is_empty()).await;
    assert_eq!(lost.len(), 1, "{lost:?}");
    pause(300).await;
    let (back, _cp) = edge(server.booted("CP1")).await;
    let cleared = faults_when(&server, "communication", |f| f.iter().all(|f| f["open"] == false)).await;
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    pause(200).await;
    let to = chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).expect("now");
    let end = Edge::exactly(to);

    let path = format!("/api/v1/availability?from={}&to={}", stamp(begin), stamp(end.before));
    let report = server.get(&path).await;
    assert_eq!(
        (report["from"].as_str(), report["to"].as_str()),
        (Some(stamp(begin).as_str()), Some(stamp(end.before).as_str()))
    );
    let stations = report["stations"].as_array().expect("stations");
    let cp1 = stations.iter().find(|s| s["station_id"] == "CP1").expect("CP1");
    let (c1, c2) = (connector(cp1, 1), connector(cp1, 2));
    assert_eq!(cp1["connectors"].as_array().map(Vec::len), Some(2), "connector 0 is the station, not a connector");

    let offline = [(gone, back)];
    let station_fault = (station_fault_on, station_fault_off);
    within("CP1 known", &cp1["station_known_s"], bounds(&[(created, end)]));
    within("CP1 offline", &cp1["station_offline_s"], bounds(&offline));
    within("connector 1 known", &c1["known_s"], bounds(&[(c1_known, end)]));
    within("connector 1 offline", &c1["offline_s"], bounds(&offline));
    within("connector 1 faulted", &c1["faulted_s"], bounds(&[(fault_on, fault_off), station_fault]));
    // Its Faulted statuses are the faults' own time: counted once, as faulted.
    within("connector 1 status", &c1["unavailable_status_s"], (0.0, 0.0));
    within("connector 2 known", &c2["known_s"], bounds(&[(c2_known, end)]));
    within("connector 2 offline", &c2["offline_s"], bounds(&offline));
    within("connector 2 faulted", &c2["faulted_s"], bounds(&[station_fault]));
    // Unavailable, but the station's fault in the middle is counted as faulted.
    within(
        "connector 2 status",
        &c2["unavailable_status_s"],
        bounds(&[(unavailable_on, station_fault_on), (station_fault_off, unavailable_off)]),
    );
    for c in [c1, c2] {
        let part = |name: &str| c[name].as_f64().expect("seconds");
        let unavailable = part("offline_s") + part("faulted_s") + part("unavailable_status_s");
        assert!((part("unavailable_s") - unavailable).abs() < 1e-6, "{c}");
        let uptime = (part("known_s") - unavailable) * 100.0 / part("known_s");
        assert!((part("uptime_percent") - uptime).abs() < 0.001, "{c}: uptime {uptime}");
        assert!(part("uptime_percent") > 0.0 && part("uptime_percent") < 100.0, "{c}");
    }

    // Faults begun in the period: its own thermal one, the station's internal one (a power
    // switch), the lost connection; each repaired in it.
    let counts = |v: &Value| {
        ["thermal", "internal", "communication", "other"].map(|c| v["faults_by_category"][c].as_i64().expect("count"))
    };
    assert_eq!((counts(c1), &c1["faults"], &c1["repairs"]), ([1, 1, 1, 0], &3.into(), &3.into()), "{c1}");
    assert_eq!((counts(c2), &c2["faults"], &c2["repairs"]), ([0, 1, 1, 0], &2.into(), &2.into()), "{c2}");
    assert_eq!((counts(cp1), &cp1["faults"], &cp1["repairs"]), ([1, 1, 1, 0], &3.into(), &3.into()), "{cp1}");
    let (least, most) = bounds(&[(fault_on, fault_off), station_fault, (gone, back)]);
    within("CP1 mean time to repair", &cp1["mttr_s"], (least / 3.0, most / 3.0));
    within("connector 2 mean time to repair", &c2["mttr_s"], {
        let (least, most) = bounds(&[station_fault, (gone, back)]);
        (least / 2.0, most / 2.0)
    });
    // The station: its connectors summed; the network: every station's.
    let sum = |field: &str| c1[field].as_f64().expect("seconds") + c2[field].as_f64().expect("seconds");
    for field in ["known_s", "unavailable_s", "offline_s", "faulted_s", "unavailable_status_s"] {
        assert!((cp1[field].as_f64().expect("seconds") - sum(field)).abs() < 1e-6, "{field}: {cp1}");
    }
    let totals = &report["totals"];
    assert_eq!(
        (&totals["stations"], &totals["connectors"], &totals["faults"]),
        (&2.into(), &3.into(), &3.into()),
        "{totals}"
    );
    assert!(totals["known_s"].as_f64() > cp1["known_s"].as_f64(), "{totals}");

    // The same as CSV: one row per connector, plain numbers, the formula made text.
    let (status, head, csv) = common::get_with_head(&server.addr, &format!("{path}&format=csv")).await;
    assert_eq!(status, 200, "{csv}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/csv"), "{head}");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    assert_eq!(header[..3], ["station_id", "evse_id", "connector_id"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows.iter().all(|r| r.len() == header.len()), "{csv}");
    let cell = |row: &[&str], name: &str| row[header.iter().position(|h| *h == name).expect(name)].to_string();
    let row1 = rows.iter().find(|r| r[0] == "CP1" && r[2] == "1").expect("CP1 connector 1");
    for name in ["known_s", "offline_s", "faulted_s", "unavailable_status_s", "uptime_percent", "mttr_s"] {
        let number: f64 = cell(row1, name).parse().unwrap_or_else(|_| panic!("{name}: {}", cell(row1, name)));
        assert_eq!(Some(number), c1[name].as_f64(), "{name}");
    }
    assert_eq!((cell(row1, "evse_id"), cell(row1, "faults_thermal")), (String::new(), "1".to_string()));
    assert!(rows.iter().any(|r| r[0] == "'=X1"), "a formula-like station id is text: {csv}");
    let doc = server.get("/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/availability"]["get"]["responses"]["200"]["content"]["text/csv"].is_object());

    // The command line: the same CSV, and a table.
    let (from_arg, to_arg) = (stamp(begin), stamp(end.before));
    let period = ["report", "availability", "--from", from_arg.as_str(), "--to", to_arg.as_str()];
    let cli = |extra: &'static [&'static str]| {
        let args: Vec<&str> = period.iter().chain(extra).copied().collect();
        strom_cli(&server, args)
    };
    assert_eq!(cli(&["--format", "csv"]).await, csv);
    let table = cli(&["--station", "CP1"]).await;
    assert!(table.contains("CP1") && table.contains("UPTIME") && !table.contains("=X1"), "{table}");

    // One station; one Ström does not know; a period before anything was known.
    let one = server.get(&format!("{path}&station_id=CP1")).await;
    assert_eq!(one["stations"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["stations"][0]["known_s"], cp1["known_s"]);
    let none = server.get(&format!("{path}&station_id=NOPE")).await;
    assert_eq!((none["stations"].as_array().map(Vec::len), &none["totals"]["uptime_percent"]), (Some(0), &Value::Null));
    let early = begin - chrono::Duration::hours(1);
    let before = server.get(&format!("/api/v1/availability?from={}&to={}", stamp(early), stamp(begin))).await;
    assert_eq!(
        (&before["totals"]["known_s"], &before["totals"]["uptime_percent"]),
        (&0.0.into(), &Value::Null),
        "{before}"
    );
    // The default period: the 30 days up to now, which hold all of it.
    let default = server.get("/api/v1/availability?station_id=CP1").await;
    assert_eq!(default["stations"][0]["faults"], 3);
    // A malformed time or format is a 400.
    for bad in ["from=yesterday", "format=xlsx", "since=2026-01-01T00:00:00Z"] {
        let (status, answer) = server.http("GET", &format!("/api/v1/availability?{bad}"), None).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
}

async fn tc_a_201_evse_fault_concerns_its_connectors_only(backend: Backend) {
    let server = Server::start(backend).await;
    let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));
    let begin = chrono::Utc::now();
    let mut cs = server.booted201("CS1").await;
    let now = || stamp(chrono::Utc::now());
    let status = |evse: i64, status: &str| json!({"timestamp": now(), "connectorStatus": status, "evseId": evse, "connectorId": 1});
    // The EVSE as a whole (no connector) has a problem: a fault at EVSE 1, connector 0.
    let problem = |value: &str| {
        let event = json!({"eventId": 1, "timestamp": now(), "trigger": "Delta", "actualValue": value,
            "component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Problem"},
            "eventNotificationType": "HardWiredNotification"});
        json!({"generatedAt": now(), "seqNo": 0, "eventData": [event]})
    };
    // The payloads are built inside the edges (their timestamps are the station's times).
    let (e1_known, _) = edge(async { cs.call_ok("StatusNotification", status(1, "Available")).await }).await;
    let (e2_known, _) = edge(async { cs.call_ok("StatusNotification", status(2, "Available")).await }).await;
    pause(200).await;
    let (problem_on, _) = edge(async { cs.call_ok("NotifyEvent", problem("true")).await }).await;
    pause(500).await;
    let (problem_off, _) = edge(async { cs.call_ok("NotifyEvent", problem("false")).await }).await;
    let (unavailable_on, _) = edge(async { cs.call_ok("StatusNotification", status(2, "Unavailable")).await }).await;
    pause(400).await;
    let (unavailable_off, _) = edge(async { cs.call_ok("StatusNotification", status(2, "Available")).await }).await;
    let to = chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).expect("now");
    let end = Edge::exactly(to);

    let report = server.get(&format!("/api/v1/availability?from={}&to={}", stamp(begin), stamp(to))).await;
    let station = &report["stations"][0];
    assert_eq!(station["station_id"], "CS1");
    let evse = |id: i64| {
        station["connectors"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["evse_id"] == id && c["connector_id"] == 1))
            .unwrap_or_else(|| panic!("no EVSE {id} in {station}"))
    };
    let (e1, e2) = (evse(1), evse(2));
    within("EVSE 1 known", &e1["known_s"], bounds(&[(e1_known, end)]));
    within("EVSE 1 faulted", &e1["faulted_s"], bounds(&[(problem_on, problem_off)]));
    within("EVSE 1 status", &e1["unavailable_status_s"], (0.0, 0.0));
    within("EVSE 2 known", &e2["known_s"], bounds(&[(e2_known, end)]));
    within("EVSE 2 faulted", &e2["faulted_s"], (0.0, 0.0));
    within("EVSE 2 status", &e2["unavailable_status_s"], bounds(&[(unavailable_on, unavailable_off)]));
    // EVSE 2's Unavailable with no operator setting behind it is Ström's OutOfService fault: a
    // warning (counted among the faults, not as faulted time: the status already is).
    assert_eq!((&e1["faults"], &e1["repairs"], &e2["faults"]), (&1.into(), &1.into(), &1.into()), "{station}");
    assert_eq!(e2["faults_by_category"]["internal"], 1, "{station}");
    within("EVSE 1 mean time to repair", &e1["mttr_s"], bounds(&[(problem_on, problem_off)]));
    assert_eq!(e2["mttr_s"], Value::Null);
}
