//! Authenticator metadata: the last good MDS BLOB and its entries by AAGUID.

use async_trait::async_trait;
use keyfleet_domain::StoreError;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::metadata::{FetchValidators, MetadataBlob, MetadataEntry, MetadataStore};
use keyfleet_domain::report::Aaguid;
use keyfleet_domain::store::StoreResult;

use crate::backend::Backend;
use crate::exec::{self, Arg, bytes, int, ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit};

/// The metadata statements of a backend, by what they do (parameters `$1`, `$2`, … in the
/// order given).
#[derive(Debug)]
pub struct MetadataSql {
    /// Stores the BLOB unless the stored one's `no` is greater or equal (then changes no
    /// row): no, next_update, entry_count, imported_at, verified_at, revocation, blob.
    pub upsert_blob: &'static str,
    /// Deletes every entry.
    pub delete_entries: &'static str,
    /// Inserts an entry: aaguid, description, status, status_date, certification_level,
    /// compromised, attestation_roots (a list of byte strings), icon, source.
    pub insert_entry: &'static str,
    /// The stored BLOB's facts: `no`, `next_update`, `entry_count`, `imported_at`,
    /// `verified_at`, `revocation`.
    pub blob: &'static str,
    /// The stored BLOB's bytes (`blob`).
    pub blob_raw: &'static str,
    /// An entry by AAGUID.
    pub entry: &'static str,
    /// Entries by AAGUID; the store puts the AAGUIDs' parameters in place of `{}`.
    pub entries: &'static str,
    /// Every entry by AAGUID.
    pub list_entries: &'static str,
    /// The download validators: `etag`, `last_modified`.
    pub validators: &'static str,
    /// Stores the download validators (one row): etag, last_modified.
    pub set_validators: &'static str,
}

#[async_trait]
impl<B: Backend> MetadataStore for SqlStore<B> {
    async fn import_metadata(
        &self,
        blob: &MetadataBlob,
        raw: &[u8],
        entries: &[MetadataEntry],
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let sql = B::METADATA_SQL;
        let mut tx = self.begin().await?;
        // The conditional upsert is the anti-rollback rule: it changes no row when the stored
        // BLOB's `no` is not smaller, and holds the row until commit (SQLite's write lock,
        // PostgreSQL's row lock), so of two racing imports of one `no` exactly one stores it.
        let args = [
            int(blob.no),
            text(&blob.next_update),
            int(blob.entry_count),
            ms(blob.imported_at),
            ms(blob.verified_at),
            text(&blob.revocation),
            bytes(raw),
        ];
        if exec::execute::<B>(&mut tx, sql.upsert_blob, &args).await? == 0 {
            return Err(StoreError::Conflict("metadata_no"));
        }
        exec::execute::<B>(&mut tx, sql.delete_entries, &[]).await?;
        for e in entries {
            let args = [
                bytes(&e.aaguid),
                text(&e.description),
                Arg::Text(e.status.as_deref()),
                Arg::Text(e.status_date.as_deref()),
                Arg::Text(e.certification_level.as_deref()),
                Arg::Bool(e.compromised),
                Arg::Blobs(&e.attestation_roots),
                Arg::Text(e.icon.as_deref()),
                text(e.source.as_str()),
            ];
            exec::execute::<B>(&mut tx, sql.insert_entry, &args).await?;
        }
        audit_and_commit::<B>(tx, audit).await
    }

    async fn metadata_blob(&self) -> StoreResult<Option<MetadataBlob>> {
        let found = exec::optional::<B>(&mut *self.conn().await?, B::METADATA_SQL.blob, &[]).await?;
        found.as_ref().map(rows::metadata_blob::<B>).transpose()
    }

    async fn metadata_blob_raw(&self) -> StoreResult<Option<Vec<u8>>> {
        let found = exec::optional::<B>(&mut *self.conn().await?, B::METADATA_SQL.blob_raw, &[]).await?;
        found.as_ref().map(rows::metadata_blob_raw::<B>).transpose()
    }

    async fn metadata_entry(&self, aaguid: &Aaguid) -> StoreResult<Option<MetadataEntry>> {
        let found = exec::optional::<B>(&mut *self.conn().await?, B::METADATA_SQL.entry, &[bytes(aaguid)]).await?;
        found.as_ref().map(rows::metadata_entry::<B>).transpose()
    }

    async fn metadata_entries(&self, aaguids: &[Aaguid]) -> StoreResult<Vec<MetadataEntry>> {
        let args: Vec<Arg<'_>> = aaguids.iter().map(|a| bytes(a)).collect();
        self.all_in(B::METADATA_SQL.entries, &args, rows::metadata_entry::<B>)
            .await
    }

    async fn list_metadata_entries(&self) -> StoreResult<Vec<MetadataEntry>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::METADATA_SQL.list_entries, &[]).await?;
        found.iter().map(rows::metadata_entry::<B>).collect()
    }

    async fn metadata_validators(&self) -> StoreResult<FetchValidators> {
        let found = exec::optional::<B>(&mut *self.conn().await?, B::METADATA_SQL.validators, &[]).await?;
        Ok(found
            .as_ref()
            .map(rows::metadata_validators::<B>)
            .transpose()?
            .unwrap_or_default())
    }

    async fn set_metadata_validators(&self, validators: &FetchValidators) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let args = [
            Arg::Text(validators.etag.as_deref()),
            Arg::Text(validators.last_modified.as_deref()),
        ];
        exec::execute::<B>(&mut tx, B::METADATA_SQL.set_validators, &args).await?;
        crate::store::commit::<B>(tx).await
    }
}
