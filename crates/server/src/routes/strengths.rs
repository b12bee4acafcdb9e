//! Authentication strengths: `GET|POST /api/v1/authentication-strengths`,
//! `GET|PATCH|DELETE /api/v1/authentication-strengths/{id}`. Reading needs an administrator
//! or helpdesk session; changing needs an administrator (`keyfleet_core::strengths` holds the
//! rules).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::strengths::{self, NewStrength, StrengthChange};
use keyfleet_domain::policy::format_aaguid;
use keyfleet_domain::report::Aaguid;
use keyfleet_domain::strength::AuthenticationStrength;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ctx;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::{AppState, rfc3339};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_strength, list_strengths))
        .routes(routes!(get_strength, update_strength, delete_strength))
}

/// An authentication strength.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrengthJson {
    /// Stable id (`hardware-protected`).
    pub id: String,
    /// What people see.
    pub name: String,
    /// The `acr` value ID tokens carry when a session meets it.
    pub acr: String,
    /// The sign-in must have verified the user.
    pub require_user_verification: bool,
    /// The key's attestation must have reached a trusted root.
    pub require_attestation: bool,
    /// Synced passkeys meet it.
    pub allow_synced: bool,
    /// Only these models meet it (with a trusted attestation); absent: any model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_aaguids: Option<Vec<String>>,
    /// Built in: cannot be changed or deleted.
    pub built_in: bool,
    /// Creation time (absent for the built-in ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Last change (absent for the built-in ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl From<&AuthenticationStrength> for StrengthJson {
    fn from(s: &AuthenticationStrength) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            acr: s.acr.clone(),
            require_user_verification: s.require_user_verification,
            require_attestation: s.require_attestation,
            allow_synced: s.allow_synced,
            allowed_aaguids: s
                .allowed_aaguids
                .as_ref()
                .map(|l| l.iter().map(format_aaguid).collect()),
            built_in: s.built_in,
            created_at: (!s.built_in).then(|| rfc3339(s.created_at)),
            updated_at: (!s.built_in).then(|| rfc3339(s.updated_at)),
        }
    }
}

/// A strength to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateStrengthRequest {
    /// Stable id: 1–64 lower-case letters, digits and hyphens, starting with a letter.
    pub id: String,
    /// What people see (1–100 characters, unique).
    pub name: String,
    /// The `acr` value (1–255 printable ASCII characters, no spaces or quotes; unique).
    pub acr: String,
    /// The sign-in must have verified the user.
    #[serde(default)]
    pub require_user_verification: bool,
    /// The key's attestation must have reached a trusted root.
    #[serde(default)]
    pub require_attestation: bool,
    /// Whether synced passkeys meet it.
    #[serde(default = "yes")]
    pub allow_synced: bool,
    /// Only these models (AAGUIDs, 1–500) meet it; absent or null: any model.
    #[serde(default)]
    pub allowed_aaguids: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

/// A change to a strength: each member given replaces the stored value; `allowedAaguids:
/// null` lifts the model restriction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateStrengthRequest {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New `acr` value.
    #[serde(default)]
    pub acr: Option<String>,
    /// New UV requirement.
    #[serde(default)]
    pub require_user_verification: Option<bool>,
    /// New attestation requirement.
    #[serde(default)]
    pub require_attestation: Option<bool>,
    /// Whether synced passkeys meet it.
    #[serde(default)]
    pub allow_synced: Option<bool>,
    /// New allow list, or null to lift it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_aaguids: Option<Option<Vec<String>>>,
}

/// A member that is present (possibly null) is `Some`; an absent one stays `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn aaguids(list: &[String]) -> Result<Vec<Aaguid>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            uuid::Uuid::parse_str(s).map(|u| *u.as_bytes()).map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    format!("allowedAaguids[{i}] is not an AAGUID (a UUID)"),
                )
            })
        })
        .collect()
}

/// Creates an authentication strength.
#[utoipa::path(post, path = "/api/v1/authentication-strengths", tag = "strengths",
    request_body = CreateStrengthRequest,
    responses((status = 201, body = StrengthJson),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_strength(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Json(body): Json<CreateStrengthRequest>,
) -> Result<Response, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let allowed_aaguids = body.allowed_aaguids.as_deref().map(aaguids).transpose()?;
    let new = NewStrength {
        id: body.id,
        name: body.name,
        acr: body.acr,
        require_user_verification: body.require_user_verification,
        require_attestation: body.require_attestation,
        allow_synced: body.allow_synced,
        allowed_aaguids,
    };
    let s = strengths::create(&c, &p, new).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/authentication-strengths/{}", s.id))],
        axum::Json(StrengthJson::from(&s)),
    )
        .into_response())
}

/// Lists the authentication strengths: the built-in ones first, then by name.
#[utoipa::path(get, path = "/api/v1/authentication-strengths", tag = "strengths",
    responses((status = 200, body = Vec<StrengthJson>)))]
pub async fn list_strengths(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<axum::Json<Vec<StrengthJson>>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let all = strengths::list(&c, &p).await?;
    Ok(axum::Json(all.iter().map(StrengthJson::from).collect()))
}

/// One authentication strength.
#[utoipa::path(get, path = "/api/v1/authentication-strengths/{id}", tag = "strengths",
    params(("id" = String, Path)),
    responses((status = 200, body = StrengthJson),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_strength(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<StrengthJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let s = strengths::get(&c, &p, &id).await?;
    Ok(axum::Json(StrengthJson::from(&s)))
}

/// Changes an authentication strength (not a built-in one).
#[utoipa::path(patch, path = "/api/v1/authentication-strengths/{id}", tag = "strengths",
    params(("id" = String, Path)), request_body = UpdateStrengthRequest,
    responses((status = 200, body = StrengthJson),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn update_strength(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateStrengthRequest>,
) -> Result<axum::Json<StrengthJson>, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    let allowed_aaguids = match body.allowed_aaguids {
        None => None,
        Some(None) => Some(None),
        Some(Some(list)) => Some(Some(aaguids(&list)?)),
    };
    let change = StrengthChange {
        name: body.name,
        acr: body.acr,
        require_user_verification: body.require_user_verification,
        require_attestation: body.require_attestation,
        allow_synced: body.allow_synced,
        allowed_aaguids,
    };
    let s = strengths::update(&c, &p, &id, change).await?;
    Ok(axum::Json(StrengthJson::from(&s)))
}

/// Deletes an authentication strength (not a built-in one).
#[utoipa::path(delete, path = "/api/v1/authentication-strengths/{id}", tag = "strengths",
    params(("id" = String, Path)),
    responses((status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_strength(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (c, p) = ctx(&state, &caller, &headers);
    strengths::delete(&c, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
