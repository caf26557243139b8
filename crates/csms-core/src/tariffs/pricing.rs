//! A session priced by a tariff, OCPI 2.2.1's way.
//!
//! The session is a timeline of its readings: energy delivered so far (from the register) and
//! the power and current at each moment. It is cut into pieces wherever something a restriction
//! looks at can change: a local midnight or an element's start or end time (in the station's time
//! zone, so a DST change moves them as it moves the clock), an element's duration bound, and the
//! instant the energy crosses an element's kWh bound (interpolated within a stretch between two
//! readings, where energy flows evenly as far as anyone can know). Each piece is judged at its
//! start: for ENERGY, TIME and PARKING_TIME the first element whose restrictions hold and that has
//! a component of that dimension prices the piece's energy, its time if charging, its time if
//! not. FLAT is priced once, by the element that holds as the session begins.
//!
//! A stretch between two readings is charging time (TIME) when its mean power, from the register's
//! rise, or the power reported as it began is above `CHARGING_THRESHOLD_W`; otherwise it is
//! parking time (PARKING_TIME): connected, not charging.
//!
//! Step sizes apply to a dimension's total at the end: it is rounded up to whole steps of the last
//! component that priced the dimension, and the extra is billed at that component's price (OCPI
//! 2.2.1). Every amount is exact until each dimension's sum is rounded to the currency's minor unit
//! (`round_money`); the total is the sum of those, then held between `min_price` and `max_price`.

use super::{round_money, Dimension, Element, Price, Restrictions, Tariff};
use crate::sessions::CHARGING_THRESHOLD_W;
use crate::Timestamp;
use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::collections::BTreeSet;

const MS_PER_HOUR: i64 = 3_600_000;

/// A register that rose by less than this over a stretch did not charge: meters round to the
/// watt-hour (as `sessions::charging_time` decides).
const REGISTER_RISE_WH: Decimal = Decimal::ONE;

/// A moment of the session's readings, in base units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: Timestamp,
    pub register_wh: Option<Decimal>,
    pub power_w: Option<Decimal>,
    pub current_a: Option<Decimal>,
}

/// What is priced: the session's span, its energy as settled, and its readings in time order.
#[derive(Debug, Clone, Copy)]
pub struct Usage<'a> {
    pub started_at: Timestamp,
    pub stopped_at: Timestamp,
    /// The register at the start; without it the first register reading stands for it.
    pub meter_start_wh: Option<Decimal>,
    /// The energy billed (the transaction's settled energy): the readings only say when it flowed.
    pub energy_wh: Decimal,
    pub points: &'a [Point],
}

/// One component's share of the bill, exact.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub dimension: Dimension,
    /// Index of the element in the tariff, and of the component in the element.
    pub element: usize,
    pub component: usize,
    /// Wh for ENERGY, milliseconds for TIME and PARKING_TIME, 1 for FLAT; including the step
    /// size's rounding up, if this component was the dimension's last.
    pub volume: Decimal,
    pub price: Decimal,
    pub vat: Decimal,
    pub excl_vat: Decimal,
    pub incl_vat: Decimal,
}

/// A stretch of the session during which the same elements applied and it either charged or
/// not: OCPI's `ChargingPeriod`.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub start: Timestamp,
    pub energy_wh: Decimal,
    pub charging_ms: i64,
    pub parking_ms: i64,
    /// The highest power seen in it.
    pub max_power_w: Option<Decimal>,
}

/// Which bound held the total, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    MinPrice,
    MaxPrice,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub lines: Vec<Line>,
    /// Each dimension's amount, rounded to the currency, in `Dimension::ALL` order (only those
    /// with a line).
    pub dimensions: Vec<(Dimension, Price)>,
    pub total: Price,
    pub bound: Option<Bound>,
    pub periods: Vec<Period>,
    pub energy_wh: Decimal,
    pub charging_ms: i64,
    pub parking_ms: i64,
    pub peak_power_w: Option<Decimal>,
}

impl Bill {
    /// The total including tax (`incl_vat` is always set on a bill's total).
    pub fn total_incl_vat(&self) -> Decimal {
        self.total.incl_vat.unwrap_or(self.total.excl_vat)
    }
}

/// A moment of the timeline: milliseconds, energy so far if known, power, current.
type Node = (i64, Option<Decimal>, Option<Decimal>, Option<Decimal>);

/// The (element, component) pricing ENERGY, TIME and PARKING_TIME in a piece.
type Active = [Option<(usize, usize)>; 3];

