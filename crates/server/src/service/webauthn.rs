//! What both WebAuthn ceremonies share: configuration, challenges, ceremony records, and the
//! typed failure every step reports.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind};
use keyfleet_domain::ids::{CeremonyId, SessionId};
use keyfleet_domain::{StoreError, Timestamp, UserId};
use keyfleet_webauthn_rp::{Aaguid, AttestationFormat, CoseAlgorithm, TrustAnchor, TrustAnchorProvider};
use rand_core::{OsRng, RngCore};

use crate::config::Settings;
use crate::secrets::MasterKey;

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

/// Configuration of the ceremonies, loaded once at start.
pub struct WebauthnConfig {
    /// Attestation roots (empty: trust is not evaluated).
    pub anchors: Vec<TrustAnchor>,
    /// Key for the stand-in credential ids given for unknown usernames.
    pub decoy_key: [u8; 32],
}

impl WebauthnConfig {
    /// Reads the attestation roots and derives the decoy key.
    pub fn load(settings: &Settings, master: &MasterKey) -> anyhow::Result<Self> {
        let anchors = match &settings.attestation_roots_file {
            Some(path) => {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("attestation_roots_file {}: {e}", path.display()))?;
                let anchors = TrustAnchor::from_pem(&pem)
                    .map_err(|e| anyhow::anyhow!("attestation_roots_file {}: {e}", path.display()))?;
                anyhow::ensure!(
                    !anchors.is_empty(),
                    "attestation_roots_file {} holds no certificate",
                    path.display()
                );
                anchors
            }
            None => Vec::new(),
        };
        Ok(Self {
            anchors,
            decoy_key: master.derive("webauthn-decoy-credential"),
        })
    }
}

impl TrustAnchorProvider for WebauthnConfig {
    /// The configured roots, for every format and model (per-model anchors come with the
    /// metadata service).
    fn anchors(&self, _: AttestationFormat, _: Aaguid) -> &[TrustAnchor] {
        &self.anchors
    }
}

/// How a ceremony step failed: an HTTP-independent class, a stable code and a message.
#[derive(Debug)]
pub struct CeremonyError {
    /// What kind of refusal.
    pub class: FailureClass,
    /// Stable code (`challenge_expired`, `origin_mismatch`, …).
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

/// Classes of ceremony failure, mapped to HTTP statuses at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The response does not pass a check (400).
    Rejected,
    /// The credential or account does not authenticate (401).
    Unauthenticated,
    /// A field other than the response is wrong (422).
    Invalid,
    /// The outcome conflicts with stored state (409).
    Conflict,
    /// The store failed.
    Store,
}

impl CeremonyError {
    /// A failure of `class` with `code`.
    pub fn new(class: FailureClass, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            class,
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for CeremonyError {
    fn from(e: StoreError) -> Self {
        Self::new(FailureClass::Store, "store", e.to_string())
    }
}

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
    settings: &Settings,
    now: Timestamp,
) -> Ceremony {
    Ceremony {
        id: CeremonyId::new_random(&mut OsRng),
        kind,
        challenge: new_challenge(),
        user_id: user,
        session_id: session,
        rp_id: settings.rp_id.clone(),
        user_verification: settings.user_verification.clone(),
        allow_credentials,
        params: String::new(),
        created_at: now,
        expires_at: now.plus(settings.challenge_timeout),
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

/// The allow-list entry of a credential in options JSON.
pub fn descriptor(id: &[u8], transports: &[String]) -> serde_json::Value {
    let mut d = serde_json::json!({ "type": "public-key", "id": b64(id) });
    if !transports.is_empty() {
        d["transports"] = serde_json::json!(transports);
    }
    d
}

/// The options' `timeout` in milliseconds.
pub fn timeout_ms(settings: &Settings) -> u64 {
    u64::try_from(settings.challenge_timeout.as_millis()).unwrap_or(300_000)
}
