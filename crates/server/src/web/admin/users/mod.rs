//! Console: users. The list (search, keyset paging), creating a user, and a user's page:
//! profile, enable/disable, security keys (remove one, reset all), temporary access pass,
//! group membership, sessions, delete.
//!
//! Every change is a call to the use case the JSON routes call (`keyfleet_core`), so it is
//! validated, authorised and audited alike: whom a helpdesk user may act on, and what only an
//! administrator may do (roles, group membership, deleting users), is decided there, and
//! every refusal is recorded as `access.denied`. The actions behind the user page's buttons
//! are in `actions.rs`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::tap::{DEFAULT_LIFETIME_MINUTES, MAX_LIFETIME_MINUTES, MIN_LIFETIME_MINUTES, Tap};
use keyfleet_domain::user::{Role, User, UserQuery};
use keyfleet_domain::{GroupId, UserId};
use serde::Deserialize;

use keyfleet_core::CoreError;
use keyfleet_core::access::Permission;
use keyfleet_core::credentials::ceremony::{b64, unb64};
use keyfleet_core::credentials::keys::{self, RetiredBy, RetiredKey, Retirement};
use keyfleet_core::identity::users::{self, CreateUser, UpdateUser};
use keyfleet_core::identity::{groups, sessions, taps};
use keyfleet_domain::session::{Session, SessionKind};

use super::{EnabledForm, Staff};
use crate::routes::{clear_cookie, parse_id};
use crate::state::{AppState, rfc3339};
use crate::web::format::{role_name, transports, when, when_or};
use crate::web::models::{Models, aaguid_text};
use crate::web::page::Done;
use crate::web::page::PageForm;
use crate::web::page::{Nav, PageError, html, html_status, see_other};

mod actions;

use actions::{
    add_group, confirm_delete, confirm_disable, confirm_reassign_band, confirm_remove_key, confirm_reset, delete,
    end_session, issue_tap, reassign_band, remove_group, remove_key, reset, revoke_sessions, revoke_tap, show_tap,
};

/// Users listed per page.
const PAGE_SIZE: usize = 50;

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/new", get(new_form).post(create))
        .route("/admin/users/{id}", get(show).post(update))
        .route("/admin/users/{id}/enabled", post(set_enabled))
        .route("/admin/users/{id}/disable", get(confirm_disable))
        .route(
            "/admin/users/{id}/keys/{key}/remove",
            get(confirm_remove_key).post(remove_key),
        )
        .route(
            "/admin/users/{id}/keys/{key}/reassign",
            get(confirm_reassign_band).post(reassign_band),
        )
        .route("/admin/users/{id}/reset", get(confirm_reset).post(reset))
        .route("/admin/users/{id}/tap", get(show_tap).post(issue_tap))
        .route("/admin/users/{id}/tap/revoke", post(revoke_tap))
        .route("/admin/users/{id}/groups", post(add_group))
        .route("/admin/users/{id}/groups/{group}/remove", post(remove_group))
        .route("/admin/users/{id}/sessions/revoke", post(revoke_sessions))
        .route("/admin/users/{id}/sessions/{session}/end", post(end_session))
        .route("/admin/users/{id}/delete", get(confirm_delete).post(delete))
        .route("/admin/users/{id}/keys/{key}/returned", post(actions::mark_returned))
        .route("/admin/users/{id}/restore", post(actions::restore))
}

// ---------------------------------------------------------------------------------------
// Shared helpers

/// One choice of the role select.
pub struct RoleOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// The role choices: administrators only (a helpdesk user sees no select).
fn role_options(staff: &Staff, current: Role) -> Vec<RoleOption> {
    if !staff.is_admin() {
        return Vec::new();
    }
    [Role::Worker, Role::Helpdesk, Role::Admin]
        .into_iter()
        .map(|r| RoleOption {
            value: r.as_str(),
            label: role_name(r),
            selected: r == current,
        })
        .collect()
}

/// The role a form sent: none when the field is absent or empty.
fn parse_role(text: Option<&str>) -> Result<Option<Role>, String> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Role::parse(t)
            .map(Some)
            .ok_or_else(|| "Choose a role from the list.".to_owned()),
    }
}

/// An optional text field: empty means "not set".
fn optional(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| text.to_owned())
}

