//! One station's connection: reads frames, answers the station's CALLs (one at a time, each
//! only after its effects are committed), sends the CSMS's own CALLs and matches their answers,
//! pings an idle station, and closes on replacement, silence or shutdown.

use crate::context::Context;
use crate::errors::CallFailure;
use crate::limits::{Limiter, Verdict};
use crate::machine::{Call, Inbound, Machine, PingTick, Reply, Settle, Started, MALFORMED_LABEL};
use crate::{v16, v201, Gateway};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use csms_commands::{CallError, CallReply, LastSeen, OutboundCall, SessionInfo};
use csms_core::ops::{Direction, FrameLog, Seen};
use csms_core::port::PortError;
use csms_core::station::{ProtocolVersion, RegistrationStatus, StationId};
use futures_util::StreamExt;
use ocpp::OcppVersion;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};
use tracing::Instrument;

/// How a CSMS CALL's answer reaches the operator command that sent it (`Registry::call`).
type CallAnswer = oneshot::Sender<Result<CallReply, CallError>>;

/// One connection's I/O around its protocol state (`Machine`): the clock, the store, the
/// registry and the version adapters.
struct Session {
    gateway: Arc<Gateway>,
    station: StationId,
    generation: u64,
    last_seen: LastSeen,
    /// When the connection opened, on the monotonic clock the machine's deadlines count from.
    opened: Instant,
    machine: Machine<CallAnswer>,
    /// The station's rate limits (`limits`).
    limiter: Limiter,
}

impl Session {
    /// A frame for the message log, its secrets masked (`ocpp::secrets`): the log is shown to
    /// every API role, and a password Ström sends or a station reports must not be in it.
    fn frame_log(&self, direction: Direction, frame: &str) -> FrameLog {
        let frame = ocpp::secrets::mask(frame).into_owned();
        FrameLog { station_id: self.station.clone(), direction, at: self.gateway.clock.now(), frame }
    }

    /// The machine's time: since the connection opened.
    fn now(&self) -> Duration {
        self.opened.elapsed()
    }

    /// Handles one text frame; returns the frame to send back, if any.
    async fn on_text(&mut self, text: &str) -> Option<String> {
        self.last_seen.set(self.gateway.clock.now());
        match self.machine.on_text(text, self.now()) {
            Inbound::Call(call) => self.on_call(call).await,
            Inbound::Answer { id, settle } => {
                self.gateway.store.log_frames(vec![self.frame_log(Direction::In, text)]).await;
                match settle {
                    Some(settle) => self.settle(settle),
                    // A late answer to a timed-out CALL, or one never sent: logged and dropped
                    // (CONFORMANCE RPC-18).
                    None => tracing::debug!(station = %self.station, %id, "answer to no pending call dropped"),
                }
                None
            }
            Inbound::Malformed { error, reply, settle } => {
                tracing::debug!(station = %self.station, %error, "malformed frame");
                let answer = self.send(Some(self.frame_log(Direction::In, text)), reply).await;
                if let Some(settle) = settle {
                    self.settle(settle);
                }
                answer
            }
        }
    }

    async fn on_call(&mut self, call: Call<'_>) -> Option<String> {
        let arrived = std::time::Instant::now();
        let span = tracing::debug_span!("call", station = %self.station, action = %call.action, id = %call.id);
        let mut log = Some(self.frame_log(Direction::In, call.text));
        let version = self.machine.version();
        let refused = self.within_limits(&call.action).await;
        let authorize_limited = call.action == "Authorize" && refused.is_none() && !self.limiter.authorize(self.now());
        if authorize_limited {
            self.gateway.metrics.rate_limited.inc(&[("limit", "authorize"), ("treatment", "answered_invalid")]);
        }
        let mut cx = Context::new(&self.gateway, &self.station, self.generation, &mut self.machine);
        cx.set_authorize_limited(authorize_limited);
        let result = match (refused, version) {
            (Some(refused), _) => Err(refused),
            (None, OcppVersion::V16) => {
                v16::handle(&mut cx, &call.action, call.payload, &mut log).instrument(span).await
            }
            (None, OcppVersion::V201) => {
                v201::handle(&mut cx, &call.action, call.payload, &mut log).instrument(span).await
            }
        };
        match &result {
            Err(CallFailure::Storage(e)) => {
                tracing::error!(station = %self.station, error = %e, action = %call.action, "storage failed, answering InternalError")
            }
            Err(other) => tracing::debug!(station = %self.station, error = %other, action = %call.action, "refused"),
            Ok(_) => {}
        }
        let reply = self.machine.answer(&call, result);
        // Refused before its payload was read, and not a well-formed frame after all: answered
        // as one, and not timed as a CALL.
        let malformed = reply.label == MALFORMED_LABEL;
        if malformed {
            tracing::debug!(station = %self.station, answer = ?reply.frame, "malformed frame");
        }
        let answer = self.send(log, reply).await;
        if !malformed {
            self.gateway.metrics.answer_seconds.observe_duration(arrived.elapsed());
        }
        answer
    }

