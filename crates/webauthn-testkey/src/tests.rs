//! The key's output verifies with keyfleet's own relying-party code, and each tweak breaks
//! the check it is meant to break.

use std::time::{Duration, SystemTime};

use keyfleet_webauthn_rp::{
    AssertionExpectations, AttestationPolicy, AuthenticationError, AuthenticationResponseJSON, CoseAlgorithm,
    CounterPolicy, CredentialPublicKey, CrossOriginPolicy, RegistrationExpectations, RegistrationResponseJSON,
    StoredCredential, UserIdentification, VerifiedRegistration, verify_authentication, verify_registration,
};
use serde_json::{Value, json};

use super::*;

const ORIGIN: &str = "http://localhost:8080";
const RP_ID: &str = "localhost";
const CHALLENGE: &[u8] = b"0123456789abcdef0123456789abcdef";
const HANDLE: &[u8] = b"user-handle-1";

fn creation() -> Value {
    json!({
        "rp": { "id": RP_ID, "name": "keyfleet" },
        "user": { "id": b64(HANDLE), "name": "pat", "displayName": "Pat" },
        "challenge": b64(CHALLENGE),
        "pubKeyCredParams": [{ "type": "public-key", "alg": -7 }, { "type": "public-key", "alg": -8 }],
        "excludeCredentials": [],
    })
}

