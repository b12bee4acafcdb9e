//! Regression tests for the defects listed in issue 9 ("The core: every rule in one place").
//! Each test failed on the `main` the issue was filed against.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyfleet_domain::audit::Outcome;
use keyfleet_domain::user::Role;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit::{audit_actions, enrolled, sign_in_options, sign_in_verify, stored};

// ---------------------------------------------------------------------------------------
// A double-submitted assertion never flags a key.

/// Submits one assertion twice at once, `trials` times: one copy signs in, the other is
/// refused as a used (or unknown) ceremony, and the key is never flagged as cloned.
async fn double_submit(b: Backend, trials: usize) {
    let app = Arc::new(TestApp::new(b, &[("KEYFLEET_SIGNIN_STARTS_PER_ADDRESS_PER_MINUTE", "0")]).await);
    let (user, _, mut key) = enrolled(&app, "dora").await;
    let cred_id = only_key(&app, user.id).await;
    let mut wins = 0;
    for trial in 0..trials {
        let username = (trial % 2 == 0).then_some("dora");
        let c = sign_in_options(&app, username).await;
        let assertion = key.sign_in(&c.options, crate::harness::ORIGIN).expect("the key signs");
        let (a, b2) = (app.clone(), app.clone());
        let (id_a, id_b) = (c.id.clone(), c.id.clone());
        let (cred_a, cred_b) = (assertion.clone(), assertion);
        let first = tokio::spawn(async move { sign_in_verify(&a, &id_a, cred_a).await });
        let second = tokio::spawn(async move { sign_in_verify(&b2, &id_b, cred_b).await });
        let (r1, r2) = (first.await.unwrap(), second.await.unwrap());
        let mut ok = 0;
        for r in [&r1, &r2] {
            if r.status == StatusCode::OK {
                ok += 1;
            } else {
                let code = r.json()["code"].as_str().unwrap_or_default().to_owned();
                assert!(
                    matches!(code.as_str(), "challenge_used" | "unknown_ceremony"),
                    "trial {trial}: the second copy got {} {code}",
                    r.status
                );
            }
        }
        assert_eq!(ok, 1, "trial {trial}: exactly one copy signs in");
        wins += ok;
    }
    assert_eq!(wins, trials);
    let cred = stored(&app, &cred_id).await;
    assert!(!cred.possibly_cloned, "the key was flagged");
    assert!(audit_actions(&app, "credential.clone_suspected").await.is_empty());
    assert_eq!(cred.user_id, user.id);
}

