//! The writes a station's messages and the operator cause, each applied inside the writer's
//! transaction, one file per functional block. Decisions come from `csms-core`'s rules; these
//! files only gather their inputs and record their results.

mod alerts;
mod authorization;
mod cdrs;
mod certificates;
mod commands;
mod device_model;
mod events;
mod faults;
mod message_log;
mod readings;
mod reservations;
mod stations;
mod tariffs;
mod transaction_events;
mod transactions;
mod webhooks;

pub(crate) use authorization::token_from_row;
pub(crate) use cdrs::Settling;
pub use events::StoredEvent;
pub(crate) use events::{next_event_id, Events};
pub(crate) use message_log::{cap_log, count_log, log_blocks, prune_log, Maintenance};
pub(crate) use transactions::stored_flags;

use crate::db::Conn;
use crate::StoreError;
use csms_core::clock::parse_timestamp;
use csms_core::fault_kinds::VendorCategories;
use csms_core::port::Request;
use csms_core::Timestamp;
use std::collections::HashMap;

/// The transaction row each station's transaction id names (the newest row with that id), as
/// the writer last inserted or found it. A 1.6 MeterValues carries the id, and looking the row
/// up was a query per message (9,000 instructions on SQLite, a round trip on PostgreSQL). Every
/// insert into `transactions` notes its row here, so an entry is never older than the table; a
/// failed write clears it all (`Writer::recover`: rows noted inside it may have been rolled
/// back, and SQLite hands their ids out again). A stopped transaction's entry is dropped, and
/// the whole map past `KNOWN_TX_MAX` entries.
#[derive(Debug, Default)]
pub(crate) struct KnownTxRows {
    by_station: HashMap<Box<str>, HashMap<Box<str>, i64>>,
    len: usize,
}

const KNOWN_TX_MAX: usize = 65_536;

impl KnownTxRows {
    pub(super) fn get(&self, station: &str, station_tx_id: &str) -> Option<i64> {
        self.by_station.get(station)?.get(station_tx_id).copied()
    }

    pub(super) fn note(&mut self, station: &str, station_tx_id: &str, id: i64) {
        if self.len >= KNOWN_TX_MAX {
            self.clear();
        }
        let ids = self.by_station.entry(station.into()).or_default();
        if ids.insert(station_tx_id.into(), id).is_none() {
            self.len += 1;
        }
    }

    /// Forgets a station's rows: its protocol version changed, and ids of one version never
    /// name transactions of the other.
    pub(super) fn forget_station(&mut self, station: &str) {
        if let Some(ids) = self.by_station.remove(station) {
            self.len -= ids.len();
        }
    }

