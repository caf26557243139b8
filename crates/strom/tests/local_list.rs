//! Local authorization lists from Ström's id tokens: Full and Differential, split to the
//! station's list length, version tracked per station (CONFORMANCE 1.6 TC_043_1..5; 2.0.1
//! TC_D_01, TC_D_03, TC_D_04).

mod common;

use common::{Backend, Server, Station};
use serde_json::{json, Value};

both_backends!(
    tc_043_full_then_differential_in_chunks,
    tc_043_3_refused_list_changes_nothing,
    tc_d_04_empty_full_list_on_2_0_1,
    raw_send_local_list_and_list_version_are_recorded_on_1_6,
    raw_send_local_list_and_list_version_are_recorded_on_2_0_1,
    local_list_entries_carry_the_token_type_on_2_0_1,
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
    assert_eq!(
        server.get("/api/v1/stations/CP1/local-list").await,
        json!({"version": 0, "entries": [], "reported": null, "in_sync": null})
    );
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

/// A raw command through `/commands/{action}` while `station` answers it with `answer`.
async fn raw(
    server: &Server,
    station: &mut Station,
    id: &str,
    action: &str,
    body: Value,
    answer: Value,
) -> (u16, Value) {
    let path = format!("/api/v1/stations/{id}/commands/{action}");
    let (sent, _, reply) = server.answered(station, "POST", &path, body, answer).await;
    assert_eq!(sent, action);
    reply
}

/// Ström's copy of a station's list: (version, [(token, status, parent)]), and what the station
/// last reported: (version, source), and whether they agree.
async fn held(server: &Server, id: &str) -> (i64, Vec<(String, String, Option<String>)>, Value, Value) {
    let list = server.get(&format!("/api/v1/stations/{id}/local-list")).await;
    let entries = list["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["id_token"].as_str().expect("token").to_string(),
                e["status"].as_str().expect("status").to_string(),
                e["parent_id_token"].as_str().map(str::to_string),
            )
        })
        .collect();
    let reported = json!([list["reported"]["version"], list["reported"]["source"]]);
    (list["version"].as_i64().expect("version"), entries, reported, list["in_sync"].clone())
}

fn entry(token: &str, status: &str, parent: Option<&str>) -> (String, String, Option<String>) {
    (token.to_string(), status.to_string(), parent.map(str::to_string))
}

