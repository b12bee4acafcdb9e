//! Creation options issued on behalf of users, and the transaction that registers the key
//! they were answered with (the options deleted, the credential inserted, the audit event
//! appended, at once).

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::credential::Credential;
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::onbehalf::{OnBehalfOptions, OnBehalfStore};
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::{StoreError, Timestamp, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, bytes, key, ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit, commit};
use crate::webauthn::insert_credential;

/// The on-behalf statements of a backend (parameters `$1`, `$2`, … in the order given).
#[derive(Debug)]
pub struct OnBehalfSql {
    /// Inserts options: id, user_id, caller, challenge, rp_id, expected_aaguid (NULL: any
    /// model), created_at, expires_at.
    pub insert: &'static str,
    /// The options with this challenge.
    pub by_challenge: &'static str,
    /// A user's options, oldest first: user_id.
    pub list_for_user: &'static str,
    /// Deletes options: id.
    pub delete: &'static str,
    /// Deletes options if they are this user's: id, user_id.
    pub take: &'static str,
    /// Deletes options that expired before `$1`.
    pub purge: &'static str,
}

#[async_trait]
impl<B: Backend> OnBehalfStore for SqlStore<B> {
    async fn create_onbehalf_options(&self, o: &OnBehalfOptions, audit: &NewAuditEvent) -> StoreResult<()> {
        let (id, user) = (o.id.to_string(), o.user_id.to_string());
        let args = [
            text(&id),
            text(&user),
            text(&o.caller),
            bytes(&o.challenge),
            text(&o.rp_id),
            Arg::Bytes(o.expected_aaguid.as_ref().map(|a| a.as_slice())),
            ms(o.created_at),
            ms(o.expires_at),
        ];
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::ONBEHALF_SQL.insert, &args).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn onbehalf_options_by_challenge(&self, challenge: &[u8]) -> StoreResult<Option<OnBehalfOptions>> {
        let row = exec::optional::<B>(
            &mut *self.conn().await?,
            B::ONBEHALF_SQL.by_challenge,
            &[bytes(challenge)],
        )
        .await?;
        row.as_ref().map(rows::onbehalf_options::<B>).transpose()
    }

    async fn list_onbehalf_options(&self, user: UserId) -> StoreResult<Vec<OnBehalfOptions>> {
        let user = user.to_string();
        let found = exec::all::<B>(&mut *self.conn().await?, B::ONBEHALF_SQL.list_for_user, &[key(&user)]).await?;
        found.iter().map(rows::onbehalf_options::<B>).collect()
    }

    async fn consume_onbehalf_options(&self, id: CeremonyId, audit: &NewAuditEvent) -> StoreResult<bool> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, B::ONBEHALF_SQL.delete, &[key(&id)]).await? == 0 {
            commit::<B>(tx).await?;
            return Ok(false);
        }
        audit_and_commit::<B>(tx, audit).await?;
        Ok(true)
    }

    async fn finish_onbehalf_registration(
        &self,
        id: CeremonyId,
        credential: &Credential,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let (id, user) = (id.to_string(), credential.user_id.to_string());
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, B::ONBEHALF_SQL.take, &[key(&id), key(&user)]).await? == 0 {
            return Err(StoreError::Conflict("ceremony_used"));
        }
        insert_credential::<B>(&mut tx, credential).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn purge_onbehalf_options(&self, before: Timestamp) -> StoreResult<u64> {
        self.execute(B::ONBEHALF_SQL.purge, &[ms(before)]).await
    }
}
