//! Alert rules (create and remove: admin) and the alerts they raised (`csms_core::alerts`).

use crate::fields::{unprocessable, Fields};
use crate::{bool_param, paging, Api, ApiError, ApiResult, Params};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use csms_core::alerts::Condition;
use csms_core::ops::{CreateAlertRule, DeleteAlertRule};
use csms_store::{AlertRuleView, AlertView};
use serde_json::{json, Value};
use std::sync::Arc;

pub(crate) fn rule_view(r: &AlertRuleView) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "kind": r.condition.kind(),
        "category": r.condition.category().map(|c| c.as_str()),
        "minutes": r.condition.minutes(),
        "count": r.condition.count(),
        "station_id": r.station_id,
        "created_at": r.created_at,
    })
}

pub(crate) fn alert_view(a: &AlertView) -> Value {
    json!({
        "id": a.id,
        "rule_id": a.rule_id,
        "subject": a.subject,
        "station_id": a.station_id,
        "since": a.since,
        "detail": a.detail,
        "raised_at": a.raised_at,
        "resolved_at": a.resolved_at,
        "open": a.resolved_at.is_none(),
    })
}

fn parse(body: &[u8], api: &Api) -> Result<CreateAlertRule, ApiError> {
    let fields = Fields::read(body, &["name", "kind", "category", "minutes", "count", "station_id"])?;
    let name = fields.required("name")?;
    if name.is_empty() || name.chars().count() > 100 || name.contains('\0') {
        return Err(unprocessable("name must be 1 to 100 characters, none of them NUL"));
    }
    let kind = fields.required("kind")?;
    let category = fields.text("category")?;
    let condition =
        Condition::from_parts(&kind, category.as_deref(), fields.number("minutes")?, fields.number("count")?)
            .map_err(unprocessable)?;
    Ok(CreateAlertRule { name, condition, station_id: fields.station_id()?, now: api.clock.now() })
}

pub(crate) async fn create_rule(State(api): State<Arc<Api>>, body: Bytes) -> Result<Response, ApiError> {
    let id = api.store.execute(parse(&body, &api)?, Vec::new()).await?;
    let rule = api.store.alert_rule(id).await?.ok_or_else(|| ApiError::not_found("alert rule"))?;
    Ok((StatusCode::CREATED, Json(rule_view(&rule))).into_response())
}

pub(crate) async fn rules(State(api): State<Arc<Api>>) -> ApiResult {
    let rules = api.store.alert_rules().await?;
    Ok(Json(Value::Array(rules.iter().map(rule_view).collect())))
}

fn rule_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::bad_request("an alert rule's id is an integer"))
}

pub(crate) async fn rule(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let rule = api.store.alert_rule(rule_id(&id)?).await?.ok_or_else(|| ApiError::not_found("alert rule"))?;
    Ok(Json(rule_view(&rule)))
}

pub(crate) async fn delete_rule(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let existed = api.store.execute(DeleteAlertRule { id: rule_id(&id)?, now: api.clock.now() }, Vec::new()).await?;
    if !existed {
        return Err(ApiError::not_found("alert rule"));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn alerts(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    let request = paging::request("alerts", &params, &["open"])?;
    let page = api.store.alerts(bool_param(&params, "open")?, &request).await?;
    Ok(Json(paging::answer("alerts", &page, alert_view)))
}
