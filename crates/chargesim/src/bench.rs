//! `strom bench`: N simulated OCPP 1.6 stations, each with exactly one CALL outstanding, run a
//! scenario against a CSMS for a fixed time and report throughput and latency percentiles.

use futures_util::{SinkExt, StreamExt};
use ocpp::v16::{
    Action, AuthorizeRequest, BootNotificationRequest, Request, StartTransactionRequest, StatusNotificationErrorCode,
    StatusNotificationRequest, StatusNotificationStatus, StopTransactionReason, StopTransactionRequest,
};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// What each station does in a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Connect and BootNotification, once per station; measures connection set-up.
    Boot,
    Heartbeat,
    /// MeterValues with 8 sampled values.
    Meter,
    /// Whole sessions of 10 CALLs (authorize, statuses, start, 4 × meter values, stop).
    Session,
    /// Connected and booted, one Heartbeat a minute: measures what an idle connection costs.
    Idle,
}

impl Scenario {
    pub fn parse(text: &str) -> Option<Scenario> {
        match text {
            "boot" => Some(Scenario::Boot),
            "heartbeat" => Some(Scenario::Heartbeat),
            "meter" => Some(Scenario::Meter),
            "session" => Some(Scenario::Session),
            "idle" => Some(Scenario::Idle),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Boot => "boot",
            Scenario::Heartbeat => "heartbeat",
            Scenario::Meter => "meter",
            Scenario::Session => "session",
            Scenario::Idle => "idle",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// `ws://HOST:PORT/ocpp`; station identities are appended.
    pub url: String,
    pub scenario: Scenario,
    pub stations: usize,
    pub duration: Duration,
    /// Identity prefix, so that concurrent runs do not replace each other's sessions.
    pub prefix: String,
    /// A CALL without an answer after this long counts as a timeout.
    pub call_timeout: Duration,
    /// The id tag sessions use; it must be known and Accepted for sessions to be realistic.
    pub id_tag: String,
    /// The CSMS's process id on this machine: its resident memory is read before the stations
    /// connect and while they are all connected (Linux /proc).
    pub server_pid: Option<u32>,
    /// Worker threads the caller's runtime runs the stations on: the loader's CPU use is
    /// reported as a share of them (or of the machine's cores, if fewer).
    pub threads: usize,
}

/// The result of a run, printed as one JSON line.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub scenario: Scenario,
    pub stations: usize,
    pub connected: usize,
    pub elapsed: Duration,
    pub calls: u64,
    pub sessions: u64,
    pub errors: u64,
    pub timeouts: u64,
    /// Stations that could not connect, boot or go on (a lost connection), and why the first did.
    pub failed: usize,
    pub first_failure: Option<String>,
    /// Latencies in microseconds, sorted.
    latencies: Vec<u32>,
    /// Share of the available CPU the loader itself used.
    pub loader_cpu: Option<f64>,
    /// The server's resident memory (bytes) before the stations connected and with all of them
    /// connected.
    pub server_rss: Option<(u64, u64)>,
}

impl BenchReport {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies[index]) / 1000.0
    }

    pub fn to_json(&self) -> Value {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        json!({
            "scenario": self.scenario.name(),
            "stations": self.stations,
            "connected": self.connected,
            "duration_s": (secs * 1000.0).round() / 1000.0,
            "calls": self.calls,
            "calls_per_s": (self.calls as f64 / secs).round(),
            "sessions": self.sessions,
            "sessions_per_s": (self.sessions as f64 / secs).round(),
            "p50_ms": self.percentile(0.50),
            "p90_ms": self.percentile(0.90),
            "p99_ms": self.percentile(0.99),
            "max_ms": self.latencies.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
            "errors": self.errors,
            "timeouts": self.timeouts,
            "failed_stations": self.failed,
            "first_failure": self.first_failure,
            "loader_cpu": self.loader_cpu.map(|c| (c * 100.0).round() / 100.0),
            "server_rss_before_kib": self.server_rss.map(|r| r.0 / 1024),
            "server_rss_connected_kib": self.server_rss.map(|r| r.1 / 1024),
            "server_kib_per_connection": self.server_rss.filter(|_| self.connected > 0).map(|(before, after)| {
                (after.saturating_sub(before) as f64 / 1024.0 / self.connected as f64 * 10.0).round() / 10.0
            }),
            "loader_bound": self.loader_cpu.is_some_and(|c| c > 0.9),
        })
    }
}

