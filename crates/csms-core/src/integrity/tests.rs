use super::registers::max_rise_wh;
use super::*;
use chrono::TimeZone;
use ReadingContext::{SampleClock, SamplePeriodic, TransactionBegin, TransactionEnd};

/// The instant `seconds` after 2026-12-07T12:00:00Z.
fn t(seconds: i64) -> Timestamp {
    t_ms(seconds * 1000)
}

fn t_ms(millis: i64) -> Timestamp {
    let base = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).single().expect("valid");
    base + chrono::Duration::milliseconds(millis)
}

fn point(seconds: i64, measurand: Measurand, phase: Option<Phase>, context: ReadingContext, value: f64) -> MeterPoint {
    MeterPoint { at: t(seconds), measurand, phase, context, value }
}

fn register(seconds: i64, wh: f64, context: ReadingContext) -> MeterPoint {
    point(seconds, Measurand::EnergyActiveImportRegister, None, context, wh)
}

fn periodic(seconds: i64, wh: f64) -> MeterPoint {
    register(seconds, wh, SamplePeriodic)
}

fn power(seconds: i64, w: f64) -> MeterPoint {
    point(seconds, Measurand::PowerActiveImport, None, SamplePeriodic, w)
}

/// A 1.6 transaction: meter start and stop reported apart from the readings.
fn tx16(start: i64, stop: Option<i64>, meter_start: f64, meter_stop: Option<f64>) -> Transaction {
    Transaction {
        started_at: Some(t(start)),
        stopped_at: stop.map(t),
        meter_start_wh: Some(meter_start),
        meter_stop_wh: meter_stop,
    }
}

/// A 2.0.1 transaction: no meter start or stop beside its readings.
fn tx201(start: i64, stop: Option<i64>) -> Transaction {
    Transaction { started_at: Some(t(start)), stopped_at: stop.map(t), meter_start_wh: None, meter_stop_wh: None }
}

fn inputs(sample_interval_s: Option<u32>, max_power_w: Option<f64>) -> Inputs {
    Inputs { sample_interval_s, max_power_w }
}

fn at(seconds: i64, wh: f64, source: RegisterSource) -> RegisterPoint {
    RegisterPoint { at: t(seconds), wh, source }
}

fn reading(seconds: i64, wh: f64) -> RegisterPoint {
    at(seconds, wh, RegisterSource::Reading(SamplePeriodic))
}

fn configured(watts: f64) -> MaxPower {
    MaxPower { watts, configured: true }
}

const ASSUMED: MaxPower = MaxPower { watts: DEFAULT_MAX_POWER_W, configured: false };

