//! Sessions and temporary access passes.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::ids::SessionId;
use keyfleet_domain::session::Session;
use keyfleet_domain::store::{SessionStore, StoreResult, TapStore};
use keyfleet_domain::tap::Tap;
use keyfleet_domain::user::User;
use keyfleet_domain::{StoreError, Timestamp, UserId};
use sqlx::SqliteConnection;

use keyfleet_store_sql::nul;

use crate::error::map_err;
use crate::rows::{self, SESSION_COLUMNS, SESSION_COLUMNS_S, TAP_COLUMNS, USER_COLUMNS_U};
use crate::{SqliteStore, audit_and_commit};

/// Inserts a session on `conn`. An unknown user is `NotFound` (foreign key).
pub(crate) async fn insert_session(conn: &mut SqliteConnection, s: &Session) -> StoreResult<()> {
    nul::check_session(s)?;
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, kind, created_at, last_seen_at, expires_at, idle_timeout_ms,
                               client_addr, credential_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(s.id.to_string())
    .bind(&s.token_hash[..])
    .bind(s.user_id.to_string())
    .bind(s.kind.as_str())
    .bind(s.created_at.as_millis())
    .bind(s.last_seen_at.as_millis())
    .bind(s.expires_at.as_millis())
    .bind(s.idle_timeout_ms)
    .bind(&s.client_addr)
    .bind(&s.credential_id)
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Stores a TAP on `conn`, replacing the user's previous one (one row per user). The
/// replaced TAP's id is gone, so a redemption still holding it fails with `tap_used`.
pub(crate) async fn insert_tap(conn: &mut SqliteConnection, tap: &Tap) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO taps (id, user_id, code_hash, one_time, created_at, expires_at, use_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id) DO UPDATE SET
             id = excluded.id, code_hash = excluded.code_hash, one_time = excluded.one_time,
             created_at = excluded.created_at, expires_at = excluded.expires_at, use_count = excluded.use_count",
    )
    .bind(tap.id.to_string())
    .bind(tap.user_id.to_string())
    .bind(&tap.code_hash[..])
    .bind(tap.one_time)
    .bind(tap.created_at.as_millis())
    .bind(tap.expires_at.as_millis())
    .bind(tap.use_count)
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

