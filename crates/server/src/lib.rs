//! keyfleet's HTTP server.
//!
//! [`app::app`] builds the axum router from an [`state::AppState`]; [`serve::run`] opens the
//! store, loads keys, bootstraps the first administrator and serves until SIGTERM. Use cases
//! live in [`service`] and are shared with the CLI; [`routes`] are thin adapters that check
//! who is calling, call a use case and map its errors to problem details ([`error`]); [`web`]
//! holds the server-rendered pages, which call the same use cases.
//!
//! Architecture invariant: only this crate and the store crates touch axum or sqlx.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod logging;
pub mod routes;
pub mod secrets;
pub mod serve;
pub mod service;
pub mod state;
pub mod token;
pub mod web;
