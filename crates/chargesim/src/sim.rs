//! `strom sim`: a fleet of simulated stations (OCPP 1.6, 2.0.1 or mixed) that boot, report
//! their connectors, and run charging sessions with a realistic energy curve (power taper,
//! per-phase voltage and current, state of charge), injecting faults between sessions and
//! clearing them. Repeatable: all randomness comes from the seed. The summary says what every
//! simulated meter delivered, so a CSMS's stored energy can be checked against it.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

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
    pub fault_codes: Vec<String>,
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

/// xorshift64*: small, fast and repeatable; simulation needs no cryptographic randomness.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Simulated time: sessions are laid out from a fixed start per station, in seconds, so runs
/// with the same seed produce the same readings.
fn timestamp(base: SystemTime, seconds: u64) -> String {
    ocpp::DateTime((base + Duration::from_secs(seconds)).into()).to_string()
}

/// The clock-aligned instants in `(from, to]` (seconds since the epoch), for an interval in
/// seconds (0: none).
fn aligned_between(from: u64, to: u64, interval: u64) -> Vec<u64> {
    if interval == 0 {
        return Vec::new();
    }
    let first = (from / interval + 1) * interval;
    (first..=to).step_by(interval as usize).collect()
}

struct Reading {
    energy_wh: u64,
    power_w: f64,
    soc: f64,
}

/// A reading as the station reports it: when, the register then, and why.
struct Sample<'a> {
    at: String,
    reading: &'a Reading,
    register: u64,
    context: &'static str,
}

/// The energy curve of one session, sampled every `step` seconds: constant power up to 80 %
/// state of charge, then tapering.
fn curve(rng: &mut Rng, samples: usize, step: u64) -> Vec<Reading> {
    let max_power = 7_400.0 + rng.unit() * 3_600.0;
    let capacity_wh = 40_000.0 + rng.unit() * 40_000.0;
    let mut soc = 0.15 + rng.unit() * 0.4;
    let mut energy = 0.0;
    (0..samples)
        .map(|_| {
            let power = if soc < 0.8 { max_power } else { max_power * ((1.0 - soc) / 0.2).max(0.05) };
            let wh = power * step as f64 / 3600.0;
            energy += wh;
            soc = (soc + wh / capacity_wh).min(1.0);
            Reading { energy_wh: energy.round() as u64, power_w: power.round(), soc: (soc * 100.0).round() }
        })
        .collect()
}

/// Keeps the sampled values whose measurand the station is configured to report (a
/// comma-separated list, as MeterValuesSampledData and SampledDataCtrlr.TxUpdatedMeasurands hold).
fn only_measurands(values: Value, measurands: &str) -> Value {
    let wanted: Vec<&str> = measurands.split(',').map(str::trim).collect();
    let kept =
        values.as_array().into_iter().flatten().filter(|v| wanted.contains(&v["measurand"].as_str().unwrap_or("")));
    Value::Array(kept.cloned().collect())
}

/// No sampled value at all: a station configured to report nothing sends nothing.
fn is_empty(values: &Value) -> bool {
    values.as_array().is_none_or(Vec::is_empty)
}

