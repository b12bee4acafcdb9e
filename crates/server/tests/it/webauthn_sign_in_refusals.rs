//! Sign-in refusals over HTTP: one test per check of security-checklist.md §1.2 (A1–A14) and
//! per bad-input row that applies to authentication. Each breaks exactly one thing with the
//! software key and asserts the typed problem, no state change (counter untouched, no
//! session), and the ceremony consumed. Row 11/A13 (counter regression) and row 12 (unknown
//! credential) are in `webauthn.rs`.

use axum::http::StatusCode;
use keyfleet_domain::UserId;
use keyfleet_webauthn_testkey::{TestKey, Tweaks, b64, cbor};
use serde_json::Value;

use crate::harness::{Backend, ORIGIN, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit::*;

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;

on_both_stores!(
    a1_not_an_assertion_response,
    a2_credential_not_in_allow_credentials,
    a3_row13_another_users_credential_username_first,
    a3_row14_user_handle_mismatch_or_missing,
    a4_row4_client_data_not_json_or_duplicate_keys,
    a5_row5_type_create_on_get,
    a6_challenge_not_the_issued_one,
    a7_row6_origin_cross_origin_top_origin,
    a8_row7_another_rps_id_hash,
    a9_row16_no_user_presence,
    a10_row15_no_user_verification_when_required,
    a11_row19_backup_flags,
    a12_signature_fails_with_the_stored_key,
    a14_nothing_is_updated_before_every_check_passed,
    authenticator_data_structure,
);

fn t() -> Tweaks {
    Tweaks::default()
}

/// A fresh app with a user who holds one key (used twice already, so the counter is 2).
async fn setup(b: Backend, env: &[(&str, &str)]) -> (TestApp, TestKey, Vec<UserId>) {
    let app = TestApp::new(b, env).await;
    let (user, _, mut key) = enrolled(&app, "pat").await;
    for _ in 0..2 {
        sign_in(&app, None, &mut key).await;
    }
    (app, key, vec![user.id])
}

/// Each of `cases` (tweaks → status and code), username-less and username-first.
async fn cases(b: Backend, env: &[(&str, &str)], cases: Vec<(Tweaks, StatusCode, &str)>) {
    let (app, mut key, users) = setup(b, env).await;
    for (tweaks, status, code) in cases {
        for username in [None, Some("pat")] {
            refused_sign_in(&app, username, &users, &mut key, &tweaks, status, code).await;
        }
    }
}

/// A sign-in with the response mutated by `f` after it is built.
async fn mutated(
    app: &TestApp,
    users: &[UserId],
    key: &mut TestKey,
    f: impl Fn(&mut Value),
    status: StatusCode,
    code: &str,
) {
    let c = sign_in_options(app, None).await;
    let mut cred = key.sign_in(&c.options, ORIGIN).unwrap();
    f(&mut cred);
    refused_sign_in_response(app, users, key, &c, cred, status, code).await;
}

async fn a1_not_an_assertion_response(b: Backend) {
    let (app, mut key, users) = setup(b, &[]).await;
    mutated(
        &app,
        &users,
        &mut key,
        |c| c["type"] = "password".into(),
        BAD,
        "invalid_response",
    )
    .await;
    // `id` is not the encoding of `rawId`.
    mutated(
        &app,
        &users,
        &mut key,
        |c| c["id"] = "b3RoZXI".into(),
        BAD,
        "invalid_response",
    )
    .await;
    // An attestation response (no signature) where an assertion is expected.
    let registration_shaped = |c: &mut Value| {
        let r = c["response"].as_object_mut().unwrap();
        r.remove("signature");
        r.remove("authenticatorData");
        r.insert("attestationObject".into(), "oA".into());
    };
    mutated(
        &app,
        &users,
        &mut key,
        registration_shaped,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
}

/// A2: the user's own key, registered after the options were issued, is not in their
/// `allowCredentials`.
async fn a2_credential_not_in_allow_credentials(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (user, tap, _) = enrolled(&app, "pat").await;
    let c = sign_in_options(&app, Some("pat")).await;
    let mut later = TestKey::from_seed(b"later key");
    register(&app, &tap, &mut later).await;
    let cred = later
        .sign_in_with(
            &c.options,
            ORIGIN,
            &Tweaks {
                ignore_credential_lists: true,
                ..t()
            },
        )
        .unwrap();
    refused_sign_in_response(&app, &[user.id], &mut later, &c, cred, BAD, "credential_not_allowed").await;
}

/// A3, row 13: a username-first ceremony for Pat answered with Sam's key, with Sam's or
/// Pat's user handle: the generic failure, as for an unknown key.
async fn a3_row13_another_users_credential_username_first(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (pat, _, _) = enrolled(&app, "pat").await;
    let (sam, _, mut sam_key) = enrolled(&app, "sam").await;
    let users = [pat.id, sam.id];
    let ignore = Tweaks {
        ignore_credential_lists: true,
        ..t()
    };
    refused_sign_in(
        &app,
        Some("pat"),
        &users,
        &mut sam_key,
        &ignore,
        UNAUTHORIZED,
        "authentication_failed",
    )
    .await;
    let as_pat = Tweaks {
        user_handle: Some(Some(pat.user_handle.clone())),
        ..ignore
    };
    refused_sign_in(
        &app,
        Some("pat"),
        &users,
        &mut sam_key,
        &as_pat,
        UNAUTHORIZED,
        "authentication_failed",
    )
    .await;
}

/// A3, row 14: username-less, the userHandle must name the key's owner and is required;
/// username-first, a userHandle that is present must be the user's.
async fn a3_row14_user_handle_mismatch_or_missing(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (pat, _, _) = enrolled(&app, "pat").await;
    let (sam, _, mut sam_key) = enrolled(&app, "sam").await;
    let users = [pat.id, sam.id];
    let as_pat = Tweaks {
        user_handle: Some(Some(pat.user_handle.clone())),
        ..t()
    };
    refused_sign_in(&app, None, &users, &mut sam_key, &as_pat, BAD, "user_handle_mismatch").await;
    refused_sign_in(
        &app,
        Some("sam"),
        &users,
        &mut sam_key,
        &as_pat,
        BAD,
        "user_handle_mismatch",
    )
    .await;
    let garbage = Tweaks {
        user_handle: Some(Some(b"nobody".to_vec())),
        ..t()
    };
    refused_sign_in(&app, None, &users, &mut sam_key, &garbage, BAD, "user_handle_mismatch").await;
    let missing = Tweaks {
        user_handle: Some(None),
        ..t()
    };
    refused_sign_in(&app, None, &users, &mut sam_key, &missing, BAD, "user_handle_missing").await;
    // Username-first, a missing userHandle is fine.
    let c = sign_in_options(&app, Some("sam")).await;
    let cred = sam_key.sign_in_with(&c.options, ORIGIN, &missing).unwrap();
    assert_eq!(sign_in_verify(&app, &c.id, cred).await.status, StatusCode::OK);
}

async fn a4_row4_client_data_not_json_or_duplicate_keys(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    client_data_json: Some(b"{\"type\":".to_vec()),
                    ..t()
                },
                BAD,
                "client_data_not_json",
            ),
            (
                Tweaks {
                    client_data_json: Some(vec![b'"', 0xc3, 0x28, b'"']),
                    ..t()
                },
                BAD,
                "client_data_not_utf8",
            ),
            (
                Tweaks {
                    client_data_extra: Some(",\"challenge\":\"AAAA\"".into()),
                    ..t()
                },
                BAD,
                "client_data_duplicate_key",
            ),
            (
                Tweaks {
                    client_data_extra: Some(",\"type\":\"webauthn.get\"".into()),
                    ..t()
                },
                BAD,
                "client_data_duplicate_key",
            ),
        ],
    )
    .await;
}

