//! Console: the audit log, for any staff member (helpdesk users hold `audit:read`).
//!
//! A filter form (a user by username or id, as actor or target; actor, target, action or
//! action prefix, request id, a time range in UTC), the newest entries first, 50 to a page,
//! and keyset paging: "Older entries" asks for ids below the last one shown, keeping the
//! filters. Filter values that cannot be read, and a username nobody has, give a 422 page
//! that says which one and why, never a 500. The store does the filtering, as it does for
//! `GET /api/v1/audit`; names beside ids come from `keyfleet_core::audit`.
//!
//! `entry.rs` is one entry's page (`/admin/audit/{id}`), `export.rs` the CSV and JSON-lines
//! downloads of the same filters, `labels.rs` actions in plain words.
//!
//! The user filter is the address a user's page links to: `/admin/audit?user=<username>`
//! (or `?user=<user id>`; both percent-encoded).

mod entry;
mod export;
pub mod labels;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use keyfleet_core::CoreError;
use keyfleet_core::Ctx;
use keyfleet_core::access::Principal;
use keyfleet_core::audit::{self, AuditEntry, InvolvedUser};
use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{AuditQuery, Outcome};
use keyfleet_domain::user::has_forbidden_formatting;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::Staff;
use crate::state::{AppState, parse_rfc3339, rfc3339};
use crate::web::page::{Nav, PageError, html_status};
use labels::{Suggestion, break_after_separators};

/// Entries per page.
const PAGE_SIZE: u32 = 50;
/// How much of an entry's detail the table shows (the entry's own page shows all of it).
const DETAIL_CHARS: usize = 160;
/// The longest actor, target or action filter accepted.
const MAX_FILTER_CHARS: usize = 256;

/// Routes of this section. The two downloads are fixed paths, so they win over `{id}`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(page))
        .route("/admin/audit/export.csv", get(export::csv))
        .route("/admin/audit/export.jsonl", get(export::json_lines))
        .route("/admin/audit/{id}", get(entry::page))
}

/// The filters as typed, kept on the form (times in the `datetime-local` form once read).
#[derive(Debug, Default, Clone)]
struct FilterText {
    user: String,
    actor: String,
    target: String,
    action: String,
    request: String,
    from: String,
    to: String,
}

impl FilterText {
    /// The filters as query pairs, empty ones left out.
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("user", &self.user),
            ("actor", &self.actor),
            ("target", &self.target),
            ("action", &self.action),
            ("request", &self.request),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.as_str()))
        .collect()
    }

    /// This page's address with these filters and, for paging, `before`.
    fn href(&self, before: Option<i64>) -> String {
        self.href_at("/admin/audit", before)
    }

    /// `path` with these filters and, for paging, `before`.
    fn href_at(&self, path: &str, before: Option<i64>) -> String {
        let before = before.map(|b| b.to_string());
        let mut pairs = self.pairs();
        if let Some(b) = &before {
            pairs.push(("before", b));
        }
        with_query(path, &pairs)
    }

    fn any(&self) -> bool {
        !self.pairs().is_empty()
    }
}

/// `path` with `pairs` as its percent-encoded query (none when there are no pairs).
fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{q}")
    }
}

/// The log filtered by one field: the links beside actors, targets, actions, request ids.
fn filter_href(field: &str, value: &str) -> String {
    with_query("/admin/audit", &[(field, value)])
}

/// Filters that could not be read: the message for people.
struct BadFilter(String);

/// The query string read into filters: what to show on the form, and the store query.
fn read_filters(raw: Option<&str>) -> (FilterText, Result<AuditQuery, BadFilter>) {
    let mut text = FilterText::default();
    let pairs = match serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or("")) {
        Ok(p) => p,
        Err(_) => {
            let msg = "The filters in the address could not be read. Clear them and try again.";
            return (text, Err(BadFilter(msg.to_owned())));
        }
    };
    let mut before = String::new();
    for (k, v) in pairs {
        let v = v.trim().to_owned();
        match k.as_str() {
            "user" => text.user = v,
            "actor" => text.actor = v,
            "target" => text.target = v,
            "action" => text.action = v,
            "request" => text.request = v,
            "from" => text.from = v,
            "to" => text.to = v,
            "before" => before = v,
            _ => {}
        }
    }
    let query = build_query(&mut text, &before);
    (text, query)
}

