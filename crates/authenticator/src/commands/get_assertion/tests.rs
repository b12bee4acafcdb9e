use crate::cbor::Value;
use crate::env::Env;
use crate::pin_protocol::KeyAgreementKey;
use crate::status::Status;
use crate::test_support::*;

fn new_credential(fx: &mut Fixture, user: &[u8], rk: bool, extra: Vec<(i128, Value)>) -> (Vec<u8>, [u8; 65]) {
    let resp = fx.make_credential(RP, user, rk, None, extra).unwrap();
    let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
    (ad.credential_id.unwrap(), ad.public_key.unwrap())
}

fn check_signature(resp: &Value, public_key: &[u8; 65]) -> AuthData {
    let auth_data = resp.get_int_key(2).unwrap().as_bytes().unwrap();
    let sig = resp.get_int_key(3).unwrap().as_bytes().unwrap();
    assert!(verify_es256(public_key, &[auth_data, &CDH].concat(), sig));
    parse_auth_data(auth_data)
}

#[test]
fn allow_list_assertion_verifies() {
    let mut fx = Fixture::new();
    let (id, pk) = new_credential(&mut fx, b"u", false, vec![]);
    let resp = fx
        .get_assertion(RP, Some(&[vec![9; 16], id.clone()]), None, vec![])
        .unwrap();
    let ad = check_signature(&resp, &pk);
    assert_eq!(ad.flags, 0x01, "UP only");
    assert_eq!(
        resp.get_int_key(1).unwrap().get_text_key("id"),
        Some(&Value::bytes(&id))
    );
    assert!(
        resp.get_int_key(4).is_none(),
        "no user for a non-discoverable credential"
    );
    assert!(resp.get_int_key(5).is_none());
    // The counter moves on every assertion.
    let again = fx.get_assertion(RP, Some(&[id]), None, vec![]).unwrap();
    assert!(check_signature(&again, &pk).sign_count > ad.sign_count);
}

#[test]
fn no_credentials() {
    let mut fx = Fixture::new();
    let (id, _) = new_credential(&mut fx, b"u", false, vec![]);
    assert_eq!(
        fx.get_assertion("other.example", Some(&[id]), None, vec![])
            .unwrap_err(),
        Status::NoCredentials
    );
    assert_eq!(
        fx.get_assertion(RP, None, None, vec![]).unwrap_err(),
        Status::NoCredentials
    );
    assert_eq!(
        fx.get_assertion(RP, Some(&[vec![1; 63]]), None, vec![]).unwrap_err(),
        Status::NoCredentials
    );
    assert_eq!(fx.env.presence_requests(), 1, "no touch when nothing matches");
}

#[test]
fn discoverable_newest_first_with_get_next_assertion() {
    let mut fx = Fixture::new();
    let (_, pk1) = new_credential(&mut fx, b"user-1", true, vec![]);
    let (_, pk2) = new_credential(&mut fx, b"user-2", true, vec![]);
    let (_, pk3) = new_credential(&mut fx, b"user-3", true, vec![]);
    let first = fx.get_assertion(RP, None, None, vec![]).unwrap();
    check_signature(&first, &pk3);
    assert_eq!(first.get_int_key(5), Some(&Value::Int(3)));
    let user = first.get_int_key(4).unwrap();
    assert_eq!(user.get_text_key("id"), Some(&Value::bytes(b"user-3")));
    assert!(user.get_text_key("name").is_none(), "no user details without UV");
    let second = fx.call(0x08, vec![]).unwrap();
    check_signature(&second, &pk2);
    assert!(second.get_int_key(5).is_none());
    let third = fx.call(0x08, vec![]).unwrap();
    check_signature(&third, &pk1);
    assert_eq!(fx.call(0x08, vec![]).unwrap_err(), Status::NotAllowed);
}

#[test]
fn user_details_after_uv() {
    let mut fx = Fixture::new();
    new_credential(&mut fx, b"user-1", true, vec![]);
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x02, Some(RP)).unwrap();
    let resp = fx.get_assertion(RP, None, Some(&token), vec![]).unwrap();
    assert_eq!(
        parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap()).flags,
        0x05
    );
    let user = resp.get_int_key(4).unwrap();
    assert_eq!(user.get_text_key("name"), Some(&Value::text("alice@example.com")));
    assert_eq!(user.get_text_key("displayName"), Some(&Value::text("Alice")));
}

