//! Whether a transaction's meter readings can be trusted for billing. `transactions::energy`
//! settles the billed energy from the meter start and stop and raises a few flags as it does;
//! this looks at every reading of the transaction afterwards, as a pure function of the stored
//! readings, and names what a billing clerk or an operator must know before trusting the
//! figure: a register that went backwards or rose faster than the connector can deliver, a
//! power above the connector's maximum, an end with no meter stop, periodic readings that
//! stopped coming, readings timed outside the transaction, and figures a factor 1000 off (kWh
//! sent as Wh or the reverse).
//!
//! Each anomaly has a stable snake_case code for the API (`Anomaly::code`, all listed in
//! `CODES`): `unit_confusion`, `register_backwards`, `impossible_jump`, `power_above_maximum`,
//! `missing_meter_stop`, `reading_gap`, `reading_after_stop`, `reading_before_start`.
//!
//! The work is O(n log n) in the readings (one stable sort by time, then linear passes and one
//! sort of the register values), since a long transaction sampled every few seconds has tens of
//! thousands of them.

mod registers;

use crate::metering::{Measurand, Phase, Reading, ReadingContext};
use crate::Timestamp;

/// How far a register may fall between two readings before it went backwards: 10 Wh. Meters
/// count in whole watt-hours, a station reporting kWh with two decimals rounds to 10 Wh, and
/// kWh→Wh normalisation leaves float error (12.345 kWh is 12344.999… Wh); a meter itself never
/// runs backwards. A station that reports kWh with one decimal rounds by up to 100 Wh and will
/// be flagged when its readings are compared with a watt-hour meter start or stop.
pub const REGISTER_TOLERANCE_WH: f64 = 10.0;

/// The maximum power assumed for a connector whose maximum is not known: 3.75 MW, the rating of
/// the Megawatt Charging System connector (3,000 A at 1,250 V), the largest standard connector.
/// A lower ceiling such as 400 kW would call real megawatt charging impossible (trucks on MCS,
/// BYD's 1 MW car chargers, 500 kW CCS cabinets already exceed it); the price is a lenient check
/// where no maximum is configured, which is why `Inputs::max_power_w` should be given.
pub const DEFAULT_MAX_POWER_W: f64 = 3_750_000.0;

/// By how much delivered power may exceed the connector's maximum before it is impossible: 25%.
/// The supply voltage may be 10% above nominal (EN 50160), a current limit overshoots by a few
/// percent before the EV follows it, and a class B meter reads within 1%; together about 1.2.
pub const POWER_MARGIN: f64 = 1.25;

/// Added to the time between two readings when bounding the energy between them: OCPP
/// timestamps are commonly whole seconds, so two readings a second apart on paper may be up to
/// two seconds apart in fact.
pub const TIMESTAMP_SLACK_S: f64 = 1.0;

/// How far outside the transaction a reading may be timed before it is anomalous: 10 s. A
/// station may take its Transaction.End reading a few seconds after the instant it stamps on the
/// stop (a meter read over Modbus takes a second or two), while a queued periodic reading sent
/// after the stop is at least one sample interval late.
pub const CLOCK_SKEW_TOLERANCE_S: i64 = 10;

/// Added to twice the sample interval before a stretch without periodic readings is a gap. Twice
/// the interval tolerates one lost sample (a dropped message, a sample skipped while the
/// contactor switched); two in a row are a gap. The 10 s absorb timer jitter and the first
/// sample's delay after the start.
pub const GAP_TOLERANCE_S: i64 = 10;

/// The stable codes of the anomalies, as `Anomaly::code` returns them.
pub const CODES: [&str; 8] = [
    "unit_confusion",
    "register_backwards",
    "impossible_jump",
    "power_above_maximum",
    "missing_meter_stop",
    "reading_gap",
    "reading_after_stop",
    "reading_before_start",
];

/// What is known of the transaction apart from its readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transaction {
    /// None for a transaction known only from its stop (a 1.6 StopTransaction for an unknown id).
    pub started_at: Option<Timestamp>,
    /// None while it runs.
    pub stopped_at: Option<Timestamp>,
    /// The meter start and stop as the station reported them apart from its readings: 1.6
    /// StartTransaction.meterStart and StopTransaction.meterStop. A 2.0.1 transaction has none:
    /// pass None, since the values Ström stores for it are taken from the readings themselves
    /// (`transactions::meter_bounds`) and would count the same reading twice.
    pub meter_start_wh: Option<f64>,
    pub meter_stop_wh: Option<f64>,
}

