//! JWE compact serialization (RFC 7516 §7.1) with `alg` `ECDH-ES+A256KW` (RFC 7518 §4.6) and
//! `enc` `A256GCM` (RFC 7518 §5.3), on P-256, by jwt-simple.
//!
//! jwt-simple encrypts JWT claims, so the plaintext is a JSON object: it travels as a JWT Claims
//! Set (RFC 7519 §4) with `iat`, `nbf` and `exp` added (unless the object has them), and
//! decryption refuses it once expired (jwt-simple's default 15 minutes of clock tolerance).
//! This module keeps the choices jwt-simple leaves open: one `alg` and one `enc` (jwt-simple
//! would also take `A128GCM` and others), the recipient chosen by `kid` among our keys, and
//! typed refusals.

use jwt_simple::JWTError;
use jwt_simple::prelude::{Clock, Duration, EncryptionOptions, JWEToken, JWTClaims, UnixTimeStamp};
use rand_core::CryptoRngCore;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::jwk::{EcPrivateKey, PublicJwk};

/// The key management algorithm.
pub const ALG: &str = "ECDH-ES+A256KW";
/// The content encryption algorithm.
pub const ENC: &str = "A256GCM";
/// How long an encrypted message is valid (`exp` − `iat`) unless it says otherwise: 30 days,
/// the longest a credential request's challenge lives (`challengeTimeoutMinutes` ≤ 43200) and
/// as long as a retired transport key still decrypts.
pub const VALIDITY_SECONDS: u64 = 30 * 24 * 3600;

/// The claims of a JWE or JWS: the caller's JSON object, and the registered claims.
pub(crate) type Claims = JWTClaims<Map<String, Value>>;

