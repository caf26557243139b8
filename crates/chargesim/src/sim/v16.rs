//! OCPP 1.6 as a simulated station speaks it: the requests it sends, built from the
//! `ocpp::v16` types, and its answers to the CSMS's calls, decoded strictly and answered from
//! the station's state.

use super::energy::{Context, Measurand, Measured};
use super::state::{RemoteStart, StationState, Trigger};
use super::wire::{Connector, Stop};
use ocpp::v16::*;
use ocpp::{DateTime, ErrorCode};

/// The only connector a simulated station has.
const CONNECTOR: i64 = 1;

pub(super) fn boot() -> Request {
    Request::BootNotification(BootNotificationRequest {
        charge_box_serial_number: None,
        charge_point_model: "sim-16".into(),
        charge_point_serial_number: None,
        charge_point_vendor: "chargesim".into(),
        firmware_version: None,
        iccid: None,
        imsi: None,
        meter_serial_number: None,
        meter_type: None,
    })
}

pub(super) fn heartbeat() -> Request {
    Request::Heartbeat(HeartbeatRequest {})
}

pub(super) fn status(connector: Connector, at: DateTime) -> Request {
    let (status, error_code) = match connector {
        Connector::Available => (StatusNotificationStatus::Available, StatusNotificationErrorCode::NoError),
        Connector::Preparing => (StatusNotificationStatus::Preparing, StatusNotificationErrorCode::NoError),
        Connector::Charging => (StatusNotificationStatus::Charging, StatusNotificationErrorCode::NoError),
        Connector::Finishing => (StatusNotificationStatus::Finishing, StatusNotificationErrorCode::NoError),
        Connector::Faulted(code) => (StatusNotificationStatus::Faulted, code),
    };
    Request::StatusNotification(StatusNotificationRequest {
        connector_id: CONNECTOR,
        error_code,
        info: None,
        status,
        timestamp: Some(at),
        vendor_error_code: None,
        vendor_id: None,
    })
}

pub(super) fn authorize(id_tag: &str) -> Request {
    Request::Authorize(AuthorizeRequest { id_tag: id_tag.into() })
}

pub(super) fn start(id_tag: &str, meter_start: u64, at: DateTime) -> Request {
    Request::StartTransaction(StartTransactionRequest {
        connector_id: CONNECTOR,
        id_tag: id_tag.into(),
        meter_start: meter_start as i64,
        reservation_id: None,
        timestamp: at,
    })
}

pub(super) fn stop(transaction_id: i64, meter_stop: u64, at: DateTime, why: Stop) -> Request {
    let reason = match why {
        Stop::EvDisconnected => StopTransactionReason::EVDisconnected,
        Stop::Remote => StopTransactionReason::Remote,
        Stop::PowerLoss => StopTransactionReason::PowerLoss,
    };
    Request::StopTransaction(StopTransactionRequest {
        id_tag: None,
        meter_stop: meter_stop as i64,
        reason: Some(reason),
        timestamp: at,
        transaction_data: None,
        transaction_id,
    })
}

/// MeterValues of one reading, during a transaction or (None) of an idle connector.
pub(super) fn meter_values(
    transaction_id: Option<i64>,
    at: DateTime,
    values: &[Measured],
    context: Context,
) -> Request {
    Request::MeterValues(MeterValuesRequest {
        connector_id: CONNECTOR,
        meter_value: vec![MeterValue { sampled_value: sampled(values, context), timestamp: at }],
        transaction_id,
    })
}

fn sampled(values: &[Measured], context: Context) -> Vec<SampledValue> {
    let context = match context {
        Context::TransactionBegin => SampledValueContext::TransactionBegin,
        Context::TransactionEnd => SampledValueContext::TransactionEnd,
        Context::SamplePeriodic => SampledValueContext::SamplePeriodic,
        Context::SampleClock => SampledValueContext::SampleClock,
        Context::Trigger => SampledValueContext::Trigger,
    };
    values
        .iter()
        .map(|m| {
            let (measurand, unit, phase, location) = match m.measurand {
                Measurand::Register => {
                    (SampledValueMeasurand::EnergyActiveImportRegister, SampledValueUnit::Wh, None, None)
                }
                Measurand::Power => (SampledValueMeasurand::PowerActiveImport, SampledValueUnit::W, None, None),
                Measurand::Voltage => {
                    (SampledValueMeasurand::Voltage, SampledValueUnit::V, Some(SampledValuePhase::L1N), None)
                }
                Measurand::Current => {
                    (SampledValueMeasurand::CurrentImport, SampledValueUnit::A, Some(SampledValuePhase::L1), None)
                }
                Measurand::Soc => {
                    (SampledValueMeasurand::SoC, SampledValueUnit::Percent, None, Some(SampledValueLocation::EV))
                }
            };
            SampledValue {
                context: Some(context),
                format: None,
                location,
                measurand: Some(measurand),
                phase,
                unit: Some(unit),
                value: m.text(),
            }
        })
        .collect()
}

