//! Security keys: registration (for a signed-in user or a TAP session), the worker's own
//! keys, and administration of a user's keys. Every change is audited.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::credentials::ceremony::{b64, unb64};
use keyfleet_core::credentials::keys::{self, Removal};
use keyfleet_core::credentials::registration;
use keyfleet_domain::audit::Actor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ctx, parse_id};
use crate::api::{CeremonyOptions, CredentialJson, RegistrationVerifyRequest, RenameCredentialRequest};
use crate::auth::{Caller, SessionCaller};
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(registration_options))
        .routes(routes!(registration_verify))
        .routes(routes!(my_credentials))
        .routes(routes!(rename_my_credential, delete_my_credential))
        .routes(routes!(report_my_credential_lost))
        .routes(routes!(user_credentials, reset_user_credentials))
        .routes(routes!(delete_user_credential))
        .routes(routes!(reassign_user_band))
        .routes(routes!(return_user_credential))
}

fn credential_id(text: &str) -> Result<Vec<u8>, ApiError> {
    unb64(text).filter(|id| !id.is_empty()).ok_or_else(ApiError::not_found)
}

/// Starts registering a security key for the signed-in user (a TAP session may).
#[utoipa::path(post, path = "/api/v1/me/credentials/registration/options", tag = "credentials",
    responses((status = 200, body = CeremonyOptions), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn registration_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: SessionCaller,
) -> Result<axum::Json<CeremonyOptions>, ApiError> {
    let c = state.ctx(Actor::User(caller.user.id), &headers);
    let (ceremony, options) = registration::start(&c, &caller.user, &caller.session).await?;
    Ok(axum::Json(CeremonyOptions {
        ceremony_id: ceremony.id.to_string(),
        public_key: options,
    }))
}

/// Finishes a registration: verifies the attestation and stores the key.
#[utoipa::path(post, path = "/api/v1/me/credentials/registration/verify", tag = "credentials", request_body = RegistrationVerifyRequest,
    responses((status = 201, body = CredentialJson),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "key already registered", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn registration_verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: SessionCaller,
    Json(raw): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let c = state.ctx(Actor::User(caller.user.id), &headers);
    let cred = registration::finish(&c, &caller.user, &caller.session, raw).await?;
    let location = format!("/api/v1/me/credentials/{}", b64(&cred.id));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(CredentialJson::from(&cred)),
    )
        .into_response())
}

/// The signed-in user's keys, oldest first.
#[utoipa::path(get, path = "/api/v1/me/credentials", tag = "credentials", responses((status = 200, body = Vec<CredentialJson>)))]
pub async fn my_credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: SessionCaller,
) -> Result<axum::Json<Vec<CredentialJson>>, ApiError> {
    let c = state.ctx(Actor::User(caller.user.id), &headers);
    let creds = keys::list_own_with_standing(&c, &caller.principal()).await?;
    Ok(axum::Json(creds.iter().map(CredentialJson::from).collect()))
}

/// Renames one of the signed-in user's keys.
#[utoipa::path(patch, path = "/api/v1/me/credentials/{id}", tag = "credentials", params(("id" = String, Path, description = "Credential id (base64url)")),
    request_body = RenameCredentialRequest,
    responses((status = 200, body = CredentialJson), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn rename_my_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: SessionCaller,
    Path(id): Path<String>,
    Json(body): Json<RenameCredentialRequest>,
) -> Result<axum::Json<CredentialJson>, ApiError> {
    let id = credential_id(&id)?;
    let c = state.ctx(Actor::User(caller.user.id), &headers);
    let cred = keys::rename(&c, &caller.principal(), &id, &body.nickname).await?;
    Ok(axum::Json(CredentialJson::from(&cred)))
}

/// Removes one of the signed-in user's keys. Sessions already open with it last until they
/// end or the user signs in again, unless `removal_ends_sessions` is set (a lost-key report
/// always ends them).
#[utoipa::path(delete, path = "/api/v1/me/credentials/{id}", tag = "credentials", params(("id" = String, Path, description = "Credential id (base64url)")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_my_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: SessionCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = credential_id(&id)?;
    let c = state.ctx(Actor::User(caller.user.id), &headers);
    // The contract's DELETE is the program's confirmation, last key or not.
    keys::remove_own(&c, &caller.principal(), &id, Removal::Ordinary, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reports one of the signed-in user's keys lost or stolen: removes it and ends at once every
/// session opened with it (this one too, if it was).
#[utoipa::path(post, path = "/api/v1/me/credentials/{id}/lost", tag = "credentials", params(("id" = String, Path, description = "Credential id (base64url)")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn report_my_credential_lost(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: SessionCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = credential_id(&id)?;
    let c = state.ctx(Actor::User(caller.user.id), &headers);
    keys::remove_own(&c, &caller.principal(), &id, Removal::Lost, true).await?;
    if caller.session.credential_id.as_deref() == Some(id.as_slice()) {
        return Ok((
            StatusCode::NO_CONTENT,
            [(header::SET_COOKIE, super::clear_cookie(&state))],
        )
            .into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A user's keys. Needs `users:read`.
#[utoipa::path(get, path = "/api/v1/users/{id}/credentials", tag = "credentials", params(("id" = String, Path)),
    responses((status = 200, body = Vec<CredentialJson>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn user_credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Vec<CredentialJson>>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let creds = keys::list_for_user_with_standing(&c, &p, parse_id(&id)?).await?;
    Ok(axum::Json(creds.iter().map(CredentialJson::from).collect()))
}

/// Removes one of a user's keys and ends the sessions opened with it. Needs `users:write`.
#[utoipa::path(delete, path = "/api/v1/users/{id}/credentials/{credentialId}", tag = "credentials",
    params(("id" = String, Path), ("credentialId" = String, Path, description = "Credential id (base64url)")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_user_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path((id, credential)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let cred_id = credential_id(&credential)?;
    keys::remove_for_user(&c, &p, parse_id(&id)?, &cred_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A band taken from the user to be given to another wearer: removes the user's credential made
/// with it and ends the sessions opened with it (audited `credential.reassign`). Needs
/// `users:write`; a key that is not a band is refused (409 `not_a_band`).
#[utoipa::path(post, path = "/api/v1/users/{id}/credentials/{credentialId}/reassign", tag = "credentials",
    params(("id" = String, Path), ("credentialId" = String, Path, description = "Credential id (base64url)")),
    responses((status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "not a band", content_type = "application/problem+json")))]
pub async fn reassign_user_band(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path((id, credential)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let cred_id = credential_id(&credential)?;
    keys::reassign_band(&c, &p, parse_id(&id)?, &cred_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A key flagged for collection was handed back: removes it and ends the sessions opened with
/// it (audited `credential.returned`). Needs `users:write`; a key not flagged is refused (409
/// `not_flagged_for_collection`).
#[utoipa::path(post, path = "/api/v1/users/{id}/credentials/{credentialId}/returned", tag = "credentials",
    params(("id" = String, Path), ("credentialId" = String, Path, description = "Credential id (base64url)")),
    responses((status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "not flagged for collection", content_type = "application/problem+json")))]
pub async fn return_user_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path((id, credential)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let cred_id = credential_id(&credential)?;
    keys::mark_returned(&c, &p, parse_id(&id)?, &cred_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes all of a user's keys and ends all their sessions. Needs `users:write`.
#[utoipa::path(delete, path = "/api/v1/users/{id}/credentials", tag = "credentials", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn reset_user_credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    keys::reset(&c, &p, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
