//! Keys registered on behalf of a user, shaped like Microsoft Graph's `fido2Methods`:
//! creation options, the attestation that answers them, and the user's methods. An
//! administrator's session or a client with `provisioning`; never helpdesk staff. The rules
//! are `keyfleet_core::credentials::onbehalf`'s; docs/provisioning.md is the manual.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::credentials::ceremony::unb64;
use keyfleet_core::credentials::onbehalf::{self, OnBehalfError, OptionsRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ctx, parse_id};
use crate::api::onbehalf::{
    CreationOptionsJson, CreationOptionsRequest, Fido2MethodJson, Fido2MethodsJson, MethodRequest,
};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, OptionalJson};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(creation_options))
        .routes(routes!(list_methods, register_method))
        .routes(routes!(get_method, delete_method))
}

impl From<OnBehalfError> for ApiError {
    fn from(e: OnBehalfError) -> Self {
        match e {
            OnBehalfError::Core(e) => e.into(),
            OnBehalfError::Ceremony(e) => e.into(),
        }
    }
}

fn method_id(text: &str) -> Result<Vec<u8>, ApiError> {
    unb64(text).filter(|id| !id.is_empty()).ok_or_else(ApiError::not_found)
}

/// Creation options for registering a key on behalf of the user (Graph's
/// `fido2Methods/creationOptions`). The challenge is stored, bound to the caller and the user,
/// until `challengeTimeoutDateTime`. Needs `provisioning` (or an administrator's session).
#[utoipa::path(post, path = "/api/v1/users/{id}/fido2/creation-options", tag = "on-behalf", params(("id" = String, Path)),
    request_body = CreationOptionsRequest,
    responses((status = 200, body = CreationOptionsJson),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "user disabled", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "timeout out of range, unknown model", content_type = "application/problem+json")))]
pub async fn creation_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<CreationOptionsRequest>,
) -> Result<axum::Json<CreationOptionsJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let body = body.unwrap_or_default();
    let request = OptionsRequest {
        challenge_timeout_minutes: body.challenge_timeout_minutes,
        model: body.model,
        aaguid: body.aaguid,
    };
    let issued = onbehalf::creation_options(&c, &p, parse_id(&id)?, request).await?;
    Ok(axum::Json(issued.into()))
}

/// Registers a key on behalf of the user: verifies its attestation against the creation
/// options it answers (consumed once) and applies the user's policy; an attestation chain
/// to a trusted root is required. Needs `provisioning` (or an administrator's session).
#[utoipa::path(post, path = "/api/v1/users/{id}/fido2/methods", tag = "on-behalf", params(("id" = String, Path)),
    request_body = MethodRequest,
    responses((status = 201, body = Fido2MethodJson),
        (status = 400, body = Problem, description = "refused: unknown, expired or foreign options, verification, policy, model", content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "user disabled, key already registered", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn register_method(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Json(raw): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let method = onbehalf::register(&c, &p, parse_id(&id)?, raw).await?;
    let body = Fido2MethodJson::from(&method);
    let location = format!("/api/v1/users/{id}/fido2/methods/{}", body.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(body)).into_response())
}

/// The user's keys in Graph's `fido2AuthenticationMethod` shape, oldest first. Needs
/// `provisioning` (or an administrator's session).
#[utoipa::path(get, path = "/api/v1/users/{id}/fido2/methods", tag = "on-behalf", params(("id" = String, Path)),
    responses((status = 200, body = Fido2MethodsJson),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_methods(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Fido2MethodsJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let methods = onbehalf::methods(&c, &p, parse_id(&id)?).await?;
    Ok(axum::Json(Fido2MethodsJson {
        value: methods.iter().map(Fido2MethodJson::from).collect(),
    }))
}

/// One of the user's keys. Needs `provisioning` (or an administrator's session).
#[utoipa::path(get, path = "/api/v1/users/{id}/fido2/methods/{methodId}", tag = "on-behalf",
    params(("id" = String, Path), ("methodId" = String, Path, description = "Credential id (base64url)")),
    responses((status = 200, body = Fido2MethodJson),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_method(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path((id, method)): Path<(String, String)>,
) -> Result<axum::Json<Fido2MethodJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let method = onbehalf::method(&c, &p, parse_id(&id)?, &method_id(&method)?).await?;
    Ok(axum::Json(Fido2MethodJson::from(&method)))
}

/// Removes one of the user's keys and ends the sessions opened with it. Needs
/// `provisioning` (or an administrator's session).
#[utoipa::path(delete, path = "/api/v1/users/{id}/fido2/methods/{methodId}", tag = "on-behalf",
    params(("id" = String, Path), ("methodId" = String, Path, description = "Credential id (base64url)")),
    responses((status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_method(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path((id, method)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    onbehalf::remove_method(&c, &p, parse_id(&id)?, &method_id(&method)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