/// What is configured for the transaction's station and connector.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Inputs {
    /// The periodic sample interval in seconds (1.6 MeterValueSampleInterval, 2.0.1
    /// SampledDataCtrlr.TxUpdatedInterval); None or 0 (which switches sampling off) skip the gap
    /// check.
    pub sample_interval_s: Option<u32>,
    /// The connector's maximum power in watts; `DEFAULT_MAX_POWER_W` when None.
    pub max_power_w: Option<f64>,
}

/// One stored reading, as far as the checks need it: the value in base units (Wh, W, A, V).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterPoint {
    pub at: Timestamp,
    pub measurand: Measurand,
    pub phase: Option<Phase>,
    pub context: ReadingContext,
    pub value: f64,
}

impl MeterPoint {
    /// The point of a stored reading: None when its value is no number (signed data) or, for an
    /// active import register or power, not in its base unit (a unit Ström could not normalise).
    pub fn from_reading(reading: &Reading) -> Option<MeterPoint> {
        let value = reading.value.filter(|v| v.is_finite())?;
        let base = match reading.measurand {
            Measurand::EnergyActiveImportRegister => Some("Wh"),
            Measurand::PowerActiveImport => Some("W"),
            _ => None,
        };
        if base.is_some_and(|unit| reading.normalised_unit != unit) {
            return None;
        }
        Some(MeterPoint {
            at: reading.timestamp,
            measurand: reading.measurand,
            phase: reading.phase,
            context: reading.context,
            value,
        })
    }
}

/// Where a register value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterSource {
    MeterStart,
    MeterStop,
    /// An Energy.Active.Import.Register reading without a phase, taken in this context.
    Reading(ReadingContext),
}

/// A value of the transaction's import register, in Wh, and when and how it was reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegisterPoint {
    pub at: Timestamp,
    pub wh: f64,
    pub source: RegisterSource,
}

/// How register values that look a factor 1000 off compare with the rest of the transaction's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// About a thousandth: a kWh figure sent with a Wh unit.
    Thousandth,
    /// About a thousandfold: a Wh figure sent with a kWh unit.
    Thousandfold,
}

/// The maximum power the checks used, and whether it was configured or assumed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxPower {
    pub watts: f64,
    /// False when `DEFAULT_MAX_POWER_W` stood in for an unknown maximum.
    pub configured: bool,
}

/// Something about a transaction's readings that billing must not take on trust, with the facts
/// that explain it.
#[derive(Debug, Clone, PartialEq)]
pub enum Anomaly {
    /// Register values a factor 1000 off the rest of the transaction's (`first` to `last`, in
    /// time order, `points` of them with no other register between): the heuristic in
    /// `registers::unit_suspects`. They take no part in the backwards and jump checks, which
    /// they would otherwise fail for the same cause. `reference` is the nearest other value.
    UnitConfusion { first: RegisterPoint, last: RegisterPoint, points: usize, factor: Factor, reference: RegisterPoint },
    /// The register fell by more than `REGISTER_TOLERANCE_WH` from `from` to `to`: between two
    /// consecutive values, or from the highest value before the meter stop to the meter stop.
    RegisterBackwards { from: RegisterPoint, to: RegisterPoint },
    /// The register rose by more than `max_rise_wh`, what the connector can deliver between the
    /// two times (`registers::Bound`).
    ImpossibleJump { from: RegisterPoint, to: RegisterPoint, max_rise_wh: f64, max_power: MaxPower },
    /// Power.Active.Import readings (any phase) above the maximum times `POWER_MARGIN`, at
    /// consecutive reporting moments from `from` to `to`; `peak_w` the highest.
    PowerAboveMaximum { from: Timestamp, to: Timestamp, readings: usize, peak_w: f64, max_power: MaxPower },
    /// The transaction ended with no meter stop and no register reading in context
    /// Transaction.End, so the energy after `last_register` (the last value at or before the
    /// stop, if any) is unknown. A 2.0.1 station whose SampledDataCtrlr.TxEndedMeasurands lacks
    /// the register earns this on every transaction, rightly: its bill ends at its last sample.
    MissingMeterStop { stopped_at: Timestamp, last_register: Option<RegisterPoint> },
    /// No Sample.Periodic reading for longer than twice the interval plus `GAP_TOLERANCE_S`,
    /// between two of them or between the start or stop and the nearest.
    ReadingGap { from: Timestamp, to: Timestamp, length_s: i64, interval_s: u32 },
    /// Readings timed more than `CLOCK_SKEW_TOLERANCE_S` after the stop (a station sending
    /// MeterValues it had queued after its StopTransaction, or a wrong clock).
    ReadingsAfterStop { stopped_at: Timestamp, first: Timestamp, last: Timestamp, readings: usize },
    /// Readings timed more than `CLOCK_SKEW_TOLERANCE_S` before the start.
    ReadingsBeforeStart { started_at: Timestamp, first: Timestamp, last: Timestamp, readings: usize },
}

