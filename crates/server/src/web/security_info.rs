//! The worker's "Security info" page: their keys (nickname, model, dates, transports), add a
//! key, rename, remove (with a confirmation that says what happens next, and a stronger one
//! for the last key), "I lost this key", and where they are signed in.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::session::Session;
use serde::Deserialize;

use super::format::{transports, when, when_or};
use super::models::Models;
use super::page::{Nav, PageError, Viewer, html_status, request_id, see_other};
use crate::routes::clear_cookie;
use crate::state::{AppState, rfc3339};
use crate::web::page::Done;
use crate::web::page::PageForm;
use keyfleet_core::CoreError;
use keyfleet_core::credentials::ceremony::{b64, unb64};
use keyfleet_core::credentials::keys::{self, Removal};
use keyfleet_core::identity::sessions;

/// Routes of this page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/security-info", get(page))
        .route("/security-info/keys/{id}/rename", post(rename))
        .route("/security-info/keys/{id}/remove", get(confirm_remove).post(remove))
        .route("/security-info/keys/{id}/lost", get(confirm_lost).post(lost))
        .route("/security-info/consents/{client_id}/withdraw", post(withdraw_consent))
}

/// A consent to a third-party application, as the page lists it.
pub struct ConsentRow {
    /// The application's client id (for the form's URL).
    pub client_id: String,
    /// Its name.
    pub application: String,
    /// The scopes agreed to.
    pub scopes: String,
    /// When.
    pub granted: String,
}

/// `POST /security-info/consents/{client_id}/withdraw`: the application asks again next
/// time, and the sign-ins it was given end (`keyfleet_core::oidc::consent::revoke_mine`).
async fn withdraw_consent(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(client_id): Path<String>,
) -> Result<Response, PageError> {
    keyfleet_core::oidc::consent::revoke_mine(&viewer.ctx(&state, None), &viewer.principal(), &client_id).await?;
    Ok(crate::web::page::see_other("/security-info?done=consent-withdrawn"))
}

/// One key as the page shows it.
pub struct KeyRow {
    /// Credential id, base64url (for URLs).
    pub id: String,
    /// Nickname.
    pub nickname: String,
    /// Model name from the AAGUID.
    pub model: String,
    /// The model's icon (`/models/…/icon`), when its metadata has one.
    pub icon: Option<String>,
    /// The status the metadata reports the model compromised with: the key is flagged.
    pub compromised: Option<String>,
    /// When it was added.
    pub added: String,
    /// Same, RFC 3339.
    pub added_iso: String,
    /// When it was last used.
    pub last_used: String,
    /// How it connects.
    pub transports: String,
    /// Flagged as possibly cloned.
    pub cloned: bool,
    /// The owner's group policy no longer allows it: it cannot sign in.
    pub not_allowed: bool,
    /// This session was opened with it.
    pub this_session: bool,
    /// Its holder is asked to hand it back (they left the group a rule gave it for).
    pub collection: bool,
}

impl KeyRow {
    fn new(c: &Credential, session: &Session, models: &Models) -> Self {
        KeyRow {
            id: b64(&c.id),
            nickname: c.nickname.clone(),
            model: models.label(&c.aaguid),
            icon: models.icon_url(&c.aaguid),
            compromised: models.compromised(&c.aaguid),
            added: when(c.created_at),
            added_iso: rfc3339(c.created_at),
            last_used: when_or(c.last_used_at, "never"),
            transports: transports(&c.transports),
            cloned: c.possibly_cloned,
            not_allowed: false,
            collection: false,
            this_session: session.credential_id.as_deref() == Some(c.id.as_slice()),
        }
    }
}

/// One session as the page shows it.
pub struct SessionRow {
    created: String,
    last_seen: String,
    address: String,
    method: &'static str,
    current: bool,
}

