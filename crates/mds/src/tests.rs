//! The real BLOB of 2022-10-22 (shared corpus) and keyfleet's own test BLOBs
//! (`tests/data/`, made by `make-test-blobs.py`; README.md there says what each is for).

use std::time::{Duration, SystemTime};

use keyfleet_webauthn_rp::x509::{TrustAnchor, TrustError};

use super::*;

const REAL_BLOB: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/mds/blob-2022-10-22.jwt"
));
const REAL_ROOT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/mds/globalsign-root-r3.der"
));

macro_rules! data {
    ($file:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/", $file)).as_slice()
    };
}

/// 2022-10-22T12:00:00Z: inside the real BLOB's certificates' validity.
fn real_at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_666_440_000)
}

/// 2027-01-15T12:00:00Z: the test BLOBs' pinned time.
fn test_at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_014_400)
}

fn utc(rfc3339: &str) -> SystemTime {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap();
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap())
}

fn test_root() -> TrustAnchor {
    TrustAnchor::from_der(data!("test-root.der")).unwrap()
}

fn good_crls() -> Vec<Vec<u8>> {
    vec![data!("crl-root.der").to_vec(), data!("crl-ca.der").to_vec()]
}

fn verify_test(blob: &[u8], crls: &[Vec<u8>], at: SystemTime) -> Result<VerifiedBlob, Refusal> {
    let roots = [test_root()];
    let verifier = Verifier {
        roots: &roots,
        at,
        revocation: Revocation::Crls(crls),
        blob_url: Some("https://mds.test.keyfleet.invalid/blob.jwt"),
    };
    verify(blob, &verifier)
}

fn aaguid(s: &str) -> Aaguid {
    parse_aaguid(s).unwrap()
}

#[test]
fn the_bundled_root_parses_and_is_the_corpus_root() {
    assert_eq!(globalsign_root_r3().cert().der(), REAL_ROOT);
    assert_eq!(globalsign_root_r3().cert().label(), "GlobalSign");
}

#[test]
fn the_real_blob_verifies_at_its_time() {
    let roots = [globalsign_root_r3()];
    let verifier = Verifier {
        roots: &roots,
        at: real_at(),
        revocation: Revocation::Offline,
        blob_url: Some("https://mds3.fidoalliance.org/"),
    };
    let blob = verify(REAL_BLOB, &verifier).unwrap();
    assert_eq!(blob.no, 20);
    assert_eq!(blob.entries.len(), 126);
    assert_eq!(blob.aaguid_entries().count(), 72);
    assert_eq!(blob.next_update, time::macros::date!(2022 - 11 - 01));
    assert_eq!(blob.alg, JwsAlg::Rs256);
    assert_eq!(blob.revocation, RevocationChecked::Offline);
    assert_eq!(blob.signer, "mds.fidoalliance.org");
    assert!(
        blob.legal_header
            .as_deref()
            .unwrap()
            .starts_with("Retrieval and use of this BLOB")
    );
    assert!(!blob.is_stale(real_at()));
    assert!(blob.is_stale(utc("2022-11-01T00:00:00Z")));
    let cryptnox = blob
        .entries
        .iter()
        .find(|e| e.aaguid == Some(aaguid("9c835346-796b-4c27-8898-d6032f515cc5")))
        .unwrap();
    assert_eq!(cryptnox.description.as_deref(), Some("Cryptnox FIDO2"));
    // Two reports of one date: the first listed is the latest.
    assert_eq!(
        cryptnox.latest_status().unwrap().status,
        AuthenticatorStatus::FidoCertifiedL1
    );
    assert!(!cryptnox.is_compromised());
    assert!(!cryptnox.attestation_roots.is_empty());
    // No entry of this BLOB was compromised.
    assert!(blob.entries.iter().all(|e| !e.is_compromised()));
}

#[test]
fn the_real_blob_fails_now_for_expiry() {
    let roots = [globalsign_root_r3()];
    for at in [SystemTime::now(), utc("2026-12-04T00:00:00Z")] {
        let verifier = Verifier {
            roots: &roots,
            at,
            revocation: Revocation::Offline,
            blob_url: None,
        };
        let refusal = verify(REAL_BLOB, &verifier).unwrap_err();
        assert!(matches!(refusal, Refusal::CertificateExpired(_)), "{refusal:?}");
        assert_eq!(refusal.code(), "certificate_expired");
    }
}

