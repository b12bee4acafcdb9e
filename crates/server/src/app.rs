//! The router: every route module, the OpenAPI document, and the middleware every answer
//! goes through (request id, tracing span, body limit, security headers, problem fallbacks).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::routes;
use crate::state::AppState;

/// The header carrying the request id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Every JSON route with its OpenAPI description.
pub fn api_router() -> (Router<AppState>, OpenApi) {
    let (router, mut api) = OpenApiRouter::new()
        .merge(routes::health::router())
        .merge(routes::auth::router())
        .merge(routes::webauthn::router())
        .merge(routes::credentials::router())
        .merge(routes::onbehalf::router())
        .merge(routes::me::router())
        .merge(routes::users::router())
        .merge(routes::groups::router())
        .merge(routes::policies::router())
        .merge(routes::clients::router())
        .merge(routes::audit::router())
        .merge(routes::metadata::router())
        .merge(routes::oauth::router())
        .merge(routes::oidc::router())
        .merge(routes::applications::router())
        .merge(routes::strengths::router())
        .split_for_parts();
    api.info.title = "keyfleet".into();
    api.info.version = env!("CARGO_PKG_VERSION").into();
    api.info.description = Some(
        "FIDO2 security-key lifecycle management. Errors are application/problem+json with a stable `code`.".into(),
    );
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
            utoipa::openapi::security::ApiKeyValue::new(keyfleet_domain::session::COOKIE_NAME),
        )),
    );
    (router, api)
}

/// The whole application, ready to serve.
pub fn app(state: AppState) -> Router {
    let (router, api) = api_router();
    let doc = serde_json::to_vec(&api).expect("OpenAPI document serialises");
    let max_body = state.settings.max_body_bytes;
    // RFC 6797: only when every origin is https (a browser ignores it over http anyway, and
    // a mixed set would pin an http origin out).
    let state_hsts = Hsts(state.settings.secure_cookies);
    router
        .route("/api/openapi.json", get(move || openapi_json(doc.clone())))
        .merge(routes::scim::router())
        .merge(crate::web::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::web::page::with_navigation,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), cross_site_guard))
        .with_state(state)
        .layer(middleware::from_fn(run_to_completion))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state_hsts, security_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(middleware::from_fn(request_id))
}

async fn openapi_json(doc: Vec<u8>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(doc))
        .expect("static response")
}

async fn not_found(headers: HeaderMap, uri: Uri) -> Response {
    // A person following a broken link gets a page; programs get a problem document.
    if wants_page(&headers, &uri) {
        return crate::web::page::PageError::not_found().into_response();
    }
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response()
}

/// Refuses any state-changing request a browser marks as coming from another site, or whose
/// `Origin` is not one of ours (CSRF defence for every route, pages and JSON, signed in or
/// not; requests without `Origin`, such as API clients', pass on to the routes' own checks).
async fn cross_site_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The OAuth endpoints that no cookie authenticates (token, revocation, UserInfo), and
    // the form-posted authorization request (it changes no more than its GET twin: a code is
    // only ever sent to a registered redirect URI), are posted by other sites by design.
    let oauth_cross_site = matches!(
        req.uri().path(),
        "/oauth2/authorize" | "/oauth2/token" | "/oauth2/revoke" | "/oauth2/userinfo"
    );
    if !oauth_cross_site && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let h = req.headers();
        let cross_site = h
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        let foreign_origin = h.get(header::ORIGIN).is_some_and(|o| {
            !state
                .settings
                .origins
                .iter()
                .any(|allowed| allowed.as_bytes() == o.as_bytes())
        });
        if cross_site || foreign_origin {
            tracing::info!(cross_site, foreign_origin, "cross-site request refused");
            let path = req.uri().path();
            if !path.starts_with("/api/") && !path.starts_with("/oauth2/") {
                return crate::web::csrf::refused("cross-site");
            }
            return ApiError::forbidden(
                "origin_mismatch",
                "requests from other sites may not change anything here",
            )
            .into_response();
        }
    }
    next.run(req).await
}

async fn method_not_allowed(headers: HeaderMap, uri: Uri) -> Response {
    if wants_page(&headers, &uri) {
        return crate::web::page::PageError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "This link does not lead to a page",
            "It is the address of a form's button. Go back to the page and use the button there.",
        )
        .into_response();
    }
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
    .into_response()
}

/// Whether a person's browser is asking (for an HTML error page rather than a problem).
fn wants_page(headers: &HeaderMap, uri: &Uri) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
        && !uri.path().starts_with("/api/")
        && !uri.path().starts_with("/oauth2/")
}

/// Runs each handler in its own task, so a client that goes away mid-request cannot cancel it
/// halfway through a database transaction (a cancelled transaction could leave a pooled
/// connection holding SQLite's write lock). The answer is simply not delivered.
async fn run_to_completion(req: Request, next: Next) -> Response {
    let span = tracing::Span::current();
    match tokio::spawn(tracing::Instrument::instrument(next.run(req), span)).await {
        Ok(res) => res,
        Err(e) => ApiError::internal(format!("handler task failed: {e}")).into_response(),
    }
}

/// Accepts a caller's request id if it is short and plain (no log injection), else makes one;
/// puts it on the request (for the span and the audit log) and on the response.
async fn request_id(mut req: Request, next: Next) -> Response {
    let incoming = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|v| {
        !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    });
    let id = match incoming {
        Some(v) => v.to_owned(),
        None => keyfleet_domain::secret::random_token(12, &mut rand_core::OsRng),
    };
    let value = HeaderValue::from_str(&id).expect("request id is plain ASCII");
    req.headers_mut().insert(REQUEST_ID, value.clone());
    let mut res = next.run(req).await;
    res.headers_mut().insert(REQUEST_ID, value);
    res
}

/// Headers every answer carries. JSON answers get a CSP that forbids everything; pages set
/// their own (`web::page::PAGE_CSP`), which this keeps.
/// Whether to send `Strict-Transport-Security`.
#[derive(Debug, Clone, Copy)]
struct Hsts(bool);

async fn security_headers(State(hsts): State<Hsts>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if hsts.0 {
        // Two years, the preload list's minimum; no includeSubDomains: other hosts of the
        // domain are not keyfleet's to decide.
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000"),
        );
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with
    // form posts, and the CSRF defence needs the real origin. Nothing leaks to other sites.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
