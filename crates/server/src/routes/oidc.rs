//! Single sign-on: keyfleet as an OpenID Connect provider. Discovery, the authorization
//! endpoint (the browser's part), UserInfo, RP-initiated logout and token revocation; the
//! token endpoint's grants live with client credentials in [`super::oauth`].
//!
//! Errors before the redirect URI is proven are an error page, never a redirect (RFC 9700
//! §4.11); after, they go back to the application with `iss` (RFC 9207). Every redirect is
//! 303.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_core::oidc::consent::Decision;
use keyfleet_core::oidc::{self, AuthorizeOutcome, AuthorizeParams, BrowserSession, LogoutOutcome};
use keyfleet_domain::audit::Actor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::oauth::{self, OAuthError};
use crate::error::ApiError;
use crate::routes::clear_cookie;
use crate::state::AppState;
use crate::web::page::{PageError, Viewer, see_other};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(authorize_get, authorize_post))
        .routes(routes!(userinfo_get, userinfo_post))
        .routes(routes!(logout))
        .routes(routes!(revoke))
}

/// The OpenID Provider metadata (OpenID Connect Discovery 1.0 §3).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oidc",
    responses((status = 200, body = Object, description = "OpenID Provider metadata")))]
pub async fn discovery(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    let iss = &state.settings.issuer;
    axum::Json(serde_json::json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
        "jwks_uri": format!("{iss}/oauth2/jwks"),
        "end_session_endpoint": format!("{iss}/oauth2/logout"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": keyfleet_domain::oidc::SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "azp", "at_hash", "sid",
            "preferred_username", "name", "updated_at", "email", "email_verified", "groups"],
        "prompt_values_supported": ["none", "login", "consent"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": true,
        "acr_values_supported": ["phr", "phrh"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    }))
}

/// The query or form of an authorization request: its pairs (to send the browser back
/// unchanged after signing in) and its parameters. A repeated parameter is refused
/// (RFC 6749 §3.1): which of two redirect URIs would count?
/// An authorization request's pairs, as received, and its parameters.
type ParsedRequest = (Vec<(String, String)>, AuthorizeParams);

fn parse_request(raw: &str) -> Result<ParsedRequest, &'static str> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|_| "the request is not form-encoded")?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(k2, _)| k2 == k) {
            return Err("a parameter is repeated");
        }
    }
    let params: AuthorizeParams = serde_urlencoded::from_str(raw).map_err(|_| "the request is not form-encoded")?;
    Ok((pairs, params))
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{q}")
}

fn error_page(description: &str) -> Response {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "This sign-in request was refused",
        format!(
            "The application sent a sign-in request keyfleet cannot accept: {description}. Nothing was changed. \
             Go back to the application and try again, or tell its administrator."
        ),
    )
    .into_response()
}

async fn authorize(state: &AppState, headers: &HeaderMap, viewer: Option<Viewer>, raw: &str) -> Response {
    decide(state, headers, viewer, raw, Decision::Ask).await
}

