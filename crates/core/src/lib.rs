//! keyfleet's use cases: every rule about who may do what, limits, and what is audited,
//! written once and called alike by the JSON routes, the pages and the CLI.
//!
//! A use case is a function taking a [`Ctx`] (the stores, the configuration, the time, who
//! acts, the request) and returning domain values or a typed [`CoreError`]. An adapter (an
//! axum handler, a page, a CLI command) parses its input, calls one use case, and renders the
//! answer; it never writes to a store itself.
//!
//! - [`access`]: who may do what ([`access::Principal`], [`access::Permission`]); every
//!   refusal is audited here.
//! - [`identity`]: users, groups, temporary access passes, sessions.
//! - [`credentials`]: security keys: the two WebAuthn ceremonies, renaming, removal, reset.
//! - [`clients`]: API clients, their secrets, access tokens.
//! - [`limits`]: the one place for rate limits and back-off (TAP, WebAuthn, token requests).
//! - [`audit`]: typed event details, and the log as people read it (names beside ids).
//! - [`metadata`]: the FIDO Metadata Service BLOB: import (verified by `keyfleet-mds`),
//!   status, entries, and the relying party's lookup of roots and status by AAGUID.
//! - [`strengths`]: authentication strengths (two built in, the administrators' own) and
//!   which of them a session's sign-in meets (for single sign-on's `acr`).
//! - [`policies`]: group policies (the built-in default from the settings), a user's
//!   effective policy, the lock-out preview, and the checks registration and sign-in call.
//! - [`reports`]: the dashboard's figures and the registration report, counted by the store.
//! - [`directory`]: directory sync, the SCIM 2.0 service provider's use cases, and what
//!   joiners and leavers do to sessions and keys.
//! - [`jobs`]: the scheduled work (housekeeping); the server runs it under a lease.
//!
//! Architecture invariant: nothing here knows about HTTP (no axum, tower or hyper; a test
//! checks `cargo tree`). Time comes from the context, which the caller fills from one
//! [`keyfleet_domain::time::Clock`].
//!
//! ```
//! use keyfleet_core::access::{Permission, Principal};
//! let cli = Principal::System;
//! assert!(cli.may(Permission::ManageClients));
//! ```

pub mod access;
pub mod audit;
pub mod bootstrap;
pub mod clients;
pub mod config;
mod context;
pub mod credentials;
pub mod directory;
pub mod error;
pub mod identity;
pub mod jobs;
pub mod keyring;
pub mod limits;
pub mod mail;
pub mod metadata;
pub mod models;
pub mod oidc;
pub mod policies;
pub mod reports;
pub mod secrets;
pub mod shipments;
pub mod strengths;

pub use config::CoreConfig;
pub use context::{Core, Ctx};
pub use error::{CeremonyError, CoreError, FailureClass};
