//! Negative tests for §7.1, one per checklist item (R1–R23) and bad-input row: each breaks
//! exactly one thing in an otherwise valid packed-self ES256 registration.

use sha2::{Digest, Sha256};

use super::*;
use crate::auth_data::{FLAG_AT, FLAG_BE, FLAG_BS, FLAG_ED, FLAG_UP, FLAG_UV};
use crate::test_support::{self as ts, Registration, bytes, int, map, registration_expectations, text};

fn code(reg: &Registration, exp: &RegistrationExpectations<'_>) -> &'static str {
    match verify_registration(exp, &reg.build()) {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    }
}

fn default_code(reg: &Registration) -> &'static str {
    code(reg, &registration_expectations())
}

#[test]
fn valid_packed_self_registration_is_accepted() {
    let verified = verify_registration(&registration_expectations(), &Registration::default().build()).unwrap();
    assert_eq!(verified.credential_id, ts::CREDENTIAL_ID);
    assert_eq!(verified.alg, CoseAlgorithm::Es256);
    assert_eq!(verified.fmt, AttestationFormat::Packed);
    assert_eq!(verified.attestation_type, AttestationType::SelfAttestation);
    assert_eq!(verified.trust, TrustOutcome::NotEvaluated);
    assert_eq!(verified.aaguid, Aaguid(ts::AAGUID));
    assert!(verified.flags.user_verified);
    assert_eq!(verified.transports, ["usb"]);
    assert_eq!(verified.public_key.cose_bytes(), ts::cose_es256(&ts::signing_key()));
}

#[test]
fn r1_credential_type_must_be_public_key() {
    let mut response = Registration::default().build();
    response.type_ = "password".into();
    let err = verify_registration(&registration_expectations(), &response).unwrap_err();
    assert_eq!(err.code(), "invalid_response");
}

#[test]
fn r1_id_must_encode_raw_id() {
    let mut response = Registration::default().build();
    response.id = "b3RoZXI".into();
    let err = verify_registration(&registration_expectations(), &response).unwrap_err();
    assert_eq!(err.code(), "invalid_response");
}

#[test]
fn r2_client_data_not_utf8_is_rejected() {
    let reg = Registration {
        client_data: b"{\"type\":\"webauthn.create\xff\"}".to_vec(),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "client_data_not_utf8");
}

#[test]
fn r2_client_data_not_json_is_rejected() {
    let reg = Registration {
        client_data: b"type=webauthn.create".to_vec(),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "client_data_not_json");
}

#[test]
fn r2_leading_bom_is_stripped_and_hashed_as_sent() {
    let mut client_data = b"\xEF\xBB\xBF".to_vec();
    client_data.extend(ts::client_data("webauthn.create", ts::CHALLENGE, ts::ORIGIN));
    let reg = Registration {
        client_data,
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "accepted");
}

#[test]
fn row4_duplicate_client_data_keys_are_rejected() {
    let client_data = format!(
        r#"{{"type":"webauthn.create","challenge":"{}","origin":"https://evil.example","origin":"{}"}}"#,
        Base64UrlBytes::encode(ts::CHALLENGE),
        ts::ORIGIN
    );
    let reg = Registration {
        client_data: client_data.into_bytes(),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "client_data_duplicate_key");
}

#[test]
fn r3_row5_get_type_on_create_is_rejected() {
    let reg = Registration {
        client_data: ts::client_data("webauthn.get", ts::CHALLENGE, ts::ORIGIN),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "client_data_type_mismatch");
}

#[test]
fn r4_other_challenge_is_rejected() {
    let reg = Registration {
        client_data: ts::client_data("webauthn.create", b"another challenge of 32 bytes...", ts::ORIGIN),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "challenge_mismatch");
}

#[test]
fn r5_row6_origins_must_match_exactly() {
    for origin in [
        "http://example.com",
        "https://example.com:8443",
        "https://login.example.com",
        "https://example.com.evil.test",
        "https://examp1e.com",
        "https://example.com/",
        "HTTPS://EXAMPLE.COM",
    ] {
        let reg = Registration {
            client_data: ts::client_data("webauthn.create", ts::CHALLENGE, origin),
            ..Default::default()
        };
        assert_eq!(default_code(&reg), "origin_mismatch", "{origin}");
    }
}

fn client_data_with(extra: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"webauthn.create","challenge":"{}","origin":"{}"{extra}}}"#,
        Base64UrlBytes::encode(ts::CHALLENGE),
        ts::ORIGIN
    )
    .into_bytes()
}

