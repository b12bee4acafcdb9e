//! `/login` (security key, username-less or username-first, `?login_hint=`), the temporary
//! access pass form, and sign-out (this session, or everywhere).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfleet_domain::audit::Actor;
use keyfleet_domain::session::SessionKind;
use keyfleet_domain::user::Username;
use serde::Deserialize;

use super::page::{Nav, Viewer, csrf_token, html_status, safe_next, see_other};
use crate::auth::session_cookie;
use keyfleet_core::credentials::keys;
use keyfleet_core::identity::sessions;
use keyfleet_core::identity::taps::{self, TapSignIn, TapSignInError};

use crate::routes::{clear_cookie, new_session_cookie};
use crate::state::AppState;
use crate::web::page::PageForm;

/// The sign-in page.
#[derive(askama::Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    nav: Nav,
    next: String,
    hint: String,
    hinted: bool,
    notice: Option<&'static str>,
    tap_error: Option<String>,
    tap_username: String,
}

/// Query of `/login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// Pre-fills the username and skips the username step.
    login_hint: Option<String>,
    /// Where to go after signing in (a path on this server).
    next: Option<String>,
    /// A message to show (after signing out).
    done: Option<String>,
    /// `1`: show the page even to someone signed in (an application asked for a fresh sign-in).
    fresh: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "signed-out" => Some("You have signed out."),
        "everywhere" => Some("You have signed out on every device."),
        "lost" => Some(
            "The lost key was removed and every session opened with it has ended, this one too. \
             Sign in with another key, or ask your helpdesk for a temporary access pass.",
        ),
        "registered" => Some("Your security key is ready. Sign in with it."),
        _ => None,
    }
}

/// `GET /login`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Option<Viewer>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref()).unwrap_or_else(|| "/security-info".to_owned());
    // A usable hint is a username as the sign-in would accept it; anything else is ignored.
    let hint = q
        .login_hint
        .as_deref()
        .and_then(|h| Username::parse(h).ok())
        .map(|u| u.as_str().to_owned());
    // Someone already fully signed in, with no other account hinted, goes on.
    if hint.is_none()
        && q.done.is_none()
        && q.fresh.is_none()
        && let Some(viewer) = viewer
        && viewer.session.kind == SessionKind::Full
    {
        return see_other(&next);
    }
    let csrf = csrf_token(&state.csrf_key, session_cookie(&headers));
    let page = LoginPage {
        nav: Nav::anonymous(csrf),
        next,
        hinted: hint.is_some(),
        hint: hint.unwrap_or_default(),
        notice: notice(q.done.as_deref()),
        tap_error: None,
        tap_username: String::new(),
    };
    html_status(StatusCode::OK, &page)
}

/// The temporary-access-pass form.
#[derive(Debug, Deserialize)]
pub struct TapForm {
    username: String,
    code: String,
    next: Option<String>,
}

/// `POST /login/tap`: signs in with a temporary access pass, then goes to the security-info
/// page (a TAP session may only add a key). Failures re-show the form with one message for
/// every kind of failure; too many give 429.
pub async fn tap(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    PageForm(form): PageForm<TapForm>,
) -> Response {
    let input = TapSignIn {
        username: &form.username,
        code: form.code.trim(),
        client_addr: Some(peer.ip().to_string()),
    };
    let c = state.ctx(Actor::Anonymous, &headers);
    let (status, message, retry) = match taps::sign_in(&c, input).await {
        Ok((_, new)) => {
            let cookie = new_session_cookie(&state, &new, c.now);
            let mut res = see_other("/security-info");
            res.headers_mut()
                .insert(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
            return res;
        }
        Err(TapSignInError::Invalid) => (
            StatusCode::UNAUTHORIZED,
            "That username and temporary access pass do not match, or the pass has expired or was already used. \
             Check both and try again, or ask your helpdesk for a new pass."
                .to_owned(),
            None,
        ),
        Err(TapSignInError::Disabled) => (
            StatusCode::FORBIDDEN,
            "Your account is disabled, so you cannot sign in. If you think this is a mistake, ask your \
             administrator or helpdesk to enable it."
                .to_owned(),
            None,
        ),
        Err(TapSignInError::Limited(retry)) => (
            StatusCode::TOO_MANY_REQUESTS,
            if retry < 60 {
                format!("Too many attempts. Wait {retry} seconds, then try again.")
            } else {
                format!(
                    "Too many failed attempts. Wait {} minutes, then try again.",
                    retry.div_ceil(60)
                )
            },
            Some(retry),
        ),
        Err(TapSignInError::Store(e)) => return super::page::PageError::from(e).into_response(),
    };
    let csrf = csrf_token(&state.csrf_key, session_cookie(&headers));
    let page = LoginPage {
        nav: Nav::anonymous(csrf),
        next: safe_next(form.next.as_deref()).unwrap_or_else(|| "/security-info".to_owned()),
        hint: String::new(),
        hinted: false,
        notice: None,
        tap_error: Some(message),
        tap_username: form.username.chars().take(64).collect(),
    };
    let mut res = html_status(status, &page);
    if let Some(retry) = retry {
        res.headers_mut()
            .insert(header::RETRY_AFTER, retry.to_string().parse().expect("digits"));
    }
    res
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    /// `1`: end every session of this user.
    everywhere: Option<String>,
    /// `1`: show the sign-in page for the same user (after adding a first key).
    again: Option<String>,
}

/// `POST /logout`: ends this session, or with `everywhere` every session of the user, clears
/// the cookie and shows the sign-in page.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Option<Viewer>,
    PageForm(form): PageForm<LogoutForm>,
) -> Response {
    let everywhere = form.everywhere.is_some_and(|v| v == "1" || v == "true");
    let mut done = "signed-out";
    let mut hint = None;
    if let Some(viewer) = viewer {
        let c = state.ctx(Actor::User(viewer.user.id), &headers);
        // "Your security key is ready" only when one was added in this session; otherwise
        // an ordinary sign-out (never a message that contradicts the account's state).
        if form.again.as_deref() == Some("1") {
            match keys::added_in_this_session(&c, &viewer.principal()).await {
                Ok(n) if n > 0 => {
                    done = "registered";
                    hint = Some(viewer.user.username.as_str().to_owned());
                }
                Ok(_) => {}
                Err(e) => return super::page::PageError::from(e).into_response(),
            }
        }
        if everywhere {
            done = "everywhere";
        }
        let result = sessions::sign_out(&c, &viewer.principal(), everywhere).await;
        if let Err(e) = result {
            return super::page::PageError::from(e).into_response();
        }
    }
    let mut query = vec![("done", done.to_owned())];
    query.extend(hint.map(|h| ("login_hint", h)));
    let mut res = see_other(&format!(
        "/login?{}",
        serde_urlencoded::to_string(&query).unwrap_or_default()
    ));
    res.headers_mut().insert(
        header::SET_COOKIE,
        clear_cookie(&state).parse().expect("cookie is ASCII"),
    );
    res
}