/// Checks the filters and turns them into a store query; the times on the form are rewritten
/// in the `datetime-local` form so the browser shows them. The user filter is only checked
/// here: [`resolve`] asks the core who it names.
fn build_query(text: &mut FilterText, before: &str) -> Result<AuditQuery, BadFilter> {
    text_filter("User", &text.user)?;
    let actor = text_filter("Actor", &text.actor)?;
    let target = text_filter("Target", &text.target)?;
    let action = text_filter("Action", &text.action)?;
    let request_id = text_filter("Request id", &text.request)?;
    let since = time_filter("From", &text.from)?;
    let until = time_filter("To", &text.to)?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(BadFilter("“From” must be earlier than “To”.".to_owned()));
    }
    let before_id = if before.is_empty() {
        None
    } else {
        let id = before.parse::<i64>().ok().filter(|id| *id > 0);
        Some(id.ok_or_else(|| {
            BadFilter("The page position in the address (“before”) must be a positive whole number.".to_owned())
        })?)
    };
    if let Some(s) = since {
        text.from = local_text(s);
    }
    if let Some(u) = until {
        text.to = local_text(u);
    }
    Ok(AuditQuery {
        actor,
        target,
        action,
        request_id,
        since,
        until,
        before_id,
        limit: PAGE_SIZE,
        involving: None,
    })
}

/// The filters of a request, read, checked, and with the user they name found.
struct Filtered {
    text: FilterText,
    query: AuditQuery,
    /// Who the user filter named, if it was used.
    user: Option<InvolvedUser>,
}

/// Why a request's filters give no entries.
enum Unfiltered {
    /// A filter is wrong: the form again, with this message (422).
    Bad(FilterText, String),
    /// Anything else (a refusal, a store failure): an error page.
    Page(PageError),
}

impl From<CoreError> for Unfiltered {
    fn from(e: CoreError) -> Self {
        Unfiltered::Page(e.into())
    }
}

/// Reads the query string and asks the core who the user filter names: an unknown username
/// is a bad filter, with the core's message ("No user named …").
async fn resolve(ctx: &Ctx<'_>, principal: &Principal, raw: Option<&str>) -> Result<Filtered, Unfiltered> {
    let (text, query) = read_filters(raw);
    let mut query = match query {
        Ok(q) => q,
        Err(BadFilter(msg)) => return Err(Unfiltered::Bad(text, msg)),
    };
    let user = if text.user.is_empty() {
        None
    } else {
        match audit::involving(ctx, principal, &text.user).await {
            Ok(u) => Some(u),
            Err(CoreError::Invalid { message, .. }) => return Err(Unfiltered::Bad(text, message)),
            Err(e) => return Err(e.into()),
        }
    };
    query.involving = user.as_ref().map(|u| u.reference.clone());
    Ok(Filtered { text, query, user })
}

fn text_filter(name: &str, v: &str) -> Result<Option<String>, BadFilter> {
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > MAX_FILTER_CHARS || has_forbidden_formatting(v) {
        return Err(BadFilter(format!(
            "“{name}” must be at most {MAX_FILTER_CHARS} printable characters."
        )));
    }
    Ok(Some(v.to_owned()))
}

fn time_filter(name: &str, v: &str) -> Result<Option<Timestamp>, BadFilter> {
    if v.is_empty() {
        return Ok(None);
    }
    parse_time(v).map(Some).ok_or_else(|| {
        let shown: String = v.chars().take(64).collect();
        BadFilter(format!(
            "“{name}” is not a time keyfleet can read: “{shown}”. Use a date and time in UTC such as \
             2026-11-23T08:10, or an RFC 3339 time such as 2026-11-23T08:10:00Z."
        ))
    })
}

