//! Ström's operator commands, apart from the station connections that carry them: the registry of
//! live sessions (one per station, one CSMS CALL in flight at a time), commands validated against
//! their action's schema before they are sent and whose answers are decoded by the action they
//! answer (`commands`), what an accepted command changes in Ström's picture of the station
//! (`effects`), the everyday commands in one form for both versions (`friendly`), and local
//! lists (`local_list`), station passwords changed by a command, rotated or given on first use
//! (`passwords`), and certificates: Ström's CA, CertificateSigned, and what the certificate
//! commands' answers change (`certificates`). Writes go through the store's port (`csms_core::port`); reads through
//! the store's read API. The gateway registers sessions here; the API sends commands from here.

mod certificates;
mod commands;
pub mod costs;
mod effects;
mod friendly;
mod local_list;
mod passwords;
mod registry;

pub use commands::{CommandError, CommandOutcome, CommandReply};
pub use effects::location;
pub use friendly::FriendlyCommand;
pub use local_list::{LocalListOutcome, DEFAULT_ITEMS_PER_MESSAGE};
pub use passwords::Rotation;
pub use registry::{CallError, CallReply, LastSeen, OutboundCall, Registry, SessionInfo};

use csms_core::Clock;
use csms_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// What is counted of the traffic with stations, for `/metrics`: the gateway counts the
/// stations' CALLs and Ström's answers, the commands count Ström's own CALLs.
#[derive(Debug)]
pub struct StationMetrics {
    /// Frames by direction (`in`: the station's CALLs, `out`: the CSMS's), action and result.
    pub messages: csms_metrics::CounterVec,
    /// CALLERRORs Ström sent to stations, by code.
    pub call_errors_sent: csms_metrics::CounterVec,
    /// Operator commands by action and outcome.
    pub commands: csms_metrics::CounterVec,
    pub command_seconds: csms_metrics::Histogram,
    /// From a station's CALL arriving to its answer leaving (stored first, where it stores).
    pub answer_seconds: csms_metrics::Histogram,
    /// Station connections refused at the handshake, by reason (`security::Refusal`).
    pub handshakes_refused: csms_metrics::CounterVec,
    /// Station CALLs over a rate limit, by limit (messages, authorize) and what was done
    /// (paced, refused, answered_invalid).
    pub rate_limited: csms_metrics::CounterVec,
}

impl Default for StationMetrics {
    fn default() -> Self {
        StationMetrics {
            messages: Default::default(),
            call_errors_sent: Default::default(),
            commands: Default::default(),
            command_seconds: csms_metrics::Histogram::new(csms_metrics::LATENCY_BUCKETS),
            answer_seconds: csms_metrics::Histogram::new(csms_metrics::ANSWER_BUCKETS),
            handshakes_refused: Default::default(),
            rate_limited: Default::default(),
        }
    }
}

/// Sends operators' commands to stations and records what they did. Cheap to clone: the
/// gateway keeps one to send the certificates Ström signs.
#[derive(Clone)]
pub struct Commands {
    store: Store,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    /// How long a CSMS-to-station CALL waits for its answer.
    call_timeout: Duration,
    metrics: Arc<StationMetrics>,
    /// Ström's CA (`certificates`), if one is configured.
    authority: Option<Arc<csms_pki::Authority>>,
    /// Passwords being given to stations (`passwords::InFlight`), which their handshakes accept;
    /// shared by every clone (the gateway holds one).
    in_flight: Arc<passwords::InFlightPasswords>,
}

impl Commands {
    pub fn new(store: Store, clock: Arc<dyn Clock>, call_timeout: Duration) -> Commands {
        Commands {
            store,
            registry: Arc::new(Registry::default()),
            clock,
            call_timeout,
            metrics: Arc::new(StationMetrics::default()),
            authority: None,
            in_flight: Default::default(),
        }
    }

    /// The live sessions, which the gateway keeps up to date.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn metrics(&self) -> &Arc<StationMetrics> {
        &self.metrics
    }

    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }
}
