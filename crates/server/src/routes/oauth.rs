//! The token endpoint: OAuth 2.0 client credentials (RFC 6749 §4.4) for API clients, the
//! authorization-code and refresh-token grants for single sign-on applications (see
//! [`super::oidc`]), and the token-signing keys (RFC 7517).
//!
//! Errors here follow RFC 6749 §5.2 (`{"error", "error_description"}`), not problem details,
//! because OAuth client libraries expect that shape.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyfleet_core::clients::{self, TokenRefusal};
use keyfleet_core::oidc::{self, ClientAuth};
use keyfleet_domain::audit::Actor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::Form;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(token)).routes(routes!(jwks))
}

/// The client's credentials from the Authorization header (client_secret_basic), the form
/// (client_secret_post; a public application sends its `client_id` alone) or a client
/// assertion (private_key_jwt), and whether Basic was used. A refusal is the answer to send.
pub(crate) fn client_auth(
    headers: &HeaderMap,
    form_id: Option<String>,
    form_secret: Option<String>,
    assertion: ClientAssertion,
) -> Result<(ClientAuth, bool), Box<Response>> {
    let basic = basic_credentials(headers);
    let used_basic = basic.is_some();
    let bad = |status, error, description| Box::new(oauth_error(status, error, description, used_basic));
    if assertion.client_assertion_type.is_some() || assertion.client_assertion.is_some() {
        let (Some(kind), Some(jwt)) = (assertion.client_assertion_type, assertion.client_assertion) else {
            return Err(bad(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_assertion and client_assertion_type go together",
            ));
        };
        if used_basic || form_secret.is_some() {
            return Err(bad(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method only",
            ));
        }
        if kind != oidc::client_auth::ASSERTION_TYPE {
            return Err(bad(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        // The application is found by the assertion's subject (verified later) unless the
        // form names it; a form naming another is refused then too.
        let Some(client_id) = form_id.or_else(|| oidc::client_auth::assertion_subject(&jwt)) else {
            return Err(bad(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the client assertion names no client",
            ));
        };
        let auth = ClientAuth {
            client_id,
            secret: None,
            assertion: Some(jwt),
        };
        return Ok((auth, false));
    }
    let (client_id, secret) = match (basic, form_id, form_secret) {
        (Some(Some((id, secret))), None, None) => (id, Some(secret)),
        (Some(Some((id, secret))), Some(form_id), None) if form_id == id => (id, Some(secret)),
        (None, Some(id), secret) => (id, secret),
        (Some(None), ..) => {
            return Err(bad(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "malformed Authorization header",
            ));
        }
        (Some(_), _, Some(_)) => {
            return Err(bad(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method only",
            ));
        }
        _ => {
            return Err(bad(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required",
            ));
        }
    };
    let auth = ClientAuth {
        client_id,
        secret,
        assertion: None,
    };
    Ok((auth, used_basic))
}

/// The answer to a refused application token request (RFC 6749 §5.2).
pub(crate) fn oidc_token_error(e: oidc::TokenError, used_basic: bool) -> Result<Response, ApiError> {
    let bad = |status, error, description: &str| Ok(oauth_error(status, error, description, used_basic));
    match e {
        oidc::TokenError::InvalidClient => bad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown application or wrong secret",
        ),
        oidc::TokenError::InvalidGrant(why) => bad(StatusCode::BAD_REQUEST, "invalid_grant", why),
        oidc::TokenError::InvalidRequest(why) => bad(StatusCode::BAD_REQUEST, "invalid_request", why),
        oidc::TokenError::SlowDown(retry) => Ok(slow_down(retry, used_basic)),
        oidc::TokenError::Core(e) => Err(e.into()),
    }
}

fn slow_down(retry: u64, used_basic: bool) -> Response {
    let mut res = oauth_error(
        StatusCode::TOO_MANY_REQUESTS,
        "slow_down",
        "too many failed client authentications; wait and retry",
        used_basic,
    );
    if let Ok(v) = header::HeaderValue::from_str(&retry.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// The authorization_code and refresh_token grants of a single sign-on application.
async fn application_grant(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    form: TokenForm,
    grant: &str,
) -> Result<Response, ApiError> {
    let assertion = ClientAssertion {
        client_assertion_type: form.client_assertion_type,
        client_assertion: form.client_assertion,
    };
    let (auth, used_basic) = match client_auth(headers, form.client_id, form.client_secret, assertion) {
        Ok(a) => a,
        Err(res) => return Ok(*res),
    };
    let c = state.ctx(Actor::Anonymous, headers);
    let addr = peer.ip().to_string();
    let issued = if grant == "authorization_code" {
        oidc::exchange_code(
            &c,
            &auth,
            form.code.as_deref(),
            form.redirect_uri.as_deref(),
            form.code_verifier.as_deref(),
            &addr,
        )
        .await
    } else {
        oidc::refresh(&c, &auth, form.refresh_token.as_deref(), &addr).await
    };
    let t = match issued {
        Ok(t) => t,
        Err(e) => return oidc_token_error(e, used_basic),
    };
    let body = OidcTokenResponse {
        access_token: t.access_token,
        token_type: "Bearer".into(),
        expires_in: t.expires_in,
        id_token: t.id_token,
        refresh_token: t.refresh_token,
        scope: t.scope,
    };
    Ok((
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        axum::Json(body),
    )
        .into_response())
}

/// A token request (form-encoded). Its `Debug` names the secret fields only as present or
/// absent: a client secret, code, verifier, refresh token or assertion never reaches a log.
#[derive(Deserialize, ToSchema)]
pub struct TokenForm {
    /// `client_credentials`, `authorization_code` or `refresh_token`.
    pub grant_type: Option<String>,
    /// With client_secret_post, or a public application.
    pub client_id: Option<String>,
    /// With client_secret_post.
    pub client_secret: Option<String>,
    /// Space-separated scopes; all of the client's when absent (client_credentials).
    pub scope: Option<String>,
    /// The authorization code (authorization_code).
    pub code: Option<String>,
    /// The redirect URI the code was sent to (authorization_code).
    pub redirect_uri: Option<String>,
    /// The PKCE verifier (authorization_code).
    pub code_verifier: Option<String>,
    /// The refresh token (refresh_token).
    pub refresh_token: Option<String>,
    /// With private_key_jwt: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// With private_key_jwt: the signed assertion (RFC 7523).
    pub client_assertion: Option<String>,
}

/// Shows whether a secret field was sent, never its value.
fn present(field: &Option<String>) -> &'static str {
    if field.is_some() { "Some(..)" } else { "None" }
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("client_secret", &present(&self.client_secret))
            .field("scope", &self.scope)
            .field("code", &present(&self.code))
            .field("redirect_uri", &self.redirect_uri)
            .field("code_verifier", &present(&self.code_verifier))
            .field("refresh_token", &present(&self.refresh_token))
            .field("client_assertion_type", &self.client_assertion_type)
            .field("client_assertion", &present(&self.client_assertion))
            .finish()
    }
}

/// A client assertion as received (private_key_jwt). Its `Debug` never shows the JWT.
#[derive(Default)]
pub(crate) struct ClientAssertion {
    /// Its type.
    pub client_assertion_type: Option<String>,
    /// The JWT.
    pub client_assertion: Option<String>,
}

impl std::fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAssertion")
            .field("client_assertion_type", &self.client_assertion_type)
            .field("client_assertion", &present(&self.client_assertion))
            .finish()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn a_token_request_debug_shows_no_secret() {
        let form = TokenForm {
            grant_type: Some("refresh_token".into()),
            client_id: Some("app".into()),
            client_secret: Some("s3cret-value".into()),
            scope: None,
            code: Some("code-value".into()),
            redirect_uri: None,
            code_verifier: Some("verifier-value".into()),
            refresh_token: Some("refresh-value".into()),
            client_assertion_type: None,
            client_assertion: Some("assertion-value".into()),
        };
        let shown = format!("{form:?}");
        for secret in [
            "s3cret-value",
            "code-value",
            "verifier-value",
            "refresh-value",
            "assertion-value",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("app") && shown.contains("refresh_token"), "{shown}");
        let assertion = ClientAssertion {
            client_assertion_type: None,
            client_assertion: Some("assertion-value".into()),
        };
        assert!(!format!("{assertion:?}").contains("assertion-value"));
    }
}

/// Tokens for an application (OIDC Core §3.1.3.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct OidcTokenResponse {
    /// The access token (a JWT, ES256).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The ID token (ES256).
    pub id_token: String,
    /// A refresh token, when `offline_access` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Scopes granted.
    pub scope: String,
}

