//! OCPP 2.0.1: 64 actions, typed from the official schemas.

mod messages;
pub use messages::*;
