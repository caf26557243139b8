//! Id tokens and the authorization rule shared by Authorize, StartTransaction and (later)
//! TransactionEvent: a token's stored status, its expiry, and whether it is already charging.

use crate::Timestamp;

/// The outcome of authorizing a token, in 2.0.1 vocabulary; the 1.6 adapter maps the statuses
/// 1.6 lacks (Unknown and friends) to `Invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStatus {
    Accepted,
    Blocked,
    ConcurrentTx,
    Expired,
    Invalid,
    NoCredit,
    NotAllowedTypeEVSE,
    NotAtThisLocation,
    NotAtThisTime,
    Unknown,
}

impl AuthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthStatus::Accepted => "Accepted",
            AuthStatus::Blocked => "Blocked",
            AuthStatus::ConcurrentTx => "ConcurrentTx",
            AuthStatus::Expired => "Expired",
            AuthStatus::Invalid => "Invalid",
            AuthStatus::NoCredit => "NoCredit",
            AuthStatus::NotAllowedTypeEVSE => "NotAllowedTypeEVSE",
            AuthStatus::NotAtThisLocation => "NotAtThisLocation",
            AuthStatus::NotAtThisTime => "NotAtThisTime",
            AuthStatus::Unknown => "Unknown",
        }
    }

    pub fn parse(text: &str) -> Option<AuthStatus> {
        Some(match text {
            "Accepted" => AuthStatus::Accepted,
            "Blocked" => AuthStatus::Blocked,
            "ConcurrentTx" => AuthStatus::ConcurrentTx,
            "Expired" => AuthStatus::Expired,
            "Invalid" => AuthStatus::Invalid,
            "NoCredit" => AuthStatus::NoCredit,
            "NotAllowedTypeEVSE" => AuthStatus::NotAllowedTypeEVSE,
            "NotAtThisLocation" => AuthStatus::NotAtThisLocation,
            "NotAtThisTime" => AuthStatus::NotAtThisTime,
            "Unknown" => AuthStatus::Unknown,
            _ => return None,
        })
    }
}

/// The statuses an operator (or a billing system, through the API) may give a token.
/// ConcurrentTx and Unknown are outcomes of a decision, not states of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Accepted,
    Blocked,
    Expired,
    Invalid,
    NoCredit,
    NotAllowedTypeEVSE,
    NotAtThisLocation,
    NotAtThisTime,
}

impl TokenStatus {
    pub const ALL: &'static [TokenStatus] = &[
        TokenStatus::Accepted,
        TokenStatus::Blocked,
        TokenStatus::Expired,
        TokenStatus::Invalid,
        TokenStatus::NoCredit,
        TokenStatus::NotAllowedTypeEVSE,
        TokenStatus::NotAtThisLocation,
        TokenStatus::NotAtThisTime,
    ];

    pub fn as_str(self) -> &'static str {
        self.outcome().as_str()
    }

    pub fn parse(text: &str) -> Option<TokenStatus> {
        TokenStatus::ALL.iter().copied().find(|s| s.as_str() == text)
    }

    /// The decision a token in this state gets when nothing else (expiry, concurrency) applies.
    fn outcome(self) -> AuthStatus {
        match self {
            TokenStatus::Accepted => AuthStatus::Accepted,
            TokenStatus::Blocked => AuthStatus::Blocked,
            TokenStatus::Expired => AuthStatus::Expired,
            TokenStatus::Invalid => AuthStatus::Invalid,
            TokenStatus::NoCredit => AuthStatus::NoCredit,
            TokenStatus::NotAllowedTypeEVSE => AuthStatus::NotAllowedTypeEVSE,
            TokenStatus::NotAtThisLocation => AuthStatus::NotAtThisLocation,
            TokenStatus::NotAtThisTime => AuthStatus::NotAtThisTime,
        }
    }
}

/// An id token as the operator configured it.
#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenRecord {
    pub id_token: String,
    pub status: TokenStatus,
    pub expiry: Option<Timestamp>,
    pub parent_id_token: Option<String>,
}

/// What the station is told about a token: status, expiry for its cache, and the group.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthDecision {
    pub status: AuthStatus,
    pub expiry: Option<Timestamp>,
    pub parent_id_token: Option<String>,
}

/// Decides a token's status at `now`. `charging_elsewhere` is true when the token already has
/// an active transaction that is not the one being decided about (OCPP 1.6 §4.8 ConcurrentTx).
/// Unknown tokens are `Unknown`; the 1.6 adapter says `Invalid`.
pub fn decide(record: Option<&IdTokenRecord>, now: Timestamp, charging_elsewhere: bool) -> AuthDecision {
    let Some(record) = record else {
        return AuthDecision { status: AuthStatus::Unknown, expiry: None, parent_id_token: None };
    };
    let status = match record.status {
        TokenStatus::Accepted if record.expiry.is_some_and(|e| e <= now) => AuthStatus::Expired,
        TokenStatus::Accepted if charging_elsewhere => AuthStatus::ConcurrentTx,
        other => other.outcome(),
    };
    AuthDecision { status, expiry: record.expiry, parent_id_token: record.parent_id_token.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 11, 26, h, 0, 0).single().expect("valid")
    }

    fn token(status: TokenStatus, expiry: Option<Timestamp>) -> IdTokenRecord {
        IdTokenRecord { id_token: "T".into(), status, expiry, parent_id_token: Some("G".into()) }
    }

    #[test]
    fn decision_table() {
        let cases = [
            (None, false, AuthStatus::Unknown),
            (Some(token(TokenStatus::Accepted, None)), false, AuthStatus::Accepted),
            (Some(token(TokenStatus::Accepted, Some(at(13)))), false, AuthStatus::Accepted),
            (Some(token(TokenStatus::Accepted, Some(at(12)))), false, AuthStatus::Expired),
            (Some(token(TokenStatus::Accepted, Some(at(11)))), true, AuthStatus::Expired),
            (Some(token(TokenStatus::Accepted, None)), true, AuthStatus::ConcurrentTx),
            (Some(token(TokenStatus::Blocked, None)), true, AuthStatus::Blocked),
            (Some(token(TokenStatus::Expired, None)), false, AuthStatus::Expired),
            (Some(token(TokenStatus::Invalid, None)), false, AuthStatus::Invalid),
            (Some(token(TokenStatus::NoCredit, None)), false, AuthStatus::NoCredit),
            (Some(token(TokenStatus::NotAtThisTime, None)), true, AuthStatus::NotAtThisTime),
        ];
        for (record, busy, expected) in cases {
            let d = decide(record.as_ref(), at(12), busy);
            assert_eq!(d.status, expected, "{record:?} busy={busy}");
            assert_eq!(d.parent_id_token.is_some(), record.is_some());
        }
    }
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn token_statuses_round_trip_through_their_names() {
        for &status in TokenStatus::ALL {
            assert_eq!(TokenStatus::parse(status.as_str()), Some(status));
            assert_eq!(AuthStatus::parse(status.as_str()).map(|a| a.as_str()), Some(status.as_str()));
        }
        assert_eq!(TokenStatus::parse("ConcurrentTx"), None, "an outcome, not a state");
    }
}
