//! Running a statement on any sqlx database that can hold keyfleet's column types.
//!
//! The store logic passes each statement's parameters as [`Arg`]s, which say what the text
//! is for: a [`Arg::Key`] is compared with stored text, a [`Arg::Text`] is stored. That is
//! where the NUL rule ([`crate::nul`]) is applied, once for every statement: a key holding a
//! NUL makes the statement match nothing without reaching the database, a text to store
//! holding one refuses it with `Invalid("nul")`.

use std::future::Future;
use std::pin::Pin;

use keyfleet_domain::StoreError;
use keyfleet_domain::store::StoreResult;
use sqlx::database::HasStatementCache;
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use crate::backend::Backend;
use crate::error::map_err;
use crate::nul;

/// A boxed future that can move between threads (as sqlx's executors return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A statement with its parameters bound, on database `DB`.
pub type Bound<'q, DB> = Query<'q, DB, <DB as Database>::Arguments<'q>>;

/// A connection of backend `B`'s database (a pooled one or a transaction dereference to it).
pub type Connection<B> = <<B as Backend>::Db as Database>::Connection;

/// A result row of backend `B`'s database.
pub type DbRow<B> = <<B as Backend>::Db as Database>::Row;

/// One parameter of a statement.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// Text compared with stored text (an id typed by someone, a filter). Holding a NUL, it
    /// matches no stored text: the statement is not run and matches nothing.
    Key(Option<&'a str>),
    /// Text to store. Holding a NUL, the statement is refused with `Invalid("nul")`.
    Text(Option<&'a str>),
    /// A whole number (times in milliseconds, counters).
    Int(Option<i64>),
    /// A flag.
    Bool(bool),
    /// Bytes (digests, keys, credential ids).
    Bytes(Option<&'a [u8]>),
    /// A list of texts to store (a credential's transports), as the backend stores lists.
    Texts(&'a [String]),
    /// A list of byte strings to store (a ceremony's allowed credentials).
    Blobs(&'a [Vec<u8>]),
}

/// A key: text compared with stored text.
pub fn key(s: &str) -> Arg<'_> {
    Arg::Key(Some(s))
}

/// Text to store.
pub fn text(s: &str) -> Arg<'_> {
    Arg::Text(Some(s))
}

/// A time, in milliseconds.
pub fn ms(t: keyfleet_domain::Timestamp) -> Arg<'static> {
    Arg::Int(Some(t.as_millis()))
}

/// An optional time, in milliseconds.
pub fn opt_ms(t: Option<keyfleet_domain::Timestamp>) -> Arg<'static> {
    Arg::Int(t.map(keyfleet_domain::Timestamp::as_millis))
}

/// A whole number.
pub fn int(n: i64) -> Arg<'static> {
    Arg::Int(Some(n))
}

/// Bytes.
pub fn bytes(b: &[u8]) -> Arg<'_> {
    Arg::Bytes(Some(b))
}

/// What the NUL rule makes of a statement's parameters: `Ok(false)` when a key holds a NUL
/// (the statement matches nothing), `Err(Invalid)` when text to store holds one.
pub(crate) fn runnable(args: &[Arg<'_>]) -> StoreResult<bool> {
    let stored = args.iter().any(|a| match a {
        Arg::Text(Some(t)) => nul::has_nul(t),
        Arg::Texts(list) => list.iter().any(|t| nul::has_nul(t)),
        _ => false,
    });
    if stored {
        return Err(StoreError::Invalid(nul::NUL));
    }
    Ok(!args.iter().any(|a| matches!(a, Arg::Key(Some(k)) if nul::has_nul(k))))
}

/// What every sqlx database keyfleet runs on offers: binding and reading its column types,
/// and running a bound statement on a connection. Implemented once, for every database that
/// has them, so that generic code needs one bound instead of one per column type.
pub trait Driver: Database {
    /// Binds text.
    fn bind_text<'q>(q: Bound<'q, Self>, v: Option<&'q str>) -> Bound<'q, Self>;
    /// Binds a whole number.
    fn bind_int<'q>(q: Bound<'q, Self>, v: Option<i64>) -> Bound<'q, Self>;
    /// Binds a flag.
    fn bind_bool<'q>(q: Bound<'q, Self>, v: bool) -> Bound<'q, Self>;
    /// Binds bytes.
    fn bind_bytes<'q>(q: Bound<'q, Self>, v: Option<&'q [u8]>) -> Bound<'q, Self>;
    /// The same statement, not kept prepared: planned anew for each call's parameters.
    fn unprepared(q: Bound<'_, Self>) -> Bound<'_, Self>;
    /// Runs `q`; the database's result (rows affected).
    fn execute<'e>(
        conn: &'e mut Self::Connection,
        q: Bound<'e, Self>,
    ) -> BoxFuture<'e, sqlx::Result<Self::QueryResult>>;
    /// Runs `q`; its first row, if any.
    fn fetch_optional<'e>(
        conn: &'e mut Self::Connection,
        q: Bound<'e, Self>,
    ) -> BoxFuture<'e, sqlx::Result<Option<Self::Row>>>;
    /// Runs `q`; all its rows.
    fn fetch_all<'e>(conn: &'e mut Self::Connection, q: Bound<'e, Self>)
    -> BoxFuture<'e, sqlx::Result<Vec<Self::Row>>>;
    /// Reads a text column (`None` when NULL).
    fn text(row: &Self::Row, column: &str) -> sqlx::Result<Option<String>>;
    /// Reads an integer column (`None` when NULL).
    fn int(row: &Self::Row, column: &str) -> sqlx::Result<Option<i64>>;
    /// Reads the integer in the first column (a count, a `RETURNING` value).
    fn first_int(row: &Self::Row) -> sqlx::Result<Option<i64>>;
    /// Reads a flag column (`None` when NULL).
    fn boolean(row: &Self::Row, column: &str) -> sqlx::Result<Option<bool>>;
    /// Reads a bytes column (`None` when NULL).
    fn bytes(row: &Self::Row, column: &str) -> sqlx::Result<Option<Vec<u8>>>;
}

