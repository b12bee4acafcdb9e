//! The admin console's groups, API clients and audit log pages: what they change in the
//! store, what they audit, who they refuse, and what they never show.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use keyfleet_domain::audit::{AuditQuery, NewAuditEvent};
use keyfleet_domain::user::{Role, User};
use keyfleet_domain::{GroupId, Timestamp};
use keyfleet_server::web::page::csrf_token;

use crate::harness::{Backend, ORIGIN, Resp, TestApp};
use crate::on_both_stores;

on_both_stores!(
    group_create_add_and_remove_member,
    group_delete_after_confirmation,
    duplicate_group_name_is_409_and_keeps_values,
    bad_group_input_is_422_and_keeps_values,
    group_names_are_escaped,
    client_created_on_page_secret_shown_once_and_works,
    client_without_scope_is_422,
    rotate_shows_a_new_working_secret,
    revoke_makes_a_secret_fail,
    disable_enable_and_delete_client,
    helpdesk_is_refused_groups_and_clients,
    audit_is_for_staff_only,
    audit_filters_by_action_prefix_and_actor,
    audit_pages_older_entries_without_overlap,
    audit_bad_filters_are_422_and_times_filter,
    posts_without_csrf_or_origin_are_refused,
);

// ---- helpers ---------------------------------------------------------------------------

async fn admin(app: &TestApp, name: &str) -> (User, String) {
    let user = app.user(name, Role::Admin).await;
    let cookie = app.full_session(&user).await;
    (user, cookie)
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> Resp {
    let req = Request::builder()
        .uri(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    app.send(req).await
}

async fn post_raw(app: &TestApp, cookie: &str, origin: Option<&str>, path: &str, body: String) -> Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        b = b.header(header::ORIGIN, o);
    }
    app.send(b.body(Body::from(body)).unwrap()).await
}

