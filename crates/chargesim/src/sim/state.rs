//! What a simulated station remembers between messages: its configuration (1.6 keys or 2.0.1
//! `Component.Variable` values), its local authorization list, its connectors, the transaction
//! running now, and what the CSMS asked it to do once the answer is out. Both versions' answers
//! read and change it.

use super::connectors::Connectors;
use super::wire::Connector;
use ocpp::OcppVersion;
use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

/// A setting by its 1.6 configuration key and its 2.0.1 `Component.Variable` name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Key {
    v16: &'static str,
    v201: &'static str,
}

impl Key {
    pub(super) const fn new(v16: &'static str, v201: &'static str) -> Key {
        Key { v16, v201 }
    }
}

pub(super) const HEARTBEAT_INTERVAL: Key = Key { v16: "HeartbeatInterval", v201: "OCPPCommCtrlr.HeartbeatInterval" };
pub(super) const MESSAGE_ATTEMPTS: Key =
    Key { v16: "TransactionMessageAttempts", v201: "OCPPCommCtrlr.MessageAttempts" };
pub(super) const MESSAGE_ATTEMPT_INTERVAL: Key =
    Key { v16: "TransactionMessageRetryInterval", v201: "OCPPCommCtrlr.MessageAttemptInterval" };
pub(super) const SAMPLE_INTERVAL: Key =
    Key { v16: "MeterValueSampleInterval", v201: "SampledDataCtrlr.TxUpdatedInterval" };
pub(super) const SAMPLED_DATA: Key =
    Key { v16: "MeterValuesSampledData", v201: "SampledDataCtrlr.TxUpdatedMeasurands" };
pub(super) const CLOCK_ALIGNED_INTERVAL: Key =
    Key { v16: "ClockAlignedDataInterval", v201: "AlignedDataCtrlr.Interval" };
pub(super) const ALIGNED_DATA: Key = Key { v16: "MeterValuesAlignedData", v201: "AlignedDataCtrlr.Measurands" };

/// What a station's meter reports: all five measurands it has when sampling, the register and
/// power when clock-aligned.
pub(super) const SAMPLED_MEASURANDS: &str =
    "Energy.Active.Import.Register,Power.Active.Import,Voltage,Current.Import,SoC";
pub(super) const ALIGNED_MEASURANDS: &str = "Energy.Active.Import.Register,Power.Active.Import";

/// A message the CSMS asked for with TriggerMessage that the station sends after answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trigger {
    BootNotification,
    Heartbeat,
    StatusNotification,
    MeterValues,
    /// The status notification of this kind of job, Idle: the station runs its jobs one after
    /// another as it lingers, so none runs when it answers a trigger.
    Idle(Job),
}

/// A remote start the station accepted: the id token, (2.0.1) the remoteStartId, and the
/// connector it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RemoteStart {
    pub(super) id_token: String,
    pub(super) remote_start_id: Option<i64>,
    pub(super) connector: usize,
}

/// A message the station sends of its own accord after answering a CALL: a connector's new
/// status, or (2.0.1) that a reservation ended without being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Report {
    Status(usize, Connector),
    /// Reservation id, and whether it expired (else it was removed).
    ReservationEnded(i64, bool),
}

/// Work the CSMS asked for that a station does after answering, reporting its progress with
/// status notifications: a firmware update, a diagnostics or log upload. The simulator uploads
/// nothing: `reachable` says whether the location looked like one it could reach (ftp, ftps,
/// http, https or sftp with a host); if not, the upload fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Job {
    Firmware { request_id: Option<i64>, reachable: bool },
    Diagnostics { reachable: bool },
    Log { request_id: i64, reachable: bool },
}

/// Whether an upload or download location is one the simulator pretends to reach.
pub(super) fn reachable(location: &str) -> bool {
    ["ftp://", "ftps://", "http://", "https://", "sftp://"]
        .iter()
        .find_map(|scheme| location.strip_prefix(scheme))
        .is_some_and(|rest| rest.split(['/', ':', '@']).next().is_some_and(|host| !host.is_empty()))
}

