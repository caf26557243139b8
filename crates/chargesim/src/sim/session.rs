//! One charging session as a station runs it: the driver's token is authorized (a refused
//! token charges nothing), the transaction starts on a free connector (a start the CSMS
//! refuses is stopped at once, DeAuthorized), the EV charges within the active charging
//! profile's limit with a reading every sample interval (and at clock-aligned instants), and
//! the session ends when the EV leaves, the CSMS stops it, or the power fails.

use super::energy::{aligned_between, measure, timestamp, Context, Ev, Measurand, Reading};
use super::state::{Key, ALIGNED_DATA, CLOCK_ALIGNED_INTERVAL, SAMPLED_DATA, SAMPLED_MEASURANDS, SAMPLE_INTERVAL};
use super::station::{connect, SimStation};
use super::v201::Origin;
use super::wire::{Connector, Stop};
use super::{v16, v201, Refusal, SessionRecord};
use crate::Error;
use ocpp::{DateTime, OcppVersion};

/// Whether a remote start is authorized first: AuthorizeRemoteTxRequests (2.0.1
/// AuthCtrlr.AuthorizeRemoteStart), false unless the CSMS sets it.
const AUTHORIZE_REMOTE: Key = Key::new("AuthorizeRemoteTxRequests", "AuthCtrlr.AuthorizeRemoteStart");

/// What goes wrong during a session, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Interruption {
    None,
    /// The network fails; transaction messages are held and replayed.
    NetworkDrop,
    /// The power fails; the station reboots and ends the session with reason PowerLoss.
    PowerLoss,
}

/// A session to run: where, for whom, started how, and for how long.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) connector: usize,
    pub(super) id_tag: String,
    /// The CSMS started it (2.0.1: with this remoteStartId; 1.6 has none, so 0).
    pub(super) remote: Option<i64>,
    /// Station seconds the EV charges unless the session is stopped or interrupted.
    pub(super) seconds: u64,
    pub(super) interruption: Interruption,
}

/// What became of a session: a transaction (charged, or stopped at once because the CSMS
/// refused its start), and the refusal if there was one (at Authorize, no transaction).
#[derive(Debug, Default)]
pub(super) struct SessionOutcome {
    pub(super) record: Option<SessionRecord>,
    pub(super) refusal: Option<Refusal>,
}

/// A reading as the station reports it: when, the register then, and why.
struct Sample<'a> {
    at: DateTime,
    reading: &'a Reading,
    register: u64,
    context: Context,
}

impl SimStation {
    /// Runs the session `plan` describes.
    pub(super) async fn charge(&mut self, plan: Plan) -> Result<SessionOutcome, Error> {
        self.sync_clock();
        let connector = plan.connector;
        self.state.connectors.set_charging(connector, true);
        self.status(connector, Connector::Preparing).await?;
        if self.fast {
            self.seconds += 60;
        }
        let authorize_first = plan.remote.is_none() || self.state.setting(AUTHORIZE_REMOTE) == "true";
        if authorize_first {
            let request = match self.version {
                OcppVersion::V16 => v16::authorize(&plan.id_tag).into(),
                OcppVersion::V201 => v201::authorize(&plan.id_tag).into(),
            };
            let status = self.call(request).await?.token_status().unwrap_or("Accepted");
            if status != "Accepted" {
                // The driver's token is refused: no transaction, the connector is free again.
                self.state.connectors.session_ended(connector);
                let idle = self.state.idle_status(connector);
                self.status(connector, idle).await?;
                return Ok(SessionOutcome { record: None, refusal: Some(self.refusal(&plan, "Authorize", status)) });
            }
        }
        let reservation = self.state.connectors.take_reservation(connector, &plan.id_tag);
        let mut ev = Ev::new(&mut self.rng);
        let everything = Measurand::list(SAMPLED_MEASURANDS);
        let start_register = self.register;
        self.meter_log.clear();
        self.meter_log.push((self.at(), start_register, 0.0));
        self.next_tx += 1;
        let (tx_id, status) = match self.version {
            OcppVersion::V201 => {
                let tx = format!("{}-{}", self.identity, self.next_tx - 1);
                let begin = measure(&ev.plugged_in(), self.register, &everything);
                let origin = Origin { connector, remote: plan.remote, reservation };
                let answer =
                    self.call_with_retries(v201::started(&tx, &plan.id_tag, self.at(), origin, &begin).into()).await?;
                (tx, answer.token_status().unwrap_or("Accepted"))
            }
            OcppVersion::V16 => {
                let start = v16::start(connector, &plan.id_tag, self.register, self.at(), reservation);
                let answer = self.call_with_retries(start.into()).await?;
                // Decoded as StartTransaction's answer, it always has the id and the status.
                let tx = answer.transaction_id().unwrap_or(0).to_string();
                (tx, answer.token_status().unwrap_or("Accepted"))
            }
        };
        self.state.active_tx = Some(tx_id.clone());
        if status != "Accepted" {
            // Refused at the start: stopped at once with nothing delivered
            // (StopTransactionOnInvalidId, 2.0.1 StopTxOnInvalidId).
            let end = measure(&ev.plugged_in(), self.register, &everything);
            self.end(&tx_id, connector, 1, Stop::DeAuthorized, &end).await?;
            let record = self.record(&plan, tx_id, 0, Stop::DeAuthorized, false);
            return Ok(SessionOutcome { record: Some(record), refusal: Some(self.refusal(&plan, "Start", status)) });
        }
        if self.version == OcppVersion::V16 {
            self.status(connector, Connector::Charging).await?;
        }
        let (why, seq_no, last) = self.run(&plan, &tx_id, &mut ev, start_register).await?;
        let end = measure(&last, self.register, &everything);
        self.end(&tx_id, connector, seq_no + 1, why, &end).await?;
        let record = self.record(&plan, tx_id, self.register - start_register, why, true);
        Ok(SessionOutcome { record: Some(record), refusal: None })
    }

