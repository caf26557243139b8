//! What a version adapter gets from its session to answer one station CALL: the station, the
//! time, the gateway's registration settings, the registration gate, and the port that carries
//! out core operations. The adapters (`v16`, `v201`) see only this, never the session or its
//! socket, so that they stay translators between wire types and core operations (ISSUE 24
//! item 3) and the session is the only module that knows both of them.

use crate::errors::CallFailure;
use crate::machine::Machine;
use crate::Gateway;
use csms_core::authorization::{AuthDecision, AuthStatus};
use csms_core::notifications::StationEventKind;
use csms_core::ops::{Authorize, Boot, FrameLog, Registration, StationEvent};
use csms_core::port::Operation;
use csms_core::station::{BootInfo, ProtocolVersion, RegistrationStatus, StationId};
use csms_core::Timestamp;
use futures_util::FutureExt;
use std::future::Future;
use std::time::Duration;

/// The registration gate of the connection's protocol state (`Machine::admit`,
/// `Machine::set_registration`), without the pending CSMS call the adapters have no business
/// with.
pub(crate) trait Gate {
    fn admit(&self, action: &str, pending_ok: bool) -> Result<(), CallFailure>;
    fn set_registration(&mut self, status: RegistrationStatus);
}

impl<R> Gate for Machine<R> {
    fn admit(&self, action: &str, pending_ok: bool) -> Result<(), CallFailure> {
        Machine::admit(self, action, pending_ok)
    }

    fn set_registration(&mut self, status: RegistrationStatus) {
        Machine::set_registration(self, status)
    }
}

/// How long a 2.0.1 Ended answer waits for its transaction's record (`Context::record_total`):
/// well inside the station's own wait for the answer.
const RECORD_WAIT: Duration = Duration::from_secs(5);

/// One station CALL's view of its session.
pub(crate) struct Context<'a> {
    gateway: &'a Gateway,
    station: &'a StationId,
    /// The session's generation in the registry, which a new registration is recorded under.
    generation: u64,
    gate: &'a mut (dyn Gate + Send),
    /// The station is over its Authorize limit (`limits`): an Authorize is answered Invalid
    /// without asking the store.
    authorize_limited: bool,
}