    /// Holds a CALL of `action` to the station's message rate: waits while a transaction message
    /// is paced; answers the failure to reply with when the CALL is refused.
    async fn within_limits(&mut self, action: &str) -> Option<CallFailure> {
        let metrics = &self.gateway.metrics;
        match self.limiter.message(action, self.now()) {
            Verdict::Go => None,
            Verdict::Pace(wait) => {
                metrics.rate_limited.inc(&[("limit", "messages"), ("treatment", "paced")]);
                tokio::time::sleep(wait).await;
                None
            }
            Verdict::Refuse => {
                metrics.rate_limited.inc(&[("limit", "messages"), ("treatment", "refused")]);
                let limits = self.limiter.limits();
                Some(CallFailure::RateLimited { per_second: limits.messages_per_second, burst: limits.message_burst })
            }
        }
    }

    /// Counts the reply to a station's frame and logs both (the inbound one in `inbound`,
    /// unless it was stored with the call's effects); returns the frame to send back.
    async fn send(&self, inbound: Option<FrameLog>, reply: Reply) -> Option<String> {
        let metrics = &self.gateway.metrics;
        metrics.messages.inc(&[("direction", "in"), ("action", reply.label), ("result", reply.result_label())]);
        if let Some(code) = reply.error_code {
            metrics.call_errors_sent.inc(&[("code", code)]);
        }
        let mut frames: Vec<FrameLog> = inbound.into_iter().collect();
        if let Some(frame) = &reply.frame {
            frames.push(self.frame_log(Direction::Out, frame));
        }
        self.gateway.store.log_frames(frames).await;
        reply.frame
    }

    /// Hands a CSMS CALL's end to whoever sent the call.
    fn settle(&self, settle: Settle<CallAnswer>) {
        let Settle { id, action, reply, result } = settle;
        tracing::debug!(station = %self.station, action, id, ok = result.is_ok(), "call settled");
        // The caller may have given up already (the registry's own timeout).
        let _ = reply.send(result);
    }

    async fn start_call(&mut self, call: OutboundCall) -> String {
        let now = self.now();
        let Started { frame, stale, .. } = self.machine.start_call(call.action, &call.payload, call.reply, now);
        if let Some(stale) = stale {
            self.settle(stale);
        }
        self.gateway.store.log_frames(vec![self.frame_log(Direction::Out, &frame)]).await;
        frame
    }
}

/// The registration the store remembers for the station, as it connects: the one read of the
/// store the session makes itself (everything else goes through the adapters' operations).
async fn stored_registration(
    gateway: &Gateway,
    station: &StationId,
    version: OcppVersion,
) -> Result<Option<RegistrationStatus>, PortError> {
    // Boxed, for the reason `on_text`'s future is.
    Box::pin(gateway.store.registration(station, protocol_of(version))).await
}

/// The version as the store records it.
fn protocol_of(version: OcppVersion) -> ProtocolVersion {
    match version {
        OcppVersion::V16 => ProtocolVersion::V16,
        OcppVersion::V201 => ProtocolVersion::V201,
    }
}

pub(crate) async fn run(gateway: Arc<Gateway>, station: StationId, version: OcppVersion, mut socket: WebSocket) {
    // A station that reconnects without booting keeps the registration it had (CHECKLIST §1.4).
    let registration = match stored_registration(&gateway, &station, version).await {
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
    let info = SessionInfo { version, connected_at: now, last_seen: now, registration, heartbeat_interval: None };
    let (generation, replaced, last_seen) = gateway.registry.insert(&station, calls_tx, info);
    tracing::info!(station = %station, version = version.subprotocol(), "connected");
    crate::connectivity::connected(&gateway, &station, protocol_of(version));
    let mut session = Session {
        gateway: gateway.clone(),
        station: station.clone(),
        generation,
        last_seen,
        opened: Instant::now(),
        machine: Machine::new(version, registration, gateway.config.call_timeout),
        limiter: Limiter::new(gateway.config.rate_limits),
    };
    let mut ping = tokio::time::interval(gateway.config.ping_interval);
    ping.reset();
    // Made once, not at every turn of the loop: each one registers with its token when first
    // polled and unregisters when dropped, under the token's lock, which every connection
    // shares for the shutdown token.
    let replaced = replaced.cancelled();
    let shutdown = gateway.shutdown.cancelled();
    tokio::pin!(replaced, shutdown);
    let reason = loop {
        let due = session.machine.deadline().map(|d| session.opened + d);
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
                session.machine.heard();
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
            // The pending CSMS CALL's deadline (CONFORMANCE RPC-17); the registry's own timeout
            // stays the caller's safety net.
            // An async block, so that no timer is made while no call is pending (a disabled
            // branch's future is still built at every turn of the loop).
            Some(()) = async move {
                sleep_until(due?).await;
                Some(())
            }, if due.is_some() => {
                if let Some(expired) = session.machine.tick(session.now()) {
                    session.settle(expired);
                }
            }
            _ = ping.tick() => {
                if session.machine.on_ping_interval() == PingTick::Close {
                    break "silent for two ping intervals";
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break "send failed";
                }
            }
        }
    };
    if let Some(pending) = session.machine.disconnect() {
        session.settle(pending);
    }
    // Recorded before the session leaves the registry, so that a draining shutdown, which waits
    // for the registry to empty before it closes the store, still stores it.
    let ended = gateway.clock.now();
    let seen = Seen { station: station.clone(), at: ended, reason };
    if let Err(e) = Box::pin(gateway.store.execute(seen, Vec::new())).await {
        tracing::warn!(station = %station, error = %e, "could not record when the station was last seen");
    }
    gateway.registry.remove(&station, generation);
    tracing::info!(station = %station, reason, "disconnected");
    crate::connectivity::disconnected(&gateway, station, ended, reason);
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
