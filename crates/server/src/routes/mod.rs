//! HTTP routes, one module per area, each with its own `router()`.

pub mod applications;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod credentials;
pub mod groups;
pub mod health;
pub mod me;
pub mod metadata;
pub mod oauth;
pub mod oidc;
pub mod onbehalf;
pub mod policies;
pub mod scim;
pub mod strengths;
pub mod users;
pub mod webauthn;

use axum::http::HeaderMap;
use keyfleet_core::Ctx;
use keyfleet_core::access::Principal;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A use-case context for a request by `caller`, and who they are to the core's rules.
pub fn ctx<'a>(state: &'a AppState, caller: &Caller, headers: &HeaderMap) -> (Ctx<'a>, Principal) {
    (state.ctx(caller.actor(), headers), caller.principal())
}

/// Parses a UUID path segment; a malformed one is simply not found.
pub fn parse_id<T: std::str::FromStr>(s: &str) -> Result<T, ApiError> {
    s.parse().map_err(|_| ApiError::not_found())
}

/// The `Set-Cookie` value for a session token.
pub fn session_cookie(state: &AppState, token: &str, max_age_s: i64) -> String {
    let secure = if state.settings.secure_cookies { "; Secure" } else { "" };
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}",
        keyfleet_domain::session::COOKIE_NAME
    )
}

/// The `Set-Cookie` value for a session just opened at `now`; it expires with the session.
pub fn new_session_cookie(
    state: &AppState,
    new: &keyfleet_domain::session::NewSession,
    now: keyfleet_domain::Timestamp,
) -> String {
    let max_age_s = (new.session.expires_at.as_millis() - now.as_millis()) / 1000;
    session_cookie(state, &new.token, max_age_s)
}

/// The `Set-Cookie` value that clears the session cookie.
pub fn clear_cookie(state: &AppState) -> String {
    session_cookie(state, "", 0)
}
