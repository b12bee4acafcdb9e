//! authenticatorClientPIN (0x06), CTAP 2.1 §6.5, with PIN/UV auth protocols one and two.
//!
//! Request keys: 0x01 pinUvAuthProtocol, 0x02 subCommand, 0x03 keyAgreement, 0x04 pinUvAuthParam,
//! 0x05 newPinEnc, 0x06 pinHashEnc, 0x09 permissions, 0x0A rpId. Response keys: 0x01
//! keyAgreement, 0x02 pinUvAuthToken, 0x03 pinRetries, 0x04 powerCycleState, 0x05 uvRetries.
//!
//! forcePINChange follows the behaviour documented in nfc-pcsc.md §2: getPinToken answers
//! PIN_INVALID, getPinUvAuthTokenUsingPinWithPermissions answers PIN_POLICY_VIOLATION, changePIN
//! to the same PIN answers PIN_POLICY_VIOLATION, and a successful changePIN clears the flag.

use zeroize::Zeroizing;

use crate::cbor::{Params, Value};
use crate::env::Env;
use crate::pin_protocol::{Protocol, SharedSecret};
use crate::state::{MAX_PIN_RETRIES, ModelKind};
use crate::status::Status;
use crate::token::{DEFINED_PERMISSIONS, PERM_BE, PERM_GA, PERM_MC, SUPPORTED_PERMISSIONS, Token};
use crate::{Authenticator, check_protocol, crypto};

const GET_PIN_RETRIES: u64 = 0x01;
const GET_KEY_AGREEMENT: u64 = 0x02;
const SET_PIN: u64 = 0x03;
const CHANGE_PIN: u64 = 0x04;
const GET_PIN_TOKEN: u64 = 0x05;
const GET_UV_TOKEN: u64 = 0x06;
const GET_UV_RETRIES: u64 = 0x07;
const GET_PIN_TOKEN_WITH_PERMISSIONS: u64 = 0x09;

/// Wrong PINs in a row that block PIN use until the next power cycle.
pub const MAX_CONSECUTIVE_PIN_FAILURES: u8 = 3;
/// Longest PIN, in bytes (the padded PIN block is 64 bytes and must hold a terminating zero).
pub const MAX_PIN_BYTES: usize = 63;

/// Runs one ClientPIN subcommand.
pub fn run(a: &mut Authenticator, env: &mut dyn Env, p: &Params) -> Result<Option<Value>, Status> {
    let sub = p.require(0x02)?.as_uint()?;
    let protocol = if matches!(sub, GET_PIN_RETRIES | GET_UV_RETRIES) {
        Protocol::Two
    } else {
        check_protocol(p.get(0x01))?
    };
    match sub {
        GET_PIN_RETRIES => get_pin_retries(a).map(Some),
        GET_KEY_AGREEMENT => Ok(Some(Value::int_map(vec![(0x01, a.key_agreement(env).public_cose())]))),
        SET_PIN => set_pin(a, env, protocol, p).map(|()| None),
        CHANGE_PIN => change_pin(a, env, protocol, p).map(|()| None),
        GET_PIN_TOKEN => get_pin_token(a, env, protocol, p).map(Some),
        GET_UV_TOKEN => get_uv_token(a, env, protocol, p).map(Some),
        GET_UV_RETRIES => get_uv_retries(a).map(Some),
        GET_PIN_TOKEN_WITH_PERMISSIONS => get_pin_token_with_permissions(a, env, protocol, p).map(Some),
        _ => Err(Status::InvalidSubcommand),
    }
}

/// §6.5.5.2 getPINRetries: pinRetries and powerCycleState.
///
/// Without a PIN the answer is CTAP2_ERR_PIN_NOT_SET. CTAP 2.1 does not list that error for
/// getPINRetries, but shipping keys (YubiKey 5, Solo, OpenSK since 2.1) answer it and
/// python-fido2's device suite (`test_clientpin.py::test_set_and_reset`) requires it; a platform
/// learns "no PIN" from getInfo's clientPin option either way.
fn get_pin_retries(a: &Authenticator) -> Result<Value, Status> {
    if !a.state.pin_is_set() {
        return Err(Status::PinNotSet);
    }
    Ok(Value::int_map(vec![
        (0x03, Value::Int(a.state.pin_retries.into())),
        (0x04, Value::Bool(a.vol.pin_failures >= MAX_CONSECUTIVE_PIN_FAILURES)),
    ]))
}

