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
    fn energy_table() {
        type Case<'a> = (f64, f64, &'a [f64], Option<f64>, &'a [EnergyFlag]);
        let cases: [Case; 5] = [
            (1000.0, 5000.0, &[1000.0, 2000.0, 5000.0], Some(4000.0), &[]),
            (1000.0, 5000.0, &[], Some(4000.0), &[]),
            (
                1000.0,
                5000.0,
                &[1000.0, 3000.0, 2000.0, 5000.0],
                Some(4000.0),
                &[EnergyFlag::RegisterWentBackwards],
            ),
            (5000.0, 1000.0, &[], None, &[EnergyFlag::StopBelowStart]),
            (
                1000.0,
                5000.0,
                &[1000.0, 6000.0],
                Some(4000.0),
                &[EnergyFlag::RegisterOutsideStartStop],
            ),
        ];
        for (start, stop, registers, expected, flags) in cases {
            assert_eq!(
                energy(start, stop, registers),
                (expected, flags.to_vec()),
                "{start} {stop} {registers:?}"
            );
        }
    }
}