/// A form POST as the page would send it: right Origin, the session's CSRF token.
async fn post(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> Resp {
    let value = cookie.split_once('=').unwrap().1;
    let token = csrf_token(&app.state.csrf_key, Some(value));
    let mut pairs = fields.to_vec();
    pairs.push(("_csrf", &token));
    let body = serde_urlencoded::to_string(pairs).unwrap();
    post_raw(app, cookie, Some(ORIGIN), path, body).await
}

fn html(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn location(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(r));
    r.headers[header::LOCATION].to_str().unwrap().to_owned()
}

/// The text inside the element with this id (no nested tags).
fn element_text(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let open = start + page[start..].find('>').unwrap() + 1;
    let close = open + page[open..].find('<').unwrap();
    page[open..close].trim().to_owned()
}

/// The ids of the audit rows on a page, in order.
fn event_ids(page: &str) -> Vec<i64> {
    page.split("data-event-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// An `href` attribute's value as the browser would read it.
fn href(page: &str, id: &str) -> String {
    let start = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let tag_start = page[..start].rfind('<').unwrap();
    let tag = &page[tag_start..start + page[start..].find('>').unwrap()];
    let h = tag.find("href=\"").unwrap() + 6;
    tag[h..h + tag[h..].find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

async fn audits(app: &TestApp, action: &str) -> Vec<keyfleet_domain::audit::AuditEvent> {
    app.state
        .stores
        .audit
        .list(&AuditQuery {
            action: Some(action.to_owned()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
}

fn group_id_from(location: &str) -> GroupId {
    let rest = location.strip_prefix("/admin/groups/").unwrap();
    rest.split('?').next().unwrap().parse().unwrap()
}

async fn create_group(app: &TestApp, cookie: &str, name: &str) -> GroupId {
    let r = post(app, cookie, "/admin/groups", &[("name", name), ("description", "")]).await;
    group_id_from(&location(&r))
}

/// Creates a client on the page; returns (client_id, secret).
async fn create_client(app: &TestApp, cookie: &str, scopes: &[&str]) -> (String, String) {
    let mut fields = vec![("name", "HR sync")];
    fields.extend(scopes.iter().map(|s| ("scope", *s)));
    let r = post(app, cookie, "/admin/clients", &fields).await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    let page = html(&r);
    (element_text(&page, "client-id"), element_text(&page, "client-secret"))
}

async fn token_status(app: &TestApp, id: &str, secret: &str) -> StatusCode {
    app.token(id, secret, None).await.status
}

// ---- groups ----------------------------------------------------------------------------

async fn group_create_add_and_remove_member(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (root, cookie) = admin(&app, "root").await;
    let wendy = app.user("wendy", Role::Worker).await;
    let r = post(
        &app,
        &cookie,
        "/admin/groups",
        &[("name", " Field Ops "), ("description", "Night shift")],
    )
    .await;
    let loc = location(&r);
    assert!(loc.ends_with("?done=created"), "{loc}");
    let id = group_id_from(&loc);
    let group = app.state.stores.groups.get_group(id).await.unwrap().unwrap();
    assert_eq!(
        (group.name.as_str(), group.description.as_str()),
        ("Field Ops", "Night shift")
    );
    let page = html(&get(&app, &cookie, &loc).await);
    assert!(
        page.contains("The group was created.") && page.contains("no members yet"),
        "{page}"
    );

    let r = post(
        &app,
        &cookie,
        &format!("/admin/groups/{id}/members"),
        &[("username", " Wendy ")],
    )
    .await;
    assert_eq!(location(&r), format!("/admin/groups/{id}?done=added"));
    let members = app.state.stores.groups.list_members(id).await.unwrap();
    assert_eq!(members.iter().map(|u| u.id).collect::<Vec<_>>(), [wendy.id]);
    let page = html(&get(&app, &cookie, &format!("/admin/groups/{id}")).await);
    assert!(page.contains(&format!("data-user-id=\"{}\"", wendy.id)), "{page}");

    let r = post(
        &app,
        &cookie,
        &format!("/admin/groups/{id}/members/{}/remove", wendy.id),
        &[],
    )
    .await;
    assert_eq!(location(&r), format!("/admin/groups/{id}?done=removed"));
    assert!(app.state.stores.groups.list_members(id).await.unwrap().is_empty());

    let actor = format!("user:{}", root.id);
    let target = Some(format!("group:{id}"));
    for action in ["group.create", "group.member.add", "group.member.remove"] {
        let events = audits(&app, action).await;
        assert_eq!(events.len(), 1, "{action}");
        assert_eq!((&events[0].actor, &events[0].target), (&actor, &target), "{action}");
    }
    let added = audits(&app, "group.member.add").await;
    assert!(added[0].detail.as_deref().unwrap().contains(&wendy.id.to_string()));
}

async fn group_delete_after_confirmation(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    let wendy = app.user("wendy", Role::Worker).await;
    let id = create_group(&app, &cookie, "Couriers").await;
    post(
        &app,
        &cookie,
        &format!("/admin/groups/{id}/members"),
        &[("username", "wendy")],
    )
    .await;
    let confirm = get(&app, &cookie, &format!("/admin/groups/{id}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let page = html(&confirm);
    assert!(page.contains("Its 1 member will no longer belong to it."), "{page}");
    assert!(page.contains(&format!("action=\"/admin/groups/{id}/delete\"")));
    // Showing the confirmation changes nothing.
    assert!(app.state.stores.groups.get_group(id).await.unwrap().is_some());
    let r = post(&app, &cookie, &format!("/admin/groups/{id}/delete"), &[]).await;
    assert_eq!(location(&r), "/admin/groups?done=deleted");
    assert!(app.state.stores.groups.get_group(id).await.unwrap().is_none());
    assert!(
        app.state
            .stores
            .groups
            .list_user_groups(wendy.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(audits(&app, "group.delete").await.len(), 1);
    let list = html(&get(&app, &cookie, "/admin/groups?done=deleted").await);
    assert!(
        list.contains("The group was deleted.") && !list.contains("Couriers"),
        "{list}"
    );
    // Deleting again: not found, nothing audited.
    let again = post(&app, &cookie, &format!("/admin/groups/{id}/delete"), &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(audits(&app, "group.delete").await.len(), 1);
}

async fn duplicate_group_name_is_409_and_keeps_values(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    create_group(&app, &cookie, "Field Ops").await;
    let r = post(
        &app,
        &cookie,
        "/admin/groups",
        &[("name", "field ops"), ("description", "second try")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let page = html(&r);
    assert!(
        element_text(&page, "form-error").contains("A group with this name already exists."),
        "{page}"
    );
    assert!(
        page.contains("value=\"field ops\"") && page.contains("value=\"second try\""),
        "{page}"
    );
    assert_eq!(app.state.stores.groups.list_groups().await.unwrap().len(), 1);
    assert_eq!(audits(&app, "group.create").await.len(), 1);
}

async fn bad_group_input_is_422_and_keeps_values(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    let long = "g".repeat(65);
    for (name, description) in [("  ", ""), (long.as_str(), ""), ("Ops", "tab\there")] {
        let r = post(
            &app,
            &cookie,
            "/admin/groups",
            &[("name", name), ("description", description)],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(element_text(&html(&r), "form-error").starts_with("The group was not created."));
    }
    assert!(app.state.stores.groups.list_groups().await.unwrap().is_empty());
    let id = create_group(&app, &cookie, "Ops").await;
    for username in ["nobody", "not a name!"] {
        let r = post(
            &app,
            &cookie,
            &format!("/admin/groups/{id}/members"),
            &[("username", username)],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{username}");
        let page = html(&r);
        assert!(
            element_text(&page, "form-error").contains(&format!("no user with the username “{username}”")),
            "{page}"
        );
        assert!(page.contains(&format!("value=\"{username}\"")), "{page}");
    }
    assert!(app.state.stores.groups.list_members(id).await.unwrap().is_empty());
    assert!(audits(&app, "group.member.").await.is_empty());
    // An unknown or malformed group id is simply not found.
    for path in [
        "/admin/groups/nope",
        &format!("/admin/groups/{}", GroupId::new_random(&mut rand_core::OsRng)),
    ] {
        assert_eq!(get(&app, &cookie, path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

async fn group_names_are_escaped(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    let name = "<script>alert(1)</script>";
    let id = create_group(&app, &cookie, name).await;
    for path in [
        "/admin/groups".to_owned(),
        format!("/admin/groups/{id}"),
        format!("/admin/groups/{id}/delete"),
        "/admin/audit?action=group.create".to_owned(),
    ] {
        let r = get(&app, &cookie, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let page = html(&r);
        assert!(!page.contains("<script>alert"), "{path}: {page}");
        assert!(
            page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}: {page}"
        );
        let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}");
    }
}

// ---- API clients -----------------------------------------------------------------------

async fn client_created_on_page_secret_shown_once_and_works(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (root, cookie) = admin(&app, "root").await;
    let r = post(
        &app,
        &cookie,
        "/admin/clients",
        &[("name", "HR sync"), ("scope", "users:read"), ("scope", "audit:read")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let page = html(&r);
    assert!(page.contains("It is not shown again."), "{page}");
    let id = element_text(&page, "client-id");
    let secret = element_text(&page, "client-secret");
    assert!(id.starts_with("kfc_") && secret.starts_with("kfs_"), "{id} {secret}");

    let client = app.state.stores.clients.get_client(&id).await.unwrap().unwrap();
    let scopes: Vec<&str> = client.scopes.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        (client.name.as_str(), scopes),
        ("HR sync", vec!["users:read", "audit:read"])
    );
    let t = app.token(&id, &secret, None).await;
    assert_eq!(t.status, StatusCode::OK, "{}", html(&t));
    assert_eq!(t.json()["scope"], "users:read audit:read");

    let created = audits(&app, "client.create").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].actor, format!("user:{}", root.id));
    assert!(!created[0].detail.as_deref().unwrap().contains(&secret));
    // The secret is on no other page.
    for path in [
        "/admin/clients".to_owned(),
        format!("/admin/clients/{id}"),
        "/admin/audit".to_owned(),
    ] {
        let r = get(&app, &cookie, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let page = html(&r);
        assert!(page.contains(&id), "{path}");
        assert!(!page.contains(&secret) && !page.contains("argon2"), "{path}: {page}");
    }
}

async fn client_without_scope_is_422(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    let r = post(&app, &cookie, "/admin/clients", &[("name", "Lonely")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = html(&r);
    assert!(
        element_text(&page, "form-error").contains("A client needs at least one scope."),
        "{page}"
    );
    assert!(page.contains("value=\"Lonely\""));
    let r = post(&app, &cookie, "/admin/clients", &[("name", ""), ("scope", "shipments")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The ticked box stays ticked.
    assert!(html(&r).contains("value=\"shipments\" checked"), "{}", html(&r));
    let r = post(&app, &cookie, "/admin/clients", &[("name", "Evil"), ("scope", "admin")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.state.stores.clients.list_clients().await.unwrap().is_empty());
}

async fn rotate_shows_a_new_working_secret(b: Backend) {
    let app = TestApp::new(b, &[("KEYFLEET_CLIENT_SECRET_PHASE_OUT_MINUTES", "90")]).await;
    let (_, cookie) = admin(&app, "root").await;
    let (id, old) = create_client(&app, &cookie, &["users:read"]).await;
    let r = post(&app, &cookie, &format!("/admin/clients/{id}/secrets"), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let page = html(&r);
    let new = element_text(&page, "client-secret");
    assert_eq!(element_text(&page, "client-id"), id);
    assert!(new.starts_with("kfs_") && new != old);
    assert!(page.contains("keeps working for 90 minutes"), "{page}");
    assert_eq!(token_status(&app, &id, &old).await, StatusCode::OK);
    assert_eq!(token_status(&app, &id, &new).await, StatusCode::OK);
    assert_eq!(audits(&app, "client.secret.add").await.len(), 1);
    assert_eq!(audits(&app, "client.secret.phase_out").await.len(), 1);
    // A third secret is refused while two exist; the page says why.
    let r = post(&app, &cookie, &format!("/admin/clients/{id}/secrets"), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(element_text(&html(&r), "page-error").contains("revoke one first"));
    assert_eq!(app.state.stores.clients.list_secrets(&id).await.unwrap().len(), 2);
    let detail = html(&get(&app, &cookie, &format!("/admin/clients/{id}")).await);
    assert!(!detail.contains(&old) && !detail.contains(&new));
    assert_eq!(detail.matches("data-secret-id=").count(), 2);
}

async fn revoke_makes_a_secret_fail(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    let (id, old) = create_client(&app, &cookie, &["users:read"]).await;
    let page = html(&post(&app, &cookie, &format!("/admin/clients/{id}/secrets"), &[]).await);
    let new = element_text(&page, "client-secret");
    let secrets = app.state.stores.clients.list_secrets(&id).await.unwrap();
    let old_id = secrets.iter().find(|s| s.expires_at.is_some()).unwrap().id;
    let path = format!("/admin/clients/{id}/secrets/{old_id}/revoke");
    let confirm = get(&app, &cookie, &path).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(html(&confirm).contains("Revoke the secret"));
    assert_eq!(token_status(&app, &id, &old).await, StatusCode::OK);
    let r = post(&app, &cookie, &path, &[]).await;
    assert_eq!(location(&r), format!("/admin/clients/{id}?done=revoked"));
    assert_eq!(token_status(&app, &id, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(token_status(&app, &id, &new).await, StatusCode::OK);
    let revoked = audits(&app, "client.secret.revoke").await;
    assert_eq!(revoked.len(), 1);
    assert!(revoked[0].detail.as_deref().unwrap().contains(&old_id.to_string()));
    // Revoking the last working secret is said plainly before it happens.
    let last = app.state.stores.clients.list_secrets(&id).await.unwrap()[0].id;
    let page = html(&get(&app, &cookie, &format!("/admin/clients/{id}/secrets/{last}/revoke")).await);
    assert!(page.contains("This is the client's only working secret."), "{page}");
}

async fn disable_enable_and_delete_client(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    let (id, secret) = create_client(&app, &cookie, &["users:read"]).await;
    let r = post(
        &app,
        &cookie,
        &format!("/admin/clients/{id}/enabled"),
        &[("enabled", "false")],
    )
    .await;
    assert_eq!(location(&r), format!("/admin/clients/{id}?done=disabled"));
    assert_eq!(token_status(&app, &id, &secret).await, StatusCode::UNAUTHORIZED);
    assert!(html(&get(&app, &cookie, &format!("/admin/clients/{id}")).await).contains("id=\"enable-client\""));
    let r = post(
        &app,
        &cookie,
        &format!("/admin/clients/{id}/enabled"),
        &[("enabled", "true")],
    )
    .await;
    assert_eq!(location(&r), format!("/admin/clients/{id}?done=enabled"));
    assert_eq!(token_status(&app, &id, &secret).await, StatusCode::OK);
    let r = post(
        &app,
        &cookie,
        &format!("/admin/clients/{id}/enabled"),
        &[("enabled", "maybe")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let confirm = get(&app, &cookie, &format!("/admin/clients/{id}/delete")).await;
    assert!(html(&confirm).contains("Delete the client"));
    let r = post(&app, &cookie, &format!("/admin/clients/{id}/delete"), &[]).await;
    assert_eq!(location(&r), "/admin/clients?done=deleted");
    assert!(app.state.stores.clients.get_client(&id).await.unwrap().is_none());
    assert_eq!(token_status(&app, &id, &secret).await, StatusCode::UNAUTHORIZED);
    for action in ["client.disable", "client.enable", "client.delete"] {
        let events = audits(&app, action).await;
        assert_eq!(events.len(), 1, "{action}");
        assert_eq!(events[0].target, Some(format!("client:{id}")), "{action}");
    }
    let gone = get(&app, &cookie, &format!("/admin/clients/{id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

// ---- who may ---------------------------------------------------------------------------

async fn helpdesk_is_refused_groups_and_clients(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin_cookie) = admin(&app, "root").await;
    let gid = create_group(&app, &admin_cookie, "Ops").await;
    let (cid, _) = create_client(&app, &admin_cookie, &["users:read"]).await;
    let secret_id = app.state.stores.clients.list_secrets(&cid).await.unwrap()[0].id;
    app.user("wendy", Role::Worker).await;
    let hal = app.user("hal", Role::Helpdesk).await;
    let hc = app.full_session(&hal).await;
    let before = app.audit_count().await;

    // Groups are readable (read-only, see console_people.rs); changing them is not.
    for path in ["/admin/groups".to_owned(), format!("/admin/groups/{gid}")] {
        let r = get(&app, &hc, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!html(&r).contains("method=\"post\" action=\"/admin/groups"), "{path}");
    }
    let gets = [
        format!("/admin/groups/{gid}/delete"),
        "/admin/clients".to_owned(),
        format!("/admin/clients/{cid}"),
        format!("/admin/clients/{cid}/delete"),
    ];
    let posts: [(String, Vec<(&str, &str)>); 8] = [
        ("/admin/groups".to_owned(), vec![("name", "Mine")]),
        (format!("/admin/groups/{gid}/members"), vec![("username", "wendy")]),
        (format!("/admin/groups/{gid}/delete"), vec![]),
        (
            "/admin/clients".to_owned(),
            vec![("name", "Mine"), ("scope", "users:write")],
        ),
        (format!("/admin/clients/{cid}/secrets"), vec![]),
        (format!("/admin/clients/{cid}/secrets/{secret_id}/revoke"), vec![]),
        (format!("/admin/clients/{cid}/enabled"), vec![("enabled", "false")]),
        (format!("/admin/clients/{cid}/delete"), vec![]),
    ];
    let mut denied = audits(&app, "access.denied").await.len();
    for path in &gets {
        let r = get(&app, &hc, path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(html(&r).contains("only an administrator may"), "{path}");
        denied += 1;
        assert_eq!(audits(&app, "access.denied").await.len(), denied, "{path}");
    }
    for (path, fields) in &posts {
        let r = post(&app, &hc, path, fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        denied += 1;
        assert_eq!(audits(&app, "access.denied").await.len(), denied, "{path}");
    }
    let refusals = audits(&app, "access.denied").await;
    assert!(refusals.iter().all(|e| e.actor == format!("user:{}", hal.id)));
    // Nothing changed: only the refusals were added to the log.
    assert_eq!(app.audit_count().await, before + gets.len() + posts.len());
    assert_eq!(app.state.stores.groups.list_groups().await.unwrap().len(), 1);
    assert!(app.state.stores.groups.list_members(gid).await.unwrap().is_empty());
    let clients = app.state.stores.clients.list_clients().await.unwrap();
    assert_eq!(clients.len(), 1);
    assert!(clients[0].enabled);
    assert_eq!(app.state.stores.clients.list_secrets(&cid).await.unwrap().len(), 1);
    // The navigation does not offer the clients either (groups it does: they are readable).
    let page = html(&get(&app, &hc, "/admin/audit").await);
    assert!(page.contains("href=\"/admin/groups\"") && !page.contains("href=\"/admin/clients\""));
}

async fn audit_is_for_staff_only(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let worker = app.user("wendy", Role::Worker).await;
    let wc = app.full_session(&worker).await;
    let r = get(&app, &wc, "/admin/audit").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let denied = audits(&app, "access.denied").await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].actor, format!("user:{}", worker.id));
    assert!(!html(&r).contains("data-event-id"));
    // A TAP session is refused too, even for an administrator-to-be.
    let (_, tap_cookie) = app.tap_session("newbie").await;
    assert_eq!(
        get(&app, &tap_cookie, "/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );
    // Nobody signed in is sent to sign in.
    let r = app
        .send(
            Request::builder()
                .uri("/admin/audit?action=tap.")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/login?next=")
    );
    // Helpdesk users read the log.
    let hal = app.user("hal", Role::Helpdesk).await;
    let hc = app.full_session(&hal).await;
    let r = get(&app, &hc, "/admin/audit").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!event_ids(&html(&r)).is_empty());
}

// ---- audit log -------------------------------------------------------------------------

async fn audit_filters_by_action_prefix_and_actor(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, ann_cookie) = admin(&app, "ann").await;
    let (bob, bob_cookie) = admin(&app, "bob").await;
    create_group(&app, &ann_cookie, "Ops").await;
    let gid = create_group(&app, &bob_cookie, "Couriers").await;
    create_client(&app, &bob_cookie, &["users:read"]).await;

    let page = html(&get(&app, &ann_cookie, "/admin/audit?action=group.").await);
    let ids = event_ids(&page);
    assert_eq!(ids.len(), 2, "{page}");
    assert_eq!(page.matches("data-action=\"group.create\"").count(), 2);
    assert!(!page.contains("data-action=\"client.create\""));
    assert!(page.contains("value=\"group.\""), "the filter stays on the form");
    // An action that is not a prefix is exact: `group` matches nothing.
    let none = html(&get(&app, &ann_cookie, "/admin/audit?action=group").await);
    assert!(event_ids(&none).is_empty() && none.contains("No entries match these filters."));

    // Actor and target values are links that filter by them, percent-encoded.
    let actor = format!("user:{}", bob.id);
    let link = format!("href=\"/admin/audit?actor=user%3A{}\"", bob.id);
    assert!(page.contains(&link), "{page}");
    assert!(page.contains(&format!("href=\"/admin/audit?target=group%3A{gid}\"")));
    let by_bob = html(&get(&app, &ann_cookie, &format!("/admin/audit?actor=user%3A{}", bob.id)).await);
    let shown = event_ids(&by_bob);
    let expected: Vec<i64> = app
        .state
        .stores
        .audit
        .list(&AuditQuery {
            actor: Some(actor.clone()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(shown, expected);
    assert_eq!(shown.len(), 2, "bob created a group and a client: {by_bob}");
    let by_target = html(&get(&app, &ann_cookie, &format!("/admin/audit?target=group%3A{gid}")).await);
    assert_eq!(event_ids(&by_target).len(), 1);
    assert!(by_target.contains("Couriers"));
}

async fn audit_pages_older_entries_without_overlap(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    let now = app.state.now();
    for i in 0..60 {
        let e = NewAuditEvent::new(
            now,
            &keyfleet_domain::audit::Actor::System,
            keyfleet_domain::audit::Action::JobRun,
            None,
            None,
        )
        .with_detail(format!("{{\"n\":{i}}}"));
        app.state.stores.audit.append(&e).await.unwrap();
    }
    let first = html(&get(&app, &cookie, "/admin/audit?action=job.").await);
    let p1 = event_ids(&first);
    assert_eq!(p1.len(), 50);
    assert!(p1.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert!(!first.contains("id=\"newest\""));
    let older = href(&first, "older");
    assert_eq!(older, format!("/admin/audit?action=job.&before={}", p1[49]));
    let second = html(&get(&app, &cookie, &older).await);
    let p2 = event_ids(&second);
    assert_eq!(p2.len(), 10, "{second}");
    assert!(p2.iter().all(|id| *id < p1[49]), "no overlap");
    assert!(!second.contains("id=\"older\""));
    assert_eq!(href(&second, "newest"), "/admin/audit?action=job.");
    let mut all: Vec<i64> = p1.iter().chain(&p2).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 60);
    // Without the filter, the other entries page too.
    let unfiltered = html(&get(&app, &cookie, "/admin/audit").await);
    assert!(href(&unfiltered, "older").starts_with("/admin/audit?before="));
}

async fn audit_bad_filters_are_422_and_times_filter(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    for (query, says) in [
        ("from=yesterday", "“From” is not a time"),
        ("to=2026-02-30T10:00", "“To” is not a time"),
        ("from=2026-01-02T00:00&to=2026-01-01T00:00", "earlier than"),
        ("before=abc", "positive whole number"),
        ("actor=a%00b", "printable characters"),
    ] {
        let r = get(&app, &cookie, &format!("/admin/audit?{query}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        let page = html(&r);
        assert!(element_text(&page, "filter-error").contains(says), "{query}: {page}");
        assert!(event_ids(&page).is_empty(), "{query}");
    }
    // The bad value is shown back, escaped.
    let page = html(&get(&app, &cookie, "/admin/audit?from=%3Cb%3E").await);
    assert!(page.contains("&#60;b&#62;") && !page.contains("<b>"), "{page}");

    let at = |ms: i64| Timestamp::from_millis(ms);
    let jan_2021 = 1_609_459_200_000; // 2021-01-01T00:00:00Z
    for (when, n) in [(jan_2021 - 86_400_000, 1), (jan_2021, 2), (jan_2021 + 86_400_000, 3)] {
        let e = NewAuditEvent::new(
            at(when),
            &keyfleet_domain::audit::Actor::System,
            keyfleet_domain::audit::Action::JobRun,
            None,
            None,
        )
        .with_detail(format!("{{\"n\":{n}}}"));
        app.state.stores.audit.append(&e).await.unwrap();
    }
    let ids_for = |q: &'static str| {
        let (app, cookie) = (&app, &cookie);
        async move {
            let r = get(app, cookie, q).await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", html(&r));
            event_ids(&html(&r)).len()
        }
    };
    // datetime-local values are UTC; "to" is not included.
    assert_eq!(ids_for("/admin/audit?action=job.&from=2021-01-01T00%3A00").await, 2);
    assert_eq!(ids_for("/admin/audit?action=job.&to=2021-01-01T00%3A00").await, 1);
    assert_eq!(
        ids_for("/admin/audit?action=job.&from=2020-12-31T12%3A00%3A00&to=2021-01-01T12%3A00").await,
        1
    );
    // RFC 3339 with an offset, shown back on the form as UTC.
    let r = get(
        &app,
        &cookie,
        "/admin/audit?action=job.&from=2021-01-01T01%3A00%3A00%2B01%3A00",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = html(&r);
    assert_eq!(event_ids(&page).len(), 2);
    assert!(page.contains("value=\"2021-01-01T00:00\""), "{page}");
    // Empty fields from the form are no filter at all.
    assert_eq!(ids_for("/admin/audit?actor=&target=&action=job.&from=&to=").await, 3);
}

async fn posts_without_csrf_or_origin_are_refused(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = admin(&app, "root").await;
    let value = cookie.split_once('=').unwrap().1;
    let token = csrf_token(&app.state.csrf_key, Some(value));
    let cases = [
        (Some(ORIGIN), "name=NoToken".to_owned()),
        (Some(ORIGIN), "name=BadToken&_csrf=nope".to_owned()),
        (None, format!("name=NoOrigin&_csrf={token}")),
        (Some("https://evil.example"), format!("name=Evil&_csrf={token}")),
    ];
    for (origin, body) in cases {
        let r = post_raw(&app, &cookie, origin, "/admin/groups", body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}");
        assert!(html(&r).contains("This form could not be sent"), "{body}");
    }
    // The same for a client: no secret is made.
    let r = post_raw(
        &app,
        &cookie,
        Some(ORIGIN),
        "/admin/clients",
        "name=x&scope=users%3Aread".into(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(app.state.stores.groups.list_groups().await.unwrap().is_empty());
    assert!(app.state.stores.clients.list_clients().await.unwrap().is_empty());
    // Every form on the pages carries the token.
    create_group(&app, &cookie, "Ops").await;
    for path in ["/admin/groups", "/admin/clients"] {
        let page = html(&get(&app, &cookie, path).await);
        let forms = page.matches("method=\"post\"").count();
        let tokens = page.matches(&format!("name=\"_csrf\" value=\"{token}\"")).count();
        assert!(forms >= 2 && forms == tokens, "{path}: {forms} forms, {tokens} tokens");
    }
}
