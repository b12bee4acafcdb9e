//! Group rules and key orders (issue 16): "members of group G get a key of model M" through
//! Entra ID's and Okta's group-membership sequences on both stores: orders placed
//! (`pendingApproval`), approved, cancelled when a member leaves or is deactivated; keys
//! flagged for collection and marked returned; idempotency under replays and re-adds; the
//! restore of a deleted user; refusals typed and changing nothing; the console pages.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use keyfleet_domain::user::{Role, User};
use keyfleet_server::web::page::csrf_token;
use keyfleet_webauthn_testkey::TestKey;
use serde_json::{Value, json};

use crate::harness::{Auth, Backend, ORIGIN, Resp, TestApp};
use crate::on_both_stores;
use crate::scim::{PATCH, scim};
use crate::webauthn_kit::{enrolled, register, sign_in};

on_both_stores!(
    entra_membership_orders_and_collects,
    okta_membership_delete_and_restore,
    bad_inputs_are_typed_and_change_nothing,
    console_rules_and_orders,
    console_marks_returned_and_restores,
);

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const BAND_AAGUID: &str = "9b7493dd-e22e-4369-bbdf-25177d6eb596";

/// The response's JSON (`Null` when empty), after checking its status (any media type: the
/// group-rule and order routes answer `application/json`, SCIM `application/scim+json`).
#[track_caller]
fn ok(r: &Resp, status: StatusCode) -> Value {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    if r.body.is_empty() { Value::Null } else { r.json() }
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": list})
}

/// Registers a band for `cookie`'s user.
async fn add_band(app: &TestApp, username: &str, cookie: &str) -> TestKey {
    let mut band = TestKey::from_seed(format!("{username} band").as_bytes());
    band.aaguid = *uuid::Uuid::parse_str(BAND_AAGUID).unwrap().as_bytes();
    register(app, cookie, &mut band).await;
    band
}

async fn orders(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/shipments{query}"),
            Auth::Bearer(token),
            None,
        )
        .await;
    ok(&r, StatusCode::OK).as_array().unwrap().clone()
}

fn states(list: &[Value], model: &str) -> Vec<String> {
    let mut s: Vec<String> = list
        .iter()
        .filter(|o| o["model"] == model)
        .map(|o| o["state"].as_str().unwrap().to_owned())
        .collect();
    s.sort();
    s
}

async fn keys(app: &TestApp, token: &str, user: &User) -> Vec<Value> {
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}/credentials", user.id),
            Auth::Bearer(token),
            None,
        )
        .await;
    ok(&r, StatusCode::OK).as_array().unwrap().clone()
}

fn band_of(keys: &[Value]) -> Value {
    keys.iter()
        .find(|k| k["aaguid"] == BAND_AAGUID)
        .cloned()
        .expect("a band")
}

