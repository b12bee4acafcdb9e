use p256::ecdh::diffie_hellman;
use rand_core::OsRng;
use serde_json::Value;

use super::*;

fn data(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn private(jwk: &Value, kid: &str) -> EcPrivateKey {
    EcPrivateKey::from_jwk_d(kid, jwk["d"].as_str().unwrap()).unwrap()
}

fn public(jwk: &Value) -> PublicJwk {
    PublicJwk {
        kty: "EC".into(),
        crv: "P-256".into(),
        x: jwk["x"].as_str().unwrap().into(),
        y: jwk["y"].as_str().unwrap().into(),
        kid: None,
        use_: None,
        alg: None,
    }
}

/// RFC 7518 Appendix C: the ECDH-ES agreement between the published keys, through the Concat
/// KDF with apu "Alice", apv "Bob", AlgorithmID "A128GCM", 128 bits.
#[test]
fn rfc7518_appendix_c_key_agreement() {
    let v = data("rfc7518-appendix-c.json");
    let alice = private(&v["alice_ephemeral"], "alice");
    let bob = public(&v["bob"]).key().unwrap();
    let z = diffie_hellman(alice.secret().to_nonzero_scalar(), bob.as_affine());
    let apu = b64::decode(v["header"]["apu"].as_str().unwrap()).unwrap();
    let apv = b64::decode(v["header"]["apv"].as_str().unwrap()).unwrap();
    let derived = concat_kdf(z.raw_secret_bytes(), "A128GCM", &apu, &apv, 128);
    assert_eq!(b64::encode(derived.as_slice()), v["derived_key"].as_str().unwrap());
    // And from Bob's side, with Alice's public key.
    let bob_private = private(&v["bob"], "bob");
    let alice_public = public(&v["alice_ephemeral"]).key().unwrap();
    let z = diffie_hellman(bob_private.secret().to_nonzero_scalar(), alice_public.as_affine());
    let derived = concat_kdf(z.raw_secret_bytes(), "A128GCM", &apu, &apv, 128);
    assert_eq!(b64::encode(derived.as_slice()), v["derived_key"].as_str().unwrap());
}

/// A JWE made by another implementation (joserfc) decrypts.
#[test]
fn decrypts_a_joserfc_jwe() {
    let v = data("joserfc-ecdh-es-a256kw.json");
    let bob = private(&v["recipient"], "bob");
    let out = decrypt(v["jwe"].as_str().unwrap(), &[bob]).unwrap();
    assert_eq!(out.plaintext.as_slice(), v["plaintext"].as_str().unwrap().as_bytes());
    assert_eq!(out.kid.as_deref(), Some("bob"));
}

fn key() -> EcPrivateKey {
    EcPrivateKey::generate(&mut OsRng)
}

#[test]
fn round_trip_with_kid_and_cty() {
    let ours = key();
    let jwe = encrypt(b"hello", &ours.public_jwk("enc", ALG), Some("JOSE"), &mut OsRng).unwrap();
    let out = decrypt(&jwe, &[key(), ours.clone()]).unwrap();
    assert_eq!(out.plaintext.as_slice(), b"hello");
    assert_eq!(out.kid.as_deref(), Some(ours.kid()));
    assert_eq!(out.cty.as_deref(), Some("JOSE"));
}

#[test]
fn refuses_another_recipient() {
    let ours = key();
    let theirs = key();
    let jwe = encrypt(b"hello", &theirs.public_jwk("enc", ALG), None, &mut OsRng).unwrap();
    assert!(matches!(
        decrypt(&jwe, std::slice::from_ref(&ours)),
        Err(JweError::UnknownRecipient(_))
    ));
    // Without a key id, the key does not unwrap.
    let mut anonymous = theirs.public_jwk("enc", ALG);
    anonymous.kid = None;
    let jwe = encrypt(b"hello", &anonymous, None, &mut OsRng).unwrap();
    assert_eq!(decrypt(&jwe, &[ours]).unwrap_err(), JweError::WrongKey);
}

#[test]
fn refuses_truncation_and_tampering() {
    let ours = key();
    let jwe = encrypt(b"hello world", &ours.public_jwk("enc", ALG), None, &mut OsRng).unwrap();
    let keys = [ours];
    // Cut off: the tag, a part, the whole tail.
    let cut = &jwe[..jwe.rfind('.').unwrap()];
    assert!(matches!(decrypt(cut, &keys), Err(JweError::Truncated(_))));
    assert!(matches!(
        decrypt(&jwe[..jwe.len() - 4], &keys),
        Err(JweError::Truncated(_))
    ));
    // One ciphertext byte changed.
    let parts: Vec<&str> = jwe.split('.').collect();
    let mut ciphertext = b64::decode(parts[3]).unwrap();
    ciphertext[0] ^= 1;
    let altered = [parts[0], parts[1], parts[2], &b64::encode(&ciphertext), parts[4]].join(".");
    assert_eq!(decrypt(&altered, &keys).unwrap_err(), JweError::Tampered);
    // The IV changed.
    let mut iv = b64::decode(parts[2]).unwrap();
    iv[0] ^= 1;
    let altered = [parts[0], parts[1], &b64::encode(&iv), parts[3], parts[4]].join(".");
    assert_eq!(decrypt(&altered, &keys).unwrap_err(), JweError::Tampered);
    // The wrapped key changed.
    let mut wrapped = b64::decode(parts[1]).unwrap();
    wrapped[3] ^= 1;
    let altered = [parts[0], &b64::encode(&wrapped), parts[2], parts[3], parts[4]].join(".");
    assert_eq!(decrypt(&altered, &keys).unwrap_err(), JweError::WrongKey);
}

#[test]
fn refuses_other_algorithms() {
    let ours = key();
    let jwe = encrypt(b"x", &ours.public_jwk("enc", ALG), None, &mut OsRng).unwrap();
    let parts: Vec<&str> = jwe.split('.').collect();
    let mut header: Value = serde_json::from_slice(&b64::decode(parts[0]).unwrap()).unwrap();
    for (member, value) in [("alg", "ECDH-ES"), ("alg", "RSA1_5"), ("enc", "A128CBC-HS256")] {
        let mut h = header.clone();
        h[member] = value.into();
        let altered = [&b64::encode(h.to_string()), parts[1], parts[2], parts[3], parts[4]].join(".");
        assert_eq!(
            decrypt(&altered, std::slice::from_ref(&ours)).unwrap_err(),
            JweError::UnsupportedAlgorithm(value.into())
        );
    }
    header["crit"] = serde_json::json!(["exp"]);
    let altered = [&b64::encode(header.to_string()), parts[1], parts[2], parts[3], parts[4]].join(".");
    assert!(matches!(
        decrypt(&altered, &[ours]),
        Err(JweError::UnsupportedAlgorithm(_))
    ));
}
