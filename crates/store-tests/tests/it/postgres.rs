//! PostgreSQL-specific checks: the append-only triggers, concurrent migration, two
//! processes racing to bootstrap, the throwaway-database helper itself.

use keyfleet_domain::StoreError;
use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::Action;
use keyfleet_domain::store::{Reservation, SchemaState, Stores};
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
    stores.audit.append(&event(Action::UserCreate, None)).await.unwrap();
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
    assert_eq!(log[0].actor, "system");
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

/// `schema` names what is wrong: a migration row removed, a dropped table, the migrations
/// table gone.
#[tokio::test]
async fn schema_not_ready_names_the_problem() {
    let (url, db) = throwaway_postgres().await;
    let store = PgStore::connect(&url).await.unwrap();
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
    sqlx::query("DROP TABLE credentials CASCADE")
        .execute(pool)
        .await
        .unwrap();
    assert_not_ready(&stores, &["migration 4", "table credentials is missing"]).await;
    sqlx::query("DROP TABLE _sqlx_migrations").execute(pool).await.unwrap();
    assert_not_ready(
        &stores,
        &["table _sqlx_migrations is missing", "table credentials is missing"],
    )
    .await;
    store.close().await;
    db.cleanup().await;
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

/// Two pools on one database (two keyfleet processes) race for each run of a job.
#[tokio::test]
async fn job_claim_race_two_processes() {
    let (url, db) = throwaway_postgres().await;
    let a = PgStore::connect(&url).await.unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    suite::job_claim_race(&Stores::from_store(a.clone()), &Stores::from_store(b.clone())).await;
    a.close().await;
    b.close().await;
    db.cleanup().await;
}

/// Reservations from two pools on one database share one limit.
#[tokio::test]
async fn reserve_race_two_processes() {
    let (url, db) = throwaway_postgres().await;
    let a = Stores::from_store(PgStore::connect(&url).await.unwrap());
    let b = Stores::from_store(PgStore::connect(&url).await.unwrap());
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { s.rate_limits.reserve("k", Timestamp::from_millis(1), 60_000, 10).await })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        if matches!(t.await.unwrap().unwrap(), Reservation::Granted { .. }) {
            granted += 1;
        }
    }
    assert_eq!(granted, 10);
    drop((a, b));
    db.cleanup().await;
}

/// The backstop: text with a NUL that reaches PostgreSQL anyway is `Invalid`, not an outage.
#[tokio::test]
async fn a_nul_reaching_the_server_is_invalid() {
    let (url, db) = throwaway_postgres().await;
    let store = PgStore::connect(&url).await.unwrap();
    let err = sqlx::query("SELECT $1::text")
        .bind("a\0b")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(
        matches!(keyfleet_store_postgres::map_sqlx_error(err), StoreError::Invalid("nul")),
        "mapped as Invalid"
    );
    store.close().await;
    db.cleanup().await;
}
