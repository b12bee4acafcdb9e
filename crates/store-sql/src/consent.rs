//! Users' consents to third-party single sign-on applications.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::consent::{Consent, ConsentStore};
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::{Timestamp, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, key, ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit, one_row};

/// The consent statements of a backend (parameters `$1`, `$2`, … in the order given).
#[derive(Debug)]
pub struct ConsentSql {
    /// A consent: user_id, client_id.
    pub consent: &'static str,
    /// Inserts or replaces a consent: user_id, client_id, scopes (a list), granted_at.
    pub save: &'static str,
    /// A user's consents by application: user_id.
    pub list: &'static str,
    /// Deletes a consent: user_id, client_id.
    pub delete: &'static str,
    /// Revokes a user's unrevoked grants to an application: user_id, client_id, now.
    pub revoke_grants: &'static str,
}

#[async_trait]
impl<B: Backend> ConsentStore for SqlStore<B> {
    async fn get_consent(&self, user: UserId, client_id: &str) -> StoreResult<Option<Consent>> {
        let user = user.to_string();
        let found = exec::optional::<B>(
            &mut *self.conn().await?,
            B::CONSENT_SQL.consent,
            &[key(&user), key(client_id)],
        )
        .await?;
        found.as_ref().map(rows::consent::<B>).transpose()
    }

    async fn save_consent(&self, c: &Consent, audit: &NewAuditEvent) -> StoreResult<()> {
        let user = c.user_id.to_string();
        let args = [text(&user), text(&c.client_id), Arg::Texts(&c.scopes), ms(c.granted_at)];
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::CONSENT_SQL.save, &args).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn list_consents(&self, user: UserId) -> StoreResult<Vec<Consent>> {
        let user = user.to_string();
        let found = exec::all::<B>(&mut *self.conn().await?, B::CONSENT_SQL.list, &[key(&user)]).await?;
        found.iter().map(rows::consent::<B>).collect()
    }

    async fn delete_consent(
        &self,
        user: UserId,
        client_id: &str,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let user = user.to_string();
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::CONSENT_SQL.delete, &[key(&user), key(client_id)]).await?)?;
        exec::execute::<B>(
            &mut tx,
            B::CONSENT_SQL.revoke_grants,
            &[key(&user), key(client_id), ms(now)],
        )
        .await?;
        audit_and_commit::<B>(tx, audit).await
    }
}
