//! Mapping sqlx errors onto [`StoreError`], the same way for every backend.

use keyfleet_domain::StoreError;
use sqlx::error::ErrorKind;
use sqlx::migrate::MigrateError;

use crate::backend::Backend;
use crate::nul;

/// Maps a sqlx error: unique violations become `Conflict` (the rule the backend names),
/// foreign-key violations `NotFound` (the row referred to is missing), text the database
/// cannot hold `Invalid("nul")`, decode problems `Corrupt`, the rest (connection loss,
/// serialization failures, timeouts) `Unavailable`.
pub fn map_err<B: Backend>(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict(B::unique_rule(db.as_ref())),
            ErrorKind::ForeignKeyViolation => StoreError::NotFound,
            _ if B::is_invalid_text(db.as_ref()) => StoreError::Invalid(nul::NUL),
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
pub fn map_migrate_err<B: Backend>(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) => map_err::<B>(e),
        e => StoreError::Corrupt(format!("migrations: {e}")),
    }
}

/// The rule `rules` gives `name` (a constraint, a `table.column`), or `unique` for one it
/// lacks.
pub fn rule_named(rules: &[(&str, &'static str)], name: Option<&str>) -> &'static str {
    rules
        .iter()
        .find(|(n, _)| Some(*n) == name)
        .map_or("unique", |(_, rule)| rule)
}

#[cfg(test)]
mod tests {
    use super::rule_named;

    #[test]
    fn names_the_rule() {
        let rules = [
            ("users_username_key", "username"),
            ("credentials_pkey", "credential_id"),
        ];
        assert_eq!(rule_named(&rules, Some("users_username_key")), "username");
        assert_eq!(rule_named(&rules, Some("credentials_pkey")), "credential_id");
        assert_eq!(rule_named(&rules, Some("other")), "unique");
        assert_eq!(rule_named(&rules, None), "unique");
    }
}