async fn a5_row5_type_create_on_get(b: Backend) {
    cases(
        b,
        &[],
        vec![(
            Tweaks {
                client_data_type: Some("webauthn.create".into()),
                ..t()
            },
            BAD,
            "client_data_type_mismatch",
        )],
    )
    .await;
}

async fn a6_challenge_not_the_issued_one(b: Backend) {
    cases(
        b,
        &[],
        vec![(
            Tweaks {
                challenge: Some(vec![1; 32]),
                ..t()
            },
            BAD,
            "challenge_mismatch",
        )],
    )
    .await;
}

async fn a7_row6_origin_cross_origin_top_origin(b: Backend) {
    let env = [("KEYFLEET_ORIGINS", "http://localhost:8080,https://keys.localhost")];
    let mut all: Vec<(Tweaks, StatusCode, &str)> = [
        "http://keys.localhost",
        "https://localhost:8080",
        "http://localhost:8081",
        "http://sub.localhost:8080",
        "http://localhost.evil.test:8080",
        "http://localhost:8080/",
    ]
    .iter()
    .map(|o| {
        (
            Tweaks {
                origin: Some((*o).into()),
                ..t()
            },
            BAD,
            "origin_mismatch",
        )
    })
    .collect();
    all.push((
        Tweaks {
            cross_origin: Some(true),
            ..t()
        },
        BAD,
        "cross_origin_not_allowed",
    ));
    all.push((
        Tweaks {
            top_origin: Some("https://evil.test".into()),
            ..t()
        },
        BAD,
        "top_origin_not_allowed",
    ));
    cases(b, &env, all).await;
}

