//! Users over SCIM: create, read, list, replace, patch, delete.

use keyfleet_domain::UserId;
use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::directory::{DirectoryLink, DirectoryQuery, DirectoryUser};
use keyfleet_domain::group::Group;
use keyfleet_domain::user::{NewUser, Role, User, Username, validate_address, validate_display_name, validate_email};
use keyfleet_scim::resource::{UserInput, UserView, version_of};
use keyfleet_scim::schema::USER;
use keyfleet_scim::{ScimError, patch};
use rand_core::OsRng;
use serde_json::{Map, Value, json};

use super::lifecycle::{self, Change};
use super::query::{user_condition, user_sort};
use super::{DirectoryError, DirectoryResult, ListRequest, Listed, Resource, check_external_id, check_version};
use crate::access::{Authority, Permission, Principal, authorize, denied};
use crate::audit::UserRef;
use crate::{CoreError, Ctx};

/// Longest JSON text kept for the attributes keyfleet has no column for.
const ATTRIBUTES_MAX: usize = 16 * 1024;

/// A user's attributes as validated from a SCIM document.
struct Fields {
    username: Username,
    display_name: String,
    email: String,
    manager_email: Option<String>,
    shipping_address: Option<String>,
    link: DirectoryLink,
}

fn invalid(field: &str, e: impl std::fmt::Display) -> DirectoryError {
    ScimError::value(format!("{field}: {e}")).into()
}

/// Validates what a client sent into keyfleet's fields.
async fn fields(ctx: &Ctx<'_>, input: &UserInput, self_id: Option<UserId>) -> DirectoryResult<Fields> {
    check_external_id(input.external_id.as_deref(), "a user")?;
    let username = Username::parse(&input.user_name).map_err(|e| invalid("userName", e))?;
    let email_raw = input.primary_email().or_else(|| {
        validate_email(&input.user_name, "email")
            .is_ok()
            .then(|| input.user_name.clone())
    });
    // A directory may provision a user without an email (an HR system before the mailbox
    // exists); keyfleet then holds none until one arrives.
    let email = match email_raw {
        Some(raw) => validate_email(&raw, "emails").map_err(|e| invalid("emails", e))?,
        None => String::new(),
    };
    let display_name = validate_display_name(&input.effective_display_name()).map_err(|e| invalid("displayName", e))?;
    let shipping_address = input
        .shipping_address()
        .map(|a| validate_address(&a))
        .transpose()
        .map_err(|e| invalid("addresses", e))?;
    let (manager_id, manager_email) = manager(ctx, input.manager.as_deref(), self_id).await?;
    let mut extra = Map::new();
    if let Some(n) = &input.name {
        extra.insert("name".into(), n.clone());
    }
    if !input.emails.is_empty() {
        extra.insert("emails".into(), Value::Array(input.emails.clone()));
    }
    if !input.addresses.is_empty() {
        extra.insert("addresses".into(), Value::Array(input.addresses.clone()));
    }
    // Optional attributes the directory did not state are left out of the resource until the
    // user changes elsewhere (RFC 7644 §3.5.2.2: a removed attribute is unassigned);
    // keyfleet keeps its own value (the fallback display name, the current state).
    let unstated: Vec<&str> = [
        ("displayName", input.display_name.is_none()),
        ("active", input.active.is_none()),
    ]
    .into_iter()
    .filter_map(|(name, absent)| absent.then_some(name))
    .collect();
    if !unstated.is_empty() {
        extra.insert("unstated".into(), json!({"names": unstated, "at": ctx.now.as_millis()}));
    }
    let attributes = (!extra.is_empty()).then(|| Value::Object(extra).to_string());
    if attributes.as_ref().is_some_and(|a| a.len() > ATTRIBUTES_MAX) {
        return Err(invalid("user", "the name, emails and addresses are too long"));
    }
    Ok(Fields {
        username,
        display_name,
        email,
        manager_email,
        shipping_address,
        link: DirectoryLink {
            external_id: input.external_id.clone(),
            manager_id,
            attributes,
            deleted_at: None,
        },
    })
}

/// The enterprise `manager.value`: a keyfleet user's id (their email becomes the manager
/// email), or an email address as it is.
async fn manager(
    ctx: &Ctx<'_>,
    value: Option<&str>,
    self_id: Option<UserId>,
) -> DirectoryResult<(Option<UserId>, Option<String>)> {
    let Some(value) = value.map(str::trim) else {
        return Ok((None, None));
    };
    if let Ok(id) = value.parse::<UserId>() {
        if Some(id) == self_id {
            return Err(invalid("manager", "a user cannot be their own manager"));
        }
        return match ctx.stores.users.get_user(id).await? {
            Some(m) => Ok((Some(id), Some(m.email))),
            None => Err(invalid("manager", "no user has this id")),
        };
    }
    match validate_email(value, "manager") {
        Ok(email) => Ok((None, Some(email))),
        Err(_) => Err(invalid("manager", "expected a user's id or an email address")),
    }
}

