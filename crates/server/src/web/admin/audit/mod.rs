//! Console: the audit log, for any staff member (helpdesk users hold `audit:read`).
//!
//! A filter form (actor, target, action or action prefix, a time range in UTC), the newest
//! entries first, 50 to a page, and keyset paging: "Older entries" asks for ids below the
//! last one shown, keeping the filters. Filter values that cannot be read give a 422 page
//! that says which one and why, never a 500. The store does the filtering, as it does for
//! `GET /api/v1/audit`.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use keyfleet_core::audit::{self, AuditEntry};
use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{AuditQuery, Outcome};
use keyfleet_domain::user::has_forbidden_formatting;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::Staff;
use crate::state::{AppState, parse_rfc3339, rfc3339};
use crate::web::page::{Nav, PageError, html_status};

/// Entries per page.
const PAGE_SIZE: u32 = 50;
/// How much of an entry's detail the table shows.
const DETAIL_CHARS: usize = 300;
/// The longest actor, target or action filter accepted.
const MAX_FILTER_CHARS: usize = 256;

/// Routes of this section.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit", get(page))
}

/// The filters as typed, kept on the form (times in the `datetime-local` form once read).
#[derive(Debug, Default, Clone)]
struct FilterText {
    actor: String,
    target: String,
    action: String,
    from: String,
    to: String,
}

impl FilterText {
    /// The filters as query pairs, empty ones left out.
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("actor", &self.actor),
            ("target", &self.target),
            ("action", &self.action),
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
        let before = before.map(|b| b.to_string());
        let mut pairs = self.pairs();
        if let Some(b) = &before {
            pairs.push(("before", b));
        }
        let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
        if q.is_empty() {
            "/admin/audit".to_owned()
        } else {
            format!("/admin/audit?{q}")
        }
    }

    fn any(&self) -> bool {
        !self.pairs().is_empty()
    }
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
            "actor" => text.actor = v,
            "target" => text.target = v,
            "action" => text.action = v,
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
/// in the `datetime-local` form so the browser shows them.
fn build_query(text: &mut FilterText, before: &str) -> Result<AuditQuery, BadFilter> {
    let actor = text_filter("Actor", &text.actor)?;
    let target = text_filter("Target", &text.target)?;
    let action = text_filter("Action", &text.action)?;
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
        since,
        until,
        before_id,
        limit: PAGE_SIZE,
        ..AuditQuery::default()
    })
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

/// One entry as the table shows it.
struct EventRow {
    id: i64,
    at: String,
    at_iso: String,
    actor: String,
    action: String,
    target: Option<String>,
    outcome: &'static str,
    outcome_ok: bool,
    request_id: Option<String>,
    /// The detail, cut to [`DETAIL_CHARS`] characters.
    detail: Option<String>,
    /// The actor's name (username or client name), when known.
    actor_name: Option<String>,
    /// The target's name, when known.
    target_name: Option<String>,
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
            actor: ev.actor.clone(),
            action: ev.action.clone(),
            target: ev.target.clone(),
            outcome: ev.outcome.as_str(),
            outcome_ok: ev.outcome == Outcome::Success,
            request_id: ev.request_id.clone(),
            detail: ev.detail.as_deref().map(shorten),
            actor_name: entry.actor_name.clone(),
            target_name: entry.target_name.clone(),
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
    events: Vec<EventRow>,
    /// Paging further back in the log.
    older: Option<String>,
    /// Back to the newest entries (shown on older pages).
    newest: Option<String>,
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
    let (filters, query) = read_filters(raw.as_deref());
    let query = match query {
        Ok(q) => q,
        Err(BadFilter(msg)) => {
            let page = AuditPage {
                nav: staff.viewer.nav("audit"),
                filtered: filters.any(),
                filters,
                error: Some(msg),
                events: Vec::new(),
                older: None,
                newest: None,
            };
            return Ok(html_status(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
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
    let events = listed.entries;
    let older = listed.next_before.map(|id| filters.href(Some(id)));
    let newest = before.map(|_| filters.href(None));
    let page = AuditPage {
        nav: staff.viewer.nav("audit"),
        filtered: filters.any(),
        events: events.iter().map(EventRow::from).collect(),
        filters,
        error: None,
        older,
        newest,
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
    fn paging_links_keep_the_filters() {
        let (f, _) = read_filters(Some("action=user.&target=a%26b&from=2026-11-23T09:10:00%2B01:00"));
        assert_eq!(
            f.href(Some(7)),
            "/admin/audit?target=a%26b&action=user.&from=2026-11-23T08%3A10&before=7"
        );
        assert_eq!(FilterText::default().href(None), "/admin/audit");
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
