//! The certificates Ström tracks, for the operator: per station, those Ström signed (with the
//! station's answer), those the station holds, and its security events about certificates; and
//! across stations, those that expire within a number of days. Each with its days left until
//! expiry; and the renewal of a station's certificate, asked in its version's words.
//! Certificates are public; no private key is ever stored, so none can be shown.

use crate::{known_station, Api, ApiError, ApiResult, Params};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use csms_core::certificates::days_left;
use csms_core::clock::{format_timestamp, parse_timestamp};
use csms_core::Timestamp;
use csms_store::{InstalledCertificateView, IssuedCertificateView};
use serde_json::{json, Value};
use std::sync::Arc;

/// Days left until `not_after` (RFC 3339, as stored), when known.
fn left(not_after: Option<&str>, now: Timestamp) -> Option<i64> {
    not_after.and_then(parse_timestamp).map(|at| days_left(at, now))
}

fn issued(c: &IssuedCertificateView, now: Timestamp) -> Value {
    json!({
        "station_id": c.station_id,
        "certificate_type": c.certificate_type,
        "serial_number": c.serial_number,
        "subject": c.subject,
        "issuer": c.issuer,
        "not_before": c.not_before,
        "not_after": c.not_after,
        "days_left": left(Some(&c.not_after), now),
        "fingerprint_sha256": c.fingerprint_sha256,
        "status": c.status,
        "issued_at": c.issued_at,
        "answered_at": c.answered_at,
    })
}

fn installed(c: &InstalledCertificateView, now: Timestamp) -> Value {
    json!({
        "station_id": c.station_id,
        "certificate_type": c.certificate_type,
        "hash_algorithm": c.hash_algorithm,
        "issuer_name_hash": c.issuer_name_hash,
        "issuer_key_hash": c.issuer_key_hash,
        "serial_number": c.serial_number,
        "parent_hash_key": c.parent_hash_key,
        "subject": c.subject,
        "not_after": c.not_after,
        "days_left": left(c.not_after.as_deref(), now),
        "source": c.source,
        "updated_at": c.updated_at,
    })
}

/// `GET /api/v1/stations/{id}/certificates`.
pub(crate) async fn station_certificates(State(api): State<Arc<Api>>, Path(id): Path<String>) -> ApiResult {
    known_station(&api, &id).await?;
    let now = api.clock.now();
    let issued_list = api.store.issued_certificates(&id).await?;
    let installed_list = api.store.installed_certificates(&id).await?;
    let events = api.store.certificate_security_events(&id).await?;
    Ok(Json(json!({
        "station_id": id,
        "issued": issued_list.iter().map(|c| issued(c, now)).collect::<Vec<_>>(),
        "installed": installed_list.iter().map(|c| installed(c, now)).collect::<Vec<_>>(),
        "security_events": events.iter().map(crate::views::station_event).collect::<Vec<_>>(),
    })))
}

/// `POST /api/v1/stations/{id}/certificates/renew`: the station is asked for a CSR
/// (`Commands::renew_certificate`); its answer to the trigger is the answer here.
pub(crate) async fn renew(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    crate::command_response(api.commands.renew_certificate(&id).await)
}

/// `GET /api/v1/certificates?expiring_within_days=N` (default 30): certificates of every
/// station that expire within N days, expired ones included, soonest first.
pub(crate) async fn expiring(State(api): State<Arc<Api>>, Query(params): Params) -> ApiResult {
    let days =
        match params.get("expiring_within_days") {
            None => 30,
            Some(text) => text.parse::<i64>().ok().filter(|d| (0..=36_500).contains(d)).ok_or_else(|| {
                ApiError::bad_request("expiring_within_days must be a number of days from 0 to 36500")
            })?,
        };
    let now = api.clock.now();
    let before = format_timestamp(&(now + chrono::Duration::days(days)));
    let (issued_list, installed_list) = api.store.expiring_certificates(&before).await?;
    let mut items: Vec<(String, Value)> = issued_list
        .iter()
        .map(|c| {
            let mut v = issued(c, now);
            v["kind"] = json!("issued");
            (c.not_after.clone(), v)
        })
        .chain(installed_list.iter().map(|c| {
            let mut v = installed(c, now);
            v["kind"] = json!("installed");
            (c.not_after.clone().unwrap_or_default(), v)
        }))
        .collect();
    // Stored timestamps are RFC 3339 UTC with three fractional digits: text order is time order.
    items.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Json(Value::Array(items.into_iter().map(|(_, v)| v).collect())))
}
