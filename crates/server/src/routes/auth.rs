//! Signing in with a temporary access pass, and signing out.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_domain::audit::Actor;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{clear_cookie, new_session_cookie};
use crate::api::{MeJson, SessionJson, TapSignInRequest, UserJson};
use crate::auth::{SessionCaller, check_origin};
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::AppState;
use keyfleet_core::identity::sessions;
use keyfleet_core::identity::taps::{self, TapSignIn, TapSignInError};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tap_sign_in))
        .routes(routes!(logout))
}

/// Signs in with a temporary access pass. The session may only read `/api/v1/me` and
/// register security keys. Every failure looks alike (401 `invalid_tap`); too many failures
/// per username or per client address give 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/tap", tag = "auth", request_body = TapSignInRequest,
    responses(
        (status = 200, body = MeJson, description = "Signed in; the session cookie is set"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json",
            description = "`account_disabled`: the pass is right but the account is disabled"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn tap_sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<TapSignInRequest>,
) -> Result<Response, ApiError> {
    // A login form posted from another site must not sign the browser in (login CSRF).
    if headers.contains_key(header::ORIGIN) {
        check_origin(&state, &axum::http::Method::POST, &headers)?;
    }
    let input = TapSignIn {
        username: &body.username,
        code: &body.code,
        client_addr: Some(peer.ip().to_string()),
    };
    let c = state.ctx(Actor::Anonymous, &headers);
    match taps::sign_in(&c, input).await {
        Ok((user, new)) => {
            let me = MeJson {
                user: UserJson::from(&user),
                session: SessionJson::new(&new.session, true),
                groups: Vec::new(),
            };
            let cookie = new_session_cookie(&state, &new, c.now);
            Ok((
                [
                    (header::SET_COOKIE, cookie),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                axum::Json(me),
            )
                .into_response())
        }
        Err(TapSignInError::Invalid) => Err(ApiError::unauthorized(
            "invalid_tap",
            "the username or temporary access pass is not valid",
        )),
        Err(TapSignInError::Disabled) => Err(ApiError::forbidden(
            "account_disabled",
            "this account is disabled; ask your administrator or helpdesk",
        )),
        Err(TapSignInError::Limited(retry)) => Err(ApiError::too_many("too_many_attempts", retry)),
        Err(TapSignInError::Store(e)) => Err(e.into()),
    }
}

/// Query of a sign-out.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LogoutQuery {
    /// Sign out of every session of this user, on every device.
    #[serde(default)]
    pub everywhere: bool,
}

/// Signs out: ends this session (or, with `everywhere=true`, all of the user's sessions) and
/// clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", params(LogoutQuery),
    responses((status = 204, description = "Signed out"), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn logout(
    State(state): State<AppState>,
    Query(q): Query<LogoutQuery>,
    headers: HeaderMap,
    caller: SessionCaller,
) -> Result<Response, ApiError> {
    let c = state.ctx(Actor::User(caller.user.id), &headers);
    sessions::sign_out(&c, &caller.principal(), q.everywhere).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear_cookie(&state))]).into_response())
}
