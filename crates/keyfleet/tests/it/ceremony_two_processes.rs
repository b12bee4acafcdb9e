//! Issue 3: a WebAuthn ceremony started on one `keyfleet serve` process finishes on another
//! sharing one PostgreSQL database (the challenge lives in the database, not in a process),
//! and a finished ceremony cannot be replayed on either.

use keyfleet_webauthn_testkey::TestKey;
use serde_json::{Value, json};

use crate::http;
use crate::process::{Scratch, Server, admin};

const ORIGIN: &str = http::DEFAULT_ORIGIN;

fn pg() -> (
    tokio::runtime::Runtime,
    String,
    keyfleet_store_tests::postgres::ThrowawayDb,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, db) = rt.block_on(keyfleet_store_tests::postgres::throwaway_postgres());
    (rt, url, db)
}

fn post(s: &Server, path: &str, cookie: Option<&str>, body: &Value) -> http::Response {
    http::browser_post(s.addr, path, cookie, body)
}

fn ok(r: &http::Response, status: u16) -> Value {
    r.expect(status)
}

#[test]
fn a_ceremony_started_on_one_process_finishes_on_another() {
    let dir = Scratch::new("ceremony-two");
    let (rt, url, db) = pg();
    let a = Server::start(&dir.0, &url, &[]);
    let b = Server::start(&dir.0, &url, &[]);
    let cli = |args: &[&str]| admin(&dir.0, &url, args);
    cli(&[
        "create-user",
        "--username",
        "pat",
        "--display-name",
        "Pat",
        "--email",
        "pat@example.com",
    ]);
    let code = cli(&["issue-tap", "--username", "pat", "--one-time"]);

    // TAP sign-in on A; registration options on A; verify on B.
    let tap = post(
        &a,
        "/api/v1/auth/tap",
        None,
        &json!({ "username": "pat", "code": code.trim() }),
    );
    ok(&tap, 200);
    let tap_cookie = tap.cookie();
    let options = ok(
        &post(
            &a,
            "/api/v1/me/credentials/registration/options",
            Some(&tap_cookie),
            &json!({}),
        ),
        200,
    );
    let mut key = TestKey::from_seed(b"two processes");
    let credential = key.register(&options["publicKey"], ORIGIN).unwrap();
    let verify = json!({ "ceremonyId": options["ceremonyId"], "nickname": "Shared", "credential": credential });
    let created = ok(
        &post(
            &b,
            "/api/v1/me/credentials/registration/verify",
            Some(&tap_cookie),
            &verify,
        ),
        201,
    );
    assert_eq!(created["nickname"], "Shared");
    // Replayed on either process: the ceremony is gone.
    for s in [&a, &b] {
        let r = post(
            s,
            "/api/v1/me/credentials/registration/verify",
            Some(&tap_cookie),
            &verify,
        );
        assert_eq!(ok(&r, 400)["code"], "unknown_ceremony");
    }

    // Username-less sign-in options on B; verify on A.
    let options = ok(&post(&b, "/api/v1/auth/webauthn/options", None, &json!({})), 200);
    let assertion = key.sign_in(&options["publicKey"], ORIGIN).unwrap();
    let verify = json!({ "ceremonyId": options["ceremonyId"], "credential": assertion });
    let signed_in = post(&a, "/api/v1/auth/webauthn/verify", None, &verify);
    let me = ok(&signed_in, 200);
    assert_eq!(me["user"]["username"], "pat");
    assert_eq!(me["session"]["kind"], "full");
    // The session opened by A works on B.
    let cookie = signed_in.cookie();
    let me_b = http::request(b.addr, "GET", "/api/v1/me", &[("Cookie", &cookie)], None);
    assert_eq!(ok(&me_b, 200)["session"]["kind"], "full");
    // The same verify replayed on A and on B fails, and the counter stays where A left it.
    for s in [&a, &b] {
        let r = post(s, "/api/v1/auth/webauthn/verify", None, &verify);
        assert_eq!(ok(&r, 400)["code"], "unknown_ceremony");
    }
    let keys = ok(
        &http::request(b.addr, "GET", "/api/v1/me/credentials", &[("Cookie", &cookie)], None),
        200,
    );
    assert_eq!(keys[0]["signCount"], 1);

    drop((a, b));
    rt.block_on(db.cleanup());
}
