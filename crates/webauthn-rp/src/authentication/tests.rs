//! Negative tests for §7.2, one per checklist item (A1–A13) and bad-input row: each breaks
//! exactly one thing in an otherwise valid ES256 assertion.

use sha2::{Digest, Sha256};

use super::*;
use crate::auth_data::{FLAG_AT, FLAG_BE, FLAG_BS, FLAG_ED, FLAG_UP, FLAG_UV};
use crate::test_support::{self as ts, Assertion, assertion_expectations, int, map, stored_key, text};

fn code_with(assertion: &Assertion, expected: &AssertionExpectations<'_>) -> &'static str {
    match verify_authentication(expected, &assertion.build()) {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    }
}

fn code(assertion: &Assertion) -> &'static str {
    let key = stored_key();
    code_with(assertion, &assertion_expectations(&key))
}

#[test]
fn valid_assertion_is_accepted() {
    let key = stored_key();
    let verified = verify_authentication(&assertion_expectations(&key), &Assertion::default().build()).unwrap();
    assert_eq!(verified.new_sign_count, 42);
    assert_eq!(verified.counter, CounterStatus::Increased);
    assert!(verified.flags.user_verified);
    assert_eq!(verified.user_handle.as_deref(), Some(ts::USER_HANDLE));
    assert_eq!(verified.credential_id, ts::CREDENTIAL_ID);
}

#[test]
fn a1_credential_type_and_id_are_checked() {
    let key = stored_key();
    let mut response = Assertion::default().build();
    response.type_ = "otp".into();
    assert_eq!(
        verify_authentication(&assertion_expectations(&key), &response)
            .unwrap_err()
            .code(),
        "invalid_response"
    );
    let mut response = Assertion::default().build();
    response.id.push('A');
    assert_eq!(
        verify_authentication(&assertion_expectations(&key), &response)
            .unwrap_err()
            .code(),
        "invalid_response"
    );
}

#[test]
fn a2_credential_must_be_in_allow_credentials() {
    let key = stored_key();
    let other: &[u8] = b"other credential";
    let expected = AssertionExpectations {
        allow_credentials: &[other],
        ..assertion_expectations(&key)
    };
    assert_eq!(code_with(&Assertion::default(), &expected), "credential_not_allowed");
    let expected = AssertionExpectations {
        allow_credentials: &[other, ts::CREDENTIAL_ID],
        ..assertion_expectations(&key)
    };
    assert_eq!(code_with(&Assertion::default(), &expected), "accepted");
}

#[test]
fn a3_row13_credential_of_another_account_is_rejected() {
    // The stored record found by the RP is not the one the authenticator used.
    let key = stored_key();
    let mut expected = assertion_expectations(&key);
    expected.credential.id = b"credential owned by the identified user";
    expected.user = UserIdentification::IdentifiedBeforehand;
    assert_eq!(code_with(&Assertion::default(), &expected), "credential_id_mismatch");
}

#[test]
fn a3_row14_user_handle_must_name_the_owner() {
    let assertion = Assertion {
        user_handle: Some(b"user-43".to_vec()),
        ..Default::default()
    };
    assert_eq!(code(&assertion), "user_handle_mismatch");
    let key = stored_key();
    let identified = AssertionExpectations {
        user: UserIdentification::IdentifiedBeforehand,
        ..assertion_expectations(&key)
    };
    assert_eq!(code_with(&assertion, &identified), "user_handle_mismatch");
}

#[test]
fn a3_usernameless_requires_a_user_handle() {
    let assertion = Assertion {
        user_handle: None,
        ..Default::default()
    };
    assert_eq!(code(&assertion), "user_handle_missing");
    let key = stored_key();
    let identified = AssertionExpectations {
        user: UserIdentification::IdentifiedBeforehand,
        ..assertion_expectations(&key)
    };
    assert_eq!(code_with(&assertion, &identified), "accepted");
}

#[test]
fn a4_client_data_must_be_utf8_json_without_duplicates() {
    let not_utf8 = Assertion {
        client_data: b"{\"type\":\"\xc3\x28\"}".to_vec(),
        ..Default::default()
    };
    assert_eq!(code(&not_utf8), "client_data_not_utf8");
    let not_json = Assertion {
        client_data: b"{\"type\":".to_vec(),
        ..Default::default()
    };
    assert_eq!(code(&not_json), "client_data_not_json");
    let array = Assertion {
        client_data: b"[]".to_vec(),
        ..Default::default()
    };
    assert_eq!(code(&array), "client_data_not_json");
    let dup = format!(
        r#"{{"type":"webauthn.get","type":"webauthn.get","challenge":"{}","origin":"{}"}}"#,
        crate::json::Base64UrlBytes::encode(ts::CHALLENGE),
        ts::ORIGIN
    );
    assert_eq!(
        code(&Assertion {
            client_data: dup.into_bytes(),
            ..Default::default()
        }),
        "client_data_duplicate_key"
    );
}

