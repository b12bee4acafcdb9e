//! The server-rendered pages over HTTP, on both stores: `/login` (headers, hints, `next`), the
//! temporary-access-pass form, `/security-info` (the key list, rename, remove, lost), sign-out,
//! the CSRF defences, the HTML 404 and the assets.
//!
//! Forms are sent as a browser on one of our pages sends them: `Origin` set, urlencoded body,
//! `_csrf` computed with `web::page::csrf_token` (or scraped from the page that holds the form).
//! Keys are real software keys (`keyfleet-webauthn-testkey`) registered and signed in with
//! through the JSON ceremony routes, so sessions opened with a key carry its credential id.
//!
//! Tests that never touch a store (assets, 404 fallbacks) run on SQLite only.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use keyfleet_domain::user::{Role, User};
use keyfleet_server::web::models::model_label;
use keyfleet_server::web::page::{PAGE_CSP, csrf_token};
use keyfleet_webauthn_testkey::{TestKey, b64};
use serde_json::json;

use crate::harness::{Auth, Backend, ORIGIN, Resp, TestApp, request};
use crate::on_both_stores;
use crate::webauthn_kit::{REG_VERIFY, audit_actions, reg_options, sign_in, stored};

on_both_stores!(
    tap_session_offers_sign_in_with_the_key_only_once_one_is_added,
    login_page_headers_hint_and_next,
    signed_in_user_is_sent_on_from_login,
    tap_form_opens_a_tap_session,
    tap_form_failures_are_generic_then_rate_limited,
    tap_form_refused_without_csrf_or_from_another_site,
    security_info_needs_a_session,
    key_list_shows_keys_models_and_this_sign_in,
    rename_escapes_and_refuses_bad_nicknames,
    remove_keeps_sessions_by_default,
    remove_ends_sessions_when_configured,
    last_key_needs_explicit_confirmation,
    lost_key_ends_its_sessions_and_this_one,
    lost_key_json_route,
    logout_and_logout_everywhere,
    csrf_token_and_cross_site_refusals,
    removed_keys_sessions_end_at_the_next_sign_in,
    sign_in_after_an_ended_session_returns_to_a_page,
    malformed_forms_get_an_error_page,
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `3559c435-ff17-4bc9-b942-325c1f348b94`, listed in `data/aaguids.tsv`.
const NFC_AAGUID: [u8; 16] = [
    0x35, 0x59, 0xc4, 0x35, 0xff, 0x17, 0x4b, 0xc9, 0xb9, 0x42, 0x32, 0x5c, 0x1f, 0x34, 0x8b, 0x94,
];
const NFC_MODEL: &str = "keyfleet NFC security key (software)";
const FORM: &str = "application/x-www-form-urlencoded";
const EVIL: &str = "https://evil.example";

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The token of a `keyfleet_session=…` cookie.
fn token(cookie: &str) -> &str {
    cookie
        .strip_prefix("keyfleet_session=")
        .unwrap_or_else(|| panic!("not a session cookie: {cookie}"))
}

/// The `_csrf` value a page shows to the browser holding `cookie`.
fn csrf(app: &TestApp, cookie: Option<&str>) -> String {
    csrf_token(&app.state.csrf_key, cookie.map(token))
}

/// A browser's GET of a page.
fn page_req(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

async fn get_page(app: &TestApp, path: &str, cookie: Option<&str>) -> Resp {
    app.send(page_req(path, cookie)).await
}

/// A form POST with exactly these fields (no `_csrf` added), Origin ours.
fn form_req(path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, FORM)
        .header(header::ACCEPT, "text/html");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
        .unwrap()
}

/// A form POST as our page sends it: the right `_csrf` first, then `fields`.
pub(crate) async fn post_page(app: &TestApp, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Resp {
    let t = csrf(app, cookie);
    let mut all = vec![("_csrf", t.as_str())];
    all.extend_from_slice(fields);
    app.send(form_req(path, cookie, &all)).await
}

fn location(r: &Resp) -> &str {
    r.headers
        .get(header::LOCATION)
        .unwrap_or_else(|| panic!("no Location ({}): {}", r.status, text(r)))
        .to_str()
        .unwrap()
}

fn assert_see_other(r: &Resp, to: &str) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(r));
    assert_eq!(location(r), to);
}

/// Asserts an HTML page with this status and the pages' CSP; returns its text.
fn html(r: &Resp, status: StatusCode) -> String {
    let body = text(r);
    assert_eq!(r.status, status, "{body}");
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(r.headers[header::CONTENT_SECURITY_POLICY], PAGE_CSP);
    assert!(body.starts_with("<!doctype html>"), "{body}");
    // The CSP forbids inline code, so a page must not hold any.
    assert!(!body.contains("<script>"), "inline script: {body}");
    assert!(
        !body.contains(" style=") && !body.contains("<style"),
        "inline style: {body}"
    );
    assert!(
        !body.contains(" onclick=") && !body.contains(" onload="),
        "inline handler: {body}"
    );
    body
}

/// The refusal page of the CSRF defence.
fn assert_form_refused(r: &Resp) {
    let body = html(r, StatusCode::FORBIDDEN);
    assert!(body.contains("This form could not be sent"), "{body}");
    assert!(r.headers.get(header::SET_COOKIE).is_none());
}

/// Asserts the response clears the session cookie.
fn assert_cookie_cleared(r: &Resp) {
    let sc = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(sc.starts_with("keyfleet_session=;"), "{sc}");
    assert!(sc.contains("Max-Age=0"), "{sc}");
}

/// Undoes HTML escaping (either named or numeric entities).
fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The text between the first `start` and the next `end` after it.
fn between<'a>(hay: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = hay.find(start)? + start.len();
    let len = hay[from..].find(end)?;
    Some(&hay[from..from + len])
}

/// The `<li>` of one key on the security-info page.
fn key_block<'a>(page: &'a str, id: &str) -> &'a str {
    between(page, &format!("data-key-id=\"{id}\""), "</li>")
        .unwrap_or_else(|| panic!("no key {id} on the page: {page}"))
}

/// The hidden `_csrf` of the first form on a page.
fn scraped_csrf(page: &str) -> String {
    unescape(between(page, "name=\"_csrf\" value=\"", "\"").expect("a _csrf field"))
}

async fn me_status(app: &TestApp, cookie: &str) -> StatusCode {
    app.call(Method::GET, "/api/v1/me", Auth::Cookie(cookie), None)
        .await
        .status
}