/// The attributes kept as last sent, when they still agree with the user's columns.
fn kept(link: &DirectoryLink) -> Map<String, Value> {
    link.attributes
        .as_deref()
        .and_then(|a| serde_json::from_str::<Value>(a).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// The document of a user in `groups`, without `meta`.
fn view_with(du: &DirectoryUser, groups: &[Group]) -> UserView {
    let (user, link) = (&du.user, &du.link);
    let extra = kept(link);
    let sent = |k: &str| extra.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    let sent_emails = sent("emails");
    // Left out while nothing changed since the directory left it unstated.
    let unstated = |name: &str| {
        extra.get("unstated").is_some_and(|u| {
            u["at"].as_i64() == Some(user.updated_at.as_millis())
                && u["names"].as_array().is_some_and(|n| n.iter().any(|x| x == name))
        })
    };
    let probe = UserInput {
        emails: sent_emails.clone(),
        addresses: sent("addresses"),
        ..UserInput::default()
    };
    // What was sent is shown while the user's columns still say the same; a change made
    // elsewhere (the console) wins.
    let emails = if probe
        .primary_email()
        .is_some_and(|e| e.eq_ignore_ascii_case(&user.email))
    {
        sent_emails
    } else if user.email.is_empty() {
        Vec::new()
    } else {
        vec![json!({"value": user.email, "type": "work", "primary": true})]
    };
    let addresses = match &user.shipping_address {
        None => Vec::new(),
        Some(a) if probe.shipping_address().as_deref() == Some(a.as_str()) => probe.addresses,
        Some(a) => vec![json!({"formatted": a, "type": "work", "primary": true})],
    };
    UserView {
        id: user.id.to_string(),
        user_name: user.username.as_str().to_owned(),
        external_id: link.external_id.clone(),
        display_name: (!unstated("displayName")).then(|| user.display_name.clone()),
        name: extra.get("name").cloned(),
        emails,
        active: (!unstated("active")).then_some(user.enabled),
        addresses,
        manager: link.manager_id.map(|m| m.to_string()),
        groups: groups.iter().map(|g| (g.id.to_string(), g.name.clone())).collect(),
    }
}

async fn resource(ctx: &Ctx<'_>, du: &DirectoryUser) -> DirectoryResult<Resource> {
    let groups = ctx.stores.groups.list_user_groups(du.user.id).await?;
    Ok(resource_with(du, &groups))
}

fn resource_with(du: &DirectoryUser, groups: &[Group]) -> Resource {
    let doc = view_with(du, groups).to_json();
    Resource {
        id: du.user.id.to_string(),
        version: version_of(&doc),
        doc,
        created: du.user.created_at,
        last_modified: du.user.updated_at,
    }
}

fn parse_id(id: &str) -> DirectoryResult<UserId> {
    id.parse().map_err(|_| DirectoryError::Core(CoreError::NotFound))
}

/// A user the directory may see: not deleted by it.
async fn live(ctx: &Ctx<'_>, id: UserId) -> DirectoryResult<DirectoryUser> {
    match ctx.stores.directory.directory_user(id).await? {
        Some(du) if du.link.deleted_at.is_none() => Ok(du),
        _ => Err(CoreError::NotFound.into()),
    }
}

/// Refuses a client's change to an administrator or helpdesk user.
async fn check_target(ctx: &Ctx<'_>, authority: Authority, user: &User) -> DirectoryResult<()> {
    if user.role != Role::Worker && authority != Authority::Admin {
        let e = CoreError::forbidden(
            "target_protected",
            "directory sync changes workers only; administrators and helpdesk users are managed in keyfleet",
        );
        return Err(denied(ctx, e, Some(Target::User(user.id))).await.into());
    }
    Ok(())
}

/// Creates a user (`POST /Users`).
pub async fn create(ctx: &Ctx<'_>, principal: &Principal, doc: &Value) -> DirectoryResult<Resource> {
    authorize(ctx, principal, Permission::Directory).await?;
    let input = UserInput::from_json(doc)?;
    let f = fields(ctx, &input, None).await?;
    let mut user = NewUser {
        username: f.username,
        display_name: f.display_name,
        email: f.email,
        manager_email: f.manager_email,
        shipping_address: f.shipping_address,
        role: Role::Worker,
    }
    .into_user(ctx.now, &mut OsRng);
    user.enabled = input.active.unwrap_or(true);
    let audit = ctx.audit_with(
        Action::UserCreate,
        Some(Target::User(user.id)),
        &UserRef {
            username: user.username.as_str(),
            role: Some(user.role.as_str()),
        },
    );
    ctx.stores
        .directory
        .create_directory_user(&user, &f.link, &audit)
        .await?;
    resource(ctx, &DirectoryUser { user, link: f.link }).await
}

/// One user (`GET /Users/{id}`).
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, id: &str) -> DirectoryResult<Resource> {
    authorize(ctx, principal, Permission::Directory).await?;
    let du = live(ctx, parse_id(id)?).await?;
    resource(ctx, &du).await
}

/// A filtered, sorted page of users (`GET /Users`).
pub async fn list(ctx: &Ctx<'_>, principal: &Principal, req: &ListRequest) -> DirectoryResult<Listed> {
    authorize(ctx, principal, Permission::Directory).await?;
    let query = DirectoryQuery {
        filter: user_condition(req.filter.as_deref())?,
        sort_by: user_sort(req.sort_by.as_deref()),
        descending: req.descending,
        offset: req.offset(),
        limit: req.limit(),
    };
    let (found, total) = ctx.stores.directory.list_directory_users(&query).await?;
    // The page's groups in one query, not one per user.
    let ids: Vec<UserId> = found.iter().map(|du| du.user.id).collect();
    let pairs = ctx.stores.groups.list_groups_of_users(&ids).await?;
    let resources = found
        .iter()
        .map(|du| {
            let groups: Vec<Group> = pairs
                .iter()
                .filter(|(u, _)| *u == du.user.id)
                .map(|(_, g)| g.clone())
                .collect();
            resource_with(du, &groups)
        })
        .collect();
    Ok(Listed { total, resources })
}

/// Replaces a user with what `doc` says (`PUT /Users/{id}`); `active` absent keeps it.
pub async fn replace(
    ctx: &Ctx<'_>,
    principal: &Principal,
    id: &str,
    doc: &Value,
    if_match: Option<&str>,
) -> DirectoryResult<Resource> {
    let authority = authorize(ctx, principal, Permission::Directory).await?;
    let current = live(ctx, parse_id(id)?).await?;
    check_target(ctx, authority, &current.user).await?;
    check_version(if_match, &resource(ctx, &current).await?.version)?;
    write(ctx, current, &UserInput::from_json(doc)?).await
}

/// Applies PATCH operations to a user (`PATCH /Users/{id}`).
pub async fn patch(
    ctx: &Ctx<'_>,
    principal: &Principal,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> DirectoryResult<Resource> {
    let authority = authorize(ctx, principal, Permission::Directory).await?;
    let ops = patch::parse_request(body)?;
    let current = live(ctx, parse_id(id)?).await?;
    check_target(ctx, authority, &current.user).await?;
    let before = resource(ctx, &current).await?;
    check_version(if_match, &before.version)?;
    let mut doc = before.doc;
    patch::apply(&mut doc, &ops, USER)?;
    write(ctx, current, &UserInput::from_json(&doc)?).await
}

/// Writes `input` over `current`: one transaction with its audit event; deactivation ends
/// the user's sessions in it (see [`lifecycle`]).
async fn write(ctx: &Ctx<'_>, current: DirectoryUser, input: &UserInput) -> DirectoryResult<Resource> {
    let f = fields(ctx, input, Some(current.user.id)).await?;
    let mut user = current.user.clone();
    user.username = f.username;
    user.display_name = f.display_name;
    user.email = f.email;
    user.manager_email = f.manager_email;
    user.shipping_address = f.shipping_address;
    user.enabled = input.active.unwrap_or(user.enabled);
    user.updated_at = ctx.now;
    let change = lifecycle::change(current.user.enabled, user.enabled);
    let action = match change {
        Change::Leaves => Action::UserDisable,
        Change::Returns => Action::UserEnable,
        Change::Stays => Action::UserUpdate,
    };
    let audit = ctx.audit_with(
        action,
        Some(Target::User(user.id)),
        &UserRef {
            username: user.username.as_str(),
            role: None,
        },
    );
    lifecycle::replace(ctx, &user, &f.link, change, &audit).await?;
    resource(ctx, &DirectoryUser { user, link: f.link }).await
}

/// Deletes a user (`DELETE /Users/{id}`): disabled at once, their sessions ended, hidden
/// from the directory, and removed for good when the recovery period ends.
pub async fn delete(ctx: &Ctx<'_>, principal: &Principal, id: &str, if_match: Option<&str>) -> DirectoryResult<()> {
    let authority = authorize(ctx, principal, Permission::Directory).await?;
    let current = live(ctx, parse_id(id)?).await?;
    check_target(ctx, authority, &current.user).await?;
    check_version(if_match, &resource(ctx, &current).await?.version)?;
    if ctx.actor == keyfleet_domain::audit::Actor::User(current.user.id) {
        let e = CoreError::forbidden("cannot_delete_self", "you cannot delete your own account");
        return Err(denied(ctx, e, Some(Target::User(current.user.id))).await.into());
    }
    let audit = ctx.audit_with(
        Action::UserDirectoryDelete,
        Some(Target::User(current.user.id)),
        &UserRef {
            username: current.user.username.as_str(),
            role: None,
        },
    );
    lifecycle::delete(ctx, &current.user, &audit).await
}
