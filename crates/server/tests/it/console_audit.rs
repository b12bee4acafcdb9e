//! The console's audit log as people read it (issue 10): the user filter (by username or
//! id, as actor or target), names beside ids (also of what was deleted), one entry's page,
//! and who may read them.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use keyfleet_core::access::Principal;
use keyfleet_core::audit::{Detail, KeyRef};
use keyfleet_domain::audit::{Action, Actor, AuditEvent, AuditQuery, NewAuditEvent, Target};
use keyfleet_domain::user::{Role, User};
use keyfleet_server::web::page::csrf_token;

use crate::harness::{Auth, Backend, ORIGIN, Resp, TestApp};
use crate::on_both_stores;

on_both_stores!(
    user_filter_matches_actor_or_target_by_name_or_id,
    unknown_username_is_a_clear_422,
    deleted_targets_keep_their_recorded_name,
    entry_page_shows_every_field_with_names_and_links,
    entry_page_is_404_for_unknown_or_malformed_ids,
    helpdesk_reads_and_exports_workers_are_refused,
);

// ---- helpers ---------------------------------------------------------------------------

async fn staff(app: &TestApp, name: &str, role: Role) -> (User, String) {
    let user = app.user(name, role).await;
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

/// A form POST as the page sends it (right Origin, the session's CSRF token), with a request
/// id of our choosing.
async fn post(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)], request_id: &str) -> Resp {
    let value = cookie.split_once('=').unwrap().1;
    let token = csrf_token(&app.state.csrf_key, Some(value));
    let mut pairs = fields.to_vec();
    pairs.push(("_csrf", &token));
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, ORIGIN)
        .header("x-request-id", request_id)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(pairs).unwrap()))
        .unwrap();
    app.send(req).await
}

