//! The JSON shapes of group policies (`/api/v1/policies`), following Entra ID's FIDO2 method
//! policy where it has one.

use keyfleet_core::policies::Preview;
use keyfleet_domain::policy::{Decided, EffectivePolicy, Policy, PolicyDraft, PolicyRef, Targets, format_aaguid};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::state::rfc3339;

/// An AAGUID allow or block list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRestrictionsJson {
    /// `allow` or `block`.
    pub enforcement: String,
    /// AAGUIDs as UUIDs.
    pub aaguids: Vec<String>,
}

/// A policy.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyJson {
    /// Id (the nil UUID for the built-in default policy).
    pub id: String,
    /// Name.
    pub name: String,
    /// Whether this is the built-in default policy (the global settings; read-only here).
    pub built_in: bool,
    /// `["all"]` or group ids.
    pub include_groups: Vec<String>,
    /// Group ids left out.
    pub exclude_groups: Vec<String>,
    /// Whether people may register keys themselves.
    pub self_service_registration: bool,
    /// `required`, `preferred` or `discouraged`.
    pub user_verification: String,
    /// `none` or `required`.
    pub attestation: String,
    /// `deviceBound`, `synced`.
    pub passkey_types: Vec<String>,
    /// An AAGUID allow or block list, or null.
    pub key_restrictions: Option<KeyRestrictionsJson>,
    /// Refuse models the FIDO Metadata Service marks compromised.
    pub block_compromised_models: bool,
    /// Most keys per person, or null for no limit.
    pub max_keys_per_user: Option<u32>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

impl From<&Policy> for PolicyJson {
    fn from(p: &Policy) -> Self {
        let s = &p.settings;
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            built_in: p.is_builtin(),
            include_groups: match &p.include {
                Targets::All => vec!["all".to_owned()],
                Targets::Groups(g) => g.iter().map(ToString::to_string).collect(),
            },
            exclude_groups: p.exclude.iter().map(ToString::to_string).collect(),
            self_service_registration: s.self_service_registration,
            user_verification: s.user_verification.as_str().to_owned(),
            attestation: s.attestation.as_str().to_owned(),
            passkey_types: s.passkey_types.names().into_iter().map(str::to_owned).collect(),
            key_restrictions: s.key_restrictions.as_ref().map(|k| KeyRestrictionsJson {
                enforcement: k.enforcement.as_str().to_owned(),
                aaguids: k.aaguids.iter().map(format_aaguid).collect(),
            }),
            block_compromised_models: s.block_compromised_models,
            max_keys_per_user: s.max_keys_per_user,
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

fn yes() -> bool {
    true
}

fn preferred() -> String {
    "preferred".to_owned()
}

fn none() -> String {
    "none".to_owned()
}

fn both_types() -> Vec<String> {
    vec!["deviceBound".to_owned(), "synced".to_owned()]
}

/// A policy to create or the whole of one to replace with. Absent settings take the
/// permissive value (self-service on, UV preferred, any attestation, both passkey types, no
/// AAGUID list, compromised models not blocked, no key limit).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRequest {
    /// Unique name (case-insensitive), 1–64 printable characters.
    pub name: String,
    /// `["all"]` or group ids.
    pub include_groups: Vec<String>,
    /// Group ids left out.
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    /// Whether people may register keys themselves.
    #[serde(default = "yes")]
    pub self_service_registration: bool,
    /// `required`, `preferred` or `discouraged`.
    #[serde(default = "preferred")]
    pub user_verification: String,
    /// `none` or `required`.
    #[serde(default = "none")]
    pub attestation: String,
    /// `deviceBound`, `synced` (at least one).
    #[serde(default = "both_types")]
    pub passkey_types: Vec<String>,
    /// An AAGUID allow or block list.
    #[serde(default)]
    pub key_restrictions: Option<KeyRestrictionsJson>,
    /// Refuse models the FIDO Metadata Service marks compromised.
    #[serde(default)]
    pub block_compromised_models: bool,
    /// Most keys per person (1–100), or null for no limit.
    #[serde(default)]
    pub max_keys_per_user: Option<i64>,
}

impl PolicyRequest {
    /// The draft the core validates.
    pub fn draft(&self) -> PolicyDraft {
        PolicyDraft {
            name: self.name.clone(),
            include_groups: self.include_groups.clone(),
            exclude_groups: self.exclude_groups.clone(),
            self_service_registration: self.self_service_registration,
            user_verification: self.user_verification.clone(),
            attestation: self.attestation.clone(),
            passkey_types: self.passkey_types.clone(),
            key_restrictions: self
                .key_restrictions
                .as_ref()
                .map(|k| (k.enforcement.clone(), k.aaguids.clone())),
            block_compromised_models: self.block_compromised_models,
            max_keys_per_user: self.max_keys_per_user,
        }
    }
}

/// `?confirm=true`: save even though the change leaves people without a usable key.
#[derive(Debug, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConfirmQuery {
    /// Confirms a change that strands people (see the preview).
    #[serde(default)]
    pub confirm: bool,
}

