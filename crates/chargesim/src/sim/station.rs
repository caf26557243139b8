//! One simulated station's loop: it connects, boots until accepted, charges sessions along the
//! energy curve, reports faults, survives network drops and power losses, and answers the CSMS's
//! calls whenever it waits. What it sends is built by the version's module (`v16`, `v201`).

use super::energy::{aligned_between, curve, measure, timestamp, Context, Measurand, Reading, Rng};
use super::state::{
    StationState, Trigger, ALIGNED_DATA, ALIGNED_MEASURANDS, CLOCK_ALIGNED_INTERVAL, MESSAGE_ATTEMPTS,
    MESSAGE_ATTEMPT_INTERVAL, SAMPLED_DATA, SAMPLED_MEASURANDS, SAMPLE_INTERVAL,
};
use super::wire::{reply, Answer, Connector, Incoming, Outgoing, Registration, Stop};
use super::{v16, v201, SessionRecord};
use crate::Error;
use futures_util::{SinkExt, StreamExt};
use ocpp::{DateTime, OcppVersion};
use std::time::{Duration, SystemTime};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Boots a station tries before it gives up on a CSMS that keeps it Pending or Rejected.
const MAX_BOOTS: usize = 10;
/// Seconds between boots when a Pending or Rejected answer gives no interval.
const DEFAULT_BOOT_RETRY: u64 = 60;

/// What goes wrong during a session, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Interruption {
    None,
    /// The network fails; transaction messages are held and replayed.
    NetworkDrop,
    /// The power fails; the station reboots and ends the session with reason PowerLoss.
    PowerLoss,
}

/// A reading as the station reports it: when, the register then, and why.
struct Sample<'a> {
    at: DateTime,
    reading: &'a Reading,
    register: u64,
    context: Context,
}

pub(super) async fn connect(url: &str, identity: &str, version: OcppVersion) -> Result<Ws, Error> {
    let boxed = |e| Box::new(e);
    let mut request = format!("{url}/{identity}")
        .into_client_request()
        .map_err(|e| Error::Url { identity: identity.into(), source: boxed(e) })?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", http_value(version.subprotocol()));
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| Error::Connect { identity: identity.into(), source: boxed(e) })?;
    Ok(ws)
}

/// A subprotocol name as a header value; both are plain ASCII tokens.
fn http_value(name: &'static str) -> tokio_tungstenite::tungstenite::http::HeaderValue {
    tokio_tungstenite::tungstenite::http::HeaderValue::from_static(name)
}

pub(super) struct SimStation {
    pub(super) ws: Ws,
    pub(super) url: String,
    pub(super) identity: String,
    /// Transaction messages held while the network is down, replayed in order on reconnection
    /// (OCPP 1.6 §4.7, 2.0.1 E.FR offline behaviour).
    pub(super) offline_queue: Option<Vec<Outgoing>>,
    pub(super) version: OcppVersion,
    pub(super) next_id: u64,
    pub(super) timeout: Duration,
    pub(super) rng: Rng,
    pub(super) base: SystemTime,
    /// Simulated seconds since `base`.
    pub(super) seconds: u64,
    pub(super) register: u64,
    pub(super) state: StationState,
    /// When the station last sent anything: a heartbeat is due an interval after it.
    pub(super) last_sent: tokio::time::Instant,
}

impl SimStation {
    fn at(&self) -> DateTime {
        timestamp(self.base, self.seconds)
    }

    fn v201(&self) -> bool {
        self.version == OcppVersion::V201
    }

