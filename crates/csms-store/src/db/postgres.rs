//! PostgreSQL's writer connection through sqlx: reading ids taken a block at a time, and meter
//! readings and samples gathered as binary `COPY` rows and sent before COMMIT.

use super::{reading_columns, sample_columns};
use crate::StoreError;
use sqlx::{Executor, PgConnection};

/// How many reading ids PostgreSQL's writer takes at a time: the step of `reading_ids`.
pub(crate) const READING_ID_BLOCK: i64 = 1024;

/// PostgreSQL's writer connection. Every statement is a round trip, so rows go in by the
/// hundred: the message log's blocks as they are flushed (on the log's connection), from arrays,
/// one per column (one statement text, prepared once, whatever the count), and meter readings
/// and their samples, gathered as the rows of a binary `COPY` and sent before COMMIT, or before
/// a statement that reads them (`Conn::send_gathered`): a batch's readings go in by one `COPY`
/// per table, whatever else the batch does between them. `COPY`
/// hands PostgreSQL each row's fields in their stored form; inserting from arrays had it build
/// sixteen arrays, unnest them and run the insert's executor row by row (`array_unnest`,
/// `array_recv` and the set-returning machinery were a tenth of its CPU at 1,000 stations). The
/// blocks, a thousand times fewer rows, are inserted in order (`WITH ORDINALITY`), so a
/// station's blocks get ascending ids.
pub(crate) struct PgWriter {
    pub(super) conn: PgConnection,
    pub(crate) samples: CopyRows,
    pub(crate) readings: CopyRows,
    /// The transaction's domain events (`writes::Events`).
    pub(crate) events: CopyRows,
    /// Reading ids taken from `reading_ids` and not used yet.
    reading_ids: std::ops::Range<i64>,
}

/// Rows in PostgreSQL's binary `COPY` format: a header, then per row the count of its fields
/// and each field as a length (−1 for NULL) and its bytes in the type's binary form (text as
/// UTF-8, `bigint` and `double precision` as 8 bytes, big-endian), then −1 as the trailer.
#[derive(Default)]
pub(crate) struct CopyRows {
    data: Vec<u8>,
    rows: usize,
    /// Fields still owed by the row being written (checked in debug builds).
    owed: usize,
}

impl CopyRows {
    const SIGNATURE: &'static [u8] = b"PGCOPY\n\xff\r\n\0";

    /// Starts a row of `fields` fields.
    pub(crate) fn row(&mut self, fields: usize) -> &mut Self {
        debug_assert_eq!(self.owed, 0, "the previous row is short of fields");
        if self.data.is_empty() {
            self.data.extend_from_slice(Self::SIGNATURE);
            self.data.extend_from_slice(&0i32.to_be_bytes()); // flags
            self.data.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        }
        self.data.extend_from_slice(&(fields as i16).to_be_bytes());
        self.rows += 1;
        self.owed = fields;
        self
    }

    fn field(&mut self, bytes: Option<&[u8]>) -> &mut Self {
        debug_assert!(self.owed > 0, "more fields than the row was started with");
        self.owed = self.owed.saturating_sub(1);
        match bytes {
            None => self.data.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                self.data.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                self.data.extend_from_slice(bytes);
            }
        }
        self
    }

    pub(crate) fn text(&mut self, value: Option<&str>) -> &mut Self {
        self.field(value.map(str::as_bytes))
    }

    pub(crate) fn bigint(&mut self, value: Option<i64>) -> &mut Self {
        self.field(value.map(i64::to_be_bytes).as_ref().map(|b| b.as_slice()))
    }

    pub(crate) fn double(&mut self, value: Option<f64>) -> &mut Self {
        self.field(value.map(|v| v.to_bits().to_be_bytes()).as_ref().map(|b| b.as_slice()))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The whole `COPY` data, trailer included.
    fn finish(mut self) -> Vec<u8> {
        debug_assert_eq!(self.owed, 0, "the last row is short of fields");
        self.data.extend_from_slice(&(-1i16).to_be_bytes());
        self.data
    }
}

