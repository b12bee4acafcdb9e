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

/// Removes integer keys from a map value.
fn without(v: &Value, keys: &[i128]) -> Value {
    Value::Map(
        v.as_map()
            .unwrap()
            .iter()
            .filter(|(k, _)| !keys.contains(&k.as_int().unwrap()))
            .cloned()
            .collect(),
    )
}

#[test]
fn a_key_file_from_before_the_new_fields_still_loads() {
    // Version-1 files written before credential alg/credBlob (11, 12), the band template (5, 6),
    // large blobs (20) and enterprise attestation (21–23): rebuild one from today's output.
    let mut fx = Fixture::model("band");
    fx.auth.band_wear().unwrap();
    fx.auth
        .band_enrol_finger(&mut fx.env, &[crate::CaptureQuality::Good; 15])
        .unwrap();
    fx.set_pin("1234").unwrap();
    let token = fx.pin_token("1234", 0x01, Some("example.com")).unwrap();
    fx.make_credential("example.com", b"user", true, Some(&token), vec![])
        .unwrap();
    let bytes = fx.state_bytes();
    let body = cbor::decode(&bytes[4..], 3).unwrap();
    let mut old = without(&body, &[20, 21, 22, 23]);
    if let Value::Map(entries) = &mut old {
        for (k, v) in entries.iter_mut() {
            match k.as_int().unwrap() {
                18 => *v = Value::Array(v.as_array().unwrap().iter().map(|c| without(c, &[11, 12])).collect()),
                19 => *v = without(v, &[5, 6]),
                _ => {}
            }
        }
    }
    let old_bytes = [&bytes[..4], &cbor::encode(&old)].concat();
    let back = State::from_bytes(&old_bytes).unwrap();
    assert_eq!(back.credentials().len(), 1);
    assert_eq!(back.credentials()[0].alg, crate::crypto::Alg::Es256);
    assert_eq!(back.credentials()[0].cred_blob, None);
    assert_eq!(
        back.credentials()[0].private_key,
        fx.auth.state().credentials()[0].private_key
    );
    assert_eq!(back.large_blob_array(), empty_large_blob_array().as_slice());
    assert!(!back.enterprise_attestation_enabled());
    assert!(back.enterprise_rp_ids().is_empty());
    assert_eq!(back.enterprise_certificate(), None);
    let band = back.band().unwrap();
    assert!(band.enrolled);
    assert_eq!(band.template_id, vec![1], "an old enrolment gets template ID 0x01");
    assert_eq!(band.template_name, "");
    // Saved again, it is a complete new-format file.
    assert_eq!(State::from_bytes(&back.to_bytes()).unwrap(), back);
}

#[test]
fn bad_new_fields_are_refused() {
    let fx = Fixture::new();
    let bytes = fx.state_bytes();
    let body = cbor::decode(&bytes[4..], 3).unwrap();
    let mut bad = without(&body, &[20]);
    if let Value::Map(entries) = &mut bad {
        entries.push((Value::Int(20), Value::Int(1)));
    }
    let bad_bytes = [&bytes[..4], &cbor::encode(&bad)].concat();
    assert!(matches!(State::from_bytes(&bad_bytes), Err(StateError::Malformed(_))));
}
