//! Console: the registration report (`/admin/reports/registration`), as Entra ID's "User
//! registration details": one row per user with their role, status, keys and models, when
//! their first key was registered, when a key was last used, whether a temporary access pass
//! is pending and whether a key is flagged as possibly cloned. These are the lists behind the
//! dashboard's numbers.
//!
//! Filters (search, status, model, with or without a key, unused for N days, cloned, pending
//! pass) are query parameters, so every view has an address; 50 users to a page with keyset
//! paging by username, as the users list. `registration.csv` exports the filtered report
//! ([`crate::web::csv`]), streamed batch by batch as the core reads it. Filters that cannot
//! be read give a 422 page that says which one and why.
//!
//! For staff with `ReadUsers` (administrators and helpdesk users); a user's name links to
//! their page only when the viewer may open it.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keyfleet_core::CoreError;
use keyfleet_core::access::Principal;
use keyfleet_core::reports::{self, MAX_UNUSED_DAYS, RegistrationExport, ReportFilter, UNUSED_DAY_CHOICES, UnusedDays};
use keyfleet_domain::report::{Aaguid, ModelCount, RegistrationRow};
use tokio::sync::mpsc;

use super::Staff;
use crate::state::{AppState, rfc3339};
use crate::web::csv;
use crate::web::format::{day, role_name, when, when_or};
use crate::web::models::{Models, aaguid_text};
use crate::web::page::{Nav, PageError, html_status, see_other};

/// Users per page.
const PAGE_SIZE: u32 = 50;
/// The report's address.
pub const REPORT_PATH: &str = "/admin/reports/registration";
/// The model filter's value for every model without a name.
pub const OTHER_MODELS: &str = "other";
/// What the dashboard and the report call the models without a name.
pub const OTHER_MODELS_LABEL: &str = "Other / not disclosed";

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/reports", get(|_: Staff| async { see_other(REPORT_PATH) }))
        .route(REPORT_PATH, get(page))
        .route("/admin/reports/registration.csv", get(export))
}

// ---------------------------------------------------------------------------------------
// Filters

/// The filters as typed, kept on the form and in every link of the page.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilterText {
    /// Search text.
    pub q: String,
    /// `yes`, `no` or empty.
    pub enabled: String,
    /// An AAGUID, [`OTHER_MODELS`] or empty.
    pub model: String,
    /// `with`, `without` or empty.
    pub keys: String,
    /// A number of days or empty.
    pub unused_days: String,
    /// `1` or empty.
    pub cloned: String,
    /// `1` or empty.
    pub pending_tap: String,
}

impl FilterText {
    /// The filters as query pairs, empty ones left out.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("q", &self.q),
            ("enabled", &self.enabled),
            ("model", &self.model),
            ("keys", &self.keys),
            ("unused_days", &self.unused_days),
            ("cloned", &self.cloned),
            ("pending_tap", &self.pending_tap),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.as_str()))
        .collect()
    }

    /// `path` with these filters and, for paging, `after`.
    fn href_to(&self, path: &str, after: Option<&str>) -> String {
        let mut pairs = self.pairs();
        if let Some(a) = after {
            pairs.push(("after", a));
        }
        let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
        if q.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{q}")
        }
    }

    /// The report's address with these filters.
    pub fn href(&self) -> String {
        self.href_to(REPORT_PATH, None)
    }
}

/// Filters that could not be read: the message for people.
struct BadFilter(String);

/// A yes/no query value: `1`, `true`, `on` or `yes` is yes; empty, `0`, `false`, `off` or
/// `no` is no.
fn yes_no(name: &str, v: &str) -> Result<bool, BadFilter> {
    match v {
        "1" | "true" | "on" | "yes" => Ok(true),
        "" | "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(BadFilter(format!("“{name}” must be 1 or 0."))),
    }
}

/// The query string read into the filters as typed, the `after` position, and the filters;
/// `in_use` (the models keys are of) tells which models "other" means.
fn read_filters(raw: Option<&str>, in_use: &InUse) -> (FilterText, String, Result<ReportFilter, BadFilter>) {
    let mut text = FilterText::default();
    let mut after = String::new();
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or("")) else {
        let msg = "The filters in the address could not be read. Clear them and try again.";
        return (text, after, Err(BadFilter(msg.to_owned())));
    };
    for (k, v) in pairs {
        let v = v.trim().to_owned();
        match k.as_str() {
            "q" => text.q = v,
            "enabled" => text.enabled = v,
            "model" => text.model = v.to_ascii_lowercase(),
            "keys" => text.keys = v,
            "unused_days" => text.unused_days = v,
            "cloned" => text.cloned = v,
            "pending_tap" => text.pending_tap = v,
            "after" => after = v,
            _ => {}
        }
    }
    let filter = build_filter(&mut text, in_use);
    (text, after, filter)
}

