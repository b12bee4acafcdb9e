//! Issue 14: the key factory as its own process (`keyfleet factory serve`), driven over HTTP
//! and by its operator commands: tokens made, used and revoked while it runs; a shipment
//! programmed by `keyfleet factory ship`; the answers opened on the customer's side; the parcel
//! usable by `keyfleet key`; no PIN, challenge or private key in its output.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyfleet_provisioning::api::{
    CREDENTIAL_RESPONSE_TYP, CredentialRequest, CredentialResponse, PIN_RESPONSE_TYP, PinResponse,
};
use keyfleet_provisioning::jwk::{EcPrivateKey, Jwks};
use keyfleet_provisioning::{b64, jwe, sealed};
use keyfleet_webauthn_rp::{
    AttestationConveyance, AuthenticatorSelection, CoseAlgorithm, CredentialParameter,
    PublicKeyCredentialCreationOptions, RelyingParty, ResidentKeyRequirement, UserEntity, UserVerificationRequirement,
};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

use crate::http;
use crate::process::{Scratch, bin, capture, run, run_ok};

/// A running `keyfleet factory serve`.
pub struct Factory {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    /// The flags every factory command takes.
    pub flags: Vec<String>,
}

impl Factory {
    pub fn flags(dir: &Path) -> Vec<String> {
        vec![
            "--database-url".into(),
            format!("sqlite://{}", dir.join("factory.db").display()),
            "--factory-dir".into(),
            dir.join("factory-ca").display().to_string(),
            "--outbox".into(),
            dir.join("outbox").display().to_string(),
        ]
    }

