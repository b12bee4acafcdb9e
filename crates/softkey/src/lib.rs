//! keyfleet's software security key, IO side.
//!
//! The CTAP engine (`keyfleet-authenticator`) and the NFC/APDU layer (`keyfleet-ctap-transport`)
//! do no IO. This crate gives them a home:
//!
//! - [`keyfile`]: the key's whole state in one encrypted file, replaced atomically;
//! - [`factory`]: per-model factory CAs and batch attestation certificates;
//! - [`dirs`]: where the factory CAs and the file keys live (the user's data directory);
//! - [`key`]: [`SoftKey`], the engine with its environment and key file, as an NFC applet;
//! - [`vpcd`]: a bridge that puts the key "on the reader" of pcscd's vpcd driver, so that any
//!   PC/SC client (python-fido2, Windows-style NFC stacks) talks to it as to a real NFC key;
//! - [`platform`]: the platform side of CTAP 2.1 (PIN protocol two, credential management) that
//!   the commands use to drive the engine with real requests;
//! - [`cli`]: `keyfleet key …` ([`KeyCommand`], [`run`]).
//!
//! Architecture invariant: protocol logic stays in the IO-free crates; this crate moves bytes,
//! files and sockets.

pub mod cli;
pub mod dirs;
pub mod factory;
pub mod key;
pub mod keyfile;
pub mod platform;
pub mod vpcd;

pub use cli::{CredentialsCommand, KeyArgs, KeyCommand, run};
pub use key::SoftKey;

#[cfg(test)]
mod testutil;
