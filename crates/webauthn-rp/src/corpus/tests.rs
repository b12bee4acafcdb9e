//! Runner helpers.

use super::*;

#[test]
fn rfc3339_utc_times_parse() {
    let t = parse_rfc3339("2025-01-01T00:00:00Z").unwrap();
    assert_eq!(
        t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
        1_735_689_600
    );
    let t = parse_rfc3339("2019-01-15T14:17:10.123Z").unwrap();
    assert_eq!(
        t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
        1_547_561_830
    );
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(SystemTime::UNIX_EPOCH));
    for bad in [
        "2025-01-01",
        "2025-13-01T00:00:00Z",
        "2025-01-01T00:00:00+01:00",
        "2025-01-01T24:00:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn broken_case_files_fail() {
    assert!(!run_case("not json").verdict_ok);
    assert!(!run_case(r#"{"ceremony":"registration"}"#).verdict_ok);
}

#[test]
fn every_reason_maps_to_codes() {
    for reason in [
        "clientDataJSON type mismatch",
        "challenge mismatch",
        "origin mismatch",
        "rpIdHash mismatch",
        "user presence required",
        "user verification required",
        "signature invalid",
        "attestation signature invalid",
        "attestation trust path not anchored",
        "aaguid extension mismatch",
    ] {
        assert!(!reason_codes(reason).is_empty(), "{reason}");
    }
}

/// The generated vectors in `tests/data/`: rebuilt here from the deterministic test
/// authenticator (RFC 6979 signatures, fixed keys) and compared byte for byte. Run with
/// `UPDATE_VECTORS=1` to rewrite them.
mod vectors {
    use base64::Engine;
    use serde_json::json;
    use sha2::Digest;

    use super::*;
    use crate::test_support::{self as ts, Assertion, Registration};
    use crate::x509::tests as certs;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

    fn source(test: &str) -> serde_json::Value {
        json!({ "repo": "keyfleet", "path": "crates/webauthn-rp/src/corpus/tests.rs", "test": test })
    }

    fn registration_case(reg: &Registration, test: &str, note: &str) -> serde_json::Value {
        json!({
            "ceremony": "registration",
            "expect": "accept",
            "rpId": ts::RP_ID,
            "origin": ts::ORIGIN,
            "challenge": Base64UrlBytes::encode(ts::CHALLENGE),
            "verifyAt": "2025-01-01T00:00:00Z",
            "userVerificationRequired": true,
            "expectedFmt": "packed",
            "expectedAaguid": crate::auth_data::Aaguid(ts::AAGUID).to_string(),
            "response": serde_json::to_value(reg.build()).unwrap(),
            "source": source(test),
            "note": note,
        })
    }

    fn cases() -> Vec<(&'static str, serde_json::Value)> {
        let mut self_case = registration_case(
            &Registration::default(),
            "packed_self_es256_registration",
            "Generated: packed self attestation, ES256 credential from the fixed test key.",
        );
        self_case["expectedAttestationType"] = json!("self");

        let leaf_key = certs::key("leaf");
        let mut full = Registration::default();
        let auth_data = full.auth_data();
        let sig = ts::sign(&leaf_key, &[&auth_data, &sha2::Sha256::digest(&full.client_data)]);
        let x5c = [certs::leaf(certs::VALID), certs::intermediate("root", certs::VALID)];
        full.att_stmt = Some(ts::map(&[
            (ts::text("alg"), ts::int(-7)),
            (ts::text("sig"), ts::bytes(&sig)),
            (
                ts::text("x5c"),
                ts::array(&x5c.iter().map(|c| ts::bytes(c)).collect::<Vec<_>>()),
            ),
        ]));
        let root_pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(certs::root("root", certs::VALID))
        );
        let mut full_case = registration_case(
            &full,
            "packed_full_es256_registration",
            "Generated: packed full attestation; x5c = [leaf, intermediate], both issued under the \
             generated keyfleet Test Root given as trust anchor; certificates valid 2024-01-01..2026-01-01.",
        );
        full_case["expectedAttestationType"] = json!("basic");
        full_case["trustAnchors"] = json!([root_pem]);

        let key = ts::cose_es256(&ts::signing_key());
        let assertion = json!({
            "ceremony": "authentication",
            "expect": "accept",
            "rpId": ts::RP_ID,
            "origin": ts::ORIGIN,
            "challenge": Base64UrlBytes::encode(ts::CHALLENGE),
            "verifyAt": "2025-01-01T00:00:00Z",
            "userVerificationRequired": true,
            "credentialPublicKey": Base64UrlBytes::encode(&key),
            "storedSignCount": 41,
            "response": serde_json::to_value(Assertion::default().build()).unwrap(),
            "source": source("es256_assertion"),
            "note": "Generated: ES256 assertion (UP, UV; signCount 41 -> 42) by the credential of keyfleet-packed-self-es256.",
        });
        vec![
            ("keyfleet-packed-self-es256.json", self_case),
            ("keyfleet-packed-full-es256.json", full_case),
            ("keyfleet-es256-assertion.json", assertion),
        ]
    }

    #[test]
    fn generated_vectors_are_reproducible_and_accepted() {
        for (name, case) in cases() {
            let text = serde_json::to_string_pretty(&case).unwrap() + "\n";
            let path = std::path::Path::new(DATA).join(name);
            if std::env::var_os("UPDATE_VECTORS").is_some() {
                std::fs::write(&path, &text).unwrap();
            }
            let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                stored, text,
                "{name} differs from what the test authenticator makes (UPDATE_VECTORS=1)"
            );
            let report = run_case(&stored);
            assert!(report.verdict_ok, "{name}: {report:?}");
        }
    }
}
