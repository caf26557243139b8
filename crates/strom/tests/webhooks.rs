//! Webhooks (issue 27 item 4): a subscription receives the events it asked for as signed POSTs;
//! an endpoint that fails is tried again with back-off until it takes the event, each attempt in
//! the delivery log; an endpoint that never answers holds up neither the stations nor other
//! subscriptions. The receivers here are loopback HTTP servers of the test's own.

mod common;

use common::{Backend, Server};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

both_backends!(tc_webhooks_are_signed_retried_and_logged);

const SECRET: &str = "a-secret-of-the-test-0123456789";

/// A request the receiver got: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

/// A loopback HTTP endpoint that answers the first `failures` requests 500 and the rest 200, or,
/// with `hang`, reads requests and never answers.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(failures: usize, hang: bool) -> Receiver {
        Receiver::start_with(failures, hang, None).await
    }

    /// With `tls`, an https endpoint for `localhost` presenting that certificate.
    async fn start_with(failures: usize, hang: bool, tls: Option<&common::pki::Issued>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let url = match tls {
            Some(_) => format!("https://localhost:{port}/hooks/strom"),
            None => format!("http://127.0.0.1:{port}/hooks/strom"),
        };
        let acceptor = tls.map(|issued| {
            let config =
                rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                    .with_safe_default_protocol_versions()
                    .expect("versions")
                    .with_no_client_auth()
                    .with_single_cert(issued.chain(), issued.key())
                    .expect("server config");
            tokio_rustls::TlsAcceptor::from(Arc::new(config))
        });
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { return };
                let seen = seen.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        // A handshake that fails (the client does not trust us) serves nothing.
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(socket).await {
                                serve_one(stream, seen, failures, hang).await;
                            }
                        }
                        None => serve_one(socket, seen, failures, hang).await,
                    }
                });
            }
        });
        Receiver { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// What it received once `n` requests came (within ten seconds).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.received().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let got = self.received();
        assert!(got.len() >= n, "{} requests, not {n}: {got:?}", got.len());
        got
    }
}

