//! The operations Ström's store carries out, each with its typed result: what a station's
//! message or an operator's action asks to be recorded, in the domain's words. The adapters
//! build them; the store (`csms-store`, through the `port::Port` it implements) executes each
//! inside its writer's transaction, applying the rules of this crate, and answers with the
//! operation's `Output` (`port::Operation`) only once the write is durable. The table of
//! operations and outputs is in `port.rs`.

use crate::access::Role;
use crate::authorization::{AuthDecision, IdTokenRecord, TokenType};
use crate::metering::Reading;
use crate::notifications::{CommandStatus, StationEventKind, TransferKind};
use crate::reservations::ReservationEnd;
use crate::station::{BootInfo, ProtocolVersion, RegistrationPolicy, RegistrationStatus, StationId};
use crate::transactions::TxEventType;
use crate::Timestamp;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the station to Ström.
    In,
    /// From Ström to the station.
    Out,
}

impl Direction {
    /// As the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// One frame for the message log.
#[derive(Debug, Clone)]
pub struct FrameLog {
    pub station_id: StationId,
    pub direction: Direction,
    pub at: Timestamp,
    pub frame: String,
}

#[derive(Debug, Clone)]
pub struct StartTx {
    pub station: StationId,
    pub connector_id: i64,
    pub id_token: String,
    pub meter_start_wh: f64,
    pub timestamp: Timestamp,
    pub reservation_id: Option<i64>,
    pub now: Timestamp,
}

#[derive(Debug, Clone)]
pub struct StopTx {
    pub station: StationId,
    pub station_tx_id: String,
    pub meter_stop_wh: f64,
    pub timestamp: Timestamp,
    pub reason: String,
    pub id_token: Option<String>,
    /// Readings that came with the stop (1.6 transactionData), keyed by connector later.
    pub readings: Vec<Reading>,
    pub now: Timestamp,
}

#[derive(Debug, Clone)]
pub struct StationStatusReport {
    pub station: StationId,
    /// 0 for 1.6, where a connector is its own EVSE.
    pub evse_id: i64,
    pub connector_id: i64,
    pub status: String,
    /// 1.6 reports an error code with every status; 2.0.1 reports errors through NotifyEvent.
    pub error_code: Option<String>,
    pub info: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    pub timestamp: Timestamp,
}

#[derive(Debug, Clone)]
pub struct ConfigurationKey {
    pub key: String,
    pub value: Option<String>,
    pub readonly: bool,
}

#[derive(Debug, Clone)]
pub struct Reservation {
    pub station: StationId,
    pub reservation_id: i64,
    /// None: any EVSE (2.0.1) or the whole station (1.6 connector 0).
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub id_token: String,
    pub group_id_token: Option<String>,
    pub expiry: Timestamp,
    pub now: Timestamp,
}

#[derive(Debug, Clone)]
pub struct ChargingProfileRecord {
    pub station: StationId,
    pub profile_id: i64,
    /// 2.0.1 evseId, or the 1.6 connectorId; 0 is the whole station.
    pub evse_id: i64,
    pub stack_level: i64,
    pub purpose: String,
    pub transaction_id: Option<String>,
    /// The profile as the station was sent it (OCPP JSON).
    pub profile: String,
    pub now: Timestamp,
}

/// One OCPP 2.0.1 TransactionEvent.
#[derive(Debug, Clone)]
pub struct TxEvent {
    pub station: StationId,
    pub station_tx_id: String,
    pub event_type: TxEventType,
    pub timestamp: Timestamp,
    pub trigger_reason: String,
    pub seq_no: i64,
    pub offline: bool,
    pub charging_state: Option<String>,
    pub time_spent_charging: Option<i64>,
    pub stopped_reason: Option<String>,
    pub remote_start_id: Option<i64>,
    pub reservation_id: Option<i64>,
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    /// (value, type) of the idToken the event carried.
    pub id_token: Option<(String, String)>,
    pub readings: Vec<Reading>,
    pub now: Timestamp,
}

/// One entry of a 2.0.1 NotifyEvent.
#[derive(Debug, Clone)]
pub struct DeviceEvent {
    pub event_id: i64,
    pub timestamp: Timestamp,
    pub trigger: String,
    pub actual_value: String,
    pub cleared: bool,
    pub tech_code: Option<String>,
    pub tech_info: Option<String>,
    pub location: DeviceVariable,
    pub monitor_id: Option<i64>,
}

/// A variable of a component of the 2.0.1 device model.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceVariable {
    pub component: String,
    pub component_instance: Option<String>,
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub variable: String,
    pub variable_instance: Option<String>,
}

