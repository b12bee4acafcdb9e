//! API clients: client credentials, bearer tokens, scopes, rotation.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use keyfleet_domain::user::Role;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    token_then_create_user,
    scopes_are_enforced_and_refusals_audited,
    expired_and_tampered_tokens_are_refused,
    token_endpoint_refuses_bad_requests,
    secrets_rotate_and_revoke,
    disabled_client_tokens_stop_working,
    client_management_is_for_administrators,
    only_failed_client_authentications_count_against_the_limit,
);

async fn token_then_create_user(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (id, secret) = app.client(&["users:read", "users:write"]).await;
    // client_secret_basic.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("grant_type=client_credentials&scope=users:write"))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let t = r.json();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "users:write");
    assert_eq!(t["expires_in"], 600);
    let token = t["access_token"].as_str().unwrap();
    let claims = app
        .keys()
        .verify(
            token,
            &app.state.settings.issuer,
            &app.state.settings.token_audience(),
            app.state.now().as_millis() / 1000,
        )
        .unwrap();
    assert_eq!(claims.client_id, id);
    // client_secret_post, all scopes.
    let r = app.token(&id, &secret, None).await;
    assert_eq!(r.json()["scope"], "users:read users:write");
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    let body = json!({ "username": "Zed", "displayName": "Zed Example", "email": "zed@example.com", "managerEmail": "boss@example.com" });
    let r = app
        .call(Method::POST, "/api/v1/users", Auth::Bearer(&token), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let created = r.json();
    assert_eq!(created["username"], "zed");
    assert_eq!(created["role"], "worker");
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/api/v1/users/{}", created["id"].as_str().unwrap())
    );
    let got = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}", created["id"].as_str().unwrap()),
            Auth::Bearer(&token),
            None,
        )
        .await;
    assert_eq!(got.json()["managerEmail"], "boss@example.com");
    // The creation is audited with the client as actor.
    let events = app
        .call(
            Method::GET,
            "/api/v1/audit?action=user.create",
            Auth::Bearer(&app.bearer(&["audit:read"]).await),
            None,
        )
        .await
        .json();
    assert_eq!(events["events"][0]["actor"], format!("client:{id}"));
    assert!(events["events"][0]["requestId"].is_string());
}

