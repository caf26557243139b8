//! The operator REST API, JSON under `/api/v1`: stations with their connectors and live
//! connection state, transactions with their energy and readings, faults, the message log,
//! and id-token management. Errors are JSON `{"error": "..."}` with a fitting HTTP status.

mod alerts;
pub mod auth;
mod availability;
mod billing;
pub use availability::csv_field;
mod bodies;
mod certificates;
mod dashboard;
mod events;
mod exports;
mod fields;
mod id_tokens;
mod openapi;
mod paging;
mod sessions;
mod text;
mod views;
mod webhooks;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bodies::json_only;
use csms_commands::{Commands, FriendlyCommand};
use csms_core::fault_kinds::FaultCategory;
use csms_core::ops::SetRegistration;
use csms_core::port::PortError;
use csms_core::Clock;
use csms_store::Store;
use csms_store::{FaultFilter, TransactionFilter};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The API routes. Unless `open`, every request needs a bearer token with a fitting role.
/// What the API serves from: the store (reads, and writes through its operations), the operator
/// commands (and through them the live sessions), and the clock.
pub struct Api {
    pub store: Store,
    pub commands: Arc<Commands>,
    pub clock: Arc<dyn Clock>,
    /// Cancelled as Ström stops: the event streams end, so that the server's graceful shutdown
    /// does not wait for their clients.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The hosts webhook URLs may name (`webhook_hosts`); empty: any.
    pub webhook_hosts: Vec<String>,
}

