//! The live sessions, one per station: a new connection replaces the old one, and the CSMS's
//! own CALLs to a station go through its session, one at a time.

use csms_core::station::{RegistrationStatus, StationId};
use csms_core::Timestamp;
use ocpp::OcppVersion;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

/// What the station answered to a CSMS CALL.
#[derive(Debug, Clone, PartialEq)]
pub enum CallReply {
    Result(String),
    Error {
        code: String,
        description: String,
    },
    /// A CALLRESULT or CALLERROR under the call's id that is not a well-formed frame (a code
    /// that is not a string, a payload that is not an object, broken JSON): the whole frame
    /// and what is wrong with it. It settles the call at once; it is never answered.
    Malformed {
        frame: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("station is not connected")]
    Offline,
    #[error("station did not answer within {0:?}")]
    Timeout(Duration),
    #[error("connection closed before the station answered")]
    Disconnected,
}

/// A CALL waiting for the session to send it.
pub struct OutboundCall {
    pub action: String,
    pub payload: String,
    pub reply: oneshot::Sender<Result<CallReply, CallError>>,
}

/// What the API may know about a live session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub version: OcppVersion,
    pub connected_at: Timestamp,
    pub last_seen: Timestamp,
    pub registration: Option<RegistrationStatus>,
    /// The heartbeat interval its last boot answer gave it.
    pub heartbeat_interval: Option<Duration>,
}

pub(crate) struct SessionEntry {
    pub generation: u64,
    pub cancel: CancellationToken,
    pub calls: mpsc::Sender<Box<OutboundCall>>,
    /// One CSMS CALL in flight per station (OCPP-J §4.1.1): callers queue on this lock.
    pub call_lock: Arc<tokio::sync::Mutex<()>>,
    /// `info.last_seen` as milliseconds since 1970, set by the session at every frame without
    /// taking the registry's lock (`LastSeen`).
    last_seen: LastSeen,
    pub info: SessionInfo,
}

/// When a session last heard from its station, shared between the session, which sets it at
/// every frame, and the registry, which reads it for the API.
#[derive(Clone)]
pub struct LastSeen(Arc<AtomicI64>);

impl LastSeen {
    fn new(at: Timestamp) -> LastSeen {
        LastSeen(Arc::new(AtomicI64::new(at.timestamp_millis())))
    }

    pub fn set(&self, at: Timestamp) {
        self.0.store(at.timestamp_millis(), Ordering::Relaxed);
    }

    fn get(&self) -> Option<Timestamp> {
        Timestamp::from_timestamp_millis(self.0.load(Ordering::Relaxed))
    }
}

impl SessionEntry {
    fn info(&self) -> SessionInfo {
        let mut info = self.info.clone();
        if let Some(at) = self.last_seen.get() {
            info.last_seen = at;
        }
        info
    }
}

#[derive(Default)]
pub struct Registry {
    sessions: Mutex<HashMap<StationId, SessionEntry>>,
    next_generation: AtomicU64,
    emptied: Notify,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StationId, SessionEntry>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new session, closing the station's previous one (CONFORMANCE RPC-05).
    pub fn insert(
        &self,
        station: &StationId,
        calls: mpsc::Sender<Box<OutboundCall>>,
        info: SessionInfo,
    ) -> (u64, CancellationToken, LastSeen) {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let cancel = CancellationToken::new();
        let last_seen = LastSeen::new(info.last_seen);
        let entry = SessionEntry {
            generation,
            cancel: cancel.clone(),
            calls,
            call_lock: Arc::new(tokio::sync::Mutex::new(())),
            last_seen: last_seen.clone(),
            info,
        };
        if let Some(old) = self.lock().insert(station.clone(), entry) {
            tracing::info!(station = %station, "new connection replaces the previous one");
            old.cancel.cancel();
        }
        (generation, cancel, last_seen)
    }

