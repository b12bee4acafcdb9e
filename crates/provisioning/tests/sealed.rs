//! The factory's answers, sealed and opened: the round trip, an answer sealed by another
//! implementation (joserfc), and each refusal of issue 14 (unknown signer, wrong recipient,
//! truncated, tampered, wrong algorithm, expired).

use keyfleet_provisioning::api::{PIN_RESPONSE_TYP, PinResponse};
use keyfleet_provisioning::jwk::{EcPrivateKey, Jwks, PublicJwk};
use keyfleet_provisioning::sealed::{OpenError, open, seal};
use keyfleet_provisioning::{b64, jwe, jws};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Payload {
    serial: String,
}

const TYP: &str = "test+jwt";

struct Parties {
    factory_sign: EcPrivateKey,
    customer: EcPrivateKey,
}

impl Parties {
    fn new() -> Parties {
        Parties {
            factory_sign: EcPrivateKey::generate(&mut OsRng),
            customer: EcPrivateKey::generate(&mut OsRng),
        }
    }

    fn signers(&self) -> Jwks {
        Jwks {
            keys: vec![self.factory_sign.public_jwk("sig", jws::ALG)],
        }
    }

    fn sealed(&self) -> String {
        seal(
            &Payload { serial: "KF-1".into() },
            TYP,
            &self.factory_sign,
            &self.customer.public_jwk("enc", jwe::ALG),
            &mut OsRng,
        )
        .unwrap()
    }

    fn open(&self, compact: &str) -> Result<Payload, OpenError> {
        open(compact, std::slice::from_ref(&self.customer), &self.signers(), TYP)
    }
}

#[test]
fn round_trip() {
    let p = Parties::new();
    assert_eq!(p.open(&p.sealed()).unwrap(), Payload { serial: "KF-1".into() });
}

/// The shape on the wire (docs/key-factory.md): a JWE of `{"jws", "iat", "nbf", "exp"}`, the
/// JWS a signed JWT whose claims are the payload with `iat`, `nbf`, `exp`.
#[test]
fn the_sealed_shape() {
    let p = Parties::new();
    let decrypted = jwe::decrypt(&p.sealed(), std::slice::from_ref(&p.customer)).unwrap();
    let envelope: Value = serde_json::from_slice(&decrypted.plaintext).unwrap();
    let signed = envelope["jws"].as_str().unwrap();
    assert_eq!(envelope.as_object().unwrap().len(), 1, "{envelope}");
    let parts: Vec<&str> = signed.split('.').collect();
    let header: Value = serde_json::from_slice(&b64::decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], TYP);
    assert_eq!(header["kid"], p.factory_sign.kid());
    let claims: Value = serde_json::from_slice(&b64::decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["serial"], "KF-1");
    let (iat, exp) = (claims["iat"].as_u64().unwrap(), claims["exp"].as_u64().unwrap());
    assert_eq!(exp - iat, jwe::VALIDITY_SECONDS);
}

