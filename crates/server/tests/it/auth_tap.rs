//! Temporary access passes: sign-in, restrictions, failures, limits; sessions and sign-out.

use axum::http::{Method, StatusCode, header};
use keyfleet_domain::user::Role;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    tap_sign_in_opens_a_restricted_session,
    wrong_expired_and_used_taps_are_refused_without_change,
    tap_guessing_is_limited_per_address_and_never_locks_the_user,
    disabled_users_lose_sessions_and_taps,
    logout_and_logout_everywhere,
    cookie_writes_need_our_origin,
    sessions_can_be_listed_and_ended_one_by_one,
);

async fn tap_sign_in_opens_a_restricted_session(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let user = app.user("Alice", Role::Admin).await;
    let code = app.tap(user.id, true).await;
    // Usernames are compared canonically.
    let r = app.tap_sign_in("ALICE", &code).await;
    assert_eq!(r.status, StatusCode::OK);
    let set_cookie = r.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax") && set_cookie.contains("Path=/"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains("Secure"),
        "http://localhost origins get no Secure flag"
    );
    assert!(
        !String::from_utf8_lossy(&r.body).contains(&code),
        "the code is never echoed"
    );
    let cookie = r.cookie();
    let me = app.call(Method::GET, "/api/v1/me", Auth::Cookie(&cookie), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["user"]["username"], "alice");
    assert_eq!(me.json()["session"]["kind"], "tap");
    // Even an administrator's TAP session reaches nothing else.
    let audit_before = app.audit_count().await;
    app.call(Method::GET, "/api/v1/users", Auth::Cookie(&cookie), None)
        .await
        .problem(StatusCode::FORBIDDEN, "tap_session_restricted");
    app.call(Method::GET, "/api/v1/me/sessions", Auth::Cookie(&cookie), None)
        .await
        .problem(StatusCode::FORBIDDEN, "tap_session_restricted");
    assert_eq!(
        app.audit_count().await,
        audit_before + 1,
        "the refused admin call is audited"
    );
    // The one-time pass is used up.
    app.tap_sign_in("alice", &code)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
}

async fn wrong_expired_and_used_taps_are_refused_without_change(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let user = app.user("bob", Role::Worker).await;
    let code = app.tap(user.id, false).await;
    let sessions = |app: &TestApp| {
        let stores = app.state.stores.clone();
        let now = app.state.now();
        async move { stores.sessions.list_user_sessions(user.id, now).await.unwrap().len() }
    };
    // Wrong code, unknown user, malformed username: the same answer.
    app.tap_sign_in("bob", "AAAAAAAAAAAAAAAAAAAA")
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    app.tap_sign_in("nobody", &code)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    app.tap_sign_in("b o b", &code)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    assert_eq!(sessions(&app).await, 0);
    // Expired: a pass issued long ago.
    let old = app.state.now().minus(std::time::Duration::from_secs(7200));
    let issued = keyfleet_domain::tap::issue(user.id, 60, true, old, &mut rand_core::OsRng).unwrap();
    app.state
        .stores
        .taps
        .issue_tap(
            &issued.tap,
            &app.system().audit(keyfleet_domain::audit::Action::TapIssue, None),
        )
        .await
        .unwrap();
    app.tap_sign_in("bob", &issued.code)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    // The new pass replaced the multi-use one: one active pass per user.
    app.tap_sign_in("bob", &code)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    assert_eq!(sessions(&app).await, 0);
    let tap = app.state.stores.taps.find_tap(user.id).await.unwrap().unwrap();
    assert_eq!(tap.use_count, 0, "failed sign-ins change nothing");
    // Failures are audited with a reason, never the code.
    let events = app
        .state
        .stores
        .audit
        .list(&keyfleet_domain::audit::AuditQuery {
            action: Some("tap.redeem".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 5);
    assert!(
        events
            .iter()
            .all(|e| e.outcome == keyfleet_domain::audit::Outcome::Failure)
    );
    assert!(
        events
            .iter()
            .all(|e| !e.detail.as_deref().unwrap_or("").contains(&code))
    );
    // A multi-use pass works more than once.
    let code = app.tap(user.id, false).await;
    assert_eq!(app.tap_sign_in("bob", &code).await.status, StatusCode::OK);
    assert_eq!(app.tap_sign_in("bob", &code).await.status, StatusCode::OK);
    assert_eq!(sessions(&app).await, 2);
}

async fn tap_guessing_is_limited_per_address_and_never_locks_the_user(b: Backend) {
    let app = TestApp::new(
        b,
        &[
            ("KEYFLEET_TAP_ATTEMPTS_PER_USER", "3"),
            ("KEYFLEET_TAP_ATTEMPTS_PER_ADDRESS", "5"),
        ],
    )
    .await;
    let user = app.user("carol", Role::Worker).await;
    let code = app.tap(user.id, true).await;
    let attempt = |name: &'static str, code: String, peer: &'static str| {
        let req = crate::harness::request(
            Method::POST,
            "/api/v1/auth/tap",
            Auth::None,
            Some(json!({ "username": name, "code": code })),
        );
        let app = &app;
        async move { app.send_from(req, peer).await }
    };
    for _ in 0..3 {
        attempt("carol", "WRONGWRONGWRONGWRONG".into(), "10.0.0.1:1")
            .await
            .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    }
    // The account is not locked (issue 9): the right code from an address that has not been
    // guessing works, whatever the letter case.
    let r = attempt("CAROL", code.clone(), "10.0.0.2:1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        app.state
            .stores
            .taps
            .find_tap(user.id)
            .await
            .unwrap()
            .unwrap()
            .use_count,
        1
    );
    // The guessing address, past the account's failure count, is held back on that account
    // for the window.
    let r = attempt("carol", code.clone(), "10.0.0.1:1").await;
    r.problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    assert_eq!(r.headers[header::RETRY_AFTER], "900");
    // Per address, across usernames.
    for name in ["u1", "u2"] {
        attempt(name, "X".into(), "10.0.0.1:2")
            .await
            .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    }
    attempt("u3", "X".into(), "10.0.0.1:3")
        .await
        .problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    // Another address for another user is unaffected.
    let dave = app.user("dave", Role::Worker).await;
    let dcode = app.tap(dave.id, true).await;
    assert_eq!(attempt("dave", dcode, "10.0.0.9:1").await.status, StatusCode::OK);
}

async fn disabled_users_lose_sessions_and_taps(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (user, cookie) = app.tap_session("erin").await;
    let code = app.tap(user.id, false).await;
    let token = app.bearer(&["users:write"]).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{}", user.id),
            Auth::Bearer(&token),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["enabled"], false);
    app.call(Method::GET, "/api/v1/me", Auth::Cookie(&cookie), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "session_expired");
    // The holder of the right pass is told why (issue 10); a wrong code learns nothing.
    app.tap_sign_in("erin", &code)
        .await
        .problem(StatusCode::FORBIDDEN, "account_disabled");
    app.tap_sign_in("erin", "WRONGWRONGWRONGWRONG")
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    // Issuing a pass to a disabled user is refused.
    app.call(
        Method::POST,
        &format!("/api/v1/users/{}/temporary-access-pass", user.id),
        Auth::Bearer(&token),
        Some(json!({})),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "user_disabled");
}

async fn logout_and_logout_everywhere(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let user = app.user("frank", Role::Worker).await;
    let a = app.full_session(&user).await;
    let b2 = app.full_session(&user).await;
    let c = app.full_session(&user).await;
    let r = app
        .call(Method::POST, "/api/v1/auth/logout", Auth::Cookie(&a), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    app.call(Method::GET, "/api/v1/me", Auth::Cookie(&a), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "session_expired");
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Auth::Cookie(&b2), None)
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/logout?everywhere=true",
            Auth::Cookie(&b2),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.call(Method::GET, "/api/v1/me", Auth::Cookie(&c), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "session_expired");
    app.call(Method::POST, "/api/v1/auth/logout", Auth::None, None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

async fn cookie_writes_need_our_origin(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let user = app.user("gina", Role::Worker).await;
    let cookie = app.full_session(&user).await;
    app.call(Method::POST, "/api/v1/auth/logout", Auth::CookieNoOrigin(&cookie), None)
        .await
        .problem(StatusCode::FORBIDDEN, "origin_required");
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/logout")
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "http://localhost:8080.evil.example")
        .body(axum::body::Body::empty())
        .unwrap();
    app.send(req).await.problem(StatusCode::FORBIDDEN, "origin_mismatch");
    // Still signed in: the refused requests changed nothing.
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Auth::CookieNoOrigin(&cookie), None)
            .await
            .status,
        StatusCode::OK
    );
    // A TAP sign-in posted from another site is refused too (login CSRF).
    let code = app.tap(user.id, true).await;
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/tap")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(
            json!({ "username": "gina", "code": code }).to_string(),
        ))
        .unwrap();
    app.send(req).await.problem(StatusCode::FORBIDDEN, "origin_mismatch");
    assert_eq!(
        app.tap_sign_in("gina", &code).await.status,
        StatusCode::OK,
        "the pass was not consumed"
    );
}

