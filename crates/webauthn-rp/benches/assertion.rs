//! Full `verify_authentication` against a raw aws-lc-rs verification of the same signed data
//! (authenticatorData ‖ SHA-256(clientDataJSON)), in one process, one criterion group per
//! algorithm: ES256, ES384, ES512, EdDSA, RS256, PS256 (issue 11; target: full ≤ 1.25 × raw).
//!
//! Each group has three functions:
//! - `full`: `verify_authentication` with the stored key already parsed (a
//!   `CredentialPublicKey`), every §7.2 check and the signature;
//! - `raw_aws_lc`: `ParsedPublicKey::verify_sig` of the same message and signature, the key
//!   parsed beforehand: the floor;
//! - `full_with_key_parse`: `CredentialPublicKey::from_cose` of the stored COSE bytes, then
//!   `full` (what a server does when it reads the key from its database for each sign-in).
//!
//! After each group the ratio full / raw is printed twice: from criterion's medians, and from
//! an interleaved measurement (`paired`: 41 rounds, each timing a batch of `full` and a batch
//! of `raw_aws_lc` back to back, alternating which goes first; the median of the per-round
//! ratios). On a shared machine the load changes between criterion's two measurements, so
//! the interleaved ratio is the one to trust; it is written to `<criterion dir>/<group>/paired.json`.
//!
//! The assertions are made here, deterministically: fixed keys (derived from fixed strings;
//! the RSA key from a seeded generator), RFC 6979 ECDSA (ES256, ES384), Ed25519, PKCS#1 v1.5
//! and PSS with a seeded salt. ES512 is signed by aws-lc-rs (a fixed key, but aws-lc draws
//! its ECDSA nonces itself, so that one signature differs between runs). With
//! `KEYFLEET_BENCH_ASSERTIONS=path`, the assertions are written to `path` as JSON for
//! `scripts/bench/py_webauthn_verify.py` (see `scripts/bench-verify.sh`).
//!
//! With `KEYFLEET_BENCH_SERVE=1` the binary benchmarks nothing: it verifies the assertions of
//! `KEYFLEET_BENCH_LOAD=path` (a file it wrote, so ES512's signature is the one the Python side
//! has too), reads requests
//! `full|raw <group> <iterations>` on standard input and answers each with the nanoseconds
//! that many verifications took. The Python side uses it to time py_webauthn and keyfleet in
//! alternating batches, so that both see the same machine load.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use aws_lc_rs::signature::{self as lc, KeyPair as _, ParsedPublicKey, RsaPublicKeyComponents};
use criterion::Criterion;
use keyfleet_webauthn_rp::{
    AssertionExpectations, AuthenticationResponseJSON, AuthenticatorAssertionResponseJSON, Base64UrlBytes,
    CounterPolicy, CredentialPublicKey, CrossOriginPolicy, StoredCredential, UserIdentification, verify_authentication,
};
use rand::SeedableRng;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384};

const RP_ID: &str = "example.com";
const ORIGIN: &str = "https://example.com";
const ORIGINS: &[&str] = &[ORIGIN];
const CHALLENGE: &[u8] = b"0123456789abcdef0123456789abcdef";
const USER_HANDLE: &[u8] = b"user-42";
const STORED_SIGN_COUNT: u32 = 41;

/// One algorithm's assertion and what verifying it needs.
struct Case {
    /// The group name (`es256`, …) and the algorithm's name (`ES256`, …).
    group: &'static str,
    name: &'static str,
    cose_alg: i64,
    credential_id: Vec<u8>,
    cose_key: Vec<u8>,
    response: AuthenticationResponseJSON,
    /// authenticatorData ‖ SHA-256(clientDataJSON).
    message: Vec<u8>,
    signature: Vec<u8>,
    raw_key: ParsedPublicKey,
}

// ---- CBOR (definite lengths, shortest form) for the COSE keys ----

