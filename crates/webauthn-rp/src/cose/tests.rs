//! COSE key validation tests (bad-input row 22) and signature algorithm checks.

use super::*;
use rand::SeedableRng;

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

// ---- aws-lc-rs verification: the encoding rules kept in `checks` ----

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from the integers' contents octets as given.
fn der_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
    let int = |v: &[u8]| [&[0x02, v.len() as u8][..], v].concat();
    let body = [int(r), int(s)].concat();
    [&[0x30, body.len() as u8][..], &body].concat()
}

/// The group order minus `k`, big-endian (`k` small).
fn order_minus(order: &[u8], k: u8) -> Vec<u8> {
    let mut v = order.to_vec();
    let last = v.len() - 1;
    v[last] -= k;
    v
}

/// Crafted ECDSA signatures, each judged by `checks::ecdsa_der_ok` and by the strict parser of
/// the RustCrypto `ecdsa` crate this crate used before: they must agree on every one.
fn crafted_signatures(valid: &[u8], order: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let n_plus = {
        let mut v = order.to_vec();
        let last = v.len() - 1;
        v[last] += 1;
        v
    };
    let with_sign = |v: &[u8]| {
        if v[0] & 0x80 != 0 {
            [&[0][..], v].concat()
        } else {
            v.to_vec()
        }
    };
    let mut long_form = valid.to_vec();
    long_form.splice(1..2, [0x81, valid[1]]);
    vec![
        ("valid", valid.to_vec()),
        ("trailing byte", [valid, &[0][..]].concat()),
        ("truncated", valid[..valid.len() - 1].to_vec()),
        ("long-form length below 128", long_form),
        ("r = 0", der_sig(&[0], &[1])),
        ("s = 0", der_sig(&[1], &[0])),
        ("r = 1, s = 1", der_sig(&[1], &[1])),
        ("r = n", der_sig(&with_sign(order), &[1])),
        ("s = n + 1", der_sig(&[1], &with_sign(&n_plus))),
        ("r = n - 1", der_sig(&with_sign(&order_minus(order, 1)), &[1])),
        ("negative r", der_sig(&[0x80, 1], &[1])),
        ("non-minimal r", der_sig(&[0, 1], &[1])),
        ("empty r", der_sig(&[], &[1])),
        ("r too long", der_sig(&[&[1][..], order].concat(), &[1])),
        ("wrong outer tag", [&[0x31][..], &valid[1..]].concat()),
        ("wrong integer tag", {
            let mut v = valid.to_vec();
            v[2] = 0x03;
            v
        }),
        ("empty", Vec::new()),
    ]
}

#[test]
fn ecdsa_encoding_rules_match_the_previous_strict_parser() {
    use p256::ecdsa::signature::Signer;
    let p256_key = signing_key();
    let valid: p256::ecdsa::DerSignature = p256_key.sign(b"message");
    let order = EcCurve::P256.order();
    assert_eq!(
        hex_of(order),
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
    );
    for (what, sig) in crafted_signatures(valid.as_bytes(), order) {
        assert_eq!(
            checks::ecdsa_der_ok(&sig, EcCurve::P256),
            p256::ecdsa::Signature::from_der(&sig).is_ok(),
            "P-256: {what}"
        );
    }

    let p384_key = p384::ecdsa::SigningKey::from_slice(&[7; 48]).unwrap();
    let valid: p384::ecdsa::DerSignature = p384_key.sign(b"message");
    for (what, sig) in crafted_signatures(valid.as_bytes(), EcCurve::P384.order()) {
        assert_eq!(
            checks::ecdsa_der_ok(&sig, EcCurve::P384),
            p384::ecdsa::Signature::from_der(&sig).is_ok(),
            "P-384: {what}"
        );
    }
}

