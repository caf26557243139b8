//! Ström's station side: accepts station WebSocket connections at `/ocpp/{stationId}`, picks the
//! OCPP version by subprotocol, keeps one live session per station, and translates between
//! OCPP frames and the domain (the `v16` and `v201` adapters) with every effect committed before
//! the answer. A session's protocol state is a plain state machine (`machine`), driven by the
//! connection loop (`session`).

mod certificates;
mod connectivity;
mod context;
mod errors;
mod limits;
mod machine;
mod session;
mod terms;
mod v16;
mod v201;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use csms_commands::{Commands, Registry, StationMetrics};
use csms_core::notifications::StationEventKind;
use csms_core::ops::{RaiseSecurityProfile, StationEvent};
use csms_core::port::Port;
use csms_core::security::{self, Refusal, SecurityProfile, Transport};
use csms_core::station::{RegistrationPolicy, StationId};
use csms_core::Clock;
use ocpp::OcppVersion;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use limits::RateLimits;

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
    /// Trust on first use: a station Ström accepts for the first time is given a password of its
    /// own right after its boot, and held to it once it takes it (`security::secure_on_first_use`).
    pub secure_new_stations: bool,
    /// The O (organization) a station's client certificate must carry under security profile 3
    /// (2.0.1 A00.FR.417: the CSO's name); `None`: any.
    pub operator_name: Option<String>,
    /// What each station may send per second and how many Authorize requests per minute.
    pub rate_limits: RateLimits,
    /// How long a station's connection may be lost before Ström opens a `communication` fault
    /// of its own for it (cleared when the station is back).
    pub offline_grace: Duration,
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
            secure_new_stations: false,
            operator_name: None,
            rate_limits: RateLimits::default(),
            offline_grace: Duration::from_secs(60),
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
    /// The operator commands (a clone sharing their state): through them the certificates Ström
    /// signs are sent, a new station is given its password on first use, and a password in
    /// flight is known at the handshake.
    pub commands: Commands,
    /// Password verifications under way at once, at most one per CPU: each argon2id check takes
    /// 19 MiB and tens of milliseconds, so a flood of handshakes with credentials waits here
    /// instead of taking the server's memory.
    verifications: tokio::sync::Semaphore,
    /// Stations whose connection Ström recorded as lost (an open `CommunicationLost` fault):
    /// the fault is cleared when one connects again. Only these cost a write as they connect.
    lost: std::sync::Mutex<HashSet<StationId>>,
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
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let verifications = tokio::sync::Semaphore::new(cpus);
        let commands = commands.clone();
        let lost = Default::default();
        Arc::new(Gateway { config, store, registry, clock, shutdown, metrics, commands, verifications, lost })
    }

    /// Stations whose connection the store has as lost (`Store::stations_offline`), as Ström
    /// starts: each one's fault is cleared when it connects.
    pub fn note_lost(&self, stations: impl IntoIterator<Item = StationId>) {
        self.lost_stations().extend(stations);
    }

    fn lost_stations(&self) -> std::sync::MutexGuard<'_, HashSet<StationId>> {
        // A panic elsewhere while it was held leaves the set as it was: still usable.
        self.lost.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts watching connected stations for missed heartbeats (`connectivity::watch`), until
    /// the shutdown.
    pub fn watch_heartbeats(self: &Arc<Self>) {
        tokio::spawn(connectivity::watch(self.clone()));
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
    transport: Option<Extension<Transport>>,
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
    // A plain connection carries no transport; the TLS listener adds what its handshake proved.
    let transport = transport.map(|Extension(t)| t).unwrap_or_default();
    if let Err(refused) = admit(&gateway, &station, &transport, &headers).await {
        return refused;
    }
    let config = &gateway.config;
    ws.protocols([version.subprotocol()])
        .read_buffer_size(config.read_buffer_bytes)
        .write_buffer_size(0)
        .max_message_size(config.max_message_bytes)
        .max_frame_size(config.max_message_bytes)
        .on_upgrade(move |socket| session::run(gateway, station, version, socket))
}

