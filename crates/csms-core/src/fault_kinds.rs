//! One fault vocabulary for both versions: what failed (`FaultComponent`), the kind of fault
//! (`FaultCode`, OCPP 1.6's ChargePointErrorCode words, which 2.0.1 stations say through their
//! device model instead) and what it means to an operator (`FaultCategory`), from the fields
//! either version reports. The mapping is the tables below; the raw fields stay with the fault.

/// Where the fault is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultComponent {
    Station,
    Evse,
    Connector,
    /// The EV on the other end of the cable (2.0.1 ConnectedEV).
    Vehicle,
}

impl FaultComponent {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultComponent::Station => "station",
            FaultComponent::Evse => "evse",
            FaultComponent::Connector => "connector",
            FaultComponent::Vehicle => "vehicle",
        }
    }
}

/// The kind of fault: OCPP 1.6's error codes (§7.6 ChargePointErrorCode, NoError aside), a
/// voltage out of range whose direction the report does not say, `Unspecified` for a Faulted
/// status that says nothing more, and the faults Ström detects itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    ConnectorLockFailure,
    EVCommunicationError,
    GroundFailure,
    HighTemperature,
    InternalError,
    LocalListConflict,
    OtherError,
    OverCurrentFailure,
    OverVoltage,
    PowerMeterFailure,
    PowerSwitchFailure,
    ReaderFailure,
    ResetFailure,
    UnderVoltage,
    VoltageOutOfRange,
    WeakSignal,
    Unspecified,
    /// Detected by Ström: the station lost its power (it ended a transaction with reason
    /// PowerLoss).
    PowerLoss,
    /// Detected by Ström: the station's connection is lost.
    CommunicationLost,
    /// Detected by Ström: a 2.0.1 EVSE or connector reported Unavailable without an operator's
    /// ChangeAvailability that explains it: the station took it out of service itself.
    OutOfService,
}

/// What the fault means to whoever must fix it (issue 27's taxonomy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCategory {
    Thermal,
    PowerLoss,
    /// Station ↔ CSMS, station ↔ EV, and the token reader.
    Communication,
    ElectricalProtection,
    Connector,
    Meter,
    Internal,
    Other,
}

impl FaultCategory {
    pub const ALL: &'static [FaultCategory] = &[
        FaultCategory::Thermal,
        FaultCategory::PowerLoss,
        FaultCategory::Communication,
        FaultCategory::ElectricalProtection,
        FaultCategory::Connector,
        FaultCategory::Meter,
        FaultCategory::Internal,
        FaultCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultCategory::Thermal => "thermal",
            FaultCategory::PowerLoss => "power_loss",
            FaultCategory::Communication => "communication",
            FaultCategory::ElectricalProtection => "electrical_protection",
            FaultCategory::Connector => "connector",
            FaultCategory::Meter => "meter",
            FaultCategory::Internal => "internal",
            FaultCategory::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<FaultCategory> {
        FaultCategory::ALL.iter().copied().find(|c| c.as_str() == text)
    }
}

use FaultCategory as Cat;
use FaultCode as Code;

/// Every code with its name and category: the one table both versions map through.
const CODES: &[(FaultCode, &str, FaultCategory)] = &[
    (Code::ConnectorLockFailure, "ConnectorLockFailure", Cat::Connector),
    (Code::EVCommunicationError, "EVCommunicationError", Cat::Communication),
    (Code::GroundFailure, "GroundFailure", Cat::ElectricalProtection),
    (Code::HighTemperature, "HighTemperature", Cat::Thermal),
    (Code::InternalError, "InternalError", Cat::Internal),
    (Code::LocalListConflict, "LocalListConflict", Cat::Internal),
    (Code::OtherError, "OtherError", Cat::Other),
    (Code::OverCurrentFailure, "OverCurrentFailure", Cat::ElectricalProtection),
    (Code::OverVoltage, "OverVoltage", Cat::ElectricalProtection),
    (Code::PowerMeterFailure, "PowerMeterFailure", Cat::Meter),
    // The contactor that switches the power: the station's own hardware.
    (Code::PowerSwitchFailure, "PowerSwitchFailure", Cat::Internal),
    (Code::ReaderFailure, "ReaderFailure", Cat::Communication),
    (Code::ResetFailure, "ResetFailure", Cat::Internal),
    (Code::UnderVoltage, "UnderVoltage", Cat::ElectricalProtection),
    (Code::VoltageOutOfRange, "VoltageOutOfRange", Cat::ElectricalProtection),
    (Code::WeakSignal, "WeakSignal", Cat::Communication),
    (Code::Unspecified, "Unspecified", Cat::Other),
    (Code::PowerLoss, "PowerLoss", Cat::PowerLoss),
    (Code::CommunicationLost, "CommunicationLost", Cat::Communication),
    (Code::OutOfService, "OutOfService", Cat::Internal),
];

