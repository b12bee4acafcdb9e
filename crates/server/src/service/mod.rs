//! Use cases shared by the HTTP handlers and the CLI, so both validate and audit alike.
//!
//! Each function takes a [`Ctx`] (stores, time, actor, request id) and returns domain values
//! or a [`ServiceError`](crate::error::ServiceError); nothing here knows about HTTP.

pub mod authentication;
pub mod clients;
pub mod credentials;
pub mod groups;
pub mod registration;
pub mod taps;
pub mod users;
pub mod webauthn;

use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Actor, NewAuditEvent};
use keyfleet_domain::store::Stores;

/// Who is acting, when, through which request.
pub struct Ctx<'a> {
    /// The stores.
    pub stores: &'a Stores,
    /// The current time.
    pub now: Timestamp,
    /// Who acts.
    pub actor: Actor,
    /// The request that caused it (none from the CLI).
    pub request_id: Option<String>,
}

impl<'a> Ctx<'a> {
    /// The same context with another actor (a sign-in acts as the user it signs in).
    pub fn as_actor(&self, actor: Actor) -> Ctx<'a> {
        Ctx {
            stores: self.stores,
            now: self.now,
            actor,
            request_id: self.request_id.clone(),
        }
    }

    /// A success audit event for `action` on `target`.
    pub fn audit(&self, action: &str, target: Option<String>) -> NewAuditEvent {
        NewAuditEvent::new(self.now, &self.actor, action, target, self.request_id.as_deref())
    }
}
