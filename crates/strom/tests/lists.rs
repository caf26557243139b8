//! The API's lists: every list answers a page, `{"items": [...], "next_cursor": ...}`, takes
//! `cursor`, `limit`, `from`, `to`; following the cursors visits every row exactly once even
//! while rows are added between pages; bad parameters are refused with a message. Also the
//! lists and views that came with them: a 2.0.1 station's monitors, the connectors' availability,
//! and the creation of id tokens that two operators race for.

mod common;

use common::{Backend, Server, Station};
use serde_json::{json, Value};
use std::collections::HashSet;

both_backends!(
    every_list_visits_each_row_once_while_rows_arrive,
    time_ranges_bound_the_lists,
    bad_paging_parameters_are_refused_with_a_message,
    simultaneous_creations_of_one_token_give_one_201_and_409s,
    monitoring_reports_are_shown,
    accepted_availability_shows_in_the_connectors,
);

/// Pages through `path` three rows at a time, running `$add` (which adds a row to the list)
/// after every page; returns the `$key` of every row seen, in order.
macro_rules! page_through {
    ($server:expr, $path:expr, $key:expr, $add:expr) => {{
        let path: String = $path;
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut seen: Vec<Value> = Vec::new();
        let mut url = format!("{path}{separator}limit=3");
        loop {
            let page = $server.get(&url).await;
            let items = page["items"].as_array().unwrap_or_else(|| panic!("{url}: {page}"));
            assert!(items.len() <= 3, "{url}: {page}");
            seen.extend(items.iter().map(|item| item[$key].clone()));
            $add;
            match page["next_cursor"].as_str() {
                Some(cursor) => url = format!("{path}{separator}limit=3&cursor={cursor}"),
                None => break,
            }
        }
        seen
    }};
}

/// Every row of `expected` once, in its order, and no row twice: rows added while paging may
/// be seen (once) or not, depending on where the order puts them.
fn exactly_once(list: &str, seen: Vec<Value>, expected: &[Value]) {
    let mut distinct = HashSet::new();
    for key in &seen {
        assert!(distinct.insert(key.to_string()), "{list}: {key} seen twice in {seen:?}");
    }
    let originals: Vec<Value> = seen.into_iter().filter(|k| expected.contains(k)).collect();
    assert_eq!(originals, expected, "{list}");
}

