//! Registering a key on behalf of a user: Microsoft Graph's `fido2Methods` flow, for the key
//! factory and tooling written for Entra ID (docs/provisioning.md, "On-behalf API").
//!
//! An administrator (session) or an API client with `provisioning` asks for creation options
//! for a named user; keyfleet stores them ([`OnBehalfOptions`]: the challenge, bound to the
//! caller and the user, with the caller's own expiry of 5 minutes to 30 days, and the model
//! ordered, if any). The key is made elsewhere, and the caller sends back
//! `{displayName, publicKeyCredential}`. The response is verified by the same code as every
//! other registration ([`super::registration::verify_new_key`]: `keyfleet_webauthn_rp`, the
//! configured origins, `type` `webauthn.create`, cross-origin refused, the owner's policy),
//! with two rules added: the key must verify its user, and its attestation must chain to a
//! trusted root (MDS or the configured roots). The options are found by the challenge of the
//! response's client data and consumed exactly once: by the transaction that stores the key,
//! or by the failure path. Options of another user or another caller are refused without
//! being consumed (they are not this caller's to spend). Every refusal is audited.

use keyfleet_domain::audit::{Action, Outcome, Target};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::onbehalf::{MAX_TIMEOUT_MINUTES, MIN_TIMEOUT_MINUTES, OnBehalfOptions, timeout_in_range};
use keyfleet_domain::report::Aaguid;
use keyfleet_domain::user::User;
use keyfleet_domain::{Timestamp, UserId};
use keyfleet_webauthn_rp::cbor::Value;
use keyfleet_webauthn_rp::registration::AttestationObject;
use keyfleet_webauthn_rp::{
    AttestationConveyance, AuthenticatorSelection, CreationState, CredentialDescriptor, CredentialParameter,
    PublicKeyCredentialCreationOptions, RegistrationResponseJSON, RelyingParty, ResidentKeyRequirement, UserEntity,
    UserVerificationRequirement,
};
use rand_core::OsRng;
use serde::Serialize;

use super::ceremony::{OFFERED_ALGS, b64, new_challenge};
use super::registration::{KeyRegistered, NewKey, reject, stored_or_refusal, verify_new_key};
use crate::access::{Permission, Principal, authorize, denied};
use crate::audit::Detail;
use crate::{CeremonyError, CoreError, Ctx, FailureClass};

/// A refusal of the on-behalf API: an authorization or input refusal of the use case, or a
/// refusal of the registration ceremony.
#[derive(Debug)]
pub enum OnBehalfError {
    /// Not allowed, not found, invalid input.
    Core(CoreError),
    /// The registration response or the options it answers were refused.
    Ceremony(CeremonyError),
}

impl From<CoreError> for OnBehalfError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<CeremonyError> for OnBehalfError {
    fn from(e: CeremonyError) -> Self {
        Self::Ceremony(e)
    }
}

impl From<keyfleet_domain::StoreError> for OnBehalfError {
    fn from(e: keyfleet_domain::StoreError) -> Self {
        Self::Core(e.into())
    }
}

/// What a caller asks creation options with.
#[derive(Debug, Clone, Default)]
pub struct OptionsRequest {
    /// How long the challenge is accepted, in minutes (5–43200); `None`: the
    /// `onbehalf_challenge_timeout_minutes` setting.
    pub challenge_timeout_minutes: Option<i64>,
    /// The model ordered, by keyfleet's short name (`nfc-key`, `band`): a key of another
    /// model is refused (`model_mismatch`).
    pub model: Option<String>,
    /// The model ordered, by AAGUID (a UUID); with `model`, both must name the same model.
    pub aaguid: Option<String>,
}

/// Creation options issued (their `Debug` output leaves the challenge out).
#[derive(Clone)]
pub struct IssuedOptions {
    /// The options as stored.
    pub options: OnBehalfOptions,
    /// `PublicKeyCredentialCreationOptionsJSON`.
    pub public_key: serde_json::Value,
}

impl std::fmt::Debug for IssuedOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedOptions")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OptionsIssued {
    options_id: String,
    /// RFC 3339, UTC.
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_aaguid: Option<String>,
}
impl Detail for OptionsIssued {}

/// A refusal of the on-behalf API, as audited.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OnBehalfRefused<'a> {
    code: &'a str,
    on_behalf: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    options_id: Option<String>,
}
impl Detail for OnBehalfRefused<'_> {}

