//! JWS compact serialization (RFC 7515 §7.1) with ES256 (RFC 7518 §3.4: ECDSA P-256 SHA-256,
//! the signature as the 64-byte R ‖ S).

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::b64;
use crate::jwk::{EcPrivateKey, Jwks};

/// The one signature algorithm.
pub const ALG: &str = "ES256";

/// Why a JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three base64url parts, or a signature of the wrong length.
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
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<serde_json::Value>,
}

/// Signs `payload` with `key` (its key id in the header) and type `typ`.
pub fn sign(payload: &[u8], key: &EcPrivateKey, typ: &str) -> String {
    let header = Header {
        alg: ALG.into(),
        kid: Some(key.kid().to_string()),
        typ: Some(typ.to_string()),
        crit: None,
    };
    let header = b64::encode(serde_json::to_vec(&header).unwrap_or_else(|_| unreachable!("a header serialises")));
    let signing_input = format!("{header}.{}", b64::encode(payload));
    let signature: Signature = SigningKey::from(key.secret()).sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64::encode(signature.to_bytes()))
}

/// A verified JWS.
#[derive(Debug)]
pub struct Verified {
    /// The payload.
    pub payload: Vec<u8>,
    /// The key id that signed it.
    pub kid: String,
    /// The header's `typ`.
    pub typ: Option<String>,
}

/// Verifies a compact JWS against the signer's key set (RFC 7515 §5.2).
pub fn verify(compact: &str, signers: &Jwks) -> Result<Verified, JwsError> {
    let parts: Vec<&str> = compact.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts.as_slice() else {
        return Err(JwsError::Truncated("not three parts"));
    };
    let header = b64::decode(header_b64).ok_or(JwsError::Truncated("header"))?;
    let header: Header = serde_json::from_slice(&header).map_err(|_| JwsError::Header)?;
    if header.alg != ALG {
        return Err(JwsError::UnsupportedAlgorithm(header.alg));
    }
    if header.crit.is_some() {
        return Err(JwsError::UnsupportedAlgorithm("crit".into()));
    }
    let kid = header.kid.unwrap_or_default();
    let jwk = signers
        .find(&kid)
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
        .ok_or_else(|| JwsError::UnknownSigner(kid.clone()))?;
    let public = jwk.key().map_err(|_| JwsError::UnknownSigner(kid.clone()))?;
    let signature = b64::decode(signature_b64).ok_or(JwsError::Truncated("signature"))?;
    if signature.len() != 64 {
        return Err(JwsError::Truncated("signature is not 64 bytes"));
    }
    let signature = Signature::from_slice(&signature).map_err(|_| JwsError::BadSignature)?;
    VerifyingKey::from(public)
        .verify(format!("{header_b64}.{payload_b64}").as_bytes(), &signature)
        .map_err(|_| JwsError::BadSignature)?;
    let payload = b64::decode(payload_b64).ok_or(JwsError::Truncated("payload"))?;
    Ok(Verified {
        payload,
        kid,
        typ: header.typ,
    })
}
