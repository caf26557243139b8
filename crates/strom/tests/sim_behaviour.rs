//! `strom sim` behaves like real stations against a real server: a refused token charges
//! nothing, a remote start charges in real time until the operator stops it, the power obeys
//! the charging profile and the readings add up (P = Σ V × A over three phases), availability
//! and reservations show in the connectors' status, firmware updates and uploads report their
//! steps, and lingering stations come back after a server restart with their sessions kept.

mod common;
mod sim_support;

use common::{Backend, Server};
use serde_json::{json, Value};
use sim_support::{add_tags, assert_sent_frames_valid, boots, sim, stored_list, stored_session, wait_connected};
use std::time::Duration;

both_backends!(
    refused_tokens_charge_nothing,
    a_shared_tag_is_refused_as_concurrent_and_the_refused_stations_do_not_charge,
    a_remote_start_charges_in_real_time_until_the_operator_stops_it,
    charging_profiles_limit_the_power_and_the_phases_add_up,
    availability_and_reservations_show_in_the_connector_status,
    a_reservation_admits_only_its_token_and_expires,
    firmware_updates_and_uploads_report_each_step,
    lingering_stations_come_back_after_a_server_restart_and_keep_their_sessions,
    sigterm_ends_the_sessions_running_and_prints_the_summary
);

/// The summary `strom sim` printed, after checking that it succeeded.
fn summary(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON summary")
}

/// Polls `check` (every 50 ms, for up to 30 s: the simulator and the server share a loaded
/// machine in CI) until it holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 30 s");
}

/// A connector's stored status: 1.6 connector `n`, or 2.0.1 EVSE `n`'s connector.
async fn connector_status(server: &Server, station: &str, n: i64) -> Option<String> {
    let (_, view) = server.http("GET", &format!("/api/v1/stations/{station}"), None).await;
    view["connectors"]
        .as_array()?
        .iter()
        .find(|c| c["evse_id"].as_i64().or(c["connector_id"].as_i64()) == Some(n) && c["status"].is_string())
        .and_then(|c| c["status"].as_str().map(str::to_string))
}

/// Waits until a connector's stored status is `wanted`.
async fn wait_status(server: &Server, station: &str, n: i64, wanted: &str) {
    eventually(&format!("{station} connector {n} {wanted}"), || async {
        connector_status(server, station, n).await.as_deref() == Some(wanted)
    })
    .await;
}

/// The payloads of the CALLs of `action` a station sent, oldest first, from the message log.
async fn sent(server: &Server, station: &str, action: &str) -> Vec<Value> {
    let messages = server.items(&format!("/api/v1/stations/{station}/messages?limit=1000")).await;
    let mut found: Vec<(i64, Value)> = stored_list(&messages)
        .iter()
        .filter(|m| m["direction"] == "in" && m["frame"][0] == 2 && m["frame"][2] == action)
        .map(|m| (m["id"].as_i64().unwrap_or(0), m["frame"][3].clone()))
        .collect();
    found.sort_by_key(|(id, _)| *id);
    found.into_iter().map(|(_, payload)| payload).collect()
}

/// The operator's raw command `action` with `payload`; its answer's status.
async fn command(server: &Server, station: &str, action: &str, payload: Value) -> Value {
    let (status, answer) =
        server.http("POST", &format!("/api/v1/stations/{station}/commands/{action}"), Some(payload)).await;
    assert_eq!(status, 200, "{station} {action}: {answer}");
    answer
}

