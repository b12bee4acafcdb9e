//! Groups over SCIM: create, read, list, replace, patch, delete, and their members.

use keyfleet_domain::audit::{Action, NewAuditEvent, Target};
use keyfleet_domain::directory::{DirectoryGroup, DirectoryQuery};
use keyfleet_domain::group::{Group, validate_name};
use keyfleet_domain::user::{Role, User};
use keyfleet_domain::{GroupId, UserId};
use keyfleet_scim::resource::{GroupInput, GroupView, version_of};
use keyfleet_scim::schema::GROUP;
use keyfleet_scim::{ScimError, patch};
use rand_core::OsRng;
use serde_json::Value;

use super::query::{group_condition, group_sort};
use super::{DirectoryError, DirectoryResult, ListRequest, Listed, Resource, check_external_id, check_version};
use crate::access::{Authority, Permission, Principal, authorize, denied};
use crate::audit::{GroupRef, Member};
use crate::{CoreError, Ctx};

fn parse_id(id: &str) -> DirectoryResult<GroupId> {
    id.parse().map_err(|_| DirectoryError::Core(CoreError::NotFound))
}

async fn resource(ctx: &Ctx<'_>, dg: &DirectoryGroup, with_members: bool) -> DirectoryResult<Resource> {
    let members = ctx.stores.groups.list_members(dg.group.id).await?;
    Ok(resource_with(dg, &members, with_members))
}

fn resource_with(dg: &DirectoryGroup, members: &[User], with_members: bool) -> Resource {
    let view = GroupView {
        id: dg.group.id.to_string(),
        display_name: dg.group.name.clone(),
        external_id: dg.external_id.clone(),
        members: members
            .iter()
            .map(|u| (u.id.to_string(), u.display_name.clone()))
            .collect(),
    };
    let full = view.to_json(true);
    Resource {
        id: view.id.clone(),
        version: version_of(&full),
        doc: if with_members { full } else { view.to_json(false) },
        created: dg.group.created_at,
        last_modified: dg.group.created_at,
    }
}

async fn current(ctx: &Ctx<'_>, id: &str) -> DirectoryResult<DirectoryGroup> {
    ctx.stores
        .directory
        .directory_group(parse_id(id)?)
        .await?
        .ok_or(DirectoryError::Core(CoreError::NotFound))
}

/// The users named as members, each checked: a user (not deleted by the directory), and a
/// worker unless an administrator acts.
async fn members(ctx: &Ctx<'_>, ids: &[String]) -> DirectoryResult<Vec<User>> {
    let mut out = Vec::with_capacity(ids.len());
    for raw in ids {
        let no_user = || ScimError::value(format!("member {raw:?} is not a user"));
        let id: UserId = raw.parse().map_err(|_| no_user())?;
        let du = ctx
            .stores
            .directory
            .directory_user(id)
            .await?
            .filter(|du| du.link.deleted_at.is_none());
        let user = du.ok_or_else(no_user)?.user;
        out.push(user);
    }
    Ok(out)
}

/// Refuses a client's change to the membership of an administrator or helpdesk user.
async fn check_member_changes(
    ctx: &Ctx<'_>,
    authority: Authority,
    group: GroupId,
    changed: &[&User],
) -> DirectoryResult<()> {
    if authority != Authority::Admin && changed.iter().any(|u| u.role != Role::Worker) {
        let e = CoreError::forbidden("target_protected", "directory sync changes the groups of workers only");
        return Err(denied(ctx, e, Some(Target::Group(group))).await.into());
    }
    Ok(())
}

fn member_event(ctx: &Ctx<'_>, action: Action, group: GroupId, user: &User) -> NewAuditEvent {
    let detail = Member {
        user_id: user.id.to_string(),
        username: user.username.as_str(),
    };
    ctx.audit_with(action, Some(Target::Group(group)), &detail)
}

fn name_of(input: &GroupInput) -> DirectoryResult<(String, String)> {
    check_external_id(input.external_id.as_deref(), "a group")?;
    validate_name(&input.display_name).map_err(|e| ScimError::value(format!("displayName: {e}")).into())
}

/// Creates a group with its members (`POST /Groups`).
pub async fn create(ctx: &Ctx<'_>, principal: &Principal, doc: &Value) -> DirectoryResult<Resource> {
    let authority = authorize(ctx, principal, Permission::Directory).await?;
    let input = GroupInput::from_json(doc)?;
    let (name, name_key) = name_of(&input)?;
    let group = Group {
        id: GroupId::new_random(&mut OsRng),
        name,
        name_key,
        description: String::new(),
        created_at: ctx.now,
    };
    let users = members(ctx, &input.members).await?;
    check_member_changes(ctx, authority, group.id, &users.iter().collect::<Vec<_>>()).await?;
    let mut audits = vec![ctx.audit_with(
        Action::GroupCreate,
        Some(Target::Group(group.id)),
        &GroupRef { name: &group.name },
    )];
    audits.extend(
        users
            .iter()
            .map(|u| member_event(ctx, Action::GroupMemberAdd, group.id, u)),
    );
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    ctx.stores
        .directory
        .create_directory_group(&group, input.external_id.as_deref(), &ids, &audits)
        .await?;
    crate::shipments::rules::membership_changed(ctx, group.id, &ids, &[]).await?;
    let dg = DirectoryGroup {
        group,
        external_id: input.external_id,
    };
    resource(ctx, &dg, true).await
}

