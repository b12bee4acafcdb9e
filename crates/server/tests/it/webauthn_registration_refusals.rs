//! Registration refusals over HTTP: one test per check of security-checklist.md §1.1 (R1–R24)
//! and per bad-input row that applies to registration. Each breaks exactly one thing with
//! the software key and asserts the typed problem, no state change, and the ceremony
//! consumed (see `webauthn.rs` for what is not covered and why).

use axum::http::StatusCode;
use keyfleet_webauthn_testkey::{Attestation, TestKey, Tweaks, b64, cbor, unb64};
use serde_json::Value;

use crate::harness::{Backend, ORIGIN, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit::*;

const BAD: StatusCode = StatusCode::BAD_REQUEST;

on_both_stores!(
    r1_not_an_attestation_response,
    r2_client_data_not_utf8_or_not_json,
    r2_a_leading_bom_is_stripped,
    r3_r5_row5_type_get_on_create,
    r4_challenge_not_the_issued_one,
    r5_row6_origin_not_exactly_on_the_list,
    r6_cross_origin,
    r7_top_origin,
    r8_client_data_hash_is_over_the_bytes_sent,
    r9_row1_attestation_object_not_a_well_formed_map,
    row2_deeply_nested_and_bomb_cbor_fails_fast,
    row4_duplicate_keys_in_client_data,
    r10_row7_another_rps_id_hash,
    r11_row16_no_user_presence,
    r12_row15_no_user_verification_when_required,
    r13_row19_backup_state_without_eligibility,
    r15_row22_alg_not_offered_and_bad_keys,
    r16_unknown_fmt,
    r20_row23_credential_id_too_long,
    r21_row23_credential_id_of_another_user,
    r23_extension_outputs,
    structural_at_flag_and_raw_id,
);

fn t() -> Tweaks {
    Tweaks::default()
}

/// A fresh app with a user who already holds one key, and a new key to register.
async fn setup(b: Backend, env: &[(&str, &str)]) -> (TestApp, String, Vec<keyfleet_domain::UserId>) {
    let app = TestApp::new(b, env).await;
    let (user, tap, _) = enrolled(&app, "pat").await;
    (app, tap, vec![user.id])
}

/// Registers a new key with each of `cases` (tweaks → expected status and code).
async fn cases(b: Backend, env: &[(&str, &str)], cases: Vec<(Tweaks, StatusCode, &str)>) {
    let (app, tap, users) = setup(b, env).await;
    for (i, (tweaks, status, code)) in cases.into_iter().enumerate() {
        let mut key = TestKey::from_seed(format!("new key {i}").as_bytes());
        refused_registration(&app, &tap, &users, &mut key, &tweaks, status, code).await;
    }
}

/// Registers with a response mutated by `f` after it is built.
async fn mutated(app: &TestApp, tap: &str, users: &[keyfleet_domain::UserId], f: impl Fn(&mut Value), code: &str) {
    mutated_with(app, tap, users, &t(), f, BAD, code).await;
}

async fn mutated_with(
    app: &TestApp,
    tap: &str,
    users: &[keyfleet_domain::UserId],
    tweaks: &Tweaks,
    f: impl Fn(&mut Value),
    status: StatusCode,
    code: &str,
) {
    let mut key = TestKey::from_seed(b"mutated");
    let c = reg_options(app, tap).await;
    let mut cred = key.register_with(&c.options, ORIGIN, tweaks).unwrap();
    f(&mut cred);
    refused_registration_response(app, tap, users, &mut key, &c, cred, status, code).await;
}

/// Replaces `response.attestationObject` with `f(its bytes)`.
fn attestation_object(f: impl Fn(Vec<u8>) -> Vec<u8>) -> impl Fn(&mut Value) {
    move |cred: &mut Value| {
        let bytes = unb64(cred["response"]["attestationObject"].as_str().unwrap()).unwrap();
        cred["response"]["attestationObject"] = Value::from(b64(&f(bytes)));
    }
}

async fn r1_not_an_attestation_response(b: Backend) {
    let (app, tap, users) = setup(b, &[]).await;
    mutated(
        &app,
        &tap,
        &users,
        |c| c["type"] = "password".into(),
        "invalid_response",
    )
    .await;
    mutated(
        &app,
        &tap,
        &users,
        |c| c["id"] = "c29tZXRoaW5nIGVsc2U".into(),
        "invalid_response",
    )
    .await;
    // An assertion (no attestationObject) where an attestation response is expected.
    let sign_in_shaped = |c: &mut Value| {
        let r = c["response"].as_object_mut().unwrap();
        r.remove("attestationObject");
        r.insert("authenticatorData".into(), "AAAA".into());
        r.insert("signature".into(), "AAAA".into());
    };
    mutated_with(
        &app,
        &tap,
        &users,
        &t(),
        sign_in_shaped,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
}

async fn r2_client_data_not_utf8_or_not_json(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    client_data_json: Some(vec![b'{', 0xff, 0xfe, b'}']),
                    ..t()
                },
                BAD,
                "client_data_not_utf8",
            ),
            (
                Tweaks {
                    client_data_json: Some(b"not json".to_vec()),
                    ..t()
                },
                BAD,
                "client_data_not_json",
            ),
            (
                Tweaks {
                    client_data_json: Some(b"[]".to_vec()),
                    ..t()
                },
                BAD,
                "client_data_not_json",
            ),
            (
                Tweaks {
                    client_data_json: Some(Vec::new()),
                    ..t()
                },
                BAD,
                "client_data_not_json",
            ),
        ],
    )
    .await;
}

