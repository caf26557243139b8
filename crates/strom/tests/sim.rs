//! `strom sim` against a real server: a mixed fleet charges and faults, and what Ström stored
//! matches what every simulated meter delivered; every injected fault was opened and cleared.

mod common;
mod sim_support;

use common::{Backend, Server};
use serde_json::Value;
use sim_support::{
    add_tags, assert_sent_frames_valid, boots, run_sim, sim, stored_list, stored_session, wait_connected,
};

both_backends!(
    simulated_fleet_energy_and_faults_match_what_is_stored,
    simulated_stations_answer_commands,
    nothing_is_lost_across_network_drops,
    scenario_files_make_runs_repeatable,
    tc_032_1_power_loss_ends_sessions_after_a_reboot,
    meter_values_follow_the_sample_and_clock_aligned_intervals,
    idle_stations_report_clock_aligned_and_triggered_meter_values,
    stations_boot_again_after_pending_or_rejected,
    idle_stations_heartbeat_at_the_interval_they_were_given
);

async fn simulated_fleet_energy_and_faults_match_what_is_stored(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "SIM", 4).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let output = sim(&url, "--stations 4 --version mixed --sessions 2 --samples 8 --fault-share 1 --seed 42 --fast")
        .await
        .expect("strom sim runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!(
        (summary["booted"].as_u64(), summary["sessions"].as_u64(), summary["faults"].as_u64()),
        (Some(4), Some(8), Some(8))
    );

    let stored = server.items("/api/v1/transactions?limit=1000").await;
    let stored = stored.as_array().expect("array");
    assert_eq!(stored.len(), 8);
    for session in summary["session_log"].as_array().expect("log") {
        let found = stored_session(stored, session);
        assert_eq!(found["energy_wh"].as_f64(), session["energy_wh"].as_f64(), "{session}: {found}");
        assert_eq!((found["flags"].clone(), found["active"].clone()), (serde_json::json!([]), Value::Bool(false)));
        assert_eq!(found["start_auth_status"], "Accepted", "each station presents its own tag: {found}");
    }
    // Each station's two sessions took turns on its two connectors.
    let connectors: std::collections::BTreeSet<(String, i64)> = stored
        .iter()
        .map(|t| {
            // 2.0.1: EVSE n with its connector 1; 1.6: connector n.
            let n = t["evse_id"].as_i64().or(t["connector_id"].as_i64()).unwrap_or(0);
            (t["station_id"].as_str().unwrap_or_default().to_string(), n)
        })
        .collect();
    assert_eq!(connectors.len(), 8, "{connectors:?}");
    let faults = server.items("/api/v1/faults?limit=1000").await;
    let faults = faults.as_array().expect("array");
    assert_eq!(faults.len(), 8, "every injected fault is a record");
    assert!(faults.iter().all(|f| f["open"] == false), "and every one was cleared");
    let versions: Vec<Value> = server
        .items("/api/v1/stations")
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["ocpp_version"].clone())
        .collect();
    assert_eq!(versions.iter().filter(|v| **v == "2.0.1").count(), 2);
    for station in ["sim-0", "sim-1", "sim-2", "sim-3"] {
        assert!(assert_sent_frames_valid(&server, station).await > 0);
    }
}

