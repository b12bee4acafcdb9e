//! Enterprise attestation (CTAP 2.1 §7.1, §6.11.1, §6.1.2 steps 9 and 19), as python-fido2's
//! test_config.py::test_ep_platform and test_ep_vendor drive it.

use der::{Decode, Encode};
use p256::ecdsa::signature::Verifier;
use x509_cert::Certificate;

use crate::cbor::Value;
use crate::status::Status;
use crate::test_support::*;
use crate::token::PERM_ACFG;

const PIN: &str = "1234";

fn ep_option(fx: &mut Fixture) -> Option<bool> {
    let info = fx.call(0x04, vec![]).unwrap();
    info.get_int_key(4)
        .unwrap()
        .get_text_key("ep")
        .map(|v| v.as_bool().unwrap())
}

/// enableEnterpriseAttestation with an acfg token (pinUvAuthParam over 32×0xff ‖ 0x0d ‖ 0x01).
fn enable(fx: &mut Fixture) -> Result<Value, Status> {
    let token = fx.pin_token(PIN, PERM_ACFG, None).unwrap();
    let message = [&[0xffu8; 32][..], &[0x0d, 0x01]].concat();
    fx.call(
        0x0D,
        vec![
            (1, Value::Int(1)),
            (3, Value::Int(2)),
            (4, Value::bytes(&auth_param(&token, &message))),
        ],
    )
}

fn make(fx: &mut Fixture, rp: &str, ep: Option<i128>) -> Result<Value, Status> {
    let extra = ep.map(|v| vec![(0x0A, Value::Int(v))]).unwrap_or_default();
    fx.make_credential(rp, b"u", false, None, extra)
}

fn x5c(resp: &Value) -> Vec<Vec<u8>> {
    let stmt = resp.get_int_key(3).unwrap();
    stmt.get_text_key("x5c")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_bytes().unwrap().to_vec())
        .collect()
}

fn enabled() -> Fixture {
    let mut fx = Fixture::new();
    fx.set_pin(PIN).unwrap();
    assert_eq!(ep_option(&mut fx), Some(false), "capable, not enabled");
    enable(&mut fx).unwrap();
    assert_eq!(ep_option(&mut fx), Some(true));
    fx
}

#[test]
fn refused_until_enabled() {
    // Step 9: capable but disabled → CTAP1_ERR_INVALID_PARAMETER.
    let mut fx = Fixture::new();
    fx.set_pin(PIN).unwrap();
    assert_eq!(make(&mut fx, RP, Some(2)).unwrap_err(), Status::InvalidParameter);
    // Enabling needs an acfg token once a PIN is set.
    assert_eq!(
        fx.call(0x0D, vec![(1, Value::Int(1))]).unwrap_err(),
        Status::PuatRequired
    );
    enable(&mut fx).unwrap();
    enable(&mut fx).unwrap();
    assert!(
        fx.auth.state().enterprise_attestation_enabled(),
        "enabling twice is fine"
    );
    // Neither 1 nor 2: CTAP2_ERR_INVALID_OPTION.
    assert_eq!(make(&mut fx, RP, Some(3)).unwrap_err(), Status::InvalidOption);
}

#[test]
fn platform_managed_carries_the_serial_number() {
    let mut fx = enabled();
    let plain = make(&mut fx, RP, None).unwrap();
    assert_eq!(plain.get_int_key(4), None, "no epAtt without a request");
    assert_eq!(x5c(&plain), vec![batch_cert().to_vec()]);
    let ep = make(&mut fx, RP, Some(2)).unwrap();
    assert_eq!(ep.get_int_key(4), Some(&Value::Bool(true)), "epAtt");
    let chain = x5c(&ep);
    assert_eq!(chain.len(), 2);
    assert_ne!(chain[0], batch_cert(), "python-fido2: att_cert != cert");
    assert_eq!(chain[1], batch_cert());
    let cert = Certificate::from_der(&chain[0]).unwrap();
    let subject = cert.tbs_certificate.subject.to_string();
    // The X.520 serialNumber attribute (2.5.4.5) holds the device serial.
    let serial_attr = cert
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == der::asn1::ObjectIdentifier::new_unwrap("2.5.4.5"))
        .expect("a serialNumber attribute");
    assert_eq!(serial_attr.value.value(), b"KF-TEST-1");
    assert!(subject.contains("CN=keyfleet nfc-key KF-TEST-1"), "{subject}");
    assert!(subject.contains("OU=Authenticator Attestation"), "{subject}");
    let batch = Certificate::from_der(batch_cert()).unwrap();
    assert_eq!(cert.tbs_certificate.issuer, batch.tbs_certificate.subject);
    // Its key is the batch key, which signs the statement; the batch key also signs the certificate.
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&attestation_public_key()).unwrap();
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().unwrap();
    assert_eq!(spki, batch.tbs_certificate.subject_public_key_info.to_der().unwrap());
    let tbs = cert.tbs_certificate.to_der().unwrap();
    let sig = p256::ecdsa::DerSignature::from_bytes(cert.signature.raw_bytes()).unwrap();
    assert!(key.verify(&tbs, &sig).is_ok());
    let raw = ep.get_int_key(2).unwrap().as_bytes().unwrap();
    let stmt_sig = ep
        .get_int_key(3)
        .unwrap()
        .get_text_key("sig")
        .unwrap()
        .as_bytes()
        .unwrap();
    assert!(verify_es256(&attestation_public_key(), &[raw, &CDH].concat(), stmt_sig));
    // Deterministic: the same certificate every time.
    assert_eq!(x5c(&make(&mut fx, "other.example", Some(2)).unwrap())[0], chain[0]);
}

