//! How every list of the API is paged: `cursor`, `limit`, `from`, `to` in the query, and
//! `{"items": [...], "next_cursor": "…" | null}` in the answer. The cursor is the key of the
//! page's last row (the store reads by keyset, `csms_store::PageRequest`), written as hex of
//! `list:key` so that clients treat it as opaque and a cursor of one list is refused by another.

use crate::ApiError;
use csms_core::clock::{format_timestamp, parse_timestamp};
use csms_store::{Page, PageRequest};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Rows per page unless `limit` says otherwise, and the most a page may hold.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// The parameters every list takes.
const PAGING: [&str; 4] = ["cursor", "limit", "from", "to"];

/// A key a list is ordered by, as written into its cursor. `PATTERN` is a regular expression
/// over the lower-case hex of the key's text that matches exactly the texts `read` takes, so
/// that the OpenAPI document can give a cursor's whole format (`cursor_pattern`): a client or a
/// fuzzer that keeps to it never meets a 400.
pub(crate) trait CursorKey: Sized {
    const PATTERN: &'static str;
    fn write(&self) -> String;
    fn read(text: &str) -> Option<Self>;
}

/// Row ids: 1 to 18 decimal digits (ids start at 1; 18 digits always fit an `i64`).
impl CursorKey for i64 {
    const PATTERN: &'static str = "(3[0-9]){1,18}";
    fn write(&self) -> String {
        self.to_string()
    }
    fn read(text: &str) -> Option<i64> {
        if !(1..=18).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    }
}

/// Station ids and id tokens: any text of at least one character without NUL (a position in
/// the list's order, whether or not such a row exists); the pattern is the hex of one or more
/// UTF-8 characters other than NUL (RFC 3629 §4; PostgreSQL text holds no NUL).
impl CursorKey for String {
    const PATTERN: &'static str = concat!(
        "(0[1-9a-f]|[1-7][0-9a-f]|(c[2-9a-f]|d[0-9a-f])[89ab][0-9a-f]",
        "|e0[ab][0-9a-f][89ab][0-9a-f]|(e[1-9a-c]|e[ef])([89ab][0-9a-f]){2}|ed[89][0-9a-f][89ab][0-9a-f]",
        "|f0[9ab][0-9a-f]([89ab][0-9a-f]){2}|f[1-3]([89ab][0-9a-f]){3}|f48[0-9a-f]([89ab][0-9a-f]){2})+"
    );
    fn write(&self) -> String {
        self.clone()
    }
    fn read(text: &str) -> Option<String> {
        (!text.is_empty() && !text.contains('\0')).then(|| text.to_string())
    }
}

/// A reading's time and id, a space between: the time as `format_timestamp` writes it (a sign
/// and up to six year digits outside years 0-9999), `[+-]YYYY-MM-DDTHH:MM:SS.mmmZ`, digits
/// checked by place only (a position in the order, not necessarily a real instant).
impl CursorKey for (String, i64) {
    const PATTERN: &'static str =
        "(2b|2d)?(3[0-9]){4,6}2d(3[0-9]){2}2d(3[0-9]){2}54(3[0-9]){2}3a(3[0-9]){2}3a(3[0-9]){2}2e(3[0-9]){3}5a20(3[0-9]){1,18}";
    fn write(&self) -> String {
        format!("{} {}", self.0, self.1)
    }
    fn read(text: &str) -> Option<(String, i64)> {
        let (time, id) = text.split_once(' ')?;
        let unsigned = time.strip_prefix(['+', '-']).unwrap_or(time);
        let year = unsigned.find('-')?;
        let shape = format!("{}-dd-ddTdd:dd:dd.dddZ", "d".repeat(year));
        let fits = (4..=6).contains(&year)
            && unsigned.len() == shape.len()
            && unsigned.bytes().zip(shape.bytes()).all(|(c, s)| if s == b'd' { c.is_ascii_digit() } else { c == s });
        fits.then(|| time.to_string()).zip(i64::read(id))
    }
}

/// The whole format of list `list`'s cursors, as a regular expression for the document.
pub(crate) fn cursor_pattern<K: CursorKey>(list: &str) -> String {
    format!("^{}{}$", hex::encode(format!("{list}:")), K::PATTERN)
}