/// A token answer (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT, ES256).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Scopes granted.
    pub scope: String,
}

/// An OAuth error (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// Error code.
    pub error: String,
    /// Human description.
    pub error_description: String,
}

pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str, basic: bool) -> Response {
    let body = OAuthError {
        error: error.to_owned(),
        error_description: description.to_owned(),
    };
    let mut res = (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response();
    if basic && status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"keyfleet\""),
        );
    }
    res
}

/// Credentials from `Authorization: Basic` (client_secret_basic; RFC 6749 §2.3.1 says id and
/// secret are form-urlencoded before base64).
fn basic_credentials(headers: &HeaderMap) -> Option<Option<(String, String)>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let Some(b64) = value.strip_prefix("Basic ") else {
        return Some(None);
    };
    let decoded = STANDARD.decode(b64.trim()).ok().and_then(|b| String::from_utf8(b).ok());
    Some(decoded.and_then(|d| {
        let (id, secret) = d.split_once(':')?;
        let unescape = |s: &str| form_urlencoded_decode(s);
        Some((unescape(id)?, unescape(secret)?))
    }))
}

fn form_urlencoded_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The token endpoint: an access token for an API client (client_credentials, with
/// client_secret_basic or client_secret_post), or tokens for a single sign-on application
/// (authorization_code with PKCE, refresh_token with rotation).
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400, body = OAuthError), (status = 401, body = OAuthError), (status = 429, body = OAuthError)))]
pub async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, ApiError> {
    match form.grant_type.as_deref() {
        Some(g @ ("authorization_code" | "refresh_token")) => {
            let g = g.to_owned();
            return application_grant(&state, peer, &headers, form, &g).await;
        }
        Some("client_credentials") => {}
        _ => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials",
                headers.contains_key(header::AUTHORIZATION),
            ));
        }
    }
    let basic = basic_credentials(&headers);
    let used_basic = basic.is_some();
    let bad = |status, error, description| Ok(oauth_error(status, error, description, used_basic));
    let (client_id, secret) = match (basic, form.client_id, form.client_secret) {
        (Some(Some(creds)), None, None) => creds,
        (Some(Some((id, secret))), Some(form_id), None) if form_id == id => (id, secret),
        (None, Some(id), Some(secret)) => (id, secret),
        (Some(None), ..) => {
            return bad(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "malformed Authorization header",
            );
        }
        (Some(_), _, Some(_)) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method only",
            );
        }
        _ => {
            return bad(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required",
            );
        }
    };
    let c = state.ctx(Actor::Anonymous, &headers);
    let issued =
        match clients::issue_token(&c, &client_id, &secret, form.scope.as_deref(), &peer.ip().to_string()).await {
            Ok(t) => t,
            Err(TokenRefusal::InvalidClient) => {
                return bad(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "unknown client, wrong secret, or disabled client",
                );
            }
            Err(TokenRefusal::InvalidScope(why)) => return bad(StatusCode::BAD_REQUEST, "invalid_scope", &why),
            Err(TokenRefusal::SlowDown(retry)) => return Ok(slow_down(retry, used_basic)),
            Err(TokenRefusal::Core(e)) => return Err(e.into()),
        };
    let body = TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer".into(),
        expires_in: issued.expires_in,
        scope: issued.scope,
    };
    Ok((
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        axum::Json(body),
    )
        .into_response())
}

/// The public keys that verify access tokens (JWK Set).
#[utoipa::path(get, path = "/oauth2/jwks", tag = "oauth", responses((status = 200, body = Object, description = "JWK Set")))]
pub async fn jwks(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(state.core.tokens.jwks())
}