    pub fn start(dir: &Path, extra: &[&str]) -> Factory {
        let flags = Self::flags(dir);
        let mut c = Command::new(bin());
        c.current_dir(dir)
            .args(["factory", "serve", "--listen", "127.0.0.1:0"])
            .args(&flags)
            .args(extra)
            .env("RUST_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = c.spawn().expect("spawn keyfleet factory serve");
        let stdout = capture(child.stdout.take().unwrap());
        let stderr = capture(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let addr = stdout
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix("listening on http://").map(|a| a.parse().unwrap()));
            if let Some(addr) = addr {
                return Factory {
                    child,
                    addr,
                    stdout,
                    stderr,
                    flags,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "keyfleet factory serve exited with {status}: {:?}",
                    stderr.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the factory did not start: {:?}",
                stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `keyfleet factory ARGS` against this factory's database and directories.
    pub fn cli(&self, dir: &Path, args: &[&str]) -> String {
        let mut all = vec!["factory"];
        all.extend_from_slice(args);
        all.extend(self.flags.iter().map(String::as_str));
        run_ok(dir, &all, &[])
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> http::Response {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        http::request(self.addr, "GET", path, &headers, None)
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> http::Response {
        let auth = format!("Bearer {token}");
        http::json_post(self.addr, path, &[("Authorization", &auth)], body)
    }

    pub fn jwks(&self, which: &str) -> Jwks {
        let r = self.get(&format!("/.well-known/{which}-keys.jwks"), None);
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    /// Everything it printed.
    pub fn output(&self) -> String {
        let mut all = self.stdout.lock().unwrap().join("\n");
        all.push('\n');
        all.push_str(&self.stderr.lock().unwrap().join("\n"));
        all
    }

    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the factory did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50));
        self.output()
    }
}

/// A credential request for `options`, encrypted to the factory's published transport key.
pub fn encrypted_request(factory: &Factory, origin: &str, options: &Value) -> String {
    let request = CredentialRequest {
        origin: origin.into(),
        public_key: serde_json::from_value(options.clone()).unwrap(),
    };
    jwe::encrypt(
        &serde_json::to_vec(&request).unwrap(),
        &factory.jwks("transport").keys[0],
        None,
        &mut OsRng,
    )
    .unwrap()
}

pub fn shipment_body(model: &str, pin_length: u8, requests: &[String], customer: &EcPrivateKey) -> Value {
    json!({
        "model": model,
        "recipient": "Alice Example",
        "address": "1 Example Street\n10115 Berlin",
        "deliveryType": "standard",
        "pinRequest": {"length": pin_length},
        "credentialRequests": requests,
        "responseKey": customer.public_jwk("enc", jwe::ALG),
    })
}

/// The factory's nfc-key CA made in `dir` (`keyfleet key factory-ca`), written to
/// `dir/roots.pem` for keyfleet to trust as an attestation root; that file's path.
pub fn factory_roots(dir: &Scratch) -> String {
    let ca = run_ok(
        &dir.0,
        &[
            "key",
            "factory-ca",
            "--model",
            "nfc-key",
            "--factory-dir",
            dir.0.join("factory-ca").to_str().unwrap(),
        ],
        &[],
    );
    let roots = dir.0.join("roots.pem");
    std::fs::write(&roots, ca).unwrap();
    roots.to_str().unwrap().to_string()
}

pub fn token(json_line: &str) -> (String, String) {
    let v: Value = serde_json::from_str(json_line.trim()).unwrap();
    (v["id"].as_str().unwrap().into(), v["token"].as_str().unwrap().into())
}

fn options() -> PublicKeyCredentialCreationOptions {
    let mut challenge = [0u8; 32];
    OsRng.fill_bytes(&mut challenge);
    PublicKeyCredentialCreationOptions {
        authenticator_selection: Some(AuthenticatorSelection {
            resident_key: Some(ResidentKeyRequirement::Required),
            require_resident_key: Some(true),
            user_verification: Some(UserVerificationRequirement::Required),
            ..Default::default()
        }),
        attestation: Some(AttestationConveyance::Direct),
        ..PublicKeyCredentialCreationOptions::new(
            RelyingParty::new("localhost", "keyfleet"),
            UserEntity::new(*b"alice's 32-byte user handle.....", "alice", "Alice"),
            challenge,
            CredentialParameter::list(&[CoseAlgorithm::Es256]),
        )
    }
}

pub fn outbox(dir: &Path) -> PathBuf {
    dir.join("outbox")
}

#[test]
fn the_factory_process_takes_programs_and_ships() {
    let dir = Scratch::new("factory");
    let factory = Factory::start(&dir.0, &[]);
    // Two tokens: one is revoked while the factory runs, and is refused at once.
    let (first_id, first) = token(&factory.cli(&dir.0, &["create-token", "--name", "old"]));
    let (_, second) = token(&factory.cli(&dir.0, &["create-token", "--name", "new"]));
    let listed = factory.cli(&dir.0, &["list-tokens"]);
    assert_eq!(listed.lines().count(), 2);
    assert!(
        !listed.contains(&first) && !listed.contains(&second),
        "listings never show a token"
    );
    assert_eq!(factory.get("/v1/shipments/shp_x", Some(&first)).status, 404);
    factory.cli(&dir.0, &["revoke-token", "--id", &first_id]);
    let r = factory.get("/v1/shipments/shp_x", Some(&first));
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "unauthorized");

    let customer = EcPrivateKey::generate(&mut OsRng);
    let options = options();
    let options_json = serde_json::to_value(&options).unwrap();
    let request = encrypted_request(&factory, "http://localhost:8080", &options_json);
    // A PIN of 64 digits is refused, and nothing is stored.
    let r = factory.post(
        "/v1/shipments",
        &second,
        &shipment_body("nfc-key", 64, std::slice::from_ref(&request), &customer),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(factory.cli(&dir.0, &["list-shipments"]).trim().is_empty());

    let r = factory.post(
        "/v1/shipments",
        &second,
        &shipment_body("nfc-key", 6, &[request], &customer),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["shipmentId"].as_str().unwrap().to_string();
    let shipped: Value = serde_json::from_str(factory.cli(&dir.0, &["ship", "--shipment", &id]).trim()).unwrap();
    assert_eq!(shipped["state"], "shipped");
    let tracking = shipped["trackingNumber"].as_str().unwrap().to_string();

    let r = factory.get(&format!("/v1/shipments/{id}"), Some(&second));
    let shipment = r.json();
    let signers = factory.jwks("sign");
    let ours = std::slice::from_ref(&customer);
    let credential: CredentialResponse = sealed::open(
        shipment["credentialResponses"][0].as_str().unwrap(),
        ours,
        &signers,
        CREDENTIAL_RESPONSE_TYP,
    )
    .unwrap();
    assert_eq!(credential.serial_number, shipment["serialNumber"].as_str().unwrap());
    let pin: PinResponse = sealed::open(
        shipment["pinResponse"].as_str().unwrap(),
        ours,
        &signers,
        PIN_RESPONSE_TYP,
    )
    .unwrap();
    assert_eq!(pin.pin.len(), 6);

    // The parcel opens with keyfleet's key tools: a PIN set that must be changed.
    let key = outbox(&dir.0).join(format!("{tracking}.key"));
    let file_keys = outbox(&dir.0).join("file-keys");
    let info = run_ok(
        &dir.0,
        &[
            "key",
            "info",
            "--key",
            key.to_str().unwrap(),
            "--file-keys-dir",
            file_keys.to_str().unwrap(),
        ],
        &[],
    );
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(
        (info["forcePinChange"].as_bool(), info["credentials"].as_u64()),
        (Some(true), Some(1)),
        "{info}"
    );
    assert_eq!(info["serialNumber"], shipment["serialNumber"]);

    // A completed shipment cannot be shipped again.
    let mut again = vec!["factory", "ship", "--shipment", id.as_str()];
    again.extend(factory.flags.iter().map(String::as_str));
    assert!(!run(&dir.0, &again, &[]).status.success());

    let output = factory.stop();
    assert!(output.contains("shipment received"), "logs were captured: {output}");
    for (what, secret) in [
        ("PIN", pin.pin.clone()),
        ("challenge", b64::encode(&options.challenge.0)),
        ("token", second.clone()),
    ] {
        assert!(!output.contains(&secret), "the factory's output holds the {what}");
    }
    let ca = std::fs::read_dir(dir.0.join("factory-ca").join("jose")).unwrap();
    for entry in ca {
        let scalar = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!output.contains(&b64::encode(&scalar)) && !output.contains(&crate::process::hex(&scalar)));
    }
}

/// `keyfleet factory serve --ship-after-seconds N`: the clock ships a shipment on its own (no
/// `ship` command), the parcel lands in `--outbox`, the answers open; then it is delivered on its
/// own too.
#[test]
fn the_factory_clock_ships_on_its_own() {
    let dir = Scratch::new("factory-clock");
    let factory = Factory::start(&dir.0, &["--ship-after-seconds", "1"]);
    let (_, token) = token(&factory.cli(&dir.0, &["create-token", "--name", "clock"]));
    let customer = EcPrivateKey::generate(&mut OsRng);
    let options = options();
    let request = encrypted_request(
        &factory,
        "http://localhost:8080",
        &serde_json::to_value(&options).unwrap(),
    );
    let r = factory.post(
        "/v1/shipments",
        &token,
        &shipment_body("nfc-key", 8, &[request], &customer),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["shipmentId"].as_str().unwrap().to_string();

    // Wait for the clock (a deadline for progress, not a timing assertion): received → shipped
    // (→ delivered one more period later).
    let path = format!("/v1/shipments/{id}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let shipment = loop {
        let shipment = factory.get(&path, Some(&token)).json();
        if shipment["state"] == "shipped" || shipment["state"] == "delivered" {
            break shipment;
        }
        assert!(
            ["received", "locked", "programmed"].contains(&shipment["state"].as_str().unwrap()),
            "{shipment}"
        );
        assert!(
            Instant::now() < deadline,
            "the clock did not ship {id}: {shipment}\n{}",
            factory.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let tracking = shipment["trackingNumber"].as_str().unwrap();
    let parcel = outbox(&dir.0).join(format!("{tracking}.key"));
    assert!(parcel.is_file(), "{} is in the outbox", parcel.display());
    let signers = factory.jwks("sign");
    let ours = std::slice::from_ref(&customer);
    let credential: CredentialResponse = sealed::open(
        shipment["credentialResponses"][0].as_str().unwrap(),
        ours,
        &signers,
        CREDENTIAL_RESPONSE_TYP,
    )
    .unwrap();
    credential
        .check_binding(&id, shipment["serialNumber"].as_str().unwrap())
        .unwrap();
    let pin: PinResponse = sealed::open(
        shipment["pinResponse"].as_str().unwrap(),
        ours,
        &signers,
        PIN_RESPONSE_TYP,
    )
    .unwrap();
    assert_eq!(pin.pin.len(), 8);
    // A shipment the clock has taken cannot be shipped again by hand.
    let mut again = vec!["factory", "ship", "--shipment", id.as_str()];
    again.extend(factory.flags.iter().map(String::as_str));
    assert!(!run(&dir.0, &again, &[]).status.success());

    // Delivered on its own, one period after shipping.
    let delivered = loop {
        let shipment = factory.get(&path, Some(&token)).json();
        if shipment["state"] == "delivered" {
            break shipment;
        }
        assert_eq!(shipment["state"], "shipped", "{shipment}");
        assert!(Instant::now() < deadline, "the clock did not deliver {id}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(delivered["trackingNumber"].as_str(), Some(tracking));

    let output = factory.stop();
    assert!(output.contains("shipment shipped"), "logs were captured: {output}");
    for (what, secret) in [
        ("PIN", pin.pin.clone()),
        ("challenge", b64::encode(&options.challenge.0)),
        ("token", token.clone()),
    ] {
        assert!(!output.contains(&secret), "the factory's output holds the {what}");
    }
}
