//! What a station tells Ström about itself outside transactions and faults, and what the
//! operator asks of it: the kinds of station events Ström keeps, the transfers (firmware
//! updates, diagnostics and log uploads) they move on, and how a command to a station ended.
//! Protocol words that decide something are enums here, not strings compared in the store.

/// A notification kept as an event of the station, named after the OCPP action that carried it
/// (the text stored in `station_events.kind` and filtered on by the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StationEventKind {
    DataTransfer,
    DiagnosticsStatusNotification,
    FirmwareStatusNotification,
    SignedFirmwareStatusNotification,
    PublishFirmwareStatusNotification,
    LogStatusNotification,
    SecurityEventNotification,
    SignCertificate,
    Get15118EVCertificate,
    GetCertificateStatus,
    ReservationStatusUpdate,
    NotifyEvent,
    NotifyChargingLimit,
    ClearedChargingLimit,
    NotifyEVChargingNeeds,
    NotifyEVChargingSchedule,
    NotifyDisplayMessages,
    NotifyCustomerInformation,
    ReportChargingProfiles,
    /// Not a station's message: Ström refused a connection under the station's identity at the
    /// handshake, its credentials not acceptable for the station's security profile.
    InvalidCredentials,
    /// Not a station's message: Ström sent the station a new Basic-auth password (rotation by
    /// the operator, trust on first use, or a configuration command); the status is the
    /// outcome (`Accepted`, `Rejected`, `Timeout`, …), the detail who asked.
    PasswordChange,
}

impl StationEventKind {
    pub const ALL: &'static [StationEventKind] = &[
        StationEventKind::DataTransfer,
        StationEventKind::DiagnosticsStatusNotification,
        StationEventKind::FirmwareStatusNotification,
        StationEventKind::SignedFirmwareStatusNotification,
        StationEventKind::PublishFirmwareStatusNotification,
        StationEventKind::LogStatusNotification,
        StationEventKind::SecurityEventNotification,
        StationEventKind::SignCertificate,
        StationEventKind::Get15118EVCertificate,
        StationEventKind::GetCertificateStatus,
        StationEventKind::ReservationStatusUpdate,
        StationEventKind::NotifyEvent,
        StationEventKind::NotifyChargingLimit,
        StationEventKind::ClearedChargingLimit,
        StationEventKind::NotifyEVChargingNeeds,
        StationEventKind::NotifyEVChargingSchedule,
        StationEventKind::NotifyDisplayMessages,
        StationEventKind::NotifyCustomerInformation,
        StationEventKind::ReportChargingProfiles,
        StationEventKind::InvalidCredentials,
        StationEventKind::PasswordChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StationEventKind::DataTransfer => "DataTransfer",
            StationEventKind::DiagnosticsStatusNotification => "DiagnosticsStatusNotification",
            StationEventKind::FirmwareStatusNotification => "FirmwareStatusNotification",
            StationEventKind::SignedFirmwareStatusNotification => "SignedFirmwareStatusNotification",
            StationEventKind::PublishFirmwareStatusNotification => "PublishFirmwareStatusNotification",
            StationEventKind::LogStatusNotification => "LogStatusNotification",
            StationEventKind::SecurityEventNotification => "SecurityEventNotification",
            StationEventKind::SignCertificate => "SignCertificate",
            StationEventKind::Get15118EVCertificate => "Get15118EVCertificate",
            StationEventKind::GetCertificateStatus => "GetCertificateStatus",
            StationEventKind::ReservationStatusUpdate => "ReservationStatusUpdate",
            StationEventKind::NotifyEvent => "NotifyEvent",
            StationEventKind::NotifyChargingLimit => "NotifyChargingLimit",
            StationEventKind::ClearedChargingLimit => "ClearedChargingLimit",
            StationEventKind::NotifyEVChargingNeeds => "NotifyEVChargingNeeds",
            StationEventKind::NotifyEVChargingSchedule => "NotifyEVChargingSchedule",
            StationEventKind::NotifyDisplayMessages => "NotifyDisplayMessages",
            StationEventKind::NotifyCustomerInformation => "NotifyCustomerInformation",
            StationEventKind::ReportChargingProfiles => "ReportChargingProfiles",
            StationEventKind::InvalidCredentials => "InvalidCredentials",
            StationEventKind::PasswordChange => "PasswordChange",
        }
    }

    pub fn parse(text: &str) -> Option<StationEventKind> {
        StationEventKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }

    /// The transfer whose progress this notification reports (OCPP 1.6 §4.4, §4.5, security
    /// whitepaper §5; 2.0.1 L01, N01), if any.
    pub fn transfer(self) -> Option<TransferKind> {
        match self {
            StationEventKind::FirmwareStatusNotification | StationEventKind::SignedFirmwareStatusNotification => {
                Some(TransferKind::Firmware)
            }
            StationEventKind::DiagnosticsStatusNotification => Some(TransferKind::Diagnostics),
            StationEventKind::LogStatusNotification => Some(TransferKind::Log),
            _ => None,
        }
    }
}

/// A file a station accepted to fetch or send: a firmware update, a diagnostics upload (1.6
/// GetDiagnostics) or a log upload (GetLog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    Firmware,
    Diagnostics,
    Log,
}

impl TransferKind {
    /// The text stored in `transfers.kind` and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Firmware => "firmware",
            TransferKind::Diagnostics => "diagnostics",
            TransferKind::Log => "log",
        }
    }

    /// Whether a reported status moves a transfer of this kind on. `Idle` only answers a
    /// TriggerMessage ("nothing going on", OCPP 1.6 §7.24, 2.0.1 FirmwareStatusEnumType).
    pub fn moved_by(self, status: &str) -> bool {
        status != "Idle"
    }
}

/// How a command Ström sent a station ended (the command log's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandStatus {
    /// Sent, no outcome yet.
    Pending,
    /// The station answered with a CALLRESULT of the right shape.
    Answered,
    /// The station answered with a CALLERROR.
    CallError,
    /// The station answered, but not with what the action's schema allows, or with a frame that
    /// is no valid CALLRESULT or CALLERROR.
    InvalidResponse,
    /// No answer within the call timeout.
    Timeout,
    /// The station was not connected.
    Offline,
    /// The station disconnected before it answered.
    Disconnected,
}

impl CommandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Pending => "Pending",
            CommandStatus::Answered => "Answered",
            CommandStatus::CallError => "CallError",
            CommandStatus::InvalidResponse => "InvalidResponse",
            CommandStatus::Timeout => "Timeout",
            CommandStatus::Offline => "Offline",
            CommandStatus::Disconnected => "Disconnected",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_round_trip_and_name_their_transfers() {
        for &kind in StationEventKind::ALL {
            assert_eq!(StationEventKind::parse(kind.as_str()), Some(kind));
        }
        let transfers: Vec<(StationEventKind, TransferKind)> =
            StationEventKind::ALL.iter().filter_map(|k| k.transfer().map(|t| (*k, t))).collect();
        assert_eq!(
            transfers,
            [
                (StationEventKind::DiagnosticsStatusNotification, TransferKind::Diagnostics),
                (StationEventKind::FirmwareStatusNotification, TransferKind::Firmware),
                (StationEventKind::SignedFirmwareStatusNotification, TransferKind::Firmware),
                (StationEventKind::LogStatusNotification, TransferKind::Log),
            ]
        );
        assert!(!TransferKind::Firmware.moved_by("Idle") && TransferKind::Log.moved_by("Uploading"));
    }
}
