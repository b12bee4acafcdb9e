//! keyfleet's server store: every trait of [`keyfleet_domain::store`] on PostgreSQL.
//!
//! [`PgStore::connect`] opens a connection pool and applies the migrations embedded from
//! `migrations/` (kept in step, file for file, with the SQLite store's). sqlx's migrator
//! holds a PostgreSQL advisory lock while it runs, so several keyfleet processes starting
//! together against one database migrate it exactly once.
//!
//! Every method that changes state runs in one transaction (READ COMMITTED) together with
//! the audit event it was given. Races are settled by the database itself rather than by
//! read-then-write logic: conditional `UPDATE`s whose row count decides (TAP redemption),
//! `INSERT … ON CONFLICT` (first-start bootstrap, TAP replacement, rate-limit counters),
//! unique indexes (usernames, the single active signing key) and row locks (`SELECT … FOR
//! UPDATE` on the client before counting its secrets).
//!
//! ```no_run
//! # async fn demo() -> Result<(), keyfleet_domain::StoreError> {
//! use keyfleet_domain::store::Stores;
//! use keyfleet_store_postgres::PgStore;
//!
//! let store = PgStore::connect("postgres://keyfleet@127.0.0.1/keyfleet").await?;
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

use std::time::Duration;

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::store::{HealthStore, SchemaState, StoreResult};
use keyfleet_store_sql::{nul, schema};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::error::{map_err, map_migrate_err};

/// How this store reads a sqlx error (for tools and tests that run their own SQL).
pub use crate::error::map_err as map_sqlx_error;

/// The migrations in `migrations/`, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Connections in the pool.
const MAX_CONNECTIONS: u32 = 10;

/// Every keyfleet store trait on one PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/database`) and applies pending
    /// migrations.
    ///
    /// Errors: `Unavailable` when the URL is malformed or the server cannot be reached,
    /// `Corrupt` when the database holds migrations this build does not know.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(map_err)?;
        MIGRATOR.run(&pool).await.map_err(map_migrate_err)?;
        Ok(Self { pool })
    }

    /// The connection pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction.
    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(map_err)
    }
}

/// Appends `event` on `conn` (inside the caller's transaction).
async fn insert_audit(conn: &mut PgConnection, event: &NewAuditEvent) -> StoreResult<()> {
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
async fn audit_and_commit(mut tx: Transaction<'static, Postgres>, event: &NewAuditEvent) -> StoreResult<()> {
    insert_audit(&mut tx, event).await?;
    tx.commit().await.map_err(map_err)
}

#[async_trait]
impl HealthStore for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn schema(&self) -> StoreResult<SchemaState> {
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = current_schema()")
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
