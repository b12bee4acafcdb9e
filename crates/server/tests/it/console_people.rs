//! Issue 10, the console as an identity team uses it: a user's page in plain words (keys,
//! the record of removed and lost keys, the pass with "revoke", one session at a time,
//! disabling after a confirmation), the disabled user told why at sign-in, helpdesk staff
//! seeing read-only what they may not change, and error pages that keep the navigation.

use axum::http::{StatusCode, header};
use keyfleet_domain::user::Role;
use keyfleet_webauthn_testkey::{TestKey, b64};

use crate::console_users::{
    assert_refused, denied, element, get, group, live_sessions, location, post, staff, stored_user, text,
    worker_with_key,
};
use crate::harness::{Backend, ORIGIN, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit::{audit_actions, register, sign_in, sign_in_options, sign_in_verify};

on_both_stores!(
    keys_are_described_in_plain_words,
    removed_lost_and_reset_keys_are_recorded,
    a_lost_key_is_named_in_the_portal,
    a_pass_is_shown_in_blocks_and_can_be_revoked,
    sessions_end_one_at_a_time,
    disabling_takes_a_confirmation_and_the_user_is_told_why,
    helpdesk_sees_protected_users_read_only,
    helpdesk_reads_groups_without_forms,
    error_pages_keep_the_navigation,
    an_administrator_with_a_pass_is_told_the_console_needs_a_key,
);

async fn keys_are_described_in_plain_words(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (worker, _, _) = worker_with_key(&app, "pat").await;
    let page = text(&get(&app, &format!("/admin/users/{}", worker.id), &admin).await);
    assert!(page.contains("Made by its maker?"), "{page}");
    // The test key's attestation is not checked against a maker's root.
    assert!(page.contains(">Not verified"), "{page}");
    // The technical values are behind a toggle, not in the columns.
    let details = page.find("Technical details").expect("a details toggle");
    let aaguid = page.find("3559c435-ff17-4bc9-b942-325c1f348b94").expect("the AAGUID");
    assert!(aaguid > details, "the AAGUID is inside the details");
    assert!(!page.contains(" / not_evaluated"), "no jargon pairs in a column");
    assert!(page.contains("id=\"history-link\"") && page.contains("/admin/audit?user=pat"));
}

async fn removed_lost_and_reset_keys_are_recorded(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (worker, _, cookie) = worker_with_key(&app, "pat").await;
    let path = format!("/admin/users/{}", worker.id);
    // A second and third key, added from the full session.
    let mut spare = TestKey::from_seed(b"pat spare");
    register(&app, &cookie, &mut spare).await;
    let mut third = TestKey::from_seed(b"pat third");
    register(&app, &cookie, &mut third).await;
    let keys = app
        .state
        .stores
        .credentials
        .list_user_credentials(worker.id)
        .await
        .unwrap();
    assert_eq!(keys.len(), 3);
    let page = text(&get(&app, &path, &admin).await);
    assert!(element(&page, "retired-title").is_none(), "nothing retired yet");

    // The worker reports the second key lost.
    let lost_id = b64(&keys[1].id);
    let r = post(&app, &format!("/security-info/keys/{lost_id}/lost"), &cookie, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    // The administrator removes the third.
    let r = post(&app, &format!("{path}/keys/{}/remove", b64(&keys[2].id)), &admin, &[]).await;
    assert_eq!(location(&r), format!("{path}?done=key-removed"));
    let page = text(&get(&app, &path, &admin).await);
    let record = &page[page.find("id=\"retired\"").expect("the record")..];
    assert!(record.contains("Reported lost or stolen"), "{record}");
    assert!(record.contains(">Removed<"), "{record}");
    assert!(record.contains("the user"), "the worker reported the loss: {record}");
    assert!(record.contains("root"), "the administrator removed the key: {record}");
    assert!(
        record.find("Removed").unwrap() < record.find("Reported lost").unwrap(),
        "newest first"
    );

    // A reset names every key it removed.
    let remaining = app
        .state
        .stores
        .credentials
        .list_user_credentials(worker.id)
        .await
        .unwrap();
    assert_eq!(remaining.len(), 1);
    let r = post(&app, &format!("{path}/reset"), &admin, &[]).await;
    assert_eq!(location(&r), format!("{path}?done=reset"));
    let page = text(&get(&app, &path, &admin).await);
    assert!(page.contains("Removed when all keys were reset"), "{page}");
    assert!(page.contains(&remaining[0].nickname), "{page}");
}

async fn a_lost_key_is_named_in_the_portal(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (worker, key, cookie) = worker_with_key(&app, "pat").await;
    let nickname = stored_key_nickname(&app, &key).await;
    let r = post(
        &app,
        &format!("/security-info/keys/{}/lost", b64(&key.credential_id)),
        &cookie,
        &[("confirm_last", "1")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    // The console says so on the user's page.
    let page = text(&get(&app, &format!("/admin/users/{}", worker.id), &admin).await);
    let note = element(&page, "lost-note").expect("the console names the loss");
    assert!(note.contains(&nickname) && note.contains("no working key"), "{note}");
    // Back with a pass, the portal says the key was reported lost, not "no key yet".
    let code = app.tap(worker.id, true).await;
    let r = app.tap_sign_in("pat", &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let tap_cookie = r.cookie();
    let page = text(&get(&app, "/security-info", &tap_cookie).await);
    let said = element(&page, "lost-key").expect("the portal names the loss");
    assert!(said.contains("reported lost") && said.contains(&nickname), "{said}");
    assert!(!page.contains("no security key yet"), "{page}");
}

async fn stored_key_nickname(app: &TestApp, key: &TestKey) -> String {
    app.state
        .stores
        .credentials
        .get_credential(&key.credential_id)
        .await
        .unwrap()
        .unwrap()
        .nickname
}

async fn a_pass_is_shown_in_blocks_and_can_be_revoked(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let worker = app.user("pat", Role::Worker).await;
    let path = format!("/admin/users/{}", worker.id);
    let r = post(&app, &format!("{path}/tap"), &admin, &[("lifetime_minutes", "60")]).await;
    let sealed = r.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    let tap_cookie = sealed.split(';').next().unwrap().to_owned();
    let html = text(&get(&app, &format!("{path}/tap"), &format!("{admin}; {tap_cookie}")).await);
    let code = attribute(&html, "data-code").expect("the code for the copy button");
    assert_eq!(code.len(), 20);
    let blocks: Vec<&str> = html
        .match_indices("<span class=\"code-block\">")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            &rest[..rest.find('<').unwrap()]
        })
        .collect();
    assert_eq!(blocks.concat(), code, "the blocks spell the code");
    assert!(blocks.iter().all(|b| b.len() == 4), "{blocks:?}");
    assert!(html.contains("id=\"copy-tap\""), "a copy button");
    // Read out in blocks, typed with the spaces: it still works (several uses: not one-time).
    let r = app.tap_sign_in("pat", &blocks.join(" ")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let page = text(&get(&app, &path, &admin).await);
    assert_eq!(
        element(&page, "tap-uses").as_deref(),
        Some("several sign-ins, used 1 time")
    );
    // Revoked: it stops working at once, audited.
    let r = post(&app, &format!("{path}/tap/revoke"), &admin, &[]).await;
    assert_eq!(location(&r), format!("{path}?done=tap-revoked"));
    assert!(app.state.stores.taps.find_tap(worker.id).await.unwrap().is_none());
    assert_eq!(audit_actions(&app, "tap.delete").await.len(), 1);
    assert_eq!(app.tap_sign_in("pat", &code).await.status, StatusCode::UNAUTHORIZED);
    let page = text(&get(&app, &path, &admin).await);
    assert!(element(&page, "no-tap").is_some() && !page.contains("id=\"revoke-tap\""));
    // Revoking what is not there changes nothing.
    let r = post(&app, &format!("{path}/tap/revoke"), &admin, &[]).await;
    assert_eq!(location(&r), format!("{path}?done=no-tap"));
    assert_eq!(audit_actions(&app, "tap.delete").await.len(), 1);
}

/// The value of the first `name="…"` attribute in the page.
fn attribute(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("{name}=\""))? + name.len() + 2;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

async fn sessions_end_one_at_a_time(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let worker = app.user("pat", Role::Worker).await;
    let path = format!("/admin/users/{}", worker.id);
    let page = text(&get(&app, &path, &admin).await);
    assert_eq!(element(&page, "session-count").as_deref(), Some("No session is open."));
    assert!(!page.contains("id=\"end-sessions\""), "no 'End all' with no session");
    let first = app.full_session(&worker).await;
    let _second = app.full_session(&worker).await;
    let page = text(&get(&app, &path, &admin).await);
    assert!(page.contains("End all 2 sessions"), "{page}");
    let ids: Vec<String> = page
        .match_indices("data-session-id=\"")
        .map(|(i, m)| page[i + m.len()..].split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    let r = post(&app, &format!("{path}/sessions/{}/end", ids[0]), &admin, &[]).await;
    assert_eq!(location(&r), format!("{path}?done=session-ended"));
    assert_eq!(live_sessions(&app, worker.id).await, 1);
    assert_eq!(audit_actions(&app, "session.revoke").await.len(), 1);
    // Another user's session, or an ended one, is not found; nothing changes.
    let other = app.user("quinn", Role::Worker).await;
    let r = post(
        &app,
        &format!("/admin/users/{}/sessions/{}/end", other.id, ids[1]),
        &admin,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(&app, &format!("{path}/sessions/{}/end", ids[0]), &admin, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(&app, &format!("{path}/sessions/not-an-id/end"), &admin, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(live_sessions(&app, worker.id).await, 1);
    let _ = first;
}

async fn disabling_takes_a_confirmation_and_the_user_is_told_why(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (worker, mut key, _) = worker_with_key(&app, "pat").await;
    let path = format!("/admin/users/{}", worker.id);
    let page = text(&get(&app, &path, &admin).await);
    assert!(
        page.contains(&format!("href=\"{path}/disable\"")),
        "disabling is a link to a confirmation"
    );
    let confirm = text(&get(&app, &format!("{path}/disable"), &admin).await);
    assert!(
        confirm.contains("Their 2 open sessions end now."),
        "the pass's and the key's: {confirm}"
    );
    assert!(confirm.contains("name=\"enabled\" value=\"false\""));
    assert!(
        stored_user(&app, worker.id).await.unwrap().enabled,
        "looking changes nothing"
    );
    // A pass issued before the account was disabled.
    let code = app.tap(worker.id, false).await;
    let r = post(&app, &format!("{path}/enabled"), &admin, &[("enabled", "false")]).await;
    assert_eq!(location(&r), format!("{path}?done=disabled"));
    assert_eq!(live_sessions(&app, worker.id).await, 0);
    // With the key (username-less: for a disabled user's name the options name no real key,
    // as for an unknown one): the assertion is checked first, then the holder is told why.
    let c = sign_in_options(&app, None).await;
    let cred = key.sign_in(&c.options, ORIGIN).unwrap();
    sign_in_verify(&app, &c.id, cred)
        .await
        .problem(StatusCode::UNAUTHORIZED, "account_disabled");
    assert_eq!(live_sessions(&app, worker.id).await, 0);
    // Someone without the key learns nothing: a forged assertion gets the usual answer.
    let mut stranger = TestKey::from_seed(b"not pat's key");
    stranger.credential_id = key.credential_id.clone();
    let c = sign_in_options(&app, None).await;
    let forged = stranger.sign_in(&c.options, ORIGIN).unwrap();
    let answer = sign_in_verify(&app, &c.id, forged).await;
    assert_ne!(answer.json()["code"], "account_disabled", "{}", text(&answer));
    // With the right pass: told why (403); with a wrong one: the generic answer.
    app.tap_sign_in("pat", &code)
        .await
        .problem(StatusCode::FORBIDDEN, "account_disabled");
    app.tap_sign_in("pat", "WRONGWRONGWRONGWRONG")
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_tap");
    // The sign-in page says it in words.
    let form = crate::pages::post_page(&app, "/login/tap", None, &[("username", "pat"), ("code", &code)]).await;
    assert_eq!(form.status, StatusCode::FORBIDDEN);
    assert!(text(&form).contains("Your account is disabled"), "{}", text(&form));
    // Enabled again: the key works.
    let r = post(&app, &format!("{path}/enabled"), &admin, &[("enabled", "true")]).await;
    assert_eq!(location(&r), format!("{path}?done=enabled"));
    sign_in(&app, Some("pat"), &mut key).await;
}

async fn helpdesk_sees_protected_users_read_only(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, desk) = staff(&app, "desk", Role::Helpdesk).await;
    let boss = app.user("boss", Role::Admin).await;
    let path = format!("/admin/users/{}", boss.id);
    let before = denied(&app).await;
    let r = get(&app, &path, &desk).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let page = text(&r);
    assert!(element(&page, "read-only").is_some(), "{page}");
    assert!(
        !page.contains(&format!("action=\"{path}")),
        "no form acts on the administrator: {page}"
    );
    assert!(
        !page.contains(&format!("href=\"{path}/")),
        "no link to a refused page: {page}"
    );
    assert_eq!(denied(&app).await, before, "looking is not a refusal");
    // What the page does not offer stays refused.
    let before = denied(&app).await;
    assert_refused(&app, &get(&app, &format!("{path}/disable"), &desk).await, before).await;
    // A worker's page offers the changes helpdesk may make, but not deletion.
    let worker = app.user("pat", Role::Worker).await;
    let page = text(&get(&app, &format!("/admin/users/{}", worker.id), &desk).await);
    assert!(element(&page, "read-only").is_none());
    assert!(page.contains("id=\"disable-user\"") && !page.contains("id=\"delete-user\""));
}

async fn helpdesk_reads_groups_without_forms(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, desk) = staff(&app, "desk", Role::Helpdesk).await;
    let g = group(&app, "Night shift").await;
    let list = text(&get(&app, "/admin/groups", &desk).await);
    assert!(
        list.contains("Night shift") && list.contains("id=\"read-only\""),
        "{list}"
    );
    assert!(!list.contains("action=\"/admin/groups\""), "no create form");
    assert!(list.contains("href=\"/admin/groups\""), "the navigation offers groups");
    assert!(!list.contains("href=\"/admin/clients\""), "but not API clients");
    let page = text(&get(&app, &format!("/admin/groups/{}", g.id), &desk).await);
    assert!(page.contains("id=\"read-only\"") && !page.contains("<form method=\"post\" action=\"/admin/groups/"));
    assert!(!page.contains("/delete\""), "no delete link: {page}");
    let before = denied(&app).await;
    assert_refused(
        &app,
        &post(&app, "/admin/groups", &desk, &[("name", "Mine")]).await,
        before,
    )
    .await;
}

async fn error_pages_keep_the_navigation(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, desk) = staff(&app, "desk", Role::Helpdesk).await;
    // A refused page, and an unknown one: the helpdesk user still has the bar and sign-out.
    for (path, status) in [
        ("/admin/clients", StatusCode::FORBIDDEN),
        ("/admin/no-such-page", StatusCode::NOT_FOUND),
        ("/no-such-page", StatusCode::NOT_FOUND),
        ("/admin/users/not-an-id", StatusCode::NOT_FOUND),
    ] {
        let r = get(&app, path, &desk).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.headers[header::CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        let page = text(&r);
        assert!(
            page.contains("action=\"/logout\"") && page.contains("href=\"/admin/users\""),
            "{path}: {page}"
        );
        assert!(page.contains("name=\"_csrf\""), "{path}: sign-out works");
    }
    // Nobody signed in: the page, without a bar; a program: problem JSON.
    let r = app
        .send(
            axum::http::Request::builder()
                .uri("/no-such-page")
                .header(header::ACCEPT, "text/html")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!text(&r).contains("action=\"/logout\""));
    let r = app
        .send(
            axum::http::Request::builder()
                .uri("/no-such-page")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json");
}

async fn an_administrator_with_a_pass_is_told_the_console_needs_a_key(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let boss = app.user("boss", Role::Admin).await;
    let code = app.tap(boss.id, true).await;
    let r = app.tap_sign_in("boss", &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", text(&r));
    let cookie = r.cookie();
    let before = denied(&app).await;
    let r = get(&app, "/admin/users", &cookie).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = text(&r);
    assert!(page.contains("Sign in with your security key"), "{page}");
    assert!(
        page.contains("needs a sign-in") && page.contains("with a security key"),
        "{page}"
    );
    assert!(
        !page.contains("is for administrators"),
        "not told the console is for administrators: {page}"
    );
    assert!(page.contains("action=\"/logout\""), "the error page keeps sign-out");
    assert_eq!(denied(&app).await, before + 1, "the refusal is audited");
}