fn html(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn ok_html(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", html(r));
    html(r)
}

/// The ids of the audit rows on a page, in order.
fn event_ids(page: &str) -> Vec<i64> {
    page.split("data-event-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// The HTML inside the element with this id, up to its closing tag (`tag`).
fn inner<'a>(page: &'a str, id: &str, tag: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let open = start + page[start..].find('>').unwrap() + 1;
    let close = open + page[open..].find(&format!("</{tag}>")).unwrap();
    &page[open..close]
}

/// Text as a person reads it: tags gone (`<wbr>` joins, `<br>` separates), spaces collapsed.
fn text(fragment: &str) -> String {
    let mut out = String::new();
    let mut rest = fragment;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('>').unwrap();
        if rest[open..=close].starts_with("<br") {
            out.push(' ');
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn store_ids(app: &TestApp, query: AuditQuery) -> Vec<i64> {
    let q = AuditQuery { limit: 10_000, ..query };
    let found = app.state.stores.audit.list(&q).await.unwrap();
    found.iter().map(|e| e.id).collect()
}

async fn newest(app: &TestApp, action: &str) -> AuditEvent {
    let q = AuditQuery {
        action: Some(action.to_owned()),
        limit: 1,
        ..Default::default()
    };
    app.state.stores.audit.list(&q).await.unwrap().remove(0)
}

// ---- the user filter -------------------------------------------------------------------

async fn user_filter_matches_actor_or_target_by_name_or_id(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (ann, ann_cookie) = staff(&app, "ann", Role::Admin).await;
    let (wendy, wendy_cookie) = staff(&app, "wendy", Role::Worker).await;
    app.user("walt", Role::Worker).await;
    // Wendy as actor: a refusal. Wendy as target: her creation, and a change by ann.
    assert_eq!(
        get(&app, &wendy_cookie, "/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );
    let r = post(
        &app,
        &ann_cookie,
        &format!("/admin/users/{}/enabled", wendy.id),
        &[("enabled", "false")],
        "req-disable",
    )
    .await;
    assert!(r.status.is_redirection(), "{}", html(&r));

    // Her entries, picked by hand from the whole log.
    let reference = format!("user:{}", wendy.id);
    let all = app
        .state
        .stores
        .audit
        .list(&AuditQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let hers: Vec<&AuditEvent> = all
        .iter()
        .filter(|e| e.actor == reference || e.target.as_deref() == Some(reference.as_str()))
        .collect();
    let expected: Vec<i64> = hers.iter().map(|e| e.id).collect();
    let actions: Vec<&str> = hers.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"access.denied") && actions.contains(&"user.create"),
        "{actions:?}"
    );
    assert!(actions.contains(&"user.disable"), "{actions:?}");

    // The address a user's page links to, and every other way of naming her.
    for form in [
        "wendy".to_owned(),
        "+WENDY+".to_owned(),
        wendy.id.to_string(),
        format!("user%3A{}", wendy.id),
    ] {
        let page = ok_html(&get(&app, &ann_cookie, &format!("/admin/audit?user={form}")).await);
        assert_eq!(event_ids(&page), expected, "{form}");
        let note = text(inner(&page, "user-filter", "p"));
        assert!(note.contains("wendy") && note.contains(&reference), "{note}");
    }
    // Combined with another filter, both apply.
    let page = ok_html(&get(&app, &ann_cookie, "/admin/audit?user=wendy&action=user.").await);
    let ids = event_ids(&page);
    assert!(!ids.is_empty() && ids.len() < expected.len(), "{page}");
    assert!(!page.contains("data-action=\"access.denied\""));
    // Names first, the id smaller beside: the actor of the change is ann, the target wendy.
    let row = &page[page.find("data-action=\"user.disable\"").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    let ann_at = row.find("<span class=\"audit-name\">ann</span>").expect(row);
    let ann_id_at = row.find(&format!("user:<wbr>{}", ann.id)).expect(row);
    assert!(ann_at < ann_id_at, "the name comes before the id: {row}");
    assert!(
        row.contains("<span class=\"audit-label\">User disabled</span>"),
        "{row}"
    );
    assert!(
        row.contains("user.<wbr>disable"),
        "the stable name wraps at its dot: {row}"
    );
    // The form keeps what was typed.
    assert!(page.contains("value=\"wendy\""), "{page}");
}

async fn unknown_username_is_a_clear_422(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = staff(&app, "ann", Role::Admin).await;
    for (typed, shown) in [("nobody", "nobody"), ("%3Cb%3Ex", "&#60;b&#62;x")] {
        let r = get(&app, &cookie, &format!("/admin/audit?user={typed}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        let page = html(&r);
        let message = inner(&page, "filter-error", "p");
        assert!(message.starts_with(&format!("No user named “{shown}”.")), "{message}");
        assert!(event_ids(&page).is_empty(), "no table, not an empty one");
        assert!(!page.contains("<b>"));
    }
}

async fn deleted_targets_keep_their_recorded_name(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = staff(&app, "ann", Role::Admin).await;
    let gone = app.user("gone", Role::Worker).await;
    keyfleet_core::identity::users::delete(&app.system(), &Principal::System, gone.id)
        .await
        .unwrap();
    // By name she is not found any more; by id her entries are all there.
    let r = get(&app, &cookie, "/admin/audit?user=gone").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = ok_html(&get(&app, &cookie, &format!("/admin/audit?user={}", gone.id)).await);
    assert_eq!(event_ids(&page).len(), 2, "created and deleted: {page}");
    assert!(
        text(inner(&page, "user-filter", "p")).contains("the deleted user"),
        "{page}"
    );
    // Both rows show the name their detail recorded, marked deleted, and the id.
    for action in ["user.create", "user.delete"] {
        let row = &page[page.find(&format!("data-action=\"{action}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("<span class=\"audit-name\">gone</span> <span class=\"badge\">deleted</span>"),
            "{action}: {row}"
        );
        assert!(row.contains(&gone.id.to_string()), "{row}");
    }
    // The API says the same name.
    let token = app.bearer(&["audit:read"]).await;
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/audit?target=user:{}", gone.id),
            Auth::Bearer(&token),
            None,
        )
        .await;
    let events = r.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["targetName"] == "gone"), "{events:?}");
}

// ---- one entry ---------------------------------------------------------------------------

async fn entry_page_shows_every_field_with_names_and_links(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (ann, cookie) = staff(&app, "ann", Role::Admin).await;
    let bob = app.user("bob", Role::Worker).await;
    let r = post(
        &app,
        &cookie,
        "/admin/groups",
        &[("name", "Ops"), ("description", "")],
        "req-group",
    )
    .await;
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let gid = location
        .strip_prefix("/admin/groups/")
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let r = post(
        &app,
        &cookie,
        &format!("/admin/groups/{gid}/members"),
        &[("username", "bob")],
        "req-member",
    )
    .await;
    assert!(r.status.is_redirection(), "{}", html(&r));
    let added = newest(&app, "group.member.add").await;
    assert_eq!(added.request_id.as_deref(), Some("req-member"));

    // The table links each entry to its page.
    let log = ok_html(&get(&app, &cookie, "/admin/audit").await);
    assert!(log.contains(&format!("href=\"/admin/audit/{}\"", added.id)), "{log}");

    let page = ok_html(&get(&app, &cookie, &format!("/admin/audit/{}", added.id)).await);
    assert!(page.contains("<h1>Member added to group <span"), "{page}");
    let time = inner(&page, "entry", "dl");
    assert!(
        time.contains(&format!(
            "<time datetime=\"{}\">",
            keyfleet_server::state::rfc3339(added.at)
        )),
        "{time}"
    );
    let actor = text(inner(&page, "entry-actor", "ul"));
    assert!(actor.starts_with(&format!("ann user:{}", ann.id)), "{actor}");
    assert!(page.contains(&format!(
        "href=\"/admin/audit?actor=user%3A{}\" id=\"actor-entries\"",
        ann.id
    )));
    assert!(page.contains(&format!("href=\"/admin/audit?user={}\" id=\"actor-involving\"", ann.id)));
    assert!(page.contains(&format!("href=\"/admin/users/{}\" id=\"actor-page\"", ann.id)));
    let action = text(inner(&page, "entry-action", "ul"));
    assert!(action.starts_with("Member added to group group.member.add"), "{action}");
    assert!(page.contains("href=\"/admin/audit?action=group.member.add\" id=\"action-entries\""));
    let target = text(inner(&page, "entry-target", "ul"));
    assert!(target.starts_with(&format!("Ops group:{gid}")), "{target}");
    assert!(page.contains(&format!("href=\"/admin/groups/{gid}\" id=\"target-page\"")));
    assert_eq!(text(inner(&page, "entry-outcome", "span")), "success");
    assert!(text(inner(&page, "entry-request", "ul")).starts_with("req-member"));
    assert!(page.contains("href=\"/admin/audit?request=req-member\" id=\"request-entries\""));
    // The detail as a list of its fields, the member's name beside her id.
    let fields = inner(&page, "detail-fields", "dl");
    let user_field = &fields[fields.find("data-field=\"userId\"").expect(fields)..];
    let user_field = &user_field[..user_field.find("</div>").unwrap()];
    assert!(
        text(user_field).ends_with(&format!("User id userId bob {} Entries involving them", bob.id)),
        "{user_field}"
    );
    assert!(user_field.contains(&format!("href=\"/admin/audit?user={}\"", bob.id)));
    assert!(fields.contains("data-field=\"username\""), "{fields}");
    assert_eq!(
        text(inner(&page, "detail-raw", "pre")),
        text(&added.detail.clone().unwrap().replace('"', "&#34;"))
    );

    // "Everything this request did" is one filter away.
    let by_request = ok_html(&get(&app, &cookie, "/admin/audit?request=req-member").await);
    assert_eq!(event_ids(&by_request), [added.id]);

    // A key's nickname, and an entry without detail.
    let key = NewAuditEvent::new(
        app.state.now(),
        &Actor::User(bob.id),
        Action::CredentialLost,
        Some(Target::User(bob.id)),
        None,
    )
    .with_detail(KeyRef::new(b"key-1", Some("Bob's band")).to_json());
    app.state.stores.audit.append(&key).await.unwrap();
    let lost = newest(&app, "credential.lost").await;
    let page = ok_html(&get(&app, &cookie, &format!("/admin/audit/{}", lost.id)).await);
    assert!(page.contains("<h1>Key reported lost"), "{page}");
    assert_eq!(text(inner(&page, "entry-key", "dd")), "Bob&#39;s band");
    let fields = inner(&page, "detail-fields", "dl");
    assert!(
        text(fields).contains("Credential id credentialId Bob&#39;s band a2V5LTE"),
        "{fields}"
    );
    assert_eq!(text(inner(&page, "entry-request", "dd")), "none");
    let bare = NewAuditEvent::new(app.state.now(), &Actor::System, Action::JobRun, None, None);
    app.state.stores.audit.append(&bare).await.unwrap();
    let bare = newest(&app, "job.run").await;
    let page = ok_html(&get(&app, &cookie, &format!("/admin/audit/{}", bare.id)).await);
    assert!(page.contains("id=\"no-detail\""), "{page}");
    assert_eq!(text(inner(&page, "entry-target", "dd")), "none");
}

async fn entry_page_is_404_for_unknown_or_malformed_ids(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = staff(&app, "ann", Role::Admin).await;
    let last = newest(&app, "auth.webauthn").await.id;
    for path in [
        format!("/admin/audit/{}", last + 1000),
        "/admin/audit/0".to_owned(),
        "/admin/audit/-1".to_owned(),
        "/admin/audit/abc".to_owned(),
        "/admin/audit/1.5".to_owned(),
        "/admin/audit/99999999999999999999999".to_owned(),
    ] {
        let r = get(&app, &cookie, &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(html(&r).contains("Not found"), "{path}");
    }
    assert_eq!(
        get(&app, &cookie, &format!("/admin/audit/{last}")).await.status,
        StatusCode::OK
    );
}

// ---- who may read ----------------------------------------------------------------------

async fn helpdesk_reads_and_exports_workers_are_refused(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, hc) = staff(&app, "hal", Role::Helpdesk).await;
    let (wendy, wc) = staff(&app, "wendy", Role::Worker).await;
    let some = newest(&app, "user.create").await.id;
    let paths = [
        "/admin/audit".to_owned(),
        format!("/admin/audit/{some}"),
        "/admin/audit?user=wendy".to_owned(),
    ];
    for path in &paths {
        let r = get(&app, &hc, path).await;
        assert_eq!(r.status, StatusCode::OK, "helpdesk {path}: {}", html(&r));
    }
    let before = store_ids(
        &app,
        AuditQuery {
            action: Some("access.denied".into()),
            ..Default::default()
        },
    )
    .await
    .len();
    for path in &paths {
        let r = get(&app, &wc, path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "worker {path}");
        assert!(r.headers.get(header::CONTENT_DISPOSITION).is_none());
        assert!(event_ids(&html(&r)).is_empty());
    }
    let denied = app
        .state
        .stores
        .audit
        .list(&AuditQuery {
            action: Some("access.denied".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.len(), before + paths.len(), "each refusal audited");
    assert!(
        denied[..paths.len()]
            .iter()
            .all(|e| e.actor == format!("user:{}", wendy.id))
    );
}
