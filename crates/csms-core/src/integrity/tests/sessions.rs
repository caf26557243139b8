//! Whole sessions as stations send them, the codes and descriptions, and the conversion from a
//! stored reading.

use super::*;
use crate::metering::{self, ValueFormat};

/// A 1.6 AC session at 10.8 kW for two hours, sampled every five minutes with the register, the
/// power, the current per phase and a voltage, with Transaction.Begin and Transaction.End
/// readings in its StopTransaction's transactionData. `skip` leaves samples out.
fn ac_session_16(skip: impl Fn(i64) -> bool) -> (Transaction, Vec<MeterPoint>) {
    let meter_start = 1_234_567.0;
    let wh = |k: i64| meter_start + 900.0 * k as f64;
    let mut points = vec![register(0, meter_start, TransactionBegin)];
    for k in (1..=24).filter(|k| !skip(*k)) {
        let s = 300 * k;
        points.push(periodic(s, wh(k)));
        points.push(power(s, 10_800.0));
        for phase in [Phase::L1, Phase::L2, Phase::L3] {
            points.push(point(s, Measurand::CurrentImport, Some(phase), SamplePeriodic, 15.7));
        }
        points.push(point(s, Measurand::Voltage, Some(Phase::L1N), SamplePeriodic, 229.4));
    }
    points.push(register(7_200, wh(24), TransactionEnd));
    (tx16(0, Some(7_200), meter_start, Some(wh(24))), points)
}

#[test]
fn a_clean_16_session_has_no_anomalies() {
    let (tx, points) = ac_session_16(|_| false);
    assert_eq!(anomalies(&tx, &points, &inputs(Some(300), Some(11_000.0))), vec![]);
}

#[test]
fn a_16_session_offline_for_a_while_with_values_queued_past_its_stop() {
    // Samples 13 to 19 lost while the station was offline, and a clock-aligned MeterValues it
    // had queued sent after its StopTransaction, timed two minutes after the stop.
    let (tx, mut points) = ac_session_16(|k| (13..=19).contains(&k));
    points.push(register(7_320, 1_256_167.0, SampleClock));
    points.push(point(7_320, Measurand::PowerActiveImport, None, SampleClock, 0.0));
    let found = anomalies(&tx, &points, &inputs(Some(300), Some(11_000.0)));
    assert_eq!(
        found,
        vec![
            Anomaly::ReadingGap { from: t(3_600), to: t(6_000), length_s: 2_400, interval_s: 300 },
            Anomaly::ReadingsAfterStop { stopped_at: t(7_200), first: t(7_320), last: t(7_320), readings: 2 },
        ]
    );
}

#[test]
fn a_201_dc_session_with_a_kwh_register_and_no_end_reading() {
    // 150 kW tapering after 15 minutes, TxUpdatedInterval 30 s, on a meter with 55 MWh on it.
    // The 17th sample's register came as kWh with a Wh unit; the Ended event carried no meter
    // value (TxEndedMeasurands empty).
    let mut wh = 55_000_000.0;
    let mut points = vec![register(0, wh, TransactionBegin), point(0, Measurand::SoC, None, TransactionBegin, 20.0)];
    let mut last = (0, wh);
    for k in 1..=50_i64 {
        let kw = if k <= 30 { 150.0 } else { 150.0 - 4.0 * (k - 30) as f64 };
        wh = (wh + kw * 1000.0 * 30.0 / 3600.0).round();
        let s = 30 * k;
        let reported = if k == 17 { (wh / 100.0).round() / 10.0 } else { wh };
        points.push(periodic(s, reported));
        points.push(power(s, kw * 1000.0));
        points.push(point(s, Measurand::CurrentImport, None, SamplePeriodic, kw * 1000.0 / 400.0));
        points.push(point(s, Measurand::Voltage, None, SamplePeriodic, 400.0));
        points.push(point(s, Measurand::SoC, None, SamplePeriodic, 20.0 + k as f64));
        last = (s, wh);
    }
    let found = anomalies(&tx201(0, Some(1_520)), &points, &inputs(Some(30), Some(150_000.0)));
    let codes: Vec<&str> = found.iter().map(Anomaly::code).collect();
    assert_eq!(codes, ["unit_confusion", "missing_meter_stop"], "{found:#?}");
    let Anomaly::UnitConfusion { first, points: 1, factor: Factor::Thousandth, reference, .. } = found[0] else {
        panic!("not one value a thousandth of the rest: {:?}", found[0]);
    };
    assert_eq!((first.at, reference.at), (t(510), t(480)));
    assert_eq!(
        found[1],
        Anomaly::MissingMeterStop { stopped_at: t(1_520), last_register: Some(reading(last.0, last.1)) }
    );
}

