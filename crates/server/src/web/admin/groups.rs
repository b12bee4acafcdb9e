//! Console: groups. The list with a create form, a group's page with its members (add by
//! username, remove), and deletion after a confirmation.
//!
//! Staff with `ReadGroups` (helpdesk users too) see the list and a group's members,
//! read-only; the forms are offered only with `ManageGroups` (administrators), and every
//! change checks it again ([`Staff::require`]: a refusal is 403 and an `access.denied` audit
//! entry). Every change is the use case the JSON routes call
//! (`keyfleet_core::identity::groups`), with the same rules and audit.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use keyfleet_domain::group::Group;
use keyfleet_domain::user::{Role, User, Username};
use keyfleet_domain::{GroupId, UserId};
use serde::Deserialize;

use super::Staff;
use crate::state::{AppState, rfc3339};
use crate::web::format::when;
use crate::web::page::Done;
use crate::web::page::PageForm;
use crate::web::page::{Nav, PageError, html_status, see_other};
use keyfleet_core::CoreError;
use keyfleet_core::access::Permission;
use keyfleet_core::identity::groups;

/// What changing groups needs (administrators; helpdesk staff are refused and audited).
const WHAT: Permission = Permission::ManageGroups;
/// What looking at groups needs (administrators and helpdesk staff).
const READ: Permission = Permission::ReadGroups;

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/groups", get(list).post(create))
        .route("/admin/groups/{id}", get(show))
        .route("/admin/groups/{id}/members", post(add_member))
        .route("/admin/groups/{id}/members/{user_id}/remove", post(remove_member))
        .route("/admin/groups/{id}/delete", get(confirm_delete).post(delete))
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("The group was created."),
        "added" => Some("The user is a member of the group."),
        "removed" => Some("The user was removed from the group."),
        "deleted" => Some("The group was deleted."),
        _ => None,
    }
}

/// A refused change as a page: the status and a sentence for people. Rule breaks (422) and
/// conflicts (409) are shown on the form they came from; anything else is an error page.
pub(super) fn refusal(e: CoreError) -> Result<(StatusCode, String), PageError> {
    let (status, message) = match e {
        CoreError::Invalid { message, .. } => (StatusCode::UNPROCESSABLE_ENTITY, message),
        CoreError::Conflict { message, .. } => (StatusCode::CONFLICT, message),
        other => return Err(other.into()),
    };
    Ok((status, sentence(&message)))
}

/// `message` with a capital first letter and a full stop.
pub(super) fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// One group as the pages show it.
struct GroupRow {
    id: String,
    name: String,
    description: String,
    created: String,
    created_iso: String,
}

impl From<&Group> for GroupRow {
    fn from(g: &Group) -> Self {
        GroupRow {
            id: g.id.to_string(),
            name: g.name.clone(),
            description: g.description.clone(),
            created: when(g.created_at),
            created_iso: rfc3339(g.created_at),
        }
    }
}

/// One member as the group's page shows it.
struct MemberRow {
    id: String,
    username: String,
    display_name: String,
    role: &'static str,
    enabled: bool,
}

impl From<&User> for MemberRow {
    fn from(u: &User) -> Self {
        MemberRow {
            id: u.id.to_string(),
            username: u.username.as_str().to_owned(),
            display_name: u.display_name.clone(),
            role: match u.role {
                Role::Admin => "Administrator",
                Role::Helpdesk => "Helpdesk",
                Role::Worker => "Worker",
            },
            enabled: u.enabled,
        }
    }
}

#[derive(askama::Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    nav: Nav,
    /// The viewer may create groups and change membership.
    manage: bool,
    groups: Vec<GroupRow>,
    notice: Option<&'static str>,
    error: Option<String>,
    form: CreateForm,
}

/// The create form (also the values kept when it is shown again).
#[derive(Debug, Default, Deserialize)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

async fn render_list(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
    form: CreateForm,
) -> Result<Response, PageError> {
    let groups = state.stores.groups.list_groups().await?;
    let page = GroupsPage {
        nav: staff.viewer.nav("groups"),
        manage: staff.principal().may(WHAT),
        groups: groups.iter().map(GroupRow::from).collect(),
        notice,
        error,
        form,
    };
    Ok(html_status(status, &page))
}

