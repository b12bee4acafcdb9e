//! Bad input: each case gets a typed problem answer and changes nothing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    bad_bodies_change_nothing,
    duplicate_username_in_another_case,
    unknown_routes_and_methods,
    bad_ids_and_queries
);

fn raw(token: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/users")
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(Body::from(body)).unwrap()
}

async fn bad_bodies_change_nothing(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let token = app.bearer(&["users:write"]).await;
    let users = app.user_count().await;
    let audit = app.audit_count().await;
    let json = Some("application/json");
    let valid = json!({ "username": "ok", "displayName": "Ok", "email": "ok@example.com" });
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            raw(&token, json, b"{\"username\": ".to_vec()),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            raw(&token, json, b"not json".to_vec()),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            raw(&token, json, b"[1,2]".to_vec()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            raw(&token, None, valid.to_string().into_bytes()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(&token, Some("text/plain"), valid.to_string().into_bytes()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(
                &token,
                json,
                json!({ "username": "ok", "displayName": "Ok", "email": "ok@example.com", "isAdmin": true })
                    .to_string()
                    .into_bytes(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            raw(
                &token,
                json,
                json!({ "username": "ok", "displayName": "Ok" })
                    .to_string()
                    .into_bytes(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            raw(
                &token,
                json,
                json!({ "username": 7, "displayName": "Ok", "email": "ok@example.com" })
                    .to_string()
                    .into_bytes(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            raw(
                &token,
                json,
                json!({ "username": "ok", "displayName": "Ok", "email": "not-an-email" })
                    .to_string()
                    .into_bytes(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            raw(
                &token,
                json,
                json!({ "username": "o k", "displayName": "Ok", "email": "ok@example.com" })
                    .to_string()
                    .into_bytes(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            raw(
                &token,
                json,
                json!({ "username": "ok", "displayName": "A\u{202E}B", "email": "ok@example.com" })
                    .to_string()
                    .into_bytes(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            raw(
                &token,
                json,
                json!({ "username": "ok", "displayName": "x".repeat(129), "email": "ok@example.com" })
                    .to_string()
                    .into_bytes(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            raw(
                &token,
                json,
                json!({ "username": "ok", "displayName": "Ok", "email": "ok@example.com", "role": "root" })
                    .to_string()
                    .into_bytes(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        // Over the 64 KiB default limit: refused before parsing.
        (
            raw(
                &token,
                json,
                format!("{{\"username\":\"{}\"}}", "a".repeat(70_000)).into_bytes(),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            raw(&token, json, vec![b' '; 10 * 1024 * 1024]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (i, (req, status, code)) in cases.into_iter().enumerate() {
        let r = app.send(req).await;
        assert_eq!(r.status, status, "case {i}: {}", String::from_utf8_lossy(&r.body));
        r.problem(status, code);
    }
    assert_eq!(app.user_count().await, users, "no user was created");
    assert_eq!(app.audit_count().await, audit, "nothing was audited as done");
    // The same body, well formed, works.
    assert_eq!(
        app.send(raw(&token, json, valid.to_string().into_bytes())).await.status,
        StatusCode::CREATED
    );
    // Bad TAP parameters.
    let u = app.user("tapper", keyfleet_domain::user::Role::Worker).await;
    for body in [json!({ "lifetimeMinutes": 9 }), json!({ "lifetimeMinutes": 43201 })] {
        app.call(
            Method::POST,
            &format!("/api/v1/users/{}/temporary-access-pass", u.id),
            Auth::Bearer(&token),
            Some(body),
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_lifetime");
    }
    app.call(
        Method::POST,
        &format!("/api/v1/users/{}/temporary-access-pass", u.id),
        Auth::Bearer(&token),
        Some(json!({ "lifetime": 60 })),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert!(app.state.stores.taps.find_tap(u.id).await.unwrap().is_none());
    // Defaults: a one-time pass for 60 minutes, with an empty body.
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/temporary-access-pass", u.id),
            Auth::Bearer(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["oneTime"], true);
    assert_eq!(r.json()["lifetimeMinutes"], 60);
    let status = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}/temporary-access-pass", u.id),
            Auth::Bearer(&token),
            None,
        )
        .await;
    assert!(!String::from_utf8_lossy(&status.body).contains(r.json()["code"].as_str().unwrap()));
}

async fn duplicate_username_in_another_case(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let token = app.bearer(&["users:write"]).await;
    let body = |name: &str| json!({ "username": name, "displayName": "Dup", "email": "dup@example.com" });
    assert_eq!(
        app.call(
            Method::POST,
            "/api/v1/users",
            Auth::Bearer(&token),
            Some(body("Dupont"))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let users = app.user_count().await;
    let audit = app.audit_count().await;
    for variant in ["dupont", "DUPONT", " DuPont ", "\u{FF24}upont"] {
        app.call(Method::POST, "/api/v1/users", Auth::Bearer(&token), Some(body(variant)))
            .await
            .problem(StatusCode::CONFLICT, "username_taken");
    }
    assert_eq!(app.user_count().await, users);
    assert_eq!(app.audit_count().await, audit);
}

async fn unknown_routes_and_methods(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let r = app.call(Method::GET, "/api/v1/nothing-here", Auth::None, None).await;
    r.problem(StatusCode::NOT_FOUND, "not_found");
    assert!(r.headers.contains_key("x-request-id"));
    app.call(Method::PUT, "/api/v1/users", Auth::None, None)
        .await
        .problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    // Unauthenticated admin calls.
    app.call(Method::GET, "/api/v1/users", Auth::None, None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    app.call(
        Method::GET,
        "/api/v1/me",
        Auth::CookieNoOrigin("keyfleet_session=forged"),
        None,
    )
    .await
    .problem(StatusCode::UNAUTHORIZED, "session_expired");
}

async fn bad_ids_and_queries(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let token = app.bearer(&["users:read", "users:write", "audit:read"]).await;
    app.call(Method::GET, "/api/v1/users/not-a-uuid", Auth::Bearer(&token), None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.call(
        Method::GET,
        "/api/v1/users/6b3c0d64-1d0e-4f39-9d1c-2f6b7a9e0c11",
        Auth::Bearer(&token),
        None,
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
    app.call(
        Method::DELETE,
        "/api/v1/users/6b3c0d64-1d0e-4f39-9d1c-2f6b7a9e0c11",
        Auth::Bearer(&token),
        None,
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
    let r = app
        .call(Method::GET, "/api/v1/users?limit=abc", Auth::Bearer(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .call(Method::GET, "/api/v1/audit?since=yesterday", Auth::Bearer(&token), None)
        .await;
    r.problem(StatusCode::BAD_REQUEST, "invalid_request");
    // Search text is data, not a pattern.
    for name in ["percent", "under"] {
        app.user(name, keyfleet_domain::user::Role::Worker).await;
    }
    let r = app
        .call(Method::GET, "/api/v1/users?search=%25", Auth::Bearer(&token), None)
        .await;
    assert_eq!(r.json()["users"].as_array().unwrap().len(), 0);
}
