//! Group policies, for the JSON routes, the console and the CLI alike: list, read, create,
//! replace, delete (administrators; helpdesk staff read), every change audited with its
//! before/after diff; a user's effective policy; the lock-out preview; and the checks the
//! ceremonies call (registration, every sign-in).
//!
//! The built-in default policy is the global settings (`user_verification`,
//! `require_trusted_attestation`) targeting everyone: it is made from the configuration, not
//! stored, and cannot be edited or deleted here (change the settings instead). With it, a
//! deployment without stored policies behaves as before: see docs/policies.md.
//!
//! A change that would leave people without a usable key (the preview's
//! `usersLeftWithoutUsableKey`) is saved only with an explicit confirmation, and its audit
//! event carries the preview's numbers.

use std::collections::{BTreeMap, HashMap};

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::ids::PolicyId;
use keyfleet_domain::policy::{
    self, Attestation, DEFAULT_POLICY_ID, EffectivePolicy, KeyFacts, Policy, PolicyDraft, PolicySettings, Refusal,
    SignInPolicies, Targets, UserVerification, format_aaguid,
};
use keyfleet_domain::report::Aaguid;
use keyfleet_domain::user::{User, UserQuery};
use keyfleet_domain::{GroupId, StoreError, UserId};
use rand_core::OsRng;
use serde::Serialize;

use crate::access::{Permission, Principal, authorize};
use crate::audit::Detail;
use crate::config::CeremonyConfig;
use crate::{CoreError, Ctx};

/// The built-in default policy, made from the global settings: `user_verification` as
/// configured; attestation required when `require_trusted_attestation` is on and roots are
/// configured (without roots trust is not evaluated, as before); everything else permissive.
pub fn default_policy(config: &CeremonyConfig) -> Policy {
    let mut settings = PolicySettings::permissive();
    settings.user_verification =
        UserVerification::parse(&config.user_verification).unwrap_or(UserVerification::Preferred);
    if config.require_trusted_attestation && !config.anchors.is_empty() {
        settings.attestation = Attestation::Required;
    }
    Policy {
        id: DEFAULT_POLICY_ID,
        name: "Default".to_owned(),
        include: Targets::All,
        exclude: Vec::new(),
        settings,
        created_at: keyfleet_domain::Timestamp::from_millis(0),
        updated_at: keyfleet_domain::Timestamp::from_millis(0),
    }
}

