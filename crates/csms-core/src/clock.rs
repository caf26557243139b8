//! Time comes from a `Clock` so that rules which depend on "now" (token expiry, fault start)
//! can be tested at any instant.

pub type Timestamp = chrono::DateTime<chrono::Utc>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// The storage and API spelling of an instant: RFC 3339, UTC, milliseconds. Fixed width, so
/// text order is time order.
pub fn format_timestamp(t: &Timestamp) -> String {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    // Written by hand: every stored reading and logged frame carries one, and chrono's
    // formatter interprets its pattern each time.
    // chrono keeps a leap second as a nanosecond count past one second.
    let (leap, nanos) = (t.nanosecond() / 1_000_000_000, t.nanosecond() % 1_000_000_000);
    let millis = nanos / 1_000_000;
    let fields = [
        (year as u32, 4, b'-'),
        (t.month(), 2, b'-'),
        (t.day(), 2, b'T'),
        (t.hour(), 2, b':'),
        (t.minute(), 2, b':'),
        (t.second() + leap, 2, b'.'),
        (millis, 3, b'Z'),
    ];
    let mut out = Vec::with_capacity(24);
    for (value, width, separator) in fields {
        for position in (0..width).rev() {
            out.push(b'0' + (value / 10u32.pow(position) % 10) as u8);
        }
        out.push(separator);
    }
    String::from_utf8(out).unwrap_or_default()
}

pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_formatted_as_chrono_would() {
        let instants = [
            "2026-12-01T13:05:09.007Z",
            "1999-01-31T23:59:59.999Z",
            "0042-07-04T00:00:00.000Z",
            "2024-02-29T12:34:56.5+02:00",
            "2026-06-30T23:59:60.250Z",
        ];
        for text in instants {
            let t = parse_timestamp(text).expect(text);
            assert_eq!(format_timestamp(&t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "{text}");
        }
        let mut t = parse_timestamp("2026-01-01T00:00:00Z").expect("start");
        for _ in 0..5000 {
            t += chrono::Duration::milliseconds(7_919_311);
            assert_eq!(format_timestamp(&t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        }
        assert_eq!(
            format_timestamp(&parse_timestamp("2026-03-04T05:06:07.891Z").expect("t")),
            "2026-03-04T05:06:07.891Z"
        );
    }
}