/// A stretch between two moments of the timeline.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    from: i64,
    to: i64,
    energy_from: Decimal,
    energy_to: Decimal,
    power_w: Decimal,
    power_reported: bool,
    current_a: Option<Decimal>,
    charging: bool,
}

/// What the restrictions see at the start of a piece.
struct State {
    local: chrono::NaiveDateTime,
    energy_wh: Decimal,
    elapsed_ms: i64,
    power_w: Decimal,
    current_a: Option<Decimal>,
}

/// Prices `usage` with `tariff` in the station's time zone `tz`.
pub fn price(tariff: &Tariff, usage: &Usage, tz: Tz) -> Bill {
    let start = usage.started_at.timestamp_millis();
    let stretches = timeline(usage);
    let cuts = cut_points(tariff, usage, tz);
    let mut acc = Accumulator::default();
    for s in &stretches {
        for (from, to, e_from, e_to) in pieces(s, &cuts, &tariff.elements) {
            let state = State {
                local: local(from, tz),
                energy_wh: e_from,
                elapsed_ms: from - start,
                power_w: s.power_w,
                current_a: s.current_a,
            };
            let energy = e_to - e_from;
            let ms = to - from;
            if ms == 0 && energy.is_zero() {
                continue;
            }
            let active = [Dimension::Energy, Dimension::Time, Dimension::ParkingTime]
                .map(|d| applicable(&tariff.elements, d, &state));
            acc.add(Dimension::Energy, active[0], energy);
            let (time_dim, time_active) =
                if s.charging { (Dimension::Time, active[1]) } else { (Dimension::ParkingTime, active[2]) };
            acc.add(time_dim, time_active, Decimal::from(ms));
            acc.period(from, active, s, energy, ms);
        }
    }
    let first = stretches.first();
    let at_start = State {
        local: local(start, tz),
        energy_wh: Decimal::ZERO,
        elapsed_ms: 0,
        power_w: first.map_or(Decimal::ZERO, |s| s.power_w),
        current_a: first.and_then(|s| s.current_a),
    };
    acc.add(Dimension::Flat, applicable(&tariff.elements, Dimension::Flat, &at_start), Decimal::ONE);
    let peak_power_w = usage
        .points
        .iter()
        .filter_map(|p| p.power_w)
        .max()
        .or_else(|| stretches.iter().filter(|s| s.to > s.from).map(|s| s.power_w).max());
    settle(tariff, acc, mwh(usage.energy_wh), peak_power_w)
}

/// The session's stretches between its readings, energy counted from the start and made to
/// rise only, from nothing to the settled energy; a reading without a register takes the energy
/// interpolated between its neighbours.
fn timeline(usage: &Usage) -> Vec<Stretch> {
    let start = usage.started_at.timestamp_millis();
    let stop = usage.stopped_at.timestamp_millis().max(start);
    let inside: Vec<&Point> =
        usage.points.iter().filter(|p| (start..=stop).contains(&p.at.timestamp_millis())).collect();
    let total = mwh(usage.energy_wh);
    let base = usage.meter_start_wh.or_else(|| inside.iter().find_map(|p| p.register_wh)).unwrap_or_default();
    let mut nodes: Vec<Node> = Vec::with_capacity(inside.len() + 2);
    nodes.push((start, Some(Decimal::ZERO), None, None));
    for p in inside {
        let energy = p.register_wh.map(|r| mwh(r - base).clamp(Decimal::ZERO, total));
        nodes.push((p.at.timestamp_millis(), energy, p.power_w, p.current_a));
    }
    nodes.push((stop, Some(total), None, None));
    let mut energies: Vec<Decimal> = Vec::with_capacity(nodes.len());
    let mut highest = Decimal::ZERO;
    for i in 0..nodes.len() {
        let e = match nodes[i].1 {
            Some(e) => e,
            None => mwh(interpolate(&nodes, i)),
        };
        highest = highest.max(e);
        energies.push(highest);
    }
    let mut stretches = Vec::with_capacity(nodes.len());
    for i in 0..nodes.len() - 1 {
        let (from, _, power, current) = nodes[i];
        let to = nodes[i + 1].0;
        let (e_from, e_to) = (energies[i], energies[i + 1]);
        let rise = e_to - e_from;
        let derived =
            if to > from { rise * Decimal::from(MS_PER_HOUR) / Decimal::from(to - from) } else { Decimal::ZERO };
        // The register is the meter's evidence for the whole stretch, the power only for its
        // first instant: a stretch charged when its mean power (from the register) or the power
        // reported as it began was above the threshold.
        let threshold = Decimal::try_from(CHARGING_THRESHOLD_W).unwrap_or(Decimal::ONE_HUNDRED);
        let charging = (derived > threshold && rise >= REGISTER_RISE_WH) || power.is_some_and(|p| p > threshold);
        stretches.push(Stretch {
            from,
            to,
            energy_from: e_from,
            energy_to: e_to,
            power_w: power.unwrap_or(derived),
            power_reported: power.is_some(),
            current_a: current,
            charging,
        });
    }
    stretches
}

