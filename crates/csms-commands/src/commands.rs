//! Operator commands: a CSMS-to-station CALL whose payload is validated against its action's
//! schema before it is sent, whose answer is decoded by the action it answers (never by its
//! shape), and whose outcome (answer, CALLERROR, timeout, offline) is kept in the command log.

use crate::local_list::ListUpdate;
use crate::passwords::{self, NewPassword, Origin};
use crate::registry::{CallError, CallReply};
use crate::Commands;
use csms_core::notifications::CommandStatus;
use csms_core::ops::{Change, Changes, CommandFinished, CommandStarted};
use csms_core::port::PortError;
use csms_core::security::SecurityProfile;
use csms_core::station::{ProtocolVersion, RegistrationStatus, StationId};
use csms_store::StoreError;
use ocpp::{Initiator, OcppVersion};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("no station {0:?}")]
    UnknownStation(String),
    #[error("{action:?} is not an OCPP {version} action")]
    UnknownAction { action: String, version: &'static str },
    #[error("{0} is sent by stations, not by the CSMS")]
    NotCsmsAction(&'static str),
    #[error("invalid {action} request: {message}")]
    InvalidPayload { action: &'static str, message: String },
    #[error("station {0:?} has never connected, so its OCPP version is unknown")]
    VersionUnknown(String),
    #[error("station is not connected")]
    Offline { command_id: i64 },
    #[error("station did not answer within {timeout:?}")]
    Timeout { command_id: i64, timeout: Duration },
    #[error("connection closed before the station answered")]
    Disconnected { command_id: i64 },
    #[error("storage failed: {0}")]
    Storage(#[from] PortError),
    #[error("station {0:?} is not connected; a new password can only be given to a connected station")]
    NotConnected(String),
    #[error("the new password could not be prepared: {0}")]
    Password(String),
    #[error(
        "station {0:?} is Rejected: Ström sends it no commands (accept it first: PUT registration_status Accepted)"
    )]
    Rejected(String),
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> CommandError {
        CommandError::Storage(e.into())
    }
}

/// What the station answered.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandReply {
    /// A CALLRESULT that is valid for the action: its payload as JSON text.
    Result(String),
    /// A CALLERROR.
    CallError { code: String, description: String },
    /// A CALLRESULT that breaks the action's response schema.
    InvalidResult { payload: String, message: String },
    /// An answer under the command's message id that is not a well-formed CALLRESULT or
    /// CALLERROR (e.g. `[4,"id",null,"",{}]`): the frame as received and what is wrong with it.
    MalformedAnswer { frame: String, message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    pub command_id: i64,
    pub reply: CommandReply,
}

/// An action of either version, resolved for a station.
#[derive(Clone, Copy)]
pub(crate) enum VersionedAction {
    V16(ocpp::v16::Action),
    V201(ocpp::v201::Action),
}

impl VersionedAction {
    pub(crate) fn resolve(version: OcppVersion, name: &str) -> Result<VersionedAction, CommandError> {
        let unknown = || CommandError::UnknownAction { action: name.to_string(), version: version.subprotocol() };
        let (action, initiator, as_str) = match version {
            OcppVersion::V16 => {
                let a = ocpp::v16::Action::from_name(name).ok_or_else(unknown)?;
                (VersionedAction::V16(a), a.initiator(), a.as_str())
            }
            OcppVersion::V201 => {
                let a = ocpp::v201::Action::from_name(name).ok_or_else(unknown)?;
                (VersionedAction::V201(a), a.initiator(), a.as_str())
            }
        };
        if initiator == Initiator::Station {
            return Err(CommandError::NotCsmsAction(as_str));
        }
        Ok(action)
    }

    fn name(self) -> &'static str {
        match self {
            VersionedAction::V16(a) => a.as_str(),
            VersionedAction::V201(a) => a.as_str(),
        }
    }

    /// Strictly decodes the operator's payload and re-encodes it in canonical form.
    fn request(self, payload: &str) -> Result<String, CommandError> {
        let invalid = |message: String| CommandError::InvalidPayload { action: self.name(), message };
        // A SendLocalList must also be one whose acceptance Ström can record as it is
        // (`ListUpdate`): otherwise its copy of the station's list would say something else.
        let encoded = match self {
            VersionedAction::V16(a) => {
                let request = ocpp::v16::Request::decode(a, payload).map_err(|e| invalid(e.message))?;
                if let ocpp::v16::Request::SendLocalList(list) = &request {
                    ListUpdate::from_16(list).map_err(invalid)?;
                }
                request.to_json()
            }
            VersionedAction::V201(a) => {
                let request = ocpp::v201::Request::decode(a, payload).map_err(|e| invalid(e.message))?;
                if let ocpp::v201::Request::SendLocalList(list) = &request {
                    ListUpdate::from_201(list).map_err(invalid)?;
                }
                request.to_json()
            }
        };
        encoded.map_err(|e| invalid(e.to_string()))
    }

    /// What the answered command changes in the store: its effects, with any secret the station
    /// reported or accepted masked (`ocpp::secrets`), and, when the station took a new password
    /// the request carried, that password's hash.
    fn effects(
        self,
        station: &StationId,
        request: &str,
        response: &str,
        password: Option<&NewPassword>,
        now: csms_core::Timestamp,
    ) -> Vec<Change> {
        let effects = match self {
            VersionedAction::V16(a) => crate::effects::v16(station, a, request, response, now),
            VersionedAction::V201(a) => crate::effects::v201(station, a, request, response, now),
        };
        let certificates = match self {
            VersionedAction::V16(a) => crate::certificates::effects_16(station, a, request, response, now),
            VersionedAction::V201(a) => crate::certificates::effects_201(station, a, request, response, now),
        };
        let effects = effects.and_then(|mut effects| {
            effects.extend(certificates?);
            Ok(effects)
        });
        // Both texts were validated already (the request before sending, the answer on receipt).
        let mut changes = effects.unwrap_or_else(|e| {
            tracing::error!(station = %station, error = %e, "the effect of a validated command could not be worked out");
            Vec::new()
        });
        crate::effects::mask_secrets(&mut changes);
        if let Some(password) = password {
            if passwords::answer(self, response).is_some_and(|(taken, _)| taken) {
                changes.push(passwords::accepted(station, password, now));
            }
        }
        changes
    }

    /// Checks the station's answer against the response schema of the action it answers.
    fn check_response(self, payload: &str) -> Result<(), String> {
        match self {
            VersionedAction::V16(a) => ocpp::v16::Response::decode(a, payload).map(drop).map_err(|e| e.message),
            VersionedAction::V201(a) => ocpp::v201::Response::decode(a, payload).map(drop).map_err(|e| e.message),
        }
    }
}

