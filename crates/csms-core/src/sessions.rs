//! What an operator asks of a charging session beside its bill: how much energy so far, the power
//! now, how long it has run and how much of that it charged, and whether it charged although its
//! start was refused. Computed from the stored readings when read, never stored, so that a session
//! still running and one ended long ago are described by the same rules.

use crate::authorization::AuthStatus;
use crate::Timestamp;

/// Below this active import power a session is idle: an EV that is full, waiting or asleep still
/// draws tens of watts for its electronics, and a station's own meter reports a few watts of
/// noise; 100 W is far below any charging current (6 A at 230 V single phase is 1.38 kW).
pub const CHARGING_THRESHOLD_W: f64 = 100.0;

/// A register that rose by less than this between two readings did not charge: meters round to
/// the watt-hour and some report a watt-hour of drift.
const REGISTER_RISE_WH: f64 = 1.0;

/// One moment of a session's readings: the energy register (Energy.Active.Import.Register, Wh)
/// and the power (Power.Active.Import, W) it reported then, when it reported them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: Timestamp,
    pub register_wh: Option<f64>,
    pub power_w: Option<f64>,
}

/// A session's figures as the API shows them, in base units (Wh, W, seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    /// The energy delivered up to the latest register reading (the final energy once ended,
    /// when known).
    pub energy_so_far_wh: Option<f64>,
    /// The latest active import power, while the session runs.
    pub power_w: Option<f64>,
    /// From the start to the end, or to now while it runs.
    pub duration_s: Option<i64>,
    /// Of the duration, the time spent charging and idle (`charging_time`).
    pub charging_s: Option<i64>,
    pub idle_s: Option<i64>,
}

/// What a session is known to be, for its figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Session {
    pub started_at: Option<Timestamp>,
    pub stopped_at: Option<Timestamp>,
    pub meter_start_wh: Option<f64>,
    pub meter_stop_wh: Option<f64>,
    /// The energy Ström settled at the end (`transactions::energy`).
    pub energy_wh: Option<f64>,
}

/// The figures of `session` at `now` from its `samples` (in time order).
pub fn figures(session: &Session, samples: &[Sample], now: Timestamp) -> Figures {
    let Some(start) = session.started_at else {
        return Figures::default();
    };
    let end = session.stopped_at.unwrap_or(now).max(start);
    let running = session.stopped_at.is_none();
    let first_register = samples.iter().find_map(|s| s.register_wh);
    let last_register = samples.iter().rev().find_map(|s| s.register_wh);
    let energy_so_far_wh = match (running, session.energy_wh) {
        (false, Some(energy)) => Some(energy),
        _ => match (session.meter_start_wh.or(first_register), last_register) {
            (Some(from), Some(to)) => Some((to - from).max(0.0)),
            _ => None,
        },
    };
    let power_w = if running { samples.iter().rev().find_map(|s| s.power_w) } else { None };
    let (charging_s, idle_s) = charging_time(session, samples, start, end);
    Figures {
        energy_so_far_wh,
        power_w,
        duration_s: Some((end - start).num_seconds()),
        charging_s: Some(charging_s),
        idle_s: Some(idle_s),
    }
}

/// How the time from `start` to `end` divides into charging and idle, in seconds. Between two
/// moments the session charged when the power reported at the first was above
/// `CHARGING_THRESHOLD_W`, or, with no power reported then, when the register rose from the
/// first to the second. The meter start and stop stand for registers at the ends; a stretch with
/// neither power nor two registers to compare is idle, since nothing shows energy flowing.
pub fn charging_time(session: &Session, samples: &[Sample], start: Timestamp, end: Timestamp) -> (i64, i64) {
    let mut moments = Vec::with_capacity(samples.len() + 2);
    moments.push(Sample { at: start, register_wh: session.meter_start_wh, power_w: None });
    moments.extend(samples.iter().filter(|s| s.at >= start && s.at <= end).copied());
    moments.push(Sample { at: end, register_wh: session.stopped_at.and(session.meter_stop_wh), power_w: None });
    let mut charging = 0;
    for pair in moments.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let charged = match (from.power_w, from.register_wh, to.register_wh) {
            (Some(power), _, _) => power > CHARGING_THRESHOLD_W,
            (None, Some(a), Some(b)) => b - a >= REGISTER_RISE_WH,
            _ => false,
        };
        if charged {
            charging += (to.at - from.at).num_seconds();
        }
    }
    let total = (end - start).num_seconds();
    (charging, total - charging)
}

