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
