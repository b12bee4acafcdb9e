//! Issue 11: a sign-in keyfleet acknowledged survives `kill -9` of the process that took it.
//! On SQLite the write is in the WAL before the answer leaves (the WAL is checkpointed in the
//! background, `synchronous = NORMAL`), so killing the process loses nothing it answered: the
//! session opens on the next process, the key's counter stays where it was, and the spent
//! ceremony still refuses a replay. An answer sent before the commit (a write queued behind
//! the response, a commit batched after it) fails this test.

use keyfleet_webauthn_testkey::TestKey;
use serde_json::{Value, json};

use crate::http::{self, browser_post};
use crate::process::{Scratch, Server, admin};

const ORIGIN: &str = http::DEFAULT_ORIGIN;
/// Enough sign-ins for the background checkpoints to run and restart the WAL meanwhile
/// (about sixteen WAL pages each; a round every 100 ms, a restart past 1 000 pages).
const SIGN_INS: usize = 300;
/// One client address starts them all: no per-address limit on starts.
const NO_START_LIMIT: [(&str, &str); 1] = [("KEYFLEET_SIGNIN_STARTS_PER_ADDRESS_PER_MINUTE", "0")];

fn expect_ok(r: &http::Response, status: u16) -> Value {
    r.expect(status)
}

#[test]
fn sign_ins_answered_before_kill_9_are_all_there_after_it() {
    let dir = Scratch::new("kill-9");
    let url = dir.sqlite_url();
    let cli = |args: &[&str]| admin(&dir.0, &url, args);
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
    let tap = browser_post(
        first.addr,
        "/api/v1/auth/tap",
        None,
        &json!({ "username": "kim", "code": code.trim() }),
    );
    expect_ok(&tap, 200);
    let options = expect_ok(
        &browser_post(
            first.addr,
            "/api/v1/me/credentials/registration/options",
            Some(&tap.cookie()),
            &json!({}),
        ),
        200,
    );
    let mut key = TestKey::from_seed(b"kill -9");
    let credential = key.register(&options["publicKey"], ORIGIN).unwrap();
    expect_ok(
        &browser_post(
            first.addr,
            "/api/v1/me/credentials/registration/verify",
            Some(&tap.cookie()),
            &json!({ "ceremonyId": options["ceremonyId"], "nickname": "Kim's key", "credential": credential }),
        ),
        201,
    );

    let mut cookies = Vec::with_capacity(SIGN_INS);
    let mut last = Value::Null;
    for _ in 0..SIGN_INS {
        let options = expect_ok(
            &browser_post(first.addr, "/api/v1/auth/webauthn/options", None, &json!({})),
            200,
        );
        let assertion = key.sign_in(&options["publicKey"], ORIGIN).unwrap();
        last = json!({ "ceremonyId": options["ceremonyId"], "credential": assertion });
        let signed_in = browser_post(first.addr, "/api/v1/auth/webauthn/verify", None, &last);
        assert_eq!(expect_ok(&signed_in, 200)["session"]["kind"], "full");
        cookies.push(signed_in.cookie());
    }
    // SIGKILL the moment the last answer is in: no shutdown, no final checkpoint.
    drop(first);

    let second = Server::start(&dir.0, &url, &NO_START_LIMIT);
    for (i, cookie) in cookies.iter().enumerate() {
        let me = http::request(second.addr, "GET", "/api/v1/me", &[("Cookie", cookie)], None);
        assert_eq!(me.status, 200, "sign-in {} of {SIGN_INS} was lost: {}", i + 1, me.body);
    }
    let keys = expect_ok(
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
    let replay = browser_post(second.addr, "/api/v1/auth/webauthn/verify", None, &last);
    assert_eq!(
        expect_ok(&replay, 400)["code"],
        "unknown_ceremony",
        "the last sign-in's ceremony is spent"
    );
    drop(second);
}
