//! What an answered command changes in Ström's picture of the station: configuration keys and
//! device-model values it reported or accepted, reservations, charging profiles, availability,
//! local lists and the list version it reports. Only accepted commands and reports leave
//! anything behind; the rest is in the command log. Secrets are masked before anything is kept.

use crate::local_list::{version_reported, ListUpdate};
use csms_core::notifications::TransferKind;
use csms_core::ops::DeviceVariable;
use csms_core::ops::{Change, ChargingProfileRecord, ConfigurationKey, Reservation};
use csms_core::reservations::ReservationEnd;
use csms_core::station::StationId;
use csms_core::Timestamp;

/// The store operations that record the effect of `request` answered by `response`.
pub(crate) fn v16(
    station: &StationId,
    action: ocpp::v16::Action,
    request: &str,
    response: &str,
    now: Timestamp,
) -> Result<Vec<Change>, String> {
    use ocpp::v16::{Request, Response};
    let station = station.clone();
    let req = Request::decode(action, request).map_err(|e| e.to_string())?;
    let res = Response::decode(action, response).map_err(|e| e.to_string())?;
    Ok(match (req, res) {
        (Request::GetConfiguration(_), Response::GetConfiguration(res)) => {
            let keys = res
                .configuration_key
                .unwrap_or_default()
                .into_iter()
                .map(|k| ConfigurationKey { key: k.key, value: k.value, readonly: k.readonly })
                .collect();
            vec![Change::ConfigurationKeys { station, keys, now }]
        }
        (Request::ChangeConfiguration(req), Response::ChangeConfiguration(res)) => {
            use ocpp::v16::ChangeConfigurationResponseStatus as S;
            match res.status {
                S::Accepted | S::RebootRequired => {
                    let key = ConfigurationKey { key: req.key, value: Some(req.value), readonly: false };
                    vec![Change::ConfigurationKeys { station, keys: vec![key], now }]
                }
                _ => Vec::new(),
            }
        }
        (Request::ReserveNow(req), Response::ReserveNow(res))
            if res.status == ocpp::v16::ReserveNowResponseStatus::Accepted =>
        {
            vec![Change::ReservationMade(Reservation {
                station,
                reservation_id: req.reservation_id,
                evse_id: None,
                // Connector 0 reserves the whole station (OCPP 1.6 §5.13).
                connector_id: (req.connector_id != 0).then_some(req.connector_id),
                id_token: req.id_tag,
                group_id_token: req.parent_id_tag,
                expiry: req.expiry_date.0,
                now,
            })]
        }
        (Request::CancelReservation(req), Response::CancelReservation(res))
            if res.status == ocpp::v16::CancelReservationResponseStatus::Accepted =>
        {
            vec![Change::ReservationEnded {
                station,
                reservation_id: req.reservation_id,
                end: ReservationEnd::Cancelled,
                now,
            }]
        }
        (Request::SetChargingProfile(req), Response::SetChargingProfile(res))
            if res.status == ocpp::v16::SetChargingProfileResponseStatus::Accepted =>
        {
            let p = &req.cs_charging_profiles;
            vec![Change::ChargingProfileSet(ChargingProfileRecord {
                station,
                profile_id: p.charging_profile_id,
                evse_id: req.connector_id,
                stack_level: p.stack_level,
                purpose: p.charging_profile_purpose.as_str().to_string(),
                transaction_id: p.transaction_id.map(|t| t.to_string()),
                profile: serde_json::to_string(p).map_err(|e| e.to_string())?,
                now,
            })]
        }
        (Request::ClearChargingProfile(req), Response::ClearChargingProfile(res))
            if res.status == ocpp::v16::ClearChargingProfileResponseStatus::Accepted =>
        {
            vec![Change::ChargingProfilesCleared {
                station,
                profile_id: req.id,
                evse_id: req.connector_id,
                purpose: req.charging_profile_purpose.map(|p| p.as_str().to_string()),
                stack_level: req.stack_level,
            }]
        }
        (Request::ChangeAvailability(req), Response::ChangeAvailability(res)) => {
            use ocpp::v16::ChangeAvailabilityResponseStatus as S;
            match res.status {
                S::Accepted | S::Scheduled => vec![Change::AvailabilitySet {
                    station,
                    // 1.6 connectors are stored as EVSE 0; connector 0 is the whole station.
                    evse_id: (req.connector_id != 0).then_some(0),
                    connector_id: (req.connector_id != 0).then_some(req.connector_id),
                    operative: req.r#type == ocpp::v16::ChangeAvailabilityType::Operative,
                    status: res.status.as_str().to_string(),
                    now,
                }],
                S::Rejected => Vec::new(),
            }
        }
        (Request::UpdateFirmware(req), Response::UpdateFirmware(_)) => {
            vec![transfer(station, TransferKind::Firmware, None, req.location, None, now)]
        }
        (Request::SignedUpdateFirmware(req), Response::SignedUpdateFirmware(res))
            if res.status == ocpp::v16::UpdateFirmwareStatusEnum::Accepted =>
        {
            vec![transfer(station, TransferKind::Firmware, Some(req.request_id), req.firmware.location, None, now)]
        }
        (Request::GetDiagnostics(req), Response::GetDiagnostics(res)) => {
            // No fileName: the station has nothing to upload (OCPP 1.6 §6.25).
            match res.file_name {
                Some(name) => vec![transfer(station, TransferKind::Diagnostics, None, req.location, Some(name), now)],
                None => Vec::new(),
            }
        }
        (Request::GetLog(req), Response::GetLog(res)) if res.status != ocpp::v16::LogStatusEnum::Rejected => {
            vec![transfer(station, TransferKind::Log, Some(req.request_id), req.log.remote_location, res.filename, now)]
        }
        (Request::SendLocalList(req), Response::SendLocalList(res))
            if res.status == ocpp::v16::SendLocalListResponseStatus::Accepted =>
        {
            ListUpdate::from_16(&req)?.accepted(station, now)
        }
        // -1: the station has no local list (OCPP 1.6 §6.13); recorded as said.
        (Request::GetLocalListVersion(_), Response::GetLocalListVersion(res)) => {
            vec![version_reported(station, res.list_version, "GetLocalListVersion", now)]
        }
        _ => Vec::new(),
    })
}

