//! The simulated meter, with no protocol in it: a seeded random source, the energy curve of a
//! session, the clock-aligned instants, and the measurands a reading yields, so that both OCPP
//! versions report the same physics and a run can be repeated from its seed.

use std::time::{Duration, SystemTime};

/// xorshift64*: small, fast and repeatable; simulation needs no cryptographic randomness.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Simulated time: sessions are laid out from a fixed start per station, in seconds, so runs
/// with the same seed produce the same readings.
pub(super) fn timestamp(base: SystemTime, seconds: u64) -> ocpp::DateTime {
    ocpp::DateTime((base + Duration::from_secs(seconds)).into())
}

/// The clock-aligned instants in `(from, to]` (seconds since the epoch), for an interval in
/// seconds (0: none).
pub(super) fn aligned_between(from: u64, to: u64, interval: u64) -> Vec<u64> {
    if interval == 0 {
        return Vec::new();
    }
    let first = (from / interval + 1) * interval;
    (first..=to).step_by(interval as usize).collect()
}

/// What the meter has measured since the session began.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reading {
    pub(super) energy_wh: u64,
    pub(super) power_w: f64,
    /// State of charge in whole percent.
    pub(super) soc: f64,
}

impl Reading {
    /// An idle connector: nothing flows and no EV is plugged in.
    pub(super) const IDLE: Reading = Reading { energy_wh: 0, power_w: 0.0, soc: 0.0 };
}

/// The energy curve of one session, sampled every `step` seconds: constant power up to 80 %
/// state of charge, then tapering.
pub(super) fn curve(rng: &mut Rng, samples: usize, step: u64) -> Vec<Reading> {
    let max_power = 7_400.0 + rng.unit() * 3_600.0;
    let capacity_wh = 40_000.0 + rng.unit() * 40_000.0;
    let mut soc = 0.15 + rng.unit() * 0.4;
    let mut energy = 0.0;
    (0..samples)
        .map(|_| {
            let power = if soc < 0.8 { max_power } else { max_power * ((1.0 - soc) / 0.2).max(0.05) };
            let wh = power * step as f64 / 3600.0;
            energy += wh;
            soc = (soc + wh / capacity_wh).min(1.0);
            Reading { energy_wh: energy.round() as u64, power_w: power.round(), soc: (soc * 100.0).round() }
        })
        .collect()
}

/// The quantities the simulated meter has, in the order a station reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measurand {
    Register,
    Power,
    Voltage,
    Current,
    Soc,
}

impl Measurand {
    const ALL: [Measurand; 5] =
        [Measurand::Register, Measurand::Power, Measurand::Voltage, Measurand::Current, Measurand::Soc];

    /// The name both versions give it in MeterValuesSampledData / TxUpdatedMeasurands.
    fn name(self) -> &'static str {
        match self {
            Measurand::Register => "Energy.Active.Import.Register",
            Measurand::Power => "Power.Active.Import",
            Measurand::Voltage => "Voltage",
            Measurand::Current => "Current.Import",
            Measurand::Soc => "SoC",
        }
    }

    /// The measurands a configuration value names (a comma-separated list, as
    /// MeterValuesSampledData and SampledDataCtrlr.TxUpdatedMeasurands hold); names the meter
    /// does not have are left out.
    pub(super) fn list(text: &str) -> Vec<Measurand> {
        let names: Vec<&str> = text.split(',').map(str::trim).collect();
        Measurand::ALL.into_iter().filter(|m| names.contains(&m.name())).collect()
    }

    /// Decimal places the value is reported with.
    pub(super) fn decimals(self) -> usize {
        match self {
            Measurand::Voltage | Measurand::Current => 1,
            Measurand::Register | Measurand::Power | Measurand::Soc => 0,
        }
    }
}

/// What the meter reports with a reading: after a transaction began, ended, periodically, at a
/// clock-aligned instant, or because the CSMS asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Context {
    TransactionBegin,
    TransactionEnd,
    SamplePeriodic,
    SampleClock,
    Trigger,
}

/// One measured value, unrounded: each version writes it its own way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Measured {
    pub(super) measurand: Measurand,
    pub(super) value: f64,
}

impl Measured {
    /// The value rounded to the measurand's decimals, as a 2.0.1 number.
    pub(super) fn rounded(self) -> f64 {
        let scale = 10f64.powi(self.measurand.decimals() as i32);
        (self.value * scale).round() / scale
    }

