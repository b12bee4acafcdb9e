//! COSE key validation tests (bad-input row 22) and signature algorithm checks.

use super::*;
use crate::test_support::{bytes, cose_es256, int, map, signing_key};

fn parse(cose: &[u8]) -> Result<CredentialPublicKey, CoseError> {
    CredentialPublicKey::from_cose(cose)
}

fn rsa_cose(n: &[u8], e: &[u8]) -> Vec<u8> {
    map(&[
        (int(1), int(3)),
        (int(3), int(-257)),
        (int(-1), bytes(n)),
        (int(-2), bytes(e)),
    ])
}

fn modulus(bits: usize) -> Vec<u8> {
    let mut n = vec![0xc5; bits / 8];
    let last = n.len() - 1;
    n[last] |= 1;
    n
}

#[test]
fn es256_key_round_trips() {
    let cose = cose_es256(&signing_key());
    let key = parse(&cose).unwrap();
    assert_eq!(key.alg(), CoseAlgorithm::Es256);
    assert_eq!(key.cose_bytes(), cose);
    assert!(matches!(key.key(), PublicKey::P256(_)));
}

#[test]
fn row22_ec_points_must_be_on_the_curve_with_exact_lengths() {
    let point = signing_key().verifying_key().to_encoded_point(false);
    let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
    let ec = |x: &[u8], y: &[u8], crv: i64, alg: i64| {
        map(&[
            (int(1), int(2)),
            (int(3), int(alg)),
            (int(-1), int(crv)),
            (int(-2), bytes(x)),
            (int(-3), bytes(y)),
        ])
    };
    let mut bad_y = y.clone();
    bad_y[0] ^= 0x80;
    assert_eq!(parse(&ec(&x, &bad_y, 1, -7)).unwrap_err().code(), "invalid_public_key");
    assert_eq!(parse(&ec(&x[1..], &y, 1, -7)).unwrap_err().code(), "invalid_public_key");
    assert_eq!(
        parse(&ec(&[&[0][..], &x].concat(), &y, 1, -7)).unwrap_err().code(),
        "invalid_public_key"
    );
    // The all-zero "point" is not on P-256.
    assert_eq!(
        parse(&ec(&[0; 32], &[0; 32], 1, -7)).unwrap_err().code(),
        "invalid_public_key"
    );
    // ES256 with a P-384 curve id, or ES384 with P-256 coordinates.
    assert_eq!(parse(&ec(&x, &y, 2, -7)).unwrap_err().code(), "unsupported_algorithm");
    assert_eq!(parse(&ec(&x, &y, 2, -35)).unwrap_err().code(), "invalid_public_key");
}

#[test]
fn row22_rsa_keys_must_be_strong() {
    // e = 0, 1, even; modulus under 2048 bits; even modulus.
    assert_eq!(
        parse(&rsa_cose(&modulus(2048), &[0])).unwrap_err().code(),
        "invalid_public_key"
    );
    assert_eq!(
        parse(&rsa_cose(&modulus(2048), &[1])).unwrap_err().code(),
        "invalid_public_key"
    );
    assert_eq!(
        parse(&rsa_cose(&modulus(2048), &[1, 0, 0])).unwrap_err().code(),
        "invalid_public_key"
    );
    assert_eq!(
        parse(&rsa_cose(&modulus(1024), &[1, 0, 1])).unwrap_err().code(),
        "invalid_public_key"
    );
    let mut even = modulus(2048);
    let last = even.len() - 1;
    even[last] &= 0xfe;
    assert_eq!(
        parse(&rsa_cose(&even, &[1, 0, 1])).unwrap_err().code(),
        "invalid_public_key"
    );
    // A well-formed 2048-bit key with e = 65537 is accepted.
    assert!(parse(&rsa_cose(&modulus(2048), &[1, 0, 1])).is_ok());
}

#[test]
fn ed25519_keys_must_be_valid_points_of_large_order() {
    let okp = |x: &[u8]| {
        map(&[
            (int(1), int(1)),
            (int(3), int(-8)),
            (int(-1), int(6)),
            (int(-2), bytes(x)),
        ])
    };
    // The identity point (small order).
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(parse(&okp(&identity)).unwrap_err().code(), "invalid_public_key");
    assert_eq!(parse(&okp(&[9; 31])).unwrap_err().code(), "invalid_public_key");
    let good = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    assert!(matches!(
        parse(&okp(good.as_bytes())).unwrap().key(),
        PublicKey::Ed25519(_)
    ));
}

#[test]
fn structure_and_algorithm_are_checked() {
    assert_eq!(parse(&int(1)).unwrap_err().code(), "invalid_cose_key");
    assert_eq!(
        parse(&map(&[(int(3), int(-7))])).unwrap_err().code(),
        "invalid_cose_key"
    );
    assert_eq!(parse(&map(&[(int(1), int(2))])).unwrap_err().code(), "invalid_cose_key");
    // Unknown algorithm; RS1 as a credential key.
    assert_eq!(
        parse(&map(&[(int(1), int(2)), (int(3), int(-999))]))
            .unwrap_err()
            .code(),
        "unsupported_algorithm"
    );
    let rs1 = map(&[
        (int(1), int(3)),
        (int(3), int(-65535)),
        (int(-1), bytes(&modulus(2048))),
        (int(-2), bytes(&[1, 0, 1])),
    ]);
    assert_eq!(parse(&rs1).unwrap_err().code(), "unsupported_algorithm");
    // Trailing bytes after the key.
    let mut cose = cose_es256(&signing_key());
    cose.push(0);
    assert_eq!(parse(&cose).unwrap_err().code(), "invalid_cose_key");
}

#[test]
fn signatures_need_the_matching_algorithm() {
    let key = parse(&cose_es256(&signing_key())).unwrap();
    let sig = crate::test_support::sign(&signing_key(), &[b"message"]);
    assert_eq!(key.verify(&[b"message"], &sig), Ok(()));
    assert_eq!(key.verify(&[b"mess", b"age"], &sig), Ok(()));
    assert_eq!(key.verify(&[b"other"], &sig), Err(SignatureError::Invalid));
    assert_eq!(
        key.key().verify(CoseAlgorithm::Rs256, &[b"message"], &sig),
        Err(SignatureError::AlgorithmKeyMismatch)
    );
    assert_eq!(
        key.verify(&[b"message"], &sig[..sig.len() - 1]),
        Err(SignatureError::Malformed)
    );
}
