//! One meter reading of an OCMF record (OCMF table 7) and the vocabularies its fields take:
//! time in OCMF's own ISO 8601 form with a comma and a synchronisation letter, reading reasons,
//! units, meter states and error flags. A reading's value keeps the meter's digits and is also
//! given exactly in milliwatt-hours, never as a float, because it is billed.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// One reading, with the fields it inherited from the reading before it filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// TM, in UTC.
    pub time: DateTime<Utc>,
    /// How far the meter's clock can be trusted at that time.
    pub time_status: TimeStatus,
    /// TM as the meter wrote it, e.g. `2018-07-24T13:22:04,000+0200 S`.
    pub time_text: String,
    /// TX; absent outside a transaction (fiscal readings).
    pub reason: Option<ReadingReason>,
    /// RV; absent when the reading only reports an event.
    pub value: Option<ReadingValue>,
    /// RI: the OBIS code of the register read, e.g. `01-00:B2.08.00*FF`.
    pub obis: Option<String>,
    /// RU.
    pub unit: Option<Unit>,
    /// RT.
    pub current: Option<CurrentType>,
    /// EF.
    pub error_flags: ErrorFlags,
    /// ST.
    pub status: MeterStatus,
}

impl Reading {
    /// The value in milliwatt-hours, if the reading has one in an energy unit.
    pub fn energy(&self) -> Option<MilliWattHours> {
        self.value.as_ref().and_then(|v| v.energy)
    }
}

/// RV: the number as the meter wrote it, and what it means in milliwatt-hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingValue {
    /// The JSON number's text, e.g. `2935.600`: OCMF forbids rewriting it (its digits say how
    /// precise the reading is).
    pub text: String,
    /// The value in milliwatt-hours, exactly, when the unit is kWh or Wh.
    pub energy: Option<MilliWattHours>,
}

impl ReadingValue {
    /// Reads a JSON value that must be a number, in `unit`.
    pub(super) fn read(text: &str, unit: Unit) -> Result<ReadingValue, &'static str> {
        let decimal = Decimal::parse(text).ok_or("a reading value is a JSON number")?;
        let energy = match unit.milliwatt_hours_exponent() {
            Some(exponent) => Some(MilliWattHours(decimal.scaled(exponent)?)),
            None => None,
        };
        Ok(ReadingValue { text: text.to_string(), energy })
    }
}

/// An amount of energy in milliwatt-hours: kWh with up to six decimals and Wh with up to three
/// are exact in it, which covers every meter OCMF describes (two decimals of kWh recommended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MilliWattHours(pub i64);

impl MilliWattHours {
    /// Watt-hours as an exact decimal, without trailing zeros: `29500`, `1234.5`, `-0.25`.
    pub fn to_wh_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let (whole, milli) = (magnitude / 1000, magnitude % 1000);
        if milli == 0 {
            format!("{sign}{whole}")
        } else {
            let fraction = format!("{milli:03}");
            format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
        }
    }
}

impl std::fmt::Display for MilliWattHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} Wh", self.to_wh_string())
    }
}

/// A JSON number as digits and a power of ten: `2935.600` is 2935600 × 10⁻³.
struct Decimal {
    digits: i128,
    exponent: i32,
}

impl Decimal {
    /// Reads the JSON number grammar (RFC 8259 §6); anything else, a string included, is refused.
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent_text) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (whole, fraction) = match mantissa.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (mantissa, ""),
        };
        let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_only(whole) || (whole.len() > 1 && whole.starts_with('0')) {
            return None;
        }
        if mantissa.contains('.') && !digits_only(fraction) {
            return None;
        }
        let exponent: i32 = match exponent_text {
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if !digits_only(unsigned) {
                    return None;
                }
                // An exponent this large cannot describe a meter reading; refusing it keeps
                // the arithmetic below in range.
                if unsigned.len() > 4 {
                    return None;
                }
                e.parse().ok()?
            }
            None => 0,
        };
        let mut digits: i128 = 0;
        let significant = format!("{whole}{fraction}");
        let significant = significant.trim_start_matches('0');
        if significant.len() > 30 {
            return None;
        }
        for b in significant.bytes() {
            digits = digits * 10 + i128::from(b - b'0');
        }
        let exponent = exponent.checked_sub(i32::try_from(fraction.len()).ok()?)?;
        Some(Decimal { digits: if negative { -digits } else { digits }, exponent })
    }

    /// The value × 10^`shift` as a whole number, if it is one and fits in an i64.
    fn scaled(&self, shift: i32) -> Result<i64, &'static str> {
        let power = self.exponent.checked_add(shift).ok_or("the value is finer than a milliwatt-hour")?;
        let value = if self.digits == 0 {
            0
        } else if power >= 0 {
            let factor =
                u32::try_from(power).ok().and_then(|p| 10i128.checked_pow(p)).ok_or("the value is too large")?;
            self.digits.checked_mul(factor).ok_or("the value is too large")?
        } else {
            let divisor = u32::try_from(-power).ok().and_then(|p| 10i128.checked_pow(p));
            match divisor {
                Some(d) if self.digits % d == 0 => self.digits / d,
                _ => return Err("the value is finer than a milliwatt-hour"),
            }
        };
        i64::try_from(value).map_err(|_| "the value is too large")
    }
}

