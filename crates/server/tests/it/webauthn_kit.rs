//! Helpers for the ceremony tests: the routes of the ceremony contract, a software key
//! (`keyfleet-webauthn-testkey`), and a snapshot of everything a refused ceremony must leave
//! untouched.

use axum::http::{HeaderValue, Method, StatusCode, header};
use keyfleet_domain::UserId;
use keyfleet_domain::ceremony::Ceremony as StoredCeremony;
use keyfleet_domain::credential::Credential;
use keyfleet_domain::user::User;
use keyfleet_webauthn_testkey::{TestKey, Tweaks};
use serde_json::{Value, json};

use crate::harness::{Auth, ORIGIN, Resp, TestApp, request};

pub const REG_OPTIONS: &str = "/api/v1/me/credentials/registration/options";
pub const REG_VERIFY: &str = "/api/v1/me/credentials/registration/verify";
pub const SIGN_IN_OPTIONS: &str = "/api/v1/auth/webauthn/options";
pub const SIGN_IN_VERIFY: &str = "/api/v1/auth/webauthn/verify";

/// A started ceremony: its id and the `publicKey` options.
pub struct Started {
    pub id: String,
    pub options: Value,
}

fn started(r: &Resp) -> Started {
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    Started {
        id: v["ceremonyId"].as_str().expect("ceremonyId").to_owned(),
        options: v["publicKey"].clone(),
    }
}

/// Registration options for the session `cookie`.
pub async fn reg_options(app: &TestApp, cookie: &str) -> Started {
    started(&app.call(Method::POST, REG_OPTIONS, Auth::Cookie(cookie), None).await)
}

/// Finishes a registration with `credential` under the nickname "Blue key".
pub async fn reg_verify(app: &TestApp, cookie: &str, ceremony_id: &str, credential: Value) -> Resp {
    let body = json!({ "ceremonyId": ceremony_id, "nickname": "Blue key", "credential": credential });
    app.call(Method::POST, REG_VERIFY, Auth::Cookie(cookie), Some(body))
        .await
}

/// Registers `key` for the session's user; asserts 201 and returns the credential JSON.
pub async fn register(app: &TestApp, cookie: &str, key: &mut TestKey) -> Value {
    let c = reg_options(app, cookie).await;
    let cred = key.register(&c.options, ORIGIN).expect("the key registers");
    let r = reg_verify(app, cookie, &c.id, cred).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// Sign-in options, username-first with `Some`, username-less with `None`.
pub async fn sign_in_options(app: &TestApp, username: Option<&str>) -> Started {
    let body = match username {
        Some(u) => json!({ "username": u }),
        None => json!({}),
    };
    started(&app.call(Method::POST, SIGN_IN_OPTIONS, Auth::None, Some(body)).await)
}

/// Finishes a sign-in as a browser would (with the Origin header).
pub async fn sign_in_verify(app: &TestApp, ceremony_id: &str, credential: Value) -> Resp {
    let body = json!({ "ceremonyId": ceremony_id, "credential": credential });
    let mut req = request(Method::POST, SIGN_IN_VERIFY, Auth::None, Some(body));
    req.headers_mut()
        .insert(header::ORIGIN, HeaderValue::from_static(ORIGIN));
    app.send(req).await
}

/// A complete sign-in with `key`; asserts 200 and returns the session cookie.
pub async fn sign_in(app: &TestApp, username: Option<&str>, key: &mut TestKey) -> String {
    let c = sign_in_options(app, username).await;
    let cred = key.sign_in(&c.options, ORIGIN).expect("the key signs");
    let r = sign_in_verify(app, &c.id, cred).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    r.cookie()
}

/// A worker with a TAP session and one registered key: (user, TAP cookie, key).
pub async fn enrolled(app: &TestApp, username: &str) -> (User, String, TestKey) {
    let (user, cookie) = app.tap_session(username).await;
    let mut key = TestKey::from_seed(format!("{username}'s first key").as_bytes());
    register(app, &cookie, &mut key).await;
    (user, cookie, key)
}

/// Everything a refused ceremony must leave as it was.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    /// How many credentials exist (all users).
    pub credential_count: u64,
    /// The users' credentials, with counters, flags and last-use times.
    pub credentials: Vec<Credential>,
    /// How many live sessions each user has.
    pub sessions: Vec<usize>,
}

pub async fn snapshot(app: &TestApp, users: &[UserId]) -> Snapshot {
    let stores = &app.state.stores;
    let mut credentials = Vec::new();
    let mut sessions = Vec::new();
    for u in users {
        credentials.extend(stores.credentials.list_user_credentials(*u).await.unwrap());
        sessions.push(
            stores
                .sessions
                .list_user_sessions(*u, app.state.now())
                .await
                .unwrap()
                .len(),
        );
    }
    Snapshot {
        credential_count: stores.credentials.count_credentials().await.unwrap(),
        credentials,
        sessions,
    }
}

/// The stored credential with this id.
pub async fn stored(app: &TestApp, id: &[u8]) -> Credential {
    app.state
        .stores
        .credentials
        .get_credential(id)
        .await
        .unwrap()
        .expect("stored credential")
}

