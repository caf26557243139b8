//! OCPP 1.6J (with the security extension): 39 actions, typed from the official schemas.

mod messages;
pub use messages::*;
