use der::Decode;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use rand::SeedableRng;
use rand::rngs::StdRng;
use x509_cert::ext::pkix::BasicConstraints;

use super::*;
use crate::testutil::TempDir;
use der::asn1::ObjectIdentifier;

const AAGUID: [u8; 16] = [
    0x35, 0x59, 0xc4, 0x35, 0xff, 0x17, 0x4b, 0xc9, 0xb9, 0x42, 0x32, 0x5c, 0x1f, 0x34, 0x8b, 0x94,
];

fn subject_attr(cert: &Certificate, oid: ObjectIdentifier) -> Option<String> {
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == oid)
        .map(|atv| {
            let value = atv
                .value
                .decode_as::<der::asn1::PrintableStringRef<'_>>()
                .map(|s| s.to_string());
            value
                .or_else(|_| {
                    atv.value
                        .decode_as::<der::asn1::Utf8StringRef<'_>>()
                        .map(|s| s.to_string())
                })
                .unwrap()
        })
}

/// Whether `cert_der`'s signature verifies under the key of `ca_der`.
fn verifies(cert_der: &[u8], ca_der: &[u8]) -> bool {
    let cert = Certificate::from_der(cert_der).unwrap();
    let ca = Certificate::from_der(ca_der).unwrap();
    let ca_key = VerifyingKey::from_sec1_bytes(
        ca.tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    )
    .unwrap();
    let signature = DerSignature::from_bytes(cert.signature.raw_bytes()).unwrap();
    ca_key
        .verify(&cert.tbs_certificate.to_der().unwrap(), &signature)
        .is_ok()
}

#[test]
fn batch_certificate_meets_the_packed_attestation_rules() {
    let dir = TempDir::new("factory");
    let factory = Factory::new(dir.path());
    let mut rng = StdRng::seed_from_u64(1);
    let batch = factory.batch("nfc-key", AAGUID, &mut rng).unwrap();
    let root = factory.root("nfc-key", &mut rng).unwrap();
    let cert = Certificate::from_der(&batch.cert_der).unwrap();
    let tbs = &cert.tbs_certificate;
    assert_eq!(tbs.version, x509_cert::Version::V3);
    use der::oid::db::rfc4519::{C, CN, O, OU};
    assert_eq!(subject_attr(&cert, C).as_deref(), Some("DE"));
    assert_eq!(subject_attr(&cert, O).as_deref(), Some("keyfleet"));
    assert_eq!(subject_attr(&cert, OU).as_deref(), Some("Authenticator Attestation"));
    assert_eq!(subject_attr(&cert, CN).as_deref(), Some("keyfleet nfc-key Batch 1"));
    let extensions = tbs.extensions.as_ref().unwrap();
    let aaguid = extensions
        .iter()
        .find(|e| e.extn_id == AAGUID_OID)
        .expect("AAGUID extension");
    assert!(!aaguid.critical);
    assert_eq!(aaguid.extn_value.as_bytes(), [&[0x04, 0x10][..], &AAGUID].concat());
    let bc = extensions
        .iter()
        .find(|e| e.extn_id == der::oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS)
        .unwrap();
    assert!(!BasicConstraints::from_der(bc.extn_value.as_bytes()).unwrap().ca);
    // Signed by the model's factory CA.
    let root_cert = Certificate::from_der(&root.cert_der).unwrap();
    assert_eq!(tbs.issuer, root_cert.tbs_certificate.subject);
    assert_eq!(
        subject_attr(&root_cert, CN).as_deref(),
        Some("keyfleet nfc-key Factory CA")
    );
    assert!(verifies(&batch.cert_der, &root.cert_der));
    // The certificate's key is the batch key.
    assert_eq!(
        tbs.subject_public_key_info.subject_public_key.raw_bytes(),
        batch.key.verifying_key().to_encoded_point(false).as_bytes()
    );
}

