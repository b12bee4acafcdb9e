//! WAL checkpoints in the background, off the writer's path.
//!
//! In WAL mode a commit appends the pages it changed to the `-wal` file; a checkpoint copies
//! them back into the database file, with an fsync of each (`synchronous = NORMAL` syncs at
//! checkpoints, not at commits), so that the WAL can start again from its beginning. SQLite
//! runs one by default in the commit that takes the WAL past 1 000 pages, on the committing
//! connection: here the one writer connection every write of the process queues for. At
//! sign-in rates that was a copy of about 4 MB and two disk flushes every hundred commits,
//! with every writer waiting (docs/performance.md, "Checkpoints off the writer's path").
//!
//! The writer's automatic checkpoint is off (`wal_autocheckpoint = 0`) and a task of the
//! store checkpoints on its own connection instead, every [`EVERY`]:
//!
//! 1. `PASSIVE` copies whatever the WAL holds without waiting for anyone: the writer keeps
//!    committing meanwhile, so this copy, the bulk of the work, costs the writers nothing;
//! 2. then, if the WAL holds more than [`RESTART_FRAMES`] pages, `RESTART` copies the
//!    pages committed since and makes the next commit start the WAL again from its
//!    beginning. It runs in the writers' turn of the process (`WriterTurns`): writes queue
//!    behind it as behind another write and start the moment it ends, instead of sleeping
//!    in SQLite's busy handler (1, 2, 5, 10 ms…). It gives up after [`RESTART_WAIT`] when
//!    a long read still holds old pages, to try again at the next round, so the WAL stays
//!    near its usual size under any load.
//!
//! What the writers wait for is kept short ([`before_restart`]). SQLite flushes the database
//! file only after a checkpoint that copied the whole WAL, which under load is the `RESTART`
//! alone: it then flushed every page the `PASSIVE`s had copied since the last restart (a
//! few thousand, 4–5 ms) and copied what was committed during the last `PASSIVE`, with the
//! writers stopped (7–12 ms in all at 2 000 sign-ins/s, the whole of the p99 at that rate).
//! Before taking the writers' turn the round now flushes the database file itself, copies
//! again, and flushes again, so the `RESTART` copies and flushes only the last milliseconds'
//! pages (3–4 ms; docs/performance.md, "The WAL's restarts, shorter").
//!
//! Durability is unchanged: a commit is in the WAL before it returns (it survives `kill -9`),
//! and the checkpoints flush to disk at least as often as before under load. Another
//! process writing the same file (`keyfleet admin`) checkpoints the same way while it runs,
//! and SQLite checkpoints when a process closes the database's last connection.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use keyfleet_store_sql::WriterTurns;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection as _, Row as _};

use crate::SqliteBackend;

/// How often the task checkpoints.
pub const EVERY: Duration = Duration::from_millis(100);

/// WAL size, in pages, above which a round ends with a `RESTART` (SQLite's own automatic
/// checkpoint runs at 1 000). Each `RESTART` stops the writers for 5–10 ms (the frames since
/// the `PASSIVE` and two flushes): at 2 000 sign-ins/s the WAL passes 1 000 pages in every
/// round, and ten stops a second put them in the p99; at 8 000 pages (32 MiB) they come
/// three times a second and p99 drops by about 1 ms (docs/performance.md, "The WAL's
/// restarts"). Between them, a `PASSIVE` that copies the whole WAL lets the next commit
/// start it again at no cost.
pub const RESTART_FRAMES: i64 = 8_000;

/// How long a `RESTART` waits for the writer and for readers of old pages before it gives
/// up for this round (its connection's busy timeout).
pub const RESTART_WAIT: Duration = Duration::from_millis(50);

/// What one `PRAGMA wal_checkpoint` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// It could not finish (a writer or readers held it off past the busy timeout).
    pub busy: bool,
    /// Pages in the WAL.
    pub wal_pages: i64,
    /// Pages of it copied into the database file.
    pub copied: i64,
}

