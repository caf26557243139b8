//! Meter readings: every sampled value a station reports, with the value normalised to a base
//! unit so that energy, power and current compare across stations, versions and unit choices.

use std::borrow::Cow;

use crate::Timestamp;

/// Declares an enumeration of the protocols' words, each with its spelling on the wire.
macro_rules! terms {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every term, in the order declared.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// As OCPP spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The term OCPP spells `text`, if it is one.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

terms! {
    /// What a sampled value measures: OCPP 1.6's Measurand and 2.0.1's MeasurandEnumType (2.0.1
    /// adds the net and apparent energies; 1.6 alone has RPM).
    Measurand {
        CurrentExport = "Current.Export",
        CurrentImport = "Current.Import",
        CurrentOffered = "Current.Offered",
        EnergyActiveExportRegister = "Energy.Active.Export.Register",
        EnergyActiveImportRegister = "Energy.Active.Import.Register",
        EnergyReactiveExportRegister = "Energy.Reactive.Export.Register",
        EnergyReactiveImportRegister = "Energy.Reactive.Import.Register",
        EnergyActiveExportInterval = "Energy.Active.Export.Interval",
        EnergyActiveImportInterval = "Energy.Active.Import.Interval",
        EnergyReactiveExportInterval = "Energy.Reactive.Export.Interval",
        EnergyReactiveImportInterval = "Energy.Reactive.Import.Interval",
        EnergyActiveNet = "Energy.Active.Net",
        EnergyReactiveNet = "Energy.Reactive.Net",
        EnergyApparentNet = "Energy.Apparent.Net",
        EnergyApparentImport = "Energy.Apparent.Import",
        EnergyApparentExport = "Energy.Apparent.Export",
        Frequency = "Frequency",
        PowerActiveExport = "Power.Active.Export",
        PowerActiveImport = "Power.Active.Import",
        PowerFactor = "Power.Factor",
        PowerOffered = "Power.Offered",
        PowerReactiveExport = "Power.Reactive.Export",
        PowerReactiveImport = "Power.Reactive.Import",
        Rpm = "RPM",
        SoC = "SoC",
        Temperature = "Temperature",
        Voltage = "Voltage",
    }
}

terms! {
    /// Which phase or phases a value is for (1.6 Phase, 2.0.1 PhaseEnumType).
    Phase {
        L1 = "L1",
        L2 = "L2",
        L3 = "L3",
        N = "N",
        L1N = "L1-N",
        L2N = "L2-N",
        L3N = "L3-N",
        L1L2 = "L1-L2",
        L2L3 = "L2-L3",
        L3L1 = "L3-L1",
    }
}

terms! {
    /// Where the value was measured (1.6 Location, 2.0.1 LocationEnumType).
    Location {
        Body = "Body",
        Cable = "Cable",
        Ev = "EV",
        Inlet = "Inlet",
        Outlet = "Outlet",
    }
}

terms! {
    /// Why the value was taken (1.6 ReadingContext, 2.0.1 ReadingContextEnumType).
    ReadingContext {
        InterruptionBegin = "Interruption.Begin",
        InterruptionEnd = "Interruption.End",
        Other = "Other",
        SampleClock = "Sample.Clock",
        SamplePeriodic = "Sample.Periodic",
        TransactionBegin = "Transaction.Begin",
        TransactionEnd = "Transaction.End",
        Trigger = "Trigger",
    }
}

terms! {
    /// How the value is written (1.6 ValueFormat; a 2.0.1 value is always a number, its signed
    /// form travels beside it).
    ValueFormat {
        Raw = "Raw",
        SignedData = "SignedData",
    }
}

/// One sampled value as reported, plus its normalised form. Measurand, phase, location, context
/// and format are the protocols' enumerations; the units a station usually reports are static
/// text (a station reads eight or more values a minute per connector, and none of them
/// allocates its labels).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub timestamp: Timestamp,
    pub measurand: Measurand,
    pub phase: Option<Phase>,
    pub location: Location,
    pub context: ReadingContext,
    pub format: ValueFormat,
    /// The unit as the station spelled it.
    pub unit: Cow<'static, str>,
    /// The value as the station sent it (decimal text, or a signed-data block), kept verbatim.
    pub raw_value: String,
    /// The value in `normalised_unit`, when the raw value is a number.
    pub value: Option<f64>,
    pub normalised_unit: Cow<'static, str>,
    /// A signed meter value as the station sent it (2.0.1 `signedMeterValue`, as JSON), kept
    /// verbatim for billing disputes; 1.6 signed data travels in `raw_value`.
    pub signed_data: Option<String>,
}

/// The base unit and factor for a reported unit and 2.0.1 power-of-ten multiplier. kWh→Wh and
/// kW→W and their reactive/apparent siblings scale by 1000; `Celcius` (the 1.6 schema's typo)
/// is Celsius; unknown units are kept as they are.
pub fn normalise_unit(unit: &str, multiplier: i32) -> (&str, f64) {
    let (base, factor) = match unit {
        "kWh" => ("Wh", 1000.0),
        "kvarh" => ("varh", 1000.0),
        "kW" => ("W", 1000.0),
        "kVA" => ("VA", 1000.0),
        "kvar" => ("var", 1000.0),
        "Celcius" => ("Celsius", 1.0),
        other => (other, 1.0),
    };
    (base, factor * 10f64.powi(multiplier))
}