impl DeviceVariable {
    /// `name[instance]`, or `name` without an instance.
    pub fn qualified(name: &str, instance: &Option<String>) -> String {
        match instance {
            Some(i) => format!("{name}[{i}]"),
            None => name.to_string(),
        }
    }
}

/// One variable of a NotifyReport part, with its attributes and characteristics.
#[derive(Debug, Clone)]
pub struct VariableReport {
    pub location: DeviceVariable,
    pub attributes: Vec<VariableAttribute>,
    pub characteristics: Option<VariableCharacteristics>,
}

#[derive(Debug, Clone)]
pub struct VariableAttribute {
    /// Actual, Target, MinSet or MaxSet.
    pub attribute_type: String,
    pub value: Option<String>,
    pub mutability: Option<String>,
    pub persistent: Option<bool>,
    pub constant: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct VariableCharacteristics {
    pub unit: Option<String>,
    pub data_type: String,
    pub min_limit: Option<f64>,
    pub max_limit: Option<f64>,
    pub values_list: Option<String>,
    pub supports_monitoring: bool,
}

/// One monitor of a NotifyMonitoringReport.
#[derive(Debug, Clone)]
pub struct MonitorReport {
    pub location: DeviceVariable,
    pub monitor_id: i64,
    pub kind: String,
    pub value: f64,
    pub severity: i64,
    pub transaction_only: bool,
}

/// A BootNotification: the station's facts, and the policy for a station never seen.
#[derive(Debug, Clone)]
pub struct Boot {
    pub station: StationId,
    pub ocpp_version: ProtocolVersion,
    pub info: BootInfo,
    pub policy: RegistrationPolicy,
    pub now: Timestamp,
}

/// A boot's registration, and the heartbeat interval in seconds the station was last
/// configured with and accepted (1.6 HeartbeatInterval, 2.0.1 OCPPCommCtrlr.HeartbeatInterval),
/// if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    pub status: RegistrationStatus,
    pub heartbeat_interval: Option<i64>,
    /// Whether this boot registered a station Ström had never seen (`station::Registered::New`).
    pub new_station: bool,
}

/// An Authorize: the token, with the type it came with (2.0.1), from this station.
#[derive(Debug, Clone)]
pub struct Authorize {
    pub station: StationId,
    pub id_token: String,
    pub token_type: Option<TokenType>,
    pub now: Timestamp,
}

/// A started transaction: Ström's id for it and the start token's authorization.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub transaction_id: i64,
    pub auth: AuthDecision,
}

/// A stopped transaction: the stop token's authorization, when a stop token was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    pub auth: Option<AuthDecision>,
}

/// Where a TransactionEvent went: Ström's transaction id, and the authorization of the token it
/// carried, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct TxEventRecorded {
    pub transaction_id: i64,
    pub auth: Option<AuthDecision>,
}

/// Meter readings outside a 2.0.1 TransactionEvent: a 1.6 MeterValues (with the transaction id
/// it names, if any) or a 2.0.1 MeterValues for an EVSE.
#[derive(Debug, Clone)]
pub struct MeterValues {
    pub station: StationId,
    pub evse_id: Option<i64>,
    pub connector_id: i64,
    pub station_tx_id: Option<String>,
    pub readings: Vec<Reading>,
}

/// A 2.0.1 NotifyEvent's events.
#[derive(Debug, Clone)]
pub struct NotifyEvent {
    pub station: StationId,
    pub events: Vec<DeviceEvent>,
}

/// A part of a NotifyReport; the device model is updated when the last part (tbc false)
/// arrives, from all parts of the request at once.
#[derive(Debug, Clone)]
pub struct ReportPart {
    pub station: StationId,
    pub request_id: i64,
    pub seq_no: i64,
    pub tbc: bool,
    pub entries: Vec<VariableReport>,
    pub now: Timestamp,
}

/// A NotifyMonitoringReport's monitors.
#[derive(Debug, Clone)]
pub struct MonitoringReport {
    pub station: StationId,
    pub monitors: Vec<MonitorReport>,
    pub now: Timestamp,
}

/// The operator sets a station's registration (e.g. accepts a Pending one); the station learns
/// it at its next BootNotification. Answers whether the station was known; an unknown one is
/// registered before it ever connects.
#[derive(Debug, Clone)]
pub struct SetRegistration {
    pub station: StationId,
    pub status: RegistrationStatus,
    pub now: Timestamp,
}

