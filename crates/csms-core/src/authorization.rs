//! Id tokens and the authorization rule shared by Authorize, StartTransaction and (later)
//! TransactionEvent: a token's stored status, its expiry, and whether it is already charging.

use crate::station::ProtocolVersion;
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

    /// The status as a station of `version` is told it, which is what Ström stores as the
    /// outcome: OCPP 1.6's AuthorizationStatus (§7.2) has Accepted, Blocked, Expired, Invalid and
    /// ConcurrentTx only, so a 1.6 station hears `Invalid` for the decisions 1.6 cannot say
    /// (an unknown tag, no credit, not here, not now, not this EVSE type).
    pub fn as_answered(self, version: ProtocolVersion) -> AuthStatus {
        match (version, self) {
            (ProtocolVersion::V201, status) => status,
            (
                ProtocolVersion::V16,
                AuthStatus::Unknown
                | AuthStatus::NoCredit
                | AuthStatus::NotAllowedTypeEVSE
                | AuthStatus::NotAtThisLocation
                | AuthStatus::NotAtThisTime,
            ) => AuthStatus::Invalid,
            (ProtocolVersion::V16, status) => status,
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

/// The kind of an id token (OCPP 2.0.1 IdTokenEnumType): the same value read from an RFID card
/// and typed on a keypad are two different tokens. OCPP 1.6 id tags carry no type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    Central,
    EMaid,
    Iso14443,
    Iso15693,
    KeyCode,
    Local,
    MacAddress,
    NoAuthorization,
}

impl TokenType {
    pub const ALL: &'static [TokenType] = &[
        TokenType::Central,
        TokenType::EMaid,
        TokenType::Iso14443,
        TokenType::Iso15693,
        TokenType::KeyCode,
        TokenType::Local,
        TokenType::MacAddress,
        TokenType::NoAuthorization,
    ];

    /// The 2.0.1 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Central => "Central",
            TokenType::EMaid => "eMAID",
            TokenType::Iso14443 => "ISO14443",
            TokenType::Iso15693 => "ISO15693",
            TokenType::KeyCode => "KeyCode",
            TokenType::Local => "Local",
            TokenType::MacAddress => "MacAddress",
            TokenType::NoAuthorization => "NoAuthorization",
        }
    }

    pub fn parse(text: &str) -> Option<TokenType> {
        TokenType::ALL.iter().copied().find(|t| t.as_str() == text)
    }
}

/// An id token as the operator configured it.
#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenRecord {
    pub id_token: String,
    /// `None`: the token is this value whatever its type (and every 1.6 id tag).
    pub token_type: Option<TokenType>,
    pub status: TokenStatus,
    pub expiry: Option<Timestamp>,
    pub parent_id_token: Option<String>,
}

impl IdTokenRecord {
    /// Whether a token presented with `presented` as its type is this one: a typed record is
    /// only its own type (a KeyCode "1234" is not the card "1234"), an untyped one any type, and
    /// a token presented without a type (OCPP 1.6) is the value alone.
    pub fn identifies(&self, presented: Option<TokenType>) -> bool {
        match (self.token_type, presented) {
            (Some(own), Some(presented)) => own == presented,
            _ => true,
        }
    }
}

/// What the station is told about a token: status, expiry for its cache, and the group.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthDecision {
    pub status: AuthStatus,
    pub expiry: Option<Timestamp>,
    pub parent_id_token: Option<String>,
}

/// Decides a token's status at `now`. `charging_elsewhere` is true when the token already has
/// an active transaction that is not the one being decided about (OCPP 1.6 §4.8 ConcurrentTx;
/// `concurrency_applies` says when that is asked).
/// Unknown tokens are `Unknown`; the 1.6 adapter says `Invalid`. `presented` is the type the
/// token came with (2.0.1); a record of another type is not this token.
pub fn decide(
    record: Option<&IdTokenRecord>,
    presented: Option<TokenType>,
    now: Timestamp,
    charging_elsewhere: bool,
) -> AuthDecision {
    let Some(record) = record.filter(|r| r.identifies(presented)) else {
        return AuthDecision { status: AuthStatus::Unknown, expiry: None, parent_id_token: None };
    };
    let status = match record.status {
        TokenStatus::Accepted if record.expiry.is_some_and(|e| e <= now) => AuthStatus::Expired,
        TokenStatus::Accepted if charging_elsewhere => AuthStatus::ConcurrentTx,
        other => other.outcome(),
    };
    AuthDecision { status, expiry: record.expiry, parent_id_token: record.parent_id_token.clone() }
}

