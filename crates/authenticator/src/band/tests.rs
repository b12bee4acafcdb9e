use super::*;
use crate::Status;
use crate::test_support::*;

const GOOD: [CaptureQuality; 15] = [CaptureQuality::Good; 15];

fn one_poor() -> [CaptureQuality; 15] {
    let mut c = GOOD;
    c[7] = CaptureQuality::Poor;
    c
}

fn enrolled_band() -> Fixture {
    let mut fx = Fixture::model("band");
    fx.auth.band_wear().unwrap();
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &GOOD),
        Ok(EnrolOutcome::Enrolled)
    );
    fx
}

#[test]
fn only_bands_have_band_controls() {
    let mut fx = Fixture::new();
    assert_eq!(fx.auth.band_wear(), Err(BandError::NotABand));
    assert_eq!(fx.auth.band_enrol_finger(&mut fx.env, &GOOD), Err(BandError::NotABand));
    assert_eq!(fx.auth.band_delete_user_data(&mut fx.env), Err(BandError::NotABand));
    assert!(fx.auth.band_status().is_none());
}

#[test]
fn enrolment_needs_the_band_worn_and_fifteen_captures() {
    let mut fx = Fixture::model("band");
    assert_eq!(fx.auth.band_enrol_finger(&mut fx.env, &GOOD), Err(BandError::NotWorn));
    fx.auth.band_wear().unwrap();
    assert!(fx.auth.take_dirty(), "worn is persisted");
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &GOOD[..14]),
        Err(BandError::WrongCaptureCount)
    );
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &one_poor()),
        Ok(EnrolOutcome::Retry { attempts_left: 2 })
    );
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &GOOD),
        Ok(EnrolOutcome::Enrolled)
    );
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &GOOD),
        Err(BandError::AlreadyEnrolled)
    );
    let s = fx.auth.band_status().unwrap();
    assert!(s.enrolled && s.worn && s.uv_ready && s.failed_attempts == 0);
    assert_eq!("good".parse::<CaptureQuality>(), Ok(CaptureQuality::Good));
    assert_eq!("poor".parse::<CaptureQuality>(), Ok(CaptureQuality::Poor));
    assert!("meh".parse::<CaptureQuality>().is_err());
}

#[test]
fn three_failures_show_see_admin_until_delete_user_data() {
    let mut fx = Fixture::model("band");
    fx.auth.band_wear().unwrap();
    fx.set_pin("1234").unwrap();
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &one_poor()),
        Ok(EnrolOutcome::Retry { attempts_left: 2 })
    );
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &one_poor()),
        Ok(EnrolOutcome::Retry { attempts_left: 1 })
    );
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &one_poor()),
        Ok(EnrolOutcome::SeeAdmin)
    );
    assert_eq!(fx.auth.band_enrol_finger(&mut fx.env, &GOOD), Err(BandError::SeeAdmin));
    fx.auth.band_take_off().unwrap();
    assert_eq!(fx.auth.band_wear(), Err(BandError::SeeAdmin));
    assert_eq!(fx.uv_token(0x01, Some(RP)).unwrap_err(), Status::NotAllowed);
    // Delete user data: a full reset, outside any reset window.
    fx.env.advance(60_000);
    fx.auth.band_delete_user_data(&mut fx.env).unwrap();
    assert!(!fx.auth.state().pin_is_set());
    let s = fx.auth.band_status().unwrap();
    assert!(!s.see_admin && !s.enrolled && s.failed_attempts == 0);
    fx.auth.band_wear().unwrap();
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &GOOD),
        Ok(EnrolOutcome::Enrolled)
    );
}

#[test]
fn worn_band_verifies_without_a_pin() {
    let mut fx = enrolled_band();
    let touches = fx.env.presence_requests();
    let token = fx.uv_token(0x01 | 0x02, Some(RP)).unwrap();
    let resp = fx.make_credential(RP, b"u", true, Some(&token), vec![]).unwrap();
    let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
    assert_eq!(ad.flags & 0x05, 0x05, "UP and UV");
    assert_eq!(fx.env.presence_requests(), touches, "the worn band is presence too");
    // The uv option works directly as well.
    let uv = vec![(
        5,
        crate::cbor::Value::text_map(vec![("uv", crate::cbor::Value::Bool(true))]),
    )];
    let resp = fx.get_assertion(RP, None, None, uv.clone()).unwrap();
    let ad = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap());
    assert_eq!(ad.flags, 0x05);
    assert!(resp.get_int_key(4).unwrap().get_text_key("name").is_some());
    // Discoverable credentials need UV once the band is protected: PIN-less through the band.
    let uv_mc = vec![(
        7,
        crate::cbor::Value::text_map(vec![
            ("rk", crate::cbor::Value::Bool(true)),
            ("uv", crate::cbor::Value::Bool(true)),
        ]),
    )];
    fx.make_credential(RP, b"w", true, None, uv_mc).unwrap();
    // Without "uv" the request is refused; with no PIN set ("clientPin" false) the error is
    // CTAP2_ERR_OPERATION_DENIED rather than PUAT_REQUIRED (CTAP 2.1 §6.1.2 step 7.1).
    assert_eq!(
        fx.make_credential(RP, b"x", true, None, vec![]).unwrap_err(),
        Status::OperationDenied
    );
}

