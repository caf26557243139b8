//! The station side of Ström, usable against any OCPP CSMS: the load generator behind
//! `strom bench` and the fleet simulator behind `strom sim`. It depends on the `ocpp` crate
//! only, never on Ström's server crates.

pub mod bench;
mod error;
pub mod responder;
pub mod sim;

pub use error::Error;
