//! Typed audit details, and the audit log as people read it.
//!
//! Every event's detail is one of the structs here, serialised to a small JSON object; a
//! secret never has a field. [`list`] reads a page of the log and resolves the ids it names
//! (users, clients, groups, keys) to the names people know them by; when what an entry names
//! was deleted since, the name recorded in its detail (a [`UserRef`]'s username, a
//! [`GroupRef`]'s or client's name) stands in. [`get`] reads one entry with its detail's
//! fields resolved as well, and [`involving`] turns a username or user id, as people type
//! it into a filter, into the reference the log holds.

use std::collections::HashMap;

use keyfleet_domain::audit::{AuditEvent, AuditQuery, clean_text};
use keyfleet_domain::user::Username;
use keyfleet_domain::{GroupId, UserId};
use serde::Serialize;

use crate::access::{Permission, Principal, authorize};
use crate::credentials::ceremony::{b64, unb64};
use crate::{CoreError, Ctx};

/// A detail object of an audit event.
pub trait Detail: Serialize {
    /// The JSON text stored with the event.
    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A failure or refusal: its stable code or reason.
#[derive(Debug, Serialize)]
pub struct Reason<'a> {
    /// Why (`wrong_code`, `rate_limited`, `origin_mismatch`, …).
    pub reason: &'a str,
}
impl Detail for Reason<'_> {}

/// A ceremony failure: its stable code, and the key it named.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyFailed<'a> {
    /// The failure's code.
    pub code: &'a str,
    /// The key named by the response, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
}
impl Detail for CeremonyFailed<'_> {}

/// A key acted on.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef<'a> {
    /// The credential id (base64url).
    pub credential_id: String,
    /// Its nickname at the time, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<&'a str>,
}
impl Detail for KeyRef<'_> {}

impl<'a> KeyRef<'a> {
    /// A key by id and nickname.
    pub fn new(id: &[u8], nickname: Option<&'a str>) -> Self {
        KeyRef {
            credential_id: b64(id),
            nickname,
        }
    }
}

/// A sign-in with a key.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn<'a> {
    /// The key (base64url).
    pub credential_id: String,
    /// Its nickname.
    pub nickname: &'a str,
    /// The new session.
    pub session_id: String,
    /// Whether the user was verified (PIN or biometrics).
    pub uv: bool,
}
impl Detail for SignedIn<'_> {}

/// A key flagged as possibly cloned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloneSuspected<'a> {
    /// The key (base64url).
    pub credential_id: String,
    /// Its nickname.
    pub nickname: &'a str,
    /// The counter stored before this assertion.
    pub stored_sign_count: u32,
}
impl Detail for CloneSuspected<'_> {}

/// A user created or deleted.
#[derive(Debug, Serialize)]
pub struct UserRef<'a> {
    /// Their username.
    pub username: &'a str,
    /// Their role, when created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
}
impl Detail for UserRef<'_> {}

/// A group created or deleted.
#[derive(Debug, Serialize)]
pub struct GroupRef<'a> {
    /// Its name.
    pub name: &'a str,
}
impl Detail for GroupRef<'_> {}

/// A membership change.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member<'a> {
    /// The member.
    pub user_id: String,
    /// Their username.
    pub username: &'a str,
}
impl Detail for Member<'_> {}

/// A TAP issued.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TapIssued {
    /// The pass's id (never its code).
    pub tap_id: String,
    /// Its lifetime.
    pub lifetime_minutes: u32,
    /// Whether it works once.
    pub one_time: bool,
}
impl Detail for TapIssued {}

/// A TAP redeemed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TapRedeemed {
    /// The pass's id.
    pub tap_id: String,
    /// The session it opened.
    pub session_id: String,
}
impl Detail for TapRedeemed {}

/// A refused TAP sign-in: why, and the account named.
#[derive(Debug, Serialize)]
pub struct TapRefused<'a> {
    /// Why.
    pub reason: &'a str,
    /// The canonical username tried.
    pub username: &'a str,
}
impl Detail for TapRefused<'_> {}

