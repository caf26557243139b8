//! Fuzzing on stable Rust, bounded in time. Frames are built from samples of the official
//! schemas (every action of both versions, request and response, with every optional property
//! and with the required ones only), mutated as JSON and as text, and fed to the frame splitter
//! (`split_call`), `Frame::parse` and the action's payload decoder. Nothing may panic, and what
//! is accepted must hold together:
//! - a payload a decoder accepts re-encodes to JSON that decodes to the same value, and that
//!   JSON validates against the official schema (the decoders are strict);
//! - a CALL that `split_call` splits and whose payload the decoder accepts is a well-formed
//!   frame to `Frame::parse`, with the same id, action and payload (what lets the session skip
//!   the full parse).
//!
//! `STROM_FUZZ_SECONDS` bounds the run (default 10), `STROM_FUZZ_SEED` picks the sequence (a
//! failure prints both, and the frame). A frame that ever broke a property goes into
//! `REGRESSIONS`, which run first, every time.

use ocpp::{Frame, OcppVersion};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Frames that once broke a property, each checked as a frame of both versions.
const REGRESSIONS: &[&str] = &[
    // 1.6 `format: uri` was not checked: a GetDiagnostics location that is no URI was accepted.
    r#"[2,"fz-1","GetDiagnostics",{"location":"2026-13-45T99:99:99Z"}]"#,
];

/// One seed: a payload sample of an action's request or response.
struct Seed {
    version: OcppVersion,
    action: &'static str,
    response: bool,
    payload: Value,
}

fn seeds() -> Vec<Seed> {
    let mut out = Vec::new();
    let mut add = |version: OcppVersion, dir: &'static str, action: &'static str| {
        for response in [false, true] {
            let schema = testkit::load_schema(dir, &testkit::schema_file(dir, action, response));
            for full in [true, false] {
                out.push(Seed { version, action, response, payload: testkit::sample(&schema, full) });
            }
        }
    };
    for &a in ocpp::v16::Action::ALL {
        add(OcppVersion::V16, "v16", a.as_str());
    }
    for &a in ocpp::v201::Action::ALL {
        add(OcppVersion::V201, "v201", a.as_str());
    }
    out
}

/// xorshift64: a fixed sequence per seed, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Values that break types, ranges, lengths, formats and nesting.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(16) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(0),
        3 => json!(-1),
        4 => json!(1e308),
        5 => json!(2.5),
        6 => json!(""),
        7 => json!("x".repeat(600)),
        8 => json!([]),
        9 => json!({}),
        10 => json!("2026-13-45T99:99:99Z"),
        11 => json!(i64::MAX),
        12 => json!("\u{0}\u{7f}\u{feff}é"),
        13 => {
            let mut deep = json!(1);
            for _ in 0..200 {
                deep = json!([deep]);
            }
            deep
        }
        14 => json!(u64::MAX),
        _ => json!("Accepted"),
    }
}

/// Changes one place of `value`: a node replaced, a property removed or added, an enum-like
/// string mangled.
fn mutate_json(value: &mut Value, rng: &mut Rng) {
    // A place a few levels down, picked at random, as a JSON pointer.
    let mut pointer = String::new();
    let mut node = &*value;
    for _ in 0..rng.below(4) {
        let step = match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(rng.below(map.len())).expect("a key");
                Some((key.replace('~', "~0").replace('/', "~1"), &map[key]))
            }
            Value::Array(items) if !items.is_empty() => {
                let i = rng.below(items.len());
                Some((i.to_string(), &items[i]))
            }
            _ => None,
        };
        let Some((part, next)) = step else { break };
        pointer.push('/');
        pointer.push_str(&part);
        node = next;
    }
    let at = value.pointer_mut(&pointer).expect("the place just walked to");
    match (rng.below(4), &mut *at) {
        (0, Value::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned().expect("a key");
            map.remove(&key);
        }
        (1, Value::Object(map)) => {
            map.insert(["unknownProperty", "customData", "", "status"][rng.below(4)].to_string(), odd_value(rng));
        }
        (2, Value::String(s)) => *s = if rng.below(2) == 0 { s.to_lowercase() } else { format!("{s} ") },
        _ => *at = odd_value(rng),
    }
}

/// The character boundary at or before `at`.
fn boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Edits `text` as bytes of JSON: pieces inserted, ranges removed or copied elsewhere.
fn mutate_text(text: &mut String, rng: &mut Rng) {
    const PIECES: &[&str] = &[
        "\"", "\\", ",", ":", "{", "}", "[", "]", " ", "null", "1", "-", "1e999", "\\u0041", "\\ud800", "\u{e9}",
        "\u{1f}", "\"x\":1", "2,", "]]", "[[",
    ];
    let at = boundary(text, rng.below(text.len() + 1));
    match rng.below(3) {
        0 => text.insert_str(at, PIECES[rng.below(PIECES.len())]),
        1 => {
            let end = boundary(text, (at + 1 + rng.below(8)).min(text.len()));
            text.replace_range(at..end, "");
        }
        _ => {
            let end = boundary(text, (at + rng.below(24)).min(text.len()));
            let copy = text[at..end].to_string();
            let to = boundary(text, rng.below(text.len() + 1));
            text.insert_str(to, &copy);
        }
    }
}