/// Why Ström refuses to ask a station to start a transaction for a token (a remote start): the
/// station would be told the token is refused when it presents it, or charge for a token the
/// operator blocked. `None`: the token may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteStartRefusal {
    /// Ström has no such token.
    Unknown,
    /// The token's decision now (Blocked, Expired, Invalid, NoCredit, …).
    Refused(AuthStatus),
}

/// Whether a remote start for `record` (the token as Ström knows it, `None` when it does not)
/// is refused at `now`. A token already charging elsewhere is not refused here: the station
/// decides, and the start is then flagged if it charges anyway.
pub fn remote_start_refusal(record: Option<&IdTokenRecord>, now: Timestamp) -> Option<RemoteStartRefusal> {
    match decide(record, None, now, false).status {
        AuthStatus::Accepted => None,
        AuthStatus::Unknown => Some(RemoteStartRefusal::Unknown),
        status => Some(RemoteStartRefusal::Refused(status)),
    }
}

/// What a token is being authorized for, which decides whether a transaction it already has
/// elsewhere refuses it with ConcurrentTx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A 1.6 or 2.0.1 Authorize: the station does not say for which connector, and a driver
    /// may present the tag to stop the transaction it has at this very station, so only a
    /// transaction at another station makes it ConcurrentTx.
    Authorize,
    /// A 1.6 StartTransaction or a 2.0.1 TransactionEvent `Started`: a transaction anywhere
    /// else (another connector, EVSE or station) makes it ConcurrentTx.
    Start,
    /// A 2.0.1 TransactionEvent `Updated` or `Ended`, or a 1.6 StopTransaction: the transaction
    /// exists already, and ConcurrentTx is never the answer (OCPP 2.0.1 E05: only a `Started`
    /// event may be refused as concurrent).
    Continue,
}

/// Where a token's other active transaction is, relative to the one being decided about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherTransaction {
    None,
    SameStation,
    OtherStation,
}

