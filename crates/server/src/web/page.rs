//! What every page shares: the signed-in viewer, the navigation bar, CSRF tokens, rendering
//! with the pages' Content-Security-Policy, and errors shown as pages.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use keyfleet_core::access::Principal;
use keyfleet_core::{CoreError, Ctx};
use keyfleet_domain::StoreError;
use keyfleet_domain::audit::Actor;
use keyfleet_domain::session::{Session, SessionKind, token_hash};
use keyfleet_domain::user::{Role, User};
use sha2::Sha256;

use crate::auth::{Caller, session_cookie};
use crate::error::ApiError;
use crate::state::AppState;

/// The Content-Security-Policy of every page: scripts, styles and images only from
/// keyfleet itself, no inline code, fetches only to keyfleet, forms only to keyfleet, never
/// framed.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Name of the hidden form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";

/// The CSRF token for a browser: an HMAC of its session cookie (or of "no cookie"), so the
/// check needs no database and a token is worthless with another session.
pub fn csrf_token(key: &[u8; 32], cookie: Option<&str>) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"keyfleet-csrf-v1\0");
    match cookie {
        Some(token) => mac.update(&token_hash(token)),
        None => mac.update(b"anonymous"),
    }
    let tag = mac.finalize().into_bytes();
    keyfleet_core::credentials::ceremony::b64(&tag[..24])
}

/// Renders a template as a 200 page.
pub fn html<T: askama::Template>(page: &T) -> Response {
    html_status(StatusCode::OK, page)
}

/// Renders a template with a status.
pub fn html_status<T: askama::Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => {
            let mut res = (status, body).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
            res
        }
        Err(e) => ApiError::internal(format!("template: {e}")).into_response(),
    }
}

/// 303 See Other to a path of ours.
pub fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location.to_owned())]).into_response()
}

/// A `next` parameter is honoured only when it is a plain path on this server (`/…`, not
/// `//host` or `/\host`), so sign-in cannot be turned into an open redirect.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?;
    let ok = n.starts_with('/')
        && !n.starts_with("//")
        && !n.starts_with("/\\")
        && n.len() <= 2048
        && n.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| n.to_owned())
}

/// The navigation bar and what the layout needs to know about the viewer.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    /// Display name of the signed-in user (empty when nobody is).
    pub display_name: String,
    /// Username of the signed-in user.
    pub username: String,
    /// Whether someone is signed in.
    pub signed_in: bool,
    /// Whether the session came from a temporary access pass.
    pub tap: bool,
    /// Administrator or helpdesk: the console link is shown.
    pub staff: bool,
    /// Administrator: the admin-only console sections are shown.
    pub admin: bool,
    /// CSRF token for forms on the page.
    pub csrf: String,
    /// Which section is current (`security-info`, `dashboard`, `users`, `reports`, `groups`,
    /// `clients`, `audit`).
    pub current: &'static str,
}

impl Nav {
    /// The bar for nobody signed in.
    pub fn anonymous(csrf: String) -> Self {
        Nav { csrf, ..Nav::default() }
    }
}

/// A signed-in person looking at a page. Pages that need someone signed in take this; when
/// nobody is, the browser is sent to `/login?next=…`.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The user.
    pub user: User,
    /// Their session.
    pub session: Session,
    /// The CSRF token for forms.
    pub csrf: String,
}

impl Viewer {
    /// The navigation bar, with `current` marked.
    pub fn nav(&self, current: &'static str) -> Nav {
        let full = self.session.kind == SessionKind::Full;
        Nav {
            display_name: self.user.display_name.clone(),
            username: self.user.username.as_str().to_owned(),
            signed_in: true,
            tap: !full,
            staff: full && matches!(self.user.role, Role::Admin | Role::Helpdesk),
            admin: full && self.user.role == Role::Admin,
            csrf: self.csrf.clone(),
            current,
        }
    }

