//! The state every handler shares: settings, stores, token keys, and the clock.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use keyfleet_domain::Timestamp;
use keyfleet_domain::store::Stores;

use crate::config::Settings;
use crate::token::TokenKeys;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// Validated configuration.
    pub settings: Arc<Settings>,
    /// One handle per store concern.
    pub stores: Stores,
    /// Access-token keys.
    pub keys: Arc<TokenKeys>,
    /// WebAuthn ceremonies' configuration: attestation anchors and derived secrets.
    pub webauthn: Arc<crate::service::webauthn::WebauthnConfig>,
    /// Key of the pages' CSRF tokens (derived from the master key).
    pub csrf_key: [u8; 32],
}

impl AppState {
    /// The current time. The only place the server reads the wall clock.
    pub fn now(&self) -> Timestamp {
        now()
    }
}

/// The current wall-clock time.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// RFC 3339 text of a timestamp, in UTC with milliseconds.
pub fn rfc3339(ts: Timestamp) -> String {
    let nanos = i128::from(ts.as_millis()) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses RFC 3339 text into a timestamp.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(Timestamp::from_millis)
}