pub fn router(api: Arc<Api>, open: bool) -> Router {
    let routes = Router::new()
        .route("/metrics", json_only(get(metrics)))
        .route("/api/v1/openapi.json", json_only(get(|| async { Json(openapi::document()) })))
        .route("/api/v1/docs", json_only(get(reference_page)))
        .route("/api/v1/me", json_only(get(auth::me)))
        .route("/api/v1/stations", json_only(get(list_stations)))
        .route("/api/v1/stations/{id}", json_only(get(get_station).put(put_station).delete(decommission_station)))
        .route("/api/v1/stations/{id}/commands", json_only(get(station_commands)))
        .route("/api/v1/stations/{id}/password", json_only(axum::routing::post(rotate_password)))
        .route("/api/v1/stations/{id}/commands/{action}", json_only(axum::routing::post(send_command)))
        .route("/api/v1/stations/{id}/local-list", json_only(get(local_list).post(send_local_list)))
        .route("/api/v1/stations/{id}/remote-start", json_only(axum::routing::post(remote_start)))
        .route("/api/v1/stations/{id}/remote-stop", json_only(axum::routing::post(remote_stop)))
        .route("/api/v1/stations/{id}/reset", json_only(axum::routing::post(reset)))
        .route("/api/v1/stations/{id}/unlock", json_only(axum::routing::post(unlock)))
        .route("/api/v1/stations/{id}/availability", json_only(get(station_availability).post(change_availability)))
        .route("/api/v1/stations/{id}/configuration/fetch", json_only(axum::routing::post(fetch_configuration)))
        .route("/api/v1/stations/{id}/configuration/{key}", json_only(axum::routing::put(set_configuration)))
        .route("/api/v1/stations/{id}/messages", json_only(get(station_messages)))
        .route("/api/v1/stations/{id}/events", json_only(get(station_events)))
        .route("/api/v1/stations/{id}/variables", json_only(get(station_variables)))
        .route("/api/v1/stations/{id}/configuration", json_only(get(station_configuration)))
        .route("/api/v1/stations/{id}/reservations", json_only(get(station_reservations)))
        .route("/api/v1/stations/{id}/charging-profiles", json_only(get(station_charging_profiles)))
        .route("/api/v1/stations/{id}/transfers", json_only(get(station_transfers)))
        .route("/api/v1/stations/{id}/monitors", json_only(get(station_monitors)))
        .route("/api/v1/stations/{id}/certificates", json_only(get(certificates::station_certificates)))
        .route("/api/v1/stations/{id}/certificates/renew", json_only(axum::routing::post(certificates::renew)))
        .route("/api/v1/certificates", json_only(get(certificates::expiring)))
        .route("/api/v1/transactions", json_only(get(list_transactions)))
        .route("/api/v1/transactions/{id}", json_only(get(get_transaction)))
        .route("/api/v1/transactions/{id}/meter-values", json_only(get(transaction_meter_values)))
        .route("/api/v1/faults", json_only(get(list_faults)))
        .route("/api/v1/availability", json_only(get(availability::report)))
        .route("/api/v1/events", json_only(get(events::list)))
        .route("/api/v1/events/stream", json_only(get(events::stream)))
        .route("/api/v1/webhooks", json_only(get(webhooks::list).post(webhooks::create)))
        .route("/api/v1/webhooks/{id}", json_only(get(webhooks::get).delete(webhooks::delete)))
        .route("/api/v1/webhooks/{id}/deliveries", json_only(get(webhooks::deliveries)))
        .route("/api/v1/alert-rules", json_only(get(alerts::rules).post(alerts::create_rule)))
        .route("/api/v1/alert-rules/{id}", json_only(get(alerts::rule).delete(alerts::delete_rule)))
        .route("/api/v1/alerts", json_only(get(alerts::alerts)))
        .route("/api/v1/tariffs", json_only(get(billing::list_tariffs).post(billing::create_tariff)))
        .route(
            "/api/v1/tariffs/{id}",
            json_only(get(billing::get_tariff).put(billing::put_tariff).delete(billing::delete_tariff)),
        )
        .route(
            "/api/v1/stations/{id}/meter-key",
            json_only(get(billing::get_meter_key).put(billing::put_meter_key).delete(billing::delete_meter_key)),
        )
        .route("/api/v1/stations/{id}/time-zone", json_only(get(billing::get_time_zone).put(billing::put_time_zone)))
        .route("/api/v1/cdrs", json_only(get(billing::list_cdrs)))
        .route("/api/v1/cdrs/{id}", json_only(get(billing::get_cdr)))
        .route("/api/v1/exports/cdrs", json_only(get(exports::cdrs)))
        .route("/api/v1/exports/meter-values", json_only(get(exports::meter_values)))
        .route("/api/v1/reports/energy", json_only(get(exports::energy)))
        .route("/api/v1/faults/{id}", json_only(get(get_fault)))
        .route("/api/v1/id-tokens", json_only(get(id_tokens::list).post(id_tokens::create)))
        .route(
            "/api/v1/id-tokens/{id_token}",
            json_only(get(id_tokens::get).put(id_tokens::put).delete(id_tokens::delete)),
        )
        .route("/api/v1/tokens", json_only(get(auth::list_api_tokens)))
        .route("/api/v1/tokens/{id}", json_only(axum::routing::delete(auth::revoke_api_token)))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        // Like every other error, a method a path does not serve is answered in JSON (axum keeps
        // the Allow header).
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this path does not serve this method")
        });
    // No CORS layer, on purpose: a browser page from another origin gets no approval for any
    // request (README, "API"). Bodies are checked on every route, with or without tokens
    // (`json_only`).
    let routes = if open {
        routes
    } else {
        routes.layer(axum::middleware::from_fn_with_state(api.clone(), auth::require_token))
    };
    // The dashboard's files need no token (they hold no data; its calls to the API do).
    let routes = routes.merge(dashboard::routes());
    routes.layer(axum::middleware::from_fn(text::refuse_nul)).with_state(api)
}

/// An error answer: status and a message for the operator.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }

    fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<csms_store::StoreError> for ApiError {
    fn from(e: csms_store::StoreError) -> ApiError {
        PortError::from(e).into()
    }
}

