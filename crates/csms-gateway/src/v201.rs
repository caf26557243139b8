//! The OCPP 2.0.1 adapter: every action a 2.0.1 station sends, translated into the same domain
//! operations as 1.6 (one network, not two; CHECKLIST §4.10). Transaction ids are the station's,
//! faults come from NotifyEvent, and the device model from NotifyReport.

use crate::context::{mask, Context};
use crate::errors::CallFailure;
use crate::terms;
use csms_commands::location;
use csms_core::authorization::{AuthDecision, AuthStatus, TokenType};
use csms_core::metering::{self, Reading};
use csms_core::notifications::StationEventKind;
use csms_core::ops::{
    Authorize, Change, Changes, DeviceEvent, FrameLog, MeterValues, MonitorReport, MonitoringReport, NotifyEvent,
    ReportPart, StationStatusReport, TxEvent, TxEventRecorded, VariableAttribute, VariableCharacteristics,
    VariableReport,
};
use csms_core::reservations::ReservationEnd;
use csms_core::station::{BootInfo, ProtocolVersion, RegistrationStatus, StationId};
use csms_core::transactions::TxEventType;
use ocpp::v201::*;
use ocpp::{DateTime, Initiator};

pub(crate) async fn handle(
    cx: &mut Context<'_>,
    action: &str,
    payload: &str,
    log: &mut Option<FrameLog>,
) -> Result<String, CallFailure> {
    let action = Action::from_name(action).ok_or_else(|| CallFailure::UnknownAction(action.to_string()))?;
    if action.initiator() == Initiator::Csms {
        return Err(CallFailure::NotStationAction(action.as_str()));
    }
    // A Pending station may send the reports the CSMS asked for while provisioning it.
    let pending_ok = matches!(action, Action::NotifyReport | Action::NotifyMonitoringReport);
    cx.admit(action.as_str(), pending_ok)?;
    let request = Request::decode(action, payload).map_err(CallFailure::Decode)?;
    // Boxed: the future would otherwise hold the request twice, as argument and as local.
    let response = respond(cx, Box::new(request), log).await?;
    Ok(response.to_json()?)
}

// The requests below are taken whole by functions of their own, not picked apart in `respond`:
// a request that is only partly moved stays in `respond`'s future while it waits for the store,
// and that future is allocated for every message (`<dyn Port>::execute`).

fn boot_info(boot: BootNotificationRequest) -> BootInfo {
    let cs = boot.charging_station;
    let modem = cs.modem.unwrap_or(Modem { custom_data: None, iccid: None, imsi: None });
    BootInfo {
        vendor: cs.vendor_name,
        model: cs.model,
        serial_number: cs.serial_number,
        charge_box_serial_number: None,
        firmware_version: cs.firmware_version,
        iccid: modem.iccid,
        imsi: modem.imsi,
        meter_type: None,
        meter_serial_number: None,
        reason: Some(boot.reason.as_str().to_string()),
    }
}