/// A session acted on.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRef {
    /// The session.
    pub session_id: String,
}
impl Detail for SessionRef {}

/// A client created.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientCreated<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its scopes.
    pub scopes: Vec<&'a str>,
    /// Its first secret's id.
    pub secret_id: String,
}
impl Detail for ClientCreated<'_> {}

/// A client named.
#[derive(Debug, Serialize)]
pub struct ClientRef<'a> {
    /// Its name.
    pub name: &'a str,
}
impl Detail for ClientRef<'_> {}

/// A client secret acted on (its id; never the secret).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// The secret's id.
    pub secret_id: String,
}
impl Detail for SecretRef {}

/// An access token issued.
#[derive(Debug, Serialize)]
pub struct TokenIssued<'a> {
    /// The token's id (never the token).
    pub jti: &'a str,
    /// The scopes granted.
    pub scope: &'a str,
}
impl Detail for TokenIssued<'_> {}

/// Sessions ended.
#[derive(Debug, Serialize)]
pub struct Ended {
    /// How many.
    pub sessions: u64,
}
impl Detail for Ended {}

/// A scheduled job's run.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRan<'a> {
    /// How it ended.
    pub outcome: &'a str,
    /// What it did, as counts.
    pub counts: &'a [(&'a str, u64)],
}
impl Detail for JobRan<'_> {}

/// One event with the names of what it names.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// The event as stored.
    pub event: AuditEvent,
    /// The actor's name (a username or client name), when it still exists.
    pub actor_name: Option<String>,
    /// The actor was a user or client that no longer exists.
    pub actor_gone: bool,
    /// The target's name (a username, client or group name): its current name, or, when
    /// [`target_gone`](Self::target_gone), the one recorded in the detail, if any.
    pub target_name: Option<String>,
    /// The target was a user, group or client that no longer exists.
    pub target_gone: bool,
    /// The nickname of the key the event names, when known.
    pub key_nickname: Option<String>,
}

/// A page of the log, newest first, with `next_before` when there are older events.
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// The id to page on from, if more events match.
    pub next_before: Option<i64>,
}

/// The largest page [`list`] reads.
pub const MAX_PAGE: u32 = 500;

/// A page of the audit log (`ReadAudit`), with names resolved. `query.limit` is the page
/// size (1 to [`MAX_PAGE`]).
pub async fn list(ctx: &Ctx<'_>, principal: &Principal, mut query: AuditQuery) -> Result<AuditPage, CoreError> {
    authorize(ctx, principal, Permission::ReadAudit).await?;
    let limit = query.limit.clamp(1, MAX_PAGE);
    query.limit = limit + 1;
    let mut events = ctx.stores.audit.list(&query).await?;
    let next_before = (events.len() > limit as usize).then(|| {
        events.truncate(limit as usize);
        events.last().map_or(0, |e| e.id)
    });
    let details: Vec<Option<serde_json::Value>> = events.iter().map(parsed_detail).collect();
    let mut names = Names::default();
    names.prefetch(ctx, &events, &details).await?;
    let mut entries = Vec::with_capacity(events.len());
    for (event, detail) in events.into_iter().zip(details) {
        entries.push(names.entry(ctx, event, detail.as_ref()).await?);
    }
    Ok(AuditPage { entries, next_before })
}

/// One field of an entry's detail, with the name of what it names.
#[derive(Debug, Clone)]
pub struct DetailField {
    /// The field's name as stored (`credentialId`, `username`, …).
    pub key: String,
    /// Its value.
    pub value: serde_json::Value,
    /// What the value names, as a log reference (`user:ID`), when it names a user.
    pub reference: Option<String>,
    /// The name of what it names: a user's username, a key's nickname, when known.
    pub name: Option<String>,
}

/// One entry with every field of its detail.
#[derive(Debug, Clone)]
pub struct AuditEntryDetail {
    /// The entry, names resolved as [`list`] resolves them.
    pub entry: AuditEntry,
    /// The detail's fields in stored order; empty when there is no detail or it is not a
    /// JSON object (the event's `detail` still holds the text).
    pub fields: Vec<DetailField>,
}

