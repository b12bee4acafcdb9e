//! authenticatorGetNextAssertion (0x08), CTAP 2.1 §6.3.
//!
//! Continues a discoverable getAssertion that found several credentials. The state lives until
//! any other command arrives, the credentials run out, or 30 s pass without a request.

use super::Pending;
use super::get_assertion::{Context, assertion};
use crate::Authenticator;
use crate::cbor::Value;
use crate::credential::Found;
use crate::env::Env;
use crate::status::Status;

/// How long the platform has between assertions.
pub const TIMEOUT_MS: u64 = 30_000;

/// The remaining credentials of a getAssertion.
pub struct PendingAssertions {
    pub ctx: Context,
    pub remaining: Vec<Found>,
    pub last_at: u64,
}

/// Runs authenticatorGetNextAssertion.
pub fn run(a: &mut Authenticator, env: &mut dyn Env, pending: Pending) -> Result<Value, Status> {
    // 1. No getAssertion to continue: CTAP2_ERR_NOT_ALLOWED.
    let Pending::Assertions(mut state) = pending else {
        return Err(Status::NotAllowed);
    };
    // 2.–3. Out of credentials or out of time: CTAP2_ERR_NOT_ALLOWED.
    let now = env.now_ms();
    if state.remaining.is_empty() || now.saturating_sub(state.last_at) >= TIMEOUT_MS {
        return Err(Status::NotAllowed);
    }
    // 4.–5. Sign with the next credential and restart the timer.
    let cred = state.remaining.remove(0);
    let response = assertion(a, env, &state.ctx, &cred, None)?;
    state.last_at = now;
    if !state.remaining.is_empty() {
        a.vol.pending = Pending::Assertions(state);
    }
    Ok(response)
}

#[cfg(test)]
mod tests;
