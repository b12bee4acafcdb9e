//! The admin console's user pages (`/admin/users…`), through the real router on both stores:
//! creating, searching and paging users; a user's keys, temporary access pass, groups and
//! sessions; what helpdesk users may and may not do (each refusal a 403 page with an
//! `access.denied` entry and nothing changed); ids that are not found; output escaping; and
//! the CSRF defence of the forms.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use keyfleet_domain::UserId;
use keyfleet_domain::group::Group;
use keyfleet_domain::user::{Role, User};
use keyfleet_server::web::page::csrf_token;
use keyfleet_webauthn_testkey::{TestKey, b64};

use crate::harness::{Auth, Backend, ORIGIN, Resp, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit::{audit_actions, register, sign_in};

on_both_stores!(
    admin_creates_a_user_through_the_form,
    create_errors_keep_the_values,
    search_by_email_and_page_by_username,
    workers_are_refused_the_console,
    admin_issues_a_pass_shown_once_that_signs_in,
    pass_lifetime_is_checked_by_the_service,
    user_page_lists_keys_with_model_and_aaguid,
    removing_a_key_ends_its_sessions,
    reset_removes_every_key_and_ends_every_session,
    other_users_keys_and_malformed_ids_are_not_found,
    profile_edits_and_enable_disable,
    ending_all_sessions_and_ending_ones_own,
    helpdesk_manages_workers,
    helpdesk_is_refused_on_administrators_and_helpdesk_users,
    helpdesk_cannot_change_roles_groups_or_delete,
    admin_changes_roles_groups_and_deletes,
    values_are_escaped,
    forms_need_the_token_and_our_origin,
);

// ---------------------------------------------------------------------------------------
// Helpers

pub(crate) fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The page with askama's numeric character references (`&#60;`) written as the named ones
/// (`&lt;`): a browser reads both the same.
fn named_refs(html: &str) -> String {
    html.replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#38;", "&amp;")
        .replace("&#34;", "&quot;")
        .replace("&#39;", "&apos;")
}

pub(crate) fn location(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(r));
    r.headers[header::LOCATION].to_str().unwrap().to_owned()
}

/// The CSRF token the pages put in their forms for this session cookie.
fn csrf(app: &TestApp, cookie: &str) -> String {
    let value = cookie.split_once('=').unwrap().1;
    csrf_token(&app.state.csrf_key, Some(value))
}

pub(crate) async fn get(app: &TestApp, path: &str, cookie: &str) -> Resp {
    let req = Request::builder()
        .uri(path)
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    app.send(req).await
}

/// A form POST as a browser on our page sends it: our Origin, the form's `_csrf` token.
pub(crate) async fn post(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Resp {
    let token = csrf(app, cookie);
    let mut all = vec![("_csrf", token.as_str())];
    all.extend_from_slice(fields);
    post_raw(app, path, cookie, ORIGIN, &all).await
}

async fn post_raw(app: &TestApp, path: &str, cookie: &str, origin: &str, fields: &[(&str, &str)]) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
        .unwrap();
    app.send(req).await
}

pub(crate) async fn stored_user(app: &TestApp, id: UserId) -> Option<User> {
    app.state.stores.users.get_user(id).await.unwrap()
}

pub(crate) async fn denied(app: &TestApp) -> usize {
    audit_actions(app, "access.denied").await.len()
}

pub(crate) async fn live_sessions(app: &TestApp, id: UserId) -> usize {
    app.state
        .stores
        .sessions
        .list_user_sessions(id, app.state.now())
        .await
        .unwrap()
        .len()
}

/// Asserts a 403 page that was audited as `access.denied`.
pub(crate) async fn assert_refused(app: &TestApp, r: &Resp, before: usize) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", text(r));
    assert!(text(r).contains("Not allowed"), "{}", text(r));
    assert_eq!(denied(app).await, before + 1, "the refusal is audited once");
}

/// The text of the element with this id (no nested elements).
pub(crate) fn element(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let open = start + html[start..].find('>')? + 1;
    let close = open + html[open..].find('<')?;
    Some(html[open..close].to_owned())
}

pub(crate) async fn staff(app: &TestApp, username: &str, role: Role) -> (User, String) {
    let u = app.user(username, role).await;
    let cookie = app.full_session(&u).await;
    (u, cookie)
}

