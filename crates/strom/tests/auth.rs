//! API authentication: bearer tokens with roles, created by `strom token create`, stored
//! hashed; the API is closed unless `--api-open` is given.

mod common;

use common::{Backend, Server};
use serde_json::json;

both_backends!(api_needs_a_token_by_default, roles_limit_what_a_token_may_do, tokens_are_stored_hashed);

async fn api_needs_a_token_by_default(backend: Backend) {
    let server = Server::start_secure(backend).await;
    for (method, path) in [("GET", "/api/v1/stations"), ("POST", "/api/v1/id-tokens"), ("GET", "/api/v1/nothing")] {
        let (status, body) = server.http(method, path, Some(json!({}))).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("token")), "{body}");
    }
    let ((status, _), head) = server.http_as("strom_not-a-real-token", "GET", "/api/v1/stations", None).await;
    assert_eq!(status, 401);
    assert!(head.to_ascii_lowercase().contains("www-authenticate: bearer"), "{head}");
    // Stations are not affected: OCPP has its own rules.
    server.booted("CP1").await;
    assert!(server.create_token("root").await.is_err(), "unknown roles are refused");
}

async fn roles_limit_what_a_token_may_do(backend: Backend) {
    let server = Server::start_secure(backend).await;
    let viewer = server.create_token("viewer").await.expect("token");
    let operator = server.create_token("operator").await.expect("token");
    let admin = server.create_token("admin").await.expect("token");
    assert!(viewer.starts_with("strom_") && viewer.len() > 40);
    let reset = json!({"type": "Soft"});
    let token = json!({"id_token": "T1", "status": "Accepted"});
    let cases = [
        (&viewer, "GET", "/api/v1/stations", None, 200),
        (&viewer, "POST", "/api/v1/stations/CP9/commands/Reset", Some(reset.clone()), 403),
        (&viewer, "POST", "/api/v1/id-tokens", Some(token.clone()), 403),
        (&operator, "GET", "/api/v1/faults", None, 200),
        // Allowed, then refused by the command layer for a reason that is not access.
        (&operator, "POST", "/api/v1/stations/CP9/commands/Reset", Some(reset), 404),
        (&operator, "PUT", "/api/v1/stations/CP9", Some(json!({"registration_status": "Accepted"})), 403),
        (&operator, "DELETE", "/api/v1/id-tokens/T1", None, 403),
        (&admin, "POST", "/api/v1/id-tokens", Some(token), 201),
        (&admin, "PUT", "/api/v1/stations/CP9", Some(json!({"registration_status": "Accepted"})), 200),
        (&admin, "GET", "/api/v1/id-tokens/T1", None, 200),
    ];
    for (token, method, path, body, expected) in cases {
        let ((status, answer), _) = server.http_as(token, method, path, body).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
    }
}

async fn tokens_are_stored_hashed(backend: Backend) {
    use sqlx::Connection;
    let server = Server::start_secure(backend).await;
    let secret = server.create_token("admin").await.expect("token");
    sqlx::any::install_default_drivers();
    let url = if server.db.url.starts_with("postgres") {
        server.db.url.clone()
    } else {
        format!("sqlite://{}", server.db.url)
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("database");
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT token_hash, role FROM api_tokens").fetch_all(&mut conn).await.expect("tokens");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, "admin");
    assert_ne!(stored[0].0, secret);
    assert!(!stored[0].0.contains(&secret[6..]), "the secret is not stored");
}