pub(crate) fn v201(
    station: &StationId,
    action: ocpp::v201::Action,
    request: &str,
    response: &str,
    now: Timestamp,
) -> Result<Vec<Change>, String> {
    use ocpp::v201::*;
    let station = station.clone();
    let req = Request::decode(action, request).map_err(|e| e.to_string())?;
    let res = Response::decode(action, response).map_err(|e| e.to_string())?;
    let attribute = |t: Option<AttributeEnum>| t.map_or("Actual", |t| t.as_str()).to_string();
    Ok(match (req, res) {
        (Request::GetVariables(_), Response::GetVariables(res)) => {
            let values = res
                .get_variable_result
                .iter()
                .filter(|r| r.attribute_status == GetVariableStatusEnum::Accepted)
                .map(|r| (location(&r.component, &r.variable), attribute(r.attribute_type), r.attribute_value.clone()))
                .collect();
            vec![Change::DeviceValues { station, values, now }]
        }
        (Request::SetVariables(req), Response::SetVariables(res)) => {
            let accepted = |d: &SetVariableData| {
                res.set_variable_result.iter().any(|r| {
                    r.component == d.component
                        && r.variable == d.variable
                        && attribute(r.attribute_type) == attribute(d.attribute_type)
                        && matches!(
                            r.attribute_status,
                            SetVariableStatusEnum::Accepted | SetVariableStatusEnum::RebootRequired
                        )
                })
            };
            let values = req
                .set_variable_data
                .iter()
                .filter(|d| accepted(d))
                .map(|d| {
                    (location(&d.component, &d.variable), attribute(d.attribute_type), Some(d.attribute_value.clone()))
                })
                .collect();
            vec![Change::DeviceValues { station, values, now }]
        }
        (Request::ReserveNow(req), Response::ReserveNow(res)) if res.status == ReserveNowStatusEnum::Accepted => {
            vec![Change::ReservationMade(Reservation {
                station,
                reservation_id: req.id,
                evse_id: req.evse_id,
                connector_id: None,
                id_token: req.id_token.id_token,
                group_id_token: req.group_id_token.map(|g| g.id_token),
                expiry: req.expiry_date_time.0,
                now,
            })]
        }
        (Request::CancelReservation(req), Response::CancelReservation(res))
            if res.status == CancelReservationStatusEnum::Accepted =>
        {
            vec![Change::ReservationEnded {
                station,
                reservation_id: req.reservation_id,
                end: ReservationEnd::Cancelled,
                now,
            }]
        }
        (Request::SetChargingProfile(req), Response::SetChargingProfile(res))
            if res.status == ChargingProfileStatusEnum::Accepted =>
        {
            let p = &req.charging_profile;
            vec![Change::ChargingProfileSet(ChargingProfileRecord {
                station,
                profile_id: p.id,
                evse_id: req.evse_id,
                stack_level: p.stack_level,
                purpose: p.charging_profile_purpose.as_str().to_string(),
                transaction_id: p.transaction_id.clone(),
                profile: serde_json::to_string(p).map_err(|e| e.to_string())?,
                now,
            })]
        }
        (Request::ClearChargingProfile(req), Response::ClearChargingProfile(res))
            if res.status == ClearChargingProfileStatusEnum::Accepted =>
        {
            let criteria = req.charging_profile_criteria.as_ref();
            vec![Change::ChargingProfilesCleared {
                station,
                profile_id: req.charging_profile_id,
                evse_id: criteria.and_then(|c| c.evse_id),
                purpose: criteria.and_then(|c| c.charging_profile_purpose).map(|p| p.as_str().to_string()),
                stack_level: criteria.and_then(|c| c.stack_level),
            }]
        }
        (Request::ChangeAvailability(req), Response::ChangeAvailability(res))
            if res.status != ChangeAvailabilityStatusEnum::Rejected =>
        {
            vec![Change::AvailabilitySet {
                station,
                evse_id: req.evse.as_ref().map(|e| e.id),
                connector_id: req.evse.as_ref().and_then(|e| e.connector_id),
                operative: req.operational_status == OperationalStatusEnum::Operative,
                status: res.status.as_str().to_string(),
                now,
            }]
        }
        (Request::UpdateFirmware(req), Response::UpdateFirmware(res))
            if matches!(
                res.status,
                UpdateFirmwareStatusEnum::Accepted | UpdateFirmwareStatusEnum::AcceptedCanceled
            ) =>
        {
            vec![transfer(station, TransferKind::Firmware, Some(req.request_id), req.firmware.location, None, now)]
        }
        (Request::GetLog(req), Response::GetLog(res)) if res.status != LogStatusEnum::Rejected => {
            vec![transfer(station, TransferKind::Log, Some(req.request_id), req.log.remote_location, res.filename, now)]
        }
        (Request::SendLocalList(req), Response::SendLocalList(res))
            if res.status == SendLocalListStatusEnum::Accepted =>
        {
            ListUpdate::from_201(&req)?.accepted(station, now)
        }
        (Request::GetLocalListVersion(_), Response::GetLocalListVersion(res)) => {
            vec![version_reported(station, res.version_number, "GetLocalListVersion", now)]
        }
        _ => Vec::new(),
    })
}