/// One entry of the audit log by id (`ReadAudit`), with its detail's fields resolved;
/// `NotFound` when there is no such entry.
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, id: i64) -> Result<AuditEntryDetail, CoreError> {
    authorize(ctx, principal, Permission::ReadAudit).await?;
    let event = ctx.stores.audit.get(id).await?.ok_or(CoreError::NotFound)?;
    let mut names = Names::default();
    let parsed = parsed_detail(&event);
    let entry = names.entry(ctx, event, parsed.as_ref()).await?;
    // The fields of a detail that is a JSON object.
    let detail = match parsed {
        Some(serde_json::Value::Object(map)) => Some(map),
        _ => None,
    };
    let mut fields = Vec::new();
    for (key, value) in detail.into_iter().flatten() {
        let (reference, name) = match (key.as_str(), value.as_str()) {
            ("userId", Some(id)) => {
                let reference = format!("user:{id}");
                let name = names.of(ctx, &reference).await?;
                (Some(reference), name)
            }
            ("credentialId", Some(_)) => (None, entry.key_nickname.clone()),
            _ => (None, None),
        };
        fields.push(DetailField {
            key,
            value,
            reference,
            name,
        });
    }
    Ok(AuditEntryDetail { entry, fields })
}

/// A user named in a filter, as the log refers to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvolvedUser {
    /// Their id.
    pub id: UserId,
    /// The reference the log holds as actor or target (`user:ID`).
    pub reference: String,
    /// Their current username; `None` for the id of a user who no longer exists.
    pub username: Option<String>,
}

/// The user a filter names (`ReadAudit`): `text` is a username, a user id, or `user:ID`.
/// An id of an existing user wins, then a username; an id nobody has any more is still
/// taken (a deleted user's entries stay in the log). Anything else is `Invalid`
/// (`unknown_user`), with a message that names what was typed.
pub async fn involving(ctx: &Ctx<'_>, principal: &Principal, text: &str) -> Result<InvolvedUser, CoreError> {
    authorize(ctx, principal, Permission::ReadAudit).await?;
    let text = text.trim();
    let id = text.strip_prefix("user:").unwrap_or(text).parse::<UserId>().ok();
    if let Some(id) = id
        && let Some(user) = ctx.stores.users.get_user(id).await?
    {
        return Ok(InvolvedUser::new(id, Some(user.username.as_str().to_owned())));
    }
    if let Ok(username) = Username::parse(text)
        && let Some(user) = ctx.stores.users.find_user_by_username(&username).await?
    {
        return Ok(InvolvedUser::new(user.id, Some(username.as_str().to_owned())));
    }
    match id {
        Some(id) => Ok(InvolvedUser::new(id, None)),
        None => Err(CoreError::invalid(
            "unknown_user",
            format!(
                "No user named “{}”. A deleted user's entries are found by their user id, which \
                 their user.delete entry shows.",
                clean_text(text)
            ),
        )),
    }
}

impl InvolvedUser {
    fn new(id: UserId, username: Option<String>) -> Self {
        InvolvedUser {
            id,
            reference: format!("user:{id}"),
            username,
        }
    }
}

/// Names looked up once per page: `None` for a reference to something that does not exist
/// (or that is no user, group or client).
#[derive(Default)]
struct Names {
    seen: HashMap<String, Option<String>>,
}