async fn simulated_stations_answer_commands(backend: Backend) {
    use serde_json::json;
    let server = Server::start(backend).await;
    // One token per station: two sessions with one token at once are refused as ConcurrentTx.
    add_tags(&server, "REMOTE", 2).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let running = tokio::spawn(sim(
        &url,
        "--stations 2 --version mixed --sessions 0 --fast --remote-session-secs 45 --linger 5 --prefix cmd-",
    ));
    wait_connected(&server, 2).await;

    let (status, config) = server
        .http("POST", "/api/v1/stations/cmd-0/configuration/fetch", Some(json!({"keys": ["HeartbeatInterval"]})))
        .await;
    assert_eq!((status, config["configurationKey"][0]["value"].as_str()), (200, Some("300")));
    let (_, changed) = server
        .http("PUT", "/api/v1/stations/cmd-0/configuration/HeartbeatInterval", Some(json!({"value": "120"})))
        .await;
    assert_eq!(changed, json!({"status": "Accepted"}));
    let (_, refused) = server
        .http("PUT", "/api/v1/stations/cmd-0/configuration/NumberOfConnectors", Some(json!({"value": "9"})))
        .await;
    assert_eq!(refused, json!({"status": "Rejected"}), "read-only keys stay as they are");
    // The next session samples every 15 s instead of 60.
    let (_, interval) = server
        .http("PUT", "/api/v1/stations/cmd-0/configuration/MeterValueSampleInterval", Some(json!({"value": "15"})))
        .await;
    assert_eq!(interval, json!({"status": "Accepted"}));
    let (status, list) =
        server.http("POST", "/api/v1/stations/cmd-0/local-list", Some(json!({"update_type": "Full"}))).await;
    assert_eq!((status, list["status"].as_str(), list["version"].as_i64()), (200, Some("Accepted"), Some(1)));
    let (_, vars) = server
        .http(
            "POST",
            "/api/v1/stations/cmd-1/configuration/fetch",
            Some(json!({"keys": ["OCPPCommCtrlr.HeartbeatInterval"]})),
        )
        .await;
    assert_eq!(vars["getVariableResult"][0]["attributeValue"], "300");
    for station in ["cmd-0", "cmd-1"] {
        let (status, answer) = server
            .http(
                "POST",
                &format!("/api/v1/stations/{station}/remote-start"),
                Some(json!({"id_token": format!("REMOTE-{}", &station[4..]), "evse_id": 1, "connector_id": 1})),
            )
            .await;
        assert_eq!((status, answer), (200, json!({"status": "Accepted"})), "{station}");
    }
    let (_, reset) = server.http("POST", "/api/v1/stations/cmd-0/reset", Some(json!({"type": "soft"}))).await;
    assert_eq!(reset, json!({"status": "Accepted"}));

    let output = running.await.expect("join").expect("strom sim runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!(summary["sessions"], 2, "each remote start ran a session: {summary}");
    let stored = server.items("/api/v1/transactions?limit=100").await;
    for session in summary["session_log"].as_array().expect("log") {
        let found = stored_session(stored_list(&stored), session);
        assert_eq!(
            (found["energy_wh"].as_f64(), found["id_token"].as_str()),
            (
                session["energy_wh"].as_f64(),
                Some(format!("REMOTE-{}", &session["station"].as_str().unwrap_or_default()[4..]).as_str())
            )
        );
    }
    let started =
        stored.as_array().expect("array").iter().find(|t| t["station_id"] == "cmd-1").cloned().expect("2.0.1 session");
    assert!(started["remote_start_id"].is_i64(), "the 2.0.1 session names the remote start: {started}");
    let changed = stored.as_array().expect("array").iter().find(|t| t["station_id"] == "cmd-0").expect("1.6 session");
    let readings = server.items(&format!("/api/v1/transactions/{}/meter-values", changed["id"])).await;
    let periodic: Vec<i64> = stored_list(&readings)
        .iter()
        .filter(|r| r["measurand"] == "Energy.Active.Import.Register" && r["context"] == "Sample.Periodic")
        .map(|r| chrono::DateTime::parse_from_rfc3339(r["timestamp"].as_str().expect("at")).expect("time").timestamp())
        .collect();
    assert_eq!(periodic.len(), 2, "{readings}");
    assert_eq!(periodic[1] - periodic[0], 15, "the changed MeterValueSampleInterval: {periodic:?}");
    assert_eq!(boots(&server, "cmd-0").await, 2, "the reset rebooted the station");
}

/// Every session loses its network somewhere after the start; the station holds its
/// transaction messages and replays them in order on reconnection (without a new boot).
async fn nothing_is_lost_across_network_drops(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "SIM", 4).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let output = sim(
        &url,
        "--stations 4 --version mixed --sessions 2 --samples 8 --drop-share 1 --fault-share 0 --seed 7 --prefix drop- --fast",
    )
    .await
    .expect("strom sim runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!((summary["sessions"].as_u64(), summary["network_drops"].as_u64()), (Some(8), Some(8)));
    let stored = server.items("/api/v1/transactions?limit=100").await;
    let stored = stored.as_array().expect("array");
    for session in summary["session_log"].as_array().expect("log") {
        let found = stored_session(stored, session);
        assert_eq!(found["energy_wh"].as_f64(), session["energy_wh"].as_f64(), "{found}");
        assert_eq!(
            (found["flags"].clone(), found["active"].clone()),
            (serde_json::json!([]), Value::Bool(false)),
            "{found}"
        );
        // Every register reading the station took made it: of 8 samples, 7 periodic ones (the
        // last is the stop), plus Transaction.Begin and .End readings on 2.0.1.
        let id = found["id"].as_i64().expect("id");
        let readings = server.items(&format!("/api/v1/transactions/{id}/meter-values")).await;
        let registers = readings
            .as_array()
            .expect("array")
            .iter()
            .filter(|r| r["measurand"] == "Energy.Active.Import.Register")
            .count();
        let expected = if session["version"] == "2.0.1" { 9 } else { 7 };
        assert_eq!(registers, expected, "{session}");
    }
    assert_eq!(boots(&server, "drop-0").await, 1, "a reconnection is not a reboot");
    for station in ["drop-0", "drop-1", "drop-2", "drop-3"] {
        assert!(assert_sent_frames_valid(&server, station).await > 0);
    }
}

/// A declarative scenario with a seed gives the same sessions on every run; flags win over it.
async fn scenario_files_make_runs_repeatable(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        "stations = 2\nversion = \"1.6\"\nsessions = 2\nsamples = 5\nfault_share = 1.0\nfault_codes = [\"OverCurrentFailure\"]\nseed = 3\nid_tag = \"SIM\"\nfast = true\n",
    )
    .expect("scenario written");
    let path = scenario.display().to_string();
    let mut energies = Vec::new();
    for run in 0..2 {
        let server = Server::start(backend.clone()).await;
        add_tags(&server, "SIM", 2).await;
        let url = format!("ws://{}/ocpp", server.addr);
        let output = run_sim(&["--scenario", &path, "--url", &url, "--prefix", &format!("run{run}-")]).await;
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
        assert_eq!((summary["stations"].as_u64(), summary["sessions"].as_u64()), (Some(2), Some(4)));
        let faults = server.items("/api/v1/faults?limit=100").await;
        assert!(faults.as_array().expect("array").iter().all(|f| f["error_code"] == "OverCurrentFailure"), "{faults}");
        assert_eq!(faults.as_array().map(Vec::len), Some(4));
        let log: Vec<Value> =
            summary["session_log"].as_array().expect("log").iter().map(|s| s["energy_wh"].clone()).collect();
        energies.push(log);
    }
    assert_eq!(energies[0], energies[1], "the same seed, the same sessions");
    std::fs::write(&scenario, "stations = 2\ncolour = \"red\"\n").expect("written");
    assert!(!run_sim(&["--scenario", &path]).await.status.success(), "unknown settings are refused");
    assert!(
        !run_sim(&["--fault-codes", "Sparks", "--stations", "1"]).await.status.success(),
        "unknown error codes are refused"
    );
}

