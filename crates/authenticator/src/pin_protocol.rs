//! PIN/UV auth protocols one (CTAP 2.1 §6.5.6) and two (§6.5.7).
//!
//! Protocol two:
//! - `getPublicKey`: the authenticator's ephemeral P-256 key-agreement key as a COSE_Key with
//!   alg -25 (ECDH-ES+HKDF-256).
//! - `decapsulate`: ECDH with the platform's key, then `KDF(Z) = HKDF-SHA-256(salt = 32 zero bytes,
//!   IKM = Z, L = 32, info = "CTAP2 HMAC key") ‖ HKDF-SHA-256(…, info = "CTAP2 AES key")`.
//! - `encrypt`/`decrypt`: AES-256-CBC, no padding, with a random 16-byte IV prepended.
//! - `authenticate`/`verify`: HMAC-SHA-256 with the full 32-byte output.
//!
//! Protocol one (still used by CTAP 2.0 platforms): `KDF(Z) = SHA-256(Z)`, one key for both
//! HMAC and AES; `encrypt`/`decrypt` are AES-256-CBC with an all-zero IV (no IV is sent);
//! `authenticate` is `LEFT(HMAC-SHA-256(key, message), 16)` and `verify` compares those 16 bytes.
//! The key-agreement key is the same for both.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use hkdf::Hkdf;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::{PublicKey, SecretKey};
use rand_core::CryptoRngCore;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::cbor::Value;
use crate::crypto::{self, ct_eq, hmac_sha256};
use crate::status::Status;

/// The protocol number of PIN/UV auth protocol one.
pub const PROTOCOL_ONE: u64 = 1;
/// The protocol number of PIN/UV auth protocol two.
pub const PROTOCOL_TWO: u64 = 2;

/// A PIN/UV auth protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// §6.5.6.
    One,
    /// §6.5.7.
    Two,
}

impl Protocol {
    /// The protocol with this number, if supported.
    pub fn from_number(n: u64) -> Option<Protocol> {
        match n {
            PROTOCOL_ONE => Some(Protocol::One),
            PROTOCOL_TWO => Some(Protocol::Two),
            _ => None,
        }
    }

    /// The protocol's number.
    pub fn number(self) -> u64 {
        match self {
            Protocol::One => PROTOCOL_ONE,
            Protocol::Two => PROTOCOL_TWO,
        }
    }

    /// `verify(key, message, signature)` of this protocol, in constant time.
    pub fn verify(self, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        match self {
            Protocol::One => signature.len() == 16 && ct_eq(&hmac_sha256(key, &[message])[..16], signature),
            Protocol::Two => verify(key, message, signature),
        }
    }

    /// `authenticate(key, message)` of this protocol (used by tests as the platform).
    pub fn authenticate(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        let mac = hmac_sha256(key, &[message]);
        match self {
            Protocol::One => mac[..16].to_vec(),
            Protocol::Two => mac.to_vec(),
        }
    }
}

/// COSE algorithm of the key-agreement key: ECDH-ES+HKDF-256.
const ECDH_ES_HKDF_256: i128 = -25;

/// The authenticator's key-agreement key pair, regenerated at power-up and after a wrong PIN.
pub struct KeyAgreementKey {
    scalar: Zeroizing<[u8; 32]>,
}

impl KeyAgreementKey {
    /// A fresh key pair (`initialize()` / `regenerate()`).
    pub fn generate(rng: &mut dyn CryptoRngCore) -> KeyAgreementKey {
        KeyAgreementKey {
            scalar: Zeroizing::new(crypto::new_p256_scalar(rng)),
        }
    }

    /// `getPublicKey()`: the COSE_Key returned by getKeyAgreement.
    pub fn public_cose(&self) -> Value {
        let point = crypto::public_point(&self.scalar).unwrap_or([0; 65]);
        crypto::cose_p256(&point, ECDH_ES_HKDF_256)
    }

    /// `decapsulate(peerCoseKey)`: the 64-byte shared secret, or `CTAP1_ERR_INVALID_PARAMETER`
    /// for a malformed or off-curve platform key.
    pub fn decapsulate(&self, peer: &Value) -> Result<SharedSecret, Status> {
        self.decapsulate_with(Protocol::Two, peer)
    }

    /// `decapsulate(peerCoseKey)` of the given protocol.
    pub fn decapsulate_with(&self, protocol: Protocol, peer: &Value) -> Result<SharedSecret, Status> {
        let peer = parse_peer_key(peer)?;
        let secret = SecretKey::from_slice(self.scalar.as_slice()).map_err(|_| Status::Other)?;
        let shared = (peer.to_projective() * *secret.to_nonzero_scalar()).to_affine();
        let mut z: [u8; 32] = shared.x().into();
        let out = match protocol {
            Protocol::One => SharedSecret::from_z_one(&z),
            Protocol::Two => SharedSecret::from_z(&z),
        };
        z.zeroize();
        Ok(out)
    }
}

