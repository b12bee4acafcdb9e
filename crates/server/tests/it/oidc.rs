//! Single sign-on: keyfleet as an OpenID Connect provider, through the real router on both
//! stores. Tests are named after the OpenID Foundation's Basic OP certification modules
//! (`oidcc-…`) where one matches; the rest are the checklist's bad inputs (31–34, open
//! redirects, PKCE downgrade, code injection, mix-up). Every refusal is checked to change
//! nothing: no code issued, the code still redeemable, the family still alive.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyfleet_core::access::Principal;
use keyfleet_core::oidc::IdTokenClaims;
use keyfleet_core::oidc::applications::{self, ApplicationInput};
use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, AuditQuery};
use keyfleet_domain::time::ManualClock;
use keyfleet_domain::user::{Role, User};
use keyfleet_webauthn_testkey::TestKey;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::harness::{Auth, Backend, Resp, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit;

pub(crate) const CB: &str = "https://app.example.com/cb";
pub(crate) const BYE: &str = "https://app.example.com/bye";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-keyfleet";

pub(crate) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

pub(crate) struct Rp {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
}

pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) rp: Rp,
    pub(crate) user: User,
    pub(crate) key: TestKey,
    /// A full session opened by a key sign-in.
    pub(crate) cookie: String,
}

pub(crate) async fn application(app: &TestApp, public: bool) -> Rp {
    let input = ApplicationInput {
        name: "Expenses".into(),
        redirect_uris: vec![CB.into(), "http://127.0.0.1:9999/cb".into()],
        post_logout_redirect_uris: vec![BYE.into()],
        client_type: Some(if public { "public" } else { "confidential" }.into()),
        ..Default::default()
    };
    let created = applications::create(&app.system(), &Principal::System, input)
        .await
        .unwrap();
    Rp {
        id: created.application.client_id,
        secret: created.secret,
    }
}

pub(crate) async fn world(b: Backend) -> World {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_800_000_000_000)));
    let app = TestApp::with_clock(b, &[], Some(clock.clone())).await;
    let rp = application(&app, false).await;
    let (user, _, mut key) = webauthn_kit::enrolled(&app, "alice").await;
    let cookie = webauthn_kit::sign_in(&app, Some("alice"), &mut key).await;
    World {
        app,
        clock,
        rp,
        user,
        key,
        cookie,
    }
}

pub(crate) fn query(params: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(params).unwrap()
}

/// The usual request's parameters, with `extra` added or replacing.
pub(crate) fn params<'a>(rp: &'a Rp, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p: Vec<(&str, &str)> = vec![
        ("client_id", rp.id.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge_method", "S256"),
    ];
    p.retain(|(k, _)| !extra.iter().any(|(k2, _)| k2 == k));
    p.extend_from_slice(extra);
    p
}

pub(crate) async fn authorize(app: &TestApp, cookie: Option<&str>, params: &[(&str, &str)]) -> Resp {
    let ch = challenge(VERIFIER);
    let mut params = params.to_vec();
    if !params
        .iter()
        .any(|(k, _)| *k == "code_challenge" || *k == "no_challenge")
    {
        params.push(("code_challenge", &ch));
    }
    params.retain(|(k, _)| *k != "no_challenge");
    let uri = format!("/oauth2/authorize?{}", query(&params));
    let auth = cookie.map_or(Auth::None, Auth::CookieNoOrigin);
    app.call(Method::GET, &uri, auth, None).await
}

/// The Location of a 303, split into its base and its query pairs.
pub(crate) fn location(r: &Resp) -> (String, Vec<(String, String)>) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&r.body));
    let loc = r.headers[header::LOCATION].to_str().unwrap();
    let (base, q) = loc.split_once('?').unwrap_or((loc, ""));
    (base.to_owned(), serde_urlencoded::from_str(q).unwrap())
}

pub(crate) fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(k2, _)| k2 == k).map(|(_, v)| v.as_str())
}

/// A code for `w.rp`, from the signed-in session.
pub(crate) async fn code(w: &World, extra: &[(&str, &str)]) -> String {
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, extra)).await;
    let (base, q) = location(&r);
    assert_eq!(base, CB);
    assert_eq!(get(&q, "state"), Some("st-123"));
    assert_eq!(
        get(&q, "iss"),
        Some(w.app.state.settings.issuer.as_str()),
        "RFC 9207 iss"
    );
    get(&q, "code").expect("a code").to_owned()
}

pub(crate) async fn token(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        b = b.header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    app.send(b.body(Body::from(query(form))).unwrap()).await
}

pub(crate) async fn exchange(w: &World, code: &str) -> Resp {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
    ];
    token(&w.app, &form, Some((&w.rp.id, w.rp.secret.as_deref().unwrap()))).await
}

pub(crate) async fn tokens(w: &World, code: &str) -> Value {
    let r = exchange(w, code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    r.json()
}

pub(crate) fn invalid_grant(r: &Resp) {
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["error"], "invalid_grant");
}

pub(crate) fn id_claims(app: &TestApp, t: &Value) -> IdTokenClaims {
    app.keys()
        .verify_jwt::<IdTokenClaims>(t["id_token"].as_str().unwrap(), "JWT")
        .expect("the ID token verifies")
}

pub(crate) async fn userinfo_get(app: &TestApp, token: &str) -> Resp {
    app.call(Method::GET, "/oauth2/userinfo", Auth::Bearer(token), None)
        .await
}

