//! Faults: opened and closed from 1.6 StatusNotification and 2.0.1 NotifyEvent, including late
//! reports from a station's offline queue.

use super::Events;
use crate::db::{query, query_scalar, Conn, Row};
use crate::StoreError;
use csms_core::availability::{self, AvailabilitySetting};
use csms_core::clock::format_timestamp;
use csms_core::events::EventKind;
use csms_core::fault_kinds::{self, VendorCategories};
use csms_core::faults::{self, FaultChange};
use csms_core::ops::*;
use csms_core::station::StationId;
use csms_core::Timestamp;

/// What a fault event tells of the faults a statement inserted or cleared: its `RETURNING`.
macro_rules! fault_event_columns {
    () => {
        " RETURNING id, evse_id, connector_id, error_code, category, severity, detected_by, cleared_at"
    };
}

pub(super) async fn status_notification(
    conn: &mut Conn,
    vendor: &VendorCategories,
    ev: &mut Events,
    r: &StationStatusReport,
) -> Result<(), StoreError> {
    let station = r.station.as_str();
    let at = format_timestamp(&r.timestamp);
    // Statuses queued offline can arrive after newer ones (CHECKLIST §2.6): an older report does
    // not replace the connector's current status. The upsert's condition decides it, so no read
    // comes first.
    let applied = query(
        "INSERT INTO connectors (station_id, evse_id, connector_id, status, error_code, info, vendor_id, vendor_error_code, status_at) \
         VALUES ($1, $9, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (station_id, evse_id, connector_id) DO UPDATE SET status = excluded.status, \
         error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id, \
         vendor_error_code = excluded.vendor_error_code, status_at = excluded.status_at \
         WHERE connectors.status_at <= excluded.status_at",
    )
    .bind(station)
    .bind(r.connector_id)
    .bind(&r.status)
    .bind(r.error_code.as_deref())
    .bind(r.info.as_deref())
    .bind(r.vendor_id.as_deref())
    .bind(r.vendor_error_code.as_deref())
    .bind(&at)
    .bind(r.evse_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if applied {
        ev.push(
            EventKind::ConnectorStatus,
            station,
            serde_json::json!({"evse_id": r.evse_id, "connector_id": r.connector_id, "status": r.status, "at": at}),
        );
    }
    let place = (r.evse_id, r.connector_id);
    // A 2.0.1 place (EVSE ids start at 1) that reports Unavailable keeps the fault Ström opened
    // for it being out of service (`out_of_service`).
    let unavailable = r.evse_id > 0 && r.status == UNAVAILABLE;
    match (faults::assess(&r.status, r.error_code.as_deref()), applied) {
        // The common case, a healthy connector: whatever was open closes, in one statement.
        (FaultChange::Cleared, true) => close_faults(conn, ev, station, place, &at, unavailable).await?,
        // A healthy report older than the current status says nothing about now.
        (FaultChange::Cleared, false) => {}
        (FaultChange::Present { error_code, severity }, true) => {
            let open: Option<String> = query_scalar(
                "SELECT error_code FROM faults WHERE station_id = $1 AND evse_id = $3 AND connector_id = $2 \
                 AND component IS NULL AND cleared_at IS NULL ORDER BY id DESC LIMIT 1",
            )
            .bind(station)
            .bind(r.connector_id)
            .bind(r.evse_id)
            .fetch_optional(&mut *conn)
            .await?;
            if open.as_deref() != Some(error_code.as_str()) {
                if open.is_some() {
                    close_faults(&mut *conn, ev, station, place, &at, false).await?;
                }
                insert_fault(conn, vendor, ev, r, &error_code, severity, None).await?;
            }
        }
        (FaultChange::Present { error_code, severity }, false) => {
            stale_fault(conn, vendor, ev, r, &error_code, severity).await?
        }
    }
    if unavailable && applied {
        out_of_service(conn, ev, r, &at).await?;
    }
    Ok(())
}

const UNAVAILABLE: &str = "Unavailable";

/// A 2.0.1 EVSE or connector that reports Unavailable while no accepted ChangeAvailability set it
/// inoperative was taken out of service by the station itself: a fault of Ström's own,
/// `OutOfService` (category internal), from the report until the place reports another status
/// (closed with its other faults, `close_faults`). An operator's own setting is no fault.
async fn out_of_service(conn: &mut Conn, ev: &mut Events, r: &StationStatusReport, at: &str) -> Result<(), StoreError> {
    let station = r.station.as_str();
    let settings = query("SELECT evse_id, connector_id, operational, status FROM availability WHERE station_id = $1")
        .bind(station)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            Ok(AvailabilitySetting::from_stored(
                row.try_get("evse_id")?,
                row.try_get("connector_id")?,
                &row.try_get::<String, _>("operational")?,
                &row.try_get::<String, _>("status")?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    if availability::governing(&settings, r.evse_id, r.connector_id).is_some_and(|s| !s.operative) {
        return Ok(());
    }
    let code = fault_kinds::FaultCode::OutOfService;
    let open: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3 AND error_code = $4 \
         AND detected_by IS NOT NULL AND cleared_at IS NULL LIMIT 1",
    )
    .bind(station)
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(code.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    if open.is_some() {
        return Ok(());
    }
    let rows = query(concat!(
        "INSERT INTO faults (station_id, evse_id, connector_id, error_code, severity, status, info, started_at, \
         category, detected_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'strom')",
        fault_event_columns!()
    ))
    .bind(station)
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(code.as_str())
    .bind(faults::Severity::Warning.as_str())
    .bind(UNAVAILABLE)
    .bind("reported Unavailable, and no accepted ChangeAvailability set it inoperative")
    .bind(at)
    .bind(code.category().as_str())
    .fetch_all(conn)
    .await?;
    note_faults(ev, station, EventKind::FaultOpened, &rows)
}

/// A fault reported at a time older than the connector's current status (delivered late from
/// the station's offline queue): never dropped. If the same fault is open, it began no later
/// than this report; otherwise it is recorded as it was, from this report until the newer status
/// that followed it.
async fn stale_fault(
    conn: &mut Conn,
    vendor: &VendorCategories,
    ev: &mut Events,
    r: &StationStatusReport,
    error_code: &str,
    severity: faults::Severity,
) -> Result<(), StoreError> {
    let station = r.station.as_str();
    let at = format_timestamp(&r.timestamp);
    let extended = query(
        "UPDATE faults SET started_at = $1 WHERE id = (SELECT id FROM faults WHERE station_id = $2 AND evse_id = $3 \
         AND connector_id = $4 AND component IS NULL AND cleared_at IS NULL AND error_code = $5 ORDER BY id DESC LIMIT 1) \
         AND started_at > $1",
    )
    .bind(&at)
    .bind(station)
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(error_code)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if extended {
        return Ok(());
    }
    let open_same: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3 AND component IS NULL \
         AND cleared_at IS NULL AND error_code = $4 LIMIT 1",
    )
    .bind(station)
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(error_code)
    .fetch_optional(&mut *conn)
    .await?;
    // The same late report delivered again (a retry) records nothing more.
    let recorded: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3 AND component IS NULL \
         AND error_code = $4 AND started_at = $5 LIMIT 1",
    )
    .bind(station)
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(error_code)
    .bind(&at)
    .fetch_optional(&mut *conn)
    .await?;
    if open_same.is_some() || recorded.is_some() {
        return Ok(());
    }
    // Cleared by the first status the connector reported after this one, as far as Ström knows
    // the connector's history: its current status, newer than this report.
    let cleared_at: Option<String> =
        query_scalar("SELECT status_at FROM connectors WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3")
            .bind(station)
            .bind(r.evse_id)
            .bind(r.connector_id)
            .fetch_optional(&mut *conn)
            .await?;
    insert_fault(conn, vendor, ev, r, error_code, severity, cleared_at.as_deref()).await
}

async fn insert_fault(
    conn: &mut Conn,
    vendor: &VendorCategories,
    ev: &mut Events,
    r: &StationStatusReport,
    error_code: &str,
    severity: faults::Severity,
    cleared_at: Option<&str>,
) -> Result<(), StoreError> {
    let reported = fault_kinds::Reported {
        evse_id: Some(r.evse_id),
        connector_id: r.connector_id,
        error_code,
        vendor_error_code: r.vendor_error_code.as_deref(),
        info: r.info.as_deref(),
        ..fault_kinds::Reported::default()
    };
    let kind = fault_kinds::classify_with(&reported, vendor);
    let rows = query(concat!(
        "INSERT INTO faults (station_id, evse_id, connector_id, error_code, severity, status, vendor_id, vendor_error_code, \
         info, started_at, cleared_at, category) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        fault_event_columns!()
    ))
    .bind(r.station.as_str())
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(error_code)
    .bind(severity.as_str())
    .bind(&r.status)
    .bind(r.vendor_id.as_deref())
    .bind(r.vendor_error_code.as_deref())
    .bind(r.info.as_deref())
    .bind(format_timestamp(&r.timestamp))
    .bind(cleared_at)
    .bind(kind.category.as_str())
    .fetch_all(conn)
    .await?;
    note_faults(ev, r.station.as_str(), EventKind::FaultOpened, &rows)
}

/// Closes the faults open at a place; with `keep_out_of_service`, not Ström's `OutOfService`
/// fault (the place reported Unavailable again).
async fn close_faults(
    conn: &mut Conn,
    ev: &mut Events,
    station: &str,
    (evse_id, connector_id): (i64, i64),
    at: &str,
    keep_out_of_service: bool,
) -> Result<(), StoreError> {
    // No fault has an empty code: matching it keeps nothing.
    let kept = if keep_out_of_service { fault_kinds::FaultCode::OutOfService.as_str() } else { "" };
    // Nearly every healthy report finds nothing open. SQLite's UPDATE opens the table and each
    // of its indexes for writing even when no row matches; a read through one index costs a
    // fraction of that.
    let open: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND connector_id = $2 AND evse_id = $3 AND component IS NULL \
         AND cleared_at IS NULL AND error_code <> $4 LIMIT 1",
    )
    .bind(station)
    .bind(connector_id)
    .bind(evse_id)
    .bind(kept)
    .fetch_optional(&mut *conn)
    .await?;
    if open.is_none() {
        return Ok(());
    }
    let rows = query(concat!(
        "UPDATE faults SET cleared_at = $1 WHERE station_id = $2 AND connector_id = $3 AND evse_id = $4 \
         AND component IS NULL AND cleared_at IS NULL AND error_code <> $5",
        fault_event_columns!()
    ))
    .bind(at)
    .bind(station)
    .bind(connector_id)
    .bind(evse_id)
    .bind(kept)
    .fetch_all(conn)
    .await?;
    note_faults(ev, station, EventKind::FaultCleared, &rows)
}