async fn every_list_visits_each_row_once_while_rows_arrive(backend: Backend) {
    let server = Server::start(backend).await;
    const N: i64 = 8;

    // Id tokens, ordered by the token.
    for n in 0..N {
        server.add_token(&format!("TOKEN{n}"), "Accepted", None, None).await;
    }
    let mut added = 0;
    let seen = page_through!(server, "/api/v1/id-tokens".to_string(), "id_token", {
        added += 1;
        // New tokens on both sides of the page being read.
        let name = if added % 2 == 0 { format!("A-LATE{added}") } else { format!("Z-LATE{added}") };
        server.add_token(&name, "Accepted", None, None).await;
    });
    let expected: Vec<Value> = (0..N).map(|n| json!(format!("TOKEN{n}"))).collect();
    exactly_once("id tokens", seen, &expected);

    // Stations, ordered by id.
    let mut stations = Vec::new();
    for n in 0..N {
        stations.push(server.booted(&format!("CP{n}")).await);
    }
    let mut late = Vec::new();
    let seen = page_through!(server, "/api/v1/stations".to_string(), "id", {
        let name = if late.len() % 2 == 0 { format!("A{}", late.len()) } else { format!("Z{}", late.len()) };
        late.push(server.booted(&name).await);
    });
    let expected: Vec<Value> = (0..N).map(|n| json!(format!("CP{n}"))).collect();
    exactly_once("stations", seen, &expected);

    // Transactions and their readings, faults, events, messages, commands: station CP0.
    let cp = &mut stations[0];
    let mut transactions = Vec::new();
    for n in 0..N {
        let (tx, _) = cp.start(1, "TOKEN0", n * 10, &format!("2026-11-20T08:0{n}:00Z")).await;
        stop(cp, tx, n * 10 + 5).await;
        transactions.push(json!(tx));
    }
    transactions.reverse();
    let mut meter = 1000;
    let seen = page_through!(server, "/api/v1/transactions?station_id=CP0".to_string(), "id", {
        meter += 10;
        let (tx, _) = cp.start(1, "TOKEN0", meter, "2026-11-21T08:00:00Z").await;
        stop(cp, tx, meter + 5).await;
    });
    exactly_once("transactions", seen, &transactions);

    let (tx, _) = cp.start(2, "TOKEN0", 0, "2026-11-22T08:00:00Z").await;
    for n in 0..N {
        meter_value(cp, tx, &format!("2026-11-22T08:{:02}:00Z", n + 1), n).await;
    }
    let readings = server.items(&format!("/api/v1/transactions/{tx}/meter-values")).await;
    let expected: Vec<Value> = (0..N).map(|n| json!(n.to_string())).collect();
    assert_eq!(readings.as_array().map(|r| r.len()), Some(N as usize));
    let mut late = 100;
    let seen = page_through!(server, format!("/api/v1/transactions/{tx}/meter-values"), "raw_value", {
        late += 1;
        meter_value(cp, tx, "2026-11-22T09:00:00Z", late).await;
    });
    exactly_once("meter values", seen, &expected);

    for _ in 0..N {
        cp.status(1, "Faulted", "GroundFailure").await;
        cp.status(1, "Available", "NoError").await;
    }
    let faults = server.items("/api/v1/faults?station_id=CP0").await;
    let expected: Vec<Value> = faults.as_array().expect("faults").iter().map(|f| f["id"].clone()).collect();
    assert_eq!(expected.len(), N as usize);
    let seen = page_through!(server, "/api/v1/faults?station_id=CP0".to_string(), "id", {
        cp.status(1, "Faulted", "GroundFailure").await;
        cp.status(1, "Available", "NoError").await;
    });
    exactly_once("faults", seen, &expected);

    for n in 0..N {
        data_transfer(cp, n).await;
    }
    let events = server.items("/api/v1/stations/CP0/events").await;
    let expected: Vec<Value> = events.as_array().expect("events").iter().map(|e| e["id"].clone()).collect();
    assert_eq!(expected.len(), N as usize);
    let mut late = 100;
    let seen = page_through!(server, "/api/v1/stations/CP0/events".to_string(), "id", {
        late += 1;
        data_transfer(cp, late).await;
    });
    exactly_once("events", seen, &expected);

    let messages = server.items("/api/v1/stations/CP0/messages").await;
    let expected: Vec<Value> = messages.as_array().expect("messages").iter().map(|m| m["id"].clone()).collect();
    assert!(expected.len() > 100, "{} frames, more than a default page", expected.len());
    let seen = page_through!(server, "/api/v1/stations/CP0/messages".to_string(), "id", {
        cp.call_ok("Heartbeat", json!({})).await;
    });
    exactly_once("messages", seen, &expected);

    // Commands, answered by station CP1.
    let cp1 = &mut stations[1];
    for _ in 0..N {
        command(&server, cp1, "CP1", "ClearCache", json!({}), json!({"status": "Accepted"})).await;
    }
    let commands = server.items("/api/v1/stations/CP1/commands").await;
    let expected: Vec<Value> = ids(&commands, "id");
    assert_eq!(expected.len(), N as usize);
    let seen = page_through!(
        server,
        "/api/v1/stations/CP1/commands".to_string(),
        "id",
        command(&server, cp1, "CP1", "ClearCache", json!({}), json!({"status": "Accepted"})).await
    );
    exactly_once("commands", seen, &expected);

    // Monitors of a 2.0.1 station, by monitor id.
    let mut cs = server.booted201("CS1").await;
    cs.call_ok("NotifyMonitoringReport", monitoring_report((1..=N).collect())).await;
    let mut next = 100;
    let seen = page_through!(server, "/api/v1/stations/CS1/monitors".to_string(), "monitor_id", {
        next += 1;
        cs.call_ok("NotifyMonitoringReport", monitoring_report(vec![next])).await;
    });
    let expected: Vec<Value> = (1..=N).map(|n| json!(n)).collect();
    exactly_once("monitors", seen, &expected);
}

async fn stop(cp: &mut Station, tx: i64, meter: i64) {
    let payload = json!({"transactionId": tx, "meterStop": meter, "timestamp": "2026-11-20T09:00:00Z"});
    cp.call_ok("StopTransaction", payload).await;
}

