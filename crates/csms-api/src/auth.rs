//! API authentication: bearer tokens with roles (viewer reads, operator also commands
//! stations, admin also manages stations and tokens). Only a SHA-256 hash of each token is
//! stored; the secret is shown once, when it is created. Open mode, for local development,
//! must be asked for explicitly (`strom serve --api-open`).

use crate::{paging, views, Api, ApiError, ApiResult, Params};
use axum::extract::{Path, Query};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use csms_core::access::{self, Role, TokenStanding};
use csms_core::ops::RevokeApiToken;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A new token: (the secret to give the user, the hash to store). 32 random bytes make the
/// secret unguessable, so a plain SHA-256 is enough to keep the stored form useless to a thief.
pub fn new_token() -> Result<(String, String), getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    let secret = format!("strom_{}", hex::encode(bytes));
    let hash = hash(&secret);
    Ok((secret, hash))
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The role a request needs: reading needs viewer; commanding a station (anything written
/// below `/api/v1/stations/{id}/`, but its password) operator; every other change (stations'
/// registration and credentials, id tokens) admin. API tokens are admin's alone, even to read:
/// the list tells who has access.
fn required_role(method: &Method, path: &str) -> Role {
    let below_a_station =
        path.strip_prefix("/api/v1/stations/").is_some_and(|rest| rest.trim_end_matches('/').contains('/'));
    let api_tokens = path.strip_prefix("/api/v1/tokens").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    // Webhooks carry where events go and how they are signed.
    let webhooks = path.strip_prefix("/api/v1/webhooks").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    // A station's password is a credential, like its security settings (PUT, admin).
    let password =
        path.strip_prefix("/api/v1/stations/").is_some_and(|rest| rest.trim_end_matches('/').ends_with("/password"));
    // A meter key decides which energy counts as proven, a time zone which price applies.
    let prices = path.strip_prefix("/api/v1/stations/").is_some_and(|rest| {
        let rest = rest.trim_end_matches('/');
        rest.ends_with("/meter-key") || rest.ends_with("/time-zone")
    });
    if api_tokens || password || webhooks || (prices && method != Method::GET && method != Method::HEAD) {
        Role::Admin
    } else if method == Method::GET || method == Method::HEAD {
        Role::Viewer
    } else if below_a_station && (method == Method::POST || method == Method::PUT) {
        Role::Operator
    } else {
        Role::Admin
    }
}

/// The secret of an `Authorization: Bearer <secret>` header, exactly as sent: nothing is trimmed,
/// so a secret with whitespace around it is a different secret and matches no token (RFC 6750
/// §2.1 allows one space between the scheme and the token, and no other).
fn bearer_secret(value: Option<&header::HeaderValue>) -> Option<&str> {
    value.and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
}

/// What anyone may read: the API's own description and its reference page, which hold no data
/// (and which a client generator, or a person, reads before they have a token).
const OPEN_PATHS: &[&str] = &["/api/v1/openapi.json", "/api/v1/docs"];

pub(crate) async fn require_token(State(api): State<Arc<Api>>, mut request: Request, next: Next) -> Response {
    // Whatever the method: these paths serve GET (and HEAD) only, so any other is a 405 that
    // says which they serve, as for everyone, rather than a 401 asking for a token that would
    // not help (found by the schema fuzzer: TRACE /api/v1/docs).
    if OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let needed = required_role(request.method(), request.uri().path());
    let secret = bearer_secret(request.headers().get(header::AUTHORIZATION));
    let unauthorized = |message: &str| {
        let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        response
    };
    let Some(secret) = secret else {
        return unauthorized(
            "an API token is required: Authorization: Bearer <token> (create one with strom token create)",
        );
    };
    let token = match api.store.api_token_by_hash(&hash(secret)).await {
        Ok(token) => token,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let caller = token.as_ref().map(|t| Caller { role: t.role, name: t.name.clone(), hash: hash(secret) });
    let standing = token.map(|t| access::standing(t.role, t.expires_at, t.revoked_at, api.clock.now()));
    match standing {
        Some(TokenStanding::Usable(role)) if role.allows(needed) => {
            if let Some(caller) = caller {
                request.extensions_mut().insert(caller);
            }
            next.run(request).await
        }
        Some(TokenStanding::Usable(role)) => ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this needs the {} role; the token has {}", needed.as_str(), role.as_str()),
        )
        .into_response(),
        Some(TokenStanding::Expired) => unauthorized("this API token has expired"),
        Some(TokenStanding::Revoked) => unauthorized("this API token was revoked"),
        None => unauthorized("unknown API token"),
    }
}

/// Who made a request, as `require_token` found it, for the handlers that answer about the
/// caller (`me`).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    role: Role,
    name: Option<String>,
    /// The token's hash, for a long request to look at its standing again (`still_allowed`).
    hash: String,
}

impl Caller {
    /// Whether the caller's token is still usable (not revoked, not expired since the request
    /// began): a request that lasts, the event stream, asks from time to time.
    pub(crate) async fn still_allowed(&self, api: &Api) -> bool {
        match api.store.api_token_by_hash(&self.hash).await {
            Ok(Some(t)) => {
                matches!(
                    access::standing(t.role, t.expires_at, t.revoked_at, api.clock.now()),
                    TokenStanding::Usable(_)
                )
            }
            Ok(None) => false,
            // A storage hiccup is no reason to cut a client off; the next look decides.
            Err(_) => true,
        }
    }
}

