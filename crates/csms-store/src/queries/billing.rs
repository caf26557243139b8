//! Reads of tariffs (current ones, whole: a network has a handful) and of charge detail records
//! (paged, by station, token, transaction and end time).

use super::paging::{BindPage, Page, PageRequest};
use crate::{Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A tariff as saved: its body is the JSON the API was given.
#[derive(Debug, Clone, PartialEq)]
pub struct TariffView {
    pub id: String,
    pub version: i64,
    pub body: String,
    pub updated_at: String,
}

/// A charge detail record: its body is the JSON written when it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct CdrView {
    pub id: i64,
    pub created_at: String,
    pub body: String,
}

/// Which records to list; `from`/`to` of the page are on the session's end.
#[derive(Debug, Clone, Copy, Default)]
pub struct CdrFilter<'a> {
    pub station_id: Option<&'a str>,
    pub id_token: Option<&'a str>,
    pub transaction_id: Option<i64>,
}

fn tariff_from_row(r: &AnyRow) -> Result<TariffView, sqlx::Error> {
    Ok(TariffView {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        body: r.try_get("body")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn cdr_from_row(r: &AnyRow) -> Result<CdrView, sqlx::Error> {
    Ok(CdrView { id: r.try_get("id")?, created_at: r.try_get("created_at")?, body: r.try_get("body")? })
}

/// A station's registered meter key.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterKeyView {
    pub station_id: String,
    pub public_key: String,
    pub meter_serial: Option<String>,
    pub updated_at: String,
}

impl Store {
    pub async fn meter_key(&self, station: &str) -> Result<Option<MeterKeyView>, StoreError> {
        let row = sqlx::query(
            "SELECT station_id, public_key, meter_serial, updated_at FROM meter_keys WHERE station_id = $1",
        )
        .bind(station)
        .fetch_optional(self.pool())
        .await?;
        let view = |r: &AnyRow| -> Result<MeterKeyView, sqlx::Error> {
            Ok(MeterKeyView {
                station_id: r.try_get("station_id")?,
                public_key: r.try_get("public_key")?,
                meter_serial: r.try_get("meter_serial")?,
                updated_at: r.try_get("updated_at")?,
            })
        };
        Ok(row.as_ref().map(view).transpose()?)
    }

    /// The time zone a station's tariffs are read in (`None` inside: the server's); `None`: no
    /// such station.
    pub async fn station_time_zone(&self, station: &str) -> Result<Option<Option<String>>, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<String>>("SELECT time_zone FROM stations WHERE id = $1")
            .bind(station)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The tariffs in force (not withdrawn), by id.
    pub async fn tariffs(&self) -> Result<Vec<TariffView>, StoreError> {
        let rows = sqlx::query(crate::billing::TARIFFS_IN_FORCE).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(tariff_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn tariff(&self, id: &str) -> Result<Option<TariffView>, StoreError> {
        let row = sqlx::query("SELECT id, version, body, updated_at FROM tariffs WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(tariff_from_row).transpose()?)
    }

    /// Records in the order they were written (by id), as `filter` says.
    pub async fn cdrs(
        &self,
        filter: &CdrFilter<'_>,
        page: &PageRequest<i64>,
    ) -> Result<Page<CdrView, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, body FROM cdrs WHERE ($1 IS NULL OR station_id = $1) AND ($2 IS NULL OR id_token = $2) \
             AND ($3 IS NULL OR transaction_id = $3) AND ($4 IS NULL OR id > $4) AND ($5 IS NULL OR end_date_time >= $5) \
             AND ($6 IS NULL OR end_date_time < $6) ORDER BY id LIMIT $7",
        )
        .bind(filter.station_id)
        .bind(filter.id_token)
        .bind(filter.transaction_id)
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(cdr_from_row).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |c: &CdrView| c.id))
    }

    pub async fn cdr(&self, id: i64) -> Result<Option<CdrView>, StoreError> {
        let row = sqlx::query("SELECT id, created_at, body FROM cdrs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(cdr_from_row).transpose()?)
    }
}