/// §6.5.5.3 getUVRetries.
fn get_uv_retries(a: &Authenticator) -> Result<Value, Status> {
    if a.state.model.kind != ModelKind::Band {
        return Err(Status::InvalidSubcommand);
    }
    Ok(Value::int_map(vec![(0x05, Value::Int(a.state.uv_retries.into()))]))
}

/// §6.5.5.5 setPIN.
fn set_pin(a: &mut Authenticator, env: &mut dyn Env, protocol: Protocol, p: &Params) -> Result<(), Status> {
    // 1. The mandatory parameters must be present.
    let key_agreement = p.require(0x03)?;
    let new_pin_enc = p.require(0x05)?.as_bytes()?;
    let param = p.require(0x04)?.as_bytes()?;
    // 2. If a PIN has already been set, return CTAP2_ERR_PIN_AUTH_INVALID.
    if a.state.pin_is_set() {
        return Err(Status::PinAuthInvalid);
    }
    // 3. sharedSecret = decapsulate(keyAgreement); an error is CTAP1_ERR_INVALID_PARAMETER.
    let shared = a.key_agreement(env).decapsulate_with(protocol, key_agreement)?;
    // 4. verify(sharedSecret, newPinEnc, pinUvAuthParam), else CTAP2_ERR_PIN_AUTH_INVALID.
    if !shared.verify(new_pin_enc, param) {
        return Err(Status::PinAuthInvalid);
    }
    // 5.–7. Decrypt, unpad and check the new PIN against the policy, then store it.
    let new_pin = decrypt_new_pin(a, &shared, new_pin_enc)?;
    store_pin(a, &new_pin);
    Ok(())
}

/// §6.5.5.6 changePIN.
fn change_pin(a: &mut Authenticator, env: &mut dyn Env, protocol: Protocol, p: &Params) -> Result<(), Status> {
    // 1. The mandatory parameters must be present.
    let key_agreement = p.require(0x03)?;
    let pin_hash_enc = p.require(0x06)?.as_bytes()?;
    let new_pin_enc = p.require(0x05)?.as_bytes()?;
    let param = p.require(0x04)?.as_bytes()?;
    // 2. The PIN must be set and not blocked.
    check_pin_usable(a)?;
    // 3. sharedSecret = decapsulate(keyAgreement).
    let shared = a.key_agreement(env).decapsulate_with(protocol, key_agreement)?;
    // 4. verify(sharedSecret, newPinEnc ‖ pinHashEnc, pinUvAuthParam).
    if !shared.verify(&[new_pin_enc, pin_hash_enc].concat(), param) {
        return Err(Status::PinAuthInvalid);
    }
    // 5. Decrement pinRetries, check the current PIN, restore pinRetries.
    check_pin_hash(a, env, &shared, pin_hash_enc)?;
    // 6. Decrypt and check the new PIN.
    let new_pin = decrypt_new_pin(a, &shared, new_pin_enc)?;
    // Under forcePINChange the new PIN must differ from the current one (nfc-pcsc.md §2).
    if a.state.force_pin_change && matches_stored(a, &left16_sha256(&new_pin)) {
        return Err(Status::PinPolicyViolation);
    }
    // 7. Store the new PIN, clear forcePINChange, invalidate every pinUvAuthToken.
    store_pin(a, &new_pin);
    a.state.force_pin_change = false;
    a.vol.token = None;
    Ok(())
}

/// §6.5.5.7.1 getPinToken (superseded by 0x09, kept for CTAP 2.0 platforms).
fn get_pin_token(a: &mut Authenticator, env: &mut dyn Env, protocol: Protocol, p: &Params) -> Result<Value, Status> {
    let key_agreement = p.require(0x03)?;
    let pin_hash_enc = p.require(0x06)?.as_bytes()?;
    // Permissions and rpId belong to subcommand 0x09 only.
    if p.get(0x09).is_some() || p.get(0x0A).is_some() {
        return Err(Status::InvalidParameter);
    }
    check_pin_usable(a)?;
    let shared = a.key_agreement(env).decapsulate_with(protocol, key_agreement)?;
    check_pin_hash(a, env, &shared, pin_hash_enc)?;
    if a.state.force_pin_change {
        return Err(Status::PinInvalid);
    }
    // The token gets the default permissions mc and ga, with no permissions RP ID.
    Ok(issue_token(a, env, &shared, PERM_MC | PERM_GA, None, false))
}

