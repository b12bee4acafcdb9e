//! JWE compact serialization (RFC 7516 §7.1) with `alg` `ECDH-ES+A256KW` (RFC 7518 §4.6) and
//! `enc` `A256GCM` (RFC 7518 §5.3), on P-256.
//!
//! Encryption follows RFC 7516 §5.1, decryption §5.2; the step numbers below are theirs.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use p256::PublicKey;
use p256::ecdh::{EphemeralSecret, diffie_hellman};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::b64;
use crate::jwk::{Adapter, EcPrivateKey, PublicJwk};
use crate::kw;

/// The key management algorithm.
pub const ALG: &str = "ECDH-ES+A256KW";
/// The content encryption algorithm.
pub const ENC: &str = "A256GCM";
/// AES-GCM's tag length (RFC 7518 §5.3: 128 bits).
const TAG_LEN: usize = 16;
/// AES-GCM's IV length (RFC 7518 §5.3: 96 bits).
const IV_LEN: usize = 12;

/// Why a JWE was refused.
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
    /// The recipient's JWK is not a usable P-256 public key.
    #[error(transparent)]
    BadRecipient(#[from] crate::jwk::BadJwk),
}

/// The protected header.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    enc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    epk: PublicJwk,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    apu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    apv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<serde_json::Value>,
}

/// Encrypts `plaintext` to `recipient` (its `kid`, if any, goes into the header), with content
/// type `cty`.
pub fn encrypt(
    plaintext: &[u8],
    recipient: &PublicJwk,
    cty: Option<&str>,
    rng: &mut dyn CryptoRngCore,
) -> Result<String, JweError> {
    let peer = recipient.key()?;
    // 1.–2. Key agreement with an ephemeral key, then the KEK from the Concat KDF
    //    (RFC 7518 §4.6.2), which wraps a random CEK (§4.6: "ECDH-ES+A256KW").
    let ephemeral = EphemeralSecret::random(&mut Adapter(rng));
    let z = ephemeral.diffie_hellman(&peer);
    let kek = concat_kdf(z.raw_secret_bytes(), ALG, &[], &[], 256);
    let mut cek = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(cek.as_mut());
    let kek: &[u8; 32] = kek
        .as_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("256-bit KEK"));
    let encrypted_key = kw::wrap(kek, cek.as_ref()).unwrap_or_else(|| unreachable!("a 32-byte CEK wraps"));
    // 9. A random IV.
    let mut iv = [0u8; IV_LEN];
    rng.fill_bytes(&mut iv);
    // 11.–14. The protected header, base64url; the AAD is its ASCII.
    let header = Header {
        alg: ALG.into(),
        enc: ENC.into(),
        kid: recipient.kid.clone(),
        epk: PublicJwk::from_key(&ephemeral.public_key()),
        cty: cty.map(str::to_string),
        apu: None,
        apv: None,
        crit: None,
    };
    let header_json = serde_json::to_vec(&header).unwrap_or_else(|_| unreachable!("a header serialises"));
    let protected = b64::encode(header_json);
    // 15. Encrypt with AES-256-GCM; the output is ciphertext ‖ tag.
    let cipher = Aes256Gcm::new_from_slice(cek.as_ref()).unwrap_or_else(|_| unreachable!("a 32-byte key"));
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: plaintext,
                aad: protected.as_bytes(),
            },
        )
        .unwrap_or_else(|_| unreachable!("AES-GCM encrypts any length we send"));
    let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    // 19. The compact serialization.
    Ok(format!(
        "{protected}.{}.{}.{}.{}",
        b64::encode(encrypted_key),
        b64::encode(iv),
        b64::encode(ciphertext),
        b64::encode(tag)
    ))
}

/// What a decrypted JWE said of itself.
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The key id it was encrypted to.
    pub kid: Option<String>,
    /// Its content type.
    pub cty: Option<String>,
}