pub(crate) async fn refresh(w: &World, rt: &str) -> Resp {
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    token(&w.app, &form, Some((&w.rp.id, w.rp.secret.as_deref().unwrap()))).await
}

async fn authorize_events(app: &TestApp) -> usize {
    let q = AuditQuery {
        limit: 100_000,
        ..Default::default()
    };
    let all = app.state.stores.audit.list(&q).await.unwrap();
    all.iter()
        .filter(|e| e.action == Action::OidcAuthorize.as_str())
        .count()
}

on_both_stores!(
    oidcc_server,
    oidcc_idtoken_signature,
    oidcc_userinfo_get_post_header_post_body,
    oidcc_response_type_missing,
    oidcc_ensure_request_without_nonce_succeeds_for_code_flow,
    oidcc_scope_profile_and_email,
    oidcc_prompt_login,
    oidcc_prompt_none_not_logged_in,
    oidcc_prompt_none_logged_in,
    oidcc_max_age_1,
    oidcc_max_age_10000,
    oidcc_request_parameters_succeed,
    oidcc_id_token_hint,
    oidcc_login_hint,
    oidcc_codereuse,
    oidcc_codereuse_30seconds,
    oidcc_ensure_registered_redirect_uri,
    oidcc_ensure_post_request_succeeds,
    oidcc_client_secret_post,
    oidcc_ensure_request_object_is_rejected,
    oidcc_refresh_token,
    pkce_is_required_s256_only,
    code_injection_across_clients_changes_nothing,
    redirect_uri_mismatch_at_token,
    public_client_needs_no_secret_and_a_secret_client_needs_one,
    revocation_ends_the_family,
    rp_initiated_logout,
    application_tokens_do_not_open_the_admin_api,
    applications_api,
    revocation_reaches_applications,
    directory_leavers_lose_their_application_tokens,
    authentication_strengths_and_acr,
);

/// oidcc-server: discovery, then a complete code flow (code + PKCE, tokens, ID token claims).
async fn oidcc_server(b: Backend) {
    let w = world(b).await;
    let d = w
        .app
        .call(Method::GET, "/.well-known/openid-configuration", Auth::None, None)
        .await
        .json();
    let iss = w.app.state.settings.issuer.clone();
    assert_eq!(d["issuer"], iss);
    assert_eq!(d["authorization_endpoint"], format!("{iss}/oauth2/authorize"));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    let code = code(&w, &[]).await;
    let t = tokens(&w, &code).await;
    assert_eq!(t["token_type"], "Bearer");
    assert!(
        t["refresh_token"].as_str().is_some(),
        "offline_access gives a refresh token"
    );
    let c = id_claims(&w.app, &t);
    assert_eq!(c.iss, iss);
    assert_eq!(c.aud, w.rp.id);
    assert_eq!(c.azp, w.rp.id);
    assert_eq!(c.sub, w.user.id.to_string(), "sub is the user's immutable id");
    assert_eq!(c.nonce.as_deref(), Some("n-456"));
    assert_eq!(c.amr[0], "hwk");
    assert!(c.exp > c.iat && c.auth_time <= c.iat);
    let digest = sha2::Sha256::digest(t["access_token"].as_str().unwrap().as_bytes());
    assert_eq!(
        c.at_hash.as_deref(),
        Some(URL_SAFE_NO_PAD.encode(&digest[..16]).as_str())
    );
    assert_eq!(c.profile["preferred_username"], "alice");
}

/// oidcc-idtoken-signature: ES256, signed by a key the JWKS publishes.
async fn oidcc_idtoken_signature(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let t = tokens(&w, &code).await;
    let id_token = t["id_token"].as_str().unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(id_token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let jwks = w.app.call(Method::GET, "/oauth2/jwks", Auth::None, None).await.json();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the signing key is published");
    // Verify with the published key alone (p256 from the JWK's coordinates).
    use p256::ecdsa::signature::Verifier as _;
    let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    let y = URL_SAFE_NO_PAD.decode(key["y"].as_str().unwrap()).unwrap();
    let point = [&[4u8][..], &x, &y].concat();
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let (input, sig) = id_token.rsplit_once('.').unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    vk.verify(input.as_bytes(), &sig)
        .expect("signature verifies against the JWKS");
    let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode([1u8; 64]));
    assert!(w.app.keys().verify_jwt::<IdTokenClaims>(&forged, "JWT").is_err());
    assert!(
        vk.verify(
            input.as_bytes(),
            &p256::ecdsa::Signature::from_slice(&[1u8; 64]).unwrap()
        )
        .is_err()
    );
}