/// The operator sets a station's security profile and, if `password_hash` is given, the hash of
/// its Basic-auth password (`security::hash_password`; `None` keeps the stored one). Answers
/// whether the station was known; an unknown one is registered (Accepted) before it ever
/// connects, since giving it credentials is how an operator provisions it.
#[derive(Clone)]
pub struct SetSecurity {
    pub station: StationId,
    pub profile: crate::security::SecurityProfile,
    pub password_hash: Option<String>,
    pub now: Timestamp,
}

impl std::fmt::Debug for SetSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A slow hash can still be attacked offline: not for logs.
        f.debug_struct("SetSecurity")
            .field("station", &self.station)
            .field("profile", &self.profile)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "***"))
            .field("now", &self.now)
            .finish()
    }
}

/// The operator decommissions a station: from now on nothing may connect as it (its history
/// stays). Answers whether the station was known.
#[derive(Debug, Clone)]
pub struct Decommission {
    pub station: StationId,
    pub now: Timestamp,
}

/// A station's connection proved a higher security profile than the one it is held to
/// (`security::admit`): from now on it is held to that one, so that it can never again be spoken
/// for with less (no downgrade). Answers whether the profile was raised (false: already as high,
/// or the station is unknown).
#[derive(Debug, Clone)]
pub struct RaiseSecurityProfile {
    pub station: StationId,
    pub profile: crate::security::SecurityProfile,
}

/// Ström signed a station's certificate signing request: the certificate is recorded as
/// issued, and the station's SignCertificate as its event (Accepted, the CSR as detail), before
/// the station is answered and the certificate sent (CertificateSigned).
#[derive(Debug, Clone)]
pub struct IssueCertificate {
    pub certificate: crate::certificates::IssuedCertificate,
    pub csr: String,
    pub now: Timestamp,
}

/// A command to a station is about to be sent; its log entry is created `Pending` and its id
/// answered.
#[derive(Debug, Clone)]
pub struct CommandStarted {
    pub station: StationId,
    pub action: String,
    pub request: String,
    pub at: Timestamp,
}

/// How a command ended: `Answered`, `CallError`, `Timeout`, `Offline` or `Disconnected`.
#[derive(Debug, Clone)]
pub struct CommandFinished {
    pub command_id: i64,
    pub status: CommandStatus,
    pub response: Option<String>,
    pub error_code: Option<String>,
    pub error_description: Option<String>,
    pub at: Timestamp,
}