async fn actions(app: &TestApp) -> Vec<String> {
    app.state
        .stores
        .audit
        .list(&keyfleet_domain::audit::AuditQuery {
            limit: 5000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn rule(app: &TestApp, token: &str, group: &str, model: &str, approval: &str) -> Value {
    let body = json!({"groupId": group, "model": model, "approval": approval});
    let r = app
        .call(Method::POST, "/api/v1/group-rules", Auth::Bearer(token), Some(body))
        .await;
    ok(&r, StatusCode::CREATED)
}

/// Entra ID's membership changes (`Add`/`Remove` of `members` with a value list) against two
/// rules of one group: nfc-key with approval, band without. Joiners are ordered what they do
/// not hold; a replayed PATCH orders nothing more; approval moves an order on once; a leaver's
/// open orders are cancelled and their band flagged for collection (API, console, their own
/// page); re-adding clears the flag without a second open order; "mark returned" removes the
/// key; deactivation cancels the rest.
async fn entra_membership_orders_and_collects(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    let s = app.bearer(&["shipments"]).await;
    let w = app.bearer(&["users:read", "users:write"]).await;
    let (kim, kim_cookie, mut first) = enrolled(&app, "kim").await;
    let _band = add_band(&app, "kim", &kim_cookie).await;
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        &t,
        Some(json!({"userName": "new@contoso.com", "active": true})),
    )
    .await;
    let new_id = ok(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();

    let group = json!({"schemas": [GROUP], "externalId": "8aa1a0c0", "displayName": "Field engineers"});
    let gid = ok(
        &scim(&app, Method::POST, "/scim/v2/Groups", &t, Some(group)).await,
        StatusCode::CREATED,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nfc = rule(&app, &s, &gid, "nfc-key", "required").await;
    assert_eq!(
        (nfc["approval"].clone(), nfc["enabled"].clone()),
        (json!("required"), json!(true))
    );
    let band_rule = rule(&app, &s, &gid, BAND_AAGUID, "automatic").await;
    assert_eq!(band_rule["model"], "band", "an AAGUID names its model");
    assert!(orders(&app, &s, "").await.is_empty(), "an empty group: nobody ordered");

    let add =
        ops(json!([{"op": "Add", "path": "members", "value": [{"value": new_id}, {"value": kim.id.to_string()}]}]));
    let gpath = format!("/scim/v2/Groups/{gid}");
    ok(
        &scim(&app, Method::PATCH, &gpath, &t, Some(add.clone())).await,
        StatusCode::OK,
    );
    let new_orders = orders(&app, &s, &format!("?user={new_id}")).await;
    assert_eq!(states(&new_orders, "nfc-key"), ["pendingApproval"]);
    assert_eq!(states(&new_orders, "band"), ["requested"], "automatic approval");
    assert_eq!(
        new_orders[0]["source"].as_str().unwrap().split_once(':').unwrap().0,
        "rule"
    );
    let kim_orders = orders(&app, &s, "?user=kim").await;
    assert_eq!(states(&kim_orders, "nfc-key"), ["pendingApproval"]);
    assert!(
        states(&kim_orders, "band").is_empty(),
        "kim holds a band: not ordered another"
    );

    // The same PATCH replayed (Entra retries) and the members added again: nothing more.
    let before = orders(&app, &s, "").await.len();
    ok(
        &scim(&app, Method::PATCH, &gpath, &t, Some(add.clone())).await,
        StatusCode::OK,
    );
    assert_eq!(orders(&app, &s, "").await.len(), before, "no second order");

    // Approval: once.
    let pending = orders(&app, &s, &format!("?user={new_id}&state=pendingApproval")).await;
    let oid = pending[0]["id"].as_str().unwrap().to_owned();
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/shipments/{oid}/approve"),
            Auth::Bearer(&s),
            None,
        )
        .await;
    assert_eq!(ok(&r, StatusCode::OK)["state"], "requested");
    let audits = app.audit_count().await;
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/shipments/{oid}/approve"),
            Auth::Bearer(&s),
            None,
        )
        .await;
    r.problem(StatusCode::CONFLICT, "order_not_pending");
    assert_eq!(app.audit_count().await, audits, "a refused approval writes nothing");
    let r = app
        .call(Method::GET, &format!("/api/v1/shipments/{oid}"), Auth::Bearer(&s), None)
        .await;
    assert_eq!(ok(&r, StatusCode::OK)["state"], "requested");

    // Kim leaves the way Entra removes members.
    let remove = ops(json!([{"op": "Remove", "path": "members", "value": [{"value": kim.id.to_string()}]}]));
    ok(
        &scim(&app, Method::PATCH, &gpath, &t, Some(remove.clone())).await,
        StatusCode::OK,
    );
    assert_eq!(states(&orders(&app, &s, "?user=kim").await, "nfc-key"), ["cancelled"]);
    let band = band_of(&keys(&app, &w, &kim).await);
    assert_eq!(band["collectionReason"], "left_group");
    assert!(band["collectionRequestedAt"].is_string());
    let others: Vec<Value> = keys(&app, &w, &kim)
        .await
        .into_iter()
        .filter(|k| k["aaguid"] != BAND_AAGUID)
        .collect();
    assert!(
        others.iter().all(|k| k["collectionReason"].is_null()),
        "only the rule's model is flagged"
    );
    let kim_full = sign_in(&app, Some("kim"), &mut first).await;
    let r = app
        .call(Method::GET, "/security-info", Auth::Cookie(&kim_full), None)
        .await;
    assert!(
        String::from_utf8_lossy(&r.body).contains("badge warn collection"),
        "kim sees it on their page"
    );
    let admin = app.user("root", Role::Admin).await;
    let admin_cookie = app.full_session(&admin).await;
    let r = app
        .call(
            Method::GET,
            &format!("/admin/users/{}", kim.id),
            Auth::Cookie(&admin_cookie),
            None,
        )
        .await;
    let page = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        page.contains("To be collected") && page.contains("mark-returned"),
        "the console shows it"
    );
    assert!(
        actions(&app)
            .await
            .iter()
            .any(|a| a == "credential.collection_requested")
    );

    // Back in the group: the flag clears, one open nfc-key order again (the cancelled one stays).
    ok(
        &scim(&app, Method::PATCH, &gpath, &t, Some(add.clone())).await,
        StatusCode::OK,
    );
    assert!(band_of(&keys(&app, &w, &kim).await)["collectionReason"].is_null());
    assert_eq!(
        states(&orders(&app, &s, "?user=kim").await, "nfc-key"),
        ["cancelled", "pendingApproval"]
    );
    assert!(actions(&app).await.iter().any(|a| a == "credential.collection_cleared"));

    // Leaves again; hands the band back.
    ok(
        &scim(&app, Method::PATCH, &gpath, &t, Some(remove)).await,
        StatusCode::OK,
    );
    assert_eq!(
        states(&orders(&app, &s, "?user=kim").await, "nfc-key"),
        ["cancelled", "cancelled"]
    );
    let band = band_of(&keys(&app, &w, &kim).await);
    let other = others[0]["id"].as_str().unwrap();
    let audits = app.audit_count().await;
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/credentials/{other}/returned", kim.id),
            Auth::Bearer(&w),
            None,
        )
        .await;
    r.problem(StatusCode::CONFLICT, "not_flagged_for_collection");
    assert_eq!(app.audit_count().await, audits);
    assert_eq!(keys(&app, &w, &kim).await.len(), 2, "nothing removed");
    let bid = band["id"].as_str().unwrap();
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/credentials/{bid}/returned", kim.id),
            Auth::Bearer(&w),
            None,
        )
        .await;
    ok(&r, StatusCode::NO_CONTENT);
    assert_eq!(keys(&app, &w, &kim).await.len(), 1, "the band is gone");
    assert!(
        app.state
            .stores
            .shipments
            .user_collections(kim.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(actions(&app).await.iter().any(|a| a == "credential.returned"));

    // Deactivation (Entra's string boolean): the new member's open orders are cancelled.
    let off = ops(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    ok(
        &scim(&app, Method::PATCH, &format!("/scim/v2/Users/{new_id}"), &t, Some(off)).await,
        StatusCode::OK,
    );
    let new_orders = orders(&app, &s, &format!("?user={new_id}")).await;
    assert_eq!(states(&new_orders, "nfc-key"), ["cancelled"]);
    assert_eq!(states(&new_orders, "band"), ["cancelled"]);
    // Reactivation: a member in good standing again is ordered again, once.
    let on = ops(json!([{"op": "Replace", "path": "active", "value": "True"}]));
    ok(
        &scim(
            &app,
            Method::PATCH,
            &format!("/scim/v2/Users/{new_id}"),
            &t,
            Some(on.clone()),
        )
        .await,
        StatusCode::OK,
    );
    ok(
        &scim(&app, Method::PATCH, &format!("/scim/v2/Users/{new_id}"), &t, Some(on)).await,
        StatusCode::OK,
    );
    let new_orders = orders(&app, &s, &format!("?user={new_id}")).await;
    assert_eq!(states(&new_orders, "nfc-key"), ["cancelled", "pendingApproval"]);
    assert_eq!(states(&new_orders, "band"), ["cancelled", "requested"]);

    // Every step audited, with the client as actor where the directory acted.
    let all = actions(&app).await;
    for a in [
        "group_rule.create",
        "shipment.order",
        "shipment.approve",
        "shipment.cancel",
    ] {
        assert!(all.iter().any(|x| x == a), "{a} audited");
    }
}

/// Okta: a group created with its member (`POST /Groups` with `members`), removal by
/// `members[value eq …]`, then a member deleted by the directory (keys flagged, orders
/// cancelled) and restored within the recovery period (enabled, visible to SCIM, flags
/// cleared); a rule's deletion cancels its open orders.
async fn okta_membership_delete_and_restore(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    let s = app.bearer(&["shipments"]).await;
    let w = app.bearer(&["users:read", "users:write"]).await;
    let (ann, ann_cookie, _first) = enrolled(&app, "ann").await;
    let _band = add_band(&app, "ann", &ann_cookie).await;
    let bob = app.user("bob", Role::Worker).await;

    // The rule exists before the group's members: make the group first, empty, then its rule.
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Groups",
        &t,
        Some(json!({"schemas": [GROUP], "displayName": "Okta wearers"})),
    )
    .await;
    let gid = ok(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let band_rule = rule(&app, &s, &gid, "band", "required").await;
    let put = json!({"schemas": [GROUP], "displayName": "Okta wearers", "members": [{"value": ann.id.to_string()}, {"value": bob.id.to_string()}]});
    ok(
        &scim(&app, Method::PUT, &format!("/scim/v2/Groups/{gid}"), &t, Some(put)).await,
        StatusCode::OK,
    );
    assert_eq!(
        states(&orders(&app, &s, "?user=bob").await, "band"),
        ["pendingApproval"]
    );
    assert!(orders(&app, &s, "?user=ann").await.is_empty(), "ann holds a band");

    // A second group created with bob as its member by POST, under its own band rule:
    // bob has an open band order already, so none more.
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Groups",
        &t,
        Some(json!({"schemas": [GROUP], "displayName": "Second"})),
    )
    .await;
    let g2 = ok(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    rule(&app, &s, &g2, "band", "automatic").await;
    let add = ops(json!([{"op": "add", "path": "members", "value": [{"value": bob.id.to_string()}]}]));
    ok(
        &scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{g2}"), &t, Some(add)).await,
        StatusCode::OK,
    );
    assert_eq!(orders(&app, &s, "?user=bob").await.len(), 1, "one open order per model");

    // Okta's removal form: bob leaves the first group, but the second still gives him a band,
    // so his order stands; leaving the second too cancels it.
    let remove = ops(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", bob.id)}]));
    let r = scim(
        &app,
        Method::PATCH,
        &format!("/scim/v2/Groups/{gid}"),
        &t,
        Some(remove.clone()),
    )
    .await;
    ok(&r, StatusCode::OK);
    let bobs = states(&orders(&app, &s, "?user=bob").await, "band");
    assert_eq!(bobs, ["pendingApproval"], "still entitled");
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{g2}"), &t, Some(remove)).await;
    ok(&r, StatusCode::OK);
    let bobs = states(&orders(&app, &s, "?user=bob").await, "band");
    assert_eq!(bobs, ["cancelled"], "left both: the order ends");

    // Ann is deleted by the directory: her band is flagged.
    ok(
        &scim(&app, Method::DELETE, &format!("/scim/v2/Users/{}", ann.id), &t, None).await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(band_of(&keys(&app, &w, &ann).await)["collectionReason"], "user_deleted");
    let admin = app.user("root", Role::Admin).await;
    let admin_cookie = app.full_session(&admin).await;
    let r = app
        .call(
            Method::GET,
            &format!("/admin/users/{}", ann.id),
            Auth::Cookie(&admin_cookie),
            None,
        )
        .await;
    assert!(
        String::from_utf8_lossy(&r.body).contains("id=\"restore-user\""),
        "the console offers the restore"
    );
    // Restored: enabled, visible to SCIM again, her band no longer flagged.
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/restore", ann.id),
            Auth::Bearer(&w),
            None,
        )
        .await;
    assert_eq!(ok(&r, StatusCode::OK)["enabled"], true);
    let r = scim(&app, Method::GET, &format!("/scim/v2/Users/{}", ann.id), &t, None).await;
    assert_eq!(ok(&r, StatusCode::OK)["userName"], "ann");
    assert!(app.state.stores.users.get_user(ann.id).await.unwrap().unwrap().enabled);
    assert!(band_of(&keys(&app, &w, &ann).await)["collectionReason"].is_null());
    assert!(actions(&app).await.iter().any(|a| a == "user.restore"));
    let audits = app.audit_count().await;
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{}/restore", ann.id),
            Auth::Bearer(&w),
            None,
        )
        .await;
    r.problem(StatusCode::CONFLICT, "not_deleted");
    assert_eq!(app.audit_count().await, audits);

    // A deleted rule's open orders are cancelled; no key is flagged.
    let carl = app.user("carl", Role::Worker).await;
    let add = ops(json!([{"op": "add", "path": "members", "value": [{"value": carl.id.to_string()}]}]));
    ok(
        &scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{gid}"), &t, Some(add)).await,
        StatusCode::OK,
    );
    assert_eq!(
        states(&orders(&app, &s, "?user=carl").await, "band"),
        ["pendingApproval"]
    );
    let rid = band_rule["id"].as_str().unwrap();
    ok(
        &app.call(
            Method::DELETE,
            &format!("/api/v1/group-rules/{rid}"),
            Auth::Bearer(&s),
            None,
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(states(&orders(&app, &s, "?user=carl").await, "band"), ["cancelled"]);
    assert!(band_of(&keys(&app, &w, &ann).await)["collectionReason"].is_null());
    app.call(
        Method::GET,
        &format!("/api/v1/group-rules/{rid}"),
        Auth::Bearer(&s),
        None,
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
}

/// Unknown group, unknown model, a bad approval, a duplicate rule, approving or cancelling a
/// cancelled order, a bad state filter, restoring after the recovery period, helpdesk
/// changes: each refused with its code, nothing changed (no row, no audit event but the
/// refusal's own `access.denied`).
async fn bad_inputs_are_typed_and_change_nothing(b: Backend) {
    let app = TestApp::new(b, &[("KEYFLEET_DIRECTORY_RECOVERY_DAYS", "0")]).await;
    let s = app.bearer(&["shipments"]).await;
    let t = app.bearer(&["scim"]).await;
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Groups",
        &t,
        Some(json!({"schemas": [GROUP], "displayName": "G"})),
    )
    .await;
    let gid = ok(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    rule(&app, &s, &gid, "nfc-key", "required").await;
    let audits = app.audit_count().await;
    let rules = || async { app.state.stores.shipments.list_rules().await.unwrap().len() };
    let post = |body: Value| {
        let s = s.clone();
        let app = &app;
        async move {
            app.call(Method::POST, "/api/v1/group-rules", Auth::Bearer(&s), Some(body))
                .await
        }
    };
    let ghost = uuid::Uuid::new_v4().to_string();
    post(json!({"groupId": ghost, "model": "nfc-key"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_group");
    post(json!({"groupId": "not-a-uuid", "model": "nfc-key"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_group");
    post(json!({"groupId": gid, "model": "yubikey"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_model");
    post(json!({"groupId": gid, "model": "band", "approval": "sometimes"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_approval");
    post(json!({"groupId": gid, "model": "NFC-KEY"}))
        .await
        .problem(StatusCode::CONFLICT, "duplicate_rule");
    let r = post(json!({"groupId": gid, "model": "band", "colour": "red"})).await;
    assert!(r.status.is_client_error(), "unknown members refused: {}", r.status);
    assert_eq!(rules().await, 1);
    assert_eq!(app.audit_count().await, audits, "nothing written");

    // An order, cancelled: neither approved nor cancelled again.
    let u = app.user("dora", Role::Worker).await;
    keyfleet_core::identity::groups::add_member(
        &app.system(),
        &keyfleet_core::access::Principal::System,
        gid.parse().unwrap(),
        u.id,
    )
    .await
    .unwrap();
    let list = orders(&app, &s, "?user=dora").await;
    assert_eq!(
        states(&list, "nfc-key"),
        ["pendingApproval"],
        "the console/API membership path orders too"
    );
    let oid = list[0]["id"].as_str().unwrap().to_owned();
    ok(
        &app.call(
            Method::DELETE,
            &format!("/api/v1/shipments/{oid}"),
            Auth::Bearer(&s),
            None,
        )
        .await,
        StatusCode::OK,
    );
    let audits = app.audit_count().await;
    app.call(
        Method::POST,
        &format!("/api/v1/shipments/{oid}/approve"),
        Auth::Bearer(&s),
        None,
    )
    .await
    .problem(StatusCode::CONFLICT, "order_not_pending");
    app.call(
        Method::DELETE,
        &format!("/api/v1/shipments/{oid}"),
        Auth::Bearer(&s),
        None,
    )
    .await
    .problem(StatusCode::CONFLICT, "order_not_cancellable");
    app.call(Method::GET, "/api/v1/shipments?state=lost", Auth::Bearer(&s), None)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_state");
    app.call(
        Method::POST,
        &format!("/api/v1/shipments/{}/approve", uuid::Uuid::new_v4()),
        Auth::Bearer(&s),
        None,
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.audit_count().await, audits, "refusals write nothing");
    assert_eq!(states(&orders(&app, &s, "?user=dora").await, "nfc-key"), ["cancelled"]);

    // Helpdesk reads rules and orders, changes neither.
    let hd = app.user("helen", Role::Helpdesk).await;
    let hc = app.full_session(&hd).await;
    ok(
        &app.call(Method::GET, "/api/v1/group-rules", Auth::Cookie(&hc), None)
            .await,
        StatusCode::OK,
    );
    ok(
        &app.call(Method::GET, "/api/v1/shipments", Auth::Cookie(&hc), None)
            .await,
        StatusCode::OK,
    );
    app.call(
        Method::POST,
        "/api/v1/group-rules",
        Auth::Cookie(&hc),
        Some(json!({"groupId": gid, "model": "band"})),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "admin_required");
    let other = app.bearer(&["users:read"]).await;
    app.call(Method::GET, "/api/v1/shipments", Auth::Bearer(&other), None)
        .await
        .problem(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(rules().await, 1);

    // Restoring after the recovery period (0 days here) is refused.
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        &t,
        Some(json!({"userName": "gone@example.com"})),
    )
    .await;
    let id = ok(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    ok(
        &scim(&app, Method::DELETE, &format!("/scim/v2/Users/{id}"), &t, None).await,
        StatusCode::NO_CONTENT,
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let w = app.bearer(&["users:write"]).await;
    let audits = app.audit_count().await;
    app.call(
        Method::POST,
        &format!("/api/v1/users/{id}/restore"),
        Auth::Bearer(&w),
        None,
    )
    .await
    .problem(StatusCode::CONFLICT, "recovery_period_ended");
    assert_eq!(app.audit_count().await, audits);
    assert!(
        !app.state
            .stores
            .users
            .get_user(id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
}

/// A form POST as the page sends it.
async fn post_form(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> Resp {
    let value = cookie.split_once('=').unwrap().1;
    let token = csrf_token(&app.state.csrf_key, Some(value));
    let mut pairs = fields.to_vec();
    pairs.push(("_csrf", &token));
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(pairs).unwrap()))
        .unwrap();
    app.send(req).await
}

/// The console: an administrator creates a rule on the page (a duplicate is shown as 409 on
/// the form), sees the member's order, approves one and cancels another; helpdesk sees both
/// pages read-only.
async fn console_rules_and_orders(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let sys = app.system();
    let p = keyfleet_core::access::Principal::System;
    let g = keyfleet_core::identity::groups::create(&sys, &p, "Night shift", "")
        .await
        .unwrap();
    let mut members = Vec::new();
    for name in ["eve", "fay"] {
        let u = app.user(name, Role::Worker).await;
        keyfleet_core::identity::groups::add_member(&sys, &p, g.id, u.id)
            .await
            .unwrap();
        members.push(u);
    }
    let page = |path: &'static str, c: String| {
        let app = &app;
        async move {
            let r = app.call(Method::GET, path, Auth::Cookie(&c), None).await;
            assert_eq!(r.status, StatusCode::OK);
            String::from_utf8_lossy(&r.body).into_owned()
        }
    };
    assert!(
        page("/admin/group-rules", cookie.clone())
            .await
            .contains("id=\"no-rules\"")
    );
    let gid = g.id.to_string();
    let r = post_form(
        &app,
        &cookie,
        "/admin/group-rules",
        &[("group_id", &gid), ("model", "band"), ("approval", "required")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let rules_page = page("/admin/group-rules", cookie.clone()).await;
    assert!(rules_page.contains("Night shift") && rules_page.contains("delete-rule"));
    let r = post_form(
        &app,
        &cookie,
        "/admin/group-rules",
        &[("group_id", &gid), ("model", "band")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(String::from_utf8_lossy(&r.body).contains("id=\"form-error\""));

    let orders_page = page("/admin/shipments", cookie.clone()).await;
    assert_eq!(
        orders_page.matches("data-state=\"pendingApproval\"").count(),
        2,
        "both members ordered"
    );
    let all = app
        .state
        .stores
        .shipments
        .list_shipments(&keyfleet_domain::shipment::ShipmentQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let (a, c) = (all[0].id.to_string(), all[1].id.to_string());
    let r = post_form(&app, &cookie, &format!("/admin/shipments/{a}/approve"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = post_form(&app, &cookie, &format!("/admin/shipments/{c}/cancel"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let orders_page = page("/admin/shipments", cookie.clone()).await;
    assert!(orders_page.contains("data-state=\"requested\"") && orders_page.contains("data-state=\"cancelled\""));
    assert!(!orders_page.contains("approve-order"), "nothing left to approve");
    // Issue 15: the cancelled order is ordered again in one action; without a factory there is
    // nothing to process, and the page says so.
    assert!(orders_page.contains("class=\"reorder\"") && orders_page.contains("id=\"connector\""));
    assert!(!orders_page.contains("process-now"));
    let r = post_form(&app, &cookie, &format!("/admin/shipments/{c}/reorder"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let orders_page = page("/admin/shipments", cookie.clone()).await;
    assert_eq!(
        orders_page.matches("data-state=\"requested\"").count(),
        2,
        "{orders_page}"
    );
    let r = post_form(&app, &cookie, "/admin/shipments/process", &[]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    // The worker sees that a key is on its way.
    let worker = app.full_session(&members[0]).await;
    assert!(page("/security-info", worker).await.contains("key-on-its-way"));

    let hd = app.user("helen", Role::Helpdesk).await;
    let hc = app.full_session(&hd).await;
    let ro = page("/admin/group-rules", hc.clone()).await;
    assert!(ro.contains("id=\"read-only\"") && !ro.contains("create-rule"));
    assert!(!page("/admin/shipments", hc.clone()).await.contains("cancel-order"));
    let r = post_form(&app, &hc, &format!("/admin/shipments/{a}/cancel"), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// The user page's buttons: "Mark returned" on a key flagged for collection (the key goes,
/// audited `credential.returned`) and "Restore user" for a user the directory deleted.
async fn console_marks_returned_and_restores(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    let s = app.bearer(&["shipments"]).await;
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let (ivy, ivy_cookie, _first) = enrolled(&app, "ivy").await;
    let band = add_band(&app, "ivy", &ivy_cookie).await;
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Groups",
        &t,
        Some(json!({"schemas": [GROUP], "displayName": "Wearers", "members": [{"value": ivy.id.to_string()}]})),
    )
    .await;
    let gid = ok(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    rule(&app, &s, &gid, "band", "required").await;
    // Deleted by the directory: her band is flagged.
    ok(
        &scim(&app, Method::DELETE, &format!("/scim/v2/Users/{}", ivy.id), &t, None).await,
        StatusCode::NO_CONTENT,
    );
    let page = app
        .call(
            Method::GET,
            &format!("/admin/users/{}", ivy.id),
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(html.contains("To be collected") && html.contains("id=\"restore-user\""));
    let band_aaguid = band.aaguid;
    let all = app
        .state
        .stores
        .credentials
        .list_user_credentials(ivy.id)
        .await
        .unwrap();
    let stored_band = all.iter().find(|k| k.aaguid == band_aaguid).expect("the band");
    let bid = keyfleet_core::credentials::ceremony::b64(&stored_band.id);
    let r = post_form(
        &app,
        &cookie,
        &format!("/admin/users/{}/keys/{bid}/returned", ivy.id),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&r.body));
    let left = app
        .state
        .stores
        .credentials
        .list_user_credentials(ivy.id)
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "the band is gone, the other key stays");
    assert!(actions(&app).await.iter().any(|a| a == "credential.returned"));
    let r = post_form(&app, &cookie, &format!("/admin/users/{}/restore", ivy.id), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let du = app
        .state
        .stores
        .directory
        .directory_user(ivy.id)
        .await
        .unwrap()
        .unwrap();
    assert!(du.user.enabled && du.link.deleted_at.is_none(), "restored");
    // Back in good standing without a band: the rule orders her one.
    assert_eq!(
        states(&orders(&app, &s, "?user=ivy").await, "band"),
        ["pendingApproval"]
    );
}