fn sampled_16(r: &Reading, register_wh: u64, context: &str) -> Value {
    let amps = r.power_w / 3.0 / 230.0;
    json!([
        {"value": register_wh.to_string(), "context": context, "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": format!("{:.0}", r.power_w), "context": context, "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "230.2", "context": context, "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
        {"value": format!("{amps:.1}"), "context": context, "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        {"value": format!("{:.0}", r.soc), "context": context, "measurand": "SoC", "location": "EV", "unit": "Percent"}
    ])
}

fn sampled_201(r: &Reading, register_wh: u64, context: &str) -> Value {
    let amps = r.power_w / 3.0 / 230.0;
    json!([
        {"value": register_wh, "context": context, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}},
        {"value": r.power_w, "context": context, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
        {"value": 230.2, "context": context, "measurand": "Voltage", "phase": "L1-N", "unitOfMeasure": {"unit": "V"}},
        {"value": (amps * 10.0).round() / 10.0, "context": context, "measurand": "Current.Import", "phase": "L1", "unitOfMeasure": {"unit": "A"}},
        {"value": r.soc, "context": context, "measurand": "SoC", "location": "EV", "unitOfMeasure": {"unit": "Percent"}}
    ])
}

/// What goes wrong during a session, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    None,
    /// The network fails; transaction messages are held and replayed.
    NetworkDrop,
    /// The power fails; the station reboots and ends the session with reason PowerLoss.
    PowerLoss,
}

/// What a simulated station remembers and how it answers the CSMS's commands.
#[derive(Default)]
struct Responder {
    /// 1.6 configuration keys, or 2.0.1 `Component.Variable` values: (value, read-only).
    settings: BTreeMap<String, (String, bool)>,
    list_version: i64,
    local_list: BTreeMap<String, Value>,
    /// The transaction running now, as the station knows it.
    active_tx: Option<String>,
    /// Asked for by the CSMS, done by the station's loop after answering: a remote start's id
    /// tag and (2.0.1) remoteStartId.
    remote_start: Option<(String, Option<i64>)>,
    remote_stop: bool,
    reboot: bool,
    trigger: Option<String>,
}

/// The heartbeat interval's 1.6 key and 2.0.1 `Component.Variable`.
const HEARTBEAT_INTERVAL: (&str, &str) = ("HeartbeatInterval", "OCPPCommCtrlr.HeartbeatInterval");

/// What a station's meter reports: all five measurands it has when sampling, the register and
/// power when clock-aligned.
const SAMPLED_MEASURANDS: &str = "Energy.Active.Import.Register,Power.Active.Import,Voltage,Current.Import,SoC";
const ALIGNED_MEASURANDS: &str = "Energy.Active.Import.Register,Power.Active.Import";

impl Responder {
    fn new(v201: bool, sample_interval: u64, clock_aligned_interval: u64) -> Responder {
        let (sample, clock) = (sample_interval.to_string(), clock_aligned_interval.to_string());
        let settings: &[(&str, &str, bool)] = if v201 {
            &[
                ("OCPPCommCtrlr.HeartbeatInterval", "300", false),
                ("OCPPCommCtrlr.OfflineThreshold", "60", false),
                ("OCPPCommCtrlr.MessageAttempts", "3", false),
                ("OCPPCommCtrlr.MessageAttemptInterval", "1", false),
                ("AuthCtrlr.AuthorizeRemoteStart", "false", false),
                ("LocalAuthListCtrlr.ItemsPerMessage", "50", true),
                ("SampledDataCtrlr.TxUpdatedInterval", &sample, false),
                ("SampledDataCtrlr.TxUpdatedMeasurands", SAMPLED_MEASURANDS, false),
                ("AlignedDataCtrlr.Interval", &clock, false),
                ("AlignedDataCtrlr.Measurands", ALIGNED_MEASURANDS, false),
            ]
        } else {
            &[
                ("HeartbeatInterval", "300", false),
                ("TransactionMessageAttempts", "3", false),
                ("TransactionMessageRetryInterval", "1", false),
                ("MeterValueSampleInterval", &sample, false),
                ("MeterValuesSampledData", SAMPLED_MEASURANDS, false),
                ("ClockAlignedDataInterval", &clock, false),
                ("MeterValuesAlignedData", ALIGNED_MEASURANDS, false),
                ("NumberOfConnectors", "1", true),
                ("AuthorizeRemoteTxRequests", "false", false),
                ("LocalAuthListEnabled", "true", false),
                ("SendLocalListMaxLength", "50", true),
                (
                    "SupportedFeatureProfiles",
                    "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger",
                    true,
                ),
            ]
        };
        Responder {
            settings: settings.iter().map(|(k, v, ro)| (k.to_string(), (v.to_string(), *ro))).collect(),
            ..Default::default()
        }
    }

    /// A setting by its 1.6 key or its 2.0.1 `Component.Variable` name.
    fn setting(&self, v201: bool, key16: &str, key201: &str) -> &str {
        self.settings.get(if v201 { key201 } else { key16 }).map_or("", |(value, _)| value.as_str())
    }

    /// A setting in seconds; 0 when unset or not a number.
    fn seconds(&self, v201: bool, key16: &str, key201: &str) -> u64 {
        self.setting(v201, key16, key201).trim().parse().unwrap_or(0)
    }

    /// The heartbeat interval in seconds; 0 for none.
    fn heartbeat_interval(&self, v201: bool) -> u64 {
        self.seconds(v201, HEARTBEAT_INTERVAL.0, HEARTBEAT_INTERVAL.1)
    }

    /// The heartbeat interval a CSMS gave in its answer to a boot.
    fn set_heartbeat_interval(&mut self, v201: bool, seconds: u64) {
        let key = if v201 { HEARTBEAT_INTERVAL.1 } else { HEARTBEAT_INTERVAL.0 };
        if let Some((value, _)) = self.settings.get_mut(key) {
            *value = seconds.to_string();
        }
    }

    /// The CALLRESULT payload for a CSMS CALL, or the CALLERROR code for one it does not take.
    fn answer(&mut self, v201: bool, action: &str, p: &Value) -> Result<Value, &'static str> {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let accepted = json!({"status": "Accepted"});
        Ok(match (v201, action) {
            (false, "GetConfiguration") => {
                let wanted: Vec<String> = p["key"].as_array().map(|k| k.iter().map(text).collect()).unwrap_or_default();
                let all = wanted.is_empty();
                let known: Vec<Value> = self
                    .settings
                    .iter()
                    .filter(|(k, _)| all || wanted.contains(k))
                    .map(|(k, (v, ro))| json!({"key": k, "readonly": ro, "value": v}))
                    .collect();
                let unknown: Vec<&String> = wanted.iter().filter(|k| !self.settings.contains_key(*k)).collect();
                json!({"configurationKey": known, "unknownKey": unknown})
            }
            (false, "ChangeConfiguration") => match self.settings.get_mut(&text(&p["key"])) {
                None => json!({"status": "NotSupported"}),
                Some((_, true)) => json!({"status": "Rejected"}),
                Some((value, false)) => {
                    *value = text(&p["value"]);
                    accepted
                }
            },
            (true, "GetVariables") => {
                let results: Vec<Value> = p["getVariableData"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        let key = format!("{}.{}", text(&d["component"]["name"]), text(&d["variable"]["name"]));
                        let mut r = json!({"component": d["component"], "variable": d["variable"]});
                        match self.settings.get(&key) {
                            Some((value, _)) => {
                                r["attributeStatus"] = json!("Accepted");
                                r["attributeValue"] = json!(value);
                            }
                            None => r["attributeStatus"] = json!("UnknownVariable"),
                        }
                        r
                    })
                    .collect();
                json!({"getVariableResult": results})
            }
            (true, "SetVariables") => {
                let results: Vec<Value> = p["setVariableData"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| {
                        let key = format!("{}.{}", text(&d["component"]["name"]), text(&d["variable"]["name"]));
                        let status = match self.settings.get_mut(&key) {
                            None => "UnknownVariable",
                            Some((_, true)) => "Rejected",
                            Some((value, false)) => {
                                *value = text(&d["attributeValue"]);
                                "Accepted"
                            }
                        };
                        json!({"attributeStatus": status, "component": d["component"], "variable": d["variable"]})
                    })
                    .collect();
                json!({"setVariableResult": results})
            }
            (_, "Reset") => {
                self.reboot = true;
                accepted
            }
            (_, "ChangeAvailability") => {
                json!({"status": if self.active_tx.is_some() { "Scheduled" } else { "Accepted" }})
            }
            (false, "RemoteStartTransaction") | (true, "RequestStartTransaction") => {
                if self.active_tx.is_some() || self.remote_start.is_some() {
                    json!({"status": "Rejected"})
                } else {
                    let tag = if v201 { text(&p["idToken"]["idToken"]) } else { text(&p["idTag"]) };
                    self.remote_start = Some((tag, p["remoteStartId"].as_i64()));
                    accepted
                }
            }
            (false, "RemoteStopTransaction") | (true, "RequestStopTransaction") => {
                let asked = if v201 { text(&p["transactionId"]) } else { p["transactionId"].to_string() };
                if self.active_tx.as_deref() == Some(asked.as_str()) {
                    self.remote_stop = true;
                    accepted
                } else {
                    json!({"status": "Rejected"})
                }
            }
            (_, "UnlockConnector") => json!({"status": "Unlocked"}),
            (_, "ClearCache") => accepted,
            (false, "GetLocalListVersion") => json!({"listVersion": self.list_version}),
            (true, "GetLocalListVersion") => json!({"versionNumber": self.list_version}),
            (_, "SendLocalList") => {
                let version = if v201 { p["versionNumber"].as_i64() } else { p["listVersion"].as_i64() }.unwrap_or(0);
                let full = p["updateType"] == "Full";
                if !full && version <= self.list_version {
                    return Ok(json!({"status": "VersionMismatch"}));
                }
                if full {
                    self.local_list.clear();
                }
                for entry in p["localAuthorizationList"].as_array().into_iter().flatten() {
                    let token = if v201 { text(&entry["idToken"]["idToken"]) } else { text(&entry["idTag"]) };
                    let info = if v201 { &entry["idTokenInfo"] } else { &entry["idTagInfo"] };
                    if info.is_null() {
                        self.local_list.remove(&token);
                    } else {
                        self.local_list.insert(token, info.clone());
                    }
                }
                self.list_version = version;
                accepted
            }
            (_, "TriggerMessage") => match p["requestedMessage"].as_str() {
                Some(m @ ("BootNotification" | "Heartbeat" | "StatusNotification" | "MeterValues")) => {
                    self.trigger = Some(m.to_string());
                    accepted
                }
                _ => json!({"status": "NotImplemented"}),
            },
            (_, "ReserveNow") => accepted,
            (_, "CancelReservation") => accepted,
            (_, "SetChargingProfile") => accepted,
            (_, "ClearChargingProfile") => accepted,
            (_, "DataTransfer") => json!({"status": "UnknownVendorId"}),
            (false, "UpdateFirmware") | (false, "GetDiagnostics") => json!({}),
            _ => return Err("NotSupported"),
        })
    }
}