#[test]
fn factory_material_is_reused_and_private_keys_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("factory-reuse");
    let factory = Factory::new(dir.path().join("sub"));
    let mut rng = StdRng::seed_from_u64(2);
    let first = factory.batch("band", AAGUID, &mut rng).unwrap();
    let second = factory.batch("band", AAGUID, &mut rng).unwrap();
    assert_eq!(first.cert_der, second.cert_der);
    assert_eq!(first.key.to_bytes(), second.key.to_bytes());
    let other = factory.batch("nfc-key", AAGUID, &mut rng).unwrap();
    assert_ne!(first.cert_der, other.cert_der);
    for name in [
        "factory-ca-band.key",
        "batch-band.key",
        "factory-ca-nfc-key.key",
        "batch-nfc-key.key",
    ] {
        let mode = std::fs::metadata(factory.dir().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[test]
fn damaged_files_and_bad_model_names_are_refused() {
    let dir = TempDir::new("factory-bad");
    let factory = Factory::new(dir.path());
    let mut rng = StdRng::seed_from_u64(3);
    assert!(matches!(
        factory.batch("../x", AAGUID, &mut rng),
        Err(FactoryError::Certificate(_))
    ));
    assert!(matches!(
        factory.root("../x", &mut rng),
        Err(FactoryError::Certificate(_))
    ));
    assert!(matches!(factory.root("", &mut rng), Err(FactoryError::Certificate(_))));
    // Nothing was written for the refused names.
    assert!(std::fs::read_dir(dir.path()).map_or(true, |mut d| d.next().is_none()));
    factory.root("band", &mut rng).unwrap();
    std::fs::write(dir.path().join("factory-ca-band.key"), b"junk").unwrap();
    assert!(matches!(factory.root("band", &mut rng), Err(FactoryError::Damaged(_))));
    assert!(matches!(
        factory.batch("band", AAGUID, &mut rng),
        Err(FactoryError::Damaged(_))
    ));
}

#[test]
fn each_model_has_its_own_factory_ca() {
    let dir = TempDir::new("factory-per-model");
    let factory = Factory::new(dir.path());
    let mut rng = StdRng::seed_from_u64(5);
    let nfc_batch = factory.batch("nfc-key", AAGUID, &mut rng).unwrap();
    let band_batch = factory.batch("band", AAGUID, &mut rng).unwrap();
    let nfc_ca = factory.root("nfc-key", &mut rng).unwrap();
    let band_ca = factory.root("band", &mut rng).unwrap();
    // Two CAs with different keys and subjects, each in its own files.
    assert_ne!(nfc_ca.cert_der, band_ca.cert_der);
    assert_ne!(nfc_ca.key.to_bytes(), band_ca.key.to_bytes());
    let nfc_cert = Certificate::from_der(&nfc_ca.cert_der).unwrap();
    let band_cert = Certificate::from_der(&band_ca.cert_der).unwrap();
    assert_ne!(nfc_cert.tbs_certificate.subject, band_cert.tbs_certificate.subject);
    assert_eq!(
        std::fs::read(dir.path().join("factory-ca-nfc-key.der")).unwrap(),
        nfc_ca.cert_der
    );
    assert_eq!(
        std::fs::read(dir.path().join("factory-ca-band.der")).unwrap(),
        band_ca.cert_der
    );
    assert!(!dir.path().join("factory-ca.der").exists());
    // Self-signed CAs.
    for ca in [&nfc_cert, &band_cert] {
        assert_eq!(ca.tbs_certificate.issuer, ca.tbs_certificate.subject);
        let bc = ca
            .tbs_certificate
            .extensions
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.extn_id == der::oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS)
            .unwrap();
        assert!(BasicConstraints::from_der(bc.extn_value.as_bytes()).unwrap().ca);
    }
    assert!(verifies(&nfc_ca.cert_der, &nfc_ca.cert_der));
    assert!(verifies(&band_ca.cert_der, &band_ca.cert_der));
    // Each batch certificate verifies under its own model's CA only.
    assert!(verifies(&nfc_batch.cert_der, &nfc_ca.cert_der));
    assert!(verifies(&band_batch.cert_der, &band_ca.cert_der));
    assert!(!verifies(&nfc_batch.cert_der, &band_ca.cert_der));
    assert!(!verifies(&band_batch.cert_der, &nfc_ca.cert_der));
    let nfc_batch_cert = Certificate::from_der(&nfc_batch.cert_der).unwrap();
    assert_eq!(nfc_batch_cert.tbs_certificate.issuer, nfc_cert.tbs_certificate.subject);
    assert_ne!(nfc_batch_cert.tbs_certificate.issuer, band_cert.tbs_certificate.subject);
}

#[test]
fn serial_numbers_are_distinct() {
    let mut rng = StdRng::seed_from_u64(4);
    let a = serial_number(&mut rng);
    let b = serial_number(&mut rng);
    assert_ne!(a, b);
    assert!(a.starts_with("KF-") && a.len() == 15, "{a}");
}

/// A key's enterprise-attestation certificate: the batch key, named for the serial, with the
/// AAGUID, signed by the model's factory CA (so it chains like any attestation).
#[test]
fn device_certificates_name_the_serial_and_chain_to_the_factory_ca() {
    let dir = TempDir::new("factory-device");
    let factory = Factory::new(dir.path());
    let mut rng = StdRng::seed_from_u64(7);
    let batch = factory.batch("nfc-key", AAGUID, &mut rng).unwrap();
    let root = factory.root("nfc-key", &mut rng).unwrap();
    let der = factory
        .device_certificate("nfc-key", AAGUID, &batch, "KF-0123456789AB", &mut rng)
        .unwrap();
    let cert = Certificate::from_der(&der).unwrap();
    let serial_oid = ObjectIdentifier::new_unwrap("2.5.4.5");
    let cn_oid = ObjectIdentifier::new_unwrap("2.5.4.3");
    assert_eq!(subject_attr(&cert, serial_oid).as_deref(), Some("KF-0123456789AB"));
    assert_eq!(
        subject_attr(&cert, cn_oid).as_deref(),
        Some("keyfleet nfc-key KF-0123456789AB")
    );
    let batch_cert = Certificate::from_der(&batch.cert_der).unwrap();
    assert_eq!(
        cert.tbs_certificate.subject_public_key_info, batch_cert.tbs_certificate.subject_public_key_info,
        "it certifies the batch attestation key"
    );
    assert!(verifies(&der, &root.cert_der), "signed by the factory CA");
    assert!(!verifies(&der, &batch.cert_der));
    let aaguid_ext = cert
        .tbs_certificate
        .extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == AAGUID_OID)
        .unwrap();
    assert_eq!(aaguid_ext.extn_value.as_bytes()[2..], AAGUID);
    assert!(
        factory
            .device_certificate("nfc-key", AAGUID, &batch, "KF 1,CN=x", &mut rng)
            .is_err(),
        "a serial that would change the name is refused"
    );
}