/// Reads one request, records it, and answers 500 while fewer than `failures` came, else 200
/// (or never, with `hang`).
async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    seen: Arc<Mutex<Vec<Received>>>,
    failures: usize,
    hang: bool,
) {
    let mut reader = BufReader::new(stream);
    let mut headers = HashMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("request line");
    assert!(line.starts_with("POST /hooks/strom HTTP/1.1"), "{line}");
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("header");
        let Some((name, value)) = line.trim_end().split_once(": ") else { break };
        headers.insert(name.to_lowercase(), value.to_string());
    }
    let length: usize = headers["content-length"].parse().expect("length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.expect("body");
    let n = {
        let mut seen = seen.lock().expect("lock");
        seen.push(Received { headers, body: String::from_utf8(body).expect("utf-8") });
        seen.len()
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let status = if n <= failures { "500 Internal Server Error" } else { "200 OK" };
    let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = reader.get_mut().write_all(answer.as_bytes()).await;
    let _ = reader.get_mut().shutdown().await;
}

fn hmac_hex(secret: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn subscribe(server: &Server, body: Value) -> Value {
    let (status, hook) = server.http("POST", "/api/v1/webhooks", Some(body)).await;
    assert_eq!(status, 201, "{hook}");
    hook
}

async fn tc_webhooks_are_signed_retried_and_logged(backend: Backend) {
    let config = "webhook_retry_base_ms = 100\nwebhook_timeout_secs = 30\nwebhook_hosts = [\"127.0.0.1\"]";
    let server = Server::start_with_config(backend, config).await;
    let flaky = Receiver::start(2, false).await;
    let stuck = Receiver::start(0, true).await;
    let hook = subscribe(
        &server,
        json!({"url": flaky.url, "secret": SECRET, "kinds": ["fault"], "categories": ["thermal"], "min_severity": "Warning"}),
    )
    .await;
    assert_eq!(hook["secret_set"], true);
    assert!(hook.get("secret").is_none() && !hook.to_string().contains(SECRET), "the secret is write-only: {hook}");
    assert_eq!((hook["kinds"].clone(), hook["categories"].clone()), (json!(["fault"]), json!(["thermal"])));
    // Everything, to an endpoint that never answers.
    subscribe(&server, json!({"url": stuck.url, "secret": SECRET})).await;
    // The deliverer reads the subscriptions every second.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let mut cp1 = server.booted("CP1").await;
    let mut cp2 = server.booted("CP2").await;
    cp2.status(1, "Faulted", "GroundFailure").await;
    cp1.status(1, "Faulted", "HighTemperature").await;

    // Failed twice, taken the third time: the same event each time, signed.
    let got = flaky.wait_for(3).await;
    let bodies: Vec<&str> = got.iter().map(|r| r.body.as_str()).collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:?}");
    let event: Value = serde_json::from_str(bodies[0]).expect("JSON");
    assert_eq!((event["kind"].as_str(), event["station_id"].as_str()), (Some("fault.opened"), Some("CP1")), "{event}");
    assert_eq!(event["data"]["category"], "thermal");
    let attempts: Vec<&str> = got.iter().map(|r| r.headers["x-strom-delivery-attempt"].as_str()).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    for request in &got {
        assert_eq!(request.headers["x-strom-signature"], format!("sha256={}", hmac_hex(SECRET, &request.body)));
        assert_ne!(
            request.headers["x-strom-signature"],
            format!("sha256={}", hmac_hex("another secret 0123", &request.body))
        );
        assert_eq!(request.headers["x-strom-event"], "fault.opened");
        assert_eq!(request.headers["x-strom-event-id"], event["id"].to_string());
        assert_eq!(request.headers["content-type"], "application/json");
    }
    // The stored event, as the stream and the list serve it.
    let stored = server.get(&format!("/api/v1/events?after={}&limit=1", event["id"].as_i64().expect("id") - 1)).await;
    assert_eq!(stored["items"][0], event);

    // The delivery log, newest first.
    let log = server.items(&format!("/api/v1/webhooks/{}/deliveries", hook["id"])).await;
    let log: Vec<(String, i64, Option<i64>)> = log
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| {
            (
                d["outcome"].as_str().expect("outcome").to_string(),
                d["attempt"].as_i64().expect("n"),
                d["status_code"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        log,
        [
            ("delivered".to_string(), 3, Some(200)),
            ("failed".to_string(), 2, Some(500)),
            ("failed".to_string(), 1, Some(500))
        ]
    );
    let hook_now = server.get(&format!("/api/v1/webhooks/{}", hook["id"])).await;
    assert_eq!(hook_now["last_event_id"], event["id"]);

    // The endpoint that never answers got its first event and holds only its own subscription:
    // stations are answered at once, and the other subscription goes on.
    let stuck_got = stuck.wait_for(1).await;
    assert_eq!(stuck_got.len(), 1);
    let mut slowest = Duration::ZERO;
    for n in 0..20 {
        let started = Instant::now();
        cp1.call_ok("Heartbeat", json!({})).await;
        if n == 10 {
            cp1.status(1, "Available", "NoError").await;
        }
        slowest = slowest.max(started.elapsed());
    }
    assert!(slowest < Duration::from_millis(500), "a station waited {slowest:?}");
    cp1.status(1, "Faulted", "HighTemperature").await;
    // fault.cleared of a thermal fault, then the next fault.opened.
    let got = flaky.wait_for(5).await;
    let kinds: Vec<String> = got[3..]
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).expect("JSON")["kind"].as_str().expect("kind").to_string())
        .collect();
    assert_eq!(kinds, ["fault.cleared", "fault.opened"]);
    assert!(got.iter().all(|r| !r.body.contains("GroundFailure")), "another category was sent");
    assert_eq!(stuck.received().len(), 1, "the stuck endpoint is still on its first attempt");

    // Removed: no more deliveries; the log goes with it.
    let (status, _) = server.http("DELETE", &format!("/api/v1/webhooks/{}", hook["id"]), None).await;
    assert_eq!(status, 204);
    let (status, _) = server.http("GET", &format!("/api/v1/webhooks/{}", hook["id"]), None).await;
    assert_eq!(status, 404);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    cp1.status(1, "Available", "NoError").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(flaky.received().len(), 5, "a removed subscription receives nothing");

    // What a subscription may not be.
    for (body, says) in [
        (json!({"url": "http://example.com/h", "secret": SECRET}), "not among the allowed"),
        (json!({"url": "ftp://127.0.0.1/h", "secret": SECRET}), "http:// or https://"),
        (json!({"url": flaky.url, "secret": "short"}), "secret must be"),
        (json!({"url": flaky.url, "secret": SECRET, "kinds": ["fault.closed"]}), "kinds are"),
        (json!({"url": flaky.url, "secret": SECRET, "categories": ["hot"]}), "categories are"),
        (json!({"url": flaky.url, "secret": SECRET, "min_severity": "Fatal"}), "min_severity"),
        (json!({"url": flaky.url}), "secret is required"),
        (json!({"url": flaky.url, "secret": SECRET, "token": "x"}), "unknown field"),
    ] {
        let (status, answer) = server.http("POST", "/api/v1/webhooks", Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains(says)), "{body}: {answer}");
    }
    drop((cp1, cp2));
}

