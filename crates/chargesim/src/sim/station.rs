//! One simulated station's connection and clock: it connects, boots until accepted, sends its
//! CALLs one at a time and answers the CSMS's calls whenever it waits, keeps real or simulated
//! time, and reconnects (with a bounded back-off) when the connection is lost. Sessions are in
//! `session.rs`, the idle life between them in `linger.rs`; what it sends is built by the
//! version's module (`v16`, `v201`).

use super::energy::{timestamp, Rng};
use super::state::{Report, StationState, Trigger, MESSAGE_ATTEMPTS, MESSAGE_ATTEMPT_INTERVAL};
use super::wire::{reply, Answer, Connector, Incoming, Outgoing, Registration};
use super::{v16, v201};
use crate::Error;
use futures_util::{SinkExt, StreamExt};
use ocpp::{DateTime, OcppVersion};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Boots a station tries before it gives up on a CSMS that keeps it Pending or Rejected.
const MAX_BOOTS: usize = 10;
/// Seconds between boots when a Pending or Rejected answer gives no interval.
const DEFAULT_BOOT_RETRY: u64 = 60;
/// How long a station whose connection was lost keeps trying to reconnect, at least (while it
/// lingers, until its linger ends).
const RECONNECT_WINDOW: Duration = Duration::from_secs(30);
/// The first wait before reconnecting; it doubles after each failed try, up to the cap.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

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

/// Whether an error means the connection is gone (closed, reset), not that the CSMS said no.
fn connection_lost(e: &Error) -> bool {
    matches!(e, Error::Closed { .. } | Error::WebSocket { .. })
}

pub(super) struct SimStation {
    pub(super) ws: Ws,
    pub(super) url: String,
    pub(super) identity: String,
    /// The id token this station's drivers present.
    pub(super) id_tag: String,
    /// Transaction messages held while the network is down, replayed in order on reconnection
    /// (OCPP 1.6 §4.7, 2.0.1 E.FR offline behaviour).
    pub(super) offline_queue: Option<Vec<Outgoing>>,
    pub(super) version: OcppVersion,
    pub(super) next_id: u64,
    /// Transactions begun: a 2.0.1 station's transaction ids are `{identity}-{n}`.
    pub(super) next_tx: u64,
    pub(super) timeout: Duration,
    pub(super) rng: Rng,
    /// Simulated time: sessions run as fast as the CSMS answers and `seconds` moves ahead of
    /// the wall clock. Otherwise the station keeps real time: `seconds` follows the wall clock
    /// since `started`, and the station waits for each reading.
    pub(super) fast: bool,
    /// The wall clock when the station started: its clock is `base` + `seconds`.
    pub(super) base: SystemTime,
    pub(super) started: Instant,
    pub(super) seconds: u64,
    pub(super) register: u64,
    /// The meter as the running session read it: when, the register, the power then (the
    /// session's record carries it, so that a test can price the session from the meter itself).
    pub(super) meter_log: Vec<(DateTime, u64, f64)>,
    pub(super) state: StationState,
    /// When the station last sent anything: a heartbeat is due an interval after it.
    pub(super) last_sent: Instant,
    /// Until when a lost connection is tried again, at least.
    pub(super) linger_until: Instant,
    /// Connections lost and made again.
    pub(super) reconnections: usize,
    /// True once the run is asked to end (Ctrl-C, SIGTERM): the session running ends, no other
    /// begins, lingering stops.
    pub(super) shutdown: tokio::sync::watch::Receiver<bool>,
}

impl SimStation {
    /// The station's clock, as a stamp: in real time never behind the wall clock.
    pub(super) fn at(&self) -> DateTime {
        timestamp(self.base, self.clock_seconds())
    }

    /// The station's clock as a point in time.
    pub(super) fn now(&self) -> SystemTime {
        self.base + Duration::from_secs(self.clock_seconds())
    }

    fn clock_seconds(&self) -> u64 {
        if self.fast {
            self.seconds
        } else {
            self.seconds.max(self.started.elapsed().as_secs())
        }
    }

    pub(super) fn v201(&self) -> bool {
        self.version == OcppVersion::V201
    }