impl FaultCode {
    pub fn as_str(self) -> &'static str {
        CODES.iter().find(|(c, _, _)| *c == self).map_or("OtherError", |(_, name, _)| name)
    }

    pub fn category(self) -> FaultCategory {
        CODES.iter().find(|(c, _, _)| *c == self).map_or(Cat::Other, |(_, _, category)| *category)
    }

    pub fn parse(text: &str) -> Option<FaultCode> {
        CODES.iter().find(|(_, name, _)| *name == text).map(|(c, _, _)| *c)
    }
}

/// Words in a vendor's free text (2.0.1 techCode and techInfo, 1.6 vendorErrorCode and info of
/// an OtherError) that name the kind of fault, checked in this order, lower case. Only words
/// that say one thing, and are in no other word: not "lock" (in "clock") nor "meter" (in
/// "parameter").
const VENDOR_WORDS: &[(&str, FaultCode)] = &[
    ("overheat", Code::HighTemperature),
    ("overtemp", Code::HighTemperature),
    ("over_temp", Code::HighTemperature),
    ("over-temp", Code::HighTemperature),
    ("temperature", Code::HighTemperature),
    ("thermal", Code::HighTemperature),
    ("overvoltage", Code::OverVoltage),
    ("over voltage", Code::OverVoltage),
    ("over_voltage", Code::OverVoltage),
    ("undervoltage", Code::UnderVoltage),
    ("under voltage", Code::UnderVoltage),
    ("under_voltage", Code::UnderVoltage),
    ("overcurrent", Code::OverCurrentFailure),
    ("over current", Code::OverCurrentFailure),
    ("over_current", Code::OverCurrentFailure),
    ("ground fault", Code::GroundFailure),
    ("groundfault", Code::GroundFailure),
    ("earth fault", Code::GroundFailure),
    ("residual current", Code::GroundFailure),
    ("rcd", Code::GroundFailure),
    ("lock fail", Code::ConnectorLockFailure),
    ("lock motor", Code::ConnectorLockFailure),
    ("locking", Code::ConnectorLockFailure),
    ("unlock", Code::ConnectorLockFailure),
    ("power meter", Code::PowerMeterFailure),
    ("powermeter", Code::PowerMeterFailure),
    ("energy meter", Code::PowerMeterFailure),
    ("metering", Code::PowerMeterFailure),
    ("rfid", Code::ReaderFailure),
    ("reader", Code::ReaderFailure),
];

/// 2.0.1 device-model components and variables that say the kind of fault (OCPP 2.0.1 Part 2
/// appendix, standardized components): `(component, variable, code)`, `None` for any. The first
/// row that matches wins; a component's `Problem` says only that something is wrong with it.
const DEVICE_MODEL: &[(Option<&str>, Option<&str>, FaultCode)] = &[
    (None, Some("Temperature"), Code::HighTemperature),
    (Some("TemperatureSensor"), None, Code::HighTemperature),
    (Some("RCD"), None, Code::GroundFailure),
    (Some("OverCurrentProtection"), None, Code::OverCurrentFailure),
    (None, Some("Overload"), Code::OverCurrentFailure),
    (Some("PowerContactor"), None, Code::PowerSwitchFailure),
    (Some("ConnectorHolsterRelease"), None, Code::ConnectorLockFailure),
    (Some("ConnectorPlugRetentionLock"), None, Code::ConnectorLockFailure),
    (None, Some("Locked"), Code::ConnectorLockFailure),
    (None, Some("Voltage"), Code::VoltageOutOfRange),
    (None, Some("Current"), Code::OverCurrentFailure),
    (Some("FiscalMetering"), None, Code::PowerMeterFailure),
    (Some("ElectricalMeter"), None, Code::PowerMeterFailure),
    (Some("TokenReader"), None, Code::ReaderFailure),
    (Some("ConnectedEV"), None, Code::EVCommunicationError),
    (Some("ISO15118Ctrlr"), None, Code::EVCommunicationError),
    (Some("OCPPCommCtrlr"), None, Code::WeakSignal),
    (Some("CellularModem"), None, Code::WeakSignal),
    (Some("Controller"), None, Code::InternalError),
];