/// No token is known: every Authorize is refused, no transaction starts, nothing is charged.
/// A start the CSMS refuses (a remote start forced for a Blocked token) is stopped at once,
/// DeAuthorized, with no energy, so the session is not flagged charged_while_unauthorized.
async fn refused_tokens_charge_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let unknown = summary(
        &sim(&url, "--stations 2 --version mixed --sessions 2 --fast --fault-share 0 --prefix ref-")
            .await
            .expect("runs"),
    );
    assert_eq!((unknown["sessions"].as_u64(), unknown["refused"].as_u64()), (Some(0), Some(4)), "{unknown}");
    let statuses: Vec<(&str, &str)> = unknown["refusals"]
        .as_array()
        .expect("refusals")
        .iter()
        .map(|r| (r["at"].as_str().unwrap_or_default(), r["status"].as_str().unwrap_or_default()))
        .collect();
    assert!(statuses.iter().all(|s| *s == ("Authorize", "Invalid") || *s == ("Authorize", "Unknown")), "{statuses:?}");
    assert_eq!(server.items("/api/v1/transactions").await, json!([]), "no transaction began");
    for station in ["ref-0", "ref-1"] {
        assert!(assert_sent_frames_valid(&server, station).await > 0);
    }

    server.add_token("BLOCKED", "Blocked", None, None).await;
    let running = tokio::spawn(sim(&url, "--stations 2 --version mixed --sessions 0 --fast --linger 5 --prefix blk-"));
    wait_connected(&server, 2).await;
    for station in ["blk-0", "blk-1"] {
        let body = json!({"id_token": "BLOCKED", "evse_id": 1, "connector_id": 1, "force": true});
        let (status, answer) =
            server.http("POST", &format!("/api/v1/stations/{station}/remote-start"), Some(body)).await;
        assert_eq!((status, answer), (200, json!({"status": "Accepted"})), "{station}");
    }
    let blocked = summary(&running.await.expect("join").expect("runs"));
    assert_eq!((blocked["sessions"].as_u64(), blocked["refused"].as_u64()), (Some(0), Some(2)), "{blocked}");
    let stored = server.items("/api/v1/transactions?limit=100").await;
    for session in blocked["session_log"].as_array().expect("log") {
        assert_eq!((session["authorized"].as_bool(), session["energy_wh"].as_u64()), (Some(false), Some(0)));
        let found = stored_session(stored_list(&stored), session);
        assert_eq!(
            (found["start_auth_status"].as_str(), found["stop_reason"].as_str(), found["energy_wh"].as_f64()),
            (Some("Blocked"), Some("DeAuthorized"), Some(0.0)),
            "{found}"
        );
        assert_eq!((found["flags"].clone(), found["active"].clone()), (json!([]), json!(false)), "{found}");
    }
    for station in ["blk-0", "blk-1"] {
        assert!(assert_sent_frames_valid(&server, station).await > 0);
    }
}

/// The operator trial: every station presents one tag at once. The CSMS refuses all but one
/// as ConcurrentTx, and a refused station does not charge: no stored session is flagged
/// charged_while_unauthorized, and every session refused at its start delivered nothing.
async fn a_shared_tag_is_refused_as_concurrent_and_the_refused_stations_do_not_charge(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("SIM", "Accepted", None, None).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let flags =
        "--stations 6 --version mixed --sessions 2 --samples 20 --fast --fault-share 0 --shared-tag --prefix sh-";
    let output = summary(&sim(&url, flags).await.expect("runs"));
    assert_eq!(output["errors"], json!([]));
    let (charged, refused) = (output["sessions"].as_u64().unwrap_or(0), output["refused"].as_u64().unwrap_or(0));
    assert_eq!(charged + refused, 12, "each session either charged or was refused: {output}");
    let stored = server.items("/api/v1/transactions?limit=100").await;
    for found in stored_list(&stored) {
        assert!(!found["flags"].to_string().contains("charged_while_unauthorized"), "{found}");
        if found["start_auth_status"] != "Accepted" {
            assert_eq!((found["energy_wh"].as_f64(), found["stop_reason"].as_str()), (Some(0.0), Some("DeAuthorized")));
        }
    }
    for session in output["session_log"].as_array().expect("log") {
        let found = stored_session(stored_list(&stored), session);
        assert_eq!(found["energy_wh"].as_f64(), session["energy_wh"].as_f64(), "{found}");
    }
}

