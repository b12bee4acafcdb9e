//! The one place for rate limits and back-off, used by TAP sign-ins, WebAuthn sign-ins and
//! token requests, each with its own settings.
//!
//! A TAP attempt is *reserved* before it is evaluated
//! ([`RateLimitStore::reserve`](keyfleet_domain::store::RateLimitStore::reserve) is one
//! atomic statement), so however many requests race, at most the limit are evaluated; a
//! success gives its reservation back. Limits are per client address. Guessing at one
//! account is slowed by back-off per (account, address) pair, never by locking the account:
//! a correct code from an address that has not been guessing always gets through
//! (security checklist rows 47 and 48).
//!
//! Security-key sign-ins and token requests are the hot paths (every worker's sign-in, every
//! API client and single sign-on application), so a success writes nothing for its limit.
//! Only failures are written ([`RateLimitStore::hit`](keyfleet_domain::store::RateLimitStore::hit));
//! the attempts being evaluated are counted in the process ([`InFlight`]), and an attempt is
//! evaluated only while the failures stored plus those in flight stay under the limit
//! ([`begin_sign_in`], [`admit_token`]). In one process (SQLite's case, and one instance on
//! PostgreSQL) that still lets at most the limit be evaluated however many requests race;
//! several instances sharing PostgreSQL can each evaluate up to the limit at the same instant
//! (at most `instances × limit` per window).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use keyfleet_domain::Timestamp;
use keyfleet_domain::policy::FailureWindow;
use keyfleet_domain::store::{Reservation, StoreResult};

use crate::{CoreError, Ctx};

/// The limits, per kind of attempt.
#[derive(Debug, Clone, Copy)]
pub struct LimitConfig {
    /// The window every failure count is kept for.
    pub window: Duration,
    /// Temporary access passes.
    pub tap: TapLimits,
    /// Sign-ins with a security key.
    pub sign_in: SignInLimits,
    /// Access-token requests (client authentication).
    pub token: TokenLimits,
}

/// Limits on TAP sign-ins.
#[derive(Debug, Clone, Copy)]
pub struct TapLimits {
    /// TAP attempts one address may make per window (every account together).
    pub per_address: u32,
    /// Failures on one account per window after which every address gets one attempt per
    /// window on that account (rotating-address guessing); the account is never locked.
    pub per_account: u32,
    /// The longest back-off between two attempts of one address on one account.
    pub max_backoff: Duration,
}

/// Limits on security-key sign-ins.
#[derive(Debug, Clone, Copy)]
pub struct SignInLimits {
    /// Ceremonies one address may start per minute (0: no limit).
    pub starts_per_minute: u32,
    /// Failed sign-ins one address may make per window.
    pub failures_per_address: u32,
}

/// Limits on token requests.
#[derive(Debug, Clone, Copy)]
pub struct TokenLimits {
    /// Failed client authentications one address may make per window.
    pub failures_per_address: u32,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn retry_after_s(now: Timestamp, retry_at: Timestamp) -> u64 {
    let ms = (retry_at.as_millis() - now.as_millis()).max(0);
    u64::try_from((ms + 999) / 1000).unwrap_or(0).max(1)
}

/// A reserved attempt: evaluate it, then say how it went.
#[must_use = "report the outcome: succeeded() gives the reservation back"]
#[derive(Debug)]
pub struct Attempt {
    /// Keys whose reservation is given back on success, with their windows.
    reserved: Vec<(String, i64)>,
    /// Keys that count failures only (hit on failure), with their windows.
    on_failure: Vec<(String, i64)>,
}

impl Attempt {
    /// The attempt succeeded: its reservations are given back.
    pub async fn succeeded(self, ctx: &Ctx<'_>) -> StoreResult<()> {
        for (key, window) in &self.reserved {
            ctx.stores.rate_limits.release(key, ctx.now, *window).await?;
        }
        Ok(())
    }

    /// The attempt failed: its reservations stay spent, and failure counts go up.
    pub async fn failed(self, ctx: &Ctx<'_>) -> StoreResult<()> {
        for (key, window) in &self.on_failure {
            ctx.stores.rate_limits.hit(key, ctx.now, *window).await?;
        }
        Ok(())
    }