impl Names {
    /// Reads the names of every user and key `events` name in one query each (per 500; none
    /// when there are none), so a page costs the same few statements whatever it shows; [`Names::entry`] then finds them
    /// here. Groups, clients and strengths, few on any page, are read as entries name them.
    /// `details` are the events' details, parsed ([`parsed_detail`]), in the same order.
    async fn prefetch(
        &mut self,
        ctx: &Ctx<'_>,
        events: &[AuditEvent],
        details: &[Option<serde_json::Value>],
    ) -> Result<(), CoreError> {
        let mut users: Vec<(String, UserId)> = Vec::new();
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for (event, detail) in events.iter().zip(details) {
            for reference in std::iter::once(event.actor.as_str()).chain(event.target.as_deref()) {
                if let Some(id) = user_of(reference)
                    && !self.seen.contains_key(reference)
                {
                    users.push((reference.to_owned(), id));
                }
            }
            if let Some(detail) = detail
                && nickname(detail).is_none()
                && let Some(id) = key_id(detail)
                && let Some(raw) = unb64(id)
            {
                keys.push((key_reference(id), raw));
            }
        }
        let mut ids: Vec<UserId> = users.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let found: HashMap<UserId, String> = ctx
            .stores
            .users
            .get_users(&ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u.username.as_str().to_owned()))
            .collect();
        for (reference, id) in users {
            self.seen.insert(reference, found.get(&id).cloned());
        }
        let mut ids: Vec<&[u8]> = keys.iter().map(|(_, raw)| raw.as_slice()).collect();
        ids.sort_unstable();
        ids.dedup();
        let found: HashMap<Vec<u8>, String> = ctx
            .stores
            .credentials
            .get_credentials(&ids)
            .await?
            .into_iter()
            .map(|c| (c.id, c.nickname))
            .collect();
        for (reference, raw) in keys {
            self.seen.insert(reference, found.get(&raw).cloned());
        }
        Ok(())
    }

    /// An event with the names of its actor, target and key; `detail` is its detail, parsed.
    async fn entry(
        &mut self,
        ctx: &Ctx<'_>,
        event: AuditEvent,
        detail: Option<&serde_json::Value>,
    ) -> Result<AuditEntry, CoreError> {
        let actor_name = self.of(ctx, &event.actor).await?;
        let actor_gone = actor_name.is_none() && named_kind(&event.actor).is_some();
        let (target_name, target_gone) = match &event.target {
            Some(t) => match self.of(ctx, t).await? {
                Some(name) => (Some(name), false),
                None => match named_kind(t) {
                    Some(kind) => (recorded_name(kind, detail), true),
                    None => (None, false),
                },
            },
            None => (None, false),
        };
        let key_nickname = self.key_nickname(ctx, detail).await?;
        Ok(AuditEntry {
            event,
            actor_name,
            actor_gone,
            target_name,
            target_gone,
            key_nickname,
        })
    }

    async fn of(&mut self, ctx: &Ctx<'_>, reference: &str) -> Result<Option<String>, CoreError> {
        if let Some(name) = self.seen.get(reference) {
            return Ok(name.clone());
        }
        let name = match reference.split_once(':') {
            Some(("user", _)) => match user_of(reference) {
                Some(id) => ctx
                    .stores
                    .users
                    .get_user(id)
                    .await?
                    .map(|u| u.username.as_str().to_owned()),
                None => None,
            },
            Some(("group", id)) => match id.parse::<GroupId>() {
                Ok(id) => ctx.stores.groups.get_group(id).await?.map(|g| g.name),
                Err(_) => None,
            },
            Some(("client", id)) => ctx.stores.clients.get_client(id).await?.map(|c| c.name),
            Some(("strength", id)) => crate::strengths::find(ctx, id).await?.map(|s| s.name),
            _ => None,
        };
        self.seen.insert(reference.to_owned(), name.clone());
        Ok(name)
    }

    async fn key_nickname(
        &mut self,
        ctx: &Ctx<'_>,
        detail: Option<&serde_json::Value>,
    ) -> Result<Option<String>, CoreError> {
        let Some(detail) = detail else {
            return Ok(None);
        };
        if let Some(n) = nickname(detail) {
            return Ok(Some(n.to_owned()));
        }
        let Some(id) = key_id(detail) else {
            return Ok(None);
        };
        let reference = key_reference(id);
        if let Some(name) = self.seen.get(&reference) {
            return Ok(name.clone());
        }
        let name = match unb64(id) {
            Some(raw) => ctx.stores.credentials.get_credential(&raw).await?.map(|c| c.nickname),
            None => None,
        };
        self.seen.insert(reference, name.clone());
        Ok(name)
    }
}

