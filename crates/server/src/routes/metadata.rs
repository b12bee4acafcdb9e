//! Authenticator metadata (FIDO MDS3): its state and its entries. Reading needs
//! `ReadMetadata` (administrators and helpdesk; `keyfleet_core::metadata` holds the rules).

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use keyfleet_core::metadata;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ctx;
use crate::api::{AuthenticatorJson, MetadataStatusJson};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metadata_status))
        .routes(routes!(list_authenticators))
}

/// The last good BLOB (`no`, `nextUpdate`, stale?), the scheduled refresh's last run, the
/// newest failure and whether that is an alarm.
#[utoipa::path(get, path = "/api/v1/metadata/status", tag = "metadata",
    responses((status = 200, body = MetadataStatusJson),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn metadata_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<MetadataStatusJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let report = metadata::report(&c, &p).await?;
    Ok(axum::Json(MetadataStatusJson::from(&report)))
}

/// Filters of the entry list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthenticatorParams {
    /// Only this model (an AAGUID, 8-4-4-4-12 hex).
    pub aaguid: Option<String>,
    /// `true`: only models reported compromised.
    pub compromised: Option<bool>,
}

/// The metadata entries by AAGUID (the BLOB's and keyfleet's own), filtered.
#[utoipa::path(get, path = "/api/v1/metadata/authenticators", tag = "metadata", params(AuthenticatorParams),
    responses((status = 200, body = Vec<AuthenticatorJson>),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn list_authenticators(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Query(q): Query<AuthenticatorParams>,
) -> Result<axum::Json<Vec<AuthenticatorJson>>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let aaguid = q
        .aaguid
        .map(|a| {
            uuid::Uuid::parse_str(a.trim()).map(|u| *u.as_bytes()).map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_aaguid",
                    "aaguid must be a UUID (8-4-4-4-12 hex digits)",
                )
            })
        })
        .transpose()?;
    let entries = metadata::authenticators(&c, &p, aaguid, q.compromised.unwrap_or(false)).await?;
    Ok(axum::Json(entries.iter().map(AuthenticatorJson::from).collect()))
}
