//! Temporary access passes: the bootstrap before a user has a key (as Entra ID's TAP).
//!
//! A TAP is a random code shown once to the administrator who issues it, stored only as a
//! digest bound to the user, valid for 10 minutes to 30 days, one-time or multi-use, and at
//! most one per user is active: issuing a new one replaces the old.

use std::time::Duration;

use thiserror::Error;

use crate::ids::TapId;
use crate::{Timestamp, UserId, secret};

/// Shortest lifetime an administrator may choose.
pub const MIN_LIFETIME_MINUTES: u32 = 10;
/// Longest lifetime an administrator may choose (30 days).
pub const MAX_LIFETIME_MINUTES: u32 = 43_200;
/// Lifetime when none is given.
pub const DEFAULT_LIFETIME_MINUTES: u32 = 60;
/// Characters in a code: 20 × log2(31) ≈ 99 bits.
pub const CODE_LEN: usize = 20;

/// A TAP request that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TapError {
    /// The lifetime is outside 10 minutes to 30 days.
    #[error("lifetimeMinutes must be between {MIN_LIFETIME_MINUTES} and {MAX_LIFETIME_MINUTES}")]
    Lifetime,
}

/// A TAP as stored: no code, only its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tap {
    /// Identifier.
    pub id: TapId,
    /// Whose TAP it is.
    pub user_id: UserId,
    /// Digest of the code, bound to the user.
    pub code_hash: [u8; 32],
    /// Whether the first successful use consumes it.
    pub one_time: bool,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Successful uses so far.
    pub use_count: i64,
}

impl Tap {
    /// Whether `code` is this TAP's code (constant-time comparison of digests).
    pub fn matches(&self, code: &str) -> bool {
        secret::digests_equal(&code_hash(self.user_id, code), &self.code_hash)
    }

    /// Whether the TAP may still be used at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        now < self.expires_at && !(self.one_time && self.use_count > 0)
    }
}

/// A freshly issued TAP and its code (shown once, never stored).
pub struct IssuedTap {
    /// The record to store.
    pub tap: Tap,
    /// The code to show.
    pub code: String,
}

/// Digest of a code for a user. The user id is part of the input, so a digest copied from one
/// user's row is useless for another.
pub fn code_hash(user_id: UserId, code: &str) -> [u8; 32] {
    let normalised: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_uppercase();
    secret::digest(
        "keyfleet-tap-v1",
        &[user_id.as_uuid().as_bytes(), normalised.as_bytes()],
    )
}

/// Issues a TAP for `user_id`.
pub fn issue(
    user_id: UserId,
    lifetime_minutes: u32,
    one_time: bool,
    now: Timestamp,
    rng: &mut dyn rand_core::CryptoRngCore,
) -> Result<IssuedTap, TapError> {
    if !(MIN_LIFETIME_MINUTES..=MAX_LIFETIME_MINUTES).contains(&lifetime_minutes) {
        return Err(TapError::Lifetime);
    }
    let code = secret::human_code(CODE_LEN, rng);
    let tap = Tap {
        id: TapId::new_random(rng),
        user_id,
        code_hash: code_hash(user_id, &code),
        one_time,
        created_at: now,
        expires_at: now.plus(Duration::from_secs(u64::from(lifetime_minutes) * 60)),
        use_count: 0,
    };
    Ok(IssuedTap { tap, code })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn lifetime_bounds() {
        let u = UserId::new_random(&mut OsRng);
        let now = Timestamp::from_millis(0);
        assert_eq!(issue(u, 9, true, now, &mut OsRng).err(), Some(TapError::Lifetime));
        assert_eq!(issue(u, 43_201, true, now, &mut OsRng).err(), Some(TapError::Lifetime));
        assert!(issue(u, 10, true, now, &mut OsRng).is_ok());
        assert!(issue(u, 43_200, false, now, &mut OsRng).is_ok());
    }

    #[test]
    fn codes_match_only_their_user() {
        let u = UserId::new_random(&mut OsRng);
        let now = Timestamp::from_millis(0);
        let t = issue(u, 60, true, now, &mut OsRng).unwrap();
        assert!(t.tap.matches(&t.code));
        assert!(t.tap.matches(&t.code.to_lowercase()), "codes are case-insensitive");
        assert!(!t.tap.matches("AAAAAAAAAAAAAAAAAAAA"));
        let mut other = t.tap.clone();
        other.user_id = UserId::new_random(&mut OsRng);
        assert!(!other.matches(&t.code));
    }

    #[test]
    fn usability() {
        let u = UserId::new_random(&mut OsRng);
        let now = Timestamp::from_millis(0);
        let mut t = issue(u, 10, true, now, &mut OsRng).unwrap().tap;
        assert!(t.is_usable(now));
        assert!(!t.is_usable(now.plus(Duration::from_secs(600))));
        t.use_count = 1;
        assert!(!t.is_usable(now));
        t.one_time = false;
        assert!(t.is_usable(now));
    }
}
