//! A station's Basic-auth password, changed by a command (OCPP 1.6 security whitepaper ed. 2
//! §3.1.1 and TC_073: ChangeConfiguration `AuthorizationKey`; 2.0.1 A01, TC_A_09 / TC_A_10:
//! SetVariables `SecurityCtrlr.BasicAuthPassword`). Whichever way the command was asked for
//! (rotation, trust on first use, the generic command API, the configuration endpoint), its
//! password is hashed before it is sent, and the hash replaces the stored one only when the
//! station answers that it took the password; a station that refuses, errs or stays silent
//! keeps its old one. The password itself is masked in every log (`ocpp::secrets`).

use crate::commands::{CommandError, VersionedAction};
use crate::Commands;
use csms_core::ops::{Change, StationEvent};
use csms_core::security::{self, PasswordHash, SecurityProfile};
use csms_core::station::StationId;
use ocpp::OcppVersion;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Who asked for a password change; the detail of its `PasswordChange` station event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A configuration command that happens to set the password.
    Command,
    /// `Commands::rotate_password`.
    Rotation,
    /// `Commands::secure_new_station`.
    TrustOnFirstUse,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Command => "command",
            Origin::Rotation => "rotation",
            Origin::TrustOnFirstUse => "trust on first use",
        }
    }
}

/// A password a command is about to send: its hash, and the profile the station is held to at
/// least once it takes it.
#[derive(Debug, Clone)]
pub(crate) struct NewPassword {
    pub hash: PasswordHash,
    pub at_least: SecurityProfile,
    pub origin: Origin,
}

/// The 2.0.1 component and variable of the station's Basic-auth password (A00.FR.2xx).
const SECURITY_CTRLR: &str = "SecurityCtrlr";
const BASIC_AUTH_PASSWORD: &str = "BasicAuthPassword";

/// Whether a 2.0.1 set-variable entry sets the station's Basic-auth password (its Actual value).
fn sets_password_201(
    component: &ocpp::v201::Component,
    variable: &ocpp::v201::Variable,
    attribute: Option<ocpp::v201::AttributeEnum>,
) -> bool {
    component.name == SECURITY_CTRLR
        && component.instance.is_none()
        && component.evse.is_none()
        && variable.name == BASIC_AUTH_PASSWORD
        && variable.instance.is_none()
        && attribute.is_none_or(|a| a == ocpp::v201::AttributeEnum::Actual)
}

/// The password a validated request sets for the station's connections, if it sets one. Two
/// in one request would leave unclear which the station took: refused.
pub(crate) fn password_set_by(action: VersionedAction, request: &str) -> Result<Option<String>, String> {
    match action {
        VersionedAction::V16(a) => match ocpp::v16::Request::decode(a, request).map_err(|e| e.message)? {
            ocpp::v16::Request::ChangeConfiguration(req) if ocpp::secrets::is_secret_key(&req.key) => {
                Ok(Some(req.value))
            }
            _ => Ok(None),
        },
        VersionedAction::V201(a) => match ocpp::v201::Request::decode(a, request).map_err(|e| e.message)? {
            ocpp::v201::Request::SetVariables(req) => {
                let mut passwords = req
                    .set_variable_data
                    .into_iter()
                    .filter(|d| sets_password_201(&d.component, &d.variable, d.attribute_type))
                    .map(|d| d.attribute_value);
                match (passwords.next(), passwords.next()) {
                    (_, Some(_)) => Err("SecurityCtrlr.BasicAuthPassword may be set only once per request".into()),
                    (password, None) => Ok(password),
                }
            }
            _ => Ok(None),
        },
    }
}