/// The fields a fault was reported with. 1.6: `error_code` is the station's errorCode (a
/// Faulted status with NoError keeps `NoError`), no component. 2.0.1: `component` and
/// `variable` as Ström stores them (`Name` or `Name/instance`), or a Faulted status alone
/// (`error_code` `Faulted`, no component).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reported<'a> {
    pub evse_id: Option<i64>,
    pub connector_id: i64,
    pub component: Option<&'a str>,
    pub variable: Option<&'a str>,
    pub error_code: &'a str,
    pub tech_code: Option<&'a str>,
    pub tech_info: Option<&'a str>,
    pub vendor_error_code: Option<&'a str>,
    pub info: Option<&'a str>,
}

/// A fault in the one vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub component: FaultComponent,
    pub code: FaultCode,
    pub category: FaultCategory,
}

/// What `reported` is, in the one vocabulary.
pub fn classify(reported: &Reported<'_>) -> Kind {
    let component = reported.component.map(|c| c.split('/').next().unwrap_or(c));
    let variable = reported.variable.map(|v| v.split('/').next().unwrap_or(v));
    let vendor_code = |texts: &[Option<&str>]| texts.iter().flatten().find_map(|t| vendor_word(t));
    let code = match component {
        // 2.0.1 NotifyEvent: the vendor's techCode or techInfo is the most precise, then the
        // component and variable; a Problem that says nothing more is OtherError.
        Some(name) => vendor_code(&[reported.tech_code, reported.tech_info])
            .or_else(|| device_model_code(name, variable))
            .unwrap_or(match variable {
                Some("AvailabilityState") => Code::Unspecified,
                _ => Code::OtherError,
            }),
        None => match FaultCode::parse(reported.error_code) {
            // An OtherError whose vendor text says what it is.
            Some(Code::OtherError) => {
                vendor_code(&[reported.vendor_error_code, reported.info]).unwrap_or(Code::OtherError)
            }
            Some(code) => code,
            // Faulted without a code (2.0.1 StatusNotification, or 1.6's Faulted with NoError).
            None if matches!(reported.error_code, "Faulted" | "NoError") => Code::Unspecified,
            // A code no version defines: the station's own word, kept in `raw`.
            None => Code::OtherError,
        },
    };
    let place = match (reported.evse_id.filter(|e| *e > 0), reported.connector_id) {
        (_, c) if c > 0 => FaultComponent::Connector,
        (Some(_), _) => FaultComponent::Evse,
        (None, _) => FaultComponent::Station,
    };
    let component = match component {
        Some("ChargingStation") => FaultComponent::Station,
        Some("EVSE") => FaultComponent::Evse,
        Some("Connector") => FaultComponent::Connector,
        Some("ConnectedEV") => FaultComponent::Vehicle,
        _ => place,
    };
    Kind { component, code, category: code.category() }
}

/// The operator's own words: vendor codes (1.6 vendorErrorCode, 2.0.1 techCode) mapped to a
/// category (the configuration's `[fault_categories]`), which then wins over the category the
/// tables above give. Codes match whatever their case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorCategories(Vec<(String, FaultCategory)>);

impl VendorCategories {
    pub fn new(pairs: impl IntoIterator<Item = (String, FaultCategory)>) -> VendorCategories {
        let mut pairs: Vec<(String, FaultCategory)> =
            pairs.into_iter().map(|(code, category)| (code.to_ascii_lowercase(), category)).collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        VendorCategories(pairs)
    }

    fn category_of(&self, reported: &Reported<'_>) -> Option<FaultCategory> {
        let code = reported.vendor_error_code.or(reported.tech_code)?;
        self.0.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)).map(|(_, category)| *category)
    }
}

/// `classify`, with the operator's vendor codes deciding the category where they name one.
pub fn classify_with(reported: &Reported<'_>, vendor: &VendorCategories) -> Kind {
    let mut kind = classify(reported);
    if let Some(category) = vendor.category_of(reported) {
        kind.category = category;
    }
    kind
}

/// A fingerprint of the mapping: the tables above and the operator's vendor codes. The store
/// keeps each fault's category (to filter on it) and classifies every stored fault again when
/// this changes, so a better mapping still applies to every fault ever stored. FNV-1a over the
/// tables' derived `Debug` text.
pub fn mapping_fingerprint(vendor: &VendorCategories) -> String {
    let tables = format!("{CODES:?}{VENDOR_WORDS:?}{DEVICE_MODEL:?}{vendor:?}");
    let hash = tables
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{hash:016x}")
}