/// One group (`GET /Groups/{id}`).
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, id: &str, with_members: bool) -> DirectoryResult<Resource> {
    authorize(ctx, principal, Permission::Directory).await?;
    resource(ctx, &current(ctx, id).await?, with_members).await
}

/// A filtered, sorted page of groups (`GET /Groups`).
pub async fn list(ctx: &Ctx<'_>, principal: &Principal, req: &ListRequest) -> DirectoryResult<Listed> {
    authorize(ctx, principal, Permission::Directory).await?;
    let query = DirectoryQuery {
        filter: group_condition(req.filter.as_deref())?,
        sort_by: group_sort(req.sort_by.as_deref()),
        descending: req.descending,
        offset: req.offset(),
        limit: req.limit(),
    };
    let (found, total) = ctx.stores.directory.list_directory_groups(&query).await?;
    // The page's members in one query, not one per group (the version needs them even when
    // the answer leaves them out).
    let ids: Vec<GroupId> = found.iter().map(|dg| dg.group.id).collect();
    let pairs = ctx.stores.groups.list_members_of_groups(&ids).await?;
    let resources = found
        .iter()
        .map(|dg| {
            let members: Vec<User> = pairs
                .iter()
                .filter(|(g, _)| *g == dg.group.id)
                .map(|(_, u)| u.clone())
                .collect();
            resource_with(dg, &members, req.with_members)
        })
        .collect();
    Ok(Listed { total, resources })
}

/// Replaces a group's name, external id and members (`PUT /Groups/{id}`).
pub async fn replace(
    ctx: &Ctx<'_>,
    principal: &Principal,
    id: &str,
    doc: &Value,
    if_match: Option<&str>,
) -> DirectoryResult<Resource> {
    let authority = authorize(ctx, principal, Permission::Directory).await?;
    let dg = current(ctx, id).await?;
    check_version(if_match, &resource(ctx, &dg, true).await?.version)?;
    write(ctx, authority, dg, &GroupInput::from_json(doc)?).await
}

/// Applies PATCH operations to a group (`PATCH /Groups/{id}`): the member additions and
/// removals Entra ID and Okta send, renames.
pub async fn patch(
    ctx: &Ctx<'_>,
    principal: &Principal,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> DirectoryResult<Resource> {
    let authority = authorize(ctx, principal, Permission::Directory).await?;
    let ops = patch::parse_request(body)?;
    let dg = current(ctx, id).await?;
    let before = resource(ctx, &dg, true).await?;
    check_version(if_match, &before.version)?;
    let mut doc = before.doc;
    patch::apply(&mut doc, &ops, GROUP)?;
    write(ctx, authority, dg, &GroupInput::from_json(&doc)?).await
}

async fn write(
    ctx: &Ctx<'_>,
    authority: Authority,
    dg: DirectoryGroup,
    input: &GroupInput,
) -> DirectoryResult<Resource> {
    let (name, name_key) = name_of(input)?;
    let before = ctx.stores.groups.list_members(dg.group.id).await?;
    let wanted = members(ctx, &input.members).await?;
    let added: Vec<&User> = wanted.iter().filter(|u| !before.iter().any(|b| b.id == u.id)).collect();
    let removed: Vec<&User> = before.iter().filter(|b| !wanted.iter().any(|u| u.id == b.id)).collect();
    let changed: Vec<&User> = added.iter().chain(removed.iter()).copied().collect();
    check_member_changes(ctx, authority, dg.group.id, &changed).await?;
    let mut group = dg.group.clone();
    let renamed = group.name != name || dg.external_id != input.external_id;
    group.name = name;
    group.name_key = name_key;
    let mut audits = Vec::new();
    if renamed {
        audits.push(ctx.audit_with(
            Action::GroupUpdate,
            Some(Target::Group(group.id)),
            &GroupRef { name: &group.name },
        ));
    }
    audits.extend(
        added
            .iter()
            .map(|u| member_event(ctx, Action::GroupMemberAdd, group.id, u)),
    );
    audits.extend(
        removed
            .iter()
            .map(|u| member_event(ctx, Action::GroupMemberRemove, group.id, u)),
    );
    let add: Vec<UserId> = added.iter().map(|u| u.id).collect();
    let remove: Vec<UserId> = removed.iter().map(|u| u.id).collect();
    ctx.stores
        .directory
        .update_directory_group(&group, input.external_id.as_deref(), &add, &remove, &audits)
        .await?;
    crate::shipments::rules::membership_changed(ctx, group.id, &add, &remove).await?;
    let dg = DirectoryGroup {
        group,
        external_id: input.external_id.clone(),
    };
    resource(ctx, &dg, true).await
}

/// Deletes a group and its memberships (`DELETE /Groups/{id}`).
pub async fn delete(ctx: &Ctx<'_>, principal: &Principal, id: &str, if_match: Option<&str>) -> DirectoryResult<()> {
    authorize(ctx, principal, Permission::Directory).await?;
    let dg = current(ctx, id).await?;
    check_version(if_match, &resource(ctx, &dg, true).await?.version)?;
    let audit = ctx.audit_with(
        Action::GroupDelete,
        Some(Target::Group(dg.group.id)),
        &GroupRef { name: &dg.group.name },
    );
    ctx.stores.groups.delete_group(dg.group.id, &audit).await?;
    Ok(())
}
