use super::*;
use crate::test_support::*;

const CHALLENGE: [u8; 32] = [0x11; 32];

fn app() -> [u8; 32] {
    crypto::sha256(b"https://example.com")
}

fn register(fx: &mut Fixture) -> (Vec<u8>, [u8; 65]) {
    let resp = fx
        .auth
        .u2f(&mut fx.env, 0x01, 0x03, 0, &[CHALLENGE, app()].concat())
        .unwrap();
    assert_eq!(resp[0], 0x05);
    let pk: [u8; 65] = resp[1..66].try_into().unwrap();
    let handle = resp[67..67 + usize::from(resp[66])].to_vec();
    let rest = &resp[67 + handle.len()..];
    assert_eq!(&rest[..batch_cert().len()], batch_cert());
    let sig = &rest[batch_cert().len()..];
    let signed = [&[0u8][..], &app(), &CHALLENGE, &handle, &pk].concat();
    assert!(verify_es256(&attestation_public_key(), &signed, sig));
    (handle, pk)
}

fn auth_request(handle: &[u8], application: [u8; 32]) -> Vec<u8> {
    [&CHALLENGE[..], &application, &[handle.len() as u8], handle].concat()
}

#[test]
fn register_and_authenticate() {
    let mut fx = Fixture::new();
    let (handle, pk) = register(&mut fx);
    let resp = fx
        .auth
        .u2f(&mut fx.env, 0x02, 0x03, 0, &auth_request(&handle, app()))
        .unwrap();
    assert_eq!(resp[0], 0x01);
    let signed = [&app()[..], &resp[..5], &CHALLENGE].concat();
    assert!(verify_es256(&pk, &signed, &resp[5..]));
    let counter = u32::from_be_bytes(resp[1..5].try_into().unwrap());
    let again = fx
        .auth
        .u2f(&mut fx.env, 0x02, 0x08, 0, &auth_request(&handle, app()))
        .unwrap();
    assert_eq!(again[0], 0x00, "dont-enforce-user-presence");
    assert!(u32::from_be_bytes(again[1..5].try_into().unwrap()) > counter);
}

#[test]
fn status_words() {
    let mut fx = Fixture::new();
    let (handle, _) = register(&mut fx);
    let env = &mut fx.env;
    let a = &mut fx.auth;
    assert_eq!(
        a.u2f(env, 0x02, 0x07, 0, &auth_request(&handle, app())),
        Err(0x6985),
        "check-only, ours"
    );
    assert_eq!(
        a.u2f(env, 0x02, 0x07, 0, &auth_request(&handle, [0; 32])),
        Err(0x6A80),
        "other application"
    );
    assert_eq!(a.u2f(env, 0x02, 0x03, 0, &auth_request(&[1, 2, 3], app())), Err(0x6A80));
    assert_eq!(
        a.u2f(env, 0x02, 0x09, 0, &auth_request(&handle, app())),
        Err(0x6A80),
        "unknown control byte"
    );
    assert_eq!(
        a.u2f(env, 0x02, 0x03, 0, &auth_request(&handle, app())[..70]),
        Err(0x6700)
    );
    assert_eq!(a.u2f(env, 0x01, 0x00, 0, &[0; 63]), Err(0x6700));
    assert_eq!(a.u2f(env, 0x03, 0x00, 0, &[]), Ok(b"U2F_V2".to_vec()));
    assert_eq!(a.u2f(env, 0x03, 0x00, 0, &[0]), Err(0x6700));
    assert_eq!(a.u2f(env, 0x04, 0x00, 0, &[]), Err(0x6D00));
    env.script_presence(&[false, false]);
    assert_eq!(a.u2f(env, 0x01, 0x03, 0, &[0; 64]), Err(0x6985));
    assert_eq!(a.u2f(env, 0x02, 0x03, 0, &auth_request(&handle, app())), Err(0x6985));
}

#[test]
fn disabled_under_always_uv() {
    let mut fx = Fixture::new();
    fx.auth.state.always_uv = true;
    assert_eq!(fx.auth.u2f(&mut fx.env, 0x01, 0x03, 0, &[0; 64]), Err(0x6D00));
    assert!(!fx.auth.u2f_enabled());
}

#[test]
fn ctap2_credentials_with_uv_required_are_not_usable() {
    let mut fx = Fixture::new();
    let app_rp = "example.com";
    let ext = vec![(
        6,
        crate::cbor::Value::text_map(vec![("credProtect", crate::cbor::Value::Int(3))]),
    )];
    let r = fx.make_credential(app_rp, b"u", false, None, ext).unwrap();
    let id = parse_auth_data(r.get_int_key(2).unwrap().as_bytes().unwrap())
        .credential_id
        .unwrap();
    let req = auth_request(&id, crypto::sha256(app_rp.as_bytes()));
    assert_eq!(fx.auth.u2f(&mut fx.env, 0x02, 0x03, 0, &req), Err(0x6A80));
}