async fn meter_value(cp: &mut Station, tx: i64, at: &str, value: i64) {
    let payload = json!({"connectorId": 2, "transactionId": tx, "meterValue": [{"timestamp": at,
        "sampledValue": [{"value": value.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]});
    cp.call_ok("MeterValues", payload).await;
}

async fn data_transfer(cp: &mut Station, n: i64) {
    cp.call_ok("DataTransfer", json!({"vendorId": "com.example", "messageId": "m", "data": n.to_string()})).await;
}

/// A NotifyMonitoringReport of one threshold monitor per id, on the connector-level
/// temperature of EVSE 1.
fn monitoring_report(ids: Vec<i64>) -> Value {
    let monitors: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                   "variable": {"name": "Temperature"},
                   "variableMonitoring": [{"id": id, "transaction": false, "value": 80.0 + *id as f64,
                                           "type": "UpperThreshold", "severity": 3}]})
        })
        .collect();
    json!({"requestId": 1, "generatedAt": "2026-11-20T08:00:00Z", "seqNo": 0, "monitor": monitors})
}

fn ids(list: &Value, key: &str) -> Vec<Value> {
    list.as_array().expect("array").iter().map(|item| item[key].clone()).collect()
}

async fn time_ranges_bound_the_lists(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let mut txs = Vec::new();
    for hour in 8..12 {
        let (tx, _) = cp.start(1, "TAG1", 0, &format!("2026-11-20T{hour:02}:00:00Z")).await;
        stop(&mut cp, tx, 10).await;
        txs.push(json!(tx));
    }
    // Transactions by their start: `from` inclusive, `to` exclusive, any offset.
    let within = server.items("/api/v1/transactions?from=2026-11-20T09:00:00Z&to=2026-11-20T12:00:00%2B01:00").await;
    assert_eq!(ids(&within, "id"), vec![txs[2].clone(), txs[1].clone()]);
    let from = server.items("/api/v1/transactions?from=2026-11-20T10:00:00.000Z&station_id=CP1").await;
    assert_eq!(ids(&from, "id"), vec![txs[3].clone(), txs[2].clone()]);

    // Readings by their timestamp.
    let (tx, _) = cp.start(2, "TAG1", 0, "2026-11-22T08:00:00Z").await;
    for minute in 1..=5 {
        meter_value(&mut cp, tx, &format!("2026-11-22T08:{minute:02}:00Z"), minute).await;
    }
    let path = format!("/api/v1/transactions/{tx}/meter-values?from=2026-11-22T08:02:00Z&to=2026-11-22T08:04:00Z");
    assert_eq!(ids(&server.items(&path).await, "raw_value"), vec![json!("2"), json!("3")]);

    // Every list takes the range: nothing is from after the year 9000, everything before it.
    cp.status(1, "Faulted", "GroundFailure").await;
    data_transfer(&mut cp, 1).await;
    let mut cs = server.booted201("CS1").await;
    cs.call_ok("NotifyMonitoringReport", monitoring_report(vec![1])).await;
    command(&server, &mut cp, "CP1", "ClearCache", json!({}), json!({"status": "Accepted"})).await;
    for list in [
        "/api/v1/stations",
        "/api/v1/id-tokens",
        "/api/v1/transactions",
        "/api/v1/faults",
        "/api/v1/stations/CP1/events",
        "/api/v1/stations/CP1/messages",
        "/api/v1/stations/CP1/commands",
        "/api/v1/stations/CS1/monitors",
        &format!("/api/v1/transactions/{tx}/meter-values"),
    ] {
        let all = server.items(&format!("{list}?to=9000-01-01T00:00:00Z")).await;
        assert!(!all.as_array().expect("array").is_empty(), "{list}");
        assert_eq!(all, server.items(list).await, "{list}");
        assert_eq!(server.items(&format!("{list}?from=9000-01-01T00:00:00Z")).await, json!([]), "{list}");
    }
}