/// The ceremony named by a ceremony id from the options, while it can still be used: a
/// registration's as stored, a sign-in's (sealed in its id) until it is recorded as spent.
pub async fn stored_ceremony(app: &TestApp, id: &str) -> Option<StoredCeremony> {
    let ceremonies = &app.state.stores.ceremonies;
    if keyfleet_core::credentials::sealed::is_sealed(id) {
        let c = app
            .state
            .core
            .config
            .ceremonies
            .seal_key
            .open(id)
            .expect("a sealed ceremony of this server");
        return (!ceremonies.ceremony_spent(c.id).await.unwrap()).then_some(c);
    }
    ceremonies.get_ceremony(id.parse().unwrap()).await.unwrap()
}

/// A registration that `tweaks` breaks: the answer is `status`/`code`, nothing changes, and
/// the ceremony is consumed (a correct response for it afterwards is `unknown_ceremony`).
pub async fn refused_registration(
    app: &TestApp,
    cookie: &str,
    users: &[UserId],
    key: &mut TestKey,
    tweaks: &Tweaks,
    status: StatusCode,
    code: &str,
) {
    let c = reg_options(app, cookie).await;
    let bad = key.register_with(&c.options, ORIGIN, tweaks).expect("the key answers");
    refused_registration_response(app, cookie, users, key, &c, bad, status, code).await;
}

/// Like [`refused_registration`] with a response built by the caller.
#[allow(clippy::too_many_arguments)]
pub async fn refused_registration_response(
    app: &TestApp,
    cookie: &str,
    users: &[UserId],
    key: &mut TestKey,
    c: &Started,
    bad: Value,
    status: StatusCode,
    code: &str,
) {
    let before = snapshot(app, users).await;
    let audit = app.audit_count().await;
    reg_verify(app, cookie, &c.id, bad).await.problem(status, code);
    assert_eq!(snapshot(app, users).await, before, "{code}: state changed");
    assert!(app.audit_count().await > audit, "{code}: the refusal is audited");
    assert_consumed_registration(app, cookie, users, key, c).await;
}

/// The ceremony is gone: a correct response for it is refused and nothing changes.
pub async fn assert_consumed_registration(
    app: &TestApp,
    cookie: &str,
    users: &[UserId],
    key: &mut TestKey,
    c: &Started,
) {
    assert!(stored_ceremony(app, &c.id).await.is_none(), "ceremony still stored");
    let before = snapshot(app, users).await;
    let good = key
        .register_with(
            &c.options,
            ORIGIN,
            &Tweaks {
                ignore_credential_lists: true,
                ..Tweaks::default()
            },
        )
        .unwrap();
    reg_verify(app, cookie, &c.id, good)
        .await
        .problem(StatusCode::BAD_REQUEST, "unknown_ceremony");
    assert_eq!(snapshot(app, users).await, before);
}

/// A sign-in that `tweaks` breaks: `status`/`code`, nothing changes, ceremony consumed.
pub async fn refused_sign_in(
    app: &TestApp,
    username: Option<&str>,
    users: &[UserId],
    key: &mut TestKey,
    tweaks: &Tweaks,
    status: StatusCode,
    code: &str,
) {
    let c = sign_in_options(app, username).await;
    let bad = key.sign_in_with(&c.options, ORIGIN, tweaks).expect("the key answers");
    refused_sign_in_response(app, users, key, &c, bad, status, code).await;
}

/// Like [`refused_sign_in`] with a response built by the caller.
pub async fn refused_sign_in_response(
    app: &TestApp,
    users: &[UserId],
    key: &mut TestKey,
    c: &Started,
    bad: Value,
    status: StatusCode,
    code: &str,
) {
    let before = snapshot(app, users).await;
    let audit = app.audit_count().await;
    sign_in_verify(app, &c.id, bad).await.problem(status, code);
    assert_eq!(snapshot(app, users).await, before, "{code}: state changed");
    assert!(app.audit_count().await > audit, "{code}: the refusal is audited");
    assert_consumed_sign_in(app, users, key, c).await;
}

/// The sign-in ceremony is spent: a correct response for it is refused, nothing changes.
pub async fn assert_consumed_sign_in(app: &TestApp, users: &[UserId], key: &mut TestKey, c: &Started) {
    assert!(stored_ceremony(app, &c.id).await.is_none(), "ceremony still stored");
    let before = snapshot(app, users).await;
    let good = key
        .sign_in_with(
            &c.options,
            ORIGIN,
            &Tweaks {
                ignore_credential_lists: true,
                ..Tweaks::default()
            },
        )
        .unwrap();
    sign_in_verify(app, &c.id, good)
        .await
        .problem(StatusCode::BAD_REQUEST, "unknown_ceremony");
    assert_eq!(snapshot(app, users).await, before);
}

/// Audit events with this action, newest first.
pub async fn audit_actions(app: &TestApp, action: &str) -> Vec<keyfleet_domain::audit::AuditEvent> {
    app.state
        .stores
        .audit
        .list(&keyfleet_domain::audit::AuditQuery {
            action: Some(action.to_owned()),
            limit: 100_000,
            ..Default::default()
        })
        .await
        .unwrap()
}
