use crate::cbor::Value;
use crate::status::Status;
use crate::test_support::*;

fn three_credentials() -> Fixture {
    let mut fx = Fixture::new();
    for u in [b"a", b"b", b"c"] {
        fx.make_credential(RP, u, true, None, vec![]).unwrap();
    }
    fx
}

#[test]
fn without_a_get_assertion() {
    let mut fx = three_credentials();
    assert_eq!(fx.call(0x08, vec![]).unwrap_err(), Status::NotAllowed);
}

#[test]
fn any_other_command_ends_the_sequence() {
    let mut fx = three_credentials();
    fx.get_assertion(RP, None, None, vec![]).unwrap();
    fx.call(0x04, vec![]).unwrap();
    assert_eq!(fx.call(0x08, vec![]).unwrap_err(), Status::NotAllowed);
}

#[test]
fn times_out_after_30_seconds() {
    let mut fx = three_credentials();
    fx.get_assertion(RP, None, None, vec![]).unwrap();
    fx.env.advance(29_000);
    fx.call(0x08, vec![]).unwrap();
    fx.env.advance(30_000);
    assert_eq!(fx.call(0x08, vec![]).unwrap_err(), Status::NotAllowed);
}

#[test]
fn takes_no_parameters() {
    let mut fx = three_credentials();
    fx.get_assertion(RP, None, None, vec![]).unwrap();
    assert_eq!(fx.raw(&[0x08, 0xa0]), [0x03]);
    let user = fx.get_assertion(RP, None, None, vec![]).unwrap();
    assert_eq!(user.get_int_key(5), Some(&Value::Int(3)));
}
