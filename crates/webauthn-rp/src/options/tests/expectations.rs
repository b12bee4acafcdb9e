//! The options imply the expectations of §7.1 / §7.2; verification through them gives the
//! verdicts of the existing API.

use super::super::*;
use super::{CHALLENGE, OFFERED, server_creation_options, server_request_options};
use crate::authentication::{CounterPolicy, StoredCredential, UserIdentification};
use crate::client_data::CrossOriginPolicy;
use crate::cose::CredentialPublicKey;
use crate::registration::AttestationPolicy;
use crate::test_support::{self as ts, Assertion, Registration};

fn registration_context() -> RegistrationContext<'static> {
    RegistrationContext {
        origins: ts::ORIGINS,
        cross_origin: CrossOriginPolicy::Deny,
        user_presence_required: true,
        reject_unsolicited_extensions: false,
        attestation: AttestationPolicy::StatementOnly,
        now: ts::now(),
    }
}

fn assertion_context(key: &CredentialPublicKey) -> AssertionContext<'_> {
    AssertionContext {
        origins: ts::ORIGINS,
        cross_origin: CrossOriginPolicy::Deny,
        user: UserIdentification::Usernameless,
        credential: StoredCredential {
            id: ts::CREDENTIAL_ID,
            public_key: key,
            sign_count: 41,
            backup_eligible: Some(false),
            user_handle: ts::USER_HANDLE,
        },
        reject_unsolicited_extensions: false,
        counter_policy: CounterPolicy::Reject,
    }
}

#[test]
fn creation_state_holds_what_the_options_say() {
    let state = server_creation_options().state().unwrap();
    assert_eq!(
        state,
        CreationState {
            challenge: CHALLENGE.to_vec(),
            rp_id: "example.com".into(),
            allowed_algs: OFFERED.to_vec(),
            user_verification_required: false,
            authenticator_extensions: Vec::new(),
        }
    );
    let mut options = server_creation_options();
    options.authenticator_selection.as_mut().unwrap().user_verification = Some(UserVerificationRequirement::Required);
    assert!(options.state().unwrap().user_verification_required);
    options.authenticator_selection = None;
    assert!(!options.state().unwrap().user_verification_required);
    // §5.1.3: with no pubKeyCredParams the client offers ES256 and RS256.
    options.pub_key_cred_params.clear();
    assert_eq!(
        options.state().unwrap().allowed_algs,
        [CoseAlgorithm::Es256, CoseAlgorithm::Rs256]
    );
    options.rp.id = None;
    assert_eq!(options.state().unwrap_err().code(), "missing_rp_id");
}

#[test]
fn request_state_holds_what_the_options_say() {
    let state = server_request_options().state().unwrap();
    assert_eq!(
        state,
        RequestState {
            challenge: CHALLENGE.to_vec(),
            rp_id: "example.com".into(),
            user_verification_required: true,
            allow_credentials: vec![vec![1, 2, 3, 4], b"key-2".to_vec()],
            authenticator_extensions: Vec::new(),
        }
    );
    for (uv, required) in [
        (None, false),
        (Some(UserVerificationRequirement::Preferred), false),
        (Some(UserVerificationRequirement::Discouraged), false),
    ] {
        let options = PublicKeyCredentialRequestOptions {
            user_verification: uv,
            ..server_request_options()
        };
        assert_eq!(options.state().unwrap().user_verification_required, required);
    }
}

fn ts_creation_options(uv: UserVerificationRequirement) -> PublicKeyCredentialCreationOptions {
    PublicKeyCredentialCreationOptions {
        authenticator_selection: Some(AuthenticatorSelection {
            user_verification: Some(uv),
            ..AuthenticatorSelection::default()
        }),
        ..PublicKeyCredentialCreationOptions::new(
            RelyingParty::new(ts::RP_ID, "Test"),
            UserEntity::new(ts::USER_HANDLE, "alice", "Alice"),
            ts::CHALLENGE,
            CredentialParameter::list(ts::ES256_ONLY),
        )
    }
}

