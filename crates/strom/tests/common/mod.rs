//! Integration-test harness: starts the real `strom` binary on port 0 with a temporary
//! database (SQLite, or a fresh PostgreSQL schema when `STROM_TEST_POSTGRES_URL` is set), talks
//! to it as a station over WebSocket and as an operator over HTTP, and validates every frame
//! Ström sends against the official OCPP schemas.

#![allow(dead_code)]

pub mod certs;
pub mod pki;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL if configured. Without it the caller reports the test as skipped, loudly.
    pub fn postgres() -> Option<Backend> {
        std::env::var("STROM_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()).map(Backend::Postgres)
    }
}

/// Generates `NAME::sqlite` and `NAME::postgres` tests from `async fn NAME(backend: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::common::Backend::postgres() {
                    Some(backend) => super::$name(backend).await,
                    None => eprintln!("!!! SKIPPED {}::postgres: STROM_TEST_POSTGRES_URL is not set", stringify!($name)),
                }
            }
        }
    )*};
}

/// Where a server's data lives; survives restarts of the server.
pub struct Database {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

impl Database {
    pub async fn new(backend: &Backend) -> Database {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("strom.db").display().to_string();
                Database { url, _dir: Some(dir), pg_schema: None }
            }
            Backend::Postgres(base) => {
                use sqlx::Connection;
                let nanos =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
                let schema = format!("strom_test_{}_{}", std::process::id(), nanos);
                let mut conn = sqlx::PgConnection::connect(base).await.expect("PostgreSQL reachable");
                sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.expect("create schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
                Database { url, _dir: None, pg_schema: Some((base.clone(), schema)) }
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg_schema.take() {
            // Drop runs outside async code: a short-lived runtime of its own removes the schema.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn).await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct Server {
    child: Child,
    pub addr: String,
    pub db: Database,
    args: Vec<String>,
    /// The TLS listener's address, when started with `--tls-listen`.
    pub tls_addr: Option<String>,
    /// The API listener's address, when started with `--api-listen`.
    pub api_addr: Option<String>,
    /// The server's log output, when started with `start_logging`.
    log: Option<std::sync::Arc<std::sync::Mutex<String>>>,
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        Server::start_with(backend, &[]).await
    }

    /// Starts with extra flags, the API open (tests of authentication use `start_secure`).
    pub async fn start_with(backend: Backend, args: &[&str]) -> Server {
        let db = Database::new(&backend).await;
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push("--api-open".into());
        Server::launch(db, args).await
    }

    /// Starts with API authentication on, as `strom serve` runs by default.
    pub async fn start_secure(backend: Backend) -> Server {
        let db = Database::new(&backend).await;
        Server::launch(db, Vec::new()).await
    }

    /// Runs `strom token create --role ROLE` against this server's database; returns the token.
    pub async fn create_token(&self, role: &str) -> Result<String, String> {
        self.create_token_with(&["--role", role]).await
    }

    /// Runs `strom token create ARGS` against this server's database; returns the token.
    pub async fn create_token_with(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new(env!("CARGO_BIN_EXE_strom"))
            .args(["token", "create", "--database", &self.db.url])
            .args(args)
            .env("STROM_LOG", "error")
            .output()
            .await
            .expect("strom runs");
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        let stdout = String::from_utf8(output.stdout).expect("utf-8");
        Ok(stdout.lines().last().expect("a last line").to_string())
    }

    /// Starts with a configuration file holding `toml`.
    pub async fn start_with_config(backend: Backend, toml: &str) -> Server {
        Server::start_with_config_and(backend, toml, &[]).await
    }

    /// Starts with a configuration file holding `toml` and extra flags, the API open.
    pub async fn start_with_config_and(backend: Backend, toml: &str, args: &[&str]) -> Server {
        Server::launch_with_config(Database::new(&backend).await, toml, args).await
    }

    /// Starts again on `db` (from `kill` or `terminate`) with a configuration file holding `toml`.
    pub async fn restart_with_config(db: Database, toml: &str) -> Server {
        Server::launch_with_config(db, toml, &[]).await
    }

    async fn launch_with_config(db: Database, toml: &str, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("strom.toml");
        std::fs::write(&path, toml).expect("config written");
        // The file is read at start; the folder may go afterwards.
        let mut all = vec!["--config".into(), path.display().to_string(), "--api-open".into()];
        all.extend(args.iter().map(|a| a.to_string()));
        Server::launch(db, all).await
    }

    /// Starts with the API open and logging at `filter` (a `STROM_LOG` value), its log output
    /// kept for `log_output`.
    pub async fn start_logging(backend: Backend, filter: &str) -> Server {
        let db = Database::new(&backend).await;
        Server::launch_logging(db, vec!["--api-open".into()], Some(filter)).await
    }

    /// What the server has logged so far (only for a server started with `start_logging`).
    pub fn log_output(&self) -> String {
        self.log.as_ref().expect("started with start_logging").lock().expect("log lock").clone()
    }

    async fn launch(db: Database, args: Vec<String>) -> Server {
        Server::launch_logging(db, args, None).await
    }

    async fn launch_logging(db: Database, args: Vec<String>, log_filter: Option<&str>) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strom"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &db.url])
            .args(&args)
            .env("STROM_LOG", log_filter.unwrap_or("error"))
            .stdout(Stdio::piped())
            .stderr(if log_filter.is_some() { Stdio::piped() } else { Stdio::inherit() })
            .kill_on_drop(true)
            .spawn()
            .expect("strom starts");
        let log = child.stderr.take().map(|stderr| {
            let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let kept = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut kept = kept.lock().expect("log lock");
                    kept.push_str(&line);
                    kept.push('\n');
                }
            });
            log
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(TIMEOUT, lines.next_line())
            .await
            .expect("strom prints its address in time")
            .expect("stdout readable")
            .expect("strom printed its address");
        let addr = line.strip_prefix("strom listening on ").expect("address line").to_string();
        let (mut tls_addr, mut api_addr) = (None, None);
        let flag = |name: &str| args.iter().any(|a| a == name);
        let expected = usize::from(flag("--tls-listen")) + usize::from(flag("--api-listen"));
        for _ in 0..expected {
            let line = tokio::time::timeout(TIMEOUT, lines.next_line())
                .await
                .expect("strom prints its addresses in time")
                .expect("stdout readable")
                .expect("strom printed an address");
            if let Some(tls) = line.strip_prefix("strom listening for TLS on ") {
                tls_addr = Some(tls.to_string());
            } else if let Some(api) = line.strip_prefix("strom API listening on ") {
                api_addr = Some(api.to_string());
            } else {
                panic!("unexpected line {line:?}");
            }
        }
        Server { child, addr, db, args, tls_addr, api_addr, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Stops the server hard (SIGKILL): no flush, no goodbye.
    pub async fn kill(mut self) -> Database {
        self.child.kill().await.expect("kill");
        self.db_take()
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub async fn terminate(mut self) -> (std::process::ExitStatus, Database) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill runs");
        assert!(status.success());
        let exit = tokio::time::timeout(TIMEOUT, self.child.wait()).await.expect("exits in time").expect("wait");
        (exit, self.db_take())
    }

    fn db_take(&mut self) -> Database {
        std::mem::replace(&mut self.db, Database { url: String::new(), _dir: None, pg_schema: None })
    }

    pub async fn restart(db: Database) -> Server {
        Server::launch(db, vec!["--api-open".into()]).await
    }

    pub fn ws_url(&self, station: &str) -> String {
        format!("ws://{}/ocpp/{station}", self.addr)
    }

    pub async fn station(&self, id: &str) -> Station {
        Station::connect(self, id, "ocpp1.6").await.expect("station connects")
    }

    pub async fn station201(&self, id: &str) -> Station {
        let s = Station::connect(self, id, "ocpp2.0.1").await.expect("station connects");
        assert_eq!(s.protocol, "ocpp2.0.1");
        s
    }

    /// A 1.6 station that has booted and is Accepted.
    pub async fn booted(&self, id: &str) -> Station {
        Self::boot(self.station(id).await).await
    }

    /// A 2.0.1 station that has booted and is Accepted.
    pub async fn booted201(&self, id: &str) -> Station {
        Self::boot(self.station201(id).await).await
    }

    async fn boot(mut s: Station) -> Station {
        let r = s.call_ok("BootNotification", boot_payload(&s.protocol, "Test", "T1")).await;
        assert_eq!(r["status"], "Accepted");
        s
    }

    pub async fn http(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        http(&self.addr, method, path, body, None).await.0
    }

    /// An API call with a bearer token; also returns the response head.
    pub async fn http_as(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> ((u16, Value), String) {
        http(&self.addr, method, path, body, Some(token)).await
    }

    /// A handle for API calls from another task (e.g. while a station answers a command).
    pub fn api(&self) -> Api {
        Api { addr: self.addr.clone() }
    }

    /// An API call in the background, for requests that wait on a station's answer.
    pub fn spawn_http(&self, method: &'static str, path: &str, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
        let (api, path) = (self.api(), path.to_string());
        tokio::spawn(async move { api.http(method, &path, Some(body)).await })
    }

    /// Makes an API request that sends one CALL to `station`, which answers it with `answer`;
    /// returns the CALL's action and payload and the API's answer.
    pub async fn answered(
        &self,
        station: &mut Station,
        method: &'static str,
        path: &str,
        body: Value,
        answer: Value,
    ) -> (String, Value, (u16, Value)) {
        let operator = self.spawn_http(method, path, body);
        let (id, action, payload) = station.expect_call().await;
        station.reply(&id, answer).await;
        (action, payload, operator.await.expect("operator task"))
    }

    /// A connection of the test's own to the server's database (to read what it stored, or to
    /// put rows there as an older Ström would have written them).
    pub async fn database(&self) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let url =
            if self.db.url.starts_with("postgres") { self.db.url.clone() } else { format!("sqlite://{}", self.db.url) };
        sqlx::AnyConnection::connect(&url).await.expect("database")
    }

    /// The value of a `/metrics` series, e.g. `strom_x_total{reason="y"}` (0 if absent).
    pub async fn metric(&self, series: &str) -> u64 {
        let (status, text) = get_text(&self.addr, "/metrics").await;
        assert_eq!(status, 200);
        let prefix = format!("{series} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |n| n.parse::<f64>().expect("a number") as u64)
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, value) = self.http("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    /// Every item of a list, following its pages (`next_cursor`) to the last; each page is
    /// checked for the shape `{"items": [...], "next_cursor": "…" | null}`.
    pub async fn items(&self, path: &str) -> Value {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut page = self.get(path).await;
        loop {
            let (Some(part), Some(next)) = (page["items"].as_array(), page.get("next_cursor")) else {
                panic!("GET {path} is not a page: {page}");
            };
            items.extend(part.iter().cloned());
            match next.as_str() {
                Some(cursor) => page = self.get(&format!("{path}{separator}cursor={cursor}")).await,
                None if next.is_null() => return Value::Array(items),
                None => panic!("next_cursor is neither a string nor null: {page}"),
            }
        }
    }

    /// Every item of a list once it holds at least `count`, or as it is after 10 s: the record
    /// of an ended transaction is written just after the end, off the writer (the settler).
    pub async fn items_eventually(&self, path: &str, count: usize) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let items = self.items(path).await;
            if items.as_array().map_or(0, Vec::len) >= count || std::time::Instant::now() > deadline {
                return items;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn add_token(&self, token: &str, status: &str, expiry: Option<&str>, parent: Option<&str>) {
        let body = json!({"id_token": token, "status": status, "expiry": expiry, "parent_id_token": parent});
        let (code, value) = self.http("POST", "/api/v1/id-tokens", Some(body)).await;
        assert_eq!(code, 201, "{value}");
    }
}

#[derive(Clone)]
pub struct Api {
    addr: String,
}

impl Api {
    pub async fn http(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        http(&self.addr, method, path, body, None).await.0
    }
}

/// Sends one HTTP/1.1 request and returns (status, head, body).
async fn roundtrip(addr: &str, request: String) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect API");
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut response = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut response)).await.expect("answer in time").expect("read");
    let text = String::from_utf8(response).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let chunked = head.lines().any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let body = if chunked { dechunked(body).expect("a whole chunked body") } else { body.to_string() };
    (status, head.to_string(), body)
}

/// A chunked body (a streamed answer) as its content; `None` if it ends before its last,
/// empty chunk (the server broke the stream off).
pub fn dechunked(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// GET that returns the body as text (for /metrics).
/// A GET without a token: (status, head, body), the body as text.
pub async fn get_with_head(addr: &str, path: &str) -> (u16, String, String) {
    roundtrip(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")).await
}

pub async fn get_text(addr: &str, path: &str) -> (u16, String) {
    let (status, _, body) =
        roundtrip(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")).await;
    (status, body)
}

async fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> ((u16, Value), String) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, head, body) = roundtrip(addr, request).await;
    let value = if body.is_empty() { Value::Null } else { serde_json::from_str(&body).expect("JSON body") };
    ((status, value), head)
}

/// What Ström answered to a CALL.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Result(Value),
    Error { code: String, description: String },
}

pub struct Station {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    pub protocol: String,
}

/// A WebSocket upgrade request for `url` offering `protocols`, with extra headers as raw bytes.
fn upgrade_request(
    url: &str,
    protocols: &str,
    headers: &[(&str, &[u8])],
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", protocols.parse().expect("header value"));
    for (name, value) in headers {
        request.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_bytes(value).expect("header value"),
        );
    }
    Ok(request)
}

/// The subprotocol the server chose.
fn negotiated(response: &tokio_tungstenite::tungstenite::handshake::client::Response) -> String {
    response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// The boot payload of a test station of either version.
pub fn boot_payload(protocol: &str, vendor: &str, model: &str) -> Value {
    if protocol == "ocpp2.0.1" {
        json!({"reason": "PowerUp", "chargingStation": {"vendorName": vendor, "model": model}})
    } else {
        json!({"chargePointVendor": vendor, "chargePointModel": model})
    }
}

impl Station {
    pub async fn connect(
        server: &Server,
        id: &str,
        protocols: &str,
    ) -> Result<Station, tokio_tungstenite::tungstenite::Error> {
        Station::connect_with(server, id, protocols, &[]).await
    }

    /// Connects with extra request headers (e.g. `Authorization`), each given as raw bytes.
    pub async fn connect_with(
        server: &Server,
        id: &str,
        protocols: &str,
        headers: &[(&str, &[u8])],
    ) -> Result<Station, tokio_tungstenite::tungstenite::Error> {
        let request = upgrade_request(&server.ws_url(id), protocols, headers)?;
        let (ws, response) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
            .await
            .expect("handshake in time")?;
        Ok(Station { ws, next_id: 0, protocol: negotiated(&response) })
    }

    /// Connects over TLS to the server's TLS listener, as `localhost`, with `client` (its roots,
    /// versions and client certificate) and extra request headers.
    pub async fn connect_tls(
        server: &Server,
        id: &str,
        protocols: &str,
        headers: &[(&str, &[u8])],
        client: std::sync::Arc<rustls::ClientConfig>,
    ) -> Result<Station, tokio_tungstenite::tungstenite::Error> {
        let addr = server.tls_addr.as_deref().expect("started with a TLS listener");
        let port = addr.rsplit(':').next().expect("a port");
        let request = upgrade_request(&format!("wss://localhost:{port}/ocpp/{id}"), protocols, headers)?;
        let tcp = TcpStream::connect(addr).await.expect("TLS listener reachable");
        let connector = tokio_tungstenite::Connector::Rustls(client);
        let handshake = tokio_tungstenite::client_async_tls_with_config(request, tcp, None, Some(connector));
        let (ws, response) = tokio::time::timeout(TIMEOUT, handshake).await.expect("handshake in time")?;
        Ok(Station { ws, next_id: 0, protocol: negotiated(&response) })
    }

    /// The folder of the official schemas for the negotiated version.
    pub fn schema_dir(&self) -> testkit::VersionDir {
        if self.protocol == "ocpp2.0.1" {
            "v201"
        } else {
            "v16"
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next message from Ström, answering pings along the way.
    pub async fn next_message(&mut self) -> Option<Message> {
        loop {
            match tokio::time::timeout(TIMEOUT, self.ws.next()).await.expect("Ström answers in time") {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return Some(m),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next text frame, parsed. Every CALLERROR is checked for its shape (CONFORMANCE RPC-14).
    pub async fn next_frame(&mut self) -> Value {
        match self.next_message().await {
            Some(Message::Text(t)) => {
                let frame: Value = serde_json::from_str(t.as_str()).expect("Ström sends JSON");
                if frame[0] == 4 {
                    let parts = frame.as_array().expect("array");
                    assert_eq!(parts.len(), 5, "CALLERROR has five elements: {frame}");
                    assert!(parts[2].is_string() && parts[3].is_string() && parts[4].is_object(), "{frame}");
                }
                frame
            }
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Sends a raw frame and returns what Ström answered.
    pub async fn raw(&mut self, text: &str) -> Value {
        self.send_text(text).await;
        self.next_frame().await
    }

    pub async fn call(&mut self, action: &str, payload: Value) -> Reply {
        self.next_id += 1;
        let id = format!("m{}", self.next_id);
        let frame = json!([2, id, action, payload]);
        let answer = self.raw(&frame.to_string()).await;
        assert_eq!(answer[1], id.as_str(), "answer carries the CALL's id");
        match answer[0].as_u64() {
            Some(3) => {
                testkit::validate(self.schema_dir(), action, true, &answer[2])
                    .unwrap_or_else(|e| panic!("Ström sent an invalid {action} answer: {e}"));
                Reply::Result(answer[2].clone())
            }
            Some(4) => Reply::Error {
                code: answer[2].as_str().unwrap_or_default().to_string(),
                description: answer[3].as_str().unwrap_or_default().to_string(),
            },
            _ => panic!("unexpected answer {answer}"),
        }
    }

    pub async fn call_ok(&mut self, action: &str, payload: Value) -> Value {
        match self.call(action, payload).await {
            Reply::Result(v) => v,
            other => panic!("{action} failed: {other:?}"),
        }
    }

    pub async fn call_err(&mut self, action: &str, payload: Value) -> String {
        match self.call(action, payload).await {
            Reply::Error { code, .. } => code,
            other => panic!("{action} should have failed: {other:?}"),
        }
    }

    pub async fn status(&mut self, connector: i64, status: &str, error_code: &str) {
        let payload = json!({"connectorId": connector, "status": status, "errorCode": error_code});
        self.call_ok("StatusNotification", payload).await;
    }

    /// Starts a transaction and returns (transactionId, idTagInfo.status).
    pub async fn start(&mut self, connector: i64, tag: &str, meter_start: i64, timestamp: &str) -> (i64, String) {
        let r = self
            .call_ok(
                "StartTransaction",
                json!({"connectorId": connector, "idTag": tag, "meterStart": meter_start, "timestamp": timestamp}),
            )
            .await;
        (
            r["transactionId"].as_i64().expect("transactionId"),
            r["idTagInfo"]["status"].as_str().expect("status").to_string(),
        )
    }

    /// The next CALL Ström sends: (message id, action, payload), checked against the schema.
    pub async fn expect_call(&mut self) -> (String, String, Value) {
        let frame = self.next_frame().await;
        assert_eq!(frame[0], 2, "expected a CALL, got {frame}");
        let id = frame[1].as_str().expect("id").to_string();
        assert!(id.len() <= 36, "message id {id} is longer than 36");
        let action = frame[2].as_str().expect("action").to_string();
        testkit::validate(self.schema_dir(), &action, false, &frame[3])
            .unwrap_or_else(|e| panic!("Ström sent an invalid {action} request: {e}"));
        (id, action, frame[3].clone())
    }

    pub async fn reply(&mut self, id: &str, payload: Value) {
        self.send_text(&json!([3, id, payload]).to_string()).await;
    }

    pub async fn reply_error(&mut self, id: &str, code: &str, description: &str) {
        self.send_text(&json!([4, id, code, description, {}]).to_string()).await;
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

impl Station {
    pub async fn send_ping(&mut self, payload: &[u8]) {
        self.ws.send(Message::Ping(payload.to_vec().into())).await.expect("send ping");
    }

    pub async fn send_binary(&mut self, payload: &[u8]) {
        self.ws.send(Message::Binary(payload.to_vec().into())).await.expect("send binary");
    }

    /// Sends one final text frame whose payload is `bytes` as they are, UTF-8 or not.
    pub async fn send_text_bytes(&mut self, bytes: &[u8]) {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        let frame = Frame::message(bytes.to_vec(), OpCode::Data(Data::Text), true);
        self.ws.send(Message::Frame(frame)).await.expect("send raw frame");
    }

    /// The next message of any kind, pings and pongs included.
    pub async fn next_raw_message(&mut self) -> Option<Message> {
        match tokio::time::timeout(TIMEOUT, self.ws.next()).await.expect("Ström answers in time") {
            Some(Ok(m)) => Some(m),
            Some(Err(_)) | None => None,
        }
    }
}

/// A 2.0.1 idToken of the usual RFID card type.
pub fn id_token(value: &str) -> Value {
    json!({"idToken": value, "type": "ISO14443"})
}

/// A TransactionEvent payload; `extra` is merged in.
pub fn tx_event(event_type: &str, seq_no: i64, tx: &str, trigger: &str, timestamp: &str, extra: Value) -> Value {
    let mut v = json!({
        "eventType": event_type,
        "timestamp": timestamp,
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx},
    });
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        for (k, val) in more {
            if k == "transactionInfo" {
                if let (Some(info), Value::Object(fields)) =
                    (obj.get_mut("transactionInfo").and_then(Value::as_object_mut), val)
                {
                    info.extend(fields);
                }
            } else {
                obj.insert(k, val);
            }
        }
    }
    v
}

/// A 2.0.1 meterValue list of one energy register reading.
pub fn energy_reading(wh: f64, context: &str, timestamp: &str) -> Value {
    json!([{"timestamp": timestamp, "sampledValue": [{"value": wh, "context": context, "measurand": "Energy.Active.Import.Register"}]}])
}
