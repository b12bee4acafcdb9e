//! The on-behalf API (issue 14, keyfleet's half) over HTTP on both stores: creation options
//! for a named user, the attestation that answers them verified like every registration
//! (same verifier, the configured origins, an attestation chain required), the methods in
//! Graph's `fido2AuthenticationMethod` shape, and every refusal (bad inputs 35, 36, 44–46 as
//! they apply to keyfleet) with its typed code and nothing stored.
//!
//! The keys are `keyfleet-webauthn-testkey` keys with a full packed attestation: the batch
//! key and certificate of `tests/data/mds/` under its test attestation root, which each app
//! here is configured with (`attestation_roots_file`).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use keyfleet_core::access::Principal;
use keyfleet_core::identity::users::{UpdateUser, update};
use keyfleet_domain::UserId;
use keyfleet_domain::onbehalf::OnBehalfOptions;
use keyfleet_domain::time::{Clock, ManualClock};
use keyfleet_domain::user::{Role, User};
use keyfleet_webauthn_testkey::{Attestation, BatchAttestation, TestKey, Tweaks};
use serde_json::{Value, json};

use crate::harness::{Auth, Backend, ORIGIN, Resp, TestApp};
use crate::on_both_stores;
use crate::webauthn_kit::{Snapshot, audit_actions, sign_in, snapshot};

on_both_stores!(
    a_client_registers_an_attested_key_that_signs_in,
    an_admin_session_registers_too,
    who_may_ask,
    timeouts_out_of_range,
    disabled_user,
    expired_options,
    foreign_caller_and_other_user,
    replay_is_refused,
    wrong_model,
    unattested_keys_are_refused,
    policy_applies,
    client_data_is_verified_strictly,
    options_list_and_purge,
    tampered_and_truncated_responses,
    key_limit_and_existing_keys,
);

/// keyfleet's NFC key model (`nfc-key`).
const NFC_KEY: &str = "3559c435-ff17-4bc9-b942-325c1f348b94";
/// keyfleet's wearable band (`band`).
const BAND: &str = "9b7493dd-e22e-4369-bbdf-25177d6eb596";
/// The certified model of the test metadata (its batch certificate names this AAGUID).
const CERTIFIED: &str = "6b66a001-0000-4000-8000-0000000000a1";

fn data(name: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/mds")
        .join(name);
    std::fs::read(path).unwrap()
}

fn aaguid(text: &str) -> [u8; 16] {
    *uuid::Uuid::parse_str(text).unwrap().as_bytes()
}

/// A key of `model` (`NFC_KEY` or `CERTIFIED`) with a full packed attestation, verifying its
/// user: an nfc-key's batch certificate is under the factory CA of `tests/data/mds/`, the
/// certified model's under the test attestation root; both roots are configured.
fn attested_key(seed: &str, model: &str) -> TestKey {
    let mut key = TestKey::from_seed(seed.as_bytes());
    key.aaguid = aaguid(model);
    key.attestation = Attestation::PackedFull;
    let (pk8, der) = match model {
        NFC_KEY => ("factory-batch-nfc-key.pk8", "factory-batch-nfc-key.der"),
        _ => ("batch.pk8", "batch.der"),
    };
    key.batch = Some(BatchAttestation::from_pkcs8(&data(pk8), vec![data(der)]).unwrap());
    key.user_verifying = true;
    key
}

fn pem(der: &[u8]) -> String {
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der)
    )
}

struct Fx {
    app: TestApp,
    clock: Arc<ManualClock>,
    /// A client with `provisioning`: its id and secret, and a token.
    client: (String, String),
    token: String,
    alice: User,
}