/// Whether a session charged although its start was refused: the station was told the token is
/// not accepted (`start` as answered on the wire: ConcurrentTx, Blocked, Invalid, Expired, …)
/// and energy flowed all the same. A start with no token judged (`None`) is not refused.
pub fn charged_while_unauthorized(start: Option<AuthStatus>, energy_wh: Option<f64>) -> bool {
    let refused = start.is_some_and(|s| s != AuthStatus::Accepted);
    refused && energy_wh.is_some_and(|e| e > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 12, 7, 12, minute, 0).single().expect("valid")
    }

    fn sample(minute: u32, register_wh: Option<f64>, power_w: Option<f64>) -> Sample {
        Sample { at: at(minute), register_wh, power_w }
    }

    fn session(stopped: Option<u32>, meter_start: Option<f64>, meter_stop: Option<f64>) -> Session {
        Session {
            started_at: Some(at(0)),
            stopped_at: stopped.map(at),
            meter_start_wh: meter_start,
            meter_stop_wh: meter_stop,
            energy_wh: None,
        }
    }

    #[test]
    fn charging_time_table() {
        // (case, session, samples, (charging, idle) in seconds)
        type Case = (&'static str, Session, Vec<Sample>, (i64, i64));
        let cases: [Case; 7] = [
            ("no readings, no meter values at the ends", session(Some(10), None, None), vec![], (0, 600)),
            ("registers at the ends rose", session(Some(10), Some(0.0), Some(500.0)), vec![], (600, 0)),
            ("registers at the ends stayed", session(Some(10), Some(500.0), Some(500.0)), vec![], (0, 600)),
            (
                "power above the threshold, then below it",
                session(Some(10), Some(0.0), Some(1_000.0)),
                vec![sample(0, Some(0.0), Some(7_000.0)), sample(5, Some(1_000.0), Some(20.0))],
                (300, 300),
            ),
            (
                "no power: the register rising between samples",
                session(Some(30), Some(0.0), Some(2_000.0)),
                vec![sample(10, Some(1_000.0), None), sample(20, Some(2_000.0), None), sample(25, Some(2_000.5), None)],
                (1_200, 600),
            ),
            (
                "power wins over the register when both are there",
                session(Some(10), Some(0.0), Some(0.0)),
                vec![sample(0, Some(0.0), Some(11_000.0))],
                (600, 0),
            ),
            (
                "running: up to now, the last power carried on",
                session(None, Some(0.0), None),
                vec![sample(0, Some(0.0), Some(50.0)), sample(4, Some(0.0), Some(3_700.0))],
                (360, 240),
            ),
        ];
        for (name, s, samples, expected) in cases {
            let end = s.stopped_at.unwrap_or(at(10));
            assert_eq!(charging_time(&s, &samples, at(0), end), expected, "{name}");
        }
    }

    #[test]
    fn figures_of_running_and_ended_sessions() {
        let samples = [sample(1, Some(10_000.0), Some(7_200.0)), sample(2, Some(10_120.0), Some(7_100.0))];
        let running = figures(&session(None, Some(10_000.0), None), &samples, at(3));
        assert_eq!(
            running,
            Figures {
                energy_so_far_wh: Some(120.0),
                power_w: Some(7_100.0),
                duration_s: Some(180),
                charging_s: Some(120),
                idle_s: Some(60),
            }
        );
        // A 2.0.1 session's meter start comes from its first register.
        let no_start = figures(&session(None, None, None), &samples, at(3));
        assert_eq!(no_start.energy_so_far_wh, Some(120.0));
        let ended = Session { energy_wh: Some(130.0), ..session(Some(4), Some(10_000.0), Some(10_130.0)) };
        let done = figures(&ended, &samples, at(30));
        assert_eq!((done.energy_so_far_wh, done.power_w, done.duration_s), (Some(130.0), None, Some(240)));
        assert_eq!((done.charging_s, done.idle_s), (Some(180), Some(60)));
        let never_started = Session { started_at: None, ..ended };
        assert_eq!(figures(&never_started, &samples, at(30)), Figures::default());
    }

    #[test]
    fn charged_while_unauthorized_table() {
        use AuthStatus::*;
        let cases = [
            (Some(Accepted), Some(3_912.0), false),
            (Some(ConcurrentTx), Some(3_912.0), true),
            (Some(Blocked), Some(1.0), true),
            (Some(Invalid), Some(10.0), true),
            (Some(Expired), Some(10.0), true),
            (Some(Blocked), Some(0.0), false),
            (Some(Blocked), None, false),
            (None, Some(500.0), false),
        ];
        for (start, energy, expected) in cases {
            assert_eq!(charged_while_unauthorized(start, energy), expected, "{start:?} {energy:?}");
        }
    }
}