/// Decrypts a compact JWE with one of `keys` (the one its `kid` names; every one when it names
/// none).
pub fn decrypt(compact: &str, keys: &[EcPrivateKey]) -> Result<Decrypted, JweError> {
    // 1. Parse the five parts.
    let parts: Vec<&str> = compact.split('.').collect();
    if parts.len() != 5 {
        return Err(JweError::Truncated("not five parts"));
    }
    let part = |i: usize, what| b64::decode(parts[i]).ok_or(JweError::Truncated(what));
    let header_json = part(0, "protected header")?;
    let encrypted_key = part(1, "encrypted key")?;
    let iv = part(2, "IV")?;
    let ciphertext = part(3, "ciphertext")?;
    let tag = part(4, "tag")?;
    if iv.len() != IV_LEN {
        return Err(JweError::Truncated("IV is not 96 bits"));
    }
    if tag.len() != TAG_LEN {
        return Err(JweError::Truncated("tag is not 128 bits"));
    }
    // 2.–4. The header: our algorithms only, no critical extensions (RFC 7516 §4.1.13).
    let header: Header = serde_json::from_slice(&header_json).map_err(|_| JweError::Header("not the JSON expected"))?;
    if header.alg != ALG {
        return Err(JweError::UnsupportedAlgorithm(header.alg));
    }
    if header.enc != ENC {
        return Err(JweError::UnsupportedAlgorithm(header.enc));
    }
    if header.crit.is_some() {
        return Err(JweError::UnsupportedAlgorithm("crit".into()));
    }
    let apu = header.apu.as_deref().map(b64::decode).unwrap_or(Some(Vec::new()));
    let apv = header.apv.as_deref().map(b64::decode).unwrap_or(Some(Vec::new()));
    let (Some(apu), Some(apv)) = (apu, apv) else {
        return Err(JweError::Header("apu/apv not base64url"));
    };
    let epk = header
        .epk
        .key()
        .map_err(|_| JweError::Header("epk is not a P-256 point"))?;
    let candidates: Vec<&EcPrivateKey> = match &header.kid {
        Some(kid) => {
            let key = keys
                .iter()
                .find(|k| k.kid() == kid)
                .ok_or_else(|| JweError::UnknownRecipient(kid.clone()))?;
            vec![key]
        }
        None => keys.iter().collect(),
    };
    // 6.–10. Agree, derive the KEK, unwrap the CEK.
    let cek = candidates
        .iter()
        .find_map(|key| unwrap_cek(key, &epk, &apu, &apv, &encrypted_key))
        .ok_or(JweError::WrongKey)?;
    // 14.–16. Decrypt and authenticate with AAD = ASCII(BASE64URL(protected header)).
    let cipher = Aes256Gcm::new_from_slice(&cek).map_err(|_| JweError::WrongKey)?;
    let sealed = [ciphertext.as_slice(), &tag].concat();
    let plaintext = cipher
        .decrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: &sealed,
                aad: parts[0].as_bytes(),
            },
        )
        .map_err(|_| JweError::Tampered)?;
    Ok(Decrypted {
        plaintext: Zeroizing::new(plaintext),
        kid: header.kid,
        cty: header.cty,
    })
}

fn unwrap_cek(
    key: &EcPrivateKey,
    epk: &PublicKey,
    apu: &[u8],
    apv: &[u8],
    encrypted_key: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let z = diffie_hellman(key.secret().to_nonzero_scalar(), epk.as_affine());
    let kek = concat_kdf(z.raw_secret_bytes(), ALG, apu, apv, 256);
    let kek: &[u8; 32] = kek.as_slice().try_into().ok()?;
    kw::unwrap(kek, encrypted_key).filter(|cek| cek.len() == 32)
}

/// The Concat KDF of NIST SP 800-56A §5.8.1 as RFC 7518 §4.6.2 uses it: `keydatalen` bits of
/// SHA-256(round ‖ Z ‖ OtherInfo) with OtherInfo = AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖
/// SuppPubInfo, the first three length-prefixed (32-bit big-endian), SuppPubInfo = keydatalen as
/// 32-bit big-endian; SuppPrivInfo empty.
pub fn concat_kdf(z: &[u8], algorithm_id: &str, apu: &[u8], apv: &[u8], keydatalen: u32) -> Zeroizing<Vec<u8>> {
    let prefixed = |data: &[u8]| {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        [&len.to_be_bytes()[..], data].concat()
    };
    let other_info = [
        prefixed(algorithm_id.as_bytes()),
        prefixed(apu),
        prefixed(apv),
        keydatalen.to_be_bytes().to_vec(),
    ]
    .concat();
    let wanted = (keydatalen / 8) as usize;
    let mut out = Zeroizing::new(Vec::with_capacity(wanted + 32));
    let mut round: u32 = 1;
    while out.len() < wanted {
        let mut hash = Sha256::new();
        hash.update(round.to_be_bytes());
        hash.update(z);
        hash.update(&other_info);
        out.extend_from_slice(&hash.finalize());
        round += 1;
    }
    out.truncate(wanted);
    out
}

#[cfg(test)]
mod tests;
