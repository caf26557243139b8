//! The domain event stream (issue 27 item 3): every event stored with an id that only grows,
//! listed by `GET /api/v1/events`, and followed live as Server-Sent Events at
//! `/api/v1/events/stream`: a fault a station reports arrives within a second, and a client that
//! comes back with `Last-Event-ID` gets every event it missed, none twice; filters by station,
//! kind (or family) and category.

mod common;

use common::{Backend, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

both_backends!(tc_events_arrive_live_and_resume_without_loss, tc_events_are_listed_and_filtered);

/// One Server-Sent Event: (id, event name, data).
type SseEvent = (i64, String, Value);

/// A stream read as a browser's EventSource would: HTTP/1.0, so the body is the bare event text
/// until the server closes.
struct EventStream {
    lines: tokio::io::Lines<BufReader<TcpStream>>,
    head: String,
}

impl EventStream {
    async fn open(server: &Server, query: &str, last_event_id: Option<i64>) -> EventStream {
        EventStream::open_as(server, None, query, last_event_id).await
    }

    async fn open_as(server: &Server, token: Option<&str>, query: &str, last_event_id: Option<i64>) -> EventStream {
        let mut socket = TcpStream::connect(&server.addr).await.expect("connect");
        let resume = last_event_id.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let request = format!(
            "GET /api/v1/events/stream{query} HTTP/1.0\r\nHost: {}\r\nAccept: text/event-stream\r\n{auth}{resume}\r\n",
            server.addr
        );
        socket.write_all(request.as_bytes()).await.expect("send");
        let mut lines = BufReader::new(socket).lines();
        let mut head = String::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
                .await
                .expect("head in time")
                .expect("read")
                .expect("a head");
            if line.is_empty() {
                break;
            }
            head.push_str(&line);
            head.push('\n');
        }
        EventStream { lines, head }
    }

    /// The next event within `wait`, or None.
    async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        let (mut id, mut name, mut data) = (None, None, String::new());
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line()).await.ok()?.expect("read")?;
            if line.is_empty() {
                if let (Some(id), Some(name)) = (id.take(), name.take()) {
                    return Some((id, name, serde_json::from_str(&data).expect("JSON data")));
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = Some(value.parse::<i64>().expect("numeric id")),
                "event" => name = Some(value.to_string()),
                "data" => data.push_str(value),
                other => panic!("unexpected field {other:?}"),
            }
        }
    }

    /// Whether the server ends the stream within `wait` (events and comments before are read
    /// and dropped).
    async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.next_line()).await {
                Err(_) => return false,
                Ok(Ok(Some(_))) => continue,
                Ok(_) => return true,
            }
        }
    }

    /// Events until one of kind `kind` arrives (within `wait` in all), that one included.
    async fn until(&mut self, kind: &str, wait: Duration) -> Vec<SseEvent> {
        let deadline = Instant::now() + wait;
        let mut events = Vec::new();
        while let Some(event) = self.next(deadline.saturating_duration_since(Instant::now())).await {
            let done = event.1 == kind;
            events.push(event);
            if done {
                return events;
            }
        }
        panic!("no {kind} within {wait:?}; got {events:?}");
    }
}

fn kinds(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.1.as_str()).collect()
}

