//! Issue 15, the pre-registration connector with real parts: `keyfleet serve` (one or two
//! processes), the key factory as its own process (`keyfleet factory serve`, shipping by
//! `keyfleet factory ship`), SQLite or a throwaway PostgreSQL database. An order goes
//! `requested` → `submitted` → `registered` through "process now", the key is registered once
//! and its PIN email queued once in the outbox (sealed), the PIN never in a log; the factory
//! unreachable or answering garbage is retried, then `needsAttention`; options that expired
//! fail the order, which is ordered again in one action; two processes on one PostgreSQL
//! database submit each order once and register each key once.

use std::io::{Read, Write};
use std::net::TcpListener;

use keyfleet_core::secrets::MasterKey;
use serde_json::{Value, json};

use crate::factory_process::{Factory, factory_roots, token};
use crate::http::{self, json_post};
use crate::process::{MASTER_KEY, Scratch, Server, client_credentials_bearer, run_ok};

const ORIGIN: &str = "http://localhost:8080";

fn bearer(s: &Server, dir: &Scratch, url: &str) -> String {
    client_credentials_bearer(s, &api_client(dir, url))
}

/// A new API client with the scopes `shipments` and `users:read`: its `client_id` and
/// `client_secret`.
fn api_client(dir: &Scratch, url: &str) -> Value {
    serde_json::from_str(&run_ok(
        &dir.0,
        &[
            "admin",
            "create-client",
            "--name",
            "hr",
            "--scope",
            "shipments",
            "--scope",
            "users:read",
            "--database-url",
            url,
        ],
        &[],
    ))
    .unwrap()
}

fn create_user(dir: &Scratch, url: &str, name: &str) -> String {
    let u: Value = serde_json::from_str(&run_ok(
        &dir.0,
        &[
            "admin",
            "create-user",
            "--username",
            name,
            "--display-name",
            name,
            "--email",
            &format!("{name}@example.com"),
            "--manager-email",
            "boss@example.com",
            "--database-url",
            url,
        ],
        &[],
    ))
    .unwrap();
    u["id"].as_str().unwrap().to_string()
}

/// keyfleet's settings for a connector test: the factory, a schedule that does not fire
/// during the test (runs are "process now"), retries at the next run.
fn env<'a>(factory_url: &'a str, token: &'a str, roots: &'a str, attempts: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("KEYFLEET_RP_ID", "localhost"),
        ("KEYFLEET_ORIGINS", ORIGIN),
        ("KEYFLEET_ATTESTATION_ROOTS_FILE", roots),
        ("KEYFLEET_FACTORY_URL", factory_url),
        ("KEYFLEET_FACTORY_TOKEN", token),
        ("KEYFLEET_ONBEHALF_CHALLENGE_TIMEOUT_MINUTES", "43200"),
        ("KEYFLEET_SHIPMENTS_POLL_SCHEDULE", "0 0 0 1 1 *"),
        ("KEYFLEET_SHIPMENTS_RETRY_SECONDS", "0"),
        ("KEYFLEET_SHIPMENTS_MAX_ATTEMPTS", attempts),
    ]
}

