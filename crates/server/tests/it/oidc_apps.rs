//! Single sign-on, the application-facing half: consent for third-party applications (the
//! page, approve and deny, remembered per user and application and scopes, `prompt=consent`,
//! `prompt=none` → `consent_required`, withdrawal through `/api/v1/me/consents`) and the
//! console's applications pages (administrators edit, helpdesk reads, others are refused),
//! through the real router on both stores. Every refusal is checked to change nothing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyfleet_core::access::Principal;
use keyfleet_core::oidc::applications::{self, ApplicationInput};
use keyfleet_domain::audit::{Action, AuditQuery};
use keyfleet_domain::user::Role;
use keyfleet_server::web::page::csrf_token;
use serde_json::json;
use sha2::Digest as _;

use crate::harness::{Auth, Backend, ORIGIN, Resp, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit;

const CB: &str = "https://partner.example.com/cb";
const VERIFIER: &str = "consent-verifier-0123456789-0123456789-0123456789";

on_both_stores!(
    third_party_applications_ask_for_consent,
    consent_is_remembered_per_scopes_and_withdrawn,
    applications_console_for_administrators,
    applications_console_is_read_only_for_helpdesk,
);

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
}

async fn third_party(app: &TestApp) -> (String, String) {
    let input = ApplicationInput {
        name: "Partner Portal".into(),
        redirect_uris: vec![CB.into()],
        third_party: Some(true),
        ..Default::default()
    };
    let c = applications::create(&app.system(), &Principal::System, input)
        .await
        .unwrap();
    (c.application.client_id, c.secret.unwrap())
}

async fn authorize(app: &TestApp, cookie: &str, client_id: &str, extra: &[(&str, &str)]) -> Resp {
    let ch = challenge();
    let mut p: Vec<(&str, &str)> = vec![
        ("client_id", client_id),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "st-9"),
        ("code_challenge", &ch),
        ("code_challenge_method", "S256"),
    ];
    p.retain(|(k, _)| !extra.iter().any(|(k2, _)| k2 == k));
    p.extend_from_slice(extra);
    let uri = format!("/oauth2/authorize?{}", serde_urlencoded::to_string(&p).unwrap());
    app.call(Method::GET, &uri, Auth::CookieNoOrigin(cookie), None).await
}

/// The Location of a 303 as its base and query pairs.
fn location(r: &Resp) -> (String, Vec<(String, String)>) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", html(r));
    let loc = r.headers[header::LOCATION].to_str().unwrap();
    let (base, q) = loc.split_once('?').unwrap_or((loc, ""));
    (base.to_owned(), serde_urlencoded::from_str(q).unwrap())
}

fn param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(k2, _)| k2 == k).map(|(_, v)| v.as_str())
}

fn html(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// An attribute of the element with this id, as the browser reads it.
fn attr(page: &str, id: &str, name: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let tag_start = page[..start].rfind('<').unwrap();
    let tag = &page[tag_start..start + page[start..].find('>').unwrap()];
    let at = tag
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + name.len()
        + 2;
    unescape(&tag[at..at + tag[at..].find('"').unwrap()])
}

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
}

/// The hidden `request` field of the consent page.
fn consent_request(page: &str) -> String {
    let at = page.find("name=\"request\" value=\"").expect("the consent form") + 22;
    unescape(&page[at..at + page[at..].find('"').unwrap()])
}

async fn post_form(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)], csrf: bool) -> Resp {
    let value = cookie.split_once('=').unwrap().1;
    let token = csrf_token(&app.state.csrf_key, Some(value));
    let mut pairs = fields.to_vec();
    if csrf {
        pairs.push(("_csrf", &token));
    }
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

async fn page(app: &TestApp, cookie: &str, path: &str) -> Resp {
    app.call(Method::GET, path, Auth::CookieNoOrigin(cookie), None).await
}

async fn count(app: &TestApp, action: Action) -> usize {
    let q = AuditQuery {
        limit: 100_000,
        ..Default::default()
    };
    let all = app.state.stores.audit.list(&q).await.unwrap();
    all.iter().filter(|e| e.action == action.as_str()).count()
}

async fn exchange(app: &TestApp, client: &(String, String), code: &str) -> Resp {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
    ];
    let req = Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{}:{}", client.0, client.1))),
        )
        .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
        .unwrap();
    app.send(req).await
}