async fn sessions_can_be_listed_and_ended_one_by_one(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let user = app.user("hana", Role::Worker).await;
    let other = app.user("ivan", Role::Worker).await;
    let a = app.full_session(&user).await;
    let _b = app.full_session(&user).await;
    let theirs = app.full_session(&other).await;
    let list = app
        .call(Method::GET, "/api/v1/me/sessions", Auth::Cookie(&a), None)
        .await
        .json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let other_id = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another user's session id is simply not found.
    let their_list = app
        .call(Method::GET, "/api/v1/me/sessions", Auth::Cookie(&theirs), None)
        .await
        .json();
    let their_id = their_list[0]["id"].as_str().unwrap().to_owned();
    app.call(
        Method::DELETE,
        &format!("/api/v1/me/sessions/{their_id}"),
        Auth::Cookie(&a),
        None,
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Auth::Cookie(&theirs), None)
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/me/sessions/{other_id}"),
            Auth::Cookie(&a),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.call(Method::GET, "/api/v1/me/sessions", Auth::Cookie(&a), None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An administrator ends all of a user's sessions.
    let token = app.bearer(&["users:write"]).await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{}/sessions", user.id),
            Auth::Bearer(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.call(Method::GET, "/api/v1/me", Auth::Cookie(&a), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "session_expired");
}

on_both_stores!(a_client_that_goes_away_does_not_cancel_the_handler);

/// Regression (found by the load test): a client dropping its request mid-transaction left a
/// pooled SQLite connection inside `BEGIN IMMEDIATE`. Handlers now run to completion.
async fn a_client_that_goes_away_does_not_cancel_the_handler(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let user = app.user("gone", Role::Worker).await;
    let code = app.tap(user.id, true).await;
    let req = crate::harness::request(
        Method::POST,
        "/api/v1/auth/tap",
        Auth::None,
        Some(json!({ "username": "gone", "code": code })),
    );
    // Poll the request once, then drop it, as a disconnecting client does.
    let _ = tokio::time::timeout(std::time::Duration::ZERO, app.send(req)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let live = app
            .state
            .stores
            .sessions
            .list_user_sessions(user.id, app.state.now())
            .await
            .unwrap();
        if live.len() == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned sign-in never completed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // And the store still works for the next request.
    app.tap_sign_in("gone", &code)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
}