/// What the station answered to a request that sets its password: whether it took it, and its
/// answer's word (1.6 ChangeConfiguration status, 2.0.1 the password's attributeStatus). A 1.6
/// RebootRequired is taken: the station uses the key from its next connection on, which is when
/// a new password matters anyway.
pub(crate) fn answer(action: VersionedAction, response: &str) -> Option<(bool, String)> {
    match action {
        VersionedAction::V16(a) => match ocpp::v16::Response::decode(a, response).ok()? {
            ocpp::v16::Response::ChangeConfiguration(res) => {
                use ocpp::v16::ChangeConfigurationResponseStatus as S;
                Some((matches!(res.status, S::Accepted | S::RebootRequired), res.status.as_str().to_string()))
            }
            _ => None,
        },
        VersionedAction::V201(a) => match ocpp::v201::Response::decode(a, response).ok()? {
            ocpp::v201::Response::SetVariables(res) => {
                use ocpp::v201::SetVariableStatusEnum as S;
                let result = res
                    .set_variable_result
                    .into_iter()
                    .find(|r| sets_password_201(&r.component, &r.variable, r.attribute_type))?;
                let status = result.attribute_status;
                Some((matches!(status, S::Accepted | S::RebootRequired), status.as_str().to_string()))
            }
            _ => None,
        },
    }
}

/// Hashes a password about to be sent (argon2id, a fresh salt from the operating system), off the
/// async threads since it is deliberately slow.
pub(crate) async fn hash(password: String) -> Result<PasswordHash, CommandError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| CommandError::Password(format!("no random salt: {e}")))?;
    let hashed = tokio::task::spawn_blocking(move || security::hash_password(&password, &salt)).await;
    match hashed {
        Ok(Ok(hash)) => Ok(PasswordHash(hash)),
        Ok(Err(e)) => Err(CommandError::Password(e)),
        Err(e) => Err(CommandError::Password(e.to_string())),
    }
}

/// The change that records a password the station took.
pub(crate) fn accepted(station: &StationId, password: &NewPassword, now: csms_core::Timestamp) -> Change {
    Change::PasswordAccepted {
        station: station.clone(),
        password_hash: password.hash.clone(),
        at_least: password.at_least,
        now,
    }
}

/// The station event that records how a password change ended (`outcome`: the station's word,
/// or how the command failed).
pub(crate) fn event(station: &StationId, origin: Origin, outcome: &str, now: csms_core::Timestamp) -> StationEvent {
    StationEvent {
        station: station.clone(),
        kind: csms_core::notifications::StationEventKind::PasswordChange,
        status: Some(outcome.to_string()),
        request_id: None,
        evse_id: None,
        detail: Some(origin.as_str().to_string()),
        at: now,
    }
}

/// The hashes of passwords being given to stations, by station: from just before the command is
/// sent until its outcome is recorded. A station that takes its new password may reconnect
/// with it before that (`security::admit_with`).
#[derive(Default)]
pub(crate) struct InFlightPasswords {
    by_station: Mutex<HashMap<StationId, Vec<(u64, String)>>>,
    next: AtomicU64,
}

impl InFlightPasswords {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StationId, Vec<(u64, String)>>> {
        self.by_station.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A password in flight; it is forgotten when this is dropped, whichever way the command ends.
pub(crate) struct InFlight<'a> {
    passwords: &'a InFlightPasswords,
    station: StationId,
    id: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut by_station = self.passwords.lock();
        if let Some(hashes) = by_station.get_mut(&self.station) {
            hashes.retain(|(id, _)| *id != self.id);
            if hashes.is_empty() {
                by_station.remove(&self.station);
            }
        }
    }
}

/// How a rotation ended.
#[derive(Clone, PartialEq, Eq)]
pub struct Rotation {
    pub command_id: i64,
    /// The station's answer (`Accepted`, `Rejected`, `RebootRequired`, `NotSupported`, …).
    pub status: String,
    /// Whether the station took the new password, which from now on is the only one accepted.
    pub changed: bool,
    /// The new password, when the station took it: the one time it is shown.
    pub password: Option<String>,
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("command_id", &self.command_id)
            .field("status", &self.status)
            .field("changed", &self.changed)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Commands {
    /// The hashes of the passwords being given to `station` right now, which its handshake
    /// accepts beside the stored one.
    pub fn passwords_in_flight(&self, station: &StationId) -> Vec<String> {
        let by_station = self.in_flight.lock();
        by_station.get(station).map(|hashes| hashes.iter().map(|(_, hash)| hash.clone()).collect()).unwrap_or_default()
    }

    /// Notes a password as being given to `station` until the returned guard is dropped.
    pub(crate) fn password_in_flight(&self, station: &StationId, hash: &PasswordHash) -> InFlight<'_> {
        let id = self.in_flight.next.fetch_add(1, Ordering::Relaxed);
        self.in_flight.lock().entry(station.clone()).or_default().push((id, hash.0.clone()));
        InFlight { passwords: &self.in_flight, station: station.clone(), id }
    }