fn order(s: &Server, auth: &str, user: &str) -> Value {
    let r = json_post(
        s.addr,
        "/api/v1/shipments",
        &[("Authorization", auth)],
        &json!({"user": user, "model": "nfc-key", "pinLength": 8, "emailsTo": ["manager@example.com"],
                "shippingAddress": "1 Example Street\n10115 Berlin", "deliveryType": "express"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn process(s: &Server, auth: &str) -> Value {
    let r = json_post(
        s.addr,
        "/api/v1/shipments/process",
        &[("Authorization", auth)],
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["counts"].clone()
}

fn get(s: &Server, auth: &str, path: &str) -> Value {
    let r = http::request(s.addr, "GET", path, &[("Authorization", auth)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn sqlite_rows(url: &str, sql: &str) -> Vec<Vec<Option<Vec<u8>>>> {
    use sqlx::Row;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        r.try_get::<Option<Vec<u8>>, _>(i)
                            .ok()
                            .flatten()
                            .or_else(|| r.try_get::<Option<String>, _>(i).ok().flatten().map(String::into_bytes))
                            .or_else(|| {
                                r.try_get::<Option<i64>, _>(i)
                                    .ok()
                                    .flatten()
                                    .map(|n| n.to_string().into_bytes())
                            })
                    })
                    .collect()
            })
            .collect()
    })
}

fn text(v: &Option<Vec<u8>>) -> String {
    String::from_utf8(v.clone().unwrap_or_default()).unwrap()
}

#[test]
fn an_order_is_submitted_shipped_registered_and_its_pin_queued_once() {
    let dir = Scratch::new("connector");
    let factory = Factory::start(&dir.0, &[]);
    let (_, factory_token) = token(&factory.cli(&dir.0, &["create-token", "--name", "keyfleet"]));
    let roots = factory_roots(&dir);
    let url = dir.sqlite_url();
    let factory_url = format!("http://{}", factory.addr);
    let keyfleet = Server::start(&dir.0, &url, &env(&factory_url, &factory_token, &roots, "5"));
    let alice = create_user(&dir, &url, "alice");
    let auth = bearer(&keyfleet, &dir, &url);

    // Bad orders are refused with a typed problem, and store nothing.
    for (body, code) in [
        (
            json!({"user": "alice", "model": "nfc-key", "pinLength": 3, "emailsTo": ["m@example.com"], "shippingAddress": "x"}),
            "invalid_pin_length",
        ),
        (
            json!({"user": "alice", "model": "nfc-key", "pinLength": 64, "emailsTo": ["m@example.com"], "shippingAddress": "x"}),
            "invalid_pin_length",
        ),
        (
            json!({"user": "alice", "model": "nfc-key", "pinLength": 8, "emailsTo": [], "shippingAddress": "x"}),
            "invalid_emails_to",
        ),
        (
            json!({"user": "alice", "model": "nfc-key", "pinLength": 8, "emailsTo": ["not an address"], "shippingAddress": "x"}),
            "invalid_emails_to",
        ),
        (
            json!({"user": "nobody", "model": "nfc-key", "pinLength": 8, "emailsTo": ["m@example.com"], "shippingAddress": "x"}),
            "unknown_user",
        ),
        (
            json!({"user": "alice", "model": "toaster", "pinLength": 8, "emailsTo": ["m@example.com"], "shippingAddress": "x"}),
            "unknown_model",
        ),
        (
            json!({"user": "alice", "model": "nfc-key", "pinLength": 8, "emailsTo": ["m@example.com"]}),
            "no_shipping_address",
        ),
        (
            json!({"user": "alice", "model": "nfc-key", "pinLength": 8, "emailsTo": ["m@example.com"], "shippingAddress": "x", "deliveryType": "pigeon"}),
            "invalid_delivery_type",
        ),
    ] {
        let r = json_post(keyfleet.addr, "/api/v1/shipments", &[("Authorization", &auth)], &body);
        assert_eq!(
            (r.status, r.json()["code"].as_str().unwrap_or_default().to_string()),
            (422, code.to_string()),
            "{body}: {}",
            r.body
        );
    }
    assert_eq!(get(&keyfleet, &auth, "/api/v1/shipments").as_array().unwrap().len(), 0);

    let created = order(&keyfleet, &auth, "alice");
    assert_eq!(created["state"], "requested");
    let id = created["id"].as_str().unwrap().to_string();
    let one = format!("/api/v1/shipments/{id}");

    // Submitted once; polled while the factory has not shipped.
    assert_eq!(process(&keyfleet, &auth)["submitted"], 1);
    let submitted = get(&keyfleet, &auth, &one);
    assert_eq!(submitted["state"], "submitted", "{submitted}");
    let factory_id = submitted["factoryShipmentId"].as_str().unwrap().to_string();
    let counts = process(&keyfleet, &auth);
    assert_eq!(
        (counts["submitted"].as_u64(), counts["waiting"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        factory.cli(&dir.0, &["list-shipments"]).lines().count(),
        1,
        "one shipment at the factory"
    );

    factory.cli(&dir.0, &["ship", "--shipment", &factory_id]);
    assert_eq!(process(&keyfleet, &auth)["registered"], 1);
    let registered = get(&keyfleet, &auth, &one);
    assert_eq!(registered["state"], "registered", "{registered}");
    for field in ["credentialId", "serialNumber", "trackingNumber"] {
        assert!(registered[field].is_string(), "{field}: {registered}");
    }
    // Again: nothing more happens.
    let counts = process(&keyfleet, &auth);
    assert_eq!(
        (counts["registered"].as_u64(), counts["submitted"].as_u64()),
        (Some(0), Some(0))
    );
    let keys = get(&keyfleet, &auth, &format!("/api/v1/users/{alice}/credentials"));
    let keys = keys
        .as_array()
        .or_else(|| keys["credentials"].as_array())
        .unwrap()
        .clone();
    assert_eq!(keys.len(), 1, "one key registered: {keys:?}");

    // The PIN: sealed on the order, and in one outbox row to the order's address.
    let master = MasterKey::from_base64(MASTER_KEY).unwrap();
    let sealed = sqlite_rows(&url, &format!("SELECT pin_sealed FROM shipments WHERE id = '{id}'"));
    let pin = master
        .decrypt(
            sealed[0][0].as_ref().unwrap(),
            format!("shipments.pin_sealed:{id}").as_bytes(),
        )
        .unwrap();
    let pin = String::from_utf8(pin.to_vec()).unwrap();
    assert_eq!(pin.len(), 8);
    let mail = sqlite_rows(&url, "SELECT id, kind, recipients, body_sealed, state FROM mail_outbox");
    assert_eq!(mail.len(), 1);
    assert_eq!(
        (text(&mail[0][1]), text(&mail[0][2]), text(&mail[0][4])),
        ("shipment_pin".into(), "manager@example.com".into(), "pending".into())
    );
    let body = master
        .decrypt(
            mail[0][3].as_ref().unwrap(),
            &keyfleet_domain::keyring::MAIL_BODIES.aad(&text(&mail[0][0])),
        )
        .unwrap();
    assert!(
        String::from_utf8(body.to_vec()).unwrap().contains(&pin),
        "the email holds the PIN"
    );
    assert!(
        !mail[0][3]
            .as_ref()
            .unwrap()
            .windows(pin.len())
            .any(|w| w == pin.as_bytes())
    );

    // Resend: a second outbox row; the status route.
    let r = json_post(
        keyfleet.addr,
        &format!("{one}/resend-pin"),
        &[("Authorization", &auth)],
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        sqlite_rows(&url, "SELECT kind FROM mail_outbox WHERE kind = 'shipment_pin_resend'").len(),
        1
    );
    let status = http::request(
        keyfleet.addr,
        "GET",
        "/api/v1/connector/status",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(status.status, 200, "{}", status.body);
    let st = status.json();
    assert_eq!(st["factoryReachable"], true, "{st}");
    assert_eq!(st["counts"]["registered"], 1);
    assert_eq!(st["settings"]["factoryTokenSet"], true);
    assert!(
        !status.body.contains(&factory_token),
        "the status never shows the token"
    );

    // Marked complete after checking; not twice.
    let r = json_post(
        keyfleet.addr,
        &format!("{one}/complete"),
        &[("Authorization", &auth)],
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = json_post(
        keyfleet.addr,
        &format!("{one}/complete"),
        &[("Authorization", &auth)],
        &json!({}),
    );
    assert_eq!(r.status, 409, "{}", r.body);

    let logs = format!(
        "{}\n{}",
        keyfleet.stdout_text(),
        keyfleet.stderr.lock().unwrap().join("\n")
    );
    let factory_logs = factory.stop();
    for (what, secret) in [("PIN", pin.as_str()), ("factory token", factory_token.as_str())] {
        assert!(!logs.contains(secret), "keyfleet's output holds the {what}");
        assert!(!factory_logs.contains(secret), "the factory's output holds the {what}");
    }
    keyfleet.terminate();
}

/// A one-answer HTTP server on a free port that answers every request with `answer`.
fn fake_factory(answer: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let _ = s.write_all(answer.as_bytes());
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_factory_down_slow_or_answering_garbage_is_retried_then_needs_attention() {
    let dir = Scratch::new("connector-faults");
    let roots = factory_roots(&dir);
    let url = dir.sqlite_url();
    // Nothing listens on the port a listener just gave back.
    let down = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let keyfleet = Server::start(&dir.0, &url, &env(&down, "t0ken-down", &roots, "12"));
    create_user(&dir, &url, "bob");
    let auth = bearer(&keyfleet, &dir, &url);
    let id = order(&keyfleet, &auth, "bob")["id"].as_str().unwrap().to_string();
    let one = format!("/api/v1/shipments/{id}");
    // Every run looks at the order, however soon after the last one it starts: runs back to
    // back often start in the millisecond of the previous run's last step.
    for attempt in 1..=11 {
        assert_eq!(process(&keyfleet, &auth)["retried"], 1, "run {attempt}");
        if attempt <= 2 {
            let s = get(&keyfleet, &auth, &one);
            assert_eq!(
                (s["state"].as_str(), s["attempts"].as_u64()),
                (Some("requested"), Some(attempt)),
                "{s}"
            );
            assert!(
                s["lastError"].as_str().unwrap().starts_with("factory_unavailable"),
                "{s}"
            );
        }
    }
    assert_eq!(process(&keyfleet, &auth)["needsAttention"], 1);
    let s = get(&keyfleet, &auth, &one);
    assert_eq!(
        (s["state"].as_str(), s["attempts"].as_u64()),
        (Some("needsAttention"), Some(12)),
        "{s}"
    );
    let st = get(&keyfleet, &auth, "/api/v1/connector/status");
    assert_eq!(st["factoryReachable"], false, "{st}");
    // Resolved by hand.
    let r = json_post(
        keyfleet.addr,
        &format!("{one}/complete"),
        &[("Authorization", &auth)],
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    keyfleet.terminate();

    // Garbage: a 200 that is not JSON.
    let garbage = fake_factory("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!");
    let keyfleet = Server::start(&dir.0, &url, &env(&garbage, "t0ken-garbage", &roots, "2"));
    // The access token of the first process still holds: the signing keys are the database's.
    let id = order(&keyfleet, &auth, "bob")["id"].as_str().unwrap().to_string();
    let one = format!("/api/v1/shipments/{id}");
    assert_eq!(process(&keyfleet, &auth)["retried"], 1);
    let s = get(&keyfleet, &auth, &one);
    assert!(s["lastError"].as_str().unwrap().contains("not understood"), "{s}");
    assert_eq!(process(&keyfleet, &auth)["needsAttention"], 1);
    let logs = keyfleet.stderr.lock().unwrap().join("\n");
    assert!(!logs.contains("t0ken-garbage"), "the token is never logged");
    keyfleet.terminate();

    // Slow: it reads the request and answers after the call's time is up.
    let slow = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    let _ = s.read(&mut buf);
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
                });
            }
        });
        format!("http://{addr}")
    };
    let mut settings = env(&slow, "t0ken-slow", &roots, "2");
    settings.push(("KEYFLEET_FACTORY_TIMEOUT_SECONDS", "1"));
    let keyfleet = Server::start(&dir.0, &url, &settings);
    let id = order(&keyfleet, &auth, "bob")["id"].as_str().unwrap().to_string();
    let one = format!("/api/v1/shipments/{id}");
    assert_eq!(process(&keyfleet, &auth)["retried"], 1);
    let s = get(&keyfleet, &auth, &one);
    assert!(
        s["lastError"].as_str().unwrap().contains("did not answer in time"),
        "{s}"
    );
    assert_eq!(process(&keyfleet, &auth)["needsAttention"], 1);
    keyfleet.terminate();
}

#[test]
fn an_order_whose_options_expired_fails_and_is_ordered_again() {
    let dir = Scratch::new("connector-expiry");
    let factory = Factory::start(&dir.0, &[]);
    let (_, factory_token) = token(&factory.cli(&dir.0, &["create-token", "--name", "keyfleet"]));
    let roots = factory_roots(&dir);
    let url = dir.sqlite_url();
    let factory_url = format!("http://{}", factory.addr);
    let keyfleet = Server::start(&dir.0, &url, &env(&factory_url, &factory_token, &roots, "5"));
    create_user(&dir, &url, "carol");
    let auth = bearer(&keyfleet, &dir, &url);
    let id = order(&keyfleet, &auth, "carol")["id"].as_str().unwrap().to_string();
    assert_eq!(process(&keyfleet, &auth)["submitted"], 1);
    let s = get(&keyfleet, &auth, &format!("/api/v1/shipments/{id}"));
    // The factory takes longer than the options live: they expired (as if days passed).
    sqlite_rows(&url, "UPDATE onbehalf_options SET expires_at = 0");
    factory.cli(
        &dir.0,
        &["ship", "--shipment", s["factoryShipmentId"].as_str().unwrap()],
    );
    assert_eq!(process(&keyfleet, &auth)["failed"], 1);
    let s = get(&keyfleet, &auth, &format!("/api/v1/shipments/{id}"));
    assert_eq!(s["state"], "failed", "{s}");
    assert!(s["lastError"].as_str().unwrap().starts_with("options_expired"), "{s}");
    // Ordered again in one action: a new order with the same details.
    let r = json_post(
        keyfleet.addr,
        &format!("/api/v1/shipments/{id}/reorder"),
        &[("Authorization", &auth)],
        &json!({}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let again = r.json();
    assert_eq!(again["state"], "requested");
    assert_ne!(again["id"], s["id"]);
    // A requested order is not "ordered again".
    let r = json_post(
        keyfleet.addr,
        &format!("/api/v1/shipments/{}/reorder", again["id"].as_str().unwrap()),
        &[("Authorization", &auth)],
        &json!({}),
    );
    assert_eq!(r.status, 409, "{}", r.body);

    // A submitted order is cancelled at the factory too; a shipped one cannot be.
    let id = again["id"].as_str().unwrap().to_string();
    assert_eq!(process(&keyfleet, &auth)["submitted"], 1);
    let s = get(&keyfleet, &auth, &format!("/api/v1/shipments/{id}"));
    let factory_id = s["factoryShipmentId"].as_str().unwrap().to_string();
    let r = http::request(
        keyfleet.addr,
        "DELETE",
        &format!("/api/v1/shipments/{id}"),
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "cancelled");
    let listed = factory.cli(&dir.0, &["list-shipments"]);
    let at_factory: Value = listed
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["shipmentId"] == factory_id.as_str())
        .unwrap();
    assert_eq!(at_factory["state"], "cancelled");
    factory.stop();
    keyfleet.terminate();
}

fn pg_count(rt: &tokio::runtime::Runtime, url: &str, sql: &str) -> i64 {
    rt.block_on(async {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    })
}

#[test]
fn two_processes_on_one_postgresql_database_submit_and_register_each_order_once() {
    let dir = Scratch::new("connector-two");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, _db) = rt.block_on(keyfleet_store_tests::postgres::throwaway_postgres());
    let factory = Factory::start(&dir.0, &[]);
    let (_, factory_token) = token(&factory.cli(&dir.0, &["create-token", "--name", "keyfleet"]));
    let roots = factory_roots(&dir);
    let factory_url = format!("http://{}", factory.addr);
    let settings = env(&factory_url, &factory_token, &roots, "5");
    let a = Server::start(&dir.0, &url, &settings);
    let b = Server::start(&dir.0, &url, &settings);
    let auth = bearer(&a, &dir, &url);
    const ORDERS: usize = 12;
    for i in 0..ORDERS {
        let name = format!("worker{i}");
        create_user(&dir, &url, &name);
        order(if i % 2 == 0 { &a } else { &b }, &auth, &name);
    }
    // Both run at once, twice each.
    let run_both = || {
        std::thread::scope(|scope| {
            let runs: Vec<_> = [&a, &b, &a, &b]
                .into_iter()
                .map(|s| scope.spawn(|| process(s, &auth)))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect::<Vec<Value>>()
        })
    };
    let sum = |runs: &[Value], what: &str| runs.iter().map(|c| c[what].as_u64().unwrap()).sum::<u64>();
    let first = run_both();
    assert_eq!(sum(&first, "submitted"), ORDERS as u64, "{first:?}");
    assert_eq!(
        factory.cli(&dir.0, &["list-shipments"]).lines().count(),
        ORDERS,
        "each order submitted once"
    );
    for line in factory.cli(&dir.0, &["list-shipments"]).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let id = v["shipmentId"]
            .as_str()
            .or_else(|| v["id"].as_str())
            .unwrap()
            .to_string();
        factory.cli(&dir.0, &["ship", "--shipment", &id]);
    }
    let second = run_both();
    assert_eq!(sum(&second, "registered"), ORDERS as u64, "{second:?}");
    assert_eq!(pg_count(&rt, &url, "SELECT count(*) FROM credentials"), ORDERS as i64);
    assert_eq!(pg_count(&rt, &url, "SELECT count(*) FROM mail_outbox"), ORDERS as i64);
    assert_eq!(
        pg_count(&rt, &url, "SELECT count(*) FROM shipments WHERE state = 'registered'"),
        ORDERS as i64
    );
    factory.stop();
    a.terminate();
    b.terminate();
}

/// Issue 15's faults: two processes on one PostgreSQL database whose clocks disagree by ten
/// minutes (the test hook `KF_TEST_CLOCK_SKEW_SECONDS` moves the second one's). The on-behalf
/// options live five minutes, the least the setting allows: one process asks for them and
/// submits, the other, ten minutes "later" by its own clock, registers the shipped keys. The
/// options' lifetime, the orders' leases and their backoff are the database's clock's
/// business, so every key is registered once and no order fails as expired; then both run at
/// once and nothing changes.
#[test]
fn two_processes_ten_minutes_apart_register_each_order_once() {
    let dir = Scratch::new("connector-skew");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, _db) = rt.block_on(keyfleet_store_tests::postgres::throwaway_postgres());
    let factory = Factory::start(&dir.0, &[]);
    let (_, factory_token) = token(&factory.cli(&dir.0, &["create-token", "--name", "keyfleet"]));
    let roots = factory_roots(&dir);
    let factory_url = format!("http://{}", factory.addr);
    let mut settings = env(&factory_url, &factory_token, &roots, "5");
    for (k, v) in settings.iter_mut() {
        if *k == "KEYFLEET_ONBEHALF_CHALLENGE_TIMEOUT_MINUTES" {
            *v = "5";
        }
    }
    let mut skewed = settings.clone();
    skewed.push(("KF_TEST_CLOCK_SKEW_SECONDS", "600"));
    let on_time = Server::start(&dir.0, &url, &settings);
    let ahead = Server::start(&dir.0, &url, &skewed);
    // Access tokens are checked against each process's own clock (their lifetime is short):
    // each process is called with a token it issued.
    let creds = api_client(&dir, &url);
    let auth = client_credentials_bearer(&on_time, &creds);
    let auth_ahead = client_credentials_bearer(&ahead, &creds);
    const ORDERS: usize = 4;
    let mut ids = Vec::new();
    for i in 0..ORDERS {
        let name = format!("skew{i}");
        create_user(&dir, &url, &name);
        let (by, with) = if i % 2 == 0 {
            (&on_time, &auth)
        } else {
            (&ahead, &auth_ahead)
        };
        ids.push(order(by, with, &name)["id"].as_str().unwrap().to_string());
    }
    assert_eq!(process(&on_time, &auth)["submitted"], ORDERS as u64);
    for id in &ids {
        let s = get(&on_time, &auth, &format!("/api/v1/shipments/{id}"));
        factory.cli(
            &dir.0,
            &["ship", "--shipment", s["factoryShipmentId"].as_str().unwrap()],
        );
    }
    let done = process(&ahead, &auth_ahead);
    assert_eq!(done["registered"], ORDERS as u64, "{done}");
    for id in &ids {
        let s = get(&ahead, &auth_ahead, &format!("/api/v1/shipments/{id}"));
        assert_eq!(s["state"], "registered", "{s}");
    }
    std::thread::scope(|scope| {
        for (s, with) in [(&on_time, &auth), (&ahead, &auth_ahead)] {
            scope.spawn(move || process(s, with));
        }
    });
    assert_eq!(pg_count(&rt, &url, "SELECT count(*) FROM credentials"), ORDERS as i64);
    assert_eq!(pg_count(&rt, &url, "SELECT count(*) FROM mail_outbox"), ORDERS as i64);
    assert_eq!(
        factory.cli(&dir.0, &["list-shipments"]).lines().count(),
        ORDERS,
        "each order submitted once"
    );
    factory.stop();
    on_time.terminate();
    ahead.terminate();
}

