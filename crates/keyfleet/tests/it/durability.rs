//! Issue 11: a sign-in keyfleet acknowledged survives `kill -9` of the process that took it.
//! On SQLite the write is in the WAL before the answer leaves (the WAL is checkpointed in the
//! background, `synchronous = NORMAL`), so killing the process loses nothing it answered: the
//! session opens on the next process, the key's counter stays where it was, and the spent
//! ceremony still refuses a replay. An answer sent before the commit (a write queued behind
//! the response, a commit batched after it) fails this test.

use keyfleet_webauthn_testkey::TestKey;
use serde_json::{Value, json};

use crate::http::{self, json_post};
use crate::process::{Scratch, Server, run_ok};

const ORIGIN: &str = "http://localhost:8080";
/// Enough sign-ins for the background checkpoints to run and restart the WAL meanwhile
/// (about sixteen WAL pages each; a round every 100 ms, a restart past 1 000 pages).
const SIGN_INS: usize = 300;
/// One client address starts them all: no per-address limit on starts.
const NO_START_LIMIT: [(&str, &str); 1] = [("KEYFLEET_SIGNIN_STARTS_PER_ADDRESS_PER_MINUTE", "0")];

fn post(s: &Server, path: &str, cookie: Option<&str>, body: &Value) -> http::Response {
    let mut headers = vec![("Origin", ORIGIN)];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    json_post(s.addr, path, &headers, body)
}

fn ok(r: &http::Response, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    r.json()
}

#[test]
fn sign_ins_answered_before_kill_9_are_all_there_after_it() {
    let dir = Scratch::new("kill-9");
    let url = dir.sqlite_url();
    let cli = |args: &[&str]| {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--database-url", &url]);
        run_ok(&dir.0, &all, &[])
    };
    cli(&[
        "create-user",
        "--username",
        "kim",
        "--display-name",
        "Kim",
        "--email",
        "kim@example.com",
    ]);
    let code = cli(&["issue-tap", "--username", "kim", "--one-time"]);
    let first = Server::start(&dir.0, &url, &NO_START_LIMIT);
    let tap = post(
        &first,
        "/api/v1/auth/tap",
        None,
        &json!({ "username": "kim", "code": code.trim() }),
    );
    ok(&tap, 200);
    let options = ok(
        &post(
            &first,
            "/api/v1/me/credentials/registration/options",
            Some(&tap.cookie()),
            &json!({}),
        ),
        200,
    );
    let mut key = TestKey::from_seed(b"kill -9");
    let credential = key.register(&options["publicKey"], ORIGIN).unwrap();
    ok(
        &post(
            &first,
            "/api/v1/me/credentials/registration/verify",
            Some(&tap.cookie()),
            &json!({ "ceremonyId": options["ceremonyId"], "nickname": "Kim's key", "credential": credential }),
        ),
        201,
    );

    let mut cookies = Vec::with_capacity(SIGN_INS);
    let mut last = Value::Null;
    for _ in 0..SIGN_INS {
        let options = ok(&post(&first, "/api/v1/auth/webauthn/options", None, &json!({})), 200);
        let assertion = key.sign_in(&options["publicKey"], ORIGIN).unwrap();
        last = json!({ "ceremonyId": options["ceremonyId"], "credential": assertion });
        let signed_in = post(&first, "/api/v1/auth/webauthn/verify", None, &last);
        assert_eq!(ok(&signed_in, 200)["session"]["kind"], "full");
        cookies.push(signed_in.cookie());
    }
    // SIGKILL the moment the last answer is in: no shutdown, no final checkpoint.
    drop(first);

    let second = Server::start(&dir.0, &url, &NO_START_LIMIT);
    for (i, cookie) in cookies.iter().enumerate() {
        let me = http::request(second.addr, "GET", "/api/v1/me", &[("Cookie", cookie)], None);
        assert_eq!(me.status, 200, "sign-in {} of {SIGN_INS} was lost: {}", i + 1, me.body);
    }
    let keys = ok(
        &http::request(
            second.addr,
            "GET",
            "/api/v1/me/credentials",
            &[("Cookie", &cookies[0])],
            None,
        ),
        200,
    );
    assert_eq!(keys[0]["signCount"], SIGN_INS, "the counter went back");
    let replay = post(&second, "/api/v1/auth/webauthn/verify", None, &last);
    assert_eq!(
        ok(&replay, 400)["code"],
        "unknown_ceremony",
        "the last sign-in's ceremony is spent"
    );
    drop(second);
}