/// Why a JWE was refused (or could not be made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JweError {
    /// Not five base64url parts, or a part of the wrong length (a cut-off message).
    #[error("truncated or malformed JWE: {0}")]
    Truncated(&'static str),
    /// The protected header is not the JSON object expected.
    #[error("malformed JWE header: {0}")]
    Header(&'static str),
    /// An algorithm other than ECDH-ES+A256KW with A256GCM, or a critical extension.
    #[error("unsupported JWE algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// Encrypted to a key id that is not one of ours.
    #[error("JWE encrypted to an unknown key {0:?}")]
    UnknownRecipient(String),
    /// The content key does not unwrap: encrypted to another key, or the key part was altered.
    #[error("the JWE's key does not unwrap with our key")]
    WrongKey,
    /// The authentication tag does not match: header, IV, ciphertext or tag altered.
    #[error("the JWE does not authenticate (altered)")]
    Tampered,
    /// The plaintext is not a JSON object (JWT claims), on either side.
    #[error("the JWE's plaintext is not a JSON object (JWT claims)")]
    NotClaims,
    /// Past its `exp` (or before its `nbf`/`iat`, beyond the clock tolerance).
    #[error("the JWE has expired or is not valid yet")]
    Expired,
    /// The recipient's JWK is not a usable P-256 encryption key.
    #[error(transparent)]
    BadRecipient(#[from] crate::jwk::BadJwk),
}

/// `plaintext` (a JSON object) as claims, with `iat` and `nbf` now and `exp` after
/// [`VALIDITY_SECONDS`] unless it has them.
pub(crate) fn claims_of(plaintext: &[u8]) -> Option<Claims> {
    let mut claims: Claims = serde_json::from_slice(plaintext).ok()?;
    let now = Clock::now_since_epoch();
    claims.issued_at.get_or_insert(now);
    claims.invalid_before.get_or_insert(now);
    claims
        .expires_at
        .get_or_insert(now + Duration::from_secs(VALIDITY_SECONDS));
    Some(claims)
}

/// Encrypts `plaintext`, a JSON object, to `recipient` (its `kid`, if any, goes into the
/// header), with content type `cty`.
///
/// `rng` is not used: jwt-simple draws the ephemeral key, the content key and the IV from the
/// operating system's generator itself. The parameter stays so that callers did not change when
/// the JOSE layer moved to jwt-simple.
pub fn encrypt(
    plaintext: &[u8],
    recipient: &PublicJwk,
    cty: Option<&str>,
    _rng: &mut dyn CryptoRngCore,
) -> Result<String, JweError> {
    let key = recipient.encryption_key()?;
    let claims = claims_of(plaintext).ok_or(JweError::NotClaims)?;
    let options = EncryptionOptions {
        content_type: cty.map(str::to_string),
        ..EncryptionOptions::default()
    };
    key.encrypt_with_options(claims, &options)
        .map_err(|_| JweError::NotClaims)
}

/// What a decrypted JWE said of itself.
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext: the JSON object that was encrypted, without the registered claims
    /// (`iat`, `nbf`, `exp`, …).
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The key id it was encrypted to.
    pub kid: Option<String>,
    /// Its content type.
    pub cty: Option<String>,
    /// When it was made (`iat`), Unix seconds.
    pub issued_at: Option<u64>,
}

/// What went wrong in jwt-simple, as ours.
fn refusal(error: &jwt_simple::Error) -> JweError {
    if let Some(e) = error.downcast_ref::<JWTError>() {
        return match e {
            JWTError::InvalidJWEFormat => JweError::Truncated("not five parts"),
            JWTError::InvalidIV => JweError::Truncated("IV is not 96 bits"),
            JWTError::InvalidJWEAuthTag => JweError::Truncated("tag is not 128 bits"),
            JWTError::TokenTooLong | JWTError::HeaderTooLarge => JweError::Header("too long"),
            JWTError::UnknownCriticalExtension => JweError::UnsupportedAlgorithm("crit".into()),
            JWTError::AlgorithmMismatch => JweError::UnsupportedAlgorithm("alg".into()),
            JWTError::UnsupportedContentEncryption(enc) => JweError::UnsupportedAlgorithm(enc.clone()),
            JWTError::MissingEphemeralKey | JWTError::InvalidEphemeralKey => {
                JweError::Header("epk is not a P-256 point")
            }
            JWTError::KeyUnwrapFailed => JweError::WrongKey,
            JWTError::DecryptionFailed | JWTError::InvalidAuthenticationTag => JweError::Tampered,
            JWTError::TokenHasExpired | JWTError::TokenNotValidYet | JWTError::ClockDrift => JweError::Expired,
            _ => JweError::Header("refused"),
        };
    }
    if error.downcast_ref::<serde_json::Error>().is_some() {
        // The header was read before: this is the plaintext.
        return JweError::NotClaims;
    }
    // ct-codecs: a part is not base64url (cut in the middle of a character).
    JweError::Truncated("not base64url")
}

/// Decrypts a compact JWE with one of `keys` (the one its `kid` names; every one when it names
/// none).
pub fn decrypt(compact: &str, keys: &[EcPrivateKey]) -> Result<Decrypted, JweError> {
    decrypt_at(compact, keys, None)
}

/// [`decrypt`] as if it were `now` (tests of expiry).
pub(crate) fn decrypt_at(
    compact: &str,
    keys: &[EcPrivateKey],
    now: Option<UnixTimeStamp>,
) -> Result<Decrypted, JweError> {
    if compact.split('.').count() != 5 {
        return Err(JweError::Truncated("not five parts"));
    }
    let metadata = JWEToken::decode_metadata(compact).map_err(|e| match e.downcast_ref::<serde_json::Error>() {
        Some(_) => JweError::Header("not the JSON expected"),
        None => JweError::Truncated("protected header"),
    })?;
    if metadata.algorithm() != ALG {
        return Err(JweError::UnsupportedAlgorithm(metadata.algorithm().to_string()));
    }
    if metadata.encryption() != ENC {
        return Err(JweError::UnsupportedAlgorithm(metadata.encryption().to_string()));
    }
    if metadata.header().critical.is_some() {
        return Err(JweError::UnsupportedAlgorithm("crit".into()));
    }
    let kid = metadata.key_id().map(str::to_string);
    let candidates: Vec<&EcPrivateKey> = match &kid {
        Some(kid) => vec![
            keys.iter()
                .find(|k| k.kid() == kid)
                .ok_or_else(|| JweError::UnknownRecipient(kid.clone()))?,
        ],
        None => keys.iter().collect(),
    };
    let options = jwt_simple::prelude::DecryptionOptions {
        claim_options: Some(jwt_simple::prelude::VerificationOptions {
            artificial_time: now,
            ..Default::default()
        }),
        ..Default::default()
    };
    // Without a key id, each key is tried; a key that unwraps the content key is the one, and
    // its verdict stands.
    let mut verdict = JweError::WrongKey;
    for key in candidates {
        let decryption = key.decryption_key();
        // The key id check is ours (above); jwt-simple's would refuse a header without one.
        match decryption.decrypt_token::<Map<String, Value>>(compact, Some(options.clone())) {
            Ok(claims) => {
                let plaintext = serde_json::to_vec(&claims.custom).map_err(|_| JweError::NotClaims)?;
                return Ok(Decrypted {
                    plaintext: Zeroizing::new(plaintext),
                    kid,
                    cty: metadata.content_type().map(str::to_string),
                    issued_at: claims.issued_at.map(|t| t.as_secs()),
                });
            }
            Err(e) => match refusal(&e) {
                JweError::WrongKey => {}
                other => {
                    verdict = other;
                    break;
                }
            },
        }
    }
    Err(verdict)
}

#[cfg(test)]
mod tests;