fn head(major: u8, n: usize) -> Vec<u8> {
    let m = major << 5;
    match n {
        0..=23 => vec![m | n as u8],
        24..=0xff => vec![m | 24, n as u8],
        _ => vec![m | 25, (n >> 8) as u8, n as u8],
    }
}
fn int(i: i64) -> Vec<u8> {
    if i >= 0 {
        head(0, i as usize)
    } else {
        head(1, (-1 - i) as usize)
    }
}
fn bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len()), b.to_vec()].concat()
}
fn map(entries: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut out = head(5, entries.len());
    for (k, v) in entries {
        out.extend(int(*k));
        out.extend_from_slice(v);
    }
    out
}
fn ec2(alg: i64, crv: i64, point: &[u8]) -> Vec<u8> {
    let n = (point.len() - 1) / 2;
    map(&[
        (1, int(2)),
        (3, int(alg)),
        (-1, int(crv)),
        (-2, bytes(&point[1..1 + n])),
        (-3, bytes(&point[1 + n..])),
    ])
}

// ---- the assertions ----

fn client_data() -> Vec<u8> {
    format!(
        r#"{{"type":"webauthn.get","challenge":"{}","origin":"{ORIGIN}","crossOrigin":false}}"#,
        Base64UrlBytes::encode(CHALLENGE)
    )
    .into_bytes()
}

fn auth_data() -> Vec<u8> {
    let mut auth_data = Sha256::digest(RP_ID.as_bytes()).to_vec();
    auth_data.push(0x05); // UP | UV
    auth_data.extend_from_slice(&(STORED_SIGN_COUNT + 1).to_be_bytes());
    auth_data
}

fn signed_message() -> Vec<u8> {
    [auth_data(), Sha256::digest(client_data()).to_vec()].concat()
}

fn seed(label: &str) -> [u8; 32] {
    Sha256::digest(format!("keyfleet bench {label}")).into()
}

fn case(
    group: &'static str,
    name: &'static str,
    cose_alg: i64,
    cose_key: Vec<u8>,
    signature: Vec<u8>,
    raw_key: ParsedPublicKey,
) -> Case {
    let credential_id = format!("keyfleet-bench-{group}").into_bytes();
    let response = AuthenticationResponseJSON {
        id: Base64UrlBytes::encode(&credential_id),
        raw_id: Base64UrlBytes(credential_id.clone()),
        response: AuthenticatorAssertionResponseJSON {
            client_data_json: Base64UrlBytes(client_data()),
            authenticator_data: Base64UrlBytes(auth_data()),
            signature: Base64UrlBytes(signature.clone()),
            user_handle: Some(Base64UrlBytes(USER_HANDLE.to_vec())),
        },
        authenticator_attachment: None,
        client_extension_results: serde_json::json!({}),
        type_: "public-key".into(),
    };
    Case {
        group,
        name,
        cose_alg,
        credential_id,
        cose_key,
        response,
        message: signed_message(),
        signature,
        raw_key,
    }
}

fn es256() -> Case {
    use p256::ecdsa::signature::Signer;
    let key = p256::ecdsa::SigningKey::from_slice(&seed("ES256")).expect("scalar");
    let point = key.verifying_key().to_encoded_point(false);
    let signature: p256::ecdsa::DerSignature = key.sign(&signed_message());
    let raw = ParsedPublicKey::new(&lc::ECDSA_P256_SHA256_ASN1, point.as_bytes()).expect("P-256 key");
    case(
        "es256",
        "ES256",
        -7,
        ec2(-7, 1, point.as_bytes()),
        signature.as_bytes().to_vec(),
        raw,
    )
}

