//! What both WebAuthn ceremonies share: challenges, ceremony records, encodings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind};
use keyfleet_domain::ids::{CeremonyId, SessionId};
use keyfleet_domain::{StoreError, Timestamp, UserId};
use keyfleet_webauthn_rp::{CoseAlgorithm, CreationState, RequestState, UserVerificationRequirement};
use rand_core::{OsRng, RngCore};

use crate::config::CeremonyConfig;
use crate::{CeremonyError, FailureClass};

/// Bytes of every challenge (WebAuthn L3 §13.4.3 asks for at least 16).
pub const CHALLENGE_LEN: usize = 32;

/// Algorithms offered in `pubKeyCredParams`, in order of preference.
pub const OFFERED_ALGS: [CoseAlgorithm; 5] = [
    CoseAlgorithm::Es256,
    CoseAlgorithm::EdDsa,
    CoseAlgorithm::Es384,
    CoseAlgorithm::Ps256,
    CoseAlgorithm::Rs256,
];

/// The answer to a finish request whose body does not have the expected shape (for example
/// an assertion sent where an attestation response is expected: R1, A1). 422 like every
/// other malformed body; the caller consumes the ceremony first.
pub fn invalid_shape(e: &serde_json::Error) -> CeremonyError {
    let message: String = format!("the request body does not have the expected shape: {e}")
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    CeremonyError::new(FailureClass::Invalid, "invalid_request", message)
}

/// Spends a ceremony on a failure path and records the failure, once: only the call that
/// consumed it writes `event` (a ceremony already spent has been accounted for). A
/// registration's ceremony is deleted; a sign-in's, held sealed by the client, is recorded as
/// spent until it expires.
pub async fn spend(ctx: &crate::Ctx<'_>, ceremony: &Ceremony, event: NewAuditEvent) -> Result<(), StoreError> {
    let store = &ctx.stores.ceremonies;
    let spent_now = match ceremony.kind {
        CeremonyKind::Registration => store.consume_ceremony(ceremony.id).await?,
        CeremonyKind::Authentication => store.spend_ceremony(ceremony.id, ceremony.expires_at).await?,
    };
    if spent_now {
        ctx.stores.audit.append(&event).await?;
    }
    Ok(())
}

/// Fresh random challenge bytes.
pub fn new_challenge() -> Vec<u8> {
    let mut c = vec![0u8; CHALLENGE_LEN];
    OsRng.fill_bytes(&mut c);
    c
}

/// A ceremony record, expiring after the configured timeout.
pub fn new_ceremony(
    kind: CeremonyKind,
    user: Option<UserId>,
    session: Option<SessionId>,
    allow_credentials: Vec<Vec<u8>>,
    config: &CeremonyConfig,
    now: Timestamp,
) -> Ceremony {
    Ceremony {
        // Time-ordered: a sign-in's id is recorded as spent when it ends, in an index it then
        // joins at the end (`spent_ceremonies`).
        id: CeremonyId::new_time_ordered(now, &mut OsRng),
        kind,
        challenge: new_challenge(),
        user_id: user,
        session_id: session,
        rp_id: config.rp_id.clone(),
        user_verification: config.user_verification.clone(),
        allow_credentials,
        params: String::new(),
        created_at: now,
        expires_at: now.plus(config.challenge_timeout),
    }
}

/// A timestamp as `SystemTime` (for certificate validity checks).
pub fn system_time(ts: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ts.as_millis()).unwrap_or(0))
}

/// Unpadded base64url.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The options' `timeout` in milliseconds, as the options type holds it.
pub fn timeout(config: &CeremonyConfig) -> Option<u32> {
    u32::try_from(timeout_ms(config)).ok()
}

/// The options' `timeout` in milliseconds.
pub fn timeout_ms(config: &CeremonyConfig) -> u64 {
    u64::try_from(config.challenge_timeout.as_millis()).unwrap_or(300_000)
}

/// The `userVerification` the configuration names.
pub fn user_verification(config: &CeremonyConfig) -> Option<UserVerificationRequirement> {
    UserVerificationRequirement::parse(&config.user_verification)
}

/// What verifying a registration expects, from the ceremony as stored: the options this
/// server sent imply exactly these (challenge, RP ID, the offered algorithms, UV).
pub fn creation_state(ceremony: &Ceremony) -> CreationState {
    CreationState {
        challenge: ceremony.challenge.clone(),
        rp_id: ceremony.rp_id.clone(),
        allowed_algs: OFFERED_ALGS.to_vec(),
        user_verification_required: ceremony.user_verification == "required",
        authenticator_extensions: Vec::new(),
    }
}

/// What verifying an assertion expects, from the ceremony as stored.
pub fn request_state(ceremony: &Ceremony) -> RequestState {
    RequestState {
        challenge: ceremony.challenge.clone(),
        rp_id: ceremony.rp_id.clone(),
        user_verification_required: ceremony.user_verification == "required",
        allow_credentials: ceremony.allow_credentials.clone(),
        authenticator_extensions: Vec::new(),
    }
}
