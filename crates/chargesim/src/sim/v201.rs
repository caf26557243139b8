//! OCPP 2.0.1 as a simulated station speaks it: the requests it sends, built from the
//! `ocpp::v201` types, and its answers to the CSMS's calls, decoded strictly and answered from
//! the station's state.

use super::energy::{Context, Measurand, Measured};
use super::state::{RemoteStart, StationState, Trigger};
use super::wire::{Connector, Stop};
use ocpp::v201::*;
use ocpp::{DateTime, ErrorCode};

/// The only EVSE a simulated station has, with its one connector.
fn evse() -> EVSE {
    EVSE { connector_id: Some(1), custom_data: None, id: 1 }
}

pub(super) fn boot() -> Request {
    Request::BootNotification(BootNotificationRequest {
        charging_station: ChargingStation {
            custom_data: None,
            firmware_version: None,
            model: "sim-201".into(),
            modem: None,
            serial_number: None,
            vendor_name: "chargesim".into(),
        },
        custom_data: None,
        reason: BootReasonEnum::PowerUp,
    })
}

pub(super) fn heartbeat() -> Request {
    Request::Heartbeat(HeartbeatRequest { custom_data: None })
}

/// A StatusNotification; a fault is reported through NotifyEvent instead (`fault`), so a
/// faulted connector is only Faulted here.
pub(super) fn status(connector: Connector, at: DateTime) -> Request {
    let connector_status = match connector {
        Connector::Available => ConnectorStatusEnum::Available,
        Connector::Preparing | Connector::Charging | Connector::Finishing => ConnectorStatusEnum::Occupied,
        Connector::Faulted(_) => ConnectorStatusEnum::Faulted,
    };
    Request::StatusNotification(StatusNotificationRequest {
        connector_id: 1,
        connector_status,
        custom_data: None,
        evse_id: 1,
        timestamp: at,
    })
}

/// A NotifyEvent on the connector's Problem variable: raised (`true`) or cleared, with the 1.6
/// error code as the techCode (2.0.1 has no error-code list of its own).
pub(super) fn fault(event_id: i64, at: DateTime, raised: bool, code: &str) -> Request {
    Request::NotifyEvent(NotifyEventRequest {
        custom_data: None,
        event_data: vec![EventData {
            actual_value: raised.to_string(),
            cause: None,
            cleared: None,
            component: Component { custom_data: None, evse: Some(evse()), instance: None, name: "Connector".into() },
            custom_data: None,
            event_id,
            event_notification_type: EventNotificationEnum::HardWiredNotification,
            tech_code: Some(code.into()),
            tech_info: None,
            timestamp: at,
            transaction_id: None,
            trigger: EventTriggerEnum::Delta,
            variable: Variable { custom_data: None, instance: None, name: "Problem".into() },
            variable_monitoring_id: None,
        }],
        generated_at: at,
        seq_no: 0,
        tbc: None,
    })
}

fn event(
    event_type: TransactionEventEnum,
    at: DateTime,
    trigger_reason: TriggerReasonEnum,
    seq_no: i64,
    transaction_info: Transaction,
    meter_value: Vec<MeterValue>,
) -> TransactionEventRequest {
    TransactionEventRequest {
        cable_max_current: None,
        custom_data: None,
        event_type,
        evse: None,
        id_token: None,
        meter_value: Some(meter_value).filter(|values| !values.is_empty()),
        number_of_phases_used: None,
        offline: None,
        reservation_id: None,
        seq_no,
        timestamp: at,
        transaction_info,
        trigger_reason,
    }
}

fn transaction(id: &str) -> Transaction {
    Transaction {
        charging_state: None,
        custom_data: None,
        remote_start_id: None,
        stopped_reason: None,
        time_spent_charging: None,
        transaction_id: id.into(),
    }
}

/// TransactionEvent Started: authorized locally, or started by the CSMS with `remote`'s id.
pub(super) fn started(tx: &str, id_token: &str, at: DateTime, remote: Option<i64>, begin: &[Measured]) -> Request {
    let trigger = if remote.is_some() { TriggerReasonEnum::RemoteStart } else { TriggerReasonEnum::Authorized };
    let info =
        Transaction { charging_state: Some(ChargingStateEnum::Charging), remote_start_id: remote, ..transaction(tx) };
    let meter = vec![meter_value(at, begin, Context::TransactionBegin)];
    let mut started = event(TransactionEventEnum::Started, at, trigger, 0, info, meter);
    started.id_token = Some(IdToken {
        additional_info: None,
        custom_data: None,
        id_token: id_token.into(),
        r#type: IdTokenEnum::ISO14443,
    });
    started.evse = Some(evse());
    Request::TransactionEvent(started)
}