/// In real time (the default), a remote start charges for --remote-session-secs unless
/// stopped: it is still charging when the operator stops it seconds later, every reading is
/// stamped with the current time, and the session ends Remote. A ChangeAvailability
/// Inoperative of the charging connector is Scheduled, and applies when the session ends.
async fn a_remote_start_charges_in_real_time_until_the_operator_stops_it(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "R", 2).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let flags = "--stations 2 --version mixed --sessions 0 --linger 5 --sample-interval 1 --remote-session-secs 120 --prefix rt-";
    let running = tokio::spawn(sim(&url, flags));
    wait_connected(&server, 2).await;
    let begun = chrono::Utc::now();
    for (station, tag) in [("rt-0", "R-0"), ("rt-1", "R-1")] {
        let body = json!({"id_token": tag, "evse_id": 1, "connector_id": 1});
        let (status, answer) =
            server.http("POST", &format!("/api/v1/stations/{station}/remote-start"), Some(body)).await;
        assert_eq!((status, answer), (200, json!({"status": "Accepted"})), "{station}");
    }
    // Both charge, with a few readings in.
    eventually("two active sessions with readings", || async {
        let active = server.items("/api/v1/transactions?active=true").await;
        stored_list(&active).len() == 2
            && stored_list(&active).iter().all(|t| t["energy_so_far_wh"].as_f64() > Some(0.0))
    })
    .await;
    // Taking the charging connector out of service waits for the session to end.
    let inoperative = [
        ("rt-0", json!({"connectorId": 1, "type": "Inoperative"})),
        ("rt-1", json!({"operationalStatus": "Inoperative", "evse": {"id": 1}})),
    ];
    for (station, payload) in inoperative {
        assert_eq!(command(&server, station, "ChangeAvailability", payload).await["status"], "Scheduled");
    }
    let active = server.items("/api/v1/transactions?active=true").await;
    for tx in stored_list(&active) {
        let (status, answer) = server
            .http(
                "POST",
                &format!("/api/v1/stations/{}/remote-stop", tx["station_id"].as_str().expect("station")),
                Some(json!({"transaction_id": tx["id"]})),
            )
            .await;
        assert_eq!((status, answer), (200, json!({"status": "Accepted"})), "{tx}");
    }
    for station in ["rt-0", "rt-1"] {
        wait_status(&server, station, 1, "Unavailable").await;
    }
    let output = summary(&running.await.expect("join").expect("runs"));
    assert_eq!(output["sessions"], 2, "{output}");
    let stored = server.items("/api/v1/transactions?limit=100").await;
    for session in output["session_log"].as_array().expect("log") {
        assert_eq!(session["stop_reason"], "Remote", "{session}");
        let found = stored_session(stored_list(&stored), session);
        assert_eq!((found["stop_reason"].as_str(), found["active"].as_bool()), (Some("Remote"), Some(false)));
        assert_eq!(found["energy_wh"].as_f64(), session["energy_wh"].as_f64());
        let at =
            |field: &str| chrono::DateTime::parse_from_rfc3339(found[field].as_str().expect("time")).expect("RFC 3339");
        let (started, stopped) = (at("started_at"), at("stopped_at"));
        assert!((started.timestamp() - begun.timestamp()).abs() <= 5, "stamped now: {started} vs {begun}");
        assert!(stopped.timestamp() - started.timestamp() < 60, "stopped well before its 120 s: {found}");
        assert!(stopped.timestamp() <= chrono::Utc::now().timestamp() + 1, "not in the future: {found}");
        assert!(assert_sent_frames_valid(&server, session["station"].as_str().expect("station")).await > 0);
    }
}

