//! The writer's own connection and the small query API the writes are written in.
//!
//! SQLite goes through rusqlite on the writer's thread: statements are prepared once and kept,
//! and every write runs where it is issued. sqlx's SQLite driver, which the API's reads still
//! use, hands every statement to a worker thread and back and re-binds parameters by name, which
//! cost more than the writes themselves (see BENCHMARKS.md). PostgreSQL stays on sqlx, which
//! speaks its protocol natively. `query(..).bind(..).execute(conn)` reads like sqlx's, so each
//! write is written once for both databases.

use crate::StoreError;
use rusqlite::types::Value;
use sqlx::any::AnyRow;
use sqlx::postgres::PgRow;
use sqlx::{Any, Executor, PgConnection, Postgres};
use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

/// Statements with a text made at run time that the SQLite writer keeps prepared, by text
/// (rusqlite's cache). Statements with a text in the program are kept in `SqliteConn`'s own.
const STATEMENT_CACHE: usize = 64;

self_cell::self_cell!(
    /// A SQLite connection and the statements prepared on it from texts in the program, by the
    /// text's address. rusqlite's statement cache finds a statement by its text: a SipHash of the
    /// whole text to take it out and another to put it back, a comparison of the text, and its
    /// bindings cleared each time, after the `$N` → `?N` translation of the text, also at each
    /// use; for the readings' multi-row inserts the texts are hundreds of bytes. A statement here
    /// is found by a pointer and a length, is reset after each use (by rusqlite) and keeps its
    /// bindings, which the next use replaces all of: 10 % fewer writer instructions per
    /// MeterValues, 3 % per operation of the session scenario (BENCHMARKS.md, tenth session).
    pub(crate) struct SqliteConn {
        owner: rusqlite::Connection,
        #[not_covariant]
        dependent: Prepared,
    }
);

/// The statements of a `SqliteConn`, by their text's address and length.
type Prepared<'c> = std::collections::HashMap<(usize, usize), Statement<'c>>;

/// A prepared statement and the names of its result columns (rows share them).
struct Statement<'c> {
    stmt: rusqlite::Statement<'c>,
    names: Arc<[Box<str>]>,
    /// What each parameter is bound to, where that is known (`Held`). SQLite keeps a
    /// statement's bindings from one execution to the next, so a parameter given what it
    /// already holds is not bound again.
    bound: Vec<Held>,
}

/// What a kept statement's parameter holds: a static text (`Arg::Static`, by its address and
/// length: a static text at the same address is the same text), an integer or NULL. Measurand
/// and phase codes, units and absent values repeat at the same places execution after
/// execution (a MeterValues binds 67 parameters, about 110 instructions each, and half of them
/// are these).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Held {
    Unknown,
    Static(usize, usize),
    Int(i64),
    Null,
}

impl SqliteConn {
    fn open(conn: rusqlite::Connection) -> SqliteConn {
        SqliteConn::new(conn, |_| Prepared::new())
    }

    fn conn(&self) -> &rusqlite::Connection {
        self.borrow_owner()
    }

