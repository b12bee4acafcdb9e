use crate::status::Status;
use crate::test_support::*;

#[test]
fn resets_within_the_window() {
    let mut fx = Fixture::new();
    let id = {
        let r = fx.make_credential(RP, b"u", false, None, vec![]).unwrap();
        parse_auth_data(r.get_int_key(2).unwrap().as_bytes().unwrap())
            .credential_id
            .unwrap()
    };
    fx.make_credential(RP, b"v", true, None, vec![]).unwrap();
    fx.set_pin("1234").unwrap();
    fx.auth.state.always_uv = true;
    fx.auth.take_dirty();
    fx.env.advance(9_000);
    assert_eq!(fx.call(0x07, vec![]), Ok(crate::cbor::Value::Null));
    assert!(fx.auth.take_dirty());
    let s = fx.auth.state();
    assert!(!s.pin_is_set() && s.credentials().is_empty() && !s.always_uv());
    assert_eq!(
        fx.get_assertion(RP, Some(&[id]), None, vec![]).unwrap_err(),
        Status::NoCredentials,
        "wrapped IDs die too"
    );
}

#[test]
fn refused_after_ten_seconds_until_power_cycle() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    fx.env.advance(10_001);
    assert_eq!(fx.call(0x07, vec![]).unwrap_err(), Status::NotAllowed);
    assert!(fx.auth.state().pin_is_set());
    fx.power_cycle();
    fx.call(0x07, vec![]).unwrap();
}

#[test]
fn needs_a_touch() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    fx.auth.take_dirty();
    fx.env.script_presence(&[false]);
    assert_eq!(fx.call(0x07, vec![]).unwrap_err(), Status::OperationDenied);
    assert!(fx.auth.state().pin_is_set());
    assert!(!fx.auth.take_dirty());
}

#[test]
fn the_first_command_powers_on() {
    let mut fx = Fixture::new();
    fx.auth.power_off();
    fx.env.advance(60_000);
    // The first command powers the engine on, which opens a window.
    fx.call(0x07, vec![]).unwrap();
}
