//! Groups and membership. Reading needs `users:read`; changing needs an administrator or
//! `users:write` (`keyfleet_core::identity::groups` holds the rules).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::identity::groups;
use keyfleet_domain::{GroupId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ctx, parse_id};
use crate::api::{CreateGroupRequest, GroupDetail, GroupJson, UserJson};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group, list_groups))
        .routes(routes!(get_group, delete_group))
        .routes(routes!(add_member, remove_member))
}

/// Creates a group.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = CreateGroupRequest,
    responses((status = 201, body = GroupJson), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Json(body): Json<CreateGroupRequest>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let group = groups::create(&c, &p, &body.name, body.description.as_deref().unwrap_or_default()).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/groups/{}", group.id))],
        axum::Json(GroupJson::from(&group)),
    )
        .into_response())
}

/// Lists groups by name.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", responses((status = 200, body = Vec<GroupJson>)))]
pub async fn list_groups(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Vec<GroupJson>>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let groups = groups::list(&c, &p).await?;
    Ok(axum::Json(groups.iter().map(GroupJson::from).collect()))
}

/// One group with its members.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path)),
    responses((status = 200, body = GroupDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<GroupDetail>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let (group, members) = groups::get(&c, &p, parse_id(&id)?).await?;
    Ok(axum::Json(GroupDetail {
        group: GroupJson::from(&group),
        members: members.iter().map(UserJson::from).collect(),
    }))
}

/// Deletes a group and its memberships.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let id: GroupId = parse_id(&id)?;
    groups::delete(&c, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a user to a group (idempotent).
#[utoipa::path(put, path = "/api/v1/groups/{id}/members/{userId}", tag = "groups",
    params(("id" = String, Path), ("userId" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn add_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let (group, user): (GroupId, UserId) = (parse_id(&id)?, parse_id(&user_id)?);
    groups::add_member(&c, &p, group, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user from a group.
#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{userId}", tag = "groups",
    params(("id" = String, Path), ("userId" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn remove_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let (group, user): (GroupId, UserId) = (parse_id(&id)?, parse_id(&user_id)?);
    groups::remove_member(&c, &p, group, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
