//! authenticatorBioEnrollment (CTAP 2.1 §6.7) on the band, driven as python-fido2's
//! `FPBioEnrollment` does (test_bioenroll.py::test_enroll_use_delete).

use crate::band::{CAPTURES_PER_ATTEMPT, CaptureQuality};
use crate::cbor::{self, Value};
use crate::pin_protocol::Protocol;
use crate::status::Status;
use crate::test_support::{Fixture, RP, auth_param};
use crate::token::{PERM_BE, PERM_CM, PERM_MC};

const PIN: &str = "1234";

/// A worn band with a PIN, and a be token.
fn band() -> (Fixture, [u8; 32]) {
    let mut fx = Fixture::model("band");
    fx.auth.band_wear().unwrap();
    fx.set_pin(PIN).unwrap();
    let token = fx.pin_token(PIN, PERM_BE, None).unwrap();
    (fx, token)
}

/// A bioEnrollment request for `sub` with optional subCommandParams, authenticated with `token`.
fn bio(fx: &mut Fixture, token: Option<&[u8; 32]>, sub: u8, sp: Option<Vec<(i128, Value)>>) -> Result<Value, Status> {
    let mut params = vec![(1, Value::Int(1)), (2, Value::Int(sub.into()))];
    let sp = sp.map(Value::int_map);
    if let Some(t) = token {
        let mut message = vec![1, sub];
        if let Some(sp) = &sp {
            message.extend(cbor::encode(sp));
        }
        params.push((4, Value::Int(2)));
        params.push((5, Value::bytes(&auth_param(t, &message))));
    }
    if let Some(sp) = sp {
        params.push((3, sp));
    }
    fx.call(0x09, params)
}

fn int(v: &Value, key: i128) -> i128 {
    v.get_int_key(key).unwrap().as_int().unwrap()
}

/// enrollBegin and captures until done; returns the template ID.
fn enrol(fx: &mut Fixture, token: &[u8; 32]) -> Vec<u8> {
    let r = bio(fx, Some(token), 0x01, None).unwrap();
    let id = r.get_int_key(4).unwrap().as_bytes().unwrap().to_vec();
    let mut remaining = int(&r, 6);
    while remaining > 0 {
        let r = bio(fx, Some(token), 0x02, Some(vec![(1, Value::bytes(&id))])).unwrap();
        remaining = int(&r, 6);
    }
    id
}

fn info_option(fx: &mut Fixture, name: &str) -> Option<bool> {
    let info = fx.call(0x04, vec![]).unwrap();
    info.get_int_key(4)
        .unwrap()
        .get_text_key(name)
        .map(|v| v.as_bool().unwrap())
}

#[test]
fn modality_and_sensor_info_need_no_token() {
    // §6.7.1 getModality, §6.7.2 getFingerprintSensorInfo.
    let mut fx = Fixture::model("band");
    let m = fx.call(0x09, vec![(6, Value::Bool(true))]).unwrap();
    assert_eq!(int(&m, 1), 1, "fingerprint");
    let info = bio(&mut fx, None, 0x07, None).unwrap();
    assert_eq!(int(&info, 2), 1, "touch sensor");
    assert_eq!(int(&info, 3), CAPTURES_PER_ATTEMPT as i128);
    assert_eq!(int(&info, 8), 32);
    assert_eq!(info_option(&mut fx, "bioEnroll"), Some(false));
    assert_eq!(info_option(&mut fx, "uvBioEnroll"), Some(true));
}

#[test]
fn the_nfc_key_has_no_bio_enrollment() {
    let mut fx = Fixture::new();
    assert_eq!(bio(&mut fx, None, 0x07, None).unwrap_err(), Status::InvalidCommand);
    assert_eq!(info_option(&mut fx, "bioEnroll"), None);
    fx.set_pin(PIN).unwrap();
    assert_eq!(
        fx.pin_token(PIN, PERM_BE, None).unwrap_err(),
        Status::UnauthorizedPermission
    );
}

