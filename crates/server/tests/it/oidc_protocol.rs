//! Single sign-on, the protocol's second half: OpenID back-channel logout delivered by the
//! jobs runner to a real HTTP receiver, private_key_jwt client authentication (RFC 7523),
//! application secret rotation with an overlap, and signing-key rotation. On both stores.

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyfleet_core::access::Principal;
use keyfleet_core::jobs::Job;
use keyfleet_core::oidc::applications::{self, ApplicationInput, ApplicationPatch};
use keyfleet_core::oidc::backchannel::{self, LogoutTokenClaims};
use keyfleet_domain::audit::{Action, AuditQuery};
use keyfleet_domain::user::Role;
use serde_json::{Value, json};

use crate::harness::{Auth, Backend, TestApp};
use crate::oidc::{CB, Rp, VERIFIER, World, code, invalid_grant, query, refresh, token, tokens, userinfo_get, world};
use crate::on_both_stores;
use crate::webauthn_kit;

on_both_stores!(
    backchannel_logout_for_each_way_a_session_ends,
    backchannel_logout_retries_then_gives_up,
    private_key_jwt_accepts_a_good_assertion_and_refuses_the_rest,
    private_key_jwt_registration_refusals,
    application_secret_rotation_keeps_the_old_one_for_the_overlap,
    signing_key_rotation_publishes_before_use_and_keeps_the_old_key,
);

/// What the receiver got, and how many requests it should still answer 500.
#[derive(Default)]
struct Inbox {
    tokens: Vec<String>,
    content_types: Vec<String>,
    fail_next: usize,
    requests: usize,
}