    /// Sends a CALL and returns its CALLRESULT, decoded by the call's action, answering the
    /// CSMS's own CALLs that arrive meanwhile.
    async fn call(&mut self, request: Outgoing) -> Result<Answer, Error> {
        let action = request.action();
        self.next_id += 1;
        let id = format!("sim{}", self.next_id);
        self.send(ocpp::Frame::encode_call(&id, action, &request.to_json()?)).await?;
        loop {
            let frame = self
                .next_frame(tokio::time::Instant::now() + self.timeout)
                .await?
                .ok_or_else(|| Error::NoAnswer { identity: self.identity.clone(), action })?;
            match frame {
                Incoming::Result { id: got, payload } if got == id => {
                    return request.decode_answer(&payload).map_err(|source| Error::Answer {
                        identity: self.identity.clone(),
                        action,
                        source,
                    })
                }
                Incoming::Error { id: got, code, description } if got == id => {
                    return Err(Error::CallError { identity: self.identity.clone(), action, code, description })
                }
                Incoming::Call { id, action, payload } => self.respond(&id, &action, &payload).await?,
                _ => {}
            }
        }
    }

    /// A transaction-related message: queued while offline, retried on failure, never lost.
    async fn tx_call(&mut self, mut request: Outgoing) -> Result<(), Error> {
        if let Some(queue) = &mut self.offline_queue {
            request.mark_offline();
            queue.push(request);
            return Ok(());
        }
        self.call_with_retries(request).await.map(drop)
    }

