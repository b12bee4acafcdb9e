use jwt_simple::prelude::{Duration, UnixTimeStamp};
use rand_core::OsRng;
use serde_json::{Value, json};

use super::*;
use crate::b64;

fn data() -> Value {
    let path = format!("{}/tests/data/joserfc-vectors.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn key() -> EcPrivateKey {
    EcPrivateKey::generate(&mut OsRng)
}

fn hello() -> Vec<u8> {
    br#"{"hello":"world"}"#.to_vec()
}

/// A JWE made by another implementation (joserfc), with no registered claims, decrypts.
#[test]
fn decrypts_a_joserfc_jwe() {
    let v = data();
    let bob = EcPrivateKey::from_jwk_d("bob", v["bob"]["d"].as_str().unwrap()).unwrap();
    let out = decrypt(v["request"].as_str().unwrap(), &[key(), bob]).unwrap();
    let plaintext: Value = serde_json::from_slice(&out.plaintext).unwrap();
    assert_eq!(plaintext, v["request_plaintext"]);
    assert_eq!(out.kid.as_deref(), Some("bob"));
    assert_eq!(out.issued_at, None);
}

#[test]
fn round_trip_with_kid_cty_and_validity() {
    let ours = key();
    let jwe = encrypt(&hello(), &ours.public_jwk("enc", ALG), Some("example"), &mut OsRng).unwrap();
    let out = decrypt(&jwe, &[key(), ours.clone()]).unwrap();
    assert_eq!(out.plaintext.as_slice(), hello().as_slice());
    assert_eq!(out.kid.as_deref(), Some(ours.kid()));
    assert_eq!(out.cty.as_deref(), Some("example"));
    assert!(out.issued_at.is_some());
    // The protected header is the agreed suite.
    let header: Value = serde_json::from_slice(&b64::decode(jwe.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!((header["alg"].as_str(), header["enc"].as_str()), (Some(ALG), Some(ENC)));
    assert_eq!(header["epk"]["crv"], "P-256");
    // Valid for VALIDITY_SECONDS, not a second more (beyond the clock tolerance).
    let issued = UnixTimeStamp::from_secs(out.issued_at.unwrap());
    let tolerance = Duration::from_secs(15 * 60);
    let late = issued + Duration::from_secs(VALIDITY_SECONDS) + tolerance;
    assert!(decrypt_at(&jwe, std::slice::from_ref(&ours), Some(late)).is_ok());
    let later = late + Duration::from_secs(2);
    assert_eq!(decrypt_at(&jwe, &[ours], Some(later)).unwrap_err(), JweError::Expired);
}

#[test]
fn keeps_an_exp_the_plaintext_has() {
    let ours = key();
    let expired = json!({"hello": "world", "exp": 1_577_836_800}).to_string();
    let jwe = encrypt(expired.as_bytes(), &ours.public_jwk("enc", ALG), None, &mut OsRng).unwrap();
    assert_eq!(decrypt(&jwe, &[ours]).unwrap_err(), JweError::Expired);
}

#[test]
fn refuses_a_plaintext_that_is_not_a_json_object() {
    let ours = key();
    for plaintext in [&b"Live long and prosper."[..], b"[1,2]", b"\"text\""] {
        assert_eq!(
            encrypt(plaintext, &ours.public_jwk("enc", ALG), None, &mut OsRng).unwrap_err(),
            JweError::NotClaims
        );
    }
}

#[test]
fn refuses_to_encrypt_to_a_signing_key_or_another_curve() {
    let ours = key();
    let signing = ours.public_jwk("sig", "ES256");
    assert!(matches!(
        encrypt(&hello(), &signing, None, &mut OsRng),
        Err(JweError::BadRecipient(_))
    ));
    // A P-384 public key (made with pyca/cryptography): jwt-simple's ECDH-ES is P-256 only.
    let p384 = PublicJwk {
        crv: "P-384".into(),
        x: "bvZ4dI81eevpzGI07FOLlFtlw0_pLRGrTeZzAM0ZvUucGYKx_RjWd1Ih_GxrcuIm".into(),
        y: "gqRFanKKhHC7CK97swpDr9vVQvOcjkJGOIXm33XoryNvktWA1DSeyg_yYdXj6K20".into(),
        ..ours.public_jwk("enc", ALG)
    };
    assert!(matches!(
        encrypt(&hello(), &p384, None, &mut OsRng),
        Err(JweError::BadRecipient(_))
    ));
}

#[test]
fn refuses_another_recipient() {
    let ours = key();
    let theirs = key();
    let jwe = encrypt(&hello(), &theirs.public_jwk("enc", ALG), None, &mut OsRng).unwrap();
    assert!(matches!(
        decrypt(&jwe, std::slice::from_ref(&ours)),
        Err(JweError::UnknownRecipient(_))
    ));
    // Without a key id, the key does not unwrap.
    let mut anonymous = theirs.public_jwk("enc", ALG);
    anonymous.kid = None;
    let jwe = encrypt(&hello(), &anonymous, None, &mut OsRng).unwrap();
    assert_eq!(decrypt(&jwe, &[ours, key()]).unwrap_err(), JweError::WrongKey);
}

#[test]
fn refuses_truncation_and_tampering() {
    let ours = key();
    let jwe = encrypt(&hello(), &ours.public_jwk("enc", ALG), None, &mut OsRng).unwrap();
    let keys = [ours];
    // Cut off: the tag, a part, the whole tail.
    let cut = &jwe[..jwe.rfind('.').unwrap()];
    assert!(matches!(decrypt(cut, &keys), Err(JweError::Truncated(_))));
    assert!(matches!(
        decrypt(&jwe[..jwe.len() - 4], &keys),
        Err(JweError::Truncated(_))
    ));
    assert!(matches!(decrypt(&jwe[..20], &keys), Err(JweError::Truncated(_))));
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
    // The header changed (it is the AAD): a member added.
    let mut header: Value = serde_json::from_slice(&b64::decode(parts[0]).unwrap()).unwrap();
    header["typ"] = "JWE".into();
    let altered = [&b64::encode(header.to_string()), parts[1], parts[2], parts[3], parts[4]].join(".");
    assert_eq!(decrypt(&altered, &keys).unwrap_err(), JweError::Tampered);
}

#[test]
fn refuses_other_algorithms() {
    let ours = key();
    let jwe = encrypt(&hello(), &ours.public_jwk("enc", ALG), None, &mut OsRng).unwrap();
    let parts: Vec<&str> = jwe.split('.').collect();
    let mut header: Value = serde_json::from_slice(&b64::decode(parts[0]).unwrap()).unwrap();
    for (member, value) in [
        ("alg", "ECDH-ES"),
        ("alg", "RSA1_5"),
        ("enc", "A128CBC-HS256"),
        ("enc", "A128GCM"),
    ] {
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
