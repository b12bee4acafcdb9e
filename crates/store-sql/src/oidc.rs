//! Single sign-on: applications, grants (an authorization code and its token family) and
//! refresh tokens.

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::backchannel::{LogoutAttempt, LogoutDelivery};
use keyfleet_domain::ids::SessionId;
use keyfleet_domain::oidc::{Application, Grant, OidcStore, RefreshToken};
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::{StoreError, Timestamp, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, bytes, int, key, ms, text};
use crate::rows;
use crate::store::{SqlStore, audit_and_commit, insert_audit, one_row};

/// The single sign-on statements of a backend, by what they do (parameters `$1`, `$2`, … in
/// the order given).
#[derive(Debug)]
pub struct OidcSql {
    /// Inserts an application: client_id, name, client_type, secret_hash, redirect_uris,
    /// post_logout_redirect_uris, scopes (three lists), access_token_lifetime_s,
    /// refresh_token_lifetime_s, authentication_strength, backchannel_logout_uri, jwks,
    /// created_at, updated_at, third_party.
    pub insert_application: &'static str,
    /// An application by client_id.
    pub application: &'static str,
    /// Every application by name.
    pub list_applications: &'static str,
    /// Replaces an application's settings: client_id, then the columns of
    /// `insert_application` from name to jwks, then updated_at, third_party.
    pub update_application: &'static str,
    /// Deletes an application (its grants and refresh tokens go with it): client_id.
    pub delete_application: &'static str,
    /// Inserts a grant: id, code_hash, client_id, user_id, session_id, redirect_uri, scope,
    /// nonce, code_challenge, auth_time, amr, acr, created_at, code_expires_at.
    pub insert_grant: &'static str,
    /// A grant by code_hash.
    pub grant_by_code: &'static str,
    /// A grant by id.
    pub grant: &'static str,
    /// Marks a code used when it is unused, unrevoked and unexpired: id, now.
    pub redeem_code: &'static str,
    /// Inserts a refresh token: token_hash, grant_id, created_at, expires_at.
    pub insert_refresh: &'static str,
    /// A refresh token by token_hash.
    pub refresh: &'static str,
    /// A refresh token by token_hash with its grant, in one statement: the token's columns
    /// named `t_token_hash`, `t_grant_id`, `t_created_at`, `t_expires_at`, `t_used_at`, then
    /// the grant's as in `grant`.
    pub refresh_with_grant: &'static str,
    /// Marks a refresh token used when it is unused and its grant unrevoked: token_hash, now.
    pub use_refresh: &'static str,
    /// Revokes a grant unless already revoked: id, now.
    pub revoke_grant: &'static str,
    /// Revokes a session's unrevoked grants: session_id, now.
    pub revoke_session_grants: &'static str,
    /// Revokes a user's unrevoked grants: user_id, now.
    pub revoke_user_grants: &'static str,
    /// Revokes the unrevoked grants of the sessions opened with a key: credential_id, now.
    pub revoke_credential_grants: &'static str,
    /// Queues a back-channel logout for each grant `revoke_session_grants` is about to revoke
    /// that was redeemed and whose application has a back-channel logout URI: session_id, now.
    pub enqueue_session_logouts: &'static str,
    /// The same for `revoke_user_grants`: user_id, now.
    pub enqueue_user_logouts: &'static str,
    /// The same for `revoke_credential_grants`: credential_id, now.
    pub enqueue_credential_logouts: &'static str,
    /// Pending logouts due: now, limit. Columns grant_id, client_id, user_id, created_at,
    /// attempts, next_attempt_at, uri (the application's back-channel logout URI).
    pub due_logouts: &'static str,
    /// Marks a pending logout delivered: grant_id, now.
    pub logout_delivered: &'static str,
    /// Records a failed attempt of a pending logout: grant_id, next_attempt_at, error.
    pub logout_retry: &'static str,
    /// Gives up on a pending logout: grant_id, now, error.
    pub logout_failed: &'static str,
    /// An application's earlier secrets' digests still working: client_id, now.
    pub previous_secrets: &'static str,
    /// Drops an application's earlier secrets expired: client_id, now.
    pub purge_previous_secrets: &'static str,
    /// Keeps a confidential application's current secret working until an expiry:
    /// client_id, expires_at.
    pub keep_previous_secret: &'static str,
    /// Sets a confidential application's current secret: client_id, secret_hash, now.
    pub set_application_secret: &'static str,
    /// Deletes the logouts delivered or given up on before: before.
    pub purge_logouts: &'static str,
    /// Drops an application's spent assertion ids expired: client_id, now.
    pub purge_client_assertions: &'static str,
    /// Records a spent assertion id unless already there: client_id, jti, expires_at.
    pub spend_client_assertion: &'static str,
    /// [`OidcStore::create_grant`] in one round trip and one transaction: the columns of
    /// `insert_grant` ($1–$14), then the audit event's at, actor, action, target, outcome,
    /// request_id, detail ($15–$21). Fails whole unless both rows were written; the caller
    /// then takes the steps, which name the failure.
    pub create_grant_at_once: Option<&'static str>,
    /// [`OidcStore::redeem_code`] in one round trip and one transaction: grant id, now
    /// ($1, $2), the refresh token's hash, created_at, expires_at ($3–$5, NULL without one),
    /// the audit event ($6–$12). Fails whole unless the code was redeemed and the audit
    /// event written; the caller then takes the steps, which tell a used code from an expired
    /// one.
    pub redeem_code_at_once: Option<&'static str>,
    /// [`OidcStore::rotate_refresh_token`] in one round trip and one transaction: the old
    /// hash, now ($1, $2), the new token's hash, grant_id, created_at, expires_at ($3–$6),
    /// the audit event ($7–$13). Fails whole unless the old token was used up, the new one
    /// stored and the audit event written; the caller then takes the steps.
    pub rotate_refresh_at_once: Option<&'static str>,
}

