//! The writes a station's messages and the operator cause, each applied inside the writer's
//! transaction. Decisions come from `csms-core`'s rules; this file only gathers their inputs
//! and records their results.

use crate::StoreError;
use csms_core::authorization::{self, AuthDecision, AuthStatus, IdTokenRecord, TokenStatus};
use csms_core::clock::{format_timestamp, parse_timestamp};
use csms_core::faults::{self, FaultChange};
use csms_core::metering::{Reading, ENERGY_IMPORT_REGISTER};
use csms_core::station::{BootInfo, RegistrationPolicy, RegistrationStatus, StationId};
use csms_core::transactions;
use csms_core::Timestamp;
use sqlx::{AnyConnection, Row};

/// One frame for the message log.
#[derive(Debug, Clone)]
pub struct FrameLog {
    pub station_id: String,
    /// `in` (station to Ström) or `out`.
    pub direction: &'static str,
    pub at: Timestamp,
    pub frame: String,
}

#[derive(Debug, Clone)]
pub struct StartTx {
    pub station: StationId,
    pub connector_id: i64,
    pub id_token: String,
    pub meter_start_wh: f64,
    pub timestamp: Timestamp,
    pub reservation_id: Option<i64>,
    pub now: Timestamp,
}

#[derive(Debug, Clone)]
pub struct StopTx {
    pub station: StationId,
    pub station_tx_id: String,
    pub meter_stop_wh: f64,
    pub timestamp: Timestamp,
    pub reason: String,
    pub id_token: Option<String>,
    /// Readings that came with the stop (1.6 transactionData), keyed by connector later.
    pub readings: Vec<Reading>,
    pub now: Timestamp,
}

#[derive(Debug, Clone)]
pub struct StationStatusReport {
    pub station: StationId,
    pub connector_id: i64,
    pub status: String,
    pub error_code: String,
    pub info: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    pub timestamp: Timestamp,
}

