//! Attestation format tests: packed full attestation on generated chains, and tpm /
//! fido-u2f checks broken one at a time in captured corpus responses (bad-input row 21).

use sha2::{Digest, Sha256};
use x509_cert::builder::Profile;

use crate::corpus::{Verdict, run_case};
use crate::json::Base64UrlBytes;
use crate::registration::{AttestationPolicy, RegistrationExpectations, TrustOutcome, verify_registration};
use crate::test_support::{self as ts, Registration, array, bytes, int, map, registration_expectations, text};
use crate::x509::TrustAnchor;
use crate::x509::tests::{self as certs, INTERMEDIATE_NAME, LEAF_NAME, VALID};

const TPM_CASE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/webauthn/yubico-tpm-windows-hello.json"
));
const U2F_CASE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/webauthn/py_webauthn-fido-u2f-security-key-nfc-firefox.json"
));

/// A packed registration whose x5c is `x5c`, signed by `signer`.
fn packed_full(x5c: &[Vec<u8>], signer: &p256::ecdsa::SigningKey) -> Registration {
    let mut reg = Registration::default();
    let auth_data = reg.auth_data();
    let sig = ts::sign(signer, &[&auth_data, &Sha256::digest(&reg.client_data)]);
    let x5c: Vec<Vec<u8>> = x5c.iter().map(|c| bytes(c)).collect();
    reg.att_stmt = Some(map(&[
        (text("alg"), int(-7)),
        (text("sig"), bytes(&sig)),
        (text("x5c"), array(&x5c)),
    ]));
    reg
}