    /// Sends a transaction-related message while online, retried on failure.
    async fn call_with_retries(&mut self, request: Outgoing) -> Result<Answer, Error> {
        // Tried up to TransactionMessageAttempts (2.0.1: MessageAttempts) times after a
        // CALLERROR or no answer, waiting TransactionMessageRetryInterval (MessageAttemptInterval)
        // seconds times the tries so far in between (OCPP 1.6 §4.10, 2.0.1 E.FR.05–06).
        let attempts = self.state.seconds(MESSAGE_ATTEMPTS).max(1);
        let interval = self.state.seconds(MESSAGE_ATTEMPT_INTERVAL);
        let mut attempt = 1;
        loop {
            match self.call(request.clone()).await {
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
    async fn reconnect(&mut self) -> Result<(), Error> {
        let Some(queue) = self.offline_queue.take() else { return Ok(()) };
        self.ws = connect(&self.url, &self.identity, self.version).await?;
        for request in queue {
            self.tx_call(request).await?;
        }
        Ok(())
    }

    async fn send(&mut self, frame: String) -> Result<(), Error> {
        self.last_sent = tokio::time::Instant::now();
        self.ws
            .send(Message::text(frame))
            .await
            .map_err(|e| Error::WebSocket { identity: self.identity.clone(), source: Box::new(e) })
    }

    /// The next frame before `deadline` (None when it passes).
    async fn next_frame(&mut self, deadline: tokio::time::Instant) -> Result<Option<Incoming>, Error> {
        loop {
            let message = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Ok(None),
                Ok(None) => return Err(Error::Closed { identity: self.identity.clone() }),
                Ok(Some(m)) => {
                    m.map_err(|e| Error::WebSocket { identity: self.identity.clone(), source: Box::new(e) })?
                }
            };
            if let Message::Text(text) = message {
                return Incoming::parse(text.as_str())
                    .map(Some)
                    .map_err(|source| Error::Frame { identity: self.identity.clone(), source });
            }
        }
    }

    /// Answers the CSMS's CALL from the station's state, in its version's types.
    async fn respond(&mut self, id: &str, action: &str, payload: &str) -> Result<(), Error> {
        let answer = match self.version {
            OcppVersion::V16 => v16::respond(&mut self.state, action, payload),
            OcppVersion::V201 => v201::respond(&mut self.state, action, payload),
        };
        self.send(reply(self.version, id, answer)).await
    }

    async fn status(&mut self, connector: Connector) -> Result<(), Error> {
        if self.offline_queue.is_some() {
            // Not transaction-related: a station may drop it while offline.
            return Ok(());
        }
        let request = match self.version {
            OcppVersion::V16 => v16::status(connector, self.at()).into(),
            OcppVersion::V201 => v201::status(connector, self.at()).into(),
        };
        self.call(request).await.map(drop)
    }

    async fn heartbeat(&mut self) -> Result<(), Error> {
        let request = match self.version {
            OcppVersion::V16 => v16::heartbeat().into(),
            OcppVersion::V201 => v201::heartbeat().into(),
        };
        self.call(request).await.map(drop)
    }

    /// Boots until the CSMS accepts the station (OCPP 1.6 §4.2, 2.0.1 B01–B03). Pending: it
    /// waits the interval the CSMS gave, answering the CSMS's CALLs meanwhile, and boots at once
    /// when a TriggerMessage asks for it. Rejected: it waits the interval without a word. Then
    /// it boots again, up to `MAX_BOOTS` times. Accepted: the interval is its heartbeat interval.
    pub(super) async fn boot(&mut self) -> Result<(), Error> {
        let boot: Outgoing = match self.version {
            OcppVersion::V16 => v16::boot().into(),
            OcppVersion::V201 => v201::boot().into(),
        };
        for _ in 0..MAX_BOOTS {
            let answer = self.call(boot.clone()).await?;
            // Decoded as the boot's answer, it always has a registration.
            let (registration, interval) = answer.registration().unwrap_or((Registration::Rejected, 0));
            let interval = u64::try_from(interval).unwrap_or(0);
            let pending = match registration {
                Registration::Accepted => {
                    if interval > 0 {
                        self.state.set_heartbeat_interval(interval);
                    }
                    return self.status(Connector::Available).await;
                }
                Registration::Pending => true,
                Registration::Rejected => false,
            };
            let wait = if interval > 0 { interval } else { DEFAULT_BOOT_RETRY };
            self.wait_to_boot_again(pending, Duration::from_secs(wait)).await?;
        }
        Err(Error::NotAccepted { identity: self.identity.clone(), boots: MAX_BOOTS })
    }

    /// Waits `wait` (real time; the simulated clock moves with it) before the next boot. A
    /// Pending station answers the CSMS's CALLs and stops waiting when it is asked to boot; a
    /// Rejected one leaves them unanswered.
    async fn wait_to_boot_again(&mut self, pending: bool, wait: Duration) -> Result<(), Error> {
        let started = tokio::time::Instant::now();
        let deadline = started + wait;
        while let Some(frame) = self.next_frame(deadline).await? {
            let Incoming::Call { id, action, payload } = frame else { continue };
            if !pending {
                continue;
            }
            self.respond(&id, &action, &payload).await?;
            if self.state.trigger == Some(Trigger::BootNotification) {
                self.state.trigger = None;
                break;
            }
        }
        self.seconds += started.elapsed().as_secs();
        Ok(())
    }

    /// One charging session; `remote` when the CSMS started it. It ends after `samples` meter
    /// readings, or earlier when the CSMS asks it to stop.
    pub(super) async fn charge(
        &mut self,
        id_tag: &str,
        session: usize,
        samples: usize,
        remote: Option<i64>,
        interruption: Interruption,
    ) -> Result<SessionRecord, Error> {
        // The station's configuration as the session starts (the CSMS may have changed it).
        let step = self.state.seconds(SAMPLE_INTERVAL).max(1);
        let clock = self.state.seconds(CLOCK_ALIGNED_INTERVAL);
        let sampled = Measurand::list(self.state.setting(SAMPLED_DATA));
        let aligned = Measurand::list(self.state.setting(ALIGNED_DATA));
        // Begin and end readings carry everything the meter has.
        let everything = Measurand::list(SAMPLED_MEASURANDS);
        let epoch = self.epoch();
        let readings = curve(&mut self.rng, samples.max(1), step);
        // Where it happens: after the start, at one of the session's readings.
        let span = readings.len().saturating_sub(1).max(1);
        let interrupt_at = (interruption != Interruption::None)
            .then(|| (1 + (self.rng.next() as usize) % span).min(readings.len() - 1));
        let mut power_lost = false;
        let start_register = self.register;
        self.seconds += 60;
        self.status(Connector::Preparing).await?;
        let tx_id = match self.version {
            OcppVersion::V201 => {
                let tx = format!("{}-{session}", self.identity);
                let begin = measure(&readings[0], self.register, &everything);
                self.call_with_retries(v201::started(&tx, id_tag, self.at(), remote, &begin).into()).await?;
                tx
            }
            OcppVersion::V16 => {
                self.call(v16::authorize(id_tag).into()).await?;
                let answer = self.call_with_retries(v16::start(id_tag, self.register, self.at()).into()).await?;
                self.status(Connector::Charging).await?;
                // Decoded as StartTransaction's answer, it always has the id.
                answer.transaction_id().unwrap_or(0).to_string()
            }
        };
        self.state.active_tx = Some(tx_id.clone());
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
                let taken =
                    Sample { at: timestamp(self.base, at - epoch), reading, register, context: Context::SampleClock };
                self.send_sample(&tx_id, &mut seq_no, taken, &aligned).await?;
            }
            previous_wh = reading.energy_wh;
            if i == last || self.state.remote_stop {
                last = i;
                self.register = now_register;
                break;
            }
            let taken = Sample { at: self.at(), reading, register: now_register, context: Context::SamplePeriodic };
            self.send_sample(&tx_id, &mut seq_no, taken, &sampled).await?;
        }
        let stopped_remotely = std::mem::take(&mut self.state.remote_stop);
        if power_lost {
            // Back on power: a new connection and a boot; the stop comes after it (TC_032_1).
            self.seconds += 60;
            self.ws = connect(&self.url, &self.identity, self.version).await?;
            self.boot().await?;
        }
        let why = match (power_lost, stopped_remotely) {
            (true, _) => Stop::PowerLoss,
            (false, true) => Stop::Remote,
            (false, false) => Stop::EvDisconnected,
        };
        match self.version {
            OcppVersion::V201 => {
                let end = measure(&readings[last], self.register, &everything);
                self.tx_call(v201::ended(&tx_id, seq_no + 1, self.at(), why, end).into()).await?;
            }
            OcppVersion::V16 => {
                let stop = v16::stop(tx_id.parse().unwrap_or(0), self.register, self.at(), why);
                self.tx_call(stop.into()).await?;
                self.status(Connector::Finishing).await?;
            }
        }
        self.reconnect().await?;
        self.state.active_tx = None;
        self.status(Connector::Available).await?;
        Ok(SessionRecord {
            station: self.identity.clone(),
            version: if self.v201() { "2.0.1" } else { "1.6" },
            transaction_id: tx_id,
            energy_wh: self.register - start_register,
        })
    }