    /// The attempt was not evaluated after all (another limit refused it): give it back.
    async fn abandon(self, ctx: &Ctx<'_>) -> StoreResult<()> {
        self.succeeded(ctx).await
    }
}

/// Reserves one attempt on `key`; `Limited` with the window's end when the limit is reached.
async fn reserve(ctx: &Ctx<'_>, key: &str, window: i64, limit: u32, code: &'static str) -> Result<(), CoreError> {
    match ctx.stores.rate_limits.reserve(key, ctx.now, window, limit).await? {
        Reservation::Granted { .. } => Ok(()),
        Reservation::Refused { retry_at } => Err(CoreError::Limited {
            code,
            retry_after_s: retry_after_s(ctx.now, retry_at),
        }),
    }
}

/// Failures of one address on one account before its attempts back off.
pub const FREE_FAILURES: u32 = 5;

/// Reserves a TAP attempt from `addr` on the account `account` (its canonical username, so
/// every spelling shares one count).
pub async fn reserve_tap(ctx: &Ctx<'_>, account: &str, addr: &str) -> Result<Attempt, CoreError> {
    let limits = ctx.config.limits;
    let window = ms(limits.window);
    let addr_key = format!("tap:addr:{addr}");
    reserve(ctx, &addr_key, window, limits.tap.per_address, "too_many_attempts").await?;
    let attempt = Attempt {
        reserved: vec![(addr_key, window)],
        on_failure: vec![
            (format!("tap:fail:{account}:{addr}"), window),
            (format!("tap:account:{account}"), window),
        ],
    };
    // Back-off per (account, address): none for the first few failures (people mistype),
    // then 1 s, 2 s, 4 s … up to the cap; a whole window once the account is under attack
    // from many addresses. One reservation per back-off period, so racing requests from one
    // address evaluate one at a time once it applies.
    let rl = &ctx.stores.rate_limits;
    let failures_here = rl.peek(&format!("tap:fail:{account}:{addr}"), ctx.now, window).await?;
    let account_failures = rl.peek(&format!("tap:account:{account}"), ctx.now, window).await?;
    // Under attack from many addresses (the account's failures reached `per_account`), an
    // address that has failed on it waits out the window; a fresh address (the real user)
    // still gets through.
    if account_failures >= limits.tap.per_account && failures_here > 0 {
        attempt.abandon(ctx).await?;
        return Err(CoreError::Limited {
            code: "too_many_attempts",
            retry_after_s: limits.window.as_secs().max(1),
        });
    }
    let backoff = if failures_here < FREE_FAILURES {
        0
    } else {
        let exp = (failures_here - FREE_FAILURES).min(20);
        ms(Duration::from_secs(1u64 << exp)).min(ms(limits.tap.max_backoff))
    };
    if backoff > 0 {
        let cool = format!("tap:cool:{account}:{addr}");
        if let Err(e) = reserve(ctx, &cool, backoff, 1, "too_many_attempts").await {
            attempt.abandon(ctx).await?;
            return Err(e);
        }
    }
    Ok(attempt)
}

/// Counts a sign-in ceremony started from `addr`; refuses it over the per-minute limit.
pub async fn count_sign_in_start(ctx: &Ctx<'_>, addr: &str) -> Result<(), CoreError> {
    let limit = ctx.config.limits.sign_in.starts_per_minute;
    if limit == 0 {
        return Ok(());
    }
    reserve(ctx, &format!("signin:start:{addr}"), 60_000, limit, "too_many_requests").await
}

/// Attempts being evaluated in this process, per limit key, for the limits that store only
/// failures (sign-ins, token requests). Part of [`crate::Core`]: one per process.
#[derive(Debug, Default)]
pub struct InFlight {
    keys: Mutex<HashMap<String, Slot>>,
}

#[derive(Debug, Default)]
struct Slot {
    /// Attempts admitted and not finished.
    evaluating: u32,
    /// Requests between their snapshot and their admission.
    waiting: u32,
    /// Failures finished (written to the store) so far; only differences are read.
    failed: u64,
}

impl InFlight {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding the lock leaves counts that are still usable.
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts an admission on `key`: the failures finished so far.
    fn snapshot(&self, key: &str) -> u64 {
        let mut slots = self.slots();
        let slot = slots.entry(key.to_owned()).or_default();
        slot.waiting += 1;
        slot.failed
    }

