//! The credential algorithms (CTAP 2.1 §6.1.2 step 3), credBlob (§12.2), largeBlobKey (§12.3),
//! hmac-secret over protocol one (§12.5) and hmac-secret-mc (CTAP 2.2 §12.7), end to end through
//! makeCredential and getAssertion.

use p256::ecdsa::signature::Verifier;

use crate::Env;
use crate::cbor::Value;
use crate::crypto::{self, Alg};
use crate::pin_protocol::{KeyAgreementKey, Protocol, SharedSecret};
use crate::state::State;
use crate::status::Status;
use crate::test_support::*;
use crate::token::{PERM_GA, PERM_MC};

fn params(algs: &[i128]) -> Value {
    Value::Array(
        algs.iter()
            .map(|a| Value::text_map(vec![("alg", Value::Int(*a)), ("type", Value::text("public-key"))]))
            .collect(),
    )
}

fn ext(entries: Vec<(&str, Value)>) -> (i128, Value) {
    (6, Value::text_map(entries))
}

/// Verifies a signature made by a credential whose COSE_Key is `cose`.
fn verify(cose: &Value, message: &[u8], sig: &[u8]) -> bool {
    let bytes = |k: i128| cose.get_int_key(k).unwrap().as_bytes().unwrap().to_vec();
    match cose.get_int_key(3).unwrap().as_int().unwrap() {
        -7 => {
            let point: [u8; 65] = [&[4u8][..], &bytes(-2), &bytes(-3)].concat().try_into().unwrap();
            verify_es256(&point, message, sig)
        }
        -8 => {
            assert_eq!(cose.get_int_key(1), Some(&Value::Int(1)), "OKP");
            assert_eq!(cose.get_int_key(-1), Some(&Value::Int(6)), "Ed25519");
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes(-2).try_into().unwrap()).unwrap();
            let sig = ed25519_dalek::Signature::from_slice(sig).unwrap();
            key.verify(message, &sig).is_ok()
        }
        -35 => {
            assert_eq!(cose.get_int_key(-1), Some(&Value::Int(2)), "P-384");
            let point = [&[4u8][..], &bytes(-2), &bytes(-3)].concat();
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
            let sig = p384::ecdsa::Signature::from_der(sig).unwrap();
            key.verify(message, &sig).is_ok()
        }
        other => panic!("unexpected alg {other}"),
    }
}

#[test]
fn each_algorithm_makes_and_asserts() {
    for (alg, rk) in [
        (-7, false),
        (-8, false),
        (-35, false),
        (-7, true),
        (-8, true),
        (-35, true),
    ] {
        let mut fx = Fixture::new();
        let resp = fx
            .make_credential(RP, b"u", rk, None, vec![(4, params(&[alg]))])
            .unwrap();
        let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
        let cose = ad.cose_key.unwrap();
        assert_eq!(cose.get_int_key(3), Some(&Value::Int(alg)));
        let id = ad.credential_id.unwrap();
        assert!(id.len() <= 128, "maxCredentialIdLength");
        let a = fx
            .get_assertion(RP, Some(std::slice::from_ref(&id)), None, vec![])
            .unwrap();
        let auth_data = a.get_int_key(2).unwrap().as_bytes().unwrap();
        let sig = a.get_int_key(3).unwrap().as_bytes().unwrap();
        assert!(verify(&cose, &[auth_data, &CDH].concat(), sig), "alg {alg} rk {rk}");
        // The batch attestation is ES256 whatever the credential's algorithm.
        assert_eq!(resp.get_int_key(3).unwrap().get_text_key("alg"), Some(&Value::Int(-7)));
    }
}

