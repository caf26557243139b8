//! SQLite through rusqlite on the writer's thread: the connection and its WAL, statements kept
//! prepared by their text's address with what their parameters hold, and multi-row inserts.

use super::{Arg, Conn, Sql};
use crate::StoreError;
use std::borrow::Cow;
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

    pub(super) fn conn(&self) -> &rusqlite::Connection {
        self.borrow_owner()
    }

    /// Binds `args` to the statement for `sql` (prepared the first time) and runs `f` on it.
    pub(super) fn with_statement<T>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{query, query_scalar};

    #[test]
    fn multi_row_statements_share_their_first_parameters() {
        let insert = MultiRow::new("t (a, b, c)", 1, 2, 3);
        assert_eq!(insert.max(), 3);
        assert_eq!(insert.sql(1), "INSERT OR FAIL INTO t (a, b, c) VALUES (?1,?2,?3)");
        assert_eq!(insert.sql(3), "INSERT OR FAIL INTO t (a, b, c) VALUES (?1,?2,?3),(?1,?4,?5),(?1,?6,?7)");
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
