//! Ström's domain, in OCPP 2.0.1 vocabulary and free of wire formats, storage and networking:
//! stations and their registration, id tokens and the authorization rule, transactions (the
//! energy rule, retried starts, start and stop tokens), meter readings, their normalisation and
//! whether a transaction's readings can be trusted for billing, faults and their lifecycle,
//! reservations, and which availability setting governs a connector; and the port to the store:
//! the operations it carries out, with their typed results (`ops`, `port`).

pub mod access;
pub mod alerts;
pub mod authorization;
pub mod availability;
pub mod availability_report;
pub mod certificates;
pub mod clock;
pub mod energy_report;
pub mod events;
pub mod fault_kinds;
pub mod faults;
pub mod integrity;
pub mod metering;
pub mod notifications;
pub mod ops;
pub mod port;
pub mod reservations;
pub mod security;
pub mod sessions;
pub mod station;
pub mod tariffs;
pub mod transactions;
pub mod webhooks;

pub use clock::{Clock, SystemClock, Timestamp};
