//! Console: the dashboard (`/admin`), the console's first page. The fleet in figures: users
//! (enabled, disabled, without a key), keys (in total, by model, unused for N days, flagged as
//! possibly cloned), pending temporary access passes and keys reported lost in the last 30
//! days. `?unused_days=N` chooses the window (90 days when absent).
//!
//! Every figure links to the list behind it: the registration report with the matching
//! filter ([`super::reports`]), or the audit log for lost keys (only for viewers who may read
//! it). The figures come from one core use case (`keyfleet_core::reports::dashboard`,
//! `ReadUsers`), counted by the database.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use keyfleet_core::access::Permission;
use keyfleet_core::metadata;
use keyfleet_core::reports::{self, Dashboard, LOST_KEYS_DAYS, MAX_UNUSED_DAYS, UnusedDays};
use keyfleet_domain::audit::Action;
use keyfleet_domain::report::ModelCount;

use super::Staff;
use super::reports::{Choice, FilterText, OTHER_MODELS, OTHER_MODELS_LABEL, REPORT_PATH, unused_choices};
use crate::state::{AppState, rfc3339};
use crate::web::format::{count, when};
use crate::web::models::{Models, aaguid_text};
use crate::web::page::{Nav, PageError, html_status};

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin", get(page))
}

/// One figure: what it counts, the number, and the list behind it.
pub struct Figure {
    /// The element id (tests and people's bookmarks find figures by it).
    id: &'static str,
    label: String,
    value: String,
    /// The list behind the number, when the viewer may open it.
    href: Option<String>,
    /// A second line (who holds the keys counted).
    note: Option<String>,
}

impl Figure {
    fn new(id: &'static str, label: impl Into<String>, n: u64, href: Option<String>) -> Self {
        Figure {
            id,
            label: label.into(),
            value: count(n),
            href,
            note: None,
        }
    }

    fn held_by(mut self, users: u64) -> Self {
        let noun = if users == 1 { "user" } else { "users" };
        self.note = Some(format!("held by {} {noun}", count(users)));
        self
    }
}

/// One line of the keys-by-model table.
pub struct ModelRow {
    label: String,
    keys: String,
    href: String,
}

/// A model the metadata reports compromised that keys are stored of: the banner's line.
pub struct CompromisedRow {
    label: String,
    status: String,
    keys: String,
    href: String,
}

#[derive(askama::Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    nav: Nav,
    /// Models reported compromised with keys in use (the banner).
    compromised: Vec<CompromisedRow>,
    /// The metadata alarm (the last refresh failed, or the BLOB is past its nextUpdate).
    metadata_alarm: Option<String>,
    users: Vec<Figure>,
    keys: Vec<Figure>,
    access: Vec<Figure>,
    models: Vec<ModelRow>,
    unused: Vec<Choice>,
    unused_days: u32,
    at: String,
    at_iso: String,
    error: Option<String>,
}

/// The report filtered by one value.
fn report(set: impl FnOnce(&mut FilterText)) -> Option<String> {
    let mut f = FilterText::default();
    set(&mut f);
    Some(f.href())
}

/// Keys per model with a name (the metadata's, else the community list's), then every
/// other model as one line, each linked to the report of its holders.
fn model_rows(models: &[ModelCount], names: &Models) -> Vec<ModelRow> {
    let mut named: Vec<(String, &ModelCount)> = models
        .iter()
        .filter_map(|m| names.name(&m.aaguid).map(|n| (n, m)))
        .collect();
    named.sort_by(|a, b| b.1.keys.cmp(&a.1.keys).then(a.0.cmp(&b.0)));
    let mut rows: Vec<ModelRow> = named
        .into_iter()
        .map(|(name, m)| ModelRow {
            label: name,
            keys: count(m.keys),
            href: report(|f| f.model = aaguid_text(&m.aaguid)).unwrap_or_default(),
        })
        .collect();
    let other: u64 = models
        .iter()
        .filter(|m| names.name(&m.aaguid).is_none())
        .map(|m| m.keys)
        .sum();
    if other > 0 {
        rows.push(ModelRow {
            label: OTHER_MODELS_LABEL.to_owned(),
            keys: count(other),
            href: report(|f| f.model = OTHER_MODELS.to_owned()).unwrap_or_default(),
        });
    }
    rows
}