async fn tc_events_arrive_live_and_resume_without_loss(backend: Backend) {
    let server = Server::start(backend).await;
    let mut stream = EventStream::open(&server, "", None).await;
    assert!(stream.head.starts_with("HTTP/1.0 200") || stream.head.starts_with("HTTP/1.1 200"), "{}", stream.head);
    assert!(stream.head.to_lowercase().contains("content-type: text/event-stream"), "{}", stream.head);

    let mut cp1 = server.booted("CP1").await;
    let first = stream.until("station.booted", Duration::from_secs(5)).await;
    assert_eq!(kinds(&first), ["station.connected", "station.booted"]);
    assert_eq!(first[0].2["data"]["protocol"], "1.6");
    assert_eq!(first[1].2["data"]["status"], "Accepted");
    assert_eq!(first[1].2["station_id"], "CP1");

    // A fault arrives within a second of the station reporting it.
    let reported = Instant::now();
    cp1.status(1, "Faulted", "HighTemperature").await;
    let fault = stream.until("fault.opened", Duration::from_secs(1)).await;
    let elapsed = reported.elapsed();
    assert!(elapsed < Duration::from_secs(1), "the fault took {elapsed:?}");
    assert_eq!(kinds(&fault), ["connector.status", "fault.opened"]);
    let (fault_event_id, _, opened) = fault.last().cloned().expect("fault.opened");
    assert_eq!(opened["id"], fault_event_id);
    let data = &opened["data"];
    assert_eq!(
        (data["code"].as_str(), data["category"].as_str(), data["source"].as_str()),
        (Some("HighTemperature"), Some("thermal"), Some("station"))
    );
    let stored = server.get(&format!("/api/v1/faults/{}", data["fault_id"])).await;
    assert_eq!(stored["category"], "thermal", "{stored}");

    // The client goes away; meanwhile the fault clears and a session runs.
    drop(stream);
    cp1.status(1, "Available", "NoError").await;
    let (tx, _) = cp1.start(1, "TAG-1", 1000, "2026-12-07T10:00:00Z").await;
    let sample = json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-12-07T10:05:00Z",
        "sampledValue": [{"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                         {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"}]}]});
    cp1.call_ok("MeterValues", sample).await;
    cp1.call_ok(
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 2500, "timestamp": "2026-12-07T10:10:00Z"}),
    )
    .await;
    // Its record is written just after the end (the settler): before the next station's events.
    server.items_eventually(&format!("/api/v1/cdrs?transaction_id={tx}"), 1).await;
    let mut cs1 = server.booted201("CS1").await;
    cs1.call_ok(
        "StatusNotification",
        json!({"timestamp": "2026-12-07T10:11:00Z", "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}),
    )
    .await;

    // Back with Last-Event-ID: every event after it, in order, none twice, the same as stored.
    let mut stream = EventStream::open(&server, "", Some(fault_event_id)).await;
    let missed = stream.until("connector.status", Duration::from_secs(5)).await;
    let missed = [missed.clone(), stream.until("connector.status", Duration::from_secs(5)).await].concat();
    let ids: Vec<i64> = missed.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "ids {ids:?}");
    assert_eq!(ids[0], fault_event_id + 1);
    assert_eq!(
        kinds(&missed),
        [
            "connector.status",
            "fault.cleared",
            "transaction.started",
            "meter.sample",
            "transaction.ended",
            "cdr.created",
            "station.connected",
            "station.booted",
            "connector.status",
        ]
    );
    let ended = &missed[4].2["data"];
    assert_eq!((ended["transaction_id"].as_i64(), ended["energy_wh"].as_f64()), (Some(tx), Some(1500.0)), "{ended}");
    let sample = &missed[3].2["data"];
    assert_eq!((sample["energy_wh"].as_f64(), sample["power_w"].as_f64()), (Some(1500.0), Some(7200.0)), "{sample}");
    // The ended transaction's record follows it.
    assert_eq!(missed[5].2["data"]["transaction_id"].as_i64(), Some(tx), "{}", missed[5].2);
    assert_eq!(missed[7].2["data"]["protocol"], "2.0.1");
    assert_eq!(missed[8].2["data"]["evse_id"], 1);
    let listed = server.get(&format!("/api/v1/events?after={fault_event_id}")).await;
    let listed: Vec<Value> = listed["items"].as_array().cloned().expect("items");
    let sent: Vec<Value> = missed.iter().map(|e| e.2.clone()).collect();
    assert_eq!(listed, sent, "the stream sends the stored events as they are stored");
    // Nothing more, and nothing twice: the next event is a new one.
    assert_eq!(stream.next(Duration::from_millis(300)).await, None);
    cp1.close().await;
    let gone = stream.next(Duration::from_secs(5)).await.expect("station.disconnected");
    assert_eq!((gone.0, gone.1.as_str()), (ids.last().expect("ids") + 1, "station.disconnected"));

    // A stream ends as Ström stops: the shutdown does not wait for its client.
    let stopping = Instant::now();
    let (exit, _) = server.terminate().await;
    assert!(exit.success(), "{exit:?}");
    assert!(stopping.elapsed() < Duration::from_secs(5), "stopping took {:?}", stopping.elapsed());
    assert_eq!(stream.next(Duration::from_secs(1)).await, None);
}