/// A back-channel logout endpoint on 127.0.0.1: records every `logout_token` it is sent.
async fn receiver() -> (String, Arc<Mutex<Inbox>>) {
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let state = inbox.clone();
    let handler = move |headers: axum::http::HeaderMap, body: String| {
        let state = state.clone();
        async move {
            let mut s = state.lock().unwrap();
            s.requests += 1;
            if s.fail_next > 0 {
                s.fail_next -= 1;
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
            let token = form
                .iter()
                .find(|(k, _)| k == "logout_token")
                .map(|(_, v)| v.clone())
                .expect("a logout_token field");
            s.tokens.push(token);
            s.content_types.push(
                headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned(),
            );
            StatusCode::OK
        }
    };
    let router = axum::Router::new().route("/bcl", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/bcl"), inbox)
}

fn jobs() -> keyfleet_server::jobs::Jobs {
    keyfleet_server::jobs::Jobs {
        metadata: None,
        logout: Some(keyfleet_server::backchannel::sender().unwrap()),
        master: None,
        ..Default::default()
    }
}

/// Moves the clock past the delivery job's interval and runs what is due, as the server's
/// runner does.
async fn deliver(w: &World) {
    w.clock.advance(Job::BackchannelLogout.interval());
    keyfleet_server::jobs::run_due_with(&w.app.state.core, "test", &jobs()).await;
}

fn b64json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Verifies a logout token against the published JWKS alone, and reads its claims.
async fn verify_with_jwks(app: &TestApp, token: &str) -> (Value, LogoutTokenClaims) {
    use p256::ecdsa::signature::Verifier as _;
    let header = b64json(token.split('.').next().unwrap());
    let jwks = app.call(Method::GET, "/oauth2/jwks", Auth::None, None).await.json();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the signing key is published");
    let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    let y = URL_SAFE_NO_PAD.decode(key["y"].as_str().unwrap()).unwrap();
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&[&[4u8][..], &x, &y].concat()).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    vk.verify(input.as_bytes(), &sig)
        .expect("the logout token verifies against the JWKS");
    let claims: LogoutTokenClaims = serde_json::from_value(b64json(input.split('.').nth(1).unwrap())).unwrap();
    (header, claims)
}

/// An application with a back-channel logout URI (and one without, which must get nothing).
async fn with_backchannel(w: &World, uri: &str) -> Rp {
    let patch = ApplicationPatch {
        backchannel_logout_uri: Some(Some(uri.to_owned())),
        ..Default::default()
    };
    applications::update(&w.app.system(), &Principal::System, &w.rp.id, patch)
        .await
        .unwrap();
    let quiet = ApplicationInput {
        name: "Quiet".into(),
        redirect_uris: vec![CB.into()],
        ..Default::default()
    };
    let quiet = applications::create(&w.app.system(), &Principal::System, quiet)
        .await
        .unwrap();
    Rp {
        id: quiet.application.client_id,
        secret: quiet.secret,
    }
}

/// Signs in to `w.rp` (and to `quiet`) from `w.cookie`; returns w.rp's tokens.
async fn sign_in_to_apps(w: &mut World, quiet: &mut Rp) -> Value {
    let t = tokens(w, &code(w, &[]).await).await;
    std::mem::swap(&mut w.rp, quiet);
    tokens(w, &code(w, &[]).await).await;
    std::mem::swap(&mut w.rp, quiet);
    t
}

/// A new key for alice (the old one was removed), registered from a session without a key.
async fn new_key(w: &mut World, n: usize) {
    let cookie = w.app.full_session(&w.user).await;
    w.key = keyfleet_webauthn_testkey::TestKey::from_seed(format!("alice's key {n}").as_bytes());
    webauthn_kit::register(&w.app, &cookie, &mut w.key).await;
}

async fn audit_actions(app: &TestApp, action: Action) -> Vec<keyfleet_domain::audit::AuditEvent> {
    let q = AuditQuery {
        limit: 1000,
        action: Some(action.as_str().into()),
        ..Default::default()
    };
    app.state.stores.audit.list(&q).await.unwrap()
}

/// Every way a session ends reaches the applications it signed in to that have a back-channel
/// logout URI: one logout token per grant, signed with the ID tokens' key (verified against
/// /oauth2/jwks), with iss, aud, iat, exp, jti, sub, the ID token's sid and the event, and no
/// nonce. An application without a URI gets nothing; nothing is sent before the job runs.
async fn backchannel_logout_for_each_way_a_session_ends(b: Backend) {
    use keyfleet_core::identity::{sessions, users};
    let (uri, inbox) = receiver().await;
    let mut w = world(b).await;
    let mut quiet = with_backchannel(&w, &uri).await;
    let discovery = w
        .app
        .call(Method::GET, "/.well-known/openid-configuration", Auth::None, None)
        .await
        .json();
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);
    let issuer = w.app.state.settings.issuer.clone();
    let mut seen = 0;
    for way in [
        "rp_initiated_logout",
        "auth_logout",
        "sign_out_everywhere",
        "helpdesk_ends_sessions",
        "key_reported_lost",
        "key_removed_by_helpdesk",
        "user_disabled",
        "scim_deactivated",
    ] {
        let t = sign_in_to_apps(&mut w, &mut quiet).await;
        let id: Value = b64json(t["id_token"].as_str().unwrap().split('.').nth(1).unwrap());
        // Nothing is sent while the session lives.
        deliver(&w).await;
        assert_eq!(inbox.lock().unwrap().tokens.len(), seen, "{way}: nothing yet");
        let sys = w.app.system();
        let creds = || async {
            w.app
                .state
                .stores
                .credentials
                .list_user_credentials(w.user.id)
                .await
                .unwrap()
        };
        match way {
            "rp_initiated_logout" => {
                let q = query(&[("id_token_hint", t["id_token"].as_str().unwrap())]);
                let r = w
                    .app
                    .call(
                        Method::GET,
                        &format!("/oauth2/logout?{q}"),
                        Auth::CookieNoOrigin(&w.cookie),
                        None,
                    )
                    .await;
                assert!(
                    r.status.is_redirection() || r.status == StatusCode::OK,
                    "{way}: {}",
                    r.status
                );
            }
            "auth_logout" => {
                let r = w
                    .app
                    .call(Method::POST, "/api/v1/auth/logout", Auth::Cookie(&w.cookie), None)
                    .await;
                assert_eq!(r.status, StatusCode::NO_CONTENT, "{way}");
            }
            "sign_out_everywhere" => {
                let r = w
                    .app
                    .call(
                        Method::POST,
                        "/api/v1/auth/logout?everywhere=true",
                        Auth::Cookie(&w.cookie),
                        None,
                    )
                    .await;
                assert_eq!(r.status, StatusCode::NO_CONTENT, "{way}");
            }
            "helpdesk_ends_sessions" => {
                sessions::end_all_for_user(&sys, &Principal::System, w.user.id)
                    .await
                    .unwrap();
            }
            "key_reported_lost" => {
                let c = creds().await;
                let id = URL_SAFE_NO_PAD.encode(&c[0].id);
                let r = w
                    .app
                    .call(
                        Method::POST,
                        &format!("/api/v1/me/credentials/{id}/lost"),
                        Auth::Cookie(&w.cookie),
                        None,
                    )
                    .await;
                assert_eq!(
                    r.status,
                    StatusCode::NO_CONTENT,
                    "{way}: {}",
                    String::from_utf8_lossy(&r.body)
                );
                // A new key for the next rounds.
                new_key(&mut w, seen).await;
            }
            "key_removed_by_helpdesk" => {
                let c = creds().await;
                keyfleet_core::credentials::keys::remove_for_user(&sys, &Principal::System, w.user.id, &c[0].id)
                    .await
                    .unwrap();
                new_key(&mut w, seen).await;
            }
            "user_disabled" => {
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
            }
            "scim_deactivated" => {
                let scim = w.app.bearer(&["scim"]).await;
                let patch = json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "Replace", "path": "active", "value": false}]
                });
                let req = axum::http::Request::builder()
                    .method(Method::PATCH)
                    .uri(format!("/scim/v2/Users/{}", w.user.id))
                    .header(header::AUTHORIZATION, format!("Bearer {scim}"))
                    .header(header::CONTENT_TYPE, "application/scim+json")
                    .body(axum::body::Body::from(patch.to_string()))
                    .unwrap();
                let r = w.app.send(req).await;
                assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
            }
            _ => unreachable!(),
        }
        // The session's tokens are dead at once; the application hears of it from the job.
        assert_eq!(
            userinfo_get(&w.app, t["access_token"].as_str().unwrap()).await.status,
            StatusCode::UNAUTHORIZED,
            "{way}"
        );
        assert_eq!(inbox.lock().unwrap().tokens.len(), seen, "{way}: sent by the job only");
        deliver(&w).await;
        let got = inbox.lock().unwrap().tokens.clone();
        assert_eq!(
            got.len(),
            seen + 1,
            "{way}: one token, none for the application without a URI"
        );
        let (header, claims) = verify_with_jwks(&w.app, &got[seen]).await;
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], backchannel::TYP);
        assert_eq!(claims.iss, issuer);
        assert_eq!(claims.aud, w.rp.id);
        assert_eq!(claims.sub, w.user.id.to_string());
        assert_eq!(claims.sid, id["sid"].as_str().unwrap(), "{way}: the ID token's sid");
        assert_eq!(claims.events, json!({ backchannel::EVENT: {} }));
        assert!(claims.exp > claims.iat && claims.exp - claims.iat <= 120);
        assert!(!claims.jti.is_empty());
        let raw = b64json(got[seen].split('.').nth(1).unwrap());
        assert!(raw.get("nonce").is_none(), "no nonce in a logout token");
        assert!(
            inbox.lock().unwrap().content_types[seen].starts_with("application/x-www-form-urlencoded"),
            "posted as a form"
        );
        // Delivered once: later runs send nothing more.
        deliver(&w).await;
        assert_eq!(inbox.lock().unwrap().tokens.len(), seen + 1, "{way}: once");
        seen += 1;
        // The user is back for the next round (re-enabled, or a new key), signed in afresh
        // (after the last, a leaver, they are not).
        if way != "scim_deactivated" {
            w.cookie = webauthn_kit::sign_in(&w.app, Some("alice"), &mut w.key).await;
        }
    }
    // A user deleted: their grants go with them, the application is told all the same.
    let (bob, _, mut bob_key) = webauthn_kit::enrolled(&w.app, "bob").await;
    w.cookie = webauthn_kit::sign_in(&w.app, Some("bob"), &mut bob_key).await;
    let t = tokens(&w, &code(&w, &[]).await).await;
    let sid = b64json(t["id_token"].as_str().unwrap().split('.').nth(1).unwrap())["sid"].clone();
    keyfleet_core::identity::users::delete(&w.app.system(), &Principal::System, bob.id)
        .await
        .unwrap();
    deliver(&w).await;
    let got = inbox.lock().unwrap().tokens.clone();
    assert_eq!(got.len(), seen + 1, "user_deleted");
    let (_, claims) = verify_with_jwks(&w.app, &got[seen]).await;
    assert_eq!((claims.sub, json!(claims.sid)), (bob.id.to_string(), sid));
    seen += 1;
    let delivered = audit_actions(&w.app, Action::OidcBackchannelLogout).await;
    assert_eq!(delivered.len(), seen, "each delivery audited");
    assert!(
        delivered
            .iter()
            .all(|e| e.outcome == keyfleet_domain::audit::Outcome::Success)
    );
}