/// A service's message with the JSON field names replaced by the form's labels.
fn for_people(message: &str) -> String {
    message
        .replace("displayName", "the display name")
        .replace("managerEmail", "the manager email")
        .replace("shippingAddress", "the shipping address")
        .replace("lifetimeMinutes", "the lifetime in minutes")
}

/// Turns a service error into a page (the service has already audited a refusal as
/// `access.denied`).
fn refused(e: CoreError) -> PageError {
    e.into()
}

/// The user named in the path, if the viewer may act on them: a malformed or unknown id is
/// not found; a helpdesk user asking for an administrator or helpdesk user is refused (403,
/// audited).
async fn target(state: &AppState, staff: &Staff, id: &str) -> Result<User, PageError> {
    let id: UserId = parse_id(id)?;
    match users::get_for_change(&staff.ctx(state), &staff.principal(), id).await {
        Ok(user) => Ok(user),
        Err(e) => Err(refused(e)),
    }
}

/// After a change: back to `to`, or to sign-in when the change ended the viewer's own session
/// (their own keys reset, their sessions ended, their account disabled).
async fn back(state: &AppState, staff: &Staff, to: &str) -> Result<Response, PageError> {
    let live = state
        .stores
        .sessions
        .find_live_session(&staff.viewer.session.token_hash, state.now())
        .await?;
    if live.is_some() {
        return Ok(see_other(to));
    }
    let mut res = see_other("/login?done=signed-out");
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(state)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

fn user_path(id: UserId, done: &str) -> String {
    format!("/admin/users/{id}?done={done}")
}

// ---------------------------------------------------------------------------------------
// The list

/// One user in the list.
pub struct UserRow {
    id: String,
    username: String,
    display_name: String,
    email: String,
    role: &'static str,
    enabled: bool,
}

impl UserRow {
    fn new(u: &User) -> Self {
        UserRow {
            id: u.id.to_string(),
            username: u.username.as_str().to_owned(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            role: role_name(u.role),
            enabled: u.enabled,
        }
    }
}

#[derive(askama::Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    nav: Nav,
    q: String,
    users: Vec<UserRow>,
    next_url: Option<String>,
    paged: bool,
    notice: Option<&'static str>,
}

/// Query of the list.
#[derive(Debug, Deserialize)]
struct ListQuery {
    q: Option<String>,
    after: Option<String>,
    done: Option<String>,
}

fn list_notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "deleted" => Some("The user was deleted. The audit log keeps their history."),
        _ => None,
    }
}

/// The link to the page after `last`, keeping the search.
fn next_url(search: Option<&str>, last: &str) -> String {
    let mut pairs = Vec::new();
    if let Some(q) = search {
        pairs.push(("q", q));
    }
    pairs.push(("after", last));
    format!(
        "/admin/users?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

/// `GET /admin/users?q=&after=`: search and page through users by username.
async fn list(State(state): State<AppState>, staff: Staff, Query(q): Query<ListQuery>) -> Result<Response, PageError> {
    let search =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
    let after = q.after.filter(|a| !a.is_empty());
    let query = UserQuery {
        search: search.clone(),
        after: after.clone(),
        limit: u32::try_from(PAGE_SIZE + 1).unwrap_or(u32::MAX),
    };
    let mut found = state.stores.users.list_users(&query).await?;
    let more = found.len() > PAGE_SIZE;
    found.truncate(PAGE_SIZE);
    let next = more
        .then(|| found.last().map(|u| next_url(search.as_deref(), u.username.as_str())))
        .flatten();
    let page = UsersPage {
        nav: staff.viewer.nav("users"),
        q: search.unwrap_or_default(),
        users: found.iter().map(UserRow::new).collect(),
        next_url: next,
        paged: after.is_some(),
        notice: list_notice(q.done.as_deref()),
    };
    Ok(html(&page))
}

// ---------------------------------------------------------------------------------------
// Creating a user

/// The new-user form, as sent (and kept when it is shown again with an error).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewForm {
    username: String,
    display_name: String,
    email: String,
    manager_email: String,
    shipping_address: String,
    role: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "admin/user_new.html")]
struct NewUserPage {
    nav: Nav,
    form: NewForm,
    roles: Vec<RoleOption>,
    error: Option<String>,
}