impl Commands {
    /// The OCPP version a station speaks: its live session's, else the one it last booted with.
    pub(crate) async fn station_version(&self, station: &str) -> Result<OcppVersion, CommandError> {
        if let Some(info) = self.registry.session(station) {
            return Ok(info.version);
        }
        let record =
            self.store.station(station).await?.ok_or_else(|| CommandError::UnknownStation(station.to_string()))?;
        match record.ocpp_version.as_deref().and_then(ProtocolVersion::parse) {
            Some(ProtocolVersion::V16) => Ok(OcppVersion::V16),
            Some(ProtocolVersion::V201) => Ok(OcppVersion::V201),
            None => Err(CommandError::VersionUnknown(station.to_string())),
        }
    }

    /// Sends `action` with `payload` (the OCPP request as JSON text) to a station and waits for
    /// its answer, at most the configured call timeout. What a valid answer changes is recorded
    /// (`effects`).
    pub async fn command(&self, station: &str, action: &str, payload: &str) -> Result<CommandOutcome, CommandError> {
        self.send_command(station, action, payload, true, None).await
    }

    /// `command`, for a command Ström sends to change the station's password: the station is
    /// held to at least `at_least` once it takes it, and the change is recorded as `origin`'s.
    pub(crate) async fn send_command_as(
        &self,
        station: &str,
        action: &str,
        payload: &str,
        password: Option<(SecurityProfile, Origin)>,
    ) -> Result<CommandOutcome, CommandError> {
        self.send_command(station, action, payload, true, password).await
    }

    /// `command`, for a caller that records what the answer changes itself.
    pub(crate) async fn command_recorded_by_caller(
        &self,
        station: &str,
        action: &str,
        payload: &str,
    ) -> Result<CommandOutcome, CommandError> {
        self.send_command(station, action, payload, false, None).await
    }

