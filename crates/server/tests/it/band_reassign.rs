//! Reassigning a band (seed 000: a band taken from one worker and given to another), through the
//! real router on both stores: the console's "Reassign band…" on a band's row and its
//! confirmation page, the JSON route, who may, and that only a band can be reassigned. One core
//! use case (`keys::reassign_band`) behind both, audited as `credential.reassign`.

use axum::http::{Method, StatusCode};
use keyfleet_domain::user::Role;
use keyfleet_webauthn_testkey::{TestKey, b64};

use crate::console_users::{assert_refused, denied, get, location, post, staff, text, worker_with_key};
use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit::{audit_actions, register, sign_in};

on_both_stores!(
    the_console_reassigns_a_band_and_ends_its_sessions,
    only_a_band_is_offered_and_reassigned,
    the_api_reassigns_a_band_with_users_write,
    helpdesk_reassigns_a_workers_band_but_not_an_administrators,
);

/// The band model's AAGUID (`keyfleet key models`, `data/aaguids.tsv`).
const BAND_AAGUID: &str = "9b7493dd-e22e-4369-bbdf-25177d6eb596";

/// Registers a band for `user`'s session `cookie` and signs in with it: (band, new cookie).
async fn add_band(app: &TestApp, username: &str, cookie: &str) -> (TestKey, String) {
    let mut band = TestKey::from_seed(format!("{username} band").as_bytes());
    band.aaguid = *uuid::Uuid::parse_str(BAND_AAGUID).unwrap().as_bytes();
    band.transports = vec!["nfc".into()];
    register(app, cookie, &mut band).await;
    let cookie = sign_in(app, Some(username), &mut band).await;
    (band, cookie)
}

async fn exists(app: &TestApp, id: &[u8]) -> bool {
    app.state.stores.credentials.get_credential(id).await.unwrap().is_some()
}

async fn me(app: &TestApp, cookie: &str) -> StatusCode {
    app.call(Method::GET, "/api/v1/me", Auth::Cookie(cookie), None)
        .await
        .status
}

async fn the_console_reassigns_a_band_and_ends_its_sessions(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (worker, nfc, nfc_cookie) = worker_with_key(&app, "kim").await;
    let (band, band_cookie) = add_band(&app, "kim", &nfc_cookie).await;
    let page = format!("/admin/users/{}", worker.id);
    let reassign = format!("{page}/keys/{}/reassign", b64(&band.credential_id));
    let html = text(&get(&app, &page, &admin).await);
    assert_eq!(
        html.matches("Reassign band…").count(),
        1,
        "offered on the band's row only"
    );
    assert!(html.contains(&format!("href=\"{reassign}\"")));

    let r = get(&app, &reassign, &admin).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = text(&r);
    assert!(
        html.contains("Reassign the band") && html.contains("keyfleet key reassign"),
        "{html}"
    );
    assert!(
        exists(&app, &band.credential_id).await,
        "a confirmation page changes nothing"
    );

    let r = post(&app, &reassign, &admin, &[]).await;
    assert_eq!(location(&r), format!("{page}?done=band-reassigned"));
    assert!(!exists(&app, &band.credential_id).await, "the band credential is gone");
    assert!(exists(&app, &nfc.credential_id).await, "the worker's other key stays");
    assert_eq!(
        me(&app, &band_cookie).await,
        StatusCode::UNAUTHORIZED,
        "its session ended"
    );
    assert_eq!(me(&app, &nfc_cookie).await, StatusCode::OK, "other sessions live on");
    let events = audit_actions(&app, "credential.reassign").await;
    assert_eq!(events.len(), 1);
    assert!(events[0].detail.as_deref().unwrap().contains(&b64(&band.credential_id)));
    assert_eq!(audit_actions(&app, "session.revoke_credential").await.len(), 1);
    assert!(audit_actions(&app, "credential.delete").await.is_empty());
    let html = text(&get(&app, &format!("{page}?done=band-reassigned"), &admin).await);
    assert!(html.contains("The band was reassigned"));
    assert!(
        html.contains("Band reassigned to another wearer"),
        "in the record of retired keys"
    );
    // The band's credential no longer signs anyone in.
    let mut band = band;
    let started = crate::webauthn_kit::sign_in_options(&app, None).await;
    let assertion = band.sign_in(&started.options, crate::harness::ORIGIN).unwrap();
    let r = crate::webauthn_kit::sign_in_verify(&app, &started.id, assertion).await;
    assert_ne!(r.status, StatusCode::OK, "a reassigned band no longer signs in as kim");
}