#[test]
fn the_real_blob_without_its_crls_has_unknown_revocation() {
    let roots = [globalsign_root_r3()];
    let verifier = Verifier {
        roots: &roots,
        at: real_at(),
        revocation: Revocation::Crls(&[]),
        blob_url: None,
    };
    let refusal = verify(REAL_BLOB, &verifier).unwrap_err();
    assert!(matches!(refusal, Refusal::RevocationUnknown(_)), "{refusal:?}");
}

#[test]
fn the_real_blob_under_another_root_is_untrusted() {
    let roots = [test_root()];
    let verifier = Verifier {
        roots: &roots,
        at: real_at(),
        revocation: Revocation::Offline,
        blob_url: None,
    };
    assert_eq!(verify(REAL_BLOB, &verifier).unwrap_err(), Refusal::UntrustedChain);
}

#[test]
fn a_test_blob_with_crls_verifies_with_typed_entries() {
    let blob = verify_test(data!("blob-no5-rs256.jwt"), &good_crls(), test_at()).unwrap();
    assert_eq!((blob.no, blob.entries.len(), blob.aaguid_entries().count()), (5, 8, 7));
    assert_eq!(blob.revocation, RevocationChecked::Crls);
    assert_eq!(blob.signer, "mds.test.keyfleet.invalid");
    let certified = &blob.entries[0];
    assert_eq!(certified.aaguid, Some(aaguid("11111111-1111-4111-8111-111111111111")));
    assert_eq!(
        certified.latest_status().unwrap().status,
        AuthenticatorStatus::FidoCertifiedL2
    );
    assert_eq!(
        certified.certification_level().unwrap().status.as_str(),
        "FIDO_CERTIFIED_L2"
    );
    assert_eq!(certified.attestation_roots.len(), 1);
    assert_eq!(certified.authenticator_version, Some(1));
    assert!(certified.icon.as_deref().unwrap().starts_with("data:image/png"));
    let uaf = &blob.entries[7];
    assert_eq!((uaf.aaguid, uaf.aaid.as_deref()), (None, Some("FFFF#0001")));
}

#[test]
fn compromised_statuses_are_recognised() {
    let blob = verify_test(data!("blob-no5-rs256.jwt"), &good_crls(), test_at()).unwrap();
    let compromised: Vec<&str> = blob
        .entries
        .iter()
        .filter(|e| e.is_compromised())
        .map(|e| e.latest_status().unwrap().status.as_str())
        .collect();
    assert_eq!(
        compromised,
        [
            "USER_VERIFICATION_BYPASS",
            "ATTESTATION_KEY_COMPROMISE",
            "USER_KEY_REMOTE_COMPROMISE",
            "USER_KEY_PHYSICAL_COMPROMISE",
            "REVOKED"
        ]
    );
    // A later UPDATE_AVAILABLE supersedes the earlier bypass (the documented rule).
    assert!(!blob.entries[6].is_compromised());
    // And the next BLOB revokes the certified model.
    let next = verify_test(data!("blob-no6-rs256.jwt"), &good_crls(), test_at()).unwrap();
    assert!(next.entries[0].is_compromised());
    assert_eq!(
        next.entries[0].certification_level().unwrap().status,
        AuthenticatorStatus::FidoCertifiedL2
    );
}

#[test]
fn an_es256_blob_verifies() {
    let blob = verify_test(data!("blob-no7-es256.jwt"), &good_crls(), test_at()).unwrap();
    assert_eq!((blob.no, blob.alg), (7, JwsAlg::Es256));
    assert_eq!(blob.signer, "mds-ec.test.keyfleet.invalid");
}

