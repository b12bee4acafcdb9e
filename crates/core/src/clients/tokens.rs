//! Access tokens: compact JWS (RFC 7515) with ES256, JWT claims (RFC 7519) in the
//! RFC 9068 profile (`typ: at+jwt`).
//!
//! Only one algorithm exists here, so there is no algorithm negotiation to get wrong: a token
//! whose header says anything but `ES256`, names an unknown `kid` or carries `crit` is
//! refused before its signature is looked at. The signing key is generated on first start and
//! stored encrypted under the master key.

use std::collections::HashMap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyfleet_domain::Timestamp;
use keyfleet_domain::signing_key::StoredSigningKey;
use keyfleet_domain::store::{SigningKeyStore, StoreError};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::secrets::{MasterKey, SecretError};

/// Longest token accepted; anything longer is refused unparsed.
const MAX_TOKEN_LEN: usize = 4096;

/// Why a token was refused. The variants are for logs and tests; clients see one
/// `invalid_token` answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or too long.
    #[error("malformed token")]
    Malformed,
    /// Header algorithm, type, kid or crit not acceptable.
    #[error("unacceptable token header")]
    Header,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// Issuer or audience is not ours.
    #[error("wrong issuer or audience")]
    Audience,
    /// The subject is not the client the token names.
    #[error("subject does not match the client")]
    Subject,
    /// Expired or not yet valid.
    #[error("token expired or not yet valid")]
    Expired,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the client id.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The client (RFC 9068 §2.2).
    pub client_id: String,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<serde_json::Value>,
}

/// The keys that sign and verify access tokens: the stored ones as last loaded. A rotation
/// ([`crate::oidc::keys`]) changes the stored keys; each process [`TokenKeys::reload`]s them
/// on the jobs runner's poll.
pub struct TokenKeys {
    inner: std::sync::RwLock<Loaded>,
}

struct Loaded {
    active_kid: String,
    /// The active key, for AWS-LC (its P-256 is several times faster than RustCrypto's).
    signing: EcdsaKeyPair,
    /// Every stored key's public point (waiting, active, retired), uncompressed SEC1
    /// (validated when loaded), by `kid`.
    verifying: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("active_kid", &self.active_kid())
            .finish_non_exhaustive()
    }
}

/// A failure to load or create the signing keys.
#[derive(Debug, Error)]
pub enum KeyLoadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The master key does not decrypt the stored key.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A stored key is not a valid P-256 key.
    #[error("stored signing key {0} is not a valid P-256 key")]
    Corrupt(String),
}

/// The associated data binding an encrypted signing key to its `kid`.
pub fn signing_key_aad(kid: &str) -> Vec<u8> {
    format!("keyfleet-signing-key:{kid}").into_bytes()
}

impl TokenKeys {
    /// Loads the signing keys, creating the first one when the database has none. Two
    /// processes starting together agree on one key: the store refuses a second active key and
    /// the loser reads the winner's.
    pub async fn load_or_create(
        store: &dyn SigningKeyStore,
        master: &MasterKey,
        now: Timestamp,
    ) -> Result<Self, KeyLoadError> {
        let mut keys = store.list_signing_keys().await?;
        if !keys.iter().any(|k| k.active) {
            let stored = Self::new_stored_key(master, now, None);
            match store.insert_signing_key(&stored).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            keys = store.list_signing_keys().await?;
        }
        Ok(Self {
            inner: std::sync::RwLock::new(Self::from_stored(&keys, master)?),
        })
    }

    /// A new P-256 key, encrypted under the master key: the active one (`activates_at` none),
    /// or one that waits, published, until `activates_at`.
    pub fn new_stored_key(master: &MasterKey, now: Timestamp, activates_at: Option<Timestamp>) -> StoredSigningKey {
        let signing = SigningKey::random(&mut OsRng);
        let public = signing.verifying_key().to_encoded_point(false).as_bytes().to_vec();
        let kid = hex::encode(&sha2_256(&public)[..8]);
        let secret = zeroize::Zeroizing::new(signing.to_bytes().to_vec());
        StoredSigningKey {
            encrypted_private_key: master.encrypt(&secret, &signing_key_aad(&kid)),
            kid,
            alg: "ES256".to_owned(),
            public_key: public,
            created_at: now,
            active: activates_at.is_none(),
            activates_at,
            retired_at: None,
        }
    }

    /// Loads the stored keys again: a key a rotation made is published from then on, a
    /// promoted one signs, a purged one no longer verifies. On error the keys stay as they were.
    pub async fn reload(&self, store: &dyn SigningKeyStore, master: &MasterKey) -> Result<(), KeyLoadError> {
        let keys = store.list_signing_keys().await?;
        let loaded = Self::from_stored(&keys, master)?;
        *self.inner.write().unwrap_or_else(std::sync::PoisonError::into_inner) = loaded;
        Ok(())
    }

