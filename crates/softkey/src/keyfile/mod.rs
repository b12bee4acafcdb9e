//! Key files: a security key's whole state in one file, encrypted at rest and replaced atomically.
//!
//! # Format (version 1)
//!
//! ```text
//! "KEYFLEET" (8) ‖ version 01 (1) ‖ protection (1) ‖ protection parameters ‖ nonce (12) ‖ AES-256-GCM ciphertext
//!   protection 01, passphrase: Argon2id m_cost (4, BE) ‖ t_cost (4, BE) ‖ p_cost (4, BE) ‖ salt (16)
//!   protection 02, file key: key id (8) = SHA-256(file key)[..8]
//! ```
//!
//! Everything before the ciphertext is the GCM associated data, so a changed header fails to open
//! like a changed ciphertext does. Each save uses a fresh random nonce under the key derived at
//! open time.
//!
//! # Where the key comes from
//!
//! - With `KEYFLEET_KEY_PASSPHRASE` set (non-empty), the file key is Argon2id(passphrase, salt).
//! - Without it, the file key is 32 random bytes kept in the *file-keys directory*
//!   (`--file-keys-dir` / `KEYFLEET_FILE_KEYS_DIR`, default `$XDG_DATA_HOME/keyfleet/file-keys`,
//!   see [`crate::dirs`]) as `KEYID.key` (mode 0600; KEYID: the key id of the header, in hex),
//!   never next to the key file. The key file alone (a backup, a copy, a file in a shared
//!   directory) is then unreadable; whoever can read the user's data directory can read it. To
//!   use the key file as another user or on another machine, make it with a passphrase (or copy
//!   its file key along). A file made with a passphrase never uses a file key, and opening it
//!   without the passphrase fails.
//! - Key files made by earlier versions kept their file key next to themselves as `FILE.key`;
//!   that place is still read when the file-keys directory does not have the key, and never
//!   written.
//!
//! # Crash safety
//!
//! A save writes `.NAME.PID.tmp` in the same directory, fsyncs it, renames it over the key file
//! and fsyncs the directory ([`write_atomically`]). After a crash or power loss at any point the
//! key file holds either the old or the new state: see the model test in `tests.rs`, which cuts
//! the sequence after every step and every byte.

#[cfg(test)]
mod tests;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The environment variable holding the key-file passphrase.
pub const PASSPHRASE_ENV: &str = "KEYFLEET_KEY_PASSPHRASE";
/// The file magic.
pub const MAGIC: [u8; 8] = *b"KEYFLEET";
/// The format version this code writes and reads.
pub const VERSION: u8 = 1;
const PROTECTION_PASSPHRASE: u8 = 1;
const PROTECTION_FILE_KEY: u8 = 2;
const NONCE_LEN: usize = 12;
const SALT_LEN: usize = 16;
const KEY_ID_LEN: usize = 8;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// OWASP's recommended minimum for Argon2id (19 MiB, 2 iterations, 1 lane).
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };
    /// Cheap parameters for tests only.
    pub const INSECURE_FAST: KdfParams = KdfParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };

    /// Refuses parameters a crafted file could use to make opening it exhaust memory or time.
    fn check(self) -> Result<Self, KeyFileError> {
        let ok = (8..=1024 * 1024).contains(&self.m_cost)
            && (1..=16).contains(&self.t_cost)
            && (1..=8).contains(&self.p_cost)
            && self.m_cost >= 8 * self.p_cost;
        if ok {
            Ok(self)
        } else {
            Err(KeyFileError::Malformed("Argon2 parameters out of range"))
        }
    }
}

/// How a new key file is protected.
pub enum Protection {
    /// A key derived from this passphrase with Argon2id.
    Passphrase(Zeroizing<String>, KdfParams),
    /// A random file key, kept in this file-keys directory (created with mode 0700 if missing).
    FileKey(PathBuf),
}

impl Protection {
    /// A passphrase from `KEYFLEET_KEY_PASSPHRASE` if it is set and not empty, otherwise a file
    /// key in `file_keys`.
    pub fn from_env(file_keys: &Path) -> Self {
        match passphrase_from_env() {
            Some(passphrase) => Protection::Passphrase(passphrase, KdfParams::DEFAULT),
            None => Protection::FileKey(file_keys.to_path_buf()),
        }
    }
}