// Liveness is written `now - last_seen_at < idle_timeout_ms` rather than
// `now < last_seen_at + idle_timeout_ms`: the same rule, but a huge idle timeout cannot
// overflow the sum.

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: &Session, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_session(&mut tx, session).await?;
        audit_and_commit(tx, audit).await
    }

    async fn find_live_session(&self, token_hash: &[u8; 32], now: Timestamp) -> StoreResult<Option<(Session, User)>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS_S}, {USER_COLUMNS_U}
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1
               AND s.revoked_at IS NULL
               AND u.enabled = 1
               AND $2 < s.expires_at
               AND $2 - s.last_seen_at < s.idle_timeout_ms"
        );
        let row = sqlx::query(&sql)
            .bind(&token_hash[..])
            .bind(now.as_millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| Ok((rows::session(&r, "s_")?, rows::user(&r, "u_")?)))
            .transpose()
    }

    async fn touch_session(&self, id: SessionId, now: Timestamp) -> StoreResult<()> {
        // Never moves backwards: two requests finishing out of order keep the later time.
        let touched = sqlx::query("UPDATE sessions SET last_seen_at = MAX(last_seen_at, $2) WHERE id = $1")
            .bind(id.to_string())
            .bind(now.as_millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        if touched.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn revoke_session(&self, id: SessionId, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let revoked = sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.to_string())
            .bind(audit.at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if revoked.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }

    async fn revoke_user_sessions(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        // Every unrevoked session is marked; the count is of those still live at the event's time.
        let live: Vec<i64> = sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = $2
             WHERE user_id = $1 AND revoked_at IS NULL
             RETURNING CASE WHEN $2 < expires_at AND $2 - last_seen_at < idle_timeout_ms THEN 1 ELSE 0 END",
        )
        .bind(user.to_string())
        .bind(audit.at.as_millis())
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        audit_and_commit(tx, audit).await?;
        Ok(live.iter().filter(|&&l| l == 1).count() as u64)
    }

    async fn revoke_credential_sessions(&self, credential_id: &[u8], audit: &NewAuditEvent) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let live: Vec<i64> = sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = $2
             WHERE credential_id = $1 AND revoked_at IS NULL
             RETURNING CASE WHEN $2 < expires_at AND $2 - last_seen_at < idle_timeout_ms THEN 1 ELSE 0 END",
        )
        .bind(credential_id)
        .bind(audit.at.as_millis())
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        audit_and_commit(tx, audit).await?;
        Ok(live.iter().filter(|&&l| l == 1).count() as u64)
    }

    async fn revoke_sessions_of_removed_keys(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<u64> {
        // A primary-key lookup, nearly always empty: ordinary sign-ins take no write lock.
        let pending: Option<i64> = sqlx::query_scalar("SELECT 1 FROM session_ends_pending WHERE user_id = $1 LIMIT 1")
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        if pending.is_none() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let live: Vec<i64> = sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = $2
             WHERE revoked_at IS NULL AND credential_id IN
                 (SELECT credential_id FROM session_ends_pending WHERE user_id = $1)
             RETURNING CASE WHEN $2 < expires_at AND $2 - last_seen_at < idle_timeout_ms THEN 1 ELSE 0 END",
        )
        .bind(user.to_string())
        .bind(audit.at.as_millis())
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query("DELETE FROM session_ends_pending WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        audit_and_commit(tx, audit).await?;
        Ok(live.iter().filter(|&&l| l == 1).count() as u64)
    }

    async fn list_user_sessions(&self, user: UserId, now: Timestamp) -> StoreResult<Vec<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND $2 < expires_at AND $2 - last_seen_at < idle_timeout_ms
             ORDER BY created_at DESC, id DESC"
        );
        let found = sqlx::query(&sql)
            .bind(user.to_string())
            .bind(now.as_millis())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        found.iter().map(|r| rows::session(r, "")).collect()
    }

    async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64> {
        // A session ends at the earliest of its revocation, its absolute expiry and its idle
        // expiry; it is purged when that end lies strictly before `before`.
        let purged = sqlx::query(
            "DELETE FROM sessions
             WHERE (revoked_at IS NOT NULL AND revoked_at < $1)
                OR expires_at < $1
                OR $1 - last_seen_at > idle_timeout_ms",
        )
        .bind(before.as_millis())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(purged.rows_affected())
    }
}

#[async_trait]
impl TapStore for SqliteStore {
    async fn issue_tap(&self, tap: &Tap, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let user: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1")
            .bind(tap.user_id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if user.is_none() {
            return Err(StoreError::NotFound);
        }
        insert_tap(&mut tx, tap).await?;
        audit_and_commit(tx, audit).await
    }

    async fn find_tap(&self, user: UserId) -> StoreResult<Option<Tap>> {
        let row = sqlx::query(&format!("SELECT {TAP_COLUMNS} FROM taps WHERE user_id = $1"))
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| rows::tap(&r)).transpose()
    }

    async fn redeem_tap(&self, tap: &Tap, session: &Session, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let used = sqlx::query(
            "UPDATE taps SET use_count = use_count + 1
             WHERE id = $1 AND expires_at > $2 AND (one_time = 0 OR use_count = 0)",
        )
        .bind(tap.id.to_string())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if used.rows_affected() != 1 {
            tx.rollback().await.map_err(map_err)?;
            return Err(StoreError::Conflict("tap_used"));
        }
        insert_session(&mut tx, session).await?;
        audit_and_commit(tx, audit).await
    }

    async fn delete_tap(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM taps WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }
}
