//! Downloads of the audit log: `GET /admin/audit/export.csv` and `/admin/audit/export.jsonl`,
//! with the same filters as the page (`user`, `actor`, `target`, `action`, `request`, `from`,
//! `to`; `before` too, to start below an id).
//!
//! Both hold every entry the filters match, newest first, up to [`EXPORT_MAX`]: the entries
//! are read from the core in keyset batches of [`BATCH`] ([`keyfleet_core::audit::list`],
//! `ReadAudit`, names resolved) and streamed as they are read, so a long log is never held
//! in memory. The first batch is read before the answer starts, so a refusal or a bad filter
//! is still an error page; a store failure later ends the download unfinished (the client
//! sees a broken transfer, never a silently short file). Reading the log is not audited, as
//! the page and `GET /api/v1/audit` are not: an export holds what paging through the page
//! shows.
//!
//! **CSV** (RFC 4180: comma-separated, CRLF line ends, a header row, a field holding a
//! comma, a double quote, CR or LF enclosed in double quotes with its double quotes
//! doubled), UTF-8 without a byte-order mark, columns [`COLUMNS`]: `id`, `at` (RFC 3339,
//! UTC), `actor`, `actorName`, `action`, `target`, `targetName`, `keyNickname`, `outcome`,
//! `requestId`, `detail` (the stored JSON object). A field that is unknown or absent is
//! empty. Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
//! return as a formula, and some of these fields hold text typed by others (names, key
//! nicknames, client ids, request ids), so such a cell gets a leading `'` (OWASP's advice
//! on CSV injection); the text after the `'` is unchanged.
//!
//! **JSON lines**: one JSON object per line (LF), the same object `GET /api/v1/audit`
//! returns in `events` (camelCase: `id`, `at`, `actor`, `action`, `target`, `outcome`,
//! `requestId`, `detail` as an object, and `actorName`, `targetName`, `keyNickname` when
//! known). No neutralising: it is for programs.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use futures_util::stream;
use keyfleet_core::CoreError;
use keyfleet_core::access::{Permission, Principal, authorize};
use keyfleet_core::audit::{self, AuditEntry};
use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Actor, AuditQuery};
use time::macros::format_description;

use super::{Filtered, Unfiltered, resolve, utc};
use crate::api::AuditEventJson;
use crate::state::{AppState, rfc3339};
use crate::web::admin::Staff;
use crate::web::page::PageError;

/// The most entries one download holds (the newest that match); the page says so, and a
/// narrower time range reaches older ones.
pub const EXPORT_MAX: usize = 100_000;

/// Entries read from the store at a time.
const BATCH: u32 = audit::MAX_PAGE;

/// The CSV columns, in order: the JSON names of the same fields.
pub const COLUMNS: [&str; 11] = [
    "id",
    "at",
    "actor",
    "actorName",
    "action",
    "target",
    "targetName",
    "keyNickname",
    "outcome",
    "requestId",
    "detail",
];

/// How the entries are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::JsonLines => "application/jsonl; charset=utf-8",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
        }
    }

    /// What comes before the first entry.
    fn start(self) -> String {
        match self {
            Format::Csv => {
                let mut out = String::new();
                crate::web::csv::record(&mut out, &COLUMNS);
                out
            }
            Format::JsonLines => String::new(),
        }
    }

    /// Appends one entry.
    fn push(self, out: &mut String, entry: &AuditEntry) {
        match self {
            Format::Csv => push_csv_entry(out, entry),
            Format::JsonLines => {
                // A struct of strings, numbers and a parsed JSON value: it always serialises.
                if let Ok(line) = serde_json::to_string(&AuditEventJson::from(entry)) {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
        }
    }
}

/// `GET /admin/audit/export.csv`.
pub(super) async fn csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    staff: Staff,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    export(state, &headers, &staff, raw.as_deref(), Format::Csv).await
}

/// `GET /admin/audit/export.jsonl`.
pub(super) async fn json_lines(
    State(state): State<AppState>,
    headers: HeaderMap,
    staff: Staff,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    export(state, &headers, &staff, raw.as_deref(), Format::JsonLines).await
}

/// Where a download has got to, between batches.
struct Cursor {
    state: AppState,
    actor: Actor,
    request_id: Option<String>,
    principal: Principal,
    query: AuditQuery,
    format: Format,
    /// The id to read below next; `None` once the log has no more matching entries.
    next_before: Option<i64>,
    /// Entries written so far.
    written: usize,
}