#[test]
fn silent_preflight_keeps_the_token() {
    // python-fido2 filters an allow/exclude list with up=false using the same token it then
    // uses for the real request.
    let mut fx = Fixture::new();
    let (id, pk) = new_credential(&mut fx, b"u", false, vec![]);
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x01 | 0x02, Some(RP)).unwrap();
    let touches = fx.env.presence_requests();
    let up_false = vec![(5, Value::text_map(vec![("up", Value::Bool(false))]))];
    let silent = fx
        .get_assertion(RP, Some(std::slice::from_ref(&id)), Some(&token), up_false.clone())
        .unwrap();
    assert_eq!(check_signature(&silent, &pk).flags, 0x04, "UV without UP");
    assert_eq!(fx.env.presence_requests(), touches, "silent");
    assert_eq!(
        fx.get_assertion(RP, Some(&[vec![7; 40]]), Some(&token), up_false)
            .unwrap_err(),
        Status::NoCredentials
    );
    let real = fx
        .get_assertion(RP, Some(std::slice::from_ref(&id)), Some(&token), vec![])
        .unwrap();
    assert_eq!(check_signature(&real, &pk).flags, 0x05);
    // Used with presence: spent.
    assert_eq!(
        fx.get_assertion(RP, Some(&[id]), Some(&token), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
}

#[test]
fn token_rules() {
    let mut fx = Fixture::new();
    let (id, _) = new_credential(&mut fx, b"u", false, vec![]);
    fx.set_pin("1234").unwrap();
    let mc_only = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&id)), Some(&mc_only), vec![])
            .unwrap_err(),
        Status::PinAuthInvalid
    );
    let other = fx.pin_token("1234", 0x02, Some("other.example")).unwrap();
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&id)), Some(&other), vec![])
            .unwrap_err(),
        Status::PinAuthInvalid
    );
    let zero = vec![(6, Value::bytes(&[])), (7, Value::Int(2))];
    assert_eq!(fx.get_assertion(RP, None, None, zero).unwrap_err(), Status::PinInvalid);
    assert_eq!(
        fx.get_assertion(
            RP,
            Some(std::slice::from_ref(&id)),
            None,
            vec![(6, Value::bytes(&[1; 32]))]
        )
        .unwrap_err(),
        Status::MissingParameter
    );
    // Without a token the PIN-protected key still asserts, without UV.
    fx.get_assertion(RP, Some(&[id]), None, vec![]).unwrap();
}

#[test]
fn options_and_parameters() {
    let mut fx = Fixture::new();
    let (id, _) = new_credential(&mut fx, b"u", false, vec![]);
    fx.auth.take_dirty();
    let before = fx.state_bytes();
    let opts = |k: &str| vec![(5, Value::text_map(vec![(k, Value::Bool(true))]))];
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&id)), None, opts("rk"))
            .unwrap_err(),
        Status::UnsupportedOption
    );
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&id)), None, opts("uv"))
            .unwrap_err(),
        Status::InvalidOption
    );
    assert_eq!(
        fx.call(0x02, vec![(1, Value::text(RP))]).unwrap_err(),
        Status::MissingParameter
    );
    assert_eq!(
        fx.call(0x02, vec![(2, Value::bytes(&CDH))]).unwrap_err(),
        Status::MissingParameter
    );
    assert_eq!(
        fx.call(0x02, vec![(1, Value::bytes(b"rp")), (2, Value::bytes(&CDH))])
            .unwrap_err(),
        Status::CborUnexpectedType
    );
    assert_eq!(
        fx.get_assertion(RP, None, None, vec![(3, Value::Int(0))]).unwrap_err(),
        Status::CborUnexpectedType
    );
    assert_eq!(
        fx.get_assertion(RP, None, None, vec![(4, Value::Int(0))]).unwrap_err(),
        Status::CborUnexpectedType
    );
    fx.env.script_presence(&[false]);
    assert_eq!(
        fx.get_assertion(RP, Some(&[id]), None, vec![]).unwrap_err(),
        Status::OperationDenied
    );
    assert!(!fx.auth.take_dirty());
    assert_eq!(fx.state_bytes(), before);
}