/// Reads TM: `<yyyy>-<MM>-<dd>T<HH>:<mm>:<ss>,<fff><±hhmm> <status>` (OCMF table 7: milliseconds
/// after a comma, a four-digit offset, one space, a letter from table 19).
pub(super) fn parse_time(text: &str) -> Option<(DateTime<Utc>, TimeStatus)> {
    let (time, status) = text.split_once(' ')?;
    let status = TimeStatus::parse(status)?;
    const SHAPE: &[u8; 28] = b"dddd-dd-ddTdd:dd:dd,ddd+dddd";
    let bytes = time.as_bytes();
    if bytes.len() != SHAPE.len() {
        return None;
    }
    let shaped = bytes.iter().zip(SHAPE).all(|(&b, &s)| match s {
        b'd' => b.is_ascii_digit(),
        b'+' => b == b'+' || b == b'-',
        _ => b == s,
    });
    if !shaped {
        return None;
    }
    let number = |from: usize, to: usize| time.get(from..to).and_then(|s| s.parse::<u32>().ok());
    let year = i32::try_from(number(0, 4)?).ok()?;
    let local = NaiveDate::from_ymd_opt(year, number(5, 7)?, number(8, 10)?)?.and_hms_milli_opt(
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        number(20, 23)?,
    )?;
    let offset_minutes = i32::try_from(number(24, 26)? * 60 + number(26, 28)?).ok()?;
    let sign = if bytes[23] == b'-' { -1 } else { 1 };
    let offset = FixedOffset::east_opt(sign * offset_minutes * 60)?;
    let time = offset.from_local_datetime(&local).single()?;
    Some((time.with_timezone(&Utc), status))
}

/// Generates an enum of OCMF's one-word codes with its `parse` and `as_str`.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// As OCMF writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// Only OCMF's exact spelling.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

codes! {
    /// TM's synchronisation letter (OCMF table 19).
    TimeStatus {
        Unknown = "U",
        /// The meter's informative clock.
        Informative = "I",
        Synchronized = "S",
        /// Durations measured to calibration law from an informative start time.
        Relative = "R",
    }
}

codes! {
    /// TX: why the reading was taken (OCMF table 7).
    ReadingReason {
        Begin = "B",
        Charging = "C",
        /// An error during charging: energy or time are not usable from this reading on.
        Exception = "X",
        End = "E",
        EndedLocally = "L",
        EndedRemotely = "R",
        /// Ended by an error.
        Aborted = "A",
        /// Ended by a power failure.
        PowerFailure = "P",
        Suspended = "S",
        TariffChange = "T",
    }
}

impl ReadingReason {
    /// E and its more precise alternatives L, R, A and P all end the transaction.
    pub fn ends_transaction(self) -> bool {
        matches!(
            self,
            ReadingReason::End
                | ReadingReason::EndedLocally
                | ReadingReason::EndedRemotely
                | ReadingReason::Aborted
                | ReadingReason::PowerFailure
        )
    }
}

codes! {
    /// RU (OCMF table 20).
    Unit {
        KiloWattHours = "kWh",
        WattHours = "Wh",
        MilliOhm = "mOhm",
        MicroOhm = "uOhm",
    }
}

impl Unit {
    /// The power of ten from this unit to milliwatt-hours; `None` for a unit that is no energy.
    fn milliwatt_hours_exponent(self) -> Option<i32> {
        match self {
            Unit::KiloWattHours => Some(6),
            Unit::WattHours => Some(3),
            Unit::MilliOhm | Unit::MicroOhm => None,
        }
    }
}

codes! {
    /// RT (OCMF table 21).
    CurrentType {
        Ac = "AC",
        Dc = "DC",
    }
}

codes! {
    /// ST: the meter's state when read (OCMF table 10). Only `Good` readings are billable.
    MeterStatus {
        NotPresent = "N",
        Good = "G",
        Timeout = "T",
        Disconnected = "D",
        NotFound = "R",
        Manipulated = "M",
        Exchanged = "X",
        Incompatible = "I",
        OutOfRange = "O",
        Substitute = "S",
        OtherError = "E",
        ReadError = "F",
    }
}

/// EF: which quantities an error made unusable for billing (OCMF table 7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorFlags {
    /// `E`: the energy.
    pub energy: bool,
    /// `t`: the time.
    pub time: bool,
}

impl ErrorFlags {
    pub fn parse(text: &str) -> Option<ErrorFlags> {
        let mut flags = ErrorFlags::default();
        for c in text.chars() {
            match c {
                'E' => flags.energy = true,
                't' => flags.time = true,
                _ => return None,
            }
        }
        Some(flags)
    }

