//! Energy per period bucket (hour, day or month, in UTC) from a transaction's energy register:
//! the rise between two consecutive readings is spread over the time between them, so a session
//! that crosses a boundary is split by time (linear interpolation), not given whole to the bucket
//! of its last reading. Pure: the store reads the registers, the API streams the figures.

use chrono::{DateTime, Datelike, TimeZone, Utc};

/// Milliseconds since the Unix epoch, as the availability report counts them.
pub type Millis = i64;

const HOUR_MS: Millis = 3_600_000;
const DAY_MS: Millis = 24 * HOUR_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    Month,
}

impl Granularity {
    pub const ALL: [Granularity; 3] = [Granularity::Hour, Granularity::Day, Granularity::Month];

    pub fn parse(text: &str) -> Option<Granularity> {
        Granularity::ALL.into_iter().find(|g| g.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }

    /// The start of the bucket that holds `t`.
    pub fn floor(self, t: Millis) -> Millis {
        match self {
            Granularity::Hour => t.div_euclid(HOUR_MS) * HOUR_MS,
            Granularity::Day => t.div_euclid(DAY_MS) * DAY_MS,
            Granularity::Month => {
                let Some(at) = DateTime::<Utc>::from_timestamp_millis(t) else { return t };
                month_start(at.year(), at.month()).unwrap_or(t)
            }
        }
    }

    /// The start of the bucket after the one that starts at `start` (a bucket's start).
    pub fn next(self, start: Millis) -> Millis {
        match self {
            Granularity::Hour => start + HOUR_MS,
            Granularity::Day => start + DAY_MS,
            Granularity::Month => {
                let Some(at) = DateTime::<Utc>::from_timestamp_millis(start) else { return start + 31 * DAY_MS };
                let (year, month) = if at.month() == 12 { (at.year() + 1, 1) } else { (at.year(), at.month() + 1) };
                month_start(year, month).unwrap_or(start + 31 * DAY_MS)
            }
        }
    }
}

fn month_start(year: i32, month: u32) -> Option<Millis> {
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single().map(|t| t.timestamp_millis())
}

/// The buckets of a period: whole buckets from the one that holds `from` to the one that holds
/// the last instant before `to`, so every bucket is complete and the period is widened to them.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    /// The buckets' starts and, last, the end of the last one; empty for an empty period.
    bounds: Vec<Millis>,
}

impl Buckets {
    /// The buckets of [from, to); none if `to` is at or before `from`.
    pub fn new(from: Millis, to: Millis, granularity: Granularity) -> Buckets {
        if to <= from {
            return Buckets { bounds: Vec::new() };
        }
        let mut bounds = vec![granularity.floor(from)];
        while bounds.last().is_some_and(|&b| b < to) {
            let last = bounds[bounds.len() - 1];
            bounds.push(granularity.next(last));
        }
        Buckets { bounds }
    }

