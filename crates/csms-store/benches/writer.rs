//! The store alone, without sockets: `cargo bench -p csms-store --bench writer -- [session|meter]
//! [STATIONS] [ROUNDS] [DATABASE-URL]`. Stations (tasks, one operation outstanding each, as
//! `strom bench` keeps one CALL outstanding) apply the operations the session or meter scenario
//! of `strom bench` causes, each with its two frames for the message log (the server sends the
//! answer's frame in a job of its own, after the answer), to a fresh store (a temporary
//! SQLite file unless a URL is given). Prints one JSON line: the rate, latency percentiles, the
//! CPU time of each thread per operation and the bytes written to storage per operation (from
//! /proc, so Linux only); then the writer's batch and commit histograms on stderr.
//!
//! Over loopback the server's and the load generator's sockets cost as much CPU as the store and
//! vary with the machine's load; here the writer's own cost is measured with a few per cent of
//! noise, for comparing two builds of the store (BENCHMARKS.md).

use csms_core::authorization::{IdTokenRecord, TokenStatus};
use csms_core::metering::{reading, Measurand, Phase, Reading};
use csms_core::ops::{Authorize, Boot, FrameLog, MeterValues, StartTx, StationStatusReport, StopTx, UpsertIdToken};
use csms_core::port::Operation;
use csms_core::station::{BootInfo, RegistrationPolicy, StationId};
use csms_store::{Store, StoreOptions};
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let scenario = args.first().map_or("session", String::as_str).to_string();
    let stations: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = args.get(3).cloned().unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    assert!(scenario == "session" || scenario == "meter", "scenario: session or meter");

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = Store::open(&url, StoreOptions::default()).await.expect("store opens");
        let now = chrono::Utc::now();
        let token = IdTokenRecord {
            id_token: "BENCH".into(),
            token_type: None,
            status: TokenStatus::Accepted,
            expiry: None,
            parent_id_token: None,
        };
        apply(&store, UpsertIdToken { record: token, now }).await;
        let ids: Vec<StationId> =
            (0..stations).map(|i| StationId::parse(&format!("bench-{i}")).expect("station id")).collect();
        for station in &ids {
            apply(
                &store,
                Boot {
                    station: station.clone(),
                    ocpp_version: csms_core::station::ProtocolVersion::V16,
                    info: boot_info(),
                    policy: RegistrationPolicy::Accept,
                    now,
                },
            )
            .await;
        }
        // One warm-up round, then the measured ones.
        run(&store, &ids, &scenario, 1).await;
        take_latencies();
        let before = thread_times();
        let written = written_bytes();
        let started = Instant::now();
        let ops = run(&store, &ids, &scenario, rounds).await;
        let wall = started.elapsed().as_secs_f64();
        let after = thread_times();
        let (p50, p99, max) = take_latencies();
        let written = written_bytes() - written;
        let mut line = format!(
            r#"{{"scenario":"{scenario}","stations":{stations},"operations":{ops},"operations_per_s":{:.0},"p50_ms":{p50},"p99_ms":{p99},"max_ms":{max}"#,
            ops as f64 / wall
        );
        let mut store_total = 0.0;
        for (thread, ticks) in &after {
            // A thread that ended in between took its ticks along: never below zero.
            let spent = ticks.saturating_sub(before.get(thread).copied().unwrap_or(0));
            let us = spent as f64 * 1e6 / ticks_per_second() / ops as f64;
            if thread.starts_with("strom-") {
                store_total += us;
            }
            line += &format!(r#","{thread}_us_per_op":{us:.2}"#);
        }
        line += &format!(
            r#","store_us_per_op":{store_total:.2},"disk_kib_per_op":{:.2}}}"#,
            written as f64 / 1024.0 / ops as f64
        );
        println!("{line}");
        // The writer's batches and commit times, as /metrics shows them, for reading beside it.
        let mut histograms = String::new();
        store.metrics().batch_size.render(&mut histograms, "batch_size", "Writes committed together.");
        store.metrics().commit_seconds.render(&mut histograms, "commit_seconds", "Time to apply and commit a batch.");
        eprint!("{histograms}");
        store.close().await;
    });
}

async fn apply<O: Operation>(store: &Store, op: O) -> O::Output {
    store.execute(op, Vec::new()).await.expect("applied")
}

/// Runs `rounds` sessions (10 operations) or MeterValues at every station, concurrently.
async fn run(store: &Store, ids: &[StationId], scenario: &str, rounds: usize) -> usize {
    let mut tasks = Vec::new();
    for station in ids {
        let (store, station, session) = (store.clone(), station.clone(), scenario == "session");
        tasks.push(tokio::spawn(async move {
            let mut ops = 0;
            let mut wh = 0.0;
            for _ in 0..rounds {
                ops += if session {
                    session_ops(&store, &station, &mut wh).await
                } else {
                    meter_op(&store, &station, None, &mut wh).await
                };
            }
            ops
        }));
    }
    let mut ops = 0;
    for task in tasks {
        ops += task.await.expect("station task");
    }
    ops
}

