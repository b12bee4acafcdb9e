//! Runs every case of `shared/conformance/webauthn` and checks its verdict.

use std::path::{Path, PathBuf};

use keyfleet_webauthn_rp::corpus::{Verdict, run_case};

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/webauthn");

/// The corpus' case files. Panics (fails loudly) if the directory is missing or empty.
fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(CORPUS_DIR);
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("conformance corpus missing at {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 60, "the corpus README promises 60 cases");
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_corpus_case_gives_its_expected_verdict() {
    let mut failures = Vec::new();
    for file in case_files() {
        let report = run_case(&read(&file));
        if !report.verdict_ok {
            failures.push(format!(
                "{}: expected {}, got {} [{}]",
                file.display(),
                report.expected,
                report.got,
                report.detail
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Returns the case with `response.response[member]` replaced by `f(bytes)`.
fn mutate(text: &str, member: &str, f: impl Fn(&mut Vec<u8>)) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut case: serde_json::Value = serde_json::from_str(text).expect("case JSON");
    let slot = &mut case["response"]["response"][member];
    let mut bytes = URL_SAFE_NO_PAD
        .decode(slot.as_str().expect("base64url member"))
        .expect("base64url");
    f(&mut bytes);
    *slot = serde_json::Value::String(URL_SAFE_NO_PAD.encode(bytes));
    serde_json::to_string(&case).expect("serialise case")
}

/// (ceremony, expect, expectedFmt) of a case.
fn meta(text: &str) -> (String, String, String) {
    let case: serde_json::Value = serde_json::from_str(text).expect("case JSON");
    let field = |name: &str| case[name].as_str().unwrap_or_default().to_owned();
    (field("ceremony"), field("expect"), field("expectedFmt"))
}

/// The README's tamper test: whitespace appended to clientDataJSON keeps it valid JSON but
/// changes its hash, so every signed registration must now fail. `none` has nothing signed.
#[test]
fn tampered_client_data_breaks_every_signed_registration() {
    let mut checked = 0;
    for file in case_files() {
        let text = read(&file);
        let (ceremony, expect, fmt) = meta(&text);
        if expect != "accept" || ceremony != "registration" || fmt == "none" {
            continue;
        }
        checked += 1;
        let tampered = mutate(&text, "clientDataJSON", |b| b.push(b' '));
        let report = run_case(&tampered);
        assert!(
            matches!(report.got, Verdict::Reject(_)),
            "{}: tampered clientDataJSON was accepted",
            file.display()
        );
    }
    assert_eq!(checked, 29, "34 accepted registrations, 5 of them none");
}

/// One flipped bit in any accepted assertion's signature must be rejected as `signature_invalid`.
#[test]
fn flipped_signature_bit_breaks_every_assertion() {
    let mut checked = 0;
    for file in case_files() {
        let text = read(&file);
        let (ceremony, expect, _) = meta(&text);
        if expect != "accept" || ceremony != "authentication" {
            continue;
        }
        checked += 1;
        let tampered = mutate(&text, "signature", |b| {
            let last = b.len() - 1;
            b[last] ^= 0x01;
        });
        let report = run_case(&tampered);
        assert_eq!(
            report.got,
            Verdict::Reject("signature_invalid".into()),
            "{}",
            file.display()
        );
    }
    assert_eq!(checked, 12);
}

/// Trailing bytes after the attestation object or the authenticator data are rejected (R9, row 1).
#[test]
fn trailing_bytes_are_rejected() {
    let mut checked = 0;
    for file in case_files() {
        let text = read(&file);
        let (ceremony, expect, _) = meta(&text);
        if expect != "accept" {
            continue;
        }
        checked += 1;
        let (member, code) = if ceremony == "registration" {
            ("attestationObject", "invalid_cbor")
        } else {
            ("authenticatorData", "auth_data_trailing_bytes")
        };
        let report = run_case(&mutate(&text, member, |b| b.push(0)));
        assert_eq!(report.got, Verdict::Reject(code.into()), "{}", file.display());
    }
    assert_eq!(checked, 46);
}

/// keyfleet's own generated vectors (`tests/data`), in the corpus schema, all accepted.
#[test]
fn generated_vectors_in_tests_data_are_accepted() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"));
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("tests/data") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "json") {
            let report = run_case(&read(&path));
            assert!(report.verdict_ok, "{}: {report:?}", path.display());
            count += 1;
        }
    }
    assert_eq!(count, 3);
}
