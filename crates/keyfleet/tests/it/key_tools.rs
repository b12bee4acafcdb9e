//! `keyfleet key …` as a newcomer runs it: nothing lands in the working directory, and the
//! database flags are not offered where no database is used.

use std::collections::BTreeSet;
use std::path::Path;

use crate::process::{Scratch, run, run_ok};

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
        .unwrap_or_default()
}

/// An environment with its own data directory and nothing else that names one.
fn home(dir: &Scratch) -> Vec<(&'static str, String)> {
    vec![
        ("HOME", dir.0.join("home").display().to_string()),
        ("XDG_DATA_HOME", dir.0.join("data").display().to_string()),
    ]
}

fn without_dirs(c: &mut std::process::Command) {
    for v in [
        "KEYFLEET_FACTORY_DIR",
        "KEYFLEET_FILE_KEYS_DIR",
        "KEYFLEET_KEY_PASSPHRASE",
    ] {
        c.env_remove(v);
    }
}

fn key(cwd: &Path, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut c = std::process::Command::new(crate::process::bin());
    c.current_dir(cwd).arg("key").args(args);
    without_dirs(&mut c);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn key_new_writes_nothing_to_the_working_directory() {
    let dir = Scratch::new("key-cwd");
    let cwd = dir.0.join("cwd");
    let keys = dir.0.join("keys");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::create_dir_all(&keys).unwrap();
    let out = keys.join("alice.kfk");
    let env = home(&dir);
    let made = key(
        &cwd,
        &["new", "--model", "nfc-key", "--out", out.to_str().unwrap()],
        &env,
    );
    let said = String::from_utf8_lossy(&made.stderr);
    assert!(made.status.success(), "{said}");
    assert!(
        names(&cwd).is_empty(),
        "the working directory stays empty: {:?}",
        names(&cwd)
    );
    // Beside the key only its lock; the CA and the file key in the data directory.
    assert_eq!(
        names(&keys),
        BTreeSet::from(["alice.kfk".into(), "alice.kfk.lock".into()])
    );
    let factory = dir.0.join("data/keyfleet/factory");
    assert!(
        names(&factory).is_superset(&BTreeSet::from([
            "factory-ca-nfc-key.key".into(),
            "batch-nfc-key.key".into()
        ])),
        "{:?}",
        names(&factory)
    );
    assert_eq!(names(&dir.0.join("data/keyfleet/file-keys")).len(), 1);
    assert!(
        said.contains(&factory.display().to_string()),
        "says where the CA is: {said}"
    );
    // The key opens from any directory.
    let info = key(&cwd, &["info", "--key", out.to_str().unwrap()], &env);
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    assert!(names(&cwd).is_empty());
    // The directory flags, after the subcommand, win over the defaults.
    let elsewhere = dir.0.join("elsewhere");
    let second = keys.join("bob.kfk");
    let made = key(
        &cwd,
        &[
            "new",
            "--model",
            "band",
            "--out",
            second.to_str().unwrap(),
            "--factory-dir",
            elsewhere.join("f").to_str().unwrap(),
            "--file-keys-dir",
            elsewhere.join("k").to_str().unwrap(),
        ],
        &env,
    );
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert!(elsewhere.join("f/factory-ca-band.der").exists());
    assert_eq!(names(&elsewhere.join("k")).len(), 1);
    assert!(names(&cwd).is_empty());
}

#[test]
fn without_a_data_directory_key_new_asks_for_one_instead_of_using_the_cwd() {
    let dir = Scratch::new("key-nohome");
    let mut c = std::process::Command::new(crate::process::bin());
    c.current_dir(&dir.0)
        .args(["key", "new", "--model", "nfc-key", "--out", "k.kfk"])
        .env_remove("HOME")
        .env_remove("XDG_DATA_HOME");
    without_dirs(&mut c);
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("give --factory-dir or set KEYFLEET_FACTORY_DIR"), "{err}");
    assert!(names(&dir.0).is_empty(), "{:?}", names(&dir.0));
}

#[test]
fn key_and_verify_do_not_offer_the_database_flags() {
    let dir = Scratch::new("key-help");
    for args in [&["key", "--help"][..], &["key", "new", "--help"], &["verify", "--help"]] {
        let help = run_ok(&dir.0, args, &[]);
        assert!(
            !help.contains("--database-url") && !help.contains("--config"),
            "{args:?}: {help}"
        );
    }
    let out = run(&dir.0, &["key", "models", "--database-url", "sqlite://x.db"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--database-url'"));
    // serve and admin keep them, before or after the admin subcommand.
    for args in [
        &["serve", "--help"][..],
        &["admin", "--help"],
        &["admin", "issue-tap", "--help"],
    ] {
        let help = run_ok(&dir.0, args, &[]);
        assert!(
            help.contains("--database-url") && help.contains("--config"),
            "{args:?}: {help}"
        );
    }
    assert!(names(&dir.0).is_empty());
}