#[test]
fn cred_protect_is_enforced() {
    let mut fx = Fixture::new();
    let level = |n| vec![(6, Value::text_map(vec![("credProtect", Value::Int(n))]))];
    let (id2, _) = new_credential(&mut fx, b"two", true, level(2));
    let (id3, _) = new_credential(&mut fx, b"three", true, level(3));
    let (nr3, _) = new_credential(&mut fx, b"nr", false, level(3));
    // Without UV: level 2 only through the allowList, level 3 never.
    assert_eq!(
        fx.get_assertion(RP, None, None, vec![]).unwrap_err(),
        Status::NoCredentials
    );
    fx.get_assertion(RP, Some(std::slice::from_ref(&id2)), None, vec![])
        .unwrap();
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&id3)), None, vec![])
            .unwrap_err(),
        Status::NoCredentials
    );
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&nr3)), None, vec![])
            .unwrap_err(),
        Status::NoCredentials
    );
    // With UV everything is found.
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x02, Some(RP)).unwrap();
    let resp = fx.get_assertion(RP, None, Some(&token), vec![]).unwrap();
    assert_eq!(resp.get_int_key(5), Some(&Value::Int(2)));
    let token = fx.pin_token("1234", 0x02, Some(RP)).unwrap();
    fx.get_assertion(RP, Some(&[nr3]), Some(&token), vec![]).unwrap();
}

#[test]
fn always_uv_without_any_user_verification_is_puat_required() {
    // CTAP 2.1 §6.2.2 step 5: not protected, clientPin supported → CTAP2_ERR_PUAT_REQUIRED.
    let mut fx = Fixture::new();
    let (id, _) = new_credential(&mut fx, b"u", false, vec![]);
    fx.auth.state.always_uv = true;
    assert_eq!(
        fx.get_assertion(RP, Some(&[id]), None, vec![]).unwrap_err(),
        Status::PuatRequired
    );
}

#[test]
fn always_uv_uses_the_worn_bands_built_in_uv() {
    // CTAP 2.1 §6.2.2 step 5: "uv" false with an enabled built-in UV method → treated as true.
    let mut fx = Fixture::model("band");
    let (id, _) = new_credential(&mut fx, b"u", false, vec![]);
    fx.set_pin("1234").unwrap();
    fx.auth.band_wear().unwrap();
    let good = [crate::CaptureQuality::Good; 15];
    fx.auth.band_enrol_finger(&mut fx.env, &good).unwrap();
    fx.auth.state.always_uv = true;
    let resp = fx
        .get_assertion(RP, Some(std::slice::from_ref(&id)), None, vec![])
        .unwrap();
    let auth_data = resp.get_int_key(2).unwrap().as_bytes().unwrap();
    assert_eq!(auth_data[32] & 0x05, 0x05, "UP and UV");
    fx.auth.band_take_off().unwrap();
    assert_eq!(
        fx.get_assertion(RP, Some(&[id]), None, vec![]).unwrap_err(),
        Status::OperationDenied
    );
}

#[test]
fn always_uv_requires_uv_except_for_silent_requests() {
    let mut fx = Fixture::new();
    let (id, _) = new_credential(&mut fx, b"u", false, vec![]);
    fx.set_pin("1234").unwrap();
    fx.auth.state.always_uv = true;
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&id)), None, vec![])
            .unwrap_err(),
        Status::PuatRequired
    );
    let up_false = vec![(5, Value::text_map(vec![("up", Value::Bool(false))]))];
    fx.get_assertion(RP, Some(&[id]), None, up_false).unwrap();
}

fn hmac_input(fx: &mut Fixture, salts: &[u8]) -> (Value, crate::pin_protocol::SharedSecret) {
    let auth_key = fx
        .call(0x06, vec![(1, Value::Int(2)), (2, Value::Int(2))])
        .unwrap()
        .get_int_key(1)
        .unwrap()
        .clone();
    let mine = KeyAgreementKey::generate(fx.env.rng());
    let shared = mine.decapsulate(&auth_key).unwrap();
    let salt_enc = shared.encrypt(fx.env.rng(), salts);
    let salt_auth = shared.authenticate(&salt_enc);
    let input = Value::int_map(vec![
        (1, mine.public_cose()),
        (2, Value::Bytes(salt_enc)),
        (3, Value::bytes(&salt_auth)),
        (4, Value::Int(2)),
    ]);
    (Value::text_map(vec![("hmac-secret", input)]), shared)
}

