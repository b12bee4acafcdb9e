//! JSON shapes of the HTTP API (camelCase, as product.md fixes). Wire types only: domain
//! types never derive `Serialize`, and these never reach the store.

pub mod onbehalf;
pub mod policies;

use keyfleet_core::audit::AuditEntry;
use keyfleet_domain::client::{ApiClient, ClientSecret};
use keyfleet_domain::group::Group;
use keyfleet_domain::session::Session;
use keyfleet_domain::user::{Role, User};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::state::rfc3339;

/// A role name.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RoleJson {
    /// Global administrator.
    Admin,
    /// Helpdesk / local administrator.
    Helpdesk,
    /// Worker.
    Worker,
}

impl From<Role> for RoleJson {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => RoleJson::Admin,
            Role::Helpdesk => RoleJson::Helpdesk,
            Role::Worker => RoleJson::Worker,
        }
    }
}

impl From<RoleJson> for Role {
    fn from(r: RoleJson) -> Self {
        match r {
            RoleJson::Admin => Role::Admin,
            RoleJson::Helpdesk => Role::Helpdesk,
            RoleJson::Worker => Role::Worker,
        }
    }
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserJson {
    /// Immutable id.
    pub id: String,
    /// Canonical username.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: String,
    /// Manager's email.
    pub manager_email: Option<String>,
    /// Shipping address.
    pub shipping_address: Option<String>,
    /// Whether the user may sign in.
    pub enabled: bool,
    /// Role.
    pub role: RoleJson,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

impl From<&User> for UserJson {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.as_str().to_owned(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            manager_email: u.manager_email.clone(),
            shipping_address: u.shipping_address.clone(),
            enabled: u.enabled,
            role: u.role.into(),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Username (compared case-insensitively; stored canonical).
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: String,
    /// Manager's email.
    #[serde(default)]
    pub manager_email: Option<String>,
    /// Shipping address.
    #[serde(default)]
    pub shipping_address: Option<String>,
    /// Role (worker when absent; only administrators may grant others).
    #[serde(default)]
    pub role: Option<RoleJson>,
}

fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to a user. Absent members stay; `null` clears an optional member.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New email.
    #[serde(default)]
    pub email: Option<String>,
    /// New manager email, or null to clear.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub manager_email: Option<Option<String>>,
    /// New shipping address, or null to clear.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub shipping_address: Option<Option<String>>,
    /// Enable or disable (disabling ends all the user's sessions).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New role (administrators only).
    #[serde(default)]
    pub role: Option<RoleJson>,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    /// The users, ordered by username.
    pub users: Vec<UserJson>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// Parameters of a temporary access pass.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TapRequest {
    /// Lifetime in minutes, 10 to 43200 (30 days); 60 when absent.
    #[serde(default)]
    pub lifetime_minutes: Option<u32>,
    /// Whether the first sign-in consumes it; true when absent.
    #[serde(default)]
    pub one_time: Option<bool>,
}

/// A newly issued temporary access pass. The code is shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TapIssued {
    /// The code to give the user.
    pub code: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
    /// Whether one sign-in consumes it.
    pub one_time: bool,
    /// Lifetime in minutes.
    pub lifetime_minutes: u32,
}

/// A user's current temporary access pass, without its code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TapStatus {
    /// When it was issued.
    pub created_at: String,
    /// When it stops working.
    pub expires_at: String,
    /// Whether one sign-in consumes it.
    pub one_time: bool,
    /// Whether it can still be used.
    pub usable: bool,
    /// Sign-ins made with it.
    pub use_count: i64,
}

/// A sign-in with a temporary access pass.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TapSignInRequest {
    /// Username.
    pub username: String,
    /// The pass's code.
    pub code: String,
}

/// A session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionJson {
    /// Id (not the cookie value).
    pub id: String,
    /// `full` (security key) or `tap` (temporary access pass: key registration only).
    pub kind: String,
    /// Opened at.
    pub created_at: String,
    /// Last activity.
    pub last_seen_at: String,
    /// Hard end.
    pub expires_at: String,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionJson {
    /// The JSON form of `s`; `current` marks the caller's own session.
    pub fn new(s: &Session, current: bool) -> Self {
        Self {
            id: s.id.to_string(),
            kind: s.kind.as_str().to_owned(),
            created_at: rfc3339(s.created_at),
            last_seen_at: rfc3339(s.last_seen_at),
            expires_at: rfc3339(s.expires_at),
            current,
        }
    }
}

/// The signed-in user and their session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeJson {
    /// The user.
    pub user: UserJson,
    /// The current session.
    pub session: SessionJson,
    /// Names of the user's groups.
    pub groups: Vec<String>,
}

/// A group.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupJson {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Creation time.
    pub created_at: String,
}