async fn scopes_are_enforced_and_refusals_audited(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (id, secret) = app.client(&["users:read"]).await;
    let token = app.token(&id, &secret, None).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = app.user_count().await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/users",
            Auth::Bearer(&token),
            Some(json!({ "username": "x", "displayName": "X", "email": "x@example.com" })),
        )
        .await;
    r.problem(StatusCode::FORBIDDEN, "insufficient_scope");
    assert!(
        r.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    assert_eq!(app.user_count().await, before);
    let denied = app
        .state
        .stores
        .audit
        .list(&keyfleet_domain::audit::AuditQuery {
            action: Some("access.denied".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].actor, format!("client:{id}"));
    // Asking for a scope the client lacks is refused at the token endpoint.
    let r = app.token(&id, &secret, Some("users:write")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_scope");
    // Reading works.
    assert_eq!(
        app.call(Method::GET, "/api/v1/users", Auth::Bearer(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    // A worker's full session has no admin scope; a helpdesk session has users:*.
    let worker = app.user("wendy", Role::Worker).await;
    let wc = app.full_session(&worker).await;
    app.call(Method::GET, "/api/v1/users", Auth::Cookie(&wc), None)
        .await
        .problem(StatusCode::FORBIDDEN, "insufficient_scope");
    let helper = app.user("hal", Role::Helpdesk).await;
    let hc = app.full_session(&helper).await;
    assert_eq!(
        app.call(Method::GET, "/api/v1/users", Auth::Cookie(&hc), None)
            .await
            .status,
        StatusCode::OK
    );
}

async fn expired_and_tampered_tokens_are_refused(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let token = app.bearer(&["users:read"]).await;
    let ok = app.call(Method::GET, "/api/v1/users", Auth::Bearer(&token), None).await;
    assert_eq!(ok.status, StatusCode::OK);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value = serde_json::from_slice(&engine.decode(&parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("users:read users:write");
    parts[1] = engine.encode(claims.to_string());
    let tampered = parts.join(".");
    let r = app
        .call(Method::GET, "/api/v1/users", Auth::Bearer(&tampered), None)
        .await;
    r.problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(
        r.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // Expired: signed by the server's own key, an hour ago.
    let now = app.state.now().as_millis() / 1000;
    let mut c: keyfleet_core::clients::tokens::AccessClaims = serde_json::from_value(claims).unwrap();
    c.scope = "users:read".into();
    c.iat = now - 3600;
    c.nbf = now - 3600;
    c.exp = now - 3000;
    let expired = app.keys().sign(&c);
    app.call(Method::GET, "/api/v1/users", Auth::Bearer(&expired), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    for junk in ["", "x", "a.b.c", &format!("{token}x")] {
        app.call(Method::GET, "/api/v1/users", Auth::Bearer(junk), None)
            .await
            .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let req = Request::builder()
        .uri("/api/v1/users")
        .header(header::AUTHORIZATION, "Basic Zm9vOmJhcg==")
        .body(Body::empty())
        .unwrap();
    app.send(req).await.problem(StatusCode::UNAUTHORIZED, "invalid_token");
}

async fn token_endpoint_refuses_bad_requests(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (id, secret) = app.client(&["users:read"]).await;
    let form = |body: String| {
        Request::builder()
            .method(Method::POST)
            .uri("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let cases = [
        (
            format!("grant_type=password&client_id={id}&client_secret={secret}"),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            format!("client_id={id}&client_secret={secret}"),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            format!("grant_type=client_credentials&client_id={id}&client_secret=kfs_wrong"),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            format!("grant_type=client_credentials&client_id=kfc_nobody&client_secret={secret}"),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials".to_owned(),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=admin"),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
    ];
    for (body, status, error) in cases {
        let r = app.send(form(body.clone())).await;
        assert_eq!(r.status, status, "{body}");
        assert_eq!(r.json()["error"], error, "{body}");
        assert!(!String::from_utf8_lossy(&r.body).contains(&secret));
    }
    // JSON is not a token request.
    let r = app
        .call(
            Method::POST,
            "/oauth2/token",
            Auth::None,
            Some(json!({ "grant_type": "client_credentials" })),
        )
        .await;
    r.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

async fn secrets_rotate_and_revoke(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let created = app
        .call(
            Method::POST,
            "/api/v1/clients",
            Auth::Cookie(&cookie),
            Some(json!({ "name": "hr-sync", "scopes": ["users:read"] })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json()["client"]["clientId"].as_str().unwrap().to_owned();
    let old = created.json()["clientSecret"].as_str().unwrap().to_owned();
    let rotated = app
        .call(
            Method::POST,
            &format!("/api/v1/clients/{id}/secrets"),
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    assert_eq!(
        rotated.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&rotated.body)
    );
    let new = rotated.json()["clientSecret"].as_str().unwrap().to_owned();
    // Both work during the phase-out.
    assert_eq!(app.token(&id, &old, None).await.status, StatusCode::OK);
    assert_eq!(app.token(&id, &new, None).await.status, StatusCode::OK);
    // A third secret is refused while two exist.
    app.call(
        Method::POST,
        &format!("/api/v1/clients/{id}/secrets"),
        Auth::Cookie(&cookie),
        None,
    )
    .await
    .problem(StatusCode::CONFLICT, "too_many_secrets");
    // Listings show ids and dates, never secrets or hashes.
    let list = app
        .call(Method::GET, "/api/v1/clients", Auth::Cookie(&cookie), None)
        .await;
    let text = String::from_utf8_lossy(&list.body).to_string();
    assert!(
        !text.contains(&old) && !text.contains(&new) && !text.contains("argon2"),
        "{text}"
    );
    let secrets = list.json()[0]["secrets"].clone();
    assert_eq!(secrets.as_array().unwrap().len(), 2);
    let old_id = secrets
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["expiresAt"].is_string())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/clients/{id}/secrets/{old_id}"),
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.token(&id, &old, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.token(&id, &new, None).await.status, StatusCode::OK);
}

async fn disabled_client_tokens_stop_working(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let (id, secret) = app.client(&["users:read"]).await;
    let token = app.token(&id, &secret, None).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/clients/{id}"),
            Auth::Cookie(&cookie),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.call(Method::GET, "/api/v1/users", Auth::Bearer(&token), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(app.token(&id, &secret, None).await.status, StatusCode::UNAUTHORIZED);
}

async fn client_management_is_for_administrators(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let token = app
        .bearer(&["users:read", "users:write", "audit:read", "provisioning", "shipments"])
        .await;
    app.call(
        Method::POST,
        "/api/v1/clients",
        Auth::Bearer(&token),
        Some(json!({ "name": "evil", "scopes": ["users:write"] })),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "admin_required");
    let helpdesk = app.user("hd", Role::Helpdesk).await;
    let hc = app.full_session(&helpdesk).await;
    app.call(Method::GET, "/api/v1/clients", Auth::Cookie(&hc), None)
        .await
        .problem(StatusCode::FORBIDDEN, "admin_required");
    // A client may not create administrators either.
    app.call(
        Method::POST,
        "/api/v1/users",
        Auth::Bearer(&token),
        Some(json!({ "username": "boss", "displayName": "B", "email": "b@example.com", "role": "admin" })),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "role_change_forbidden");
}

/// The token endpoint's limit counts failed client authentications only: successful grants,
/// however many, leave it untouched; once the failures reach it, every request from the
/// address (a right secret too) gets 429 `slow_down` without being evaluated.
async fn only_failed_client_authentications_count_against_the_limit(b: Backend) {
    let app = TestApp::new(b, &[("KEYFLEET_TOKEN_FAILURES_PER_ADDRESS", "2")]).await;
    let (id, secret) = app.client(&["users:read"]).await;
    for _ in 0..5 {
        let r = app.token(&id, &secret, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = app.token(&id, "kfs_wrong", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.token(&id, &secret, None).await;
    assert_eq!(r.status, StatusCode::OK, "one failure of two: still evaluated");
    let r = app.token(&id, "kfs_wrong", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.token(&id, &secret, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.json()["error"], "slow_down");
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    let core = &app.state.core;
    let window = i64::try_from(core.config.limits.window.as_millis()).unwrap();
    let failures = core
        .stores
        .rate_limits
        .peek("token:fail:127.0.0.1", core.now(), window)
        .await
        .unwrap();
    assert_eq!(failures, 2, "the two failures, and nothing for the six successes");
}
