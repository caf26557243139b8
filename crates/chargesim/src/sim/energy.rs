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

/// A station's clock reading as an OCPP timestamp: `base` plus `seconds`.
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

/// The nominal phase voltage a limit in amperes is turned into watts with.
const NOMINAL_VOLTS: f64 = 230.0;

/// What the meter has measured since the session began.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reading {
    pub(super) energy_wh: u64,
    pub(super) power_w: f64,
    /// State of charge in whole percent.
    pub(super) soc: f64,
    /// The three phase-to-neutral voltages (L1-N, L2-N, L3-N).
    pub(super) volts: [f64; 3],
}

impl Reading {
    /// An idle connector: nothing flows and no EV is plugged in.
    pub(super) const IDLE: Reading =
        Reading { energy_wh: 0, power_w: 0.0, soc: 0.0, volts: [NOMINAL_VOLTS, NOMINAL_VOLTS, NOMINAL_VOLTS] };

    /// The current on each phase: the power shared evenly by the three phases, so that the
    /// power is the sum of each phase's voltage times its current.
    pub(super) fn amps(&self) -> [f64; 3] {
        self.volts.map(|v| self.power_w / 3.0 / v)
    }
}

/// The most a charging profile lets the connector draw: a power, or a current per phase (an
/// `A` schedule). The lower of the two holds when both are given.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Limit {
    pub(super) watts: Option<f64>,
    pub(super) amps: Option<f64>,
}

impl Limit {
    pub(super) const NONE: Limit = Limit { watts: None, amps: None };

    /// The most power the limit allows at these phase voltages: a current limit holds on the
    /// phase with the lowest voltage, since all three carry the same share of the power.
    fn watts_at(self, volts: [f64; 3]) -> f64 {
        let lowest = volts.iter().copied().fold(f64::INFINITY, f64::min);
        let by_amps = self.amps.map_or(f64::INFINITY, |a| 3.0 * a * lowest);
        self.watts.map_or(f64::INFINITY, |w| w).min(by_amps)
    }
}

/// The EV plugged in for one session: its battery and how much power it takes, constant up to
/// 80 % state of charge, tapering above.
#[derive(Debug, Clone)]
pub(super) struct Ev {
    max_power: f64,
    capacity_wh: f64,
    soc: f64,
    energy: f64,
}

impl Ev {
    pub(super) fn new(rng: &mut Rng) -> Ev {
        let max_power = 7_400.0 + rng.unit() * 3_600.0;
        let capacity_wh = 40_000.0 + rng.unit() * 40_000.0;
        let soc = 0.15 + rng.unit() * 0.4;
        Ev { max_power, capacity_wh, soc, energy: 0.0 }
    }

    /// Charges for `seconds` within `limit`; the reading at the end, with the phase voltages
    /// varying around 230 V (225–235 V).
    pub(super) fn charge(&mut self, rng: &mut Rng, seconds: f64, limit: Limit) -> Reading {
        let volts = [0; 3].map(|_| ((NOMINAL_VOLTS - 5.0 + rng.unit() * 10.0) * 10.0).round() / 10.0);
        let wanted = if self.soc < 0.8 { self.max_power } else { self.max_power * ((1.0 - self.soc) / 0.2).max(0.05) };
        // Whole watts, rounded down so that a limit is never exceeded.
        let power = wanted.min(limit.watts_at(volts)).max(0.0).floor();
        let wh = power * seconds / 3600.0;
        self.energy += wh;
        self.soc = (self.soc + wh / self.capacity_wh).min(1.0);
        Reading { energy_wh: self.energy.round() as u64, power_w: power, soc: (self.soc * 100.0).round(), volts }
    }

    /// The reading as the session begins: nothing delivered yet, the EV's state of charge.
    pub(super) fn plugged_in(&self) -> Reading {
        Reading { soc: (self.soc * 100.0).round(), ..Reading::IDLE }
    }
}

/// An unlimited session's readings, sampled every `step` seconds.
#[cfg(test)]
pub(super) fn curve(rng: &mut Rng, samples: usize, step: u64) -> Vec<Reading> {
    let mut ev = Ev::new(rng);
    (0..samples).map(|_| ev.charge(rng, step as f64, Limit::NONE)).collect()
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
            Measurand::Voltage => 1,
            // Two places, so that the phases' V × A add up to the power within a few watts.
            Measurand::Current => 2,
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

/// The phase a voltage (to neutral) or a current is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    L1,
    L2,
    L3,
}

impl Phase {
    const ALL: [Phase; 3] = [Phase::L1, Phase::L2, Phase::L3];
}

