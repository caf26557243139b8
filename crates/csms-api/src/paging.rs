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

/// A key a list is ordered by, as written into its cursor.
pub(crate) trait CursorKey: Sized {
    fn write(&self) -> String;
    fn read(text: &str) -> Option<Self>;
}

impl CursorKey for i64 {
    fn write(&self) -> String {
        self.to_string()
    }
    fn read(text: &str) -> Option<i64> {
        text.parse().ok()
    }
}

impl CursorKey for String {
    fn write(&self) -> String {
        self.clone()
    }
    fn read(text: &str) -> Option<String> {
        Some(text.to_string())
    }
}

/// A reading's time and id; the time never holds a space (RFC 3339 as Ström writes it).
impl CursorKey for (String, i64) {
    fn write(&self) -> String {
        format!("{} {}", self.0, self.1)
    }
    fn read(text: &str) -> Option<(String, i64)> {
        let (time, id) = text.rsplit_once(' ')?;
        Some((time.to_string(), id.parse().ok()?))
    }
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
    let (from, to) = (time("from")?, time("to")?);
    if let (Some(from), Some(to)) = (&from, &to) {
        if from > to {
            return Err(ApiError::bad_request("from must not be after to"));
        }
    }
    Ok(PageRequest { after, limit, from, to })
}

fn read_cursor<K: CursorKey>(list: &str, cursor: &str) -> Result<K, ApiError> {
    let refused = || ApiError::bad_request(format!("cursor is not one that this list ({list}) gave out"));
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

    #[test]
    fn parameters_are_checked() {
        let ok = request::<i64>("faults", &params(&[("limit", "5"), ("from", "2026-01-01T01:00:00+01:00")]), &[]);
        let ok = ok.expect("valid");
        assert_eq!((ok.limit, ok.from.as_deref()), (5, Some("2026-01-01T00:00:00.000Z")));
        for bad in [
            params(&[("limit", "0")]),
            params(&[("limit", "1001")]),
            params(&[("from", "yesterday")]),
            params(&[("from", "2026-02-01T00:00:00Z"), ("to", "2026-01-01T00:00:00Z")]),
            params(&[("before", "3")]),
            params(&[("cursor", "nothex")]),
        ] {
            assert!(request::<i64>("faults", &bad, &[]).is_err(), "{bad:?}");
        }
    }
}
