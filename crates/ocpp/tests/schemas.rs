//! Table-driven schema conformance of every generated message: for each action of both
//! versions, samples built from the official schema (one with every optional property, one
//! with only the required ones) decode strictly, re-encode to the same JSON, and that JSON
//! validates against the official schema. Broken samples are refused with the right code.

use ocpp::{ErrorCode, OcppVersion};
use serde_json::{json, Value};

struct Case {
    version: OcppVersion,
    dir: &'static str,
    action: &'static str,
    response: bool,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for &a in ocpp::v16::Action::ALL {
        for response in [false, true] {
            out.push(Case { version: OcppVersion::V16, dir: "v16", action: a.as_str(), response });
        }
    }
    for &a in ocpp::v201::Action::ALL {
        for response in [false, true] {
            out.push(Case { version: OcppVersion::V201, dir: "v201", action: a.as_str(), response });
        }
    }
    out
}

/// Decodes and re-encodes through the generated type of the case.
fn round_trip(case: &Case, payload: &str) -> Result<String, ocpp::DecodeError> {
    let encoded = match (case.version, case.response) {
        (OcppVersion::V16, false) => {
            let action = ocpp::v16::Action::from_name(case.action).expect("known");
            ocpp::v16::Request::decode(action, payload)?.to_json()
        }
        (OcppVersion::V16, true) => {
            let action = ocpp::v16::Action::from_name(case.action).expect("known");
            ocpp::v16::Response::decode(action, payload)?.to_json()
        }
        (OcppVersion::V201, false) => {
            let action = ocpp::v201::Action::from_name(case.action).expect("known");
            ocpp::v201::Request::decode(action, payload)?.to_json()
        }
        (OcppVersion::V201, true) => {
            let action = ocpp::v201::Action::from_name(case.action).expect("known");
            ocpp::v201::Response::decode(action, payload)?.to_json()
        }
    };
    Ok(encoded.expect("generated types always serialise"))
}

#[test]
fn action_catalogues_are_complete() {
    assert_eq!(ocpp::v16::Action::ALL.len(), 39, "28 base + 11 security extension actions");
    assert_eq!(ocpp::v201::Action::ALL.len(), 64);
}

#[test]
fn every_message_round_trips_and_validates_against_its_official_schema() {
    let mut checked = 0;
    for case in cases() {
        let file = testkit::schema_file(case.dir, case.action, case.response);
        let schema = testkit::load_schema(case.dir, &file);
        for full in [true, false] {
            let input = testkit::sample(&schema, full);
            testkit::validate(case.dir, case.action, case.response, &input)
                .unwrap_or_else(|e| panic!("the sample itself is invalid: {e}"));
            let text = input.to_string();
            let output = round_trip(&case, &text).unwrap_or_else(|e| panic!("{file} refused {text}: {e}"));
            let output: Value = serde_json::from_str(&output).expect("valid JSON");
            assert_eq!(output, input, "{file}: round trip changed the payload");
            testkit::validate(case.dir, case.action, case.response, &output).expect("re-encoded payload is valid");
            checked += 1;
        }
    }
    assert_eq!(checked, (39 + 64) * 2 * 2);
}

/// The first required property of an object schema, resolved through `$ref`.
fn first_required<'a>(schema: &'a Value, root: &'a Value) -> Option<(&'a str, &'a Value)> {
    let name = schema.get("required")?.as_array()?.first()?.as_str()?;
    let mut prop = &schema["properties"][name];
    if let Some(r) = prop.get("$ref").and_then(Value::as_str) {
        prop = &root["definitions"][r.trim_start_matches("#/definitions/")];
    }
    Some((name, prop))
}

#[test]
fn broken_payloads_are_refused_with_the_right_error_code() {
    let mut checked = 0;
    for case in cases() {
        let file = testkit::schema_file(case.dir, case.action, case.response);
        let schema = testkit::load_schema(case.dir, &file);
        let valid = testkit::sample(&schema, false);
        let mut broken: Vec<(Value, ErrorCode)> = Vec::new();

        let mut unknown = valid.clone();
        unknown["noSuchProperty"] = json!(1);
        broken.push((unknown, ErrorCode::FormationViolation));

        if let Some((name, prop)) = first_required(&schema, &schema) {
            let mut missing = valid.clone();
            missing.as_object_mut().expect("object").remove(name);
            broken.push((missing, ErrorCode::OccurenceConstraintViolation));

            let mut wrong_type = valid.clone();
            wrong_type[name] = if prop.get("type") == Some(&json!("string")) { json!(17) } else { json!("17") };
            broken.push((wrong_type, ErrorCode::TypeConstraintViolation));

            if prop.get("enum").is_some() {
                let mut bad_enum = valid.clone();
                bad_enum[name] = json!("NoSuchValue");
                broken.push((bad_enum, ErrorCode::PropertyConstraintViolation));
            } else if let Some(max) = prop.get("maxLength").and_then(Value::as_u64) {
                let mut too_long = valid.clone();
                too_long[name] = json!("x".repeat(max as usize + 1));
                broken.push((too_long, ErrorCode::PropertyConstraintViolation));
            }
        }
        for (payload, code) in broken {
            assert!(
                testkit::validate(case.dir, case.action, case.response, &payload).is_err(),
                "{file}: the broken sample {payload} is valid, the test is wrong"
            );
            let err = round_trip(&case, &payload.to_string()).expect_err("must be refused");
            assert_eq!(err.code, code, "{file}: {payload} gave {err}");
            checked += 1;
        }
    }
    assert!(checked > 300, "only {checked} broken samples were checked");
}

#[test]
fn timestamps_are_emitted_in_utc_with_millisecond_precision() {
    let payload = r#"{"currentTime":"2026-11-26T13:34:56.123456+01:00"}"#;
    let encoded = ocpp::v16::Response::decode(ocpp::v16::Action::Heartbeat, payload)
        .expect("valid")
        .to_json()
        .expect("serialises");
    assert_eq!(encoded, r#"{"currentTime":"2026-11-26T12:34:56.123Z"}"#);
}

#[test]
fn meter_value_units_from_the_errata_are_accepted() {
    for unit in ["Celsius", "Celcius", "Hertz", "kWh"] {
        let payload = format!(
            r#"{{"connectorId":1,"meterValue":[{{"timestamp":"2026-11-26T12:00:00Z","sampledValue":[{{"value":"1","unit":"{unit}"}}]}}]}}"#
        );
        ocpp::v16::Request::decode(ocpp::v16::Action::MeterValues, &payload).unwrap_or_else(|e| panic!("{unit}: {e}"));
    }
}

#[test]
fn charging_limits_accept_decimal_multiples_of_a_tenth() {
    let period = |limit: &str| {
        format!(
            r#"{{"connectorId":1,"csChargingProfiles":{{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Relative","chargingSchedule":{{"chargingRateUnit":"A","chargingSchedulePeriod":[{{"startPeriod":0,"limit":{limit}}}]}}}}}}"#
        )
    };
    assert!(ocpp::v16::Request::decode(ocpp::v16::Action::SetChargingProfile, &period("21.4")).is_ok());
    let err =
        ocpp::v16::Request::decode(ocpp::v16::Action::SetChargingProfile, &period("21.45")).expect_err("not a tenth");
    assert_eq!(err.code, ErrorCode::PropertyConstraintViolation);
}
