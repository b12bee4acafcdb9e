//! Sessions and temporary access passes.
//!
//! Liveness is written `now - last_seen_at < idle_timeout_ms` rather than
//! `now < last_seen_at + idle_timeout_ms` in every backend's SQL: the same rule, but a huge
//! idle timeout cannot overflow the sum.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::ids::SessionId;
use keyfleet_domain::session::Session;
use keyfleet_domain::store::{SessionStore, StoreResult, TapStore};
use keyfleet_domain::tap::Tap;
use keyfleet_domain::user::User;
use keyfleet_domain::{StoreError, Timestamp, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, Connection, bytes, int, key, ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit, insert_audit, one_row};

/// Inserts a session on `conn`. An unknown user is `NotFound` (foreign key).
pub(crate) async fn insert_session<B: Backend>(conn: &mut Connection<B>, s: &Session) -> StoreResult<()> {
    let (id, user) = (s.id.to_string(), s.user_id.to_string());
    let args = [
        text(&id),
        bytes(&s.token_hash),
        text(&user),
        text(s.kind.as_str()),
        ms(s.created_at),
        ms(s.last_seen_at),
        ms(s.expires_at),
        int(s.idle_timeout_ms),
        Arg::Text(s.client_addr.as_deref()),
        Arg::Bytes(s.credential_id.as_deref()),
        Arg::Bool(s.user_verified),
    ];
    exec::execute::<B>(conn, B::SQL.insert_session, &args).await?;
    Ok(())
}

/// Stores a TAP on `conn`, replacing the user's previous one (one row per user). The
/// replaced TAP's id is gone, so a redemption still holding it fails with `tap_used`.
pub(crate) async fn upsert_tap<B: Backend>(conn: &mut Connection<B>, tap: &Tap) -> StoreResult<()> {
    let (id, user) = (tap.id.to_string(), tap.user_id.to_string());
    let args = [
        text(&id),
        text(&user),
        bytes(&tap.code_hash),
        Arg::Bool(tap.one_time),
        ms(tap.created_at),
        ms(tap.expires_at),
        int(tap.use_count),
    ];
    exec::execute::<B>(conn, B::SQL.upsert_tap, &args).await?;
    Ok(())
}

impl<B: Backend> SqlStore<B> {
    /// Revokes the sessions `sql` selects with `args` (its last parameter is the event's
    /// time) and appends `audit`, in one transaction; how many of them were live.
    async fn revoke_counting(&self, sql: &str, args: &[Arg<'_>], audit: &NewAuditEvent) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let live = exec::all_ints::<B>(&mut tx, sql, args).await?;
        audit_and_commit::<B>(tx, audit).await?;
        Ok(live.iter().filter(|&&l| l == 1).count() as u64)
    }
}

#[async_trait]
impl<B: Backend> SessionStore for SqlStore<B> {
    async fn create_session(&self, session: &Session, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_session::<B>(&mut tx, session).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn find_live_session(&self, token_hash: &[u8; 32], now: Timestamp) -> StoreResult<Option<(Session, User)>> {
        let args = [bytes(token_hash), ms(now)];
        let row = exec::optional::<B>(&mut *self.conn().await?, B::SQL.find_live_session, &args).await?;
        row.map(|r| Ok((rows::session::<B>(&r, "s_")?, rows::user::<B>(&r, "u_")?)))
            .transpose()
    }

    async fn touch_session(&self, id: SessionId, now: Timestamp) -> StoreResult<()> {
        one_row(
            self.execute(B::SQL.touch_session, &[key(&id.to_string()), ms(now)])
                .await?,
        )
    }

    async fn revoke_session(&self, id: SessionId, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = id.to_string();
        let args = [key(&id), ms(audit.at)];
        self.change_one(B::SQL.revoke_session, &args, audit).await
    }

    async fn revoke_user_sessions(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<u64> {
        // Every unrevoked session is marked; the count is of those still live at the event's time.
        let user = user.to_string();
        let args = [key(&user), ms(audit.at)];
        self.revoke_counting(B::SQL.revoke_user_sessions, &args, audit).await
    }

    async fn revoke_credential_sessions(&self, credential_id: &[u8], audit: &NewAuditEvent) -> StoreResult<u64> {
        let args = [bytes(credential_id), ms(audit.at)];
        self.revoke_counting(B::SQL.revoke_credential_sessions, &args, audit)
            .await
    }

    async fn list_user_sessions(&self, user: UserId, now: Timestamp) -> StoreResult<Vec<Session>> {
        let user = user.to_string();
        let args = [key(&user), ms(now)];
        let found = exec::all::<B>(&mut *self.conn().await?, B::SQL.list_user_sessions, &args).await?;
        found.iter().map(|r| rows::session::<B>(r, "")).collect()
    }

    async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64> {
        // A session ends at the earliest of its revocation, its absolute expiry and its idle
        // expiry; it is purged when that end lies strictly before `before`.
        self.execute(B::SQL.purge_sessions, &[ms(before)]).await
    }
}

#[async_trait]
impl<B: Backend> TapStore for SqlStore<B> {
    async fn issue_tap(&self, tap: &Tap, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if !exec::exists::<B>(&mut tx, B::SQL.user_exists, &[key(&tap.user_id.to_string())]).await? {
            return Err(StoreError::NotFound);
        }
        upsert_tap::<B>(&mut tx, tap).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn find_tap(&self, user: UserId) -> StoreResult<Option<Tap>> {
        let row = exec::optional::<B>(&mut *self.conn().await?, B::SQL.tap_of_user, &[key(&user.to_string())]).await?;
        row.map(|r| rows::tap::<B>(&r)).transpose()
    }

    async fn redeem_tap(&self, tap: &Tap, session: &Session, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let used = exec::execute::<B>(&mut tx, B::SQL.use_tap, &[key(&tap.id.to_string()), ms(now)]).await?;
        if used != 1 {
            return Err(StoreError::Conflict("tap_used"));
        }
        insert_session::<B>(&mut tx, session).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn delete_tap(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<()> {
        self.change_one(B::SQL.delete_tap, &[key(&user.to_string())], audit)
            .await
    }
}

/// Ends, on `conn`, the sessions of `user` opened with keys removed since (they last until the
/// user's next sign-in, which is now), with `audit`; how many were still live. A primary-key
/// lookup first, nearly always empty: an ordinary sign-in writes nothing for it.
pub(crate) async fn end_sessions_of_removed_keys<B: Backend>(
    conn: &mut Connection<B>,
    user: UserId,
    audit: &NewAuditEvent,
) -> StoreResult<u64> {
    let user = user.to_string();
    if !exec::exists::<B>(conn, B::SQL.removed_keys_pending, &[key(&user)]).await? {
        return Ok(0);
    }
    let live = exec::all_ints::<B>(conn, B::SQL.revoke_removed_key_sessions, &[key(&user), ms(audit.at)]).await?;
    exec::execute::<B>(conn, B::SQL.clear_removed_keys, &[key(&user)]).await?;
    insert_audit::<B>(conn, audit).await?;
    Ok(live.iter().filter(|&&l| l == 1).count() as u64)
}
