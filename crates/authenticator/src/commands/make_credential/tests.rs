use crate::cbor::{self, Value};
use crate::status::Status;
use crate::test_support::*;

fn auth_data_of(resp: &Value) -> AuthData {
    parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap())
}

#[test]
fn packed_attestation_verifies() {
    let mut fx = Fixture::new();
    let resp = fx.make_credential(RP, b"user-1", false, None, vec![]).unwrap();
    assert_eq!(resp.get_int_key(1), Some(&Value::text("packed")));
    let raw_auth_data = resp.get_int_key(2).unwrap().as_bytes().unwrap();
    let ad = auth_data_of(&resp);
    assert_eq!(ad.rp_id_hash, crate::crypto::sha256(RP.as_bytes()));
    assert_eq!(ad.flags, 0x41, "UP and AT");
    assert_eq!(ad.aaguid, Some(crate::model_by_name("nfc-key").unwrap().aaguid));
    let stmt = resp.get_int_key(3).unwrap();
    assert_eq!(stmt.get_text_key("alg"), Some(&Value::Int(-7)));
    assert_eq!(
        stmt.get_text_key("x5c"),
        Some(&Value::Array(vec![Value::bytes(batch_cert())]))
    );
    let sig = stmt.get_text_key("sig").unwrap().as_bytes().unwrap();
    let signed = [raw_auth_data, &CDH].concat();
    assert!(verify_es256(&attestation_public_key(), &signed, sig));
    assert!(
        !verify_es256(&ad.public_key.unwrap(), &signed, sig),
        "signed by the batch key, not the credential"
    );
    assert!(
        fx.auth.state().credentials().is_empty(),
        "non-discoverable credentials store nothing"
    );
    assert!(fx.auth.take_dirty(), "the signature counter moved");
}

#[test]
fn self_attestation_without_certificates() {
    let mut fx = Fixture::new();
    fx.auth.state.attestation.cert_chain_der.clear();
    let resp = fx.make_credential(RP, b"u", false, None, vec![]).unwrap();
    let stmt = resp.get_int_key(3).unwrap();
    assert!(stmt.get_text_key("x5c").is_none());
    let ad = auth_data_of(&resp);
    let signed = [resp.get_int_key(2).unwrap().as_bytes().unwrap(), &CDH].concat();
    assert!(verify_es256(
        &ad.public_key.unwrap(),
        &signed,
        stmt.get_text_key("sig").unwrap().as_bytes().unwrap()
    ));
}

#[test]
fn response_is_canonical() {
    let mut fx = Fixture::new();
    let raw = fx.raw(
        &[
            &[0x01][..],
            &cbor::encode(&Value::int_map(vec![
                (1, Value::bytes(&CDH)),
                (2, Value::text_map(vec![("id", Value::text(RP))])),
                (3, Value::text_map(vec![("id", Value::bytes(b"u"))])),
                (4, Value::Array(vec![es256_param()])),
            ])),
        ]
        .concat(),
    );
    assert_eq!(raw[0], 0);
    assert_eq!(cbor::encode(&cbor::decode(&raw[1..], 4).unwrap()), raw[1..]);
}

#[test]
fn discoverable_credentials_are_stored_and_replaced() {
    let mut fx = Fixture::new();
    let first = fx.make_credential(RP, b"user-1", true, None, vec![]).unwrap();
    let id1 = auth_data_of(&first).credential_id.unwrap();
    assert_eq!(id1.len(), 32);
    let stored = &fx.auth.state().credentials()[0];
    assert_eq!(
        (stored.rp_id.as_str(), stored.user_id.as_slice()),
        (RP, b"user-1".as_slice())
    );
    assert_eq!(stored.user_display_name.as_deref(), Some("Alice"));
    fx.make_credential(RP, b"user-2", true, None, vec![]).unwrap();
    fx.make_credential(RP, b"user-1", true, None, vec![]).unwrap();
    let creds = fx.auth.state().credentials();
    assert_eq!(creds.len(), 2);
    assert!(creds.iter().all(|c| c.id != id1), "same RP and user handle: replaced");
}