/// The default policy and every stored one, default first, then by name.
pub async fn list(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<Policy>, CoreError> {
    authorize(ctx, principal, Permission::ReadPolicies).await?;
    all_policies(ctx).await
}

async fn all_policies(ctx: &Ctx<'_>) -> Result<Vec<Policy>, CoreError> {
    let mut all = vec![default_policy(&ctx.config.ceremonies)];
    all.extend(ctx.stores.policies.list_policies().await?);
    Ok(all)
}

/// One policy (the default included).
pub async fn get(ctx: &Ctx<'_>, principal: &Principal, id: PolicyId) -> Result<Policy, CoreError> {
    authorize(ctx, principal, Permission::ReadPolicies).await?;
    if id == DEFAULT_POLICY_ID {
        return Ok(default_policy(&ctx.config.ceremonies));
    }
    ctx.stores.policies.get_policy(id).await?.ok_or(CoreError::NotFound)
}

fn invalid(e: &policy::PolicyError) -> CoreError {
    CoreError::invalid("invalid_field", e.to_string())
}

fn builtin() -> CoreError {
    CoreError::conflict(
        "policy_builtin",
        "the default policy is the global settings (user_verification, require_trusted_attestation); change those instead",
    )
}

/// Validates a draft and checks that the groups it names exist (`unknown_group`).
async fn validated(ctx: &Ctx<'_>, draft: &PolicyDraft) -> Result<policy::ValidPolicy, CoreError> {
    let valid = policy::validate(draft).map_err(|e| invalid(&e))?;
    let named: Vec<GroupId> = match &valid.include {
        Targets::All => Vec::new(),
        Targets::Groups(g) => g.clone(),
    }
    .into_iter()
    .chain(valid.exclude.iter().copied())
    .collect();
    if !named.is_empty() {
        let groups = ctx.stores.groups.list_groups().await?;
        if let Some(missing) = named.iter().find(|g| !groups.iter().any(|x| x.id == **g)) {
            return Err(CoreError::invalid(
                "unknown_group",
                format!("no group has the id {missing}"),
            ));
        }
    }
    Ok(valid)
}

/// What a saved change did, with the preview it was saved against.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The policy as stored.
    pub policy: Policy,
    /// What it does to existing keys.
    pub preview: Preview,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FieldChange {
    field: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyChanged<'a> {
    name: &'a str,
    changes: Vec<FieldChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials_refused: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users_left_without_usable_key: Option<usize>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    confirmed: bool,
}
impl Detail for PolicyChanged<'_> {}

fn ids_text(ids: &[GroupId]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// A policy's fields as text, in the API's names (for the audit diff).
fn fields(p: &Policy) -> Vec<(&'static str, String)> {
    let s = &p.settings;
    vec![
        ("name", p.name.clone()),
        (
            "includeGroups",
            match &p.include {
                Targets::All => "all".to_owned(),
                Targets::Groups(g) => ids_text(g),
            },
        ),
        ("excludeGroups", ids_text(&p.exclude)),
        ("selfServiceRegistration", s.self_service_registration.to_string()),
        ("userVerification", s.user_verification.as_str().to_owned()),
        ("attestation", s.attestation.as_str().to_owned()),
        ("passkeyTypes", s.passkey_types.names().join(",")),
        (
            "keyRestrictions",
            s.key_restrictions.as_ref().map_or_else(String::new, |k| {
                format!(
                    "{}:{}",
                    k.enforcement.as_str(),
                    k.aaguids.iter().map(format_aaguid).collect::<Vec<_>>().join(",")
                )
            }),
        ),
        ("blockCompromisedModels", s.block_compromised_models.to_string()),
        (
            "maxKeysPerUser",
            s.max_keys_per_user.map_or_else(|| "null".to_owned(), |n| n.to_string()),
        ),
    ]
}

fn diff(before: Option<&Policy>, after: Option<&Policy>) -> Vec<FieldChange> {
    let b = before.map(fields).unwrap_or_default();
    let a = after.map(fields).unwrap_or_default();
    let names: Vec<&'static str> = b.iter().chain(a.iter()).map(|(n, _)| *n).collect();
    let mut seen = Vec::new();
    names
        .into_iter()
        .filter(|n| {
            let first = !seen.contains(n);
            seen.push(*n);
            first
        })
        .filter_map(|n| {
            let bv = b.iter().find(|(f, _)| *f == n).map(|(_, v)| v.clone());
            let av = a.iter().find(|(f, _)| *f == n).map(|(_, v)| v.clone());
            (bv != av).then_some(FieldChange {
                field: n,
                before: bv,
                after: av,
            })
        })
        .collect()
}

fn stranding(preview: &Preview, confirm: bool) -> Result<(), CoreError> {
    if !preview.users_left_without_usable_key.is_empty() && !confirm {
        return Err(CoreError::conflict(
            "confirmation_required",
            format!(
                "this change leaves {} user(s) without a usable key and refuses {} key(s); preview it and confirm",
                preview.users_left_without_usable_key.len(),
                preview.credentials_refused
            ),
        ));
    }
    Ok(())
}

fn name_taken(e: StoreError) -> CoreError {
    match e {
        StoreError::Conflict("policy_name") => {
            CoreError::conflict("policy_name_taken", "a policy with this name already exists")
        }
        StoreError::NotFound => CoreError::invalid("unknown_group", "a group the policy names no longer exists"),
        e => e.into(),
    }
}

/// Creates a policy. When it would leave people without a usable key, `confirm` must be set
/// (`confirmation_required` otherwise, nothing saved).
pub async fn create(
    ctx: &Ctx<'_>,
    principal: &Principal,
    draft: &PolicyDraft,
    confirm: bool,
) -> Result<Saved, CoreError> {
    authorize(ctx, principal, Permission::ManagePolicies).await?;
    let valid = validated(ctx, draft).await?;
    let policy = Policy {
        id: PolicyId::new_random(&mut OsRng),
        name: valid.name,
        include: valid.include,
        exclude: valid.exclude,
        settings: valid.settings,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let preview = preview_of(ctx, &policy, None).await?;
    stranding(&preview, confirm)?;
    let detail = PolicyChanged {
        name: &policy.name,
        changes: diff(None, Some(&policy)),
        credentials_refused: Some(preview.credentials_refused),
        users_left_without_usable_key: Some(preview.users_left_without_usable_key.len()),
        confirmed: confirm && !preview.users_left_without_usable_key.is_empty(),
    };
    let audit = ctx.audit_with(Action::PolicyCreate, Some(Target::Policy(policy.id)), &detail);
    ctx.stores
        .policies
        .create_policy(&policy, &audit)
        .await
        .map_err(name_taken)?;
    Ok(Saved { policy, preview })
}

/// Replaces a policy's name, targets and settings (the same confirmation rule as
/// [`create`]).
pub async fn replace(
    ctx: &Ctx<'_>,
    principal: &Principal,
    id: PolicyId,
    draft: &PolicyDraft,
    confirm: bool,
) -> Result<Saved, CoreError> {
    authorize(ctx, principal, Permission::ManagePolicies).await?;
    if id == DEFAULT_POLICY_ID {
        return Err(builtin());
    }
    let before = ctx.stores.policies.get_policy(id).await?.ok_or(CoreError::NotFound)?;
    let valid = validated(ctx, draft).await?;
    let policy = Policy {
        id,
        name: valid.name,
        include: valid.include,
        exclude: valid.exclude,
        settings: valid.settings,
        created_at: before.created_at,
        updated_at: ctx.now,
    };
    let preview = preview_of(ctx, &policy, Some(id)).await?;
    stranding(&preview, confirm)?;
    let detail = PolicyChanged {
        name: &policy.name,
        changes: diff(Some(&before), Some(&policy)),
        credentials_refused: Some(preview.credentials_refused),
        users_left_without_usable_key: Some(preview.users_left_without_usable_key.len()),
        confirmed: confirm && !preview.users_left_without_usable_key.is_empty(),
    };
    let audit = ctx.audit_with(Action::PolicyUpdate, Some(Target::Policy(id)), &detail);
    ctx.stores
        .policies
        .replace_policy(&policy, &audit)
        .await
        .map_err(name_taken)?;
    Ok(Saved { policy, preview })
}

/// Deletes a policy (only ever loosens: no preview needed).
pub async fn delete(ctx: &Ctx<'_>, principal: &Principal, id: PolicyId) -> Result<(), CoreError> {
    authorize(ctx, principal, Permission::ManagePolicies).await?;
    if id == DEFAULT_POLICY_ID {
        return Err(builtin());
    }
    let before = ctx.stores.policies.get_policy(id).await?.ok_or(CoreError::NotFound)?;
    let detail = PolicyChanged {
        name: &before.name,
        changes: diff(Some(&before), None),
        credentials_refused: None,
        users_left_without_usable_key: None,
        confirmed: false,
    };
    let audit = ctx.audit_with(Action::PolicyDelete, Some(Target::Policy(id)), &detail);
    ctx.stores.policies.delete_policy(id, &audit).await?;
    Ok(())
}

/// A user's effective policy.
pub async fn effective_for_user(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: UserId,
) -> Result<EffectivePolicy, CoreError> {
    authorize(ctx, principal, Permission::ReadPolicies).await?;
    ctx.stores.users.get_user(user).await?.ok_or(CoreError::NotFound)?;
    Ok(effective(ctx, user).await?)
}

/// The effective policy of `user` (no permission check: the ceremonies' own read).
pub async fn effective(ctx: &Ctx<'_>, user: UserId) -> Result<EffectivePolicy, StoreError> {
    let read = ctx.stores.policies.sign_in_policies(user, &[0; 16]).await?;
    Ok(with_default(ctx, read.policies))
}

/// The default policy (from the settings) combined with the stored `policies` that target a
/// user: their effective policy.
fn with_default(ctx: &Ctx<'_>, policies: impl IntoIterator<Item = Policy>) -> EffectivePolicy {
    let mut applying = vec![default_policy(&ctx.config.ceremonies)];
    applying.extend(policies);
    EffectivePolicy::combine(&applying)
}

/// The sign-in's check, after the assertion verified: may this stored key of its owner sign
/// in, with this UV flag? `read` is what the sign-in's one store read
/// ([`keyfleet_domain::policy::PolicyStore::sign_in_read`]) brought: the owner's policies and
/// the model's compromised flag; nothing more is read.
pub fn check_sign_in(
    ctx: &Ctx<'_>,
    read: &SignInPolicies,
    credential: &Credential,
    user_verified: bool,
) -> Result<(), Refusal> {
    with_default(ctx, read.policies.iter().cloned())
        .may_sign_in(&KeyFacts::of(credential, read.model_compromised), user_verified)
}

/// For each of `user`'s keys, why their policy no longer allows it (`None`: allowed).
pub async fn key_standing(
    ctx: &Ctx<'_>,
    user: UserId,
    keys: &[Credential],
) -> Result<Vec<Option<Refusal>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let eff = effective(ctx, user).await?;
    let mut flags = CompromisedCache::default();
    let aaguids: Vec<Aaguid> = keys.iter().map(|k| k.aaguid).collect();
    flags.prefetch(ctx, &aaguids).await?;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let compromised = flags.get(ctx, &k.aaguid).await?;
        out.push(eff.stored_key_allowed(&KeyFacts::of(k, compromised)).err());
    }
    Ok(out)
}

#[derive(Default)]
struct CompromisedCache(HashMap<Aaguid, bool>);

impl CompromisedCache {
    /// Reads the flags of every one of `aaguids` not known yet, in one query.
    async fn prefetch(&mut self, ctx: &Ctx<'_>, aaguids: &[Aaguid]) -> Result<(), StoreError> {
        let mut wanted: Vec<Aaguid> = aaguids.iter().filter(|a| !self.0.contains_key(*a)).copied().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let found = crate::metadata::entries_of(ctx, &wanted).await?;
        for aaguid in wanted {
            self.0.insert(aaguid, found.get(&aaguid).is_some_and(|e| e.compromised));
        }
        Ok(())
    }

    async fn get(&mut self, ctx: &Ctx<'_>, aaguid: &Aaguid) -> Result<bool, StoreError> {
        if let Some(v) = self.0.get(aaguid) {
            return Ok(*v);
        }
        let v = ctx
            .stores
            .metadata
            .metadata_entry(aaguid)
            .await?
            .is_some_and(|e| e.compromised);
        self.0.insert(*aaguid, v);
        Ok(v)
    }
}

/// What a proposed policy would do to the keys people hold now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    /// Keys usable now that it would refuse.
    pub credentials_refused: usize,
    /// People with a usable key now who would be left with none, by username.
    pub users_left_without_usable_key: Vec<StrandedUser>,
    /// The refused keys by model, most first (ties by AAGUID).
    pub by_model: Vec<ModelRefused>,
}

