//! The signed-in person's own account and sessions.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use keyfleet_core::identity::sessions;
use keyfleet_domain::ids::SessionId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_id;
use crate::api::{MeJson, SessionJson, UserJson};
use crate::auth::SessionCaller;
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(my_sessions))
        .routes(routes!(end_my_session))
}

/// The signed-in user, their session and groups. Works for TAP sessions too.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, body = MeJson), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(State(state): State<AppState>, caller: SessionCaller) -> Result<axum::Json<MeJson>, ApiError> {
    let groups = state.stores.groups.list_user_groups(caller.user.id).await?;
    Ok(axum::Json(MeJson {
        user: UserJson::from(&caller.user),
        session: SessionJson::new(&caller.session, true),
        groups: groups.into_iter().map(|g| g.name).collect(),
    }))
}

/// The signed-in user's live sessions, newest first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "me",
    responses((status = 200, body = Vec<SessionJson>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn my_sessions(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    caller: SessionCaller,
) -> Result<axum::Json<Vec<SessionJson>>, ApiError> {
    let c = state.ctx(keyfleet_domain::audit::Actor::User(caller.user.id), &headers);
    let mine = sessions::list_own(&c, &caller.principal()).await?;
    Ok(axum::Json(
        mine.iter()
            .map(|s| SessionJson::new(s, s.id == caller.session.id))
            .collect(),
    ))
}

/// Ends one of the signed-in user's sessions (another device, say).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "me", params(("id" = String, Path, description = "Session id")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn end_my_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    caller: SessionCaller,
) -> Result<StatusCode, ApiError> {
    let id: SessionId = parse_id(&id)?;
    let c = state.ctx(keyfleet_domain::audit::Actor::User(caller.user.id), &headers);
    sessions::end_own(&c, &caller.principal(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