    /// Admits an attempt when `stored` (the failures read from the store after the snapshot)
    /// plus the failures finished since the snapshot (perhaps not in `stored`) plus the
    /// attempts being evaluated stay under `limit`.
    fn admit(&self, key: &str, since: u64, stored: u32, limit: u32) -> bool {
        let mut slots = self.slots();
        let slot = slots.entry(key.to_owned()).or_default();
        slot.waiting = slot.waiting.saturating_sub(1);
        let finished_since = u32::try_from(slot.failed.wrapping_sub(since)).unwrap_or(u32::MAX);
        let taken = stored.saturating_add(finished_since).saturating_add(slot.evaluating);
        let admitted = taken < limit;
        if admitted {
            slot.evaluating += 1;
        }
        Self::tidy(&mut slots, key);
        admitted
    }

    /// Ends an admitted attempt; `failed` once its failure is in the store.
    fn finish(&self, key: &str, failed: bool) {
        let mut slots = self.slots();
        if let Some(slot) = slots.get_mut(key) {
            slot.evaluating = slot.evaluating.saturating_sub(1);
            if failed {
                slot.failed = slot.failed.wrapping_add(1);
            }
        }
        Self::tidy(&mut slots, key);
    }

    /// Abandons a snapshot that was never admitted (the store could not be read).
    fn abandon(&self, key: &str) {
        let mut slots = self.slots();
        if let Some(slot) = slots.get_mut(key) {
            slot.waiting = slot.waiting.saturating_sub(1);
        }
        Self::tidy(&mut slots, key);
    }

    fn tidy(slots: &mut HashMap<String, Slot>, key: &str) {
        if slots.get(key).is_some_and(|s| s.evaluating == 0 && s.waiting == 0) {
            slots.remove(key);
        }
    }

    /// Attempts being evaluated on `key` (for tests).
    #[cfg(test)]
    fn evaluating(&self, key: &str) -> u32 {
        self.slots().get(key).map_or(0, |s| s.evaluating)
    }
}

/// An admitted attempt (a sign-in, a token request): evaluate it, then say how it went.
/// Dropped without a word (a store error, a cancelled request), it counts as neither success
/// nor failure.
#[must_use = "report the outcome: failed() counts the failure"]
#[derive(Debug)]
pub struct Admitted<'a> {
    in_flight: &'a InFlight,
    key: String,
    window: i64,
    done: bool,
}

impl Admitted<'_> {
    /// The attempt succeeded: nothing is written.
    pub fn succeeded(mut self) {
        self.done = true;
        self.in_flight.finish(&self.key, false);
    }

    /// The attempt failed (a key or a client not accepted): the failure is counted in the
    /// store.
    pub async fn failed(mut self, ctx: &Ctx<'_>) -> StoreResult<()> {
        let r = ctx.stores.rate_limits.hit(&self.key, ctx.now, self.window).await;
        self.done = true;
        // Counted as finished only once it is in the store (or the store failed: then it
        // no longer holds a place).
        self.in_flight.finish(&self.key, r.is_ok());
        r.map(|_| ())
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.in_flight.finish(&self.key, false);
        }
    }
}

/// Admits a client authentication from `addr` under its failure limit: the failures stored
/// in the window (one read) plus the attempts from `addr` being evaluated in this process.
/// Nothing is written unless the attempt fails ([`Admitted::failed`]).
pub async fn admit_token<'a>(ctx: &Ctx<'a>, addr: &str) -> Result<Admitted<'a>, CoreError> {
    let limit = ctx.config.limits.token.failures_per_address;
    admit(ctx, format!("token:fail:{addr}"), limit, "slow_down").await
}

/// Begins the admission of a sign-in verification from `addr` under its failure limit, as
/// [`admit_token`] admits: the verify step reads the stored failures with the key
/// ([`keyfleet_domain::policy::PolicyStore::sign_in_read`]), then [`Pending::admit`]
/// decides; a request that reads no key decides with [`Pending::peek_and_admit`]. Nothing is
/// written unless the sign-in fails ([`Admitted::failed`]).
pub fn begin_sign_in<'a>(ctx: &Ctx<'a>, addr: &str) -> Pending<'a> {
    let limit = ctx.config.limits.sign_in.failures_per_address;
    Pending::begin(ctx, format!("signin:fail:{addr}"), limit, "too_many_attempts")
}