/// A receiver answering 500 gets the token again after the backoff; one that never answers
/// 2xx is given up on after the last attempt, audited as a failure. A URI cleared meanwhile
/// stops the retries. Refreshing the other tokens is unaffected throughout.
async fn backchannel_logout_retries_then_gives_up(b: Backend) {
    use keyfleet_core::identity::sessions;
    let (uri, inbox) = receiver().await;
    let mut w = world(b).await;
    let mut quiet = with_backchannel(&w, &uri).await;
    // First: two failures, then delivered.
    inbox.lock().unwrap().fail_next = 2;
    sign_in_to_apps(&mut w, &mut quiet).await;
    sessions::end_all_for_user(&w.app.system(), &Principal::System, w.user.id)
        .await
        .unwrap();
    deliver(&w).await;
    assert_eq!(inbox.lock().unwrap().requests, 1);
    assert!(inbox.lock().unwrap().tokens.is_empty());
    // Not retried before its backoff (the job runs; the delivery is not due).
    deliver(&w).await;
    assert_eq!(inbox.lock().unwrap().requests, 2, "retried after 10 s");
    deliver(&w).await;
    assert_eq!(inbox.lock().unwrap().requests, 2, "the second retry waits 20 s");
    deliver(&w).await;
    assert_eq!(inbox.lock().unwrap().requests, 3);
    assert_eq!(inbox.lock().unwrap().tokens.len(), 1, "delivered on the third attempt");
    let first = inbox.lock().unwrap().tokens[0].clone();
    let (_, claims) = verify_with_jwks(&w.app, &first).await;
    assert_eq!(claims.aud, w.rp.id);
    // Then: never answered; given up after MAX_ATTEMPTS, audited as a failure.
    w.cookie = webauthn_kit::sign_in(&w.app, Some("alice"), &mut w.key).await;
    inbox.lock().unwrap().fail_next = usize::MAX;
    sign_in_to_apps(&mut w, &mut quiet).await;
    sessions::end_all_for_user(&w.app.system(), &Principal::System, w.user.id)
        .await
        .unwrap();
    let before = inbox.lock().unwrap().requests;
    for _ in 0..200 {
        deliver(&w).await;
    }
    let attempts = inbox.lock().unwrap().requests - before;
    assert_eq!(
        attempts,
        backchannel::MAX_ATTEMPTS as usize,
        "tried exactly MAX_ATTEMPTS times"
    );
    let events = audit_actions(&w.app, Action::OidcBackchannelLogout).await;
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e.outcome == keyfleet_domain::audit::Outcome::Failure)
        .collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    assert!(failed[0].detail.as_deref().unwrap().contains("answered 500"));
    assert!(
        !failed[0]
            .detail
            .as_deref()
            .unwrap()
            .contains(&inbox.lock().unwrap().tokens[0][..20]),
        "no token in the audit log"
    );
}

