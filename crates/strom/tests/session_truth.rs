//! Sessions tell the truth (issue 26 item 1): a start's status is stored as the station was told
//! it, a session that charged although its start was refused is flagged, running sessions show
//! energy so far, power now and duration, ended ones charging and idle time, and a remote start
//! for a token Ström would refuse is refused unless forced; on both versions and backends.

mod common;

use common::{id_token, tx_event, Backend, Server};
use serde_json::{json, Value};

both_backends!(
    refused_1_6_starts_are_stored_as_answered_and_flagged,
    refused_2_0_1_starts_are_stored_as_answered_and_flagged,
    running_1_6_session_shows_energy_power_and_duration,
    running_2_0_1_session_shows_energy_power_and_duration,
    ended_1_6_session_splits_charging_and_idle,
    ended_2_0_1_session_splits_charging_and_idle,
    remote_start_is_refused_for_refused_tokens_unless_forced,
    starts_stored_before_are_corrected_by_the_migration,
);

const T0: &str = "2026-12-07T10:00:00.000Z";

/// `minutes` after `T0`.
fn at(minutes: i64) -> String {
    let t0 = chrono::DateTime::parse_from_rfc3339(T0).expect("T0");
    (t0 + chrono::Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `minutes` before now.
fn ago(minutes: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A 1.6 MeterValues with a register (Wh) and, when given, a power (kW).
fn meter_values_16(tx: i64, timestamp: &str, register_wh: i64, power_kw: Option<f64>) -> Value {
    let mut sampled =
        vec![json!({"value": register_wh.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"})];
    if let Some(kw) = power_kw {
        sampled.push(json!({"value": kw.to_string(), "measurand": "Power.Active.Import", "unit": "kW"}));
    }
    json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": timestamp, "sampledValue": sampled}]})
}

/// A 2.0.1 meterValue with a register (Wh), the power per phase (W, three phases; the unit said,
/// since the default unit is Wh for every measurand), and a context.
fn meter_value_201(timestamp: &str, register_wh: f64, power_per_phase_w: f64, context: &str) -> Value {
    let mut sampled =
        vec![json!({"value": register_wh, "context": context, "measurand": "Energy.Active.Import.Register"})];
    for phase in ["L1", "L2", "L3"] {
        sampled.push(json!({"value": power_per_phase_w, "context": context, "measurand": "Power.Active.Import",
                            "phase": phase, "unitOfMeasure": {"unit": "W"}}));
    }
    json!([{"timestamp": timestamp, "sampledValue": sampled}])
}

fn flags(t: &Value) -> Vec<&str> {
    t["flags"].as_array().expect("flags").iter().filter_map(Value::as_str).collect()
}

async fn refused_1_6_starts_are_stored_as_answered_and_flagged(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("OK", "Accepted", None, None).await;
    server.add_token("BLOCKED", "Blocked", None, None).await;
    let mut cp = server.booted("CP1").await;
    let mut other = server.booted("CP2").await;

    // An unknown tag is answered Invalid (1.6 has no Unknown), and stored so.
    let (stranger, status) = cp.start(1, "STRANGER", 1_000, T0).await;
    assert_eq!(status, "Invalid");
    let t = server.get(&format!("/api/v1/transactions/{stranger}")).await;
    assert_eq!((t["start_auth_status"].as_str(), t["start_auth_reason"].as_str()), (Some("Invalid"), Some("Unknown")));
    assert_eq!(flags(&t), Vec::<&str>::new(), "no energy yet: {t}");

    // The same tag already charging elsewhere: ConcurrentTx, and it charges all the same.
    let (accepted, status) = other.start(1, "OK", 0, T0).await;
    assert_eq!(status, "Accepted");
    let (concurrent, status) = cp.start(2, "OK", 5_000, T0).await;
    assert_eq!(status, "ConcurrentTx");
    let mv = json!({"connectorId": 2, "transactionId": concurrent, "meterValue": [{"timestamp": at(10),
                    "sampledValue": [{"value": "5800", "measurand": "Energy.Active.Import.Register"}]}]});
    cp.call_ok("MeterValues", mv).await;
    let t = server.get(&format!("/api/v1/transactions/{concurrent}")).await;
    assert_eq!((t["start_auth_status"].as_str(), t["start_auth_reason"].as_str()), (Some("ConcurrentTx"), None));
    assert_eq!((t["active"].as_bool(), t["energy_so_far_wh"].as_f64()), (Some(true), Some(800.0)));
    assert_eq!(flags(&t), vec!["charged_while_unauthorized"], "flagged while it runs: {t}");

    // Blocked, and stopped with energy; the stop's tag check is kept as answered too.
    let (blocked, status) = cp.start(3, "BLOCKED", 0, T0).await;
    assert_eq!(status, "Blocked");
    let stop = json!({"transactionId": blocked, "meterStop": 3_912, "timestamp": at(30), "idTag": "STRANGER"});
    assert_eq!(cp.call_ok("StopTransaction", stop).await["idTagInfo"]["status"], "Invalid");
    let stranger_stop = json!({"transactionId": stranger, "meterStop": 1_000, "timestamp": at(30)});
    cp.call_ok("StopTransaction", stranger_stop).await;
    let accepted_stop = json!({"transactionId": accepted, "meterStop": 7_000, "timestamp": at(30)});
    other.call_ok("StopTransaction", accepted_stop).await;

    let all = server.items("/api/v1/transactions").await;
    let by_id = |id: i64| all.as_array().and_then(|a| a.iter().find(|t| t["id"] == id)).cloned().expect("listed");
    let t = by_id(blocked);
    assert_eq!((t["start_auth_status"].as_str(), t["last_auth_status"].as_str()), (Some("Blocked"), Some("Invalid")));
    assert_eq!((t["energy_wh"].as_f64(), flags(&t)), (Some(3_912.0), vec!["charged_while_unauthorized"]));
    assert_eq!(flags(&by_id(stranger)), Vec::<&str>::new(), "refused, but no energy flowed");
    assert_eq!(flags(&by_id(accepted)), Vec::<&str>::new(), "accepted");
    assert_eq!(flags(&by_id(concurrent)), vec!["charged_while_unauthorized"]);
}

async fn refused_2_0_1_starts_are_stored_as_answered_and_flagged(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("OK", "Accepted", None, None).await;
    server.add_token("BLOCKED", "Blocked", None, None).await;
    let mut cs = server.booted201("CS1").await;

    let evse = |id: i64| json!({"evse": {"id": id, "connectorId": 1}});
    let started = |tx: &str, token: &str, evse_id: i64| {
        let mut extra = evse(evse_id);
        extra["idToken"] = id_token(token);
        extra["meterValue"] = meter_value_201(T0, 1_000.0, 0.0, "Transaction.Begin");
        tx_event("Started", 0, tx, "Authorized", T0, extra)
    };
    // 2.0.1 can say Unknown, so the station hears it and the record keeps it.
    let unknown = cs.call_ok("TransactionEvent", started("T-UNKNOWN", "STRANGER", 1)).await;
    assert_eq!(unknown["idTokenInfo"]["status"], "Unknown");
    let blocked = cs.call_ok("TransactionEvent", started("T-BLOCKED", "BLOCKED", 2)).await;
    assert_eq!(blocked["idTokenInfo"]["status"], "Blocked");
    let ok = cs.call_ok("TransactionEvent", started("T-OK", "OK", 3)).await;
    assert_eq!(ok["idTokenInfo"]["status"], "Accepted");
    for (tx, evse_id) in [("T-UNKNOWN", 1), ("T-BLOCKED", 2), ("T-OK", 3)] {
        let mut extra = evse(evse_id);
        extra["meterValue"] = meter_value_201(&at(10), 1_500.0, 2_400.0, "Sample.Periodic");
        cs.call_ok("TransactionEvent", tx_event("Updated", 1, tx, "MeterValuePeriodic", &at(10), extra)).await;
    }
    // A later token check on the accepted one: the Blocked tag presented to it.
    let mut extra = evse(3);
    extra["idToken"] = id_token("BLOCKED");
    let check = cs.call_ok("TransactionEvent", tx_event("Updated", 2, "T-OK", "Authorized", &at(11), extra)).await;
    assert_eq!(check["idTokenInfo"]["status"], "Blocked");

    let all = server.items("/api/v1/transactions?station_id=CS1").await;
    let by_tx = |tx: &str| {
        all.as_array().and_then(|a| a.iter().find(|t| t["station_transaction_id"] == tx)).cloned().expect("listed")
    };
    let t = by_tx("T-UNKNOWN");
    assert_eq!((t["start_auth_status"].as_str(), t["start_auth_reason"].as_str()), (Some("Unknown"), None));
    assert_eq!((t["energy_so_far_wh"].as_f64(), flags(&t)), (Some(500.0), vec!["charged_while_unauthorized"]));
    let t = by_tx("T-BLOCKED");
    assert_eq!((t["start_auth_status"].as_str(), flags(&t)), (Some("Blocked"), vec!["charged_while_unauthorized"]));
    let t = by_tx("T-OK");
    assert_eq!((t["start_auth_status"].as_str(), t["last_auth_status"].as_str()), (Some("Accepted"), Some("Blocked")));
    assert_eq!(flags(&t), Vec::<&str>::new(), "its start was accepted: {t}");
}

/// Asserts the figures of a running session started 10 minutes ago, whose latest readings say
/// `energy` so far and `power` now.
fn assert_running(t: &Value, energy: f64, power: f64) {
    assert_eq!(t["active"], true, "{t}");
    assert_eq!((t["energy_so_far_wh"].as_f64(), t["power_w"].as_f64()), (Some(energy), Some(power)), "{t}");
    let duration = t["duration_s"].as_i64().expect("duration");
    assert!((600..700).contains(&duration), "started 10 minutes ago: {t}");
    let (charging, idle) = (t["charging_s"].as_i64().expect("charging"), t["idle_s"].as_i64().expect("idle"));
    assert_eq!(charging + idle, duration, "{t}");
    assert!((470..=duration).contains(&charging), "charging since 8 minutes ago: {t}");
    assert_eq!(t["time_spent_charging_s"].as_i64(), Some(charging), "{t}");
}

async fn running_1_6_session_shows_energy_power_and_duration(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("OK", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let started = ago(10);
    let (tx, _) = cp.start(1, "OK", 20_000, &started).await;
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!((t["energy_so_far_wh"].as_f64(), t["power_w"].as_f64()), (None, None), "no readings yet: {t}");
    cp.call_ok("MeterValues", meter_values_16(tx, &ago(8), 20_000, Some(7.4))).await;
    cp.call_ok("MeterValues", meter_values_16(tx, &ago(1), 20_860, Some(7.2))).await;
    assert_running(&server.get(&format!("/api/v1/transactions/{tx}")).await, 860.0, 7_200.0);
    let listed = server.items("/api/v1/transactions?active=true").await;
    assert_running(&listed[0], 860.0, 7_200.0);
}

async fn running_2_0_1_session_shows_energy_power_and_duration(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("OK", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    let started = ago(10);
    let extra = json!({"idToken": id_token("OK"), "evse": {"id": 1, "connectorId": 1},
                       "meterValue": meter_value_201(&started, 1_000.0, 0.0, "Transaction.Begin")});
    cs.call_ok("TransactionEvent", tx_event("Started", 0, "T-1", "Authorized", &started, extra)).await;
    // Power per phase only: the session's power is their sum.
    let extra = json!({"meterValue": meter_value_201(&ago(8), 1_000.0, 3_700.0, "Sample.Periodic")});
    cs.call_ok("TransactionEvent", tx_event("Updated", 1, "T-1", "MeterValuePeriodic", &ago(8), extra)).await;
    let extra = json!({"meterValue": meter_value_201(&ago(1), 2_600.0, 3_600.0, "Sample.Periodic")});
    cs.call_ok("TransactionEvent", tx_event("Updated", 2, "T-1", "MeterValuePeriodic", &ago(1), extra)).await;
    let listed = server.items("/api/v1/transactions?active=true").await;
    assert_running(&listed[0], 1_600.0, 10_800.0);
    assert_running(&server.get(&format!("/api/v1/transactions/{}", listed[0]["id"])).await, 1_600.0, 10_800.0);
}

async fn ended_1_6_session_splits_charging_and_idle(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("OK", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    // No power readings: charging is the register rising between samples.
    let (tx, _) = cp.start(1, "OK", 0, T0).await;
    cp.call_ok("MeterValues", meter_values_16(tx, &at(20), 2_000, None)).await;
    cp.call_ok("MeterValues", meter_values_16(tx, &at(40), 2_000, None)).await;
    cp.call_ok("StopTransaction", json!({"transactionId": tx, "meterStop": 2_000, "timestamp": at(60)})).await;
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(
        (t["duration_s"].as_i64(), t["charging_s"].as_i64(), t["idle_s"].as_i64()),
        (Some(3_600), Some(1_200), Some(2_400))
    );
    assert_eq!((t["time_spent_charging_s"].as_i64(), t["energy_so_far_wh"].as_f64()), (Some(1_200), Some(2_000.0)));
    assert_eq!(t["power_w"], Value::Null, "no power now once ended: {t}");

    // With power readings: power above the threshold is charging, below it idle.
    let (tx, _) = cp.start(1, "OK", 2_000, &at(60)).await;
    cp.call_ok("MeterValues", meter_values_16(tx, &at(60), 2_000, Some(11.0))).await;
    cp.call_ok("MeterValues", meter_values_16(tx, &at(75), 4_750, Some(0.02))).await;
    cp.call_ok("StopTransaction", json!({"transactionId": tx, "meterStop": 4_750, "timestamp": at(90)})).await;
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!(
        (t["charging_s"].as_i64(), t["idle_s"].as_i64(), t["energy_wh"].as_f64()),
        (Some(900), Some(900), Some(2_750.0))
    );
}

async fn ended_2_0_1_session_splits_charging_and_idle(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("OK", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    let session = |tx: &'static str, reported: Option<i64>| {
        let start = json!({"idToken": id_token("OK"), "evse": {"id": 1, "connectorId": 1},
                           "meterValue": meter_value_201(T0, 0.0, 2_300.0, "Transaction.Begin")});
        let idle = json!({"meterValue": meter_value_201(&at(30), 3_450.0, 10.0, "Sample.Periodic")});
        let mut end = json!({"meterValue": meter_value_201(&at(60), 3_450.0, 0.0, "Transaction.End"),
                             "transactionInfo": {"stoppedReason": "EVDisconnected"}});
        if let Some(seconds) = reported {
            end["transactionInfo"]["timeSpentCharging"] = json!(seconds);
        }
        [
            tx_event("Started", 0, tx, "Authorized", T0, start),
            tx_event("Updated", 1, tx, "MeterValuePeriodic", &at(30), idle),
            tx_event("Ended", 2, tx, "EVCommunicationLost", &at(60), end),
        ]
    };
    for (tx, reported) in [("T-1", None), ("T-2", Some(1_750))] {
        for event in session(tx, reported) {
            cs.call_ok("TransactionEvent", event).await;
        }
    }
    let all = server.items("/api/v1/transactions").await;
    let by_tx = |tx: &str| {
        all.as_array().and_then(|a| a.iter().find(|t| t["station_transaction_id"] == tx)).cloned().expect("listed")
    };
    let t = by_tx("T-1");
    assert_eq!(
        (t["duration_s"].as_i64(), t["charging_s"].as_i64(), t["idle_s"].as_i64()),
        (Some(3_600), Some(1_800), Some(1_800))
    );
    assert_eq!((t["time_spent_charging_s"].as_i64(), t["energy_so_far_wh"].as_f64()), (Some(1_800), Some(3_450.0)));
    // The station's own figure, when it gives one, is the one shown as time_spent_charging_s.
    let t = by_tx("T-2");
    assert_eq!((t["time_spent_charging_s"].as_i64(), t["charging_s"].as_i64()), (Some(1_750), Some(1_800)));
}

async fn remote_start_is_refused_for_refused_tokens_unless_forced(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("OK", "Accepted", None, None).await;
    server.add_token("BLOCKED", "Blocked", None, None).await;
    server.add_token("OLD", "Accepted", Some("2020-01-01T00:00:00Z"), None).await;
    let mut cp = server.booted("CP1").await;
    let mut cs = server.booted201("CS1").await;

    for station in ["CP1", "CS1"] {
        let path = format!("/api/v1/stations/{station}/remote-start");
        let cases = [("NOBODY", 422, "unknown"), ("BLOCKED", 409, "Blocked"), ("OLD", 409, "Expired")];
        for (token, code, word) in cases {
            let (status, answer) =
                server.http("POST", &path, Some(json!({"id_token": token, "evse_id": 1, "connector_id": 1}))).await;
            let error = answer["error"].as_str().unwrap_or_default();
            assert_eq!(status, code, "{station} {token}: {answer}");
            assert!(error.contains(word) && error.contains("force"), "{station} {token}: {error}");
        }
        assert_eq!(server.items(&format!("/api/v1/stations/{station}/commands")).await, json!([]), "nothing sent");
    }

    // Forced, it is sent; the Blocked tag then charges, and the session says so.
    let (action, payload, reply) = server
        .answered(
            &mut cp,
            "POST",
            "/api/v1/stations/CP1/remote-start",
            json!({"id_token": "BLOCKED", "connector_id": 1, "force": true}),
            json!({"status": "Accepted"}),
        )
        .await;
    assert_eq!(
        (action.as_str(), payload, reply.0),
        ("RemoteStartTransaction", json!({"idTag": "BLOCKED", "connectorId": 1}), 200)
    );
    let (tx, status) = cp.start(1, "BLOCKED", 0, T0).await;
    assert_eq!(status, "Blocked");
    cp.call_ok("StopTransaction", json!({"transactionId": tx, "meterStop": 3_912, "timestamp": at(45)})).await;
    let t = server.get(&format!("/api/v1/transactions/{tx}")).await;
    assert_eq!((t["start_auth_status"].as_str(), flags(&t)), (Some("Blocked"), vec!["charged_while_unauthorized"]));

    let (action, payload, reply) = server
        .answered(
            &mut cs,
            "POST",
            "/api/v1/stations/CS1/remote-start",
            json!({"id_token": "NOBODY", "evse_id": 1, "force": true}),
            json!({"status": "Accepted"}),
        )
        .await;
    assert_eq!(
        (action.as_str(), &payload["idToken"]["idToken"], reply.0),
        ("RequestStartTransaction", &json!("NOBODY"), 200)
    );

    // An accepted token needs no force; an unknown station is still a 404.
    let (_, _, reply) = server
        .answered(
            &mut cp,
            "POST",
            "/api/v1/stations/CP1/remote-start",
            json!({"id_token": "OK"}),
            json!({"status": "Accepted"}),
        )
        .await;
    assert_eq!(reply.0, 200);
    let (status, _) = server.http("POST", "/api/v1/stations/NOPE/remote-start", Some(json!({"id_token": "OK"}))).await;
    assert_eq!(status, 404);

    // The CLI: refused with the server's reason and a failing exit code, sent with --force.
    let strom = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"));
        command.args(args).env("STROM_URL", format!("http://{}", server.addr)).env("STROM_TOKEN", "unused");
        tokio::spawn(async move { command.output().await.expect("strom runs") })
    };
    let refused = strom(&["tx", "start", "CP1", "--connector", "1", "--id-token", "BLOCKED"]).await.expect("join");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("409") && stderr.contains("Blocked"), "{stderr}");
    let forced = strom(&["tx", "start", "CP1", "--connector", "1", "--id-token", "BLOCKED", "--force"]);
    let (id, action, payload) = cp.expect_call().await;
    assert_eq!((action.as_str(), payload), ("RemoteStartTransaction", json!({"idTag": "BLOCKED", "connectorId": 1})));
    cp.reply(&id, json!({"status": "Accepted"})).await;
    assert!(forced.await.expect("join").status.success());
}

/// Rows an older Ström kept (a 1.6 unknown tag stored as Unknown) say Invalid after the
/// upgrade, with Unknown as the reason; a 2.0.1 Unknown, which the station did hear, stays.
async fn starts_stored_before_are_corrected_by_the_migration(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let mut cs = server.booted201("CS1").await;
    let (tx16, _) = cp.start(1, "STRANGER", 0, T0).await;
    let extra = json!({"idToken": id_token("STRANGER"), "evse": {"id": 1, "connectorId": 1}});
    cs.call_ok("TransactionEvent", tx_event("Started", 0, "T-1", "Authorized", T0, extra)).await;
    // The database as the previous release left it: no reason column, Unknown stored for 1.6,
    // and the migration not yet applied.
    let mut db = server.database().await;
    let version = csms_store::AUTH_AS_ANSWERED_BY;
    for statement in [
        "UPDATE transactions SET start_auth_status = start_auth_reason WHERE start_auth_reason IS NOT NULL".to_string(),
        "ALTER TABLE transactions DROP COLUMN start_auth_reason".to_string(),
        "ALTER TABLE transactions DROP COLUMN last_auth_status".to_string(),
        format!("DELETE FROM schema_migrations WHERE version = {version}"),
    ] {
        sqlx::query(&statement).execute(&mut db).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let old: Vec<String> = sqlx::query_scalar("SELECT start_auth_status FROM transactions ORDER BY id")
        .fetch_all(&mut db)
        .await
        .expect("statuses");
    assert_eq!(old, ["Unknown", "Unknown"], "as an older Ström stored them");
    drop(db);
    cp.close().await;
    cs.close().await;
    let (_, database) = server.terminate().await;

    let server = Server::restart(database).await;
    let t = server.get(&format!("/api/v1/transactions/{tx16}")).await;
    assert_eq!((t["start_auth_status"].as_str(), t["start_auth_reason"].as_str()), (Some("Invalid"), Some("Unknown")));
    let t201 = server.items("/api/v1/transactions?station_id=CS1").await;
    assert_eq!((t201[0]["start_auth_status"].as_str(), t201[0]["start_auth_reason"].as_str()), (Some("Unknown"), None));
}
