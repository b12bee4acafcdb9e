//! What verification needs from the options the RP sent (§7.1, §7.2): [`CreationState`] and
//! [`RequestState`], taken from the options, kept with the ceremony, and completed by the
//! caller's [`RegistrationContext`] / [`AssertionContext`] into the expectations of
//! [`verify_registration`] / [`verify_authentication`].

use std::time::SystemTime;

use thiserror::Error;

use super::{PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions, UserVerificationRequirement};
use crate::authentication::{
    AssertionExpectations, AuthenticationError, CounterPolicy, StoredCredential, UserIdentification, VerifiedAssertion,
    verify_authentication,
};
use crate::client_data::CrossOriginPolicy;
use crate::cose::CoseAlgorithm;
use crate::json::{AuthenticationResponseJSON, RegistrationResponseJSON};
use crate::registration::{
    AttestationPolicy, RegistrationError, RegistrationExpectations, VerifiedRegistration, verify_registration,
};

/// Why options imply no expectations.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OptionsError {
    /// `rp.id` / `rpId` is absent: the RP ID would be the caller origin's effective domain,
    /// which the options do not say (§5.1.3 step 8, §5.1.4.1 step 8).
    #[error("the options name no RP ID")]
    MissingRpId,
}

impl OptionsError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingRpId => "missing_rp_id",
        }
    }
}

/// What verifying a registration (§7.1) needs from the creation options that started it.
///
/// Take it with [`PublicKeyCredentialCreationOptions::state`]; keep it (or its parts) with
/// the ceremony; complete it with [`Self::expectations`] or [`Self::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationState {
    /// `challenge` (§7.1 step 8).
    pub challenge: Vec<u8>,
    /// `rp.id` (§7.1 step 14).
    pub rp_id: String,
    /// The algorithms of `pubKeyCredParams`, in order (§7.1 step 20); ES256 and RS256 when it
    /// was empty, as the client then offers them (§5.1.3 step 10).
    pub allowed_algs: Vec<CoseAlgorithm>,
    /// `authenticatorSelection.userVerification == required` (§7.1 step 16).
    pub user_verification_required: bool,
    /// The authenticator extensions requested (§7.1, the extension outputs check); see
    /// [`super::Extensions::authenticator_extension_ids`].
    pub authenticator_extensions: Vec<&'static str>,
}

/// What the caller adds to a [`CreationState`]: what the options do not say.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationContext<'a> {
    /// Acceptable origins, exact match (§7.1 step 9).
    pub origins: &'a [&'a str],
    /// The iframe policy (§7.1 steps 10–11).
    pub cross_origin: CrossOriginPolicy<'a>,
    /// Require the UP flag; `false` only for conditional-mediation create (§7.1 step 15).
    pub user_presence_required: bool,
    /// Reject authenticator extension outputs the options did not ask for (§7.1, the
    /// extension outputs check);
    /// `false` ignores them.
    pub reject_unsolicited_extensions: bool,
    /// Attestation trust assessment (§7.1 steps 23–24).
    pub attestation: AttestationPolicy<'a>,
    /// "Now", for certificate validity.
    pub now: SystemTime,
}

impl PublicKeyCredentialCreationOptions {
    /// The verification expectations these options imply (§7.1).
    pub fn state(&self) -> Result<CreationState, OptionsError> {
        let rp_id = self.rp.id.clone().ok_or(OptionsError::MissingRpId)?;
        let allowed_algs = if self.pub_key_cred_params.is_empty() {
            vec![CoseAlgorithm::Es256, CoseAlgorithm::Rs256]
        } else {
            self.pub_key_cred_params.iter().map(|p| p.alg).collect()
        };
        let user_verification = self.authenticator_selection.and_then(|s| s.user_verification);
        Ok(CreationState {
            challenge: self.challenge.0.clone(),
            rp_id,
            allowed_algs,
            user_verification_required: user_verification == Some(UserVerificationRequirement::Required),
            authenticator_extensions: self.extensions.authenticator_extension_ids(),
        })
    }
}