#[derive(Default)]
struct StationResult {
    connected: bool,
    calls: u64,
    sessions: u64,
    errors: u64,
    timeouts: u64,
    latencies: Vec<u32>,
    failure: Option<String>,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Station {
    ws: Ws,
    next_id: u64,
    timeout: Duration,
}

enum Answer {
    /// The CALLRESULT's payload, as sent.
    Result(String),
    Error,
    Timeout,
}

impl Station {
    async fn connect(url: &str, identity: &str, timeout: Duration) -> Result<Station, String> {
        let mut request = format!("{url}/{identity}").into_client_request().map_err(|e| e.to_string())?;
        let protocol = "ocpp1.6".parse().map_err(|_| "header".to_string())?;
        request.headers_mut().insert("Sec-WebSocket-Protocol", protocol);
        // A small read buffer: tungstenite zeroes the whole buffer before every read, which with
        // its 128 KiB default made memset the loader's largest cost, with 8 KiB still 5 % of it
        // and with 512 bytes 3 % (profiled). The CSMS's answers here are a few dozen bytes; a
        // longer one takes more reads.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(128);
        let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
        let (ws, _) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        Ok(Station { ws, next_id: 0, timeout })
    }

    /// Sends one CALL (its payload already serialised) and waits for its answer. In debug builds
    /// the request is checked against the schema first, so that a benchmark never measures the
    /// CSMS refusing our own mistakes; the tests run those.
    async fn call(&mut self, action: Action, payload: &str) -> Result<Answer, String> {
        debug_assert!(ocpp::v16::Request::decode(action, payload).is_ok(), "{action:?}: {payload}");
        self.next_id += 1;
        let id = self.next_id.to_string();
        let frame = ocpp::Frame::encode_call(&id, action.as_str(), payload);
        self.ws.send(Message::text(frame)).await.map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Ok(Answer::Timeout),
                Ok(None) => return Err("connection closed".into()),
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(Some(Ok(m))) => m,
            };
            let Message::Text(text) = message else { continue };
            match ocpp::Frame::parse(text.as_str()) {
                Ok(ocpp::Frame::CallResult { id: got, payload }) if got == id => {
                    return Ok(Answer::Result(payload.get().to_string()));
                }
                Ok(ocpp::Frame::CallError { id: got, .. }) if got == id => return Ok(Answer::Error),
                // A CSMS CALL to the station (e.g. TriggerMessage) is not part of the benchmark.
                _ => continue,
            }
        }
    }
}