#[test]
fn hmac_secret() {
    let mut fx = Fixture::new();
    let ext = vec![(6, Value::text_map(vec![("hmac-secret", Value::Bool(true))]))];
    let (id, _) = new_credential(&mut fx, b"u", false, ext);
    let salts = [[1u8; 32], [2u8; 32]].concat();
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let (input, shared) = hmac_input(&mut fx, &salts);
        let resp = fx
            .get_assertion(RP, Some(std::slice::from_ref(&id)), None, vec![(4, input)])
            .unwrap();
        let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
        assert_eq!(ad.flags & 0x80, 0x80);
        let enc = ad
            .extensions
            .unwrap()
            .get_text_key("hmac-secret")
            .unwrap()
            .as_bytes()
            .unwrap()
            .to_vec();
        assert_eq!(enc.len(), 16 + 64);
        outputs.push(shared.decrypt(&enc).unwrap().to_vec());
    }
    assert_eq!(outputs[0], outputs[1], "same credential, same salts, same outputs");
    assert_ne!(outputs[0][..32], outputs[0][32..]);
    // With UV the outputs differ (CredRandomWithUV).
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x02, Some(RP)).unwrap();
    let (input, shared) = hmac_input(&mut fx, &salts[..32]);
    let resp = fx
        .get_assertion(RP, Some(std::slice::from_ref(&id)), Some(&token), vec![(4, input)])
        .unwrap();
    let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
    let enc = ad
        .extensions
        .unwrap()
        .get_text_key("hmac-secret")
        .unwrap()
        .as_bytes()
        .unwrap()
        .to_vec();
    let uv_output = shared.decrypt(&enc).unwrap().to_vec();
    assert_eq!(uv_output.len(), 32);
    assert_ne!(uv_output, outputs[0][..32]);
}

#[test]
fn hmac_secret_errors() {
    let mut fx = Fixture::new();
    let ext = vec![(6, Value::text_map(vec![("hmac-secret", Value::Bool(true))]))];
    let (id, _) = new_credential(&mut fx, b"u", false, ext);
    let (mut input, _) = hmac_input(&mut fx, &[1u8; 32]);
    if let Value::Map(m) = &mut input
        && let Value::Map(inner) = &mut m[0].1
    {
        inner[2].1 = Value::bytes(&[0; 32]);
    }
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&id)), None, vec![(4, input)])
            .unwrap_err(),
        Status::PinAuthInvalid
    );
    // CTAP 2.1 §12.5: salts that are not 32 or 64 bytes are CTAP1_ERR_INVALID_PARAMETER.
    let (input, _) = hmac_input(&mut fx, &[1u8; 48]);
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&id)), None, vec![(4, input)])
            .unwrap_err(),
        Status::InvalidParameter
    );
    let (mut input, _) = hmac_input(&mut fx, &[1u8; 32]);
    if let Value::Map(m) = &mut input
        && let Value::Map(inner) = &mut m[0].1
    {
        inner.pop();
    }
    assert_eq!(
        fx.get_assertion(RP, Some(std::slice::from_ref(&id)), None, vec![(4, input)])
            .unwrap_err(),
        Status::PinAuthInvalid,
        "absent pinUvAuthProtocol means protocol one, which is not supported"
    );
    let (mut input, _) = hmac_input(&mut fx, &[1u8; 32]);
    if let Value::Map(m) = &mut input
        && let Value::Map(inner) = &mut m[0].1
    {
        inner[3].1 = Value::Int(3);
    }
    assert_eq!(
        fx.get_assertion(RP, Some(&[id]), None, vec![(4, input)]).unwrap_err(),
        Status::InvalidParameter,
        "an unknown protocol"
    );
}

#[test]
fn u2f_registrations_work_over_ctap2() {
    let mut fx = Fixture::new();
    let app = crate::crypto::sha256(RP.as_bytes());
    let reg = fx
        .auth
        .u2f(&mut fx.env, 0x01, 0x03, 0x00, &[[0u8; 32], app].concat())
        .unwrap();
    let handle = reg[67..67 + usize::from(reg[66])].to_vec();
    let pk: [u8; 65] = reg[1..66].try_into().unwrap();
    let resp = fx.get_assertion(RP, Some(&[handle]), None, vec![]).unwrap();
    check_signature(&resp, &pk);
}