    /// The stations connected but silent: nothing heard from one for longer than its heartbeat
    /// interval (`default` if its boot gave none) and `grace`, with when it was last heard.
    pub fn silent(&self, now: Timestamp, default: Duration, grace: Duration) -> Vec<(StationId, Timestamp)> {
        self.lock()
            .iter()
            .filter_map(|(station, entry)| {
                let seen = entry.last_seen.get()?;
                let allowed = entry.info.heartbeat_interval.unwrap_or(default) + grace;
                let silent_ms = now.timestamp_millis() - seen.timestamp_millis();
                (silent_ms > i64::try_from(allowed.as_millis()).unwrap_or(i64::MAX)).then(|| (station.clone(), seen))
            })
            .collect()
    }

    /// Closes the station's session, if it has one (a decommissioned station); answers whether it
    /// had. The session sees its token cancelled, as when a new connection replaces it.
    pub fn disconnect(&self, station: &StationId) -> bool {
        match self.lock().get(station) {
            Some(entry) => {
                entry.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Removes the session if it is still the current one for the station.
    pub fn remove(&self, station: &StationId, generation: u64) {
        let mut sessions = self.lock();
        if sessions.get(station).is_some_and(|e| e.generation == generation) {
            sessions.remove(station);
        }
        if sessions.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    pub fn update(&self, station: &StationId, generation: u64, f: impl FnOnce(&mut SessionInfo)) {
        if let Some(entry) = self.lock().get_mut(station).filter(|e| e.generation == generation) {
            f(&mut entry.info);
        }
    }

    pub fn session(&self, station: &str) -> Option<SessionInfo> {
        let station = StationId::parse(station)?;
        self.lock().get(&station).map(SessionEntry::info)
    }

    pub fn connected(&self) -> Vec<(StationId, SessionInfo)> {
        self.lock().iter().map(|(k, v)| (k.clone(), v.info())).collect()
    }

    /// Waits until no session is left (used by graceful shutdown).
    pub async fn wait_empty(&self) {
        loop {
            let notified = self.emptied.notified();
            if self.lock().is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Sends a CALL to a station and waits for its answer. CALLs to one station are sent one
    /// after another: the next waits until the previous is answered or timed out.
    pub async fn call(
        &self,
        station: &str,
        action: &str,
        payload: String,
        timeout: Duration,
    ) -> Result<CallReply, CallError> {
        let station = StationId::parse(station).ok_or(CallError::Offline)?;
        let (calls, lock) = {
            let sessions = self.lock();
            let entry = sessions.get(&station).ok_or(CallError::Offline)?;
            (entry.calls.clone(), entry.call_lock.clone())
        };
        let _turn = lock.lock().await;
        let (reply, answer) = oneshot::channel();
        calls
            .send(Box::new(OutboundCall { action: action.to_string(), payload, reply }))
            .await
            .map_err(|_| CallError::Disconnected)?;
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CallError::Disconnected),
            Err(_) => Err(CallError::Timeout(timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_timestamp_millis(millis).expect("in range")
    }

    fn info(seen: Timestamp) -> SessionInfo {
        SessionInfo {
            version: OcppVersion::V16,
            connected_at: seen,
            last_seen: seen,
            registration: None,
            heartbeat_interval: None,
        }
    }

    #[test]
    fn a_session_tells_when_its_station_was_last_heard_from() {
        let registry = Registry::default();
        let station = StationId::parse("CP1").expect("valid");
        let (calls, _waiting) = mpsc::channel(1);
        let (_, _, last_seen) = registry.insert(&station, calls, info(at(1_000)));
        assert_eq!(registry.session("CP1").expect("live").last_seen, at(1_000));
        last_seen.set(at(2_500));
        assert_eq!(registry.session("CP1").expect("live").last_seen, at(2_500));
        assert_eq!(registry.connected()[0].1.last_seen, at(2_500));

        // Once replaced, the old connection's frames no longer count for the station.
        let (calls, _waiting) = mpsc::channel(1);
        let (_, _, newer) = registry.insert(&station, calls, info(at(3_000)));
        last_seen.set(at(9_000));
        assert_eq!(registry.session("CP1").expect("live").last_seen, at(3_000));
        newer.set(at(4_000));
        assert_eq!(registry.session("CP1").expect("live").last_seen, at(4_000));
    }
}
