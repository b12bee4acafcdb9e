//! keyfleet's embedded store: every trait of [`keyfleet_domain::store`] on SQLite.
//!
//! The store logic is `keyfleet-store-sql`'s, shared with the PostgreSQL store; this crate
//! brings SQLite's part of it: its SQL (`sql`, private), its pool, its migrations
//! (`migrations/`, kept in step, file for file, with the PostgreSQL store's) and its list
//! format.
//!
//! [`SqliteStore::connect`] opens (and creates, if missing) the database file, switches it to
//! WAL journalling with foreign keys on and a five-second busy timeout, and applies the
//! migrations. `sqlite::memory:` opens a private in-memory database on a single pinned
//! connection, for tests.
//!
//! Every method that changes state runs in one `BEGIN IMMEDIATE` transaction together with
//! the audit event it was given: the write lock is taken up front, so a transaction that
//! reads before it writes can never fail to upgrade and never interleaves with another
//! writer, in this process or another.
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

// The column-list macros of `sql` serve the other statement modules too.
#[macro_use]
mod sql;

pub mod checkpoints;

mod consent_sql;
mod directory_sql;
mod error;
mod lists;
mod metadata_sql;
mod oidc_sql;
mod onbehalf_sql;
mod policy_sql;
mod shipments_sql;
mod strengths_sql;

use std::str::FromStr;
use std::time::Duration;

use keyfleet_domain::StoreError;
use keyfleet_domain::store::StoreResult;
use keyfleet_store_sql::error::{map_err, map_migrate_err};
use keyfleet_store_sql::exec::{Bound, DbRow};
use keyfleet_store_sql::{Backend, MetadataSql, OidcSql, OnBehalfSql, Opened, PolicySql, Sql, SqlStore, StrengthSql};
use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult, SqliteSynchronous};
use sqlx::{Row, Sqlite};

use crate::lists::{decode_list, encode_list};

/// The migrations in `migrations/`, embedded at build time (a test checks the list against
/// the directory).
static MIGRATOR: std::sync::LazyLock<Migrator> = keyfleet_store_sql::store_migrations!();

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in a file database's readers' pool (WAL lets readers run beside the writer).
const MAX_CONNECTIONS: u32 = 8;

/// How long a write waits for its turn on the writers' connection.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// Durability of a commit. In WAL mode, `NORMAL` makes a committed transaction survive the
/// process being killed at any point (`kill -9`, a crash, an out-of-memory kill): the commit
/// is in the WAL file, in the operating system's cache, before it returns. A power cut or a
/// kernel crash may lose the last transactions before the next checkpoint's fsync; `FULL`
/// would fsync the WAL on every commit to survive those too, at one disk flush per commit.
/// See docs/performance.md ("Sign-in at the hardware limit") for the choice and its cost.
const SYNCHRONOUS: SqliteSynchronous = SqliteSynchronous::Normal;

/// The size, in bytes, a WAL file is cut back to when it starts again (64 MiB: it stays
/// under about 40 MiB at any load, see `checkpoints`; this only bounds what a long read
/// left).
const JOURNAL_SIZE_LIMIT: &str = "67108864";

/// Every keyfleet store trait on one SQLite database.
pub type SqliteStore = SqlStore<SqliteBackend>;

/// SQLite's part of the store: see the crate documentation.
#[derive(Debug, Clone, Copy)]
pub struct SqliteBackend;

/// Whether `url` names an in-memory database.
fn is_memory_url(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Opens the database at `url` (`sqlite://path.db`, created when missing, or
/// `sqlite::memory:`) and applies pending migrations. Returns the readers' pool and the
/// writers' pool (see [`Backend::open`]); an in-memory database has one connection for both.
async fn open(url: &str) -> StoreResult<Opened<SqliteBackend>> {
    let memory = is_memory_url(url);
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Unavailable(format!("invalid SQLite URL: {e}")))?
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    if memory {
        // An in-memory database lives as long as its last connection: pin exactly one.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(map_err::<SqliteBackend>)?;
        MIGRATOR.run(&pool).await.map_err(map_migrate_err::<SqliteBackend>)?;
        return Ok(Opened {
            readers: pool,
            writer: None,
            upkeep: None,
        });
    }
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SYNCHRONOUS)
        // Checkpoints run in the store's own task, not in the writer's commits
        // (`checkpoints`); a WAL that grew under a long read shrinks back when it restarts.
        .pragma("wal_autocheckpoint", "0")
        .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT);
    // SQLite has one writer at a time. Writers of this process take turns on one connection,
    // in the order they asked, instead of each retrying the database lock in SQLite's busy
    // handler (which sleeps 1 to 100 ms between tries); the busy timeout is then left for
    // other processes (`keyfleet admin`) writing at the same moment.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(WRITE_WAIT)
        .connect_with(options.clone())
        .await
        .map_err(map_err::<SqliteBackend>)?;
    MIGRATOR.run(&writer).await.map_err(map_migrate_err::<SqliteBackend>)?;
    let readers = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await
        .map_err(map_err::<SqliteBackend>)?;
    let checkpointer = checkpoints::connect(&options).await.map_err(map_err::<SqliteBackend>)?;
    Ok(Opened {
        readers,
        writer: Some(writer),
        upkeep: Some(Box::new(move |turns| Box::pin(checkpoints::run(checkpointer, turns)))),
    })
}