fn new_page(staff: &Staff, form: NewForm, status: StatusCode, error: Option<String>) -> Response {
    let role = parse_role(form.role.as_deref()).ok().flatten().unwrap_or(Role::Worker);
    let page = NewUserPage {
        nav: staff.viewer.nav("users"),
        roles: role_options(staff, role),
        form,
        error,
    };
    html_status(status, &page)
}

/// `GET /admin/users/new`.
async fn new_form(staff: Staff) -> Response {
    new_page(&staff, NewForm::default(), StatusCode::OK, None)
}

/// `POST /admin/users/new`: creates the user and goes to their page.
async fn create(
    State(state): State<AppState>,
    staff: Staff,
    PageForm(form): PageForm<NewForm>,
) -> Result<Response, PageError> {
    let role = match parse_role(form.role.as_deref()) {
        Ok(r) => r,
        Err(msg) => return Ok(new_page(&staff, form, StatusCode::UNPROCESSABLE_ENTITY, Some(msg))),
    };
    let input = CreateUser {
        username: form.username.clone(),
        display_name: form.display_name.clone(),
        email: form.email.clone(),
        manager_email: optional(&form.manager_email),
        shipping_address: optional(&form.shipping_address),
        role,
    };
    let (status, message) = match users::create(&staff.ctx(&state), &staff.principal(), input).await {
        Ok(user) => return Ok(see_other(&user_path(user.id, "created"))),
        Err(CoreError::Invalid { message, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, message),
        Err(CoreError::Conflict { message, .. }) => (StatusCode::CONFLICT, message),
        Err(e) => return Err(refused(e)),
    };
    let msg = format!("The user was not created: {}.", for_people(&message));
    Ok(new_page(&staff, form, status, Some(msg)))
}

// ---------------------------------------------------------------------------------------
// A user's page

/// The profile as shown.
pub struct Profile {
    id: String,
    username: String,
    display_name: String,
    email: String,
    manager_email: String,
    shipping_address: String,
    role: &'static str,
    enabled: bool,
    created: String,
    created_iso: String,
    is_self: bool,
}

/// The values of the edit form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EditForm {
    display_name: String,
    email: String,
    manager_email: String,
    shipping_address: String,
    role: Option<String>,
}

impl EditForm {
    fn of(u: &User) -> Self {
        EditForm {
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            manager_email: u.manager_email.clone().unwrap_or_default(),
            shipping_address: u.shipping_address.clone().unwrap_or_default(),
            role: Some(u.role.as_str().to_owned()),
        }
    }
}

/// One key as the console shows it: plain words first, the technical values behind a
/// "details" toggle.
pub struct KeyRow {
    id: String,
    nickname: String,
    model: String,
    /// The model's icon, when its metadata has one.
    icon: Option<String>,
    /// The status the metadata reports the model compromised with: the key is flagged.
    compromised: Option<String>,
    aaguid: String,
    added: String,
    added_iso: String,
    last_used: String,
    last_used_iso: String,
    sign_count: u32,
    /// Whether the maker's attestation was checked against a trusted root.
    attested: bool,
    /// What the attestation check means, in words.
    verified: &'static str,
    /// The attestation statement's format and trust, as recorded.
    attestation: String,
    transports: String,
    cloned: bool,
    /// The owner's group policy no longer allows it: it cannot sign in.
    not_allowed: bool,
    /// A wearable band: it can be reassigned to another wearer.
    band: bool,
    /// Flagged for collection: its holder left the group a rule gave it for.
    collection: bool,
}

/// The attestation outcome in words: `trusted` means the key proved it was made by its
/// maker (a chain to a trusted root); anything else means keyfleet could not tell.
fn verified_text(trust: &str) -> &'static str {
    match trust {
        "trusted" => "Attested by the maker",
        "none" => "Not verified: the key sent no attestation",
        "self" => "Not verified: the key vouched for itself",
        _ => "Not verified",
    }
}

impl KeyRow {
    fn new(c: &Credential, models: &Models) -> Self {
        KeyRow {
            id: b64(&c.id),
            nickname: c.nickname.clone(),
            model: models.label(&c.aaguid),
            icon: models.icon_url(&c.aaguid),
            compromised: models.compromised(&c.aaguid),
            aaguid: aaguid_text(&c.aaguid),
            added: when(c.created_at),
            added_iso: rfc3339(c.created_at),
            last_used: when_or(c.last_used_at, "never"),
            last_used_iso: c.last_used_at.map(rfc3339).unwrap_or_default(),
            sign_count: c.sign_count,
            attested: c.is_attested(),
            verified: verified_text(&c.attestation_trust),
            attestation: format!("{} ({})", c.attestation_format, c.attestation_trust),
            transports: transports(&c.transports),
            cloned: c.possibly_cloned,
            not_allowed: false,
            band: keys::is_band(c),
            collection: false,
        }
    }
}

