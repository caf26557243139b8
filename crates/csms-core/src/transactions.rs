//! Transactions: the energy a session delivered, from the meter start and stop values and
//! cross-checked against the register readings reported during the session; which stored
//! transaction an event belongs to, a retried start, and which token started or stopped one.

use crate::authorization::{self, AuthDecision, AuthStatus, IdTokenRecord};
use crate::metering::ReadingContext;
use crate::Timestamp;

/// Problems found in a transaction's numbers; stored with it for reconciliation and billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyFlag {
    /// meterStop is below meterStart.
    StopBelowStart,
    /// An import-register reading was lower than an earlier one.
    RegisterWentBackwards,
    /// A register reading lies outside [meterStart, meterStop].
    RegisterOutsideStartStop,
    /// meterStart or meterStop is negative: an import register never is, so the numbers are
    /// not a meter's (a 1.6 int32 wrapped, or forged) and no energy is derived from them.
    NegativeMeterValue,
}

impl EnergyFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            EnergyFlag::StopBelowStart => "meter_stop_below_start",
            EnergyFlag::RegisterWentBackwards => "register_went_backwards",
            EnergyFlag::RegisterOutsideStartStop => "register_outside_start_stop",
            EnergyFlag::NegativeMeterValue => "negative_meter_value",
        }
    }
}

/// An import register reading of a transaction, with the context it was taken in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Register {
    pub wh: f64,
    pub context: ReadingContext,
}

/// The meter start and stop of a 2.0.1 transaction, which carries no meterStart/meterStop: the
/// `Transaction.Begin` and `Transaction.End` readings when the station sent them, else the first
/// and last register reading. `registers` are in time order.
pub fn meter_bounds(registers: &[Register]) -> Option<(f64, f64)> {
    let first = registers.first()?;
    let last = registers.last()?;
    let start = registers.iter().find(|r| r.context == ReadingContext::TransactionBegin).unwrap_or(first);
    let stop = registers.iter().rev().find(|r| r.context == ReadingContext::TransactionEnd).unwrap_or(last);
    Some((start.wh, stop.wh))
}

/// Problems in the sequence of a 2.0.1 transaction's events (OCPP 2.0.1 E01.FR.16: seqNo grows
/// by one per event of a transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceFlag {
    /// A seqNo was skipped: an event is missing (or still queued at the station).
    Gap,
    /// An event arrived after a later one.
    OutOfOrder,
    /// A seqNo the transaction already used, on an event that is not the same event again
    /// (some firmware sends every event with seqNo 0): applied, and flagged.
    Repeated,
}

impl SequenceFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            SequenceFlag::Gap => "seq_no_gap",
            SequenceFlag::OutOfOrder => "seq_no_out_of_order",
            SequenceFlag::Repeated => "seq_no_repeated",
        }
    }
}

/// Judges `seq_no` against the highest seqNo seen so far for the transaction; `used` is true
/// when another event of the transaction already carried it.
pub fn check_sequence(highest_seen: Option<i64>, seq_no: i64, used: bool) -> Option<SequenceFlag> {
    if used {
        return Some(SequenceFlag::Repeated);
    }
    match highest_seen {
        Some(h) if seq_no > h + 1 => Some(SequenceFlag::Gap),
        Some(h) if seq_no < h => Some(SequenceFlag::OutOfOrder),
        _ => None,
    }
}

/// The billed energy and the flags that qualify it. `registers` are the session's import
/// register readings in Wh, in time order. A stop below the start gives no energy rather
/// than a negative bill.
pub fn energy(meter_start_wh: f64, meter_stop_wh: f64, registers: &[f64]) -> (Option<f64>, Vec<EnergyFlag>) {
    let mut flags = Vec::new();
    if registers.windows(2).any(|w| w[1] < w[0]) {
        flags.push(EnergyFlag::RegisterWentBackwards);
    }
    let energy = if meter_start_wh < 0.0 || meter_stop_wh < 0.0 {
        flags.push(EnergyFlag::NegativeMeterValue);
        None
    } else if meter_stop_wh < meter_start_wh {
        flags.push(EnergyFlag::StopBelowStart);
        None
    } else {
        if registers.iter().any(|&r| r < meter_start_wh || r > meter_stop_wh) {
            flags.push(EnergyFlag::RegisterOutsideStartStop);
        }
        Some(meter_stop_wh - meter_start_wh)
    };
    (energy, flags)
}

