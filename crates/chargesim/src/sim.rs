//! `strom sim`: a fleet of simulated stations (OCPP 1.6, 2.0.1 or mixed) that boot, report
//! their connectors, and run charging sessions with a realistic energy curve (power taper,
//! per-phase voltage and current, state of charge), injecting faults between sessions and
//! clearing them. Repeatable: all randomness comes from the seed. The summary says what every
//! simulated meter delivered, so a CSMS's stored energy can be checked against it.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
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
    /// Meter samples per session (simulated minutes apart).
    pub samples_per_session: usize,
    /// Share of stations (0–1) that report a fault, and its clearing, between sessions.
    pub fault_share: f64,
    pub prefix: String,
    /// The id tag sessions authorize with.
    pub id_tag: String,
    pub call_timeout: Duration,
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

struct Link {
    ws: Ws,
    next_id: u64,
    timeout: Duration,
    v201: bool,
}

impl Link {
    /// Sends a CALL and returns its CALLRESULT payload; a CSMS CALL arriving meanwhile is
    /// answered NotImplemented (the command responder is a later piece of this simulator).
    async fn call(&mut self, action: &str, payload: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = format!("sim{}", self.next_id);
        let frame = json!([2, id, action, payload]).to_string();
        self.ws.send(Message::text(frame)).await.map_err(|e| e.to_string())?;
        loop {
            let message = tokio::time::timeout(self.timeout, self.ws.next())
                .await
                .map_err(|_| format!("{action}: no answer within {:?}", self.timeout))?
                .ok_or_else(|| format!("{action}: connection closed"))?
                .map_err(|e| e.to_string())?;
            let Message::Text(text) = message else { continue };
            let frame: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
            match frame[0].as_u64() {
                Some(3) if frame[1] == id.as_str() => return Ok(frame[2].clone()),
                Some(4) if frame[1] == id.as_str() => return Err(format!("{action}: CALLERROR {}", frame[2])),
                Some(2) => {
                    let error =
                        json!([4, frame[1], "NotImplemented", "the simulator does not answer commands yet", {}]);
                    self.ws.send(Message::text(error.to_string())).await.map_err(|e| e.to_string())?;
                }
                _ => {}
            }
        }
    }
}

/// Simulated time: sessions are laid out minute by minute from a fixed start per station, so
/// runs with the same seed produce the same readings.
fn timestamp(base: SystemTime, minutes: u64) -> String {
    ocpp::DateTime((base + Duration::from_secs(minutes * 60)).into()).to_string()
}

struct Reading {
    energy_wh: u64,
    power_w: f64,
    soc: f64,
}

