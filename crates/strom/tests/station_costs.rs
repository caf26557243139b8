//! The cost on the station's display (issue 28 item 3): running costs sent every
//! `cost_update_secs` to 2.0.1 stations as CostUpdated (none when their TariffCostCtrlr says cost
//! is disabled) and to 1.6 stations that declare CustomDisplayCostAndPrice as the California
//! Pricing DataTransfer RunningCost, and FinalCost at a 1.6 stop; on both backends.

mod common;

use common::{energy_reading, id_token, tx_event, Backend, Server, Station};
use serde_json::{json, Value};
use std::time::Duration;

both_backends!(
    running_costs_reach_2_0_1_stations_that_want_them,
    california_pricing_reaches_1_6_stations_that_declare_it
);

const CONFIG: &str = "cost_update_secs = 1\n";

async fn tariff(server: &Server) {
    let tariff = json!({"id": "AC", "currency": "EUR", "tax_rate": 19,
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]}]});
    assert_eq!(server.http("POST", "/api/v1/tariffs", Some(tariff)).await.0, 201);
}

/// Nothing from Ström for a while (pings aside).
async fn silent(cp: &mut Station, seconds: u64) {
    let next = tokio::time::timeout(Duration::from_secs(seconds), cp.next_message()).await;
    assert!(next.is_err(), "expected nothing, got {next:?}");
}

/// A 2.0.1 transaction from 0 to 5 kWh so far.
async fn charging_201(cp: &mut Station, tx: &str) {
    let mut started = json!({"evse": {"id": 1, "connectorId": 1}, "idToken": id_token("DRIVER")});
    started["meterValue"] = energy_reading(0.0, "Transaction.Begin", "2026-12-07T10:00:00.000Z");
    cp.call_ok("TransactionEvent", tx_event("Started", 0, tx, "Authorized", "2026-12-07T10:00:00.000Z", started)).await;
    let updated = json!({"meterValue": energy_reading(5_000.0, "Sample.Periodic", "2026-12-07T10:30:00.000Z")});
    cp.call_ok(
        "TransactionEvent",
        tx_event("Updated", 1, tx, "MeterValuePeriodic", "2026-12-07T10:30:00.000Z", updated),
    )
    .await;
}

async fn running_costs_reach_2_0_1_stations_that_want_them(backend: Backend) {
    let server = Server::start_with_config(backend, CONFIG).await;
    server.add_token("DRIVER", "Accepted", None, None).await;
    server.add_token("OTHER", "Accepted", None, None).await;
    tariff(&server).await;
    let mut cp = server.booted201("CS-COST").await;
    charging_201(&mut cp, "T-1").await;
    let (id, action, payload) = cp.expect_call().await;
    // 5 kWh × 0.30 = 1.50, with 19 % tax 1.785 → 1.79.
    assert_eq!(
        (action.as_str(), payload["transactionId"].as_str(), payload["totalCost"].as_f64()),
        ("CostUpdated", Some("T-1"), Some(1.79)),
        "{payload}"
    );
    cp.reply(&id, json!({})).await;
    let logged = server.items("/api/v1/stations/CS-COST/commands").await;
    assert!(
        logged.as_array().expect("array").iter().any(|c| c["action"] == "CostUpdated"),
        "a logged command: {logged}"
    );

    // A station whose TariffCostCtrlr says cost is not enabled is sent none.
    let mut quiet = server.booted201("CS-NOCOST").await;
    let ask = json!({"getVariableData": [{"component": {"name": "TariffCostCtrlr"}, "variable": {"name": "Enabled", "instance": "Cost"}}]});
    let asked = server.spawn_http("POST", "/api/v1/stations/CS-NOCOST/commands/GetVariables", ask);
    let (id, _, _) = quiet.expect_call().await;
    quiet
        .reply(&id, json!({"getVariableResult": [{"attributeStatus": "Accepted", "attributeType": "Actual", "attributeValue": "false",
            "component": {"name": "TariffCostCtrlr"}, "variable": {"name": "Enabled", "instance": "Cost"}}]}))
        .await;
    assert_eq!(asked.await.expect("answered").0, 200);
    let mut started = json!({"evse": {"id": 1, "connectorId": 1}, "idToken": id_token("OTHER")});
    started["meterValue"] = energy_reading(0.0, "Transaction.Begin", "2026-12-07T10:00:00.000Z");
    quiet
        .call_ok("TransactionEvent", tx_event("Started", 0, "Q-1", "Authorized", "2026-12-07T10:00:00.000Z", started))
        .await;
    silent(&mut quiet, 3).await;
}

