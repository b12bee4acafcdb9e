//! Group policies for security keys: which keys the people a policy targets may register and
//! sign in with (the shape follows Entra ID's FIDO2 method policy).
//!
//! Every policy that targets a user applies; per setting the strictest value wins, and the
//! [`EffectivePolicy`] records which policy decided each setting. The evaluation here is pure:
//! [`EffectivePolicy::may_register`] (a new key), [`EffectivePolicy::stored_key_allowed`] (a
//! key already held, for the lock-out preview and the "not allowed by policy" marks) and
//! [`EffectivePolicy::may_sign_in`] (a stored key with a verified assertion's UV flag).
//!
//! Rules worth stating:
//! - `none` and self attestation never satisfy an AAGUID allow list: without an attestation
//!   that reached a trusted root the AAGUID is only the authenticator's word.
//! - A block list refuses the AAGUID whatever the attestation.
//! - Passkey types are judged on the BE flag (backup eligibility), which never changes for a
//!   key: BE=0 is device-bound, BE=1 may be synced.

use async_trait::async_trait;
use thiserror::Error;

use crate::audit::NewAuditEvent;
use crate::credential::Credential;
use crate::ids::{CeremonyId, PolicyId};
use crate::report::Aaguid;
use crate::store::StoreResult;
use crate::user::User;
use crate::user::has_forbidden_formatting;
use crate::{GroupId, Timestamp, UserId};

/// Longest AAGUID list of one policy.
pub const MAX_AAGUIDS: usize = 500;
/// Largest `maxKeysPerUser`.
pub const MAX_KEYS_LIMIT: u32 = 100;
/// Most groups one policy names (included plus excluded).
pub const MAX_GROUPS: usize = 100;

/// The id of the built-in default policy (the global settings, targeting everyone).
pub const DEFAULT_POLICY_ID: PolicyId = PolicyId::from_uuid(uuid::Uuid::nil());

/// `userVerification`, ordered from the least to the most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UserVerification {
    /// The relying party would rather not have it.
    Discouraged,
    /// Asked for when the key can.
    Preferred,
    /// A key that did not verify its user is refused.
    Required,
}

impl UserVerification {
    /// Stable name (`required`, `preferred`, `discouraged`).
    pub fn as_str(self) -> &'static str {
        match self {
            UserVerification::Discouraged => "discouraged",
            UserVerification::Preferred => "preferred",
            UserVerification::Required => "required",
        }
    }

    /// The value with this stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "discouraged" => Some(UserVerification::Discouraged),
            "preferred" => Some(UserVerification::Preferred),
            "required" => Some(UserVerification::Required),
            _ => None,
        }
    }
}

/// `attestation`, ordered from the least to the most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Attestation {
    /// Any attestation, `none` included.
    None,
    /// The attestation must chain to a trusted root (MDS or a configured one).
    Required,
}

impl Attestation {
    /// Stable name (`none`, `required`).
    pub fn as_str(self) -> &'static str {
        match self {
            Attestation::None => "none",
            Attestation::Required => "required",
        }
    }

    /// The value with this stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Attestation::None),
            "required" => Some(Attestation::Required),
            _ => None,
        }
    }
}

/// Which kinds of passkey are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyTypes {
    /// Keys that cannot be backed up (BE=0).
    pub device_bound: bool,
    /// Keys that may be synced (BE=1).
    pub synced: bool,
}

impl PasskeyTypes {
    /// Both kinds.
    pub const ANY: PasskeyTypes = PasskeyTypes {
        device_bound: true,
        synced: true,
    };

    /// The stable names allowed (`deviceBound`, `synced`).
    pub fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.device_bound {
            v.push("deviceBound");
        }
        if self.synced {
            v.push("synced");
        }
        v
    }

    fn intersect(self, other: PasskeyTypes) -> PasskeyTypes {
        PasskeyTypes {
            device_bound: self.device_bound && other.device_bound,
            synced: self.synced && other.synced,
        }
    }
}

/// Whether the AAGUID list allows or blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Only the listed models.
    Allow,
    /// Every model but the listed ones.
    Block,
}

impl Enforcement {
    /// Stable name (`allow`, `block`).
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Allow => "allow",
            Enforcement::Block => "block",
        }
    }

    /// The value with this stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Enforcement::Allow),
            "block" => Some(Enforcement::Block),
            _ => None,
        }
    }
}

