//! One connection's protocol state without its I/O: which frame came in and what it asks of the
//! connection, who may send what (the registration gate), the CSMS's one CALL in flight and its
//! deadline, what an accepted TriggerMessage lets a Pending station send, the CALLRESULT or
//! CALLERROR every station CALL is answered with, and when a silent station is dropped.
//!
//! No socket, store, registry or clock lives here (ISSUE 24 item 3): the connection loop reads
//! frames and timers and hands them in, time included (`now`, the time since the connection
//! opened on the loop's monotonic clock), and does what the returned values say. Unit tests
//! drive it with frames and a counted clock.

use crate::errors::CallFailure;
use csms_commands::{CallError, CallReply};
use csms_core::station::RegistrationStatus;
use ocpp::{Frame, FrameError, OcppVersion};
use std::borrow::Cow;
use std::time::Duration;

/// The `action` label of a frame that is not a well-formed OCPP-J frame.
pub(crate) const MALFORMED_LABEL: &str = "(malformed)";
/// The `action` label of a CALL whose action the version does not know.
pub(crate) const UNKNOWN_LABEL: &str = "(unknown)";

/// A CALLERROR with no readable message id goes out under `"-1"`, as libocpp does (CONFORMANCE
/// RPC-06).
const UNREADABLE_ID: &str = "-1";

/// A station left silent for this many ping intervals is dropped.
const SILENT_INTERVALS: u32 = 2;

/// The protocol state of one connection. `R` is how a CSMS CALL's answer reaches whoever sent the
/// call (a oneshot sender in the connection loop); the machine only holds it and hands it back in
/// a [`Settle`].
pub(crate) struct Machine<R> {
    version: OcppVersion,
    /// The station's registration as last told to it; `None` for a station never seen.
    registration: Option<RegistrationStatus>,
    /// What the station was asked for by an accepted TriggerMessage: a Pending station may send
    /// it (OCPP 1.6 §4.2, 2.0.1 B02.FR.05) until its registration changes.
    triggered: Option<&'static str>,
    pending: Option<PendingCall<R>>,
    next_call_id: u64,
    call_timeout: Duration,
    /// Ping intervals that passed without a frame from the station.
    silent_intervals: u32,
}

struct PendingCall<R> {
    id: String,
    action: String,
    /// For a TriggerMessage: the station action it asks for.
    triggers: Option<&'static str>,
    deadline: Duration,
    reply: R,
}

/// Whether a CALL's frame was parsed whole or only split (`ocpp::split_call`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Yes,
    No,
}

/// A station's CALL, for the version adapter; its answer comes from [`Machine::answer`].
#[derive(Debug)]
pub(crate) struct Call<'a> {
    /// The whole frame, as received.
    pub text: &'a str,
    pub id: Cow<'a, str>,
    pub action: Cow<'a, str>,
    /// The payload's JSON text, for the action's decoder.
    pub payload: &'a str,
    checked: Checked,
}

/// What an inbound text frame asks of the connection.
#[derive(Debug)]
pub(crate) enum Inbound<'a, R> {
    /// A CALL from the station: handle it and send what [`Machine::answer`] makes of the result.
    Call(Call<'a>),
    /// A CALLRESULT or CALLERROR: logged, never answered. `settle` is the pending CALL it
    /// answers; `None` for a late answer or one to a call never sent, which is dropped
    /// (CONFORMANCE RPC-18).
    Answer { id: Cow<'a, str>, settle: Option<Settle<R>> },
    /// A frame that is not well-formed: logged, answered when `reply.frame` is some. A broken
    /// answer under the pending call's id settles that call (`settle`).
    Malformed { error: FrameError, reply: Reply, settle: Option<Settle<R>> },
}

/// The end of a CSMS CALL: `result` goes to `reply`.
#[derive(Debug, PartialEq)]
pub(crate) struct Settle<R> {
    pub id: String,
    pub action: String,
    pub reply: R,
    pub result: Result<CallReply, CallError>,
}

/// The frame to send back for a station's frame, and how it is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// `None` for a malformed CALLRESULT or CALLERROR, which is never answered (CHECKLIST §1.1).
    pub frame: Option<String>,
    /// The `action` label of the `messages` metric: a known action's name, [`UNKNOWN_LABEL`] or
    /// [`MALFORMED_LABEL`], never a name a station made up, so the labels stay bounded.
    pub label: &'static str,
    /// The CALLERROR code sent, as spelled for the version (the `call_errors_sent` label).
    pub error_code: Option<&'static str>,
}