    /// The value as a 1.6 string.
    pub(super) fn text(self) -> String {
        format!("{:.*}", self.measurand.decimals(), self.value)
    }
}

/// The values of `reading` (the register standing at `register_wh`) for the `wanted`
/// measurands, in the meter's order. Three phases share the power; one phase is reported.
pub(super) fn measure(reading: &Reading, register_wh: u64, wanted: &[Measurand]) -> Vec<Measured> {
    let amps = reading.power_w / 3.0 / 230.0;
    Measurand::ALL
        .into_iter()
        .filter(|m| wanted.contains(m))
        .map(|measurand| {
            let value = match measurand {
                Measurand::Register => register_wh as f64,
                Measurand::Power => reading.power_w,
                Measurand::Voltage => 230.2,
                Measurand::Current => amps,
                Measurand::Soc => reading.soc,
            };
            Measured { measurand, value }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_curve() {
        let a: Vec<u64> = curve(&mut Rng::new(7), 30, 60).iter().map(|r| r.energy_wh).collect();
        let b: Vec<u64> = curve(&mut Rng::new(7), 30, 60).iter().map(|r| r.energy_wh).collect();
        let c: Vec<u64> = curve(&mut Rng::new(8), 30, 60).iter().map(|r| r.energy_wh).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[1] >= w[0]), "energy never goes backwards");
    }

    #[test]
    fn the_sample_interval_sets_the_energy_per_sample() {
        let minutes = curve(&mut Rng::new(5), 10, 60);
        let half_minutes = curve(&mut Rng::new(5), 20, 30);
        // Below 80 % the power is constant: twice the samples at half the interval deliver the
        // same energy, give or take rounding.
        let (a, b) = (minutes[9].energy_wh as f64, half_minutes[19].energy_wh as f64);
        assert!((a - b).abs() <= 2.0 && a > 0.0, "{a} vs {b}");
        assert!(half_minutes[0].energy_wh * 2 <= minutes[0].energy_wh + 1);
    }

    #[test]
    fn power_tapers_above_80_percent() {
        let readings = curve(&mut Rng::new(1), 600, 60);
        let first = readings[0].power_w;
        let late = readings.iter().find(|r| r.soc >= 95.0).map(|r| r.power_w);
        assert!(late.is_some_and(|p| p < first / 2.0), "{first} vs {late:?}");
    }

    #[test]
    fn clock_aligned_instants_are_multiples_of_the_interval() {
        assert_eq!(aligned_between(1_000, 1_300, 120), vec![1_080, 1_200]);
        assert_eq!(aligned_between(1_080, 1_200, 120), vec![1_200], "the start is excluded, the end included");
        assert_eq!(aligned_between(1_000, 1_010, 120), Vec::<u64>::new());
        assert_eq!(aligned_between(1_000, 9_000, 0), Vec::<u64>::new(), "0 turns them off");
    }

    #[test]
    fn a_measurand_list_keeps_the_meters_order_and_drops_unknown_names() {
        assert_eq!(
            Measurand::list("SoC, Energy.Active.Import.Register,Temperature"),
            [Measurand::Register, Measurand::Soc]
        );
        assert_eq!(Measurand::list(""), []);
    }

    #[test]
    fn only_configured_measurands_are_measured() {
        let reading = Reading { energy_wh: 10, power_w: 6_900.0, soc: 50.0 };
        let all = measure(
            &reading,
            1_010,
            &Measurand::list("Energy.Active.Import.Register,Power.Active.Import,Voltage,Current.Import,SoC"),
        );
        let texts: Vec<String> = all.iter().map(|m| m.text()).collect();
        assert_eq!(texts, ["1010", "6900", "230.2", "10.0", "50"]);
        let kept = measure(&reading, 1_010, &[Measurand::Soc, Measurand::Register]);
        assert_eq!(kept.iter().map(|m| m.measurand).collect::<Vec<_>>(), [Measurand::Register, Measurand::Soc]);
        assert!(measure(&reading, 1_010, &[]).is_empty());
    }

    #[test]
    fn both_versions_round_to_the_same_decimals() {
        let current = Measured { measurand: Measurand::Current, value: 7_400.0 / 3.0 / 230.0 };
        assert_eq!((current.text(), current.rounded()), ("10.7".to_string(), 10.7));
        let register = Measured { measurand: Measurand::Register, value: 123_456.0 };
        assert_eq!((register.text(), register.rounded()), ("123456".to_string(), 123_456.0));
    }
}