impl<DB> Driver for DB
where
    DB: Database + HasStatementCache,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB>,
    for<'r> Vec<u8>: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> bool: Decode<'r, DB>,
    String: Type<DB>,
    Vec<u8>: Type<DB>,
    i64: Type<DB>,
    bool: Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    fn bind_text<'q>(q: Bound<'q, Self>, v: Option<&'q str>) -> Bound<'q, Self> {
        q.bind(v)
    }

    fn bind_int<'q>(q: Bound<'q, Self>, v: Option<i64>) -> Bound<'q, Self> {
        q.bind(v)
    }

    fn bind_bool<'q>(q: Bound<'q, Self>, v: bool) -> Bound<'q, Self> {
        q.bind(v)
    }

    fn bind_bytes<'q>(q: Bound<'q, Self>, v: Option<&'q [u8]>) -> Bound<'q, Self> {
        q.bind(v)
    }

    fn unprepared(q: Bound<'_, Self>) -> Bound<'_, Self> {
        q.persistent(false)
    }

    fn execute<'e>(
        conn: &'e mut Self::Connection,
        q: Bound<'e, Self>,
    ) -> BoxFuture<'e, sqlx::Result<Self::QueryResult>> {
        conn.execute(q)
    }

    fn fetch_optional<'e>(
        conn: &'e mut Self::Connection,
        q: Bound<'e, Self>,
    ) -> BoxFuture<'e, sqlx::Result<Option<Self::Row>>> {
        conn.fetch_optional(q)
    }

    fn fetch_all<'e>(
        conn: &'e mut Self::Connection,
        q: Bound<'e, Self>,
    ) -> BoxFuture<'e, sqlx::Result<Vec<Self::Row>>> {
        conn.fetch_all(q)
    }

    fn text(row: &Self::Row, column: &str) -> sqlx::Result<Option<String>> {
        row.try_get(column)
    }

    fn int(row: &Self::Row, column: &str) -> sqlx::Result<Option<i64>> {
        row.try_get(column)
    }

    fn first_int(row: &Self::Row) -> sqlx::Result<Option<i64>> {
        row.try_get(0usize)
    }

    fn boolean(row: &Self::Row, column: &str) -> sqlx::Result<Option<bool>> {
        row.try_get(column)
    }

    fn bytes(row: &Self::Row, column: &str) -> sqlx::Result<Option<Vec<u8>>> {
        row.try_get(column)
    }
}

