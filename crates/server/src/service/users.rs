//! Creating, changing and deleting users.

use keyfleet_domain::UserId;
use keyfleet_domain::user::{NewUser, Role, User, Username, validate_address, validate_display_name, validate_email};
use rand_core::OsRng;

use super::Ctx;
use crate::error::ServiceError;

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

/// What the acting party is, for the rules on roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// An administrator's session, or the local CLI: may grant any role.
    Admin,
    /// A helpdesk session: may not touch administrators or grant roles.
    Helpdesk,
    /// An API client: may manage workers only and may not grant roles.
    Client,
}

fn invalid(e: impl ToString) -> ServiceError {
    ServiceError::invalid("invalid_field", e.to_string())
}

fn check_role_grant(authority: Authority, role: Role) -> Result<(), ServiceError> {
    if role != Role::Worker && authority != Authority::Admin {
        return Err(ServiceError::forbidden(
            "role_change_forbidden",
            "only an administrator may grant the admin or helpdesk role",
        ));
    }
    Ok(())
}

fn check_target(authority: Authority, target: &User) -> Result<(), ServiceError> {
    if target.role != Role::Worker && authority != Authority::Admin {
        return Err(ServiceError::forbidden(
            "target_protected",
            "only an administrator may change administrators and helpdesk users",
        ));
    }
    Ok(())
}

/// Records a refusal (`Forbidden`) in the audit log as `access.denied` and returns it, so a
/// refused change leaves a trace whichever way it came (page, JSON, CLI).
async fn denied(ctx: &Ctx<'_>, e: ServiceError, target: Option<UserId>) -> ServiceError {
    if let ServiceError::Forbidden { code, .. } = &e {
        let event = ctx
            .audit("access.denied", target.map(|t| format!("user:{t}")))
            .with_outcome(keyfleet_domain::audit::Outcome::Denied)
            .with_detail(serde_json::json!({ "code": code }).to_string());
        if let Err(store) = ctx.stores.audit.append(&event).await {
            return store.into();
        }
    }
    e
}

/// Validates and creates a user.
pub async fn create(ctx: &Ctx<'_>, authority: Authority, input: CreateUser) -> Result<User, ServiceError> {
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
    let audit = ctx
        .audit("user.create", Some(format!("user:{}", user.id)))
        .with_detail(serde_json::json!({ "username": user.username.as_str(), "role": user.role.as_str() }).to_string());
    ctx.stores.users.create_user(&user, &audit).await?;
    Ok(user)
}

/// Loads a user the authority may act on.
pub async fn get_for_change(ctx: &Ctx<'_>, authority: Authority, id: UserId) -> Result<User, ServiceError> {
    let user = ctx.stores.users.get_user(id).await?.ok_or(ServiceError::NotFound)?;
    if let Err(e) = check_target(authority, &user) {
        return Err(denied(ctx, e, Some(id)).await);
    }
    Ok(user)
}

/// Applies changes to a user. Disabling ends all their sessions in the same transaction.
pub async fn update(ctx: &Ctx<'_>, authority: Authority, id: UserId, change: UpdateUser) -> Result<User, ServiceError> {
    let mut user = get_for_change(ctx, authority, id).await?;
    if let Some(role) = change.role {
        if role != user.role {
            let refusal = check_role_grant(authority, role).err().or_else(|| {
                (authority != Authority::Admin)
                    .then(|| ServiceError::forbidden("role_change_forbidden", "only an administrator may change roles"))
            });
            if let Some(e) = refusal {
                return Err(denied(ctx, e, Some(id)).await);
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
        (true, false) => "user.disable",
        (false, true) => "user.enable",
        _ => "user.update",
    };
    let audit = ctx.audit(action, Some(format!("user:{}", user.id)));
    ctx.stores.users.update_user(&user, &audit).await?;
    Ok(user)
}

/// Deletes a user, their sessions, TAP and memberships. The audit log keeps their history.
pub async fn delete(ctx: &Ctx<'_>, authority: Authority, id: UserId) -> Result<(), ServiceError> {
    let user = get_for_change(ctx, authority, id).await?;
    if ctx.actor == keyfleet_domain::audit::Actor::User(id) {
        let e = ServiceError::forbidden("cannot_delete_self", "you cannot delete your own account");
        return Err(denied(ctx, e, Some(id)).await);
    }
    let audit = ctx
        .audit("user.delete", Some(format!("user:{}", user.id)))
        .with_detail(serde_json::json!({ "username": user.username.as_str() }).to_string());
    ctx.stores.users.delete_user(id, &audit).await?;
    Ok(())
}
