//! Firmware updates and diagnostics/log uploads followed from the command through the
//! station's status notifications (CONFORMANCE 1.6 TC_044_1, TC_044_2, TC_045_1, TC_079;
//! 2.0.1 TC_L_01, TC_N_25).

mod common;

use common::{Backend, Server};
use serde_json::json;

both_backends!(firmware_and_uploads_are_tracked_on_1_6, firmware_and_logs_are_tracked_on_2_0_1);

async fn firmware_and_uploads_are_tracked_on_1_6(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cp = server.booted("CP1").await;
    let update = json!({"location": "ftp://files.example.com/fw-2.bin", "retrieveDate": "2026-11-26T12:00:00Z"});
    let (_, _, reply) =
        server.answered(&mut cp, "POST", "/api/v1/stations/CP1/commands/UpdateFirmware", update, json!({})).await;
    assert_eq!(reply.0, 200);
    for status in ["Downloading", "Downloaded", "Installing", "Installed"] {
        cp.call_ok("FirmwareStatusNotification", json!({"status": status})).await;
    }
    let diag = json!({"location": "ftp://files.example.com/diag/"});
    let path = "/api/v1/stations/CP1/commands/GetDiagnostics";
    server.answered(&mut cp, "POST", path, diag, json!({"fileName": "diag-cp1.zip"})).await;
    cp.call_ok("DiagnosticsStatusNotification", json!({"status": "Uploading"})).await;
    cp.call_ok("DiagnosticsStatusNotification", json!({"status": "UploadFailed"})).await;
    // TriggerMessage answers ("Idle") move nothing.
    cp.call_ok("DiagnosticsStatusNotification", json!({"status": "Idle"})).await;
    let log =
        json!({"logType": "SecurityLog", "requestId": 79, "log": {"remoteLocation": "ftp://files.example.com/logs/"}});
    let path = "/api/v1/stations/CP1/commands/GetLog";
    server.answered(&mut cp, "POST", path, log, json!({"status": "Accepted", "filename": "security.log"})).await;
    cp.call_ok("LogStatusNotification", json!({"status": "Uploaded", "requestId": 79})).await;

    let transfers = server.items("/api/v1/stations/CP1/transfers").await;
    let by_kind =
        |kind: &str| transfers.as_array().expect("array").iter().find(|t| t["kind"] == kind).cloned().expect(kind);
    let firmware = by_kind("firmware");
    assert_eq!(
        (firmware["status"].as_str(), firmware["location"].as_str()),
        (Some("Installed"), Some("ftp://files.example.com/fw-2.bin"))
    );
    let diagnostics = by_kind("diagnostics");
    assert_eq!(
        (diagnostics["status"].as_str(), diagnostics["file_name"].as_str()),
        (Some("UploadFailed"), Some("diag-cp1.zip"))
    );
    let log = by_kind("log");
    assert_eq!(
        (log["status"].as_str(), log["request_id"].as_i64(), log["file_name"].as_str()),
        (Some("Uploaded"), Some(79), Some("security.log"))
    );
    assert_eq!(server.get("/api/v1/stations/CP1").await["firmware_status"], "Installed");
}

async fn firmware_and_logs_are_tracked_on_2_0_1(backend: Backend) {
    let server = Server::start(backend).await;
    let mut cs = server.booted201("CS1").await;
    let update = |id: i64| json!({"requestId": id, "firmware": {"location": format!("https://fw.example.com/{id}.bin"), "retrieveDateTime": "2026-11-26T12:00:00Z"}});
    let path = "/api/v1/stations/CS1/commands/UpdateFirmware";
    server.answered(&mut cs, "POST", path, update(1), json!({"status": "Accepted"})).await;
    server.answered(&mut cs, "POST", path, update(2), json!({"status": "Rejected"})).await;
    for status in ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"] {
        cs.call_ok("FirmwareStatusNotification", json!({"status": status, "requestId": 1})).await;
    }
    let log =
        json!({"logType": "DiagnosticsLog", "requestId": 25, "log": {"remoteLocation": "https://logs.example.com/"}});
    server.answered(&mut cs, "POST", "/api/v1/stations/CS1/commands/GetLog", log, json!({"status": "Accepted"})).await;
    cs.call_ok("LogStatusNotification", json!({"status": "Uploading", "requestId": 25})).await;
    let transfers = server.items("/api/v1/stations/CS1/transfers").await;
    let transfers = transfers.as_array().expect("array");
    assert_eq!(transfers.len(), 2, "the rejected update is not tracked");
    assert_eq!((transfers[0]["kind"].as_str(), transfers[0]["status"].as_str()), (Some("log"), Some("Uploading")));
    assert_eq!((transfers[1]["request_id"].as_i64(), transfers[1]["status"].as_str()), (Some(1), Some("Installed")));
}
