//! The OpenAPI document describes the API that is there: every path and method it lists is
//! served (none falls through to "no such endpoint" or "method not allowed"), real answers
//! validate against the schemas it gives them (a field the API writes and the document lacks
//! fails), and anyone may read it without a token.

mod common;

use common::{Backend, Server};
use serde_json::{json, Map, Value};

both_backends!(openapi_lists_only_real_endpoints, answers_match_the_documented_schemas);

async fn openapi_lists_only_real_endpoints(backend: Backend) {
    let server = Server::start(backend).await;
    let doc = server.get("/api/v1/openapi.json").await;
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 25, "{} paths", paths.len());
    let mut checked = 0;
    for (path, operations) in paths {
        let concrete = path
            .replace("{id}/", "NOPE/")
            .replace("{id}", if path.starts_with("/api/v1/transactions") { "1" } else { "NOPE" })
            .replace("{action}", "Reset")
            .replace("{key}", "HeartbeatInterval")
            .replace("{id_token}", "T");
        for (method, operation) in operations.as_object().expect("operations") {
            assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
            let method = method.to_uppercase();
            let body = (method != "GET" && method != "DELETE").then(|| json!({}));
            if path == "/metrics" || path == "/api/v1/docs" {
                assert_eq!(common::get_text(&server.addr, path).await.0, 200, "{path}");
            } else if path == "/api/v1/events/stream" {
                // A stream does not end: its head is enough.
                assert!(stream_head(&server.addr, path).await.starts_with("HTTP/1.1 200"), "{path}");
            } else {
                let (status, answer) = server.http(&method, &concrete, body).await;
                assert_ne!(status, 405, "{method} {path} is not served");
                assert_ne!(answer["error"], "no such endpoint", "{method} {path} is not served");
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} operations");
    // A method a path does not serve: 405 in JSON, as the document says.
    let (status, answer) = server.http("DELETE", "/api/v1/stations", None).await;
    assert_eq!(status, 405);
    assert!(answer["error"].is_string(), "{answer}");
}

/// The status line of a GET whose body does not end.
async fn stream_head(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    socket.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.expect("send");
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(socket);
    tokio::time::timeout(common::TIMEOUT, reader.read_line(&mut line)).await.expect("head in time").expect("read");
    line
}

#[tokio::test]
async fn the_document_needs_no_token_and_the_data_does() {
    let server = Server::start_secure(Backend::Sqlite).await;
    let (status, doc) = server.http("GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["paths"]["/api/v1/openapi.json"]["get"]["security"], json!([]));
    let (status, _) = server.http("GET", "/api/v1/stations", None).await;
    assert_eq!(status, 401);
}

/// The reference page for people, `/api/v1/docs`, needs no token either, is HTML with no script,
/// and shows every operation of the document (by its operationId) and every schema.
#[tokio::test]
async fn the_reference_page_needs_no_token_and_shows_every_operation() {
    let server = Server::start_secure(Backend::Sqlite).await;
    let (status, doc) = server.http("GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, 200, "{doc}");
    let (status, head, page) = common::get_with_head(&server.addr, "/api/v1/docs").await;
    assert_eq!(status, 200, "{head}\n{page}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/html; charset=utf-8"), "{head}");
    assert!(head.contains("content-security-policy: default-src 'none'"), "{head}");
    assert!(page.starts_with("<!doctype html>") && page.trim_end().ends_with("</html>"), "{page}");
    assert!(!page.to_ascii_lowercase().contains("<script"), "no script on the page");
    assert!(
        doc["info"]["description"].as_str().is_some_and(|d| d.contains("/api/v1/docs")),
        "the document links the page"
    );
    assert_eq!(doc["paths"]["/api/v1/docs"]["get"]["security"], json!([]));
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(page.contains(&format!("id=\"op-{id}\"")), "{method} {path}: {id} is not on the page");
            assert!(page.contains(&format!("operationId <code>{id}</code>")), "{id}");
            let summary = operation["summary"].as_str().expect("a summary");
            let escaped = summary
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;");
            assert!(page.contains(&escaped), "{id}: its summary is not on the page");
            operations += 1;
        }
    }
    assert!(operations >= 40, "{operations} operations");
    for name in doc["components"]["schemas"].as_object().expect("schemas").keys() {
        assert!(page.contains(&format!("id=\"schema-{name}\"")), "schema {name} is not on the page");
    }
    // Parameters with their constraints, bodies, statuses and examples are there too.
    for text in [
        "matches <code>^",
        "Request body (<code>application/json</code>)",
        "<code>502</code>",
        "Example:",
        "at most <code>1000</code>",
    ] {
        assert!(page.contains(text), "{text:?} is not on the page");
    }
    // Another method on an open path is a 405 for everyone, not a 401 (found by the fuzzer).
    for (method, path) in [("TRACE", "/api/v1/docs"), ("POST", "/api/v1/openapi.json"), ("DELETE", "/api/v1/docs")] {
        let (status, answer) = server.http(method, path, None).await;
        assert_eq!(status, 405, "{method} {path}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    // The rest of the API still needs a token.
    assert_eq!(server.http("GET", "/api/v1/stations", None).await.0, 401);
    assert_eq!(server.http("TRACE", "/api/v1/stations", None).await.0, 401);
}

/// An OpenAPI 3.0 schema as JSON Schema: references inlined, `nullable` as a null alternative,
/// and answers held to `additionalProperties: false` as written.
fn json_schema(schema: &Value, components: &Map<String, Value>) -> Value {
    match schema {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                let name = target.rsplit('/').next().expect("a name");
                return json_schema(&components[name], components);
            }
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "example" | "nullable" | "writeOnly" | "description" => {}
                    "properties" => {
                        let props = value.as_object().expect("properties");
                        out.insert(
                            key.clone(),
                            Value::Object(props.iter().map(|(k, v)| (k.clone(), json_schema(v, components))).collect()),
                        );
                    }
                    _ => {
                        out.insert(key.clone(), json_schema(value, components));
                    }
                }
            }
            if map.get("nullable") == Some(&json!(true)) {
                json!({"anyOf": [Value::Object(out), {"type": "null"}]})
            } else {
                Value::Object(out)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| json_schema(v, components)).collect()),
        other => other.clone(),
    }
}

