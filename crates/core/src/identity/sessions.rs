//! Sessions: finding the caller's, signing out, ending others'.
//!
//! A TAP session may register a key and sign itself out, nothing else: it may not end the
//! user's other sessions ("sign out everywhere") nor list them.

use std::time::Duration;

use keyfleet_domain::UserId;
use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::ids::SessionId;
use keyfleet_domain::session::{Session, token_hash};
use keyfleet_domain::user::User;

use crate::access::{Principal, require_full_session};
use crate::audit::SessionRef;
use crate::identity::users::get_for_change;
use crate::{CoreError, Ctx};

/// Activity is written back at most this often per session, to keep reads cheap.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The live session with this cookie token and its user (enabled), recording activity at
/// most once per [`TOUCH_EVERY`].
pub async fn find(ctx: &Ctx<'_>, token: &str) -> Result<Option<(Session, User)>, CoreError> {
    let Some((session, user)) = ctx
        .stores
        .sessions
        .find_live_session(&token_hash(token), ctx.now)
        .await?
    else {
        return Ok(None);
    };
    let every = i64::try_from(TOUCH_EVERY.as_millis()).unwrap_or(i64::MAX);
    if ctx.now.as_millis() - session.last_seen_at.as_millis() >= every {
        ctx.stores.sessions.touch_session(session.id, ctx.now).await?;
    }
    Ok(Some((session, user)))
}

fn person(principal: &Principal) -> Result<(UserId, SessionId), CoreError> {
    match principal {
        Principal::Person { user, session, .. } => Ok((*user, *session)),
        _ => Err(CoreError::forbidden("session_required", "this is for signed-in people")),
    }
}

/// Signs the caller's session out; with `everywhere`, every session of theirs (not from a
/// TAP session). Returns how many sessions ended.
pub async fn sign_out(ctx: &Ctx<'_>, principal: &Principal, everywhere: bool) -> Result<u64, CoreError> {
    let (user, session) = person(principal)?;
    if everywhere {
        require_full_session(ctx, principal).await?;
        let audit = ctx.audit(Action::SessionRevokeAll, Some(Target::User(user)));
        let ended = ctx.stores.sessions.revoke_user_sessions(user, &audit).await?;
        crate::oidc::end_user_grants(ctx, user, "signed_out_everywhere").await?;
        return Ok(ended);
    }
    let audit = ctx.audit_with(
        Action::SessionLogout,
        Some(Target::User(user)),
        &SessionRef {
            session_id: session.to_string(),
        },
    );
    ctx.stores.sessions.revoke_session(session, &audit).await?;
    crate::oidc::end_session_grants(ctx, user, session, "signed_out").await?;
    Ok(1)
}

/// The caller's live sessions, newest first (not for a TAP session).
pub async fn list_own(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<Session>, CoreError> {
    let (user, _) = person(principal)?;
    require_full_session(ctx, principal).await?;
    Ok(ctx.stores.sessions.list_user_sessions(user, ctx.now).await?)
}

/// Ends one of the caller's own sessions (not from a TAP session). `NotFound` for a session
/// that is not theirs or not live.
pub async fn end_own(ctx: &Ctx<'_>, principal: &Principal, id: SessionId) -> Result<(), CoreError> {
    let mine = list_own(ctx, principal).await?;
    let Some(session) = mine.iter().find(|s| s.id == id) else {
        return Err(CoreError::NotFound);
    };
    end_one(ctx, session).await
}

/// Ends `session`, audited as `session.revoke` on its user.
async fn end_one(ctx: &Ctx<'_>, session: &Session) -> Result<(), CoreError> {
    let audit = ctx.audit_with(
        Action::SessionRevoke,
        Some(Target::User(session.user_id)),
        &SessionRef {
            session_id: session.id.to_string(),
        },
    );
    ctx.stores.sessions.revoke_session(session.id, &audit).await?;
    crate::oidc::end_session_grants(ctx, session.user_id, session.id, "session_ended").await?;
    Ok(())
}

/// A user's live sessions, for staff (`WriteUsers` and the rules on roles).
pub async fn list_for_user(ctx: &Ctx<'_>, principal: &Principal, user: UserId) -> Result<Vec<Session>, CoreError> {
    let user = get_for_change(ctx, principal, user).await?;
    Ok(ctx.stores.sessions.list_user_sessions(user.id, ctx.now).await?)
}

/// Ends every session of a user (`WriteUsers` and the rules on roles); returns how many.
pub async fn end_all_for_user(ctx: &Ctx<'_>, principal: &Principal, user: UserId) -> Result<u64, CoreError> {
    let user = get_for_change(ctx, principal, user).await?;
    let audit = ctx.audit(Action::SessionRevokeAll, Some(Target::User(user.id)));
    let ended = ctx.stores.sessions.revoke_user_sessions(user.id, &audit).await?;
    crate::oidc::end_user_grants(ctx, user.id, "sessions_ended").await?;
    Ok(ended)
}

/// Ends one live session of a user (`WriteUsers` and the rules on roles). `NotFound` for a
/// session that is not this user's or no longer live.
pub async fn end_one_for_user(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: UserId,
    id: SessionId,
) -> Result<(), CoreError> {
    let live = list_for_user(ctx, principal, user).await?;
    let Some(session) = live.iter().find(|s| s.id == id) else {
        return Err(CoreError::NotFound);
    };
    end_one(ctx, session).await
}
