//! Who is calling: a session cookie or a bearer access token, and what they may do.
//!
//! Cookie-authenticated requests that change state must carry an `Origin` header naming one
//! of the configured origins (CSRF defence on top of `SameSite=Lax`). Bearer requests need no
//! such check: a browser never attaches a bearer token on its own.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use keyfleet_domain::audit::{Actor, NewAuditEvent, Outcome};
use keyfleet_domain::client::{ApiClient, Scope};
use keyfleet_domain::session::{COOKIE_NAME, Session, SessionKind, token_hash};
use keyfleet_domain::user::{Role, User};

use crate::error::ApiError;
use crate::state::AppState;

/// Activity is written back at most this often per session, to keep reads cheap.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

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

    /// The role, for people; `None` for API clients.
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::User { user, .. } => Some(user.role),
            Caller::Client { .. } => None,
        }
    }

    /// Whether the caller may use `scope`. A TAP session may use none; a person's role grants
    /// a fixed set (administrators all, helpdesk users and audit reading, workers none).
    pub fn has_scope(&self, scope: Scope) -> bool {
        match self {
            Caller::Client { scopes, .. } => scopes.contains(&scope),
            Caller::User { user, session } => {
                session.kind == SessionKind::Full
                    && match user.role {
                        Role::Admin => true,
                        Role::Helpdesk => matches!(scope, Scope::UsersRead | Scope::UsersWrite | Scope::AuditRead),
                        Role::Worker => false,
                    }
            }
        }
    }

    /// Whether the caller is an administrator with a full session.
    pub fn is_admin(&self) -> bool {
        matches!(self, Caller::User { user, session } if user.role == Role::Admin && session.kind == SessionKind::Full)
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
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
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
    let now_s = state.now().as_millis() / 1000;
    let claims = state
        .keys
        .verify(
            token.trim(),
            &state.settings.issuer,
            &state.settings.token_audience(),
            now_s,
        )
        .map_err(|e| {
            tracing::info!(reason = %e, "bearer token refused");
            invalid()
        })?;
    // A disabled or deleted client's tokens stop working at once.
    let client = state
        .stores
        .clients
        .get_client(&claims.client_id)
        .await?
        .filter(|c| c.enabled)
        .ok_or_else(invalid)?;
    let scopes = claims
        .scope
        .split(' ')
        .filter_map(Scope::parse)
        .filter(|s| client.scopes.contains(s))
        .collect();
    Ok(Caller::Client {
        client: Box::new(client),
        scopes,
    })
}

async fn from_cookie(state: &AppState, parts: &Parts, token: &str) -> Result<Caller, ApiError> {
    let now = state.now();
    let Some((session, user)) = state.stores.sessions.find_live_session(&token_hash(token), now).await? else {
        return Err(ApiError::unauthorized(
            "session_expired",
            "the session has ended; sign in again",
        ));
    };
    check_origin(state, &parts.method, &parts.headers)?;
    if now.as_millis() - session.last_seen_at.as_millis() >= i64::try_from(TOUCH_EVERY.as_millis()).unwrap_or(0) {
        state.stores.sessions.touch_session(session.id, now).await?;
    }
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

/// Records a refused request in the audit log and returns the refusal.
pub async fn deny(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    detail: serde_json::Value,
    refusal: ApiError,
) -> Result<(), ApiError> {
    let event = NewAuditEvent::new(
        state.now(),
        &caller.actor(),
        "access.denied",
        None,
        request_id(headers).as_deref(),
    )
    .with_outcome(Outcome::Denied)
    .with_detail(detail.to_string());
    state.stores.audit.append(&event).await?;
    Err(refusal)
}

/// Refuses `caller` unless it may use `scope`, recording the refusal in the audit log.
pub async fn require_scope(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if caller.has_scope(scope) {
        return Ok(());
    }
    let (code, detail) = match caller {
        Caller::User { session, .. } if session.kind == SessionKind::Tap => (
            "tap_session_restricted",
            "a temporary access pass session may only register a security key".to_owned(),
        ),
        _ => ("insufficient_scope", format!("this needs the {scope} permission")),
    };
    let mut err = ApiError::forbidden(code, detail);
    if matches!(caller, Caller::Client { .. }) {
        err = err.with_header(
            header::WWW_AUTHENTICATE,
            &format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
        );
    }
    deny(
        state,
        caller,
        headers,
        serde_json::json!({ "scope": scope.as_str() }),
        err,
    )
    .await
}

/// Refuses `caller` unless it is an administrator's full session, recording the refusal.
pub async fn require_admin(state: &AppState, caller: &Caller, headers: &HeaderMap, what: &str) -> Result<(), ApiError> {
    if caller.is_admin() {
        return Ok(());
    }
    let err = ApiError::forbidden("admin_required", format!("only an administrator may {what}"));
    deny(state, caller, headers, serde_json::json!({ "needs": "admin" }), err).await
}
