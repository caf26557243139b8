//! The station side of Ström, usable against any OCPP CSMS: for now the load generator behind
//! `strom bench`. It depends on the `ocpp` crate only, never on Ström's server crates.

pub mod bench;
