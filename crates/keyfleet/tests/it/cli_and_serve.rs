//! A newcomer's first minute, the CLI, several processes on one PostgreSQL database, API
//! clients end to end, and graceful shutdown.

use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::http::{self, json_post, request};
use crate::process::{Scratch, Server, client_credentials_bearer, run_ok};

const ORIGIN: (&str, &str) = ("Origin", "http://localhost:8080");

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

fn sign_in(s: &Server, username: &str, code: &str) -> http::Response {
    json_post(
        s.addr,
        "/api/v1/auth/tap",
        &[],
        &json!({ "username": username, "code": code }),
    )
}

#[test]
fn first_start_prints_a_setup_tap_that_signs_the_admin_in() {
    let dir = Scratch::new("first");
    let s = Server::start(&dir.0, &dir.sqlite_url(), &[]);
    eprintln!("start-up to ready on a new SQLite database: {} ms", s.ready_ms);
    assert_eq!(request(s.addr, "GET", "/healthz", &[], None).status, 200);
    assert_eq!(request(s.addr, "GET", "/readyz", &[], None).json()["status"], "ready");
    let code = s.setup_code().expect("a setup code on first start");
    assert_eq!(code.len(), 20);
    let r = sign_in(&s, "admin", &code);
    assert_eq!(r.status, 200, "{}", r.body);
    let me = request(s.addr, "GET", "/api/v1/me", &[("Cookie", &r.cookie())], None);
    assert_eq!(me.json()["user"]["username"], "admin");
    assert_eq!(me.json()["user"]["role"], "admin");
    // The banner's "lost it?" command works as printed, from the same directory.
    let text = s.stdout_text();
    let hint = text
        .lines()
        .skip_while(|l| !l.contains("Issue another with:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no command after \"Issue another with:\": {text}"))
        .trim()
        .to_owned();
    let words: Vec<&str> = hint.split(' ').collect();
    assert_eq!(words[0], crate::process::bin(), "{hint}");
    let again = run_ok(&dir.0, &words[1..], &[]);
    let again = again.trim();
    assert_eq!(again.len(), 20, "{hint} printed {again:?}");
    assert_eq!(sign_in(&s, "admin", again).status, 200, "the new pass works");
    assert!(s.terminate().success());
    // Never again: the second start prints no setup code.
    let s = Server::start(&dir.0, &dir.sqlite_url(), &[]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!s.stdout_text().contains("first start"), "{}", s.stdout_text());
    eprintln!("start-up to ready on an existing SQLite database: {} ms", s.ready_ms);
}

#[test]
fn listen_takes_a_host_name() {
    let dir = Scratch::new("listen-host");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("localhost:{port}");
    let s = Server::start_with(
        &dir.0,
        &["serve", "--listen", &listen, "--database-url", &dir.sqlite_url()],
        &[],
    );
    let addrs = s.addresses();
    assert!(!addrs.is_empty());
    for addr in addrs {
        assert!(addr.ip().is_loopback() && addr.port() == port, "{addr}");
        assert_eq!(request(addr, "GET", "/healthz", &[], None).status, 200, "{addr}");
    }
}

fn cli_flow(url: &str, dir: &Scratch) {
    let user = run_ok(
        &dir.0,
        &[
            "admin",
            "create-user",
            "--database-url",
            url,
            "--username",
            "Pat",
            "--display-name",
            "Pat Doe",
            "--email",
            "pat@example.com",
            "--manager-email",
            "boss@example.com",
        ],
        &[],
    );
    let user: serde_json::Value = serde_json::from_str(&user).unwrap();
    assert_eq!(user["username"], "pat");
    let out = run_ok(
        &dir.0,
        &[
            "admin",
            "issue-tap",
            "--database-url",
            url,
            "--username",
            "PAT",
            "--minutes",
            "30",
            "--one-time",
        ],
        &[],
    );
    let code = out.trim_end_matches('\n');
    assert!(
        !code.contains('\n') && code.len() == 20,
        "issue-tap prints the code alone: {out:?}"
    );
    let s = Server::start(&dir.0, url, &[]);
    let r = sign_in(&s, "pat", code);
    assert_eq!(r.status, 200, "{}", r.body);
    let me = request(s.addr, "GET", "/api/v1/me", &[("Cookie", &r.cookie())], None);
    assert_eq!(me.json()["user"]["displayName"], "Pat Doe");
    assert_eq!(me.json()["session"]["kind"], "tap");
    assert_eq!(sign_in(&s, "pat", code).status, 401, "one-time");
}

