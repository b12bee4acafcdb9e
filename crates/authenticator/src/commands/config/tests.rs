use crate::cbor::{self, Value};
use crate::status::Status;
use crate::test_support::*;

fn config(fx: &mut Fixture, token: Option<&[u8; 32]>, sub: u8, params: Option<Value>) -> Result<Value, Status> {
    let raw = params.as_ref().map(cbor::encode).unwrap_or_default();
    let mut req = vec![(1, Value::Int(sub.into()))];
    if let Some(t) = token {
        let message = [&[0xff; 32][..], &[0x0d, sub], &raw].concat();
        req.push((3, Value::Int(2)));
        req.push((4, Value::bytes(&auth_param(t, &message))));
    }
    if let Some(p) = params {
        req.push((2, p));
    }
    fx.call(0x0D, req)
}

fn min_len(n: i128, rp_ids: Option<&[&str]>, force: Option<bool>) -> Value {
    let mut m = vec![(1, Value::Int(n))];
    if let Some(ids) = rp_ids {
        m.push((2, Value::Array(ids.iter().map(|s| Value::text(s)).collect())));
    }
    if let Some(f) = force {
        m.push((3, Value::Bool(f)));
    }
    Value::int_map(m)
}

#[test]
fn toggle_always_uv_turns_u2f_off() {
    let mut fx = Fixture::new();
    assert!(fx.auth.u2f_enabled());
    config(&mut fx, None, 0x02, None).unwrap();
    assert!(fx.auth.state().always_uv());
    assert!(!fx.auth.u2f_enabled());
    assert_eq!(fx.auth.u2f(&mut fx.env, 0x03, 0, 0, &[]), Err(0x6D00));
    // Now the toggle itself needs a token (alwaysUv), and a PIN for that.
    assert_eq!(config(&mut fx, None, 0x02, None).unwrap_err(), Status::PuatRequired);
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x20, None).unwrap();
    config(&mut fx, Some(&token), 0x02, None).unwrap();
    assert!(fx.auth.u2f_enabled());
}

#[test]
fn needs_an_acfg_token_once_protected() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    assert_eq!(config(&mut fx, None, 0x02, None).unwrap_err(), Status::PuatRequired);
    let cm = fx.pin_token("1234", 0x04, None).unwrap();
    assert_eq!(
        config(&mut fx, Some(&cm), 0x02, None).unwrap_err(),
        Status::PinAuthInvalid
    );
    assert_eq!(
        config(&mut fx, Some(&[0; 32]), 0x02, None).unwrap_err(),
        Status::PinAuthInvalid
    );
    assert_eq!(
        config(&mut fx, None, 0x01, None).unwrap_err(),
        Status::PuatRequired,
        "enableEnterpriseAttestation exists (a batch certificate is provisioned) and needs a token"
    );
    assert_eq!(
        config(&mut fx, None, 0xff, None).unwrap_err(),
        Status::InvalidSubcommand
    );
    assert!(!fx.auth.state().always_uv());
}

#[test]
fn set_min_pin_length() {
    let mut fx = Fixture::new();
    config(&mut fx, None, 0x03, Some(min_len(6, Some(&[RP]), None))).unwrap();
    assert_eq!(fx.auth.state().min_pin_length(), 6);
    assert_eq!(fx.set_pin("12345").unwrap_err(), Status::PinPolicyViolation);
    fx.set_pin("123456").unwrap();
    let token = fx.pin_token("123456", 0x20, None).unwrap();
    assert_eq!(
        config(&mut fx, Some(&token), 0x03, Some(min_len(5, None, None))).unwrap_err(),
        Status::PinPolicyViolation,
        "never shrinks"
    );
    assert_eq!(
        config(&mut fx, Some(&token), 0x03, Some(min_len(64, None, None))).unwrap_err(),
        Status::PinPolicyViolation
    );
    let nine: Vec<&str> = vec!["a"; 9];
    assert_eq!(
        config(&mut fx, Some(&token), 0x03, Some(min_len(6, Some(&nine), None))).unwrap_err(),
        Status::KeyStoreFull
    );
    assert!(!fx.auth.state().force_pin_change());
    // Raising the minimum above the current PIN forces a change.
    config(&mut fx, Some(&token), 0x03, Some(min_len(8, None, None))).unwrap();
    assert!(fx.auth.state().force_pin_change());
    assert_eq!(fx.call(0x04, vec![]).unwrap().get_int_key(0x0D), Some(&Value::Int(8)));
    assert_eq!(
        fx.change_pin("123456", "1234567").unwrap_err(),
        Status::PinPolicyViolation
    );
    fx.change_pin("123456", "12345678").unwrap();
    assert!(!fx.auth.state().force_pin_change());
}

#[test]
fn force_change_pin() {
    let mut fx = Fixture::new();
    assert_eq!(
        config(&mut fx, None, 0x03, Some(min_len(4, None, Some(true)))).unwrap_err(),
        Status::PinNotSet
    );
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x20, None).unwrap();
    config(
        &mut fx,
        Some(&token),
        0x03,
        Some(Value::int_map(vec![(3, Value::Bool(true))])),
    )
    .unwrap();
    assert!(fx.auth.state().force_pin_change());
    assert_eq!(
        fx.call(0x04, vec![]).unwrap().get_int_key(0x0C),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        fx.pin_token("1234", 0x01, Some(RP)).unwrap_err(),
        Status::PinPolicyViolation
    );
}

#[test]
fn parameter_types() {
    let mut fx = Fixture::new();
    let before = fx.state_bytes();
    assert_eq!(fx.call(0x0D, vec![]).unwrap_err(), Status::MissingParameter);
    assert_eq!(
        config(&mut fx, None, 0x03, Some(Value::int_map(vec![(1, Value::text("6"))]))).unwrap_err(),
        Status::CborUnexpectedType
    );
    assert_eq!(
        fx.call(0x0D, vec![(1, Value::Int(3)), (2, Value::Int(1))]).unwrap_err(),
        Status::CborUnexpectedType
    );
    assert_eq!(fx.state_bytes(), before);
    assert!(!fx.auth.take_dirty());
}