#[tokio::test]
async fn webhooks_are_for_admins() {
    let server = Server::start_secure(Backend::Sqlite).await;
    let operator = server.create_token("operator").await.expect("token");
    let ((status, _), _) = server.http_as(&operator, "GET", "/api/v1/webhooks", None).await;
    assert_eq!(status, 403);
    let body = json!({"url": "http://127.0.0.1:9/h", "secret": SECRET});
    let ((status, _), _) = server.http_as(&operator, "POST", "/api/v1/webhooks", Some(body)).await;
    assert_eq!(status, 403);
}

/// An https endpoint is checked against `webhook_ca_file`: one whose certificate that CA signed
/// receives the events, signed; one presenting another CA's certificate receives nothing, and
/// the delivery log says the handshake failed.
#[tokio::test]
async fn https_webhooks_trust_only_the_configured_certificates() {
    let ca = common::pki::Ca::new("Webhook receivers' CA");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("hooks-ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("CA file");
    let config = format!(
        "webhook_retry_base_ms = 100\nwebhook_hosts = [\"localhost\"]\nwebhook_ca_file = \"{}\"",
        ca_file.display()
    );
    let server = Server::start_with_config(Backend::Sqlite, &config).await;
    let trusted = Receiver::start_with(0, false, Some(&ca.server("hooks"))).await;
    let impostor = Receiver::start_with(0, false, Some(&common::pki::Ca::new("Someone else").server("hooks"))).await;
    let good = subscribe(&server, json!({"url": trusted.url, "secret": SECRET, "kinds": ["station"]})).await;
    let bad = subscribe(&server, json!({"url": impostor.url, "secret": SECRET, "kinds": ["station"]})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let _cp = server.booted("CP1").await;

    let got = trusted.wait_for(2).await;
    let kinds: Vec<&str> = got.iter().map(|r| r.headers["x-strom-event"].as_str()).collect();
    assert_eq!(kinds, ["station.connected", "station.booted"]);
    for request in &got {
        assert_eq!(request.headers["x-strom-signature"], format!("sha256={}", hmac_hex(SECRET, &request.body)));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let failures = loop {
        let log = server.items(&format!("/api/v1/webhooks/{}/deliveries", bad["id"])).await;
        let log = log.as_array().cloned().expect("deliveries");
        if log.len() >= 2 || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(failures.len() >= 2, "{failures:?}");
    for attempt in &failures {
        assert_eq!(attempt["outcome"], "failed", "{attempt}");
        assert!(attempt["error"].as_str().is_some_and(|e| e.contains("TLS handshake failed")), "{attempt}");
        assert!(attempt["status_code"].is_null());
    }
    assert!(impostor.received().is_empty(), "nothing was sent to an endpoint Ström does not trust");
    let delivered = server.items(&format!("/api/v1/webhooks/{}/deliveries", good["id"])).await;
    assert!(delivered.as_array().is_some_and(|d| d.iter().all(|a| a["outcome"] == "delivered")), "{delivered}");
}
