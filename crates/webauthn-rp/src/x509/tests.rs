//! Path validation tests (checklist §1.3 "Certificate chains", bad-input row 20), on
//! chains generated here with x509-cert's builder and fixed P-256 keys.

use std::str::FromStr;
use std::time::Duration;

use der::Encode;
use p256::ecdsa::{DerSignature, SigningKey};
use sha2::{Digest, Sha256};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::asn1::UtcTime;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use super::*;
use crate::test_support::now;

pub const ROOT_NAME: &str = "CN=keyfleet Test Root,O=keyfleet,C=DE";
pub const INTERMEDIATE_NAME: &str = "CN=keyfleet Test Intermediate,O=keyfleet,C=DE";
pub const LEAF_NAME: &str = "CN=keyfleet Test Authenticator,OU=Authenticator Attestation,O=keyfleet,C=DE";

/// 2024-01-01 .. 2026-01-01 (test "now" is 2025-01-01).
pub const VALID: (u64, u64) = (1_704_067_200, 1_767_225_600);
/// 2022-01-01 .. 2024-01-01.
pub const EXPIRED: (u64, u64) = (1_640_995_200, 1_704_067_200);
/// 2026-01-01 .. 2027-01-01.
pub const FUTURE: (u64, u64) = (1_767_225_600, 1_798_761_600);

pub fn key(seed: &str) -> SigningKey {
    SigningKey::from_slice(&Sha256::digest(seed.as_bytes())).expect("valid scalar")
}

fn validity((from, to): (u64, u64)) -> Validity {
    let time = |s| Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(s)).expect("UTCTime range"));
    Validity {
        not_before: time(from),
        not_after: time(to),
    }
}

/// Issues a certificate for `subject_key` signed by `issuer_key`.
pub fn issue(
    profile: Profile,
    subject: &str,
    subject_key: &SigningKey,
    issuer_key: &SigningKey,
    period: (u64, u64),
) -> Vec<u8> {
    let spki = SubjectPublicKeyInfoOwned::from_key(*subject_key.verifying_key()).expect("SPKI");
    let serial = SerialNumber::from(u32::from(Sha256::digest(subject.as_bytes())[0]) + 1);
    let builder = CertificateBuilder::new(
        profile,
        serial,
        validity(period),
        Name::from_str(subject).expect("name"),
        spki,
        issuer_key,
    )
    .expect("builder");
    builder.build::<DerSignature>().expect("sign").to_der().expect("DER")
}

pub fn root(seed: &str, period: (u64, u64)) -> Vec<u8> {
    issue(Profile::Root, ROOT_NAME, &key(seed), &key(seed), period)
}

pub fn intermediate(issuer_seed: &str, period: (u64, u64)) -> Vec<u8> {
    let profile = Profile::SubCA {
        issuer: Name::from_str(ROOT_NAME).unwrap(),
        path_len_constraint: None,
    };
    issue(
        profile,
        INTERMEDIATE_NAME,
        &key("intermediate"),
        &key(issuer_seed),
        period,
    )
}

pub fn leaf_profile(issuer: &str) -> Profile {
    Profile::Leaf {
        issuer: Name::from_str(issuer).unwrap(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
    }
}

pub fn leaf(period: (u64, u64)) -> Vec<u8> {
    issue(
        leaf_profile(INTERMEDIATE_NAME),
        LEAF_NAME,
        &key("leaf"),
        &key("intermediate"),
        period,
    )
}

/// A valid attestation leaf certificate (DER) for tests elsewhere.
pub fn leaf_der() -> Vec<u8> {
    leaf(VALID)
}

fn chain(ders: &[&[u8]]) -> Vec<Cert> {
    parse_chain(ders).expect("parse chain")
}

fn anchors(ders: &[&[u8]]) -> Vec<TrustAnchor> {
    ders.iter().map(|d| TrustAnchor::from_der(d).expect("anchor")).collect()
}

fn code(result: Result<&TrustAnchor, TrustError>) -> &'static str {
    match result {
        Ok(_) => "anchored",
        Err(e) => e.code(),
    }
}

#[test]
fn a_valid_chain_reaches_its_anchor() {
    let (root, inter, leaf) = (root("root", VALID), intermediate("root", VALID), leaf(VALID));
    let anchors = anchors(&[&root]);
    assert_eq!(
        code(verify_chain(&chain(&[&leaf, &inter]), &anchors, now())),
        "anchored"
    );
    // The anchor itself may be included, byte for byte.
    assert_eq!(
        code(verify_chain(&chain(&[&leaf, &inter, &root]), &anchors, now())),
        "anchored"
    );
}

