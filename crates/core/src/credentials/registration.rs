//! Registering a security key: WebAuthn L3 §7.1, for a signed-in user or a TAP session.
//!
//! The options follow `PublicKeyCredentialCreationOptionsJSON` (§5.1.8); verification is
//! `keyfleet_webauthn_rp::verify_registration`. The ceremony is bound to the session that
//! started it, and is consumed exactly once: by the transaction that stores the credential,
//! or by the failure path.

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::{Action, Outcome, Target};
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind};
use keyfleet_domain::credential::{Credential, validate_nickname};
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::policy::{Attestation, KeyFacts, Refusal};
use keyfleet_domain::session::Session;
use keyfleet_domain::user::User;
use keyfleet_webauthn_rp::registration::AttestationObject;
use keyfleet_webauthn_rp::{
    Aaguid, AttestationConveyance, AttestationFormat, AttestationPolicy, AuthenticatorData, AuthenticatorSelection,
    CreationState, CredentialDescriptor, CredentialParameter, CrossOriginPolicy, Extensions,
    PublicKeyCredentialCreationOptions, RegistrationContext, RegistrationResponseJSON, RelyingParty,
    ResidentKeyRequirement, TrustAnchor, TrustAnchorProvider, TrustOutcome, UserEntity, UserVerificationRequirement,
};
use serde::Serialize;

use super::ceremony::{OFFERED_ALGS, b64, creation_state, new_ceremony, system_time, timeout};
use crate::audit::{CeremonyFailed, Detail};
use crate::metadata::AuthenticatorTrust;
use crate::{CeremonyError, Ctx, FailureClass};

/// A key registered.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyRegistered<'a> {
    credential_id: String,
    nickname: &'a str,
    aaguid: String,
    fmt: &'a str,
    trust: &'a str,
}
impl Detail for KeyRegistered<'_> {}

impl<'a> KeyRegistered<'a> {
    /// The detail of registering `credential`.
    pub(crate) fn of(credential: &'a Credential) -> Self {
        Self {
            credential_id: b64(&credential.id),
            nickname: &credential.nickname,
            aaguid: hex::encode(credential.aaguid),
            fmt: &credential.attestation_format,
            trust: &credential.attestation_trust,
        }
    }
}

/// Starts a registration: stores the ceremony and returns it with the creation options.
pub async fn start(
    ctx: &Ctx<'_>,
    user: &User,
    session: &Session,
) -> Result<(Ceremony, serde_json::Value), CeremonyError> {
    // §5.4.3 excludeCredentials: the user's keys, so one key is not registered twice.
    let existing = ctx.stores.credentials.list_user_credentials(user.id).await?;
    // The owner's policy: self-service registration and the key limit are known before any
    // key is asked for; user verification is asked for as strictly as the policy requires.
    let policy = crate::policies::effective(ctx, user.id).await?;
    if !policy.self_service_registration.value {
        return Err(reject(
            Refusal::SelfServiceDisabled.registration_code(),
            "your policy does not allow registering keys yourself; ask your helpdesk",
        ));
    }
    if policy
        .max_keys_per_user
        .value
        .is_some_and(|max| existing.len() >= usize::try_from(max).unwrap_or(usize::MAX))
    {
        return Err(reject(
            Refusal::TooManyKeys.registration_code(),
            "you hold as many keys as your policy allows; remove one first",
        ));
    }
    let settings = &ctx.config.ceremonies;
    let mut ceremony = new_ceremony(
        CeremonyKind::Registration,
        Some(user.id),
        Some(session.id),
        Vec::new(),
        settings,
        ctx.now,
    );
    ceremony.user_verification = policy.user_verification.value.as_str().to_owned();
    ctx.stores.ceremonies.create_ceremony(&ceremony).await?;
    let options = PublicKeyCredentialCreationOptions {
        timeout: timeout(settings),
        exclude_credentials: existing
            .iter()
            .map(|c| CredentialDescriptor::stored(&c.id, &c.transports))
            .collect(),
        authenticator_selection: Some(AuthenticatorSelection {
            resident_key: Some(ResidentKeyRequirement::Preferred),
            require_resident_key: Some(false),
            user_verification: UserVerificationRequirement::parse(&ceremony.user_verification),
            ..Default::default()
        }),
        attestation: Some(AttestationConveyance::Direct),
        extensions: Extensions {
            cred_props: true,
            ..Default::default()
        },
        ..PublicKeyCredentialCreationOptions::new(
            RelyingParty::new(&settings.rp_id, &settings.rp_name),
            UserEntity::new(user.user_handle.clone(), user.username.as_str(), &user.display_name),
            ceremony.challenge.clone(),
            CredentialParameter::list(&OFFERED_ALGS),
        )
    };
    let options = serde_json::to_value(&options)
        .map_err(|e| CeremonyError::new(FailureClass::Store, "options", e.to_string()))?;
    Ok((ceremony, options))
}

