//! The master key and encryption of secrets at rest (AES-256-GCM).
//!
//! Ciphertexts are `nonce (12) ‖ ciphertext ‖ tag (16)`, and every use passes associated data
//! naming what is encrypted, so a ciphertext moved to another column or row does not decrypt.

use std::io::Write as _;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::{OsRng, RngCore};
use thiserror::Error;
use zeroize::Zeroizing;

/// A problem with the master key or a ciphertext. Never carries key material.
#[derive(Debug, Error)]
pub enum SecretError {
    /// The key is not 32 bytes of base64.
    #[error("master key must be base64 of exactly 32 bytes")]
    BadKey,
    /// The key file cannot be read or created.
    #[error("master key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Decryption failed: wrong master key, or tampered data.
    #[error("a stored secret does not decrypt with this master key (wrong key, or tampered data)")]
    Decrypt,
}

/// The key that encrypts secrets at rest.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Parses base64 of 32 bytes.
    pub fn from_base64(s: &str) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(STANDARD.decode(s.trim()).map_err(|_| SecretError::BadKey)?);
        let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SecretError::BadKey)?;
        Ok(Self(Zeroizing::new(arr)))
    }

    /// Reads the key from `path`, creating it (mode 0600, fresh random bytes) if missing.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        let file_err = |e: std::io::Error| SecretError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(key.as_mut());
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                match opts.open(path) {
                    Ok(mut f) => {
                        let text = Zeroizing::new(STANDARD.encode(key.as_ref()));
                        f.write_all(text.as_bytes())
                            .and_then(|()| f.sync_all())
                            .map_err(file_err)?;
                        Ok(Self(key))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
                    Err(e) => Err(file_err(e)),
                }
            }
            Err(e) => Err(file_err(e)),
        }
    }

    /// A 32-byte key for `label`, derived from the master key (domain-separated SHA-256), so
    /// each use gets its own key and none reveals the master key.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        keyfleet_domain::secret::digest("keyfleet-master-derive-v1", &[label.as_bytes(), self.0.as_ref()])
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_ref().into())
    }

    /// Encrypts `plaintext`, bound to `aad`.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .expect("AES-GCM encryption of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts what [`MasterKey::encrypt`] produced with the same `aad`.
    pub fn decrypt(&self, data: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        if data.len() < 12 + 16 {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ct) = data.split_at(12);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let ct = k.encrypt(b"secret", b"a");
        assert_eq!(k.decrypt(&ct, b"a").unwrap().as_slice(), b"secret");
        assert!(k.decrypt(&ct, b"b").is_err(), "aad binds the ciphertext");
        let mut bad = ct.clone();
        bad[20] ^= 1;
        assert!(k.decrypt(&bad, b"a").is_err());
        let other = MasterKey::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.decrypt(&ct, b"a").is_err());
        assert!(MasterKey::from_base64("AAAA").is_err());
    }

    #[test]
    fn file_is_created_once_with_private_mode() {
        let dir = std::env::temp_dir().join(format!("kf-mk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("mk");
        let a = MasterKey::load_or_create(&p).unwrap();
        let b = MasterKey::load_or_create(&p).unwrap();
        assert_eq!(a.0.as_ref(), b.0.as_ref());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