#[test]
fn rollback_is_refused() {
    let five = verify_test(data!("blob-no5-rs256.jwt"), &good_crls(), test_at()).unwrap();
    let six = verify_test(data!("blob-no6-rs256.jwt"), &good_crls(), test_at()).unwrap();
    assert_eq!(six.check_newer(Some(5)), Ok(()));
    assert_eq!(six.check_newer(None), Ok(()));
    assert_eq!(five.check_newer(Some(6)), Err(Refusal::Rollback { stored: 6, got: 5 }));
    let same = five.check_newer(Some(5)).unwrap_err();
    assert_eq!(
        (same.code(), same.to_string().as_str()),
        ("rollback", "BLOB number 5 is not greater than the stored 5")
    );
}

#[test]
fn every_bad_blob_is_refused_with_its_reason() {
    let crls = good_crls();
    let cases: [(&str, &[u8], &str); 6] = [
        ("tampered payload", data!("blob-bad-signature.jwt"), "bad_signature"),
        ("chain to another root", data!("blob-wrong-root.jwt"), "untrusted_chain"),
        (
            "x5u on another host",
            data!("blob-x5u-foreign.jwt"),
            "x5u_foreign_origin",
        ),
        (
            "x5u on the BLOB's host",
            data!("blob-x5u-same-origin.jwt"),
            "x5u_not_supported",
        ),
        ("truncated", data!("blob-truncated.jwt"), "malformed_blob"),
        ("alg none", data!("blob-alg-none.jwt"), "unsupported_algorithm"),
    ];
    for (what, blob, code) in cases {
        let refusal = verify_test(blob, &crls, test_at()).unwrap_err();
        assert_eq!(refusal.code(), code, "{what}: {refusal}");
        assert!(!refusal.to_string().contains('\n'), "{what}: one line");
    }
    assert_eq!(
        verify_test(data!("blob-bad-signature.jwt"), &crls, test_at()).unwrap_err(),
        Refusal::BadSignature
    );
}

#[test]
fn x5u_is_foreign_without_a_blob_url_or_on_a_look_alike_host() {
    let roots = [test_root()];
    for url in [
        None,
        Some("https://mds.test.keyfleet.invalid@mds.attacker.invalid/"),
        Some("not a url"),
    ] {
        let verifier = Verifier {
            roots: &roots,
            at: test_at(),
            revocation: Revocation::Offline,
            blob_url: url,
        };
        let refusal = verify(data!("blob-x5u-same-origin.jwt"), &verifier).unwrap_err();
        assert_eq!(refusal.code(), "x5u_foreign_origin", "{url:?}");
    }
}

#[test]
fn revocation_is_decided_from_crls_or_refused() {
    let root_crl = data!("crl-root.der").to_vec();
    let cases: [(&str, Vec<Vec<u8>>, &str); 5] = [
        (
            "leaf revoked",
            vec![root_crl.clone(), data!("crl-ca-revoked.der").to_vec()],
            "certificate_revoked",
        ),
        (
            "CA's CRL stale",
            vec![root_crl.clone(), data!("crl-ca-stale.der").to_vec()],
            "revocation_unknown",
        ),
        (
            "CA's CRL forged",
            vec![root_crl.clone(), data!("crl-ca-forged.der").to_vec()],
            "revocation_unknown",
        ),
        (
            "root's CRL missing",
            vec![data!("crl-ca.der").to_vec()],
            "revocation_unknown",
        ),
        ("garbage", vec![root_crl, b"not a CRL".to_vec()], "revocation_unknown"),
    ];
    for (what, crls, code) in cases {
        let refusal = verify_test(data!("blob-no5-rs256.jwt"), &crls, test_at()).unwrap_err();
        assert_eq!(refusal.code(), code, "{what}: {refusal}");
    }
    // Before a CRL's thisUpdate, it does not count either.
    let early = verify_test(data!("blob-no5-rs256.jwt"), &good_crls(), utc("2026-06-01T00:00:00Z"));
    assert_eq!(early.unwrap_err().code(), "revocation_unknown");
}

#[test]
fn offline_is_an_explicit_decision_recorded_in_the_result() {
    let roots = [test_root()];
    let verifier = Verifier {
        roots: &roots,
        at: test_at(),
        revocation: Revocation::Offline,
        blob_url: None,
    };
    let blob = verify(data!("blob-no5-rs256.jwt"), &verifier).unwrap();
    assert_eq!(blob.revocation, RevocationChecked::Offline);
    assert_eq!(blob.revocation.as_str(), "offline");
}