/// An event's detail as JSON; `None` when it has none or it is not JSON.
fn parsed_detail(event: &AuditEvent) -> Option<serde_json::Value> {
    event.detail.as_deref().and_then(|d| serde_json::from_str(d).ok())
}

/// The user a reference names (`user:ID`), if it names one.
fn user_of(reference: &str) -> Option<UserId> {
    match reference.split_once(':') {
        Some(("user", id)) => id.parse().ok(),
        _ => None,
    }
}

/// The key nickname a detail recorded.
fn nickname(detail: &serde_json::Value) -> Option<&str> {
    detail.get("nickname")?.as_str()
}

/// The key id (base64url) a detail names.
fn key_id(detail: &serde_json::Value) -> Option<&str> {
    detail.get("credentialId")?.as_str()
}

/// How [`Names`] remembers the nickname of the key with this id.
fn key_reference(id: &str) -> String {
    format!("key:{id}")
}

/// The kinds of reference that name something with a name: users, groups, clients and
/// authentication strengths (not jobs, not `system`, not kinds this version does not know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamedKind {
    User,
    Group,
    Client,
    Strength,
}

fn named_kind(reference: &str) -> Option<NamedKind> {
    match reference.split_once(':')?.0 {
        "user" => Some(NamedKind::User),
        "group" => Some(NamedKind::Group),
        "client" => Some(NamedKind::Client),
        "strength" => Some(NamedKind::Strength),
        _ => None,
    }
}

/// The name a detail recorded for the event's target: a user's `username` ([`UserRef`],
/// [`TapRefused`]; not a [`Member`]'s, whose target is the group), a group's or client's
/// `name` ([`GroupRef`], [`ClientRef`], [`ClientCreated`]), a deleted authentication
/// strength's `name`.
fn recorded_name(kind: NamedKind, detail: Option<&serde_json::Value>) -> Option<String> {
    let detail = detail?;
    let field = match kind {
        NamedKind::User if detail.get("userId").is_none() => "username",
        NamedKind::User => return None,
        NamedKind::Group | NamedKind::Client | NamedKind::Strength => "name",
    };
    detail.get(field)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(d: &impl Detail) -> serde_json::Value {
        serde_json::from_str(&d.to_json()).unwrap()
    }

    #[test]
    fn recorded_names_come_from_the_details_that_name_the_target() {
        let user = json(&UserRef {
            username: "ann",
            role: Some("worker"),
        });
        assert_eq!(recorded_name(NamedKind::User, Some(&user)).as_deref(), Some("ann"));
        let refused = json(&TapRefused {
            reason: "wrong_code",
            username: "bob",
        });
        assert_eq!(recorded_name(NamedKind::User, Some(&refused)).as_deref(), Some("bob"));
        let group = json(&GroupRef { name: "Ops" });
        assert_eq!(recorded_name(NamedKind::Group, Some(&group)).as_deref(), Some("Ops"));
        let client = json(&ClientCreated {
            name: "HR sync",
            scopes: vec!["users:read"],
            secret_id: "s1".into(),
        });
        assert_eq!(
            recorded_name(NamedKind::Client, Some(&client)).as_deref(),
            Some("HR sync")
        );
        // A membership names the member, not its target (the group).
        let member = json(&Member {
            user_id: "u1".into(),
            username: "cy",
        });
        assert_eq!(recorded_name(NamedKind::User, Some(&member)), None);
        assert_eq!(recorded_name(NamedKind::Group, Some(&member)), None);
        assert_eq!(recorded_name(NamedKind::User, None), None);
    }

    #[test]
    fn only_users_groups_and_clients_have_names() {
        assert_eq!(named_kind("user:1"), Some(NamedKind::User));
        assert_eq!(named_kind("group:1"), Some(NamedKind::Group));
        assert_eq!(named_kind("client:kfc_1"), Some(NamedKind::Client));
        for other in ["system", "anonymous", "job:cleanup", "cli:root", ""] {
            assert_eq!(named_kind(other), None, "{other}");
        }
    }
}
