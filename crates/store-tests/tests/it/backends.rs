//! A fresh store per test, and its cleanup.

use keyfleet_domain::store::Stores;
use keyfleet_store_postgres::PgStore;
use keyfleet_store_sqlite::SqliteStore;
use keyfleet_store_tests::postgres::{ThrowawayDb, throwaway_postgres};
use keyfleet_store_tests::sqlite::TempSqlite;

/// What the store lives in; dropped after the store's handles.
enum Place {
    Memory,
    File { _dir: TempSqlite },
    Postgres(ThrowawayDb),
}

/// A migrated, empty store and what it lives in.
pub struct Backend {
    pub stores: Stores,
    place: Place,
}

impl Backend {
    pub async fn sqlite_memory() -> Self {
        let store = SqliteStore::connect("sqlite::memory:")
            .await
            .expect("open sqlite::memory:");
        Self {
            stores: Stores::from_store(store),
            place: Place::Memory,
        }
    }

    pub async fn sqlite_file() -> Self {
        let file = TempSqlite::new();
        let store = SqliteStore::connect(&file.url()).await.expect("open SQLite file");
        Self {
            stores: Stores::from_store(store),
            place: Place::File { _dir: file },
        }
    }

    pub async fn postgres() -> Self {
        let (url, db) = throwaway_postgres().await;
        let store = PgStore::connect(&url).await.expect("connect to the throwaway database");
        Self {
            stores: Stores::from_store(store),
            place: Place::Postgres(db),
        }
    }

    /// Drops the database (on a panic, the guards' `Drop` does it instead).
    pub async fn finish(self) {
        let Self { stores, place } = self;
        drop(stores);
        if let Place::Postgres(db) = place {
            db.cleanup().await;
        }
    }
}
