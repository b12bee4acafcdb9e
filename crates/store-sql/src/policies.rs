//! Group policies: one row per policy, and its targeted groups in `policy_groups` (so the
//! policies of one user are found by a join over indexes, at sign-in, in one statement).

use async_trait::async_trait;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::ids::{CeremonyId, PolicyId};
use keyfleet_domain::policy::{
    FailureWindow, Policy, PolicyStore, SignInLookup, SignInPolicies, SignInRead, SignInReading, Targets,
};
use keyfleet_domain::report::Aaguid;
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::{StoreError, UserId};

use crate::backend::Backend;
use crate::exec::{self, Arg, Connection, bytes, int, key, ms, text};
use crate::rate_limit::count;
use crate::rows;
use crate::store::{SqlStore, audit_and_commit, one_row};

/// The policy statements of a backend, by what they do (parameters `$1`, `$2`, … in the order
/// given). Policies are read with the columns of `policies` plus `include_groups` and
/// `exclude_groups`, each the group ids joined by commas (NULL for none).
#[derive(Debug)]
pub struct PolicySql {
    /// Inserts a policy: id, name, name_key, include_all, self_service_registration,
    /// user_verification, attestation, allow_device_bound, allow_synced, enforcement,
    /// aaguids (a list of byte strings), block_compromised_models, max_keys_per_user,
    /// created_at, updated_at.
    pub insert_policy: &'static str,
    /// Replaces a policy's fields: the parameters of `insert_policy` but created_at (id …
    /// max_keys_per_user, updated_at).
    pub update_policy: &'static str,
    /// Deletes a policy (its groups cascade): id.
    pub delete_policy: &'static str,
    /// Adds a targeted group: policy_id, group_id, kind (`include`, `exclude`).
    pub insert_policy_group: &'static str,
    /// Forgets a policy's groups: policy_id.
    pub delete_policy_groups: &'static str,
    /// A policy by id.
    pub policy_by_id: &'static str,
    /// Every policy by name.
    pub list_policies: &'static str,
    /// The policies that target a user, plus `model_compromised` (the metadata's flag for an
    /// AAGUID, NULL when unknown); one row with NULL policy columns when none targets them:
    /// user, aaguid.
    pub sign_in_policies: &'static str,
    /// `sign_in_policies` joined to a key and its owner, after the spent flag of a ceremony:
    /// one row per targeting policy (or one with NULL policy columns), each with
    /// `ceremony_spent`, the key's columns (by name), the owner's (prefixed `u_`) and
    /// `model_compromised` for the key's AAGUID and `member_of`, the owner's group names
    /// as a JSON array in name order; a row of NULLs but `ceremony_spent` when there is no
    /// such key: credential id, ceremony id.
    pub sign_in_read: &'static str,
}

async fn write_groups<B: Backend>(conn: &mut Connection<B>, policy: &Policy) -> StoreResult<()> {
    let sql = B::POLICY_SQL;
    let id = policy.id.to_string();
    let included: &[keyfleet_domain::GroupId] = match &policy.include {
        Targets::All => &[],
        Targets::Groups(g) => g,
    };
    let rows = included
        .iter()
        .map(|g| (g, "include"))
        .chain(policy.exclude.iter().map(|g| (g, "exclude")));
    for (group, kind) in rows {
        let group = group.to_string();
        exec::execute::<B>(conn, sql.insert_policy_group, &[text(&id), text(&group), text(kind)]).await?;
    }
    Ok(())
}

fn policy_args<'a>(p: &'a Policy, id: &'a str, name_key: &'a str, aaguids: &'a [Vec<u8>]) -> [Arg<'a>; 15] {
    let s = &p.settings;
    [
        text(id),
        text(&p.name),
        text(name_key),
        Arg::Bool(p.include == Targets::All),
        Arg::Bool(s.self_service_registration),
        text(s.user_verification.as_str()),
        text(s.attestation.as_str()),
        Arg::Bool(s.passkey_types.device_bound),
        Arg::Bool(s.passkey_types.synced),
        Arg::Text(s.key_restrictions.as_ref().map(|k| k.enforcement.as_str())),
        Arg::Blobs(aaguids),
        Arg::Bool(s.block_compromised_models),
        Arg::Int(s.max_keys_per_user.map(i64::from)),
        ms(p.created_at),
        ms(p.updated_at),
    ]
}

fn aaguid_blobs(p: &Policy) -> Vec<Vec<u8>> {
    p.settings
        .key_restrictions
        .as_ref()
        .map(|k| k.aaguids.iter().map(|a| a.to_vec()).collect())
        .unwrap_or_default()
}