/// R2 says to strip a leading BOM first: a BOM-prefixed clientDataJSON registers.
async fn r2_a_leading_bom_is_stripped(b: Backend) {
    let (app, tap, _) = setup(b, &[]).await;
    let c = reg_options(&app, &tap).await;
    let text = format!(
        "\u{feff}{{\"type\":\"webauthn.create\",\"challenge\":\"{}\",\"origin\":\"{ORIGIN}\",\"crossOrigin\":false}}",
        c.options["challenge"].as_str().unwrap()
    );
    let mut key = TestKey::from_seed(b"bom");
    let cred = key
        .register_with(
            &c.options,
            ORIGIN,
            &Tweaks {
                client_data_json: Some(text.into_bytes()),
                ..t()
            },
        )
        .unwrap();
    let r = reg_verify(&app, &tap, &c.id, cred).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
}

async fn r3_r5_row5_type_get_on_create(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    client_data_type: Some("webauthn.get".into()),
                    ..t()
                },
                BAD,
                "client_data_type_mismatch",
            ),
            (
                Tweaks {
                    client_data_type: Some("webauthn.Create".into()),
                    ..t()
                },
                BAD,
                "client_data_type_mismatch",
            ),
            (
                Tweaks {
                    client_data_type: Some(String::new()),
                    ..t()
                },
                BAD,
                "client_data_type_mismatch",
            ),
        ],
    )
    .await;
}

async fn r4_challenge_not_the_issued_one(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    challenge: Some(vec![0; 32]),
                    ..t()
                },
                BAD,
                "challenge_mismatch",
            ),
            (
                Tweaks {
                    challenge: Some(Vec::new()),
                    ..t()
                },
                BAD,
                "challenge_mismatch",
            ),
        ],
    )
    .await;
}