/// The power fails in every session: the station reboots, then ends the transaction with
/// reason PowerLoss and the reading it last took (CONFORMANCE TC_032_1; 2.0.1 E, PowerLoss).
async fn tc_032_1_power_loss_ends_sessions_after_a_reboot(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "SIM", 2).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let args = ["--url", &url, "--stations", "2", "--version", "mixed", "--sessions", "2", "--samples", "6", "--fast"];
    let output =
        run_sim(&[&args[..], &["--power-loss-share", "1", "--fault-share", "0", "--prefix", "pl-"]].concat()).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!((summary["sessions"].as_u64(), summary["power_losses"].as_u64()), (Some(4), Some(4)));
    let stored = server.items("/api/v1/transactions?limit=100").await;
    for session in summary["session_log"].as_array().expect("log") {
        let found = stored_session(stored_list(&stored), session);
        assert_eq!(
            (found["stop_reason"].as_str(), found["energy_wh"].as_f64()),
            (Some("PowerLoss"), session["energy_wh"].as_f64()),
            "{found}"
        );
    }
    for station in ["pl-0", "pl-1"] {
        assert_eq!(boots(&server, station).await, 3, "{station}: a boot at start and one after each power loss");
    }
}

/// Periodic readings come every sample interval, clock-aligned ones at each multiple of the
/// clock-aligned interval (since midnight UTC) with the register between its neighbours, and the
/// session's energy is what the meter delivered.
async fn meter_values_follow_the_sample_and_clock_aligned_intervals(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "SIM", 2).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let args = ["--url", &url, "--stations", "2", "--version", "mixed", "--sessions", "1", "--samples", "12", "--fast"];
    let more = ["--sample-interval", "30", "--clock-aligned-interval", "120", "--fault-share", "0", "--prefix", "clk-"];
    let output = run_sim(&[&args[..], &more[..]].concat()).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    let stored = server.items("/api/v1/transactions?limit=100").await;
    let seconds = |r: &Value| {
        let text = r["timestamp"].as_str().expect("timestamp");
        chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339").timestamp()
    };
    for session in summary["session_log"].as_array().expect("log") {
        let found = stored_session(stored_list(&stored), session);
        assert_eq!(found["energy_wh"].as_f64(), session["energy_wh"].as_f64(), "{found}");
        let id = found["id"].as_i64().expect("id");
        let readings = server.items(&format!("/api/v1/transactions/{id}/meter-values")).await;
        let registers: Vec<&Value> =
            stored_list(&readings).iter().filter(|r| r["measurand"] == "Energy.Active.Import.Register").collect();
        let periodic: Vec<i64> =
            registers.iter().filter(|r| r["context"] == "Sample.Periodic").map(|r| seconds(r)).collect();
        let clock: Vec<i64> = registers.iter().filter(|r| r["context"] == "Sample.Clock").map(|r| seconds(r)).collect();
        assert_eq!(periodic.len(), 11, "12 samples, the last is the stop: {session}");
        assert!(periodic.windows(2).all(|w| w[1] - w[0] == 30), "every 30 s: {periodic:?}");
        // 12 samples of 30 s span 360 s: two or three multiples of 120 s fall in them.
        assert!((2..=3).contains(&clock.len()), "{clock:?}");
        assert!(clock.iter().all(|t| t % 120 == 0), "aligned to the clock: {clock:?}");
        // In time order, the register never goes backwards, clock-aligned readings included.
        let mut ordered: Vec<(i64, f64)> =
            registers.iter().map(|r| (seconds(r), r["value"].as_f64().expect("value"))).collect();
        ordered.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
        assert!(ordered.windows(2).all(|w| w[1].1 >= w[0].1), "{ordered:?}");
        // Clock-aligned readings carry the register and the power only (MeterValuesAlignedData).
        let aligned_measurands: std::collections::BTreeSet<&str> = stored_list(&readings)
            .iter()
            .filter(|r| r["context"] == "Sample.Clock")
            .filter_map(|r| r["measurand"].as_str())
            .collect();
        assert_eq!(
            aligned_measurands.into_iter().collect::<Vec<_>>(),
            ["Energy.Active.Import.Register", "Power.Active.Import"]
        );
    }
}