/// What the client sent to finish a registration.
struct Finish<'a> {
    /// The ceremony id from the options.
    ceremony_id: &'a str,
    /// The name the user gives the key.
    nickname: &'a str,
    /// `credential.toJSON()`.
    credential: &'a RegistrationResponseJSON,
}

/// The body of a finish request.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FinishRequest {
    ceremony_id: String,
    nickname: String,
    credential: RegistrationResponseJSON,
}

/// Finishes a registration from the request body as sent (`{ceremonyId, nickname,
/// credential}`). A body of the wrong shape (R1) still consumes its ceremony.
pub async fn finish(
    ctx: &Ctx<'_>,
    user: &User,
    session: &Session,
    raw: serde_json::Value,
) -> Result<Credential, CeremonyError> {
    let ceremony_id = raw.get("ceremonyId").and_then(|v| v.as_str()).map(str::to_owned);
    let body: FinishRequest = match serde_json::from_value(raw) {
        Ok(body) => body,
        Err(e) => {
            let refusal = super::ceremony::invalid_shape(&e);
            if let Some(id) = ceremony_id {
                abandon(ctx, user, session, &id, refusal.code).await?;
            }
            return Err(refusal);
        }
    };
    let input = Finish {
        ceremony_id: &body.ceremony_id,
        nickname: &body.nickname,
        credential: &body.credential,
    };
    finish_parsed(ctx, user, session, input).await
}

/// What a person is told when their policy refuses a key.
pub fn policy_message(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::SelfServiceDisabled => "your policy does not allow registering keys yourself",
        Refusal::TooManyKeys => "you hold as many keys as your policy allows",
        Refusal::UserVerification => "your policy requires the key to verify you (PIN or biometrics)",
        Refusal::AttestationRequired => "your policy requires a key whose attestation reaches a trusted root",
        Refusal::AaguidNotAllowed | Refusal::AaguidBlocked => "your policy does not allow this model of key",
        Refusal::AaguidUnattested => "your policy allows only listed models, proven by a trusted attestation",
        Refusal::PasskeyType => "your policy does not allow this kind of passkey (device-bound or synced)",
        Refusal::Compromised => "the FIDO Alliance marks this model of key compromised",
    }
}

pub(crate) fn reject(code: &'static str, message: impl Into<String>) -> CeremonyError {
    CeremonyError::new(FailureClass::Rejected, code, message)
}

/// Finishes a registration: checks the ceremony belongs to this session, verifies the
/// response, and stores the credential in the transaction that consumes the challenge.
async fn finish_parsed(
    ctx: &Ctx<'_>,
    user: &User,
    session: &Session,
    input: Finish<'_>,
) -> Result<Credential, CeremonyError> {
    if ctx.config.ceremonies.seal_key.open(input.ceremony_id).is_some() {
        // A sign-in ceremony of this server: not one to register with (and not spent here).
        return Err(reject("ceremony_mismatch", "not a registration ceremony"));
    }
    let id: CeremonyId = input
        .ceremony_id
        .parse()
        .map_err(|_| reject("unknown_ceremony", "no such ceremony"))?;
    let Some(ceremony) = ctx.stores.ceremonies.get_ceremony(id).await? else {
        return Err(reject(
            "unknown_ceremony",
            "no such ceremony; it was used, or it expired",
        ));
    };
    // A ceremony started by another session is refused without consuming it (row 10): it is
    // not this caller's to spend.
    if ceremony.kind != CeremonyKind::Registration
        || ceremony.session_id != Some(session.id)
        || ceremony.user_id != Some(user.id)
    {
        return Err(reject(
            "ceremony_mismatch",
            "this ceremony was not started by this session",
        ));
    }
    match verify_and_store(ctx, user, &ceremony, &input).await {
        Ok(credential) => Ok(credential),
        Err(e) => {
            // Every failure consumes the challenge (a replay finds nothing), and is audited.
            ctx.stores.ceremonies.consume_ceremony(ceremony.id).await?;
            let detail = CeremonyFailed {
                code: e.code,
                credential_id: None,
            };
            let event = ctx
                .audit_with(Action::CredentialRegister, Some(Target::User(user.id)), &detail)
                .with_outcome(Outcome::Failure);
            ctx.stores.audit.append(&event).await?;
            Err(e)
        }
    }
}