/// §6.5.5.7.2 getPinUvAuthTokenUsingPinWithPermissions.
fn get_pin_token_with_permissions(
    a: &mut Authenticator,
    env: &mut dyn Env,
    protocol: Protocol,
    p: &Params,
) -> Result<Value, Status> {
    let key_agreement = p.require(0x03)?;
    let pin_hash_enc = p.require(0x06)?.as_bytes()?;
    let (permissions, rp_id) = requested_permissions(a, p)?;
    check_pin_usable(a)?;
    let shared = a.key_agreement(env).decapsulate_with(protocol, key_agreement)?;
    check_pin_hash(a, env, &shared, pin_hash_enc)?;
    if a.state.force_pin_change {
        return Err(Status::PinPolicyViolation);
    }
    Ok(issue_token(a, env, &shared, permissions, rp_id, false))
}

/// §6.5.5.7.3 getPinUvAuthTokenUsingUvWithPermissions: the band's fingerprint UV.
fn get_uv_token(a: &mut Authenticator, env: &mut dyn Env, protocol: Protocol, p: &Params) -> Result<Value, Status> {
    let key_agreement = p.require(0x03)?;
    let (permissions, rp_id) = requested_permissions(a, p)?;
    if a.state.model.kind != ModelKind::Band {
        // No built-in UV method at all: the subcommand is not implemented here.
        return Err(Status::InvalidSubcommand);
    }
    if !a.builtin_uv_enrolled() {
        // Built-in UV exists but is not configured (no fingerprint enrolled, or "See Admin").
        return Err(Status::NotAllowed);
    }
    if a.state.uv_retries == 0 {
        return Err(Status::UvBlocked);
    }
    let shared = a.key_agreement(env).decapsulate_with(protocol, key_agreement)?;
    // performBuiltInUv(): the band verifies its wearer while it stays on the wrist. Off the
    // wrist there is nobody to verify; that is not a wrong finger, so uvRetries is untouched.
    if !a.builtin_uv_ready() {
        return Err(Status::UvInvalid);
    }
    a.state.uv_retries = crate::state::MAX_UV_RETRIES;
    Ok(issue_token(a, env, &shared, permissions, rp_id, true))
}

/// Permission checks shared by 0x06 and 0x09.
fn requested_permissions(a: &Authenticator, p: &Params) -> Result<(u8, Option<String>), Status> {
    let permissions = p.require(0x09)?.as_uint()?;
    let rp_id = p.get(0x0A).map(|v| v.as_text().map(str::to_owned)).transpose()?;
    // If permissions is 0, return CTAP1_ERR_INVALID_PARAMETER.
    if permissions == 0 {
        return Err(Status::InvalidParameter);
    }
    // Defined permissions we cannot grant (be on a model without a fingerprint sensor) are
    // CTAP2_ERR_UNAUTHORIZED_PERMISSION. Bits CTAP 2.1 does not define are dropped: "Assign the
    // requested permissions to the pinUvAuthToken, ignoring any undefined permissions" (§6.5.5.7.2).
    let permissions = (permissions & u64::from(DEFINED_PERMISSIONS)) as u8;
    let supported = if a.state.model.kind == ModelKind::Band {
        SUPPORTED_PERMISSIONS | PERM_BE
    } else {
        SUPPORTED_PERMISSIONS
    };
    if permissions & !supported != 0 {
        return Err(Status::UnauthorizedPermission);
    }
    // mc and ga need a permissions RP ID.
    if permissions & (PERM_MC | PERM_GA) != 0 && rp_id.is_none() {
        return Err(Status::MissingParameter);
    }
    Ok((permissions, rp_id))
}

/// The checks before any PIN comparison: set, not blocked, not power-cycle blocked.
fn check_pin_usable(a: &Authenticator) -> Result<(), Status> {
    if !a.state.pin_is_set() {
        return Err(Status::PinNotSet);
    }
    if a.state.pin_retries == 0 {
        return Err(Status::PinBlocked);
    }
    if a.vol.pin_failures >= MAX_CONSECUTIVE_PIN_FAILURES {
        return Err(Status::PinAuthBlocked);
    }
    Ok(())
}

