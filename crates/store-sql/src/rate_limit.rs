//! The arithmetic of fixed-window rate limits, the same for every store.

use keyfleet_domain::Timestamp;
use keyfleet_domain::store::Reservation;

/// The statement that reads the count on a rate-limit key in its current window (0 once the
/// window has passed; no row when nothing is stored), in SQL both stores speak. The arguments
/// are the parameters holding the key, the time and the window's length (`"$1"`, …): `peek`
/// is this statement, and the sign-in's read (`sign_in_read`) takes it as a subquery, so the
/// two count alike.
#[macro_export]
macro_rules! failures_in_window {
    ($key:literal, $now:literal, $window_ms:literal) => {
        concat!(
            "SELECT CASE WHEN ",
            $now,
            " - window_start >= ",
            $window_ms,
            " THEN 0 ELSE count END FROM rate_limits WHERE key = ",
            $key
        )
    };
}

/// A stored count as the `u32` the trait returns, saturating.
pub fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// The end of the window that started at `start` (milliseconds), saturating.
pub fn window_end(start: i64, window_ms: i64) -> Timestamp {
    Timestamp::from_millis(start.saturating_add(window_ms))
}

/// The refusal of a reservation whose window started at `start` (read after the refusing
/// statement). `None` means the key was cleared in between: the caller may retry at once.
pub fn refused(start: Option<i64>, now: Timestamp, window_ms: i64) -> Reservation {
    Reservation::Refused {
        retry_at: start.map_or(now, |s| window_end(s, window_ms)),
    }
}