/// Runs `PRAGMA wal_checkpoint(mode)` on `conn`.
pub async fn checkpoint(conn: &mut SqliteConnection, mode: &str) -> Result<Checkpoint, sqlx::Error> {
    let row = sqlx::query(&format!("PRAGMA wal_checkpoint({mode})"))
        .fetch_one(&mut *conn)
        .await?;
    Ok(Checkpoint {
        busy: row.try_get::<i64, _>(0)? != 0,
        wal_pages: row.try_get(1)?,
        copied: row.try_get(2)?,
    })
}

/// Why a round failed.
#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    /// The checkpoint statement failed.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] sqlx::Error),
    /// The writers' turn did not come (the store is closing, or a write held it too long).
    #[error("the writers' turn: {0}")]
    Turn(#[from] keyfleet_domain::StoreError),
    /// Flushing the database file failed.
    #[error("flushing the database file: {0}")]
    Flush(#[from] std::io::Error),
}

/// The database file, open for flushing it (`fdatasync`) outside SQLite.
///
/// One descriptor per file for the life of the process, never closed: closing any descriptor
/// of a file drops every POSIX lock the process holds on it, SQLite's included (a second
/// process could then take the database for its own and, as the last to close it, delete the
/// WAL this one still writes). SQLite keeps its own descriptors open for the same reason.
#[derive(Debug, Clone)]
pub struct DatabaseFile(Arc<File>);

impl DatabaseFile {
    /// The descriptor for the database file at `path`, opened (read-only) on first use of
    /// that file. Files are told apart by device and inode, not by path: a file deleted and
    /// created again at the same path is another file (the old one's descriptor stays open,
    /// and keeps its inode from being reused, as a connection may still hold it).
    ///
    /// Errors: the file cannot be found or opened.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt as _;
        /// Device and inode.
        type FileId = (u64, u64);
        static OPEN: OnceLock<Mutex<HashMap<FileId, Arc<File>>>> = OnceLock::new();
        let meta = std::fs::metadata(path)?;
        let mut open = OPEN
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let file = match open.entry((meta.dev(), meta.ino())) {
            Entry::Occupied(e) => Arc::clone(e.get()),
            Entry::Vacant(e) => Arc::clone(e.insert(Arc::new(File::open(path)?))),
        };
        Ok(Self(file))
    }

    /// Flushes what the process wrote to the file to the disk, off the async threads.
    async fn flush(&self) -> std::io::Result<()> {
        let file = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(std::io::Error::other)?
    }
}

/// One round: `PASSIVE`, then, when the WAL has grown past [`RESTART_FRAMES`],
/// [`before_restart`] and `RESTART` in the writers' turn (the process's writes wait for it in
/// order, as for another write, instead of sleeping in SQLite's busy handler).
pub async fn round(
    conn: &mut SqliteConnection,
    file: &DatabaseFile,
    turns: &WriterTurns<SqliteBackend>,
) -> Result<Checkpoint, RoundError> {
    let passive = checkpoint(conn, "PASSIVE").await?;
    if passive.wal_pages <= RESTART_FRAMES {
        return Ok(passive);
    }
    before_restart(conn, file).await?;
    let _turn = turns.take().await?;
    Ok(checkpoint(conn, "RESTART").await?)
}

/// What a `RESTART` would otherwise do with the writers stopped, done while they run: flush
/// the pages the `PASSIVE`s copied into the database file (SQLite flushes the file only
/// after a checkpoint that copied the whole WAL), copy what was committed meanwhile, and
/// flush that. Extra flushes: durability is what it was, and the `RESTART` still flushes the
/// WAL and the file before the WAL starts again.
pub async fn before_restart(conn: &mut SqliteConnection, file: &DatabaseFile) -> Result<(), RoundError> {
    file.flush().await?;
    checkpoint(conn, "PASSIVE").await?;
    file.flush().await?;
    Ok(())
}

/// Opens the checkpoints' own connection to the database of `options`, and the database file
/// for flushing it.
pub async fn connect(options: &SqliteConnectOptions) -> Result<(SqliteConnection, DatabaseFile), sqlx::Error> {
    let conn = SqliteConnection::connect_with(&options.clone().busy_timeout(RESTART_WAIT)).await?;
    let file = DatabaseFile::open(options.get_filename()).map_err(sqlx::Error::Io)?;
    Ok((conn, file))
}

