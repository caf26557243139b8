//! The register checks of `integrity`: the transaction's import register values in time order
//! (meter start, readings, meter stop), those a factor 1000 off the rest, and the steps between
//! the others that went backwards or rose faster than the connector can deliver.

use super::{
    Anomaly, Factor, MaxPower, MeterPoint, RegisterPoint, RegisterSource, Transaction, POWER_MARGIN,
    REGISTER_TOLERANCE_WH, TIMESTAMP_SLACK_S,
};
use crate::metering::Measurand;
use crate::Timestamp;

/// How far apart two groups of register values must be to be a unit confusion's candidates: the
/// smallest of the larger at least 100 times the largest of the smaller, with no value between.
/// One transaction adds a few hundred kWh at most to its meter, so its values sit within a
/// narrow band, except on a meter starting near zero, which the other conditions guard.
pub const UNIT_GAP_RATIO: f64 = 100.0;

/// The rounding allowed when a value is compared after scaling by 1000: a kWh figure sent as Wh
/// may have been rounded to a whole kWh, which is 1000 Wh once scaled.
pub const UNIT_ROUNDING_WH: f64 = 1000.0;

/// The register values in time order: the meter start at the start, the readings
/// (Energy.Active.Import.Register without a phase: a phase's register is a share of the total),
/// the meter stop at the stop; of equal times the meter start first and the meter stop last.
/// A meter start or stop with no time to place it at is left out.
pub(super) fn series(tx: &Transaction, sorted: &[&MeterPoint]) -> Vec<RegisterPoint> {
    let finite = |wh: &f64| wh.is_finite();
    let mut ranked: Vec<(u8, RegisterPoint)> = Vec::new();
    if let (Some(at), Some(wh)) = (tx.started_at, tx.meter_start_wh.filter(finite)) {
        ranked.push((0, RegisterPoint { at, wh, source: RegisterSource::MeterStart }));
    }
    ranked.extend(
        sorted
            .iter()
            .filter(|p| p.measurand == Measurand::EnergyActiveImportRegister && p.phase.is_none())
            .map(|p| (1, RegisterPoint { at: p.at, wh: p.value, source: RegisterSource::Reading(p.context) })),
    );
    if let (Some(at), Some(wh)) = (tx.stopped_at, tx.meter_stop_wh.filter(finite)) {
        ranked.push((2, RegisterPoint { at, wh, source: RegisterSource::MeterStop }));
    }
    ranked.sort_by_key(|(rank, r)| (r.at, *rank));
    ranked.into_iter().map(|(_, r)| r).collect()
}

/// The most energy the connector can deliver from `from` to `to`, in Wh: its maximum power with
/// `POWER_MARGIN` over the time plus `TIMESTAMP_SLACK_S`, plus `tolerance_wh` for rounding.
pub fn max_rise_wh(max_power_w: f64, from: Timestamp, to: Timestamp, tolerance_wh: f64) -> f64 {
    let seconds = (to - from).num_milliseconds() as f64 / 1000.0 + TIMESTAMP_SLACK_S;
    max_power_w * seconds / 3600.0 * POWER_MARGIN + tolerance_wh
}

/// What a step from one register value to the next is, taken literally.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Fine,
    Backwards,
    /// A rise above this many Wh, the most the connector could deliver.
    Jump(f64),
}

/// Judges the step from `a` (Wh at a time) to `b`, allowing `tolerance_wh` either way.
fn step(max_power: MaxPower, a: (Timestamp, f64), b: (Timestamp, f64), tolerance_wh: f64) -> Step {
    if a.1 - b.1 > tolerance_wh {
        return Step::Backwards;
    }
    let max_rise = max_rise_wh(max_power.watts, a.0, b.0, tolerance_wh);
    if b.1 - a.1 > max_rise {
        Step::Jump(max_rise)
    } else {
        Step::Fine
    }
}

/// The anomalies of the register series: unit confusions first found and set aside, then every
/// step between consecutive remaining values that went backwards or jumped, and the meter stop
/// against the highest value before it (when that is not its predecessor, already judged).
pub(super) fn check(series: &[RegisterPoint], max_power: MaxPower) -> Vec<Anomaly> {
    let mut found = Vec::new();
    let trusted: Vec<RegisterPoint> = match unit_suspects(series, max_power) {
        Some((suspect, factor)) => {
            found.extend(unit_runs(series, &suspect, factor));
            series.iter().zip(&suspect).filter(|(_, s)| !**s).map(|(r, _)| *r).collect()
        }
        None => series.to_vec(),
    };
    let mut highest: Option<usize> = None;
    for (i, &to) in trusted.iter().enumerate() {
        if let Some(&from) = i.checked_sub(1).and_then(|p| trusted.get(p)) {
            match step(max_power, (from.at, from.wh), (to.at, to.wh), REGISTER_TOLERANCE_WH) {
                Step::Fine => {}
                Step::Backwards => found.push(Anomaly::RegisterBackwards { from, to }),
                Step::Jump(max_rise_wh) => found.push(Anomaly::ImpossibleJump { from, to, max_rise_wh, max_power }),
            }
        }
        if let Some(h) = highest {
            let top = trusted[h];
            if to.source == RegisterSource::MeterStop && h + 1 != i && top.wh - to.wh > REGISTER_TOLERANCE_WH {
                found.push(Anomaly::RegisterBackwards { from: top, to });
            }
        }
        if highest.is_none_or(|h| to.wh > trusted[h].wh) {
            highest = Some(i);
        }
    }
    found
}