/// An AAGUID allow list or block list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRestrictions {
    /// Allow or block.
    pub enforcement: Enforcement,
    /// The models, sorted, without duplicates.
    pub aaguids: Vec<Aaguid>,
}

/// Whom a policy includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Everyone (`"all"`).
    All,
    /// The members of these groups (sorted, without duplicates).
    Groups(Vec<GroupId>),
}

/// What a policy asks of the keys of the people it targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySettings {
    /// Whether people may register keys themselves in the portal.
    pub self_service_registration: bool,
    /// User verification.
    pub user_verification: UserVerification,
    /// Attestation.
    pub attestation: Attestation,
    /// Allowed passkey kinds (at least one).
    pub passkey_types: PasskeyTypes,
    /// An AAGUID allow or block list, if any.
    pub key_restrictions: Option<KeyRestrictions>,
    /// Refuse models whose latest MDS status is a compromise.
    pub block_compromised_models: bool,
    /// Most keys one person may hold (`None`: no limit).
    pub max_keys_per_user: Option<u32>,
}

impl PolicySettings {
    /// The most permissive settings: a policy with these restricts nothing.
    pub fn permissive() -> Self {
        Self {
            self_service_registration: true,
            user_verification: UserVerification::Discouraged,
            attestation: Attestation::None,
            passkey_types: PasskeyTypes::ANY,
            key_restrictions: None,
            block_compromised_models: false,
            max_keys_per_user: None,
        }
    }
}

/// A policy as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Identifier ([`DEFAULT_POLICY_ID`] for the built-in default).
    pub id: PolicyId,
    /// Unique name (compared ignoring case).
    pub name: String,
    /// Whom it includes.
    pub include: Targets,
    /// Members of these groups are left out even when included (sorted, no duplicates).
    pub exclude: Vec<GroupId>,
    /// Its settings.
    pub settings: PolicySettings,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Policy {
    /// Whether this is the built-in default policy.
    pub fn is_builtin(&self) -> bool {
        self.id == DEFAULT_POLICY_ID
    }

    /// Whether it targets a member of exactly `groups`.
    pub fn targets(&self, groups: &[GroupId]) -> bool {
        let included = match &self.include {
            Targets::All => true,
            Targets::Groups(g) => g.iter().any(|g| groups.contains(g)),
        };
        included && !self.exclude.iter().any(|g| groups.contains(g))
    }

    /// Every group it names (included and excluded).
    pub fn groups(&self) -> impl Iterator<Item = GroupId> + '_ {
        let included: &[GroupId] = match &self.include {
            Targets::All => &[],
            Targets::Groups(g) => g,
        };
        included.iter().chain(self.exclude.iter()).copied()
    }
}

/// A field of a policy that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    /// The field, as the API names it (`includeGroups`, `keyRestrictions.aaguids`, …).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        field,
        message: message.into(),
    }
}

/// A policy as typed by someone, before validation (strings as the API carries them).
#[derive(Debug, Clone, Default)]
pub struct PolicyDraft {
    /// Name.
    pub name: String,
    /// `["all"]` or group ids.
    pub include_groups: Vec<String>,
    /// Group ids.
    pub exclude_groups: Vec<String>,
    /// Self-service registration.
    pub self_service_registration: bool,
    /// `required`, `preferred`, `discouraged`.
    pub user_verification: String,
    /// `none`, `required`.
    pub attestation: String,
    /// `deviceBound`, `synced`.
    pub passkey_types: Vec<String>,
    /// `(enforcement, aaguids)`, if any.
    pub key_restrictions: Option<(String, Vec<String>)>,
    /// Block compromised models.
    pub block_compromised_models: bool,
    /// Most keys per person.
    pub max_keys_per_user: Option<i64>,
}

/// A validated draft: everything a policy holds but its id and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPolicy {
    /// Trimmed name.
    pub name: String,
    /// Lower-case name, for uniqueness.
    pub name_key: String,
    /// Whom it includes.
    pub include: Targets,
    /// Whom it leaves out.
    pub exclude: Vec<GroupId>,
    /// Settings.
    pub settings: PolicySettings,
}

/// Parses an AAGUID written as a UUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, either case).
pub fn parse_aaguid(s: &str) -> Option<Aaguid> {
    let u = uuid::Uuid::try_parse(s).ok()?;
    (s.len() == 36).then_some(*u.as_bytes())
}

/// An AAGUID as a lower-case UUID.
pub fn format_aaguid(a: &Aaguid) -> String {
    uuid::Uuid::from_bytes(*a).hyphenated().to_string()
}

