//! WebAuthn ceremonies and the transactions that finish them.
//!
//! Both finishing transactions start by deleting the ceremony. The deletion locks the row:
//! of two requests finishing one ceremony the second waits for the first and, when it
//! commits, finds the row gone (`ceremony_used`). The counter's compare-and-swap is an
//! `UPDATE … WHERE sign_count = old`, re-checked by READ COMMITTED after a concurrent
//! writer commits. Any error drops the transaction, which rolls the deletion back.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind, FinishAssertion};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::store::{CeremonyStore, StoreResult};
use keyfleet_domain::{StoreError, Timestamp, UserId};
use sqlx::PgConnection;

use keyfleet_store_sql::nul;

use crate::credentials::insert_credential;
use crate::error::map_err;
use crate::rows::{self, CEREMONY_COLUMNS};
use crate::sessions::insert_session;
use crate::{PgStore, audit_and_commit};

/// Deletes the ceremony `id` of `kind` started for `user` (an authentication may also have
/// been started for nobody: username-less) on `conn`. `Conflict("ceremony_used")` when there
/// is no such ceremony.
async fn take_ceremony(conn: &mut PgConnection, id: CeremonyId, kind: CeremonyKind, user: UserId) -> StoreResult<()> {
    let deleted = sqlx::query(
        "DELETE FROM ceremonies
         WHERE id = $1 AND kind = $2 AND (user_id = $3 OR (user_id IS NULL AND kind = 'authentication'))",
    )
    .bind(id.to_string())
    .bind(kind.as_str())
    .bind(user.to_string())
    .execute(conn)
    .await
    .map_err(map_err)?;
    if deleted.rows_affected() == 0 {
        return Err(StoreError::Conflict("ceremony_used"));
    }
    Ok(())
}

/// Compares and swaps the counter of the session user's credential on `conn`, recording the
/// assertion's flags and time. `Conflict("sign_count")` when the counter moved,
/// `NotFound` when the user holds no such credential.
async fn swap_counter(conn: &mut PgConnection, f: &FinishAssertion<'_>) -> StoreResult<()> {
    let user = f.session.user_id.to_string();
    let swapped = sqlx::query(
        "UPDATE credentials
         SET sign_count = $4, backup_state = $5, uv_initialized = (uv_initialized OR $6), last_used_at = $7
         WHERE id = $1 AND user_id = $2 AND sign_count = $3",
    )
    .bind(f.credential_id)
    .bind(&user)
    .bind(i64::from(f.old_sign_count))
    .bind(i64::from(f.new_sign_count))
    .bind(f.backup_state)
    .bind(f.uv_initialized)
    .bind(f.now.as_millis())
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    if swapped.rows_affected() == 1 {
        return Ok(());
    }
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM credentials WHERE id = $1 AND user_id = $2")
        .bind(f.credential_id)
        .bind(&user)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
    Err(exists.map_or(StoreError::NotFound, |_| StoreError::Conflict("sign_count")))
}

#[async_trait]
impl CeremonyStore for PgStore {
    async fn create_ceremony(&self, c: &Ceremony) -> StoreResult<()> {
        nul::check_ceremony(c)?;
        sqlx::query(
            "INSERT INTO ceremonies (id, kind, challenge, user_id, session_id, rp_id, user_verification,
                                     allow_credentials, params, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(c.id.to_string())
        .bind(c.kind.as_str())
        .bind(&c.challenge)
        .bind(c.user_id.map(|u| u.to_string()))
        .bind(c.session_id.map(|s| s.to_string()))
        .bind(&c.rp_id)
        .bind(&c.user_verification)
        .bind(&c.allow_credentials)
        .bind(&c.params)
        .bind(c.created_at.as_millis())
        .bind(c.expires_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_ceremony(&self, id: CeremonyId) -> StoreResult<Option<Ceremony>> {
        let row = sqlx::query(&format!("SELECT {CEREMONY_COLUMNS} FROM ceremonies WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| rows::ceremony(&r)).transpose()
    }

    async fn consume_ceremony(&self, id: CeremonyId) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM ceremonies WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn finish_registration(
        &self,
        ceremony_id: CeremonyId,
        credential: &Credential,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        take_ceremony(&mut tx, ceremony_id, CeremonyKind::Registration, credential.user_id).await?;
        insert_credential(&mut tx, credential).await?;
        audit_and_commit(tx, audit).await
    }

    async fn finish_authentication(&self, finish: &FinishAssertion<'_>, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        take_ceremony(
            &mut tx,
            finish.ceremony_id,
            CeremonyKind::Authentication,
            finish.session.user_id,
        )
        .await?;
        swap_counter(&mut tx, finish).await?;
        insert_session(&mut tx, finish.session).await?;
        audit_and_commit(tx, audit).await
    }

    async fn flag_possible_clone(
        &self,
        ceremony_id: CeremonyId,
        credential_id: &[u8],
        seen_sign_count: u32,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let taken = sqlx::query("DELETE FROM ceremonies WHERE id = $1 AND kind = 'authentication'")
            .bind(ceremony_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if taken.rows_affected() == 0 {
            return Err(StoreError::Conflict("ceremony_used"));
        }
        let flagged = sqlx::query("UPDATE credentials SET possibly_cloned = TRUE WHERE id = $1 AND sign_count = $2")
            .bind(credential_id)
            .bind(i64::from(seen_sign_count))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if flagged.rows_affected() == 0 {
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM credentials WHERE id = $1")
                .bind(credential_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            // The ceremony stays consumed; the key is not flagged.
            tx.commit().await.map_err(map_err)?;
            return Err(exists.map_or(StoreError::NotFound, |_| StoreError::Conflict("sign_count")));
        }
        audit_and_commit(tx, audit).await
    }

    async fn purge_ceremonies(&self, before: Timestamp) -> StoreResult<u64> {
        let purged = sqlx::query("DELETE FROM ceremonies WHERE expires_at < $1")
            .bind(before.as_millis())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(purged.rows_affected())
    }
}
