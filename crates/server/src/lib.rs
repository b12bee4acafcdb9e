//! keyfleet's HTTP server.
//!
//! [`app::app`] builds the axum router from an [`state::AppState`]; [`serve::run`] opens the
//! store, loads keys, bootstraps the first administrator and serves until SIGTERM. Use cases
//! live in `keyfleet-core` and are shared with the CLI; [`routes`] are thin adapters that
//! find out who is calling, call a use case and map its errors to problem details
//! ([`error`]); [`web`] holds the server-rendered pages, which call the same use cases;
//! [`jobs`] runs the scheduled work under database leases.
//!
//! Architecture invariants: only this crate and the store crates touch axum or sqlx; no
//! handler writes to a store (a test reads the source to check).

pub mod api;
pub mod app;
pub mod auth;
pub mod backchannel;
pub mod config;
pub mod error;
pub mod extract;
pub mod factory_client;
pub mod jobs;
pub mod logging;
pub mod mail;
pub mod mds_fetch;
pub mod routes;
pub mod serve;
pub mod state;
pub mod web;
