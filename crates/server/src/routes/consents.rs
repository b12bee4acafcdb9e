//! The signed-in person's consents to third-party single sign-on applications: list and
//! withdraw (`keyfleet_core::oidc::consent`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use keyfleet_core::oidc::consent;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::SessionCaller;
use crate::error::{ApiError, Problem};
use crate::state::{AppState, rfc3339};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_consents))
        .routes(routes!(withdraw_consent))
}

/// A consent to a third-party application.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentJson {
    /// The application's `client_id`.
    pub client_id: String,
    /// Its name.
    pub application: String,
    /// The scopes agreed to.
    pub scopes: Vec<String>,
    /// When consent was (last) given.
    pub granted_at: String,
}

/// The signed-in user's consents to third-party applications, by application name.
#[utoipa::path(get, path = "/api/v1/me/consents", tag = "me",
    responses((status = 200, body = Vec<ConsentJson>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn my_consents(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: SessionCaller,
) -> Result<axum::Json<Vec<ConsentJson>>, ApiError> {
    let c = state.ctx(keyfleet_domain::audit::Actor::User(caller.user.id), &headers);
    let mine = consent::list_mine(&c, &caller.principal()).await?;
    Ok(axum::Json(
        mine.into_iter()
            .map(|m| ConsentJson {
                client_id: m.client_id,
                application: m.application,
                scopes: m.scopes,
                granted_at: rfc3339(m.granted_at),
            })
            .collect(),
    ))
}

/// Withdraws the signed-in user's consent to an application: it asks again next time, and the
/// user's sign-ins to it (refresh and access tokens) end now.
#[utoipa::path(delete, path = "/api/v1/me/consents/{clientId}", tag = "me", params(("clientId" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn withdraw_consent(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    caller: SessionCaller,
) -> Result<StatusCode, ApiError> {
    let c = state.ctx(keyfleet_domain::audit::Actor::User(caller.user.id), &headers);
    consent::revoke_mine(&c, &caller.principal(), &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
