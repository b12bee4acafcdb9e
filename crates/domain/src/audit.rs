//! The append-only audit log: who did what to whom, when, with what outcome.

use std::fmt;

use crate::Timestamp;

/// Whether the recorded action took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was attempted and failed (bad code, bad credentials).
    Failure,
    /// It was refused for lack of permission or by a limit.
    Denied,
}

impl Outcome {
    /// Stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user.
    User(crate::UserId),
    /// An API client with a bearer token.
    Client(String),
    /// keyfleet itself (first start, jobs) or the local CLI.
    System,
    /// Someone not yet authenticated (a sign-in attempt).
    Anonymous,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Client(id) => write!(f, "client:{id}"),
            Actor::System => f.write_str("system"),
            Actor::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// An event to append. It never contains a secret: callers record identifiers only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who acted (`user:…`, `client:…`, `system`, `anonymous`).
    pub actor: String,
    /// What they did, as `noun.verb` (`user.create`, `tap.redeem`).
    pub action: String,
    /// What it was done to (`user:…`, `client:…`), if anything.
    pub target: Option<String>,
    /// Whether it took effect.
    pub outcome: Outcome,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// A small JSON object with non-secret details.
    pub detail: Option<String>,
}

impl NewAuditEvent {
    /// A successful action by `actor` on `target`.
    pub fn new(at: Timestamp, actor: &Actor, action: &str, target: Option<String>, request_id: Option<&str>) -> Self {
        Self {
            at,
            actor: actor.to_string(),
            action: action.to_owned(),
            target,
            outcome: Outcome::Success,
            request_id: request_id.map(str::to_owned),
            detail: None,
        }
    }

    /// The same event with another outcome.
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// The same event with a JSON detail object.
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Increasing sequence number.
    pub id: i64,
    /// The event.
    pub event: NewAuditEvent,
}

/// A filter and page over the log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Exact actor.
    pub actor: Option<String>,
    /// Exact target.
    pub target: Option<String>,
    /// Exact action, or a prefix ending in `.` (`user.`).
    pub action: Option<String>,
    /// Events at or after this time.
    pub since: Option<Timestamp>,
    /// Events before this time.
    pub until: Option<Timestamp>,
    /// Events with an id below this one (keyset paging).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u32,
}
