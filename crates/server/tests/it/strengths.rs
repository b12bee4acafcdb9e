//! Authentication strengths over HTTP (`/api/v1/authentication-strengths`), who may read and
//! change them, every refusal leaving nothing changed, and which strengths a session opened
//! by a real key sign-in meets.

use axum::http::{Method, StatusCode};
use keyfleet_core::strengths;
use keyfleet_domain::audit::AuditQuery;
use keyfleet_domain::session::{Session, token_hash};
use keyfleet_domain::user::Role;
use keyfleet_webauthn_testkey::TestKey;
use serde_json::{Value, json};

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit::{enrolled, register, sign_in};

on_both_stores!(
    strengths_crud_over_http,
    strength_refusals_change_nothing,
    who_may_read_and_change_strengths,
    sessions_meet_strengths_by_their_sign_in,
);

const PATH: &str = "/api/v1/authentication-strengths";

async fn admin(app: &TestApp) -> String {
    let a = app.user("root", Role::Admin).await;
    app.full_session(&a).await
}

async fn strength_events(app: &TestApp) -> Vec<(String, Option<String>, Value)> {
    let mut events = app
        .state
        .stores
        .audit
        .list(&AuditQuery {
            limit: 1000,
            action: Some("strength.".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    events.reverse();
    events
        .into_iter()
        .map(|e| {
            let detail = e
                .detail
                .as_deref()
                .map_or(Value::Null, |d| serde_json::from_str(d).unwrap());
            (e.action, e.target, detail)
        })
        .collect()
}

async fn strengths_crud_over_http(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let cookie = admin(&app).await;
    let r = app.call(Method::GET, PATH, Auth::Cookie(&cookie), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let ids: Vec<Value> = r.json().as_array().unwrap().iter().map(|s| s["id"].clone()).collect();
    assert_eq!(ids, [json!("phishing-resistant"), json!("hardware-protected")]);
    let phrh = &r.json()[1];
    assert_eq!(phrh["acr"], "phrh");
    assert_eq!(phrh["requireUserVerification"], true);
    assert_eq!(phrh["requireAttestation"], true);
    assert_eq!(phrh["allowSynced"], false);
    assert_eq!(phrh["builtIn"], true);

    let body = json!({
        "id": "finance", "name": "Finance apps", "acr": "urn:example:finance",
        "requireUserVerification": true, "allowSynced": false,
        "allowedAaguids": ["3559C435-FF17-4BC9-B942-325C1F348B94", "3559c435-ff17-4bc9-b942-325c1f348b94"]
    });
    let r = app.call(Method::POST, PATH, Auth::Cookie(&cookie), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.headers["location"], "/api/v1/authentication-strengths/finance");
    let created = r.json();
    assert_eq!(created["requireAttestation"], false, "defaults to false");
    assert_eq!(
        created["allowedAaguids"],
        json!(["3559c435-ff17-4bc9-b942-325c1f348b94"]),
        "normalised, duplicates removed"
    );
    assert_eq!(created["builtIn"], false);

    let r = app
        .call(Method::GET, &format!("{PATH}/finance"), Auth::Cookie(&cookie), None)
        .await;
    assert_eq!(r.json(), created);

    let r = app
        .call(
            Method::PATCH,
            &format!("{PATH}/finance"),
            Auth::Cookie(&cookie),
            Some(json!({ "name": "Finance", "allowedAaguids": null })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let changed = r.json();
    assert_eq!(changed["name"], "Finance");
    assert!(changed.get("allowedAaguids").is_none(), "lifted: {changed}");
    assert_eq!(changed["acr"], "urn:example:finance", "untouched");
    assert_eq!(changed["requireUserVerification"], true, "untouched");

    let r = app.call(Method::GET, PATH, Auth::Cookie(&cookie), None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 3);

    let r = app
        .call(Method::DELETE, &format!("{PATH}/finance"), Auth::Cookie(&cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .call(Method::GET, &format!("{PATH}/finance"), Auth::Cookie(&cookie), None)
        .await;
    r.problem(StatusCode::NOT_FOUND, "not_found");

    let events = strength_events(&app).await;
    let actions: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(actions, ["strength.create", "strength.update", "strength.delete"]);
    assert!(events.iter().all(|e| e.1.as_deref() == Some("strength:finance")));
    let diff = &events[1].2;
    assert_eq!(diff["before"]["name"], "Finance apps");
    assert_eq!(diff["after"]["name"], "Finance");
    assert_eq!(
        diff["before"]["allowedAaguids"],
        json!(["3559c435-ff17-4bc9-b942-325c1f348b94"])
    );
    assert!(diff["after"].get("allowedAaguids").is_none());
    assert_eq!(
        events[2].2["name"], "Finance",
        "a deleted strength keeps its name in the log"
    );
}

async fn strength_refusals_change_nothing(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let cookie = admin(&app).await;
    let ok = json!({ "id": "kept", "name": "Kept", "acr": "urn:example:kept" });
    let r = app.call(Method::POST, PATH, Auth::Cookie(&cookie), Some(ok)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let before_list = app.call(Method::GET, PATH, Auth::Cookie(&cookie), None).await.json();
    let before_events = strength_events(&app).await;

    let base = || json!({ "id": "new-one", "name": "New one", "acr": "urn:example:new" });
    let with = |k: &str, v: Value| {
        let mut b = base();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            with("id", json!("Has Caps")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (with("id", json!("")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        (
            with("id", json!("x".repeat(65))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            with("id", json!("hardware-protected")),
            StatusCode::CONFLICT,
            "strength_id_taken",
        ),
        (with("id", json!("kept")), StatusCode::CONFLICT, "strength_id_taken"),
        (with("name", json!("Kept")), StatusCode::CONFLICT, "strength_name_taken"),
        (
            with("name", json!("phishing-RESISTANT")),
            StatusCode::CONFLICT,
            "strength_name_taken",
        ),
        (
            with("name", json!("  ")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            with("name", json!("a\u{202e}b")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (with("acr", json!("phr")), StatusCode::CONFLICT, "acr_taken"),
        (
            with("acr", json!("urn:example:kept")),
            StatusCode::CONFLICT,
            "acr_taken",
        ),
        (
            with("acr", json!("two words")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            with("acr", json!("quo\"te")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            with("allowedAaguids", json!([])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            with("allowedAaguids", json!(["not-a-uuid"])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            with("allowedAaguids", json!("3559c435-ff17-4bc9-b942-325c1f348b94")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            with("allowSynced", json!("yes")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            with("surprise", json!(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            with("name", json!("nul\u{0}")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let r = app
            .call(Method::POST, PATH, Auth::Cookie(&cookie), Some(body.clone()))
            .await;
        assert_eq!(r.status, status, "{body}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["code"], code, "{body}");
    }
    let patches: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "hardware-protected",
            json!({ "name": "Mine" }),
            StatusCode::CONFLICT,
            "strength_built_in",
        ),
        ("kept", json!({ "acr": "phrh" }), StatusCode::CONFLICT, "acr_taken"),
        (
            "kept",
            json!({ "allowedAaguids": [] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "kept",
            json!({ "id": "renamed" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        ("ghost", json!({ "name": "Ghost" }), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (id, body, status, code) in patches {
        let r = app
            .call(
                Method::PATCH,
                &format!("{PATH}/{id}"),
                Auth::Cookie(&cookie),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, status, "{id} {body}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["code"], code, "{id} {body}");
    }
    for (id, status, code) in [
        ("phishing-resistant", StatusCode::CONFLICT, "strength_built_in"),
        ("ghost", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let r = app
            .call(Method::DELETE, &format!("{PATH}/{id}"), Auth::Cookie(&cookie), None)
            .await;
        assert_eq!(r.status, status, "{id}");
        assert_eq!(r.json()["code"], code);
    }
    assert_eq!(
        app.call(Method::GET, PATH, Auth::Cookie(&cookie), None).await.json(),
        before_list
    );
    assert_eq!(
        strength_events(&app).await,
        before_events,
        "no strength event for a refusal"
    );
}

async fn who_may_read_and_change_strengths(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let helpdesk = app.user("hd", Role::Helpdesk).await;
    let helpdesk = app.full_session(&helpdesk).await;
    let worker = app.user("w", Role::Worker).await;
    let worker = app.full_session(&worker).await;
    let client = app.bearer(&["users:read", "users:write", "audit:read"]).await;
    let body = json!({ "id": "x", "name": "X", "acr": "urn:x" });

    let r = app.call(Method::GET, PATH, Auth::Cookie(&helpdesk), None).await;
    assert_eq!(r.status, StatusCode::OK, "helpdesk reads");
    let r = app
        .call(
            Method::GET,
            &format!("{PATH}/phishing-resistant"),
            Auth::Cookie(&helpdesk),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(Method::POST, PATH, Auth::Cookie(&helpdesk), Some(body.clone()))
        .await;
    r.problem(StatusCode::FORBIDDEN, "admin_required");
    let r = app.call(Method::GET, PATH, Auth::Cookie(&worker), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(Method::POST, PATH, Auth::Bearer(&client), Some(body.clone()))
        .await;
    r.problem(StatusCode::FORBIDDEN, "admin_required");
    let r = app.call(Method::GET, PATH, Auth::Bearer(&client), None).await;
    r.problem(StatusCode::FORBIDDEN, "admin_required");
    let r = app.call(Method::POST, PATH, Auth::None, Some(body)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(strength_events(&app).await.is_empty());
    let denied = app
        .state
        .stores
        .audit
        .list(&AuditQuery {
            limit: 100,
            action: Some("access.denied".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.len(), 4, "each refusal is audited");
}

async fn session_of(app: &TestApp, cookie: &str) -> Session {
    let token = cookie.split_once('=').unwrap().1;
    let (session, _) = app
        .state
        .stores
        .sessions
        .find_live_session(&token_hash(token), app.state.now())
        .await
        .unwrap()
        .expect("live session");
    session
}

async fn met(app: &TestApp, cookie: &str) -> Vec<String> {
    let session = session_of(app, cookie).await;
    strengths::met_by_session(&app.system(), &session)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

async fn sessions_meet_strengths_by_their_sign_in(b: Backend) {
    let app = TestApp::new(b, &[("KEYFLEET_USER_VERIFICATION", "preferred")]).await;
    let cookie = admin(&app).await;
    let (_, tap_cookie, mut key) = enrolled(&app, "ann").await;
    assert!(
        met(&app, &tap_cookie).await.is_empty(),
        "a TAP session meets no strength"
    );
    let body = json!({ "id": "verified", "name": "Verified device-bound", "acr": "urn:example:uv",
        "requireUserVerification": true, "allowSynced": false });
    let r = app.call(Method::POST, PATH, Auth::Cookie(&cookie), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let aaguid = uuid::Uuid::from_bytes(key.aaguid).to_string();
    let body = json!({ "id": "this-model", "name": "This model", "acr": "urn:example:model",
        "allowedAaguids": [aaguid] });
    let r = app.call(Method::POST, PATH, Auth::Cookie(&cookie), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED);

    // A device-bound key that verified its user. Its attestation is self attestation: it
    // meets neither `phrh` (needs a trusted chain) nor the model list (an unattested AAGUID is
    // only the key's claim).
    let signed_in = sign_in(&app, Some("ann"), &mut key).await;
    let session = session_of(&app, &signed_in).await;
    assert!(session.user_verified);
    assert_eq!(met(&app, &signed_in).await, ["phishing-resistant", "verified"]);

    // The same key without user verification.
    key.user_verifying = false;
    let unverified = sign_in(&app, Some("ann"), &mut key).await;
    assert!(!session_of(&app, &unverified).await.user_verified);
    assert_eq!(met(&app, &unverified).await, ["phishing-resistant"]);

    // A synced passkey that verified its user.
    let (_, bob_tap) = app.tap_session("bob").await;
    let mut synced = TestKey::from_seed(b"bob's synced passkey");
    synced.backup_eligible = true;
    synced.backup_state = true;
    register(&app, &bob_tap, &mut synced).await;
    let bob = sign_in(&app, Some("bob"), &mut synced).await;
    assert_eq!(met(&app, &bob).await, ["phishing-resistant"]);
}