impl Anomaly {
    /// The stable name of the anomaly's kind, for the API (one of `CODES`).
    pub fn code(&self) -> &'static str {
        match self {
            Anomaly::UnitConfusion { .. } => "unit_confusion",
            Anomaly::RegisterBackwards { .. } => "register_backwards",
            Anomaly::ImpossibleJump { .. } => "impossible_jump",
            Anomaly::PowerAboveMaximum { .. } => "power_above_maximum",
            Anomaly::MissingMeterStop { .. } => "missing_meter_stop",
            Anomaly::ReadingGap { .. } => "reading_gap",
            Anomaly::ReadingsAfterStop { .. } => "reading_after_stop",
            Anomaly::ReadingsBeforeStart { .. } => "reading_before_start",
        }
    }

    /// When the anomaly begins, which orders a transaction's anomalies.
    pub fn at(&self) -> Timestamp {
        match self {
            Anomaly::UnitConfusion { first, .. } => first.at,
            Anomaly::RegisterBackwards { from, .. } | Anomaly::ImpossibleJump { from, .. } => from.at,
            Anomaly::PowerAboveMaximum { from, .. } | Anomaly::ReadingGap { from, .. } => *from,
            Anomaly::MissingMeterStop { stopped_at, .. } => *stopped_at,
            Anomaly::ReadingsAfterStop { first, .. } | Anomaly::ReadingsBeforeStart { first, .. } => *first,
        }
    }

    /// The anomaly explained to an operator, in one sentence.
    pub fn describe(&self) -> String {
        match self {
            Anomaly::UnitConfusion { first, last, points, factor, reference } => {
                let size = match factor {
                    Factor::Thousandth => "smaller",
                    Factor::Thousandfold => "larger",
                };
                // A meter start or stop carries no unit: only its disagreement with the readings
                // is known, not which side is wrong.
                let guess = match (factor, first.source) {
                    (_, RegisterSource::MeterStart | RegisterSource::MeterStop) if *points == 1 => {
                        "the meter start or stop and the register readings are in different units"
                    }
                    (Factor::Thousandth, _) => "a kWh figure sent as Wh",
                    (Factor::Thousandfold, _) => "a Wh figure sent as kWh",
                };
                let what = if *points == 1 {
                    format!("The {} of {} at {}", source(first.source), wh(first.wh), time(first.at))
                } else {
                    format!("{points} register values from {} to {}", time(first.at), time(last.at))
                };
                format!(
                    "{what} {} about 1000 times {size} than the transaction's other registers ({} against {} at {}): \
                     probably {guess}",
                    if *points == 1 { "is" } else { "are" },
                    wh(first.wh),
                    wh(reference.wh),
                    time(reference.at),
                )
            }
            Anomaly::RegisterBackwards { from, to } => format!(
                "The register went backwards by {}, from {} ({} at {}) to {} ({} at {})",
                wh(from.wh - to.wh),
                wh(from.wh),
                source(from.source),
                time(from.at),
                wh(to.wh),
                source(to.source),
                time(to.at),
            ),
            Anomaly::ImpossibleJump { from, to, max_rise_wh, max_power } => format!(
                "The register rose by {} in {}, from {} at {} to {} at {}: more than the {} {} can deliver in that time",
                wh(to.wh - from.wh),
                duration((to.at - from.at).num_seconds()),
                wh(from.wh),
                time(from.at),
                wh(to.wh),
                time(to.at),
                wh(*max_rise_wh),
                connector(max_power),
            ),
            Anomaly::PowerAboveMaximum { from, to, readings, peak_w, max_power } => format!(
                "{readings} power reading{} from {} to {} above {} (peak {} W)",
                if *readings == 1 { "" } else { "s" },
                time(*from),
                time(*to),
                if max_power.configured {
                    format!("the connector's maximum of {} W", round(max_power.watts))
                } else {
                    format!("{} W, the most any connector delivers (no maximum configured)", round(max_power.watts))
                },
                round(*peak_w),
            ),
            Anomaly::MissingMeterStop { stopped_at, last_register: Some(last) } => format!(
                "The transaction ended at {} with no meter stop; the last register value was {} ({} at {}, {} before \
                 the end), and the energy after it is unknown",
                time(*stopped_at),
                wh(last.wh),
                source(last.source),
                time(last.at),
                duration((*stopped_at - last.at).num_seconds()),
            ),
            Anomaly::MissingMeterStop { stopped_at, last_register: None } => format!(
                "The transaction ended at {} with no meter stop and no register value at all: its energy is unknown",
                time(*stopped_at),
            ),
            Anomaly::ReadingGap { from, to, length_s, interval_s } => format!(
                "No periodic reading from {} to {} ({}), although one was due every {}",
                time(*from),
                time(*to),
                duration(*length_s),
                duration(i64::from(*interval_s)),
            ),
            Anomaly::ReadingsAfterStop { stopped_at, first, last, readings } => format!(
                "{} timed after the transaction's stop at {} (from {} to {})",
                count(*readings),
                time(*stopped_at),
                time(*first),
                time(*last),
            ),
            Anomaly::ReadingsBeforeStart { started_at, first, last, readings } => format!(
                "{} timed before the transaction's start at {} (from {} to {})",
                count(*readings),
                time(*started_at),
                time(*first),
                time(*last),
            ),
        }
    }
}