/// Parses the platform's COSE_Key {1: 2 (EC2), 3: alg, -1: 1 (P-256), -2: x, -3: y}.
fn parse_peer_key(key: &Value) -> Result<PublicKey, Status> {
    key.as_map()?;
    let field = |k: i128| key.get_int_key(k).ok_or(Status::MissingParameter);
    if field(1)?.as_int()? != 2 || field(-1)?.as_int()? != 1 {
        return Err(Status::InvalidParameter);
    }
    let (x, y) = (field(-2)?.as_bytes()?, field(-3)?.as_bytes()?);
    if x.len() != 32 || y.len() != 32 {
        return Err(Status::InvalidParameter);
    }
    let sec1 = [&[0x04u8][..], x, y].concat();
    PublicKey::from_sec1_bytes(&sec1).map_err(|_| Status::InvalidParameter)
}

/// The result of `decapsulate`: an HMAC key and an AES key, 32 bytes each.
pub struct SharedSecret {
    protocol: Protocol,
    hmac_key: Zeroizing<[u8; 32]>,
    aes_key: Zeroizing<[u8; 32]>,
}

impl SharedSecret {
    /// `KDF(Z)` of protocol two.
    pub fn from_z(z: &[u8; 32]) -> SharedSecret {
        let hk = Hkdf::<Sha256>::new(Some(&[0u8; 32]), z);
        let mut hmac_key = Zeroizing::new([0u8; 32]);
        let mut aes_key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA-256's output limit, so expansion cannot fail.
        hk.expand(b"CTAP2 HMAC key", hmac_key.as_mut_slice())
            .unwrap_or_else(|_| unreachable!());
        hk.expand(b"CTAP2 AES key", aes_key.as_mut_slice())
            .unwrap_or_else(|_| unreachable!());
        SharedSecret {
            protocol: Protocol::Two,
            hmac_key,
            aes_key,
        }
    }

    /// `KDF(Z)` of protocol one: SHA-256(Z) keys both HMAC and AES.
    pub fn from_z_one(z: &[u8; 32]) -> SharedSecret {
        let key = Zeroizing::new(crypto::sha256(z));
        SharedSecret {
            protocol: Protocol::One,
            hmac_key: key.clone(),
            aes_key: key,
        }
    }

    /// The protocol this secret belongs to.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// `encrypt(key, demPlaintext)`: IV ‖ AES-256-CBC(plaintext). The plaintext is a whole number of blocks.
    /// Protocol one: AES-256-CBC with a zero IV, which is not sent.
    pub fn encrypt(&self, rng: &mut dyn CryptoRngCore, plaintext: &[u8]) -> Vec<u8> {
        let iv: [u8; 16] = match self.protocol {
            Protocol::One => [0; 16],
            Protocol::Two => crypto::random(rng),
        };
        let mut buf = plaintext.to_vec();
        let enc = cbc::Encryptor::<aes::Aes256>::new(self.aes_key.as_slice().into(), &iv.into());
        let len = buf.len();
        let ct = enc
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        match self.protocol {
            Protocol::One => ct,
            Protocol::Two => [iv.as_slice(), &ct].concat(),
        }
    }

    /// `decrypt(key, demCiphertext)`: fails (`None`) on a short input or a partial block.
    /// Protocol one: a zero IV and at least one block.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if ciphertext.len() < 16 || !ciphertext.len().is_multiple_of(16) {
            return None;
        }
        let (iv, ct) = match self.protocol {
            Protocol::One => (&[0u8; 16][..], ciphertext),
            Protocol::Two => ciphertext.split_at(16),
        };
        let mut buf = Zeroizing::new(ct.to_vec());
        let dec = cbc::Decryptor::<aes::Aes256>::new(self.aes_key.as_slice().into(), iv.into());
        let len = dec.decrypt_padded_mut::<NoPadding>(&mut buf).ok()?.len();
        buf.truncate(len);
        Some(buf)
    }

    /// `verify(key, message, signature)` with this secret's HMAC key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.protocol.verify(self.hmac_key.as_slice(), message, signature)
    }

    /// `authenticate(key, message)` with this secret's HMAC key (used by tests as the platform):
    /// 32 bytes for protocol two, 16 for protocol one.
    pub fn authenticate(&self, message: &[u8]) -> Vec<u8> {
        self.protocol.authenticate(self.hmac_key.as_slice(), message)
    }
}

/// `verify(key, message, signature)`: HMAC-SHA-256 compared in full (32 bytes), in constant time.
pub fn verify(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    signature.len() == 32 && ct_eq(&hmac_sha256(key, &[message]), signature)
}

#[cfg(test)]
mod tests;