/// The energy curve of one session: constant power up to 80 % state of charge, then tapering.
fn curve(rng: &mut Rng, samples: usize) -> Vec<Reading> {
    let max_power = 7_400.0 + rng.unit() * 3_600.0;
    let capacity_wh = 40_000.0 + rng.unit() * 40_000.0;
    let mut soc = 0.15 + rng.unit() * 0.4;
    let mut energy = 0.0;
    (0..samples)
        .map(|_| {
            let power = if soc < 0.8 { max_power } else { max_power * ((1.0 - soc) / 0.2).max(0.05) };
            let wh = power / 60.0; // one minute
            energy += wh;
            soc = (soc + wh / capacity_wh).min(1.0);
            Reading { energy_wh: energy.round() as u64, power_w: power.round(), soc: (soc * 100.0).round() }
        })
        .collect()
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

async fn run_station(config: SimConfig, index: usize) -> Result<(Vec<SessionRecord>, Vec<(String, String)>), String> {
    let v201 = match config.fleet {
        Fleet::V16 => false,
        Fleet::V201 => true,
        Fleet::Mixed => index % 2 == 1,
    };
    let identity = format!("{}{index}", config.prefix);
    let mut rng = Rng::new(config.seed ^ (index as u64).wrapping_mul(0x1000_0001));
    let mut request = format!("{}/{identity}", config.url).into_client_request().map_err(|e| e.to_string())?;
    let protocol = if v201 { "ocpp2.0.1" } else { "ocpp1.6" };
    request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse().map_err(|_| "header".to_string())?);
    let (ws, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| format!("{identity}: {e}"))?;
    let mut link = Link { ws, next_id: 0, timeout: config.call_timeout, v201 };
    let base = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + index as u64 * 86_400);
    let boot = if v201 {
        json!({"reason": "PowerUp", "chargingStation": {"vendorName": "chargesim", "model": "sim-201"}})
    } else {
        json!({"chargePointVendor": "chargesim", "chargePointModel": "sim-16"})
    };
    let answer = link.call("BootNotification", boot).await?;
    if answer["status"] != "Accepted" {
        return Err(format!("{identity}: boot {}", answer["status"]));
    }
    let status = |link: &Link, minute: u64, status16: &str, status201: &str, error: &str| {
        if link.v201 {
            json!({"timestamp": timestamp(base, minute), "connectorStatus": status201, "evseId": 1, "connectorId": 1})
        } else {
            json!({"connectorId": 1, "status": status16, "errorCode": error, "timestamp": timestamp(base, minute)})
        }
    };
    link.call("StatusNotification", status(&link, 0, "Available", "Available", "NoError")).await?;
    let mut register: u64 = (rng.unit() * 1_000_000.0) as u64;
    let mut minute = 1;
    let mut sessions = Vec::new();
    let mut faults = Vec::new();
    for session in 0..config.sessions_per_station {
        let readings = curve(&mut rng, config.samples_per_session.max(1));
        let start_register = register;
        link.call("StatusNotification", status(&link, minute, "Preparing", "Occupied", "NoError")).await?;
        let tx_id = if link.v201 {
            let tx = format!("{identity}-{session}");
            let begin = json!([{"timestamp": timestamp(base, minute), "sampledValue": sampled_201(&readings[0], register, "Transaction.Begin")}]);
            let event = json!({"eventType": "Started", "timestamp": timestamp(base, minute), "triggerReason": "Authorized", "seqNo": 0,
                "transactionInfo": {"transactionId": tx, "chargingState": "Charging"}, "idToken": {"idToken": config.id_tag, "type": "ISO14443"},
                "evse": {"id": 1, "connectorId": 1}, "meterValue": begin});
            link.call("TransactionEvent", event).await?;
            tx
        } else {
            link.call("Authorize", json!({"idTag": config.id_tag})).await?;
            let start = json!({"connectorId": 1, "idTag": config.id_tag, "meterStart": register, "timestamp": timestamp(base, minute)});
            let answer = link.call("StartTransaction", start).await?;
            link.call("StatusNotification", status(&link, minute, "Charging", "Occupied", "NoError")).await?;
            answer["transactionId"].as_i64().ok_or("StartTransaction without transactionId")?.to_string()
        };
        let last = readings.len() - 1;
        for (i, reading) in readings.iter().enumerate() {
            minute += 1;
            let now_register = start_register + reading.energy_wh;
            if i == last {
                register = now_register;
                break;
            }
            if link.v201 {
                let mv = json!([{"timestamp": timestamp(base, minute), "sampledValue": sampled_201(reading, now_register, "Sample.Periodic")}]);
                let event = json!({"eventType": "Updated", "timestamp": timestamp(base, minute), "triggerReason": "MeterValuePeriodic",
                    "seqNo": i + 1, "transactionInfo": {"transactionId": tx_id}, "meterValue": mv});
                link.call("TransactionEvent", event).await?;
            } else {
                let mv = json!({"connectorId": 1, "transactionId": tx_id.parse::<i64>().unwrap_or(0),
                    "meterValue": [{"timestamp": timestamp(base, minute), "sampledValue": sampled_16(reading, now_register, "Sample.Periodic")}]});
                link.call("MeterValues", mv).await?;
            }
        }
        if link.v201 {
            let end = json!([{"timestamp": timestamp(base, minute), "sampledValue": sampled_201(&readings[last], register, "Transaction.End")}]);
            let event = json!({"eventType": "Ended", "timestamp": timestamp(base, minute), "triggerReason": "EVDeparted", "seqNo": last + 1,
                "transactionInfo": {"transactionId": tx_id, "stoppedReason": "EVDisconnected"}, "meterValue": end});
            link.call("TransactionEvent", event).await?;
        } else {
            let stop = json!({"transactionId": tx_id.parse::<i64>().unwrap_or(0), "meterStop": register, "timestamp": timestamp(base, minute),
                "reason": "EVDisconnected"});
            link.call("StopTransaction", stop).await?;
            link.call("StatusNotification", status(&link, minute, "Finishing", "Occupied", "NoError")).await?;
        }
        link.call("StatusNotification", status(&link, minute, "Available", "Available", "NoError")).await?;
        sessions.push(SessionRecord {
            station: identity.clone(),
            version: if link.v201 { "2.0.1" } else { "1.6" },
            transaction_id: tx_id,
            energy_wh: register - start_register,
        });
        minute += 1;
        if rng.unit() < config.fault_share {
            let code =
                ["HighTemperature", "OverVoltage", "PowerMeterFailure", "GroundFailure"][(rng.next() % 4) as usize];
            inject_fault(&mut link, base, minute, code).await?;
            faults.push((identity.clone(), code.to_string()));
            minute += 1;
        }
    }
    let _ = link.ws.close(None).await;
    Ok((sessions, faults))
}