async fn only_a_band_is_offered_and_reassigned(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, admin) = staff(&app, "root", Role::Admin).await;
    let (worker, nfc, _) = worker_with_key(&app, "kim").await;
    let page = format!("/admin/users/{}", worker.id);
    assert!(!text(&get(&app, &page, &admin).await).contains("Reassign band"));
    let reassign = format!("{page}/keys/{}/reassign", b64(&nfc.credential_id));
    assert_eq!(get(&app, &reassign, &admin).await.status, StatusCode::NOT_FOUND);
    let r = post(&app, &reassign, &admin, &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", text(&r));
    let token = app.bearer(&["users:write"]).await;
    let api = format!(
        "/api/v1/users/{}/credentials/{}/reassign",
        worker.id,
        b64(&nfc.credential_id)
    );
    app.call(Method::POST, &api, Auth::Bearer(&token), None)
        .await
        .problem(StatusCode::CONFLICT, "not_a_band");
    assert!(exists(&app, &nfc.credential_id).await, "nothing was removed");
    assert!(audit_actions(&app, "credential.reassign").await.is_empty());
}

async fn the_api_reassigns_a_band_with_users_write(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (worker, _, cookie) = worker_with_key(&app, "kim").await;
    let (band, _) = add_band(&app, "kim", &cookie).await;
    let api = format!(
        "/api/v1/users/{}/credentials/{}/reassign",
        worker.id,
        b64(&band.credential_id)
    );
    let read_only = app.bearer(&["users:read"]).await;
    let r = app.call(Method::POST, &api, Auth::Bearer(&read_only), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(exists(&app, &band.credential_id).await);
    let token = app.bearer(&["users:write"]).await;
    let r = app.call(Method::POST, &api, Auth::Bearer(&token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(!exists(&app, &band.credential_id).await);
    assert_eq!(audit_actions(&app, "credential.reassign").await.len(), 1);
    // Another user's credential id, or one already gone: not found.
    let r = app.call(Method::POST, &api, Auth::Bearer(&token), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn helpdesk_reassigns_a_workers_band_but_not_an_administrators(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, desk) = staff(&app, "desk", Role::Helpdesk).await;
    let (worker, _, cookie) = worker_with_key(&app, "kim").await;
    let (band, _) = add_band(&app, "kim", &cookie).await;
    let path = format!("/admin/users/{}/keys/{}/reassign", worker.id, b64(&band.credential_id));
    assert_eq!(
        location(&post(&app, &path, &desk, &[]).await),
        format!("/admin/users/{}?done=band-reassigned", worker.id)
    );
    assert!(!exists(&app, &band.credential_id).await);
    // An administrator's band: refused (as removing their key is), audited, nothing changed.
    let boss = app.user("boss", Role::Admin).await;
    let boss_cookie = app.full_session(&boss).await;
    let (boss_band, _) = add_band(&app, "boss", &boss_cookie).await;
    let path = format!(
        "/admin/users/{}/keys/{}/reassign",
        boss.id,
        b64(&boss_band.credential_id)
    );
    let before = denied(&app).await;
    assert_refused(&app, &post(&app, &path, &desk, &[]).await, before).await;
    assert!(exists(&app, &boss_band.credential_id).await);
}
