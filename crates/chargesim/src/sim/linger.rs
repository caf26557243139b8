//! A station's life between sessions: it reports and clears faults, reports its idle meter at
//! clock-aligned instants and when triggered, heart-beats, and does what the CSMS asked: a
//! remote start charges a session, a reset reboots, a firmware update is downloaded and
//! installed (with a reboot), diagnostics and logs are "uploaded", each step reported with the
//! status notification a real station sends. A lost connection is made again meanwhile.

use super::energy::{aligned_between, measure, timestamp, Context, Measurand, Reading};
use super::session::{Interruption, Plan};
use super::state::{Job, Trigger, ALIGNED_DATA, ALIGNED_MEASURANDS, CLOCK_ALIGNED_INTERVAL};
use super::station::SimStation;
use super::wire::{Connector, Incoming, Progress};
use super::{v16, v201, StationOutcome};
use crate::Error;
use ocpp::{DateTime, OcppVersion};
use std::time::Duration;
use tokio::time::Instant;

impl SimStation {
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
            OcppVersion::V201 => v201::meter_values(1, at, &values, context).into(),
            OcppVersion::V16 => v16::meter_values(1, None, at, &values, context).into(),
        };
        self.call(request).await.map(drop)
    }

    /// A fault on connector 1 reported and, a while later (a simulated minute, or two seconds
    /// in real time), cleared: 1.6 through StatusNotification, 2.0.1 through NotifyEvent on the
    /// connector's Problem variable.
    pub(super) async fn fault(&mut self, code: ocpp::v16::StatusNotificationErrorCode) -> Result<(), Error> {
        let later = if self.fast { 60 } else { 2 };
        self.pass(later, false).await?;
        match self.version {
            OcppVersion::V201 => {
                for raised in [true, false] {
                    let event = v201::fault(self.seconds as i64, self.at(), raised, code.as_str());
                    self.call(event.into()).await?;
                    self.pass(later, false).await?;
                }
            }
            OcppVersion::V16 => {
                self.status(1, Connector::Faulted(code)).await?;
                self.pass(later, false).await?;
                let idle = self.state.idle_status(1);
                self.status(1, idle).await?;
            }
        }
        Ok(())
    }

    /// Does a firmware update, diagnostics upload or log upload the CSMS asked for, reporting
    /// each step; steps are a second apart in real time, ten simulated seconds otherwise. A
    /// firmware update ends with a reboot (2.0.1 boot reason FirmwareUpdate) before Installed;
    /// from a location it cannot reach, the download fails.
    async fn run_job(&mut self, job: Job) -> Result<(), Error> {
        let steps: &[Progress] = match job {
            Job::Firmware { reachable: true, .. } => {
                &[Progress::Downloading, Progress::Downloaded, Progress::Installing]
            }
            Job::Firmware { reachable: false, .. } => &[Progress::Downloading, Progress::DownloadFailed],
            Job::Diagnostics { reachable: true } | Job::Log { reachable: true, .. } => {
                &[Progress::Uploading, Progress::Uploaded]
            }
            Job::Diagnostics { reachable: false } | Job::Log { reachable: false, .. } => {
                &[Progress::Uploading, Progress::UploadFailed]
            }
        };
        let step_time = if self.fast { 10 } else { 1 };
        for &step in steps {
            self.progress(&job, step).await?;
            self.pass(step_time, false).await?;
        }
        if let Job::Firmware { reachable: true, .. } = job {
            self.reboot(true).await?;
            self.progress(&job, Progress::Installed).await?;
        }
        Ok(())
    }

    async fn progress(&mut self, job: &Job, step: Progress) -> Result<(), Error> {
        let request = match self.version {
            OcppVersion::V16 => v16::progress(job, step).into(),
            OcppVersion::V201 => v201::progress(job, step).into(),
        };
        self.call(request).await.map(drop)
    }

    /// Stays connected until `deadline`, answering the CSMS and doing what it asked: a remote
    /// start charges a session of `remote_seconds`, a reset reboots, a trigger sends the
    /// message, a firmware update or upload runs. What was asked before the deadline is done
    /// even if that takes the station past it.
    pub(super) async fn linger(
        &mut self,
        deadline: Instant,
        remote_seconds: u64,
        outcome: &mut StationOutcome,
    ) -> Result<(), Error> {
        // While idle the station's clock follows the real one, so that clock-aligned readings
        // come when they fall due.
        let epoch = self.epoch();
        let mut idle_since = Instant::now();
        loop {
            let from = self.seconds;
            if self.fast {
                let elapsed = idle_since.elapsed().as_secs();
                self.seconds += elapsed;
                idle_since += Duration::from_secs(elapsed);
            } else {
                self.sync_clock();
            }
            let clock = self.state.seconds(CLOCK_ALIGNED_INTERVAL);
            for at in aligned_between(epoch + from, epoch + self.seconds, clock) {
                self.idle_reading(timestamp(self.base, at - epoch), Context::SampleClock).await?;
            }
            self.send_reports().await?;
            if let Some(start) = self.state.remote_start.take() {
                // A 1.6 remote start carries no id: the session is remote all the same.
                let plan = Plan {
                    connector: start.connector,
                    id_tag: start.id_token,
                    remote: Some(start.remote_start_id.unwrap_or(0)),
                    seconds: remote_seconds,
                    interruption: Interruption::None,
                };
                let session = self.charge(plan).await?;
                outcome.add(session);
                idle_since = Instant::now();
                continue;
            }
            if std::mem::take(&mut self.state.reboot) {
                if self.fast {
                    self.seconds += 60;
                }
                self.reboot(false).await?;
                continue;
            }
            if let Some(job) = self.state.jobs.pop_front() {
                self.run_job(job).await?;
                idle_since = Instant::now();
                continue;
            }
            if let Some(message) = self.state.trigger.take() {
                match message {
                    Trigger::BootNotification => self.boot(false).await?,
                    Trigger::Heartbeat => self.heartbeat().await?,
                    Trigger::MeterValues => self.idle_reading(self.at(), Context::Trigger).await?,
                    Trigger::StatusNotification => self.report_connectors().await?,
                    Trigger::Idle(job) => self.progress(&job, Progress::Idle).await?,
                }
                continue;
            }
            // A heartbeat once nothing was sent for the heartbeat interval (2.0.1 B05: other
            // messages may stand in for it).
            let heartbeat = self.state.seconds(super::state::HEARTBEAT_INTERVAL);
            let heartbeat_due = (heartbeat > 0).then(|| self.last_sent + Duration::from_secs(heartbeat));
            let now = Instant::now();
            if now >= deadline || self.ending() {
                return Ok(());
            }
            if heartbeat_due.is_some_and(|due| due <= now) {
                self.heartbeat().await?;
                continue;
            }
            // Wake for the next clock-aligned reading, reservation expiry or heartbeat, if one
            // falls due before the deadline.
            let instant_of = |station_seconds: u64, station: &SimStation| {
                if station.fast {
                    idle_since + Duration::from_secs(station_seconds.saturating_sub(station.seconds))
                } else {
                    station.started + Duration::from_secs(station_seconds)
                }
            };
            let mut wake = deadline;
            if let Some(at) = aligned_between(epoch + self.seconds, epoch + self.seconds + clock, clock).first() {
                wake = wake.min(instant_of(at - epoch, self));
            }
            if let Some(expiry) = self.state.connectors.next_expiry() {
                let at = expiry.duration_since(self.base).map_or(0, |d| d.as_secs() + 1);
                wake = wake.min(instant_of(at, self));
            }
            let wake = heartbeat_due.map_or(wake, |due| wake.min(due));
            if let Some(Incoming::Call { id, action, payload }) = self.next_frame_unless_ending(wake).await? {
                self.respond(&id, &action, &payload).await?;
            }
        }
    }
}
