//! The consent page of third-party single sign-on applications: the application's name and
//! the scopes it asks for, with "Allow" and "Deny". The page carries the authorization
//! request as it came; the answer is a form post (CSRF-checked like every page form) that
//! decides the whole request again in the core (`keyfleet_core::oidc::authorize_with`).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use keyfleet_core::oidc::consent::Decision;
use serde::Deserialize;

use super::page::{Nav, PAGE_CSP, PageError, PageForm, Viewer, html_status};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/oauth2/consent", post(answer))
}

/// A scope as the page explains it.
struct ScopeLine {
    name: String,
    what: &'static str,
}

fn explain(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are (an identifier that stays the same)",
        "profile" => "Your username and name",
        "email" => "Your email address",
        "groups" => "The names of the groups you are in",
        "offline_access" => "Stay signed in to it while you are away (a refresh token)",
        _ => "",
    }
}

#[derive(askama::Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    nav: Nav,
    application: String,
    scopes: Vec<ScopeLine>,
    request: String,
}

/// The origin of a (registered, validated) redirect URI, when it is plain enough to name in a
/// CSP source list (letters, digits, `.-:[]` in the host and port).
fn csp_origin(redirect_uri: &str) -> Option<String> {
    let (scheme, rest) = redirect_uri.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let plain = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    (matches!(scheme, "https" | "http") && plain).then(|| format!("{scheme}://{authority}"))
}

/// The consent page for `application` asking for `scopes`; `request` is the authorization
/// request's query, sent back with the answer. The answer is a redirect to the application,
/// so the page's `form-action` also names the redirect URI's origin (browsers apply it to
/// the redirect after a form is sent).
pub fn page(viewer: &Viewer, application: String, scopes: &[String], request: String, redirect_uri: &str) -> Response {
    let page = ConsentPage {
        nav: viewer.nav(""),
        application,
        scopes: scopes
            .iter()
            .map(|s| ScopeLine {
                name: s.clone(),
                what: explain(s),
            })
            .collect(),
        request,
    };
    let mut res = html_status(StatusCode::OK, &page);
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    if let Some(origin) = csp_origin(redirect_uri) {
        let csp = PAGE_CSP.replace("form-action 'self'", &format!("form-action 'self' {origin}"));
        if let Ok(v) = header::HeaderValue::from_str(&csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    res
}

/// The answer on the consent page.
#[derive(Debug, Deserialize)]
struct AnswerForm {
    /// The authorization request's query.
    request: String,
    /// `allow` or `deny`.
    decision: String,
}

/// `POST /oauth2/consent`: the user's answer; the request is decided again with it.
async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    PageForm(form): PageForm<AnswerForm>,
) -> Response {
    let decision = match form.decision.as_str() {
        "allow" => Decision::Approve,
        "deny" => Decision::Deny,
        _ => {
            return PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The form was not complete",
                "Choose Allow or Deny. Nothing was changed.",
            )
            .into_response();
        }
    };
    crate::routes::oidc::decide(&state, &headers, Some(viewer), &form.request, decision).await
}

#[cfg(test)]
mod tests {
    use super::csp_origin;

    #[test]
    fn only_plain_origins_enter_the_csp() {
        assert_eq!(
            csp_origin("https://app.example.com:8443/cb?x=1").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(csp_origin("http://[::1]:9/cb").as_deref(), Some("http://[::1]:9"));
        assert_eq!(csp_origin("https://a;script-src*/cb"), None);
        assert_eq!(csp_origin("https://a%20b/cb"), None);
        assert_eq!(csp_origin("javascript:x"), None);
    }
}
