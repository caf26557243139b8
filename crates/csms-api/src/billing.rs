//! Tariffs (OCPI 2.2.1 Tariff objects with Ström's `stations`, `id_token_groups`, `tax_rate` and
//! `tax_included`; changes: admin) and charge detail records (OCPI 2.2.1 CDRs with Ström's
//! fields; read-only: the writer makes them as transactions end).

use crate::fields::{unprocessable, Fields};
use crate::{paging, Api, ApiError, ApiResult, Params};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use csms_core::ops::{DeleteTariff, PutTariff, SetMeterKey, SetStationTimeZone};
use csms_core::station::StationId;
use csms_pki::ocmf::MeterKey;
use csms_store::ocpi::parse_tariff;
use csms_store::{CdrFilter, CdrView, MeterKeyView, TariffView};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A tariff as saved, with the fields Ström keeps: its id, version and when it last changed
/// (OCPI's `last_updated`).
pub(crate) fn tariff_view(t: &TariffView) -> Value {
    let mut body: Map<String, Value> = serde_json::from_str(&t.body).unwrap_or_default();
    body.insert("id".into(), t.id.clone().into());
    body.insert("version".into(), t.version.into());
    body.insert("last_updated".into(), t.updated_at.clone().into());
    Value::Object(body)
}

/// A record as written, with its id (OCPI's `id` is a string) and when it was made.
pub(crate) fn cdr_view(c: &CdrView) -> Value {
    let mut body: Map<String, Value> = serde_json::from_str(&c.body).unwrap_or_default();
    body.insert("id".into(), c.id.to_string().into());
    body.insert("created_at".into(), c.created_at.clone().into());
    Value::Object(body)
}

/// The body as a tariff: it must be a JSON object (400 otherwise) that reads as a tariff (422
/// with what is wrong). The fields Ström sets are dropped from what is kept.
fn read(body: &[u8], id: Option<&str>, api: &Api) -> Result<PutTariff, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(text) else {
        return Err(ApiError::bad_request("the body must be a JSON object: an OCPI 2.2.1 Tariff"));
    };
    let tariff = parse_tariff(text, id).map_err(unprocessable)?;
    for kept_by_strom in ["version", "last_updated"] {
        fields.remove(kept_by_strom);
    }
    fields.insert("id".into(), tariff.id.clone().into());
    Ok(PutTariff { tariff, body: Value::Object(fields).to_string(), create_only: id.is_none(), now: api.clock.now() })
}

pub(crate) async fn list_tariffs(State(api): State<Arc<Api>>) -> ApiResult {
    let tariffs = api.store.tariffs().await?;
    Ok(Json(Value::Array(tariffs.iter().map(tariff_view).collect())))
}

pub(crate) async fn get_tariff(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let tariff = api.store.tariff(&id).await?.ok_or_else(|| ApiError::not_found("tariff"))?;
    Ok(Json(tariff_view(&tariff)))
}

async fn saved(api: &Api, id: &str, status: StatusCode) -> Result<Response, ApiError> {
    let tariff = api.store.tariff(id).await?.ok_or_else(|| ApiError::not_found("tariff"))?;
    Ok((status, Json(tariff_view(&tariff))).into_response())
}

/// Creates a tariff; 409 if one with its id is in force.
pub(crate) async fn create_tariff(State(api): State<Arc<Api>>, body: Bytes) -> Result<Response, ApiError> {
    let op = read(&body, None, &api)?;
    let id = op.tariff.id.clone();
    let result = api.store.execute(op, Vec::new()).await?;
    if result.version.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("tariff {id:?} exists; PUT /api/v1/tariffs/{id} replaces it"),
        ));
    }
    saved(&api, &id, StatusCode::CREATED).await
}

/// Creates or replaces a tariff as a new version; sessions already priced keep theirs.
pub(crate) async fn put_tariff(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let op = read(&body, Some(&id), &api)?;
    let result = api.store.execute(op, Vec::new()).await?;
    saved(&api, &id, if result.created { StatusCode::CREATED } else { StatusCode::OK }).await
}