/// What to preview.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewRequest {
    /// The proposed policy.
    pub policy: PolicyRequest,
    /// The id of the stored policy it would replace, if any.
    #[serde(default)]
    pub replacing: Option<String>,
}

/// Someone a change would leave without a usable key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrandedUserJson {
    /// User id.
    pub id: String,
    /// Username.
    pub username: String,
    /// How many keys they hold.
    pub keys: usize,
}

/// Refused keys of one model.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelRefusedJson {
    /// AAGUID.
    pub aaguid: String,
    /// Model name, when known.
    pub model: Option<String>,
    /// How many of its keys would be refused.
    pub credentials_refused: usize,
}

/// What a proposed policy would do to existing keys.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewJson {
    /// Keys usable now that it would refuse.
    pub credentials_refused: usize,
    /// People who have a usable key now and would have none.
    pub users_left_without_usable_key: Vec<StrandedUserJson>,
    /// Refused keys by model, most first.
    pub by_model: Vec<ModelRefusedJson>,
}

impl PreviewJson {
    /// The preview with its models named (the metadata's names, else the community list's).
    pub fn new(p: &Preview, names: &crate::web::models::Models) -> Self {
        Self {
            credentials_refused: p.credentials_refused,
            users_left_without_usable_key: p
                .users_left_without_usable_key
                .iter()
                .map(|u| StrandedUserJson {
                    id: u.id.to_string(),
                    username: u.username.clone(),
                    keys: u.keys,
                })
                .collect(),
            by_model: p
                .by_model
                .iter()
                .map(|m| ModelRefusedJson {
                    aaguid: format_aaguid(&m.aaguid),
                    model: names.name(&m.aaguid),
                    credentials_refused: m.credentials_refused,
                })
                .collect(),
        }
    }
}

/// A policy named in an effective policy.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRefJson {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

fn refs(by: &[PolicyRef]) -> Vec<PolicyRefJson> {
    by.iter()
        .map(|r| PolicyRefJson {
            id: r.id.to_string(),
            name: r.name.clone(),
        })
        .collect()
}

/// One effective setting and the policies that decided it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveSettingJson {
    /// The value in force (the type of the policy field of the same name).
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// The policy that decided it (for lists: every policy that narrowed it).
    pub decided_by: Vec<PolicyRefJson>,
}

fn setting<T>(d: &Decided<T>, value: serde_json::Value) -> EffectiveSettingJson {
    EffectiveSettingJson {
        value,
        decided_by: refs(&d.by),
    }
}

/// Every policy that applies to one person, combined setting by setting (the strictest wins).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectivePolicyJson {
    /// The user.
    pub user_id: String,
    /// The policies that apply (the default first).
    pub applied: Vec<PolicyRefJson>,
    /// Self-service registration.
    pub self_service_registration: EffectiveSettingJson,
    /// User verification.
    pub user_verification: EffectiveSettingJson,
    /// Attestation.
    pub attestation: EffectiveSettingJson,
    /// Passkey types allowed.
    pub passkey_types: EffectiveSettingJson,
    /// Models allowed (null: any).
    pub allowed_aaguids: EffectiveSettingJson,
    /// Models blocked.
    pub blocked_aaguids: EffectiveSettingJson,
    /// Compromised models blocked.
    pub block_compromised_models: EffectiveSettingJson,
    /// Most keys per person (null: no limit).
    pub max_keys_per_user: EffectiveSettingJson,
}

impl EffectivePolicyJson {
    /// The JSON of `e`, the effective policy of `user_id`.
    pub fn new(user_id: String, e: &EffectivePolicy) -> Self {
        use serde_json::json;
        let list = |l: &[[u8; 16]]| l.iter().map(format_aaguid).collect::<Vec<_>>();
        Self {
            user_id,
            applied: refs(&e.applied),
            self_service_registration: setting(&e.self_service_registration, json!(e.self_service_registration.value)),
            user_verification: setting(&e.user_verification, json!(e.user_verification.value.as_str())),
            attestation: setting(&e.attestation, json!(e.attestation.value.as_str())),
            passkey_types: setting(&e.passkey_types, json!(e.passkey_types.value.names())),
            allowed_aaguids: setting(&e.allowed_aaguids, json!(e.allowed_aaguids.value.as_deref().map(list))),
            blocked_aaguids: setting(&e.blocked_aaguids, json!(list(&e.blocked_aaguids.value))),
            block_compromised_models: setting(&e.block_compromised_models, json!(e.block_compromised_models.value)),
            max_keys_per_user: setting(&e.max_keys_per_user, json!(e.max_keys_per_user.value)),
        }
    }
}
