//! U2F (CTAP1) raw messages: FIDO U2F Raw Message Formats v1.2 §4–§6, as CTAP 2.1 §10 and §11.3
//! carry them over NFC. Key handles are non-discoverable credential IDs (see `credential`), so a
//! U2F registration also works through CTAP2 getAssertion with the same application hash.

use crate::credential::{self, CRED_PROTECT_OPTIONAL, CRED_PROTECT_REQUIRED};
use crate::env::Env;
use crate::{Authenticator, crypto};

/// SW_CONDITIONS_NOT_SATISFIED: user presence needed (or check-only found the key handle).
pub const SW_CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
/// SW_WRONG_DATA: the key handle is not ours, or the control byte is unknown.
pub const SW_WRONG_DATA: u16 = 0x6A80;
/// SW_WRONG_LENGTH.
pub const SW_WRONG_LENGTH: u16 = 0x6700;
/// SW_INS_NOT_SUPPORTED (also every U2F instruction while alwaysUv is on).
pub const SW_INS_NOT_SUPPORTED: u16 = 0x6D00;
/// No precise diagnosis (no attestation certificate provisioned).
pub const SW_UNKNOWN: u16 = 0x6F00;

const INS_REGISTER: u8 = 0x01;
const INS_AUTHENTICATE: u8 = 0x02;
const INS_VERSION: u8 = 0x03;

const CHECK_ONLY: u8 = 0x07;
const ENFORCE_USER_PRESENCE: u8 = 0x03;
const DONT_ENFORCE_USER_PRESENCE: u8 = 0x08;

/// Handles one U2F instruction.
pub fn handle(a: &mut Authenticator, env: &mut dyn Env, ins: u8, p1: u8, _p2: u8, data: &[u8]) -> Result<Vec<u8>, u16> {
    if !a.u2f_enabled() {
        return Err(SW_INS_NOT_SUPPORTED);
    }
    match ins {
        INS_REGISTER => register(a, env, data),
        INS_AUTHENTICATE => authenticate(a, env, p1, data),
        INS_VERSION if data.is_empty() => Ok(b"U2F_V2".to_vec()),
        INS_VERSION => Err(SW_WRONG_LENGTH),
        _ => Err(SW_INS_NOT_SUPPORTED),
    }
}

/// §4.3 Registration: challenge (32) ‖ application (32) → 0x05 ‖ public key (65) ‖ L ‖ key
/// handle ‖ attestation certificate ‖ signature over 0x00 ‖ app ‖ challenge ‖ handle ‖ key.
fn register(a: &mut Authenticator, env: &mut dyn Env, data: &[u8]) -> Result<Vec<u8>, u16> {
    if data.len() != 64 {
        return Err(SW_WRONG_LENGTH);
    }
    let (challenge, application) = data.split_at(32);
    let application: &[u8; 32] = application.try_into().map_err(|_| SW_WRONG_LENGTH)?;
    let cert = a.state.attestation.cert_chain_der.first().cloned().ok_or(SW_UNKNOWN)?;
    if !env.user_presence() {
        return Err(SW_CONDITIONS_NOT_SATISFIED);
    }
    let key = zeroize::Zeroizing::new(crypto::new_p256_scalar(env.rng()));
    let point = crypto::public_point(&key).ok_or(SW_UNKNOWN)?;
    let wrapped = credential::Wrapped {
        alg: crypto::Alg::Es256,
        private_key: key.as_slice(),
        cred_protect: CRED_PROTECT_OPTIONAL,
        hmac_secret: false,
        cred_blob: None,
    };
    let handle = credential::wrap(&a.state, env.rng(), application, &wrapped);
    let signed = [&[0x00][..], application, challenge, &handle, &point].concat();
    let sig = crypto::sign_es256(&a.state.attestation.private_key, &signed).ok_or(SW_UNKNOWN)?;
    let handle_len = u8::try_from(handle.len()).map_err(|_| SW_UNKNOWN)?;
    Ok([&[0x05][..], &point, &[handle_len], &handle, &cert, &sig].concat())
}

/// §5 Authentication: challenge (32) ‖ application (32) ‖ L ‖ key handle → presence byte ‖
/// counter (4) ‖ signature over app ‖ presence ‖ counter ‖ challenge.
fn authenticate(a: &mut Authenticator, env: &mut dyn Env, p1: u8, data: &[u8]) -> Result<Vec<u8>, u16> {
    if data.len() < 65 || data.len() != 65 + usize::from(data[64]) {
        return Err(SW_WRONG_LENGTH);
    }
    let challenge = &data[..32];
    let application: &[u8; 32] = data[32..64].try_into().map_err(|_| SW_WRONG_LENGTH)?;
    let found = credential::unwrap(&a.state, application, &data[65..])
        .filter(|c| c.cred_protect != CRED_PROTECT_REQUIRED && c.alg == crypto::Alg::Es256)
        .ok_or(SW_WRONG_DATA)?;
    let presence = match p1 {
        CHECK_ONLY => return Err(SW_CONDITIONS_NOT_SATISFIED),
        ENFORCE_USER_PRESENCE if env.user_presence() => 0x01,
        ENFORCE_USER_PRESENCE => return Err(SW_CONDITIONS_NOT_SATISFIED),
        DONT_ENFORCE_USER_PRESENCE => 0x00,
        _ => return Err(SW_WRONG_DATA),
    };
    a.state.sign_count = a.state.sign_count.wrapping_add(1);
    let counter = a.state.sign_count.to_be_bytes();
    let signed = [application.as_slice(), &[presence], &counter, challenge].concat();
    let sig = found.alg.sign(&found.private_key, &signed).ok_or(SW_UNKNOWN)?;
    Ok([&[presence][..], &counter, &sig].concat())
}

#[cfg(test)]
mod tests;