/// A key that is no longer registered, as the user's page lists it.
pub struct RetiredRow {
    at: String,
    at_iso: String,
    nickname: String,
    what: &'static str,
    lost: bool,
    by: String,
}

impl RetiredRow {
    fn new(r: &RetiredKey) -> Self {
        RetiredRow {
            at: when(r.at),
            at_iso: rfc3339(r.at),
            nickname: r
                .nickname
                .clone()
                .unwrap_or_else(|| "(no nickname recorded)".to_owned()),
            what: match r.how {
                Retirement::Removed => "Removed",
                Retirement::Lost => "Reported lost or stolen",
                Retirement::Reset => "Removed when all keys were reset",
                Retirement::Reassigned => "Band reassigned to another wearer",
            },
            lost: r.how == Retirement::Lost,
            by: match &r.by {
                RetiredBy::Owner => "the user".to_owned(),
                RetiredBy::Person(Some(name)) => name.clone(),
                RetiredBy::Person(None) => "a deleted user".to_owned(),
                RetiredBy::Client(Some(name)) => format!("API client “{name}”"),
                RetiredBy::Client(None) => "a deleted API client".to_owned(),
                RetiredBy::Operator(actor) => match actor.strip_prefix("cli:") {
                    Some(who) => format!("the command line ({who})"),
                    None => "keyfleet".to_owned(),
                },
            },
        }
    }
}

/// One live session of the user.
pub struct SessionRow {
    id: String,
    created: String,
    created_iso: String,
    last_seen: String,
    last_seen_iso: String,
    address: String,
    method: String,
}

/// The current pass, without its code.
pub struct TapRow {
    issued: String,
    issued_iso: String,
    expires: String,
    expires_iso: String,
    one_time: bool,
    /// "not used yet", "used 1 time", "used 3 times".
    uses: String,
    state: &'static str,
}

/// How often a pass was used, in words.
pub(super) fn uses_text(count: i64) -> String {
    match count {
        0 => "not used yet".to_owned(),
        1 => "used 1 time".to_owned(),
        n => format!("used {n} times"),
    }
}

impl TapRow {
    fn new(t: &Tap, now: keyfleet_domain::Timestamp) -> Self {
        let state = if t.is_usable(now) {
            "usable"
        } else if now >= t.expires_at {
            "expired"
        } else {
            "used"
        };
        TapRow {
            issued: when(t.created_at),
            issued_iso: rfc3339(t.created_at),
            expires: when(t.expires_at),
            expires_iso: rfc3339(t.expires_at),
            one_time: t.one_time,
            uses: uses_text(t.use_count),
            state,
        }
    }
}

/// A group as the page lists it.
pub struct GroupRow {
    id: String,
    name: String,
}

#[derive(askama::Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    nav: Nav,
    user: Profile,
    /// Deleted by directory sync and still within the recovery period: it can be restored.
    directory_deleted: bool,
    edit: EditForm,
    roles: Vec<RoleOption>,
    admin: bool,
    /// The viewer may change this user (else the page is read-only).
    may_change: bool,
    keys: Vec<KeyRow>,
    retired: Vec<RetiredRow>,
    /// The newest retirement was a loss and no key was added since.
    lost_recently: Option<String>,
    tap: Option<TapRow>,
    lifetime: String,
    min_lifetime: u32,
    max_lifetime: u32,
    groups: Vec<GroupRow>,
    addable: Vec<GroupRow>,
    sessions: Vec<SessionRow>,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// What the user's page shows besides the stored state.
struct Shown {
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
    /// The edit form as sent, when it is shown again with an error.
    edit: Option<EditForm>,
    /// The lifetime as sent, when the TAP form is shown again with an error.
    lifetime: Option<String>,
}

impl Shown {
    fn notice(done: Option<&str>) -> Self {
        Shown {
            status: StatusCode::OK,
            notice: user_notice(done),
            error: None,
            edit: None,
            lifetime: None,
        }
    }

    fn error(message: String) -> Self {
        Shown {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: Some(message),
            ..Shown::notice(None)
        }
    }
}

