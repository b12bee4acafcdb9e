//! Group policies over HTTP: every route, who may use them, bad inputs (typed refusal and
//! nothing changed), the lock-out preview against a seeded fleet with its confirmation, and
//! enforcement at registration and sign-in.

use axum::http::{Method, StatusCode};
use keyfleet_core::access::Principal;
use keyfleet_core::identity::groups;
use keyfleet_domain::GroupId;
use keyfleet_domain::user::{Role, User};
use keyfleet_store_tests::fixtures;
use keyfleet_webauthn_testkey::TestKey;
use serde_json::{Value, json};

use crate::harness::{Auth, Backend, ORIGIN as ORIGIN_FOR_TESTS, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit::{enrolled, reg_options, reg_verify, sign_in_options, sign_in_verify, snapshot};

on_both_stores!(
    routes_and_permissions,
    bad_inputs_change_nothing,
    preview_numbers_and_confirmation,
    sign_in_refused_by_policy,
    registration_refused_by_policy,
    console_pages,
);

const MODEL_A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const MODEL_B: &str = "bbbbbbbb-0000-4000-8000-000000000002";

async fn admin(app: &TestApp) -> String {
    let a = app.user("root", Role::Admin).await;
    app.full_session(&a).await
}

async fn group(app: &TestApp, name: &str, members: &[&User]) -> GroupId {
    let ctx = app.system();
    let g = groups::create(&ctx, &Principal::System, name, "").await.unwrap();
    for m in members {
        groups::add_member(&ctx, &Principal::System, g.id, m.id).await.unwrap();
    }
    g.id
}

async fn list(app: &TestApp, cookie: &str) -> Value {
    let r = app
        .call(Method::GET, "/api/v1/policies", Auth::Cookie(cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.json()
}

async fn routes_and_permissions(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let cookie = admin(&app).await;
    let helpdesk = app.user("help", Role::Helpdesk).await;
    let help = app.full_session(&helpdesk).await;
    let worker = app.user("wendy", Role::Worker).await;
    let eng = group(&app, "engineers", &[&worker]).await;

    // The built-in default comes first, from the settings.
    let all = list(&app, &cookie).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["builtIn"], true);
    assert_eq!(all[0]["includeGroups"], json!(["all"]));

    let body = json!({
        "name": "Engineers", "includeGroups": [eng.to_string()], "userVerification": "required",
        "passkeyTypes": ["deviceBound"], "keyRestrictions": {"enforcement": "block", "aaguids": [MODEL_B]},
        "maxKeysPerUser": 3
    });
    // Helpdesk staff read, but do not change.
    let audit = app.audit_count().await;
    app.call(
        Method::POST,
        "/api/v1/policies",
        Auth::Cookie(&help),
        Some(body.clone()),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "admin_required");
    assert_eq!(list(&app, &cookie).await.as_array().unwrap().len(), 1);
    assert_eq!(app.audit_count().await, audit + 1, "the refusal is audited");

    let r = app
        .call(Method::POST, "/api/v1/policies", Auth::Cookie(&cookie), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/policies/{id}");
    assert_eq!(created["maxKeysPerUser"], 3);
    assert_eq!(created["keyRestrictions"]["aaguids"], json!([MODEL_B]));
    let got = app.call(Method::GET, &path, Auth::Cookie(&help), None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json()["name"], "Engineers");
    assert_eq!(list(&app, &help).await.as_array().unwrap().len(), 2);

    // The worker's effective policy names who decided what.
    let eff = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}/effective-policy", worker.id),
            Auth::Cookie(&help),
            None,
        )
        .await;
    assert_eq!(eff.status, StatusCode::OK);
    let eff = eff.json();
    assert_eq!(eff["userVerification"]["value"], "required");
    assert_eq!(eff["userVerification"]["decidedBy"][0]["name"], "Engineers");
    assert_eq!(eff["passkeyTypes"]["value"], json!(["deviceBound"]));
    assert_eq!(eff["blockedAaguids"]["value"], json!([MODEL_B]));
    assert_eq!(eff["selfServiceRegistration"]["decidedBy"][0]["name"], "Default");
    assert_eq!(eff["applied"].as_array().unwrap().len(), 2);

    // Replace: audited with the fields that changed, before and after.
    let r = app
        .call(
            Method::PUT,
            &path,
            Auth::Cookie(&cookie),
            Some(json!({"name": "Engineers", "includeGroups": [eng.to_string()], "userVerification": "preferred"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["keyRestrictions"], Value::Null);
    let events = crate::webauthn_kit::audit_actions(&app, "policy.update").await;
    let detail: Value = serde_json::from_str(events[0].detail.as_deref().unwrap()).unwrap();
    let changes = detail["changes"].as_array().unwrap();
    let uv = changes.iter().find(|c| c["field"] == "userVerification").unwrap();
    assert_eq!(
        (uv["before"].as_str(), uv["after"].as_str()),
        (Some("required"), Some("preferred"))
    );
    assert!(
        changes.iter().all(|c| c["field"] != "name"),
        "unchanged fields are not listed"
    );

    // The default is the settings': not edited here.
    let default = format!("/api/v1/policies/{}", uuid::Uuid::nil());
    app.call(Method::DELETE, &default, Auth::Cookie(&cookie), None)
        .await
        .problem(StatusCode::CONFLICT, "policy_builtin");
    let r = app.call(Method::DELETE, &path, Auth::Cookie(&help), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.call(Method::DELETE, &path, Auth::Cookie(&cookie), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.call(Method::GET, &path, Auth::Cookie(&cookie), None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(crate::webauthn_kit::audit_actions(&app, "policy.delete").await.len(), 1);
    // Not for API clients, whatever their scopes.
    let token = app.bearer(&["users:read", "users:write"]).await;
    let r = app
        .call(Method::GET, "/api/v1/policies", Auth::Bearer(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn bad_inputs_change_nothing(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let cookie = admin(&app).await;
    let eng = group(&app, "engineers", &[]).await;
    let good = json!({"name": "Strict", "includeGroups": [eng.to_string()]});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cases = [
        (
            with(
                "includeGroups",
                json!([GroupId::from_uuid(uuid::Uuid::from_u128(7)).to_string()]),
            ),
            "unknown_group",
        ),
        (with("excludeGroups", json!(["not-a-group"])), "invalid_field"),
        (
            with(
                "keyRestrictions",
                json!({"enforcement": "allow", "aaguids": [MODEL_A], "block": [MODEL_B]}),
            ),
            "invalid_request",
        ),
        (
            with(
                "keyRestrictions",
                json!({"enforcement": "allow,block", "aaguids": [MODEL_A]}),
            ),
            "invalid_field",
        ),
        (
            with(
                "keyRestrictions",
                json!({"enforcement": "allow", "aaguids": ["cb69481e8ff7403993ec0a2729a154a8"]}),
            ),
            "invalid_field",
        ),
        (
            with(
                "keyRestrictions",
                json!({"enforcement": "block", "aaguids": ["not an aaguid"]}),
            ),
            "invalid_field",
        ),
        (with("maxKeysPerUser", json!(0)), "invalid_field"),
        (with("maxKeysPerUser", json!(1_000_000)), "invalid_field"),
        (with("passkeyTypes", json!([])), "invalid_field"),
        (with("userVerification", json!("always")), "invalid_field"),
        (with("includeGroups", json!(["all", eng.to_string()])), "invalid_field"),
        (with("surprise", json!(true)), "invalid_request"),
    ];
    let before_list = list(&app, &cookie).await;
    let audit = app.audit_count().await;
    for (body, code) in cases {
        app.call(
            Method::POST,
            "/api/v1/policies",
            Auth::Cookie(&cookie),
            Some(body.clone()),
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, code);
        app.call(
            Method::POST,
            "/api/v1/policies/preview",
            Auth::Cookie(&cookie),
            Some(json!({"policy": body})),
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    // The same refusals on replace.
    let r = app
        .call(
            Method::POST,
            "/api/v1/policies",
            Auth::Cookie(&cookie),
            Some(good.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let path = format!("/api/v1/policies/{}", r.json()["id"].as_str().unwrap());
    let stored = app.call(Method::GET, &path, Auth::Cookie(&cookie), None).await.json();
    let audit_after_create = app.audit_count().await;
    assert_eq!(audit_after_create, audit + 1, "only the good create was audited");
    for (body, code) in [
        (with("maxKeysPerUser", json!(-3)), "invalid_field"),
        (
            with(
                "includeGroups",
                json!([GroupId::from_uuid(uuid::Uuid::from_u128(9)).to_string()]),
            ),
            "unknown_group",
        ),
        (json!({"name": "Strict"}), "invalid_request"),
    ] {
        app.call(Method::PUT, &path, Auth::Cookie(&cookie), Some(body))
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    assert_eq!(
        app.call(Method::GET, &path, Auth::Cookie(&cookie), None).await.json(),
        stored
    );
    assert_eq!(
        app.audit_count().await,
        audit_after_create,
        "a refused change is not saved nor audited"
    );
    // A duplicate name.
    app.call(
        Method::POST,
        "/api/v1/policies",
        Auth::Cookie(&cookie),
        Some(with("name", json!("STRICT"))),
    )
    .await
    .problem(StatusCode::CONFLICT, "policy_name_taken");
    assert_eq!(
        list(&app, &cookie).await.as_array().unwrap().len(),
        before_list.as_array().unwrap().len() + 1
    );
}

/// Registers a key of `model` for `user` straight in the store (a seeded fleet).
async fn seed_key(app: &TestApp, user: &User, model: &str) {
    let mut c = fixtures::credential(user.id);
    c.aaguid = *uuid::Uuid::parse_str(model).unwrap().as_bytes();
    c.attestation_trust = "none".into();
    fixtures::register(&app.state.stores, &c).await;
}

async fn preview(app: &TestApp, cookie: &str, body: Value) -> Value {
    let r = app
        .call(
            Method::POST,
            "/api/v1/policies/preview",
            Auth::Cookie(cookie),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

async fn preview_numbers_and_confirmation(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let cookie = admin(&app).await;
    // The fleet: amy (A, B), ben (B), cat (B, not an engineer), dan (B, an excluded
    // contractor), eve (no key), fay (B, already possibly cloned).
    let mut people = Vec::new();
    for n in ["amy", "ben", "cat", "dan", "eve", "fay"] {
        people.push(app.user(n, Role::Worker).await);
    }
    let [amy, ben, cat, dan, eve, fay] = &people[..] else {
        unreachable!()
    };
    seed_key(&app, amy, MODEL_A).await;
    seed_key(&app, amy, MODEL_B).await;
    seed_key(&app, ben, MODEL_B).await;
    seed_key(&app, cat, MODEL_B).await;
    seed_key(&app, dan, MODEL_B).await;
    seed_key(&app, fay, MODEL_B).await;
    let fay_key = app
        .state
        .stores
        .credentials
        .list_user_credentials(fay.id)
        .await
        .unwrap()[0]
        .clone();
    app.state
        .stores
        .ceremonies
        .flag_possible_clone(
            keyfleet_domain::ids::CeremonyId::new_random(&mut rand_core::OsRng),
            app.state.now().plus(std::time::Duration::from_secs(60)),
            &fay_key.id,
            0,
            &app.system()
                .audit(keyfleet_domain::audit::Action::CredentialCloneSuspected, None),
        )
        .await
        .unwrap();
    let eng = group(&app, "engineers", &[amy, ben, dan, eve, fay]).await;
    let contractors = group(&app, "contractors", &[dan]).await;
    let block_b = json!({
        "name": "No B", "includeGroups": [eng.to_string()], "excludeGroups": [contractors.to_string()],
        "keyRestrictions": {"enforcement": "block", "aaguids": [MODEL_B]}
    });
    let p = preview(&app, &cookie, json!({"policy": block_b})).await;
    assert_eq!(
        p["credentialsRefused"], 2,
        "amy's B and ben's B; cat is not targeted, dan excluded, fay's is unusable already"
    );
    let stranded: Vec<&str> = p["usersLeftWithoutUsableKey"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(stranded, ["ben"]);
    assert_eq!(
        p["byModel"],
        json!([{"aaguid": MODEL_B, "model": null, "credentialsRefused": 2}])
    );

    // An allow list of A: unattested keys never satisfy it, so every targeted usable key goes.
    let allow_a = json!({"name": "Only A", "includeGroups": ["all"], "keyRestrictions": {"enforcement": "allow", "aaguids": [MODEL_A]}});
    let p = preview(&app, &cookie, json!({"policy": allow_a})).await;
    assert_eq!(p["credentialsRefused"], 5);
    assert_eq!(p["usersLeftWithoutUsableKey"].as_array().unwrap().len(), 4);
    assert_eq!(
        p["byModel"][0],
        json!({"aaguid": MODEL_B, "model": null, "credentialsRefused": 4})
    );
    assert_eq!(p["byModel"][1]["credentialsRefused"], 1);

    // Saving a stranding change needs the confirmation; without it nothing is saved.
    let audit = app.audit_count().await;
    app.call(
        Method::POST,
        "/api/v1/policies",
        Auth::Cookie(&cookie),
        Some(block_b.clone()),
    )
    .await
    .problem(StatusCode::CONFLICT, "confirmation_required");
    assert_eq!(list(&app, &cookie).await.as_array().unwrap().len(), 1);
    assert_eq!(app.audit_count().await, audit);
    let r = app
        .call(
            Method::POST,
            "/api/v1/policies?confirm=true",
            Auth::Cookie(&cookie),
            Some(block_b),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let created = crate::webauthn_kit::audit_actions(&app, "policy.create").await;
    let detail: Value = serde_json::from_str(created[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["credentialsRefused"], 2);
    assert_eq!(detail["usersLeftWithoutUsableKey"], 1);
    assert_eq!(detail["confirmed"], true);

    // Previewing a replacement compares with the policies in force: loosening refuses nothing.
    let p = preview(
        &app,
        &cookie,
        json!({"replacing": id, "policy": {"name": "No B", "includeGroups": [eng.to_string()]}}),
    )
    .await;
    assert_eq!(p["credentialsRefused"], 0);
    // ... and a change that adds nobody to the stranded needs no confirmation.
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/policies/{id}"),
            Auth::Cookie(&cookie),
            Some(json!({"name": "No B", "includeGroups": [eng.to_string()], "maxKeysPerUser": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
}

async fn sign_in_refused_by_policy(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let cookie = admin(&app).await;
    let (user, _, mut key) = enrolled(&app, "kim").await;
    let locked = group(&app, "locked", &[&user]).await;
    let model = uuid::Uuid::from_bytes(key.aaguid).hyphenated().to_string();
    let r = app
        .call(
            Method::POST,
            "/api/v1/policies?confirm=true",
            Auth::Cookie(&cookie),
            Some(json!({"name": "Block", "includeGroups": [locked.to_string()],
                        "keyRestrictions": {"enforcement": "block", "aaguids": [model]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["id"].as_str().unwrap().to_owned();

    // The key is marked for its owner and in the console.
    let session = app.full_session(&user).await;
    let mine = app
        .call(Method::GET, "/api/v1/me/credentials", Auth::Cookie(&session), None)
        .await
        .json();
    assert_eq!(mine[0]["notAllowedByPolicy"], true);
    assert_eq!(mine[0]["policyRefusal"], "aaguid_blocked");
    let theirs = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}/credentials", user.id),
            Auth::Cookie(&cookie),
            None,
        )
        .await
        .json();
    assert_eq!(theirs[0]["notAllowedByPolicy"], true);
    let (_, own_page) = page(&app, "/security-info", &session).await;
    assert!(own_page.contains("Not allowed by policy"), "shown to the owner");
    let (_, user_page) = page(&app, &format!("/admin/users/{}", user.id), &cookie).await;
    assert!(user_page.contains("Not allowed by policy"), "shown in the console");

    // The sign-in is refused after the assertion verified, and changes nothing.
    let before = snapshot(&app, &[user.id]).await;
    let c = sign_in_options(&app, Some("kim")).await;
    let cred = key.sign_in(&c.options, ORIGIN_FOR_TESTS).unwrap();
    sign_in_verify(&app, &c.id, cred)
        .await
        .problem(StatusCode::UNAUTHORIZED, "credential_not_allowed");
    assert_eq!(
        snapshot(&app, &[user.id]).await,
        before,
        "no counter moved, no session opened"
    );
    // Someone without the key learns nothing: a forged assertion gets the generic answer.
    let mut stranger = TestKey::from_seed(b"someone else");
    stranger.credential_id = key.credential_id.clone();
    stranger.user_handle = key.user_handle.clone();
    let c = sign_in_options(&app, Some("kim")).await;
    let cred = stranger.sign_in(&c.options, ORIGIN_FOR_TESTS).unwrap();
    let r = sign_in_verify(&app, &c.id, cred).await;
    assert_ne!(r.json()["code"], "credential_not_allowed");

    // Without the policy the key signs in again.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/policies/{id}"),
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    crate::webauthn_kit::sign_in(&app, Some("kim"), &mut key).await;
}

async fn registration_refused_by_policy(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let cookie = admin(&app).await;
    let (user, tap, _) = enrolled(&app, "lee").await;
    let strict = group(&app, "strict", &[&user]).await;
    let uid = user.id;
    let create = |body: Value| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let r = app
                .call(
                    Method::POST,
                    "/api/v1/policies?confirm=true",
                    Auth::Cookie(&cookie),
                    Some(body),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
            r.json()["id"].as_str().unwrap().to_owned()
        }
    };
    let delete = |id: String| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let r = app
                .call(
                    Method::DELETE,
                    &format!("/api/v1/policies/{id}"),
                    Auth::Cookie(&cookie),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT);
        }
    };
    let g = strict.to_string();
    let refused = |mut key: TestKey, code: &'static str| {
        let app = &app;
        let tap = tap.clone();
        async move {
            let before = snapshot(app, &[uid]).await;
            let c = reg_options(app, &tap).await;
            let cred = key.register(&c.options, ORIGIN_FOR_TESTS).unwrap();
            reg_verify(app, &tap, &c.id, cred)
                .await
                .problem(StatusCode::BAD_REQUEST, code);
            assert_eq!(snapshot(app, &[uid]).await, before, "{code}: nothing stored");
        }
    };
    // R14 / bad input 19: a synced passkey where only device-bound keys are allowed.
    let id = create(json!({"name": "Bound", "includeGroups": [g], "passkeyTypes": ["deviceBound"]})).await;
    let mut synced = TestKey::from_seed(b"synced");
    synced.backup_eligible = true;
    synced.backup_state = true;
    refused(synced, "passkey_type_not_allowed").await;
    delete(id).await;
    // R12 / bad input 15: UV clear when the policy requires it; the options ask for it.
    let id = create(json!({"name": "UV", "includeGroups": [g], "userVerification": "required"})).await;
    let c = reg_options(&app, &tap).await;
    assert_eq!(c.options["authenticatorSelection"]["userVerification"], "required");
    let mut no_uv = TestKey::from_seed(b"no uv");
    no_uv.user_verifying = false;
    refused(no_uv, "uv_required").await;
    delete(id).await;
    // Bad input 17: an allow list is not satisfied by `none` or self attestation.
    let model = uuid::Uuid::from_bytes(TestKey::from_seed(b"listed").aaguid)
        .hyphenated()
        .to_string();
    let id = create(json!({"name": "Allow", "includeGroups": [g],
                           "keyRestrictions": {"enforcement": "allow", "aaguids": [model]}}))
    .await;
    refused(TestKey::from_seed(b"listed"), "aaguid_not_allowed").await;
    delete(id).await;
    // R19: attestation required, `none` given.
    let id = create(json!({"name": "Attested", "includeGroups": [g], "attestation": "required"})).await;
    let mut none = TestKey::from_seed(b"none");
    none.attestation = keyfleet_webauthn_testkey::Attestation::None;
    refused(none, "attestation_required").await;
    delete(id).await;
    // Self-service off and the key limit: refused before any key is asked for.
    let id = create(json!({"name": "Helpdesk only", "includeGroups": [g], "selfServiceRegistration": false})).await;
    app.call(Method::POST, crate::webauthn_kit::REG_OPTIONS, Auth::Cookie(&tap), None)
        .await
        .problem(StatusCode::BAD_REQUEST, "registration_not_allowed");
    delete(id).await;
    create(json!({"name": "One key", "includeGroups": [g], "maxKeysPerUser": 1})).await;
    app.call(Method::POST, crate::webauthn_kit::REG_OPTIONS, Auth::Cookie(&tap), None)
        .await
        .problem(StatusCode::BAD_REQUEST, "too_many_keys");
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let req = axum::http::Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(axum::http::header::ACCEPT, "text/html")
        .header(axum::http::header::COOKIE, cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    let r = app.send(req).await;
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

async fn stored_count(app: &TestApp) -> usize {
    app.state.stores.policies.list_policies().await.unwrap().len()
}

async fn console_pages(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let cookie = admin(&app).await;
    let helpdesk = app.user("help", Role::Helpdesk).await;
    let help = app.full_session(&helpdesk).await;
    let amy = app.user("amy", Role::Worker).await;
    seed_key(&app, &amy, MODEL_B).await;
    group(&app, "Engineers", &[&amy]).await;

    // Helpdesk staff read, without forms.
    let (status, body) = page(&app, "/admin/policies", &help).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Default") && body.contains("id=\"read-only\""));
    assert!(!body.contains("/admin/policies/new"));

    let fields = [
        ("name", "No B"),
        ("include", "engineers"),
        ("user_verification", "preferred"),
        ("attestation", "none"),
        ("device_bound", "on"),
        ("synced", "on"),
        ("self_service", "on"),
        ("enforcement", "block"),
        ("aaguids", MODEL_B),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f = fields.to_vec();
        f.extend_from_slice(extra);
        f
    };
    // The preview comes first and saves nothing.
    let r = crate::pages::post_page(
        &app,
        "/admin/policies/new",
        Some(&cookie),
        &with(&[("action", "preview")]),
    )
    .await;
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(r.status, StatusCode::OK, "{body}");
    assert!(body.contains("1 key(s) in use now would be refused"), "{body}");
    assert!(body.contains(">amy</a>") && body.contains("id=\"policy-confirm\""));
    assert_eq!(stored_count(&app).await, 0);
    // Saving a stranding change without the confirmation is refused.
    let r = crate::pages::post_page(&app, "/admin/policies/new", Some(&cookie), &with(&[("action", "save")])).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(stored_count(&app).await, 0);
    // A group nobody has is named back.
    let mut unknown = with(&[("action", "save")]);
    unknown[1] = ("include", "nobody's group");
    let r = crate::pages::post_page(&app, "/admin/policies/new", Some(&cookie), &unknown).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8_lossy(&r.body).contains("There is no group named"));
    // Confirmed, it is saved.
    let r = crate::pages::post_page(
        &app,
        "/admin/policies/new",
        Some(&cookie),
        &with(&[("action", "save"), ("confirm", "on")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.headers[axum::http::header::LOCATION].to_str().unwrap().to_owned();
    assert!(to.ends_with("?done=created"), "{to}");
    let path = to.trim_end_matches("?done=created").to_owned();
    assert_eq!(stored_count(&app).await, 1);

    // Helpdesk staff see it read-only and are refused a change.
    let (status, body) = page(&app, &path, &help).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Engineers") && !body.contains(&format!("action=\"{path}\"")));
    let r = crate::pages::post_page(&app, &format!("{path}/delete"), Some(&help), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(stored_count(&app).await, 1);
    let r = crate::pages::post_page(&app, &format!("{path}/delete"), Some(&cookie), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(stored_count(&app).await, 0);
}
