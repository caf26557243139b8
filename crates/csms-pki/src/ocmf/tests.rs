//! OCMF records read and verified with real keys: P-256 meters are made and sign in the test
//! (ring); P-384 records come from a fixture OpenSSL signed, because OCMF pairs P-384 with
//! SHA-256 and ring signs P-384 with SHA-384 only.

use super::*;
use rcgen::PublicKeyData;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, EcdsaSigningAlgorithm, ECDSA_P256_SHA256_ASN1_SIGNING};

/// A meter that signs: its key pair and the public key as the operator registers it.
pub(super) struct Meter {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    pub(super) key: MeterKey,
    /// The public key as a PEM "PUBLIC KEY" block.
    pub(super) pem: String,
}

impl Meter {
    pub(super) fn p256() -> Meter {
        Meter::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
    }

    fn generate(algorithm: &'static EcdsaSigningAlgorithm) -> Meter {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(algorithm, &rng).expect("key generated");
        let pair = EcdsaKeyPair::from_pkcs8(algorithm, pkcs8.as_ref(), &rng).expect("key pair");
        let public = rcgen::KeyPair::try_from(pkcs8.as_ref()).expect("rcgen reads the key");
        let key = MeterKey::from_der(&public.subject_public_key_info()).expect("meter key");
        Meter { pair, rng, key, pem: public.public_key_pem() }
    }

    /// The DER signature over `payload`'s bytes.
    pub(super) fn signature(&self, payload: &str) -> Vec<u8> {
        self.pair.sign(&self.rng, payload.as_bytes()).expect("signed").as_ref().to_vec()
    }