async fn california_pricing_reaches_1_6_stations_that_declare_it(backend: Backend) {
    let server = Server::start_with_config(backend, CONFIG).await;
    server.add_token("A", "Accepted", None, None).await;
    server.add_token("B", "Accepted", None, None).await;
    tariff(&server).await;
    let mut cp = server.booted("CS-CA").await;
    // The station declares California Pricing in its configuration, as Ström reads it.
    let fetch = server.spawn_http("POST", "/api/v1/stations/CS-CA/configuration/fetch", json!({}));
    let (id, action, _) = cp.expect_call().await;
    assert_eq!(action, "GetConfiguration");
    cp.reply(
        &id,
        json!({"configurationKey": [{"key": "CustomDisplayCostAndPrice", "readonly": true, "value": "true"}]}),
    )
    .await;
    assert_eq!(fetch.await.expect("answered").0, 200);
    let (tx, _) = cp.start(1, "A", 10_000, "2026-12-07T10:00:00.000Z").await;
    let mv = json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-12-07T10:30:00.000Z",
        "sampledValue": [{"value": "14000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]});
    cp.call_ok("MeterValues", mv).await;
    let (id, action, payload) = cp.expect_call().await;
    assert_eq!(
        (action.as_str(), payload["vendorId"].as_str(), payload["messageId"].as_str()),
        ("DataTransfer", Some("org.openchargealliance.costmsg"), Some("RunningCost"))
    );
    let data: Value = serde_json::from_str(payload["data"].as_str().expect("data")).expect("JSON data");
    // 4 kWh × 0.30 × 1.19 = 1.428 → 1.43.
    assert_eq!(
        (data["transactionId"].as_i64(), data["meterValue"].as_i64(), data["cost"].as_f64()),
        (Some(tx), Some(4000), Some(1.43)),
        "{data}"
    );
    cp.reply(&id, json!({"status": "Accepted"})).await;

    let stop = json!({"transactionId": tx, "meterStop": 15_000, "timestamp": "2026-12-07T10:40:00.000Z"});
    cp.call_ok("StopTransaction", stop).await;
    // Running costs may still be on their way; the final one follows the record.
    let data = loop {
        let (id, _, payload) = cp.expect_call().await;
        cp.reply(&id, json!({"status": "Accepted"})).await;
        if payload["messageId"] == "FinalCost" {
            break serde_json::from_str::<Value>(payload["data"].as_str().expect("data")).expect("JSON");
        }
    };
    let records = server.items_eventually(&format!("/api/v1/cdrs?transaction_id={tx}"), 1).await;
    // 5 kWh × 0.30 × 1.19 = 1.785 → 1.79, as the record says.
    assert_eq!(
        (data["transactionId"].as_i64(), data["cost"].as_f64()),
        (Some(tx), records[0]["total_cost"]["incl_vat"].as_f64()),
        "{data}"
    );
    assert_eq!(data["cost"].as_f64(), Some(1.79));
    assert!(data["priceText"].as_str().unwrap_or_default().contains("EUR"), "{data}");

    // A 1.6 station that did not declare it is sent neither.
    let mut plain = server.booted("CS-PLAIN").await;
    let (other, _) = plain.start(1, "B", 0, "2026-12-07T10:00:00.000Z").await;
    let mv = json!({"connectorId": 1, "transactionId": other, "meterValue": [{"timestamp": "2026-12-07T10:30:00.000Z",
        "sampledValue": [{"value": "2000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]});
    plain.call_ok("MeterValues", mv).await;
    silent(&mut plain, 3).await;
}
