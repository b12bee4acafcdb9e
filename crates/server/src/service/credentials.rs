//! A user's security keys after registration: rename, remove, report lost, and an
//! administrator's removal and reset. Shared by the JSON routes and the pages, so both
//! validate, audit and end sessions alike.
//!
//! Removal order: the key is deleted first and its sessions are ended afterwards, so no new
//! session can be opened with a lost key between the two steps.

use keyfleet_domain::UserId;
use keyfleet_domain::credential::{Credential, validate_nickname};

use super::Ctx;
use crate::error::ServiceError;
use crate::service::webauthn::b64;

/// How the user's own key is being removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// An ordinary removal: the sessions opened with it end only if `ends_sessions`
    /// (setting `removal_ends_sessions`); otherwise they last until the next sign-in.
    Ordinary {
        /// Whether to end the sessions opened with the key.
        ends_sessions: bool,
    },
    /// The key is lost or stolen: every session opened with it ends at once.
    Lost,
}

/// What a removal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    /// Sessions ended (opened with the key).
    pub sessions_ended: u64,
}

fn detail(id: &[u8]) -> String {
    serde_json::json!({ "credentialId": b64(id) }).to_string()
}

/// One of `user`'s keys, or `NotFound` (also for another user's key: the caller may not know
/// it exists).
pub async fn get_own(ctx: &Ctx<'_>, user: UserId, id: &[u8]) -> Result<Credential, ServiceError> {
    match ctx.stores.credentials.get_credential(id).await? {
        Some(c) if c.user_id == user => Ok(c),
        _ => Err(ServiceError::NotFound),
    }
}

/// Renames one of `user`'s keys (nickname rules: 1–64 characters, no control or bidi
/// characters).
pub async fn rename(ctx: &Ctx<'_>, user: UserId, id: &[u8], nickname: &str) -> Result<Credential, ServiceError> {
    let nickname = validate_nickname(nickname).map_err(|e| ServiceError::invalid("invalid_nickname", e.to_string()))?;
    let audit = ctx
        .audit("credential.rename", Some(format!("user:{user}")))
        .with_detail(detail(id));
    ctx.stores
        .credentials
        .rename_credential(user, id, &nickname, &audit)
        .await?;
    get_own(ctx, user, id).await
}

/// Removes one of `user`'s own keys, as an ordinary removal or a lost-key report.
pub async fn remove_own(ctx: &Ctx<'_>, user: UserId, id: &[u8], how: Removal) -> Result<Removed, ServiceError> {
    let action = match how {
        Removal::Ordinary { .. } => "credential.delete",
        Removal::Lost => "credential.lost",
    };
    let audit = ctx.audit(action, Some(format!("user:{user}"))).with_detail(detail(id));
    ctx.stores.credentials.delete_credential(user, id, &audit).await?;
    let end = matches!(how, Removal::Lost | Removal::Ordinary { ends_sessions: true });
    let sessions_ended = if end {
        let audit = ctx
            .audit("session.revoke_credential", Some(format!("user:{user}")))
            .with_detail(detail(id));
        ctx.stores.sessions.revoke_credential_sessions(id, &audit).await?
    } else {
        0
    };
    Ok(Removed { sessions_ended })
}

/// An administrator's (or helpdesk user's) removal of one of `user`'s keys: always ends the
/// sessions opened with it.
pub async fn remove_for_user(ctx: &Ctx<'_>, user: UserId, id: &[u8]) -> Result<Removed, ServiceError> {
    let audit = ctx
        .audit("credential.delete", Some(format!("user:{user}")))
        .with_detail(detail(id));
    ctx.stores.credentials.delete_credential(user, id, &audit).await?;
    let audit = ctx
        .audit("session.revoke_credential", Some(format!("user:{user}")))
        .with_detail(detail(id));
    let sessions_ended = ctx.stores.sessions.revoke_credential_sessions(id, &audit).await?;
    Ok(Removed { sessions_ended })
}

/// Removes every key of `user` and ends all their sessions; returns how many keys went.
pub async fn reset(ctx: &Ctx<'_>, user: UserId) -> Result<u64, ServiceError> {
    let audit = ctx.audit("credential.reset", Some(format!("user:{user}")));
    let removed = ctx.stores.credentials.delete_user_credentials(user, &audit).await?;
    let audit = ctx.audit("session.revoke_all", Some(format!("user:{user}")));
    ctx.stores.sessions.revoke_user_sessions(user, &audit).await?;
    Ok(removed)
}