    /// Gives a connected station a new Basic-auth password: `password`, or one Ström makes from
    /// the operating system's random source. 1.6: ChangeConfiguration AuthorizationKey with the
    /// password hex-encoded (security whitepaper ed. 2 §3.1.1; the handshake accepts the key raw
    /// or hex, `security::admit`), so a 1.6 password is 16–20 characters; 2.0.1:
    /// SetVariables SecurityCtrlr.BasicAuthPassword as it is. The stored hash changes only if
    /// the station takes it. A station that is not connected is not sent anything.
    pub async fn rotate_password(&self, station: &str, password: Option<String>) -> Result<Rotation, CommandError> {
        self.send_password(station, password, SecurityProfile::Unsecured, Origin::Rotation).await
    }

    /// Trust on first use: gives a station Ström has just accepted for the first time a password
    /// of its own and holds it to profile 1 once it takes it. A station that refuses keeps
    /// profile 0; that is recorded (`PasswordChange` event) and logged as a warning.
    pub async fn secure_new_station(&self, station: &StationId) {
        let outcome =
            self.send_password(station.as_str(), None, SecurityProfile::BasicAuth, Origin::TrustOnFirstUse).await;
        match outcome {
            Ok(rotation) if rotation.changed => {
                tracing::info!(station = %station, "new station given a password of its own (trust on first use)")
            }
            Ok(rotation) => tracing::warn!(
                station = %station,
                answer = rotation.status,
                "new station refused a password of its own; it stays without credentials (security profile 0)"
            ),
            Err(e) => tracing::warn!(
                station = %station,
                error = %e,
                "new station not given a password of its own; it stays without credentials (security profile 0)"
            ),
        }
    }

    async fn send_password(
        &self,
        station: &str,
        password: Option<String>,
        at_least: SecurityProfile,
        origin: Origin,
    ) -> Result<Rotation, CommandError> {
        let Some(session) = self.registry.session(station) else {
            return Err(CommandError::NotConnected(station.to_string()));
        };
        let v16 = session.version == OcppVersion::V16;
        let invalid = |message: String| CommandError::InvalidPayload {
            action: if v16 { "ChangeConfiguration" } else { "SetVariables" },
            message,
        };
        let password = match password {
            Some(given) => {
                security::check_password(&given).map_err(|m| invalid(m.replace("basic_auth_password", "password")))?;
                if v16 && given.len() > security::MAX_V16_PASSWORD {
                    return Err(invalid(format!(
                        "a 1.6 station's AuthorizationKey is 16 to {} characters",
                        security::MAX_V16_PASSWORD
                    )));
                }
                given
            }
            None => {
                let mut random = [0u8; 256];
                getrandom::getrandom(&mut random).map_err(|e| CommandError::Password(format!("no randomness: {e}")))?;
                security::generate_password(&random, security::generated_password_len(v16))
                    .ok_or_else(|| CommandError::Password("not enough randomness for a password".into()))?
            }
        };
        let (action, payload) = if v16 {
            ("ChangeConfiguration", json!({"key": "AuthorizationKey", "value": hex::encode(&password)}))
        } else {
            let entry = json!({"component": {"name": SECURITY_CTRLR}, "variable": {"name": BASIC_AUTH_PASSWORD},
                               "attributeValue": password});
            ("SetVariables", json!({"setVariableData": [entry]}))
        };
        let sent = self.send_command_as(station, action, &payload.to_string(), Some((at_least, origin))).await?;
        let (changed, status) = match &sent.reply {
            crate::CommandReply::Result(payload) => {
                let action = VersionedAction::resolve(session.version, action)?;
                answer(action, payload).unwrap_or((false, "InvalidResponse".into()))
            }
            crate::CommandReply::CallError { code, .. } => (false, format!("CallError {code}")),
            crate::CommandReply::InvalidResult { .. } | crate::CommandReply::MalformedAnswer { .. } => {
                (false, "InvalidResponse".into())
            }
        };
        Ok(Rotation { command_id: sent.command_id, status, changed, password: changed.then_some(password) })
    }
}
