use super::*;
use crate::test_support::Fixture;

#[test]
fn models_have_distinct_aaguids() {
    let m = models();
    assert!(m.len() >= 2);
    assert_ne!(m[0].aaguid, m[1].aaguid);
    assert_eq!(model_by_name("band").unwrap().kind, ModelKind::Band);
    assert_eq!(model_by_name("nfc-key").unwrap().kind, ModelKind::NfcKey);
}

#[test]
fn round_trips_a_used_state() {
    let mut fx = Fixture::model("band");
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x01, Some("example.com")).unwrap();
    fx.make_credential("example.com", b"user", true, Some(&token), vec![])
        .unwrap();
    let bytes = fx.state_bytes();
    let back = State::from_bytes(&bytes).unwrap();
    assert_eq!(&back, fx.auth.state());
    assert_eq!(back.to_bytes(), bytes);
}

#[test]
fn rejects_foreign_or_damaged_files() {
    let fx = Fixture::new();
    let bytes = fx.state_bytes();
    assert_eq!(State::from_bytes(b"nope").unwrap_err(), StateError::BadMagic);
    assert!(matches!(
        State::from_bytes(&bytes[..bytes.len() - 1]),
        Err(StateError::Malformed(_))
    ));
    let renamed = [&bytes[..4], &cbor::encode(&Value::int_map(vec![(0, Value::Int(9))]))].concat();
    assert_eq!(
        State::from_bytes(&renamed).unwrap_err(),
        StateError::UnsupportedVersion(9)
    );
}

#[test]
fn attestation_from_pkcs8() {
    use p256::pkcs8::EncodePrivateKey;
    let key = p256::SecretKey::from_slice(&[3u8; 32]).unwrap();
    let der = key.to_pkcs8_der().unwrap();
    let m = AttestationMaterial::from_pkcs8_der(der.as_bytes(), vec![], "s".into()).unwrap();
    assert_eq!(*m.private_key, [3u8; 32]);
    assert_eq!(
        AttestationMaterial::from_pkcs8_der(b"junk", vec![], "s".into()).unwrap_err(),
        StateError::BadAttestationKey
    );
}

#[test]
fn the_signature_counter_only_moves_up() {
    let mut state = Fixture::new().auth.state().clone();
    let start = state.sign_count();
    state.raise_sign_count(start + 100);
    assert_eq!(state.sign_count(), start + 100);
    state.raise_sign_count(start + 5);
    assert_eq!(state.sign_count(), start + 100, "never down");
}
