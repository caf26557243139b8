//! Why an inbound CALL failed, and the one mapping from that to the CALLERROR it is answered
//! with (DESIGN §2: every inbound CALL gets exactly one CALLRESULT or CALLERROR).

use ocpp::{DecodeError, ErrorCode, FrameError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum CallFailure {
    #[error("{0}")]
    Frame(FrameError),
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    #[error("{0} is sent by the CSMS, not by a station")]
    NotStationAction(&'static str),
    #[error("the station is {0}: only BootNotification is allowed until it is Accepted")]
    NotAccepted(&'static str),
    #[error("{0}")]
    Decode(DecodeError),
    #[error("storage failed; the message was not processed")]
    Storage(#[from] csms_core::port::PortError),
    #[error("could not encode the answer")]
    Encode(#[from] serde_json::Error),
    #[error("too many messages: this station may send {per_second} per second ({burst} at once); try again later")]
    RateLimited { per_second: u32, burst: u32 },
}

impl CallFailure {
    /// The CALLERROR code for this failure (CHECKLIST §1.2). The description sent to the
    /// station is the `Display` text; storage details stay in the server log.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            CallFailure::Frame(e) => e.code,
            CallFailure::UnknownAction(_) => ErrorCode::NotImplemented,
            CallFailure::NotStationAction(_) => ErrorCode::NotSupported,
            CallFailure::NotAccepted(_) => ErrorCode::SecurityError,
            CallFailure::Decode(e) => e.code,
            CallFailure::Storage(_) | CallFailure::Encode(_) => ErrorCode::InternalError,
            // OCPP-J has no code of its own for it (1.6 §4.2.3, 2.0.1 RPC framework §4.3).
            CallFailure::RateLimited { .. } => ErrorCode::GenericError,
        }
    }
}
