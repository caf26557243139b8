//! Codes for the protocol's words in a reading: its measurand, phase, location, context and
//! format, each one of a few dozen terms that OCPP enumerates. Readings store the code (a small
//! integer) and the `reading_terms` table the term, and the `meter_values` view joins them back,
//! so readers see the words. Bound as text, the five words were five copies into SQLite's
//! allocations and 60–80 bytes of every row; as codes (and with SQLite's `AUTOINCREMENT` gone
//! from the table) the writer spends 7.5 % fewer instructions per MeterValues and writes a
//! quarter less to disk (BENCHMARKS.md, tenth session).
//!
//! The list is append-only: a code, once written to a database, keeps its term. The store
//! writes the list into `reading_terms` whenever it opens and refuses a database whose table
//! says otherwise.

use csms_core::metering::{Location, Measurand, Phase, ReadingContext, ValueFormat};

macro_rules! reading_terms {
    ($($code:literal => $term:literal,)*) => {
        /// Every term with its code, in code order (1, 2, …).
        pub(crate) const TERMS: &[(i64, &str)] = &[$(($code, $term)),*];

        /// The code of a term, if it is one of the list.
        pub(crate) fn code(term: &str) -> Option<i64> {
            match term {
                $($term => Some($code),)*
                _ => None,
            }
        }
    };
}

reading_terms! {
    1 => "Energy.Active.Export.Register",
    2 => "Energy.Active.Import.Register",
    3 => "Energy.Reactive.Export.Register",
    4 => "Energy.Reactive.Import.Register",
    5 => "Energy.Active.Export.Interval",
    6 => "Energy.Active.Import.Interval",
    7 => "Energy.Reactive.Export.Interval",
    8 => "Energy.Reactive.Import.Interval",
    9 => "Energy.Active.Net",
    10 => "Energy.Reactive.Net",
    11 => "Energy.Apparent.Net",
    12 => "Energy.Apparent.Import",
    13 => "Energy.Apparent.Export",
    14 => "Power.Active.Export",
    15 => "Power.Active.Import",
    16 => "Power.Offered",
    17 => "Power.Reactive.Export",
    18 => "Power.Reactive.Import",
    19 => "Power.Factor",
    20 => "Current.Import",
    21 => "Current.Export",
    22 => "Current.Offered",
    23 => "Voltage",
    24 => "Frequency",
    25 => "Temperature",
    26 => "SoC",
    27 => "RPM",
    28 => "L1",
    29 => "L2",
    30 => "L3",
    31 => "N",
    32 => "L1-N",
    33 => "L2-N",
    34 => "L3-N",
    35 => "L1-L2",
    36 => "L2-L3",
    37 => "L3-L1",
    38 => "Body",
    39 => "Cable",
    40 => "EV",
    41 => "Inlet",
    42 => "Outlet",
    43 => "Interruption.Begin",
    44 => "Interruption.End",
    45 => "Other",
    46 => "Sample.Clock",
    47 => "Sample.Periodic",
    48 => "Transaction.Begin",
    49 => "Transaction.End",
    50 => "Trigger",
    51 => "Raw",
    52 => "SignedData",
}

/// The term of a code read back from `readings`.
pub(crate) fn term(code: i64) -> Option<&'static str> {
    let at = usize::try_from(code).ok()?.checked_sub(1)?;
    TERMS.get(at).map(|(_, term)| *term)
}

/// A reading term of csms-core, stored as its code.
pub(crate) trait Term: Copy {
    fn word(self) -> &'static str;

    /// Every term of csms-core is in the list (a test holds the two together).
    fn code(self) -> i64 {
        code(self.word()).unwrap_or_else(|| unreachable!("the reading term {:?} has no code", self.word()))
    }
}

macro_rules! terms_of_core {
    ($($kind:ty),*) => {
        $(impl Term for $kind {
            fn word(self) -> &'static str {
                self.as_str()
            }
        })*
    };
}

terms_of_core!(Measurand, Phase, Location, ReadingContext, ValueFormat);

/// `INSERT INTO reading_terms … VALUES …` for the whole list, keeping rows already there.
pub(crate) fn insert_all() -> String {
    let values: Vec<String> = TERMS.iter().map(|(code, term)| format!("({code}, '{term}')")).collect();
    format!("INSERT INTO reading_terms (code, term) VALUES {} ON CONFLICT DO NOTHING", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_count_up_from_one_and_round_trip() {
        for (at, (c, t)) in TERMS.iter().enumerate() {
            assert_eq!(*c, at as i64 + 1, "{t}");
            assert_eq!(code(t), Some(*c), "{t}");
            assert_eq!(term(*c), Some(*t));
            // Spliced into SQL by `insert_all`.
            assert!(!t.contains('\''), "{t}");
        }
        assert_eq!((term(0), term(-1), term(TERMS.len() as i64 + 1)), (None, None, None));
        assert!(code("Wh").is_none());
        assert!(code("Energy.Active.Net").is_some() && code("energy").is_none());
    }

    #[test]
    fn every_reading_term_of_core_has_a_code() {
        // The gateway's own test holds every word of both protocols to core's terms.
        let words = Measurand::ALL
            .iter()
            .map(|t| t.word())
            .chain(Phase::ALL.iter().map(|t| t.word()))
            .chain(Location::ALL.iter().map(|t| t.word()))
            .chain(ReadingContext::ALL.iter().map(|t| t.word()))
            .chain(ValueFormat::ALL.iter().map(|t| t.word()));
        for word in words {
            assert!(code(word).is_some(), "{word} has no code");
        }
    }
}