fn request(allow: &[&[u8]]) -> Value {
    json!({
        "challenge": b64(CHALLENGE),
        "rpId": RP_ID,
        "allowCredentials": allow.iter().map(|id| json!({ "type": "public-key", "id": b64(id) })).collect::<Vec<_>>(),
        "userVerification": "preferred",
    })
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

fn verify_reg(v: &Value, uv_required: bool) -> Result<VerifiedRegistration, String> {
    let parsed: RegistrationResponseJSON = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    let exp = RegistrationExpectations {
        challenge: CHALLENGE,
        origins: &[ORIGIN],
        cross_origin: CrossOriginPolicy::Deny,
        rp_id: RP_ID,
        allowed_algs: &[CoseAlgorithm::Es256],
        user_verification_required: uv_required,
        user_presence_required: true,
        requested_extensions: None,
        attestation: AttestationPolicy::StatementOnly,
        now: now(),
    };
    verify_registration(&exp, &parsed).map_err(|e| e.code().to_owned())
}

fn verify_auth(v: &Value, key: &CredentialPublicKey, id: &[u8], stored: u32) -> Result<u32, String> {
    let parsed: AuthenticationResponseJSON = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    let exp = AssertionExpectations {
        challenge: CHALLENGE,
        origins: &[ORIGIN],
        cross_origin: CrossOriginPolicy::Deny,
        rp_id: RP_ID,
        user_verification_required: true,
        allow_credentials: &[],
        user: UserIdentification::Usernameless,
        credential: StoredCredential {
            id,
            public_key: key,
            sign_count: stored,
            backup_eligible: Some(false),
            user_handle: HANDLE,
        },
        requested_extensions: None,
        counter_policy: CounterPolicy::Reject,
    };
    verify_authentication(&exp, &parsed)
        .map(|v| v.new_sign_count)
        .map_err(|e| match e {
            AuthenticationError::CounterRegression { .. } => "counter_regression".into(),
            e => e.code().to_owned(),
        })
}

fn reg_code(t: Tweaks) -> String {
    let mut key = TestKey::from_seed(b"reg");
    let v = key.register_with(&creation(), ORIGIN, &t).unwrap();
    verify_reg(&v, true).err().unwrap_or_else(|| "accepted".into())
}

#[test]
fn packed_self_and_none_registrations_verify_then_sign_ins_verify() {
    for attestation in [Attestation::PackedSelf, Attestation::None] {
        let mut key = TestKey::from_seed(b"pat");
        key.attestation = attestation;
        let reg = key.register(&creation(), ORIGIN).unwrap();
        assert_eq!(reg["authenticatorAttachment"], "cross-platform");
        assert_eq!(reg["response"]["transports"], json!(["usb"]));
        let verified = verify_reg(&reg, true).unwrap();
        assert_eq!(verified.credential_id, key.credential_id);
        assert_eq!(verified.aaguid.0, DEFAULT_AAGUID);
        assert_eq!(
            verified.fmt.as_str(),
            if attestation == Attestation::None {
                "none"
            } else {
                "packed"
            }
        );
        assert_eq!(key.user_handle.as_deref(), Some(HANDLE));

        let id = key.credential_id.clone();
        for (stored, expected) in [(0, 1), (1, 2)] {
            let a = key.sign_in(&request(&[]), ORIGIN).unwrap();
            assert_eq!(a["response"]["userHandle"], b64(HANDLE));
            assert_eq!(verify_auth(&a, &verified.public_key, &id, stored), Ok(expected));
        }
        let a = key.sign_in(&request(&[&id]), ORIGIN).unwrap();
        assert_eq!(verify_auth(&a, &verified.public_key, &id, 2), Ok(3));
    }
}

#[test]
fn the_same_seed_gives_the_same_key() {
    let a = TestKey::from_seed(b"x");
    let b = TestKey::from_seed(b"x");
    assert_eq!(a.credential_id, b.credential_id);
    assert_eq!(a.cose_public_key(ES256), b.cose_public_key(ES256));
    assert_ne!(a.credential_id, TestKey::from_seed(b"y").credential_id);
    let mut rng = rand_core::OsRng;
    assert_ne!(
        TestKey::random(&mut rng).credential_id,
        TestKey::random(&mut rng).credential_id
    );
}

#[test]
fn each_registration_tweak_breaks_its_check() {
    let t = Tweaks::default;
    let cases: Vec<(Tweaks, &str)> = vec![
        (
            Tweaks {
                client_data_type: Some("webauthn.get".into()),
                ..t()
            },
            "client_data_type_mismatch",
        ),
        (
            Tweaks {
                challenge: Some(vec![7; 32]),
                ..t()
            },
            "challenge_mismatch",
        ),
        (
            Tweaks {
                origin: Some("https://evil.example".into()),
                ..t()
            },
            "origin_mismatch",
        ),
        (
            Tweaks {
                cross_origin: Some(true),
                ..t()
            },
            "cross_origin_not_allowed",
        ),
        (
            Tweaks {
                client_data_extra: Some(r#","type":"webauthn.create""#.into()),
                ..t()
            },
            "client_data_duplicate_key",
        ),
        (
            Tweaks {
                client_data_json: Some(vec![0xff, 0xfe]),
                ..t()
            },
            "client_data_not_utf8",
        ),
        (
            Tweaks {
                rp_id: Some("example.com".into()),
                ..t()
            },
            "rp_id_hash_mismatch",
        ),
        (Tweaks { up: Some(false), ..t() }, "user_presence_required"),
        (Tweaks { uv: Some(false), ..t() }, "uv_required"),
        (Tweaks { bs: Some(true), ..t() }, "backup_state_invalid"),
        (Tweaks { at: Some(false), ..t() }, "attested_data_flag_mismatch"),
        (
            Tweaks {
                auth_data_trailing: vec![0],
                ..t()
            },
            "auth_data_trailing_bytes",
        ),
        (
            Tweaks {
                attestation_object_trailing: vec![0],
                ..t()
            },
            "invalid_cbor",
        ),
        (
            Tweaks {
                attestation_object: Some(cbor::int(1)),
                ..t()
            },
            "invalid_cbor",
        ),
        (
            Tweaks {
                credential_id: Some(vec![1; 1024]),
                ..t()
            },
            "credential_id_too_long",
        ),
        (
            Tweaks {
                raw_id: Some(vec![1; 16]),
                ..t()
            },
            "credential_id_mismatch",
        ),
        (
            Tweaks {
                fmt: Some("Packed".into()),
                ..t()
            },
            "unknown_attestation_format",
        ),
    ];
    for (tweak, expected) in cases {
        let got = reg_code(tweak.clone());
        assert_eq!(got, expected, "{tweak:?}");
    }
    // The untweaked one is accepted.
    assert_eq!(reg_code(t()), "accepted");
}

#[test]
fn each_assertion_tweak_breaks_its_check() {
    let mut key = TestKey::from_seed(b"a");
    let verified = verify_reg(&key.register(&creation(), ORIGIN).unwrap(), true).unwrap();
    let id = key.credential_id.clone();
    let t = Tweaks::default;
    let cases: Vec<(Tweaks, &str)> = vec![
        (
            Tweaks {
                client_data_type: Some("webauthn.create".into()),
                ..t()
            },
            "client_data_type_mismatch",
        ),
        (
            Tweaks {
                top_origin: Some("https://evil.example".into()),
                ..t()
            },
            "top_origin_not_allowed",
        ),
        (
            Tweaks {
                rp_id_hash: Some([0; 32]),
                ..t()
            },
            "rp_id_hash_mismatch",
        ),
        (Tweaks { up: Some(false), ..t() }, "user_presence_required"),
        (Tweaks { uv: Some(false), ..t() }, "uv_required"),
        (
            Tweaks {
                wrong_signature_key: true,
                ..t()
            },
            "signature_invalid",
        ),
        (
            Tweaks {
                user_handle: Some(Some(b"someone else".to_vec())),
                ..t()
            },
            "user_handle_mismatch",
        ),
        (
            Tweaks {
                user_handle: Some(None),
                ..t()
            },
            "user_handle_missing",
        ),
        (
            Tweaks {
                sign_count: Some(5),
                ..t()
            },
            "counter_regression",
        ),
    ];
    for (tweak, expected) in cases {
        let a = key.sign_in_with(&request(&[]), ORIGIN, &tweak).unwrap();
        assert_eq!(
            verify_auth(&a, &verified.public_key, &id, 10).unwrap_err(),
            expected,
            "{tweak:?}"
        );
    }
}

#[test]
fn the_client_refuses_what_a_browser_refuses() {
    let mut key = TestKey::from_seed(b"c");
    let mut opts = creation();
    opts["excludeCredentials"] = json!([{ "type": "public-key", "id": b64(&key.credential_id) }]);
    assert_eq!(key.register(&opts, ORIGIN).unwrap_err(), Error::Excluded);
    let mut opts = creation();
    opts["pubKeyCredParams"] = json!([{ "type": "public-key", "alg": -8 }]);
    assert_eq!(key.register(&opts, ORIGIN).unwrap_err(), Error::AlgorithmNotOffered);
    assert_eq!(
        key.sign_in(&request(&[b"other"]), ORIGIN).unwrap_err(),
        Error::NotAllowed
    );
    // The whole `{ceremonyId, publicKey}` answer is accepted too.
    assert!(
        key.register(&json!({ "ceremonyId": "x", "publicKey": creation() }), ORIGIN)
            .is_ok()
    );
}
