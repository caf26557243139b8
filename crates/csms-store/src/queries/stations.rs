//! Reads of stations: their registration, their connectors' state and the availability that
//! accepted ChangeAvailability commands give them.

use super::paging::{BindPage, Page, PageRequest};
use crate::{Store, StoreError};
use csms_core::availability::{governing, AvailabilitySetting};
use csms_core::security::{SecurityProfile, SecuritySettings};
use csms_core::station::RegistrationStatus;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorView {
    /// 0 for 1.6 stations, whose connectors have no EVSE level.
    pub evse_id: i64,
    pub connector_id: i64,
    pub status: String,
    pub error_code: Option<String>,
    pub info: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    pub status_at: String,
    /// The operational state the operator last set and the station accepted for this
    /// connector, its EVSE or the whole station (the narrowest wins); Operative when none.
    pub availability: Availability,
}

/// A connector's operational state as far as accepted ChangeAvailability commands say.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Availability {
    pub operative: bool,
    /// The station answered Scheduled: the change takes effect once the running transaction ends.
    pub scheduled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StationView {
    pub id: String,
    pub registration_status: String,
    pub ocpp_version: Option<String>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub charge_box_serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub meter_type: Option<String>,
    pub meter_serial_number: Option<String>,
    pub firmware_status: Option<String>,
    pub diagnostics_status: Option<String>,
    pub log_status: Option<String>,
    pub last_boot_at: Option<String>,
    /// Why it last booted (2.0.1 BootNotification reason).
    pub boot_reason: Option<String>,
    pub last_seen_at: Option<String>,
    pub created_at: String,
    /// The OCPP security profile its connections are held to.
    pub security_profile: i64,
    /// Whether a Basic-auth password is stored (only its hash is, and neither is shown).
    pub basic_auth_password_set: bool,
    /// When the operator decommissioned it; it may no longer connect.
    pub decommissioned_at: Option<String>,
    pub connectors: Vec<ConnectorView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AvailabilityView {
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub operational: String,
    pub status: String,
    pub updated_at: String,
}

const STATION_COLUMNS: &str =
    "id, registration_status, ocpp_version, vendor, model, serial_number, charge_box_serial_number, \
    firmware_version, iccid, imsi, meter_type, meter_serial_number, firmware_status, diagnostics_status, log_status, \
    last_boot_at, last_seen_at, created_at, boot_reason, security_profile, decommissioned_at, \
    CAST(CASE WHEN basic_auth_password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS basic_auth_password_set";

fn station_from_row(r: &AnyRow) -> Result<StationView, sqlx::Error> {
    Ok(StationView {
        id: r.try_get("id")?,
        registration_status: r.try_get("registration_status")?,
        ocpp_version: r.try_get("ocpp_version")?,
        vendor: r.try_get("vendor")?,
        model: r.try_get("model")?,
        serial_number: r.try_get("serial_number")?,
        charge_box_serial_number: r.try_get("charge_box_serial_number")?,
        firmware_version: r.try_get("firmware_version")?,
        iccid: r.try_get("iccid")?,
        imsi: r.try_get("imsi")?,
        meter_type: r.try_get("meter_type")?,
        meter_serial_number: r.try_get("meter_serial_number")?,
        firmware_status: r.try_get("firmware_status")?,
        diagnostics_status: r.try_get("diagnostics_status")?,
        log_status: r.try_get("log_status")?,
        last_boot_at: r.try_get("last_boot_at")?,
        boot_reason: r.try_get("boot_reason")?,
        last_seen_at: r.try_get("last_seen_at")?,
        created_at: r.try_get("created_at")?,
        security_profile: r.try_get("security_profile")?,
        basic_auth_password_set: r.try_get::<i64, _>("basic_auth_password_set")? != 0,
        decommissioned_at: r.try_get("decommissioned_at")?,
        connectors: Vec::new(),
    })
}

fn connector_from_row(r: &AnyRow) -> Result<(String, ConnectorView), sqlx::Error> {
    Ok((
        r.try_get("station_id")?,
        ConnectorView {
            evse_id: r.try_get("evse_id")?,
            connector_id: r.try_get("connector_id")?,
            status: r.try_get("status")?,
            error_code: r.try_get("error_code")?,
            info: r.try_get("info")?,
            vendor_id: r.try_get("vendor_id")?,
            vendor_error_code: r.try_get("vendor_error_code")?,
            status_at: r.try_get("status_at")?,
            availability: Availability { operative: true, scheduled: false },
        },
    ))
}

/// An accepted availability setting; -1 stands for an absent EVSE or connector (`writes::key_number`, `writes::key_text`).
fn setting_from_row(r: &AnyRow) -> Result<AvailabilitySetting, sqlx::Error> {
    Ok(AvailabilitySetting::from_stored(
        r.try_get("evse_id")?,
        r.try_get("connector_id")?,
        &r.try_get::<String, _>("operational")?,
        &r.try_get::<String, _>("status")?,
    ))
}

/// The connector with the availability its station's settings give it.
fn with_availability(mut connector: ConnectorView, settings: &[AvailabilitySetting]) -> ConnectorView {
    if let Some(s) = governing(settings, connector.evse_id, connector.connector_id) {
        connector.availability = Availability { operative: s.operative, scheduled: s.scheduled };
    }
    connector
}

impl Store {
    /// Stations with their connectors, ordered by id; `from`/`to` on when Ström first saw them.
    pub async fn stations(&self, page: &PageRequest<String>) -> Result<Page<StationView, String>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STATION_COLUMNS} FROM stations WHERE ($1 IS NULL OR id > $1) AND ($2 IS NULL OR created_at >= $2) \
             AND ($3 IS NULL OR created_at < $3) ORDER BY id LIMIT $4"
        ))
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let stations = rows.iter().map(station_from_row).collect::<Result<Vec<_>, _>>()?;
        let mut page = Page::of(stations, page.len(), |s| s.id.clone());
        let (Some(first), Some(last)) = (page.items.first(), page.items.last()) else {
            return Ok(page);
        };
        // The page's stations are a range of ids: their connectors and settings are read as one.
        let range = "station_id >= $1 AND station_id <= $2";
        let connectors =
            sqlx::query(&format!("SELECT * FROM connectors WHERE {range} ORDER BY station_id, evse_id, connector_id"))
                .bind(&first.id)
                .bind(&last.id)
                .fetch_all(self.pool())
                .await?;
        let settings = sqlx::query(&format!("SELECT * FROM availability WHERE {range}"))
            .bind(&first.id)
            .bind(&last.id)
            .fetch_all(self.pool())
            .await?;
        let mut by_station: std::collections::HashMap<String, Vec<AvailabilitySetting>> = Default::default();
        for row in &settings {
            by_station.entry(row.try_get("station_id")?).or_default().push(setting_from_row(row)?);
        }
        for row in &connectors {
            let (station_id, connector) = connector_from_row(row)?;
            if let Ok(i) = page.items.binary_search_by(|s| s.id.cmp(&station_id)) {
                let settings = by_station.get(&station_id).map(Vec::as_slice).unwrap_or_default();
                page.items[i].connectors.push(with_availability(connector, settings));
            }
        }
        Ok(page)
    }

    pub async fn station(&self, id: &str) -> Result<Option<StationView>, StoreError> {
        let Some(row) = sqlx::query(&format!("SELECT {STATION_COLUMNS} FROM stations WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let mut station = station_from_row(&row)?;
        let connectors = sqlx::query("SELECT * FROM connectors WHERE station_id = $1 ORDER BY evse_id, connector_id")
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        let settings = sqlx::query("SELECT * FROM availability WHERE station_id = $1")
            .bind(id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(setting_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for row in &connectors {
            station.connectors.push(with_availability(connector_from_row(row)?.1, &settings));
        }
        Ok(Some(station))
    }

    /// The stored registration of a station, for a session that reconnects without booting.
    /// A station's registration for a connection that speaks `ocpp_version` ("1.6", "2.0.1"):
    /// none if the station last booted with the other version, or never booted (a station's
    /// version changes only through a BootNotification).
    pub async fn registration(&self, id: &str, ocpp_version: &str) -> Result<Option<RegistrationStatus>, StoreError> {
        let status: Option<String> = sqlx::query_scalar(
            "SELECT registration_status FROM stations WHERE id = $1 AND (ocpp_version = $2 OR ocpp_version IS NULL)",
        )
        .bind(id)
        .bind(ocpp_version)
        .fetch_optional(self.pool())
        .await?;
        status
            .map(|s| {
                RegistrationStatus::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("registration status {s:?}")))
            })
            .transpose()
    }

    /// A station's security profile and password hash (`None`: an unknown station).
    pub async fn security(&self, id: &str) -> Result<Option<SecuritySettings>, StoreError> {
        let row = sqlx::query(
            "SELECT security_profile, basic_auth_password_hash, decommissioned_at FROM stations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let number: i64 = row.try_get("security_profile")?;
        let profile = SecurityProfile::from_number(number)
            .ok_or_else(|| StoreError::Corrupt(format!("security profile {number}")))?;
        let decommissioned: Option<String> = row.try_get("decommissioned_at")?;
        Ok(Some(SecuritySettings {
            profile,
            password_hash: row.try_get("basic_auth_password_hash")?,
            decommissioned: decommissioned.is_some(),
        }))
    }

    pub async fn availability(&self, station_id: &str) -> Result<Vec<AvailabilityView>, StoreError> {
        let rows = sqlx::query("SELECT * FROM availability WHERE station_id = $1 ORDER BY evse_id, connector_id")
            .bind(station_id)
            .fetch_all(self.pool())
            .await?;
        let number = |v: i64| (v >= 0).then_some(v);
        let view = |r: &AnyRow| -> Result<AvailabilityView, sqlx::Error> {
            Ok(AvailabilityView {
                evse_id: number(r.try_get("evse_id")?),
                connector_id: number(r.try_get("connector_id")?),
                operational: r.try_get("operational")?,
                status: r.try_get("status")?,
                updated_at: r.try_get("updated_at")?,
            })
        };
        Ok(rows.iter().map(view).collect::<Result<_, _>>()?)
    }
}
