//! Administration of users and their temporary access passes and sessions.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::identity::users::{self, CreateUser, UpdateUser};
use keyfleet_core::identity::{sessions, taps};
use keyfleet_domain::UserId;
use keyfleet_domain::tap::DEFAULT_LIFETIME_MINUTES;
use keyfleet_domain::user::UserQuery;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ctx, parse_id};
use crate::api::{CreateUserRequest, TapIssued, TapRequest, TapStatus, UpdateUserRequest, UserJson, UserPage};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, OptionalJson};
use crate::state::{AppState, rfc3339};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(issue_tap, tap_status, delete_tap))
        .routes(routes!(revoke_sessions))
        .routes(routes!(restore_user))
}

/// Restores a user directory sync deleted, within `directory_recovery_days`: enabled again
/// and visible to SCIM (audited `user.restore`). Administrators and `users:write`; 409
/// `not_deleted` or `recovery_period_ended`.
#[utoipa::path(post, path = "/api/v1/users/{id}/restore", tag = "users", params(("id" = String, Path)),
    security(("bearer" = ["users:write"]), ("session" = [])),
    responses((status = 200, body = UserJson),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn restore_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<UserJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let user = keyfleet_core::directory::lifecycle::restore(&c, &p, parse_id(&id)?).await?;
    Ok(axum::Json(UserJson::from(&user)))
}

/// Creates a user. Needs `users:write`.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    security(("bearer" = ["users:write"]), ("session" = [])),
    responses((status = 201, body = UserJson),
        (status = 409, body = Problem, description = "username taken (letter case ignored)", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Json(body): Json<CreateUserRequest>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let input = CreateUser {
        username: body.username,
        display_name: body.display_name,
        email: body.email,
        manager_email: body.manager_email,
        shipping_address: body.shipping_address,
        role: body.role.map(Into::into),
    };
    let user = users::create(&c, &p, input).await?;
    let location = format!("/api/v1/users/{}", user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(UserJson::from(&user)),
    )
        .into_response())
}

/// Query of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListUsersQuery {
    /// Case-insensitive text found in username, display name or email.
    pub search: Option<String>,
    /// Continue after this username (from `nextAfter`).
    pub after: Option<String>,
    /// Page size, 1 to 200 (50).
    pub limit: Option<u32>,
}

/// Lists users by username. Needs `users:read`.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListUsersQuery),
    security(("bearer" = ["users:read"]), ("session" = [])), responses((status = 200, body = UserPage)))]
pub async fn list_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<ListUsersQuery>,
) -> Result<axum::Json<UserPage>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let query = UserQuery {
        search: q.search.filter(|s| !s.is_empty()),
        after: q.after,
        limit: limit + 1,
    };
    let mut found = users::list(&c, &p, &query).await?;
    let next_after = (found.len() > limit as usize).then(|| {
        found.truncate(limit as usize);
        found.last().map(|u| u.username.as_str().to_owned()).unwrap_or_default()
    });
    Ok(axum::Json(UserPage {
        users: found.iter().map(UserJson::from).collect(),
        next_after,
    }))
}

/// One user. Needs `users:read`.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    security(("bearer" = ["users:read"]), ("session" = [])),
    responses((status = 200, body = UserJson), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<UserJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let user = users::get(&c, &p, parse_id(&id)?).await?;
    Ok(axum::Json(UserJson::from(&user)))
}

/// Changes a user; `enabled: false` ends all their sessions at once. Needs `users:write`;
/// roles and administrators are for administrators only.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)), request_body = UpdateUserRequest,
    security(("bearer" = ["users:write"]), ("session" = [])),
    responses((status = 200, body = UserJson), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn update_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateUserRequest>,
) -> Result<axum::Json<UserJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let change = UpdateUser {
        display_name: body.display_name,
        email: body.email,
        manager_email: body.manager_email,
        shipping_address: body.shipping_address,
        enabled: body.enabled,
        role: body.role.map(Into::into),
    };
    let user = users::update(&c, &p, parse_id(&id)?, change).await?;
    Ok(axum::Json(UserJson::from(&user)))
}

/// Deletes a user with their sessions and pass; the audit log keeps their history.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    security(("bearer" = ["users:write"]), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    users::delete(&c, &p, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issues a temporary access pass, replacing the user's previous one. The code is in this
/// answer only. Needs `users:write`.
#[utoipa::path(post, path = "/api/v1/users/{id}/temporary-access-pass", tag = "users", params(("id" = String, Path)),
    request_body = TapRequest, security(("bearer" = ["users:write"]), ("session" = [])),
    responses((status = 201, body = TapIssued), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn issue_tap(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<TapRequest>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let req = body.unwrap_or_default();
    let minutes = req.lifetime_minutes.unwrap_or(DEFAULT_LIFETIME_MINUTES);
    let one_time = req.one_time.unwrap_or(true);
    let user_id: UserId = parse_id(&id)?;
    let issued = taps::issue(&c, &p, user_id, minutes, one_time).await?;
    let body = TapIssued {
        code: issued.code,
        expires_at: rfc3339(issued.tap.expires_at),
        one_time,
        lifetime_minutes: minutes,
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response())
}

/// The user's current pass, without its code. Needs `users:read`.
#[utoipa::path(get, path = "/api/v1/users/{id}/temporary-access-pass", tag = "users", params(("id" = String, Path)),
    security(("bearer" = ["users:read"]), ("session" = [])),
    responses((status = 200, body = TapStatus), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn tap_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<TapStatus>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let tap = taps::find_for_user(&c, &p, parse_id(&id)?)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(TapStatus {
        created_at: rfc3339(tap.created_at),
        expires_at: rfc3339(tap.expires_at),
        one_time: tap.one_time,
        usable: tap.is_usable(c.now),
        use_count: tap.use_count,
    }))
}

/// Withdraws the user's pass. Needs `users:write`.
#[utoipa::path(delete, path = "/api/v1/users/{id}/temporary-access-pass", tag = "users", params(("id" = String, Path)),
    security(("bearer" = ["users:write"]), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_tap(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    taps::revoke(&c, &p, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the user at once. Needs `users:write`.
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "users", params(("id" = String, Path)),
    security(("bearer" = ["users:write"]), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    sessions::end_all_for_user(&c, &p, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
