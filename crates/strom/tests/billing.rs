//! Energy becomes a bill (issue 28): tariffs kept as OCPI objects with versions, a charge detail
//! record for every ended transaction priced as the tariff says (checked against the simulator's
//! own meter, not against Ström's rows), the 2.0.1 Ended answer's totalCost, corrections, the
//! station's time zone; on both backends.

mod common;
mod sim_support;

use common::{energy_reading, id_token, tx_event, Backend, Server};
use serde_json::{json, Value};
use sim_support::{add_tags, sim, stored_session};

both_backends!(
    tariffs_are_ocpi_objects_with_versions,
    simulated_fleet_records_match_the_meters_own_curve,
    ended_2_0_1_answer_carries_the_records_total,
    a_superseded_transaction_is_corrected_by_a_new_record,
    an_end_left_without_its_record_gets_it_at_the_next_start,
    a_stations_time_zone_decides_its_tariffs_times_of_day,
);

/// The fleet's tariff: the first kWh at 0.20, the rest at 0.35; charging time at 3.60 an hour in
/// minutes; a session fee of 0.50; 19 % tax on top.
fn fleet_tariff() -> Value {
    json!({"id": "FLEET", "currency": "EUR", "country_code": "DE", "party_id": "STR", "tax_rate": 19,
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}], "restrictions": {"max_kwh": 1}},
            {"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1},
                                  {"type": "TIME", "price": 3.60, "step_size": 60},
                                  {"type": "FLAT", "price": 0.50, "step_size": 1}]}]})
}