    /// `base` in seconds since the epoch, which clock-aligned instants are counted from.
    fn epoch(&self) -> u64 {
        self.base.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// Reports a reading taken during transaction `tx_id` (1.6 MeterValues, 2.0.1 a
    /// TransactionEvent Updated with the next `seq_no`), with the `measurands` the station is
    /// configured to report; nothing when none of them is there.
    async fn send_sample(
        &mut self,
        tx_id: &str,
        seq_no: &mut i64,
        sample: Sample<'_>,
        measurands: &[Measurand],
    ) -> Result<(), Error> {
        let Sample { at, reading, register, context } = sample;
        let values = measure(reading, register, measurands);
        if values.is_empty() {
            return Ok(());
        }
        *seq_no += 1;
        let request = match self.version {
            OcppVersion::V201 => v201::updated(tx_id, *seq_no, at, &values, context).into(),
            OcppVersion::V16 => v16::meter_values(Some(tx_id.parse().unwrap_or(0)), at, &values, context).into(),
        };
        self.tx_call(request).await
    }

    /// Reports the meter of an idle connector (no transaction): at a clock-aligned instant, or
    /// because the CSMS asked for it with TriggerMessage.
    async fn idle_reading(&mut self, at: DateTime, context: Context) -> Result<(), Error> {
        // Nothing flows and no EV is plugged in: of what is configured, the register and power.
        let idle = Measurand::list(ALIGNED_MEASURANDS);
        let wanted: Vec<Measurand> =
            Measurand::list(self.state.setting(ALIGNED_DATA)).into_iter().filter(|m| idle.contains(m)).collect();
        let values = measure(&Reading::IDLE, self.register, &wanted);
        if values.is_empty() {
            return Ok(());
        }
        let request = match self.version {
            OcppVersion::V201 => v201::meter_values(at, &values, context).into(),
            OcppVersion::V16 => v16::meter_values(None, at, &values, context).into(),
        };
        self.call(request).await.map(drop)
    }

    /// A fault reported and, a simulated minute later, cleared: 1.6 through StatusNotification,
    /// 2.0.1 through NotifyEvent on the connector's Problem variable.
    pub(super) async fn fault(&mut self, code: ocpp::v16::StatusNotificationErrorCode) -> Result<(), Error> {
        self.seconds += 60;
        match self.version {
            OcppVersion::V201 => {
                for raised in [true, false] {
                    let event = v201::fault(self.seconds as i64, self.at(), raised, code.as_str());
                    self.call(event.into()).await?;
                    self.seconds += 60;
                }
            }
            OcppVersion::V16 => {
                self.status(Connector::Faulted(code)).await?;
                self.seconds += 60;
                self.status(Connector::Available).await?;
            }
        }
        Ok(())
    }

    /// Stays connected until `deadline`, answering the CSMS and doing what it asked: a remote
    /// start charges a session, a reset reboots, a trigger sends the message.
    pub(super) async fn linger(
        &mut self,
        deadline: tokio::time::Instant,
        samples: usize,
        sessions: &mut Vec<SessionRecord>,
    ) -> Result<(), Error> {
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
                let clock = self.state.seconds(CLOCK_ALIGNED_INTERVAL);
                for at in aligned_between(epoch + from, epoch + self.seconds, clock) {
                    self.idle_reading(timestamp(self.base, at - epoch), Context::SampleClock).await?;
                }
            }
            if let Some(start) = self.state.remote_start.take() {
                // A 1.6 remote start carries no id: the session is remote all the same.
                let remote = Some(start.remote_start_id.unwrap_or(0));
                let record = self.charge(&start.id_token, sessions.len(), samples, remote, Interruption::None).await?;
                sessions.push(record);
                idle_since = tokio::time::Instant::now();
                continue;
            }
            if std::mem::take(&mut self.state.reboot) {
                self.seconds += 60;
                self.boot().await?;
                continue;
            }
            if let Some(message) = self.state.trigger.take() {
                match message {
                    Trigger::BootNotification => self.boot().await?,
                    Trigger::Heartbeat => self.heartbeat().await?,
                    Trigger::MeterValues => self.idle_reading(self.at(), Context::Trigger).await?,
                    Trigger::StatusNotification => self.status(Connector::Available).await?,
                }
                continue;
            }
            // A heartbeat once nothing was sent for the heartbeat interval (2.0.1 B05: other
            // messages may stand in for it).
            let heartbeat = self.state.seconds(super::state::HEARTBEAT_INTERVAL);
            let heartbeat_due = (heartbeat > 0).then(|| self.last_sent + Duration::from_secs(heartbeat));
            let now = tokio::time::Instant::now();
            if now < deadline && heartbeat_due.is_some_and(|due| due <= now) {
                self.heartbeat().await?;
                continue;
            }
            // Wake for the next clock-aligned reading or heartbeat, if one falls due before the
            // deadline.
            let clock = self.state.seconds(CLOCK_ALIGNED_INTERVAL);
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
            if let Incoming::Call { id, action, payload } = frame {
                self.respond(&id, &action, &payload).await?;
            }
        }
    }
}