    fn loaded(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.inner.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `kid` new tokens are signed with.
    pub fn active_kid(&self) -> String {
        self.loaded().active_kid.clone()
    }

    fn from_stored(keys: &[StoredSigningKey], master: &MasterKey) -> Result<Loaded, KeyLoadError> {
        let active = keys
            .iter()
            .find(|k| k.active)
            .ok_or_else(|| KeyLoadError::Corrupt("(no active key)".into()))?;
        let secret = master.decrypt(&active.encrypted_private_key, &signing_key_aad(&active.kid))?;
        let parsed = SigningKey::from_slice(&secret).map_err(|_| KeyLoadError::Corrupt(active.kid.clone()))?;
        let public = parsed.verifying_key().to_encoded_point(false);
        let signing =
            EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, &secret, public.as_bytes())
                .map_err(|_| KeyLoadError::Corrupt(active.kid.clone()))?;
        let mut verifying = HashMap::new();
        for k in keys {
            let vk = VerifyingKey::from_sec1_bytes(&k.public_key).map_err(|_| KeyLoadError::Corrupt(k.kid.clone()))?;
            verifying.insert(k.kid.clone(), vk.to_encoded_point(false).as_bytes().to_vec());
        }
        Ok(Loaded {
            active_kid: active.kid.clone(),
            signing,
            verifying,
        })
    }

    /// Signs claims into a compact JWS.
    pub fn sign(&self, claims: &AccessClaims) -> String {
        self.sign_jwt("at+jwt", claims)
    }

    /// Signs any claims into a compact JWS with the active key, under the header type `typ`
    /// (`at+jwt` for access tokens, `JWT` for ID tokens).
    pub fn sign_jwt<T: Serialize>(&self, typ: &str, claims: &T) -> String {
        let keys = self.loaded();
        let header = Header {
            alg: "ES256".into(),
            typ: typ.into(),
            kid: keys.active_kid.clone(),
            crit: None,
        };
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serialises"));
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let input = format!("{h}.{p}");
        let fixed = keys
            .signing
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("ECDSA signing with the system's randomness");
        let sig = Signature::from_slice(fixed.as_ref()).expect("a P-256 signature is r ‖ s");
        // Low S only (see verify): the other of the two equivalent encodings is refused.
        let sig = sig.normalize_s().unwrap_or(sig);
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    /// Verifies a compact JWS and its claims at `now_s` (seconds since the epoch).
    pub fn verify(&self, token: &str, issuer: &str, audience: &str, now_s: i64) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.verify_jwt(token, "at+jwt")?;
        if claims.iss != issuer || claims.aud != audience {
            return Err(TokenError::Audience);
        }
        // RFC 9068 §2.2: for a client-credentials token the subject is the client itself.
        if claims.sub != claims.client_id {
            return Err(TokenError::Subject);
        }
        if now_s >= claims.exp || now_s < claims.nbf {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Verifies a compact JWS signed by one of these keys with the header type `typ`, and
    /// decodes its claims; the caller checks them.
    pub fn verify_jwt<T: serde::de::DeserializeOwned>(&self, token: &str, typ: &str) -> Result<T, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed);
        let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
        if header.alg != "ES256" || header.typ != typ || header.crit.is_some() {
            return Err(TokenError::Header);
        }
        let key = self
            .loaded()
            .verifying
            .get(&header.kid)
            .cloned()
            .ok_or(TokenError::Header)?;
        let sig = Signature::from_slice(&decode(s)?).map_err(|_| TokenError::Signature)?;
        // Only the low-S form is accepted: a high-S signature is the same signature made
        // malleable (a second valid encoding of one token), and this signer never makes one.
        if sig.normalize_s().is_some() {
            return Err(TokenError::Signature);
        }
        let input_len = h.len() + 1 + p.len();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key)
            .verify(&token.as_bytes()[..input_len], &sig.to_bytes())
            .map_err(|_| TokenError::Signature)?;
        serde_json::from_slice(&decode(p)?).map_err(|_| TokenError::Malformed)
    }

    /// The public keys as a JWK Set (RFC 7517).
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys: Vec<_> = self
            .loaded()
            .verifying
            .iter()
            .map(|(kid, point)| {
                // 0x04 ‖ x (32) ‖ y (32), as loaded.
                serde_json::json!({
                    "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                })
            })
            .collect();
        keys.sort_by(|a, b| a["kid"].as_str().cmp(&b["kid"].as_str()));
        serde_json::json!({ "keys": keys })
    }
}

fn sha2_256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
mod tests;
