//! Users: the people keys are issued to.

use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use crate::{Timestamp, UserId};

/// Why a user attribute was refused. Each variant names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UserFieldError {
    /// The username is empty or longer than 64 characters after canonicalisation.
    #[error("username must be 1 to 64 characters long")]
    UsernameLength,
    /// The username holds a character outside `a-z 0-9 . _ - @ +`.
    #[error("username may only contain letters a-z, digits and . _ - @ +")]
    UsernameCharacters,
    /// The display name is empty or longer than 128 characters.
    #[error("displayName must be 1 to 128 characters long")]
    DisplayNameLength,
    /// A name or address holds a control or bidirectional-override character.
    #[error("{0} contains control or bidirectional formatting characters")]
    ControlCharacters(&'static str),
    /// An email address is not of the form `local@domain.tld`.
    #[error("{0} is not a valid email address")]
    Email(&'static str),
    /// The shipping address is longer than 512 characters.
    #[error("shippingAddress must be at most 512 characters long")]
    AddressLength,
}

/// A canonical username: NFKC-normalised, trimmed, lower-case ASCII.
///
/// Two usernames that differ only in letter case, width or surrounding space are the same
/// username, so lookups and the uniqueness constraint see one value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Canonicalises and validates `raw`.
    pub fn parse(raw: &str) -> Result<Self, UserFieldError> {
        let canonical: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if canonical.is_empty() || canonical.chars().count() > 64 {
            return Err(UserFieldError::UsernameLength);
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_@+".contains(c);
        if !canonical.chars().all(allowed) {
            return Err(UserFieldError::UsernameCharacters);
        }
        Ok(Self(canonical))
    }

    /// Wraps a value read back from the store, which only ever holds canonical names.
    pub fn from_canonical(s: String) -> Self {
        Self(s)
    }

    /// The canonical form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that must never appear in a name shown to people: C0/C1 controls and the
/// Unicode bidirectional embeddings, overrides and isolates (the "Trojan source" set).
pub fn has_forbidden_formatting(s: &str) -> bool {
    s.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
    })
}

/// Validates a display name: 1–128 characters, no controls or bidi overrides.
pub fn validate_display_name(s: &str) -> Result<String, UserFieldError> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 128 {
        return Err(UserFieldError::DisplayNameLength);
    }
    if has_forbidden_formatting(s) {
        return Err(UserFieldError::ControlCharacters("displayName"));
    }
    Ok(s.to_owned())
}

/// Validates an email address (`field` names it in the error): one `@`, a dotted domain,
/// at most 254 characters, no spaces or controls. The domain is lower-cased.
pub fn validate_email(s: &str, field: &'static str) -> Result<String, UserFieldError> {
    let s = s.trim();
    let bad = || UserFieldError::Email(field);
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
        return Err(bad());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// Validates a free-text postal address: at most 512 characters; newlines are allowed,
/// other controls and bidi overrides are not.
pub fn validate_address(s: &str) -> Result<String, UserFieldError> {
    if s.chars().count() > 512 {
        return Err(UserFieldError::AddressLength);
    }
    if s.split('\n')
        .any(|line| has_forbidden_formatting(line.trim_end_matches('\r')))
    {
        return Err(UserFieldError::ControlCharacters("shippingAddress"));
    }
    Ok(s.trim().to_owned())
}

/// What a user may do in keyfleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Manages everything: users, groups, clients, policies.
    Admin,
    /// Finds users, removes or resets keys, issues TAPs; never touches administrators.
    Helpdesk,
    /// Manages their own keys only.
    Worker,
}

impl Role {
    /// The stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Helpdesk => "helpdesk",
            Role::Worker => "worker",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "helpdesk" => Some(Role::Helpdesk),
            "worker" => Some(Role::Worker),
            _ => None,
        }
    }
}

/// Length of the WebAuthn user handle. The spec allows up to 64 bytes; 32 random bytes make
/// it unguessable and unrelated to any personal data (WebAuthn L3 §14.6.1).
pub const USER_HANDLE_LEN: usize = 32;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Immutable identifier.
    pub id: UserId,
    /// Canonical, unique username.
    pub username: Username,
    /// Name shown to people.
    pub display_name: String,
    /// Where keyfleet writes to the user.
    pub email: String,
    /// Where PIN letters for a pre-registered key go (seed `002_…`).
    pub manager_email: Option<String>,
    /// Where a key is shipped.
    pub shipping_address: Option<String>,
    /// Disabled users cannot sign in and their sessions stop working.
    pub enabled: bool,
    /// What the user may do.
    pub role: Role,
    /// The random WebAuthn user handle (`user.id` in ceremonies).
    pub user_handle: Vec<u8>,
    /// When the user was created.
    pub created_at: Timestamp,
    /// When the user was last changed.
    pub updated_at: Timestamp,
}

/// The validated attributes of a user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Canonical username.
    pub username: Username,
    /// Validated display name.
    pub display_name: String,
    /// Validated email.
    pub email: String,
    /// Validated manager email.
    pub manager_email: Option<String>,
    /// Validated shipping address.
    pub shipping_address: Option<String>,
    /// Role.
    pub role: Role,
}

impl NewUser {
    /// Builds the stored user with a fresh id and user handle.
    pub fn into_user(self, now: Timestamp, rng: &mut dyn rand_core::CryptoRngCore) -> User {
        let mut handle = vec![0u8; USER_HANDLE_LEN];
        rng.fill_bytes(&mut handle);
        User {
            id: UserId::new_random(rng),
            username: self.username,
            display_name: self.display_name,
            email: self.email,
            manager_email: self.manager_email,
            shipping_address: self.shipping_address,
            enabled: true,
            role: self.role,
            user_handle: handle,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A filter and page over the user list, ordered by username.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Case-insensitive substring of username, display name or email.
    pub search: Option<String>,
    /// Only users whose canonical username sorts after this one (keyset paging).
    pub after: Option<String>,
    /// Page size (the store caps nothing; callers bound it).
    pub limit: u32,
}

#[cfg(test)]
mod tests;
