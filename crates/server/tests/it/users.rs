//! User administration: paging, search, update rules, delete.

use axum::http::{Method, StatusCode};
use keyfleet_domain::user::Role;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(
    list_search_and_page,
    update_and_clear_fields,
    helpdesk_cannot_touch_administrators,
    delete_keeps_the_audit_trail
);

async fn list_search_and_page(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    for n in ["amy", "ben", "cat", "dan", "eve"] {
        app.user(n, Role::Worker).await;
    }
    let token = app.bearer(&["users:read"]).await;
    let p1 = app
        .call(Method::GET, "/api/v1/users?limit=2", Auth::Bearer(&token), None)
        .await
        .json();
    assert_eq!(
        p1["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["amy", "ben"]
    );
    assert_eq!(p1["nextAfter"], "ben");
    let p2 = app
        .call(
            Method::GET,
            "/api/v1/users?limit=2&after=ben",
            Auth::Bearer(&token),
            None,
        )
        .await
        .json();
    assert_eq!(p2["users"][0]["username"], "cat");
    let last = app
        .call(
            Method::GET,
            "/api/v1/users?limit=2&after=dan",
            Auth::Bearer(&token),
            None,
        )
        .await
        .json();
    assert!(last.get("nextAfter").is_none());
    let s = app
        .call(Method::GET, "/api/v1/users?search=EVE", Auth::Bearer(&token), None)
        .await
        .json();
    assert_eq!(s["users"].as_array().unwrap().len(), 1);
}

async fn update_and_clear_fields(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let token = app.bearer(&["users:write", "users:read"]).await;
    let u = app.user("mia", Role::Worker).await;
    let path = format!("/api/v1/users/{}", u.id);
    let r = app
        .call(
            Method::PATCH,
            &path,
            Auth::Bearer(&token),
            Some(json!({ "managerEmail": "boss@example.com", "shippingAddress": "1 Main St\nTown" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["managerEmail"], "boss@example.com");
    let r = app
        .call(
            Method::PATCH,
            &path,
            Auth::Bearer(&token),
            Some(json!({ "managerEmail": null })),
        )
        .await;
    assert!(r.json()["managerEmail"].is_null());
    assert_eq!(r.json()["shippingAddress"], "1 Main St\nTown", "absent members stay");
    let before = app.state.stores.users.get_user(u.id).await.unwrap().unwrap();
    app.call(
        Method::PATCH,
        &path,
        Auth::Bearer(&token),
        Some(json!({ "email": "bad" })),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    app.call(
        Method::PATCH,
        &path,
        Auth::Bearer(&token),
        Some(json!({ "username": "other" })),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    app.call(
        Method::PATCH,
        &path,
        Auth::Bearer(&token),
        Some(json!({ "role": "admin" })),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "role_change_forbidden");
    assert_eq!(
        app.state.stores.users.get_user(u.id).await.unwrap().unwrap(),
        before,
        "refused changes change nothing"
    );
    // An administrator may grant roles.
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let r = app
        .call(
            Method::PATCH,
            &path,
            Auth::Cookie(&cookie),
            Some(json!({ "role": "helpdesk" })),
        )
        .await;
    assert_eq!(r.json()["role"], "helpdesk");
}

async fn helpdesk_cannot_touch_administrators(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let admin = app.user("boss", Role::Admin).await;
    let hd = app.user("hd", Role::Helpdesk).await;
    let worker = app.user("wk", Role::Worker).await;
    let cookie = app.full_session(&hd).await;
    for (m, p, body, code) in [
        (
            Method::PATCH,
            format!("/api/v1/users/{}", admin.id),
            Some(json!({ "enabled": false })),
            "target_protected",
        ),
        // Deleting users is for administrators (the console's rule, now the API's too).
        (
            Method::DELETE,
            format!("/api/v1/users/{}", admin.id),
            None,
            "admin_required",
        ),
        (
            Method::POST,
            format!("/api/v1/users/{}/temporary-access-pass", admin.id),
            Some(json!({})),
            "target_protected",
        ),
        (
            Method::DELETE,
            format!("/api/v1/users/{}/sessions", admin.id),
            None,
            "target_protected",
        ),
    ] {
        app.call(m, &p, Auth::Cookie(&cookie), body)
            .await
            .problem(StatusCode::FORBIDDEN, code);
    }
    assert!(
        app.state
            .stores
            .users
            .get_user(admin.id)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    // Workers are fine.
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/temporary-access-pass", worker.id),
            Auth::Cookie(&cookie),
            Some(json!({ "lifetimeMinutes": 30 })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

async fn delete_keeps_the_audit_trail(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let token = app.bearer(&["users:write", "audit:read"]).await;
    let (u, cookie) = app.tap_session("leo").await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{}", u.id),
            Auth::Bearer(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.call(Method::GET, "/api/v1/me", Auth::Cookie(&cookie), None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "session_expired");
    let trail = app
        .call(
            Method::GET,
            &format!("/api/v1/audit?target=user:{}", u.id),
            Auth::Bearer(&token),
            None,
        )
        .await
        .json();
    let actions: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["user.delete", "tap.redeem", "tap.issue", "user.create"]);
}