fn group_ids(field: &'static str, raw: &[String]) -> Result<Vec<GroupId>, PolicyError> {
    let mut ids = raw
        .iter()
        .map(|s| {
            s.parse::<GroupId>()
                .map_err(|_| bad(field, format!("{s:?} is not a group id")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Validates a draft (field by field, the first broken rule reported). Whether the named
/// groups exist is the caller's check (it needs the store).
pub fn validate(d: &PolicyDraft) -> Result<ValidPolicy, PolicyError> {
    let name = d.name.trim();
    if name.is_empty() || name.chars().count() > 64 || has_forbidden_formatting(name) {
        return Err(bad("name", "must be 1 to 64 printable characters"));
    }
    if d.include_groups.len() + d.exclude_groups.len() > MAX_GROUPS {
        return Err(bad("includeGroups", format!("at most {MAX_GROUPS} groups")));
    }
    let include = if d.include_groups.iter().any(|g| g == "all") {
        if d.include_groups.len() != 1 {
            return Err(bad("includeGroups", "\"all\" cannot be combined with groups"));
        }
        Targets::All
    } else if d.include_groups.is_empty() {
        return Err(bad("includeGroups", "name \"all\" or at least one group"));
    } else {
        Targets::Groups(group_ids("includeGroups", &d.include_groups)?)
    };
    let exclude = group_ids("excludeGroups", &d.exclude_groups)?;
    if let Targets::Groups(g) = &include
        && g.iter().any(|g| exclude.contains(g))
    {
        return Err(bad("excludeGroups", "a group cannot be both included and excluded"));
    }
    let user_verification = UserVerification::parse(&d.user_verification)
        .ok_or_else(|| bad("userVerification", "must be required, preferred or discouraged"))?;
    let attestation =
        Attestation::parse(&d.attestation).ok_or_else(|| bad("attestation", "must be none or required"))?;
    let mut passkey_types = PasskeyTypes {
        device_bound: false,
        synced: false,
    };
    for t in &d.passkey_types {
        match t.as_str() {
            "deviceBound" => passkey_types.device_bound = true,
            "synced" => passkey_types.synced = true,
            _ => return Err(bad("passkeyTypes", format!("{t:?} is not deviceBound or synced"))),
        }
    }
    if passkey_types.names().is_empty() {
        return Err(bad("passkeyTypes", "allow deviceBound, synced or both"));
    }
    let key_restrictions = match &d.key_restrictions {
        None => None,
        Some((enforcement, aaguids)) => {
            let enforcement = Enforcement::parse(enforcement)
                .ok_or_else(|| bad("keyRestrictions.enforcement", "must be allow or block"))?;
            if aaguids.is_empty() || aaguids.len() > MAX_AAGUIDS {
                return Err(bad(
                    "keyRestrictions.aaguids",
                    format!("list 1 to {MAX_AAGUIDS} AAGUIDs"),
                ));
            }
            let mut list = aaguids
                .iter()
                .map(|a| {
                    parse_aaguid(a).ok_or_else(|| bad("keyRestrictions.aaguids", format!("{a:?} is not an AAGUID")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            list.sort();
            list.dedup();
            Some(KeyRestrictions {
                enforcement,
                aaguids: list,
            })
        }
    };
    let max_keys_per_user = match d.max_keys_per_user {
        None => None,
        Some(n) => match u32::try_from(n) {
            Ok(n) if (1..=MAX_KEYS_LIMIT).contains(&n) => Some(n),
            _ => return Err(bad("maxKeysPerUser", format!("must be 1 to {MAX_KEYS_LIMIT}, or null"))),
        },
    };
    Ok(ValidPolicy {
        name: name.to_owned(),
        name_key: name.to_lowercase(),
        include,
        exclude,
        settings: PolicySettings {
            self_service_registration: d.self_service_registration,
            user_verification,
            attestation,
            passkey_types,
            key_restrictions,
            block_compromised_models: d.block_compromised_models,
            max_keys_per_user,
        },
    })
}

/// A policy named in an effective policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRef {
    /// Its id.
    pub id: PolicyId,
    /// Its name.
    pub name: String,
}

impl From<&Policy> for PolicyRef {
    fn from(p: &Policy) -> Self {
        Self {
            id: p.id,
            name: p.name.clone(),
        }
    }
}

/// One effective setting and the policies that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided<T> {
    /// The value in force.
    pub value: T,
    /// Who decided it: for a single value, the first policy (default first, then by name)
    /// holding the strictest value; for lists, every policy that narrowed them.
    pub by: Vec<PolicyRef>,
}

/// Every policy that applies to one person, combined setting by setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// The policies that apply, default first, then by name.
    pub applied: Vec<PolicyRef>,
    /// Self-service registration (false wins).
    pub self_service_registration: Decided<bool>,
    /// User verification (the strictest wins).
    pub user_verification: Decided<UserVerification>,
    /// Attestation (required wins).
    pub attestation: Decided<Attestation>,
    /// Passkey types (the intersection).
    pub passkey_types: Decided<PasskeyTypes>,
    /// The models allowed (the intersection of every allow list), `None` without one.
    pub allowed_aaguids: Decided<Option<Vec<Aaguid>>>,
    /// The models blocked (the union of every block list).
    pub blocked_aaguids: Decided<Vec<Aaguid>>,
    /// Block compromised models (true wins).
    pub block_compromised_models: Decided<bool>,
    /// Most keys per person (the smallest wins).
    pub max_keys_per_user: Decided<Option<u32>>,
}

/// The strictest single value, and the first policy holding it (or the first policy).
fn strictest<T: Copy + Ord>(policies: &[&Policy], get: impl Fn(&PolicySettings) -> T, least: T) -> Decided<T> {
    let mut best: Option<(T, &Policy)> = None;
    for p in policies {
        let v = get(&p.settings);
        if best.is_none_or(|(b, _)| v > b) {
            best = Some((v, p));
        }
    }
    match best {
        Some((value, p)) => Decided {
            value,
            by: vec![p.into()],
        },
        None => Decided {
            value: least,
            by: Vec::new(),
        },
    }
}

impl EffectivePolicy {
    /// Combines the policies that apply to one person (each of `policies` targets them).
    pub fn combine(policies: &[Policy]) -> Self {
        let mut sorted: Vec<&Policy> = policies.iter().collect();
        sorted.sort_by(|a, b| {
            (!a.is_builtin(), a.name.to_lowercase(), a.id).cmp(&(!b.is_builtin(), b.name.to_lowercase(), b.id))
        });
        let ps = &sorted[..];
        // Booleans where `false` is the stricter value compare reversed.
        let self_service = strictest(ps, |s| !s.self_service_registration, false);
        let self_service_registration = Decided {
            value: !self_service.value,
            by: self_service.by,
        };
        let user_verification = strictest(ps, |s| s.user_verification, UserVerification::Discouraged);
        let attestation = strictest(ps, |s| s.attestation, Attestation::None);
        let block_compromised_models = strictest(ps, |s| s.block_compromised_models, false);
        // The smallest limit: `None` (no limit) is the least strict.
        let max = strictest(
            ps,
            |s| std::cmp::Reverse(s.max_keys_per_user.unwrap_or(u32::MAX)),
            std::cmp::Reverse(u32::MAX),
        );
        let max_keys_per_user = Decided {
            value: Some(max.value.0).filter(|n| *n != u32::MAX),
            by: max.by,
        };
        let mut types = PasskeyTypes::ANY;
        let mut types_by = Vec::new();
        let mut allowed: Option<Vec<Aaguid>> = None;
        let mut allowed_by = Vec::new();
        let mut blocked: Vec<Aaguid> = Vec::new();
        let mut blocked_by = Vec::new();
        for p in ps {
            if p.settings.passkey_types != PasskeyTypes::ANY {
                types = types.intersect(p.settings.passkey_types);
                types_by.push(PolicyRef::from(*p));
            }
            match &p.settings.key_restrictions {
                Some(KeyRestrictions {
                    enforcement: Enforcement::Allow,
                    aaguids,
                }) => {
                    allowed = Some(match allowed {
                        None => aaguids.clone(),
                        Some(prev) => prev.into_iter().filter(|a| aaguids.contains(a)).collect(),
                    });
                    allowed_by.push(PolicyRef::from(*p));
                }
                Some(KeyRestrictions {
                    enforcement: Enforcement::Block,
                    aaguids,
                }) => {
                    blocked.extend(aaguids.iter().copied());
                    blocked_by.push(PolicyRef::from(*p));
                }
                None => {}
            }
        }
        blocked.sort();
        blocked.dedup();
        let first: Vec<PolicyRef> = ps.first().map(|p| PolicyRef::from(*p)).into_iter().collect();
        let or_first = |by: Vec<PolicyRef>| if by.is_empty() { first.clone() } else { by };
        Self {
            applied: ps.iter().map(|p| PolicyRef::from(*p)).collect(),
            self_service_registration,
            user_verification,
            attestation,
            passkey_types: Decided {
                value: types,
                by: or_first(types_by),
            },
            allowed_aaguids: Decided {
                value: allowed,
                by: or_first(allowed_by),
            },
            blocked_aaguids: Decided {
                value: blocked,
                by: or_first(blocked_by),
            },
            block_compromised_models,
            max_keys_per_user,
        }
    }

    /// Whether a key already held may still be used (everything but the assertion's UV flag
    /// and the number of keys): attestation, passkey type, AAGUID lists, compromised model.
    pub fn stored_key_allowed(&self, key: &KeyFacts) -> Result<(), Refusal> {
        if self.block_compromised_models.value && key.compromised {
            return Err(Refusal::Compromised);
        }
        if self.attestation.value == Attestation::Required && !key.attested {
            return Err(Refusal::AttestationRequired);
        }
        let types = self.passkey_types.value;
        if (key.backup_eligible && !types.synced) || (!key.backup_eligible && !types.device_bound) {
            return Err(Refusal::PasskeyType);
        }
        if self.blocked_aaguids.value.contains(&key.aaguid) {
            return Err(Refusal::AaguidBlocked);
        }
        if let Some(allowed) = &self.allowed_aaguids.value {
            if !allowed.contains(&key.aaguid) {
                return Err(Refusal::AaguidNotAllowed);
            }
            if !key.attested {
                return Err(Refusal::AaguidUnattested);
            }
        }
        Ok(())
    }

    /// Whether a stored key whose assertion verified (with `user_verified` its UV flag) may
    /// sign in.
    pub fn may_sign_in(&self, key: &KeyFacts, user_verified: bool) -> Result<(), Refusal> {
        self.stored_key_allowed(key)?;
        if self.user_verification.value == UserVerification::Required && !user_verified {
            return Err(Refusal::UserVerification);
        }
        Ok(())
    }

    /// Whether a new key may be registered by its owner in the portal (`self_service`) or on
    /// their behalf, when they hold `held` keys already.
    pub fn may_register(
        &self,
        key: &KeyFacts,
        user_verified: bool,
        held: usize,
        self_service: bool,
    ) -> Result<(), Refusal> {
        if self_service && !self.self_service_registration.value {
            return Err(Refusal::SelfServiceDisabled);
        }
        if let Some(max) = self.max_keys_per_user.value
            && held >= usize::try_from(max).unwrap_or(usize::MAX)
        {
            return Err(Refusal::TooManyKeys);
        }
        self.may_sign_in(key, user_verified)
    }
}

/// What a policy looks at in a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    /// The model.
    pub aaguid: Aaguid,
    /// Whether its attestation chained to a trusted root (`none`, self and unevaluated
    /// attestations do not).
    pub attested: bool,
    /// The BE flag.
    pub backup_eligible: bool,
    /// Whether the metadata marks the model compromised.
    pub compromised: bool,
}

impl KeyFacts {
    /// The facts of a stored key, with the model's compromised status.
    pub fn of(credential: &crate::credential::Credential, compromised: bool) -> Self {
        Self {
            aaguid: credential.aaguid,
            attested: credential.is_attested(),
            backup_eligible: credential.backup_eligible,
            compromised,
        }
    }
}

/// Why a policy refuses a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Self-service registration is off.
    SelfServiceDisabled,
    /// The person holds as many keys as allowed.
    TooManyKeys,
    /// The key did not verify its user.
    UserVerification,
    /// The attestation did not reach a trusted root.
    AttestationRequired,
    /// The model is not on the allow list.
    AaguidNotAllowed,
    /// The model is on the allow list, but its attestation does not prove it.
    AaguidUnattested,
    /// The model is on a block list.
    AaguidBlocked,
    /// Device-bound or synced keys are not allowed.
    PasskeyType,
    /// The metadata marks the model compromised.
    Compromised,
}

impl Refusal {
    /// Stable code for a registration refused by it.
    pub fn registration_code(self) -> &'static str {
        match self {
            Refusal::SelfServiceDisabled => "registration_not_allowed",
            Refusal::TooManyKeys => "too_many_keys",
            Refusal::UserVerification => "uv_required",
            Refusal::AttestationRequired => "attestation_required",
            Refusal::AaguidNotAllowed | Refusal::AaguidUnattested | Refusal::AaguidBlocked => "aaguid_not_allowed",
            Refusal::PasskeyType => "passkey_type_not_allowed",
            Refusal::Compromised => "authenticator_compromised",
        }
    }

    /// Stable name of the reason (for the audit log and "not allowed by policy" marks).
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::SelfServiceDisabled => "self_service_disabled",
            Refusal::TooManyKeys => "too_many_keys",
            Refusal::UserVerification => "user_verification",
            Refusal::AttestationRequired => "attestation_required",
            Refusal::AaguidNotAllowed => "aaguid_not_allowed",
            Refusal::AaguidUnattested => "aaguid_unattested",
            Refusal::AaguidBlocked => "aaguid_blocked",
            Refusal::PasskeyType => "passkey_type",
            Refusal::Compromised => "compromised_model",
        }
    }
}

/// What a sign-in reads of the key it is offered, in one statement
/// ([`PolicyStore::sign_in_read`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRead {
    /// The stored key.
    pub credential: Credential,
    /// Its owner.
    pub owner: User,
    /// The owner's policies and the key model's compromised flag.
    pub policies: SignInPolicies,
    /// The names of the owner's groups, in name order (the signed-in answer lists them).
    pub groups: Vec<String>,
}