#[test]
fn taking_the_band_off_deauthenticates_at_once() {
    let mut fx = enrolled_band();
    let token = fx.uv_token(0x01, Some(RP)).unwrap();
    fx.auth.band_take_off().unwrap();
    assert_eq!(
        fx.make_credential(RP, b"u", true, Some(&token), vec![]).unwrap_err(),
        Status::PinAuthInvalid
    );
    assert_eq!(fx.uv_token(0x01, Some(RP)).unwrap_err(), Status::UvInvalid);
    let uv = vec![(
        7,
        crate::cbor::Value::text_map(vec![("uv", crate::cbor::Value::Bool(true))]),
    )];
    assert_eq!(
        fx.make_credential(RP, b"u", false, None, uv).unwrap_err(),
        Status::OperationDenied
    );
    let r = fx.call(0x06, vec![(2, crate::cbor::Value::Int(7))]).unwrap();
    assert_eq!(
        r.get_int_key(5),
        Some(&crate::cbor::Value::Int(8)),
        "no wrong finger, no retry spent"
    );
    // Put back on: authenticated again.
    fx.auth.band_wear().unwrap();
    fx.uv_token(0x01, Some(RP)).unwrap();
}

#[test]
fn a_band_off_the_wrist_falls_back_to_the_pin() {
    let mut fx = enrolled_band();
    fx.set_pin("1234").unwrap();
    fx.auth.band_take_off().unwrap();
    let info = fx.call(0x04, vec![]).unwrap();
    assert_eq!(
        info.get_int_key(4).unwrap().get_text_key("uv"),
        Some(&crate::cbor::Value::Bool(false))
    );
    let token = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    fx.make_credential(RP, b"u", true, Some(&token), vec![]).unwrap();
    // PIN tokens survive taking the band off.
    let token = fx.pin_token("1234", 0x01, Some(RP)).unwrap();
    fx.auth.band_wear().unwrap();
    fx.auth.band_take_off().unwrap();
    fx.make_credential(RP, b"v", true, Some(&token), vec![]).unwrap();
}

#[test]
fn not_enrolled_band_works_like_a_key() {
    let mut fx = Fixture::model("band");
    fx.auth.band_wear().unwrap();
    fx.make_credential(RP, b"u", true, None, vec![]).unwrap();
    let uv = vec![(
        7,
        crate::cbor::Value::text_map(vec![("uv", crate::cbor::Value::Bool(true))]),
    )];
    assert_eq!(
        fx.make_credential(RP, b"u", false, None, uv).unwrap_err(),
        Status::InvalidOption
    );
}

#[test]
fn ctap_reset_also_forgets_the_finger() {
    let mut fx = enrolled_band();
    fx.call(0x07, vec![]).unwrap();
    let s = fx.auth.band_status().unwrap();
    assert!(s.worn && !s.enrolled);
}

#[test]
fn band_state_survives_the_key_file() {
    let fx = enrolled_band();
    let back = crate::State::from_bytes(&fx.state_bytes()).unwrap();
    assert_eq!(back.band(), fx.auth.state().band());
    assert!(back.band().unwrap().enrolled);
}

#[test]
fn delete_user_data_wipes_credentials_large_blobs_and_the_finger() {
    // The "reassign" primitive: nothing of the previous wearer may survive.
    let mut fx = enrolled_band();
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x01 | 0x10, Some(RP)).unwrap();
    let resp = fx.make_credential(RP, b"worker-a", true, Some(&token), vec![]).unwrap();
    let resident_id = parse_auth_data(resp.get_int_key(2).unwrap().as_bytes().unwrap())
        .credential_id
        .unwrap();
    let wrapped = fx.make_credential(RP, b"worker-a", false, None, vec![]).unwrap();
    let wrapped_id = parse_auth_data(wrapped.get_int_key(2).unwrap().as_bytes().unwrap())
        .credential_id
        .unwrap();
    // A large blob written with the lbw permission the token kept.
    let array = [
        &[0x81u8, 0x43, 1, 2, 3][..],
        &crate::crypto::sha256(&[0x81, 0x43, 1, 2, 3])[..16],
    ]
    .concat();
    let message = [
        &[0xffu8; 32][..],
        &[0x0c, 0x00],
        &0u32.to_le_bytes(),
        &crate::crypto::sha256(&array),
    ]
    .concat();
    fx.call(
        0x0C,
        vec![
            (2, crate::cbor::Value::bytes(&array)),
            (3, crate::cbor::Value::Int(0)),
            (4, crate::cbor::Value::Int(array.len() as i128)),
            (5, crate::cbor::Value::bytes(&auth_param(&token, &message))),
            (6, crate::cbor::Value::Int(2)),
        ],
    )
    .unwrap();
    assert_eq!(fx.auth.state().large_blob_array(), array.as_slice());
    fx.auth.state.set_enterprise_rp_ids(vec!["corp.example".into()]);
    fx.auth.take_dirty();

    fx.auth.band_delete_user_data(&mut fx.env).unwrap();
    assert!(fx.auth.take_dirty());
    let s = fx.auth.state();
    assert!(s.credentials().is_empty());
    assert_eq!(s.large_blob_array(), crate::state::empty_large_blob_array().as_slice());
    assert!(!s.pin_is_set());
    let band = s.band().unwrap();
    assert!(!band.enrolled && band.template_id.is_empty() && band.template_name.is_empty());
    assert!(band.worn, "still on the wrist, ready to enrol");
    assert_eq!(
        s.enterprise_rp_ids(),
        ["corp.example".to_owned()],
        "factory configuration stays"
    );
    // Neither credential works any more, discoverable or not.
    for id in [resident_id, wrapped_id] {
        assert_eq!(
            fx.get_assertion(RP, Some(&[id]), None, vec![]).unwrap_err(),
            Status::NoCredentials
        );
    }
    // And the band enrols its next wearer.
    assert_eq!(
        fx.auth.band_enrol_finger(&mut fx.env, &GOOD),
        Ok(EnrolOutcome::Enrolled)
    );
}
