//! Faults: an error a station reports about itself or a connector, from the moment it is
//! reported until the station says it is gone.

/// How serious a fault is: a Faulted connector cannot charge; an error code on an otherwise
/// operative connector is a warning (OCPP 1.6 §4.9: error code and status are independent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub const ALL: &'static [Severity] = &[Severity::Error, Severity::Warning, Severity::Info];

    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.iter().copied().find(|s| s.as_str() == text)
    }

    /// Higher is graver.
    pub fn rank(self) -> u8 {
        match self {
            Severity::Info => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
            Severity::Info => "Info",
        }
    }

    /// A 2.0.1 monitor severity (0 Danger … 4 Error, 5 Alert, 6 Warning, 7 Notice …
    /// 9 Debug; OCPP 2.0.1 Part 2 §3.77) in Ström's three levels.
    pub fn from_monitor(level: i64) -> Severity {
        match level {
            ..=4 => Severity::Error,
            5 | 6 => Severity::Warning,
            _ => Severity::Info,
        }
    }
}

/// Device-model variables whose boolean value says "something is wrong here" (OCPP 2.0.1
/// Part 2 appendix, standardized components: `Problem` on most, `Tripped` on protection
/// devices, `Overload` on power converters).
const PROBLEM_VARIABLES: &[&str] = &["Problem", "Tripped", "Overload"];

/// What a 2.0.1 NotifyEvent entry means for the fault of its component and variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventChange {
    Open(Severity),
    Clear,
    /// Kept as an event only: a periodic report or a change that is no fault.
    Record,
}

/// `trigger` is Alerting, Delta or Periodic; `monitor_severity` the severity of the monitor
/// that fired, when Ström knows it from a monitoring report.
pub fn assess_event(
    trigger: &str,
    cleared: bool,
    variable: &str,
    actual_value: &str,
    monitor_severity: Option<i64>,
) -> EventChange {
    if cleared {
        return EventChange::Clear;
    }
    let value = actual_value.trim();
    if PROBLEM_VARIABLES.contains(&variable) {
        return match value.to_ascii_lowercase().as_str() {
            "false" | "0" => EventChange::Clear,
            _ => EventChange::Open(Severity::Error),
        };
    }
    if variable == "AvailabilityState" {
        return if value == "Faulted" { EventChange::Open(Severity::Error) } else { EventChange::Clear };
    }
    match trigger {
        // A monitor crossed its threshold: a fault of the monitor's severity (Warning when the
        // monitor is not known).
        "Alerting" => EventChange::Open(monitor_severity.map_or(Severity::Warning, Severity::from_monitor)),
        _ => EventChange::Record,
    }
}

/// What a connector status report means for the connector's open fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultChange {
    /// A fault with this code and severity is (still) present; an open fault with the same code
    /// stays open, a different one is closed and this one opened.
    Present { error_code: String, severity: Severity },
    /// The connector is healthy again: close whatever is open.
    Cleared,
}

/// `NoError` with a non-Faulted status clears; anything else is a fault. A Faulted status
/// without an error code is still a fault (some firmware reports `Faulted` with `NoError`).
/// A 2.0.1 status carries no error code (`None`; the details come through NotifyEvent): Faulted
/// opens a fault with the code `Faulted`, any other status clears it.
pub fn assess(status: &str, error_code: Option<&str>) -> FaultChange {
    let faulted = status == "Faulted";
    match (error_code, faulted) {
        (None, true) => FaultChange::Present { error_code: status.to_string(), severity: Severity::Error },
        (None, false) | (Some("NoError"), false) => FaultChange::Cleared,
        (Some(code), true) => FaultChange::Present { error_code: code.to_string(), severity: Severity::Error },
        (Some(code), false) => FaultChange::Present { error_code: code.to_string(), severity: Severity::Warning },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_events_map_to_fault_changes() {
        let cases = [
            ("Delta", false, "Problem", "true", None, EventChange::Open(Severity::Error)),
            ("Delta", false, "Problem", "false", None, EventChange::Clear),
            ("Delta", false, "Tripped", "TRUE", None, EventChange::Open(Severity::Error)),
            ("Delta", false, "AvailabilityState", "Faulted", None, EventChange::Open(Severity::Error)),
            ("Delta", false, "AvailabilityState", "Available", None, EventChange::Clear),
            ("Alerting", false, "Temperature", "93", Some(2), EventChange::Open(Severity::Error)),
            ("Alerting", false, "Temperature", "71", Some(6), EventChange::Open(Severity::Warning)),
            ("Alerting", false, "Voltage", "", None, EventChange::Open(Severity::Warning)),
            ("Alerting", true, "Temperature", "40", Some(2), EventChange::Clear),
            ("Periodic", false, "Temperature", "40", None, EventChange::Record),
            ("Delta", false, "Power", "7000", None, EventChange::Record),
        ];
        for (trigger, cleared, variable, value, severity, expected) in cases {
            assert_eq!(
                assess_event(trigger, cleared, variable, value, severity),
                expected,
                "{trigger} {variable}={value}"
            );
        }
    }

    #[test]
    fn status_reports_map_to_fault_changes() {
        assert_eq!(assess("Available", Some("NoError")), FaultChange::Cleared);
        assert_eq!(assess("Occupied", None), FaultChange::Cleared);
        assert_eq!(assess("Unavailable", None), FaultChange::Cleared);
        assert_eq!(
            assess("Faulted", None),
            FaultChange::Present { error_code: "Faulted".into(), severity: Severity::Error }
        );
        assert_eq!(
            assess("Faulted", Some("HighTemperature")),
            FaultChange::Present { error_code: "HighTemperature".into(), severity: Severity::Error }
        );
        assert_eq!(
            assess("Charging", Some("OverVoltage")),
            FaultChange::Present { error_code: "OverVoltage".into(), severity: Severity::Warning }
        );
        assert_eq!(
            assess("Faulted", Some("NoError")),
            FaultChange::Present { error_code: "NoError".into(), severity: Severity::Error }
        );
    }
}
