//! The fields of a JSON request body that creates something (a webhook, an alert rule): an
//! object of known fields, each read as its type or refused with a 422 that names it.

use crate::ApiError;
use axum::http::StatusCode;
use serde_json::{Map, Value};

pub(crate) fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    /// The body as an object with no field but `known` (400 if it is no JSON object, 422 for an
    /// unknown field).
    pub(crate) fn read(body: &[u8], known: &[&str]) -> Result<Fields, ApiError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
        let Value::Object(fields) = value else {
            return Err(ApiError::bad_request("body must be a JSON object"));
        };
        if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(unprocessable(format!("unknown field {unknown:?}")));
        }
        Ok(Fields(fields))
    }

    /// A string field; absent or null is `None`.
    pub(crate) fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(unprocessable(format!("{name} must be a string"))),
        }
    }

    pub(crate) fn required(&self, name: &str) -> Result<String, ApiError> {
        self.text(name)?.ok_or_else(|| unprocessable(format!("{name} is required")))
    }

    pub(crate) fn number(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| unprocessable(format!("{name} must be an integer"))),
        }
    }

    /// An array of strings; absent or null is empty.
    pub(crate) fn names(&self, name: &str) -> Result<Vec<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or_else(|| unprocessable(format!("{name} must be strings"))))
                .collect(),
            Some(_) => Err(unprocessable(format!("{name} must be an array of strings"))),
        }
    }

    /// `station_id`, if given, a station identity.
    pub(crate) fn station_id(&self) -> Result<Option<String>, ApiError> {
        let station_id = self.text("station_id")?;
        if station_id.as_deref().is_some_and(|s| csms_core::station::StationId::parse(s).is_none()) {
            return Err(unprocessable(
                "station_id is no station identity (1-48 characters of A-Z a-z 0-9 * - _ = + | @ .)",
            ));
        }
        Ok(station_id)
    }
}
