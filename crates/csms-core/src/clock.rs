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
    // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: four-digit years, as written below.
    const FOUR_DIGIT_YEARS: std::ops::RangeInclusive<i64> = -62_167_219_200..=253_402_300_799;
    let seconds = t.timestamp();
    if !FOUR_DIGIT_YEARS.contains(&seconds) {
        return t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    // Written by hand: every stored reading and logged frame carries one, and chrono's
    // formatter interprets its pattern each time (and its date fields each convert the date).
    // chrono keeps a leap second as a nanosecond count past one second.
    let nanos = t.timestamp_subsec_nanos();
    let (leap, millis) = (nanos / 1_000_000_000, nanos % 1_000_000_000 / 1_000_000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400) as u32;
    let mut out = *b"0000-00-00T00:00:00.000Z";
    put_digits(&mut out[0..4], year);
    put_digits(&mut out[5..7], month);
    put_digits(&mut out[8..10], day);
    put_digits(&mut out[11..13], second_of_day / 3600);
    put_digits(&mut out[14..16], second_of_day / 60 % 60);
    put_digits(&mut out[17..19], second_of_day % 60 + leap);
    put_digits(&mut out[20..23], millis);
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

/// Year, month and day of the proleptic Gregorian calendar for a count of days since
/// 1970-01-01, for years 0 to 9999 (eras of 400 years, each starting on 1 March, so that the
/// leap day ends a year).
fn civil_from_days(days: i64) -> (u32, u32, u32) {
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year as u32, month as u32, day as u32)
}

/// Writes `value`'s last decimal digits into `out`, zero-padded to its length.
fn put_digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
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
        // Every month of every year from 0 to 9999 (a step of 23.15 days, shorter than any month,
        // and 3.017 s so that the time of day and the milliseconds move too).
        let mut t = parse_timestamp("0000-01-01T00:00:00Z").expect("first");
        let last = parse_timestamp("9999-12-31T23:59:59.999Z").expect("last");
        let mut steps = 0;
        while t <= last {
            assert_eq!(format_timestamp(&t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
            t += chrono::Duration::milliseconds(2_000_003_017);
            steps += 1;
        }
        assert!(steps > 150_000, "{steps}");
        for text in [
            "0000-01-01T00:00:00.000Z",
            "0000-02-29T12:00:00.000Z",
            "1900-02-28T23:59:59.999Z",
            "1900-03-01T00:00:00.000Z",
            "2000-02-29T00:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            assert_eq!(format_timestamp(&parse_timestamp(text).expect(text)), text);
        }
        // Outside four-digit years chrono writes them.
        let far = parse_timestamp("9999-12-31T23:59:59.999Z").expect("t") + chrono::Duration::days(1);
        assert_eq!(format_timestamp(&far), far.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        assert_eq!(
            format_timestamp(&parse_timestamp("2026-03-04T05:06:07.891Z").expect("t")),
            "2026-03-04T05:06:07.891Z"
        );
    }
}
