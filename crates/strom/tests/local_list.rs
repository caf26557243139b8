//! Local authorization lists from Ström's id tokens: Full and Differential, split to the
//! station's list length, version tracked per station (CONFORMANCE 1.6 TC_043_1..5; 2.0.1
//! TC_D_01, TC_D_03, TC_D_04).

mod common;

use common::{Backend, Server, Station};
use serde_json::{json, Value};

both_backends!(
    tc_043_full_then_differential_in_chunks,
    tc_043_3_refused_list_changes_nothing,
    tc_d_04_empty_full_list_on_2_0_1
);

/// Sends the list through the API while the station answers each SendLocalList with `answer`;
/// returns the payloads the station got and the API's answer.
async fn send(
    server: &Server,
    station: &mut Station,
    id: &str,
    update_type: &str,
    answer: &str,
    messages: usize,
) -> (Vec<Value>, (u16, Value)) {
    let api = server.api();
    let path = format!("/api/v1/stations/{id}/local-list");
    let body = json!({"update_type": update_type});
    let operator = tokio::spawn(async move { api.http("POST", &path, Some(body)).await });
    let mut payloads = Vec::new();
    for _ in 0..messages {
        let (message_id, action, payload) = station.expect_call().await;
        assert_eq!(action, "SendLocalList");
        payloads.push(payload);
        station.reply(&message_id, json!({"status": answer})).await;
    }
    (payloads, operator.await.expect("operator task"))
}

async fn tc_043_full_then_differential_in_chunks(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("A", "Accepted", None, None).await;
    server.add_token("B", "Blocked", None, Some("G")).await;
    server.add_token(&"L".repeat(25), "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    // The station says it takes one entry per message.
    let api = server.api();
    let read = tokio::spawn(async move {
        api.http("POST", "/api/v1/stations/CP1/configuration/fetch", Some(json!({"keys": ["SendLocalListMaxLength"]})))
            .await
    });
    let (id, _, _) = cp.expect_call().await;
    cp.reply(&id, json!({"configurationKey": [{"key": "SendLocalListMaxLength", "readonly": true, "value": "1"}]}))
        .await;
    assert_eq!(read.await.expect("task").0, 200);

    let (payloads, (status, answer)) = send(&server, &mut cp, "CP1", "Full", "Accepted", 2).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        payloads[0],
        json!({"listVersion": 1, "updateType": "Full", "localAuthorizationList": [{"idTag": "A", "idTagInfo": {"status": "Accepted"}}]})
    );
    assert_eq!(
        payloads[1],
        json!({"listVersion": 2, "updateType": "Differential", "localAuthorizationList": [{"idTag": "B", "idTagInfo": {"status": "Blocked", "parentIdTag": "G"}}]})
    );
    assert_eq!((answer["version"].as_i64(), answer["updated"].as_i64()), (Some(2), Some(2)));
    assert_eq!(answer["skipped"], json!(["L".repeat(25)]), "a 25-character token cannot go to a 1.6 station");

    // Change A, remove B, add C: only those travel.
    server.http("PUT", "/api/v1/id-tokens/A", Some(json!({"status": "Blocked"}))).await;
    server.http("DELETE", "/api/v1/id-tokens/B", None).await;
    server.add_token("C", "Accepted", Some("2030-01-01T00:00:00Z"), None).await;
    let (payloads, (status, answer)) = send(&server, &mut cp, "CP1", "Differential", "Accepted", 3).await;
    assert_eq!(status, 200);
    let sent: Vec<Value> = payloads.iter().map(|p| p["localAuthorizationList"][0].clone()).collect();
    assert!(sent.contains(&json!({"idTag": "A", "idTagInfo": {"status": "Blocked"}})), "{sent:?}");
    assert!(sent.contains(
        &json!({"idTag": "C", "idTagInfo": {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00.000Z"}})
    ));
    assert!(sent.contains(&json!({"idTag": "B"})), "a removal carries no idTagInfo");
    assert!(payloads.iter().all(|p| p["updateType"] == "Differential"));
    assert_eq!((answer["version"].as_i64(), answer["removed"].as_i64()), (Some(5), Some(1)));

    let held = server.get("/api/v1/stations/CP1/local-list").await;
    assert_eq!(held["version"], 5);
    let tokens: Vec<&str> =
        held["entries"].as_array().expect("array").iter().filter_map(|e| e["id_token"].as_str()).collect();
    assert_eq!(tokens, ["A", "C"]);
}

async fn tc_043_3_refused_list_changes_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("A", "Accepted", None, None).await;
    let mut cp = server.booted("CP1").await;
    let (_, (status, answer)) = send(&server, &mut cp, "CP1", "Full", "Failed", 1).await;
    assert_eq!((status, answer["status"].as_str(), answer["version"].as_i64()), (502, Some("Failed"), Some(0)));
    assert_eq!(server.get("/api/v1/stations/CP1/local-list").await, json!({"version": 0, "entries": []}));
}

async fn tc_d_04_empty_full_list_on_2_0_1(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let (payloads, (status, _)) = send(&server, &mut cs, "CS1", "Full", "Accepted", 1).await;
    assert_eq!(status, 200);
    assert_eq!(
        payloads[0],
        json!({"versionNumber": 1, "updateType": "Full"}),
        "an empty Full list clears the station's"
    );
    server.add_token("CARD", "NoCredit", None, Some("G")).await;
    let (payloads, _) = send(&server, &mut cs, "CS1", "Differential", "Accepted", 1).await;
    assert_eq!(
        payloads[0]["localAuthorizationList"][0],
        json!({"idToken": {"idToken": "CARD", "type": "ISO14443"}, "idTokenInfo": {"status": "NoCredit", "groupIdToken": {"idToken": "G", "type": "Central"}}})
    );
    // Nothing changed since: a Differential update has nothing to send.
    let (status, answer) =
        server.http("POST", "/api/v1/stations/CS1/local-list", Some(json!({"update_type": "Differential"}))).await;
    assert_eq!((status, answer["messages"].as_i64(), answer["version"].as_i64()), (200, Some(0), Some(2)));
}
