//! §7.2 Verifying an Authentication Assertion (W3C WebAuthn Level 3).
//!
//! <https://www.w3.org/TR/webauthn-3/#sctn-verifying-assertion>
//!
//! [`verify_authentication`] runs the RP's steps on an `AuthenticationResponseJSON` against
//! the stored credential the caller looked up by `rawId`. It does no IO and changes no state:
//! the caller updates signCount, BS and uvInitialized (step 26) only after this returns `Ok`,
//! in the transaction that consumes the challenge (A14).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::auth_data::{AuthDataError, AuthenticatorData, AuthenticatorFlags};
use crate::client_data::{self, ClientDataError, ClientDataExpectations, CrossOriginPolicy};
use crate::cose::{CredentialPublicKey, SignatureError};
use crate::json::{AuthenticationResponseJSON, Base64UrlBytes};

/// The credential record the RP stored at registration (§7.1 step 27), as found by `rawId`.
#[derive(Debug, Clone, Copy)]
pub struct StoredCredential<'a> {
    /// The credential ID.
    pub id: &'a [u8],
    /// The credential public key, parsed once (e.g. when loaded or cached).
    pub public_key: &'a CredentialPublicKey,
    /// The stored signature counter.
    pub sign_count: u32,
    /// The stored BE flag; `None` if unknown (records made before it was stored).
    pub backup_eligible: Option<bool>,
    /// The user handle (`user.id`) of the account that owns the credential.
    pub user_handle: &'a [u8],
}

/// How the user was identified (§7.2 step 6, checklist A3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserIdentification {
    /// The user was identified before the ceremony (username first, or re-authentication):
    /// `userHandle`, if present, must equal the owner's handle.
    IdentifiedBeforehand,
    /// Usernameless (discoverable credential): `userHandle` is required and must name the owner.
    Usernameless,
}

/// What to do when the signature counter did not increase (§7.2 step 24, A13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterPolicy {
    /// Fail with [`AuthenticationError::CounterRegression`] (the default).
    #[default]
    Reject,
    /// Succeed, reporting [`CounterStatus::Regression`] for the caller to flag and audit.
    Report,
}

/// What the RP expects of an assertion.
#[derive(Debug, Clone, Copy)]
pub struct AssertionExpectations<'a> {
    /// The challenge bytes the RP issued (and must consume atomically).
    pub challenge: &'a [u8],
    /// Acceptable origins (exact match).
    pub origins: &'a [&'a str],
    /// The iframe policy.
    pub cross_origin: CrossOriginPolicy<'a>,
    /// The RP ID.
    pub rp_id: &'a str,
    /// Require the UV flag (request or group policy, A10).
    pub user_verification_required: bool,
    /// `allowCredentials` IDs sent in the options; empty means any (A2).
    pub allow_credentials: &'a [&'a [u8]],
    /// How the user was identified (A3).
    pub user: UserIdentification,
    /// The stored credential record.
    pub credential: StoredCredential<'a>,
    /// Extensions the RP requested; `Some` rejects unsolicited authenticator outputs.
    pub requested_extensions: Option<&'a [&'a str]>,
    /// Counter regression handling.
    pub counter_policy: CounterPolicy,
}

/// The signature counter's evolution (§6.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterStatus {
    /// The new count is greater than the stored one.
    Increased,
    /// Both are zero: the authenticator has no counter.
    BothZero,
    /// Either is non-zero and the new one is not greater: a possible clone (A13).
    Regression {
        /// The stored count.
        stored: u32,
        /// The count received.
        received: u32,
    },
}

/// A verified assertion: what to update (§7.2 step 26).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// The new signature counter to store.
    pub new_sign_count: u32,
    /// How the counter moved.
    pub counter: CounterStatus,
    /// The flags (store BS; set uvInitialized if UV).
    pub flags: AuthenticatorFlags,
    /// The user handle the authenticator returned, if any.
    pub user_handle: Option<Vec<u8>>,
    /// The authenticator extension outputs (CBOR map), if any.
    pub authenticator_extensions: Option<Vec<u8>>,
}