impl From<&Group> for GroupJson {
    fn from(g: &Group) -> Self {
        Self {
            id: g.id.to_string(),
            name: g.name.clone(),
            description: g.description.clone(),
            created_at: rfc3339(g.created_at),
        }
    }
}

/// A group with its members.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupDetail {
    /// The group.
    pub group: GroupJson,
    /// Its members.
    pub members: Vec<UserJson>,
}

/// A group to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// Unique name (case-insensitive).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// One of a client's secrets, without the secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretJson {
    /// Id.
    pub id: String,
    /// Created at.
    pub created_at: String,
    /// When it stops working, if phased out.
    pub expires_at: Option<String>,
}

impl From<&ClientSecret> for SecretJson {
    fn from(s: &ClientSecret) -> Self {
        Self {
            id: s.id.to_string(),
            created_at: rfc3339(s.created_at),
            expires_at: s.expires_at.map(rfc3339),
        }
    }
}

/// An API client.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientJson {
    /// `client_id`.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Scopes its tokens may carry.
    pub scopes: Vec<String>,
    /// Whether it may get tokens.
    pub enabled: bool,
    /// Created at.
    pub created_at: String,
    /// Its secrets (ids and dates only).
    pub secrets: Vec<SecretJson>,
}

impl ClientJson {
    /// The JSON form of a client and its secrets.
    pub fn new(c: &ApiClient, secrets: &[ClientSecret]) -> Self {
        Self {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            scopes: c.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            enabled: c.enabled,
            created_at: rfc3339(c.created_at),
            secrets: secrets.iter().map(SecretJson::from).collect(),
        }
    }
}

/// A client to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateClientRequest {
    /// Name.
    pub name: String,
    /// Scopes: users:read, users:write, provisioning, shipments, audit:read.
    pub scopes: Vec<String>,
}

/// A newly created client with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientCreated {
    /// The client.
    pub client: ClientJson,
    /// The secret.
    pub client_secret: String,
}

/// Changes to a client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateClientRequest {
    /// Enable or disable (disabling stops its tokens at once).
    pub enabled: bool,
}

/// A new secret from a rotation, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRotated {
    /// The new secret's id.
    pub secret_id: String,
    /// The new secret.
    pub client_secret: String,
    /// When the earlier secret stops working.
    pub previous_secrets_expire_at: String,
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventJson {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To whom.
    pub target: Option<String>,
    /// success, failure or denied.
    pub outcome: String,
    /// The request.
    pub request_id: Option<String>,
    /// Details.
    #[schema(value_type = Object)]
    pub detail: Option<serde_json::Value>,
    /// The actor's name (username or client name), when it still exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The target's name (username, group or client name), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    /// The nickname of the security key the event names, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_nickname: Option<String>,
}

impl From<&AuditEntry> for AuditEventJson {
    fn from(entry: &AuditEntry) -> Self {
        let e = &entry.event;
        Self {
            id: e.id,
            at: rfc3339(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            outcome: e.outcome.as_str().to_owned(),
            request_id: e.request_id.clone(),
            detail: e.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()),
            actor_name: entry.actor_name.clone(),
            target_name: entry.target_name.clone(),
            key_nickname: entry.key_nickname.clone(),
        }
    }
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEventJson>,
    /// Pass as `before` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// Health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
}