/// Decides whether the connection may speak for `station` (`security::admit`: its transport,
/// client certificate and HTTP Basic credentials against the station's profile; OCPP 1.6
/// security whitepaper §2, 2.0.1 A00.FR.2xx–4xx) before anything else happens, so that a refused
/// connection never becomes a session and never replaces the station's live one. A profile
/// higher than the station's that the connection proves is remembered before the upgrade, so a
/// later connection cannot fall below it. A refusal is answered 401 with a Basic challenge,
/// counted by reason, and, for a station Ström knows, recorded as its security event. Neither
/// the header nor the password is ever logged.
async fn admit(
    gateway: &Arc<Gateway>,
    station: &StationId,
    transport: &Transport,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let stored = match gateway.store.security(station).await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::error!(station = %station, error = %e, "station's security settings unreadable");
            return Err((StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response());
        }
    };
    // A station Ström does not know is held to no profile; registration decides on it.
    let known = stored.is_some();
    let settings = stored.unwrap_or_default();
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let header = match (values.next(), values.next()) {
        (_, Some(_)) if settings.profile.needs_password() => Err(Refusal::Malformed),
        (header, _) => Ok(header.map(|h| h.as_bytes().to_vec())),
    };
    let operator = gateway.config.operator_name.clone();
    let verdict = match header {
        Err(refusal) => Err(refusal),
        // Only a password check is slow; everything else is decided here.
        Ok(Some(header)) if settings.password_hash.is_some() && transport.client_certificate.is_none() => {
            // Verifying an argon2id hash is deliberately slow: off the connection threads, a few
            // at a time. The semaphore is never closed.
            let Ok(_permit) = gateway.verifications.acquire().await else {
                return Err((StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response());
            };
            let (station, transport, settings) = (station.clone(), transport.clone(), settings.clone());
            // A password being given to the station right now counts too (`passwords_in_flight`).
            let in_flight = gateway.commands.passwords_in_flight(&station);
            tokio::task::spawn_blocking(move || {
                security::admit_with(&station, &settings, &in_flight, &transport, operator.as_deref(), Some(&header))
            })
            .await
            .unwrap_or(Err(Refusal::WrongPassword))
        }
        Ok(header) => security::admit(station, &settings, transport, operator.as_deref(), header.as_deref()),
    };
    match verdict {
        Ok(proved) if known && proved > settings.profile => remember(gateway, station, proved).await,
        Ok(_) => Ok(()),
        Err(refusal) => Err(refuse(gateway, station, known, refusal).await),
    }
}

/// Holds `station` to the higher profile its connection proved, before the connection goes on.
async fn remember(gateway: &Arc<Gateway>, station: &StationId, profile: SecurityProfile) -> Result<(), Response> {
    let raise = RaiseSecurityProfile { station: station.clone(), profile };
    match gateway.store.execute(raise, Vec::new()).await {
        Ok(raised) => {
            if raised {
                tracing::info!(station = %station, profile = profile.number(), "station now held to a higher security profile");
            }
            Ok(())
        }
        Err(e) => {
            // Letting it in without remembering would allow a downgrade later.
            tracing::error!(station = %station, error = %e, "security profile not recorded; connection refused");
            Err((StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response())
        }
    }
}

/// Counts, logs and (for a known station) records a refused connection; the 401 to answer it.
async fn refuse(gateway: &Arc<Gateway>, station: &StationId, known: bool, refusal: Refusal) -> Response {
    gateway.metrics.handshakes_refused.inc(&[("reason", refusal.as_str())]);
    tracing::warn!(station = %station, reason = refusal.as_str(), "connection refused: credentials not acceptable");
    let event = StationEvent {
        station: station.clone(),
        kind: StationEventKind::InvalidCredentials,
        status: None,
        request_id: None,
        evse_id: None,
        detail: Some(refusal.as_str().to_string()),
        at: gateway.clock.now(),
    };
    if known {
        if let Err(e) = gateway.store.execute(event, Vec::new()).await {
            tracing::error!(station = %station, error = %e, "refused connection not recorded");
        }
    }
    // The realm is UTF-8, which a header carries as opaque bytes (RFC 9110 §5.5 obs-text).
    let challenge = HeaderValue::from_bytes(r#"Basic realm="Ström""#.as_bytes())
        .unwrap_or_else(|_| HeaderValue::from_static(r#"Basic realm="Strom""#));
    if refusal == Refusal::Decommissioned {
        return (StatusCode::FORBIDDEN, "this station is decommissioned\n").into_response();
    }
    let message = match refusal {
        Refusal::TlsRequired => "this station must connect over TLS (wss://)\n",
        Refusal::NoClientCertificate => "this station must present its client certificate\n",
        Refusal::CertificateMismatch => "the client certificate is not this station's\n",
        _ => "station credentials required: HTTP Basic, user = station identity\n",
    };
    (StatusCode::UNAUTHORIZED, [(WWW_AUTHENTICATE, challenge)], message).into_response()
}
