//! Secrets never reach the logs: a full run at debug level, then a search of everything the
//! server wrote to standard error for every secret the run handled.

use base64::Engine as _;
use serde_json::json;

use crate::http::{json_post, request};
use crate::process::{MASTER_KEY, Scratch, Server, run};

#[test]
fn no_secret_appears_in_logs() {
    let dir = Scratch::new("secrets");
    let url = dir.sqlite_url();
    let s = Server::start(&dir.0, &url, &[("KEYFLEET_LOG_LEVEL", "debug"), ("RUST_LOG", "debug")]);
    let mut secrets: Vec<(String, String)> = Vec::new();
    let setup = s.setup_code().unwrap();
    secrets.push(("setup TAP".into(), setup.clone()));
    // A TAP session (its cookie is a secret too).
    let r = json_post(
        s.addr,
        "/api/v1/auth/tap",
        &[],
        &json!({ "username": "admin", "code": setup }),
    );
    secrets.push(("session token".into(), r.cookie().split_once('=').unwrap().1.to_owned()));
    // An API client: secret from the CLI, then a token.
    let out = run(
        &dir.0,
        &[
            "admin",
            "create-client",
            "--database-url",
            &url,
            "--name",
            "n",
            "--scope",
            "users:write",
        ],
        &[("RUST_LOG", "debug")],
    );
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = creds["client_secret"].as_str().unwrap().to_owned();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&secret),
        "CLI diagnostics never hold the secret"
    );
    secrets.push(("client secret".into(), secret.clone()));
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={secret}",
        creds["client_id"].as_str().unwrap()
    );
    let t = request(
        s.addr,
        "POST",
        "/oauth2/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&form),
    );
    let token = t.json()["access_token"].as_str().unwrap().to_owned();
    secrets.push((
        "access token signature".into(),
        token.rsplit('.').next().unwrap().to_owned(),
    ));
    let auth = format!("Bearer {token}");
    // A user and a TAP issued through the API; a sign-in with it and failed guesses.
    let u = json_post(
        s.addr,
        "/api/v1/users",
        &[("Authorization", &auth)],
        &json!({ "username": "quinn", "displayName": "Q", "email": "q@example.com" }),
    );
    let id = u.json()["id"].as_str().unwrap().to_owned();
    let tap = json_post(
        s.addr,
        &format!("/api/v1/users/{id}/temporary-access-pass"),
        &[("Authorization", &auth)],
        &json!({ "oneTime": false }),
    );
    let code = tap.json()["code"].as_str().unwrap().to_owned();
    secrets.push(("TAP".into(), code.clone()));
    let wrong = "WRONGCODEWRONGCODE23".to_owned();
    json_post(
        s.addr,
        "/api/v1/auth/tap",
        &[],
        &json!({ "username": "quinn", "code": wrong }),
    );
    secrets.push(("guessed TAP".into(), wrong));
    assert_eq!(
        json_post(
            s.addr,
            "/api/v1/auth/tap",
            &[],
            &json!({ "username": "quinn", "code": code })
        )
        .status,
        200
    );
    // The master key, and the signing key it protects.
    secrets.push(("master key".into(), MASTER_KEY.to_owned()));
    let d = signing_key_scalar(&url);
    secrets.push((
        "signing key (base64url)".into(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d),
    ));
    secrets.push(("signing key (hex)".into(), crate::process::hex(&d)));
    let stdout = s.stdout_text();
    let stderr = s.stderr.clone();
    assert!(s.terminate().success());
    // Everything the process wrote to its log, read after it exited.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let logs = stderr.lock().unwrap().join("\n");
    assert!(logs.lines().count() > 20, "a debug-level run logs plenty: {logs}");
    assert!(logs.contains("request_id"), "log lines carry the request id");
    for (what, secret) in &secrets {
        assert!(secret.len() >= 16, "{what} is long enough to search for");
        assert!(!logs.contains(secret.as_str()), "the {what} appears in the logs");
    }
    assert_eq!(
        stdout.matches(&setup).count(),
        2,
        "the setup code is printed once on standard output (and in the example command line), nowhere else"
    );
}

fn signing_key_scalar(url: &str) -> Vec<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stores = keyfleet_server::serve::open_stores(url).await.unwrap();
        let keys = stores.signing_keys.list_signing_keys().await.unwrap();
        let k = keys.iter().find(|k| k.active).unwrap();
        let master = keyfleet_core::secrets::MasterKey::from_base64(MASTER_KEY).unwrap();
        master
            .decrypt(
                &k.encrypted_private_key,
                &keyfleet_core::clients::tokens::signing_key_aad(&k.kid),
            )
            .unwrap()
            .to_vec()
    })
}