#[derive(askama::Template)]
#[template(path = "security_info.html")]
struct SecurityInfoPage {
    nav: Nav,
    tap: bool,
    /// A TAP session that has added a key: offer to sign out and sign in with it.
    tap_key_added: bool,
    keys: Vec<KeyRow>,
    sessions: Vec<SessionRow>,
    consents: Vec<ConsentRow>,
    notice: Option<&'static str>,
    error: Option<String>,
    after_add: String,
    /// The newest key retirement was a loss, and no key was added since: what to say.
    lost: Option<String>,
    /// Keys ordered for the viewer and on their way: model, and a tracking number once shipped.
    on_the_way: Vec<(String, String)>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "added" => Some("Your security key was added."),
        "added-first" => Some("Your security key was added. Now sign out, then sign in with it."),
        "renamed" => Some("The nickname was changed."),
        "removed" => Some("The key was removed. You can no longer sign in with it."),
        "consent-withdrawn" => Some("Your consent was withdrawn. The application will ask again."),
        _ => None,
    }
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let tap = viewer.require_full().is_err();
    let tap_key_added = tap && keys::added_in_this_session(&viewer.ctx(state, None), &viewer.principal()).await? > 0;
    let (held, sessions, consents) = if tap {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        let c = viewer.ctx(state, None);
        let held = keys::list_own_with_standing(&c, &viewer.principal()).await?;
        let sessions = sessions::list_own(&c, &viewer.principal()).await?;
        let consents = keyfleet_core::oidc::consent::list_mine(&c, &viewer.principal()).await?;
        (
            held,
            sessions
                .iter()
                .map(|s| SessionRow {
                    created: when(s.created_at),
                    last_seen: when(s.last_seen_at),
                    address: s.client_addr.clone().unwrap_or_else(|| "unknown".to_owned()),
                    method: if s.credential_id.is_some() {
                        "security key"
                    } else {
                        "temporary access pass"
                    },
                    current: s.id == viewer.session.id,
                })
                .collect(),
            consents
                .into_iter()
                .map(|c| ConsentRow {
                    client_id: c.client_id,
                    application: c.application,
                    scopes: c.scopes.join(" "),
                    granted: when(c.granted_at),
                })
                .collect(),
        )
    };
    let aaguids: Vec<[u8; 16]> = held.iter().map(|h| h.credential.aaguid).collect();
    let models = Models::load(&viewer.ctx(state, None), &aaguids).await?;
    let key_rows = held
        .iter()
        .map(|h| KeyRow {
            not_allowed: h.not_allowed.is_some(),
            collection: h.collection.is_some(),
            ..KeyRow::new(&h.credential, &viewer.session, &models)
        })
        .collect();
    let creds: Vec<Credential> = held.into_iter().map(|h| h.credential).collect();
    let after_add = "/security-info?done=added".to_owned();
    let retired = keys::retired_own(&viewer.ctx(state, None), &viewer.principal()).await?;
    // A TAP session lists no keys; a key it added replaces the loss.
    let lost = keys::unreplaced_loss(&retired, &creds)
        .filter(|_| !tap_key_added)
        .map(|r| {
            format!(
                "Your key “{}” was reported lost on {}. It no longer works.",
                r.nickname.as_deref().unwrap_or("(no nickname)"),
                when(r.at)
            )
        });
    // A new error replaces an earlier success message: never both at once.
    let notice = if error.is_some() { None } else { notice };
    let on_the_way = keyfleet_core::shipments::on_the_way(&viewer.ctx(state, None), &viewer.principal())
        .await?
        .into_iter()
        .map(|s| (s.model, s.tracking_number.unwrap_or_default()))
        .collect();
    let page = SecurityInfoPage {
        on_the_way,
        nav: viewer.nav("security-info"),
        tap,
        tap_key_added,
        keys: key_rows,
        sessions,
        consents,
        notice,
        error,
        after_add,
        lost,
    };
    Ok(html_status(status, &page))
}

/// `GET /security-info`.
async fn page(State(state): State<AppState>, viewer: Viewer, Query(q): Query<Done>) -> Result<Response, PageError> {
    let mut done = q.done.as_deref();
    if done == Some("added") && viewer.require_full().is_err() {
        done = Some("added-first");
    }
    render(&state, &viewer, StatusCode::OK, notice(done), None).await
}

fn key_id(text: &str) -> Result<Vec<u8>, PageError> {
    unb64(text).filter(|id| !id.is_empty()).ok_or_else(PageError::not_found)
}

/// The rename form.
#[derive(Debug, Deserialize)]
struct RenameForm {
    nickname: String,
}