fn es384() -> Case {
    use p384::ecdsa::signature::Signer;
    let key = p384::ecdsa::SigningKey::from_slice(&Sha384::digest(b"keyfleet bench ES384")).expect("scalar");
    let point = key.verifying_key().to_encoded_point(false);
    let signature: p384::ecdsa::DerSignature = key.sign(&signed_message());
    let raw = ParsedPublicKey::new(&lc::ECDSA_P384_SHA384_ASN1, point.as_bytes()).expect("P-384 key");
    case(
        "es384",
        "ES384",
        -35,
        ec2(-35, 2, point.as_bytes()),
        signature.as_bytes().to_vec(),
        raw,
    )
}

fn es512() -> Case {
    // ECPrivateKey (RFC 5915) { version 1, privateKey (66 bytes), [0] secp521r1 }; aws-lc
    // computes the public key.
    let mut scalar = vec![0u8, 0u8];
    scalar.extend_from_slice(&sha2::Sha512::digest(b"keyfleet bench ES512"));
    let der = [
        &[0x30, 0x50, 0x02, 0x01, 0x01, 0x04, 0x42][..],
        &scalar,
        &[0xa0, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
    ]
    .concat();
    let key = lc::EcdsaKeyPair::from_private_key_der(&lc::ECDSA_P521_SHA512_ASN1_SIGNING, &der).expect("P-521 key");
    let point = key.public_key().as_ref().to_vec();
    let signature = key
        .sign(&aws_lc_rs::rand::SystemRandom::new(), &signed_message())
        .expect("sign")
        .as_ref()
        .to_vec();
    let raw = ParsedPublicKey::new(&lc::ECDSA_P521_SHA512_ASN1, &point).expect("P-521 key");
    case("es512", "ES512", -36, ec2(-36, 3, &point), signature, raw)
}

fn eddsa() -> Case {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed("EdDSA"));
    let public = key.verifying_key().to_bytes();
    let signature = key.sign(&signed_message()).to_bytes().to_vec();
    let cose = map(&[(1, int(1)), (3, int(-8)), (-1, int(6)), (-2, bytes(&public))]);
    let raw = ParsedPublicKey::new(&lc::ED25519, public).expect("Ed25519 key");
    case("eddsa", "EdDSA", -8, cose, signature, raw)
}

fn rsa_key() -> rsa::RsaPrivateKey {
    let mut rng = rand::rngs::StdRng::from_seed(seed("RSA"));
    rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key")
}

fn rsa_case(
    group: &'static str,
    name: &'static str,
    cose_alg: i64,
    key: &rsa::RsaPrivateKey,
    signature: Vec<u8>,
    params: &'static lc::RsaParameters,
) -> Case {
    let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
    let cose = map(&[(1, int(3)), (3, int(cose_alg)), (-1, bytes(&n)), (-2, bytes(&e))]);
    let raw = RsaPublicKeyComponents { n: &n[..], e: &e[..] }
        .to_parsed_public_key(params)
        .expect("RSA key");
    case(group, name, cose_alg, cose, signature, raw)
}

fn rs256(key: &rsa::RsaPrivateKey) -> Case {
    use rsa::signature::{SignatureEncoding, Signer};
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
    let signature = signer.sign(&signed_message()).to_vec();
    rsa_case("rs256", "RS256", -257, key, signature, &lc::RSA_PKCS1_2048_8192_SHA256)
}

fn ps256(key: &rsa::RsaPrivateKey) -> Case {
    use rsa::signature::{RandomizedSigner, SignatureEncoding};
    let mut rng = rand::rngs::StdRng::from_seed(seed("PS256 salt"));
    // Salt as long as the hash (RFC 8230 §2).
    let signer = rsa::pss::SigningKey::<Sha256>::new(key.clone());
    let signature = signer.sign_with_rng(&mut rng, &signed_message()).to_vec();
    rsa_case("ps256", "PS256", -37, key, signature, &lc::RSA_PSS_2048_8192_SHA256)
}

