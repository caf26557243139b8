//! The station's traffic in its version's types: a CALL it sends is an `ocpp` request (so it is
//! schema-valid by construction), the CSMS's CALLRESULT is decoded by the pending call's action,
//! and the words both versions share (registration, connector state, why a session stopped) are
//! enums the station loop uses without caring which version it speaks.

use crate::Error;
use ocpp::{v16, v201, OcppVersion};

/// A CALL the station sends. Its size does not matter: a station has one in flight and a few
/// in its offline queue, so the 2.0.1 variant stays unboxed as `ocpp`'s own enums do.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(super) enum Outgoing {
    V16(v16::Request),
    V201(v201::Request),
}

/// A CALLRESULT, decoded as the answer to the call it answers (one at a time, so unboxed).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Answer {
    V16(v16::Response),
    V201(v201::Response),
}

impl From<v16::Request> for Outgoing {
    fn from(request: v16::Request) -> Outgoing {
        Outgoing::V16(request)
    }
}

impl From<v201::Request> for Outgoing {
    fn from(request: v201::Request) -> Outgoing {
        Outgoing::V201(request)
    }
}

impl Outgoing {
    pub(super) fn action(&self) -> &'static str {
        match self {
            Outgoing::V16(r) => r.action().as_str(),
            Outgoing::V201(r) => r.action().as_str(),
        }
    }

    pub(super) fn to_json(&self) -> Result<String, Error> {
        match self {
            Outgoing::V16(r) => r.to_json(),
            Outgoing::V201(r) => r.to_json(),
        }
        .map_err(|source| Error::Encode { action: self.action(), source })
    }

    /// Decodes the CALLRESULT payload that answers this request.
    pub(super) fn decode_answer(&self, payload: &str) -> Result<Answer, ocpp::DecodeError> {
        Ok(match self {
            Outgoing::V16(r) => Answer::V16(v16::Response::decode(r.action(), payload)?),
            Outgoing::V201(r) => Answer::V201(v201::Response::decode(r.action(), payload)?),
        })
    }

    /// Marks a 2.0.1 TransactionEvent as held while offline (2.0.1 E.FR.xx: `offline` true);
    /// 1.6 messages carry no such flag.
    pub(super) fn mark_offline(&mut self) {
        if let Outgoing::V201(v201::Request::TransactionEvent(event)) = self {
            event.offline = Some(true);
        }
    }
}

/// The CSMS's answer to a BootNotification (OCPP 1.6 §4.2, 2.0.1 B01–B03).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Registration {
    Accepted,
    Pending,
    Rejected,
}

impl Answer {
    /// The registration and interval a BootNotification's answer gives; None for any other.
    pub(super) fn registration(&self) -> Option<(Registration, i64)> {
        match self {
            Answer::V16(v16::Response::BootNotification(boot)) => Some((
                match boot.status {
                    v16::BootNotificationResponseStatus::Accepted => Registration::Accepted,
                    v16::BootNotificationResponseStatus::Pending => Registration::Pending,
                    v16::BootNotificationResponseStatus::Rejected => Registration::Rejected,
                },
                boot.interval,
            )),
            Answer::V201(v201::Response::BootNotification(boot)) => Some((
                match boot.status {
                    v201::RegistrationStatusEnum::Accepted => Registration::Accepted,
                    v201::RegistrationStatusEnum::Pending => Registration::Pending,
                    v201::RegistrationStatusEnum::Rejected => Registration::Rejected,
                },
                boot.interval,
            )),
            _ => None,
        }
    }

    /// The id token's status as the CSMS answered it to an Authorize, a 1.6 StartTransaction
    /// or a 2.0.1 TransactionEvent (`Accepted`, `Invalid`, `ConcurrentTx`, …); None when the
    /// answer says nothing about the token.
    pub(super) fn token_status(&self) -> Option<&'static str> {
        match self {
            Answer::V16(v16::Response::Authorize(a)) => Some(a.id_tag_info.status.as_str()),
            Answer::V16(v16::Response::StartTransaction(s)) => Some(s.id_tag_info.status.as_str()),
            Answer::V201(v201::Response::Authorize(a)) => Some(a.id_token_info.status.as_str()),
            Answer::V201(v201::Response::TransactionEvent(e)) => e.id_token_info.as_ref().map(|i| i.status.as_str()),
            _ => None,
        }
    }

    /// The transaction id a 1.6 StartTransaction's answer gives; None for any other.
    pub(super) fn transaction_id(&self) -> Option<i64> {
        match self {
            Answer::V16(v16::Response::StartTransaction(start)) => Some(start.transaction_id),
            _ => None,
        }
    }
}

/// The connector's state as the station reports it: 1.6 has a status per step of a session,
/// 2.0.1 only whether the connector is occupied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Connector {
    Available,
    Preparing,
    Charging,
    Finishing,
    Reserved,
    Unavailable,
    /// A fault with its 1.6 error code.
    Faulted(v16::StatusNotificationErrorCode),
}

