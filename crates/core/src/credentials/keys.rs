//! A user's security keys after registration: rename, remove, report lost, and an
//! administrator's removal and reset. Shared by the JSON routes and the pages, so both
//! validate, audit and end sessions alike.
//!
//! Removal order: the key is deleted first and its sessions are ended afterwards, so no new
//! session can be opened with a lost key between the two steps.

use keyfleet_domain::audit::{Action, AuditQuery, Outcome, Target};
use keyfleet_domain::credential::{Credential, validate_nickname};
use keyfleet_domain::{Timestamp, UserId};
use serde::Serialize;

use crate::access::{Permission, Principal, authorize, require_full_session};
use crate::audit::{Detail, KeyRef};
use crate::identity::users::get_for_change;
use crate::{CoreError, Ctx};

/// How the user's own key is being removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// An ordinary removal: the sessions opened with it end only if the configuration says
    /// so (`removal_ends_sessions`); otherwise they last until the next sign-in.
    Ordinary,
    /// The key is lost or stolen: every session opened with it ends at once.
    Lost,
}

/// What a removal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    /// Sessions ended (opened with the key).
    pub sessions_ended: u64,
}

/// The signed-in person behind `principal`, with a full session (a TAP session may only
/// register a key).
async fn own(ctx: &Ctx<'_>, principal: &Principal) -> Result<UserId, CoreError> {
    require_full_session(ctx, principal).await?;
    match principal {
        Principal::Person { user, .. } => Ok(*user),
        _ => Err(CoreError::forbidden("session_required", "this is for signed-in people")),
    }
}