/// Something about a transaction that billing and reconciliation must know: how its numbers were
/// got, and what the station did that the protocol does not expect. Stored with the
/// transaction (`Flags::stored`) and shown by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionFlag {
    /// A 1.6 StopTransaction for a transaction Ström never saw.
    UnknownTransaction,
    /// A 2.0.1 transaction first seen in an Updated or Ended event.
    StartedEventMissing,
    Sequence(SequenceFlag),
    /// A 2.0.1 transactionId used again after its transaction ended: this is a new transaction.
    TransactionIdReused,
    /// Closed by Ström because a newer transaction began on its connector or EVSE.
    Superseded,
    /// No register reading to take the energy from.
    NoEnergyRegister,
    Energy(EnergyFlag),
    /// Energy flowed although the start was refused (`sessions::charged_while_unauthorized`).
    /// Derived from the start's status and the energy whenever the transaction is read, never
    /// stored: a running session earns it with its first watt-hour.
    ChargedWhileUnauthorized,
}

impl TransactionFlag {
    pub const ALL: &'static [TransactionFlag] = &[
        TransactionFlag::UnknownTransaction,
        TransactionFlag::StartedEventMissing,
        TransactionFlag::Sequence(SequenceFlag::Gap),
        TransactionFlag::Sequence(SequenceFlag::OutOfOrder),
        TransactionFlag::Sequence(SequenceFlag::Repeated),
        TransactionFlag::TransactionIdReused,
        TransactionFlag::Superseded,
        TransactionFlag::NoEnergyRegister,
        TransactionFlag::Energy(EnergyFlag::StopBelowStart),
        TransactionFlag::Energy(EnergyFlag::RegisterWentBackwards),
        TransactionFlag::Energy(EnergyFlag::RegisterOutsideStartStop),
        TransactionFlag::Energy(EnergyFlag::NegativeMeterValue),
        TransactionFlag::ChargedWhileUnauthorized,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionFlag::UnknownTransaction => "unknown_transaction",
            TransactionFlag::StartedEventMissing => "started_event_missing",
            TransactionFlag::Sequence(f) => f.as_str(),
            TransactionFlag::TransactionIdReused => "transaction_id_reused",
            TransactionFlag::Superseded => "superseded",
            TransactionFlag::NoEnergyRegister => "no_energy_register",
            TransactionFlag::Energy(f) => f.as_str(),
            TransactionFlag::ChargedWhileUnauthorized => "charged_while_unauthorized",
        }
    }

    pub fn parse(text: &str) -> Option<TransactionFlag> {
        TransactionFlag::ALL.iter().copied().find(|f| f.as_str() == text)
    }

    /// Whether the flag qualifies the energy, so that a new computation of it replaces the flag.
    pub fn is_energy(self) -> bool {
        matches!(self, TransactionFlag::Energy(_) | TransactionFlag::NoEnergyRegister)
    }
}

/// A transaction's flags, each once, in the order they were raised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(Vec<TransactionFlag>);

impl Flags {
    /// Flags as stored: their names joined with commas (`stored`). An unknown name is an error.
    pub fn parse(text: &str) -> Result<Flags, String> {
        let mut flags = Flags::default();
        for name in text.split(',').filter(|f| !f.is_empty()) {
            flags.add(TransactionFlag::parse(name).ok_or_else(|| format!("unknown transaction flag {name:?}"))?);
        }
        Ok(flags)
    }