impl PgWriter {
    pub(crate) async fn connect(url: &str) -> Result<PgWriter, StoreError> {
        let conn = <PgConnection as sqlx::Connection>::connect(url).await?;
        Ok(PgWriter {
            conn,
            samples: CopyRows::default(),
            readings: CopyRows::default(),
            events: CopyRows::default(),
            reading_ids: 0..0,
        })
    }

    /// The first of `count` consecutive reading ids (at most `READING_ID_BLOCK`): from the block
    /// last taken, or from a new block if too few are left. Each `nextval` of `reading_ids`
    /// (step `READING_ID_BLOCK`) is the first id of a block no other connection gets, so a
    /// sample's readings can be gathered for `COPY` with their ids. Ids taken by a transaction
    /// that rolls back are skipped, as a sequence's always are.
    pub(crate) async fn reading_ids(&mut self, count: usize) -> Result<i64, StoreError> {
        let count = count as i64;
        debug_assert!(count <= READING_ID_BLOCK, "{count} ids do not fit in one block");
        if self.reading_ids.end - self.reading_ids.start < count {
            let first: i64 = sqlx::query_scalar("SELECT nextval('reading_ids')").fetch_one(&mut self.conn).await?;
            self.reading_ids = first..first + READING_ID_BLOCK;
        }
        let first = self.reading_ids.start;
        self.reading_ids.start += count;
        Ok(first)
    }

    /// Runs a statement that returns nothing (a setting).
    pub(crate) async fn execute(&mut self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute(sql).await?;
        Ok(())
    }

    pub(crate) async fn close(self) {
        let _ = sqlx::Connection::close(self.conn).await;
    }

    /// Inserts the gathered samples and readings, if any.
    pub(super) async fn flush(&mut self) -> Result<(), StoreError> {
        for (rows, statement) in [
            (&mut self.samples, concat!("COPY samples (", sample_columns!(), ") FROM STDIN (FORMAT binary)")),
            (
                &mut self.readings,
                concat!("COPY readings (sample_id, id, ", reading_columns!(), ") FROM STDIN (FORMAT binary)"),
            ),
            (&mut self.events, "COPY events (id, at, kind, station_id, category, body) FROM STDIN (FORMAT binary)"),
        ] {
            if rows.is_empty() {
                continue;
            }
            let data = std::mem::take(rows).finish();
            let mut copy = self.conn.copy_in_raw(statement).await?;
            copy.send(data).await?;
            copy.finish().await?;
        }
        Ok(())
    }

    /// Forgets what was gathered (the transaction is rolled back).
    pub(super) fn discard(&mut self) {
        self.samples = CopyRows::default();
        self.readings = CopyRows::default();
        self.events = CopyRows::default();
    }

    /// Appends blocks to the message log, in order (so a station's blocks get ascending ids).
    pub(crate) async fn insert_blocks(&mut self, blocks: &[crate::log_blocks::Block<'_>]) -> Result<(), StoreError> {
        let conn = &mut self.conn;
        sqlx::query(
            "INSERT INTO message_blocks (station_id, frames, last_at, body) \
             SELECT s, f, l, b FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[]) \
             WITH ORDINALITY AS blocks (s, f, l, b, n) ORDER BY n",
        )
        .bind(blocks.iter().map(|b| b.station_id).collect::<Vec<&str>>())
        .bind(blocks.iter().map(|b| b.frames).collect::<Vec<i64>>())
        .bind(blocks.iter().map(|b| csms_core::clock::format_timestamp(&b.last_at)).collect::<Vec<String>>())
        .bind(blocks.iter().map(|b| b.body.as_slice()).collect::<Vec<&[u8]>>())
        .execute(conn)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_are_in_postgres_binary_format() {
        let mut rows = CopyRows::default();
        assert!(rows.is_empty());
        rows.row(4).text(Some("CP1")).bigint(Some(-2)).double(None).text(None);
        rows.row(1).double(Some(1.5));
        let data = rows.finish();
        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // flags, extension length
        expected.extend_from_slice(&[0, 4, 0, 0, 0, 3, b'C', b'P', b'1']);
        expected.extend_from_slice(&[0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]); // two NULLs
        expected.extend_from_slice(&[0, 1, 0, 0, 0, 8, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0xff, 0xff]); // trailer
        assert_eq!(data, expected);
    }
}