#[test]
fn r6_cross_origin_is_rejected_unless_allowed() {
    let reg = Registration {
        client_data: client_data_with(r#","crossOrigin":true"#),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "cross_origin_not_allowed");
    let exp = RegistrationExpectations {
        cross_origin: CrossOriginPolicy::Allow { top_origins: &[] },
        ..registration_expectations()
    };
    assert_eq!(code(&reg, &exp), "accepted");
}

#[test]
fn r7_top_origin_must_be_expected_and_allowed() {
    let reg = Registration {
        client_data: client_data_with(r#","crossOrigin":true,"topOrigin":"https://shop.example""#),
        ..Default::default()
    };
    let exp_allow_other = RegistrationExpectations {
        cross_origin: CrossOriginPolicy::Allow {
            top_origins: &["https://other.example"],
        },
        ..registration_expectations()
    };
    assert_eq!(code(&reg, &exp_allow_other), "top_origin_not_allowed");
    let exp_allow = RegistrationExpectations {
        cross_origin: CrossOriginPolicy::Allow {
            top_origins: &["https://shop.example"],
        },
        ..registration_expectations()
    };
    assert_eq!(code(&reg, &exp_allow), "accepted");
    // topOrigin without crossOrigin, under the default policy.
    let reg = Registration {
        client_data: client_data_with(r#","topOrigin":"https://shop.example""#),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "top_origin_not_allowed");
}

#[test]
fn r8_signature_covers_the_raw_client_data_bytes() {
    // Signed over pretty-printed JSON: accepted, because the raw bytes are hashed.
    let pretty = format!(
        "{{\n  \"type\" : \"webauthn.create\",\n  \"challenge\" : \"{}\",\n  \"origin\" : \"{}\"\n}}",
        Base64UrlBytes::encode(ts::CHALLENGE),
        ts::ORIGIN
    );
    let reg = Registration {
        client_data: pretty.clone().into_bytes(),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "accepted");
    // The same JSON re-serialised compactly after signing no longer verifies.
    let mut response = reg.build();
    let reserialised = serde_json::to_vec(&serde_json::from_str::<serde_json::Value>(&pretty).unwrap()).unwrap();
    response.response.client_data_json = Base64UrlBytes(reserialised);
    let err = verify_registration(&registration_expectations(), &response).unwrap_err();
    assert_eq!(err.code(), "attestation_signature_invalid");
}

fn with_attestation_object(object: Vec<u8>) -> &'static str {
    let reg = Registration::default();
    let response = ts::response_with(&reg.credential_id, reg.client_data.clone(), object);
    match verify_registration(&registration_expectations(), &response) {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    }
}

#[test]
fn r9_row1_attestation_object_must_be_a_map_without_trailing_bytes() {
    let good = Registration::default().attestation_object();
    assert_eq!(with_attestation_object(good.clone()), "accepted");
    // Trailing byte.
    assert_eq!(
        with_attestation_object([good.clone(), vec![0x00]].concat()),
        "invalid_cbor"
    );
    // Truncated.
    assert_eq!(with_attestation_object(good[..good.len() - 1].to_vec()), "invalid_cbor");
    // Not a map.
    assert_eq!(with_attestation_object(ts::array(&[text("fmt")])), "invalid_cbor");
    // Empty input.
    assert_eq!(with_attestation_object(Vec::new()), "invalid_cbor");
}

#[test]
fn r9_attestation_object_members_and_types_are_checked() {
    let reg = Registration::default();
    let auth_data = reg.auth_data();
    let stmt = reg.att_stmt(&auth_data);
    let cases = [
        // Missing fmt.
        map(&[(text("attStmt"), stmt.clone()), (text("authData"), bytes(&auth_data))]),
        // fmt not text.
        map(&[
            (text("fmt"), int(1)),
            (text("attStmt"), stmt.clone()),
            (text("authData"), bytes(&auth_data)),
        ]),
        // authData as text.
        map(&[
            (text("fmt"), text("packed")),
            (text("attStmt"), stmt.clone()),
            (text("authData"), text("x")),
        ]),
        // attStmt not a map.
        map(&[
            (text("fmt"), text("packed")),
            (text("attStmt"), bytes(b"")),
            (text("authData"), bytes(&auth_data)),
        ]),
        // An extra member.
        map(&[
            (text("fmt"), text("packed")),
            (text("attStmt"), stmt.clone()),
            (text("authData"), bytes(&auth_data)),
            (text("extra"), int(0)),
        ]),
    ];
    for object in cases {
        assert_eq!(with_attestation_object(object), "invalid_attestation_object");
    }
    // A duplicated member is a CBOR error.
    let dup = map(&[
        (text("fmt"), text("packed")),
        (text("fmt"), text("none")),
        (text("attStmt"), stmt),
        (text("authData"), bytes(&auth_data)),
    ]);
    assert_eq!(with_attestation_object(dup), "invalid_cbor");
}

#[test]
fn r10_row7_another_rps_id_hash_is_rejected() {
    let reg = Registration {
        rp_id_hash: Sha256::digest(b"evil.example").into(),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "rp_id_hash_mismatch");
}

#[test]
fn r11_row16_user_presence_is_required() {
    let reg = Registration {
        flags: FLAG_UV | FLAG_AT,
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "user_presence_required");
    // Conditional create may omit UP.
    let exp = RegistrationExpectations {
        user_presence_required: false,
        ..registration_expectations()
    };
    assert_eq!(code(&reg, &exp), "accepted");
}

#[test]
fn r12_user_verification_required_by_policy() {
    let reg = Registration {
        flags: FLAG_UP | FLAG_AT,
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "uv_required");
    let exp = RegistrationExpectations {
        user_verification_required: false,
        ..registration_expectations()
    };
    assert_eq!(code(&reg, &exp), "accepted");
}

#[test]
fn r13_row19_backup_state_without_eligibility_is_rejected() {
    let reg = Registration {
        flags: FLAG_UP | FLAG_UV | FLAG_AT | FLAG_BS,
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "backup_state_invalid");
    let reg = Registration {
        flags: FLAG_UP | FLAG_UV | FLAG_AT | FLAG_BS | FLAG_BE,
        ..Default::default()
    };
    let verified = verify_registration(&registration_expectations(), &reg.build()).unwrap();
    assert!(verified.flags.backup_eligible && verified.flags.backup_state);
}

#[test]
fn r15_row22_alg_not_offered_is_rejected() {
    let exp = RegistrationExpectations {
        allowed_algs: &[CoseAlgorithm::Rs256],
        ..registration_expectations()
    };
    assert_eq!(code(&Registration::default(), &exp), "alg_not_allowed");
}

#[test]
fn r16_fmt_is_matched_case_sensitively() {
    for fmt in ["Packed", "PACKED", "packed ", "x-packed", ""] {
        let reg = Registration {
            fmt: fmt.into(),
            ..Default::default()
        };
        assert_eq!(default_code(&reg), "unknown_attestation_format", "{fmt:?}");
    }
}

#[test]
fn r17_packed_self_with_wrong_alg_or_signature_is_rejected() {
    let reg = Registration::default();
    let auth_data = reg.auth_data();
    let hash = Sha256::digest(&reg.client_data);
    let sig = ts::sign(&ts::signing_key(), &[&auth_data, &hash]);
    let wrong_alg = map(&[(text("alg"), int(-257)), (text("sig"), bytes(&sig))]);
    let reg_alg = Registration {
        att_stmt: Some(wrong_alg),
        ..reg.clone()
    };
    assert_eq!(default_code(&reg_alg), "attestation_alg_mismatch");
    let mut bad_sig = sig.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 1;
    let reg_sig = Registration {
        att_stmt: Some(map(&[(text("alg"), int(-7)), (text("sig"), bytes(&bad_sig))])),
        ..reg
    };
    assert_eq!(default_code(&reg_sig), "attestation_signature_invalid");
}

#[test]
fn none_attestation_requires_an_empty_statement() {
    let reg = Registration {
        fmt: "none".into(),
        att_stmt: Some(map(&[])),
        ..Default::default()
    };
    let verified = verify_registration(&registration_expectations(), &reg.build()).unwrap();
    assert_eq!(verified.attestation_type, AttestationType::None);
    let reg = Registration {
        fmt: "none".into(),
        att_stmt: Some(map(&[(text("x"), int(1))])),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "invalid_attestation_statement");
}

#[test]
fn r19_none_and_self_only_if_policy_allows() {
    let anchors: Vec<TrustAnchor> = Vec::new();
    let strict = RegistrationExpectations {
        attestation: AttestationPolicy::Trusted {
            anchors: &anchors,
            allow_none: false,
            allow_self: false,
        },
        ..registration_expectations()
    };
    assert_eq!(code(&Registration::default(), &strict), "self_attestation_not_allowed");
    let none = Registration {
        fmt: "none".into(),
        att_stmt: Some(map(&[])),
        ..Default::default()
    };
    assert_eq!(code(&none, &strict), "none_attestation_not_allowed");
    let lenient = RegistrationExpectations {
        attestation: AttestationPolicy::Trusted {
            anchors: &anchors,
            allow_none: true,
            allow_self: true,
        },
        ..registration_expectations()
    };
    let verified = verify_registration(&lenient, &none.build()).unwrap();
    assert_eq!(verified.trust, TrustOutcome::NoneAllowed);
    let verified = verify_registration(&lenient, &Registration::default().build()).unwrap();
    assert_eq!(verified.trust, TrustOutcome::SelfAllowed);
}

#[test]
fn r20_row23_credential_id_over_1023_bytes_is_rejected() {
    let reg = Registration {
        credential_id: vec![7; 1024],
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "credential_id_too_long");
    let reg = Registration {
        credential_id: vec![7; 1023],
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "accepted");
}

#[test]
fn raw_id_must_be_the_attested_credential_id() {
    let reg = Registration::default();
    let response = ts::response_with(b"some other id", reg.client_data.clone(), reg.attestation_object());
    let err = verify_registration(&registration_expectations(), &response).unwrap_err();
    assert_eq!(err.code(), "credential_id_mismatch");
}

#[test]
fn r23_unsolicited_extensions_are_rejected_when_requests_are_known() {
    let ext = map(&[(text("credProtect"), int(2))]);
    let reg = Registration {
        flags: FLAG_UP | FLAG_UV | FLAG_AT | FLAG_ED,
        extensions: Some(ext),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "accepted");
    let exp = RegistrationExpectations {
        requested_extensions: Some(&["credProps"]),
        ..registration_expectations()
    };
    assert_eq!(code(&reg, &exp), "unsolicited_extension");
    let exp = RegistrationExpectations {
        requested_extensions: Some(&["credProtect"]),
        ..registration_expectations()
    };
    assert_eq!(code(&reg, &exp), "accepted");
}

#[test]
fn structural_ed_flag_must_match_extensions() {
    // ED set, no extensions.
    let reg = Registration {
        flags: FLAG_UP | FLAG_UV | FLAG_AT | FLAG_ED,
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "extension_flag_mismatch");
    // Extensions present, ED clear: leftover bytes.
    let reg = Registration {
        extensions: Some(map(&[(text("credProtect"), int(2))])),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "auth_data_trailing_bytes");
    // Extensions that are not a map with text keys.
    let reg = Registration {
        flags: FLAG_UP | FLAG_UV | FLAG_AT | FLAG_ED,
        extensions: Some(int(5)),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "invalid_extensions");
}

#[test]
fn structural_at_flag_is_required_for_registration() {
    let reg = Registration {
        flags: FLAG_UP | FLAG_UV,
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "attested_data_flag_mismatch");
}

#[test]
fn row22_weak_or_invalid_credential_keys_are_rejected() {
    let key = ts::signing_key();
    let point = key.verifying_key().to_encoded_point(false);
    let mut off_curve_y = point.y().unwrap().to_vec();
    off_curve_y[31] ^= 1;
    let off_curve = map(&[
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), bytes(point.x().unwrap())),
        (int(-3), bytes(&off_curve_y)),
    ]);
    let reg = Registration {
        cose_key: off_curve,
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "invalid_public_key");
    let rsa_e1 = map(&[
        (int(1), int(3)),
        (int(3), int(-257)),
        (int(-1), bytes(&[0xc5; 256])),
        (int(-2), bytes(&[1])),
    ]);
    let exp = RegistrationExpectations {
        allowed_algs: &[CoseAlgorithm::Rs256],
        ..registration_expectations()
    };
    let reg = Registration {
        cose_key: rsa_e1,
        ..Default::default()
    };
    assert_eq!(code(&reg, &exp), "invalid_public_key");
}

#[test]
fn u2f_with_a_non_zero_aaguid_is_rejected() {
    // Row 21: the AAGUID check comes before the signature, so any statement shape will do.
    let cert = crate::x509::tests::leaf_der();
    let stmt = map(&[
        (text("x5c"), ts::array(&[bytes(&cert)])),
        (text("sig"), bytes(&[0x30, 0x00])),
    ]);
    let reg = Registration {
        fmt: "fido-u2f".into(),
        att_stmt: Some(stmt),
        ..Default::default()
    };
    assert_eq!(default_code(&reg), "u2f_aaguid_not_zero");
}

#[test]
fn error_codes_are_stable_and_distinct_per_check() {
    let errors = [
        RegistrationError::RpIdHashMismatch,
        RegistrationError::UserPresenceRequired,
        RegistrationError::UserVerificationRequired,
        RegistrationError::BackupStateInvalid,
        RegistrationError::AlgNotAllowed(-7),
        RegistrationError::NoneAttestationNotAllowed,
        RegistrationError::SelfAttestationNotAllowed,
        RegistrationError::CredentialIdMismatch,
    ];
    let mut codes: Vec<_> = errors.iter().map(RegistrationError::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len());
}
