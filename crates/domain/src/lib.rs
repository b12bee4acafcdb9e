//! keyfleet's identity core.
//!
//! This crate holds the entities every other part of keyfleet talks about (users, groups,
//! sessions, temporary access passes, API clients, signing keys, WebAuthn credentials and
//! ceremonies, single sign-on applications and grants, audit events, what the reports count, authenticator metadata, authentication strengths), the rules that make a value valid (username canonicalisation,
//! lifetimes, scopes, key nicknames), and the narrow store traits that the SQLite and
//! PostgreSQL crates implement.
//!
//! Architecture invariant: this crate does no IO. Time comes in as a [`Timestamp`] argument
//! and randomness as a [`rand_core::CryptoRngCore`], so every rule is testable without a
//! clock or a database.
//!
//! ```
//! use keyfleet_domain::user::Username;
//! let name = Username::parse("  Alice@Example.COM ").unwrap();
//! assert_eq!(name.as_str(), "alice@example.com");
//! ```

pub mod audit;
pub mod backchannel;
pub mod ceremony;
pub mod client;
pub mod consent;
pub mod credential;
pub mod directory;
pub mod group;
pub mod ids;
pub mod keyring;
pub mod mail;
pub mod metadata;
pub mod oidc;
pub mod onbehalf;
pub mod outbox;
pub mod policy;
pub mod report;
pub mod secret;
pub mod session;
pub mod shipment;
pub mod signing_key;
pub mod store;
pub mod strength;
pub mod tap;
pub mod time;
pub mod user;

pub use ids::{GroupId, UserId};
pub use store::StoreError;
pub use time::Timestamp;
