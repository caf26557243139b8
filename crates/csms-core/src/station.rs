//! Stations: identity, registration (BootNotification and the policy for unknown stations)
//! and what a boot tells about the hardware.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A station identity: the last path segment of its WebSocket URL. OCPP 2.0.1 limits it to 48
/// characters of the identifierString set without `:`; Ström applies that rule to both versions
/// (CHECKLIST §1.4).
///
/// Shared, not copied: every message's operation and log frames name their station, and a
/// clone is a reference count rather than an allocation freed on another thread.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StationId(Arc<str>);

impl StationId {
    pub const MAX_LEN: usize = 48;

    pub fn parse(text: &str) -> Option<StationId> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "*-_=+|@.".contains(c);
        (!text.is_empty() && text.len() <= Self::MAX_LEN && text.chars().all(allowed)).then(|| StationId(text.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The OCPP version a station speaks, as Ström records it ("1.6", "2.0.1").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    V16,
    V201,
}

impl ProtocolVersion {
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V16 => "1.6",
            ProtocolVersion::V201 => "2.0.1",
        }
    }

    pub fn parse(text: &str) -> Option<ProtocolVersion> {
        match text {
            "1.6" => Some(ProtocolVersion::V16),
            "2.0.1" => Some(ProtocolVersion::V201),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationStatus {
    Accepted,
    Pending,
    Rejected,
}

impl RegistrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationStatus::Accepted => "Accepted",
            RegistrationStatus::Pending => "Pending",
            RegistrationStatus::Rejected => "Rejected",
        }
    }

    pub fn parse(text: &str) -> Option<RegistrationStatus> {
        match text {
            "Accepted" => Some(RegistrationStatus::Accepted),
            "Pending" => Some(RegistrationStatus::Pending),
            "Rejected" => Some(RegistrationStatus::Rejected),
            _ => None,
        }
    }
}

/// What happens to a station Ström has never seen when it boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationPolicy {
    #[default]
    Accept,
    Pending,
    Reject,
}

impl RegistrationPolicy {
    pub fn parse(text: &str) -> Option<RegistrationPolicy> {
        match text.to_ascii_lowercase().as_str() {
            "accept" => Some(RegistrationPolicy::Accept),
            "pending" => Some(RegistrationPolicy::Pending),
            "reject" => Some(RegistrationPolicy::Reject),
            _ => None,
        }
    }

    /// The status an unknown station is registered with.
    pub fn initial_status(self) -> RegistrationStatus {
        match self {
            RegistrationPolicy::Accept => RegistrationStatus::Accepted,
            RegistrationPolicy::Pending => RegistrationStatus::Pending,
            RegistrationPolicy::Reject => RegistrationStatus::Rejected,
        }
    }
}

/// How a booting station is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// Ström knows the station: it keeps the status it has (the operator's decision, or the
    /// policy's when the station first booted).
    Known(RegistrationStatus),
    /// Ström has never seen it: it is recorded with the policy's status.
    New(RegistrationStatus),
}

impl Registered {
    /// The status the boot is answered with (OCPP 1.6 §4.2, 2.0.1 B01–B03).
    pub fn status(self) -> RegistrationStatus {
        match self {
            Registered::Known(s) | Registered::New(s) => s,
        }
    }
}

/// Decides a boot's registration from the status stored for the station (`None`: never seen).
/// A boot does not register a known station again: a Pending station stays Pending until the
/// operator accepts it (OCPP 2.0.1 B02), a Rejected one Rejected (B03), whatever the policy now
/// says; the policy only decides about a station Ström has never seen.
pub fn register(stored: Option<RegistrationStatus>, policy: RegistrationPolicy) -> Registered {
    match stored {
        Some(status) => Registered::Known(status),
        None => Registered::New(policy.initial_status()),
    }
}

