//! `strom sim` against a real server: a mixed fleet charges and faults, and what Ström stored
//! matches what every simulated meter delivered; every injected fault was opened and cleared.

mod common;

use common::{Backend, Server};
use serde_json::Value;

both_backends!(simulated_fleet_energy_and_faults_match_what_is_stored);

async fn simulated_fleet_energy_and_faults_match_what_is_stored(backend: Backend) {
    let server = Server::start(backend).await;
    server.add_token("SIM", "Accepted", None, None).await;
    let url = format!("ws://{}/ocpp", server.addr);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["sim", "--url", &url, "--stations", "4", "--version", "mixed", "--sessions", "2", "--samples", "8"])
        .args(["--fault-share", "1", "--seed", "42"])
        .output()
        .await
        .expect("strom sim runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!(
        (summary["booted"].as_u64(), summary["sessions"].as_u64(), summary["faults"].as_u64()),
        (Some(4), Some(8), Some(8))
    );

    let stored = server.get("/api/v1/transactions?limit=1000").await;
    let stored = stored.as_array().expect("array");
    assert_eq!(stored.len(), 8);
    for session in summary["session_log"].as_array().expect("log") {
        let station = session["station"].as_str().expect("station");
        let tx = session["transaction_id"].as_str().expect("id");
        let found = stored
            .iter()
            .find(|t| t["station_id"] == station && t["station_transaction_id"] == tx)
            .unwrap_or_else(|| panic!("{station} {tx} not stored"));
        assert_eq!(found["energy_wh"].as_f64(), session["energy_wh"].as_f64(), "{station} {tx}: {found}");
        assert_eq!((found["flags"].clone(), found["active"].clone()), (serde_json::json!([]), Value::Bool(false)));
    }
    let faults = server.get("/api/v1/faults?limit=1000").await;
    let faults = faults.as_array().expect("array");
    assert_eq!(faults.len(), 8, "every injected fault is a record");
    assert!(faults.iter().all(|f| f["open"] == false), "and every one was cleared");
    let versions: Vec<Value> = server
        .get("/api/v1/stations")
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["ocpp_version"].clone())
        .collect();
    assert_eq!(versions.iter().filter(|v| **v == "2.0.1").count(), 2);
}