    /// Whether the run is asked to end.
    pub(super) fn ending(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The next frame before `deadline`, reconnecting if the connection is lost; None when the
    /// deadline passes or the run is asked to end first.
    pub(super) async fn next_frame_unless_ending(&mut self, deadline: Instant) -> Result<Option<Incoming>, Error> {
        let mut shutdown = self.shutdown.clone();
        if *shutdown.borrow_and_update() {
            return Ok(None);
        }
        tokio::select! {
            frame = self.next_frame_or_reconnect(deadline) => frame,
            _ = shutdown.changed() => Ok(None),
        }
    }

    /// In real time, catches the station's clock up with the wall clock.
    pub(super) fn sync_clock(&mut self) {
        if !self.fast {
            self.seconds = self.seconds.max(self.started.elapsed().as_secs());
        }
    }

    /// Lets `seconds` of station time pass: at once in simulated time; in real time waiting,
    /// answering the CSMS meanwhile, and (`until_stopped`) ending early when a remote stop
    /// comes or the run is asked to end. The seconds that passed.
    pub(super) async fn pass(&mut self, seconds: u64, until_stopped: bool) -> Result<u64, Error> {
        let from = self.seconds;
        if self.fast {
            self.seconds += seconds;
            return Ok(seconds);
        }
        let deadline = self.started + Duration::from_secs(from + seconds);
        while Instant::now() < deadline && !(until_stopped && (self.state.remote_stop || self.ending())) {
            if let Some(Incoming::Call { id, action, payload }) = self.next_frame_unless_ending(deadline).await? {
                self.respond(&id, &action, &payload).await?;
                self.send_reports().await?;
            }
        }
        self.sync_clock();
        Ok(self.seconds - from)
    }

    /// Sends a CALL and returns its CALLRESULT, decoded by the call's action, answering the
    /// CSMS's own CALLs that arrive meanwhile. A lost connection is made again and the CALL
    /// sent again on it.
    pub(super) async fn call(&mut self, request: Outgoing) -> Result<Answer, Error> {
        loop {
            match self.call_once(&request).await {
                Err(e) if connection_lost(&e) => self.reconnect_after_loss(e).await?,
                other => return other,
            }
        }
    }

    async fn call_once(&mut self, request: &Outgoing) -> Result<Answer, Error> {
        let action = request.action();
        self.next_id += 1;
        let id = format!("sim{}", self.next_id);
        self.send(ocpp::Frame::encode_call(&id, action, &request.to_json()?)).await?;
        loop {
            let frame = self
                .next_frame(Instant::now() + self.timeout)
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

    /// The connection is gone (the CSMS restarted, the network failed): connect again with a
    /// doubling back-off until the linger ends or, at least, for `RECONNECT_WINDOW`. No boot:
    /// the station did not restart (OCPP 1.6 §4.2); it reports its connectors again. `lost` is
    /// returned when it cannot.
    pub(super) async fn reconnect_after_loss(&mut self, lost: Error) -> Result<(), Error> {
        let give_up = self.linger_until.max(Instant::now() + RECONNECT_WINDOW);
        let mut backoff = FIRST_BACKOFF;
        loop {
            if Instant::now() + backoff > give_up {
                return Err(lost);
            }
            tokio::time::sleep(backoff).await;
            if let Ok(ws) = connect(&self.url, &self.identity, self.version).await {
                self.ws = ws;
                self.reconnections += 1;
                self.sync_clock();
                return Box::pin(self.report_connectors()).await;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// A StatusNotification for every connector, as it is now.
    pub(super) async fn report_connectors(&mut self) -> Result<(), Error> {
        for c in 1..=self.state.connectors.count() {
            let status =
                if self.state.connectors.charging(c) { Connector::Charging } else { self.state.idle_status(c) };
            self.status(c, status).await?;
        }
        Ok(())
    }

    /// A transaction-related message: queued while offline, retried on failure, never lost.
    pub(super) async fn tx_call(&mut self, mut request: Outgoing) -> Result<Option<Answer>, Error> {
        if let Some(queue) = &mut self.offline_queue {
            request.mark_offline();
            queue.push(request);
            return Ok(None);
        }
        self.call_with_retries(request).await.map(Some)
    }

    /// Sends a transaction-related message while online, retried on failure.
    pub(super) async fn call_with_retries(&mut self, request: Outgoing) -> Result<Answer, Error> {
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
    pub(super) async fn reconnect(&mut self) -> Result<(), Error> {
        let Some(queue) = self.offline_queue.take() else { return Ok(()) };
        self.ws = connect(&self.url, &self.identity, self.version).await?;
        for request in queue {
            self.tx_call(request).await?;
        }
        Ok(())
    }

    async fn send(&mut self, frame: String) -> Result<(), Error> {
        self.last_sent = Instant::now();
        self.ws
            .send(Message::text(frame))
            .await
            .map_err(|e| Error::WebSocket { identity: self.identity.clone(), source: Box::new(e) })
    }

    /// The next frame before `deadline` (None when it passes).
    pub(super) async fn next_frame(&mut self, deadline: Instant) -> Result<Option<Incoming>, Error> {
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

    /// The next frame before `deadline`, connecting again first if the connection is lost.
    pub(super) async fn next_frame_or_reconnect(&mut self, deadline: Instant) -> Result<Option<Incoming>, Error> {
        match self.next_frame(deadline).await {
            Err(e) if connection_lost(&e) => self.reconnect_after_loss(e).await.map(|()| None),
            other => other,
        }
    }

    /// Answers the CSMS's CALL from the station's state, in its version's types.
    pub(super) async fn respond(&mut self, id: &str, action: &str, payload: &str) -> Result<(), Error> {
        self.sync_clock();
        self.state.now = self.now();
        let answer = match self.version {
            OcppVersion::V16 => v16::respond(&mut self.state, action, payload),
            OcppVersion::V201 => v201::respond(&mut self.state, action, payload),
        };
        self.send(reply(self.version, id, answer)).await
    }

    /// Sends what the answers so far asked to report (connector statuses), and reports the
    /// reservations that expired.
    pub(super) async fn send_reports(&mut self) -> Result<(), Error> {
        for (id, connector) in self.state.connectors.expire_reservations(self.now()) {
            self.state.reports.push(Report::ReservationEnded(id, true));
            self.state.reports.push(Report::Status(connector, self.state.idle_status(connector)));
        }
        for report in std::mem::take(&mut self.state.reports) {
            match report {
                Report::Status(connector, status) => self.status(connector, status).await?,
                // 1.6 has no such message: the Available status says it.
                Report::ReservationEnded(id, expired) if self.v201() => {
                    self.call(v201::reservation_ended(id, expired).into()).await?;
                }
                Report::ReservationEnded(..) => {}
            }
        }
        Ok(())
    }

    pub(super) async fn status(&mut self, connector_id: usize, connector: Connector) -> Result<(), Error> {
        if self.offline_queue.is_some() {
            // Not transaction-related: a station may drop it while offline.
            return Ok(());
        }
        let request = match self.version {
            OcppVersion::V16 => v16::status(connector_id, connector, self.at()).into(),
            OcppVersion::V201 => v201::status(connector_id, connector, self.at()).into(),
        };
        self.call(request).await.map(drop)
    }

    pub(super) async fn heartbeat(&mut self) -> Result<(), Error> {
        let request = match self.version {
            OcppVersion::V16 => v16::heartbeat().into(),
            OcppVersion::V201 => v201::heartbeat().into(),
        };
        self.call(request).await.map(drop)
    }

    /// Boots until the CSMS accepts the station (OCPP 1.6 §4.2, 2.0.1 B01–B03), after a power-up
    /// or (`firmware`) a firmware update. Pending: it waits the interval the CSMS gave,
    /// answering the CSMS's CALLs meanwhile, and boots at once when a TriggerMessage asks for
    /// it. Rejected: it waits the interval without a word. Then it boots again, up to
    /// `MAX_BOOTS` times. Accepted: the interval is its heartbeat interval, and it reports its
    /// connectors.
    pub(super) async fn boot(&mut self, firmware: bool) -> Result<(), Error> {
        let boot: Outgoing = match self.version {
            OcppVersion::V16 => v16::boot().into(),
            OcppVersion::V201 => v201::boot_because(firmware).into(),
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
                    return self.report_connectors().await;
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
        let started = Instant::now();
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
        if self.fast {
            self.seconds += started.elapsed().as_secs();
        }
        self.sync_clock();
        Ok(())
    }

    /// Restarts: the connection closes, a new one is made and the station boots again.
    pub(super) async fn reboot(&mut self, firmware: bool) -> Result<(), Error> {
        let _ = self.ws.close(None).await;
        self.ws = connect(&self.url, &self.identity, self.version).await?;
        self.boot(firmware).await
    }
}