#[async_trait]
impl<B: Backend> PolicyStore for SqlStore<B> {
    async fn create_policy(&self, policy: &Policy, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = policy.id.to_string();
        let name_key = policy.name.to_lowercase();
        let aaguids = aaguid_blobs(policy);
        let mut tx = self.begin().await?;
        exec::execute::<B>(
            &mut tx,
            B::POLICY_SQL.insert_policy,
            &policy_args(policy, &id, &name_key, &aaguids),
        )
        .await?;
        write_groups::<B>(&mut tx, policy).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn replace_policy(&self, policy: &Policy, audit: &NewAuditEvent) -> StoreResult<()> {
        let sql = B::POLICY_SQL;
        let id = policy.id.to_string();
        let name_key = policy.name.to_lowercase();
        let aaguids = aaguid_blobs(policy);
        let mut tx = self.begin().await?;
        let mut args = policy_args(policy, &id, &name_key, &aaguids).to_vec();
        args.remove(13);
        one_row(exec::execute::<B>(&mut tx, sql.update_policy, &args).await?)?;
        exec::execute::<B>(&mut tx, sql.delete_policy_groups, &[text(&id)]).await?;
        write_groups::<B>(&mut tx, policy).await?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn delete_policy(&self, id: PolicyId, audit: &NewAuditEvent) -> StoreResult<()> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        one_row(exec::execute::<B>(&mut tx, B::POLICY_SQL.delete_policy, &[key(&id)]).await?)?;
        audit_and_commit::<B>(tx, audit).await
    }

    async fn get_policy(&self, id: PolicyId) -> StoreResult<Option<Policy>> {
        let id = id.to_string();
        let found = exec::optional::<B>(&mut *self.conn().await?, B::POLICY_SQL.policy_by_id, &[key(&id)]).await?;
        found.as_ref().map(rows::policy::<B>).transpose()
    }

    async fn list_policies(&self) -> StoreResult<Vec<Policy>> {
        let found = exec::all::<B>(&mut *self.conn().await?, B::POLICY_SQL.list_policies, &[]).await?;
        found.iter().map(rows::policy::<B>).collect()
    }

    async fn sign_in_policies(&self, user: UserId, aaguid: &Aaguid) -> StoreResult<SignInPolicies> {
        let user = user.to_string();
        let found = exec::all::<B>(
            &mut *self.conn().await?,
            B::POLICY_SQL.sign_in_policies,
            &[key(&user), bytes(aaguid)],
        )
        .await?;
        policies_of::<B>(&found)
    }

    async fn sign_in_read(
        &self,
        credential_id: &[u8],
        ceremony: CeremonyId,
        failures: FailureWindow<'_>,
    ) -> StoreResult<SignInReading> {
        let ceremony = ceremony.to_string();
        // A failure key holding a NUL counts nothing, as `peek` answers for it; bound as NULL
        // it matches no row, and the key is still read (a NUL key would stop the statement).
        let failure_key = if crate::nul::has_nul(failures.key) {
            Arg::Key(None)
        } else {
            key(failures.key)
        };
        let found = exec::all::<B>(
            &mut *self.conn().await?,
            B::POLICY_SQL.sign_in_read,
            &[
                bytes(credential_id),
                key(&ceremony),
                failure_key,
                ms(failures.now),
                int(failures.window_ms),
            ],
        )
        .await?;
        // The statement answers at least one row (the spent flag and the failure count), the
        // key's columns NULL when there is no such key.
        let first = found
            .first()
            .ok_or_else(|| StoreError::Corrupt("the sign-in read answered no row".into()))?;
        let failures = <B::Db as exec::Driver>::int(first, "failures")
            .map_err(|e| StoreError::Corrupt(format!("failures: {e}")))?
            .map_or(0, count);
        let reading = |lookup| Ok(SignInReading { failures, lookup });
        let spent: Option<bool> = <B::Db as exec::Driver>::boolean(first, "ceremony_spent")
            .map_err(|e| StoreError::Corrupt(format!("ceremony_spent: {e}")))?;
        if spent.unwrap_or(false) {
            return reading(SignInLookup::Spent);
        }
        let owner: Option<String> =
            <B::Db as exec::Driver>::text(first, "u_id").map_err(|e| StoreError::Corrupt(format!("u_id: {e}")))?;
        if owner.is_none() {
            return reading(SignInLookup::UnknownKey);
        }
        let groups: Option<String> = <B::Db as exec::Driver>::text(first, "member_of")
            .map_err(|e| StoreError::Corrupt(format!("member_of: {e}")))?;
        let groups: Vec<String> = serde_json::from_str(groups.as_deref().unwrap_or("[]"))
            .map_err(|e| StoreError::Corrupt(format!("member_of: {e}")))?;
        reading(SignInLookup::Found(Box::new(SignInRead {
            credential: rows::credential::<B>(first)?,
            owner: rows::user::<B>(first, "u_")?,
            policies: policies_of::<B>(&found)?,
            groups,
        })))
    }
}

/// The policies and the model's flag in the rows of `sign_in_policies` or `sign_in_read`
/// (a row with a NULL policy id carries no policy).
fn policies_of<B: Backend>(found: &[exec::DbRow<B>]) -> StoreResult<SignInPolicies> {
    let mut out = SignInPolicies {
        policies: Vec::new(),
        model_compromised: false,
    };
    for row in found {
        let compromised: Option<bool> = <B::Db as exec::Driver>::boolean(row, "model_compromised")
            .map_err(|e| StoreError::Corrupt(format!("model_compromised: {e}")))?;
        out.model_compromised |= compromised.unwrap_or(false);
        let id: Option<String> =
            <B::Db as exec::Driver>::text(row, "p_id").map_err(|e| StoreError::Corrupt(format!("p_id: {e}")))?;
        if id.is_some() {
            out.policies.push(rows::policy::<B>(row)?);
        }
    }
    Ok(out)
}