/// A key registered on behalf of its owner.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegisteredOnBehalf<'a> {
    #[serde(flatten)]
    key: KeyRegistered<'a>,
    on_behalf: bool,
    options_id: String,
}
impl Detail for RegisteredOnBehalf<'_> {}

/// RFC 3339 text of a timestamp, UTC.
fn rfc3339(ts: Timestamp) -> String {
    let nanos = i128::from(ts.as_millis()) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Who asked: the text options are bound to (the audit actor of the principal).
fn caller_of(principal: &Principal) -> String {
    principal.actor().to_string()
}

/// The user a provisioning caller acts on: authorized (`ProvisionKeys`; helpdesk staff are
/// refused), existing, and within the caller's authority (a client acts on workers only).
async fn target(ctx: &Ctx<'_>, principal: &Principal, user: UserId) -> Result<User, CoreError> {
    let authority = authorize(ctx, principal, Permission::ProvisionKeys).await?;
    let found = ctx.stores.users.get_user(user).await?.ok_or(CoreError::NotFound)?;
    if let Err(e) = crate::identity::users::check_target(authority, &found) {
        return Err(denied(ctx, e, Some(Target::User(user))).await);
    }
    Ok(found)
}

/// Audits a refusal of `action` for `user` (outcome failure).
async fn audit_refusal(
    ctx: &Ctx<'_>,
    action: Action,
    user: UserId,
    code: &str,
    options: Option<CeremonyId>,
) -> Result<(), keyfleet_domain::StoreError> {
    let detail = OnBehalfRefused {
        code,
        on_behalf: true,
        options_id: options.map(|o| o.to_string()),
    };
    let event = ctx
        .audit_with(action, Some(Target::User(user)), &detail)
        .with_outcome(Outcome::Failure);
    ctx.stores.audit.append(&event).await
}

fn disabled() -> CoreError {
    CoreError::conflict(
        "user_disabled",
        "the user is disabled; enable them before registering a key for them",
    )
}

/// The model ordered: by short name, by AAGUID, or both naming the same one.
fn expected_model(request: &OptionsRequest) -> Result<Option<Aaguid>, CoreError> {
    let by_name = match request.model.as_deref() {
        Some(name) => Some(crate::models::own_model_aaguid(name).ok_or_else(|| {
            CoreError::invalid(
                "unknown_model",
                "model: not a model keyfleet knows (nfc-key, band); name another model by its aaguid",
            )
        })?),
        None => None,
    };
    let by_aaguid = match request.aaguid.as_deref() {
        Some(text) => Some(
            crate::models::parse_aaguid(text)
                .filter(|a| *a != [0; 16])
                .ok_or_else(|| CoreError::invalid("invalid_aaguid", "aaguid: must be a UUID naming a model"))?,
        ),
        None => None,
    };
    match (by_name, by_aaguid) {
        (Some(a), Some(b)) if a != b => Err(CoreError::invalid(
            "invalid_aaguid",
            "aaguid: names another model than model",
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// `POST /api/v1/users/{id}/fido2/creation-options`: creation options for `user`, stored
/// bound to the caller and the user until they expire or are answered (audited
/// `credential.onbehalf_options`).
pub async fn creation_options(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: UserId,
    request: OptionsRequest,
) -> Result<IssuedOptions, CoreError> {
    let user = target(ctx, principal, user).await?;
    let minutes = request
        .challenge_timeout_minutes
        .unwrap_or(i64::from(ctx.config.ceremonies.onbehalf_timeout_minutes));
    if !timeout_in_range(minutes) {
        return Err(CoreError::invalid(
            "invalid_challenge_timeout",
            format!("challengeTimeoutMinutes: must be from {MIN_TIMEOUT_MINUTES} to {MAX_TIMEOUT_MINUTES}"),
        ));
    }
    let expected_aaguid = expected_model(&request)?;
    if !user.enabled {
        let e = disabled();
        audit_refusal(ctx, Action::CredentialOnBehalfOptions, user.id, "user_disabled", None).await?;
        return Err(e);
    }
    let settings = &ctx.config.ceremonies;
    let timeout_ms = u64::try_from(minutes).unwrap_or(0) * 60_000;
    let options = OnBehalfOptions {
        id: CeremonyId::new_random(&mut OsRng),
        user_id: user.id,
        caller: caller_of(principal),
        challenge: new_challenge(),
        rp_id: settings.rp_id.clone(),
        expected_aaguid,
        created_at: ctx.now,
        expires_at: ctx.now.plus(std::time::Duration::from_millis(timeout_ms)),
    };
    // §5.4.3 excludeCredentials: the user's keys, so one key is not registered twice.
    let existing = ctx.stores.credentials.list_user_credentials(user.id).await?;
    let public_key = PublicKeyCredentialCreationOptions {
        timeout: u32::try_from(timeout_ms).ok(),
        exclude_credentials: existing
            .iter()
            .map(|c| CredentialDescriptor::stored(&c.id, &c.transports))
            .collect(),
        authenticator_selection: Some(AuthenticatorSelection {
            resident_key: Some(ResidentKeyRequirement::Required),
            require_resident_key: Some(true),
            user_verification: Some(UserVerificationRequirement::Required),
            ..Default::default()
        }),
        attestation: Some(AttestationConveyance::Direct),
        ..PublicKeyCredentialCreationOptions::new(
            RelyingParty::new(&settings.rp_id, &settings.rp_name),
            UserEntity::new(user.user_handle.clone(), user.username.as_str(), &user.display_name),
            options.challenge.clone(),
            CredentialParameter::list(&OFFERED_ALGS),
        )
    };
    let public_key = serde_json::to_value(&public_key)
        .map_err(|e| CoreError::Store(keyfleet_domain::StoreError::Corrupt(format!("creation options: {e}"))))?;
    let detail = OptionsIssued {
        options_id: options.id.to_string(),
        expires_at: rfc3339(options.expires_at),
        expected_aaguid: options.expected_aaguid.as_ref().map(crate::models::aaguid_text),
    };
    let audit = ctx.audit_with(Action::CredentialOnBehalfOptions, Some(Target::User(user.id)), &detail);
    ctx.stores.onbehalf.create_onbehalf_options(&options, &audit).await?;
    Ok(IssuedOptions { options, public_key })
}

/// The body of `POST /api/v1/users/{id}/fido2/methods`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct MethodRequest {
    display_name: String,
    public_key_credential: RegistrationResponseJSON,
}

/// The challenge a response's client data names, when it can be read (verification says why
/// when it cannot).
fn challenge_of(credential: &RegistrationResponseJSON) -> Option<Vec<u8>> {
    let data = keyfleet_webauthn_rp::client_data::parse(&credential.response.client_data_json.0).ok()?;
    super::ceremony::unb64(&data.challenge)
}

/// The challenge named by a body that is not of the expected shape, when one can be found.
fn challenge_of_raw(raw: &serde_json::Value) -> Option<Vec<u8>> {
    let text = raw.pointer("/publicKeyCredential/response/clientDataJSON")?.as_str()?;
    let bytes = super::ceremony::unb64(text)?;
    let data = keyfleet_webauthn_rp::client_data::parse(&bytes).ok()?;
    super::ceremony::unb64(&data.challenge)
}

/// `POST /api/v1/users/{id}/fido2/methods`: verifies the attestation against the options it
/// answers and registers the key for `user` (audited `credential.register`, its detail marked
/// `onBehalf`). The options are consumed by success and by every failure after they were
/// matched to this caller and user.
pub async fn register(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: UserId,
    raw: serde_json::Value,
) -> Result<Method, OnBehalfError> {
    let user = target(ctx, principal, user).await?;
    let body: MethodRequest = match serde_json::from_value(raw.clone()) {
        Ok(body) => body,
        Err(e) => {
            let refusal = super::ceremony::invalid_shape(&e);
            if let Some(challenge) = challenge_of_raw(&raw) {
                abandon(ctx, principal, &user, &challenge, refusal.code).await?;
            }
            return Err(refusal.into());
        }
    };
    if !user.enabled {
        audit_refusal(ctx, Action::CredentialRegister, user.id, "user_disabled", None).await?;
        return Err(disabled().into());
    }
    let credential = &body.public_key_credential;
    let Some(challenge) = challenge_of(credential) else {
        audit_refusal(ctx, Action::CredentialRegister, user.id, "unknown_challenge", None).await?;
        return Err(reject(
            "unknown_challenge",
            "the response's clientDataJSON names no challenge of this server",
        )
        .into());
    };
    let Some(options) = ctx.stores.onbehalf.onbehalf_options_by_challenge(&challenge).await? else {
        audit_refusal(ctx, Action::CredentialRegister, user.id, "unknown_challenge", None).await?;
        return Err(reject(
            "unknown_challenge",
            "no creation options with this challenge; they were used, or they expired",
        )
        .into());
    };
    // Options of another user or of another caller are refused without being consumed: they
    // are not this caller's to spend.
    if let Some(code) = foreign(&options, principal, &user) {
        audit_refusal(ctx, Action::CredentialRegister, user.id, code, Some(options.id)).await?;
        let message = match code {
            "options_for_another_user" => "these creation options were issued for another user",
            _ => "these creation options were issued to another caller",
        };
        return Err(CeremonyError::new(FailureClass::Rejected, code, message).into());
    }
    match verify_and_store(ctx, &user, &options, &body).await {
        Ok(credential) => Ok(as_methods(ctx, vec![credential]).await?.remove(0)),
        Err(e) => {
            // Every failure consumes the options (a replay finds nothing), audited once.
            let detail = OnBehalfRefused {
                code: e.code,
                on_behalf: true,
                options_id: Some(options.id.to_string()),
            };
            let event = ctx
                .audit_with(Action::CredentialRegister, Some(Target::User(user.id)), &detail)
                .with_outcome(Outcome::Failure);
            ctx.stores.onbehalf.consume_onbehalf_options(options.id, &event).await?;
            Err(e.into())
        }
    }
}

/// Why options are not this caller's for this user (`None`: they are).
fn foreign(options: &OnBehalfOptions, principal: &Principal, user: &User) -> Option<&'static str> {
    if options.user_id != user.id {
        Some("options_for_another_user")
    } else if options.caller != caller_of(principal) {
        Some("options_of_another_caller")
    } else {
        None
    }
}

/// Spends the options named by a body that could not be read as a registration (wrong
/// shape): every failure consumes the challenge and is audited. Options not this caller's for
/// this user are left alone.
async fn abandon(
    ctx: &Ctx<'_>,
    principal: &Principal,
    user: &User,
    challenge: &[u8],
    code: &'static str,
) -> Result<(), OnBehalfError> {
    let Some(options) = ctx.stores.onbehalf.onbehalf_options_by_challenge(challenge).await? else {
        return Ok(());
    };
    if foreign(&options, principal, user).is_some() {
        return Ok(());
    }
    let detail = OnBehalfRefused {
        code,
        on_behalf: true,
        options_id: Some(options.id.to_string()),
    };
    let event = ctx
        .audit_with(Action::CredentialRegister, Some(Target::User(user.id)), &detail)
        .with_outcome(Outcome::Failure);
    ctx.stores.onbehalf.consume_onbehalf_options(options.id, &event).await?;
    Ok(())
}

async fn verify_and_store(
    ctx: &Ctx<'_>,
    user: &User,
    options: &OnBehalfOptions,
    body: &MethodRequest,
) -> Result<Credential, CeremonyError> {
    let (credential, audit) =
        verify_answer(ctx, user, options, &body.display_name, &body.public_key_credential).await?;
    let stored = ctx
        .stores
        .onbehalf
        .finish_onbehalf_registration(options.id, &credential, &audit)
        .await;
    stored_or_refusal(stored).map(|()| credential)
}

/// Verifies a key made for `options` (its attestation answering them) as a key registered
/// on behalf of `user`: every check of `POST /api/v1/users/{id}/fido2/methods` (the options
/// live, UV, a trusted attestation chain, the owner's policy, the model ordered). Returns the
/// credential to store and its audit event; the caller stores both in one transaction that
/// consumes the options (this route, or the shipment connector's registration).
pub(crate) async fn verify_answer(
    ctx: &Ctx<'_>,
    user: &User,
    options: &OnBehalfOptions,
    display_name: &str,
    response: &RegistrationResponseJSON,
) -> Result<(Credential, keyfleet_domain::audit::NewAuditEvent), CeremonyError> {
    if !options.is_live(ctx.now) {
        return Err(reject(
            "challenge_expired",
            "the creation options expired; ask for new ones",
        ));
    }
    // What the options sent imply: this challenge and RP ID, the offered algorithms, and the
    // user verified (`userVerification: required`).
    let state = CreationState {
        challenge: options.challenge.clone(),
        rp_id: options.rp_id.clone(),
        allowed_algs: OFFERED_ALGS.to_vec(),
        user_verification_required: true,
        authenticator_extensions: Vec::new(),
    };
    let key = NewKey {
        credential: response,
        nickname: display_name,
        self_service: false,
        attestation_required: true,
    };
    let credential = verify_new_key(ctx, user, state, key).await?;
    // The model ordered: the key's attested AAGUID (its attestation chained to a trusted root,
    // so the AAGUID is the model's word, not the caller's).
    if let Some(expected) = options.expected_aaguid
        && credential.aaguid != expected
    {
        return Err(reject(
            "model_mismatch",
            format!(
                "the key is a {} ({}), not the model these options were created for ({})",
                crate::models::model_label(&credential.aaguid),
                crate::models::aaguid_text(&credential.aaguid),
                crate::models::aaguid_text(&expected),
            ),
        ));
    }
    let detail = RegisteredOnBehalf {
        key: KeyRegistered::of(&credential),
        on_behalf: true,
        options_id: options.id.to_string(),
    };
    let audit = ctx.audit_with(Action::CredentialRegister, Some(Target::User(user.id)), &detail);
    Ok((credential, audit))
}

/// The challenge a registration response's client data names (`None` when unreadable).
pub(crate) fn response_challenge(credential: &RegistrationResponseJSON) -> Option<Vec<u8>> {
    challenge_of(credential)
}

/// A user's key as Microsoft Graph's `fido2AuthenticationMethod` shows it.
#[derive(Debug, Clone)]
pub struct Method {
    /// The key.
    pub credential: Credential,
    /// The model's name (the metadata's description, else the community list's), when known.
    pub model: Option<String>,
    /// Lowercase hex SHA-256 thumbprints of the attestation certificates (`x5c`), leaf first.
    pub attestation_certificates: Vec<String>,
}

impl Method {
    /// `attested` when the attestation chained to a trusted root, else `notAttested`.
    pub fn attestation_level(&self) -> &'static str {
        if self.credential.is_attested() {
            "attested"
        } else {
            "notAttested"
        }
    }

    /// `synced` for a backup-eligible key, else `deviceBound`.
    pub fn passkey_type(&self) -> &'static str {
        if self.credential.backup_eligible {
            "synced"
        } else {
            "deviceBound"
        }
    }

    /// The method's id: the credential id, base64url.
    pub fn id(&self) -> String {
        b64(&self.credential.id)
    }
}

/// The certificates of an attestation statement's `x5c`, as SHA-256 thumbprints.
fn thumbprints(attestation_object: &[u8]) -> Vec<String> {
    let Ok(object) = AttestationObject::parse(attestation_object) else {
        return Vec::new();
    };
    object
        .att_stmt
        .iter()
        .find(|(k, _)| matches!(k, Value::Text("x5c")))
        .and_then(|(_, v)| match v {
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|c| match c {
                        Value::Bytes(der) => {
                            Some(hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)))
                        }
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

async fn as_methods(ctx: &Ctx<'_>, keys: Vec<Credential>) -> Result<Vec<Method>, CoreError> {
    let aaguids: Vec<Aaguid> = keys.iter().map(|k| k.aaguid).collect();
    let facts = crate::metadata::models(ctx, &aaguids).await?;
    Ok(keys
        .into_iter()
        .map(|credential| {
            let fact = facts.iter().find(|(a, _)| *a == credential.aaguid).map(|(_, f)| f);
            let model = match fact {
                Some(f) if !f.description.trim().is_empty() => Some(f.description.clone()),
                _ => crate::models::model_name(&credential.aaguid).map(str::to_owned),
            };
            Method {
                attestation_certificates: thumbprints(&credential.attestation_object),
                model,
                credential,
            }
        })
        .collect())
}

/// `GET /api/v1/users/{id}/fido2/methods`: the user's keys, oldest first.
pub async fn methods(ctx: &Ctx<'_>, principal: &Principal, user: UserId) -> Result<Vec<Method>, CoreError> {
    let user = target(ctx, principal, user).await?;
    let keys = ctx.stores.credentials.list_user_credentials(user.id).await?;
    as_methods(ctx, keys).await
}

/// `GET /api/v1/users/{id}/fido2/methods/{methodId}`: one of the user's keys (`NotFound` for
/// another user's).
pub async fn method(ctx: &Ctx<'_>, principal: &Principal, user: UserId, id: &[u8]) -> Result<Method, CoreError> {
    let user = target(ctx, principal, user).await?;
    let key = super::keys::get_own(ctx, user.id, id).await?;
    Ok(as_methods(ctx, vec![key]).await?.remove(0))
}

/// `DELETE /api/v1/users/{id}/fido2/methods/{methodId}`: removes one of the user's keys and
/// ends the sessions opened with it, as an administrator's removal does.
pub async fn remove_method(ctx: &Ctx<'_>, principal: &Principal, user: UserId, id: &[u8]) -> Result<(), CoreError> {
    let user = target(ctx, principal, user).await?;
    super::keys::remove_user_key(ctx, user.id, id).await?;
    Ok(())
}