/// Someone a change would leave without a usable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrandedUser {
    /// Their id.
    pub id: UserId,
    /// Their username.
    pub username: String,
    /// How many keys they hold.
    pub keys: usize,
}

/// Refused keys of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRefused {
    /// The model.
    pub aaguid: Aaguid,
    /// How many of its keys would be refused.
    pub credentials_refused: usize,
}

/// The lock-out preview of a draft (optionally replacing the stored policy `replacing`).
pub async fn preview(
    ctx: &Ctx<'_>,
    principal: &Principal,
    draft: &PolicyDraft,
    replacing: Option<PolicyId>,
) -> Result<Preview, CoreError> {
    authorize(ctx, principal, Permission::ReadPolicies).await?;
    if replacing == Some(DEFAULT_POLICY_ID) {
        return Err(builtin());
    }
    if let Some(id) = replacing {
        ctx.stores.policies.get_policy(id).await?.ok_or(CoreError::NotFound)?;
    }
    let valid = validated(ctx, draft).await?;
    let proposed = Policy {
        id: replacing.unwrap_or_else(|| PolicyId::new_random(&mut OsRng)),
        name: valid.name,
        include: valid.include,
        exclude: valid.exclude,
        settings: valid.settings,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    preview_of(ctx, &proposed, replacing).await
}

/// Users per page while the preview walks the fleet.
const PREVIEW_PAGE: u32 = 500;

/// Compares, for each person the proposed policy targets, which keys are usable under the
/// policies in force and under them with the proposal (replacing `replacing`). People are
/// taken a page of [`PREVIEW_PAGE`] at a time, with their keys, groups and the keys' models
/// read for the whole page in one query each: the preview of a policy for everyone costs a
/// few statements per 500 people, not two per person, and holds one page in memory.
async fn preview_of(ctx: &Ctx<'_>, proposed: &Policy, replacing: Option<PolicyId>) -> Result<Preview, CoreError> {
    let current = all_policies(ctx).await?;
    let mut next: Vec<Policy> = current.iter().filter(|p| Some(p.id) != replacing).cloned().collect();
    next.push(proposed.clone());
    let mut run = PreviewRun {
        proposed,
        current: &current,
        next: &next,
        flags: CompromisedCache::default(),
        out: Preview::default(),
        by_model: BTreeMap::new(),
    };
    let page_size = usize::try_from(PREVIEW_PAGE).unwrap_or(usize::MAX);
    match &proposed.include {
        Targets::Groups(groups) => {
            let mut users: BTreeMap<String, User> = BTreeMap::new();
            for g in groups {
                for u in ctx.stores.groups.list_members(*g).await? {
                    users.insert(u.username.as_str().to_owned(), u);
                }
            }
            let users: Vec<User> = users.into_values().collect();
            for page in users.chunks(page_size) {
                run.page(ctx, page).await?;
            }
        }
        Targets::All => {
            let mut after = None;
            loop {
                let page = ctx
                    .stores
                    .users
                    .list_users(&UserQuery {
                        search: None,
                        after: after.clone(),
                        limit: PREVIEW_PAGE,
                    })
                    .await?;
                run.page(ctx, &page).await?;
                if page.len() < page_size {
                    break;
                }
                after = page.last().map(|u| u.username.as_str().to_owned());
            }
        }
    }
    let PreviewRun { mut out, by_model, .. } = run;
    let mut models: Vec<ModelRefused> = by_model
        .into_iter()
        .map(|(aaguid, credentials_refused)| ModelRefused {
            aaguid,
            credentials_refused,
        })
        .collect();
    models.sort_by(|a, b| {
        b.credentials_refused
            .cmp(&a.credentials_refused)
            .then(a.aaguid.cmp(&b.aaguid))
    });
    out.by_model = models;
    Ok(out)
}

/// A preview being counted, page by page.
struct PreviewRun<'a> {
    proposed: &'a Policy,
    current: &'a [Policy],
    next: &'a [Policy],
    flags: CompromisedCache,
    out: Preview,
    by_model: BTreeMap<Aaguid, usize>,
}