fn code(reg: &Registration, expected: &RegistrationExpectations<'_>) -> &'static str {
    match verify_registration(expected, &reg.build()) {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    }
}

#[test]
fn packed_full_attestation_chains_to_its_anchor() {
    let root = certs::root("root", VALID);
    let anchors = vec![TrustAnchor::from_der(&root).unwrap()];
    let trusted = RegistrationExpectations {
        attestation: AttestationPolicy::Trusted {
            anchors: &anchors,
            allow_none: false,
            allow_self: false,
        },
        ..registration_expectations()
    };
    let reg = packed_full(
        &[certs::leaf(VALID), certs::intermediate("root", VALID)],
        &certs::key("leaf"),
    );
    let verified = verify_registration(&trusted, &reg.build()).unwrap();
    assert_eq!(
        verified.trust,
        TrustOutcome::Anchored {
            anchor_sha256: Sha256::digest(&root).into()
        }
    );
    // Under another anchor: not anchored.
    let other = vec![TrustAnchor::from_der(&certs::root("other root", VALID)).unwrap()];
    let untrusted = RegistrationExpectations {
        attestation: AttestationPolicy::Trusted {
            anchors: &other,
            allow_none: false,
            allow_self: false,
        },
        ..registration_expectations()
    };
    assert_eq!(code(&reg, &untrusted), "untrusted_attestation");
    // Expired leaf (row 20).
    let expired = packed_full(
        &[certs::leaf(certs::EXPIRED), certs::intermediate("root", VALID)],
        &certs::key("leaf"),
    );
    assert_eq!(code(&expired, &trusted), "certificate_expired");
}

#[test]
fn packed_full_signed_with_the_credential_key_is_rejected() {
    let reg = packed_full(&[certs::leaf(VALID)], &ts::signing_key());
    assert_eq!(
        code(&reg, &registration_expectations()),
        "attestation_signature_invalid"
    );
}

#[test]
fn packed_leaf_certificate_requirements() {
    let leaf_key = certs::key("leaf");
    let issue =
        |profile: Profile, subject: &str| certs::issue(profile, subject, &leaf_key, &certs::key("intermediate"), VALID);
    // No OU "Authenticator Attestation".
    let no_ou = issue(certs::leaf_profile(INTERMEDIATE_NAME), "CN=Key,O=keyfleet,C=DE");
    // No country.
    let no_c = issue(
        certs::leaf_profile(INTERMEDIATE_NAME),
        "CN=Key,OU=Authenticator Attestation,O=keyfleet",
    );
    // A CA certificate as the attestation certificate.
    let ca = issue(
        Profile::SubCA {
            issuer: INTERMEDIATE_NAME.parse().unwrap(),
            path_len_constraint: None,
        },
        LEAF_NAME,
    );
    for cert in [no_ou, no_c, ca] {
        let reg = packed_full(&[cert], &leaf_key);
        assert_eq!(
            code(&reg, &registration_expectations()),
            "attestation_certificate_invalid"
        );
    }
}

/// Replaces `attStmt[member]` in a case's attestation object with `f(old bytes)`.
fn mutate_stmt(case: &str, member: &str, f: impl Fn(&mut Vec<u8>)) -> String {
    mutate_object(case, |object| {
        let value = crate::cbor::decode(object).unwrap();
        let crate::cbor::Value::Map(mut entries) = value else {
            panic!("attestation object is a map")
        };
        let mut owned: Option<Vec<u8>> = None;
        for (k, v) in &mut entries {
            if k.as_text() == Some("attStmt") {
                let crate::cbor::Value::Map(stmt) = v else {
                    panic!("attStmt is a map")
                };
                for (sk, sv) in stmt.iter_mut() {
                    if sk.as_text() == Some(member) {
                        let mut b = sv.as_bytes().map(<[u8]>::to_vec).unwrap_or_else(|| ts::encode(sv));
                        f(&mut b);
                        owned = Some(b);
                    }
                }
            }
        }
        let new = owned.expect("member present");
        let encoded: Vec<(Vec<u8>, Vec<u8>)> = entries
            .iter()
            .map(|(k, v)| {
                let v = if k.as_text() == Some("attStmt") {
                    let stmt = v.as_map().unwrap();
                    map(&stmt
                        .iter()
                        .map(|(sk, sv)| {
                            let sv = if sk.as_text() == Some(member) {
                                bytes(&new)
                            } else {
                                ts::encode(sv)
                            };
                            (ts::encode(sk), sv)
                        })
                        .collect::<Vec<_>>())
                } else {
                    ts::encode(v)
                };
                (ts::encode(k), v)
            })
            .collect();
        *object = map(&encoded);
    })
}

fn mutate_object(case: &str, f: impl Fn(&mut Vec<u8>)) -> String {
    let mut json: serde_json::Value = serde_json::from_str(case).unwrap();
    let slot = &mut json["response"]["response"]["attestationObject"];
    let mut object = Base64UrlBytes::decode(slot.as_str().unwrap()).unwrap().0;
    f(&mut object);
    *slot = serde_json::Value::String(Base64UrlBytes::encode(&object));
    json.to_string()
}

fn got(case: &str) -> Verdict {
    run_case(case).got
}

#[test]
fn the_mutation_helper_preserves_a_valid_case() {
    assert_eq!(got(&mutate_stmt(TPM_CASE, "certInfo", |_| {})), Verdict::Accept);
}

#[test]
fn row21_tpm_bad_magic_is_rejected() {
    let case = mutate_stmt(TPM_CASE, "certInfo", |b| b[0] ^= 0x01);
    assert_eq!(got(&case), Verdict::Reject("tpm_attestation_invalid".into()));
    assert!(run_case(&case).detail.contains("magic"));
}

#[test]
fn row21_tpm_bad_type_extra_data_and_name_are_rejected() {
    // type is bytes 4..6.
    let case = mutate_stmt(TPM_CASE, "certInfo", |b| b[5] ^= 0x01);
    assert!(run_case(&case).detail.contains("type"));
    // extraData follows magic, type and qualifiedSigner (TPM2B).
    let case = mutate_stmt(TPM_CASE, "certInfo", |b| {
        let signer_len = usize::from(u16::from_be_bytes([b[6], b[7]]));
        b[8 + signer_len + 2] ^= 0x01;
    });
    let report = run_case(&case);
    assert_eq!(report.got, Verdict::Reject("tpm_attestation_invalid".into()));
    assert!(report.detail.contains("extraData"), "{}", report.detail);
    // The attested name is the last-but-one TPM2B; flip its last byte (qualifiedName follows).
    let case = mutate_stmt(TPM_CASE, "certInfo", |b| {
        let qualified_len = usize::from(u16::from_be_bytes([b[b.len() - 36], b[b.len() - 35]]));
        assert_eq!(qualified_len, 34, "qualifiedName is a SHA-256 Name");
        let at = b.len() - 37;
        b[at] ^= 0x01;
    });
    assert!(run_case(&case).detail.contains("name"));
}

#[test]
fn tpm_pub_area_must_describe_the_credential_key() {
    let case = mutate_stmt(TPM_CASE, "pubArea", |b| {
        let last = b.len() - 1;
        b[last] ^= 0x01;
    });
    assert_eq!(got(&case), Verdict::Reject("attestation_public_key_mismatch".into()));
}

#[test]
fn tpm_version_must_be_2_0() {
    let case = TPM_CASE.to_owned();
    let mutated = mutate_object(&case, |object| {
        // "ver" → "2.0" is encoded as 63 32 2e 30; change it to "2.1".
        let at = object
            .windows(4)
            .position(|w| w == [0x63, b'2', b'.', b'0'])
            .expect("ver");
        object[at + 3] = b'1';
    });
    assert_eq!(got(&mutated), Verdict::Reject("tpm_attestation_invalid".into()));
}

#[test]
fn row21_u2f_with_a_non_zero_aaguid_is_rejected() {
    let case = mutate_object(U2F_CASE, |object| {
        // authData sits at the end of this attestation object; its AAGUID follows the 37-byte header.
        let rp_id_hash = Sha256::digest(b"localhost");
        let at = object
            .windows(32)
            .position(|w| w == rp_id_hash.as_slice())
            .expect("rpIdHash");
        object[at + 37] = 0x01;
    });
    assert_eq!(got(&case), Verdict::Reject("u2f_aaguid_not_zero".into()));
}
