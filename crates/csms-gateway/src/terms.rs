//! The reading words of both versions as core's terms (`csms_core::metering`): one exhaustive
//! match per generated enum, so a word the schemas add is a compile error here, not a reading
//! stored under the wrong term. The generated variants are named as core's terms are, except
//! where core spells an acronym as a word (`RPM` → `Rpm`, `EV` → `Ev`).

use csms_core::metering::{Location, Measurand, Phase, ReadingContext, ValueFormat};
use ocpp::v16::{
    SampledValueContext as Context16, SampledValueFormat as Format16, SampledValueLocation as Location16,
    SampledValueMeasurand as Measurand16, SampledValuePhase as Phase16,
};
use ocpp::v201::{
    LocationEnum as Location201, MeasurandEnum as Measurand201, PhaseEnum as Phase201, ReadingContextEnum as Context201,
};

/// `fn name(Word) -> Term { Variant, Other => Renamed, … }`: the term each word of `Word` is.
macro_rules! words_to_terms {
    ($name:ident($word:ident) -> $term:ident { $($variant:ident $(=> $renamed:ident)?),* $(,)? }) => {
        pub(crate) fn $name(word: $word) -> $term {
            match word {
                $($word::$variant => words_to_terms!(@term $term, $variant $(, $renamed)?),)*
            }
        }
    };
    (@term $term:ident, $variant:ident) => { $term::$variant };
    (@term $term:ident, $variant:ident, $renamed:ident) => { $term::$renamed };
}

words_to_terms!(measurand_16(Measurand16) -> Measurand {
    EnergyActiveExportRegister, EnergyActiveImportRegister, EnergyReactiveExportRegister,
    EnergyReactiveImportRegister, EnergyActiveExportInterval, EnergyActiveImportInterval,
    EnergyReactiveExportInterval, EnergyReactiveImportInterval, PowerActiveExport, PowerActiveImport,
    PowerOffered, PowerReactiveExport, PowerReactiveImport, PowerFactor, CurrentImport, CurrentExport,
    CurrentOffered, Voltage, Frequency, Temperature, SoC, RPM => Rpm,
});

words_to_terms!(measurand_201(Measurand201) -> Measurand {
    CurrentExport, CurrentImport, CurrentOffered, EnergyActiveExportRegister, EnergyActiveImportRegister,
    EnergyReactiveExportRegister, EnergyReactiveImportRegister, EnergyActiveExportInterval,
    EnergyActiveImportInterval, EnergyActiveNet, EnergyReactiveExportInterval, EnergyReactiveImportInterval,
    EnergyReactiveNet, EnergyApparentNet, EnergyApparentImport, EnergyApparentExport, Frequency,
    PowerActiveExport, PowerActiveImport, PowerFactor, PowerOffered, PowerReactiveExport, PowerReactiveImport,
    SoC, Voltage,
});

words_to_terms!(phase_16(Phase16) -> Phase { L1, L2, L3, N, L1N, L2N, L3N, L1L2, L2L3, L3L1 });
words_to_terms!(phase_201(Phase201) -> Phase { L1, L2, L3, N, L1N, L2N, L3N, L1L2, L2L3, L3L1 });
words_to_terms!(location_16(Location16) -> Location { Body, Cable, EV => Ev, Inlet, Outlet });
words_to_terms!(location_201(Location201) -> Location { Body, Cable, EV => Ev, Inlet, Outlet });
words_to_terms!(context_16(Context16) -> ReadingContext {
    InterruptionBegin, InterruptionEnd, Other, SampleClock, SamplePeriodic, TransactionBegin, TransactionEnd, Trigger,
});
words_to_terms!(context_201(Context201) -> ReadingContext {
    InterruptionBegin, InterruptionEnd, Other, SampleClock, SamplePeriodic, TransactionBegin, TransactionEnd, Trigger,
});
words_to_terms!(format_16(Format16) -> ValueFormat { Raw, SignedData });

#[cfg(test)]
mod tests {
    use super::*;

    /// The match is exhaustive by construction; this holds each word to the term of the same
    /// spelling, which a renamed pair could break.
    #[test]
    fn every_word_becomes_the_term_spelt_alike() {
        for &w in Measurand16::ALL {
            assert_eq!(measurand_16(w).as_str(), w.as_str());
        }
        for &w in Measurand201::ALL {
            assert_eq!(measurand_201(w).as_str(), w.as_str());
        }
        for &w in Phase16::ALL {
            assert_eq!(phase_16(w).as_str(), w.as_str());
        }
        for &w in Phase201::ALL {
            assert_eq!(phase_201(w).as_str(), w.as_str());
        }
        for &w in Location16::ALL {
            assert_eq!(location_16(w).as_str(), w.as_str());
        }
        for &w in Location201::ALL {
            assert_eq!(location_201(w).as_str(), w.as_str());
        }
        for &w in Context16::ALL {
            assert_eq!(context_16(w).as_str(), w.as_str());
        }
        for &w in Context201::ALL {
            assert_eq!(context_201(w).as_str(), w.as_str());
        }
        for &w in Format16::ALL {
            assert_eq!(format_16(w).as_str(), w.as_str());
        }
    }
}
