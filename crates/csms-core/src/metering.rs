//! Meter readings: every sampled value a station reports, with the value normalised to a base
//! unit so that energy, power and current compare across stations, versions and unit choices.

use std::borrow::Cow;

use crate::Timestamp;

/// The default measurand when a station omits it (OCPP 1.6 §7.31, 2.0.1 SampledValueType).
pub const ENERGY_IMPORT_REGISTER: &str = "Energy.Active.Import.Register";

/// One sampled value as reported, plus its normalised form. Measurand, phase, location, context
/// and format come from the protocols' enumerations, so they are the schema's own strings; so
/// are the units a station usually reports (a station reads eight or more values a minute per
/// connector, and none of them allocates its labels).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub timestamp: Timestamp,
    pub measurand: &'static str,
    pub phase: Option<&'static str>,
    pub location: &'static str,
    pub context: &'static str,
    pub format: &'static str,
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
    measurand: Option<&'static str>,
    phase: Option<&'static str>,
    location: Option<&'static str>,
    context: Option<&'static str>,
    format: Option<&'static str>,
    unit: Option<&str>,
    multiplier: i32,
) -> Reading {
    let measurand = measurand.unwrap_or(ENERGY_IMPORT_REGISTER);
    // Energy registers default to Wh; other measurands have no default unit in 1.6, and Wh
    // would be wrong for them, so their unit stays empty unless reported.
    let unit = unit_text(unit.unwrap_or(if measurand.starts_with("Energy.Active") { "Wh" } else { "" }));
    let format = format.unwrap_or("Raw");
    let (normalised, factor) = normalise_unit(&unit, multiplier);
    let normalised_unit = if normalised == unit { unit.clone() } else { unit_text(normalised) };
    let value = if format == "SignedData" {
        None
    } else {
        raw_value.trim().parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| v * factor)
    };
    Reading {
        timestamp,
        measurand,
        phase,
        location: location.unwrap_or("Outlet"),
        context: context.unwrap_or("Sample.Periodic"),
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
        (self.measurand == ENERGY_IMPORT_REGISTER && self.phase.is_none() && self.normalised_unit == "Wh")
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
        assert_eq!((r.measurand, r.location, r.context), (ENERGY_IMPORT_REGISTER, "Outlet", "Sample.Periodic"));
        assert_eq!(r.import_register_wh(), Some(1.0));
        let signed = reading(now(), s("AB01"), None, None, None, None, Some("SignedData"), None, 0);
        assert_eq!((signed.value, signed.raw_value.as_str()), (None, "AB01"));
        let phase = reading(now(), s("5"), None, Some("L1"), None, None, None, None, 0);
        assert_eq!(phase.import_register_wh(), None);
        let voltage = reading(now(), s("230"), Some("Voltage"), None, None, None, None, None, 0);
        assert_eq!(voltage.unit, "");
    }
}