    pub fn add(&mut self, flag: TransactionFlag) {
        if !self.0.contains(&flag) {
            self.0.push(flag);
        }
    }

    pub fn contains(&self, flag: TransactionFlag) -> bool {
        self.0.contains(&flag)
    }

    /// Drops the flags of an energy about to be computed again.
    pub fn forget_energy(&mut self) {
        self.0.retain(|f| !f.is_energy());
    }

    pub fn iter(&self) -> impl Iterator<Item = TransactionFlag> + '_ {
        self.0.iter().copied()
    }

    /// The stored form.
    pub fn stored(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|f| f.as_str()).collect();
        names.join(",")
    }
}

impl<const N: usize> From<[TransactionFlag; N]> for Flags {
    fn from(flags: [TransactionFlag; N]) -> Flags {
        let mut all = Flags::default();
        for f in flags {
            all.add(f);
        }
        all
    }
}

/// The kind of a 2.0.1 TransactionEvent (OCPP 2.0.1 TransactionEventEnumType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxEventType {
    Started,
    Updated,
    Ended,
}

impl TxEventType {
    /// The 2.0.1 spelling, as `transaction_events.event_type` stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            TxEventType::Started => "Started",
            TxEventType::Updated => "Updated",
            TxEventType::Ended => "Ended",
        }
    }
}

/// How a 2.0.1 TransactionEvent relates to what is stored under its transactionId.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMatch {
    /// The very event is stored already (the station retried after a lost answer): nothing
    /// changes.
    Duplicate,
    /// An event of the stored transaction.
    Same,
    /// The id names a transaction that has ended, and this event begins another one under the
    /// same id (a station that counts its ids from 1 again after a restart): a new transaction,
    /// flagged `transaction_id_reused`.
    Reused,
}

/// How a stored 2.0.1 transaction ended, as far as `match_event` needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredEnd<'a> {
    /// Still open.
    Open,
    /// Its Ended event said it stopped at this time.
    Ended(&'a str),
    /// Ström closed it as superseded, at this estimated time; the station's own Ended may
    /// still come.
    Superseded(&'a str),
}

/// The stored transaction a 2.0.1 event's id names, as far as `match_event` needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTransaction<'a> {
    pub end: StoredEnd<'a>,
    pub highest_seq_no: Option<i64>,
}

/// Decides whether an event is the same event again, one of the stored transaction, or the first
/// of a new transaction under a reused id. `identical` is true when an event with this seqNo and
/// the same content is stored. Timestamps are compared as Ström's fixed-width UTC text.
///
/// Once the transaction has ended, an event timed after its end begins a new transaction when it
/// is a `Started`, or when its seqNo is below the highest seen (the station counts again from
/// the start); an event timed before the end, or continuing or repeating the sequence (a late
/// Updated, a retried Ended stamped anew, firmware that sends every event with seqNo 0), belongs
/// to the old one, and so does a late `Started` timed before the end (its Started was queued).
/// A transaction Ström closed as superseded has only an estimated end: only a `Started` after it
/// is a new one, and everything else is the old one's (its real Ended replaces the estimate).
pub fn match_event(
    stored: StoredTransaction<'_>,
    identical: bool,
    started: bool,
    seq_no: i64,
    timestamp: &str,
) -> EventMatch {
    if identical {
        return EventMatch::Duplicate;
    }
    let restarts = stored.highest_seq_no.is_some_and(|h| seq_no < h);
    let reused = match stored.end {
        StoredEnd::Open => false,
        StoredEnd::Ended(at) => timestamp > at && (started || restarts),
        StoredEnd::Superseded(at) => timestamp > at && started,
    };
    if reused {
        EventMatch::Reused
    } else {
        EventMatch::Same
    }
}