/// Spends the ceremony named by a finish request that could not be read as one (its body
/// has the wrong shape, R1): every failure consumes the challenge and is audited. A ceremony
/// that is not this session's registration is left alone, as [`finish`] leaves it.
async fn abandon(
    ctx: &Ctx<'_>,
    user: &User,
    session: &Session,
    ceremony_id: &str,
    code: &'static str,
) -> Result<(), CeremonyError> {
    let Ok(id) = ceremony_id.parse::<CeremonyId>() else {
        return Ok(());
    };
    let Some(ceremony) = ctx.stores.ceremonies.get_ceremony(id).await? else {
        return Ok(());
    };
    if ceremony.kind != CeremonyKind::Registration
        || ceremony.session_id != Some(session.id)
        || ceremony.user_id != Some(user.id)
    {
        return Ok(());
    }
    let detail = CeremonyFailed {
        code,
        credential_id: None,
    };
    let event = ctx
        .audit_with(Action::CredentialRegister, Some(Target::User(user.id)), &detail)
        .with_outcome(Outcome::Failure);
    Ok(super::ceremony::spend(ctx, &ceremony, event).await?)
}

async fn verify_and_store(
    ctx: &Ctx<'_>,
    user: &User,
    ceremony: &Ceremony,
    input: &Finish<'_>,
) -> Result<Credential, CeremonyError> {
    if !ceremony.is_live(ctx.now) {
        return Err(reject("challenge_expired", "the ceremony expired; start again"));
    }
    let key = NewKey {
        credential: input.credential,
        nickname: input.nickname,
        self_service: true,
        attestation_required: false,
    };
    let credential = verify_new_key(ctx, user, creation_state(ceremony), key).await?;
    let detail = KeyRegistered::of(&credential);
    let audit = ctx.audit_with(Action::CredentialRegister, Some(Target::User(user.id)), &detail);
    let stored = ctx
        .stores
        .ceremonies
        .finish_registration(ceremony.id, &credential, &audit)
        .await;
    stored_or_refusal(stored).map(|()| credential)
}

/// What storing a verified key's transaction answered, as the ceremony's outcome.
pub(crate) fn stored_or_refusal(stored: Result<(), StoreError>) -> Result<(), CeremonyError> {
    match stored {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict("credential_id")) => Err(CeremonyError::new(
            FailureClass::Conflict,
            "credential_exists",
            "this security key is already registered",
        )),
        Err(StoreError::Conflict(_)) => Err(reject("challenge_used", "the ceremony was already used")),
        Err(e) => Err(e.into()),
    }
}

/// A new key to check: what differs between the portal's registration and the on-behalf API.
pub(crate) struct NewKey<'a> {
    /// `credential.toJSON()` (or the same shape built without a browser).
    pub credential: &'a RegistrationResponseJSON,
    /// The name the key is given.
    pub nickname: &'a str,
    /// Registered by its owner in the portal (the policy's self-service setting applies).
    pub self_service: bool,
    /// The attestation must chain to a trusted root (MDS or the configured roots) whatever
    /// the owner's policy says: an unattested or self-attested key is refused.
    pub attestation_required: bool,
}