fn expectations<'a>(case: &'a Case, key: &'a CredentialPublicKey) -> AssertionExpectations<'a> {
    AssertionExpectations {
        challenge: CHALLENGE,
        origins: ORIGINS,
        cross_origin: CrossOriginPolicy::Deny,
        rp_id: RP_ID,
        user_verification_required: true,
        allow_credentials: &[],
        user: UserIdentification::Usernameless,
        credential: StoredCredential {
            id: &case.credential_id,
            public_key: key,
            sign_count: STORED_SIGN_COUNT,
            backup_eligible: Some(false),
            user_handle: USER_HANDLE,
        },
        requested_extensions: None,
        counter_policy: CounterPolicy::Reject,
    }
}

/// Where criterion writes its results (as criterion itself decides, without `cargo metadata`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")));
    target.join("criterion")
}

/// Criterion's median estimate (ns) of `group/function`, if it was measured by this run.
fn median_ns(dir: &Path, group: &str, function: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(group).join(function).join("new").join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

/// Per-call nanoseconds of `batch` runs of `f`.
fn time_batch(batch: u32, f: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(batch)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The interleaved measurement: (median full ns, median raw ns, median of per-round ratios).
fn paired(mut full: impl FnMut(), mut raw: impl FnMut()) -> (f64, f64, f64) {
    // Batches of about 20 ms.
    let probe = time_batch(20, &mut full);
    let batch = ((20e6 / probe) as u32).clamp(10, 100_000);
    let (mut fulls, mut raws, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..41 {
        let (f, r) = if round % 2 == 0 {
            let f = time_batch(batch, &mut full);
            (f, time_batch(batch, &mut raw))
        } else {
            let r = time_batch(batch, &mut raw);
            (time_batch(batch, &mut full), r)
        };
        fulls.push(f);
        raws.push(r);
        ratios.push(f / r);
    }
    (median(&mut fulls), median(&mut raws), median(&mut ratios))
}

fn write_assertions(path: &str, cases: &[Case]) {
    let cases: Vec<_> = cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "group": c.group,
                "alg": c.name,
                "coseAlg": c.cose_alg,
                "credential": c.response,
                "credentialPublicKey": Base64UrlBytes::encode(&c.cose_key),
                "storedSignCount": STORED_SIGN_COUNT,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "rpId": RP_ID,
        "origin": ORIGIN,
        "challenge": Base64UrlBytes::encode(CHALLENGE),
        "requireUserVerification": true,
        "cases": cases,
    });
    let text = serde_json::to_string_pretty(&doc).expect("JSON");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    eprintln!("assertions written to {path}");
}

fn bench_case(c: &mut Criterion, case: &Case) {
    let key = CredentialPublicKey::from_cose(&case.cose_key).expect("COSE key");
    let expected = expectations(case, &key);
    // Everything verifies before anything is timed.
    verify_authentication(&expected, &case.response).expect("the bench assertion verifies");
    case.raw_key
        .verify_sig(&case.message, &case.signature)
        .expect("raw verify");

    let mut group = c.benchmark_group(case.group);
    group.bench_function("full", |b| {
        b.iter(|| verify_authentication(black_box(&expected), black_box(&case.response)).expect("valid"))
    });
    group.bench_function("raw_aws_lc", |b| {
        b.iter(|| {
            black_box(&case.raw_key)
                .verify_sig(black_box(&case.message), black_box(&case.signature))
                .expect("valid")
        })
    });
    group.bench_function("full_with_key_parse", |b| {
        b.iter(|| {
            let key = CredentialPublicKey::from_cose(black_box(&case.cose_key)).expect("COSE key");
            verify_authentication(&expectations(case, &key), black_box(&case.response)).expect("valid")
        })
    });
    group.finish();
}

/// Replaces each case's response and signature by those `path` (written by
/// [`write_assertions`]) holds for its group; the keys are the same, being derived from fixed bytes.
fn load_assertions(path: &str, cases: &mut [Case]) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    for entry in doc["cases"].as_array().expect("cases") {
        let Some(case) = cases.iter_mut().find(|c| entry["group"] == c.group) else {
            continue;
        };
        assert_eq!(
            entry["credentialPublicKey"].as_str(),
            Some(Base64UrlBytes::encode(&case.cose_key).as_str()),
            "{}: the file's key is not this bench's",
            case.group
        );
        let response: AuthenticationResponseJSON =
            serde_json::from_value(entry["credential"].clone()).expect("credential");
        case.signature = response.response.signature.0.clone();
        case.response = response;
    }
}