/// TransactionEvent Updated with a reading: periodic or clock-aligned, as its context says.
pub(super) fn updated(tx: &str, seq_no: i64, at: DateTime, values: &[Measured], context: Context) -> Request {
    let trigger = if context == Context::SampleClock {
        TriggerReasonEnum::MeterValueClock
    } else {
        TriggerReasonEnum::MeterValuePeriodic
    };
    let meter = vec![meter_value(at, values, context)];
    Request::TransactionEvent(event(TransactionEventEnum::Updated, at, trigger, seq_no, transaction(tx), meter))
}

/// TransactionEvent Ended, with why and the final reading.
pub(super) fn ended(tx: &str, seq_no: i64, at: DateTime, why: Stop, end: Vec<Measured>) -> Request {
    let (trigger, reason) = match why {
        Stop::PowerLoss => (TriggerReasonEnum::AbnormalCondition, ReasonEnum::PowerLoss),
        Stop::Remote => (TriggerReasonEnum::RemoteStop, ReasonEnum::Remote),
        Stop::EvDisconnected => (TriggerReasonEnum::EVDeparted, ReasonEnum::EVDisconnected),
    };
    let info = Transaction { stopped_reason: Some(reason), ..transaction(tx) };
    let meter = if end.is_empty() { Vec::new() } else { vec![meter_value(at, &end, Context::TransactionEnd)] };
    Request::TransactionEvent(event(TransactionEventEnum::Ended, at, trigger, seq_no, info, meter))
}

/// MeterValues of an idle connector.
pub(super) fn meter_values(at: DateTime, values: &[Measured], context: Context) -> Request {
    Request::MeterValues(MeterValuesRequest {
        custom_data: None,
        evse_id: 1,
        meter_value: vec![meter_value(at, values, context)],
    })
}

