//! `keyfleet mds import|show`: the real BLOB of 2022-10-22 (shared corpus) at its time,
//! keyfleet's own test BLOBs (`crates/mds/tests/data/`) for the refusals; a refusal is one
//! line naming its reason, exits non-zero, keeps the last good BLOB and is audited.

use std::path::Path;
use std::process::Output;

use keyfleet_domain::audit::AuditQuery;
use keyfleet_domain::store::Stores;
use keyfleet_store_sqlite::SqliteStore;
use serde_json::{Value, json};

use crate::process::{Scratch, run};

const REAL_BLOB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/mds/blob-2022-10-22.jwt"
);
const REAL_AT: &str = "2022-10-22T12:00:00Z";
const TEST_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../mds/tests/data/");
const TEST_AT: &str = "2027-01-15T12:00:00Z";

fn mds(dir: &Scratch, args: &[&str]) -> Output {
    let url = dir.sqlite_url();
    let mut all = vec!["mds"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database-url", &url]);
    // No factory directory: keyfleet's own entries carry no root here.
    let factory = dir.0.join("no-factory");
    let factory = factory.to_str().unwrap();
    run(&dir.0, &all, &[("USER", "opsuser"), ("KEYFLEET_FACTORY_DIR", factory)])
}

/// `mds ARGS`, which must succeed with one JSON document on standard output.
fn mds_json(dir: &Scratch, args: &[&str]) -> Value {
    let out = mds(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mds {args:?}: {err}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON document: {text}");
    serde_json::from_str(&text).unwrap()
}

/// `mds ARGS`, which must fail with exit code 1 and one line on standard error; returns it.
fn mds_refused(dir: &Scratch, args: &[&str]) -> String {
    let out = mds(dir, args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "mds {args:?} should fail: {err}");
    assert!(out.stdout.is_empty(), "nothing on standard output when refused");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

fn data(file: &str) -> String {
    let path = format!("{TEST_DATA}{file}");
    assert!(Path::new(&path).is_file(), "{path}");
    path
}

/// Imports a test BLOB with the test root, at the pinned time, with the good CRLs.
fn import_test_args(file: &str) -> Vec<String> {
    [
        "import",
        "--file",
        &data(file),
        "--root",
        &data("test-root.der"),
        "--at",
        TEST_AT,
        "--crl",
        &data("crl-root.der"),
        "--crl",
        &data("crl-ca.der"),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

async fn refused_reasons(dir: &Scratch) -> Vec<String> {
    let store = SqliteStore::connect(&dir.sqlite_url()).await.unwrap();
    let stores = Stores::from_store(store);
    let log = stores
        .audit
        .list(&AuditQuery {
            action: Some("metadata.refused".into()),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    log.iter()
        .rev()
        .map(|e| {
            assert_eq!(e.actor, "cli:opsuser");
            let detail: Value = serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
            detail["reason"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn the_real_blob_imports_at_its_time_offline_and_shows_an_entry() {
    let dir = Scratch::new("mds-real");
    let imported = mds_json(&dir, &["import", "--file", REAL_BLOB, "--at", REAL_AT, "--offline"]);
    assert_eq!(imported, json!({"no": 20, "nextUpdate": "2022-11-01", "entries": 126}));
    let entry = mds_json(&dir, &["show", "--aaguid", "9C835346-796B-4C27-8898-D6032F515CC5"]);
    assert_eq!(entry["aaguid"], "9c835346-796b-4c27-8898-d6032f515cc5");
    assert_eq!(entry["description"], "Cryptnox FIDO2");
    assert_eq!(entry["status"], "FIDO_CERTIFIED_L1");
    assert_eq!(entry["certificationLevel"], "FIDO_CERTIFIED_L1");
    assert_eq!(entry["source"], "mds");
    assert!(entry["attestationRoots"].as_u64().unwrap() >= 1, "{entry}");
    // keyfleet's own model, merged as a local entry.
    let own = mds_json(&dir, &["show", "--aaguid", "3559c435-ff17-4bc9-b942-325c1f348b94"]);
    assert_eq!(own["description"], "keyfleet NFC security key");
    assert_eq!((&own["source"], &own["status"]), (&json!("local"), &Value::Null));
    // An unknown AAGUID, and a malformed one.
    let err = mds_refused(&dir, &["show", "--aaguid", "00000000-0000-0000-0000-000000000000"]);
    assert!(err.contains("no metadata entry"), "{err}");
    let err = mds_refused(&dir, &["show", "--aaguid", "nope"]);
    assert!(err.contains("--aaguid"), "{err}");
}

#[tokio::test]
async fn the_real_blob_is_refused_now_and_without_a_revocation_decision() {
    let dir = Scratch::new("mds-real-refused");
    let err = mds_refused(&dir, &["import", "--file", REAL_BLOB, "--offline"]);
    assert!(err.contains("refused (certificate_expired)"), "{err}");
    let err = mds_refused(&dir, &["import", "--file", REAL_BLOB, "--at", REAL_AT]);
    assert!(
        err.contains("refused (revocation_unknown)") && err.contains("--offline"),
        "{err}"
    );
    let err = mds_refused(&dir, &["import", "--file", REAL_BLOB, "--at", "yesterday", "--offline"]);
    assert!(err.contains("--at"), "{err}");
    assert_eq!(
        refused_reasons(&dir).await,
        ["certificate_expired", "revocation_unknown"]
    );
}

#[tokio::test]
async fn rollback_and_tampering_are_refused_and_the_last_good_blob_is_kept() {
    let dir = Scratch::new("mds-rollback");
    let six = mds_json(&dir, &strs(&import_test_args("blob-no6-rs256.jwt")));
    assert_eq!(six, json!({"no": 6, "nextUpdate": "2027-03-01", "entries": 8}));
    let revoked = mds_json(&dir, &["show", "--aaguid", "11111111-1111-4111-8111-111111111111"]);
    assert_eq!(
        (&revoked["status"], &revoked["compromised"]),
        (&json!("REVOKED"), &json!(true))
    );

    let err = mds_refused(&dir, &strs(&import_test_args("blob-no5-rs256.jwt")));
    assert!(
        err.contains("refused (rollback)") && err.contains("5") && err.contains("6"),
        "{err}"
    );
    let err = mds_refused(&dir, &strs(&import_test_args("blob-no6-rs256.jwt")));
    assert!(err.contains("refused (rollback)"), "the same no again: {err}");
    let err = mds_refused(&dir, &strs(&import_test_args("blob-bad-signature.jwt")));
    assert!(err.contains("refused (bad_signature)"), "{err}");
    let err = mds_refused(&dir, &strs(&import_test_args("blob-x5u-foreign.jwt")));
    assert!(err.contains("refused (x5u_foreign_origin)"), "{err}");
    let mut wrong_root = import_test_args("blob-no7-es256.jwt");
    wrong_root[4] = data("other-root.der");
    let err = mds_refused(&dir, &strs(&wrong_root));
    assert!(err.contains("refused (untrusted_chain)"), "{err}");

    // Still no 6: the entry keeps its status from it.
    let kept = mds_json(&dir, &["show", "--aaguid", "11111111-1111-4111-8111-111111111111"]);
    assert_eq!(kept, revoked);
    assert_eq!(
        refused_reasons(&dir).await,
        [
            "rollback",
            "rollback",
            "bad_signature",
            "x5u_foreign_origin",
            "untrusted_chain"
        ]
    );

    // A newer one (ES256) is stored.
    let seven = mds_json(&dir, &strs(&import_test_args("blob-no7-es256.jwt")));
    assert_eq!(seven["no"], 7);
}

#[test]
fn docs_cli_md_describes_every_mds_command() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md")).unwrap();
    let help = crate::process::run_ok(&std::env::temp_dir(), &["mds", "--help"], &[]);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert_eq!(commands, ["import", "show"], "{help}");
    for c in commands {
        assert!(
            doc.contains(&format!("| `mds {c} ")),
            "docs/cli.md does not describe `mds {c}`"
        );
    }
}