struct SimStation {
    ws: Ws,
    url: String,
    identity: String,
    /// Transaction messages held while the network is down, replayed in order on reconnection
    /// (OCPP 1.6 §4.7, 2.0.1 E.FR offline behaviour).
    offline_queue: Option<Vec<(&'static str, Value)>>,
    v201: bool,
    next_id: u64,
    timeout: Duration,
    rng: Rng,
    base: SystemTime,
    /// Simulated seconds since `base`.
    seconds: u64,
    register: u64,
    responder: Responder,
    /// When the station last sent anything: a heartbeat is due an interval after it.
    last_sent: tokio::time::Instant,
}

/// Boots a station tries before it gives up on a CSMS that keeps it Pending or Rejected.
const MAX_BOOTS: usize = 10;
/// Seconds between boots when a Pending or Rejected answer gives no interval.
const DEFAULT_BOOT_RETRY: u64 = 60;

impl SimStation {
    fn at(&self) -> String {
        timestamp(self.base, self.seconds)
    }

    /// Sends a CALL and returns its CALLRESULT payload, answering the CSMS's own CALLs that
    /// arrive meanwhile.
    async fn call(&mut self, action: &str, payload: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = format!("sim{}", self.next_id);
        self.send(json!([2, id, action, payload])).await?;
        loop {
            let frame = self
                .next_frame(tokio::time::Instant::now() + self.timeout)
                .await?
                .ok_or_else(|| format!("{action}: no answer"))?;
            match frame[0].as_u64() {
                Some(3) if frame[1] == id.as_str() => return Ok(frame[2].clone()),
                Some(4) if frame[1] == id.as_str() => return Err(format!("{action}: CALLERROR {}", frame[2])),
                Some(2) => self.respond(&frame).await?,
                _ => {}
            }
        }
    }