fn user_notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("The user was created."),
        "updated" => Some("The profile was saved."),
        "enabled" => Some("The user was enabled. They can sign in again."),
        "disabled" => Some("The user was disabled. Their sessions ended."),
        "key-removed" => Some("The key was removed and the sessions opened with it ended."),
        "key-returned" => Some("The key was marked returned and removed."),
        "restored" => Some("The user was restored: enabled again and visible to directory sync."),
        "band-reassigned" => Some(
            "The band was reassigned: its credential for this user was removed and the sessions opened with it ended. \
             Wipe the band (keyfleet key reassign) before its next wearer enrols.",
        ),
        "reset" => Some(
            "All keys were removed and every session ended. The user needs a temporary access pass to add a new key.",
        ),
        "group-added" => Some("The user was added to the group."),
        "group-removed" => Some("The user was removed from the group."),
        "sessions-ended" => Some("All of the user's sessions ended."),
        "session-ended" => Some("The session ended."),
        "tap-revoked" => Some("The temporary access pass was revoked. It no longer works."),
        "no-tap" => Some("The user has no temporary access pass."),
        _ => None,
    }
}

async fn group_rows(state: &AppState, staff: &Staff, user: &User) -> Result<(Vec<GroupRow>, Vec<GroupRow>), PageError> {
    let row = |g: &keyfleet_domain::group::Group| GroupRow {
        id: g.id.to_string(),
        name: g.name.clone(),
    };
    let member_of = state.stores.groups.list_user_groups(user.id).await?;
    let addable = if staff.is_admin() {
        let all = state.stores.groups.list_groups().await?;
        all.iter()
            .filter(|g| !member_of.iter().any(|m| m.id == g.id))
            .map(row)
            .collect()
    } else {
        Vec::new()
    };
    Ok((member_of.iter().map(row).collect(), addable))
}

fn profile(staff: &Staff, u: &User) -> Profile {
    Profile {
        id: u.id.to_string(),
        username: u.username.as_str().to_owned(),
        display_name: u.display_name.clone(),
        email: u.email.clone(),
        manager_email: u.manager_email.clone().unwrap_or_default(),
        shipping_address: u.shipping_address.clone().unwrap_or_default(),
        role: role_name(u.role),
        enabled: u.enabled,
        created: when(u.created_at),
        created_iso: rfc3339(u.created_at),
        is_self: u.id == staff.viewer.user.id,
    }
}

fn session_row(s: &Session, keys: &[Credential]) -> SessionRow {
    let method = match (&s.credential_id, s.kind) {
        (_, SessionKind::Tap) => "Temporary access pass".to_owned(),
        (Some(id), _) => match keys.iter().find(|k| &k.id == id) {
            Some(k) => format!("Key “{}”", k.nickname),
            None => "A key since removed".to_owned(),
        },
        (None, _) => "Other".to_owned(),
    };
    SessionRow {
        id: s.id.to_string(),
        created: when(s.created_at),
        created_iso: rfc3339(s.created_at),
        last_seen: when(s.last_seen_at),
        last_seen_iso: rfc3339(s.last_seen_at),
        address: s.client_addr.clone().unwrap_or_else(|| "unknown".to_owned()),
        method,
    }
}