    /// Binds `args` to the statement for `sql` (prepared the first time) and runs `f` on it.
    fn with_statement<T>(
        &mut self,
        sql: Sql,
        args: &[Arg<'_>],
        f: impl FnOnce(&mut rusqlite::Statement<'_>, &Arc<[Box<str>]>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Sql(text) = sql;
        self.with_dependent_mut(|conn, prepared| {
            let key = (text.as_ptr() as usize, text.len());
            let statement = match prepared.entry(key) {
                std::collections::hash_map::Entry::Occupied(found) => found.into_mut(),
                std::collections::hash_map::Entry::Vacant(room) => {
                    let stmt = conn.prepare(&sqlite_sql(text))?;
                    let bound = vec![Held::Unknown; stmt.parameter_count()];
                    room.insert(Statement { names: column_names(&stmt), stmt, bound })
                }
            };
            bind_sqlite(&mut statement.stmt, Some(&mut statement.bound), args)?;
            f(&mut statement.stmt, &statement.names)
        })
    }
}

fn column_names(stmt: &rusqlite::Statement<'_>) -> Arc<[Box<str>]> {
    stmt.column_names().into_iter().map(Box::from).collect()
}

/// A bound parameter. Nulls keep their type: PostgreSQL checks it.
#[derive(Debug, Clone)]
pub(crate) enum Arg<'a> {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<Cow<'a, str>>),
    /// A text that lives as long as the program (a unit the protocol names, say): SQLite copies
    /// every text it is given, about 550 instructions each, and a statement executed again with
    /// the same static text at the same place is not given it again.
    Static(&'static str),
    Blob(&'a [u8]),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<f64> for Arg<'_> {
    fn from(v: f64) -> Self {
        Arg::Real(Some(v))
    }
}
impl From<Option<f64>> for Arg<'_> {
    fn from(v: Option<f64>) -> Self {
        Arg::Real(v)
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Blob(v)
    }
}
impl<'a> From<&'a Cow<'static, str>> for Arg<'a> {
    fn from(v: &'a Cow<'static, str>) -> Self {
        match v {
            Cow::Borrowed(text) => Arg::Static(text),
            Cow::Owned(text) => Arg::Text(Some(Cow::Borrowed(text))),
        }
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(Cow::Borrowed(v)))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(Cow::Borrowed(v)))
    }
}
impl From<String> for Arg<'_> {
    fn from(v: String) -> Self {
        Arg::Text(Some(Cow::Owned(v)))
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v.map(Cow::Borrowed))
    }
}
impl From<Option<String>> for Arg<'_> {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v.map(Cow::Owned))
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref().map(Cow::Borrowed))
    }
}

/// The columns of a sample row, in the order both writers insert them.
macro_rules! sample_columns {
    () => {
        "id, last_reading_id, station_id, evse_id, connector_id, transaction_id, station_tx_id, timestamp, location, \
         context, format"
    };
}
pub(crate) use sample_columns;

/// A reading row's own columns, in the order both writers insert them (after `sample_id, id` on
/// PostgreSQL, where the writer gives them).
macro_rules! reading_columns {
    () => {
        "measurand, phase, unit, raw_value, value, normalised_unit, signed_data"
    };
}
pub(crate) use reading_columns;

/// How many reading ids PostgreSQL's writer takes at a time: the step of `reading_ids`.
pub(crate) const READING_ID_BLOCK: i64 = 1024;

/// SQLite `INSERT OR FAIL INTO … VALUES (…), (…), …` texts for 1 to `max` rows, written once.
/// A statement costs a lookup, a step through its start and end and a reset each time, so rows that
/// arrive together (a message's readings, a flush of the log) go in up to `max` at a time.
///
/// `OR FAIL`: a multi-row statement that may abort halfway makes SQLite keep a statement journal
/// (a copy of every page it changes, in a temporary file) to undo its own first rows. The writer
/// rolls back the whole transaction on any error, so that undo is never wanted.
pub(crate) struct MultiRow {
    texts: Vec<String>,
    shared: usize,
    per_row: usize,
}

impl MultiRow {
    /// `into` is what follows `INSERT OR FAIL INTO`: the table and its column list, whose first
    /// `shared` columns take the same values in every row (bound once, as parameters 1 to
    /// `shared`) and whose other `per_row` columns are bound row after row.
    pub(crate) fn new(into: &str, shared: usize, per_row: usize, max: usize) -> MultiRow {
        let texts = (1..=max)
            .map(|rows| {
                let tuples: Vec<String> = (0..rows)
                    .map(|row| {
                        let first = shared + row * per_row + 1;
                        let params: Vec<String> =
                            (1..=shared).chain(first..first + per_row).map(|p| format!("?{p}")).collect();
                        format!("({})", params.join(","))
                    })
                    .collect();
                format!("INSERT OR FAIL INTO {into} VALUES {}", tuples.join(","))
            })
            .collect();
        MultiRow { texts, shared, per_row }
    }