async fn a8_row7_another_rps_id_hash(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    rp_id: Some("example.com".into()),
                    ..t()
                },
                BAD,
                "rp_id_hash_mismatch",
            ),
            (
                Tweaks {
                    rp_id_hash: Some([0xff; 32]),
                    ..t()
                },
                BAD,
                "rp_id_hash_mismatch",
            ),
        ],
    )
    .await;
}

async fn a9_row16_no_user_presence(b: Backend) {
    cases(
        b,
        &[],
        vec![(Tweaks { up: Some(false), ..t() }, BAD, "user_presence_required")],
    )
    .await;
}

async fn a10_row15_no_user_verification_when_required(b: Backend) {
    let env = [("KEYFLEET_USER_VERIFICATION", "required")];
    let (app, mut key, users) = setup(b, &env).await;
    let c = sign_in_options(&app, None).await;
    assert_eq!(c.options["userVerification"], "required");
    let no_uv = Tweaks { uv: Some(false), ..t() };
    for username in [None, Some("pat")] {
        refused_sign_in(&app, username, &users, &mut key, &no_uv, BAD, "uv_required").await;
    }
}

/// A11, row 19: BS without BE; BE different from the stored BE.
async fn a11_row19_backup_flags(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    be: Some(false),
                    bs: Some(true),
                    ..t()
                },
                BAD,
                "backup_state_invalid",
            ),
            (Tweaks { be: Some(true), ..t() }, BAD, "backup_eligibility_changed"),
        ],
    )
    .await;
    // A backup-eligible key may change BS (synced later), and the new BS is stored.
    let app = TestApp::new(b, &[]).await;
    let (_, tap) = app.tap_session("sam").await;
    let mut passkey = TestKey::from_seed(b"synced");
    passkey.backup_eligible = true;
    register(&app, &tap, &mut passkey).await;
    assert!(!stored(&app, &passkey.credential_id).await.backup_state);
    passkey.backup_state = true;
    sign_in(&app, None, &mut passkey).await;
    assert!(stored(&app, &passkey.credential_id).await.backup_state);
    let user = stored(&app, &passkey.credential_id).await.user_id;
    let not_eligible = Tweaks {
        be: Some(false),
        bs: Some(false),
        ..t()
    };
    refused_sign_in(
        &app,
        None,
        &[user],
        &mut passkey,
        &not_eligible,
        BAD,
        "backup_eligibility_changed",
    )
    .await;
}

