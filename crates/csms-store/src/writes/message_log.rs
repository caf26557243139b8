//! The message log's writes, run on the log's own thread: blocks inserted, counted, capped and
//! pruned.

use crate::db::{query, Conn, MultiRow};
use crate::log_blocks::Block;
use crate::StoreError;
use csms_core::clock::format_timestamp;
use std::collections::HashMap;
use std::sync::LazyLock;

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
/// `max_per_station` frames newer than it, as in `Maintenance::Prune`: those whose frames, counted
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