    pub(super) fn forget(&mut self, station: &str, station_tx_id: &str) {
        if let Some(ids) = self.by_station.get_mut(station) {
            if ids.remove(station_tx_id).is_some() {
                self.len -= 1;
            }
            if ids.is_empty() {
                self.by_station.remove(station);
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.by_station.clear();
        self.len = 0;
    }
}

/// Runs one operation inside the writer's transaction and leaves its result in the request's
/// slot (`Pending`), to be answered once the transaction is durable.
pub(crate) async fn run(
    conn: &mut Conn,
    known: &mut KnownTxRows,
    vendor: &VendorCategories,
    ev: &mut Events,
    settling: &mut Settling,
    request: &mut Request,
) -> Result<(), StoreError> {
    match request {
        Request::Boot(op, pending) => pending.set(Ok(stations::boot(conn, known, ev, op).await?)),
        Request::Authorize(op, pending) => pending.set(Ok(authorization::authorize(conn, op).await?)),
        Request::StartTransaction(op, pending) => {
            pending.set(Ok(transactions::start_transaction(conn, known, ev, settling, op).await?))
        }
        Request::StopTransaction(op, pending) => {
            pending.set(Ok(transactions::stop_transaction(conn, known, ev, settling, op).await?))
        }
        Request::MeterValues(op, pending) => pending.set(Ok(readings::meter_values(conn, known, ev, op).await?)),
        Request::TransactionEvent(op, pending) => {
            pending.set(Ok(transaction_events::transaction_event(conn, known, ev, settling, op).await?))
        }
        Request::NotifyEvent(op, pending) => {
            for event in &op.events {
                faults::device_event(conn, vendor, ev, &op.station, event).await?;
            }
            pending.set(Ok(()))
        }
        Request::ReportPart(op, pending) => pending.set(Ok(device_model::report_part(conn, op).await?)),
        Request::MonitoringReport(op, pending) => {
            for m in &op.monitors {
                device_model::monitor(conn, &op.station, m, &op.now).await?;
            }
            pending.set(Ok(()))
        }
        Request::StatusNotification(op, pending) => {
            pending.set(Ok(faults::status_notification(conn, vendor, ev, op).await?))
        }
        Request::SetRegistration(op, pending) => pending.set(Ok(stations::set_registration(conn, op).await?)),
        Request::SetSecurity(op, pending) => pending.set(Ok(stations::set_security(conn, op).await?)),
        Request::Decommission(op, pending) => pending.set(Ok(stations::decommission(conn, op).await?)),
        Request::RaiseSecurityProfile(op, pending) => {
            pending.set(Ok(stations::raise_security_profile(conn, op).await?))
        }
        Request::CommandStarted(op, pending) => pending.set(Ok(commands::command_started(conn, ev, op).await?)),
        Request::CommandFinished(op, pending) => pending.set(Ok(commands::command_finished(conn, ev, op).await?)),
        Request::Changes(op, pending) => {
            for change in &op.0 {
                device_model::change(conn, change).await?;
            }
            pending.set(Ok(()))
        }
        Request::CreateApiToken(op, pending) => pending.set(Ok(authorization::create_api_token(conn, op).await?)),
        Request::RevokeApiToken(op, pending) => pending.set(Ok(authorization::revoke_api_token(conn, op).await?)),
        Request::StationEvent(op, pending) => pending.set(Ok(stations::station_event(conn, ev, op).await?)),
        Request::IssueCertificate(op, pending) => pending.set(Ok(certificates::issue(conn, op).await?)),
        Request::Seen(op, pending) => pending.set(Ok(stations::seen(conn, ev, op).await?)),
        Request::Connectivity(op, pending) => pending.set(Ok(faults::connectivity(conn, ev, op).await?)),
        Request::UpsertIdToken(op, pending) => pending.set(Ok(authorization::upsert_id_token(conn, op).await?)),
        Request::CreateIdToken(op, pending) => pending.set(Ok(authorization::create_id_token(conn, op).await?)),
        Request::DeleteIdToken(op, pending) => pending.set(Ok(authorization::delete_id_token(conn, op).await?)),
        Request::CreateWebhook(op, pending) => pending.set(Ok(webhooks::create(conn, op).await?)),
        Request::DeleteWebhook(op, pending) => pending.set(Ok(webhooks::delete(conn, op).await?)),
        Request::WebhookAttempt(op, pending) => pending.set(Ok(webhooks::attempt(conn, op).await?)),
        Request::CreateAlertRule(op, pending) => pending.set(Ok(alerts::create_rule(conn, op).await?)),
        Request::DeleteAlertRule(op, pending) => pending.set(Ok(alerts::delete_rule(conn, ev, op).await?)),
        Request::AlertChanges(op, pending) => pending.set(Ok(alerts::changes(conn, ev, op).await?)),
        Request::PutTariff(op, pending) => pending.set(Ok(tariffs::put(conn, settling, op).await?)),
        Request::DeleteTariff(op, pending) => pending.set(Ok(tariffs::delete(conn, settling, op).await?)),
        Request::SetMeterKey(op, pending) => pending.set(Ok(tariffs::set_meter_key(conn, op).await?)),
        Request::SetStationTimeZone(op, pending) => pending.set(Ok(stations::set_time_zone(conn, op).await?)),
        Request::RecordCdr(op, pending) => pending.set(Ok(cdrs::record(conn, ev, op).await?)),
    }
    Ok(())
}

pub(crate) fn parse_stored_time(text: &str) -> Result<Timestamp, StoreError> {
    parse_timestamp(text).ok_or_else(|| StoreError::Corrupt(format!("timestamp {text:?}")))
}

/// Key columns of the device model use '' and -1 for "absent", so that they can be compared
/// with `=` in both dialects (NULLs never compare equal).
pub(super) fn key_text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

pub(super) fn key_number(v: Option<i64>) -> i64 {
    v.unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_transaction_rows_are_noted_forgotten_and_bounded() {
        let mut known = KnownTxRows::default();
        known.note("CP1", "7", 7);
        known.note("CP1", "7", 9);
        known.note("CP2", "7", 8);
        assert_eq!((known.get("CP1", "7"), known.get("CP2", "7"), known.get("CP1", "8")), (Some(9), Some(8), None));
        known.forget("CP1", "7");
        assert_eq!((known.get("CP1", "7"), known.len, known.by_station.len()), (None, 1, 1));
        for n in 1..KNOWN_TX_MAX {
            known.note("CP3", &n.to_string(), n as i64);
        }
        assert_eq!(known.len, KNOWN_TX_MAX);
        known.note("CP4", "1", 1);
        assert_eq!((known.len, known.get("CP2", "7"), known.get("CP4", "1")), (1, None, Some(1)));
    }
}
