//! One conformance suite for every keyfleet store, and throwaway databases for tests.
//!
//! [`suite`] holds the contract of [`keyfleet_domain::store`] as async functions that take a
//! [`Stores`](keyfleet_domain::store::Stores) built on an empty, migrated database; the
//! integration binary (`tests/it`) runs each of them against SQLite (a temporary file and
//! `sqlite::memory:`) and PostgreSQL. A store passes when every function returns; each
//! panics with a message naming the broken rule.
//!
//! [`postgres::throwaway_postgres`] creates a PostgreSQL database with a random name and
//! drops it again, for this suite and for any other crate's tests that need a real server.
//! It reads `KEYFLEET_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and panics with instructions when the server cannot be reached: PostgreSQL tests never
//! skip silently. [`sqlite::TempSqlite`] is the same for a SQLite file.

pub mod fixtures;
pub mod postgres;
pub mod sqlite;
pub mod suite;
