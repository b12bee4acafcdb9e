//! keyfleet's WebAuthn relying-party verification, written from the W3C WebAuthn Level 3
//! specification (<https://www.w3.org/TR/webauthn-3/>).
//!
//! - [`verify_registration`]: §7.1 Registering a New Credential, with the attestation
//!   statement formats of §8 (`none`, `packed`, `tpm`, `android-key`, `android-safetynet`,
//!   `fido-u2f`, `apple`) and X.509 path validation against caller-supplied anchors.
//! - [`verify_authentication`]: §7.2 Verifying an Authentication Assertion, including the
//!   signature-counter clone signal.
//! - [`options`]: the ceremony options the RP sends (§5.1.8, §5.1.9 JSON forms), and the
//!   [`CreationState`] / [`RequestState`] they imply, from which the expectations above are
//!   built.
//! - [`corpus::run_case`]: runs one case of keyfleet's WebAuthn conformance corpus.
//!
//! Every signature (assertions, attestation statements, certificate chains) is verified with
//! aws-lc-rs, in [`cose`]; ES256, ES384, ES512 (P-521), EdDSA, RS256/384/512 and PS256/384/512.
//!
//! **Architecture invariant:** this crate does no IO. Time, trust anchors and stored
//! credentials come in as arguments; nothing is fetched, read or written, and nothing is
//! random. Every check failure is a typed error with a stable `code()`.
//!
//! ```no_run
//! use keyfleet_webauthn_rp::*;
//! # fn demo(response: &AuthenticationResponseJSON, key: &CredentialPublicKey) -> Result<(), AuthenticationError> {
//! let verified = verify_authentication(
//!     &AssertionExpectations {
//!         challenge: b"the 32 random bytes issued......",
//!         origins: &["https://keys.example.com"],
//!         cross_origin: CrossOriginPolicy::Deny,
//!         rp_id: "example.com",
//!         user_verification_required: true,
//!         allow_credentials: &[],
//!         user: UserIdentification::Usernameless,
//!         credential: StoredCredential {
//!             id: b"credential id",
//!             public_key: key,
//!             sign_count: 41,
//!             backup_eligible: Some(false),
//!             user_handle: b"user handle",
//!         },
//!         requested_extensions: None,
//!         counter_policy: CounterPolicy::Reject,
//!     },
//!     response,
//! )?;
//! assert!(verified.new_sign_count > 41);
//! # Ok(()) }
//! ```

pub mod attestation;
pub mod auth_data;
pub mod authentication;
pub mod cbor;
pub mod client_data;
pub mod corpus;
pub mod cose;
pub mod json;
pub mod options;
pub mod registration;
#[cfg(test)]
mod test_support;
pub mod x509;

pub use attestation::{AttestationError, AttestationFormat, AttestationType};
pub use auth_data::{Aaguid, AuthDataError, AuthenticatorData, AuthenticatorFlags};
pub use authentication::{
    AssertionExpectations, AuthenticationError, CounterPolicy, CounterStatus, StoredCredential, UserIdentification,
    VerifiedAssertion, verify_authentication,
};
pub use cbor::CborError;
pub use client_data::{ClientDataError, CrossOriginPolicy};
pub use cose::{CoseAlgorithm, CoseError, CredentialPublicKey, PublicKey, SignatureError};
pub use json::{
    AuthenticationResponseJSON, AuthenticatorAssertionResponseJSON, AuthenticatorAttestationResponseJSON,
    Base64UrlBytes, RegistrationResponseJSON,
};
pub use options::{
    AssertionContext, AttestationConveyance, AuthenticatorAttachment, AuthenticatorSelection, AuthenticatorTransport,
    CreationState, CredentialDescriptor, CredentialParameter, CredentialType, Extensions, OptionsError,
    PublicKeyCredentialCreationOptions, PublicKeyCredentialHint, PublicKeyCredentialRequestOptions,
    RegistrationContext, RelyingParty, RequestState, ResidentKeyRequirement, UserEntity, UserVerificationRequirement,
};
pub use registration::{
    AttestationPolicy, RegistrationError, RegistrationExpectations, TrustAnchorProvider, TrustOutcome,
    VerifiedRegistration, verify_registration,
};
pub use x509::{CertError, TrustAnchor, TrustError};
