use crate::cbor::Value;
use crate::env::Env;
use crate::status::Status;
use crate::test_support::{Fixture, RP, pad_pin};

#[test]
fn get_key_agreement_returns_a_cose_ecdh_key() {
    let mut fx = Fixture::new();
    let r = fx.call(0x06, vec![(1, Value::Int(2)), (2, Value::Int(2))]).unwrap();
    let key = r.get_int_key(1).unwrap();
    assert_eq!(key.get_int_key(1), Some(&Value::Int(2)));
    assert_eq!(key.get_int_key(3), Some(&Value::Int(-25)));
    assert_eq!(key.get_int_key(-1), Some(&Value::Int(1)));
    assert_eq!(key.get_int_key(-2).unwrap().as_bytes().unwrap().len(), 32);
}

#[test]
fn protocol_and_subcommand_checks() {
    let mut fx = Fixture::new();
    assert_eq!(
        fx.call(0x06, vec![(1, Value::Int(3)), (2, Value::Int(2))]).unwrap_err(),
        Status::InvalidParameter
    );
    assert_eq!(
        fx.call(0x06, vec![(2, Value::Int(2))]).unwrap_err(),
        Status::MissingParameter
    );
    assert_eq!(
        fx.call(0x06, vec![(1, Value::Int(2))]).unwrap_err(),
        Status::MissingParameter
    );
    assert_eq!(
        fx.call(0x06, vec![(1, Value::Int(2)), (2, Value::Int(0x08))])
            .unwrap_err(),
        Status::InvalidSubcommand
    );
    assert_eq!(
        fx.call(0x06, vec![(1, Value::Int(2)), (2, Value::text("x"))])
            .unwrap_err(),
        Status::CborUnexpectedType
    );
    // getPINRetries needs no protocol; without a PIN it answers PIN_NOT_SET (python-fido2's
    // test_clientpin.py::test_set_and_reset), with one the retries.
    assert_eq!(fx.call(0x06, vec![(2, Value::Int(1))]).unwrap_err(), Status::PinNotSet);
    fx.set_pin("1234").unwrap();
    assert!(fx.call(0x06, vec![(2, Value::Int(1))]).is_ok());
}

#[test]
fn set_pin_then_token() {
    let mut fx = Fixture::new();
    assert_eq!(fx.pin_token("1234", 0x01, Some(RP)).unwrap_err(), Status::PinNotSet);
    fx.set_pin("1234").unwrap();
    assert!(fx.auth.take_dirty());
    assert_eq!(
        fx.set_pin("5678").unwrap_err(),
        Status::PinAuthInvalid,
        "a PIN is already set"
    );
    assert_eq!(fx.pin_retries(), (8, false));
    fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    fx.legacy_pin_token("1234").unwrap();
}

#[test]
fn set_pin_policy() {
    let mut fx = Fixture::new();
    assert_eq!(fx.set_pin("123").unwrap_err(), Status::PinPolicyViolation);
    assert_eq!(fx.set_pin(&"1".repeat(64)).unwrap_err(), Status::PinPolicyViolation);
    // Four code points in more than four bytes is long enough.
    fx.set_pin("äöüß").unwrap();
    fx.pin_token("äöüß", 0x02, Some(RP)).unwrap();
    // 63 bytes is the longest PIN.
    let mut fx = Fixture::new();
    fx.set_pin(&"7".repeat(63)).unwrap();
}

