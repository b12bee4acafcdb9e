//! Migrations embedded in the binary, read exactly as sqlx reads a `migrations/` directory,
//! without sqlx's `migrate!` macro.
//!
//! The macro is the only compile-time macro keyfleet used from sqlx, and it costs a second
//! build of the SQL drivers for the compiler (sqlx-macros builds sqlx-sqlite, SQLite's C
//! source, sqlx-postgres and sqlx-core for the host): about a minute of CPU in every cold
//! debug and release build. Here a store lists its files with [`embed_migrations!`], which
//! includes them with `include_str!`, and [`embedded`] gives them to sqlx's public
//! [`Migrator::new`] through a [`MigrationSource`]. Versions, descriptions, types,
//! `-- no-transaction` and checksums are derived as sqlx's directory reader derives them, so
//! a database migrated by an earlier build (with the macro) sees the same migrations;
//! [`assert_matches_directory`] is the test each store runs against sqlx's own reader of its
//! directory (which also catches a file added to the directory but not to the list).

use std::borrow::Cow;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// The migrator of a store's `migrations/` directory, made on first use from the files
/// listed (each included with `include_str!`):
/// `static MIGRATOR: LazyLock<Migrator> = embed_migrations!["0001_identity.sql", …];` in the
/// store crate, whose tests call [`assert_matches_directory`].
#[macro_export]
macro_rules! embed_migrations {
    ($($file:literal),* $(,)?) => {
        ::std::sync::LazyLock::new(|| {
            $crate::migrations::embedded(&[$(
                ($file, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/", $file)))
            ),*])
        })
    };
}

/// The migrator of a keyfleet store's `migrations/`. The SQLite and PostgreSQL stores keep
/// their directories in step, file name for file name (each in its own SQL), so this one list
/// serves both; each store's test checks it against its own directory with
/// [`assert_matches_directory`]. A new migration is one line here and one file in each store.
#[macro_export]
macro_rules! store_migrations {
    () => {
        $crate::embed_migrations![
            "0001_identity.sql",
            "0002_credentials.sql",
            "0003_session_ends.sql",
            "0004_jobs.sql",
            "0005_reports.sql",
            "0006_spent_ceremonies.sql",
            "0007_metadata.sql",
            "0008_policies.sql",
            "0009_authentication_strengths.sql",
            "0010_metadata_use.sql",
            "0011_scim.sql",
            "0012_oidc.sql",
            "0013_group_rules.sql",
            "0014_onbehalf_options.sql",
            "0015_oidc_protocol.sql",
            "0016_oidc_consent.sql",
            "0017_mail_outbox.sql",
            "0018_connector.sql",
            "0019_master_keys.sql",
        ]
    };
}

/// Embedded migration files, as `(file name, SQL)`.
pub type Files = &'static [(&'static str, &'static str)];

/// Embedded migrations as a sqlx source.
#[derive(Debug, Clone, Copy)]
struct Embedded(Files);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(std::future::ready(resolve(self.0)))
    }
}

/// Reads the files as `sqlx::migrate::resolve_blocking` reads a directory: the version
/// before the first `_`, the rest without its suffix and with `_` as spaces as the
/// description, the migration type from the suffix, `-- no-transaction` at the very start
/// to run outside a transaction; sorted by version.
fn resolve(files: Files) -> Result<Vec<Migration>, BoxDynError> {
    let mut out = Vec::with_capacity(files.len());
    for (name, sql) in files {
        let Some((version, rest)) = name.split_once('_').filter(|(_, rest)| rest.ends_with(".sql")) else {
            return Err(format!("migration file {name:?} is not named VERSION_DESCRIPTION.sql").into());
        };
        let version: i64 = version
            .parse()
            .map_err(|_| format!("migration file {name:?}: the version is not an integer"))?;
        let kind = MigrationType::from_filename(rest);
        let description = rest.trim_end_matches(kind.suffix()).replace('_', " ");
        let no_tx = sql.starts_with("-- no-transaction");
        out.push(Migration::new(
            version,
            Cow::Owned(description),
            kind,
            Cow::Borrowed(sql),
            no_tx,
        ));
    }
    out.sort_by_key(|m| m.version);
    Ok(out)
}

/// A migrator over embedded files, as `sqlx::migrate!()` would make for the directory they
/// came from.
///
/// # Panics
/// If a file is not named `VERSION_DESCRIPTION.sql` (a defect of the list, which every
/// store's tests catch on their first database).
#[must_use]
pub fn embedded(files: Files) -> Migrator {
    // `Migrator::new` is async only because reading a directory is; resolving embedded
    // files does not wait, so its future is ready on the first poll.
    let mut future = std::pin::pin!(Migrator::new(Embedded(files)));
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(migrator)) => migrator,
        Poll::Ready(Err(e)) => panic!("embedded migrations: {e}"),
        Poll::Pending => unreachable!("resolving embedded migrations does not wait"),
    }
}

/// Panics unless `migrator` holds exactly the migrations sqlx's own reader finds in the
/// `migrations/` directory of `manifest_dir` (versions, descriptions, types, `no_tx` flags
/// and checksums, in order), saying what differs. Each store's test of its list.
pub async fn assert_matches_directory(migrator: &Migrator, manifest_dir: &str) {
    let dir = Path::new(manifest_dir).join("migrations");
    let on_disk = Migrator::new(dir.as_path())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let ours: Vec<_> = migrator.iter().map(summary).collect();
    let theirs: Vec<_> = on_disk.iter().map(summary).collect();
    assert!(
        ours == theirs,
        "the embedded list differs from the directory\nembedded: {ours:#?}\n{}: {theirs:#?}",
        dir.display()
    );
}

fn summary(m: &Migration) -> (i64, String, String, bool, Vec<u8>) {
    (
        m.version,
        m.description.to_string(),
        format!("{:?}", m.migration_type),
        m.no_tx,
        m.checksum.to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_as_sqlx_does() {
        static FILES: Files = &[
            ("0002_add_a_column.sql", "-- no-transaction\nALTER TABLE t ADD c INT;"),
            ("0001_first.sql", "CREATE TABLE t (id INT);"),
        ];
        let m = embedded(FILES);
        let got: Vec<_> = m.iter().map(summary).collect();
        assert_eq!(got[0].0, 1);
        assert_eq!(got[0].1, "first");
        assert!(!got[0].3);
        assert_eq!(got[1].0, 2);
        assert_eq!(got[1].1, "add a column");
        assert!(got[1].3, "-- no-transaction at the start runs outside a transaction");
        assert_eq!(got[1].2, "Simple");
    }

    #[test]
    fn a_file_named_otherwise_is_refused() {
        static FILES: Files = &[("first.sql", "SELECT 1;")];
        assert!(resolve(FILES).is_err());
        static NOT_SQL: Files = &[("0001_first.txt", "SELECT 1;")];
        assert!(resolve(NOT_SQL).is_err());
    }
}