/// Issue 15's faults: the process dies (abort, as `kill -9`) at a step of an order's
/// processing, chosen by the test hook `KF_TEST_CRASH_AT`; its lease is let run out (the
/// database row's `lease_until` set in the past, as 15 minutes passing); another process
/// resumes. Whatever the step: one shipment at the factory, one key, one PIN email.
#[test]
fn a_process_killed_at_any_step_loses_nothing_and_doubles_nothing() {
    let dir = Scratch::new("connector-crash");
    let factory = Factory::start(&dir.0, &[]);
    let (_, factory_token) = token(&factory.cli(&dir.0, &["create-token", "--name", "keyfleet"]));
    let roots = factory_roots(&dir);
    let url = dir.sqlite_url();
    let factory_url = format!("http://{}", factory.addr);
    let settings = env(&factory_url, &factory_token, &roots, "5");
    let mut shipments_at_factory = 0;
    for (i, point) in ["prepared", "sent", "verified"].into_iter().enumerate() {
        let mut crashing = settings.clone();
        crashing.push(("KF_TEST_CRASH_AT", point));
        let name = format!("crash{i}");
        let normal = Server::start(&dir.0, &url, &settings);
        create_user(&dir, &url, &name);
        let auth = bearer(&normal, &dir, &url);
        let id = order(&normal, &auth, &name)["id"].as_str().unwrap().to_string();
        let one = format!("/api/v1/shipments/{id}");
        if point == "verified" {
            assert_eq!(process(&normal, &auth)["submitted"], 1);
            shipments_at_factory += 1;
            let s = get(&normal, &auth, &one);
            factory.cli(
                &dir.0,
                &["ship", "--shipment", s["factoryShipmentId"].as_str().unwrap()],
            );
        }
        normal.terminate();

        let mut doomed = Server::start(&dir.0, &url, &crashing);
        let addr = doomed.addr;
        let bearer_token = auth.clone();
        // The connection dies with the process: the answer never comes.
        let _ = std::thread::spawn(move || {
            http::request(
                addr,
                "POST",
                "/api/v1/shipments/process",
                &[("Authorization", &bearer_token)],
                Some("{}"),
            )
        })
        .join();
        let status = doomed.child.wait().unwrap();
        assert!(!status.success(), "{point}: the process died ({status})");
        sqlite_rows(
            &url,
            "UPDATE shipments SET lease_until = 0 WHERE lease_until IS NOT NULL",
        );

        let resumed = Server::start(&dir.0, &url, &settings);
        if point != "verified" {
            assert_eq!(process(&resumed, &auth)["submitted"], 1, "{point}");
            shipments_at_factory += 1;
            let s = get(&resumed, &auth, &one);
            factory.cli(
                &dir.0,
                &["ship", "--shipment", s["factoryShipmentId"].as_str().unwrap()],
            );
        }
        assert_eq!(
            factory.cli(&dir.0, &["list-shipments"]).lines().count(),
            shipments_at_factory,
            "{point}: each order made one shipment"
        );
        assert_eq!(process(&resumed, &auth)["registered"], 1, "{point}");
        assert_eq!(get(&resumed, &auth, &one)["state"], "registered");
        let keys = sqlite_rows(
            &url,
            &format!("SELECT c.id FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.username = '{name}'"),
        );
        assert_eq!(keys.len(), 1, "{point}: one key");
        let mails = sqlite_rows(&url, &format!("SELECT id FROM mail_outbox WHERE shipment_id = '{id}'"));
        assert_eq!(mails.len(), 1, "{point}: one PIN email");
        resumed.terminate();
    }
    factory.stop();
}
