//! `strom sim`: a fleet of simulated stations (OCPP 1.6, 2.0.1 or mixed) that behave like
//! real ones: they boot, report their connectors, authorize their drivers' tokens (a refused
//! token charges nothing), and run charging sessions with a realistic energy curve (power
//! taper, three phases of varying voltage and their currents, state of charge) within the
//! charging profile in force, injecting faults between sessions and clearing them; they honour
//! availability changes, reservations, firmware updates and uploads, and reconnect when the
//! CSMS goes away. Time is real (stamps are the current time) unless `fast` asks for simulated
//! time. Repeatable: all randomness comes from the seed. The summary says what every simulated
//! meter delivered, so a CSMS's stored energy can be checked against it.

mod connectors;
mod energy;
mod linger;
mod session;
mod state;
mod station;
mod v16;
mod v201;
mod wire;

use energy::Rng;
use ocpp::OcppVersion;
use serde_json::{json, Value};
use session::{Interruption, Plan, SessionOutcome};
use state::StationState;
use station::SimStation;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fleet {
    V16,
    V201,
    /// Even-numbered stations 1.6, odd ones 2.0.1.
    Mixed,
}

impl Fleet {
    pub fn parse(text: &str) -> Option<Fleet> {
        match text {
            "1.6" => Some(Fleet::V16),
            "2.0.1" => Some(Fleet::V201),
            "mixed" => Some(Fleet::Mixed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// `ws://HOST:PORT/ocpp`; identities are appended.
    pub url: String,
    pub stations: usize,
    pub fleet: Fleet,
    pub sessions_per_station: usize,
    pub seed: u64,
    /// Meter samples per session (a station's own sessions last this many sample intervals).
    pub samples_per_session: usize,
    /// Seconds between a session's periodic samples: the stations' initial
    /// MeterValueSampleInterval / SampledDataCtrlr.TxUpdatedInterval. The CSMS may change it;
    /// a station reads it when a session starts.
    pub sample_interval: u64,
    /// Simulated time: sessions run as fast as the CSMS answers, stamped from the start of the
    /// run on, so that their stamps run ahead of the wall clock. Otherwise (the default) the
    /// stations keep real time: every message is stamped with the current time and a session's
    /// readings come every sample interval.
    pub fast: bool,
    /// Connectors per station (1.6 connectors 1..=n; 2.0.1 EVSEs 1..=n, one connector each).
    /// A station's own sessions take turns on them.
    pub connectors: usize,
    /// Seconds (of station time) a session the CSMS started charges unless it is stopped.
    pub remote_session_secs: u64,
    /// The stations' initial ClockAlignedDataInterval / AlignedDataCtrlr.Interval in seconds
    /// (0: none): during a session the station also reports the meter at every multiple of it
    /// since midnight UTC, with context Sample.Clock.
    pub clock_aligned_interval: u64,
    /// Share of stations (0–1) that report a fault, and its clearing, between sessions.
    pub fault_share: f64,
    pub prefix: String,
    /// The id tags drivers present: station N's are `{id_tag}-N` (see `SimConfig::tag_of`), so
    /// that no two stations present one tag at once (which a CSMS refuses as ConcurrentTx);
    /// with `shared_tag`, every station presents `id_tag` itself.
    pub id_tag: String,
    pub shared_tag: bool,
    pub call_timeout: Duration,
    /// Share of sessions (0–1) during which the network fails: transaction messages are held
    /// and replayed in order after reconnecting.
    pub drop_share: f64,
    /// Share of sessions (0–1) ended by a power failure: the station reboots and stops the
    /// transaction with reason PowerLoss.
    pub power_loss_share: f64,
    /// The OCPP 1.6 error codes faults are drawn from (2.0.1 stations send them as techCode).
    pub fault_codes: Vec<ocpp::v16::StatusNotificationErrorCode>,
    /// Print progress to stderr once a second.
    pub progress: bool,
    /// How long each station stays connected after its own sessions, answering the CSMS's
    /// commands (a remote start runs a session, a reset reboots, a trigger is obeyed).
    pub linger: Duration,
}

impl SimConfig {
    /// The id tag station `index`'s drivers present.
    pub fn tag_of(&self, index: usize) -> String {
        if self.shared_tag {
            self.id_tag.clone()
        } else {
            format!("{}-{index}", self.id_tag)
        }
    }
}

/// One transaction as the simulated meter saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub station: String,
    pub version: &'static str,
    /// The transaction id as the station knows it (1.6: the CSMS's; 2.0.1: the station's own).
    pub transaction_id: String,
    pub energy_wh: u64,
    pub id_tag: String,
    pub connector: usize,
    /// Started by the CSMS.
    pub remote: bool,
    /// As the station sent it: EVDisconnected, Remote, PowerLoss or DeAuthorized.
    pub stop_reason: &'static str,
    /// False when the CSMS refused the start: the station stopped at once, delivering nothing.
    pub authorized: bool,
    /// The station's clock at the start and the stop.
    pub started_at: String,
    pub stopped_at: String,
    /// The meter as the session read it: (time, energy since the start in Wh, power in W), from
    /// the start to the stop.
    pub curve: Vec<(String, u64, f64)>,
}

/// A token the CSMS refused, at Authorize (no transaction) or at the start (stopped at once).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub station: String,
    pub id_tag: String,
    /// "Authorize" or "Start".
    pub at: &'static str,
    /// The status the CSMS answered (Invalid, Blocked, ConcurrentTx, …).
    pub status: &'static str,
}

#[derive(Debug, Clone, Default)]
pub struct SimReport {
    pub stations: usize,
    pub booted: usize,
    /// Every transaction, those refused at the start included (with no energy).
    pub sessions: Vec<SessionRecord>,
    pub refusals: Vec<Refusal>,
    /// Sessions a station did not begin because no connector was free (all inoperative, or
    /// reserved for another token).
    pub no_free_connector: usize,
    /// Connections lost and made again (a CSMS restart, say).
    pub reconnections: usize,
    /// (station, error code) of every fault injected and cleared.
    pub faults: Vec<(String, String)>,
    /// Sessions during which the network failed and queued messages were replayed.
    pub network_drops: usize,
    /// Sessions ended by a power failure and a reboot.
    pub power_losses: usize,
    pub errors: Vec<String>,
}

impl SimReport {
    /// The summary: `sessions` counts the sessions that charged, `refused` the tokens refused
    /// (at Authorize or at the start), `session_log` lists every transaction with its energy
    /// (none for one refused at the start).
    pub fn to_json(&self) -> Value {
        json!({
            "stations": self.stations,
            "booted": self.booted,
            "sessions": self.sessions.iter().filter(|s| s.authorized).count(),
            "refused": self.refusals.len(),
            "no_free_connector": self.no_free_connector,
            "energy_wh": self.sessions.iter().map(|s| s.energy_wh).sum::<u64>(),
            "faults": self.faults.len(),
            "network_drops": self.network_drops,
            "power_losses": self.power_losses,
            "reconnections": self.reconnections,
            "errors": self.errors,
            "session_log": self.sessions.iter().map(|s| json!({"station": s.station, "version": s.version,
                "transaction_id": s.transaction_id, "energy_wh": s.energy_wh, "id_tag": s.id_tag,
                "connector": s.connector, "remote": s.remote, "stop_reason": s.stop_reason,
                "authorized": s.authorized, "started_at": s.started_at, "stopped_at": s.stopped_at,
                "curve": s.curve})).collect::<Vec<_>>(),
            "refusals": self.refusals.iter().map(|r| json!({"station": r.station, "id_tag": r.id_tag,
                "at": r.at, "status": r.status})).collect::<Vec<_>>(),
        })
    }
}

/// What one station did, kept as it goes so that a station that fails later still reports the
/// sessions it completed.
#[derive(Debug, Default)]
struct StationOutcome {
    booted: bool,
    sessions: Vec<SessionRecord>,
    refusals: Vec<Refusal>,
    faults: Vec<(String, String)>,
    drops: usize,
    power_losses: usize,
    no_free_connector: usize,
    reconnections: usize,
}

impl StationOutcome {
    fn add(&mut self, session: SessionOutcome) {
        self.sessions.extend(session.record);
        self.refusals.extend(session.refusal);
    }
}

async fn run_station(
    config: SimConfig,
    index: usize,
    shutdown: tokio::sync::watch::Receiver<bool>,
    outcome: &mut StationOutcome,
) -> Result<(), crate::Error> {
    let version = match config.fleet {
        Fleet::V16 => OcppVersion::V16,
        Fleet::V201 => OcppVersion::V201,
        Fleet::Mixed if index % 2 == 1 => OcppVersion::V201,
        Fleet::Mixed => OcppVersion::V16,
    };
    let identity = format!("{}{index}", config.prefix);
    let mut rng = Rng::new(config.seed ^ (index as u64).wrapping_mul(0x1000_0001));
    let ws = station::connect(&config.url, &identity, version).await?;
    let register = (rng.unit() * 1_000_000.0) as u64;
    // The station's clock starts at the current second; the Instant it corresponds to is that
    // second's start, so that whole station seconds fall on whole wall-clock seconds.
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let started = tokio::time::Instant::now() - Duration::from_nanos(u64::from(wall.subsec_nanos()));
    let linger_until = tokio::time::Instant::now() + config.linger;
    let mut station = SimStation {
        ws,
        url: config.url.clone(),
        identity: identity.clone(),
        id_tag: config.tag_of(index),
        offline_queue: None,
        version,
        next_id: 0,
        next_tx: 0,
        timeout: config.call_timeout,
        rng,
        fast: config.fast,
        base: std::time::UNIX_EPOCH + Duration::from_secs(wall.as_secs()),
        started,
        seconds: 0,
        register,
        meter_log: Vec::new(),
        state: StationState::new(version, config.sample_interval, config.clock_aligned_interval, config.connectors),
        last_sent: tokio::time::Instant::now(),
        linger_until,
        reconnections: 0,
        shutdown,
    };
    let result = drive(&config, &mut station, linger_until, outcome).await;
    outcome.reconnections = station.reconnections;
    let _ = station.ws.close(None).await;
    result
}

/// A station's run: boot, its own sessions (each on the next free connector, a fault after
/// some), then lingering.
async fn drive(
    config: &SimConfig,
    station: &mut SimStation,
    linger_until: tokio::time::Instant,
    outcome: &mut StationOutcome,
) -> Result<(), crate::Error> {
    station.boot(false).await?;
    outcome.booted = true;
    let step = config.sample_interval.max(1);
    for session in 0..config.sessions_per_station {
        if station.ending() {
            break;
        }
        let interruption = if station.rng.unit() < config.drop_share {
            Interruption::NetworkDrop
        } else if station.rng.unit() < config.power_loss_share {
            Interruption::PowerLoss
        } else {
            Interruption::None
        };
        let next = session % station.state.connectors.count() + 1;
        let id_tag = station.id_tag.clone();
        match station.state.connectors.free_from(next, &id_tag, station.now()) {
            Some(connector) => {
                let seconds = config.samples_per_session.max(1) as u64 * step;
                let plan = Plan { connector, id_tag, remote: None, seconds, interruption };
                let ran = station.charge(plan).await?;
                if ran.record.as_ref().is_some_and(|r| r.authorized) {
                    outcome.drops += usize::from(interruption == Interruption::NetworkDrop);
                    outcome.power_losses += usize::from(interruption == Interruption::PowerLoss);
                }
                outcome.add(ran);
            }
            None => outcome.no_free_connector += 1,
        }
        if station.rng.unit() < config.fault_share {
            let pick = (station.rng.next() % config.fault_codes.len().max(1) as u64) as usize;
            if let Some(&code) = config.fault_codes.get(pick) {
                station.fault(code).await?;
                outcome.faults.push((station.identity.clone(), code.as_str().to_string()));
            }
        }
    }
    station.linger(linger_until, config.remote_session_secs, outcome).await
}

pub async fn run(config: SimConfig) -> SimReport {
    let (_keep, shutdown) = tokio::sync::watch::channel(false);
    run_until(config, shutdown).await
}

/// Runs the fleet until it is done or `shutdown` turns true (Ctrl-C): then the sessions running
/// end as if the EVs were unplugged, no other begins, lingering stops, and the report says what
/// was done.
pub async fn run_until(config: SimConfig, shutdown: tokio::sync::watch::Receiver<bool>) -> SimReport {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..config.stations)
        .map(|i| {
            let done = done.clone();
            let config = config.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let mut outcome = StationOutcome::default();
                let result = run_station(config, i, shutdown, &mut outcome).await;
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (outcome, result)
            })
        })
        .collect();
    let progress = config.progress.then(|| {
        let (done, total) = (done.clone(), config.stations);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                eprint!("\rstrom sim: {}/{total} stations finished", done.load(std::sync::atomic::Ordering::Relaxed));
            }
        })
    });
    let mut report = SimReport { stations: config.stations, ..Default::default() };
    for task in tasks {
        match task.await {
            Ok((outcome, result)) => {
                report.booted += usize::from(outcome.booted);
                report.sessions.extend(outcome.sessions);
                report.refusals.extend(outcome.refusals);
                report.faults.extend(outcome.faults);
                report.network_drops += outcome.drops;
                report.power_losses += outcome.power_losses;
                report.no_free_connector += outcome.no_free_connector;
                report.reconnections += outcome.reconnections;
                if let Err(e) = result {
                    report.errors.push(e.to_string());
                }
            }
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    if let Some(progress) = progress {
        progress.abort();
        eprintln!("\rstrom sim: {0}/{0} stations finished", config.stations);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use ocpp::v16::{
        AuthorizeResponse, BootNotificationResponse, BootNotificationResponseStatus, IdTagInfo, IdTagInfoStatus,
        Response, StartTransactionResponse, StopTransactionResponse,
    };
    use tokio_tungstenite::tungstenite::Message;

    /// A transaction message the CSMS refuses is sent again after the station's retry
    /// interval, and the session goes on once it is accepted: a CSMS here that answers the
    /// first StartTransaction with a CALLERROR.
    #[tokio::test]
    async fn a_refused_transaction_message_is_retried_after_the_interval() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("ws://{}/ocpp", listener.local_addr().expect("address"));
        let csms = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.expect("accept");
            // The callback's type is tungstenite's, its large error and all.
            #[allow(clippy::result_large_err)]
            let ocpp16 =
                |_: &tokio_tungstenite::tungstenite::handshake::server::Request,
                 mut response: tokio_tungstenite::tungstenite::handshake::server::Response| {
                    response.headers_mut().insert("Sec-WebSocket-Protocol", "ocpp1.6".parse().expect("header"));
                    Ok(response)
                };
            let mut ws = tokio_tungstenite::accept_hdr_async(socket, ocpp16).await.expect("handshake");
            let mut starts = Vec::new();
            let accepted = || IdTagInfo { expiry_date: None, parent_id_tag: None, status: IdTagInfoStatus::Accepted };
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else { continue };
                let Some((id, action, payload)) = ocpp::split_call(text.as_str()) else { continue };
                let action = ocpp::v16::Action::from_name(action).expect("a 1.6 action");
                let request = ocpp::v16::Request::decode(action, payload);
                assert!(request.is_ok(), "the simulator sent a schema-valid {action:?}: {payload}");
                let answer = match action {
                    ocpp::v16::Action::BootNotification => Response::BootNotification(BootNotificationResponse {
                        current_time: ocpp::DateTime(std::time::UNIX_EPOCH.into()),
                        interval: 300,
                        status: BootNotificationResponseStatus::Accepted,
                    }),
                    ocpp::v16::Action::StartTransaction if starts.is_empty() => {
                        starts.push(std::time::Instant::now());
                        let refusal = ocpp::Frame::encode_call_error(id, "InternalError", "not now");
                        ws.send(Message::text(refusal)).await.expect("answer");
                        continue;
                    }
                    ocpp::v16::Action::StartTransaction => {
                        starts.push(std::time::Instant::now());
                        Response::StartTransaction(StartTransactionResponse {
                            id_tag_info: accepted(),
                            transaction_id: 7,
                        })
                    }
                    ocpp::v16::Action::Authorize => Response::Authorize(AuthorizeResponse { id_tag_info: accepted() }),
                    ocpp::v16::Action::StopTransaction => {
                        Response::StopTransaction(StopTransactionResponse { id_tag_info: Some(accepted()) })
                    }
                    // StatusNotification and MeterValues are answered with an empty object.
                    _ => {
                        ws.send(Message::text(ocpp::Frame::encode_call_result(id, "{}"))).await.expect("answer");
                        continue;
                    }
                };
                let payload = answer.to_json().expect("JSON");
                ws.send(Message::text(ocpp::Frame::encode_call_result(id, &payload))).await.expect("answer");
            }
            starts
        });
        let config = SimConfig {
            url,
            stations: 1,
            fleet: Fleet::V16,
            sessions_per_station: 1,
            seed: 1,
            samples_per_session: 2,
            sample_interval: 60,
            clock_aligned_interval: 0,
            fault_share: 0.0,
            prefix: "retry-".into(),
            id_tag: "T".into(),
            shared_tag: true,
            fast: true,
            connectors: 1,
            remote_session_secs: 60,
            call_timeout: Duration::from_secs(5),
            drop_share: 0.0,
            power_loss_share: 0.0,
            fault_codes: Vec::new(),
            progress: false,
            linger: Duration::ZERO,
        };
        let report = run(config).await;
        assert_eq!((report.errors.len(), report.sessions.len()), (0, 1), "{:?}", report.errors);
        assert_eq!(report.sessions[0].transaction_id, "7");
        let starts = csms.await.expect("the CSMS ran");
        assert_eq!(starts.len(), 2, "refused once, then sent again");
        let waited = starts[1] - starts[0];
        assert!(waited >= Duration::from_secs(1), "TransactionMessageRetryInterval is 1 s: {waited:?}");
    }
}
