//! `keyfleet admin …` beyond first setup: listing users, disabling and enabling them,
//! resetting their keys, revoking their pass and ending their sessions; each change takes
//! effect on a running server, prints JSON, and is audited as done by the operating-system
//! user who ran it (`cli:NAME`).

use std::process::{Command, Output};

use keyfleet_webauthn_testkey::TestKey;
use serde_json::{Value, json};

use crate::http::{self, json_post, request};
use crate::process::{MASTER_KEY, Scratch, Server, bin, client_credentials_bearer};

const ORIGIN: &str = "http://localhost:8080";

/// Runs `keyfleet admin ARGS --database-url URL` as the operating-system user described by
/// `who` (SUDO_USER, USER and LOGNAME are cleared first, then `who` is set).
fn admin_as(dir: &Scratch, who: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(bin());
    c.current_dir(&dir.0)
        .arg("admin")
        .args(args)
        .args(["--database-url", &dir.sqlite_url()])
        .env_remove("RUST_LOG")
        .env_remove("SUDO_USER")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env("KEYFLEET_MASTER_KEY", MASTER_KEY);
    for (k, v) in who {
        c.env(k, v);
    }
    c.output().unwrap()
}

const OPS: &[(&str, &str)] = &[("USER", "opsuser"), ("LOGNAME", "opsuser")];

/// `admin ARGS` as `opsuser`, which must succeed; returns standard output and standard error.
fn admin(dir: &Scratch, args: &[&str]) -> (String, String) {
    let out = admin_as(dir, OPS, args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "admin {args:?}: {err}");
    (String::from_utf8(out.stdout).unwrap(), err)
}

/// `admin ARGS` as `opsuser`, which must fail with exit code 1; returns standard error.
fn admin_fails(dir: &Scratch, args: &[&str]) -> String {
    let out = admin_as(dir, OPS, args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "admin {args:?} should fail: {err}");
    assert!(out.stdout.is_empty(), "nothing on standard output when refused");
    err
}

fn json_out(dir: &Scratch, args: &[&str]) -> Value {
    let (out, _) = admin(dir, args);
    assert_eq!(out.lines().count(), 1, "one JSON document: {out}");
    serde_json::from_str(&out).unwrap()
}

fn create(dir: &Scratch, username: &str, display: &str) {
    let email = format!("{username}@example.com");
    admin(
        dir,
        &[
            "create-user",
            "--username",
            username,
            "--display-name",
            display,
            "--email",
            &email,
        ],
    );
}

fn tap(dir: &Scratch, username: &str) -> String {
    admin(dir, &["issue-tap", "--username", username]).0.trim().to_owned()
}

fn sign_in(s: &Server, username: &str, code: &str) -> http::Response {
    json_post(
        s.addr,
        "/api/v1/auth/tap",
        &[],
        &json!({ "username": username, "code": code }),
    )
}

fn me(s: &Server, cookie: &str) -> u16 {
    request(s.addr, "GET", "/api/v1/me", &[("Cookie", cookie)], None).status
}

#[test]
fn list_users_prints_json_or_a_table() {
    let dir = Scratch::new("admin-list");
    create(&dir, "pat", "Pat Doe");
    create(&dir, "sam", "Sam Smith");
    create(&dir, "alex", "Alex Patel");
    let all = json_out(&dir, &["list-users"]);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alex", "pat", "sam"], "by username");
    assert_eq!(all[1]["displayName"], "Pat Doe");
    assert_eq!(all[1]["enabled"], true);
    // --search: username, display name or email, any letter case.
    let found = json_out(&dir, &["list-users", "--search", "PAT"]);
    let names: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alex", "pat"]);
    assert_eq!(json_out(&dir, &["list-users", "--search", "nobody"]), json!([]));
    let (table, summary) = admin(&dir, &["list-users", "--format", "table", "--search", "sam"]);
    assert_eq!(
        table,
        "USERNAME  ROLE    STATUS   DISPLAY NAME  EMAIL\nsam       worker  enabled  Sam Smith     sam@example.com\n"
    );
    assert_eq!(summary.trim(), "1 user");
}