/// The end of a transaction that never ended and was superseded by a newer one on the same
/// connector or EVSE: stopped at its last register reading (or its start when it has none), with
/// the energy up to that reading. Returns (meter stop, energy, flags).
pub fn superseded_energy(meter_start_wh: Option<f64>, registers: &[f64]) -> (Option<f64>, Option<f64>, Flags) {
    let mut flags = Flags::from([TransactionFlag::Superseded]);
    let last = registers.last().copied();
    let (stop, energy) = match (meter_start_wh, last) {
        (Some(start), Some(stop)) => {
            let (energy, energy_flags) = energy(start, stop, registers);
            energy_flags.into_iter().for_each(|f| flags.add(TransactionFlag::Energy(f)));
            (Some(stop), energy)
        }
        (None, Some(stop)) => (Some(stop), None),
        (_, None) => {
            flags.add(TransactionFlag::NoEnergyRegister);
            (None, None)
        }
    };
    (stop, energy, flags)
}

/// A stored OCPP 1.6 transaction of the station, as far as recognising a retried
/// StartTransaction needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredStart<'a> {
    pub transaction_id: i64,
    pub connector_id: i64,
    pub id_tag: &'a str,
    pub meter_start_wh: f64,
    pub started_at: Timestamp,
    /// The status its StartTransaction was answered with; `None` when none is stored (or the
    /// stored text names no status), and the token is then judged again.
    pub start_auth_status: Option<AuthStatus>,
}

/// The facts of an incoming OCPP 1.6 StartTransaction that make it the start it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartRequest<'a> {
    pub connector_id: i64,
    pub id_tag: &'a str,
    pub meter_start_wh: f64,
    pub timestamp: Timestamp,
}

/// What to do with an OCPP 1.6 StartTransaction.
#[derive(Debug, Clone, PartialEq)]
pub enum StartJudgement {
    /// The station sent this start before and never saw the answer: it gets the transaction it
    /// already has, answered as it was, and nothing is stored.
    Retry { transaction_id: i64, auth: AuthDecision },
    /// A transaction that begins now.
    New,
}

/// Whether a 1.6 StartTransaction is a retry of one already stored. A station whose answer was
/// lost sends the same request again under a new message id (CHECKLIST §2.5, CONFORMANCE X-07),
/// and must get the same transactionId, or it would charge under an id Ström closes as
/// superseded. The same connector, id tag, meter start and start time make the same start; times
/// are compared to the millisecond, the precision Ström stores. `stored` are the station's 1.6
/// transactions that may be it, oldest first; the first that is wins.
///
/// The answer repeats the status the start was given (`answer_again`), so that the station and
/// Ström's record agree on it; expiry and group are the token's as they are now.
pub fn judge_start(
    stored: &[StoredStart<'_>],
    start: &StartRequest<'_>,
    token: Option<&IdTokenRecord>,
    now: Timestamp,
) -> StartJudgement {
    let same = |s: &&StoredStart<'_>| {
        s.connector_id == start.connector_id
            && s.id_tag == start.id_tag
            && s.meter_start_wh == start.meter_start_wh
            && s.started_at.timestamp_millis() == start.timestamp.timestamp_millis()
    };
    match stored.iter().find(same) {
        Some(s) => StartJudgement::Retry {
            transaction_id: s.transaction_id,
            // The transaction exists, so it is not concurrent with itself (`Purpose::Continue`).
            auth: answer_again(authorization::decide(token, None, now, false), s.start_auth_status),
        },
        None => StartJudgement::New,
    }
}

/// The answer to a start the station sent again (a 1.6 StartTransaction retried, a 2.0.1
/// `Started` TransactionEvent delivered twice): the status stored with the transaction when
/// there is one, with the expiry and group of `fresh`, the token judged now. A status
/// recomputed now could contradict the first (ConcurrentTx then, Accepted now), and the station
/// acts on the status of the transaction it has.
pub fn answer_again(fresh: AuthDecision, stored: Option<AuthStatus>) -> AuthDecision {
    AuthDecision { status: stored.unwrap_or(fresh.status), ..fresh }
}

