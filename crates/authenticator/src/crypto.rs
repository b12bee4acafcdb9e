//! Crypto helpers: SHA-256, HMAC-SHA-256, ES256 (P-256 ECDSA with SHA-256) keys and signatures,
//! COSE public keys, and AES-256-GCM wrapping of non-discoverable credential IDs.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::cbor::Value;

/// COSE algorithm identifier of ES256 (ECDSA w/ SHA-256 on P-256).
pub const ES256: i128 = -7;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// HMAC-SHA-256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two byte strings (false when the lengths differ).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `N` random bytes.
pub fn random<const N: usize>(rng: &mut dyn CryptoRngCore) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

/// A fresh P-256 private scalar (big-endian), valid by construction.
pub fn new_p256_scalar(mut rng: &mut dyn CryptoRngCore) -> [u8; 32] {
    p256::SecretKey::random(&mut rng).to_bytes().into()
}

fn signing_key(scalar: &[u8; 32]) -> Option<SigningKey> {
    SigningKey::from_slice(scalar).ok()
}

/// ES256 signature (ASN.1 DER) over `message`. `None` only for an invalid stored scalar.
pub fn sign_es256(scalar: &[u8; 32], message: &[u8]) -> Option<Vec<u8>> {
    let sig: Signature = signing_key(scalar)?.sign(message);
    Some(sig.to_der().as_bytes().to_vec())
}

/// The uncompressed SEC1 public point (0x04 ‖ x ‖ y) of a private scalar.
pub fn public_point(scalar: &[u8; 32]) -> Option<[u8; 65]> {
    let key = signing_key(scalar)?;
    let point = key.verifying_key().to_encoded_point(false);
    point.as_bytes().try_into().ok()
}

/// COSE_Key (RFC 8152, CTAP 2.1 §6.5.6) of a P-256 public point with the given `alg`.
pub fn cose_p256(point: &[u8; 65], alg: i128) -> Value {
    Value::int_map(vec![
        (1, Value::Int(2)),
        (3, Value::Int(alg)),
        (-1, Value::Int(1)),
        (-2, Value::bytes(&point[1..33])),
        (-3, Value::bytes(&point[33..65])),
    ])
}

/// AES-256-GCM encryption with a random 96-bit nonce: returns nonce ‖ ciphertext ‖ tag.
pub fn aead_seal(key: &[u8; 32], rng: &mut dyn CryptoRngCore, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce: [u8; 12] = random(rng);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        // Encryption only fails for inputs larger than GCM's limit (gigabytes).
        .unwrap_or_default();
    [nonce.as_slice(), &sealed].concat()
}

/// Opens what [`aead_seal`] produced; `None` if it was not made with this key and `aad`.
pub fn aead_open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < 12 + 16 {
        return None;
    }
    let (nonce, ct) = sealed.split_at(12);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

/// COSE algorithm identifier of EdDSA (Ed25519 here).
pub const EDDSA: i128 = -8;
/// COSE algorithm identifier of ES384 (ECDSA w/ SHA-384 on P-384).
pub const ES384: i128 = -35;

/// A credential's signature algorithm (CTAP 2.1 §6.1.2 step 3: the first of pubKeyCredParams
/// the authenticator supports). The private key bytes are: ES256 a P-256 scalar (32 bytes),
/// EdDSA an Ed25519 seed (32 bytes), ES384 a P-384 scalar (48 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256 (COSE -7).
    Es256,
    /// Ed25519 (COSE -8).
    EdDsa,
    /// ECDSA P-384 with SHA-384 (COSE -35).
    Es384,
}

impl Alg {
    /// Every supported algorithm, in getInfo order (preferred first).
    pub const ALL: [Alg; 3] = [Alg::Es256, Alg::EdDsa, Alg::Es384];

    /// The COSE algorithm identifier.
    pub fn cose(self) -> i128 {
        match self {
            Alg::Es256 => ES256,
            Alg::EdDsa => EDDSA,
            Alg::Es384 => ES384,
        }
    }

    /// The algorithm with this COSE identifier, if supported.
    pub fn from_cose(alg: i128) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.cose() == alg)
    }

    /// A one-byte code for wrapped credential IDs.
    pub(crate) fn code(self) -> u8 {
        match self {
            Alg::Es256 => 1,
            Alg::EdDsa => 2,
            Alg::Es384 => 3,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.code() == code)
    }

    /// The private key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Alg::Es256 | Alg::EdDsa => 32,
            Alg::Es384 => 48,
        }
    }

    /// A fresh private key.
    pub fn generate(self, mut rng: &mut dyn CryptoRngCore) -> zeroize::Zeroizing<Vec<u8>> {
        // The fixed-size intermediates are zeroized too.
        zeroize::Zeroizing::new(match self {
            Alg::Es256 => zeroize::Zeroizing::new(new_p256_scalar(rng)).to_vec(),
            Alg::EdDsa => zeroize::Zeroizing::new(random::<32>(rng)).to_vec(),
            Alg::Es384 => p384::SecretKey::random(&mut rng).to_bytes().to_vec(),
        })
    }

    /// Signs `message`: ASN.1 DER for ECDSA, the 64-byte signature for EdDSA. `None` only for
    /// an invalid stored key.
    pub fn sign(self, key: &[u8], message: &[u8]) -> Option<Vec<u8>> {
        match self {
            Alg::Es256 => sign_es256(key.try_into().ok()?, message),
            Alg::EdDsa => {
                use ed25519_dalek::Signer as _;
                let seed = zeroize::Zeroizing::new(<[u8; 32]>::try_from(key).ok()?);
                Some(
                    ed25519_dalek::SigningKey::from_bytes(&seed)
                        .sign(message)
                        .to_bytes()
                        .to_vec(),
                )
            }
            Alg::Es384 => {
                let k = p384::ecdsa::SigningKey::from_slice(key).ok()?;
                let sig: p384::ecdsa::Signature = k.sign(message);
                Some(sig.to_der().as_bytes().to_vec())
            }
        }
    }

    /// The COSE_Key of the public key (RFC 8152 / RFC 8037).
    pub fn cose_public_key(self, key: &[u8]) -> Option<Value> {
        match self {
            Alg::Es256 => Some(cose_p256(&public_point(key.try_into().ok()?)?, ES256)),
            Alg::EdDsa => {
                let seed = zeroize::Zeroizing::new(<[u8; 32]>::try_from(key).ok()?);
                let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
                Some(Value::int_map(vec![
                    (1, Value::Int(1)),
                    (3, Value::Int(EDDSA)),
                    (-1, Value::Int(6)),
                    (-2, Value::bytes(public.as_bytes())),
                ]))
            }
            Alg::Es384 => {
                let k = p384::ecdsa::SigningKey::from_slice(key).ok()?;
                let point = k.verifying_key().to_encoded_point(false);
                let bytes = point.as_bytes();
                if bytes.len() != 97 {
                    return None;
                }
                Some(Value::int_map(vec![
                    (1, Value::Int(2)),
                    (3, Value::Int(ES384)),
                    (-1, Value::Int(2)),
                    (-2, Value::bytes(&bytes[1..49])),
                    (-3, Value::bytes(&bytes[49..97])),
                ]))
            }
        }
    }
}
