//! What a use case can refuse, independent of HTTP. The server maps these to problem
//! details at its edge; the CLI prints them.

use keyfleet_domain::StoreError;
use thiserror::Error;

/// A refusal or failure of a use case.
#[derive(Debug, Error)]
pub enum CoreError {
    /// A field breaks a rule; `code` is stable, the message names the field.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// Human message naming the field.
        message: String,
    },
    /// The target does not exist (or the caller may not know it does).
    #[error("not found")]
    NotFound,
    /// The change conflicts with the current state.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// The caller may not do this (already audited as `access.denied`).
    #[error("{message}")]
    Forbidden {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
        /// The API scope that would have allowed it, when one would have.
        scope: Option<keyfleet_domain::client::Scope>,
    },
    /// Too many attempts: retry after this many seconds (already audited).
    #[error("too many attempts; retry after {retry_after_s} s")]
    Limited {
        /// Stable code.
        code: &'static str,
        /// Seconds until a retry may succeed.
        retry_after_s: u64,
    },
    /// A service this use case needs (the key factory) did not answer; retrying later may
    /// succeed.
    #[error("{message}")]
    Unavailable {
        /// Stable code.
        code: &'static str,
        /// Human message (never a secret).
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl CoreError {
    /// A rule broken by one field.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    /// A refusal for lack of permission.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
            scope: None,
        }
    }

    /// A refusal for lack of the API scope `scope` (`insufficient_scope`).
    pub fn insufficient_scope(scope: keyfleet_domain::client::Scope) -> Self {
        Self::Forbidden {
            code: "insufficient_scope",
            message: format!("this needs the {scope} permission"),
            scope: Some(scope),
        }
    }

    /// A conflict with the current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => CoreError::NotFound,
            StoreError::Invalid(_) => {
                CoreError::invalid("invalid_text", "text must not contain control characters such as NUL")
            }
            StoreError::Conflict(rule) => {
                let (code, message) = match rule {
                    "username" => (
                        "username_taken",
                        "a user with this username already exists (usernames ignore letter case)",
                    ),
                    "group_name" => ("group_name_taken", "a group with this name already exists"),
                    "client_id" => ("client_id_taken", "a client with this id already exists"),
                    "secret_limit" => (
                        "too_many_secrets",
                        "the client already holds two secrets; revoke one first",
                    ),
                    "tap_used" => ("invalid_tap", "the temporary access pass is not valid"),
                    "strength_id" => (
                        "strength_id_taken",
                        "an authentication strength with this id already exists",
                    ),
                    "strength_name" => (
                        "strength_name_taken",
                        "an authentication strength with this name already exists",
                    ),
                    "strength_acr" => ("acr_taken", "another authentication strength has this acr value"),
                    _ => ("conflict", "the change conflicts with the current state"),
                };
                CoreError::conflict(code, message)
            }
            other => CoreError::Store(other),
        }
    }
}

/// How a WebAuthn ceremony step failed: an HTTP-independent class, a stable code and a
/// message.
#[derive(Debug)]
pub struct CeremonyError {
    /// What kind of refusal.
    pub class: FailureClass,
    /// Stable code (`challenge_expired`, `origin_mismatch`, …).
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

/// Classes of ceremony failure, mapped to HTTP statuses at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The response does not pass a check (400).
    Rejected,
    /// The credential or account does not authenticate (401).
    Unauthenticated,
    /// A field other than the response is wrong (422).
    Invalid,
    /// The outcome conflicts with stored state (409).
    Conflict,
    /// Too many attempts from this address (429); retry after the given seconds.
    Limited(u64),
    /// The store failed.
    Store,
}

impl CeremonyError {
    /// A failure of `class` with `code`.
    pub fn new(class: FailureClass, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            class,
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for CeremonyError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(_) => Self::new(
                FailureClass::Invalid,
                "invalid_text",
                "text must not contain control characters such as NUL",
            ),
            e => Self::new(FailureClass::Store, "store", e.to_string()),
        }
    }
}

impl From<CoreError> for CeremonyError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Store(s) => s.into(),
            CoreError::Limited { code, retry_after_s } => Self::new(
                FailureClass::Limited(retry_after_s),
                code,
                "too many attempts from this address; wait and retry",
            ),
            CoreError::Forbidden { code, message, .. } => Self::new(FailureClass::Unauthenticated, code, message),
            CoreError::Invalid { code, message } => Self::new(FailureClass::Invalid, code, message),
            CoreError::Conflict { code, message } => Self::new(FailureClass::Conflict, code, message),
            CoreError::NotFound => Self::new(FailureClass::Rejected, "not_found", "not found"),
            CoreError::Unavailable { code, message } => Self::new(FailureClass::Conflict, code, message),
        }
    }
}
