//! The factory's answers, sealed and opened: the round trip and each refusal of issue 14
//! (unknown signer, wrong recipient, truncated, tampered, wrong algorithm).

use keyfleet_provisioning::jwk::{EcPrivateKey, Jwks};
use keyfleet_provisioning::sealed::{OpenError, open, seal};
use keyfleet_provisioning::{b64, jwe, jws};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};

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
        unsigned.as_bytes(),
        &p.customer.public_jwk("enc", jwe::ALG),
        Some("JOSE"),
        &mut OsRng,
    )
    .unwrap();
    assert_eq!(p.open(&sealed).unwrap_err(), OpenError::WrongAlgorithm("none".into()));
}
