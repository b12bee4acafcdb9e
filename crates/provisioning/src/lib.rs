//! The key factory's protocol, shared by the factory (`keyfleet-factory`) and keyfleet's
//! shipment connector. No IO: randomness is passed in, keys are values.
//!
//! - [`jwk`]: P-256 public keys as JWK (RFC 7517 §4, RFC 7518 §6.2), JWK Sets, private keys
//!   with their key id;
//! - [`kw`]: AES Key Wrap (RFC 3394), for `ECDH-ES+A256KW`;
//! - [`jwe`]: JWE compact serialization (RFC 7516) with `alg` `ECDH-ES+A256KW` and `enc`
//!   `A256GCM` (RFC 7518 §4.6, §5.3) on P-256;
//! - [`jws`]: JWS compact serialization (RFC 7515) with ES256 (RFC 7518 §3.4);
//! - [`sealed`]: the factory's answers, signed then encrypted (a JWS inside a JWE), and their
//!   opening on the customer's side with typed refusals;
//! - [`api`]: the JSON shapes of the factory's HTTP API and of the encrypted payloads.
//!
//! Why no JOSE crate: see `docs/key-factory.md` ("Crypto choices"). In short, the maintained
//! pure-Rust JWE implementations either build OpenSSL (josekit), are JWT-claims oriented with
//! a second RustCrypto generation (jwt-simple), or are not allowed here (compact_jwt, from
//! kanidm). The one algorithm suite is small enough to write from the RFCs over the RustCrypto
//! primitives the workspace already builds (p256 ECDH, aes, aes-gcm, sha2), and it is tested
//! against RFC 3394 §4.6, RFC 7518 Appendix C and a JWE made by joserfc (Python), stored as
//! files with their provenance in `tests/data/`.

pub mod api;
pub mod b64;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod kw;
pub mod sealed;

pub use jwe::JweError;
pub use jwk::{EcPrivateKey, Jwks, PublicJwk};
pub use jws::JwsError;
pub use sealed::OpenError;