/// The models keys are of, with their names (the metadata's, else the community list's).
pub(super) struct InUse {
    counts: Vec<ModelCount>,
    names: Models,
}

impl InUse {
    /// The models in use and their metadata, read once per view.
    async fn load(ctx: &keyfleet_core::Ctx<'_>, principal: &Principal) -> Result<Self, CoreError> {
        let counts = reports::models_in_use(ctx, principal).await?;
        let aaguids: Vec<Aaguid> = counts.iter().map(|m| m.aaguid).collect();
        let names = Models::load(ctx, &aaguids).await?;
        Ok(Self { counts, names })
    }

    /// The model's name, when the metadata or the community list has one.
    fn name(&self, aaguid: &Aaguid) -> Option<String> {
        self.names.name(aaguid)
    }
}

/// The models in use without a name: what "Other / not disclosed" stands for. Read from the
/// keys at the time (a key of yet another unnamed model registered a moment later is not
/// included until the next view).
fn unnamed(in_use: &InUse) -> Vec<Aaguid> {
    in_use
        .counts
        .iter()
        .filter(|m| in_use.name(&m.aaguid).is_none())
        .map(|m| m.aaguid)
        .collect()
}

/// Checks the typed filters and turns them into the core's; yes/no values are rewritten as
/// `1` or left empty, an AAGUID in its hyphenated form, so links carry one spelling.
fn build_filter(text: &mut FilterText, in_use: &InUse) -> Result<ReportFilter, BadFilter> {
    let enabled = match text.enabled.as_str() {
        "" => None,
        "yes" => Some(true),
        "no" => Some(false),
        _ => return Err(BadFilter("“Status” must be enabled or disabled.".to_owned())),
    };
    let has_key = match text.keys.as_str() {
        "" => None,
        "with" => Some(true),
        "without" => Some(false),
        _ => return Err(BadFilter("“Keys” must be with or without.".to_owned())),
    };
    let models = match text.model.as_str() {
        "" => None,
        OTHER_MODELS => Some(unnamed(in_use)),
        m => {
            let aaguid = parse_aaguid(m).ok_or_else(|| {
                BadFilter(
                    "“Model” must be an AAGUID (such as 3559c435-ff17-4bc9-b942-325c1f348b94) or “other”.".to_owned(),
                )
            })?;
            text.model = aaguid_text(&aaguid);
            Some(vec![aaguid])
        }
    };
    let unused = if text.unused_days.is_empty() {
        None
    } else {
        let days = text.unused_days.parse::<u32>().ok();
        Some(days.and_then(|d| UnusedDays::new(d).ok()).ok_or_else(|| {
            BadFilter(format!(
                "“Unused for” must be a whole number of days from 1 to {MAX_UNUSED_DAYS}."
            ))
        })?)
    };
    let cloned = yes_no("cloned", &text.cloned)?;
    let pending_tap = yes_no("pending_tap", &text.pending_tap)?;
    text.cloned = if cloned { "1".into() } else { String::new() };
    text.pending_tap = if pending_tap { "1".into() } else { String::new() };
    if let Some(u) = unused {
        text.unused_days = u.days().to_string();
    }
    Ok(ReportFilter {
        search: Some(text.q.clone()).filter(|q| !q.is_empty()),
        enabled,
        models,
        has_key,
        unused,
        cloned,
        pending_tap,
    })
}

/// An AAGUID as text, with or without hyphens.
fn parse_aaguid(text: &str) -> Option<Aaguid> {
    uuid::Uuid::try_parse(text).ok().map(|u| *u.as_bytes())
}

// ---------------------------------------------------------------------------------------
// The page

/// One choice of a select.
pub struct Choice {
    /// The value sent.
    pub value: String,
    /// What people read.
    pub label: String,
    /// Whether it is the current one.
    pub selected: bool,
}

