//! Transactions of records signed in the test: whole ones verify with their energy, and each
//! way of breaking one is reported with every problem it causes, and only those.

use super::*;
use crate::ocmf::tests::{payload, Meter, P384_KEY_HEX, P384_RECORD};
use crate::ocmf::VerifyError;

/// One record to sign: pagination, meter serial, readings `(TX, RV in kWh)`, and a change made
/// to the payload before signing (for fields the payload helper keeps fixed).
struct Page<'a> {
    pg: &'a str,
    ms: &'a str,
    readings: &'a [(&'a str, &'a str)],
    change: Option<(&'a str, &'a str)>,
}

fn page<'a>(pg: &'a str, readings: &'a [(&'a str, &'a str)]) -> Page<'a> {
    Page { pg, ms: "METER-1", readings, change: None }
}

fn signed(meter: &Meter, pages: &[Page<'_>]) -> Vec<String> {
    pages
        .iter()
        .map(|p| {
            let mut text = payload(p.pg, p.ms, p.readings);
            if let Some((from, to)) = p.change {
                text = text.replacen(from, to, 1);
            }
            meter.record(&text)
        })
        .collect()
}

fn mwh(kwh: i64) -> MilliWattHours {
    MilliWattHours(kwh * 1_000_000)
}

#[test]
fn separate_begin_charging_and_end_records_verify_with_their_energy() {
    let meter = Meter::p256();
    let records = signed(
        &meter,
        &[page("T12", &[("B", "2935.600")]), page("T13", &[("C", "2950.00")]), page("T14", &[("E", "2965.10")])],
    );
    let Verdict::Verified(tx) = check_transaction(&records, &meter.key) else {
        panic!("not verified: {:?}", check_transaction(&records, &meter.key));
    };
    assert_eq!(tx.meter_serial, "METER-1");
    assert_eq!((tx.first_page.to_string(), tx.last_page.to_string()), ("T12".into(), "T14".into()));
    assert_eq!(tx.begin.value.as_ref().map(|v| v.text.as_str()), Some("2935.600"));
    assert_eq!(tx.end.reason, Some(ReadingReason::End));
    assert_eq!(tx.energy, MilliWattHours(29_500_000));
    assert_eq!(tx.energy.to_wh_string(), "29500");
}

#[test]
fn one_record_with_begin_and_end_verifies_on_p256_and_p384() {
    let meter = Meter::p256();
    let records = signed(&meter, &[page("T3", &[("B", "1.000"), ("C", "1.5"), ("T", "2"), ("L", "2.25")])]);
    let verdict = check_transaction(&records, &meter.key);
    assert!(verdict.is_verified(), "{verdict:?}");
    if let Verdict::Verified(tx) = verdict {
        assert_eq!(tx.energy, MilliWattHours(1_250_000));
        assert_eq!(tx.end.reason, Some(ReadingReason::EndedLocally));
    }

    let p384 = MeterKey::parse(P384_KEY_HEX).expect("P-384 key");
    match check_transaction(&[P384_RECORD], &p384) {
        Verdict::Verified(tx) => assert_eq!(tx.energy.to_wh_string(), "8642"),
        other => panic!("not verified: {other:?}"),
    }
}

#[test]
fn the_billed_register_is_the_first_one_that_begins() {
    // Mains and transaction registers side by side, as in OCMF's example: the mains register
    // (first to begin) is billed; the other, which starts at zero, is only checked for errors.
    let meter = Meter::p256();
    let payload = r#"{"PG":"T1","MS":"M","RD":[
        {"TM":"2024-05-06T10:00:00,000+0200 S","TX":"B","RV":100.5,"RI":"01-00:B0.08.00*FF","RU":"kWh","EF":"","ST":"G"},
        {"TX":"B","RV":0,"RI":"01-00:B2.08.00*FF"},
        {"TM":"2024-05-06T11:00:00,000+0200 S","TX":"E","RV":110.5,"RI":"01-00:B0.08.00*FF"},
        {"TX":"E","RV":10,"RI":"01-00:B2.08.00*FF"}]}"#;
    match check_transaction(&[meter.record(payload)], &meter.key) {
        Verdict::Verified(tx) => {
            assert_eq!(tx.begin.obis.as_deref(), Some("01-00:B0.08.00*FF"));
            assert_eq!(tx.energy, mwh(10));
        }
        other => panic!("not verified: {other:?}"),
    }
}