async fn tc_events_are_listed_and_filtered(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp1 = server.booted("CP1").await;
    let mut cp2 = server.booted("CP2").await;
    cp1.status(1, "Faulted", "HighTemperature").await;
    cp2.status(1, "Faulted", "GroundFailure").await;
    cp1.status(1, "Available", "NoError").await;

    let all = server.get("/api/v1/events").await;
    let items = all["items"].as_array().expect("items");
    assert_eq!(all["next_after"], Value::Null);
    let ids: Vec<i64> = items.iter().map(|e| e["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for event in items {
        for field in ["id", "kind", "at", "station_id", "data"] {
            assert!(!event[field].is_null(), "{field} in {event}");
        }
    }

    // A family, a station, a category; pages by `after`.
    let faults = server.get("/api/v1/events?kind=fault&station_id=CP1").await;
    let faults: Vec<(String, String)> = faults["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| (e["kind"].as_str().expect("kind").to_string(), e["data"]["code"].as_str().expect("code").to_string()))
        .collect();
    assert_eq!(
        faults,
        [
            ("fault.opened".to_string(), "HighTemperature".to_string()),
            ("fault.cleared".to_string(), "HighTemperature".to_string())
        ]
    );
    let electrical = server.get("/api/v1/events?category=electrical_protection").await;
    let electrical = electrical["items"].as_array().expect("items");
    assert_eq!(electrical.len(), 1, "{electrical:?}");
    assert_eq!(
        (electrical[0]["station_id"].as_str(), electrical[0]["kind"].as_str()),
        (Some("CP2"), Some("fault.opened"))
    );
    let page = server.get("/api/v1/events?kind=station.booted,fault.cleared&limit=2").await;
    let page_kinds: Vec<&str> =
        page["items"].as_array().expect("items").iter().map(|e| e["kind"].as_str().expect("kind")).collect();
    assert_eq!(page_kinds, ["station.booted", "station.booted"]);
    let next = page["next_after"].as_i64().expect("a full page has a next_after");
    let rest = server.get(&format!("/api/v1/events?kind=station.booted,fault.cleared&after={next}")).await;
    let rest_kinds: Vec<&str> =
        rest["items"].as_array().expect("items").iter().map(|e| e["kind"].as_str().expect("kind")).collect();
    assert_eq!(rest_kinds, ["fault.cleared"]);

    // A stream with filters, resumed from the start: only what it asked for.
    let mut stream = EventStream::open(&server, "?kind=fault&category=thermal", Some(0)).await;
    let thermal = stream.until("fault.cleared", Duration::from_secs(5)).await;
    assert_eq!(kinds(&thermal), ["fault.opened", "fault.cleared"]);
    assert!(thermal.iter().all(|e| e.2["station_id"] == "CP1"));
    cp2.status(1, "Available", "NoError").await;
    assert_eq!(stream.next(Duration::from_millis(500)).await, None, "CP2's electrical fault is not thermal");
    cp1.status(1, "Faulted", "HighTemperature").await;
    let again = stream.next(Duration::from_secs(2)).await.expect("the next thermal fault");
    assert_eq!((again.1.as_str(), again.2["station_id"].as_str()), ("fault.opened", Some("CP1")));

    // Bad filters are refused with what is allowed.
    for (query, says) in [
        ("?kind=faults", "kinds are"),
        ("?kind=fault.closed", "kinds are"),
        ("?category=hot", "category must be one of"),
        ("?after=-1", "after must be an event id"),
        ("?limit=0", "limit must be"),
        ("?cursor=x", "unknown parameter"),
    ] {
        let (status, answer) = server.http("GET", &format!("/api/v1/events{query}"), None).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert!(answer["error"].as_str().expect("error").contains(says), "{query}: {answer}");
    }
    let (status, _, body) = common::get_with_head(&server.addr, "/api/v1/events/stream?kind=nope").await;
    assert_eq!(status, 400, "{body}");
    // A viewer may follow the stream; no token may not; a revoked token's stream ends.
    let secure = Server::start_secure(Backend::Sqlite).await;
    let (status, _, _) = common::get_with_head(&secure.addr, "/api/v1/events").await;
    assert_eq!(status, 401);
    let admin = secure.create_token("admin").await.expect("admin token");
    let viewer = secure.create_token_with(&["--role", "viewer", "--name", "watcher"]).await.expect("viewer token");
    let mut watching = EventStream::open_as(&secure, Some(&viewer), "", None).await;
    assert!(watching.head.contains(" 200 "), "{}", watching.head);
    assert!(!watching.ends_within(Duration::from_millis(500)).await);
    let ((_, tokens), _) = secure.http_as(&admin, "GET", "/api/v1/tokens", None).await;
    let id = tokens["items"].as_array().expect("tokens").iter().find(|t| t["name"] == "watcher").expect("watcher")
        ["id"]
        .clone();
    let ((status, _), _) = secure.http_as(&admin, "DELETE", &format!("/api/v1/tokens/{id}"), None).await;
    assert_eq!(status, 204);
    assert!(watching.ends_within(Duration::from_secs(8)).await, "the revoked token's stream goes on");
}