/// An operator's own SendLocalList changes Ström's copy of the list as the friendly one does
/// once the station accepts it (a Full list replaces, a Differential one upserts, and an entry
/// without idTagInfo removes), and a GetLocalListVersion answer is kept beside the copy, so
/// that a station that drifted from it shows as such (CONFORMANCE 1.6 TC_042, TC_043).
async fn raw_send_local_list_and_list_version_are_recorded_on_1_6(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let full = json!({"listVersion": 3, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "A", "idTagInfo": {"status": "Accepted"}},
        {"idTag": "B", "idTagInfo": {"status": "Blocked", "parentIdTag": "G", "expiryDate": "2030-01-01T00:00:00Z"}}]});
    let accepted = json!({"status": "Accepted"});
    assert_eq!(raw(&server, &mut cp, "CP1", "SendLocalList", full, accepted.clone()).await.0, 200);
    let (version, entries, reported, in_sync) = held(&server, "CP1").await;
    assert_eq!((version, reported, in_sync), (3, json!([3, "SendLocalList"]), json!(true)));
    assert_eq!(entries, [entry("A", "Accepted", None), entry("B", "Blocked", Some("G"))]);
    let list = server.get("/api/v1/stations/CP1/local-list").await;
    assert_eq!(list["entries"][1]["expiry"], "2030-01-01T00:00:00.000Z");

    let differential = json!({"listVersion": 4, "updateType": "Differential", "localAuthorizationList": [
        {"idTag": "A"}, {"idTag": "C", "idTagInfo": {"status": "Expired"}}]});
    assert_eq!(raw(&server, &mut cp, "CP1", "SendLocalList", differential, accepted.clone()).await.0, 200);
    let (version, entries, _, _) = held(&server, "CP1").await;
    assert_eq!(version, 4);
    assert_eq!(entries, [entry("B", "Blocked", Some("G")), entry("C", "Expired", None)]);

    // Refused by the station: nothing changes.
    let refused = json!({"listVersion": 9, "updateType": "Full"});
    let answer = json!({"status": "VersionMismatch"});
    assert_eq!(raw(&server, &mut cp, "CP1", "SendLocalList", refused, answer).await.0, 200);
    assert_eq!(held(&server, "CP1").await.0, 4);

    // Statuses a list cannot hold, and a Full entry without a status, are refused before sending.
    for list in [
        json!({"listVersion": 5, "updateType": "Differential", "localAuthorizationList": [{"idTag": "D", "idTagInfo": {"status": "ConcurrentTx"}}]}),
        json!({"listVersion": 5, "updateType": "Full", "localAuthorizationList": [{"idTag": "D"}]}),
    ] {
        let (status, body) = server.http("POST", "/api/v1/stations/CP1/commands/SendLocalList", Some(list)).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("\"D\"")), "{body}");
    }

    // The station says it holds version 2: Ström keeps its copy and shows the drift.
    let answer = json!({"listVersion": 2});
    assert_eq!(raw(&server, &mut cp, "CP1", "GetLocalListVersion", json!({}), answer.clone()).await, (200, answer));
    let (version, entries, reported, in_sync) = held(&server, "CP1").await;
    assert_eq!((version, reported, in_sync), (4, json!([2, "GetLocalListVersion"]), json!(false)));
    assert_eq!(entries.len(), 2);

    // The friendly update is recorded once, and brings the two together again.
    server.add_token("E", "Accepted", None, None).await;
    let (_, (status, answer)) = send(&server, &mut cp, "CP1", "Full", "Accepted", 1).await;
    assert_eq!((status, answer["version"].as_i64()), (200, Some(5)));
    let (version, entries, reported, in_sync) = held(&server, "CP1").await;
    assert_eq!((version, reported, in_sync), (5, json!([5, "SendLocalList"]), json!(true)));
    assert_eq!(entries, [entry("E", "Accepted", None)]);
}

/// The same for 2.0.1 (CONFORMANCE TC_D_01..TC_D_04): versionNumber, idToken objects, the
/// group token as parent, an entry without idTokenInfo removing its token.
async fn raw_send_local_list_and_list_version_are_recorded_on_2_0_1(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let token = |t: &str| json!({"idToken": t, "type": "ISO14443"});
    let full = json!({"versionNumber": 7, "updateType": "Full", "localAuthorizationList": [
        {"idToken": token("X"), "idTokenInfo": {"status": "Accepted", "groupIdToken": {"idToken": "G", "type": "Central"},
            "cacheExpiryDateTime": "2030-01-01T00:00:00Z"}},
        {"idToken": token("Y"), "idTokenInfo": {"status": "NoCredit"}}]});
    let accepted = json!({"status": "Accepted"});
    assert_eq!(raw(&server, &mut cs, "CS1", "SendLocalList", full, accepted.clone()).await.0, 200);
    let (version, entries, reported, in_sync) = held(&server, "CS1").await;
    assert_eq!((version, reported, in_sync), (7, json!([7, "SendLocalList"]), json!(true)));
    assert_eq!(entries, [entry("X", "Accepted", Some("G")), entry("Y", "NoCredit", None)]);

    let differential = json!({"versionNumber": 8, "updateType": "Differential", "localAuthorizationList": [
        {"idToken": token("X")}, {"idToken": token("Z"), "idTokenInfo": {"status": "Blocked"}}]});
    assert_eq!(raw(&server, &mut cs, "CS1", "SendLocalList", differential, accepted).await.0, 200);
    let (version, entries, _, _) = held(&server, "CS1").await;
    assert_eq!(version, 8);
    assert_eq!(entries, [entry("Y", "NoCredit", None), entry("Z", "Blocked", None)]);

    let unknown = json!({"versionNumber": 9, "updateType": "Differential", "localAuthorizationList": [
        {"idToken": token("U"), "idTokenInfo": {"status": "Unknown"}}]});
    let (status, body) = server.http("POST", "/api/v1/stations/CS1/commands/SendLocalList", Some(unknown)).await;
    assert_eq!(status, 422, "{body}");

    let answer = json!({"versionNumber": 0});
    assert_eq!(raw(&server, &mut cs, "CS1", "GetLocalListVersion", json!({}), answer.clone()).await, (200, answer));
    let (version, entries, reported, in_sync) = held(&server, "CS1").await;
    assert_eq!((version, reported, in_sync), (8, json!([0, "GetLocalListVersion"]), json!(false)));
    assert_eq!(entries.len(), 2, "Ström's copy is kept");
    let answer = json!({"versionNumber": 8});
    raw(&server, &mut cs, "CS1", "GetLocalListVersion", json!({}), answer).await;
    assert_eq!(held(&server, "CS1").await.3, json!(true));
}

