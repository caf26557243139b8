//! One station's connection: reads frames, answers the station's CALLs (one at a time, each
//! only after its effects are committed), sends the CSMS's own CALLs and matches their answers,
//! pings an idle station, and closes on replacement, silence or shutdown.

use crate::errors::CallFailure;
use crate::{v16, v201, Gateway};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use csms_commands::{CallError, CallReply, OutboundCall, SessionInfo};
use csms_core::notifications::StationEventKind;
use csms_core::ops::{Boot, Direction, FrameLog, Registration, Seen, StationEvent};
use csms_core::port::Operation;
use csms_core::station::{RegistrationStatus, StationId};
use futures_util::{FutureExt, StreamExt};
use ocpp::{Frame, FrameError, OcppVersion};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// Whether a CALL's frame was parsed whole or only split (`ocpp::split_call`).
#[derive(Clone, Copy)]
enum Checked {
    Yes,
    No,
}

/// Per-connection state the version adapters work with.
pub(crate) struct Session {
    pub gateway: Arc<Gateway>,
    pub station: StationId,
    pub version: OcppVersion,
    pub generation: u64,
    last_seen: csms_commands::LastSeen,
    /// The station's registration as last told to it; `None` for a station never seen.
    pub registration: Option<RegistrationStatus>,
    /// What the station was asked for by an accepted TriggerMessage: a Pending station may send
    /// it (OCPP 1.6 §4.2, 2.0.1 B02.FR.05).
    triggered: Option<&'static str>,
    pending: Option<PendingCall>,
    next_call_id: u64,
}

struct PendingCall {
    id: String,
    action: String,
    /// For a TriggerMessage: the station action it asks for.
    triggers: Option<&'static str>,
    reply: oneshot::Sender<Result<CallReply, CallError>>,
}

/// The station action a (Extended)TriggerMessage asks for, by its `requestedMessage`.
fn triggered_action(action: &str, payload: &str) -> Option<&'static str> {
    if action != "TriggerMessage" && action != "ExtendedTriggerMessage" {
        return None;
    }
    let requested: serde_json::Value = serde_json::from_str(payload).ok()?;
    Some(match requested.get("requestedMessage")?.as_str()? {
        "BootNotification" => "BootNotification",
        "DiagnosticsStatusNotification" => "DiagnosticsStatusNotification",
        "FirmwareStatusNotification" => "FirmwareStatusNotification",
        "Heartbeat" => "Heartbeat",
        "MeterValues" => "MeterValues",
        "StatusNotification" => "StatusNotification",
        "LogStatusNotification" => "LogStatusNotification",
        "TransactionEvent" => "TransactionEvent",
        "PublishFirmwareStatusNotification" => "PublishFirmwareStatusNotification",
        "SignChargePointCertificate"
        | "SignChargingStationCertificate"
        | "SignV2GCertificate"
        | "SignCombinedCertificate" => "SignCertificate",
        _ => return None,
    })
}

impl Session {
    pub(crate) fn set_registration(&mut self, status: RegistrationStatus) {
        self.registration = Some(status);
        self.triggered = None;
        self.gateway.registry.update(&self.station, self.generation, |i| i.registration = Some(status));
    }

    /// Lets a CALL through only from an Accepted station. BootNotification always passes, and
    /// for a Pending station so do `pending_ok` messages (2.0.1 NotifyReport during
    /// provisioning) and the message an accepted TriggerMessage asked for (OCPP 2.0.1 B02.FR.05). Everything else is a SecurityError (OCPP 2.0.1 B02.FR.03; the same
    /// policy for 1.6, CHECKLIST §2.2), and so is anything from a station never registered.
    pub(crate) fn admit(&self, action: &str, pending_ok: bool) -> Result<(), CallFailure> {
        match self.registration {
            _ if action == "BootNotification" => Ok(()),
            Some(RegistrationStatus::Accepted) => Ok(()),
            Some(RegistrationStatus::Pending) if pending_ok || self.triggered == Some(action) => Ok(()),
            Some(RegistrationStatus::Pending) => Err(CallFailure::NotAccepted("Pending")),
            Some(RegistrationStatus::Rejected) => Err(CallFailure::NotAccepted("Rejected")),
            None => Err(CallFailure::NotAccepted("not registered")),
        }
    }