impl Reply {
    /// The `result` label of the `messages` metric.
    pub(crate) fn result_label(&self) -> &'static str {
        if self.frame.is_some() && self.error_code.is_none() {
            "ok"
        } else {
            "error"
        }
    }
}

/// A CSMS CALL ready to go out.
#[derive(Debug, PartialEq)]
pub(crate) struct Started<R> {
    pub id: String,
    pub frame: String,
    /// The previous call, which had timed out without being expired yet: it ends as a timeout.
    pub stale: Option<Settle<R>>,
}

/// What a tick of the ping interval asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PingTick {
    Ping,
    /// The station has been silent for two intervals: close the connection.
    Close,
}

impl<R> Machine<R> {
    /// A connection's state as it opens: `registration` is what the store remembers (a station
    /// that reconnects without booting keeps it, CHECKLIST §1.4).
    pub(crate) fn new(
        version: OcppVersion,
        registration: Option<RegistrationStatus>,
        call_timeout: Duration,
    ) -> Machine<R> {
        Machine {
            version,
            registration,
            triggered: None,
            pending: None,
            next_call_id: 0,
            call_timeout,
            silent_intervals: 0,
        }
    }

    pub(crate) fn version(&self) -> OcppVersion {
        self.version
    }

    #[cfg(test)]
    pub(crate) fn registration(&self) -> Option<RegistrationStatus> {
        self.registration
    }

    /// Records the registration told to the station. A new registration ends what an earlier
    /// TriggerMessage allowed.
    pub(crate) fn set_registration(&mut self, status: RegistrationStatus) {
        self.registration = Some(status);
        self.triggered = None;
    }

    /// Lets a CALL through only from an Accepted station. BootNotification always passes, and
    /// for a Pending station so do `pending_ok` messages (2.0.1 NotifyReport during
    /// provisioning) and the message an accepted TriggerMessage asked for (OCPP 2.0.1
    /// B02.FR.05). Everything else is a SecurityError (OCPP 2.0.1 B02.FR.03; the same policy for
    /// 1.6, CHECKLIST §2.2), and so is anything from a station never registered.
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

