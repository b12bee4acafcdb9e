//! API clients. Only an administrator's session manages them: a client cannot mint others.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::clients;
use keyfleet_domain::ids::SecretId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ctx, parse_id};
use crate::api::{ClientCreated, ClientJson, CreateClientRequest, SecretRotated, UpdateClientRequest};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::{AppState, rfc3339};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_client, list_clients))
        .routes(routes!(update_client, delete_client))
        .routes(routes!(rotate_secret))
        .routes(routes!(revoke_secret))
}

const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// Creates a client; the secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/clients", tag = "clients", request_body = CreateClientRequest,
    responses((status = 201, body = ClientCreated), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn create_client(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Json(body): Json<CreateClientRequest>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let created = clients::create(&c, &p, &body.name, &body.scopes).await?;
    let (_, secrets) = clients::get(&c, &p, &created.client.client_id).await?;
    let body = ClientCreated {
        client: ClientJson::new(&created.client, &secrets),
        client_secret: created.secret,
    };
    Ok((StatusCode::CREATED, [NO_STORE], axum::Json(body)).into_response())
}

/// Lists clients with their secrets' ids and dates (never the secrets).
#[utoipa::path(get, path = "/api/v1/clients", tag = "clients", responses((status = 200, body = Vec<ClientJson>)))]
pub async fn list_clients(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Vec<ClientJson>>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let all = clients::list(&c, &p).await?;
    Ok(axum::Json(
        all.iter()
            .map(|(client, secrets)| ClientJson::new(client, secrets))
            .collect(),
    ))
}

/// Enables or disables a client; a disabled client's tokens stop working at once.
#[utoipa::path(patch, path = "/api/v1/clients/{clientId}", tag = "clients", params(("clientId" = String, Path)),
    request_body = UpdateClientRequest, responses((status = 200, body = ClientJson), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn update_client(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(client_id): Path<String>,
    Json(body): Json<UpdateClientRequest>,
) -> Result<axum::Json<ClientJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    clients::set_enabled(&c, &p, &client_id, body.enabled).await?;
    let (client, secrets) = clients::get(&c, &p, &client_id).await?;
    Ok(axum::Json(ClientJson::new(&client, &secrets)))
}

/// Deletes a client and its secrets.
#[utoipa::path(delete, path = "/api/v1/clients/{clientId}", tag = "clients", params(("clientId" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_client(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    clients::delete(&c, &p, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotates the secret: adds a new one (in this answer only) and phases the old one out after
/// the configured grace period, so deployments can switch without downtime.
#[utoipa::path(post, path = "/api/v1/clients/{clientId}/secrets", tag = "clients", params(("clientId" = String, Path)),
    responses((status = 201, body = SecretRotated), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let r = clients::rotate(&c, &p, &client_id).await?;
    let body = SecretRotated {
        secret_id: r.id.to_string(),
        client_secret: r.secret,
        previous_secrets_expire_at: rfc3339(r.previous_expire_at),
    };
    Ok((StatusCode::CREATED, [NO_STORE], axum::Json(body)).into_response())
}

/// Revokes one secret at once.
#[utoipa::path(delete, path = "/api/v1/clients/{clientId}/secrets/{secretId}", tag = "clients",
    params(("clientId" = String, Path), ("secretId" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path((client_id, secret_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let id: SecretId = parse_id(&secret_id)?;
    clients::revoke_secret(&c, &p, &client_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