pub(super) async fn device_event(
    conn: &mut Conn,
    vendor: &VendorCategories,
    ev: &mut Events,
    station: &StationId,
    e: &DeviceEvent,
) -> Result<(), StoreError> {
    let component = DeviceVariable::qualified(&e.location.component, &e.location.component_instance);
    let variable = DeviceVariable::qualified(&e.location.variable, &e.location.variable_instance);
    let at = format_timestamp(&e.timestamp);
    let detail = format!("{component}.{variable}={}", e.actual_value);
    query(
        "INSERT INTO station_events (station_id, kind, status, request_id, detail, at) VALUES ($1, 'NotifyEvent', $2, $3, $4, $5)",
    )
    .bind(station.as_str())
    .bind(&e.trigger)
    .bind(e.event_id)
    .bind(&detail)
    .bind(&at)
    .execute(&mut *conn)
    .await?;
    let severity: Option<i64> = match e.monitor_id {
        Some(monitor) => {
            query_scalar("SELECT severity FROM monitors WHERE station_id = $1 AND monitor_id = $2")
                .bind(station.as_str())
                .bind(monitor)
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    // A component without an EVSE belongs to the whole station: EVSE 0, connector 0.
    let evse = e.location.evse_id.unwrap_or(0);
    let connector = e.location.connector_id.unwrap_or(0);
    let change = faults::assess_event(&e.trigger, e.cleared, &e.location.variable, &e.actual_value, severity);
    let open: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3 AND component = $4 \
         AND variable = $5 AND cleared_at IS NULL LIMIT 1",
    )
    .bind(station.as_str())
    .bind(evse)
    .bind(connector)
    .bind(&component)
    .bind(&variable)
    .fetch_optional(&mut *conn)
    .await?;
    match change {
        faults::EventChange::Record => {}
        faults::EventChange::Clear => {
            if open.is_some() {
                let rows = query(concat!(
                    "UPDATE faults SET cleared_at = $1 WHERE station_id = $2 AND evse_id = $3 AND connector_id = $4 \
                     AND component = $5 AND variable = $6 AND cleared_at IS NULL",
                    fault_event_columns!()
                ))
                .bind(&at)
                .bind(station.as_str())
                .bind(evse)
                .bind(connector)
                .bind(&component)
                .bind(&variable)
                .fetch_all(conn)
                .await?;
                note_faults(ev, station.as_str(), EventKind::FaultCleared, &rows)?;
            }
        }
        faults::EventChange::Open(severity) => {
            if open.is_none() {
                let error_code = format!("{component}.{variable}");
                let reported = fault_kinds::Reported {
                    evse_id: Some(evse),
                    connector_id: connector,
                    component: Some(&component),
                    variable: Some(&variable),
                    error_code: &error_code,
                    tech_code: e.tech_code.as_deref(),
                    tech_info: e.tech_info.as_deref(),
                    vendor_error_code: None,
                    info: e.tech_info.as_deref(),
                };
                let kind = fault_kinds::classify_with(&reported, vendor);
                let rows = query(concat!(
                    "INSERT INTO faults (station_id, evse_id, connector_id, component, variable, error_code, severity, status, \
                     tech_code, tech_info, info, event_id, started_at, category) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13)",
                    fault_event_columns!()
                ))
                .bind(station.as_str())
                .bind(evse)
                .bind(connector)
                .bind(&component)
                .bind(&variable)
                .bind(&error_code)
                .bind(severity.as_str())
                .bind(&e.actual_value)
                .bind(e.tech_code.as_deref())
                .bind(e.tech_info.as_deref())
                .bind(e.event_id)
                .bind(&at)
                .bind(kind.category.as_str())
                .fetch_all(conn)
                .await?;
                note_faults(ev, station.as_str(), EventKind::FaultOpened, &rows)?;
            }
        }
    }
    Ok(())
}

/// A transaction the station ended with reason PowerLoss: the station lost its power while it
/// charged. Ström records it as a `power_loss` fault it detected itself, at the connector, from
/// the stop's time to the time the station, powered again, reported it; once, however often the
/// stop is delivered.
pub(super) async fn power_loss(
    conn: &mut Conn,
    ev: &mut Events,
    station: &str,
    (evse_id, connector_id): (i64, i64),
    stopped_at: &str,
    reported_at: &str,
    transaction_id: i64,
) -> Result<(), StoreError> {
    let code = fault_kinds::FaultCode::PowerLoss;
    let recorded: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3 AND error_code = $4 \
         AND started_at = $5 AND detected_by IS NOT NULL LIMIT 1",
    )
    .bind(station)
    .bind(evse_id)
    .bind(connector_id)
    .bind(code.as_str())
    .bind(stopped_at)
    .fetch_optional(&mut *conn)
    .await?;
    if recorded.is_some() {
        return Ok(());
    }
    let rows = query(concat!(
        "INSERT INTO faults (station_id, evse_id, connector_id, error_code, severity, status, info, started_at, cleared_at, \
         category, detected_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'strom')",
        fault_event_columns!()
    ))
    .bind(station)
    .bind(evse_id)
    .bind(connector_id)
    .bind(code.as_str())
    .bind(faults::Severity::Error.as_str())
    .bind("PowerLoss")
    .bind(format!("transaction {transaction_id} ended by a power loss"))
    .bind(stopped_at)
    .bind(reported_at.max(stopped_at))
    .bind(code.category().as_str())
    .fetch_all(conn)
    .await?;
    note_faults(ev, station, EventKind::FaultOpened, &rows)
}

