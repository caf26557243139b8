//! OCPP-J for Ström: frames (CALL, CALLRESULT, CALLERROR), message ids, CALLERROR codes with
//! their per-version spellings, and typed payloads for every OCPP 1.6J and 2.0.1 action,
//! generated from the official schemas. No I/O: the gateway feeds it text and gets text back.

mod common;
mod error;
mod fast;
mod frame;
pub mod secrets;
pub mod v16;
pub mod v201;

pub use common::{DateTime, Initiator, Validate, Violation, ViolationKind};
pub use error::{DecodeError, ErrorCode};
pub use frame::{recover_message_id, split_call, Frame, FrameError, MessageId, OcppVersion};