impl From<PortError> for ApiError {
    fn from(e: PortError) -> ApiError {
        tracing::error!(error = %e, "storage failed while serving the API");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage failed")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

type ApiResult = Result<Json<Value>, ApiError>;
type Params = Query<HashMap<String, String>>;

pub(crate) fn bool_param(params: &HashMap<String, String>, name: &str) -> Result<Option<bool>, ApiError> {
    match params.get(name).map(String::as_str) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!("{name} must be true or false, not {other:?}"))),
    }
}

/// The API reference for people, rendered from the OpenAPI document; it runs no script and
/// loads nothing, which its Content-Security-Policy holds it to.
async fn reference_page() -> Response {
    let page = openapi::reference::page(&openapi::document());
    (
        [(axum::http::header::CONTENT_SECURITY_POLICY, openapi::reference::CONTENT_SECURITY_POLICY)],
        axum::response::Html(page),
    )
        .into_response()
}

/// Prometheus metrics (text exposition format 0.0.4).
async fn metrics(State(api): State<Arc<Api>>) -> Result<Response, ApiError> {
    use csms_metrics::render_gauge;
    let mut out = String::new();
    let mut by_version = [("1.6", 0.0), ("2.0.1", 0.0)];
    for (_, session) in api.commands.registry().connected() {
        let version = if session.version == ocpp::OcppVersion::V16 { 0 } else { 1 };
        by_version[version].1 += 1.0;
    }
    let series: Vec<_> = by_version.iter().map(|(v, n)| (vec![("version", v.to_string())], *n)).collect();
    render_gauge(&mut out, "strom_connected_stations", "Stations with a live connection, by OCPP version.", &series);
    let m = api.commands.metrics();
    m.messages.render(&mut out, "strom_messages_total", "CALLs by direction (in: from stations), action and result.");
    m.call_errors_sent.render(&mut out, "strom_callerrors_sent_total", "CALLERRORs sent to stations, by code.");
    m.commands.render(&mut out, "strom_commands_total", "Operator commands by action and outcome.");
    m.command_seconds.render(&mut out, "strom_command_duration_seconds", "Time from sending a command to its outcome.");
    m.answer_seconds.render(
        &mut out,
        "strom_call_answer_seconds",
        "Time from a station's CALL arriving to its answer (its effects stored) going to the socket.",
    );
    let refused = "Station connections refused at the handshake, by reason (credentials not acceptable).";
    m.handshakes_refused.render(&mut out, "strom_handshakes_refused_total", refused);
    let limited = "Station CALLs over a per-station rate limit, by limit (messages, authorize) and treatment (paced: answered later; refused: CALLERROR; answered_invalid: an Authorize answered Invalid unasked).";
    m.rate_limited.render(&mut out, "strom_rate_limited_total", limited);
    let store = api.store.metrics();
    store.batch_size.render(&mut out, "strom_store_batch_size", "Writes committed together in one transaction.");
    store.commit_seconds.render(&mut out, "strom_store_commit_duration_seconds", "Time to apply and commit one batch.");
    store.flush_seconds.render(
        &mut out,
        "strom_store_flush_duration_seconds",
        "Time to make the commits so far durable (fsync of SQLite's WAL, a flush of PostgreSQL's), which answers wait for.",
    );
    store.event_index_seconds.render(
        &mut out,
        "strom_store_event_index_duration_seconds",
        "Time to index a run of domain events by station, written behind them; writes wait meanwhile.",
    );
    let open = api.store.open_fault_count().await? as f64;
    render_gauge(&mut out, "strom_open_faults", "Faults not yet cleared.", &[(Vec::new(), open)]);
    csms_metrics::render_added(&mut out);
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

async fn list_stations(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    let page = api.store.stations(&paging::request("stations", &params, &[])?).await?;
    Ok(Json(paging::answer("stations", &page, |s| views::station(s, api.commands.registry().session(&s.id)))))
}

async fn get_station(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let station = api.store.station(&id).await?.ok_or_else(|| ApiError::not_found("station"))?;
    Ok(Json(views::station(&station, api.commands.registry().session(&id))))
}

/// Changes what the operator controls about a station: its registration, its security profile
/// and its Basic-auth password. A Pending station is accepted this way, then told so at its next
/// BootNotification (send TriggerMessage BootNotification to make that happen now; OCPP 2.0.1
/// B02, CONFORMANCE X-10). The password is write-only: hashed (argon2id) before it is stored,
/// never answered; the station view says only whether one is set. A station not yet known is
/// registered by any of these.
async fn put_station(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    use csms_core::security::{self, SecurityProfile};
    let station = csms_core::station::StationId::parse(&id).ok_or_else(|| {
        ApiError::bad_request("station identity must be 1-48 characters of A-Z a-z 0-9 * - _ = + | @ .")
    })?;
    // The body may hold a password: an error must not quote it.
    let value: Value = serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("body is not JSON"))?;
    let unprocessable = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    let Value::Object(fields) = value else {
        return Err(ApiError::bad_request("body must be a JSON object"));
    };
    const FIELDS: [&str; 3] = ["registration_status", "security_profile", "basic_auth_password"];
    if let Some(key) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(unprocessable(format!(
            "unknown field {key:?}; only registration_status, security_profile and basic_auth_password can be changed"
        )));
    }
    if fields.is_empty() {
        return Err(unprocessable(
            "nothing to change: give registration_status, security_profile or basic_auth_password".into(),
        ));
    }
    let status = match fields.get("registration_status") {
        None => None,
        Some(value) => {
            let text = value.as_str().unwrap_or_default();
            Some(csms_core::station::RegistrationStatus::parse(text).ok_or_else(|| {
                unprocessable(format!("registration_status must be Accepted, Pending or Rejected, not {text:?}"))
            })?)
        }
    };
    let profile = match fields.get("security_profile") {
        None => None,
        Some(value) => Some(
            value
                .as_i64()
                .and_then(SecurityProfile::from_number)
                .ok_or_else(|| unprocessable(format!("security_profile must be 0, 1, 2 or 3, not {value}")))?,
        ),
    };
    let password_hash = match fields.get("basic_auth_password") {
        None => None,
        Some(value) => {
            let password =
                value.as_str().ok_or_else(|| unprocessable("basic_auth_password must be a string".into()))?;
            security::check_password(password).map_err(|m| unprocessable(m.into()))?;
            let mut salt = [0u8; 16];
            getrandom::getrandom(&mut salt).map_err(|e| {
                tracing::error!(error = %e, "no random salt for a station password");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no randomness for a salt")
            })?;
            let password = password.to_string();
            // Hashing is deliberately slow: off the API's threads.
            let hashed = tokio::task::spawn_blocking(move || security::hash_password(&password, &salt)).await;
            Some(hashed.map_err(|e| e.to_string()).and_then(|h| h).map_err(|e| {
                tracing::error!(error = %e, "station password not hashed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "password not hashed")
            })?)
        }
    };
    if profile.is_some() || password_hash.is_some() {
        let stored = api.store.security(&id).await?.unwrap_or_default();
        let profile = profile.unwrap_or(stored.profile);
        // A conflict with what is stored (RFC 9110 §15.5.10), not a bad field: the same body
        // succeeds once a password is set.
        if profile.needs_password() && password_hash.is_none() && stored.password_hash.is_none() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "security_profile {} needs a basic_auth_password; none is stored (give one with it)",
                    profile.number()
                ),
            ));
        }
        let now = api.clock.now();
        api.store
            .execute(csms_core::ops::SetSecurity { station: station.clone(), profile, password_hash, now }, Vec::new())
            .await?;
    }
    if let Some(status) = status {
        api.store.execute(SetRegistration { station, status, now: api.clock.now() }, Vec::new()).await?;
    }
    let station = api.store.station(&id).await?.ok_or_else(|| ApiError::not_found("station"))?;
    Ok(Json(views::station(&station, api.commands.registry().session(&id))))
}

