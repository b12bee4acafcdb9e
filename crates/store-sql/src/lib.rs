//! The store logic keyfleet's two SQL stores share, written once and generic over the
//! database: every trait of [`keyfleet_domain::store`] on [`SqlStore<B>`], for any
//! [`Backend`] `B`.
//!
//! A backend (`keyfleet-store-sqlite`, `keyfleet-store-postgres`) brings only what truly
//! differs between databases: its SQL ([`Sql`], one statement per step, in its own files),
//! how it opens, configures and migrates a pool, how it stores lists, and how it names
//! constraint violations. Everything else lives here: the order of the steps in each
//! transaction, the audit event written in the same transaction as every change, reading
//! rows into domain values (`rows`, private), mapping errors ([`error`]), the NUL
//! rule ([`nul`]), the schema check ([`schema`]) and the rate-limit arithmetic
//! ([`rate_limit`]). There is no `if sqlite` anywhere: when the databases need different
//! locking, the backend's SQL says so (`BEGIN IMMEDIATE`, `FOR UPDATE`).
//!
//! ```ignore
//! // In a backend crate:
//! pub struct SqliteBackend;
//! impl keyfleet_store_sql::Backend for SqliteBackend { /* its SQL and its pool */ }
//! pub type SqliteStore = keyfleet_store_sql::SqlStore<SqliteBackend>;
//!
//! let stores = Stores::from_store(SqliteStore::connect("sqlite://keyfleet.db").await?);
//! ```

pub mod audit;
mod backend;
mod batch;
mod clients;
mod conns;
mod consent;
mod directory;
pub mod error;
pub mod exec;
mod jobs;
mod keyring;
mod mail;
mod metadata;
pub mod migrations;
pub mod nul;
mod oidc;
mod onbehalf;
mod policies;
pub mod rate_limit;
mod reports;
mod rows;
pub mod schema;
mod sessions;
mod shipments;
mod store;
mod strengths;
mod users;
mod webauthn;

pub use backend::{Backend, Opened, Sql, Upkeep, UpkeepTask};
pub use conns::{WriterTurn, WriterTurns};
pub use consent::ConsentSql;
pub use directory::DirectorySql;
pub use mail::MAIL_COLUMNS;
pub use metadata::MetadataSql;
pub use oidc::OidcSql;
pub use onbehalf::OnBehalfSql;
pub use policies::PolicySql;
pub use shipments::ShipmentSql;
pub use store::SqlStore;
pub use strengths::StrengthSql;