/// Why an assertion was rejected. [`Self::code`] gives a stable machine code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthenticationError {
    /// The credential is not a `public-key` credential, or `id` does not encode `rawId` (A1).
    #[error("invalid response: {0}")]
    InvalidResponse(&'static str),
    /// `rawId` is not in a non-empty `allowCredentials` (A2).
    #[error("credential is not in allowCredentials")]
    CredentialNotAllowed,
    /// `rawId` is not the stored credential's ID (A3).
    #[error("rawId does not match the stored credential")]
    CredentialIdMismatch,
    /// Usernameless login without `userHandle` (A3).
    #[error("userHandle is required for usernameless authentication")]
    UserHandleMissing,
    /// `userHandle` is not the owner's handle (A3).
    #[error("userHandle does not match the credential's owner")]
    UserHandleMismatch,
    /// A client data check failed (A4–A7).
    #[error(transparent)]
    ClientData(#[from] ClientDataError),
    /// The authenticator data is malformed.
    #[error(transparent)]
    AuthData(#[from] AuthDataError),
    /// Attested credential data in an assertion.
    #[error("assertion authenticator data must not carry attested credential data")]
    UnexpectedAttestedData,
    /// rpIdHash is not SHA-256 of the RP ID (A8).
    #[error("rpIdHash does not match the RP ID")]
    RpIdHashMismatch,
    /// UP is clear (A9).
    #[error("user presence flag is not set")]
    UserPresenceRequired,
    /// UV is clear but required (A10).
    #[error("user verification is required but the UV flag is not set")]
    UserVerificationRequired,
    /// BS is set without BE (A11).
    #[error("backup state set without backup eligibility")]
    BackupStateInvalid,
    /// BE differs from the stored value (A11).
    #[error("backup eligibility differs from the stored credential")]
    BackupEligibilityChanged,
    /// An authenticator extension output that was not requested.
    #[error("unsolicited extension output {0:?}")]
    UnsolicitedExtension(String),
    /// The signature does not verify with the stored key (A12).
    #[error("assertion signature is invalid: {0}")]
    SignatureInvalid(SignatureError),
    /// The counter did not increase (A13). Returned only after every other check passed, so
    /// the assertion is authentic: flag the credential and audit.
    #[error("signature counter regression: stored {stored}, received {received}")]
    CounterRegression {
        /// The stored count.
        stored: u32,
        /// The count received.
        received: u32,
    },
}

impl AuthenticationError {
    /// Stable machine code for the HTTP layer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidResponse(_) => "invalid_response",
            Self::CredentialNotAllowed => "credential_not_allowed",
            Self::CredentialIdMismatch => "credential_id_mismatch",
            Self::UserHandleMissing => "user_handle_missing",
            Self::UserHandleMismatch => "user_handle_mismatch",
            Self::ClientData(e) => e.code(),
            Self::AuthData(e) => e.code(),
            Self::UnexpectedAttestedData => "attested_data_flag_mismatch",
            Self::RpIdHashMismatch => "rp_id_hash_mismatch",
            Self::UserPresenceRequired => "user_presence_required",
            Self::UserVerificationRequired => "uv_required",
            Self::BackupStateInvalid => "backup_state_invalid",
            Self::BackupEligibilityChanged => "backup_eligibility_changed",
            Self::UnsolicitedExtension(_) => "unsolicited_extension",
            Self::SignatureInvalid(_) => "signature_invalid",
            Self::CounterRegression { .. } => "counter_regression",
        }
    }
}