/// The `datetime-local` forms a browser sends, with or without seconds and fractions.
const LOCAL_FORMATS: [&[BorrowedFormatItem<'static>]; 3] = [
    format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
];

/// Reads a time: RFC 3339, or a `datetime-local` value (`2026-11-23T08:10`) taken as UTC.
fn parse_time(s: &str) -> Option<Timestamp> {
    if s.len() > 64 {
        return None;
    }
    if let Some(t) = parse_rfc3339(s) {
        return Some(t);
    }
    let s = s.replacen(' ', "T", 1);
    let t = LOCAL_FORMATS
        .iter()
        .find_map(|f| PrimitiveDateTime::parse(&s, f).ok())?
        .assume_utc();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(Timestamp::from_millis)
}

fn utc(ts: Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.as_millis()) * 1_000_000).ok()
}

/// A time in the `datetime-local` form, as short as it can be without losing precision, so
/// it reads back to the same instant.
fn local_text(ts: Timestamp) -> String {
    let Some(t) = utc(ts) else {
        return String::new();
    };
    let format: &[BorrowedFormatItem<'static>] = if t.millisecond() != 0 {
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]")
    } else if t.second() != 0 {
        LOCAL_FORMATS[1]
    } else {
        LOCAL_FORMATS[0]
    };
    t.format(format).unwrap_or_default()
}