/// A station's connection lost for longer than the grace, or back: opens Ström's own
/// `CommunicationLost` fault of the whole station (one at a time), or clears it. A station that
/// boots after a power cut (2.0.1 reason PowerUp) while it is open also gets a `power_loss`
/// fault for the same period (`boot_after_power_cut`). Answers whether a fault changed.
/// How soon after its lost connection came back a PowerUp boot still tells of that loss.
const POWER_UP_WITHIN: chrono::Duration = chrono::Duration::minutes(5);

pub(super) async fn connectivity(conn: &mut Conn, ev: &mut Events, op: &Connectivity) -> Result<bool, StoreError> {
    let station = op.station.as_str();
    let code = fault_kinds::FaultCode::CommunicationLost;
    match &op.change {
        ConnectivityChange::Lost { since, reason } => {
            let open: Option<i64> = query_scalar(
                "SELECT id FROM faults WHERE station_id = $1 AND evse_id = 0 AND connector_id = 0 AND error_code = $2 \
                 AND detected_by IS NOT NULL AND cleared_at IS NULL LIMIT 1",
            )
            .bind(station)
            .bind(code.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            if open.is_some() {
                return Ok(false);
            }
            let rows = query(concat!(
                "INSERT INTO faults (station_id, evse_id, connector_id, error_code, severity, status, info, started_at, \
                 category, detected_by) VALUES ($1, 0, 0, $2, $3, 'Offline', $4, $5, $6, 'strom')",
                fault_event_columns!()
            ))
            .bind(station)
            .bind(code.as_str())
            .bind(faults::Severity::Error.as_str())
            .bind(reason.as_str())
            .bind(format_timestamp(since))
            .bind(code.category().as_str())
            .fetch_all(conn)
            .await?;
            note_faults(ev, station, EventKind::FaultOpened, &rows)?;
            Ok(true)
        }
        ConnectivityChange::Connected { at, protocol, was_lost } => {
            ev.push(
                EventKind::StationConnected,
                station,
                serde_json::json!({"protocol": protocol.as_str(), "at": format_timestamp(at)}),
            );
            if !*was_lost {
                return Ok(false);
            }
            let back = Connectivity { station: op.station.clone(), change: ConnectivityChange::Back { at: *at } };
            Box::pin(connectivity(conn, ev, &back)).await
        }
        ConnectivityChange::Back { at } => {
            let rows = query(concat!(
                "UPDATE faults SET cleared_at = $1 WHERE station_id = $2 AND evse_id = 0 AND connector_id = 0 \
                 AND error_code = $3 AND detected_by IS NOT NULL AND cleared_at IS NULL",
                fault_event_columns!()
            ))
            .bind(format_timestamp(at))
            .bind(station)
            .bind(code.as_str())
            .fetch_all(conn)
            .await?;
            note_faults(ev, station, EventKind::FaultCleared, &rows)?;
            Ok(!rows.is_empty())
        }
    }
}

/// A station that boots with reason PowerUp, ApplicationReset or Watchdog (2.0.1) after Ström
/// had its connection as lost went down on its own (a power cut, or its software): a
/// `power_loss` fault of the whole station for the period the connection was lost, cleared as it
/// boots. The lost connection's fault is cleared as the station connects,
/// just before its boot, so the one meant is the latest, open or cleared within
/// `POWER_UP_WITHIN` of the boot; once per lost connection.
pub(super) async fn boot_after_power_cut(
    conn: &mut Conn,
    ev: &mut Events,
    station: &str,
    reason: &str,
    now: &Timestamp,
) -> Result<(), StoreError> {
    let recent = format_timestamp(&(*now - POWER_UP_WITHIN));
    let lost: Option<String> = query_scalar(
        "SELECT started_at FROM faults WHERE station_id = $1 AND evse_id = 0 AND connector_id = 0 AND error_code = $2 \
         AND detected_by IS NOT NULL AND (cleared_at IS NULL OR cleared_at >= $3) ORDER BY id DESC LIMIT 1",
    )
    .bind(station)
    .bind(fault_kinds::FaultCode::CommunicationLost.as_str())
    .bind(&recent)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(since) = lost else { return Ok(()) };
    let code = fault_kinds::FaultCode::PowerLoss;
    let recorded: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND evse_id = 0 AND connector_id = 0 AND error_code = $2 \
         AND started_at = $3 AND detected_by IS NOT NULL LIMIT 1",
    )
    .bind(station)
    .bind(code.as_str())
    .bind(&since)
    .fetch_optional(&mut *conn)
    .await?;
    if recorded.is_some() {
        return Ok(());
    }
    let at = format_timestamp(now);
    let at = at.as_str();
    let rows = query(concat!(
        "INSERT INTO faults (station_id, evse_id, connector_id, error_code, severity, status, info, started_at, cleared_at, \
         category, detected_by) VALUES ($1, 0, 0, $2, $3, 'PowerLoss', $4, $5, $6, $7, 'strom')",
        fault_event_columns!()
    ))
    .bind(station)
    .bind(code.as_str())
    .bind(faults::Severity::Error.as_str())
    .bind(format!("the station booted ({reason}) as its lost connection came back"))
    .bind(&since)
    .bind(at.max(since.as_str()))
    .bind(code.category().as_str())
    .fetch_all(conn)
    .await?;
    note_faults(ev, station, EventKind::FaultOpened, &rows)
}

