//! What Ström knows of a station's set-up: device model report parts, monitors, and the changes
//! commands make (configuration keys, device values, charging profiles, availability, local lists).

use super::{key_number, key_text, reservations, stations};
use crate::db::Query;
use crate::db::{query, Conn};
use crate::StoreError;
use csms_core::authorization::TokenType;
use csms_core::availability::{self, Replaced};
use csms_core::clock::format_timestamp;
use csms_core::ops::*;
use csms_core::station::StationId;
use csms_core::Timestamp;

/// Records one change to Ström's picture of a station.
pub(super) async fn change(conn: &mut Conn, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::ConfigurationKeys { station, keys, now } => {
            for k in keys {
                query(
                    "INSERT INTO station_configuration (station_id, key, value, readonly, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (station_id, key) DO UPDATE SET value = excluded.value, readonly = excluded.readonly, \
                     updated_at = excluded.updated_at",
                )
                .bind(station.as_str())
                .bind(&k.key)
                .bind(k.value.as_deref())
                .bind(i64::from(k.readonly))
                .bind(format_timestamp(now))
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }
        Change::DeviceValues { station, values, now } => {
            for (l, attribute_type, value) in values {
                query(
                    "INSERT INTO device_model (station_id, component, component_instance, evse_id, connector_id, variable, \
                     variable_instance, attribute_type, value, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (station_id, component, component_instance, evse_id, connector_id, variable, variable_instance, \
                     attribute_type) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(station.as_str())
                .bind_location(l)
                .bind(attribute_type)
                .bind(value.as_deref())
                .bind(format_timestamp(now))
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }
        Change::ReservationMade(r) => reservations::made(conn, r).await,
        Change::Certificates(c) => super::certificates::change(conn, c).await,
        Change::ReservationEnded { station, reservation_id, end, now } => {
            reservations::ended(conn, station, *reservation_id, *end, now).await
        }
        Change::ChargingProfileSet(p) => {
            query(
                "DELETE FROM charging_profiles WHERE station_id = $1 AND (profile_id = $2 OR (evse_id = $3 AND stack_level = $4 \
                 AND purpose = $5))",
            )
            .bind(p.station.as_str())
            .bind(p.profile_id)
            .bind(p.evse_id)
            .bind(p.stack_level)
            .bind(&p.purpose)
            .execute(&mut *conn)
            .await?;
            query(
                "INSERT INTO charging_profiles (station_id, profile_id, evse_id, stack_level, purpose, transaction_id, profile, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(p.station.as_str())
            .bind(p.profile_id)
            .bind(p.evse_id)
            .bind(p.stack_level)
            .bind(&p.purpose)
            .bind(p.transaction_id.as_deref())
            .bind(&p.profile)
            .bind(format_timestamp(&p.now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::ChargingProfilesCleared { station, profile_id, evse_id, purpose, stack_level } => {
            query(
                "DELETE FROM charging_profiles WHERE station_id = $1 AND ($2 IS NULL OR profile_id = $2) \
                 AND ($3 IS NULL OR evse_id = $3) AND ($4 IS NULL OR purpose = $4) AND ($5 IS NULL OR stack_level = $5)",
            )
            .bind(station.as_str())
            .bind(*profile_id)
            .bind(*evse_id)
            .bind(purpose.as_deref())
            .bind(*stack_level)
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::AvailabilitySet { station, evse_id, connector_id, operative, status, now } => {
            let (evse, connector) = (key_number(*evse_id), key_number(*connector_id));
            // A wider setting supersedes the narrower ones under it (`availability::replaced_by`).
            let replaced = match availability::replaced_by(*evse_id, *connector_id) {
                Replaced::All => query("DELETE FROM availability WHERE station_id = $1").bind(station.as_str()),
                Replaced::Evse(e) => query("DELETE FROM availability WHERE station_id = $1 AND evse_id = $2")
                    .bind(station.as_str())
                    .bind(e),
                Replaced::Place { evse_id, connector_id } => {
                    query("DELETE FROM availability WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3")
                        .bind(station.as_str())
                        .bind(key_number(evse_id))
                        .bind(key_number(connector_id))
                }
            };
            replaced.execute(&mut *conn).await?;
            query(
                "INSERT INTO availability (station_id, evse_id, connector_id, operational, status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(station.as_str())
            .bind(evse)
            .bind(connector)
            .bind(if *operative { "Operative" } else { "Inoperative" })
            .bind(status)
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::LocalListAccepted { station, version, full, entries, removed, now } => {
            if *full {
                query("DELETE FROM local_list_entries WHERE station_id = $1")
                    .bind(station.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            for id_token in removed {
                query("DELETE FROM local_list_entries WHERE station_id = $1 AND id_token = $2")
                    .bind(station.as_str())
                    .bind(id_token)
                    .execute(&mut *conn)
                    .await?;
            }
            for e in entries {
                query(
                    "INSERT INTO local_list_entries (station_id, id_token, status, expiry, parent_id_token, token_type) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (station_id, id_token) DO UPDATE SET status = excluded.status, \
                     expiry = excluded.expiry, parent_id_token = excluded.parent_id_token, token_type = excluded.token_type",
                )
                .bind(station.as_str())
                .bind(&e.id_token)
                .bind(e.status.as_str())
                .bind(e.expiry.as_ref().map(format_timestamp))
                .bind(e.parent_id_token.as_deref())
                .bind(e.token_type.map(TokenType::as_str))
                .execute(&mut *conn)
                .await?;
            }
            query(
                "INSERT INTO local_list_versions (station_id, version, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (station_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
            )
            .bind(station.as_str())
            .bind(*version)
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::LocalListVersionReported { station, version, source, now } => {
            query(
                "INSERT INTO local_list_reports (station_id, version, source, reported_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (station_id) DO UPDATE SET version = excluded.version, source = excluded.source, \
                 reported_at = excluded.reported_at",
            )
            .bind(station.as_str())
            .bind(*version)
            .bind(*source)
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::TransferRequested { station, kind, request_id, location, file_name, now } => {
            query(
                "INSERT INTO transfers (station_id, kind, request_id, location, file_name, status, requested_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'Requested', $6, $6)",
            )
            .bind(station.as_str())
            .bind(kind.as_str())
            .bind(*request_id)
            .bind(location)
            .bind(file_name.as_deref())
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::PasswordAccepted { station, password_hash, at_least, now: _ } => {
            stations::password_accepted(conn, station, password_hash, *at_least).await
        }
    }
}

pub(super) async fn report_part(conn: &mut Conn, op: &ReportPart) -> Result<(), StoreError> {
    let ReportPart { station, request_id, seq_no, tbc, entries, now } = op;
    let (request_id, seq_no, tbc) = (*request_id, *seq_no, *tbc);
    for entry in entries {
        let l = &entry.location;
        let c = entry.characteristics.as_ref();
        for a in &entry.attributes {
            query(
                "INSERT INTO device_model_staging (station_id, request_id, seq_no, component, component_instance, evse_id, \
                 connector_id, variable, variable_instance, attribute_type, value, mutability, persistent, constant, data_type, \
                 unit, min_limit, max_limit, values_list, supports_monitoring) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
            )
            .bind(station.as_str())
            .bind(request_id)
            .bind(seq_no)
            .bind_location(l)
            .bind(&a.attribute_type)
            .bind(a.value.as_deref())
            .bind(a.mutability.as_deref())
            .bind(a.persistent.map(i64::from))
            .bind(a.constant.map(i64::from))
            .bind(c.map(|c| c.data_type.as_str()))
            .bind(c.and_then(|c| c.unit.as_deref()))
            .bind(c.and_then(|c| c.min_limit))
            .bind(c.and_then(|c| c.max_limit))
            .bind(c.and_then(|c| c.values_list.as_deref()))
            .bind(c.map(|c| i64::from(c.supports_monitoring)))
            .execute(&mut *conn)
            .await?;
        }
    }
    if tbc {
        return Ok(());
    }
    // The last part: the whole report goes into the device model at once. Where a variable
    // appears in several parts, the latest part wins.
    query(
        "INSERT INTO device_model (station_id, component, component_instance, evse_id, connector_id, variable, variable_instance, \
         attribute_type, value, mutability, persistent, constant, data_type, unit, min_limit, max_limit, values_list, \
         supports_monitoring, updated_at) \
         SELECT s.station_id, s.component, s.component_instance, s.evse_id, s.connector_id, s.variable, s.variable_instance, \
         s.attribute_type, s.value, s.mutability, s.persistent, s.constant, s.data_type, s.unit, s.min_limit, s.max_limit, \
         s.values_list, s.supports_monitoring, $3 FROM device_model_staging s WHERE s.station_id = $1 AND s.request_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM device_model_staging t WHERE t.station_id = s.station_id AND t.request_id = s.request_id \
         AND t.component = s.component AND t.component_instance = s.component_instance AND t.evse_id = s.evse_id \
         AND t.connector_id = s.connector_id AND t.variable = s.variable AND t.variable_instance = s.variable_instance \
         AND t.attribute_type = s.attribute_type AND t.id > s.id) \
         ON CONFLICT (station_id, component, component_instance, evse_id, connector_id, variable, variable_instance, attribute_type) \
         DO UPDATE SET value = excluded.value, mutability = excluded.mutability, persistent = excluded.persistent, \
         constant = excluded.constant, data_type = excluded.data_type, unit = excluded.unit, min_limit = excluded.min_limit, \
         max_limit = excluded.max_limit, values_list = excluded.values_list, supports_monitoring = excluded.supports_monitoring, \
         updated_at = excluded.updated_at",
    )
    .bind(station.as_str())
    .bind(request_id)
    .bind(format_timestamp(now))
    .execute(&mut *conn)
    .await?;
    query("DELETE FROM device_model_staging WHERE station_id = $1 AND request_id = $2")
        .bind(station.as_str())
        .bind(request_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn monitor(
    conn: &mut Conn,
    station: &StationId,
    m: &MonitorReport,
    now: &Timestamp,
) -> Result<(), StoreError> {
    let l = &m.location;
    query(
        "INSERT INTO monitors (station_id, monitor_id, component, component_instance, evse_id, connector_id, variable, \
         variable_instance, kind, value, severity, transaction_only, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (station_id, monitor_id) DO UPDATE SET component = excluded.component, \
         component_instance = excluded.component_instance, evse_id = excluded.evse_id, connector_id = excluded.connector_id, \
         variable = excluded.variable, variable_instance = excluded.variable_instance, kind = excluded.kind, \
         value = excluded.value, severity = excluded.severity, transaction_only = excluded.transaction_only, \
         updated_at = excluded.updated_at",
    )
    .bind(station.as_str())
    .bind(m.monitor_id)
    .bind_location(l)
    .bind(&m.kind)
    .bind(m.value)
    .bind(m.severity)
    .bind(i64::from(m.transaction_only))
    .bind(format_timestamp(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Binds where a device-model variable is, as the device model's key columns hold it:
/// component, its instance, EVSE, connector, variable, its instance (absent ones as `key_text`
/// and `key_number` spell them).
trait BindLocation<'q> {
    fn bind_location(self, l: &'q DeviceVariable) -> Self;
}

impl<'q> BindLocation<'q> for Query<'q> {
    fn bind_location(self, l: &'q DeviceVariable) -> Self {
        self.bind(&l.component)
            .bind(key_text(&l.component_instance))
            .bind(key_number(l.evse_id))
            .bind(key_number(l.connector_id))
            .bind(&l.variable)
            .bind(key_text(&l.variable_instance))
    }
}