/// The caller's own keys, oldest first (not for a TAP session).
pub async fn list_own(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<Credential>, CoreError> {
    let user = own(ctx, principal).await?;
    Ok(ctx.stores.credentials.list_user_credentials(user).await?)
}

/// How many keys the caller registered during their current session (a TAP session learns
/// only this, to be offered "sign in with my key" once there is one: before, that button
/// would spend a one-time pass and leave them locked out).
pub async fn added_in_this_session(ctx: &Ctx<'_>, principal: &Principal) -> Result<usize, CoreError> {
    let Principal::Person { user, session, .. } = principal else {
        return Ok(0);
    };
    let Some(started) = ctx
        .stores
        .sessions
        .list_user_sessions(*user, ctx.now)
        .await?
        .into_iter()
        .find(|s| s.id == *session)
        .map(|s| s.created_at)
    else {
        return Ok(0);
    };
    let keys = ctx.stores.credentials.list_user_credentials(*user).await?;
    Ok(keys.iter().filter(|k| k.created_at >= started).count())
}

/// A user's keys, for staff and clients (`ReadUsers`).
pub async fn list_for_user(ctx: &Ctx<'_>, principal: &Principal, user: UserId) -> Result<Vec<Credential>, CoreError> {
    authorize(ctx, principal, Permission::ReadUsers).await?;
    ctx.stores.users.get_user(user).await?.ok_or(CoreError::NotFound)?;
    Ok(ctx.stores.credentials.list_user_credentials(user).await?)
}

/// A key with its standing under its owner's policy.
#[derive(Debug, Clone)]
pub struct HeldKey {
    /// The key.
    pub credential: Credential,
    /// Why the owner's policy no longer allows it (`None`: allowed); such a key cannot sign in.
    pub not_allowed: Option<keyfleet_domain::policy::Refusal>,
    /// Set when its holder is asked to hand it back (they left the group a rule gave it for).
    pub collection: Option<keyfleet_domain::shipment::CollectionFlag>,
}

async fn with_standing(ctx: &Ctx<'_>, user: UserId, keys: Vec<Credential>) -> Result<Vec<HeldKey>, CoreError> {
    let standing = crate::policies::key_standing(ctx, user, &keys).await?;
    let flags = ctx.stores.shipments.user_collections(user).await?;
    Ok(keys
        .into_iter()
        .zip(standing)
        .map(|(credential, not_allowed)| HeldKey {
            collection: flags.iter().find(|f| f.credential_id == credential.id).cloned(),
            credential,
            not_allowed,
        })
        .collect())
}

/// The caller's own keys with their standing under the caller's policy (see [`list_own`]).
pub async fn list_own_with_standing(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<HeldKey>, CoreError> {
    let user = own(ctx, principal).await?;
    let keys = ctx.stores.credentials.list_user_credentials(user).await?;
    with_standing(ctx, user, keys).await
}

/// A user's keys with their standing under the user's policy (see [`list_for_user`]).
pub async fn list_for_user_with_standing(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: UserId,
) -> Result<Vec<HeldKey>, CoreError> {
    let keys = list_for_user(ctx, principal, user).await?;
    with_standing(ctx, user, keys).await
}

/// One of `user`'s keys, or `NotFound` (also for another user's key: the caller may not know
/// it exists).
pub async fn get_own(ctx: &Ctx<'_>, user: UserId, id: &[u8]) -> Result<Credential, CoreError> {
    match ctx.stores.credentials.get_credential(id).await? {
        Some(c) if c.user_id == user => Ok(c),
        _ => Err(CoreError::NotFound),
    }
}

/// Renames one of the caller's keys (nickname rules: 1–64 characters, no control or bidi
/// characters).
pub async fn rename(ctx: &Ctx<'_>, principal: &Principal, id: &[u8], nickname: &str) -> Result<Credential, CoreError> {
    let user = own(ctx, principal).await?;
    let nickname = validate_nickname(nickname).map_err(|e| CoreError::invalid("invalid_nickname", e.to_string()))?;
    let audit = ctx.audit_with(
        Action::CredentialRename,
        Some(Target::User(user)),
        &KeyRef::new(id, Some(&nickname)),
    );
    ctx.stores
        .credentials
        .rename_credential(user, id, &nickname, &audit)
        .await?;
    get_own(ctx, user, id).await
}

/// Removes one of the caller's own keys, as an ordinary removal or a lost-key report. Their
/// last key goes only with `last_key_confirmed` (they will need a TAP to sign in again):
/// `Conflict("last_key_unconfirmed")` otherwise, and nothing changes.
pub async fn remove_own(
    ctx: &Ctx<'_>,
    principal: &Principal,
    id: &[u8],
    how: Removal,
    last_key_confirmed: bool,
) -> Result<Removed, CoreError> {
    let user = own(ctx, principal).await?;
    // One read answers both: is it theirs, and is it their last.
    let keys = ctx.stores.credentials.list_user_credentials(user).await?;
    let key = keys.iter().find(|k| k.id == id).ok_or(CoreError::NotFound)?;
    if !last_key_confirmed && keys.len() <= 1 {
        return Err(CoreError::conflict(
            "last_key_unconfirmed",
            "this is your only key: confirm that you will need a temporary access pass to sign in again",
        ));
    }
    let action = match how {
        Removal::Ordinary => Action::CredentialDelete,
        Removal::Lost => Action::CredentialLost,
    };
    let audit = ctx.audit_with(action, Some(Target::User(user)), &KeyRef::new(id, Some(&key.nickname)));
    ctx.stores.credentials.delete_credential(user, id, &audit).await?;
    let end = how == Removal::Lost || ctx.config.sessions.removal_ends_sessions;
    let sessions_ended = if end {
        let audit = ctx.audit_with(
            Action::SessionRevokeCredential,
            Some(Target::User(user)),
            &KeyRef::new(id, Some(&key.nickname)),
        );
        let ended = ctx.stores.sessions.revoke_credential_sessions(id, &audit).await?;
        crate::oidc::end_credential_grants(ctx, user, id, "key_removed").await?;
        ended
    } else {
        0
    };
    Ok(Removed { sessions_ended })
}

/// An administrator's (or helpdesk user's) removal of one of `user`'s keys: always ends the
/// sessions opened with it.
pub async fn remove_for_user(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: UserId,
    id: &[u8],
) -> Result<Removed, CoreError> {
    let user = get_for_change(ctx, principal, user).await?.id;
    remove_user_key(ctx, user, id).await
}

/// Removes one of `user`'s keys for a caller already authorized to, and ends the sessions
/// opened with it (the administrator's removal and the on-behalf API's `DELETE`).
pub(crate) async fn remove_user_key(ctx: &Ctx<'_>, user: UserId, id: &[u8]) -> Result<Removed, CoreError> {
    let key = get_own(ctx, user, id).await?;
    retire(ctx, user, &key, Action::CredentialDelete, "key_removed").await
}

/// Removes `user`'s key `key` (audited as `action`), then ends the sessions opened with it and
/// the single sign-on grants those sessions opened (`reason` in their audit).
async fn retire(
    ctx: &Ctx<'_>,
    user: UserId,
    key: &Credential,
    action: Action,
    reason: &'static str,
) -> Result<Removed, CoreError> {
    let detail = KeyRef::new(&key.id, Some(&key.nickname));
    let audit = ctx.audit_with(action, Some(Target::User(user)), &detail);
    ctx.stores.credentials.delete_credential(user, &key.id, &audit).await?;
    let audit = ctx.audit_with(Action::SessionRevokeCredential, Some(Target::User(user)), &detail);
    let sessions_ended = ctx.stores.sessions.revoke_credential_sessions(&key.id, &audit).await?;
    crate::oidc::end_credential_grants(ctx, user, &key.id, reason).await?;
    Ok(Removed { sessions_ended })
}

/// A key flagged for collection was handed back: it is removed (its flag with it) and the
/// sessions opened with it end, audited `credential.returned`. Who may: whoever may remove
/// the user's keys. A key not flagged is refused (`not_flagged_for_collection`; remove it
/// the ordinary way) and nothing changes.
pub async fn mark_returned(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: UserId,
    id: &[u8],
) -> Result<Removed, CoreError> {
    let user = get_for_change(ctx, principal, user).await?.id;
    let key = get_own(ctx, user, id).await?;
    let flags = ctx.stores.shipments.user_collections(user).await?;
    if !flags.iter().any(|f| f.credential_id == id) {
        return Err(CoreError::conflict(
            "not_flagged_for_collection",
            "this key is not flagged for collection; remove it instead",
        ));
    }
    retire(ctx, user, &key, Action::CredentialReturned, "key_returned").await
}

/// The AAGUID of keyfleet's wearable band (the `band` model of `keyfleet key`,
/// `9b7493dd-e22e-4369-bbdf-25177d6eb596`, as in the core's `data/aaguids.tsv`).
pub const BAND_AAGUID: [u8; 16] = [
    0x9b, 0x74, 0x93, 0xdd, 0xe2, 0x2e, 0x43, 0x69, 0xbb, 0xdf, 0x25, 0x17, 0x7d, 0x6e, 0xb5, 0x96,
];

/// Whether `key` was registered with a wearable band (by its attested model).
pub fn is_band(key: &Credential) -> bool {
    key.aaguid == BAND_AAGUID
}

/// A band taken from `user` to be given to another worker (seed 000): removes `user`'s
/// credential `id` made with the band and ends the sessions opened with it, audited as
/// `credential.reassign`. Who may: whoever may remove the user's keys (`get_for_change`: staff
/// with `WriteUsers`, within the rules on roles). A key that is not a band is refused
/// (`Conflict("not_a_band")`) and nothing changes. The band itself is wiped with `keyfleet key
/// reassign` (delete user data) before its next wearer enrols.
pub async fn reassign_band(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: UserId,
    id: &[u8],
) -> Result<Removed, CoreError> {
    let user = get_for_change(ctx, principal, user).await?.id;
    let key = get_own(ctx, user, id).await?;
    if !is_band(&key) {
        return Err(CoreError::conflict(
            "not_a_band",
            "this key is not a wearable band: remove it instead",
        ));
    }
    retire(ctx, user, &key, Action::CredentialReassign, "key_removed").await
}

/// Removes every key of `user` and ends all their sessions (`WriteUsers` and the rules on
/// roles); returns how many keys went.
pub async fn reset(ctx: &Ctx<'_>, principal: &Principal, user: UserId) -> Result<u64, CoreError> {
    let user = get_for_change(ctx, principal, user).await?.id;
    // The keys by name in the audit detail, so the record of retired keys can say which went.
    let before = ctx.stores.credentials.list_user_credentials(user).await?;
    let detail = KeysReset {
        keys: before.iter().map(|k| KeyRef::new(&k.id, Some(&k.nickname))).collect(),
    };
    let audit = ctx.audit_with(Action::CredentialReset, Some(Target::User(user)), &detail);
    let removed = ctx.stores.credentials.delete_user_credentials(user, &audit).await?;
    let audit = ctx.audit(Action::SessionRevokeAll, Some(Target::User(user)));
    ctx.stores.sessions.revoke_user_sessions(user, &audit).await?;
    crate::oidc::end_user_grants(ctx, user, "keys_reset").await?;
    Ok(removed)
}

/// The audit detail of a reset: every key it removed.
#[derive(Debug, Serialize)]
struct KeysReset<'a> {
    keys: Vec<KeyRef<'a>>,
}
impl Detail for KeysReset<'_> {}

/// How a key stopped being registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retirement {
    /// Removed (by its owner or by staff).
    Removed,
    /// Reported lost or stolen by its owner.
    Lost,
    /// Removed with every other key of the user by a reset.
    Reset,
    /// A band taken from the user to be given to another wearer.
    Reassigned,
}