fn vectors() -> Value {
    let path = format!("{}/tests/data/joserfc-vectors.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn joserfc_parties(v: &Value) -> (EcPrivateKey, Jwks) {
    let bob = EcPrivateKey::from_jwk_d("bob", v["bob"]["d"].as_str().unwrap()).unwrap();
    let factory: PublicJwk = serde_json::from_value(json!({
        "kty": "EC", "crv": "P-256", "kid": "factory", "use": "sig", "alg": "ES256",
        "x": v["factory"]["x"], "y": v["factory"]["y"],
    }))
    .unwrap();
    (bob, Jwks { keys: vec![factory] })
}

/// An answer sealed by joserfc (Python) in the same shape opens here, and its expired twin is
/// refused.
#[test]
fn opens_an_answer_sealed_by_joserfc() {
    let v = vectors();
    let (bob, signers) = joserfc_parties(&v);
    let ours = std::slice::from_ref(&bob);
    let pin: PinResponse = open(v["sealed"].as_str().unwrap(), ours, &signers, PIN_RESPONSE_TYP).unwrap();
    assert_eq!(
        (
            pin.shipment_id.as_str(),
            pin.serial_number.as_str(),
            pin.pin.as_str(),
            pin.force_pin_change
        ),
        ("shp_joserfc", "KF-JOSERFC", "271828", true)
    );
    let expired = open::<PinResponse>(v["expired"].as_str().unwrap(), ours, &signers, PIN_RESPONSE_TYP);
    assert_eq!(expired.unwrap_err(), OpenError::Expired);
    // Signed by "factory", whom this set does not know.
    let strangers = Jwks {
        keys: vec![EcPrivateKey::generate(&mut OsRng).public_jwk("sig", jws::ALG)],
    };
    let unknown = open::<PinResponse>(v["sealed"].as_str().unwrap(), ours, &strangers, PIN_RESPONSE_TYP);
    assert_eq!(unknown.unwrap_err(), OpenError::UnknownSigner("factory".into()));
}

#[test]
fn refuses_an_unknown_signer() {
    let p = Parties::new();
    let impostor = EcPrivateKey::generate(&mut OsRng);
    let forged = seal(
        &Payload { serial: "KF-1".into() },
        TYP,
        &impostor,
        &p.customer.public_jwk("enc", jwe::ALG),
        &mut OsRng,
    )
    .unwrap();
    assert_eq!(
        p.open(&forged).unwrap_err(),
        OpenError::UnknownSigner(impostor.kid().into())
    );
}

#[test]
fn refuses_a_forged_signature_under_a_known_kid() {
    let p = Parties::new();
    // An impostor's key presented under the factory's key id.
    let impostor =
        EcPrivateKey::from_bytes(p.factory_sign.kid(), &EcPrivateKey::generate(&mut OsRng).to_bytes()).unwrap();
    let forged = seal(
        &Payload { serial: "KF-1".into() },
        TYP,
        &impostor,
        &p.customer.public_jwk("enc", jwe::ALG),
        &mut OsRng,
    )
    .unwrap();
    assert_eq!(p.open(&forged).unwrap_err(), OpenError::BadSignature);
}

#[test]
fn refuses_the_wrong_recipient() {
    let p = Parties::new();
    let other = Parties::new();
    let sealed_for_other = seal(
        &Payload { serial: "KF-1".into() },
        TYP,
        &p.factory_sign,
        &other.customer.public_jwk("enc", jwe::ALG),
        &mut OsRng,
    )
    .unwrap();
    assert_eq!(p.open(&sealed_for_other).unwrap_err(), OpenError::WrongRecipient);
}

#[test]
fn refuses_truncated() {
    let p = Parties::new();
    let sealed = p.sealed();
    for cut in [sealed.len() - 3, sealed.rfind('.').unwrap(), sealed.len() / 2, 10] {
        let err = p.open(&sealed[..cut]).unwrap_err();
        assert!(
            matches!(err, OpenError::Truncated | OpenError::Malformed),
            "cut at {cut}: {err:?}"
        );
    }
    assert_eq!(p.open("").unwrap_err(), OpenError::Truncated);
}

#[test]
fn refuses_tampered() {
    let p = Parties::new();
    let sealed = p.sealed();
    let mut parts: Vec<String> = sealed.split('.').map(str::to_string).collect();
    let mut ciphertext = b64::decode(&parts[3]).unwrap();
    let last = ciphertext.len() - 1;
    ciphertext[last] ^= 0x20;
    parts[3] = b64::encode(&ciphertext);
    assert_eq!(p.open(&parts.join(".")).unwrap_err(), OpenError::Tampered);
}

#[test]
fn refuses_a_payload_of_another_type() {
    let p = Parties::new();
    let sealed = seal(
        &Payload { serial: "KF-1".into() },
        "other+jwt",
        &p.factory_sign,
        &p.customer.public_jwk("enc", jwe::ALG),
        &mut OsRng,
    )
    .unwrap();
    assert_eq!(p.open(&sealed).unwrap_err(), OpenError::Payload(TYP));
}

#[test]
fn debug_of_a_private_key_shows_only_its_kid() {
    let key = EcPrivateKey::generate(&mut OsRng);
    let shown = format!("{key:?}");
    assert!(shown.contains(key.kid()));
    assert!(!shown.contains(&hex::encode(key.to_bytes().as_slice())));
    assert!(!shown.contains(&b64::encode(key.to_bytes().as_slice())));
}

#[test]
fn refuses_an_unsigned_inner_token() {
    let p = Parties::new();
    // alg "none" (RFC 7519 §6): an unsecured JWS inside a correctly encrypted JWE.
    let unsigned = format!(
        "{}.{}.",
        b64::encode(r#"{"alg":"none","typ":"test+jwt"}"#),
        b64::encode(r#"{"serial":"KF-1"}"#)
    );
    let sealed = jwe::encrypt(
        json!({ "jws": unsigned }).to_string().as_bytes(),
        &p.customer.public_jwk("enc", jwe::ALG),
        None,
        &mut OsRng,
    )
    .unwrap();
    assert_eq!(p.open(&sealed).unwrap_err(), OpenError::WrongAlgorithm("none".into()));
}

#[test]
fn refuses_an_encrypted_message_that_is_not_a_sealed_answer() {
    let p = Parties::new();
    let recipient = p.customer.public_jwk("enc", jwe::ALG);
    for plaintext in [
        json!({"serial": "KF-1"}),
        json!({"jws": 7}),
        json!({"jws": "a.b.c", "more": 1}),
    ] {
        let jwe = jwe::encrypt(plaintext.to_string().as_bytes(), &recipient, None, &mut OsRng).unwrap();
        let err = p.open(&jwe).unwrap_err();
        assert!(
            matches!(err, OpenError::Malformed | OpenError::Truncated),
            "{plaintext}: {err:?}"
        );
    }
}
