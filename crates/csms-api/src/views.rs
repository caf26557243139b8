//! The JSON shapes of the API. Field names are the API's contract; they are spelled out here,
//! in one place, rather than derived from storage or domain types. Secrets (`ocpp::secrets`)
//! are masked here too, whatever the role: Ström masks them before it stores anything, and
//! masking again on the way out covers rows kept before it did (command and message logs).

use csms_commands::SessionInfo;
use csms_core::access::ApiToken;
use csms_core::authorization::IdTokenRecord;
use csms_core::clock::format_timestamp;
use csms_core::sessions::Figures;
use csms_store::{
    AvailabilityView, ChargingProfileView, CommandView, ConfigurationView, ConnectorView, DeviceModelView, FaultView,
    MessageView, MeterValueView, MonitorView, ReservationView, StationEventView, StationView, TransactionView,
    TransferView,
};
use serde_json::{json, Value};

pub(crate) fn station(s: &StationView, session: Option<SessionInfo>) -> Value {
    let connected = session.is_some();
    let last_seen = session.as_ref().map(|i| format_timestamp(&i.last_seen)).or_else(|| s.last_seen_at.clone());
    json!({
        "id": s.id,
        "registration_status": s.registration_status,
        "ocpp_version": s.ocpp_version,
        "vendor": s.vendor,
        "model": s.model,
        "serial_number": s.serial_number,
        "charge_box_serial_number": s.charge_box_serial_number,
        "firmware_version": s.firmware_version,
        "iccid": s.iccid,
        "imsi": s.imsi,
        "meter_type": s.meter_type,
        "meter_serial_number": s.meter_serial_number,
        "firmware_status": s.firmware_status,
        "diagnostics_status": s.diagnostics_status,
        "log_status": s.log_status,
        "connected": connected,
        "connected_at": session.as_ref().map(|i| format_timestamp(&i.connected_at)),
        "last_boot_at": s.last_boot_at,
        "boot_reason": s.boot_reason,
        "last_seen_at": last_seen,
        "created_at": s.created_at,
        "security_profile": s.security_profile,
        "basic_auth_password_set": s.basic_auth_password_set,
        "decommissioned_at": s.decommissioned_at,
        "connectors": s.connectors.iter().map(connector).collect::<Vec<_>>(),
    })
}

fn connector(c: &ConnectorView) -> Value {
    json!({
        // 1.6 connectors have no EVSE level (stored as EVSE 0).
        "evse_id": (c.evse_id != 0).then_some(c.evse_id),
        "connector_id": c.connector_id,
        "status": c.status,
        "error_code": c.error_code,
        "info": c.info,
        "vendor_id": c.vendor_id,
        "vendor_error_code": c.vendor_error_code,
        "status_at": c.status_at,
        // The narrowest accepted ChangeAvailability that covers the connector; Operative when
        // none does.
        "availability": if c.availability.operative { "Operative" } else { "Inoperative" },
        "availability_scheduled": c.availability.scheduled,
    })
}

/// A transaction with its `figures` (`csms_core::sessions`) and `derived_flag`, a flag computed
/// when read (`charged_while_unauthorized`) after those stored.
pub(crate) fn transaction(t: &TransactionView, figures: &Figures, derived_flag: Option<&str>) -> Value {
    let flags: Vec<&str> = t.flags.iter().map(String::as_str).chain(derived_flag).collect();
    json!({
        "id": t.id,
        "station_id": t.station_id,
        "evse_id": t.evse_id,
        "connector_id": t.connector_id,
        "station_transaction_id": t.station_tx_id,
        "id_token": t.id_token,
        // As the station was told it; `start_auth_reason` is Ström's finer decision where the
        // station's version could not say it (a 1.6 unknown tag: Invalid, reason Unknown).
        "start_auth_status": t.start_auth_status,
        "start_auth_reason": t.start_auth_reason,
        "last_auth_status": t.last_auth_status,
        "active": t.stopped_at.is_none() && t.started_at.is_some(),
        "started_at": t.started_at,
        "stopped_at": t.stopped_at,
        "meter_start_wh": t.meter_start_wh,
        "meter_stop_wh": t.meter_stop_wh,
        "energy_wh": t.energy_wh,
        "reservation_id": t.reservation_id,
        "stop_reason": t.stop_reason,
        "stop_id_token": t.stop_id_token,
        "flags": flags,
        "id_token_type": t.id_token_type,
        "charging_state": t.charging_state,
        "last_trigger_reason": t.last_trigger_reason,
        // The station's own figure (2.0.1 timeSpentCharging) when it gave one, else Ström's.
        "time_spent_charging_s": t.time_spent_charging.or(figures.charging_s),
        "remote_start_id": t.remote_start_id,
        "energy_so_far_wh": figures.energy_so_far_wh,
        "power_w": figures.power_w,
        "duration_s": figures.duration_s,
        "charging_s": figures.charging_s,
        "idle_s": figures.idle_s,
    })
}