/// Where the file key with this key id lives in the file-keys directory `dir`.
pub fn file_key_path(dir: &Path, key_id: &[u8; KEY_ID_LEN]) -> PathBuf {
    dir.join(format!("{}.key", hex::encode(key_id)))
}

/// `KEYFLEET_KEY_PASSPHRASE`, if set and not empty.
pub fn passphrase_from_env() -> Option<Zeroizing<String>> {
    std::env::var(PASSPHRASE_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Zeroizing::new)
}

/// Why a key file could not be created, opened or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `new` refuses to overwrite an existing key.
    #[error("{0} already exists")]
    Exists(PathBuf),
    /// The file is not a key file, or its header is damaged.
    #[error("not a keyfleet key file ({0})")]
    Malformed(&'static str),
    /// The file was written by a newer keyfleet.
    #[error("unsupported key file version {0}")]
    UnsupportedVersion(u8),
    /// The file is passphrase-protected and no passphrase was given.
    #[error("this key file is protected by a passphrase: set {PASSPHRASE_ENV}")]
    PassphraseRequired,
    /// The file key is missing or does not belong to this key file.
    #[error(
        "its file key {0} is missing or belongs to another key file (a key file made without \
         {PASSPHRASE_ENV} opens only with the file key made with it: see --file-keys-dir)"
    )]
    FileKeyMissing(PathBuf),
    /// Authentication failed: wrong passphrase, or the file was changed.
    #[error("cannot decrypt the key file: wrong passphrase, or the file is damaged")]
    Decrypt,
    /// The key derivation or the cipher refused its inputs.
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
}

/// The file operations a save needs, so that tests can cut them short (see `tests.rs`).
pub trait Fs {
    /// Reads a whole file.
    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>>;
    /// Whether a file exists.
    fn exists(&mut self, path: &Path) -> bool;
    /// Creates or truncates `path` (mode 0600) and writes `data` to it, without syncing.
    fn write(&mut self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Flushes a file's data and metadata to stable storage (fsync).
    fn sync(&mut self, path: &Path) -> io::Result<()>;
    /// Renames a file, replacing the target atomically.
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()>;
    /// Flushes a directory's entries to stable storage.
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()>;
    /// Creates a directory and its missing parents, those it creates with mode 0700.
    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdFs;

impl Fs for StdFs {
    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        let mut data = Vec::new();
        std::fs::File::open(path)?.read_to_end(&mut data)?;
        Ok(data)
    }

    fn exists(&mut self, path: &Path) -> bool {
        path.exists()
    }

    fn write(&mut self, path: &Path, data: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(data)
    }

    fn sync(&mut self, path: &Path) -> io::Result<()> {
        std::fs::OpenOptions::new().write(true).open(path)?.sync_all()
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }

    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        create_private_dir(dir)
    }
}

