//! CALLERROR codes and their per-version spellings (CHECKLIST §1.2), and the decode error that
//! carries the code a failed decode must be answered with.

use crate::frame::OcppVersion;
use std::fmt;

/// The CALLERROR codes of OCPP 1.6J and 2.0.1. The spelling on the wire depends on the version:
/// 1.6 says `FormationViolation`, 2.0.1 `FormatViolation`; both keep the single-r
/// `OccurenceConstraintViolation`. On receipt every spelling is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    NotImplemented,
    NotSupported,
    InternalError,
    ProtocolError,
    SecurityError,
    FormationViolation,
    PropertyConstraintViolation,
    OccurenceConstraintViolation,
    TypeConstraintViolation,
    GenericError,
    /// 2.0.1 only; 1.6 peers get `ProtocolError`.
    MessageTypeNotSupported,
    /// 2.0.1 only; 1.6 peers get `ProtocolError`.
    RpcFrameworkError,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::NotImplemented,
        ErrorCode::NotSupported,
        ErrorCode::InternalError,
        ErrorCode::ProtocolError,
        ErrorCode::SecurityError,
        ErrorCode::FormationViolation,
        ErrorCode::PropertyConstraintViolation,
        ErrorCode::OccurenceConstraintViolation,
        ErrorCode::TypeConstraintViolation,
        ErrorCode::GenericError,
        ErrorCode::MessageTypeNotSupported,
        ErrorCode::RpcFrameworkError,
    ];

    /// The code as spelled for `version`.
    pub fn as_str(self, version: OcppVersion) -> &'static str {
        match (self, version) {
            (ErrorCode::NotImplemented, _) => "NotImplemented",
            (ErrorCode::NotSupported, _) => "NotSupported",
            (ErrorCode::InternalError, _) => "InternalError",
            (ErrorCode::ProtocolError, _) => "ProtocolError",
            (ErrorCode::SecurityError, _) => "SecurityError",
            (ErrorCode::FormationViolation, OcppVersion::V16) => "FormationViolation",
            (ErrorCode::FormationViolation, OcppVersion::V201) => "FormatViolation",
            (ErrorCode::PropertyConstraintViolation, _) => "PropertyConstraintViolation",
            (ErrorCode::OccurenceConstraintViolation, _) => "OccurenceConstraintViolation",
            (ErrorCode::TypeConstraintViolation, _) => "TypeConstraintViolation",
            (ErrorCode::GenericError, _) => "GenericError",
            (ErrorCode::MessageTypeNotSupported, OcppVersion::V16)
            | (ErrorCode::RpcFrameworkError, OcppVersion::V16) => "ProtocolError",
            (ErrorCode::MessageTypeNotSupported, OcppVersion::V201) => "MessageTypeNotSupported",
            (ErrorCode::RpcFrameworkError, OcppVersion::V201) => "RpcFrameworkError",
        }
    }

    /// Reads a code in any known spelling, including the double-r form of OCPP 2.1.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        Some(match text {
            "NotImplemented" => ErrorCode::NotImplemented,
            "NotSupported" => ErrorCode::NotSupported,
            "InternalError" => ErrorCode::InternalError,
            "ProtocolError" => ErrorCode::ProtocolError,
            "SecurityError" => ErrorCode::SecurityError,
            "FormationViolation" | "FormatViolation" => ErrorCode::FormationViolation,
            "PropertyConstraintViolation" => ErrorCode::PropertyConstraintViolation,
            "OccurenceConstraintViolation" | "OccurrenceConstraintViolation" => ErrorCode::OccurenceConstraintViolation,
            "TypeConstraintViolation" => ErrorCode::TypeConstraintViolation,
            "GenericError" => ErrorCode::GenericError,
            "MessageTypeNotSupported" => ErrorCode::MessageTypeNotSupported,
            "RpcFrameworkError" => ErrorCode::RpcFrameworkError,
            _ => return None,
        })
    }
}

/// Why a payload could not be decoded, and the CALLERROR code that says so.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
}

impl fmt::Display for OcppVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.subprotocol())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_in_both_spellings() {
        for &code in ErrorCode::ALL {
            for version in [OcppVersion::V16, OcppVersion::V201] {
                let parsed = ErrorCode::parse(code.as_str(version)).expect("known spelling");
                // 1.6 has no MessageTypeNotSupported/RpcFrameworkError: they degrade to ProtocolError.
                let degraded = version == OcppVersion::V16
                    && matches!(code, ErrorCode::MessageTypeNotSupported | ErrorCode::RpcFrameworkError);
                assert_eq!(parsed, if degraded { ErrorCode::ProtocolError } else { code });
            }
        }
    }

    #[test]
    fn version_specific_spellings() {
        assert_eq!(ErrorCode::FormationViolation.as_str(OcppVersion::V16), "FormationViolation");
        assert_eq!(ErrorCode::FormationViolation.as_str(OcppVersion::V201), "FormatViolation");
        assert_eq!(ErrorCode::parse("OccurrenceConstraintViolation"), Some(ErrorCode::OccurenceConstraintViolation));
    }

    /// The single r is OCPP 1.6's (errata v1.0 §5.1, kept) and OCPP 2.0.1's: OCA moved to the
    /// double r only in OCPP 2.1 (mobilityhouse/ocpp#490; the pinned `ocpp==2.1.0` marks
    /// `OccurrenceConstraintViolation` "not valid OCPP 2.0.1"; libocpp's 2.0.1 emits the single
    /// r). A 2.0.1 station that matches codes strictly would not know the double r.
    #[test]
    fn occurrence_keeps_its_single_r_in_both_versions() {
        for version in [OcppVersion::V16, OcppVersion::V201] {
            assert_eq!(ErrorCode::OccurenceConstraintViolation.as_str(version), "OccurenceConstraintViolation");
        }
    }
}
