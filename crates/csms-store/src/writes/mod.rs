//! The writes a station's messages and the operator cause, each applied inside the writer's
//! transaction. Decisions come from `csms-core`'s rules; this file only gathers their inputs
//! and records their results.

use crate::db::{query, query_scalar, reading_columns, sample_columns, Conn, MultiRow, Row};
use crate::log_blocks::Block;
use crate::schema::readings_of_samples;
use crate::{terms, StoreError};
use csms_core::authorization::{
    self, AuthDecision, AuthStatus, IdTokenRecord, OtherTransaction, Purpose, TokenStatus, TokenType,
};
use csms_core::clock::{format_timestamp, parse_timestamp};
use csms_core::faults::{self, FaultChange};
use csms_core::metering::{Reading, ENERGY_IMPORT_REGISTER};
use csms_core::notifications::TransferKind;
use csms_core::ops::*;
use csms_core::port::Request;
use csms_core::station::{RegistrationStatus, StationId};
use csms_core::transactions::{self, Flags, TransactionFlag, TxEventType};
use csms_core::Timestamp;
use std::collections::HashMap;
use std::sync::LazyLock;

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
    fn get(&self, station: &str, station_tx_id: &str) -> Option<i64> {
        self.by_station.get(station)?.get(station_tx_id).copied()
    }

    fn note(&mut self, station: &str, station_tx_id: &str, id: i64) {
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
    fn forget_station(&mut self, station: &str) {
        if let Some(ids) = self.by_station.remove(station) {
            self.len -= ids.len();
        }
    }

    fn forget(&mut self, station: &str, station_tx_id: &str) {
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

static INSERT_BLOCKS: LazyLock<MultiRow> =
    LazyLock::new(|| MultiRow::new("message_blocks (station_id, frames, last_at, body)", 0, 4, 64));

/// Stores the message log's blocks (`log_blocks::Packer`): up to 64 blocks a
/// statement on SQLite, one bulk insert on PostgreSQL, where every statement is a round trip.
pub(crate) async fn log_blocks(conn: &mut Conn, blocks: &[Block<'_>]) -> Result<(), StoreError> {
    if let Some(pg) = conn.postgres() {
        return pg.insert_blocks(blocks).await;
    }
    for part in blocks.chunks(INSERT_BLOCKS.max()) {
        let mut insert = query(INSERT_BLOCKS.sql(part.len()));
        for b in part {
            insert = insert.bind(b.station_id).bind(b.frames).bind(format_timestamp(&b.last_at)).bind(&b.body[..]);
        }
        insert.execute(conn).await?;
    }
    Ok(())
}

/// Runs one operation inside the writer's transaction and leaves its result in the request's
/// slot (`Pending`), to be answered once the transaction is durable.
pub(crate) async fn run(conn: &mut Conn, known: &mut KnownTxRows, request: &mut Request) -> Result<(), StoreError> {
    match request {
        Request::Boot(op, pending) => pending.set(Ok(boot(conn, known, op).await?)),
        Request::Authorize(op, pending) => pending.set(Ok(authorize(conn, op).await?)),
        Request::StartTransaction(op, pending) => pending.set(Ok(start_transaction(conn, known, op).await?)),
        Request::StopTransaction(op, pending) => pending.set(Ok(stop_transaction(conn, known, op).await?)),
        Request::MeterValues(op, pending) => pending.set(Ok(meter_values(conn, known, op).await?)),
        Request::TransactionEvent(op, pending) => pending.set(Ok(transaction_event(conn, known, op).await?)),
        Request::NotifyEvent(op, pending) => {
            for event in &op.events {
                device_event(conn, &op.station, event).await?;
            }
            pending.set(Ok(()))
        }
        Request::ReportPart(op, pending) => pending.set(Ok(report_part(conn, op).await?)),
        Request::MonitoringReport(op, pending) => {
            for m in &op.monitors {
                monitor(conn, &op.station, m, &op.now).await?;
            }
            pending.set(Ok(()))
        }
        Request::StatusNotification(op, pending) => pending.set(Ok(status_notification(conn, op).await?)),
        Request::SetRegistration(op, pending) => pending.set(Ok(set_registration(conn, op).await?)),
        Request::CommandStarted(op, pending) => pending.set(Ok(command_started(conn, op).await?)),
        Request::CommandFinished(op, pending) => pending.set(Ok(command_finished(conn, op).await?)),
        Request::Changes(op, pending) => {
            for change in &op.0 {
                self::change(conn, change).await?;
            }
            pending.set(Ok(()))
        }
        Request::CreateApiToken(op, pending) => pending.set(Ok(create_api_token(conn, op).await?)),
        Request::StationEvent(op, pending) => pending.set(Ok(station_event(conn, op).await?)),
        Request::Seen(op, pending) => pending.set(Ok(seen(conn, op).await?)),
        Request::UpsertIdToken(op, pending) => pending.set(Ok(upsert_id_token(conn, op).await?)),
        Request::CreateIdToken(op, pending) => pending.set(Ok(create_id_token(conn, op).await?)),
        Request::DeleteIdToken(op, pending) => pending.set(Ok(delete_id_token(conn, op).await?)),
    }
    Ok(())
}

async fn authorize(conn: &mut Conn, op: &Authorize) -> Result<AuthDecision, StoreError> {
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

async fn meter_values(conn: &mut Conn, known: &mut KnownTxRows, op: &MeterValues) -> Result<(), StoreError> {
    let MeterValues { station, evse_id, connector_id, station_tx_id, readings } = op;
    let tx = match station_tx_id {
        Some(id) => match known.get(station.as_str(), id) {
            Some(row) => Some(row),
            None => {
                let row = find_transaction(conn, station, id, V16).await?.map(|t| t.id);
                if let Some(row) = row {
                    known.note(station.as_str(), id, row);
                }
                row
            }
        },
        None => None,
    };
    let place = Place { evse_id: *evse_id, connector_id: *connector_id };
    insert_readings(conn, station, place, tx, station_tx_id.as_deref(), readings).await?;
    Ok(())
}

async fn set_registration(conn: &mut Conn, op: &SetRegistration) -> Result<bool, StoreError> {
    let SetRegistration { station, status, now } = op;
    let result = query("UPDATE stations SET registration_status = $1 WHERE id = $2")
        .bind(status.as_str())
        .bind(station.as_str())
        .execute(&mut *conn)
        .await?;
    let found = result.rows_affected() > 0;
    if !found {
        // An operator may register a station before it ever connects.
        query("INSERT INTO stations (id, registration_status, created_at) VALUES ($1, $2, $3)")
            .bind(station.as_str())
            .bind(status.as_str())
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
    }
    Ok(found)
}

async fn create_api_token(conn: &mut Conn, op: &CreateApiToken) -> Result<i64, StoreError> {
    let CreateApiToken { token_hash, role, name, now } = op;
    let id: i64 = query_scalar(
        "INSERT INTO api_tokens (token_hash, role, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(token_hash)
    .bind(role.as_str())
    .bind(name.as_deref())
    .bind(format_timestamp(now))
    .fetch_one(conn)
    .await?;
    Ok(id)
}

async fn command_started(conn: &mut Conn, op: &CommandStarted) -> Result<i64, StoreError> {
    let CommandStarted { station, action, request, at } = op;
    let id: i64 = query_scalar(
        "INSERT INTO commands (station_id, action, request, status, requested_at) VALUES ($1, $2, $3, 'Pending', $4) RETURNING id",
    )
    .bind(station.as_str())
    .bind(action)
    .bind(request)
    .bind(format_timestamp(at))
    .fetch_one(conn)
    .await?;
    Ok(id)
}

async fn command_finished(conn: &mut Conn, op: &CommandFinished) -> Result<(), StoreError> {
    let CommandFinished { command_id, status, response, error_code, error_description, at } = op;
    query(
        "UPDATE commands SET status = $1, response = $2, error_code = $3, error_description = $4, finished_at = $5 WHERE id = $6",
    )
    .bind(status.as_str())
    .bind(response.as_deref())
    .bind(error_code.as_deref())
    .bind(error_description.as_deref())
    .bind(format_timestamp(at))
    .bind(*command_id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn station_event(conn: &mut Conn, op: &StationEvent) -> Result<(), StoreError> {
    let StationEvent { station, kind, status, request_id, evse_id, detail, at } = op;
    query(
        "INSERT INTO station_events (station_id, kind, status, request_id, evse_id, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(station.as_str())
    .bind(kind.as_str())
    .bind(status.as_deref())
    .bind(*request_id)
    .bind(*evse_id)
    .bind(detail.as_deref())
    .bind(format_timestamp(at))
    .execute(&mut *conn)
    .await?;
    let (Some(transfer), Some(status)) = (kind.transfer(), status) else {
        return Ok(());
    };
    if transfer.moved_by(status) {
        query(
            "UPDATE transfers SET status = $1, updated_at = $2 WHERE id = (SELECT t.id FROM transfers t \
             WHERE t.station_id = $3 AND t.kind = $4 AND ($5 IS NULL OR t.request_id = $5) ORDER BY t.id DESC LIMIT 1)",
        )
        .bind(status)
        .bind(format_timestamp(at))
        .bind(station.as_str())
        .bind(transfer.as_str())
        .bind(*request_id)
        .execute(&mut *conn)
        .await?;
    }
    // The latest progress of an upload or update is also kept on the station.
    query(match transfer {
        TransferKind::Firmware => "UPDATE stations SET firmware_status = $1 WHERE id = $2",
        TransferKind::Diagnostics => "UPDATE stations SET diagnostics_status = $1 WHERE id = $2",
        TransferKind::Log => "UPDATE stations SET log_status = $1 WHERE id = $2",
    })
    .bind(status.as_str())
    .bind(station.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

async fn seen(conn: &mut Conn, op: &Seen) -> Result<(), StoreError> {
    let Seen { station, at } = op;
    query("UPDATE stations SET last_seen_at = $1 WHERE id = $2")
        .bind(format_timestamp(at))
        .bind(station.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

async fn upsert_id_token(conn: &mut Conn, op: &UpsertIdToken) -> Result<(), StoreError> {
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

async fn create_id_token(conn: &mut Conn, op: &CreateIdToken) -> Result<bool, StoreError> {
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

async fn delete_id_token(conn: &mut Conn, op: &DeleteIdToken) -> Result<bool, StoreError> {
    let DeleteIdToken { id_token } = op;
    let result = query("DELETE FROM id_tokens WHERE id_token = $1").bind(id_token).execute(conn).await?;
    Ok(result.rows_affected() > 0)
}

/// Records one change to Ström's picture of a station.
async fn change(conn: &mut Conn, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::ConfigurationKeys { station, keys, now } => {
            for k in keys {
                query(
                    "INSERT INTO station_configuration (station_id, key, value, readonly, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (station_id, key) DO UPDATE SET value = excluded.value, readonly = excluded.readonly, \
                     updated_at = excluded.updated_at",
                )
                .bind(station.as_str())
                .bind(&k.key)
                .bind(k.value.as_deref())
                .bind(i64::from(k.readonly))
                .bind(format_timestamp(now))
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }
        Change::DeviceValues { station, values, now } => {
            for (l, attribute_type, value) in values {
                query(
                    "INSERT INTO device_model (station_id, component, component_instance, evse_id, connector_id, variable, \
                     variable_instance, attribute_type, value, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (station_id, component, component_instance, evse_id, connector_id, variable, variable_instance, \
                     attribute_type) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(station.as_str())
                .bind(&l.component)
                .bind(key_text(&l.component_instance))
                .bind(key_number(l.evse_id))
                .bind(key_number(l.connector_id))
                .bind(&l.variable)
                .bind(key_text(&l.variable_instance))
                .bind(attribute_type)
                .bind(value.as_deref())
                .bind(format_timestamp(now))
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }
        Change::ReservationMade(r) => {
            // The same reservation id replaces the reservation (OCPP 1.6 §5.13, 2.0.1 H01.FR.02).
            query(
                "INSERT INTO reservations (station_id, reservation_id, evse_id, connector_id, id_token, group_id_token, expiry, \
                 status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'Active', $8, $8) \
                 ON CONFLICT (station_id, reservation_id) DO UPDATE SET evse_id = excluded.evse_id, \
                 connector_id = excluded.connector_id, id_token = excluded.id_token, group_id_token = excluded.group_id_token, \
                 expiry = excluded.expiry, status = 'Active', transaction_id = NULL, updated_at = excluded.updated_at",
            )
            .bind(r.station.as_str())
            .bind(r.reservation_id)
            .bind(key_number(r.evse_id))
            .bind(key_number(r.connector_id))
            .bind(&r.id_token)
            .bind(r.group_id_token.as_deref())
            .bind(format_timestamp(&r.expiry))
            .bind(format_timestamp(&r.now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::ReservationEnded { station, reservation_id, status, now } => {
            query(
                "UPDATE reservations SET status = $1, updated_at = $2 WHERE station_id = $3 AND reservation_id = $4 AND status = 'Active'",
            )
            .bind(*status)
            .bind(format_timestamp(now))
            .bind(station.as_str())
            .bind(*reservation_id)
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::ChargingProfileSet(p) => {
            query(
                "DELETE FROM charging_profiles WHERE station_id = $1 AND (profile_id = $2 OR (evse_id = $3 AND stack_level = $4 \
                 AND purpose = $5))",
            )
            .bind(p.station.as_str())
            .bind(p.profile_id)
            .bind(p.evse_id)
            .bind(p.stack_level)
            .bind(&p.purpose)
            .execute(&mut *conn)
            .await?;
            query(
                "INSERT INTO charging_profiles (station_id, profile_id, evse_id, stack_level, purpose, transaction_id, profile, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(p.station.as_str())
            .bind(p.profile_id)
            .bind(p.evse_id)
            .bind(p.stack_level)
            .bind(&p.purpose)
            .bind(p.transaction_id.as_deref())
            .bind(&p.profile)
            .bind(format_timestamp(&p.now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::ChargingProfilesCleared { station, profile_id, evse_id, purpose, stack_level } => {
            query(
                "DELETE FROM charging_profiles WHERE station_id = $1 AND ($2 IS NULL OR profile_id = $2) \
                 AND ($3 IS NULL OR evse_id = $3) AND ($4 IS NULL OR purpose = $4) AND ($5 IS NULL OR stack_level = $5)",
            )
            .bind(station.as_str())
            .bind(*profile_id)
            .bind(*evse_id)
            .bind(purpose.as_deref())
            .bind(*stack_level)
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::AvailabilitySet { station, evse_id, connector_id, operational, status, now } => {
            let (evse, connector) = (key_number(*evse_id), key_number(*connector_id));
            // A wider setting supersedes the narrower ones under it.
            query(
                "DELETE FROM availability WHERE station_id = $1 AND ($2 = -1 OR evse_id = $2) AND ($3 = -1 OR connector_id = $3)",
            )
            .bind(station.as_str())
            .bind(evse)
            .bind(connector)
            .execute(&mut *conn)
            .await?;
            query(
                "INSERT INTO availability (station_id, evse_id, connector_id, operational, status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(station.as_str())
            .bind(evse)
            .bind(connector)
            .bind(*operational)
            .bind(status)
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::LocalListAccepted { station, version, full, entries, removed, now } => {
            if *full {
                query("DELETE FROM local_list_entries WHERE station_id = $1")
                    .bind(station.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            for id_token in removed {
                query("DELETE FROM local_list_entries WHERE station_id = $1 AND id_token = $2")
                    .bind(station.as_str())
                    .bind(id_token)
                    .execute(&mut *conn)
                    .await?;
            }
            for e in entries {
                query(
                    "INSERT INTO local_list_entries (station_id, id_token, status, expiry, parent_id_token, token_type) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (station_id, id_token) DO UPDATE SET status = excluded.status, \
                     expiry = excluded.expiry, parent_id_token = excluded.parent_id_token, token_type = excluded.token_type",
                )
                .bind(station.as_str())
                .bind(&e.id_token)
                .bind(e.status.as_str())
                .bind(e.expiry.as_ref().map(format_timestamp))
                .bind(e.parent_id_token.as_deref())
                .bind(e.token_type.map(TokenType::as_str))
                .execute(&mut *conn)
                .await?;
            }
            query(
                "INSERT INTO local_list_versions (station_id, version, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (station_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
            )
            .bind(station.as_str())
            .bind(*version)
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::LocalListVersionReported { station, version, source, now } => {
            query(
                "INSERT INTO local_list_reports (station_id, version, source, reported_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (station_id) DO UPDATE SET version = excluded.version, source = excluded.source, \
                 reported_at = excluded.reported_at",
            )
            .bind(station.as_str())
            .bind(*version)
            .bind(*source)
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
            Ok(())
        }
        Change::TransferRequested { station, kind, request_id, location, file_name, now } => {
            query(
                "INSERT INTO transfers (station_id, kind, request_id, location, file_name, status, requested_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'Requested', $6, $6)",
            )
            .bind(station.as_str())
            .bind(kind.as_str())
            .bind(*request_id)
            .bind(location)
            .bind(file_name.as_deref())
            .bind(format_timestamp(now))
            .execute(conn)
            .await?;
            Ok(())
        }
    }
}

/// Work on the message log, done by the log's thread.
#[derive(Debug, Clone)]
pub(crate) enum Maintenance {
    /// Deletes frames older than `before` and beyond `max_per_station` per station.
    Prune { before: String, max_per_station: i64 },
    /// Each station's log cut to its newest `max_per_station` frames and at most one block more
    /// (`cap_log`): cheap enough to run every few seconds, where `Prune` reads the whole log.
    Cap { max_per_station: i64 },
}

/// Deletes logged frames older than `before` and beyond `max_per_station` per station.
pub(crate) async fn prune_log(conn: &mut Conn, before: &str, max_per_station: i64) -> Result<(), StoreError> {
    // The log is pruned in whole blocks (`log_blocks`). Blocks are written in the order
    // their parts were, so ids follow time: every block below the first one with a frame
    // young enough to keep goes (no index on the time to maintain; a block a moment out
    // of order waits for the next pruning).
    query(
        "DELETE FROM message_blocks WHERE id < COALESCE((SELECT id FROM message_blocks WHERE last_at >= $1 \
         ORDER BY id LIMIT 1), (SELECT max(id) + 1 FROM message_blocks))",
    )
    .bind(before)
    .execute(&mut *conn)
    .await?;
    // One pass over the log, counting each station's frames newest first: a block goes
    // once the station has `max_per_station` frames newer than it, so a station keeps at
    // most that many plus one block's.
    query(
        "DELETE FROM message_blocks WHERE id IN (SELECT id FROM (SELECT id, SUM(frames) OVER \
         (PARTITION BY station_id ORDER BY id DESC) - frames AS newer FROM message_blocks) counted \
         WHERE newer >= $1)",
    )
    .bind(max_per_station)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many frames each station has in the message log (one pass over the log).
pub(crate) async fn count_log(conn: &mut Conn) -> Result<HashMap<String, i64>, StoreError> {
    let rows =
        query("SELECT station_id, CAST(SUM(frames) AS BIGINT) AS frames FROM message_blocks GROUP BY station_id")
            .fetch_all(conn)
            .await?;
    rows.iter().map(|row| Ok((row.try_get("station_id")?, row.try_get("frames")?))).collect()
}

/// Removes the oldest blocks of every station that `held` (its frames in the log) puts over
/// `max_per_station`, and takes their frames off its count. A block goes once the station has
/// `max_per_station` frames newer than it, as in `PruneMessages`: those whose frames, counted
/// from the oldest, add up to no more than the station's excess. Only the blocks that go and the
/// one after them are read, so the work follows what was written since the last run, not the
/// size of the log, and a station under the limit costs nothing.
pub(crate) async fn cap_log(
    conn: &mut Conn,
    held: &mut HashMap<String, i64>,
    max_per_station: i64,
) -> Result<(), StoreError> {
    const READ: i64 = 256;
    let over: Vec<(String, i64)> =
        held.iter().filter(|(_, frames)| **frames > max_per_station).map(|(s, frames)| (s.clone(), *frames)).collect();
    for (station, frames) in over {
        let excess = frames - max_per_station;
        let (mut removed, mut last) = (0, None);
        'read: loop {
            let rows =
                query("SELECT id, frames FROM message_blocks WHERE station_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                    .bind(station.as_str())
                    .bind(last.unwrap_or(i64::MIN))
                    .bind(READ)
                    .fetch_all(&mut *conn)
                    .await?;
            for row in &rows {
                let block_frames: i64 = row.try_get("frames")?;
                if removed + block_frames > excess {
                    break 'read;
                }
                removed += block_frames;
                last = Some(row.try_get("id")?);
            }
            if (rows.len() as i64) < READ {
                break;
            }
        }
        if let Some(last) = last {
            query("DELETE FROM message_blocks WHERE station_id = $1 AND id <= $2")
                .bind(station.as_str())
                .bind(last)
                .execute(&mut *conn)
                .await?;
        }
        if let Some(frames) = held.get_mut(&station) {
            *frames -= removed;
        }
    }
    Ok(())
}

async fn boot(conn: &mut Conn, known: &mut KnownTxRows, op: &Boot) -> Result<Registration, StoreError> {
    let Boot { station, ocpp_version, info, policy, now } = op;
    let policy = *policy;
    let existing = query("SELECT registration_status, ocpp_version FROM stations WHERE id = $1")
        .bind(station.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let status = match existing {
        Some(row) => {
            let text: String = row.try_get("registration_status")?;
            let version: Option<String> = row.try_get("ocpp_version")?;
            if version.as_deref() != Some(ocpp_version) {
                known.forget_station(station.as_str());
            }
            RegistrationStatus::parse(&text)
                .ok_or_else(|| StoreError::Corrupt(format!("station {station} has registration status {text:?}")))?
        }
        None => {
            query("INSERT INTO stations (id, registration_status, created_at) VALUES ($1, $2, $3)")
                .bind(station.as_str())
                .bind(policy.initial_status().as_str())
                .bind(format_timestamp(now))
                .execute(&mut *conn)
                .await?;
            policy.initial_status()
        }
    };
    query(
        "UPDATE stations SET ocpp_version = $1, vendor = $2, model = $3, serial_number = $4, charge_box_serial_number = $5, \
         firmware_version = $6, iccid = $7, imsi = $8, meter_type = $9, meter_serial_number = $10, last_boot_at = $11, \
         last_seen_at = $11, boot_reason = $13 WHERE id = $12",
    )
    .bind(*ocpp_version)
    .bind(&info.vendor)
    .bind(&info.model)
    .bind(info.serial_number.as_deref())
    .bind(info.charge_box_serial_number.as_deref())
    .bind(info.firmware_version.as_deref())
    .bind(info.iccid.as_deref())
    .bind(info.imsi.as_deref())
    .bind(info.meter_type.as_deref())
    .bind(info.meter_serial_number.as_deref())
    .bind(format_timestamp(now))
    .bind(station.as_str())
    .bind(info.reason.as_deref())
    .execute(&mut *conn)
    .await?;
    let heartbeat_interval = match status {
        RegistrationStatus::Accepted => configured_heartbeat(conn, station, ocpp_version).await?,
        _ => None,
    };
    Ok(Registration { status, heartbeat_interval })
}

/// The heartbeat interval the station holds, as far as Ström knows: the value it last reported
/// or accepted (1.6 `HeartbeatInterval`, 2.0.1 `OCPPCommCtrlr.HeartbeatInterval`). A boot answer
/// with another interval would reconfigure the station behind the operator's back (OCPP 1.6
/// §4.2: the station adopts the interval of an Accepted boot).
async fn configured_heartbeat(
    conn: &mut Conn,
    station: &StationId,
    ocpp_version: &str,
) -> Result<Option<i64>, StoreError> {
    let sql = if ocpp_version == "1.6" {
        "SELECT value FROM station_configuration WHERE station_id = $1 AND key = 'HeartbeatInterval'"
    } else {
        "SELECT value FROM device_model WHERE station_id = $1 AND component = 'OCPPCommCtrlr' AND component_instance = '' \
         AND evse_id = -1 AND connector_id = -1 AND variable = 'HeartbeatInterval' AND variable_instance = '' \
         AND attribute_type = 'Actual'"
    };
    let value: Option<Option<String>> = query_scalar(sql).bind(station.as_str()).fetch_optional(conn).await?;
    // A value that is no number is no interval (`station::boot_interval` judges the number).
    Ok(value.flatten().and_then(|v| v.trim().parse::<i64>().ok()))
}

/// Where else the token `record` has an active transaction than the transaction `except` (a row
/// id), as far as `purpose` asks (`authorization::concurrency_applies`): for an Authorize, at
/// another station or not; otherwise anywhere. A transaction is the token's when it was started
/// with its value and, for a typed token, with its type or none (1.6). One indexed lookup that
/// stops at the first match (`transactions_active`), whatever the token's history.
async fn other_transaction(
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

pub(crate) fn parse_stored_time(text: &str) -> Result<Timestamp, StoreError> {
    parse_timestamp(text).ok_or_else(|| StoreError::Corrupt(format!("timestamp {text:?}")))
}

/// The protocol versions as transactions record them: a transaction id of one version never
/// names a transaction of the other.
const V16: &str = "1.6";
const V201: &str = "2.0.1";

/// The newest transaction a station knows under `station_tx_id`.
struct KnownTx {
    id: i64,
    stopped: bool,
    /// Closed by Ström because a newer transaction began on its connector or EVSE, and its own
    /// stop has not come yet: its end is an estimate.
    superseded: bool,
    meter_start_wh: Option<f64>,
    connector_id: Option<i64>,
}

async fn find_transaction(
    conn: &mut Conn,
    station: &StationId,
    station_tx_id: &str,
    ocpp_version: &'static str,
) -> Result<Option<KnownTx>, StoreError> {
    let row = query(
        "SELECT id, stopped_at, stop_reason, meter_start_wh, connector_id FROM transactions WHERE station_id = $1 \
         AND station_tx_id = $2 AND ocpp_version = $3 ORDER BY id DESC LIMIT 1",
    )
    .bind(station.as_str())
    .bind(station_tx_id)
    .bind(ocpp_version)
    .fetch_optional(conn)
    .await?;
    row.map(|r| -> Result<_, StoreError> {
        let stopped: Option<String> = r.try_get("stopped_at")?;
        let stop_reason: Option<String> = r.try_get("stop_reason")?;
        Ok(KnownTx {
            id: r.try_get("id")?,
            stopped: stopped.is_some(),
            superseded: stop_reason.as_deref() == Some(SUPERSEDED_REASON),
            meter_start_wh: r.try_get("meter_start_wh")?,
            connector_id: r.try_get("connector_id")?,
        })
    })
    .transpose()
}

/// The stop reason of such a transaction until the station's own stop replaces the estimate.
const SUPERSEDED_REASON: &str = "Superseded";

/// Closes the transactions of `station` that are still open on the connector (1.6) or EVSE
/// (2.0.1) where a newer one, `newer`, begins at `started_at`: the station never ended them (a
/// StopTransaction or Ended lost, or never sent), and one connector or EVSE charges one
/// transaction at a time. Each is stopped at its last register reading, with the energy up to it,
/// and flagged `superseded` (`transactions::superseded_energy`), so that it no longer counts as
/// charging, nor blocks its token with ConcurrentTx.
async fn close_superseded(
    conn: &mut Conn,
    known: &mut KnownTxRows,
    station: &StationId,
    (evse_id, connector_id): (Option<i64>, Option<i64>),
    ocpp_version: &'static str,
    newer: Option<i64>,
    started_at: &str,
) -> Result<(), StoreError> {
    let rows = query(
        "SELECT id, station_tx_id, meter_start_wh, started_at, flags FROM transactions WHERE station_id = $1 \
         AND ($2 IS NULL OR connector_id = $2) AND stopped_at IS NULL AND started_at IS NOT NULL AND started_at < $3 \
         AND ocpp_version = $4 AND ($5 IS NULL OR id <> $5) AND ($6 IS NULL OR evse_id = $6)",
    )
    .bind(station.as_str())
    .bind(connector_id)
    .bind(started_at)
    .bind(ocpp_version)
    .bind(newer)
    .bind(evse_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let station_tx_id: Option<String> = row.try_get("station_tx_id")?;
        let started: String = row.try_get("started_at")?;
        let mut flags = stored_flags(&row)?;
        let registers = energy_registers(conn, id).await?;
        let values: Vec<f64> = registers.iter().map(|r| r.try_get("value")).collect::<Result<_, _>>()?;
        let last_at: Option<String> = registers.last().map(|r| r.try_get("timestamp")).transpose()?;
        let (stop, energy, new_flags) = transactions::superseded_energy(row.try_get("meter_start_wh")?, &values);
        new_flags.iter().for_each(|f| flags.add(f));
        query(
            "UPDATE transactions SET stopped_at = $1, meter_stop_wh = $2, energy_wh = $3, stop_reason = $6, \
             flags = $4 WHERE id = $5",
        )
        .bind(last_at.unwrap_or(started))
        .bind(stop)
        .bind(energy)
        .bind(flags.stored())
        .bind(id)
        .bind(SUPERSEDED_REASON)
        .execute(&mut *conn)
        .await?;
        if let Some(tx) = station_tx_id {
            known.forget(station.as_str(), &tx);
        }
    }
    Ok(())
}

async fn start_transaction(conn: &mut Conn, known: &mut KnownTxRows, s: &StartTx) -> Result<Started, StoreError> {
    let station = s.station.as_str();
    let started_at = format_timestamp(&s.timestamp);
    let token = load_token(conn, &s.id_token).await?;
    // A retried StartTransaction (the station never saw our answer) carries the same facts under
    // a new message id: it gets the transaction it already has (CONFORMANCE X-07).
    let retry = query(
        "SELECT id, start_auth_status FROM transactions WHERE station_id = $1 AND connector_id = $2 AND id_token = $3 \
         AND meter_start_wh = $4 AND started_at = $5 AND ocpp_version = '1.6' ORDER BY id LIMIT 1",
    )
    .bind(station)
    .bind(s.connector_id)
    .bind(&s.id_token)
    .bind(s.meter_start_wh)
    .bind(&started_at)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = retry {
        let status: Option<String> = row.try_get("start_auth_status")?;
        let mut auth = authorization::decide(token.as_ref(), None, s.now, false);
        auth.status = status.as_deref().and_then(AuthStatus::parse).unwrap_or(auth.status);
        return Ok(Started { transaction_id: row.try_get("id")?, auth });
    }
    // The connector's earlier transaction, if the station never stopped it, ends here (first:
    // it must not make this start ConcurrentTx).
    close_superseded(conn, known, &s.station, (None, Some(s.connector_id)), V16, None, &started_at).await?;
    let other = match &token {
        Some(record) => other_transaction(conn, record, &s.station, None, Purpose::Start).await?,
        None => OtherTransaction::None,
    };
    let busy = authorization::concurrency_applies(Purpose::Start, other);
    let auth = authorization::decide(token.as_ref(), None, s.now, busy);
    // OCPP 1.6 transaction ids are the CSMS's: the row's id, which is also what the station will
    // call it (`station_tx_id`). The id is taken first so that one insert writes both, rather
    // than an update after the insert moving the row's index entry a second time. SQLite: the
    // next AUTOINCREMENT value (`sqlite_sequence` holds the largest id the table ever had), read
    // by a statement of its own: as one `INSERT … SELECT … RETURNING` the insert cost SQLite
    // 72,000 instructions, a tenth of the writer's work per charging session (BENCHMARKS.md).
    // PostgreSQL: the column's sequence, in the insert (a statement is a round trip there).
    let sqlite = conn.is_sqlite();
    let insert = query(if sqlite {
        "INSERT INTO transactions (station_id, connector_id, id_token, start_auth_status, started_at, \
         meter_start_wh, reservation_id, created_at, ocpp_version, id, station_tx_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '1.6', $9, $10)"
    } else {
        "INSERT INTO transactions (id, station_tx_id, station_id, connector_id, id_token, start_auth_status, \
         started_at, meter_start_wh, reservation_id, created_at, ocpp_version) \
         SELECT n, CAST(n AS TEXT), $1, $2, $3, $4, $5, $6, $7, $8, '1.6' \
         FROM (SELECT nextval(pg_get_serial_sequence('transactions', 'id')) AS n) next_id RETURNING id"
    })
    .bind(station)
    .bind(s.connector_id)
    .bind(&s.id_token)
    .bind(auth.status.as_str())
    .bind(&started_at)
    .bind(s.meter_start_wh)
    .bind(s.reservation_id)
    .bind(format_timestamp(&s.now));
    let id: i64 = if sqlite {
        let id: i64 =
            query_scalar("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'transactions'), 0) + 1")
                .fetch_one(&mut *conn)
                .await?;
        insert.bind(id).bind(id.to_string()).execute(&mut *conn).await?;
        id
    } else {
        insert.fetch_one(&mut *conn).await?.try_get("id")?
    };
    known.note(station, &id.to_string(), id);
    // Many firmwares keep the id in an int32.
    if id > i64::from(i32::MAX) {
        return Err(StoreError::Corrupt(format!("transaction id {id} exceeds the 32-bit range")));
    }
    if let Some(reservation) = s.reservation_id {
        consume_reservation(conn, &s.station, reservation, id, &s.now).await?;
    }
    Ok(Started { transaction_id: id, auth })
}

async fn stop_transaction(conn: &mut Conn, known: &mut KnownTxRows, s: &StopTx) -> Result<Stopped, StoreError> {
    let auth = match &s.id_token {
        Some(tag) => Some(authorization::decide(load_token(conn, tag).await?.as_ref(), None, s.now, false)),
        None => None,
    };
    let stopped_at = format_timestamp(&s.timestamp);
    let (id, meter_start, connector, mut flags) = match find_transaction(conn, &s.station, &s.station_tx_id, V16)
        .await?
    {
        // A retried stop changes nothing; but the real stop of a transaction Ström closed as
        // superseded replaces the estimate (the flag stays, the estimate's other flags go, and
        // a retry of that stop changes nothing again: its stop reason is no longer Superseded).
        Some(KnownTx { stopped: true, superseded: false, .. }) => return Ok(Stopped { auth }),
        Some(t) if t.superseded => (t.id, t.meter_start_wh, t.connector_id, Flags::from([TransactionFlag::Superseded])),
        Some(t) => (t.id, t.meter_start_wh, t.connector_id, Flags::default()),
        None => {
            // A stop for a transaction Ström never saw is acknowledged (the station would retry
            // forever otherwise) and kept, flagged, for reconciliation (CHECKLIST §2.5).
            let id: i64 = query_scalar(
                "INSERT INTO transactions (station_id, station_tx_id, created_at, flags, ocpp_version) \
                 VALUES ($1, $2, $3, 'unknown_transaction', '1.6') RETURNING id",
            )
            .bind(s.station.as_str())
            .bind(&s.station_tx_id)
            .bind(format_timestamp(&s.now))
            .fetch_one(&mut *conn)
            .await?;
            known.note(s.station.as_str(), &s.station_tx_id, id);
            (id, None, None, Flags::from([TransactionFlag::UnknownTransaction]))
        }
    };
    let place = Place { evse_id: None, connector_id: connector.unwrap_or(0) };
    insert_readings(conn, &s.station, place, Some(id), Some(&s.station_tx_id), &s.readings).await?;
    let registers: Vec<f64> =
        energy_registers(conn, id).await?.iter().map(|r| r.try_get("value")).collect::<Result<_, _>>()?;
    let energy = match meter_start {
        Some(start) => {
            let (energy, energy_flags) = transactions::energy(start, s.meter_stop_wh, &registers);
            energy_flags.into_iter().for_each(|f| flags.add(TransactionFlag::Energy(f)));
            energy
        }
        None => None,
    };
    query(
        "UPDATE transactions SET stopped_at = $1, meter_stop_wh = $2, energy_wh = $3, stop_reason = $4, stop_id_token = $5, \
         flags = $6 WHERE id = $7",
    )
    .bind(&stopped_at)
    .bind(s.meter_stop_wh)
    .bind(energy)
    .bind(&s.reason)
    .bind(s.id_token.as_deref())
    .bind(flags.stored())
    .bind(id)
    .execute(conn)
    .await?;
    // Meter values after the stop are rare; the entry would only take room.
    known.forget(s.station.as_str(), &s.station_tx_id);
    Ok(Stopped { auth })
}

/// A transaction's energy registers in time order: rows of `value`, `context` (its code) and
/// `timestamp`.
/// On PostgreSQL the readings gathered for `COPY` are sent first.
async fn energy_registers(conn: &mut Conn, transaction_id: i64) -> Result<Vec<Row>, StoreError> {
    macro_rules! energy_registers {
        ($backend:ident) => {
            concat!(
                "SELECT r.value, s.context, s.timestamp FROM samples s ",
                readings_of_samples!($backend),
                " WHERE s.transaction_id = $1 AND r.measurand = $2 AND r.phase IS NULL \
                 AND r.normalised_unit = 'Wh' AND r.value IS NOT NULL ORDER BY s.timestamp, r.id"
            )
        };
    }
    let sql = if conn.is_sqlite() { energy_registers!(sqlite) } else { energy_registers!(postgres) };
    conn.send_gathered().await?;
    query(sql).bind(transaction_id).bind(terms::code_of(ENERGY_IMPORT_REGISTER)?).fetch_all(conn).await
}

/// Where on a station a reading was taken.
#[derive(Debug, Clone, Copy)]
struct Place {
    evse_id: Option<i64>,
    connector_id: i64,
}

/// A sample's row (`samples`): its readings' ids and what they share.
static INSERT_SAMPLE: &str = concat!(
    "INSERT OR FAIL INTO samples (",
    sample_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
);
/// A sample's readings, up to 16 a statement; SQLite gives their ids.
static INSERT_READINGS: LazyLock<MultiRow> =
    LazyLock::new(|| MultiRow::new(concat!("readings (", reading_columns!(), ")"), 0, 7, 16));
/// The most readings one sample holds; a longer run is several samples (PostgreSQL's writer
/// takes a sample's ids from one block).
const SAMPLE_MAX: usize = 256;

/// A message's readings, as samples: each run of readings that share their timestamp, location,
/// context and format (a MeterValue element's, mostly) is one row of `samples` with the station,
/// place and transaction, its readings rows of `readings` with consecutive ids, the first of
/// which is the sample's. SQLite: the readings, up to 16 a statement, whose ids it gives in
/// order (nothing else inserts or deletes readings), then the sample. PostgreSQL, where every
/// statement is a round trip: both gathered for `COPY`, sent before COMMIT or a read of them
/// (see `db::PgWriter`), with ids from a block the writer holds.
async fn insert_readings(
    conn: &mut Conn,
    station: &StationId,
    place: Place,
    transaction_id: Option<i64>,
    station_tx_id: Option<&str>,
    readings: &[Reading],
) -> Result<(), StoreError> {
    let mut rest = readings;
    while let Some(first) = rest.first() {
        let run = rest
            .iter()
            .take(SAMPLE_MAX)
            .position(|r| {
                r.timestamp != first.timestamp
                    || r.location != first.location
                    || r.context != first.context
                    || r.format != first.format
            })
            .unwrap_or(rest.len().min(SAMPLE_MAX));
        let (sample, after) = rest.split_at(run);
        rest = after;
        let timestamp = format_timestamp(&first.timestamp);
        let (location, context, format) =
            (terms::code_of(first.location)?, terms::code_of(first.context)?, terms::code_of(first.format)?);
        if let Some(pg) = conn.postgres() {
            let first_id = pg.reading_ids(sample.len()).await?;
            for (id, r) in (first_id..).zip(sample) {
                // `sample_id, id`, then in the order of `reading_columns!`.
                pg.readings
                    .row(9)
                    .bigint(Some(first_id))
                    .bigint(Some(id))
                    .bigint(Some(terms::code_of(r.measurand)?))
                    .bigint(r.phase.map(terms::code_of).transpose()?)
                    .text(Some(&r.unit))
                    .text(Some(&r.raw_value))
                    .double(r.value)
                    .text(Some(&r.normalised_unit))
                    .text(r.signed_data.as_deref());
            }
            // In the order of `sample_columns!`.
            pg.samples
                .row(11)
                .bigint(Some(first_id))
                .bigint(Some(first_id + sample.len() as i64 - 1))
                .text(Some(station.as_str()))
                .bigint(place.evse_id)
                .bigint(Some(place.connector_id))
                .bigint(transaction_id)
                .text(station_tx_id)
                .text(Some(&timestamp))
                .bigint(Some(location))
                .bigint(Some(context))
                .bigint(Some(format));
            continue;
        }
        for values in sample.chunks(INSERT_READINGS.max()) {
            let mut insert = query(INSERT_READINGS.sql(values.len())).reserve(INSERT_READINGS.params(values.len()));
            for r in values {
                insert = insert
                    .bind(terms::code_of(r.measurand)?)
                    .bind(r.phase.map(terms::code_of).transpose()?)
                    .bind(&r.unit)
                    .bind(&r.raw_value)
                    .bind(r.value)
                    .bind(&r.normalised_unit)
                    .bind(r.signed_data.as_deref());
            }
            insert.execute(conn).await?;
        }
        let last_id = conn.last_insert_rowid().ok_or(StoreError::Closed)?;
        query(INSERT_SAMPLE)
            .bind(last_id - sample.len() as i64 + 1)
            .bind(last_id)
            .bind(station.as_str())
            .bind(place.evse_id)
            .bind(place.connector_id)
            .bind(transaction_id)
            .bind(station_tx_id)
            .bind(&timestamp)
            .bind(location)
            .bind(context)
            .bind(format)
            .execute(conn)
            .await?;
    }
    Ok(())
}

async fn status_notification(conn: &mut Conn, r: &StationStatusReport) -> Result<(), StoreError> {
    let station = r.station.as_str();
    let at = format_timestamp(&r.timestamp);
    // Statuses queued offline can arrive after newer ones (CHECKLIST §2.6): an older report does
    // not replace the connector's current status. The upsert's condition decides it, so no read
    // comes first.
    let applied = query(
        "INSERT INTO connectors (station_id, evse_id, connector_id, status, error_code, info, vendor_id, vendor_error_code, status_at) \
         VALUES ($1, $9, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (station_id, evse_id, connector_id) DO UPDATE SET status = excluded.status, \
         error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id, \
         vendor_error_code = excluded.vendor_error_code, status_at = excluded.status_at \
         WHERE connectors.status_at <= excluded.status_at",
    )
    .bind(station)
    .bind(r.connector_id)
    .bind(&r.status)
    .bind(r.error_code.as_deref())
    .bind(r.info.as_deref())
    .bind(r.vendor_id.as_deref())
    .bind(r.vendor_error_code.as_deref())
    .bind(&at)
    .bind(r.evse_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    let place = (r.evse_id, r.connector_id);
    match (faults::assess(&r.status, r.error_code.as_deref()), applied) {
        // The common case, a healthy connector: whatever was open closes, in one statement.
        (FaultChange::Cleared, true) => close_faults(conn, station, place, &at).await?,
        // A healthy report older than the current status says nothing about now.
        (FaultChange::Cleared, false) => {}
        (FaultChange::Present { error_code, severity }, true) => {
            let open: Option<String> = query_scalar(
                "SELECT error_code FROM faults WHERE station_id = $1 AND evse_id = $3 AND connector_id = $2 \
                 AND component IS NULL AND cleared_at IS NULL ORDER BY id DESC LIMIT 1",
            )
            .bind(station)
            .bind(r.connector_id)
            .bind(r.evse_id)
            .fetch_optional(&mut *conn)
            .await?;
            if open.as_deref() != Some(error_code.as_str()) {
                if open.is_some() {
                    close_faults(&mut *conn, station, place, &at).await?;
                }
                insert_fault(conn, r, &error_code, severity, None).await?;
            }
        }
        (FaultChange::Present { error_code, severity }, false) => stale_fault(conn, r, &error_code, severity).await?,
    }
    Ok(())
}

/// A fault reported at a time older than the connector's current status (delivered late from
/// the station's offline queue): never dropped. If the same fault is open, it began no later
/// than this report; otherwise it is recorded as it was, from this report until the newer status
/// that followed it.
async fn stale_fault(
    conn: &mut Conn,
    r: &StationStatusReport,
    error_code: &str,
    severity: faults::Severity,
) -> Result<(), StoreError> {
    let station = r.station.as_str();
    let at = format_timestamp(&r.timestamp);
    let extended = query(
        "UPDATE faults SET started_at = $1 WHERE id = (SELECT id FROM faults WHERE station_id = $2 AND evse_id = $3 \
         AND connector_id = $4 AND component IS NULL AND cleared_at IS NULL AND error_code = $5 ORDER BY id DESC LIMIT 1) \
         AND started_at > $1",
    )
    .bind(&at)
    .bind(station)
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(error_code)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if extended {
        return Ok(());
    }
    let open_same: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3 AND component IS NULL \
         AND cleared_at IS NULL AND error_code = $4 LIMIT 1",
    )
    .bind(station)
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(error_code)
    .fetch_optional(&mut *conn)
    .await?;
    // The same late report delivered again (a retry) records nothing more.
    let recorded: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3 AND component IS NULL \
         AND error_code = $4 AND started_at = $5 LIMIT 1",
    )
    .bind(station)
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(error_code)
    .bind(&at)
    .fetch_optional(&mut *conn)
    .await?;
    if open_same.is_some() || recorded.is_some() {
        return Ok(());
    }
    // Cleared by the first status the connector reported after this one, as far as Ström knows
    // the connector's history: its current status, newer than this report.
    let cleared_at: Option<String> =
        query_scalar("SELECT status_at FROM connectors WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3")
            .bind(station)
            .bind(r.evse_id)
            .bind(r.connector_id)
            .fetch_optional(&mut *conn)
            .await?;
    insert_fault(conn, r, error_code, severity, cleared_at.as_deref()).await
}

async fn insert_fault(
    conn: &mut Conn,
    r: &StationStatusReport,
    error_code: &str,
    severity: faults::Severity,
    cleared_at: Option<&str>,
) -> Result<(), StoreError> {
    query(
        "INSERT INTO faults (station_id, evse_id, connector_id, error_code, severity, status, vendor_id, vendor_error_code, \
         info, started_at, cleared_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(r.station.as_str())
    .bind(r.evse_id)
    .bind(r.connector_id)
    .bind(error_code)
    .bind(severity.as_str())
    .bind(&r.status)
    .bind(r.vendor_id.as_deref())
    .bind(r.vendor_error_code.as_deref())
    .bind(r.info.as_deref())
    .bind(format_timestamp(&r.timestamp))
    .bind(cleared_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn close_faults(
    conn: &mut Conn,
    station: &str,
    (evse_id, connector_id): (i64, i64),
    at: &str,
) -> Result<(), StoreError> {
    // Nearly every healthy report finds nothing open. SQLite's UPDATE opens the table and each
    // of its indexes for writing even when no row matches; a read through one index costs a
    // fraction of that.
    let open: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND connector_id = $2 AND evse_id = $3 AND component IS NULL \
         AND cleared_at IS NULL LIMIT 1",
    )
    .bind(station)
    .bind(connector_id)
    .bind(evse_id)
    .fetch_optional(&mut *conn)
    .await?;
    if open.is_none() {
        return Ok(());
    }
    query(
        "UPDATE faults SET cleared_at = $1 WHERE station_id = $2 AND connector_id = $3 AND evse_id = $4 \
         AND component IS NULL AND cleared_at IS NULL",
    )
    .bind(at)
    .bind(station)
    .bind(connector_id)
    .bind(evse_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The 2.0.1 idToken type that means "no authorization was done" (OCPP 2.0.1 §2.28): nothing
/// to look up, and nothing to refuse.
const NO_AUTHORIZATION: &str = "NoAuthorization";

async fn transaction_event(
    conn: &mut Conn,
    known: &mut KnownTxRows,
    e: &TxEvent,
) -> Result<TxEventRecorded, StoreError> {
    let station = e.station.as_str();
    let at = format_timestamp(&e.timestamp);
    let started_event = e.event_type == TxEventType::Started;
    let digest = event_digest(e, &at);
    let token = e.id_token.as_ref().map(|(t, _)| t.as_str());
    let token_type = e.id_token.as_ref().map(|(_, k)| k.as_str());

    let existing = query(
        "SELECT id, last_seq_no, id_token, flags, started_at, stopped_at, stop_reason, start_auth_status FROM transactions \
         WHERE station_id = $1 AND station_tx_id = $2 AND ocpp_version = '2.0.1' ORDER BY id DESC LIMIT 1",
    )
    .bind(station)
    .bind(&e.station_tx_id)
    .fetch_optional(&mut *conn)
    .await?;
    // (row, highest seqNo, start token, flags, started, whether this seqNo was used before)
    let mut current = None;
    let mut new_flags = Flags::default();
    if let Some(row) = existing {
        let id: i64 = row.try_get("id")?;
        let highest_seq: Option<i64> = row.try_get("last_seq_no")?;
        let stopped_at: Option<String> = row.try_get("stopped_at")?;
        let stop_reason: Option<String> = row.try_get("stop_reason")?;
        let same_seq = query(
            "SELECT event_type, trigger_reason, timestamp, digest FROM transaction_events WHERE transaction_id = $1 \
             AND seq_no = $2",
        )
        .bind(id)
        .bind(e.seq_no)
        .fetch_all(&mut *conn)
        .await?;
        let mut identical = false;
        for r in &same_seq {
            let stored_digest: Option<String> = r.try_get("digest")?;
            identical |= match stored_digest {
                Some(d) => d == digest,
                // Events stored before digests: the same type, trigger and time.
                None => {
                    let (event_type, trigger, timestamp): (String, String, String) =
                        (r.try_get("event_type")?, r.try_get("trigger_reason")?, r.try_get("timestamp")?);
                    event_type == e.event_type.as_str() && trigger == e.trigger_reason && timestamp == at
                }
            };
        }
        let end = match (stopped_at.as_deref(), stop_reason.as_deref()) {
            (None, _) => transactions::StoredEnd::Open,
            (Some(at), Some(SUPERSEDED_REASON)) => transactions::StoredEnd::Superseded(at),
            (Some(at), _) => transactions::StoredEnd::Ended(at),
        };
        let stored = transactions::StoredTransaction { end, highest_seq_no: highest_seq };
        match transactions::match_event(stored, identical, started_event, e.seq_no, &at) {
            // The same event delivered twice (the station retried after a lost answer) changes
            // nothing, and is answered as it was.
            transactions::EventMatch::Duplicate => {
                let start_status: Option<String> = row.try_get("start_auth_status")?;
                let mut auth = decide_event_token(conn, e, id, Purpose::Continue).await?;
                if let (Some(auth), true, Some(status)) =
                    (auth.as_mut(), started_event, start_status.as_deref().and_then(AuthStatus::parse))
                {
                    auth.status = status;
                }
                return Ok(TxEventRecorded { transaction_id: id, auth });
            }
            transactions::EventMatch::Same => {
                let flags = stored_flags(&row)?;
                let started: Option<String> = row.try_get("started_at")?;
                current = Some((
                    id,
                    highest_seq,
                    row.try_get::<Option<String>, _>("id_token")?,
                    flags,
                    started.is_some(),
                    !same_seq.is_empty(),
                ));
            }
            // A new session under an id the station used before: never dropped, never merged.
            transactions::EventMatch::Reused => new_flags.add(TransactionFlag::TransactionIdReused),
        }
    }
    let new_row = current.is_none();
    let (id, highest_seq, known_token, mut flags, started, seq_used) = match current {
        Some(c) => c,
        None => {
            // Updated or Ended for a transaction never seen: its Started was lost or is still
            // queued. The transaction is created from what this event says (CONFORMANCE X-03).
            let id: i64 = query_scalar(
                "INSERT INTO transactions (station_id, station_tx_id, created_at, flags, ocpp_version) \
                 VALUES ($1, $2, $3, '', '2.0.1') RETURNING id",
            )
            .bind(station)
            .bind(&e.station_tx_id)
            .bind(format_timestamp(&e.now))
            .fetch_one(&mut *conn)
            .await?;
            known.note(station, &e.station_tx_id, id);
            (id, None, None, new_flags, false, false)
        }
    };
    // An EVSE charges one transaction at a time: one the station never ended ends where this
    // one begins (before the token is judged, so that it does not make this one ConcurrentTx).
    if let (true, Some(evse)) = (new_row || started_event, e.evse_id) {
        close_superseded(conn, known, &e.station, (Some(evse), None), V201, Some(id), &at).await?;
    }
    // ConcurrentTx answers a Started event only, never an Updated or Ended (OCPP 2.0.1 E05).
    let purpose = if started_event { Purpose::Start } else { Purpose::Continue };
    let auth = decide_event_token(conn, e, id, purpose).await?;
    let auth_status = auth.as_ref().map(|a| a.status.as_str());

    query(
        "INSERT INTO transaction_events (transaction_id, seq_no, event_type, trigger_reason, timestamp, offline, digest) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(e.seq_no)
    .bind(e.event_type.as_str())
    .bind(&e.trigger_reason)
    .bind(&at)
    .bind(i64::from(e.offline))
    .bind(&digest)
    .execute(&mut *conn)
    .await?;
    if let Some(flag) = transactions::check_sequence(highest_seq, e.seq_no, seq_used) {
        flags.add(TransactionFlag::Sequence(flag));
    }
    if !started && !started_event {
        flags.add(TransactionFlag::StartedEventMissing);
    }
    // The first token a transaction carries is the one it was started with; a different token
    // on a later event (StopAuthorized) is the stop token.
    let (start_token, stop_token) = match (&known_token, token) {
        (None, Some(t)) => (Some(t), None),
        (Some(k), Some(t)) if k != t => (None, Some(t)),
        _ => (None, None),
    };
    query(
        "UPDATE transactions SET \
         started_at = CASE WHEN started_at IS NULL OR $1 = 'Started' THEN COALESCE(CASE WHEN $1 = 'Started' THEN $2 END, started_at, $2) ELSE started_at END, \
         evse_id = COALESCE($3, evse_id), connector_id = COALESCE($4, connector_id), \
         id_token = COALESCE(id_token, $5), id_token_type = COALESCE(id_token_type, $6), \
         start_auth_status = CASE WHEN $5 IS NOT NULL THEN $7 ELSE start_auth_status END, \
         charging_state = COALESCE($8, charging_state), \
         last_seq_no = CASE WHEN last_seq_no IS NULL OR last_seq_no < $9 THEN $9 ELSE last_seq_no END, \
         last_trigger_reason = $10, time_spent_charging = COALESCE($11, time_spent_charging), \
         remote_start_id = COALESCE(remote_start_id, $12), reservation_id = COALESCE(reservation_id, $13), \
         stop_id_token = COALESCE($14, stop_id_token), flags = $15 WHERE id = $16",
    )
    .bind(e.event_type.as_str())
    .bind(&at)
    .bind(e.evse_id)
    .bind(e.connector_id)
    .bind(start_token)
    .bind(start_token.and(token_type))
    .bind(start_token.and(auth_status))
    .bind(e.charging_state.as_deref())
    .bind(e.seq_no)
    .bind(&e.trigger_reason)
    .bind(e.time_spent_charging)
    .bind(e.remote_start_id)
    .bind(e.reservation_id)
    .bind(stop_token)
    .bind(flags.stored())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let place: (Option<i64>, Option<i64>) = {
        let row = query("SELECT evse_id, connector_id FROM transactions WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        (row.try_get("evse_id")?, row.try_get("connector_id")?)
    };
    let place = Place { evse_id: place.0, connector_id: place.1.unwrap_or(0) };
    insert_readings(conn, &e.station, place, Some(id), Some(&e.station_tx_id), &e.readings).await?;
    if let Some(reservation) = e.reservation_id {
        consume_reservation(conn, &e.station, reservation, id, &e.now).await?;
    }
    settle_energy(conn, id, e, &mut flags).await?;
    Ok(TxEventRecorded { transaction_id: id, auth })
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

/// A transaction's flags as its row stores them (`flags`).
fn stored_flags(row: &Row) -> Result<Flags, StoreError> {
    let text: String = row.try_get("flags")?;
    Flags::parse(&text).map_err(StoreError::Corrupt)
}

/// What makes a 2.0.1 TransactionEvent the event it is, as a stable 64-bit FNV-1a digest in hex:
/// a retry (the station never saw the answer) has the same digest; another event under the same
/// seqNo (firmware that repeats it) has another. Stored, so it must not change between releases.
/// `at` is the event's timestamp as stored.
fn event_digest(e: &TxEvent, at: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |text: &str| {
        for byte in text.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    let number = |n: Option<i64>| n.map_or_else(String::new, |n| n.to_string());
    feed(e.event_type.as_str());
    feed(at);
    feed(&e.trigger_reason);
    feed(&e.seq_no.to_string());
    feed(if e.offline { "offline" } else { "" });
    feed(e.charging_state.as_deref().unwrap_or(""));
    feed(&number(e.time_spent_charging));
    feed(e.stopped_reason.as_deref().unwrap_or(""));
    feed(&number(e.remote_start_id));
    feed(&number(e.reservation_id));
    feed(&number(e.evse_id));
    feed(&number(e.connector_id));
    if let Some((token, kind)) = &e.id_token {
        feed(token);
        feed(kind);
    }
    for r in &e.readings {
        feed(&format_timestamp(&r.timestamp));
        feed(r.measurand);
        feed(r.phase.unwrap_or(""));
        feed(r.location);
        feed(r.context);
        feed(&r.unit);
        feed(&r.raw_value);
        feed(r.signed_data.as_deref().unwrap_or(""));
    }
    format!("{hash:016x}")
}

/// The idTokenInfo a 2.0.1 TransactionEvent gets for the token it carries (transaction `id`).
async fn decide_event_token(
    conn: &mut Conn,
    e: &TxEvent,
    id: i64,
    purpose: Purpose,
) -> Result<Option<AuthDecision>, StoreError> {
    let Some((token, kind)) = &e.id_token else {
        return Ok(None);
    };
    if kind == NO_AUTHORIZATION {
        return Ok(Some(AuthDecision { status: AuthStatus::Accepted, expiry: None, parent_id_token: None }));
    }
    let record = load_token(conn, token).await?;
    let presented = TokenType::parse(kind);
    let other = match (&record, purpose) {
        (Some(r), Purpose::Start) if r.identifies(presented) => {
            other_transaction(conn, r, &e.station, Some(id), Purpose::Start).await?
        }
        _ => OtherTransaction::None,
    };
    let busy = authorization::concurrency_applies(purpose, other);
    Ok(Some(authorization::decide(record.as_ref(), presented, e.now, busy)))
}

/// Recomputes a 2.0.1 transaction's meter start, and at its end the stop and the energy, from
/// its register readings.
async fn settle_energy(conn: &mut Conn, id: i64, e: &TxEvent, flags: &mut Flags) -> Result<(), StoreError> {
    let rows = energy_registers(conn, id).await?;
    let readings: Vec<(f64, &str)> = rows
        .iter()
        .map(|r| {
            let code: i64 = r.try_get("context")?;
            let context =
                terms::term(code).ok_or_else(|| StoreError::Corrupt(format!("unknown reading term {code}")))?;
            Ok((r.try_get("value")?, context))
        })
        .collect::<Result<_, StoreError>>()?;
    let registers: Vec<transactions::Register<'_>> =
        readings.iter().map(|(wh, context)| transactions::Register { wh: *wh, context }).collect();
    let bounds = transactions::meter_bounds(&registers);
    if e.event_type != TxEventType::Ended {
        if let Some((start, _)) = bounds {
            query("UPDATE transactions SET meter_start_wh = $1 WHERE id = $2")
                .bind(start)
                .bind(id)
                .execute(conn)
                .await?;
        }
        return Ok(());
    }
    let values: Vec<f64> = registers.iter().map(|r| r.wh).collect();
    // The station's own end replaces Ström's estimate of a superseded transaction, and with it
    // the estimate's energy flags.
    if flags.contains(TransactionFlag::Superseded) {
        flags.forget_energy();
    }
    let (start, stop, energy) = match bounds {
        Some((start, stop)) => {
            let (energy, energy_flags) = transactions::energy(start, stop, &values);
            energy_flags.into_iter().for_each(|f| flags.add(TransactionFlag::Energy(f)));
            (Some(start), Some(stop), energy)
        }
        None => {
            flags.add(TransactionFlag::NoEnergyRegister);
            (None, None, None)
        }
    };
    query(
        "UPDATE transactions SET stopped_at = $1, stop_reason = $2, meter_start_wh = $3, meter_stop_wh = $4, energy_wh = $5, \
         flags = $6 WHERE id = $7",
    )
    .bind(format_timestamp(&e.timestamp))
    // OCPP 2.0.1 E06: an absent stoppedReason means Local.
    .bind(e.stopped_reason.as_deref().unwrap_or("Local"))
    .bind(start)
    .bind(stop)
    .bind(energy)
    .bind(flags.stored())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn device_event(conn: &mut Conn, station: &StationId, e: &DeviceEvent) -> Result<(), StoreError> {
    let component = DeviceVariable::qualified(&e.location.component, &e.location.component_instance);
    let variable = DeviceVariable::qualified(&e.location.variable, &e.location.variable_instance);
    let at = format_timestamp(&e.timestamp);
    let detail = format!("{component}.{variable}={}", e.actual_value);
    query(
        "INSERT INTO station_events (station_id, kind, status, request_id, detail, at) VALUES ($1, 'NotifyEvent', $2, $3, $4, $5)",
    )
    .bind(station.as_str())
    .bind(&e.trigger)
    .bind(e.event_id)
    .bind(&detail)
    .bind(&at)
    .execute(&mut *conn)
    .await?;
    let severity: Option<i64> = match e.monitor_id {
        Some(monitor) => {
            query_scalar("SELECT severity FROM monitors WHERE station_id = $1 AND monitor_id = $2")
                .bind(station.as_str())
                .bind(monitor)
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    // A component without an EVSE belongs to the whole station: EVSE 0, connector 0.
    let evse = e.location.evse_id.unwrap_or(0);
    let connector = e.location.connector_id.unwrap_or(0);
    let change = faults::assess_event(&e.trigger, e.cleared, &e.location.variable, &e.actual_value, severity);
    let open: Option<i64> = query_scalar(
        "SELECT id FROM faults WHERE station_id = $1 AND evse_id = $2 AND connector_id = $3 AND component = $4 \
         AND variable = $5 AND cleared_at IS NULL LIMIT 1",
    )
    .bind(station.as_str())
    .bind(evse)
    .bind(connector)
    .bind(&component)
    .bind(&variable)
    .fetch_optional(&mut *conn)
    .await?;
    match change {
        faults::EventChange::Record => {}
        faults::EventChange::Clear => {
            if open.is_some() {
                query(
                    "UPDATE faults SET cleared_at = $1 WHERE station_id = $2 AND evse_id = $3 AND connector_id = $4 \
                     AND component = $5 AND variable = $6 AND cleared_at IS NULL",
                )
                .bind(&at)
                .bind(station.as_str())
                .bind(evse)
                .bind(connector)
                .bind(&component)
                .bind(&variable)
                .execute(conn)
                .await?;
            }
        }
        faults::EventChange::Open(severity) => {
            if open.is_none() {
                query(
                    "INSERT INTO faults (station_id, evse_id, connector_id, component, variable, error_code, severity, status, \
                     tech_code, tech_info, info, event_id, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12)",
                )
                .bind(station.as_str())
                .bind(evse)
                .bind(connector)
                .bind(&component)
                .bind(&variable)
                .bind(format!("{component}.{variable}"))
                .bind(severity.as_str())
                .bind(&e.actual_value)
                .bind(e.tech_code.as_deref())
                .bind(e.tech_info.as_deref())
                .bind(e.event_id)
                .bind(&at)
                .execute(conn)
                .await?;
            }
        }
    }
    Ok(())
}

/// Key columns of the device model use '' and -1 for "absent", so that they can be compared
/// with `=` in both dialects (NULLs never compare equal).
fn key_text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn key_number(v: Option<i64>) -> i64 {
    v.unwrap_or(-1)
}

async fn report_part(conn: &mut Conn, op: &ReportPart) -> Result<(), StoreError> {
    let ReportPart { station, request_id, seq_no, tbc, entries, now } = op;
    let (request_id, seq_no, tbc) = (*request_id, *seq_no, *tbc);
    for entry in entries {
        let l = &entry.location;
        let c = entry.characteristics.as_ref();
        for a in &entry.attributes {
            query(
                "INSERT INTO device_model_staging (station_id, request_id, seq_no, component, component_instance, evse_id, \
                 connector_id, variable, variable_instance, attribute_type, value, mutability, persistent, constant, data_type, \
                 unit, min_limit, max_limit, values_list, supports_monitoring) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
            )
            .bind(station.as_str())
            .bind(request_id)
            .bind(seq_no)
            .bind(&l.component)
            .bind(key_text(&l.component_instance))
            .bind(key_number(l.evse_id))
            .bind(key_number(l.connector_id))
            .bind(&l.variable)
            .bind(key_text(&l.variable_instance))
            .bind(&a.attribute_type)
            .bind(a.value.as_deref())
            .bind(a.mutability.as_deref())
            .bind(a.persistent.map(i64::from))
            .bind(a.constant.map(i64::from))
            .bind(c.map(|c| c.data_type.as_str()))
            .bind(c.and_then(|c| c.unit.as_deref()))
            .bind(c.and_then(|c| c.min_limit))
            .bind(c.and_then(|c| c.max_limit))
            .bind(c.and_then(|c| c.values_list.as_deref()))
            .bind(c.map(|c| i64::from(c.supports_monitoring)))
            .execute(&mut *conn)
            .await?;
        }
    }
    if tbc {
        return Ok(());
    }
    // The last part: the whole report goes into the device model at once. Where a variable
    // appears in several parts, the latest part wins.
    query(
        "INSERT INTO device_model (station_id, component, component_instance, evse_id, connector_id, variable, variable_instance, \
         attribute_type, value, mutability, persistent, constant, data_type, unit, min_limit, max_limit, values_list, \
         supports_monitoring, updated_at) \
         SELECT s.station_id, s.component, s.component_instance, s.evse_id, s.connector_id, s.variable, s.variable_instance, \
         s.attribute_type, s.value, s.mutability, s.persistent, s.constant, s.data_type, s.unit, s.min_limit, s.max_limit, \
         s.values_list, s.supports_monitoring, $3 FROM device_model_staging s WHERE s.station_id = $1 AND s.request_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM device_model_staging t WHERE t.station_id = s.station_id AND t.request_id = s.request_id \
         AND t.component = s.component AND t.component_instance = s.component_instance AND t.evse_id = s.evse_id \
         AND t.connector_id = s.connector_id AND t.variable = s.variable AND t.variable_instance = s.variable_instance \
         AND t.attribute_type = s.attribute_type AND t.id > s.id) \
         ON CONFLICT (station_id, component, component_instance, evse_id, connector_id, variable, variable_instance, attribute_type) \
         DO UPDATE SET value = excluded.value, mutability = excluded.mutability, persistent = excluded.persistent, \
         constant = excluded.constant, data_type = excluded.data_type, unit = excluded.unit, min_limit = excluded.min_limit, \
         max_limit = excluded.max_limit, values_list = excluded.values_list, supports_monitoring = excluded.supports_monitoring, \
         updated_at = excluded.updated_at",
    )
    .bind(station.as_str())
    .bind(request_id)
    .bind(format_timestamp(now))
    .execute(&mut *conn)
    .await?;
    query("DELETE FROM device_model_staging WHERE station_id = $1 AND request_id = $2")
        .bind(station.as_str())
        .bind(request_id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn monitor(conn: &mut Conn, station: &StationId, m: &MonitorReport, now: &Timestamp) -> Result<(), StoreError> {
    let l = &m.location;
    query(
        "INSERT INTO monitors (station_id, monitor_id, component, component_instance, evse_id, connector_id, variable, \
         variable_instance, kind, value, severity, transaction_only, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (station_id, monitor_id) DO UPDATE SET component = excluded.component, \
         component_instance = excluded.component_instance, evse_id = excluded.evse_id, connector_id = excluded.connector_id, \
         variable = excluded.variable, variable_instance = excluded.variable_instance, kind = excluded.kind, \
         value = excluded.value, severity = excluded.severity, transaction_only = excluded.transaction_only, \
         updated_at = excluded.updated_at",
    )
    .bind(station.as_str())
    .bind(m.monitor_id)
    .bind(&l.component)
    .bind(key_text(&l.component_instance))
    .bind(key_number(l.evse_id))
    .bind(key_number(l.connector_id))
    .bind(&l.variable)
    .bind(key_text(&l.variable_instance))
    .bind(&m.kind)
    .bind(m.value)
    .bind(m.severity)
    .bind(i64::from(m.transaction_only))
    .bind(format_timestamp(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// A transaction that names a reservation uses it up (OCPP 1.6 §5.13, 2.0.1 H01.FR.23).
async fn consume_reservation(
    conn: &mut Conn,
    station: &StationId,
    reservation_id: i64,
    transaction_id: i64,
    now: &Timestamp,
) -> Result<(), StoreError> {
    query(
        "UPDATE reservations SET status = 'Used', transaction_id = $1, updated_at = $2 WHERE station_id = $3 \
         AND reservation_id = $4 AND status = 'Active'",
    )
    .bind(transaction_id)
    .bind(format_timestamp(now))
    .bind(station.as_str())
    .bind(reservation_id)
    .execute(conn)
    .await?;
    Ok(())
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
