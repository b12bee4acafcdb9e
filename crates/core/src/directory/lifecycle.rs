//! Joiners, movers and leavers: what a directory's deactivation, deletion and reactivation
//! do, in one place.
//!
//! - **Deactivation** (`active: false`) and **deletion** disable the user and end every
//!   session they hold, in the transaction that records the change: the next request with
//!   one of those sessions is refused.
//! - Their **keys are suspended**: a key whose owner is disabled cannot sign in (the sign-in
//!   refuses a disabled owner), and the console shows such keys as suspended. The
//!   suspension is computed from the owner's state rather than stored on each key, so it
//!   cannot drift from it: **reactivation** restores every key at once, and no key can be
//!   left suspended (or usable) by a half-applied change.
//! - A **deleted** user stays, disabled and hidden from the directory, for the recovery
//!   period (`directory_recovery_days`); [`purge`] then removes them for good, each removal
//!   audited (`user.purge`).
//!
//! Every deactivation and deletion made by directory sync goes through [`leave`] after its
//! transaction commits: it ends the user's single sign-on grants (refresh tokens die, access
//! tokens stop working at UserInfo), as disabling a user in the console does.

use keyfleet_domain::audit::{Action, NewAuditEvent, Target};
use keyfleet_domain::directory::DirectoryLink;
use keyfleet_domain::user::User;
use keyfleet_domain::{StoreError, UserId};

use super::DirectoryResult;
use crate::Ctx;
use crate::audit::Reason;

/// What a change does to whether the user may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Enabled, now disabled: a leaver.
    Leaves,
    /// Disabled, now enabled: back.
    Returns,
    /// No change to that.
    Stays,
}

/// The change from `was` to `now` (enabled).
pub fn change(was: bool, now: bool) -> Change {
    match (was, now) {
        (true, false) => Change::Leaves,
        (false, true) => Change::Returns,
        _ => Change::Stays,
    }
}

/// Writes a user's new attributes and link; a leaver's sessions end in the same
/// transaction (the store revokes the sessions of a user it writes disabled).
pub(crate) async fn replace(
    ctx: &Ctx<'_>,
    user: &User,
    link: &DirectoryLink,
    change: Change,
    audit: &NewAuditEvent,
) -> DirectoryResult<()> {
    ctx.stores.directory.replace_directory_user(user, link, audit).await?;
    match change {
        Change::Leaves => {
            leave(ctx, user.id).await?;
            crate::shipments::rules::standing_changed(ctx, user.id, "user_disabled").await?;
        }
        Change::Returns => crate::shipments::rules::standing_changed(ctx, user.id, "user_enabled").await?,
        Change::Stays => {}
    }
    Ok(())
}

/// Deletes a user the recoverable way: disabled, sessions ended, hidden from the directory.
pub(crate) async fn delete(ctx: &Ctx<'_>, user: &User, audit: &NewAuditEvent) -> DirectoryResult<()> {
    ctx.stores
        .directory
        .delete_directory_user(user.id, ctx.now, audit)
        .await?;
    leave(ctx, user.id).await?;
    crate::shipments::rules::standing_changed(ctx, user.id, "user_deleted").await?;
    Ok(())
}

/// Restores a user the directory deleted, within the recovery period
/// (`directory_recovery_days`): enabled again, visible to directory sync, audited
/// `user.restore`; group rules treat them as a joiner again. Administrators and clients with
/// `users:write` (`DeleteUsers`); `not_deleted` when the user was not deleted by the
/// directory, `recovery_period_ended` when the period is over (the purge removes them).
pub async fn restore(
    ctx: &Ctx<'_>,
    principal: &crate::access::Principal,
    id: UserId,
) -> Result<User, crate::CoreError> {
    use crate::CoreError;
    crate::access::authorize(ctx, principal, crate::access::Permission::DeleteUsers).await?;
    let du = ctx
        .stores
        .directory
        .directory_user(id)
        .await?
        .ok_or(CoreError::NotFound)?;
    let Some(deleted_at) = du.link.deleted_at else {
        return Err(CoreError::conflict(
            "not_deleted",
            "this user was not deleted by directory sync; there is nothing to restore",
        ));
    };
    if deleted_at < ctx.now.minus(ctx.config.directory.recovery) {
        return Err(CoreError::conflict(
            "recovery_period_ended",
            "the recovery period of this deletion has ended; the user is being removed for good",
        ));
    }
    let audit = ctx.audit_with(
        Action::UserRestore,
        Some(Target::User(id)),
        &crate::audit::UserRef {
            username: du.user.username.as_str(),
            role: None,
        },
    );
    ctx.stores.directory.restore_directory_user(id, ctx.now, &audit).await?;
    crate::shipments::rules::standing_changed(ctx, id, "user_restored").await?;
    let mut user = du.user;
    user.enabled = true;
    user.updated_at = ctx.now;
    Ok(user)
}

/// What every leaver passes through once their deactivation or deletion has committed
/// (sessions ended, keys suspended): their single sign-on grants end too, through the same
/// use case the console's disabling calls (audited `oidc.revoke`, reason `directory_leaver`).
async fn leave(ctx: &Ctx<'_>, user: UserId) -> DirectoryResult<()> {
    let ended = crate::oidc::end_user_grants(ctx, user, "directory_leaver").await?;
    tracing::info!(%user, grants_ended = ended, "directory sync: user left; sessions ended, keys suspended");
    Ok(())
}

/// Removes for good the users the directory deleted longer ago than the recovery period;
/// returns how many. Run by the housekeeping job.
pub async fn purge(ctx: &Ctx<'_>) -> Result<u64, StoreError> {
    let before = ctx.now.minus(ctx.config.directory.recovery);
    let audit_for = |id: UserId| {
        ctx.audit_with(
            Action::UserPurge,
            Some(Target::User(id)),
            &Reason {
                reason: "recovery_period_ended",
            },
        )
    };
    let purged = ctx.stores.directory.purge_directory_users(before, &audit_for).await?;
    Ok(u64::try_from(purged.len()).unwrap_or(u64::MAX))
}
