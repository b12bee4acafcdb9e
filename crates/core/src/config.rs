//! The use cases' configuration: one narrow struct per concern, each holding only what its
//! use cases read. The server builds them from its settings; tests build them directly.

use std::time::Duration;

use keyfleet_domain::session::SessionLifetimes;
use keyfleet_webauthn_rp::{Aaguid, AttestationFormat, TrustAnchor, TrustAnchorProvider};

/// Everything the use cases are configured with.
pub struct CoreConfig {
    /// WebAuthn ceremonies.
    pub ceremonies: CeremonyConfig,
    /// Sessions.
    pub sessions: SessionConfig,
    /// Rate limits and back-off.
    pub limits: crate::limits::LimitConfig,
    /// API clients and access tokens.
    pub clients: ClientConfig,
    /// Directory sync (SCIM).
    pub directory: DirectoryConfig,
}

/// Directory sync (SCIM).
#[derive(Debug, Clone, Copy)]
pub struct DirectoryConfig {
    /// How long a user the directory deleted stays disabled and recoverable before the
    /// housekeeping job removes them for good.
    pub recovery: Duration,
}

/// The WebAuthn ceremonies.
pub struct CeremonyConfig {
    /// Relying-party id.
    pub rp_id: String,
    /// Relying-party name shown by authenticators.
    pub rp_name: String,
    /// Exact allowed origins.
    pub origins: Vec<String>,
    /// `required`, `preferred` or `discouraged`.
    pub user_verification: String,
    /// How long a ceremony lives.
    pub challenge_timeout: Duration,
    /// How long on-behalf creation options live when the caller does not say (5–43200
    /// minutes; `onbehalf_challenge_timeout_minutes`).
    pub onbehalf_timeout_minutes: u32,
    /// Refuse keys without an attestation that chains to the anchors.
    pub require_trusted_attestation: bool,
    /// Attestation roots (empty: trust is not evaluated).
    pub anchors: Vec<TrustAnchor>,
    /// Key for the stand-in credential ids given for unknown usernames.
    pub decoy_key: [u8; 32],
    /// Key sign-in ceremonies are sealed under (they are held by the client, not stored).
    pub seal_key: crate::credentials::sealed::SealKey,
}

impl TrustAnchorProvider for CeremonyConfig {
    /// The configured roots, for every format and model (per-model anchors come with the
    /// metadata service).
    fn anchors(&self, _: AttestationFormat, _: Aaguid) -> &[TrustAnchor] {
        &self.anchors
    }
}

/// Sessions.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// Idle and absolute lifetimes of a session.
    pub lifetimes: SessionLifetimes,
    /// Longest session a temporary access pass opens.
    pub tap_session: Duration,
    /// Whether removing a key in the portal also ends the sessions opened with it.
    pub removal_ends_sessions: bool,
}

/// API clients and the access tokens they get.
pub struct ClientConfig {
    /// How long a rotated-out secret keeps working.
    pub secret_phase_out: Duration,
    /// Lifetime of an access token.
    pub access_token_lifetime: Duration,
    /// The tokens' issuer.
    pub issuer: String,
    /// The tokens' audience.
    pub audience: String,
    /// Key of the client-secret digests (HMAC-SHA-256), derived from the master key.
    pub secret_digest_key: [u8; 32],
}