impl<'a> Context<'a> {
    pub(crate) fn new(
        gateway: &'a Gateway,
        station: &'a StationId,
        generation: u64,
        gate: &'a mut (dyn Gate + Send),
    ) -> Context<'a> {
        Context { gateway, station, generation, gate, authorize_limited: false }
    }

    pub(crate) fn set_authorize_limited(&mut self, limited: bool) {
        self.authorize_limited = limited;
    }

    /// Answers an Authorize: the store's decision, or, over the station's Authorize limit,
    /// Invalid without asking, so that guessing tags learns nothing (issue 25 item 4).
    pub(crate) fn authorize(
        &self,
        authorize: Authorize,
        log: &mut Option<FrameLog>,
    ) -> impl Future<Output = Result<AuthDecision, CallFailure>> {
        let committed = (!self.authorize_limited).then(|| self.commit(authorize, log));
        if committed.is_none() {
            tracing::debug!(station = %self.station, "Authorize over the station's limit: answered Invalid");
        }
        async move {
            match committed {
                Some(committed) => committed.await,
                None => Ok(AuthDecision { status: AuthStatus::Invalid, expiry: None, parent_id_token: None }),
            }
        }
    }

    pub(crate) fn station(&self) -> &StationId {
        self.station
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.gateway.clock.now()
    }

    /// The operator commands (Ström's CA, and sending it the station's certificate).
    pub(crate) fn commands(&self) -> &csms_commands::Commands {
        &self.gateway.commands
    }

    /// Lets a CALL through by the station's registration (`Machine::admit`).
    pub(crate) fn admit(&self, action: &str, pending_ok: bool) -> Result<(), CallFailure> {
        self.gate.admit(action, pending_ok)
    }

    /// Records the registration told to the station, in the connection's state and in the
    /// registry the API reads.
    fn set_registration(&mut self, status: RegistrationStatus) {
        self.gate.set_registration(status);
        self.gateway.registry.update(self.station, self.generation, |i| i.registration = Some(status));
    }

    /// Applies `op` together with the inbound frame (taken from `log`); the future waits for
    /// the commit. Queued at once, so that the future stays small (`<dyn Port>::execute`): a
    /// message's future is allocated for every message, and the adapters' ones hold these.
    pub(crate) fn commit<O: Operation>(
        &self,
        op: O,
        log: &mut Option<FrameLog>,
    ) -> impl Future<Output = Result<O::Output, CallFailure>> {
        // A combinator, not an async block: that would hold the inner future twice.
        self.gateway.store.execute(op, log.take().into_iter().collect()).map(|committed| Ok(committed?))
    }

    /// The total including tax of the record of transaction `id`, which has just ended
    /// (`Port::record_total`). A record not written within `RECORD_WAIT` (the store far behind)
    /// leaves the answer without it, as when no tariff applies; the record still follows.
    pub(crate) fn record_total(&self, id: i64) -> impl Future<Output = Option<csms_core::tariffs::Decimal>> {
        let (total, station) = (self.gateway.store.record_total(id), self.station.clone());
        async move {
            match tokio::time::timeout(RECORD_WAIT, total).await {
                Ok(Ok(total)) => total,
                Ok(Err(e)) => {
                    tracing::warn!(%station, transaction = id, error = %e, "record total not read");
                    None
                }
                Err(_) => {
                    tracing::warn!(%station, transaction = id, "record not written in time: no totalCost");
                    None
                }
            }
        }
    }

    /// Registers a boot: the stored registration (or the policy for a new station) decides the
    /// status, and the interval told to the station follows from it. Queued at once (`commit`).
    pub(crate) fn boot(
        &mut self,
        info: BootInfo,
        ocpp_version: ProtocolVersion,
        log: &mut Option<FrameLog>,
    ) -> impl Future<Output = Result<(RegistrationStatus, Duration), CallFailure>> + '_ + use<'_, 'a> {
        let policy = self.gateway.config.registration_policy;
        let now = self.now();
        let committed = self.commit(Boot { station: self.station.clone(), ocpp_version, info, policy, now }, log);
        committed.map(move |committed| {
            let Registration { status, heartbeat_interval: configured, new_station } = committed?;
            self.set_registration(status);
            tracing::info!(station = %self.station, status = status.as_str(), "boot");
            let config = &self.gateway.config;
            if csms_core::security::secure_on_first_use(config.secure_new_stations, new_station, status) {
                // Sent through the session like any command, so it leaves after this boot's
                // answer: the session sends nothing else while it handles a station's CALL.
                let (commands, station) = (self.gateway.commands.clone(), self.station.clone());
                tokio::spawn(async move { commands.secure_new_station(&station).await });
            }
            let interval = csms_core::station::boot_interval(
                status,
                configured,
                config.heartbeat_interval,
                config.boot_retry_interval,
            );
            if status == RegistrationStatus::Accepted {
                // Silence longer than this (and the grace) is a missed heartbeat (`connectivity`).
                self.gateway.registry.update(self.station, self.generation, |i| i.heartbeat_interval = Some(interval));
            }
            Ok((status, interval))
        })
    }

    /// Records a notification the station sent about itself, with the frame it came in. Queued
    /// at once (`commit`).
    pub(crate) fn event(
        &self,
        log: &mut Option<FrameLog>,
        kind: StationEventKind,
        status: Option<String>,
        request_id: Option<i64>,
        detail: Option<String>,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), CallFailure>> {
        let op = StationEvent { station: self.station.clone(), kind, status, request_id, evse_id: None, detail, at };
        self.commit(op, log)
    }

    /// Records a notification about one of the station's EVSEs (2.0.1 charging limits and EV
    /// charging needs), like `event`.
    pub(crate) fn evse_event(
        &self,
        log: &mut Option<FrameLog>,
        kind: StationEventKind,
        status: Option<String>,
        evse_id: Option<i64>,
        detail: Option<String>,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), CallFailure>> {
        let op = StationEvent { station: self.station.clone(), kind, status, request_id: None, evse_id, detail, at };
        self.commit(op, log)
    }
}

/// Id tokens in logs show their first two characters only.
pub(crate) fn mask(token: &str) -> String {
    let shown: String = token.chars().take(2).collect();
    format!("{shown}***")
}
