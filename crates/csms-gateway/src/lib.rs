//! Ström's station side: accepts station WebSocket connections at `/ocpp/{stationId}`, picks the
//! OCPP version by subprotocol, keeps one live session per station, and translates between
//! OCPP frames and the domain (the `v16` and `v201` adapters) with every effect committed before
//! the answer. A session's protocol state is a plain state machine (`machine`), driven by the
//! connection loop (`session`).

mod context;
mod errors;
mod machine;
mod session;
mod terms;
mod v16;
mod v201;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use csms_commands::{Commands, Registry, StationMetrics};
use csms_core::port::Port;
use csms_core::station::{RegistrationPolicy, StationId};
use csms_core::Clock;
use ocpp::OcppVersion;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The gateway's settings; `strom` fills them from flags, environment and the config file.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub registration_policy: RegistrationPolicy,
    /// Told to Accepted stations in BootNotification.conf.
    pub heartbeat_interval: Duration,
    /// Told to Pending and Rejected stations: when to boot again.
    pub boot_retry_interval: Duration,
    /// Largest WebSocket message accepted; larger ones close the connection (1009).
    pub max_message_bytes: usize,
    /// Per-connection read buffer. tungstenite's 128 KiB default costs memory per idle station.
    pub read_buffer_bytes: usize,
    /// How long a CSMS-to-station CALL waits for its answer.
    pub call_timeout: Duration,
    /// How often Ström pings an idle station; a station silent for two intervals is dropped.
    pub ping_interval: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            registration_policy: RegistrationPolicy::Accept,
            heartbeat_interval: Duration::from_secs(300),
            boot_retry_interval: Duration::from_secs(60),
            max_message_bytes: 64 * 1024,
            read_buffer_bytes: 1024,
            call_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(60),
        }
    }
}

/// Everything a session needs, shared by all of them.
pub struct Gateway {
    pub config: GatewayConfig,
    /// The store, through its port: operations and the message log.
    pub store: Arc<dyn Port>,
    /// The live sessions, shared with the operator commands that are sent through them.
    pub registry: Arc<Registry>,
    pub clock: Arc<dyn Clock>,
    pub shutdown: CancellationToken,
    pub metrics: Arc<StationMetrics>,
}

impl Gateway {
    /// A gateway whose sessions register with `commands`' registry and count into its metrics.
    pub fn new(
        config: GatewayConfig,
        store: Arc<dyn Port>,
        commands: &Commands,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Arc<Gateway> {
        let (registry, metrics) = (commands.registry().clone(), commands.metrics().clone());
        Arc::new(Gateway { config, store, registry, clock, shutdown, metrics })
    }

    /// The routes stations connect to.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().route("/ocpp/{station_id}", get(upgrade)).with_state(self.clone())
    }

    /// Closes every session and waits until each has stored what it was doing.
    pub async fn drain(&self) {
        self.shutdown.cancel();
        self.registry.wait_empty().await;
    }
}

/// The OCPP versions sessions are served for, each with its adapter.
const SERVED_VERSIONS: &[OcppVersion] = &[OcppVersion::V16, OcppVersion::V201];

/// The subprotocol to answer with: the first one the station offers that Ström serves.
fn choose_version(headers: &HeaderMap) -> Option<OcppVersion> {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(OcppVersion::from_subprotocol)
        .find(|v| SERVED_VERSIONS.contains(v))
}

async fn upgrade(
    State(gateway): State<Arc<Gateway>>,
    Path(station_id): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(station) = StationId::parse(&station_id) else {
        return (StatusCode::BAD_REQUEST, "station identity must be 1-48 characters of A-Z a-z 0-9 * - _ = + | @ .")
            .into_response();
    };
    // A station that offers no subprotocol Ström speaks is refused at the handshake
    // (CONFORMANCE RPC-03, OCTT TC_B_58): upgrading without one would leave the version unknown.
    let Some(version) = choose_version(&headers) else {
        return (StatusCode::BAD_REQUEST, "Sec-WebSocket-Protocol must offer ocpp1.6 or ocpp2.0.1").into_response();
    };
    if gateway.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let config = &gateway.config;
    ws.protocols([version.subprotocol()])
        .read_buffer_size(config.read_buffer_bytes)
        .write_buffer_size(0)
        .max_message_size(config.max_message_bytes)
        .max_frame_size(config.max_message_bytes)
        .on_upgrade(move |socket| session::run(gateway, station, version, socket))
}
