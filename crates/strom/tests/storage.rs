//! Storage failures are answered honestly: the station gets InternalError (never a made-up
//! answer), the connection survives, and service resumes when storage does.

mod common;

use common::{Backend, Server};
use serde_json::json;

both_backends!(storage_failure_is_answered_with_internal_error);

async fn execute(url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = if url.starts_with("postgres") { url.to_string() } else { format!("sqlite://{url}") };
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect to the test database");
    sqlx::query(sql).execute(&mut conn).await.expect("statement runs");
}

async fn storage_failure_is_answered_with_internal_error(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("TAG1", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    // Take the transactions table away underneath the running server.
    execute(&server.db.url, "ALTER TABLE transactions RENAME TO transactions_away").await;
    let code = cp
        .call_err(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": "2026-11-26T10:00:00Z"}),
        )
        .await;
    assert_eq!(code, "InternalError");
    // The connection and the rest of the service survive.
    cp.call_ok("Heartbeat", json!({})).await;
    let (status, body) = server.http("GET", "/api/v1/transactions", None).await;
    assert_eq!(status, 500, "{body}");
    assert!(body["error"].is_string());
    // The frame of the failed call is still in the message log.
    let messages = server.items("/api/v1/stations/CP1/messages?limit=1000").await;
    assert!(messages.as_array().expect("array").iter().any(|m| m["frame"][2] == "StartTransaction"));
    // Storage comes back, and so does service.
    execute(&server.db.url, "ALTER TABLE transactions_away RENAME TO transactions").await;
    let (tx, status) = cp.start(1, "TAG1", 0, "2026-11-26T10:00:00Z").await;
    assert_eq!(status, "Accepted");
    assert_eq!(server.get(&format!("/api/v1/transactions/{tx}")).await["id_token"], "TAG1");
}