/// Which values of `series` look a factor 1000 off the rest, and how. The heuristic, every part
/// of which must hold:
///
/// 1. Split the positive values (zero is zero in any unit) at the widest ratio between two
///    neighbours in value order; it must be at least `UNIT_GAP_RATIO`.
/// 2. The smaller group times 1000 must overlap the larger group's range widened by a factor
///    of 2 either way (a kWh figure and the Wh figures of one meter in one session).
/// 3. Every step in time order from a value of one group to one of the other must be impossible
///    taken literally (backwards, or rising faster than the connector can deliver), and there
///    must be one: an ordinary session on a meter starting near zero climbs through the
///    magnitudes at a possible pace and never fires, whatever its values. (So a kWh figure amid
///    Wh registers small enough to be reached again within the interval at the connector's
///    maximum is a backwards step, not a confusion: the conservative side.)
/// 4. Every crossing step must be possible once both sides are in the same unit: in the larger
///    group's, with `UNIT_ROUNDING_WH` allowed for a rounded kWh figure, or in the smaller
///    group's. A meter reset to near zero fails this (its drop remains a drop).
///
/// The smaller group by count is the suspect one; of two equal groups, the one without the
/// first value. One confusion, between two magnitudes, is looked for per transaction.
fn unit_suspects(series: &[RegisterPoint], max_power: MaxPower) -> Option<(Vec<bool>, Factor)> {
    let positive: Vec<usize> = (0..series.len()).filter(|&i| series[i].wh > 0.0).collect();
    let mut values: Vec<f64> = positive.iter().map(|&i| series[i].wh).collect();
    values.sort_by(f64::total_cmp);
    let (k, ratio) =
        values.windows(2).enumerate().map(|(k, pair)| (k, pair[1] / pair[0])).max_by(|a, b| a.1.total_cmp(&b.1))?;
    if ratio < UNIT_GAP_RATIO {
        return None;
    }
    let (low_min, low_max) = (values[0], values[k]);
    let (high_min, high_max) = (values[k + 1], values[values.len() - 1]);
    if low_max * 1000.0 < high_min / 2.0 || low_min * 1000.0 > high_max * 2.0 {
        return None;
    }
    let is_low = |i: usize| series[i].wh <= low_max;
    let mut any_impossible = false;
    for pair in positive.windows(2) {
        let (a, b) = (series[pair[0]], series[pair[1]]);
        let (a_low, b_low) = (is_low(pair[0]), is_low(pair[1]));
        if a_low == b_low {
            continue;
        }
        if step(max_power, (a.at, a.wh), (b.at, b.wh), REGISTER_TOLERANCE_WH) == Step::Fine {
            return None;
        }
        any_impossible = true;
        let up = |wh: f64, low: bool| if low { wh * 1000.0 } else { wh };
        let down = |wh: f64, low: bool| if low { wh } else { wh / 1000.0 };
        let in_high =
            step(max_power, (a.at, up(a.wh, a_low)), (b.at, up(b.wh, b_low)), REGISTER_TOLERANCE_WH + UNIT_ROUNDING_WH);
        let in_low = step(max_power, (a.at, down(a.wh, a_low)), (b.at, down(b.wh, b_low)), REGISTER_TOLERANCE_WH);
        if in_high != Step::Fine && in_low != Step::Fine {
            return None;
        }
    }
    if !any_impossible {
        return None;
    }
    let lows = positive.iter().filter(|&&i| is_low(i)).count();
    let highs = positive.len() - lows;
    let suspect_low = if lows == highs { !is_low(positive[0]) } else { lows < highs };
    let mut suspect = vec![false; series.len()];
    for &i in &positive {
        suspect[i] = is_low(i) == suspect_low;
    }
    Some((suspect, if suspect_low { Factor::Thousandth } else { Factor::Thousandfold }))
}

/// One `UnitConfusion` per run of consecutive suspect values, each with the nearest trusted
/// positive value before it (after it, for a run at the beginning) as its reference.
fn unit_runs(series: &[RegisterPoint], suspect: &[bool], factor: Factor) -> Vec<Anomaly> {
    let trusted = |i: usize| !suspect[i] && series[i].wh > 0.0;
    let first_trusted = (0..series.len()).find(|&i| trusted(i)).map(|i| series[i]);
    let mut found = Vec::new();
    let mut last_trusted: Option<RegisterPoint> = None;
    let mut run: Option<(RegisterPoint, RegisterPoint, usize)> = None;
    for (i, &point) in series.iter().enumerate() {
        if suspect[i] {
            run = Some(match run {
                Some((first, _, points)) => (first, point, points + 1),
                None => (point, point, 1),
            });
            continue;
        }
        if let (Some((first, last, points)), Some(reference)) = (run.take(), last_trusted.or(first_trusted)) {
            found.push(Anomaly::UnitConfusion { first, last, points, factor, reference });
        }
        if trusted(i) {
            last_trusted = Some(point);
        }
    }
    if let (Some((first, last, points)), Some(reference)) = (run, last_trusted.or(first_trusted)) {
        found.push(Anomaly::UnitConfusion { first, last, points, factor, reference });
    }
    found
}