/// Decides an authorization request (`raw`: its query or form), with the user's answer on the
/// consent page when there was one, and renders the outcome.
pub(crate) async fn decide(
    state: &AppState,
    headers: &HeaderMap,
    viewer: Option<Viewer>,
    raw: &str,
    decision: Decision,
) -> Response {
    let (pairs, params) = match parse_request(raw) {
        Ok(p) => p,
        Err(why) => return error_page(why),
    };
    let c = state.ctx(Actor::Anonymous, headers);
    let browser = viewer.as_ref().map(|v| BrowserSession {
        session: &v.session,
        user: &v.user,
    });
    let outcome = match oidc::authorize_with(&c, &params, browser, decision).await {
        Ok(o) => o,
        Err(e) => return PageError::from(e).into_response(),
    };
    let iss = state.settings.issuer.as_str();
    match outcome {
        AuthorizeOutcome::ErrorPage { description, .. } => error_page(&description),
        AuthorizeOutcome::RedirectError {
            redirect_uri,
            error,
            description,
            state,
        } => {
            let mut q = vec![("error", error), ("error_description", description.as_str())];
            if let Some(s) = state.as_deref() {
                q.push(("state", s));
            }
            q.push(("iss", iss));
            see_other(&with_query(&redirect_uri, &q))
        }
        AuthorizeOutcome::Consent { application, scopes } => match viewer.as_ref() {
            Some(v) => {
                let request = serde_urlencoded::to_string(&pairs).unwrap_or_default();
                let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
                crate::web::consent::page(v, application, &scopes, request, redirect_uri)
            }
            None => error_page("nobody is signed in"),
        },
        AuthorizeOutcome::Code {
            redirect_uri,
            code,
            state,
        } => {
            let mut q = vec![("code", code.as_str())];
            if let Some(s) = state.as_deref() {
                q.push(("state", s));
            }
            q.push(("iss", iss));
            see_other(&with_query(&redirect_uri, &q))
        }
        AuthorizeOutcome::Login {
            login_hint,
            fresh,
            marker,
        } => {
            // Back to this request after signing in, as a GET on this server (same origin).
            let mut back: Vec<(&str, &str)> = pairs
                .iter()
                .filter(|(k, _)| k != "kf_login_after")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if let Some(m) = marker.as_deref() {
                back.push(("kf_login_after", m));
            }
            let next = with_query("/oauth2/authorize", &back);
            let mut q = vec![("next", next.as_str())];
            if let Some(h) = login_hint.as_deref() {
                q.push(("login_hint", h));
            }
            if fresh {
                q.push(("fresh", "1"));
            }
            see_other(&with_query("/login", &q))
        }
    }
}

/// The authorization endpoint (OIDC Core §3.1.2): code flow with PKCE S256 only.
#[utoipa::path(get, path = "/oauth2/authorize", tag = "oidc",
    responses((status = 303, description = "To the application (code or error, with iss), or to sign in"),
        (status = 400, description = "Error page: the client or redirect URI is not proven")))]
pub async fn authorize_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Option<Viewer>,
    RawQuery(q): RawQuery,
) -> Response {
    authorize(&state, &headers, viewer, q.as_deref().unwrap_or("")).await
}

/// The authorization endpoint, form-posted (OIDC Core §3.1.2.1).
#[utoipa::path(post, path = "/oauth2/authorize", tag = "oidc",
    responses((status = 303, description = "To the application (code or error, with iss), or to sign in"),
        (status = 400, description = "Error page: the client or redirect URI is not proven")))]
pub async fn authorize_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Result<Viewer, PageError>,
    body: String,
) -> Response {
    // A session cookie on a post from another site is not used (browsers do not send a
    // SameSite=Lax cookie there anyway): the user signs in and comes back with a GET.
    let viewer = viewer.ok();
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return error_page("the request is not form-encoded");
    }
    authorize(&state, &headers, viewer, &body).await
}

fn invalid_token() -> Response {
    let mut res = (
        StatusCode::UNAUTHORIZED,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(OAuthError {
            error: "invalid_token".into(),
            error_description: "the access token is not valid, has expired or was revoked".into(),
        }),
    )
        .into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    res
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

async fn userinfo(state: &AppState, headers: &HeaderMap, token: Option<String>) -> Result<Response, ApiError> {
    let Some(token) = token else {
        let mut res = (StatusCode::UNAUTHORIZED, "").into_response();
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return Ok(res);
    };
    let c = state.ctx(Actor::Anonymous, headers);
    match oidc::userinfo(&c, &token).await? {
        Some(claims) => Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(claims)).into_response()),
        None => Ok(invalid_token()),
    }
}

/// The UserInfo endpoint (OIDC Core §5.3), the access token in the Authorization header.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oidc",
    responses((status = 200, body = Object, description = "The user's claims by scope"), (status = 401, body = OAuthError)))]
pub async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = bearer(&headers);
    userinfo(&state, &headers, token).await
}

