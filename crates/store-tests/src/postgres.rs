//! Throwaway PostgreSQL databases.

use std::time::Duration;

use rand_core::{OsRng, RngCore};
use sqlx::{Connection, PgConnection};

/// Environment variable naming the server and a database to connect to for administration.
pub const URL_VAR: &str = "KEYFLEET_TEST_POSTGRES_URL";
/// Used when [`URL_VAR`] is unset.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Every throwaway database's name starts with this.
pub const NAME_PREFIX: &str = "keyfleet_t_";

/// The administrative URL: [`URL_VAR`] or [`DEFAULT_URL`].
pub fn admin_url() -> String {
    std::env::var(URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

/// A database that exists until [`ThrowawayDb::cleanup`] or, failing that, until the value
/// is dropped (on a panicking test too): `Drop` removes it from a helper thread, closing any
/// connections still open to it.
#[derive(Debug)]
pub struct ThrowawayDb {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl ThrowawayDb {
    /// The URL of the throwaway database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name (`keyfleet_t_` and 16 hex digits).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now (connections still open to it are terminated).
    pub async fn cleanup(mut self) {
        self.dropped = true;
        if let Err(e) = drop_database(&self.admin_url, &self.name).await {
            eprintln!("could not drop throwaway database {}: {e}", self.name);
        }
    }
}

impl Drop for ThrowawayDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // The test's runtime may be gone or busy unwinding: use a private one on a thread.
        let worker =
            std::thread::spawn(
                move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => {
                        if let Err(e) = rt.block_on(drop_database(&admin_url, &name)) {
                            eprintln!("could not drop throwaway database {name}: {e}");
                        }
                    }
                    Err(e) => eprintln!("could not drop throwaway database {name}: {e}"),
                },
            );
        let _ = worker.join();
    }
}

async fn admin_connection(admin_url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(admin_url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out after 10 s".to_owned()),
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    // The name is ours (prefix and hex digits): safe to put in the statement, which cannot
    // take an identifier as a parameter.
    if !name.starts_with(NAME_PREFIX) || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("refusing to drop {name:?}"));
    }
    let mut conn = admin_connection(admin_url).await?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    conn.close().await.map_err(|e| e.to_string())
}

/// Creates an empty database with a random name on the server named by
/// `KEYFLEET_TEST_POSTGRES_URL` and returns its URL and the guard that drops it.
///
/// # Panics
/// When the server cannot be reached or refuses `CREATE DATABASE`: the message says which
/// URL was tried and how to point the tests elsewhere. Tests that need PostgreSQL fail
/// rather than skip.
pub async fn throwaway_postgres() -> (String, ThrowawayDb) {
    let admin_url = admin_url();
    let mut conn = admin_connection(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is unreachable at {admin_url}: {e}\n\
             keyfleet's PostgreSQL tests need a running server; set {URL_VAR} to a URL whose role may \
             CREATE DATABASE (these tests never skip)"
        )
    });
    let name = format!("{NAME_PREFIX}{:016x}", OsRng.next_u64());
    sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin_url} failed: {e}"));
    let _ = conn.close().await;
    let url = with_database(&admin_url, &name);
    let db = ThrowawayDb {
        admin_url,
        name,
        url: url.clone(),
        dropped: false,
    };
    (url, db)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
    }
}
