//! OCPP-J RPC frames (CHECKLIST §1.1): `[2,id,action,payload]`, `[3,id,payload]` and
//! `[4,id,code,description,details]`. Parsing borrows from the received text and leaves the
//! payload as raw JSON, so that it is decoded exactly once, by the action's own type.

use crate::error::ErrorCode;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The two OCPP versions Ström speaks, named by their WebSocket subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcppVersion {
    V16,
    V201,
}

impl OcppVersion {
    pub fn subprotocol(self) -> &'static str {
        match self {
            OcppVersion::V16 => "ocpp1.6",
            OcppVersion::V201 => "ocpp2.0.1",
        }
    }

    pub fn from_subprotocol(name: &str) -> Option<OcppVersion> {
        match name.trim() {
            "ocpp1.6" => Some(OcppVersion::V16),
            "ocpp2.0.1" => Some(OcppVersion::V201),
            _ => None,
        }
    }
}

/// Message ids are at most 36 characters (a UUID) and never empty.
pub struct MessageId;

impl MessageId {
    pub const MAX_LEN: usize = 36;

    pub fn is_valid(id: &str) -> bool {
        !id.is_empty() && id.chars().count() <= Self::MAX_LEN
    }
}

/// A parsed frame; strings borrow from the input unless they contained escapes.
#[derive(Debug)]
pub enum Frame<'a> {
    Call { id: Cow<'a, str>, action: Cow<'a, str>, payload: &'a RawValue },
    CallResult { id: Cow<'a, str>, payload: &'a RawValue },
    CallError { id: Cow<'a, str>, code: Cow<'a, str>, description: Cow<'a, str>, details: &'a RawValue },
}

/// A frame that cannot be processed: the code to answer with and, when it could be read, the
/// message id to answer under (otherwise the reply goes out under `"-1"`, as libocpp does).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FrameError {
    pub id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
    /// False for a malformed CALLRESULT or CALLERROR: those are never answered (CHECKLIST §1.1).
    pub answerable: bool,
}

impl FrameError {
    fn new(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> FrameError {
        FrameError { id, code, message: message.into(), answerable: true }
    }

    fn unanswerable(mut self) -> FrameError {
        self.answerable = false;
        self
    }
}

fn string<'a>(raw: &'a RawValue) -> Option<Cow<'a, str>> {
    serde_json::from_str::<Cow<'a, str>>(raw.get()).ok()
}