fn tx_event(req: TransactionEventRequest, station: StationId, now: csms_core::Timestamp) -> TxEvent {
    let info = req.transaction_info;
    let readings = req.meter_value.iter().flatten().flat_map(readings).collect();
    TxEvent {
        station,
        station_tx_id: info.transaction_id,
        event_type: match req.event_type {
            TransactionEventEnum::Started => TxEventType::Started,
            TransactionEventEnum::Updated => TxEventType::Updated,
            TransactionEventEnum::Ended => TxEventType::Ended,
        },
        timestamp: req.timestamp.0,
        trigger_reason: req.trigger_reason.as_str().to_string(),
        seq_no: req.seq_no,
        offline: req.offline.unwrap_or(false),
        charging_state: info.charging_state.map(|c| c.as_str().to_string()),
        time_spent_charging: info.time_spent_charging,
        stopped_reason: info.stopped_reason.map(|r| r.as_str().to_string()),
        remote_start_id: info.remote_start_id,
        reservation_id: req.reservation_id,
        evse_id: req.evse.as_ref().map(|e| e.id),
        connector_id: req.evse.as_ref().and_then(|e| e.connector_id),
        id_token: req.id_token.as_ref().map(|t| (t.id_token.clone(), t.r#type.as_str().to_string())),
        readings,
        now,
    }
}

/// A payload re-serialised for an event's detail (the generated types always serialise).
fn detail<T: serde::Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

async fn respond(
    cx: &mut Context<'_>,
    request: Box<Request>,
    log: &mut Option<FrameLog>,
) -> Result<Response, CallFailure> {
    let station = cx.station().clone();
    let now = cx.now();
    Ok(match *request {
        Request::BootNotification(boot) => {
            let (status, interval) = cx.boot(boot_info(boot), ProtocolVersion::V201, log).await?;
            Response::BootNotification(BootNotificationResponse {
                current_time: DateTime(now),
                custom_data: None,
                interval: interval.as_secs() as i64,
                status: match status {
                    RegistrationStatus::Accepted => RegistrationStatusEnum::Accepted,
                    RegistrationStatus::Pending => RegistrationStatusEnum::Pending,
                    RegistrationStatus::Rejected => RegistrationStatusEnum::Rejected,
                },
                status_info: None,
            })
        }
        // Nothing to store but the frames, which go to the message log with the answer's: no
        // round trip through the writer.
        Request::Heartbeat(_) => {
            Response::Heartbeat(HeartbeatResponse { current_time: DateTime(now), custom_data: None })
        }
        Request::StatusNotification(req) => {
            let report = StationStatusReport {
                station,
                evse_id: req.evse_id,
                connector_id: req.connector_id,
                status: req.connector_status.as_str().to_string(),
                error_code: None,
                info: None,
                vendor_id: None,
                vendor_error_code: None,
                timestamp: req.timestamp.0,
            };
            cx.commit(report, log).await?;
            Response::StatusNotification(StatusNotificationResponse { custom_data: None })
        }
        Request::Authorize(req) => {
            tracing::debug!(station = %cx.station(), id_token = %mask(&req.id_token.id_token), "authorize");
            let token_type = TokenType::parse(req.id_token.r#type.as_str());
            let authorize = Authorize { station, id_token: req.id_token.id_token, token_type, now };
            let decision = cx.authorize(authorize, log).await?;
            // Ström does not check contract certificates (Plug&Charge) yet, and says so when
            // asked rather than claim a check it did not make.
            let asked_for_certificate = req.certificate.is_some() || req.iso15118_certificate_hash_data.is_some();
            Response::Authorize(AuthorizeResponse {
                certificate_status: asked_for_certificate
                    .then_some(AuthorizeCertificateStatusEnum::NoCertificateAvailable),
                custom_data: None,
                id_token_info: id_token_info(&decision),
            })
        }
        Request::TransactionEvent(req) => {
            let ended = req.event_type == TransactionEventEnum::Ended;
            let TxEventRecorded { transaction_id, auth } = cx.commit(tx_event(req, station, now), log).await?;
            let total_cost = if ended { cx.record_total(transaction_id).await } else { None };
            // idTokenInfo is required whenever the request carried an idToken (E01.FR.06 …).
            Response::TransactionEvent(TransactionEventResponse {
                charging_priority: None,
                custom_data: None,
                id_token_info: auth.as_ref().map(id_token_info),
                // The charge detail record's total including tax, when a tariff priced the
                // ended transaction (the schema's "including taxes"). The wire's number is a
                // float; the amount, rounded to the currency, is its shortest text.
                total_cost: total_cost.and_then(|c| c.to_string().parse().ok()),
                updated_personal_message: None,
            })
        }
        Request::MeterValues(req) => {
            let readings = req.meter_value.iter().flat_map(readings).collect();
            let op =
                MeterValues { station, evse_id: Some(req.evse_id), connector_id: 0, station_tx_id: None, readings };
            cx.commit(op, log).await?;
            Response::MeterValues(MeterValuesResponse { custom_data: None })
        }
        Request::NotifyEvent(req) => {
            let events = req.event_data.into_iter().map(device_event).collect();
            cx.commit(NotifyEvent { station, events }, log).await?;
            Response::NotifyEvent(NotifyEventResponse { custom_data: None })
        }
        Request::NotifyReport(req) => {
            let entries = req.report_data.unwrap_or_default().into_iter().map(variable_report).collect();
            let op = ReportPart {
                station,
                request_id: req.request_id,
                seq_no: req.seq_no,
                tbc: req.tbc.unwrap_or(false),
                entries,
                now,
            };
            cx.commit(op, log).await?;
            Response::NotifyReport(NotifyReportResponse { custom_data: None })
        }
        Request::NotifyMonitoringReport(req) => {
            let monitors = req.monitor.unwrap_or_default().into_iter().flat_map(monitor_reports).collect();
            cx.commit(MonitoringReport { station, monitors, now }, log).await?;
            Response::NotifyMonitoringReport(NotifyMonitoringReportResponse { custom_data: None })
        }
        Request::SecurityEventNotification(req) => {
            tracing::info!(station = %cx.station(), event = req.r#type, "security event");
            let at = req.timestamp.0;
            cx.event(log, StationEventKind::SecurityEventNotification, Some(req.r#type), None, req.tech_info, at)
                .await?;
            Response::SecurityEventNotification(SecurityEventNotificationResponse { custom_data: None })
        }
        Request::FirmwareStatusNotification(req) => {
            let status = req.status.as_str().to_string();
            cx.event(log, StationEventKind::FirmwareStatusNotification, Some(status), req.request_id, None, now)
                .await?;
            Response::FirmwareStatusNotification(FirmwareStatusNotificationResponse { custom_data: None })
        }
        Request::PublishFirmwareStatusNotification(req) => {
            let status = req.status.as_str().to_string();
            let locations = req.location.as_ref().and_then(detail);
            cx.event(
                log,
                StationEventKind::PublishFirmwareStatusNotification,
                Some(status),
                req.request_id,
                locations,
                now,
            )
            .await?;
            Response::PublishFirmwareStatusNotification(PublishFirmwareStatusNotificationResponse { custom_data: None })
        }
        Request::LogStatusNotification(req) => {
            let status = req.status.as_str().to_string();
            cx.event(log, StationEventKind::LogStatusNotification, Some(status), req.request_id, None, now).await?;
            Response::LogStatusNotification(LogStatusNotificationResponse { custom_data: None })
        }
        Request::ReservationStatusUpdate(req) => {
            let status = req.reservation_update_status.as_str().to_string();
            cx.event(log, StationEventKind::ReservationStatusUpdate, Some(status), Some(req.reservation_id), None, now)
                .await?;
            let end = match req.reservation_update_status {
                ReservationUpdateStatusEnum::Expired => ReservationEnd::Expired,
                ReservationUpdateStatusEnum::Removed => ReservationEnd::Removed,
            };
            let ended = Change::ReservationEnded { station, reservation_id: req.reservation_id, end, now };
            cx.commit(Changes(vec![ended]), &mut None).await?;
            Response::ReservationStatusUpdate(ReservationStatusUpdateResponse { custom_data: None })
        }
        Request::NotifyChargingLimit(req) => {
            let source = req.charging_limit.charging_limit_source.as_str().to_string();
            cx.evse_event(log, StationEventKind::NotifyChargingLimit, Some(source), req.evse_id, detail(&req), now)
                .await?;
            Response::NotifyChargingLimit(NotifyChargingLimitResponse { custom_data: None })
        }
        Request::ClearedChargingLimit(req) => {
            let source = req.charging_limit_source.as_str().to_string();
            cx.evse_event(log, StationEventKind::ClearedChargingLimit, Some(source), req.evse_id, None, now).await?;
            Response::ClearedChargingLimit(ClearedChargingLimitResponse { custom_data: None })
        }
        Request::NotifyEVChargingNeeds(req) => {
            // Ström computes no charging schedules yet (smart charging is a later issue), so it
            // will not send one: Rejected, not an Accepted that promises a profile.
            cx.evse_event(
                log,
                StationEventKind::NotifyEVChargingNeeds,
                Some("Rejected".into()),
                Some(req.evse_id),
                detail(&req),
                now,
            )
            .await?;
            Response::NotifyEVChargingNeeds(NotifyEVChargingNeedsResponse {
                custom_data: None,
                status: NotifyEVChargingNeedsStatusEnum::Rejected,
                status_info: Some(status_info("NoSchedule", "Ström does not compute charging schedules yet")),
            })
        }
        Request::NotifyEVChargingSchedule(req) => {
            // The EV's schedule is informational for Ström (no limits of its own to check it
            // against yet): it is recorded and accepted.
            cx.evse_event(
                log,
                StationEventKind::NotifyEVChargingSchedule,
                Some("Accepted".into()),
                Some(req.evse_id),
                detail(&req),
                now,
            )
            .await?;
            Response::NotifyEVChargingSchedule(NotifyEVChargingScheduleResponse {
                custom_data: None,
                status: GenericStatusEnum::Accepted,
                status_info: None,
            })
        }
        Request::NotifyDisplayMessages(req) => {
            cx.event(
                log,
                StationEventKind::NotifyDisplayMessages,
                None,
                Some(req.request_id),
                detail(&req.message_info),
                now,
            )
            .await?;
            Response::NotifyDisplayMessages(NotifyDisplayMessagesResponse { custom_data: None })
        }
        Request::NotifyCustomerInformation(req) => {
            cx.event(log, StationEventKind::NotifyCustomerInformation, None, Some(req.request_id), Some(req.data), now)
                .await?;
            Response::NotifyCustomerInformation(NotifyCustomerInformationResponse { custom_data: None })
        }
        Request::ReportChargingProfiles(req) => {
            let source = req.charging_limit_source.as_str().to_string();
            cx.event(
                log,
                StationEventKind::ReportChargingProfiles,
                Some(source),
                Some(req.request_id),
                detail(&req),
                now,
            )
            .await?;
            Response::ReportChargingProfiles(ReportChargingProfilesResponse { custom_data: None })
        }
        Request::DataTransfer(req) => {
            // No vendor extensions yet: every vendor is unknown, an answer, never a CALLERROR
            // (OCTT TC_P_02). The data is kept for the operator, any secret in it masked.
            let kept = serde_json::json!({"vendorId": req.vendor_id, "messageId": req.message_id, "data": req.data});
            cx.event(
                log,
                StationEventKind::DataTransfer,
                None,
                None,
                Some(ocpp::secrets::mask(&kept.to_string()).into_owned()),
                now,
            )
            .await?;
            Response::DataTransfer(DataTransferResponse {
                custom_data: None,
                data: None,
                status: DataTransferStatusEnum::UnknownVendorId,
                status_info: None,
            })
        }
        Request::SignCertificate(req) => {
            // An absent type means the station's own certificate (A02.FR.07).
            let v2g = req.certificate_type == Some(CertificateSigningUseEnum::V2GCertificate);
            match crate::certificates::sign(cx, req.csr, v2g, ocpp::OcppVersion::V201, log).await? {
                Ok(()) => Response::SignCertificate(SignCertificateResponse {
                    custom_data: None,
                    status: GenericStatusEnum::Accepted,
                    status_info: None,
                }),
                Err(refusal) => {
                    let said: String = refusal.to_string().chars().take(512).collect();
                    Response::SignCertificate(SignCertificateResponse {
                        custom_data: None,
                        status: GenericStatusEnum::Rejected,
                        status_info: Some(status_info(refusal.reason_code(), &said)),
                    })
                }
            }
        }
        Request::Get15118EVCertificate(req) => {
            let action = req.action.as_str().to_string();
            cx.event(log, StationEventKind::Get15118EVCertificate, Some(action), None, None, now).await?;
            Response::Get15118EVCertificate(Get15118EVCertificateResponse {
                custom_data: None,
                exi_response: String::new(),
                status: Iso15118EVCertificateStatusEnum::Failed,
                status_info: Some(status_info("NoPKI", "Ström has no ISO 15118 certificate service yet")),
            })
        }
        Request::GetCertificateStatus(_) => {
            cx.event(log, StationEventKind::GetCertificateStatus, Some("Failed".into()), None, None, now).await?;
            Response::GetCertificateStatus(GetCertificateStatusResponse {
                custom_data: None,
                ocsp_result: None,
                status: GetCertificateStatusEnum::Failed,
                status_info: Some(status_info("NoOCSP", "Ström does not relay OCSP requests yet")),
            })
        }
        // The remaining actions are sent by the CSMS; `handle` refused them already.
        other => return Err(CallFailure::NotStationAction(other.action().as_str())),
    })
}

fn status_info(reason_code: &str, additional_info: &str) -> StatusInfo {
    StatusInfo {
        additional_info: Some(additional_info.to_string()),
        custom_data: None,
        reason_code: reason_code.to_string(),
    }
}

fn readings(mv: &MeterValue) -> Vec<Reading> {
    mv.sampled_value
        .iter()
        .map(|sv| {
            let unit = sv.unit_of_measure.as_ref();
            let multiplier = unit.and_then(|u| u.multiplier).unwrap_or(0);
            let raw = serde_json::Number::from_f64(sv.value).map_or_else(|| sv.value.to_string(), |n| n.to_string());
            let mut r = metering::reading(
                mv.timestamp.0,
                raw,
                sv.measurand.map(terms::measurand_201),
                sv.phase.map(terms::phase_201),
                sv.location.map(terms::location_201),
                sv.context.map(terms::context_201),
                None,
                // 2.0.1 UnitOfMeasure: unit defaults to Wh.
                Some(unit.and_then(|u| u.unit.as_deref()).unwrap_or("Wh")),
                i32::try_from(multiplier).unwrap_or(0),
            );
            r.signed_data = sv.signed_meter_value.as_ref().and_then(detail);
            r
        })
        .collect()
}

fn device_event(e: EventData) -> DeviceEvent {
    // A write-only variable's value is never kept, even if the station reports it (A00.FR.2xx).
    let secret = ocpp::secrets::is_secret_variable(&e.variable.name);
    let actual_value = if secret {
        ocpp::secrets::masked_value(Some(&e.actual_value)).unwrap_or_default().to_string()
    } else {
        e.actual_value
    };
    DeviceEvent {
        event_id: e.event_id,
        timestamp: e.timestamp.0,
        trigger: e.trigger.as_str().to_string(),
        location: location(&e.component, &e.variable),
        actual_value,
        cleared: e.cleared.unwrap_or(false),
        tech_code: e.tech_code,
        tech_info: e.tech_info,
        monitor_id: e.variable_monitoring_id,
    }
}

fn variable_report(r: ReportData) -> VariableReport {
    let secret = ocpp::secrets::is_secret_variable(&r.variable.name);
    VariableReport {
        location: location(&r.component, &r.variable),
        attributes: r
            .variable_attribute
            .into_iter()
            .map(|a| VariableAttribute {
                // OCPP 2.0.1 VariableAttributeType: type defaults to Actual.
                attribute_type: a.r#type.map_or("Actual", |t| t.as_str()).to_string(),
                // A write-only variable's value is never kept (`ocpp::secrets`).
                value: if secret {
                    ocpp::secrets::masked_value(a.value.as_deref()).map(str::to_string)
                } else {
                    a.value
                },
                mutability: a.mutability.map(|m| m.as_str().to_string()),
                persistent: a.persistent,
                constant: a.constant,
            })
            .collect(),
        characteristics: r.variable_characteristics.map(|c| VariableCharacteristics {
            unit: c.unit,
            data_type: c.data_type.as_str().to_string(),
            min_limit: c.min_limit,
            max_limit: c.max_limit,
            values_list: c.values_list,
            supports_monitoring: c.supports_monitoring,
        }),
    }
}

fn monitor_reports(m: MonitoringData) -> Vec<MonitorReport> {
    let place = location(&m.component, &m.variable);
    m.variable_monitoring
        .into_iter()
        .map(|v| MonitorReport {
            location: place.clone(),
            monitor_id: v.id,
            kind: v.r#type.as_str().to_string(),
            value: v.value,
            severity: v.severity,
            transaction_only: v.transaction,
        })
        .collect()
}

fn id_token_info(d: &AuthDecision) -> IdTokenInfo {
    IdTokenInfo {
        cache_expiry_date_time: d.expiry.map(DateTime),
        charging_priority: None,
        custom_data: None,
        evse_id: None,
        group_id_token: d.parent_id_token.as_ref().map(|group| IdToken {
            additional_info: None,
            custom_data: None,
            id_token: group.clone(),
            // Groups are Ström's own identifiers.
            r#type: IdTokenEnum::Central,
        }),
        language1: None,
        language2: None,
        personal_message: None,
        status: match d.status {
            AuthStatus::Accepted => AuthorizationStatusEnum::Accepted,
            AuthStatus::Blocked => AuthorizationStatusEnum::Blocked,
            AuthStatus::ConcurrentTx => AuthorizationStatusEnum::ConcurrentTx,
            AuthStatus::Expired => AuthorizationStatusEnum::Expired,
            AuthStatus::Invalid => AuthorizationStatusEnum::Invalid,
            AuthStatus::NoCredit => AuthorizationStatusEnum::NoCredit,
            AuthStatus::NotAllowedTypeEVSE => AuthorizationStatusEnum::NotAllowedTypeEVSE,
            AuthStatus::NotAtThisLocation => AuthorizationStatusEnum::NotAtThisLocation,
            AuthStatus::NotAtThisTime => AuthorizationStatusEnum::NotAtThisTime,
            AuthStatus::Unknown => AuthorizationStatusEnum::Unknown,
        },
    }
}