/// Verifies an authentication assertion (§7.2).
pub fn verify_authentication(
    expected: &AssertionExpectations<'_>,
    credential: &AuthenticationResponseJSON,
) -> Result<VerifiedAssertion, AuthenticationError> {
    // 3. If response is not an AuthenticatorAssertionResponse, abort (A1).
    if credential.type_ != "public-key" {
        return Err(AuthenticationError::InvalidResponse("type must be \"public-key\""));
    }
    if !id_encodes_raw_id(&credential.id, &credential.raw_id.0) {
        return Err(AuthenticationError::InvalidResponse("id does not encode rawId"));
    }
    let raw_id = credential.raw_id.0.as_slice();
    let response = &credential.response;

    // 5. If allowCredentials was given, verify that credential.id identifies one of them (A2).
    if !expected.allow_credentials.is_empty() && !expected.allow_credentials.contains(&raw_id) {
        return Err(AuthenticationError::CredentialNotAllowed);
    }
    // 6. Identify the user and verify that they own the credential (A3).
    check_owner(expected, raw_id, response.user_handle.as_ref())?;
    // 7. credentialRecord is expected.credential, which the caller looked up by rawId.

    // 8–15. Client data: UTF-8 decode, parse, type webauthn.get, challenge, origin,
    //       crossOrigin, topOrigin (A4–A7). 22. hash = SHA-256(cData), over the raw bytes.
    let client_data_hash = client_data::verify(
        &response.client_data_json.0,
        &ClientDataExpectations {
            type_: client_data::TYPE_GET,
            challenge: expected.challenge,
            origins: expected.origins,
            cross_origin: expected.cross_origin,
        },
    )?;

    let auth_data = AuthenticatorData::parse(&response.authenticator_data.0)?;
    if auth_data.attested_credential_data.is_some() {
        return Err(AuthenticationError::UnexpectedAttestedData);
    }
    // 16. Verify that the rpIdHash in authData is the SHA-256 hash of the RP ID (A8).
    let rp_id_hash: [u8; 32] = Sha256::digest(expected.rp_id.as_bytes()).into();
    if !bool::from(auth_data.rp_id_hash.ct_eq(&rp_id_hash)) {
        return Err(AuthenticationError::RpIdHashMismatch);
    }
    // 17. Verify that the UP bit of the flags in authData is set (A9).
    if !auth_data.flags.user_present {
        return Err(AuthenticationError::UserPresenceRequired);
    }
    // 18. If user verification is required, verify that the UV bit is set (A10).
    if expected.user_verification_required && !auth_data.flags.user_verified {
        return Err(AuthenticationError::UserVerificationRequired);
    }
    // 19. If the BE bit is not set, verify that the BS bit is not set (A11).
    if !auth_data.flags.backup_eligible && auth_data.flags.backup_state {
        return Err(AuthenticationError::BackupStateInvalid);
    }
    // 20. If the credential backup state is used in RP policy: BE must not change (A11).
    if let Some(stored) = expected.credential.backup_eligible
        && stored != auth_data.flags.backup_eligible
    {
        return Err(AuthenticationError::BackupEligibilityChanged);
    }
    // 21. Verify that the extension outputs are as expected.
    if let (Some(requested), Some(ext)) = (expected.requested_extensions, auth_data.extensions)
        && let Some(id) = crate::auth_data::extension_ids(ext)
            .into_iter()
            .find(|id| !requested.contains(&id.as_str()))
    {
        return Err(AuthenticationError::UnsolicitedExtension(id));
    }
    // 23. Using credentialRecord.publicKey, verify that sig is a valid signature over the
    //     binary concatenation of authData and hash (A12).
    expected
        .credential
        .public_key
        .verify(&[auth_data.raw, &client_data_hash], &response.signature.0)
        .map_err(AuthenticationError::SignatureInvalid)?;
    // 24. If authData.signCount or credentialRecord.signCount is non-zero, the new count must
    //     be greater; otherwise it is a signal that the authenticator may be cloned (A13).
    let counter = counter_status(expected.credential.sign_count, auth_data.sign_count);
    if let (CounterStatus::Regression { stored, received }, CounterPolicy::Reject) = (counter, expected.counter_policy)
    {
        return Err(AuthenticationError::CounterRegression { stored, received });
    }
    // 26. Return what the caller must update (signCount, BS, uvInitialized).
    Ok(VerifiedAssertion {
        credential_id: raw_id.to_vec(),
        new_sign_count: auth_data.sign_count,
        counter,
        flags: auth_data.flags,
        user_handle: response.user_handle.as_ref().map(|h| h.0.clone()),
        authenticator_extensions: auth_data.extensions.map(<[u8]>::to_vec),
    })
}

/// §7.2 step 6 (A3): the credential must belong to the identified user.
fn check_owner(
    expected: &AssertionExpectations<'_>,
    raw_id: &[u8],
    user_handle: Option<&Base64UrlBytes>,
) -> Result<(), AuthenticationError> {
    // The account must own rawId.
    if !bool::from(raw_id.ct_eq(expected.credential.id)) {
        return Err(AuthenticationError::CredentialIdMismatch);
    }
    match (user_handle, expected.user) {
        // "If response.userHandle is present, verify that it equals user.id" / "verify that
        //  the user account identified by response.userHandle ... owns credentialRecord".
        (Some(handle), _) => {
            if bool::from(handle.0.as_slice().ct_eq(expected.credential.user_handle)) {
                Ok(())
            } else {
                Err(AuthenticationError::UserHandleMismatch)
            }
        }
        // Usernameless: "verify that response.userHandle is present".
        (None, UserIdentification::Usernameless) => Err(AuthenticationError::UserHandleMissing),
        (None, UserIdentification::IdentifiedBeforehand) => Ok(()),
    }
}

/// Classifies the counter change (§6.1.1 Signature Counter Considerations).
pub fn counter_status(stored: u32, received: u32) -> CounterStatus {
    if stored == 0 && received == 0 {
        CounterStatus::BothZero
    } else if received > stored {
        CounterStatus::Increased
    } else {
        CounterStatus::Regression { stored, received }
    }
}

/// True if `id` is the unpadded base64url encoding of `raw_id`, without allocating: encoded and
/// compared 48 bytes (64 characters) at a time.
fn id_encodes_raw_id(id: &str, raw_id: &[u8]) -> bool {
    use base64::Engine;
    let engine = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let id = id.as_bytes();
    let encoded_len = raw_id.len() / 3 * 4 + [0, 2, 3][raw_id.len() % 3];
    if id.len() != encoded_len {
        return false;
    }
    let mut buf = [0u8; 64];
    raw_id
        .chunks(48)
        .zip(id.chunks(64))
        .all(|(chunk, expected)| matches!(engine.encode_slice(chunk, &mut buf), Ok(n) if buf[..n] == *expected))
}

#[cfg(test)]
mod tests;