/// Reads a list column written by [`encode_list`].
fn list(row: &DbRow<SqliteBackend>, column: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes: Vec<u8> = row.try_get(column).map_err(|e| e.to_string())?;
    decode_list(&bytes).ok_or_else(|| "malformed list".to_owned())
}

impl Backend for SqliteBackend {
    type Db = Sqlite;

    const SQL: &'static Sql = &sql::SQL;

    const METADATA_SQL: &'static MetadataSql = &metadata_sql::METADATA_SQL;
    const STRENGTH_SQL: &'static StrengthSql = &strengths_sql::STRENGTH_SQL;

    const POLICY_SQL: &'static PolicySql = &policy_sql::POLICY_SQL;
    const DIRECTORY_SQL: &'static keyfleet_store_sql::DirectorySql = &directory_sql::DIRECTORY_SQL;
    const OIDC_SQL: &'static OidcSql = &oidc_sql::OIDC_SQL;
    const ONBEHALF_SQL: &'static OnBehalfSql = &onbehalf_sql::ONBEHALF_SQL;
    const MAIL_CLAIM: &'static str = "UPDATE mail_outbox SET state = 'sending', lease_owner = $1, lease_until = $3 \
         WHERE state = 'pending' AND id = (SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $2 \
         ORDER BY next_attempt_at, id LIMIT 1) \
         RETURNING id, shipment_id, kind, recipients, subject, body_sealed, state, attempts, next_attempt_at, \
         last_error, created_at, sent_at";
    const SHIPMENT_SQL: &'static keyfleet_store_sql::ShipmentSql = &shipments_sql::SHIPMENT_SQL;
    const CONSENT_SQL: &'static keyfleet_store_sql::ConsentSql = &consent_sql::CONSENT_SQL;

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn open(url: &str) -> impl Future<Output = StoreResult<Opened<SqliteBackend>>> + Send {
        open(url)
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn unique_rule(e: &dyn DatabaseError) -> &'static str {
        error::unique_rule(e.message())
    }

    fn is_invalid_text(_: &dyn DatabaseError) -> bool {
        // SQLite stores any text; the NUL rule is applied before a statement is sent.
        false
    }

    fn is_no_transaction(e: &dyn DatabaseError) -> bool {
        // SQLITE_ERROR with this message: sqlite3VdbeHalt's "cannot rollback - no
        // transaction is active".
        e.message().contains("no transaction is active")
    }

    fn bind_texts<'q>(q: Bound<'q, Sqlite>, items: &'q [String]) -> Bound<'q, Sqlite> {
        q.bind(encode_list(items))
    }

    fn bind_blobs<'q>(q: Bound<'q, Sqlite>, items: &'q [Vec<u8>]) -> Bound<'q, Sqlite> {
        q.bind(encode_list(items))
    }

    fn texts(row: &DbRow<Self>, column: &str) -> Result<Vec<String>, String> {
        list(row, column)?
            .into_iter()
            .map(|item| String::from_utf8(item).map_err(|e| e.to_string()))
            .collect()
    }