/// A TxDefaultProfile set before the remote start caps the session: 3 kW on the 1.6 station,
/// 8 A per phase on the 2.0.1 one. Every reading has three phase voltages (225–235 V) and
/// currents whose V × A add up to the reported power.
async fn charging_profiles_limit_the_power_and_the_phases_add_up(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "P", 2).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let flags =
        "--stations 2 --version mixed --sessions 0 --fast --linger 5 --sample-interval 30 --remote-session-secs 300 --prefix cp-";
    let running = tokio::spawn(sim(&url, flags));
    wait_connected(&server, 2).await;
    let watts = json!({"connectorId": 0, "csChargingProfiles": {"chargingProfileId": 1, "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3000}]}}});
    assert_eq!(command(&server, "cp-0", "SetChargingProfile", watts).await["status"], "Accepted");
    let amps = json!({"evseId": 0, "chargingProfile": {"id": 1, "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}]}});
    assert_eq!(command(&server, "cp-1", "SetChargingProfile", amps).await["status"], "Accepted");
    for (station, tag) in [("cp-0", "P-0"), ("cp-1", "P-1")] {
        let body = json!({"id_token": tag, "evse_id": 1, "connector_id": 1});
        let (status, answer) =
            server.http("POST", &format!("/api/v1/stations/{station}/remote-start"), Some(body)).await;
        assert_eq!((status, answer), (200, json!({"status": "Accepted"})), "{station}");
    }
    let output = summary(&running.await.expect("join").expect("runs"));
    assert_eq!(output["sessions"], 2, "{output}");
    let stored = server.items("/api/v1/transactions?limit=100").await;
    for session in output["session_log"].as_array().expect("log") {
        let found = stored_session(stored_list(&stored), session);
        let readings = server.items(&format!("/api/v1/transactions/{}/meter-values?limit=1000", found["id"])).await;
        let periodic: Vec<&Value> =
            stored_list(&readings).iter().filter(|r| r["context"] == "Sample.Periodic").collect();
        let mut times: Vec<&str> = periodic.iter().filter_map(|r| r["timestamp"].as_str()).collect();
        times.dedup();
        assert!(times.len() >= 5, "{session}: {times:?}");
        for at in times {
            let of = |measurand: &str| -> Vec<(String, f64)> {
                periodic
                    .iter()
                    .filter(|r| r["timestamp"] == at && r["measurand"] == measurand)
                    .map(|r| (r["phase"].as_str().unwrap_or_default().to_string(), r["value"].as_f64().expect("value")))
                    .collect()
            };
            let (power, volts, amps) = (of("Power.Active.Import"), of("Voltage"), of("Current.Import"));
            let phases: Vec<&str> = volts.iter().map(|(p, _)| p.as_str()).collect();
            assert_eq!(phases, ["L1-N", "L2-N", "L3-N"], "{at}");
            assert!(volts.iter().all(|(_, v)| (225.0..=235.0).contains(v)), "{volts:?}");
            assert_eq!(amps.len(), 3, "{amps:?}");
            let p = power[0].1;
            let sum: f64 = volts.iter().zip(&amps).map(|((_, v), (_, a))| v * a).sum();
            assert!((sum - p).abs() <= 10.0, "{at}: Σ V×A {sum} vs P {p}");
            if session["station"] == "cp-0" {
                assert!((2900.0..=3000.0).contains(&p), "the 3 kW profile: {p}");
            } else {
                assert!(amps.iter().all(|(_, a)| *a <= 8.0 + 0.005), "the 8 A profile: {amps:?}");
                assert!(p >= 3.0 * 8.0 * 224.0, "charging at the limit: {p}");
            }
        }
        assert!(assert_sent_frames_valid(&server, session["station"].as_str().expect("station")).await > 0);
    }
}

/// ChangeAvailability Inoperative makes the connector Unavailable and Operative makes it
/// Available again; ReserveNow makes it Reserved (a reservation of an inoperative connector
/// is refused) and CancelReservation frees it.
async fn availability_and_reservations_show_in_the_connector_status(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "V", 2).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let running = tokio::spawn(sim(&url, "--stations 2 --version mixed --sessions 0 --linger 8 --prefix av-"));
    wait_connected(&server, 2).await;
    let expiry = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (inoperative, operative) = (
        [
            json!({"connectorId": 2, "type": "Inoperative"}),
            json!({"operationalStatus": "Inoperative", "evse": {"id": 2}}),
        ],
        [json!({"connectorId": 2, "type": "Operative"}), json!({"operationalStatus": "Operative", "evse": {"id": 2}})],
    );
    let reserve = |n: i64, id: i64| {
        [
            json!({"connectorId": n, "expiryDate": expiry, "idTag": "V-0", "reservationId": id}),
            json!({"id": id, "expiryDateTime": expiry, "idToken": {"idToken": "V-1", "type": "ISO14443"}, "evseId": n}),
        ]
    };
    for (i, station) in ["av-0", "av-1"].into_iter().enumerate() {
        assert_eq!(command(&server, station, "ChangeAvailability", inoperative[i].clone()).await["status"], "Accepted");
        wait_status(&server, station, 2, "Unavailable").await;
        assert_eq!(
            command(&server, station, "ReserveNow", reserve(2, 20 + i as i64)[i].clone()).await["status"],
            "Unavailable"
        );
        assert_eq!(
            command(&server, station, "ReserveNow", reserve(1, 10 + i as i64)[i].clone()).await["status"],
            "Accepted"
        );
        wait_status(&server, station, 1, "Reserved").await;
        let cancel = json!({"reservationId": 10 + i as i64});
        assert_eq!(command(&server, station, "CancelReservation", cancel).await["status"], "Accepted");
        wait_status(&server, station, 1, "Available").await;
        assert_eq!(command(&server, station, "ChangeAvailability", operative[i].clone()).await["status"], "Accepted");
        wait_status(&server, station, 2, "Available").await;
    }
    summary(&running.await.expect("join").expect("runs"));
    for station in ["av-0", "av-1"] {
        assert!(assert_sent_frames_valid(&server, station).await > 0);
    }
}

/// A reserved connector starts a session only for the reserved token, and that session uses
/// the reservation; a reservation that expires frees its connector (2.0.1: with a
/// ReservationStatusUpdate Expired).
async fn a_reservation_admits_only_its_token_and_expires(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "V", 2).await;
    server.add_token("OTHER", "Accepted", None, None).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let flags =
        "--stations 2 --version mixed --sessions 0 --linger 10 --sample-interval 1 --remote-session-secs 1 --prefix rv-";
    let running = tokio::spawn(sim(&url, flags));
    wait_connected(&server, 2).await;
    let at = |seconds: i64| {
        (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    for (i, station) in ["rv-0", "rv-1"].into_iter().enumerate() {
        let tag = format!("V-{i}");
        let reserve = |connector: i64, id: i64, expiry: String| {
            if i == 0 {
                json!({"connectorId": connector, "expiryDate": expiry, "idTag": tag, "reservationId": id})
            } else {
                json!({"id": id, "expiryDateTime": expiry, "idToken": {"idToken": tag, "type": "ISO14443"}, "evseId": connector})
            }
        };
        let id = 40 + i as i64;
        assert_eq!(command(&server, station, "ReserveNow", reserve(1, id, at(3600))).await["status"], "Accepted");
        wait_status(&server, station, 1, "Reserved").await;
        for (token, answer) in [("OTHER", "Rejected"), (tag.as_str(), "Accepted")] {
            let body = json!({"id_token": token, "evse_id": 1, "connector_id": 1});
            let (status, got) =
                server.http("POST", &format!("/api/v1/stations/{station}/remote-start"), Some(body)).await;
            assert_eq!((status, got), (200, json!({"status": answer})), "{station} {token}");
        }
        assert_eq!(command(&server, station, "ReserveNow", reserve(2, id + 10, at(2))).await["status"], "Accepted");
        wait_status(&server, station, 2, "Reserved").await;
        wait_status(&server, station, 2, "Available").await;
    }
    let output = summary(&running.await.expect("join").expect("runs"));
    assert_eq!(output["sessions"], 2, "{output}");
    let stored = server.items("/api/v1/transactions?limit=100").await;
    for session in output["session_log"].as_array().expect("log") {
        let found = stored_session(stored_list(&stored), session);
        let id = if session["station"] == "rv-0" { 40 } else { 41 };
        assert_eq!(found["reservation_id"], id, "{found}");
    }
    let updates = sent(&server, "rv-1", "ReservationStatusUpdate").await;
    assert_eq!(updates, [json!({"reservationId": 51, "reservationUpdateStatus": "Expired"})]);
    for station in ["rv-0", "rv-1"] {
        assert!(assert_sent_frames_valid(&server, station).await > 0);
    }
}

/// A triggered FirmwareStatusNotification says Idle; then UpdateFirmware: Downloading,
/// Downloaded, Installing, a reboot (2.0.1 reason FirmwareUpdate),
/// Installed, with the requestId on 2.0.1. GetDiagnostics (1.6) and GetLog (2.0.1): Uploading,
/// then Uploaded (the simulator uploads nothing), the log's with its requestId; to a location
/// it does not pretend to reach, UploadFailure.
async fn firmware_updates_and_uploads_report_each_step(backend: Backend) {
    let server = Server::start(backend).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let running = tokio::spawn(sim(&url, "--stations 2 --version mixed --sessions 0 --fast --linger 5 --prefix fw-"));
    wait_connected(&server, 2).await;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let firmware = "https://firmware.example.com/sim-2.bin";
    // Asked, a station with no update under way says Idle.
    for station in ["fw-0", "fw-1"] {
        let trigger = json!({"requestedMessage": "FirmwareStatusNotification"});
        assert_eq!(command(&server, station, "TriggerMessage", trigger).await["status"], "Accepted");
    }
    // The uploads first: a station rebooting to install its firmware answers nothing meanwhile.
    command(&server, "fw-0", "GetDiagnostics", json!({"location": "ftp://diagnostics.example.com/"})).await;
    command(&server, "fw-0", "UpdateFirmware", json!({"location": firmware, "retrieveDate": now})).await;
    let log =
        json!({"log": {"remoteLocation": "ftp://logs.example.com/"}, "logType": "DiagnosticsLog", "requestId": 6});
    assert_eq!(command(&server, "fw-1", "GetLog", log).await["status"], "Accepted");
    // A location the simulator does not pretend to reach: the upload fails.
    let nowhere =
        json!({"log": {"remoteLocation": "gopher://logs.example.com/"}, "logType": "SecurityLog", "requestId": 7});
    assert_eq!(command(&server, "fw-1", "GetLog", nowhere).await["status"], "Accepted");
    let update = json!({"requestId": 5, "firmware": {"location": firmware, "retrieveDateTime": now}});
    assert_eq!(command(&server, "fw-1", "UpdateFirmware", update).await["status"], "Accepted");
    summary(&running.await.expect("join").expect("runs"));

    let statuses = |payloads: Vec<Value>| -> Vec<String> {
        payloads.iter().map(|p| p["status"].as_str().unwrap_or_default().to_string()).collect()
    };
    for station in ["fw-0", "fw-1"] {
        let steps = sent(&server, station, "FirmwareStatusNotification").await;
        assert_eq!(
            statuses(steps.clone()),
            ["Idle", "Downloading", "Downloaded", "Installing", "Installed"],
            "{station}"
        );
        if station == "fw-1" {
            assert!(steps[1..].iter().all(|s| s["requestId"] == 5), "{steps:?}");
        }
        assert_eq!(boots(&server, station).await, 2, "{station} rebooted to install");
        let (_, view) = server.http("GET", &format!("/api/v1/stations/{station}"), None).await;
        assert_eq!(view["firmware_status"], "Installed", "{view}");
    }
    let reasons: Vec<Value> =
        sent(&server, "fw-1", "BootNotification").await.iter().map(|b| b["reason"].clone()).collect();
    assert_eq!(reasons, [json!("PowerUp"), json!("FirmwareUpdate")]);
    assert_eq!(statuses(sent(&server, "fw-0", "DiagnosticsStatusNotification").await), ["Uploading", "Uploaded"]);
    let log_steps = sent(&server, "fw-1", "LogStatusNotification").await;
    assert_eq!(statuses(log_steps.clone()), ["Uploading", "Uploaded", "Uploading", "UploadFailure"]);
    let request_ids: Vec<&Value> = log_steps.iter().map(|s| &s["requestId"]).collect();
    assert_eq!(request_ids, [&json!(6), &json!(6), &json!(7), &json!(7)]);
    for station in ["fw-0", "fw-1"] {
        assert!(assert_sent_frames_valid(&server, station).await > 0);
    }
}

/// A TCP relay in front of the server, so that the server can restart on another port while
/// the stations keep their URL: a connection is relayed to the current target.
async fn relay(target: String) -> (String, std::sync::Arc<std::sync::Mutex<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    let target = std::sync::Arc::new(std::sync::Mutex::new(target));
    let current = target.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = current.lock().expect("target").clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, target)
}

/// The server dies (SIGKILL) while the stations linger after their sessions and comes back:
/// the stations reconnect without booting, a remote start works again, and the summary keeps
/// the sessions charged before the restart.
async fn lingering_stations_come_back_after_a_server_restart_and_keep_their_sessions(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "SIM", 2).await;
    let (addr, target) = relay(server.addr.clone()).await;
    let url = format!("ws://{addr}/ocpp");
    let flags = "--stations 2 --version mixed --sessions 1 --samples 3 --fast --fault-share 0 --linger 14 --prefix rr-";
    let running = tokio::spawn(sim(&url, flags));
    eventually("both sessions stored", || async {
        let stored = server.items("/api/v1/transactions?active=false").await;
        stored_list(&stored).len() == 2
    })
    .await;
    wait_connected(&server, 2).await;
    let booted_at = |view: &Value| view["last_boot_at"].as_str().map(str::to_string);
    let mut boots_before = Vec::new();
    for station in ["rr-0", "rr-1"] {
        let (_, view) = server.http("GET", &format!("/api/v1/stations/{station}"), None).await;
        boots_before.push(booted_at(&view).expect("booted"));
    }
    let db = server.kill().await;
    let server = Server::restart(db).await;
    *target.lock().expect("target") = server.addr.clone();
    wait_connected(&server, 2).await;
    let body = json!({"id_token": "SIM-0", "evse_id": 1, "connector_id": 1});
    let (status, answer) = server.http("POST", "/api/v1/stations/rr-0/remote-start", Some(body)).await;
    assert_eq!((status, answer), (200, json!({"status": "Accepted"})));
    let output = summary(&running.await.expect("join").expect("runs"));
    assert_eq!(output["errors"], json!([]), "{output}");
    assert_eq!((output["booted"].as_u64(), output["sessions"].as_u64()), (Some(2), Some(3)), "{output}");
    assert!(output["reconnections"].as_u64() >= Some(2), "{output}");
    let stored = server.items("/api/v1/transactions?limit=100").await;
    for session in output["session_log"].as_array().expect("log") {
        let found = stored_session(stored_list(&stored), session);
        assert_eq!(found["energy_wh"].as_f64(), session["energy_wh"].as_f64(), "{found}");
    }
    // The message log is not durable across SIGKILL; the station's last boot is.
    for (station, before) in ["rr-0", "rr-1"].into_iter().zip(boots_before) {
        let (_, view) = server.http("GET", &format!("/api/v1/stations/{station}"), None).await;
        assert_eq!(booted_at(&view), Some(before), "{station}: a reconnection is not a reboot");
    }
}

/// SIGTERM (as Ctrl-C) during a real-time run: the sessions running end at once (the EVs
/// unplugged), no other begins, lingering stops, and the summary is printed.
async fn sigterm_ends_the_sessions_running_and_prints_the_summary(backend: Backend) {
    let server = Server::start(backend).await;
    add_tags(&server, "SIM", 2).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let flags = "--stations 2 --version mixed --sessions 3 --samples 100 --sample-interval 1 --fault-share 0 --linger 120 --prefix end-";
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["sim", "--url", &url])
        .args(flags.split_whitespace())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("strom sim starts");
    eventually("two sessions charging", || async {
        let active = server.items("/api/v1/transactions?active=true").await;
        stored_list(&active).len() == 2
            && stored_list(&active).iter().all(|t| t["energy_so_far_wh"].as_f64() > Some(0.0))
    })
    .await;
    let pid = child.id().expect("running").to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
    let output = tokio::time::timeout(Duration::from_secs(15), child.wait_with_output())
        .await
        .expect("ends within seconds, not after its 100 s sessions")
        .expect("output");
    let output = summary(&output);
    assert_eq!((output["sessions"].as_u64(), output["errors"].clone()), (Some(2), json!([])), "{output}");
    let stored = server.items("/api/v1/transactions?limit=100").await;
    assert_eq!(stored_list(&stored).len(), 2, "no session began after the signal");
    for session in output["session_log"].as_array().expect("log") {
        assert_eq!(session["stop_reason"], "EVDisconnected", "{session}");
        let found = stored_session(stored_list(&stored), session);
        assert_eq!(
            (found["active"].as_bool(), found["energy_wh"].as_f64()),
            (Some(false), session["energy_wh"].as_f64())
        );
    }
}