    /// Reads one text frame from the station. Any frame proves the station alive.
    pub(crate) fn on_text<'a>(&mut self, text: &'a str, now: Duration) -> Inbound<'a, R> {
        self.heard();
        if let Some((id, action, payload)) = ocpp::split_call(text) {
            return Inbound::Call(Call {
                text,
                id: Cow::Borrowed(id),
                action: Cow::Borrowed(action),
                payload,
                checked: Checked::No,
            });
        }
        match Frame::parse(text) {
            Ok(Frame::Call { id, action, payload }) => {
                Inbound::Call(Call { text, id, action, payload: payload.get(), checked: Checked::Yes })
            }
            Ok(Frame::CallResult { id, payload }) => {
                let settle = self.settle(&id, now, || CallReply::Result(payload.get().to_string()));
                Inbound::Answer { id, settle }
            }
            Ok(Frame::CallError { id, code, description, .. }) => {
                let settle = self.settle(&id, now, || CallReply::Error {
                    code: code.into_owned(),
                    description: description.into_owned(),
                });
                Inbound::Answer { id, settle }
            }
            Err(error) => {
                // A broken answer is never answered (CHECKLIST §1.1), but when its id is the
                // pending call's it is that call's answer: an invalid one, which settles the call
                // now instead of leaving the operator to wait for the timeout.
                let settle = match (&error.id, error.answerable) {
                    (Some(id), false) => self.settle(id, now, || CallReply::Malformed {
                        frame: text.to_string(),
                        message: error.message.clone(),
                    }),
                    _ => None,
                };
                let reply = self.malformed(&error);
                Inbound::Malformed { error, reply, settle }
            }
        }
    }

    /// The answer to a station's CALL, from what the version adapter made of it.
    pub(crate) fn answer(&self, call: &Call<'_>, result: Result<String, CallFailure>) -> Reply {
        // A refused call from `split_call` may have been a malformed frame, which is answered as
        // such: its payload was never read as JSON before the adapter's decoder refused it.
        if let (Err(_), Checked::No) = (&result, call.checked) {
            if let Err(error) = Frame::parse(call.text) {
                return self.malformed(&error);
            }
        }
        let label = self.action_label(&call.action);
        match result {
            Ok(payload) => {
                Reply { frame: Some(Frame::encode_call_result(&call.id, &payload)), label, error_code: None }
            }
            Err(failure) => {
                let code = failure.code().as_str(self.version);
                let frame = Frame::encode_call_error(&call.id, code, &failure.to_string());
                Reply { frame: Some(frame), label, error_code: Some(code) }
            }
        }
    }

    /// A CALL's action as a metrics label: only the version's own action names, so that a
    /// station sending random names cannot grow the metrics without bound.
    pub(crate) fn action_label(&self, action: &str) -> &'static str {
        let known = match self.version {
            OcppVersion::V16 => ocpp::v16::Action::from_name(action).map(|a| a.as_str()),
            OcppVersion::V201 => ocpp::v201::Action::from_name(action).map(|a| a.as_str()),
        };
        known.unwrap_or(UNKNOWN_LABEL)
    }

    /// The reply to a malformed frame: a CALLERROR with the frame's code when it can be answered,
    /// under its id or `"-1"`.
    fn malformed(&self, error: &FrameError) -> Reply {
        if !error.answerable {
            return Reply { frame: None, label: MALFORMED_LABEL, error_code: None };
        }
        let failure = CallFailure::Frame(error.clone());
        let code = failure.code().as_str(self.version);
        let id = error.id.as_deref().unwrap_or(UNREADABLE_ID);
        let frame = Frame::encode_call_error(id, code, &failure.to_string());
        Reply { frame: Some(frame), label: MALFORMED_LABEL, error_code: Some(code) }
    }

    /// Takes the pending call if `id` answers it in time; a late answer or one to a call never
    /// sent leaves the pending call as it is.
    fn settle(&mut self, id: &str, now: Duration, reply: impl FnOnce() -> CallReply) -> Option<Settle<R>> {
        let pending = self.pending.take_if(|p| p.id == id && now < p.deadline)?;
        let reply = reply();
        if let (Some(wanted), CallReply::Result(payload)) = (pending.triggers, &reply) {
            if trigger_accepted(self.version, &pending.action, payload) {
                self.triggered = Some(wanted);
            }
        }
        Some(Settle { id: pending.id, action: pending.action, reply: pending.reply, result: Ok(reply) })
    }

    /// Makes a CSMS CALL the one in flight, answered by `now + call_timeout`. The registry lets
    /// only one through at a time (OCPP-J §4.1.1), so a previous one still here had timed out.
    pub(crate) fn start_call(&mut self, action: String, payload: &str, reply: R, now: Duration) -> Started<R> {
        self.next_call_id += 1;
        let id = format!("strom-{}", self.next_call_id);
        let frame = Frame::encode_call(&id, &action, payload);
        let triggers = triggered_action(self.version, &action, payload);
        let deadline = now + self.call_timeout;
        let call = PendingCall { id: id.clone(), action, triggers, deadline, reply };
        let stale = self.pending.replace(call).map(|stale| ended(stale, CallError::Timeout(self.call_timeout)));
        Started { id, frame, stale }
    }

    /// When the pending call times out, for the loop's timer.
    pub(crate) fn deadline(&self) -> Option<Duration> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    /// Ends the pending call as a timeout once its deadline has passed (CONFORMANCE RPC-17); its
    /// answer, should it still come, is dropped.
    pub(crate) fn tick(&mut self, now: Duration) -> Option<Settle<R>> {
        let expired = self.pending.take_if(|p| now >= p.deadline)?;
        Some(ended(expired, CallError::Timeout(self.call_timeout)))
    }

    /// Ends the pending call, if any, because the connection closed.
    pub(crate) fn disconnect(&mut self) -> Option<Settle<R>> {
        let pending = self.pending.take()?;
        Some(ended(pending, CallError::Disconnected))
    }

    /// Notes a frame of any kind from the station (text, binary, ping, pong).
    pub(crate) fn heard(&mut self) {
        self.silent_intervals = 0;
    }

    /// A ping interval passed: ping the station, or drop it when it stayed silent through the
    /// last two pings.
    pub(crate) fn on_ping_interval(&mut self) -> PingTick {
        if self.silent_intervals >= SILENT_INTERVALS {
            return PingTick::Close;
        }
        self.silent_intervals += 1;
        PingTick::Ping
    }
}