async fn bad_paging_parameters_are_refused_with_a_message(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    server.add_token("TAG2", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (tx, _) = cp.start(1, "TAG1", 0, "2026-11-20T08:00:00Z").await;
    let tokens = server.get("/api/v1/id-tokens?limit=1").await;
    let token_cursor = tokens["next_cursor"].as_str().expect("a second page").to_string();
    assert_eq!(server.get(&format!("/api/v1/id-tokens?cursor={token_cursor}")).await["items"][0]["id_token"], "TAG2");
    for list in [
        "/api/v1/stations",
        "/api/v1/transactions",
        "/api/v1/faults",
        "/api/v1/stations/CP1/events",
        "/api/v1/stations/CP1/messages",
        "/api/v1/stations/CP1/commands",
        "/api/v1/stations/CP1/monitors",
        "/api/v1/stations/CP1/transfers",
        &format!("/api/v1/transactions/{tx}/meter-values"),
    ] {
        for query in [
            "limit=0".to_string(),
            "limit=1001".to_string(),
            "limit=ten".to_string(),
            "cursor=not-a-cursor".to_string(),
            format!("cursor={token_cursor}"),
            "from=yesterday".to_string(),
            "to=2026-13-01T00:00:00Z".to_string(),
            "before=5".to_string(),
            "offset=5".to_string(),
        ] {
            let (status, answer) = server.http("GET", &format!("{list}?{query}"), None).await;
            assert_eq!(status, 400, "{list}?{query}: {answer}");
            assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{list}?{query}: {answer}");
        }
        // A window that ends before it starts holds nothing: an empty page (the document cannot
        // say that `to` must follow `from`, so a client keeping to it is not refused).
        let inverted = format!("{list}?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z");
        let (status, answer) = server.http("GET", &inverted, None).await;
        assert_eq!((status, &answer["items"], &answer["next_cursor"]), (200, &json!([]), &Value::Null), "{inverted}");
    }
    let (_, answer) = server.http("GET", "/api/v1/faults?before=5", None).await;
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("before") && e.contains("cursor")), "{answer}");
}