/// Reads the paging parameters of list `list`, refusing any parameter that is neither paging
/// nor one of `filters` (an old `before` or `offset` would otherwise be ignored in silence).
pub(crate) fn request<K: CursorKey>(
    list: &str,
    params: &HashMap<String, String>,
    filters: &[&str],
) -> Result<PageRequest<K>, ApiError> {
    if let Some(unknown) = params.keys().find(|k| !PAGING.contains(&k.as_str()) && !filters.contains(&k.as_str())) {
        let mut known: Vec<&str> = PAGING.to_vec();
        known.extend_from_slice(filters);
        return Err(ApiError::bad_request(format!(
            "unknown query parameter {unknown:?}; this list takes {}",
            known.join(", ")
        )));
    }
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(ApiError::bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
        },
    };
    let after = params.get("cursor").map(|c| read_cursor(list, c)).transpose()?;
    let time = |name: &str| -> Result<Option<String>, ApiError> {
        params
            .get(name)
            .map(|text| {
                parse_timestamp(text).map(|t| format_timestamp(&t)).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{name} must be an RFC 3339 date-time such as 2026-01-31T00:00:00Z, not {text:?}"
                    ))
                })
            })
            .transpose()
    };
    // A `from` at or after `to` is an empty window, answered with an empty page: every
    // pair of date-times the document allows is a window (OpenAPI cannot say that one bounds
    // the other), and none holds a row there.
    let (from, to) = (time("from")?, time("to")?);
    Ok(PageRequest { after, limit, from, to })
}

fn read_cursor<K: CursorKey>(list: &str, cursor: &str) -> Result<K, ApiError> {
    let refused = || {
        ApiError::bad_request(format!(
            "cursor is not one that this list ({list}) gives out: pass a page's next_cursor as it is"
        ))
    };
    // Lower-case hex only, as written and as the document's pattern says.
    if !cursor.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(refused());
    }
    let bytes = hex::decode(cursor).map_err(|_| refused())?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let (tag, key) = text.split_once(':').ok_or_else(refused)?;
    if tag != list {
        return Err(refused());
    }
    K::read(key).ok_or_else(refused)
}

fn write_cursor<K: CursorKey>(list: &str, key: &K) -> String {
    hex::encode(format!("{list}:{}", key.write()))
}

/// The answer for one page: its items as `view` shows them and the cursor of the next page.
pub(crate) fn answer<T, K: CursorKey>(list: &str, page: &Page<T, K>, view: impl Fn(&T) -> Value) -> Value {
    answer_items(list, page, page.items.iter().map(view).collect())
}

