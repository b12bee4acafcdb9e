//! Reading the audit log. Needs `audit:read`.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use keyfleet_core::audit;
use keyfleet_domain::audit::AuditQuery;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ctx;
use crate::api::{AuditEventJson, AuditPage};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::state::{AppState, parse_rfc3339};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// Filters over the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Exact actor (`user:ID`, `client:ID`, `cli:OS-USER`, `system`, `anonymous`).
    pub actor: Option<String>,
    /// Exact target (`user:ID`, …).
    pub target: Option<String>,
    /// Exact action, or a prefix ending in `.` (`tap.`).
    pub action: Option<String>,
    /// A user by username, user id or `user:ID`: the events they are the actor or the target
    /// of. An unknown username is a 422 `unknown_user`.
    pub user: Option<String>,
    /// Exact request id: everything one request did.
    #[serde(rename = "requestId")]
    pub request_id: Option<String>,
    /// From this time (RFC 3339).
    pub since: Option<String>,
    /// Before this time (RFC 3339).
    pub until: Option<String>,
    /// Events older than this id (from `nextBefore`).
    pub before: Option<i64>,
    /// Page size, 1 to 500 (100).
    pub limit: Option<u32>,
}

fn time_param(name: &str, v: Option<String>) -> Result<Option<keyfleet_domain::Timestamp>, ApiError> {
    v.map(|s| {
        parse_rfc3339(&s)
            .ok_or_else(|| ApiError::bad_request("invalid_request", format!("{name} must be an RFC 3339 time")))
    })
    .transpose()
}

/// A page of the audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<AuditParams>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let since = time_param("since", q.since)?;
    let until = time_param("until", q.until)?;
    let involving = match q.user.as_deref() {
        Some(u) => Some(audit::involving(&c, &p, u).await?.reference),
        None => None,
    };
    let query = AuditQuery {
        actor: q.actor,
        target: q.target,
        action: q.action,
        involving,
        request_id: q.request_id,
        since,
        until,
        before_id: q.before,
        limit: q.limit.unwrap_or(100),
    };
    let page = audit::list(&c, &p, query).await?;
    Ok(axum::Json(AuditPage {
        events: page.entries.iter().map(AuditEventJson::from).collect(),
        next_before: page.next_before,
    }))
}