// ---------------------------------------------------------------------------------------
// private_key_jwt

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

struct EcClient {
    key: p256::ecdsa::SigningKey,
    kid: String,
}

impl EcClient {
    fn new(kid: &str) -> Self {
        Self {
            key: p256::ecdsa::SigningKey::random(&mut rand_core::OsRng),
            kid: kid.to_owned(),
        }
    }

    fn jwk(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        })
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        use p256::ecdsa::signature::Signer as _;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    fn assertion(&self, claims: &Value) -> String {
        self.sign(&json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"}), claims)
    }
}

struct RsaClient {
    pair: aws_lc_rs::signature::RsaKeyPair,
    kid: String,
}

impl RsaClient {
    fn new(kid: &str) -> Self {
        Self {
            pair: aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
            kid: kid.to_owned(),
        }
    }

    fn jwk(&self) -> Value {
        use aws_lc_rs::signature::KeyPair as _;
        // RFC 8017 RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e } (DER).
        let der = self.pair.public_key().as_ref();
        fn tlv(d: &[u8]) -> (&[u8], &[u8]) {
            let (len, skip) = match d[1] {
                l if l < 0x80 => (l as usize, 2),
                0x81 => (d[2] as usize, 3),
                0x82 => ((d[2] as usize) << 8 | d[3] as usize, 4),
                _ => panic!("DER length"),
            };
            (&d[skip..skip + len], &d[skip + len..])
        }
        let (seq, _) = tlv(der);
        let (n, rest) = tlv(seq);
        let (e, _) = tlv(rest);
        let strip = |b: &[u8]| b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>();
        json!({"kty": "RSA", "kid": self.kid, "n": URL_SAFE_NO_PAD.encode(strip(n)), "e": URL_SAFE_NO_PAD.encode(strip(e))})
    }