/// Creates `dir` and its missing parents with mode 0700 (they hold private keys); an existing
/// directory is left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// `path` with `suffix` appended to its file name (`alice.kfk` → `alice.kfk.key`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The temporary file a save writes before renaming it over `path`.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Replaces `path` with `data` so that a crash at any point leaves either the old or the new
/// contents: write a temporary file in the same directory, fsync it, rename it over `path`,
/// fsync the directory.
pub fn write_atomically(fs: &mut dyn Fs, path: &Path, data: &[u8]) -> Result<(), KeyFileError> {
    let tmp = temp_path(path);
    fn io(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> KeyFileError + use<> {
        let path = path.to_path_buf();
        move |source| KeyFileError::Io { op, path, source }
    }
    fs.write(&tmp, data).map_err(io("write", &tmp))?;
    fs.sync(&tmp).map_err(io("fsync", &tmp))?;
    fs.rename(&tmp, path).map_err(io("rename", path))?;
    let dir = parent_dir(path);
    fs.sync_dir(dir).map_err(io("fsync", dir))
}

/// The parsed header: everything before the nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Header {
    Passphrase { params: KdfParams, salt: [u8; SALT_LEN] },
    FileKey { key_id: [u8; KEY_ID_LEN] },
}

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        match self {
            Header::Passphrase { params, salt } => {
                out.push(PROTECTION_PASSPHRASE);
                for n in [params.m_cost, params.t_cost, params.p_cost] {
                    out.extend_from_slice(&n.to_be_bytes());
                }
                out.extend_from_slice(salt);
            }
            Header::FileKey { key_id } => {
                out.push(PROTECTION_FILE_KEY);
                out.extend_from_slice(key_id);
            }
        }
        out
    }

    /// Parses the header and returns it with the number of bytes it took.
    fn decode(raw: &[u8]) -> Result<(Header, usize), KeyFileError> {
        let rest = raw.strip_prefix(&MAGIC).ok_or(KeyFileError::Malformed("bad magic"))?;
        let (&version, rest) = rest.split_first().ok_or(KeyFileError::Malformed("truncated header"))?;
        if version != VERSION {
            return Err(KeyFileError::UnsupportedVersion(version));
        }
        let (&protection, rest) = rest.split_first().ok_or(KeyFileError::Malformed("truncated header"))?;
        let header = match protection {
            PROTECTION_PASSPHRASE => {
                let fields: &[u8; 12 + SALT_LEN] =
                    rest.first_chunk().ok_or(KeyFileError::Malformed("truncated header"))?;
                let word = |i: usize| u32::from_be_bytes([fields[i], fields[i + 1], fields[i + 2], fields[i + 3]]);
                let params = KdfParams {
                    m_cost: word(0),
                    t_cost: word(4),
                    p_cost: word(8),
                }
                .check()?;
                let mut salt = [0; SALT_LEN];
                salt.copy_from_slice(&fields[12..]);
                Header::Passphrase { params, salt }
            }
            PROTECTION_FILE_KEY => {
                let key_id = rest.first_chunk().ok_or(KeyFileError::Malformed("truncated header"))?;
                Header::FileKey { key_id: *key_id }
            }
            _ => return Err(KeyFileError::Malformed("unknown protection")),
        };
        let len = header.encode().len();
        Ok((header, len))
    }
}