/// Between sessions a station reports its meter at each clock-aligned instant (no transaction)
/// and when the CSMS triggers MeterValues.
async fn idle_stations_report_clock_aligned_and_triggered_meter_values(backend: Backend) {
    use serde_json::json;
    let server = Server::start(backend).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let running = tokio::spawn(sim(
        &url,
        "--stations 2 --version mixed --sessions 0 --linger 4 --clock-aligned-interval 1 --prefix idle-",
    ));
    wait_connected(&server, 2).await;
    for (station, requested) in [
        ("idle-0", json!({"requestedMessage": "MeterValues", "connectorId": 1})),
        ("idle-1", json!({"requestedMessage": "MeterValues", "evse": {"id": 1}})),
    ] {
        let (status, answer) =
            server.http("POST", &format!("/api/v1/stations/{station}/commands/TriggerMessage"), Some(requested)).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("Accepted")), "{station}: {answer}");
    }
    let output = running.await.expect("join").expect("strom sim runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for station in ["idle-0", "idle-1"] {
        let messages = server.items(&format!("/api/v1/stations/{station}/messages?limit=1000")).await;
        let readings: Vec<&Value> = stored_list(&messages)
            .iter()
            .filter(|m| m["direction"] == "in" && m["frame"][2] == "MeterValues")
            .map(|m| &m["frame"][3]["meterValue"][0])
            .collect();
        let context = |r: &&Value| r["sampledValue"][0]["context"].as_str().unwrap_or_default().to_string();
        let clock: Vec<&Value> = readings.iter().copied().filter(|r| context(r) == "Sample.Clock").collect();
        assert!(clock.len() >= 2, "about one a second for four seconds: {readings:?}");
        assert!(readings.iter().any(|r| context(r) == "Trigger"), "{station} answered the trigger: {readings:?}");
        for r in clock {
            let at = chrono::DateTime::parse_from_rfc3339(r["timestamp"].as_str().expect("at")).expect("time");
            assert_eq!(at.timestamp_subsec_millis(), 0, "aligned to the second: {r}");
        }
        // Every one of them was answered, none refused.
        let answers = stored_list(&messages).iter().filter(|m| m["direction"] == "out" && m["frame"][0] == 4).count();
        assert_eq!(answers, 0, "{messages}");
    }
}

