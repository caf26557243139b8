//! The reading words of both versions as core's terms (`csms_core::metering`). The generated
//! enums spell each word as OCPP does, and every word of both versions is a core term: the test
//! below holds both protocols' enumerations to that, so the conversion cannot fail on a message.

use csms_core::metering::{Location, Measurand, Phase, ReadingContext, ValueFormat};

/// The core term a generated enum's word is.
fn term<T>(parse: fn(&str) -> Option<T>, word: &'static str) -> T {
    parse(word).unwrap_or_else(|| unreachable!("{word} is an OCPP reading word but no csms-core term"))
}

pub(crate) fn measurand(word: &'static str) -> Measurand {
    term(Measurand::parse, word)
}

pub(crate) fn phase(word: &'static str) -> Phase {
    term(Phase::parse, word)
}

pub(crate) fn location(word: &'static str) -> Location {
    term(Location::parse, word)
}

pub(crate) fn context(word: &'static str) -> ReadingContext {
    term(ReadingContext::parse, word)
}

pub(crate) fn format(word: &'static str) -> ValueFormat {
    term(ValueFormat::parse, word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocpp::{v16, v201};

    /// Asserts that every one of `words` is a core term by `parse`.
    fn all_parse<T>(kind: &str, words: impl Iterator<Item = &'static str>, parse: fn(&str) -> Option<T>) {
        for word in words {
            assert!(parse(word).is_some(), "{kind} {word} has no csms-core term");
        }
    }

    #[test]
    fn every_reading_word_of_both_versions_is_a_core_term() {
        all_parse("1.6 measurand", v16::SampledValueMeasurand::ALL.iter().map(|w| w.as_str()), Measurand::parse);
        all_parse("1.6 phase", v16::SampledValuePhase::ALL.iter().map(|w| w.as_str()), Phase::parse);
        all_parse("1.6 location", v16::SampledValueLocation::ALL.iter().map(|w| w.as_str()), Location::parse);
        all_parse("1.6 context", v16::SampledValueContext::ALL.iter().map(|w| w.as_str()), ReadingContext::parse);
        all_parse("1.6 format", v16::SampledValueFormat::ALL.iter().map(|w| w.as_str()), ValueFormat::parse);
        all_parse("2.0.1 measurand", v201::MeasurandEnum::ALL.iter().map(|w| w.as_str()), Measurand::parse);
        all_parse("2.0.1 phase", v201::PhaseEnum::ALL.iter().map(|w| w.as_str()), Phase::parse);
        all_parse("2.0.1 location", v201::LocationEnum::ALL.iter().map(|w| w.as_str()), Location::parse);
        all_parse("2.0.1 context", v201::ReadingContextEnum::ALL.iter().map(|w| w.as_str()), ReadingContext::parse);
    }
}
