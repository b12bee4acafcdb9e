//! The context every use case runs in, and the [`Core`] that makes it.

use std::sync::Arc;

use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, Actor, NewAuditEvent, Target};
use keyfleet_domain::store::Stores;
use keyfleet_domain::time::Clock;

use crate::audit::Detail;
use crate::clients::tokens::TokenKeys;
use crate::config::CoreConfig;

/// Everything the use cases share: the stores, the configuration, the clock and the
/// access-token keys. Built once at start by the server or the CLI (cheap to clone).
#[derive(Clone)]
pub struct Core {
    /// One handle per store concern.
    pub stores: Stores,
    /// The use cases' configuration.
    pub config: Arc<CoreConfig>,
    /// Where the time comes from.
    pub clock: Arc<dyn Clock>,
    /// Access-token keys.
    pub tokens: Arc<TokenKeys>,
    /// Token requests being evaluated in this process (the token endpoint's failure limit).
    pub attempts: Arc<crate::limits::InFlight>,
}

impl Core {
    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A context for one action by `actor`, at the clock's current time.
    pub fn ctx(&self, actor: Actor, request_id: Option<String>) -> Ctx<'_> {
        Ctx {
            core: self,
            stores: &self.stores,
            config: &self.config,
            now: self.now(),
            actor,
            request_id,
        }
    }
}

/// Who is acting, when, through which request.
pub struct Ctx<'a> {
    /// The core.
    pub core: &'a Core,
    /// The stores.
    pub stores: &'a Stores,
    /// The configuration.
    pub config: &'a CoreConfig,
    /// The time of this action.
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
            core: self.core,
            stores: self.stores,
            config: self.config,
            now: self.now,
            actor,
            request_id: self.request_id.clone(),
        }
    }

    /// A success audit event for `action` on `target`.
    pub fn audit(&self, action: Action, target: Option<Target>) -> NewAuditEvent {
        NewAuditEvent::new(self.now, &self.actor, action, target, self.request_id.as_deref())
    }

    /// A success audit event for `action` on `target` with a typed detail.
    pub fn audit_with(&self, action: Action, target: Option<Target>, detail: &impl Detail) -> NewAuditEvent {
        self.audit(action, target).with_detail(detail.to_json())
    }
}
