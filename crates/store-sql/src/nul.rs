//! Text holding a NUL character, the same way in both databases.
//!
//! PostgreSQL cannot hold a NUL in text and fails the whole statement; SQLite stores it. So
//! that both stores answer alike (and PostgreSQL's refusal never looks like an outage), text
//! is checked before it reaches the database, as each statement is bound
//! ([`crate::exec::Arg`] says what the text is for):
//!
//! - a *lookup* or *filter* whose text holds a NUL matches nothing, since no stored text can
//!   hold one: the method answers as for an unknown key (`None`, an empty list, `NotFound`)
//!   without asking the database;
//! - a *write* whose text holds a NUL is refused with `StoreError::Invalid("nul")` and writes
//!   nothing (its transaction, audit event included, is rolled back).
//!
//! Should a NUL reach PostgreSQL anyway, its error (SQLSTATE 22021 or 22P05) is mapped to
//! `Invalid("nul")` as well.

/// The reason [`StoreError::Invalid`](keyfleet_domain::StoreError::Invalid) carries for text
/// holding a NUL.
pub const NUL: &str = "nul";

/// Whether `text` holds a NUL character.
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::has_nul;

    #[test]
    fn nul_anywhere_counts() {
        assert!(has_nul("\0"));
        assert!(has_nul("a\0b"));
        assert!(!has_nul("a\u{FFFD}b"));
        assert!(!has_nul(""));
    }
}
