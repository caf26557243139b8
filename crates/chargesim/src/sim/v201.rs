//! OCPP 2.0.1 as a simulated station speaks it: the requests it sends, built from the
//! `ocpp::v201` types, and its answers to the CSMS's calls, decoded strictly and answered from
//! the station's state.

use super::connectors::{ClearCriteria, Profile, Purpose, Reservation, ReserveOutcome};
use super::energy::{Context, Measurand, Measured, Phase};
use super::state::{reachable, Job, RemoteStart, Report, StationState, Trigger};
use super::wire::{Connector, Progress, Stop};
use ocpp::v201::*;
use ocpp::{DateTime, ErrorCode};

/// The simulator's connector `n` is EVSE `n`'s one connector.
fn evse(n: usize) -> EVSE {
    EVSE { connector_id: Some(1), custom_data: None, id: n as i64 }
}

/// A boot after power-up, or (`firmware`) after installing new firmware.
pub(super) fn boot_because(firmware: bool) -> Request {
    let Request::BootNotification(mut boot) = boot() else { return boot() };
    if firmware {
        boot.reason = BootReasonEnum::FirmwareUpdate;
    }
    Request::BootNotification(boot)
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
pub(super) fn status(connector_id: usize, connector: Connector, at: DateTime) -> Request {
    let connector_status = match connector {
        Connector::Available => ConnectorStatusEnum::Available,
        Connector::Preparing | Connector::Charging | Connector::Finishing => ConnectorStatusEnum::Occupied,
        Connector::Reserved => ConnectorStatusEnum::Reserved,
        Connector::Unavailable => ConnectorStatusEnum::Unavailable,
        Connector::Faulted(_) => ConnectorStatusEnum::Faulted,
    };
    Request::StatusNotification(StatusNotificationRequest {
        connector_id: 1,
        connector_status,
        custom_data: None,
        evse_id: connector_id as i64,
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
            component: Component { custom_data: None, evse: Some(evse(1)), instance: None, name: "Connector".into() },
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

/// An Authorize, before a session the driver starts (2.0.1 C01).
pub(super) fn authorize(id_token: &str) -> Request {
    Request::Authorize(AuthorizeRequest {
        certificate: None,
        custom_data: None,
        id_token: token(id_token),
        iso15118_certificate_hash_data: None,
    })
}

fn token(id_token: &str) -> IdToken {
    IdToken { additional_info: None, custom_data: None, id_token: id_token.into(), r#type: IdTokenEnum::ISO14443 }
}

/// Where a session runs and what started it: the connector (EVSE), `remote`'s remoteStartId
/// when the CSMS started it, the reservation it uses.
#[derive(Debug, Clone, Copy)]
pub(super) struct Origin {
    pub(super) connector: usize,
    pub(super) remote: Option<i64>,
    pub(super) reservation: Option<i64>,
}

/// TransactionEvent Started: authorized locally, or started by the CSMS.
pub(super) fn started(tx: &str, id_token: &str, at: DateTime, origin: Origin, begin: &[Measured]) -> Request {
    let remote = origin.remote;
    let trigger = if remote.is_some() { TriggerReasonEnum::RemoteStart } else { TriggerReasonEnum::Authorized };
    let info =
        Transaction { charging_state: Some(ChargingStateEnum::Charging), remote_start_id: remote, ..transaction(tx) };
    let meter = vec![meter_value(at, begin, Context::TransactionBegin)];
    let mut started = event(TransactionEventEnum::Started, at, trigger, 0, info, meter);
    started.id_token = Some(token(id_token));
    started.evse = Some(evse(origin.connector));
    started.reservation_id = origin.reservation;
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
        Stop::DeAuthorized => (TriggerReasonEnum::Deauthorized, ReasonEnum::DeAuthorized),
    };
    let info = Transaction { stopped_reason: Some(reason), ..transaction(tx) };
    let meter = if end.is_empty() { Vec::new() } else { vec![meter_value(at, &end, Context::TransactionEnd)] };
    Request::TransactionEvent(event(TransactionEventEnum::Ended, at, trigger, seq_no, info, meter))
}

/// MeterValues of an idle connector.
pub(super) fn meter_values(connector: usize, at: DateTime, values: &[Measured], context: Context) -> Request {
    Request::MeterValues(MeterValuesRequest {
        custom_data: None,
        evse_id: connector as i64,
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
                Measurand::Voltage => (
                    MeasurandEnum::Voltage,
                    "V",
                    Some(match m.phase {
                        Some(Phase::L2) => PhaseEnum::L2N,
                        Some(Phase::L3) => PhaseEnum::L3N,
                        _ => PhaseEnum::L1N,
                    }),
                    None,
                ),
                Measurand::Current => (
                    MeasurandEnum::CurrentImport,
                    "A",
                    Some(match m.phase {
                        Some(Phase::L2) => PhaseEnum::L2,
                        Some(Phase::L3) => PhaseEnum::L3,
                        _ => PhaseEnum::L1,
                    }),
                    None,
                ),
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

/// A FirmwareStatusNotification or LogStatusNotification reporting a step of `job`, with its
/// requestId.
pub(super) fn progress(job: &Job, step: Progress) -> Request {
    match job {
        Job::Firmware { request_id, .. } => {
            let status = match step {
                Progress::Idle => FirmwareStatusEnum::Idle,
                Progress::Downloading => FirmwareStatusEnum::Downloading,
                Progress::Downloaded => FirmwareStatusEnum::Downloaded,
                Progress::DownloadFailed => FirmwareStatusEnum::DownloadFailed,
                Progress::Installing => FirmwareStatusEnum::Installing,
                Progress::Installed | Progress::Uploading | Progress::Uploaded | Progress::UploadFailed => {
                    FirmwareStatusEnum::Installed
                }
            };
            Request::FirmwareStatusNotification(FirmwareStatusNotificationRequest {
                custom_data: None,
                request_id: *request_id,
                status,
            })
        }
        Job::Diagnostics { .. } | Job::Log { .. } => {
            // Idle concerns no request.
            let request_id = match job {
                Job::Log { request_id, .. } if step != Progress::Idle => Some(*request_id),
                _ => None,
            };
            let status = match step {
                Progress::Idle => UploadLogStatusEnum::Idle,
                Progress::Uploaded => UploadLogStatusEnum::Uploaded,
                Progress::UploadFailed => UploadLogStatusEnum::UploadFailure,
                _ => UploadLogStatusEnum::Uploading,
            };
            Request::LogStatusNotification(LogStatusNotificationRequest { custom_data: None, request_id, status })
        }
    }
}

/// A ReservationStatusUpdate: the reservation expired (else the CSMS removed it otherwise).
pub(super) fn reservation_ended(reservation_id: i64, expired: bool) -> Request {
    let reservation_update_status =
        if expired { ReservationUpdateStatusEnum::Expired } else { ReservationUpdateStatusEnum::Removed };
    Request::ReservationStatusUpdate(ReservationStatusUpdateRequest {
        custom_data: None,
        reservation_id,
        reservation_update_status,
    })
}

fn purpose(p: ChargingProfilePurposeEnum) -> Option<Purpose> {
    match p {
        ChargingProfilePurposeEnum::ChargingStationMaxProfile => Some(Purpose::StationMax),
        ChargingProfilePurposeEnum::TxDefaultProfile => Some(Purpose::TxDefault),
        ChargingProfilePurposeEnum::TxProfile => Some(Purpose::Tx),
        ChargingProfilePurposeEnum::ChargingStationExternalConstraints => None,
    }
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
        Request::ChangeAvailability(change) => {
            let operative = change.operational_status == OperationalStatusEnum::Operative;
            let target = change.evse.map_or(0, |e| e.id.max(0) as usize);
            let status = match state.connectors.change_availability(target, operative) {
                None => ChangeAvailabilityStatusEnum::Rejected,
                Some((scheduled, changed)) => {
                    for c in changed {
                        state.reports.push(Report::Status(c, state.idle_status(c)));
                    }
                    if scheduled {
                        ChangeAvailabilityStatusEnum::Scheduled
                    } else {
                        ChangeAvailabilityStatusEnum::Accepted
                    }
                }
            };
            Response::ChangeAvailability(ChangeAvailabilityResponse { custom_data: None, status, status_info: None })
        }
        Request::RequestStartTransaction(start) => {
            let remote = RemoteStart {
                id_token: start.id_token.id_token,
                remote_start_id: Some(start.remote_start_id),
                connector: start.evse_id.unwrap_or(0).max(0) as usize,
            };
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
                MessageTriggerEnum::FirmwareStatusNotification => {
                    Some(Trigger::Idle(Job::Firmware { request_id: None, reachable: true }))
                }
                MessageTriggerEnum::LogStatusNotification => {
                    Some(Trigger::Idle(Job::Log { request_id: 0, reachable: true }))
                }
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
        Request::ReserveNow(reserve) => {
            let reservation = Reservation {
                id: reserve.id,
                id_token: reserve.id_token.id_token,
                expiry: reserve.expiry_date_time.0.into(),
            };
            let target = reserve.evse_id.unwrap_or(0).max(0) as usize;
            let (outcome, connector) = state.connectors.reserve(target, reservation, state.now);
            let status = match outcome {
                ReserveOutcome::Accepted => {
                    state.reports.push(Report::Status(connector, Connector::Reserved));
                    ReserveNowStatusEnum::Accepted
                }
                ReserveOutcome::Occupied => ReserveNowStatusEnum::Occupied,
                ReserveOutcome::Unavailable => ReserveNowStatusEnum::Unavailable,
                ReserveOutcome::Rejected => ReserveNowStatusEnum::Rejected,
            };
            Response::ReserveNow(ReserveNowResponse { custom_data: None, status, status_info: None })
        }
        Request::CancelReservation(cancel) => {
            let status = match state.connectors.cancel_reservation(cancel.reservation_id) {
                Some(connector) => {
                    state.reports.push(Report::Status(connector, state.idle_status(connector)));
                    CancelReservationStatusEnum::Accepted
                }
                None => CancelReservationStatusEnum::Rejected,
            };
            Response::CancelReservation(CancelReservationResponse { custom_data: None, status, status_info: None })
        }
        Request::SetChargingProfile(set) => {
            let p = set.charging_profile;
            // The first schedule is the one a station without ISO 15118 follows.
            let accepted = match (purpose(p.charging_profile_purpose), p.charging_schedule.first()) {
                (Some(purpose), Some(schedule)) => {
                    let profile = Profile {
                        id: p.id,
                        connector: set.evse_id.max(0) as usize,
                        purpose,
                        stack_level: p.stack_level,
                        amps: schedule.charging_rate_unit == ChargingRateUnitEnum::A,
                        periods: schedule.charging_schedule_period.iter().map(|q| (q.start_period, q.limit)).collect(),
                        transaction_id: p.transaction_id,
                        set_at: state.now,
                    };
                    state.connectors.set_profile(profile, state.active_tx.as_deref())
                }
                _ => false,
            };
            let status =
                if accepted { ChargingProfileStatusEnum::Accepted } else { ChargingProfileStatusEnum::Rejected };
            Response::SetChargingProfile(SetChargingProfileResponse { custom_data: None, status, status_info: None })
        }
        Request::ClearChargingProfile(clear) => {
            let criteria = clear.charging_profile_criteria;
            let criteria = ClearCriteria {
                id: clear.charging_profile_id,
                connector: criteria.as_ref().and_then(|c| c.evse_id).map(|e| e.max(0) as usize),
                purpose: criteria.as_ref().and_then(|c| c.charging_profile_purpose).and_then(purpose),
                stack_level: criteria.as_ref().and_then(|c| c.stack_level),
            };
            let status = if state.connectors.clear_profiles(criteria) {
                ClearChargingProfileStatusEnum::Accepted
            } else {
                ClearChargingProfileStatusEnum::Unknown
            };
            Response::ClearChargingProfile(ClearChargingProfileResponse {
                custom_data: None,
                status,
                status_info: None,
            })
        }
        Request::UpdateFirmware(update) => {
            let reachable = reachable(&update.firmware.location);
            state.jobs.push_back(Job::Firmware { request_id: Some(update.request_id), reachable });
            Response::UpdateFirmware(UpdateFirmwareResponse {
                custom_data: None,
                status: UpdateFirmwareStatusEnum::Accepted,
                status_info: None,
            })
        }
        Request::GetLog(get) => {
            let reachable = reachable(&get.log.remote_location);
            state.jobs.push_back(Job::Log { request_id: get.request_id, reachable });
            Response::GetLog(GetLogResponse {
                custom_data: None,
                filename: Some("log.txt".into()),
                status: LogStatusEnum::Accepted,
                status_info: None,
            })
        }
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
        StationState::new(OcppVersion::V201, 60, 0, 2)
    }

    #[test]
    fn every_request_the_station_sends_is_schema_valid() {
        let at = DateTime(std::time::UNIX_EPOCH.into());
        let values = super::super::energy::measure(
            &super::super::energy::Reading { energy_wh: 5, power_w: 7_000.0, soc: 40.0, volts: [229.0, 231.5, 230.0] },
            1_005,
            &Measurand::list(super::super::state::SAMPLED_MEASURANDS),
        );
        let requests = [
            boot(),
            heartbeat(),
            boot_because(true),
            status(1, Connector::Preparing, at),
            status(2, Connector::Reserved, at),
            status(2, Connector::Unavailable, at),
            fault(60, at, true, "HighTemperature"),
            authorize("T"),
            started("s-0", "T", at, Origin { connector: 2, remote: Some(4), reservation: Some(3) }, &values),
            updated("s-0", 1, at, &values, Context::SampleClock),
            ended("s-0", 2, at, Stop::EvDisconnected, values.clone()),
            ended("s-0", 2, at, Stop::PowerLoss, Vec::new()),
            ended("s-0", 1, at, Stop::DeAuthorized, Vec::new()),
            meter_values(2, at, &values[..2], Context::Trigger),
            progress(&Job::Firmware { request_id: Some(7), reachable: true }, Progress::DownloadFailed),
            progress(&Job::Log { request_id: 4, reachable: true }, Progress::Uploaded),
            reservation_ended(3, true),
            progress(&Job::Log { request_id: 0, reachable: true }, Progress::Idle),
            progress(&Job::Firmware { request_id: None, reachable: true }, Progress::Idle),
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

    #[test]
    fn availability_reservations_profiles_and_firmware_are_honoured() {
        let mut state = state();
        state.now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let inoperative = r#"{"operationalStatus":"Inoperative","evse":{"id":2}}"#;
        assert_eq!(respond(&mut state, "ChangeAvailability", inoperative).as_deref(), Ok(r#"{"status":"Accepted"}"#));
        assert_eq!(state.reports, vec![Report::Status(2, Connector::Unavailable)]);
        let reserve = r#"{"id":3,"expiryDateTime":"2027-06-01T08:00:00Z","idToken":{"idToken":"R","type":"ISO14443"},"evseId":1}"#;
        assert_eq!(respond(&mut state, "ReserveNow", reserve).as_deref(), Ok(r#"{"status":"Accepted"}"#));
        let start = r#"{"idToken":{"idToken":"X","type":"ISO14443"},"remoteStartId":1,"evseId":1}"#;
        assert_eq!(respond(&mut state, "RequestStartTransaction", start).as_deref(), Ok(r#"{"status":"Rejected"}"#));
        let profile = r#"{"evseId":0,"chargingProfile":{"id":5,"stackLevel":0,"chargingProfilePurpose":"ChargingStationMaxProfile","chargingProfileKind":"Absolute","chargingSchedule":[{"id":1,"chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":4000}]}]}}"#;
        assert_eq!(respond(&mut state, "SetChargingProfile", profile).as_deref(), Ok(r#"{"status":"Accepted"}"#));
        assert_eq!(state.connectors.limit(1, None, state.now).watts, Some(4000.0));
        let clear = r#"{"chargingProfileCriteria":{"chargingProfilePurpose":"ChargingStationMaxProfile"}}"#;
        assert_eq!(respond(&mut state, "ClearChargingProfile", clear).as_deref(), Ok(r#"{"status":"Accepted"}"#));
        let firmware = r#"{"requestId":7,"firmware":{"location":"https://fw.example.com/v2.bin","retrieveDateTime":"2027-01-15T08:00:00Z"}}"#;
        assert_eq!(respond(&mut state, "UpdateFirmware", firmware).as_deref(), Ok(r#"{"status":"Accepted"}"#));
        assert_eq!(state.jobs.front(), Some(&Job::Firmware { request_id: Some(7), reachable: true }));
    }
}
