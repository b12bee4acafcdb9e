//! The factory's answers: a JSON payload signed by the factory (a JWT signed ES256,
//! [`crate::jws`]) and then encrypted to the customer's response key (JWE, [`crate::jwe`]):
//! sign, then encrypt, so that only the customer reads it and the customer knows the factory
//! wrote it. jwt-simple encrypts JWT claims only, so the signed JWT travels as the claim
//! [`JWS_CLAIM`] of the encrypted claims: `{"jws": "<compact JWS>", "iat", "nbf", "exp"}`.
//! [`open`] does the customer's side: decrypt with its response key, verify the signature
//! against the factory's published signing keys, check the payload's type.

use rand_core::CryptoRngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::jwe::{self, JweError};
use crate::jwk::{EcPrivateKey, Jwks, PublicJwk};
use crate::jws::{self, JwsError};

/// The member of the encrypted claims that carries the signed JWT (compact JWS).
pub const JWS_CLAIM: &str = "jws";

/// The encrypted claims (besides `iat`, `nbf`, `exp`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    jws: String,
}

impl Drop for Envelope {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.jws);
    }
}

/// Why an answer from the factory was refused. Each refusal rejects the answer whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Cut short: missing parts, or parts of the wrong length.
    #[error("the response is truncated")]
    Truncated,
    /// Not a JWE (or not a JWS inside).
    #[error("the response is malformed")]
    Malformed,
    /// An algorithm other than the ones agreed.
    #[error("the response uses an unexpected algorithm {0:?}")]
    WrongAlgorithm(String),
    /// Encrypted to another key than our response key.
    #[error("the response is encrypted to another key")]
    WrongRecipient,
    /// The encryption does not authenticate: altered in transit.
    #[error("the response was altered (it does not authenticate)")]
    Tampered,
    /// Signed by a key the factory does not publish.
    #[error("the response is signed by an unknown key {0:?}")]
    UnknownSigner(String),
    /// The signature does not verify.
    #[error("the response's signature does not verify")]
    BadSignature,
    /// Signed and sealed, but not the payload expected (`typ` or JSON).
    #[error("the response's payload is not a {0}")]
    Payload(&'static str),
    /// Past its `exp`: the encryption's or the signature's.
    #[error("the response has expired")]
    Expired,
}

impl From<JweError> for OpenError {
    fn from(e: JweError) -> Self {
        match e {
            JweError::Truncated(_) => OpenError::Truncated,
            JweError::Header(_) | JweError::BadRecipient(_) | JweError::NotClaims => OpenError::Malformed,
            JweError::UnsupportedAlgorithm(alg) => OpenError::WrongAlgorithm(alg),
            JweError::UnknownRecipient(_) | JweError::WrongKey => OpenError::WrongRecipient,
            JweError::Tampered => OpenError::Tampered,
            JweError::Expired => OpenError::Expired,
        }
    }
}

impl From<JwsError> for OpenError {
    fn from(e: JwsError) -> Self {
        match e {
            JwsError::Truncated(_) => OpenError::Truncated,
            JwsError::Header | JwsError::NotClaims => OpenError::Malformed,
            JwsError::UnsupportedAlgorithm(alg) => OpenError::WrongAlgorithm(alg),
            JwsError::UnknownSigner(kid) => OpenError::UnknownSigner(kid),
            JwsError::BadSignature => OpenError::BadSignature,
            JwsError::Expired => OpenError::Expired,
        }
    }
}

/// Signs `payload` (a JSON object; JWS `typ` = `typ`) with `signer`, then encrypts it to
/// `recipient`. `rng` is not used (see [`jwe::encrypt`]).
pub fn seal<T: Serialize>(
    payload: &T,
    typ: &str,
    signer: &EcPrivateKey,
    recipient: &PublicJwk,
    rng: &mut dyn CryptoRngCore,
) -> Result<String, JweError> {
    let json = zeroize::Zeroizing::new(serde_json::to_vec(payload).map_err(|_| JweError::NotClaims)?);
    let envelope = Envelope {
        jws: jws::sign(&json, signer, typ).map_err(|_| JweError::NotClaims)?,
    };
    let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(&envelope).map_err(|_| JweError::NotClaims)?);
    jwe::encrypt(&plaintext, recipient, None, rng)
}

/// Decrypts `compact` with one of `ours`, verifies the JWS inside against `signers`, and reads
/// the payload, whose `typ` must be `typ`.
pub fn open<T: DeserializeOwned>(
    compact: &str,
    ours: &[EcPrivateKey],
    signers: &Jwks,
    typ: &'static str,
) -> Result<T, OpenError> {
    let decrypted = jwe::decrypt(compact, ours)?;
    let envelope: Envelope = serde_json::from_slice(&decrypted.plaintext).map_err(|_| OpenError::Malformed)?;
    let verified = jws::verify(&envelope.jws, signers)?;
    if verified.typ.as_deref() != Some(typ) {
        return Err(OpenError::Payload(typ));
    }
    serde_json::from_slice(&verified.payload).map_err(|_| OpenError::Payload(typ))
}