#[test]
fn cli_user_and_tap_then_sign_in_on_sqlite() {
    let dir = Scratch::new("cli-sqlite");
    cli_flow(&dir.sqlite_url(), &dir);
}

#[test]
fn cli_user_and_tap_then_sign_in_on_postgres() {
    let dir = Scratch::new("cli-pg");
    let (rt, url, db) = pg();
    cli_flow(&url, &dir);
    rt.block_on(db.cleanup());
}

#[test]
fn two_processes_on_one_postgres_database_share_sessions_and_setup() {
    let dir = Scratch::new("two");
    let (rt, url, db) = pg();
    // Both start together on an empty database: exactly one prints a setup code.
    let (a, b) = std::thread::scope(|sc| {
        let ha = sc.spawn(|| Server::start(&dir.0, &url, &[]));
        let hb = sc.spawn(|| Server::start(&dir.0, &url, &[]));
        (ha.join().unwrap(), hb.join().unwrap())
    });
    std::thread::sleep(Duration::from_millis(300));
    let banners = [&a, &b]
        .iter()
        .filter(|s| s.stdout_text().contains("first start"))
        .count();
    assert_eq!(banners, 1, "exactly one process bootstraps the administrator");
    run_ok(
        &dir.0,
        &[
            "admin",
            "create-user",
            "--database-url",
            &url,
            "--username",
            "sam",
            "--display-name",
            "Sam",
            "--email",
            "sam@example.com",
        ],
        &[],
    );
    let code = run_ok(
        &dir.0,
        &["admin", "issue-tap", "--database-url", &url, "--username", "sam"],
        &[],
    );
    let r = sign_in(&a, "sam", code.trim());
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r.cookie();
    let me = request(b.addr, "GET", "/api/v1/me", &[("Cookie", &cookie)], None);
    assert_eq!(me.status, 200, "B accepts A's session: {}", me.body);
    assert_eq!(me.json()["user"]["username"], "sam");
    // Signing out on B ends the session on A too.
    assert_eq!(
        request(
            b.addr,
            "POST",
            "/api/v1/auth/logout",
            &[("Cookie", &cookie), ORIGIN],
            None
        )
        .status,
        204
    );
    assert_eq!(
        request(a.addr, "GET", "/api/v1/me", &[("Cookie", &cookie)], None).status,
        401
    );
    // Tokens issued by A are accepted by B (one signing key for the database).
    let creds: serde_json::Value = serde_json::from_str(&run_ok(
        &dir.0,
        &[
            "admin",
            "create-client",
            "--database-url",
            &url,
            "--name",
            "ops",
            "--scope",
            "users:read",
        ],
        &[],
    ))
    .unwrap();
    let token = client_credentials_bearer(&a, &creds);
    assert_eq!(
        request(b.addr, "GET", "/api/v1/users", &[("Authorization", &token)], None).status,
        200
    );
    drop((a, b));
    rt.block_on(db.cleanup());
}

#[test]
fn api_client_creates_a_user_with_a_bearer_token() {
    let dir = Scratch::new("client");
    let url = dir.sqlite_url();
    let out = run_ok(
        &dir.0,
        &[
            "admin",
            "create-client",
            "--database-url",
            &url,
            "--name",
            "hr-sync",
            "--scope",
            "users:write",
            "users:read",
        ],
        &[],
    );
    let creds: serde_json::Value = serde_json::from_str(&out).expect("create-client prints one JSON object");
    let s = Server::start(&dir.0, &url, &[]);
    let auth = client_credentials_bearer(&s, &creds);
    let r = json_post(
        s.addr,
        "/api/v1/users",
        &[("Authorization", &auth)],
        &json!({ "username": "newbie", "displayName": "New Bie", "email": "newbie@example.com" }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.header("x-request-id").is_some());
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let dir = Scratch::new("term");
    let s = Server::start(&dir.0, &dir.sqlite_url(), &[]);
    let body = json!({ "username": "nobody", "code": "AAAAAAAAAAAAAAAAAAAA" }).to_string();
    let mut conn = TcpStream::connect(s.addr).unwrap();
    let head = format!(
        "POST /api/v1/auth/tap HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = s.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    // The request started before SIGTERM still gets its answer.
    conn.write_all(&body.as_bytes()[10..]).unwrap();
    let r = http::read_response(&mut conn);
    assert_eq!(r.status, 401, "{}", r.body);
    let status = s.terminate();
    assert!(status.success(), "clean exit after SIGTERM: {status}");
}