#[test]
fn set_pin_rejects_a_bad_mac_or_block() {
    let mut fx = Fixture::new();
    let p = fx.platform();
    let enc = p.shared.encrypt(fx.env.rng(), &pad_pin("1234"));
    let base = |param: Vec<u8>, enc: Vec<u8>| {
        vec![
            (1, Value::Int(2)),
            (2, Value::Int(3)),
            (3, p.cose.clone()),
            (4, Value::Bytes(param)),
            (5, Value::Bytes(enc)),
        ]
    };
    assert_eq!(
        fx.call(0x06, base(vec![0; 32], enc.clone())).unwrap_err(),
        Status::PinAuthInvalid
    );
    // CTAP 2.1 §6.5.5.5: a paddedNewPin that is not 64 bytes is CTAP1_ERR_INVALID_PARAMETER…
    let short = p.shared.encrypt(fx.env.rng(), &[0x31; 32]);
    let param = p.shared.authenticate(&short).to_vec();
    assert_eq!(fx.call(0x06, base(param, short)).unwrap_err(), Status::InvalidParameter);
    // …while newPinEnc that does not decrypt at all (not whole AES blocks) is PIN_AUTH_INVALID.
    let ragged = [p.shared.encrypt(fx.env.rng(), &pad_pin("1234")), vec![0; 5]].concat();
    let param = p.shared.authenticate(&ragged).to_vec();
    assert_eq!(fx.call(0x06, base(param, ragged)).unwrap_err(), Status::PinAuthInvalid);
    let bad_key = vec![
        (1, Value::Int(2)),
        (2, Value::Int(3)),
        (3, Value::Int(0)),
        (4, Value::bytes(&[0; 32])),
        (5, Value::Bytes(enc)),
    ];
    assert_eq!(fx.call(0x06, bad_key).unwrap_err(), Status::CborUnexpectedType);
    assert!(!fx.auth.state().pin_is_set());
}

#[test]
fn wrong_pins_count_down_and_block() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    assert_eq!(fx.pin_token("0000", 0x01, Some(RP)).unwrap_err(), Status::PinInvalid);
    assert_eq!(fx.pin_retries(), (7, false));
    assert_eq!(fx.pin_token("0000", 0x01, Some(RP)).unwrap_err(), Status::PinInvalid);
    // The third consecutive failure blocks PIN use until a power cycle.
    assert_eq!(
        fx.pin_token("0000", 0x01, Some(RP)).unwrap_err(),
        Status::PinAuthBlocked
    );
    assert_eq!(fx.pin_retries(), (5, true));
    assert_eq!(
        fx.pin_token("1234", 0x01, Some(RP)).unwrap_err(),
        Status::PinAuthBlocked,
        "even the right PIN"
    );
    assert_eq!(fx.pin_retries(), (5, true), "blocked attempts do not count");
    fx.power_cycle();
    assert_eq!(fx.pin_retries(), (5, false));
    // A right PIN restores the counter.
    fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    assert_eq!(fx.pin_retries(), (8, false));
    // Eight wrong PINs in all: PIN_BLOCKED, for good.
    for round in 0..3 {
        for i in 0..3 {
            let left = 8 - (round * 3 + i);
            if left == 0 {
                break;
            }
            let got = fx.pin_token("0000", 0x01, Some(RP)).unwrap_err();
            let expected = if left == 1 {
                Status::PinBlocked
            } else if i == 2 {
                Status::PinAuthBlocked
            } else {
                Status::PinInvalid
            };
            assert_eq!(got, expected, "round {round} attempt {i}");
        }
        fx.power_cycle();
    }
    assert_eq!(fx.pin_retries().0, 0);
    assert_eq!(fx.pin_token("1234", 0x01, Some(RP)).unwrap_err(), Status::PinBlocked);
    assert_eq!(fx.change_pin("1234", "5678").unwrap_err(), Status::PinBlocked);
}

#[test]
fn a_wrong_pin_regenerates_the_key_agreement() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let ka = |fx: &mut Fixture| fx.call(0x06, vec![(1, Value::Int(2)), (2, Value::Int(2))]).unwrap();
    let before = ka(&mut fx);
    assert_eq!(ka(&mut fx), before, "stable while nothing happens");
    fx.pin_token("0000", 0x01, Some(RP)).unwrap_err();
    assert_ne!(ka(&mut fx), before);
}