/// Options to start a WebAuthn ceremony.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyOptions {
    /// Pass back with the response.
    pub ceremony_id: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`
    /// (WebAuthn L3 §5.1.8, §5.1.9), ready for `PublicKeyCredential.parse…OptionsFromJSON`.
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

/// Start a sign-in; without a username it is username-less (discoverable credentials).
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInOptionsRequest {
    /// The username, for a username-first sign-in.
    #[serde(default)]
    pub username: Option<String>,
}

/// Finish a sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInVerifyRequest {
    /// From the options.
    pub ceremony_id: String,
    /// `AuthenticationResponseJSON` (`credential.toJSON()`).
    #[schema(value_type = Object)]
    pub credential: keyfleet_webauthn_rp::AuthenticationResponseJSON,
}

/// Finish a key registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrationVerifyRequest {
    /// From the options.
    pub ceremony_id: String,
    /// The name the user gives the key (1 to 64 characters).
    pub nickname: String,
    /// `RegistrationResponseJSON` (`credential.toJSON()`).
    #[schema(value_type = Object)]
    pub credential: keyfleet_webauthn_rp::RegistrationResponseJSON,
}

/// A new nickname.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameCredentialRequest {
    /// 1 to 64 characters, no control or bidirectional-override characters.
    pub nickname: String,
}

/// A registered security key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialJson {
    /// Credential id (base64url).
    pub id: String,
    /// The user's name for it.
    pub nickname: String,
    /// Authenticator model id (hyphenated).
    pub aaguid: String,
    /// Transports the key reported.
    pub transports: Vec<String>,
    /// Signature algorithm (COSE).
    pub alg: i64,
    /// Last seen signature counter.
    pub sign_count: u32,
    /// Backup eligible (a synced passkey can be).
    pub backup_eligible: bool,
    /// Backed up.
    pub backup_state: bool,
    /// Whether the key has verified its user (PIN, biometrics).
    pub user_verified: bool,
    /// Attestation statement format.
    pub attestation_format: String,
    /// `trusted`, `not_evaluated`, `none` or `self`.
    pub attestation_trust: String,
    /// Flagged after a counter regression.
    pub possibly_cloned: bool,
    /// Registered at.
    pub created_at: String,
    /// Last sign-in.
    pub last_used_at: Option<String>,
    /// Whether the owner's group policy no longer allows this key (it cannot sign in).
    pub not_allowed_by_policy: bool,
    /// Why, when not allowed (`aaguid_blocked`, `passkey_type`, `compromised_model`, …).
    pub policy_refusal: Option<String>,
}

impl From<&keyfleet_core::credentials::keys::HeldKey> for CredentialJson {
    fn from(k: &keyfleet_core::credentials::keys::HeldKey) -> Self {
        Self {
            not_allowed_by_policy: k.not_allowed.is_some(),
            policy_refusal: k.not_allowed.map(|r| r.reason().to_owned()),
            ..Self::from(&k.credential)
        }
    }
}

impl From<&keyfleet_domain::credential::Credential> for CredentialJson {
    fn from(c: &keyfleet_domain::credential::Credential) -> Self {
        Self {
            id: keyfleet_core::credentials::ceremony::b64(&c.id),
            nickname: c.nickname.clone(),
            aaguid: uuid::Uuid::from_bytes(c.aaguid).hyphenated().to_string(),
            transports: c.transports.clone(),
            alg: c.alg,
            sign_count: c.sign_count,
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            user_verified: c.uv_initialized,
            attestation_format: c.attestation_format.clone(),
            attestation_trust: c.attestation_trust.clone(),
            possibly_cloned: c.possibly_cloned,
            created_at: rfc3339(c.created_at),
            last_used_at: c.last_used_at.map(rfc3339),
            not_allowed_by_policy: false,
            policy_refusal: None,
        }
    }
}

/// One authenticator model's metadata entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorJson {
    /// The AAGUID (8-4-4-4-12 hex).
    pub aaguid: String,
    /// The model's description.
    pub description: String,
    /// The latest status report's status (MDS3 name).
    pub status: Option<String>,
    /// That report's effective date (`YYYY-MM-DD`).
    pub status_date: Option<String>,
    /// The latest certification status.
    pub certification_level: Option<String>,
    /// Whether the model is refused at registration and its keys flagged.
    pub compromised: bool,
    /// How many attestation roots the entry lists.
    pub attestation_roots: usize,
    /// The icon (a `data:` URL), as the metadata gives it.
    pub icon: Option<String>,
    /// `mds` (the BLOB) or `local` (keyfleet's own statement).
    pub source: String,
}

impl From<&keyfleet_domain::metadata::MetadataEntry> for AuthenticatorJson {
    fn from(e: &keyfleet_domain::metadata::MetadataEntry) -> Self {
        Self {
            aaguid: uuid::Uuid::from_bytes(e.aaguid).hyphenated().to_string(),
            description: e.description.clone(),
            status: e.status.clone(),
            status_date: e.status_date.clone(),
            certification_level: e.certification_level.clone(),
            compromised: e.compromised,
            attestation_roots: e.attestation_roots.len(),
            icon: e.icon.clone(),
            source: e.source.as_str().to_owned(),
        }
    }
}

/// The last failure to get a new metadata BLOB.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetadataFailureJson {
    /// When (RFC 3339).
    pub at: String,
    /// Stable reason (`rollback`, `bad_signature`, `fetch_failed`, …).
    pub reason: String,
    /// The reason in words.
    pub message: String,
}

/// The metadata's state: the last good BLOB, the refresh's last run, the newest failure.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetadataStatusJson {
    /// The last good BLOB's `no` (absent before the first import).
    pub no: Option<u64>,
    /// Its `nextUpdate` (`YYYY-MM-DD`).
    pub next_update: Option<String>,
    /// How many entries it holds.
    pub entries: Option<u64>,
    /// When it was imported (RFC 3339).
    pub imported_at: Option<String>,
    /// How revocation was decided for it (`crl`, `offline`).
    pub revocation: Option<String>,
    /// Whether it is past its `nextUpdate`.
    pub stale: bool,
    /// The last success: the import, or a later refresh that found it current (RFC 3339).
    pub last_success_at: Option<String>,
    /// When the scheduled refresh last finished (RFC 3339), if it ever ran.
    pub last_check_at: Option<String>,
    /// How it finished (`ok`, `error`).
    pub last_check_outcome: Option<String>,
    /// The newest failure (a refused BLOB or a failed download).
    pub last_failure: Option<MetadataFailureJson>,
    /// Whether administrators are alarmed: stale, or a failure after the last good import.
    pub alarm: bool,
}

impl From<&keyfleet_core::metadata::MetadataReport> for MetadataStatusJson {
    fn from(r: &keyfleet_core::metadata::MetadataReport) -> Self {
        let blob = r.current.as_ref().map(|c| &c.blob);
        let checked_ok = r
            .last_check
            .as_ref()
            .filter(|(_, outcome)| outcome == "ok")
            .map(|(at, _)| *at);
        let last_success = match (blob.map(|b| b.imported_at), checked_ok) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Self {
            no: blob.and_then(|b| u64::try_from(b.no).ok()),
            next_update: blob.map(|b| b.next_update.clone()),
            entries: blob.and_then(|b| u64::try_from(b.entry_count).ok()),
            imported_at: blob.map(|b| rfc3339(b.imported_at)),
            revocation: blob.map(|b| b.revocation.clone()),
            stale: r.current.as_ref().is_some_and(|c| c.stale),
            last_success_at: last_success.map(rfc3339),
            last_check_at: r.last_check.as_ref().map(|(at, _)| rfc3339(*at)),
            last_check_outcome: r.last_check.as_ref().map(|(_, o)| o.clone()),
            last_failure: r.last_failure.as_ref().map(|f| MetadataFailureJson {
                at: rfc3339(f.at),
                reason: f.reason.clone(),
                message: f.message.clone(),
            }),
            alarm: r.alarm,
        }
    }
}

/// A single sign-on application (an OpenID Connect client).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationJson {
    /// `client_id`.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// `confidential` or `public`.
    pub client_type: String,
    /// Redirect URIs (compared as exact strings).
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Access and ID token lifetime, seconds.
    pub access_token_lifetime: i64,
    /// Refresh token lifetime, seconds.
    pub refresh_token_lifetime: i64,
    /// The authentication strength (id) a session's key must meet.
    pub authentication_strength: Option<String>,
    /// OpenID back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// Created at.
    pub created_at: String,
    /// Last changed at.
    pub updated_at: String,
}

impl From<&keyfleet_domain::oidc::Application> for ApplicationJson {
    fn from(a: &keyfleet_domain::oidc::Application) -> Self {
        Self {
            client_id: a.client_id.clone(),
            name: a.name.clone(),
            client_type: a.client_type.as_str().to_owned(),
            redirect_uris: a.redirect_uris.clone(),
            post_logout_redirect_uris: a.post_logout_redirect_uris.clone(),
            scopes: a.scopes.clone(),
            access_token_lifetime: a.access_token_lifetime_s,
            refresh_token_lifetime: a.refresh_token_lifetime_s,
            authentication_strength: a.authentication_strength.clone(),
            backchannel_logout_uri: a.backchannel_logout_uri.clone(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        }
    }
}

/// An application to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApplicationRequest {
    /// Name.
    pub name: String,
    /// Redirect URIs: absolute https (http only on a loopback host), no fragment.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs, the same rules.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// `confidential` (default) or `public`.
    pub client_type: Option<String>,
    /// Allowed scopes: openid, profile, email, groups, offline_access (default: all).
    pub scopes: Option<Vec<String>>,
    /// The authentication strength (id) a session's key must meet.
    pub authentication_strength: Option<String>,
    /// OpenID back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// Access and ID token lifetime, 60 to 3600 seconds (default 600).
    pub access_token_lifetime: Option<i64>,
    /// Refresh token lifetime, 300 to 2592000 seconds (default 28800).
    pub refresh_token_lifetime: Option<i64>,
}

/// A newly created application, with its secret (confidential only) shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationCreated {
    /// The application.
    pub application: ApplicationJson,
    /// The secret (confidential applications).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// Changes to an application; absent fields stay, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateApplicationRequest {
    /// Name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Allowed scopes.
    pub scopes: Option<Vec<String>>,
    /// Access and ID token lifetime, seconds.
    pub access_token_lifetime: Option<i64>,
    /// Refresh token lifetime, seconds.
    pub refresh_token_lifetime: Option<i64>,
    /// The authentication strength (id); `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub authentication_strength: Option<Option<String>>,
    /// Back-channel logout URI; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub backchannel_logout_uri: Option<Option<String>>,
}