/// oidcc-userinfo-get, -post-header, -post-body.
async fn oidcc_userinfo_get_post_header_post_body(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let t = tokens(&w, &code).await;
    let at = t["access_token"].as_str().unwrap();
    let r = userinfo_get(&w.app, at).await;
    assert_eq!(r.status, StatusCode::OK);
    let u = r.json();
    assert_eq!(u["sub"], w.user.id.to_string());
    assert_eq!(u["email"], "alice@example.com");
    let post = |body: String, bearer: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/oauth2/userinfo")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(t) = bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(Body::from(body)).unwrap()
    };
    let r = w.app.send(post(String::new(), Some(at))).await;
    assert_eq!(r.json()["sub"], w.user.id.to_string());
    let r = w.app.send(post(query(&[("access_token", at)]), None)).await;
    assert_eq!(r.json()["sub"], w.user.id.to_string());
    let r = w.app.send(post(query(&[("access_token", at)]), Some(at))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "the token twice");
    let r = userinfo_get(&w.app, &format!("{at}x")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let r = w.app.call(Method::GET, "/oauth2/userinfo", Auth::None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// oidcc-response-type-missing: an error back to the application (with state and iss), no code.
async fn oidcc_response_type_missing(b: Backend) {
    let w = world(b).await;
    let mut p = params(&w.rp, &[]);
    p.retain(|(k, _)| *k != "response_type");
    let r = authorize(&w.app, Some(&w.cookie), &p).await;
    let (base, q) = location(&r);
    assert_eq!(base, CB);
    assert_eq!(get(&q, "error"), Some("invalid_request"));
    assert_eq!(get(&q, "state"), Some("st-123"));
    assert_eq!(get(&q, "iss"), Some(w.app.state.settings.issuer.as_str()));
    assert_eq!(get(&q, "code"), None);
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("response_type", "token")])).await;
    assert_eq!(
        get(&location(&r).1, "error"),
        Some("unsupported_response_type"),
        "no implicit flow"
    );
    assert_eq!(authorize_events(&w.app).await, 0, "no code was issued");
}

/// oidcc-ensure-request-without-nonce-succeeds-for-code-flow.
async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow(b: Backend) {
    let w = world(b).await;
    let mut p = params(&w.rp, &[]);
    p.retain(|(k, _)| *k != "nonce");
    let r = authorize(&w.app, Some(&w.cookie), &p).await;
    let code = get(&location(&r).1, "code").unwrap().to_owned();
    let c = id_claims(&w.app, &tokens(&w, &code).await);
    assert_eq!(c.nonce, None);
}

/// oidcc-scope-profile, oidcc-scope-email: claims by scope, in the ID token and UserInfo.
async fn oidcc_scope_profile_and_email(b: Backend) {
    let w = world(b).await;
    let code1 = code(&w, &[("scope", "openid profile")]).await;
    let t = tokens(&w, &code1).await;
    let c = id_claims(&w.app, &t);
    assert_eq!(c.profile["name"], "alice Example");
    assert!(!c.profile.contains_key("email"));
    assert!(t.get("refresh_token").is_none(), "no offline_access, no refresh token");
    let u = userinfo_get(&w.app, t["access_token"].as_str().unwrap()).await.json();
    assert_eq!(u["preferred_username"], "alice");
    assert!(u.get("email").is_none());
    let code2 = code(&w, &[("scope", "openid email unknown-scope")]).await;
    let t = tokens(&w, &code2).await;
    assert_eq!(t["scope"], "openid email", "unknown scopes are ignored");
    let u = userinfo_get(&w.app, t["access_token"].as_str().unwrap()).await.json();
    assert_eq!(u["email"], "alice@example.com");
    assert!(u.get("name").is_none());
}

/// oidcc-prompt-login: a signed-in user is sent to sign in again, and comes back with a code
/// only after a fresh key sign-in.
async fn oidcc_prompt_login(mut_b: Backend) {
    let mut w = world(mut_b).await;
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("prompt", "login")])).await;
    let (base, q) = location(&r);
    assert_eq!(base, "/login");
    assert_eq!(get(&q, "fresh"), Some("1"));
    let next = get(&q, "next").unwrap().to_owned();
    assert!(next.starts_with("/oauth2/authorize?") && next.contains("kf_login_after="));
    // The old session coming back does not pass.
    let again = w
        .app
        .call(Method::GET, &next, Auth::CookieNoOrigin(&w.cookie), None)
        .await;
    assert_eq!(location(&again).0, "/login");
    // A forged marker does not pass either.
    let forged = next.replace("kf_login_after=", "kf_login_after=0.00");
    let r = w
        .app
        .call(Method::GET, &forged, Auth::CookieNoOrigin(&w.cookie), None)
        .await;
    assert_eq!(location(&r).0, "/login");
    w.clock.advance(Duration::from_secs(5));
    let fresh = webauthn_kit::sign_in(&w.app, Some("alice"), &mut w.key).await;
    let r = w.app.call(Method::GET, &next, Auth::CookieNoOrigin(&fresh), None).await;
    let (base, q) = location(&r);
    assert_eq!(base, CB);
    w.cookie = fresh;
    let c = id_claims(&w.app, &tokens(&w, get(&q, "code").unwrap()).await);
    assert_eq!(
        c.auth_time,
        (w.app.state.now().as_millis()) / 1000,
        "auth_time is the fresh sign-in"
    );
}

/// oidcc-prompt-none-not-logged-in: `login_required` without any page.
async fn oidcc_prompt_none_not_logged_in(b: Backend) {
    let w = world(b).await;
    let r = authorize(&w.app, None, &params(&w.rp, &[("prompt", "none")])).await;
    let (base, q) = location(&r);
    assert_eq!(base, CB);
    assert_eq!(get(&q, "error"), Some("login_required"));
    assert_eq!(get(&q, "iss"), Some(w.app.state.settings.issuer.as_str()));
    // A TAP session is not a key sign-in.
    let (_, tap) = w.app.tap_session("bob").await;
    let r = authorize(&w.app, Some(&tap), &params(&w.rp, &[("prompt", "none")])).await;
    assert_eq!(get(&location(&r).1, "error"), Some("login_required"));
    assert_eq!(authorize_events(&w.app).await, 0);
}

