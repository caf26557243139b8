//! Transactions as an operator reads them: the stored row with the figures Ström derives from
//! its readings when read (energy so far, power now, duration, charging and idle time) and the
//! flag of a session that charged although its start was refused; and the check that keeps a
//! remote start from being sent for a token Ström would refuse.

use crate::{views, Api, ApiError};
use axum::http::StatusCode;
use csms_core::authorization::{self, AuthStatus, RemoteStartRefusal};
use csms_core::clock::parse_timestamp;
use csms_core::sessions::{self, Figures, Session};
use csms_core::transactions::TransactionFlag;
use csms_store::TransactionView;
use serde_json::Value;

/// The API's views of `transactions`, with their figures at the API clock's now.
pub(crate) async fn described(api: &Api, transactions: &[TransactionView]) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<i64> = transactions.iter().map(|t| t.id).collect();
    let samples = api.store.session_samples(&ids).await?;
    let now = api.clock.now();
    Ok(transactions
        .iter()
        .map(|t| {
            let session = Session {
                started_at: t.started_at.as_deref().and_then(parse_timestamp),
                stopped_at: t.stopped_at.as_deref().and_then(parse_timestamp),
                meter_start_wh: t.meter_start_wh,
                meter_stop_wh: t.meter_stop_wh,
                energy_wh: t.energy_wh,
            };
            let figures: Figures = sessions::figures(&session, samples.get(&t.id).map_or(&[], Vec::as_slice), now);
            let start = t.start_auth_status.as_deref().and_then(AuthStatus::parse);
            let unauthorized = sessions::charged_while_unauthorized(start, figures.energy_so_far_wh)
                .then_some(TransactionFlag::ChargedWhileUnauthorized.as_str());
            views::transaction(t, &figures, unauthorized)
        })
        .collect())
}

/// Refuses a remote start for a token the station would be told is refused: unknown to Ström
/// (422: the request names a token that does not exist) or Blocked, Expired, Invalid, … (409:
/// the token's state forbids it). `force` sends it all the same, for a station that decides
/// by its own list.
pub(crate) async fn check_remote_start(api: &Api, id_token: &str, force: bool) -> Result<(), ApiError> {
    if force {
        return Ok(());
    }
    let record = api.store.id_token(id_token).await?;
    match authorization::remote_start_refusal(record.as_ref(), api.clock.now()) {
        None => Ok(()),
        Some(RemoteStartRefusal::Unknown) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "id token {id_token:?} is unknown to Ström, so the station would be told it is Invalid; \
                 add it first (POST /api/v1/id-tokens, `strom tag add`) or send with \"force\": true"
            ),
        )),
        Some(RemoteStartRefusal::Refused(status)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "id token {id_token:?} is {}, so the station would be told so when it starts; \
                 change the token or send with \"force\": true",
                status.as_str()
            ),
        )),
    }
}