/// 2.0.1 list entries name each token's own type (issue 23: they were always ISO14443); an
/// untyped token goes as the usual RFID card, and a removal names the type the station holds.
async fn local_list_entries_carry_the_token_type_on_2_0_1(backend: Backend) {
    let server = Server::start(backend).await;
    let typed = json!({"id_token": "PIN1", "type": "KeyCode", "status": "Accepted"});
    assert_eq!(server.http("POST", "/api/v1/id-tokens", Some(typed)).await.0, 201);
    server.add_token("CARD", "Accepted", None, None).await;
    let mut cs = server.booted201("CS1").await;
    let (payloads, (status, _)) = send(&server, &mut cs, "CS1", "Full", "Accepted", 1).await;
    assert_eq!(status, 200);
    let sent: Vec<(String, String)> = payloads[0]["localAuthorizationList"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (e["idToken"]["idToken"].as_str().unwrap_or("").into(), e["idToken"]["type"].as_str().unwrap_or("").into())
        })
        .collect();
    assert_eq!(sent, [("CARD".into(), "ISO14443".into()), ("PIN1".into(), "KeyCode".into())]);
    let held = server.get("/api/v1/stations/CS1/local-list").await;
    let kinds: Vec<Value> = held["entries"].as_array().expect("entries").iter().map(|e| e["type"].clone()).collect();
    assert_eq!(kinds, [Value::Null, json!("KeyCode")], "Ström's copy keeps the types: {held}");
    assert_eq!(server.http("DELETE", "/api/v1/id-tokens/PIN1", None).await.0, 204);
    let (payloads, _) = send(&server, &mut cs, "CS1", "Differential", "Accepted", 1).await;
    assert_eq!(payloads[0]["localAuthorizationList"], json!([{"idToken": {"idToken": "PIN1", "type": "KeyCode"}}]));
    // A token whose type changes is removed under the type the station holds, then added anew.
    let retyped = json!({"status": "Accepted", "type": "ISO15693"});
    assert_eq!(server.http("PUT", "/api/v1/id-tokens/CARD", Some(retyped)).await.0, 200);
    let (payloads, _) = send(&server, &mut cs, "CS1", "Differential", "Accepted", 1).await;
    assert_eq!(
        payloads[0]["localAuthorizationList"],
        json!([{"idToken": {"idToken": "CARD", "type": "ISO14443"}},
               {"idToken": {"idToken": "CARD", "type": "ISO15693"}, "idTokenInfo": {"status": "Accepted"}}])
    );
    let held = server.get("/api/v1/stations/CS1/local-list").await;
    let card = held["entries"].as_array().expect("entries").iter().find(|e| e["id_token"] == "CARD").cloned();
    assert_eq!(card.map(|e| e["type"].clone()), Some(json!("ISO15693")), "Ström's copy ends with the new entry");
    // A raw list's entries keep the type they were sent with.
    let raw_list = json!({"versionNumber": 9, "updateType": "Differential", "localAuthorizationList": [
        {"idToken": {"idToken": "MAC1", "type": "MacAddress"}, "idTokenInfo": {"status": "Accepted"}}]});
    raw(&server, &mut cs, "CS1", "SendLocalList", raw_list, json!({"status": "Accepted"})).await;
    let held = server.get("/api/v1/stations/CS1/local-list").await;
    let mac = held["entries"].as_array().expect("entries").iter().find(|e| e["id_token"] == "MAC1").cloned();
    assert_eq!(mac.map(|e| e["type"].clone()), Some(json!("MacAddress")));
}
