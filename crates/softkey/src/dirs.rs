//! Where `keyfleet key` keeps what is not a key file: the factory CAs and the file keys.
//!
//! Both hold private keys, so they live in one documented place, the user's data directory,
//! and never in the working directory:
//!
//! | what | flag | environment | default |
//! |---|---|---|---|
//! | factory CAs ([`crate::factory`]) | `--factory-dir` | `KEYFLEET_FACTORY_DIR` | `$XDG_DATA_HOME/keyfleet/factory` |
//! | file keys ([`crate::keyfile`]) | `--file-keys-dir` | `KEYFLEET_FILE_KEYS_DIR` | `$XDG_DATA_HOME/keyfleet/file-keys` |
//!
//! `$XDG_DATA_HOME` is `~/.local/share` when unset (the XDG Base Directory rules: a relative
//! value is ignored). Without a usable `XDG_DATA_HOME` or `HOME`, the flag or variable must be
//! given. The directories are created on first use with mode 0700.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable naming the factory directory.
pub const FACTORY_DIR_ENV: &str = "KEYFLEET_FACTORY_DIR";
/// The environment variable naming the file-keys directory.
pub const FILE_KEYS_DIR_ENV: &str = "KEYFLEET_FILE_KEYS_DIR";

/// The directory flags of `keyfleet key` (accepted after any of its subcommands).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyDirs {
    /// Directory of the factory CAs (private keys) [default: $XDG_DATA_HOME/keyfleet/factory,
    /// i.e. ~/.local/share/keyfleet/factory].
    #[arg(long, env = FACTORY_DIR_ENV, global = true, value_name = "DIR")]
    pub factory_dir: Option<PathBuf>,
    /// Directory of the file keys of key files made without KEYFLEET_KEY_PASSPHRASE
    /// [default: $XDG_DATA_HOME/keyfleet/file-keys, i.e. ~/.local/share/keyfleet/file-keys].
    #[arg(long, env = FILE_KEYS_DIR_ENV, global = true, value_name = "DIR")]
    pub file_keys_dir: Option<PathBuf>,
}

/// No directory could be chosen.
#[derive(Debug, thiserror::Error)]
#[error(
    "no place for the {what}: neither XDG_DATA_HOME nor HOME is an absolute path; give --{flag} \
     or set {env}"
)]
pub struct NoDataDir {
    what: &'static str,
    flag: &'static str,
    env: &'static str,
}

impl KeyDirs {
    /// The factory directory.
    pub fn factory(&self) -> Result<PathBuf, NoDataDir> {
        resolve(self.factory_dir.as_deref(), "factory", || NoDataDir {
            what: "factory CAs",
            flag: "factory-dir",
            env: FACTORY_DIR_ENV,
        })
    }

    /// The file-keys directory.
    pub fn file_keys(&self) -> Result<PathBuf, NoDataDir> {
        resolve(self.file_keys_dir.as_deref(), "file-keys", || NoDataDir {
            what: "file keys",
            flag: "file-keys-dir",
            env: FILE_KEYS_DIR_ENV,
        })
    }
}

fn resolve(given: Option<&Path>, name: &str, missing: impl FnOnce() -> NoDataDir) -> Result<PathBuf, NoDataDir> {
    match given.filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => Ok(dir.to_path_buf()),
        None => data_home(|k| std::env::var_os(k))
            .map(|home| home.join("keyfleet").join(name))
            .ok_or_else(missing),
    }
}

/// `$XDG_DATA_HOME`, else `$HOME/.local/share`; only absolute paths count.
pub fn data_home(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |k: &str| var(k).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_DATA_HOME").or_else(|| absolute("HOME").map(|home| home.join(".local/share")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(pairs: &[(&str, &str)]) -> Option<PathBuf> {
        data_home(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| OsString::from(v)))
    }

    #[test]
    fn the_data_home_follows_the_xdg_rules() {
        assert_eq!(
            home(&[("XDG_DATA_HOME", "/x/data"), ("HOME", "/home/a")]),
            Some(PathBuf::from("/x/data"))
        );
        assert_eq!(
            home(&[("HOME", "/home/a")]),
            Some(PathBuf::from("/home/a/.local/share"))
        );
        // A relative XDG_DATA_HOME is ignored; a relative HOME is no data directory at all:
        // nothing is ever put under the working directory by default.
        assert_eq!(
            home(&[("XDG_DATA_HOME", "data"), ("HOME", "/home/a")]),
            Some(PathBuf::from("/home/a/.local/share"))
        );
        assert_eq!(home(&[("HOME", "home")]), None);
        assert_eq!(home(&[("XDG_DATA_HOME", ""), ("HOME", "")]), None);
    }
}
