//! Reports over the fleet, for staff (`ReadUsers`: administrators, helpdesk users, clients
//! with `users:read`): the dashboard's figures, and the registration report (one row per
//! user with what they hold, as Entra ID's "User registration details") with its export.
//!
//! Every figure is counted by the store ([`keyfleet_domain::store::ReportStore`]); nothing
//! here loads keys to count them. The rules of a report live here: what "unused for N days"
//! and "recent lost keys" mean, which windows are allowed, how large a page may be, and that
//! an export is authorised once and then read page by page ([`RegistrationExport`]), so a
//! large fleet is never one result held in memory.

use std::time::Duration;

use keyfleet_domain::Timestamp;
use keyfleet_domain::report::{
    Aaguid, FleetCounts, FleetQuery, ModelCount, RegistrationFilter, RegistrationQuery, RegistrationRow,
};
use keyfleet_domain::store::Stores;
use keyfleet_domain::user::has_forbidden_formatting;

use crate::access::{Permission, Principal, authorize};
use crate::{CoreError, Ctx};

/// The "unused for" window when none is chosen.
pub const DEFAULT_UNUSED_DAYS: u32 = 90;
/// The longest "unused for" window (ten years).
pub const MAX_UNUSED_DAYS: u32 = 3650;
/// The windows the console offers (any day count from 1 to [`MAX_UNUSED_DAYS`] is accepted).
pub const UNUSED_DAY_CHOICES: [u32; 4] = [30, 90, 180, 365];
/// How far back a lost-key report is "recent".
pub const LOST_KEYS_DAYS: u32 = 30;
/// The largest page of the report.
pub const MAX_PAGE: u32 = 1000;
/// Users read per batch by an export.
pub const EXPORT_BATCH: u32 = 500;
/// The longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 128;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A number of days without use: 1 to [`MAX_UNUSED_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnusedDays(u32);

impl UnusedDays {
    /// Checks the window.
    pub fn new(days: u32) -> Result<Self, CoreError> {
        if !(1..=MAX_UNUSED_DAYS).contains(&days) {
            return Err(CoreError::invalid(
                "invalid_filter",
                format!("the unused-for window must be 1 to {MAX_UNUSED_DAYS} days"),
            ));
        }
        Ok(Self(days))
    }

    /// The number of days.
    pub fn days(self) -> u32 {
        self.0
    }

    /// The cutoff at `now`: a key last active before it is unused.
    pub fn cutoff(self, now: Timestamp) -> Timestamp {
        now.minus(DAY * self.0)
    }
}

impl Default for UnusedDays {
    fn default() -> Self {
        Self(DEFAULT_UNUSED_DAYS)
    }
}

/// The dashboard: every figure, and the windows they were counted with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    /// The figures (one snapshot).
    pub counts: FleetCounts,
    /// Keys per model, most first.
    pub models: Vec<ModelCount>,
    /// The "unused for" window.
    pub unused_days: UnusedDays,
    /// Lost-key reports from this time on are counted.
    pub lost_since: Timestamp,
    /// When the figures were read.
    pub at: Timestamp,
}

/// The dashboard's figures (`ReadUsers`).
pub async fn dashboard(ctx: &Ctx<'_>, principal: &Principal, unused_days: UnusedDays) -> Result<Dashboard, CoreError> {
    authorize(ctx, principal, Permission::ReadUsers).await?;
    let lost_since = ctx.now.minus(DAY * LOST_KEYS_DAYS);
    let query = FleetQuery {
        unused_before: unused_days.cutoff(ctx.now),
        now: ctx.now,
        lost_since,
    };
    let counts = ctx.stores.reports.count_fleet(&query).await?;
    let models = ctx.stores.reports.count_keys_by_model().await?;
    Ok(Dashboard {
        counts,
        models,
        unused_days,
        lost_since,
        at: ctx.now,
    })
}

/// The models in use, with their key counts, most first (`ReadUsers`): what a model filter
/// can choose from.
pub async fn models_in_use(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<ModelCount>, CoreError> {
    authorize(ctx, principal, Permission::ReadUsers).await?;
    Ok(ctx.stores.reports.count_keys_by_model().await?)
}

/// The registration report's filters, as chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    /// Text in the username, display name or email (at most [`MAX_SEARCH_CHARS`]).
    pub search: Option<String>,
    /// Enabled (`Some(true)`) or disabled (`Some(false)`) users only.
    pub enabled: Option<bool>,
    /// Holding a key of one of these models.
    pub models: Option<Vec<Aaguid>>,
    /// With at least one key (`Some(true)`) or none (`Some(false)`).
    pub has_key: Option<bool>,
    /// Holding a key unused for this long.
    pub unused: Option<UnusedDays>,
    /// Holding a key flagged as possibly cloned.
    pub cloned: bool,
    /// With a usable temporary access pass.
    pub pending_tap: bool,
}

