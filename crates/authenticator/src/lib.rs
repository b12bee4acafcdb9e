//! keyfleet's software FIDO2 authenticator engine: a CTAP 2.1 state machine with no IO.
//!
//! Spec: FIDO "Client to Authenticator Protocol (CTAP) 2.1", Proposed Standard, 15 June 2021
//! (<https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html>).
//! Section numbers in comments refer to it.
//!
//! # API
//!
//! - [`Env`]: the clock (`now_ms`), randomness (`rng`), user presence (`user_presence`) and, for
//!   the band's bioEnrollment, finger captures (`fingerprint_capture`, by default a touch = a good
//!   sample) the engine needs; [`TestEnv`] is a deterministic implementation (seeded RNG,
//!   `advance(ms)`, scripted presence and captures).
//! - [`State`]: all persistent state (model identity, attestation material, PIN hash and retries,
//!   discoverable credentials, large blobs, configuration, enterprise attestation, band
//!   enrolment). `State::factory_new(model, attestation, rng)`, `to_bytes()`, `from_bytes()`
//!   (older files without the newer optional fields load), `set_enterprise_rp_ids` (the factory's
//!   list for vendor-facilitated enterprise attestation). [`models()`] lists the [`Model`]s
//!   (`nfc-key`, `band`), each with its own AAGUID. [`AttestationMaterial`] carries the batch key and
//!   the `x5c` chain (batch certificate first).
//! - [`Authenticator`]: `new(state)`, `state()`, `take_dirty()` (persistent state changed: save the
//!   key file), `power_on(env)` / `power_off()` (NFC field on/off: clears tokens, key agreement, the
//!   wrong-PIN streak, continuation state; power-on starts the 10 s reset window),
//!   `ctap2(env, command ‖ CBOR) → status ‖ CBOR`, `u2f(env, ins, p1, p2, data) → Ok(data) |
//!   Err(status word)`, `u2f_enabled()` (false when alwaysUv is on: the SELECT answer is then
//!   `FIDO_2_0`), and the band controls `band_wear`, `band_take_off`, `band_enrol_finger(env,
//!   captures)`, `band_delete_user_data(env)` (the reassign primitive: credentials, large blobs,
//!   PIN, configuration and fingerprint gone), `band_status()`.
//! - What is supported and what is left out: `docs/authenticator-features.md`.
//! - [`Status`]: CTAP status codes (§8.2) with `u8` conversions both ways.
//!
//! # Example
//!
//! ```
//! use keyfleet_authenticator::{models, AttestationMaterial, Authenticator, State, TestEnv};
//!
//! let mut env = TestEnv::new(1);
//! let attestation = AttestationMaterial {
//!     private_key: [7u8; 32].into(),
//!     cert_chain_der: vec![],
//!     serial_number: "KF-0001".into(),
//! };
//! let state = State::factory_new(&models()[0], attestation, &mut rand::rngs::OsRng);
//! let mut key = Authenticator::new(state);
//! key.power_on(&mut env);
//! let info = key.ctap2(&mut env, &[0x04]); // authenticatorGetInfo
//! assert_eq!(info[0], 0x00);
//! ```
//!
//! # Architecture invariants
//!
//! - No IO, no threads, no global state: everything comes in through [`Env`] and the arguments.
//! - Every response is canonical CBOR (§8); requests are decoded with bounded depth.
//! - A request that fails to parse never changes persistent state.

pub mod band;
pub mod cbor;
mod commands;
mod credential;
pub mod crypto;
pub mod enterprise;
mod env;
mod extensions;
pub mod pin_protocol;
mod state;
pub mod status;
pub mod token;
mod u2f;

#[cfg(test)]
mod test_support;

pub use band::{BandError, BandStatus, CAPTURES_PER_ATTEMPT, CaptureQuality, EnrolOutcome, MAX_ENROL_ATTEMPTS};
pub use env::{Env, TestEnv};
pub use state::{
    AttestationMaterial, BandState, Model, ModelKind, ResidentCredential, State, StateError, model_by_name, models,
};
pub use status::Status;

use cbor::Value;
use pin_protocol::{KeyAgreementKey, Protocol};
use token::Token;

/// The authenticator: persistent [`State`] plus volatile (power-cycle) state.
pub struct Authenticator {
    pub(crate) state: State,
    pub(crate) vol: Volatile,
    dirty: bool,
}

/// State lost when the NFC field goes away.
#[derive(Default)]
pub(crate) struct Volatile {
    /// When the field came on; `None` before the first `power_on` (the first command powers on).
    pub powered_on_at: Option<u64>,
    pub key_agreement: Option<KeyAgreementKey>,
    pub token: Option<Token>,
    /// Consecutive wrong PINs since power-up (three → PIN_AUTH_BLOCKED until power cycle).
    pub pin_failures: u8,
    pub pending: commands::Pending,
    /// A largeBlobs write in progress (§6.10.2: expectedLength, expectedNextOffset, buffer).
    pub large_blob_write: Option<commands::large_blobs::PendingWrite>,
    /// A fingerprint enrolment in progress (authenticatorBioEnrollment, §6.7.2).
    pub enrollment: Option<commands::bio_enrollment::Enrollment>,
}