    fn blobs(row: &DbRow<Self>, column: &str) -> Result<Vec<Vec<u8>>, String> {
        list(row, column)
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

#[cfg(test)]
mod rollback {
    use keyfleet_store_sql::exec;

    use super::SqliteBackend;

    /// A `ROLLBACK` with no transaction open is an error in SQLite; to the store it means
    /// nothing was left to roll back. Counted as a failure, it made the store close the
    /// connection of a write cut short before its `BEGIN` (or after its `COMMIT`), and the
    /// next loan opened a new one: on an in-memory database, a new, empty database (the
    /// suite's `cancelled_writes_leave_nothing_half_done` failed about once in seven runs).
    #[tokio::test]
    async fn a_rollback_with_no_transaction_open_is_done_and_one_with_a_transaction_undoes_it() {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        exec::execute::<SqliteBackend>(&mut conn, "CREATE TABLE marker (x INTEGER)", &[])
            .await
            .unwrap();
        let plain = exec::execute::<SqliteBackend>(&mut conn, "ROLLBACK", &[]).await;
        assert!(plain.is_err(), "SQLite refuses it: {plain:?}");
        assert!(exec::roll_back::<SqliteBackend>(&mut conn).await);
        exec::execute::<SqliteBackend>(&mut conn, "BEGIN IMMEDIATE", &[])
            .await
            .unwrap();
        exec::execute::<SqliteBackend>(&mut conn, "INSERT INTO marker VALUES (1)", &[])
            .await
            .unwrap();
        assert!(exec::roll_back::<SqliteBackend>(&mut conn).await);
        let left = exec::all::<SqliteBackend>(&mut conn, "SELECT x FROM marker", &[])
            .await
            .unwrap();
        assert!(left.is_empty(), "the insert was rolled back");
        // Another error is still one.
        exec::execute::<SqliteBackend>(&mut conn, "BEGIN IMMEDIATE", &[])
            .await
            .unwrap();
        assert!(
            exec::execute::<SqliteBackend>(&mut conn, "BEGIN IMMEDIATE", &[])
                .await
                .is_err()
        );
    }
}

#[cfg(test)]
mod audit_plans {
    use keyfleet_domain::Timestamp;
    use keyfleet_domain::audit::AuditQuery;
    use keyfleet_store_sql::exec;
    use sqlx::Row;

    use super::{MIGRATOR, SqliteBackend};

    /// What SQLite plans for a page of the audit log with these filters, one line per step.
    async fn plan(conn: &mut sqlx::SqliteConnection, query: &AuditQuery) -> Vec<String> {
        let (sql, args) = keyfleet_store_sql::audit::list_statement(query);
        let rows = exec::all::<SqliteBackend>(conn, &format!("EXPLAIN QUERY PLAN {sql}"), &args)
            .await
            .unwrap();
        rows.iter().map(|r| r.get::<String, _>("detail")).collect()
    }

    /// Each filter an administrator reaches for in a large log (a person, a key or group, an
    /// action such as the dashboard's lost keys since a date) is a search of an index, never a
    /// walk back through every entry (millions, at a sign-in each).
    #[tokio::test]
    async fn filtered_pages_search_an_index() {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        MIGRATOR.run(&mut conn).await.unwrap();
        let page = AuditQuery {
            limit: 51,
            ..AuditQuery::default()
        };
        let who = "user:0193f2a4-6b1e-7c3d-8e9f-0a1b2c3d4e5f".to_owned();
        let since = Some(Timestamp::from_millis(1_700_000_000_000));
        let cases = [
            AuditQuery {
                actor: Some(who.clone()),
                ..page.clone()
            },
            AuditQuery {
                actor: Some(who.clone()),
                before_id: Some(1_000),
                ..page.clone()
            },
            AuditQuery {
                target: Some(who.clone()),
                ..page.clone()
            },
            AuditQuery {
                involving: Some(who.clone()),
                ..page.clone()
            },
            AuditQuery {
                action: Some("credential.lost".into()),
                ..page.clone()
            },
            AuditQuery {
                action: Some("credential.lost".into()),
                since,
                ..page.clone()
            },
            AuditQuery {
                action: Some("credential.".into()),
                involving: Some(who.clone()),
                ..page.clone()
            },
        ];
        for query in &cases {
            let plan = plan(&mut conn, query).await;
            assert!(
                plan.iter().any(|step| step.starts_with("SEARCH audit_events USING"))
                    && !plan.iter().any(|step| step.starts_with("SCAN audit_events")),
                "{query:?}: {plan:?}"
            );
        }
        // No filter: the newest entries, walking back from the end and stopping at the page.
        let plan = plan(&mut conn, &page).await;
        assert!(plan.iter().any(|s| s.starts_with("SCAN audit_events")), "{plan:?}");
    }
}
