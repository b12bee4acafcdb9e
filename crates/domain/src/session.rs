//! Server-side sessions. The cookie holds a random token; the store holds its digest.

use std::time::Duration;

use crate::ids::SessionId;
use crate::{Timestamp, UserId, secret};

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "keyfleet_session";

/// How the session was opened, which bounds what it may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Signed in with a security key: everything the user's role allows.
    Full,
    /// Signed in with a temporary access pass: only `GET /api/v1/me` and key registration.
    Tap,
}

impl SessionKind {
    /// The stable name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Full => "full",
            SessionKind::Tap => "tap",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(SessionKind::Full),
            "tap" => Some(SessionKind::Tap),
            _ => None,
        }
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Identifier (safe to show and log; not the cookie value).
    pub id: SessionId,
    /// SHA-256 digest of the cookie token.
    pub token_hash: [u8; 32],
    /// Whose session it is.
    pub user_id: UserId,
    /// What it may reach.
    pub kind: SessionKind,
    /// When it was opened.
    pub created_at: Timestamp,
    /// When it was last used (idle timeout runs from here).
    pub last_seen_at: Timestamp,
    /// Hard end, whatever the activity.
    pub expires_at: Timestamp,
    /// Idle lifetime in milliseconds.
    pub idle_timeout_ms: i64,
    /// The client address that opened it.
    pub client_addr: Option<String>,
    /// The credential used to open it, if any (to end a lost key's sessions).
    pub credential_id: Option<Vec<u8>>,
    /// Whether the sign-in that opened it verified the user (the assertion's UV flag), for
    /// authentication strengths and the `amr` of ID tokens. False for TAP sessions.
    pub user_verified: bool,
}

impl Session {
    /// Whether the session may still be used at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at && now.as_millis() < self.last_seen_at.as_millis().saturating_add(self.idle_timeout_ms)
    }
}

/// Lifetimes that apply to new sessions.
#[derive(Debug, Clone, Copy)]
pub struct SessionLifetimes {
    /// Ends after this long without a request.
    pub idle: Duration,
    /// Ends this long after opening, whatever the activity.
    pub absolute: Duration,
}

/// A fresh session and the token to put in the cookie (shown once, never stored).
pub struct NewSession {
    /// The record to store.
    pub session: Session,
    /// The cookie value.
    pub token: String,
}

/// Digest of a cookie token, as stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    secret::digest("keyfleet-session-v1", &[token.as_bytes()])
}

/// Opens a session for `user_id`. `cap`, when given, ends it earlier than the absolute
/// lifetime (a TAP session ends with its TAP).
pub fn open(
    user_id: UserId,
    kind: SessionKind,
    lifetimes: SessionLifetimes,
    cap: Option<Timestamp>,
    now: Timestamp,
    rng: &mut dyn rand_core::CryptoRngCore,
) -> NewSession {
    let token = secret::random_token(32, rng);
    let absolute = now.plus(lifetimes.absolute);
    let expires_at = cap.map_or(absolute, |c| c.min(absolute));
    let session = Session {
        id: SessionId::new_time_ordered(now, rng),
        token_hash: token_hash(&token),
        user_id,
        kind,
        created_at: now,
        last_seen_at: now,
        expires_at,
        idle_timeout_ms: i64::try_from(lifetimes.idle.as_millis()).unwrap_or(i64::MAX),
        client_addr: None,
        credential_id: None,
        user_verified: false,
    };
    NewSession { session, token }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn lifetimes_bound_liveness() {
        let now = Timestamp::from_millis(1_000_000);
        let l = SessionLifetimes {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(3600),
        };
        let s = open(
            UserId::new_random(&mut OsRng),
            SessionKind::Full,
            l,
            None,
            now,
            &mut OsRng,
        )
        .session;
        assert!(s.is_live(now.plus(Duration::from_secs(59))));
        assert!(!s.is_live(now.plus(Duration::from_secs(60))), "idle timeout");
        let mut touched = s.clone();
        touched.last_seen_at = now.plus(Duration::from_secs(3599));
        assert!(
            !touched.is_live(now.plus(Duration::from_secs(3600))),
            "absolute timeout"
        );
    }

    #[test]
    fn cap_shortens_the_session() {
        let now = Timestamp::from_millis(0);
        let l = SessionLifetimes {
            idle: Duration::from_secs(600),
            absolute: Duration::from_secs(3600),
        };
        let cap = now.plus(Duration::from_secs(10));
        let s = open(
            UserId::new_random(&mut OsRng),
            SessionKind::Tap,
            l,
            Some(cap),
            now,
            &mut OsRng,
        );
        assert_eq!(s.session.expires_at, cap);
        assert_eq!(s.session.token_hash, token_hash(&s.token));
    }
}