/// Answers `full|raw <group> <iterations>` lines with elapsed nanoseconds, until end of input.
fn serve(cases: &[Case]) {
    use std::io::{BufRead, Write};
    let keys: Vec<CredentialPublicKey> = cases
        .iter()
        .map(|c| CredentialPublicKey::from_cose(&c.cose_key).expect("COSE key"))
        .collect();
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let mut words = line.split_whitespace();
        let (Some(what), Some(group), Some(n)) = (words.next(), words.next(), words.next()) else {
            panic!("bad request {line:?}")
        };
        let n: u32 = n.parse().expect("iterations");
        let i = cases.iter().position(|c| c.group == group).expect("known group");
        let (case, expected) = (&cases[i], expectations(&cases[i], &keys[i]));
        let ns = match what {
            "full" => time_batch(n, &mut || {
                verify_authentication(black_box(&expected), black_box(&case.response)).expect("valid");
            }),
            "raw" => time_batch(n, &mut || {
                black_box(&case.raw_key)
                    .verify_sig(black_box(&case.message), black_box(&case.signature))
                    .expect("valid")
            }),
            _ => panic!("bad request {line:?}"),
        } * f64::from(n);
        let mut out = stdout.lock();
        writeln!(out, "{ns}").expect("stdout");
        out.flush().expect("stdout");
    }
}

fn main() {
    let rsa = rsa_key();
    let cases = [es256(), es384(), es512(), eddsa(), rs256(&rsa), ps256(&rsa)];
    if let Ok(path) = std::env::var("KEYFLEET_BENCH_ASSERTIONS") {
        write_assertions(&path, &cases);
    }
    if std::env::var_os("KEYFLEET_BENCH_SERVE").is_some() {
        let mut cases = cases;
        if let Ok(path) = std::env::var("KEYFLEET_BENCH_LOAD") {
            load_assertions(&path, &mut cases);
        }
        serve(&cases);
        return;
    }
    let dir = criterion_dir();
    let mut c = Criterion::default().output_directory(&dir).configure_from_args();
    let started = SystemTime::now();
    for case in &cases {
        bench_case(&mut c, case);
        if let (Some(full), Some(raw)) = (
            median_ns(&dir, case.group, "full", started),
            median_ns(&dir, case.group, "raw_aws_lc", started),
        ) {
            let key = CredentialPublicKey::from_cose(&case.cose_key).expect("COSE key");
            let expected = expectations(case, &key);
            let (paired_full, paired_raw, ratio) = paired(
                || {
                    verify_authentication(black_box(&expected), black_box(&case.response)).expect("valid");
                },
                || {
                    black_box(&case.raw_key)
                        .verify_sig(black_box(&case.message), black_box(&case.signature))
                        .expect("valid")
                },
            );
            println!(
                "{}: criterion medians: full {:.2} µs, raw aws-lc-rs {:.2} µs, ratio {:.3}; \
                 interleaved: full {:.2} µs, raw {:.2} µs, ratio {:.3}",
                case.name,
                full / 1000.0,
                raw / 1000.0,
                full / raw,
                paired_full / 1000.0,
                paired_raw / 1000.0,
                ratio
            );
            let record = serde_json::json!({
                "full_ns": paired_full, "raw_ns": paired_raw, "ratio": ratio, "rounds": 41,
            });
            let path = dir.join(case.group).join("paired.json");
            std::fs::write(&path, record.to_string()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    c.final_summary();
}
