//! WebAuthn credentials.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::credential::Credential;
use keyfleet_domain::store::{CredentialStore, StoreResult};
use keyfleet_domain::{StoreError, Timestamp, UserId};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteQueryResult;

use keyfleet_store_sql::nul;

use crate::error::map_err;
use crate::rows::{self, CREDENTIAL_COLUMNS, encode_list};
use crate::{SqliteStore, audit_and_commit};

/// Inserts a credential on `conn`. A taken id is `Conflict("credential_id")`, an unknown
/// user `NotFound` (foreign key).
pub(crate) async fn insert_credential(conn: &mut SqliteConnection, c: &Credential) -> StoreResult<()> {
    nul::check_credential(c)?;
    sqlx::query(
        "INSERT INTO credentials (id, user_id, public_key, alg, sign_count, aaguid, transports, backup_eligible,
                                  backup_state, uv_initialized, attestation_format, attestation_trust,
                                  attestation_object, nickname, created_at, last_used_at, possibly_cloned)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&c.id)
    .bind(c.user_id.to_string())
    .bind(&c.public_key)
    .bind(c.alg)
    .bind(i64::from(c.sign_count))
    .bind(&c.aaguid[..])
    .bind(encode_list(&c.transports))
    .bind(c.backup_eligible)
    .bind(c.backup_state)
    .bind(c.uv_initialized)
    .bind(&c.attestation_format)
    .bind(&c.attestation_trust)
    .bind(&c.attestation_object)
    .bind(&c.nickname)
    .bind(c.created_at.as_millis())
    .bind(c.last_used_at.map(Timestamp::as_millis))
    .bind(c.possibly_cloned)
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// `NotFound` unless the statement changed exactly the row it named.
fn one_row(done: &SqliteQueryResult) -> StoreResult<()> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[async_trait]
impl CredentialStore for SqliteStore {
    async fn get_credential(&self, id: &[u8]) -> StoreResult<Option<Credential>> {
        let row = sqlx::query(&format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| rows::credential(&r)).transpose()
    }

    async fn list_user_credentials(&self, user: UserId) -> StoreResult<Vec<Credential>> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE user_id = $1 ORDER BY created_at, id");
        let found = sqlx::query(&sql)
            .bind(user.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        found.iter().map(rows::credential).collect()
    }

    async fn rename_credential(
        &self,
        user: UserId,
        id: &[u8],
        nickname: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        nul::check_write(&[nickname])?;
        let mut tx = self.begin().await?;
        let renamed = sqlx::query("UPDATE credentials SET nickname = $3 WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.to_string())
            .bind(nickname)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        one_row(&renamed)?;
        audit_and_commit(tx, audit).await
    }

    async fn delete_credential(&self, user: UserId, id: &[u8], audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM credentials WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        one_row(&deleted)?;
        // Sessions opened with the key end at the user's next sign-in, unless ended before.
        sqlx::query(
            "INSERT INTO session_ends_pending (user_id, credential_id)
             SELECT $2, $1 WHERE EXISTS (SELECT 1 FROM sessions WHERE credential_id = $1 AND revoked_at IS NULL)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(user.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        audit_and_commit(tx, audit).await
    }

    async fn delete_user_credentials(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM credentials WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        audit_and_commit(tx, audit).await?;
        Ok(deleted.rows_affected())
    }

    async fn count_credentials(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        u64::try_from(n).map_err(|e| StoreError::Corrupt(format!("count: {e}")))
    }
}