/// A frame as long as the message it stands for, in each direction.
fn frames(station: &StationId, inbound: usize, outbound: usize) -> Vec<FrameLog> {
    let frame = |direction, len| FrameLog {
        station_id: station.clone(),
        direction,
        at: chrono::Utc::now(),
        frame: "x".repeat(len),
    };
    vec![frame(csms_core::ops::Direction::In, inbound), frame(csms_core::ops::Direction::Out, outbound)]
}

/// Each measured operation's time from `execute` to its answer, in microseconds.
static LATENCIES: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

async fn step<O: Operation>(store: &Store, station: &StationId, op: O, inbound: usize) -> O::Output {
    let started = Instant::now();
    let outcome = store.execute(op, frames(station, inbound, 60)).await.expect("applied");
    let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
    LATENCIES.lock().expect("latencies").push(us);
    outcome
}

/// (p50, p99, max) of the latencies recorded since the last call, in milliseconds.
fn take_latencies() -> (f64, f64, f64) {
    let mut all = std::mem::take(&mut *LATENCIES.lock().expect("latencies"));
    all.sort_unstable();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |&us| f64::from(us) / 1e3)
    };
    (at(0.5), at(0.99), all.last().map_or(0.0, |&us| f64::from(us) / 1e3))
}

async fn status(store: &Store, station: &StationId, status: &str) {
    let report = StationStatusReport {
        station: station.clone(),
        evse_id: 1,
        connector_id: 1,
        status: status.into(),
        error_code: Some("NoError".into()),
        info: None,
        vendor_id: None,
        vendor_error_code: None,
        timestamp: chrono::Utc::now(),
    };
    step(store, station, report, 90).await;
}

async fn session_ops(store: &Store, station: &StationId, wh: &mut f64) -> usize {
    let authorize =
        Authorize { station: station.clone(), id_token: "BENCH".into(), token_type: None, now: chrono::Utc::now() };
    step(store, station, authorize, 50).await;
    status(store, station, "Preparing").await;
    let start = StartTx {
        station: station.clone(),
        connector_id: 1,
        id_token: "BENCH".into(),
        meter_start_wh: *wh,
        timestamp: chrono::Utc::now(),
        reservation_id: None,
        now: chrono::Utc::now(),
    };
    let tx = step(store, station, start, 120).await.transaction_id.to_string();
    status(store, station, "Charging").await;
    for _ in 0..4 {
        meter_op(store, station, Some(&tx), wh).await;
    }
    let stop = StopTx {
        station: station.clone(),
        station_tx_id: tx,
        meter_stop_wh: *wh,
        timestamp: chrono::Utc::now(),
        reason: "EVDisconnected".into(),
        id_token: None,
        readings: Vec::new(),
        now: chrono::Utc::now(),
    };
    step(store, station, stop, 110).await;
    status(store, station, "Available").await;
    10
}

/// MeterValues with the 8 sampled values `strom bench` sends.
async fn meter_op(store: &Store, station: &StationId, tx: Option<&str>, wh: &mut f64) -> usize {
    *wh += 250.0;
    let at = chrono::Utc::now();
    let r = |value: String, measurand, phase, unit| -> Reading {
        reading(at, value, Some(measurand), phase, None, None, None, Some(unit), 0)
    };
    let mut readings = vec![
        r(wh.to_string(), Measurand::EnergyActiveImportRegister, None, "Wh"),
        r("7200".into(), Measurand::PowerActiveImport, None, "W"),
    ];
    for (phase, volts) in [(Phase::L1N, "230.1"), (Phase::L2N, "229.8"), (Phase::L3N, "230.4")] {
        readings.push(r(volts.into(), Measurand::Voltage, Some(phase), "V"));
    }
    for (phase, amps) in [(Phase::L1, "10.4"), (Phase::L2, "10.5"), (Phase::L3, "10.3")] {
        readings.push(r(amps.into(), Measurand::CurrentImport, Some(phase), "A"));
    }
    let op = MeterValues {
        station: station.clone(),
        evse_id: None,
        connector_id: 1,
        station_tx_id: tx.map(str::to_string),
        readings,
    };
    step(store, station, op, 700).await;
    1
}

fn boot_info() -> BootInfo {
    BootInfo {
        vendor: "Bench".into(),
        model: "B1".into(),
        serial_number: None,
        charge_box_serial_number: None,
        firmware_version: None,
        iccid: None,
        imsi: None,
        meter_type: None,
        meter_serial_number: None,
        reason: None,
    }
}

/// CPU ticks (user + system) of this process's threads, summed by name.
fn thread_times() -> BTreeMap<String, u64> {
    let mut times = BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task").flatten() {
        let (Ok(name), Ok(stat)) =
            (std::fs::read_to_string(task.path().join("comm")), std::fs::read_to_string(task.path().join("stat")))
        else {
            continue;
        };
        let fields: Vec<&str> = stat.rsplit_once(')').map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
        let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
        let name = name.trim().trim_end_matches(|c: char| c.is_ascii_digit() || c == '-').to_string();
        *times.entry(name).or_insert(0) += ticks;
    }
    times
}

/// Bytes this process has caused to be written to storage (/proc/self/io `write_bytes`).
fn written_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines().find_map(|l| l.strip_prefix("write_bytes:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

fn ticks_per_second() -> f64 {
    // USER_HZ, 100 on every Linux this runs on (sysconf needs unsafe code, which the workspace
    // forbids).
    100.0
}