/// oidcc-prompt-none-logged-in: a code straight away.
async fn oidcc_prompt_none_logged_in(b: Backend) {
    let w = world(b).await;
    code(&w, &[("prompt", "none")]).await;
}

/// oidcc-max-age-1: a key sign-in older than max_age sends the user to sign in again.
async fn oidcc_max_age_1(b: Backend) {
    let mut w = world(b).await;
    w.clock.advance(Duration::from_secs(2));
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("max_age", "1")])).await;
    let (base, q) = location(&r);
    assert_eq!(base, "/login");
    let next = get(&q, "next").unwrap().to_owned();
    let r = authorize(
        &w.app,
        Some(&w.cookie),
        &params(&w.rp, &[("max_age", "1"), ("prompt", "none")]),
    )
    .await;
    assert_eq!(get(&location(&r).1, "error"), Some("login_required"));
    let fresh = webauthn_kit::sign_in(&w.app, Some("alice"), &mut w.key).await;
    let r = w.app.call(Method::GET, &next, Auth::CookieNoOrigin(&fresh), None).await;
    let (_, q) = location(&r);
    w.cookie = fresh;
    let c = id_claims(&w.app, &tokens(&w, get(&q, "code").unwrap()).await);
    assert!(w.app.state.now().as_millis() / 1000 - c.auth_time <= 1);
}

/// oidcc-max-age-10000: a recent sign-in passes; auth_time is in the ID token.
async fn oidcc_max_age_10000(b: Backend) {
    let w = world(b).await;
    w.clock.advance(Duration::from_secs(60));
    let code = code(&w, &[("max_age", "10000")]).await;
    let c = id_claims(&w.app, &tokens(&w, &code).await);
    assert_eq!(c.auth_time, w.app.state.now().as_millis() / 1000 - 60);
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("max_age", "soon")])).await;
    assert_eq!(get(&location(&r).1, "error"), Some("invalid_request"));
}

/// oidcc-ensure-request-with-unknown-parameter-succeeds, oidcc-ui-locales,
/// oidcc-claims-locales, oidcc-ensure-request-with-acr-values-succeeds, oidcc-display-page.
async fn oidcc_request_parameters_succeed(b: Backend) {
    let w = world(b).await;
    for extra in [
        ("extra_parameter", "whatever"),
        ("ui_locales", "se"),
        ("claims_locales", "se"),
        ("acr_values", "1 2"),
        ("display", "page"),
    ] {
        code(&w, &[extra]).await;
    }
}

/// oidcc-id-token-hint: the hint of the signed-in user passes; a forged one is refused.
async fn oidcc_id_token_hint(b: Backend) {
    let w = world(b).await;
    let code1 = code(&w, &[]).await;
    let t = tokens(&w, &code1).await;
    let hint = t["id_token"].as_str().unwrap();
    code(&w, &[("id_token_hint", hint), ("prompt", "none")]).await;
    let r = authorize(
        &w.app,
        Some(&w.cookie),
        &params(&w.rp, &[("id_token_hint", "e30.e30.AAAA")]),
    )
    .await;
    assert_eq!(get(&location(&r).1, "error"), Some("invalid_request"));
    // Signed in as someone else: not this user's hint.
    let (_, _, mut bob_key) = webauthn_kit::enrolled(&w.app, "bob").await;
    let bob = webauthn_kit::sign_in(&w.app, Some("bob"), &mut bob_key).await;
    let r = authorize(
        &w.app,
        Some(&bob),
        &params(&w.rp, &[("id_token_hint", hint), ("prompt", "none")]),
    )
    .await;
    assert_eq!(get(&location(&r).1, "error"), Some("login_required"));
}

/// oidcc-login-hint: a browser with no session goes to sign-in with the hint, and back.
async fn oidcc_login_hint(b: Backend) {
    let w = world(b).await;
    let r = authorize(&w.app, None, &params(&w.rp, &[("login_hint", "Alice")])).await;
    let (base, q) = location(&r);
    assert_eq!(base, "/login");
    assert_eq!(get(&q, "login_hint"), Some("alice"));
    let next = get(&q, "next").unwrap();
    let page = w
        .app
        .call(
            Method::GET,
            &format!("/login?{}", query(&[("next", next), ("login_hint", "alice")])),
            Auth::None,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains("data-next=\"/oauth2/authorize?"),
        "the sign-in page returns to the request"
    );
    let r = w
        .app
        .call(Method::GET, next, Auth::CookieNoOrigin(&w.cookie), None)
        .await;
    assert_eq!(location(&r).0, CB);
}

