//! The session's protocol rules driven with frames and a counted clock: no socket, no store.

use super::*;
use ocpp::{DecodeError, ErrorCode};
use serde_json::Value;

/// The reply handle a test gives a CSMS CALL: a number naming its caller.
type TestMachine = Machine<u32>;

const TIMEOUT: Duration = Duration::from_secs(30);
const PENDING: Option<RegistrationStatus> = Some(RegistrationStatus::Pending);
const ACCEPTED: Option<RegistrationStatus> = Some(RegistrationStatus::Accepted);
const REJECTED: Option<RegistrationStatus> = Some(RegistrationStatus::Rejected);

fn at(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn machine(version: OcppVersion, registration: Option<RegistrationStatus>) -> TestMachine {
    Machine::new(version, registration, TIMEOUT)
}

/// The CALL in `text`; panics on anything else.
fn call<'a>(m: &mut TestMachine, text: &'a str) -> Call<'a> {
    match m.on_text(text, at(0)) {
        Inbound::Call(call) => call,
        other => panic!("expected a CALL, got {other:?}"),
    }
}

/// The pending call `text` settles, if any; panics unless `text` is a well-formed answer.
fn answer(m: &mut TestMachine, text: &str, now: Duration) -> Option<Settle<u32>> {
    match m.on_text(text, now) {
        Inbound::Answer { settle, .. } => settle,
        other => panic!("expected an answer, got {other:?}"),
    }
}

/// The reply and settled call for a malformed frame; panics on a well-formed one.
fn malformed(m: &mut TestMachine, text: &str, now: Duration) -> (Reply, Option<Settle<u32>>) {
    match m.on_text(text, now) {
        Inbound::Malformed { reply, settle, .. } => (reply, settle),
        other => panic!("expected a malformed frame, got {other:?}"),
    }
}

/// The (id, code) of a CALLERROR, checking its shape on the way (CONFORMANCE RPC-14: five
/// elements, a string description, an object for details).
fn call_error(frame: &str) -> (String, String) {
    let v: Value = serde_json::from_str(frame).expect("a CALLERROR is JSON");
    let parts = v.as_array().expect("a CALLERROR is an array");
    assert_eq!(parts.len(), 5, "{frame}");
    assert_eq!(parts[0], 4, "{frame}");
    assert!(parts[3].is_string(), "{frame}");
    assert_eq!(parts[4], serde_json::json!({}), "{frame}");
    (parts[1].as_str().expect("id").to_string(), parts[2].as_str().expect("code").to_string())
}

fn reply_error(reply: &Reply) -> (String, String) {
    call_error(reply.frame.as_deref().expect("answered"))
}

fn security_error(result: Result<(), CallFailure>) -> String {
    match result {
        Err(failure @ CallFailure::NotAccepted(_)) => {
            assert_eq!(failure.code(), ErrorCode::SecurityError);
            failure.to_string()
        }
        other => panic!("expected a SecurityError, got {other:?}"),
    }
}

// The registration gate.

#[test]
fn b02_fr_03_the_gate_admits_by_registration_and_action() {
    // (registration, action, pending_ok, admitted)
    let table = [
        (None, "BootNotification", false, true),
        (None, "Heartbeat", false, false),
        (None, "NotifyReport", true, false),
        (PENDING, "BootNotification", false, true),
        (PENDING, "Heartbeat", false, false),
        (PENDING, "StatusNotification", false, false),
        (PENDING, "NotifyReport", true, true),
        (REJECTED, "BootNotification", false, true),
        (REJECTED, "Heartbeat", false, false),
        (REJECTED, "NotifyReport", true, false),
        (ACCEPTED, "BootNotification", false, true),
        (ACCEPTED, "Heartbeat", false, true),
        (ACCEPTED, "StatusNotification", false, true),
        (ACCEPTED, "NotifyReport", true, true),
    ];
    for (registration, action, pending_ok, admitted) in table {
        let m = machine(OcppVersion::V201, registration);
        let result = m.admit(action, pending_ok);
        assert_eq!(result.is_ok(), admitted, "{registration:?} {action} pending_ok={pending_ok}: {result:?}");
    }
}