#[test]
fn a5_row5_create_type_on_get_is_rejected() {
    let assertion = Assertion {
        client_data: ts::client_data("webauthn.create", ts::CHALLENGE, ts::ORIGIN),
        ..Default::default()
    };
    assert_eq!(code(&assertion), "client_data_type_mismatch");
}

#[test]
fn a6_challenge_must_match() {
    let assertion = Assertion {
        client_data: ts::client_data("webauthn.get", b"0123456789abcdef0123456789abcdeX", ts::ORIGIN),
        ..Default::default()
    };
    assert_eq!(code(&assertion), "challenge_mismatch");
    // A prefix of the challenge is not the challenge.
    let short = Assertion {
        client_data: ts::client_data("webauthn.get", &ts::CHALLENGE[..16], ts::ORIGIN),
        ..Default::default()
    };
    assert_eq!(code(&short), "challenge_mismatch");
}

#[test]
fn a7_row6_origin_must_match_exactly() {
    for origin in [
        "http://example.com",
        "https://example.com:444",
        "https://a.example.com",
        "https://example.co",
    ] {
        let assertion = Assertion {
            client_data: ts::client_data("webauthn.get", ts::CHALLENGE, origin),
            ..Default::default()
        };
        assert_eq!(code(&assertion), "origin_mismatch", "{origin}");
    }
}

#[test]
fn a7_cross_origin_rules_apply_to_assertions() {
    let client_data = format!(
        r#"{{"type":"webauthn.get","challenge":"{}","origin":"{}","crossOrigin":true}}"#,
        crate::json::Base64UrlBytes::encode(ts::CHALLENGE),
        ts::ORIGIN
    );
    let assertion = Assertion {
        client_data: client_data.into_bytes(),
        ..Default::default()
    };
    assert_eq!(code(&assertion), "cross_origin_not_allowed");
}

#[test]
fn a8_row7_another_rps_id_hash_is_rejected() {
    let assertion = Assertion {
        rp_id_hash: Sha256::digest(b"example.org").into(),
        ..Default::default()
    };
    assert_eq!(code(&assertion), "rp_id_hash_mismatch");
}

#[test]
fn a9_row16_user_presence_is_required() {
    assert_eq!(
        code(&Assertion {
            flags: FLAG_UV,
            ..Default::default()
        }),
        "user_presence_required"
    );
}

#[test]
fn a10_row15_user_verification_when_required() {
    let assertion = Assertion {
        flags: FLAG_UP,
        ..Default::default()
    };
    assert_eq!(code(&assertion), "uv_required");
    let key = stored_key();
    let lenient = AssertionExpectations {
        user_verification_required: false,
        ..assertion_expectations(&key)
    };
    assert_eq!(code_with(&assertion, &lenient), "accepted");
}

#[test]
fn a11_row19_backup_flags() {
    assert_eq!(
        code(&Assertion {
            flags: FLAG_UP | FLAG_UV | FLAG_BS,
            ..Default::default()
        }),
        "backup_state_invalid"
    );
    // BE now set, stored BE false.
    assert_eq!(
        code(&Assertion {
            flags: FLAG_UP | FLAG_UV | FLAG_BE,
            ..Default::default()
        }),
        "backup_eligibility_changed"
    );
    // Unknown stored BE: not checked.
    let key = stored_key();
    let mut expected = assertion_expectations(&key);
    expected.credential.backup_eligible = None;
    assert_eq!(
        code_with(
            &Assertion {
                flags: FLAG_UP | FLAG_UV | FLAG_BE | FLAG_BS,
                ..Default::default()
            },
            &expected
        ),
        "accepted"
    );
}

#[test]
fn a12_signature_must_verify_with_the_stored_key() {
    let good = Assertion::default();
    let auth_data = good.auth_data();
    let mut signature = ts::sign(&ts::signing_key(), &[&auth_data, &Sha256::digest(&good.client_data)]);
    let last = signature.len() - 1;
    signature[last] ^= 1;
    assert_eq!(
        code(&Assertion {
            signature: Some(signature),
            ..Default::default()
        }),
        "signature_invalid"
    );
    // Signed by another key.
    let other = crate::x509::tests::key("another authenticator");
    let signature = ts::sign(&other, &[&auth_data, &Sha256::digest(&good.client_data)]);
    assert_eq!(
        code(&Assertion {
            signature: Some(signature),
            ..Default::default()
        }),
        "signature_invalid"
    );
    // Not DER.
    assert_eq!(
        code(&Assertion {
            signature: Some(vec![1, 2, 3]),
            ..Default::default()
        }),
        "signature_invalid"
    );
}