/// What the token a 2.0.1 TransactionEvent carries is to its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventToken<'a> {
    /// The first token the transaction carries: stored as its start token, with its type and
    /// the status it was answered with.
    Start(&'a str),
    /// A token other than the start token (the driver or a master pass stopping it): stored as
    /// its stop token, replacing an earlier one.
    Stop(&'a str),
    /// No token, or the start token again: nothing to store.
    Unchanged,
}

/// Decides what the token an event carries (`carried`) is, given the transaction's stored start
/// token (`start_token`; `None` for a new transaction, or one started without a token). A
/// transaction may start before any token is presented (OCPP 2.0.1 E02, TxStartPoint
/// EVConnected), and the token that authorizes it is its start token whichever event brings it
/// (E03.FR.01: the first event after the authorization carries it); a different token on a later
/// event is the one that ended the authorization (E07.FR.02, triggerReason StopAuthorized; a
/// member of the start token's group, C09.FR.03; a master pass). Tokens compare by value, as the
/// transaction stores them.
pub fn event_token<'a>(start_token: Option<&str>, carried: Option<&'a str>) -> EventToken<'a> {
    match (start_token, carried) {
        (None, Some(t)) => EventToken::Start(t),
        (Some(start), Some(t)) if start != t => EventToken::Stop(t),
        (_, None) | (Some(_), Some(_)) => EventToken::Unchanged,
    }
}

/// The idTag of a 1.6 StopTransaction, as it relates to the transaction's start tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopTag<'a> {
    /// No idTag: a stop without a driver (a reset, an EV unplugged, a remote stop); the answer
    /// carries no idTagInfo.
    Absent,
    /// The driver who started the transaction stopped it.
    StartTag(&'a str),
    /// Another tag stopped it (a member of the start tag's group, or a tag on a transaction
    /// Ström never saw started).
    Other(&'a str),
}

impl<'a> StopTag<'a> {
    /// The tag the answer's idTagInfo describes: any tag present, the start tag too. The stop is
    /// not refused whatever the status (the transaction has ended at the station), but the
    /// station refreshes its Authorization Cache with the answer. ConcurrentTx is never the
    /// answer (`authorization::Purpose::Continue`).
    pub fn judged(self) -> Option<&'a str> {
        match self {
            StopTag::Absent => None,
            StopTag::StartTag(t) | StopTag::Other(t) => Some(t),
        }
    }

    /// The tag stored as the transaction's stop tag: any tag present, the start tag too, so that
    /// a 1.6 transaction records who stopped it (unlike a 2.0.1 one, whose events repeat the
    /// start token: `event_token`).
    pub fn stored(self) -> Option<&'a str> {
        self.judged()
    }
}