/// MeterValues with 8 sampled values, written out directly: the loader should spend its time
/// on the wire, not on building JSON trees.
fn meter_values(transaction: Option<i64>, wh: u64) -> String {
    const SAMPLED: &str = r#"{"value":"7200","measurand":"Power.Active.Import","unit":"W"},{"value":"230.1","measurand":"Voltage","phase":"L1-N","unit":"V"},{"value":"229.8","measurand":"Voltage","phase":"L2-N","unit":"V"},{"value":"230.4","measurand":"Voltage","phase":"L3-N","unit":"V"},{"value":"10.4","measurand":"Current.Import","phase":"L1","unit":"A"},{"value":"10.5","measurand":"Current.Import","phase":"L2","unit":"A"},{"value":"10.3","measurand":"Current.Import","phase":"L3","unit":"A"}"#;
    // Pushed piece by piece into one allocation: `format!` sized its buffer by the literal
    // pieces alone and grew it three times for the sampled values (a third of the loader's
    // instructions went to formatting).
    let mut out = String::with_capacity(SAMPLED.len() + 200);
    out.push_str(r#"{"connectorId":1"#);
    if let Some(tx) = transaction {
        out.push_str(r#","transactionId":"#);
        let _ = write!(out, "{tx}");
    }
    out.push_str(r#","meterValue":[{"timestamp":""#);
    push_now(&mut out);
    out.push_str(r#"","sampledValue":[{"value":""#);
    let _ = write!(out, "{wh}");
    out.push_str(r#"","measurand":"Energy.Active.Import.Register","unit":"Wh"},"#);
    out.push_str(SAMPLED);
    out.push_str("]}]}");
    out
}

/// A typed request as its payload text: the boot and the session scenario's requests are typed,
/// so that they are schema-valid by construction (the meter hot path is hand-built instead).
fn encode(request: &Request) -> Result<String, String> {
    request.to_json().map_err(|e| format!("{:?}: {e}", request.action()))
}

/// The current time for a typed request. The session scenario sends it twice per ten calls; the
/// meter scenario's hot path stamps its hand-built text with `push_now` instead.
fn now_typed() -> ocpp::DateTime {
    ocpp::DateTime(std::time::SystemTime::now().into())
}

/// The current time as OCPP writes it, appended to `out`. Formatted once per millisecond per
/// thread: the loader stamps tens of thousands of messages a second, and chrono interprets its
/// pattern each time.
fn push_now(out: &mut String) {
    thread_local! {
        static LAST: std::cell::RefCell<(u128, String)> = const { std::cell::RefCell::new((u128::MAX, String::new())) };
    }
    let at = std::time::SystemTime::now();
    let millis = at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    LAST.with_borrow_mut(|(last, text)| {
        if *last != millis {
            *last = millis;
            *text = ocpp::DateTime(at.into()).to_string();
        }
        out.push_str(text);
    })
}

async fn run_station(config: BenchConfig, index: usize, start_at: Instant, end_at: Instant) -> StationResult {
    let mut result = StationResult::default();
    let identity = format!("{}{index}", config.prefix);
    let connect_started = Instant::now();
    let mut station = match Station::connect(&config.url, &identity, config.call_timeout).await {
        Ok(s) => s,
        Err(e) => {
            result.failure = Some(e);
            return result;
        }
    };
    result.connected = true;
    let boot = encode(&Request::BootNotification(BootNotificationRequest {
        charge_box_serial_number: None,
        charge_point_model: "bench".into(),
        charge_point_serial_number: None,
        charge_point_vendor: "chargesim".into(),
        firmware_version: None,
        iccid: None,
        imsi: None,
        meter_serial_number: None,
        meter_type: None,
    }));
    let boot = match boot {
        Ok(boot) => boot,
        Err(e) => {
            result.failure = Some(e);
            return result;
        }
    };
    let mut record = |result: &mut StationResult, started: Instant, answer: &Answer| {
        result.calls += 1;
        result.latencies.push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        match answer {
            Answer::Error => result.errors += 1,
            Answer::Timeout => result.timeouts += 1,
            Answer::Result(_) => {}
        }
    };
    match station.call(Action::BootNotification, &boot).await {
        Ok(answer) => {
            if config.scenario == Scenario::Boot {
                // The whole set-up counts: TCP, WebSocket handshake and the boot.
                record(&mut result, connect_started, &answer);
                return result;
            }
        }
        Err(e) => {
            result.failure = Some(e);
            return result;
        }
    }
    tokio::time::sleep_until(start_at.into()).await;
    let mut wh: u64 = 0;
    while Instant::now() < end_at {
        let outcome = match config.scenario {
            Scenario::Heartbeat | Scenario::Boot => {
                let t = Instant::now();
                station.call(Action::Heartbeat, "{}").await.map(|a| record(&mut result, t, &a))
            }
            Scenario::Meter => {
                wh += 7;
                let t = Instant::now();
                station.call(Action::MeterValues, &meter_values(None, wh)).await.map(|a| record(&mut result, t, &a))
            }
            Scenario::Session => session(&mut station, &config.id_tag, &mut wh, &mut result, &mut record).await,
            Scenario::Idle => {
                // Keep the connection; one heartbeat a minute, none after the end.
                let next = (Instant::now() + Duration::from_secs(60)).min(end_at);
                tokio::time::sleep_until(next.into()).await;
                if Instant::now() >= end_at {
                    break;
                }
                let t = Instant::now();
                station.call(Action::Heartbeat, "{}").await.map(|a| record(&mut result, t, &a))
            }
        };
        if let Err(e) = outcome {
            result.failure = Some(e);
            break;
        }
    }
    let _ = station.ws.close(None).await;
    result
}

/// One charging session of 10 CALLs.
async fn session(
    station: &mut Station,
    id_tag: &str,
    wh: &mut u64,
    result: &mut StationResult,
    record: &mut impl FnMut(&mut StationResult, Instant, &Answer),
) -> Result<(), String> {
    let status = |status| {
        encode(&Request::StatusNotification(StatusNotificationRequest {
            connector_id: 1,
            error_code: StatusNotificationErrorCode::NoError,
            info: None,
            status,
            timestamp: None,
            vendor_error_code: None,
            vendor_id: None,
        }))
    };
    let mut step = |r: &mut StationResult, t: Instant, a: Answer| -> Answer {
        record(r, t, &a);
        a
    };
    let t = Instant::now();
    let a = station
        .call(Action::Authorize, &encode(&Request::Authorize(AuthorizeRequest { id_tag: id_tag.into() }))?)
        .await?;
    step(result, t, a);
    let t = Instant::now();
    let a = station.call(Action::StatusNotification, &status(StatusNotificationStatus::Preparing)?).await?;
    step(result, t, a);
    let start = encode(&Request::StartTransaction(StartTransactionRequest {
        connector_id: 1,
        id_tag: id_tag.into(),
        meter_start: *wh as i64,
        reservation_id: None,
        timestamp: now_typed(),
    }))?;
    let t = Instant::now();
    let a = station.call(Action::StartTransaction, &start).await?;
    // Decoded as StartTransaction's answer; one that breaks the schema gives no transaction.
    let tx = match step(result, t, a) {
        Answer::Result(payload) => match ocpp::v16::Response::decode(Action::StartTransaction, &payload) {
            Ok(ocpp::v16::Response::StartTransaction(answer)) => Some(answer.transaction_id),
            _ => None,
        },
        _ => None,
    };
    let t = Instant::now();
    let a = station.call(Action::StatusNotification, &status(StatusNotificationStatus::Charging)?).await?;
    step(result, t, a);
    for _ in 0..4 {
        *wh += 250;
        let t = Instant::now();
        let a = station.call(Action::MeterValues, &meter_values(tx, *wh)).await?;
        step(result, t, a);
    }
    let stop = encode(&Request::StopTransaction(StopTransactionRequest {
        id_tag: None,
        meter_stop: *wh as i64,
        reason: Some(StopTransactionReason::EVDisconnected),
        timestamp: now_typed(),
        transaction_data: None,
        transaction_id: tx.unwrap_or(0),
    }))?;
    let t = Instant::now();
    let a = station.call(Action::StopTransaction, &stop).await?;
    step(result, t, a);
    let t = Instant::now();
    let a = station.call(Action::StatusNotification, &status(StatusNotificationStatus::Available)?).await?;
    step(result, t, a);
    result.sessions += 1;
    Ok(())
}

/// A process's resident memory in bytes, from /proc where there is one.
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time this process has used (user + system), from /proc where there is one.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux Ström targets.
    Some(Duration::from_millis(ticks * 10))
}

/// Runs the benchmark: all stations connect and boot, then run the scenario together for
/// `duration` (the boot scenario measures connection and boot only).
pub async fn run(config: BenchConfig) -> Result<BenchReport, crate::Error> {
    let settle = Duration::from_millis(200 + 2 * config.stations as u64);
    let start_at = Instant::now() + settle;
    let end_at = start_at + config.duration;
    let cpu_before = process_cpu();
    let rss_before = config.server_pid.and_then(resident_bytes);
    let boot_started = Instant::now();
    let tasks: Vec<_> =
        (0..config.stations).map(|i| tokio::spawn(run_station(config.clone(), i, start_at, end_at))).collect();
    // Halfway through the run every station is connected (boot scenarios excepted).
    let rss_connected = match config.server_pid {
        Some(pid) if config.scenario != Scenario::Boot => {
            tokio::time::sleep_until((start_at + config.duration / 2).into()).await;
            resident_bytes(pid)
        }
        _ => None,
    };
    let mut report = BenchReport {
        scenario: config.scenario,
        stations: config.stations,
        connected: 0,
        elapsed: Duration::ZERO,
        calls: 0,
        sessions: 0,
        errors: 0,
        timeouts: 0,
        failed: 0,
        first_failure: None,
        latencies: Vec::new(),
        loader_cpu: None,
        server_rss: rss_before.zip(rss_connected),
    };
    for task in tasks {
        let r = task.await.unwrap_or_default();
        report.connected += usize::from(r.connected);
        report.calls += r.calls;
        report.sessions += r.sessions;
        report.errors += r.errors;
        report.timeouts += r.timeouts;
        report.latencies.extend(r.latencies);
        if let Some(failure) = r.failure {
            report.failed += 1;
            report.first_failure.get_or_insert(failure);
        }
    }
    report.elapsed = if config.scenario == Scenario::Boot {
        boot_started.elapsed()
    } else {
        end_at.saturating_duration_since(start_at)
    };
    if report.connected == 0 {
        return Err(crate::Error::NoConnection(report.first_failure.unwrap_or_default()));
    }
    report.latencies.sort_unstable();
    let wall = boot_started.elapsed();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(config.threads.max(1)) as f64;
    report.loader_cpu = match (cpu_before, process_cpu()) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64() / (wall.as_secs_f64() * cores)),
        _ => None,
    };
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_meter_values_are_valid_requests() {
        for transaction in [None, Some(42)] {
            let payload = meter_values(transaction, 1234);
            let decoded = ocpp::v16::Request::decode(Action::MeterValues, &payload);
            assert!(decoded.is_ok(), "{payload}: {decoded:?}");
            let value: Value = serde_json::from_str(&payload).expect("JSON");
            assert_eq!(value["meterValue"][0]["sampledValue"].as_array().map(Vec::len), Some(8));
            assert_eq!(value["transactionId"].as_i64(), transaction);
        }
    }
}
