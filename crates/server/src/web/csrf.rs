//! Cross-site request forgery defence for the pages' forms.
//!
//! Every state-changing page request must (1) come from one of our origins (`Origin` header
//! present and allowed, `Sec-Fetch-Site` not `cross-site`) and (2) carry the `_csrf` field
//! whose value is bound to the browser's session cookie. The session cookie is also
//! `SameSite=Lax`. JSON routes get the origin half of this check from `app::cross_site_guard`
//! and `auth::check_origin`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::page::{CSRF_FIELD, PageError, csrf_token};
use crate::auth::session_cookie;
use crate::state::AppState;

/// The page shown for a refused form.
pub fn refused(why: &str) -> Response {
    tracing::info!(reason = why, "page form refused (CSRF defence)");
    PageError::new(
        StatusCode::FORBIDDEN,
        "This form could not be sent",
        "It was sent from another site, or the page it came from is out of date. Nothing was changed. \
         Go back, reload the page and try again.",
    )
    .into_response()
}

/// Whether the request's `Origin` and `Sec-Fetch-Site` say it comes from one of our pages.
pub fn same_origin(state: &AppState, headers: &axum::http::HeaderMap) -> Result<(), &'static str> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Err("cross-site");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(o) if state.settings.origins.iter().any(|allowed| allowed == o) => Ok(()),
        Some(_) => Err("origin mismatch"),
        None => Err("no origin"),
    }
}

/// Middleware on the page routes: checks origin and token on every non-GET request.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if let Err(why) = same_origin(&state, req.headers()) {
        return refused(why);
    }
    let expected = csrf_token(&state.csrf_key, session_cookie(req.headers()));
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, state.settings.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return PageError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too much text",
                "The form held more than keyfleet accepts. Nothing was changed.",
            )
            .into_response();
        }
    };
    let sent = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v));
    match sent {
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => {
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        Some(_) => refused("token mismatch"),
        None => refused("no token"),
    }
}