pub(crate) async fn group(app: &TestApp, name: &str) -> Group {
    let r = app
        .call(
            Method::POST,
            "/api/v1/groups",
            Auth::Bearer(&app.bearer(&["users:write"]).await),
            Some(serde_json::json!({ "name": name })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
    let id = r.json()["id"].as_str().unwrap().parse().unwrap();
    app.state.stores.groups.get_group(id).await.unwrap().unwrap()
}

async fn member_of(app: &TestApp, user: UserId) -> Vec<String> {
    let groups = app.state.stores.groups.list_user_groups(user).await.unwrap();
    groups.into_iter().map(|g| g.name).collect()
}

/// A worker with one registered key (an NFC model the AAGUID table names) and a full session
/// opened with it: (user, key, full-session cookie).
pub(crate) async fn worker_with_key(app: &TestApp, username: &str) -> (User, TestKey, String) {
    let (user, tap_cookie) = app.tap_session(username).await;
    let mut key = TestKey::from_seed(format!("{username} key").as_bytes());
    key.aaguid = *uuid::Uuid::parse_str(NFC_AAGUID).unwrap().as_bytes();
    key.transports = vec!["nfc".into()];
    register(app, &tap_cookie, &mut key).await;
    let cookie = sign_in(app, Some(username), &mut key).await;
    (user, key, cookie)
}

const NFC_AAGUID: &str = "3559c435-ff17-4bc9-b942-325c1f348b94";

// ---------------------------------------------------------------------------------------
// Tests

async fn admin_creates_a_user_through_the_form(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let form = get(&app, "/admin/users/new", &admin).await;
    assert_eq!(form.status, StatusCode::OK);
    let html = text(&form);
    assert!(html.contains(&format!("name=\"_csrf\" value=\"{}\"", csrf(&app, &admin))));
    assert!(html.contains("<select id=\"role\""), "administrators choose a role");
    let r = post(
        &app,
        "/admin/users/new",
        &admin,
        &[
            ("username", "Nadia.K"),
            ("display_name", "Nadia Kovač"),
            ("email", "nadia@Example.com"),
            ("manager_email", ""),
            ("shipping_address", "1 Quay St\nDublin"),
            ("role", "helpdesk"),
        ],
    )
    .await;
    let to = location(&r);
    let id: UserId = to
        .strip_prefix("/admin/users/")
        .unwrap()
        .strip_suffix("?done=created")
        .unwrap()
        .parse()
        .unwrap();
    let u = stored_user(&app, id).await.expect("created");
    assert_eq!(u.username.as_str(), "nadia.k");
    assert_eq!(u.email, "nadia@example.com");
    assert_eq!(u.manager_email, None);
    assert_eq!(u.shipping_address.as_deref(), Some("1 Quay St\nDublin"));
    assert_eq!(u.role, Role::Helpdesk);
    let audit = audit_actions(&app, "user.create").await;
    assert_eq!(audit[0].target.as_deref(), Some(format!("user:{id}").as_str()));
    let page = text(&get(&app, &to, &admin).await);
    assert_eq!(element(&page, "notice").as_deref(), Some("The user was created."));
    assert!(page.contains("Nadia Kovač"));
}

async fn create_errors_keep_the_values(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    app.user("taken", Role::Worker).await;
    let users = app.user_count().await;
    let fields = |username: &'static str, email: &'static str| {
        [
            ("username", username),
            ("display_name", "Kept Name"),
            ("email", email),
            ("shipping_address", "Kept street"),
        ]
    };
    let r = post(&app, "/admin/users/new", &admin, &fields("newbie", "not-an-email")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&r);
    assert!(
        element(&html, "form-error")
            .unwrap()
            .contains("email is not a valid email address")
    );
    assert!(html.contains("value=\"Kept Name\"") && html.contains("value=\"not-an-email\""));
    assert!(html.contains(">Kept street</textarea>"));
    let r = post(&app, "/admin/users/new", &admin, &fields("TAKEN", "t@example.com")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(element(&text(&r), "form-error").unwrap().contains("already exists"));
    let r = post(
        &app,
        "/admin/users/new",
        &admin,
        &[
            ("username", "x"),
            ("display_name", "X"),
            ("email", "x@example.com"),
            ("role", "owner"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.user_count().await, users, "nothing was created");
}

async fn search_by_email_and_page_by_username(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, helpdesk) = staff(&app, "desk", Role::Helpdesk).await;
    for i in 0..52 {
        app.user(&format!("u{i:02}"), Role::Worker).await;
    }
    // Search by a substring of the email (the harness gives `name@example.com`).
    let r = get(&app, "/admin/users?q=U07%40EXAMPLE", &helpdesk).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = text(&r);
    assert!(html.contains(">u07</a>") && !html.contains(">u08</a>"), "{html}");
    assert!(html.contains("<label for=\"q\">Search users</label>"));
    assert!(html.contains("value=\"U07@EXAMPLE\""), "the search is kept in the box");
    // 53 users by username: desk, u00 … u51. The first page holds 50.
    let html = text(&get(&app, "/admin/users", &helpdesk).await);
    assert_eq!(html.matches("<tr>").count() - 1, 50, "50 rows and the heading row");
    assert!(html.contains(">desk</a>") && html.contains(">u48</a>") && !html.contains(">u49</a>"));
    assert!(html.contains("href=\"/admin/users/new\""));
    assert_eq!(element(&html, "next-page").as_deref(), Some("Next page"));
    assert!(html.contains("href=\"/admin/users?after=u48\""), "{html}");
    let html = text(&get(&app, "/admin/users?after=u48", &helpdesk).await);
    assert!(html.contains(">u49</a>") && html.contains(">u51</a>") && !html.contains(">u48</a>"));
    assert!(!html.contains("id=\"next-page\""), "the last page has no next link");
    // Paging keeps the search.
    let html = text(&get(&app, "/admin/users?q=example.com", &helpdesk).await);
    let html = named_refs(&html);
    assert!(
        html.contains("href=\"/admin/users?q=example.com&amp;after=u48\""),
        "{html}"
    );
}

async fn workers_are_refused_the_console(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (worker, cookie) = staff(&app, "wendy", Role::Worker).await;
    for path in ["/admin/users", &format!("/admin/users/{}", worker.id)] {
        let before = denied(&app).await;
        let r = get(&app, path, &cookie).await;
        assert_refused(&app, &r, before).await;
    }
    let before = denied(&app).await;
    let r = post(
        &app,
        &format!("/admin/users/{}/tap", worker.id),
        &cookie,
        &[("lifetime_minutes", "60")],
    )
    .await;
    assert_refused(&app, &r, before).await;
    assert!(app.state.stores.taps.find_tap(worker.id).await.unwrap().is_none());
    // Nobody signed in goes to sign-in.
    let r = app
        .send(Request::get("/admin/users").body(Body::empty()).unwrap())
        .await;
    assert_eq!(location(&r), "/login?next=%2Fadmin%2Fusers");
}

async fn admin_issues_a_pass_shown_once_that_signs_in(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let worker = app.user("pat", Role::Worker).await;
    let path = format!("/admin/users/{}", worker.id);
    let page = text(&get(&app, &path, &admin).await);
    assert!(page.contains("value=\"60\""), "the default lifetime");
    assert!(element(&page, "no-tap").is_some());
    let r = post(
        &app,
        &format!("{path}/tap"),
        &admin,
        &[("lifetime_minutes", "30"), ("one_time", "1")],
    )
    .await;
    // Post/redirect/get (issue 10): the code reaches the page that shows it in a sealed,
    // path-bound, short-lived cookie.
    assert_eq!(location(&r), format!("{path}/tap"));
    let sealed = r.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        sealed.starts_with("kf_tap_shown=")
            && sealed.contains(&format!("Path={path}/tap"))
            && sealed.contains("HttpOnly")
            && sealed.contains("SameSite=Strict")
            && sealed.contains("Max-Age=300"),
        "{sealed}"
    );
    let tap_cookie = sealed.split(';').next().unwrap().to_owned();
    let r = get(&app, &format!("{path}/tap"), &format!("{admin}; {tap_cookie}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let cleared = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("kf_tap_shown=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let html = text(&r);
    let start = html.find("data-code=\"").expect("the code") + "data-code=\"".len();
    let code = html[start..start + html[start..].find('"').unwrap()].to_owned();
    assert_eq!(code.len(), 20);
    assert_eq!(html.matches(code.as_str()).count(), 1, "the code appears exactly once");
    assert!(html.contains("class=\"secret\" id=\"tap-code\""));
    assert!(html.contains("shown only once"));
    assert!(
        !sealed.contains(code.as_str()),
        "the cookie does not carry the code in clear"
    );
    // A reload (the cookie is gone) shows the pass's status, never a new code.
    let r = get(&app, &format!("{path}/tap"), &admin).await;
    assert_eq!(r.status, StatusCode::OK);
    let again = text(&r);
    assert!(
        element(&again, "tap-code").is_none() && !again.contains(code.as_str()),
        "{again}"
    );
    assert!(element(&again, "tap-shown-once").is_some(), "{again}");
    assert!(again.contains("id=\"issue-new-tap\""), "issuing again takes the button");
    // Another user's pass page does not open this code.
    let other = app.user("quinn", Role::Worker).await;
    app.tap(other.id, true).await;
    let r = get(
        &app,
        &format!("/admin/users/{}/tap", other.id),
        &format!("{admin}; {tap_cookie}"),
    )
    .await;
    assert!(!text(&r).contains(code.as_str()));
    let tap = app.state.stores.taps.find_tap(worker.id).await.unwrap().unwrap();
    assert!(tap.one_time);
    assert_eq!(tap.expires_at.as_millis() - tap.created_at.as_millis(), 30 * 60 * 1000);
    assert_eq!(
        audit_actions(&app, "tap.issue").await.len(),
        2,
        "pat's and quinn's: the reloads issued none"
    );
    // The user's page shows the pass, never its code.
    let page = text(&get(&app, &path, &admin).await);
    assert!(element(&page, "tap-status").is_some() && page.contains("usable"));
    assert!(!page.contains(&code));
    // The code signs in once.
    let r = app.tap_sign_in("pat", &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let page = text(&get(&app, &path, &admin).await);
    assert!(page.contains(">used</span>"), "{page}");
}

async fn pass_lifetime_is_checked_by_the_service(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let worker = app.user("pat", Role::Worker).await;
    let path = format!("/admin/users/{}/tap", worker.id);
    for bad in ["5", "43201", "soon"] {
        let r = post(&app, &path, &admin, &[("lifetime_minutes", bad)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let html = text(&r);
        assert!(element(&html, "page-error").unwrap().contains("from 10 to 43200"));
        assert!(html.contains(&format!("value=\"{bad}\"")), "the value is kept");
        assert!(!html.contains("id=\"tap-code\""));
    }
    assert!(app.state.stores.taps.find_tap(worker.id).await.unwrap().is_none());
    // A disabled user gets no pass.
    post(
        &app,
        &format!("/admin/users/{}/enabled", worker.id),
        &admin,
        &[("enabled", "false")],
    )
    .await;
    let r = post(&app, &path, &admin, &[("lifetime_minutes", "60")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.state.stores.taps.find_tap(worker.id).await.unwrap().is_none());
}

async fn user_page_lists_keys_with_model_and_aaguid(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (worker, key, _) = worker_with_key(&app, "kim").await;
    let r = get(&app, &format!("/admin/users/{}", worker.id), &admin).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = text(&r);
    assert!(
        html.contains("<td data-label=\"Model\">keyfleet NFC security key (software)</td>"),
        "{html}"
    );
    assert!(html.contains(&format!("<dd class=\"mono\">{NFC_AAGUID}</dd>")));
    assert!(html.contains("<strong>Blue key</strong>"));
    assert!(
        html.contains("<dd class=\"mono\">packed (not_evaluated)</dd>")
            && html.contains("<td data-label=\"Connects by\">NFC</td>")
    );
    assert!(html.contains(&format!(
        "/admin/users/{}/keys/{}/remove",
        worker.id,
        b64(&key.credential_id)
    )));
    assert!(!html.contains("Possibly cloned"));
    assert!(html.contains("<th scope=\"col\">Key</th>") && html.contains("<caption"));
    assert_eq!(html.matches("<h1").count(), 1);
    // A key flagged as possibly cloned carries the warning.
    let audit = app
        .system()
        .audit(keyfleet_domain::audit::Action::CredentialCloneSuspected, None);
    let ceremony = keyfleet_core::credentials::ceremony::new_ceremony(
        keyfleet_domain::ceremony::CeremonyKind::Authentication,
        None,
        None,
        Vec::new(),
        &app.state.core.config.ceremonies,
        app.state.now(),
    );
    let stored = app
        .state
        .stores
        .credentials
        .get_credential(&key.credential_id)
        .await
        .unwrap()
        .unwrap();
    app.state
        .stores
        .ceremonies
        .flag_possible_clone(
            ceremony.id,
            ceremony.expires_at,
            &key.credential_id,
            stored.sign_count,
            &audit,
        )
        .await
        .unwrap();
    let html = text(&get(&app, &format!("/admin/users/{}", worker.id), &admin).await);
    assert!(html.contains("<span class=\"badge warn\">Possibly cloned: blocked</span>"));
}

async fn removing_a_key_ends_its_sessions(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (worker, key, worker_cookie) = worker_with_key(&app, "kim").await;
    let path = format!("/admin/users/{}/keys/{}/remove", worker.id, b64(&key.credential_id));
    let r = get(&app, &path, &admin).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = text(&r);
    assert!(html.contains("stops working") && html.contains("Every session opened with this key ends now"));
    assert!(html.contains("only key"), "the last key is called out");
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Auth::Cookie(&worker_cookie), None)
            .await
            .status,
        StatusCode::OK
    );
    let r = post(&app, &path, &admin, &[]).await;
    assert_eq!(location(&r), format!("/admin/users/{}?done=key-removed", worker.id));
    assert!(
        app.state
            .stores
            .credentials
            .get_credential(&key.credential_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Auth::Cookie(&worker_cookie), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "the session opened with the key ended"
    );
    assert_eq!(audit_actions(&app, "credential.delete").await.len(), 1);
    assert_eq!(audit_actions(&app, "session.revoke_credential").await.len(), 1);
}

async fn reset_removes_every_key_and_ends_every_session(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (worker, _, key_cookie) = worker_with_key(&app, "kim").await;
    let other_cookie = app.full_session(&worker).await;
    let path = format!("/admin/users/{}/reset", worker.id);
    let html = text(&get(&app, &path, &admin).await);
    assert!(html.contains("(1 key)") && html.contains("every session they have ends now"));
    let r = post(&app, &path, &admin, &[]).await;
    assert_eq!(location(&r), format!("/admin/users/{}?done=reset", worker.id));
    let keys = app
        .state
        .stores
        .credentials
        .list_user_credentials(worker.id)
        .await
        .unwrap();
    assert!(keys.is_empty());
    assert_eq!(live_sessions(&app, worker.id).await, 0);
    for c in [&key_cookie, &other_cookie] {
        let r = app.call(Method::GET, "/api/v1/me", Auth::Cookie(c), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(audit_actions(&app, "credential.reset").await.len(), 1);
    assert_eq!(audit_actions(&app, "session.revoke_all").await.len(), 1);
    let html = text(&get(&app, &format!("/admin/users/{}?done=reset", worker.id), &admin).await);
    assert!(element(&html, "notice").unwrap().contains("All keys were removed"));
    assert!(element(&html, "no-keys").is_some());
}

async fn other_users_keys_and_malformed_ids_are_not_found(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (kim, kim_key, _) = worker_with_key(&app, "kim").await;
    let lee = app.user("lee", Role::Worker).await;
    let kim_key_id = b64(&kim_key.credential_id);
    let not_found = [
        format!("/admin/users/{}/keys/{kim_key_id}/remove", lee.id),
        format!("/admin/users/{}/keys/not*base64/remove", kim.id),
        format!("/admin/users/{}/keys/{}/remove", kim.id, b64(b"no such key")),
        format!("/admin/users/not-a-uuid/keys/{kim_key_id}/remove"),
        format!("/admin/users/{}/keys/{kim_key_id}/remove", uuid::Uuid::nil()),
    ];
    for path in &not_found {
        assert_eq!(
            get(&app, path, &admin).await.status,
            StatusCode::NOT_FOUND,
            "GET {path}"
        );
        assert_eq!(
            post(&app, path, &admin, &[]).await.status,
            StatusCode::NOT_FOUND,
            "POST {path}"
        );
    }
    assert_eq!(
        get(&app, "/admin/users/not-a-uuid", &admin).await.status,
        StatusCode::NOT_FOUND
    );
    let r = post(&app, "/admin/users/not-a-uuid/reset", &admin, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(
        &app,
        &format!("/admin/users/{}/groups", kim.id),
        &admin,
        &[("group", "nope")],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let keys = app
        .state
        .stores
        .credentials
        .list_user_credentials(kim.id)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "nothing was removed");
    assert!(audit_actions(&app, "credential.delete").await.is_empty());
}

async fn profile_edits_and_enable_disable(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let worker = app.user("pat", Role::Worker).await;
    let worker_cookie = app.full_session(&worker).await;
    let path = format!("/admin/users/{}", worker.id);
    let fields = |email: &'static str| {
        [
            ("display_name", "Pat Renamed"),
            ("email", email),
            ("manager_email", "boss@example.com"),
            ("shipping_address", ""),
        ]
    };
    let r = post(&app, &path, &admin, &fields("pat@example.org")).await;
    assert_eq!(location(&r), format!("{path}?done=updated"));
    let u = stored_user(&app, worker.id).await.unwrap();
    assert_eq!(
        (u.display_name.as_str(), u.email.as_str()),
        ("Pat Renamed", "pat@example.org")
    );
    assert_eq!(u.manager_email.as_deref(), Some("boss@example.com"));
    assert_eq!(audit_actions(&app, "user.update").await.len(), 1);
    // An invalid value: 422, the values kept, nothing saved.
    let r = post(&app, &path, &admin, &fields("broken@")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&r);
    assert!(
        element(&html, "page-error")
            .unwrap()
            .contains("The profile was not saved")
    );
    assert!(html.contains("value=\"broken@\""));
    assert_eq!(stored_user(&app, worker.id).await.unwrap().email, "pat@example.org");
    // Disabling ends the user's sessions; enabling lets them back.
    let r = post(&app, &format!("{path}/enabled"), &admin, &[("enabled", "false")]).await;
    assert_eq!(location(&r), format!("{path}?done=disabled"));
    assert!(!stored_user(&app, worker.id).await.unwrap().enabled);
    let r = app
        .call(Method::GET, "/api/v1/me", Auth::Cookie(&worker_cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(audit_actions(&app, "user.disable").await.len(), 1);
    let html = text(&get(&app, &format!("{path}?done=disabled"), &admin).await);
    assert!(
        html.contains("<span class=\"badge warn\">disabled</span>")
            && html.contains("id=\"enable-user\"")
            && html.contains("<span class=\"badge warn\">Disabled</span></h1>")
    );
    let r = post(&app, &format!("{path}/enabled"), &admin, &[("enabled", "true")]).await;
    assert_eq!(location(&r), format!("{path}?done=enabled"));
    assert!(stored_user(&app, worker.id).await.unwrap().enabled);
}

async fn ending_all_sessions_and_ending_ones_own(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (admin_user, admin) = staff(&app, "root", Role::Admin).await;
    let worker = app.user("pat", Role::Worker).await;
    app.full_session(&worker).await;
    app.full_session(&worker).await;
    let path = format!("/admin/users/{}", worker.id);
    assert_eq!(
        element(&text(&get(&app, &path, &admin).await), "session-count").as_deref(),
        Some("2 sessions are open.")
    );
    let r = post(&app, &format!("{path}/sessions/revoke"), &admin, &[]).await;
    assert_eq!(location(&r), format!("{path}?done=sessions-ended"));
    assert_eq!(live_sessions(&app, worker.id).await, 0);
    assert_eq!(audit_actions(&app, "session.revoke_all").await.len(), 1);
    // Ending one's own sessions signs out.
    let r = post(
        &app,
        &format!("/admin/users/{}/sessions/revoke", admin_user.id),
        &admin,
        &[],
    )
    .await;
    assert_eq!(location(&r), "/login?done=signed-out");
    assert!(r.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(get(&app, "/admin/users", &admin).await.status, StatusCode::SEE_OTHER);
}

async fn helpdesk_manages_workers(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, desk) = staff(&app, "desk", Role::Helpdesk).await;
    let (worker, key, worker_cookie) = worker_with_key(&app, "kim").await;
    let path = format!("/admin/users/{}", worker.id);
    let html = text(&get(&app, &path, &desk).await);
    assert!(!html.contains("<select id=\"role\""), "no role select for helpdesk");
    assert!(!html.contains("id=\"delete-user\"") && !html.contains("id=\"add-group-form\""));
    assert!(!text(&get(&app, "/admin/users/new", &desk).await).contains("<select id=\"role\""));
    let r = post(
        &app,
        &path,
        &desk,
        &[("display_name", "Kim Edited"), ("email", "kim@example.com")],
    )
    .await;
    assert_eq!(location(&r), format!("{path}?done=updated"));
    assert_eq!(stored_user(&app, worker.id).await.unwrap().display_name, "Kim Edited");
    let r = post(&app, &format!("{path}/tap"), &desk, &[("lifetime_minutes", "60")]).await;
    assert_eq!(location(&r), format!("{path}/tap"));
    let tap = app.state.stores.taps.find_tap(worker.id).await.unwrap().unwrap();
    assert!(!tap.one_time, "the unticked box makes a multi-use pass");
    let remove = format!("{path}/keys/{}/remove", b64(&key.credential_id));
    assert_eq!(
        location(&post(&app, &remove, &desk, &[]).await),
        format!("{path}?done=key-removed")
    );
    let r = post(&app, &format!("{path}/sessions/revoke"), &desk, &[]).await;
    assert_eq!(location(&r), format!("{path}?done=sessions-ended"));
    let r = app
        .call(Method::GET, "/api/v1/me", Auth::Cookie(&worker_cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = post(&app, &format!("{path}/enabled"), &desk, &[("enabled", "false")]).await;
    assert_eq!(location(&r), format!("{path}?done=disabled"));
    let r = post(
        &app,
        "/admin/users/new",
        &desk,
        &[
            ("username", "newbie"),
            ("display_name", "N"),
            ("email", "n@example.com"),
        ],
    )
    .await;
    assert_eq!(location(&r).split('?').nth(1), Some("done=created"));
    assert_eq!(denied(&app).await, 0, "nothing was refused");
}

async fn helpdesk_is_refused_on_administrators_and_helpdesk_users(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (desk_user, desk) = staff(&app, "desk", Role::Helpdesk).await;
    let (boss, boss_cookie) = staff(&app, "boss", Role::Admin).await;
    let colleague = app.user("desk2", Role::Helpdesk).await;
    for target in [boss.id, colleague.id, desk_user.id] {
        let path = format!("/admin/users/{target}");
        // The page itself is readable (read-only, see console_people.rs); what changes is not.
        let gets = [format!("{path}/reset"), format!("{path}/disable")];
        for p in &gets {
            let before = denied(&app).await;
            assert_refused(&app, &get(&app, p, &desk).await, before).await;
        }
        let posts: [(String, &[(&str, &str)]); 6] = [
            (path.clone(), &[("display_name", "Hacked"), ("email", "h@example.com")]),
            (format!("{path}/tap/revoke"), &[]),
            (format!("{path}/enabled"), &[("enabled", "false")]),
            (format!("{path}/tap"), &[("lifetime_minutes", "60")]),
            (format!("{path}/reset"), &[]),
            (format!("{path}/sessions/revoke"), &[]),
        ];
        for (p, fields) in &posts {
            let before = denied(&app).await;
            assert_refused(&app, &post(&app, p, &desk, fields).await, before).await;
        }
        let u = stored_user(&app, target).await.unwrap();
        assert!(u.enabled && u.display_name != "Hacked");
        assert!(app.state.stores.taps.find_tap(target).await.unwrap().is_none());
    }
    let event = &audit_actions(&app, "access.denied").await[0];
    assert!(
        event
            .detail
            .as_deref()
            .unwrap()
            .contains("\"code\":\"target_protected\""),
        "{:?}",
        event.detail
    );
    assert_eq!(event.actor, format!("user:{}", desk_user.id));
    let r = app
        .call(Method::GET, "/api/v1/me", Auth::Cookie(&boss_cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "the administrator's session lives on");
}

async fn helpdesk_cannot_change_roles_groups_or_delete(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, desk) = staff(&app, "desk", Role::Helpdesk).await;
    let worker = app.user("pat", Role::Worker).await;
    let ops = group(&app, "Field Ops").await;
    let audit = app.system().audit(keyfleet_domain::audit::Action::GroupMemberAdd, None);
    let sales = group(&app, "Sales").await;
    app.state
        .stores
        .groups
        .add_member(sales.id, worker.id, &audit)
        .await
        .unwrap();
    let path = format!("/admin/users/{}", worker.id);
    let html = text(&get(&app, &path, &desk).await);
    assert!(
        html.contains("Sales") && !html.contains("Remove from group"),
        "read-only list"
    );
    let users = app.user_count().await;
    let ops_id = ops.id.to_string();
    let refusals: [(String, Vec<(&str, &str)>); 5] = [
        (
            path.clone(),
            vec![("display_name", "Pat"), ("email", "pat@example.com"), ("role", "admin")],
        ),
        (format!("{path}/groups"), vec![("group", &ops_id)]),
        (format!("{path}/groups/{}/remove", sales.id), vec![]),
        (format!("{path}/delete"), vec![]),
        (
            "/admin/users/new".to_owned(),
            vec![
                ("username", "sneaky"),
                ("display_name", "S"),
                ("email", "s@example.com"),
                ("role", "admin"),
            ],
        ),
    ];
    for (p, fields) in &refusals {
        let before = denied(&app).await;
        assert_refused(&app, &post(&app, p, &desk, fields).await, before).await;
    }
    let before = denied(&app).await;
    assert_refused(&app, &get(&app, &format!("{path}/delete"), &desk).await, before).await;
    let u = stored_user(&app, worker.id).await.expect("not deleted");
    assert_eq!(u.role, Role::Worker);
    assert_eq!(member_of(&app, worker.id).await, ["Sales"]);
    assert_eq!(app.user_count().await, users);
}

async fn admin_changes_roles_groups_and_deletes(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (root, admin) = staff(&app, "root", Role::Admin).await;
    let worker = app.user("pat", Role::Worker).await;
    let ops = group(&app, "Field Ops").await;
    let path = format!("/admin/users/{}", worker.id);
    let r = post(
        &app,
        &path,
        &admin,
        &[
            ("display_name", "Pat"),
            ("email", "pat@example.com"),
            ("role", "helpdesk"),
        ],
    )
    .await;
    assert_eq!(location(&r), format!("{path}?done=updated"));
    assert_eq!(stored_user(&app, worker.id).await.unwrap().role, Role::Helpdesk);
    let html = text(&get(&app, &path, &admin).await);
    assert!(html.contains("<option value=\"helpdesk\" selected>"));
    assert!(html.contains(&format!("<option value=\"{}\">Field Ops</option>", ops.id)));
    let gid = ops.id.to_string();
    let r = post(&app, &format!("{path}/groups"), &admin, &[("group", &gid)]).await;
    assert_eq!(location(&r), format!("{path}?done=group-added"));
    assert_eq!(member_of(&app, worker.id).await, ["Field Ops"]);
    let event = &audit_actions(&app, "group.member.add").await[0];
    assert_eq!(event.target.as_deref(), Some(format!("group:{gid}").as_str()));
    let r = post(&app, &format!("{path}/groups/{gid}/remove"), &admin, &[]).await;
    assert_eq!(location(&r), format!("{path}?done=group-removed"));
    assert!(member_of(&app, worker.id).await.is_empty());
    assert_eq!(audit_actions(&app, "group.member.remove").await.len(), 1);
    // Delete: a confirmation, then the user is gone and the audit log keeps it.
    let html = text(&get(&app, &format!("{path}/delete"), &admin).await);
    assert!(html.contains("cannot be undone") && html.contains("id=\"confirm-button\""));
    let r = post(&app, &format!("{path}/delete"), &admin, &[]).await;
    assert_eq!(location(&r), "/admin/users?done=deleted");
    assert!(stored_user(&app, worker.id).await.is_none());
    assert_eq!(audit_actions(&app, "user.delete").await.len(), 1);
    assert_eq!(get(&app, &path, &admin).await.status, StatusCode::NOT_FOUND);
    // An administrator cannot delete themselves; the refusal is audited.
    let before = denied(&app).await;
    let r = post(&app, &format!("/admin/users/{}/delete", root.id), &admin, &[]).await;
    assert_refused(&app, &r, before).await;
    assert!(stored_user(&app, root.id).await.is_some());
}

async fn values_are_escaped(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let evil = "<script>alert(1)</script>\"'><img src=x>";
    let r = post(
        &app,
        "/admin/users/new",
        &admin,
        &[
            ("username", "evil"),
            ("display_name", evil),
            ("email", "evil@example.com"),
            ("shipping_address", evil),
        ],
    )
    .await;
    let to = location(&r);
    for page in [to.as_str(), "/admin/users", "/admin/users?q=%3Cscript%3E"] {
        let html = named_refs(&text(&get(&app, page, &admin).await));
        assert!(!html.contains("<script>alert"), "{page}: {html}");
        assert!(
            !html.contains("<img src=x>") && !html.contains("\"'><img"),
            "{page}: {html}"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}: {html}");
    }
    // The quotes cannot end the attribute.
    let html = named_refs(&text(&get(&app, &to, &admin).await));
    assert!(html.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;&apos;&gt;&lt;img src=x&gt;\""));
}

async fn forms_need_the_token_and_our_origin(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (_, other) = staff(&app, "root2", Role::Admin).await;
    let worker = app.user("pat", Role::Worker).await;
    let path = format!("/admin/users/{}/enabled", worker.id);
    let token = csrf(&app, &admin);
    let wrong = csrf(&app, &other);
    let attempts: [(&str, Vec<(&str, &str)>); 4] = [
        (ORIGIN, vec![("enabled", "false")]),
        (ORIGIN, vec![("_csrf", &wrong), ("enabled", "false")]),
        ("https://evil.example", vec![("_csrf", &token), ("enabled", "false")]),
        ("null", vec![("_csrf", &token), ("enabled", "false")]),
    ];
    let audit = app.audit_count().await;
    for (origin, fields) in &attempts {
        let r = post_raw(&app, &path, &admin, origin, fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin} {fields:?}");
        assert!(text(&r).contains("This form could not be sent"));
    }
    let r = post_raw(
        &app,
        "/admin/users/new",
        &admin,
        "https://evil.example",
        &[
            ("_csrf", &token),
            ("username", "x"),
            ("display_name", "X"),
            ("email", "x@example.com"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(stored_user(&app, worker.id).await.unwrap().enabled, "nothing changed");
    assert_eq!(app.audit_count().await, audit, "no change was recorded");
    // The same form with the token and our origin goes through.
    let r = post_raw(&app, &path, &admin, ORIGIN, &[("_csrf", &token), ("enabled", "false")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}