async fn simultaneous_creations_of_one_token_give_one_201_and_409s(backend: Backend) {
    let server = Server::start(backend).await;
    let racers: Vec<_> = (0..16)
        .map(|n| {
            let body = json!({"id_token": "RACE", "status": "Accepted", "parent_id_token": format!("P{n}")});
            server.spawn_http("POST", "/api/v1/id-tokens", body)
        })
        .collect();
    let mut created = Vec::new();
    let mut conflicts = 0;
    for racer in racers {
        let (status, answer) = racer.await.expect("request task");
        match status {
            201 => created.push(answer["parent_id_token"].clone()),
            409 => {
                assert!(answer["error"].as_str().is_some_and(|e| e.contains("PUT")), "{answer}");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {answer}"),
        }
    }
    assert_eq!((created.len(), conflicts), (1, 15));
    // The stored token is the one whose creation succeeded: no later request overwrote it.
    assert_eq!(server.get("/api/v1/id-tokens/RACE").await["parent_id_token"], created[0]);
    let (status, _) =
        server.http("PUT", "/api/v1/id-tokens/RACE", Some(json!({"status": "Blocked", "parent_id_token": null}))).await;
    assert_eq!(status, 200, "PUT changes an existing token");
    assert_eq!(server.get("/api/v1/id-tokens/RACE").await["status"], "Blocked");
}

async fn monitoring_reports_are_shown(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    assert_eq!(server.items("/api/v1/stations/CS1/monitors").await, json!([]));
    let report = json!({"requestId": 7, "generatedAt": "2026-11-20T08:00:00Z", "seqNo": 0, "monitor": [
        {"component": {"name": "ChargingStation"}, "variable": {"name": "Temperature"},
         "variableMonitoring": [{"id": 42, "transaction": false, "value": 85.0, "type": "UpperThreshold", "severity": 2}]},
        {"component": {"name": "Connector", "instance": "left", "evse": {"id": 1, "connectorId": 2}},
         "variable": {"name": "Current", "instance": "L1"},
         "variableMonitoring": [{"id": 7, "transaction": true, "value": 32.5, "type": "Delta", "severity": 5}]},
    ]});
    cs.call_ok("NotifyMonitoringReport", report).await;
    let monitors = server.items("/api/v1/stations/CS1/monitors").await;
    let updated = |n: usize| monitors[n]["updated_at"].clone();
    assert_eq!(
        monitors,
        json!([
            {"monitor_id": 7, "component": "Connector", "component_instance": "left", "evse_id": 1, "connector_id": 2,
             "variable": "Current", "variable_instance": "L1", "kind": "Delta", "value": 32.5, "severity": 5,
             "transaction_only": true, "updated_at": updated(0)},
            {"monitor_id": 42, "component": "ChargingStation", "component_instance": null, "evse_id": null,
             "connector_id": null, "variable": "Temperature", "variable_instance": null, "kind": "UpperThreshold",
             "value": 85.0, "severity": 2, "transaction_only": false, "updated_at": updated(1)},
        ])
    );
    let (status, _) = server.http("GET", "/api/v1/stations/NOPE/monitors", None).await;
    assert_eq!(status, 404);
}

/// Sends `action` to `station` through the API; the station answers `answer`.
async fn command(server: &Server, station: &mut Station, id: &str, action: &str, body: Value, answer: Value) {
    let path = format!("/api/v1/stations/{id}/commands/{action}");
    let (sent, _, (status, reply)) = server.answered(station, "POST", &path, body, answer).await;
    assert_eq!((sent.as_str(), status), (action, 200), "{reply}");
}

/// (evse_id, connector_id, availability, availability_scheduled) of each connector.
async fn availability(server: &Server, station: &str) -> Vec<(Value, i64, String, bool)> {
    let station = server.get(&format!("/api/v1/stations/{station}")).await;
    let listed = server.items("/api/v1/stations").await;
    let in_list = listed.as_array().expect("array").iter().find(|s| s["id"] == station["id"]).cloned();
    assert_eq!(in_list.map(|s| s["connectors"].clone()), Some(station["connectors"].clone()), "list and station agree");
    station["connectors"]
        .as_array()
        .expect("connectors")
        .iter()
        .map(|c| {
            (
                c["evse_id"].clone(),
                c["connector_id"].as_i64().expect("connector"),
                c["availability"].as_str().expect("availability").to_string(),
                c["availability_scheduled"].as_bool().expect("scheduled"),
            )
        })
        .collect()
}

async fn accepted_availability_shows_in_the_connectors(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    cp.status(1, "Available", "NoError").await;
    cp.status(2, "Available", "NoError").await;
    let op = |s: &str| s.to_string();
    assert_eq!(
        availability(&server, "CP1").await,
        [(Value::Null, 1, op("Operative"), false), (Value::Null, 2, op("Operative"), false)]
    );
    let one_off = json!({"connectorId": 1, "type": "Inoperative"});
    command(&server, &mut cp, "CP1", "ChangeAvailability", one_off, json!({"status": "Accepted"})).await;
    assert_eq!(
        availability(&server, "CP1").await,
        [(Value::Null, 1, op("Inoperative"), false), (Value::Null, 2, op("Operative"), false)]
    );
    // A refused change changes nothing.
    let two_off = json!({"connectorId": 2, "type": "Inoperative"});
    command(&server, &mut cp, "CP1", "ChangeAvailability", two_off, json!({"status": "Rejected"})).await;
    assert_eq!(availability(&server, "CP1").await[1].2, "Operative");
    // Station-wide, scheduled: it covers every connector.
    let all_off = json!({"connectorId": 0, "type": "Inoperative"});
    command(&server, &mut cp, "CP1", "ChangeAvailability", all_off, json!({"status": "Scheduled"})).await;
    assert_eq!(
        availability(&server, "CP1").await,
        [(Value::Null, 1, op("Inoperative"), true), (Value::Null, 2, op("Inoperative"), true)]
    );
    // A connector's own setting is narrower than the station's.
    let one_on = json!({"connectorId": 1, "type": "Operative"});
    command(&server, &mut cp, "CP1", "ChangeAvailability", one_on, json!({"status": "Accepted"})).await;
    assert_eq!(
        availability(&server, "CP1").await,
        [(Value::Null, 1, op("Operative"), false), (Value::Null, 2, op("Inoperative"), true)]
    );

    // 2.0.1: an EVSE-wide setting covers that EVSE's connectors only.
    let mut cs = server.booted201("CS1").await;
    for (evse, connector) in [(1, 1), (1, 2), (2, 1)] {
        let status = json!({"timestamp": "2026-11-20T08:00:00Z", "connectorStatus": "Available",
                            "evseId": evse, "connectorId": connector});
        cs.call_ok("StatusNotification", status).await;
    }
    let evse_off = json!({"operationalStatus": "Inoperative", "evse": {"id": 1}});
    command(&server, &mut cs, "CS1", "ChangeAvailability", evse_off, json!({"status": "Accepted"})).await;
    assert_eq!(
        availability(&server, "CS1").await,
        [
            (json!(1), 1, op("Inoperative"), false),
            (json!(1), 2, op("Inoperative"), false),
            (json!(2), 1, op("Operative"), false)
        ]
    );
    let connector_on = json!({"operationalStatus": "Operative", "evse": {"id": 1, "connectorId": 2}});
    command(&server, &mut cs, "CS1", "ChangeAvailability", connector_on, json!({"status": "Accepted"})).await;
    assert_eq!(availability(&server, "CS1").await[1].2, "Operative");
    assert_eq!(availability(&server, "CS1").await[0].2, "Inoperative");
}
