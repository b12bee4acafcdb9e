//! API clients, their secrets, and token-signing keys.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::client::{ApiClient, ClientSecret};
use keyfleet_domain::ids::SecretId;
use keyfleet_domain::signing_key::StoredSigningKey;
use keyfleet_domain::store::{ClientStore, SigningKeyStore, StoreResult};
use keyfleet_domain::{StoreError, Timestamp};
use sqlx::SqliteConnection;

use keyfleet_store_sql::nul;

use crate::error::map_err;
use crate::rows::{self, CLIENT_COLUMNS, KEY_COLUMNS, SECRET_COLUMNS};
use crate::{SqliteStore, audit_and_commit};

async fn insert_secret(conn: &mut SqliteConnection, secret: &ClientSecret) -> StoreResult<()> {
    nul::check_secret(secret)?;
    sqlx::query(
        "INSERT INTO client_secrets (id, client_id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(secret.id.to_string())
    .bind(&secret.client_id)
    .bind(&secret.secret_hash)
    .bind(secret.created_at.as_millis())
    .bind(secret.expires_at.map(Timestamp::as_millis))
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn create_client(&self, client: &ApiClient, secret: &ClientSecret, audit: &NewAuditEvent) -> StoreResult<()> {
        nul::check_client(client)?;
        nul::check_write(&[&secret.client_id])?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO api_clients (client_id, name, scopes, enabled, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&client.client_id)
        .bind(&client.name)
        .bind(rows::scopes_text(&client.scopes))
        .bind(client.enabled)
        .bind(client.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_secret(&mut tx, secret).await?;
        audit_and_commit(tx, audit).await
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<ApiClient>> {
        if nul::matches_nothing(&[client_id]) {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(|r| rows::client(&r)).transpose()
    }

    async fn list_clients(&self) -> StoreResult<Vec<ApiClient>> {
        let found = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients ORDER BY name, client_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        found.iter().map(rows::client).collect()
    }

    async fn set_client_enabled(&self, client_id: &str, enabled: bool, audit: &NewAuditEvent) -> StoreResult<()> {
        if nul::matches_nothing(&[client_id]) {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE api_clients SET enabled = $2 WHERE client_id = $1")
            .bind(client_id)
            .bind(enabled)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }

    async fn delete_client(&self, client_id: &str, audit: &NewAuditEvent) -> StoreResult<()> {
        if nul::matches_nothing(&[client_id]) {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM api_clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }

    async fn list_secrets(&self, client_id: &str) -> StoreResult<Vec<ClientSecret>> {
        if nul::matches_nothing(&[client_id]) {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {SECRET_COLUMNS} FROM client_secrets WHERE client_id = $1 ORDER BY created_at, id");
        let found = sqlx::query(&sql)
            .bind(client_id)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        found.iter().map(rows::secret).collect()
    }

    async fn add_secret(&self, secret: &ClientSecret, max: usize, audit: &NewAuditEvent) -> StoreResult<()> {
        nul::check_secret(secret)?;
        if nul::matches_nothing(&[&secret.client_id]) {
            return Err(StoreError::NotFound);
        }
        // BEGIN IMMEDIATE holds the write lock, so no other writer can add a secret between
        // the count and the insert.
        let mut tx = self.begin().await?;
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM client_secrets s WHERE s.client_id = c.client_id)
             FROM api_clients c WHERE c.client_id = $1",
        )
        .bind(&secret.client_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let held = held.ok_or(StoreError::NotFound)?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= max {
            return Err(StoreError::Conflict("secret_limit"));
        }
        insert_secret(&mut tx, secret).await?;
        audit_and_commit(tx, audit).await
    }

    async fn set_secret_expiry(
        &self,
        client_id: &str,
        id: SecretId,
        expires_at: Option<Timestamp>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        if nul::matches_nothing(&[client_id]) {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE client_secrets SET expires_at = $3 WHERE client_id = $1 AND id = $2")
            .bind(client_id)
            .bind(id.to_string())
            .bind(expires_at.map(Timestamp::as_millis))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }

    async fn upgrade_secret_hash(
        &self,
        client_id: &str,
        id: SecretId,
        old_hash: &str,
        new_hash: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        nul::check_write(&[new_hash])?;
        if nul::matches_nothing(&[client_id, old_hash]) {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE client_secrets SET secret_hash = $4 WHERE client_id = $1 AND id = $2 AND secret_hash = $3",
        )
        .bind(client_id)
        .bind(id.to_string())
        .bind(old_hash)
        .bind(new_hash)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }

    async fn delete_secret(&self, client_id: &str, id: SecretId, audit: &NewAuditEvent) -> StoreResult<()> {
        if nul::matches_nothing(&[client_id]) {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM client_secrets WHERE client_id = $1 AND id = $2")
            .bind(client_id)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit(tx, audit).await
    }
}

#[async_trait]
impl SigningKeyStore for SqliteStore {
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()> {
        nul::check_signing_key(key)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, encrypted_private_key, public_key, created_at, active)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.encrypted_private_key)
        .bind(&key.public_key)
        .bind(key.created_at.as_millis())
        .bind(key.active)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY active DESC, created_at DESC, kid DESC");
        let found = sqlx::query(&sql).fetch_all(&self.pool).await.map_err(map_err)?;
        found.iter().map(rows::signing_key).collect()
    }
}