/// `GET /admin/groups`.
async fn list(State(state): State<AppState>, staff: Staff, Query(q): Query<Done>) -> Result<Response, PageError> {
    staff.require(&state, READ).await?;
    let n = notice(q.done.as_deref());
    render_list(&state, &staff, StatusCode::OK, n, None, CreateForm::default()).await
}

/// `POST /admin/groups`: creates the group and opens its page.
async fn create(
    State(state): State<AppState>,
    staff: Staff,
    PageForm(form): PageForm<CreateForm>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    match groups::create(&staff.ctx(&state), &staff.principal(), &form.name, &form.description).await {
        Ok(group) => Ok(see_other(&format!("/admin/groups/{}?done=created", group.id))),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let msg = format!("The group was not created. {message}");
            render_list(&state, &staff, status, None, Some(msg), form).await
        }
    }
}

#[derive(askama::Template)]
#[template(path = "admin/group.html")]
struct GroupPage {
    nav: Nav,
    /// The viewer may change membership and delete the group.
    manage: bool,
    group: GroupRow,
    members: Vec<MemberRow>,
    notice: Option<&'static str>,
    error: Option<String>,
    username: String,
}

fn group_id(text: &str) -> Result<GroupId, PageError> {
    text.parse().map_err(|_| PageError::not_found())
}

async fn load(state: &AppState, id: &str) -> Result<Group, PageError> {
    state
        .stores
        .groups
        .get_group(group_id(id)?)
        .await?
        .ok_or_else(PageError::not_found)
}

async fn render_group(
    state: &AppState,
    staff: &Staff,
    id: &str,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
    username: String,
) -> Result<Response, PageError> {
    let group = load(state, id).await?;
    let members = state.stores.groups.list_members(group.id).await?;
    let page = GroupPage {
        nav: staff.viewer.nav("groups"),
        manage: staff.principal().may(WHAT),
        group: GroupRow::from(&group),
        members: members.iter().map(MemberRow::from).collect(),
        notice,
        error,
        username,
    };
    Ok(html_status(status, &page))
}

/// `GET /admin/groups/{id}`.
async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    staff.require(&state, READ).await?;
    let n = notice(q.done.as_deref());
    render_group(&state, &staff, &id, StatusCode::OK, n, None, String::new()).await
}

/// The add-member form.
#[derive(Debug, Deserialize)]
struct AddForm {
    #[serde(default)]
    username: String,
}

/// `POST /admin/groups/{id}/members`: adds the user with this username.
async fn add_member(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    PageForm(form): PageForm<AddForm>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let group = load(&state, &id).await?;
    let user = match Username::parse(&form.username) {
        Ok(name) => state.stores.users.find_user_by_username(&name).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        let shown: String = form.username.trim().chars().take(64).collect();
        let msg = format!("Nobody was added. There is no user with the username “{shown}”.");
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render_group(&state, &staff, &id, status, None, Some(msg), form.username).await;
    };
    groups::add_member(&staff.ctx(&state), &staff.principal(), group.id, user.id).await?;
    Ok(see_other(&format!("/admin/groups/{}?done=added", group.id)))
}

/// `POST /admin/groups/{id}/members/{user_id}/remove`.
async fn remove_member(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let group = group_id(&id)?;
    let user: UserId = user_id.parse().map_err(|_| PageError::not_found())?;
    groups::remove_member(&staff.ctx(&state), &staff.principal(), group, user).await?;
    Ok(see_other(&format!("/admin/groups/{group}?done=removed")))
}

#[derive(askama::Template)]
#[template(path = "admin/group_delete.html")]
struct DeletePage {
    nav: Nav,
    group: GroupRow,
    members: usize,
}

/// `GET /admin/groups/{id}/delete`: what deletion does, and the button.
async fn confirm_delete(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let group = load(&state, &id).await?;
    let members = state.stores.groups.list_members(group.id).await?.len();
    let page = DeletePage {
        nav: staff.viewer.nav("groups"),
        group: GroupRow::from(&group),
        members,
    };
    Ok(html_status(StatusCode::OK, &page))
}

/// `POST /admin/groups/{id}/delete`.
async fn delete(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let id = group_id(&id)?;
    groups::delete(&staff.ctx(&state), &staff.principal(), id).await?;
    Ok(see_other("/admin/groups?done=deleted"))
}