impl Cursor {
    /// The next batch: its entries, written, and where to go on from.
    async fn batch(&mut self, before: Option<i64>) -> Result<String, CoreError> {
        let remaining = EXPORT_MAX.saturating_sub(self.written);
        let limit = u32::try_from(remaining).unwrap_or(BATCH).min(BATCH);
        let ctx = self.state.core.ctx(self.actor.clone(), self.request_id.clone());
        let query = AuditQuery {
            before_id: before,
            limit,
            ..self.query.clone()
        };
        let page = audit::list(&ctx, &self.principal, query).await?;
        let mut out = String::with_capacity(page.entries.len() * 256);
        for entry in &page.entries {
            self.format.push(&mut out, entry);
        }
        self.written += page.entries.len();
        self.next_before = page.next_before.filter(|_| self.written < EXPORT_MAX);
        Ok(out)
    }
}

async fn export(
    state: AppState,
    headers: &HeaderMap,
    staff: &Staff,
    raw: Option<&str>,
    format: Format,
) -> Result<Response, PageError> {
    let principal = staff.principal();
    let actor = staff.caller.actor();
    let now = state.now();
    let Filtered { query, .. } = {
        let ctx = state.ctx(actor.clone(), headers);
        authorize(&ctx, &principal, Permission::ReadAudit).await?;
        match resolve(&ctx, &principal, raw).await {
            Ok(f) => f,
            Err(Unfiltered::Bad(_, msg)) => {
                return Err(PageError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "The filters could not be read",
                    format!("{msg} Nothing was downloaded."),
                ));
            }
            Err(Unfiltered::Page(e)) => return Err(e),
        }
    };
    let mut cursor = Cursor {
        state,
        actor,
        request_id: crate::auth::request_id(headers),
        principal,
        format,
        next_before: None,
        written: 0,
        query,
    };
    // The first batch before the answer starts: its failure is still an error page.
    let first_before = cursor.query.before_id;
    let mut first = format.start();
    first.push_str(&cursor.batch(first_before).await?);
    let rest = stream::try_unfold(cursor, |mut cursor| async move {
        let Some(before) = cursor.next_before else {
            return Ok(None);
        };
        match cursor.batch(Some(before)).await {
            Ok(chunk) => Ok(Some((Bytes::from(chunk), cursor))),
            Err(e) => {
                tracing::error!(error = %e, written = cursor.written, "audit export stopped unfinished");
                Err(e)
            }
        }
    });
    let body = stream::once(async move { Ok::<_, CoreError>(Bytes::from(first)) }).chain(rest);
    let mut res = (StatusCode::OK, Body::from_stream(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!(
        "attachment; filename=\"keyfleet-audit-{}.{}\"",
        file_time(now),
        format.extension()
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// A time for a file name: `20261123T081000Z` (UTC, no characters a file system refuses).
fn file_time(ts: Timestamp) -> String {
    utc(ts)
        .and_then(|t| {
            t.format(format_description!("[year][month][day]T[hour][minute][second]Z"))
                .ok()
        })
        .unwrap_or_else(|| "unknown-time".to_owned())
}

/// One entry as a CSV record, in [`COLUMNS`] order.
fn push_csv_entry(out: &mut String, entry: &AuditEntry) {
    let e = &entry.event;
    let id = e.id.to_string();
    let at = rfc3339(e.at);
    let text = |v: &Option<String>| v.as_deref().unwrap_or("").to_owned();
    let cells = [
        id,
        at,
        e.actor.clone(),
        text(&entry.actor_name),
        e.action.clone(),
        text(&e.target),
        text(&entry.target_name),
        text(&entry.key_nickname),
        e.outcome.as_str().to_owned(),
        text(&e.request_id),
        text(&e.detail),
    ];
    crate::web::csv::record(out, &cells);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_the_columns_once_each() {
        assert_eq!(
            Format::Csv.start(),
            "id,at,actor,actorName,action,target,targetName,keyNickname,outcome,requestId,detail\r\n"
        );
        assert_eq!(Format::JsonLines.start(), "");
    }

    #[test]
    fn file_names_carry_a_utc_time() {
        assert_eq!(file_time(Timestamp::from_millis(1_795_421_405_000)), "20261123T081005Z");
    }
}