#[test]
fn tens_of_thousands_of_readings_in_any_order() {
    // Three days sampled every five seconds at 7.2 kW: 100,000 readings.
    let mut points: Vec<MeterPoint> =
        (1..=50_000_i64).flat_map(|k| [periodic(5 * k, 1_000.0 + 10.0 * k as f64), power(5 * k, 7_200.0)]).collect();
    let tx = tx16(0, Some(250_000), 1_000.0, Some(501_000.0));
    let limits = inputs(Some(5), Some(7_400.0));
    assert_eq!(anomalies(&tx, &points, &limits), vec![]);
    // Reversed, and with one register dropping to 1 Wh and back: a drop, then a jump.
    points.reverse();
    points[10] = periodic(123_455, 1.0);
    let codes: Vec<&str> = anomalies(&tx, &points, &limits).iter().map(Anomaly::code).collect();
    assert_eq!(codes, ["register_backwards", "impossible_jump"]);
}

/// One anomaly of each kind, in the order of `CODES`, with its description.
fn one_of_each() -> Vec<(Anomaly, &'static str)> {
    let ended = RegisterSource::Reading(TransactionEnd);
    vec![
        (
            Anomaly::UnitConfusion {
                first: reading(120, 12_345.4),
                last: reading(120, 12_345.4),
                points: 1,
                factor: Factor::Thousandth,
                reference: reading(60, 12_345_183.0),
            },
            "The Sample.Periodic reading of 12345.4 Wh at 2026-12-07T12:02:00.000Z is about 1000 times smaller than \
             the transaction's other registers (12345.4 Wh against 12345183 Wh at 2026-12-07T12:01:00.000Z): \
             probably a kWh figure sent as Wh",
        ),
        (
            Anomaly::RegisterBackwards { from: reading(60, 1_200.0), to: at(600, 960.5, ended) },
            "The register went backwards by 239.5 Wh, from 1200 Wh (Sample.Periodic reading at \
             2026-12-07T12:01:00.000Z) to 960.5 Wh (Transaction.End reading at 2026-12-07T12:10:00.000Z)",
        ),
        (
            Anomaly::ImpossibleJump {
                from: reading(60, 1_000.0),
                to: reading(120, 2_147_483_647.0),
                max_rise_wh: max_rise_wh(DEFAULT_MAX_POWER_W, t(60), t(120), REGISTER_TOLERANCE_WH),
                max_power: ASSUMED,
            },
            "The register rose by 2147482647 Wh in 1 min, from 1000 Wh at 2026-12-07T12:01:00.000Z to 2147483647 Wh \
             at 2026-12-07T12:02:00.000Z: more than the 79437.083 Wh any connector (3750000 W; no maximum \
             configured) can deliver in that time",
        ),
        (
            Anomaly::PowerAboveMaximum {
                from: t(120),
                to: t(240),
                readings: 3,
                peak_w: 7_200_000.0,
                max_power: configured(7_200.0),
            },
            "3 power readings from 2026-12-07T12:02:00.000Z to 2026-12-07T12:04:00.000Z above the connector's \
             maximum of 7200 W (peak 7200000 W)",
        ),
        (
            Anomaly::MissingMeterStop { stopped_at: t(3_725), last_register: Some(reading(3_600, 1_900.0)) },
            "The transaction ended at 2026-12-07T13:02:05.000Z with no meter stop; the last register value was \
             1900 Wh (Sample.Periodic reading at 2026-12-07T13:00:00.000Z, 2 min 5 s before the end), and the energy \
             after it is unknown",
        ),
        (
            Anomaly::ReadingGap { from: t(60), to: t(3_725), length_s: 3_665, interval_s: 60 },
            "No periodic reading from 2026-12-07T12:01:00.000Z to 2026-12-07T13:02:05.000Z (1 h 1 min 5 s), \
             although one was due every 1 min",
        ),
        (
            Anomaly::ReadingsAfterStop { stopped_at: t(600), first: t(660), last: t(720), readings: 3 },
            "3 readings timed after the transaction's stop at 2026-12-07T12:10:00.000Z (from \
             2026-12-07T12:11:00.000Z to 2026-12-07T12:12:00.000Z)",
        ),
        (
            Anomaly::ReadingsBeforeStart { started_at: t(0), first: t(-11), last: t(-11), readings: 1 },
            "1 reading timed before the transaction's start at 2026-12-07T12:00:00.000Z (from \
             2026-12-07T11:59:49.000Z to 2026-12-07T11:59:49.000Z)",
        ),
    ]
}