/// §6.5.5.5/6/7 common steps: decrement pinRetries, compare LEFT(SHA-256(PIN), 16), and on a
/// mismatch regenerate the key-agreement key and answer PIN_BLOCKED, PIN_AUTH_BLOCKED or PIN_INVALID.
fn check_pin_hash(a: &mut Authenticator, env: &mut dyn Env, shared: &SharedSecret, enc: &[u8]) -> Result<(), Status> {
    let pin_hash = shared
        .decrypt(enc)
        .filter(|h| h.len() == 16)
        .ok_or(Status::PinAuthInvalid)?;
    a.state.pin_retries = a.state.pin_retries.saturating_sub(1);
    if !matches_stored(a, &pin_hash) {
        a.vol.key_agreement = Some(crate::pin_protocol::KeyAgreementKey::generate(env.rng()));
        a.vol.pin_failures += 1;
        return Err(if a.state.pin_retries == 0 {
            Status::PinBlocked
        } else if a.vol.pin_failures >= MAX_CONSECUTIVE_PIN_FAILURES {
            Status::PinAuthBlocked
        } else {
            Status::PinInvalid
        });
    }
    a.state.pin_retries = MAX_PIN_RETRIES;
    a.vol.pin_failures = 0;
    Ok(())
}

/// Decrypts newPinEnc (64 padded bytes), strips the zero padding and checks the PIN policy
/// (§6.5.5.5 setPIN and §6.5.5.6 changePIN): "decrypt(shared secret, newPinEnc) to produce
/// paddedNewPin. If an error results, it returns CTAP2_ERR_PIN_AUTH_INVALID"; a paddedNewPin that
/// is not 64 bytes long is CTAP1_ERR_INVALID_PARAMETER.
fn decrypt_new_pin(a: &Authenticator, shared: &SharedSecret, enc: &[u8]) -> Result<Zeroizing<Vec<u8>>, Status> {
    let padded = shared.decrypt(enc).ok_or(Status::PinAuthInvalid)?;
    if padded.len() != 64 {
        return Err(Status::InvalidParameter);
    }
    let len = padded.iter().position(|b| *b == 0).unwrap_or(padded.len());
    let pin = Zeroizing::new(padded[..len].to_vec());
    if pin.len() > MAX_PIN_BYTES {
        return Err(Status::PinPolicyViolation);
    }
    let code_points = std::str::from_utf8(&pin)
        .map_err(|_| Status::PinPolicyViolation)?
        .chars()
        .count();
    if code_points < usize::from(a.state.min_pin_length) {
        return Err(Status::PinPolicyViolation);
    }
    Ok(pin)
}

fn left16_sha256(pin: &[u8]) -> [u8; 16] {
    let digest = crypto::sha256(pin);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

fn salted(a: &Authenticator, left16: &[u8]) -> [u8; 32] {
    crypto::hmac_sha256(&a.state.pin_salt, &[left16])
}

fn matches_stored(a: &Authenticator, left16: &[u8]) -> bool {
    a.state
        .pin_hash
        .is_some_and(|stored| crypto::ct_eq(&stored, &salted(a, left16)))
}

fn store_pin(a: &mut Authenticator, pin: &[u8]) {
    a.state.pin_hash = Some(salted(a, &left16_sha256(pin)));
    // decrypt_new_pin checked UTF-8 and ≤ 63 bytes, so the count fits.
    a.state.pin_code_points = std::str::from_utf8(pin).map_or(0, |s| s.chars().count()) as u8;
    a.state.pin_retries = MAX_PIN_RETRIES;
}

/// resetPinUvAuthToken() and beginUsingPinUvAuthToken(): a new token replacing any old one,
/// returned encrypted to the platform.
fn issue_token(
    a: &mut Authenticator,
    env: &mut dyn Env,
    shared: &SharedSecret,
    permissions: u8,
    rp_id: Option<String>,
    from_uv: bool,
) -> Value {
    let value = Zeroizing::new(crypto::random::<32>(env.rng()));
    let encrypted = shared.encrypt(env.rng(), value.as_slice());
    a.vol.token = Some(Token {
        value,
        permissions,
        rp_id,
        issued_at: env.now_ms(),
        // Built-in UV on the band doubles as presence (finger on the wrist, band in the field).
        user_present: from_uv,
        user_verified: true,
        from_uv,
    });
    Value::int_map(vec![(0x02, Value::Bytes(encrypted))])
}

#[cfg(test)]
mod tests;