/// `sql` with `args` bound, or `None` when a key holds a NUL (the statement matches nothing).
fn bind<'q, B: Backend>(sql: &'q str, args: &[Arg<'q>]) -> StoreResult<Option<Bound<'q, B::Db>>> {
    if !runnable(args)? {
        return Ok(None);
    }
    let mut q = sqlx::query::<B::Db>(sql);
    for arg in args {
        q = match *arg {
            Arg::Key(v) | Arg::Text(v) => B::Db::bind_text(q, v),
            Arg::Int(v) => B::Db::bind_int(q, v),
            Arg::Bool(v) => B::Db::bind_bool(q, v),
            Arg::Bytes(v) => B::Db::bind_bytes(q, v),
            Arg::Texts(list) => B::bind_texts(q, list),
            Arg::Blobs(list) => B::bind_blobs(q, list),
        };
    }
    Ok(Some(q))
}

/// Runs `sql` on `conn`; how many rows it changed.
pub async fn execute<B: Backend>(conn: &mut Connection<B>, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
    let Some(q) = bind::<B>(sql, args)? else {
        return Ok(0);
    };
    let done = B::Db::execute(conn, q).await.map_err(map_err::<B>)?;
    Ok(B::rows_affected(&done))
}

/// Rolls back whatever transaction is open on `conn`: `true` once none is, rolled back or
/// none open (SQLite refuses a `ROLLBACK` then: a write cut short before its `BEGIN`, or
/// after its `COMMIT`, left nothing open).
pub async fn roll_back<B: Backend>(conn: &mut Connection<B>) -> bool {
    let Ok(Some(q)) = bind::<B>(B::SQL.rollback, &[]) else {
        return false;
    };
    match B::Db::execute(conn, q).await {
        Ok(_) => true,
        Err(sqlx::Error::Database(e)) => B::is_no_transaction(e.as_ref()),
        Err(_) => false,
    }
}

/// Runs `sql` on `conn`; its first row, if any.
pub async fn optional<B: Backend>(
    conn: &mut Connection<B>,
    sql: &str,
    args: &[Arg<'_>],
) -> StoreResult<Option<DbRow<B>>> {
    let Some(q) = bind::<B>(sql, args)? else {
        return Ok(None);
    };
    B::Db::fetch_optional(conn, q).await.map_err(map_err::<B>)
}

/// Runs `sql` on `conn`; all its rows.
pub async fn all<B: Backend>(conn: &mut Connection<B>, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<DbRow<B>>> {
    let Some(q) = bind::<B>(sql, args)? else {
        return Ok(Vec::new());
    };
    B::Db::fetch_all(conn, q).await.map_err(map_err::<B>)
}

/// Runs `sql` on `conn` without keeping it prepared, so the database plans it for this
/// call's parameters; all its rows. For a statement whose best plan depends on which of its
/// optional filters are set: kept prepared, PostgreSQL settles after five calls on one generic
/// plan for every combination, which can be ten times slower for some of them.
pub async fn all_planned_per_call<B: Backend>(
    conn: &mut Connection<B>,
    sql: &str,
    args: &[Arg<'_>],
) -> StoreResult<Vec<DbRow<B>>> {
    let Some(q) = bind::<B>(sql, args)? else {
        return Ok(Vec::new());
    };
    B::Db::fetch_all(conn, B::Db::unprepared(q)).await.map_err(map_err::<B>)
}

/// Runs `sql` on `conn`; the integer in the first column of its first row (`None` without
/// a row).
pub async fn optional_int<B: Backend>(
    conn: &mut Connection<B>,
    sql: &str,
    args: &[Arg<'_>],
) -> StoreResult<Option<i64>> {
    optional::<B>(conn, sql, args)
        .await?
        .map(|r| first_int::<B>(&r))
        .transpose()
}

/// Runs `sql` on `conn`; the integer in the first column of every row.
pub async fn all_ints<B: Backend>(conn: &mut Connection<B>, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<i64>> {
    all::<B>(conn, sql, args).await?.iter().map(first_int::<B>).collect()
}

/// Runs `sql` on `conn`; whether it returned a row.
pub async fn exists<B: Backend>(conn: &mut Connection<B>, sql: &str, args: &[Arg<'_>]) -> StoreResult<bool> {
    Ok(optional::<B>(conn, sql, args).await?.is_some())
}

/// The non-NULL integer in the first column of `row`.
fn first_int<B: Backend>(row: &DbRow<B>) -> StoreResult<i64> {
    B::Db::first_int(row)
        .map_err(|e| StoreError::Corrupt(format!("first column: {e}")))?
        .ok_or_else(|| StoreError::Corrupt("first column: NULL".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nul_rule_reads_what_text_is_for() {
        assert!(matches!(runnable(&[key("a"), text("b"), int(1)]), Ok(true)));
        assert!(matches!(runnable(&[key("a\0")]), Ok(false)));
        assert!(matches!(runnable(&[Arg::Key(None)]), Ok(true)));
        assert!(matches!(
            runnable(&[key("a\0"), text("b\0")]),
            Err(StoreError::Invalid("nul"))
        ));
        let list = ["usb".to_owned(), "n\0fc".to_owned()];
        assert!(matches!(
            runnable(&[Arg::Texts(&list)]),
            Err(StoreError::Invalid("nul"))
        ));
        assert!(
            matches!(runnable(&[bytes(b"\0")]), Ok(true)),
            "bytes may hold any value"
        );
    }
}