fn vendor_word(text: &str) -> Option<FaultCode> {
    let text = text.to_ascii_lowercase();
    VENDOR_WORDS.iter().find(|(word, _)| text.contains(word)).map(|(_, code)| *code)
}

fn device_model_code(component: &str, variable: Option<&str>) -> Option<FaultCode> {
    DEVICE_MODEL
        .iter()
        .find(|(c, v, _)| c.is_none_or(|c| c == component) && v.is_none_or(|v| Some(v) == variable))
        .map(|(_, _, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v16(connector_id: i64, error_code: &str) -> Reported<'_> {
        Reported { evse_id: Some(0), connector_id, error_code, ..Reported::default() }
    }

    #[test]
    fn the_fingerprint_is_stable_and_names_the_tables_and_the_vendor_codes() {
        let none = VendorCategories::default();
        let fingerprint = mapping_fingerprint(&none);
        assert_eq!(fingerprint, mapping_fingerprint(&none));
        assert_eq!(fingerprint.len(), 16);
        assert_ne!(fingerprint, format!("{:016x}", 0xcbf2_9ce4_8422_2325_u64), "the tables were hashed");
        let some = VendorCategories::new([("E-417".to_string(), Cat::Connector)]);
        assert_ne!(mapping_fingerprint(&some), fingerprint);
        let same = VendorCategories::new([("e-417".to_string(), Cat::Connector)]);
        assert_eq!(mapping_fingerprint(&same), mapping_fingerprint(&some), "codes match whatever their case");
    }

    #[test]
    fn vendor_codes_decide_the_category() {
        let vendor = VendorCategories::new([("E-417".to_string(), Cat::Connector), ("T92".to_string(), Cat::Meter)]);
        let v201 = Reported {
            evse_id: Some(1),
            connector_id: 1,
            component: Some("Connector"),
            variable: Some("Problem"),
            error_code: "Connector.Problem",
            tech_code: Some("e-417"),
            tech_info: Some("cable overheating"),
            ..Reported::default()
        };
        let kind = classify_with(&v201, &vendor);
        assert_eq!((kind.code, kind.category), (Code::HighTemperature, Cat::Connector), "the code stays");
        assert_eq!(classify(&v201).category, Cat::Thermal);
        let mapped = Reported { vendor_error_code: Some("T92"), ..v16(1, "HighTemperature") };
        assert_eq!(classify_with(&mapped, &vendor).category, Cat::Meter);
        let other = Reported { vendor_error_code: Some("T93"), ..v16(1, "HighTemperature") };
        assert_eq!(classify_with(&other, &vendor).category, Cat::Thermal);
    }

    #[test]
    fn every_16_error_code_maps() {
        use FaultCategory::*;
        let cases = [
            ("ConnectorLockFailure", Connector),
            ("EVCommunicationError", Communication),
            ("GroundFailure", ElectricalProtection),
            ("HighTemperature", Thermal),
            ("InternalError", Internal),
            ("LocalListConflict", Internal),
            ("OtherError", Other),
            ("OverCurrentFailure", ElectricalProtection),
            ("OverVoltage", ElectricalProtection),
            ("PowerMeterFailure", Meter),
            ("PowerSwitchFailure", Internal),
            ("ReaderFailure", Communication),
            ("ResetFailure", Internal),
            ("UnderVoltage", ElectricalProtection),
            ("WeakSignal", Communication),
        ];
        for (error_code, category) in cases {
            let kind = classify(&v16(1, error_code));
            assert_eq!(
                (kind.component, kind.code.as_str(), kind.category),
                (FaultComponent::Connector, error_code, category),
                "{error_code}"
            );
        }
        let whole_station = classify(&v16(0, "WeakSignal"));
        assert_eq!(whole_station.component, FaultComponent::Station);
        let faulted = classify(&v16(2, "NoError"));
        assert_eq!((faulted.code, faulted.category), (Code::Unspecified, Cat::Other));
        let vendor = classify(&v16(1, "Sparks"));
        assert_eq!((vendor.code, vendor.category), (Code::OtherError, Cat::Other));
        let said = Reported { info: Some("Cable overheating"), ..v16(1, "OtherError") };
        assert_eq!(classify(&said).code, Code::HighTemperature);
        let said = Reported { vendor_error_code: Some("E_RCD_TRIP"), ..v16(1, "OtherError") };
        assert_eq!(classify(&said).code, Code::GroundFailure);
        let unsaid = Reported { info: Some("clock drift in parameter 7"), ..v16(1, "OtherError") };
        assert_eq!(classify(&unsaid).code, Code::OtherError, "no word hides in another");
    }

    #[test]
    fn device_model_components_and_variables_map() {
        use FaultComponent as Place;
        let cases = [
            ("Connector", "Problem", None, None, Place::Connector, Code::OtherError),
            ("Connector", "Problem", Some("OverTemp"), None, Place::Connector, Code::HighTemperature),
            ("Connector", "Problem", None, Some("cable overheating"), Place::Connector, Code::HighTemperature),
            (
                "Connector",
                "Problem",
                Some("E-17"),
                Some("lock motor stuck"),
                Place::Connector,
                Code::ConnectorLockFailure,
            ),
            ("ChargingStation", "Temperature", None, None, Place::Station, Code::HighTemperature),
            ("EVSE", "Temperature/Cable", None, None, Place::Evse, Code::HighTemperature),
            ("TemperatureSensor", "Problem", None, None, Place::Evse, Code::HighTemperature),
            ("RCD", "Tripped", None, None, Place::Evse, Code::GroundFailure),
            ("OverCurrentProtection", "Tripped", None, None, Place::Evse, Code::OverCurrentFailure),
            ("PowerConverter", "Overload", None, None, Place::Evse, Code::OverCurrentFailure),
            ("PowerContactor", "Tripped", None, None, Place::Evse, Code::PowerSwitchFailure),
            ("ConnectorHolsterRelease", "Problem", None, None, Place::Connector, Code::ConnectorLockFailure),
            (
                "ConnectorPlugRetentionLock",
                "Problem",
                None,
                Some("motor stall"),
                Place::Connector,
                Code::ConnectorLockFailure,
            ),
            ("EVSE", "Voltage", None, None, Place::Evse, Code::VoltageOutOfRange),
            ("EVSE", "Voltage", Some("UnderVoltage"), None, Place::Evse, Code::UnderVoltage),
            ("EVSE", "Current", None, None, Place::Evse, Code::OverCurrentFailure),
            ("FiscalMetering", "Problem", None, None, Place::Evse, Code::PowerMeterFailure),
            ("ElectricalMeter", "Problem", None, None, Place::Evse, Code::PowerMeterFailure),
            ("TokenReader", "Problem", None, None, Place::Station, Code::ReaderFailure),
            ("ConnectedEV", "Problem", None, None, Place::Vehicle, Code::EVCommunicationError),
            ("ISO15118Ctrlr", "Problem", None, None, Place::Evse, Code::EVCommunicationError),
            ("OCPPCommCtrlr", "Problem", None, None, Place::Station, Code::WeakSignal),
            ("CellularModem", "Problem", None, None, Place::Station, Code::WeakSignal),
            ("Controller", "Problem", None, None, Place::Station, Code::InternalError),
            ("EVSE", "AvailabilityState", None, None, Place::Evse, Code::Unspecified),
        ];
        for (component, variable, tech_code, tech_info, place, code) in cases {
            let (evse_id, connector_id) = match place {
                Place::Connector => (Some(1), 1),
                Place::Evse | Place::Vehicle => (Some(1), 0),
                Place::Station => (Some(0), 0),
            };
            let reported = Reported {
                evse_id,
                connector_id,
                component: Some(component),
                variable: Some(variable),
                error_code: "ignored",
                tech_code,
                tech_info,
                ..Reported::default()
            };
            let kind = classify(&reported);
            assert_eq!(
                (kind.component, kind.code),
                (place, code),
                "{component}.{variable} {tech_code:?} {tech_info:?}"
            );
            assert_eq!(kind.category, code.category());
        }
        let status_only = Reported { evse_id: Some(1), connector_id: 1, error_code: "Faulted", ..Reported::default() };
        assert_eq!(classify(&status_only).code, Code::Unspecified);
    }

    #[test]
    fn categories_and_codes_round_trip() {
        for &category in FaultCategory::ALL {
            assert_eq!(FaultCategory::parse(category.as_str()), Some(category));
        }
        for (code, name, category) in CODES {
            assert_eq!((FaultCode::parse(name), code.as_str(), code.category()), (Some(*code), *name, *category));
        }
    }
}