#[test]
fn a_refusal_names_the_registration() {
    let refusal = |registration| security_error(machine(OcppVersion::V16, registration).admit("Heartbeat", false));
    assert!(refusal(PENDING).contains("Pending"), "{}", refusal(PENDING));
    assert!(refusal(REJECTED).contains("Rejected"), "{}", refusal(REJECTED));
    assert!(refusal(None).contains("not registered"), "{}", refusal(None));
}

#[test]
fn tc_b_30_a_pending_or_rejected_station_gets_security_error_for_status_notification() {
    for (version, registration) in [
        (OcppVersion::V16, PENDING),
        (OcppVersion::V16, REJECTED),
        (OcppVersion::V201, PENDING),
        (OcppVersion::V201, REJECTED),
    ] {
        let mut m = machine(version, registration);
        let c = call(&mut m, r#"[2,"s1","StatusNotification",{}]"#);
        let result = m.admit(&c.action, false).map(|()| "{}".to_string());
        let reply = m.answer(&c, result);
        assert_eq!(
            reply_error(&reply),
            ("s1".to_string(), "SecurityError".to_string()),
            "{version:?} {registration:?}"
        );
        assert_eq!(reply.label, "StatusNotification");
        assert_eq!(reply.result_label(), "error");
    }
}

#[test]
fn rpc_23_a_reconnected_accepted_station_needs_no_new_boot() {
    assert!(machine(OcppVersion::V16, ACCEPTED).admit("Heartbeat", false).is_ok());
    assert!(machine(OcppVersion::V16, None).admit("Heartbeat", false).is_err());
}

#[test]
fn a_boot_answer_changes_what_the_gate_admits() {
    let mut m = machine(OcppVersion::V16, None);
    m.set_registration(RegistrationStatus::Pending);
    assert_eq!(m.registration(), PENDING);
    assert!(m.admit("Heartbeat", false).is_err());
    m.set_registration(RegistrationStatus::Accepted);
    assert_eq!(m.registration(), ACCEPTED);
    assert!(m.admit("Heartbeat", false).is_ok());
}

// TriggerMessage.

const TRIGGER_STATUS: &str = r#"{"requestedMessage":"StatusNotification"}"#;

/// A Pending 1.6 station whose TriggerMessage (`payload`) was answered with `answer_text`.
fn triggered(payload: &str, answer_text: &str) -> TestMachine {
    let mut m = machine(OcppVersion::V16, PENDING);
    let started = m.start_call("TriggerMessage".to_string(), payload, 1, at(0));
    assert_eq!(started.id, "strom-1");
    let settle = match m.on_text(answer_text, at(1)) {
        Inbound::Answer { settle, .. } => settle,
        Inbound::Malformed { settle, .. } => settle,
        Inbound::Call(c) => panic!("expected an answer, got {c:?}"),
    };
    assert!(settle.is_some(), "{answer_text} answers the trigger");
    m
}

#[test]
fn b02_fr_05_an_accepted_trigger_lets_a_pending_station_send_exactly_the_requested_message() {
    let m = triggered(TRIGGER_STATUS, r#"[3,"strom-1",{"status":"Accepted"}]"#);
    assert!(m.admit("StatusNotification", false).is_ok());
    // 1.6 sends one StatusNotification per connector for a trigger without connectorId.
    assert!(m.admit("StatusNotification", false).is_ok());
    for other in ["Heartbeat", "MeterValues", "Authorize", "StartTransaction"] {
        security_error(m.admit(other, false));
    }
}

#[test]
fn a_trigger_not_accepted_unlocks_nothing() {
    for answer_text in [
        r#"[3,"strom-1",{"status":"Rejected"}]"#,
        r#"[3,"strom-1",{"status":"NotImplemented"}]"#,
        r#"[3,"strom-1",{}]"#,
        r#"[4,"strom-1","NotSupported","",{}]"#,
        r#"[3,"strom-1","Accepted"]"#,
    ] {
        let m = triggered(TRIGGER_STATUS, answer_text);
        assert!(m.admit("StatusNotification", false).is_err(), "{answer_text}");
    }
}

#[test]
fn an_accepted_answer_to_another_call_unlocks_nothing() {
    let mut m = machine(OcppVersion::V16, PENDING);
    m.start_call("ChangeConfiguration".to_string(), r#"{"key":"StatusNotification","value":"1"}"#, 1, at(0));
    assert!(answer(&mut m, r#"[3,"strom-1",{"status":"Accepted"}]"#, at(1)).is_some());
    assert!(m.admit("StatusNotification", false).is_err());
}

#[test]
fn a_new_registration_ends_what_a_trigger_allowed() {
    let mut m = triggered(TRIGGER_STATUS, r#"[3,"strom-1",{"status":"Accepted"}]"#);
    m.set_registration(RegistrationStatus::Pending);
    assert!(m.admit("StatusNotification", false).is_err());
}

#[test]
fn a_late_accepted_trigger_unlocks_nothing() {
    let mut m = machine(OcppVersion::V16, PENDING);
    m.start_call("TriggerMessage".to_string(), TRIGGER_STATUS, 1, at(0));
    assert!(answer(&mut m, r#"[3,"strom-1",{"status":"Accepted"}]"#, at(30)).is_none());
    assert!(m.admit("StatusNotification", false).is_err());
}

#[test]
fn a_certificate_trigger_unlocks_sign_certificate() {
    for (version, action, requested) in [
        (OcppVersion::V16, "ExtendedTriggerMessage", "SignChargePointCertificate"),
        (OcppVersion::V201, "TriggerMessage", "SignChargingStationCertificate"),
        (OcppVersion::V201, "TriggerMessage", "SignV2GCertificate"),
    ] {
        let mut m = machine(version, PENDING);
        let payload = format!(r#"{{"requestedMessage":"{requested}"}}"#);
        m.start_call(action.to_string(), &payload, 1, at(0));
        assert!(answer(&mut m, r#"[3,"strom-1",{"status":"Accepted"}]"#, at(1)).is_some());
        assert!(m.admit("SignCertificate", false).is_ok(), "{action} {requested}");
        assert!(m.admit(requested, false).is_err(), "{action} {requested}");
    }
}

#[test]
fn a_trigger_for_an_unknown_message_unlocks_nothing() {
    let m = triggered(r#"{"requestedMessage":"Authorize"}"#, r#"[3,"strom-1",{"status":"Accepted"}]"#);
    assert!(m.admit("Authorize", false).is_err());
}

// The CSMS's CALL in flight.

#[test]
fn csms_calls_are_numbered_and_framed() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    let first = m.start_call("Reset".to_string(), r#"{"type":"Hard"}"#, 1, at(0));
    assert_eq!(
        first,
        Started {
            id: "strom-1".to_string(),
            frame: r#"[2,"strom-1","Reset",{"type":"Hard"}]"#.to_string(),
            stale: None
        }
    );
    assert!(answer(&mut m, r#"[3,"strom-1",{"status":"Accepted"}]"#, at(1)).is_some());
    let second = m.start_call("ClearCache".to_string(), "{}", 2, at(2));
    assert_eq!(second.id, "strom-2");
    assert_eq!(second.frame, r#"[2,"strom-2","ClearCache",{}]"#);
    assert_eq!(second.stale, None);
}

#[test]
fn a_call_result_settles_the_pending_call_once() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    m.start_call("Reset".to_string(), r#"{"type":"Soft"}"#, 7, at(0));
    let settle = answer(&mut m, r#"[3, "strom-1", {"status":"Rejected"}]"#, at(29)).expect("answers the call");
    assert_eq!(
        settle,
        Settle {
            id: "strom-1".to_string(),
            action: "Reset".to_string(),
            reply: 7,
            result: Ok(CallReply::Result(r#"{"status":"Rejected"}"#.to_string())),
        }
    );
    assert_eq!(m.deadline(), None);
    assert_eq!(answer(&mut m, r#"[3,"strom-1",{"status":"Rejected"}]"#, at(29)), None);
}

#[test]
fn a_call_error_settles_with_its_code_and_description() {
    let mut m = machine(OcppVersion::V201, ACCEPTED);
    m.start_call("Reset".to_string(), r#"{"type":"Immediate"}"#, 7, at(0));
    let settle = answer(&mut m, r#"[4,"strom-1","NotSupported","no resets here",{}]"#, at(1)).expect("answers");
    assert_eq!(
        settle.result,
        Ok(CallReply::Error { code: "NotSupported".to_string(), description: "no resets here".to_string() })
    );
}

#[test]
fn rpc_18_an_answer_with_an_unknown_id_is_dropped_and_the_pending_call_waits() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    m.start_call("ClearCache".to_string(), "{}", 1, at(0));
    match m.on_text(r#"[3,"nobody-asked",{"status":"Accepted"}]"#, at(1)) {
        Inbound::Answer { id, settle: None } => assert_eq!(id, "nobody-asked"),
        other => panic!("expected a dropped answer, got {other:?}"),
    }
    assert_eq!(answer(&mut m, r#"[4,"strom-9","GenericError","",{}]"#, at(1)), None);
    assert_eq!(m.deadline(), Some(at(30)));
    assert!(answer(&mut m, r#"[3,"strom-1",{"status":"Accepted"}]"#, at(2)).is_some());
}

#[test]
fn rpc_18_an_answer_with_no_call_pending_is_dropped() {
    let mut m = machine(OcppVersion::V201, ACCEPTED);
    assert_eq!(answer(&mut m, r#"[3,"strom-1",{}]"#, at(0)), None);
    assert_eq!(answer(&mut m, r#"[4,"strom-1","GenericError","",{}]"#, at(0)), None);
}

#[test]
fn rpc_17_an_unanswered_call_times_out_at_its_deadline() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    m.start_call("GetConfiguration".to_string(), "{}", 3, at(10));
    assert_eq!(m.deadline(), Some(at(40)));
    assert_eq!(m.tick(at(39)), None);
    let expired = m.tick(at(40)).expect("timed out");
    assert_eq!(expired.reply, 3);
    assert_eq!(expired.id, "strom-1");
    assert_eq!(expired.result, Err(CallError::Timeout(TIMEOUT)));
    assert_eq!(m.deadline(), None);
    assert_eq!(m.tick(at(100)), None);
    // The answer that comes after all is dropped.
    assert_eq!(answer(&mut m, r#"[3,"strom-1",{"configurationKey":[]}]"#, at(41)), None);
}

#[test]
fn rpc_17_an_answer_after_the_deadline_is_dropped_even_before_the_tick() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    m.start_call("GetConfiguration".to_string(), "{}", 3, at(0));
    assert_eq!(answer(&mut m, r#"[3,"strom-1",{}]"#, at(30)), None);
    assert_eq!(m.tick(at(30)).map(|s| s.result), Some(Err(CallError::Timeout(TIMEOUT))));
}

#[test]
fn rpc_15_a_new_call_ends_a_stale_one_as_a_timeout() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    m.start_call("ClearCache".to_string(), "{}", 1, at(0));
    let second = m.start_call("ClearCache".to_string(), "{}", 2, at(31));
    let stale = second.stale.expect("the first call was still pending");
    assert_eq!((stale.id.as_str(), stale.reply), ("strom-1", 1));
    assert_eq!(stale.result, Err(CallError::Timeout(TIMEOUT)));
    assert_eq!(m.deadline(), Some(at(61)));
    assert_eq!(answer(&mut m, r#"[3,"strom-1",{"status":"Accepted"}]"#, at(32)), None);
    let settle = answer(&mut m, r#"[3,"strom-2",{"status":"Accepted"}]"#, at(32)).expect("answers the second");
    assert_eq!(settle.reply, 2);
}

#[test]
fn a_disconnect_ends_the_pending_call() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    assert_eq!(m.disconnect(), None);
    m.start_call("ClearCache".to_string(), "{}", 4, at(0));
    let ended = m.disconnect().expect("pending");
    assert_eq!((ended.reply, ended.result), (4, Err(CallError::Disconnected)));
    assert_eq!(m.disconnect(), None);
}

#[test]
fn a_malformed_answer_to_the_pending_call_settles_it_unanswered() {
    for (text, message) in [
        (r#"[3,"strom-1","Accepted"]"#, "a CALLRESULT is [3, id, {payload}]"),
        (r#"[3,"strom-1",{"status":"Acc"#, "frame is not valid JSON"),
        (r#"[4,"strom-1",5,"",{}]"#, "a CALLERROR is [4, id, code, description, {details}]"),
        (r#"[4,"strom-1","GenericError","oops"]"#, "a CALLERROR has 5 elements"),
    ] {
        let mut m = machine(OcppVersion::V201, ACCEPTED);
        m.start_call("ClearCache".to_string(), "{}", 5, at(0));
        let (reply, settle) = malformed(&mut m, text, at(1));
        assert_eq!(reply, Reply { frame: None, label: MALFORMED_LABEL, error_code: None }, "{text}");
        assert_eq!(reply.result_label(), "error");
        let settle = settle.expect("settles the pending call");
        assert_eq!(settle.reply, 5);
        match settle.result {
            Ok(CallReply::Malformed { frame, message: got }) => {
                assert_eq!(frame, text);
                assert!(got.starts_with(message), "{text}: {got}");
            }
            other => panic!("{text}: expected a malformed answer, got {other:?}"),
        }
        assert_eq!(m.deadline(), None);
    }
}

#[test]
fn a_malformed_answer_under_another_id_or_too_late_settles_nothing() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    m.start_call("ClearCache".to_string(), "{}", 5, at(0));
    let (reply, settle) = malformed(&mut m, r#"[3,"strom-0","Accepted"]"#, at(1));
    assert_eq!((reply.frame, settle), (None, None));
    let (reply, settle) = malformed(&mut m, r#"[3,"strom-1","Accepted"]"#, at(30));
    assert_eq!((reply.frame, settle), (None, None));
    assert_eq!(m.deadline(), Some(at(30)));
}

#[test]
fn a_malformed_call_under_the_pending_id_is_answered_and_settles_nothing() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    m.start_call("ClearCache".to_string(), "{}", 5, at(0));
    let (reply, settle) = malformed(&mut m, r#"[2,"strom-1","Heartbeat"]"#, at(1));
    assert_eq!(reply_error(&reply), ("strom-1".to_string(), "ProtocolError".to_string()));
    assert_eq!(settle, None);
    assert_eq!(m.deadline(), Some(at(30)));
}

// CALLERRORs for malformed frames.

#[test]
fn rpc_06_non_json_with_a_readable_id_is_a_formation_violation_in_the_versions_spelling() {
    for (version, code) in [(OcppVersion::V16, "FormationViolation"), (OcppVersion::V201, "FormatViolation")] {
        let mut m = machine(version, ACCEPTED);
        let (reply, settle) = malformed(&mut m, r#"[2,"m-1","Heartbeat",{"#, at(0));
        assert_eq!(reply_error(&reply), ("m-1".to_string(), code.to_string()), "{version:?}");
        assert_eq!((reply.label, reply.error_code, reply.result_label()), (MALFORMED_LABEL, Some(code), "error"));
        assert_eq!(settle, None);
    }
}

#[test]
fn rpc_06_an_unreadable_id_is_answered_under_minus_one() {
    for (version, code) in [(OcppVersion::V16, "ProtocolError"), (OcppVersion::V201, "RpcFrameworkError")] {
        for text in ["not json at all", r#"{"a":1}"#, r#"[2]"#] {
            let mut m = machine(version, ACCEPTED);
            let (reply, _) = malformed(&mut m, text, at(0));
            assert_eq!(reply_error(&reply), ("-1".to_string(), code.to_string()), "{version:?} {text}");
        }
    }
}

#[test]
fn rpc_07_an_unknown_message_type_is_answered_under_its_id() {
    for (version, code) in [(OcppVersion::V16, "ProtocolError"), (OcppVersion::V201, "MessageTypeNotSupported")] {
        let mut m = machine(version, ACCEPTED);
        let (reply, _) = malformed(&mut m, r#"[9,"m-7","Heartbeat",{}]"#, at(0));
        assert_eq!(reply_error(&reply), ("m-7".to_string(), code.to_string()), "{version:?}");
    }
}

#[test]
fn rpc_13_a_message_id_over_36_characters_is_refused() {
    let long = "x".repeat(37);
    let mut m = machine(OcppVersion::V201, ACCEPTED);
    let text = format!(r#"[2,"{long}","Heartbeat",{{}}]"#);
    let (reply, _) = malformed(&mut m, &text, at(0));
    assert_eq!(reply_error(&reply), (long, "PropertyConstraintViolation".to_string()));
    let ok = "x".repeat(36);
    let text = format!(r#"[2,"{ok}","Heartbeat",{{}}]"#);
    assert_eq!(call(&mut m, &text).id, ok);
}

#[test]
fn a_frame_that_is_not_a_call_payload_object_is_answered() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    let (reply, _) = malformed(&mut m, r#"[2,"m-2","Heartbeat",[]]"#, at(0));
    assert_eq!(reply_error(&reply), ("m-2".to_string(), "FormationViolation".to_string()));
}

// A station's CALL and its answer.

#[test]
fn a_plain_call_is_split_and_an_escaped_one_parsed() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    let plain = call(&mut m, r#" [2, "h-1", "Heartbeat", {"a":"b"}] "#);
    assert_eq!(
        (&*plain.id, &*plain.action, plain.payload, plain.checked),
        ("h-1", "Heartbeat", r#"{"a":"b"}"#, Checked::No)
    );
    let escaped = call(&mut m, r#"[2,"h\"2","Heartbeat",{}]"#);
    assert_eq!(
        (&*escaped.id, &*escaped.action, escaped.payload, escaped.checked),
        ("h\"2", "Heartbeat", "{}", Checked::Yes)
    );
    let reply = m.answer(&escaped, Ok(r#"{"currentTime":"2024-01-01T00:00:00Z"}"#.to_string()));
    assert_eq!(reply.frame.as_deref(), Some(r#"[3,"h\"2",{"currentTime":"2024-01-01T00:00:00Z"}]"#));
}

#[test]
fn a_call_result_carries_the_payload_under_the_calls_id() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    let c = call(&mut m, r#"[2,"h-1","Heartbeat",{}]"#);
    let reply = m.answer(&c, Ok(r#"{"currentTime":"2024-01-01T00:00:00Z"}"#.to_string()));
    assert_eq!(
        reply,
        Reply {
            frame: Some(r#"[3,"h-1",{"currentTime":"2024-01-01T00:00:00Z"}]"#.to_string()),
            label: "Heartbeat",
            error_code: None,
        }
    );
    assert_eq!(reply.result_label(), "ok");
}

#[test]
fn a_failure_is_answered_with_its_code_in_the_versions_spelling() {
    for (version, code) in [(OcppVersion::V16, "FormationViolation"), (OcppVersion::V201, "FormatViolation")] {
        let mut m = machine(version, ACCEPTED);
        let c = call(&mut m, r#"[2,"h-1","Heartbeat",{"bogus":1}]"#);
        let failure =
            CallFailure::Decode(DecodeError { code: ErrorCode::FormationViolation, message: "no".to_string() });
        let reply = m.answer(&c, Err(failure));
        assert_eq!(reply_error(&reply), ("h-1".to_string(), code.to_string()), "{version:?}");
        assert_eq!((reply.label, reply.error_code), ("Heartbeat", Some(code)));
    }
}

#[test]
fn rpc_08_an_unknown_action_is_not_implemented_and_no_metrics_label() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    let c = call(&mut m, r#"[2,"f-1","Foo",{}]"#);
    let reply = m.answer(&c, Err(CallFailure::UnknownAction("Foo".to_string())));
    assert_eq!(reply_error(&reply), ("f-1".to_string(), "NotImplemented".to_string()));
    assert_eq!(reply.label, UNKNOWN_LABEL);
}

#[test]
fn only_the_versions_own_actions_become_labels() {
    let v16 = machine(OcppVersion::V16, ACCEPTED);
    let v201 = machine(OcppVersion::V201, ACCEPTED);
    assert_eq!(v16.action_label("StartTransaction"), "StartTransaction");
    assert_eq!(v16.action_label("TransactionEvent"), UNKNOWN_LABEL);
    assert_eq!(v201.action_label("TransactionEvent"), "TransactionEvent");
    assert_eq!(v201.action_label("StartTransaction"), UNKNOWN_LABEL);
    assert_eq!(v201.action_label("heartbeat"), UNKNOWN_LABEL);
}

#[test]
fn a_refused_split_call_whose_frame_is_broken_is_answered_as_malformed() {
    let mut m = machine(OcppVersion::V16, PENDING);
    // Split by its layout, but the payload is not one JSON object: the frame is malformed.
    let c = call(&mut m, r#"[2,"b-1","Heartbeat",{"a":1}}]"#);
    assert_eq!(c.checked, Checked::No);
    let refused = m.admit(&c.action, false);
    let reply = m.answer(&c, refused.map(|()| "{}".to_string()));
    assert_eq!(reply_error(&reply), ("b-1".to_string(), "FormationViolation".to_string()));
    assert_eq!(reply.label, MALFORMED_LABEL);
}

#[test]
fn a_refused_split_call_whose_frame_is_sound_keeps_its_own_failure() {
    let mut m = machine(OcppVersion::V16, PENDING);
    let c = call(&mut m, r#"[2,"b-1","Heartbeat",{"a":1}]"#);
    let refused = m.admit(&c.action, false);
    let reply = m.answer(&c, refused.map(|()| "{}".to_string()));
    assert_eq!(reply_error(&reply), ("b-1".to_string(), "SecurityError".to_string()));
    assert_eq!(reply.label, "Heartbeat");
}

#[test]
fn an_accepted_split_call_is_not_parsed_again() {
    // The decoder's acceptance proves the frame well-formed, so nothing checks it a second time.
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    let c = call(&mut m, r#"[2,"b-1","Heartbeat",{"a":1}}]"#);
    let reply = m.answer(&c, Ok("{}".to_string()));
    assert_eq!(reply.frame.as_deref(), Some(r#"[3,"b-1",{}]"#));
}

// Ping silence.

#[test]
fn a_silent_station_is_pinged_twice_then_dropped() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    assert_eq!(m.on_ping_interval(), PingTick::Ping);
    assert_eq!(m.on_ping_interval(), PingTick::Ping);
    assert_eq!(m.on_ping_interval(), PingTick::Close);
}

#[test]
fn any_frame_from_the_station_restarts_the_silence() {
    let mut m = machine(OcppVersion::V16, ACCEPTED);
    assert_eq!(m.on_ping_interval(), PingTick::Ping);
    assert_eq!(m.on_ping_interval(), PingTick::Ping);
    m.heard();
    assert_eq!(m.on_ping_interval(), PingTick::Ping);
    assert_eq!(m.on_ping_interval(), PingTick::Ping);
    // A text frame counts, even a malformed one.
    let _ = m.on_text("garbage", at(0));
    assert_eq!(m.on_ping_interval(), PingTick::Ping);
    assert_eq!(m.on_ping_interval(), PingTick::Ping);
    assert_eq!(m.on_ping_interval(), PingTick::Close);
}