/// Row 6: exact match only. The app allows `http://localhost:8080` (the harness origin) and
/// `https://keys.localhost`.
async fn r5_row6_origin_not_exactly_on_the_list(b: Backend) {
    let env = [("KEYFLEET_ORIGINS", "http://localhost:8080,https://keys.localhost")];
    let origins = [
        "http://keys.localhost",           // http:// for an https origin
        "https://localhost:8080",          // scheme
        "http://localhost:8081",           // other port
        "http://localhost",                // port left out
        "http://sub.localhost:8080",       // unlisted subdomain
        "https://other.keys.localhost",    // unlisted subdomain of a listed origin
        "http://localhost.evil.test:8080", // lookalike
        "http://1ocalhost:8080",           // lookalike
        "http://localhost:8080/",          // not an origin serialisation
        "HTTP://LOCALHOST:8080",           // case
        "null",
        "",
    ];
    cases(
        b,
        &env,
        origins
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
            .collect(),
    )
    .await;
    // The listed https origin itself is accepted.
    let (app, tap, _) = setup(b, &env).await;
    let c = reg_options(&app, &tap).await;
    let cred = TestKey::from_seed(b"https")
        .register(&c.options, "https://keys.localhost")
        .unwrap();
    assert_eq!(reg_verify(&app, &tap, &c.id, cred).await.status, StatusCode::CREATED);
}

async fn r6_cross_origin(b: Backend) {
    cases(
        b,
        &[],
        vec![(
            Tweaks {
                cross_origin: Some(true),
                ..t()
            },
            BAD,
            "cross_origin_not_allowed",
        )],
    )
    .await;
}

async fn r7_top_origin(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    top_origin: Some("https://evil.test".into()),
                    ..t()
                },
                BAD,
                "top_origin_not_allowed",
            ),
            (
                Tweaks {
                    cross_origin: Some(true),
                    top_origin: Some(ORIGIN.into()),
                    ..t()
                },
                BAD,
                "cross_origin_not_allowed",
            ),
        ],
    )
    .await;
}

/// R8: the hash is over the clientDataJSON bytes as sent. A clientDataJSON with other bytes
/// but the same meaning does not verify under a signature made over the first one.
async fn r8_client_data_hash_is_over_the_bytes_sent(b: Backend) {
    let (app, tap, users) = setup(b, &[]).await;
    let mut key = TestKey::from_seed(b"r8");
    let c = reg_options(&app, &tap).await;
    let signed = key
        .register_with(
            &c.options,
            ORIGIN,
            &Tweaks {
                client_data_extra: Some(",\"x\":1".into()),
                ..t()
            },
        )
        .unwrap();
    let mut sent = key.register(&c.options, ORIGIN).unwrap();
    sent["response"]["attestationObject"] = signed["response"]["attestationObject"].clone();
    refused_registration_response(
        &app,
        &tap,
        &users,
        &mut key,
        &c,
        sent,
        BAD,
        "attestation_signature_invalid",
    )
    .await;
    // Other bytes signed as sent verify (no re-serialisation on the server).
    let c = reg_options(&app, &tap).await;
    let cred = key
        .register_with(
            &c.options,
            ORIGIN,
            &Tweaks {
                client_data_extra: Some(",\"x\":1".into()),
                ..t()
            },
        )
        .unwrap();
    assert_eq!(reg_verify(&app, &tap, &c.id, cred).await.status, StatusCode::CREATED);
}

