//! The admin console (`/admin/…`): the dashboard (`/admin`), users and a user's page (keys,
//! TAP, groups, sessions), the registration report, groups, policies, single sign-on
//! applications, API clients, and the audit log.
//!
//! Every console page takes a [`Staff`] viewer: an administrator or helpdesk user with a full
//! session. Anyone else is refused with 403 and an `access.denied` audit entry. Pages only an
//! administrator may use call [`Staff::require_admin`], which refuses (and audits) helpdesk
//! users the same way the JSON routes do; the use cases in `keyfleet_core` enforce the rest
//! (helpdesk users cannot touch administrators or grant roles).

pub mod applications;
pub mod audit;
pub mod clients;
pub mod dashboard;
pub mod groups;
pub mod policies;
pub mod reports;
pub mod shipments;
pub mod users;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use keyfleet_domain::user::Role;

use keyfleet_core::Ctx;
use keyfleet_core::access::{self, Authority, Permission, Principal};

use super::page::{PageError, Viewer, request_id};
use crate::auth::Caller;
use crate::state::AppState;

/// Every console route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(dashboard::router())
        .merge(users::router())
        .merge(reports::router())
        .merge(groups::router())
        .merge(policies::router())
        .merge(shipments::router())
        .merge(applications::router())
        .merge(clients::router())
        .merge(audit::router())
}

/// The enable/disable form of users and API clients: `enabled=true` or `enabled=false`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct EnabledForm {
    enabled: String,
}

impl EnabledForm {
    /// The choice, or `None` when the form named neither.
    pub fn choice(&self) -> Option<bool> {
        match self.enabled.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
}

/// An administrator or helpdesk user with a full session, on a console page.
pub struct Staff {
    /// The viewer.
    pub viewer: Viewer,
    /// The same person as an API caller (role checks, audit actor).
    pub caller: Caller,
    /// The request id, for audit entries.
    pub request_id: Option<String>,
}

impl Staff {
    /// Whether this is an administrator.
    pub fn is_admin(&self) -> bool {
        self.viewer.user.role == Role::Admin
    }

    /// The rules on roles that apply (administrator or helpdesk).
    pub fn authority(&self) -> Authority {
        self.principal().authority()
    }

    /// Who this is, for the core's rules.
    pub fn principal(&self) -> Principal {
        self.viewer.principal()
    }

    /// A service context acting as this person.
    pub fn ctx<'a>(&self, state: &'a AppState) -> Ctx<'a> {
        self.viewer.ctx(state, self.request_id.clone())
    }

    /// Refuses this person unless they have `permission` (403, audited as `access.denied`
    /// by the core, as for the JSON routes).
    pub async fn require(&self, state: &AppState, permission: Permission) -> Result<(), PageError> {
        access::authorize(&self.ctx(state), &self.principal(), permission).await?;
        Ok(())
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        let caller = viewer.caller();
        let request_id = request_id(&parts.headers);
        let staff = viewer.require_full().is_ok() && matches!(viewer.user.role, Role::Admin | Role::Helpdesk);
        if !staff {
            let ctx = viewer.ctx(state, request_id.clone());
            let refusal = keyfleet_core::CoreError::forbidden(
                "staff_required",
                "the admin console is for administrators and helpdesk staff",
            );
            return Err(match access::denied(&ctx, refusal, None).await {
                keyfleet_core::CoreError::Forbidden { .. }
                    if viewer.session.kind == keyfleet_domain::session::SessionKind::Tap =>
                {
                    PageError::new(
                        StatusCode::FORBIDDEN,
                        "Sign in with your security key",
                        "You signed in with a temporary access pass. The admin console needs a sign-in \
                         with a security key: add your key on the Security info page, then sign in with it.",
                    )
                }
                keyfleet_core::CoreError::Forbidden { .. } => PageError::new(
                    StatusCode::FORBIDDEN,
                    "Not allowed",
                    "The admin console is for administrators and helpdesk staff. \
                     Your own keys are on the Security info page.",
                ),
                e => e.into(),
            });
        }
        Ok(Staff {
            viewer,
            caller,
            request_id,
        })
    }
}
