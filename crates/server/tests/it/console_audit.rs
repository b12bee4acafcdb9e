//! The console's audit log as people read it (issue 10): the user filter (by username or
//! id, as actor or target), names beside ids (also of what was deleted), one entry's page,
//! the CSV and JSON-lines downloads, and who may read them.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use keyfleet_core::access::Principal;
use keyfleet_core::audit::{Detail, KeyRef};
use keyfleet_domain::audit::{Action, Actor, AuditEvent, AuditQuery, NewAuditEvent, Target};
use keyfleet_domain::user::{Role, User};
use keyfleet_server::web::page::csrf_token;
use serde_json::Value;

use crate::harness::{Auth, Backend, ORIGIN, Resp, TestApp};
use crate::on_both_stores;

on_both_stores!(
    user_filter_matches_actor_or_target_by_name_or_id,
    unknown_username_is_a_clear_422,
    deleted_targets_keep_their_recorded_name,
    entry_page_shows_every_field_with_names_and_links,
    entry_page_is_404_for_unknown_or_malformed_ids,
    csv_export_quotes_neutralises_and_filters,
    csv_export_streams_every_batch_without_overlap,
    jsonl_export_is_one_api_object_per_line,
    helpdesk_reads_and_exports_workers_are_refused,
    api_filters_by_user_and_request_id,
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

/// An RFC 4180 reader: records of fields, quotes undone. Strict: it fails on anything else.
fn parse_csv(body: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = body.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    let next = chars.peek().copied();
                    assert!(matches!(next, Some(',' | '\r') | None), "text after a closing quote");
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            '"' => panic!("a quote inside an unquoted field: {field}"),
            ',' => {
                record.push(std::mem::take(&mut field));
                at_start = true;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF outside quotes");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_start = true;
            }
            '\n' => panic!("LF without CR outside quotes"),
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(field.is_empty() && record.is_empty(), "the last record has no CRLF");
    records
}

const HEADER: [&str; 11] = [
    "id",
    "at",
    "actor",
    "actorName",
    "action",
    "target",
    "targetName",
    "keyNickname",
    "outcome",
    "requestId",
    "detail",
];

/// The CSV download at `path`: checks the answer's headers and the header row; the records
/// after it, each as (column name → value).
async fn csv(app: &TestApp, cookie: &str, path: &str) -> Vec<std::collections::HashMap<&'static str, String>> {
    let r = get(app, cookie, path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "text/csv; charset=utf-8; header=present"
    );
    let disposition = r.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    let name = disposition
        .strip_prefix("attachment; filename=\"keyfleet-audit-")
        .and_then(|n| n.strip_suffix(".csv\""))
        .unwrap_or_else(|| panic!("{disposition}"));
    assert!(
        name.len() == 16 && name.ends_with('Z') && name.as_bytes()[8] == b'T',
        "a UTC time in the name: {name}"
    );
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let body = String::from_utf8(r.body).unwrap();
    let mut records = parse_csv(&body).into_iter();
    assert_eq!(records.next().unwrap(), HEADER, "the header row");
    records
        .map(|r| {
            assert_eq!(r.len(), HEADER.len(), "{r:?}");
            HEADER.iter().copied().zip(r).collect()
        })
        .collect()
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
    // The form keeps what was typed; the downloads carry the same filters.
    assert!(page.contains("value=\"wendy\""), "{page}");
    assert!(
        page.contains("href=\"/admin/audit/export.csv?user=wendy&#38;action=user.\""),
        "{page}"
    );
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
    // The same for a download: an error page, no file.
    let r = get(&app, &cookie, "/admin/audit/export.csv?user=nobody").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.headers.get(header::CONTENT_DISPOSITION).is_none());
    assert!(html(&r).contains("No user named “nobody”."), "{}", html(&r));
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

// ---- downloads ---------------------------------------------------------------------------