#[test]
fn creation_expectations_match_the_hand_built_ones() {
    let state = ts_creation_options(UserVerificationRequirement::Required)
        .state()
        .unwrap();
    let ours = state.expectations(registration_context());
    let theirs = ts::registration_expectations();
    assert_eq!(ours.challenge, theirs.challenge);
    assert_eq!(ours.rp_id, theirs.rp_id);
    assert_eq!(ours.allowed_algs, theirs.allowed_algs);
    assert_eq!(ours.user_verification_required, theirs.user_verification_required);
    assert_eq!(ours.requested_extensions, None);
    let strict = state.expectations(RegistrationContext {
        reject_unsolicited_extensions: true,
        ..registration_context()
    });
    assert_eq!(strict.requested_extensions, Some(&[][..]));
}

#[test]
fn registration_verifies_through_the_state() {
    let response = Registration::default().build();
    let state = ts_creation_options(UserVerificationRequirement::Required)
        .state()
        .unwrap();
    let verified = state.verify(registration_context(), &response).unwrap();
    assert_eq!(verified.credential_id, ts::CREDENTIAL_ID);

    // The challenge, RP ID and UV requirement come from the options, not the caller.
    let mut other = ts_creation_options(UserVerificationRequirement::Required);
    other.challenge = Base64UrlBytes(b"another challenge, 32 bytes long".to_vec());
    let err = other
        .state()
        .unwrap()
        .verify(registration_context(), &response)
        .unwrap_err();
    assert_eq!(err.code(), "challenge_mismatch");
    let mut other = ts_creation_options(UserVerificationRequirement::Required);
    other.rp.id = Some("example.org".into());
    let err = other
        .state()
        .unwrap()
        .verify(registration_context(), &response)
        .unwrap_err();
    assert_eq!(err.code(), "rp_id_hash_mismatch");
    let no_uv = Registration {
        flags: crate::auth_data::FLAG_UP | crate::auth_data::FLAG_AT,
        ..Registration::default()
    }
    .build();
    let required = ts_creation_options(UserVerificationRequirement::Required)
        .state()
        .unwrap();
    assert_eq!(
        required.verify(registration_context(), &no_uv).unwrap_err().code(),
        "uv_required"
    );
    let preferred = ts_creation_options(UserVerificationRequirement::Preferred)
        .state()
        .unwrap();
    assert!(preferred.verify(registration_context(), &no_uv).is_ok());
}

#[test]
fn assertion_verifies_through_the_state() {
    let key = ts::stored_key();
    let response = Assertion::default().build();
    let options = PublicKeyCredentialRequestOptions {
        allow_credentials: vec![CredentialDescriptor::stored(ts::CREDENTIAL_ID, &["usb"])],
        user_verification: Some(UserVerificationRequirement::Required),
        ..PublicKeyCredentialRequestOptions::new(ts::CHALLENGE, ts::RP_ID)
    };
    let state = options.state().unwrap();
    let verified = state.verify(assertion_context(&key), &response).unwrap();
    assert_eq!(verified.new_sign_count, 42);
    state.with_expectations(assertion_context(&key), |e| {
        assert_eq!(e.allow_credentials, [ts::CREDENTIAL_ID]);
        assert!(e.user_verification_required);
        assert_eq!(e.rp_id, ts::RP_ID);
        assert_eq!(e.requested_extensions, None);
    });

    // A credential outside allowCredentials is refused.
    let elsewhere = PublicKeyCredentialRequestOptions {
        allow_credentials: vec![CredentialDescriptor::new(*b"some other key", Vec::new())],
        ..options.clone()
    };
    let err = elsewhere
        .state()
        .unwrap()
        .verify(assertion_context(&key), &response)
        .unwrap_err();
    assert_eq!(err.code(), "credential_not_allowed");

    // UV required by the options, not given by the authenticator.
    let no_uv = Assertion {
        flags: crate::auth_data::FLAG_UP,
        ..Assertion::default()
    }
    .build();
    assert_eq!(
        state.verify(assertion_context(&key), &no_uv).unwrap_err().code(),
        "uv_required"
    );
    let preferred = PublicKeyCredentialRequestOptions {
        user_verification: None,
        ..options
    };
    assert!(
        preferred
            .state()
            .unwrap()
            .verify(assertion_context(&key), &no_uv)
            .is_ok()
    );
}
