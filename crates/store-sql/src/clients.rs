//! API clients, their secrets, and token-signing keys.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::client::{ApiClient, ClientSecret};
use keyfleet_domain::ids::SecretId;
use keyfleet_domain::signing_key::StoredSigningKey;
use keyfleet_domain::store::{ClientStore, SigningKeyStore, StoreResult};
use keyfleet_domain::{StoreError, Timestamp};

use crate::backend::Backend;
use crate::exec::{self, Arg, Connection, bytes, key, ms, opt_ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit, insert_audit};

async fn insert_secret<B: Backend>(conn: &mut Connection<B>, secret: &ClientSecret) -> StoreResult<()> {
    let id = secret.id.to_string();
    let args = [
        text(&id),
        text(&secret.client_id),
        text(&secret.secret_hash),
        ms(secret.created_at),
        opt_ms(secret.expires_at),
    ];
    exec::execute::<B>(conn, B::SQL.insert_secret, &args).await?;
    Ok(())
}

#[async_trait]
impl<B: Backend> ClientStore for SqlStore<B> {
    async fn create_client(&self, client: &ApiClient, secret: &ClientSecret, audit: &NewAuditEvent) -> StoreResult<()> {
        let scopes = rows::scopes_text(&client.scopes);
        let args = [
            text(&client.client_id),
            text(&client.name),
            text(&scopes),
            Arg::Bool(client.enabled),
            ms(client.created_at),
        ];
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::SQL.insert_client, &args).await?;
        insert_secret::<B>(&mut tx, secret).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<ApiClient>> {
        let row = exec::optional::<B>(&mut *self.conn().await?, B::SQL.client_by_id, &[key(client_id)]).await?;
        row.map(|r| rows::client::<B>(&r)).transpose()
    }

    async fn list_clients(&self) -> StoreResult<Vec<ApiClient>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::SQL.list_clients, &[]).await?;
        found.iter().map(rows::client::<B>).collect()
    }

    async fn set_client_enabled(&self, client_id: &str, enabled: bool, audit: &NewAuditEvent) -> StoreResult<()> {
        let args = [key(client_id), Arg::Bool(enabled)];
        self.change_one(B::SQL.set_client_enabled, &args, audit).await
    }

    async fn delete_client(&self, client_id: &str, audit: &NewAuditEvent) -> StoreResult<()> {
        self.change_one(B::SQL.delete_client, &[key(client_id)], audit).await
    }

    async fn client_with_secrets(&self, client_id: &str) -> StoreResult<Option<(ApiClient, Vec<ClientSecret>)>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::SQL.client_with_secrets, &[key(client_id)]).await?;
        let Some(first) = found.first() else {
            return Ok(None);
        };
        let secrets = found
            .iter()
            .map(|r| rows::opt_secret_as::<B>(r, "s_"))
            .filter_map(Result::transpose)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some((rows::client::<B>(first)?, secrets)))
    }

    async fn list_secrets(&self, client_id: &str) -> StoreResult<Vec<ClientSecret>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::SQL.list_secrets, &[key(client_id)]).await?;
        found.iter().map(rows::secret::<B>).collect()
    }

    async fn add_secret(&self, secret: &ClientSecret, max: usize, audit: &NewAuditEvent) -> StoreResult<()> {
        let client = [key(&secret.client_id)];
        let mut tx = self.begin().await?;
        // The backend's lock keeps concurrent additions for one client from both passing the
        // count; the count is a separate statement that sees what the previous holder added.
        if !exec::exists::<B>(&mut tx, B::SQL.lock_client, &client).await? {
            return Err(StoreError::NotFound);
        }
        let held = exec::optional_int::<B>(&mut tx, B::SQL.count_secrets, &client).await?;
        if usize::try_from(held.unwrap_or(0)).unwrap_or(usize::MAX) >= max {
            return Err(StoreError::Conflict("secret_limit"));
        }
        insert_secret::<B>(&mut tx, secret).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn set_secret_expiry(
        &self,
        client_id: &str,
        id: SecretId,
        expires_at: Option<Timestamp>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let id = id.to_string();
        let args = [key(client_id), key(&id), opt_ms(expires_at)];
        self.change_one(B::SQL.set_secret_expiry, &args, audit).await
    }

    async fn upgrade_secret_hash(
        &self,
        client_id: &str,
        id: SecretId,
        old_hash: &str,
        new_hash: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let id = id.to_string();
        let args = [key(client_id), key(&id), key(old_hash), text(new_hash)];
        self.change_one(B::SQL.upgrade_secret_hash, &args, audit).await
    }

    async fn delete_secret(&self, client_id: &str, id: SecretId, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = id.to_string();
        let args = [key(client_id), key(&id)];
        self.change_one(B::SQL.delete_secret, &args, audit).await
    }
}

#[async_trait]
impl<B: Backend> SigningKeyStore for SqlStore<B> {
    async fn insert_signing_key(&self, k: &StoredSigningKey) -> StoreResult<()> {
        if let (false, Some(at)) = (k.active, k.activates_at) {
            let args = [
                text(&k.kid),
                text(&k.alg),
                bytes(&k.encrypted_private_key),
                bytes(&k.public_key),
                ms(k.created_at),
                ms(at),
            ];
            self.execute(B::SQL.insert_next_signing_key, &args).await?;
            return Ok(());
        }
        let args = [
            text(&k.kid),
            text(&k.alg),
            bytes(&k.encrypted_private_key),
            bytes(&k.public_key),
            ms(k.created_at),
            Arg::Bool(k.active),
        ];
        self.execute(B::SQL.insert_signing_key, &args).await?;
        Ok(())
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::SQL.list_signing_keys, &[]).await?;
        found.iter().map(rows::signing_key::<B>).collect()
    }

    async fn promote_signing_key(&self, kid: &str, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // The waiting key first (so a lost race changes nothing), then the swap: the one-active
        // index wants the old key off before the new one is on.
        let waiting = exec::all::<B>(&mut tx, B::SQL.list_signing_keys, &[]).await?;
        let waiting = waiting
            .iter()
            .map(rows::signing_key::<B>)
            .collect::<StoreResult<Vec<_>>>()?
            .into_iter()
            .any(|k| k.kid == kid && !k.active && k.activates_at.is_some() && k.retired_at.is_none());
        if !waiting {
            return Ok(false);
        }
        exec::execute::<B>(&mut tx, B::SQL.retire_active_signing_key, &[ms(now)]).await?;
        if exec::execute::<B>(&mut tx, B::SQL.activate_signing_key, &[key(kid)]).await? != 1 {
            return Ok(false);
        }
        audit_and_commit::<B>(tx, audit).await?;
        Ok(true)
    }

    async fn purge_signing_keys(&self, retired_before: Timestamp, audit: &NewAuditEvent) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let n = exec::execute::<B>(&mut tx, B::SQL.purge_signing_keys, &[ms(retired_before)]).await?;
        if n > 0 {
            insert_audit::<B>(&mut tx, audit).await?;
        }
        crate::store::commit::<B>(tx).await?;
        Ok(n)
    }
}