async fn csv_export_quotes_neutralises_and_filters(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (ann, cookie) = staff(&app, "ann", Role::Admin).await;
    // A group named like a formula, created by a request whose id (ours to choose: the middleware keeps a plain one) starts like one.
    let formula = "=HYPERLINK(\"http://evil.example/\",\"open\")";
    let r = post(
        &app,
        &cookie,
        "/admin/groups",
        &[("name", formula), ("description", "")],
        "-sum.1",
    )
    .await;
    assert!(r.status.is_redirection(), "{}", html(&r));
    // A key whose nickname holds a comma, a double quote and a line break.
    let nickname = "Ann's key, \"blue\"\nsecond line";
    let lost = NewAuditEvent::new(
        app.state.now(),
        &Actor::User(ann.id),
        Action::CredentialLost,
        Some(Target::User(ann.id)),
        None,
    )
    .with_detail(KeyRef::new(b"key-1", Some(nickname)).to_json());
    app.state.stores.audit.append(&lost).await.unwrap();

    let rows = csv(&app, &cookie, "/admin/audit/export.csv").await;
    let all = store_ids(&app, AuditQuery::default()).await;
    assert_eq!(
        rows.iter().map(|r| r["id"].parse::<i64>().unwrap()).collect::<Vec<_>>(),
        all
    );

    let key_row = rows.iter().find(|r| r["action"] == "credential.lost").unwrap();
    assert_eq!(key_row["keyNickname"], nickname, "quoted, and read back unchanged");
    assert_eq!(key_row["actor"], format!("user:{}", ann.id));
    assert_eq!(key_row["actorName"], "ann");
    assert_eq!(key_row["targetName"], "ann");
    assert_eq!(key_row["outcome"], "success");
    assert_eq!(key_row["requestId"], "");
    let detail: Value = serde_json::from_str(&key_row["detail"]).unwrap();
    assert_eq!(detail["nickname"], nickname);

    let group_row = rows.iter().find(|r| r["action"] == "group.create").unwrap();
    assert_eq!(
        group_row["targetName"],
        format!("'{formula}"),
        "a formula is neutralised"
    );
    assert_eq!(group_row["requestId"], "'-sum.1");
    let at = &group_row["at"];
    assert!(
        at.ends_with('Z') && keyfleet_server::state::parse_rfc3339(at).is_some(),
        "{at}"
    );
    // The raw body has the quoting RFC 4180 asks for.
    let r = get(&app, &cookie, "/admin/audit/export.csv?action=credential.").await;
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.contains(",\"Ann's key, \"\"blue\"\"\nsecond line\","), "{body}");

    // Filters apply: only group entries; only this request's; a time range with none.
    let groups = csv(&app, &cookie, "/admin/audit/export.csv?action=group.").await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["action"], "group.create");
    let by_request = csv(&app, &cookie, "/admin/audit/export.csv?request=-sum.1").await;
    assert_eq!(by_request.len(), 1);
    let by_user = csv(&app, &cookie, "/admin/audit/export.csv?user=ann").await;
    let expected = store_ids(
        &app,
        AuditQuery {
            involving: Some(format!("user:{}", ann.id)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        by_user
            .iter()
            .map(|r| r["id"].parse::<i64>().unwrap())
            .collect::<Vec<_>>(),
        expected
    );
    let none = csv(&app, &cookie, "/admin/audit/export.csv?to=2000-01-01T00%3A00").await;
    assert!(none.is_empty(), "a header row and nothing else");
    // A bad filter is an error page, not a file.
    let r = get(&app, &cookie, "/admin/audit/export.csv?from=soon").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.headers.get(header::CONTENT_DISPOSITION).is_none());
}

async fn csv_export_streams_every_batch_without_overlap(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = staff(&app, "ann", Role::Admin).await;
    // More than two of the export's batches (500 each).
    let now = app.state.now();
    for i in 0..1_100 {
        let e =
            NewAuditEvent::new(now, &Actor::System, Action::JobRun, None, None).with_detail(format!("{{\"n\":{i}}}"));
        app.state.stores.audit.append(&e).await.unwrap();
    }
    let rows = csv(&app, &cookie, "/admin/audit/export.csv?action=job.run").await;
    assert_eq!(rows.len(), 1_100);
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats");
    let ns: std::collections::BTreeSet<i64> = rows
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r["detail"]).unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ns.len(), 1_100, "every entry once");
    // `before` starts below an id, as on the page.
    let below = csv(
        &app,
        &cookie,
        &format!("/admin/audit/export.csv?action=job.run&before={}", ids[99]),
    )
    .await;
    assert_eq!(below.len(), 1_000);
}

