//! Single sign-on applications (OpenID Connect clients). Only an administrator's session (or
//! the CLI) manages them; helpdesk staff may read them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::oidc::applications::{self, ApplicationInput, ApplicationPatch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ctx;
use crate::api::{ApplicationCreated, ApplicationJson, CreateApplicationRequest, UpdateApplicationRequest};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::{AppState, rfc3339};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_application, list_applications))
        .routes(routes!(get_application, update_application, delete_application))
        .routes(routes!(rotate_application_secret))
}

/// Creates an application; a confidential one's secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications", request_body = CreateApplicationRequest,
    responses((status = 201, body = ApplicationCreated), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn create_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Json(body): Json<CreateApplicationRequest>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let input = ApplicationInput {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        client_type: body.client_type,
        scopes: body.scopes,
        access_token_lifetime_s: body.access_token_lifetime,
        refresh_token_lifetime_s: body.refresh_token_lifetime,
        authentication_strength: body.authentication_strength,
        backchannel_logout_uri: body.backchannel_logout_uri,
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        jwks: body.jwks,
        third_party: body.third_party,
    };
    let created = applications::create(&c, &p, input).await?;
    let location = format!("/api/v1/applications/{}", created.application.client_id);
    let body = ApplicationCreated {
        application: ApplicationJson::from(&created.application),
        client_secret: created.secret,
    };
    Ok((
        StatusCode::CREATED,
        [
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::LOCATION, location),
        ],
        axum::Json(body),
    )
        .into_response())
}

/// Lists applications (never a secret).
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications", responses((status = 200, body = Vec<ApplicationJson>)))]
pub async fn list_applications(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Vec<ApplicationJson>>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let all = applications::list(&c, &p).await?;
    Ok(axum::Json(all.iter().map(ApplicationJson::from).collect()))
}

/// One application.
#[utoipa::path(get, path = "/api/v1/applications/{clientId}", tag = "applications", params(("clientId" = String, Path)),
    responses((status = 200, body = ApplicationJson), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<axum::Json<ApplicationJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let app = applications::get(&c, &p, &client_id).await?;
    Ok(axum::Json(ApplicationJson::from(&app)))
}

/// Changes an application's settings; nothing changes when any field is refused.
#[utoipa::path(patch, path = "/api/v1/applications/{clientId}", tag = "applications", params(("clientId" = String, Path)),
    request_body = UpdateApplicationRequest,
    responses((status = 200, body = ApplicationJson), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn update_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(client_id): Path<String>,
    Json(body): Json<UpdateApplicationRequest>,
) -> Result<axum::Json<ApplicationJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let patch = ApplicationPatch {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        scopes: body.scopes,
        access_token_lifetime_s: body.access_token_lifetime,
        refresh_token_lifetime_s: body.refresh_token_lifetime,
        authentication_strength: body.authentication_strength,
        backchannel_logout_uri: body.backchannel_logout_uri,
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        jwks: body.jwks,
        third_party: body.third_party,
    };
    let app = applications::update(&c, &p, &client_id, patch).await?;
    Ok(axum::Json(ApplicationJson::from(&app)))
}

/// Deletes an application; its grants and tokens stop working at once.
#[utoipa::path(delete, path = "/api/v1/applications/{clientId}", tag = "applications", params(("clientId" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    applications::delete(&c, &p, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A confidential application's new secret, shown this once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSecretRotated {
    /// The new secret.
    pub client_secret: String,
    /// When the earlier secret stops working (RFC 3339).
    pub previous_secret_expires_at: String,
}

/// Rotates a confidential application's secret: the new one is in this answer only; the
/// earlier one keeps working until the phase-out ends (as API clients' secrets), so the
/// application can switch without downtime.
#[utoipa::path(post, path = "/api/v1/applications/{clientId}/secrets", tag = "applications", params(("clientId" = String, Path)),
    responses((status = 201, body = ApplicationSecretRotated), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_application_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let r = keyfleet_core::oidc::client_auth::rotate_secret(&c, &p, &client_id).await?;
    let body = ApplicationSecretRotated {
        client_secret: r.secret,
        previous_secret_expires_at: rfc3339(r.previous_expires_at),
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response())
}
