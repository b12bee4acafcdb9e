//! Groups and membership, for the JSON routes, the console and the CLI alike.
//!
//! Reading needs `ReadGroups`; every change needs `ManageGroups` (administrators, and API
//! clients with `users:write`; helpdesk staff may read only). A non-administrator may not put
//! an administrator or a helpdesk user into a group, nor take them out.

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::group::{Group, validate_name};
use keyfleet_domain::user::{Role, User, has_forbidden_formatting};
use keyfleet_domain::{GroupId, UserId};
use rand_core::OsRng;

use crate::access::{Authority, Permission, Principal, authorize, denied};
use crate::audit::{GroupRef, Member};
use crate::{CoreError, Ctx};

/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 1024;

/// Validates and creates a group (name 1–64 printable characters, unique ignoring case;
/// description up to 1024 printable characters).
pub async fn create(ctx: &Ctx<'_>, principal: &Principal, name: &str, description: &str) -> Result<Group, CoreError> {
    authorize(ctx, principal, Permission::ManageGroups).await?;
    let (name, name_key) = validate_name(name).map_err(|e| CoreError::invalid("invalid_field", e.to_string()))?;
    if description.chars().count() > DESCRIPTION_MAX || has_forbidden_formatting(description) {
        return Err(CoreError::invalid(
            "invalid_field",
            "description must be at most 1024 printable characters",
        ));
    }
    let group = Group {
        id: GroupId::new_random(&mut OsRng),
        name,
        name_key,
        description: description.to_owned(),
        created_at: ctx.now,
    };
    let audit = ctx.audit_with(
        Action::GroupCreate,
        Some(Target::Group(group.id)),
        &GroupRef { name: &group.name },
    );
    ctx.stores.groups.create_group(&group, &audit).await?;
    Ok(group)
}

/// Every group, by name.
pub async fn list(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<Group>, CoreError> {
    authorize(ctx, principal, Permission::ReadGroups).await?;
    Ok(ctx.stores.groups.list_groups().await?)
}

/// One group with its members.
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, id: GroupId) -> Result<(Group, Vec<User>), CoreError> {
    authorize(ctx, principal, Permission::ReadGroups).await?;
    let group = ctx.stores.groups.get_group(id).await?.ok_or(CoreError::NotFound)?;
    let members = ctx.stores.groups.list_members(id).await?;
    Ok((group, members))
}

/// Deletes a group and its memberships.
pub async fn delete(ctx: &Ctx<'_>, principal: &Principal, id: GroupId) -> Result<(), CoreError> {
    authorize(ctx, principal, Permission::ManageGroups).await?;
    let group = ctx.stores.groups.get_group(id).await?.ok_or(CoreError::NotFound)?;
    let audit = ctx.audit_with(
        Action::GroupDelete,
        Some(Target::Group(id)),
        &GroupRef { name: &group.name },
    );
    ctx.stores.groups.delete_group(id, &audit).await?;
    Ok(())
}

async fn member_for_change(
    ctx: &Ctx<'_>,
    principal: &Principal,
    group: GroupId,
    user: UserId,
) -> Result<User, CoreError> {
    let authority = authorize(ctx, principal, Permission::ManageGroups).await?;
    let member = ctx.stores.users.get_user(user).await?.ok_or(CoreError::NotFound)?;
    if member.role != Role::Worker && authority != Authority::Admin {
        let e = CoreError::forbidden(
            "target_protected",
            "only an administrator may change the groups of administrators and helpdesk users",
        );
        return Err(denied(ctx, e, Some(Target::Group(group))).await);
    }
    Ok(member)
}

/// Adds a user to a group (adding a member again changes nothing).
pub async fn add_member(ctx: &Ctx<'_>, principal: &Principal, group: GroupId, user: UserId) -> Result<(), CoreError> {
    let member = member_for_change(ctx, principal, group, user).await?;
    let detail = Member {
        user_id: user.to_string(),
        username: member.username.as_str(),
    };
    let audit = ctx.audit_with(Action::GroupMemberAdd, Some(Target::Group(group)), &detail);
    ctx.stores.groups.add_member(group, user, &audit).await?;
    crate::shipments::rules::membership_changed(ctx, group, &[user], &[]).await?;
    Ok(())
}

/// Removes a user from a group.
pub async fn remove_member(
    ctx: &Ctx<'_>,
    principal: &Principal,
    group: GroupId,
    user: UserId,
) -> Result<(), CoreError> {
    let member = member_for_change(ctx, principal, group, user).await?;
    let detail = Member {
        user_id: user.to_string(),
        username: member.username.as_str(),
    };
    let audit = ctx.audit_with(Action::GroupMemberRemove, Some(Target::Group(group)), &detail);
    ctx.stores.groups.remove_member(group, user, &audit).await?;
    crate::shipments::rules::membership_changed(ctx, group, &[], &[user]).await?;
    Ok(())
}