/// The payload decoded as `action`'s request or response of `version`, re-encoded; `None` when
/// the decoder refuses it (or the action is unknown).
fn decode(version: OcppVersion, action: &str, response: bool, payload: &str) -> Option<(String, String)> {
    let encode = |first: Result<String, serde_json::Error>, again: &dyn Fn(&str) -> Option<String>| {
        let first = first.expect("a decoded message encodes");
        let second = again(&first).unwrap_or_else(|| panic!("its own encoding is refused: {first}"));
        (first, second)
    };
    Some(match (version, response) {
        (OcppVersion::V16, false) => {
            use ocpp::v16::{Action, Request};
            let a = Action::from_name(action)?;
            let decoded = Request::decode(a, payload).ok()?;
            encode(decoded.to_json(), &|text| Request::decode(a, text).ok().map(|r| r.to_json().expect("encodes")))
        }
        (OcppVersion::V16, true) => {
            use ocpp::v16::{Action, Response};
            let a = Action::from_name(action)?;
            let decoded = Response::decode(a, payload).ok()?;
            encode(decoded.to_json(), &|text| Response::decode(a, text).ok().map(|r| r.to_json().expect("encodes")))
        }
        (OcppVersion::V201, false) => {
            use ocpp::v201::{Action, Request};
            let a = Action::from_name(action)?;
            let decoded = Request::decode(a, payload).ok()?;
            encode(decoded.to_json(), &|text| Request::decode(a, text).ok().map(|r| r.to_json().expect("encodes")))
        }
        (OcppVersion::V201, true) => {
            use ocpp::v201::{Action, Response};
            let a = Action::from_name(action)?;
            let decoded = Response::decode(a, payload).ok()?;
            encode(decoded.to_json(), &|text| Response::decode(a, text).ok().map(|r| r.to_json().expect("encodes")))
        }
    })
}

/// Checks an accepted payload: stable when re-encoded, and valid by the official schema.
fn check_accepted(version: OcppVersion, action: &str, response: bool, payload: &str) -> bool {
    let Some((first, second)) = decode(version, action, response, payload) else { return false };
    assert_eq!(first, second, "{action} re-encodes differently: {payload}");
    let dir = if version == OcppVersion::V16 { "v16" } else { "v201" };
    let value: Value = serde_json::from_str(&first).expect("JSON");
    if let Err(e) = testkit::validate(dir, action, response, &value) {
        panic!("{action} accepted a payload the schema refuses: {payload}\n(re-encoded {first}): {e}");
    }
    true
}

/// Runs every target on one frame of `version`; `response_to` names the action a CALLRESULT
/// answers. Returns whether some decoder accepted a payload.
fn check_frame(version: OcppVersion, text: &str, response_to: &str) -> bool {
    let mut accepted = false;
    let parsed = Frame::parse(text);
    if let Some((id, action, payload)) = ocpp::split_call(text) {
        if decode(version, action, false, payload).is_some() {
            match &parsed {
                Ok(Frame::Call { id: pid, action: paction, payload: pp }) => {
                    assert_eq!((pid.as_ref(), paction.as_ref(), pp.get()), (id, action, payload), "{text}");
                }
                other => panic!("split and decoded, but Frame::parse says {other:?}: {text}"),
            }
        }
    }
    match &parsed {
        Ok(Frame::Call { action, payload, .. }) => accepted |= check_accepted(version, action, false, payload.get()),
        Ok(Frame::CallResult { payload, .. }) => accepted |= check_accepted(version, response_to, true, payload.get()),
        Ok(Frame::CallError { .. }) | Err(_) => {}
    }
    accepted
}

fn frame(seed: &Seed, payload: &str) -> String {
    if seed.response {
        format!(r#"[3,"fz-1",{payload}]"#)
    } else {
        format!(r#"[2,"fz-1","{}",{payload}]"#, seed.action)
    }
}

#[test]
fn regressions_stay_fixed() {
    for text in REGRESSIONS {
        check_frame(OcppVersion::V16, text, "Heartbeat");
        check_frame(OcppVersion::V201, text, "Heartbeat");
    }
}

#[test]
fn mutated_frames_of_every_action_break_nothing() {
    let seconds = std::env::var("STROM_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10u64);
    let seed = std::env::var("STROM_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x2545_f491_4f6c_dd1d);
    eprintln!("fuzzing for {seconds} s with STROM_FUZZ_SEED={seed}");
    let seeds = seeds();
    let mut rng = Rng(seed);
    let until = Instant::now() + Duration::from_secs(seconds);
    let (mut rounds, mut accepted) = (0u64, 0u64);
    // The samples themselves first: every one is accepted.
    for s in &seeds {
        assert!(check_frame(s.version, &frame(s, &s.payload.to_string()), s.action), "{} refused", s.action);
    }
    while Instant::now() < until || rounds < 1_000 {
        let s = &seeds[rng.below(seeds.len())];
        let mut payload = s.payload.clone();
        for _ in 0..1 + rng.below(3) {
            mutate_json(&mut payload, &mut rng);
        }
        let mut text = frame(s, &payload.to_string());
        if rng.below(3) == 0 {
            for _ in 0..1 + rng.below(3) {
                mutate_text(&mut text, &mut rng);
            }
        }
        let outcome = std::panic::catch_unwind(|| check_frame(s.version, &text, s.action));
        match outcome {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("round {rounds} (STROM_FUZZ_SEED={seed}), add to REGRESSIONS: {text:?}\n{message}");
            }
        }
        rounds += 1;
    }
    eprintln!("{rounds} frames, {accepted} accepted by a decoder");
    // Both kinds occur, or the mutations are too timid or too wild to test the decoders.
    assert!(accepted > rounds / 50 && accepted < rounds, "{accepted} of {rounds} accepted");
}
