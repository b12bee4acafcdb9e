//! Points in time as milliseconds since the Unix epoch (UTC).
//!
//! Both stores keep times as 64-bit integers, so the same value round-trips through SQLite
//! and PostgreSQL without a timezone or precision question.

use std::time::Duration;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Wraps a count of milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// The count of milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// This time plus `d`, saturating at the end of representable time.
    pub fn plus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// This time minus `d`, saturating at the start of representable time.
    pub fn minus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_millis(1_000);
        assert_eq!(t.plus(Duration::from_secs(1)).as_millis(), 2_000);
        assert_eq!(t.minus(Duration::from_secs(2)).as_millis(), -1_000);
        assert_eq!(
            Timestamp::from_millis(i64::MAX).plus(Duration::from_secs(1)),
            Timestamp::from_millis(i64::MAX)
        );
    }
}