fn derive_key(passphrase: &str, params: KdfParams, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let argon_params = argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
        .map_err(|_| KeyFileError::Crypto("Argon2 parameters"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon_params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|_| KeyFileError::Crypto("Argon2"))?;
    Ok(key)
}

fn key_id(key: &[u8; 32]) -> [u8; KEY_ID_LEN] {
    let digest = Sha256::digest(key);
    let mut id = [0; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

/// An open key file: its path, the file key derived once, and the header to write back.
pub struct KeyFile<F: Fs = StdFs> {
    path: PathBuf,
    fs: F,
    key: Zeroizing<[u8; 32]>,
    header: Vec<u8>,
}

impl KeyFile<StdFs> {
    /// Creates a new key file holding `plaintext`; refuses to overwrite an existing one.
    pub fn create(
        path: &Path,
        protection: Protection,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self, KeyFileError> {
        Self::create_with(StdFs, path, protection, plaintext, rng)
    }

    /// Opens a key file and decrypts it, with the passphrase if the file needs one, else with
    /// its file key from the file-keys directory `file_keys`.
    pub fn open(
        path: &Path,
        passphrase: Option<&str>,
        file_keys: &Path,
    ) -> Result<(Self, Zeroizing<Vec<u8>>), KeyFileError> {
        Self::open_with(StdFs, path, passphrase, file_keys)
    }
}

impl<F: Fs> KeyFile<F> {
    /// [`KeyFile::create`] on the given file system.
    pub fn create_with(
        mut fs: F,
        path: &Path,
        protection: Protection,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self, KeyFileError> {
        if fs.exists(path) {
            return Err(KeyFileError::Exists(path.to_path_buf()));
        }
        let (header, key) = match protection {
            Protection::Passphrase(passphrase, params) => {
                let params = params.check()?;
                let mut salt = [0; SALT_LEN];
                rng.fill_bytes(&mut salt);
                (
                    Header::Passphrase { params, salt },
                    derive_key(&passphrase, params, &salt)?,
                )
            }
            Protection::FileKey(dir) => {
                let mut key = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(key.as_mut());
                let id = key_id(&key);
                fs.create_dir_all(&dir).map_err(|source| KeyFileError::Io {
                    op: "create",
                    path: dir.clone(),
                    source,
                })?;
                write_atomically(&mut fs, &file_key_path(&dir, &id), key.as_ref())?;
                (Header::FileKey { key_id: id }, key)
            }
        };
        let mut file = KeyFile {
            path: path.to_path_buf(),
            fs,
            key,
            header: header.encode(),
        };
        file.save(plaintext, rng)?;
        Ok(file)
    }

    /// [`KeyFile::open`] on the given file system.
    pub fn open_with(
        mut fs: F,
        path: &Path,
        passphrase: Option<&str>,
        file_keys: &Path,
    ) -> Result<(Self, Zeroizing<Vec<u8>>), KeyFileError> {
        let raw = fs.read(path).map_err(|source| KeyFileError::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let (header, header_len) = Header::decode(&raw)?;
        let key = match &header {
            Header::Passphrase { params, salt } => {
                let passphrase = passphrase.ok_or(KeyFileError::PassphraseRequired)?;
                derive_key(passphrase, *params, salt)?
            }
            Header::FileKey { key_id: expected } => read_file_key(&mut fs, path, file_keys, expected)?,
        };
        let plaintext = decrypt(&key, &raw, header_len)?;
        let header = raw[..header_len].to_vec();
        Ok((
            KeyFile {
                path: path.to_path_buf(),
                fs,
                key,
                header,
            },
            plaintext,
        ))
    }

    /// Encrypts `plaintext` under a fresh nonce and replaces the file atomically.
    pub fn save(&mut self, plaintext: &[u8], rng: &mut dyn CryptoRngCore) -> Result<(), KeyFileError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut aad = self.header.clone();
        aad.extend_from_slice(&nonce);
        let cipher = Aes256Gcm::new_from_slice(self.key.as_ref()).map_err(|_| KeyFileError::Crypto("key length"))?;
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyFileError::Crypto("AES-GCM"))?;
        aad.extend_from_slice(&ciphertext);
        write_atomically(&mut self.fs, &self.path, &aad)
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file system, for tests.
    pub fn fs_mut(&mut self) -> &mut F {
        &mut self.fs
    }
}

/// The file key with id `expected`: from the file-keys directory, else (key files of earlier
/// versions) from `FILE.key` next to the key file.
fn read_file_key(
    fs: &mut dyn Fs,
    path: &Path,
    file_keys: &Path,
    expected: &[u8; KEY_ID_LEN],
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let current = file_key_path(file_keys, expected);
    for candidate in [&current, &sibling(path, ".key")] {
        let Ok(stored) = fs.read(candidate).map(Zeroizing::new) else {
            continue;
        };
        let key = stored.as_slice().try_into().map(|k: [u8; 32]| Zeroizing::new(k));
        if let Ok(key) = key
            && key_id(&key) == *expected
        {
            return Ok(key);
        }
    }
    Err(KeyFileError::FileKeyMissing(current))
}

fn decrypt(key: &[u8; 32], raw: &[u8], header_len: usize) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let aad_len = header_len + NONCE_LEN;
    if raw.len() < aad_len + 16 {
        return Err(KeyFileError::Malformed("truncated"));
    }
    let (aad, ciphertext) = raw.split_at(aad_len);
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| KeyFileError::Crypto("key length"))?;
    let nonce = Nonce::from_slice(&aad[header_len..]);
    cipher
        .decrypt(nonce, Payload { msg: ciphertext, aad })
        .map(Zeroizing::new)
        .map_err(|_| KeyFileError::Decrypt)
}

/// An exclusive lock on `FILE.lock`, held while a command or the vpcd bridge uses the key, so that
/// two processes never save over each other's changes.
pub struct KeyLock {
    _file: std::fs::File,
}

impl KeyLock {
    /// Takes the lock, or fails at once if another process holds it.
    pub fn acquire(path: &Path) -> Result<Self, KeyFileError> {
        use std::os::unix::fs::OpenOptionsExt;
        let lock_path = sibling(path, ".lock");
        let io = |source| KeyFileError::Io {
            op: "lock",
            path: lock_path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(KeyLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(io(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the key is in use by another keyfleet process (is `keyfleet key vpcd` running?)",
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}