#[test]
fn the_first_supported_algorithm_wins() {
    // §6.1.2 step 3: pubKeyCredParams is in the RP's order of preference.
    let mut fx = Fixture::new();
    for (list, want) in [
        (vec![-257, -35, -7], -35),
        (vec![-8, -7], -8),
        (vec![-36, -257, -7], -7),
    ] {
        let resp = fx
            .make_credential(RP, b"u", false, None, vec![(4, params(&list))])
            .unwrap();
        let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
        assert_eq!(ad.cose_key.unwrap().get_int_key(3), Some(&Value::Int(want)), "{list:?}");
    }
    assert_eq!(
        fx.make_credential(RP, b"u", false, None, vec![(4, params(&[-36, -257]))])
            .unwrap_err(),
        Status::UnsupportedAlgorithm,
        "ES512 and RS256 are not offered"
    );
}

#[test]
fn self_attestation_signs_with_the_credential_algorithm() {
    let mut fx = Fixture::new();
    fx.auth.state.attestation.cert_chain_der.clear();
    let resp = fx
        .make_credential(RP, b"u", false, None, vec![(4, params(&[-8]))])
        .unwrap();
    let raw = resp.get_int_key(2).unwrap().as_bytes().unwrap();
    let cose = parse_auth_data(raw).cose_key.unwrap();
    let stmt = resp.get_int_key(3).unwrap();
    assert_eq!(stmt.get_text_key("alg"), Some(&Value::Int(-8)));
    assert!(verify(
        &cose,
        &[raw, &CDH].concat(),
        stmt.get_text_key("sig").unwrap().as_bytes().unwrap()
    ));
}

#[test]
fn credential_management_reports_the_right_public_key() {
    let mut fx = Fixture::new();
    let resp = fx
        .make_credential(RP, b"u", true, None, vec![(4, params(&[-35]))])
        .unwrap();
    let cose = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap())
        .cose_key
        .unwrap();
    let stored = &fx.auth.state().credentials()[0];
    assert_eq!(stored.alg, Alg::Es384);
    assert_eq!(Alg::Es384.cose_public_key(&stored.private_key), Some(cose));
}

#[test]
fn old_wrapped_credential_ids_still_open() {
    // Format 1 (before EdDSA/ES384/credBlob): 0x01 ‖ AES-256-GCM(key ‖ credProtect ‖ flags).
    let mut fx = Fixture::new();
    let key = crypto::new_p256_scalar(fx.env.rng());
    let rp_hash = crypto::sha256(RP.as_bytes());
    let plain = [key.as_slice(), &[1, 0]].concat();
    let sealed = crypto::aead_seal(&fx.auth.state.wrap_key, fx.env.rng(), &rp_hash, &plain);
    let id = [&[0x01u8][..], &sealed].concat();
    let a = fx
        .get_assertion(RP, Some(std::slice::from_ref(&id)), None, vec![])
        .unwrap();
    let auth_data = a.get_int_key(2).unwrap().as_bytes().unwrap();
    let point = crypto::public_point(&key).unwrap();
    assert!(verify_es256(
        &point,
        &[auth_data, &CDH].concat(),
        a.get_int_key(3).unwrap().as_bytes().unwrap()
    ));
}

#[test]
fn cred_blob_is_stored_and_returned() {
    for rk in [true, false] {
        let mut fx = Fixture::new();
        let blob = [0x5au8; 32];
        let resp = fx
            .make_credential(RP, b"u", rk, None, vec![ext(vec![("credBlob", Value::bytes(&blob))])])
            .unwrap();
        let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
        assert_eq!(
            ad.extensions.unwrap().get_text_key("credBlob"),
            Some(&Value::Bool(true))
        );
        let id = ad.credential_id.unwrap();
        let a = fx
            .get_assertion(
                RP,
                Some(std::slice::from_ref(&id)),
                None,
                vec![(4, Value::text_map(vec![("credBlob", Value::Bool(true))]))],
            )
            .unwrap();
        let ad = parse_auth_data(a.get_int_key(2).unwrap().as_bytes().unwrap());
        assert_eq!(
            ad.extensions.unwrap().get_text_key("credBlob"),
            Some(&Value::bytes(&blob)),
            "rk {rk}"
        );
        // Not asked: not returned.
        let a = fx
            .get_assertion(RP, Some(std::slice::from_ref(&id)), None, vec![])
            .unwrap();
        assert!(
            parse_auth_data(a.get_int_key(2).unwrap().as_bytes().unwrap())
                .extensions
                .is_none()
        );
    }
}