#[test]
fn pin_rules() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    // makeCredUvNotRqd: a non-discoverable credential needs no UV...
    let resp = fx.make_credential(RP, b"u", false, None, vec![]).unwrap();
    assert_eq!(auth_data_of(&resp).flags & 0x04, 0);
    // ...but a discoverable one does.
    assert_eq!(
        fx.make_credential(RP, b"u", true, None, vec![]).unwrap_err(),
        Status::PuatRequired
    );
    let token = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    let resp = fx.make_credential(RP, b"u", true, Some(&token), vec![]).unwrap();
    assert_eq!(auth_data_of(&resp).flags, 0x45, "UP, UV, AT");
    // The token's mc permission is spent on use.
    assert_eq!(
        fx.make_credential(RP, b"v", true, Some(&token), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
}

#[test]
fn tokens_for_other_rps_or_permissions_are_refused() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let other = fx.pin_token("1234", 0x01, Some("other.example")).unwrap();
    assert_eq!(
        fx.make_credential(RP, b"u", true, Some(&other), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
    let ga_only = fx.pin_token("1234", 0x02, Some(RP)).unwrap();
    assert_eq!(
        fx.make_credential(RP, b"u", true, Some(&ga_only), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
    let cm_only = fx.pin_token("1234", 0x04, None).unwrap();
    assert_eq!(
        fx.make_credential(RP, b"u", true, Some(&cm_only), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
    // A legacy token has no RP ID and binds to the first RP it is used for.
    let legacy = fx.legacy_pin_token("1234").unwrap();
    fx.make_credential(RP, b"u", true, Some(&legacy), vec![]).unwrap();
    assert!(fx.auth.vol.token.as_ref().unwrap().rp_id.as_deref() == Some(RP));
    let wrong = [0u8; 32];
    assert_eq!(
        fx.make_credential(RP, b"u", true, Some(&wrong), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
}

#[test]
fn zero_length_pin_uv_auth_param_asks_for_a_touch() {
    let mut fx = Fixture::new();
    let extra = || vec![(8, Value::bytes(&[])), (9, Value::Int(2))];
    assert_eq!(
        fx.make_credential(RP, b"u", false, None, extra()).unwrap_err(),
        Status::PinNotSet
    );
    assert_eq!(fx.env.presence_requests(), 1);
    fx.set_pin("1234").unwrap();
    assert_eq!(
        fx.make_credential(RP, b"u", false, None, extra()).unwrap_err(),
        Status::PinInvalid
    );
    fx.env.script_presence(&[false]);
    assert_eq!(
        fx.make_credential(RP, b"u", false, None, extra()).unwrap_err(),
        Status::OperationDenied
    );
}

#[test]
fn protocol_checks() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    let param = Value::bytes(&auth_param(&token, &CDH));
    assert_eq!(
        fx.make_credential(RP, b"u", true, None, vec![(8, param.clone())])
            .unwrap_err(),
        Status::MissingParameter
    );
    assert_eq!(
        fx.make_credential(RP, b"u", true, None, vec![(8, param), (9, Value::Int(3))])
            .unwrap_err(),
        Status::InvalidParameter
    );
}

#[test]
fn parameter_errors() {
    let mut fx = Fixture::new();
    let before = fx.state_bytes();
    let cases: Vec<(Vec<(i128, Value)>, Status)> = vec![
        (
            vec![(
                4,
                Value::Array(vec![Value::text_map(vec![
                    ("alg", Value::Int(-257)),
                    ("type", Value::text("public-key")),
                ])]),
            )],
            Status::UnsupportedAlgorithm,
        ),
        (
            vec![(
                4,
                Value::Array(vec![Value::text_map(vec![("type", Value::text("public-key"))])]),
            )],
            Status::MissingParameter,
        ),
        (vec![(4, Value::Array(vec![Value::Int(1)]))], Status::CborUnexpectedType),
        (vec![(1, Value::text("hash"))], Status::CborUnexpectedType),
        (
            vec![(2, Value::text_map(vec![("name", Value::text("x"))]))],
            Status::MissingParameter,
        ),
        (
            vec![(2, Value::text_map(vec![("id", Value::Int(1))]))],
            Status::CborUnexpectedType,
        ),
        (
            vec![(3, Value::text_map(vec![("id", Value::bytes(&[0; 65]))]))],
            Status::InvalidLength,
        ),
        (
            vec![(3, Value::text_map(vec![("id", Value::text("u"))]))],
            Status::CborUnexpectedType,
        ),
        (
            vec![(
                5,
                Value::Array(vec![Value::text_map(vec![("type", Value::text("public-key"))])]),
            )],
            Status::MissingParameter,
        ),
        (
            vec![(6, Value::text_map(vec![("credProtect", Value::text("x"))]))],
            Status::CborUnexpectedType,
        ),
        (
            vec![(6, Value::text_map(vec![("credProtect", Value::Int(4))]))],
            Status::InvalidParameter,
        ),
        (
            vec![(7, Value::text_map(vec![("rk", Value::Int(1))]))],
            Status::CborUnexpectedType,
        ),
        (
            vec![(7, Value::text_map(vec![("up", Value::Bool(false))]))],
            Status::InvalidOption,
        ),
        (
            vec![(7, Value::text_map(vec![("uv", Value::Bool(true))]))],
            Status::InvalidOption,
        ),
        (vec![(0x0A, Value::Int(1))], Status::InvalidParameter),
    ];
    for (extra, expected) in cases {
        let got = fx.make_credential(RP, b"u", false, None, extra.clone()).unwrap_err();
        assert_eq!(got, expected, "{extra:?}");
    }
    for missing in [1, 2, 3, 4] {
        let mut params = vec![
            (1, Value::bytes(&CDH)),
            (2, Value::text_map(vec![("id", Value::text(RP))])),
            (3, Value::text_map(vec![("id", Value::bytes(b"u"))])),
            (4, Value::Array(vec![es256_param()])),
        ];
        params.retain(|(k, _)| *k != missing);
        assert_eq!(
            fx.call(0x01, params).unwrap_err(),
            Status::MissingParameter,
            "without {missing}"
        );
    }
    assert!(!fx.auth.take_dirty());
    assert_eq!(fx.state_bytes(), before);
}

#[test]
fn malformed_cbor_changes_nothing() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    fx.auth.take_dirty();
    let before = fx.state_bytes();
    let good = cbor::encode(&Value::int_map(vec![
        (1, Value::bytes(&CDH)),
        (2, Value::text_map(vec![("id", Value::text(RP))])),
        (3, Value::text_map(vec![("id", Value::bytes(b"u"))])),
        (4, Value::Array(vec![es256_param()])),
    ]));
    // Every truncation of a valid request is invalid CBOR.
    for n in 1..good.len() {
        let resp = fx.raw(&[&[0x01][..], &good[..n]].concat());
        assert_eq!(resp, [0x12], "truncated to {n}");
    }
    // Nesting deeper than any CTAP request: {5: [{"type": [[[1]]]}]}.
    let deep = [
        0xa1, 0x05, 0x81, 0xa1, 0x64, b't', b'y', b'p', b'e', 0x81, 0x81, 0x81, 0x01,
    ];
    assert_eq!(fx.raw(&[&[0x01][..], &deep].concat()), [0x12]);
    // Not a map.
    assert_eq!(fx.raw(&[0x01, 0x80]), [0x11]);
    // Empty request and unknown command.
    assert_eq!(fx.raw(&[]), [0x03]);
    assert_eq!(fx.raw(&[0x42]), [0x01]);
    assert!(!fx.auth.take_dirty());
    assert_eq!(fx.state_bytes(), before);
}

#[test]
fn exclude_list() {
    let mut fx = Fixture::new();
    let id = auth_data_of(&fx.make_credential(RP, b"u", false, None, vec![]).unwrap())
        .credential_id
        .unwrap();
    let touches = fx.env.presence_requests();
    let exclude = vec![(5, Value::Array(vec![descriptor(&[1, 2, 3]), descriptor(&id)]))];
    assert_eq!(
        fx.make_credential(RP, b"u", false, None, exclude.clone()).unwrap_err(),
        Status::CredentialExcluded
    );
    assert_eq!(fx.env.presence_requests(), touches + 1, "excluded only after a touch");
    // The same ID means nothing to another RP.
    fx.make_credential("other.example", b"u", false, None, exclude).unwrap();
}

#[test]
fn user_presence_denied() {
    let mut fx = Fixture::new();
    let before = fx.state_bytes();
    fx.env.script_presence(&[false]);
    assert_eq!(
        fx.make_credential(RP, b"u", true, None, vec![]).unwrap_err(),
        Status::OperationDenied
    );
    assert_eq!(fx.state_bytes(), before);
}

#[test]
fn key_store_full() {
    let mut fx = Fixture::new();
    for i in 0..crate::state::MAX_RESIDENT_CREDENTIALS {
        fx.make_credential(RP, format!("user-{i}").as_bytes(), true, None, vec![])
            .unwrap();
    }
    assert_eq!(
        fx.make_credential(RP, b"one-more", true, None, vec![]).unwrap_err(),
        Status::KeyStoreFull
    );
    // Replacing an existing user still works.
    fx.make_credential(RP, b"user-0", true, None, vec![]).unwrap();
}

#[test]
fn always_uv() {
    let mut fx = Fixture::new();
    fx.auth.state.always_uv = true;
    // CTAP 2.1 §6.1.2 step 6.2: not protected by any user verification, clientPin supported.
    assert_eq!(
        fx.make_credential(RP, b"u", false, None, vec![]).unwrap_err(),
        Status::PuatRequired
    );
    fx.set_pin("1234").unwrap();
    assert_eq!(
        fx.make_credential(RP, b"u", false, None, vec![]).unwrap_err(),
        Status::PuatRequired
    );
    let token = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    fx.make_credential(RP, b"u", false, Some(&token), vec![]).unwrap();
}

#[test]
fn extensions() {
    let mut fx = Fixture::new();
    let ext = Value::text_map(vec![
        ("credProtect", Value::Int(2)),
        ("hmac-secret", Value::Bool(true)),
        ("minPinLength", Value::Bool(true)),
        ("unknownExt", Value::text("ignored")),
    ]);
    let resp = fx
        .make_credential(RP, b"u", true, None, vec![(6, ext.clone())])
        .unwrap();
    let ad = auth_data_of(&resp);
    assert_eq!(ad.flags & 0x80, 0x80, "ED");
    let out = ad.extensions.unwrap();
    assert_eq!(out.get_text_key("credProtect"), Some(&Value::Int(2)));
    assert_eq!(out.get_text_key("hmac-secret"), Some(&Value::Bool(true)));
    assert_eq!(out.get_text_key("minPinLength"), None, "RP not on the allow-list");
    assert_eq!(fx.auth.state().credentials()[0].cred_protect, 2);
    fx.auth.state.min_pin_length_rp_ids = vec![RP.into()];
    let out = auth_data_of(&fx.make_credential(RP, b"u", true, None, vec![(6, ext)]).unwrap())
        .extensions
        .unwrap();
    assert_eq!(out.get_text_key("minPinLength"), Some(&Value::Int(4)));
}