pub(crate) async fn delete_tariff(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if !api.store.execute(DeleteTariff { id, now: api.clock.now() }, Vec::new()).await? {
        return Err(ApiError::not_found("tariff"));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_cdrs(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    let request = paging::request("cdrs", &params, &["station_id", "id_token", "transaction_id"])?;
    let transaction_id = params
        .get("transaction_id")
        .map(|t| t.parse::<i64>().map_err(|_| ApiError::bad_request("transaction_id is an integer")))
        .transpose()?;
    let filter = CdrFilter {
        station_id: params.get("station_id").map(String::as_str),
        id_token: params.get("id_token").map(String::as_str),
        transaction_id,
    };
    let page = api.store.cdrs(&filter, &request).await?;
    Ok(Json(paging::answer("cdrs", &page, cdr_view)))
}

pub(crate) async fn get_cdr(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("a charge detail record's id is an integer"))?;
    let cdr = api.store.cdr(id).await?.ok_or_else(|| ApiError::not_found("charge detail record"))?;
    Ok(Json(cdr_view(&cdr)))
}

fn meter_key_view(k: &MeterKeyView) -> Value {
    let curve = MeterKey::parse(&k.public_key).map(|key| key.curve().as_str()).ok();
    serde_json::json!({"station_id": k.station_id, "public_key": k.public_key, "curve": curve,
                       "meter_serial": k.meter_serial, "updated_at": k.updated_at})
}

fn station(id: &str) -> Result<StationId, ApiError> {
    StationId::parse(id).ok_or_else(|| ApiError::not_found("station"))
}

/// The station's meter key, against which its OCMF records are verified.
pub(crate) async fn get_meter_key(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let key = api.store.meter_key(station(&id)?.as_str()).await?.ok_or_else(|| ApiError::not_found("meter key"))?;
    Ok(Json(meter_key_view(&key)))
}

/// Registers the station's meter key: `public_key` as hex or base64 DER SubjectPublicKeyInfo or a
/// PEM PUBLIC KEY (P-256 or P-384), kept as hex DER; `meter_serial` optional.
pub(crate) async fn put_meter_key(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let station = station(&id)?;
    let fields = Fields::read(&body, &["public_key", "meter_serial"])?;
    let key = MeterKey::parse(&fields.required("public_key")?)
        .map_err(|e| unprocessable(format!("public_key cannot be used: {e}")))?;
    let meter_serial = fields.text("meter_serial")?;
    let op =
        SetMeterKey { station: station.clone(), public_key: Some(key.to_hex()), meter_serial, now: api.clock.now() };
    if !api.store.execute(op, Vec::new()).await? {
        return Err(ApiError::not_found("station"));
    }
    let key = api.store.meter_key(station.as_str()).await?.ok_or_else(|| ApiError::not_found("meter key"))?;
    Ok(Json(meter_key_view(&key)))
}

fn time_zone_view(station: &str, time_zone: Option<String>) -> Value {
    serde_json::json!({"station_id": station, "time_zone": time_zone})
}

/// The time zone the station's tariffs are read in; `null`: the server's (`time_zone`).
pub(crate) async fn get_time_zone(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    let station = station(&id)?;
    let zone = api.store.station_time_zone(station.as_str()).await?.ok_or_else(|| ApiError::not_found("station"))?;
    Ok(Json(time_zone_view(station.as_str(), zone)))
}

/// Sets the station's time zone (`time_zone`: an IANA name such as "Europe/Berlin"; `null` or
/// absent: the server's); records priced from then on read its tariffs' times of day in it.
pub(crate) async fn put_time_zone(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let station = station(&id)?;
    let fields = Fields::read(&body, &["time_zone"])?;
    let time_zone = fields.text("time_zone")?;
    if let Some(name) = &time_zone {
        name.parse::<chrono_tz::Tz>().map_err(|_| {
            let shown: String = name.chars().take(64).collect();
            unprocessable(format!(
                "time_zone {shown:?} is no IANA time zone name (such as \"Europe/Berlin\" or \"UTC\")"
            ))
        })?;
    }
    let op = SetStationTimeZone { station: station.clone(), time_zone: time_zone.clone() };
    if !api.store.execute(op, Vec::new()).await? {
        return Err(ApiError::not_found("station"));
    }
    Ok(Json(time_zone_view(station.as_str(), time_zone)))
}

pub(crate) async fn delete_meter_key(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let op = SetMeterKey { station: station(&id)?, public_key: None, meter_serial: None, now: api.clock.now() };
    if !api.store.execute(op, Vec::new()).await? {
        return Err(ApiError::not_found("meter key"));
    }
    Ok(StatusCode::NO_CONTENT)
}