#[test]
fn an_oversized_cred_blob_is_refused_quietly() {
    // §12.2: more than maxCredBlobLength → not stored, output false; getCredBlob then gives an
    // empty byte string.
    let mut fx = Fixture::new();
    let resp = fx
        .make_credential(
            RP,
            b"u",
            true,
            None,
            vec![ext(vec![("credBlob", Value::bytes(&[1; 33]))])],
        )
        .unwrap();
    let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
    assert_eq!(
        ad.extensions.unwrap().get_text_key("credBlob"),
        Some(&Value::Bool(false))
    );
    assert_eq!(fx.auth.state().credentials()[0].cred_blob, None);
    let a = fx
        .get_assertion(
            RP,
            None,
            None,
            vec![(4, Value::text_map(vec![("credBlob", Value::Bool(true))]))],
        )
        .unwrap();
    let ad = parse_auth_data(a.get_int_key(2).unwrap().as_bytes().unwrap());
    assert_eq!(
        ad.extensions.unwrap().get_text_key("credBlob"),
        Some(&Value::bytes(&[]))
    );
    assert_eq!(
        fx.make_credential(RP, b"u", true, None, vec![ext(vec![("credBlob", Value::Bool(true))])])
            .unwrap_err(),
        Status::CborUnexpectedType
    );
}

#[test]
fn large_blob_key_for_discoverable_credentials() {
    let mut fx = Fixture::new();
    let lbk = || ext(vec![("largeBlobKey", Value::Bool(true))]);
    let resp = fx.make_credential(RP, b"u", true, None, vec![lbk()]).unwrap();
    let key = resp.get_int_key(5).unwrap().as_bytes().unwrap().to_vec();
    assert_eq!(key.len(), 32);
    assert!(
        parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap())
            .extensions
            .is_none(),
        "no authData output"
    );
    let a = fx
        .get_assertion(
            RP,
            None,
            None,
            vec![(4, Value::text_map(vec![("largeBlobKey", Value::Bool(true))]))],
        )
        .unwrap();
    assert_eq!(
        a.get_int_key(7),
        Some(&Value::bytes(&key)),
        "getAssertion 0x07 largeBlobKey"
    );
    let a = fx.get_assertion(RP, None, None, vec![]).unwrap();
    assert_eq!(a.get_int_key(7), None);
    // Non-discoverable, or false: CTAP2_ERR_INVALID_OPTION.
    assert_eq!(
        fx.make_credential(RP, b"v", false, None, vec![lbk()]).unwrap_err(),
        Status::InvalidOption
    );
    assert_eq!(
        fx.make_credential(
            RP,
            b"v",
            true,
            None,
            vec![ext(vec![("largeBlobKey", Value::Bool(false))])]
        )
        .unwrap_err(),
        Status::InvalidOption
    );
    // Two credentials, two keys.
    let other = fx.make_credential(RP, b"w", true, None, vec![lbk()]).unwrap();
    assert_ne!(other.get_int_key(5).unwrap().as_bytes().unwrap(), key.as_slice());
}

fn salt_input(fx: &mut Fixture, protocol: Protocol, salts: &[u8], with_protocol: bool) -> (Value, SharedSecret) {
    let n = Value::Int(protocol.number().into());
    let theirs = fx
        .call(0x06, vec![(1, n.clone()), (2, Value::Int(2))])
        .unwrap()
        .get_int_key(1)
        .unwrap()
        .clone();
    let mine = KeyAgreementKey::generate(fx.env.rng());
    let shared = mine.decapsulate_with(protocol, &theirs).unwrap();
    let salt_enc = shared.encrypt(fx.env.rng(), salts);
    let salt_auth = shared.authenticate(&salt_enc);
    let mut m = vec![
        (1, mine.public_cose()),
        (2, Value::Bytes(salt_enc)),
        (3, Value::Bytes(salt_auth)),
    ];
    if with_protocol {
        m.push((4, n));
    }
    (Value::int_map(m), shared)
}

