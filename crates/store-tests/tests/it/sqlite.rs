//! SQLite-specific checks: connection settings, the append-only trigger, two handles on one
//! file racing to bootstrap.

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::Action;
use keyfleet_domain::store::{SchemaState, Stores};
use keyfleet_store_sqlite::SqliteStore;
use keyfleet_store_tests::fixtures::{all_audit, event, user};
use keyfleet_store_tests::sqlite::TempSqlite;
use keyfleet_store_tests::suite;

#[tokio::test]
async fn connect_creates_the_file_with_wal_and_foreign_keys() {
    let file = TempSqlite::new();
    assert!(!file.path().exists());
    let store = SqliteStore::connect(&file.url()).await.expect("connect");
    assert!(file.path().exists(), "the database file is created");
    let pool = store.pool();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(pool).await.unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(pool).await.unwrap();
    assert!(busy >= 5000, "busy_timeout {busy}");
    store.close().await;
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let file = TempSqlite::new();
    let u = user("persist");
    {
        let store = SqliteStore::connect(&file.url()).await.unwrap();
        let stores = Stores::from_store(store.clone());
        stores
            .users
            .create_user(&u, &event(Action::UserCreate, None))
            .await
            .unwrap();
        store.close().await;
    }
    let store = SqliteStore::connect(&file.url()).await.expect("reopen");
    let stores = Stores::from_store(store);
    assert_eq!(stores.users.get_user(u.id).await.unwrap(), Some(u));
}

#[tokio::test]
async fn in_memory_databases_are_private() {
    let a = Stores::from_store(SqliteStore::connect("sqlite::memory:").await.unwrap());
    let b = Stores::from_store(SqliteStore::connect("sqlite::memory:").await.unwrap());
    a.users
        .create_user(&user("only-a"), &event(Action::UserCreate, None))
        .await
        .unwrap();
    assert_eq!(a.users.count_users().await.unwrap(), 1);
    assert_eq!(b.users.count_users().await.unwrap(), 0);
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.close().await;
    let stores = Stores::from_store(store);
    assert!(matches!(stores.health.ping().await, Err(StoreError::Unavailable(_))));
}

#[tokio::test]
async fn a_bad_url_is_unavailable() {
    let r = SqliteStore::connect("sqlite:///nonexistent-dir-keyfleet/sub/x.db").await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
}

async fn assert_append_only(store: &SqliteStore) {
    let stores = Stores::from_store(store.clone());
    stores.audit.append(&event(Action::UserCreate, None)).await.unwrap();
    let pool = store.pool();
    let update = sqlx::query("UPDATE audit_events SET actor = 'mallory'")
        .execute(pool)
        .await;
    assert!(update.is_err(), "UPDATE on audit_events must fail");
    let delete = sqlx::query("DELETE FROM audit_events").execute(pool).await;
    assert!(delete.is_err(), "DELETE on audit_events must fail");
    let log = all_audit(&stores).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].actor, "system");
}

#[tokio::test]
async fn audit_is_append_only_in_memory() {
    assert_append_only(&SqliteStore::connect("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test]
async fn audit_is_append_only_in_a_file() {
    let file = TempSqlite::new();
    assert_append_only(&SqliteStore::connect(&file.url()).await.unwrap()).await;
}

#[tokio::test]
async fn bootstrap_race_two_handles_on_one_file() {
    let file = TempSqlite::new();
    let a = Stores::from_store(SqliteStore::connect(&file.url()).await.unwrap());
    let b = Stores::from_store(SqliteStore::connect(&file.url()).await.unwrap());
    suite::bootstrap_admin_race(&a, &b).await;
}

#[tokio::test]
async fn bootstrap_race_in_memory() {
    let s = Stores::from_store(SqliteStore::connect("sqlite::memory:").await.unwrap());
    suite::bootstrap_admin_race(&s, &s).await;
}

/// `schema` names what is wrong: a dropped table, a migration row removed, the migrations
/// table gone.
#[tokio::test]
async fn schema_not_ready_names_the_problem() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let stores = Stores::from_store(store.clone());
    assert_eq!(
        stores.health.schema().await.unwrap(),
        SchemaState::Ready { version: 19 }
    );
    let pool = store.pool();

    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 4")
        .execute(pool)
        .await
        .unwrap();
    assert_not_ready(&stores, &["migration 4 (jobs) is not applied"]).await;
    sqlx::query("DROP TABLE credentials").execute(pool).await.unwrap();
    assert_not_ready(&stores, &["migration 4", "table credentials is missing"]).await;
    sqlx::query("DROP TABLE _sqlx_migrations").execute(pool).await.unwrap();
    assert_not_ready(
        &stores,
        &["table _sqlx_migrations is missing", "table credentials is missing"],
    )
    .await;
}

#[tokio::test]
async fn schema_not_ready_after_a_failed_or_unknown_migration() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let stores = Stores::from_store(store.clone());
    let pool = store.pool();
    sqlx::query("UPDATE _sqlx_migrations SET success = 0 WHERE version = 2")
        .execute(pool)
        .await
        .unwrap();
    assert_not_ready(&stores, &["migration 2 (credentials) failed"]).await;
    sqlx::query("UPDATE _sqlx_migrations SET success = 1 WHERE version = 2")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99, 'future', 1, x'00', 0)",
    )
    .execute(pool)
    .await
    .unwrap();
    assert_not_ready(&stores, &["migration 99 is applied but unknown to this build"]).await;
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 99")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1")
        .execute(pool)
        .await
        .unwrap();
    assert_not_ready(&stores, &["migration 1 (identity) was changed after it was applied"]).await;
}

async fn assert_not_ready(stores: &Stores, parts: &[&str]) {
    match stores.health.schema().await.unwrap() {
        SchemaState::NotReady(text) => {
            for part in parts {
                assert!(text.contains(part), "{text:?} does not say {part:?}");
            }
        }
        ready => panic!("expected NotReady, got {ready:?}"),
    }
}

#[tokio::test]
async fn job_claim_race_two_handles_on_one_file() {
    let file = TempSqlite::new();
    let a = Stores::from_store(SqliteStore::connect(&file.url()).await.unwrap());
    let b = Stores::from_store(SqliteStore::connect(&file.url()).await.unwrap());
    suite::job_claim_race(&a, &b).await;
}
