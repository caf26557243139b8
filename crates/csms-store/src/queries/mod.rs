//! Reads for the operator API and for sessions that reconnect. They go straight to the pool and
//! see what the writer has committed.

use crate::log_blocks;
use crate::ops::token_from_row;
use crate::schema::readings_with_words;
use crate::{Backend, Store, StoreError};
use csms_core::authorization::IdTokenRecord;
use csms_core::availability::{governing, AvailabilitySetting};
use csms_core::clock::format_timestamp;
use csms_core::station::RegistrationStatus;
use sqlx::any::AnyRow;
use sqlx::Row;

/// Which part of a list to read. Lists are read by keyset: a page starts after the key of the
/// previous page's last row (`after`), in an order on a unique key, so rows added while a client
/// pages neither shift the pages nor repeat a row, as an offset would make them do.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<K> {
    /// The key of the previous page's last row; `None` for the first page.
    pub after: Option<K>,
    /// At most this many rows (the API allows 1 to 1000).
    pub limit: i64,
    /// Only rows whose time (each list names its own) is at or after `from` and before `to`:
    /// texts as `format_timestamp` writes them, which sort as the instants do.
    pub from: Option<String>,
    pub to: Option<String>,
}

impl<K> PageRequest<K> {
    /// The first `limit` rows, whatever their time.
    pub fn first(limit: i64) -> PageRequest<K> {
        PageRequest { after: None, limit, from: None, to: None }
    }

    fn len(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(0)
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds a page's parameters after a list's own, in the order every paged query names them: the
/// key to read after (`bind_page` only), `from`, `to`, and one row more than the page holds
/// (which says whether another page follows, `Page::of`).
trait BindPage<'q, K> {
    fn bind_page(self, page: &'q PageRequest<K>) -> Self;
}

trait BindWindow<'q> {
    fn bind_window<K>(self, page: &'q PageRequest<K>) -> Self;
}

impl<'q> BindWindow<'q> for AnyQuery<'q> {
    fn bind_window<K>(self, page: &'q PageRequest<K>) -> Self {
        self.bind(page.from.as_deref()).bind(page.to.as_deref()).bind(page.limit + 1)
    }
}

impl<'q> BindPage<'q, i64> for AnyQuery<'q> {
    fn bind_page(self, page: &'q PageRequest<i64>) -> Self {
        self.bind(page.after).bind_window(page)
    }
}

impl<'q> BindPage<'q, String> for AnyQuery<'q> {
    fn bind_page(self, page: &'q PageRequest<String>) -> Self {
        self.bind(page.after.as_deref()).bind_window(page)
    }
}

/// One page of a list, and the key to read the next page after, if there are more rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, K> {
    pub items: Vec<T>,
    pub next: Option<K>,
}