#[test]
fn codes_are_stable_and_descriptions_explain() {
    let all = one_of_each();
    let codes: Vec<&str> = all.iter().map(|(a, _)| a.code()).collect();
    assert_eq!(codes, CODES);
    for (anomaly, description) in all {
        assert_eq!(anomaly.describe(), description, "{}", anomaly.code());
    }
    let start = Anomaly::UnitConfusion {
        first: at(0, 12_345_000.0, RegisterSource::MeterStart),
        last: at(0, 12_345_000.0, RegisterSource::MeterStart),
        points: 1,
        factor: Factor::Thousandfold,
        reference: reading(60, 12_345.1),
    };
    assert!(start.describe().ends_with("the meter start or stop and the register readings are in different units"));
    let no_register = Anomaly::MissingMeterStop { stopped_at: t(600), last_register: None };
    assert_eq!(
        no_register.describe(),
        "The transaction ended at 2026-12-07T12:10:00.000Z with no meter stop and no register value at all: its \
         energy is unknown"
    );
}

#[test]
fn meter_points_from_stored_readings() {
    let stored = |raw: &str, measurand: Measurand, format: Option<ValueFormat>, unit: Option<&str>| {
        metering::reading(t(60), raw.to_string(), Some(measurand), None, None, None, format, unit, 0)
    };
    let cases = [
        (
            "a kWh register in Wh",
            stored("12.5", Measurand::EnergyActiveImportRegister, None, Some("kWh")),
            Some(12_500.0),
        ),
        ("kW power in W", stored("7.2", Measurand::PowerActiveImport, None, Some("kW")), Some(7_200.0)),
        (
            "a register in a unit Ström does not know",
            stored("1", Measurand::EnergyActiveImportRegister, None, Some("MWh")),
            None,
        ),
        ("power in a unit Ström does not know", stored("1", Measurand::PowerActiveImport, None, Some("hp")), None),
        (
            "signed data has no number",
            stored("AB01", Measurand::EnergyActiveImportRegister, Some(ValueFormat::SignedData), None),
            None,
        ),
        ("a voltage as it is", stored("229.4", Measurand::Voltage, None, Some("V")), Some(229.4)),
    ];
    for (name, reading, value) in cases {
        let converted = MeterPoint::from_reading(&reading);
        assert_eq!(converted.map(|p| p.value), value, "{name}");
        if let Some(p) = converted {
            assert_eq!((p.at, p.measurand, p.context), (t(60), reading.measurand, SamplePeriodic), "{name}");
        }
    }
}
