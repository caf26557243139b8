//! Id tokens and their use: Authorize, the tokens an operator keeps (id tokens, API tokens), and
//! where else a token has a transaction (ConcurrentTx).

use super::parse_stored_time;
use crate::db::{query, query_scalar, Conn, Row};
use crate::StoreError;
use csms_core::authorization::{self, AuthDecision, IdTokenRecord, OtherTransaction, Purpose, TokenStatus, TokenType};
use csms_core::clock::format_timestamp;
use csms_core::ops::*;
use csms_core::station::StationId;
use csms_core::Timestamp;

pub(super) async fn authorize(conn: &mut Conn, op: &Authorize) -> Result<AuthDecision, StoreError> {
    let Authorize { station, id_token, token_type, now } = op;
    let record = load_token(conn, id_token).await?;
    // Which transaction the token already has matters only for a token that is this one.
    let other = match &record {
        Some(r) if r.identifies(*token_type) => other_transaction(conn, r, station, None, Purpose::Authorize).await?,
        _ => OtherTransaction::None,
    };
    let busy = authorization::concurrency_applies(Purpose::Authorize, other);
    Ok(authorization::decide(record.as_ref(), *token_type, *now, busy))
}

pub(super) async fn create_api_token(conn: &mut Conn, op: &CreateApiToken) -> Result<i64, StoreError> {
    let CreateApiToken { token_hash, role, name, now, expires_at } = op;
    let id: i64 = query_scalar(
        "INSERT INTO api_tokens (token_hash, role, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id",
    )
    .bind(token_hash)
    .bind(role.as_str())
    .bind(name.as_deref())
    .bind(format_timestamp(now))
    .bind(expires_at.as_ref().map(format_timestamp))
    .fetch_one(conn)
    .await?;
    Ok(id)
}

pub(super) async fn revoke_api_token(conn: &mut Conn, op: &RevokeApiToken) -> Result<bool, StoreError> {
    let RevokeApiToken { id, now } = op;
    let result = query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
        .bind(*id)
        .bind(format_timestamp(now))
        .execute(conn)
        .await?;
    Ok(result.rows_affected() > 0)
}

pub(super) async fn upsert_id_token(conn: &mut Conn, op: &UpsertIdToken) -> Result<(), StoreError> {
    let UpsertIdToken { record, now } = op;
    query(
        "INSERT INTO id_tokens (id_token, status, expiry, parent_id_token, token_type, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $6, $5, $5) \
         ON CONFLICT (id_token) DO UPDATE SET status = excluded.status, expiry = excluded.expiry, \
         parent_id_token = excluded.parent_id_token, token_type = excluded.token_type, updated_at = excluded.updated_at",
    )
    .bind_token(record, now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn create_id_token(conn: &mut Conn, op: &CreateIdToken) -> Result<bool, StoreError> {
    let CreateIdToken { record, now } = op;
    let result = query(
        "INSERT INTO id_tokens (id_token, status, expiry, parent_id_token, token_type, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $6, $5, $5) ON CONFLICT (id_token) DO NOTHING",
    )
    .bind_token(record, now)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 0)
}

pub(super) async fn delete_id_token(conn: &mut Conn, op: &DeleteIdToken) -> Result<bool, StoreError> {
    let DeleteIdToken { id_token } = op;
    let result = query("DELETE FROM id_tokens WHERE id_token = $1").bind(id_token).execute(conn).await?;
    Ok(result.rows_affected() > 0)
}

/// Where else the token `record` has an active transaction than the transaction `except` (a row
/// id), as far as `purpose` asks (`authorization::concurrency_applies`): for an Authorize, at
/// another station or not; otherwise anywhere. A transaction is the token's when it was started
/// with its value and, for a typed token, with its type or none (1.6). One indexed lookup that
/// stops at the first match (`transactions_active`), whatever the token's history.
pub(super) async fn other_transaction(
    conn: &mut Conn,
    record: &IdTokenRecord,
    station: &StationId,
    except: Option<i64>,
    purpose: Purpose,
) -> Result<OtherTransaction, StoreError> {
    let other_station_only = i64::from(purpose == Purpose::Authorize);
    let elsewhere: Option<String> = query_scalar(
        "SELECT station_id FROM transactions WHERE id_token = $1 AND stopped_at IS NULL AND started_at IS NOT NULL \
         AND ($2 IS NULL OR id <> $2) AND ($4 IS NULL OR id_token_type IS NULL OR id_token_type = $4) \
         AND ($5 = 0 OR station_id <> $3) LIMIT 1",
    )
    .bind(&record.id_token)
    .bind(except)
    .bind(station.as_str())
    .bind(record.token_type.map(TokenType::as_str))
    .bind(other_station_only)
    .fetch_optional(conn)
    .await?;
    Ok(match elsewhere {
        None => OtherTransaction::None,
        Some(s) if s == station.as_str() => OtherTransaction::SameStation,
        Some(_) => OtherTransaction::OtherStation,
    })
}

pub(crate) async fn load_token(conn: &mut Conn, id_token: &str) -> Result<Option<IdTokenRecord>, StoreError> {
    let row = query("SELECT id_token, status, expiry, parent_id_token, token_type FROM id_tokens WHERE id_token = $1")
        .bind(id_token)
        .fetch_optional(conn)
        .await?;
    row.map(|row| token_from_row(&row)).transpose()
}

/// An id token from a row of `id_tokens` or `local_list_entries` (`id_token`, `status`,
/// `expiry`, `parent_id_token`, `token_type`).
pub(crate) fn token_from_row(row: &Row) -> Result<IdTokenRecord, StoreError> {
    let status: String = row.try_get("status")?;
    let expiry: Option<String> = row.try_get("expiry")?;
    let token_type: Option<String> = row.try_get("token_type")?;
    Ok(IdTokenRecord {
        id_token: row.try_get("id_token")?,
        token_type: token_type
            .map(|t| TokenType::parse(&t).ok_or_else(|| StoreError::Corrupt(format!("token type {t:?}"))))
            .transpose()?,
        status: TokenStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("token status {status:?}")))?,
        expiry: expiry.as_deref().map(parse_stored_time).transpose()?,
        parent_id_token: row.try_get("parent_id_token")?,
    })
}

/// Binds an id token's columns in the order both of its inserts name them: `$1` token, `$2`
/// status, `$3` expiry, `$4` group, `$5` the time, `$6` type.
trait BindToken<'q> {
    fn bind_token(self, record: &'q IdTokenRecord, now: &Timestamp) -> Self;
}

impl<'q> BindToken<'q> for crate::db::Query<'q> {
    fn bind_token(self, record: &'q IdTokenRecord, now: &Timestamp) -> Self {
        self.bind(&record.id_token)
            .bind(record.status.as_str())
            .bind(record.expiry.as_ref().map(format_timestamp))
            .bind(record.parent_id_token.as_deref())
            .bind(format_timestamp(now))
            .bind(record.token_type.map(TokenType::as_str))
    }
}