#[test]
fn hmac_secret_over_protocol_one() {
    // §12.5: an absent pinUvAuthProtocol means protocol one.
    for with_protocol in [true, false] {
        let mut fx = Fixture::new();
        let resp = fx
            .make_credential(
                RP,
                b"u",
                false,
                None,
                vec![ext(vec![("hmac-secret", Value::Bool(true))])],
            )
            .unwrap();
        let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
        let id = ad.credential_id.unwrap();
        let (input, shared) = salt_input(&mut fx, Protocol::One, &[3u8; 32], with_protocol);
        let a = fx
            .get_assertion(
                RP,
                Some(std::slice::from_ref(&id)),
                None,
                vec![(4, Value::text_map(vec![("hmac-secret", input)]))],
            )
            .unwrap();
        let ad = parse_auth_data(a.get_int_key(2).unwrap().as_bytes().unwrap());
        let enc = ad
            .extensions
            .unwrap()
            .get_text_key("hmac-secret")
            .unwrap()
            .as_bytes()
            .unwrap()
            .to_vec();
        assert_eq!(enc.len(), 32, "protocol one sends no IV");
        assert_eq!(shared.decrypt(&enc).unwrap().len(), 32);
    }
}

#[test]
fn hmac_secret_mc_matches_the_later_assertion() {
    // hmac-secret-mc (CTAP 2.2 §12.7, WebAuthn PRF at creation): the outputs at registration equal
    // those of a getAssertion with the same salts and the same UV state.
    for protocol in [Protocol::Two, Protocol::One] {
        let mut fx = Fixture::new();
        fx.set_pin("1234").unwrap();
        let salts = [[1u8; 32], [2u8; 32]].concat();
        let (mc_input, mc_shared) = salt_input(&mut fx, protocol, &salts, true);
        let token = fx
            .pin_token_with(protocol, "1234", PERM_MC | PERM_GA, Some(RP))
            .unwrap();
        let param = protocol.authenticate(&token, &CDH);
        let resp = fx
            .make_credential(
                RP,
                b"u",
                false,
                None,
                vec![
                    ext(vec![("hmac-secret", Value::Bool(true)), ("hmac-secret-mc", mc_input)]),
                    (8, Value::Bytes(param)),
                    (9, Value::Int(protocol.number().into())),
                ],
            )
            .unwrap();
        let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
        assert_eq!(ad.flags & 0x04, 0x04, "UV");
        let exts = ad.extensions.unwrap();
        assert_eq!(exts.get_text_key("hmac-secret"), Some(&Value::Bool(true)));
        let at_mc = mc_shared
            .decrypt(exts.get_text_key("hmac-secret-mc").unwrap().as_bytes().unwrap())
            .unwrap();
        assert_eq!(at_mc.len(), 64);
        let id = ad.credential_id.unwrap();
        // The same salts at getAssertion, with UV (a fresh token).
        let token = fx.pin_token_with(protocol, "1234", PERM_GA, Some(RP)).unwrap();
        let (ga_input, ga_shared) = salt_input(&mut fx, protocol, &salts, true);
        let a = fx
            .get_assertion(
                RP,
                Some(std::slice::from_ref(&id)),
                None,
                vec![
                    (4, Value::text_map(vec![("hmac-secret", ga_input)])),
                    (6, Value::Bytes(protocol.authenticate(&token, &CDH))),
                    (7, Value::Int(protocol.number().into())),
                ],
            )
            .unwrap();
        let ad = parse_auth_data(a.get_int_key(2).unwrap().as_bytes().unwrap());
        let at_ga = ga_shared
            .decrypt(
                ad.extensions
                    .unwrap()
                    .get_text_key("hmac-secret")
                    .unwrap()
                    .as_bytes()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(at_mc.as_slice(), at_ga.as_slice(), "{protocol:?}");
    }
}

#[test]
fn a_bad_hmac_secret_mc_input_creates_nothing() {
    let mut fx = Fixture::new();
    let (mut input, _) = salt_input(&mut fx, Protocol::Two, &[1u8; 32], true);
    if let Value::Map(m) = &mut input {
        m[2].1 = Value::bytes(&[0u8; 32]); // saltAuth
    }
    let before = fx.state_bytes();
    let e = ext(vec![("hmac-secret", Value::Bool(true)), ("hmac-secret-mc", input)]);
    assert_eq!(
        fx.make_credential(RP, b"u", true, None, vec![e]).unwrap_err(),
        Status::PinAuthInvalid
    );
    assert_eq!(fx.state_bytes(), before);
    assert_eq!(fx.env.presence_requests(), 0, "refused before the touch");
}

#[test]
fn protocol_one_tokens_authorize_make_credential_and_get_assertion() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let token = fx
        .pin_token_with(Protocol::One, "1234", PERM_MC | PERM_GA, Some(RP))
        .unwrap();
    let param = Protocol::One.authenticate(&token, &CDH);
    assert_eq!(param.len(), 16, "protocol one: LEFT(HMAC, 16)");
    // A 32-byte (protocol two) param under protocol one does not verify.
    assert_eq!(
        fx.make_credential(
            RP,
            b"u",
            true,
            None,
            vec![(8, Value::bytes(&auth_param(&token, &CDH))), (9, Value::Int(1))]
        )
        .unwrap_err(),
        Status::PinAuthInvalid
    );
    let resp = fx
        .make_credential(
            RP,
            b"u",
            true,
            None,
            vec![(8, Value::Bytes(param.clone())), (9, Value::Int(1))],
        )
        .unwrap();
    let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
    assert_eq!(ad.flags & 0x05, 0x05, "UP and UV");
}