impl PreviewRun<'_> {
    /// Counts one page of people, in the page's order (by username).
    async fn page(&mut self, ctx: &Ctx<'_>, users: &[User]) -> Result<(), CoreError> {
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        let mut keys_of: HashMap<UserId, Vec<Credential>> = HashMap::new();
        for k in ctx.stores.credentials.list_credentials_of_users(&ids).await? {
            keys_of.entry(k.user_id).or_default().push(k);
        }
        if keys_of.is_empty() {
            return Ok(());
        }
        let holders: Vec<UserId> = ids.iter().copied().filter(|id| keys_of.contains_key(id)).collect();
        let mut groups_of: HashMap<UserId, Vec<GroupId>> = HashMap::new();
        for (user, group) in ctx.stores.groups.list_groups_of_users(&holders).await? {
            groups_of.entry(user).or_default().push(group.id);
        }
        let aaguids: Vec<Aaguid> = keys_of.values().flatten().map(|k| k.aaguid).collect();
        self.flags.prefetch(ctx, &aaguids).await?;
        for user in users {
            let Some(keys) = keys_of.get(&user.id) else {
                continue;
            };
            let groups = groups_of.get(&user.id).map(Vec::as_slice).unwrap_or_default();
            if !self.proposed.targets(groups) {
                continue;
            }
            let combine = |ps: &[Policy]| {
                let applying: Vec<Policy> = ps.iter().filter(|p| p.targets(groups)).cloned().collect();
                EffectivePolicy::combine(&applying)
            };
            let (before, after) = (combine(self.current), combine(self.next));
            let (mut usable_before, mut usable_after) = (0, 0);
            for k in keys {
                let facts = KeyFacts::of(k, self.flags.get(ctx, &k.aaguid).await?);
                let was = !k.possibly_cloned && before.stored_key_allowed(&facts).is_ok();
                let will = !k.possibly_cloned && after.stored_key_allowed(&facts).is_ok();
                usable_before += usize::from(was);
                usable_after += usize::from(will);
                if was && !will {
                    self.out.credentials_refused += 1;
                    *self.by_model.entry(k.aaguid).or_default() += 1;
                }
            }
            if usable_before > 0 && usable_after == 0 {
                self.out.users_left_without_usable_key.push(StrandedUser {
                    id: user.id,
                    username: user.username.as_str().to_owned(),
                    keys: keys.len(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_names_changed_fields_only() {
        let mut a = Policy {
            id: PolicyId::new_random(&mut OsRng),
            name: "p".into(),
            include: Targets::All,
            exclude: Vec::new(),
            settings: PolicySettings::permissive(),
            created_at: keyfleet_domain::Timestamp::from_millis(0),
            updated_at: keyfleet_domain::Timestamp::from_millis(0),
        };
        let before = a.clone();
        a.settings.user_verification = UserVerification::Required;
        a.settings.max_keys_per_user = Some(2);
        let d = diff(Some(&before), Some(&a));
        let names: Vec<_> = d.iter().map(|c| c.field).collect();
        assert_eq!(names, ["userVerification", "maxKeysPerUser"]);
        assert_eq!(d[0].before.as_deref(), Some("discouraged"));
        assert_eq!(d[0].after.as_deref(), Some("required"));
        assert_eq!(diff(None, Some(&a)).len(), fields(&a).len());
    }
}