    pub fn any(self) -> bool {
        self.energy || self.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("test time").with_timezone(&Utc)
    }

    #[test]
    fn times_are_read_in_ocmf_form_only() {
        let cases: [(&str, Option<(&str, TimeStatus)>); 12] = [
            ("2018-07-24T13:22:04,000+0200 S", Some(("2018-07-24T11:22:04Z", TimeStatus::Synchronized))),
            ("2018-07-24T13:22:04,123+0000 U", Some(("2018-07-24T13:22:04.123Z", TimeStatus::Unknown))),
            ("2018-07-24T00:30:00,000-0130 I", Some(("2018-07-24T02:00:00Z", TimeStatus::Informative))),
            ("2020-02-29T23:59:59,999+0100 R", Some(("2020-02-29T22:59:59.999Z", TimeStatus::Relative))),
            ("2018-07-24T13:22:04.000+0200 S", None),
            ("2018-07-24T13:22:04,000+02:00 S", None),
            ("2018-07-24T13:22:04,000+0200", None),
            ("2018-07-24T13:22:04,000+0200 X", None),
            ("2018-07-24T13:22:04,000+0200  S", None),
            ("2018-02-30T13:22:04,000+0200 S", None),
            ("2018-07-24T24:00:00,000+0200 S", None),
            ("2018-07-24T13:22:04,00+02000 S", None),
        ];
        for (text, expected) in cases {
            let expected = expected.map(|(t, s)| (utc(t), s));
            assert_eq!(parse_time(text), expected, "{text}");
        }
    }

    #[test]
    fn values_become_exact_milliwatt_hours() {
        let cases = [
            ("2935.600", Unit::KiloWattHours, Ok(Some(2_935_600_000))),
            ("0.000", Unit::KiloWattHours, Ok(Some(0))),
            ("29", Unit::KiloWattHours, Ok(Some(29_000_000))),
            ("0.000001", Unit::KiloWattHours, Ok(Some(1))),
            ("1234.5", Unit::WattHours, Ok(Some(1_234_500))),
            ("1.5e3", Unit::WattHours, Ok(Some(1_500_000))),
            ("15E-1", Unit::KiloWattHours, Ok(Some(1_500_000))),
            ("-2.5", Unit::WattHours, Ok(Some(-2_500))),
            ("12.5", Unit::MilliOhm, Ok(None)),
            ("0.0000001", Unit::KiloWattHours, Err("the value is finer than a milliwatt-hour")),
            ("0.0005", Unit::WattHours, Err("the value is finer than a milliwatt-hour")),
            ("1e30", Unit::KiloWattHours, Err("the value is too large")),
            ("\"12.5\"", Unit::KiloWattHours, Err("a reading value is a JSON number")),
            ("012", Unit::KiloWattHours, Err("a reading value is a JSON number")),
            ("1.", Unit::KiloWattHours, Err("a reading value is a JSON number")),
            ("true", Unit::KiloWattHours, Err("a reading value is a JSON number")),
        ];
        for (text, unit, expected) in cases {
            let read = ReadingValue::read(text, unit);
            assert_eq!(read.as_ref().map(|v| v.energy.map(|e| e.0)), expected.as_ref().map(|e| *e), "{text} {unit}");
            if let Ok(value) = read {
                assert_eq!(value.text, text, "the meter's digits are kept");
            }
        }
    }

    #[test]
    fn watt_hours_are_written_exactly() {
        let cases = [(0, "0"), (29_500_000, "29500"), (1_234_500, "1234.5"), (1, "0.001"), (-250, "-0.25")];
        for (milli, text) in cases {
            assert_eq!(MilliWattHours(milli).to_wh_string(), text);
        }
        assert_eq!(MilliWattHours(1_500).to_string(), "1.5 Wh");
    }

    #[test]
    fn codes_are_spelled_as_ocmf_spells_them() {
        for reason in ["B", "C", "X", "E", "L", "R", "A", "P", "S", "T"] {
            assert_eq!(ReadingReason::parse(reason).map(ReadingReason::as_str), Some(reason));
        }
        let ends: Vec<_> = ["B", "C", "X", "E", "L", "R", "A", "P", "S", "T"]
            .into_iter()
            .filter(|r| ReadingReason::parse(r).is_some_and(ReadingReason::ends_transaction))
            .collect();
        assert_eq!(ends, ["E", "L", "R", "A", "P"]);
        for status in ["N", "G", "T", "D", "R", "M", "X", "I", "O", "S", "E", "F"] {
            assert_eq!(MeterStatus::parse(status).map(MeterStatus::as_str), Some(status));
        }
        assert_eq!(Unit::parse("kwh"), None, "units are case-sensitive");
        assert_eq!(ErrorFlags::parse("Et"), Some(ErrorFlags { energy: true, time: true }));
        assert_eq!(ErrorFlags::parse(""), Some(ErrorFlags::default()));
        assert_eq!(ErrorFlags::parse("T"), None);
    }
}
