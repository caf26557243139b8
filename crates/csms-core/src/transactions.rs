//! Transactions: the energy a session delivered, from the meter start and stop values and
//! cross-checked against the register readings reported during the session.

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
pub struct Register<'a> {
    pub wh: f64,
    pub context: &'a str,
}

/// The meter start and stop of a 2.0.1 transaction, which carries no meterStart/meterStop: the
/// `Transaction.Begin` and `Transaction.End` readings when the station sent them, else the first
/// and last register reading. `registers` are in time order.
pub fn meter_bounds(registers: &[Register<'_>]) -> Option<(f64, f64)> {
    let first = registers.first()?;
    let last = registers.last()?;
    let start = registers.iter().find(|r| r.context == "Transaction.Begin").unwrap_or(first);
    let stop = registers.iter().rev().find(|r| r.context == "Transaction.End").unwrap_or(last);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_prefer_begin_and_end_readings() {
        let r = |wh, context| Register { wh, context };
        assert_eq!(meter_bounds(&[]), None);
        assert_eq!(meter_bounds(&[r(5.0, "Sample.Periodic"), r(9.0, "Sample.Periodic")]), Some((5.0, 9.0)));
        let with_contexts =
            [r(4.0, "Sample.Clock"), r(5.0, "Transaction.Begin"), r(8.0, "Transaction.End"), r(8.5, "Sample.Clock")];
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
}