/// The audit event's seven columns as arguments (owned text for actor and target first).
struct AuditArgs {
    actor: String,
    target: Option<String>,
}

impl AuditArgs {
    fn new(a: &NewAuditEvent) -> Self {
        Self {
            actor: a.actor.to_string(),
            target: a.target.as_ref().map(ToString::to_string),
        }
    }

    fn push<'a>(&'a self, a: &'a NewAuditEvent, args: &mut Vec<Arg<'a>>) {
        args.extend([
            ms(a.at),
            text(&self.actor),
            text(a.action.as_str()),
            Arg::Text(self.target.as_deref()),
            text(a.outcome.as_str()),
            Arg::Text(a.request_id.as_deref()),
            Arg::Text(a.detail.as_deref()),
        ]);
    }
}

fn application_args(app: &Application) -> [Arg<'_>; 13] {
    [
        text(&app.name),
        text(app.client_type.as_str()),
        Arg::Text(app.secret_hash.as_deref()),
        Arg::Texts(&app.redirect_uris),
        Arg::Texts(&app.post_logout_redirect_uris),
        Arg::Texts(&app.scopes),
        int(app.access_token_lifetime_s),
        int(app.refresh_token_lifetime_s),
        Arg::Text(app.authentication_strength.as_deref()),
        Arg::Text(app.backchannel_logout_uri.as_deref()),
        Arg::Text(app.jwks.as_deref()),
        ms(app.updated_at),
        Arg::Bool(app.third_party),
    ]
}