    fn assertion(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

fn claims(w: &World, client_id: &str, jti: &str) -> Value {
    let now = w.clock_now_s();
    json!({
        "iss": client_id, "sub": client_id, "aud": format!("{}/oauth2/token", w.app.state.settings.issuer),
        "exp": now + 60, "iat": now, "jti": jti,
    })
}

trait ClockNow {
    fn clock_now_s(&self) -> i64;
}
impl ClockNow for World {
    fn clock_now_s(&self) -> i64 {
        keyfleet_domain::time::Clock::now(&*self.clock).as_millis() / 1000
    }
}

async fn exchange_with_assertion(
    w: &World,
    code: &str,
    client_id: Option<&str>,
    assertion: &str,
) -> crate::harness::Resp {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    token(&w.app, &form, None).await
}

fn invalid_client(r: &crate::harness::Resp, why: &str) {
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "{why}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["error"], "invalid_client", "{why}");
}

/// An application registered with a JWK Set authenticates with a signed assertion (ES256 or
/// RS256), audience the token endpoint or the issuer; every bad assertion is invalid_client
/// and changes nothing (the code stays redeemable); its secret no longer works; discovery
/// lists the method.
async fn private_key_jwt_accepts_a_good_assertion_and_refuses_the_rest(b: Backend) {
    let w = world(b).await;
    let ec = EcClient::new("ec-1");
    let rsa = RsaClient::new("rsa-1");
    let admin = w.app.user("ada", Role::Admin).await;
    let cookie = w.app.full_session(&admin).await;
    let r = w
        .app
        .call(
            Method::PATCH,
            &format!("/api/v1/applications/{}", w.rp.id),
            Auth::Cookie(&cookie),
            Some(json!({"tokenEndpointAuthMethod": "private_key_jwt", "jwks": {"keys": [ec.jwk(), rsa.jwk()]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["tokenEndpointAuthMethod"], "private_key_jwt");
    assert_eq!(r.json()["jwks"]["keys"][0]["kid"], "ec-1");
    let discovery = w
        .app
        .call(Method::GET, "/.well-known/openid-configuration", Auth::None, None)
        .await
        .json();
    assert!(
        discovery["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("private_key_jwt"))
    );
    let id = w.rp.id.clone();
    let now = w.clock_now_s();
    let issuer = w.app.state.settings.issuer.clone();
    // Refusals: each invalid_client, the code still good afterwards.
    let c = code(&w, &[]).await;
    let other = EcClient::new("ec-1"); // same kid, another key: a bad signature
    let mut cases: Vec<(&str, String, Option<&str>)> = vec![
        (
            "wrong aud",
            ec.assertion(&{
                let mut x = claims(&w, &id, "j1");
                x["aud"] = json!("https://elsewhere.example.com/token");
                x
            }),
            None,
        ),
        (
            "expired",
            ec.assertion(&{
                let mut x = claims(&w, &id, "j2");
                x["exp"] = json!(now - 1);
                x
            }),
            None,
        ),
        (
            "exp too far",
            ec.assertion(&{
                let mut x = claims(&w, &id, "j3");
                x["exp"] = json!(now + 7200);
                x
            }),
            None,
        ),
        (
            "unknown kid",
            ec.sign(&json!({"alg": "ES256", "kid": "nope"}), &claims(&w, &id, "j4")),
            None,
        ),
        ("bad signature", other.assertion(&claims(&w, &id, "j5")), None),
        (
            "alg none",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": "ec-1"}).to_string()),
                URL_SAFE_NO_PAD.encode(claims(&w, &id, "j6").to_string())
            ),
            None,
        ),
        (
            "alg HS256",
            ec.sign(&json!({"alg": "HS256", "kid": "ec-1"}), &claims(&w, &id, "j7")),
            None,
        ),
        (
            "RS256 header on the EC key",
            ec.sign(&json!({"alg": "RS256", "kid": "ec-1"}), &claims(&w, &id, "j8")),
            None,
        ),
        (
            "iss is someone else",
            ec.assertion(&{
                let mut x = claims(&w, &id, "j9");
                x["iss"] = json!("kfa_other");
                x
            }),
            None,
        ),
        (
            "no jti",
            ec.assertion(&{
                let mut x = claims(&w, &id, "j10");
                x.as_object_mut().unwrap().remove("jti");
                x
            }),
            None,
        ),
        (
            "client_id of another application",
            ec.assertion(&claims(&w, &id, "j11")),
            Some("kfa_someone_else"),
        ),
        ("malformed", "not.a.jwt".to_owned(), Some(id.as_str())),
    ];
    let before = w.app.audit_count().await;
    for (why, assertion, client_id) in cases.drain(..) {
        invalid_client(&exchange_with_assertion(&w, &c, client_id, &assertion).await, why);
    }
    // Wrong assertion type, and a secret alongside: refused too.
    let r = token(
        &w.app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", &ec.assertion(&claims(&w, &id, "j12"))),
        ],
        None,
    )
    .await;
    invalid_client(&r, "assertion type");
    // The secret it had no longer authenticates it.
    let r = crate::oidc::exchange(&w, &c).await;
    invalid_client(&r, "secret of a private_key_jwt application");
    // Each refusal of the core audited once (a wrong assertion type is refused by the route
    // before any lookup, as a malformed Authorization header is), nothing else written.
    assert_eq!(w.app.audit_count().await - before, 13);
    // A good ES256 assertion (client_id from the assertion), then its replay.
    let good = ec.assertion(&claims(&w, &id, "good-1"));
    let r = exchange_with_assertion(&w, &c, None, &good).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let t = r.json();
    let c2 = code(&w, &[]).await;
    invalid_client(&exchange_with_assertion(&w, &c2, None, &good).await, "replayed jti");
    // RS256, with the issuer as audience and client_id in the form.
    let mut x = claims(&w, &id, "good-2");
    x["aud"] = json!(issuer);
    let r = exchange_with_assertion(&w, &c2, Some(&id), &rsa.assertion(&x)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    // Refresh and revocation authenticate the same way.
    let rt = t["refresh_token"].as_str().unwrap();
    let r = token(
        &w.app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &ec.assertion(&claims(&w, &id, "good-3"))),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let rt2 = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let mut x = claims(&w, &id, "good-4");
    x["aud"] = json!(format!("{issuer}/oauth2/revoke"));
    let form = query(&[
        ("token", rt2.as_str()),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", &ec.assertion(&x)),
    ]);
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/oauth2/revoke")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(form))
        .unwrap();
    assert_eq!(w.app.send(req).await.status, StatusCode::OK);
    let r = token(
        &w.app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt2),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &ec.assertion(&claims(&w, &id, "good-5"))),
        ],
        None,
    )
    .await;
    invalid_grant(&r);
}

/// Registration refuses JWK Sets it could not use, with invalid_field, changing nothing.
async fn private_key_jwt_registration_refusals(b: Backend) {
    let w = world(b).await;
    let admin = w.app.user("ada", Role::Admin).await;
    let cookie = w.app.full_session(&admin).await;
    let ec = EcClient::new("k");
    let mut private = ec.jwk();
    private["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    let mut off_curve = ec.jwk();
    off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
    let weak_rsa = json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 128]), "e": "AQAB"});
    let mut no_kid = ec.jwk();
    no_kid.as_object_mut().unwrap().remove("kid");
    let before = w.app.audit_count().await;
    let path = format!("/api/v1/applications/{}", w.rp.id);
    for (why, body) in [
        ("private key", json!({"jwks": {"keys": [private]}})),
        ("off the curve", json!({"jwks": {"keys": [off_curve]}})),
        ("RSA 1024", json!({"jwks": {"keys": [weak_rsa]}})),
        ("no kid", json!({"jwks": {"keys": [no_kid]}})),
        ("two kids alike", json!({"jwks": {"keys": [ec.jwk(), ec.jwk()]}})),
        ("empty", json!({"jwks": {"keys": []}})),
        ("not a set", json!({"jwks": [ec.jwk()]})),
        (
            "method without keys",
            json!({"tokenEndpointAuthMethod": "private_key_jwt"}),
        ),
        ("unknown method", json!({"tokenEndpointAuthMethod": "tls_client_auth"})),
        (
            "keys with a secret method",
            json!({"tokenEndpointAuthMethod": "client_secret_post", "jwks": {"keys": [ec.jwk()]}}),
        ),
    ] {
        let r = w
            .app
            .call(Method::PATCH, &path, Auth::Cookie(&cookie), Some(body))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    }
    assert_eq!(w.app.audit_count().await, before, "nothing written");
    let r = w.app.call(Method::GET, &path, Auth::Cookie(&cookie), None).await.json();
    assert_eq!(r["tokenEndpointAuthMethod"], "client_secret_basic");
    assert!(r.get("jwks").is_none());
    // The secret still works.
    let t = tokens(&w, &code(&w, &[]).await).await;
    assert!(t["id_token"].is_string());
    // A public application cannot register keys.
    let r = w
        .app
        .call(
            Method::POST,
            "/api/v1/applications",
            Auth::Cookie(&cookie),
            Some(json!({"name": "Spa", "redirectUris": [CB], "clientType": "public", "jwks": {"keys": [ec.jwk()]}})),
        )
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    // Created with private_key_jwt: no secret is shown.
    let r = w
        .app
        .call(
            Method::POST,
            "/api/v1/applications",
            Auth::Cookie(&cookie),
            Some(json!({"name": "Signed", "redirectUris": [CB], "jwks": {"keys": [ec.jwk()]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json().get("clientSecret").is_none());
    assert_eq!(r.json()["application"]["tokenEndpointAuthMethod"], "private_key_jwt");
}

// ---------------------------------------------------------------------------------------
// Application secret rotation

/// `POST /api/v1/applications/{id}/secrets` returns a new secret once; the old one keeps
/// working until the phase-out ends, then only the new one does; audited; a public
/// application has none to rotate; helpdesk may not.
async fn application_secret_rotation_keeps_the_old_one_for_the_overlap(b: Backend) {
    let mut w = world(b).await;
    let admin = w.app.user("ada", Role::Admin).await;
    let cookie = w.app.full_session(&admin).await;
    let path = format!("/api/v1/applications/{}/secrets", w.rp.id);
    let helpdesk = w.app.user("hugo", Role::Helpdesk).await;
    let hd_cookie = w.app.full_session(&helpdesk).await;
    let before = audit_actions(&w.app, Action::ApplicationRotateSecret).await.len();
    let r = w.app.call(Method::POST, &path, Auth::Cookie(&hd_cookie), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = w.app.call(Method::POST, &path, Auth::Cookie(&cookie), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let body = r.json();
    let new = body["clientSecret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("kfas_"));
    assert!(body["previousSecretExpiresAt"].is_string());
    assert_eq!(
        audit_actions(&w.app, Action::ApplicationRotateSecret).await.len(),
        before + 1
    );
    let listed = w
        .app
        .call(
            Method::GET,
            &format!("/api/v1/applications/{}", w.rp.id),
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    assert!(!String::from_utf8_lossy(&listed.body).contains(&new), "never listed");
    // Both work during the overlap.
    let t = tokens(&w, &code(&w, &[]).await).await;
    assert!(t["access_token"].is_string(), "old secret during the overlap");
    let old = w.rp.secret.replace(new.clone());
    let t = tokens(&w, &code(&w, &[]).await).await;
    let rt = t["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&w, rt).await.status, StatusCode::OK, "the new secret refreshes");
    // After the overlap only the new one.
    w.clock
        .advance(w.app.state.core.config.clients.secret_phase_out + std::time::Duration::from_secs(1));
    w.cookie = webauthn_kit::sign_in(&w.app, Some("alice"), &mut w.key).await;
    let c = code(&w, &[]).await;
    w.rp.secret = old;
    invalid_client(&crate::oidc::exchange(&w, &c).await, "old secret after the overlap");
    w.rp.secret = Some(new);
    let r = crate::oidc::exchange(&w, &c).await;
    assert_eq!(r.status, StatusCode::OK, "the code was not spent by the refusal");
    let cookie = w.app.full_session(&admin).await;
    // A public application has no secret to rotate; an unknown one is 404.
    let spa = applications::create(
        &w.app.system(),
        &Principal::System,
        ApplicationInput {
            name: "Spa".into(),
            redirect_uris: vec![CB.into()],
            client_type: Some("public".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = w
        .app
        .call(
            Method::POST,
            &format!("/api/v1/applications/{}/secrets", spa.application.client_id),
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    r.problem(StatusCode::CONFLICT, "public_client");
    let r = w
        .app
        .call(
            Method::POST,
            "/api/v1/applications/kfa_nope/secrets",
            Auth::Cookie(&cookie),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------
// Signing-key rotation

fn kid_of(token: &str) -> String {
    b64json(token.split('.').next().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn published(app: &TestApp) -> Vec<String> {
    let jwks = app.call(Method::GET, "/oauth2/jwks", Auth::None, None).await.json();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// A rotation publishes the new key at once and signs with it only from the publish delay on
/// (never a token under a kid the JWKS did not already list); tokens of the old key still
/// verify against the JWKS after the switch, until they have expired and the key is purged.
async fn signing_key_rotation_publishes_before_use_and_keeps_the_old_key(b: Backend) {
    use keyfleet_core::oidc::keys;
    let mut w = world(b).await;
    let jobs = keyfleet_server::jobs::Jobs {
        master: Some(w.app.state.master.clone()),
        ..Default::default()
    };
    let run = |w: &World| {
        let core = w.app.state.core.clone();
        let jobs = jobs.clone();
        async move { keyfleet_server::jobs::run_due_with(&core, "test", &jobs).await }
    };
    run(&w).await;
    let old_kid = w.app.keys().active_kid();
    let old = tokens(&w, &code(&w, &[]).await).await;
    let old_id = old["id_token"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&old_id), old_kid);
    // Rotate (as the CLI does); asking again while one waits changes nothing.
    let next = keys::rotate(&w.app.system(), &Principal::System, &w.app.state.master)
        .await
        .unwrap();
    let again = keys::rotate(&w.app.system(), &Principal::System, &w.app.state.master)
        .await
        .unwrap();
    assert_eq!(again, next);
    assert_ne!(next.kid, old_kid);
    assert_eq!(audit_actions(&w.app, Action::SigningKeyRotate).await.len(), 1);
    // Published by the next reload, not used.
    assert!(!published(&w.app).await.contains(&next.kid), "not before the reload");
    run(&w).await;
    let listed = published(&w.app).await;
    assert!(listed.contains(&next.kid) && listed.contains(&old_kid), "{listed:?}");
    // Until the publish delay is over, everything is signed with the old key.
    w.clock
        .advance(keys::PUBLISH_DELAY - std::time::Duration::from_secs(60));
    run(&w).await;
    w.cookie = webauthn_kit::sign_in(&w.app, Some("alice"), &mut w.key).await;
    let t = tokens(&w, &code(&w, &[]).await).await;
    assert_eq!(
        kid_of(t["id_token"].as_str().unwrap()),
        old_kid,
        "not used before its time"
    );
    assert_eq!(kid_of(t["access_token"].as_str().unwrap()), old_kid);
    let api = w.app.bearer(&["users:read"]).await;
    assert_eq!(kid_of(&api), old_kid);
    let before_switch = published(&w.app).await;
    // After it, the housekeeping job promotes it and the new key signs.
    w.clock.advance(keys::PUBLISH_DELAY);
    run(&w).await;
    assert_eq!(audit_actions(&w.app, Action::SigningKeyPromote).await.len(), 1);
    assert_eq!(w.app.keys().active_kid(), next.kid);
    w.cookie = webauthn_kit::sign_in(&w.app, Some("alice"), &mut w.key).await;
    let t2 = tokens(&w, &code(&w, &[]).await).await;
    let new_id = t2["id_token"].as_str().unwrap();
    assert_eq!(kid_of(new_id), next.kid);
    assert!(
        before_switch.contains(&next.kid),
        "its kid was published before it signed"
    );
    // The old key's tokens still verify against the JWKS (both, published side by side).
    let listed = published(&w.app).await;
    assert!(listed.contains(&old_kid) && listed.contains(&next.kid), "{listed:?}");
    w.app
        .keys()
        .verify_jwt::<keyfleet_core::oidc::IdTokenClaims>(&old_id, "JWT")
        .expect("an old ID token still verifies");
    w.app
        .keys()
        .verify_jwt::<keyfleet_core::oidc::IdTokenClaims>(new_id, "JWT")
        .expect("a new one verifies");
    assert_eq!(
        w.app
            .call(
                Method::GET,
                "/api/v1/users",
                Auth::Bearer(&w.app.bearer(&["users:read"]).await),
                None
            )
            .await
            .status,
        StatusCode::OK,
        "API tokens of the new key are accepted"
    );
    // Once every token it signed has expired, the old key is purged and unpublished.
    w.clock.advance(keys::RETAIN + Job::Housekeeping.interval());
    run(&w).await;
    let listed = published(&w.app).await;
    assert_eq!(listed, vec![next.kid.clone()], "only the new key");
    assert!(
        w.app
            .keys()
            .verify_jwt::<keyfleet_core::oidc::IdTokenClaims>(&old_id, "JWT")
            .is_err(),
        "the purged key verifies nothing"
    );
    assert_eq!(audit_actions(&w.app, Action::SigningKeyPurge).await.len(), 1);
}
