//! Mapping sqlx errors onto [`StoreError`].

use keyfleet_domain::StoreError;
use sqlx::error::ErrorKind;
use sqlx::migrate::MigrateError;

/// SQLSTATE `character_not_in_repertoire`: text holding a NUL character.
const NUL_IN_TEXT: &str = "22021";
/// SQLSTATE `untranslatable_character` (a `\u0000` escape in JSON text, for one).
const UNTRANSLATABLE: &str = "22P05";

/// Which uniqueness rule each named constraint or index enforces (names from the migrations).
const UNIQUE_RULES: &[(&str, &str)] = &[
    ("users_username_key", "username"),
    ("users_user_handle_key", "user_handle"),
    ("users_pkey", "user_id"),
    ("user_groups_name_key_key", "group_name"),
    ("user_groups_pkey", "group_id"),
    ("api_clients_pkey", "client_id"),
    ("client_secrets_pkey", "secret_id"),
    ("signing_keys_one_active", "active_key"),
    ("signing_keys_pkey", "kid"),
    ("sessions_pkey", "session"),
    ("sessions_token_hash_key", "session"),
    ("taps_pkey", "tap"),
    ("taps_user_id_key", "tap"),
    ("credentials_pkey", "credential_id"),
    ("ceremonies_pkey", "ceremony"),
];

/// The rule a constraint enforces, or `unique` for one this table lacks.
fn unique_rule(constraint: Option<&str>) -> &'static str {
    UNIQUE_RULES
        .iter()
        .find(|(name, _)| Some(*name) == constraint)
        .map_or("unique", |(_, rule)| rule)
}

/// Maps a sqlx error: unique violations become `Conflict`, foreign-key violations
/// `NotFound` (the row referred to is missing), decode problems `Corrupt`, the rest
/// (connection loss, serialization failures, timeouts) `Unavailable`.
pub fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict(unique_rule(db.constraint())),
            ErrorKind::ForeignKeyViolation => StoreError::NotFound,
            // A NUL in text (the stores check first; this is the backstop).
            _ if matches!(db.code().as_deref(), Some(NUL_IN_TEXT | UNTRANSLATABLE)) => {
                StoreError::Invalid(keyfleet_store_sql::nul::NUL)
            }
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
        assert_eq!(unique_rule(Some("users_username_key")), "username");
        assert_eq!(unique_rule(Some("signing_keys_one_active")), "active_key");
        assert_eq!(unique_rule(Some("credentials_pkey")), "credential_id");
        assert_eq!(unique_rule(None), "unique");
    }
}