/// What an accepted command or a station's report changes in Ström's picture of the station,
/// recorded together in one write (`Changes`).
#[derive(Debug, Clone)]
pub enum Change {
    /// Configuration keys a 1.6 station reported (GetConfiguration) or accepted
    /// (ChangeConfiguration).
    ConfigurationKeys { station: StationId, keys: Vec<ConfigurationKey>, now: Timestamp },
    /// Attribute values a 2.0.1 station reported (GetVariables) or accepted (SetVariables):
    /// each variable with its attribute type and value.
    DeviceValues { station: StationId, values: Vec<(DeviceVariable, String, Option<String>)>, now: Timestamp },
    /// A reservation the station accepted. The same reservation id replaces the reservation.
    ReservationMade(Reservation),
    /// A reservation ended: cancelled by the operator, expired or removed by the station.
    ReservationEnded { station: StationId, reservation_id: i64, end: ReservationEnd, now: Timestamp },
    /// A charging profile the station accepted. It replaces a profile with the same id, and
    /// (OCPP 1.6 §3.13.2) one with the same stack level and purpose on the same EVSE/connector.
    ChargingProfileSet(ChargingProfileRecord),
    /// Profiles the station cleared; every given criterion must match.
    ChargingProfilesCleared {
        station: StationId,
        profile_id: Option<i64>,
        evse_id: Option<i64>,
        purpose: Option<String>,
        stack_level: Option<i64>,
    },
    /// The availability the operator set and the station accepted (or scheduled).
    AvailabilitySet {
        station: StationId,
        evse_id: Option<i64>,
        connector_id: Option<i64>,
        /// Operative (true) or Inoperative.
        operative: bool,
        status: String,
        now: Timestamp,
    },
    /// A station accepted a local-list update: a Full one replaces what it holds, a
    /// Differential one upserts `entries` and removes `removed`.
    LocalListAccepted {
        station: StationId,
        version: i64,
        full: bool,
        entries: Vec<IdTokenRecord>,
        removed: Vec<String>,
        now: Timestamp,
    },
    /// The local-list version the station itself stated, `source` saying how: its answer to
    /// GetLocalListVersion, or a SendLocalList it accepted. Ström's copy (`LocalListAccepted`)
    /// is left as it is, so that a station that drifted from it shows as such.
    LocalListVersionReported { station: StationId, version: i64, source: &'static str, now: Timestamp },
    /// A station accepted a firmware update (`firmware`) or a diagnostics or log upload
    /// (`diagnostics`, `log`); its status notifications move it on.
    TransferRequested {
        station: StationId,
        kind: TransferKind,
        request_id: Option<i64>,
        location: String,
        file_name: Option<String>,
        now: Timestamp,
    },
    /// A station accepted a new Basic-auth password (1.6 ChangeConfiguration AuthorizationKey,
    /// 2.0.1 SetVariables SecurityCtrlr.BasicAuthPassword): its hash replaces the stored one, so
    /// the old password stops working, and the station is held to at least `at_least`
    /// (`security::profile_after_password_change`).
    PasswordAccepted {
        station: StationId,
        password_hash: crate::security::PasswordHash,
        at_least: crate::security::SecurityProfile,
        now: Timestamp,
    },
    /// A station's answer to a certificate command (`certificates`).
    Certificates(crate::certificates::CertificateChange),
}

/// Changes recorded together, in order.
#[derive(Debug, Clone)]
pub struct Changes(pub Vec<Change>);

/// An API token, stored only as the hash of its secret; answers the token's id.
#[derive(Debug, Clone)]
pub struct CreateApiToken {
    pub token_hash: String,
    pub role: Role,
    pub name: Option<String>,
    pub now: Timestamp,
    /// From when the token is no longer accepted; `None`: until it is revoked.
    pub expires_at: Option<Timestamp>,
}

/// Revokes an API token (its id): refused from then on. Answers whether the token exists; a
/// token revoked before keeps its first revocation time.
#[derive(Debug, Clone)]
pub struct RevokeApiToken {
    pub id: i64,
    pub now: Timestamp,
}

/// A notification kept as an event of the station (firmware, diagnostics and log upload
/// progress, security events, data transfers, certificate requests, charging limits).
#[derive(Debug, Clone)]
pub struct StationEvent {
    pub station: StationId,
    pub kind: StationEventKind,
    pub status: Option<String>,
    pub request_id: Option<i64>,
    /// The EVSE the notification is about (2.0.1 NotifyChargingLimit and friends).
    pub evse_id: Option<i64>,
    pub detail: Option<String>,
    pub at: Timestamp,
}

/// When a station was last heard from (recorded as its connection ends).
#[derive(Debug, Clone)]
pub struct Seen {
    pub station: StationId,
    pub at: Timestamp,
    /// Why the connection ended (`replaced`: by the station's next one, which is no
    /// disconnection of the station).
    pub reason: &'static str,
}

/// A station's connection, as Ström sees it: lost for longer than the grace (Ström opens a
/// `communication` fault of its own, `CommunicationLost`, from when it was lost), or back (Ström
/// clears it).
#[derive(Debug, Clone)]
pub struct Connectivity {
    pub station: StationId,
    pub change: ConnectivityChange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectivityChange {
    /// Gone since `since`, why (as the connection ended).
    Lost {
        since: Timestamp,
        reason: String,
    },
    Back {
        at: Timestamp,
    },
    /// A connection began (speaking `protocol`); `was_lost`: the station was lost, and its
    /// fault is cleared as by `Back`.
    Connected {
        at: Timestamp,
        protocol: crate::station::ProtocolVersion,
        was_lost: bool,
    },
}

/// An id token added or replaced.
#[derive(Debug, Clone)]
pub struct UpsertIdToken {
    pub record: IdTokenRecord,
    pub now: Timestamp,
}

/// Adds a token unless one with its name exists: answers whether it existed (then nothing
/// changed). Decided by the insert itself, so two requests for one token cannot both create it.
#[derive(Debug, Clone)]
pub struct CreateIdToken {
    pub record: IdTokenRecord,
    pub now: Timestamp,
}

/// Deletes a token; answers whether it existed.
#[derive(Debug, Clone)]
pub struct DeleteIdToken {
    pub id_token: String,
}

/// A webhook subscription (`crate::webhooks`): events from those after `last_event_id` on are
/// posted to `url`, signed with `secret`. The filters as the API took them, stored as text.
#[derive(Debug, Clone)]
pub struct CreateWebhook {
    pub url: String,
    pub secret: String,
    /// Comma-separated kinds or families (`KindFilter`); empty: all.
    pub kinds: String,
    /// Comma-separated fault categories; empty: all.
    pub categories: String,
    pub min_severity: Option<String>,
    pub station_id: Option<String>,
    pub now: Timestamp,
}

#[derive(Debug, Clone)]
pub struct DeleteWebhook {
    pub id: i64,
}

/// One attempt to deliver an event to a subscription, for its delivery log. `outcome` is
/// `delivered`, `failed` (to be tried again) or `given_up` (the last attempt failed); after
/// `delivered` and `given_up` the subscription has moved past the event.
#[derive(Debug, Clone)]
pub struct WebhookAttempt {
    pub webhook_id: i64,
    pub event_id: i64,
    pub attempt: i64,
    pub outcome: &'static str,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: Timestamp,
}

/// An alert rule (`crate::alerts`).
#[derive(Debug, Clone)]
pub struct CreateAlertRule {
    pub name: String,
    pub condition: crate::alerts::Condition,
    pub station_id: Option<String>,
    pub now: Timestamp,
}

/// Removes a rule; its open alerts are resolved.
#[derive(Debug, Clone)]
pub struct DeleteAlertRule {
    pub id: i64,
    pub now: Timestamp,
}

/// Alerts to raise and (by id) to resolve, as the rules were last checked.
#[derive(Debug, Clone)]
pub struct AlertChanges {
    pub raise: Vec<crate::alerts::Holding>,
    pub resolve: Vec<i64>,
    pub now: Timestamp,
}

/// A tariff created or replaced (`crate::tariffs`), with the JSON it is kept and shown as. Each
/// save is a new version; the versions stay, for the records priced by them.
#[derive(Debug, Clone)]
pub struct PutTariff {
    pub tariff: crate::tariffs::Tariff,
    pub body: String,
    /// Only if no tariff with its id exists (POST); otherwise create or replace (PUT).
    pub create_only: bool,
    pub now: Timestamp,
}

/// What a `PutTariff` did: the version saved, or none when `create_only` found the id taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TariffSaved {
    pub version: Option<i64>,
    pub created: bool,
}

/// Registers (or with `public_key` None removes) the public key of a station's meter, which its
/// signed meter values (OCMF) are verified against.
#[derive(Debug, Clone)]
pub struct SetMeterKey {
    pub station: StationId,
    /// Hex-encoded DER SubjectPublicKeyInfo, as checked by the API.
    pub public_key: Option<String>,
    pub meter_serial: Option<String>,
    pub now: Timestamp,
}

/// Sets (or with `time_zone` None clears) the IANA time zone a station's tariffs are read in:
/// their times of day, weekdays and dates (OCPI's location `time_zone`). Without one, the
/// server's `time_zone` applies.
#[derive(Debug, Clone)]
pub struct SetStationTimeZone {
    pub station: StationId,
    /// An IANA name, as checked by the API.
    pub time_zone: Option<String>,
}

/// The charge detail record of an ended transaction, priced and rendered off the writer (by the
/// store's settler) and written here: only if the transaction's end is still the one it was made
/// from (`end_gen`); a record of an end since replaced is dropped, the newer end's comes next.
#[derive(Debug, Clone)]
pub struct RecordCdr {
    pub transaction_id: i64,
    /// The transaction's end the record is of (each write that ends or re-ends it counts one).
    pub end_gen: i64,
    /// `None` when the record would say what the transaction's latest record says.
    pub cdr: Option<NewCdr>,
}

/// A record's row: the figures it is found by, and its JSON.
#[derive(Debug, Clone)]
pub struct NewCdr {
    pub station_id: String,
    pub id_token: Option<String>,
    pub start_date_time: String,
    pub end_date_time: String,
    pub energy_wh: crate::tariffs::Decimal,
    pub currency: Option<String>,
    pub total_excl_vat: Option<crate::tariffs::Decimal>,
    pub total_incl_vat: Option<crate::tariffs::Decimal>,
    pub tariff_id: Option<String>,
    pub tariff_version: Option<i64>,
    pub corrects: Option<i64>,
    pub created_at: String,
    pub body: String,
}

/// Withdraws a tariff: it prices no more sessions; its versions stay for the records.
#[derive(Debug, Clone)]
pub struct DeleteTariff {
    pub id: String,
    pub now: Timestamp,
}
