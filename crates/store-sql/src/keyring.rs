//! The master-key ring, the encrypted columns' rewriting, and secret settings
//! (`KeyringStore`). The statements are the same on both databases; those over an encrypted
//! column are made from its entry in `keyfleet_domain::keyring::ENCRYPTED_COLUMNS` (names
//! fixed in the code, never from input).

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::keyring::{ENCRYPTED_COLUMNS, EncryptedColumn, KeyringStore, StoredMasterKey};
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::{StoreError, Timestamp};

use crate::backend::Backend;
use crate::exec::{self, Arg, bytes, int, key, ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit};

const KEYS: &str = "SELECT id, wrapped, state, created_at, retired_at FROM master_keys ORDER BY id";
const DEMOTE: &str = "UPDATE master_keys SET state = 'previous' WHERE state = 'current'";
const INSERT_KEY: &str = "INSERT INTO master_keys (id, wrapped, state, created_at) VALUES ($1, $2, 'current', $3)";
const RETIRE: &str = "UPDATE master_keys SET state = 'retired', wrapped = $3, retired_at = $2 \
     WHERE id = $1 AND state = 'previous'";
const SECRET: &str = "SELECT value_sealed FROM secret_settings WHERE name = $1";
const SET_SECRET: &str = "INSERT INTO secret_settings (name, value_sealed, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET value_sealed = excluded.value_sealed, updated_at = excluded.updated_at";
const DELETE_SECRET: &str = "DELETE FROM secret_settings WHERE name = $1";

/// `column` as listed in the registry, else `Invalid("column")`.
fn registered(column: &EncryptedColumn) -> StoreResult<&'static EncryptedColumn> {
    ENCRYPTED_COLUMNS
        .iter()
        .find(|c| *c == column)
        .ok_or(StoreError::Invalid("column"))
}

#[async_trait]
impl<B: Backend> KeyringStore for SqlStore<B> {
    async fn master_keys(&self) -> StoreResult<Vec<StoredMasterKey>> {
        let found = exec::all::<B>(&mut *self.conn().await?, KEYS, &[]).await?;
        found.iter().map(rows::master_key::<B>).collect()
    }

    async fn add_master_key(&self, id: u32, wrapped: &[u8], now: Timestamp, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, DEMOTE, &[]).await?;
        match exec::execute::<B>(&mut tx, INSERT_KEY, &[int(i64::from(id)), bytes(wrapped), ms(now)]).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Err(StoreError::Conflict("master_key_id")),
            Err(e) => return Err(e),
        }
        audit_and_commit::<B>(tx, audit).await
    }

    async fn retire_master_key(&self, id: u32, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, RETIRE, &[int(i64::from(id)), ms(now), bytes(&[])]).await? == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit::<B>(tx, audit).await
    }

    async fn ciphertexts(
        &self,
        column: &EncryptedColumn,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let c = registered(column)?;
        let sql = format!(
            "SELECT {id} AS row_id, {col} AS value FROM {table} \
             WHERE ($1 IS NULL OR {id} > $1) AND {col} IS NOT NULL AND length({col}) > 0 ORDER BY {id} LIMIT $2",
            id = c.id_column,
            col = c.column,
            table = c.table
        );
        let found = exec::all::<B>(
            &mut *self.conn().await?,
            &sql,
            &[Arg::Key(after), int(i64::from(limit))],
        )
        .await?;
        found.iter().map(rows::ciphertext::<B>).collect()
    }

    async fn replace_ciphertext(
        &self,
        column: &EncryptedColumn,
        id: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        let c = registered(column)?;
        let sql = format!(
            "UPDATE {table} SET {col} = $3 WHERE {id} = $1 AND {col} = $2",
            id = c.id_column,
            col = c.column,
            table = c.table
        );
        Ok(self.execute(&sql, &[key(id), bytes(old), bytes(new)]).await? == 1)
    }

    async fn secret_setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let row = exec::optional::<B>(&mut *self.conn().await?, SECRET, &[key(name)]).await?;
        row.as_ref().map(|r| rows::ciphertext_value::<B>(r)).transpose()
    }

    async fn set_secret_setting(
        &self,
        name: &str,
        sealed: Option<&[u8]>,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        match sealed {
            Some(v) => exec::execute::<B>(&mut tx, SET_SECRET, &[text(name), bytes(v), ms(now)]).await?,
            None => exec::execute::<B>(&mut tx, DELETE_SECRET, &[key(name)]).await?,
        };
        audit_and_commit::<B>(tx, audit).await
    }
}