pub(crate) fn meter_value(m: &MeterValueView) -> Value {
    json!({
        "evse_id": m.evse_id,
        "connector_id": m.connector_id,
        "timestamp": m.timestamp,
        "measurand": m.measurand,
        "phase": m.phase,
        "location": m.location,
        "context": m.context,
        "format": m.format,
        "unit": m.unit,
        "raw_value": m.raw_value,
        "value": m.value,
        "normalised_unit": m.normalised_unit,
        "signed_data": m.signed_data.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
    })
}

/// A fault in the one vocabulary of both versions (`csms_core::fault_kinds`: `component`,
/// `code`, `category`, with the vendor's detail), the raw protocol fields beside it (`raw`), and
/// the fields the API had before (`error_code`, `variable`, `tech_code`, …) as they were. The
/// vocabulary is computed when read, from the stored raw fields, so a better mapping applies to
/// every fault ever stored (the stored category a list filters on is classified again when the
/// mapping changes: `csms_store`'s `classify_faults`).
pub(crate) fn fault(f: &FaultView) -> Value {
    // A fault opened by a NotifyEvent keeps the variable's value as its status.
    let status = if f.variable.as_deref().is_some_and(secret_variable) { masked(&f.status) } else { f.status.clone() };
    let kind = f.kind();
    let raw = match (f.component.as_deref(), f.station_version.as_deref()) {
        // Nothing the station said: what Ström saw.
        _ if f.detected_by.is_some() => json!({"detected_by": f.detected_by, "reason": f.info}),
        (Some(component), _) => json!({"component": component, "variable": f.variable, "techCode": f.tech_code,
                                       "techInfo": f.tech_info, "actualValue": status}),
        (None, Some("2.0.1")) => json!({"connectorStatus": status}),
        (None, _) => json!({"errorCode": f.error_code, "vendorErrorCode": f.vendor_error_code,
                            "vendorId": f.vendor_id, "info": f.info}),
    };
    json!({
        "id": f.id,
        "station_id": f.station_id,
        // EVSE 0 is no EVSE: a 1.6 connector's fault, or a 2.0.1 component of the whole station.
        "evse_id": f.evse_id.filter(|e| *e != 0),
        "connector_id": f.connector_id,
        "component": kind.component.as_str(),
        "code": kind.code.as_str(),
        "category": kind.category.as_str(),
        "severity": f.severity,
        "source": if f.detected_by.is_some() { "strom" } else { "station" },
        "vendor": {"id": f.vendor_id, "code": f.vendor_error_code.as_ref().or(f.tech_code.as_ref()),
                   "info": f.info.as_ref().or(f.tech_info.as_ref())},
        "raw": raw,
        "variable": f.variable,
        "tech_code": f.tech_code,
        "tech_info": f.tech_info,
        "event_id": f.event_id,
        "error_code": f.error_code,
        "status": status,
        "vendor_id": f.vendor_id,
        "vendor_error_code": f.vendor_error_code,
        "info": f.info,
        "started_at": f.started_at,
        "cleared_at": f.cleared_at,
        "open": f.cleared_at.is_none(),
    })
}

pub(crate) fn message(m: &MessageView) -> Value {
    // The frame is returned as JSON when it is JSON, so clients need not parse it twice.
    let text = ocpp::secrets::mask(&m.frame);
    let frame = serde_json::from_str::<Value>(&text).unwrap_or_else(|_| Value::String(text.into_owned()));
    json!({ "id": m.id, "direction": m.direction, "at": m.at, "frame": frame })
}

/// An API token as listed: who it is for and when it stops working, never any part of the
/// secret or of its hash.
pub(crate) fn api_token(t: &ApiToken) -> Value {
    json!({
        "id": t.id,
        "role": t.role.as_str(),
        "name": t.name,
        "created_at": format_timestamp(&t.created_at),
        "expires_at": t.expires_at.as_ref().map(format_timestamp),
        "revoked_at": t.revoked_at.as_ref().map(format_timestamp),
    })
}

pub(crate) fn id_token(t: &IdTokenRecord) -> Value {
    json!({
        "id_token": t.id_token,
        // The 2.0.1 IdTokenEnumType; null: the token is its value, whatever the type.
        "type": t.token_type.map(|k| k.as_str()),
        "status": t.status.as_str(),
        "expiry": t.expiry.as_ref().map(format_timestamp),
        "parent_id_token": t.parent_id_token,
    })
}