/// Masks what `changes` would keep of a secret: a write-only configuration key's value or a
/// secret variable's (`ocpp::secrets`), whether the station reported it or accepted it from
/// Ström, so that no view can show it.
pub(crate) fn mask_secrets(changes: &mut [Change]) {
    for change in changes {
        match change {
            Change::ConfigurationKeys { keys, .. } => {
                for key in keys.iter_mut().filter(|k| ocpp::secrets::is_secret_key(&k.key)) {
                    key.value = ocpp::secrets::masked_value(key.value.as_deref()).map(str::to_string);
                }
            }
            Change::DeviceValues { values, .. } => {
                let secret = |(place, _, _): &&mut (DeviceVariable, String, Option<String>)| {
                    ocpp::secrets::is_secret_variable(&place.variable)
                };
                for (_, _, value) in values.iter_mut().filter(secret) {
                    *value = ocpp::secrets::masked_value(value.as_deref()).map(str::to_string);
                }
            }
            _ => {}
        }
    }
}

fn transfer(
    station: StationId,
    kind: TransferKind,
    request_id: Option<i64>,
    location: String,
    file_name: Option<String>,
    now: Timestamp,
) -> Change {
    Change::TransferRequested { station, kind, request_id, location, file_name, now }
}

/// Where in the device model a 2.0.1 component's variable is.
pub fn location(component: &ocpp::v201::Component, variable: &ocpp::v201::Variable) -> DeviceVariable {
    DeviceVariable {
        component: component.name.clone(),
        component_instance: component.instance.clone(),
        evse_id: component.evse.as_ref().map(|e| e.id),
        connector_id: component.evse.as_ref().and_then(|e| e.connector_id),
        variable: variable.name.clone(),
        variable_instance: variable.instance.clone(),
    }
}