/// Energy to the milliwatt-hour, the resolution of a bill's volumes: an interpolated amount is a
/// quotient that a decimal only approximates, and the sum of a dimension's approximations must
/// not step over a whole step size.
fn mwh(wh: Decimal) -> Decimal {
    wh.round_dp(3)
}

/// The energy at node `i`, which has none, by time between the nearest nodes that have.
fn interpolate(nodes: &[Node], i: usize) -> Decimal {
    let before = nodes[..i].iter().rev().find_map(|n| n.1.map(|e| (n.0, e)));
    let after = nodes[i + 1..].iter().find_map(|n| n.1.map(|e| (n.0, e)));
    match (before, after) {
        (Some((t0, e0)), Some((t1, e1))) if t1 > t0 => {
            e0 + (e1 - e0) * Decimal::from(nodes[i].0 - t0) / Decimal::from(t1 - t0)
        }
        (Some((_, e0)), _) => e0,
        _ => Decimal::ZERO,
    }
}

fn local(ms: i64, tz: Tz) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&tz).naive_local()
}

/// The instant a local date and time names: the earlier of two in the hour a DST change repeats,
/// and the first instant after the hour it skips.
fn instant(date: NaiveDate, time: NaiveTime, tz: Tz) -> Option<i64> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => Some(t.timestamp_millis()),
        chrono::LocalResult::None => {
            // Skipped: step forward a minute at a time to the end of the gap (at most a day).
            (1..=1440).find_map(|m| {
                tz.from_local_datetime(&(naive + chrono::Duration::minutes(m))).earliest().map(|t| t.timestamp_millis())
            })
        }
    }
}