#[derive(Debug, Clone)]
pub enum Op {
    /// Only the frames of the job are stored (Heartbeat, outbound frames).
    Nothing,
    Boot {
        station: StationId,
        ocpp_version: &'static str,
        info: BootInfo,
        policy: RegistrationPolicy,
        now: Timestamp,
    },
    Authorize {
        id_token: String,
        now: Timestamp,
    },
    StartTransaction(StartTx),
    StopTransaction(StopTx),
    MeterValues {
        station: StationId,
        connector_id: i64,
        station_tx_id: Option<String>,
        readings: Vec<Reading>,
    },
    StatusNotification(StationStatusReport),
    /// A notification kept as an event of the station (firmware, diagnostics and log upload
    /// progress, security events, data transfers, certificate requests).
    StationEvent {
        station: StationId,
        kind: &'static str,
        status: Option<String>,
        request_id: Option<i64>,
        detail: Option<String>,
        at: Timestamp,
    },
    Seen {
        station: StationId,
        at: Timestamp,
    },
    UpsertIdToken {
        record: IdTokenRecord,
        now: Timestamp,
    },
    DeleteIdToken {
        id_token: String,
    },
    PruneMessages {
        before: String,
        max_per_station: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    Registration(RegistrationStatus),
    Auth(AuthDecision),
    Started { transaction_id: i64, auth: AuthDecision },
    Stopped(Option<AuthDecision>),
    Deleted(bool),
}

pub(crate) async fn log_frame(conn: &mut AnyConnection, f: &FrameLog) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO messages (station_id, direction, at, frame) VALUES ($1, $2, $3, $4)")
        .bind(&f.station_id)
        .bind(f.direction)
        .bind(format_timestamp(&f.at))
        .bind(&f.frame)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn apply(conn: &mut AnyConnection, op: &Op) -> Result<Outcome, StoreError> {
    match op {
        Op::Nothing => Ok(Outcome::Done),
        Op::Boot {
            station,
            ocpp_version,
            info,
            policy,
            now,
        } => boot(conn, station, ocpp_version, info, *policy, now).await,
        Op::Authorize { id_token, now } => {
            let record = load_token(conn, id_token).await?;
            Ok(Outcome::Auth(authorization::decide(record.as_ref(), *now, false)))
        }
        Op::StartTransaction(start) => start_transaction(conn, start).await,
        Op::StopTransaction(stop) => stop_transaction(conn, stop).await,
        Op::MeterValues {
            station,
            connector_id,
            station_tx_id,
            readings,
        } => {
            let tx = match station_tx_id {
                Some(id) => find_transaction(conn, station, id).await?.map(|t| t.0),
                None => None,
            };
            for r in readings {
                insert_reading(conn, station, *connector_id, tx, station_tx_id.as_deref(), r).await?;
            }
            Ok(Outcome::Done)
        }
        Op::StatusNotification(report) => status_notification(conn, report).await,
        Op::StationEvent {
            station,
            kind,
            status,
            request_id,
            detail,
            at,
        } => {
            sqlx::query("INSERT INTO station_events (station_id, kind, status, request_id, detail, at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(station.as_str())
                .bind(*kind)
                .bind(status.as_deref())
                .bind(*request_id)
                .bind(detail.as_deref())
                .bind(format_timestamp(at))
                .execute(&mut *conn)
                .await?;
            // The latest progress of an upload or update is also kept on the station.
            let column = match *kind {
                "FirmwareStatusNotification" | "SignedFirmwareStatusNotification" => Some("firmware_status"),
                "DiagnosticsStatusNotification" => Some("diagnostics_status"),
                "LogStatusNotification" => Some("log_status"),
                _ => None,
            };
            if let (Some(column), Some(status)) = (column, status) {
                sqlx::query(&format!("UPDATE stations SET {column} = $1 WHERE id = $2"))
                    .bind(status.as_str())
                    .bind(station.as_str())
                    .execute(conn)
                    .await?;
            }
            Ok(Outcome::Done)
        }
        Op::Seen { station, at } => {
            sqlx::query("UPDATE stations SET last_seen_at = $1 WHERE id = $2")
                .bind(format_timestamp(at))
                .bind(station.as_str())
                .execute(conn)
                .await?;
            Ok(Outcome::Done)
        }
        Op::UpsertIdToken { record, now } => {
            sqlx::query(
                "INSERT INTO id_tokens (id_token, status, expiry, parent_id_token, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
                 ON CONFLICT (id_token) DO UPDATE SET status = excluded.status, expiry = excluded.expiry, \
                 parent_id_token = excluded.parent_id_token, updated_at = excluded.updated_at",
            )
            .bind(&record.id_token)
            .bind(record.status.as_str())
            .bind(record.expiry.as_ref().map(format_timestamp))
            .bind(record.parent_id_token.as_deref())
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
            Ok(Outcome::Done)
        }
        Op::DeleteIdToken { id_token } => {
            let result = sqlx::query("DELETE FROM id_tokens WHERE id_token = $1")
                .bind(id_token)
                .execute(conn)
                .await?;
            Ok(Outcome::Deleted(result.rows_affected() > 0))
        }
        Op::PruneMessages {
            before,
            max_per_station,
        } => {
            sqlx::query("DELETE FROM messages WHERE at < $1")
                .bind(before)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "DELETE FROM messages WHERE id <= (SELECT m.id FROM messages m WHERE m.station_id = messages.station_id \
                 ORDER BY m.id DESC LIMIT 1 OFFSET $1)",
            )
            .bind(*max_per_station)
            .execute(conn)
            .await?;
            Ok(Outcome::Done)
        }
    }
}

async fn boot(
    conn: &mut AnyConnection,
    station: &StationId,
    ocpp_version: &str,
    info: &BootInfo,
    policy: RegistrationPolicy,
    now: &Timestamp,
) -> Result<Outcome, StoreError> {
    let existing: Option<String> = sqlx::query_scalar("SELECT registration_status FROM stations WHERE id = $1")
        .bind(station.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let status = match existing {
        Some(text) => RegistrationStatus::parse(&text)
            .ok_or_else(|| StoreError::Corrupt(format!("station {station} has registration status {text:?}")))?,
        None => {
            sqlx::query("INSERT INTO stations (id, registration_status, created_at) VALUES ($1, $2, $3)")
                .bind(station.as_str())
                .bind(policy.initial_status().as_str())
                .bind(format_timestamp(now))
                .execute(&mut *conn)
                .await?;
            policy.initial_status()
        }
    };
    sqlx::query(
        "UPDATE stations SET ocpp_version = $1, vendor = $2, model = $3, serial_number = $4, charge_box_serial_number = $5, \
         firmware_version = $6, iccid = $7, imsi = $8, meter_type = $9, meter_serial_number = $10, last_boot_at = $11, \
         last_seen_at = $11 WHERE id = $12",
    )
    .bind(ocpp_version)
    .bind(&info.vendor)
    .bind(&info.model)
    .bind(info.serial_number.as_deref())
    .bind(info.charge_box_serial_number.as_deref())
    .bind(info.firmware_version.as_deref())
    .bind(info.iccid.as_deref())
    .bind(info.imsi.as_deref())
    .bind(info.meter_type.as_deref())
    .bind(info.meter_serial_number.as_deref())
    .bind(format_timestamp(now))
    .bind(station.as_str())
    .execute(conn)
    .await?;
    Ok(Outcome::Registration(status))
}

pub(crate) async fn load_token(conn: &mut AnyConnection, id_token: &str) -> Result<Option<IdTokenRecord>, StoreError> {
    let row = sqlx::query("SELECT id_token, status, expiry, parent_id_token FROM id_tokens WHERE id_token = $1")
        .bind(id_token)
        .fetch_optional(conn)
        .await?;
    row.map(|row| token_from_row(&row)).transpose()
}

pub(crate) fn token_from_row(row: &sqlx::any::AnyRow) -> Result<IdTokenRecord, StoreError> {
    let status: String = row.try_get("status")?;
    let expiry: Option<String> = row.try_get("expiry")?;
    Ok(IdTokenRecord {
        id_token: row.try_get("id_token")?,
        status: TokenStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("token status {status:?}")))?,
        expiry: expiry.as_deref().map(parse_stored_time).transpose()?,
        parent_id_token: row.try_get("parent_id_token")?,
    })
}