type Case = (&'static str, Transaction, Vec<MeterPoint>, Inputs, Vec<Anomaly>);

fn check(cases: Vec<Case>) {
    for (name, tx, points, inputs, expected) in cases {
        let found = anomalies(&tx, &points, &inputs);
        let described: Vec<String> = found.iter().map(Anomaly::describe).collect();
        assert_eq!(found, expected, "{name}: {described:#?}");
    }
}

#[test]
fn ordinary_sessions_have_no_anomalies() {
    let every_minute = |from: f64, wh_per_minute: f64| -> Vec<MeterPoint> {
        (1..=10).map(|k| periodic(60 * k, from + wh_per_minute * k as f64)).collect()
    };
    let cases: Vec<Case> = vec![
        ("1.6, no readings", tx16(0, Some(600), 12_345.0, Some(12_350.0)), vec![], inputs(None, Some(7_400.0)), vec![]),
        (
            "1.6, a register starting at zero",
            tx16(0, Some(600), 0.0, Some(610.0)),
            every_minute(0.0, 61.0),
            inputs(Some(60), Some(3_700.0)),
            vec![],
        ),
        (
            "a fresh meter climbing through the magnitudes",
            tx16(0, Some(180), 0.0, Some(300.0)),
            vec![periodic(60, 0.4), periodic(120, 150.0), periodic(180, 300.0)],
            inputs(Some(60), Some(11_000.0)),
            vec![],
        ),
        (
            "a fresh meter read only at the ends",
            tx16(0, Some(900), 3.0, Some(5_200.0)),
            vec![],
            inputs(None, Some(22_000.0)),
            vec![],
        ),
        (
            "a meter with 100,000 kWh on it",
            tx16(0, Some(600), 100_000_000.0, Some(100_001_830.0)),
            every_minute(100_000_000.0, 183.0),
            inputs(Some(60), Some(11_000.0)),
            vec![],
        ),
        (
            "kWh readings with two decimals against a Wh meter start",
            tx16(0, Some(120), 12_345.0, Some(12_530.0)),
            vec![periodic(60, 12.34 * 1000.0), periodic(120, 12.53 * 1000.0)],
            inputs(Some(60), Some(11_000.0)),
            vec![],
        ),
        (
            "2.0.1 with Transaction.Begin and Transaction.End readings",
            tx201(0, Some(600)),
            [register(0, 5_000.0, TransactionBegin), register(600, 6_830.0, TransactionEnd)]
                .into_iter()
                .chain(every_minute(5_000.0, 183.0).into_iter().take(9))
                .collect(),
            inputs(Some(60), Some(11_000.0)),
            vec![],
        ),
        (
            "running, sampled up to now",
            tx16(0, None, 5_000.0, None),
            every_minute(5_000.0, 183.0),
            inputs(Some(60), Some(11_000.0)),
            vec![],
        ),
        (
            "shorter than the first periodic sample",
            tx16(0, Some(90), 5_000.0, Some(5_200.0)),
            vec![],
            inputs(Some(60), Some(11_000.0)),
            vec![],
        ),
        (
            "DC, no maximum configured",
            tx16(0, Some(600), 5_000.0, Some(30_000.0)),
            (1..=10).flat_map(|k| [periodic(60 * k, 5_000.0 + 2_500.0 * k as f64), power(60 * k, 150_000.0)]).collect(),
            inputs(Some(60), None),
            vec![],
        ),
        (
            "known only from its stop",
            Transaction {
                started_at: None,
                stopped_at: Some(t(600)),
                meter_start_wh: None,
                meter_stop_wh: Some(900.0),
            },
            vec![periodic(540, 890.0)],
            inputs(Some(60), Some(11_000.0)),
            vec![],
        ),
    ];
    check(cases);
}

#[test]
fn register_backwards_table() {
    use RegisterSource::{MeterStart, MeterStop};
    let backwards = |from: RegisterPoint, to: RegisterPoint| Anomaly::RegisterBackwards { from, to };
    let limits = inputs(None, Some(22_000.0));
    let cases: Vec<Case> = vec![
        (
            "a drop of exactly the tolerance",
            tx16(0, None, 1_000.0, None),
            vec![periodic(60, 1_000.0), periodic(120, 990.0)],
            limits,
            vec![],
        ),
        (
            "a watt-hour past it",
            tx16(0, None, 1_000.0, None),
            vec![periodic(60, 1_000.0), periodic(120, 989.0)],
            limits,
            vec![backwards(reading(60, 1_000.0), reading(120, 989.0))],
        ),
        (
            "kWh normalisation's float error is no drop",
            tx16(0, Some(60), 12_345.0, Some(12_345.0)),
            vec![periodic(60, 12.345 * 1000.0)],
            limits,
            vec![],
        ),
        (
            "the meter stop below the meter start",
            tx16(0, Some(600), 5_000.0, Some(4_000.0)),
            vec![],
            limits,
            vec![backwards(at(0, 5_000.0, MeterStart), at(600, 4_000.0, MeterStop))],
        ),
        (
            "the meter stop below an earlier register, above its predecessor",
            tx16(0, Some(600), 1_000.0, Some(960.0)),
            vec![periodic(60, 1_200.0), periodic(120, 900.0), periodic(180, 950.0)],
            limits,
            vec![
                backwards(reading(60, 1_200.0), reading(120, 900.0)),
                backwards(reading(60, 1_200.0), at(600, 960.0, MeterStop)),
            ],
        ),
        (
            "the meter stop within the tolerance of the highest register",
            tx16(0, Some(600), 1_000.0, Some(1_190.0)),
            vec![periodic(60, 1_200.0), periodic(120, 1_195.0)],
            limits,
            vec![],
        ),
        (
            "2.0.1: the Transaction.End reading below the one before",
            tx201(0, Some(120)),
            vec![register(0, 1_000.0, TransactionBegin), periodic(60, 1_200.0), register(120, 1_100.0, TransactionEnd)],
            limits,
            vec![backwards(reading(60, 1_200.0), at(120, 1_100.0, RegisterSource::Reading(TransactionEnd)))],
        ),
        (
            "a reset to zero",
            tx16(0, None, 5_000_000.0, None),
            vec![periodic(60, 5_000_100.0), periodic(120, 0.0), periodic(180, 100.0)],
            limits,
            vec![backwards(reading(60, 5_000_100.0), reading(120, 0.0))],
        ),
        (
            "a reset to near zero is a drop, not a unit confusion",
            tx16(0, None, 5_000_000.0, None),
            vec![periodic(60, 12.0), periodic(120, 250.0), periodic(180, 1_200.0), periodic(240, 3_000.0)],
            inputs(None, None),
            vec![backwards(at(0, 5_000_000.0, MeterStart), reading(60, 12.0))],
        ),
    ];
    check(cases);
}

#[test]
fn impossible_jump_table() {
    // 7.2 kW for 59 s (60 s with the timestamp slack) with the 25% margin is 150 Wh, plus the
    // 10 Wh rounding tolerance: 160 Wh.
    assert_eq!(max_rise_wh(7_200.0, t(0), t(59), REGISTER_TOLERANCE_WH), 160.0);
    let limits = inputs(None, Some(7_200.0));
    let jump = |from: RegisterPoint, to: RegisterPoint, max_rise_wh: f64, max_power: MaxPower| {
        Anomaly::ImpossibleJump { from, to, max_rise_wh, max_power }
    };
    let assumed_minute = max_rise_wh(DEFAULT_MAX_POWER_W, t(60), t(120), REGISTER_TOLERANCE_WH);
    let cases: Vec<Case> = vec![
        ("a rise of exactly the most", tx16(0, None, 1_000.0, None), vec![periodic(59, 1_160.0)], limits, vec![]),
        (
            "half a watt-hour past it",
            tx16(0, None, 1_000.0, None),
            vec![periodic(59, 1_160.5)],
            limits,
            vec![jump(at(0, 1_000.0, RegisterSource::MeterStart), reading(59, 1_160.5), 160.0, configured(7_200.0))],
        ),
        (
            "no maximum: 3.75 MW for a minute allows 79 kWh",
            tx16(0, None, 1_000.0, None),
            vec![periodic(60, 1_000.0), periodic(120, 71_000.0)],
            inputs(None, None),
            vec![],
        ),
        (
            "no maximum: a wrapped 32-bit register",
            tx16(0, None, 1_000.0, None),
            vec![periodic(60, 1_000.0), periodic(120, 2_147_483_647.0)],
            inputs(None, None),
            vec![jump(reading(60, 1_000.0), reading(120, 2_147_483_647.0), assumed_minute, ASSUMED)],
        ),
        (
            "a spike up and back down",
            tx16(0, None, 1_000.0, None),
            vec![periodic(59, 1_050.0), periodic(118, 50_000.0), periodic(177, 1_100.0)],
            limits,
            vec![
                jump(reading(59, 1_050.0), reading(118, 50_000.0), 160.0, configured(7_200.0)),
                Anomaly::RegisterBackwards { from: reading(118, 50_000.0), to: reading(177, 1_100.0) },
            ],
        ),
    ];
    check(cases);
}

#[test]
fn power_above_maximum_table() {
    // 7.2 kW with the 25% margin: 9 kW.
    let limits = inputs(None, Some(7_200.0));
    let over = |from: i64, to: i64, readings: usize, peak_w: f64| Anomaly::PowerAboveMaximum {
        from: t(from),
        to: t(to),
        readings,
        peak_w,
        max_power: configured(7_200.0),
    };
    let phase = |seconds: i64, phase: Phase, w: f64| {
        point(seconds, Measurand::PowerActiveImport, Some(phase), SamplePeriodic, w)
    };
    let tx = tx16(0, None, 1_000.0, None);
    let cases: Vec<Case> = vec![
        ("exactly the maximum with its margin", tx, vec![power(60, 9_000.0)], limits, vec![]),
        ("half a watt past it", tx, vec![power(60, 9_000.5)], limits, vec![over(60, 60, 1, 9_000.5)]),
        (
            "consecutive moments are one run, phases included",
            tx,
            vec![
                power(60, 7_000.0),
                power(120, 12_000.0),
                phase(120, Phase::L1, 4_000.0),
                power(180, 7_200_000.0),
                phase(240, Phase::L2, 9_500.0),
                power(300, 7_100.0),
            ],
            limits,
            vec![over(120, 240, 3, 7_200_000.0)],
        ),
        (
            "a moment within the limit ends a run",
            tx,
            vec![power(60, 10_000.0), power(120, 7_000.0), power(180, 11_000.0)],
            limits,
            vec![over(60, 60, 1, 10_000.0), over(180, 180, 1, 11_000.0)],
        ),
        ("no maximum: 400 kW DC", tx, vec![power(60, 400_000.0)], inputs(None, None), vec![]),
    ];
    check(cases);
}

#[test]
fn missing_meter_stop_table() {
    let missing = |stopped: i64, last_register: Option<RegisterPoint>| Anomaly::MissingMeterStop {
        stopped_at: t(stopped),
        last_register,
    };
    let limits = inputs(None, Some(11_000.0));
    let cases: Vec<Case> = vec![
        ("1.6 with its meter stop", tx16(0, Some(600), 1_000.0, Some(2_000.0)), vec![], limits, vec![]),
        (
            "1.6 closed by Ström with no register to stop at",
            tx16(0, Some(600), 1_000.0, None),
            vec![],
            limits,
            vec![missing(600, Some(at(0, 1_000.0, RegisterSource::MeterStart)))],
        ),
        (
            "2.0.1 ended with a Transaction.End register",
            tx201(0, Some(600)),
            vec![periodic(300, 1_500.0), register(600, 2_000.0, TransactionEnd)],
            limits,
            vec![],
        ),
        (
            "2.0.1 ended after periodic registers only",
            tx201(0, Some(600)),
            vec![periodic(300, 1_500.0), periodic(540, 1_900.0)],
            limits,
            vec![missing(600, Some(reading(540, 1_900.0)))],
        ),
        (
            "2.0.1 ended with no register at all",
            tx201(0, Some(600)),
            vec![power(300, 7_000.0)],
            limits,
            vec![missing(600, None)],
        ),
        ("2.0.1 still running", tx201(0, None), vec![periodic(300, 1_500.0)], limits, vec![]),
        (
            "a register after the stop is not the last before it",
            tx201(0, Some(600)),
            vec![periodic(540, 1_900.0), periodic(900, 1_950.0)],
            limits,
            vec![
                missing(600, Some(reading(540, 1_900.0))),
                Anomaly::ReadingsAfterStop { stopped_at: t(600), first: t(900), last: t(900), readings: 1 },
            ],
        ),
    ];
    check(cases);
}

#[test]
fn reading_gap_table() {
    // Every minute: a gap is longer than 2 × 60 s + 10 s = 130 s.
    let every_minute = inputs(Some(60), Some(11_000.0));
    let tx = |stop: i64| tx16(0, Some(stop), 1_000.0, Some(1_000.0));
    let gap =
        |from: Timestamp, to: Timestamp, length_s: i64| Anomaly::ReadingGap { from, to, length_s, interval_s: 60 };
    let sample = |seconds: i64| power(seconds, 7_000.0);
    let cases: Vec<Case> = vec![
        ("every minute", tx(240), vec![sample(60), sample(120), sample(180), sample(240)], every_minute, vec![]),
        ("exactly the most between two", tx(240), vec![sample(60), sample(190)], every_minute, vec![]),
        ("a second past it", tx(240), vec![sample(60), sample(191)], every_minute, vec![gap(t(60), t(191), 131)]),
        (
            "half a second past it",
            tx(240),
            vec![sample(60), MeterPoint { at: t_ms(190_500), ..sample(0) }],
            every_minute,
            vec![gap(t(60), t_ms(190_500), 130)],
        ),
        ("from the start to the first", tx(180), vec![sample(131)], every_minute, vec![gap(t(0), t(131), 131)]),
        ("from the last to the stop", tx(191), vec![sample(60)], every_minute, vec![gap(t(60), t(191), 131)]),
        (
            "clock-aligned readings fill no gap",
            tx(600),
            vec![point(300, Measurand::PowerActiveImport, None, SampleClock, 7_000.0)],
            every_minute,
            vec![gap(t(0), t(600), 600)],
        ),
        (
            "each gap reported",
            tx(900),
            vec![sample(60), sample(400), sample(460), sample(800), sample(860)],
            every_minute,
            vec![gap(t(60), t(400), 340), gap(t(460), t(800), 340)],
        ),
        ("no interval configured", tx(600), vec![], inputs(None, Some(11_000.0)), vec![]),
        ("sampling switched off", tx(600), vec![], inputs(Some(0), Some(11_000.0)), vec![]),
        (
            "running: the stretch since the last is not judged",
            tx16(0, None, 1_000.0, None),
            vec![sample(60)],
            every_minute,
            vec![],
        ),
    ];
    check(cases);
}

#[test]
fn readings_outside_the_transaction_table() {
    let tx = tx16(0, Some(600), 1_000.0, Some(1_000.0));
    let limits = inputs(None, Some(11_000.0));
    let after = |first: i64, last: i64, readings: usize| Anomaly::ReadingsAfterStop {
        stopped_at: t(600),
        first: t(first),
        last: t(last),
        readings,
    };
    let before = |first: i64, last: i64, readings: usize| Anomaly::ReadingsBeforeStart {
        started_at: t(0),
        first: t(first),
        last: t(last),
        readings,
    };
    let voltage = |seconds: i64| point(seconds, Measurand::Voltage, Some(Phase::L1N), SamplePeriodic, 231.0);
    let cases: Vec<Case> = vec![
        ("exactly the skew after the stop", tx, vec![power(610, 0.0)], limits, vec![]),
        ("a second past it", tx, vec![power(611, 0.0)], limits, vec![after(611, 611, 1)]),
        (
            "queued MeterValues after the stop, one anomaly",
            tx,
            vec![power(660, 0.0), voltage(660), power(720, 0.0)],
            limits,
            vec![after(660, 720, 3)],
        ),
        ("exactly the skew before the start", tx, vec![power(-10, 0.0)], limits, vec![]),
        ("a second past it", tx, vec![power(-11, 0.0)], limits, vec![before(-11, -11, 1)]),
        (
            "both sides",
            tx,
            vec![voltage(-120), power(-60, 0.0), power(300, 7_000.0), power(900, 0.0)],
            limits,
            vec![before(-120, -60, 2), after(900, 900, 1)],
        ),
        ("running: nothing is after its stop", tx16(0, None, 1_000.0, None), vec![power(10_000, 0.0)], limits, vec![]),
    ];
    check(cases);
}

#[test]
fn unit_confusion_table() {
    use RegisterSource::{MeterStart, MeterStop};
    let confusion =
        |first: RegisterPoint, last: RegisterPoint, points: usize, factor: Factor, reference: RegisterPoint| {
            Anomaly::UnitConfusion { first, last, points, factor, reference }
        };
    let ac = inputs(None, Some(11_000.0));
    // A meter with 12,345 kWh on it, charging at 11 kW: 183 Wh a minute.
    let meter = 12_345_000.0;
    let cases: Vec<Case> = vec![
        (
            "a kWh figure amid Wh registers",
            tx16(0, None, meter, None),
            vec![periodic(60, meter + 183.0), periodic(120, 12_345.4), periodic(180, meter + 550.0)],
            ac,
            vec![confusion(
                reading(120, 12_345.4),
                reading(120, 12_345.4),
                1,
                Factor::Thousandth,
                reading(60, meter + 183.0),
            )],
        ),
        (
            "a Wh figure sent as kWh, two in a row",
            tx16(0, None, meter, None),
            vec![
                periodic(60, meter + 183.0),
                periodic(120, (meter + 366.0) * 1000.0),
                periodic(180, (meter + 550.0) * 1000.0),
                periodic(240, meter + 733.0),
            ],
            ac,
            vec![confusion(
                reading(120, (meter + 366.0) * 1000.0),
                reading(180, (meter + 550.0) * 1000.0),
                2,
                Factor::Thousandfold,
                reading(60, meter + 183.0),
            )],
        ),
        (
            "1.6: the meter start and stop in Wh, every register in kWh",
            tx16(0, Some(600), meter, Some(meter + 1_000.0)),
            (1..=9).map(|k| periodic(60 * k, 12_345.0 + 0.1 * k as f64)).collect(),
            ac,
            vec![
                confusion(
                    at(0, meter, MeterStart),
                    at(0, meter, MeterStart),
                    1,
                    Factor::Thousandfold,
                    reading(60, 12_345.0 + 0.1),
                ),
                confusion(
                    at(600, meter + 1_000.0, MeterStop),
                    at(600, meter + 1_000.0, MeterStop),
                    1,
                    Factor::Thousandfold,
                    reading(540, 12_345.0 + 0.1 * 9.0),
                ),
            ],
        ),
        (
            "a kWh figure rounded to a whole kWh",
            tx16(0, None, meter, None),
            vec![periodic(60, meter + 183.0), periodic(120, 12_345.0), periodic(180, meter + 550.0)],
            ac,
            vec![confusion(
                reading(120, 12_345.0),
                reading(120, 12_345.0),
                1,
                Factor::Thousandth,
                reading(60, meter + 183.0),
            )],
        ),
        (
            "a fresh meter: a kWh figure among small Wh registers",
            tx16(0, Some(300), 0.0, Some(410.0)),
            vec![periodic(60, 100.0), periodic(120, 200.0), periodic(180, 0.3), periodic(240, 400.0)],
            inputs(None, Some(7_400.0)),
            vec![confusion(reading(180, 0.3), reading(180, 0.3), 1, Factor::Thousandth, reading(120, 200.0))],
        ),
        (
            "a fresh meter climbing at a possible pace does not fire",
            tx16(0, None, 0.0, None),
            vec![periodic(60, 0.4), periodic(120, 150.0), periodic(180, 300.0)],
            ac,
            vec![],
        ),
        (
            "small and large values a factor 1000 apart but not a unit's (a reset) do not fire",
            tx16(0, None, 5_000_000.0, None),
            vec![periodic(60, 4_000.0)],
            inputs(None, None),
            vec![Anomaly::RegisterBackwards { from: at(0, 5_000_000.0, MeterStart), to: reading(60, 4_000.0) }],
        ),
    ];
    check(cases);
}

mod sessions;
