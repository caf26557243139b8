//! Why a simulated station or a benchmark run stopped: the crate's one error type, with the
//! station and the action it concerns, so that a report line says where to look.

use tokio_tungstenite::tungstenite;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL and identity make no WebSocket request.
    #[error("{identity}: not a WebSocket URL: {source}")]
    Url { identity: String, source: Box<tungstenite::Error> },
    #[error("{identity}: cannot connect: {source}")]
    Connect { identity: String, source: Box<tungstenite::Error> },
    #[error("{identity}: {source}")]
    WebSocket { identity: String, source: Box<tungstenite::Error> },
    #[error("{identity}: connection closed")]
    Closed { identity: String },
    /// The CSMS sent a frame that is not OCPP-J.
    #[error("{identity}: a frame that is not OCPP-J: {source}")]
    Frame { identity: String, source: ocpp::FrameError },
    #[error("{identity}: {action}: no answer")]
    NoAnswer { identity: String, action: &'static str },
    #[error("{identity}: {action}: CALLERROR {code} {description}")]
    CallError { identity: String, action: &'static str, code: String, description: String },
    /// The CALLRESULT is no valid answer to the call, by its action's schema.
    #[error("{identity}: {action}: the answer breaks the schema: {source}")]
    Answer { identity: String, action: &'static str, source: ocpp::DecodeError },
    #[error("{action}: cannot be encoded: {source}")]
    Encode { action: &'static str, source: serde_json::Error },
    /// The CSMS kept the station Pending or Rejected.
    #[error("{identity}: not accepted after {boots} boots")]
    NotAccepted { identity: String, boots: usize },
    #[error("no station could connect: {0}")]
    NoConnection(String),
}