/// R9, row 1: trailing bytes, truncated, not a map, members missing or mistyped.
async fn r9_row1_attestation_object_not_a_well_formed_map(b: Backend) {
    let (app, tap, users) = setup(b, &[]).await;
    let with_trailing = Tweaks {
        attestation_object_trailing: vec![0x00],
        ..t()
    };
    mutated_with(&app, &tap, &users, &with_trailing, |_| {}, BAD, "invalid_cbor").await;
    let cut = |bytes: Vec<u8>| bytes[..bytes.len() / 2].to_vec();
    mutated(&app, &tap, &users, attestation_object(cut), "invalid_cbor").await;
    let empty = |_: Vec<u8>| Vec::new();
    mutated(&app, &tap, &users, attestation_object(empty), "invalid_cbor").await;
    for not_a_map in [
        cbor::array(&[cbor::text("fmt")]),
        cbor::int(7),
        cbor::bytes(b"map"),
        cbor::text("map"),
    ] {
        let replace = move |_: Vec<u8>| not_a_map.clone();
        mutated(&app, &tap, &users, attestation_object(replace), "invalid_cbor").await;
    }
    let map = |entries: Vec<(&str, Vec<u8>)>| {
        cbor::map(&entries.into_iter().map(|(k, v)| (cbor::text(k), v)).collect::<Vec<_>>())
    };
    for broken in [
        map(vec![("attStmt", cbor::map(&[])), ("authData", cbor::bytes(&[0; 37]))]),
        map(vec![("fmt", cbor::text("none")), ("authData", cbor::bytes(&[0; 37]))]),
        map(vec![("fmt", cbor::text("none")), ("attStmt", cbor::map(&[]))]),
        map(vec![
            ("fmt", cbor::int(1)),
            ("attStmt", cbor::map(&[])),
            ("authData", cbor::bytes(&[0; 37])),
        ]),
        map(vec![
            ("fmt", cbor::text("none")),
            ("attStmt", cbor::map(&[])),
            ("authData", cbor::text("authData")),
        ]),
        map(vec![
            ("fmt", cbor::text("none")),
            ("attStmt", cbor::array(&[])),
            ("authData", cbor::bytes(&[0; 37])),
        ]),
    ] {
        let replace = move |_: Vec<u8>| broken.clone();
        mutated(
            &app,
            &tap,
            &users,
            attestation_object(replace),
            "invalid_attestation_object",
        )
        .await;
    }
    // Trailing bytes inside authData (after the credential key).
    mutated_with(
        &app,
        &tap,
        &users,
        &Tweaks {
            auth_data_trailing: vec![0xff],
            ..t()
        },
        |_| {},
        BAD,
        "auth_data_trailing_bytes",
    )
    .await;
}

/// Row 2: 10 000 levels of nesting, and length bombs, fail typed, and without reading or
/// allocating what they announce (a parser that followed them would exhaust the stack or the
/// memory, or hang into nextest's hang guard, `.config/nextest.toml`; no time is asserted).
async fn row2_deeply_nested_and_bomb_cbor_fails_fast(b: Backend) {
    let (app, tap, users) = setup(b, &[]).await;
    for bomb in [
        cbor::nested_arrays(10_000),
        cbor::nested_tags(10_000),
        vec![0x9f; 10_000],                                         // indefinite arrays, never closed
        vec![0xbf; 10_000],                                         // indefinite maps, never closed
        vec![0x5a, 0xff, 0xff, 0xff, 0xff],                         // a 4 GiB byte string that is not there
        vec![0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // 2^64 - 1 elements
    ] {
        let replace = move |_: Vec<u8>| bomb.clone();
        mutated(&app, &tap, &users, attestation_object(replace), "invalid_cbor").await;
    }
    // The same inside authData: a credential key nested 10 000 deep.
    mutated_with(
        &app,
        &tap,
        &users,
        &Tweaks {
            cose_key: Some(cbor::nested_arrays(10_000)),
            ..t()
        },
        |_| {},
        BAD,
        "invalid_cbor",
    )
    .await;
}

async fn row4_duplicate_keys_in_client_data(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    client_data_extra: Some(",\"type\":\"webauthn.create\"".into()),
                    ..t()
                },
                BAD,
                "client_data_duplicate_key",
            ),
            (
                Tweaks {
                    client_data_extra: Some(format!(",\"origin\":\"{ORIGIN}\"")),
                    ..t()
                },
                BAD,
                "client_data_duplicate_key",
            ),
        ],
    )
    .await;
}

async fn r10_row7_another_rps_id_hash(b: Backend) {
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
                    rp_id: Some("sub.localhost".into()),
                    ..t()
                },
                BAD,
                "rp_id_hash_mismatch",
            ),
            (
                Tweaks {
                    rp_id_hash: Some([0; 32]),
                    ..t()
                },
                BAD,
                "rp_id_hash_mismatch",
            ),
        ],
    )
    .await;
}

async fn r11_row16_no_user_presence(b: Backend) {
    cases(
        b,
        &[],
        vec![(Tweaks { up: Some(false), ..t() }, BAD, "user_presence_required")],
    )
    .await;
}