/// The heartbeat interval a boot answer gives (OCPP 1.6 §4.2, 2.0.1 B01.FR.04): an Accepted
/// station adopts it as its heartbeat interval, so it is the one the station was configured
/// with and accepted (`configured`, in seconds) when there is one, else Ström's default; a
/// Pending or Rejected station is told when to boot again.
pub fn boot_interval(
    status: RegistrationStatus,
    configured: Option<i64>,
    heartbeat: Duration,
    boot_retry: Duration,
) -> Duration {
    match (status, configured) {
        (RegistrationStatus::Accepted, Some(secs)) if secs > 0 => Duration::from_secs(secs.unsigned_abs()),
        (RegistrationStatus::Accepted, _) => heartbeat,
        (RegistrationStatus::Pending | RegistrationStatus::Rejected, _) => boot_retry,
    }
}

/// The hardware facts a BootNotification reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BootInfo {
    pub vendor: String,
    pub model: String,
    pub serial_number: Option<String>,
    pub charge_box_serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub meter_type: Option<String>,
    pub meter_serial_number: Option<String>,
    /// Why the station booted (2.0.1 BootReasonEnumType; 1.6 does not say).
    pub reason: Option<String>,
}

/// Whether Ström may send a station commands, by the registration the operator keeps for it
/// (`None`: a station not registered yet). A Rejected station is sent nothing: it answers nothing
/// until its next boot (OCPP 1.6 §4.2, 2.0.1 B03), so a command could only time out, and the
/// operator's rejection is meant to cut it off. A Pending one may be inspected and configured.
pub fn may_command(registration: Option<RegistrationStatus>) -> bool {
    registration != Some(RegistrationStatus::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_rejected_station_is_sent_no_commands() {
        for (registration, allowed) in [
            (None, true),
            (Some(RegistrationStatus::Accepted), true),
            (Some(RegistrationStatus::Pending), true),
            (Some(RegistrationStatus::Rejected), false),
        ] {
            assert_eq!(may_command(registration), allowed, "{registration:?}");
        }
    }

    #[test]
    fn station_ids_follow_the_identifier_string_rules() {
        for ok in ["CP1", "a-b_c.d@e", &"x".repeat(48)] {
            assert!(StationId::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", "a:b", "a b", "ä", &"x".repeat(49)] {
            assert!(StationId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn boot_interval_table() {
        let (heartbeat, retry) = (Duration::from_secs(300), Duration::from_secs(60));
        let cases = [
            (RegistrationStatus::Accepted, None, 300),
            (RegistrationStatus::Accepted, Some(45), 45),
            (RegistrationStatus::Accepted, Some(0), 300),
            (RegistrationStatus::Accepted, Some(-5), 300),
            (RegistrationStatus::Pending, Some(45), 60),
            (RegistrationStatus::Rejected, None, 60),
        ];
        for (status, configured, secs) in cases {
            assert_eq!(
                boot_interval(status, configured, heartbeat, retry).as_secs(),
                secs,
                "{status:?} {configured:?}"
            );
        }
    }

    #[test]
    fn policy_gives_the_initial_status() {
        assert_eq!(RegistrationPolicy::parse("PENDING").map(|p| p.initial_status()), Some(RegistrationStatus::Pending));
        assert_eq!(RegistrationPolicy::parse("reject").map(|p| p.initial_status()), Some(RegistrationStatus::Rejected));
        assert_eq!(RegistrationPolicy::parse("maybe"), None);
    }

    #[test]
    fn registration_table() {
        use RegistrationPolicy as P;
        use RegistrationStatus::*;
        let cases = [
            ("a new station, accept policy", None, P::Accept, Registered::New(Accepted)),
            ("a new station, pending policy", None, P::Pending, Registered::New(Pending)),
            ("a new station, reject policy", None, P::Reject, Registered::New(Rejected)),
            ("a known accepted station under a reject policy", Some(Accepted), P::Reject, Registered::Known(Accepted)),
            ("a known pending station under an accept policy", Some(Pending), P::Accept, Registered::Known(Pending)),
            ("a known rejected station under an accept policy", Some(Rejected), P::Accept, Registered::Known(Rejected)),
        ];
        for (name, stored, policy, expected) in cases {
            let decided = register(stored, policy);
            assert_eq!(decided, expected, "{name}");
            assert_eq!(decided.status(), stored.unwrap_or(policy.initial_status()), "{name}: status");
        }
    }
}