#[test]
fn a13_row11_counter_regression_is_reported() {
    for received in [41, 40, 0] {
        let assertion = Assertion {
            sign_count: received,
            ..Default::default()
        };
        assert_eq!(code(&assertion), "counter_regression", "received {received}");
    }
    // With the Report policy the (authentic) assertion succeeds and says so.
    let key = stored_key();
    let report = AssertionExpectations {
        counter_policy: CounterPolicy::Report,
        ..assertion_expectations(&key)
    };
    let verified = verify_authentication(
        &report,
        &Assertion {
            sign_count: 7,
            ..Default::default()
        }
        .build(),
    )
    .unwrap();
    assert_eq!(
        verified.counter,
        CounterStatus::Regression {
            stored: 41,
            received: 7
        }
    );
    // Both zero: no counter, fine.
    let mut zero = assertion_expectations(&key);
    zero.credential.sign_count = 0;
    let verified = verify_authentication(
        &zero,
        &Assertion {
            sign_count: 0,
            ..Default::default()
        }
        .build(),
    )
    .unwrap();
    assert_eq!(verified.counter, CounterStatus::BothZero);
}

#[test]
fn counter_status_classifies_every_case() {
    assert_eq!(counter_status(0, 0), CounterStatus::BothZero);
    assert_eq!(counter_status(0, 1), CounterStatus::Increased);
    assert_eq!(
        counter_status(5, 5),
        CounterStatus::Regression { stored: 5, received: 5 }
    );
    assert_eq!(
        counter_status(5, 0),
        CounterStatus::Regression { stored: 5, received: 0 }
    );
}

#[test]
fn assertion_auth_data_is_structurally_checked() {
    // Trailing byte.
    let mut response = Assertion::default().build();
    response.response.authenticator_data.0.push(0);
    let key = stored_key();
    let err = verify_authentication(&assertion_expectations(&key), &response).unwrap_err();
    assert_eq!(err.code(), "auth_data_trailing_bytes");
    // Truncated.
    let mut response = Assertion::default().build();
    response.response.authenticator_data.0.truncate(36);
    let err = verify_authentication(&assertion_expectations(&key), &response).unwrap_err();
    assert_eq!(err.code(), "auth_data_truncated");
    // AT set without data.
    assert_eq!(
        code(&Assertion {
            flags: FLAG_UP | FLAG_UV | FLAG_AT,
            ..Default::default()
        }),
        "attested_data_flag_mismatch"
    );
    // ED set without extensions; then a valid extension map.
    assert_eq!(
        code(&Assertion {
            flags: FLAG_UP | FLAG_UV | FLAG_ED,
            ..Default::default()
        }),
        "extension_flag_mismatch"
    );
    let ext = Assertion {
        flags: FLAG_UP | FLAG_UV | FLAG_ED,
        extensions: Some(map(&[(text("largeBlobKey"), int(1))])),
        ..Default::default()
    };
    assert_eq!(code(&ext), "accepted");
    let expected = AssertionExpectations {
        requested_extensions: Some(&[]),
        ..assertion_expectations(&key)
    };
    assert_eq!(code_with(&ext, &expected), "unsolicited_extension");
}

#[test]
fn id_must_be_the_unpadded_base64url_of_raw_id_at_any_length() {
    // Lengths around the 48-byte chunks the comparison works in, and past the old 1400-byte buffer.
    for len in [0, 1, 2, 3, 47, 48, 49, 96, 97, 1023, 1100] {
        let raw: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let id = Base64UrlBytes::encode(&raw);
        assert!(id_encodes_raw_id(&id, &raw), "len {len}");
        // Padded, truncated, one character longer, a change in the last chunk.
        if len % 3 != 0 {
            assert!(!id_encodes_raw_id(&format!("{id}="), &raw), "len {len}");
        }
        if len > 0 {
            assert!(!id_encodes_raw_id(&id[..id.len() - 1], &raw), "len {len}");
            let mut changed = raw.clone();
            changed[len - 1] ^= 0x40;
            assert!(!id_encodes_raw_id(&id, &changed), "len {len}");
        }
        assert!(!id_encodes_raw_id(&format!("{id}A"), &raw), "len {len}");
        // Standard base64 ('+', '/') is not base64url.
        let standard = id.replace('-', "+").replace('_', "/");
        assert_eq!(id_encodes_raw_id(&standard, &raw), standard == id, "len {len}");
    }
}
