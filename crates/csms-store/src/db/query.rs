//! The query API the writes are written in, sqlx-like, for both databases: statements, their
//! parameters (`Arg`) and the rows they return (`Row`, read as `Column` types).

use super::{Conn, SqliteConn};
use crate::StoreError;
use rusqlite::types::Value;
use sqlx::any::AnyRow;
use sqlx::postgres::PgRow;
use sqlx::{Any, Postgres};
use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

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
    pub(super) args: Vec<Arg<'q>>,
}

/// A statement's text, always in the program: kept prepared by its address (`SqliteConn`).
#[derive(Clone, Copy)]
pub(crate) struct Sql(pub(super) &'static str);

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