/// The anomalies of a transaction's readings, ordered by `Anomaly::at` (those beginning at the
/// same instant in the order of `CODES`, then as found). `points` may come in any order: they
/// are judged in time order, readings of the same instant in the order given. Non-finite values
/// are ignored.
pub fn anomalies(tx: &Transaction, points: &[MeterPoint], inputs: &Inputs) -> Vec<Anomaly> {
    let mut sorted: Vec<&MeterPoint> = points.iter().filter(|p| p.value.is_finite()).collect();
    sorted.sort_by_key(|p| p.at);
    let max_power = match inputs.max_power_w.filter(|w| w.is_finite() && *w > 0.0) {
        Some(watts) => MaxPower { watts, configured: true },
        None => MaxPower { watts: DEFAULT_MAX_POWER_W, configured: false },
    };
    let series = registers::series(tx, &sorted);
    let mut found = registers::check(&series, max_power);
    found.extend(power_above_maximum(&sorted, max_power));
    found.extend(missing_meter_stop(tx, &series));
    found.extend(gaps(tx, &sorted, inputs.sample_interval_s));
    found.extend(outside(tx, &sorted));
    found.sort_by_key(|a| (a.at(), CODES.iter().position(|code| *code == a.code())));
    found
}

/// Runs of consecutive reporting moments at which some Power.Active.Import reading (a phase's
/// or the total; a phase never carries more than the total) exceeds the maximum with its margin.
fn power_above_maximum(sorted: &[&MeterPoint], max_power: MaxPower) -> Vec<Anomaly> {
    let limit = max_power.watts * POWER_MARGIN;
    let mut found = Vec::new();
    // The open run: its first and last moment, readings over the limit, and the peak.
    let mut run: Option<(Timestamp, Timestamp, usize, f64)> = None;
    let mut close = |run: &mut Option<(Timestamp, Timestamp, usize, f64)>| {
        if let Some((from, to, readings, peak_w)) = run.take() {
            found.push(Anomaly::PowerAboveMaximum { from, to, readings, peak_w, max_power });
        }
    };
    let powers: Vec<&MeterPoint> =
        sorted.iter().copied().filter(|p| p.measurand == Measurand::PowerActiveImport).collect();
    for moment in powers.chunk_by(|a, b| a.at == b.at) {
        let over = moment.iter().filter(|p| p.value > limit).count();
        if over == 0 {
            close(&mut run);
            continue;
        }
        let peak = moment.iter().map(|p| p.value).fold(f64::MIN, f64::max);
        let at = moment[0].at;
        run = Some(match run {
            Some((from, _, readings, top)) => (from, at, readings + over, top.max(peak)),
            None => (at, at, over, peak),
        });
    }
    close(&mut run);
    found
}

