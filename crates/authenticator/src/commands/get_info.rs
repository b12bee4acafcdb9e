//! authenticatorGetInfo (0x04), CTAP 2.1 §6.4.
//!
//! Reports what the authenticator supports; options that depend on state (clientPin, alwaysUv,
//! uv, makeCredUvNotRqd) are computed on every call, which is why python-fido2 re-reads it.

use crate::cbor::Value;
use crate::crypto::Alg;
use crate::pin_protocol::{PROTOCOL_ONE, PROTOCOL_TWO};
use crate::state::{MAX_CRED_BLOB_LENGTH, MAX_RESIDENT_CREDENTIALS, MAX_SERIALIZED_LARGE_BLOB_ARRAY, ModelKind};
use crate::{Authenticator, enterprise};

/// maxMsgSize: the largest request the NFC transport reassembles for us.
pub const MAX_MSG_SIZE: u64 = 2048;
/// maxCredentialCountInList.
pub const MAX_CREDENTIAL_COUNT_IN_LIST: usize = 8;
/// maxCredentialIdLength (our IDs are 32 or 63 bytes).
pub const MAX_CREDENTIAL_ID_LENGTH: usize = 128;
/// maxRPIDsForSetMinPINLength.
pub const MAX_RP_IDS_FOR_SET_MIN_PIN_LENGTH: usize = 8;
/// uvModality USER_VERIFY_FINGERPRINT_INTERNAL (FIDO Registry of Predefined Values §3.1).
pub const UV_MODALITY_FINGERPRINT: i128 = 0x02;

/// The extensions we process (§6.4 "extensions"; hmac-secret-mc is CTAP 2.2's).
pub const EXTENSIONS: [&str; 6] = [
    "credBlob",
    "credProtect",
    "hmac-secret",
    "hmac-secret-mc",
    "largeBlobKey",
    "minPinLength",
];

/// Builds the getInfo response map (§6.4 member keys 0x01–0x14).
pub fn run(a: &Authenticator) -> Value {
    let s = &a.state;
    let is_band = s.model.kind == ModelKind::Band;
    let mut versions = Vec::new();
    if a.u2f_enabled() {
        versions.push(Value::text("U2F_V2"));
    }
    versions.extend([Value::text("FIDO_2_0"), Value::text("FIDO_2_1")]);
    let mut entries = vec![
        (0x01, Value::Array(versions)),
        (0x02, Value::Array(EXTENSIONS.into_iter().map(Value::text).collect())),
        (0x03, Value::bytes(&s.model.aaguid)),
        (0x04, options(a)),
        (0x05, Value::Int(MAX_MSG_SIZE.into())),
        // Protocol two first: the order is the authenticator's preference (§6.4).
        (
            0x06,
            Value::Array(vec![Value::Int(PROTOCOL_TWO.into()), Value::Int(PROTOCOL_ONE.into())]),
        ),
        (0x07, Value::Int(MAX_CREDENTIAL_COUNT_IN_LIST as i128)),
        (0x08, Value::Int(MAX_CREDENTIAL_ID_LENGTH as i128)),
        (0x09, Value::Array(vec![Value::text("nfc")])),
        (
            0x0A,
            Value::Array(
                Alg::ALL
                    .into_iter()
                    .map(|alg| {
                        Value::text_map(vec![
                            ("alg", Value::Int(alg.cose())),
                            ("type", Value::text("public-key")),
                        ])
                    })
                    .collect(),
            ),
        ),
        (0x0B, Value::Int(MAX_SERIALIZED_LARGE_BLOB_ARRAY as i128)),
        (0x0C, Value::Bool(s.force_pin_change)),
        (0x0D, Value::Int(s.min_pin_length.into())),
        (0x0E, Value::Int(s.model.firmware_version.into())),
        (0x0F, Value::Int(MAX_CRED_BLOB_LENGTH as i128)),
        (0x10, Value::Int(MAX_RP_IDS_FOR_SET_MIN_PIN_LENGTH as i128)),
        (
            0x14,
            Value::Int(MAX_RESIDENT_CREDENTIALS.saturating_sub(s.credentials.len()) as i128),
        ),
    ];
    if is_band {
        entries.push((0x11, Value::Int(1)));
        entries.push((0x12, Value::Int(UV_MODALITY_FINGERPRINT)));
    }
    Value::int_map(entries)
}

/// The options map (§6.4 "options").
fn options(a: &Authenticator) -> Value {
    let s = &a.state;
    let mut options = vec![
        ("rk", Value::Bool(true)),
        ("up", Value::Bool(true)),
        ("plat", Value::Bool(false)),
        ("clientPin", Value::Bool(s.pin_is_set())),
        ("credMgmt", Value::Bool(true)),
        ("authnrCfg", Value::Bool(true)),
        ("setMinPINLength", Value::Bool(true)),
        // With alwaysUv on, makeCredUvNotRqd must be false (§7.2.2).
        ("makeCredUvNotRqd", Value::Bool(!s.always_uv)),
        ("pinUvAuthToken", Value::Bool(true)),
        ("alwaysUv", Value::Bool(s.always_uv)),
        ("largeBlobs", Value::Bool(true)),
    ];
    if enterprise::capable(&a.state) {
        // "ep": present when enterprise attestation is possible, true once enabled (§7.1).
        options.push(("ep", Value::Bool(s.ep_enabled)));
    }
    if s.model.kind == ModelKind::Band {
        // "uv": true when built-in UV is configured. The band's UV is configured by enrolment and
        // live only while worn: report true only then, so that platforms (python-fido2 prefers UV
        // whenever "uv" is true and never falls back) use the PIN for a band on the desk.
        options.push(("uv", Value::Bool(a.builtin_uv_ready())));
        // "bioEnroll": authenticatorBioEnrollment is supported; true once a finger is enrolled.
        options.push(("bioEnroll", Value::Bool(s.band.enrolled && !s.band.see_admin)));
        // "uvBioEnroll": getPinUvAuthTokenUsingUvWithPermissions can grant the be permission.
        options.push(("uvBioEnroll", Value::Bool(true)));
    }
    Value::text_map(options)
}

#[cfg(test)]
mod tests;
