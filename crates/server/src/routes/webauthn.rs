//! Signing in with a security key (the ceremony contract in product.md).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::credentials::sign_in;
use keyfleet_domain::audit::Actor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::new_session_cookie;
use crate::api::{CeremonyOptions, MeJson, SessionJson, SignInOptionsRequest, SignInVerifyRequest, UserJson};
use crate::auth::check_origin;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, OptionalJson};
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
    let c = state.ctx(Actor::Anonymous, &headers);
    let (ceremony_id, options) = sign_in::start(&c, body.username.as_deref(), &peer.ip().to_string()).await?;
    Ok(axum::Json(CeremonyOptions {
        ceremony_id,
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
    let c = state.ctx(Actor::Anonymous, &headers);
    let done = sign_in::finish(&c, raw, &peer.ip().to_string()).await?;
    let me = MeJson {
        user: UserJson::from(&done.user),
        session: SessionJson::new(&done.session.session, true),
        groups: done.groups,
    };
    let cookie = new_session_cookie(&state, &done.session, c.now);
    Ok(([(header::SET_COOKIE, cookie)], axum::Json(me)).into_response())
}