    /// Registers a boot: the stored registration (or the policy for a new station) decides the
    /// status, and the interval told to the station follows from it. Queued at once (`commit`).
    pub(crate) fn boot(
        &mut self,
        info: csms_core::station::BootInfo,
        ocpp_version: &'static str,
        log: &mut Option<FrameLog>,
    ) -> impl Future<Output = Result<(RegistrationStatus, std::time::Duration), CallFailure>> + '_ {
        let policy = self.gateway.config.registration_policy;
        let now = self.gateway.clock.now();
        let committed = self.commit(Boot { station: self.station.clone(), ocpp_version, info, policy, now }, log);
        committed.map(move |committed| {
            let Registration { status, heartbeat_interval: configured } = committed?;
            self.set_registration(status);
            tracing::info!(station = %self.station, status = status.as_str(), "boot");
            let config = &self.gateway.config;
            let interval = csms_core::station::boot_interval(
                status,
                configured,
                config.heartbeat_interval,
                config.boot_retry_interval,
            );
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
        at: csms_core::Timestamp,
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
        at: csms_core::Timestamp,
    ) -> impl Future<Output = Result<(), CallFailure>> {
        let op = StationEvent { station: self.station.clone(), kind, status, request_id: None, evse_id, detail, at };
        self.commit(op, log)
    }

    fn frame_log(&self, direction: Direction, frame: &str) -> FrameLog {
        FrameLog { station_id: self.station.clone(), direction, at: self.gateway.clock.now(), frame: frame.to_string() }
    }

    /// Handles one text frame; returns the frame to send back, if any.
    async fn on_text(&mut self, text: &str) -> Option<String> {
        self.last_seen.set(self.gateway.clock.now());
        if let Some((id, action, payload)) = ocpp::split_call(text) {
            return self.on_call(text, id, action, payload, Checked::No).await;
        }
        match Frame::parse(text) {
            // Boxed: this path is rare (a frame `split_call` could not split), and the parsed
            // frame would otherwise make every message's future larger.
            Ok(Frame::Call { id, action, payload }) => {
                Box::pin(self.on_call(text, &id, &action, payload.get(), Checked::Yes)).await
            }
            Ok(Frame::CallResult { id, payload }) => {
                self.gateway.store.log_frames(vec![self.frame_log(Direction::In, text)]).await;
                self.on_reply(&id, CallReply::Result(payload.get().to_string()));
                None
            }
            Ok(Frame::CallError { id, code, description, .. }) => {
                self.gateway.store.log_frames(vec![self.frame_log(Direction::In, text)]).await;
                self.on_reply(&id, CallReply::Error { code: code.into_owned(), description: description.into_owned() });
                None
            }
            Err(e) => {
                // A broken answer is never answered (CHECKLIST §1.1), but when its id is the
                // pending call's it is that call's answer: an invalid one, which settles the call
                // now instead of leaving the operator to wait for the timeout.
                let answer_to = (!e.answerable).then(|| e.id.clone()).flatten();
                let message = e.message.clone();
                let answer = self.on_malformed(text, e);
                if let Some(id) = answer_to {
                    self.on_reply(&id, CallReply::Malformed { frame: text.to_string(), message });
                }
                answer
            }
        }
    }

    fn on_malformed(&self, text: &str, e: FrameError) -> Option<String> {
        tracing::debug!(station = %self.station, error = %e, "malformed frame");
        let mut log = vec![self.frame_log(Direction::In, text)];
        let answerable = e.answerable;
        let id = e.id.clone().unwrap_or_else(|| "-1".to_string());
        let failure = CallFailure::Frame(e);
        let metrics = &self.gateway.metrics;
        metrics.messages.inc(&[("direction", "in"), ("action", "(malformed)"), ("result", "error")]);
        if answerable {
            metrics.call_errors_sent.inc(&[("code", failure.code().as_str(self.version))]);
        }
        let answer = answerable
            .then(|| Frame::encode_call_error(&id, failure.code().as_str(self.version), &failure.to_string()));
        if let Some(answer) = &answer {
            log.push(self.frame_log(Direction::Out, answer));
        }
        // Kept, not waited for (this is no async fn): the station's next frame that is logged
        // waits, should the log still be behind.
        let _kept = self.gateway.store.log_frames(log);
        answer
    }

    async fn on_call(&mut self, text: &str, id: &str, action: &str, payload: &str, frame: Checked) -> Option<String> {
        let arrived = std::time::Instant::now();
        let span = tracing::debug_span!("call", station = %self.station, action, id);
        let mut log = Some(self.frame_log(Direction::In, text));
        let result = match self.version {
            OcppVersion::V16 => v16::handle(self, action, payload, &mut log).instrument(span).await,
            OcppVersion::V201 => v201::handle(self, action, payload, &mut log).instrument(span).await,
        };
        // A refused call from `split_call` may have been a malformed frame, which is answered as
        // such. Nothing was stored: a call is refused before its payload decodes, or the frame
        // was well-formed.
        if let (Err(_), Checked::No) = (&result, frame) {
            if let Err(e) = Frame::parse(text) {
                return self.on_malformed(text, e);
            }
        }
        // Only known action names become labels: a station sending random names must not grow
        // the metrics without bound.
        let known = match self.version {
            OcppVersion::V16 => ocpp::v16::Action::from_name(action).map(|a| a.as_str()),
            OcppVersion::V201 => ocpp::v201::Action::from_name(action).map(|a| a.as_str()),
        };
        let label = known.unwrap_or("(unknown)");
        let metrics = &self.gateway.metrics;
        let answer = match result {
            Ok(payload) => {
                metrics.messages.inc(&[("direction", "in"), ("action", label), ("result", "ok")]);
                Frame::encode_call_result(id, &payload)
            }
            Err(failure) => {
                metrics.messages.inc(&[("direction", "in"), ("action", label), ("result", "error")]);
                metrics.call_errors_sent.inc(&[("code", failure.code().as_str(self.version))]);
                match &failure {
                    CallFailure::Storage(e) => {
                        tracing::error!(station = %self.station, error = %e, action, "storage failed, answering InternalError")
                    }
                    other => tracing::debug!(station = %self.station, error = %other, action, "refused"),
                }
                Frame::encode_call_error(id, failure.code().as_str(self.version), &failure.to_string())
            }
        };
        // The inbound frame was stored with its effects unless the call failed before that.
        let mut frames: Vec<FrameLog> = log.into_iter().collect();
        frames.push(self.frame_log(Direction::Out, &answer));
        self.gateway.store.log_frames(frames).await;
        metrics.answer_seconds.observe_duration(arrived.elapsed());
        Some(answer)
    }

    /// Applies `op` together with the inbound frame (taken from `log`); the future waits for
    /// the commit. Queued at once, so that the future stays small (`Store::apply`): a message's
    /// future is allocated for every message, and the adapters' ones hold these.
    pub(crate) fn commit<O: Operation>(
        &self,
        op: O,
        log: &mut Option<FrameLog>,
    ) -> impl Future<Output = Result<O::Output, CallFailure>> {
        // A combinator, not an async block: that would hold the inner future twice.
        self.gateway.store.execute(op, log.take().into_iter().collect()).map(|committed| Ok(committed?))
    }

    fn on_reply(&mut self, id: &str, reply: CallReply) {
        match self.pending.take() {
            Some(pending) if pending.id == id => {
                tracing::debug!(station = %self.station, action = pending.action, id, "station answered");
                if let (Some(wanted), CallReply::Result(payload)) = (pending.triggers, &reply) {
                    let accepted = serde_json::from_str::<serde_json::Value>(payload)
                        .is_ok_and(|v| v.get("status").and_then(|s| s.as_str()) == Some("Accepted"));
                    if accepted {
                        self.triggered = Some(wanted);
                    }
                }
                let _ = pending.reply.send(Ok(reply));
            }
            other => {
                // A late answer to a timed-out CALL, or one never sent: logged and dropped
                // (CONFORMANCE RPC-18).
                tracing::debug!(station = %self.station, id, "answer to no pending call dropped");
                self.pending = other;
            }
        }
    }

    async fn start_call(&mut self, call: OutboundCall) -> String {
        self.next_call_id += 1;
        let id = format!("strom-{}", self.next_call_id);
        let frame = Frame::encode_call(&id, &call.action, &call.payload);
        // The registry lets only one CALL through at a time; a previous one still here timed out.
        let triggers = triggered_action(&call.action, &call.payload);
        if let Some(stale) = self.pending.replace(PendingCall { id, action: call.action, triggers, reply: call.reply })
        {
            let _ = stale.reply.send(Err(CallError::Timeout(self.gateway.config.call_timeout)));
        }
        self.gateway.store.log_frames(vec![self.frame_log(Direction::Out, &frame)]).await;
        frame
    }
}

pub(crate) async fn run(gateway: Arc<Gateway>, station: StationId, version: OcppVersion, mut socket: WebSocket) {
    // A station that reconnects without booting keeps the registration it had (CHECKLIST §1.4).
    // The store's futures are boxed, here and below, for the reason `on_text`'s is.
    let stored_version = match version {
        OcppVersion::V16 => "1.6",
        OcppVersion::V201 => "2.0.1",
    };
    let registration = match Box::pin(gateway.store.registration(&station, stored_version)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(station = %station, error = %e, "cannot read the station's registration; closing");
            let _ = socket.send(close(1011, "storage unavailable")).await;
            return;
        }
    };
    let now = gateway.clock.now();
    // Boxed: the channel allocates its slots up front, and an idle connection should cost little.
    let (calls_tx, mut calls) = mpsc::channel::<Box<OutboundCall>>(4);
    let info = SessionInfo { version, connected_at: now, last_seen: now, registration };
    let (generation, replaced, last_seen) = gateway.registry.insert(&station, calls_tx, info);
    tracing::info!(station = %station, version = version.subprotocol(), "connected");
    let mut session = Session {
        gateway: gateway.clone(),
        station: station.clone(),
        version,
        generation,
        last_seen,
        registration,
        triggered: None,
        pending: None,
        next_call_id: 0,
    };
    let mut ping = tokio::time::interval(gateway.config.ping_interval);
    ping.reset();
    let mut silent_intervals = 0u32;
    // Made once, not at every turn of the loop: each one registers with its token when first
    // polled and unregisters when dropped, under the token's lock, which every connection
    // shares for the shutdown token.
    let replaced = replaced.cancelled();
    let shutdown = gateway.shutdown.cancelled();
    tokio::pin!(replaced, shutdown);
    let reason = loop {
        // The socket is not split into halves: each half would take a lock around every read
        // and write, and the branches below use it one at a time.
        tokio::select! {
            _ = &mut replaced => {
                let _ = socket.send(close(1000, "replaced by a new connection")).await;
                break "replaced";
            }
            _ = &mut shutdown => {
                let _ = socket.send(close(1001, "server shutting down")).await;
                break "shutdown";
            }
            message = socket.next() => {
                silent_intervals = 0;
                match message {
                    Some(Ok(Message::Text(text))) => {
                        // Boxed, so that the handling of a message (the largest state of this
                        // loop) takes memory only while a message is being handled, not for as
                        // long as the connection lives.
                        if let Some(answer) = Box::pin(session.on_text(text.as_str())).await {
                            if socket.send(Message::text(answer)).await.is_err() {
                                break "send failed";
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        // OCPP-J frames are text frames (OCPP-J §3.1).
                        let _ = socket.send(close(1003, "OCPP-J uses text frames")).await;
                        break "binary frame";
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break "closed by station",
                    Some(Err(e)) => {
                        tracing::debug!(station = %station, error = %e, "websocket error");
                        let _ = socket.send(close_for(&e.to_string())).await;
                        break "websocket error";
                    }
                }
            }
            Some(call) = calls.recv() => {
                let frame = Box::pin(session.start_call(*call)).await;
                if socket.send(Message::text(frame)).await.is_err() {
                    break "send failed";
                }
            }
            _ = ping.tick() => {
                if silent_intervals >= 2 {
                    break "silent for two ping intervals";
                }
                silent_intervals += 1;
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break "send failed";
                }
            }
        }
    };
    if let Some(pending) = session.pending.take() {
        let _ = pending.reply.send(Err(CallError::Disconnected));
    }
    // Recorded before the session leaves the registry, so that a draining shutdown, which waits
    // for the registry to empty before it closes the store, still stores it.
    let seen = Seen { station: station.clone(), at: gateway.clock.now() };
    if let Err(e) = Box::pin(gateway.store.execute(seen, Vec::new())).await {
        tracing::warn!(station = %station, error = %e, "could not record when the station was last seen");
    }
    gateway.registry.remove(&station, generation);
    tracing::info!(station = %station, reason, "disconnected");
}

/// The close frame for a read that failed, by tungstenite's error (which axum passes on only as
/// text): an over-long message is a capacity error (1009, RFC 6455 §7.4.1), a text frame that
/// is not UTF-8 its `Utf8` error (1007, RFC 6455 §8.1), anything else a protocol error (1002).
fn close_for(error: &str) -> Message {
    if error.contains("too long") || error.contains("Space limit") {
        close(1009, "message too big")
    } else if error.starts_with("UTF-8 encoding error") {
        close(1007, "text frame is not UTF-8")
    } else {
        close(1002, "protocol error")
    }
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// Id tokens in logs show their first two characters only.
pub(crate) fn mask(token: &str) -> String {
    let shown: String = token.chars().take(2).collect();
    format!("{shown}***")
}