pub(crate) fn parse_stored_time(text: &str) -> Result<Timestamp, StoreError> {
    parse_timestamp(text).ok_or_else(|| StoreError::Corrupt(format!("timestamp {text:?}")))
}

/// The newest transaction a station knows under `station_tx_id`: (id, stopped, meter start).
async fn find_transaction(
    conn: &mut AnyConnection,
    station: &StationId,
    station_tx_id: &str,
) -> Result<Option<(i64, bool, Option<f64>)>, StoreError> {
    let row = sqlx::query(
        "SELECT id, stopped_at, meter_start_wh FROM transactions WHERE station_id = $1 AND station_tx_id = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(station.as_str())
    .bind(station_tx_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| -> Result<_, StoreError> {
        let stopped: Option<String> = r.try_get("stopped_at")?;
        Ok((r.try_get("id")?, stopped.is_some(), r.try_get("meter_start_wh")?))
    })
    .transpose()
}

async fn start_transaction(conn: &mut AnyConnection, s: &StartTx) -> Result<Outcome, StoreError> {
    let station = s.station.as_str();
    let started_at = format_timestamp(&s.timestamp);
    let token = load_token(conn, &s.id_token).await?;
    // A retried StartTransaction (the station never saw our answer) carries the same facts under
    // a new message id: it gets the transaction it already has (CONFORMANCE X-07).
    let retry = sqlx::query(
        "SELECT id, start_auth_status FROM transactions WHERE station_id = $1 AND connector_id = $2 AND id_token = $3 \
         AND meter_start_wh = $4 AND started_at = $5 ORDER BY id LIMIT 1",
    )
    .bind(station)
    .bind(s.connector_id)
    .bind(&s.id_token)
    .bind(s.meter_start_wh)
    .bind(&started_at)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = retry {
        let status: Option<String> = row.try_get("start_auth_status")?;
        let mut auth = authorization::decide(token.as_ref(), s.now, false);
        auth.status = status.as_deref().and_then(AuthStatus::parse).unwrap_or(auth.status);
        return Ok(Outcome::Started {
            transaction_id: row.try_get("id")?,
            auth,
        });
    }
    let busy: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM transactions WHERE id_token = $1 AND stopped_at IS NULL AND started_at IS NOT NULL \
         AND NOT (station_id = $2 AND connector_id = $3) LIMIT 1",
    )
    .bind(&s.id_token)
    .bind(station)
    .bind(s.connector_id)
    .fetch_optional(&mut *conn)
    .await?;
    let auth = authorization::decide(token.as_ref(), s.now, busy.is_some());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO transactions (station_id, connector_id, id_token, start_auth_status, started_at, meter_start_wh, \
         reservation_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(station)
    .bind(s.connector_id)
    .bind(&s.id_token)
    .bind(auth.status.as_str())
    .bind(&started_at)
    .bind(s.meter_start_wh)
    .bind(s.reservation_id)
    .bind(format_timestamp(&s.now))
    .fetch_one(&mut *conn)
    .await?;
    // OCPP 1.6 transaction ids are the CSMS's, and many firmwares keep them in an int32.
    if id > i64::from(i32::MAX) {
        return Err(StoreError::Corrupt(format!(
            "transaction id {id} exceeds the 32-bit range"
        )));
    }
    sqlx::query("UPDATE transactions SET station_tx_id = $1 WHERE id = $2")
        .bind(id.to_string())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(Outcome::Started {
        transaction_id: id,
        auth,
    })
}

async fn stop_transaction(conn: &mut AnyConnection, s: &StopTx) -> Result<Outcome, StoreError> {
    let auth = match &s.id_token {
        Some(tag) => Some(authorization::decide(
            load_token(conn, tag).await?.as_ref(),
            s.now,
            false,
        )),
        None => None,
    };
    let stopped_at = format_timestamp(&s.timestamp);
    let (id, meter_start, mut flags) = match find_transaction(conn, &s.station, &s.station_tx_id).await? {
        // A retried stop changes nothing.
        Some((_, true, _)) => return Ok(Outcome::Stopped(auth)),
        Some((id, false, start)) => (id, start, Vec::new()),
        None => {
            // A stop for a transaction Ström never saw is acknowledged (the station would retry
            // forever otherwise) and kept, flagged, for reconciliation (CHECKLIST §2.5).
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO transactions (station_id, station_tx_id, created_at, flags) VALUES ($1, $2, $3, 'unknown_transaction') RETURNING id",
            )
            .bind(s.station.as_str())
            .bind(&s.station_tx_id)
            .bind(format_timestamp(&s.now))
            .fetch_one(&mut *conn)
            .await?;
            (id, None, vec!["unknown_transaction"])
        }
    };
    let connector: Option<i64> = sqlx::query_scalar("SELECT connector_id FROM transactions WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    for r in &s.readings {
        insert_reading(
            conn,
            &s.station,
            connector.unwrap_or(0),
            Some(id),
            Some(&s.station_tx_id),
            r,
        )
        .await?;
    }
    let registers: Vec<f64> = sqlx::query_scalar(
        "SELECT value FROM meter_values WHERE transaction_id = $1 AND measurand = $2 AND phase IS NULL \
         AND normalised_unit = 'Wh' AND value IS NOT NULL ORDER BY timestamp, id",
    )
    .bind(id)
    .bind(ENERGY_IMPORT_REGISTER)
    .fetch_all(&mut *conn)
    .await?;
    let energy = match meter_start {
        Some(start) => {
            let (energy, energy_flags) = transactions::energy(start, s.meter_stop_wh, &registers);
            flags.extend(energy_flags.iter().map(|f| f.as_str()));
            energy
        }
        None => None,
    };
    sqlx::query(
        "UPDATE transactions SET stopped_at = $1, meter_stop_wh = $2, energy_wh = $3, stop_reason = $4, stop_id_token = $5, \
         flags = $6 WHERE id = $7",
    )
    .bind(&stopped_at)
    .bind(s.meter_stop_wh)
    .bind(energy)
    .bind(&s.reason)
    .bind(s.id_token.as_deref())
    .bind(flags.join(","))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(Outcome::Stopped(auth))
}

