//! API hardening (issue 25, item 5): bodies only as declared JSON (415 otherwise), no CORS
//! approval for any origin, API tokens listed without their secrets, revoked and expired
//! tokens refused at once, and a bearer token matched exactly as sent.

mod common;

use common::{Backend, Server, TIMEOUT};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

both_backends!(
    bodies_must_be_declared_as_json,
    bodies_must_be_declared_as_json_with_tokens_too,
    no_origin_gets_cors_approval,
    api_tokens_are_listed_without_secrets,
    revoked_tokens_are_refused_at_once,
    expired_tokens_are_refused,
    a_token_must_be_sent_exactly,
    cli_lists_and_revokes_api_tokens,
);

/// An answer to a raw request: status, head (lower-cased), body as JSON (null if empty).
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

/// Sends `head` (request line and headers, without the blank line) and `body` as they are.
async fn raw(server: &Server, head: &str, body: &str) -> Answer {
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect API");
    let request = format!("{head}\r\nHost: {}\r\nConnection: close\r\n\r\n{body}", server.addr);
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut response = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut response)).await.expect("answer in time").expect("read");
    let text = String::from_utf8(response).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let body = if body.is_empty() { Value::Null } else { serde_json::from_str(body).expect("JSON body") };
    Answer { status, head: head.to_ascii_lowercase(), body }
}

/// A request with a body of `content_type` (none if `None`) and a Content-Length.
async fn with_body(server: &Server, line: &str, extra: &str, content_type: Option<&str>, body: &str) -> Answer {
    let content_type = content_type.map(|t| format!("\r\nContent-Type: {t}")).unwrap_or_default();
    raw(server, &format!("{line}{extra}{content_type}\r\nContent-Length: {}", body.len()), body).await
}

fn is_unsupported_media_type(answer: &Answer) -> bool {
    answer.status == 415 && answer.body["error"].as_str().is_some_and(|e| e.contains("application/json"))
}

