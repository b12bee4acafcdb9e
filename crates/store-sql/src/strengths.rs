//! The administrators' authentication strengths (the built-in ones are not stored).

use async_trait::async_trait;
use keyfleet_domain::StoreError;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::strength::{AuthenticationStrength, StrengthStore};

use crate::backend::Backend;
use crate::exec::{self, Arg, key, ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit};

/// The strength statements of a backend, by what they do (parameters `$1`, `$2`, … in the
/// order given).
#[derive(Debug)]
pub struct StrengthSql {
    /// Inserts a strength: id, name, acr, require_user_verification, require_attestation,
    /// allow_synced, allowed_aaguids (a list; empty: any model), created_at, updated_at.
    pub insert: &'static str,
    /// Replaces a strength's fields by id: id, name, acr, require_user_verification,
    /// require_attestation, allow_synced, allowed_aaguids, updated_at.
    pub update: &'static str,
    /// Deletes a strength: id.
    pub delete: &'static str,
    /// A strength by id.
    pub get: &'static str,
    /// Every strength by name.
    pub list: &'static str,
}

#[async_trait]
impl<B: Backend> StrengthStore for SqlStore<B> {
    async fn create_strength(&self, s: &AuthenticationStrength, audit: &NewAuditEvent) -> StoreResult<()> {
        let aaguids = aaguid_list(s);
        let mut tx = self.begin().await?;
        let args = [
            text(&s.id),
            text(&s.name),
            text(&s.acr),
            Arg::Bool(s.require_user_verification),
            Arg::Bool(s.require_attestation),
            Arg::Bool(s.allow_synced),
            Arg::Blobs(&aaguids),
            ms(s.created_at),
            ms(s.updated_at),
        ];
        exec::execute::<B>(&mut tx, B::STRENGTH_SQL.insert, &args).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn get_strength(&self, id: &str) -> StoreResult<Option<AuthenticationStrength>> {
        let found = exec::optional::<B>(&mut *self.conn().await?, B::STRENGTH_SQL.get, &[key(id)]).await?;
        found.as_ref().map(rows::strength::<B>).transpose()
    }

    async fn list_strengths(&self) -> StoreResult<Vec<AuthenticationStrength>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::STRENGTH_SQL.list, &[]).await?;
        found.iter().map(rows::strength::<B>).collect()
    }

    async fn update_strength(&self, s: &AuthenticationStrength, audit: &NewAuditEvent) -> StoreResult<()> {
        let aaguids = aaguid_list(s);
        let mut tx = self.begin().await?;
        let args = [
            key(&s.id),
            text(&s.name),
            text(&s.acr),
            Arg::Bool(s.require_user_verification),
            Arg::Bool(s.require_attestation),
            Arg::Bool(s.allow_synced),
            Arg::Blobs(&aaguids),
            ms(s.updated_at),
        ];
        if exec::execute::<B>(&mut tx, B::STRENGTH_SQL.update, &args).await? == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit::<B>(tx, audit).await
    }

    async fn delete_strength(&self, id: &str, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, B::STRENGTH_SQL.delete, &[key(id)]).await? == 0 {
            return Err(StoreError::NotFound);
        }
        audit_and_commit::<B>(tx, audit).await
    }
}

fn aaguid_list(s: &AuthenticationStrength) -> Vec<Vec<u8>> {
    s.allowed_aaguids.iter().flatten().map(|a| a.to_vec()).collect()
}