impl<'a> Frame<'a> {
    pub fn parse(text: &'a str) -> Result<Frame<'a>, FrameError> {
        let parts: Vec<&'a RawValue> = match serde_json::from_str(text) {
            Ok(parts) => parts,
            Err(e) if e.is_syntax() || e.is_eof() => {
                let id = recover_message_id(text);
                let code = if id.is_some() { ErrorCode::FormationViolation } else { ErrorCode::RpcFrameworkError };
                let error = FrameError::new(id, code, format!("frame is not valid JSON: {e}"));
                // A broken answer is not answered either (CHECKLIST §1.1), only its sender's
                // pending call is settled by it.
                return Err(match recover_message_type(text) {
                    Some(3 | 4) => error.unanswerable(),
                    _ => error,
                });
            }
            Err(_) => {
                return Err(FrameError::new(None, ErrorCode::RpcFrameworkError, "frame is not a JSON array"));
            }
        };
        let id = parts.get(1).and_then(|raw| string(raw));
        let kind = parts.first().and_then(|raw| raw.get().parse::<u8>().ok());
        let Some(id) = id else {
            return Err(FrameError::new(None, ErrorCode::RpcFrameworkError, "message id missing or not a string"));
        };
        let owned_id = || Some(id.clone().into_owned());
        if !MessageId::is_valid(&id) {
            return Err(FrameError::new(
                owned_id(),
                ErrorCode::PropertyConstraintViolation,
                format!("message id must be 1 to {} characters", MessageId::MAX_LEN),
            ));
        }
        let is_object = |raw: &RawValue| raw.get().starts_with('{');
        match kind {
            Some(2) => {
                if parts.len() != 4 {
                    return Err(FrameError::new(owned_id(), ErrorCode::ProtocolError, "a CALL has 4 elements"));
                }
                let Some(action) = string(parts[2]) else {
                    return Err(FrameError::new(owned_id(), ErrorCode::ProtocolError, "action is not a string"));
                };
                if !is_object(parts[3]) {
                    return Err(FrameError::new(
                        owned_id(),
                        ErrorCode::FormationViolation,
                        "payload is not a JSON object",
                    ));
                }
                Ok(Frame::Call { id, action, payload: parts[3] })
            }
            Some(3) => {
                if parts.len() != 3 || !is_object(parts[2]) {
                    return Err(FrameError::new(
                        owned_id(),
                        ErrorCode::ProtocolError,
                        "a CALLRESULT is [3, id, {payload}]",
                    )
                    .unanswerable());
                }
                Ok(Frame::CallResult { id, payload: parts[2] })
            }
            Some(4) => {
                let (Some(code), Some(description)) =
                    (parts.get(2).and_then(|r| string(r)), parts.get(3).and_then(|r| string(r)))
                else {
                    return Err(FrameError::new(
                        owned_id(),
                        ErrorCode::ProtocolError,
                        "a CALLERROR is [4, id, code, description, {details}]",
                    )
                    .unanswerable());
                };
                let details = match parts.get(4) {
                    Some(d) if parts.len() == 5 => d,
                    _ => {
                        return Err(FrameError::new(owned_id(), ErrorCode::ProtocolError, "a CALLERROR has 5 elements")
                            .unanswerable())
                    }
                };
                Ok(Frame::CallError { id, code, description, details })
            }
            _ => Err(FrameError::new(owned_id(), ErrorCode::MessageTypeNotSupported, "unknown message type")),
        }
    }

    /// `[2,"id","Action",payload]`
    pub fn encode_call(id: &str, action: &str, payload: &str) -> String {
        // In one allocation, as answers are: a loader sends tens of thousands a second.
        let mut out = String::with_capacity(id.len() + action.len() + payload.len() + 12);
        out.push_str("[2,");
        push_json_string(&mut out, id);
        out.push_str(",\"");
        out.push_str(action);
        out.push_str("\",");
        out.push_str(payload);
        out.push(']');
        out
    }

    /// `[3,"id",payload]`
    pub fn encode_call_result(id: &str, payload: &str) -> String {
        // Built in one allocation: this is every answer's text.
        let mut out = String::with_capacity(id.len() + payload.len() + 8);
        out.push_str("[3,");
        push_json_string(&mut out, id);
        out.push(',');
        out.push_str(payload);
        out.push(']');
        out
    }

