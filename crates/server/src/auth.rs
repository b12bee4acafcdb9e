//! Who is calling: a session cookie or a bearer access token, and what they may do.
//!
//! Cookie-authenticated requests that change state must carry an `Origin` header naming one
//! of the configured origins (CSRF defence on top of `SameSite=Lax`). Bearer requests need no
//! such check: a browser never attaches a bearer token on its own.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use keyfleet_core::access::{Permission, Principal, authorize};
use keyfleet_core::clients;
use keyfleet_core::identity::sessions;
use keyfleet_domain::audit::Actor;
use keyfleet_domain::client::{ApiClient, Scope};
use keyfleet_domain::session::{COOKIE_NAME, Session, SessionKind};
use keyfleet_domain::user::{Role, User};

use crate::error::ApiError;
use crate::state::AppState;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A person with a session cookie.
    User {
        /// The user.
        user: Box<User>,
        /// Their session.
        session: Box<Session>,
    },
    /// An API client with a bearer token.
    Client {
        /// The client.
        client: Box<ApiClient>,
        /// Scopes the token carries.
        scopes: Vec<Scope>,
    },
}

impl Caller {
    /// The audit actor.
    pub fn actor(&self) -> Actor {
        match self {
            Caller::User { user, .. } => Actor::User(user.id),
            Caller::Client { client, .. } => Actor::Client(client.client_id.clone()),
        }
    }

    /// Who is asking, for the core's rules.
    pub fn principal(&self) -> Principal {
        match self {
            Caller::User { user, session } => Principal::for_session(user, session),
            Caller::Client { client, scopes } => Principal::Client {
                client_id: client.client_id.clone(),
                scopes: scopes.clone(),
            },
        }
    }

    /// The role, for people; `None` for API clients.
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::User { user, .. } => Some(user.role),
            Caller::Client { .. } => None,
        }
    }

    /// Whether the caller has `permission` (no audit; for what a page offers).
    pub fn may(&self, permission: Permission) -> bool {
        self.principal().may(permission)
    }
}

/// The client's address as the server sees it.
pub fn client_addr(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
}

/// The request id the middleware assigned.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The session token from the `Cookie` header, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE_NAME)
}

/// The value of the cookie `name` from the `Cookie` headers, if any.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// Refuses a state-changing, cookie-authenticated request whose `Origin` is missing or not
/// one of ours.
pub fn check_origin(state: &AppState, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(o) if state.settings.origins.iter().any(|allowed| allowed == o) => Ok(()),
        Some(_) => Err(ApiError::forbidden(
            "origin_mismatch",
            "the Origin header is not one of this server's origins",
        )),
        None => Err(ApiError::forbidden(
            "origin_required",
            "state-changing requests with a session cookie need an Origin header",
        )),
    }
}

async fn from_bearer(state: &AppState, value: &str) -> Result<Caller, ApiError> {
    let invalid = || {
        ApiError::unauthorized("invalid_token", "the access token is invalid or expired")
            .with_header(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(invalid)?;
    let ctx = state.core.ctx(Actor::Anonymous, None);
    match clients::from_token(&ctx, token.trim()).await? {
        Some((client, scopes)) => Ok(Caller::Client {
            client: Box::new(client),
            scopes,
        }),
        None => {
            tracing::info!("bearer token refused");
            Err(invalid())
        }
    }
}

async fn from_cookie(state: &AppState, parts: &Parts, token: &str) -> Result<Caller, ApiError> {
    let ctx = state.core.ctx(Actor::Anonymous, None);
    let Some((session, user)) = sessions::find(&ctx, token).await? else {
        return Err(ApiError::unauthorized(
            "session_expired",
            "the session has ended; sign in again",
        ));
    };
    check_origin(state, &parts.method, &parts.headers)?;
    Ok(Caller::User {
        user: Box::new(user),
        session: Box::new(session),
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let value = value
                .to_str()
                .map_err(|_| ApiError::unauthorized("invalid_token", "malformed Authorization header"))?;
            return from_bearer(state, value).await;
        }
        match session_cookie(&parts.headers) {
            Some(token) => from_cookie(state, parts, token).await,
            None => Err(ApiError::unauthorized(
                "unauthenticated",
                "sign in, or send an access token",
            )),
        }
    }
}

/// A person's session of any kind (full or TAP). API clients are refused.
pub struct SessionCaller {
    /// The user.
    pub user: User,
    /// The session.
    pub session: Session,
}

impl SessionCaller {
    /// Who is asking, for the core's rules.
    pub fn principal(&self) -> Principal {
        Principal::for_session(&self.user, &self.session)
    }

    /// Refuses a TAP session: it may only read `/api/v1/me` and register a key.
    pub fn require_full(&self) -> Result<(), ApiError> {
        if self.session.kind == SessionKind::Tap {
            return Err(ApiError::forbidden(
                "tap_session_restricted",
                "a temporary access pass session may only register a security key",
            ));
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::User { user, session } => Ok(SessionCaller {
                user: *user,
                session: *session,
            }),
            Caller::Client { .. } => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "session_required",
                "this route is for signed-in people",
            )),
        }
    }
}

/// Refuses `caller` unless it has `permission`; the core audits the refusal.
pub async fn require(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    permission: Permission,
) -> Result<(), ApiError> {
    let ctx = state.ctx(caller.actor(), headers);
    authorize(&ctx, &caller.principal(), permission).await?;
    Ok(())
}
