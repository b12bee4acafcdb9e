//! keyfleet's server store: every trait of [`keyfleet_domain::store`] on PostgreSQL.
//!
//! The store logic is `keyfleet-store-sql`'s, shared with the SQLite store; this crate
//! brings PostgreSQL's part of it: its SQL (`sql`, private, which says how each
//! race is settled), its pool, its migrations (`migrations/`, kept in step, file for file,
//! with the SQLite store's) and its error codes.
//!
//! [`PgStore::connect`] opens a connection pool and applies the migrations. sqlx's migrator
//! holds a PostgreSQL advisory lock while it runs, so several keyfleet processes starting
//! together against one database migrate it exactly once.
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

// The column-list macros of `sql` serve the other statement modules too.
#[macro_use]
mod sql;

mod consent_sql;
mod directory_sql;
mod error;
mod metadata_sql;
mod oidc_sql;
mod onbehalf_sql;
mod policy_sql;
mod shipments_sql;
mod strengths_sql;

use std::time::Duration;

use keyfleet_domain::StoreError;
use keyfleet_domain::store::StoreResult;
use keyfleet_store_sql::error::{map_err, map_migrate_err};
use keyfleet_store_sql::exec::{Bound, DbRow};
use keyfleet_store_sql::{Backend, MetadataSql, OidcSql, OnBehalfSql, Opened, PolicySql, Sql, SqlStore, StrengthSql};
use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPoolOptions, PgQueryResult};
use sqlx::{Postgres, Row};

/// The migrations in `migrations/`, embedded at build time (a test checks the list against
/// the directory).
static MIGRATOR: std::sync::LazyLock<Migrator> = keyfleet_store_sql::store_migrations!();

/// Connections in the pool.
const MAX_CONNECTIONS: u32 = 10;

/// Every keyfleet store trait on one PostgreSQL database.
pub type PgStore = SqlStore<PgBackend>;

/// PostgreSQL's part of the store: see the crate documentation.
#[derive(Debug, Clone, Copy)]
pub struct PgBackend;

/// How this store reads a sqlx error (for tools and tests that run their own SQL).
pub fn map_sqlx_error(e: sqlx::Error) -> StoreError {
    map_err::<PgBackend>(e)
}

/// Connects to `url` (`postgres://user@host:port/database`) and applies pending migrations.
async fn open(url: &str) -> StoreResult<Opened<PgBackend>> {
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(map_err::<PgBackend>)?;
    MIGRATOR.run(&pool).await.map_err(map_migrate_err::<PgBackend>)?;
    // PostgreSQL runs writers concurrently: one pool for reads and writes.
    Ok(Opened {
        readers: pool,
        writer: None,
        upkeep: None,
    })
}

impl Backend for PgBackend {
    type Db = Postgres;

    const SQL: &'static Sql = &sql::SQL;

    const METADATA_SQL: &'static MetadataSql = &metadata_sql::METADATA_SQL;
    const STRENGTH_SQL: &'static StrengthSql = &strengths_sql::STRENGTH_SQL;

    const POLICY_SQL: &'static PolicySql = &policy_sql::POLICY_SQL;
    const DIRECTORY_SQL: &'static keyfleet_store_sql::DirectorySql = &directory_sql::DIRECTORY_SQL;
    const OIDC_SQL: &'static OidcSql = &oidc_sql::OIDC_SQL;
    const ONBEHALF_SQL: &'static OnBehalfSql = &onbehalf_sql::ONBEHALF_SQL;
    const MAIL_CLAIM: &'static str = "UPDATE mail_outbox SET state = 'sending', lease_owner = $1, lease_until = $3 \
         WHERE state = 'pending' AND id = (SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $2 \
         ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, shipment_id, kind, recipients, subject, body_sealed, state, attempts, next_attempt_at, \
         last_error, created_at, sent_at";
    const SHIPMENT_SQL: &'static keyfleet_store_sql::ShipmentSql = &shipments_sql::SHIPMENT_SQL;
    const CONSENT_SQL: &'static keyfleet_store_sql::ConsentSql = &consent_sql::CONSENT_SQL;

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn open(url: &str) -> impl Future<Output = StoreResult<Opened<PgBackend>>> + Send {
        open(url)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn unique_rule(e: &dyn DatabaseError) -> &'static str {
        error::unique_rule(e.constraint())
    }

    fn is_invalid_text(e: &dyn DatabaseError) -> bool {
        error::is_invalid_text(e.code().as_deref())
    }

    fn is_no_transaction(_: &dyn DatabaseError) -> bool {
        // A ROLLBACK outside a transaction is a warning (25P01), not an error.
        false
    }

    fn bind_texts<'q>(q: Bound<'q, Postgres>, items: &'q [String]) -> Bound<'q, Postgres> {
        q.bind(items)
    }

    fn bind_blobs<'q>(q: Bound<'q, Postgres>, items: &'q [Vec<u8>]) -> Bound<'q, Postgres> {
        q.bind(items)
    }

    fn texts(row: &DbRow<Self>, column: &str) -> Result<Vec<String>, String> {
        row.try_get(column).map_err(|e| e.to_string())
    }

    fn blobs(row: &DbRow<Self>, column: &str) -> Result<Vec<Vec<u8>>, String> {
        row.try_get(column).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod migration_files {
    /// The embedded list holds every file of `migrations/`, read as sqlx reads the directory.
    #[tokio::test]
    async fn the_list_matches_the_directory() {
        keyfleet_store_sql::migrations::assert_matches_directory(&super::MIGRATOR, env!("CARGO_MANIFEST_DIR")).await;
    }
}