/// Decommissions a station: it may no longer connect (refused at the handshake, its live
/// session closed now); its history stays and is still shown.
async fn decommission_station(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let station = csms_core::station::StationId::parse(&id).ok_or_else(|| ApiError::not_found("station"))?;
    let known = api
        .store
        .execute(csms_core::ops::Decommission { station: station.clone(), now: api.clock.now() }, Vec::new())
        .await?;
    if !known {
        return Err(ApiError::not_found("station"));
    }
    if api.commands.registry().disconnect(&station) {
        tracing::info!(station = %station, "decommissioned: its session is closed");
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn station_commands(State(api): State<Arc<Api>>, Path(id): Path<String>, Query(params): Params) -> ApiResult {
    let request = paging::request("commands", &params, &[])?;
    known_station(&api, &id).await?;
    let page = api.store.commands(&id, &request).await?;
    Ok(Json(paging::answer("commands", &page, views::command)))
}

/// Sends any CSMS-initiated OCPP action of the station's version; the body is that action's
/// request payload. Answers with the station's reply payload, or a clear error.
async fn send_command(
    State(api): State<Arc<Api>>,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let payload: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    if !payload.is_object() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "body must be the action's request payload, a JSON object",
        ));
    }
    command_response(api.commands.command(&id, &action, &payload.to_string()).await)
}