impl Choice {
    fn new(value: impl Into<String>, label: impl Into<String>, current: &str) -> Self {
        let value = value.into();
        Choice {
            selected: value == current,
            label: label.into(),
            value,
        }
    }
}

fn status_choices(current: &str) -> Vec<Choice> {
    vec![
        Choice::new("", "Any", current),
        Choice::new("yes", "Enabled", current),
        Choice::new("no", "Disabled", current),
    ]
}

fn key_choices(current: &str) -> Vec<Choice> {
    vec![
        Choice::new("", "Any", current),
        Choice::new("with", "With a key", current),
        Choice::new("without", "Without a key", current),
    ]
}

/// The "unused for" windows, the current one selected (added when it is not a usual one).
pub fn unused_choices(current: &str) -> Vec<Choice> {
    let mut days: Vec<u32> = UNUSED_DAY_CHOICES.to_vec();
    if let Ok(d) = current.parse::<u32>()
        && !days.contains(&d)
    {
        days.push(d);
        days.sort_unstable();
    }
    std::iter::once(Choice::new("", "Any time", current))
        .chain(
            days.into_iter()
                .map(|d| Choice::new(d.to_string(), format!("{d} days"), current)),
        )
        .collect()
}

/// The models in use with a name, then "Other / not disclosed" when keys of other models
/// exist (or it is chosen), then the chosen AAGUID when no key of it exists.
fn model_choices(in_use: &InUse, current: &str) -> Vec<Choice> {
    let mut named: Vec<(String, Aaguid)> = in_use
        .counts
        .iter()
        .filter_map(|m| in_use.name(&m.aaguid).map(|n| (n, m.aaguid)))
        .collect();
    named.sort();
    let mut out = vec![Choice::new("", "Any model", current)];
    out.extend(
        named
            .iter()
            .map(|(n, a)| Choice::new(aaguid_text(a), n.as_str(), current)),
    );
    let others = in_use.counts.iter().any(|m| in_use.name(&m.aaguid).is_none());
    if others || current == OTHER_MODELS {
        out.push(Choice::new(OTHER_MODELS, OTHER_MODELS_LABEL, current));
    }
    if !current.is_empty() && !out.iter().any(|c| c.selected) {
        let label = parse_aaguid(current).map_or_else(|| current.to_owned(), |a| in_use.names.label(&a));
        out.push(Choice::new(current, format!("{label} (no keys)"), current));
    }
    out
}

/// One user as the report shows them.
pub struct ReportRow {
    username: String,
    display_name: String,
    /// Their console page, when the viewer may open it.
    href: Option<String>,
    role: &'static str,
    enabled: bool,
    keys: u64,
    models: Vec<String>,
    first_key: String,
    first_key_iso: Option<String>,
    last_used: String,
    last_used_iso: Option<String>,
    pending_tap: bool,
    cloned: bool,
}

impl ReportRow {
    fn new(r: &RegistrationRow, names: &Models) -> Self {
        ReportRow {
            username: r.user.username.as_str().to_owned(),
            display_name: r.user.display_name.clone(),
            // Every staff member may open a user's page (read-only where they may not change
            // the user), so every row links to it.
            href: Some(format!("/admin/users/{}", r.user.id)),
            role: role_name(r.user.role),
            enabled: r.user.enabled,
            keys: r.keys,
            models: r.models.iter().map(|m| names.label(m)).collect(),
            first_key: when_or(r.first_key_at, "no key"),
            first_key_iso: r.first_key_at.map(rfc3339),
            last_used: when_or(r.last_used_at, "never"),
            last_used_iso: r.last_used_at.map(rfc3339),
            pending_tap: r.pending_tap,
            cloned: r.possibly_cloned,
        }
    }
}

#[derive(askama::Template)]
#[template(path = "admin/report_registration.html")]
struct ReportPage {
    nav: Nav,
    filters: FilterText,
    filtered: bool,
    statuses: Vec<Choice>,
    models: Vec<Choice>,
    keys: Vec<Choice>,
    unused: Vec<Choice>,
    error: Option<String>,
    rows: Vec<ReportRow>,
    /// The next page, when there is one.
    next: Option<String>,
    /// Back to the first page (shown on later pages).
    first: Option<String>,
    /// The CSV export of this view.
    csv: String,
    /// When "pending" and "unused" were judged.
    at: String,
    at_iso: String,
}

