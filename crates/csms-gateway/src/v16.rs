//! The OCPP 1.6J adapter: every action a 1.6 station sends, translated into the domain and
//! back. Business outcomes are always CALLRESULTs (a transaction message answered with a
//! CALLERROR is retried forever, CHECKLIST §2.9); CALLERRORs are for malformed input, for
//! stations that are not Accepted, and for storage failures.

use crate::context::{mask, Context};
use crate::errors::CallFailure;
use crate::terms;
use csms_core::authorization::{AuthDecision, AuthStatus};
use csms_core::metering::{self, Reading};
use csms_core::notifications::StationEventKind;
use csms_core::ops::{Authorize, FrameLog, MeterValues, StartTx, Started, StationStatusReport, StopTx, Stopped};
use csms_core::station::{BootInfo, ProtocolVersion, RegistrationStatus};
use ocpp::v16::*;
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
    // A Pending or Rejected station may only boot (OCPP 1.6 §4.2; CHECKLIST §2.2 policy).
    cx.admit(action.as_str(), false)?;
    let request = Request::decode(action, payload).map_err(CallFailure::Decode)?;
    // Boxed: the future would otherwise hold the request twice, as argument and as local.
    let response = respond(cx, Box::new(request), log).await?;
    Ok(response.to_json()?)
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
            let info = BootInfo {
                vendor: boot.charge_point_vendor,
                model: boot.charge_point_model,
                serial_number: boot.charge_point_serial_number,
                charge_box_serial_number: boot.charge_box_serial_number,
                firmware_version: boot.firmware_version,
                iccid: boot.iccid,
                imsi: boot.imsi,
                meter_type: boot.meter_type,
                meter_serial_number: boot.meter_serial_number,
                reason: None,
            };
            let (status, interval) = cx.boot(info, ProtocolVersion::V16, log).await?;
            Response::BootNotification(BootNotificationResponse {
                status: match status {
                    RegistrationStatus::Accepted => BootNotificationResponseStatus::Accepted,
                    RegistrationStatus::Pending => BootNotificationResponseStatus::Pending,
                    RegistrationStatus::Rejected => BootNotificationResponseStatus::Rejected,
                },
                current_time: DateTime(now),
                interval: interval.as_secs() as i64,
            })
        }
        // Nothing to store but the frames, which go to the message log with the answer's: no
        // round trip through the writer.
        Request::Heartbeat(_) => Response::Heartbeat(HeartbeatResponse { current_time: DateTime(now) }),
        Request::Authorize(req) => {
            tracing::debug!(station = %cx.station(), id_tag = %mask(&req.id_tag), "authorize");
            let authorize = Authorize { station, id_token: req.id_tag, token_type: None, now };
            let decision = cx.authorize(authorize, log).await?;
            Response::Authorize(AuthorizeResponse { id_tag_info: id_tag_info(&decision) })
        }
        Request::StartTransaction(req) => {
            let start = StartTx {
                station,
                connector_id: req.connector_id,
                id_token: req.id_tag,
                meter_start_wh: req.meter_start as f64,
                timestamp: req.timestamp.0,
                reservation_id: req.reservation_id,
                now,
            };
            let Started { transaction_id, auth } = cx.commit(start, log).await?;
            tracing::info!(station = %cx.station(), transaction_id, status = auth.status.as_str(), "transaction started");
            Response::StartTransaction(StartTransactionResponse { id_tag_info: id_tag_info(&auth), transaction_id })
        }
        Request::StopTransaction(req) => {
            let mut readings = Vec::new();
            for mv in req.transaction_data.into_iter().flatten() {
                readings.extend(mv.sampled_value.into_iter().map(|sv| reading(&mv.timestamp, sv)));
            }
            let stop = StopTx {
                station,
                station_tx_id: req.transaction_id.to_string(),
                meter_stop_wh: req.meter_stop as f64,
                timestamp: req.timestamp.0,
                // OCPP 1.6 §7.47: an absent reason means Local.
                reason: req.reason.map_or("Local", |r| r.as_str()).to_string(),
                id_token: req.id_tag,
                readings,
                now,
            };
            let Stopped { auth } = cx.commit(stop, log).await?;
            tracing::info!(station = %cx.station(), transaction_id = req.transaction_id, "transaction stopped");
            Response::StopTransaction(StopTransactionResponse { id_tag_info: auth.as_ref().map(id_tag_info) })
        }
        Request::MeterValues(req) => {
            // Sized first: a station sends eight or more values at a time, and growing the
            // vector by doubling copied every reading again.
            let mut readings = Vec::with_capacity(req.meter_value.iter().map(|mv| mv.sampled_value.len()).sum());
            for mv in req.meter_value {
                readings.extend(mv.sampled_value.into_iter().map(|sv| reading(&mv.timestamp, sv)));
            }
            let op = MeterValues {
                station,
                evse_id: None,
                connector_id: req.connector_id,
                station_tx_id: req.transaction_id.map(|t| t.to_string()),
                readings,
            };
            cx.commit(op, log).await?;
            Response::MeterValues(MeterValuesResponse {})
        }
        Request::StatusNotification(req) => {
            let report = StationStatusReport {
                station,
                evse_id: 0,
                connector_id: req.connector_id,
                status: req.status.as_str().to_string(),
                error_code: Some(req.error_code.as_str().to_string()),
                info: req.info,
                vendor_id: req.vendor_id,
                vendor_error_code: req.vendor_error_code,
                // The timestamp is optional in 1.6; arrival time stands in for it.
                timestamp: req.timestamp.map_or(now, |t| t.0),
            };
            cx.commit(report, log).await?;
            Response::StatusNotification(StatusNotificationResponse {})
        }
        Request::DataTransfer(req) => {
            // Ström implements no vendor extensions yet: every vendor is unknown, which is an
            // answer, never a CALLERROR (OCTT TC_064). The data is kept for the operator, any
            // secret in it masked (`ocpp::secrets`).
            let detail = serde_json::json!({"vendorId": req.vendor_id, "messageId": req.message_id, "data": req.data});
            cx.event(
                log,
                StationEventKind::DataTransfer,
                None,
                None,
                Some(ocpp::secrets::mask(&detail.to_string()).into_owned()),
                now,
            )
            .await?;
            Response::DataTransfer(DataTransferResponse {
                status: DataTransferResponseStatus::UnknownVendorId,
                data: None,
            })
        }
        Request::DiagnosticsStatusNotification(req) => {
            let status = req.status.as_str().to_string();
            cx.event(log, StationEventKind::DiagnosticsStatusNotification, Some(status), None, None, now).await?;
            Response::DiagnosticsStatusNotification(DiagnosticsStatusNotificationResponse {})
        }
        Request::FirmwareStatusNotification(req) => {
            let status = req.status.as_str().to_string();
            cx.event(log, StationEventKind::FirmwareStatusNotification, Some(status), None, None, now).await?;
            Response::FirmwareStatusNotification(FirmwareStatusNotificationResponse {})
        }
        Request::SignedFirmwareStatusNotification(req) => {
            let status = req.status.as_str().to_string();
            cx.event(log, StationEventKind::SignedFirmwareStatusNotification, Some(status), req.request_id, None, now)
                .await?;
            Response::SignedFirmwareStatusNotification(SignedFirmwareStatusNotificationResponse {})
        }
        Request::LogStatusNotification(req) => {
            let status = req.status.as_str().to_string();
            cx.event(log, StationEventKind::LogStatusNotification, Some(status), req.request_id, None, now).await?;
            Response::LogStatusNotification(LogStatusNotificationResponse {})
        }
        Request::SecurityEventNotification(req) => {
            tracing::info!(station = %cx.station(), event = req.r#type, "security event");
            let at = req.timestamp.0;
            cx.event(log, StationEventKind::SecurityEventNotification, Some(req.r#type), None, req.tech_info, at)
                .await?;
            Response::SecurityEventNotification(SecurityEventNotificationResponse {})
        }
        Request::SignCertificate(req) => {
            let signed = crate::certificates::sign(cx, req.csr, false, ocpp::OcppVersion::V16, log).await?;
            let status = if signed.is_ok() { GenericStatusEnum::Accepted } else { GenericStatusEnum::Rejected };
            Response::SignCertificate(SignCertificateResponse { status })
        }
        // The remaining actions are sent by the CSMS; `handle` refused them already.
        other => return Err(CallFailure::NotStationAction(other.action().as_str())),
    })
}