/// A CSMS CALL that ends without an answer.
fn ended<R>(pending: PendingCall<R>, error: CallError) -> Settle<R> {
    Settle { id: pending.id, action: pending.action, reply: pending.reply, result: Err(error) }
}

/// Whether the station accepted a (Extended)TriggerMessage, by the answer decoded as its
/// action's response.
fn trigger_accepted(version: OcppVersion, action: &str, payload: &str) -> bool {
    match version {
        OcppVersion::V16 => {
            use ocpp::v16::{Action, Response, TriggerMessageResponseStatus, TriggerMessageStatusEnum};
            let Some(action) = Action::from_name(action) else { return false };
            match Response::decode(action, payload) {
                Ok(Response::TriggerMessage(r)) => r.status == TriggerMessageResponseStatus::Accepted,
                Ok(Response::ExtendedTriggerMessage(r)) => r.status == TriggerMessageStatusEnum::Accepted,
                _ => false,
            }
        }
        OcppVersion::V201 => {
            use ocpp::v201::{Action, Response, TriggerMessageStatusEnum};
            let Some(action) = Action::from_name(action) else { return false };
            matches!(Response::decode(action, payload),
                Ok(Response::TriggerMessage(r)) if r.status == TriggerMessageStatusEnum::Accepted)
        }
    }
}

/// The station action a (Extended)TriggerMessage asks for, by the request decoded as its
/// action's: the message a Pending station may then send (2.0.1 B02.FR.05).
fn triggered_action(version: OcppVersion, action: &str, payload: &str) -> Option<&'static str> {
    match version {
        OcppVersion::V16 => {
            use ocpp::v16::{Action, MessageTriggerEnum as Extended, Request, TriggerMessageRequestedMessage as Basic};
            let wanted = match Request::decode(Action::from_name(action)?, payload).ok()? {
                Request::TriggerMessage(r) => match r.requested_message {
                    Basic::BootNotification => Action::BootNotification,
                    Basic::DiagnosticsStatusNotification => Action::DiagnosticsStatusNotification,
                    Basic::FirmwareStatusNotification => Action::FirmwareStatusNotification,
                    Basic::Heartbeat => Action::Heartbeat,
                    Basic::MeterValues => Action::MeterValues,
                    Basic::StatusNotification => Action::StatusNotification,
                },
                Request::ExtendedTriggerMessage(r) => match r.requested_message {
                    Extended::BootNotification => Action::BootNotification,
                    Extended::LogStatusNotification => Action::LogStatusNotification,
                    Extended::FirmwareStatusNotification => Action::FirmwareStatusNotification,
                    Extended::Heartbeat => Action::Heartbeat,
                    Extended::MeterValues => Action::MeterValues,
                    Extended::SignChargePointCertificate => Action::SignCertificate,
                    Extended::StatusNotification => Action::StatusNotification,
                },
                _ => return None,
            };
            Some(wanted.as_str())
        }
        OcppVersion::V201 => {
            use ocpp::v201::{Action, MessageTriggerEnum as M, Request};
            let Request::TriggerMessage(r) = Request::decode(Action::from_name(action)?, payload).ok()? else {
                return None;
            };
            let wanted = match r.requested_message {
                M::BootNotification => Action::BootNotification,
                M::LogStatusNotification => Action::LogStatusNotification,
                M::FirmwareStatusNotification => Action::FirmwareStatusNotification,
                M::Heartbeat => Action::Heartbeat,
                M::MeterValues => Action::MeterValues,
                M::SignChargingStationCertificate | M::SignV2GCertificate | M::SignCombinedCertificate => {
                    Action::SignCertificate
                }
                M::StatusNotification => Action::StatusNotification,
                M::TransactionEvent => Action::TransactionEvent,
                M::PublishFirmwareStatusNotification => Action::PublishFirmwareStatusNotification,
            };
            Some(wanted.as_str())
        }
    }
}

#[cfg(test)]
mod tests;