    async fn send_command(
        &self,
        station: &str,
        action: &str,
        payload: &str,
        record_effects: bool,
        password_as: Option<(SecurityProfile, Origin)>,
    ) -> Result<CommandOutcome, CommandError> {
        let Some(station_id) = StationId::parse(station) else {
            return Err(CommandError::UnknownStation(station.to_string()));
        };
        let session = self.registry.session(station);
        let version = self.station_version(station).await?;
        let registration = match self.store.station(station).await? {
            Some(record) => Some(RegistrationStatus::parse(&record.registration_status).ok_or_else(|| {
                CommandError::Storage(PortError::Storage(format!(
                    "registration status {:?}",
                    record.registration_status
                )))
            })?),
            None => None,
        };
        if !csms_core::station::may_command(registration) {
            return Err(CommandError::Rejected(station.to_string()));
        }
        let action = VersionedAction::resolve(version, action)?;
        let request = action.request(payload)?;
        // A request that sets the station's password: checked like any password Ström keeps and
        // hashed before it leaves, so that an accepted answer is recorded at once.
        let invalid = |message: String| CommandError::InvalidPayload { action: action.name(), message };
        let password = match passwords::password_set_by(action, &request).map_err(invalid)? {
            None => None,
            Some(password) => {
                csms_core::security::check_password(&password).map_err(|m| {
                    invalid(format!("the station's new password: {}", m.replace("basic_auth_password ", "")))
                })?;
                let (at_least, origin) = password_as.unwrap_or((SecurityProfile::Unsecured, Origin::Command));
                Some(NewPassword { hash: passwords::hash(password).await?, at_least, origin })
            }
        };
        // Accepted at the station's handshake until the outcome is recorded (dropped on return).
        let _in_flight = password.as_ref().map(|p| self.password_in_flight(&station_id, &p.hash));
        let started = CommandStarted {
            station: station_id.clone(),
            action: action.name().to_string(),
            // The command log never holds a secret (`ocpp::secrets`).
            request: ocpp::secrets::mask(&request).into_owned(),
            at: self.clock.now(),
        };
        let command_id = self.store.execute(started, Vec::new()).await?;
        let timeout = self.call_timeout;
        let sent_at = std::time::Instant::now();
        let result = if session.is_some() {
            self.registry.call(station, action.name(), request.clone(), timeout).await
        } else {
            Err(CallError::Offline)
        };
        // What the station answered is masked before it is logged or handed to the caller.
        let result = result.map(|reply| match reply {
            CallReply::Result(payload) => CallReply::Result(ocpp::secrets::mask(&payload).into_owned()),
            CallReply::Malformed { frame, message } => {
                CallReply::Malformed { frame: ocpp::secrets::mask(&frame).into_owned(), message }
            }
            error => error,
        });
        let (status, reply, error) = match result {
            Ok(CallReply::Result(payload)) => match action.check_response(&payload) {
                Ok(()) => (CommandStatus::Answered, Ok(CommandReply::Result(payload)), None),
                Err(message) => {
                    let reply = CommandReply::InvalidResult { payload, message: message.clone() };
                    (CommandStatus::InvalidResponse, Ok(reply), Some((None, message)))
                }
            },
            Ok(CallReply::Error { code, description }) => {
                let error = Some((Some(code.clone()), description.clone()));
                (CommandStatus::CallError, Ok(CommandReply::CallError { code, description }), error)
            }
            Ok(CallReply::Malformed { frame, message }) => {
                let error = Some((None, format!("malformed answer: {message}")));
                (CommandStatus::InvalidResponse, Ok(CommandReply::MalformedAnswer { frame, message }), error)
            }
            Err(CallError::Offline) => (CommandStatus::Offline, Err(CommandError::Offline { command_id }), None),
            Err(CallError::Timeout(timeout)) => {
                (CommandStatus::Timeout, Err(CommandError::Timeout { command_id, timeout }), None)
            }
            Err(CallError::Disconnected) => {
                (CommandStatus::Disconnected, Err(CommandError::Disconnected { command_id }), None)
            }
        };
        let response = match &reply {
            Ok(CommandReply::Result(p))
            | Ok(CommandReply::InvalidResult { payload: p, .. })
            | Ok(CommandReply::MalformedAnswer { frame: p, .. }) => Some(p.clone()),
            _ => None,
        };
        let (error_code, error_description) = error.map_or((None, None), |(c, d)| (c, Some(d)));
        if let (Ok(CommandReply::Result(answer)), true) = (&reply, record_effects) {
            let changes = action.effects(&station_id, &request, answer, password.as_ref(), self.clock.now());
            if !changes.is_empty() {
                self.store.execute(Changes(changes), Vec::new()).await?;
            }
        }
        if let Some(password) = &password {
            let outcome = match &reply {
                Ok(CommandReply::Result(answer)) => passwords::answer(action, answer).map(|(_, word)| word),
                _ => None,
            };
            let outcome = outcome.unwrap_or_else(|| status.as_str().to_string());
            let event = passwords::event(&station_id, password.origin, &outcome, self.clock.now());
            self.store.execute(event, Vec::new()).await?;
        }
        let finished =
            CommandFinished { command_id, status, response, error_code, error_description, at: self.clock.now() };
        self.store.execute(finished, Vec::new()).await?;
        tracing::info!(station, action = action.name(), command_id, status = status.as_str(), "command");
        self.metrics.commands.inc(&[("action", action.name()), ("status", status.as_str())]);
        let result = if status == CommandStatus::Answered { "ok" } else { "error" };
        self.metrics.messages.inc(&[("direction", "out"), ("action", action.name()), ("result", result)]);
        if status != CommandStatus::Offline {
            self.metrics.command_seconds.observe_duration(sent_at.elapsed());
        }
        reply.map(|reply| CommandOutcome { command_id, reply })
    }
}