/// A time to the second, as the log shows it.
fn when_seconds(ts: Timestamp) -> String {
    utc(ts)
        .and_then(|t| {
            t.format(format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC"))
                .ok()
        })
        .unwrap_or_default()
}

/// An actor or target as the log shows it: its name first when it has one, the stored
/// reference beside it. A reference of a kind this version does not know (a newer actor
/// such as `cli:…`) is shown as the text it is.
struct Party {
    /// The stored reference (`user:…`, `client:…`, `system`, …).
    reference: String,
    /// The name people know it by, when known.
    name: Option<String>,
    /// The name, cut where a line may break (a username's dots and underscores).
    name_parts: Vec<String>,
    /// It no longer exists (the name, if any, is the one recorded at the time).
    gone: bool,
    /// The log filtered by this reference.
    href: String,
    /// The reference, cut where a line may break.
    parts: Vec<String>,
}

impl Party {
    fn new(field: &str, reference: &str, name: Option<&str>, gone: bool) -> Self {
        Party {
            reference: reference.to_owned(),
            name: name.map(str::to_owned),
            name_parts: name.map(break_after_separators).unwrap_or_default(),
            gone,
            href: filter_href(field, reference),
            parts: break_after_separators(reference),
        }
    }

    /// The user this names, for "everything involving them" links.
    fn user_id(&self) -> Option<&str> {
        self.reference.strip_prefix("user:")
    }
}

/// An action as the log shows it: in words, with its stable name.
struct ActionText {
    /// The stable name (`credential.lost`).
    name: String,
    /// In words, when this version knows the action.
    label: Option<&'static str>,
    /// The stable name, cut after its dots and underscores.
    parts: Vec<String>,
    /// The log filtered by this action.
    href: String,
}

impl ActionText {
    fn new(name: &str) -> Self {
        ActionText {
            name: name.to_owned(),
            label: labels::label(name),
            parts: break_after_separators(name),
            href: filter_href("action", name),
        }
    }
}

/// One entry as the table shows it.
struct EventRow {
    id: i64,
    at: String,
    at_iso: String,
    actor: Party,
    action: ActionText,
    target: Option<Party>,
    outcome: &'static str,
    outcome_ok: bool,
    /// The detail, cut to [`DETAIL_CHARS`] characters.
    detail: Option<String>,
    /// The nickname of the key the entry names, when known.
    key_nickname: Option<String>,
}

impl From<&AuditEntry> for EventRow {
    fn from(entry: &AuditEntry) -> Self {
        let ev = &entry.event;
        EventRow {
            id: ev.id,
            at: when_seconds(ev.at),
            at_iso: rfc3339(ev.at),
            actor: Party::new("actor", &ev.actor, entry.actor_name.as_deref(), entry.actor_gone),
            action: ActionText::new(&ev.action),
            target: ev
                .target
                .as_deref()
                .map(|t| Party::new("target", t, entry.target_name.as_deref(), entry.target_gone)),
            outcome: ev.outcome.as_str(),
            outcome_ok: ev.outcome == Outcome::Success,
            detail: ev.detail.as_deref().map(shorten),
            key_nickname: entry.key_nickname.clone(),
        }
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[derive(askama::Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Nav,
    filters: FilterText,
    filtered: bool,
    error: Option<String>,
    /// Who the user filter named (username, or the id of a user who no longer exists).
    user: Option<InvolvedUser>,
    /// The action filter's suggestions.
    suggestions: Vec<Suggestion>,
    events: Vec<EventRow>,
    /// Paging further back in the log.
    older: Option<String>,
    /// Back to the newest entries (shown on older pages).
    newest: Option<String>,
    /// The downloads of these filters.
    csv: String,
    jsonl: String,
}

impl AuditPage {
    fn new(nav: Nav, filters: FilterText) -> Self {
        AuditPage {
            nav,
            filtered: filters.any(),
            csv: filters.href_at("/admin/audit/export.csv", None),
            jsonl: filters.href_at("/admin/audit/export.jsonl", None),
            filters,
            error: None,
            user: None,
            suggestions: labels::suggestions(),
            events: Vec::new(),
            older: None,
            newest: None,
        }
    }
}

/// `GET /admin/audit`.
async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    staff: Staff,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let ctx = state.ctx(staff.caller.actor(), &headers);
    let principal = staff.principal();
    keyfleet_core::access::authorize(&ctx, &principal, keyfleet_core::access::Permission::ReadAudit).await?;
    let Filtered { text, query, user } = match resolve(&ctx, &principal, raw.as_deref()).await {
        Ok(f) => f,
        Err(Unfiltered::Bad(text, msg)) => {
            let page = AuditPage {
                error: Some(msg),
                ..AuditPage::new(staff.viewer.nav("audit"), text)
            };
            return Ok(html_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
        Err(Unfiltered::Page(e)) => return Err(e),
    };
    let before = query.before_id;
    let listed = audit::list(
        &ctx,
        &principal,
        AuditQuery {
            limit: PAGE_SIZE,
            ..query
        },
    )
    .await?;
    let page = AuditPage {
        user,
        events: listed.entries.iter().map(EventRow::from).collect(),
        older: listed.next_before.map(|id| text.href(Some(id))),
        newest: before.map(|_| text.href(None)),
        ..AuditPage::new(staff.viewer.nav("audit"), text)
    };
    Ok(html_status(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_local_and_rfc3339_times_as_utc() {
        let t = Timestamp::from_millis(1_795_421_400_000); // 2026-11-23 08:10 UTC
        assert_eq!(parse_time("2026-11-23T08:10"), Some(t));
        assert_eq!(parse_time("2026-11-23 08:10"), Some(t));
        assert_eq!(parse_time("2026-11-23T08:10:00"), Some(t));
        assert_eq!(parse_time("2026-11-23T09:10:00+01:00"), Some(t));
        assert_eq!(
            parse_time("2026-11-23T08:10:00.250"),
            Some(Timestamp::from_millis(1_795_421_400_250))
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00",
            "2026-11-23",
            "2026-11-23T08:10Zjunk",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn local_text_reads_back_to_the_same_instant() {
        for ms in [1_795_421_400_000, 1_795_421_405_000, 1_795_421_405_123] {
            let t = Timestamp::from_millis(ms);
            assert_eq!(parse_time(&local_text(t)), Some(t), "{}", local_text(t));
        }
        assert_eq!(
            local_text(Timestamp::from_millis(1_795_421_400_000)),
            "2026-11-23T08:10"
        );
    }

    #[test]
    fn filters_are_checked() {
        let (_, q) = read_filters(Some("action=tap.&actor=user%3Aabc&before=40"));
        let q = q.ok().unwrap();
        assert_eq!(q.action.as_deref(), Some("tap."));
        assert_eq!(q.actor.as_deref(), Some("user:abc"));
        assert_eq!(q.before_id, Some(40));
        assert_eq!(q.limit, PAGE_SIZE);
        for bad in [
            "from=soon",
            "to=2026-02-30T00:00",
            "before=abc",
            "before=-1",
            "actor=%00",
            "from=2026-01-02T00:00&to=2026-01-01T00:00",
        ] {
            assert!(read_filters(Some(bad)).1.is_err(), "{bad}");
        }
    }

    #[test]
    fn user_and_request_filters_are_read_and_kept() {
        let (f, q) = read_filters(Some("user=+ann+&request=r-1&action=tap."));
        let q = q.ok().unwrap();
        assert_eq!(f.user, "ann", "trimmed");
        assert_eq!(q.request_id.as_deref(), Some("r-1"));
        assert_eq!(q.involving, None, "the core resolves the user");
        assert_eq!(f.href(None), "/admin/audit?user=ann&action=tap.&request=r-1");
        assert_eq!(
            f.href_at("/admin/audit/export.csv", None),
            "/admin/audit/export.csv?user=ann&action=tap.&request=r-1"
        );
        assert!(read_filters(Some("user=a%00b")).1.is_err());
        assert!(read_filters(Some(&format!("request={}", "r".repeat(257)))).1.is_err());
    }

    #[test]
    fn paging_links_keep_the_filters() {
        let (f, _) = read_filters(Some("action=user.&target=a%26b&from=2026-11-23T09:10:00%2B01:00"));
        assert_eq!(
            f.href(Some(7)),
            "/admin/audit?target=a%26b&action=user.&from=2026-11-23T08%3A10&before=7"
        );
        assert_eq!(FilterText::default().href(None), "/admin/audit");
    }

    #[test]
    fn actors_targets_and_actions_this_version_does_not_know_are_shown_as_text() {
        use askama::Template as _;
        let event = keyfleet_domain::audit::AuditEvent {
            id: 7,
            at: Timestamp::from_millis(1_795_421_405_000),
            actor: "cli:root".into(),
            action: "robot.reboot_all".into(),
            target: Some("robot:r2<d2>".into()),
            outcome: Outcome::Failure,
            request_id: None,
            detail: None,
        };
        let entry = AuditEntry {
            event,
            actor_name: None,
            actor_gone: false,
            target_name: None,
            target_gone: false,
            key_nickname: None,
        };
        let page = AuditPage {
            events: vec![EventRow::from(&entry)],
            ..AuditPage::new(Nav::default(), FilterText::default())
        };
        let html = page.render().unwrap();
        assert!(html.contains("href=\"/admin/audit?actor=cli%3Aroot\""), "{html}");
        assert!(html.contains(">cli:<wbr>root</a>"), "{html}");
        assert!(
            html.contains(">robot.<wbr>reboot_<wbr>all</a>"),
            "no label, the name: {html}"
        );
        assert!(html.contains(">robot:<wbr>r2&#60;d2&#62;</a>"), "escaped: {html}");
        assert!(!html.contains("audit-name"), "no name is made up");
        assert!(html.contains("<time datetime=\"2026-11-23T08:10:05Z\">2026-11-23 08:10:05 UTC</time>"));
    }

    #[test]
    fn details_are_cut_on_characters() {
        let long = "é".repeat(DETAIL_CHARS + 5);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), DETAIL_CHARS + 1);
        assert!(short.ends_with('…'));
        assert_eq!(shorten("{}"), "{}");
    }
}