/// oidcc-codereuse (checklist 31): a second redemption is refused and revokes what the first
/// issued.
async fn oidcc_codereuse(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let t = tokens(&w, &code).await;
    invalid_grant(&exchange(&w, &code).await);
    assert_eq!(
        userinfo_get(&w.app, t["access_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
    invalid_grant(&refresh(&w, t["refresh_token"].as_str().unwrap()).await);
}

/// oidcc-codereuse-30seconds: the same, 30 seconds later.
async fn oidcc_codereuse_30seconds(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let t = tokens(&w, &code).await;
    w.clock.advance(Duration::from_secs(30));
    invalid_grant(&exchange(&w, &code).await);
    assert_eq!(
        userinfo_get(&w.app, t["access_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
    // An unused code also expires (at most 10 minutes).
    let late = self::code(&w, &[]).await;
    w.clock.advance(Duration::from_secs(11 * 60));
    invalid_grant(&exchange(&w, &late).await);
}

/// oidcc-ensure-registered-redirect-uri, and checklist 33: an unregistered redirect URI (other
/// host, extra path, extra query, http) gets an error page and is never redirected to.
async fn oidcc_ensure_registered_redirect_uri(b: Backend) {
    let w = world(b).await;
    for bad in [
        "https://evil.example.com/cb",
        "https://app.example.com/cb/extra",
        "https://app.example.com/cb?x=1",
        "http://app.example.com/cb",
        "https://app.example.com/CB",
    ] {
        let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("redirect_uri", bad)])).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.headers.get(header::LOCATION).is_none(), "{bad}: no redirect");
    }
    // An unknown client, a missing redirect URI, a repeated parameter: the page too.
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("client_id", "kfa_nope")])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let mut p = params(&w.rp, &[]);
    p.retain(|(k, _)| *k != "redirect_uri");
    assert_eq!(
        authorize(&w.app, Some(&w.cookie), &p).await.status,
        StatusCode::BAD_REQUEST
    );
    let mut p = params(&w.rp, &[]);
    p.push(("redirect_uri", "https://evil.example.com/cb"));
    assert_eq!(
        authorize(&w.app, Some(&w.cookie), &p).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(authorize_events(&w.app).await, 0);
    // The loopback URI, registered, works.
    let r = authorize(
        &w.app,
        Some(&w.cookie),
        &params(&w.rp, &[("redirect_uri", "http://127.0.0.1:9999/cb")]),
    )
    .await;
    assert_eq!(location(&r).0, "http://127.0.0.1:9999/cb");
}

/// oidcc-ensure-post-request-succeeds: the authorization request form-posted. From our own
/// origin with the session, a code; from the application's site (where a browser sends no
/// SameSite=Lax cookie, and one sent is not used), sign-in and back with a GET.
async fn oidcc_ensure_post_request_succeeds(b: Backend) {
    let w = world(b).await;
    let ch = challenge(VERIFIER);
    let p = params(&w.rp, &[("code_challenge", &ch)]);
    let post = |origin: &str, site: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/oauth2/authorize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &w.cookie)
            .header(header::ORIGIN, origin)
            .header("sec-fetch-site", site)
            .body(Body::from(query(&p)))
            .unwrap()
    };
    let r = w.app.send(post(crate::harness::ORIGIN, "same-origin")).await;
    let (base, q) = location(&r);
    assert_eq!(base, CB);
    tokens(&w, get(&q, "code").unwrap()).await;
    let r = w.app.send(post("https://app.example.com", "cross-site")).await;
    let (base, q) = location(&r);
    assert_eq!(base, "/login");
    let next = get(&q, "next").unwrap();
    let r = w
        .app
        .call(Method::GET, next, Auth::CookieNoOrigin(&w.cookie), None)
        .await;
    assert_eq!(location(&r).0, CB);
}

/// oidcc-server-client-secret-post.
async fn oidcc_client_secret_post(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
        ("client_id", &w.rp.id),
        ("client_secret", "kfas_wrong"),
    ];
    let r = token(&w.app, &form, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
    let mut form = form.to_vec();
    form[5].1 = w.rp.secret.as_deref().unwrap();
    let r = token(&w.app, &form, None).await;
    assert_eq!(r.status, StatusCode::OK, "the refused attempt did not use the code up");
}

/// oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported and
/// oidcc-request-uri-unsigned-…: rejected with the standard errors.
async fn oidcc_ensure_request_object_is_rejected(b: Backend) {
    let w = world(b).await;
    let r = authorize(
        &w.app,
        Some(&w.cookie),
        &params(&w.rp, &[("request", "eyJhbGciOiJub25lIn0.e30.")]),
    )
    .await;
    assert_eq!(get(&location(&r).1, "error"), Some("request_not_supported"));
    let r = authorize(
        &w.app,
        Some(&w.cookie),
        &params(&w.rp, &[("request_uri", "https://app.example.com/r")]),
    )
    .await;
    assert_eq!(get(&location(&r).1, "error"), Some("request_uri_not_supported"));
    assert_eq!(authorize_events(&w.app).await, 0);
}