/// Verifies a registration response against `state` (WebAuthn L3 §7.1, through
/// `keyfleet_webauthn_rp`: client data, authenticator data, the attestation statement and its
/// chain) and applies the owner's policy as it is now. Returns the credential to store; stores
/// nothing.
pub(crate) async fn verify_new_key(
    ctx: &Ctx<'_>,
    user: &User,
    state: CreationState,
    input: NewKey<'_>,
) -> Result<Credential, CeremonyError> {
    let config = &ctx.config.ceremonies;
    let settings = config;
    let nickname = validate_nickname(input.nickname)
        .map_err(|e| CeremonyError::new(FailureClass::Invalid, "invalid_nickname", e.to_string()))?;
    // The owner's policy as it is now (it may have changed since the ceremony started).
    let policy = crate::policies::effective(ctx, user.id).await?;
    let attestation_required = input.attestation_required || policy.attestation.value == Attestation::Required;
    // R18: the model's metadata entry, by the AAGUID the response claims. Its attestation
    // roots join the configured ones as anchors for that AAGUID only, so a claim of a model
    // the metadata knows must chain to that model's roots.
    let claimed = claimed_aaguid(input.credential);
    let model = match claimed {
        Some(aaguid) => crate::metadata::trust_for_aaguid(ctx, &aaguid.0).await?,
        None => None,
    };
    // The expectations borrow a trust-anchor provider that is not `Sync`, so they live only in
    // this block and never across an await.
    let verified = {
        let origins: Vec<&str> = settings.origins.iter().map(String::as_str).collect();
        let anchors = ModelAnchors::new(&config.anchors, claimed, model.as_ref());
        let attestation = if anchors.is_empty() {
            AttestationPolicy::StatementOnly
        } else {
            let allow = !attestation_required;
            AttestationPolicy::Trusted {
                anchors: &anchors,
                allow_none: allow,
                allow_self: allow,
            }
        };
        let context = RegistrationContext {
            origins: &origins,
            cross_origin: CrossOriginPolicy::Deny,
            user_presence_required: true,
            reject_unsolicited_extensions: false,
            attestation,
            now: system_time(ctx.now),
        };
        state
            .verify(context, input.credential)
            .map_err(|e| reject(e.code(), e.to_string()))?
    };
    // §1.4 step 7: a model whose latest status is a compromise is refused.
    if let Some(m) = model.as_ref().filter(|m| m.compromised) {
        return Err(CeremonyError::new(
            FailureClass::Rejected,
            "authenticator_compromised",
            format!(
                "this security key model is reported {} by the FIDO Metadata Service; use another key",
                m.status.as_deref().unwrap_or("compromised")
            ),
        ));
    }
    let trust = match verified.trust {
        TrustOutcome::NotEvaluated => "not_evaluated",
        TrustOutcome::Anchored { .. } => "trusted",
        TrustOutcome::NoneAllowed => "none",
        TrustOutcome::SelfAllowed => "self",
    };
    // A key that must prove its model and did not (no roots to evaluate it against).
    if input.attestation_required && trust != "trusted" {
        return Err(reject(
            Refusal::AttestationRequired.registration_code(),
            "a key registered on behalf of a user must prove its model: its attestation must chain to a root of the FIDO metadata or of the configured attestation roots",
        ));
    }
    // The policy's rules on the key (R12, R14, R19, bad inputs 15, 17, 19): UV, attestation,
    // passkey type, AAGUID lists, compromised models, the key limit.
    let compromised = match verified.aaguid.0 {
        a if policy.block_compromised_models.value => ctx
            .stores
            .metadata
            .metadata_entry(&a)
            .await?
            .is_some_and(|e| e.compromised),
        _ => false,
    };
    let facts = KeyFacts {
        aaguid: verified.aaguid.0,
        attested: trust == "trusted",
        backup_eligible: verified.flags.backup_eligible,
        compromised,
    };
    let held = ctx.stores.credentials.list_user_credentials(user.id).await?.len();
    if let Err(refusal) = policy.may_register(&facts, verified.flags.user_verified, held, input.self_service) {
        return Err(reject(refusal.registration_code(), policy_message(refusal)));
    }
    Ok(Credential {
        id: verified.credential_id.clone(),
        user_id: user.id,
        public_key: verified.public_key.cose_bytes().to_vec(),
        alg: verified.alg.id(),
        sign_count: verified.sign_count,
        aaguid: verified.aaguid.0,
        transports: verified.transports.clone(),
        backup_eligible: verified.flags.backup_eligible,
        backup_state: verified.flags.backup_state,
        uv_initialized: verified.flags.user_verified,
        attestation_format: verified.fmt.as_str().to_owned(),
        attestation_trust: trust.to_owned(),
        attestation_object: verified.attestation_object.clone(),
        nickname,
        created_at: ctx.now,
        last_used_at: None,
        possibly_cloned: false,
    })
}

/// The AAGUID a registration response claims, read before verification to look its model up;
/// `None` when the response does not parse (verification then says why) or for the all-zero
/// AAGUID, which names no model (an AAGUID-less key is never matched to an entry).
pub(crate) fn claimed_aaguid(credential: &RegistrationResponseJSON) -> Option<Aaguid> {
    let object = AttestationObject::parse(&credential.response.attestation_object.0).ok()?;
    let auth_data = AuthenticatorData::parse(object.auth_data).ok()?;
    let aaguid = auth_data.attested_credential_data?.aaguid;
    (aaguid.0 != [0; 16]).then_some(aaguid)
}

/// The anchors of one registration: the configured roots for every model, plus the metadata
/// entry's attestation roots for the AAGUID it was looked up by (an addition, not a
/// replacement).
struct ModelAnchors<'a> {
    configured: &'a [TrustAnchor],
    aaguid: Option<Aaguid>,
    with_model: Vec<TrustAnchor>,
}

impl<'a> ModelAnchors<'a> {
    fn new(configured: &'a [TrustAnchor], aaguid: Option<Aaguid>, model: Option<&AuthenticatorTrust>) -> Self {
        let mut with_model = configured.to_vec();
        // A root that does not parse was stored from a verified BLOB; it anchors nothing.
        with_model.extend(
            model
                .iter()
                .flat_map(|m| m.roots.iter())
                .filter_map(|der| TrustAnchor::from_der(der).ok()),
        );
        Self {
            configured,
            aaguid,
            with_model,
        }
    }

    fn is_empty(&self) -> bool {
        self.with_model.is_empty()
    }
}

impl TrustAnchorProvider for ModelAnchors<'_> {
    fn anchors(&self, _: AttestationFormat, aaguid: Aaguid) -> &[TrustAnchor] {
        if Some(aaguid) == self.aaguid {
            &self.with_model
        } else {
            self.configured
        }
    }
}