fn reading(timestamp: &DateTime, sv: SampledValue) -> Reading {
    metering::reading(
        timestamp.0,
        sv.value,
        sv.measurand.map(terms::measurand_16),
        sv.phase.map(terms::phase_16),
        sv.location.map(terms::location_16),
        sv.context.map(terms::context_16),
        sv.format.map(terms::format_16),
        sv.unit.map(|u| u.as_str()),
        0,
    )
}

fn id_tag_info(d: &AuthDecision) -> IdTagInfo {
    IdTagInfo {
        // 1.6 has no Unknown, NoCredit, NotAt…: the token is not valid here (OCPP 1.6 §7.2).
        // The store records the same words (`as_answered`), so what the station heard and what
        // the transaction says agree.
        status: match d.status.as_answered(ProtocolVersion::V16) {
            AuthStatus::Accepted => IdTagInfoStatus::Accepted,
            AuthStatus::Blocked => IdTagInfoStatus::Blocked,
            AuthStatus::ConcurrentTx => IdTagInfoStatus::ConcurrentTx,
            AuthStatus::Expired => IdTagInfoStatus::Expired,
            AuthStatus::Invalid
            | AuthStatus::Unknown
            | AuthStatus::NoCredit
            | AuthStatus::NotAllowedTypeEVSE
            | AuthStatus::NotAtThisLocation
            | AuthStatus::NotAtThisTime => IdTagInfoStatus::Invalid,
        },
        expiry_date: d.expiry.map(DateTime),
        parent_id_tag: d.parent_id_token.clone(),
    }
}
