//! Transactions shared by both versions, and OCPP 1.6's StartTransaction and StopTransaction: a
//! station's transaction found by its id, superseded ones closed, the stored flags.

use super::authorization::{load_token, other_transaction};
use super::readings::{energy_registers, insert_readings, Place};
use super::reservations::consume_reservation;
use super::{parse_stored_time, Events, KnownTxRows, Settling};
use crate::db::{query, query_scalar, Conn, Row};
use crate::StoreError;
use csms_core::authorization::{self, AuthStatus, OtherTransaction, Purpose};
use csms_core::clock::format_timestamp;
use csms_core::events::EventKind;
use csms_core::ops::*;
use csms_core::station::{ProtocolVersion, StationId};
use csms_core::transactions::{self, Flags, StartJudgement, StoredStart, TransactionFlag};

/// The protocol versions as transactions record them: a transaction id of one version never
/// names a transaction of the other.
pub(super) const V16: &str = ProtocolVersion::V16.as_str();
pub(super) const V201: &str = ProtocolVersion::V201.as_str();

/// The newest transaction a station knows under `station_tx_id`.
pub(super) struct KnownTx {
    pub(super) id: i64,
    pub(super) stopped: bool,
    /// Closed by Ström because a newer transaction began on its connector or EVSE, and its own
    /// stop has not come yet: its end is an estimate.
    pub(super) superseded: bool,
    pub(super) meter_start_wh: Option<f64>,
    pub(super) connector_id: Option<i64>,
    /// The token (1.6 idTag) it was started with.
    pub(super) id_token: Option<String>,
}

pub(super) async fn find_transaction(
    conn: &mut Conn,
    station: &StationId,
    station_tx_id: &str,
    ocpp_version: &'static str,
) -> Result<Option<KnownTx>, StoreError> {
    let row = query(
        "SELECT id, stopped_at, stop_reason, meter_start_wh, connector_id, id_token FROM transactions WHERE station_id = $1 \
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
            id_token: r.try_get("id_token")?,
        })
    })
    .transpose()
}

/// The stop reason of such a transaction until the station's own stop replaces the estimate.
pub(super) const SUPERSEDED_REASON: &str = "Superseded";

/// Closes the transactions of `station` that are still open on the connector (1.6) or EVSE
/// (2.0.1) where a newer one, `newer`, begins at `started_at`: the station never ended them (a
/// StopTransaction or Ended lost, or never sent), and one connector or EVSE charges one
/// transaction at a time. Each is stopped at its last register reading, with the energy up to it,
/// and flagged `superseded` (`transactions::superseded_energy`), so that it no longer counts as
/// charging, nor blocks its token with ConcurrentTx.
#[allow(clippy::too_many_arguments)]
pub(super) async fn close_superseded(
    conn: &mut Conn,
    known: &mut KnownTxRows,
    settling: &mut Settling,
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
             flags = $4, end_gen = end_gen + 1 WHERE id = $5",
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
        settling.ended(id);
    }
    Ok(())
}