/// Registers `key` under `nickname` for the session `cookie`.
async fn add_key(app: &TestApp, cookie: &str, key: &mut TestKey, nickname: &str) {
    let c = reg_options(app, cookie).await;
    let credential = key.register(&c.options, ORIGIN).expect("the key registers");
    let body = json!({ "ceremonyId": c.id, "nickname": nickname, "credential": credential });
    let r = app
        .call(Method::POST, REG_VERIFY, Auth::Cookie(cookie), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", text(&r));
}

/// A worker with two keys ("Lanyard key", a known model; "Desk key", an unknown one) and a
/// session opened with each.
struct TwoKeys {
    user: User,
    tap: String,
    a: TestKey,
    b: TestKey,
    a_id: String,
    b_id: String,
    cookie_a: String,
    cookie_b: String,
}

async fn two_keys(app: &TestApp, username: &str) -> TwoKeys {
    let (user, tap) = app.tap_session(username).await;
    let mut a = TestKey::from_seed(format!("{username} lanyard").as_bytes());
    a.aaguid = NFC_AAGUID;
    a.transports = vec!["usb".into(), "nfc".into()];
    add_key(app, &tap, &mut a, "Lanyard key").await;
    let mut b = TestKey::from_seed(format!("{username} desk").as_bytes());
    add_key(app, &tap, &mut b, "Desk key").await;
    let cookie_a = sign_in(app, Some(username), &mut a).await;
    let cookie_b = sign_in(app, Some(username), &mut b).await;
    let (a_id, b_id) = (b64(&a.credential_id), b64(&b.credential_id));
    TwoKeys {
        user,
        tap,
        a,
        b,
        a_id,
        b_id,
        cookie_a,
        cookie_b,
    }
}

async fn nickname(app: &TestApp, id: &[u8]) -> String {
    stored(app, id).await.nickname
}

async fn key_exists(app: &TestApp, id: &[u8]) -> bool {
    app.state.stores.credentials.get_credential(id).await.unwrap().is_some()
}

// ---------------------------------------------------------------------------------------------
// /login
// ---------------------------------------------------------------------------------------------

async fn login_page_headers_hint_and_next(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let r = get_page(&app, "/login", None).await;
    let page = html(&r, StatusCode::OK);
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // Nothing about our URLs reaches other sites (`same-origin` keeps the Origin header on
    // our own form posts, which the CSRF defence needs).
    let referrer = r.headers[header::REFERRER_POLICY].to_str().unwrap();
    assert!(["no-referrer", "same-origin"].contains(&referrer), "{referrer}");
    assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(page.contains("id=\"username-form\""), "{page}");
    assert!(page.contains("id=\"passkey-signin\""));
    assert!(page.contains("data-next=\"/security-info\""));
    assert!(!page.contains("id=\"hinted\""));
    // The TAP form's token is the anonymous one.
    assert_eq!(scraped_csrf(&page), csrf(&app, None));

    // A hint is shown in its canonical form and replaces the username step.
    let page = html(&get_page(&app, "/login?login_hint=Alice", None).await, StatusCode::OK);
    assert!(page.contains("id=\"hinted\""), "{page}");
    assert!(page.contains("data-username=\"alice\""), "{page}");
    assert!(page.contains("<strong id=\"hint-name\">alice</strong>"), "{page}");
    assert!(!page.contains("id=\"username-form\""), "{page}");
    assert!(!page.contains("Alice"), "{page}");

    // A hint that is no username is ignored, never reflected.
    let q = serde_urlencoded::to_string([("login_hint", "\"><script>alert(1)</script>")]).unwrap();
    let page = html(&get_page(&app, &format!("/login?{q}"), None).await, StatusCode::OK);
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("alert(1)"), "{page}");
    assert!(!page.contains("id=\"hinted\""), "{page}");
    assert!(page.contains("id=\"username-form\""));

    // `next` pointing elsewhere is not honoured, in the page or in the TAP form.
    for bad in [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/\n//evil.example",
        "/\t/evil.example",
    ] {
        let q = serde_urlencoded::to_string([("next", bad)]).unwrap();
        let page = html(&get_page(&app, &format!("/login?{q}"), None).await, StatusCode::OK);
        assert!(page.contains("data-next=\"/security-info\""), "{bad}: {page}");
        assert!(page.contains("name=\"next\" value=\"/security-info\""), "{bad}: {page}");
        assert!(!page.contains("evil.example"), "{bad}: {page}");
    }
    // A path of ours is kept.
    let page = html(
        &get_page(&app, "/login?next=%2Fadmin%2Fusers", None).await,
        StatusCode::OK,
    );
    assert!(page.contains("data-next=\"/admin/users\""), "{page}");

    // Notices only for known `done` values.
    let page = html(&get_page(&app, "/login?done=signed-out", None).await, StatusCode::OK);
    assert!(page.contains("You have signed out."), "{page}");
    let page = html(
        &get_page(&app, "/login?done=%3Cb%3Ehi%3C%2Fb%3E", None).await,
        StatusCode::OK,
    );
    assert!(!page.contains("<b>hi") && !page.contains("role=\"status\""), "{page}");
}

async fn signed_in_user_is_sent_on_from_login(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let pat = app.user("pat", Role::Worker).await;
    let full = app.full_session(&pat).await;

    assert_see_other(&get_page(&app, "/login", Some(&full)).await, "/security-info");
    assert_see_other(
        &get_page(&app, "/login?next=%2Fadmin%2Faudit", Some(&full)).await,
        "/admin/audit",
    );
    assert_see_other(
        &get_page(&app, "/login?next=%2F%2Fevil.example", Some(&full)).await,
        "/security-info",
    );
    // A hint for (possibly) another account shows the page.
    html(
        &get_page(&app, "/login?login_hint=sam", Some(&full)).await,
        StatusCode::OK,
    );
    // So does a notice.
    html(
        &get_page(&app, "/login?done=registered", Some(&full)).await,
        StatusCode::OK,
    );
    // The page's token then belongs to the session cookie.
    let page = html(
        &get_page(&app, "/login?login_hint=sam", Some(&full)).await,
        StatusCode::OK,
    );
    assert_eq!(scraped_csrf(&page), csrf(&app, Some(&full)));

    // A TAP session is not "signed in" for this purpose: it still needs a key.
    let (_, tap) = app.tap_session("sam").await;
    html(&get_page(&app, "/login", Some(&tap)).await, StatusCode::OK);
    // An ended session is nobody.
    html(
        &get_page(&app, "/login", Some("keyfleet_session=not-a-live-session")).await,
        StatusCode::OK,
    );
}

// ---------------------------------------------------------------------------------------------
// The temporary-access-pass form
// ---------------------------------------------------------------------------------------------

