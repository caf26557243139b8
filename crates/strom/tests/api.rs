//! The operator API: id-token management and the error answers of every endpoint.

mod common;

use common::{Backend, Server};
use serde_json::json;

both_backends!(id_token_lifecycle, id_token_validation, api_errors_are_json);

async fn id_token_lifecycle(backend: Backend) {
    let server = Server::start(backend).await;
    let body = json!({"id_token": "RFID1", "status": "Accepted", "expiry": "2030-01-01T00:00:00+02:00", "parent_id_token": "GROUP"});
    let (status, created) = server.http("POST", "/api/v1/id-tokens", Some(body.clone())).await;
    assert_eq!(status, 201);
    assert_eq!(created["expiry"], "2029-12-31T22:00:00.000Z");
    let (status, _) = server.http("POST", "/api/v1/id-tokens", Some(body)).await;
    assert_eq!(status, 409, "creating twice is a conflict");
    assert_eq!(server.get("/api/v1/id-tokens/RFID1").await["parent_id_token"], "GROUP");

    let mut cp = server.booted("CP1").await;
    assert_eq!(cp.call_ok("Authorize", json!({"idTag": "RFID1"})).await["idTagInfo"]["status"], "Accepted");
    let (status, updated) = server.http("PUT", "/api/v1/id-tokens/RFID1", Some(json!({"status": "Blocked"}))).await;
    assert_eq!((status, updated["status"].as_str()), (200, Some("Blocked")));
    assert_eq!(cp.call_ok("Authorize", json!({"idTag": "RFID1"})).await["idTagInfo"]["status"], "Blocked");
    assert_eq!(server.items("/api/v1/id-tokens").await.as_array().map(Vec::len), Some(1));

    let (status, _) = server.http("DELETE", "/api/v1/id-tokens/RFID1", None).await;
    assert_eq!(status, 204);
    let (status, _) = server.http("DELETE", "/api/v1/id-tokens/RFID1", None).await;
    assert_eq!(status, 404);
    assert_eq!(cp.call_ok("Authorize", json!({"idTag": "RFID1"})).await["idTagInfo"]["status"], "Invalid");
}

async fn id_token_validation(backend: Backend) {
    let server = Server::start(backend).await;
    let cases = [
        (json!({"status": "Accepted"}), 422),
        (json!({"id_token": "A", "status": "Maybe"}), 422),
        (json!({"id_token": "A"}), 422),
        (json!({"id_token": "A", "status": "Accepted", "expiry": "soon"}), 422),
        (json!({"id_token": "x".repeat(37), "status": "Accepted"}), 422),
        (json!({"id_token": "A", "status": "Accepted", "colour": "red"}), 422),
        (json!({"id_token": 5, "status": "Accepted"}), 422),
        (json!(["not", "an", "object"]), 400),
    ];
    for (body, expected) in cases {
        let (status, answer) = server.http("POST", "/api/v1/id-tokens", Some(body.clone())).await;
        assert_eq!(status, expected, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    // RFC 9110 §9.3.4: a PUT whose representation does not fit the target resource is a 409.
    let (status, answer) =
        server.http("PUT", "/api/v1/id-tokens/A", Some(json!({"id_token": "B", "status": "Accepted"}))).await;
    assert_eq!(status, 409, "the body may not rename the token in the URL: {answer}");
    assert!(answer["error"].as_str().is_some_and(|m| m.contains("differs")), "{answer}");
    assert_eq!(server.items("/api/v1/id-tokens").await, json!([]), "nothing stored from refused requests");
}

async fn api_errors_are_json(backend: Backend) {
    let server = Server::start(backend).await;
    for (path, expected) in [
        ("/api/v1/stations/NOPE", 404),
        ("/api/v1/transactions/77", 404),
        ("/api/v1/transactions/abc", 400),
        ("/api/v1/transactions/77/meter-values", 404),
        ("/api/v1/transactions?active=perhaps", 400),
        ("/api/v1/faults?open=1", 400),
        ("/api/v1/transactions?limit=0", 400),
        ("/api/v1/id-tokens/NOPE", 404),
        ("/api/v1/nothing-here", 404),
        // A NUL: PostgreSQL text holds none, so it is a 400 on both backends, never a 500.
        ("/api/v1/stations/%00", 400),
        ("/api/v1/id-tokens/A%00", 400),
        ("/api/v1/faults?station_id=%00", 400),
        ("/api/v1/transactions?station_id=a%00b", 400),
    ] {
        let (status, body) = server.http("GET", path, None).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    for body in [
        json!({"id_token": "A\u{0}", "status": "Accepted"}),
        json!({"id_token": "B", "status": "Accepted", "parent_id_token": "\u{0}"}),
    ] {
        let (status, answer) = server.http("POST", "/api/v1/id-tokens", Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {answer}");
    }
    assert_eq!(server.items("/api/v1/id-tokens").await, json!([]), "nothing stored");
}
