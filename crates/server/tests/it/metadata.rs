//! Authenticator metadata in use (issue 12, second half): MDS roots as trust anchors by
//! AAGUID at registration (checklist R18, with the configured roots as an addition), the
//! refusal of a compromised model (bad input 18), keys flagged when a new BLOB reports their
//! model compromised, the status and authenticator routes, model names from the metadata,
//! and the scheduled refresh on two instances sharing one database (bad inputs 24, 25).
//!
//! Test data: `tests/data/mds/` (made by `make-test-data.py` there): a test MDS root and
//! signer, BLOBs `no` 1 (a certified model listing a test attestation root, and a revoked
//! model), `no` 2 (the certified model now ATTESTATION_KEY_COMPROMISE) and a `no` 3 with a
//! bad signature, and a batch attestation key and certificate under the attestation root.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{Method, StatusCode};
use keyfleet_core::access::Principal;
use keyfleet_core::metadata::{self, ImportBlob, Imported, RevocationInput};
use keyfleet_domain::time::ManualClock;
use keyfleet_domain::user::Role;
use keyfleet_webauthn_rp::x509::TrustAnchor;
use keyfleet_webauthn_testkey::{Attestation, BatchAttestation, TestKey, Tweaks};
use serde_json::Value;

use crate::harness::{Auth, Backend, TestApp};
use crate::webauthn_kit::{audit_actions, refused_registration, register, snapshot, stored};

/// The certified model of the test BLOBs (its entry lists the test attestation root).
const GOOD: [u8; 16] = hex_aaguid("6b66a0010000400080000000000000a1");
/// The revoked model.
const BAD: [u8; 16] = hex_aaguid("6b66a0010000400080000000000000b1");
/// "YubiKey Bio Series" in the real BLOB of 2022-10-22; not in the community list.
const YUBIKEY_BIO: &str = "d8522d9f-575b-4866-88a9-ba99fa02f35b";