async fn only_key(app: &TestApp, user: keyfleet_domain::UserId) -> Vec<u8> {
    let keys = app.state.stores.credentials.list_user_credentials(user).await.unwrap();
    assert_eq!(keys.len(), 1);
    keys[0].id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn double_submitted_assertion_never_flags_the_key_sqlite() {
    double_submit(Backend::Sqlite, 1000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn double_submitted_assertion_never_flags_the_key_postgres() {
    double_submit(Backend::Postgres, 1000).await;
}

/// A real clone (an older assertion after a newer one signed in) is still flagged.
async fn a_counter_that_goes_back_still_flags(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (erin, _, mut key) = enrolled(&app, "erin").await;
    let cred_id = only_key(&app, erin.id).await;
    let old = sign_in_options(&app, Some("erin")).await;
    let stale = key.sign_in(&old.options, crate::harness::ORIGIN).unwrap();
    // The key signs again (counter + 1) and that sign-in finishes first.
    let newer = sign_in_options(&app, Some("erin")).await;
    let fresh = key.sign_in(&newer.options, crate::harness::ORIGIN).unwrap();
    assert_eq!(sign_in_verify(&app, &newer.id, fresh).await.status, StatusCode::OK);
    sign_in_verify(&app, &old.id, stale)
        .await
        .problem(StatusCode::UNAUTHORIZED, "counter_regression");
    assert!(stored(&app, &cred_id).await.possibly_cloned);
    assert_eq!(audit_actions(&app, "credential.clone_suspected").await.len(), 1);
}

// ---------------------------------------------------------------------------------------
// Username-first options do not tell whether an account exists or has keys.

fn descriptors(options: &serde_json::Value) -> Vec<serde_json::Value> {
    options["allowCredentials"]
        .as_array()
        .expect("allowCredentials")
        .clone()
}

fn shape(d: &serde_json::Value) -> (Vec<String>, usize, bool) {
    let mut keys: Vec<String> = d.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    let id = URL_SAFE_NO_PAD.decode(d["id"].as_str().unwrap()).unwrap();
    let transports = d["transports"].as_array().is_some_and(|t| !t.is_empty());
    (keys, id.len(), transports)
}

async fn sign_in_options_do_not_enumerate_users(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, _, _) = enrolled(&app, "frank").await;
    app.user("keyless", Role::Worker).await;
    let real = descriptors(&sign_in_options(&app, Some("frank")).await.options);
    let unknown = descriptors(&sign_in_options(&app, Some("nobody-here")).await.options);
    let keyless = descriptors(&sign_in_options(&app, Some("keyless")).await.options);
    for (who, list) in [("unknown", &unknown), ("keyless", &keyless)] {
        assert!(!list.is_empty(), "{who}: an empty list tells the account has no key");
        assert!(list.len() <= 2, "{who}");
        for d in list.iter() {
            let (fields, len, transports) = shape(d);
            assert_eq!(fields, ["id", "transports", "type"], "{who}: {d}");
            assert!(transports, "{who}: {d}");
            assert!((16..=1023).contains(&len), "{who}");
        }
    }
    // The real user's descriptor has the same fields (the test key reports transports).
    assert_eq!(shape(&real[0]).0, ["id", "transports", "type"]);
    // The same answer every time for one name (a changing answer would give the stand-in away),
    // and letter case does not change it.
    let again = descriptors(&sign_in_options(&app, Some("NOBODY-here")).await.options);
    assert_eq!(unknown, again);
    assert_ne!(unknown, keyless, "stand-ins differ per name");
}

// ---------------------------------------------------------------------------------------
// TAP guessing never locks the real user out.

async fn tap_guessing_does_not_lock_the_user_out(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let user = app.user("gina", Role::Worker).await;
    let code = app.tap(user.id, true).await;
    for i in 0..10 {
        let req = tap_request("gina", "WRONG-CODE-0000-0000");
        let r = app.send_from(req, &format!("198.51.100.{}:4000", i + 1)).await;
        r.problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    }
    // The real user, from an address that has not been guessing, gets in at once.
    let r = app.send_from(tap_request("gina", &code), "203.0.113.7:5000").await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
}

/// One address's guesses at one account back off: after the free failures, a guess straight
/// after a wrong one is refused with 429 and a `Retry-After`, without being evaluated.
async fn tap_guesses_from_one_address_back_off(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let user = app.user("hana", Role::Worker).await;
    let code = app.tap(user.id, true).await;
    let from = "198.51.100.20:4000";
    for _ in 0..keyfleet_core::limits::FREE_FAILURES + 1 {
        app.send_from(tap_request("hana", "WRONG-CODE-0000-0000"), from)
            .await
            .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    }
    let r = app.send_from(tap_request("hana", &code), from).await;
    r.problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    // Another address is not held back by it.
    let r = app.send_from(tap_request("hana", &code), "198.51.100.21:4000").await;
    assert_eq!(r.status, StatusCode::OK);
}

fn tap_request(username: &str, code: &str) -> Request<Body> {
    crate::harness::request(
        Method::POST,
        "/api/v1/auth/tap",
        Auth::None,
        Some(json!({ "username": username, "code": code })),
    )
}

// ---------------------------------------------------------------------------------------
// 100 simultaneous wrong guesses against each limit evaluate at most the limit.

const LIMIT: u32 = 10;

fn limited_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("KEYFLEET_TAP_ATTEMPTS_PER_ADDRESS", "10"),
        ("KEYFLEET_SIGNIN_FAILURES_PER_ADDRESS", "10"),
        ("KEYFLEET_TOKEN_FAILURES_PER_ADDRESS", "10"),
    ]
}

/// Runs 100 requests at once from one address; returns the statuses.
async fn hundred_at_once(app: &Arc<TestApp>, make: impl Fn(usize) -> Request<Body>) -> Vec<StatusCode> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let app = app.clone();
        let req = make(i);
        tasks.spawn(async move { app.send_from(req, "192.0.2.50:6000").await.status });
    }
    let mut out = Vec::new();
    while let Some(s) = tasks.join_next().await {
        out.push(s.unwrap());
    }
    out
}