/// One measured value, unrounded: each version writes it its own way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Measured {
    pub(super) measurand: Measurand,
    /// For a voltage, to neutral: L1-N, L2-N, L3-N.
    pub(super) phase: Option<Phase>,
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
/// measurands, in the meter's order: voltage and current once per phase, the power their sum
/// of products.
pub(super) fn measure(reading: &Reading, register_wh: u64, wanted: &[Measurand]) -> Vec<Measured> {
    let amps = reading.amps();
    let mut values = Vec::new();
    for measurand in Measurand::ALL.into_iter().filter(|m| wanted.contains(m)) {
        let whole = |value| Measured { measurand, phase: None, value };
        match measurand {
            Measurand::Register => values.push(whole(register_wh as f64)),
            Measurand::Power => values.push(whole(reading.power_w)),
            Measurand::Soc => values.push(whole(reading.soc)),
            Measurand::Voltage => values.extend(Phase::ALL.into_iter().zip(reading.volts).map(|(p, v)| Measured {
                measurand,
                phase: Some(p),
                value: v,
            })),
            Measurand::Current => values.extend(Phase::ALL.into_iter().zip(amps).map(|(p, a)| Measured {
                measurand,
                phase: Some(p),
                value: a,
            })),
        }
    }
    values
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
        let reading = Reading { energy_wh: 10, power_w: 6_900.0, soc: 50.0, volts: [230.0, 225.0, 235.0] };
        let all = measure(
            &reading,
            1_010,
            &Measurand::list("Energy.Active.Import.Register,Power.Active.Import,Voltage,Current.Import,SoC"),
        );
        let texts: Vec<String> = all.iter().map(|m| m.text()).collect();
        assert_eq!(texts, ["1010", "6900", "230.0", "225.0", "235.0", "10.00", "10.22", "9.79", "50"]);
        let phases: Vec<Option<Phase>> =
            all.iter().filter(|m| m.measurand == Measurand::Voltage).map(|m| m.phase).collect();
        assert_eq!(phases, [Some(Phase::L1), Some(Phase::L2), Some(Phase::L3)]);
        let kept = measure(&reading, 1_010, &[Measurand::Soc, Measurand::Register]);
        assert_eq!(kept.iter().map(|m| m.measurand).collect::<Vec<_>>(), [Measurand::Register, Measurand::Soc]);
        assert!(measure(&reading, 1_010, &[]).is_empty());
    }

    #[test]
    fn the_power_is_the_sum_of_each_phases_volts_times_amps_as_reported() {
        let mut rng = Rng::new(11);
        let mut ev = Ev::new(&mut rng);
        for _ in 0..50 {
            let reading = ev.charge(&mut rng, 60.0, Limit::NONE);
            let values = measure(&reading, 0, &Measurand::list("Power.Active.Import,Voltage,Current.Import"));
            let of = |m: Measurand| values.iter().filter(move |v| v.measurand == m).map(|v| v.rounded());
            let volts: Vec<f64> = of(Measurand::Voltage).collect();
            assert!(volts.iter().all(|v| (225.0..=235.0).contains(v)), "{volts:?}");
            let sum: f64 = volts.iter().zip(of(Measurand::Current)).map(|(v, a)| v * a).sum();
            let power = of(Measurand::Power).sum::<f64>();
            assert!((sum - power).abs() <= 10.0, "{sum} vs {power}");
        }
    }

    #[test]
    fn a_limit_in_watts_or_amperes_caps_the_power_and_the_phase_currents() {
        let mut rng = Rng::new(3);
        let mut ev = Ev::new(&mut rng);
        let watts = ev.charge(&mut rng, 60.0, Limit { watts: Some(3_000.0), amps: None });
        assert!(watts.power_w <= 3_000.0 && watts.power_w > 2_900.0, "{watts:?}");
        let amps = ev.charge(&mut rng, 60.0, Limit { watts: None, amps: Some(6.0) });
        assert!(amps.amps().iter().all(|a| *a <= 6.0), "{:?}", amps.amps());
        assert!(amps.power_w > 3.0 * 6.0 * 224.0, "{amps:?}");
        let free = ev.charge(&mut rng, 60.0, Limit::NONE);
        assert!(free.power_w >= 7_400.0, "{free:?}");
        assert!(free.energy_wh > amps.energy_wh && amps.energy_wh > watts.energy_wh);
    }

    #[test]
    fn both_versions_round_to_the_same_decimals() {
        let current = Measured { measurand: Measurand::Current, phase: Some(Phase::L1), value: 7_400.0 / 3.0 / 230.0 };
        assert_eq!((current.text(), current.rounded()), ("10.72".to_string(), 10.72));
        let register = Measured { measurand: Measurand::Register, phase: None, value: 123_456.0 };
        assert_eq!((register.text(), register.rounded()), ("123456".to_string(), 123_456.0));
    }
}
