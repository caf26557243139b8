//! Reads of the domain events (`csms_core::events`): the stored ones after an id, for a client
//! that resumes, and the live ones as the writer makes them durable.

use crate::writes::StoredEvent;
use crate::{Store, StoreError};
use csms_core::events::{EventKind, KindFilter};
use sqlx::Row;
use std::sync::Arc;

/// Which events a client follows: of one station, of some kinds, of a fault category. An event
/// of another family has no category, so a category asks for fault events only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub station_id: Option<String>,
    pub kinds: KindFilter,
    pub category: Option<String>,
}

impl EventFilter {
    pub fn matches(&self, event: &StoredEvent) -> bool {
        self.station_id.as_ref().is_none_or(|s| event.station_id.as_ref() == Some(s))
            && EventKind::parse(&event.kind).is_some_and(|k| self.kinds.matches(k))
            && self.category.as_ref().is_none_or(|c| event.category.as_ref() == Some(c))
    }
}

/// How many stations' index entries one transaction of `prune_events` deletes: one commit (and
/// on SQLite one sync) per station was a lock taken from the writer as often.
const PRUNE_STATIONS: usize = 256;

impl Store {
    /// Up to `limit` stored events after `after`, oldest first.
    pub async fn events_after(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // The kinds asked for, as a list bound in one text: `,fault.opened,fault.cleared,`.
        let kinds = (!filter.kinds.is_all()).then(|| {
            let names: Vec<&str> = filter.kinds.kinds().iter().map(|k| k.as_str()).collect();
            format!(",{},", names.join(","))
        });
        // A station's are read through its index (`event_index`) up to the mark; the rest, and
        // every station's, from the table itself: after the mark that is a short scan by the key.
        let (mut rows, mut from) = (Vec::new(), after);
        if let Some(station) = filter.station_id.as_deref() {
            let mark = self.event_index_mark().await?;
            rows = sqlx::query(
                "SELECT e.id, e.kind, e.station_id, e.category, e.body \
                 FROM event_index x JOIN events e ON e.id = x.id \
                 WHERE x.station_id = $1 AND x.id > $2 AND x.id <= $3 \
                 AND ($4 IS NULL OR e.category = $4) AND ($5 IS NULL OR $5 LIKE '%,' || e.kind || ',%') \
                 ORDER BY x.id LIMIT $6",
            )
            .bind(station)
            .bind(after)
            .bind(mark)
            .bind(filter.category.as_deref())
            .bind(kinds.as_deref())
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
            from = after.max(mark);
        }
        let more = limit - rows.len() as i64;
        if more > 0 {
            rows.extend(
                sqlx::query(
                    "SELECT id, kind, station_id, category, body FROM events WHERE id > $1 \
                     AND ($2 IS NULL OR station_id = $2) AND ($3 IS NULL OR category = $3) \
                     AND ($4 IS NULL OR $4 LIKE '%,' || kind || ',%') ORDER BY id LIMIT $5",
                )
                .bind(from)
                .bind(filter.station_id.as_deref())
                .bind(filter.category.as_deref())
                .bind(kinds)
                .bind(more)
                .fetch_all(self.pool())
                .await?,
            );
        }
        rows.iter()
            .map(|r| {
                Ok(StoredEvent {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    station_id: r.try_get("station_id")?,
                    category: r.try_get("category")?,
                    json: r.try_get("body")?,
                })
            })
            .collect()
    }

    /// How far the events are indexed by station (`event_index`): those with larger ids are
    /// read from `events` itself.
    pub(crate) async fn event_index_mark(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(crate::event_index::MARK).fetch_one(self.pool()).await?)
    }

    /// The id of the newest stored event (0 when there is none).
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM events").fetch_one(self.pool()).await?;
        Ok(last.unwrap_or(0))
    }

    /// Events as they become durable, in id order. A subscriber that falls more than
    /// `EVENT_BUFFER` events behind is told it lagged, and reads what it missed from the store.
    pub fn subscribe_events(&self) -> tokio::sync::broadcast::Receiver<Arc<StoredEvent>> {
        self.events.subscribe()
    }

    /// Deletes events recorded before `before` (an RFC 3339 text, as stored), all but the newest:
    /// the writer numbers on from the largest id stored, so ids never start over. Ids follow the
    /// time events were recorded (one writer numbers them as it commits), so the first id to
    /// keep is found by halving the range of ids, each step one lookup by the primary key, and
    /// no index on the time is needed.
    pub async fn prune_events(&self, before: &str) -> Result<u64, StoreError> {
        let newest = self.last_event_id().await?;
        // The first id at or after `before`, in (low, high]: `high` is kept in any case.
        let (mut low, mut high) = (0_i64, newest);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            let at: Option<String> = sqlx::query_scalar("SELECT at FROM events WHERE id >= $1 ORDER BY id LIMIT 1")
                .bind(middle)
                .fetch_optional(self.pool())
                .await?;
            match at {
                Some(at) if at.as_str() < before => low = middle,
                _ => high = middle,
            }
        }
        let done = sqlx::query("DELETE FROM events WHERE id < $1").bind(high).execute(self.pool()).await?;
        // The index's entries of those events, a station at a time (its key begins with the
        // station), `PRUNE_STATIONS` stations a transaction: the stations are found by skipping
        // from one to the next in the key.
        let stations: Vec<String> = sqlx::query_scalar(
            "WITH RECURSIVE s (station_id) AS ( \
               SELECT MIN(station_id) FROM event_index \
               UNION ALL SELECT (SELECT MIN(station_id) FROM event_index x WHERE x.station_id > s.station_id) \
               FROM s WHERE s.station_id IS NOT NULL) \
             SELECT station_id FROM s WHERE station_id IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        for some in stations.chunks(PRUNE_STATIONS) {
            let mut tx = self.pool().begin().await?;
            for station in some {
                for table in [
                    "DELETE FROM event_index WHERE station_id = $1 AND id < $2",
                    "DELETE FROM event_index_statuses WHERE station_id = $1 AND id < $2",
                ] {
                    sqlx::query(table).bind(station).bind(high).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        }
        Ok(done.rows_affected())
    }
}
