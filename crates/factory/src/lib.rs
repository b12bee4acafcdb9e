//! The key factory (`keyfleet factory …`, issue 14): a separate service that plays the key
//! vendor. It takes shipments whose credential requests are encrypted to its transport key,
//! programs a factory-fresh software key (`keyfleet-softkey`, the CTAP engine of
//! `keyfleet-authenticator`) for the named worker, sets a random PIN that must be changed on
//! first use, answers signed and encrypted to the customer, and ships the key file to its
//! outbox. Its own process and SQLite database; the protocol is `keyfleet-provisioning`.
//!
//! - [`service`]: the use cases (tokens, shipments, keys), every change audited;
//! - [`fulfil`]: programming a key and forgetting what it was given;
//! - [`requests`]: credential requests checked as a browser would, and the clientDataJSON;
//! - [`keys`]: transport and signing keys, published as JWKS, rotated;
//! - [`store`]: the database; [`http`]: the routes; [`error`]: problem+json;
//! - [`cli`]: `keyfleet factory serve|create-token|list-tokens|revoke-token|ship|deliver|…`.
//!
//! `docs/key-factory.md` is the manual.

pub mod cli;
pub mod error;
pub mod fulfil;
pub mod http;
pub mod keys;
pub mod requests;
pub mod service;
pub mod store;

pub use cli::{FactoryArgs, run};
pub use error::FactoryError;
pub use service::KeyFactory;