#[test]
fn malformed_ecdsa_signatures_are_malformed_and_wrong_ones_invalid() {
    let key = parse(&cose_es256(&signing_key())).unwrap();
    let order = EcCurve::P256.order();
    let n = [&[0][..], order].concat();
    assert_eq!(
        key.verify(&[b"message"], &der_sig(&n, &[1])),
        Err(SignatureError::Malformed)
    );
    assert_eq!(
        key.verify(&[b"message"], &der_sig(&[0], &[1])),
        Err(SignatureError::Malformed)
    );
    // In range but not a signature of the message.
    let n_1 = [&[0][..], &order_minus(order, 1)].concat();
    assert_eq!(
        key.verify(&[b"message"], &der_sig(&n_1, &[1])),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn small_order_table_is_the_torsion_subgroup() {
    use curve25519_dalek::constants::EIGHT_TORSION;
    let mut computed: Vec<[u8; 32]> = EIGHT_TORSION.iter().map(|p| p.compress().to_bytes()).collect();
    let mut table = checks::ED25519_SMALL_ORDER.to_vec();
    computed.sort();
    table.sort();
    assert_eq!(computed, table);
}

/// A signature with R = the identity that satisfies the cofactorless equation
/// [S]B = R + [k]A: only the key's owner can make one (S = k·a), and aws-lc alone accepts it.
/// ed25519-dalek's verify_strict, which this crate used before, refuses it; so does this crate.
#[test]
fn ed25519_signatures_with_small_order_r_are_refused() {
    use curve25519_dalek::scalar::Scalar;
    let signer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let public = signer.verifying_key().to_bytes();
    let message = b"message";
    let r = checks::ED25519_SMALL_ORDER[0];
    let k = Scalar::from_bytes_mod_order_wide(&sha2::Sha512::digest([&r[..], &public, message].concat()).into());
    let s = k * signer.to_scalar();
    let signature = [r, s.to_bytes()].concat();

    // The equation holds: aws-lc on its own accepts the signature.
    assert!(
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, public)
            .verify(message, &signature)
            .is_ok()
    );
    // ed25519-dalek's strict verification does not, and neither does this crate.
    let dalek_sig = ed25519_dalek::Signature::from_slice(&signature).unwrap();
    assert!(signer.verifying_key().verify_strict(message, &dalek_sig).is_err());
    let cose = map(&[
        (int(1), int(1)),
        (int(3), int(-8)),
        (int(-1), int(6)),
        (int(-2), bytes(&public)),
    ]);
    let key = parse(&cose).unwrap();
    assert_eq!(key.verify(&[message], &signature), Err(SignatureError::Invalid));
    // An honest signature verifies; a short one is malformed.
    use ed25519_dalek::Signer;
    let honest = signer.sign(message).to_bytes();
    assert_eq!(key.verify(&[b"mess", b"age"], &honest), Ok(()));
    assert_eq!(key.verify(&[message], &honest[..63]), Err(SignatureError::Malformed));
}

#[test]
fn es512_keys_on_p521_parse_and_verify() {
    use aws_lc_rs::signature::{self as lc, KeyPair};
    let key = lc::EcdsaKeyPair::generate(&lc::ECDSA_P521_SHA512_ASN1_SIGNING).unwrap();
    let point = key.public_key().as_ref().to_vec();
    assert_eq!(point.len(), 133);
    let ec = |x: &[u8], y: &[u8], crv: i64| {
        map(&[
            (int(1), int(2)),
            (int(3), int(-36)),
            (int(-1), int(crv)),
            (int(-2), bytes(x)),
            (int(-3), bytes(y)),
        ])
    };
    let (x, y) = (&point[1..67], &point[67..]);
    let parsed = parse(&ec(x, y, 3)).unwrap();
    assert_eq!(parsed.alg(), CoseAlgorithm::Es512);
    assert!(matches!(parsed.key(), PublicKey::P521(k) if k.uncompressed() == point));
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = key.sign(&rng, b"message").unwrap();
    assert_eq!(parsed.verify(&[b"mess", b"age"], sig.as_ref()), Ok(()));
    assert_eq!(parsed.verify(&[b"other"], sig.as_ref()), Err(SignatureError::Invalid));
    // Coordinates of the wrong length, a point off the curve, the wrong curve.
    assert_eq!(parse(&ec(&x[1..], y, 3)).unwrap_err().code(), "invalid_public_key");
    let mut bad_y = y.to_vec();
    bad_y[65] ^= 1;
    assert_eq!(parse(&ec(x, &bad_y, 3)).unwrap_err().code(), "invalid_public_key");
    assert_eq!(parse(&ec(x, y, 1)).unwrap_err().code(), "unsupported_algorithm");
}

#[test]
fn rsa_keys_are_kept_without_leading_zeros_and_verify() {
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    let private = rsa_test_key();
    let (n, e) = (private.n().to_bytes_be(), private.e().to_bytes_be());
    let padded_n = [&[0][..], &n].concat();
    for alg in [-257, -37] {
        let cose = map(&[
            (int(1), int(3)),
            (int(3), int(alg)),
            (int(-1), bytes(&padded_n)),
            (int(-2), bytes(&[0, 1, 0, 1])),
        ]);
        let key = parse(&cose).unwrap();
        let PublicKey::Rsa(rsa_key) = key.key() else {
            panic!("an RSA key")
        };
        assert_eq!((rsa_key.n(), rsa_key.e(), rsa_key.bits()), (&n[..], &e[..], 2048));
        let sig = if alg == -257 {
            rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private.clone())
                .sign(b"message")
                .to_vec()
        } else {
            use rsa::signature::RandomizedSigner;
            rsa::pss::SigningKey::<sha2::Sha256>::new(private.clone())
                .sign_with_rng(&mut rand::rngs::StdRng::from_seed([1; 32]), b"message")
                .to_vec()
        };
        assert_eq!(key.verify(&[b"mess", b"age"], &sig), Ok(()), "alg {alg}");
        assert_eq!(key.verify(&[b"other"], &sig), Err(SignatureError::Invalid), "alg {alg}");
        // The other padding does not verify.
        let other = if alg == -257 {
            CoseAlgorithm::Ps256
        } else {
            CoseAlgorithm::Rs256
        };
        assert_eq!(
            key.key().verify(other, &[b"message"], &sig),
            Err(SignatureError::Invalid)
        );
        // Through the digest path used for certificates.
        assert_eq!(
            rsa_verify(rsa_key, key.alg(), &HashAlg::Sha256.digest(&[b"message"]), &sig),
            Ok(())
        );
    }
    // An exponent above 33 bits is refused, as the rsa crate refused it.
    let cose = map(&[
        (int(1), int(3)),
        (int(3), int(-257)),
        (int(-1), bytes(&n)),
        (int(-2), bytes(&[3, 0, 0, 0, 1])),
    ]);
    assert_eq!(parse(&cose).unwrap_err().code(), "invalid_public_key");
}

fn rsa_test_key() -> rsa::RsaPrivateKey {
    use rand::SeedableRng;
    rsa::RsaPrivateKey::new(&mut rand::rngs::StdRng::from_seed([42; 32]), 2048).unwrap()
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