impl<T, K> Page<T, K> {
    /// A page from up to `limit + 1` rows read: the one past the limit only says that there is
    /// a next page, so the last page says it is the last.
    fn of(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> K) -> Page<T, K> {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(key)
        } else {
            None
        };
        Page { items, next }
    }
}

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
    pub connectors: Vec<ConnectorView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransactionView {
    pub id: i64,
    pub station_id: String,
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub station_tx_id: Option<String>,
    pub id_token: Option<String>,
    pub start_auth_status: Option<String>,
    pub started_at: Option<String>,
    pub meter_start_wh: Option<f64>,
    pub reservation_id: Option<i64>,
    pub stopped_at: Option<String>,
    pub meter_stop_wh: Option<f64>,
    pub energy_wh: Option<f64>,
    pub stop_reason: Option<String>,
    pub stop_id_token: Option<String>,
    pub flags: Vec<String>,
    pub id_token_type: Option<String>,
    pub charging_state: Option<String>,
    pub last_trigger_reason: Option<String>,
    pub time_spent_charging: Option<i64>,
    pub remote_start_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MeterValueView {
    /// The reading's id: with its time, its place in the transaction's readings.
    pub id: i64,
    pub evse_id: Option<i64>,
    pub connector_id: i64,
    pub timestamp: String,
    pub measurand: String,
    pub phase: Option<String>,
    pub location: String,
    pub context: String,
    pub format: String,
    pub unit: String,
    pub raw_value: String,
    pub value: Option<f64>,
    pub normalised_unit: String,
    pub signed_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaultView {
    pub id: i64,
    pub station_id: String,
    pub evse_id: Option<i64>,
    pub connector_id: i64,
    /// 2.0.1 faults come from device-model events: the component and variable that reported.
    pub component: Option<String>,
    pub variable: Option<String>,
    pub tech_code: Option<String>,
    pub tech_info: Option<String>,
    pub event_id: Option<i64>,
    pub error_code: String,
    pub severity: String,
    pub status: String,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    pub info: Option<String>,
    pub started_at: String,
    pub cleared_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    pub id: i64,
    pub direction: String,
    pub at: String,
    pub frame: String,
}

/// A notification a station sent about itself (firmware, diagnostics and log progress, security
/// events, data transfers, certificate requests).
#[derive(Debug, Clone, PartialEq)]
pub struct StationEventView {
    pub id: i64,
    pub kind: String,
    pub status: Option<String>,
    pub request_id: Option<i64>,
    /// The EVSE the event is about, when it names one.
    pub evse_id: Option<i64>,
    pub detail: Option<String>,
    pub at: String,
}

/// One attribute of one variable of a station's device model (2.0.1).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceModelView {
    pub component: String,
    pub component_instance: Option<String>,
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub variable: String,
    pub variable_instance: Option<String>,
    pub attribute_type: String,
    pub value: Option<String>,
    pub mutability: Option<String>,
    pub persistent: Option<bool>,
    pub constant: Option<bool>,
    pub data_type: Option<String>,
    pub unit: Option<String>,
    pub min_limit: Option<f64>,
    pub max_limit: Option<f64>,
    pub values_list: Option<String>,
    pub supports_monitoring: Option<bool>,
    pub updated_at: String,
}

/// A command sent to a station and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandView {
    pub id: i64,
    pub station_id: String,
    pub action: String,
    pub request: String,
    pub status: String,
    pub response: Option<String>,
    pub error_code: Option<String>,
    pub error_description: Option<String>,
    pub requested_at: String,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigurationView {
    pub key: String,
    pub value: Option<String>,
    pub readonly: bool,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReservationView {
    pub reservation_id: i64,
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub id_token: String,
    pub group_id_token: Option<String>,
    pub expiry: String,
    /// Active, Used, Cancelled, Expired or Removed. An Active reservation past its expiry is
    /// reported Expired: 1.6 stations do not say when one lapses.
    pub status: String,
    pub transaction_id: Option<i64>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChargingProfileView {
    pub profile_id: i64,
    pub evse_id: i64,
    pub stack_level: i64,
    pub purpose: String,
    pub transaction_id: Option<String>,
    pub profile: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AvailabilityView {
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub operational: String,
    pub status: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransferView {
    pub id: i64,
    pub kind: String,
    pub request_id: Option<i64>,
    pub location: String,
    pub file_name: Option<String>,
    pub status: String,
    pub requested_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct TransactionFilter {
    pub station_id: Option<String>,
    pub active: Option<bool>,
}

/// A variable monitor a 2.0.1 station reported (NotifyMonitoringReport).
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorView {
    pub monitor_id: i64,
    pub component: String,
    pub component_instance: Option<String>,
    pub evse_id: Option<i64>,
    pub connector_id: Option<i64>,
    pub variable: String,
    pub variable_instance: Option<String>,
    pub kind: String,
    pub value: f64,
    pub severity: i64,
    pub transaction_only: bool,
    pub updated_at: String,
}

const STATION_COLUMNS: &str =
    "id, registration_status, ocpp_version, vendor, model, serial_number, charge_box_serial_number, \
    firmware_version, iccid, imsi, meter_type, meter_serial_number, firmware_status, diagnostics_status, log_status, \
    last_boot_at, last_seen_at, created_at, boot_reason";

const TRANSACTION_COLUMNS: &str = "id, station_id, evse_id, connector_id, station_tx_id, id_token, start_auth_status, \
    started_at, meter_start_wh, reservation_id, stopped_at, meter_stop_wh, energy_wh, stop_reason, stop_id_token, flags, \
    id_token_type, charging_state, last_trigger_reason, time_spent_charging, remote_start_id";

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

fn transaction_from_row(r: &AnyRow) -> Result<TransactionView, sqlx::Error> {
    let flags: String = r.try_get("flags")?;
    Ok(TransactionView {
        id: r.try_get("id")?,
        station_id: r.try_get("station_id")?,
        evse_id: r.try_get("evse_id")?,
        connector_id: r.try_get("connector_id")?,
        station_tx_id: r.try_get("station_tx_id")?,
        id_token: r.try_get("id_token")?,
        start_auth_status: r.try_get("start_auth_status")?,
        started_at: r.try_get("started_at")?,
        meter_start_wh: r.try_get("meter_start_wh")?,
        reservation_id: r.try_get("reservation_id")?,
        stopped_at: r.try_get("stopped_at")?,
        meter_stop_wh: r.try_get("meter_stop_wh")?,
        energy_wh: r.try_get("energy_wh")?,
        stop_reason: r.try_get("stop_reason")?,
        stop_id_token: r.try_get("stop_id_token")?,
        flags: flags.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect(),
        id_token_type: r.try_get("id_token_type")?,
        charging_state: r.try_get("charging_state")?,
        last_trigger_reason: r.try_get("last_trigger_reason")?,
        time_spent_charging: r.try_get("time_spent_charging")?,
        remote_start_id: r.try_get("remote_start_id")?,
    })
}

fn fault_from_row(r: &AnyRow) -> Result<FaultView, sqlx::Error> {
    Ok(FaultView {
        id: r.try_get("id")?,
        station_id: r.try_get("station_id")?,
        evse_id: r.try_get("evse_id")?,
        connector_id: r.try_get("connector_id")?,
        component: r.try_get("component")?,
        variable: r.try_get("variable")?,
        tech_code: r.try_get("tech_code")?,
        tech_info: r.try_get("tech_info")?,
        event_id: r.try_get("event_id")?,
        error_code: r.try_get("error_code")?,
        severity: r.try_get("severity")?,
        status: r.try_get("status")?,
        vendor_id: r.try_get("vendor_id")?,
        vendor_error_code: r.try_get("vendor_error_code")?,
        info: r.try_get("info")?,
        started_at: r.try_get("started_at")?,
        cleared_at: r.try_get("cleared_at")?,
    })
}

/// An accepted availability setting; -1 stands for an absent EVSE or connector (see ops.rs).
fn setting_from_row(r: &AnyRow) -> Result<AvailabilitySetting, sqlx::Error> {
    let number = |v: i64| (v >= 0).then_some(v);
    Ok(AvailabilitySetting {
        evse_id: number(r.try_get("evse_id")?),
        connector_id: number(r.try_get("connector_id")?),
        operative: r.try_get::<String, _>("operational")? == "Operative",
        scheduled: r.try_get::<String, _>("status")? == "Scheduled",
    })
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

    /// Transactions, newest first (by id); `from`/`to` on their start.
    pub async fn transactions(
        &self,
        filter: &TransactionFilter,
        page: &PageRequest<i64>,
    ) -> Result<Page<TransactionView, i64>, StoreError> {
        let active = match filter.active {
            Some(true) => " AND stopped_at IS NULL",
            Some(false) => " AND stopped_at IS NOT NULL",
            None => "",
        };
        let sql = format!(
            "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE ($1 IS NULL OR station_id = $1){active} \
             AND ($2 IS NULL OR id < $2) AND ($3 IS NULL OR started_at >= $3) AND ($4 IS NULL OR started_at < $4) \
             ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(&sql).bind(filter.station_id.as_deref()).bind_page(page).fetch_all(self.pool()).await?;
        let items = rows.iter().map(transaction_from_row).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |t: &TransactionView| t.id))
    }

    pub async fn transaction(&self, id: i64) -> Result<Option<TransactionView>, StoreError> {
        let row = sqlx::query(&format!("SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(transaction_from_row).transpose()?)
    }

    /// A transaction's readings in time order, oldest first (the transaction's curve), keyed by
    /// their time and id; `from`/`to` on their time.
    pub async fn meter_values(
        &self,
        transaction_id: i64,
        page: &PageRequest<(String, i64)>,
    ) -> Result<Page<MeterValueView, (String, i64)>, StoreError> {
        macro_rules! page_of_readings {
            ($backend:ident) => {
                concat!(
                    readings_with_words!($backend),
                    " WHERE s.transaction_id = $1 AND ($2 IS NULL OR s.timestamp > $2 OR (s.timestamp = $2 AND r.id > $3)) \
                     AND ($4 IS NULL OR s.timestamp >= $4) AND ($5 IS NULL OR s.timestamp < $5) \
                     ORDER BY s.timestamp, r.id LIMIT $6"
                )
            };
        }
        let sql = match self.backend() {
            Backend::Sqlite => page_of_readings!(sqlite),
            Backend::Postgres => page_of_readings!(postgres),
        };
        let (after_time, after_id) = match &page.after {
            Some((time, id)) => (Some(time.as_str()), Some(*id)),
            None => (None, None),
        };
        let rows = sqlx::query(sql)
            .bind(transaction_id)
            .bind(after_time)
            .bind(after_id)
            .bind_window(page)
            .fetch_all(self.pool())
            .await?;
        let view = |r: &AnyRow| -> Result<MeterValueView, sqlx::Error> {
            Ok(MeterValueView {
                id: r.try_get("id")?,
                evse_id: r.try_get("evse_id")?,
                connector_id: r.try_get("connector_id")?,
                timestamp: r.try_get("timestamp")?,
                measurand: r.try_get("measurand")?,
                phase: r.try_get("phase")?,
                location: r.try_get("location")?,
                context: r.try_get("context")?,
                format: r.try_get("format")?,
                unit: r.try_get("unit")?,
                raw_value: r.try_get("raw_value")?,
                value: r.try_get("value")?,
                normalised_unit: r.try_get("normalised_unit")?,
                signed_data: r.try_get("signed_data")?,
            })
        };
        let items = rows.iter().map(view).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |m: &MeterValueView| (m.timestamp.clone(), m.id)))
    }

    /// Faults, newest first (by id); `open` filters on whether they are cleared, `from`/`to` on
    /// their start.
    pub async fn faults(
        &self,
        station_id: Option<&str>,
        open: Option<bool>,
        page: &PageRequest<i64>,
    ) -> Result<Page<FaultView, i64>, StoreError> {
        let open = match open {
            Some(true) => " AND cleared_at IS NULL",
            Some(false) => " AND cleared_at IS NOT NULL",
            None => "",
        };
        let sql = format!(
            "SELECT * FROM faults WHERE ($1 IS NULL OR station_id = $1){open} AND ($2 IS NULL OR id < $2) \
             AND ($3 IS NULL OR started_at >= $3) AND ($4 IS NULL OR started_at < $4) ORDER BY id DESC LIMIT $5"
        );
        let rows = sqlx::query(&sql).bind(station_id).bind_page(page).fetch_all(self.pool()).await?;
        let items = rows.iter().map(fault_from_row).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |f: &FaultView| f.id))
    }

    /// A station's logged frames, newest first, keyed by their ids, which address a block and a
    /// place in it (`log_blocks::frame_id`); `from`/`to` on when they were logged. The log is kept
    /// in blocks: they are read newest first, a few at a time, until the page is full. Blocks
    /// whose newest frame is older than `from` are not read. A station's new frames go into new
    /// blocks with higher ids, so they never come between the pages of a reader.
    pub async fn messages(
        &self,
        station_id: &str,
        page: &PageRequest<i64>,
    ) -> Result<Page<MessageView, i64>, StoreError> {
        const BLOCKS_PER_READ: i64 = 8;
        self.flush_log().await?;
        let want = page.len() + 1;
        let mut found = Vec::new();
        // Blocks below this id: the one that holds the cursor's frame and older ones.
        let mut below = page.after.map(|id| log_blocks::block_of(id) + 1);
        while found.len() < want {
            let rows = sqlx::query(
                "SELECT id, body FROM message_blocks WHERE station_id = $1 AND ($2 IS NULL OR id < $2) \
                 AND ($3 IS NULL OR last_at >= $3) ORDER BY id DESC LIMIT $4",
            )
            .bind(station_id)
            .bind(below)
            .bind(page.from.as_deref())
            .bind(BLOCKS_PER_READ)
            .fetch_all(self.pool())
            .await?;
            for row in &rows {
                let block: i64 = row.try_get("id")?;
                let stored: Vec<u8> = row.try_get("body")?;
                let body = log_blocks::unpack(&stored)?;
                let frames = log_blocks::decode(&body)?;
                for (place, frame) in frames.iter().enumerate().rev() {
                    let id = log_blocks::frame_id(block, place);
                    if page.after.is_some_and(|after| id >= after) {
                        continue;
                    }
                    let at = format_timestamp(&frame.at);
                    let outside = page.from.as_deref().is_some_and(|from| at.as_str() < from)
                        || page.to.as_deref().is_some_and(|to| at.as_str() >= to);
                    if outside {
                        continue;
                    }
                    if found.len() == want {
                        break;
                    }
                    found.push(MessageView {
                        id,
                        direction: frame.direction.as_str().to_string(),
                        at,
                        frame: frame.frame.to_string(),
                    });
                }
                below = Some(block);
            }
            if rows.len() < BLOCKS_PER_READ as usize {
                break;
            }
        }
        Ok(Page::of(found, page.len(), |m: &MessageView| m.id))
    }

    /// A station's events, newest first (by id), optionally of one kind (the OCPP action name);
    /// `from`/`to` on their time.
    pub async fn station_events(
        &self,
        station_id: &str,
        kind: Option<&str>,
        page: &PageRequest<i64>,
    ) -> Result<Page<StationEventView, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, status, request_id, evse_id, detail, at FROM station_events WHERE station_id = $1 \
             AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR id < $3) AND ($4 IS NULL OR at >= $4) \
             AND ($5 IS NULL OR at < $5) ORDER BY id DESC LIMIT $6",
        )
        .bind(station_id)
        .bind(kind)
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let view = |r: &AnyRow| -> Result<StationEventView, sqlx::Error> {
            Ok(StationEventView {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                request_id: r.try_get("request_id")?,
                evse_id: r.try_get("evse_id")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
            })
        };
        let items = rows.iter().map(view).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |e: &StationEventView| e.id))
    }

    /// A station's device model as assembled from its NotifyReports, ordered by component and
    /// variable.
    pub async fn device_model(&self, station_id: &str) -> Result<Vec<DeviceModelView>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM device_model WHERE station_id = $1 ORDER BY component, component_instance, evse_id, connector_id, \
             variable, variable_instance, attribute_type",
        )
        .bind(station_id)
        .fetch_all(self.pool())
        .await?;
        // '' and -1 stand for "absent" in the key columns (see ops.rs).
        let text = |v: String| (!v.is_empty()).then_some(v);
        let number = |v: i64| (v >= 0).then_some(v);
        let flag = |v: Option<i64>| v.map(|v| v != 0);
        let view = |r: &AnyRow| -> Result<DeviceModelView, sqlx::Error> {
            Ok(DeviceModelView {
                component: r.try_get("component")?,
                component_instance: text(r.try_get("component_instance")?),
                evse_id: number(r.try_get("evse_id")?),
                connector_id: number(r.try_get("connector_id")?),
                variable: r.try_get("variable")?,
                variable_instance: text(r.try_get("variable_instance")?),
                attribute_type: r.try_get("attribute_type")?,
                value: r.try_get("value")?,
                mutability: r.try_get("mutability")?,
                persistent: flag(r.try_get("persistent")?),
                constant: flag(r.try_get("constant")?),
                data_type: r.try_get("data_type")?,
                unit: r.try_get("unit")?,
                min_limit: r.try_get("min_limit")?,
                max_limit: r.try_get("max_limit")?,
                values_list: r.try_get("values_list")?,
                supports_monitoring: flag(r.try_get("supports_monitoring")?),
                updated_at: r.try_get("updated_at")?,
            })
        };
        Ok(rows.iter().map(view).collect::<Result<_, _>>()?)
    }

    /// A station's commands, newest first (by id); `from`/`to` on when they were sent.
    pub async fn commands(
        &self,
        station_id: &str,
        page: &PageRequest<i64>,
    ) -> Result<Page<CommandView, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM commands WHERE station_id = $1 AND ($2 IS NULL OR id < $2) \
             AND ($3 IS NULL OR requested_at >= $3) AND ($4 IS NULL OR requested_at < $4) ORDER BY id DESC LIMIT $5",
        )
        .bind(station_id)
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let view = |r: &AnyRow| -> Result<CommandView, sqlx::Error> {
            Ok(CommandView {
                id: r.try_get("id")?,
                station_id: r.try_get("station_id")?,
                action: r.try_get("action")?,
                request: r.try_get("request")?,
                status: r.try_get("status")?,
                response: r.try_get("response")?,
                error_code: r.try_get("error_code")?,
                error_description: r.try_get("error_description")?,
                requested_at: r.try_get("requested_at")?,
                finished_at: r.try_get("finished_at")?,
            })
        };
        let items = rows.iter().map(view).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |c: &CommandView| c.id))
    }

    /// The role of the API token whose secret hashes to `token_hash`, if there is one.
    pub async fn api_token_role(&self, token_hash: &str) -> Result<Option<csms_core::access::Role>, StoreError> {
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        role.map(|r| {
            csms_core::access::Role::parse(&r).ok_or_else(|| StoreError::Corrupt(format!("API token role {r:?}")))
        })
        .transpose()
    }

    pub async fn configuration(&self, station_id: &str) -> Result<Vec<ConfigurationView>, StoreError> {
        let rows = sqlx::query("SELECT * FROM station_configuration WHERE station_id = $1 ORDER BY key")
            .bind(station_id)
            .fetch_all(self.pool())
            .await?;
        let view = |r: &AnyRow| -> Result<ConfigurationView, sqlx::Error> {
            Ok(ConfigurationView {
                key: r.try_get("key")?,
                value: r.try_get("value")?,
                readonly: r.try_get::<i64, _>("readonly")? != 0,
                updated_at: r.try_get("updated_at")?,
            })
        };
        Ok(rows.iter().map(view).collect::<Result<_, _>>()?)
    }

    /// A station's reservations, newest first, as of `now`.
    pub async fn reservations(&self, station_id: &str, now: &str) -> Result<Vec<ReservationView>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM reservations WHERE station_id = $1 ORDER BY created_at DESC, reservation_id DESC",
        )
        .bind(station_id)
        .fetch_all(self.pool())
        .await?;
        let number = |v: i64| (v >= 0).then_some(v);
        let view = |r: &AnyRow| -> Result<ReservationView, sqlx::Error> {
            let expiry: String = r.try_get("expiry")?;
            let mut status: String = r.try_get("status")?;
            if status == "Active" && expiry.as_str() <= now {
                status = "Expired".into();
            }
            Ok(ReservationView {
                reservation_id: r.try_get("reservation_id")?,
                evse_id: number(r.try_get("evse_id")?),
                connector_id: number(r.try_get("connector_id")?),
                id_token: r.try_get("id_token")?,
                group_id_token: r.try_get("group_id_token")?,
                expiry,
                status,
                transaction_id: r.try_get("transaction_id")?,
                updated_at: r.try_get("updated_at")?,
            })
        };
        Ok(rows.iter().map(view).collect::<Result<_, _>>()?)
    }

    /// A station's installed charging profiles by EVSE, purpose and stack level.
    pub async fn charging_profiles(&self, station_id: &str) -> Result<Vec<ChargingProfileView>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM charging_profiles WHERE station_id = $1 ORDER BY evse_id, purpose, stack_level DESC, profile_id",
        )
        .bind(station_id)
        .fetch_all(self.pool())
        .await?;
        let view = |r: &AnyRow| -> Result<ChargingProfileView, sqlx::Error> {
            Ok(ChargingProfileView {
                profile_id: r.try_get("profile_id")?,
                evse_id: r.try_get("evse_id")?,
                stack_level: r.try_get("stack_level")?,
                purpose: r.try_get("purpose")?,
                transaction_id: r.try_get("transaction_id")?,
                profile: r.try_get("profile")?,
                updated_at: r.try_get("updated_at")?,
            })
        };
        Ok(rows.iter().map(view).collect::<Result<_, _>>()?)
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

    /// Faults not yet cleared, for `/metrics`.
    pub async fn open_fault_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM faults WHERE cleared_at IS NULL")
            .fetch_one(self.pool())
            .await?)
    }

    pub async fn id_token(&self, id_token: &str) -> Result<Option<IdTokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id_token, status, expiry, parent_id_token, token_type FROM id_tokens WHERE id_token = $1",
        )
        .bind(id_token)
        .fetch_optional(self.pool())
        .await?;
        row.map(crate::db::Row::Any).as_ref().map(token_from_row).transpose()
    }

    /// The local list a station holds, as far as Ström knows: its version and entries.
    pub async fn local_list(&self, station_id: &str) -> Result<(i64, Vec<IdTokenRecord>), StoreError> {
        let version: Option<i64> = sqlx::query_scalar("SELECT version FROM local_list_versions WHERE station_id = $1")
            .bind(station_id)
            .fetch_optional(self.pool())
            .await?;
        let rows = sqlx::query(
            "SELECT id_token, status, expiry, parent_id_token, token_type FROM local_list_entries WHERE station_id = $1 \
             ORDER BY id_token",
        )
        .bind(station_id)
        .fetch_all(self.pool())
        .await?;
        Ok((
            version.unwrap_or(0),
            rows.into_iter().map(crate::db::Row::Any).map(|r| token_from_row(&r)).collect::<Result<_, _>>()?,
        ))
    }

    /// The local-list version the station last stated itself: (version, how, when).
    pub async fn local_list_report(&self, station_id: &str) -> Result<Option<(i64, String, String)>, StoreError> {
        let row = sqlx::query("SELECT version, source, reported_at FROM local_list_reports WHERE station_id = $1")
            .bind(station_id)
            .fetch_optional(self.pool())
            .await?;
        let read = |r: &AnyRow| -> Result<(i64, String, String), sqlx::Error> {
            Ok((r.try_get("version")?, r.try_get("source")?, r.try_get("reported_at")?))
        };
        Ok(row.as_ref().map(read).transpose()?)
    }

    /// A station's firmware updates and uploads, newest first (by id); `from`/`to` on when they
    /// were requested.
    pub async fn transfers(
        &self,
        station_id: &str,
        page: &PageRequest<i64>,
    ) -> Result<Page<TransferView, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM transfers WHERE station_id = $1 AND ($2 IS NULL OR id < $2) \
             AND ($3 IS NULL OR requested_at >= $3) AND ($4 IS NULL OR requested_at < $4) ORDER BY id DESC LIMIT $5",
        )
        .bind(station_id)
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let view = |r: &AnyRow| -> Result<TransferView, sqlx::Error> {
            Ok(TransferView {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                request_id: r.try_get("request_id")?,
                location: r.try_get("location")?,
                file_name: r.try_get("file_name")?,
                status: r.try_get("status")?,
                requested_at: r.try_get("requested_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        };
        let items = rows.iter().map(view).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |t: &TransferView| t.id))
    }

    /// Every id token, ordered by the token: what a station's full local list holds.
    pub async fn all_id_tokens(&self) -> Result<Vec<IdTokenRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id_token, status, expiry, parent_id_token, token_type FROM id_tokens ORDER BY id_token",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(crate::db::Row::Any).map(|r| token_from_row(&r)).collect()
    }

    /// Id tokens ordered by the token; `from`/`to` on when they were created.
    pub async fn id_tokens(&self, page: &PageRequest<String>) -> Result<Page<IdTokenRecord, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id_token, status, expiry, parent_id_token, token_type FROM id_tokens WHERE ($1 IS NULL OR id_token > $1) \
             AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at < $3) ORDER BY id_token LIMIT $4",
        )
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let items = rows.into_iter().map(crate::db::Row::Any).map(|r| token_from_row(&r)).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |t: &IdTokenRecord| t.id_token.clone()))
    }

    /// The variable monitors a 2.0.1 station reported, by monitor id; `from`/`to` on when they
    /// were last reported.
    pub async fn monitors(
        &self,
        station_id: &str,
        page: &PageRequest<i64>,
    ) -> Result<Page<MonitorView, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM monitors WHERE station_id = $1 AND ($2 IS NULL OR monitor_id > $2) \
             AND ($3 IS NULL OR updated_at >= $3) AND ($4 IS NULL OR updated_at < $4) ORDER BY monitor_id LIMIT $5",
        )
        .bind(station_id)
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        // '' and -1 stand for "absent" in the key columns (see ops.rs).
        let text = |v: String| (!v.is_empty()).then_some(v);
        let number = |v: i64| (v >= 0).then_some(v);
        let view = |r: &AnyRow| -> Result<MonitorView, sqlx::Error> {
            Ok(MonitorView {
                monitor_id: r.try_get("monitor_id")?,
                component: r.try_get("component")?,
                component_instance: text(r.try_get("component_instance")?),
                evse_id: number(r.try_get("evse_id")?),
                connector_id: number(r.try_get("connector_id")?),
                variable: r.try_get("variable")?,
                variable_instance: text(r.try_get("variable_instance")?),
                kind: r.try_get("kind")?,
                value: r.try_get("value")?,
                severity: r.try_get("severity")?,
                transaction_only: r.try_get::<i64, _>("transaction_only")? != 0,
                updated_at: r.try_get("updated_at")?,
            })
        };
        let items = rows.iter().map(view).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |m: &MonitorView| m.monitor_id))
    }
}