/// The units of OCPP 1.6's enumeration (2.0.1 lists the same ones as its recommended spellings).
const UNITS: [&str; 17] = [
    "Wh",
    "kWh",
    "varh",
    "kvarh",
    "W",
    "kW",
    "VA",
    "kVA",
    "var",
    "kvar",
    "A",
    "V",
    "Celsius",
    "Celcius",
    "Fahrenheit",
    "K",
    "Percent",
];

/// A unit as text: the static spelling when it is a known one.
fn unit_text(unit: &str) -> Cow<'static, str> {
    match UNITS.iter().find(|known| **known == unit) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(unit.to_string()),
    }
}

/// Builds a reading from what the wire said, applying the protocol defaults for absent fields.
#[allow(clippy::too_many_arguments)]
pub fn reading(
    timestamp: Timestamp,
    raw_value: String,
    measurand: Option<Measurand>,
    phase: Option<Phase>,
    location: Option<Location>,
    context: Option<ReadingContext>,
    format: Option<ValueFormat>,
    unit: Option<&str>,
    multiplier: i32,
) -> Reading {
    // The default measurand when a station omits it (OCPP 1.6 §7.31, 2.0.1 SampledValueType).
    let measurand = measurand.unwrap_or(Measurand::EnergyActiveImportRegister);
    // Energy registers default to Wh; other measurands have no default unit in 1.6, and Wh
    // would be wrong for them, so their unit stays empty unless reported.
    let unit = unit_text(unit.unwrap_or(if measurand.as_str().starts_with("Energy.Active") { "Wh" } else { "" }));
    let format = format.unwrap_or(ValueFormat::Raw);
    let (normalised, factor) = normalise_unit(&unit, multiplier);
    let normalised_unit = if normalised == unit { unit.clone() } else { unit_text(normalised) };
    let value = if format == ValueFormat::SignedData {
        None
    } else {
        raw_value.trim().parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| v * factor)
    };
    Reading {
        timestamp,
        measurand,
        phase,
        location: location.unwrap_or(Location::Outlet),
        context: context.unwrap_or(ReadingContext::SamplePeriodic),
        format,
        unit,
        raw_value,
        value,
        normalised_unit,
        signed_data: None,
    }
}

impl Reading {
    /// The whole-device active import register in Wh, the reading energy is billed from.
    pub fn import_register_wh(&self) -> Option<f64> {
        (self.measurand == Measurand::EnergyActiveImportRegister
            && self.phase.is_none()
            && self.normalised_unit == "Wh")
            .then_some(self.value)
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        text.to_string()
    }

    fn now() -> Timestamp {
        chrono::DateTime::UNIX_EPOCH
    }

    #[test]
    fn units_are_normalised() {
        let cases = [
            ("12.5", Some("kWh"), 0, Some(12_500.0), "Wh"),
            ("7", Some("kW"), 0, Some(7_000.0), "W"),
            ("230.1", Some("V"), 0, Some(230.1), "V"),
            ("21", Some("Celcius"), 0, Some(21.0), "Celsius"),
            ("50", Some("Hertz"), 0, Some(50.0), "Hertz"),
            ("15", Some("kWh"), -1, Some(1_500.0), "Wh"),
            ("1234", None, 0, Some(1234.0), "Wh"),
        ];
        for (raw, unit, multiplier, value, normalised) in cases {
            let r = reading(now(), raw.to_string(), None, None, None, None, None, unit, multiplier);
            assert_eq!((r.value, &*r.normalised_unit), (value, normalised), "{raw} {unit:?}");
        }
    }

    #[test]
    fn defaults_and_signed_data() {
        let r = reading(now(), s("1"), None, None, None, None, None, None, 0);
        let defaults = (Measurand::EnergyActiveImportRegister, Location::Outlet, ReadingContext::SamplePeriodic);
        assert_eq!((r.measurand, r.location, r.context), defaults);
        assert_eq!(r.import_register_wh(), Some(1.0));
        let signed = reading(now(), s("AB01"), None, None, None, None, Some(ValueFormat::SignedData), None, 0);
        assert_eq!((signed.value, signed.raw_value.as_str()), (None, "AB01"));
        let phase = reading(now(), s("5"), None, Some(Phase::L1), None, None, None, None, 0);
        assert_eq!(phase.import_register_wh(), None);
        let voltage = reading(now(), s("230"), Some(Measurand::Voltage), None, None, None, None, None, 0);
        assert_eq!(voltage.unit, "");
    }

    #[test]
    fn every_term_reads_back_as_itself() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            as_str: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for &term in all {
                assert_eq!(parse(as_str(term)), Some(term), "{term:?}");
            }
            assert_eq!(parse("Not.A.Term"), None);
        }
        check(Measurand::ALL, Measurand::as_str, Measurand::parse);
        check(Phase::ALL, Phase::as_str, Phase::parse);
        check(Location::ALL, Location::as_str, Location::parse);
        check(ReadingContext::ALL, ReadingContext::as_str, ReadingContext::parse);
        check(ValueFormat::ALL, ValueFormat::as_str, ValueFormat::parse);
    }
}