async fn render_user(state: &AppState, staff: &Staff, user: &User, shown: Shown) -> Result<Response, PageError> {
    let now = state.now();
    let may_change = users::may_change(&staff.principal(), user);
    let keys = state.stores.credentials.list_user_credentials(user.id).await?;
    let tap = state.stores.taps.find_tap(user.id).await?;
    let (groups, addable) = group_rows(state, staff, user).await?;
    let sessions = if may_change {
        let live = state.stores.sessions.list_user_sessions(user.id, now).await?;
        live.iter().map(|s| session_row(s, &keys)).collect()
    } else {
        Vec::new()
    };
    let retired = keys::retired_for_user(&staff.ctx(state), &staff.principal(), user.id).await?;
    let lost_recently = keys::unreplaced_loss(&retired, &keys).map(|r| {
        format!(
            "{} reported the key “{}” lost on {}.",
            if matches!(r.by, RetiredBy::Owner) {
                user.display_name.as_str()
            } else {
                "Someone"
            },
            r.nickname.as_deref().unwrap_or("(no nickname)"),
            when(r.at)
        )
    });
    let standing = keyfleet_core::policies::key_standing(&staff.ctx(state), user.id, &keys).await?;
    let flagged = state.stores.shipments.user_collections(user.id).await?;
    let aaguids: Vec<[u8; 16]> = keys.iter().map(|k| k.aaguid).collect();
    let models = Models::load(&staff.ctx(state), &aaguids).await?;
    let edit = shown.edit.unwrap_or_else(|| EditForm::of(user));
    let role = parse_role(edit.role.as_deref()).ok().flatten().unwrap_or(user.role);
    let directory_deleted = state
        .stores
        .directory
        .directory_user(user.id)
        .await?
        .is_some_and(|du| du.link.deleted_at.is_some());
    let page = UserPage {
        nav: staff.viewer.nav("users"),
        user: profile(staff, user),
        directory_deleted,
        roles: role_options(staff, role),
        edit,
        admin: staff.is_admin(),
        may_change,
        keys: keys
            .iter()
            .zip(&standing)
            .map(|(k, refusal)| KeyRow {
                not_allowed: refusal.is_some(),
                collection: flagged.iter().any(|f| f.credential_id == k.id),
                ..KeyRow::new(k, &models)
            })
            .collect(),
        retired: retired.iter().map(RetiredRow::new).collect(),
        lost_recently,
        tap: tap.as_ref().map(|t| TapRow::new(t, now)),
        lifetime: shown.lifetime.unwrap_or_else(|| DEFAULT_LIFETIME_MINUTES.to_string()),
        min_lifetime: MIN_LIFETIME_MINUTES,
        max_lifetime: MAX_LIFETIME_MINUTES,
        groups,
        addable,
        sessions,
        notice: shown.notice,
        error: shown.error,
    };
    Ok(html_status(shown.status, &page))
}

/// `GET /admin/users/{id}`.
async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    // Anyone on the console may look (read-only where they may not change this user).
    let id: UserId = parse_id(&id)?;
    let user = users::get(&staff.ctx(&state), &staff.principal(), id).await?;
    render_user(&state, &staff, &user, Shown::notice(q.done.as_deref())).await
}

/// `POST /admin/users/{id}`: saves the profile (and, for administrators, the role).
async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    PageForm(form): PageForm<EditForm>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    let role = match parse_role(form.role.as_deref()) {
        Ok(r) => r,
        Err(msg) => return edit_error(&state, &staff, &user, form, &msg).await,
    };
    let change = UpdateUser {
        display_name: Some(form.display_name.clone()),
        email: Some(form.email.clone()),
        manager_email: Some(optional(&form.manager_email)),
        shipping_address: Some(optional(&form.shipping_address)),
        enabled: None,
        role,
    };
    match users::update(&staff.ctx(&state), &staff.principal(), user.id, change).await {
        Ok(_) => back(&state, &staff, &user_path(user.id, "updated")).await,
        Err(CoreError::Invalid { message, .. }) => {
            let msg = format!("The profile was not saved: {}.", for_people(&message));
            edit_error(&state, &staff, &user, form, &msg).await
        }
        Err(e) => Err(refused(e)),
    }
}

async fn edit_error(
    state: &AppState,
    staff: &Staff,
    user: &User,
    form: EditForm,
    msg: &str,
) -> Result<Response, PageError> {
    let shown = Shown {
        edit: Some(form),
        ..Shown::error(msg.to_owned())
    };
    render_user(state, staff, user, shown).await
}

/// `POST /admin/users/{id}/enabled`: `enabled=true` or `false`. Disabling ends every
/// session of the user (in the same transaction).
async fn set_enabled(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    PageForm(form): PageForm<EnabledForm>,
) -> Result<Response, PageError> {
    let user = target(&state, &staff, &id).await?;
    let Some(enabled) = form.choice() else {
        return render_user(
            &state,
            &staff,
            &user,
            Shown::error("Choose enable or disable.".to_owned()),
        )
        .await;
    };
    let change = UpdateUser {
        enabled: Some(enabled),
        ..UpdateUser::default()
    };
    match users::update(&staff.ctx(&state), &staff.principal(), user.id, change).await {
        Ok(_) => {
            let done = if enabled { "enabled" } else { "disabled" };
            back(&state, &staff, &user_path(user.id, done)).await
        }
        Err(e) => Err(refused(e)),
    }
}
