//! OpenID Connect Back-Channel Logout 1.0: the logouts waiting to be delivered to applications.
//!
//! When a session ends (RP-initiated logout, sign-out, sign out everywhere, a key removed or
//! reported lost, a user disabled), every grant opened from it whose application has a
//! back-channel logout URI gets a row in an outbox, written in the same transaction as the
//! grant's revocation. A scheduled job delivers due rows and retries failures with backoff.

use crate::{Timestamp, UserId};

/// A logout waiting to be delivered (one per ended grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    /// The grant that ended (the `sid` of its ID tokens).
    pub grant_id: String,
    /// The application told.
    pub client_id: String,
    /// The user signed out (`sub`).
    pub user_id: UserId,
    /// When the session ended.
    pub created_at: Timestamp,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: Timestamp,
    /// The application's back-channel logout URI now (`None` when it was cleared since).
    pub uri: Option<String>,
}

/// How one delivery attempt ended, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutAttempt {
    /// The application answered 2xx: done.
    Delivered,
    /// Failed; try again at `next_attempt_at`.
    Retry {
        /// When.
        next_attempt_at: Timestamp,
        /// Why it failed (one line; no token).
        error: String,
    },
    /// Failed for the last time: given up.
    Failed {
        /// Why the last attempt failed.
        error: String,
    },
}