/// What a simulated station remembers and what the CSMS asked of it.
#[derive(Debug)]
pub(super) struct StationState {
    pub(super) version: OcppVersion,
    /// By the version's key: (value, read-only).
    pub(super) settings: BTreeMap<String, (String, bool)>,
    pub(super) list_version: i64,
    /// The local authorization list: id token → its status.
    pub(super) local_list: BTreeMap<String, String>,
    /// The transaction running now, as the station knows it.
    pub(super) active_tx: Option<String>,
    pub(super) connectors: Connectors,
    /// The station's clock when it answers a CALL (expiry of reservations, profiles' periods).
    pub(super) now: SystemTime,
    /// Messages to send after the answer, in order.
    pub(super) reports: Vec<Report>,
    pub(super) jobs: VecDeque<Job>,
    /// Asked for by the CSMS, done by the station's loop after answering.
    pub(super) remote_start: Option<RemoteStart>,
    pub(super) remote_stop: bool,
    pub(super) reboot: bool,
    pub(super) trigger: Option<Trigger>,
}

impl StationState {
    pub(super) fn new(
        version: OcppVersion,
        sample_interval: u64,
        clock_aligned_interval: u64,
        connectors: usize,
    ) -> StationState {
        let (sample, clock) = (sample_interval.to_string(), clock_aligned_interval.to_string());
        let count = connectors.max(1).to_string();
        let settings: &[(&str, &str, bool)] = match version {
            OcppVersion::V201 => &[
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
            ],
            OcppVersion::V16 => &[
                ("HeartbeatInterval", "300", false),
                ("TransactionMessageAttempts", "3", false),
                ("TransactionMessageRetryInterval", "1", false),
                ("MeterValueSampleInterval", &sample, false),
                ("MeterValuesSampledData", SAMPLED_MEASURANDS, false),
                ("ClockAlignedDataInterval", &clock, false),
                ("MeterValuesAlignedData", ALIGNED_MEASURANDS, false),
                ("NumberOfConnectors", &count, true),
                ("StopTransactionOnInvalidId", "true", false),
                ("AuthorizeRemoteTxRequests", "false", false),
                ("LocalAuthListEnabled", "true", false),
                ("SendLocalListMaxLength", "50", true),
                (
                    "SupportedFeatureProfiles",
                    "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger",
                    true,
                ),
                ("ChargeProfileMaxStackLevel", "8", true),
                ("ChargingScheduleAllowedChargingRateUnit", "Current,Power", true),
            ],
        };
        StationState {
            version,
            settings: settings.iter().map(|(k, v, ro)| (k.to_string(), (v.to_string(), *ro))).collect(),
            list_version: 0,
            local_list: BTreeMap::new(),
            active_tx: None,
            connectors: Connectors::new(connectors),
            now: SystemTime::now(),
            reports: Vec::new(),
            jobs: VecDeque::new(),
            remote_start: None,
            remote_stop: false,
            reboot: false,
            trigger: None,
        }
    }