/// An ended transaction with neither a meter stop nor a Transaction.End register reading.
fn missing_meter_stop(tx: &Transaction, series: &[RegisterPoint]) -> Option<Anomaly> {
    let stopped_at = tx.stopped_at?;
    let has_stop = tx.meter_stop_wh.is_some_and(f64::is_finite)
        || series.iter().any(|r| r.source == RegisterSource::Reading(ReadingContext::TransactionEnd));
    if has_stop {
        return None;
    }
    let last_register = series.iter().rev().find(|r| r.at <= stopped_at).copied();
    Some(Anomaly::MissingMeterStop { stopped_at, last_register })
}

/// Stretches without Sample.Periodic readings longer than twice the interval plus
/// `GAP_TOLERANCE_S`, counting the start and the stop as the ends of the sequence. Readings
/// outside the transaction fill no gap; a running transaction's stretch since its last reading
/// is not judged (there is no "now" here).
fn gaps(tx: &Transaction, sorted: &[&MeterPoint], interval_s: Option<u32>) -> Vec<Anomaly> {
    let Some(interval_s) = interval_s.filter(|i| *i > 0) else {
        return Vec::new();
    };
    let limit = 2 * i64::from(interval_s) + GAP_TOLERANCE_S;
    let within = |at: Timestamp| tx.started_at.is_none_or(|s| at >= s) && tx.stopped_at.is_none_or(|s| at <= s);
    let periodic =
        sorted.iter().filter(|p| p.context == ReadingContext::SamplePeriodic).map(|p| p.at).filter(|at| within(*at));
    let mut found = Vec::new();
    let mut previous = tx.started_at;
    for at in periodic.chain(tx.stopped_at) {
        if let Some(from) = previous {
            let length = at - from;
            // Whole milliseconds compared, so that a gap a fraction of a second past the limit
            // counts, and one exactly at it does not.
            if length.num_milliseconds() > limit * 1000 {
                found.push(Anomaly::ReadingGap { from, to: at, length_s: length.num_seconds(), interval_s });
            }
        }
        previous = Some(at);
    }
    found
}

/// The readings timed before the start and after the stop, beyond `CLOCK_SKEW_TOLERANCE_S`, one
/// anomaly for each side.
fn outside(tx: &Transaction, sorted: &[&MeterPoint]) -> Vec<Anomaly> {
    let tolerance = chrono::Duration::seconds(CLOCK_SKEW_TOLERANCE_S);
    let mut found = Vec::new();
    if let Some(started_at) = tx.started_at {
        let before = &sorted[..sorted.partition_point(|p| p.at < started_at - tolerance)];
        if let (Some(first), Some(last)) = (before.first(), before.last()) {
            let readings = before.len();
            found.push(Anomaly::ReadingsBeforeStart { started_at, first: first.at, last: last.at, readings });
        }
    }
    if let Some(stopped_at) = tx.stopped_at {
        let after = &sorted[sorted.partition_point(|p| p.at <= stopped_at + tolerance)..];
        if let (Some(first), Some(last)) = (after.first(), after.last()) {
            let readings = after.len();
            found.push(Anomaly::ReadingsAfterStop { stopped_at, first: first.at, last: last.at, readings });
        }
    }
    found
}

fn source(source: RegisterSource) -> String {
    match source {
        RegisterSource::MeterStart => "meter start".to_string(),
        RegisterSource::MeterStop => "meter stop".to_string(),
        RegisterSource::Reading(context) => format!("{} reading", context.as_str()),
    }
}

fn connector(max_power: &MaxPower) -> String {
    if max_power.configured {
        format!("a {} W connector", round(max_power.watts))
    } else {
        format!("any connector ({} W; no maximum configured)", round(max_power.watts))
    }
}

/// A value rounded to a thousandth, so that normalisation's float error does not show.
fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

fn wh(value: f64) -> String {
    format!("{} Wh", round(value))
}

fn count(readings: usize) -> String {
    format!("{readings} reading{}", if readings == 1 { "" } else { "s" })
}

fn time(at: Timestamp) -> String {
    crate::clock::format_timestamp(&at)
}

/// Seconds as hours, minutes and seconds, leaving out the zero parts.
fn duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let parts: Vec<String> = [(h, "h"), (m, "min"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n != 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 s".to_string()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests;
