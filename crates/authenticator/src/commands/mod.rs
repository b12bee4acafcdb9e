//! One module per CTAP 2.1 command (§6), and the dispatcher.

pub mod bio_enrollment;
pub mod client_pin;
pub mod config;
pub mod credential_management;
pub mod get_assertion;
pub mod get_info;
pub mod get_next_assertion;
pub mod large_blobs;
pub mod make_credential;
mod parse;
pub mod reset;
pub mod selection;

use crate::Authenticator;
use crate::cbor::{Params, Value};
use crate::env::Env;
use crate::status::Status;

/// authenticatorMakeCredential.
pub const MAKE_CREDENTIAL: u8 = 0x01;
/// authenticatorGetAssertion.
pub const GET_ASSERTION: u8 = 0x02;
/// authenticatorGetInfo.
pub const GET_INFO: u8 = 0x04;
/// authenticatorClientPIN.
pub const CLIENT_PIN: u8 = 0x06;
/// authenticatorReset.
pub const RESET: u8 = 0x07;
/// authenticatorGetNextAssertion.
pub const GET_NEXT_ASSERTION: u8 = 0x08;
/// authenticatorBioEnrollment.
pub const BIO_ENROLLMENT: u8 = 0x09;
/// authenticatorCredentialManagement.
pub const CREDENTIAL_MANAGEMENT: u8 = 0x0A;
/// authenticatorSelection.
pub const SELECTION: u8 = 0x0B;
/// authenticatorLargeBlobs.
pub const LARGE_BLOBS: u8 = 0x0C;
/// authenticatorConfig.
pub const CONFIG: u8 = 0x0D;

/// Continuation state of a multi-response command. Any other command discards it (§6.3, §6.8).
#[derive(Default)]
pub enum Pending {
    /// Nothing to continue.
    #[default]
    None,
    /// Remaining assertions for authenticatorGetNextAssertion.
    Assertions(get_next_assertion::PendingAssertions),
    /// Remaining RPs for enumerateRPsGetNextRP.
    Rps(credential_management::PendingRps),
    /// Remaining credentials for enumerateCredentialsGetNextCredential.
    Credentials(credential_management::PendingCredentials),
}

/// Routes one request to its command. `Ok(None)` is a success with no CBOR body.
pub fn dispatch(a: &mut Authenticator, env: &mut dyn Env, request: &[u8]) -> Result<Option<Value>, Status> {
    let (&command, body) = request.split_first().ok_or(Status::InvalidLength)?;
    let pending = std::mem::take(&mut a.vol.pending);
    match command {
        GET_INFO => no_params(body).map(|()| Some(get_info::run(a))),
        RESET => no_params(body).and_then(|()| reset::run(a, env)).map(|()| None),
        GET_NEXT_ASSERTION => no_params(body)
            .and_then(|()| get_next_assertion::run(a, env, pending))
            .map(Some),
        SELECTION => no_params(body).and_then(|()| selection::run(env)).map(|()| None),
        MAKE_CREDENTIAL => make_credential::run(a, env, &Params::decode(body)?).map(Some),
        GET_ASSERTION => get_assertion::run(a, env, &Params::decode(body)?).map(Some),
        CLIENT_PIN => client_pin::run(a, env, &Params::decode(body)?),
        CREDENTIAL_MANAGEMENT => credential_management::run(a, env, &Params::decode(body)?, pending),
        CONFIG => config::run(a, env, &Params::decode(body)?).map(|()| None),
        BIO_ENROLLMENT => bio_enrollment::run(a, env, &Params::decode(body)?),
        LARGE_BLOBS => large_blobs::run(a, env, &Params::decode(body)?),
        _ => Err(Status::InvalidCommand),
    }
}

/// Commands without parameters take no CBOR at all. CTAP 2.1 (§6.4 getInfo, §6.6 reset, §6.9
/// selection) defines no inputs for them and names no error for a request that carries some;
/// OpenSK ignores such bytes, we refuse them with CTAP1_ERR_INVALID_LENGTH ("invalid message or
/// item length", §8.2), so that a malformed request never runs a command (reset above all).
fn no_params(body: &[u8]) -> Result<(), Status> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(Status::InvalidLength)
    }
}
