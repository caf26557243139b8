//! Reads of what operators asked of stations: the commands sent and how they ended, firmware and
//! log transfers, and the reservations and charging profiles stations hold.

use super::paging::{BindPage, Page, PageRequest};
use crate::{Store, StoreError};
use csms_core::clock::parse_timestamp;
use csms_core::reservations::{self, ReservationStatus};
use csms_core::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

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

impl Store {
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

    /// A station's reservations, newest first, as of `now` (`reservations::status_at`).
    pub async fn reservations(&self, station_id: &str, now: Timestamp) -> Result<Vec<ReservationView>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM reservations WHERE station_id = $1 ORDER BY created_at DESC, reservation_id DESC",
        )
        .bind(station_id)
        .fetch_all(self.pool())
        .await?;
        let number = |v: i64| (v >= 0).then_some(v);
        let view = |r: &AnyRow| -> Result<ReservationView, sqlx::Error> {
            let expiry: String = r.try_get("expiry")?;
            let recorded: String = r.try_get("status")?;
            let status = match (ReservationStatus::parse(&recorded), parse_timestamp(&expiry)) {
                (Some(recorded), Some(expiry)) => reservations::status_at(recorded, expiry, now).as_str().to_string(),
                // Not written by Ström: shown as stored.
                _ => recorded,
            };
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
}