async fn concurrent_guesses_evaluate_at_most_the_limit(b: Backend) {
    let app = Arc::new(TestApp::new(b, &limited_env()).await);
    // TAP: 100 different accounts guessed from one address at once.
    for i in 0..100 {
        let u = app.user(&format!("tap{i}"), Role::Worker).await;
        app.tap(u.id, true).await;
    }
    let statuses = hundred_at_once(&app, |i| tap_request(&format!("tap{i}"), "WRONG-CODE-0000-0000")).await;
    let evaluated = audit_actions(&app, "tap.redeem")
        .await
        .iter()
        .filter(|e| e.outcome == Outcome::Failure)
        .count();
    assert!(evaluated <= LIMIT as usize, "TAP: {evaluated} guesses evaluated");
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count(),
        evaluated
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(),
        100 - evaluated
    );

    // WebAuthn: 100 assertions for ceremonies that do not exist.
    let statuses = hundred_at_once(&app, |_| {
        let body = json!({ "ceremonyId": "00000000-0000-4000-8000-000000000000", "credential": {
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": { "clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA" },
            "clientExtensionResults": {} } });
        crate::harness::request(
            Method::POST,
            crate::webauthn_kit::SIGN_IN_VERIFY,
            Auth::None,
            Some(body),
        )
    })
    .await;
    let refused_after_evaluation = statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count();
    assert!(
        refused_after_evaluation <= LIMIT as usize,
        "WebAuthn: {refused_after_evaluation} evaluated"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(),
        100 - refused_after_evaluation
    );

    // Token requests: 100 wrong secrets for a real client.
    let (client_id, _) = app.client(&["users:read"]).await;
    let statuses = hundred_at_once(&app, |_| token_request(&client_id, "wrong-secret")).await;
    let evaluated = audit_actions(&app, "token.issue")
        .await
        .iter()
        .filter(|e| e.outcome == Outcome::Failure)
        .count();
    assert!(evaluated <= LIMIT as usize, "token: {evaluated} evaluated");
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count(),
        evaluated
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_sqlite() {
    concurrent_guesses_evaluate_at_most_the_limit(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_postgres() {
    concurrent_guesses_evaluate_at_most_the_limit(Backend::Postgres).await;
}

fn token_request(client_id: &str, secret: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
        )))
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// A NUL byte is an ordinary bad input on PostgreSQL too.