#[test]
fn enrol_name_use_and_remove() {
    let (mut fx, token) = band();
    // No enrolment yet: enumerateEnrollments is CTAP2_ERR_INVALID_OPTION (§6.7.6).
    assert_eq!(
        bio(&mut fx, Some(&token), 0x04, None).unwrap_err(),
        Status::InvalidOption
    );
    let before_captures = fx.env.presence_requests();
    let id = enrol(&mut fx, &token);
    assert_eq!(
        fx.env.presence_requests() - before_captures,
        CAPTURES_PER_ATTEMPT,
        "one touch per sample"
    );
    assert!(fx.auth.take_dirty());
    assert_eq!(fx.auth.state().band().unwrap().template_id, id);
    assert_eq!(info_option(&mut fx, "bioEnroll"), Some(true));
    assert_eq!(info_option(&mut fx, "uv"), Some(true), "worn and enrolled");
    // enumerateEnrollments: the template with an empty name.
    let list = bio(&mut fx, Some(&token), 0x04, None).unwrap();
    let infos = list.get_int_key(7).unwrap().as_array().unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].get_int_key(1), Some(&Value::bytes(&id)));
    assert_eq!(infos[0].get_int_key(2), Some(&Value::text("")));
    // setFriendlyName, up to maxTemplateFriendlyName bytes.
    let name = "Test".to_string() + &"!".repeat(28);
    bio(
        &mut fx,
        Some(&token),
        0x05,
        Some(vec![(1, Value::bytes(&id)), (2, Value::text(&name))]),
    )
    .unwrap();
    let list = bio(&mut fx, Some(&token), 0x04, None).unwrap();
    assert_eq!(
        list.get_int_key(7).unwrap().as_array().unwrap()[0].get_int_key(2),
        Some(&Value::text(&name))
    );
    let long = name.clone() + "!";
    assert_eq!(
        bio(
            &mut fx,
            Some(&token),
            0x05,
            Some(vec![(1, Value::bytes(&id)), (2, Value::text(&long))])
        )
        .unwrap_err(),
        Status::InvalidParameter
    );
    assert_eq!(
        bio(
            &mut fx,
            Some(&token),
            0x05,
            Some(vec![(1, Value::bytes(b"nope")), (2, Value::text("x"))])
        )
        .unwrap_err(),
        Status::InvalidOption
    );
    // The finger now verifies the wearer: a UV token and a makeCredential with UV.
    let uv = fx.uv_token(PERM_MC, Some(RP)).unwrap();
    fx.make_credential(RP, b"u", true, Some(&uv), vec![]).unwrap();
    // uvBioEnroll: the finger itself can get the be permission (one token at a time, so this
    // replaces the PIN's).
    let token = fx.uv_token(PERM_BE, None).unwrap();
    // A second enrolment does not fit (§6.7.3: CTAP2_ERR_FP_DATABASE_FULL).
    assert_eq!(
        bio(&mut fx, Some(&token), 0x01, None).unwrap_err(),
        Status::FpDatabaseFull
    );
    // removeEnrollment: unknown ID → INVALID_OPTION; the right one removes it, revokes the UV
    // token, and built-in UV is no longer configured.
    assert_eq!(
        bio(&mut fx, Some(&token), 0x06, Some(vec![(1, Value::bytes(b"nope"))])).unwrap_err(),
        Status::InvalidOption
    );
    bio(&mut fx, Some(&token), 0x06, Some(vec![(1, Value::bytes(&id))])).unwrap();
    assert!(fx.auth.vol.token.is_none(), "the UV token is gone with the finger");
    assert_eq!(fx.uv_token(PERM_MC, Some(RP)).unwrap_err(), Status::NotAllowed);
    assert_eq!(info_option(&mut fx, "bioEnroll"), Some(false));
    let be = fx.pin_token(PIN, PERM_BE, None).unwrap();
    assert_eq!(bio(&mut fx, Some(&be), 0x04, None).unwrap_err(), Status::InvalidOption);
    // The credential stays (removing a finger is not a reset).
    assert_eq!(fx.auth.state().credentials().len(), 1);
}

#[test]
fn poor_samples_are_retaken_and_a_timeout_ends_the_enrolment() {
    let (mut fx, token) = band();
    fx.env.script_captures(&[Some(CaptureQuality::Poor)]);
    let r = bio(&mut fx, Some(&token), 0x01, None).unwrap();
    let id = r.get_int_key(4).unwrap().as_bytes().unwrap().to_vec();
    assert_eq!(int(&r, 5), 0x07, "CTAP2_ENROLL_FEEDBACK_FP_POOR_QUALITY");
    assert_eq!(int(&r, 6), CAPTURES_PER_ATTEMPT as i128, "a poor sample does not count");
    let r = bio(&mut fx, Some(&token), 0x02, Some(vec![(1, Value::bytes(&id))])).unwrap();
    assert_eq!((int(&r, 5), int(&r, 6)), (0, CAPTURES_PER_ATTEMPT as i128 - 1));
    // A wrong template ID: INVALID_PARAMETER; a missing one: MISSING_PARAMETER.
    assert_eq!(
        bio(&mut fx, Some(&token), 0x02, Some(vec![(1, Value::bytes(b"x"))])).unwrap_err(),
        Status::InvalidParameter
    );
    assert_eq!(
        bio(&mut fx, Some(&token), 0x02, Some(vec![])).unwrap_err(),
        Status::MissingParameter
    );
    // No finger: CTAP2_ERR_USER_ACTION_TIMEOUT, and the enrolment is over.
    fx.env.script_captures(&[None]);
    assert_eq!(
        bio(&mut fx, Some(&token), 0x02, Some(vec![(1, Value::bytes(&id))])).unwrap_err(),
        Status::UserActionTimeout
    );
    assert_eq!(
        bio(&mut fx, Some(&token), 0x02, Some(vec![(1, Value::bytes(&id))])).unwrap_err(),
        Status::InvalidParameter
    );
    assert!(!fx.auth.state().band().unwrap().enrolled);
}