impl CreationState {
    /// The expectations of [`verify_registration`]: this state completed by `context`.
    pub fn expectations<'a>(&'a self, context: RegistrationContext<'a>) -> RegistrationExpectations<'a> {
        RegistrationExpectations {
            challenge: &self.challenge,
            origins: context.origins,
            cross_origin: context.cross_origin,
            rp_id: &self.rp_id,
            allowed_algs: &self.allowed_algs,
            user_verification_required: self.user_verification_required,
            user_presence_required: context.user_presence_required,
            requested_extensions: context
                .reject_unsolicited_extensions
                .then_some(self.authenticator_extensions.as_slice()),
            attestation: context.attestation,
            now: context.now,
        }
    }

    /// Verifies a registration response against these expectations ([`verify_registration`]).
    pub fn verify(
        &self,
        context: RegistrationContext<'_>,
        response: &RegistrationResponseJSON,
    ) -> Result<VerifiedRegistration, RegistrationError> {
        verify_registration(&self.expectations(context), response)
    }
}

/// What verifying an assertion (§7.2) needs from the request options that started it.
///
/// Take it with [`PublicKeyCredentialRequestOptions::state`]; keep it (or its parts) with
/// the ceremony; complete it with [`Self::with_expectations`] or [`Self::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestState {
    /// `challenge` (§7.2 step 12).
    pub challenge: Vec<u8>,
    /// `rpId` (§7.2 step 16).
    pub rp_id: String,
    /// `userVerification == required` (§7.2 step 18).
    pub user_verification_required: bool,
    /// The IDs of `allowCredentials`; empty allows any (§7.2 step 5).
    pub allow_credentials: Vec<Vec<u8>>,
    /// The authenticator extensions requested (§7.2 step 21); see
    /// [`super::Extensions::authenticator_extension_ids`].
    pub authenticator_extensions: Vec<&'static str>,
}

/// What the caller adds to a [`RequestState`]: what the options do not say.
#[derive(Debug, Clone, Copy)]
pub struct AssertionContext<'a> {
    /// Acceptable origins, exact match (§7.2 step 13).
    pub origins: &'a [&'a str],
    /// The iframe policy (§7.2 steps 14–15).
    pub cross_origin: CrossOriginPolicy<'a>,
    /// How the user was identified (§7.2 step 6).
    pub user: UserIdentification,
    /// The stored credential record found by `rawId` (§7.2 step 7).
    pub credential: StoredCredential<'a>,
    /// Reject authenticator extension outputs the options did not ask for (§7.2 step 21);
    /// `false` ignores them.
    pub reject_unsolicited_extensions: bool,
    /// Counter regression handling (§7.2 step 24).
    pub counter_policy: CounterPolicy,
}

impl PublicKeyCredentialRequestOptions {
    /// The verification expectations these options imply (§7.2).
    pub fn state(&self) -> Result<RequestState, OptionsError> {
        let rp_id = self.rp_id.clone().ok_or(OptionsError::MissingRpId)?;
        Ok(RequestState {
            challenge: self.challenge.0.clone(),
            rp_id,
            user_verification_required: self.user_verification == Some(UserVerificationRequirement::Required),
            allow_credentials: self.allow_credentials.iter().map(|d| d.id.0.clone()).collect(),
            authenticator_extensions: self.extensions.authenticator_extension_ids(),
        })
    }
}

impl RequestState {
    /// Calls `f` with the expectations of [`verify_authentication`]: this state completed by
    /// `context`. (`AssertionExpectations` borrows the allow-list as `&[&[u8]]`, which lives
    /// only for the call.)
    pub fn with_expectations<R>(
        &self,
        context: AssertionContext<'_>,
        f: impl FnOnce(&AssertionExpectations<'_>) -> R,
    ) -> R {
        let allow: Vec<&[u8]> = self.allow_credentials.iter().map(Vec::as_slice).collect();
        f(&AssertionExpectations {
            challenge: &self.challenge,
            origins: context.origins,
            cross_origin: context.cross_origin,
            rp_id: &self.rp_id,
            user_verification_required: self.user_verification_required,
            allow_credentials: &allow,
            user: context.user,
            credential: context.credential,
            requested_extensions: context
                .reject_unsolicited_extensions
                .then_some(self.authenticator_extensions.as_slice()),
            counter_policy: context.counter_policy,
        })
    }

    /// Verifies an assertion against these expectations ([`verify_authentication`]).
    pub fn verify(
        &self,
        context: AssertionContext<'_>,
        response: &AuthenticationResponseJSON,
    ) -> Result<VerifiedAssertion, AuthenticationError> {
        self.with_expectations(context, |expected| verify_authentication(expected, response))
    }
}
