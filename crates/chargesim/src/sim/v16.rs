//! OCPP 1.6 as a simulated station speaks it: the requests it sends, built from the
//! `ocpp::v16` types, and its answers to the CSMS's calls, decoded strictly and answered from
//! the station's state.

use super::connectors::{ClearCriteria, Profile, Purpose, Reservation, ReserveOutcome};
use super::energy::{Context, Measurand, Measured, Phase};
use super::state::{reachable, Job, RemoteStart, Report, StationState, Trigger};
use super::wire::{Connector, Progress, Stop};
use ocpp::v16::*;
use ocpp::{DateTime, ErrorCode};

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

pub(super) fn status(connector_id: usize, connector: Connector, at: DateTime) -> Request {
    let (status, error_code) = match connector {
        Connector::Available => (StatusNotificationStatus::Available, StatusNotificationErrorCode::NoError),
        Connector::Preparing => (StatusNotificationStatus::Preparing, StatusNotificationErrorCode::NoError),
        Connector::Charging => (StatusNotificationStatus::Charging, StatusNotificationErrorCode::NoError),
        Connector::Finishing => (StatusNotificationStatus::Finishing, StatusNotificationErrorCode::NoError),
        Connector::Reserved => (StatusNotificationStatus::Reserved, StatusNotificationErrorCode::NoError),
        Connector::Unavailable => (StatusNotificationStatus::Unavailable, StatusNotificationErrorCode::NoError),
        Connector::Faulted(code) => (StatusNotificationStatus::Faulted, code),
    };
    Request::StatusNotification(StatusNotificationRequest {
        connector_id: connector_id as i64,
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

pub(super) fn start(
    connector_id: usize,
    id_tag: &str,
    meter_start: u64,
    at: DateTime,
    reservation_id: Option<i64>,
) -> Request {
    Request::StartTransaction(StartTransactionRequest {
        connector_id: connector_id as i64,
        id_tag: id_tag.into(),
        meter_start: meter_start as i64,
        reservation_id,
        timestamp: at,
    })
}

pub(super) fn stop(transaction_id: i64, meter_stop: u64, at: DateTime, why: Stop) -> Request {
    let reason = match why {
        Stop::EvDisconnected => StopTransactionReason::EVDisconnected,
        Stop::Remote => StopTransactionReason::Remote,
        Stop::PowerLoss => StopTransactionReason::PowerLoss,
        Stop::DeAuthorized => StopTransactionReason::DeAuthorized,
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
    connector_id: usize,
    transaction_id: Option<i64>,
    at: DateTime,
    values: &[Measured],
    context: Context,
) -> Request {
    Request::MeterValues(MeterValuesRequest {
        connector_id: connector_id as i64,
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
                    let phase = match m.phase {
                        Some(Phase::L2) => SampledValuePhase::L2N,
                        Some(Phase::L3) => SampledValuePhase::L3N,
                        _ => SampledValuePhase::L1N,
                    };
                    (SampledValueMeasurand::Voltage, SampledValueUnit::V, Some(phase), None)
                }
                Measurand::Current => {
                    let phase = match m.phase {
                        Some(Phase::L2) => SampledValuePhase::L2,
                        Some(Phase::L3) => SampledValuePhase::L3,
                        _ => SampledValuePhase::L1,
                    };
                    (SampledValueMeasurand::CurrentImport, SampledValueUnit::A, Some(phase), None)
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

/// A FirmwareStatusNotification, DiagnosticsStatusNotification or (security extension)
/// LogStatusNotification reporting a step of `job`.
pub(super) fn progress(job: &Job, step: Progress) -> Request {
    match job {
        Job::Firmware { .. } => {
            let status = match step {
                Progress::Idle => FirmwareStatusNotificationStatus::Idle,
                Progress::Downloading => FirmwareStatusNotificationStatus::Downloading,
                Progress::Downloaded => FirmwareStatusNotificationStatus::Downloaded,
                Progress::DownloadFailed => FirmwareStatusNotificationStatus::DownloadFailed,
                Progress::Installing => FirmwareStatusNotificationStatus::Installing,
                Progress::Installed | Progress::Uploading | Progress::Uploaded | Progress::UploadFailed => {
                    FirmwareStatusNotificationStatus::Installed
                }
            };
            Request::FirmwareStatusNotification(FirmwareStatusNotificationRequest { status })
        }
        Job::Diagnostics { .. } => {
            let status = match step {
                Progress::Idle => DiagnosticsStatusNotificationStatus::Idle,
                Progress::Uploaded => DiagnosticsStatusNotificationStatus::Uploaded,
                Progress::UploadFailed => DiagnosticsStatusNotificationStatus::UploadFailed,
                _ => DiagnosticsStatusNotificationStatus::Uploading,
            };
            Request::DiagnosticsStatusNotification(DiagnosticsStatusNotificationRequest { status })
        }
        Job::Log { request_id, .. } => {
            let status = match step {
                Progress::Idle => UploadLogStatusEnum::Idle,
                Progress::Uploaded => UploadLogStatusEnum::Uploaded,
                Progress::UploadFailed => UploadLogStatusEnum::UploadFailure,
                _ => UploadLogStatusEnum::Uploading,
            };
            let request_id = (step != Progress::Idle).then_some(*request_id);
            Request::LogStatusNotification(LogStatusNotificationRequest { request_id, status })
        }
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
        Request::ChangeAvailability(change) => {
            let operative = change.r#type == ChangeAvailabilityType::Operative;
            let status = match state.connectors.change_availability(change.connector_id.max(0) as usize, operative) {
                None => ChangeAvailabilityResponseStatus::Rejected,
                Some((scheduled, changed)) => {
                    for c in changed {
                        state.reports.push(Report::Status(c, state.idle_status(c)));
                    }
                    if scheduled {
                        ChangeAvailabilityResponseStatus::Scheduled
                    } else {
                        ChangeAvailabilityResponseStatus::Accepted
                    }
                }
            };
            Response::ChangeAvailability(ChangeAvailabilityResponse { status })
        }
        Request::RemoteStartTransaction(start) => {
            let connector = start.connector_id.unwrap_or(0).max(0) as usize;
            let taken =
                state.take_remote_start(RemoteStart { id_token: start.id_tag, remote_start_id: None, connector });
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
            // Every message 1.6 lets a CSMS trigger, the station sends.
            state.trigger = Some(match trigger.requested_message {
                TriggerMessageRequestedMessage::BootNotification => Trigger::BootNotification,
                TriggerMessageRequestedMessage::Heartbeat => Trigger::Heartbeat,
                TriggerMessageRequestedMessage::StatusNotification => Trigger::StatusNotification,
                TriggerMessageRequestedMessage::MeterValues => Trigger::MeterValues,
                TriggerMessageRequestedMessage::FirmwareStatusNotification => {
                    Trigger::Idle(Job::Firmware { request_id: None, reachable: true })
                }
                TriggerMessageRequestedMessage::DiagnosticsStatusNotification => {
                    Trigger::Idle(Job::Diagnostics { reachable: true })
                }
            });
            Response::TriggerMessage(TriggerMessageResponse { status: TriggerMessageResponseStatus::Accepted })
        }
        Request::ReserveNow(reserve) => {
            let reservation = Reservation {
                id: reserve.reservation_id,
                id_token: reserve.id_tag,
                expiry: reserve.expiry_date.0.into(),
            };
            let (outcome, connector) =
                state.connectors.reserve(reserve.connector_id.max(0) as usize, reservation, state.now);
            let status = match outcome {
                ReserveOutcome::Accepted => {
                    state.reports.push(Report::Status(connector, Connector::Reserved));
                    ReserveNowResponseStatus::Accepted
                }
                ReserveOutcome::Occupied => ReserveNowResponseStatus::Occupied,
                ReserveOutcome::Unavailable => ReserveNowResponseStatus::Unavailable,
                ReserveOutcome::Rejected => ReserveNowResponseStatus::Rejected,
            };
            Response::ReserveNow(ReserveNowResponse { status })
        }
        Request::CancelReservation(cancel) => {
            let status = match state.connectors.cancel_reservation(cancel.reservation_id) {
                Some(connector) => {
                    state.reports.push(Report::Status(connector, state.idle_status(connector)));
                    CancelReservationResponseStatus::Accepted
                }
                None => CancelReservationResponseStatus::Rejected,
            };
            Response::CancelReservation(CancelReservationResponse { status })
        }
        Request::SetChargingProfile(set) => {
            let p = set.cs_charging_profiles;
            let profile = Profile {
                id: p.charging_profile_id,
                connector: set.connector_id.max(0) as usize,
                purpose: match p.charging_profile_purpose {
                    ChargingProfileChargingProfilePurpose::ChargePointMaxProfile => Purpose::StationMax,
                    ChargingProfileChargingProfilePurpose::TxDefaultProfile => Purpose::TxDefault,
                    ChargingProfileChargingProfilePurpose::TxProfile => Purpose::Tx,
                },
                stack_level: p.stack_level,
                amps: p.charging_schedule.charging_rate_unit == ChargingScheduleChargingRateUnit::A,
                periods: p
                    .charging_schedule
                    .charging_schedule_period
                    .iter()
                    .map(|q| (q.start_period, q.limit))
                    .collect(),
                transaction_id: p.transaction_id.map(|id| id.to_string()),
                set_at: state.now,
            };
            let status = if state.connectors.set_profile(profile, state.active_tx.as_deref()) {
                SetChargingProfileResponseStatus::Accepted
            } else {
                SetChargingProfileResponseStatus::Rejected
            };
            Response::SetChargingProfile(SetChargingProfileResponse { status })
        }
        Request::ClearChargingProfile(clear) => {
            let criteria = ClearCriteria {
                id: clear.id,
                connector: clear.connector_id.map(|c| c.max(0) as usize),
                purpose: clear.charging_profile_purpose.map(|p| match p {
                    ClearChargingProfileChargingProfilePurpose::ChargePointMaxProfile => Purpose::StationMax,
                    ClearChargingProfileChargingProfilePurpose::TxDefaultProfile => Purpose::TxDefault,
                    ClearChargingProfileChargingProfilePurpose::TxProfile => Purpose::Tx,
                }),
                stack_level: clear.stack_level,
            };
            let status = if state.connectors.clear_profiles(criteria) {
                ClearChargingProfileResponseStatus::Accepted
            } else {
                ClearChargingProfileResponseStatus::Unknown
            };
            Response::ClearChargingProfile(ClearChargingProfileResponse { status })
        }
        Request::DataTransfer(_) => Response::DataTransfer(DataTransferResponse {
            data: None,
            status: DataTransferResponseStatus::UnknownVendorId,
        }),
        Request::UpdateFirmware(update) => {
            state.jobs.push_back(Job::Firmware { request_id: None, reachable: reachable(&update.location) });
            Response::UpdateFirmware(UpdateFirmwareResponse {})
        }
        Request::GetDiagnostics(get) => {
            state.jobs.push_back(Job::Diagnostics { reachable: reachable(&get.location) });
            Response::GetDiagnostics(GetDiagnosticsResponse { file_name: Some("diagnostics.zip".into()) })
        }
        Request::GetLog(get) => {
            let reachable = reachable(&get.log.remote_location);
            state.jobs.push_back(Job::Log { request_id: get.request_id, reachable });
            Response::GetLog(GetLogResponse { filename: Some("log.txt".into()), status: LogStatusEnum::Accepted })
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocpp::OcppVersion;

    fn state() -> StationState {
        StationState::new(OcppVersion::V16, 60, 0, 2)
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
            status(1, Connector::Faulted(StatusNotificationErrorCode::HighTemperature), at),
            status(2, Connector::Reserved, at),
            status(2, Connector::Unavailable, at),
            authorize("T"),
            start(1, "T", 1_000, at, None),
            start(2, "T", 1_000, at, Some(3)),
            stop(7, 1_005, at, Stop::PowerLoss),
            stop(7, 1_000, at, Stop::DeAuthorized),
            meter_values(1, Some(7), at, &values, Context::SamplePeriodic),
            meter_values(2, None, at, &values[..2], Context::SampleClock),
            progress(&Job::Firmware { request_id: None, reachable: true }, Progress::Installing),
            progress(&Job::Diagnostics { reachable: false }, Progress::UploadFailed),
            progress(&Job::Log { request_id: 4, reachable: true }, Progress::Uploaded),
            progress(&Job::Log { request_id: 4, reachable: true }, Progress::Idle),
            progress(&Job::Diagnostics { reachable: true }, Progress::Idle),
            progress(&Job::Firmware { request_id: None, reachable: true }, Progress::Idle),
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
            Ok(r#"{"status":"Accepted"}"#)
        );
        assert_eq!(state.trigger, Some(Trigger::Idle(Job::Diagnostics { reachable: true })));
        assert!(respond(&mut state, "TriggerMessage", r#"{"requestedMessage":"Heartbeat"}"#).is_ok());
        assert_eq!(state.trigger, Some(Trigger::Heartbeat));
    }

    #[test]
    fn availability_reservations_and_profiles_change_the_connectors() {
        let mut state = state();
        state.now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        assert_eq!(
            respond(&mut state, "ChangeAvailability", r#"{"connectorId":2,"type":"Inoperative"}"#).as_deref(),
            Ok(r#"{"status":"Accepted"}"#)
        );
        assert_eq!(state.reports, vec![Report::Status(2, Connector::Unavailable)]);
        assert_eq!(
            respond(&mut state, "ChangeAvailability", r#"{"connectorId":3,"type":"Inoperative"}"#).as_deref(),
            Ok(r#"{"status":"Rejected"}"#),
            "the station has two connectors"
        );
        state.reports.clear();
        let reserve = r#"{"connectorId":1,"expiryDate":"2027-06-01T08:00:00Z","idTag":"R","reservationId":9}"#;
        assert_eq!(respond(&mut state, "ReserveNow", reserve).as_deref(), Ok(r#"{"status":"Accepted"}"#));
        assert_eq!(state.reports, vec![Report::Status(1, Connector::Reserved)]);
        let taken = r#"{"connectorId":2,"expiryDate":"2027-06-01T08:00:00Z","idTag":"R","reservationId":10}"#;
        assert_eq!(respond(&mut state, "ReserveNow", taken).as_deref(), Ok(r#"{"status":"Unavailable"}"#));
        assert_eq!(
            respond(&mut state, "RemoteStartTransaction", r#"{"idTag":"OTHER","connectorId":1}"#).as_deref(),
            Ok(r#"{"status":"Rejected"}"#),
            "reserved for R"
        );
        assert_eq!(
            respond(&mut state, "CancelReservation", r#"{"reservationId":9}"#).as_deref(),
            Ok(r#"{"status":"Accepted"}"#)
        );
        assert_eq!(
            respond(&mut state, "CancelReservation", r#"{"reservationId":9}"#).as_deref(),
            Ok(r#"{"status":"Rejected"}"#)
        );
        let profile = r#"{"connectorId":1,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Relative","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":10}]}}}"#;
        assert_eq!(respond(&mut state, "SetChargingProfile", profile).as_deref(), Ok(r#"{"status":"Accepted"}"#));
        assert_eq!(state.connectors.limit(1, Some("7"), state.now).amps, Some(10.0));
        assert_eq!(
            respond(&mut state, "ClearChargingProfile", r#"{"id":1}"#).as_deref(),
            Ok(r#"{"status":"Accepted"}"#)
        );
        assert_eq!(
            respond(&mut state, "ClearChargingProfile", r#"{"id":1}"#).as_deref(),
            Ok(r#"{"status":"Unknown"}"#)
        );
    }

    #[test]
    fn firmware_diagnostics_and_log_requests_become_jobs() {
        let mut state = state();
        let firmware = r#"{"location":"https://fw.example.com/v2.bin","retrieveDate":"2027-01-15T08:00:00Z"}"#;
        assert_eq!(respond(&mut state, "UpdateFirmware", firmware).as_deref(), Ok("{}"));
        assert!(respond(&mut state, "GetDiagnostics", r#"{"location":"gopher://diag.example.com/"}"#).is_ok());
        let log = r#"{"log":{"remoteLocation":"ftp://logs.example.com/"},"logType":"DiagnosticsLog","requestId":4}"#;
        assert_eq!(respond(&mut state, "GetLog", log).as_deref(), Ok(r#"{"filename":"log.txt","status":"Accepted"}"#));
        assert_eq!(
            state.jobs.iter().cloned().collect::<Vec<_>>(),
            [
                Job::Firmware { request_id: None, reachable: true },
                Job::Diagnostics { reachable: false },
                Job::Log { request_id: 4, reachable: true }
            ]
        );
    }
}
