//! Faults Ström detects from the connections themselves (issue 27 item 2): a station whose
//! connection ends and that is not back within `offline_grace` gets a `CommunicationLost` fault
//! of category `communication`, from the moment it went, cleared when it connects again. A
//! connection closed by Ström's own shutdown, or replaced by the station's next one, is no loss.
//! A station silent on an open connection, that sends nothing for longer than its heartbeat
//! interval and the grace, missed its heartbeats: the same fault, from when its heartbeat was
//! due, cleared once it is heard again (`watch`). It is also closed after two silent ping
//! intervals (`session`), and that is a loss like any other.

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

/// How often `watch` looks: often enough that a fault opens or clears within seconds of its
/// time, and no more than once a second.
fn watch_every(grace: std::time::Duration) -> std::time::Duration {
    (grace / 4).clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(15))
}

/// Until the shutdown: a connected station silent for longer than its heartbeat interval and
/// the grace gets the `CommunicationLost` fault from when its heartbeat was due, and joins the
/// `lost` set; one of them heard again on its connection has it cleared (a new connection
/// clears it in `connected`). One pass over the registry each `watch_every`, instead of a timer
/// per connection or a look at the set per message.
pub(crate) async fn watch(gateway: Arc<Gateway>) {
    let config = &gateway.config;
    let mut every = tokio::time::interval(watch_every(config.offline_grace));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = gateway.shutdown.cancelled() => return,
        }
        let now = gateway.clock.now();
        let silent = gateway.registry.silent(now, config.heartbeat_interval, config.offline_grace);
        let newly: Vec<(StationId, Timestamp)> = {
            let mut lost = gateway.lost_stations();
            silent.iter().filter(|(station, _)| lost.insert(station.clone())).cloned().collect()
        };
        for (station, seen) in newly {
            let info = gateway.registry.session(station.as_str());
            let interval = info.and_then(|i| i.heartbeat_interval).unwrap_or(config.heartbeat_interval);
            let due = chrono::Duration::from_std(interval).map_or(seen, |d| seen + d);
            let reason = format!("no heartbeat: nothing heard for longer than {} s", interval.as_secs());
            let op = Connectivity { station: station.clone(), change: ConnectivityChange::Lost { since: due, reason } };
            match Box::pin(gateway.store.execute(op, Vec::new())).await {
                Ok(true) => tracing::warn!(station = %station, "missed heartbeats: communication fault opened"),
                Ok(false) => {}
                Err(e) => tracing::warn!(station = %station, error = %e, "could not record the missed heartbeats"),
            }
        }
        // Heard again on the connection it went silent on.
        let heard: Vec<StationId> = {
            let mut lost = gateway.lost_stations();
            let back: Vec<StationId> = lost
                .iter()
                .filter(|s| gateway.registry.session(s.as_str()).is_some() && !silent.iter().any(|(q, _)| q == *s))
                .cloned()
                .collect();
            back.iter().for_each(|s| {
                lost.remove(s);
            });
            back
        };
        for station in heard {
            back(&gateway, &station).await;
        }
    }
}