/// The stations' registration statuses, by identity, for those whose identity starts with
/// `prefix`.
async fn registrations(server: &Server, prefix: &str) -> Vec<(String, String)> {
    let stations = server.items("/api/v1/stations").await;
    let mut found: Vec<(String, String)> = stored_list(&stations)
        .iter()
        .filter_map(|s| Some((s["id"].as_str()?.to_string(), s["registration_status"].as_str()?.to_string())))
        .filter(|(id, _)| id.starts_with(prefix))
        .collect();
    found.sort();
    found
}

/// A station the CSMS keeps Pending or Rejected boots again after the interval it was given
/// (OCPP 1.6 §4.2, 2.0.1 B02/B03) and charges once the operator has accepted it.
async fn stations_boot_again_after_pending_or_rejected(backend: Backend) {
    for policy in ["pending", "reject"] {
        let config = format!("unknown_stations = \"{policy}\"\nboot_retry_interval_secs = 1\n");
        let server = Server::start_with_config(backend.clone(), &config).await;
        add_tags(&server, "SIM", 2).await;
        let url = format!("ws://{}/ocpp", server.addr);
        let running = tokio::spawn(sim(
            &url,
            "--stations 2 --version mixed --sessions 1 --samples 2 --fault-share 0 --prefix wait- --fast",
        ));
        let told = if policy == "pending" { "Pending" } else { "Rejected" };
        for _ in 0..200 {
            let seen = registrations(&server, "wait-").await;
            if seen.len() == 2 && seen.iter().all(|(_, status)| status == told) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Kept waiting past the interval: they have booted again, and are still not charging.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_eq!(server.items("/api/v1/transactions").await, serde_json::json!([]), "{policy}");
        for station in ["wait-0", "wait-1"] {
            assert!(boots(&server, station).await >= 2, "{policy}: {station} booted again");
            let body = serde_json::json!({"registration_status": "Accepted"});
            let (status, answer) = server.http("PUT", &format!("/api/v1/stations/{station}"), Some(body)).await;
            assert_eq!(status, 200, "{policy}: {answer}");
        }
        let output = running.await.expect("join").expect("strom sim runs");
        assert!(output.status.success(), "{policy}: {}", String::from_utf8_lossy(&output.stderr));
        let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
        assert_eq!((summary["booted"].as_u64(), summary["sessions"].as_u64()), (Some(2), Some(2)), "{policy}");
        for station in ["wait-0", "wait-1"] {
            let messages = server.items(&format!("/api/v1/stations/{station}/messages?limit=1000")).await;
            let answers: Vec<&str> = stored_list(&messages)
                .iter()
                .rev()
                .filter(|m| m["direction"] == "out" && m["frame"][0] == 3 && m["frame"][2]["interval"].is_u64())
                .filter_map(|m| m["frame"][2]["status"].as_str())
                .collect();
            assert_eq!(answers.first(), Some(&told), "{policy}: {station} {answers:?}");
            assert_eq!(answers.last(), Some(&"Accepted"), "{policy}: {station} {answers:?}");
        }
    }
}

/// A station with nothing else to say sends a Heartbeat every interval its boot was accepted
/// with.
async fn idle_stations_heartbeat_at_the_interval_they_were_given(backend: Backend) {
    let server = Server::start_with_config(backend, "heartbeat_interval_secs = 1\n").await;
    let url = format!("ws://{}/ocpp", server.addr);
    let output =
        sim(&url, "--stations 2 --version mixed --sessions 0 --linger 4 --prefix beat-").await.expect("strom sim runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for station in ["beat-0", "beat-1"] {
        let messages = server.items(&format!("/api/v1/stations/{station}/messages?limit=1000")).await;
        let beats = stored_list(&messages).iter().filter(|m| m["direction"] == "in" && m["frame"][2] == "Heartbeat");
        let beats = beats.count();
        assert!((2..=5).contains(&beats), "about one a second for four seconds: {beats} from {station}");
        let refused = stored_list(&messages).iter().filter(|m| m["direction"] == "out" && m["frame"][0] == 4).count();
        assert_eq!(refused, 0, "{messages}");
    }
}
