//! Security keys: registration (for a signed-in user or a TAP session), the worker's own
//! keys, and administration of a user's keys. Every change is audited.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_domain::audit::Actor;
use keyfleet_domain::client::Scope;
use keyfleet_domain::user::User;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{authority, ctx, parse_id};
use crate::api::{CeremonyOptions, CredentialJson, RegistrationVerifyRequest, RenameCredentialRequest};
use crate::auth::{Caller, SessionCaller, require_scope};
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::service::credentials::{self, Removal};
use crate::service::webauthn::unb64;
use crate::service::{registration, users, webauthn};
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
    let c = ctx(&state, Actor::User(caller.user.id), &headers);
    let (ceremony, options) = registration::start(&c, &state.settings, &caller.user, &caller.session).await?;
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
    let c = ctx(&state, Actor::User(caller.user.id), &headers);
    // Read in two steps so that a body of the wrong shape (R1) still consumes its ceremony.
    let ceremony_id = raw.get("ceremonyId").and_then(|v| v.as_str()).map(str::to_owned);
    let body: RegistrationVerifyRequest = match serde_json::from_value(raw) {
        Ok(body) => body,
        Err(e) => {
            let refusal = webauthn::invalid_shape(&e);
            if let Some(id) = ceremony_id {
                registration::abandon(&c, &caller.user, &caller.session, &id, refusal.code).await?;
            }
            return Err(refusal.into());
        }
    };
    let input = registration::Finish {
        ceremony_id: &body.ceremony_id,
        nickname: &body.nickname,
        credential: &body.credential,
    };
    let cred = registration::finish(
        &c,
        &state.settings,
        &state.webauthn,
        &caller.user,
        &caller.session,
        input,
    )
    .await?;
    let location = format!("/api/v1/me/credentials/{}", crate::service::webauthn::b64(&cred.id));
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
    caller: SessionCaller,
) -> Result<axum::Json<Vec<CredentialJson>>, ApiError> {
    caller.require_full()?;
    let creds = state.stores.credentials.list_user_credentials(caller.user.id).await?;
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
    caller.require_full()?;
    let id = credential_id(&id)?;
    let c = ctx(&state, Actor::User(caller.user.id), &headers);
    let cred = credentials::rename(&c, caller.user.id, &id, &body.nickname).await?;
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
    caller.require_full()?;
    let id = credential_id(&id)?;
    let c = ctx(&state, Actor::User(caller.user.id), &headers);
    let how = Removal::Ordinary {
        ends_sessions: state.settings.removal_ends_sessions,
    };
    credentials::remove_own(&c, caller.user.id, &id, how).await?;
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
    caller.require_full()?;
    let id = credential_id(&id)?;
    let c = ctx(&state, Actor::User(caller.user.id), &headers);
    credentials::remove_own(&c, caller.user.id, &id, Removal::Lost).await?;
    if caller.session.credential_id.as_deref() == Some(id.as_slice()) {
        return Ok((
            StatusCode::NO_CONTENT,
            [(header::SET_COOKIE, super::clear_cookie(&state))],
        )
            .into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn target_user(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    scope: Scope,
) -> Result<User, ApiError> {
    require_scope(state, caller, scope, headers).await?;
    let c = ctx(state, caller.actor(), headers);
    if scope == Scope::UsersRead {
        return state
            .stores
            .users
            .get_user(parse_id(id)?)
            .await?
            .ok_or_else(ApiError::not_found);
    }
    Ok(users::get_for_change(&c, authority(caller), parse_id(id)?).await?)
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
    let user = target_user(&state, &caller, &headers, &id, Scope::UsersRead).await?;
    let creds = state.stores.credentials.list_user_credentials(user.id).await?;
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
    let user = target_user(&state, &caller, &headers, &id, Scope::UsersWrite).await?;
    let cred_id = credential_id(&credential)?;
    credentials::remove_for_user(&ctx(&state, caller.actor(), &headers), user.id, &cred_id).await?;
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
    let user = target_user(&state, &caller, &headers, &id, Scope::UsersWrite).await?;
    credentials::reset(&ctx(&state, caller.actor(), &headers), user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