async fn setup(b: Backend) -> Fx {
    let dir = std::env::temp_dir().join(format!(
        "keyfleet-onbehalf-{}",
        rand_core::RngCore::next_u64(&mut rand_core::OsRng)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let roots = dir.join("roots.pem");
    let bundle = pem(&data("attestation-root.der")) + &pem(&data("factory-ca-nfc-key.der"));
    std::fs::write(&roots, bundle).unwrap();
    let clock = Arc::new(ManualClock::new(keyfleet_server::state::now()));
    let app = TestApp::with_clock(
        b,
        &[("KEYFLEET_ATTESTATION_ROOTS_FILE", roots.to_str().unwrap())],
        Some(clock.clone()),
    )
    .await;
    let client = app.client(&["provisioning"]).await;
    let r = app.token(&client.0, &client.1, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    let alice = app.user("alice", Role::Worker).await;
    Fx {
        app,
        clock,
        client,
        token,
        alice,
    }
}

fn options_path(user: UserId) -> String {
    format!("/api/v1/users/{user}/fido2/creation-options")
}

fn methods_path(user: UserId) -> String {
    format!("/api/v1/users/{user}/fido2/methods")
}

async fn ask(app: &TestApp, auth: Auth<'_>, user: UserId, body: Value) -> Resp {
    app.call(Method::POST, &options_path(user), auth, Some(body)).await
}

/// Creation options, asserting 200: the `publicKey` options.
async fn options(app: &TestApp, auth: Auth<'_>, user: UserId, body: Value) -> Value {
    let r = ask(app, auth, user, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    r.json()["publicKey"].clone()
}

async fn send(app: &TestApp, auth: Auth<'_>, user: UserId, credential: Value) -> Resp {
    let body = json!({ "displayName": "Shipped key", "publicKeyCredential": credential });
    app.call(Method::POST, &methods_path(user), auth, Some(body)).await
}

/// Everything a refusal must leave as it was: keys and sessions of these users, and the
/// outstanding options of each.
#[derive(Debug, PartialEq)]
struct State {
    keys: Snapshot,
    options: Vec<Vec<OnBehalfOptions>>,
}

async fn state(app: &TestApp, users: &[UserId]) -> State {
    let mut options = Vec::new();
    for u in users {
        options.push(app.state.stores.onbehalf.list_onbehalf_options(*u).await.unwrap());
    }
    State {
        keys: snapshot(app, users).await,
        options,
    }
}

async fn outstanding(app: &TestApp, user: UserId) -> usize {
    app.state
        .stores
        .onbehalf
        .list_onbehalf_options(user)
        .await
        .unwrap()
        .len()
}

/// The newest audit event of `action`: its outcome and detail.
async fn last_audit(app: &TestApp, action: &str) -> (String, Value) {
    let e = audit_actions(app, action)
        .await
        .into_iter()
        .next()
        .expect("an audit event");
    let detail = e
        .detail
        .as_deref()
        .map(|d| serde_json::from_str(d).unwrap())
        .unwrap_or(Value::Null);
    (e.outcome.as_str().to_owned(), detail)
}

/// The happy path with a `provisioning` client: options shaped as the contract says, the
/// attested key registered and shown in Graph's shape, then alice signs in with it; the
/// listing and removal of methods.
async fn a_client_registers_an_attested_key_that_signs_in(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    let r = ask(
        app,
        auth,
        alice.id,
        json!({ "challengeTimeoutMinutes": 60, "model": "nfc-key" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let expected_expiry = keyfleet_server::state::rfc3339(fx.clock.now().plus(Duration::from_secs(3600)));
    assert_eq!(v["challengeTimeoutDateTime"], expected_expiry.as_str());
    let pk = &v["publicKey"];
    assert_eq!(pk["user"]["name"], "alice");
    assert_eq!(pk["user"]["displayName"], "alice Example");
    assert_eq!(
        pk["user"]["id"],
        keyfleet_webauthn_testkey::b64(&alice.user_handle).as_str()
    );
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["timeout"], 3_600_000);
    assert_eq!(pk["attestation"], "direct");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["requireResidentKey"], true);
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["excludeCredentials"], json!([]));
    assert!(
        pk["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["alg"] == -7)
    );
    let stored = app.state.stores.onbehalf.list_onbehalf_options(alice.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].expected_aaguid, Some(aaguid(NFC_KEY)));
    assert!(stored[0].caller.starts_with("client:"));
    let (outcome, detail) = last_audit(app, "credential.onbehalf_options").await;
    assert_eq!(outcome, "success");
    assert_eq!(detail["expectedAaguid"], NFC_KEY);

    // The key is made without a browser: clientDataJSON names keyfleet's origin.
    let mut key = attested_key("alice's shipped key", NFC_KEY);
    let credential = key.register(pk, ORIGIN).unwrap();
    let r = send(app, auth, alice.id, credential).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let m = r.json();
    let id = keyfleet_webauthn_testkey::b64(&key.credential_id);
    assert_eq!(m["id"], id.as_str());
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/api/v1/users/{}/fido2/methods/{id}", alice.id)
    );
    assert_eq!(m["displayName"], "Shipped key");
    assert_eq!(m["aaGuid"], NFC_KEY);
    assert_eq!(m["model"], "keyfleet NFC security key (software)");
    assert_eq!(m["attestationLevel"], "attested");
    assert_eq!(m["passkeyType"], "deviceBound");
    let thumbprint = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data(
        "factory-batch-nfc-key.der",
    )));
    assert_eq!(m["attestationCertificates"], json!([thumbprint]));
    assert!(m["createdDateTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(outstanding(app, alice.id).await, 0, "the options are consumed");
    let (outcome, detail) = last_audit(app, "credential.register").await;
    assert_eq!(outcome, "success");
    assert_eq!(detail["onBehalf"], true);
    assert_eq!(detail["trust"], "trusted");

    // The listing, one method, and a second request for options excludes the key.
    let list = app.call(Method::GET, &methods_path(alice.id), auth, None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json()["value"], json!([m.clone()]));
    let one_path = format!("{}/{id}", methods_path(alice.id));
    let one = app.call(Method::GET, &one_path, auth, None).await;
    assert_eq!(one.json(), m);
    let again = options(app, auth, alice.id, json!({})).await;
    assert_eq!(again["excludeCredentials"][0]["id"], id.as_str());
    assert_eq!(
        again["timeout"], 2_592_000_000u64,
        "the default of onbehalf_challenge_timeout_minutes: 30 days"
    );

    // Alice signs in with it.
    sign_in(app, Some("alice"), &mut key).await;

    // Removal, through the same permission.
    let r = app.call(Method::DELETE, &one_path, auth, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.call(Method::GET, &one_path, auth, None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(snapshot(app, &[alice.id]).await.credential_count, 0);
}

/// An administrator's session asks and registers the same way (bound to that session's
/// user).
async fn an_admin_session_registers_too(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let pk = options(
        app,
        Auth::Cookie(&cookie),
        alice.id,
        json!({ "challengeTimeoutMinutes": 5 }),
    )
    .await;
    let stored = app.state.stores.onbehalf.list_onbehalf_options(alice.id).await.unwrap();
    assert_eq!(stored[0].caller, format!("user:{}", admin.id));
    let mut key = attested_key("alice's certified key", CERTIFIED);
    let r = send(app, Auth::Cookie(&cookie), alice.id, key.register(&pk, ORIGIN).unwrap()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["aaGuid"], CERTIFIED);
    assert_eq!(
        r.json()["model"],
        Value::Null,
        "a model neither the metadata nor the list names"
    );
    sign_in(app, Some("alice"), &mut key).await;
}

/// Bad input 35: helpdesk staff, workers and clients without `provisioning` are refused
/// (403, audited), on every route; nothing is stored.
async fn who_may_ask(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let helpdesk = app.user("help", Role::Helpdesk).await;
    let help = app.full_session(&helpdesk).await;
    let worker = app.user("wendy", Role::Worker).await;
    let wendy = app.full_session(&worker).await;
    let writer = app.bearer(&["users:write", "users:read"]).await;
    // Options to answer, so the refusals of the registration route are the caller's.
    let pk = options(app, Auth::Bearer(&fx.token), alice.id, json!({})).await;
    let mut key = attested_key("refused key", NFC_KEY);
    let credential = key.register(&pk, ORIGIN).unwrap();
    let before = state(app, &[alice.id]).await;
    let one = format!(
        "{}/{}",
        methods_path(alice.id),
        keyfleet_webauthn_testkey::b64(&[1; 16])
    );
    for (auth, code) in [
        (Auth::Cookie(&help), "admin_required"),
        (Auth::Cookie(&wendy), "admin_required"),
        (Auth::Bearer(&writer), "insufficient_scope"),
    ] {
        let denied = audit_actions(app, "access.denied").await.len();
        ask(app, auth, alice.id, json!({}))
            .await
            .problem(StatusCode::FORBIDDEN, code);
        send(app, auth, alice.id, credential.clone())
            .await
            .problem(StatusCode::FORBIDDEN, code);
        app.call(Method::GET, &methods_path(alice.id), auth, None)
            .await
            .problem(StatusCode::FORBIDDEN, code);
        app.call(Method::GET, &one, auth, None)
            .await
            .problem(StatusCode::FORBIDDEN, code);
        app.call(Method::DELETE, &one, auth, None)
            .await
            .problem(StatusCode::FORBIDDEN, code);
        assert_eq!(
            audit_actions(app, "access.denied").await.len(),
            denied + 5,
            "each refusal audited"
        );
    }
    let r = ask(app, Auth::None, alice.id, json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // An administrator signed in with a temporary access pass may only register their own key.
    let tap_admin = app.user("tapadmin", Role::Admin).await;
    let code = app.tap(tap_admin.id, true).await;
    let r = app.tap_sign_in("tapadmin", &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    ask(app, Auth::Cookie(&r.cookie()), alice.id, json!({}))
        .await
        .problem(StatusCode::FORBIDDEN, "tap_session_restricted");
    assert_eq!(state(app, &[alice.id]).await, before);
    // A client acts on workers only.
    let admin = app.user("root", Role::Admin).await;
    ask(app, Auth::Bearer(&fx.token), admin.id, json!({}))
        .await
        .problem(StatusCode::FORBIDDEN, "target_protected");
    assert_eq!(outstanding(app, admin.id).await, 0);
    // An unknown user.
    ask(
        app,
        Auth::Bearer(&fx.token),
        UserId::new_random(&mut rand_core::OsRng),
        json!({}),
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
    // The options still work for the caller they were issued to.
    let r = send(app, Auth::Bearer(&fx.token), alice.id, credential).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
}

/// Timeouts of 4 and 43201 minutes, unknown models and bad AAGUIDs: 422, nothing stored;
/// 5 and 43200 are accepted.
async fn timeouts_out_of_range(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    let audit = app.audit_count().await;
    for body in [
        json!({ "challengeTimeoutMinutes": 4 }),
        json!({ "challengeTimeoutMinutes": 43201 }),
        json!({ "challengeTimeoutMinutes": -5 }),
    ] {
        ask(app, auth, alice.id, body)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_challenge_timeout");
    }
    ask(app, auth, alice.id, json!({ "challengeTimeoutMinutes": "ten" }))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    ask(app, auth, alice.id, json!({ "model": "yubikey-6" }))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_model");
    ask(app, auth, alice.id, json!({ "aaguid": "not-a-uuid" }))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_aaguid");
    ask(app, auth, alice.id, json!({ "model": "nfc-key", "aaguid": BAND }))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_aaguid");
    ask(app, auth, alice.id, json!({ "challengeTimeout": 10 }))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(outstanding(app, alice.id).await, 0);
    assert_eq!(app.audit_count().await, audit, "input errors change nothing");
    for minutes in [5, 43200] {
        options(app, auth, alice.id, json!({ "challengeTimeoutMinutes": minutes })).await;
    }
    let stored = app.state.stores.onbehalf.list_onbehalf_options(alice.id).await.unwrap();
    let mut lifetimes: Vec<i64> = stored
        .iter()
        .map(|o| o.expires_at.as_millis() - o.created_at.as_millis())
        .collect();
    lifetimes.sort_unstable();
    assert_eq!(lifetimes, vec![5 * 60_000, 43_200 * 60_000]);
}

/// Bad input 36: a disabled user gets no options, and options issued before they were
/// disabled register nothing (refused, audited, the options kept for when they are enabled).
async fn disabled_user(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    let pk = options(app, auth, alice.id, json!({})).await;
    let disable = UpdateUser {
        enabled: Some(false),
        ..Default::default()
    };
    update(&app.system(), &Principal::System, alice.id, disable)
        .await
        .unwrap();
    let before = state(app, &[alice.id]).await;
    ask(app, auth, alice.id, json!({}))
        .await
        .problem(StatusCode::CONFLICT, "user_disabled");
    assert_eq!(last_audit(app, "credential.onbehalf_options").await.0, "failure");
    let mut key = attested_key("disabled", NFC_KEY);
    send(app, auth, alice.id, key.register(&pk, ORIGIN).unwrap())
        .await
        .problem(StatusCode::CONFLICT, "user_disabled");
    let (outcome, detail) = last_audit(app, "credential.register").await;
    assert_eq!(
        (outcome.as_str(), detail["code"].as_str()),
        ("failure", Some("user_disabled"))
    );
    assert_eq!(state(app, &[alice.id]).await, before);
}

/// Bad input 36: options past their expiry are refused (and spent), nothing stored.
async fn expired_options(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    let pk = options(app, auth, alice.id, json!({ "challengeTimeoutMinutes": 10 })).await;
    let mut key = attested_key("late key", NFC_KEY);
    let credential = key.register(&pk, ORIGIN).unwrap();
    fx.clock.advance(Duration::from_secs(600));
    // The client's token expired meanwhile too: it gets a new one.
    let r = app.token(&fx.client.0, &fx.client.1, None).await;
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    let auth = Auth::Bearer(&token);
    let before = snapshot(app, &[alice.id]).await;
    send(app, auth, alice.id, credential.clone())
        .await
        .problem(StatusCode::BAD_REQUEST, "challenge_expired");
    assert_eq!(snapshot(app, &[alice.id]).await, before);
    assert_eq!(outstanding(app, alice.id).await, 0, "spent");
    let (outcome, detail) = last_audit(app, "credential.register").await;
    assert_eq!(
        (outcome.as_str(), detail["code"].as_str()),
        ("failure", Some("challenge_expired"))
    );
    // Bad input 44: the same response again names options that no longer exist: no-op, audited.
    let audit = app.audit_count().await;
    send(app, auth, alice.id, credential)
        .await
        .problem(StatusCode::BAD_REQUEST, "unknown_challenge");
    assert_eq!(app.audit_count().await, audit + 1);
    assert_eq!(snapshot(app, &[alice.id]).await, before);
}

/// Options issued to another caller, or for another user (bad input 45's "another user"):
/// refused, audited, nothing stored, and the options stay for their own caller and user.
async fn foreign_caller_and_other_user(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let bob = app.user("bob", Role::Worker).await;
    let other = app.bearer(&["provisioning"]).await;
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let pk = options(app, Auth::Bearer(&fx.token), alice.id, json!({})).await;
    let mut key = attested_key("alice's key", NFC_KEY);
    let credential = key.register(&pk, ORIGIN).unwrap();
    let before = state(app, &[alice.id, bob.id]).await;
    for auth in [Auth::Bearer(&other), Auth::Cookie(&cookie)] {
        send(app, auth, alice.id, credential.clone())
            .await
            .problem(StatusCode::BAD_REQUEST, "options_of_another_caller");
        let (outcome, detail) = last_audit(app, "credential.register").await;
        assert_eq!(outcome, "failure");
        assert_eq!(detail["code"], "options_of_another_caller");
    }
    send(app, Auth::Bearer(&fx.token), bob.id, credential.clone())
        .await
        .problem(StatusCode::BAD_REQUEST, "options_for_another_user");
    assert_eq!(
        last_audit(app, "credential.register").await.1["code"],
        "options_for_another_user"
    );
    // Bad input 46: no refusal shows the challenge.
    let challenge = pk["challenge"].as_str().unwrap();
    for e in audit_actions(app, "credential.register").await {
        assert!(!e.detail.unwrap_or_default().contains(challenge));
    }
    assert_eq!(state(app, &[alice.id, bob.id]).await, before);
    let r = send(app, Auth::Bearer(&fx.token), alice.id, credential).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
}

/// The same response twice: the second finds its options consumed.
async fn replay_is_refused(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    let pk = options(app, auth, alice.id, json!({})).await;
    let mut key = attested_key("once", NFC_KEY);
    let credential = key.register(&pk, ORIGIN).unwrap();
    assert_eq!(
        send(app, auth, alice.id, credential.clone()).await.status,
        StatusCode::CREATED
    );
    let before = state(app, &[alice.id]).await;
    let r = send(app, auth, alice.id, credential).await;
    let v = r.problem(StatusCode::BAD_REQUEST, "unknown_challenge");
    assert!(
        !v.to_string().contains(pk["challenge"].as_str().unwrap()),
        "bad input 46"
    );
    assert_eq!(state(app, &[alice.id]).await, before);
}

/// Bad input 45 (AAGUID): options for a model, answered by a key of another model: refused,
/// the options spent, nothing stored. Without a model named, any attested model is accepted.
async fn wrong_model(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    for body in [json!({ "model": "nfc-key" }), json!({ "aaguid": NFC_KEY })] {
        let pk = options(app, auth, alice.id, body).await;
        let mut band = attested_key("another model, not an nfc key", CERTIFIED);
        let before = snapshot(app, &[alice.id]).await;
        send(app, auth, alice.id, band.register(&pk, ORIGIN).unwrap())
            .await
            .problem(StatusCode::BAD_REQUEST, "model_mismatch");
        assert_eq!(snapshot(app, &[alice.id]).await, before);
        assert_eq!(outstanding(app, alice.id).await, 0);
        assert_eq!(last_audit(app, "credential.register").await.1["code"], "model_mismatch");
    }
    let pk = options(app, auth, alice.id, json!({})).await;
    let mut band = attested_key("any model", CERTIFIED);
    assert_eq!(
        send(app, auth, alice.id, band.register(&pk, ORIGIN).unwrap())
            .await
            .status,
        StatusCode::CREATED
    );
}

/// A key registered on behalf of a user must prove its model: `none` and self attestation,
/// and a full attestation under an unknown root, are refused (`attestation_required` or the
/// verifier's chain code); a key that does not verify its user is refused too.
async fn unattested_keys_are_refused(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    for (attestation, code) in [
        (Attestation::None, "none_attestation_not_allowed"),
        (Attestation::PackedSelf, "self_attestation_not_allowed"),
    ] {
        let pk = options(app, auth, alice.id, json!({})).await;
        let mut key = attested_key("unattested", NFC_KEY);
        key.attestation = attestation;
        let before = snapshot(app, &[alice.id]).await;
        send(app, auth, alice.id, key.register(&pk, ORIGIN).unwrap())
            .await
            .problem(StatusCode::BAD_REQUEST, code);
        assert_eq!(snapshot(app, &[alice.id]).await, before);
        assert_eq!(outstanding(app, alice.id).await, 0);
    }
    // A full attestation that nothing anchors: an app without any attestation roots (no
    // metadata either) cannot tell the model, so it registers nothing on anyone's behalf.
    let bare = TestApp::new(b, &[]).await;
    let token = bare.bearer(&["provisioning"]).await;
    let carol = bare.user("carol", Role::Worker).await;
    let pk = options(&bare, Auth::Bearer(&token), carol.id, json!({})).await;
    let mut key = attested_key("nothing anchors it", NFC_KEY);
    send(
        &bare,
        Auth::Bearer(&token),
        carol.id,
        key.register(&pk, ORIGIN).unwrap(),
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "attestation_required");
    assert_eq!(snapshot(&bare, &[carol.id]).await.credential_count, 0);
    let before = snapshot(app, &[alice.id]).await;
    // No user verification.
    let pk = options(app, auth, alice.id, json!({})).await;
    let mut key = attested_key("no uv", NFC_KEY);
    key.user_verifying = false;
    let r = send(app, auth, alice.id, key.register(&pk, ORIGIN).unwrap()).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(snapshot(app, &[alice.id]).await, before);
}

/// The user's group policy applies to keys registered on their behalf.
async fn policy_applies(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let policy = json!({
        "name": "No certified model", "includeGroups": ["all"],
        "keyRestrictions": {"enforcement": "block", "aaguids": [CERTIFIED]}
    });
    let r = app
        .call(Method::POST, "/api/v1/policies", Auth::Cookie(&cookie), Some(policy))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let pk = options(app, auth, alice.id, json!({})).await;
    let mut band = attested_key("blocked model", CERTIFIED);
    let before = snapshot(app, &[alice.id]).await;
    send(app, auth, alice.id, band.register(&pk, ORIGIN).unwrap())
        .await
        .problem(StatusCode::BAD_REQUEST, "aaguid_not_allowed");
    assert_eq!(snapshot(app, &[alice.id]).await, before);
    assert_eq!(outstanding(app, alice.id).await, 0);
    assert_eq!(
        last_audit(app, "credential.register").await.1["code"],
        "aaguid_not_allowed"
    );
}

/// Without a browser the caller writes clientDataJSON itself; it is verified as strictly as a
/// browser's: another origin, cross-origin, the wrong type or another challenge are refused.
async fn client_data_is_verified_strictly(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    let cases = [
        Tweaks {
            origin: Some("https://factory.example".into()),
            ..Default::default()
        },
        Tweaks {
            cross_origin: Some(true),
            ..Default::default()
        },
        Tweaks {
            client_data_type: Some("webauthn.get".into()),
            ..Default::default()
        },
        Tweaks {
            rp_id: Some("factory.example".into()),
            ..Default::default()
        },
    ];
    for tweaks in cases {
        let pk = options(app, auth, alice.id, json!({})).await;
        let mut key = attested_key("strict", NFC_KEY);
        let before = snapshot(app, &[alice.id]).await;
        let bad = key.register_with(&pk, ORIGIN, &tweaks).unwrap();
        let r = send(app, auth, alice.id, bad).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{tweaks:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(snapshot(app, &[alice.id]).await, before);
        assert_eq!(outstanding(app, alice.id).await, 0, "{tweaks:?}: spent");
    }
    // A challenge keyfleet never issued.
    let pk = options(app, auth, alice.id, json!({})).await;
    let mut key = attested_key("made up", NFC_KEY);
    let bad = key
        .register_with(
            &pk,
            ORIGIN,
            &Tweaks {
                challenge: Some(vec![7; 32]),
                ..Default::default()
            },
        )
        .unwrap();
    send(app, auth, alice.id, bad)
        .await
        .problem(StatusCode::BAD_REQUEST, "unknown_challenge");
    assert_eq!(outstanding(app, alice.id).await, 1, "the real options are untouched");
    // A body of the wrong shape still spends the options it names.
    let good = key.register(&pk, ORIGIN).unwrap();
    let body = json!({ "publicKeyCredential": good });
    app.call(Method::POST, &methods_path(alice.id), auth, Some(body))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");
    assert_eq!(outstanding(app, alice.id).await, 0);
}

/// The options are rows: listed per user, purged by housekeeping once expired, and gone
/// with their user.
async fn options_list_and_purge(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    options(app, auth, alice.id, json!({ "challengeTimeoutMinutes": 5 })).await;
    options(app, auth, alice.id, json!({ "challengeTimeoutMinutes": 60 })).await;
    assert_eq!(outstanding(app, alice.id).await, 2);
    fx.clock.advance(Duration::from_secs(6 * 60));
    let purged = app
        .state
        .stores
        .onbehalf
        .purge_onbehalf_options(fx.clock.now())
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert_eq!(outstanding(app, alice.id).await, 1);
}

/// Bad input 43 as it reaches keyfleet: a response cut short or changed after the key signed
/// it is refused whole, nothing stored, the options spent; the challenge never shows.
async fn tampered_and_truncated_responses(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    type Change = fn(&mut Value);
    let changes: [(&str, Change); 4] = [
        ("attestation object truncated", |c| {
            let text = c["response"]["attestationObject"].as_str().unwrap();
            let bytes = keyfleet_webauthn_testkey::unb64(text).unwrap();
            c["response"]["attestationObject"] = json!(keyfleet_webauthn_testkey::b64(&bytes[..bytes.len() - 10]));
        }),
        ("client data changed after signing", |c| {
            let text = c["response"]["clientDataJSON"].as_str().unwrap();
            let mut bytes = keyfleet_webauthn_testkey::unb64(text).unwrap();
            bytes.pop();
            bytes.extend_from_slice(br#","extra":1}"#);
            c["response"]["clientDataJSON"] = json!(keyfleet_webauthn_testkey::b64(&bytes));
        }),
        ("a byte of the signed authenticator data flipped", |c| {
            let text = c["response"]["attestationObject"].as_str().unwrap();
            let mut bytes = keyfleet_webauthn_testkey::unb64(text).unwrap();
            // The last byte is inside the packed statement's certificate or signature.
            let last = bytes.len() - 1;
            bytes[last] ^= 0x01;
            c["response"]["attestationObject"] = json!(keyfleet_webauthn_testkey::b64(&bytes));
        }),
        ("rawId of another credential", |c| {
            c["rawId"] = json!(keyfleet_webauthn_testkey::b64(&[9; 32]));
        }),
    ];
    for (what, change) in changes {
        let pk = options(app, auth, alice.id, json!({})).await;
        let mut key = attested_key(what, NFC_KEY);
        let mut credential = key.register(&pk, ORIGIN).unwrap();
        change(&mut credential);
        let before = snapshot(app, &[alice.id]).await;
        let r = send(app, auth, alice.id, credential).await;
        assert!(
            r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(
            !String::from_utf8_lossy(&r.body).contains(pk["challenge"].as_str().unwrap()),
            "{what}"
        );
        assert_eq!(snapshot(app, &[alice.id]).await, before, "{what}");
        assert_eq!(outstanding(app, alice.id).await, 0, "{what}: spent");
        let (outcome, detail) = last_audit(app, "credential.register").await;
        assert_eq!(outcome, "failure", "{what}");
        assert_eq!(detail["onBehalf"], true, "{what}");
    }
}

/// The same key twice is refused (`credential_exists`), and the policy's key limit applies to
/// keys registered on the user's behalf; nothing is stored either time.
async fn key_limit_and_existing_keys(b: Backend) {
    let fx = setup(b).await;
    let (app, alice) = (&fx.app, &fx.alice);
    let auth = Auth::Bearer(&fx.token);
    let pk = options(app, auth, alice.id, json!({})).await;
    let mut first = attested_key("the one key", NFC_KEY);
    assert_eq!(
        send(app, auth, alice.id, first.register(&pk, ORIGIN).unwrap())
            .await
            .status,
        StatusCode::CREATED
    );
    let before = snapshot(app, &[alice.id]).await;
    // The same key twice (excluded by the options, answered anyway): 409, nothing stored.
    let pk = options(app, auth, alice.id, json!({})).await;
    let tweaks = Tweaks {
        ignore_credential_lists: true,
        ..Default::default()
    };
    let again = first.register_with(&pk, ORIGIN, &tweaks).unwrap();
    send(app, auth, alice.id, again)
        .await
        .problem(StatusCode::CONFLICT, "credential_exists");
    assert_eq!(snapshot(app, &[alice.id]).await, before);
    assert_eq!(outstanding(app, alice.id).await, 0, "spent");
    // A policy allowing one key per user.
    let admin = app.user("root", Role::Admin).await;
    let cookie = app.full_session(&admin).await;
    let policy = json!({ "name": "One key", "includeGroups": ["all"], "maxKeysPerUser": 1 });
    let r = app
        .call(Method::POST, "/api/v1/policies", Auth::Cookie(&cookie), Some(policy))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let pk = options(app, auth, alice.id, json!({})).await;
    let mut second = attested_key("one too many", CERTIFIED);
    send(app, auth, alice.id, second.register(&pk, ORIGIN).unwrap())
        .await
        .problem(StatusCode::BAD_REQUEST, "too_many_keys");
    assert_eq!(snapshot(app, &[alice.id]).await, before);
    let list = app.call(Method::GET, &methods_path(alice.id), auth, None).await.json();
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    assert_eq!(list["value"][0]["attestationLevel"], "attested");
}