#[test]
fn row20_a_self_signed_root_inside_x5c_is_not_trusted() {
    let (root, inter, leaf) = (root("root", VALID), intermediate("root", VALID), leaf(VALID));
    let other = anchors(&[&root_named_other()]);
    assert_eq!(
        code(verify_chain(&chain(&[&leaf, &inter, &root]), &other, now())),
        "untrusted_attestation"
    );
    assert_eq!(
        code(verify_chain(&chain(&[&leaf, &inter, &root]), &[], now())),
        "untrusted_attestation"
    );
}

fn root_named_other() -> Vec<u8> {
    issue(
        Profile::Root,
        "CN=Other Root,O=Elsewhere,C=US",
        &key("other"),
        &key("other"),
        VALID,
    )
}

#[test]
fn row20_a_look_alike_root_with_the_anchors_name_is_not_trusted() {
    // Same subject name as the real anchor, different key.
    let evil_root = root("evil", VALID);
    let evil_inter = intermediate("evil", VALID);
    let real_anchor = anchors(&[&root("root", VALID)]);
    let result = verify_chain(&chain(&[&leaf(VALID), &evil_inter, &evil_root]), &real_anchor, now());
    assert_eq!(code(result), "untrusted_attestation");
}

#[test]
fn row20_expired_or_not_yet_valid_certificates_are_rejected() {
    let root_der = root("root", VALID);
    let anchors = anchors(&[&root_der]);
    let inter = intermediate("root", VALID);
    assert_eq!(
        code(verify_chain(&chain(&[&leaf(EXPIRED), &inter]), &anchors, now())),
        "certificate_expired"
    );
    assert_eq!(
        code(verify_chain(&chain(&[&leaf(FUTURE), &inter]), &anchors, now())),
        "certificate_not_yet_valid"
    );
    let old_inter = intermediate("root", EXPIRED);
    assert_eq!(
        code(verify_chain(&chain(&[&leaf(VALID), &old_inter]), &anchors, now())),
        "certificate_expired"
    );
    // An expired anchor does not anchor anything.
    let old_root = anchors_expired();
    assert_eq!(
        code(verify_chain(&chain(&[&leaf(VALID), &inter]), &old_root, now())),
        "certificate_expired"
    );
}

fn anchors_expired() -> Vec<TrustAnchor> {
    anchors(&[&root("root", EXPIRED)])
}

#[test]
fn row20_a_misordered_chain_is_rejected() {
    let (root, inter, leaf) = (root("root", VALID), intermediate("root", VALID), leaf(VALID));
    let anchors = anchors(&[&root]);
    assert_eq!(
        code(verify_chain(&chain(&[&inter, &leaf]), &anchors, now())),
        "certificate_chain_invalid"
    );
    assert_eq!(
        code(verify_chain(&chain(&[&leaf, &root, &inter]), &anchors, now())),
        "certificate_chain_invalid"
    );
}

#[test]
fn an_issuer_inside_x5c_must_be_a_ca() {
    let root = root("root", VALID);
    // The "intermediate" is an end-entity certificate (cA = false) that signs the leaf.
    let not_ca = issue(
        leaf_profile(ROOT_NAME),
        INTERMEDIATE_NAME,
        &key("intermediate"),
        &key("root"),
        VALID,
    );
    let anchors = anchors(&[&root]);
    let result = verify_chain(&chain(&[&leaf(VALID), &not_ca]), &anchors, now());
    assert_eq!(code(result), "certificate_chain_invalid");
}

#[test]
fn certificate_accessors_read_what_attestation_checks_need() {
    let leaf = Cert::from_der(&leaf(VALID)).unwrap();
    assert!(leaf.is_v3());
    assert_eq!(
        leaf.subject_attr(oid::ORGANIZATIONAL_UNIT),
        ["Authenticator Attestation"]
    );
    assert_eq!(leaf.subject_attr(oid::COUNTRY), ["DE"]);
    assert_eq!(leaf.basic_constraints_ca(), Some(false));
    assert!(!leaf.subject_is_empty());
    assert!(matches!(leaf.public_key(), Ok(PublicKey::P256(_))));
    let root = Cert::from_der(&root("root", VALID)).unwrap();
    assert_eq!(root.basic_constraints_ca(), Some(true));
}

#[test]
fn pem_and_der_inputs_are_checked() {
    assert!(Cert::from_der(b"not a certificate").is_err());
    assert!(TrustAnchor::from_pem("no pem here").is_err());
    let der = root("root", VALID);
    use base64::Engine;
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let parsed = TrustAnchor::from_pem(&pem).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].cert().der(), der);
    assert!(parse_chain(&[]).is_err());
}
