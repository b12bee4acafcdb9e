//! Groups: the targets of policies (a later issue) and a way to organise users.

use thiserror::Error;

use crate::user::has_forbidden_formatting;
use crate::{GroupId, Timestamp};

/// A group name that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GroupNameError {
    /// Empty, longer than 64 characters, or holding controls or bidi overrides.
    #[error("group name must be 1 to 64 printable characters")]
    Invalid,
}

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Identifier.
    pub id: GroupId,
    /// Unique name (compared case-insensitively through `name_key`).
    pub name: String,
    /// Lower-case form of the name that the uniqueness constraint sees.
    pub name_key: String,
    /// Free text.
    pub description: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// Validates a group name and returns it with its case-insensitive key.
pub fn validate_name(name: &str) -> Result<(String, String), GroupNameError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || has_forbidden_formatting(name) {
        return Err(GroupNameError::Invalid);
    }
    Ok((name.to_owned(), name.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            validate_name(" Field Ops ").unwrap(),
            ("Field Ops".into(), "field ops".into())
        );
        assert!(validate_name("").is_err());
        assert!(validate_name("a\u{202E}").is_err());
        assert!(validate_name(&"g".repeat(65)).is_err());
    }
}
