//! Faults Ström detects from the connections themselves (issue 27 item 2): a station whose
//! connection ends and that is not back within `offline_grace` gets a `CommunicationLost` fault
//! of category `communication`, from the moment it went, cleared when it connects again. A
//! connection closed by Ström's own shutdown, or replaced by the station's next one, is no loss.
//! A station silent on an open connection is closed after two ping intervals (`session`), and
//! that is a loss like any other.

use crate::Gateway;
use csms_core::ops::{Connectivity, ConnectivityChange};
use csms_core::station::{ProtocolVersion, StationId};
use csms_core::Timestamp;
use std::sync::Arc;

/// A station connected: recorded (the `station.connected` event), and if Ström had its
/// connection as lost, the fault is cleared. Queued now, ahead of anything the station says on
/// this connection, but not waited for: the session starts at once.
pub(crate) fn connected(gateway: &Arc<Gateway>, station: &StationId, protocol: ProtocolVersion) {
    let was_lost = gateway.lost_stations().remove(station);
    let op = Connectivity {
        station: station.clone(),
        change: ConnectivityChange::Connected { at: gateway.clock.now(), protocol, was_lost },
    };
    let written = gateway.store.execute(op, Vec::new());
    let station = station.clone();
    tokio::spawn(async move {
        match written.await {
            Ok(true) => tracing::info!(station = %station, "connection back: communication fault cleared"),
            Ok(false) => {}
            Err(e) => tracing::warn!(station = %station, error = %e, "could not record the connection"),
        }
    });
}

async fn back(gateway: &Gateway, station: &StationId) {
    let op = Connectivity { station: station.clone(), change: ConnectivityChange::Back { at: gateway.clock.now() } };
    match Box::pin(gateway.store.execute(op, Vec::new())).await {
        Ok(true) => tracing::info!(station = %station, "connection back: communication fault cleared"),
        Ok(false) => {}
        Err(e) => tracing::warn!(station = %station, error = %e, "could not clear the communication fault"),
    }
}

/// A station's connection ended at `at` for `reason`: unless it is back within the grace (or
/// Ström is shutting down), its loss is recorded as a fault.
pub(crate) fn disconnected(gateway: &Arc<Gateway>, station: StationId, at: Timestamp, reason: &'static str) {
    if matches!(reason, "replaced" | "shutdown") {
        return;
    }
    let gateway = gateway.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(gateway.config.offline_grace) => {}
            _ = gateway.shutdown.cancelled() => return,
        }
        // Noted first, so that a connection that comes while the fault is being written finds
        // it to clear (`connected`).
        gateway.lost_stations().insert(station.clone());
        if gateway.registry.session(station.as_str()).is_some() {
            gateway.lost_stations().remove(&station);
            return;
        }
        let lost = ConnectivityChange::Lost { since: at, reason: format!("connection lost ({reason})") };
        let op = Connectivity { station: station.clone(), change: lost };
        match Box::pin(gateway.store.execute(op, Vec::new())).await {
            Ok(opened) => {
                if opened {
                    tracing::warn!(station = %station, reason, "connection lost: communication fault opened");
                }
                // Back already, while the fault was written (its clearing may have gone first):
                // cleared again.
                if gateway.registry.session(station.as_str()).is_some() {
                    gateway.lost_stations().remove(&station);
                    back(&gateway, &station).await;
                }
            }
            Err(e) => tracing::warn!(station = %station, error = %e, "could not record the lost connection"),
        }
    });
}
