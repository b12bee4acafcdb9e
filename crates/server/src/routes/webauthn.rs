//! Signing in with a security key (the ceremony contract in product.md).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_domain::audit::Actor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ctx, new_session_cookie};
use crate::api::{CeremonyOptions, MeJson, SessionJson, SignInOptionsRequest, SignInVerifyRequest, UserJson};
use crate::auth::check_origin;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, OptionalJson};
use crate::service::authentication::{self, Limited, SignInLimits};
use crate::service::webauthn::FailureClass;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in_options))
        .routes(routes!(sign_in_verify))
}

/// Starts a sign-in. With `username`, the options list that user's keys; without, the
/// sign-in is username-less (discoverable credentials).
#[utoipa::path(post, path = "/api/v1/auth/webauthn/options", tag = "auth", request_body = SignInOptionsRequest,
    responses((status = 200, body = CeremonyOptions),
        (status = 429, body = Problem, description = "too many sign-ins started from this address", content_type = "application/problem+json")))]
pub async fn sign_in_options(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<SignInOptionsRequest>,
) -> Result<axum::Json<CeremonyOptions>, ApiError> {
    let body = body.unwrap_or_default();
    let c = ctx(&state, Actor::Anonymous, &headers);
    let limits = SignInLimits::from_settings(&state.settings);
    if let Some(limited) = authentication::count_start(&c, limits, &peer.ip().to_string()).await? {
        return Err(too_many(
            limited,
            "too_many_requests",
            "too many sign-ins started from this address; wait a minute",
        ));
    }
    let (ceremony, options) =
        authentication::start(&c, &state.settings, &state.webauthn, body.username.as_deref()).await?;
    Ok(axum::Json(CeremonyOptions {
        ceremony_id: ceremony.id.to_string(),
        public_key: options,
    }))
}

/// Finishes a sign-in and opens a session (cookie).
#[utoipa::path(post, path = "/api/v1/auth/webauthn/verify", tag = "auth", request_body = SignInVerifyRequest,
    responses((status = 200, body = MeJson, description = "Signed in; the session cookie is set"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, description = "too many failed sign-ins from this address", content_type = "application/problem+json")))]
pub async fn sign_in_verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(raw): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    if headers.contains_key(header::ORIGIN) {
        check_origin(&state, &axum::http::Method::POST, &headers)?;
    }
    let c = ctx(&state, Actor::Anonymous, &headers);
    let limits = SignInLimits::from_settings(&state.settings);
    let addr = peer.ip().to_string();
    if let Some(limited) = authentication::check_failures(&c, limits, &addr).await? {
        return Err(too_many(
            limited,
            "too_many_attempts",
            "too many failed sign-ins from this address; wait before trying again",
        ));
    }
    // Read in two steps so that a body of the wrong shape (A1) still consumes its ceremony.
    let ceremony_id = raw.get("ceremonyId").and_then(|v| v.as_str()).map(str::to_owned);
    let body: SignInVerifyRequest = match serde_json::from_value(raw) {
        Ok(body) => body,
        Err(e) => {
            let refusal = crate::service::webauthn::invalid_shape(&e);
            if let Some(id) = ceremony_id {
                authentication::abandon(&c, &id, refusal.code).await?;
            }
            authentication::count_failure(&c, limits, &addr).await?;
            return Err(refusal.into());
        }
    };
    let done = match authentication::finish(
        &c,
        &state.settings,
        &body.ceremony_id,
        &body.credential,
        Some(addr.clone()),
    )
    .await
    {
        Ok(done) => done,
        Err(e) => {
            if e.class != FailureClass::Store {
                authentication::count_failure(&c, limits, &addr).await?;
            }
            return Err(e.into());
        }
    };
    let groups = state.stores.groups.list_user_groups(done.user.id).await?;
    let me = MeJson {
        user: UserJson::from(&done.user),
        session: SessionJson::new(&done.session.session, true),
        groups: groups.into_iter().map(|g| g.name).collect(),
    };
    let cookie = new_session_cookie(&state, &done.session, c.now);
    Ok(([(header::SET_COOKIE, cookie)], axum::Json(me)).into_response())
}

fn too_many(limited: Limited, code: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, detail).with_header(header::RETRY_AFTER, &limited.0.to_string())
}
