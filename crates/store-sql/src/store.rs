//! The store itself: a pool of one backend's database, and the steps every method shares.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::store::StoreResult;
use sqlx::Pool;

use crate::backend::{Backend, Upkeep};
use crate::batch::SignInBatches;
use crate::conns::{Lane, Loan, WriterTurns};
use crate::exec::{self, Arg, Connection, ms, text};

/// A transaction of backend `B`'s database.
pub(crate) type Tx<B> = crate::conns::Tx<B>;

/// Every keyfleet store trait on one database of backend `B`.
pub struct SqlStore<B: Backend> {
    /// The readers' pool, for tests and tools (the store itself reads through `readers`).
    pool: Pool<B::Db>,
    /// Connections for reads.
    readers: Lane<B>,
    /// Connections for writes: `readers` again when the backend has no writers' pool.
    writer: Lane<B>,
    /// The backend's background upkeep (SQLite's checkpoints), stopped with the store's
    /// last clone or by [`Self::close`].
    upkeep: Option<Arc<Upkeep>>,
    /// Group commit of sign-ins, when the backend writes them that way (SQLite).
    pub(crate) sign_ins: Option<Arc<SignInBatches<B>>>,
    backend: PhantomData<fn() -> B>,
}

/// The most ids one `IN (…)` list binds; longer lists are read in chunks of this many (far
/// below SQLite's 32 766 and PostgreSQL's 65 535 parameters).
pub(crate) const IN_LIST_MAX: usize = 500;

/// `$1, $2, …` for `n` parameters.
fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

impl<B: Backend> SqlStore<B> {
    /// Opens the database at `url` as the backend does (creating, configuring, migrating).
    ///
    /// Errors: `Unavailable` when the URL is malformed or the database cannot be reached,
    /// `Corrupt` when the database holds migrations this build does not know.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let opened = B::open(url).await?;
        let pool = opened.readers;
        let readers = Lane::new(pool.clone());
        let writer = opened.writer.map_or_else(|| readers.clone(), Lane::new);
        let upkeep = opened
            .upkeep
            .map(|start| Arc::new(Upkeep::spawn(start(WriterTurns(writer.clone())))));
        let sign_ins = SignInBatches::new(writer.clone());
        Ok(Self {
            pool,
            readers,
            writer,
            upkeep,
            sign_ins,
            backend: PhantomData,
        })
    }

    /// The readers' connection pool, for tests and tools that need raw SQL (its connections
    /// are not the ones the store uses; an in-memory database's one connection is the
    /// store's).
    pub fn pool(&self) -> &Pool<B::Db> {
        &self.pool
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        if let Some(upkeep) = &self.upkeep {
            upkeep.stop();
        }
        self.writer.close().await;
        self.readers.close().await;
        self.pool.close().await;
    }

    /// Starts a transaction that writes (the backend's `BEGIN`), on the writers' pool.
    pub(crate) async fn begin(&self) -> StoreResult<Tx<B>> {
        self.writer.begin().await
    }

    /// A connection for one statement that writes, outside a transaction.
    pub(crate) async fn write_conn(&self) -> StoreResult<Loan<B>> {
        self.writer.acquire().await
    }

    /// A connection from the pool, for statements outside a transaction.
    pub(crate) async fn conn(&self) -> StoreResult<Loan<B>> {
        self.readers.acquire().await
    }

    /// The rows `template` reads for `ids`, each mapped by `row`: `template`'s `{}` becomes
    /// the ids' parameters (`$1, $2, …`), [`IN_LIST_MAX`] ids per statement. Nothing is read
    /// for no ids.
    pub(crate) async fn all_in<T>(
        &self,
        template: &str,
        ids: &[Arg<'_>],
        row: impl Fn(&exec::DbRow<B>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(IN_LIST_MAX) {
            let sql = template.replace("{}", &placeholders(chunk.len()));
            let rows = exec::all::<B>(&mut *self.conn().await?, &sql, chunk).await?;
            for r in &rows {
                found.push(row(r)?);
            }
        }
        Ok(found)
    }

    /// Runs a write that is its own transaction in one round trip (a batch holding its
    /// `BEGIN … COMMIT` on SQLite, one statement of data-modifying CTEs on PostgreSQL):
    /// `false` when it failed, having changed nothing, so the caller takes the steps, which
    /// name the failure. Whatever the batch began is undone before the connection is lent
    /// again, even if this future is dropped half way.
    pub(crate) async fn write_at_once(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<bool> {
        Ok(self.write_conn().await?.write_at_once(sql, args).await)
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
            readers: self.readers.clone(),
            writer: self.writer.clone(),
            upkeep: self.upkeep.clone(),
            sign_ins: self.sign_ins.clone(),
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
    tx.commit().await
}