/// Who retired a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetiredBy {
    /// The key's owner.
    Owner,
    /// Another person (their display name, when they still exist).
    Person(Option<String>),
    /// An API client (its name, when it still exists).
    Client(Option<String>),
    /// keyfleet itself or its command line (the audit actor as written).
    Operator(String),
}

/// A key that is no longer registered, from the audit log: when, how, by whom.
#[derive(Debug, Clone)]
pub struct RetiredKey {
    /// When.
    pub at: Timestamp,
    /// How (which is also why: an ordinary removal, a loss, a reset).
    pub how: Retirement,
    /// The key's nickname then, when recorded.
    pub nickname: Option<String>,
    /// The credential id (base64url), when recorded.
    pub credential_id: Option<String>,
    /// Who did it.
    pub by: RetiredBy,
}

/// The loss to tell people about: the newest retirement, when it was a loss and no key of
/// `keys` (the user's current keys) was registered after it.
pub fn unreplaced_loss<'a>(retired: &'a [RetiredKey], keys: &[Credential]) -> Option<&'a RetiredKey> {
    let newest_key = keys.iter().map(|k| k.created_at).max();
    retired
        .first()
        .filter(|r| r.how == Retirement::Lost && newest_key.is_none_or(|k| k < r.at))
}

/// How many retirements are read back (the newest).
const RETIRED_SHOWN: u32 = 50;

