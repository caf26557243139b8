//! The OpenAPI document describes the API that is there: every path and method it lists is
//! served (none falls through to "no such endpoint" or "method not allowed").

mod common;

use common::{Backend, Server};
use serde_json::json;

both_backends!(openapi_lists_only_real_endpoints);

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
            if path == "/metrics" {
                assert_eq!(common::get_text(&server.addr, "/metrics").await.0, 200);
            } else {
                let (status, answer) = server.http(&method, &concrete, body).await;
                assert_ne!(status, 405, "{method} {path} is not served");
                assert_ne!(answer["error"], "no such endpoint", "{method} {path} is not served");
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} operations");
}