/// A `fault.opened` (and, for a fault recorded already over, `fault.cleared` too) or
/// `fault.cleared` event per row of `fault_event_columns`.
fn note_faults(ev: &mut Events, station: &str, kind: EventKind, rows: &[Row]) -> Result<(), StoreError> {
    for row in rows {
        let category: Option<String> = row.try_get("category")?;
        let category = category
            .as_deref()
            .and_then(fault_kinds::FaultCategory::parse)
            .unwrap_or(fault_kinds::FaultCategory::Other);
        let detected_by: Option<String> = row.try_get("detected_by")?;
        let cleared_at: Option<String> = row.try_get("cleared_at")?;
        let data = serde_json::json!({
            "fault_id": row.try_get::<i64, _>("id")?,
            "evse_id": row.try_get::<i64, _>("evse_id")?,
            "connector_id": row.try_get::<i64, _>("connector_id")?,
            "code": row.try_get::<String, _>("error_code")?,
            "category": category.as_str(),
            "severity": row.try_get::<String, _>("severity")?,
            "source": if detected_by.is_some() { "strom" } else { "station" },
            "cleared_at": cleared_at,
        });
        if kind == EventKind::FaultOpened && cleared_at.is_some() {
            ev.push_fault(kind, station, category.as_str(), data.clone());
            ev.push_fault(EventKind::FaultCleared, station, category.as_str(), data);
        } else {
            ev.push_fault(kind, station, category.as_str(), data);
        }
    }
    Ok(())
}
