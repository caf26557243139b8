//! A station's registration and presence: BootNotification, the operator's registration, last
//! seen, the heartbeat it is configured with, and its events and transfers (firmware, logs).

use super::{Events, KnownTxRows};
use crate::db::{query, query_scalar, Conn};
use crate::StoreError;
use csms_core::clock::format_timestamp;
use csms_core::events::EventKind;
use csms_core::notifications::{StationEventKind, TransferKind};
use csms_core::ops::*;
use csms_core::security::{PasswordHash, SecurityProfile};
use csms_core::station::{ProtocolVersion, Registered, RegistrationStatus, StationId};

pub(super) async fn set_registration(conn: &mut Conn, op: &SetRegistration) -> Result<bool, StoreError> {
    let SetRegistration { station, status, now } = op;
    let result = query("UPDATE stations SET registration_status = $1 WHERE id = $2")
        .bind(status.as_str())
        .bind(station.as_str())
        .execute(&mut *conn)
        .await?;
    let found = result.rows_affected() > 0;
    if !found {
        // An operator may register a station before it ever connects.
        query("INSERT INTO stations (id, registration_status, created_at) VALUES ($1, $2, $3)")
            .bind(station.as_str())
            .bind(status.as_str())
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
    }
    Ok(found)
}

/// The station's time zone for its tariffs, set or cleared; whether the station is known.
pub(super) async fn set_time_zone(conn: &mut Conn, op: &SetStationTimeZone) -> Result<bool, StoreError> {
    let done = query("UPDATE stations SET time_zone = $2 WHERE id = $1")
        .bind(op.station.as_str())
        .bind(op.time_zone.as_deref())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn set_security(conn: &mut Conn, op: &SetSecurity) -> Result<bool, StoreError> {
    let SetSecurity { station, profile, password_hash, now } = op;
    let result = query(
        "UPDATE stations SET security_profile = $1, \
         basic_auth_password_hash = COALESCE($2, basic_auth_password_hash) WHERE id = $3",
    )
    .bind(profile.number())
    .bind(password_hash.as_deref())
    .bind(station.as_str())
    .execute(&mut *conn)
    .await?;
    let found = result.rows_affected() > 0;
    if !found {
        // An operator provisions a station's credentials before it ever connects.
        query(
            "INSERT INTO stations (id, registration_status, created_at, security_profile, basic_auth_password_hash) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(station.as_str())
        .bind(RegistrationStatus::Accepted.as_str())
        .bind(format_timestamp(now))
        .bind(profile.number())
        .bind(password_hash.as_deref())
        .execute(conn)
        .await?;
    }
    Ok(found)
}

/// A station accepted a new Basic-auth password: its hash replaces the stored one, and the
/// profile becomes what `security::profile_after_password_change` decides from the stored one.
/// A station without a row (connected, never booted) keeps none: it is held to no profile.
pub(super) async fn password_accepted(
    conn: &mut Conn,
    station: &StationId,
    password_hash: &PasswordHash,
    at_least: SecurityProfile,
) -> Result<(), StoreError> {
    let stored: Option<i64> = query_scalar("SELECT security_profile FROM stations WHERE id = $1")
        .bind(station.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(number) = stored else {
        return Ok(());
    };
    let current = SecurityProfile::from_number(number)
        .ok_or_else(|| StoreError::Corrupt(format!("station {station} has security profile {number}")))?;
    let profile = csms_core::security::profile_after_password_change(current, at_least);
    query("UPDATE stations SET basic_auth_password_hash = $1, security_profile = $2 WHERE id = $3")
        .bind(password_hash.0.as_str())
        .bind(profile.number())
        .bind(station.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn decommission(conn: &mut Conn, op: &Decommission) -> Result<bool, StoreError> {
    // The first decommissioning's time is kept.
    let result = query("UPDATE stations SET decommissioned_at = COALESCE(decommissioned_at, $1) WHERE id = $2")
        .bind(format_timestamp(&op.now))
        .bind(op.station.as_str())
        .execute(conn)
        .await?;
    Ok(result.rows_affected() > 0)
}

pub(super) async fn raise_security_profile(conn: &mut Conn, op: &RaiseSecurityProfile) -> Result<bool, StoreError> {
    let result = query("UPDATE stations SET security_profile = $1 WHERE id = $2 AND security_profile < $1")
        .bind(op.profile.number())
        .bind(op.station.as_str())
        .execute(conn)
        .await?;
    Ok(result.rows_affected() > 0)
}

pub(super) async fn station_event(conn: &mut Conn, ev: &mut Events, op: &StationEvent) -> Result<(), StoreError> {
    let StationEvent { station, kind, status, request_id, evse_id, detail, at } = op;
    if *kind == StationEventKind::SecurityEventNotification {
        ev.push(
            EventKind::SecurityEvent,
            station.as_str(),
            serde_json::json!({"type": status, "tech_info": detail, "timestamp": format_timestamp(at)}),
        );
    }
    query(
        "INSERT INTO station_events (station_id, kind, status, request_id, evse_id, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(station.as_str())
    .bind(kind.as_str())
    .bind(status.as_deref())
    .bind(*request_id)
    .bind(*evse_id)
    .bind(detail.as_deref())
    .bind(format_timestamp(at))
    .execute(&mut *conn)
    .await?;
    let (Some(transfer), Some(status)) = (kind.transfer(), status) else {
        return Ok(());
    };
    if transfer.moved_by(status) {
        query(
            "UPDATE transfers SET status = $1, updated_at = $2 WHERE id = (SELECT t.id FROM transfers t \
             WHERE t.station_id = $3 AND t.kind = $4 AND ($5 IS NULL OR t.request_id = $5) ORDER BY t.id DESC LIMIT 1)",
        )
        .bind(status)
        .bind(format_timestamp(at))
        .bind(station.as_str())
        .bind(transfer.as_str())
        .bind(*request_id)
        .execute(&mut *conn)
        .await?;
    }
    // The latest progress of an upload or update is also kept on the station.
    query(match transfer {
        TransferKind::Firmware => "UPDATE stations SET firmware_status = $1 WHERE id = $2",
        TransferKind::Diagnostics => "UPDATE stations SET diagnostics_status = $1 WHERE id = $2",
        TransferKind::Log => "UPDATE stations SET log_status = $1 WHERE id = $2",
    })
    .bind(status.as_str())
    .bind(station.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn seen(conn: &mut Conn, ev: &mut Events, op: &Seen) -> Result<(), StoreError> {
    let Seen { station, at, reason } = op;
    // A connection replaced by the station's next one: the station never went.
    if *reason != "replaced" {
        ev.push(
            EventKind::StationDisconnected,
            station.as_str(),
            serde_json::json!({"at": format_timestamp(at), "reason": reason}),
        );
    }
    query("UPDATE stations SET last_seen_at = $1 WHERE id = $2")
        .bind(format_timestamp(at))
        .bind(station.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// The 2.0.1 boot reasons of a station that restarted on its own: powered up again, or its
/// software restarted (a crash, a watchdog) rather than a reset anyone asked for.
const RESTARTED: &[&str] = &["PowerUp", "ApplicationReset", "Watchdog"];

pub(super) async fn boot(
    conn: &mut Conn,
    known: &mut KnownTxRows,
    ev: &mut Events,
    op: &Boot,
) -> Result<Registration, StoreError> {
    let Boot { station, ocpp_version, info, policy, now } = op;
    let policy = *policy;
    let existing = query("SELECT registration_status, ocpp_version FROM stations WHERE id = $1")
        .bind(station.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let stored =
        match existing {
            Some(row) => {
                let text: String = row.try_get("registration_status")?;
                let version: Option<String> = row.try_get("ocpp_version")?;
                if version.as_deref() != Some(ocpp_version.as_str()) {
                    known.forget_station(station.as_str());
                }
                Some(RegistrationStatus::parse(&text).ok_or_else(|| {
                    StoreError::Corrupt(format!("station {station} has registration status {text:?}"))
                })?)
            }
            None => None,
        };
    let registered = csms_core::station::register(stored, policy);
    let new_station = matches!(registered, Registered::New(_));
    let status = match registered {
        Registered::Known(status) => status,
        Registered::New(status) => {
            query("INSERT INTO stations (id, registration_status, created_at) VALUES ($1, $2, $3)")
                .bind(station.as_str())
                .bind(status.as_str())
                .bind(format_timestamp(now))
                .execute(&mut *conn)
                .await?;
            status
        }
    };
    query(
        "UPDATE stations SET ocpp_version = $1, vendor = $2, model = $3, serial_number = $4, charge_box_serial_number = $5, \
         firmware_version = $6, iccid = $7, imsi = $8, meter_type = $9, meter_serial_number = $10, last_boot_at = $11, \
         last_seen_at = $11, boot_reason = $13 WHERE id = $12",
    )
    .bind(ocpp_version.as_str())
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
    .bind(info.reason.as_deref())
    .execute(&mut *conn)
    .await?;
    if let Some(reason) = info.reason.as_deref().filter(|r| RESTARTED.contains(r)) {
        super::faults::boot_after_power_cut(conn, ev, station.as_str(), reason, now).await?;
    }
    ev.push(
        EventKind::StationBooted,
        station.as_str(),
        serde_json::json!({
            "protocol": ocpp_version.as_str(),
            "vendor": info.vendor,
            "model": info.model,
            "firmware_version": info.firmware_version,
            "reason": info.reason,
            "status": status.as_str(),
        }),
    );
    let heartbeat_interval = match status {
        RegistrationStatus::Accepted => configured_heartbeat(conn, station, *ocpp_version).await?,
        _ => None,
    };
    Ok(Registration { status, heartbeat_interval, new_station })
}

/// The heartbeat interval the station holds, as far as Ström knows: the value it last reported
/// or accepted (1.6 `HeartbeatInterval`, 2.0.1 `OCPPCommCtrlr.HeartbeatInterval`). A boot answer
/// with another interval would reconfigure the station behind the operator's back (OCPP 1.6
/// §4.2: the station adopts the interval of an Accepted boot).
async fn configured_heartbeat(
    conn: &mut Conn,
    station: &StationId,
    ocpp_version: ProtocolVersion,
) -> Result<Option<i64>, StoreError> {
    let sql = if ocpp_version == ProtocolVersion::V16 {
        "SELECT value FROM station_configuration WHERE station_id = $1 AND key = 'HeartbeatInterval'"
    } else {
        "SELECT value FROM device_model WHERE station_id = $1 AND component = 'OCPPCommCtrlr' AND component_instance = '' \
         AND evse_id = -1 AND connector_id = -1 AND variable = 'HeartbeatInterval' AND variable_instance = '' \
         AND attribute_type = 'Actual'"
    };
    let value: Option<Option<String>> = query_scalar(sql).bind(station.as_str()).fetch_optional(conn).await?;
    // A value that is no number is no interval (`station::boot_interval` judges the number).
    Ok(value.flatten().and_then(|v| v.trim().parse::<i64>().ok()))
}
