//! Console: group policies. The list; a policy's page (its form for administrators, its
//! settings read-only for helpdesk staff); a new policy's form; the lock-out preview shown
//! before saving, and the confirmation a change that strands people needs; deletion.
//!
//! Every read and change is the use case the JSON routes call (`keyfleet_core::policies`),
//! with the same rules, preview and audit. Groups are typed by name here and turned into
//! their ids for the core.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use keyfleet_core::CoreError;
use keyfleet_core::access::Permission;
use keyfleet_core::identity::groups;
use keyfleet_core::policies::{self, Preview};
use keyfleet_domain::group::Group;
use keyfleet_domain::ids::PolicyId;
use keyfleet_domain::policy::{Policy, PolicyDraft, Targets, format_aaguid};
use serde::Deserialize;

use super::Staff;
use super::groups::{refusal, sentence};
use crate::state::AppState;
use crate::web::models::Models;
use crate::web::page::{Done, Nav, PageError, PageForm, html_status, see_other};

/// What changing policies needs (administrators).
const WHAT: Permission = Permission::ManagePolicies;
/// What reading them needs (administrators and helpdesk staff).
const READ: Permission = Permission::ReadPolicies;

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/policies", get(list))
        .route("/admin/policies/new", get(new).post(save_new))
        .route("/admin/policies/{id}", get(show).post(save_existing))
        .route("/admin/policies/{id}/delete", post(delete))
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("The policy was created."),
        "saved" => Some("The policy was saved."),
        "deleted" => Some("The policy was deleted."),
        _ => None,
    }
}

