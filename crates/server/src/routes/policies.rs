//! Group policies: administrators change them, helpdesk staff read them
//! (`keyfleet_core::policies` holds the rules, the preview and the confirmation).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::policies;
use keyfleet_domain::UserId;
use keyfleet_domain::ids::PolicyId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ctx, parse_id};
use crate::api::policies::{ConfirmQuery, EffectivePolicyJson, PolicyJson, PolicyRequest, PreviewJson, PreviewRequest};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_policy, list_policies))
        .routes(routes!(get_policy, replace_policy, delete_policy))
        .routes(routes!(preview_policy))
        .routes(routes!(effective_policy))
}

/// Creates a policy. A policy that would leave people without a usable key needs
/// `?confirm=true` (`409 confirmation_required` otherwise; see the preview).
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", request_body = PolicyRequest, params(ConfirmQuery),
    responses((status = 201, body = PolicyJson),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<ConfirmQuery>,
    Json(body): Json<PolicyRequest>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let saved = policies::create(&c, &p, &body.draft(), q.confirm).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/policies/{}", saved.policy.id))],
        axum::Json(PolicyJson::from(&saved.policy)),
    )
        .into_response())
}

/// Every policy: the built-in default (the global settings) first, then by name.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies", responses((status = 200, body = Vec<PolicyJson>)))]
pub async fn list_policies(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Vec<PolicyJson>>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let all = policies::list(&c, &p).await?;
    Ok(axum::Json(all.iter().map(PolicyJson::from).collect()))
}

/// One policy.
#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "policies", params(("id" = String, Path)),
    responses((status = 200, body = PolicyJson), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<PolicyJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let policy = policies::get(&c, &p, parse_id::<PolicyId>(&id)?).await?;
    Ok(axum::Json(PolicyJson::from(&policy)))
}

/// Replaces a policy (the same confirmation rule as creating one; the default policy is
/// changed through the settings: `409 policy_builtin`).
#[utoipa::path(put, path = "/api/v1/policies/{id}", tag = "policies", request_body = PolicyRequest,
    params(("id" = String, Path), ConfirmQuery),
    responses((status = 200, body = PolicyJson),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn replace_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ConfirmQuery>,
    Json(body): Json<PolicyRequest>,
) -> Result<axum::Json<PolicyJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let saved = policies::replace(&c, &p, parse_id::<PolicyId>(&id)?, &body.draft(), q.confirm).await?;
    Ok(axum::Json(PolicyJson::from(&saved.policy)))
}

/// Deletes a policy.
#[utoipa::path(delete, path = "/api/v1/policies/{id}", tag = "policies", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    policies::delete(&c, &p, parse_id::<PolicyId>(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a proposed policy (optionally replacing a stored one) would do to existing keys:
/// keys refused, people left without a usable key, by model. Changes nothing.
#[utoipa::path(post, path = "/api/v1/policies/preview", tag = "policies", request_body = PreviewRequest,
    responses((status = 200, body = PreviewJson), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn preview_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Json(body): Json<PreviewRequest>,
) -> Result<axum::Json<PreviewJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let replacing = body.replacing.as_deref().map(parse_id::<PolicyId>).transpose()?;
    let preview = policies::preview(&c, &p, &body.policy.draft(), replacing).await?;
    let aaguids: Vec<[u8; 16]> = preview.by_model.iter().map(|m| m.aaguid).collect();
    let names = crate::web::models::Models::load(&c, &aaguids).await?;
    Ok(axum::Json(PreviewJson::new(&preview, &names)))
}

/// A user's effective policy: every policy that targets them, combined setting by setting,
/// with the policy that decided each.
#[utoipa::path(get, path = "/api/v1/users/{id}/effective-policy", tag = "policies", params(("id" = String, Path)),
    responses((status = 200, body = EffectivePolicyJson), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn effective_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<EffectivePolicyJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let user: UserId = parse_id(&id)?;
    let effective = policies::effective_for_user(&c, &p, user).await?;
    Ok(axum::Json(EffectivePolicyJson::new(user.to_string(), &effective)))
}