/// Checks `answer` against the schema the document gives `method path`'s `code`.
fn check(doc: &Value, path: &str, method: &str, code: u16, answer: &Value) {
    let components = doc["components"]["schemas"].as_object().expect("schemas");
    let response = &doc["paths"][path][method]["responses"][code.to_string()];
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} {code} is not documented as JSON");
    let schema = json_schema(schema, components);
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator.iter_errors(answer).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "{method} {path} {code}: {errors:?}\n{answer}");
    // The document's own example fits the schema too.
    if let Some(example) = response["content"]["application/json"].get("example") {
        let errors: Vec<String> = validator.iter_errors(example).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{method} {path} {code} example: {errors:?}");
    }
}

/// The pattern the document gives an operation's `cursor` parameter, if it has one.
fn cursor_pattern(operation: &Value) -> Option<String> {
    let params = operation["parameters"].as_array()?;
    let cursor = params.iter().find(|p| p["name"] == "cursor")?;
    Some(cursor["schema"]["pattern"].as_str().expect("a cursor has a pattern").to_string())
}

/// Pages through `path` one row at a time: each next_cursor the server gives out fits the
/// pattern the document gives (so that a client that keeps to the document is never refused),
/// and reads the next page. Says whether there was a second page (a real cursor checked).
async fn pages_follow_their_cursors(server: &Server, path: &str, pattern: &str) -> bool {
    let fits = jsonschema::validator_for(&json!({"type": "string", "pattern": pattern})).expect("a pattern");
    let separator = if path.contains('?') { '&' } else { '?' };
    let (status, mut page) = server.http("GET", &format!("{path}{separator}limit=1"), None).await;
    assert_eq!(status, 200, "{path}: {page}");
    let mut seen = 0;
    while let Some(cursor) = page["next_cursor"].as_str().map(str::to_string) {
        assert!(fits.is_valid(&json!(cursor)), "{path}: cursor {cursor} does not fit {pattern}");
        let (status, next) = server.http("GET", &format!("{path}{separator}limit=1&cursor={cursor}"), None).await;
        assert_eq!(status, 200, "{path} after {cursor}: {next}");
        page = next;
        seen += 1;
        assert!(seen < 500, "{path}: no last page");
    }
    seen > 0
}

