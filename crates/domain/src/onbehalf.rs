//! Creation options issued on behalf of a user (Microsoft Graph's `fido2Methods` flow): an
//! administrator or an API client asks for options for a named user, a key is made elsewhere
//! (the key factory), and the attestation comes back later, possibly days later.
//!
//! Unlike a self-service registration ceremony, these options are bound to the caller that
//! asked for them (not to a browser session), live as long as the caller chose (5 minutes to
//! 30 days), may name the model of key that was ordered, and are found again by their
//! challenge (the registration request names no ceremony). They are single-use: registering
//! the key deletes them in the same transaction, and every failure path deletes them too.

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
use crate::credential::Credential;
use crate::ids::CeremonyId;
use crate::report::Aaguid;
use crate::store::StoreResult;
use crate::{Timestamp, UserId};

/// The shortest challenge timeout a caller may ask for, in minutes (Graph's lower bound).
pub const MIN_TIMEOUT_MINUTES: u32 = 5;
/// The longest challenge timeout a caller may ask for, in minutes (30 days, Graph's bound).
pub const MAX_TIMEOUT_MINUTES: u32 = 43_200;

/// Whether `minutes` is an allowed challenge timeout (5–43200).
pub fn timeout_in_range(minutes: i64) -> bool {
    (i64::from(MIN_TIMEOUT_MINUTES)..=i64::from(MAX_TIMEOUT_MINUTES)).contains(&minutes)
}

/// Creation options issued on behalf of a user, as stored until they are answered or expire.
/// Their `Debug` output leaves the challenge out.
#[derive(Clone, PartialEq, Eq)]
pub struct OnBehalfOptions {
    /// Identifier.
    pub id: CeremonyId,
    /// The user the key is for.
    pub user_id: UserId,
    /// Who asked for the options (the audit actor's text: `user:ID`, `client:ID`, `system`);
    /// only the same caller may register the key.
    pub caller: String,
    /// The random challenge (never shown in a listing or log).
    pub challenge: Vec<u8>,
    /// The relying party id the options named.
    pub rp_id: String,
    /// The model ordered, when the caller named one: a key of another model is refused.
    pub expected_aaguid: Option<Aaguid>,
    /// When they were issued.
    pub created_at: Timestamp,
    /// When the challenge stops being accepted.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for OnBehalfOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnBehalfOptions")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("caller", &self.caller)
            .field("rp_id", &self.rp_id)
            .field("expected_aaguid", &self.expected_aaguid)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl OnBehalfOptions {
    /// Whether the challenge is still accepted at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// Storage of on-behalf creation options.
#[async_trait]
pub trait OnBehalfStore: Send + Sync {
    /// Stores new options and appends `audit`, in one transaction. `NotFound` when the user
    /// is gone; `Conflict("challenge")` on a duplicate challenge.
    async fn create_onbehalf_options(&self, options: &OnBehalfOptions, audit: &NewAuditEvent) -> StoreResult<()>;
    /// The options that issued `challenge`, expired ones included.
    async fn onbehalf_options_by_challenge(&self, challenge: &[u8]) -> StoreResult<Option<OnBehalfOptions>>;
    /// The options outstanding for `user`, oldest first (expired ones included until purged).
    async fn list_onbehalf_options(&self, user: UserId) -> StoreResult<Vec<OnBehalfOptions>>;
    /// Deletes options on a failure path and, only when this call deleted them, appends
    /// `audit`; true when this call deleted them.
    async fn consume_onbehalf_options(&self, id: CeremonyId, audit: &NewAuditEvent) -> StoreResult<bool>;
    /// Registers the key in one transaction: deletes the options (which must be for
    /// `credential.user_id`), inserts the credential, appends `audit`.
    ///
    /// `Conflict("ceremony_used")` when the options are gone or are another user's;
    /// `Conflict("credential_id")` when any user already holds the id. Nothing is written on
    /// error, the options included.
    async fn finish_onbehalf_registration(
        &self,
        id: CeremonyId,
        credential: &Credential,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Deletes options that expired before `before`; returns how many.
    async fn purge_onbehalf_options(&self, before: Timestamp) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_range() {
        assert!(!timeout_in_range(4) && timeout_in_range(5));
        assert!(timeout_in_range(43_200) && !timeout_in_range(43_201));
        assert!(!timeout_in_range(-5) && !timeout_in_range(i64::MAX));
    }

    #[test]
    fn debug_output_leaves_the_challenge_out() {
        let o = OnBehalfOptions {
            id: CeremonyId::new_random(&mut rand_core::OsRng),
            user_id: UserId::new_random(&mut rand_core::OsRng),
            caller: "client:factory".into(),
            challenge: vec![0xAB; 32],
            rp_id: "keyfleet.example".into(),
            expected_aaguid: None,
            created_at: Timestamp::from_millis(0),
            expires_at: Timestamp::from_millis(300_000),
        };
        let text = format!("{o:?}");
        assert!(text.contains("client:factory"));
        assert!(!text.contains("171, 171") && !text.contains("challenge"), "{text}");
    }
}