#[test]
fn protocol_one_pin_management() {
    // setPIN, changePIN and getPinToken over protocol one (§6.5.6).
    let mut fx = Fixture::new();
    let p = fx.platform_with(Protocol::One);
    let new_pin_enc = p.shared.encrypt(fx.env.rng(), &pad_pin("1234"));
    assert_eq!(new_pin_enc.len(), 64, "no IV");
    let param = p.shared.authenticate(&new_pin_enc);
    fx.call(
        0x06,
        vec![
            (1, Value::Int(1)),
            (2, Value::Int(3)),
            (3, p.cose.clone()),
            (4, Value::Bytes(param)),
            (5, Value::Bytes(new_pin_enc)),
        ],
    )
    .unwrap();
    assert!(fx.auth.state().pin_is_set());
    let p = fx.platform_with(Protocol::One);
    let pin_hash_enc = p.shared.encrypt(fx.env.rng(), &pin_hash("1234"));
    let r = fx
        .call(
            0x06,
            vec![
                (1, Value::Int(1)),
                (2, Value::Int(5)),
                (3, p.cose.clone()),
                (6, Value::Bytes(pin_hash_enc)),
            ],
        )
        .unwrap();
    assert_eq!(
        r.get_int_key(2).unwrap().as_bytes().unwrap().len(),
        32,
        "the token, encrypted without IV"
    );
    // A wrong PIN over protocol one counts down like any other.
    assert_eq!(
        fx.pin_token_with(Protocol::One, "9999", PERM_GA, Some(RP)).unwrap_err(),
        Status::PinInvalid
    );
    assert_eq!(fx.auth.state().pin_retries(), 7);
}

#[test]
fn a_state_with_every_algorithm_round_trips() {
    let mut fx = Fixture::new();
    for (i, alg) in [-7, -8, -35].into_iter().enumerate() {
        let blob = vec![i as u8; 8];
        fx.make_credential(
            RP,
            &[i as u8],
            true,
            None,
            vec![(4, params(&[alg])), ext(vec![("credBlob", Value::Bytes(blob))])],
        )
        .unwrap();
    }
    let bytes = fx.state_bytes();
    let back = State::from_bytes(&bytes).unwrap();
    assert_eq!(&back, fx.auth.state());
    let algs: Vec<Alg> = back.credentials().iter().map(|c| c.alg).collect();
    assert_eq!(algs, [Alg::Es256, Alg::EdDsa, Alg::Es384]);
}