    /// `[4,"id","code","description",{}]`: always five elements, details always an object.
    pub fn encode_call_error(id: &str, code: &str, description: &str) -> String {
        format!("[4,{},{},{},{{}}]", json_string(id), json_string(code), json_string(description))
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    out
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// JSON's whitespace (RFC 8259 §2), which is narrower than Unicode's.
const JSON_SPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// A CALL's id, action and payload text read without a pass over the payload, when the frame is
/// laid out plainly: `[2, "id", "Action", {…}]` with an id and action free of escapes. `None`
/// for anything else, which [`Frame::parse`] then reads.
///
/// The payload text is unchecked: it is exactly one JSON object, and so the frame a well-formed
/// CALL, when the action's decoder accepts it (a JSON parser refuses trailing text). When the
/// decoder refuses it, [`Frame::parse`] tells whether the frame itself is malformed. This spares
/// every valid CALL the second parse of its payload that [`Frame::parse`]'s `RawValue` costs.
pub fn split_call(text: &str) -> Option<(&str, &str, &str)> {
    let rest = text.trim_start_matches(JSON_SPACE).strip_prefix('[')?;
    let rest = rest.trim_start_matches(JSON_SPACE).strip_prefix('2')?;
    let rest = rest.trim_start_matches(JSON_SPACE).strip_prefix(',')?;
    let (id, rest) = plain_string(rest)?;
    let rest = rest.trim_start_matches(JSON_SPACE).strip_prefix(',')?;
    let (action, rest) = plain_string(rest)?;
    let rest = rest.trim_start_matches(JSON_SPACE).strip_prefix(',')?;
    let payload = rest.trim_end_matches(JSON_SPACE).strip_suffix(']')?.trim_matches(JSON_SPACE);
    (payload.starts_with('{') && payload.ends_with('}') && MessageId::is_valid(id)).then_some((id, action, payload))
}

/// A JSON string without escapes or control characters, after optional whitespace, and the
/// text after it.
fn plain_string(text: &str) -> Option<(&str, &str)> {
    let rest = text.trim_start_matches(JSON_SPACE).strip_prefix('"')?;
    let end = rest.find(|c: char| c == '"' || c == '\\' || c < ' ')?;
    rest[end..].starts_with('"').then(|| (&rest[..end], &rest[end + 1..]))
}

/// Reads the message type out of text that is not valid JSON but starts like a frame (`[3, …`).
fn recover_message_type(text: &str) -> Option<u8> {
    let rest = text.trim_start().strip_prefix('[')?.trim_start();
    let digit = rest.chars().next()?.to_digit(10)?;
    let after = rest[1..].trim_start();
    after.starts_with(',').then_some(digit as u8)
}

/// Reads the message id out of text that is not valid JSON but starts like a frame
/// (`[2, "id", ...`), so that the error can be answered under the sender's id (CONFORMANCE RPC-06).
pub fn recover_message_id(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix('[')?.trim_start();
    let rest = rest.strip_prefix(|c: char| c.is_ascii_digit())?.trim_start();
    let rest = rest.strip_prefix(',')?.trim_start().strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    let id = &rest[..end];
    (rest[end..].starts_with('"') && MessageId::is_valid(id)).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> FrameError {
        Frame::parse(text).expect_err("must be refused")
    }

    #[test]
    fn plain_calls_are_split_without_parsing_the_payload() {
        assert_eq!(
            split_call(" [2, \"a1\" ,\"MeterValues\",\t{\"connectorId\":1} ]\n"),
            Some(("a1", "MeterValues", "{\"connectorId\":1}"))
        );
        // Left to the full parser: other message types, escapes, odd layouts, long ids.
        for text in [
            r#"[3,"a1",{}]"#,
            r#"[20,"a1","Heartbeat",{}]"#,
            r#"[2,"a\"1","Heartbeat",{}]"#,
            r#"[2,"a1","Heart\u0062eat",{}]"#,
            r#"[2,"a1","Heartbeat",[]]"#,
            r#"[2,"a1","Heartbeat"]"#,
            r#"[2,"a1","Heartbeat",{}"#,
            "[2,\"a\u{1}1\",\"Heartbeat\",{}]",
            "\u{a0}[2,\"a1\",\"Heartbeat\",{}]",
            r#"[2,"0123456789012345678901234567890123456","Heartbeat",{}]"#,
        ] {
            assert_eq!(split_call(text), None, "{text}");
        }
        // A payload candidate that is not one object is split; the decoder refuses it, and the
        // full parser then finds the frame malformed.
        let text = r#"[2,"a1","Heartbeat",{}, {}]"#;
        assert_eq!(split_call(text), Some(("a1", "Heartbeat", "{}, {}")));
        assert!(serde_json::from_str::<serde_json::Value>("{}, {}").is_err());
        assert_eq!(err(text).code, ErrorCode::ProtocolError);
    }

    #[test]
    fn parses_the_three_frame_kinds() {
        match Frame::parse(r#"[2,"a1","Heartbeat",{}]"#).expect("call") {
            Frame::Call { id, action, payload } => {
                assert_eq!((id.as_ref(), action.as_ref(), payload.get()), ("a1", "Heartbeat", "{}"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(Frame::parse(r#"[3,"a1",{"x":1}]"#), Ok(Frame::CallResult { .. })));
        assert!(matches!(Frame::parse(r#"[4,"a1","NotSupported","",{}]"#), Ok(Frame::CallError { .. })));
    }

    #[test]
    fn malformed_frames_get_the_right_code() {
        let cases: &[(&str, Option<&str>, ErrorCode)] = &[
            (r#"[2,"ab","Heartbeat",{"#, Some("ab"), ErrorCode::FormationViolation),
            ("hello", None, ErrorCode::RpcFrameworkError),
            (r#"{"a":1}"#, None, ErrorCode::RpcFrameworkError),
            (r#"[2,17,"Heartbeat",{}]"#, None, ErrorCode::RpcFrameworkError),
            (r#"[9,"ab","Heartbeat",{}]"#, Some("ab"), ErrorCode::MessageTypeNotSupported),
            (r#"[2,"ab","Heartbeat"]"#, Some("ab"), ErrorCode::ProtocolError),
            (r#"[2,"ab",7,{}]"#, Some("ab"), ErrorCode::ProtocolError),
            (r#"[2,"ab","Heartbeat",[]]"#, Some("ab"), ErrorCode::FormationViolation),
            (r#"[2,"","Heartbeat",{}]"#, Some(""), ErrorCode::PropertyConstraintViolation),
            (r#"[4,"ab","X","d"]"#, Some("ab"), ErrorCode::ProtocolError),
            (r#"[3,"ab"]"#, Some("ab"), ErrorCode::ProtocolError),
            (r#"[3,"ab",null]"#, Some("ab"), ErrorCode::ProtocolError),
            (r#"[4,"ab",null,"x",{}]"#, Some("ab"), ErrorCode::ProtocolError),
            (r#"[3,"ab",{"status":"#, Some("ab"), ErrorCode::FormationViolation),
            (r#"[4, "ab","GenericError""#, Some("ab"), ErrorCode::FormationViolation),
        ];
        for (text, id, code) in cases {
            let e = err(text);
            assert_eq!((e.id.as_deref(), e.code), (*id, *code), "{text}");
            assert_eq!(e.answerable, !text.starts_with("[3") && !text.starts_with("[4"), "{text}");
        }
    }

    #[test]
    fn message_id_length_limit_is_36() {
        let ok = "x".repeat(36);
        assert!(Frame::parse(&format!(r#"[2,"{ok}","Heartbeat",{{}}]"#)).is_ok());
        let long = "x".repeat(37);
        let e = err(&format!(r#"[2,"{long}","Heartbeat",{{}}]"#));
        assert_eq!(e.code, ErrorCode::PropertyConstraintViolation);
        assert_eq!(e.id.as_deref(), Some(long.as_str()));
    }

    #[test]
    fn encoded_frames_escape_strings_and_keep_five_elements() {
        let e = Frame::encode_call_error("i\"d", "GenericError", "line\nbreak");
        let v: serde_json::Value = serde_json::from_str(&e).expect("valid JSON");
        assert_eq!(v, serde_json::json!([4, "i\"d", "GenericError", "line\nbreak", {}]));
        let c = Frame::encode_call("1", "Reset", r#"{"type":"Hard"}"#);
        assert_eq!(c, r#"[2,"1","Reset",{"type":"Hard"}]"#);
        let r = Frame::encode_call_result("a\\b\u{1}", r#"{"status":"Accepted"}"#);
        assert_eq!(r, r#"[3,"a\\b\u0001",{"status":"Accepted"}]"#);
        let v: serde_json::Value = serde_json::from_str(&r).expect("valid JSON");
        assert_eq!(v, serde_json::json!([3, "a\\b\u{1}", {"status": "Accepted"}]));
    }
}