/// The caller's token: its name and role, so that a client (the dashboard) shows only what the
/// role may do. With `--api-open` there is no token and every request is allowed: admin.
pub(crate) async fn me(caller: Option<Extension<Caller>>) -> Json<Value> {
    let (role, name) = match caller {
        Some(Extension(caller)) => (caller.role, caller.name),
        None => (Role::Admin, None),
    };
    Json(json!({"name": name, "role": role.as_str()}))
}

/// The API tokens, revoked and expired ones included; never a secret or its hash.
pub(crate) async fn list_api_tokens(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    let page = api.store.api_tokens(&paging::request("tokens", &params, &[])?).await?;
    Ok(Json(paging::answer("tokens", &page, views::api_token)))
}

/// Revokes an API token: from the moment this answers, the token is refused.
pub(crate) async fn revoke_api_token(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("an API token's id is an integer"))?;
    let existed = api.store.execute(RevokeApiToken { id, now: api.clock.now() }, Vec::new()).await?;
    if !existed {
        return Err(ApiError::not_found("API token"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_needed_by_requests() {
        assert_eq!(required_role(&Method::GET, "/api/v1/stations"), Role::Viewer);
        assert_eq!(required_role(&Method::GET, "/api/v1/webhooks"), Role::Admin);
        assert_eq!(required_role(&Method::GET, "/api/v1/webhooks/1/deliveries"), Role::Admin);
        assert_eq!(required_role(&Method::GET, "/api/v1/webhooksX"), Role::Viewer);
        assert_eq!(required_role(&Method::POST, "/api/v1/stations/CP1/commands/Reset"), Role::Operator);
        assert_eq!(required_role(&Method::PUT, "/api/v1/stations/CP1"), Role::Admin);
        assert_eq!(required_role(&Method::DELETE, "/api/v1/stations/CP1"), Role::Admin);
        assert_eq!(required_role(&Method::PUT, "/api/v1/stations/CP1/"), Role::Admin);
        assert_eq!(required_role(&Method::POST, "/api/v1/stations/CP1/reset"), Role::Operator);
        assert_eq!(required_role(&Method::PUT, "/api/v1/stations/CP1/configuration/HeartbeatInterval"), Role::Operator);
        assert_eq!(required_role(&Method::POST, "/api/v1/id-tokens"), Role::Admin);
        assert_eq!(required_role(&Method::DELETE, "/api/v1/id-tokens/A"), Role::Admin);
        assert_eq!(required_role(&Method::GET, "/api/v1/tokens"), Role::Admin);
        assert_eq!(required_role(&Method::GET, "/api/v1/tokens/"), Role::Admin);
        assert_eq!(required_role(&Method::HEAD, "/api/v1/tokens"), Role::Admin);
        assert_eq!(required_role(&Method::DELETE, "/api/v1/tokens/3"), Role::Admin);
        assert_eq!(required_role(&Method::POST, "/api/v1/stations/CP1/password"), Role::Admin);
        assert_eq!(required_role(&Method::POST, "/api/v1/stations/CP1/password/"), Role::Admin);
        assert_eq!(required_role(&Method::PUT, "/api/v1/stations/CP1/meter-key"), Role::Admin);
        assert_eq!(required_role(&Method::DELETE, "/api/v1/stations/CP1/meter-key"), Role::Admin);
        assert_eq!(required_role(&Method::GET, "/api/v1/stations/CP1/meter-key"), Role::Viewer);
        assert_eq!(required_role(&Method::PUT, "/api/v1/stations/CP1/time-zone"), Role::Admin);
        assert_eq!(required_role(&Method::GET, "/api/v1/stations/CP1/time-zone"), Role::Viewer);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, hash_a) = new_token().expect("random");
        let (b, _) = new_token().expect("random");
        assert_ne!(a, b);
        assert_eq!(hash(&a), hash_a);
        assert_eq!(hash_a.len(), 64);
        assert!(!hash_a.contains(&a[6..]));
    }

    #[test]
    fn a_bearer_secret_is_taken_exactly_as_sent() {
        let value = |text: &str| header::HeaderValue::from_str(text).expect("header value");
        let secret = |text: &str| bearer_secret(Some(&value(text))).map(str::to_string);
        assert_eq!(secret("Bearer strom_ab"), Some("strom_ab".into()));
        // Whitespace around the secret stays part of it, so it hashes to no stored token.
        assert_eq!(secret("Bearer strom_ab "), Some("strom_ab ".into()));
        assert_eq!(secret("Bearer  strom_ab"), Some(" strom_ab".into()));
        assert_eq!(secret("Bearer strom_ab\t"), Some("strom_ab\t".into()));
        assert_ne!(hash("strom_ab "), hash("strom_ab"));
        assert_eq!(secret("Basic strom_ab"), None);
        assert_eq!(bearer_secret(None), None);
    }
}