#[test]
fn every_problem_of_a_broken_transaction_is_reported() {
    let meter = Meter::p256();
    let other = Meter::p256();
    let p384 = MeterKey::parse(P384_KEY_HEX).expect("P-384 key");
    let b = [("B", "10.00")];
    let c = [("C", "15.00")];
    let e = [("E", "20.00")];
    let sign = |pages: &[Page<'_>]| signed(&meter, pages);
    let with = |pg, readings, from, to| Page { change: Some((from, to)), ..page(pg, readings) };

    let mut tampered = sign(&[page("T1", &b), page("T2", &e)]);
    tampered[1] = tampered[1].replace("20.00", "30.00");
    let mut unreadable = sign(&[page("T1", &b), page("T2", &c), page("T3", &e)]);
    unreadable[1] = "OCMF|{}|{}".into();

    let cases: Vec<(&str, Vec<String>, &MeterKey, Vec<Problem>)> = vec![
        ("no records", vec![], &meter.key, vec![Problem::NoRecords]),
        (
            "a record missing in between",
            sign(&[page("T12", &b), page("T14", &e)]),
            &meter.key,
            vec![Problem::PaginationGap { record: 2, expected: 13, found: 14 }],
        ),
        (
            "a record given twice",
            sign(&[page("T12", &b), page("T12", &b), page("T13", &e)]),
            &meter.key,
            vec![Problem::PaginationGap { record: 2, expected: 13, found: 12 }, Problem::SecondBegin { record: 2 }],
        ),
        (
            "an unreadable record, reported once",
            unreadable,
            &meter.key,
            vec![Problem::Unreadable { record: 2, error: OcmfError::Missing("PG") }],
        ),
        (
            "no begin",
            sign(&[page("T1", &c), page("T2", &e)]),
            &meter.key,
            vec![
                Problem::BeforeBegin { record: 1, reason: "C".into() },
                Problem::BeforeBegin { record: 2, reason: "E".into() },
                Problem::NoBegin,
                Problem::NoEnd,
            ],
        ),
        ("no end", sign(&[page("T1", &b), page("T2", &c)]), &meter.key, vec![Problem::NoEnd]),
        (
            "no begin nor end at all",
            sign(&[page("T1", &c), page("T2", &c)]),
            &meter.key,
            vec![Problem::NoBegin, Problem::NoEnd],
        ),
        (
            "the end before the begin",
            sign(&[page("T1", &[("E", "10.00")]), page("T2", &[("B", "20.00")])]),
            &meter.key,
            vec![Problem::BeforeBegin { record: 1, reason: "E".into() }, Problem::NoEnd],
        ),
        (
            "a reading after the end",
            sign(&[page("T1", &b), page("T2", &e), page("T3", &[("C", "25.00")])]),
            &meter.key,
            vec![Problem::AfterEnd { record: 3, reason: "C".into() }],
        ),
        (
            "an end without a value",
            sign(&[page("T1", &b), page("T2", &[("E", "")])]),
            &meter.key,
            vec![Problem::NoValue { record: 2, reason: ReadingReason::End }],
        ),
        (
            "another meter",
            sign(&[page("T1", &b), Page { ms: "METER-2", ..page("T2", &e) }]),
            &meter.key,
            vec![Problem::MeterChanged { record: 2, expected: "METER-1".into(), found: "METER-2".into() }],
        ),
        (
            "another gateway",
            sign(&[page("T1", &b), with("T2", &e, "GW-1", "GW-2")]),
            &meter.key,
            vec![Problem::GatewayChanged { record: 2, expected: Some("GW-1".into()), found: Some("GW-2".into()) }],
        ),
        (
            "fiscal readings",
            sign(&[page("F1", &b), page("F2", &e)]),
            &meter.key,
            vec![
                Problem::NotTransaction { record: 1, pagination: Pagination::parse("F1").expect("F1") },
                Problem::NotTransaction { record: 2, pagination: Pagination::parse("F2").expect("F2") },
            ],
        ),
        (
            "readings in different units",
            sign(&[page("T1", &b), with("T2", &[("E", "20000")], "kWh", "Wh")]),
            &meter.key,
            vec![Problem::UnitChanged { record: 2, expected: Unit::KiloWattHours, found: Unit::WattHours }],
        ),
        (
            "a reading that is no energy",
            sign(&[page("T1", &b), with("T2", &e, "kWh", "mOhm")]),
            &meter.key,
            vec![
                Problem::UnitChanged { record: 2, expected: Unit::KiloWattHours, found: Unit::MilliOhm },
                Problem::NotEnergy { record: 2, found: Unit::MilliOhm },
            ],
        ),
        (
            "the meter going backwards",
            sign(&[page("T1", &b), page("T2", &[("C", "12.00")]), page("T3", &[("E", "11.99")])]),
            &meter.key,
            vec![Problem::ValueBackwards {
                record: 3,
                before: MilliWattHours(12_000_000),
                after: MilliWattHours(11_990_000),
            }],
        ),
        (
            "time going backwards",
            sign(&[page("T1", &b), with("T2", &e, "T10:00", "T09:59")]),
            &meter.key,
            vec![Problem::TimeBackwards {
                record: 2,
                before: "2024-05-06T08:00:00Z".parse().expect("time"),
                after: "2024-05-06T07:59:00Z".parse().expect("time"),
            }],
        ),
        (
            "an error during charging",
            sign(&[page("T1", &b), page("T2", &[("X", "15.00")]), page("T3", &e)]),
            &meter.key,
            vec![Problem::Exception { record: 2 }],
        ),
        (
            "energy and time flagged unusable",
            sign(&[page("T1", &b), with("T2", &e, r#""EF":"""#, r#""EF":"Et""#)]),
            &meter.key,
            vec![Problem::EnergyUnusable { record: 2 }, Problem::TimeUnusable { record: 2 }],
        ),
        (
            "a manipulated meter",
            sign(&[with("T1", &b, r#""ST":"G""#, r#""ST":"M""#), page("T2", &e)]),
            &meter.key,
            vec![Problem::MeterStatus { record: 1, status: MeterStatus::Manipulated }],
        ),
        (
            "a record changed after signing",
            tampered,
            &meter.key,
            vec![Problem::Signature { record: 2, error: VerifyError::BadSignature }],
        ),
        (
            "another meter's key",
            sign(&[page("T1", &b), page("T2", &e)]),
            &other.key,
            vec![
                Problem::Signature { record: 1, error: VerifyError::BadSignature },
                Problem::Signature { record: 2, error: VerifyError::BadSignature },
            ],
        ),
        (
            "a key on another curve",
            sign(&[page("T1", &b), page("T2", &e)]),
            &p384,
            [1, 2]
                .map(|record| Problem::Signature {
                    record,
                    error: VerifyError::CurveMismatch {
                        algorithm: crate::ocmf::SignatureAlgorithm::DEFAULT,
                        key: crate::ocmf::Curve::Secp384r1,
                    },
                })
                .to_vec(),
        ),
    ];
    for (what, records, key, expected) in cases {
        assert_eq!(check_transaction(&records, key), Verdict::NotVerified(expected), "{what}");
    }
}

#[test]
fn problems_read_as_sentences() {
    let cases = [
        (Problem::PaginationGap { record: 2, expected: 13, found: 14 }, "record 2 is numbered 14, but 13 should follow the record before: records are missing or added"),
        (Problem::Signature { record: 1, error: VerifyError::BadSignature }, "record 1: the signature does not verify with the meter's key: the record was changed or signed with another key"),
        (Problem::ValueBackwards { record: 3, before: mwh(12), after: MilliWattHours(11_990_000) }, "record 3: the meter went backwards from 12000 Wh to 11990 Wh"),
        (Problem::NoBegin, "no reading begins the transaction (TX B)"),
    ];
    for (problem, sentence) in cases {
        assert_eq!(problem.to_string(), sentence);
    }
}