    /// The same person as an API caller (for the role and scope checks the JSON routes use).
    pub fn caller(&self) -> Caller {
        Caller::User {
            user: Box::new(self.user.clone()),
            session: Box::new(self.session.clone()),
        }
    }

    /// Who this is, for the core's rules.
    pub fn principal(&self) -> Principal {
        Principal::for_session(&self.user, &self.session)
    }

    /// A use-case context acting as this person.
    pub fn ctx<'a>(&self, state: &'a AppState, request_id: Option<String>) -> Ctx<'a> {
        state.core.ctx(Actor::User(self.user.id), request_id)
    }

    /// Refuses a temporary-access-pass session (it may only register a key).
    pub fn require_full(&self) -> Result<(), PageError> {
        if self.session.kind == SessionKind::Tap {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Set up your security key first",
                "You signed in with a temporary access pass. It lets you add a security key, nothing else. \
                 Add your key, then sign in with it.",
            ));
        }
        Ok(())
    }
}

/// Where to come back to after signing in: this page for a GET; for a form sent after the
/// session ended, the page that held the form (from `Referer`, when it is one of ours), since
/// the form's own URL only takes POST.
fn come_back_to(parts: &Parts, state: &AppState) -> String {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    }
    parts
        .headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            state
                .settings
                .origins
                .iter()
                .find_map(|o| r.strip_prefix(o.as_str()).filter(|rest| rest.starts_with('/')))
        })
        .and_then(|path| safe_next(Some(path)))
        .unwrap_or_else(|| "/".to_owned())
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = come_back_to(parts, state);
        let Some(token) = session_cookie(&parts.headers).map(str::to_owned) else {
            return Err(PageError::SignIn { next });
        };
        match Caller::from_request_parts(parts, state).await {
            Ok(Caller::User { user, session }) => Ok(Viewer {
                user: *user,
                session: *session,
                csrf: csrf_token(&state.csrf_key, Some(&token)),
            }),
            Ok(Caller::Client { .. }) => Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Pages are for people",
                "API clients use the JSON API, not the pages.",
            )),
            Err(e) if e.status() == StatusCode::UNAUTHORIZED => Err(PageError::SignIn { next }),
            Err(e) => Err(e.into()),
        }
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    /// `None` when nobody is signed in (or the session ended); other failures stay errors.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        match <Viewer as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(v) => Ok(Some(v)),
            Err(PageError::SignIn { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A page that could not be shown: a redirect to sign-in, or an error page.
#[derive(Debug)]
pub enum PageError {
    /// Nobody (or an ended session) is signed in: go to the sign-in page, then come back.
    SignIn {
        /// Where to come back to.
        next: String,
    },
    /// An error page.
    Page {
        /// HTTP status.
        status: StatusCode,
        /// Heading.
        title: String,
        /// What happened and what to do, for people.
        message: String,
        /// The API error behind it, if any (keeps 5xx causes in the log).
        source: Option<Box<ApiError>>,
    },
}

impl PageError {
    /// An error page.
    pub fn new(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        PageError::Page {
            status,
            title: title.into(),
            message: message.into(),
            source: None,
        }
    }

    /// The usual "not found" page (also for things the viewer may not know exist).
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here, or it has been removed.",
        )
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        let status = e.status();
        let (title, message) = match status {
            StatusCode::NOT_FOUND => (
                "Not found".to_owned(),
                "There is nothing here, or it has been removed.".to_owned(),
            ),
            StatusCode::FORBIDDEN => (
                "Not allowed".to_owned(),
                format!(
                    "{}. If you need this, ask an administrator.",
                    e.detail().unwrap_or("You may not do this")
                ),
            ),
            s if s.is_server_error() => (
                "Something went wrong".to_owned(),
                "keyfleet could not finish this. Nothing was changed. Try again in a moment.".to_owned(),
            ),
            _ => (
                "That did not work".to_owned(),
                e.detail().unwrap_or("The request was refused.").to_owned(),
            ),
        };
        PageError::Page {
            status,
            title,
            message,
            source: Some(Box::new(e)),
        }
    }
}