#[test]
fn vendor_facilitated_only_for_listed_rp_ids() {
    let mut fx = enabled();
    let unlisted = make(&mut fx, RP, Some(1)).unwrap();
    assert_eq!(unlisted.get_int_key(4), None);
    assert_eq!(x5c(&unlisted), vec![batch_cert().to_vec()]);
    fx.auth.state.set_enterprise_rp_ids(vec![RP.to_owned()]);
    let listed = make(&mut fx, RP, Some(1)).unwrap();
    assert_eq!(listed.get_int_key(4), Some(&Value::Bool(true)));
    assert_eq!(x5c(&listed).len(), 2);
}

#[test]
fn reset_disables_but_keeps_the_factory_list() {
    let mut fx = enabled();
    fx.auth.state.set_enterprise_rp_ids(vec![RP.to_owned()]);
    fx.power_cycle();
    fx.call(0x07, vec![]).unwrap();
    assert_eq!(ep_option(&mut fx), Some(false));
    assert_eq!(fx.auth.state().enterprise_rp_ids(), [RP.to_owned()]);
}

#[test]
fn not_capable_without_a_batch_certificate() {
    let mut fx = Fixture::new();
    fx.auth.state.attestation.cert_chain_der.clear();
    assert_eq!(ep_option(&mut fx), None);
    assert_eq!(
        fx.call(0x0D, vec![(1, Value::Int(1))]).unwrap_err(),
        Status::InvalidSubcommand
    );
    assert_eq!(make(&mut fx, RP, Some(2)).unwrap_err(), Status::InvalidParameter);
    // A "certificate" that is not X.509 does not make it capable either.
    fx.auth.state.attestation.cert_chain_der = vec![b"\x30\x03\x02\x01\x01".to_vec()];
    assert_eq!(ep_option(&mut fx), None);
}

/// A certificate for `subject_key`'s public key, issued by a separate "factory CA" key.
fn factory_issued(subject_key: &[u8; 32]) -> Vec<u8> {
    use std::str::FromStr;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    let ca = p256::ecdsa::SigningKey::from_slice(&[0x07; 32]).unwrap();
    let subject = p256::ecdsa::SigningKey::from_slice(subject_key).unwrap();
    let profile = Profile::Leaf {
        issuer: x509_cert::name::Name::from_str("CN=Test Factory CA,O=keyfleet,C=DE").unwrap(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
    };
    let name = x509_cert::name::Name::from_str(
        "CN=keyfleet nfc-key KF-TEST-1,serialNumber=KF-TEST-1,OU=Authenticator Attestation,O=keyfleet,C=DE",
    )
    .unwrap();
    let validity = Certificate::from_der(batch_cert()).unwrap().tbs_certificate.validity;
    let spki = spki::SubjectPublicKeyInfoOwned::from_key(*subject.verifying_key()).unwrap();
    let serial = x509_cert::serial_number::SerialNumber::new(&[9]).unwrap();
    let builder = CertificateBuilder::new(profile, serial, validity, name, spki, &ca).unwrap();
    builder.build::<p256::ecdsa::DerSignature>().unwrap().to_der().unwrap()
}

#[test]
fn a_factory_issued_certificate_replaces_the_engines_own() {
    let mut fx = enabled();
    let cert = factory_issued(&ATTESTATION_KEY);
    fx.auth.state.set_enterprise_certificate(Some(cert.clone())).unwrap();
    let ep = make(&mut fx, RP, Some(2)).unwrap();
    assert_eq!(x5c(&ep), vec![cert.clone()], "x5c = [the factory's device certificate]");
    let raw = ep.get_int_key(2).unwrap().as_bytes().unwrap();
    let sig = ep
        .get_int_key(3)
        .unwrap()
        .get_text_key("sig")
        .unwrap()
        .as_bytes()
        .unwrap();
    assert!(verify_es256(&attestation_public_key(), &[raw, &CDH].concat(), sig));
    // Ordinary attestation is untouched.
    assert_eq!(x5c(&make(&mut fx, RP, None).unwrap()), vec![batch_cert().to_vec()]);
    // Kept in the key file and by reset.
    let back = crate::State::from_bytes(&fx.state_bytes()).unwrap();
    assert_eq!(back.enterprise_certificate(), Some(cert.as_slice()));
    fx.power_cycle();
    fx.call(0x07, vec![]).unwrap();
    assert_eq!(fx.auth.state().enterprise_certificate(), Some(cert.as_slice()));
    // Cleared: back to the engine's own.
    fx.auth.state.set_enterprise_certificate(None).unwrap();
    assert_eq!(fx.auth.state().enterprise_certificate(), None);
}

#[test]
fn a_certificate_for_another_key_is_refused() {
    let mut fx = Fixture::new();
    assert_eq!(
        fx.auth
            .state
            .set_enterprise_certificate(Some(factory_issued(&[0x11; 32]))),
        Err(crate::StateError::BadEnterpriseCertificate)
    );
    assert_eq!(
        fx.auth.state.set_enterprise_certificate(Some(b"junk".to_vec())),
        Err(crate::StateError::BadEnterpriseCertificate)
    );
    assert_eq!(fx.auth.state().enterprise_certificate(), None);
}
