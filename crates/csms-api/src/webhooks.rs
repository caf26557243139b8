//! Webhook subscriptions through the API (admin): create one with its URL, secret and filters;
//! list, show, remove; each one's delivery log. The secret is write-only: kept for signing
//! (`csms-webhooks`), never shown.

use crate::fields::{unprocessable, Fields};
use crate::{paging, Api, ApiError, ApiResult, Params};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use csms_core::events::{allowed_kinds, KindFilter};
use csms_core::fault_kinds::FaultCategory;
use csms_core::faults::Severity;
use csms_core::ops::{CreateWebhook, DeleteWebhook};
use csms_core::webhooks::{check_secret, check_url};
use csms_store::{WebhookDeliveryView, WebhookView};
use serde_json::{json, Value};
use std::sync::Arc;

pub(crate) fn view(w: &WebhookView) -> Value {
    let list = |text: &str| -> Vec<String> { text.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect() };
    json!({
        "id": w.id,
        "url": w.url,
        "secret_set": !w.secret.is_empty(),
        "kinds": list(&w.kinds),
        "categories": list(&w.categories),
        "min_severity": w.min_severity,
        "station_id": w.station_id,
        "last_event_id": w.last_event_id,
        "created_at": w.created_at,
    })
}

pub(crate) fn delivery(d: &WebhookDeliveryView) -> Value {
    json!({
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_id": d.event_id,
        "attempt": d.attempt,
        "outcome": d.outcome,
        "status_code": d.status_code,
        "error": d.error,
        "duration_ms": d.duration_ms,
        "at": d.at,
    })
}

fn parse(body: &[u8], api: &Api) -> Result<CreateWebhook, ApiError> {
    let fields = Fields::read(body, &["url", "secret", "kinds", "categories", "min_severity", "station_id"])?;
    let url = fields.required("url")?;
    check_url(&url, &api.webhook_hosts).map_err(unprocessable)?;
    let secret = fields.required("secret")?;
    check_secret(&secret).map_err(unprocessable)?;
    let kinds = fields.names("kinds")?;
    if let Some(bad) = kinds.iter().find(|k| k.is_empty() || KindFilter::parse(k).is_err()) {
        return Err(unprocessable(format!("kind {bad:?} is unknown; kinds are {}", allowed_kinds())));
    }
    let categories = fields.names("categories")?;
    if let Some(bad) = categories.iter().find(|c| FaultCategory::parse(c).is_none()) {
        let known: Vec<&str> = FaultCategory::ALL.iter().map(|c| c.as_str()).collect();
        return Err(unprocessable(format!("category {bad:?} is unknown; categories are {}", known.join(", "))));
    }
    let min_severity = fields.text("min_severity")?;
    if let Some(bad) = min_severity.as_deref().filter(|s| Severity::parse(s).is_none()) {
        return Err(unprocessable(format!("min_severity must be Error, Warning or Info, not {bad:?}")));
    }
    Ok(CreateWebhook {
        url,
        secret,
        kinds: kinds.join(","),
        categories: categories.join(","),
        min_severity,
        station_id: fields.station_id()?,
        now: api.clock.now(),
    })
}

pub(crate) async fn create(State(api): State<Arc<Api>>, body: Bytes) -> Result<Response, ApiError> {
    let op = parse(&body, &api)?;
    let id = api.store.execute(op, Vec::new()).await?;
    let hook = api.store.webhook(id).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok((StatusCode::CREATED, Json(view(&hook))).into_response())
}

pub(crate) async fn list(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    let page = api.store.webhooks(&paging::request("webhooks", &params, &[])?).await?;
    Ok(Json(paging::answer("webhooks", &page, view)))
}

fn webhook_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::bad_request("a webhook's id is an integer"))
}

pub(crate) async fn get(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let hook = api.store.webhook(webhook_id(&id)?).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(Json(view(&hook)))
}

pub(crate) async fn delete(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let existed = api.store.execute(DeleteWebhook { id: webhook_id(&id)? }, Vec::new()).await?;
    if !existed {
        return Err(ApiError::not_found("webhook"));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn deliveries(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> ApiResult {
    let id = webhook_id(&id)?;
    let request = paging::request("webhook-deliveries", &params, &[])?;
    api.store.webhook(id).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    let page = api.store.webhook_deliveries(id, &request).await?;
    Ok(Json(paging::answer("webhook-deliveries", &page, delivery)))
}
