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
}

impl EnergyFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            EnergyFlag::StopBelowStart => "meter_stop_below_start",
            EnergyFlag::RegisterWentBackwards => "register_went_backwards",
            EnergyFlag::RegisterOutsideStartStop => "register_outside_start_stop",
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
}

impl SequenceFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            SequenceFlag::Gap => "seq_no_gap",
            SequenceFlag::OutOfOrder => "seq_no_out_of_order",
        }
    }
}

/// Judges `seq_no` against the highest seqNo seen so far for the transaction.
pub fn check_sequence(highest_seen: Option<i64>, seq_no: i64) -> Option<SequenceFlag> {
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
    let energy = if meter_stop_wh < meter_start_wh {
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
        assert_eq!(check_sequence(None, 0), None);
        assert_eq!(check_sequence(None, 7), None, "a transaction may start at any seqNo");
        assert_eq!(check_sequence(Some(1), 2), None);
        assert_eq!(check_sequence(Some(1), 4), Some(SequenceFlag::Gap));
        assert_eq!(check_sequence(Some(5), 3), Some(SequenceFlag::OutOfOrder));
    }

    #[test]
    fn energy_table() {
        type Case<'a> = (f64, f64, &'a [f64], Option<f64>, &'a [EnergyFlag]);
        let cases: [Case; 5] = [
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