fn names(ids: &[keyfleet_domain::GroupId], groups: &[Group]) -> String {
    ids.iter()
        .map(|id| {
            groups
                .iter()
                .find(|g| g.id == *id)
                .map_or_else(|| id.to_string(), |g| g.name.clone())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One policy as the list shows it.
struct PolicyRow {
    id: String,
    name: String,
    built_in: bool,
    targets: String,
    summary: String,
}

fn row(p: &Policy, groups: &[Group]) -> PolicyRow {
    let s = &p.settings;
    let mut summary = vec![format!("UV {}", s.user_verification.as_str())];
    if s.attestation.as_str() == "required" {
        summary.push("attestation required".into());
    }
    summary.push(s.passkey_types.names().join(" + "));
    if let Some(k) = &s.key_restrictions {
        summary.push(format!("{} {} model(s)", k.enforcement.as_str(), k.aaguids.len()));
    }
    if s.block_compromised_models {
        summary.push("compromised models blocked".into());
    }
    if let Some(n) = s.max_keys_per_user {
        summary.push(format!("at most {n} key(s)"));
    }
    if !s.self_service_registration {
        summary.push("no self-service".into());
    }
    let mut targets = match &p.include {
        Targets::All => "Everyone".to_owned(),
        Targets::Groups(g) => names(g, groups),
    };
    if !p.exclude.is_empty() {
        targets.push_str(&format!(" except {}", names(&p.exclude, groups)));
    }
    PolicyRow {
        id: p.id.to_string(),
        name: p.name.clone(),
        built_in: p.is_builtin(),
        targets,
        summary: summary.join("; "),
    }
}

#[derive(askama::Template)]
#[template(path = "admin/policies.html")]
struct ListPage {
    nav: Nav,
    manage: bool,
    policies: Vec<PolicyRow>,
    notice: Option<&'static str>,
}

/// `GET /admin/policies`.
async fn list(State(state): State<AppState>, staff: Staff, Query(q): Query<Done>) -> Result<Response, PageError> {
    staff.require(&state, READ).await?;
    let ctx = staff.ctx(&state);
    let all = policies::list(&ctx, &staff.principal()).await?;
    let groups = groups::list(&ctx, &staff.principal()).await?;
    let page = ListPage {
        nav: staff.viewer.nav("policies"),
        manage: staff.principal().may(WHAT),
        policies: all.iter().map(|p| row(p, &groups)).collect(),
        notice: notice(q.done.as_deref()),
    };
    Ok(html_status(StatusCode::OK, &page))
}

/// The policy form (also the values kept when it is shown again). Checkboxes send `on`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PolicyForm {
    name: String,
    /// `all`, or group names separated by commas.
    include: String,
    /// Group names separated by commas.
    exclude: String,
    self_service: String,
    user_verification: String,
    attestation: String,
    device_bound: String,
    synced: String,
    /// Empty (no list), `allow` or `block`.
    enforcement: String,
    /// AAGUIDs separated by commas, spaces or lines.
    aaguids: String,
    block_compromised: String,
    /// Empty for no limit.
    max_keys: String,
    /// `preview` or `save`.
    action: String,
    /// `on`: save even though people would be left without a usable key.
    confirm: String,
}

impl PolicyForm {
    fn of(p: &Policy, groups: &[Group]) -> Self {
        let s = &p.settings;
        let on = |b: bool| if b { "on".to_owned() } else { String::new() };
        PolicyForm {
            name: p.name.clone(),
            include: match &p.include {
                Targets::All => "all".to_owned(),
                Targets::Groups(g) => names(g, groups),
            },
            exclude: names(&p.exclude, groups),
            self_service: on(s.self_service_registration),
            user_verification: s.user_verification.as_str().to_owned(),
            attestation: s.attestation.as_str().to_owned(),
            device_bound: on(s.passkey_types.device_bound),
            synced: on(s.passkey_types.synced),
            enforcement: s
                .key_restrictions
                .as_ref()
                .map_or_else(String::new, |k| k.enforcement.as_str().to_owned()),
            aaguids: s.key_restrictions.as_ref().map_or_else(String::new, |k| {
                k.aaguids.iter().map(format_aaguid).collect::<Vec<_>>().join("\n")
            }),
            block_compromised: on(s.block_compromised_models),
            max_keys: s.max_keys_per_user.map_or_else(String::new, |n| n.to_string()),
            action: String::new(),
            confirm: String::new(),
        }
    }

    fn fresh() -> Self {
        PolicyForm {
            include: "all".into(),
            self_service: "on".into(),
            user_verification: "preferred".into(),
            attestation: "none".into(),
            device_bound: "on".into(),
            synced: "on".into(),
            ..Default::default()
        }
    }

    /// The draft for the core, with group names turned into ids (`Err`: a name no group has).
    fn draft(&self, groups: &[Group]) -> Result<PolicyDraft, String> {
        let ids = |text: &str| -> Result<Vec<String>, String> {
            text.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| {
                    if n == "all" {
                        return Ok("all".to_owned());
                    }
                    groups
                        .iter()
                        .find(|g| g.name_key == n.to_lowercase())
                        .map(|g| g.id.to_string())
                        .ok_or_else(|| format!("There is no group named “{}”.", n.chars().take(64).collect::<String>()))
                })
                .collect()
        };
        let max_keys = match self.max_keys.trim() {
            "" => None,
            n => Some(
                n.parse::<i64>()
                    .map_err(|_| "The key limit must be a whole number.".to_owned())?,
            ),
        };
        let mut types = Vec::new();
        if self.device_bound == "on" {
            types.push("deviceBound".to_owned());
        }
        if self.synced == "on" {
            types.push("synced".to_owned());
        }
        Ok(PolicyDraft {
            name: self.name.clone(),
            include_groups: ids(&self.include)?,
            exclude_groups: ids(&self.exclude)?,
            self_service_registration: self.self_service == "on",
            user_verification: self.user_verification.clone(),
            attestation: self.attestation.clone(),
            passkey_types: types,
            key_restrictions: (!self.enforcement.is_empty()).then(|| {
                (
                    self.enforcement.clone(),
                    self.aaguids
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            }),
            block_compromised_models: self.block_compromised == "on",
            max_keys_per_user: max_keys,
        })
    }
}

/// A preview as the page shows it.
struct PreviewView {
    credentials_refused: usize,
    stranded: Vec<(String, String)>,
    by_model: Vec<(String, usize)>,
}

impl PreviewView {
    /// The preview with its models named (the metadata's names, else the community list's).
    fn new(p: &Preview, names: &Models) -> Self {
        PreviewView {
            credentials_refused: p.credentials_refused,
            stranded: p
                .users_left_without_usable_key
                .iter()
                .map(|u| (u.id.to_string(), u.username.clone()))
                .collect(),
            by_model: p
                .by_model
                .iter()
                .map(|m| (names.label(&m.aaguid), m.credentials_refused))
                .collect(),
        }
    }
}

#[derive(askama::Template)]
#[template(path = "admin/policy.html")]
struct PolicyPage {
    nav: Nav,
    /// The viewer may change it (and the policy is not the built-in default).
    manage: bool,
    /// `None` for a new policy.
    id: Option<String>,
    built_in: bool,
    title: String,
    form: PolicyForm,
    preview: Option<PreviewView>,
    /// The preview strands people: saving needs the confirmation box.
    needs_confirm: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn page(
    staff: &Staff,
    id: Option<&Policy>,
    form: PolicyForm,
    preview: Option<PreviewView>,
    notice: Option<&'static str>,
    error: Option<String>,
) -> PolicyPage {
    let built_in = id.is_some_and(Policy::is_builtin);
    PolicyPage {
        nav: staff.viewer.nav("policies"),
        manage: staff.principal().may(WHAT) && !built_in,
        id: id.map(|p| p.id.to_string()),
        built_in,
        title: id.map_or_else(|| "New policy".to_owned(), |p| format!("Policy “{}”", p.name)),
        form,
        needs_confirm: preview.as_ref().is_some_and(|p| !p.stranded.is_empty()),
        preview,
        notice,
        error,
    }
}

fn policy_id(text: &str) -> Result<PolicyId, PageError> {
    text.parse().map_err(|_| PageError::not_found())
}

/// `GET /admin/policies/new`.
async fn new(State(state): State<AppState>, staff: Staff) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    Ok(html_status(
        StatusCode::OK,
        &page(&staff, None, PolicyForm::fresh(), None, None, None),
    ))
}

/// `GET /admin/policies/{id}`.
async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    staff.require(&state, READ).await?;
    let ctx = staff.ctx(&state);
    let policy = policies::get(&ctx, &staff.principal(), policy_id(&id)?).await?;
    let groups = groups::list(&ctx, &staff.principal()).await?;
    let form = PolicyForm::of(&policy, &groups);
    let n = notice(q.done.as_deref());
    Ok(html_status(
        StatusCode::OK,
        &page(&staff, Some(&policy), form, None, n, None),
    ))
}

/// Previews or saves `form` (a new policy when `existing` is `None`).
async fn preview_or_save(
    state: &AppState,
    staff: &Staff,
    existing: Option<Policy>,
    form: PolicyForm,
) -> Result<Response, PageError> {
    staff.require(state, WHAT).await?;
    let ctx = staff.ctx(state);
    let principal = staff.principal();
    let groups = groups::list(&ctx, &principal).await?;
    let shown = |form, preview: Option<PreviewView>, status, error| {
        Ok(html_status(
            status,
            &page(staff, existing.as_ref(), form, preview, None, error),
        ))
    };
    let draft = match form.draft(&groups) {
        Ok(d) => d,
        Err(message) => return shown(form, None, StatusCode::UNPROCESSABLE_ENTITY, Some(message)),
    };
    let replacing = existing.as_ref().map(|p| p.id);
    let preview = match policies::preview(&ctx, &principal, &draft, replacing).await {
        Ok(p) => p,
        Err(e) => {
            let (status, message) = refusal(e)?;
            return shown(form, None, status, Some(format!("The policy was not saved. {message}")));
        }
    };
    let aaguids: Vec<[u8; 16]> = preview.by_model.iter().map(|m| m.aaguid).collect();
    let names = Models::load(&ctx, &aaguids).await?;
    let view = || Some(PreviewView::new(&preview, &names));
    if form.action != "save" {
        return shown(form, view(), StatusCode::OK, None);
    }
    let confirm = form.confirm == "on";
    let saved = match &existing {
        None => policies::create(&ctx, &principal, &draft, confirm).await,
        Some(p) => policies::replace(&ctx, &principal, p.id, &draft, confirm).await,
    };
    match saved {
        Ok(s) => {
            let done = if existing.is_some() { "saved" } else { "created" };
            Ok(see_other(&format!("/admin/policies/{}?done={done}", s.policy.id)))
        }
        Err(CoreError::Conflict {
            code: "confirmation_required",
            message,
        }) => shown(form, view(), StatusCode::CONFLICT, Some(sentence(&message))),
        Err(e) => {
            let (status, message) = refusal(e)?;
            shown(
                form,
                view(),
                status,
                Some(format!("The policy was not saved. {message}")),
            )
        }
    }
}

/// `POST /admin/policies/new`: previews, or saves, a new policy.
async fn save_new(
    State(state): State<AppState>,
    staff: Staff,
    PageForm(form): PageForm<PolicyForm>,
) -> Result<Response, PageError> {
    preview_or_save(&state, &staff, None, form).await
}

/// `POST /admin/policies/{id}`: previews, or saves, a change.
async fn save_existing(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    PageForm(form): PageForm<PolicyForm>,
) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    let policy = policies::get(&staff.ctx(&state), &staff.principal(), policy_id(&id)?).await?;
    preview_or_save(&state, &staff, Some(policy), form).await
}

/// `POST /admin/policies/{id}/delete`.
async fn delete(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Response, PageError> {
    staff.require(&state, WHAT).await?;
    policies::delete(&staff.ctx(&state), &staff.principal(), policy_id(&id)?).await?;
    Ok(see_other("/admin/policies?done=deleted"))
}
