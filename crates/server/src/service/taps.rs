//! Issuing temporary access passes and signing in with them.

use std::time::Duration;

use keyfleet_domain::audit::{Actor, Outcome};
use keyfleet_domain::session::{self, NewSession, SessionKind, SessionLifetimes};
use keyfleet_domain::tap::{self, IssuedTap};
use keyfleet_domain::user::{User, Username};
use keyfleet_domain::{StoreError, UserId};
use rand_core::OsRng;

use super::Ctx;
use super::users::{Authority, get_for_change};
use crate::error::ServiceError;

/// Issues a TAP for a user, replacing any earlier one. The code is returned once.
pub async fn issue(
    ctx: &Ctx<'_>,
    authority: Authority,
    user_id: UserId,
    lifetime_minutes: u32,
    one_time: bool,
) -> Result<IssuedTap, ServiceError> {
    let user = get_for_change(ctx, authority, user_id).await?;
    if !user.enabled {
        return Err(ServiceError::invalid(
            "user_disabled",
            "the user is disabled; enable them first",
        ));
    }
    let issued = tap::issue(user.id, lifetime_minutes, one_time, ctx.now, &mut OsRng)
        .map_err(|e| ServiceError::invalid("invalid_lifetime", e.to_string()))?;
    let audit = ctx.audit("tap.issue", Some(format!("user:{}", user.id))).with_detail(
        serde_json::json!({ "tapId": issued.tap.id.to_string(), "lifetimeMinutes": lifetime_minutes, "oneTime": one_time })
            .to_string(),
    );
    ctx.stores.taps.issue_tap(&issued.tap, &audit).await?;
    Ok(issued)
}

/// Limits on guessing.
#[derive(Debug, Clone, Copy)]
pub struct GuessLimits {
    /// Failures per username per window.
    pub per_user: u32,
    /// Failures per client address per window.
    pub per_address: u32,
    /// Window length.
    pub window: Duration,
}

impl GuessLimits {
    /// The limits the settings name.
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        GuessLimits {
            per_user: s.tap_attempts_per_user,
            per_address: s.tap_attempts_per_address,
            window: s.rate_limit_window,
        }
    }
}

/// Why a TAP sign-in failed. Every variant but `Limited` looks the same to the client.
#[derive(Debug)]
pub enum TapSignInError {
    /// Too many failures; retry after the given number of seconds.
    Limited(u64),
    /// Wrong username, wrong code, expired, used up, or a disabled user.
    Invalid,
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

/// Signs in with a TAP: checks the limits, the user and the code, then redeems the TAP and
/// opens a TAP session in one transaction. Failures count towards both limits and are audited
/// with their reason (never the code).
pub async fn sign_in(
    ctx: &Ctx<'_>,
    limits: GuessLimits,
    lifetimes: SessionLifetimes,
    tap_session: Duration,
    input: TapSignIn<'_>,
) -> Result<(User, NewSession), TapSignInError> {
    let window_ms = i64::try_from(limits.window.as_millis()).unwrap_or(i64::MAX);
    // One canonical counter per account, whatever letter case or width was typed (#48).
    let user_key = format!(
        "tap:user:{}",
        Username::parse(input.username).map_or_else(|_| "(invalid)".to_owned(), |u| u.as_str().to_owned())
    );
    let addr_key = format!("tap:addr:{}", input.client_addr.as_deref().unwrap_or("unknown"));
    let rl = &ctx.stores.rate_limits;
    let user_failures = rl.peek(&user_key, ctx.now, window_ms).await?;
    if user_failures >= limits.per_user || rl.peek(&addr_key, ctx.now, window_ms).await? >= limits.per_address {
        let event = ctx.audit("tap.redeem", None).with_outcome(Outcome::Denied).with_detail(
            serde_json::json!({ "reason": "rate_limited", "username": user_key.trim_start_matches("tap:user:") })
                .to_string(),
        );
        ctx.stores.audit.append(&event).await?;
        return Err(TapSignInError::Limited(limits.window.as_secs()));
    }
    match check(ctx, &input).await? {
        Ok((user, tap)) => {
            let cap = Some(tap.expires_at.min(ctx.now.plus(tap_session)));
            let mut new = session::open(user.id, SessionKind::Tap, lifetimes, cap, ctx.now, &mut OsRng);
            new.session.client_addr = input.client_addr.clone();
            let audit = ctx
                .as_actor(Actor::User(user.id))
                .audit("tap.redeem", Some(format!("user:{}", user.id)))
                .with_detail(
                    serde_json::json!({ "tapId": tap.id.to_string(), "sessionId": new.session.id.to_string() })
                        .to_string(),
                );
            match ctx.stores.taps.redeem_tap(&tap, &new.session, ctx.now, &audit).await {
                Ok(()) => {
                    // Forget earlier failures; skip the write when there were none.
                    if user_failures > 0 {
                        rl.clear(&user_key).await?;
                    }
                    Ok((user, new))
                }
                Err(StoreError::Conflict(_)) => {
                    fail(ctx, &user_key, &addr_key, window_ms, Some(user.id), "tap_used").await
                }
                Err(e) => Err(e.into()),
            }
        }
        Err((user, reason)) => fail(ctx, &user_key, &addr_key, window_ms, user, reason).await,
    }
}

type Checked = Result<(User, keyfleet_domain::tap::Tap), (Option<UserId>, &'static str)>;

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

async fn fail(
    ctx: &Ctx<'_>,
    user_key: &str,
    addr_key: &str,
    window_ms: i64,
    user: Option<UserId>,
    reason: &'static str,
) -> Result<(User, NewSession), TapSignInError> {
    ctx.stores.rate_limits.hit(user_key, ctx.now, window_ms).await?;
    ctx.stores.rate_limits.hit(addr_key, ctx.now, window_ms).await?;
    let event = ctx
        .audit("tap.redeem", user.map(|u| format!("user:{u}")))
        .with_outcome(Outcome::Failure)
        .with_detail(serde_json::json!({ "reason": reason }).to_string());
    ctx.stores.audit.append(&event).await?;
    Err(TapSignInError::Invalid)
}
