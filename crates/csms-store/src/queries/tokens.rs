//! Reads of id tokens and the local lists stations hold, and of the API's own tokens.

use super::paging::{BindPage, Page, PageRequest};
use crate::writes::parse_stored_time;
use crate::writes::token_from_row;
use crate::{Store, StoreError};
use csms_core::access::{self, ApiToken, Role, TokenStanding};
use csms_core::authorization::IdTokenRecord;
use csms_core::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

/// What `api_token_from_row` reads: everything but the hash.
const API_TOKEN_COLUMNS: &str = "id, role, name, created_at, expires_at, revoked_at";

fn api_token_from_row(r: &AnyRow) -> Result<ApiToken, StoreError> {
    let role: String = r.try_get("role")?;
    let time = |name: &str| -> Result<Option<Timestamp>, StoreError> {
        let text: Option<String> = r.try_get(name)?;
        text.as_deref().map(parse_stored_time).transpose()
    };
    let created_at: String = r.try_get("created_at")?;
    Ok(ApiToken {
        id: r.try_get("id")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("API token role {role:?}")))?,
        name: r.try_get("name")?,
        created_at: parse_stored_time(&created_at)?,
        expires_at: time("expires_at")?,
        revoked_at: time("revoked_at")?,
    })
}

impl Store {
    /// Whether the API token whose secret hashes to `token_hash` may be used at `now`, and with
    /// which role (`access::standing` decides); `None` for a token Ström never made.
    pub async fn api_token_standing(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<TokenStanding>, StoreError> {
        let token = self.api_token_by_hash(token_hash).await?;
        Ok(token.map(|token| access::standing(token.role, token.expires_at, token.revoked_at, now)))
    }

    /// The API token whose secret hashes to `token_hash` (never the hash itself), usable or not;
    /// `None` for a token Ström never made.
    pub async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(&format!("SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(api_token_from_row).transpose()
    }

    /// The API tokens, by id (oldest first), revoked and expired ones included; `from`/`to` on
    /// when they were created. Neither secrets nor their hashes are read.
    pub async fn api_tokens(&self, page: &PageRequest<i64>) -> Result<Page<ApiToken, i64>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE ($1 IS NULL OR id > $1) \
             AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at < $3) ORDER BY id LIMIT $4"
        ))
        .bind_page(page)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(api_token_from_row).collect::<Result<_, _>>()?;
        Ok(Page::of(items, page.len(), |t: &ApiToken| t.id))
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
}
