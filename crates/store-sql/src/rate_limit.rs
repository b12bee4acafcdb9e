//! The arithmetic of fixed-window rate limits, the same for every store.

use keyfleet_domain::Timestamp;
use keyfleet_domain::store::Reservation;

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
