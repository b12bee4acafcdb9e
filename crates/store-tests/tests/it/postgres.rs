//! PostgreSQL-specific checks: the append-only triggers, concurrent migration, two
//! processes racing to bootstrap, the throwaway-database helper itself.

use keyfleet_domain::StoreError;
use keyfleet_domain::store::Stores;
use keyfleet_store_postgres::PgStore;
use keyfleet_store_tests::fixtures::{all_audit, event};
use keyfleet_store_tests::postgres::{admin_url, throwaway_postgres};
use keyfleet_store_tests::suite;
use sqlx::{Connection, PgConnection};

async fn database_exists(name: &str) -> bool {
    let mut conn = PgConnection::connect(&admin_url()).await.expect("admin connection");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    n == 1
}

#[tokio::test]
async fn audit_is_append_only() {
    let (url, db) = throwaway_postgres().await;
    let store = PgStore::connect(&url).await.unwrap();
    let stores = Stores::from_store(store.clone());
    stores.audit.append(&event("user.create", None)).await.unwrap();
    let pool = store.pool();
    for sql in [
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let r = sqlx::query(sql).execute(pool).await;
        assert!(r.is_err(), "{sql} must fail");
    }
    let log = all_audit(&stores).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].event.actor, "system");
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn concurrent_connects_migrate_once() {
    let (url, db) = throwaway_postgres().await;
    let (a, b, c) = tokio::join!(PgStore::connect(&url), PgStore::connect(&url), PgStore::connect(&url));
    let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(a.pool())
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../store-postgres/migrations"))
        .unwrap()
        .count();
    assert_eq!(usize::try_from(applied).unwrap(), files);
    for s in [a, b, c] {
        s.close().await;
    }
    db.cleanup().await;
}

#[tokio::test]
async fn bootstrap_race_two_processes() {
    let (url, db) = throwaway_postgres().await;
    let a = PgStore::connect(&url).await.unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    suite::bootstrap_admin_race(&Stores::from_store(a.clone()), &Stores::from_store(b.clone())).await;
    a.close().await;
    b.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let r = PgStore::connect("postgres://postgres@127.0.0.1:1/keyfleet").await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
}

#[tokio::test]
async fn throwaway_databases_are_dropped() {
    let (_, db) = throwaway_postgres().await;
    let name = db.name().to_owned();
    assert!(database_exists(&name).await);
    db.cleanup().await;
    assert!(!database_exists(&name).await, "cleanup drops it");

    let (url, db) = throwaway_postgres().await;
    let name = db.name().to_owned();
    let store = PgStore::connect(&url).await.unwrap();
    // Dropped without cleanup (as on a panic) and with a connection still open.
    drop(db);
    assert!(!database_exists(&name).await, "Drop drops it");
    drop(store);
}
