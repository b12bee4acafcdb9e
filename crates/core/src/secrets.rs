//! The master key and encryption of secrets at rest (AES-256-GCM), with a key ring for
//! rotation without downtime (docs/secrets.md).
//!
//! The configured key (`master_key` / `master_key_file`) is key id 0. Rotation adds data keys
//! (ids 1, 2, …) to the database's `master_keys`, each wrapped under key 0; the newest
//! encrypts, every one loaded decrypts ([`MasterKey::reload`]).
//!
//! A ciphertext is `"KF" 0x01 ‖ key id (4, big-endian) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
//! The format before rotation existed, `nonce ‖ ciphertext ‖ tag` under key 0, still
//! decrypts (tried when the versioned reading fails), until re-encryption rewrites it.
//! Every use passes associated data naming what is encrypted, so a ciphertext moved to
//! another column or row does not decrypt.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::RwLock;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyfleet_domain::keyring::{KeyringStore, MasterKeyState};
use rand_core::{OsRng, RngCore};
use thiserror::Error;
use zeroize::Zeroizing;

/// The first bytes of a versioned ciphertext.
pub const MAGIC: [u8; 3] = [b'K', b'F', 1];

const HEADER: usize = MAGIC.len() + 4;
const NONCE: usize = 12;
const TAG: usize = 16;

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
    /// The ciphertext names a data key this process has not loaded (made by a rotation since
    /// the last [`MasterKey::reload`], or retired).
    #[error("a stored secret is encrypted under master data key {id}, which this process does not hold")]
    UnknownKey {
        /// The key id.
        id: u32,
    },
    /// The ring could not be read from the database.
    #[error("the master key ring cannot be read: {0}")]
    Store(String),
}

type Key = Zeroizing<[u8; 32]>;

/// The data keys loaded from the database and which one encrypts.
#[derive(Default)]
struct Ring {
    /// The key that encrypts (0: the configured key).
    current: u32,
    /// Data keys by id (not key 0).
    keys: BTreeMap<u32, Key>,
}