/// Every instant within the session at which a restriction on time of day, date, weekday or
/// duration may change its verdict.
fn cut_points(tariff: &Tariff, usage: &Usage, tz: Tz) -> Vec<i64> {
    let start = usage.started_at.timestamp_millis();
    let stop = usage.stopped_at.timestamp_millis();
    let mut times: BTreeSet<NaiveTime> = BTreeSet::from([NaiveTime::MIN]);
    let mut cuts = BTreeSet::new();
    for e in &tariff.elements {
        let r = &e.restrictions;
        times.extend(r.start_time.iter().chain(r.end_time.iter()).copied());
        for d in r.min_duration.iter().chain(r.max_duration.iter()) {
            cuts.insert(start + d * 1000);
        }
    }
    let first = local(start, tz).date().pred_opt().unwrap_or(NaiveDate::MIN);
    let last = local(stop, tz).date().succ_opt().unwrap_or(NaiveDate::MAX);
    let mut day = first;
    while day <= last {
        cuts.extend(times.iter().filter_map(|&t| instant(day, t, tz)));
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    cuts.into_iter().filter(|&c| c > start && c < stop).collect()
}

/// A stretch cut at the time cuts within it and where its energy crosses an element's kWh
/// bound: (from, to, energy at from, energy at to).
fn pieces(s: &Stretch, cuts: &[i64], elements: &[Element]) -> Vec<(i64, i64, Decimal, Decimal)> {
    let span = Decimal::from(s.to - s.from);
    let rise = s.energy_to - s.energy_from;
    let mut at: BTreeSet<(i64, Decimal)> = BTreeSet::new();
    for &c in cuts.iter().filter(|&&c| c > s.from && c < s.to) {
        at.insert((c, mwh(s.energy_from + rise * Decimal::from(c - s.from) / span)));
    }
    if rise > Decimal::ZERO {
        let bounds = elements.iter().flat_map(|e| [e.restrictions.min_kwh, e.restrictions.max_kwh]).flatten();
        for kwh in bounds {
            let wh = kwh * Decimal::ONE_THOUSAND;
            if wh > s.energy_from && wh < s.energy_to {
                // The first whole millisecond at which the bound is reached.
                let offset = ((wh - s.energy_from) * span / rise).ceil().to_i64().unwrap_or(0);
                let t = s.from + offset;
                if t > s.from && t < s.to {
                    at.insert((t, wh));
                }
            }
        }
    }
    let mut out = Vec::with_capacity(at.len() + 1);
    let (mut from, mut e_from) = (s.from, s.energy_from);
    for (t, e) in at {
        if t > from {
            out.push((from, t, e_from, e.max(e_from)));
            (from, e_from) = (t, e.max(e_from));
        }
    }
    out.push((from, s.to, e_from, s.energy_to.max(e_from)));
    out
}

/// The first element that prices `dimension` and whose restrictions hold, with the index of its
/// first component of that dimension.
fn applicable(elements: &[Element], dimension: Dimension, state: &State) -> Option<(usize, usize)> {
    elements.iter().enumerate().find_map(|(i, e)| {
        let c = e.price_components.iter().position(|c| c.dimension == dimension)?;
        holds(&e.restrictions, state).then_some((i, c))
    })
}

fn within(value: Decimal, min: Option<Decimal>, max: Option<Decimal>) -> bool {
    min.is_none_or(|m| value >= m) && max.is_none_or(|m| value < m)
}

fn holds(r: &Restrictions, s: &State) -> bool {
    let time = s.local.time();
    let time_ok = match (r.start_time, r.end_time) {
        (Some(a), Some(b)) if a < b => time >= a && time < b,
        (Some(a), Some(b)) if a > b => time >= a || time < b,
        (Some(_), Some(_)) => true,
        (Some(a), None) => time >= a,
        (None, Some(b)) => time < b,
        (None, None) => true,
    };
    let date = s.local.date();
    let date_ok = r.start_date.is_none_or(|d| date >= d) && r.end_date.is_none_or(|d| date < d);
    let weekday_ok = r.day_of_week.is_empty() || r.day_of_week.contains(&date.weekday());
    let kwh_ok = within(s.energy_wh / Decimal::ONE_THOUSAND, r.min_kwh, r.max_kwh);
    let power_ok = within(s.power_w / Decimal::ONE_THOUSAND, r.min_power, r.max_power);
    let current_ok = match s.current_a {
        Some(a) => within(a, r.min_current, r.max_current),
        None => r.min_current.is_none() && r.max_current.is_none(),
    };
    let secs = Decimal::from(s.elapsed_ms) / Decimal::ONE_THOUSAND;
    let duration_ok = within(secs, r.min_duration.map(Decimal::from), r.max_duration.map(Decimal::from));
    time_ok && date_ok && weekday_ok && kwh_ok && power_ok && current_ok && duration_ok && r.reservation.is_none()
}

#[derive(Default)]
struct Accumulator {
    /// (dimension, element, component) → volume, in order of first use.
    volumes: Vec<((Dimension, usize, usize), Decimal)>,
    /// Per dimension, the component that priced it last.
    last: Vec<(Dimension, (usize, usize))>,
    /// Each period with its tariff element, whether it charged, and whether its `max_power_w`
    /// was reported (a reported power outranks one derived from the register, as for the peak).
    periods: Vec<(Period, Active, bool, bool)>,
    charging_ms: i64,
    parking_ms: i64,
}

impl Accumulator {
    fn add(&mut self, dimension: Dimension, active: Option<(usize, usize)>, volume: Decimal) {
        let Some((e, c)) = active else { return };
        if volume.is_zero() && dimension != Dimension::Flat {
            return;
        }
        match self.volumes.iter_mut().find(|(k, _)| *k == (dimension, e, c)) {
            Some((_, v)) => *v += volume,
            None => self.volumes.push(((dimension, e, c), volume)),
        }
        match self.last.iter_mut().find(|(d, _)| *d == dimension) {
            Some((_, l)) => *l = (e, c),
            None => self.last.push((dimension, (e, c))),
        }
    }

    fn period(&mut self, from: i64, active: Active, s: &Stretch, energy: Decimal, ms: i64) {
        let (charging, parking) = if s.charging { (ms, 0) } else { (0, ms) };
        self.charging_ms += charging;
        self.parking_ms += parking;
        let power = s.power_reported.then_some(s.power_w).or((ms > 0).then_some(s.power_w));
        if let Some((p, a, c, reported)) = self.periods.last_mut() {
            // A moment without length (two readings at one instant) starts no period.
            if (*a == active && *c == s.charging) || ms == 0 {
                p.energy_wh += energy;
                p.charging_ms += charging;
                p.parking_ms += parking;
                match (*reported, s.power_reported) {
                    (true, false) => {}
                    (false, true) if power.is_some() => (p.max_power_w, *reported) = (power, true),
                    _ => p.max_power_w = p.max_power_w.max(power),
                }
                return;
            }
        }
        let start = chrono::DateTime::from_timestamp_millis(from).unwrap_or_default();
        let period =
            Period { start, energy_wh: energy, charging_ms: charging, parking_ms: parking, max_power_w: power };
        self.periods.push((period, active, s.charging, s.power_reported));
    }
}

/// Step sizes, tax, rounding and the bounds: the accumulated volumes made a bill.
fn settle(tariff: &Tariff, mut acc: Accumulator, energy_wh: Decimal, peak_power_w: Option<Decimal>) -> Bill {
    for (dimension, (e, c)) in acc.last.clone() {
        if dimension == Dimension::Flat {
            continue;
        }
        let unit = if dimension == Dimension::Energy { Decimal::ONE } else { Decimal::ONE_THOUSAND };
        let step = Decimal::from(tariff.elements[e].price_components[c].step_size) * unit;
        let total: Decimal = acc.volumes.iter().filter(|(k, _)| k.0 == dimension).map(|(_, v)| *v).sum();
        let extra = (total / step).ceil() * step - total;
        if let Some((_, v)) = acc.volumes.iter_mut().find(|(k, _)| *k == (dimension, e, c)) {
            *v += extra;
        }
    }
    let hundred = Decimal::ONE_HUNDRED;
    let lines: Vec<Line> = acc
        .volumes
        .iter()
        .map(|&((dimension, element, component), volume)| {
            let pc = &tariff.elements[element].price_components[component];
            let vat = pc.vat.or(tariff.tax_rate).unwrap_or_default();
            let units = match dimension {
                Dimension::Energy => volume / Decimal::ONE_THOUSAND,
                Dimension::Time | Dimension::ParkingTime => volume / Decimal::from(MS_PER_HOUR),
                Dimension::Flat => volume,
            };
            let amount = units * pc.price;
            let (excl_vat, incl_vat) = if tariff.tax_included {
                (amount * hundred / (hundred + vat), amount)
            } else {
                (amount, amount * (hundred + vat) / hundred)
            };
            Line { dimension, element, component, volume, price: pc.price, vat, excl_vat, incl_vat }
        })
        .collect();
    let currency = tariff.currency.as_str();
    let dimensions: Vec<(Dimension, Price)> = Dimension::ALL
        .into_iter()
        .filter(|d| lines.iter().any(|l| l.dimension == *d))
        .map(|d| {
            let of = lines.iter().filter(|l| l.dimension == d);
            let excl: Decimal = of.clone().map(|l| l.excl_vat).sum();
            let incl: Decimal = of.map(|l| l.incl_vat).sum();
            (d, Price { excl_vat: round_money(excl, currency), incl_vat: Some(round_money(incl, currency)) })
        })
        .collect();
    let excl: Decimal = dimensions.iter().map(|(_, p)| p.excl_vat).sum();
    let incl: Decimal = dimensions.iter().map(|(_, p)| p.incl_vat.unwrap_or(p.excl_vat)).sum();
    let (total, bound) = bounded(tariff, Price { excl_vat: excl, incl_vat: Some(incl) });
    Bill {
        lines,
        dimensions,
        total,
        bound,
        periods: acc.periods.into_iter().map(|(p, ..)| p).collect(),
        energy_wh,
        charging_ms: acc.charging_ms,
        parking_ms: acc.parking_ms,
        peak_power_w,
    }
}

/// The total held between the tariff's bounds, compared before tax. A bound without its amount
/// after tax takes the session's own ratio of after to before tax (its mix of rates), or the
/// tariff's rate when nothing was billed.
fn bounded(tariff: &Tariff, total: Price) -> (Price, Option<Bound>) {
    let bound = match (tariff.min_price, tariff.max_price) {
        (Some(min), _) if total.excl_vat < min.excl_vat => (min, Bound::MinPrice),
        (_, Some(max)) if total.excl_vat > max.excl_vat => (max, Bound::MaxPrice),
        _ => return (total, None),
    };
    let (price, which) = bound;
    let incl = price.incl_vat.unwrap_or_else(|| {
        let ratio = match total.incl_vat {
            Some(incl) if !total.excl_vat.is_zero() => incl / total.excl_vat,
            _ => (Decimal::ONE_HUNDRED + tariff.tax_rate.unwrap_or_default()) / Decimal::ONE_HUNDRED,
        };
        round_money(price.excl_vat * ratio, &tariff.currency)
    });
    (Price { excl_vat: price.excl_vat, incl_vat: Some(incl) }, Some(which))
}
