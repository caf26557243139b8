//! The writer's part of the charge detail records. A write that ends a transaction (1.6 stop,
//! 2.0.1 Ended, a superseded close) or ends it again (the station's own stop after Ström's
//! estimate) counts the end (`end_gen`) in its database transaction; once committed, the
//! transaction is handed to the settler (`crate::records`), which prices and renders its record
//! off the writer and has it written here (`record`) if that end is still the latest. A
//! transaction whose latest end has no record yet (`settled_gen < end_gen`) is found again when
//! the store opens, so a stop never goes unrecorded.

use super::Events;
use crate::db::{query, query_scalar, Conn};
use crate::ocpi::number;
use crate::records::{SettlerMsg, TariffWatch};
use crate::StoreError;
use csms_core::events::EventKind;
use csms_core::ops::RecordCdr;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// What the writer's transaction has for the settler: the transactions it ended and whether it
/// changed the tariffs. Sent once committed, dropped if rolled back.
pub(crate) struct Settling {
    ended: Vec<i64>,
    tariffs_changed: bool,
    settler: UnboundedSender<SettlerMsg>,
    /// Counts the commits that changed the tariffs (`records::TariffWatch`).
    tariffs: Arc<TariffWatch>,
}

impl Settling {
    pub(crate) fn new((settler, tariffs): (UnboundedSender<SettlerMsg>, Arc<TariffWatch>)) -> Settling {
        Settling { ended: Vec::new(), tariffs_changed: false, settler, tariffs }
    }

    /// Notes an end of transaction `id` that the write counted (`end_gen = end_gen + 1`).
    pub(super) fn ended(&mut self, id: i64) {
        self.ended.push(id);
    }

    pub(super) fn tariffs_changed(&mut self) {
        self.tariffs_changed = true;
    }

    /// Forgets what a transaction that failed did.
    pub(crate) fn clear(&mut self) {
        self.ended.clear();
        self.tariffs_changed = false;
    }

    /// Hands what the committed transaction did to the settler: the tariff change counted
    /// first, so that the ends are priced with it.
    pub(crate) fn committed(&mut self) {
        if std::mem::take(&mut self.tariffs_changed) {
            self.tariffs.changed();
        }
        if !self.ended.is_empty() {
            // Gone only when the store is closing: the ends are found again at the next start.
            let _ = self.settler.send(SettlerMsg::Ended(std::mem::take(&mut self.ended)));
        }
    }
}

/// Writes a record the settler made, if the transaction's end is still the one it was made
/// from and not settled yet; answers whether that end is now settled (by this write or an
/// earlier one: an end settled twice gets one record).
pub(super) async fn record(conn: &mut Conn, ev: &mut Events, op: &RecordCdr) -> Result<bool, StoreError> {
    let id = op.transaction_id;
    let settled = query("UPDATE transactions SET settled_gen = $2 WHERE id = $1 AND end_gen = $2 AND settled_gen < $2")
        .bind(id)
        .bind(op.end_gen)
        .execute(&mut *conn)
        .await?;
    if settled.rows_affected() == 0 {
        let settled_gen: Option<i64> = query_scalar("SELECT settled_gen FROM transactions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        return Ok(settled_gen.is_some_and(|g| g >= op.end_gen));
    }
    let Some(cdr) = &op.cdr else { return Ok(true) };
    let cdr_id: i64 = query_scalar(
        "INSERT INTO cdrs (transaction_id, station_id, id_token, start_date_time, end_date_time, energy_wh, currency, \
         total_excl_vat, total_incl_vat, tariff_id, tariff_version, corrects, created_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(id)
    .bind(cdr.station_id.as_str())
    .bind(cdr.id_token.as_deref())
    .bind(cdr.start_date_time.as_str())
    .bind(cdr.end_date_time.as_str())
    .bind(cdr.energy_wh.to_string())
    .bind(cdr.currency.as_deref())
    .bind(cdr.total_excl_vat.map(|t| t.to_string()))
    .bind(cdr.total_incl_vat.map(|t| t.to_string()))
    .bind(cdr.tariff_id.as_deref())
    .bind(cdr.tariff_version)
    .bind(cdr.corrects)
    .bind(cdr.created_at.as_str())
    .bind(cdr.body.as_str())
    .fetch_one(&mut *conn)
    .await?;
    ev.push(
        EventKind::CdrCreated,
        &cdr.station_id,
        json!({"cdr_id": cdr_id, "transaction_id": id, "energy_wh": number(cdr.energy_wh),
               "currency": cdr.currency, "total_incl_vat": cdr.total_incl_vat.map(number),
               "corrects": cdr.corrects}),
    );
    Ok(true)
}