pub(crate) fn station_event(e: &StationEventView) -> Value {
    json!({
        "id": e.id,
        "kind": e.kind,
        "status": e.status,
        "request_id": e.request_id,
        "evse_id": e.evse_id,
        "detail": e.detail.as_deref().map(event_detail),
        "at": e.at,
    })
}

pub(crate) fn variable(v: &DeviceModelView) -> Value {
    json!({
        "component": v.component,
        "component_instance": v.component_instance,
        "evse_id": v.evse_id,
        "connector_id": v.connector_id,
        "variable": v.variable,
        "variable_instance": v.variable_instance,
        "attribute_type": v.attribute_type,
        "value": if secret_variable(&v.variable) { v.value.as_deref().map(masked) } else { v.value.clone() },
        "mutability": v.mutability,
        "persistent": v.persistent,
        "constant": v.constant,
        "data_type": v.data_type,
        "unit": v.unit,
        "min_limit": v.min_limit,
        "max_limit": v.max_limit,
        "values_list": v.values_list,
        "supports_monitoring": v.supports_monitoring,
        "updated_at": v.updated_at,
    })
}

pub(crate) fn command(c: &CommandView) -> Value {
    let json_or_text = |t: &str| {
        let t = ocpp::secrets::mask(t);
        serde_json::from_str::<Value>(&t).unwrap_or_else(|_| Value::String(t.into_owned()))
    };
    json!({
        "id": c.id,
        "station_id": c.station_id,
        "action": c.action,
        "request": json_or_text(&c.request),
        "status": c.status,
        "response": c.response.as_deref().map(json_or_text),
        "error_code": c.error_code,
        "error_description": c.error_description,
        "requested_at": c.requested_at,
        "finished_at": c.finished_at,
    })
}

pub(crate) fn configuration_key(k: &ConfigurationView) -> Value {
    let value = if ocpp::secrets::is_secret_key(&k.key) { k.value.as_deref().map(masked) } else { k.value.clone() };
    json!({"key": k.key, "value": value, "readonly": k.readonly, "updated_at": k.updated_at})
}

/// Whether a variable, named with or without its instance (`Name[instance]`), holds a secret.
fn secret_variable(variable: &str) -> bool {
    ocpp::secrets::is_secret_variable(variable.split('[').next().unwrap_or(variable))
}

fn masked(value: &str) -> String {
    ocpp::secrets::masked_value(Some(value)).unwrap_or_default().to_string()
}

/// A station event's detail; a NotifyEvent's (`Component.Variable=value`) with a secret
/// variable's value masked, any other (a DataTransfer's JSON) with its secrets masked.
fn event_detail(detail: &str) -> String {
    match detail.split_once('=') {
        Some((place, value)) if place.rsplit('.').next().is_some_and(secret_variable) => {
            format!("{place}={}", masked(value))
        }
        _ => ocpp::secrets::mask(detail).into_owned(),
    }
}

pub(crate) fn reservation(r: &ReservationView) -> Value {
    json!({
        "reservation_id": r.reservation_id,
        "evse_id": r.evse_id,
        "connector_id": r.connector_id,
        "id_token": r.id_token,
        "group_id_token": r.group_id_token,
        "expiry": r.expiry,
        "status": r.status,
        "transaction_id": r.transaction_id,
        "updated_at": r.updated_at,
    })
}

pub(crate) fn charging_profile(p: &ChargingProfileView) -> Value {
    json!({
        "profile_id": p.profile_id,
        "evse_id": p.evse_id,
        "stack_level": p.stack_level,
        "purpose": p.purpose,
        "transaction_id": p.transaction_id,
        "profile": serde_json::from_str::<Value>(&p.profile).unwrap_or(Value::Null),
        "updated_at": p.updated_at,
    })
}

pub(crate) fn availability(a: &AvailabilityView) -> Value {
    json!({
        "evse_id": a.evse_id,
        "connector_id": a.connector_id,
        "operational_status": a.operational,
        "status": a.status,
        "updated_at": a.updated_at,
    })
}

pub(crate) fn transfer(t: &TransferView) -> Value {
    json!({
        "id": t.id,
        "kind": t.kind,
        "request_id": t.request_id,
        "location": t.location,
        "file_name": t.file_name,
        "status": t.status,
        "requested_at": t.requested_at,
        "updated_at": t.updated_at,
    })
}

pub(crate) fn monitor(m: &MonitorView) -> Value {
    json!({
        "monitor_id": m.monitor_id,
        "component": m.component,
        "component_instance": m.component_instance,
        "evse_id": m.evse_id,
        "connector_id": m.connector_id,
        "variable": m.variable,
        "variable_instance": m.variable_instance,
        "kind": m.kind,
        "value": m.value,
        "severity": m.severity,
        "transaction_only": m.transaction_only,
        "updated_at": m.updated_at,
    })
}