impl ReportFilter {
    /// Whether any filter is set.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    /// The store's filter at `now`; the search is trimmed and checked.
    fn at(&self, now: Timestamp) -> Result<RegistrationFilter, CoreError> {
        let search = match self.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) if s.chars().count() > MAX_SEARCH_CHARS || has_forbidden_formatting(s) => {
                return Err(CoreError::invalid(
                    "invalid_filter",
                    format!("the search must be at most {MAX_SEARCH_CHARS} printable characters"),
                ));
            }
            other => other.map(str::to_owned),
        };
        Ok(RegistrationFilter {
            search,
            enabled: self.enabled,
            models: self.models.clone(),
            has_key: self.has_key,
            unused_before: self.unused.map(|u| u.cutoff(now)),
            cloned: self.cloned,
            pending_tap: self.pending_tap,
        })
    }
}

/// A page of the registration report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationPage {
    /// The users, by username.
    pub rows: Vec<RegistrationRow>,
    /// The `after` of the next page, when there is one.
    pub next_after: Option<String>,
    /// When "pending" was judged.
    pub at: Timestamp,
}

/// A page of the registration report (`ReadUsers`): up to `limit` users (1 to
/// [`MAX_PAGE`]) after the username `after`.
pub async fn registrations(
    ctx: &Ctx<'_>,
    principal: &Principal,
    filter: &ReportFilter,
    after: Option<&str>,
    limit: u32,
) -> Result<RegistrationPage, CoreError> {
    authorize(ctx, principal, Permission::ReadUsers).await?;
    let limit = limit.clamp(1, MAX_PAGE);
    let query = RegistrationQuery {
        filter: filter.at(ctx.now)?,
        after: after.filter(|a| !a.is_empty()).map(str::to_owned),
        limit: limit + 1,
        now: ctx.now,
    };
    let mut rows = ctx.stores.reports.list_registrations(&query).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_after = more
        .then(|| rows.last().map(|r| r.user.username.as_str().to_owned()))
        .flatten();
    Ok(RegistrationPage {
        rows,
        next_after,
        at: ctx.now,
    })
}

/// The whole filtered report, authorised once and read in batches of [`EXPORT_BATCH`] users
/// by username (keyset paging: a user added or removed meanwhile cannot shift another in or
/// out of the export). "Pending" and "unused" are judged at the time the export started.
pub struct RegistrationExport {
    stores: Stores,
    query: RegistrationQuery,
    done: bool,
}

/// Starts an export of the registration report (`ReadUsers`); the filters are checked here,
/// before anything is read.
pub async fn export(
    ctx: &Ctx<'_>,
    principal: &Principal,
    filter: &ReportFilter,
) -> Result<RegistrationExport, CoreError> {
    authorize(ctx, principal, Permission::ReadUsers).await?;
    Ok(RegistrationExport {
        stores: ctx.stores.clone(),
        query: RegistrationQuery {
            filter: filter.at(ctx.now)?,
            after: None,
            limit: EXPORT_BATCH,
            now: ctx.now,
        },
        done: false,
    })
}

impl RegistrationExport {
    /// When the export started ("pending" and "unused" are judged at this time).
    pub fn at(&self) -> Timestamp {
        self.query.now
    }

    /// The next batch of users, or `None` once every user has been read.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<RegistrationRow>>, CoreError> {
        if self.done {
            return Ok(None);
        }
        let rows = self.stores.reports.list_registrations(&self.query).await?;
        self.done = rows.len() < self.query.limit as usize;
        match rows.last() {
            Some(last) => self.query.after = Some(last.user.username.as_str().to_owned()),
            None => return Ok(None),
        }
        Ok(Some(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_windows_are_bounded() {
        assert!(UnusedDays::new(0).is_err());
        assert!(UnusedDays::new(MAX_UNUSED_DAYS + 1).is_err());
        assert_eq!(UnusedDays::new(1).map(UnusedDays::days).ok(), Some(1));
        assert_eq!(UnusedDays::default().days(), DEFAULT_UNUSED_DAYS);
        let now = Timestamp::from_millis(100 * 86_400_000);
        assert_eq!(
            UnusedDays::new(30).map(|u| u.cutoff(now)).ok(),
            Some(Timestamp::from_millis(70 * 86_400_000))
        );
        for days in UNUSED_DAY_CHOICES {
            assert!(UnusedDays::new(days).is_ok());
        }
    }

    #[test]
    fn searches_are_trimmed_and_checked() {
        let now = Timestamp::from_millis(0);
        let with = |s: &str| ReportFilter {
            search: Some(s.to_owned()),
            ..ReportFilter::default()
        };
        assert_eq!(
            with("  ann ").at(now).ok().and_then(|f| f.search),
            Some("ann".to_owned())
        );
        assert_eq!(with("   ").at(now).ok().map(|f| f.search), Some(None));
        assert!(with(&"x".repeat(MAX_SEARCH_CHARS)).at(now).is_ok());
        assert!(with(&"x".repeat(MAX_SEARCH_CHARS + 1)).at(now).is_err());
        assert!(with("a\u{202E}b").at(now).is_err());
        assert!(!ReportFilter::default().any());
        assert!(with("a").any());
    }
}