/// oidcc-refresh-token, and checklist 32: rotation; a rotated-out token replayed revokes the
/// whole family.
async fn oidcc_refresh_token(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let t0 = tokens(&w, &code).await;
    let rt0 = t0["refresh_token"].as_str().unwrap();
    let r = refresh(&w, rt0).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let t1 = r.json();
    let rt1 = t1["refresh_token"].as_str().unwrap();
    assert_ne!(rt0, rt1, "rotated");
    let c = id_claims(&w.app, &t1);
    assert_eq!(c.sub, w.user.id.to_string());
    assert_eq!(
        userinfo_get(&w.app, t1["access_token"].as_str().unwrap()).await.status,
        StatusCode::OK
    );
    // Another application cannot use it, and that changes nothing.
    let other = application(&w.app, false).await;
    let r = token(
        &w.app,
        &[("grant_type", "refresh_token"), ("refresh_token", rt1)],
        Some((&other.id, other.secret.as_deref().unwrap())),
    )
    .await;
    invalid_grant(&r);
    // The replay of the rotated-out token.
    invalid_grant(&refresh(&w, rt0).await);
    invalid_grant(&refresh(&w, rt1).await);
    assert_eq!(
        userinfo_get(&w.app, t1["access_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// PKCE (oidcc-ensure-request-with-valid-pkce-succeeds is every other test): required, S256
/// only (no downgrade to plain or to none), and the verifier must match (checklist 34).
async fn pkce_is_required_s256_only(b: Backend) {
    let w = world(b).await;
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("no_challenge", "")])).await;
    assert_eq!(get(&location(&r).1, "error"), Some("invalid_request"));
    let plain = params(
        &w.rp,
        &[("code_challenge_method", "plain"), ("code_challenge", VERIFIER)],
    );
    let r = authorize(&w.app, Some(&w.cookie), &plain).await;
    assert_eq!(get(&location(&r).1, "error"), Some("invalid_request"));
    let mut none = params(&w.rp, &[]);
    none.retain(|(k, _)| *k != "code_challenge_method");
    let r = authorize(&w.app, Some(&w.cookie), &none).await;
    assert_eq!(
        get(&location(&r).1, "error"),
        Some("invalid_request"),
        "the default method is plain"
    );
    assert_eq!(authorize_events(&w.app).await, 0);
    let code = code(&w, &[]).await;
    let secret = w.rp.secret.as_deref().unwrap();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
    ];
    invalid_grant(&token(&w.app, &form, Some((&w.rp.id, secret))).await);
    form.push(("code_verifier", "a-wrong-verifier-that-is-long-enough-to-be-valid-xx"));
    invalid_grant(&token(&w.app, &form, Some((&w.rp.id, secret))).await);
    tokens(&w, &code).await;
}

/// Code injection: a code stolen from one application and presented by another is refused,
/// and the code still works for its own application.
async fn code_injection_across_clients_changes_nothing(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let other = application(&w.app, false).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
    ];
    invalid_grant(&token(&w.app, &form, Some((&other.id, other.secret.as_deref().unwrap()))).await);
    tokens(&w, &code).await;
}

/// The redirect URI at the token endpoint must be the one the code was sent to.
async fn redirect_uri_mismatch_at_token(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let secret = w.rp.secret.as_deref().unwrap();
    for uri in [Some("http://127.0.0.1:9999/cb"), None] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
        ];
        if let Some(u) = uri {
            form.push(("redirect_uri", u));
        }
        invalid_grant(&token(&w.app, &form, Some((&w.rp.id, secret))).await);
    }
    tokens(&w, &code).await;
}

/// A public application authenticates with its client_id alone (PKCE binds the code); a
/// confidential one without its secret is refused.
async fn public_client_needs_no_secret_and_a_secret_client_needs_one(b: Backend) {
    let w = world(b).await;
    let public = application(&w.app, true).await;
    assert!(public.secret.is_none());
    let r = authorize(&w.app, Some(&w.cookie), &params(&public, &[])).await;
    let code = get(&location(&r).1, "code").unwrap().to_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
        ("client_id", public.id.as_str()),
    ];
    assert_eq!(token(&w.app, &form, None).await.status, StatusCode::OK);
    let code = self::code(&w, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
        ("client_id", w.rp.id.as_str()),
    ];
    assert_eq!(token(&w.app, &form, None).await.status, StatusCode::UNAUTHORIZED);
    tokens(&w, &code).await;
}