/// What the verify step of a sign-in reads, in one statement ([`PolicyStore::sign_in_read`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInLookup {
    /// The ceremony was spent already (a replay): nothing else is told.
    Spent,
    /// The ceremony is not spent and no such key is stored.
    UnknownKey,
    /// The ceremony is not spent; the key, its owner and what applies to them.
    Found(Box<SignInRead>),
}

/// A failure count read with a sign-in's key ([`PolicyStore::sign_in_read`]): the count
/// [`crate::store::RateLimitStore::peek`] would answer for `key` at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureWindow<'a> {
    /// The rate-limit key (the client address's sign-in failures).
    pub key: &'a str,
    /// The time of the attempt.
    pub now: Timestamp,
    /// The window's length.
    pub window_ms: i64,
}

/// The verify step's one read ([`PolicyStore::sign_in_read`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInReading {
    /// The failures counted in the current window of the [`FailureWindow`] asked for (0 when
    /// it has passed or none is stored).
    pub failures: u32,
    /// The ceremony and the key.
    pub lookup: SignInLookup,
}

/// The policies that apply at one sign-in, read in one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInPolicies {
    /// The stored policies that target the user.
    pub policies: Vec<Policy>,
    /// Whether the metadata marks the key's model compromised.
    pub model_compromised: bool,
}

