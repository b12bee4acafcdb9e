//! keyfleet's embedded store: every trait of [`keyfleet_domain::store`] on SQLite.
//!
//! [`SqliteStore::connect`] opens (and creates, if missing) the database file, switches it to
//! WAL journalling with foreign keys on and a five-second busy timeout, and applies the
//! migrations embedded from `migrations/` (kept in step, file for file, with the PostgreSQL
//! store's). `sqlite::memory:` opens a private in-memory database on a single pinned
//! connection, for tests.
//!
//! Every method that changes state runs in one `BEGIN IMMEDIATE` transaction together with
//! the audit event it was given: the write lock is taken up front, so a transaction that
//! reads before it writes (the secret limit, TAP redemption, first-start bootstrap) can never
//! fail to upgrade and never interleaves with another writer, in this process or another.
//!
//! ```no_run
//! # async fn demo() -> Result<(), keyfleet_domain::StoreError> {
//! use keyfleet_domain::store::Stores;
//! use keyfleet_store_sqlite::SqliteStore;
//!
//! let store = SqliteStore::connect("sqlite://keyfleet.db").await?;
//! let stores = Stores::from_store(store);
//! stores.health.ping().await?;
//! # Ok(()) }
//! ```

mod audit;
mod ceremonies;
mod clients;
mod credentials;
mod error;
mod identity;
mod jobs;
mod rows;
mod sessions;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use keyfleet_domain::StoreError;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::store::{HealthStore, SchemaState, StoreResult};
use keyfleet_store_sql::{nul, schema};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::error::{map_err, map_migrate_err};

/// The migrations in `migrations/`, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in a file database's pool (WAL allows many readers and one writer).
const MAX_CONNECTIONS: u32 = 8;

/// Every keyfleet store trait on one SQLite database.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://path.db`, created when missing, or
    /// `sqlite::memory:`) and applies pending migrations.
    ///
    /// Errors: `Unavailable` when the URL is malformed or the file cannot be opened,
    /// `Corrupt` when the database holds migrations this build does not know.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let memory = is_memory_url(url);
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid SQLite URL: {e}")))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool_options = if memory {
            // An in-memory database lives as long as its last connection: pin exactly one.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS)
        };
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(map_err)?;
        MIGRATOR.run(&pool).await.map_err(map_migrate_err)?;
        Ok(Self { pool })
    }

    /// The connection pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction that holds the database's write lock from the start.
    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)
    }
}

/// Whether `url` names an in-memory database.
fn is_memory_url(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Appends `event` on `conn` (inside the caller's transaction).
async fn insert_audit(conn: &mut SqliteConnection, event: &NewAuditEvent) -> StoreResult<()> {
    nul::check_audit(event)?;
    sqlx::query(
        "INSERT INTO audit_events (at, actor, action, target, outcome, request_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.at.as_millis())
    .bind(event.actor.to_string())
    .bind(event.action.as_str())
    .bind(event.target.as_ref().map(ToString::to_string))
    .bind(event.outcome.as_str())
    .bind(&event.request_id)
    .bind(&event.detail)
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Appends `event` and commits: the last two steps of every mutating method.
async fn audit_and_commit(mut tx: Transaction<'static, Sqlite>, event: &NewAuditEvent) -> StoreResult<()> {
    insert_audit(&mut tx, event).await?;
    tx.commit().await.map_err(map_err)
}

#[async_trait]
impl HealthStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn schema(&self) -> StoreResult<SchemaState> {
        let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        if !tables.iter().any(|t| t == schema::MIGRATIONS_TABLE) {
            return Ok(schema::state(&MIGRATOR, &tables, None));
        }
        let applied: Vec<(i64, bool, Vec<u8>)> =
            sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        let applied: Vec<schema::Applied> = applied
            .into_iter()
            .map(|(version, success, checksum)| schema::Applied {
                version,
                success,
                checksum,
            })
            .collect();
        Ok(schema::state(&MIGRATOR, &tables, Some(&applied)))
    }
}