fn meter_value(at: DateTime, values: &[Measured], context: Context) -> MeterValue {
    let context = match context {
        Context::TransactionBegin => ReadingContextEnum::TransactionBegin,
        Context::TransactionEnd => ReadingContextEnum::TransactionEnd,
        Context::SamplePeriodic => ReadingContextEnum::SamplePeriodic,
        Context::SampleClock => ReadingContextEnum::SampleClock,
        Context::Trigger => ReadingContextEnum::Trigger,
    };
    let sampled_value = values
        .iter()
        .map(|m| {
            let (measurand, unit, phase, location) = match m.measurand {
                Measurand::Register => (MeasurandEnum::EnergyActiveImportRegister, "Wh", None, None),
                Measurand::Power => (MeasurandEnum::PowerActiveImport, "W", None, None),
                Measurand::Voltage => (MeasurandEnum::Voltage, "V", Some(PhaseEnum::L1N), None),
                Measurand::Current => (MeasurandEnum::CurrentImport, "A", Some(PhaseEnum::L1), None),
                Measurand::Soc => (MeasurandEnum::SoC, "Percent", None, Some(LocationEnum::EV)),
            };
            SampledValue {
                context: Some(context),
                custom_data: None,
                location,
                measurand: Some(measurand),
                phase,
                signed_meter_value: None,
                unit_of_measure: Some(UnitOfMeasure { custom_data: None, multiplier: None, unit: Some(unit.into()) }),
                value: m.rounded(),
            }
        })
        .collect();
    MeterValue { custom_data: None, sampled_value, timestamp: at }
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

/// The device-model name a setting is kept under: `Component.Variable`.
fn setting_name(component: &Component, variable: &Variable) -> String {
    format!("{}.{}", component.name, variable.name)
}

/// What the station answers to a CSMS call it takes; None for one it does not.
fn answer(state: &mut StationState, request: Request) -> Option<Response> {
    Some(match request {
        Request::GetVariables(get) => {
            let get_variable_result = get
                .get_variable_data
                .into_iter()
                .map(|d| {
                    let value = state.settings.get(&setting_name(&d.component, &d.variable)).map(|(v, _)| v.clone());
                    GetVariableResult {
                        attribute_status: if value.is_some() {
                            GetVariableStatusEnum::Accepted
                        } else {
                            GetVariableStatusEnum::UnknownVariable
                        },
                        attribute_status_info: None,
                        attribute_type: None,
                        attribute_value: value,
                        component: d.component,
                        custom_data: None,
                        variable: d.variable,
                    }
                })
                .collect();
            Response::GetVariables(GetVariablesResponse { custom_data: None, get_variable_result })
        }
        Request::SetVariables(set) => {
            let set_variable_result = set
                .set_variable_data
                .into_iter()
                .map(|d| {
                    let attribute_status =
                        match state.change(&setting_name(&d.component, &d.variable), &d.attribute_value) {
                            None => SetVariableStatusEnum::UnknownVariable,
                            Some(false) => SetVariableStatusEnum::Rejected,
                            Some(true) => SetVariableStatusEnum::Accepted,
                        };
                    SetVariableResult {
                        attribute_status,
                        attribute_status_info: None,
                        attribute_type: None,
                        component: d.component,
                        custom_data: None,
                        variable: d.variable,
                    }
                })
                .collect();
            Response::SetVariables(SetVariablesResponse { custom_data: None, set_variable_result })
        }
        Request::Reset(_) => {
            state.reboot = true;
            Response::Reset(ResetResponse { custom_data: None, status: ResetStatusEnum::Accepted, status_info: None })
        }
        Request::ChangeAvailability(_) => {
            let status = if state.active_tx.is_some() {
                ChangeAvailabilityStatusEnum::Scheduled
            } else {
                ChangeAvailabilityStatusEnum::Accepted
            };
            Response::ChangeAvailability(ChangeAvailabilityResponse { custom_data: None, status, status_info: None })
        }
        Request::RequestStartTransaction(start) => {
            let remote =
                RemoteStart { id_token: start.id_token.id_token, remote_start_id: Some(start.remote_start_id) };
            let status = if state.take_remote_start(remote) {
                RequestStartStopStatusEnum::Accepted
            } else {
                RequestStartStopStatusEnum::Rejected
            };
            Response::RequestStartTransaction(RequestStartTransactionResponse {
                custom_data: None,
                status,
                status_info: None,
                transaction_id: None,
            })
        }
        Request::RequestStopTransaction(stop) => {
            let status = if state.take_remote_stop(&stop.transaction_id) {
                RequestStartStopStatusEnum::Accepted
            } else {
                RequestStartStopStatusEnum::Rejected
            };
            Response::RequestStopTransaction(RequestStopTransactionResponse {
                custom_data: None,
                status,
                status_info: None,
            })
        }
        Request::UnlockConnector(_) => Response::UnlockConnector(UnlockConnectorResponse {
            custom_data: None,
            status: UnlockStatusEnum::Unlocked,
            status_info: None,
        }),
        Request::ClearCache(_) => Response::ClearCache(ClearCacheResponse {
            custom_data: None,
            status: ClearCacheStatusEnum::Accepted,
            status_info: None,
        }),
        Request::GetLocalListVersion(_) => Response::GetLocalListVersion(GetLocalListVersionResponse {
            custom_data: None,
            version_number: state.list_version,
        }),
        Request::SendLocalList(send) => {
            let entries = send.local_authorization_list.unwrap_or_default().into_iter().map(|entry| {
                (entry.id_token.id_token, entry.id_token_info.map(|info| info.status.as_str().to_string()))
            });
            let full = send.update_type == UpdateEnum::Full;
            let status = if state.update_local_list(send.version_number, full, entries) {
                SendLocalListStatusEnum::Accepted
            } else {
                SendLocalListStatusEnum::VersionMismatch
            };
            Response::SendLocalList(SendLocalListResponse { custom_data: None, status, status_info: None })
        }
        Request::TriggerMessage(trigger) => {
            let wanted = match trigger.requested_message {
                MessageTriggerEnum::BootNotification => Some(Trigger::BootNotification),
                MessageTriggerEnum::Heartbeat => Some(Trigger::Heartbeat),
                MessageTriggerEnum::StatusNotification => Some(Trigger::StatusNotification),
                MessageTriggerEnum::MeterValues => Some(Trigger::MeterValues),
                _ => None,
            };
            let status = match wanted {
                Some(message) => {
                    state.trigger = Some(message);
                    TriggerMessageStatusEnum::Accepted
                }
                None => TriggerMessageStatusEnum::NotImplemented,
            };
            Response::TriggerMessage(TriggerMessageResponse { custom_data: None, status, status_info: None })
        }
        Request::ReserveNow(_) => Response::ReserveNow(ReserveNowResponse {
            custom_data: None,
            status: ReserveNowStatusEnum::Accepted,
            status_info: None,
        }),
        Request::CancelReservation(_) => Response::CancelReservation(CancelReservationResponse {
            custom_data: None,
            status: CancelReservationStatusEnum::Accepted,
            status_info: None,
        }),
        Request::SetChargingProfile(_) => Response::SetChargingProfile(SetChargingProfileResponse {
            custom_data: None,
            status: ChargingProfileStatusEnum::Accepted,
            status_info: None,
        }),
        Request::ClearChargingProfile(_) => Response::ClearChargingProfile(ClearChargingProfileResponse {
            custom_data: None,
            status: ClearChargingProfileStatusEnum::Accepted,
            status_info: None,
        }),
        Request::DataTransfer(_) => Response::DataTransfer(DataTransferResponse {
            custom_data: None,
            data: None,
            status: DataTransferStatusEnum::UnknownVendorId,
            status_info: None,
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocpp::OcppVersion;

    fn state() -> StationState {
        StationState::new(OcppVersion::V201, 60, 0)
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
            status(Connector::Preparing, at),
            fault(60, at, true, "HighTemperature"),
            started("s-0", "T", at, Some(4), &values),
            updated("s-0", 1, at, &values, Context::SampleClock),
            ended("s-0", 2, at, Stop::EvDisconnected, values.clone()),
            ended("s-0", 2, at, Stop::PowerLoss, Vec::new()),
            meter_values(at, &values[..2], Context::Trigger),
        ];
        for request in requests {
            let json = request.to_json().unwrap_or_default();
            let decoded = Request::decode(request.action(), &json);
            assert_eq!(decoded.as_ref().ok(), Some(&request), "{json}: {decoded:?}");
        }
    }

    #[test]
    fn variables_are_read_and_set_by_component_and_variable() {
        let mut state = state();
        let get = r#"{"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},{"component":{"name":"X"},"variable":{"name":"Y"}}]}"#;
        assert_eq!(
            respond(&mut state, "GetVariables", get).as_deref(),
            Ok(
                r#"{"getVariableResult":[{"attributeStatus":"Accepted","attributeValue":"300","component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}},{"attributeStatus":"UnknownVariable","component":{"name":"X"},"variable":{"name":"Y"}}]}"#
            )
        );
        let set = r#"{"setVariableData":[{"attributeValue":"10","component":{"name":"LocalAuthListCtrlr"},"variable":{"name":"ItemsPerMessage"}}]}"#;
        let answer = respond(&mut state, "SetVariables", set).unwrap_or_default();
        assert!(answer.contains(r#""attributeStatus":"Rejected""#), "read-only: {answer}");
    }

    #[test]
    fn a_remote_stop_of_another_transaction_is_rejected() {
        let mut state = state();
        state.active_tx = Some("s-0".into());
        assert_eq!(
            respond(&mut state, "RequestStopTransaction", r#"{"transactionId":"s-9"}"#).as_deref(),
            Ok(r#"{"status":"Rejected"}"#)
        );
        assert_eq!(
            respond(&mut state, "RequestStopTransaction", r#"{"transactionId":"s-0"}"#).as_deref(),
            Ok(r#"{"status":"Accepted"}"#)
        );
        assert!(state.remote_stop);
    }

    #[test]
    fn a_differential_list_with_an_old_version_is_a_mismatch() {
        let mut state = state();
        let list = r#"{"versionNumber":0,"updateType":"Differential","localAuthorizationList":[{"idToken":{"idToken":"A","type":"ISO14443"}}]}"#;
        assert_eq!(respond(&mut state, "SendLocalList", list).as_deref(), Ok(r#"{"status":"VersionMismatch"}"#));
    }
}