/// `POST /security-info/keys/{id}/rename`.
async fn rename(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(id): Path<String>,
    PageForm(form): PageForm<RenameForm>,
) -> Result<Response, PageError> {
    viewer.require_full()?;
    let id = key_id(&id)?;
    let c = viewer.ctx(&state, request_id(&headers));
    match keys::rename(&c, &viewer.principal(), &id, &form.nickname).await {
        Ok(_) => Ok(see_other("/security-info?done=renamed")),
        Err(CoreError::Invalid { message, .. }) => {
            let msg = format!("The nickname was not changed: {message}.");
            render(&state, &viewer, StatusCode::UNPROCESSABLE_ENTITY, None, Some(msg)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(askama::Template)]
#[template(path = "confirm_key.html")]
struct ConfirmPage {
    nav: Nav,
    key: KeyRow,
    lost: bool,
    last: bool,
    ends_sessions: bool,
    error: Option<String>,
}

async fn confirm(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    lost: bool,
    error: Option<String>,
) -> Result<Response, PageError> {
    viewer.require_full()?;
    let id = key_id(id)?;
    let c = viewer.ctx(state, None);
    let key = keys::get_own(&c, viewer.user.id, &id).await?;
    let count = state
        .stores
        .credentials
        .list_user_credentials(viewer.user.id)
        .await?
        .len();
    let status = if error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let models = Models::load(&viewer.ctx(state, None), &[key.aaguid]).await?;
    let page = ConfirmPage {
        nav: viewer.nav("security-info"),
        key: KeyRow::new(&key, &viewer.session, &models),
        lost,
        last: count <= 1,
        ends_sessions: state.settings.removal_ends_sessions,
        error,
    };
    Ok(html_status(status, &page))
}

/// `GET /security-info/keys/{id}/remove`: what removal means, and the button.
async fn confirm_remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    confirm(&state, &viewer, &id, false, None).await
}

/// `GET /security-info/keys/{id}/lost`: what a lost-key report does, and the button.
async fn confirm_lost(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    confirm(&state, &viewer, &id, true, None).await
}

/// The removal form.
#[derive(Debug, Deserialize)]
struct RemoveForm {
    /// Present when the user confirmed removing their last key.
    confirm_last: Option<String>,
}

async fn remove_key(
    state: &AppState,
    headers: &HeaderMap,
    viewer: &Viewer,
    id: &str,
    form: &RemoveForm,
    how: Removal,
) -> Result<Response, PageError> {
    viewer.require_full()?;
    let raw = key_id(id)?;
    let c = viewer.ctx(state, request_id(headers));
    let confirmed = form.confirm_last.as_deref() == Some("1");
    match keys::remove_own(&c, &viewer.principal(), &raw, how, confirmed).await {
        Ok(_) => {}
        Err(CoreError::Conflict {
            code: "last_key_unconfirmed",
            ..
        }) => {
            let msg = "This is your only key: tick the box to confirm you understand you will need a temporary access pass to sign in again.";
            return confirm(state, viewer, id, how == Removal::Lost, Some(msg.to_owned())).await;
        }
        Err(e) => return Err(e.into()),
    }
    let ended_this = viewer.session.credential_id.as_deref() == Some(raw.as_slice())
        && (how == Removal::Lost || state.core.config.sessions.removal_ends_sessions);
    if ended_this {
        let done = if how == Removal::Lost { "lost" } else { "signed-out" };
        let mut res = see_other(&format!("/login?done={done}"));
        res.headers_mut().insert(
            header::SET_COOKIE,
            clear_cookie(state).parse().expect("cookie is ASCII"),
        );
        return Ok(res);
    }
    Ok(see_other("/security-info?done=removed"))
}

/// `POST /security-info/keys/{id}/remove`.
async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(id): Path<String>,
    PageForm(form): PageForm<RemoveForm>,
) -> Result<Response, PageError> {
    remove_key(&state, &headers, &viewer, &id, &form, Removal::Ordinary).await
}

/// `POST /security-info/keys/{id}/lost`.
async fn lost(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(id): Path<String>,
    PageForm(form): PageForm<RemoveForm>,
) -> Result<Response, PageError> {
    remove_key(&state, &headers, &viewer, &id, &form, Removal::Lost).await
}