fn page_for(staff: &Staff, d: &Dashboard, names: &Models) -> DashboardPage {
    let c = &d.counts;
    let days = d.unused_days.days();
    let audit = staff.principal().may(Permission::ReadAudit).then(|| {
        let q = serde_urlencoded::to_string([
            ("action", Action::CredentialLost.as_str()),
            ("from", rfc3339(d.lost_since).as_str()),
        ])
        .unwrap_or_default();
        format!("/admin/audit?{q}")
    });
    DashboardPage {
        nav: staff.viewer.nav("dashboard"),
        compromised: Vec::new(),
        metadata_alarm: None,
        users: vec![
            Figure::new("users-total", "All users", c.users, Some(REPORT_PATH.to_owned())),
            Figure::new(
                "users-enabled",
                "Enabled",
                c.users_enabled,
                report(|f| f.enabled = "yes".into()),
            ),
            Figure::new(
                "users-disabled",
                "Disabled",
                c.users.saturating_sub(c.users_enabled),
                report(|f| f.enabled = "no".into()),
            ),
            Figure::new(
                "users-without-key",
                "Without a key",
                c.users_without_key,
                report(|f| f.keys = "without".into()),
            ),
        ],
        keys: vec![
            Figure::new("keys-total", "All keys", c.keys, report(|f| f.keys = "with".into()))
                .held_by(c.users.saturating_sub(c.users_without_key)),
            Figure::new(
                "keys-unused",
                format!("Unused for {days} days"),
                c.keys_unused,
                report(|f| f.unused_days = days.to_string()),
            )
            .held_by(c.users_with_unused_key),
            Figure::new(
                "keys-cloned",
                "Possibly cloned",
                c.keys_cloned,
                report(|f| f.cloned = "1".into()),
            )
            .held_by(c.users_with_cloned_key),
        ],
        access: vec![
            Figure::new(
                "taps-pending",
                "Pending temporary access passes",
                c.pending_taps,
                report(|f| f.pending_tap = "1".into()),
            ),
            Figure::new(
                "keys-lost",
                format!("Keys reported lost in the last {LOST_KEYS_DAYS} days"),
                c.lost_keys,
                audit,
            ),
        ],
        models: model_rows(&d.models, names),
        unused: unused_choices(&days.to_string()),
        unused_days: days,
        at: when(d.at),
        at_iso: rfc3339(d.at),
        error: None,
    }
}

/// The window asked for: absent means the default; anything but 1 to 3650 days is refused.
fn read_window(raw: Option<&str>) -> Result<UnusedDays, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    let Some((_, v)) = pairs.iter().rev().find(|(k, _)| k == "unused_days") else {
        return Ok(UnusedDays::default());
    };
    let v = v.trim();
    if v.is_empty() {
        return Ok(UnusedDays::default());
    }
    v.parse::<u32>()
        .ok()
        .and_then(|d| UnusedDays::new(d).ok())
        .ok_or_else(|| format!("“Unused for” must be a whole number of days from 1 to {MAX_UNUSED_DAYS}."))
}

/// `GET /admin?unused_days=N`.
async fn page(State(state): State<AppState>, staff: Staff, RawQuery(raw): RawQuery) -> Result<Response, PageError> {
    let (window, error) = match read_window(raw.as_deref()) {
        Ok(w) => (w, None),
        Err(e) => (UnusedDays::default(), Some(e)),
    };
    let ctx = staff.ctx(&state);
    let d = reports::dashboard(&ctx, &staff.principal(), window).await?;
    let aaguids: Vec<[u8; 16]> = d.models.iter().map(|m| m.aaguid).collect();
    let names = Models::load(&ctx, &aaguids).await?;
    let mut page = page_for(&staff, &d, &names);
    page.compromised = metadata::compromised_in_use(&ctx, &staff.principal(), Some(&d.models))
        .await?
        .into_iter()
        .map(|m| CompromisedRow {
            label: m.description,
            status: m.status,
            keys: count(m.keys),
            href: report(|f| f.model = aaguid_text(&m.aaguid)).unwrap_or_default(),
        })
        .collect();
    page.metadata_alarm = metadata::alarm(&ctx, &staff.principal()).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page.error = error;
    Ok(html_status(status, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_default_to_90_days_and_are_checked() {
        assert_eq!(read_window(None).map(UnusedDays::days), Ok(90));
        assert_eq!(read_window(Some("unused_days=")).map(UnusedDays::days), Ok(90));
        assert_eq!(read_window(Some("unused_days=30")).map(UnusedDays::days), Ok(30));
        for bad in ["unused_days=0", "unused_days=x", "unused_days=99999"] {
            assert!(read_window(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn unnamed_models_are_one_line_after_the_named() {
        let nfc = *uuid::Uuid::parse_str("3559c435-ff17-4bc9-b942-325c1f348b94")
            .unwrap()
            .as_bytes();
        let rows = model_rows(
            &[
                ModelCount {
                    aaguid: [0xee; 16],
                    keys: 7,
                },
                ModelCount { aaguid: nfc, keys: 5 },
                ModelCount {
                    aaguid: [0; 16],
                    keys: 1_000,
                },
            ],
            &Models::default(),
        );
        let shown: Vec<(&str, &str)> = rows.iter().map(|r| (r.label.as_str(), r.keys.as_str())).collect();
        assert_eq!(
            shown,
            [
                ("keyfleet NFC security key (software)", "5"),
                (OTHER_MODELS_LABEL, "1,007")
            ]
        );
        assert_eq!(rows[1].href, "/admin/reports/registration?model=other");
        assert_eq!(
            rows[0].href,
            "/admin/reports/registration?model=3559c435-ff17-4bc9-b942-325c1f348b94"
        );
    }
}