#[test]
fn change_pin() {
    let mut fx = Fixture::new();
    assert_eq!(fx.change_pin("1234", "5678").unwrap_err(), Status::PinNotSet);
    fx.set_pin("1234").unwrap();
    assert_eq!(fx.change_pin("0000", "5678").unwrap_err(), Status::PinInvalid);
    assert_eq!(fx.change_pin("1234", "56").unwrap_err(), Status::PinPolicyViolation);
    let token = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    fx.change_pin("1234", "5678").unwrap();
    assert_eq!(fx.pin_token("1234", 0x01, Some(RP)).unwrap_err(), Status::PinInvalid);
    fx.pin_token("5678", 0x01, Some(RP)).unwrap();
    // changePIN invalidated the earlier token... and issuing a new one replaced it anyway.
    assert_eq!(
        fx.make_credential(RP, b"u", false, Some(&token), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
}

#[test]
fn permission_rules() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    assert_eq!(fx.pin_token("1234", 0, Some(RP)).unwrap_err(), Status::InvalidParameter);
    assert_eq!(
        fx.pin_token("1234", 0x08, None).unwrap_err(),
        Status::UnauthorizedPermission,
        "be: the NFC key has no fingerprint sensor"
    );
    // lbw alone needs no RP ID (§6.5.5.7.2: only mc and ga do).
    fx.pin_token("1234", 0x10, None).unwrap();
    assert_eq!(fx.auth.vol.token.as_ref().unwrap().permissions, 0x10);
    // Undefined permission bits are ignored (CTAP 2.1 §6.5.5.7.2): cm plus an unknown bit is cm.
    let token = fx.pin_token("1234", 0x84, None).unwrap();
    assert_eq!(fx.auth.vol.token.as_ref().unwrap().permissions, 0x04);
    assert_eq!(token.len(), 32);
    assert_eq!(
        fx.pin_token("1234", 0x01, None).unwrap_err(),
        Status::MissingParameter,
        "mc needs an RP ID"
    );
    assert_eq!(
        fx.pin_token("1234", 0x02, None).unwrap_err(),
        Status::MissingParameter,
        "ga needs an RP ID"
    );
    fx.pin_token("1234", 0x04 | 0x20, None).unwrap();
    assert_eq!(
        fx.pin_retries(),
        (8, false),
        "permission errors come before the PIN check"
    );
}

#[test]
fn force_pin_change_rules() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    fx.auth.state.force_pin_change = true;
    assert_eq!(fx.legacy_pin_token("1234").unwrap_err(), Status::PinInvalid);
    assert_eq!(
        fx.pin_token("1234", 0x01, Some(RP)).unwrap_err(),
        Status::PinPolicyViolation
    );
    assert_eq!(fx.change_pin("1234", "1234").unwrap_err(), Status::PinPolicyViolation);
    assert!(fx.auth.state().force_pin_change());
    fx.change_pin("1234", "4321").unwrap();
    assert!(!fx.auth.state().force_pin_change());
    fx.pin_token("4321", 0x01, Some(RP)).unwrap();
}

#[test]
fn legacy_get_pin_token_refuses_permissions() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let p = fx.platform();
    let enc = p.shared.encrypt(fx.env.rng(), &crate::test_support::pin_hash("1234"));
    let params = vec![
        (1, Value::Int(2)),
        (2, Value::Int(5)),
        (3, p.cose),
        (6, Value::Bytes(enc)),
        (9, Value::Int(1)),
    ];
    assert_eq!(fx.call(0x06, params).unwrap_err(), Status::InvalidParameter);
}

#[test]
fn tokens_expire_after_the_nfc_usage_window() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    fx.env.advance(19_799);
    let token2 = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    fx.env.advance(19_800);
    assert_eq!(
        fx.make_credential(RP, b"u", false, Some(&token2), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
    assert_eq!(
        fx.make_credential(RP, b"u", false, Some(&token), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
}

#[test]
fn power_cycle_drops_the_token() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    fx.power_cycle();
    assert_eq!(
        fx.make_credential(RP, b"u", false, Some(&token), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
}

#[test]
fn uv_subcommands_need_a_band() {
    let mut fx = Fixture::new();
    assert_eq!(fx.uv_token(0x01, Some(RP)).unwrap_err(), Status::InvalidSubcommand);
    assert_eq!(
        fx.call(0x06, vec![(2, Value::Int(7))]).unwrap_err(),
        Status::InvalidSubcommand
    );
    let mut band = Fixture::model("band");
    let r = band.call(0x06, vec![(2, Value::Int(7))]).unwrap();
    assert_eq!(r.get_int_key(5), Some(&Value::Int(8)));
    assert_eq!(
        band.uv_token(0x01, Some(RP)).unwrap_err(),
        Status::NotAllowed,
        "nothing enrolled"
    );
}
