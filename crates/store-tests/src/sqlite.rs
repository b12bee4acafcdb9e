//! Temporary SQLite database files.

use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};

/// A fresh directory under the system temporary directory holding one database file; the
/// directory and everything in it (the `-wal` and `-shm` files too) go when this is dropped.
#[derive(Debug)]
pub struct TempSqlite {
    dir: PathBuf,
}

impl TempSqlite {
    /// Creates the directory (not the database file: the store creates that).
    ///
    /// # Panics
    /// When the directory cannot be created.
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("keyfleet-store-{:016x}", OsRng.next_u64()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        Self { dir }
    }

    /// The database file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join("keyfleet.db")
    }

    /// The `sqlite://` URL of the database file.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }

    /// The directory holding the database.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Default for TempSqlite {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