/// The key that encrypts secrets at rest: the configured key and the data keys of the ring.
pub struct MasterKey {
    root: Key,
    ring: RwLock<Ring>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

fn seal(key: &[u8; 32], id: u32, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE];
    OsRng.fill_bytes(&mut nonce);
    let ct = cipher(key)
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .expect("AES-GCM encryption of a small buffer cannot fail");
    let mut out = Vec::with_capacity(HEADER + NONCE + ct.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn open(key: &[u8; 32], nonce_and_ct: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if nonce_and_ct.len() < NONCE + TAG {
        return None;
    }
    let (nonce, ct) = nonce_and_ct.split_at(NONCE);
    cipher(key)
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

/// The key id a versioned ciphertext names (`None` for the earlier format).
pub fn key_id(data: &[u8]) -> Option<u32> {
    if data.len() >= HEADER + NONCE + TAG && data[..MAGIC.len()] == MAGIC {
        let id: [u8; 4] = data[MAGIC.len()..HEADER].try_into().ok()?;
        Some(u32::from_be_bytes(id))
    } else {
        None
    }
}

/// The associated data a data key is wrapped with.
pub fn wrap_aad(id: u32) -> Vec<u8> {
    format!("master_keys:{id}").into_bytes()
}

impl MasterKey {
    fn with_root(root: Key) -> Self {
        Self {
            root,
            ring: RwLock::new(Ring::default()),
        }
    }

    /// Parses base64 of 32 bytes.
    pub fn from_base64(s: &str) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(STANDARD.decode(s.trim()).map_err(|_| SecretError::BadKey)?);
        let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SecretError::BadKey)?;
        Ok(Self::with_root(Zeroizing::new(arr)))
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
                        Ok(Self::with_root(key))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
                    Err(e) => Err(file_err(e)),
                }
            }
            Err(e) => Err(file_err(e)),
        }
    }

    /// A 32-byte key for `label`, derived from the configured key (domain-separated
    /// SHA-256), so each use gets its own key and none reveals the master key. Rotation does
    /// not change derived keys (nothing stored depends on them).
    pub fn derive(&self, label: &str) -> [u8; 32] {
        keyfleet_domain::secret::digest("keyfleet-master-derive-v1", &[label.as_bytes(), self.root.as_ref()])
    }

    /// The id of the key that encrypts now (0: the configured key).
    pub fn current_id(&self) -> u32 {
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .current
    }

    /// The ids this process decrypts with, the configured key's 0 first.
    pub fn key_ids(&self) -> Vec<u32> {
        let ring = self.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::iter::once(0).chain(ring.keys.keys().copied()).collect()
    }

    /// Encrypts `plaintext` under the current key, bound to `aad`.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let ring = self.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match ring.keys.get(&ring.current) {
            Some(key) if ring.current != 0 => seal(key, ring.current, plaintext, aad),
            _ => seal(&self.root, 0, plaintext, aad),
        }
    }

    /// Decrypts what [`MasterKey::encrypt`] produced with the same `aad`, under whichever key
    /// of the ring it names (or, in the earlier format, under the configured key).
    pub fn decrypt(&self, data: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let mut unknown = None;
        if let Some(id) = key_id(data) {
            let ring = self.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = if id == 0 { Some(&self.root) } else { ring.keys.get(&id) };
            match key {
                Some(key) => {
                    if let Some(plain) = open(key, &data[HEADER..], aad) {
                        return Ok(plain);
                    }
                }
                None => unknown = Some(id),
            }
        }
        // The earlier format (which may begin with the same bytes by chance).
        if let Some(plain) = open(&self.root, data, aad) {
            return Ok(plain);
        }
        Err(match unknown {
            Some(id) => SecretError::UnknownKey { id },
            None => SecretError::Decrypt,
        })
    }

    /// Whether `data` is encrypted under the current key (re-encryption skips it).
    pub fn is_current(&self, data: &[u8]) -> bool {
        key_id(data) == Some(self.current_id())
    }

    /// A fresh data key with id `id`, wrapped under the configured key: what a rotation stores.
    pub fn new_wrapped_key(&self, id: u32) -> Vec<u8> {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        seal(&self.root, 0, key.as_ref(), &wrap_aad(id))
    }

    /// Reads the ring from the database: every data key not retired, unwrapped; the
    /// `current` one encrypts from now on. On error the ring stays as it was.
    pub async fn reload(&self, store: &dyn KeyringStore) -> Result<(), SecretError> {
        let stored = store
            .master_keys()
            .await
            .map_err(|e| SecretError::Store(e.to_string()))?;
        let mut ring = Ring::default();
        for k in stored.iter().filter(|k| k.state != MasterKeyState::Retired) {
            let unwrapped = open_wrapped(&self.root, &k.wrapped, &wrap_aad(k.id)).ok_or(SecretError::Decrypt)?;
            let arr: [u8; 32] = unwrapped.as_slice().try_into().map_err(|_| SecretError::Decrypt)?;
            ring.keys.insert(k.id, Zeroizing::new(arr));
            if k.state == MasterKeyState::Current {
                ring.current = k.id;
            }
        }
        *self.ring.write().unwrap_or_else(std::sync::PoisonError::into_inner) = ring;
        Ok(())
    }
}

/// Opens a wrapped data key (sealed under key 0).
fn open_wrapped(root: &[u8; 32], data: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    match key_id(data) {
        Some(0) => open(root, &data[HEADER..], aad),
        _ => None,
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
    fn versioned_format_names_its_key_and_the_earlier_format_still_opens() {
        let k = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let ct = k.encrypt(b"secret", b"a");
        assert_eq!(&ct[..3], b"KF\x01");
        assert_eq!(key_id(&ct), Some(0));
        assert!(k.is_current(&ct));
        // The format before key ids: nonce ‖ ciphertext ‖ tag under the configured key.
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let mut legacy = nonce.to_vec();
        legacy.extend(
            cipher(&[7u8; 32])
                .encrypt(Nonce::from_slice(&nonce), Payload { msg: b"old", aad: b"a" })
                .unwrap(),
        );
        assert_eq!(k.decrypt(&legacy, b"a").unwrap().as_slice(), b"old");
        assert!(!k.is_current(&legacy));
        // A ciphertext naming a key this process does not hold says so.
        let mut other = ct.clone();
        other[3..7].copy_from_slice(&9u32.to_be_bytes());
        assert!(matches!(
            k.decrypt(&other, b"a"),
            Err(SecretError::UnknownKey { id: 9 })
        ));
    }

    #[test]
    fn file_is_created_once_with_private_mode() {
        let dir = std::env::temp_dir().join(format!("kf-mk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("mk");
        let a = MasterKey::load_or_create(&p).unwrap();
        let b = MasterKey::load_or_create(&p).unwrap();
        assert_eq!(a.root.as_ref(), b.root.as_ref());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
