//! Typed audit details, and the audit log as people read it.
//!
//! Every event's detail is one of the structs here, serialised to a small JSON object; a
//! secret never has a field. [`list`] reads a page of the log and resolves the ids it names
//! (users, clients, groups, keys) to the names people know them by.

use std::collections::HashMap;

use keyfleet_domain::audit::{AuditEvent, AuditQuery};
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
    /// The target's name (a username, client or group name), when known.
    pub target_name: Option<String>,
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

/// A page of the audit log (`ReadAudit`), with names resolved. `query.limit` is the page
/// size (1 to 500).
pub async fn list(ctx: &Ctx<'_>, principal: &Principal, mut query: AuditQuery) -> Result<AuditPage, CoreError> {
    authorize(ctx, principal, Permission::ReadAudit).await?;
    let limit = query.limit.clamp(1, 500);
    query.limit = limit + 1;
    let mut events = ctx.stores.audit.list(&query).await?;
    let next_before = (events.len() > limit as usize).then(|| {
        events.truncate(limit as usize);
        events.last().map_or(0, |e| e.id)
    });
    let mut names = Names::default();
    let mut entries = Vec::with_capacity(events.len());
    for event in events {
        let actor_name = names.of(ctx, &event.actor).await?;
        let target_name = match &event.target {
            Some(t) => names.of(ctx, t).await?,
            None => None,
        };
        let key_nickname = names.key_nickname(ctx, event.detail.as_deref()).await?;
        entries.push(AuditEntry {
            event,
            actor_name,
            target_name,
            key_nickname,
        });
    }
    Ok(AuditPage { entries, next_before })
}

/// Names looked up once per page.
#[derive(Default)]
struct Names {
    seen: HashMap<String, Option<String>>,
}

impl Names {
    async fn of(&mut self, ctx: &Ctx<'_>, reference: &str) -> Result<Option<String>, CoreError> {
        if let Some(name) = self.seen.get(reference) {
            return Ok(name.clone());
        }
        let name = match reference.split_once(':') {
            Some(("user", id)) => match id.parse::<UserId>() {
                Ok(id) => ctx
                    .stores
                    .users
                    .get_user(id)
                    .await?
                    .map(|u| u.username.as_str().to_owned()),
                Err(_) => None,
            },
            Some(("group", id)) => match id.parse::<GroupId>() {
                Ok(id) => ctx.stores.groups.get_group(id).await?.map(|g| g.name),
                Err(_) => None,
            },
            Some(("client", id)) => ctx.stores.clients.get_client(id).await?.map(|c| c.name),
            _ => None,
        };
        self.seen.insert(reference.to_owned(), name.clone());
        Ok(name)
    }

    async fn key_nickname(&mut self, ctx: &Ctx<'_>, detail: Option<&str>) -> Result<Option<String>, CoreError> {
        let Some(detail) = detail.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()) else {
            return Ok(None);
        };
        if let Some(n) = detail.get("nickname").and_then(|n| n.as_str()) {
            return Ok(Some(n.to_owned()));
        }
        let Some(id) = detail.get("credentialId").and_then(|c| c.as_str()) else {
            return Ok(None);
        };
        let reference = format!("key:{id}");
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