/// RFC 7009: revoking a refresh token ends its family; an unknown token is answered alike.
async fn revocation_ends_the_family(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let t = tokens(&w, &code).await;
    let revoke = |tok: String| {
        Request::builder()
            .method(Method::POST)
            .uri("/oauth2/revoke")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                header::AUTHORIZATION,
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("{}:{}", w.rp.id, w.rp.secret.as_deref().unwrap()))
                ),
            )
            .body(Body::from(query(&[("token", tok.as_str())])))
            .unwrap()
    };
    assert_eq!(w.app.send(revoke("kfr_unknown".into())).await.status, StatusCode::OK);
    assert_eq!(
        userinfo_get(&w.app, t["access_token"].as_str().unwrap()).await.status,
        StatusCode::OK
    );
    let r = w.app.send(revoke(t["refresh_token"].as_str().unwrap().into())).await;
    assert_eq!(r.status, StatusCode::OK);
    invalid_grant(&refresh(&w, t["refresh_token"].as_str().unwrap()).await);
    assert_eq!(
        userinfo_get(&w.app, t["access_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// RP-initiated logout: needs the ID token, goes only to a registered post-logout URI, ends
/// the keyfleet session and the grants opened from it.
async fn rp_initiated_logout(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let t = tokens(&w, &code).await;
    let hint = t["id_token"].as_str().unwrap();
    let logout = |q: Vec<(&str, &str)>| format!("/oauth2/logout?{}", query(&q));
    // Refusals change nothing.
    for q in [
        vec![("post_logout_redirect_uri", BYE)],
        vec![
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "https://evil.example.com/"),
        ],
        vec![("id_token_hint", "e30.e30.AAAA")],
    ] {
        let r = w
            .app
            .call(Method::GET, &logout(q), Auth::CookieNoOrigin(&w.cookie), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.headers.get(header::LOCATION).is_none());
    }
    assert_eq!(
        userinfo_get(&w.app, t["access_token"].as_str().unwrap()).await.status,
        StatusCode::OK
    );
    let r = w
        .app
        .call(
            Method::GET,
            &logout(vec![
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", BYE),
                ("state", "s1"),
            ]),
            Auth::CookieNoOrigin(&w.cookie),
            None,
        )
        .await;
    assert_eq!(r.headers[header::LOCATION], format!("{BYE}?state=s1"));
    assert_eq!(
        userinfo_get(&w.app, t["access_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
    invalid_grant(&refresh(&w, t["refresh_token"].as_str().unwrap()).await);
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("prompt", "none")])).await;
    assert_eq!(
        get(&location(&r).1, "error"),
        Some("login_required"),
        "the session ended"
    );
}

/// An application's access token names a user, not an API client: the admin API refuses it.
async fn application_tokens_do_not_open_the_admin_api(b: Backend) {
    let w = world(b).await;
    let code = code(&w, &[]).await;
    let t = tokens(&w, &code).await;
    let r = w
        .app
        .call(
            Method::GET,
            "/api/v1/users",
            Auth::Bearer(t["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // An ID token is not an access token either.
    assert_eq!(
        userinfo_get(&w.app, t["id_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// The applications API: administrators only; bad settings refused with nothing stored; the
/// secret shown once and never listed.
async fn applications_api(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let worker = app.user("wally", Role::Worker).await;
    let wcookie = app.full_session(&worker).await;
    let body =
        json!({ "name": "Payroll", "redirectUris": [CB], "postLogoutRedirectUris": [BYE], "scopes": ["profile"] });
    let r = app
        .call(
            Method::POST,
            "/api/v1/applications",
            Auth::Cookie(&wcookie),
            Some(body.clone()),
        )
        .await;
    r.problem(StatusCode::FORBIDDEN, "admin_required");
    for (bad, code) in [
        (
            json!({ "name": "X", "redirectUris": ["http://app.example.com/cb"] }),
            "invalid_redirect_uri",
        ),
        (
            json!({ "name": "X", "redirectUris": ["https://app.example.com/cb#f"] }),
            "invalid_redirect_uri",
        ),
        (json!({ "name": "X", "redirectUris": ["/cb"] }), "invalid_redirect_uri"),
        (json!({ "name": "X", "redirectUris": [] }), "invalid_redirect_uri"),
        (
            json!({ "name": "X", "redirectUris": [CB], "scopes": ["admin"] }),
            "invalid_scope",
        ),
        (
            json!({ "name": "X", "redirectUris": [CB], "clientType": "spa" }),
            "invalid_field",
        ),
        (
            json!({ "name": "X", "redirectUris": [CB], "accessTokenLifetime": 5 }),
            "invalid_field",
        ),
        (json!({ "name": "", "redirectUris": [CB] }), "invalid_field"),
        (
            json!({ "name": "X", "redirectUris": [CB], "authenticationStrength": "no-such-strength" }),
            "invalid_field",
        ),
    ] {
        let r = app
            .call(Method::POST, "/api/v1/applications", Auth::Cookie(&cookie), Some(bad))
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    assert!(app.state.stores.oidc.list_applications().await.unwrap().is_empty());
    let r = app
        .call(Method::POST, "/api/v1/applications", Auth::Cookie(&cookie), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let created = r.json();
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    let id = created["application"]["clientId"].as_str().unwrap().to_owned();
    assert_eq!(created["application"]["scopes"], json!(["openid", "profile"]));
    assert_eq!(created["application"]["clientType"], "confidential");
    let list = app
        .call(Method::GET, "/api/v1/applications", Auth::Cookie(&cookie), None)
        .await;
    assert!(!String::from_utf8_lossy(&list.body).contains(&secret));
    assert_eq!(list.json()[0]["clientId"], id);
    let path = format!("/api/v1/applications/{id}");
    let r = app
        .call(
            Method::PATCH,
            &path,
            Auth::Cookie(&cookie),
            Some(json!({ "redirectUris": ["http://evil.example.com/"] })),
        )
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_redirect_uri");
    assert_eq!(
        app.call(Method::GET, &path, Auth::Cookie(&cookie), None).await.json()["redirectUris"],
        json!([CB])
    );
    let r = app
        .call(
            Method::PATCH,
            &path,
            Auth::Cookie(&cookie),
            Some(json!({ "name": "Payroll 2", "authenticationStrength": "phishing-resistant" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["authenticationStrength"], "phishing-resistant");
    let r = app
        .call(
            Method::PATCH,
            &path,
            Auth::Cookie(&cookie),
            Some(json!({ "authenticationStrength": null })),
        )
        .await;
    assert_eq!(r.json()["authenticationStrength"], Value::Null);
    assert_eq!(
        app.call(Method::DELETE, &path, Auth::Cookie(&cookie), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(Method::GET, &path, Auth::Cookie(&cookie), None).await.status,
        StatusCode::NOT_FOUND
    );
}

/// A user disabled (even if enabled again), signed out everywhere, or whose key is removed:
/// the application tokens of that user, or of sessions of that key, die.
async fn revocation_reaches_applications(b: Backend) {
    use keyfleet_core::identity::{sessions, users};
    let w = world(b).await;
    let sys = w.app.system();
    let alive = |t: &Value| t["access_token"].as_str().unwrap().to_owned();
    // Disabled, then enabled again: the old tokens stay dead.
    let t = tokens(&w, &code(&w, &[]).await).await;
    let off = users::UpdateUser {
        enabled: Some(false),
        ..Default::default()
    };
    users::update(&sys, &Principal::System, w.user.id, off).await.unwrap();
    let on = users::UpdateUser {
        enabled: Some(true),
        ..Default::default()
    };
    users::update(&sys, &Principal::System, w.user.id, on).await.unwrap();
    assert_eq!(userinfo_get(&w.app, &alive(&t)).await.status, StatusCode::UNAUTHORIZED);
    invalid_grant(&refresh(&w, t["refresh_token"].as_str().unwrap()).await);
    // Every session ended by the helpdesk.
    let mut key = w.key;
    let cookie = webauthn_kit::sign_in(&w.app, Some("alice"), &mut key).await;
    let w = World { key, cookie, ..w };
    let t = tokens(&w, &code(&w, &[]).await).await;
    assert_eq!(userinfo_get(&w.app, &alive(&t)).await.status, StatusCode::OK);
    sessions::end_all_for_user(&w.app.system(), &Principal::System, w.user.id)
        .await
        .unwrap();
    assert_eq!(userinfo_get(&w.app, &alive(&t)).await.status, StatusCode::UNAUTHORIZED);
    // The key removed.
    let mut key = w.key;
    let cookie = webauthn_kit::sign_in(&w.app, Some("alice"), &mut key).await;
    let w = World { key, cookie, ..w };
    let t = tokens(&w, &code(&w, &[]).await).await;
    let creds = w
        .app
        .state
        .stores
        .credentials
        .list_user_credentials(w.user.id)
        .await
        .unwrap();
    keyfleet_core::credentials::keys::remove_for_user(&w.app.system(), &Principal::System, w.user.id, &creds[0].id)
        .await
        .unwrap();
    assert_eq!(userinfo_get(&w.app, &alive(&t)).await.status, StatusCode::UNAUTHORIZED);
    invalid_grant(&refresh(&w, t["refresh_token"].as_str().unwrap()).await);
}

/// A leaver deactivated by directory sync (SCIM `active: false`) loses their application
/// tokens as one disabled in the console does: the refresh token and the access token die,
/// audited as `oidc.revoke` with the reason `directory_leaver`.
async fn directory_leavers_lose_their_application_tokens(b: Backend) {
    let w = world(b).await;
    let t = tokens(&w, &code(&w, &[]).await).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo_get(&w.app, &access).await.status, StatusCode::OK);
    let scim = w.app.bearer(&["scim"]).await;
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    });
    let req = Request::builder()
        .method(Method::PATCH)
        .uri(format!("/scim/v2/Users/{}", w.user.id))
        .header(header::AUTHORIZATION, format!("Bearer {scim}"))
        .header(header::CONTENT_TYPE, "application/scim+json")
        .body(Body::from(patch.to_string()))
        .unwrap();
    let r = w.app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(userinfo_get(&w.app, &access).await.status, StatusCode::UNAUTHORIZED);
    invalid_grant(&refresh(&w, t["refresh_token"].as_str().unwrap()).await);
    let revoked = w
        .app
        .state
        .stores
        .audit
        .list(&AuditQuery {
            limit: 10,
            action: Some(Action::OidcRevoke.as_str().into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert!(revoked[0].detail.as_deref().unwrap().contains("directory_leaver"));
}

/// `acr` from the authentication strengths the session's key meets; an application that
/// requires a strength the key does not meet sends the user to sign in again (or, with
/// prompt=none, login_required); an essential acr not met is unmet_authentication_requirements.
async fn authentication_strengths_and_acr(b: Backend) {
    let w = world(b).await;
    let c = id_claims(&w.app, &tokens(&w, &code(&w, &[]).await).await);
    assert_eq!(
        c.acr.as_deref(),
        Some("phr"),
        "any key meets the phishing-resistant strength"
    );
    let essential = |values: &str| format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":[{values}]}}}}}}"#);
    let phr = essential(r#""phr""#);
    let c = id_claims(&w.app, &tokens(&w, &code(&w, &[("claims", &phr)]).await).await);
    assert_eq!(c.acr.as_deref(), Some("phr"));
    // The test key's attestation chains to no trusted root: hardware-protected is not met.
    let phrh = essential(r#""phrh""#);
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("claims", &phrh)])).await;
    assert_eq!(get(&location(&r).1, "error"), Some("unmet_authentication_requirements"));
    let r = authorize(&w.app, Some(&w.cookie), &params(&w.rp, &[("claims", "{not json")])).await;
    assert_eq!(get(&location(&r).1, "error"), Some("invalid_request"));
    let events = authorize_events(&w.app).await;
    let strict = ApplicationInput {
        name: "Payroll".into(),
        redirect_uris: vec![CB.into()],
        authentication_strength: Some("hardware-protected".into()),
        ..Default::default()
    };
    let strict = applications::create(&w.app.system(), &Principal::System, strict)
        .await
        .unwrap();
    let rp = Rp {
        id: strict.application.client_id,
        secret: strict.secret,
    };
    let r = authorize(&w.app, Some(&w.cookie), &params(&rp, &[])).await;
    let (base, q) = location(&r);
    assert_eq!(base, "/login", "sent to sign in with a key that meets the strength");
    assert_eq!(get(&q, "login_hint"), Some("alice"));
    let r = authorize(&w.app, Some(&w.cookie), &params(&rp, &[("prompt", "none")])).await;
    assert_eq!(get(&location(&r).1, "error"), Some("login_required"));
    assert_eq!(authorize_events(&w.app).await, events, "no code for an unmet strength");
}
