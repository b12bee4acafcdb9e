//! Consent to third-party single sign-on applications: what a user agreed that an
//! application may learn about them (its scopes), remembered per user and application until
//! the user revokes it or the application is deleted.

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
use crate::store::StoreResult;
use crate::{Timestamp, UserId};

/// A user's consent to an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The user.
    pub user_id: UserId,
    /// The application.
    pub client_id: String,
    /// The scopes agreed to (a subset of [`crate::oidc::SCOPES`]).
    pub scopes: Vec<String>,
    /// When it was (last) given.
    pub granted_at: Timestamp,
}

impl Consent {
    /// Whether it covers every scope of `asked` (space-separated, as a grant's scope).
    pub fn covers(&self, asked: &str) -> bool {
        asked
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| self.scopes.iter().any(|c| c == s))
    }
}

/// Stored consents.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// A user's consent to an application.
    async fn get_consent(&self, user: UserId, client_id: &str) -> StoreResult<Option<Consent>>;
    /// Saves (inserts or replaces) a consent with its audit event. `NotFound` when the user or
    /// application is gone.
    async fn save_consent(&self, consent: &Consent, audit: &NewAuditEvent) -> StoreResult<()>;
    /// A user's consents, by application.
    async fn list_consents(&self, user: UserId) -> StoreResult<Vec<Consent>>;
    /// Deletes a user's consent to an application and, in the same transaction, revokes the
    /// user's unrevoked grants to it at `now`; `NotFound` when there was no consent.
    async fn delete_consent(
        &self,
        user: UserId,
        client_id: &str,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_covers_only_the_scopes_agreed_to() {
        let c = Consent {
            user_id: UserId::from_uuid(uuid::Uuid::nil()),
            client_id: "kfa_x".into(),
            scopes: vec!["openid".into(), "profile".into()],
            granted_at: Timestamp::from_millis(0),
        };
        assert!(c.covers("openid profile"));
        assert!(c.covers("openid"));
        assert!(!c.covers("openid email"));
    }
}
