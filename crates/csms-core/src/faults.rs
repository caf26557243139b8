//! Faults: an error a station reports about itself or a connector, from the moment it is
//! reported until the station says it is gone.

/// How serious a fault is: a Faulted connector cannot charge; an error code on an otherwise
/// operative connector is a warning (OCPP 1.6 §4.9: error code and status are independent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        }
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
pub fn assess(status: &str, error_code: &str) -> FaultChange {
    let faulted = status == "Faulted";
    match (error_code, faulted) {
        ("NoError", false) => FaultChange::Cleared,
        (code, true) => FaultChange::Present {
            error_code: code.to_string(),
            severity: Severity::Error,
        },
        (code, false) => FaultChange::Present {
            error_code: code.to_string(),
            severity: Severity::Warning,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reports_map_to_fault_changes() {
        assert_eq!(assess("Available", "NoError"), FaultChange::Cleared);
        assert_eq!(
            assess("Faulted", "HighTemperature"),
            FaultChange::Present {
                error_code: "HighTemperature".into(),
                severity: Severity::Error
            }
        );
        assert_eq!(
            assess("Charging", "OverVoltage"),
            FaultChange::Present {
                error_code: "OverVoltage".into(),
                severity: Severity::Warning
            }
        );
        assert_eq!(
            assess("Faulted", "NoError"),
            FaultChange::Present {
                error_code: "NoError".into(),
                severity: Severity::Error
            }
        );
    }
}
