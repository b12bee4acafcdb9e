//! Issuing temporary access passes, revoking them, and signing in with them.
//!
//! Guessing is limited per client address and slowed by back-off per (account, address)
//! ([`crate::limits::reserve_tap`]); an account is never locked, so a correct code from an
//! address that has not been guessing always works.

use keyfleet_domain::audit::{Action, Actor, Outcome, Target};
use keyfleet_domain::session::{self, NewSession, SessionKind};
use keyfleet_domain::tap::{self, IssuedTap, Tap};
use keyfleet_domain::user::{User, Username};
use keyfleet_domain::{StoreError, UserId};
use rand_core::OsRng;

use crate::access::{Permission, Principal, authorize};
use crate::audit::{Reason, TapIssued, TapRedeemed, TapRefused};
use crate::identity::users::get_for_change;
use crate::limits;
use crate::{CoreError, Ctx};

/// Issues a TAP for a user, replacing any earlier one. The code is returned once.
pub async fn issue(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user_id: UserId,
    lifetime_minutes: u32,
    one_time: bool,
) -> Result<IssuedTap, CoreError> {
    let user = get_for_change(ctx, principal, user_id).await?;
    if !user.enabled {
        return Err(CoreError::invalid(
            "user_disabled",
            "the user is disabled; enable them first",
        ));
    }
    let issued = tap::issue(user.id, lifetime_minutes, one_time, ctx.now, &mut OsRng)
        .map_err(|e| CoreError::invalid("invalid_lifetime", e.to_string()))?;
    let detail = TapIssued {
        tap_id: issued.tap.id.to_string(),
        lifetime_minutes,
        one_time,
    };
    let audit = ctx.audit_with(Action::TapIssue, Some(Target::User(user.id)), &detail);
    ctx.stores.taps.issue_tap(&issued.tap, &audit).await?;
    Ok(issued)
}

/// Why a TAP sign-in failed. Every variant but `Limited` looks the same to the client.
#[derive(Debug)]
pub enum TapSignInError {
    /// Too many failures; retry after the given number of seconds.
    Limited(u64),
    /// Wrong username, wrong code, expired or used up.
    Invalid,
    /// The right code of a disabled account: its holder is told why (only someone holding the
    /// pass learns that the account is disabled).
    Disabled,
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for TapSignInError {
    fn from(e: StoreError) -> Self {
        TapSignInError::Store(e)
    }
}

/// Input to a TAP sign-in.
pub struct TapSignIn<'a> {
    /// Username as typed.
    pub username: &'a str,
    /// Code as typed.
    pub code: &'a str,
    /// The client's address, for the per-address limit.
    pub client_addr: Option<String>,
}

/// Signs in with a TAP: reserves the attempt against the limits, checks the user and the
/// code, then redeems the TAP and opens a TAP session in one transaction. Failures are
/// audited with their reason (never the code).
pub async fn sign_in(ctx: &Ctx<'_>, input: TapSignIn<'_>) -> Result<(User, NewSession), TapSignInError> {
    // One canonical counter per account, whatever letter case or width was typed (#48).
    let account = Username::parse(input.username).map_or_else(|_| "(invalid)".to_owned(), |u| u.as_str().to_owned());
    let addr = input.client_addr.as_deref().unwrap_or("unknown");
    let attempt = match limits::reserve_tap(ctx, &account, addr).await {
        Ok(a) => a,
        Err(CoreError::Limited { retry_after_s, .. }) => {
            let detail = TapRefused {
                reason: "rate_limited",
                username: &account,
            };
            let event = ctx
                .audit_with(Action::TapRedeem, None, &detail)
                .with_outcome(Outcome::Denied);
            ctx.stores.audit.append(&event).await?;
            return Err(TapSignInError::Limited(retry_after_s));
        }
        Err(CoreError::Store(e)) => return Err(e.into()),
        Err(_) => return Err(TapSignInError::Invalid),
    };
    let (user, tap) = match check(ctx, &input).await? {
        Ok(found) => found,
        Err((user, reason)) => {
            attempt.failed(ctx).await?;
            return fail(ctx, user, reason).await;
        }
    };
    let cap = Some(tap.expires_at.min(ctx.now.plus(ctx.config.sessions.tap_session)));
    let lifetimes = ctx.config.sessions.lifetimes;
    let mut new = session::open(user.id, SessionKind::Tap, lifetimes, cap, ctx.now, &mut OsRng);
    new.session.client_addr = input.client_addr.clone();
    let detail = TapRedeemed {
        tap_id: tap.id.to_string(),
        session_id: new.session.id.to_string(),
    };
    let audit = ctx
        .as_actor(Actor::User(user.id))
        .audit_with(Action::TapRedeem, Some(Target::User(user.id)), &detail);
    match ctx.stores.taps.redeem_tap(&tap, &new.session, ctx.now, &audit).await {
        Ok(()) => {
            attempt.succeeded(ctx).await?;
            Ok((user, new))
        }
        Err(StoreError::Conflict(_)) => {
            attempt.failed(ctx).await?;
            fail(ctx, Some(user.id), "tap_used").await
        }
        Err(e) => Err(e.into()),
    }
}

type Checked = Result<(User, Tap), (Option<UserId>, &'static str)>;

async fn check(ctx: &Ctx<'_>, input: &TapSignIn<'_>) -> Result<Checked, StoreError> {
    let Ok(username) = Username::parse(input.username) else {
        return Ok(Err((None, "bad_username")));
    };
    let Some(user) = ctx.stores.users.find_user_by_username(&username).await? else {
        return Ok(Err((None, "unknown_user")));
    };
    let Some(tap) = ctx.stores.taps.find_tap(user.id).await? else {
        return Ok(Err((Some(user.id), "no_tap")));
    };
    // Compare the code before looking at anything else, so timing does not tell whether the
    // user is disabled or the pass expired.
    let matches = tap.matches(input.code);
    let reason = if !matches {
        "wrong_code"
    } else if !user.enabled {
        "user_disabled"
    } else if !tap.is_usable(ctx.now) {
        if ctx.now >= tap.expires_at {
            "expired"
        } else {
            "used_up"
        }
    } else {
        return Ok(Ok((user, tap)));
    };
    Ok(Err((Some(user.id), reason)))
}

async fn fail(ctx: &Ctx<'_>, user: Option<UserId>, reason: &'static str) -> Result<(User, NewSession), TapSignInError> {
    let event = ctx
        .audit_with(Action::TapRedeem, user.map(Target::User), &Reason { reason })
        .with_outcome(Outcome::Failure);
    ctx.stores.audit.append(&event).await?;
    if reason == "user_disabled" {
        return Err(TapSignInError::Disabled);
    }
    Err(TapSignInError::Invalid)
}

/// A user's current pass, without its code (`ReadUsers`).
pub async fn find_for_user(ctx: &Ctx<'_>, principal: &Principal, user: UserId) -> Result<Option<Tap>, CoreError> {
    authorize(ctx, principal, Permission::ReadUsers).await?;
    Ok(ctx.stores.taps.find_tap(user).await?)
}

/// Withdraws a user's pass (`WriteUsers`). `NotFound` when they have none.
pub async fn revoke(ctx: &Ctx<'_>, principal: &Principal, user: UserId) -> Result<(), CoreError> {
    let user = get_for_change(ctx, principal, user).await?;
    let audit = ctx.audit(Action::TapDelete, Some(Target::User(user.id)));
    ctx.stores.taps.delete_tap(user.id, &audit).await?;
    Ok(())
}
