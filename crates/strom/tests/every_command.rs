//! Every CSMS-initiated action of both versions can be sent through the API and answered: the
//! request Ström sends validates against the official schema, a success answer comes back as
//! the reply, and a CALLERROR answer comes back as one. Table-driven over the action catalogue,
//! this covers the command side of the CONFORMANCE cases 1.6 TC_010..TC_087 and the 2.0.1
//! blocks B, C, D, E, F, G, H, K, L, M, N, O, P (their success and NotSupported answers; the
//! named tests elsewhere cover the cases with effects).

mod common;

use common::{Backend, Server, Station};
use ocpp::Initiator;

both_backends!(every_csms_action_is_sent_and_answered);

/// Sends every CSMS action of `dir`'s version to `station` and checks both kinds of answer.
async fn drive(server: &Server, station: &mut Station, id: &str, dir: &'static str, actions: &[&'static str]) -> usize {
    let mut checked = 0;
    for action in actions {
        let request = testkit::sample(&testkit::load_schema(dir, &testkit::schema_file(dir, action, false)), false);
        let response = testkit::sample(&testkit::load_schema(dir, &testkit::schema_file(dir, action, true)), true);
        let path = format!("/api/v1/stations/{id}/commands/{action}");
        let (sent, payload, reply) = server.answered(station, "POST", &path, request.clone(), response.clone()).await;
        assert_eq!((sent.as_str(), reply.0), (*action, 200), "{action}: {}", reply.1);
        assert_eq!(reply.1, response, "{action}: the station's reply comes back as it was");
        assert_eq!(payload, request, "{action}: sent as asked");

        let api = server.spawn_http("POST", &path, request);
        let (message_id, _, _) = station.expect_call().await;
        station.reply_error(&message_id, "NotSupported", "not here").await;
        let (status, body) = api.await.expect("operator task");
        assert_eq!((status, body["code"].as_str()), (502, Some("NotSupported")), "{action}");
        checked += 1;
    }
    checked
}

async fn every_csms_action_is_sent_and_answered(backend: Backend) {
    let server = Server::start(backend).await;
    let v16: Vec<&'static str> =
        ocpp::v16::Action::ALL.iter().filter(|a| a.initiator() != Initiator::Station).map(|a| a.as_str()).collect();
    let v201: Vec<&'static str> =
        ocpp::v201::Action::ALL.iter().filter(|a| a.initiator() != Initiator::Station).map(|a| a.as_str()).collect();
    assert_eq!((v16.len(), v201.len()), (26, 40), "CSMS-initiated actions, DataTransfer included");
    let mut cp = server.booted("CP1").await;
    let mut cs = server.booted201("CS1").await;
    let sent = drive(&server, &mut cp, "CP1", "v16", &v16).await + drive(&server, &mut cs, "CS1", "v201", &v201).await;
    assert_eq!(sent, 66);
    let log = server.items("/api/v1/stations/CS1/commands?limit=1000").await;
    assert_eq!(log.as_array().map(Vec::len), Some(80));
    assert!(log.as_array().expect("array").iter().all(|c| c["status"] == "Answered" || c["status"] == "CallError"));
}