    /// A transaction-related message: queued while offline, retried on failure, never lost.
    async fn tx_call(&mut self, action: &'static str, mut payload: Value) -> Result<Value, String> {
        if let Some(queue) = &mut self.offline_queue {
            if self.v201 {
                payload["offline"] = json!(true);
            }
            queue.push((action, payload));
            return Ok(Value::Null);
        }
        self.call_with_retries(action, payload).await
    }

    /// Sends a transaction-related message while online, retried on failure.
    async fn call_with_retries(&mut self, action: &'static str, payload: Value) -> Result<Value, String> {
        // Tried up to TransactionMessageAttempts (2.0.1: MessageAttempts) times after a
        // CALLERROR or no answer, waiting TransactionMessageRetryInterval (MessageAttemptInterval)
        // seconds times the tries so far in between (OCPP 1.6 §4.10, 2.0.1 E.FR.05–06).
        let attempts =
            self.responder.seconds(self.v201, "TransactionMessageAttempts", "OCPPCommCtrlr.MessageAttempts").max(1);
        let interval = self.responder.seconds(
            self.v201,
            "TransactionMessageRetryInterval",
            "OCPPCommCtrlr.MessageAttemptInterval",
        );
        let mut attempt = 1;
        loop {
            match self.call(action, payload.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(e) if attempt >= attempts => return Err(e),
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(interval * attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// The network is back: reconnect (no new boot, OCPP 1.6 §4.2) and deliver what was held.
    async fn reconnect(&mut self) -> Result<(), String> {
        let Some(queue) = self.offline_queue.take() else { return Ok(()) };
        self.ws = connect(&self.url, &self.identity, self.v201).await?;
        for (action, payload) in queue {
            self.tx_call(action, payload).await?;
        }
        Ok(())
    }

    async fn send(&mut self, frame: Value) -> Result<(), String> {
        self.last_sent = tokio::time::Instant::now();
        self.ws.send(Message::text(frame.to_string())).await.map_err(|e| e.to_string())
    }

    /// The next frame before `deadline` (None when it passes).
    async fn next_frame(&mut self, deadline: tokio::time::Instant) -> Result<Option<Value>, String> {
        loop {
            let message = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Ok(None),
                Ok(None) => return Err(format!("{}: connection closed", self.identity)),
                Ok(Some(m)) => m.map_err(|e| e.to_string())?,
            };
            if let Message::Text(text) = message {
                return serde_json::from_str(text.as_str()).map(Some).map_err(|e| e.to_string());
            }
        }
    }

    async fn respond(&mut self, call: &Value) -> Result<(), String> {
        let action = call[2].as_str().unwrap_or_default();
        let reply = match self.responder.answer(self.v201, action, &call[3]) {
            Ok(payload) => json!([3, call[1], payload]),
            Err(code) => json!([4, call[1], code, format!("the simulator does not take {action}"), {}]),
        };
        self.send(reply).await
    }

    async fn status(&mut self, status16: &str, status201: &str, error: &str) -> Result<(), String> {
        if self.offline_queue.is_some() {
            // Not transaction-related: a station may drop it while offline.
            return Ok(());
        }
        let payload = if self.v201 {
            json!({"timestamp": self.at(), "connectorStatus": status201, "evseId": 1, "connectorId": 1})
        } else {
            json!({"connectorId": 1, "status": status16, "errorCode": error, "timestamp": self.at()})
        };
        self.call("StatusNotification", payload).await.map(drop)
    }

    /// Boots until the CSMS accepts the station (OCPP 1.6 §4.2, 2.0.1 B01–B03). Pending: it
    /// waits the interval the CSMS gave, answering the CSMS's CALLs meanwhile, and boots at once
    /// when a TriggerMessage asks for it. Rejected: it waits the interval without a word. Then
    /// it boots again, up to `MAX_BOOTS` times. Accepted: the interval is its heartbeat interval.
    async fn boot(&mut self) -> Result<(), String> {
        let boot = if self.v201 {
            json!({"reason": "PowerUp", "chargingStation": {"vendorName": "chargesim", "model": "sim-201"}})
        } else {
            json!({"chargePointVendor": "chargesim", "chargePointModel": "sim-16"})
        };
        for _ in 0..MAX_BOOTS {
            let answer = self.call("BootNotification", boot.clone()).await?;
            let interval = answer["interval"].as_u64().unwrap_or(0);
            let pending = match answer["status"].as_str() {
                Some("Accepted") => {
                    if interval > 0 {
                        self.responder.set_heartbeat_interval(self.v201, interval);
                    }
                    return self.status("Available", "Available", "NoError").await;
                }
                Some("Pending") => true,
                Some("Rejected") => false,
                _ => return Err(format!("{}: boot {}", self.identity, answer["status"])),
            };
            let wait = if interval > 0 { interval } else { DEFAULT_BOOT_RETRY };
            self.wait_to_boot_again(pending, Duration::from_secs(wait)).await?;
        }
        Err(format!("{}: not accepted after {MAX_BOOTS} boots", self.identity))
    }

    /// Waits `wait` (real time; the simulated clock moves with it) before the next boot. A
    /// Pending station answers the CSMS's CALLs and stops waiting when it is asked to boot; a
    /// Rejected one leaves them unanswered.
    async fn wait_to_boot_again(&mut self, pending: bool, wait: Duration) -> Result<(), String> {
        let started = tokio::time::Instant::now();
        let deadline = started + wait;
        while let Some(frame) = self.next_frame(deadline).await? {
            if frame[0] != 2 || !pending {
                continue;
            }
            self.respond(&frame).await?;
            if self.responder.trigger.as_deref() == Some("BootNotification") {
                self.responder.trigger = None;
                break;
            }
        }
        self.seconds += started.elapsed().as_secs();
        Ok(())
    }

    /// One charging session; `remote` when the CSMS started it. It ends after `samples` meter
    /// readings, or earlier when the CSMS asks it to stop.
    async fn charge(
        &mut self,
        id_tag: &str,
        session: usize,
        samples: usize,
        remote: Option<i64>,
        interruption: Interruption,
    ) -> Result<SessionRecord, String> {
        // The station's configuration as the session starts (the CSMS may have changed it).
        let v201 = self.v201;
        let step =
            self.responder.seconds(v201, "MeterValueSampleInterval", "SampledDataCtrlr.TxUpdatedInterval").max(1);
        let clock = self.clock_aligned_interval();
        let sampled =
            self.responder.setting(v201, "MeterValuesSampledData", "SampledDataCtrlr.TxUpdatedMeasurands").to_string();
        let aligned = self.responder.setting(v201, "MeterValuesAlignedData", "AlignedDataCtrlr.Measurands").to_string();
        let epoch = self.epoch();
        let readings = curve(&mut self.rng, samples.max(1), step);
        // Where it happens: after the start, at one of the session's readings.
        let span = readings.len().saturating_sub(1).max(1);
        let interrupt_at = (interruption != Interruption::None)
            .then(|| (1 + (self.rng.next() as usize) % span).min(readings.len() - 1));
        let mut power_lost = false;
        let start_register = self.register;
        self.seconds += 60;
        self.status("Preparing", "Occupied", "NoError").await?;
        let tx_id = if self.v201 {
            let tx = format!("{}-{session}", self.identity);
            let begin = json!([{"timestamp": self.at(), "sampledValue": sampled_201(&readings[0], self.register, "Transaction.Begin")}]);
            let mut info = json!({"transactionId": tx, "chargingState": "Charging"});
            if let Some(id) = remote {
                info["remoteStartId"] = json!(id);
            }
            let trigger = if remote.is_some() { "RemoteStart" } else { "Authorized" };
            let event = json!({"eventType": "Started", "timestamp": self.at(), "triggerReason": trigger,
                "seqNo": 0, "transactionInfo": info, "idToken": {"idToken": id_tag, "type": "ISO14443"},
                "evse": {"id": 1, "connectorId": 1}, "meterValue": begin});
            self.call_with_retries("TransactionEvent", event).await?;
            tx
        } else {
            self.call("Authorize", json!({"idTag": id_tag})).await?;
            let start = json!({"connectorId": 1, "idTag": id_tag, "meterStart": self.register, "timestamp": self.at()});
            let answer = self.call_with_retries("StartTransaction", start).await?;
            self.status("Charging", "Occupied", "NoError").await?;
            answer["transactionId"].as_i64().ok_or("StartTransaction without transactionId")?.to_string()
        };
        self.responder.active_tx = Some(tx_id.clone());
        let mut last = readings.len() - 1;
        let mut seq_no = 0;
        let mut previous_wh = 0;
        for (i, reading) in readings.iter().enumerate() {
            let sampled_from = self.seconds;
            self.seconds += step;
            if interrupt_at == Some(i) && interruption == Interruption::PowerLoss {
                // The power goes: the session ends at this reading, the station reboots.
                power_lost = true;
                last = i;
                self.register = start_register + reading.energy_wh;
                break;
            }
            if interrupt_at == Some(i) && interruption == Interruption::NetworkDrop {
                // The connection goes as a failing network takes it: no close handshake.
                self.offline_queue = Some(Vec::new());
            }
            let now_register = start_register + reading.energy_wh;
            // Clock-aligned readings that fell due since the last sample, the register
            // interpolated between the two samples around them.
            for at in aligned_between(epoch + sampled_from, epoch + self.seconds, clock) {
                let share = (at - epoch - sampled_from) as f64 / step as f64;
                let wh = previous_wh as f64 + (reading.energy_wh - previous_wh) as f64 * share;
                let register = start_register + wh.round() as u64;
                let taken = Sample { at: timestamp(self.base, at - epoch), reading, register, context: "Sample.Clock" };
                self.send_sample(&tx_id, &mut seq_no, taken, "MeterValueClock", &aligned).await?;
            }
            previous_wh = reading.energy_wh;
            if i == last || self.responder.remote_stop {
                last = i;
                self.register = now_register;
                break;
            }
            let taken = Sample { at: self.at(), reading, register: now_register, context: "Sample.Periodic" };
            self.send_sample(&tx_id, &mut seq_no, taken, "MeterValuePeriodic", &sampled).await?;
        }
        let stopped_remotely = std::mem::take(&mut self.responder.remote_stop);
        if power_lost {
            // Back on power: a new connection and a boot; the stop comes after it (TC_032_1).
            self.seconds += 60;
            self.ws = connect(&self.url, &self.identity, self.v201).await?;
            self.boot().await?;
        }
        if self.v201 {
            let end = json!([{"timestamp": self.at(), "sampledValue": sampled_201(&readings[last], self.register, "Transaction.End")}]);
            let (trigger, reason) = match (power_lost, stopped_remotely) {
                (true, _) => ("AbnormalCondition", "PowerLoss"),
                (false, true) => ("RemoteStop", "Remote"),
                (false, false) => ("EVDeparted", "EVDisconnected"),
            };
            let event = json!({"eventType": "Ended", "timestamp": self.at(), "triggerReason": trigger, "seqNo": seq_no + 1,
                "transactionInfo": {"transactionId": tx_id, "stoppedReason": reason}, "meterValue": end});
            self.tx_call("TransactionEvent", event).await?;
        } else {
            let reason = match (power_lost, stopped_remotely) {
                (true, _) => "PowerLoss",
                (false, true) => "Remote",
                (false, false) => "EVDisconnected",
            };
            let stop = json!({"transactionId": tx_id.parse::<i64>().unwrap_or(0), "meterStop": self.register, "timestamp": self.at(), "reason": reason});
            self.tx_call("StopTransaction", stop).await?;
            self.status("Finishing", "Occupied", "NoError").await?;
        }
        self.reconnect().await?;
        self.responder.active_tx = None;
        self.status("Available", "Available", "NoError").await?;
        Ok(SessionRecord {
            station: self.identity.clone(),
            version: if self.v201 { "2.0.1" } else { "1.6" },
            transaction_id: tx_id,
            energy_wh: self.register - start_register,
        })
    }

    /// The sampled values of `reading` in this station's OCPP version, only the `measurands` it is
    /// configured to report; `None` when that leaves nothing.
    fn sampled_values(&self, reading: &Reading, register: u64, context: &str, measurands: &str) -> Option<Value> {
        let all =
            if self.v201 { sampled_201(reading, register, context) } else { sampled_16(reading, register, context) };
        Some(only_measurands(all, measurands)).filter(|values| !is_empty(values))
    }

    /// The configured ClockAlignedDataInterval / AlignedDataCtrlr.Interval, in seconds.
    fn clock_aligned_interval(&self) -> u64 {
        self.responder.seconds(self.v201, "ClockAlignedDataInterval", "AlignedDataCtrlr.Interval")
    }

    /// `base` in seconds since the epoch, which clock-aligned instants are counted from.
    fn epoch(&self) -> u64 {
        self.base.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// Reports a reading taken during transaction `tx_id` (1.6 MeterValues, 2.0.1 a
    /// TransactionEvent Updated with `trigger` and the next `seq_no`), with the `measurands`
    /// the station is configured to report; nothing when none of them is there.
    async fn send_sample(
        &mut self,
        tx_id: &str,
        seq_no: &mut usize,
        sample: Sample<'_>,
        trigger: &str,
        measurands: &str,
    ) -> Result<(), String> {
        let Sample { at, reading, register, context } = sample;
        let Some(values) = self.sampled_values(reading, register, context, measurands) else { return Ok(()) };
        *seq_no += 1;
        if self.v201 {
            let mv = json!([{"timestamp": at, "sampledValue": values}]);
            let event = json!({"eventType": "Updated", "timestamp": at, "triggerReason": trigger,
                "seqNo": *seq_no, "transactionInfo": {"transactionId": tx_id}, "meterValue": mv});
            self.tx_call("TransactionEvent", event).await?;
        } else {
            let mv = json!({"connectorId": 1, "transactionId": tx_id.parse::<i64>().unwrap_or(0),
                "meterValue": [{"timestamp": at, "sampledValue": values}]});
            self.tx_call("MeterValues", mv).await?;
        }
        Ok(())
    }

    /// Reports the meter of an idle connector (no transaction): at a clock-aligned instant, or
    /// because the CSMS asked for it with TriggerMessage.
    async fn idle_reading(&mut self, at: String, context: &str) -> Result<(), String> {
        let configured =
            self.responder.setting(self.v201, "MeterValuesAlignedData", "AlignedDataCtrlr.Measurands").to_string();
        // Nothing flows and no EV is plugged in: of what is configured, the register and power.
        let idle = Reading { energy_wh: 0, power_w: 0.0, soc: 0.0 };
        let Some(values) = self.sampled_values(&idle, self.register, context, &configured) else { return Ok(()) };
        let values = only_measurands(values, ALIGNED_MEASURANDS);
        if is_empty(&values) {
            return Ok(());
        }
        let meter_value = json!([{"timestamp": at, "sampledValue": values}]);
        if self.v201 {
            self.call("MeterValues", json!({"evseId": 1, "meterValue": meter_value})).await?;
        } else {
            self.call("MeterValues", json!({"connectorId": 1, "meterValue": meter_value})).await?;
        }
        Ok(())
    }

    /// A fault reported and, a simulated minute later, cleared: 1.6 through StatusNotification,
    /// 2.0.1 through NotifyEvent on the connector's Problem variable.
    async fn fault(&mut self, code: &str) -> Result<(), String> {
        self.seconds += 60;
        if self.v201 {
            for value in ["true", "false"] {
                let event = json!({"generatedAt": self.at(), "seqNo": 0, "eventData": [{"eventId": self.seconds, "timestamp": self.at(),
                    "trigger": "Delta", "actualValue": value, "techCode": code, "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                    "variable": {"name": "Problem"}, "eventNotificationType": "HardWiredNotification"}]});
                self.call("NotifyEvent", event).await?;
                self.seconds += 60;
            }
        } else {
            self.status("Faulted", "Faulted", code).await?;
            self.seconds += 60;
            self.status("Available", "Available", "NoError").await?;
        }
        Ok(())
    }

    /// Stays connected until `deadline`, answering the CSMS and doing what it asked: a remote
    /// start charges a session, a reset reboots, a trigger sends the message.
    async fn linger(
        &mut self,
        deadline: tokio::time::Instant,
        samples: usize,
        sessions: &mut Vec<SessionRecord>,
    ) -> Result<(), String> {
        // While idle the simulated clock follows the real one, so that clock-aligned readings
        // come when they fall due.
        let epoch = self.epoch();
        let mut idle_since = tokio::time::Instant::now();
        loop {
            let elapsed = idle_since.elapsed().as_secs();
            if elapsed > 0 {
                let from = self.seconds;
                self.seconds += elapsed;
                idle_since += Duration::from_secs(elapsed);
                let clock = self.clock_aligned_interval();
                for at in aligned_between(epoch + from, epoch + self.seconds, clock) {
                    self.idle_reading(timestamp(self.base, at - epoch), "Sample.Clock").await?;
                }
            }
            if let Some((tag, remote_start_id)) = self.responder.remote_start.take() {
                // A 1.6 remote start carries no id: the session is remote all the same.
                let record = self
                    .charge(&tag, sessions.len(), samples, Some(remote_start_id.unwrap_or(0)), Interruption::None)
                    .await?;
                sessions.push(record);
                idle_since = tokio::time::Instant::now();
                continue;
            }
            if std::mem::take(&mut self.responder.reboot) {
                self.seconds += 60;
                self.boot().await?;
                continue;
            }
            if let Some(message) = self.responder.trigger.take() {
                match message.as_str() {
                    "BootNotification" => self.boot().await?,
                    "Heartbeat" => self.call("Heartbeat", json!({})).await.map(drop)?,
                    "MeterValues" => self.idle_reading(self.at(), "Trigger").await?,
                    _ => self.status("Available", "Available", "NoError").await?,
                }
                continue;
            }
            // A heartbeat once nothing was sent for the heartbeat interval (2.0.1 B05: other
            // messages may stand in for it).
            let heartbeat = self.responder.heartbeat_interval(self.v201);
            let heartbeat_due = (heartbeat > 0).then(|| self.last_sent + Duration::from_secs(heartbeat));
            let now = tokio::time::Instant::now();
            if now < deadline && heartbeat_due.is_some_and(|due| due <= now) {
                self.call("Heartbeat", json!({})).await?;
                continue;
            }
            // Wake for the next clock-aligned reading or heartbeat, if one falls due before the
            // deadline.
            let clock = self.clock_aligned_interval();
            let next = aligned_between(epoch + self.seconds, epoch + self.seconds + clock, clock).first().copied();
            let wake =
                next.map_or(deadline, |at| deadline.min(idle_since + Duration::from_secs(at - epoch - self.seconds)));
            let wake = heartbeat_due.map_or(wake, |due| wake.min(due));
            let Some(frame) = self.next_frame(wake).await? else {
                if tokio::time::Instant::now() >= deadline {
                    return Ok(());
                }
                continue;
            };
            if frame[0] == 2 {
                self.respond(&frame).await?;
            }
        }
    }
}

async fn connect(url: &str, identity: &str, v201: bool) -> Result<Ws, String> {
    let mut request = format!("{url}/{identity}").into_client_request().map_err(|e| e.to_string())?;
    let protocol = if v201 { "ocpp2.0.1" } else { "ocpp1.6" };
    request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse().map_err(|_| "header".to_string())?);
    let (ws, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| format!("{identity}: {e}"))?;
    Ok(ws)
}

/// What one station did: its sessions, its faults, and how many times its network dropped and
/// its power failed.
type StationOutcome = (Vec<SessionRecord>, Vec<(String, String)>, usize, usize);

async fn run_station(config: SimConfig, index: usize) -> Result<StationOutcome, String> {
    let v201 = match config.fleet {
        Fleet::V16 => false,
        Fleet::V201 => true,
        Fleet::Mixed => index % 2 == 1,
    };
    let identity = format!("{}{index}", config.prefix);
    let mut rng = Rng::new(config.seed ^ (index as u64).wrapping_mul(0x1000_0001));
    let ws = connect(&config.url, &identity, v201).await?;
    let register = (rng.unit() * 1_000_000.0) as u64;
    let mut station = SimStation {
        ws,
        url: config.url.clone(),
        identity: identity.clone(),
        offline_queue: None,
        v201,
        next_id: 0,
        timeout: config.call_timeout,
        rng,
        base: std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + index as u64 * 86_400),
        seconds: 0,
        register,
        responder: Responder::new(v201, config.sample_interval, config.clock_aligned_interval),
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
            let code =
                config.fault_codes[(station.rng.next() % config.fault_codes.len().max(1) as u64) as usize].clone();
            station.fault(&code).await?;
            faults.push((identity.clone(), code));
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
            Ok(Err(e)) => report.errors.push(e),
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
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else { continue };
                let call: Value = serde_json::from_str(text.as_str()).expect("JSON");
                let accepted = json!({"status": "Accepted"});
                let answer = match call[2].as_str().unwrap_or_default() {
                    "BootNotification" => {
                        json!([3, call[1], {"status": "Accepted", "interval": 300, "currentTime": "2026-12-05T00:00:00Z"}])
                    }
                    "StartTransaction" if starts.is_empty() => {
                        starts.push(std::time::Instant::now());
                        json!([4, call[1], "InternalError", "not now", {}])
                    }
                    "StartTransaction" => {
                        starts.push(std::time::Instant::now());
                        json!([3, call[1], {"transactionId": 7, "idTagInfo": accepted}])
                    }
                    "Authorize" | "StopTransaction" => json!([3, call[1], {"idTagInfo": accepted}]),
                    _ => json!([3, call[1], {}]),
                };
                ws.send(Message::text(answer.to_string())).await.expect("answer");
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

    #[test]
    fn the_same_seed_gives_the_same_curve() {
        let a: Vec<u64> = curve(&mut Rng::new(7), 30, 60).iter().map(|r| r.energy_wh).collect();
        let b: Vec<u64> = curve(&mut Rng::new(7), 30, 60).iter().map(|r| r.energy_wh).collect();
        let c: Vec<u64> = curve(&mut Rng::new(8), 30, 60).iter().map(|r| r.energy_wh).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[1] >= w[0]), "energy never goes backwards");
    }

    #[test]
    fn the_sample_interval_sets_the_energy_per_sample() {
        let minutes = curve(&mut Rng::new(5), 10, 60);
        let half_minutes = curve(&mut Rng::new(5), 20, 30);
        // Below 80 % the power is constant: twice the samples at half the interval deliver the
        // same energy, give or take rounding.
        let (a, b) = (minutes[9].energy_wh as f64, half_minutes[19].energy_wh as f64);
        assert!((a - b).abs() <= 2.0 && a > 0.0, "{a} vs {b}");
        assert!(half_minutes[0].energy_wh * 2 <= minutes[0].energy_wh + 1);
    }

    #[test]
    fn clock_aligned_instants_are_multiples_of_the_interval() {
        assert_eq!(aligned_between(1_000, 1_300, 120), vec![1_080, 1_200]);
        assert_eq!(aligned_between(1_080, 1_200, 120), vec![1_200], "the start is excluded, the end included");
        assert_eq!(aligned_between(1_000, 1_010, 120), Vec::<u64>::new());
        assert_eq!(aligned_between(1_000, 9_000, 0), Vec::<u64>::new(), "0 turns them off");
    }

    #[test]
    fn only_configured_measurands_are_reported() {
        let reading = Reading { energy_wh: 10, power_w: 7_000.0, soc: 50.0 };
        let all = sampled_16(&reading, 1_010, "Sample.Periodic");
        let kept = only_measurands(all.clone(), "Energy.Active.Import.Register, SoC");
        let names: Vec<&str> = kept.as_array().into_iter().flatten().filter_map(|v| v["measurand"].as_str()).collect();
        assert_eq!(names, ["Energy.Active.Import.Register", "SoC"]);
        assert!(is_empty(&only_measurands(all.clone(), "")));
        assert_eq!(only_measurands(all.clone(), SAMPLED_MEASURANDS), all);
    }

    #[test]
    fn power_tapers_above_80_percent() {
        let readings = curve(&mut Rng::new(1), 600, 60);
        let first = readings[0].power_w;
        let late = readings.iter().find(|r| r.soc >= 95.0).map(|r| r.power_w);
        assert!(late.is_some_and(|p| p < first / 2.0), "{first} vs {late:?}");
    }
}
