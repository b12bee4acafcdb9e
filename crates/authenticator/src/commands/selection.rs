//! authenticatorSelection (0x0B), CTAP 2.1 §6.9: the user touches the authenticator they want.

use crate::collect_user_presence;
use crate::env::Env;
use crate::status::Status;

/// Runs authenticatorSelection: success after a touch, CTAP2_ERR_OPERATION_DENIED otherwise.
pub fn run(env: &mut dyn Env) -> Result<(), Status> {
    collect_user_presence(env)
}

#[cfg(test)]
mod tests;
