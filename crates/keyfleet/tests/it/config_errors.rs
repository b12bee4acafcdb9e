//! Bad configuration stops keyfleet at start with a clear message and exit code 2.

use crate::process::{Scratch, run, run_ok};

fn refused(dir: &Scratch, args: &[&str], env: &[(&str, &str)], expect: &[&str]) {
    let out = run(&dir.0, args, env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
    for e in expect {
        assert!(err.contains(e), "{args:?} {env:?}: expected {e:?} in {err}");
    }
}

#[test]
fn bad_values_are_refused_at_start() {
    let dir = Scratch::new("config");
    refused(
        &dir,
        &["serve", "--listen", "localhost"],
        &[],
        &["listen", "flag --listen", "expected IP:PORT or HOST:PORT"],
    );
    refused(
        &dir,
        &["serve"],
        &[("KEYFLEET_LISTEN", "127.0.0.1:99999")],
        &["KEYFLEET_LISTEN"],
    );
    refused(&dir, &["serve", "--database-url", "mysql://x"], &[], &["database_url"]);
    refused(
        &dir,
        &["serve"],
        &[("KEYFLEET_RP_ID", "example.com")],
        &["origins", "must be example.com"],
    );
    refused(
        &dir,
        &["serve"],
        &[
            ("KEYFLEET_ORIGINS", "http://intranet.example"),
            ("KEYFLEET_RP_ID", "intranet.example"),
        ],
        &["only allowed for localhost"],
    );
    refused(
        &dir,
        &["serve"],
        &[("KEYFLEET_SESSION_IDLE_MINUTES", "0")],
        &["session_idle_minutes", "1 to 1440"],
    );
    refused(&dir, &["serve"], &[("KEYFLEET_LOG_FORMAT", "yaml")], &["log_format"]);
    refused(
        &dir,
        &["serve"],
        &[("KEYFLEET_MASTER_KEY", "dG9vIHNob3J0")],
        &["master_key", "32 bytes"],
    );
    std::fs::write(dir.0.join("bad.toml"), "listen = [").unwrap();
    refused(&dir, &["serve", "--config", "bad.toml"], &[], &["bad.toml"]);
    std::fs::write(dir.0.join("typo.toml"), "databse_url = \"sqlite://x.db\"\n").unwrap();
    refused(
        &dir,
        &["serve"],
        &[("KEYFLEET_CONFIG", "typo.toml")],
        &["unknown setting `databse_url` in typo.toml; did you mean `database_url`?"],
    );
    std::fs::write(dir.0.join("typo2.toml"), "listn = \"127.0.0.1:1\"\n").unwrap();
    refused(
        &dir,
        &["serve", "--config", "typo2.toml"],
        &[],
        &["unknown setting `listn` in typo2.toml; did you mean `listen`?"],
    );
    refused(
        &dir,
        &["serve", "--listen", "no-such-host.invalid:8080"],
        &[],
        &["invalid listen", "flag --listen", "cannot resolve no-such-host.invalid"],
    );
    assert!(!dir.0.join("keyfleet.db").exists(), "nothing was created");
}

#[test]
fn a_different_master_key_is_detected() {
    let dir = Scratch::new("mk");
    let url = dir.sqlite_url();
    // The first start creates the signing key under the default test master key.
    let mut s = crate::process::Server::start(&dir.0, &url, &[]);
    let _ = s.child.kill();
    let _ = s.child.wait();
    let out = run(
        &dir.0,
        &["serve", "--listen", "127.0.0.1:0", "--database-url", &url],
        &[("KEYFLEET_MASTER_KEY", "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("master key"), "{err}");
    // The CLI on the same database still works (it needs no signing key).
    run_ok(
        &dir.0,
        &[
            "admin",
            "create-user",
            "--database-url",
            &url,
            "--username",
            "x",
            "--display-name",
            "X",
            "--email",
            "x@example.com",
        ],
        &[],
    );
}

#[test]
fn an_unreachable_database_is_named() {
    let dir = Scratch::new("db-errors");
    let admin = |url: &str| {
        let out = run(
            &dir.0,
            &["admin", "issue-tap", "--database-url", url, "--username", "x"],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{url}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Port 1 on loopback: nothing listens there.
    let err = admin("postgres://keyfleet:hunter2@127.0.0.1:1/keyfleet");
    assert!(err.contains("connecting to PostgreSQL at 127.0.0.1:1"), "{err}");
    assert!(!err.contains("hunter2"), "the password stays out of the message: {err}");
    let missing = dir.0.join("no-such-dir/keyfleet.db");
    let err = admin(&format!("sqlite://{}", missing.display()));
    assert!(
        err.contains(&format!(
            "opening the SQLite database {} (the directory {} does not exist)",
            missing.display(),
            missing.parent().unwrap().display()
        )),
        "{err}"
    );
}