#[test]
fn validity_and_staleness_follow_the_verification_time() {
    // nextUpdate 2027-02-01: stale from midnight UTC of that day.
    let blob = verify_test(data!("blob-no5-rs256.jwt"), &good_crls(), test_at()).unwrap();
    assert!(!blob.is_stale(utc("2027-01-31T23:59:59Z")));
    assert!(blob.is_stale(utc("2027-02-01T00:00:00Z")));
    // The signer expires on 2028-01-01.
    let roots = [test_root()];
    let late = Verifier {
        roots: &roots,
        at: utc("2028-06-01T00:00:00Z"),
        revocation: Revocation::Offline,
        blob_url: None,
    };
    let refusal = verify(data!("blob-no5-rs256.jwt"), &late).unwrap_err();
    assert!(
        matches!(&refusal, Refusal::CertificateExpired(c) if c.contains("mds.test.keyfleet.invalid")),
        "{refusal}"
    );
    let early = Verifier {
        at: utc("2025-06-01T00:00:00Z"),
        ..late
    };
    assert_eq!(
        verify(data!("blob-no5-rs256.jwt"), &early).unwrap_err().code(),
        "certificate_not_yet_valid"
    );
}

#[test]
fn malformed_input_is_refused_not_panicked_on() {
    let good = data!("blob-no5-rs256.jwt");
    let text = std::str::from_utf8(good).unwrap();
    let (head, rest) = text.split_once('.').unwrap();
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"..".to_vec(),
        b"a.b.c.d".to_vec(),
        vec![0xff; 10],
        format!("{head}.{rest}.extra").into_bytes(),
        format!("{head}=.{rest}").into_bytes(),
        // A payload that is JSON but not a payload.
        format!("{head}.e30.{}", rest.rsplit_once('.').unwrap().1).into_bytes(),
    ];
    for case in cases {
        let refusal = verify_test(&case, &good_crls(), test_at()).unwrap_err();
        assert!(
            matches!(refusal.code(), "malformed_blob" | "bad_signature"),
            "{refusal:?}"
        );
    }
    // A trailing newline (as files have) is fine.
    let mut with_newline = good.to_vec();
    with_newline.push(b'\n');
    assert!(verify_test(&with_newline, &good_crls(), test_at()).is_ok());
}

#[test]
fn payload_types_are_strict_where_read_and_lenient_elsewhere() {
    let ok = br#"{"no": 3, "nextUpdate": "2027-01-01", "entries": [{"aaguid": "11111111-1111-4111-8111-111111111111",
        "statusReports": [], "somethingNew": [1, 2], "metadataStatement": {"description": "d", "x": {}}}]}"#;
    let p = payload::parse(ok).unwrap();
    assert_eq!((p.no, p.entries.len()), (3, 1));
    for bad in [
        r#"{"no": "3", "nextUpdate": "2027-01-01", "entries": []}"#,
        r#"{"no": 3.5, "nextUpdate": "2027-01-01", "entries": []}"#,
        r#"{"no": -1, "nextUpdate": "2027-01-01", "entries": []}"#,
        r#"{"no": 3, "nextUpdate": "soon", "entries": []}"#,
        r#"{"no": 3, "nextUpdate": "2027-01-01", "entries": [{"aaguid": "xyz", "statusReports": []}]}"#,
        r#"{"no": 3, "nextUpdate": "2027-01-01", "entries": [{"statusReports": [{"status": 1}]}]}"#,
        r#"{"no": 3, "nextUpdate": "2027-01-01", "entries": [{"statusReports": [],
            "metadataStatement": {"description": "d", "attestationRootCertificates": ["not base64!"]}}]}"#,
        r#"{"no": 3, "nextUpdate": "2027-01-01", "entries": [
            {"aaguid": "11111111-1111-4111-8111-111111111111", "statusReports": []},
            {"aaguid": "11111111-1111-4111-8111-111111111111", "statusReports": []}]}"#,
    ] {
        let refusal = payload::parse(bad.as_bytes()).unwrap_err();
        assert_eq!(refusal.code(), "malformed_blob", "{bad}");
    }
}

