//! End-to-end tests of the `keyfleet key` commands, run through this crate's `keyfleet-key` binary:
//! key files, the factory and the commands that drive the engine through real CTAP2 requests. (The
//! PC/SC path is tested by tests/interop, through the real `keyfleet` binary.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Dir(PathBuf);

impl Dir {
    fn new(label: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("keyfleet-softkey-it-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key_cmd(dir: &Path, args: &[&str], passphrase: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyfleet-key"));
    cmd.args(args)
        .current_dir(dir)
        .env("KEYFLEET_FACTORY_DIR", dir.join("factory"))
        .env("KEYFLEET_FILE_KEYS_DIR", dir.join("file-keys"))
        .env_remove("KEYFLEET_KEY_PIN");
    match passphrase {
        Some(p) => cmd.env("KEYFLEET_KEY_PASSPHRASE", p),
        None => cmd.env_remove("KEYFLEET_KEY_PASSPHRASE"),
    };
    cmd.output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = key_cmd(dir, args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let out = key_cmd(dir, args, None);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn nfc_key_life_cycle() {
    let dir = Dir::new("life");
    let d = dir.0.as_path();
    assert!(
        ok(d, &["models"])
            .lines()
            .map(|l| l.split('\t').next().unwrap())
            .eq(["nfc-key", "band"])
    );
    ok(d, &["new", "--model", "nfc-key", "--out", "a.kfk"]);
    assert!(fails(d, &["new", "--model", "nfc-key", "--out", "a.kfk"]).contains("already exists"));
    assert!(fails(d, &["new", "--model", "toaster", "--out", "b.kfk"]).contains("unknown model"));
    let info = ok(d, &["info", "--key", "a.kfk"]);
    assert!(
        info.contains("\"pinSet\": false") && info.contains("FIDO_2_1"),
        "{info}"
    );
    ok(d, &["set-pin", "--key", "a.kfk", "--pin", "1234"]);
    assert!(ok(d, &["info", "--key", "a.kfk"]).contains("\"pinSet\": true"));
    assert!(fails(d, &["change-pin", "--key", "a.kfk", "--old", "9999", "--new", "5678"]).contains("PinInvalid"));
    assert!(ok(d, &["info", "--key", "a.kfk"]).contains("\"pinRetries\": 7"));
    ok(d, &["change-pin", "--key", "a.kfk", "--old", "1234", "--new", "5678"]);
    assert_eq!(
        ok(d, &["credentials", "list", "--key", "a.kfk", "--pin", "5678"]).trim(),
        "[]"
    );
    assert!(fails(d, &["credentials", "list", "--key", "a.kfk", "--pin", "1234"]).contains("PinInvalid"));
    assert!(fails(d, &["wear", "--key", "a.kfk"]).contains("not a band"));
    ok(d, &["reset", "--key", "a.kfk"]);
    assert!(ok(d, &["info", "--key", "a.kfk"]).contains("\"pinSet\": false"));
    // The factory was created once and reused.
    assert!(d.join("factory/factory-ca-nfc-key.der").exists() && d.join("factory/batch-nfc-key.der").exists());
    assert!(!d.join("factory/factory-ca-band.der").exists());
    // One CA per model: `--model` prints that model's, created if needed; without it, all of them.
    let nfc_ca = std::fs::read(d.join("factory/factory-ca-nfc-key.der")).unwrap();
    let pem = ok(d, &["factory-ca", "--model", "nfc-key"]);
    assert_eq!(pem_certificates(&pem), std::slice::from_ref(&nfc_ca));
    let band_pem = ok(d, &["factory-ca", "--model", "band"]);
    let band_ca = std::fs::read(d.join("factory/factory-ca-band.der")).unwrap();
    assert_eq!(pem_certificates(&band_pem), std::slice::from_ref(&band_ca));
    assert_ne!(nfc_ca, band_ca);
    let all: Vec<Vec<u8>> = pem_certificates(&ok(d, &["factory-ca"]));
    assert_eq!(all.len(), keyfleet_authenticator::models().len());
    assert!(all.contains(&nfc_ca) && all.contains(&band_ca));
    assert!(fails(d, &["factory-ca", "--model", "toaster"]).contains("unknown model"));
}

#[test]
fn band_enrolment_and_wearing() {
    let dir = Dir::new("band");
    let d = dir.0.as_path();
    ok(d, &["new", "--model", "band", "--out", "b.kfk"]);
    assert!(fails(d, &["enrol-finger", "--key", "b.kfk"]).contains("must be worn"));
    ok(d, &["wear", "--key", "b.kfk"]);
    let poor: Vec<&str> = std::iter::repeat_n("good", 14).chain(["poor"]).collect();
    let args: Vec<&str> = ["enrol-finger", "--key", "b.kfk"]
        .into_iter()
        .chain(poor.iter().copied())
        .collect();
    assert!(ok(d, &args).contains("Retry"));
    assert!(ok(d, &["enrol-finger", "--key", "b.kfk"]).contains("Enrolled"));
    let info = ok(d, &["info", "--key", "b.kfk"]);
    assert!(info.contains("\"uvReady\": true"), "{info}");
    // Built-in UV stands in for the PIN while worn.
    assert_eq!(ok(d, &["credentials", "list", "--key", "b.kfk"]).trim(), "[]");
    ok(d, &["take-off", "--key", "b.kfk"]);
    assert!(fails(d, &["credentials", "list", "--key", "b.kfk"]).contains("built-in UV"));
}

#[test]
fn reassigning_a_band_wipes_its_wearer_and_leaves_it_ready_to_enrol() {
    let dir = Dir::new("reassign");
    let d = dir.0.as_path();
    ok(d, &["new", "--model", "band", "--out", "b.kfk"]);
    ok(d, &["wear", "--key", "b.kfk"]);
    ok(d, &["enrol-finger", "--key", "b.kfk"]);
    ok(d, &["set-pin", "--key", "b.kfk", "--pin", "246813"]);
    let info = ok(d, &["info", "--key", "b.kfk"]);
    assert!(
        info.contains("\"pinSet\": true") && info.contains("\"enrolled\": true"),
        "{info}"
    );
    ok(d, &["reassign", "--key", "b.kfk"]);
    let info = ok(d, &["info", "--key", "b.kfk"]);
    for field in [
        "\"pinSet\": false",
        "\"enrolled\": false",
        "\"credentials\": 0",
        "\"worn\": true",
    ] {
        assert!(info.contains(field), "{field} in {info}");
    }
    // Ready for the next wearer: a new fingerprint enrols at once.
    assert!(ok(d, &["enrol-finger", "--key", "b.kfk"]).contains("Enrolled"));
    // Not a band: refused, with the reason, and the key file untouched.
    ok(d, &["new", "--model", "nfc-key", "--out", "k.kfk"]);
    ok(d, &["set-pin", "--key", "k.kfk", "--pin", "246813"]);
    let before = std::fs::read(d.join("k.kfk")).unwrap();
    assert!(fails(d, &["reassign", "--key", "k.kfk"]).contains("not a band"));
    assert_eq!(std::fs::read(d.join("k.kfk")).unwrap(), before);
}

#[test]
fn passphrase_protected_key() {
    let dir = Dir::new("pass");
    let d = dir.0.as_path();
    let out = key_cmd(d, &["new", "--model", "nfc-key", "--out", "p.kfk"], Some("hunter22"));
    assert!(out.status.success());
    assert!(!d.join("file-keys").exists(), "no file key with a passphrase");
    assert!(
        key_cmd(d, &["info", "--key", "p.kfk"], Some("hunter22"))
            .status
            .success()
    );
    let wrong = key_cmd(d, &["info", "--key", "p.kfk"], Some("wrong"));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    let missing = key_cmd(d, &["info", "--key", "p.kfk"], None);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("KEYFLEET_KEY_PASSPHRASE"));
}

#[test]
fn the_file_key_is_kept_in_the_file_keys_directory() {
    let dir = Dir::new("file-key");
    let d = dir.0.as_path();
    std::fs::create_dir(d.join("keys")).unwrap();
    let made = key_cmd(d, &["new", "--model", "nfc-key", "--out", "keys/k.kfk"], None);
    assert!(made.status.success());
    let said = String::from_utf8_lossy(&made.stderr);
    assert!(
        said.contains(&format!("its file key is in {}", d.join("file-keys").display())),
        "{said}"
    );
    let beside: Vec<_> = std::fs::read_dir(d.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(beside, ["k.kfk", "k.kfk.lock"], "no key material beside the key file");
    assert_eq!(std::fs::read_dir(d.join("file-keys")).unwrap().count(), 1);
    ok(d, &["info", "--key", "keys/k.kfk"]);
    // Another file-keys directory (another user, another machine) cannot open it; the error
    // names the file key it looked for.
    let err = fails(d, &["info", "--key", "keys/k.kfk", "--file-keys-dir", "elsewhere"]);
    assert!(
        err.contains("its file key elsewhere/") && err.contains("--file-keys-dir"),
        "{err}"
    );
}

#[test]
fn control_without_a_running_bridge_fails_clearly() {
    let dir = Dir::new("ctl");
    let d = dir.0.as_path();
    ok(d, &["new", "--model", "nfc-key", "--out", "c.kfk"]);
    assert!(fails(d, &["control", "--key", "c.kfk", "status"]).contains("is `keyfleet key vpcd"));
}

/// The certificates (DER) in a sequence of PEM blocks.
fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines() {
        match line {
            "-----BEGIN CERTIFICATE-----" => body = Some(String::new()),
            "-----END CERTIFICATE-----" => {
                let b64 = body.take().expect("END without BEGIN");
                out.push(base64::engine::general_purpose::STANDARD.decode(b64).unwrap());
            }
            _ => body.as_mut().expect("text outside a PEM block").push_str(line),
        }
    }
    assert!(body.is_none(), "unterminated PEM block");
    out
}
