//! The domain events by station (`event_index`, and the connector statuses apart in
//! `event_index_statuses`, which availability reads), written behind the events rather than
//! with each of them.
//!
//! An index on `events (station_id, id)` was an insert into a random leaf per event: a batch's
//! events come from as many stations as the batch has, and each went into its station's part of
//! the index, so every commit wrote about one more 4 KiB page per event (59 of a session
//! batch's 121 WAL pages, and 18 more for the connector statuses' partial index; BENCHMARKS.md,
//! "Issue 28: the events' station index written behind them"). Here the writer indexes the
//! events committed since it last did, in a transaction of its own, once `INDEX_CHUNK` of them
//! wait or the oldest has waited `INDEX_EVERY`: sorted by station, many events share a page.
//!
//! `event_index_mark` says how far the index reaches, committed with the entries it covers.
//! A read by station takes the indexed events up to the mark, and those after it from `events`
//! itself (ids above the mark: at most a chunk, scanned by the primary key). Nothing is lost to a
//! crash: the events are in `events`, and the index starts again from its committed mark.

use crate::db::{query, query_scalar, Conn};
use crate::StoreError;
use std::time::{Duration, Instant};

/// Index once this many events wait...
const INDEX_CHUNK: i64 = 2_048;
/// ... or the oldest of them has waited this long.
const INDEX_EVERY: Duration = Duration::from_millis(500);
/// At most this many events a run, so that the stations waiting meanwhile wait a few
/// milliseconds at most (a long backlog takes several runs).
const INDEX_MAX: i64 = 8_192;

/// How far the index reaches, and since when events have waited for it.
pub(crate) struct EventIndex {
    upto: i64,
    waiting_since: Option<Instant>,
}

impl EventIndex {
    /// With events up to `last` committed: those after the mark wait from now.
    pub(crate) async fn load(conn: &mut Conn, last: i64) -> Result<EventIndex, StoreError> {
        let upto = mark(conn).await?;
        Ok(EventIndex { upto, waiting_since: (last > upto).then(Instant::now) })
    }

    /// Events up to `last` are committed.
    pub(crate) fn committed(&mut self, last: i64) {
        if last > self.upto {
            self.waiting_since.get_or_insert_with(Instant::now);
        }
    }

    /// Whether a run is due, with events up to `last` committed.
    pub(crate) fn due(&self, last: i64) -> bool {
        let waiting = last - self.upto;
        waiting >= INDEX_CHUNK || (waiting > 0 && self.waiting_since.is_some_and(|t| t.elapsed() >= INDEX_EVERY))
    }

    /// Indexes the events after the mark, up to `last` (at most `INDEX_MAX` of them), in a
    /// transaction of its own; returns how far the index then reaches. The mark is read in that
    /// transaction, not trusted from memory: a commit reported failed may have happened, and
    /// one reported done may be lost to a database that restarted before making it durable
    /// (PostgreSQL's writer commits without waiting). On an error the caller rolls back, and
    /// a later run starts again from the mark.
    pub(crate) async fn run(&mut self, conn: &mut Conn, last: i64) -> Result<i64, StoreError> {
        conn.begin().await?;
        let from = mark(conn).await?;
        let upto = last.min(from + INDEX_MAX);
        if upto > from {
            // In station order, so that a station's entries go into its pages together.
            query(
                "INSERT INTO event_index (station_id, id) SELECT station_id, id FROM events \
                 WHERE id > $1 AND id <= $2 AND station_id IS NOT NULL ORDER BY station_id, id",
            )
            .bind(from)
            .bind(upto)
            .execute(&mut *conn)
            .await?;
            query(
                "INSERT INTO event_index_statuses (station_id, id) SELECT station_id, id FROM events \
                 WHERE id > $1 AND id <= $2 AND station_id IS NOT NULL AND kind = 'connector.status' \
                 ORDER BY station_id, id",
            )
            .bind(from)
            .bind(upto)
            .execute(&mut *conn)
            .await?;
            query("UPDATE event_index_mark SET id = $1").bind(upto).execute(&mut *conn).await?;
        }
        conn.commit().await?;
        self.upto = upto.max(from);
        self.waiting_since = (self.upto < last).then(Instant::now);
        Ok(self.upto)
    }
}

/// How far the index reaches: every event with a station and an id up to this is in it.
pub(crate) const MARK: &str = "SELECT id FROM event_index_mark";

async fn mark(conn: &mut Conn) -> Result<i64, StoreError> {
    query_scalar(MARK).fetch_one(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_due_after_a_chunk_or_a_wait() {
        let mut index = EventIndex { upto: 10, waiting_since: None };
        assert!(!index.due(10));
        index.committed(11);
        assert!(!index.due(11), "one event, just committed, waits");
        assert!(index.due(10 + INDEX_CHUNK), "a chunk does not");
        index.waiting_since = Some(Instant::now() - INDEX_EVERY);
        assert!(index.due(11), "nor does one that waited long enough");
        index.upto = 11;
        assert!(!index.due(11), "nothing left");
    }
}
