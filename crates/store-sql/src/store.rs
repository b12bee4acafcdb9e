//! The store itself: a pool of one backend's database, and the steps every method shares.

use std::fmt;
use std::marker::PhantomData;

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::store::StoreResult;
use sqlx::pool::PoolConnection;
use sqlx::{Pool, Transaction};

use crate::backend::Backend;
use crate::error::map_err;
use crate::exec::{self, Arg, Connection, ms, text};

/// A transaction of backend `B`'s database.
pub(crate) type Tx<B> = Transaction<'static, <B as Backend>::Db>;

/// Every keyfleet store trait on one database of backend `B`.
pub struct SqlStore<B: Backend> {
    pool: Pool<B::Db>,
    writer: Pool<B::Db>,
    backend: PhantomData<fn() -> B>,
}

impl<B: Backend> SqlStore<B> {
    /// Opens the database at `url` as the backend does (creating, configuring, migrating).
    ///
    /// Errors: `Unavailable` when the URL is malformed or the database cannot be reached,
    /// `Corrupt` when the database holds migrations this build does not know.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let (pool, writer) = B::open(url).await?;
        Ok(Self {
            pool,
            writer,
            backend: PhantomData,
        })
    }

    /// The connection pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &Pool<B::Db> {
        &self.pool
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    /// Starts a transaction that writes (the backend's `BEGIN`), on the writers' pool.
    pub(crate) async fn begin(&self) -> StoreResult<Tx<B>> {
        self.writer.begin_with(B::SQL.begin).await.map_err(map_err::<B>)
    }

    /// A connection for one statement that writes, outside a transaction.
    pub(crate) async fn write_conn(&self) -> StoreResult<PoolConnection<B::Db>> {
        self.writer.acquire().await.map_err(map_err::<B>)
    }

    /// A connection from the pool, for statements outside a transaction.
    pub(crate) async fn conn(&self) -> StoreResult<PoolConnection<B::Db>> {
        self.pool.acquire().await.map_err(map_err::<B>)
    }

    /// Runs one statement that writes, outside a transaction; how many rows it changed.
    pub(crate) async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        exec::execute::<B>(&mut *self.write_conn().await?, sql, args).await
    }
}

impl<B: Backend> Clone for SqlStore<B> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            writer: self.writer.clone(),
            backend: PhantomData,
        }
    }
}

impl<B: Backend> fmt::Debug for SqlStore<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore").field("pool", &self.pool).finish()
    }
}

/// `NotFound` unless a statement changed a row.
pub(crate) fn one_row(changed: u64) -> StoreResult<()> {
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Appends `event` on `conn` (inside the caller's transaction).
pub(crate) async fn insert_audit<B: Backend>(conn: &mut Connection<B>, event: &NewAuditEvent) -> StoreResult<()> {
    let actor = event.actor.to_string();
    let target = event.target.as_ref().map(ToString::to_string);
    let args = [
        ms(event.at),
        text(&actor),
        text(event.action.as_str()),
        Arg::Text(target.as_deref()),
        text(event.outcome.as_str()),
        Arg::Text(event.request_id.as_deref()),
        Arg::Text(event.detail.as_deref()),
    ];
    exec::execute::<B>(conn, B::SQL.insert_audit, &args).await?;
    Ok(())
}

/// Appends `event` and commits: the last two steps of every mutating method.
pub(crate) async fn audit_and_commit<B: Backend>(mut tx: Tx<B>, event: &NewAuditEvent) -> StoreResult<()> {
    insert_audit::<B>(&mut tx, event).await?;
    commit::<B>(tx).await
}

/// Commits `tx`.
pub(crate) async fn commit<B: Backend>(tx: Tx<B>) -> StoreResult<()> {
    tx.commit().await.map_err(map_err::<B>)
}