/// Stored policies (the built-in default is not stored: it is made from the settings).
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Inserts a policy. `Conflict("policy_name")` when the name (ignoring case) is taken;
    /// `NotFound` when a named group does not exist.
    async fn create_policy(&self, policy: &Policy, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Replaces a policy's name, targets and settings (and `updated_at`). `NotFound` when
    /// the policy or a named group does not exist; `Conflict("policy_name")` as above.
    async fn replace_policy(&self, policy: &Policy, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes a policy. `NotFound` when unknown.
    async fn delete_policy(&self, id: PolicyId, audit: &NewAuditEvent) -> StoreResult<()>;
    /// A policy by id.
    async fn get_policy(&self, id: PolicyId) -> StoreResult<Option<Policy>>;
    /// Every policy, by name.
    async fn list_policies(&self) -> StoreResult<Vec<Policy>>;
    /// The policies that target `user` (through their groups), and whether the model
    /// `aaguid` is marked compromised: one statement, a sign-in's one read for its policy.
    async fn sign_in_policies(&self, user: UserId, aaguid: &Aaguid) -> StoreResult<SignInPolicies>;
    /// The verify step's one read: the failures counted on `failures` (as
    /// [`crate::store::RateLimitStore::peek`] counts them), whether the ceremony `ceremony`
    /// was spent, and the key `credential_id`, its owner, the policies that target the
    /// owner, whether the key's model is marked compromised and the owner's groups, in one
    /// statement.
    async fn sign_in_read(
        &self,
        credential_id: &[u8],
        ceremony: CeremonyId,
        failures: FailureWindow<'_>,
    ) -> StoreResult<SignInReading>;
}

#[cfg(test)]
mod tests;
