//! Rate limits on the security-key sign-in endpoints, per client address: ceremony starts per
//! minute, failed sign-ins per window. A refusal is 429 with Retry-After, audited, and leaves
//! the ceremony as it was; other addresses are not affected.

use axum::http::{HeaderValue, Method, StatusCode, header};
use keyfleet_webauthn_testkey::TestKey;
use serde_json::json;

use crate::harness::{Auth, Backend, ORIGIN, TestApp, request};
use crate::on_both_stores;
use crate::webauthn_kit::*;

on_both_stores!(
    starting_too_many_sign_ins_from_one_address_gets_429,
    failed_sign_ins_lock_out_the_address_not_the_others,
);

async fn options_from(app: &TestApp, peer: &str) -> crate::harness::Resp {
    let req = request(Method::POST, SIGN_IN_OPTIONS, Auth::None, Some(json!({})));
    app.send_from(req, peer).await
}

async fn verify_from(
    app: &TestApp,
    peer: &str,
    ceremony_id: &str,
    credential: serde_json::Value,
) -> crate::harness::Resp {
    let body = json!({ "ceremonyId": ceremony_id, "credential": credential });
    let mut req = request(Method::POST, SIGN_IN_VERIFY, Auth::None, Some(body));
    req.headers_mut()
        .insert(header::ORIGIN, HeaderValue::from_static(ORIGIN));
    app.send_from(req, peer).await
}

async fn starting_too_many_sign_ins_from_one_address_gets_429(b: Backend) {
    let app = TestApp::new(b, &[("KEYFLEET_SIGNIN_STARTS_PER_ADDRESS_PER_MINUTE", "3")]).await;
    for _ in 0..3 {
        assert_eq!(options_from(&app, "10.1.1.1:5000").await.status, StatusCode::OK);
    }
    let r = options_from(&app, "10.1.1.1:5001").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.json()["code"], "too_many_requests");
    assert_eq!(r.headers[header::RETRY_AFTER], "60");
    // Another address is not affected.
    assert_eq!(options_from(&app, "10.1.1.2:5000").await.status, StatusCode::OK);
}

async fn failed_sign_ins_lock_out_the_address_not_the_others(b: Backend) {
    let app = TestApp::new(
        b,
        &[
            ("KEYFLEET_SIGNIN_FAILURES_PER_ADDRESS", "2"),
            ("KEYFLEET_RATE_LIMIT_WINDOW_MINUTES", "15"),
        ],
    )
    .await;
    let (user, _, mut key) = enrolled(&app, "rita").await;
    let mut stranger = TestKey::from_seed(b"not registered anywhere");
    let attacker = "10.2.2.2:4000";
    for _ in 0..2 {
        let c = sign_in_options(&app, None).await;
        let r = verify_from(&app, attacker, &c.id, stranger.sign_in(&c.options, ORIGIN).unwrap()).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // Even the right key is refused from that address now, and the ceremony is not spent.
    let before = snapshot(&app, &[user.id]).await;
    let denied = audit_actions(&app, "auth.webauthn").await.len();
    let c = sign_in_options(&app, None).await;
    let cred = key.sign_in(&c.options, ORIGIN).unwrap();
    let r = verify_from(&app, attacker, &c.id, cred.clone()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.json()["code"], "too_many_attempts");
    assert_eq!(r.headers[header::RETRY_AFTER], "900");
    assert!(!r.headers.contains_key(header::SET_COOKIE));
    assert_eq!(snapshot(&app, &[user.id]).await, before);
    let events = audit_actions(&app, "auth.webauthn").await;
    assert_eq!(events.len(), denied + 1);
    assert!(
        events
            .iter()
            .any(|e| e.detail.as_deref().is_some_and(|d| d.contains("rate_limited")))
    );
    // A request that names no ceremony (forged id, wrong shape) is refused the same way,
    // before it is looked at.
    for (id, credential) in [("forged", cred.clone()), (c.id.as_str(), json!({"id": 7}))] {
        let r = verify_from(&app, attacker, id, credential).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.json()["code"], "too_many_attempts");
    }
    assert_eq!(snapshot(&app, &[user.id]).await, before);
    // The same ceremony still finishes from another address.
    let r = verify_from(&app, "10.3.3.3:4000", &c.id, cred).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
}