#[test]
fn statuses_round_trip_and_unknown_ones_are_kept() {
    for (name, status) in payload_status_names() {
        assert_eq!(AuthenticatorStatus::parse(name), status);
        assert_eq!(status.as_str(), name);
    }
    let other = AuthenticatorStatus::parse("SOMETHING_NEW");
    assert_eq!(other.as_str(), "SOMETHING_NEW");
    assert!(!other.is_compromised());
}

fn payload_status_names() -> Vec<(&'static str, AuthenticatorStatus)> {
    [
        "NOT_FIDO_CERTIFIED",
        "FIDO_CERTIFIED",
        "USER_VERIFICATION_BYPASS",
        "ATTESTATION_KEY_COMPROMISE",
        "USER_KEY_REMOTE_COMPROMISE",
        "USER_KEY_PHYSICAL_COMPROMISE",
        "UPDATE_AVAILABLE",
        "REVOKED",
        "SELF_ASSERTION_SUBMITTED",
        "FIDO_CERTIFIED_L1",
        "FIDO_CERTIFIED_L1plus",
        "FIDO_CERTIFIED_L2",
        "FIDO_CERTIFIED_L2plus",
        "FIDO_CERTIFIED_L3",
        "FIDO_CERTIFIED_L3plus",
    ]
    .into_iter()
    .map(|n| (n, AuthenticatorStatus::parse(n)))
    .inspect(|(_, s)| assert!(!matches!(s, AuthenticatorStatus::Other(_))))
    .collect()
}

#[test]
fn aaguids_parse_only_in_uuid_form() {
    let a = aaguid("9C835346-796B-4C27-8898-D6032F515CC5");
    assert_eq!(aaguid_to_string(&a), "9c835346-796b-4c27-8898-d6032f515cc5");
    for bad in [
        "9c835346796b4c278898d6032f515cc5",
        "{9c835346-796b-4c27-8898-d6032f515cc5}",
        "",
        "x",
    ] {
        assert_eq!(parse_aaguid(bad), None, "{bad}");
    }
}

#[test]
fn local_statements_name_keyfleets_models_and_carry_the_factory_root() {
    let root = data!("test-root.der").to_vec();
    let entries = local::local_entries(&[("band".to_owned(), root.clone())]).unwrap();
    assert_eq!(entries.len(), keyfleet_authenticator::models().len());
    for model in keyfleet_authenticator::models() {
        let local = entries.iter().find(|e| e.model == model.name).unwrap();
        assert_eq!(local.entry.aaguid, Some(model.aaguid), "{}", model.name);
        assert_eq!(local.entry.description.as_deref(), Some(model.description));
        assert!(local.entry.status_reports.is_empty());
        let roots = if model.name == "band" {
            vec![root.clone()]
        } else {
            Vec::new()
        };
        assert_eq!(local.entry.attestation_roots, roots, "{}", model.name);
    }
    let bad = local::local_entries(&[("nfc-key".to_owned(), b"not a cert".to_vec())]).unwrap_err();
    assert!(matches!(bad, local::LocalError::Root(m, _) if m == "nfc-key"));
}

#[test]
fn certificate_names_from_the_blob_cannot_break_the_refusal_line() {
    let refusal = Refusal::from(TrustError::Expired("x5c[0] (evil\nkeyfleet: ok)".into()));
    assert_eq!(refusal.code(), "certificate_expired");
    assert!(!refusal.to_string().contains('\n'), "{refusal}");
}

#[test]
fn a_stored_next_update_is_read_back_for_the_staleness_check() {
    let day = time::macros::date!(2022 - 11 - 01);
    assert_eq!(format_date(day), "2022-11-01");
    assert_eq!(
        next_update_passed("2022-11-01", utc("2022-10-31T23:59:59Z")),
        Some(false)
    );
    assert_eq!(
        next_update_passed("2022-11-01", utc("2022-11-01T00:00:00Z")),
        Some(true)
    );
    assert_eq!(next_update_passed("1 Nov 2022", real_at()), None);
}