#[test]
fn cancel_abandons_the_enrolment() {
    // §6.7.5 cancelCurrentEnrollment needs no token (python-fido2 sends none).
    let (mut fx, token) = band();
    let r = bio(&mut fx, Some(&token), 0x01, None).unwrap();
    let id = r.get_int_key(4).unwrap().as_bytes().unwrap().to_vec();
    bio(&mut fx, None, 0x03, None).unwrap();
    assert_eq!(
        bio(&mut fx, Some(&token), 0x02, Some(vec![(1, Value::bytes(&id))])).unwrap_err(),
        Status::InvalidParameter
    );
}

#[test]
fn enrolment_needs_the_band_worn_and_not_see_admin() {
    let (mut fx, token) = band();
    fx.auth.band_take_off().unwrap();
    assert_eq!(
        bio(&mut fx, Some(&token), 0x01, None).unwrap_err(),
        Status::OperationDenied
    );
    fx.auth.band_wear().unwrap();
    let poor = [CaptureQuality::Poor; CAPTURES_PER_ATTEMPT];
    for _ in 0..3 {
        let _ = fx.auth.band_enrol_finger(&mut fx.env, &poor);
    }
    assert!(fx.auth.state().band().unwrap().see_admin);
    assert_eq!(
        bio(&mut fx, Some(&token), 0x01, None).unwrap_err(),
        Status::OperationDenied
    );
}

#[test]
fn authentication_rules() {
    let (mut fx, token) = band();
    let before = fx.state_bytes();
    // No pinUvAuthParam: CTAP2_ERR_PUAT_REQUIRED.
    assert_eq!(bio(&mut fx, None, 0x01, None).unwrap_err(), Status::PuatRequired);
    assert_eq!(bio(&mut fx, None, 0x04, None).unwrap_err(), Status::PuatRequired);
    // A token without be: PIN_AUTH_INVALID.
    let cm = fx.pin_token(PIN, PERM_CM, None).unwrap();
    assert_eq!(bio(&mut fx, Some(&cm), 0x01, None).unwrap_err(), Status::PinAuthInvalid);
    // A wrong key: PIN_AUTH_INVALID.
    assert_eq!(
        bio(&mut fx, Some(&[9; 32]), 0x01, None).unwrap_err(),
        Status::PinAuthInvalid
    );
    // Other modality, unknown subcommand, missing fields.
    let be = fx.pin_token(PIN, PERM_BE, None).unwrap();
    assert_eq!(
        fx.call(0x09, vec![(1, Value::Int(2)), (2, Value::Int(7))]).unwrap_err(),
        Status::InvalidParameter
    );
    assert_eq!(
        bio(&mut fx, Some(&be), 0x08, None).unwrap_err(),
        Status::InvalidSubcommand
    );
    assert_eq!(
        fx.call(0x09, vec![(2, Value::Int(7))]).unwrap_err(),
        Status::MissingParameter
    );
    assert_eq!(
        fx.call(0x09, vec![(1, Value::Int(1))]).unwrap_err(),
        Status::MissingParameter
    );
    assert_eq!(
        fx.call(0x09, vec![(1, Value::Int(1)), (2, Value::Int(7)), (3, Value::Int(0))])
            .unwrap_err(),
        Status::CborUnexpectedType
    );
    assert_eq!(fx.state_bytes(), before);
    // A protocol-one be token works too.
    let be1 = fx.pin_token_with(Protocol::One, PIN, PERM_BE, None).unwrap();
    let message = [1u8, 0x04];
    let param = Protocol::One.authenticate(&be1, &message);
    assert_eq!(
        fx.call(
            0x09,
            vec![
                (1, Value::Int(1)),
                (2, Value::Int(4)),
                (4, Value::Int(1)),
                (5, Value::Bytes(param))
            ]
        )
        .unwrap_err(),
        Status::InvalidOption,
        "authenticated; nothing enrolled"
    );
    let _ = token;
}

#[test]
fn control_socket_enrolment_is_the_same_template() {
    let mut fx = Fixture::model("band");
    fx.auth.band_wear().unwrap();
    fx.auth
        .band_enrol_finger(&mut fx.env, &[CaptureQuality::Good; CAPTURES_PER_ATTEMPT])
        .unwrap();
    fx.set_pin(PIN).unwrap();
    let be = fx.pin_token(PIN, PERM_BE, None).unwrap();
    let list = bio(&mut fx, Some(&be), 0x04, None).unwrap();
    let id = fx.auth.state().band().unwrap().template_id.clone();
    assert_eq!(id.len(), 4);
    assert_eq!(
        list.get_int_key(7).unwrap().as_array().unwrap()[0].get_int_key(1),
        Some(&Value::bytes(&id))
    );
}