/// A step of a firmware update or an upload, as its status notification reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    Idle,
    Downloading,
    Downloaded,
    DownloadFailed,
    Installing,
    Installed,
    Uploading,
    Uploaded,
    UploadFailed,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The EV left.
    EvDisconnected,
    /// The CSMS asked for it.
    Remote,
    /// The power failed and the station rebooted.
    PowerLoss,
    /// The CSMS refused the id token when the transaction started (1.6 StartTransaction's
    /// idTagInfo, 2.0.1 TransactionEvent's idTokenInfo): the station stops at once, as real
    /// ones do with StopTransactionOnInvalidId (2.0.1 StopTxOnInvalidId) true.
    DeAuthorized,
}

/// A frame from the CSMS, owned so that the station can answer while it waits.
#[derive(Debug)]
pub(super) enum Incoming {
    Call { id: String, action: String, payload: String },
    Result { id: String, payload: String },
    Error { id: String, code: String, description: String },
}

impl Incoming {
    pub(super) fn parse(text: &str) -> Result<Incoming, ocpp::FrameError> {
        Ok(match ocpp::Frame::parse(text)? {
            ocpp::Frame::Call { id, action, payload } => {
                Incoming::Call { id: id.into_owned(), action: action.into_owned(), payload: payload.get().to_string() }
            }
            ocpp::Frame::CallResult { id, payload } => {
                Incoming::Result { id: id.into_owned(), payload: payload.get().to_string() }
            }
            ocpp::Frame::CallError { id, code, description, .. } => {
                Incoming::Error { id: id.into_owned(), code: code.into_owned(), description: description.into_owned() }
            }
        })
    }
}

/// The frame answering the CSMS's CALL `id`: the CALLRESULT `answer` built, or a CALLERROR
/// with the code in `version`'s spelling.
pub(super) fn reply(version: OcppVersion, id: &str, answer: Result<String, (ocpp::ErrorCode, String)>) -> String {
    match answer {
        Ok(payload) => ocpp::Frame::encode_call_result(id, &payload),
        Err((code, description)) => ocpp::Frame::encode_call_error(id, code.as_str(version), &description),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_decoded_by_the_pending_calls_action() {
        let boot: Outgoing = super::super::v16::boot().into();
        let answer = boot.decode_answer(r#"{"status":"Pending","interval":30,"currentTime":"2026-12-05T00:00:00Z"}"#);
        assert_eq!(answer.ok().and_then(|a| a.registration()), Some((Registration::Pending, 30)));
        // The same payload is no answer to a Heartbeat, whose answer has only currentTime.
        let heartbeat: Outgoing = v16::Request::Heartbeat(v16::HeartbeatRequest {}).into();
        assert!(heartbeat
            .decode_answer(r#"{"status":"Pending","interval":30,"currentTime":"2026-12-05T00:00:00Z"}"#)
            .is_err());
        let boot201: Outgoing = super::super::v201::boot().into();
        let answer =
            boot201.decode_answer(r#"{"status":"Accepted","interval":300,"currentTime":"2026-12-05T00:00:00Z"}"#);
        assert_eq!(answer.ok().and_then(|a| a.registration()), Some((Registration::Accepted, 300)));
    }

    #[test]
    fn a_start_answer_gives_the_transaction_id_and_a_broken_one_is_refused() {
        let start: Outgoing =
            super::super::v16::start(1, "T", 10, ocpp::DateTime(std::time::UNIX_EPOCH.into()), None).into();
        let answer = start.decode_answer(r#"{"transactionId":7,"idTagInfo":{"status":"Accepted"}}"#);
        assert_eq!(answer.ok().and_then(|a| a.transaction_id()), Some(7));
        let missing = start.decode_answer(r#"{"idTagInfo":{"status":"Accepted"}}"#);
        assert_eq!(missing.err().map(|e| e.code), Some(ocpp::ErrorCode::OccurenceConstraintViolation));
    }

    #[test]
    fn only_a_2_0_1_transaction_event_is_marked_offline() {
        let at = ocpp::DateTime(std::time::UNIX_EPOCH.into());
        let mut event: Outgoing = super::super::v201::ended("tx-1", 1, at, Stop::Remote, Vec::new()).into();
        event.mark_offline();
        let json = event.to_json().unwrap_or_default();
        assert!(json.contains(r#""offline":true"#), "{json}");
        let mut stop: Outgoing = super::super::v16::stop(7, 10, at, Stop::Remote).into();
        stop.mark_offline();
        assert!(!stop.to_json().unwrap_or_default().contains("offline"));
    }

    #[test]
    fn frames_from_the_csms_are_told_apart() {
        let call = Incoming::parse(r#"[2,"c1","Reset",{"type":"Soft"}]"#);
        assert!(matches!(call, Ok(Incoming::Call { ref action, .. }) if action == "Reset"));
        let error = Incoming::parse(r#"[4,"sim1","InternalError","not now",{}]"#);
        assert!(matches!(error, Ok(Incoming::Error { ref code, .. }) if code == "InternalError"));
        assert!(Incoming::parse("[9]").is_err());
    }
}