async fn nul_bytes_get_the_same_answer_on_both_stores(b: Backend) {
    let app = TestApp::new(b, &[("KEYFLEET_TOKEN_FAILURES_PER_ADDRESS", "2")]).await;
    let bearer = app.bearer(&["users:read", "users:write", "audit:read"]).await;
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    // The token endpoint: an unknown client, counted by the failure limiter.
    for _ in 0..2 {
        let r = app.send(token_request("a%00b", "x")).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.json()["error"], "invalid_client");
    }
    let r = app.send(token_request("a%00b", "x")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the failures were counted");
    // The audit filter: nothing matches.
    let r = app
        .call(Method::GET, "/api/v1/audit?actor=%00", Auth::Bearer(&bearer), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["events"], json!([]));
    // A client id in a path: not found, JSON and page alike.
    app.call(
        Method::PATCH,
        "/api/v1/clients/%00",
        Auth::Cookie(&cookie),
        Some(json!({ "enabled": false })),
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
    let r = app
        .call(Method::GET, "/admin/clients/%00", Auth::Cookie(&cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A user search with a NUL finds nobody; a name with one is refused as invalid.
    let r = app
        .call(Method::GET, "/api/v1/users?search=%00", Auth::Bearer(&bearer), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            Method::POST,
            "/api/v1/groups",
            Auth::Bearer(&bearer),
            Some(json!({ "name": "a\u{0}b" })),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

// ---------------------------------------------------------------------------------------
// A TAP session may not sign the user out everywhere.

async fn a_tap_session_cannot_end_the_other_sessions(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (user, tap_cookie) = app.tap_session("ivy").await;
    let full = app.full_session(&user).await;
    app.call(
        Method::POST,
        "/api/v1/auth/logout?everywhere=true",
        Auth::Cookie(&tap_cookie),
        None,
    )
    .await
    .problem(StatusCode::FORBIDDEN, "tap_session_restricted");
    // The full session lives on.
    let r = app.call(Method::GET, "/api/v1/me", Auth::Cookie(&full), None).await;
    assert_eq!(r.status, StatusCode::OK);
    // Signing the TAP session itself out still works.
    let r = app
        .call(Method::POST, "/api/v1/auth/logout", Auth::Cookie(&tap_cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.call(Method::GET, "/api/v1/me", Auth::Cookie(&full), None).await;
    assert_eq!(r.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// Helpdesk staff may not do through the API what the console forbids.

async fn helpdesk_cannot_change_groups_or_delete_users_through_the_api(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let helpdesk = app.user("hd", Role::Helpdesk).await;
    let cookie = app.full_session(&helpdesk).await;
    let admin = app.user("boss", Role::Admin).await;
    let worker = app.user("wanda", Role::Worker).await;
    let bearer = app.bearer(&["users:write"]).await;
    let group = app
        .call(
            Method::POST,
            "/api/v1/groups",
            Auth::Bearer(&bearer),
            Some(json!({ "name": "Ops" })),
        )
        .await
        .json();
    let gid = group["id"].as_str().unwrap().to_owned();
    let before = app.audit_count().await;
    app.call(
        Method::POST,
        "/api/v1/groups",
        Auth::Cookie(&cookie),
        Some(json!({ "name": "Mine" })),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "admin_required");
    app.call(
        Method::DELETE,
        &format!("/api/v1/groups/{gid}"),
        Auth::Cookie(&cookie),
        None,
    )
    .await
    .problem(StatusCode::FORBIDDEN, "admin_required");
    app.call(
        Method::PUT,
        &format!("/api/v1/groups/{gid}/members/{}", admin.id),
        Auth::Cookie(&cookie),
        None,
    )
    .await
    .problem(StatusCode::FORBIDDEN, "admin_required");
    app.call(
        Method::DELETE,
        &format!("/api/v1/users/{}", worker.id),
        Auth::Cookie(&cookie),
        None,
    )
    .await
    .problem(StatusCode::FORBIDDEN, "admin_required");
    // Each refusal is audited, and nothing else was written.
    let denied = audit_actions(&app, "access.denied").await;
    assert_eq!(denied.len(), 4);
    assert_eq!(app.audit_count().await, before + 4);
    // Helpdesk staff may still read groups, and a client with users:write may still add a
    // worker but not an administrator.
    let r = app
        .call(Method::GET, "/api/v1/groups", Auth::Cookie(&cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/groups/{gid}/members/{}", worker.id),
            Auth::Bearer(&bearer),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.call(
        Method::PUT,
        &format!("/api/v1/groups/{gid}/members/{}", admin.id),
        Auth::Bearer(&bearer),
        None,
    )
    .await
    .problem(StatusCode::FORBIDDEN, "target_protected");
}

// ---------------------------------------------------------------------------------------
// Access tokens: high-S signatures and a foreign `sub` are refused.

async fn access_tokens_with_high_s_or_another_subject_are_refused(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let token = app.bearer(&["users:read"]).await;
    let ok = app.call(Method::GET, "/api/v1/users", Auth::Bearer(&token), None).await;
    assert_eq!(ok.status, StatusCode::OK);
    // The same signature with s replaced by n - s: valid ECDSA, but malleated.
    let (input, sig) = token.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&raw).unwrap();
    let (r, s) = sig.split_scalars();
    let high = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    assert!(high.normalize_s().is_some(), "the malleated signature is high-S");
    let malleated = format!("{input}.{}", URL_SAFE_NO_PAD.encode(high.to_bytes()));
    app.call(Method::GET, "/api/v1/users", Auth::Bearer(&malleated), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    // A token the server signed, whose subject is not its client.
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let mut c: keyfleet_core::clients::tokens::AccessClaims = serde_json::from_value(claims).unwrap();
    c.sub = "someone-else".into();
    let foreign = app.keys().sign(&c);
    app.call(Method::GET, "/api/v1/users", Auth::Bearer(&foreign), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
}

// ---------------------------------------------------------------------------------------
// HSTS when every origin is https.

async fn hsts_only_when_every_origin_is_https(b: Backend) {
    let plain = TestApp::new(b, &[]).await;
    let r = plain.call(Method::GET, "/healthz", Auth::None, None).await;
    assert!(!r.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    let tls = TestApp::new(
        b,
        &[
            ("KEYFLEET_RP_ID", "keys.example.com"),
            ("KEYFLEET_ORIGINS", "https://keys.example.com"),
        ],
    )
    .await;
    for path in ["/healthz", "/login", "/nope"] {
        let r = tls.call(Method::GET, path, Auth::None, None).await;
        assert_eq!(
            r.headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=63072000",
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Client secrets: a keyed digest, and old Argon2id hashes upgraded on use.

async fn client_secrets_are_digests_and_old_hashes_upgrade(b: Backend) {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use keyfleet_domain::client::{ApiClient, ClientSecret, Scope};
    use keyfleet_domain::ids::SecretId;

    let app = TestApp::new(b, &[]).await;
    let (id, _) = app.client(&["users:read"]).await;
    let secrets = app.state.stores.clients.list_secrets(&id).await.unwrap();
    assert!(
        secrets[0].secret_hash.starts_with("hmac-sha256:"),
        "{}",
        secrets[0].secret_hash
    );
    // A client stored by an earlier version, its secret hashed with Argon2id.
    let params = argon2::Params::new(19 * 1024, 2, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let secret = "legacy-secret-with-enough-entropy-0123456789";
    let phc = argon
        .hash_password(secret.as_bytes(), &SaltString::generate(&mut rand_core::OsRng))
        .unwrap()
        .to_string();
    let now = app.state.now();
    let client = ApiClient {
        client_id: "legacy-client".into(),
        name: "Legacy".into(),
        scopes: vec![Scope::UsersRead],
        enabled: true,
        created_at: now,
    };
    let record = ClientSecret {
        id: SecretId::new_random(&mut rand_core::OsRng),
        client_id: client.client_id.clone(),
        secret_hash: phc.clone(),
        created_at: now,
        expires_at: None,
    };
    let audit = app.system().audit(keyfleet_domain::audit::Action::ClientCreate, None);
    app.state
        .stores
        .clients
        .create_client(&client, &record, &audit)
        .await
        .unwrap();
    let r = app.token("legacy-client", secret, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let now_stored = app.state.stores.clients.list_secrets("legacy-client").await.unwrap();
    assert!(now_stored[0].secret_hash.starts_with("hmac-sha256:"), "upgraded on use");
    assert_eq!(audit_actions(&app, "client.secret.rehash").await.len(), 1);
    // And it still works, now as a digest; a wrong secret does not.
    assert_eq!(app.token("legacy-client", secret, None).await.status, StatusCode::OK);
    assert_eq!(
        app.token("legacy-client", "nope", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

on_both_stores!(
    a_counter_that_goes_back_still_flags,
    sign_in_options_do_not_enumerate_users,
    tap_guessing_does_not_lock_the_user_out,
    tap_guesses_from_one_address_back_off,
    nul_bytes_get_the_same_answer_on_both_stores,
    a_tap_session_cannot_end_the_other_sessions,
    helpdesk_cannot_change_groups_or_delete_users_through_the_api,
    access_tokens_with_high_s_or_another_subject_are_refused,
    hsts_only_when_every_origin_is_https,
    client_secrets_are_digests_and_old_hashes_upgrade,
);

// ---------------------------------------------------------------------------------------
// /readyz checks the schema, not only that the database answers.

async fn readyz_checks_the_schema(b: Backend) {
    let dir = std::env::temp_dir().join(format!("keyfleet-readyz-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let (url, db) = match b {
        Backend::Sqlite => (format!("sqlite://{}?mode=rwc", dir.join("k.db").display()), None),
        Backend::Postgres => {
            let (url, db) = keyfleet_store_tests::postgres::throwaway_postgres().await;
            (url, Some(db))
        }
    };
    let app = TestApp::on_url(url.clone(), db, &[], None).await;
    let r = app.call(Method::GET, "/readyz", Auth::None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    // Someone drops a table behind keyfleet's back.
    execute(&url, "DROP TABLE audit_events").await;
    let r = app.call(Method::GET, "/readyz", Auth::None, None).await;
    r.problem(StatusCode::SERVICE_UNAVAILABLE, "schema_not_ready");
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    // Liveness is not readiness.
    assert_eq!(
        app.call(Method::GET, "/healthz", Auth::None, None).await.status,
        StatusCode::OK
    );
    let _ = std::fs::remove_dir_all(&dir);
}

async fn execute(url: &str, sql: &str) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
}

fn uuid_like() -> String {
    use rand_core::RngCore as _;
    format!("{:016x}", rand_core::OsRng.next_u64())
}

on_both_stores!(readyz_checks_the_schema);