#[test]
fn user_commands_take_effect_on_a_running_server() {
    let dir = Scratch::new("admin-effects");
    create(&dir, "pat", "Pat Doe");
    let code = tap(&dir, "pat");
    let s = Server::start(&dir.0, &dir.sqlite_url(), &[]);

    // end-sessions: the user stays enabled, every session ends.
    let first = sign_in(&s, "pat", &code);
    assert_eq!(first.status, 200, "{}", first.body);
    let second = sign_in(&s, "pat", &code);
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(me(&s, &first.cookie()), 200);
    let ended = json_out(&dir, &["end-sessions", "--username", "pat"]);
    assert_eq!(ended, json!({ "username": "pat", "sessionsEnded": 2 }));
    assert_eq!(me(&s, &first.cookie()), 401);
    assert_eq!(me(&s, &second.cookie()), 401);

    // disable-user: no sign-in, sessions end; again: nothing changes.
    let cookie = sign_in(&s, "pat", &code).cookie();
    let disabled = json_out(&dir, &["disable-user", "--username", "PAT"]);
    assert_eq!(disabled["username"], "pat");
    assert_eq!(disabled["enabled"], false);
    assert_eq!(me(&s, &cookie), 401);
    assert_ne!(sign_in(&s, "pat", &code).status, 200, "a disabled user cannot sign in");
    let (out, err) = admin(&dir, &["disable-user", "--username", "pat"]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["enabled"], false);
    assert!(err.contains("pat is already disabled"), "{err}");
    let listed = json_out(&dir, &["list-users"]);
    assert_eq!(listed[0]["enabled"], false);

    // enable-user: signing in works again.
    let enabled = json_out(&dir, &["enable-user", "--username", "pat"]);
    assert_eq!(enabled["enabled"], true);
    let code = tap(&dir, "pat");
    let r = sign_in(&s, "pat", &code);
    assert_eq!(r.status, 200, "{}", r.body);

    // reset-keys: a registered key goes, and the sessions with it.
    let tap_cookie = r.cookie();
    let post = |path: &str, body: &Value| json_post(s.addr, path, &[("Origin", ORIGIN), ("Cookie", &tap_cookie)], body);
    let options = post("/api/v1/me/credentials/registration/options", &json!({})).json();
    let mut key = TestKey::from_seed(b"admin reset-keys");
    let credential = key.register(&options["publicKey"], ORIGIN).unwrap();
    let created = post(
        "/api/v1/me/credentials/registration/verify",
        &json!({ "ceremonyId": options["ceremonyId"], "nickname": "Blue", "credential": credential }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let reset = json_out(&dir, &["reset-keys", "--username", "pat"]);
    assert_eq!(reset, json!({ "username": "pat", "keysRemoved": 1 }));
    assert_eq!(me(&s, &tap_cookie), 401, "reset-keys ends the sessions");
    let options = json_post(
        s.addr,
        "/api/v1/auth/webauthn/options",
        &[("Origin", ORIGIN)],
        &json!({}),
    )
    .json();
    let assertion = key.sign_in(&options["publicKey"], ORIGIN).unwrap();
    let refused = json_post(
        s.addr,
        "/api/v1/auth/webauthn/verify",
        &[("Origin", ORIGIN)],
        &json!({ "ceremonyId": options["ceremonyId"], "credential": assertion }),
    );
    assert_ne!(
        refused.status, 200,
        "the removed key no longer signs in: {}",
        refused.body
    );

    // revoke-tap: the pass stops working; a second revoke says there is none.
    let code = tap(&dir, "pat");
    let revoked = json_out(&dir, &["revoke-tap", "--username", "pat"]);
    assert_eq!(revoked, json!({ "username": "pat", "tapRevoked": true }));
    assert_eq!(sign_in(&s, "pat", &code).status, 401);
    let err = admin_fails(&dir, &["revoke-tap", "--username", "pat"]);
    assert!(err.contains("pat has no temporary access pass"), "{err}");
    for cmd in [
        "disable-user",
        "enable-user",
        "reset-keys",
        "revoke-tap",
        "end-sessions",
    ] {
        let err = admin_fails(&dir, &[cmd, "--username", "nobody"]);
        assert!(err.contains("no user \"nobody\""), "{cmd}: {err}");
    }
}

/// The audit log as an API client with `audit:read` sees it, filtered by actor.
fn audit_by(s: &Server, dir: &Scratch, actor: &str) -> Vec<(String, String)> {
    let creds = json_out(dir, &["create-client", "--name", "auditor", "--scope", "audit:read"]);
    let bearer = client_credentials_bearer(s, &creds);
    let path = format!("/api/v1/audit?actor={}&limit=500", actor.replace(':', "%3A"));
    let page = request(s.addr, "GET", &path, &[("Authorization", &bearer)], None);
    assert_eq!(page.status, 200, "{}", page.body);
    page.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn changes_are_audited_as_the_os_user_who_ran_the_cli() {
    let dir = Scratch::new("admin-audit");
    create(&dir, "pat", "Pat Doe");
    tap(&dir, "pat");
    admin(&dir, &["disable-user", "--username", "pat"]);
    admin(&dir, &["enable-user", "--username", "pat"]);
    tap(&dir, "pat");
    admin(&dir, &["revoke-tap", "--username", "pat"]);
    admin(&dir, &["end-sessions", "--username", "pat"]);
    admin(&dir, &["reset-keys", "--username", "pat"]);
    // Under sudo, the person who ran sudo; with no name at all, the uid.
    let out = admin_as(
        &dir,
        &[("SUDO_USER", "alice"), ("USER", "root")],
        &["disable-user", "--username", "pat"],
    );
    assert!(out.status.success());
    let out = admin_as(&dir, &[], &["enable-user", "--username", "pat"]);
    assert!(out.status.success());
    let s = Server::start(&dir.0, &dir.sqlite_url(), &[]);
    let mut ops: Vec<String> = audit_by(&s, &dir, "cli:opsuser")
        .into_iter()
        .map(|(actor, action)| {
            assert_eq!(actor, "cli:opsuser");
            action
        })
        .collect();
    ops.reverse();
    assert_eq!(
        ops,
        [
            "user.create",
            "tap.issue",
            "user.disable",
            "user.enable",
            "tap.issue",
            "tap.delete",
            "session.revoke_all",
            "credential.reset",
            "session.revoke_all",
            "client.create",
        ]
    );
    assert_eq!(
        audit_by(&s, &dir, "cli:alice"),
        [("cli:alice".to_owned(), "user.disable".to_owned())]
    );
    let uid = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let by_uid = audit_by(&s, &dir, &format!("cli:uid-{uid}"));
    assert_eq!(by_uid, [(format!("cli:uid-{uid}"), "user.enable".to_owned())]);
    assert!(audit_by(&s, &dir, "system").iter().all(|(_, a)| a != "user.disable"));
}

#[test]
fn refusals_name_the_flags_typed() {
    let dir = Scratch::new("admin-errors");
    create(&dir, "pat", "Pat Doe");
    let err = admin_fails(&dir, &["issue-tap", "--username", "pat", "--minutes", "5"]);
    assert!(err.contains("--minutes must be between 10 and 43200"), "{err}");
    assert!(!err.contains("lifetimeMinutes"), "{err}");
    let err = admin_fails(
        &dir,
        &[
            "create-user",
            "--username",
            "kim",
            "--display-name",
            "Kim",
            "--email",
            "not-an-email",
        ],
    );
    assert!(err.contains("--email is not a valid email address"), "{err}");
    let err = admin_fails(
        &dir,
        &[
            "create-user",
            "--username",
            "kim",
            "--display-name",
            "Kim",
            "--email",
            "kim@example.com",
            "--manager-email",
            "boss",
        ],
    );
    assert!(err.contains("--manager-email is not a valid email address"), "{err}");
    assert!(!err.contains("managerEmail"), "{err}");
    let err = admin_fails(&dir, &["issue-tap", "--username", "no body"]);
    assert!(err.contains("--username may only contain"), "{err}");
    let err = admin_fails(&dir, &["create-client", "--name", "x", "--scope", "users:reed"]);
    assert!(
        err.contains(
            "unknown scope \"users:reed\" (valid scopes: users:read, users:write, provisioning, shipments, audit:read, scim)"
        ),
        "{err}"
    );
}

#[test]
fn docs_cli_md_describes_every_admin_command() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md")).unwrap();
    let help = crate::process::run_ok(&std::env::temp_dir(), &["admin", "--help"], &[]);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 9, "{help}");
    for c in commands {
        assert!(
            doc.contains(&format!("| `{c} ")) || doc.contains(&format!("| `{c}` |")),
            "docs/cli.md does not describe `admin {c}`"
        );
    }
}

/// `rotate-signing-key` makes a waiting key (asked again, the same one) that a server
/// publishes in its JWK Set beside the key that still signs.
#[test]
fn rotate_signing_key_publishes_a_waiting_key() {
    let dir = Scratch::new("admin-rotate");
    create(&dir, "pat", "Pat Doe");
    let next = json_out(&dir, &["rotate-signing-key"]);
    let kid = next["kid"].as_str().unwrap().to_owned();
    assert!(next["activates_at"].is_string(), "{next}");
    assert_eq!(json_out(&dir, &["rotate-signing-key"]), next, "one rotation at a time");
    let s = Server::start(&dir.0, &dir.sqlite_url(), &[]);
    let jwks = request(s.addr, "GET", "/oauth2/jwks", &[], None).json();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2, "{jwks}");
    assert!(kids.contains(&kid.as_str()), "{jwks}");
}
