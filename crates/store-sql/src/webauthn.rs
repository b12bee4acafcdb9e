//! WebAuthn credentials, ceremonies, and the transactions that finish a ceremony.
//!
//! Both finishing transactions, and the clone flag, start by consuming the ceremony: a
//! registration's is deleted, a sign-in's (sealed, held by the client) is recorded as spent.
//! The backends make that a queue: SQLite's `BEGIN IMMEDIATE` serialises writers,
//! PostgreSQL's `DELETE` locks the row and its unique index makes a second insert of one id
//! wait for the first, so of two requests finishing one ceremony the second finds it taken
//! (`ceremony_used`). The counter's compare-and-swap is an
//! `UPDATE … WHERE sign_count = old`, which PostgreSQL re-checks (READ COMMITTED) after a
//! concurrent writer commits. An error drops the transaction, which rolls the deletion back.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind, FinishAssertion};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::store::{CeremonyStore, CredentialStore, StoreResult};
use keyfleet_domain::{StoreError, Timestamp, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, Connection, bytes, int, key, ms, opt_ms, text};
use crate::rows;
use crate::sessions::{end_sessions_of_removed_keys, insert_session};
use crate::store::{SqlStore, audit_and_commit, commit, one_row};

/// Inserts a credential on `conn`. A taken id is `Conflict("credential_id")`, an unknown
/// user `NotFound` (foreign key).
pub(crate) async fn insert_credential<B: Backend>(conn: &mut Connection<B>, c: &Credential) -> StoreResult<()> {
    let user = c.user_id.to_string();
    let args = [
        bytes(&c.id),
        text(&user),
        bytes(&c.public_key),
        int(c.alg),
        int(i64::from(c.sign_count)),
        bytes(&c.aaguid),
        Arg::Texts(&c.transports),
        Arg::Bool(c.backup_eligible),
        Arg::Bool(c.backup_state),
        Arg::Bool(c.uv_initialized),
        text(&c.attestation_format),
        text(&c.attestation_trust),
        bytes(&c.attestation_object),
        text(&c.nickname),
        ms(c.created_at),
        opt_ms(c.last_used_at),
        Arg::Bool(c.possibly_cloned),
    ];
    exec::execute::<B>(conn, B::SQL.insert_credential, &args).await?;
    Ok(())
}

/// Deletes the ceremony `id` of `kind` started for `user` (an authentication may also have
/// been started for nobody: username-less) on `conn`. `Conflict("ceremony_used")` when there
/// is no such ceremony.
async fn take_ceremony<B: Backend>(
    conn: &mut Connection<B>,
    id: CeremonyId,
    kind: CeremonyKind,
    user: UserId,
) -> StoreResult<()> {
    let (id, user) = (id.to_string(), user.to_string());
    let args = [key(&id), key(kind.as_str()), key(&user)];
    if exec::execute::<B>(conn, B::SQL.take_ceremony, &args).await? == 0 {
        return Err(StoreError::Conflict("ceremony_used"));
    }
    Ok(())
}

/// Records the sign-in ceremony `id` as spent on `conn`: `Conflict("ceremony_used")` when it
/// already was. Of two transactions spending one ceremony, the second waits for the first's
/// key (SQLite: the write lock; PostgreSQL: the unique index entry) and then finds it taken.
async fn spend<B: Backend>(conn: &mut Connection<B>, id: CeremonyId, expires_at: Timestamp) -> StoreResult<()> {
    let id = id.to_string();
    if exec::execute::<B>(conn, B::SQL.spend_ceremony, &[text(&id), ms(expires_at)]).await? == 0 {
        return Err(StoreError::Conflict("ceremony_used"));
    }
    Ok(())
}

/// Compares and swaps the counter of the session user's credential on `conn`, recording the
/// assertion's flags and time. `Conflict("sign_count")` when the counter moved,
/// `NotFound` when the user holds no such credential.
async fn swap_counter<B: Backend>(conn: &mut Connection<B>, f: &FinishAssertion<'_>) -> StoreResult<()> {
    let user = f.session.user_id.to_string();
    let args = [
        bytes(f.credential_id),
        key(&user),
        int(i64::from(f.old_sign_count)),
        int(i64::from(f.new_sign_count)),
        Arg::Bool(f.backup_state),
        Arg::Bool(f.uv_initialized),
        ms(f.now),
    ];
    if exec::execute::<B>(conn, B::SQL.swap_counter, &args).await? == 1 {
        return Ok(());
    }
    let exists = exec::exists::<B>(conn, B::SQL.credential_of_user, &[bytes(f.credential_id), key(&user)]).await?;
    Err(if exists {
        StoreError::Conflict("sign_count")
    } else {
        StoreError::NotFound
    })
}