    pub(crate) fn max(&self) -> usize {
        self.texts.len()
    }

    /// How many parameters the statement for `rows` rows takes.
    pub(crate) fn params(&self, rows: usize) -> usize {
        self.shared + self.per_row * rows
    }

    /// The statement for `rows` rows, 1 to `max`.
    pub(crate) fn sql(&self, rows: usize) -> &str {
        &self.texts[rows - 1]
    }
}

/// The writer's connection.
pub(crate) enum Conn {
    Sqlite(Box<SqliteConn>),
    Postgres(Box<PgWriter>),
    /// After the writer has stopped.
    Closed,
}

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
    conn: PgConnection,
    pub(crate) samples: CopyRows,
    pub(crate) readings: CopyRows,
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
        Ok(PgWriter { conn, samples: CopyRows::default(), readings: CopyRows::default(), reading_ids: 0..0 })
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
    async fn flush(&mut self) -> Result<(), StoreError> {
        for (rows, statement) in [
            (&mut self.samples, concat!("COPY samples (", sample_columns!(), ") FROM STDIN (FORMAT binary)")),
            (
                &mut self.readings,
                concat!("COPY readings (sample_id, id, ", reading_columns!(), ") FROM STDIN (FORMAT binary)"),
            ),
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
    fn discard(&mut self) {
        self.samples = CopyRows::default();
        self.readings = CopyRows::default();
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

impl Conn {
    /// Opens the SQLite writer connection in WAL mode. `synchronous=NORMAL` leaves the WAL's
    /// fsync out of COMMIT: the writer does it after each commit and only then acknowledges (see
    /// `WalSync`), measured apart from the commit. Checkpoints still sync the WAL before copying
    /// it into the database, as in every mode.
    pub(crate) fn open_sqlite(path: &str) -> Result<Conn, StoreError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 2 MiB of page cache: the pages the writes touch (the tails of the tables, the indexes'
        // upper levels, the connectors and open transactions) stay in memory, and what misses is
        // in the OS's cache. Not more: a commit scans the cache's whole hash table
        // (`pcache1TruncateUnsafe`) whenever the transaction split an index page whose new
        // siblings SQLite renumbered, since it parks a page at the number past 1 GiB while it
        // swaps two, and the per-station indexes do that in most batches. The scan grows with
        // the cache: 14 % of the writer's time in the session benchmark at 64 MiB, 13–20 % at
        // 8 MiB; 2 MiB took the writer's CPU per call from 23 to 21 µs there (BENCHMARKS.md).
        conn.pragma_update(None, "cache_size", -2048)?;
        // The background checkpointer keeps the WAL copied and, past 64 MiB, has the writer
        // finish the copy so that the WAL starts over (`Checkpointer`). SQLite's own checkpoint
        // in a commit is left for a WAL twice that long, should that ever fail: it copies
        // everything the background has not and stalled every station for 30–40 ms.
        conn.pragma_update(None, "wal_autocheckpoint", 32768)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Conn::Sqlite(Box::new(SqliteConn::open(conn))))
    }

    /// The message log's own SQLite file (`LogWriter`): as the writer's, but with no background
    /// checkpointer; SQLite checkpoints it every 16 MiB, on the log's thread, where it holds
    /// nobody's answer back.
    pub(crate) fn open_sqlite_log(path: &str) -> Result<Conn, StoreError> {
        let conn = Self::open_sqlite(path)?;
        if let Conn::Sqlite(sqlite) = &conn {
            sqlite.conn().pragma_update(None, "wal_autocheckpoint", 4096)?;
        }
        Ok(conn)
    }

    /// SQLite: extends the WAL's file (`PATH-wal`) with zeros up to `bytes`, synced, so that the
    /// commits of a fresh WAL overwrite blocks already allocated. Appended to, the file grows,
    /// and each fsync after a commit must then also commit the file's new size to the file
    /// system's journal: about twice as long on this machine's disk (BENCHMARKS.md, sixteenth
    /// session). After the checkpointer first has the WAL start over it is overwritten in place
    /// anyway; this spares the first 64 MiB after each start the slower fsyncs. PostgreSQL
    /// zero-fills its WAL segments for the same reason.
    ///
    /// Safe for SQLite's format: only bytes past the file's end are written, while this
    /// connection holds the write lock, so no frame is being appended meanwhile; recovery stops
    /// at the first frame whose salt does not match, which a zeroed one never does.
    pub(crate) fn reserve_wal(&mut self, path: &str, bytes: u64) -> Result<(), String> {
        use std::os::unix::fs::FileExt;
        let Conn::Sqlite(sqlite) = self else { return Ok(()) };
        let conn = sqlite.conn();
        conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
        let written = (|| -> std::io::Result<()> {
            let file = match std::fs::OpenOptions::new().write(true).open(format!("{path}-wal")) {
                Ok(file) => file,
                // An in-memory database has no WAL file.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            let mut at = file.metadata()?.len();
            if at >= bytes {
                return Ok(());
            }
            let zeros = vec![0u8; 1 << 20];
            while at < bytes {
                let n = (bytes - at).min(zeros.len() as u64);
                file.write_all_at(&zeros[..n as usize], at)?;
                at += n;
            }
            file.sync_data()
        })();
        let ended = conn.execute_batch("ROLLBACK").map_err(|e| e.to_string());
        written.map_err(|e| format!("{path}-wal: {e}")).and(ended)
    }

    /// SQLite: a PASSIVE checkpoint on this connection. PostgreSQL: nothing.
    pub(crate) fn checkpoint(&mut self) -> Result<(), StoreError> {
        if let Conn::Sqlite(conn) = self {
            conn.conn().query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    pub(crate) fn is_sqlite(&self) -> bool {
        matches!(self, Conn::Sqlite(_))
    }

    /// SQLite: the rowid of the last row this connection inserted.
    pub(crate) fn last_insert_rowid(&self) -> Option<i64> {
        match self {
            Conn::Sqlite(c) => Some(c.conn().last_insert_rowid()),
            _ => None,
        }
    }

    /// The PostgreSQL connection, for its bulk inserts; `None` on SQLite.
    pub(crate) fn postgres(&mut self) -> Option<&mut PgWriter> {
        match self {
            Conn::Postgres(pg) => Some(pg),
            _ => None,
        }
    }

    pub(crate) async fn begin(&mut self) -> Result<(), StoreError> {
        self.batch(if self.is_sqlite() { "BEGIN IMMEDIATE" } else { "BEGIN" }).await
    }

    pub(crate) async fn commit(&mut self) -> Result<(), StoreError> {
        self.batch("COMMIT").await
    }

    /// Ends a failed transaction. SQLite may have rolled it back itself already.
    pub(crate) async fn rollback(&mut self) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(c) if c.conn().is_autocommit() => Ok(()),
            Conn::Postgres(pg) => {
                pg.discard();
                pg.conn.execute("ROLLBACK").await?;
                Ok(())
            }
            _ => self.batch("ROLLBACK").await,
        }
    }

    /// PostgreSQL: inserts the readings and samples gathered so far, before a statement that
    /// reads them. SQLite: nothing (they are in already).
    pub(crate) async fn send_gathered(&mut self) -> Result<(), StoreError> {
        match self {
            Conn::Postgres(pg) => pg.flush().await,
            _ => Ok(()),
        }
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(c) => c.conn().execute_batch(sql)?,
            Conn::Postgres(pg) => {
                // Before COMMIT, whatever was gathered.
                pg.flush().await?;
                pg.conn.execute(sql).await?;
            }
            Conn::Closed => return Err(StoreError::Closed),
        }
        Ok(())
    }
}

/// A row of a result: SQLite's values by column name, or sqlx's row.
pub(crate) enum Row {
    Sqlite { names: Arc<[Box<str>]>, values: Vec<Value> },
    Pg(PgRow),
    Any(AnyRow),
}

impl Row {
    pub(crate) fn try_get<T: Column, I: AsRef<str>>(&self, name: I) -> Result<T, StoreError> {
        let name = name.as_ref();
        match self {
            Row::Sqlite { names, values } => {
                let at = names
                    .iter()
                    .position(|n| n.as_ref() == name)
                    .ok_or_else(|| StoreError::Corrupt(format!("no column {name:?} in the result")))?;
                T::from_sqlite(&values[at]).ok_or_else(|| mistyped(name, &values[at]))
            }
            Row::Pg(row) => Ok(sqlx::Row::try_get::<T, &str>(row, name)?),
            Row::Any(row) => Ok(sqlx::Row::try_get::<T, &str>(row, name)?),
        }
    }

    fn first<T: Column>(&self) -> Result<T, StoreError> {
        match self {
            Row::Sqlite { names, values } => match values.first() {
                Some(v) => T::from_sqlite(v).ok_or_else(|| mistyped(names.first().map_or("?", |n| n), v)),
                None => Err(StoreError::Corrupt("a scalar query returned no column".into())),
            },
            Row::Pg(row) => Ok(sqlx::Row::try_get::<T, usize>(row, 0)?),
            Row::Any(row) => Ok(sqlx::Row::try_get::<T, usize>(row, 0)?),
        }
    }
}

fn mistyped(name: &str, value: &Value) -> StoreError {
    StoreError::Corrupt(format!("column {name:?} holds an unexpected {:?}", value.data_type()))
}

/// A Rust type a column can be read as, from either database.
pub(crate) trait Column:
    Sized + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
    fn from_sqlite(value: &Value) -> Option<Self>;
}

impl Column for i64 {
    fn from_sqlite(value: &Value) -> Option<Self> {
        match value {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }
}
impl Column for f64 {
    fn from_sqlite(value: &Value) -> Option<Self> {
        match value {
            Value::Real(r) => Some(*r),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl Column for String {
    fn from_sqlite(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl<T: Column> Column for Option<T> {
    fn from_sqlite(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_sqlite(v).map(Some),
        }
    }
}

/// What `execute` reports.
pub(crate) struct Done(u64);

impl Done {
    pub(crate) fn rows_affected(&self) -> u64 {
        self.0
    }
}

pub(crate) struct Query<'q> {
    sql: Sql,
    args: Vec<Arg<'q>>,
}

/// A statement's text, always in the program: kept prepared by its address (`SqliteConn`).
#[derive(Clone, Copy)]
pub(crate) struct Sql(&'static str);

/// A statement whose text is in the program.
pub(crate) fn query<'q>(sql: &'static str) -> Query<'q> {
    Query { sql: Sql(sql), args: Vec::new() }
}

impl<'q> Query<'q> {
    /// Room for `more` parameters, bound next (a statement of many rows grew its list a dozen
    /// times otherwise).
    pub(crate) fn reserve(mut self, more: usize) -> Self {
        self.args.reserve_exact(more);
        self
    }

    pub(crate) fn bind(mut self, value: impl Into<Arg<'q>>) -> Self {
        if self.args.capacity() == 0 {
            // Most statements take up to a dozen: one allocation, where growing from nothing
            // took three for a sample's eleven (700 instructions per MeterValues).
            self.args.reserve(12);
        }
        self.args.push(value.into());
        self
    }

    pub(crate) async fn execute(self, conn: &mut Conn) -> Result<Done, StoreError> {
        match conn {
            Conn::Sqlite(c) => c.with_statement(self.sql, &self.args, |stmt, _| Ok(Done(stmt.raw_execute()? as u64))),
            Conn::Postgres(pg) => Ok(Done(self.into_sqlx().execute(&mut pg.conn).await?.rows_affected())),
            Conn::Closed => Err(StoreError::Closed),
        }
    }

    pub(crate) async fn fetch_all(self, conn: &mut Conn) -> Result<Vec<Row>, StoreError> {
        match conn {
            Conn::Sqlite(c) => self.sqlite_rows(c, usize::MAX),
            Conn::Postgres(pg) => {
                Ok(self.into_sqlx().fetch_all(&mut pg.conn).await?.into_iter().map(Row::Pg).collect())
            }
            Conn::Closed => Err(StoreError::Closed),
        }
    }

    pub(crate) async fn fetch_optional(self, conn: &mut Conn) -> Result<Option<Row>, StoreError> {
        match conn {
            Conn::Sqlite(c) => Ok(self.sqlite_rows(c, 1)?.pop()),
            Conn::Postgres(pg) => Ok(self.into_sqlx().fetch_optional(&mut pg.conn).await?.map(Row::Pg)),
            Conn::Closed => Err(StoreError::Closed),
        }
    }

    pub(crate) async fn fetch_one(self, conn: &mut Conn) -> Result<Row, StoreError> {
        self.fetch_optional(conn).await?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// Up to `limit` rows of the result.
    fn sqlite_rows(self, c: &mut SqliteConn, limit: usize) -> Result<Vec<Row>, StoreError> {
        c.with_statement(self.sql, &self.args, |stmt, names| {
            let width = names.len();
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while out.len() < limit {
                let Some(row) = rows.next()? else { break };
                let values = (0..width).map(|i| row.get::<_, Value>(i)).collect::<Result<_, _>>()?;
                out.push(Row::Sqlite { names: names.clone(), values });
            }
            Ok(out)
        })
    }

    fn into_sqlx(self) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
        let mut q = sqlx::query(self.sql.0);
        for arg in self.args {
            q = match arg {
                Arg::Int(v) => q.bind(v),
                Arg::Real(v) => q.bind(v),
                Arg::Text(v) => q.bind(v.map(Cow::into_owned)),
                Arg::Static(v) => q.bind(v),
                Arg::Blob(v) => q.bind(v.to_vec()),
            };
        }
        q
    }
}

/// The statements are written with PostgreSQL's `$N` placeholders. SQLite reads `$N` as a name
/// and numbers names by first appearance; `?N` is its spelling of "parameter N", so the text is
/// translated before it is prepared (and the translation is the key of the statement cache).
fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut bytes = sql.as_bytes().to_vec();
    for at in 1..bytes.len() {
        if bytes[at - 1] == b'$' && bytes[at].is_ascii_digit() {
            bytes[at - 1] = b'?';
        }
    }
    // One ASCII byte replaced by another: still the UTF-8 it was.
    Cow::Owned(String::from_utf8(bytes).unwrap_or_else(|_| sql.to_string()))
}

/// Binds `args`. `bound`, for a statement kept between executions, says what parameters
/// already hold (`Held`) and is kept up to date.
fn bind_sqlite(
    stmt: &mut rusqlite::Statement<'_>,
    mut bound: Option<&mut [Held]>,
    args: &[Arg<'_>],
) -> Result<(), StoreError> {
    if stmt.parameter_count() != args.len() {
        return Err(StoreError::Corrupt(format!(
            "a statement takes {} parameters but {} were bound",
            stmt.parameter_count(),
            args.len()
        )));
    }
    for (at, arg) in args.iter().enumerate() {
        let index = at + 1;
        let this = match arg {
            Arg::Int(Some(v)) => Held::Int(*v),
            Arg::Int(None) | Arg::Real(None) | Arg::Text(None) => Held::Null,
            Arg::Static(v) => Held::Static(v.as_ptr() as usize, v.len()),
            Arg::Real(Some(_)) | Arg::Text(Some(_)) | Arg::Blob(_) => Held::Unknown,
        };
        if let Some(bound) = bound.as_deref_mut() {
            if this != Held::Unknown && bound[at] == this {
                continue;
            }
            // Forgotten first: a failed bind leaves the parameter unknown.
            bound[at] = Held::Unknown;
        }
        match arg {
            Arg::Int(v) => stmt.raw_bind_parameter(index, v)?,
            Arg::Real(v) => stmt.raw_bind_parameter(index, v)?,
            Arg::Text(v) => stmt.raw_bind_parameter(index, v.as_deref())?,
            Arg::Static(v) => stmt.raw_bind_parameter(index, v)?,
            Arg::Blob(v) => stmt.raw_bind_parameter(index, v)?,
        }
        if let Some(bound) = bound.as_deref_mut() {
            bound[at] = this;
        }
    }
    Ok(())
}

/// `query` for a single column.
pub(crate) struct QueryScalar<'q, T> {
    inner: Query<'q>,
    _type: PhantomData<T>,
}

pub(crate) fn query_scalar<'q, T: Column>(sql: &'static str) -> QueryScalar<'q, T> {
    QueryScalar { inner: query(sql), _type: PhantomData }
}

impl<'q, T: Column> QueryScalar<'q, T> {
    pub(crate) fn bind(mut self, value: impl Into<Arg<'q>>) -> Self {
        self.inner = self.inner.bind(value);
        self
    }

    pub(crate) async fn fetch_optional(self, conn: &mut Conn) -> Result<Option<T>, StoreError> {
        self.inner.fetch_optional(conn).await?.map(|r| r.first()).transpose()
    }

    pub(crate) async fn fetch_one(self, conn: &mut Conn) -> Result<T, StoreError> {
        self.inner.fetch_one(conn).await?.first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_statements_share_their_first_parameters() {
        let insert = MultiRow::new("t (a, b, c)", 1, 2, 3);
        assert_eq!(insert.max(), 3);
        assert_eq!(insert.sql(1), "INSERT OR FAIL INTO t (a, b, c) VALUES (?1,?2,?3)");
        assert_eq!(insert.sql(3), "INSERT OR FAIL INTO t (a, b, c) VALUES (?1,?2,?3),(?1,?4,?5),(?1,?6,?7)");
    }

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

    #[test]
    fn placeholders_are_numbered_for_sqlite() {
        assert_eq!(sqlite_sql("SELECT $2, '$', $10 WHERE a = $1"), "SELECT ?2, '$', ?10 WHERE a = ?1");
    }

    #[tokio::test]
    async fn parameters_bind_by_number_whatever_their_order() {
        let dir = tempfile::tempdir().expect("dir");
        let mut conn = Conn::open_sqlite(&dir.path().join("p.db").display().to_string()).expect("open");
        let row =
            query("SELECT $2 AS b, $1 AS a, $2 AS b2").bind(1_i64).bind("two").fetch_one(&mut conn).await.expect("row");
        assert_eq!(row.try_get::<i64, _>("a").expect("a"), 1);
        assert_eq!(row.try_get::<String, _>("b").expect("b"), "two");
        assert_eq!(row.try_get::<String, _>("b2").expect("b2"), "two");
        let missing = query("SELECT $1, $2").bind(1_i64).fetch_one(&mut conn).await;
        assert!(matches!(missing, Err(StoreError::Corrupt(_))), "a missing value is refused");
        let none: Option<i64> = query_scalar("SELECT $1").bind(None::<i64>).fetch_one(&mut conn).await.expect("null");
        assert_eq!(none, None);
    }

    /// A static text is not bound again where the statement already holds it; anything else
    /// bound at that place in between makes it bound again.
    #[tokio::test]
    async fn static_texts_are_bound_once_and_replaced_when_anything_else_comes() {
        let dir = tempfile::tempdir().expect("dir");
        let mut conn = Conn::open_sqlite(&dir.path().join("s.db").display().to_string()).expect("open");
        query("CREATE TABLE t (n INTEGER, unit TEXT)").execute(&mut conn).await.expect("table");
        let owned = |text: &str| -> Cow<'static, str> { Cow::Owned(text.to_string()) };
        let units: [Cow<'static, str>; 8] = [
            Cow::Borrowed("W"),
            Cow::Borrowed("W"),
            owned("kW"),
            Cow::Borrowed("W"),
            owned("W"),
            Cow::Borrowed("V"),
            Cow::Borrowed("V"),
            owned("Celsius"),
        ];
        for (n, unit) in units.iter().enumerate() {
            query("INSERT INTO t (n, unit) VALUES ($1, $2)")
                .bind(n as i64)
                .bind(unit)
                .execute(&mut conn)
                .await
                .expect("insert");
        }
        // A plain text and a null at a place that held a static text.
        query("INSERT INTO t (n, unit) VALUES ($1, $2)")
            .bind(8_i64)
            .bind(Some("A"))
            .execute(&mut conn)
            .await
            .expect("text");
        query("INSERT INTO t (n, unit) VALUES ($1, $2)")
            .bind(9_i64)
            .bind(None::<&str>)
            .execute(&mut conn)
            .await
            .expect("null");
        query("INSERT INTO t (n, unit) VALUES ($1, $2)")
            .bind(10_i64)
            .bind(&units[5])
            .execute(&mut conn)
            .await
            .expect("again");
        let rows = query("SELECT unit FROM t ORDER BY n").fetch_all(&mut conn).await.expect("rows");
        let stored: Vec<Option<String>> = rows.iter().map(|r| r.try_get("unit").expect("unit")).collect();
        let expected = ["W", "W", "kW", "W", "W", "V", "V", "Celsius", "A"].map(|u| Some(u.to_string()));
        assert_eq!(stored[..9], expected);
        assert_eq!(stored[9..], [None, Some("V".to_string())]);
    }

    /// Integers and NULLs are not bound again where the statement already holds them either;
    /// anything else at that place in between makes them bound again.
    #[tokio::test]
    async fn integers_and_nulls_are_bound_once_and_replaced_when_anything_else_comes() {
        let dir = tempfile::tempdir().expect("dir");
        let mut conn = Conn::open_sqlite(&dir.path().join("s.db").display().to_string()).expect("open");
        query("CREATE TABLE u (n INTEGER, v)").execute(&mut conn).await.expect("table");
        let values = [
            Arg::Int(Some(1)),
            Arg::Int(Some(1)),
            Arg::Int(None),
            Arg::Text(None),
            Arg::Int(Some(1)),
            Arg::Real(Some(2.5)),
            Arg::Int(Some(1)),
            Arg::Text(Some(Cow::Borrowed("x"))),
            Arg::Real(None),
            Arg::Int(Some(2)),
            Arg::Int(Some(2)),
            Arg::Static("W"),
            Arg::Int(Some(2)),
            Arg::Int(Some(-3)),
        ];
        for (n, value) in values.iter().enumerate() {
            let mut insert = query("INSERT INTO u (n, v) VALUES ($1, $2)").bind(n as i64);
            insert.args.push(value.clone());
            insert.execute(&mut conn).await.expect("insert");
        }
        let rows = query("SELECT quote(v) AS q FROM u ORDER BY n").fetch_all(&mut conn).await.expect("rows");
        let stored: Vec<String> = rows.iter().map(|r| r.try_get("q").expect("q")).collect();
        let expected = ["1", "1", "NULL", "NULL", "1", "2.5", "1", "'x'", "NULL", "2", "2", "'W'", "2", "-3"];
        assert_eq!(stored, expected);
    }
}
