//! The admin console (`/admin/…`): users and a user's page (keys, TAP, groups, sessions),
//! groups, API clients, and the audit log.
//!
//! Every console page takes a [`Staff`] viewer: an administrator or helpdesk user with a full
//! session. Anyone else is refused with 403 and an `access.denied` audit entry. Pages only an
//! administrator may use call [`Staff::require_admin`], which refuses (and audits) helpdesk
//! users the same way the JSON routes do; the use cases in `crate::service` enforce the rest
//! (helpdesk users cannot touch administrators or grant roles).

pub mod audit;
pub mod clients;
pub mod groups;
pub mod users;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use keyfleet_domain::user::Role;

use super::page::{PageError, Viewer, request_id, see_other};
use crate::auth::{Caller, require_admin};
use crate::routes::authority;
use crate::service::Ctx;
use crate::service::users::Authority;
use crate::state::AppState;

/// Every console route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|_: Staff| async { see_other("/admin/users") }))
        .merge(users::router())
        .merge(groups::router())
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
        authority(&self.caller)
    }

    /// A service context acting as this person.
    pub fn ctx<'a>(&self, state: &'a AppState) -> Ctx<'a> {
        self.viewer.ctx(state, self.request_id.clone())
    }

    /// Refuses a helpdesk user (403, audited as `access.denied`); `what` completes "only an
    /// administrator may …".
    pub async fn require_admin(&self, state: &AppState, what: &str) -> Result<(), PageError> {
        let mut headers = axum::http::HeaderMap::new();
        if let Some(id) = &self.request_id
            && let Ok(v) = id.parse()
        {
            headers.insert("x-request-id", v);
        }
        require_admin(state, &self.caller, &headers, what).await?;
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
            let err = crate::error::ApiError::forbidden(
                "staff_required",
                "the admin console is for administrators and helpdesk staff",
            );
            let detail = serde_json::json!({ "needs": "staff", "path": parts.uri.path() });
            return Err(
                match crate::auth::deny(state, &caller, &parts.headers, detail, err).await {
                    Err(e) if e.status() == StatusCode::FORBIDDEN => PageError::new(
                        StatusCode::FORBIDDEN,
                        "Not allowed",
                        "The admin console is for administrators and helpdesk staff. \
                     Your own keys are on the Security info page.",
                    ),
                    Err(e) => e.into(),
                    Ok(()) => PageError::not_found(),
                },
            );
        }
        Ok(Staff {
            viewer,
            caller,
            request_id,
        })
    }
}
