//! Building blocks the generated messages share: the date-time type, schema constraint checks
//! that serde cannot express, and strict payload decoding.

use crate::error::{DecodeError, ErrorCode};
use serde::de::{DeserializeOwned, Error as _, Unexpected};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Which side of the connection sends an action's CALL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Station,
    Csms,
    Both,
}

/// An OCPP date-time. Any RFC 3339 offset is accepted on input; output is always UTC with
/// exactly three fractional digits (CHECKLIST §1.5), which every known firmware parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(pub chrono::DateTime<chrono::Utc>);

impl DateTime {
    pub fn parse(text: &str) -> Option<DateTime> {
        chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| DateTime(t.with_timezone(&chrono::Utc)))
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

impl From<chrono::DateTime<chrono::Utc>> for DateTime {
    fn from(t: chrono::DateTime<chrono::Utc>) -> Self {
        DateTime(t)
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse(&text).ok_or_else(|| D::Error::invalid_value(Unexpected::Str(&text), &"an RFC 3339 date-time"))
    }
}

/// A schema constraint the payload breaks, with the JSON path to the offending value.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub path: Vec<&'static str>,
    pub kind: ViolationKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ViolationKind {
    TooLong {
        max: u64,
    },
    OutOfRange,
    NotMultipleOf(f64),
    ItemCount {
        min: Option<u64>,
        max: Option<u64>,
    },
    /// Not a URI by RFC 3986 (the schema's `format: uri`).
    NotUri,
}

impl Violation {
    fn at(field: &'static str, kind: ViolationKind) -> Violation {
        Violation { path: vec![field], kind }
    }

    /// Prefixes the path with the enclosing property (paths are built only on failure).
    pub fn within(mut self, field: &'static str) -> Violation {
        self.path.insert(0, field);
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.join(".");
        match &self.kind {
            ViolationKind::TooLong { max } => write!(f, "{path} is longer than {max} characters"),
            ViolationKind::OutOfRange => write!(f, "{path} is out of its allowed range"),
            ViolationKind::NotMultipleOf(step) => write!(f, "{path} is not a multiple of {step}"),
            ViolationKind::NotUri => write!(f, "{path} is not a URI (RFC 3986)"),
            ViolationKind::ItemCount { min, max } => {
                write!(
                    f,
                    "{path} must have between {} and {} items",
                    min.unwrap_or(0),
                    max.map_or("any".to_string(), |m| m.to_string())
                )
            }
        }
    }
}

/// Schema constraints that serde's derive cannot check (lengths, ranges, item counts).
pub trait Validate {
    fn validate(&self) -> Result<(), Violation>;
}

impl<T: Validate> Validate for Vec<T> {
    fn validate(&self) -> Result<(), Violation> {
        self.iter().try_for_each(Validate::validate)
    }
}

pub(crate) fn check_max_len(s: &str, max: u64, field: &'static str) -> Result<(), Violation> {
    // JSON Schema counts code points; the byte length is an upper bound that settles most cases.
    if s.len() as u64 > max && s.chars().count() as u64 > max {
        return Err(Violation::at(field, ViolationKind::TooLong { max }));
    }
    Ok(())
}

pub(crate) fn check_range(
    x: f64,
    min: Option<f64>,
    max: Option<f64>,
    multiple_of: Option<f64>,
    field: &'static str,
) -> Result<(), Violation> {
    if min.is_some_and(|m| x < m) || max.is_some_and(|m| x > m) {
        return Err(Violation::at(field, ViolationKind::OutOfRange));
    }
    if let Some(step) = multiple_of {
        // 1.6 limits are `multipleOf: 0.1`; binary floats make 21.4 / 0.1 inexact, so the check
        // is done on the quotient with a tolerance (CHECKLIST §1.5).
        let q = x / step;
        if (q - q.round()).abs() > 1e-6 {
            return Err(Violation::at(field, ViolationKind::NotMultipleOf(step)));
        }
    }
    Ok(())
}

/// A value of a `format: uri` property must be an absolute URI by RFC 3986's grammar (scheme,
/// then `//authority` or not, path, query, fragment; characters outside the grammar only
/// percent-encoded). Stations refuse a request whose URI they cannot use, and so does Ström.
pub(crate) fn check_uri(s: &str, field: &'static str) -> Result<(), Violation> {
    if is_uri(s) {
        Ok(())
    } else {
        Err(Violation::at(field, ViolationKind::NotUri))
    }
}

fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else { return false };
    let mut scheme = scheme.chars();
    if !scheme.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !scheme.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return false;
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    let (hier, query) = match rest.split_once('?') {
        Some((hier, query)) => (hier, Some(query)),
        None => (rest, None),
    };
    let path = match hier.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            if !is_authority(&after[..end]) {
                return false;
            }
            &after[end..]
        }
        None => hier,
    };
    uri_chars(path, ":@/")
        && query.is_none_or(|q| uri_chars(q, ":@/?"))
        && fragment.is_none_or(|f| uri_chars(f, ":@/?"))
}