/// Relates a 1.6 StopTransaction's optional idTag (`stop_tag`; OCPP 1.6 §4.10) to the
/// transaction's start tag (`start_tag`; `None` for a transaction Ström never saw started).
pub fn stop_tag<'a>(start_tag: Option<&str>, stop_tag: Option<&'a str>) -> StopTag<'a> {
    match (start_tag, stop_tag) {
        (_, None) => StopTag::Absent,
        (Some(start), Some(t)) if start == t => StopTag::StartTag(t),
        (_, Some(t)) => StopTag::Other(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_prefer_begin_and_end_readings() {
        use ReadingContext::{SampleClock, SamplePeriodic, TransactionBegin, TransactionEnd};
        let r = |wh, context| Register { wh, context };
        assert_eq!(meter_bounds(&[]), None);
        assert_eq!(meter_bounds(&[r(5.0, SamplePeriodic), r(9.0, SamplePeriodic)]), Some((5.0, 9.0)));
        let with_contexts =
            [r(4.0, SampleClock), r(5.0, TransactionBegin), r(8.0, TransactionEnd), r(8.5, SampleClock)];
        assert_eq!(meter_bounds(&with_contexts), Some((5.0, 8.0)));
    }

    #[test]
    fn sequence_table() {
        assert_eq!(check_sequence(None, 0, false), None);
        assert_eq!(check_sequence(None, 7, false), None, "a transaction may start at any seqNo");
        assert_eq!(check_sequence(Some(1), 2, false), None);
        assert_eq!(check_sequence(Some(1), 4, false), Some(SequenceFlag::Gap));
        assert_eq!(check_sequence(Some(5), 3, false), Some(SequenceFlag::OutOfOrder));
        assert_eq!(check_sequence(Some(0), 0, true), Some(SequenceFlag::Repeated));
        assert_eq!(check_sequence(Some(5), 3, true), Some(SequenceFlag::Repeated));
    }

    #[test]
    fn event_match_table() {
        let end = "2026-11-26T10:30:00.000Z";
        let open = StoredTransaction { end: StoredEnd::Open, highest_seq_no: Some(3) };
        let ended = StoredTransaction { end: StoredEnd::Ended(end), highest_seq_no: Some(3) };
        let zeros = StoredTransaction { end: StoredEnd::Ended(end), highest_seq_no: Some(0) };
        let estimated = StoredTransaction { end: StoredEnd::Superseded(end), highest_seq_no: Some(3) };
        let before = "2026-11-26T10:20:00.000Z";
        let after = "2026-11-26T11:00:00.000Z";
        let cases = [
            (open, true, false, 2, before, EventMatch::Duplicate),
            (ended, true, true, 0, before, EventMatch::Duplicate),
            (open, false, false, 4, after, EventMatch::Same),
            (open, false, true, 0, after, EventMatch::Same),
            // A new session under the old id.
            (ended, false, true, 0, after, EventMatch::Reused),
            (ended, false, false, 1, after, EventMatch::Reused),
            (zeros, false, true, 0, after, EventMatch::Reused),
            // Late events of the old one: timed before its end, or continuing its sequence.
            (ended, false, false, 2, before, EventMatch::Same),
            (ended, false, true, 0, before, EventMatch::Same),
            (ended, false, false, 4, after, EventMatch::Same),
            // A retried Ended stamped anew; seqNo-0 firmware after its Ended.
            (ended, false, false, 3, after, EventMatch::Same),
            (zeros, false, false, 0, after, EventMatch::Same),
            // Only a Started after a superseded one's estimated end is a new session.
            (estimated, false, false, 0, after, EventMatch::Same),
            (estimated, false, false, 4, after, EventMatch::Same),
            (estimated, false, true, 0, after, EventMatch::Reused),
            (estimated, false, true, 0, before, EventMatch::Same),
        ];
        for (stored, identical, started, seq_no, at, expected) in cases {
            assert_eq!(
                match_event(stored, identical, started, seq_no, at),
                expected,
                "{stored:?} {started} {seq_no} {at}"
            );
        }
    }

    #[test]
    fn superseded_table() {
        let stored = |r: (Option<f64>, Option<f64>, Flags)| (r.0, r.1, r.2.stored());
        assert_eq!(
            stored(superseded_energy(Some(100.0), &[150.0, 400.0])),
            (Some(400.0), Some(300.0), "superseded".into())
        );
        assert_eq!(stored(superseded_energy(Some(100.0), &[])), (None, None, "superseded,no_energy_register".into()));
        assert_eq!(stored(superseded_energy(None, &[50.0])), (Some(50.0), None, "superseded".into()));
        assert_eq!(
            stored(superseded_energy(Some(500.0), &[400.0])),
            (Some(400.0), None, "superseded,meter_stop_below_start".into())
        );
    }

    #[test]
    fn flags_round_trip_through_their_stored_form() {
        for &flag in TransactionFlag::ALL {
            assert_eq!(TransactionFlag::parse(flag.as_str()), Some(flag));
        }
        let mut flags = Flags::parse("superseded,seq_no_repeated,no_energy_register").expect("known names");
        flags.add(TransactionFlag::Superseded);
        flags.add(TransactionFlag::Energy(EnergyFlag::StopBelowStart));
        assert_eq!(flags.stored(), "superseded,seq_no_repeated,no_energy_register,meter_stop_below_start");
        flags.forget_energy();
        assert_eq!(flags.stored(), "superseded,seq_no_repeated");
        assert_eq!(Flags::parse("").map(|f| f.stored()), Ok(String::new()));
        assert!(Flags::parse("superseded,bogus").is_err());
    }

    #[test]
    fn energy_table() {
        type Case<'a> = (f64, f64, &'a [f64], Option<f64>, &'a [EnergyFlag]);
        let cases: [Case; 7] = [
            (-2147483648.0, 2147483647.0, &[], None, &[EnergyFlag::NegativeMeterValue]),
            (0.0, -5.0, &[], None, &[EnergyFlag::NegativeMeterValue]),
            (1000.0, 5000.0, &[1000.0, 2000.0, 5000.0], Some(4000.0), &[]),
            (1000.0, 5000.0, &[], Some(4000.0), &[]),
            (1000.0, 5000.0, &[1000.0, 3000.0, 2000.0, 5000.0], Some(4000.0), &[EnergyFlag::RegisterWentBackwards]),
            (5000.0, 1000.0, &[], None, &[EnergyFlag::StopBelowStart]),
            (1000.0, 5000.0, &[1000.0, 6000.0], Some(4000.0), &[EnergyFlag::RegisterOutsideStartStop]),
        ];
        for (start, stop, registers, expected, flags) in cases {
            assert_eq!(energy(start, stop, registers), (expected, flags.to_vec()), "{start} {stop} {registers:?}");
        }
    }

    fn at(text: &str) -> crate::Timestamp {
        crate::clock::parse_timestamp(text).expect(text)
    }

    #[test]
    fn retried_start_table() {
        use crate::authorization::TokenStatus;
        let t0 = at("2026-11-26T10:00:00.123Z");
        let now = at("2026-11-26T10:05:00Z");
        let start = StartRequest { connector_id: 1, id_tag: "TAG", meter_start_wh: 1000.0, timestamp: t0 };
        let stored = StoredStart {
            transaction_id: 7,
            connector_id: 1,
            id_tag: "TAG",
            meter_start_wh: 1000.0,
            started_at: t0,
            start_auth_status: Some(AuthStatus::Accepted),
        };
        let token = IdTokenRecord {
            id_token: "TAG".into(),
            token_type: None,
            status: TokenStatus::Accepted,
            expiry: None,
            parent_id_token: Some("G".into()),
        };
        let blocked = IdTokenRecord { status: TokenStatus::Blocked, ..token.clone() };
        let retry = |transaction_id, status| StartJudgement::Retry {
            transaction_id,
            auth: AuthDecision { status, expiry: None, parent_id_token: Some("G".into()) },
        };
        let unknown = StartJudgement::Retry {
            transaction_id: 7,
            auth: AuthDecision { status: AuthStatus::Unknown, expiry: None, parent_id_token: None },
        };
        type Case<'a> = (&'a str, Vec<StoredStart<'a>>, Option<&'a IdTokenRecord>, StartJudgement);
        let cases: [Case; 12] = [
            ("nothing stored", vec![], Some(&token), StartJudgement::New),
            ("the same start again", vec![stored], Some(&token), retry(7, AuthStatus::Accepted)),
            (
                "answered ConcurrentTx then, ConcurrentTx again",
                vec![StoredStart { start_auth_status: Some(AuthStatus::ConcurrentTx), ..stored }],
                Some(&token),
                retry(7, AuthStatus::ConcurrentTx),
            ),
            (
                "answered Accepted then, though blocked since",
                vec![stored],
                Some(&blocked),
                retry(7, AuthStatus::Accepted),
            ),
            (
                "no stored status: the token judged now",
                vec![StoredStart { start_auth_status: None, ..stored }],
                Some(&blocked),
                retry(7, AuthStatus::Blocked),
            ),
            ("no stored status, unknown token", vec![StoredStart { start_auth_status: None, ..stored }], None, unknown),
            (
                "the same to the millisecond",
                vec![StoredStart { started_at: t0 + chrono::Duration::microseconds(400), ..stored }],
                Some(&token),
                retry(7, AuthStatus::Accepted),
            ),
            (
                "another millisecond",
                vec![StoredStart { started_at: t0 + chrono::Duration::milliseconds(1), ..stored }],
                Some(&token),
                StartJudgement::New,
            ),
            ("another connector", vec![StoredStart { connector_id: 2, ..stored }], Some(&token), StartJudgement::New),
            ("another tag", vec![StoredStart { id_tag: "OTHER", ..stored }], Some(&token), StartJudgement::New),
            (
                "another meter start",
                vec![StoredStart { meter_start_wh: 1001.0, ..stored }],
                Some(&token),
                StartJudgement::New,
            ),
            (
                "the first that matches wins",
                vec![
                    StoredStart { transaction_id: 3, connector_id: 2, ..stored },
                    StoredStart { transaction_id: 5, ..stored },
                    stored,
                ],
                Some(&token),
                retry(5, AuthStatus::Accepted),
            ),
        ];
        for (name, stored, token, expected) in cases {
            assert_eq!(judge_start(&stored, &start, token, now), expected, "{name}");
        }
    }

    #[test]
    fn answer_again_table() {
        let fresh = AuthDecision { status: AuthStatus::Blocked, expiry: None, parent_id_token: Some("G".into()) };
        let cases = [
            ("the stored status", Some(AuthStatus::Accepted), AuthStatus::Accepted),
            ("a stored refusal", Some(AuthStatus::Invalid), AuthStatus::Invalid),
            ("nothing stored: judged now", None, AuthStatus::Blocked),
        ];
        for (name, stored, expected) in cases {
            let answer = answer_again(fresh.clone(), stored);
            assert_eq!(answer.status, expected, "{name}");
            assert_eq!(answer.parent_id_token.as_deref(), Some("G"), "{name}: the group as it is now");
        }
    }

    #[test]
    fn event_token_table() {
        let cases = [
            ("the first token starts", None, Some("ALICE"), EventToken::Start("ALICE")),
            ("no token yet, none carried", None, None, EventToken::Unchanged),
            ("the start token again", Some("ALICE"), Some("ALICE"), EventToken::Unchanged),
            ("another token stops", Some("ALICE"), Some("BOB"), EventToken::Stop("BOB")),
            ("no token on a later event", Some("ALICE"), None, EventToken::Unchanged),
            ("values compare exactly", Some("ALICE"), Some("alice"), EventToken::Stop("alice")),
        ];
        for (name, start, carried, expected) in cases {
            assert_eq!(event_token(start, carried), expected, "{name}");
        }
    }

    #[test]
    fn stop_tag_table() {
        let cases = [
            ("no idTag", Some("TAG"), None, StopTag::Absent, None),
            ("no idTag, unknown transaction", None, None, StopTag::Absent, None),
            ("the start tag", Some("TAG"), Some("TAG"), StopTag::StartTag("TAG"), Some("TAG")),
            ("another tag", Some("TAG"), Some("KID"), StopTag::Other("KID"), Some("KID")),
            ("a tag on an unknown transaction", None, Some("KID"), StopTag::Other("KID"), Some("KID")),
        ];
        for (name, start, stop, expected, tag) in cases {
            let decided = stop_tag(start, stop);
            assert_eq!(decided, expected, "{name}");
            assert_eq!(decided.judged(), tag, "{name}: judged");
            assert_eq!(decided.stored(), tag, "{name}: stored");
        }
    }
}
