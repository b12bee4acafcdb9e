use crate::cbor::{self, Value};
use crate::status::Status;
use crate::test_support::*;

fn cm(fx: &mut Fixture, token: &[u8; 32], sub: u8, params: Option<Value>) -> Result<Value, Status> {
    let raw = params.as_ref().map(cbor::encode).unwrap_or_default();
    let mut req = vec![
        (1, Value::Int(sub.into())),
        (3, Value::Int(2)),
        (4, Value::bytes(&auth_param(token, &[&[sub][..], &raw].concat()))),
    ];
    if let Some(p) = params {
        req.push((2, p));
    }
    fx.call(0x0A, req)
}

/// Two RPs: example.com with two users, other.example with one.
fn populated() -> (Fixture, [u8; 32]) {
    let mut fx = Fixture::new();
    fx.make_credential(RP, b"user-1", true, None, vec![]).unwrap();
    fx.make_credential(RP, b"user-2", true, None, vec![]).unwrap();
    fx.make_credential("other.example", b"user-3", true, None, vec![])
        .unwrap();
    fx.make_credential(RP, b"nr", false, None, vec![]).unwrap();
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x04, None).unwrap();
    (fx, token)
}

fn rp_hash(rp: &str) -> Value {
    Value::int_map(vec![(1, Value::bytes(&crate::crypto::sha256(rp.as_bytes())))])
}

#[test]
fn metadata() {
    let (mut fx, token) = populated();
    let r = cm(&mut fx, &token, 0x01, None).unwrap();
    assert_eq!(r.get_int_key(1), Some(&Value::Int(3)));
    assert_eq!(r.get_int_key(2), Some(&Value::Int(47)));
}

#[test]
fn enumerate_rps() {
    let (mut fx, token) = populated();
    let first = cm(&mut fx, &token, 0x02, None).unwrap();
    assert_eq!(first.get_int_key(3).unwrap().get_text_key("id"), Some(&Value::text(RP)));
    assert_eq!(
        first.get_int_key(3).unwrap().get_text_key("name"),
        Some(&Value::text("Example"))
    );
    assert_eq!(
        first.get_int_key(4),
        Some(&Value::bytes(&crate::crypto::sha256(RP.as_bytes())))
    );
    assert_eq!(first.get_int_key(5), Some(&Value::Int(2)));
    let next = fx.call(0x0A, vec![(1, Value::Int(3))]).unwrap();
    assert_eq!(
        next.get_int_key(3).unwrap().get_text_key("id"),
        Some(&Value::text("other.example"))
    );
    assert!(next.get_int_key(5).is_none());
    assert_eq!(fx.call(0x0A, vec![(1, Value::Int(3))]).unwrap_err(), Status::NotAllowed);
}

#[test]
fn enumerate_credentials() {
    let (mut fx, token) = populated();
    let first = cm(&mut fx, &token, 0x04, Some(rp_hash(RP))).unwrap();
    assert_eq!(first.get_int_key(9), Some(&Value::Int(2)));
    assert_eq!(
        first.get_int_key(6).unwrap().get_text_key("id"),
        Some(&Value::bytes(b"user-1"))
    );
    assert_eq!(
        first.get_int_key(6).unwrap().get_text_key("name"),
        Some(&Value::text("alice@example.com"))
    );
    assert_eq!(first.get_int_key(8).unwrap().get_int_key(3), Some(&Value::Int(-7)));
    assert_eq!(first.get_int_key(0x0A), Some(&Value::Int(1)));
    let second = fx.call(0x0A, vec![(1, Value::Int(5))]).unwrap();
    assert_eq!(
        second.get_int_key(6).unwrap().get_text_key("id"),
        Some(&Value::bytes(b"user-2"))
    );
    assert_eq!(fx.call(0x0A, vec![(1, Value::Int(5))]).unwrap_err(), Status::NotAllowed);
    assert_eq!(
        cm(&mut fx, &token, 0x04, Some(rp_hash("none.example"))).unwrap_err(),
        Status::NoCredentials
    );
    assert_eq!(
        cm(&mut fx, &token, 0x04, Some(Value::int_map(vec![]))).unwrap_err(),
        Status::MissingParameter
    );
}

