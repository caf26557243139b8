//! OCPP 2.0.1 TransactionEvent: an event matched to its transaction (retries, reused ids), its
//! tokens judged, its energy settled from the register readings.

use super::authorization::{load_token, other_transaction};
use super::events::sample_summary;
use super::readings::{energy_registers, insert_readings, Place};
use super::reservations::consume_reservation;
use super::transactions::{close_superseded, stored_flags, SUPERSEDED_REASON, V201};
use super::{Events, KnownTxRows, Settling};
use crate::db::{query, query_scalar, Conn};
use crate::{terms, StoreError};
use csms_core::authorization::{self, AuthDecision, AuthStatus, OtherTransaction, Purpose, TokenType};
use csms_core::clock::format_timestamp;
use csms_core::events::EventKind;
use csms_core::metering::ReadingContext;
use csms_core::ops::*;
use csms_core::transactions::{self, EventToken, Flags, TransactionFlag, TxEventType};

/// The 2.0.1 idToken type that means "no authorization was done" (OCPP 2.0.1 §2.28): nothing
/// to look up, and nothing to refuse.
const NO_AUTHORIZATION: &str = "NoAuthorization";

pub(super) async fn transaction_event(
    conn: &mut Conn,
    known: &mut KnownTxRows,
    ev: &mut Events,
    settling: &mut Settling,
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
                let fresh = decide_event_token(conn, e, id, Purpose::Continue).await?;
                // A Started event is answered with the status its transaction was started with.
                let auth = match (fresh, started_event) {
                    (Some(fresh), true) => {
                        Some(transactions::answer_again(fresh, start_status.as_deref().and_then(AuthStatus::parse)))
                    }
                    (fresh, _) => fresh,
                };
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
        close_superseded(conn, known, settling, &e.station, (Some(evse), None), V201, Some(id), &at).await?;
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
    let (start_token, stop_token) = match transactions::event_token(known_token.as_deref(), token) {
        EventToken::Start(t) => (Some(t), None),
        EventToken::Stop(t) => (None, Some(t)),
        EventToken::Unchanged => (None, None),
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
         stop_id_token = COALESCE($14, stop_id_token), flags = $15, \
         last_auth_status = COALESCE($17, last_auth_status), \
         end_gen = end_gen + CASE WHEN $1 = 'Ended' THEN 1 ELSE 0 END WHERE id = $16",
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
    .bind(auth_status)
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
    settle_energy(conn, ev, id, e, &mut flags).await?;
    if e.event_type == TxEventType::Ended {
        // Counted by the UPDATE above (`end_gen`).
        settling.ended(id);
    }
    let mut data = sample_summary(&e.readings);
    data.insert("transaction_id".into(), id.into());
    data.insert("evse_id".into(), place.evse_id.into());
    data.insert("connector_id".into(), place.connector_id.into());
    data.insert("seq_no".into(), e.seq_no.into());
    data.insert("trigger_reason".into(), e.trigger_reason.as_str().into());
    data.insert("charging_state".into(), e.charging_state.as_deref().into());
    let kind = match e.event_type {
        TxEventType::Started => EventKind::TransactionStarted,
        TxEventType::Updated => EventKind::TransactionUpdated,
        TxEventType::Ended => {
            let row = query("SELECT energy_wh, stop_reason FROM transactions WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
            data.insert("energy_wh".into(), row.try_get::<Option<f64>, _>("energy_wh")?.into());
            data.insert("reason".into(), row.try_get::<Option<String>, _>("stop_reason")?.into());
            EventKind::TransactionEnded
        }
    };
    ev.push(kind, station, data.into());
    Ok(TxEventRecorded { transaction_id: id, auth })
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
        feed(r.measurand.as_str());
        feed(r.phase.map_or("", |p| p.as_str()));
        feed(r.location.as_str());
        feed(r.context.as_str());
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
async fn settle_energy(
    conn: &mut Conn,
    ev: &mut Events,
    id: i64,
    e: &TxEvent,
    flags: &mut Flags,
) -> Result<(), StoreError> {
    let rows = energy_registers(conn, id).await?;
    let registers: Vec<transactions::Register> = rows
        .iter()
        .map(|r| {
            let code: i64 = r.try_get("context")?;
            let context = terms::term(code)
                .and_then(ReadingContext::parse)
                .ok_or_else(|| StoreError::Corrupt(format!("reading context {code} is no context")))?;
            Ok(transactions::Register { wh: r.try_get("value")?, context })
        })
        .collect::<Result<_, StoreError>>()?;
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
    .execute(&mut *conn)
    .await?;
    if e.stopped_reason.as_deref() == Some(super::transactions::POWER_LOSS) {
        // The EVSE and connector the transaction was on, if this event does not name them.
        let row = query("SELECT evse_id, connector_id FROM transactions WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        let evse_id: Option<i64> = row.try_get("evse_id")?;
        let connector_id: Option<i64> = row.try_get("connector_id")?;
        let place = (e.evse_id.or(evse_id).unwrap_or(0), e.connector_id.or(connector_id).unwrap_or(0));
        let stopped_at = format_timestamp(&e.timestamp);
        super::faults::power_loss(conn, ev, e.station.as_str(), place, &stopped_at, &format_timestamp(&e.now), id)
            .await?;
    }
    Ok(())
}