async fn r12_row15_no_user_verification_when_required(b: Backend) {
    let env = [("KEYFLEET_USER_VERIFICATION", "required")];
    let (app, tap, users) = setup(b, &env).await;
    let c = reg_options(&app, &tap).await;
    assert_eq!(c.options["authenticatorSelection"]["userVerification"], "required");
    let mut key = TestKey::from_seed(b"no uv");
    refused_registration(
        &app,
        &tap,
        &users,
        &mut key,
        &Tweaks { uv: Some(false), ..t() },
        BAD,
        "uv_required",
    )
    .await;
    // Under `preferred`, the same registers (with userVerified false).
    let (app, tap, _) = setup(b, &[]).await;
    let mut key = TestKey::from_seed(b"no uv");
    key.user_verifying = false;
    assert_eq!(register(&app, &tap, &mut key).await["userVerified"], false);
}

async fn r13_row19_backup_state_without_eligibility(b: Backend) {
    cases(
        b,
        &[],
        vec![(
            Tweaks {
                be: Some(false),
                bs: Some(true),
                ..t()
            },
            BAD,
            "backup_state_invalid",
        )],
    )
    .await;
}

fn rsa_key(n: &[u8], e: &[u8]) -> Vec<u8> {
    cbor::map(&[
        (cbor::int(1), cbor::int(3)),
        (cbor::int(3), cbor::int(-257)),
        (cbor::int(-1), cbor::bytes(n)),
        (cbor::int(-2), cbor::bytes(e)),
    ])
}

/// R15, row 22: an algorithm that was not offered, and keys that are not valid keys. The
/// server offers every algorithm it supports, so an algorithm it did not offer is also one
/// it does not know.
async fn r15_row22_alg_not_offered_and_bad_keys(b: Backend) {
    let key = TestKey::from_seed(b"cose");
    let good = key.cose_public_key(-7);
    // Off the curve: flip the last bit of y (the last byte of the encoded key).
    let mut off_curve = good.clone();
    *off_curve.last_mut().unwrap() ^= 1;
    let mut n1024 = vec![0xc5; 128];
    n1024[127] = 0x01;
    let mut n2048 = vec![0xc5; 256];
    n2048[255] = 0x01;
    let none = Some(Attestation::None);
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    alg: Some(-36),
                    attestation: none,
                    ..t()
                },
                BAD,
                "unsupported_algorithm",
            ),
            (
                Tweaks {
                    alg: Some(-65535),
                    attestation: none,
                    ..t()
                },
                BAD,
                "unsupported_algorithm",
            ),
            (
                Tweaks {
                    cose_key: Some(off_curve),
                    attestation: none,
                    ..t()
                },
                BAD,
                "invalid_public_key",
            ),
            (
                Tweaks {
                    cose_key: Some(rsa_key(&n1024, &[1, 0, 1])),
                    attestation: none,
                    ..t()
                },
                BAD,
                "invalid_public_key",
            ),
            (
                Tweaks {
                    cose_key: Some(rsa_key(&n2048, &[0])),
                    attestation: none,
                    ..t()
                },
                BAD,
                "invalid_public_key",
            ),
            (
                Tweaks {
                    cose_key: Some(rsa_key(&n2048, &[])),
                    attestation: none,
                    ..t()
                },
                BAD,
                "invalid_public_key",
            ),
            // A P-256 key labelled ES384: the curve does not fit the algorithm.
            (
                Tweaks {
                    alg: Some(-35),
                    attestation: none,
                    ..t()
                },
                BAD,
                "unsupported_algorithm",
            ),
            // The packed statement's alg differs from the credential key's.
            (
                Tweaks {
                    att_stmt: Some(cbor::map(&[
                        (cbor::text("alg"), cbor::int(-8)),
                        (cbor::text("sig"), cbor::bytes(&[0; 64])),
                    ])),
                    ..t()
                },
                BAD,
                "attestation_alg_mismatch",
            ),
        ],
    )
    .await;
}