#[async_trait]
impl<B: Backend> OidcStore for SqlStore<B> {
    async fn create_application(&self, app: &Application, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut args = vec![text(&app.client_id)];
        let rest = application_args(app);
        args.extend_from_slice(&rest[..11]);
        args.push(ms(app.created_at));
        args.push(ms(app.updated_at));
        args.push(Arg::Bool(app.third_party));
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::OIDC_SQL.insert_application, &args).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn get_application(&self, client_id: &str) -> StoreResult<Option<Application>> {
        let found = exec::optional::<B>(&mut *self.conn().await?, B::OIDC_SQL.application, &[key(client_id)]).await?;
        found.as_ref().map(rows::application::<B>).transpose()
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::OIDC_SQL.list_applications, &[]).await?;
        found.iter().map(rows::application::<B>).collect()
    }

    async fn update_application(&self, app: &Application, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut args = vec![key(&app.client_id)];
        args.extend_from_slice(&application_args(app));
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::OIDC_SQL.update_application, &args).await?)?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn delete_application(&self, client_id: &str, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::OIDC_SQL.delete_application, &[key(client_id)]).await?)?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn create_grant(&self, g: &Grant, audit: &NewAuditEvent) -> StoreResult<()> {
        let user = g.user_id.to_string();
        let session = g.session_id.to_string();
        let args = vec![
            text(&g.id),
            bytes(&g.code_hash),
            text(&g.client_id),
            text(&user),
            text(&session),
            text(&g.redirect_uri),
            text(&g.scope),
            Arg::Text(g.nonce.as_deref()),
            text(&g.code_challenge),
            ms(g.auth_time),
            text(&g.amr),
            Arg::Text(g.acr.as_deref()),
            ms(g.created_at),
            ms(g.code_expires_at),
        ];
        if let Some(sql) = B::OIDC_SQL.create_grant_at_once {
            let a = AuditArgs::new(audit);
            let mut all = args.clone();
            a.push(audit, &mut all);
            if self.write_at_once(sql, &all).await? {
                return Ok(());
            }
        }
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, B::OIDC_SQL.insert_grant, &args).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn find_grant_by_code(&self, code_hash: &[u8; 32]) -> StoreResult<Option<Grant>> {
        let found =
            exec::optional::<B>(&mut *self.conn().await?, B::OIDC_SQL.grant_by_code, &[bytes(code_hash)]).await?;
        found.as_ref().map(rows::grant::<B>).transpose()
    }

    async fn get_grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        let found = exec::optional::<B>(&mut *self.conn().await?, B::OIDC_SQL.grant, &[key(id)]).await?;
        found.as_ref().map(rows::grant::<B>).transpose()
    }

    async fn redeem_code(
        &self,
        grant_id: &str,
        now: Timestamp,
        refresh: Option<&RefreshToken>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let sql = B::OIDC_SQL;
        if let Some(at_once) = sql.redeem_code_at_once {
            let a = AuditArgs::new(audit);
            let mut args = vec![
                key(grant_id),
                ms(now),
                Arg::Bytes(refresh.map(|r| &r.token_hash[..])),
                Arg::Int(refresh.map(|r| r.created_at.as_millis())),
                Arg::Int(refresh.map(|r| r.expires_at.as_millis())),
            ];
            a.push(audit, &mut args);
            if refresh.is_none_or(|r| r.grant_id == grant_id) && self.write_at_once(at_once, &args).await? {
                return Ok(());
            }
        }
        let mut tx = self.begin().await?;
        // The conditional update is the one-time rule: of two racing redemptions exactly one
        // changes the row.
        if exec::execute::<B>(&mut tx, sql.redeem_code, &[key(grant_id), ms(now)]).await? == 0 {
            let found = exec::optional::<B>(&mut tx, sql.grant, &[key(grant_id)]).await?;
            let grant = found.as_ref().map(rows::grant::<B>).transpose()?;
            return Err(match grant {
                None => StoreError::NotFound,
                Some(g) if g.code_used_at.is_some() || g.revoked_at.is_some() => StoreError::Conflict("code_used"),
                Some(_) => StoreError::Conflict("code_expired"),
            });
        }
        if let Some(r) = refresh {
            insert_refresh::<B>(&mut tx, r).await?;
        }
        audit_and_commit::<B>(tx, audit).await
    }

    async fn find_refresh_token(&self, token_hash: &[u8; 32]) -> StoreResult<Option<(RefreshToken, Grant)>> {
        // One statement: a refresh token always has its grant (a foreign key, deleted with it).
        let sql = B::OIDC_SQL.refresh_with_grant;
        let Some(row) = exec::optional::<B>(&mut *self.conn().await?, sql, &[bytes(token_hash)]).await? else {
            return Ok(None);
        };
        Ok(Some((
            rows::refresh_token_as::<B>(&row, "t_")?,
            rows::grant::<B>(&row)?,
        )))
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &[u8; 32],
        now: Timestamp,
        new: &RefreshToken,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        if let Some(at_once) = B::OIDC_SQL.rotate_refresh_at_once {
            let a = AuditArgs::new(audit);
            let mut args = vec![
                bytes(old_hash),
                ms(now),
                bytes(&new.token_hash),
                key(&new.grant_id),
                ms(new.created_at),
                ms(new.expires_at),
            ];
            a.push(audit, &mut args);
            if self.write_at_once(at_once, &args).await? {
                return Ok(());
            }
        }
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, B::OIDC_SQL.use_refresh, &[bytes(old_hash), ms(now)]).await? == 0 {
            return Err(StoreError::Conflict("refresh_used"));
        }
        insert_refresh::<B>(&mut tx, new).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn revoke_grant(&self, grant_id: &str, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if exec::execute::<B>(&mut tx, B::OIDC_SQL.revoke_grant, &[key(grant_id), ms(now)]).await? == 0 {
            return Ok(false);
        }
        audit_and_commit::<B>(tx, audit).await?;
        Ok(true)
    }

    async fn revoke_session_grants(
        &self,
        session: SessionId,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<u64> {
        let session = session.to_string();
        let sql = B::OIDC_SQL;
        self.revoke_where(
            sql.enqueue_session_logouts,
            sql.revoke_session_grants,
            key(&session),
            now,
            audit,
        )
        .await
    }

    async fn revoke_user_grants(&self, user: UserId, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<u64> {
        let user = user.to_string();
        let sql = B::OIDC_SQL;
        self.revoke_where(sql.enqueue_user_logouts, sql.revoke_user_grants, key(&user), now, audit)
            .await
    }

    async fn revoke_credential_grants(
        &self,
        credential_id: &[u8],
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<u64> {
        let sql = B::OIDC_SQL;
        self.revoke_where(
            sql.enqueue_credential_logouts,
            sql.revoke_credential_grants,
            bytes(credential_id),
            now,
            audit,
        )
        .await
    }

    async fn due_logouts(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<LogoutDelivery>> {
        let found = exec::all::<B>(
            &mut *self.conn().await?,
            B::OIDC_SQL.due_logouts,
            &[ms(now), int(i64::from(limit))],
        )
        .await?;
        found.iter().map(rows::logout_delivery::<B>).collect()
    }

    async fn record_logout_attempt(
        &self,
        grant_id: &str,
        now: Timestamp,
        attempt: &LogoutAttempt,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<()> {
        let sql = B::OIDC_SQL;
        let mut tx = self.begin().await?;
        let changed = match attempt {
            LogoutAttempt::Delivered => {
                exec::execute::<B>(&mut tx, sql.logout_delivered, &[key(grant_id), ms(now)]).await?
            }
            LogoutAttempt::Retry { next_attempt_at, error } => {
                let args = [key(grant_id), ms(*next_attempt_at), text(error)];
                exec::execute::<B>(&mut tx, sql.logout_retry, &args).await?
            }
            LogoutAttempt::Failed { error } => {
                exec::execute::<B>(&mut tx, sql.logout_failed, &[key(grant_id), ms(now), text(error)]).await?
            }
        };
        one_row(changed)?;
        if let Some(a) = audit {
            insert_audit::<B>(&mut tx, a).await?;
        }
        crate::store::commit::<B>(tx).await
    }

    async fn purge_logouts(&self, before: Timestamp) -> StoreResult<u64> {
        self.execute(B::OIDC_SQL.purge_logouts, &[ms(before)]).await
    }

    async fn previous_secrets(&self, client_id: &str, now: Timestamp) -> StoreResult<Vec<String>> {
        let found = exec::all::<B>(
            &mut *self.conn().await?,
            B::OIDC_SQL.previous_secrets,
            &[key(client_id), ms(now)],
        )
        .await?;
        found.iter().map(rows::secret_hash::<B>).collect()
    }

    async fn rotate_application_secret(
        &self,
        client_id: &str,
        new_hash: &str,
        now: Timestamp,
        previous_expires_at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let sql = B::OIDC_SQL;
        let mut tx = self.begin().await?;
        let found = exec::optional::<B>(&mut tx, sql.application, &[key(client_id)]).await?;
        let app = found.as_ref().map(rows::application::<B>).transpose()?;
        match app {
            None => return Err(StoreError::NotFound),
            Some(a) if a.secret_hash.is_none() => return Err(StoreError::Conflict("public_client")),
            Some(_) => {}
        }
        exec::execute::<B>(&mut tx, sql.purge_previous_secrets, &[key(client_id), ms(now)]).await?;
        exec::execute::<B>(
            &mut tx,
            sql.keep_previous_secret,
            &[key(client_id), ms(previous_expires_at)],
        )
        .await?;
        one_row(
            exec::execute::<B>(
                &mut tx,
                sql.set_application_secret,
                &[key(client_id), text(new_hash), ms(now)],
            )
            .await?,
        )?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn spend_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let sql = B::OIDC_SQL;
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, sql.purge_client_assertions, &[key(client_id), ms(now)]).await?;
        let args = [text(client_id), text(jti), ms(expires_at)];
        let fresh = exec::execute::<B>(&mut tx, sql.spend_client_assertion, &args).await? == 1;
        crate::store::commit::<B>(tx).await?;
        Ok(fresh)
    }
}

impl<B: Backend> SqlStore<B> {
    /// Runs one of the revoke-many statements (`$1` the selector, `$2` now), after its
    /// statement queueing back-channel logouts for the grants it is about to revoke, and
    /// appends the audit event when it revoked any grant, in one transaction.
    async fn revoke_where(
        &self,
        enqueue: &str,
        sql: &str,
        selector: Arg<'_>,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        exec::execute::<B>(&mut tx, enqueue, &[selector, ms(now)]).await?;
        let n = exec::execute::<B>(&mut tx, sql, &[selector, ms(now)]).await?;
        if n > 0 {
            insert_audit::<B>(&mut tx, audit).await?;
        }
        crate::store::commit::<B>(tx).await?;
        Ok(n)
    }
}

async fn insert_refresh<B: Backend>(conn: &mut exec::Connection<B>, r: &RefreshToken) -> StoreResult<()> {
    let args = [
        bytes(&r.token_hash),
        text(&r.grant_id),
        ms(r.created_at),
        ms(r.expires_at),
    ];
    exec::execute::<B>(conn, B::OIDC_SQL.insert_refresh, &args).await?;
    Ok(())
}