/// The UserInfo endpoint, POST: the token in the header or as `access_token` in the form body
/// (RFC 6750 §2.2), not both.
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "oidc",
    responses((status = 200, body = Object, description = "The user's claims by scope"), (status = 400, body = OAuthError), (status = 401, body = OAuthError)))]
pub async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let in_body = form.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v);
    let token = match (bearer(&headers), in_body) {
        (Some(_), Some(_)) => {
            return Ok(oauth::oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send the access token once: in the header or in the body",
                false,
            ));
        }
        (Some(t), None) | (None, Some(t)) => Some(t),
        (None, None) => None,
    };
    userinfo(&state, &headers, token).await
}

/// The parameters of RP-initiated logout.
#[derive(Debug, serde::Deserialize)]
pub struct LogoutQuery {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the keyfleet session
/// named by `id_token_hint` and every application grant opened from it.
#[utoipa::path(get, path = "/oauth2/logout", tag = "oidc",
    responses((status = 303, description = "To the post-logout redirect URI or keyfleet's signed-out page"),
        (status = 400, description = "Error page; nothing was changed")))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Option<Viewer>,
    axum::extract::Query(q): axum::extract::Query<LogoutQuery>,
) -> Response {
    let c = state.ctx(Actor::Anonymous, &headers);
    let browser = viewer.as_ref().map(|v| BrowserSession {
        session: &v.session,
        user: &v.user,
    });
    let outcome = oidc::logout(
        &c,
        q.id_token_hint.as_deref(),
        q.client_id.as_deref(),
        q.post_logout_redirect_uri.as_deref(),
        browser,
    )
    .await;
    let redirect = match outcome {
        Ok(LogoutOutcome::SignedOut { redirect }) => redirect,
        Ok(LogoutOutcome::ErrorPage(why)) => {
            return PageError::new(StatusCode::BAD_REQUEST, "Sign-out request refused", why).into_response();
        }
        Err(e) => return PageError::from(e).into_response(),
    };
    let to = match (redirect, q.state.as_deref()) {
        (Some(uri), Some(s)) => with_query(&uri, &[("state", s)]),
        (Some(uri), None) => uri,
        (None, _) => "/login?done=signed-out".to_owned(),
    };
    let mut res = see_other(&to);
    res.headers_mut().insert(
        header::SET_COOKIE,
        clear_cookie(&state).parse().expect("cookie is ASCII"),
    );
    res
}

/// A revocation request (RFC 7009 §2.1).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct RevokeForm {
    /// The refresh or access token.
    pub token: Option<String>,
    /// Ignored (the token is looked up as either kind).
    pub token_type_hint: Option<String>,
    /// With client_secret_post, or a public client.
    pub client_id: Option<String>,
    /// With client_secret_post.
    pub client_secret: Option<String>,
    /// With private_key_jwt: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// With private_key_jwt: the signed assertion (RFC 7523).
    pub client_assertion: Option<String>,
}

/// Token revocation (RFC 7009): revokes the token's grant, every token issued from it. An
/// unknown token, or another application's, is answered alike and changes nothing.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oidc",
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200), (status = 400, body = OAuthError), (status = 401, body = OAuthError)))]
pub async fn revoke(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    crate::extract::Form(form): crate::extract::Form<RevokeForm>,
) -> Result<Response, ApiError> {
    let assertion = oauth::ClientAssertion {
        client_assertion_type: form.client_assertion_type,
        client_assertion: form.client_assertion,
    };
    let (auth, used_basic) = match oauth::client_auth(&headers, form.client_id, form.client_secret, assertion) {
        Ok(a) => a,
        Err(res) => return Ok(*res),
    };
    let Some(token) = form.token.filter(|t| !t.is_empty()) else {
        return Ok(oauth::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is missing",
            false,
        ));
    };
    let c = state.ctx(Actor::Anonymous, &headers);
    match oidc::revoke(&c, &auth, &token, &peer.ip().to_string()).await {
        Ok(()) => Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response()),
        Err(e) => oauth::oidc_token_error(e, used_basic),
    }
}