    /// A whole record, with the signature section OCMF's defaults allow at its shortest.
    pub(super) fn record(&self, payload: &str) -> String {
        format!(r#"OCMF|{payload}|{{"SD":"{}"}}"#, hex::encode_upper(self.signature(payload)))
    }
}

/// A payload of one transaction record: `pg`, meter `ms`, and readings `(TX, RV)` in kWh, a
/// minute apart; an empty RV is left out (an event reading).
pub(super) fn payload(pg: &str, ms: &str, readings: &[(&str, &str)]) -> String {
    let readings: Vec<String> = readings
        .iter()
        .enumerate()
        .map(|(i, (tx, rv))| {
            let value = if rv.is_empty() { String::new() } else { format!(r#""RV":{rv},"#) };
            format!(
                r#"{{"TM":"2024-05-06T10:{i:02}:00,000+0200 S","TX":"{tx}",{value}"RI":"01-00:B2.08.00*FF","RU":"kWh","RT":"AC","EF":"","ST":"G"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"FV":"1.0","GI":"Test Gateway","GS":"GW-1","GV":"1.2","PG":"{pg}","MV":"Test Meters","MM":"TM-1","MS":"{ms}","MF":"3.1","IS":true,"IL":"VERIFIED","IF":["RFID_PLAIN","OCPP_RS_TLS"],"IT":"ISO14443","ID":"04A1B2C3D4E5F6","RD":[{}]}}"#,
        readings.join(",")
    )
}

/// Made with OpenSSL 3.0 (`ecparam -name secp384r1 -genkey`, `ec -pubout -outform DER`,
/// `dgst -sha256 -sign`) over this exact payload, and checked with `dgst -sha256 -verify`.
pub(super) const P384_KEY_HEX: &str = "3076301006072a8648ce3d020106052b81040022036200042e00aba0e1cb27c3da7db11e004b169ebd19b0f182f524095bad2a3b917c33ad76f0970089851e88b5287741971d89514f29e5c76aa77aa7fbd09c3351d2537dcb9666a6cd854553332c299022bf31fd33e67db66bbcb03c2211dec7e9cda12b";
pub(super) const P384_RECORD: &str = concat!(
    r#"OCMF|{"FV":"1.0","GI":"Test Gateway","GS":"GW-384","PG":"T7","MS":"METER-384","IS":true,"IT":"ISO14443","ID":"04A1B2C3D4E5F6","RD":[{"TM":"2024-03-01T09:00:00,000+0100 S","TX":"B","RV":1234.5,"RI":"01-00:B2.08.00*FF","RU":"Wh","RT":"AC","EF":"","ST":"G"},{"TM":"2024-03-01T10:30:00,000+0100 S","TX":"E","RV":9876.5}]}"#,
    r#"|{"SA":"ECDSA-secp384r1-SHA256","SD":"306502302fda3409c11db35eb505104f0509c36ec987b81722d06a03908929ccdcc13bcf0222923caa4f3a99b4c6a725dcfe749b023100d39aa9358f88fd92208e9cf902c238cc3b692357161fe664667e2f00afbf006128a2bc063e0f4ccc4a8cec88f8f5203b"}"#
);

/// The fixture's P-384 key.
fn p384_key() -> MeterKey {
    MeterKey::parse(P384_KEY_HEX).expect("P-384 key")
}

#[test]
fn a_record_the_meter_signed_is_read_and_verifies() {
    let meter = Meter::p256();
    let payload = payload("T12", "METER-1", &[("B", "2935.600"), ("E", "2965.10")]);
    let text = format!("{}\r\n", meter.record(&payload));
    let record = parse(&text).expect("reads");
    assert_eq!(record.signed_data(), payload.as_bytes(), "the payload's own bytes are signed");
    assert_eq!(record.text(), text.trim_end());
    assert_eq!(record.pagination, Pagination { context: PaginationContext::Transaction, number: 12 });
    assert_eq!(record.pagination.to_string(), "T12");
    assert_eq!(record.meter_serial, "METER-1");
    assert_eq!(record.gateway_serial.as_deref(), Some("GW-1"));
    let identification = record.identification.as_ref().expect("a transaction record identifies the user");
    assert!(identification.assigned);
    assert_eq!(identification.flags, ["RFID_PLAIN", "OCPP_RS_TLS"]);
    assert_eq!(identification.data.as_deref(), Some("04A1B2C3D4E5F6"));
    assert_eq!(record.readings.len(), 2);
    let (begin, end) = (&record.readings[0], &record.readings[1]);
    assert_eq!(begin.reason, Some(ReadingReason::Begin));
    assert_eq!(begin.time.to_rfc3339(), "2024-05-06T08:00:00+00:00");
    assert_eq!(begin.time_text, "2024-05-06T10:00:00,000+0200 S");
    assert_eq!(begin.value.as_ref().map(|v| v.text.as_str()), Some("2935.600"));
    assert_eq!(begin.energy(), Some(MilliWattHours(2_935_600_000)));
    assert_eq!(end.energy(), Some(MilliWattHours(2_965_100_000)));
    assert_eq!(record.signature.algorithm, SignatureAlgorithm::DEFAULT);
    assert_eq!(record.signature.encoding, SignatureEncoding::Hex);
    assert_eq!(verify(&record, &meter.key), Ok(()));
}

#[test]
fn every_signature_encoding_ocmf_allows_verifies() {
    let meter = Meter::p256();
    let payload = payload("T1", "METER-1", &[("B", "1.00")]);
    let der = meter.signature(&payload);
    let base64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der);
    let cases = [
        (format!(r#"{{"SD":"{}"}}"#, hex::encode(&der)), SignatureEncoding::Hex),
        (format!(r#"{{"SE":"hex","SD":"{}"}}"#, hex::encode_upper(&der)), SignatureEncoding::Hex),
        (
            format!(r#"{{"SA":"ECDSA-secp256r1-SHA256","SE":"base64","SM":"application/x-der","SD":"{base64}"}}"#),
            SignatureEncoding::Base64,
        ),
        (format!(r#"{{ "SE" : "base64", "SD" : "{base64}", "XV": "vendor extension" }}"#), SignatureEncoding::Base64),
    ];
    for (section, encoding) in cases {
        let record = parse(&format!("OCMF|{payload}|{section}")).expect("reads");
        assert_eq!(record.signature.encoding, encoding, "{section}");
        assert_eq!(record.signature.der, der, "{section}");
        assert_eq!(verify(&record, &meter.key), Ok(()), "{section}");
    }
}

#[test]
fn a_record_changed_after_signing_does_not_verify() {
    let meter = Meter::p256();
    let original = payload("T5", "METER-1", &[("B", "10.00"), ("E", "20.00")]);
    let section = format!(r#"{{"SD":"{}"}}"#, hex::encode(meter.signature(&original)));
    let tamperings = [
        ("a higher end value", original.replace(r#""RV":20.00"#, r#""RV":21.00"#)),
        ("the same value written differently", original.replace(r#""RV":20.00"#, r#""RV":20.0"#)),
        ("another meter", original.replace("METER-1", "METER-2")),
        ("a page number", original.replace("T5", "T6")),
        ("whitespace only", original.replacen(',', ", ", 1)),
    ];
    for (what, payload) in tamperings {
        assert_ne!(payload, original, "{what}: the tampering changed something");
        let record = parse(&format!("OCMF|{payload}|{section}")).expect("still reads");
        assert_eq!(verify(&record, &meter.key), Err(VerifyError::BadSignature), "{what}");
    }
    let record = parse(&format!("OCMF|{original}|{section}")).expect("reads");
    assert_eq!(verify(&record, &meter.key), Ok(()), "the untouched record verifies");
}

#[test]
fn another_meters_key_or_curve_is_refused() {
    let meter = Meter::p256();
    let record = parse(&meter.record(&payload("T1", "METER-1", &[("B", "1.00")]))).expect("reads");
    assert_eq!(verify(&record, &Meter::p256().key), Err(VerifyError::BadSignature));
    assert_eq!(
        verify(&record, &p384_key()),
        Err(VerifyError::CurveMismatch { algorithm: SignatureAlgorithm::DEFAULT, key: Curve::Secp384r1 })
    );
    let p384 = parse(P384_RECORD).expect("reads");
    assert_eq!(
        verify(&p384, &meter.key),
        Err(VerifyError::CurveMismatch {
            algorithm: SignatureAlgorithm { curve: Curve::Secp384r1 },
            key: Curve::Secp256r1
        })
    );
}

#[test]
fn a_p384_record_verifies_and_its_reading_values_are_exact() {
    let record = parse(P384_RECORD).expect("reads");
    assert_eq!(record.signature.algorithm.to_string(), "ECDSA-secp384r1-SHA256");
    assert_eq!(verify(&record, &p384_key()), Ok(()));
    assert_eq!(record.readings[0].energy(), Some(MilliWattHours(1_234_500)));
    assert_eq!(record.readings[1].energy(), Some(MilliWattHours(9_876_500)));
    assert_eq!(record.readings[1].unit, Some(Unit::WattHours), "inherited from the first reading");

    let tampered = P384_RECORD.replace("9876.5", "9976.5");
    assert_eq!(verify(&parse(&tampered).expect("reads"), &p384_key()), Err(VerifyError::BadSignature));
}

#[test]
fn algorithms_ring_cannot_verify_are_refused_by_name() {
    let meter = Meter::p256();
    let payload = payload("T1", "METER-1", &[("B", "1.00")]);
    let der = hex::encode(meter.signature(&payload));
    let cases = [
        ("ECDSA-secp192k1-SHA256", Curve::Secp192k1),
        ("ECDSA-secp256k1-SHA256", Curve::Secp256k1),
        ("ECDSA-secp192r1-SHA256", Curve::Secp192r1),
        ("ECDSA-brainpool256r1-SHA256", Curve::Brainpool256r1),
        ("ECDSA-brainpool384r1-SHA256", Curve::Brainpool384r1),
    ];
    for (name, curve) in cases {
        let record = parse(&format!(r#"OCMF|{payload}|{{"SA":"{name}","SD":"{der}"}}"#)).expect("reads");
        let refusal = verify(&record, &meter.key);
        assert_eq!(refusal, Err(VerifyError::UnsupportedAlgorithm(SignatureAlgorithm { curve })), "{name}");
        let reason = refusal.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(reason.starts_with(&format!("unsupported algorithm {name}")), "{reason}");
    }
}

#[test]
fn meter_keys_are_read_from_hex_pem_and_base64() {
    let meter = Meter::p256();
    let der = meter.key.der().to_vec();
    let base64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der);
    let hex_upper = meter.key.to_hex();
    let spaced: String =
        hex_upper.as_bytes().chunks(32).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("\n");
    for text in [hex_upper.clone(), hex::encode(&der), spaced, meter.pem.clone(), base64, format!("  {hex_upper}\n")] {
        let key = MeterKey::parse(&text).expect("reads");
        assert_eq!(key, meter.key, "{text}");
        assert_eq!(key.curve(), Curve::Secp256r1);
        assert_eq!(key.point().len(), 65);
    }
    assert!(hex_upper.starts_with("3059301306072A8648CE3D020106082A8648CE3D030107"), "the usual P-256 prefix");
    let p384 = p384_key();
    assert_eq!(p384.curve(), Curve::Secp384r1);
    assert_eq!(MeterKey::parse(&p384.to_hex()), Ok(p384));
}

#[test]
fn keys_ström_cannot_use_are_refused_with_the_reason() {
    let p256 = Meter::p256().key.to_hex();
    let cases: [(String, KeyError); 11] = [
        ("  ".into(), KeyError::Empty),
        ("not a key!".into(), KeyError::Encoding),
        ("ABC".into(), KeyError::Encoding),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(), KeyError::NoPublicKeyBlock),
        (p256[..p256.len() - 2].into(), KeyError::NotPublicKeyInfo(String::new())),
        (format!("{p256}00"), KeyError::NotPublicKeyInfo("1 bytes after the key".into())),
        (
            concat!(
                "30819f300d06092a864886f70d010101050003818d0030818902818100dbcc7e7cf8a52ac700579a539c7c53c33e83fb47",
                "58eab333946f42d933b7038852ba2b85175db033d0f5c567d2869d577a0ef9418d1246e7b380350690a74bb2db754d23",
                "26473de0a5b466eeb4d4ceb43ac5f880a22190af4eea1aff8ad313061f69faa913a8ecc79e1d5908c522d61cb5cfa902",
                "8a71c86e4cb788b5d1fb8ef50203010001"
            )
            .into(),
            KeyError::NotEc("1.2.840.113549.1.1.1".into()),
        ),
        (
            concat!(
                "305a301406072a8648ce3d020106092b2403030208010107034200044890cbbc634dcf7d8331d7f262345710c7386162",
                "927790412f2bcfb9515afa229f32da3e94b49106e6512350cea0f22c8ef9a6e1ed121eb5e49eb8c79084886c"
            )
            .into(),
            KeyError::UnsupportedCurve(Curve::Brainpool256r1),
        ),
        (
            concat!(
                "3056301006072a8648ce3d020106052b8104000a034200042393f713e7d0eab5f72b82d13aa94787dba0f83fb6d33b29",
                "f1fab53f0ee2812f34778d9fb11edaaecee63f2d0cefa5fa87b7c221bbf799c0811b60736147e51a"
            )
            .into(),
            KeyError::UnsupportedCurve(Curve::Secp256k1),
        ),
        (
            "3039301306072a8648ce3d020106082a8648ce3d03010703220003af3077d3e2ebcca1490627662068239d177943ded9089fdc8a536844514990e4"
                .into(),
            KeyError::BadPoint(Curve::Secp256r1),
        ),
        (
            // P-521 (1.3.132.0.35): not among OCMF's curves at all.
            "3017301006072a8648ce3d020106052b810400230303000401".into(),
            KeyError::UnknownCurve("1.3.132.0.35".into()),
        ),
    ];
    for (text, expected) in cases {
        let refusal = MeterKey::parse(&text);
        match (&refusal, &expected) {
            // The DER parser's own wording is not ours to pin.
            (Err(KeyError::NotPublicKeyInfo(_)), KeyError::NotPublicKeyInfo(m)) if m.is_empty() => {}
            _ => assert_eq!(refusal, Err(expected), "{text}"),
        }
    }
}

#[test]
fn malformed_records_are_refused_naming_the_part() {
    let good = payload("T1", "M", &[("B", "1.00")]);
    let sig = r#"{"SD":"3044"}"#;
    let with = |from: &str, to: &str| format!("OCMF|{}|{sig}", good.replacen(from, to, 1));
    let invalid = |field: &'static str, value: &str, reason: &'static str| OcmfError::Invalid {
        field,
        value: value.into(),
        reason,
    };
    let reading = |field: &'static str, value: &str, reason: &'static str| OcmfError::ReadingInvalid {
        index: 0,
        field,
        value: value.into(),
        reason,
    };
    let cases: Vec<(String, OcmfError)> = vec![
        (format!("ocmf|{good}|{sig}"), OcmfError::NotOcmf("ocmf|{\"FV\":\"1.0\"".into())),
        (format!("OCMF|{good}"), OcmfError::Sections(2)),
        (format!("OCMF|{good}|{sig}|{sig}"), OcmfError::Sections(4)),
        (format!("OCMF|{good}{sig}|"), OcmfError::Payload(String::new())),
        (format!("OCMF|{good}|SD=3044"), OcmfError::SignatureSection(String::new())),
        (with(r#""MS":"M","#, ""), OcmfError::Missing("MS")),
        (with(r#""PG":"T1","#, ""), OcmfError::Missing("PG")),
        (with(r#""MS":"M""#, r#""MS":7"#), OcmfError::Payload(String::new())),
        (with("T1", "T01"), invalid("PG", "T01", "pagination is T or F and a number without leading zeros")),
        (with("T1", "X1"), invalid("PG", "X1", "pagination is T or F and a number without leading zeros")),
        (with("T1", "T"), invalid("PG", "T", "pagination is T or F and a number without leading zeros")),
        (format!("OCMF|{{\"PG\":\"T1\",\"MS\":\"M\"}}|{sig}"), OcmfError::Missing("RD")),
        (
            format!("OCMF|{{\"PG\":\"T1\",\"MS\":\"M\",\"RD\":[]}}|{sig}"),
            invalid("RD", "[]", "a record has at least one reading"),
        ),
        (
            with(",000+0200", ".000+0200"),
            reading(
                "TM",
                "2024-05-06T10:00:00.000+0200 S",
                "time is 2018-07-24T13:22:04,000+0200 and a status U, I, S or R",
            ),
        ),
        (with(r#""TX":"B""#, r#""TX":"Q""#), reading("TX", "Q", "not a reason in OCMF table 7")),
        (with(r#""RU":"kWh""#, r#""RU":"MWh""#), reading("RU", "MWh", "not a unit in OCMF table 20")),
        (with(r#""RT":"AC""#, r#""RT":"3P""#), reading("RT", "3P", "not AC or DC")),
        (with(r#""EF":"""#, r#""EF":"x""#), reading("EF", "x", "flags are E (energy) and t (time)")),
        (with(r#""ST":"G""#, r#""ST":"OK""#), reading("ST", "OK", "not a status in OCMF table 10")),
        (with(r#""RV":1.00"#, r#""RV":"1.00""#), reading("RV", "\"1.00\"", "a reading value is a JSON number")),
        (
            with(r#""RV":1.00"#, r#""RV":1.0000001"#),
            reading("RV", "1.0000001", "the value is finer than a milliwatt-hour"),
        ),
        (format!("OCMF|{good}|{{}}"), OcmfError::Missing("SD")),
        (
            format!(r#"OCMF|{good}|{{"SA":"ECDSA-secp256r1-SHA512","SD":"3044"}}"#),
            invalid("SA", "ECDSA-secp256r1-SHA512", "not a signature algorithm in OCMF table 22"),
        ),
        (
            format!(r#"OCMF|{good}|{{"SA":"RSA-2048","SD":"3044"}}"#),
            invalid("SA", "RSA-2048", "not a signature algorithm in OCMF table 22"),
        ),
        (
            format!(r#"OCMF|{good}|{{"SE":"base32","SD":"3044"}}"#),
            invalid("SE", "base32", "the encoding is hex or base64"),
        ),
        (
            format!(r#"OCMF|{good}|{{"SM":"application/json","SD":"3044"}}"#),
            invalid("SM", "application/json", "the only signature type OCMF has is application/x-der"),
        ),
        (
            format!(r#"OCMF|{good}|{{"SD":"30G4"}}"#),
            invalid("SD", "30G4", "the signature is not hexadecimal (SE is hex)"),
        ),
        (format!(r#"OCMF|{good}|{{"SD":""}}"#), invalid("SD", "", "the signature is not hexadecimal (SE is hex)")),
        (
            format!(r#"OCMF|{good}|{{"SE":"base64","SD":"MEQ*"}}"#),
            invalid("SD", "MEQ*", "the signature is not base64 (SE is base64)"),
        ),
    ];
    for (text, expected) in cases {
        let refusal = parse(&text);
        match (&refusal, &expected) {
            // serde_json's wording is not ours to pin; that the right section failed is.
            (Err(OcmfError::Payload(_)), OcmfError::Payload(m)) if m.is_empty() => {}
            (Err(OcmfError::SignatureSection(_)), OcmfError::SignatureSection(m)) if m.is_empty() => {}
            _ => assert_eq!(refusal, Err(expected), "{text}"),
        }
    }
}

#[test]
fn a_record_shaped_like_the_specifications_example_is_read_register_by_register() {
    // The shape of OCMF's "Example File" (several registers, each with its begin and end, and
    // the LC object), with our own values; the specification's example carries no real
    // signature and no key, so it cannot be verified.
    let payload = r#"{
        "FV": "1.4", "GI": "Gateway", "GS": "GS-1", "GV": "1.4p3", "PG": "T12345",
        "MV": "Vendor", "MM": "Model", "MS": "SERIAL-1", "MF": "1.0",
        "IS": false, "IT": "NONE", "TT": "Tarif 1", "CF": "2.0.1",
        "LC": {"LN": "cable", "LI": 1, "LR": 2, "LU": "mOhm"},
        "RD": [
            {"TM": "2018-07-24T13:22:04,000+0200 S", "TX": "B", "RV": 2935.600, "RI": "01-0B:01.08.00*FF", "RU": "kWh", "RT": "DC", "EF": "", "ST": "G"},
            {"TM": "2018-07-24T13:26:04,000+0200 S", "TX": "E", "RV": 2965.100, "CL": 0.5},
            {"TM": "2018-07-24T13:22:04,000+0200 S", "TX": "B", "RV": 0.000, "RI": "01-0B:B3.08.00*FF"},
            {"TM": "2018-07-24T13:26:04,000+0200 S", "TX": "E", "RV": 29.000}
        ]
    }"#;
    let meter = Meter::p256();
    let record = parse(&meter.record(payload)).expect("reads");
    assert_eq!(verify(&record, &meter.key), Ok(()), "whitespace in the payload is signed as it stands");
    assert_eq!(record.pagination.number, 12345);
    assert_eq!(record.tariff_text.as_deref(), Some("Tarif 1"));
    assert_eq!(record.charge_controller_firmware.as_deref(), Some("2.0.1"));
    assert_eq!(record.identification.as_ref().map(|i| i.assigned), Some(false));
    let registers: Vec<_> = record.readings.iter().map(|r| (r.obis.as_deref(), r.reason, r.energy())).collect();
    let (main, transaction) = (Some("01-0B:01.08.00*FF"), Some("01-0B:B3.08.00*FF"));
    assert_eq!(
        registers,
        [
            (main, Some(ReadingReason::Begin), Some(MilliWattHours(2_935_600_000))),
            (main, Some(ReadingReason::End), Some(MilliWattHours(2_965_100_000))),
            (transaction, Some(ReadingReason::Begin), Some(MilliWattHours(0))),
            (transaction, Some(ReadingReason::End), Some(MilliWattHours(29_000_000))),
        ]
    );
    assert!(record.readings.iter().all(|r| r.current == Some(CurrentType::Dc) && r.status == MeterStatus::Good));
}