async fn r16_unknown_fmt(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (
                Tweaks {
                    fmt: Some("Packed".into()),
                    ..t()
                },
                BAD,
                "unknown_attestation_format",
            ),
            (
                Tweaks {
                    fmt: Some("NONE".into()),
                    attestation: Some(Attestation::None),
                    ..t()
                },
                BAD,
                "unknown_attestation_format",
            ),
            (
                Tweaks {
                    fmt: Some("x-vendor".into()),
                    ..t()
                },
                BAD,
                "unknown_attestation_format",
            ),
            (
                Tweaks {
                    fmt: Some(String::new()),
                    ..t()
                },
                BAD,
                "unknown_attestation_format",
            ),
        ],
    )
    .await;
}

async fn r20_row23_credential_id_too_long(b: Backend) {
    cases(
        b,
        &[],
        vec![(
            Tweaks {
                credential_id: Some(vec![0x42; 1024]),
                ..t()
            },
            BAD,
            "credential_id_too_long",
        )],
    )
    .await;
    // 1023 bytes is the longest accepted.
    let (app, tap, _) = setup(b, &[]).await;
    let mut key = TestKey::from_seed(b"long");
    key.credential_id = vec![0x42; 1023];
    register(&app, &tap, &mut key).await;
}

/// R21, row 23: a credential id any user already holds is refused (409), and the first
/// holder keeps it.
async fn r21_row23_credential_id_of_another_user(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (pat, _, pat_key) = enrolled(&app, "pat").await;
    let (sam, sam_tap) = app.tap_session("sam").await;
    let mut copy = TestKey::from_seed(b"another key with pat's id");
    copy.credential_id = pat_key.credential_id.clone();
    refused_registration(
        &app,
        &sam_tap,
        &[pat.id, sam.id],
        &mut copy,
        &t(),
        StatusCode::CONFLICT,
        "credential_exists",
    )
    .await;
    assert_eq!(stored(&app, &pat_key.credential_id).await.user_id, pat.id);
}

/// R23: unsolicited authenticator extension outputs are ignored (the server requests none),
/// and malformed extension data is refused.
async fn r23_extension_outputs(b: Backend) {
    let cred_protect = cbor::map(&[(cbor::text("credProtect"), cbor::int(2))]);
    cases(
        b,
        &[],
        vec![
            (Tweaks { ed: Some(true), ..t() }, BAD, "extension_flag_mismatch"),
            (
                Tweaks {
                    extensions: Some(cred_protect.clone()),
                    ed: Some(false),
                    ..t()
                },
                BAD,
                "auth_data_trailing_bytes",
            ),
            (
                Tweaks {
                    extensions: Some(cbor::int(5)),
                    ..t()
                },
                BAD,
                "invalid_extensions",
            ),
            (
                Tweaks {
                    extensions: Some(vec![0xa1]),
                    ..t()
                },
                BAD,
                "invalid_cbor",
            ),
        ],
    )
    .await;
    let (app, tap, _) = setup(b, &[]).await;
    let c = reg_options(&app, &tap).await;
    let cred = TestKey::from_seed(b"ext")
        .register_with(
            &c.options,
            ORIGIN,
            &Tweaks {
                extensions: Some(cred_protect),
                ..t()
            },
        )
        .unwrap();
    assert_eq!(reg_verify(&app, &tap, &c.id, cred).await.status, StatusCode::CREATED);
}

/// Structural checks: AT flag ⇔ attested data, rawId = the attested credential id.
async fn structural_at_flag_and_raw_id(b: Backend) {
    cases(
        b,
        &[],
        vec![
            (Tweaks { at: Some(false), ..t() }, BAD, "attested_data_flag_mismatch"),
            (
                Tweaks {
                    raw_id: Some(b"not the attested id".to_vec()),
                    ..t()
                },
                BAD,
                "credential_id_mismatch",
            ),
        ],
    )
    .await;
    // user.id in the options is 1–64 bytes.
    let (app, tap, _) = setup(b, &[]).await;
    let handle = unb64(reg_options(&app, &tap).await.options["user"]["id"].as_str().unwrap()).unwrap();
    assert!((1..=64).contains(&handle.len()));
}
