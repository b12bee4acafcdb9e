//! The state every handler shares: settings, the core (stores, configuration, clock, token
//! keys), and the pages' CSRF key.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use keyfleet_core::{Core, Ctx};
use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::Actor;
use keyfleet_domain::store::Stores;
use keyfleet_domain::time::Clock;

use crate::config::Settings;

/// Shared application state: one pointer, so the clone axum makes for every middleware and
/// handler of every request is one reference count, not one per store handle (`Stores` holds
/// two dozen; cloning and dropping them twice per layer was 8 % of a sign-in's CPU).
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    /// The state made of `parts`.
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }

    /// The parts, to change while nothing else holds the state (a test setting its clock
    /// before it builds the router); `None` once it is shared.
    pub fn parts_mut(&mut self) -> Option<&mut AppParts> {
        Arc::get_mut(&mut self.0)
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct AppParts {
    /// Validated configuration.
    pub settings: Arc<Settings>,
    /// The use cases and what they run on.
    pub core: Core,
    /// One handle per store concern, for reads (handlers never write; the core does).
    pub stores: Stores,
    /// Key of the pages' CSRF tokens (derived from the master key).
    pub csrf_key: [u8; 32],
    /// The master key, for what a page must hand to the browser sealed (a TAP code between
    /// the form that issues it and the page that shows it once).
    pub master: Arc<keyfleet_core::secrets::MasterKey>,
    /// The pre-registration connector (`None` without `factory_url`).
    pub connector: Option<Arc<crate::factory_client::Connector>>,
}

impl AppParts {
    /// The current time, from the core's clock.
    pub fn now(&self) -> Timestamp {
        self.core.now()
    }

    /// A use-case context for a request by `actor`.
    pub fn ctx(&self, actor: Actor, headers: &HeaderMap) -> Ctx<'_> {
        self.core.ctx(actor, crate::auth::request_id(headers))
    }
}

/// The wall clock, moved by `skew_ms` milliseconds: 0 except under the fault tests' hook
/// `KF_TEST_CLOCK_SKEW_SECONDS` (two processes whose clocks disagree; never a setting).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    /// How far this process's clock is from the wall clock.
    pub skew_ms: i64,
}

impl SystemClock {
    /// The wall clock, skewed when the fault tests' hook asks.
    pub fn from_env() -> Self {
        let skew_ms = std::env::var("KF_TEST_CLOCK_SKEW_SECONDS")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(0, |s| s.saturating_mul(1000));
        Self { skew_ms }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(now().as_millis().saturating_add(self.skew_ms))
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
