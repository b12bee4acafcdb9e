//! Mapping sqlx errors onto [`StoreError`].

use keyfleet_domain::StoreError;
use sqlx::error::ErrorKind;
use sqlx::migrate::MigrateError;

/// Which uniqueness rule a `UNIQUE constraint failed: table.column` message names.
/// SQLite reports columns, not constraint names, so the table is keyed on `table.column`.
const UNIQUE_RULES: &[(&str, &str)] = &[
    ("users.username", "username"),
    ("users.user_handle", "user_handle"),
    ("users.id", "user_id"),
    ("user_groups.name_key", "group_name"),
    ("user_groups.id", "group_id"),
    ("api_clients.client_id", "client_id"),
    ("client_secrets.id", "secret_id"),
    ("signing_keys.active", "active_key"),
    ("signing_keys.kid", "kid"),
    ("sessions.id", "session"),
    ("sessions.token_hash", "session"),
    ("taps.id", "tap"),
    ("taps.user_id", "tap"),
    ("credentials.id", "credential_id"),
    ("ceremonies.id", "ceremony"),
];

/// The rule a unique-violation message names, or `unique` for one this table lacks.
fn unique_rule(message: &str) -> &'static str {
    let columns = message.rsplit_once(':').map_or(message, |(_, cols)| cols).trim();
    UNIQUE_RULES
        .iter()
        .find(|(cols, _)| *cols == columns)
        .map_or("unique", |(_, rule)| rule)
}

/// Maps a sqlx error: unique violations become `Conflict`, foreign-key violations
/// `NotFound` (the row referred to is missing), decode problems `Corrupt`, the rest
/// `Unavailable`.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict(unique_rule(db.message())),
            ErrorKind::ForeignKeyViolation => StoreError::NotFound,
            _ => StoreError::Unavailable(db.to_string()),
        },
        sqlx::Error::RowNotFound => StoreError::NotFound,
        e @ (sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }) => StoreError::Corrupt(e.to_string()),
        e => StoreError::Unavailable(e.to_string()),
    }
}

/// Maps a migration error: a failing statement as [`map_err`], a database whose applied
/// migrations disagree with this build's as `Corrupt`.
pub(crate) fn map_migrate_err(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) => map_err(e),
        e => StoreError::Corrupt(format!("migrations: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::unique_rule;

    #[test]
    fn names_the_rule() {
        assert_eq!(unique_rule("UNIQUE constraint failed: users.username"), "username");
        assert_eq!(
            unique_rule("UNIQUE constraint failed: signing_keys.active"),
            "active_key"
        );
        assert_eq!(unique_rule("UNIQUE constraint failed: credentials.id"), "credential_id");
        assert_eq!(unique_rule("UNIQUE constraint failed: a.b, a.c"), "unique");
    }
}