    fn name(&self, key: Key) -> &'static str {
        match self.version {
            OcppVersion::V16 => key.v16,
            OcppVersion::V201 => key.v201,
        }
    }

    /// A setting's value; empty when unset.
    pub(super) fn setting(&self, key: Key) -> &str {
        self.settings.get(self.name(key)).map_or("", |(value, _)| value.as_str())
    }

    /// A setting in seconds (or a count); 0 when unset or not a number.
    pub(super) fn seconds(&self, key: Key) -> u64 {
        self.setting(key).trim().parse().unwrap_or(0)
    }

    /// The heartbeat interval a CSMS gave in its answer to a boot.
    pub(super) fn set_heartbeat_interval(&mut self, seconds: u64) {
        let key = self.name(HEARTBEAT_INTERVAL);
        if let Some((value, _)) = self.settings.get_mut(key) {
            *value = seconds.to_string();
        }
    }

    /// Sets a writable setting the station has: None when it has no such setting, Some(false)
    /// when it is read-only.
    pub(super) fn change(&mut self, name: &str, value: &str) -> Option<bool> {
        match self.settings.get_mut(name)? {
            (_, true) => Some(false),
            (current, false) => {
                *current = value.to_string();
                Some(true)
            }
        }
    }

    /// A remote start is taken only while nothing is charging or about to, on the connector
    /// asked for (0: the first where the token may start), if it is operative and not reserved
    /// for another token.
    pub(super) fn take_remote_start(&mut self, start: RemoteStart) -> bool {
        if self.active_tx.is_some() || self.remote_start.is_some() {
            return false;
        }
        let connector = match start.connector {
            0 => self.connectors.free_from(1, &start.id_token, self.now),
            c => Some(c).filter(|&c| self.connectors.may_start(c, &start.id_token, self.now)),
        };
        let Some(connector) = connector else { return false };
        self.remote_start = Some(RemoteStart { connector, ..start });
        true
    }

    /// The status a connector reports when nothing happens on it.
    pub(super) fn idle_status(&self, connector: usize) -> Connector {
        if !self.connectors.operative(connector) {
            Connector::Unavailable
        } else if self.connectors.reserved(connector, self.now) {
            Connector::Reserved
        } else {
            Connector::Available
        }
    }

    /// A remote stop is taken for the transaction running now only.
    pub(super) fn take_remote_stop(&mut self, transaction_id: &str) -> bool {
        let running = self.active_tx.as_deref() == Some(transaction_id);
        self.remote_stop |= running;
        running
    }

    /// Applies a SendLocalList (OCPP 1.6 §5.15, 2.0.1 D01): a differential update must carry a
    /// newer version; an entry without info removes its token. False on a version mismatch.
    pub(super) fn update_local_list(
        &mut self,
        version: i64,
        full: bool,
        entries: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> bool {
        if !full && version <= self.list_version {
            return false;
        }
        if full {
            self.local_list.clear();
        }
        for (token, status) in entries {
            match status {
                Some(status) => self.local_list.insert(token, status),
                None => self.local_list.remove(&token),
            };
        }
        self.list_version = version;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_is_read_by_the_versions_key() {
        let v16 = StationState::new(OcppVersion::V16, 60, 900, 1);
        let v201 = StationState::new(OcppVersion::V201, 30, 0, 1);
        assert_eq!((v16.seconds(SAMPLE_INTERVAL), v16.seconds(CLOCK_ALIGNED_INTERVAL)), (60, 900));
        assert_eq!((v201.seconds(SAMPLE_INTERVAL), v201.seconds(CLOCK_ALIGNED_INTERVAL)), (30, 0));
        assert_eq!(v201.setting(ALIGNED_DATA), ALIGNED_MEASURANDS);
    }

    #[test]
    fn read_only_and_unknown_settings_are_not_changed() {
        let mut state = StationState::new(OcppVersion::V16, 60, 0, 2);
        assert_eq!(state.change("NumberOfConnectors", "2"), Some(false));
        assert_eq!(state.change("NoSuchKey", "2"), None);
        assert_eq!(state.change("HeartbeatInterval", "30"), Some(true));
        assert_eq!(state.seconds(HEARTBEAT_INTERVAL), 30);
    }

    #[test]
    fn a_differential_list_update_needs_a_newer_version() {
        let mut state = StationState::new(OcppVersion::V201, 60, 0, 1);
        assert!(state.update_local_list(2, true, [("A".into(), Some("Accepted".into()))]));
        assert!(!state.update_local_list(2, false, [("B".into(), Some("Accepted".into()))]));
        assert!(state.update_local_list(3, false, [("A".into(), None), ("B".into(), Some("Blocked".into()))]));
        assert_eq!(state.local_list.keys().collect::<Vec<_>>(), ["B"]);
        assert_eq!(state.list_version, 3);
    }

    #[test]
    fn remote_start_and_stop_follow_the_running_transaction() {
        let mut state = StationState::new(OcppVersion::V16, 60, 0, 2);
        let start = RemoteStart { id_token: "T".into(), remote_start_id: None, connector: 0 };
        assert!(state.take_remote_start(start.clone()));
        assert_eq!(state.remote_start.as_ref().map(|s| s.connector), Some(1), "the first free connector");
        assert!(!state.take_remote_start(start), "one at a time");
        state.remote_start = None;
        state.active_tx = Some("7".into());
        assert!(!state.take_remote_stop("8"));
        assert!(!state.remote_stop);
        assert!(state.take_remote_stop("7"));
        assert!(state.remote_stop);
        state.active_tx = None;
        let _ = state.connectors.change_availability(2, false);
        let on_2 = RemoteStart { id_token: "T".into(), remote_start_id: None, connector: 2 };
        assert!(!state.take_remote_start(on_2), "connector 2 is inoperative");
        assert_eq!(state.idle_status(2), Connector::Unavailable);
    }

    #[test]
    fn only_locations_with_a_known_scheme_and_a_host_are_reached() {
        assert!(reachable("ftp://logs.example.com/up") && reachable("https://user@host:8443/x"));
        assert!(!reachable("ftp:///nohost") && !reachable("gopher://host") && !reachable("nowhere"));
    }
}