    /// The charging itself, until the planned time is up, the CSMS stops it, or the planned
    /// interruption: why it ended, the last seqNo used, and the last reading.
    async fn run(
        &mut self,
        plan: &Plan,
        tx_id: &str,
        ev: &mut Ev,
        start_register: u64,
    ) -> Result<(Stop, i64, Reading), Error> {
        // The station's configuration as the session starts (the CSMS may have changed it).
        let step = self.state.seconds(SAMPLE_INTERVAL).max(1);
        let clock = self.state.seconds(CLOCK_ALIGNED_INTERVAL);
        let sampled = Measurand::list(self.state.setting(SAMPLED_DATA));
        let aligned = Measurand::list(self.state.setting(ALIGNED_DATA));
        let epoch = self.epoch();
        let samples = plan.seconds.div_ceil(step).max(1) as usize;
        // Where it happens: after the start, at one of the session's readings.
        let span = samples.saturating_sub(1).max(1);
        let interrupt_at =
            (plan.interruption != Interruption::None).then(|| (1 + (self.rng.next() as usize) % span).min(samples - 1));
        let mut seq_no = 0;
        let mut previous_wh = 0;
        let mut charged_for = 0;
        let mut i = 0;
        loop {
            let sampled_from = self.seconds;
            let passed = self.pass(step.min(plan.seconds - charged_for), true).await?;
            charged_for += passed;
            let limit = self.state.connectors.limit(plan.connector, Some(tx_id), self.now());
            let reading = ev.charge(&mut self.rng, passed as f64, limit);
            let now_register = start_register + reading.energy_wh;
            if interrupt_at == Some(i) && plan.interruption == Interruption::PowerLoss {
                // The power goes: the session ends at this reading, the station reboots.
                self.register = now_register;
                return Ok((Stop::PowerLoss, seq_no, reading));
            }
            if interrupt_at == Some(i) && plan.interruption == Interruption::NetworkDrop {
                // The connection goes as a failing network takes it: no close handshake.
                self.offline_queue = Some(Vec::new());
            }
            // Clock-aligned readings that fell due since the last sample, the register
            // interpolated between the two samples around them.
            for at in aligned_between(epoch + sampled_from, epoch + self.seconds, clock) {
                let share = (at - epoch - sampled_from) as f64 / passed.max(1) as f64;
                let wh = previous_wh as f64 + (reading.energy_wh - previous_wh) as f64 * share;
                let register = start_register + wh.round() as u64;
                let taken = Sample {
                    at: timestamp(self.base, at - epoch),
                    reading: &reading,
                    register,
                    context: Context::SampleClock,
                };
                self.send_sample(plan.connector, tx_id, &mut seq_no, taken, &aligned).await?;
            }
            previous_wh = reading.energy_wh;
            // The run ending: the driver unplugs.
            if charged_for >= plan.seconds || self.state.remote_stop || self.ending() {
                self.register = now_register;
                let why = if std::mem::take(&mut self.state.remote_stop) { Stop::Remote } else { Stop::EvDisconnected };
                return Ok((why, seq_no, reading));
            }
            let taken =
                Sample { at: self.at(), reading: &reading, register: now_register, context: Context::SamplePeriodic };
            self.send_sample(plan.connector, tx_id, &mut seq_no, taken, &sampled).await?;
            if self.offline_queue.is_none() {
                self.send_reports().await?;
            }
            i += 1;
        }
    }