/// Why a command was not answered, as the API says it.
fn command_error(e: csms_commands::CommandError) -> ApiError {
    use csms_commands::CommandError;
    let status = match &e {
        CommandError::UnknownStation(_) | CommandError::UnknownAction { .. } => StatusCode::NOT_FOUND,
        CommandError::NotCsmsAction(_) | CommandError::InvalidPayload { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        CommandError::Offline { .. }
        | CommandError::VersionUnknown(_)
        | CommandError::NotConnected(_)
        | CommandError::Rejected(_) => StatusCode::CONFLICT,
        CommandError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        CommandError::Disconnected { .. } => StatusCode::BAD_GATEWAY,
        CommandError::Storage(_) | CommandError::Password(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, e.to_string())
}

/// The API's answer to a command: the station's reply payload, or an error that says why not.
fn command_response(
    result: Result<csms_commands::CommandOutcome, csms_commands::CommandError>,
) -> Result<Response, ApiError> {
    use csms_commands::CommandReply;
    let outcome = result.map_err(command_error)?;
    let id_header = [("x-command-id", outcome.command_id.to_string())];
    Ok(match outcome.reply {
        CommandReply::Result(payload) => {
            let body: Value = serde_json::from_str(&payload).unwrap_or(Value::String(payload));
            (StatusCode::OK, id_header, Json(body)).into_response()
        }
        CommandReply::CallError { code, description } => {
            let body = json!({"error": format!("the station answered with CALLERROR {code}"), "code": code,
                              "description": description, "command_id": outcome.command_id});
            (StatusCode::BAD_GATEWAY, id_header, Json(body)).into_response()
        }
        CommandReply::InvalidResult { payload, message } => {
            let body = json!({"error": format!("the station's answer breaks the schema: {message}"),
                              "response": serde_json::from_str::<Value>(&payload).unwrap_or(Value::String(payload)),
                              "command_id": outcome.command_id});
            (StatusCode::BAD_GATEWAY, id_header, Json(body)).into_response()
        }
        CommandReply::MalformedAnswer { frame, message } => {
            let body = json!({"error": format!("the station's answer is not a valid CALLRESULT or CALLERROR: {message}"),
                              "response": frame, "command_id": outcome.command_id});
            (StatusCode::BAD_GATEWAY, id_header, Json(body)).into_response()
        }
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RotationBody {
    password: Option<String>,
}

/// Gives a connected station a new Basic-auth password (OCPP 1.6 TC_073, 2.0.1 TC_A_09 /
/// TC_A_10): the one in the body, or one Ström makes. Only if the station takes it does the new
/// password replace the old one; then, and only in this answer, it is shown. The body must be a
/// JSON object (`{}` at least), so that no browser's simple request can cause a rotation.
async fn rotate_password(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // The body may hold a password: an error must not quote it.
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request("body must be a JSON object: {} or {\"password\": \"...\"}"))?;
    let b: RotationBody = serde_json::from_value(value).map_err(|_| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "the body may hold only \"password\", a string")
    })?;
    known_station(&api, &id).await?;
    let rotation = api.commands.rotate_password(&id, b.password).await.map_err(command_error)?;
    let settings = api.store.security(&id).await?.unwrap_or_default();
    let answer = json!({
        "station_id": id,
        "command_id": rotation.command_id,
        "status": rotation.status,
        "changed": rotation.changed,
        "password": rotation.password,
        "security_profile": settings.profile.number(),
    });
    let status = if rotation.changed { StatusCode::OK } else { StatusCode::BAD_GATEWAY };
    Ok((status, [("x-command-id", rotation.command_id.to_string())], Json(answer)).into_response())
}

/// Reads a friendly command's body: a JSON object with exactly the fields of `T`.
fn friendly_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body is not JSON: {e}")))?;
    serde_json::from_value(value).map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

/// EVSE and connector ids count from 0 (OCPP 1.6 §7.6 connectorId, 2.0.1 EVSEType.id) and are
/// at most 2^31-1, as the document's schemas say: any other is refused before anything is sent.
fn ids_in_range(ids: &[(&str, Option<i64>)]) -> Result<(), ApiError> {
    let outside = ids
        .iter()
        .find_map(|(name, id)| id.filter(|id| i32::try_from(*id).map_or(true, |id| id < 0)).map(|id| (name, id)));
    match outside {
        Some((name, id)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name} must be from 0 to {}, not {id}", i32::MAX),
        )),
        None => Ok(()),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoteStartBody {
    id_token: String,
    evse_id: Option<i64>,
    connector_id: Option<i64>,
    /// Send it even for a token Ström would refuse (`sessions::check_remote_start`).
    #[serde(default)]
    force: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoteStopBody {
    transaction_id: i64,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum ResetKind {
    Hard,
    Soft,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    r#type: ResetKind,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlockBody {
    connector_id: i64,
    evse_id: Option<i64>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AvailabilityBody {
    operative: bool,
    evse_id: Option<i64>,
    connector_id: Option<i64>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SetConfigurationBody {
    value: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchConfigurationBody {
    #[serde(default)]
    keys: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalListBody {
    update_type: LocalListUpdate,
}

#[derive(serde::Deserialize)]
enum LocalListUpdate {
    Full,
    Differential,
}

/// The list the station holds, as far as Ström knows: `version` and `entries` are Ström's copy
/// (what it last had the station accept); `reported` is the version the station last stated
/// itself (its answer to GetLocalListVersion, or a SendLocalList it accepted), with how and
/// when, or null; `in_sync` says whether the two versions agree (null before any report).
async fn local_list(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    known_station(&api, &id).await?;
    let (version, entries) = api.store.local_list(&id).await?;
    let report = api.store.local_list_report(&id).await?;
    let in_sync = report.as_ref().map(|(reported, _, _)| *reported == version);
    let reported = report.map(|(version, source, at)| json!({"version": version, "source": source, "at": at}));
    Ok(Json(json!({"version": version, "entries": entries.iter().map(views::id_token).collect::<Vec<_>>(),
                   "reported": reported, "in_sync": in_sync})))
}

/// Sends Ström's id tokens as the station's local list (Full) or the changes since the list
/// it holds (Differential).
async fn send_local_list(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: LocalListBody = friendly_body(&body)?;
    let full = matches!(b.update_type, LocalListUpdate::Full);
    let outcome = match api.commands.send_local_list(&id, full).await {
        Ok(outcome) => outcome,
        Err(e) => return command_response(Err(e)),
    };
    let mut body = json!({"version": outcome.version, "messages": outcome.messages, "status": outcome.status,
                          "updated": outcome.updated, "removed": outcome.removed, "skipped": outcome.skipped});
    if outcome.status == "Accepted" {
        return Ok((StatusCode::OK, Json(body)).into_response());
    }
    // Like every other error answer, a refusal says what went wrong in `error`.
    body["error"] = json!(format!("the station answered {} to the local list", outcome.status));
    Ok((StatusCode::BAD_GATEWAY, Json(body)).into_response())
}

async fn remote_start(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let b: RemoteStartBody = friendly_body(&body)?;
    ids_in_range(&[("evse_id", b.evse_id), ("connector_id", b.connector_id)])?;
    known_station(&api, &id).await?;
    sessions::check_remote_start(&api, &b.id_token, b.force).await?;
    let command =
        FriendlyCommand::RemoteStart { id_token: b.id_token, evse_id: b.evse_id, connector_id: b.connector_id };
    command_response(api.commands.friendly_command(&id, command).await)
}

async fn remote_stop(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let b: RemoteStopBody = friendly_body(&body)?;
    command_response(
        api.commands.friendly_command(&id, FriendlyCommand::RemoteStop { transaction_id: b.transaction_id }).await,
    )
}

async fn reset(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let b: ResetBody = friendly_body(&body)?;
    let hard = matches!(b.r#type, ResetKind::Hard);
    command_response(api.commands.friendly_command(&id, FriendlyCommand::Reset { hard }).await)
}

async fn unlock(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let b: UnlockBody = friendly_body(&body)?;
    ids_in_range(&[("connector_id", Some(b.connector_id)), ("evse_id", b.evse_id)])?;
    command_response(
        api.commands
            .friendly_command(&id, FriendlyCommand::Unlock { evse_id: b.evse_id, connector_id: b.connector_id })
            .await,
    )
}

async fn change_availability(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: AvailabilityBody = friendly_body(&body)?;
    ids_in_range(&[("evse_id", b.evse_id), ("connector_id", b.connector_id)])?;
    let command =
        FriendlyCommand::Availability { operative: b.operative, evse_id: b.evse_id, connector_id: b.connector_id };
    command_response(api.commands.friendly_command(&id, command).await)
}

async fn set_configuration(
    State(api): State<Arc<Api>>,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: SetConfigurationBody = friendly_body(&body)?;
    command_response(
        api.commands.friendly_command(&id, FriendlyCommand::SetConfiguration { key, value: b.value }).await,
    )
}

async fn fetch_configuration(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: FetchConfigurationBody = friendly_body(&body)?;
    command_response(api.commands.friendly_command(&id, FriendlyCommand::GetConfiguration { keys: b.keys }).await)
}

async fn station_messages(State(api): State<Arc<Api>>, Path(id): Path<String>, Query(params): Params) -> ApiResult {
    let request = paging::request("messages", &params, &[])?;
    known_station(&api, &id).await?;
    let page = api.store.messages(&id, &request).await?;
    Ok(Json(paging::answer("messages", &page, views::message)))
}

async fn station_events(State(api): State<Arc<Api>>, Path(id): Path<String>, Query(params): Params) -> ApiResult {
    let request = paging::request("events", &params, &["kind"])?;
    known_station(&api, &id).await?;
    let kind = params.get("kind").map(String::as_str);
    let page = api.store.station_events(&id, kind, &request).await?;
    Ok(Json(paging::answer("events", &page, views::station_event)))
}

async fn station_variables(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    api.store.station(&id).await?.ok_or_else(|| ApiError::not_found("station"))?;
    let variables = api.store.device_model(&id).await?;
    Ok(Json(Value::Array(variables.iter().map(views::variable).collect())))
}

/// Ensures the station exists, for endpoints under /stations/{id}.
async fn known_station(api: &Api, id: &str) -> Result<(), ApiError> {
    api.store.station(id).await?.ok_or_else(|| ApiError::not_found("station"))?;
    Ok(())
}

async fn station_configuration(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    known_station(&api, &id).await?;
    let keys = api.store.configuration(&id).await?;
    Ok(Json(Value::Array(keys.iter().map(views::configuration_key).collect())))
}

async fn station_reservations(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    known_station(&api, &id).await?;
    let reservations = api.store.reservations(&id, api.clock.now()).await?;
    Ok(Json(Value::Array(reservations.iter().map(views::reservation).collect())))
}

async fn station_charging_profiles(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    known_station(&api, &id).await?;
    let profiles = api.store.charging_profiles(&id).await?;
    Ok(Json(Value::Array(profiles.iter().map(views::charging_profile).collect())))
}

async fn station_transfers(State(api): State<Arc<Api>>, Path(id): Path<String>, Query(params): Params) -> ApiResult {
    let request = paging::request("transfers", &params, &[])?;
    known_station(&api, &id).await?;
    let page = api.store.transfers(&id, &request).await?;
    Ok(Json(paging::answer("transfers", &page, views::transfer)))
}

/// The variable monitors a 2.0.1 station reported in NotifyMonitoringReport.
async fn station_monitors(State(api): State<Arc<Api>>, Path(id): Path<String>, Query(params): Params) -> ApiResult {
    let request = paging::request("monitors", &params, &[])?;
    known_station(&api, &id).await?;
    let page = api.store.monitors(&id, &request).await?;
    Ok(Json(paging::answer("monitors", &page, views::monitor)))
}

async fn station_availability(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    known_station(&api, &id).await?;
    let settings = api.store.availability(&id).await?;
    Ok(Json(Value::Array(settings.iter().map(views::availability).collect())))
}

async fn list_transactions(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    let request = paging::request("transactions", &params, &["station_id", "active"])?;
    let filter =
        TransactionFilter { station_id: params.get("station_id").cloned(), active: bool_param(&params, "active")? };
    let page = api.store.transactions(&filter, &request).await?;
    let items = sessions::described(&api, &page.items).await?;
    Ok(Json(paging::answer_items("transactions", &page, items)))
}

fn transaction_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::bad_request("transaction id must be an integer"))
}

async fn get_transaction(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let tx = api.store.transaction(transaction_id(&id)?).await?.ok_or_else(|| ApiError::not_found("transaction"))?;
    let mut described = sessions::described(&api, std::slice::from_ref(&tx)).await?;
    let mut view = described.pop().unwrap_or(Value::Null);
    // Shown here, not in lists: they take the transaction's readings.
    let anomalies = api.store.transaction_anomalies(tx.id).await?;
    view["anomalies"] = anomalies.iter().map(csms_store::anomaly_view).collect();
    Ok(Json(view))
}

async fn transaction_meter_values(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> ApiResult {
    let id = transaction_id(&id)?;
    let request = paging::request("meter-values", &params, &[])?;
    api.store.transaction(id).await?.ok_or_else(|| ApiError::not_found("transaction"))?;
    let page = api.store.meter_values(id, &request).await?;
    Ok(Json(paging::answer("meter-values", &page, views::meter_value)))
}

async fn list_faults(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    let request = paging::request("faults", &params, &["station_id", "open", "category"])?;
    let category = params
        .get("category")
        .map(|text| {
            FaultCategory::parse(text).ok_or_else(|| {
                let known: Vec<&str> = FaultCategory::ALL.iter().map(|c| c.as_str()).collect();
                ApiError::bad_request(format!("category must be one of {}, not {text:?}", known.join(", ")))
            })
        })
        .transpose()?;
    let filter = FaultFilter {
        station_id: params.get("station_id").map(String::as_str),
        open: bool_param(&params, "open")?,
        category,
    };
    let page = api.store.faults(&filter, &request).await?;
    Ok(Json(paging::answer("faults", &page, views::fault)))
}

async fn get_fault(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("a fault's id is an integer"))?;
    let fault = api.store.fault(id).await?.ok_or_else(|| ApiError::not_found("fault"))?;
    Ok(Json(views::fault(&fault)))
}