pub(super) async fn start_transaction(
    conn: &mut Conn,
    known: &mut KnownTxRows,
    ev: &mut Events,
    settling: &mut Settling,
    s: &StartTx,
) -> Result<Started, StoreError> {
    let station = s.station.as_str();
    let started_at = format_timestamp(&s.timestamp);
    let token = load_token(conn, &s.id_token).await?;
    // A retried StartTransaction (the station never saw our answer) carries the same facts under
    // a new message id: it gets the transaction it already has (CONFORMANCE X-07). The rows that
    // may be it are this station's 1.6 ones on the connector with the same start time; the rule
    // decides (`transactions::judge_start`).
    let rows = query(
        "SELECT id, connector_id, id_token, meter_start_wh, started_at, start_auth_status FROM transactions \
         WHERE station_id = $1 AND connector_id = $2 AND started_at = $3 AND ocpp_version = '1.6' \
         AND id_token IS NOT NULL AND meter_start_wh IS NOT NULL ORDER BY id",
    )
    .bind(station)
    .bind(s.connector_id)
    .bind(&started_at)
    .fetch_all(&mut *conn)
    .await?;
    let tags: Vec<String> = rows.iter().map(|r| r.try_get("id_token")).collect::<Result<_, _>>()?;
    let mut stored = Vec::with_capacity(rows.len());
    for (row, id_tag) in rows.iter().zip(&tags) {
        let started_at: String = row.try_get("started_at")?;
        let status: Option<String> = row.try_get("start_auth_status")?;
        stored.push(StoredStart {
            transaction_id: row.try_get("id")?,
            connector_id: row.try_get("connector_id")?,
            id_tag,
            meter_start_wh: row.try_get("meter_start_wh")?,
            started_at: parse_stored_time(&started_at)?,
            start_auth_status: status.as_deref().and_then(AuthStatus::parse),
        });
    }
    let start = transactions::StartRequest {
        connector_id: s.connector_id,
        id_tag: &s.id_token,
        meter_start_wh: s.meter_start_wh,
        timestamp: s.timestamp,
    };
    if let StartJudgement::Retry { transaction_id, auth } =
        transactions::judge_start(&stored, &start, token.as_ref(), s.now)
    {
        return Ok(Started { transaction_id, auth });
    }
    // The connector's earlier transaction, if the station never stopped it, ends here (first:
    // it must not make this start ConcurrentTx).
    close_superseded(conn, known, settling, &s.station, (None, Some(s.connector_id)), V16, None, &started_at).await?;
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
    //
    // The status is stored as the station is told it (1.6 says Invalid for an unknown tag), with
    // Ström's own decision beside it when that is finer.
    let answered = auth.status.as_answered(ProtocolVersion::V16);
    let reason = (answered != auth.status).then_some(auth.status.as_str());
    let sqlite = conn.is_sqlite();
    let insert = query(if sqlite {
        "INSERT INTO transactions (station_id, connector_id, id_token, start_auth_status, started_at, \
         meter_start_wh, reservation_id, created_at, start_auth_reason, ocpp_version, id, station_tx_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '1.6', $10, $11)"
    } else {
        "INSERT INTO transactions (id, station_tx_id, station_id, connector_id, id_token, start_auth_status, \
         started_at, meter_start_wh, reservation_id, created_at, start_auth_reason, ocpp_version) \
         SELECT n, CAST(n AS TEXT), $1, $2, $3, $4, $5, $6, $7, $8, $9, '1.6' \
         FROM (SELECT nextval(pg_get_serial_sequence('transactions', 'id')) AS n) next_id RETURNING id"
    })
    .bind(station)
    .bind(s.connector_id)
    .bind(&s.id_token)
    .bind(answered.as_str())
    .bind(&started_at)
    .bind(s.meter_start_wh)
    .bind(s.reservation_id)
    .bind(format_timestamp(&s.now))
    .bind(reason);
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
    ev.push(
        EventKind::TransactionStarted,
        station,
        serde_json::json!({"transaction_id": id, "evse_id": 0, "connector_id": s.connector_id,
            "started_at": started_at, "meter_start_wh": s.meter_start_wh, "auth_status": answered.as_str()}),
    );
    Ok(Started { transaction_id: id, auth })
}

/// The stop reason of a transaction the station ended because it lost its power (1.6 Reason,
/// 2.0.1 ReasonEnumType).
pub(super) const POWER_LOSS: &str = "PowerLoss";

pub(super) async fn stop_transaction(
    conn: &mut Conn,
    known: &mut KnownTxRows,
    ev: &mut Events,
    settling: &mut Settling,
    s: &StopTx,
) -> Result<Stopped, StoreError> {
    let found = find_transaction(conn, &s.station, &s.station_tx_id, V16).await?;
    let tag = transactions::stop_tag(found.as_ref().and_then(|t| t.id_token.as_deref()), s.id_token.as_deref());
    let auth = match tag.judged() {
        Some(tag) => Some(authorization::decide(load_token(conn, tag).await?.as_ref(), None, s.now, false)),
        None => None,
    };
    let stopped_at = format_timestamp(&s.timestamp);
    let (id, meter_start, connector, mut flags) = match found {
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
         flags = $6, last_auth_status = COALESCE($8, last_auth_status), end_gen = end_gen + 1 WHERE id = $7",
    )
    .bind(&stopped_at)
    .bind(s.meter_stop_wh)
    .bind(energy)
    .bind(&s.reason)
    .bind(tag.stored())
    .bind(flags.stored())
    .bind(id)
    .bind(auth.as_ref().map(|a| a.status.as_answered(ProtocolVersion::V16).as_str()))
    .execute(&mut *conn)
    .await?;
    if s.reason == POWER_LOSS {
        let place = (0, connector.unwrap_or(0));
        super::faults::power_loss(conn, ev, s.station.as_str(), place, &stopped_at, &format_timestamp(&s.now), id)
            .await?;
    }
    ev.push(
        EventKind::TransactionEnded,
        s.station.as_str(),
        serde_json::json!({"transaction_id": id, "evse_id": 0, "connector_id": connector, "stopped_at": stopped_at,
            "energy_wh": energy, "reason": s.reason}),
    );
    settling.ended(id);
    // Meter values after the stop are rare; the entry would only take room.
    known.forget(s.station.as_str(), &s.station_tx_id);
    Ok(Stopped { auth })
}

/// A transaction's flags as its row stores them (`flags`).
pub(crate) fn stored_flags(row: &Row) -> Result<Flags, StoreError> {
    let text: String = row.try_get("flags")?;
    Flags::parse(&text).map_err(StoreError::Corrupt)
}
