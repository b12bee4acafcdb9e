//! WebAuthn ceremonies in progress: the challenge the server issued and the options it was
//! issued with, kept until the response comes back (or the ceremony expires).
//!
//! A challenge is single-use: finishing a ceremony deletes it (a registration) or records it
//! as spent (a sign-in, whose ceremony the client holds sealed) in the same transaction that
//! stores the outcome, and every failure path consumes it too, so a response can never be
//! replayed.

use crate::ids::{CeremonyId, SessionId};
use crate::session::Session;
use crate::{Timestamp, UserId};

/// Which ceremony is in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CeremonyKind {
    /// `navigator.credentials.create`: registering a new key.
    Registration,
    /// `navigator.credentials.get`: signing in with a key.
    Authentication,
}

impl CeremonyKind {
    /// The stable name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::Authentication => "authentication",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registration" => Some(CeremonyKind::Registration),
            "authentication" => Some(CeremonyKind::Authentication),
            _ => None,
        }
    }
}

/// A ceremony as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// Identifier (handed to the client to name the ceremony on finish).
    pub id: CeremonyId,
    /// Registration or authentication.
    pub kind: CeremonyKind,
    /// The random challenge issued (at least 16 bytes).
    pub challenge: Vec<u8>,
    /// Registration: the user the key is for. Authentication: the user identified beforehand,
    /// or `None` for a username-less sign-in.
    pub user_id: Option<UserId>,
    /// The session that started the ceremony; a registration is bound to it.
    pub session_id: Option<SessionId>,
    /// The relying party id the options named.
    pub rp_id: String,
    /// The user verification requirement: `required`, `preferred` or `discouraged`.
    pub user_verification: String,
    /// The credential ids offered (`allowCredentials`, or `excludeCredentials` on registration).
    pub allow_credentials: Vec<Vec<u8>>,
    /// A small JSON object with the other options (offered algorithms, …).
    pub params: String,
    /// When it started.
    pub created_at: Timestamp,
    /// When its challenge stops being accepted.
    pub expires_at: Timestamp,
}

impl Ceremony {
    /// Whether the challenge is still accepted at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// The outcome of a verified assertion, written by
/// [`CeremonyStore::finish_authentication`](crate::store::CeremonyStore::finish_authentication)
/// in one transaction: the ceremony is consumed, the counter compared-and-swapped, the
/// session opened.
#[derive(Debug, Clone, Copy)]
pub struct FinishAssertion<'a> {
    /// The ceremony whose challenge was signed.
    pub ceremony_id: CeremonyId,
    /// When it expires: its record of being spent is kept until then.
    pub ceremony_expires_at: Timestamp,
    /// The credential that signed.
    pub credential_id: &'a [u8],
    /// The counter as read before verification (the compare of compare-and-swap).
    pub old_sign_count: u32,
    /// The counter the authenticator reported.
    pub new_sign_count: u32,
    /// The BS flag of this assertion.
    pub backup_state: bool,
    /// Whether this assertion performed user verification (ORed into the stored flag).
    pub uv_initialized: bool,
    /// When the assertion was accepted (`last_used_at`).
    pub now: Timestamp,
    /// The session to open; its `credential_id` should name the credential.
    pub session: &'a Session,
    /// The audit event of ending sessions opened with keys removed since (written only
    /// when there are such sessions).
    pub removed_key_sessions: &'a crate::audit::NewAuditEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in [CeremonyKind::Registration, CeremonyKind::Authentication] {
            assert_eq!(CeremonyKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(CeremonyKind::parse("Registration"), None);
    }

    #[test]
    fn liveness_ends_at_expiry() {
        let c = Ceremony {
            id: CeremonyId::new_random(&mut rand_core::OsRng),
            kind: CeremonyKind::Authentication,
            challenge: vec![7; 32],
            user_id: None,
            session_id: None,
            rp_id: "example.com".into(),
            user_verification: "required".into(),
            allow_credentials: Vec::new(),
            params: "{}".into(),
            created_at: Timestamp::from_millis(0),
            expires_at: Timestamp::from_millis(300_000),
        };
        assert!(c.is_live(Timestamp::from_millis(299_999)));
        assert!(!c.is_live(Timestamp::from_millis(300_000)));
    }
}