/// The task: a round every [`EVERY`] until the store stops it. A failed round is logged
/// (once, then once a minute while they keep failing) and tried again.
pub async fn run((mut conn, file): (SqliteConnection, DatabaseFile), turns: WriterTurns<SqliteBackend>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Set while rounds fail: when the failure was last logged.
    let mut last_logged: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        match round(&mut conn, &file, &turns).await {
            Ok(_) => {
                if last_logged.take().is_some() {
                    tracing::info!("SQLite checkpoints work again");
                }
            }
            Err(e) => {
                let now = tokio::time::Instant::now();
                if last_logged.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60)) {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; the WAL grows until one succeeds");
                    last_logged = Some(now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use keyfleet_domain::Timestamp;
    use keyfleet_domain::store::RateLimitStore as _;

    use super::*;
    use crate::SqliteStore;

    /// A WAL frame: a 24-byte header and a 4 KiB page.
    const FRAME: u64 = 24 + 4096;

    /// One descriptor per database file, shared by every store of the process on it, and a new
    /// one when the file at the path is another file (deleted and created again); flushing it
    /// works on the read-only descriptor.
    #[tokio::test]
    async fn the_database_file_is_opened_once_per_file() {
        let dir = std::env::temp_dir().join(format!("keyfleet-dbfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("file.db");
        std::fs::write(&path, b"first").unwrap();
        let a = DatabaseFile::open(&path).unwrap();
        // The same file by another spelling of its path.
        let b = DatabaseFile::open(&dir.join(".").join("file.db")).unwrap();
        assert!(
            Arc::ptr_eq(&a.0, &b.0),
            "a second descriptor was opened for the same file"
        );
        a.flush().await.unwrap();

        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"second").unwrap();
        let c = DatabaseFile::open(&path).unwrap();
        assert!(
            !Arc::ptr_eq(&a.0, &c.0),
            "the descriptor of the deleted file was reused"
        );
        let mut text = String::new();
        std::io::Read::read_to_string(&mut &*c.0, &mut text).unwrap();
        assert_eq!(text, "second");
        c.flush().await.unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert!(DatabaseFile::open(&path).is_err(), "a missing file was opened");
    }

    /// The writer never checkpoints, yet the WAL file stays near [`RESTART_FRAMES`] pages under
    /// a steady stream of commits: the store's task copies the WAL back and restarts it. (The
    /// file keeps the largest size it reached, so its size says how far the WAL ever grew.)
    /// Without the task, every one of the 15 000 commits below would stay in the WAL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_and_restarted_off_the_writer() {
        let dir = std::env::temp_dir().join(format!("keyfleet-checkpoints-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wal.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        // A steady stream of 8 000 commits a second (40 every 5 ms), about 1 600 pages a
        // round: past the bound in two rounds without the task.
        const COMMITS: i64 = 15_000;
        let mut pace = tokio::time::interval(Duration::from_millis(5));
        for i in 0..COMMITS {
            if i % 40 == 0 {
                pace.tick().await;
            }
            // One commit each, every one to a new key (at least one new page).
            store
                .hit(&format!("test:{i}"), Timestamp::from_millis(1_000_000), 60_000)
                .await
                .unwrap();
        }
        let wal = std::fs::metadata(dir.join("wal.db-wal")).unwrap().len();
        store.close().await;
        std::fs::remove_dir_all(&dir).ok();
        // What a round's 100 ms of commits may add past the bound (about 1 800 pages; 9 100
        // in all measured, 33 000 without the `RESTART`), with room for a late round.
        const SLACK: u64 = 4_000;
        const { assert!(RESTART_FRAMES as u64 + SLACK < COMMITS as u64) };
        assert!(
            wal < (RESTART_FRAMES as u64 + SLACK) * FRAME,
            "the WAL grew to {} pages: it was not checkpointed and restarted while the commits ran",
            wal / FRAME
        );
    }
}