async fn jsonl_export_is_one_api_object_per_line(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (ann, cookie) = staff(&app, "ann", Role::Admin).await;
    // The API client first: creating it and its token are entries too.
    let token = app.bearer(&["audit:read"]).await;
    post(
        &app,
        &cookie,
        "/admin/groups",
        &[("name", "Ops"), ("description", "")],
        "req-g",
    )
    .await;
    let r = get(&app, &cookie, "/admin/audit/export.jsonl?action=group.").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/jsonl; charset=utf-8");
    let disposition = r.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"keyfleet-audit-") && disposition.ends_with(".jsonl\""),
        "{disposition}"
    );
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.ends_with('\n'));
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    let e = &lines[0];
    assert_eq!(e["action"], "group.create");
    assert_eq!(e["actor"], format!("user:{}", ann.id));
    assert_eq!(e["actorName"], "ann");
    assert_eq!(e["targetName"], "Ops");
    assert_eq!(e["outcome"], "success");
    assert_eq!(e["requestId"], "req-g");
    assert_eq!(e["detail"]["name"], "Ops", "the detail is an object, not text");
    assert!(keyfleet_server::state::parse_rfc3339(e["at"].as_str().unwrap()).is_some());

    // Every line of the whole log is the object the API returns for the same entry.
    let r = get(&app, &cookie, "/admin/audit/export.jsonl").await;
    let lines: Vec<Value> = String::from_utf8(r.body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let api = app
        .call(Method::GET, "/api/v1/audit?limit=500", Auth::Bearer(&token), None)
        .await;
    let api_events = api.json()["events"].as_array().unwrap().clone();
    assert!(lines.len() >= 5, "{lines:?}");
    assert_eq!(&lines, &api_events);
}

async fn helpdesk_reads_and_exports_workers_are_refused(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, hc) = staff(&app, "hal", Role::Helpdesk).await;
    let (wendy, wc) = staff(&app, "wendy", Role::Worker).await;
    let some = newest(&app, "user.create").await.id;
    let paths = [
        "/admin/audit".to_owned(),
        format!("/admin/audit/{some}"),
        "/admin/audit/export.csv".to_owned(),
        "/admin/audit/export.jsonl".to_owned(),
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

async fn api_filters_by_user_and_request_id(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = staff(&app, "ann", Role::Admin).await;
    let wendy = app.user("wendy", Role::Worker).await;
    post(
        &app,
        &cookie,
        &format!("/admin/users/{}/enabled", wendy.id),
        &[("enabled", "false")],
        "req-api",
    )
    .await;
    let token = app.bearer(&["audit:read"]).await;
    let call = |path: String| {
        let (app, token) = (&app, &token);
        async move { app.call(Method::GET, &path, Auth::Bearer(token), None).await }
    };
    let r = call("/api/v1/audit?user=wendy".into()).await;
    assert_eq!(r.status, StatusCode::OK);
    let events = r.json()["events"].as_array().unwrap().clone();
    let reference = format!("user:{}", wendy.id);
    assert!(events.len() >= 2);
    assert!(
        events
            .iter()
            .all(|e| e["actor"] == reference || e["target"] == reference),
        "{events:?}"
    );
    let by_id = call(format!("/api/v1/audit?user={}", wendy.id)).await;
    assert_eq!(by_id.json()["events"], r.json()["events"]);
    let r = call("/api/v1/audit?requestId=req-api".into()).await;
    let events = r.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "user.disable");
    let r = call("/api/v1/audit?user=nobody".into()).await;
    let p = r.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_user");
    assert!(
        p["detail"].as_str().unwrap().starts_with("No user named “nobody”."),
        "{p}"
    );
    // The OpenAPI document names the two parameters as the route reads them.
    let doc = app
        .call(Method::GET, "/api/openapi.json", Auth::None, None)
        .await
        .json();
    let params = doc["paths"]["/api/v1/audit"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .clone();
    for name in ["user", "requestId"] {
        assert!(params.iter().any(|p| p["name"] == name), "{name}: {params:?}");
    }
    // A client without audit:read learns nothing about usernames either.
    let other = app.bearer(&["users:read"]).await;
    let r = app
        .call(Method::GET, "/api/v1/audit?user=nobody", Auth::Bearer(&other), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
