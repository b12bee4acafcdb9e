//! API clients: automation that calls the admin API with OAuth 2.0 client credentials.

use std::fmt;

use thiserror::Error;

use crate::ids::SecretId;
use crate::user::has_forbidden_formatting;
use crate::{Timestamp, secret};

/// A client may hold at most this many secrets at once: the current one and the one being
/// phased out.
pub const MAX_SECRETS: usize = 2;

/// A permission an access token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read users and their keys.
    UsersRead,
    /// Create, change and delete users; issue TAPs; remove keys.
    UsersWrite,
    /// The on-behalf provisioning routes.
    Provisioning,
    /// The pre-registration connector.
    Shipments,
    /// Read the audit log.
    AuditRead,
    /// Directory sync (SCIM 2.0): provision users and groups.
    Scim,
}

impl Scope {
    /// Every scope, in a stable order.
    pub const ALL: [Scope; 6] = [
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::Provisioning,
        Scope::Shipments,
        Scope::AuditRead,
        Scope::Scim,
    ];

    /// The OAuth scope string.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::Provisioning => "provisioning",
            Scope::Shipments => "shipments",
            Scope::AuditRead => "audit:read",
            Scope::Scim => "scim",
        }
    }

    /// Parses an OAuth scope string.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|sc| sc.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a space-separated scope list (RFC 6749 §3.3). Unknown or repeated names are errors.
pub fn parse_scopes<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<Scope>, ClientError> {
    let mut out = Vec::new();
    for item in items {
        let scope = Scope::parse(item).ok_or_else(|| ClientError::UnknownScope(item.chars().take(64).collect()))?;
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    out.sort();
    Ok(out)
}

/// A client request that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientError {
    /// A scope name keyfleet does not know.
    #[error("unknown scope {0:?}")]
    UnknownScope(String),
    /// The name is empty, too long or holds control characters.
    #[error("client name must be 1 to 128 printable characters")]
    Name,
    /// No scope was given.
    #[error("a client needs at least one scope")]
    NoScope,
    /// The client already holds the maximum number of secrets.
    #[error("a client holds at most {MAX_SECRETS} secrets; revoke one first")]
    TooManySecrets,
}

/// Validates a client name.
pub fn validate_name(name: &str) -> Result<String, ClientError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 || has_forbidden_formatting(name) {
        return Err(ClientError::Name);
    }
    Ok(name.to_owned())
}

/// An API client as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// Public identifier (`client_id`).
    pub client_id: String,
    /// Name shown to administrators.
    pub name: String,
    /// What its tokens may carry.
    pub scopes: Vec<Scope>,
    /// Disabled clients get no tokens and their tokens stop working.
    pub enabled: bool,
    /// When it was created.
    pub created_at: Timestamp,
}

/// One secret of a client, as stored: only a slow hash (a PHC string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecret {
    /// Identifier (shown in listings, never the secret).
    pub id: SecretId,
    /// Whose secret it is.
    pub client_id: String,
    /// PHC-format slow hash of the secret.
    pub secret_hash: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working, if it is being phased out.
    pub expires_at: Option<Timestamp>,
}

/// A fresh client id (`kfc_` and 16 random bytes).
pub fn new_client_id(rng: &mut dyn rand_core::CryptoRngCore) -> String {
    format!("kfc_{}", secret::random_token(16, rng))
}

/// A fresh client secret (`kfs_` and 32 random bytes). Shown once.
pub fn new_client_secret(rng: &mut dyn rand_core::CryptoRngCore) -> String {
    format!("kfs_{}", secret::random_token(32, rng))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_strictly() {
        assert_eq!(
            parse_scopes(["users:write", "users:read", "users:write"]).unwrap(),
            vec![Scope::UsersRead, Scope::UsersWrite]
        );
        assert_eq!(parse_scopes(["admin"]), Err(ClientError::UnknownScope("admin".into())));
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
    }
}