/// Whether a transaction the token has elsewhere makes this decision ConcurrentTx.
pub fn concurrency_applies(purpose: Purpose, other: OtherTransaction) -> bool {
    match (purpose, other) {
        (_, OtherTransaction::None) | (Purpose::Continue, _) => false,
        (Purpose::Authorize, OtherTransaction::SameStation) => false,
        (Purpose::Authorize, OtherTransaction::OtherStation) | (Purpose::Start, _) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 11, 26, h, 0, 0).single().expect("valid")
    }

    fn token(status: TokenStatus, expiry: Option<Timestamp>) -> IdTokenRecord {
        IdTokenRecord { id_token: "T".into(), token_type: None, status, expiry, parent_id_token: Some("G".into()) }
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
            let d = decide(record.as_ref(), None, at(12), busy);
            assert_eq!(d.status, expected, "{record:?} busy={busy}");
            assert_eq!(d.parent_id_token.is_some(), record.is_some());
        }
    }

    #[test]
    fn a_typed_token_is_only_its_own_type() {
        let card = IdTokenRecord { token_type: Some(TokenType::Iso14443), ..token(TokenStatus::Accepted, None) };
        let any = token(TokenStatus::Accepted, None);
        let cases = [
            (&card, Some(TokenType::Iso14443), AuthStatus::Accepted),
            (&card, Some(TokenType::KeyCode), AuthStatus::Unknown),
            (&card, None, AuthStatus::Accepted),
            (&any, Some(TokenType::KeyCode), AuthStatus::Accepted),
            (&any, None, AuthStatus::Accepted),
        ];
        for (record, presented, expected) in cases {
            assert_eq!(decide(Some(record), presented, at(12), false).status, expected, "{record:?} as {presented:?}");
        }
        for &t in TokenType::ALL {
            assert_eq!(TokenType::parse(t.as_str()), Some(t));
        }
        assert_eq!(TokenType::parse("iso14443"), None, "the 2.0.1 spelling exactly");
    }

    #[test]
    fn concurrency_table() {
        use OtherTransaction::*;
        let cases = [
            (Purpose::Authorize, None, false),
            (Purpose::Authorize, SameStation, false),
            (Purpose::Authorize, OtherStation, true),
            (Purpose::Start, None, false),
            (Purpose::Start, SameStation, true),
            (Purpose::Start, OtherStation, true),
            (Purpose::Continue, SameStation, false),
            (Purpose::Continue, OtherStation, false),
        ];
        for (purpose, other, expected) in cases {
            assert_eq!(concurrency_applies(purpose, other), expected, "{purpose:?} {other:?}");
        }
    }
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn outcomes_are_stored_as_the_station_was_told_them() {
        use AuthStatus::*;
        let cases = [
            (Accepted, Accepted, Accepted),
            (Blocked, Blocked, Blocked),
            (ConcurrentTx, ConcurrentTx, ConcurrentTx),
            (Expired, Expired, Expired),
            (Invalid, Invalid, Invalid),
            (Unknown, Invalid, Unknown),
            (NoCredit, Invalid, NoCredit),
            (NotAllowedTypeEVSE, Invalid, NotAllowedTypeEVSE),
            (NotAtThisLocation, Invalid, NotAtThisLocation),
            (NotAtThisTime, Invalid, NotAtThisTime),
        ];
        for (decided, v16, v201) in cases {
            assert_eq!(decided.as_answered(ProtocolVersion::V16), v16, "{decided:?} in 1.6");
            assert_eq!(decided.as_answered(ProtocolVersion::V201), v201, "{decided:?} in 2.0.1");
        }
    }

    #[test]
    fn remote_starts_are_refused_for_tokens_a_station_would_refuse() {
        use chrono::TimeZone;
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).single().expect("valid");
        let token = |status, expiry| IdTokenRecord {
            id_token: "T".into(),
            token_type: None,
            status,
            expiry,
            parent_id_token: None,
        };
        let cases = [
            (None, Some(RemoteStartRefusal::Unknown)),
            (Some(token(TokenStatus::Accepted, None)), None),
            (Some(token(TokenStatus::Accepted, Some(now + chrono::Duration::hours(1)))), None),
            (
                Some(token(TokenStatus::Accepted, Some(now - chrono::Duration::hours(1)))),
                Some(RemoteStartRefusal::Refused(AuthStatus::Expired)),
            ),
            (Some(token(TokenStatus::Blocked, None)), Some(RemoteStartRefusal::Refused(AuthStatus::Blocked))),
            (Some(token(TokenStatus::Expired, None)), Some(RemoteStartRefusal::Refused(AuthStatus::Expired))),
            (Some(token(TokenStatus::Invalid, None)), Some(RemoteStartRefusal::Refused(AuthStatus::Invalid))),
            (Some(token(TokenStatus::NoCredit, None)), Some(RemoteStartRefusal::Refused(AuthStatus::NoCredit))),
        ];
        for (record, expected) in cases {
            assert_eq!(remote_start_refusal(record.as_ref(), now), expected, "{record:?}");
        }
    }

    #[test]
    fn token_statuses_round_trip_through_their_names() {
        for &status in TokenStatus::ALL {
            assert_eq!(TokenStatus::parse(status.as_str()), Some(status));
            assert_eq!(AuthStatus::parse(status.as_str()).map(|a| a.as_str()), Some(status.as_str()));
        }
        assert_eq!(TokenStatus::parse("ConcurrentTx"), None, "an outcome, not a state");
    }
}