impl From<CoreError> for PageError {
    fn from(e: CoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// The error page.
#[derive(askama::Template, Clone)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Navigation (anonymous: error pages do not look the viewer up again).
    pub nav: Nav,
    /// Heading.
    pub title: String,
    /// Message.
    pub message: String,
    /// Status code, shown small.
    pub status: u16,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { next } => {
                let next = safe_next(Some(&next)).unwrap_or_else(|| "/".to_owned());
                let q = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
                see_other(&format!("/login?{q}"))
            }
            PageError::Page {
                status,
                title,
                message,
                source,
            } => {
                let page = ErrorPage {
                    nav: Nav::default(),
                    title,
                    message,
                    status: status.as_u16(),
                };
                let mut res = html_status(status, &page);
                // [`with_navigation`] renders it again with the viewer's navigation.
                res.extensions_mut().insert(ShownError(page));
                if let Some(e) = source {
                    // Turning the API error into a response logs a 5xx cause (inside the
                    // request span); the page says nothing of it. Keep Retry-After.
                    let api = (*e).into_response();
                    for (name, value) in api.headers() {
                        if name == header::RETRY_AFTER {
                            res.headers_mut().insert(name.clone(), value.clone());
                        }
                    }
                }
                res
            }
        }
    }
}

/// The query of a page shown after a change (POST-redirect-GET): `?done=…` names the change,
/// and each page maps it to a fixed notice (never echoed).
#[derive(Debug, serde::Deserialize)]
pub struct Done {
    /// Which change just happened.
    pub done: Option<String>,
}

/// A form body for a page: like axum's `Form`, but a body that cannot be read (a missing
/// field, a wrong type) gets an error page instead of axum's plain-text answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for PageForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(PageForm(value)),
            Err(e) => {
                // The status only: a rejection text may quote what was sent.
                tracing::info!(status = %e.status(), "page form not understood");
                Err(PageError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "The form was not complete",
                    "Something in the form was missing or not understood. Nothing was changed. \
                     Go back, reload the page and try again.",
                ))
            }
        }
    }
}

/// The request id the middleware put on the request.
pub fn request_id(parts_headers: &axum::http::HeaderMap) -> Option<String> {
    crate::auth::request_id(parts_headers)
}

/// An error page in a response, to be given the viewer's navigation.
#[derive(Clone)]
struct ShownError(ErrorPage);

/// Middleware: an error page keeps the navigation and "Sign out" of whoever is signed in
/// (the page that failed may not have looked them up, e.g. an unknown address). Runs the
/// viewer lookup only for error pages.
pub async fn with_navigation(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Only the `Cookie` header is kept (the viewer is found by the session cookie alone), and
    // only when there is a session cookie.
    let cookies: Vec<HeaderValue> = if session_cookie(req.headers()).is_some() {
        req.headers().get_all(header::COOKIE).iter().cloned().collect()
    } else {
        Vec::new()
    };
    let mut res = next.run(req).await;
    if cookies.is_empty() {
        return res;
    }
    let Some(ShownError(mut page)) = res.extensions_mut().remove::<ShownError>() else {
        return res;
    };
    let mut probe = axum::http::Request::new(());
    for value in cookies {
        probe.headers_mut().append(header::COOKIE, value);
    }
    let (mut parts, ()) = probe.into_parts();
    let Ok(viewer) = <Viewer as FromRequestParts<AppState>>::from_request_parts(&mut parts, &state).await else {
        return res;
    };
    page.nav = viewer.nav("");
    let mut shown = html_status(res.status(), &page);
    let own: Vec<header::HeaderName> = shown.headers().keys().cloned().collect();
    for (name, value) in res.headers() {
        if *name != header::CONTENT_LENGTH && !own.contains(name) {
            shown.headers_mut().append(name.clone(), value.clone());
        }
    }
    shown
}