/// A12: the signature over authData ‖ SHA-256(clientDataJSON) must verify with the stored key.
async fn a12_signature_fails_with_the_stored_key(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    wrong_signature_key: true,
                    ..t()
                },
                BAD,
                "signature_invalid",
            ),
            (
                Tweaks {
                    signature: Some(vec![0x30, 0x06, 2, 1, 1, 2, 1, 1]),
                    ..t()
                },
                BAD,
                "signature_invalid",
            ),
            (
                Tweaks {
                    signature: Some(Vec::new()),
                    ..t()
                },
                BAD,
                "signature_invalid",
            ),
            (
                Tweaks {
                    signature: Some(vec![0; 64]),
                    ..t()
                },
                BAD,
                "signature_invalid",
            ),
        ],
    )
    .await;
    // The hash is over the bytes sent: other clientDataJSON bytes break the signature.
    let (app, mut key, users) = setup(b, &[]).await;
    let c = sign_in_options(&app, None).await;
    let signed = key.sign_in(&c.options, ORIGIN).unwrap();
    let other = key
        .sign_in_with(
            &c.options,
            ORIGIN,
            &Tweaks {
                client_data_extra: Some(",\"x\":1".into()),
                sign_count: Some(key.sign_count),
                ..t()
            },
        )
        .unwrap();
    let mut sent = signed.clone();
    sent["response"]["clientDataJSON"] = other["response"]["clientDataJSON"].clone();
    refused_sign_in_response(&app, &users, &mut key, &c, sent, BAD, "signature_invalid").await;
}

/// A14: a refused assertion with a higher counter changes nothing: the next good one
/// continues from the stored count, and BS/UV are not taken from the refused one.
async fn a14_nothing_is_updated_before_every_check_passed(b: Backend) {
    let (app, mut key, users) = setup(b, &[]).await;
    let before = stored(&app, &key.credential_id).await;
    let bad = Tweaks {
        wrong_signature_key: true,
        sign_count: Some(1_000),
        ..t()
    };
    refused_sign_in(&app, None, &users, &mut key, &bad, BAD, "signature_invalid").await;
    let bad = Tweaks {
        origin: Some("https://evil.test".into()),
        sign_count: Some(2_000),
        ..t()
    };
    refused_sign_in(&app, None, &users, &mut key, &bad, BAD, "origin_mismatch").await;
    assert_eq!(stored(&app, &key.credential_id).await, before);
    let c = sign_in_options(&app, None).await;
    let next = before.sign_count + 1;
    let cred = key
        .sign_in_with(
            &c.options,
            ORIGIN,
            &Tweaks {
                sign_count: Some(next),
                ..t()
            },
        )
        .unwrap();
    assert_eq!(sign_in_verify(&app, &c.id, cred).await.status, StatusCode::OK);
    assert_eq!(stored(&app, &key.credential_id).await.sign_count, next);
}

/// Authenticator data structure (and row 1/2 for assertions): trailing bytes, truncation, AT
/// set on an assertion, ED without extensions, nested extension CBOR.
async fn authenticator_data_structure(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    auth_data_trailing: vec![0],
                    ..t()
                },
                BAD,
                "auth_data_trailing_bytes",
            ),
            (Tweaks { at: Some(true), ..t() }, BAD, "attested_data_flag_mismatch"),
            (Tweaks { ed: Some(true), ..t() }, BAD, "extension_flag_mismatch"),
            (
                Tweaks {
                    extensions: Some(cbor::nested_arrays(10_000)),
                    ..t()
                },
                BAD,
                "invalid_cbor",
            ),
            (
                Tweaks {
                    extensions: Some(cbor::nested_tags(10_000)),
                    ..t()
                },
                BAD,
                "invalid_cbor",
            ),
        ],
    )
    .await;
    let (app, mut key, users) = setup(b, &[]).await;
    let truncate = |c: &mut Value| {
        let ad = keyfleet_webauthn_testkey::unb64(c["response"]["authenticatorData"].as_str().unwrap()).unwrap();
        c["response"]["authenticatorData"] = b64(&ad[..36]).into();
    };
    mutated(&app, &users, &mut key, truncate, BAD, "auth_data_truncated").await;
}