/// The answer to the CSMS's CALL `action` with `payload`: a CALLRESULT payload, or the
/// CALLERROR code and description.
pub(super) fn respond(state: &mut StationState, action: &str, payload: &str) -> Result<String, (ErrorCode, String)> {
    let not_taken = || (ErrorCode::NotSupported, format!("the simulator does not take {action}"));
    let action = Action::from_name(action).ok_or_else(not_taken)?;
    let request = Request::decode(action, payload).map_err(|e| (e.code, e.message))?;
    let response = answer(state, request).ok_or_else(not_taken)?;
    response.to_json().map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

/// What the station answers to a CSMS call it takes; None for one it does not.
fn answer(state: &mut StationState, request: Request) -> Option<Response> {
    Some(match request {
        Request::GetConfiguration(get) => {
            let wanted = get.key.unwrap_or_default();
            let all = wanted.is_empty();
            let known = state
                .settings
                .iter()
                .filter(|(k, _)| all || wanted.contains(k))
                .map(|(k, (v, ro))| ConfigurationKey { key: k.clone(), readonly: *ro, value: Some(v.clone()) })
                .collect();
            let unknown: Vec<String> = wanted.into_iter().filter(|k| !state.settings.contains_key(k)).collect();
            Response::GetConfiguration(GetConfigurationResponse {
                configuration_key: Some(known),
                unknown_key: Some(unknown),
            })
        }
        Request::ChangeConfiguration(change) => {
            let status = match state.change(&change.key, &change.value) {
                None => ChangeConfigurationResponseStatus::NotSupported,
                Some(false) => ChangeConfigurationResponseStatus::Rejected,
                Some(true) => ChangeConfigurationResponseStatus::Accepted,
            };
            Response::ChangeConfiguration(ChangeConfigurationResponse { status })
        }
        Request::Reset(_) => {
            state.reboot = true;
            Response::Reset(ResetResponse { status: ResetResponseStatus::Accepted })
        }
        Request::ChangeAvailability(_) => {
            let status = if state.active_tx.is_some() {
                ChangeAvailabilityResponseStatus::Scheduled
            } else {
                ChangeAvailabilityResponseStatus::Accepted
            };
            Response::ChangeAvailability(ChangeAvailabilityResponse { status })
        }
        Request::RemoteStartTransaction(start) => {
            let taken = state.take_remote_start(RemoteStart { id_token: start.id_tag, remote_start_id: None });
            let status = if taken {
                RemoteStartTransactionResponseStatus::Accepted
            } else {
                RemoteStartTransactionResponseStatus::Rejected
            };
            Response::RemoteStartTransaction(RemoteStartTransactionResponse { status })
        }
        Request::RemoteStopTransaction(stop) => {
            let status = if state.take_remote_stop(&stop.transaction_id.to_string()) {
                RemoteStopTransactionResponseStatus::Accepted
            } else {
                RemoteStopTransactionResponseStatus::Rejected
            };
            Response::RemoteStopTransaction(RemoteStopTransactionResponse { status })
        }
        Request::UnlockConnector(_) => {
            Response::UnlockConnector(UnlockConnectorResponse { status: UnlockConnectorResponseStatus::Unlocked })
        }
        Request::ClearCache(_) => {
            Response::ClearCache(ClearCacheResponse { status: ClearCacheResponseStatus::Accepted })
        }
        Request::GetLocalListVersion(_) => {
            Response::GetLocalListVersion(GetLocalListVersionResponse { list_version: state.list_version })
        }
        Request::SendLocalList(send) => {
            let entries = send
                .local_authorization_list
                .unwrap_or_default()
                .into_iter()
                .map(|entry| (entry.id_tag, entry.id_tag_info.map(|info| info.status.as_str().to_string())));
            let full = send.update_type == SendLocalListUpdateType::Full;
            let status = if state.update_local_list(send.list_version, full, entries) {
                SendLocalListResponseStatus::Accepted
            } else {
                SendLocalListResponseStatus::VersionMismatch
            };
            Response::SendLocalList(SendLocalListResponse { status })
        }
        Request::TriggerMessage(trigger) => {
            let wanted = match trigger.requested_message {
                TriggerMessageRequestedMessage::BootNotification => Some(Trigger::BootNotification),
                TriggerMessageRequestedMessage::Heartbeat => Some(Trigger::Heartbeat),
                TriggerMessageRequestedMessage::StatusNotification => Some(Trigger::StatusNotification),
                TriggerMessageRequestedMessage::MeterValues => Some(Trigger::MeterValues),
                _ => None,
            };
            let status = match wanted {
                Some(message) => {
                    state.trigger = Some(message);
                    TriggerMessageResponseStatus::Accepted
                }
                None => TriggerMessageResponseStatus::NotImplemented,
            };
            Response::TriggerMessage(TriggerMessageResponse { status })
        }
        Request::ReserveNow(_) => {
            Response::ReserveNow(ReserveNowResponse { status: ReserveNowResponseStatus::Accepted })
        }
        Request::CancelReservation(_) => {
            Response::CancelReservation(CancelReservationResponse { status: CancelReservationResponseStatus::Accepted })
        }
        Request::SetChargingProfile(_) => Response::SetChargingProfile(SetChargingProfileResponse {
            status: SetChargingProfileResponseStatus::Accepted,
        }),
        Request::ClearChargingProfile(_) => Response::ClearChargingProfile(ClearChargingProfileResponse {
            status: ClearChargingProfileResponseStatus::Accepted,
        }),
        Request::DataTransfer(_) => Response::DataTransfer(DataTransferResponse {
            data: None,
            status: DataTransferResponseStatus::UnknownVendorId,
        }),
        Request::UpdateFirmware(_) => Response::UpdateFirmware(UpdateFirmwareResponse {}),
        Request::GetDiagnostics(_) => Response::GetDiagnostics(GetDiagnosticsResponse { file_name: None }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocpp::OcppVersion;

    fn state() -> StationState {
        StationState::new(OcppVersion::V16, 60, 0)
    }

    #[test]
    fn every_request_the_station_sends_is_schema_valid() {
        let at = DateTime(std::time::UNIX_EPOCH.into());
        let values = super::super::energy::measure(
            &super::super::energy::Reading { energy_wh: 5, power_w: 7_000.0, soc: 40.0 },
            1_005,
            &Measurand::list(super::super::state::SAMPLED_MEASURANDS),
        );
        let requests = [
            boot(),
            heartbeat(),
            status(Connector::Faulted(StatusNotificationErrorCode::HighTemperature), at),
            authorize("T"),
            start("T", 1_000, at),
            stop(7, 1_005, at, Stop::PowerLoss),
            meter_values(Some(7), at, &values, Context::SamplePeriodic),
            meter_values(None, at, &values[..2], Context::SampleClock),
        ];
        for request in requests {
            let json = request.to_json().unwrap_or_default();
            let decoded = Request::decode(request.action(), &json);
            assert_eq!(decoded.as_ref().ok(), Some(&request), "{json}: {decoded:?}");
        }
    }

    #[test]
    fn configuration_is_read_and_changed_through_the_typed_answers() {
        let mut state = state();
        let answer = respond(&mut state, "GetConfiguration", r#"{"key":["HeartbeatInterval","Nope"]}"#);
        assert_eq!(
            answer.as_deref(),
            Ok(
                r#"{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"}],"unknownKey":["Nope"]}"#
            )
        );
        let answer = respond(&mut state, "ChangeConfiguration", r#"{"key":"NumberOfConnectors","value":"2"}"#);
        assert_eq!(answer.as_deref(), Ok(r#"{"status":"Rejected"}"#));
    }

    #[test]
    fn calls_it_does_not_take_or_cannot_read_are_refused_with_the_right_code() {
        let mut state = state();
        assert_eq!(
            respond(&mut state, "ExtendedTriggerMessage", r#"{"requestedMessage":"Heartbeat"}"#).map_err(|e| e.0),
            Err(ErrorCode::NotSupported)
        );
        assert_eq!(respond(&mut state, "Nonsense", "{}").map_err(|e| e.0), Err(ErrorCode::NotSupported));
        let broken = respond(&mut state, "RemoteStopTransaction", r#"{"transactionId":"seven"}"#);
        assert_eq!(broken.map_err(|e| e.0), Err(ErrorCode::TypeConstraintViolation));
    }

    #[test]
    fn a_remote_start_and_a_trigger_are_remembered_for_the_loop() {
        let mut state = state();
        assert_eq!(
            respond(&mut state, "RemoteStartTransaction", r#"{"idTag":"R1"}"#).as_deref(),
            Ok(r#"{"status":"Accepted"}"#)
        );
        assert_eq!(state.remote_start.as_ref().map(|s| s.id_token.as_str()), Some("R1"));
        assert_eq!(
            respond(&mut state, "TriggerMessage", r#"{"requestedMessage":"DiagnosticsStatusNotification"}"#).as_deref(),
            Ok(r#"{"status":"NotImplemented"}"#)
        );
        assert!(respond(&mut state, "TriggerMessage", r#"{"requestedMessage":"Heartbeat"}"#).is_ok());
        assert_eq!(state.trigger, Some(Trigger::Heartbeat));
    }
}