/// `[userinfo@]host[:port]`, the host a registered name or a bracketed IP literal.
fn is_authority(authority: &str) -> bool {
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    if !userinfo.is_none_or(|u| uri_chars(u, ":")) {
        return false;
    }
    let (host, port) = if let Some(literal) = host_port.strip_prefix('[') {
        let Some((inside, after)) = literal.split_once(']') else { return false };
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.')) {
            return false;
        }
        match after {
            "" => ("", None),
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    uri_chars(host, "") && port.is_none_or(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// Unreserved characters, sub-delimiters, `extra`, and `%` with two hex digits.
fn uri_chars(text: &str, extra: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'%' {
            if !(i + 2 < bytes.len() && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = c.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=".contains(&c)
            || (c.is_ascii() && extra.as_bytes().contains(&c));
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

pub(crate) fn check_items(n: usize, min: Option<u64>, max: Option<u64>, field: &'static str) -> Result<(), Violation> {
    let n = n as u64;
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        return Err(Violation::at(field, ViolationKind::ItemCount { min, max }));
    }
    Ok(())
}

/// Decodes a payload strictly. Each way it can fail maps to the CALLERROR code of
/// CHECKLIST §1.2: a missing property is an occurrence violation, a wrong JSON type a type
/// violation, a bad enum value or broken constraint a property violation, and an unknown
/// property (the schemas forbid them) a formation violation.
pub(crate) fn decode_payload<T: DeserializeOwned + Validate>(payload: &str) -> Result<T, DecodeError> {
    let value: T = serde_json::from_str(payload).map_err(|e| {
        let message = e.to_string();
        let code = if e.is_syntax() || e.is_eof() {
            // serde_json reports a non-string where an enum is expected as a syntax error;
            // only a payload that is not JSON at all is a formation violation.
            if serde_json::from_str::<serde::de::IgnoredAny>(payload).is_ok() {
                ErrorCode::TypeConstraintViolation
            } else {
                ErrorCode::FormationViolation
            }
        } else if message.starts_with("missing field") {
            ErrorCode::OccurenceConstraintViolation
        } else if message.starts_with("invalid type") {
            ErrorCode::TypeConstraintViolation
        } else if message.starts_with("unknown variant") || message.starts_with("invalid value") {
            ErrorCode::PropertyConstraintViolation
        } else {
            ErrorCode::FormationViolation
        };
        DecodeError { code, message }
    })?;
    checked(value)
}

/// `decode_payload` with a hand-written decoder tried first (`crate::fast`); serde decodes
/// what it declines.
pub(crate) fn decode_payload_fast<T: DeserializeOwned + Validate>(
    payload: &str,
    fast: fn(&str) -> Option<T>,
) -> Result<T, DecodeError> {
    match fast(payload) {
        Some(value) => checked(value),
        None => decode_payload(payload),
    }
}

/// A decoded payload once the schema constraints serde cannot express hold.
fn checked<T: Validate>(value: T) -> Result<T, DecodeError> {
    value
        .validate()
        .map_err(|v| DecodeError { code: ErrorCode::PropertyConstraintViolation, message: v.to_string() })?;
    Ok(value)
}

pub(crate) fn encode_payload<T: Serialize>(payload: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(payload)
}

#[cfg(test)]
mod uri_tests {
    use super::*;

    #[test]
    fn uris_follow_rfc_3986() {
        let cases = [
            ("ftp://files.example.com/up", true),
            ("https://user:pw@example.com:8443/a/b?x=1&y=%20#frag", true),
            ("ftp://[2001:db8::1]:21/diag", true),
            ("urn:ocpp:firmware:1.2", true),
            ("file:///var/log/station.tar.gz", true),
            ("2026-13-45T99:99:99Z", false),
            ("no scheme", false),
            ("ftp://files.example.com/a b", false),
            ("ftp://files.example.com/%zz", false),
            ("ftp://host:port/", false),
            ("ftp://host/[x]", false),
            ("ftp://[zz]/", false),
            ("://x", false),
            ("1ftp://x", false),
            ("ftp://h/é", false),
        ];
        for (uri, valid) in cases {
            assert_eq!(is_uri(uri), valid, "{uri}");
        }
    }
}
