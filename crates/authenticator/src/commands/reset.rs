//! authenticatorReset (0x07), CTAP 2.1 §6.6.
//!
//! Allowed only within 10 s of power-up (the NFC rule, nfc-pcsc.md §2) and after a touch. Wipes
//! discoverable credentials, the PIN and configuration, and replaces the credential keys so that
//! non-discoverable credentials die too. On the band it also removes the fingerprint template: a
//! reset authenticator must not verify its previous user.

use crate::env::Env;
use crate::status::Status;
use crate::{Authenticator, collect_user_presence};

/// The reset window after power-up, in milliseconds.
pub const RESET_WINDOW_MS: u64 = 10_000;

/// Runs authenticatorReset.
pub fn run(a: &mut Authenticator, env: &mut dyn Env) -> Result<(), Status> {
    // 1. Outside the window since power-up: CTAP2_ERR_NOT_ALLOWED.
    let since = a.vol.powered_on_at.map(|t| env.now_ms().saturating_sub(t));
    if since.is_none_or(|ms| ms > RESET_WINDOW_MS) {
        return Err(Status::NotAllowed);
    }
    // 2. User presence; a refusal is CTAP2_ERR_OPERATION_DENIED.
    collect_user_presence(env)?;
    // 3. Wipe.
    wipe(a, env);
    Ok(())
}

/// The reset itself, shared with the band's "delete user data".
pub fn wipe(a: &mut Authenticator, env: &mut dyn Env) {
    a.state.wipe_user_data(env.rng());
    a.vol.token = None;
    a.vol.pin_failures = 0;
    a.vol.pending = super::Pending::None;
    a.vol.large_blob_write = None;
    a.vol.enrollment = None;
    a.vol.key_agreement = Some(crate::pin_protocol::KeyAgreementKey::generate(env.rng()));
}

#[cfg(test)]
mod tests;
