//! P-256 keys as JSON Web Keys (RFC 7517 §4; EC parameters RFC 7518 §6.2) and JWK Sets
//! (RFC 7517 §5). The JWK is our serde shape; the key inside is jwt-simple's, imported through
//! its strict JWK checks (`kty`, `crv`, coordinate lengths, the point on the curve, `use` and
//! `alg` consistent with the purpose) and thumbprinted by it (RFC 7638).

use jwt_simple::prelude::{
    ECDSAP256PublicKeyLike, ES256KeyPair, ES256PublicKey, EcdhEsA256KWDecryptionKey, EcdhEsA256KWEncryptionKey,
};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::b64;

/// A public EC key as a JWK. Only `kty` `EC` with `crv` `P-256` is usable: jwt-simple's
/// ECDH-ES is P-256 only (see `docs/key-factory.md`, "Crypto choices").
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

/// A JWK that is not a usable P-256 public key (for the purpose asked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a P-256 public key: {0}")]
pub struct BadJwk(pub &'static str);

impl PublicJwk {
    /// The JWK of an uncompressed SEC1 point (`04 ‖ x ‖ y`), with no key id.
    fn from_point(point: &[u8]) -> PublicJwk {
        let coordinates = point.get(1..).unwrap_or_default();
        let (x, y) = coordinates.split_at(coordinates.len() / 2);
        PublicJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: b64::encode(x),
            y: b64::encode(y),
            kid: None,
            use_: None,
            alg: None,
        }
    }

    /// The P-256 point (checked to be on the curve), whatever the key's purpose.
    pub fn key(&self) -> Result<ES256PublicKey, BadJwk> {
        if self.kty != "EC" {
            return Err(BadJwk("kty is not EC"));
        }
        if self.crv != "P-256" {
            return Err(BadJwk("crv is not P-256"));
        }
        let coordinate = |c: &str| b64::decode(c).filter(|b| b.len() == 32);
        let x = coordinate(&self.x).ok_or(BadJwk("x is not 32 bytes of base64url"))?;
        let y = coordinate(&self.y).ok_or(BadJwk("y is not 32 bytes of base64url"))?;
        ES256PublicKey::from_bytes(&[&[4u8][..], &x, &y].concat()).map_err(|_| BadJwk("the point is not on the curve"))
    }

    /// The key to encrypt to (`ECDH-ES+A256KW`): jwt-simple refuses a JWK whose `use` is not
    /// `enc` or whose `alg` is another algorithm, as well as any curve but P-256.
    pub fn encryption_key(&self) -> Result<EcdhEsA256KWEncryptionKey, BadJwk> {
        self.key()?;
        EcdhEsA256KWEncryptionKey::from_jwk(&self.to_json())
            .map_err(|_| BadJwk("not an ECDH-ES+A256KW encryption key (use or alg)"))
    }

    /// The key to verify ES256 signatures with: jwt-simple refuses a JWK whose `use` is not
    /// `sig` or whose `alg` is not `ES256`.
    pub fn verification_key(&self) -> Result<ES256PublicKey, BadJwk> {
        self.key()?;
        ES256PublicKey::from_jwk(&self.to_json()).map_err(|_| BadJwk("not an ES256 verification key (use or alg)"))
    }

    /// The RFC 7638 thumbprint (SHA-256 over the required members in lexicographic order),
    /// base64url: a stable key id.
    pub fn thumbprint(&self) -> Result<String, BadJwk> {
        Ok(self.key()?.jwk_thumbprint())
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
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

/// A P-256 private key with its key id: the 32-byte scalar, from which jwt-simple's signing
/// and decryption keys are made when needed. Its `Debug` shows the key id only.
#[derive(Clone)]
pub struct EcPrivateKey {
    kid: String,
    scalar: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcPrivateKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl EcPrivateKey {
    /// A new random key from `rng`; its key id is its public key's RFC 7638 thumbprint.
    pub fn generate(rng: &mut dyn CryptoRngCore) -> EcPrivateKey {
        loop {
            let mut scalar = Zeroizing::new(vec![0u8; 32]);
            rng.fill_bytes(&mut scalar);
            // Zero or ≥ the group order (about 2^-32 of draws): draw again.
            if let Ok(mut key) = Self::from_bytes("", &scalar) {
                key.kid = key.public().jwk_thumbprint();
                return key;
            }
        }
    }

    /// A key from its 32-byte scalar and key id.
    pub fn from_bytes(kid: &str, scalar: &[u8]) -> Result<EcPrivateKey, BadJwk> {
        ES256KeyPair::from_bytes(scalar).map_err(|_| BadJwk("not a P-256 scalar"))?;
        Ok(EcPrivateKey {
            kid: kid.to_string(),
            scalar: Zeroizing::new(scalar.to_vec()),
        })
    }

    /// The key with a private JWK's `d` (tests, RFC examples).
    pub fn from_jwk_d(kid: &str, d: &str) -> Result<EcPrivateKey, BadJwk> {
        let scalar = Zeroizing::new(b64::decode(d).ok_or(BadJwk("d is not base64url"))?);
        Self::from_bytes(kid, &scalar)
    }

    /// The 32-byte scalar, for encrypted storage.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.scalar.clone()
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn key_pair(&self) -> ES256KeyPair {
        ES256KeyPair::from_bytes(&self.scalar).unwrap_or_else(|_| unreachable!("checked when made"))
    }

    fn public(&self) -> ES256PublicKey {
        self.key_pair().public_key()
    }

    /// The signing key (ES256), with the key id.
    pub(crate) fn signing_key(&self) -> ES256KeyPair {
        self.key_pair().with_key_id(&self.kid)
    }

    /// The decryption key (ECDH-ES+A256KW), with the key id.
    pub(crate) fn decryption_key(&self) -> EcdhEsA256KWDecryptionKey {
        EcdhEsA256KWDecryptionKey::from_bytes(&self.scalar)
            .unwrap_or_else(|_| unreachable!("checked when made"))
            .with_key_id(&self.kid)
    }

    /// The public JWK with the key id, `use` and `alg`.
    pub fn public_jwk(&self, use_: &str, alg: &str) -> PublicJwk {
        let point = self.public().public_key().to_bytes_uncompressed();
        PublicJwk {
            kid: Some(self.kid.clone()),
            use_: Some(use_.to_string()),
            alg: Some(alg.to_string()),
            ..PublicJwk::from_point(&point)
        }
    }
}