    pub fn len(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bucket `i`'s [start, end).
    pub fn bucket(&self, i: usize) -> (Millis, Millis) {
        (self.bounds[i], self.bounds[i + 1])
    }

    /// The widened period, [first start, last end); `None` without buckets.
    pub fn period(&self) -> Option<(Millis, Millis)> {
        Some((*self.bounds.first()?, *self.bounds.last()?)).filter(|_| !self.is_empty())
    }

    /// Adds to `energy` (one figure per bucket) the rises of a register read at `points` (time,
    /// Wh), in time order. A rise is spread over the buckets its stretch [t0, t1) covers in
    /// proportion to the time in each; two readings at one instant give their rise to the bucket
    /// of that instant. A fall (a meter reset or replaced) adds nothing: the integrity checks
    /// name it, and a negative figure would only hide it. What falls outside the period is left
    /// out.
    pub fn spread(&self, points: &[(Millis, f64)], energy: &mut [f64]) {
        let Some((first, last)) = self.period() else { return };
        for pair in points.windows(2) {
            let ((t0, e0), (t1, e1)) = (pair[0], pair[1]);
            let rise = e1 - e0;
            if !(rise > 0.0 && rise.is_finite()) || t1 < t0 || t1 < first || t0 >= last {
                continue;
            }
            // The bucket that holds t0 (or the first one, if t0 is before the period).
            let mut i = self.bounds.partition_point(|&b| b <= t0).saturating_sub(1);
            if t1 == t0 {
                if let Some(slot) = energy.get_mut(i) {
                    *slot += rise;
                }
                continue;
            }
            let span = (t1 - t0) as f64;
            while i < self.len() {
                let (start, end) = self.bucket(i);
                if start >= t1 {
                    break;
                }
                let overlap = t1.min(end) - t0.max(start);
                if overlap > 0 {
                    if let Some(slot) = energy.get_mut(i) {
                        *slot += rise * overlap as f64 / span;
                    }
                }
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Millis {
        chrono::DateTime::parse_from_rfc3339(text).expect("time").timestamp_millis()
    }

    #[test]
    fn buckets_are_whole_and_months_follow_the_calendar() {
        let cases = [
            ("2026-01-31T10:30:00Z", "2026-01-31T12:00:00Z", Granularity::Hour, 2, "2026-01-31T10:00:00Z"),
            ("2026-01-31T10:30:00Z", "2026-01-31T12:00:01Z", Granularity::Hour, 3, "2026-01-31T10:00:00Z"),
            ("2026-01-31T10:30:00Z", "2026-02-02T00:00:00Z", Granularity::Day, 2, "2026-01-31T00:00:00Z"),
            ("2026-01-15T00:00:00Z", "2026-03-01T00:00:00Z", Granularity::Month, 2, "2026-01-01T00:00:00Z"),
            ("2025-12-15T00:00:00Z", "2026-01-02T00:00:00Z", Granularity::Month, 2, "2025-12-01T00:00:00Z"),
            ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", Granularity::Day, 0, ""),
        ];
        for (from, to, granularity, n, first) in cases {
            let buckets = Buckets::new(at(from), at(to), granularity);
            assert_eq!(buckets.len(), n, "{from} {to} {granularity:?}");
            if n > 0 {
                assert_eq!(buckets.bucket(0).0, at(first));
            }
        }
        let february = Buckets::new(at("2028-02-10T00:00:00Z"), at("2028-02-11T00:00:00Z"), Granularity::Month);
        assert_eq!(february.bucket(0), (at("2028-02-01T00:00:00Z"), at("2028-03-01T00:00:00Z")), "a leap year");
    }

    #[test]
    fn a_rise_is_split_by_time_across_boundaries() {
        let buckets = Buckets::new(at("2026-01-01T10:00:00Z"), at("2026-01-01T13:00:00Z"), Granularity::Hour);
        // (points, energy per bucket 10:00, 11:00, 12:00)
        type Case = (Vec<(&'static str, f64)>, [f64; 3]);
        let cases: Vec<Case> = vec![
            // 10:30–11:30, 1000 Wh: half in each hour.
            (vec![("2026-01-01T10:30:00Z", 0.0), ("2026-01-01T11:30:00Z", 1000.0)], [500.0, 500.0, 0.0]),
            // 10:45–12:15, 900 Wh over 90 minutes: 150, 600, 150.
            (vec![("2026-01-01T10:45:00Z", 100.0), ("2026-01-01T12:15:00Z", 1000.0)], [150.0, 600.0, 150.0]),
            // Started before the period: only the part inside counts.
            (vec![("2026-01-01T09:00:00Z", 0.0), ("2026-01-01T11:00:00Z", 2000.0)], [1000.0, 0.0, 0.0]),
            // Two readings at one instant, and a fall that adds nothing.
            (
                vec![
                    ("2026-01-01T11:00:00Z", 0.0),
                    ("2026-01-01T11:00:00Z", 10.0),
                    ("2026-01-01T11:10:00Z", 5.0),
                    ("2026-01-01T11:20:00Z", 65.0),
                ],
                [0.0, 70.0, 0.0],
            ),
            // Entirely after the period.
            (vec![("2026-01-01T13:00:00Z", 0.0), ("2026-01-01T14:00:00Z", 10.0)], [0.0, 0.0, 0.0]),
        ];
        for (points, expected) in cases {
            let points: Vec<(Millis, f64)> = points.iter().map(|(t, e)| (at(t), *e)).collect();
            let mut energy = vec![0.0; buckets.len()];
            buckets.spread(&points, &mut energy);
            for (got, want) in energy.iter().zip(expected) {
                assert!((got - want).abs() < 1e-9, "{points:?}: {energy:?} ≠ {expected:?}");
            }
        }
    }
}
