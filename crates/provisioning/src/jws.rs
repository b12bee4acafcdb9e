//! JWS compact serialization (RFC 7515 §7.1) with ES256 (RFC 7518 §3.4), by jwt-simple.
//!
//! jwt-simple signs JWT claims, so the payload is a JSON object: a signed JWT (RFC 7519) with
//! `iat`, `nbf` and `exp` added (unless the object has them; [`crate::jwe::VALIDITY_SECONDS`]),
//! refused once expired. Here: the one algorithm, the signer's key found by `kid` in the
//! signer's published set, and typed refusals.

use jwt_simple::JWTError;
use jwt_simple::prelude::{
    ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, HeaderOptions, Token, UnixTimeStamp, VerificationOptions,
};
use serde_json::{Map, Value};

use crate::jwe::claims_of;
use crate::jwk::{EcPrivateKey, Jwks};

/// The one signature algorithm.
pub const ALG: &str = "ES256";

/// Why a JWS was refused (or could not be made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three base64url parts.
    #[error("truncated or malformed JWS: {0}")]
    Truncated(&'static str),
    /// The header is not the JSON object expected.
    #[error("malformed JWS header")]
    Header,
    /// An algorithm other than ES256, or a critical extension.
    #[error("unsupported JWS algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// Signed by a key id not in the signer's key set (or with no key id).
    #[error("JWS signed by an unknown key {0:?}")]
    UnknownSigner(String),
    /// The signature does not verify.
    #[error("the JWS signature does not verify")]
    BadSignature,
    /// The payload is not a JSON object (JWT claims), on either side; or its `typ` is not a
    /// JWT type (`JWT` or `…+jwt`).
    #[error("the JWS payload is not JWT claims")]
    NotClaims,
    /// Past its `exp` (or before its `nbf`/`iat`, beyond the clock tolerance).
    #[error("the JWS has expired or is not valid yet")]
    Expired,
}

/// Signs `payload`, a JSON object, with `key` (its key id in the header) and type `typ` (a JWT
/// type: `…+jwt`).
pub fn sign(payload: &[u8], key: &EcPrivateKey, typ: &str) -> Result<String, JwsError> {
    let claims = claims_of(payload).ok_or(JwsError::NotClaims)?;
    let options = HeaderOptions {
        signature_type: Some(typ.to_string()),
        ..HeaderOptions::default()
    };
    key.signing_key()
        .sign_with_options(claims, &options)
        .map_err(|_| JwsError::NotClaims)
}

/// A verified JWS.
#[derive(Debug)]
pub struct Verified {
    /// The payload: the JSON object that was signed, without the registered claims (`iat`,
    /// `nbf`, `exp`, …).
    pub payload: Vec<u8>,
    /// The key id that signed it.
    pub kid: String,
    /// The header's `typ`.
    pub typ: Option<String>,
}

/// What went wrong in jwt-simple, as ours.
fn refusal(error: &jwt_simple::Error) -> JwsError {
    if let Some(e) = error.downcast_ref::<JWTError>() {
        return match e {
            JWTError::CompactEncodingError => JwsError::Truncated("not three parts"),
            JWTError::HeaderTooLarge | JWTError::TokenTooLong => JwsError::Header,
            JWTError::UnknownCriticalExtension => JwsError::UnsupportedAlgorithm("crit".into()),
            JWTError::AlgorithmMismatch => JwsError::UnsupportedAlgorithm("alg".into()),
            JWTError::InvalidSignature => JwsError::BadSignature,
            JWTError::TokenHasExpired | JWTError::TokenNotValidYet | JWTError::ClockDrift => JwsError::Expired,
            JWTError::NotJWT => JwsError::NotClaims,
            _ => JwsError::BadSignature,
        };
    }
    if error.downcast_ref::<serde_json::Error>().is_some() {
        // The header was read before: this is the payload.
        return JwsError::NotClaims;
    }
    // ct-codecs: a part is not base64url.
    JwsError::Truncated("not base64url")
}

/// Verifies a compact JWS against the signer's key set (RFC 7515 §5.2).
pub fn verify(compact: &str, signers: &Jwks) -> Result<Verified, JwsError> {
    verify_at(compact, signers, None)
}

/// [`verify`] as if it were `now` (tests of expiry).
pub(crate) fn verify_at(compact: &str, signers: &Jwks, now: Option<UnixTimeStamp>) -> Result<Verified, JwsError> {
    if compact.split('.').count() != 3 {
        return Err(JwsError::Truncated("not three parts"));
    }
    let metadata = Token::decode_metadata(compact).map_err(|e| match e.downcast_ref::<serde_json::Error>() {
        Some(_) => JwsError::Header,
        None => JwsError::Truncated("header"),
    })?;
    if metadata.algorithm() != ALG {
        return Err(JwsError::UnsupportedAlgorithm(metadata.algorithm().to_string()));
    }
    if metadata.critical().is_some() {
        return Err(JwsError::UnsupportedAlgorithm("crit".into()));
    }
    let kid = metadata.key_id().unwrap_or_default().to_string();
    let public = signers
        .find(&kid)
        .and_then(|jwk| jwk.verification_key().ok())
        .ok_or_else(|| JwsError::UnknownSigner(kid.clone()))?;
    let options = VerificationOptions {
        required_key_id: Some(kid.clone()),
        artificial_time: now,
        ..VerificationOptions::default()
    };
    let claims = public
        .verify_token::<Map<String, Value>>(compact, Some(options))
        .map_err(|e| refusal(&e))?;
    let payload = serde_json::to_vec(&claims.custom).map_err(|_| JwsError::NotClaims)?;
    Ok(Verified {
        payload,
        kid,
        typ: metadata.signature_type().map(str::to_string),
    })
}
