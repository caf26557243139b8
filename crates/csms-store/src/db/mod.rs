//! The writer's own connection and the small query API the writes are written in.
//!
//! SQLite goes through rusqlite on the writer's thread: statements are prepared once and kept,
//! and every write runs where it is issued. sqlx's SQLite driver, which the API's reads still
//! use, hands every statement to a worker thread and back and re-binds parameters by name, which
//! cost more than the writes themselves (see BENCHMARKS.md). PostgreSQL stays on sqlx, which
//! speaks its protocol natively. `query(..).bind(..).execute(conn)` reads like sqlx's, so each
//! write is written once for both databases.
//!
//! `query` holds that API and the rows it returns, `sqlite` the rusqlite connection with its kept
//! statements and multi-row inserts, `postgres` the sqlx connection with its binary `COPY`.

mod postgres;
mod query;
mod sqlite;

pub(crate) use postgres::{PgWriter, READING_ID_BLOCK};
pub(crate) use query::{query, query_scalar, Arg, Query, Row, Sql};
pub(crate) use sqlite::{MultiRow, SqliteConn};

use crate::StoreError;
use sqlx::Executor;

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

/// The writer's connection.
pub(crate) enum Conn {
    Sqlite(Box<SqliteConn>),
    Postgres(Box<PgWriter>),
    /// After the writer has stopped.
    Closed,
}

impl Conn {
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