/// Admits an attempt on `key` while the failures stored in the window plus the attempts on
/// `key` being evaluated in this process stay under `limit`; `Limited` with `code` otherwise.
async fn admit<'a>(ctx: &Ctx<'a>, key: String, limit: u32, code: &'static str) -> Result<Admitted<'a>, CoreError> {
    Pending::begin(ctx, key, limit, code).peek_and_admit(ctx).await
}

/// An admission begun: this process's finished failures on the key are noted, and the
/// failures stored in the window are to be read (they may be read with other data, as a
/// sign-in reads them with its key). Dropped undecided, it takes no place.
#[must_use = "decide with admit() or peek_and_admit()"]
#[derive(Debug)]
pub struct Pending<'a> {
    in_flight: &'a InFlight,
    key: String,
    now: Timestamp,
    window: i64,
    limit: u32,
    code: &'static str,
    retry_after_s: u64,
    since: u64,
    decided: bool,
}

impl<'a> Pending<'a> {
    fn begin(ctx: &Ctx<'a>, key: String, limit: u32, code: &'static str) -> Self {
        let in_flight = &ctx.core.attempts;
        let since = in_flight.snapshot(&key);
        Pending {
            in_flight,
            now: ctx.now,
            window: ms(ctx.config.limits.window),
            retry_after_s: ctx.config.limits.window.as_secs().max(1),
            key,
            limit,
            code,
            since,
            decided: false,
        }
    }

    /// What to read the stored failures of (read after this admission began), at the
    /// attempt's time.
    pub fn failures(&self) -> FailureWindow<'_> {
        FailureWindow {
            key: &self.key,
            now: self.now,
            window_ms: self.window,
        }
    }

    /// Admits the attempt when `stored` (the failures read from the store since the
    /// admission began) plus the failures this process finished since plus the attempts
    /// being evaluated stay under the limit; `Limited` otherwise.
    pub fn admit(mut self, stored: u32) -> Result<Admitted<'a>, CoreError> {
        self.decided = true;
        let key = std::mem::take(&mut self.key);
        if !self.in_flight.admit(&key, self.since, stored, self.limit) {
            return Err(CoreError::Limited {
                code: self.code,
                retry_after_s: self.retry_after_s,
            });
        }
        Ok(Admitted {
            in_flight: self.in_flight,
            key,
            window: self.window,
            done: false,
        })
    }

    /// Reads the stored failures (one read) and decides as [`Pending::admit`].
    pub async fn peek_and_admit(self, ctx: &Ctx<'_>) -> Result<Admitted<'a>, CoreError> {
        // A store error drops `self` undecided: the admission is abandoned.
        let stored = ctx.stores.rate_limits.peek(&self.key, self.now, self.window).await?;
        self.admit(stored)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.decided {
            self.in_flight.abandon(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InFlight;

    #[test]
    fn in_flight_admits_up_to_the_limit_and_counts_failures_finished_meanwhile() {
        let f = InFlight::default();
        let k = "token:fail:192.0.2.1";
        // Three attempts race with nothing stored, limit 3: all admitted, a fourth is not.
        let snaps: Vec<u64> = (0..4).map(|_| f.snapshot(k)).collect();
        assert!(f.admit(k, snaps[0], 0, 3));
        assert!(f.admit(k, snaps[1], 0, 3));
        assert!(f.admit(k, snaps[2], 0, 3));
        assert!(!f.admit(k, snaps[3], 0, 3));
        assert_eq!(f.evaluating(k), 3);
        // One fails: its failure is in the store, but a request that read the store before
        // the failure was written still counts it, through the snapshot.
        let late = f.snapshot(k);
        f.finish(k, true);
        assert!(!f.admit(k, late, 0, 3), "2 evaluating + 1 finished failure");
        // One succeeds: its place is free again.
        f.finish(k, false);
        let s = f.snapshot(k);
        assert!(f.admit(k, s, 1, 3));
        f.finish(k, false);
        f.finish(k, false);
        assert_eq!(f.evaluating(k), 0);
        assert!(f.slots().is_empty(), "nothing kept once every attempt has finished");
    }

    #[test]
    fn in_flight_refuses_when_the_store_holds_the_limit() {
        let f = InFlight::default();
        let s = f.snapshot("k");
        assert!(!f.admit("k", s, 3, 3));
        f.abandon("k");
        assert!(f.slots().is_empty());
    }
}