#[async_trait]
impl<B: Backend> CredentialStore for SqlStore<B> {
    async fn get_credential(&self, id: &[u8]) -> StoreResult<Option<Credential>> {
        let row = exec::optional::<B>(&mut *self.conn().await?, B::SQL.credential_by_id, &[bytes(id)]).await?;
        row.map(|r| rows::credential::<B>(&r)).transpose()
    }

    async fn get_credentials(&self, ids: &[&[u8]]) -> StoreResult<Vec<Credential>> {
        let args: Vec<Arg<'_>> = ids.iter().map(|id| bytes(id)).collect();
        self.all_in(B::SQL.credentials_by_ids, &args, rows::credential::<B>)
            .await
    }

    async fn list_user_credentials(&self, user: UserId) -> StoreResult<Vec<Credential>> {
        let user = user.to_string();
        let args = [key(&user)];
        let found = exec::all::<B>(&mut *self.conn().await?, B::SQL.list_user_credentials, &args).await?;
        found.iter().map(rows::credential::<B>).collect()
    }

    async fn list_credentials_of_users(&self, users: &[UserId]) -> StoreResult<Vec<Credential>> {
        let ids: Vec<String> = users.iter().map(ToString::to_string).collect();
        let args: Vec<Arg<'_>> = ids.iter().map(|i| key(i)).collect();
        self.all_in(B::SQL.credentials_of_users, &args, rows::credential::<B>)
            .await
    }

    async fn rename_credential(
        &self,
        user: UserId,
        id: &[u8],
        nickname: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let user = user.to_string();
        let args = [bytes(id), key(&user), text(nickname)];
        self.change_one(B::SQL.rename_credential, &args, audit).await
    }

    async fn delete_credential(&self, user: UserId, id: &[u8], audit: &NewAuditEvent) -> StoreResult<()> {
        let user = user.to_string();
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::SQL.delete_credential, &[bytes(id), key(&user)]).await?)?;
        // Sessions opened with the key end at the user's next sign-in, unless ended before.
        exec::execute::<B>(&mut tx, B::SQL.mark_removed_key, &[bytes(id), text(&user)]).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn delete_user_credentials(&self, user: UserId, audit: &NewAuditEvent) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let deleted = exec::execute::<B>(&mut tx, B::SQL.delete_user_credentials, &[key(&user.to_string())]).await?;
        audit_and_commit::<B>(tx, audit).await?;
        Ok(deleted)
    }

    async fn count_credentials(&self) -> StoreResult<u64> {
        self.count(B::SQL.count_credentials).await
    }
}

impl<B: Backend> SqlStore<B> {
    /// A sign-in's transaction step by step.
    async fn finish_authentication_steps(
        &self,
        finish: &FinishAssertion<'_>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        spend::<B>(&mut tx, finish.ceremony_id, finish.ceremony_expires_at).await?;
        swap_counter::<B>(&mut tx, finish).await?;
        insert_session::<B>(&mut tx, finish.session).await?;
        end_sessions_of_removed_keys::<B>(&mut tx, finish.session.user_id, finish.removed_key_sessions).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    /// A sign-in's transaction in one go ([`crate::Sql::finish_authentication_at_once`]):
    /// `Ok(true)` when it committed, `Ok(false)` when it wrote nothing and the steps should
    /// run to tell what went wrong.
    async fn finish_authentication_at_once(
        &self,
        sql: &str,
        f: &FinishAssertion<'_>,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool> {
        let s = f.session;
        if s.credential_id.as_deref() != Some(f.credential_id) {
            // The steps store the session as given; this statement names the key once.
            return Ok(false);
        }
        let (ceremony, user, session) = (f.ceremony_id.to_string(), s.user_id.to_string(), s.id.to_string());
        let (actor, target) = (audit.actor.to_string(), audit.target.as_ref().map(ToString::to_string));
        let ended = f.removed_key_sessions;
        let (ended_actor, ended_target) = (ended.actor.to_string(), ended.target.as_ref().map(ToString::to_string));
        let args = [
            text(&ceremony),
            ms(f.ceremony_expires_at),
            bytes(f.credential_id),
            key(&user),
            int(i64::from(f.old_sign_count)),
            int(i64::from(f.new_sign_count)),
            Arg::Bool(f.backup_state),
            Arg::Bool(f.uv_initialized),
            ms(f.now),
            text(&session),
            bytes(&s.token_hash),
            text(s.kind.as_str()),
            ms(s.created_at),
            ms(s.last_seen_at),
            ms(s.expires_at),
            int(s.idle_timeout_ms),
            Arg::Text(s.client_addr.as_deref()),
            ms(audit.at),
            text(&actor),
            text(audit.action.as_str()),
            Arg::Text(target.as_deref()),
            text(audit.outcome.as_str()),
            Arg::Text(audit.request_id.as_deref()),
            Arg::Text(audit.detail.as_deref()),
            ms(ended.at),
            text(&ended_actor),
            text(ended.action.as_str()),
            Arg::Text(ended_target.as_deref()),
            text(ended.outcome.as_str()),
            Arg::Text(ended.request_id.as_deref()),
            Arg::Text(ended.detail.as_deref()),
            Arg::Bool(s.user_verified),
        ];
        match &self.sign_ins {
            Some(batches) => Ok(batches.write(&args).await),
            None => self.write_at_once(sql, &args).await,
        }
    }
}

#[async_trait]
impl<B: Backend> CeremonyStore for SqlStore<B> {
    async fn create_ceremony(&self, c: &Ceremony) -> StoreResult<()> {
        let (id, user, session) = (
            c.id.to_string(),
            c.user_id.map(|u| u.to_string()),
            c.session_id.map(|s| s.to_string()),
        );
        let args = [
            text(&id),
            text(c.kind.as_str()),
            bytes(&c.challenge),
            Arg::Text(user.as_deref()),
            Arg::Text(session.as_deref()),
            text(&c.rp_id),
            text(&c.user_verification),
            Arg::Blobs(&c.allow_credentials),
            text(&c.params),
            ms(c.created_at),
            ms(c.expires_at),
        ];
        self.execute(B::SQL.insert_ceremony, &args).await?;
        Ok(())
    }