#[test]
fn delete_and_update() {
    let (mut fx, token) = populated();
    let id = fx.auth.state().credentials()[0].id.clone();
    let user = Value::text_map(vec![("id", Value::bytes(b"user-1")), ("name", Value::text("bob"))]);
    let update = Value::int_map(vec![(2, descriptor(&id)), (3, user)]);
    cm(&mut fx, &token, 0x07, Some(update)).unwrap();
    let c = &fx.auth.state().credentials()[0];
    assert_eq!(
        (c.user_name.as_deref(), c.user_display_name.as_deref()),
        (Some("bob"), None)
    );
    let wrong_user = Value::int_map(vec![
        (2, descriptor(&id)),
        (3, Value::text_map(vec![("id", Value::bytes(b"x"))])),
    ]);
    assert_eq!(
        cm(&mut fx, &token, 0x07, Some(wrong_user)).unwrap_err(),
        Status::InvalidParameter
    );
    cm(&mut fx, &token, 0x06, Some(Value::int_map(vec![(2, descriptor(&id))]))).unwrap();
    assert_eq!(fx.auth.state().credentials().len(), 2);
    assert_eq!(
        cm(&mut fx, &token, 0x06, Some(Value::int_map(vec![(2, descriptor(&id))]))).unwrap_err(),
        Status::NoCredentials
    );
    assert_eq!(
        fx.get_assertion(RP, Some(&[id]), None, vec![]).unwrap_err(),
        Status::NoCredentials,
        "gone for good"
    );
}

#[test]
fn authorization() {
    let (mut fx, token) = populated();
    assert_eq!(
        fx.call(0x0A, vec![(1, Value::Int(1))]).unwrap_err(),
        Status::PuatRequired
    );
    assert_eq!(
        fx.call(
            0x0A,
            vec![(1, Value::Int(1)), (4, Value::bytes(&auth_param(&token, &[1])))]
        )
        .unwrap_err(),
        Status::MissingParameter
    );
    assert_eq!(cm(&mut fx, &[0; 32], 0x01, None).unwrap_err(), Status::PinAuthInvalid);
    assert_eq!(cm(&mut fx, &token, 0x09, None).unwrap_err(), Status::InvalidSubcommand);
    // The MAC covers subCommandParams: changing them breaks it.
    let raw = cbor::encode(&rp_hash(RP));
    let param = auth_param(&token, &[&[4u8][..], &raw].concat());
    let tampered = vec![
        (1, Value::Int(4)),
        (2, rp_hash("other.example")),
        (3, Value::Int(2)),
        (4, Value::Bytes(param)),
    ];
    assert_eq!(fx.call(0x0A, tampered).unwrap_err(), Status::PinAuthInvalid);
    // A token without cm.
    let ga = fx.pin_token("1234", 0x02, Some(RP)).unwrap();
    assert_eq!(cm(&mut fx, &ga, 0x01, None).unwrap_err(), Status::PinAuthInvalid);
    // An RP-bound cm token sees only its RP.
    let bound = fx.pin_token("1234", 0x04, Some(RP)).unwrap();
    assert_eq!(cm(&mut fx, &bound, 0x01, None).unwrap_err(), Status::PinAuthInvalid);
    assert_eq!(cm(&mut fx, &bound, 0x02, None).unwrap_err(), Status::PinAuthInvalid);
    assert_eq!(
        cm(&mut fx, &bound, 0x04, Some(rp_hash("other.example"))).unwrap_err(),
        Status::PinAuthInvalid
    );
    cm(&mut fx, &bound, 0x04, Some(rp_hash(RP))).unwrap();
    let other_id = fx
        .auth
        .state()
        .credentials()
        .iter()
        .find(|c| c.rp_id == "other.example")
        .unwrap()
        .id
        .clone();
    assert_eq!(
        cm(
            &mut fx,
            &bound,
            0x06,
            Some(Value::int_map(vec![(2, descriptor(&other_id))]))
        )
        .unwrap_err(),
        Status::PinAuthInvalid
    );
}

#[test]
fn empty_store() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x04, None).unwrap();
    assert_eq!(cm(&mut fx, &token, 0x02, None).unwrap_err(), Status::NoCredentials);
    assert_eq!(
        cm(&mut fx, &token, 0x01, None).unwrap().get_int_key(1),
        Some(&Value::Int(0))
    );
}
