use super::*;
use crate::TestEnv;
use crate::env::Env;

#[test]
fn both_sides_derive_the_same_secret() {
    let mut env = TestEnv::new(1);
    let a = KeyAgreementKey::generate(env.rng());
    let b = KeyAgreementKey::generate(env.rng());
    let sa = a.decapsulate(&b.public_cose()).unwrap();
    let sb = b.decapsulate(&a.public_cose()).unwrap();
    let ct = sa.encrypt(env.rng(), &[9u8; 32]);
    assert_eq!(ct.len(), 48);
    assert_eq!(sb.decrypt(&ct).unwrap().as_slice(), &[9u8; 32]);
    let mac = sa.authenticate(b"msg");
    assert!(sb.verify(b"msg", &mac));
    assert!(!sb.verify(b"msg", &mac[..16]), "protocol two compares all 32 bytes");
}

#[test]
fn kdf_matches_the_spec_construction() {
    // HKDF-SHA-256(salt = 32 zero bytes, IKM = Z, info = "CTAP2 HMAC key") keys the HMAC.
    let z = [5u8; 32];
    let s = SharedSecret::from_z(&z);
    let hk = Hkdf::<Sha256>::new(Some(&[0u8; 32]), &z);
    let mut hmac_key = [0u8; 32];
    hk.expand(b"CTAP2 HMAC key", &mut hmac_key).unwrap();
    assert_eq!(s.authenticate(b"m"), hmac_sha256(&hmac_key, &[b"m"]));
}

#[test]
fn rejects_bad_platform_keys() {
    let mut env = TestEnv::new(2);
    let a = KeyAgreementKey::generate(env.rng());
    let good = KeyAgreementKey::generate(env.rng()).public_cose();
    let mut off_curve = good.clone();
    if let Value::Map(m) = &mut off_curve {
        m[4].1 = Value::bytes(&[1u8; 32]);
    }
    assert_eq!(a.decapsulate(&off_curve).err(), Some(Status::InvalidParameter));
    assert_eq!(a.decapsulate(&Value::Int(1)).err(), Some(Status::CborUnexpectedType));
    assert_eq!(
        a.decapsulate(&Value::int_map(vec![(1, Value::Int(2))])).err(),
        Some(Status::MissingParameter)
    );
}

#[test]
fn decrypt_rejects_partial_blocks() {
    let s = SharedSecret::from_z(&[1u8; 32]);
    assert!(s.decrypt(&[0u8; 15]).is_none());
    assert!(s.decrypt(&[0u8; 33]).is_none());
    assert_eq!(s.decrypt(&[0u8; 16]).unwrap().len(), 0);
}
