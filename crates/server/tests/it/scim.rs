//! Directory sync over SCIM 2.0 (issue 16): the provisioning sequences Entra ID and Okta
//! document, replayed; refusals in SCIM's shape that change nothing; lifecycle effects on
//! sessions; discovery, paging, sorting, entity tags.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use keyfleet_core::jobs::Job;
use keyfleet_domain::user::Role;
use serde_json::{Value, json};

use crate::harness::{Auth, Backend, Resp, TestApp};
use crate::on_both_stores;

on_both_stores!(
    entra_provisioning_sequence,
    okta_provisioning_sequence,
    conflicts_are_refused_and_change_nothing,
    bad_requests_get_scim_errors,
    access_needs_the_scim_scope,
    lists_filter_sort_and_page,
    entity_tags_guard_changes,
    deletion_is_recoverable_then_purged,
    discovery_documents,
    keys_follow_the_lifecycle,
);

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// One SCIM request with the bearer `token` (a body goes as `application/scim+json`).
pub(crate) async fn scim(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/scim+json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    app.send(b.body(body).unwrap()).await
}

#[track_caller]
fn expect(r: &Resp, status: StatusCode) -> Value {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    if r.body.is_empty() {
        return Value::Null;
    }
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/scim+json");
    r.json()
}

#[track_caller]
fn expect_error(r: &Resp, status: StatusCode, scim_type: Option<&str>) -> Value {
    let doc = expect(r, status);
    assert_eq!(doc["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!(doc["status"], json!(status.as_u16().to_string()), "status is a string");
    assert_eq!(doc["scimType"].as_str(), scim_type, "{doc}");
    assert!(doc["detail"].is_string());
    doc
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": list})
}

async fn me(app: &TestApp, cookie: &str) -> StatusCode {
    app.call(Method::GET, "/api/v1/me", Auth::Cookie(cookie), None)
        .await
        .status
}

async fn stored(app: &TestApp, id: &str) -> keyfleet_domain::user::User {
    app.state
        .stores
        .users
        .get_user(id.parse().unwrap())
        .await
        .unwrap()
        .expect("stored")
}

/// Microsoft's "Develop a sample SCIM endpoint" request sequence (Entra ID provisioning):
/// the filtered lookup, create, update through value-filter paths and string booleans, the
/// manager reference, group creation and membership changes, deactivation, deletion.
async fn entra_provisioning_sequence(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    let path = "/scim/v2/Users?filter=userName+eq+%22Test_User_ab6490ee%40contoso.com%22";
    let r = scim(&app, Method::GET, path, &t, None).await;
    assert_eq!(expect(&r, StatusCode::OK)["totalResults"], 0);

    let manager = app.user("manager", Role::Worker).await;
    let create = json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee@contoso.com",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@contoso.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    });
    let r = scim(&app, Method::POST, "/scim/v2/Users", &t, Some(create)).await;
    let created = expect(&r, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.headers[header::LOCATION],
        format!("http://localhost:8080/scim/v2/Users/{id}")
    );
    assert_eq!(
        r.headers[header::ETAG].to_str().unwrap(),
        created["meta"]["version"].as_str().unwrap()
    );
    assert_eq!(created["userName"], "test_user_ab6490ee@contoso.com");
    assert!(created.get("displayName").is_none(), "Entra left it unstated");
    assert_eq!(created["active"], true);
    let user = stored(&app, &id).await;
    assert_eq!(user.display_name, "givenName familyName", "keyfleet's own from name");
    assert_eq!(user.email, "Test_User_fd0ea19b@contoso.com");
    assert_eq!(user.role, Role::Worker);

    let r = scim(&app, Method::GET, path, &t, None).await;
    let found = expect(&r, StatusCode::OK);
    assert_eq!(
        (found["totalResults"].clone(), found["Resources"][0]["id"].clone()),
        (json!(1), json!(id))
    );

    // Update: value-filter paths, a path-less replace with path keys, the manager by id.
    let update = ops(json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Add", "path": "addresses[type eq \"work\"].formatted", "value": "1 Main Street\nLeeds"},
        {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager.id.to_string()},
        {"op": "Replace", "value": {"displayName": "Updated Name"}},
    ]));
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Users/{id}"), &t, Some(update)).await;
    let patched = expect(&r, StatusCode::OK);
    assert_eq!(patched["name"]["familyName"], "updatedFamilyName");
    assert_eq!(patched[ENTERPRISE]["manager"]["value"], json!(manager.id.to_string()));
    let user = stored(&app, &id).await;
    assert_eq!(user.email, "updatedEmail@contoso.com");
    assert_eq!(user.display_name, "Updated Name");
    assert_eq!(
        user.manager_email.as_deref(),
        Some("manager@example.com"),
        "the manager's email"
    );
    assert_eq!(user.shipping_address.as_deref(), Some("1 Main Street\nLeeds"));

    // Group with a member, then the member removed the way Entra removes them.
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName", "meta": {"resourceType": "Group"}});
    let r = scim(&app, Method::POST, "/scim/v2/Groups", &t, Some(group)).await;
    let gid = expect(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    // A group rule on it: its joiners are ordered a key an administrator approves.
    let s = app.bearer(&["shipments"]).await;
    let body = json!({"groupId": gid, "model": "nfc-key"});
    let r = app
        .call(Method::POST, "/api/v1/group-rules", Auth::Bearer(&s), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let add = ops(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": id}]}]));
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{gid}"), &t, Some(add)).await;
    assert_eq!(expect(&r, StatusCode::OK)["members"][0]["value"], json!(id));
    let orders = |s: String| {
        let app = &app;
        let path = format!("/api/v1/shipments?user={id}");
        async move { app.call(Method::GET, &path, Auth::Bearer(&s), None).await.json() }
    };
    let placed = orders(s.clone()).await;
    assert_eq!(
        (placed[0]["state"].clone(), placed[0]["model"].clone()),
        (json!("pendingApproval"), json!("nfc-key"))
    );
    let g: keyfleet_domain::GroupId = gid.parse().unwrap();
    assert_eq!(app.state.stores.groups.list_members(g).await.unwrap().len(), 1);
    let r = scim(&app, Method::GET, &format!("/scim/v2/Users/{id}"), &t, None).await;
    assert_eq!(expect(&r, StatusCode::OK)["groups"][0]["value"], json!(gid));
    let remove = ops(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": id}]}]));
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{gid}"), &t, Some(remove)).await;
    expect(&r, StatusCode::OK);
    assert!(app.state.stores.groups.list_members(g).await.unwrap().is_empty());
    assert_eq!(
        orders(s.clone()).await[0]["state"],
        "cancelled",
        "the leaver's order is cancelled"
    );

    // Deactivation with Entra's string boolean ends the user's sessions at once.
    let cookie = app.full_session(&user).await;
    assert_eq!(me(&app, &cookie).await, StatusCode::OK);
    let off = ops(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Users/{id}"), &t, Some(off)).await;
    assert_eq!(expect(&r, StatusCode::OK)["active"], false);
    assert!(!stored(&app, &id).await.enabled);
    assert_eq!(me(&app, &cookie).await, StatusCode::UNAUTHORIZED, "the session ended");
    let on = ops(json!([{"op": "Replace", "path": "active", "value": "True"}]));
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Users/{id}"), &t, Some(on)).await;
    assert_eq!(expect(&r, StatusCode::OK)["active"], true);
    assert!(stored(&app, &id).await.enabled, "reactivated");

    let r = scim(&app, Method::DELETE, &format!("/scim/v2/Users/{id}"), &t, None).await;
    expect(&r, StatusCode::NO_CONTENT);
    let r = scim(&app, Method::GET, &format!("/scim/v2/Users/{id}"), &t, None).await;
    expect_error(&r, StatusCode::NOT_FOUND, None);

    // Every change was audited with the client as actor.
    let events = app
        .state
        .stores
        .audit
        .list(&keyfleet_domain::audit::AuditQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let by_client: Vec<&str> = events
        .iter()
        .filter(|e| e.actor.starts_with("client:"))
        .map(|e| e.action.as_str())
        .collect();
    for action in [
        "user.create",
        "user.update",
        "group.create",
        "group.member.add",
        "group.member.remove",
        "user.disable",
        "user.enable",
        "user.directory_delete",
    ] {
        assert!(
            by_client.contains(&action),
            "{action} audited with the client as actor: {by_client:?}"
        );
    }
}

/// Okta's documented SCIM 2.0 sequence: lookup with paging parameters, create, read,
/// replace with PUT, deactivate with a path-less replace, groups with member add and
/// `members[value eq …]` removal, rename with a path-less replace carrying the id.
async fn okta_provisioning_sequence(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    let r = scim(
        &app,
        Method::GET,
        "/scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
        &t,
        None,
    )
    .await;
    let empty = expect(&r, StatusCode::OK);
    assert_eq!(
        (empty["totalResults"].clone(), empty["Resources"].clone()),
        (json!(0), json!([]))
    );
    let create = json!({
        "schemas": [USER],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true,
    });
    let r = scim(&app, Method::POST, "/scim/v2/Users", &t, Some(create.clone())).await;
    let id = expect(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let r = scim(&app, Method::GET, &format!("/scim/v2/Users/{id}"), &t, None).await;
    let mut doc = expect(&r, StatusCode::OK);
    assert_eq!(doc["externalId"], "00ujl29u0le5T6Aj10h7");
    assert!(doc.get("password").is_none(), "a password is never kept");

    doc["name"]["familyName"] = json!("Changed");
    doc["displayName"] = json!("Test Changed");
    let r = scim(&app, Method::PUT, &format!("/scim/v2/Users/{id}"), &t, Some(doc)).await;
    assert_eq!(expect(&r, StatusCode::OK)["name"]["familyName"], "Changed");
    assert_eq!(stored(&app, &id).await.display_name, "Test Changed");

    let user = stored(&app, &id).await;
    let cookie = app.full_session(&user).await;
    let off = ops(json!([{"op": "replace", "value": {"active": false}}]));
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Users/{id}"), &t, Some(off)).await;
    assert_eq!(expect(&r, StatusCode::OK)["active"], false);
    assert_eq!(me(&app, &cookie).await, StatusCode::UNAUTHORIZED);

    let other = app.user("other", Role::Worker).await;
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Test SCIMv2", "members": [{"value": id, "display": "test.user@okta.local"}]});
    let r = scim(&app, Method::POST, "/scim/v2/Groups", &t, Some(group)).await;
    let created = expect(&r, StatusCode::CREATED);
    let gid = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["members"].as_array().unwrap().len(), 1);
    let r = scim(
        &app,
        Method::GET,
        "/scim/v2/Groups?filter=displayName%20eq%20%22test%20scimv2%22&excludedAttributes=members",
        &t,
        None,
    )
    .await;
    let found = expect(&r, StatusCode::OK);
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());
    let change = ops(json!([
        {"op": "remove", "path": format!("members[value eq \"{id}\"]")},
        {"op": "add", "path": "members", "value": [{"value": other.id.to_string(), "display": "other"}]},
        {"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2 renamed"}},
    ]));
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{gid}"), &t, Some(change)).await;
    let g = expect(&r, StatusCode::OK);
    assert_eq!(g["displayName"], "Test SCIMv2 renamed");
    assert_eq!(
        g["members"],
        json!([{"value": other.id.to_string(), "$ref": format!("http://localhost:8080/scim/v2/Users/{}", other.id)}])
    );
    let r = scim(&app, Method::DELETE, &format!("/scim/v2/Groups/{gid}"), &t, None).await;
    expect(&r, StatusCode::NO_CONTENT);
    assert!(
        app.state
            .stores
            .groups
            .get_group(gid.parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// A userName another user holds, an externalId reused, a group name taken: 409
/// `uniqueness`, and nothing changes (no row, no audit event).
async fn conflicts_are_refused_and_change_nothing(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    let mk = |name: &str, ext: &str| json!({"schemas": [USER], "userName": name, "externalId": ext, "emails": [{"value": format!("{name}@example.com"), "type": "work"}]});
    let r = scim(&app, Method::POST, "/scim/v2/Users", &t, Some(mk("ada", "e-1"))).await;
    let ada = expect(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let r = scim(&app, Method::POST, "/scim/v2/Users", &t, Some(mk("bob", "e-2"))).await;
    let bob = expect(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let (users, audits) = (app.user_count().await, app.audit_count().await);
    let bob_before = stored(&app, &bob).await;

    let r = scim(&app, Method::POST, "/scim/v2/Users", &t, Some(mk("ADA", "e-3"))).await;
    expect_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    let r = scim(&app, Method::POST, "/scim/v2/Users", &t, Some(mk("carol", "e-1"))).await;
    expect_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    let rename = ops(json!([{"op": "replace", "path": "userName", "value": "Ada"}]));
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Users/{bob}"), &t, Some(rename)).await;
    expect_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    let reuse = ops(
        json!([{"op": "replace", "path": "externalId", "value": "e-1"}, {"op": "replace", "path": "displayName", "value": "Changed"}]),
    );
    let r = scim(&app, Method::PATCH, &format!("/scim/v2/Users/{bob}"), &t, Some(reuse)).await;
    expect_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(app.user_count().await, users);
    assert_eq!(app.audit_count().await, audits, "a refused change writes nothing");
    assert_eq!(stored(&app, &bob).await, bob_before);
    let _ = ada;

    let g = json!({"displayName": "Ops"});
    let r = scim(&app, Method::POST, "/scim/v2/Groups", &t, Some(g)).await;
    expect(&r, StatusCode::CREATED);
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Groups",
        &t,
        Some(json!({"displayName": "OPS"})),
    )
    .await;
    expect_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(app.state.stores.groups.list_groups().await.unwrap().len(), 1);
}

/// Malformed bodies, filters and paths get 400 with their `scimType` and change nothing.
async fn bad_requests_get_scim_errors(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        &t,
        Some(json!({"userName": "ada", "emails": [{"value": "ada@example.com"}]})),
    )
    .await;
    let id = expect(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let (users, audits) = (app.user_count().await, app.audit_count().await);
    let before = stored(&app, &id).await;
    let user_path = format!("/scim/v2/Users/{id}");
    let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::GET,
            "/scim/v2/Users?filter=userName%20eq".into(),
            None,
            "invalidFilter",
        ),
        (
            Method::GET,
            "/scim/v2/Users?filter=title%20pr".into(),
            None,
            "invalidFilter",
        ),
        (
            Method::GET,
            "/scim/v2/Users?filter=userName%20eq%20%22a%22%20and".into(),
            None,
            "invalidFilter",
        ),
        (Method::GET, "/scim/v2/Users?count=many".into(), None, "invalidValue"),
        (
            Method::GET,
            "/scim/v2/Groups?filter=members%5Bdisplay%20eq%20%22x%22%5D".into(),
            None,
            "invalidFilter",
        ),
        (
            Method::POST,
            "/scim/v2/Users".into(),
            Some(json!({"displayName": "no userName"})),
            "invalidValue",
        ),
        (
            Method::POST,
            "/scim/v2/Users".into(),
            Some(json!({"userName": "bad name!", "emails": [{"value": "a@b.example"}]})),
            "invalidValue",
        ),
        (
            Method::POST,
            "/scim/v2/Users".into(),
            Some(json!({"userName": "badmail", "emails": [{"value": "not an address"}]})),
            "invalidValue",
        ),
        (
            Method::POST,
            "/scim/v2/Users".into(),
            Some(json!({"userName": "x@y.example", "active": "perhaps"})),
            "invalidValue",
        ),
        (
            Method::POST,
            "/scim/v2/Users".into(),
            Some(json!({"userName": "x@y.example", "displayName": "a\u{202e}b"})),
            "invalidValue",
        ),
        (
            Method::POST,
            "/scim/v2/Users".into(),
            Some(json!({"userName": "x@y.example", ENTERPRISE: {"manager": {"value": "not-a-user"}}})),
            "invalidValue",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            Some(json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})),
            "invalidSyntax",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            Some(ops(json!([{"op": "remove"}]))),
            "noTarget",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            Some(ops(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]))),
            "invalidPath",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            Some(ops(json!([{"op": "replace", "path": "id", "value": "x"}]))),
            "mutability",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            Some(ops(json!([{"op": "replace", "path": "active", "value": "nope"}]))),
            "invalidValue",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            Some(ops(json!([{"op": "remove", "path": "userName"}]))),
            "invalidValue",
        ),
    ];
    for (method, path, body, scim_type) in cases {
        let r = scim(&app, method.clone(), &path, &t, body.clone()).await;
        expect_error(&r, StatusCode::BAD_REQUEST, Some(scim_type));
    }
    let req = Request::builder()
        .method(Method::POST)
        .uri("/scim/v2/Users")
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header(header::CONTENT_TYPE, "application/scim+json")
        .body(Body::from("{not json"))
        .unwrap();
    expect_error(&app.send(req).await, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let r = scim(&app, Method::GET, "/scim/v2/Users/not-an-id", &t, None).await;
    expect_error(&r, StatusCode::NOT_FOUND, None);
    assert_eq!((app.user_count().await, app.audit_count().await), (users, audits));
    assert_eq!(stored(&app, &id).await, before);
}

/// Without a token 401, without the scope 403 (audited), both in SCIM's shape; a client
/// changes workers only.
async fn access_needs_the_scim_scope(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let r = app.call(Method::GET, "/scim/v2/Users", Auth::None, None).await;
    expect_error(&r, StatusCode::UNAUTHORIZED, None);
    let wrong = app.bearer(&["users:write"]).await;
    let r = scim(&app, Method::GET, "/scim/v2/Users", &wrong, None).await;
    expect_error(&r, StatusCode::FORBIDDEN, None);
    let t = app.bearer(&["scim"]).await;
    let admin = app.user("boss", Role::Admin).await;
    let off = ops(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = scim(
        &app,
        Method::PATCH,
        &format!("/scim/v2/Users/{}", admin.id),
        &t,
        Some(off),
    )
    .await;
    expect_error(&r, StatusCode::FORBIDDEN, None);
    assert!(stored(&app, &admin.id.to_string()).await.enabled);
    let r = scim(&app, Method::DELETE, &format!("/scim/v2/Users/{}", admin.id), &t, None).await;
    expect_error(&r, StatusCode::FORBIDDEN, None);
    let denied = app
        .state
        .stores
        .audit
        .list(&keyfleet_domain::audit::AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "access.denied")
        .count();
    assert_eq!(denied, 3);
}

/// Filters on the indexed attributes, sorting both ways, `startIndex` and `count`.
async fn lists_filter_sort_and_page(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    for (name, display) in [("cleo", "Zed"), ("ada", "Yan"), ("bob", "Xu")] {
        let doc = json!({"userName": name, "displayName": display, "externalId": format!("x-{name}"), "emails": [{"value": format!("{name}@corp.example")}]});
        expect(
            &scim(&app, Method::POST, "/scim/v2/Users", &t, Some(doc)).await,
            StatusCode::CREATED,
        );
    }
    let names = |doc: &Value| -> Vec<String> {
        doc["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases = [
        ("filter=userName%20sw%20%22a%22", vec!["ada"]),
        (
            "filter=emails%20co%20%22CORP%22&sortBy=userName",
            vec!["ada", "bob", "cleo"],
        ),
        ("filter=externalId%20eq%20%22x-bob%22", vec!["bob"]),
        (
            "filter=displayName%20eq%20%22zed%22%20or%20userName%20eq%20%22ada%22&sortBy=displayName",
            vec!["ada", "cleo"],
        ),
        (
            "filter=not%20(userName%20eq%20%22ada%22)&sortBy=userName&sortOrder=descending",
            vec!["cleo", "bob"],
        ),
        (
            "filter=emails%5Btype%20eq%20%22work%22%5D.value%20ew%20%22corp.example%22&sortBy=userName&startIndex=2&count=1",
            vec!["bob"],
        ),
        ("filter=active%20eq%20true&sortBy=userName&count=0", vec![]),
    ];
    for (query, expected) in cases {
        let r = scim(&app, Method::GET, &format!("/scim/v2/Users?{query}"), &t, None).await;
        let doc = expect(&r, StatusCode::OK);
        assert_eq!(names(&doc), expected, "{query}");
    }
    let r = scim(
        &app,
        Method::GET,
        "/scim/v2/Users?sortBy=userName&startIndex=2&count=1",
        &t,
        None,
    )
    .await;
    let doc = expect(&r, StatusCode::OK);
    assert_eq!(
        (
            doc["totalResults"].clone(),
            doc["startIndex"].clone(),
            doc["itemsPerPage"].clone()
        ),
        (json!(3), json!(2), json!(1))
    );
    let r = scim(
        &app,
        Method::GET,
        "/scim/v2/Users?filter=userName%20eq%20%22ada%22&attributes=userName",
        &t,
        None,
    )
    .await;
    let doc = expect(&r, StatusCode::OK);
    let first = doc["Resources"][0].as_object().unwrap();
    assert!(first.contains_key("userName") && first.contains_key("id") && !first.contains_key("emails"));
}

/// `If-Match` with a stale version is 412 and changes nothing; with the current one it
/// applies; a change made in the console changes the version.
async fn entity_tags_guard_changes(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        &t,
        Some(json!({"userName": "ada@example.com"})),
    )
    .await;
    let doc = expect(&r, StatusCode::CREATED);
    let (id, v1) = (
        doc["id"].as_str().unwrap().to_owned(),
        doc["meta"]["version"].as_str().unwrap().to_owned(),
    );
    let change = |name: &str| ops(json!([{"op": "replace", "path": "displayName", "value": name}]));
    let send = |etag: String, body: Value| {
        let path = format!("/scim/v2/Users/{id}");
        let t = t.clone();
        async move {
            Request::builder()
                .method(Method::PATCH)
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {t}"))
                .header(header::CONTENT_TYPE, "application/scim+json")
                .header(header::IF_MATCH, etag)
                .body(Body::from(body.to_string()))
                .unwrap()
        }
    };
    let r = app.send(send(v1.clone(), change("First")).await).await;
    let v2 = expect(&r, StatusCode::OK)["meta"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(v1, v2);
    let audits = app.audit_count().await;
    let r = app.send(send(v1, change("Stale")).await).await;
    expect_error(&r, StatusCode::PRECONDITION_FAILED, None);
    assert_eq!(stored(&app, &id).await.display_name, "First");
    assert_eq!(app.audit_count().await, audits);
    // A change made elsewhere changes the version too.
    let update = keyfleet_core::identity::users::UpdateUser {
        display_name: Some("Console".into()),
        ..Default::default()
    };
    keyfleet_core::identity::users::update(
        &app.system(),
        &keyfleet_core::access::Principal::System,
        id.parse().unwrap(),
        update,
    )
    .await
    .unwrap();
    let r = app.send(send(v2, change("Late")).await).await;
    expect_error(&r, StatusCode::PRECONDITION_FAILED, None);
    let r = app.send(send("*".into(), change("Any")).await).await;
    expect(&r, StatusCode::OK);
}

/// A deleted user is disabled and hidden at once, kept for the recovery period, then
/// removed for good by the housekeeping job (audited).
async fn deletion_is_recoverable_then_purged(b: Backend) {
    let app = TestApp::new(b, &[("KEYFLEET_DIRECTORY_RECOVERY_DAYS", "0")]).await;
    let t = app.bearer(&["scim"]).await;
    let r = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        &t,
        Some(json!({"userName": "leaver@example.com"})),
    )
    .await;
    let id = expect(&r, StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let user = stored(&app, &id).await;
    let cookie = app.full_session(&user).await;
    expect(
        &scim(&app, Method::DELETE, &format!("/scim/v2/Users/{id}"), &t, None).await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(me(&app, &cookie).await, StatusCode::UNAUTHORIZED);
    let kept = stored(&app, &id).await;
    assert!(!kept.enabled, "kept, disabled, for the recovery period");
    let r = scim(
        &app,
        Method::GET,
        "/scim/v2/Users?filter=userName%20eq%20%22leaver%40example.com%22",
        &t,
        None,
    )
    .await;
    assert_eq!(expect(&r, StatusCode::OK)["totalResults"], 0);
    expect_error(
        &scim(&app, Method::DELETE, &format!("/scim/v2/Users/{id}"), &t, None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    // The clock moves on; housekeeping purges.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let counts = Job::Housekeeping
        .run_audited(&app.system(), &keyfleet_core::jobs::JobEnv::default())
        .await
        .unwrap();
    assert!(counts.contains(&("deletedUsersPurged", 1)), "{counts:?}");
    assert!(
        app.state
            .stores
            .users
            .get_user(id.parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// The discovery documents name what is supported.
async fn discovery_documents(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let r = app
        .call(Method::GET, "/scim/v2/ServiceProviderConfig", Auth::None, None)
        .await;
    let spc = expect(&r, StatusCode::OK);
    assert_eq!(
        (spc["patch"]["supported"].clone(), spc["bulk"]["supported"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(spc["etag"]["supported"], true);
    let r = app.call(Method::GET, "/scim/v2/Schemas", Auth::None, None).await;
    assert_eq!(expect(&r, StatusCode::OK)["totalResults"], 3);
    let r = app
        .call(Method::GET, &format!("/scim/v2/Schemas/{ENTERPRISE}"), Auth::None, None)
        .await;
    assert_eq!(expect(&r, StatusCode::OK)["attributes"][0]["name"], "manager");
    let r = app
        .call(Method::GET, "/scim/v2/ResourceTypes/User", Auth::None, None)
        .await;
    assert_eq!(expect(&r, StatusCode::OK)["endpoint"], "/Users");
    let r = app
        .call(Method::GET, "/scim/v2/ResourceTypes/Nope", Auth::None, None)
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, None);
    let r = app.call(Method::GET, "/scim/v2/Nothing/here", Auth::None, None).await;
    expect_error(&r, StatusCode::NOT_FOUND, None);
}

/// Deactivation suspends the user's keys (a key cannot sign in, the console shows it
/// suspended); reactivation restores them.
async fn keys_follow_the_lifecycle(b: Backend) {
    use crate::webauthn_kit::{enrolled, sign_in, sign_in_options, sign_in_verify};
    let app = TestApp::new(b, &[]).await;
    let t = app.bearer(&["scim"]).await;
    let (user, _, mut key) = enrolled(&app, "kim").await;
    sign_in(&app, Some("kim"), &mut key).await;
    let admin = app.user("root", Role::Admin).await;
    let admin_cookie = app.full_session(&admin).await;
    let page_path = format!("/admin/users/{}", user.id);
    let badge = "<span class=\"badge warn\">Suspended: user disabled</span>";
    assert!(!admin_page(&app, &page_path, &admin_cookie).await.contains(badge));

    let path = format!("/scim/v2/Users/{}", user.id);
    let off = ops(json!([{"op": "replace", "path": "active", "value": false}]));
    expect(&scim(&app, Method::PATCH, &path, &t, Some(off)).await, StatusCode::OK);
    // With the username the server offers none of a disabled user's keys; without one (a
    // discoverable credential) the assertion is refused.
    let c = sign_in_options(&app, Some("kim")).await;
    assert!(
        key.sign_in(&c.options, crate::harness::ORIGIN).is_err(),
        "no key of kim is offered"
    );
    let c = sign_in_options(&app, None).await;
    if let Ok(cred) = key.sign_in(&c.options, crate::harness::ORIGIN) {
        let r = sign_in_verify(&app, &c.id, cred).await;
        assert_ne!(r.status, StatusCode::OK, "a suspended key cannot sign in");
    }
    assert!(
        admin_page(&app, &page_path, &admin_cookie).await.contains(badge),
        "the console shows the key suspended"
    );

    let on = ops(json!([{"op": "replace", "path": "active", "value": true}]));
    expect(&scim(&app, Method::PATCH, &path, &t, Some(on)).await, StatusCode::OK);
    sign_in(&app, Some("kim"), &mut key).await;
    assert!(
        !admin_page(&app, &page_path, &admin_cookie).await.contains(badge),
        "reactivation restores the key"
    );
}

async fn admin_page(app: &TestApp, path: &str, cookie: &str) -> String {
    let r = app.call(Method::GET, path, Auth::Cookie(cookie), None).await;
    String::from_utf8(r.body).unwrap()
}