async fn tariffs_are_ocpi_objects_with_versions(backend: Backend) {
    let server = Server::start(backend).await;
    let (status, created) = server.http("POST", "/api/v1/tariffs", Some(fleet_tariff())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["version"].as_i64(), created["country_code"].as_str()), (Some(1), Some("DE")));
    assert_eq!(created["elements"][1]["price_components"][1]["price"].as_f64(), Some(3.6));
    let (status, again) = server.http("POST", "/api/v1/tariffs", Some(fleet_tariff())).await;
    assert_eq!(status, 409, "{again}");

    // A new version under PUT; the path names the tariff.
    let mut cheaper = fleet_tariff();
    cheaper["elements"][1]["price_components"][0]["price"] = json!(0.30);
    let (status, replaced) = server.http("PUT", "/api/v1/tariffs/FLEET", Some(cheaper.clone())).await;
    assert_eq!((status, replaced["version"].as_i64()), (200, Some(2)), "{replaced}");
    let (status, body) = server.http("PUT", "/api/v1/tariffs/OTHER", Some(cheaper)).await;
    assert_eq!(status, 422, "the body's id is not the path's: {body}");
    let mut other = fleet_tariff();
    other.as_object_mut().expect("object").remove("id");
    let (status, made) = server.http("PUT", "/api/v1/tariffs/NIGHT", Some(other)).await;
    assert_eq!((status, made["id"].as_str(), made["version"].as_i64()), (201, Some("NIGHT"), Some(1)), "{made}");
    let listed = server.get("/api/v1/tariffs").await;
    let ids: Vec<&str> = listed.as_array().expect("array").iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, vec!["FLEET", "NIGHT"]);

    // What OCPI does not allow, each with what is wrong.
    let refused = [
        (
            json!({"id": "X", "currency": "euro", "elements": [{"price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}]}]}),
            "currency",
        ),
        (
            json!({"id": "X", "currency": "EUR", "elements": [{"price_components": [{"type": "KWH", "price": 1, "step_size": 1}]}]}),
            "type",
        ),
        (
            json!({"id": "X", "currency": "EUR", "elements": [{"price_components": [{"type": "ENERGY", "price": "1", "step_size": 1}]}]}),
            "number",
        ),
        (
            json!({"id": "X", "currency": "EUR", "elements": [{"price_components": [{"type": "ENERGY", "price": 1, "step_size": 0}]}]}),
            "step_size",
        ),
        (
            json!({"id": "X", "currency": "EUR", "elements": [{"price_components": [{"type": "TIME", "price": 1, "step_size": 1}],
            "restrictions": {"start_time": "25:00"}}]}),
            "HH:MM",
        ),
        (json!({"id": "X", "currency": "EUR", "elements": []}), "elements"),
    ];
    for (body, word) in refused {
        let (status, answer) = server.http("POST", "/api/v1/tariffs", Some(body)).await;
        assert_eq!(status, 422, "{answer}");
        assert!(answer["error"].as_str().unwrap_or_default().contains(word), "{word}: {answer}");
    }
    let (status, _) = server.http("POST", "/api/v1/tariffs", Some(json!([1, 2]))).await;
    assert_eq!(status, 400);

    let (status, _) = server.http("DELETE", "/api/v1/tariffs/NIGHT", None).await;
    assert_eq!(status, 204);
    let (status, _) = server.http("GET", "/api/v1/tariffs/NIGHT", None).await;
    assert_eq!(status, 404);
    let (status, _) = server.http("DELETE", "/api/v1/tariffs/NIGHT", None).await;
    assert_eq!(status, 404);
    // A withdrawn id may be used again: its next version.
    let mut back = fleet_tariff();
    back["id"] = json!("NIGHT");
    let (status, made) = server.http("POST", "/api/v1/tariffs", Some(back)).await;
    assert_eq!((status, made["version"].as_i64()), (201, Some(2)), "{made}");
}

/// What a session costs by the fleet tariff, computed here from the simulator's meter curve:
/// (energy Wh, charging seconds, cents before tax, cents after tax). A stretch between two
/// readings is charging when its mean power or the power read as it began is above 100 W.
fn by_the_meter(session: &Value) -> (u64, i64, i64, i64) {
    let curve: Vec<(chrono::DateTime<chrono::FixedOffset>, u64, f64)> = session["curve"]
        .as_array()
        .expect("curve")
        .iter()
        .map(|p| {
            let at = chrono::DateTime::parse_from_rfc3339(p[0].as_str().expect("time")).expect("time");
            (at, p[1].as_u64().expect("Wh"), p[2].as_f64().expect("W"))
        })
        .collect();
    let mut charging_s = 0;
    for pair in curve.windows(2) {
        let ((t0, e0, p0), (t1, e1, _)) = (pair[0], pair[1]);
        let secs = (t1 - t0).num_seconds();
        let rise = e1.saturating_sub(e0) as f64;
        let mean = if secs > 0 { rise * 3600.0 / secs as f64 } else { 0.0 };
        if secs > 0 && ((mean > 100.0 && rise >= 1.0) || p0 > 100.0) {
            charging_s += secs;
        }
    }
    let energy = session["energy_wh"].as_u64().expect("energy");
    // In billionths of a euro: 0.20 and 0.35 a kWh are 200,000 and 350,000 a Wh; 3.60 an hour
    // is 1,000,000 a second, billed in whole minutes.
    let energy_nano = energy.min(1000) as i64 * 200_000 + energy.saturating_sub(1000) as i64 * 350_000;
    let time_nano = ((charging_s + 59) / 60 * 60) * 1_000_000;
    let flat_nano = 500_000_000;
    let cents = |nano: i64| (nano + 5_000_000) / 10_000_000;
    let parts = [energy_nano, time_nano, flat_nano];
    let excl: i64 = parts.iter().filter(|n| **n > 0).map(|n| cents(*n)).sum();
    let incl: i64 = parts.iter().filter(|n| **n > 0).map(|n| cents(n * 119 / 100)).sum();
    (energy, charging_s, excl, incl)
}

fn cents(amount: &Value) -> i64 {
    (amount.as_f64().expect("amount") * 100.0).round() as i64
}

async fn simulated_fleet_records_match_the_meters_own_curve(backend: Backend) {
    let server = Server::start(backend).await;
    let (status, _) = server.http("POST", "/api/v1/tariffs", Some(fleet_tariff())).await;
    assert_eq!(status, 201);
    add_tags(&server, "SIM", 4).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let output = sim(&url, "--stations 4 --version mixed --sessions 2 --samples 8 --seed 11 --fast")
        .await
        .expect("strom sim runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    let sessions = summary["session_log"].as_array().expect("log");
    assert_eq!(sessions.len(), 8);
    let stored = server.items("/api/v1/transactions?limit=1000").await;
    let stored = stored.as_array().expect("array");
    let mut versions = std::collections::BTreeSet::new();
    for session in sessions {
        let tx = stored_session(stored, session);
        let records = server.items_eventually(&format!("/api/v1/cdrs?transaction_id={}", tx["id"]), 1).await;
        let records = records.as_array().expect("array");
        assert_eq!(records.len(), 1, "one record per ended transaction: {records:?}");
        let cdr = &records[0];
        let (energy, charging_s, excl, incl) = by_the_meter(session);
        assert!(energy > 1000, "the sessions cross the 1 kWh band: {session}");
        assert_eq!(cdr["energy_wh"].as_f64(), Some(energy as f64), "{cdr}");
        assert_eq!(cdr["total_energy"].as_f64(), Some(energy as f64 / 1000.0));
        assert_eq!(cdr["charging_time_s"].as_i64(), Some(charging_s), "{session}\n{cdr}");
        assert_eq!(
            (cents(&cdr["total_cost"]["excl_vat"]), cents(&cdr["total_cost"]["incl_vat"])),
            (excl, incl),
            "{cdr}"
        );
        assert_eq!(
            (cdr["start_date_time"].clone(), cdr["end_date_time"].clone()),
            (session["started_at"].clone(), session["stopped_at"].clone())
        );
        assert_eq!(
            (cdr["tariff_id"].as_str(), cdr["tariff_version"].as_i64(), cdr["currency"].as_str()),
            (Some("FLEET"), Some(1), Some("EUR"))
        );
        assert_eq!(cdr["tariffs"][0]["country_code"], "DE", "the tariff as it priced the session");
        assert_eq!(cdr["station_id"], session["station"]);
        versions.insert(session["version"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(versions.len(), 2, "both protocol versions: {versions:?}");
    // Paging visits every record once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/cdrs?limit=3".to_string();
    loop {
        let page = server.get(&path).await;
        seen.extend(page["items"].as_array().expect("items").iter().map(|c| c["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/cdrs?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    let station = sessions[0]["station"].as_str().expect("station");
    let own = server.items(&format!("/api/v1/cdrs?station_id={station}")).await;
    assert_eq!(own.as_array().map(Vec::len), Some(2));
}

async fn ended_2_0_1_answer_carries_the_records_total(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("DRIVER", "Accepted", None, None).await;
    let tariff = json!({"id": "AC", "currency": "EUR", "tax_rate": 19,
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.39, "step_size": 1}]}]});
    assert_eq!(server.http("POST", "/api/v1/tariffs", Some(tariff)).await.0, 201);
    let mut cp = server.booted201("CS-201").await;
    let evse = json!({"evse": {"id": 1, "connectorId": 1}, "idToken": id_token("DRIVER")});
    let mut started = evse.clone();
    started["meterValue"] = energy_reading(10_000.0, "Transaction.Begin", "2026-12-07T10:00:00.000Z");
    let answer = cp
        .call_ok("TransactionEvent", tx_event("Started", 0, "T-1", "Authorized", "2026-12-07T10:00:00.000Z", started))
        .await;
    assert!(answer.get("totalCost").is_none(), "no cost before the end: {answer}");
    let ended = json!({"meterValue": energy_reading(17_345.0, "Transaction.End", "2026-12-07T11:00:00.000Z"),
        "transactionInfo": {"stoppedReason": "EVDisconnected"}});
    let event = tx_event("Ended", 1, "T-1", "EVCommunicationLost", "2026-12-07T11:00:00.000Z", ended);
    let answer = cp.call_ok("TransactionEvent", event.clone()).await;
    // 7.345 kWh × 0.39 = 2.86455 → 2.86; after 19 % tax 3.408… → 3.41.
    assert_eq!(answer["totalCost"].as_f64(), Some(3.41), "{answer}");
    let records = server.items("/api/v1/cdrs?station_id=CS-201").await;
    let cdr = &records[0];
    assert_eq!(
        (cdr["total_cost"]["incl_vat"].as_f64(), cdr["total_cost"]["excl_vat"].as_f64()),
        (Some(3.41), Some(2.86))
    );
    assert_eq!(cdr["energy_rule"], "last - first Energy.Active.Import.Register of the transaction's events");
    // The station repeats the Ended event (it never saw the answer): the same total, no second record.
    let again = cp.call_ok("TransactionEvent", event).await;
    assert_eq!(again["totalCost"].as_f64(), Some(3.41), "{again}");
    assert_eq!(server.items("/api/v1/cdrs").await.as_array().map(Vec::len), Some(1));
}

async fn a_superseded_transaction_is_corrected_by_a_new_record(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("A", "Accepted", None, None).await;
    server.add_token("B", "Accepted", None, None).await;
    let tariff = json!({"id": "T", "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}]}]});
    assert_eq!(server.http("POST", "/api/v1/tariffs", Some(tariff)).await.0, 201);
    let mut cp = server.booted("CS-16").await;
    let (first, _) = cp.start(1, "A", 1_000, "2026-12-07T10:00:00.000Z").await;
    let mv = json!({"connectorId": 1, "transactionId": first, "meterValue": [{"timestamp": "2026-12-07T10:30:00.000Z",
        "sampledValue": [{"value": "3000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]});
    cp.call_ok("MeterValues", mv).await;
    // The stop was lost: a new start on the connector closes the first at its last reading.
    let (_second, _) = cp.start(1, "B", 5_000, "2026-12-07T11:00:00.000Z").await;
    let records = server.items_eventually(&format!("/api/v1/cdrs?transaction_id={first}"), 1).await;
    let records = records.as_array().expect("array").clone();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        (records[0]["energy_wh"].as_f64(), records[0]["total_cost"]["excl_vat"].as_f64()),
        (Some(2000.0), Some(2.0))
    );
    assert!(records[0]["energy_rule"].as_str().unwrap_or_default().starts_with("estimate"), "{}", records[0]);
    // The station's own stop arrives late: a new record corrects the estimate, which stays.
    let stop = json!({"transactionId": first, "meterStop": 4_500, "timestamp": "2026-12-07T10:50:00.000Z", "reason": "EVDisconnected"});
    cp.call_ok("StopTransaction", stop).await;
    let after = server.items_eventually(&format!("/api/v1/cdrs?transaction_id={first}"), 2).await;
    let after = after.as_array().expect("array");
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0], records[0], "a record is never changed");
    assert_eq!(after[1]["corrects"].as_i64(), records[0]["id"].as_str().and_then(|id| id.parse().ok()));
    assert_eq!(
        (after[1]["energy_wh"].as_f64(), after[1]["total_cost"]["excl_vat"].as_f64()),
        (Some(3500.0), Some(3.5))
    );
    assert_eq!(after[1]["end_date_time"], "2026-12-07T10:50:00.000Z");
}

/// The record is written just after the end, off the writer (the settler). Ström stopped in
/// between (here: the record taken away and the end marked unsettled, as a SIGKILL at that moment
/// leaves it): the next start writes it.
async fn an_end_left_without_its_record_gets_it_at_the_next_start(backend: Backend) {
    use sqlx::Executor;
    let server = Server::start(backend).await;
    server.add_token("A", "Accepted", None, None).await;
    let tariff = json!({"id": "T", "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.5, "step_size": 1}]}]});
    assert_eq!(server.http("POST", "/api/v1/tariffs", Some(tariff)).await.0, 201);
    let mut cp = server.booted("CS-16").await;
    let (tx, _) = cp.start(1, "A", 1_000, "2026-12-07T10:00:00.000Z").await;
    let stop = json!({"transactionId": tx, "meterStop": 5_000, "timestamp": "2026-12-07T10:50:00.000Z"});
    cp.call_ok("StopTransaction", stop).await;
    let path = format!("/api/v1/cdrs?transaction_id={tx}");
    let first = server.items_eventually(&path, 1).await;
    assert_eq!(first[0]["total_cost"]["excl_vat"].as_f64(), Some(2.0), "4 kWh at 0.50: {first}");
    let mut db = server.database().await;
    drop(cp);
    let db_dir = server.kill().await;
    db.execute("DELETE FROM cdrs").await.expect("records taken away");
    let unsettled = db.execute("UPDATE transactions SET settled_gen = 0 WHERE end_gen > 0").await.expect("unsettled");
    assert_eq!(unsettled.rows_affected(), 1);
    drop(db);
    let server = Server::restart(db_dir).await;
    let again = server.items_eventually(&path, 1).await;
    let again = again.as_array().expect("array");
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        (again[0]["energy_wh"].as_f64(), again[0]["total_cost"]["excl_vat"].as_f64(), &again[0]["corrects"]),
        (Some(4000.0), Some(2.0), &Value::Null)
    );
    // Settled once: another start writes nothing more.
    let db_dir = server.kill().await;
    let server = Server::restart(db_dir).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.items(&path).await.as_array().map(Vec::len), Some(1));
}

/// A tariff's times of day are the station's local times (OCPI reads them in the location's
/// time zone): the same session at 03:00 UTC is at night in UTC and in the evening in New York.
async fn a_stations_time_zone_decides_its_tariffs_times_of_day(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("A", "Accepted", None, None).await;
    let tariff = json!({"id": "NIGHT", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.10, "step_size": 1}],
         "restrictions": {"start_time": "00:00", "end_time": "06:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.40, "step_size": 1}]}]});
    assert_eq!(server.http("POST", "/api/v1/tariffs", Some(tariff)).await.0, 201);
    let mut cp = server.booted("CS-TZ").await;
    // One kWh from 03:00 to 03:30 UTC; the record's cost before tax.
    let mut minute = 0;
    let mut session = async |cp: &mut common::Station| {
        let start = format!("2026-12-07T03:{minute:02}:00.000Z");
        let (tx, _) = cp.start(1, "A", 10_000, &start).await;
        let stop = json!({"transactionId": tx, "meterStop": 11_000, "reason": "EVDisconnected",
            "timestamp": format!("2026-12-07T03:{:02}:00.000Z", minute + 30)});
        cp.call_ok("StopTransaction", stop).await;
        minute += 1;
        let records = server.items_eventually(&format!("/api/v1/cdrs?transaction_id={tx}"), 1).await;
        (records[0]["total_cost"]["excl_vat"].as_f64(), records[0]["time_zone"].as_str().map(str::to_string))
    };
    let priced = |cost: f64, zone: &str| (Some(cost), Some(zone.to_string()));
    assert_eq!(server.get("/api/v1/stations/CS-TZ/time-zone").await, json!({"station_id": "CS-TZ", "time_zone": null}));
    assert_eq!(session(&mut cp).await, priced(0.10, "UTC"), "the server's zone (UTC): night");

    let zone = json!({"time_zone": "America/New_York"});
    let (code, body) = server.http("PUT", "/api/v1/stations/CS-TZ/time-zone", Some(zone)).await;
    assert_eq!((code, body), (200, json!({"station_id": "CS-TZ", "time_zone": "America/New_York"})));
    assert_eq!(server.get("/api/v1/stations/CS-TZ/time-zone").await["time_zone"], "America/New_York");
    assert_eq!(session(&mut cp).await, priced(0.40, "America/New_York"), "22:00 the evening before in New York");

    // Refused: a name that is no IANA zone, a station never seen.
    let (code, body) =
        server.http("PUT", "/api/v1/stations/CS-TZ/time-zone", Some(json!({"time_zone": "Mars/Olympus"}))).await;
    assert_eq!(code, 422, "{body}");
    let (code, _) = server.http("PUT", "/api/v1/stations/NOBODY/time-zone", Some(json!({"time_zone": "UTC"}))).await;
    assert_eq!(code, 404);
    let (code, _) = server.http("GET", "/api/v1/stations/NOBODY/time-zone", None).await;
    assert_eq!(code, 404);

    // Cleared: the server's zone again.
    let (code, _) = server.http("PUT", "/api/v1/stations/CS-TZ/time-zone", Some(json!({"time_zone": null}))).await;
    assert_eq!(code, 200);
    assert_eq!(session(&mut cp).await, priced(0.10, "UTC"));
}