async fn answers_match_the_documented_schemas(backend: Backend) {
    let server = Server::start(backend).await;
    let doc = server.get("/api/v1/openapi.json").await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    cp.call_ok(
        "StatusNotification",
        json!({"connectorId": 1, "errorCode": "OverVoltage", "status": "Faulted", "timestamp": "2026-11-26T09:00:00Z"}),
    )
    .await;
    let (tx, _) = cp.start(1, "TAG1", 1000, "2026-11-26T10:00:00Z").await;
    cp.call_ok(
        "MeterValues",
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-11-26T10:05:00Z",
            "sampledValue": [{"value": "1.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                             {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"}]}]}),
    )
    .await;
    // A command, answered: its 200 with the command id, and an entry in the command log.
    let (_, _, (status, answer)) = server
        .answered(&mut cp, "POST", "/api/v1/stations/CP1/reset", json!({"type": "soft"}), json!({"status": "Accepted"}))
        .await;
    check(&doc, "/api/v1/stations/{id}/reset", "post", status, &answer);
    // A command answered with a CALLERROR: the 502's fields.
    let operator = server.spawn_http("POST", "/api/v1/stations/CP1/unlock", json!({"connector_id": 1}));
    let (id, _, _) = cp.expect_call().await;
    cp.reply_error(&id, "NotSupported", "no lock").await;
    let (status, answer) = operator.await.expect("operator");
    assert_eq!(status, 502, "{answer}");
    check(&doc, "/api/v1/stations/{id}/unlock", "post", status, &answer);
    // The local list refused: 502 with the list's fields and an error.
    let (_, _, (status, answer)) = server
        .answered(
            &mut cp,
            "POST",
            "/api/v1/stations/CP1/local-list",
            json!({"update_type": "Full"}),
            json!({"status": "Failed"}),
        )
        .await;
    assert_eq!(status, 502, "{answer}");
    assert!(answer["error"].is_string(), "{answer}");
    check(&doc, "/api/v1/stations/{id}/local-list", "post", status, &answer);
    let (status, answer) =
        server.http("POST", "/api/v1/id-tokens", Some(json!({"id_token": "TAG2", "status": "Blocked"}))).await;
    check(&doc, "/api/v1/id-tokens", "post", status, &answer);

    let (status, hook) = server
        .http("POST", "/api/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/h", "secret": "0123456789abcdef"})))
        .await;
    check(&doc, "/api/v1/webhooks", "post", status, &hook);
    let rule = json!({"name": "hot", "kind": "fault_open_longer", "category": "thermal", "minutes": 5});
    let (status, rule) = server.http("POST", "/api/v1/alert-rules", Some(rule)).await;
    check(&doc, "/api/v1/alert-rules", "post", status, &rule);

    // Billing: a tariff, an ended transaction's record, a meter key.
    let tariff = json!({"id": "T1", "currency": "EUR", "tax_rate": 19,
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}]});
    let (status, tariff) = server.http("POST", "/api/v1/tariffs", Some(tariff)).await;
    check(&doc, "/api/v1/tariffs", "post", status, &tariff);
    server.add_token("TAG3", "Accepted", None, None).await;
    let (ended, _) = cp.start(2, "TAG3", 0, "2026-11-26T11:00:00Z").await;
    let stop = json!({"transactionId": ended, "meterStop": 2500, "timestamp": "2026-11-26T11:30:00Z"});
    cp.call_ok("StopTransaction", stop).await;
    let cdr_id = server.items_eventually("/api/v1/cdrs", 1).await[0]["id"].as_str().expect("a record").to_string();
    let meter = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let key = json!({"public_key": hex::encode(rcgen::PublicKeyData::subject_public_key_info(&meter))});
    let (status, key) = server.http("PUT", "/api/v1/stations/CP1/meter-key", Some(key)).await;
    check(&doc, "/api/v1/stations/{id}/meter-key", "put", status, &key);

    // Every GET the document lists, with the ids of what is there.
    let mut checked = 0;
    let mut paged = 0;
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        let Some(get) = operations.get("get") else { continue };
        if path == "/metrics" {
            let text = &get["responses"]["200"]["content"]["text/plain"];
            assert!(text.is_object(), "/metrics is documented as text");
            continue;
        }
        if path == "/api/v1/docs" {
            let html = &get["responses"]["200"]["content"]["text/html"];
            assert!(html.is_object(), "/api/v1/docs is documented as HTML");
            continue;
        }
        if path == "/api/v1/events/stream" {
            // Its events are the list's, whose answers are checked here; `events.rs` reads it.
            let stream = &get["responses"]["200"]["content"]["text/event-stream"];
            assert!(stream.is_object(), "the stream is documented as text/event-stream");
            continue;
        }
        let id = if path.starts_with("/api/v1/transactions") {
            tx.to_string()
        } else if path.starts_with("/api/v1/faults/") {
            server.items("/api/v1/faults").await[0]["id"].to_string()
        } else if path.starts_with("/api/v1/webhooks/") {
            hook["id"].to_string()
        } else if path.starts_with("/api/v1/alert-rules/") {
            rule["id"].to_string()
        } else if path.starts_with("/api/v1/tariffs/") {
            "T1".to_string()
        } else if path.starts_with("/api/v1/cdrs/") {
            cdr_id.clone()
        } else {
            "CP1".to_string()
        };
        let concrete = path.replace("{id}", &id).replace("{id_token}", "TAG1");
        let (status, answer) = server.http("GET", &concrete, None).await;
        assert_eq!(status, 200, "GET {concrete}: {answer}");
        if let Some(pattern) = cursor_pattern(get) {
            paged += usize::from(pages_follow_their_cursors(&server, &concrete, &pattern).await);
        }
        if path != "/api/v1/openapi.json" {
            check(&doc, path, "get", status, &answer);
            let empty = answer.get("items").and_then(Value::as_array).is_some_and(|items| items.is_empty());
            if ["/api/v1/transactions", "/api/v1/faults", "/api/v1/stations", "/api/v1/events"].contains(&path.as_str())
            {
                assert!(!empty, "GET {path} checked nothing");
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked} GETs");
    assert!(paged >= 4, "only {paged} lists had a second page");
    // A window whose from is after its to holds nothing: an empty page, not an error.
    let (status, answer) =
        server.http("GET", "/api/v1/faults?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z", None).await;
    assert_eq!((status, &answer["items"]), (200, &json!([])), "{answer}");
    // 204 has no body.
    let (status, answer) = server.http("DELETE", "/api/v1/id-tokens/TAG2", None).await;
    assert_eq!((status, answer), (204, Value::Null));
    assert!(doc["paths"]["/api/v1/id-tokens/{id_token}"]["delete"]["responses"]["204"].get("content").is_none());
}
