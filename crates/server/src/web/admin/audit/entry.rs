//! One audit entry on its own page (`GET /admin/audit/{id}`): every stored field, names
//! beside ids, the detail as a list of its fields, and links to the entries of the same
//! actor, target, action and request. An id that is not a positive whole number, or that no
//! entry has, gets the "not found" page.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use keyfleet_core::audit::{self, DetailField};

use super::{ActionText, Party, filter_href, when_seconds};
use crate::state::{AppState, rfc3339};
use crate::web::admin::Staff;
use crate::web::page::{Nav, PageError, html_status};

/// One field of the entry's detail as the page lists it.
struct FieldRow {
    /// The stored field name (`credentialId`).
    key: String,
    /// The field in words (`Credential id`).
    label: String,
    /// Its value as text: a string as it is, anything else as compact JSON.
    value: String,
    /// The name of what it names (a username, a key's nickname), when known.
    name: Option<String>,
    /// The log filtered by the user it names.
    href: Option<String>,
}

impl From<DetailField> for FieldRow {
    fn from(f: DetailField) -> Self {
        let value = match &f.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        FieldRow {
            label: field_label(&f.key),
            href: f
                .reference
                .as_deref()
                .map(|r| involving_href(r).unwrap_or_else(|| filter_href("target", r))),
            key: f.key,
            value,
            name: f.name,
        }
    }
}

/// The log of everything a user did or had done to them, for a `user:ID` reference.
fn involving_href(reference: &str) -> Option<String> {
    reference.strip_prefix("user:").map(|id| filter_href("user", id))
}

/// The console page of what a reference names, when it still exists and the viewer may
/// open it: users for all staff, groups and API clients for administrators.
fn object_href(party: &Party, admin: bool) -> Option<String> {
    if party.gone || party.name.is_none() {
        return None;
    }
    let (kind, id) = party.reference.split_once(':')?;
    let path = match kind {
        "user" => "users",
        "group" if admin => "groups",
        "client" if admin => "clients",
        _ => return None,
    };
    let id: String = url_segment(id);
    Some(format!("/admin/{path}/{id}"))
}

/// `s` percent-encoded as one path segment.
fn url_segment(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .replace('+', "%20")
}

/// A detail field's name in words: `credentialId` → "Credential id", with the few names
/// that are abbreviations spelled out.
fn field_label(key: &str) -> String {
    match key {
        "uv" => return "User verified (PIN or biometrics)".to_owned(),
        "jti" => return "Token id".to_owned(),
        _ => {}
    }
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if c == '_' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(askama::Template)]
#[template(path = "admin/audit_entry.html")]
struct EntryPage {
    nav: Nav,
    id: i64,
    at: String,
    at_iso: String,
    actor: Party,
    /// The actor's console page, when there is one to open.
    actor_page: Option<String>,
    /// Everything the acting user did or had done to them.
    actor_involving: Option<String>,
    action: ActionText,
    target: Option<Party>,
    target_page: Option<String>,
    target_involving: Option<String>,
    outcome: &'static str,
    outcome_ok: bool,
    request_id: Option<String>,
    /// Everything the same request did.
    request_href: Option<String>,
    key_nickname: Option<String>,
    fields: Vec<FieldRow>,
    /// The detail as stored.
    detail: Option<String>,
}

/// `GET /admin/audit/{id}`.
pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(PageError::not_found)?;
    let ctx = state.ctx(staff.caller.actor(), &headers);
    let found = audit::get(&ctx, &staff.principal(), id).await?;
    let admin = staff.is_admin();
    let entry = found.entry;
    let ev = &entry.event;
    let actor = Party::new("actor", &ev.actor, entry.actor_name.as_deref(), entry.actor_gone);
    let target = ev
        .target
        .as_deref()
        .map(|t| Party::new("target", t, entry.target_name.as_deref(), entry.target_gone));
    let page = EntryPage {
        nav: staff.viewer.nav("audit"),
        id: ev.id,
        at: when_seconds(ev.at),
        at_iso: rfc3339(ev.at),
        actor_page: object_href(&actor, admin),
        actor_involving: actor.user_id().map(|id| filter_href("user", id)),
        target_page: target.as_ref().and_then(|t| object_href(t, admin)),
        target_involving: target
            .as_ref()
            .and_then(Party::user_id)
            .map(|id| filter_href("user", id)),
        actor,
        target,
        action: ActionText::new(&ev.action),
        outcome: ev.outcome.as_str(),
        outcome_ok: ev.outcome == keyfleet_domain::audit::Outcome::Success,
        request_href: ev.request_id.as_deref().map(|r| filter_href("request", r)),
        request_id: ev.request_id.clone(),
        key_nickname: entry.key_nickname.clone(),
        detail: ev.detail.clone(),
        fields: found.fields.into_iter().map(FieldRow::from).collect(),
    };
    Ok(html_status(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_read_as_words() {
        assert_eq!(field_label("credentialId"), "Credential id");
        assert_eq!(field_label("storedSignCount"), "Stored sign count");
        assert_eq!(field_label("reason"), "Reason");
        assert_eq!(field_label("uv"), "User verified (PIN or biometrics)");
        assert_eq!(field_label("some_field"), "Some field");
        assert_eq!(field_label(""), "");
    }

    #[test]
    fn object_pages_only_for_what_exists_and_may_be_opened() {
        let user = Party::new("actor", "user:abc", Some("ann"), false);
        assert_eq!(object_href(&user, false).as_deref(), Some("/admin/users/abc"));
        let gone = Party::new("target", "user:abc", Some("ann"), true);
        assert_eq!(object_href(&gone, true), None);
        let group = Party::new("target", "group:g1", Some("Ops"), false);
        assert_eq!(object_href(&group, false), None, "helpdesk has no group pages");
        assert_eq!(object_href(&group, true).as_deref(), Some("/admin/groups/g1"));
        let client = Party::new("actor", "client:a b/c", Some("HR"), false);
        assert_eq!(object_href(&client, true).as_deref(), Some("/admin/clients/a%20b%2Fc"));
        let system = Party::new("actor", "system", None, false);
        assert_eq!(object_href(&system, true), None);
        let cli = Party::new("actor", "cli:root", None, false);
        assert_eq!(
            object_href(&cli, true),
            None,
            "an actor kind this version does not know"
        );
    }
}