impl Authenticator {
    /// An authenticator with this persistent state, powered off.
    pub fn new(state: State) -> Authenticator {
        Authenticator {
            state,
            vol: Volatile::default(),
            dirty: false,
        }
    }

    /// The persistent state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// True when persistent state changed since the last call (caller then saves the key file).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// NFC field on: clears volatile state (pinUvAuthToken, key agreement key regenerated,
    /// consecutive-wrong-PIN counter, continuation state) and starts the 10 s reset window.
    pub fn power_on(&mut self, env: &mut dyn Env) {
        self.vol = Volatile {
            powered_on_at: Some(env.now_ms()),
            key_agreement: Some(KeyAgreementKey::generate(env.rng())),
            ..Volatile::default()
        };
    }

    /// NFC field off.
    pub fn power_off(&mut self) {
        self.vol = Volatile::default();
    }

    /// One CTAP2 request: command byte ‖ CBOR parameters → status byte ‖ CBOR response.
    pub fn ctap2(&mut self, env: &mut dyn Env, request: &[u8]) -> Vec<u8> {
        if self.vol.powered_on_at.is_none() {
            self.power_on(env);
        }
        let result = self.tracked(|a| commands::dispatch(a, env, request));
        match result {
            Ok(Some(value)) => [&[0u8][..], &cbor::encode(&value)].concat(),
            Ok(None) => vec![0],
            Err(status) => vec![status.into()],
        }
    }

    /// One U2F (CTAP1) request: INS 0x01 register / 0x02 authenticate / 0x03 version.
    /// Ok = response data (SW 9000), Err = ISO status word (0x6985 user presence needed, 0x6A80 bad
    /// key handle, 0x6D00 INS not supported or U2F disabled, 0x6700 wrong length).
    pub fn u2f(&mut self, env: &mut dyn Env, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Result<Vec<u8>, u16> {
        self.tracked(|a| u2f::handle(a, env, ins, p1, p2, data))
    }

    /// Whether U2F is on (off when alwaysUv is set): decides the SELECT answer (U2F_V2 vs FIDO_2_0).
    pub fn u2f_enabled(&self) -> bool {
        !self.state.always_uv
    }

    /// Runs `f` and marks the state dirty if it changed the persistent state.
    pub(crate) fn tracked<T>(&mut self, f: impl FnOnce(&mut Authenticator) -> T) -> T {
        let before = self.state.clone();
        let out = f(self);
        if self.state != before {
            self.dirty = true;
        }
        out
    }

    /// The key-agreement key, generated if the field came on without one.
    pub(crate) fn key_agreement(&mut self, env: &mut dyn Env) -> &KeyAgreementKey {
        self.vol
            .key_agreement
            .get_or_insert_with(|| KeyAgreementKey::generate(env.rng()))
    }

    /// The live token, dropping it first if its usage timer ran out.
    pub(crate) fn live_token(&mut self, env: &mut dyn Env) -> Option<&mut Token> {
        let now = env.now_ms();
        if self.vol.token.as_ref().is_some_and(|t| t.expired(now)) {
            self.vol.token = None;
        }
        self.vol.token.as_mut()
    }

    /// `verify(pinUvAuthToken, message, pinUvAuthParam)` against the live token (§6.5.7).
    pub(crate) fn verify_token(
        &mut self,
        env: &mut dyn Env,
        protocol: Protocol,
        message: &[u8],
        param: &[u8],
    ) -> Result<&mut Token, Status> {
        let token = self.live_token(env).ok_or(Status::PinAuthInvalid)?;
        if protocol.verify(token.value.as_slice(), message, param) {
            Ok(token)
        } else {
            Err(Status::PinAuthInvalid)
        }
    }

    /// Whether built-in UV can succeed right now: an enrolled band, worn, not in "See Admin".
    pub(crate) fn builtin_uv_ready(&self) -> bool {
        let b = &self.state.band;
        self.state.model.kind == ModelKind::Band && b.enrolled && b.worn && !b.see_admin
    }

    /// Whether built-in UV exists and is enrolled (CTAP "configured"), worn or not.
    pub(crate) fn builtin_uv_enrolled(&self) -> bool {
        self.state.model.kind == ModelKind::Band && self.state.band.enrolled && !self.state.band.see_admin
    }
}

/// Checks a `pinUvAuthProtocol` parameter: absent → MISSING_PARAMETER, neither 1 nor 2 →
/// INVALID_PARAMETER.
pub(crate) fn check_protocol(value: Option<&Value>) -> Result<Protocol, Status> {
    let v = value.ok_or(Status::MissingParameter)?.as_uint()?;
    Protocol::from_number(v).ok_or(Status::InvalidParameter)
}

/// Asks for a touch; a refusal or timeout is CTAP2_ERR_OPERATION_DENIED.
pub(crate) fn collect_user_presence(env: &mut dyn Env) -> Result<(), Status> {
    if env.user_presence() {
        Ok(())
    } else {
        Err(Status::OperationDenied)
    }
}