/// The cases a browser can send cross-origin without asking first, and the lazy ones.
const NOT_JSON: [Option<&str>; 6] = [
    Some("text/plain"),
    Some("text/plain;charset=UTF-8"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
    Some("application/json; charset=iso-8859-1"),
    None,
];

async fn bodies_must_be_declared_as_json(backend: Backend) {
    // Open, as `--api-open` serves it: the content type is all that stands in a page's way.
    let server = Server::start(backend).await;
    let token = r#"{"id_token": "T1", "status": "Accepted"}"#;
    for content_type in NOT_JSON {
        let answer = with_body(&server, "POST /api/v1/id-tokens HTTP/1.1", "", content_type, token).await;
        assert!(is_unsupported_media_type(&answer), "{content_type:?}: {} {}", answer.status, answer.body);
        let line = "PUT /api/v1/stations/CP1 HTTP/1.1";
        let answer = with_body(&server, line, "", content_type, r#"{"registration_status": "Accepted"}"#).await;
        assert!(is_unsupported_media_type(&answer), "{content_type:?}: {} {}", answer.status, answer.body);
    }
    assert_eq!(server.http("GET", "/api/v1/id-tokens/T1", None).await.0, 404, "nothing was created");
    // A command is refused before it reaches the station.
    let mut cp = server.booted("CP1").await;
    let line = "POST /api/v1/stations/CP1/reset HTTP/1.1";
    let answer = with_body(&server, line, "", Some("text/plain"), r#"{"type": "hard"}"#).await;
    assert!(is_unsupported_media_type(&answer), "{} {}", answer.status, answer.body);
    let line = "POST /api/v1/stations/CP1/commands/Reset HTTP/1.1";
    let answer = with_body(&server, line, "", None, r#"{"type": "Hard"}"#).await;
    assert!(is_unsupported_media_type(&answer), "{} {}", answer.status, answer.body);
    // A chunked body, and a body on a method that usually has none, count as bodies too.
    let chunked = "POST /api/v1/id-tokens HTTP/1.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked";
    let answer = raw(&server, chunked, &format!("{:x}\r\n{token}\r\n0\r\n\r\n", token.len())).await;
    assert!(is_unsupported_media_type(&answer), "{} {}", answer.status, answer.body);
    let answer = with_body(&server, "DELETE /api/v1/id-tokens/T1 HTTP/1.1", "", Some("text/plain"), "{}").await;
    assert!(is_unsupported_media_type(&answer), "{} {}", answer.status, answer.body);
    // JSON, with or without a charset and in any letter case, goes through.
    for (n, content_type) in
        ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\""]
            .into_iter()
            .enumerate()
    {
        let body = format!(r#"{{"id_token": "J{n}", "status": "Accepted"}}"#);
        let answer = with_body(&server, "POST /api/v1/id-tokens HTTP/1.1", "", Some(content_type), &body).await;
        assert_eq!(answer.status, 201, "{content_type}: {}", answer.body);
    }
    // Requests without a body need no content type.
    assert_eq!(raw(&server, "GET /api/v1/id-tokens/J0 HTTP/1.1", "").await.status, 200);
    assert_eq!(raw(&server, "DELETE /api/v1/id-tokens/J0 HTTP/1.1", "").await.status, 204);
    assert_eq!(raw(&server, "DELETE /api/v1/id-tokens/J1 HTTP/1.1\r\nContent-Length: 0", "").await.status, 204);
    // The station never saw a command.
    cp.status(1, "Available", "NoError").await;
    assert_eq!(server.items("/api/v1/stations/CP1/commands").await, json!([]));
}

async fn bodies_must_be_declared_as_json_with_tokens_too(backend: Backend) {
    let server = Server::start_secure(backend).await;
    let admin = server.create_token("admin").await.expect("token");
    let auth = format!("\r\nAuthorization: Bearer {admin}");
    let token = r#"{"id_token": "T1", "status": "Accepted"}"#;
    for content_type in NOT_JSON {
        let answer = with_body(&server, "POST /api/v1/id-tokens HTTP/1.1", &auth, content_type, token).await;
        assert!(is_unsupported_media_type(&answer), "{content_type:?}: {} {}", answer.status, answer.body);
    }
    let answer = with_body(&server, "POST /api/v1/id-tokens HTTP/1.1", &auth, Some("application/json"), token).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
}

/// Whether a response's head carries any CORS approval.
fn approves_cors(head: &str) -> bool {
    head.lines().any(|l| l.starts_with("access-control-"))
}

async fn no_origin_gets_cors_approval(backend: Backend) {
    let open = Server::start(backend.clone()).await;
    let secure = Server::start_secure(backend).await;
    let admin = secure.create_token("admin").await.expect("token");
    for (server, auth) in [(&open, String::new()), (&secure, format!("\r\nAuthorization: Bearer {admin}"))] {
        for path in ["/api/v1/stations/CP1/reset", "/api/v1/id-tokens", "/api/v1/tokens", "/api/v1/stations"] {
            let preflight = format!(
                "OPTIONS {path} HTTP/1.1\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\n\
                 Access-Control-Request-Headers: content-type, authorization"
            );
            let answer = raw(server, &preflight, "").await;
            assert!(!approves_cors(&answer.head), "OPTIONS {path}: {}", answer.head);
            assert!(!(200..300).contains(&answer.status), "OPTIONS {path}: {}", answer.head);
        }
        let answer =
            raw(server, &format!("GET /api/v1/stations HTTP/1.1\r\nOrigin: http://evil.example{auth}"), "").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(!approves_cors(&answer.head), "{}", answer.head);
        let post = format!("POST /api/v1/id-tokens HTTP/1.1\r\nOrigin: http://evil.example{auth}");
        let answer =
            with_body(server, &post, "", Some("application/json"), r#"{"id_token": "C", "status": "Accepted"}"#).await;
        assert!(!approves_cors(&answer.head), "{}", answer.head);
    }
}

/// The API's list of tokens, all pages, `limit` at a time, as `token`.
async fn token_list(server: &Server, token: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = format!("/api/v1/tokens?limit={limit}");
    loop {
        let ((status, page), _) = server.http_as(token, "GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        items.extend(page["items"].as_array().expect("a page").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/tokens?limit={limit}&cursor={cursor}"),
            None => {
                assert!(page["next_cursor"].is_null(), "{page}");
                return items;
            }
        }
    }
}

/// A connection of the test's own to the server's database.
async fn database(server: &Server) -> sqlx::AnyConnection {
    server.database().await
}

async fn api_tokens_are_listed_without_secrets(backend: Backend) {
    let server = Server::start_secure(backend).await;
    let admin = server.create_token("admin").await.expect("token");
    let operator = server.create_token_with(&["--role", "operator", "--name", "ops team"]).await.expect("token");
    let viewer = server
        .create_token_with(&["--role", "viewer", "--name", "dashboard", "--expires-in-days", "30"])
        .await
        .expect("token");
    let all = token_list(&server, &admin, 100).await;
    assert_eq!(token_list(&server, &admin, 1).await, all, "paging by one visits the same tokens");
    let summary: Vec<(Value, Value, Value)> =
        all.iter().map(|t| (t["id"].clone(), t["role"].clone(), t["name"].clone())).collect();
    assert_eq!(
        summary,
        [
            (json!(1), json!("admin"), Value::Null),
            (json!(2), json!("operator"), json!("ops team")),
            (json!(3), json!("viewer"), json!("dashboard"))
        ]
    );
    let mut conn = database(&server).await;
    let hashes: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(&mut conn).await.expect("hashes");
    for token in &all {
        let fields: Vec<&str> = token.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(fields, ["created_at", "expires_at", "id", "name", "revoked_at", "role"], "{token}");
        assert!(token["revoked_at"].is_null(), "{token}");
        // No part of any secret or hash: not even the last four characters.
        let text = token.to_string();
        for secret in hashes.iter().chain([&admin, &operator, &viewer]) {
            let tail = &secret[secret.len() - 4..];
            assert!(!text.contains(tail), "{text} holds part of {secret}");
        }
    }
    assert!(all[0]["expires_at"].is_null() && all[1]["expires_at"].is_null());
    let time = |field: &str| chrono::DateTime::parse_from_rfc3339(all[2][field].as_str().expect(field)).expect(field);
    let (created, expires) = (time("created_at"), time("expires_at"));
    assert_eq!((expires - created).num_days(), 30, "{}", all[2]);
    // Only an admin may see who has access.
    for token in [&viewer, &operator] {
        let ((status, body), _) = server.http_as(token, "GET", "/api/v1/tokens", None).await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = server.http("GET", "/api/v1/tokens", None).await;
    assert_eq!(status, 401, "{body}");
    // The OpenAPI document lists both operations.
    let ((status, doc), _) = server.http_as(&viewer, "GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(doc["paths"]["/api/v1/tokens"]["get"].is_object(), "{}", doc["paths"]);
    assert!(doc["paths"]["/api/v1/tokens/{id}"]["delete"]["responses"]["204"].is_object(), "{}", doc["paths"]);
}

async fn revoked_tokens_are_refused_at_once(backend: Backend) {
    let server = Server::start_secure(backend).await;
    let admin = server.create_token("admin").await.expect("token");
    let operator = server.create_token("operator").await.expect("token");
    let viewer = server.create_token("viewer").await.expect("token");
    assert_eq!(server.http_as(&viewer, "GET", "/api/v1/stations", None).await.0 .0, 200);
    // Neither an operator nor the token itself may revoke.
    for token in [&operator, &viewer] {
        assert_eq!(server.http_as(token, "DELETE", "/api/v1/tokens/3", None).await.0 .0, 403);
    }
    let ((status, body), _) = server.http_as(&admin, "DELETE", "/api/v1/tokens/3", None).await;
    assert_eq!((status, body), (204, Value::Null));
    let ((status, body), head) = server.http_as(&viewer, "GET", "/api/v1/stations", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("revoked")), "{body}");
    assert!(head.to_ascii_lowercase().contains("www-authenticate: bearer"), "{head}");
    // The others keep working; revoking again changes nothing; unknown ids are 404.
    assert_eq!(server.http_as(&operator, "GET", "/api/v1/stations", None).await.0 .0, 200);
    let first = token_list(&server, &admin, 100).await[2]["revoked_at"].clone();
    assert!(first.is_string(), "{first}");
    assert_eq!(server.http_as(&admin, "DELETE", "/api/v1/tokens/3", None).await.0 .0, 204);
    assert_eq!(token_list(&server, &admin, 100).await[2]["revoked_at"], first);
    let ((status, body), _) = server.http_as(&admin, "DELETE", "/api/v1/tokens/99", None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(server.http_as(&admin, "DELETE", "/api/v1/tokens/three", None).await.0 .0, 400);
    // An admin may revoke itself, and is then refused too.
    assert_eq!(server.http_as(&admin, "DELETE", "/api/v1/tokens/1", None).await.0 .0, 204);
    assert_eq!(server.http_as(&admin, "GET", "/api/v1/tokens", None).await.0 .0, 401);
}

async fn expired_tokens_are_refused(backend: Backend) {
    let server = Server::start_secure(backend).await;
    for days in ["0", "-1", "soon"] {
        let refused = server.create_token_with(&["--role", "viewer", "--expires-in-days", days]).await;
        assert!(refused.is_err(), "--expires-in-days {days}");
    }
    let viewer = server.create_token_with(&["--role", "viewer", "--expires-in-days", "1"]).await.expect("token");
    let other = server.create_token_with(&["--role", "viewer"]).await.expect("token");
    assert_eq!(server.http_as(&viewer, "GET", "/api/v1/stations", None).await.0 .0, 200);
    // A day passes (for this token): its expiry is moved into the past.
    let mut conn = database(&server).await;
    sqlx::query("UPDATE api_tokens SET expires_at = '2026-01-01T00:00:00.000Z' WHERE id = 1")
        .execute(&mut conn)
        .await
        .expect("update");
    let ((status, body), _) = server.http_as(&viewer, "GET", "/api/v1/stations", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("expired")), "{body}");
    assert_eq!(server.http_as(&other, "GET", "/api/v1/stations", None).await.0 .0, 200);
}

async fn a_token_must_be_sent_exactly(backend: Backend) {
    let server = Server::start_secure(backend).await;
    let viewer = server.create_token("viewer").await.expect("token");
    let get = |authorization: &str| format!("GET /api/v1/stations HTTP/1.1\r\nAuthorization: {authorization}");
    assert_eq!(raw(&server, &get(&format!("Bearer {viewer}")), "").await.status, 200);
    let upper = viewer.to_ascii_uppercase();
    let wrong = [
        format!("Bearer  {viewer}"),
        format!("Bearer \t{viewer}"),
        format!("Bearer {viewer} x"),
        format!("Bearer {viewer}0"),
        format!("Bearer {}", &viewer[..viewer.len() - 1]),
        format!("Bearer {upper}"),
        format!("Bearer {}", viewer.trim_start_matches("strom_")),
        format!("Bearer\t{viewer}"),
        format!("Basic {viewer}"),
        viewer.clone(),
    ];
    for authorization in wrong {
        let answer = raw(&server, &get(&authorization), "").await;
        assert_eq!(answer.status, 401, "{authorization:?}: {}", answer.body);
    }
}

/// Runs `strom ARGS` with the API at the server and `token`.
async fn strom(server: &Server, token: &str, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(args)
        .env("STROM_URL", format!("http://{}", server.addr))
        .env("STROM_TOKEN", token)
        .output()
        .await
        .expect("strom runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

async fn cli_lists_and_revokes_api_tokens(backend: Backend) {
    let server = Server::start_secure(backend).await;
    let admin = server.create_token("admin").await.expect("token");
    let viewer = server
        .create_token_with(&["--role", "viewer", "--name", "dashboard", "--expires-in-days", "7"])
        .await
        .expect("token");
    server.create_token_with(&["--role", "operator", "--name", "ops"]).await.expect("token");
    let (ok, _, err) = strom(&server, &viewer, &["token", "list"]).await;
    assert!(!ok && err.contains("403"), "a viewer may not list tokens: {err}");
    let (ok, out, err) = strom(&server, &admin, &["token", "revoke", "3"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "revoked: 3\n");
    let (ok, _, err) = strom(&server, &admin, &["token", "revoke", "9"]).await;
    assert!(!ok && err.contains("404") && err.contains("API token not found"), "{err}");

    let (ok, out, err) = strom(&server, &admin, &["token", "list"]).await;
    assert!(ok, "{err}");
    // Times differ from run to run; each is 24 characters wide, as is its stand-in.
    let tokens = token_list(&server, &admin, 100).await;
    let mut text = out.clone();
    for (field, stand_in) in [
        ("created_at", "CREATED-AT-TIME-XXXXXXXX"),
        ("expires_at", "EXPIRES-AT-TIME-XXXXXXXX"),
        ("revoked_at", "REVOKED-AT-TIME-XXXXXXXX"),
    ] {
        for token in &tokens {
            if let Some(time) = token[field].as_str() {
                assert_eq!(time.len(), stand_in.len());
                text = text.replace(time, stand_in);
            }
        }
    }
    assert_eq!(
        text,
        "ID  ROLE      NAME       CREATED                   EXPIRES                   REVOKED\n\
         1   admin     -          CREATED-AT-TIME-XXXXXXXX  -                         -\n\
         2   viewer    dashboard  CREATED-AT-TIME-XXXXXXXX  EXPIRES-AT-TIME-XXXXXXXX  -\n\
         3   operator  ops        CREATED-AT-TIME-XXXXXXXX  -                         REVOKED-AT-TIME-XXXXXXXX\n",
        "{out}"
    );
    let (ok, out, _) = strom(&server, &admin, &["token", "list", "--json"]).await;
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).expect("JSON"), Value::Array(tokens));
}

/// Reads one HTTP/1.1 response with a Content-Length from a connection that stays open.
async fn read_response(stream: &mut TcpStream) -> Answer {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(TIMEOUT, stream.read(&mut byte)).await.expect("answer in time").expect("read");
        assert_eq!(n, 1, "the connection closed after {:?}", String::from_utf8_lossy(&buffer));
        buffer.push(byte[0]);
    }
    let head = String::from_utf8(buffer).expect("utf-8 head").to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a content-length");
    let mut body = vec![0u8; length];
    tokio::time::timeout(TIMEOUT, stream.read_exact(&mut body)).await.expect("body in time").expect("read body");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    Answer { status, head, body: serde_json::from_slice(&body).expect("JSON body") }
}

/// A method a path does not serve is a 405 with Allow and a JSON error whatever body it
/// carries (JSON or not: no handler reads it), and the connection goes on serving (found by
/// the schema fuzzer: PATCH and TRACE with bodies).
#[tokio::test]
async fn an_unserved_method_with_a_body_is_a_405_on_a_connection_that_stays_open() {
    let server = Server::start(Backend::Sqlite).await;
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect API");
    let requests = [
        ("PATCH", "/api/v1/stations/CP1", Some("text/plain"), "registration_status=Accepted", "get,head,put,delete"),
        ("TRACE", "/api/v1/stations", Some("application/json"), r#"{"a": 1}"#, "get,head"),
        ("PATCH", "/api/v1/id-tokens/T1", None, r#"{"status": "Accepted"}"#, "get,head,put,delete"),
        ("DELETE", "/api/v1/stations/CP1/reset", Some("application/x-www-form-urlencoded"), "type=hard", "post"),
    ];
    for (method, path, content_type, body, allow) in requests {
        let content_type = content_type.map(|t| format!("Content-Type: {t}\r\n")).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
            server.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("send request");
        let answer = read_response(&mut stream).await;
        assert_eq!(answer.status, 405, "{method} {path}: {} {}", answer.head, answer.body);
        assert!(answer.head.contains(&format!("allow: {allow}\r\n")), "{method} {path}: {}", answer.head);
        assert!(answer.body["error"].is_string(), "{}", answer.body);
    }
    // The same connection still serves, and a served method's body is still checked.
    let request = format!("GET /api/v1/stations HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    stream.write_all(request.as_bytes()).await.expect("send request");
    assert_eq!(read_response(&mut stream).await.status, 200);
    let answer = with_body(&server, "PUT /api/v1/stations/CP1 HTTP/1.1", "", Some("text/plain"), "{}").await;
    assert!(is_unsupported_media_type(&answer), "{} {}", answer.status, answer.body);
    assert_eq!(server.items("/api/v1/stations").await, json!([]), "nothing was changed");
}