async fn insert_reading(
    conn: &mut AnyConnection,
    station: &StationId,
    connector_id: i64,
    transaction_id: Option<i64>,
    station_tx_id: Option<&str>,
    r: &Reading,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO meter_values (station_id, connector_id, transaction_id, station_tx_id, timestamp, measurand, phase, \
         location, context, format, unit, raw_value, value, normalised_unit) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(station.as_str())
    .bind(connector_id)
    .bind(transaction_id)
    .bind(station_tx_id)
    .bind(format_timestamp(&r.timestamp))
    .bind(&r.measurand)
    .bind(r.phase.as_deref())
    .bind(&r.location)
    .bind(&r.context)
    .bind(&r.format)
    .bind(&r.unit)
    .bind(&r.raw_value)
    .bind(r.value)
    .bind(&r.normalised_unit)
    .execute(conn)
    .await?;
    Ok(())
}

async fn status_notification(conn: &mut AnyConnection, r: &StationStatusReport) -> Result<Outcome, StoreError> {
    let station = r.station.as_str();
    let at = format_timestamp(&r.timestamp);
    let previous: Option<String> =
        sqlx::query_scalar("SELECT status_at FROM connectors WHERE station_id = $1 AND connector_id = $2")
            .bind(station)
            .bind(r.connector_id)
            .fetch_optional(&mut *conn)
            .await?;
    // Statuses queued offline can arrive after newer ones: an older report is logged, not applied.
    if previous.is_some_and(|p| p > at) {
        return Ok(Outcome::Done);
    }
    sqlx::query(
        "INSERT INTO connectors (station_id, connector_id, status, error_code, info, vendor_id, vendor_error_code, status_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (station_id, connector_id) DO UPDATE SET status = excluded.status, \
         error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id, \
         vendor_error_code = excluded.vendor_error_code, status_at = excluded.status_at",
    )
    .bind(station)
    .bind(r.connector_id)
    .bind(&r.status)
    .bind(&r.error_code)
    .bind(r.info.as_deref())
    .bind(r.vendor_id.as_deref())
    .bind(r.vendor_error_code.as_deref())
    .bind(&at)
    .execute(&mut *conn)
    .await?;
    let open: Option<String> = sqlx::query_scalar(
        "SELECT error_code FROM faults WHERE station_id = $1 AND connector_id = $2 AND cleared_at IS NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(station)
    .bind(r.connector_id)
    .fetch_optional(&mut *conn)
    .await?;
    match faults::assess(&r.status, &r.error_code) {
        FaultChange::Cleared => {
            if open.is_some() {
                close_faults(conn, station, r.connector_id, &at).await?;
            }
        }
        FaultChange::Present { error_code, severity } => {
            if open.as_deref() != Some(error_code.as_str()) {
                if open.is_some() {
                    close_faults(&mut *conn, station, r.connector_id, &at).await?;
                }
                sqlx::query(
                    "INSERT INTO faults (station_id, connector_id, error_code, severity, status, vendor_id, vendor_error_code, info, started_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(station)
                .bind(r.connector_id)
                .bind(&error_code)
                .bind(severity.as_str())
                .bind(&r.status)
                .bind(r.vendor_id.as_deref())
                .bind(r.vendor_error_code.as_deref())
                .bind(r.info.as_deref())
                .bind(&at)
                .execute(conn)
                .await?;
            }
        }
    }
    Ok(Outcome::Done)
}

async fn close_faults(conn: &mut AnyConnection, station: &str, connector_id: i64, at: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE faults SET cleared_at = $1 WHERE station_id = $2 AND connector_id = $3 AND cleared_at IS NULL")
        .bind(at)
        .bind(station)
        .bind(connector_id)
        .execute(conn)
        .await?;
    Ok(())
}
