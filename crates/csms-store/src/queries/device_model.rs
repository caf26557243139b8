//! Reads of what stations report about their own settings: 1.6 configuration keys, the 2.0.1
//! device model and its variable monitors.

use super::paging::{BindPage, Page, PageRequest};
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

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

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigurationView {
    pub key: String,
    pub value: Option<String>,
    pub readonly: bool,
    pub updated_at: String,
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

impl Store {
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
        // '' and -1 stand for "absent" in the key columns (`writes::key_number`, `writes::key_text`).
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
        // '' and -1 stand for "absent" in the key columns (`writes::key_number`, `writes::key_text`).
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
