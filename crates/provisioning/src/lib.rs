//! The key factory's protocol, shared by the factory (`keyfleet-factory`) and keyfleet's
//! shipment connector. No IO but jwt-simple's own: it reads the system clock (`iat`, `nbf`,
//! `exp`) and draws randomness from the operating system. Keys are values.
//!
//! - [`jwk`]: P-256 public keys as JWK (RFC 7517 §4, RFC 7518 §6.2), JWK Sets, private keys
//!   with their key id;
//! - [`jwe`]: JWE compact serialization (RFC 7516) with `alg` `ECDH-ES+A256KW` and `enc`
//!   `A256GCM` (RFC 7518 §4.6, §5.3) on P-256, of JSON objects (as JWT claims);
//! - [`jws`]: JWS compact serialization (RFC 7515) with ES256 (RFC 7518 §3.4), of JSON objects
//!   (signed JWTs);
//! - [`sealed`]: the factory's answers, signed then encrypted (a signed JWT inside the
//!   encrypted claims), and their opening on the customer's side with typed refusals;
//! - [`api`]: the JSON shapes of the factory's HTTP API and of the encrypted payloads.
//!
//! The JOSE itself is jwt-simple's (pure Rust, without its BoringSSL feature): see
//! `docs/key-factory.md` ("Crypto choices") for why that crate, and what it shapes here (JWT
//! claims as plaintext, P-256 only). This crate keeps the choices jwt-simple leaves to its
//! caller: one algorithm suite, keys found by `kid` in published sets, typed refusals. It is
//! tested against JWEs and a sealed answer made by an independent implementation (joserfc,
//! Python), stored as files with their provenance in `tests/data/`.

pub mod api;
pub mod b64;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod sealed;

pub use jwe::JweError;
pub use jwk::{EcPrivateKey, Jwks, PublicJwk};
pub use jws::JwsError;
pub use sealed::OpenError;