impl ReportPage {
    fn new(staff: &Staff, filters: FilterText, in_use: &InUse) -> Self {
        ReportPage {
            nav: staff.viewer.nav("reports"),
            filtered: !filters.pairs().is_empty(),
            statuses: status_choices(&filters.enabled),
            models: model_choices(in_use, &filters.model),
            keys: key_choices(&filters.keys),
            unused: unused_choices(&filters.unused_days),
            csv: filters.href_to("/admin/reports/registration.csv", None),
            filters,
            error: None,
            rows: Vec::new(),
            next: None,
            first: None,
            at: String::new(),
            at_iso: String::new(),
        }
    }
}

/// The report page with the filters as typed and why they were refused (422).
fn refused_filters(staff: &Staff, filters: FilterText, in_use: &InUse, msg: String) -> Response {
    let page = ReportPage {
        error: Some(msg),
        ..ReportPage::new(staff, filters, in_use)
    };
    html_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// The core's refusal of a filter, for people.
fn invalid_filter(message: &str) -> String {
    format!("The filters were not applied: {message}.")
}

/// `GET /admin/reports/registration`.
async fn page(State(state): State<AppState>, staff: Staff, RawQuery(raw): RawQuery) -> Result<Response, PageError> {
    let ctx = staff.ctx(&state);
    let principal = staff.principal();
    let in_use = InUse::load(&ctx, &principal).await?;
    let (filters, after, filter) = read_filters(raw.as_deref(), &in_use);
    let filter = match filter {
        Ok(f) => f,
        Err(BadFilter(msg)) => return Ok(refused_filters(&staff, filters, &in_use, msg)),
    };
    let after = Some(after.as_str()).filter(|a| !a.is_empty());
    let found = match reports::registrations(&ctx, &principal, &filter, after, PAGE_SIZE).await {
        Ok(found) => found,
        Err(CoreError::Invalid { message, .. }) => {
            return Ok(refused_filters(&staff, filters, &in_use, invalid_filter(&message)));
        }
        Err(e) => return Err(e.into()),
    };
    let page = ReportPage {
        rows: found.rows.iter().map(|r| ReportRow::new(r, &in_use.names)).collect(),
        next: found
            .next_after
            .as_deref()
            .map(|a| filters.href_to(REPORT_PATH, Some(a))),
        first: after.map(|_| filters.href()),
        at: when(found.at),
        at_iso: rfc3339(found.at),
        ..ReportPage::new(&staff, filters, &in_use)
    };
    Ok(html_status(StatusCode::OK, &page))
}

// ---------------------------------------------------------------------------------------
// The export

/// The export's columns.
const CSV_HEADER: [&str; 13] = [
    "User ID",
    "Username",
    "Display name",
    "Email",
    "Role",
    "Enabled",
    "Keys",
    "Models",
    "Model AAGUIDs",
    "First key registered (UTC)",
    "Last key use (UTC)",
    "Pending TAP",
    "Possibly cloned",
];

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// One user as a CSV record.
fn csv_record(out: &mut String, r: &RegistrationRow, names: &Models) {
    let models: Vec<String> = r.models.iter().map(|m| names.label(m)).collect();
    let aaguids: Vec<String> = r.models.iter().map(aaguid_text).collect();
    let fields = [
        r.user.id.to_string(),
        r.user.username.as_str().to_owned(),
        r.user.display_name.clone(),
        r.user.email.clone(),
        role_name(r.user.role).to_owned(),
        yes(r.user.enabled),
        r.keys.to_string(),
        models.join("; "),
        aaguids.join(" "),
        r.first_key_at.map(rfc3339).unwrap_or_default(),
        r.last_used_at.map(rfc3339).unwrap_or_default(),
        yes(r.pending_tap),
        yes(r.possibly_cloned),
    ];
    csv::record(out, &fields);
}

/// The body of the export: chunks sent by the task that reads the report.
struct Chunks(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_util::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Reads the export batch by batch and sends each as one chunk. Stops when the client goes
/// away (the receiver is dropped); a store failure midway is logged and ends the body with an
/// error, so the client sees a broken download rather than a short file that looks whole.
async fn write_csv(mut export: RegistrationExport, names: Models, tx: mpsc::Sender<Result<Bytes, std::io::Error>>) {
    let mut out = String::new();
    csv::record(&mut out, &CSV_HEADER);
    loop {
        match export.next_batch().await {
            Ok(Some(rows)) => {
                for r in &rows {
                    csv_record(&mut out, r, &names);
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::error!(error = %e, "registration report export failed midway");
                let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                return;
            }
        }
        if tx.send(Ok(Bytes::from(std::mem::take(&mut out)))).await.is_err() {
            return;
        }
    }
    if !out.is_empty() {
        let _ = tx.send(Ok(Bytes::from(out))).await;
    }
}

/// `GET /admin/reports/registration.csv`: the filtered report as a CSV attachment.
async fn export(State(state): State<AppState>, staff: Staff, RawQuery(raw): RawQuery) -> Result<Response, PageError> {
    let ctx = staff.ctx(&state);
    let principal = staff.principal();
    let in_use = InUse::load(&ctx, &principal).await?;
    let (filters, _, filter) = read_filters(raw.as_deref(), &in_use);
    let filter = match filter {
        Ok(f) => f,
        Err(BadFilter(msg)) => return Ok(refused_filters(&staff, filters, &in_use, msg)),
    };
    let export = match reports::export(&ctx, &principal, &filter).await {
        Ok(export) => export,
        Err(CoreError::Invalid { message, .. }) => {
            return Ok(refused_filters(&staff, filters, &in_use, invalid_filter(&message)));
        }
        Err(e) => return Err(e.into()),
    };
    let name = format!("attachment; filename=\"registration-report-{}.csv\"", day(export.at()));
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(write_csv(export, in_use.names, tx));
    let mut res = Body::from_stream(Chunks(rx)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No model in use.
    fn none() -> InUse {
        InUse {
            counts: Vec::new(),
            names: Models::default(),
        }
    }

    #[test]
    fn filters_are_read_and_spelled_one_way() {
        let (text, after, f) = read_filters(
            Some("q=+ann+&cloned=on&pending_tap=0&unused_days=090&keys=with&enabled=no&after=bob"),
            &none(),
        );
        let f = f.ok().unwrap();
        assert_eq!(f.search.as_deref(), Some("ann"));
        assert!(f.cloned && !f.pending_tap);
        assert_eq!(f.unused.map(UnusedDays::days), Some(90));
        assert_eq!((f.has_key, f.enabled), (Some(true), Some(false)));
        assert_eq!(after, "bob");
        assert_eq!(
            text.href(),
            "/admin/reports/registration?q=ann&enabled=no&keys=with&unused_days=90&cloned=1"
        );
        assert_eq!(FilterText::default().href(), REPORT_PATH);
    }

    #[test]
    fn models_by_aaguid_or_other() {
        let nfc = parse_aaguid("3559c435-ff17-4bc9-b942-325c1f348b94").unwrap();
        let counts = vec![
            ModelCount { aaguid: nfc, keys: 3 },
            ModelCount {
                aaguid: [0; 16],
                keys: 2,
            },
            ModelCount {
                aaguid: [0xee; 16],
                keys: 1,
            },
        ];
        let in_use = InUse {
            counts: counts.clone(),
            names: Models::default(),
        };
        let (text, _, f) = read_filters(Some("model=3559C435FF174BC9B942325C1F348B94"), &in_use);
        assert_eq!(f.ok().unwrap().models, Some(vec![nfc]));
        assert_eq!(text.model, "3559c435-ff17-4bc9-b942-325c1f348b94");
        let (text, _, f) = read_filters(Some("model=Other"), &in_use);
        assert_eq!(f.ok().unwrap().models, Some(vec![[0; 16], [0xee; 16]]));
        assert_eq!(text.model, OTHER_MODELS);
        let first = InUse {
            counts: counts[..1].to_vec(),
            names: Models::default(),
        };
        let (_, _, f) = read_filters(Some("model=other"), &first);
        assert_eq!(f.ok().unwrap().models, Some(vec![]), "no unnamed model in use: nobody");
    }

    #[test]
    fn bad_filters_are_refused() {
        for bad in [
            "model=yubikey",
            "unused_days=0",
            "unused_days=3651",
            "unused_days=soon",
            "cloned=maybe",
            "keys=some",
            "enabled=perhaps",
        ] {
            assert!(read_filters(Some(bad), &none()).2.is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_windows_are_offered_as_chosen() {
        let c = unused_choices("45");
        assert!(c.iter().any(|c| c.value == "45" && c.selected));
        assert_eq!(unused_choices("").iter().filter(|c| c.selected).count(), 1);
    }
}