    /// Ends the transaction (after a reboot if the power failed), with the final reading, and
    /// frees the connector: Available, or Unavailable if a change was scheduled meanwhile.
    async fn end(
        &mut self,
        tx_id: &str,
        connector: usize,
        seq_no: i64,
        why: Stop,
        end: &[super::energy::Measured],
    ) -> Result<(), Error> {
        if why == Stop::PowerLoss {
            // Back on power: a new connection and a boot; the stop comes after it (TC_032_1).
            self.seconds += 60;
            self.ws = connect(&self.url, &self.identity, self.version).await?;
            self.boot(false).await?;
        }
        self.meter_log.push((self.at(), self.register, 0.0));
        match self.version {
            OcppVersion::V201 => {
                self.tx_call(v201::ended(tx_id, seq_no, self.at(), why, end.to_vec()).into()).await?;
            }
            OcppVersion::V16 => {
                let stop = v16::stop(tx_id.parse().unwrap_or(0), self.register, self.at(), why);
                self.tx_call(stop.into()).await?;
                self.status(connector, Connector::Finishing).await?;
            }
        }
        self.reconnect().await?;
        self.state.active_tx = None;
        self.state.remote_stop = false;
        self.state.connectors.session_ended(connector);
        self.state.connectors.drop_tx_profiles(tx_id);
        let idle = self.state.idle_status(connector);
        self.status(connector, idle).await
    }

    fn record(
        &self,
        plan: &Plan,
        transaction_id: String,
        energy_wh: u64,
        why: Stop,
        authorized: bool,
    ) -> SessionRecord {
        let start = self.meter_log.first().map_or(0, |m| m.1);
        SessionRecord {
            station: self.identity.clone(),
            version: if self.v201() { "2.0.1" } else { "1.6" },
            transaction_id,
            energy_wh,
            id_tag: plan.id_tag.clone(),
            connector: plan.connector,
            remote: plan.remote.is_some(),
            stop_reason: match why {
                Stop::EvDisconnected => "EVDisconnected",
                Stop::Remote => "Remote",
                Stop::PowerLoss => "PowerLoss",
                Stop::DeAuthorized => "DeAuthorized",
            },
            authorized,
            started_at: self.meter_log.first().map(|m| m.0.to_string()).unwrap_or_default(),
            stopped_at: self.meter_log.last().map(|m| m.0.to_string()).unwrap_or_default(),
            curve: self
                .meter_log
                .iter()
                .map(|(at, register, power)| (at.to_string(), register - start, *power))
                .collect(),
        }
    }

    fn refusal(&self, plan: &Plan, at: &'static str, status: &'static str) -> Refusal {
        Refusal { station: self.identity.clone(), id_tag: plan.id_tag.clone(), at, status }
    }

    /// `base` in seconds since the epoch, which clock-aligned instants are counted from.
    pub(super) fn epoch(&self) -> u64 {
        self.base.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// Reports a reading taken during transaction `tx_id` (1.6 MeterValues, 2.0.1 a
    /// TransactionEvent Updated with the next `seq_no`), with the `measurands` the station is
    /// configured to report; nothing when none of them is there.
    async fn send_sample(
        &mut self,
        connector: usize,
        tx_id: &str,
        seq_no: &mut i64,
        sample: Sample<'_>,
        measurands: &[Measurand],
    ) -> Result<(), Error> {
        let Sample { at, reading, register, context } = sample;
        self.meter_log.push((at, register, reading.power_w));
        let values = measure(reading, register, measurands);
        if values.is_empty() {
            return Ok(());
        }
        *seq_no += 1;
        let request = match self.version {
            OcppVersion::V201 => v201::updated(tx_id, *seq_no, at, &values, context).into(),
            OcppVersion::V16 => {
                v16::meter_values(connector, Some(tx_id.parse().unwrap_or(0)), at, &values, context).into()
            }
        };
        self.tx_call(request).await.map(drop)
    }
}
