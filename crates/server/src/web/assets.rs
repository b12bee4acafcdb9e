//! Static assets (styles, scripts, icon), compiled into the binary and served by keyfleet
//! itself: no CDN, nothing third-party.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::page::PageError;
use crate::state::AppState;

/// Every asset: name, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "keyfleet.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/keyfleet.css"),
    ),
    (
        "webauthn.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/webauthn.js"),
    ),
    (
        "login.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/login.js"),
    ),
    (
        "security-info.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/security-info.js"),
    ),
    (
        "copy.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/copy.js"),
    ),
    (
        "localtime.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/localtime.js"),
    ),
    ("icon.svg", "image/svg+xml", include_str!("../../assets/icon.svg")),
];

/// `/assets/{name}` and `/favicon.ico`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/{name}", get(asset))
        .route("/favicon.ico", get(|| asset(Path("icon.svg".to_owned()))))
}

async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, kind, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return PageError::not_found().into_response();
    };
    let mut res = (StatusCode::OK, *body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // Short: a new release's assets reach browsers within minutes.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    res
}
