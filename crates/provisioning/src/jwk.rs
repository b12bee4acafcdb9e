//! P-256 keys as JSON Web Keys (RFC 7517 §4; EC parameters RFC 7518 §6.2) and JWK Sets
//! (RFC 7517 §5).

use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::{EncodedPoint, PublicKey, SecretKey};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::b64;

/// A public EC key as a JWK. Only `kty` `EC` with `crv` `P-256` is accepted by [`PublicJwk::key`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Key type: `EC`.
    pub kty: String,
    /// Curve: `P-256`.
    pub crv: String,
    /// The x coordinate, base64url.
    pub x: String,
    /// The y coordinate, base64url.
    pub y: String,
    /// The key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use: `enc` or `sig` (RFC 7517 §4.2).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The algorithm the key is meant for (RFC 7517 §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

/// A JWK that is not a usable P-256 public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a P-256 public key: {0}")]
pub struct BadJwk(pub &'static str);

impl PublicJwk {
    /// The JWK of `key`, with no key id.
    pub fn from_key(key: &PublicKey) -> PublicJwk {
        let point = key.to_encoded_point(false);
        // An uncompressed point of a valid public key has both coordinates.
        let x = point.x().map(b64::encode).unwrap_or_default();
        let y = point.y().map(b64::encode).unwrap_or_default();
        PublicJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x,
            y,
            kid: None,
            use_: None,
            alg: None,
        }
    }

    /// The P-256 public key (the point is checked to be on the curve and not the identity).
    pub fn key(&self) -> Result<PublicKey, BadJwk> {
        if self.kty != "EC" {
            return Err(BadJwk("kty is not EC"));
        }
        if self.crv != "P-256" {
            return Err(BadJwk("crv is not P-256"));
        }
        let coordinate = |c: &str| b64::decode(c).filter(|b| b.len() == 32);
        let x = coordinate(&self.x).ok_or(BadJwk("x is not 32 bytes of base64url"))?;
        let y = coordinate(&self.y).ok_or(BadJwk("y is not 32 bytes of base64url"))?;
        let point = EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
        Option::from(PublicKey::from_encoded_point(&point)).ok_or(BadJwk("the point is not on the curve"))
    }

    /// The RFC 7638 thumbprint (SHA-256 over the required members in lexicographic order),
    /// base64url: a stable key id.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
            self.crv, self.kty, self.x, self.y
        );
        b64::encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    /// The key with this key id.
    pub fn find(&self, kid: &str) -> Option<&PublicJwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

/// A P-256 private key with its key id. Its `Debug` shows the key id only.
#[derive(Clone)]
pub struct EcPrivateKey {
    kid: String,
    key: SecretKey,
}

impl std::fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcPrivateKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl EcPrivateKey {
    /// A new random key; its key id is its public key's RFC 7638 thumbprint.
    pub fn generate(rng: &mut dyn CryptoRngCore) -> EcPrivateKey {
        let key = SecretKey::random(&mut Adapter(rng));
        let kid = PublicJwk::from_key(&key.public_key()).thumbprint();
        EcPrivateKey { kid, key }
    }

    /// A key from its 32-byte scalar and key id.
    pub fn from_bytes(kid: &str, scalar: &[u8]) -> Result<EcPrivateKey, BadJwk> {
        let key = SecretKey::from_slice(scalar).map_err(|_| BadJwk("not a P-256 scalar"))?;
        Ok(EcPrivateKey {
            kid: kid.to_string(),
            key,
        })
    }

    /// The key with a private JWK's `d` (tests, RFC examples).
    pub fn from_jwk_d(kid: &str, d: &str) -> Result<EcPrivateKey, BadJwk> {
        let scalar = Zeroizing::new(b64::decode(d).ok_or(BadJwk("d is not base64url"))?);
        Self::from_bytes(kid, &scalar)
    }

    /// The 32-byte scalar, for encrypted storage.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.key.to_bytes().to_vec())
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The secret key.
    pub fn secret(&self) -> &SecretKey {
        &self.key
    }

    /// The public JWK with the key id, `use` and `alg`.
    pub fn public_jwk(&self, use_: &str, alg: &str) -> PublicJwk {
        PublicJwk {
            kid: Some(self.kid.clone()),
            use_: Some(use_.to_string()),
            alg: Some(alg.to_string()),
            ..PublicJwk::from_key(&self.key.public_key())
        }
    }
}

/// Lets a `&mut dyn CryptoRngCore` be passed where a sized RNG is needed.
pub(crate) struct Adapter<'a>(pub &'a mut dyn CryptoRngCore);

impl rand_core::RngCore for Adapter<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl rand_core::CryptoRng for Adapter<'_> {}