/// A third-party application: `prompt=none` answers `consent_required`; the page names the
/// application and scopes; a form without the CSRF token, or an unknown answer, changes
/// nothing; "Deny" sends `access_denied` with state and iss; "Allow" sends a code that
/// redeems. A first-party application never asks.
async fn third_party_applications_ask_for_consent(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (alice, _, mut key) = webauthn_kit::enrolled(&app, "alice").await;
    let cookie = webauthn_kit::sign_in(&app, Some("alice"), &mut key).await;
    let client = third_party(&app).await;
    let iss = app.state.settings.issuer.clone();

    let r = authorize(&app, &cookie, &client.0, &[("prompt", "none")]).await;
    let (base, q) = location(&r);
    assert_eq!(base, CB);
    assert_eq!(param(&q, "error"), Some("consent_required"));
    assert_eq!(param(&q, "state"), Some("st-9"));
    assert_eq!(param(&q, "iss"), Some(iss.as_str()));

    let r = authorize(&app, &cookie, &client.0, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    assert!(
        r.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let body = html(&r);
    assert!(body.contains("Partner Portal"), "{body}");
    assert!(body.contains("data-scope=\"openid\"") && body.contains("data-scope=\"profile\""));
    assert!(!body.contains("data-scope=\"email\""), "only the scopes asked for");
    let request = consent_request(&body);
    assert_eq!(count(&app, Action::OidcAuthorize).await, 0, "no code before an answer");

    // Refused forms change nothing.
    let r = post_form(
        &app,
        &cookie,
        "/oauth2/consent",
        &[("request", &request), ("decision", "allow")],
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(
        &app,
        &cookie,
        "/oauth2/consent",
        &[("request", &request), ("decision", "maybe")],
        true,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let stranger = app.user("mallory", Role::Worker).await;
    let scookie = app.full_session(&stranger).await;
    let r = post_form(
        &app,
        &scookie,
        "/oauth2/consent",
        &[("request", &request), ("decision", "allow")],
        true,
    )
    .await;
    let (base, _) = location(&r);
    assert_eq!(base, "/login", "a session without a key sign-in is sent to sign in");
    assert_eq!(count(&app, Action::OidcConsent).await, 0);
    assert_eq!(count(&app, Action::OidcAuthorize).await, 0);

    // Deny.
    let r = post_form(
        &app,
        &cookie,
        "/oauth2/consent",
        &[("request", &request), ("decision", "deny")],
        true,
    )
    .await;
    let (base, q) = location(&r);
    assert_eq!(base, CB);
    assert_eq!(param(&q, "error"), Some("access_denied"));
    assert_eq!(param(&q, "state"), Some("st-9"));
    assert_eq!(param(&q, "iss"), Some(iss.as_str()));
    assert_eq!(param(&q, "code"), None);
    assert!(
        app.state
            .stores
            .consents
            .list_consents(alice.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(count(&app, Action::OidcAuthorize).await, 0);

    // Allow.
    let r = post_form(
        &app,
        &cookie,
        "/oauth2/consent",
        &[("request", &request), ("decision", "allow")],
        true,
    )
    .await;
    let (base, q) = location(&r);
    assert_eq!(base, CB);
    assert_eq!(param(&q, "state"), Some("st-9"));
    let code = param(&q, "code").expect("a code after consent").to_owned();
    let r = exchange(&app, &client, &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    let stored = app.state.stores.consents.list_consents(alice.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].scopes, ["openid", "profile"]);
    assert_eq!(count(&app, Action::OidcConsent).await, 2, "the denial and the approval");

    // The user sees the consent on /security-info and withdraws it there (a page form).
    let r = page(&app, &cookie, "/security-info").await;
    let withdraw = format!("/security-info/consents/{}/withdraw", client.0);
    assert!(html(&r).contains(&withdraw) && html(&r).contains("Partner Portal"));
    let r = post_form(&app, &cookie, &withdraw, &[], false).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(
        app.state.stores.consents.list_consents(alice.id).await.unwrap().len(),
        1
    );
    let r = post_form(&app, &cookie, &withdraw, &[], true).await;
    let (to, q) = location(&r);
    assert_eq!(
        (to.as_str(), param(&q, "done")),
        ("/security-info", Some("consent-withdrawn"))
    );
    assert!(
        app.state
            .stores
            .consents
            .list_consents(alice.id)
            .await
            .unwrap()
            .is_empty()
    );
    let r = authorize(&app, &cookie, &client.0, &[("prompt", "none")]).await;
    let (_, q) = location(&r);
    assert_eq!(param(&q, "error"), Some("consent_required"));

    // A first-party application goes straight through.
    let first = applications::create(
        &app.system(),
        &Principal::System,
        ApplicationInput {
            name: "Intranet".into(),
            redirect_uris: vec![CB.into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = authorize(&app, &cookie, &first.application.client_id, &[]).await;
    let (_, q) = location(&r);
    assert!(param(&q, "code").is_some());
}

/// Consent is remembered for the scopes agreed to: the same request goes straight through
/// (also with `prompt=none`), a wider one asks again, `prompt=consent` asks again; the user
/// lists and withdraws it at `/api/v1/me/consents`, which ends the sign-ins it allowed.
async fn consent_is_remembered_per_scopes_and_withdrawn(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, _, mut key) = webauthn_kit::enrolled(&app, "alice").await;
    let cookie = webauthn_kit::sign_in(&app, Some("alice"), &mut key).await;
    let client = third_party(&app).await;
    let extra = [("scope", "openid profile offline_access")];
    let r = authorize(&app, &cookie, &client.0, &extra).await;
    let request = consent_request(&html(&r));
    let r = post_form(
        &app,
        &cookie,
        "/oauth2/consent",
        &[("request", &request), ("decision", "allow")],
        true,
    )
    .await;
    let (_, q) = location(&r);
    let tokens = exchange(&app, &client, param(&q, "code").unwrap()).await.json();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    for extra in [
        vec![("scope", "openid profile offline_access")],
        vec![("scope", "openid")],
        vec![("scope", "openid profile"), ("prompt", "none")],
    ] {
        let r = authorize(&app, &cookie, &client.0, &extra).await;
        let (_, q) = location(&r);
        assert!(param(&q, "code").is_some(), "remembered for {extra:?}");
    }
    for extra in [vec![("scope", "openid email")], vec![("prompt", "consent")]] {
        let r = authorize(&app, &cookie, &client.0, &extra).await;
        assert_eq!(r.status, StatusCode::OK, "asks again for {extra:?}");
        assert!(html(&r).contains("id=\"consent-allow\""));
    }
    let r = authorize(
        &app,
        &cookie,
        &client.0,
        &[("scope", "openid email"), ("prompt", "none")],
    )
    .await;
    let (_, q) = location(&r);
    assert_eq!(param(&q, "error"), Some("consent_required"));

    let mine = app
        .call(Method::GET, "/api/v1/me/consents", Auth::Cookie(&cookie), None)
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    let list = mine.json();
    assert_eq!(list[0]["clientId"], client.0);
    assert_eq!(list[0]["application"], "Partner Portal");
    assert_eq!(list[0]["scopes"], json!(["openid", "profile", "offline_access"]));

    // Someone else cannot withdraw it; an unknown one is 404 and changes nothing.
    let bob = app.user("bob", Role::Worker).await;
    let bcookie = app.full_session(&bob).await;
    let path = format!("/api/v1/me/consents/{}", client.0);
    let r = app.call(Method::DELETE, &path, Auth::Cookie(&bcookie), None).await;
    r.problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.call(Method::GET, "/api/v1/me/consents", Auth::Cookie(&cookie), None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = app.call(Method::DELETE, &path, Auth::Cookie(&cookie), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", html(&r));
    assert_eq!(count(&app, Action::OidcConsentRevoke).await, 1);
    let r = app.call(Method::DELETE, &path, Auth::Cookie(&cookie), None).await;
    r.problem(StatusCode::NOT_FOUND, "not_found");

    // Withdrawn: the refresh token is dead and the application asks again.
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())];
    let req = Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{}:{}", client.0, client.1))),
        )
        .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", html(&r));
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = authorize(&app, &cookie, &client.0, &[("prompt", "none")]).await;
    let (_, q) = location(&r);
    assert_eq!(param(&q, "error"), Some("consent_required"));
}

/// Administrators list, create (the secret once, never again), edit (a refused field changes
/// nothing) and delete applications on the console.
async fn applications_console_for_administrators(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let r = page(&app, &cookie, "/admin/applications").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(html(&r).contains("id=\"new-application\""));
    let r = page(&app, &cookie, "/admin/applications/new").await;
    assert_eq!(r.status, StatusCode::OK);
    let body = html(&r);
    assert!(
        body.contains("<option value=\"phishing-resistant\""),
        "the strengths list: {body}"
    );

    // A refused creation changes nothing and keeps what was typed.
    let fields = [
        ("name", "Payroll"),
        ("client_type", "confidential"),
        ("redirect_uris", "http://payroll.example.com/cb"),
        ("scope", "profile"),
        ("access_token_lifetime", "600"),
        ("refresh_token_lifetime", "28800"),
        ("strength", ""),
    ];
    let r = post_form(&app, &cookie, "/admin/applications/new", &fields, true).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = html(&r);
    assert!(body.contains("id=\"form-error\""), "{body}");
    assert!(body.contains("http://payroll.example.com/cb"));
    assert!(app.state.stores.oidc.list_applications().await.unwrap().is_empty());
    let r = post_form(&app, &cookie, "/admin/applications/new", &fields, false).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");

    let fields = [
        ("name", "Payroll"),
        ("client_type", "confidential"),
        (
            "redirect_uris",
            "https://payroll.example.com/cb\r\nhttp://127.0.0.1:7000/cb",
        ),
        ("post_logout_redirect_uris", "https://payroll.example.com/bye"),
        ("scope", "profile"),
        ("scope", "offline_access"),
        ("access_token_lifetime", "300"),
        ("refresh_token_lifetime", "3600"),
        ("strength", "hardware-protected"),
        ("backchannel_logout_uri", "https://payroll.example.com/bcl"),
        ("third_party", "on"),
    ];
    let r = post_form(&app, &cookie, "/admin/applications/new", &fields, true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let body = html(&r);
    let secret = body
        .split("id=\"client-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("kfas_"), "{body}");
    let apps = app.state.stores.oidc.list_applications().await.unwrap();
    assert_eq!(apps.len(), 1);
    let a = &apps[0];
    assert_eq!(
        a.redirect_uris,
        ["https://payroll.example.com/cb", "http://127.0.0.1:7000/cb"]
    );
    assert_eq!(a.post_logout_redirect_uris, ["https://payroll.example.com/bye"]);
    assert_eq!(a.scopes, ["openid", "profile", "offline_access"]);
    assert_eq!((a.access_token_lifetime_s, a.refresh_token_lifetime_s), (300, 3600));
    assert_eq!(a.authentication_strength.as_deref(), Some("hardware-protected"));
    assert_eq!(
        a.backchannel_logout_uri.as_deref(),
        Some("https://payroll.example.com/bcl")
    );
    assert!(a.third_party);
    let path = format!("/admin/applications/{}", a.client_id);
    let r = page(&app, &cookie, &path).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = html(&r);
    assert!(!body.contains(&secret), "the secret is shown once");
    assert!(body.contains("<option value=\"hardware-protected\" selected"), "{body}");
    assert_eq!(attr(&body, "app-name", "value"), "Payroll");

    // A refused field changes nothing.
    let before = app.state.stores.oidc.get_application(&a.client_id).await.unwrap();
    let edit = [
        ("name", "Payroll 2"),
        ("redirect_uris", "https://payroll.example.com/cb#frag"),
        ("access_token_lifetime", "600"),
        ("refresh_token_lifetime", "3600"),
        ("strength", ""),
    ];
    let r = post_form(&app, &cookie, &path, &edit, true).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&r).contains("Nothing was saved"));
    let edit2 = [
        ("name", "Payroll 2"),
        ("redirect_uris", "https://payroll.example.com/cb"),
        ("access_token_lifetime", "ten"),
        ("refresh_token_lifetime", "3600"),
    ];
    let r = post_form(&app, &cookie, &path, &edit2, true).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.state.stores.oidc.get_application(&a.client_id).await.unwrap(),
        before
    );

    let edit = [
        ("name", "Payroll 2"),
        ("redirect_uris", "https://payroll.example.com/cb2"),
        ("scope", "email"),
        ("access_token_lifetime", "600"),
        ("refresh_token_lifetime", "7200"),
        ("strength", ""),
        ("backchannel_logout_uri", ""),
    ];
    let r = post_form(&app, &cookie, &path, &edit, true).await;
    let (to, _) = location(&r);
    assert!(to.ends_with(&a.client_id), "{to}");
    let after = app
        .state
        .stores
        .oidc
        .get_application(&a.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.name, "Payroll 2");
    assert_eq!(after.redirect_uris, ["https://payroll.example.com/cb2"]);
    assert_eq!(after.scopes, ["openid", "email"]);
    assert_eq!(after.authentication_strength, None);
    assert_eq!(after.backchannel_logout_uri, None);
    assert!(!after.third_party, "the unchecked box makes it first-party");
    assert_eq!(after.secret_hash, a.secret_hash, "the secret is kept");

    let r = page(&app, &cookie, &format!("{path}/delete")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = post_form(&app, &cookie, &format!("{path}/delete"), &[], true).await;
    let (to, q) = location(&r);
    assert_eq!(
        (to.as_str(), param(&q, "done")),
        ("/admin/applications", Some("deleted"))
    );
    assert!(app.state.stores.oidc.list_applications().await.unwrap().is_empty());
    assert_eq!(count(&app, Action::ApplicationDelete).await, 1);
}

/// Helpdesk staff see applications read-only (pages and JSON, one permission in core); every
/// change is refused (403, audited) and changes nothing; workers are refused altogether.
async fn applications_console_is_read_only_for_helpdesk(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let client = third_party(&app).await;
    let helpdesk = app.user("hedda", Role::Helpdesk).await;
    let cookie = app.full_session(&helpdesk).await;
    let r = page(&app, &cookie, "/admin/applications").await;
    assert_eq!(r.status, StatusCode::OK);
    let body = html(&r);
    assert!(body.contains("Partner Portal") && body.contains("id=\"read-only\""));
    assert!(!body.contains("id=\"new-application\""));
    let path = format!("/admin/applications/{}", client.0);
    let r = page(&app, &cookie, &path).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = html(&r);
    assert!(body.contains("id=\"read-only-settings\"") && !body.contains("id=\"save-application\""));
    let r = app
        .call(Method::GET, "/api/v1/applications", Auth::Cookie(&cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["thirdParty"], true);

    let before = app.state.stores.oidc.list_applications().await.unwrap();
    let denied = count(&app, Action::AccessDenied).await;
    let edit = [
        ("name", "Hijacked"),
        ("redirect_uris", "https://evil.example.com/cb"),
        ("access_token_lifetime", "600"),
        ("refresh_token_lifetime", "3600"),
    ];
    let r = post_form(&app, &cookie, &path, &edit, true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(&app, &cookie, &format!("{path}/delete"), &[], true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = page(&app, &cookie, "/admin/applications/new").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(&app, &cookie, "/admin/applications/new", &edit, true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/applications/{}", client.0),
            Auth::Cookie(&cookie),
            Some(json!({ "name": "Hijacked" })),
        )
        .await;
    r.problem(StatusCode::FORBIDDEN, "admin_required");
    assert_eq!(app.state.stores.oidc.list_applications().await.unwrap(), before);
    assert_eq!(count(&app, Action::AccessDenied).await, denied + 5);

    let worker = app.user("wally", Role::Worker).await;
    let wcookie = app.full_session(&worker).await;
    let r = page(&app, &wcookie, "/admin/applications").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(Method::GET, "/api/v1/applications", Auth::Cookie(&wcookie), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