/// A fault reported and, a simulated minute later, cleared: 1.6 through StatusNotification,
/// 2.0.1 through NotifyEvent on the connector's Problem variable.
async fn inject_fault(link: &mut Link, base: SystemTime, minute: u64, code: &str) -> Result<(), String> {
    if link.v201 {
        for (value, at) in [("true", minute), ("false", minute + 1)] {
            let event = json!({"generatedAt": timestamp(base, at), "seqNo": 0, "eventData": [{"eventId": at, "timestamp": timestamp(base, at),
                "trigger": "Delta", "actualValue": value, "techCode": code, "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                "variable": {"name": "Problem"}, "eventNotificationType": "HardWiredNotification"}]});
            link.call("NotifyEvent", event).await?;
        }
    } else {
        let faulted =
            json!({"connectorId": 1, "status": "Faulted", "errorCode": code, "timestamp": timestamp(base, minute)});
        link.call("StatusNotification", faulted).await?;
        let cleared = json!({"connectorId": 1, "status": "Available", "errorCode": "NoError", "timestamp": timestamp(base, minute + 1)});
        link.call("StatusNotification", cleared).await?;
    }
    Ok(())
}

pub async fn run(config: SimConfig) -> SimReport {
    let tasks: Vec<_> = (0..config.stations).map(|i| tokio::spawn(run_station(config.clone(), i))).collect();
    let mut report = SimReport { stations: config.stations, ..Default::default() };
    for task in tasks {
        match task.await {
            Ok(Ok((sessions, faults))) => {
                report.booted += 1;
                report.sessions.extend(sessions);
                report.faults.extend(faults);
            }
            Ok(Err(e)) => report.errors.push(e),
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_curve() {
        let a: Vec<u64> = curve(&mut Rng::new(7), 30).iter().map(|r| r.energy_wh).collect();
        let b: Vec<u64> = curve(&mut Rng::new(7), 30).iter().map(|r| r.energy_wh).collect();
        let c: Vec<u64> = curve(&mut Rng::new(8), 30).iter().map(|r| r.energy_wh).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[1] >= w[0]), "energy never goes backwards");
    }

    #[test]
    fn power_tapers_above_80_percent() {
        let readings = curve(&mut Rng::new(1), 600);
        let first = readings[0].power_w;
        let late = readings.iter().find(|r| r.soc >= 95.0).map(|r| r.power_w);
        assert!(late.is_some_and(|p| p < first / 2.0), "{first} vs {late:?}");
    }
}