/// The caller's own retired keys, newest first (any session, a TAP session too: someone who
/// reported their only key lost signs in with a pass and should be told so).
pub async fn retired_own(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<RetiredKey>, CoreError> {
    match principal {
        Principal::Person { user, .. } => retired(ctx, *user).await,
        _ => Err(CoreError::forbidden("session_required", "this is for signed-in people")),
    }
}

/// A user's retired keys, newest first, for staff (`ReadUsers`).
pub async fn retired_for_user(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: UserId,
) -> Result<Vec<RetiredKey>, CoreError> {
    authorize(ctx, principal, Permission::ReadUsers).await?;
    retired(ctx, user).await
}

async fn retired(ctx: &Ctx<'_>, user: UserId) -> Result<Vec<RetiredKey>, CoreError> {
    let query = AuditQuery {
        target: Some(Target::User(user).to_string()),
        action: Some("credential.".to_owned()),
        limit: 200,
        ..AuditQuery::default()
    };
    let events = ctx.stores.audit.list(&query).await?;
    let mut out = Vec::new();
    let mut names: std::collections::HashMap<String, RetiredBy> = std::collections::HashMap::new();
    for ev in events.iter().filter(|e| e.outcome == Outcome::Success) {
        let how = match Action::parse(&ev.action) {
            Some(Action::CredentialDelete) => Retirement::Removed,
            Some(Action::CredentialLost) => Retirement::Lost,
            Some(Action::CredentialReset) => Retirement::Reset,
            Some(Action::CredentialReassign) => Retirement::Reassigned,
            _ => continue,
        };
        let by = match names.get(&ev.actor) {
            Some(b) => b.clone(),
            None => {
                let b = retired_by(ctx, user, &ev.actor).await?;
                names.insert(ev.actor.clone(), b.clone());
                b
            }
        };
        let detail: serde_json::Value = ev
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let key_of = |v: &serde_json::Value| {
            (
                v.get("nickname").and_then(|n| n.as_str()).map(str::to_owned),
                v.get("credentialId").and_then(|n| n.as_str()).map(str::to_owned),
            )
        };
        let keys: Vec<_> = match detail.get("keys").and_then(|k| k.as_array()) {
            Some(list) => list.iter().map(key_of).collect(),
            None => vec![key_of(&detail)],
        };
        for (nickname, credential_id) in keys {
            out.push(RetiredKey {
                at: ev.at,
                how,
                nickname,
                credential_id,
                by: by.clone(),
            });
        }
        if out.len() >= RETIRED_SHOWN as usize {
            break;
        }
    }
    out.truncate(RETIRED_SHOWN as usize);
    Ok(out)
}

async fn retired_by(ctx: &Ctx<'_>, owner: UserId, actor: &str) -> Result<RetiredBy, CoreError> {
    Ok(match actor.split_once(':') {
        Some(("user", id)) => match id.parse::<UserId>() {
            Ok(id) if id == owner => RetiredBy::Owner,
            Ok(id) => RetiredBy::Person(ctx.stores.users.get_user(id).await?.map(|u| u.display_name)),
            Err(_) => RetiredBy::Operator(actor.to_owned()),
        },
        Some(("client", id)) => RetiredBy::Client(ctx.stores.clients.get_client(id).await?.map(|c| c.name)),
        _ => RetiredBy::Operator(actor.to_owned()),
    })
}