async fn tap_form_opens_a_tap_session(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let pat = app.user("pat", Role::Worker).await;
    let code = app.tap(pat.id, true).await;

    // As a browser: the token comes from the sign-in page.
    let page = html(&get_page(&app, "/login", None).await, StatusCode::OK);
    let t = scraped_csrf(&page);
    let r = app
        .send(form_req(
            "/login/tap",
            None,
            &[
                ("_csrf", &t),
                ("next", "/security-info"),
                ("username", "Pat"),
                ("code", &format!(" {code} ")),
            ],
        ))
        .await;
    assert_see_other(&r, "/security-info");
    let sc = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(sc.contains("HttpOnly") && sc.contains("SameSite=Lax"), "{sc}");
    let cookie = r.cookie();
    let me = app.call(Method::GET, "/api/v1/me", Auth::Cookie(&cookie), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["session"]["kind"], "tap");

    // The page shows only the add-key panel.
    let page = html(&get_page(&app, "/security-info", Some(&cookie)).await, StatusCode::OK);
    assert!(page.contains("id=\"add-key\""), "{page}");
    assert!(page.contains("id=\"welcome-title\""), "{page}");
    let after = between(&page, "data-after=\"", "\"").expect("where to go after adding a key");
    assert!(after.starts_with('/') && !after.starts_with("//"), "{after}");
    for absent in ["id=\"keys\"", "id=\"no-keys\"", "signout-everywhere", "sessions-title"] {
        assert!(!page.contains(absent), "{absent}: {page}");
    }
    assert!(!page.contains("href=\"/admin/users\""), "{page}");
    // Nothing but adding a key.
    let r = get_page(&app, "/admin/users", Some(&cookie)).await;
    html(&r, StatusCode::FORBIDDEN);
    let r = post_page(
        &app,
        "/security-info/keys/AAAA/rename",
        Some(&cookie),
        &[("nickname", "x")],
    )
    .await;
    html(&r, StatusCode::FORBIDDEN);
    for what in ["remove", "lost"] {
        let path = format!("/security-info/keys/AAAA/{what}");
        html(&get_page(&app, &path, Some(&cookie)).await, StatusCode::FORBIDDEN);
        let r = post_page(&app, &path, Some(&cookie), &[("confirm_last", "1")]).await;
        html(&r, StatusCode::FORBIDDEN);
    }

    // The same for an administrator signed in with a pass: no console.
    let ada = app.user("ada", Role::Admin).await;
    let code = app.tap(ada.id, true).await;
    let r = post_page(&app, "/login/tap", None, &[("username", "ada"), ("code", &code)]).await;
    assert_see_other(&r, "/security-info");
    let cookie = r.cookie();
    html(
        &get_page(&app, "/admin/users", Some(&cookie)).await,
        StatusCode::FORBIDDEN,
    );
    html(
        &get_page(&app, "/admin/audit", Some(&cookie)).await,
        StatusCode::FORBIDDEN,
    );
    let page = html(&get_page(&app, "/security-info", Some(&cookie)).await, StatusCode::OK);
    assert!(!page.contains("href=\"/admin/users\""), "{page}");

    // A one-time pass works once.
    let r = post_page(&app, "/login/tap", None, &[("username", "ada"), ("code", &code)]).await;
    html(&r, StatusCode::UNAUTHORIZED);
}

async fn tap_form_failures_are_generic_then_rate_limited(b: Backend) {
    let app = TestApp::new(b, &[("KEYFLEET_TAP_ATTEMPTS_PER_USER", "2")]).await;
    let pat = app.user("pat", Role::Worker).await;
    let code = app.tap(pat.id, true).await;
    let wrong = if code.starts_with('A') { "B" } else { "A" }.repeat(code.len());

    let r = post_page(&app, "/login/tap", None, &[("username", "pat"), ("code", &wrong)]).await;
    let page = html(&r, StatusCode::UNAUTHORIZED);
    assert!(r.headers.get(header::SET_COOKIE).is_none());
    let message = between(&page, "id=\"tap-error\">", "</p>")
        .expect("the error")
        .to_owned();
    assert!(message.contains("do not match"), "{message}");
    assert!(
        page.contains("id=\"tap-username\" name=\"username\" value=\"pat\""),
        "{page}"
    );

    // An unknown user, and a username that is no username, get the very same words; what
    // was typed comes back escaped.
    let r = post_page(&app, "/login/tap", None, &[("username", "nobody"), ("code", &wrong)]).await;
    let page = html(&r, StatusCode::UNAUTHORIZED);
    assert_eq!(between(&page, "id=\"tap-error\">", "</p>"), Some(message.as_str()));
    let evil = "\"><script>alert(1)</script>";
    let r = post_page(&app, "/login/tap", None, &[("username", evil), ("code", &wrong)]).await;
    let page = html(&r, StatusCode::UNAUTHORIZED);
    assert_eq!(between(&page, "id=\"tap-error\">", "</p>"), Some(message.as_str()));
    assert!(!page.contains("<script>alert"), "{page}");
    let shown = between(&page, "id=\"tap-username\" name=\"username\" value=\"", "\"").unwrap();
    assert_eq!(unescape(shown), evil);

    // The second failure for pat reaches the limit: even the right code is now refused.
    let r = post_page(&app, "/login/tap", None, &[("username", "pat"), ("code", &wrong)]).await;
    html(&r, StatusCode::UNAUTHORIZED);
    let r = post_page(&app, "/login/tap", None, &[("username", "PAT"), ("code", &code)]).await;
    let page = html(&r, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.get(header::SET_COOKIE).is_none());
    let retry: u64 = r.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry > 0);
    assert!(page.contains("Too many failed attempts"), "{page}");
    // Nobody else is affected.
    let (_, _) = app.tap_session("sam").await;
}