const fn hex_aaguid(hex: &str) -> [u8; 16] {
    let b = hex.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/mds")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

/// Imports a test BLOB as the CLI would (offline: the test signer's CRL point is not served).
async fn import(app: &TestApp, blob: &str) -> Result<Imported, keyfleet_core::CoreError> {
    let input = ImportBlob {
        blob: read(blob),
        roots: vec![TrustAnchor::from_der(&read("mds-root.der")).unwrap()],
        at: None,
        revocation: RevocationInput::Offline,
        blob_url: None,
        local_roots: Vec::new(),
    };
    metadata::import(&app.system(), &Principal::System, input).await
}

/// A key of the certified model with its batch attestation (packed, x5c to the test root).
fn certified_key(seed: &str) -> TestKey {
    let mut key = TestKey::from_seed(seed.as_bytes());
    key.aaguid = GOOD;
    key.attestation = Attestation::PackedFull;
    key.batch = Some(BatchAttestation::from_pkcs8(&read("batch.pk8"), vec![read("batch.der")]).unwrap());
    key
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> String {
    let r = app.call(Method::GET, path, Auth::Cookie(cookie), None).await;
    assert_eq!(r.status, StatusCode::OK, "{path}");
    String::from_utf8(r.body.to_vec()).unwrap()
}

/// R18: without metadata the full attestation is not evaluated; once the BLOB lists the
/// model's root, the same key's attestation is anchored by it ("trusted").
async fn mds_roots_anchor_the_model(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = app.tap_session("pat").await;
    let mut before = certified_key("pat's key before");
    let c = register(&app, &cookie, &mut before).await;
    let id = keyfleet_webauthn_testkey::unb64(c["id"].as_str().unwrap()).unwrap();
    assert_eq!(stored(&app, &id).await.attestation_trust, "not_evaluated");

    import(&app, "blob-no1.jwt").await.unwrap();
    let mut after = certified_key("pat's key after");
    let c = register(&app, &cookie, &mut after).await;
    let id = keyfleet_webauthn_testkey::unb64(c["id"].as_str().unwrap()).unwrap();
    let cred = stored(&app, &id).await;
    assert_eq!(cred.attestation_trust, "trusted");
    assert_eq!(cred.aaguid, GOOD);
}

/// The configured roots stay in force beside the metadata's (an addition, not a
/// replacement): with trust required and a roots file that does not anchor the certified
/// model, its key is refused until the metadata lists the model's root, then accepted; self
/// attestation is still refused.
async fn configured_roots_are_kept_beside_mds_roots(b: Backend) {
    let dir = std::env::temp_dir().join(format!(
        "keyfleet-mds-roots-{}",
        rand_core::RngCore::next_u64(&mut rand_core::OsRng)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    // Another root than the attestation root: the configured file must not be what anchors.
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, read("mds-root.der"))
    );
    let roots = dir.join("roots.pem");
    std::fs::write(&roots, pem).unwrap();
    let app = TestApp::new(
        b,
        &[
            ("KEYFLEET_ATTESTATION_ROOTS_FILE", roots.to_str().unwrap()),
            ("KEYFLEET_REQUIRE_TRUSTED_ATTESTATION", "true"),
        ],
    )
    .await;
    let (user, cookie) = app.tap_session("sam").await;
    // Before the metadata: the configured root does not anchor the batch certificate.
    let mut key = certified_key("sam's key");
    refused_registration(
        &app,
        &cookie,
        &[user.id],
        &mut key,
        &Tweaks::default(),
        StatusCode::BAD_REQUEST,
        "untrusted_attestation",
    )
    .await;
    import(&app, "blob-no1.jwt").await.unwrap();
    register(&app, &cookie, &mut key).await;
    // Self attestation is still refused: the policy of the configured roots holds.
    let mut self_attested = TestKey::from_seed(b"sam's self-attested key");
    self_attested.aaguid = GOOD;
    refused_registration(
        &app,
        &cookie,
        &[user.id],
        &mut self_attested,
        &Tweaks::default(),
        StatusCode::BAD_REQUEST,
        "self_attestation_not_allowed",
    )
    .await;
    std::fs::remove_dir_all(&dir).ok();
}

/// Bad input 18: a model whose latest status is REVOKED is refused at registration with
/// `authenticator_compromised`, nothing stored, the ceremony consumed, the refusal audited.
async fn a_compromised_model_is_refused(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    import(&app, "blob-no1.jwt").await.unwrap();
    let (user, cookie) = app.tap_session("lee").await;
    let mut key = TestKey::from_seed(b"lee's revoked key");
    refused_registration(
        &app,
        &cookie,
        &[user.id],
        &mut key,
        &Tweaks {
            aaguid: Some(BAD),
            ..Tweaks::default()
        },
        StatusCode::BAD_REQUEST,
        "authenticator_compromised",
    )
    .await;
    let refusals = audit_actions(&app, "credential.register").await;
    assert!(
        refusals[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("authenticator_compromised"),
        "{:?}",
        refusals[0].detail
    );
    // A key of another model still registers.
    register(&app, &cookie, &mut key).await;
}

/// Bad input 18, second half: a BLOB that newly reports a model compromised flags its stored
/// keys: one `metadata.keys_flagged` event with the count, the owner's page, the user's
/// console page and the console's banner say so; other keys are not flagged.
async fn a_status_change_flags_stored_keys(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    import(&app, "blob-no1.jwt").await.unwrap();
    let (user, cookie) = app.tap_session("kim").await;
    let mut certified = certified_key("kim's certified key");
    register(&app, &cookie, &mut certified).await;
    let mut other = TestKey::from_seed(b"kim's other key");
    register(&app, &cookie, &mut other).await;
    let admin = app.user("ada", Role::Admin).await;
    let admin_cookie = app.full_session(&admin).await;
    let owner = app.full_session(&user).await;
    assert!(
        !page(&app, &owner, "/security-info")
            .await
            .contains("Model reported compromised")
    );
    assert!(!page(&app, &admin_cookie, "/admin").await.contains("compromised-banner"));
    assert!(audit_actions(&app, "metadata.keys_flagged").await.is_empty());

    let before = snapshot(&app, &[user.id]).await;
    import(&app, "blob-no2.jwt").await.unwrap();
    // The flag is computed: the stored keys themselves are unchanged.
    assert_eq!(snapshot(&app, &[user.id]).await, before);
    let flagged = audit_actions(&app, "metadata.keys_flagged").await;
    assert_eq!(flagged.len(), 1);
    let detail: Value = serde_json::from_str(flagged[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["keys"], 1);
    assert_eq!(detail["no"], 2);
    assert_eq!(detail["models"][0]["status"], "ATTESTATION_KEY_COMPROMISE");

    let mine = page(&app, &owner, "/security-info").await;
    assert_eq!(
        mine.matches("Model reported compromised").count(),
        1,
        "only the certified key"
    );
    assert!(mine.contains("ATTESTATION_KEY_COMPROMISE"));
    let console = page(&app, &admin_cookie, &format!("/admin/users/{}", user.id)).await;
    assert_eq!(
        console
            .matches("Model compromised (ATTESTATION_KEY_COMPROMISE)")
            .count(),
        1
    );
    let dashboard = page(&app, &admin_cookie, "/admin").await;
    assert!(dashboard.contains("compromised-banner"), "{dashboard}");
    assert!(dashboard.contains("Test Certified Key"));
    assert!(dashboard.contains("model=6b66a001-0000-4000-8000-0000000000a1"));

    // A key of that model can no longer be registered.
    let mut late = certified_key("kim's late key");
    refused_registration(
        &app,
        &cookie,
        &[user.id],
        &mut late,
        &Tweaks::default(),
        StatusCode::BAD_REQUEST,
        "authenticator_compromised",
    )
    .await;
}

/// `GET /api/v1/metadata/authenticators` and `/status`: administrators and helpdesk read,
/// workers are refused; filters by AAGUID and compromise; a malformed AAGUID is 422.
async fn metadata_routes(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let admin = app.user("ada", Role::Admin).await;
    let admin = app.full_session(&admin).await;
    let helpdesk = app.user("hal", Role::Helpdesk).await;
    let helpdesk = app.full_session(&helpdesk).await;
    let worker = app.user("wes", Role::Worker).await;
    let worker = app.full_session(&worker).await;

    let status = app
        .call(Method::GET, "/api/v1/metadata/status", Auth::Cookie(&admin), None)
        .await;
    assert_eq!(status.status, StatusCode::OK);
    let s = status.json();
    assert!(
        s["no"].is_null() && s["alarm"] == false && s["lastFailure"].is_null(),
        "{s}"
    );

    import(&app, "blob-no1.jwt").await.unwrap();
    let all = app
        .call(
            Method::GET,
            "/api/v1/metadata/authenticators",
            Auth::Cookie(&helpdesk),
            None,
        )
        .await;
    assert_eq!(all.status, StatusCode::OK);
    let all = all.json();
    let aaguids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["aaguid"].as_str().unwrap())
        .collect();
    // The BLOB's two models, then keyfleet's own (nfc-key, band).
    assert_eq!(all.as_array().unwrap().len(), 4, "{aaguids:?}");
    assert!(aaguids.contains(&"6b66a001-0000-4000-8000-0000000000a1"));
    let one = app
        .call(
            Method::GET,
            "/api/v1/metadata/authenticators?aaguid=6b66a001-0000-4000-8000-0000000000a1",
            Auth::Cookie(&admin),
            None,
        )
        .await
        .json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["description"], "Test Certified Key");
    assert_eq!(one[0]["attestationRoots"], 1);
    assert_eq!(one[0]["compromised"], false);
    assert_eq!(one[0]["source"], "mds");
    let bad = app
        .call(
            Method::GET,
            "/api/v1/metadata/authenticators?compromised=true",
            Auth::Cookie(&admin),
            None,
        )
        .await
        .json();
    assert_eq!(bad.as_array().unwrap().len(), 1);
    assert_eq!(bad[0]["status"], "REVOKED");
    app.call(
        Method::GET,
        "/api/v1/metadata/authenticators?aaguid=not-a-uuid",
        Auth::Cookie(&admin),
        None,
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_aaguid");
    for path in ["/api/v1/metadata/authenticators", "/api/v1/metadata/status"] {
        app.call(Method::GET, path, Auth::Cookie(&worker), None)
            .await
            .problem(StatusCode::FORBIDDEN, "admin_required");
    }
    let s = app
        .call(Method::GET, "/api/v1/metadata/status", Auth::Cookie(&admin), None)
        .await
        .json();
    assert_eq!(s["no"], 1);
    assert_eq!(s["nextUpdate"], "2039-12-01");
    assert_eq!(s["entries"], 2);
    assert_eq!(s["stale"], false);
    assert_eq!(s["revocation"], "offline");
    assert_eq!(s["alarm"], false);
    assert!(s["lastSuccessAt"].is_string());

    // A rollback is refused and raises the alarm; the last good BLOB stays.
    import(&app, "blob-no2.jwt").await.unwrap();
    assert!(import(&app, "blob-no1.jwt").await.is_err());
    let s = app
        .call(Method::GET, "/api/v1/metadata/status", Auth::Cookie(&admin), None)
        .await
        .json();
    assert_eq!(s["no"], 2);
    assert_eq!(s["alarm"], true);
    assert_eq!(s["lastFailure"]["reason"], "rollback");
    assert!(page(&app, &admin, "/admin").await.contains("metadata-alarm"));
}

/// The real BLOB of 2022-10-22, verified at its pinned time and imported: its `no` and entry
/// count; a key with the AAGUID of a model it names shows that name (and its icon, served
/// by keyfleet) on its owner's page, where the community list has no name for it, and in the
/// console: the dashboard's keys by model, the registration report (page and CSV) and the
/// policy preview (API).
async fn the_real_blob_names_models(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (user, cookie) = app.tap_session("ray").await;
    let mut key = TestKey::from_seed(b"ray's key");
    key.aaguid = *uuid::Uuid::parse_str(YUBIKEY_BIO).unwrap().as_bytes();
    register(&app, &cookie, &mut key).await;
    let owner = app.full_session(&user).await;
    assert!(page(&app, &owner, "/security-info").await.contains("Unknown model"));
    let admin = app.user("ada", Role::Admin).await;
    let console = app.full_session(&admin).await;
    let console_pages = [
        "/admin",
        "/admin/reports/registration",
        "/admin/reports/registration.csv",
    ];
    for path in console_pages {
        assert!(
            !page(&app, &console, path).await.contains("YubiKey Bio Series"),
            "{path}"
        );
    }
    let blocking = serde_json::json!({"policy": {
        "name": "No Bio",
        "includeGroups": ["all"],
        "keyRestrictions": {"enforcement": "block", "aaguids": [YUBIKEY_BIO]},
    }});
    async fn preview(app: &TestApp, cookie: &str, body: &Value) -> Value {
        let r = app
            .call(
                Method::POST,
                "/api/v1/policies/preview",
                Auth::Cookie(cookie),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        r.json()["byModel"].clone()
    }
    assert_eq!(
        preview(&app, &console, &blocking).await,
        serde_json::json!([{"aaguid": YUBIKEY_BIO, "model": null, "credentialsRefused": 1}])
    );

    let blob = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/mds/blob-2022-10-22.jwt"),
    )
    .unwrap();
    let input = ImportBlob {
        blob,
        roots: vec![keyfleet_mds::globalsign_root_r3()],
        at: keyfleet_server::state::parse_rfc3339("2022-10-22T12:00:00Z"),
        revocation: RevocationInput::Offline,
        blob_url: None,
        local_roots: Vec::new(),
    };
    let imported = metadata::import(&app.system(), &Principal::System, input)
        .await
        .unwrap();
    assert_eq!(imported.no, 20);
    assert_eq!(imported.entries, 126);

    let html = page(&app, &owner, "/security-info").await;
    assert!(
        html.contains(r#"<span class="model-name">YubiKey Bio Series</span>"#),
        "{html}"
    );
    for path in console_pages {
        assert!(
            page(&app, &console, path).await.contains("YubiKey Bio Series"),
            "{path}"
        );
    }
    assert_eq!(
        preview(&app, &console, &blocking).await,
        serde_json::json!([{"aaguid": YUBIKEY_BIO, "model": "YubiKey Bio Series", "credentialsRefused": 1}])
    );
    let icon = format!("/models/{YUBIKEY_BIO}/icon");
    assert!(html.contains(&icon));
    let r = app.call(Method::GET, &icon, Auth::None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "image/png");
    assert!(r.body.starts_with(b"\x89PNG"));
    for missing in [
        "/models/not-a-uuid/icon",
        "/models/6b66a001-0000-4000-8000-0000000000a1/icon",
    ] {
        let r = app.call(Method::GET, missing, Auth::None, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

/// keyfleet's own model: with the factory's root from `mds_factory_dir` (read as the
/// scheduled refresh reads it) on the local nfc-key entry, a key made by the factory (batch
/// certificate under the factory CA, nfc-key AAGUID) is trusted like a certified key.
async fn a_factory_key_is_trusted_like_a_certified_one(b: Backend) {
    let app = TestApp::new(b, &[]).await;
    let (_, cookie) = app.tap_session("fay").await;
    let nfc_key = *uuid::Uuid::parse_str("3559c435-ff17-4bc9-b942-325c1f348b94")
        .unwrap()
        .as_bytes();
    let factory_key = |seed: &str| {
        let mut key = TestKey::from_seed(seed.as_bytes());
        key.aaguid = nfc_key;
        key.attestation = Attestation::PackedFull;
        key.batch = Some(
            BatchAttestation::from_pkcs8(
                &read("factory-batch-nfc-key.pk8"),
                vec![read("factory-batch-nfc-key.der")],
            )
            .unwrap(),
        );
        key
    };
    let local_roots = keyfleet_server::mds_fetch::factory_roots(&data("")).unwrap();
    assert_eq!(local_roots.len(), 1, "the nfc-key factory CA");
    let input = ImportBlob {
        blob: read("blob-no1.jwt"),
        roots: vec![TrustAnchor::from_der(&read("mds-root.der")).unwrap()],
        at: None,
        revocation: RevocationInput::Offline,
        blob_url: None,
        local_roots,
    };
    metadata::import(&app.system(), &Principal::System, input)
        .await
        .unwrap();
    let entry = metadata::show(&app.system(), &Principal::System, &nfc_key)
        .await
        .unwrap();
    assert_eq!(entry.source, keyfleet_domain::metadata::EntrySource::Local);
    assert_eq!(entry.attestation_roots, [read("factory-ca-nfc-key.der")]);
    let mut key = factory_key("fay's band");
    let c = register(&app, &cookie, &mut key).await;
    let id = keyfleet_webauthn_testkey::unb64(c["id"].as_str().unwrap()).unwrap();
    assert_eq!(stored(&app, &id).await.attestation_trust, "trusted");
}

crate::on_both_stores!(
    a_factory_key_is_trusted_like_a_certified_one,
    mds_roots_anchor_the_model,
    configured_roots_are_kept_beside_mds_roots,
    a_compromised_model_is_refused,
    a_status_change_flags_stored_keys,
    metadata_routes,
    the_real_blob_names_models,
);

/// What the loopback MDS server serves, and how many requests it had.
struct Served {
    blob: std::sync::Mutex<(Vec<u8>, String)>,
    requests: AtomicUsize,
    not_modified: AtomicUsize,
}

/// A loopback HTTP/1.1 server for the BLOB: `ETag` on every answer, `304` when
/// `If-None-Match` names the current one. Returns its URL.
async fn mds_server(served: Arc<Served>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let served = served.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let Ok(n) = sock.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                }
                served.requests.fetch_add(1, Ordering::SeqCst);
                let text = String::from_utf8_lossy(&req).to_ascii_lowercase();
                let (blob, etag) = served.blob.lock().unwrap().clone();
                let matches = text
                    .lines()
                    .any(|l| l.starts_with("if-none-match:") && l.contains(&etag.to_ascii_lowercase()));
                let head = if matches {
                    served.not_modified.fetch_add(1, Ordering::SeqCst);
                    format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n")
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/jwt\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        blob.len()
                    )
                };
                let _ = sock.write_all(head.as_bytes()).await;
                if !matches {
                    let _ = sock.write_all(&blob).await;
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}/blob.jwt")
}

/// `n` keyfleets on one database, each with its own pool and its own jobs runner setup.
async fn instances(b: Backend, n: usize, clock: Arc<ManualClock>, env: &[(&str, &str)]) -> Vec<TestApp> {
    let (url, db) = match b {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("keyfleet-mds-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{}.db", rand_core::RngCore::next_u64(&mut rand_core::OsRng)));
            (format!("sqlite://{}?mode=rwc", path.display()), None)
        }
        Backend::Postgres => {
            let (url, db) = keyfleet_store_tests::postgres::throwaway_postgres().await;
            (url, Some(db))
        }
    };
    let mut apps = vec![TestApp::on_url(url.clone(), db, env, Some(clock.clone())).await];
    for _ in 1..n {
        apps.push(TestApp::on_url(url.clone(), None, env, Some(clock.clone())).await);
    }
    apps
}

/// Every instance's runner claims concurrently, three times each; returns how many metadata
/// refreshes ran in all.
async fn round(apps: &Arc<Vec<TestApp>>, jobs: &Arc<Vec<keyfleet_server::jobs::Jobs>>, round: usize) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..apps.len() {
        for j in 0..3 {
            let (apps, jobs) = (apps.clone(), jobs.clone());
            tasks.spawn(async move {
                let holder = format!("instance-{i}-{j}-round-{round}");
                keyfleet_server::jobs::run_due_with(&apps[i].state.core, &holder, &jobs[i])
                    .await
                    .into_iter()
                    .filter(|j| *j == keyfleet_core::jobs::Job::MetadataRefresh)
                    .count()
            });
        }
    }
    let mut ran = 0;
    while let Some(n) = tasks.join_next().await {
        ran += n.unwrap();
    }
    ran
}

/// The status as an administrator sees it (a new session: the test's clock moves by days).
async fn metadata_status(app: &TestApp, admin: &keyfleet_domain::user::User) -> Value {
    let cookie = app.full_session(admin).await;
    let r = app
        .call(Method::GET, "/api/v1/metadata/status", Auth::Cookie(&cookie), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.json()
}

/// Bad inputs 24 and 25 on the schedule: two instances on one database, both running the
/// jobs runner, fetch once per scheduled run; the next run is a conditional request answered
/// 304; a rollback and a tampered BLOB are refused, the last good one kept, the alarm raised
/// (status route, audit, console banner).
async fn scheduled_refresh_fetches_once_per_run(b: Backend) {
    let served = Arc::new(Served {
        blob: std::sync::Mutex::new((read("blob-no1.jwt"), "\"no1\"".to_owned())),
        requests: AtomicUsize::new(0),
        not_modified: AtomicUsize::new(0),
    });
    let url = mds_server(served.clone()).await;
    let root = data("mds-root.der");
    let env = [
        ("KEYFLEET_MDS_URL", url.as_str()),
        ("KEYFLEET_MDS_ROOT_FILE", root.to_str().unwrap()),
    ];
    let clock = Arc::new(ManualClock::new(keyfleet_server::state::now()));
    let apps = Arc::new(instances(b, 2, clock.clone(), &env).await);
    let jobs: Arc<Vec<keyfleet_server::jobs::Jobs>> = Arc::new(
        apps.iter()
            .map(|a| keyfleet_server::jobs::Jobs {
                metadata: keyfleet_server::mds_fetch::refresh_setup(&a.state.settings)
                    .unwrap()
                    .map(Arc::new),
                ..Default::default()
            })
            .collect(),
    );
    let admin = apps[0].user("ada", Role::Admin).await;
    let interval = keyfleet_core::jobs::Job::MetadataRefresh.interval();

    // Run 1: one fetch among six claimants; the BLOB is imported (its CRL point does not
    // answer: the offline decision, recorded).
    assert_eq!(round(&apps, &jobs, 1).await, 1);
    assert_eq!(served.requests.load(Ordering::SeqCst), 1);
    assert_eq!(round(&apps, &jobs, 11).await, 0, "not due again before its interval");
    assert_eq!(served.requests.load(Ordering::SeqCst), 1);
    let s = metadata_status(&apps[1], &admin).await;
    assert_eq!(s["no"], 1, "{s}");
    assert_eq!(s["revocation"], "offline");
    assert_eq!(s["alarm"], false);
    assert_eq!(s["lastCheckOutcome"], "ok");

    // Run 2: a conditional request, answered 304; nothing imported.
    clock.advance(interval);
    assert_eq!(round(&apps, &jobs, 2).await, 1);
    assert_eq!(served.requests.load(Ordering::SeqCst), 2);
    assert_eq!(served.not_modified.load(Ordering::SeqCst), 1);
    assert_eq!(audit_actions(&apps[0], "metadata.import").await.len(), 1);

    // Run 3: a newer BLOB.
    *served.blob.lock().unwrap() = (read("blob-no2.jwt"), "\"no2\"".to_owned());
    clock.advance(interval);
    assert_eq!(round(&apps, &jobs, 3).await, 1);
    assert_eq!(served.requests.load(Ordering::SeqCst), 3);
    assert_eq!(metadata_status(&apps[0], &admin).await["no"], 2);

    // Run 4: the older BLOB again (rollback): refused, no 2 kept, the alarm raised.
    *served.blob.lock().unwrap() = (read("blob-no1.jwt"), "\"no1-again\"".to_owned());
    clock.advance(interval);
    assert_eq!(round(&apps, &jobs, 4).await, 1);
    assert_eq!(served.requests.load(Ordering::SeqCst), 4);
    let s = metadata_status(&apps[1], &admin).await;
    assert_eq!(s["no"], 2, "{s}");
    assert_eq!(s["alarm"], true);
    assert_eq!(s["lastFailure"]["reason"], "rollback");
    assert_eq!(s["lastCheckOutcome"], "error");
    let cookie = apps[0].full_session(&admin).await;
    assert!(page(&apps[0], &cookie, "/admin").await.contains("metadata-alarm"));

    // Run 5 (retried within the hour after an error): a tampered BLOB, refused alike.
    *served.blob.lock().unwrap() = (read("blob-no3-bad-signature.jwt"), "\"no3\"".to_owned());
    clock.advance(keyfleet_core::jobs::RETRY_AFTER_ERROR);
    assert_eq!(round(&apps, &jobs, 5).await, 1);
    let s = metadata_status(&apps[0], &admin).await;
    assert_eq!(s["no"], 2);
    assert_eq!(s["lastFailure"]["reason"], "bad_signature");
    let refused = audit_actions(&apps[0], "metadata.refused").await;
    assert_eq!(refused.len(), 2);

    // Run 6: the server is gone: the download fails, audited as metadata.refresh_failed.
    *served.blob.lock().unwrap() = (read("blob-no2.jwt"), "\"no2\"".to_owned());
    clock.advance(keyfleet_core::jobs::RETRY_AFTER_ERROR);
    let gone: Arc<Vec<keyfleet_server::jobs::Jobs>> = Arc::new(
        apps.iter()
            .map(|a| {
                let mut settings = (*a.state.settings).clone();
                settings.mds_url = Some("http://127.0.0.1:9/blob.jwt".to_owned());
                keyfleet_server::jobs::Jobs {
                    metadata: keyfleet_server::mds_fetch::refresh_setup(&settings)
                        .unwrap()
                        .map(Arc::new),
                    ..Default::default()
                }
            })
            .collect(),
    );
    assert_eq!(round(&apps, &gone, 6).await, 1);
    assert_eq!(audit_actions(&apps[0], "metadata.refresh_failed").await.len(), 1);
    let s = metadata_status(&apps[1], &admin).await;
    assert_eq!(s["no"], 2);
    assert_eq!(s["lastFailure"]["reason"], "fetch_failed");
    assert_eq!(s["alarm"], true);
}

mod scheduled_refresh {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::scheduled_refresh_fetches_once_per_run(super::Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::scheduled_refresh_fetches_once_per_run(super::Backend::Postgres).await
    }
}
