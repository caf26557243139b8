//! `strom sim`: a fleet of simulated stations (OCPP 1.6, 2.0.1 or mixed) that boot, report
//! their connectors, and run charging sessions with a realistic energy curve (power taper,
//! per-phase voltage and current, state of charge), injecting faults between sessions and
//! clearing them. Repeatable: all randomness comes from the seed. The summary says what every
//! simulated meter delivered, so a CSMS's stored energy can be checked against it.

mod energy;
mod state;
mod station;
mod v16;
mod v201;
mod wire;

use energy::Rng;
use ocpp::OcppVersion;
use serde_json::{json, Value};
use state::StationState;
use station::{Interruption, SimStation};
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
    /// Meter samples per session.
    pub samples_per_session: usize,
    /// Seconds of simulated time between a session's periodic samples: the stations' initial
    /// MeterValueSampleInterval / SampledDataCtrlr.TxUpdatedInterval. The CSMS may change it;
    /// a station reads it when a session starts.
    pub sample_interval: u64,
    /// The stations' initial ClockAlignedDataInterval / AlignedDataCtrlr.Interval in seconds
    /// (0: none): during a session the station also reports the meter at every multiple of it
    /// since midnight UTC, with context Sample.Clock.
    pub clock_aligned_interval: u64,
    /// Share of stations (0–1) that report a fault, and its clearing, between sessions.
    pub fault_share: f64,
    pub prefix: String,
    /// The id tag sessions authorize with.
    pub id_tag: String,
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

/// One session as the simulated meter saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub station: String,
    pub version: &'static str,
    /// The transaction id as the station knows it (1.6: the CSMS's; 2.0.1: the station's own).
    pub transaction_id: String,
    pub energy_wh: u64,
}

#[derive(Debug, Clone, Default)]
pub struct SimReport {
    pub stations: usize,
    pub booted: usize,
    pub sessions: Vec<SessionRecord>,
    /// (station, error code) of every fault injected and cleared.
    pub faults: Vec<(String, String)>,
    /// Sessions during which the network failed and queued messages were replayed.
    pub network_drops: usize,
    /// Sessions ended by a power failure and a reboot.
    pub power_losses: usize,
    pub errors: Vec<String>,
}

impl SimReport {
    pub fn to_json(&self) -> Value {
        json!({
            "stations": self.stations,
            "booted": self.booted,
            "sessions": self.sessions.len(),
            "energy_wh": self.sessions.iter().map(|s| s.energy_wh).sum::<u64>(),
            "faults": self.faults.len(),
            "network_drops": self.network_drops,
            "power_losses": self.power_losses,
            "errors": self.errors,
            "session_log": self.sessions.iter().map(|s| json!({"station": s.station, "version": s.version,
                "transaction_id": s.transaction_id, "energy_wh": s.energy_wh})).collect::<Vec<_>>(),
        })
    }
}

/// What one station did: its sessions, its faults, and how many times its network dropped and
/// its power failed.
type StationOutcome = (Vec<SessionRecord>, Vec<(String, String)>, usize, usize);

async fn run_station(config: SimConfig, index: usize) -> Result<StationOutcome, crate::Error> {
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
    let mut station = SimStation {
        ws,
        url: config.url.clone(),
        identity: identity.clone(),
        offline_queue: None,
        version,
        next_id: 0,
        timeout: config.call_timeout,
        rng,
        base: std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + index as u64 * 86_400),
        seconds: 0,
        register,
        state: StationState::new(version, config.sample_interval, config.clock_aligned_interval),
        last_sent: tokio::time::Instant::now(),
    };
    let linger_until = tokio::time::Instant::now() + config.linger;
    station.boot().await?;
    let mut sessions = Vec::new();
    let mut faults = Vec::new();
    let mut drops = 0;
    let mut power_losses = 0;
    for session in 0..config.sessions_per_station {
        let interruption = if station.rng.unit() < config.drop_share {
            drops += 1;
            Interruption::NetworkDrop
        } else if station.rng.unit() < config.power_loss_share {
            power_losses += 1;
            Interruption::PowerLoss
        } else {
            Interruption::None
        };
        sessions.push(station.charge(&config.id_tag, session, config.samples_per_session, None, interruption).await?);
        if station.rng.unit() < config.fault_share {
            let pick = (station.rng.next() % config.fault_codes.len().max(1) as u64) as usize;
            if let Some(&code) = config.fault_codes.get(pick) {
                station.fault(code).await?;
                faults.push((identity.clone(), code.as_str().to_string()));
            }
        }
    }
    station.linger(linger_until, config.samples_per_session, &mut sessions).await?;
    let _ = station.ws.close(None).await;
    Ok((sessions, faults, drops, power_losses))
}

pub async fn run(config: SimConfig) -> SimReport {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..config.stations)
        .map(|i| {
            let done = done.clone();
            let config = config.clone();
            tokio::spawn(async move {
                let result = run_station(config, i).await;
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                result
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
            Ok(Ok((sessions, faults, drops, power_losses))) => {
                report.booted += 1;
                report.sessions.extend(sessions);
                report.faults.extend(faults);
                report.network_drops += drops;
                report.power_losses += power_losses;
            }
            Ok(Err(e)) => report.errors.push(e.to_string()),
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
