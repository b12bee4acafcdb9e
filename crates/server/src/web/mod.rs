//! Server-rendered pages: sign-in, the worker's "Security info" page, and the admin console.
//!
//! Pages call the same use cases as the JSON routes (`keyfleet_core`), so both validate, audit
//! and enforce roles alike. Templates live in `crates/server/templates` (askama: compiled in,
//! HTML-escaped by default); scripts and styles in `crates/server/assets`, served by keyfleet
//! itself. Every form POST passes [`csrf::guard`]; every page carries [`page::PAGE_CSP`].

pub mod admin;
pub mod assets;
pub mod consent;
pub mod csrf;
pub mod csv;
pub mod format;
pub mod login;
pub mod models;
pub mod page;
pub mod security_info;

use axum::Router;
use axum::http::HeaderMap;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::session_cookie;
use crate::state::AppState;

/// Every page route, behind the CSRF guard.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::page))
        .route("/login/tap", post(login::tap))
        .route("/logout", post(login::logout))
        .merge(security_info::router())
        .merge(consent::router())
        .merge(admin::router())
        .layer(middleware::from_fn_with_state(state, csrf::guard))
        .merge(assets::router())
        .merge(models::router())
}

/// `/`: the security-info page for someone with a session cookie, else sign-in.
async fn home(headers: HeaderMap) -> Response {
    let to = if session_cookie(&headers).is_some() {
        "/security-info"
    } else {
        "/login"
    };
    page::see_other(to).into_response()
}
