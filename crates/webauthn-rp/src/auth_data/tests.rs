//! Authenticator data parsing.

use super::*;
use crate::test_support::{Registration, cose_es256, int, map, signing_key, text};

#[test]
fn parses_attested_credential_data_and_extensions() {
    let reg = Registration {
        flags: FLAG_UP | FLAG_AT | FLAG_ED,
        extensions: Some(map(&[(text("credProtect"), int(2))])),
        sign_count: 7,
        ..Default::default()
    };
    let raw = reg.auth_data();
    let parsed = AuthenticatorData::parse(&raw).unwrap();
    assert!(parsed.flags.user_present && !parsed.flags.user_verified);
    assert_eq!(parsed.sign_count, 7);
    let attested = parsed.attested_credential_data.unwrap();
    assert_eq!(attested.credential_id, reg.credential_id);
    assert_eq!(attested.credential_public_key, cose_es256(&signing_key()));
    assert_eq!(extension_ids(parsed.extensions.unwrap()), ["credProtect"]);
}

#[test]
fn every_byte_must_be_accounted_for() {
    let raw = Registration::default().auth_data();
    for len in [0, 36, 37 + 10, raw.len() - 1] {
        assert!(AuthenticatorData::parse(&raw[..len]).is_err(), "length {len}");
    }
    let mut long = raw.clone();
    long.push(0);
    assert_eq!(AuthenticatorData::parse(&long), Err(AuthDataError::TrailingBytes(1)));
}

#[test]
fn credential_id_length_bounds() {
    let reg = Registration {
        credential_id: vec![1; 1024],
        ..Default::default()
    };
    assert_eq!(
        AuthenticatorData::parse(&reg.auth_data()),
        Err(AuthDataError::CredentialIdLength(1024))
    );
    let reg = Registration {
        credential_id: Vec::new(),
        ..Default::default()
    };
    assert_eq!(
        AuthenticatorData::parse(&reg.auth_data()),
        Err(AuthDataError::CredentialIdLength(0))
    );
}

#[test]
fn aaguid_displays_as_a_uuid() {
    let aaguid = Aaguid([
        0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8,
    ]);
    assert_eq!(aaguid.to_string(), "cb69481e-8ff7-4039-93ec-0a2729a154a8");
    assert!(Aaguid::default().is_zero());
}
