//! Ström's id tokens (RFID tags and the like) through the API: list, show, create, replace and
//! remove, with the one reading of a token from a request body (`parse_token`).

use crate::{paging, views, Api, ApiError, ApiResult, Params};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use csms_core::authorization::{IdTokenRecord, TokenStatus, TokenType};
use csms_core::clock::parse_timestamp;
use csms_core::ops::{CreateIdToken, DeleteIdToken, UpsertIdToken};
use serde_json::Value;
use std::sync::Arc;

pub(crate) async fn list(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    let page = api.store.id_tokens(&paging::request("id-tokens", &params, &[])?).await?;
    Ok(Json(paging::answer("id-tokens", &page, views::id_token)))
}

pub(crate) async fn get(State(api): State<Arc<Api>>, Path(id_token): Path<String>) -> ApiResult {
    let token = api.store.id_token(&id_token).await?.ok_or_else(|| ApiError::not_found("id token"))?;
    Ok(Json(views::id_token(&token)))
}

/// Id tokens are at most 36 characters (OCPP 2.0.1 IdTokenType; 1.6 stations take up to 20).
const MAX_TOKEN_LEN: usize = 36;

/// Reads a token from a request body; `path_token` is the token named in the URL, if any.
fn parse_token(body: &[u8], path_token: Option<&str>) -> Result<IdTokenRecord, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(ApiError::bad_request("body must be a JSON object"));
    };
    let unprocessable = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    for key in fields.keys() {
        if !["id_token", "type", "status", "expiry", "parent_id_token"].contains(&key.as_str()) {
            return Err(unprocessable(format!("unknown field {key:?}")));
        }
    }
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(unprocessable(format!("{name} must be a string"))),
        }
    };
    let id_token = match (text("id_token")?, path_token) {
        // RFC 9110 §9.3.4: a PUT representation inconsistent with its target is a 409.
        (Some(body), Some(path)) if body != path => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "id_token {body:?} in the body differs from {path:?} in the URL (omit it, or name the same token)"
                ),
            ))
        }
        (Some(t), _) => t,
        (None, Some(path)) => path.to_string(),
        (None, None) => return Err(unprocessable("id_token is required".into())),
    };
    // No NUL: PostgreSQL text holds none (`text.rs`).
    let token_ok = |t: &str| !t.is_empty() && t.chars().count() <= MAX_TOKEN_LEN && !t.contains('\0');
    if !token_ok(&id_token) {
        return Err(unprocessable(format!("id_token must be 1 to {MAX_TOKEN_LEN} characters, none of them NUL")));
    }
    let status = text("status")?.ok_or_else(|| unprocessable("status is required".into()))?;
    let status = TokenStatus::parse(&status).ok_or_else(|| {
        let names: Vec<&str> = TokenStatus::ALL.iter().map(|s| s.as_str()).collect();
        unprocessable(format!("status must be one of {}, not {status:?}", names.join(", ")))
    })?;
    let expiry = match text("expiry")? {
        None => None,
        Some(t) => Some(
            parse_timestamp(&t).ok_or_else(|| unprocessable(format!("expiry {t:?} is not an RFC 3339 date-time")))?,
        ),
    };
    let parent_id_token = text("parent_id_token")?;
    if parent_id_token.as_deref().is_some_and(|p| !token_ok(p)) {
        return Err(unprocessable(format!(
            "parent_id_token must be 1 to {MAX_TOKEN_LEN} characters, none of them NUL"
        )));
    }
    let token_type = match text("type")? {
        None => None,
        Some(t) => Some(TokenType::parse(&t).ok_or_else(|| {
            let names: Vec<&str> = TokenType::ALL.iter().map(|t| t.as_str()).collect();
            unprocessable(format!("type must be one of {} (or absent: any type), not {t:?}", names.join(", ")))
        })?),
    };
    Ok(IdTokenRecord { id_token, token_type, status, expiry, parent_id_token })
}

/// Creates a token, never changes one: whether it exists is decided by the store's insert,
/// so of two simultaneous requests for one token exactly one creates it.
pub(crate) async fn create(State(api): State<Arc<Api>>, body: Bytes) -> Result<Response, ApiError> {
    let record = parse_token(&body, None)?;
    let view = views::id_token(&record);
    let name = record.id_token.clone();
    let existed = api.store.execute(CreateIdToken { record, now: api.clock.now() }, Vec::new()).await?;
    if existed {
        return Err(ApiError::new(StatusCode::CONFLICT, format!("id token {name:?} exists; use PUT to change it")));
    }
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Creates or changes a token.
pub(crate) async fn put(State(api): State<Arc<Api>>, Path(id_token): Path<String>, body: Bytes) -> ApiResult {
    let record = parse_token(&body, Some(&id_token))?;
    let view = views::id_token(&record);
    api.store.execute(UpsertIdToken { record, now: api.clock.now() }, Vec::new()).await?;
    Ok(Json(view))
}

pub(crate) async fn delete(State(api): State<Arc<Api>>, Path(id_token): Path<String>) -> Result<StatusCode, ApiError> {
    let existed = api.store.execute(DeleteIdToken { id_token }, Vec::new()).await?;
    if !existed {
        return Err(ApiError::not_found("id token"));
    }
    Ok(StatusCode::NO_CONTENT)
}