    async fn get_ceremony(&self, id: CeremonyId) -> StoreResult<Option<Ceremony>> {
        let row = exec::optional::<B>(&mut *self.conn().await?, B::SQL.ceremony_by_id, &[key(&id.to_string())]).await?;
        row.map(|r| rows::ceremony::<B>(&r)).transpose()
    }

    async fn consume_ceremony(&self, id: CeremonyId) -> StoreResult<bool> {
        Ok(self.execute(B::SQL.delete_ceremony, &[key(&id.to_string())]).await? == 1)
    }

    async fn ceremony_spent(&self, id: CeremonyId) -> StoreResult<bool> {
        let id = id.to_string();
        exec::exists::<B>(&mut *self.conn().await?, B::SQL.ceremony_spent, &[key(&id)]).await
    }

    async fn spend_ceremony(&self, id: CeremonyId, expires_at: Timestamp) -> StoreResult<bool> {
        let id = id.to_string();
        Ok(self
            .execute(B::SQL.spend_ceremony, &[text(&id), ms(expires_at)])
            .await?
            == 1)
    }

    async fn finish_registration(
        &self,
        ceremony_id: CeremonyId,
        credential: &Credential,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        take_ceremony::<B>(&mut tx, ceremony_id, CeremonyKind::Registration, credential.user_id).await?;
        insert_credential::<B>(&mut tx, credential).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn finish_authentication(&self, finish: &FinishAssertion<'_>, audit: &NewAuditEvent) -> StoreResult<()> {
        let at_once = match B::SQL.finish_authentication_at_once {
            Some(sql) => self.finish_authentication_at_once(sql, finish, audit).await?,
            None => false,
        };
        if !at_once {
            // Step by step: the way every failure is told apart (and written nowhere).
            self.finish_authentication_steps(finish, audit).await?;
        }
        Ok(())
    }

    async fn flag_possible_clone(
        &self,
        ceremony_id: CeremonyId,
        expires_at: Timestamp,
        credential_id: &[u8],
        seen_sign_count: u32,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        spend::<B>(&mut tx, ceremony_id, expires_at).await?;
        let args = [bytes(credential_id), int(i64::from(seen_sign_count))];
        if exec::execute::<B>(&mut tx, B::SQL.flag_clone, &args).await? == 1 {
            return audit_and_commit::<B>(tx, audit).await;
        }
        let exists = exec::exists::<B>(&mut tx, B::SQL.credential_exists, &[bytes(credential_id)]).await?;
        // The ceremony stays spent; the key is not flagged.
        commit::<B>(tx).await?;
        Err(if exists {
            StoreError::Conflict("sign_count")
        } else {
            StoreError::NotFound
        })
    }

    async fn purge_ceremonies(&self, before: Timestamp) -> StoreResult<u64> {
        let stored = self.execute(B::SQL.purge_ceremonies, &[ms(before)]).await?;
        Ok(stored + self.execute(B::SQL.purge_spent_ceremonies, &[ms(before)]).await?)
    }
}
