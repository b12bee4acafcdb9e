//! Creating, changing and deleting users.

use keyfleet_domain::UserId;
use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::user::{
    NewUser, Role, User, UserQuery, Username, validate_address, validate_display_name, validate_email,
};
use rand_core::OsRng;

pub use crate::access::Authority;
use crate::access::{Permission, Principal, authorize, denied};
use crate::audit::UserRef;
use crate::{CoreError, Ctx};

/// Raw attributes of a user to create, as a client sent them.
#[derive(Debug, Clone)]
pub struct CreateUser {
    /// Username as typed.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: String,
    /// Manager's email.
    pub manager_email: Option<String>,
    /// Shipping address.
    pub shipping_address: Option<String>,
    /// Role (worker when absent).
    pub role: Option<Role>,
}

/// Changes to a user; `None` leaves a field as it is, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    /// New display name.
    pub display_name: Option<String>,
    /// New email.
    pub email: Option<String>,
    /// New or cleared manager email.
    pub manager_email: Option<Option<String>>,
    /// New or cleared shipping address.
    pub shipping_address: Option<Option<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New role.
    pub role: Option<Role>,
}

fn invalid(e: impl ToString) -> CoreError {
    CoreError::invalid("invalid_field", e.to_string())
}

fn check_role_grant(authority: Authority, role: Role) -> Result<(), CoreError> {
    if role != Role::Worker && authority != Authority::Admin {
        return Err(CoreError::forbidden(
            "role_change_forbidden",
            "only an administrator may grant the admin or helpdesk role",
        ));
    }
    Ok(())
}

pub(crate) fn check_target(authority: Authority, target: &User) -> Result<(), CoreError> {
    if target.role != Role::Worker && authority != Authority::Admin {
        return Err(CoreError::forbidden(
            "target_protected",
            "only an administrator may change administrators and helpdesk users",
        ));
    }
    Ok(())
}

/// Validates and creates a user.
pub async fn create(ctx: &Ctx<'_>, principal: &Principal, input: CreateUser) -> Result<User, CoreError> {
    let authority = authorize(ctx, principal, Permission::WriteUsers).await?;
    let role = input.role.unwrap_or(Role::Worker);
    if let Err(e) = check_role_grant(authority, role) {
        return Err(denied(ctx, e, None).await);
    }
    let new = NewUser {
        username: Username::parse(&input.username).map_err(invalid)?,
        display_name: validate_display_name(&input.display_name).map_err(invalid)?,
        email: validate_email(&input.email, "email").map_err(invalid)?,
        manager_email: input
            .manager_email
            .map(|m| validate_email(&m, "managerEmail"))
            .transpose()
            .map_err(invalid)?,
        shipping_address: input
            .shipping_address
            .map(|a| validate_address(&a))
            .transpose()
            .map_err(invalid)?,
        role,
    };
    let user = new.into_user(ctx.now, &mut OsRng);
    let audit = ctx.audit_with(
        Action::UserCreate,
        Some(Target::User(user.id)),
        &UserRef {
            username: user.username.as_str(),
            role: Some(user.role.as_str()),
        },
    );
    ctx.stores.users.create_user(&user, &audit).await?;
    Ok(user)
}

/// Whether `principal` may change `user` (`WriteUsers` and the rules on roles), for pages to
/// offer only what the use cases would allow; the use cases still decide (and audit).
pub fn may_change(principal: &Principal, user: &User) -> bool {
    principal.may(Permission::WriteUsers) && check_target(principal.authority(), user).is_ok()
}

/// Loads a user `principal` may change (`WriteUsers`, and the rules on roles).
pub async fn get_for_change(ctx: &Ctx<'_>, principal: &Principal, id: UserId) -> Result<User, CoreError> {
    let authority = authorize(ctx, principal, Permission::WriteUsers).await?;
    let user = ctx.stores.users.get_user(id).await?.ok_or(CoreError::NotFound)?;
    if let Err(e) = check_target(authority, &user) {
        return Err(denied(ctx, e, Some(Target::User(id))).await);
    }
    Ok(user)
}

/// Applies changes to a user. Disabling ends all their sessions in the same transaction.
pub async fn update(ctx: &Ctx<'_>, principal: &Principal, id: UserId, change: UpdateUser) -> Result<User, CoreError> {
    let mut user = get_for_change(ctx, principal, id).await?;
    let authority = principal.authority();
    if let Some(role) = change.role {
        if role != user.role {
            let refusal = check_role_grant(authority, role).err().or_else(|| {
                (authority != Authority::Admin)
                    .then(|| CoreError::forbidden("role_change_forbidden", "only an administrator may change roles"))
            });
            if let Some(e) = refusal {
                return Err(denied(ctx, e, Some(Target::User(id))).await);
            }
        }
        user.role = role;
    }
    if let Some(d) = change.display_name {
        user.display_name = validate_display_name(&d).map_err(invalid)?;
    }
    if let Some(e) = change.email {
        user.email = validate_email(&e, "email").map_err(invalid)?;
    }
    if let Some(m) = change.manager_email {
        user.manager_email = m
            .map(|m| validate_email(&m, "managerEmail"))
            .transpose()
            .map_err(invalid)?;
    }
    if let Some(a) = change.shipping_address {
        user.shipping_address = a.map(|a| validate_address(&a)).transpose().map_err(invalid)?;
    }
    let was_enabled = user.enabled;
    if let Some(enabled) = change.enabled {
        user.enabled = enabled;
    }
    user.updated_at = ctx.now;
    let action = match (was_enabled, user.enabled) {
        (true, false) => Action::UserDisable,
        (false, true) => Action::UserEnable,
        _ => Action::UserUpdate,
    };
    let audit = ctx.audit(action, Some(Target::User(user.id)));
    ctx.stores.users.update_user(&user, &audit).await?;
    if action == Action::UserDisable {
        crate::oidc::end_user_grants(ctx, user.id, "user_disabled").await?;
    }
    Ok(user)
}

/// Deletes a user, their sessions, TAP and memberships. The audit log keeps their history.
pub async fn delete(ctx: &Ctx<'_>, principal: &Principal, id: UserId) -> Result<(), CoreError> {
    authorize(ctx, principal, Permission::DeleteUsers).await?;
    let user = get_for_change(ctx, principal, id).await?;
    if ctx.actor == keyfleet_domain::audit::Actor::User(id) {
        let e = CoreError::forbidden("cannot_delete_self", "you cannot delete your own account");
        return Err(denied(ctx, e, Some(Target::User(id))).await);
    }
    let audit = ctx.audit_with(
        Action::UserDelete,
        Some(Target::User(user.id)),
        &UserRef {
            username: user.username.as_str(),
            role: None,
        },
    );
    ctx.stores.users.delete_user(id, &audit).await?;
    Ok(())
}

/// One user (`ReadUsers`).
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, id: UserId) -> Result<User, CoreError> {
    authorize(ctx, principal, Permission::ReadUsers).await?;
    ctx.stores.users.get_user(id).await?.ok_or(CoreError::NotFound)
}

/// A page of users (`ReadUsers`).
pub async fn list(ctx: &Ctx<'_>, principal: &Principal, query: &UserQuery) -> Result<Vec<User>, CoreError> {
    authorize(ctx, principal, Permission::ReadUsers).await?;
    Ok(ctx.stores.users.list_users(query).await?)
}