/// A page whose items' views were made beforehand (from more than the rows: figures read for
/// the whole page at once).
pub(crate) fn answer_items<T, K: CursorKey>(list: &str, page: &Page<T, K>, items: Vec<Value>) -> Value {
    json!({
        "items": items,
        "next_cursor": page.next.as_ref().map(|k| write_cursor(list, k)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn cursors_read_back_in_their_own_list_only() {
        let c = write_cursor("faults", &42i64);
        assert_eq!(read_cursor::<i64>("faults", &c).ok(), Some(42));
        assert!(read_cursor::<i64>("transactions", &c).is_err());
        let reading = ("2026-01-01T00:00:00.000Z".to_string(), 7i64);
        let c = write_cursor("meter-values", &reading);
        assert_eq!(read_cursor::<(String, i64)>("meter-values", &c).ok(), Some(reading));
        for bad in ["zz", "", "6661756c7473", &hex::encode("faults:x")] {
            assert!(read_cursor::<i64>("faults", bad).is_err(), "{bad}");
        }
    }

    /// A cursor's pattern in the document and the server's reader agree: every cursor the
    /// pattern matches is read, and every one it does not match is refused.
    fn agree<K: CursorKey + std::fmt::Debug>(list: &str, keys: &[&str]) {
        let pattern = regex::Regex::new(&cursor_pattern::<K>(list)).expect("a valid pattern");
        let prefix = hex::encode(format!("{list}:"));
        let mut cursors: Vec<String> = keys.iter().map(|k| hex::encode(format!("{list}:{k}"))).collect();
        // Byte strings of every sort after the list's tag: a small generator, the same each run.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in 0..4000 {
            let mut bytes = Vec::new();
            for _ in 0..(n % 30) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly what keys are made of, now and then any byte.
                const PARTS: &[u8] = b"0123456789 -+:.TZ\xc3\xa9a";
                let pick =
                    if seed.is_multiple_of(5) { (seed >> 8) as u8 } else { PARTS[(seed >> 8) as usize % PARTS.len()] };
                bytes.push(pick);
            }
            cursors.push(format!("{prefix}{}", hex::encode(&bytes)));
        }
        cursors.push(format!("{prefix}3").to_uppercase());
        cursors.push(format!("{prefix}31").replace('a', "A"));
        let mut read = 0;
        for cursor in &cursors {
            let matches = pattern.is_match(cursor);
            let accepted = read_cursor::<K>(list, cursor);
            assert_eq!(
                matches,
                accepted.is_ok(),
                "{list} {cursor}: {:?}",
                hex::decode(cursor).map(|b| String::from_utf8_lossy(&b).into_owned())
            );
            read += usize::from(matches);
        }
        assert!(read >= keys.len(), "{list}: only {read} read");
    }

    #[test]
    fn the_documented_cursor_patterns_are_what_is_read() {
        agree::<i64>("faults", &["1", "42", "000", "999999999999999999"]);
        agree::<String>("stations", &["CP1", "a b", "é", "日本", "🙂", "x:y"]);
        agree::<(String, i64)>(
            "meter-values",
            &["2026-01-01T00:00:00.000Z 7", "+10000-01-01T00:00:00.000Z 1", "-0001-12-31T23:59:59.999Z 3"],
        );
        for key in ["-1", "+1", "1234567890123456789", " 1", ""] {
            assert!(read_cursor::<i64>("faults", &hex::encode(format!("faults:{key}"))).is_err(), "{key:?}");
        }
        assert!(read_cursor::<String>("stations", &hex::encode("stations:\0")).is_err());
        assert!(read_cursor::<String>("stations", &hex::encode("stations:")).is_err());
    }

    #[test]
    fn written_cursors_fit_their_pattern() {
        let check = |list: &str, cursor: String, pattern: String| {
            assert!(regex::Regex::new(&pattern).expect("pattern").is_match(&cursor), "{list}: {cursor}");
        };
        check("faults", write_cursor("faults", &7i64), cursor_pattern::<i64>("faults"));
        check("stations", write_cursor("stations", &"CP-1".to_string()), cursor_pattern::<String>("stations"));
        let t = csms_core::clock::parse_timestamp("2026-03-01T10:00:00.5+01:00").expect("time");
        let key = (format_timestamp(&t), 12i64);
        check("meter-values", write_cursor("meter-values", &key), cursor_pattern::<(String, i64)>("meter-values"));
    }

    #[test]
    fn an_inverted_window_is_an_empty_one() {
        let window = params(&[("from", "2026-02-01T00:00:00Z"), ("to", "2026-01-01T00:00:00Z")]);
        let request = request::<i64>("faults", &window, &[]).expect("a window");
        assert_eq!(request.from.as_deref(), Some("2026-02-01T00:00:00.000Z"));
        assert_eq!(request.to.as_deref(), Some("2026-01-01T00:00:00.000Z"));
    }

    #[test]
    fn parameters_are_checked() {
        let ok = request::<i64>("faults", &params(&[("limit", "5"), ("from", "2026-01-01T01:00:00+01:00")]), &[]);
        let ok = ok.expect("valid");
        assert_eq!((ok.limit, ok.from.as_deref()), (5, Some("2026-01-01T00:00:00.000Z")));
        for bad in [
            params(&[("limit", "0")]),
            params(&[("limit", "1001")]),
            params(&[("from", "yesterday")]),
            params(&[("before", "3")]),
            params(&[("cursor", "nothex")]),
        ] {
            assert!(request::<i64>("faults", &bad, &[]).is_err(), "{bad:?}");
        }
    }
}
