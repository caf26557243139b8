//! `strom bench` against a real server on loopback: bounded (a few stations, one second), it
//! reports calls, percentiles and no errors, and the server stored what the stations sent.

mod common;

use common::{Backend, Server};
use serde_json::Value;

both_backends!(bench_meter_and_session_runs_report_honestly);

/// One second of `strom bench` from three stations against `url` with `args`, which must
/// succeed; its standard output.
async fn bench_output(url: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["bench", "--url", url, "--duration", "1", "--stations", "3"])
        .args(args)
        .output()
        .await
        .expect("strom bench runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

async fn bench(server: &Server, args: &[&str]) -> Value {
    let stdout = bench_output(&format!("ws://{}/ocpp", server.addr), args).await;
    serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("JSON")
}

#[test]
fn bench_refuses_a_loader_without_threads() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["bench", "--url", "ws://127.0.0.1:9/ocpp", "--threads", "0"])
        .output()
        .expect("strom bench runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--threads"), "{output:?}");
}

async fn bench_meter_and_session_runs_report_honestly(backend: Backend) {
    // One simulated station sends far more than a real one: no per-station limits.
    let server = Server::start_with(backend, &["--no-rate-limits"]).await;
    let meter = bench(&server, &["--scenario", "meter", "--prefix", "m-"]).await;
    assert_eq!((meter["scenario"].as_str(), meter["connected"].as_u64()), (Some("meter"), Some(3)));
    assert_eq!((meter["errors"].as_u64(), meter["timeouts"].as_u64()), (Some(0), Some(0)));
    assert_eq!((meter["failed_stations"].as_u64(), &meter["first_failure"]), (Some(0), &Value::Null));
    let calls = meter["calls"].as_u64().expect("calls");
    assert!(calls > 0);
    assert!(
        meter["p50_ms"].as_f64() <= meter["p99_ms"].as_f64() && meter["p99_ms"].as_f64() <= meter["max_ms"].as_f64()
    );
    let stations = server.items("/api/v1/stations").await;
    assert_eq!(stations.as_array().map(Vec::len), Some(3));

    server.add_token("BENCH", "Accepted", None, None).await;
    let session = bench(&server, &["--scenario", "session", "--prefix", "s-", "--threads", "2"]).await;
    let sessions = session["sessions"].as_u64().expect("sessions");
    assert!(sessions > 0, "{session}");
    assert_eq!(session["errors"], 0);
    // Every completed session is a stored, closed transaction with its energy.
    let done = server.items("/api/v1/transactions?active=false&limit=1000").await;
    let done = done.as_array().expect("array");
    assert!(done.len() as u64 >= sessions, "{} stored, {sessions} reported", done.len());
    // The bench's stations share one tag: a start refused as ConcurrentTx charges all the same,
    // and is flagged so; nothing else is.
    let honest = |t: &Value| match t["start_auth_status"].as_str() {
        Some("Accepted") => t["flags"] == serde_json::json!([]),
        _ => t["flags"] == serde_json::json!(["charged_while_unauthorized"]),
    };
    assert!(done.iter().all(|t| t["energy_wh"] == 1000.0 && honest(t)), "{done:?}");

    let pid = server.pid().to_string();
    let idle = bench(&server, &["--scenario", "idle", "--prefix", "i-", "--server-pid", &pid]).await;
    assert_eq!((idle["connected"].as_u64(), idle["errors"].as_u64()), (Some(3), Some(0)));
    assert!(idle["server_rss_connected_kib"].as_u64().is_some_and(|kib| kib > 0), "{idle}");
    assert!(idle["server_kib_per_connection"].is_number(), "{idle}");
}

/// `strom responder` with `args`, and the address it says it listens on.
async fn start_responder(args: &[&str]) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut responder = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["responder", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("strom responder starts");
    let mut lines = tokio::io::BufReader::new(responder.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .expect("the responder says where it listens")
        .expect("stdout")
        .expect("a line");
    let addr = first.strip_prefix("responder listening on ").expect(&first).to_string();
    (responder, addr)
}

/// One second of `scenario` from three stations against the responder at `addr`, which must
/// answer every call.
async fn bench_responder(addr: &str, scenario: &str) -> Value {
    let stdout = bench_output(&format!("ws://{addr}/ocpp"), &["--scenario", scenario]).await;
    let report: Value = serde_json::from_str(&stdout).expect("one JSON line");
    assert_eq!((report["connected"].as_u64(), report["failed_stations"].as_u64()), (Some(3), Some(0)), "{report}");
    assert_eq!((report["errors"].as_u64(), report["timeouts"].as_u64()), (Some(0), Some(0)), "{report}");
    assert!(report["calls"].as_u64().is_some_and(|calls| calls > 3), "{report}");
    report
}

/// `strom responder`, the machine's yardstick: it answers every CALL of `strom bench` at once,
/// and holds the stations' connections until they close them.
#[tokio::test]
async fn the_bare_responder_answers_every_call() {
    let (mut responder, addr) = start_responder(&[]).await;
    for scenario in ["meter", "heartbeat"] {
        bench_responder(&addr, scenario).await;
    }
    assert!(responder.try_wait().expect("status").is_none(), "the responder is still running");
}

/// `strom responder --durable FILE`, the disk's yardstick: every call it answered is in its
/// journal, a length and the frame as the station sent it.
#[tokio::test]
async fn the_durable_responder_answers_what_its_journal_holds() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let journal = dir.path().join("journal");
    let (mut responder, addr) = start_responder(&["--durable", journal.to_str().expect("utf-8")]).await;
    let report = bench_responder(&addr, "meter").await;
    assert!(responder.try_wait().expect("status").is_none(), "the responder is still running");
    drop(responder);

    let bytes = std::fs::read(&journal).expect("the journal");
    let mut rest = bytes.as_slice();
    let mut meter_values = 0;
    while !rest.is_empty() {
        let (length, after) = rest.split_at(4);
        let length = u32::from_le_bytes(length.try_into().expect("four bytes")) as usize;
        let frame: Value = serde_json::from_slice(&after[..length]).expect("a frame as sent");
        assert_eq!(frame[0], 2, "{frame}");
        meter_values += usize::from(frame[2] == "MeterValues");
        rest = &after[length..];
    }
    let answered = report["calls"].as_u64().expect("calls") as usize;
    assert!(meter_values >= answered, "{meter_values} MeterValues in the journal, {answered} answered");

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["responder", "--listen", "127.0.0.1:0", "--durable"])
        .arg(dir.path().join("missing").join("journal"))
        .output()
        .expect("strom responder runs");
    assert!(!refused.status.success(), "a journal it cannot create stops it: {refused:?}");
}