async fn tap_form_refused_without_csrf_or_from_another_site(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let pat = app.user("pat", Role::Worker).await;
    let code = app.tap(pat.id, true).await;
    let good = csrf(&app, None);
    let tap_form = |t: Option<&str>| {
        let mut f = vec![("username", "pat"), ("code", code.as_str())];
        if let Some(t) = t {
            f.push(("_csrf", t));
        }
        form_req("/login/tap", None, &f)
    };

    // No token.
    assert_form_refused(&app.send(tap_form(None)).await);
    // A token that is not this browser's.
    let other = csrf_token(&app.state.csrf_key, Some("someone-else"));
    assert_form_refused(&app.send(tap_form(Some(&other))).await);
    // A foreign Origin, with a valid token.
    let mut req = tap_form(Some(&good));
    req.headers_mut().insert(header::ORIGIN, EVIL.parse().unwrap());
    assert_form_refused(&app.send(req).await);
    // No Origin at all.
    let mut req = tap_form(Some(&good));
    req.headers_mut().remove(header::ORIGIN);
    assert_form_refused(&app.send(req).await);
    // Marked cross-site by the browser.
    let mut req = tap_form(Some(&good));
    req.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_form_refused(&app.send(req).await);
    assert!(
        audit_actions(&app, "tap.redeem").await.is_empty(),
        "refused forms never reach the pass"
    );

    // None of these used the pass, or counted as a failed guess.
    let r = app.send(tap_form(Some(&good))).await;
    assert_see_other(&r, "/security-info");
    assert_eq!(me_status(&app, &r.cookie()).await, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// /security-info
// ---------------------------------------------------------------------------------------------

async fn security_info_needs_a_session(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    assert_see_other(
        &get_page(&app, "/security-info", None).await,
        "/login?next=%2Fsecurity-info",
    );
    assert_see_other(
        &get_page(&app, "/security-info?done=added", None).await,
        "/login?next=%2Fsecurity-info%3Fdone%3Dadded",
    );
    assert_see_other(
        &get_page(&app, "/security-info", Some("keyfleet_session=ended")).await,
        "/login?next=%2Fsecurity-info",
    );
    // `/` sends people on.
    assert_see_other(&get_page(&app, "/", None).await, "/login");
    // A form POST without a session changes nothing and goes to sign-in.
    let r = post_page(&app, "/security-info/keys/AAAA/rename", None, &[("nickname", "x")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    assert!(location(&r).starts_with("/login?next="), "{}", location(&r));
}

async fn key_list_shows_keys_models_and_this_sign_in(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let k = two_keys(&app, "pat").await;
    let a_model = model_label(&stored(&app, &k.a.credential_id).await.aaguid);
    let b_model = model_label(&stored(&app, &k.b.credential_id).await.aaguid);
    assert_eq!(a_model, NFC_MODEL);
    assert_eq!(b_model, "Unknown model");

    let r = get_page(&app, "/security-info", Some(&k.cookie_a)).await;
    let page = html(&r, StatusCode::OK);
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(scraped_csrf(&page), csrf(&app, Some(&k.cookie_a)));
    let a = key_block(&page, &k.a_id);
    let bb = key_block(&page, &k.b_id);
    assert!(a.contains("<h3 class=\"key-name\">Lanyard key</h3>"), "{a}");
    assert!(bb.contains("<h3 class=\"key-name\">Desk key</h3>"), "{bb}");
    assert!(a.contains(&format!("<dd>{NFC_MODEL}</dd>")), "{a}");
    assert!(bb.contains("<dd>Unknown model</dd>"), "{bb}");
    assert!(a.contains("USB, NFC"), "{a}");
    assert!(a.contains("Used for this sign-in"), "{a}");
    assert!(!bb.contains("Used for this sign-in"), "{bb}");
    assert_eq!(page.matches("Used for this sign-in").count(), 1);
    assert!(a.contains(&format!("action=\"/security-info/keys/{}/rename\"", k.a_id)));
    assert!(page.contains("id=\"signout-everywhere\""));
    assert!(page.contains("this browser"));
    assert!(
        page.contains("<td data-label=\"With\">security key</td>")
            && page.contains("<td data-label=\"With\">temporary access pass</td>")
    );

    // From the other key's session, the badge moves.
    let page = html(
        &get_page(&app, "/security-info", Some(&k.cookie_b)).await,
        StatusCode::OK,
    );
    assert!(!key_block(&page, &k.a_id).contains("Used for this sign-in"));
    assert!(key_block(&page, &k.b_id).contains("Used for this sign-in"));

    // A session not opened with a key (here: straight in the store) marks none.
    let full = app.full_session(&k.user).await;
    let page = html(&get_page(&app, "/security-info", Some(&full)).await, StatusCode::OK);
    assert!(!page.contains("Used for this sign-in"));

    // Another user sees only their own keys.
    let sam = app.user("sam", Role::Worker).await;
    let sam_cookie = app.full_session(&sam).await;
    let page = html(
        &get_page(&app, "/security-info", Some(&sam_cookie)).await,
        StatusCode::OK,
    );
    assert!(page.contains("id=\"no-keys\""), "{page}");
    assert!(!page.contains("Lanyard key") && !page.contains(&k.a_id));
}

async fn rename_escapes_and_refuses_bad_nicknames(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let k = two_keys(&app, "pat").await;
    let path = format!("/security-info/keys/{}/rename", k.a_id);

    let script = "<script>alert(1)</script>";
    let r = post_page(&app, &path, Some(&k.cookie_a), &[("nickname", script)]).await;
    assert_see_other(&r, "/security-info?done=renamed");
    assert_eq!(nickname(&app, &k.a.credential_id).await, script, "stored as typed");
    let page = html(
        &get_page(&app, "/security-info?done=renamed", Some(&k.cookie_a)).await,
        StatusCode::OK,
    );
    assert!(page.contains("The nickname was changed."));
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            || page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "escaped: {page}"
    );
    let block = key_block(&page, &k.a_id);
    let shown = between(block, "<h3 class=\"key-name\">", "</h3>").unwrap();
    assert_eq!(unescape(shown), script);
    let value = between(block, "name=\"nickname\" value=\"", "\"").unwrap();
    assert_eq!(unescape(value), script);

    let quotes = "\"quotes' & more";
    let r = post_page(&app, &path, Some(&k.cookie_a), &[("nickname", quotes)]).await;
    assert_see_other(&r, "/security-info?done=renamed");
    assert_eq!(nickname(&app, &k.a.credential_id).await, quotes);
    let page = html(
        &get_page(&app, "/security-info", Some(&k.cookie_a)).await,
        StatusCode::OK,
    );
    assert!(!page.contains("\"quotes'"), "raw quotes: {page}");
    assert!(!page.contains("' & more"), "raw ampersand: {page}");
    let block = key_block(&page, &k.a_id);
    // The value attribute ends where it should: the escaped text decodes to the nickname.
    let value = between(block, "name=\"nickname\" value=\"", "\"").unwrap();
    assert!(!value.contains('\'') && !value.contains('<'), "{value}");
    assert_eq!(unescape(value), quotes);
    assert!(
        block.contains("required maxlength=\"64\""),
        "attribute context intact: {block}"
    );

    // Refused nicknames: the page says so, nothing changes, nothing is audited.
    let renames = audit_actions(&app, "credential.rename").await.len();
    assert_eq!(renames, 2);
    let long = "a".repeat(10_000);
    for bad in ["Blue\u{202E}yek", "tab\there", "   ", long.as_str()] {
        let r = post_page(&app, &path, Some(&k.cookie_a), &[("nickname", bad)]).await;
        if r.status == StatusCode::PAYLOAD_TOO_LARGE {
            html(&r, StatusCode::PAYLOAD_TOO_LARGE);
        } else {
            let page = html(&r, StatusCode::UNPROCESSABLE_ENTITY);
            let error = between(&page, "id=\"page-error\">", "</p>").expect("an error message");
            assert!(error.contains("not changed"), "{error}");
            assert!(!page.contains('\u{202E}'), "the refused text is not echoed");
            // The page still lists the keys, with the old name.
            assert!(
                key_block(&page, &k.a_id).contains("&#34;quotes") || key_block(&page, &k.a_id).contains("&quot;quotes")
            );
        }
        assert_eq!(
            nickname(&app, &k.a.credential_id).await,
            quotes,
            "{:?}",
            &bad[..bad.len().min(20)]
        );
    }
    // Exactly 64 characters is fine; 65 is not.
    let r = post_page(&app, &path, Some(&k.cookie_a), &[("nickname", &"é".repeat(65))]).await;
    html(&r, StatusCode::UNPROCESSABLE_ENTITY);
    let r = post_page(&app, &path, Some(&k.cookie_a), &[("nickname", &"é".repeat(64))]).await;
    assert_see_other(&r, "/security-info?done=renamed");
    assert_eq!(nickname(&app, &k.a.credential_id).await, "é".repeat(64));
    assert_eq!(audit_actions(&app, "credential.rename").await.len(), renames + 1);

    // Another user's key: not found, and untouched.
    let (_, sam_tap) = app.tap_session("sam").await;
    let mut sams = TestKey::from_seed(b"sam key");
    add_key(&app, &sam_tap, &mut sams, "Sam's key").await;
    let sam_id = b64(&sams.credential_id);
    let r = post_page(
        &app,
        &format!("/security-info/keys/{sam_id}/rename"),
        Some(&k.cookie_a),
        &[("nickname", "mine now")],
    )
    .await;
    let page = html(&r, StatusCode::NOT_FOUND);
    assert!(!page.contains("Sam's key") && !page.contains("Sam&#39;s key"));
    assert_eq!(nickname(&app, &sams.credential_id).await, "Sam's key");
    // Its confirmation pages are not found either (they would show the nickname).
    for what in ["remove", "lost"] {
        let r = get_page(&app, &format!("/security-info/keys/{sam_id}/{what}"), Some(&k.cookie_a)).await;
        let page = html(&r, StatusCode::NOT_FOUND);
        assert!(!page.contains("Sam"), "{page}");
    }

    // Ids that are no ids, and ids that do not exist.
    for id in ["%21%21%21", "not*base64", "AAAA", "zzzz"] {
        let r = post_page(
            &app,
            &format!("/security-info/keys/{id}/rename"),
            Some(&k.cookie_a),
            &[("nickname", "x")],
        )
        .await;
        html(&r, StatusCode::NOT_FOUND);
        let r = get_page(&app, &format!("/security-info/keys/{id}/remove"), Some(&k.cookie_a)).await;
        html(&r, StatusCode::NOT_FOUND);
    }
    assert_eq!(audit_actions(&app, "credential.rename").await.len(), renames + 1);
    // The TAP session that added the keys may not rename them.
    let r = post_page(&app, &path, Some(&k.tap), &[("nickname", "tap rename")]).await;
    html(&r, StatusCode::FORBIDDEN);
    assert_eq!(nickname(&app, &k.a.credential_id).await, "é".repeat(64));
}

async fn remove_keeps_sessions_by_default(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let k = two_keys(&app, "pat").await;
    let confirm = format!("/security-info/keys/{}/remove", k.b_id);

    let page = html(&get_page(&app, &confirm, Some(&k.cookie_a)).await, StatusCode::OK);
    assert!(page.contains("Remove “Desk key”?"), "{page}");
    assert!(page.contains("last until your next sign-in"), "{page}");
    assert!(!page.contains("end now"), "{page}");
    assert!(!page.contains("confirm_last"), "not the last key: {page}");
    assert!(page.contains(&format!("href=\"/security-info/keys/{}/lost\"", k.b_id)));
    assert!(page.contains(&format!("action=\"/security-info/keys/{}/remove\"", k.b_id)));
    assert_eq!(scraped_csrf(&page), csrf(&app, Some(&k.cookie_a)));
    // Looking at the confirmation changes nothing.
    assert!(key_exists(&app, &k.b.credential_id).await);

    let r = post_page(&app, &confirm, Some(&k.cookie_a), &[]).await;
    assert_see_other(&r, "/security-info?done=removed");
    assert!(r.headers.get(header::SET_COOKIE).is_none());
    assert!(!key_exists(&app, &k.b.credential_id).await);
    assert!(key_exists(&app, &k.a.credential_id).await);
    let audit = audit_actions(&app, "credential.delete").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].target.as_deref(), Some(format!("user:{}", k.user.id).as_str()));
    assert!(audit_actions(&app, "session.revoke_credential").await.is_empty());
    // The session opened with the removed key lasts (setting off by default).
    assert_eq!(me_status(&app, &k.cookie_b).await, StatusCode::OK);
    assert_eq!(me_status(&app, &k.cookie_a).await, StatusCode::OK);

    let page = html(
        &get_page(&app, "/security-info?done=removed", Some(&k.cookie_a)).await,
        StatusCode::OK,
    );
    assert!(page.contains("The key was removed."), "{page}");
    assert!(!page.contains("Desk key") && !page.contains(&k.b_id), "{page}");

    // Removing it again: not found.
    let r = post_page(&app, &confirm, Some(&k.cookie_a), &[]).await;
    html(&r, StatusCode::NOT_FOUND);
    assert_eq!(audit_actions(&app, "credential.delete").await.len(), 1);
}

async fn remove_ends_sessions_when_configured(b: Backend) {
    let app = TestApp::new(b, &[("KEYFLEET_REMOVAL_ENDS_SESSIONS", "true")]).await;
    let mut k = two_keys(&app, "pat").await;
    let confirm = format!("/security-info/keys/{}/remove", k.b_id);

    let page = html(&get_page(&app, &confirm, Some(&k.cookie_a)).await, StatusCode::OK);
    assert!(page.contains("Sessions opened with this key end now"), "{page}");
    assert!(!page.contains("last until your next sign-in"), "{page}");

    let r = post_page(&app, &confirm, Some(&k.cookie_a), &[]).await;
    assert_see_other(&r, "/security-info?done=removed");
    assert!(!key_exists(&app, &k.b.credential_id).await);
    assert_eq!(me_status(&app, &k.cookie_b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &k.cookie_a).await, StatusCode::OK);
    assert_eq!(audit_actions(&app, "credential.delete").await.len(), 1);
    assert_eq!(audit_actions(&app, "session.revoke_credential").await.len(), 1);

    // Removing the key this session was opened with (now the last one) ends this session too.
    let other_a = sign_in(&app, Some("pat"), &mut k.a).await;
    let confirm = format!("/security-info/keys/{}/remove", k.a_id);
    let page = html(&get_page(&app, &confirm, Some(&k.cookie_a)).await, StatusCode::OK);
    assert!(page.contains("including this one"), "{page}");
    assert!(page.contains("name=\"confirm_last\""), "{page}");
    let r = post_page(&app, &confirm, Some(&k.cookie_a), &[("confirm_last", "1")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    assert!(location(&r).starts_with("/login?done="), "{}", location(&r));
    assert_cookie_cleared(&r);
    assert_eq!(me_status(&app, &k.cookie_a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &other_a).await, StatusCode::UNAUTHORIZED);
    // The TAP session was not opened with a key.
    assert_eq!(me_status(&app, &k.tap).await, StatusCode::OK);
}

async fn last_key_needs_explicit_confirmation(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, tap) = app.tap_session("pat").await;
    let mut key = TestKey::from_seed(b"pat only key");
    add_key(&app, &tap, &mut key, "Only key").await;
    let cookie = sign_in(&app, Some("pat"), &mut key).await;
    let id = b64(&key.credential_id);

    for what in ["remove", "lost"] {
        let path = format!("/security-info/keys/{id}/{what}");
        let page = html(&get_page(&app, &path, Some(&cookie)).await, StatusCode::OK);
        assert!(page.contains("This is your only security key."), "{page}");
        assert!(page.contains("name=\"confirm_last\" value=\"1\""), "{page}");
        for fields in [&[][..], &[("confirm_last", "0")][..], &[("confirm_last", "on")][..]] {
            let r = post_page(&app, &path, Some(&cookie), fields).await;
            let page = html(&r, StatusCode::CONFLICT);
            assert!(page.contains("id=\"confirm-error\""), "{page}");
            assert!(page.contains("name=\"confirm_last\""), "{page}");
            assert!(key_exists(&app, &key.credential_id).await, "{what} {fields:?}");
        }
    }
    assert!(audit_actions(&app, "credential.delete").await.is_empty());
    assert!(audit_actions(&app, "credential.lost").await.is_empty());
    assert_eq!(me_status(&app, &cookie).await, StatusCode::OK);

    let r = post_page(
        &app,
        &format!("/security-info/keys/{id}/remove"),
        Some(&cookie),
        &[("confirm_last", "1")],
    )
    .await;
    assert_see_other(&r, "/security-info?done=removed");
    assert!(!key_exists(&app, &key.credential_id).await);
    assert_eq!(audit_actions(&app, "credential.delete").await.len(), 1);
    let page = html(&get_page(&app, "/security-info", Some(&cookie)).await, StatusCode::OK);
    assert!(page.contains("id=\"no-keys\""), "{page}");
}

async fn lost_key_ends_its_sessions_and_this_one(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let mut k = two_keys(&app, "pat").await;
    let second_a = sign_in(&app, None, &mut k.a).await;
    let path = format!("/security-info/keys/{}/lost", k.a_id);

    let page = html(&get_page(&app, &path, Some(&k.cookie_a)).await, StatusCode::OK);
    assert!(page.contains("Report “Lanyard key” lost or stolen"), "{page}");
    assert!(page.contains("including this one"), "{page}");
    assert!(!page.contains("confirm_last"), "{page}");
    assert!(page.contains(&format!("action=\"/security-info/keys/{}/lost\"", k.a_id)));
    // Seen from the other key's session, it does not say "this one".
    let page = html(&get_page(&app, &path, Some(&k.cookie_b)).await, StatusCode::OK);
    assert!(!page.contains("including this one"), "{page}");

    let r = post_page(&app, &path, Some(&k.cookie_a), &[]).await;
    assert_see_other(&r, "/login?done=lost");
    assert_cookie_cleared(&r);
    assert!(!key_exists(&app, &k.a.credential_id).await);
    assert!(key_exists(&app, &k.b.credential_id).await);
    assert_eq!(me_status(&app, &k.cookie_a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &second_a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &k.cookie_b).await, StatusCode::OK);
    assert_see_other(
        &get_page(&app, "/security-info", Some(&k.cookie_a)).await,
        "/login?next=%2Fsecurity-info",
    );
    let lost = audit_actions(&app, "credential.lost").await;
    assert_eq!(lost.len(), 1);
    assert!(lost[0].detail.as_deref().unwrap_or("").contains(&k.a_id));
    assert_eq!(audit_actions(&app, "session.revoke_credential").await.len(), 1);
    assert!(audit_actions(&app, "credential.delete").await.is_empty());

    let page = html(&get_page(&app, "/login?done=lost", None).await, StatusCode::OK);
    assert!(page.contains("The lost key was removed"), "{page}");

    // The lost key cannot sign in any more.
    let c = crate::webauthn_kit::sign_in_options(&app, Some("pat")).await;
    let cred =
        k.a.sign_in_with(
            &c.options,
            ORIGIN,
            &keyfleet_webauthn_testkey::Tweaks {
                ignore_credential_lists: true,
                ..Default::default()
            },
        )
        .unwrap();
    let r = crate::webauthn_kit::sign_in_verify(&app, &c.id, cred).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", text(&r));

    // Reporting the other key lost from a session opened with neither: that session lasts.
    let full = app.full_session(&k.user).await;
    let path = format!("/security-info/keys/{}/lost", k.b_id);
    let r = post_page(&app, &path, Some(&full), &[("confirm_last", "1")]).await;
    assert_see_other(&r, "/security-info?done=removed");
    assert_eq!(me_status(&app, &full).await, StatusCode::OK);
    assert_eq!(me_status(&app, &k.cookie_b).await, StatusCode::UNAUTHORIZED);
}

async fn lost_key_json_route(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let k = two_keys(&app, "pat").await;
    let (_, sam_tap) = app.tap_session("sam").await;
    let mut sams = TestKey::from_seed(b"sam key");
    add_key(&app, &sam_tap, &mut sams, "Sam's key").await;
    let sam_cookie = sign_in(&app, Some("sam"), &mut sams).await;
    let lost = |id: &str| format!("/api/v1/me/credentials/{id}/lost");

    // Another user's key, or no key: 404, nothing changes.
    let r = app
        .call(
            Method::POST,
            &lost(&b64(&sams.credential_id)),
            Auth::Cookie(&k.cookie_a),
            None,
        )
        .await;
    r.problem(StatusCode::NOT_FOUND, "not_found");
    assert!(key_exists(&app, &sams.credential_id).await);
    assert_eq!(me_status(&app, &sam_cookie).await, StatusCode::OK);
    app.call(Method::POST, &lost("%21%21"), Auth::Cookie(&k.cookie_a), None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    // A TAP session may not.
    let r = app.call(Method::POST, &lost(&k.a_id), Auth::Cookie(&k.tap), None).await;
    r.problem(StatusCode::FORBIDDEN, "tap_session_restricted");
    assert!(audit_actions(&app, "credential.lost").await.is_empty());

    // The key of this session: removed, its sessions end, the cookie is cleared.
    let r = app
        .call(Method::POST, &lost(&k.a_id), Auth::Cookie(&k.cookie_a), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    assert_cookie_cleared(&r);
    assert!(!key_exists(&app, &k.a.credential_id).await);
    assert_eq!(me_status(&app, &k.cookie_a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &k.cookie_b).await, StatusCode::OK);
    assert_eq!(me_status(&app, &sam_cookie).await, StatusCode::OK);
    assert_eq!(audit_actions(&app, "credential.lost").await.len(), 1);
    assert_eq!(audit_actions(&app, "session.revoke_credential").await.len(), 1);

    // Another key from another session: no cookie change for the caller.
    let full = app.full_session(&k.user).await;
    let r = app.call(Method::POST, &lost(&k.b_id), Auth::Cookie(&full), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", text(&r));
    assert!(r.headers.get(header::SET_COOKIE).is_none());
    assert_eq!(me_status(&app, &k.cookie_b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &full).await, StatusCode::OK);
}

/// The removal confirmation (default settings) promises "Sessions already open last until
/// your next sign-in": after the next sign-in, the sessions opened with the removed key must
/// be gone.
async fn removed_keys_sessions_end_at_the_next_sign_in(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let mut k = two_keys(&app, "pat").await;
    let confirm = format!("/security-info/keys/{}/remove", k.b_id);
    let page = html(&get_page(&app, &confirm, Some(&k.cookie_a)).await, StatusCode::OK);
    assert!(
        page.contains("Sessions already open last until your next sign-in"),
        "{page}"
    );
    let r = post_page(&app, &confirm, Some(&k.cookie_a), &[]).await;
    assert_see_other(&r, "/security-info?done=removed");
    assert_eq!(me_status(&app, &k.cookie_b).await, StatusCode::OK, "lasts for now");

    // The next sign-in.
    let fresh = sign_in(&app, Some("pat"), &mut k.a).await;
    assert_eq!(me_status(&app, &fresh).await, StatusCode::OK);
    assert_eq!(
        me_status(&app, &k.cookie_b).await,
        StatusCode::UNAUTHORIZED,
        "the session opened with the removed key outlives the next sign-in, as the page said it would not"
    );
    // Sessions opened with a key that still exists are not affected.
    assert_eq!(me_status(&app, &k.cookie_a).await, StatusCode::OK);
}

/// A form sent after the session ended goes to sign-in; after signing in, `next` must lead to
/// a page, not to a GET of a POST-only form action.
async fn sign_in_after_an_ended_session_returns_to_a_page(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let k = two_keys(&app, "pat").await;
    // The session ends (signed out elsewhere) while the page is open.
    let t = csrf(&app, Some(&k.cookie_a));
    let r = post_page(&app, "/logout", Some(&k.cookie_a), &[]).await;
    assert_see_other(&r, "/login?done=signed-out");
    let path = format!("/security-info/keys/{}/rename", k.a_id);
    let r = app
        .send(form_req(
            &path,
            Some(&k.cookie_a),
            &[("_csrf", &t), ("nickname", "late")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", text(&r));
    let to = location(&r).to_owned();
    assert!(to.starts_with("/login?next="), "{to}");
    assert_eq!(nickname(&app, &k.a.credential_id).await, "Lanyard key");
    // Sign-in then takes the browser to `next` with a GET (login.js: location.assign(next)).
    let page = html(&get_page(&app, &to, None).await, StatusCode::OK);
    let next = unescape(between(&page, "data-next=\"", "\"").unwrap());
    let r = get_page(&app, &next, Some(&k.cookie_b)).await;
    assert!(
        r.status == StatusCode::OK || r.status == StatusCode::SEE_OTHER,
        "after sign-in the browser lands on {next}: {} {}",
        r.status,
        text(&r)
    );
    if r.status == StatusCode::OK {
        html(&r, StatusCode::OK);
    }
}

/// A form with a field missing (a stale or tampered page) gets an error page like every other
/// refusal, not the framework's plain-text rejection.
async fn malformed_forms_get_an_error_page(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let pat = app.user("pat", Role::Worker).await;
    let s = app.full_session(&pat).await;
    for (path, cookie, fields) in [
        ("/security-info/keys/AAAA/rename", Some(s.as_str()), &[][..]),
        ("/login/tap", None, &[("username", "pat")][..]),
    ] {
        let r = post_page(&app, path, cookie, fields).await;
        assert!(r.status.is_client_error(), "{path}: {}", r.status);
        let ct = r.headers[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/html"), "{path}: {} {ct}: {}", r.status, text(&r));
        html(&r, r.status);
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-out and CSRF
// ---------------------------------------------------------------------------------------------

async fn logout_and_logout_everywhere(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let pat = app.user("pat", Role::Worker).await;
    let sam = app.user("sam", Role::Worker).await;
    let s1 = app.full_session(&pat).await;
    let s2 = app.full_session(&pat).await;
    let sams = app.full_session(&sam).await;

    // Without the token: refused, still signed in.
    let r = app.send(form_req("/logout", Some(&s1), &[])).await;
    assert_form_refused(&r);
    assert_eq!(me_status(&app, &s1).await, StatusCode::OK);

    // The sign-out form on the page.
    let page = html(&get_page(&app, "/security-info", Some(&s1)).await, StatusCode::OK);
    let t = scraped_csrf(&page);
    let r = app.send(form_req("/logout", Some(&s1), &[("_csrf", &t)])).await;
    assert_see_other(&r, "/login?done=signed-out");
    assert_cookie_cleared(&r);
    assert_eq!(me_status(&app, &s1).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &s2).await, StatusCode::OK);
    assert_eq!(audit_actions(&app, "session.logout").await.len(), 1);

    // Everywhere.
    let s3 = app.full_session(&pat).await;
    let r = post_page(&app, "/logout", Some(&s2), &[("everywhere", "1")]).await;
    assert_see_other(&r, "/login?done=everywhere");
    assert_cookie_cleared(&r);
    assert_eq!(me_status(&app, &s2).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &s3).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_status(&app, &sams).await,
        StatusCode::OK,
        "other users stay signed in"
    );
    assert_eq!(audit_actions(&app, "session.revoke_all").await.len(), 1);
    let page = html(&get_page(&app, "/login?done=everywhere", None).await, StatusCode::OK);
    assert!(page.contains("You have signed out on every device."), "{page}");

    // Signing out with an ended session just clears the cookie.
    let r = post_page(&app, "/logout", Some(&s2), &[]).await;
    assert_see_other(&r, "/login?done=signed-out");
    assert_cookie_cleared(&r);
}

async fn csrf_token_and_cross_site_refusals(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, tap) = app.tap_session("pat").await;
    let mut key = TestKey::from_seed(b"pat key");
    add_key(&app, &tap, &mut key, "Blue key").await;
    let s1 = sign_in(&app, Some("pat"), &mut key).await;
    let s2 = sign_in(&app, Some("pat"), &mut key).await;
    let id = b64(&key.credential_id);
    let rename = format!("/security-info/keys/{id}/rename");

    // Another session's token, the anonymous token, an empty token.
    let other = csrf(&app, Some(&s2));
    let anonymous = csrf(&app, None);
    for t in [other.as_str(), anonymous.as_str(), ""] {
        let r = app
            .send(form_req(&rename, Some(&s1), &[("_csrf", t), ("nickname", "forged")]))
            .await;
        assert_form_refused(&r);
        let r = app
            .send(form_req("/logout", Some(&s1), &[("_csrf", t), ("everywhere", "1")]))
            .await;
        assert_form_refused(&r);
    }
    // A valid token, but the browser says the form came from another site.
    let mut req = form_req(
        &rename,
        Some(&s1),
        &[("_csrf", &csrf(&app, Some(&s1))), ("nickname", "forged")],
    );
    req.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_form_refused(&app.send(req).await);
    // A valid token from a foreign Origin.
    let mut req = form_req(
        &rename,
        Some(&s1),
        &[("_csrf", &csrf(&app, Some(&s1))), ("nickname", "forged")],
    );
    req.headers_mut().insert(header::ORIGIN, EVIL.parse().unwrap());
    assert_form_refused(&app.send(req).await);
    // A token in the query string instead of the body.
    let t = csrf(&app, Some(&s1));
    let q = serde_urlencoded::to_string([("_csrf", t.as_str())]).unwrap();
    let r = app
        .send(form_req(&format!("{rename}?{q}"), Some(&s1), &[("nickname", "forged")]))
        .await;
    assert_form_refused(&r);
    assert_eq!(stored(&app, &key.credential_id).await.nickname, "Blue key");
    assert_eq!(me_status(&app, &s1).await, StatusCode::OK);
    assert_eq!(me_status(&app, &s2).await, StatusCode::OK);

    // The same-site rules for the JSON routes with a cookie.
    let delete = format!("/api/v1/me/credentials/{id}");
    let mut req = request(Method::DELETE, &delete, Auth::Cookie(&s1), None);
    req.headers_mut().insert(header::ORIGIN, EVIL.parse().unwrap());
    app.send(req).await.problem(StatusCode::FORBIDDEN, "origin_mismatch");
    let mut req = request(Method::DELETE, &delete, Auth::Cookie(&s1), None);
    req.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    app.send(req).await.problem(StatusCode::FORBIDDEN, "origin_mismatch");
    app.call(Method::DELETE, &delete, Auth::CookieNoOrigin(&s1), None)
        .await
        .problem(StatusCode::FORBIDDEN, "origin_required");
    let mut req = request(Method::POST, &format!("{delete}/lost"), Auth::Cookie(&s1), None);
    req.headers_mut().insert(header::ORIGIN, EVIL.parse().unwrap());
    app.send(req).await.problem(StatusCode::FORBIDDEN, "origin_mismatch");
    assert!(key_exists(&app, &key.credential_id).await);
    assert!(audit_actions(&app, "credential.delete").await.is_empty());

    // And the right form goes through.
    let r = post_page(&app, &rename, Some(&s1), &[("nickname", "Still mine")]).await;
    assert_see_other(&r, "/security-info?done=renamed");
    assert_eq!(stored(&app, &key.credential_id).await.nickname, "Still mine");
}

// ---------------------------------------------------------------------------------------------
// 404 and assets (no store involved: SQLite only)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_paths_get_a_page_or_a_problem() {
    let app = TestApp::new(Backend::Sqlite, &[]).await;
    let r = get_page(&app, "/nope/nothing-here", None).await;
    let page = html(&r, StatusCode::NOT_FOUND);
    assert!(page.contains("Not found"), "{page}");
    assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // Programs get a problem document, also under /api/ when they ask for HTML.
    app.send(page_req("/api/nope", None))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::GET, "/api/nope", Auth::None, None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::GET, "/nope", Auth::None, None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    // The reflected path is not echoed.
    let r = get_page(&app, "/%3Cscript%3Ealert(1)%3C%2Fscript%3E", None).await;
    let page = html(&r, StatusCode::NOT_FOUND);
    assert!(!page.contains("<script>alert") && !page.contains("alert(1)"), "{page}");
}

#[tokio::test]
async fn assets_are_served_with_their_types() {
    let app = TestApp::new(Backend::Sqlite, &[]).await;
    for (path, kind, needle) in [
        ("/assets/webauthn.js", "text/javascript; charset=utf-8", "keyfleet"),
        ("/assets/login.js", "text/javascript; charset=utf-8", "use strict"),
        (
            "/assets/security-info.js",
            "text/javascript; charset=utf-8",
            "use strict",
        ),
        ("/assets/keyfleet.css", "text/css; charset=utf-8", "{"),
        ("/favicon.ico", "image/svg+xml", "<svg"),
    ] {
        let r = app.send(page_req(path, None)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.headers[header::CONTENT_TYPE], kind, "{path}");
        assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert!(text(&r).contains(needle), "{path}");
        assert!(!text(&r).starts_with("<!doctype"), "{path}");
    }
    for path in [
        "/assets/../Cargo.toml",
        "/assets/..%2FCargo.toml",
        "/assets/..%2F..%2FCargo.toml",
        "/assets/%2E%2E%2Fsrc%2Flib.rs",
        "/assets/nope.js",
        "/assets/",
        "/assets/Keyfleet.css",
        "/assets/keyfleet.css%00.js",
    ] {
        let r = app.send(page_req(path, None)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", text(&r));
        let body = text(&r);
        assert!(!body.contains("[package]") && !body.contains("pub mod"), "{path}");
    }
}

/// Issue 10, "the TAP trap": before a key is added, a TAP session is not offered "Sign out and
/// sign in with my key" (pressing it spent a one-time pass and locked the worker out), and a
/// sign-out asking for it anyway is an ordinary sign-out, not "your key is ready".
async fn tap_session_offers_sign_in_with_the_key_only_once_one_is_added(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, tap) = app.tap_session("tess").await;
    let page = html(&get_page(&app, "/security-info", Some(&tap)).await, StatusCode::OK);
    assert!(!page.contains("id=\"signin-with-key\""), "{page}");
    assert!(page.contains("id=\"tap-add-first\""), "{page}");
    // A hand-made request for it signs out plainly, without the hint.
    let (_, early) = app.tap_session("tom").await;
    let r = post_page(&app, "/logout", Some(&early), &[("again", "1")]).await;
    assert_see_other(&r, "/login?done=signed-out");
    // Once a key is added in this session, the button is there and leads to the hinted sign-in.
    let mut key = TestKey::from_seed(b"tess's key");
    add_key(&app, &tap, &mut key, "Tess key").await;
    let page = html(&get_page(&app, "/security-info", Some(&tap)).await, StatusCode::OK);
    assert!(page.contains("id=\"signin-with-key\""), "{page}");
    assert!(!page.contains("id=\"tap-add-first\""), "{page}");
    let r = post_page(&app, "/logout", Some(&tap), &[("again", "1")]).await;
    assert_see_other(&r, "/login?done=registered&login_hint=tess");
}
