//! A factory in a fresh directory, its router, and a customer.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use keyfleet_factory::KeyFactory;
use keyfleet_provisioning::api::{CredentialRequest, PinRequest};
use keyfleet_provisioning::jwe;
use keyfleet_provisioning::jwk::{EcPrivateKey, Jwks};
use keyfleet_webauthn_rp::{
    AttestationConveyance, AuthenticatorSelection, CoseAlgorithm, CredentialParameter,
    PublicKeyCredentialCreationOptions, RelyingParty, ResidentKeyRequirement, UserEntity, UserVerificationRequirement,
};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ORIGIN: &str = "https://keys.example.com";
pub const RP_ID: &str = "keys.example.com";

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let mut b = [0u8; 8];
        OsRng.fill_bytes(&mut b);
        let dir = std::env::temp_dir().join(format!("keyfleet-factory-test-{}", hex::encode(b)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct World {
    pub dir: TempDir,
    pub factory: KeyFactory,
    pub router: Router,
    pub token: String,
    pub customer: EcPrivateKey,
}

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub text: String,
}

impl World {
    pub async fn new() -> World {
        let dir = TempDir::new();
        let factory = KeyFactory::open(
            &format!("sqlite://{}", dir.0.join("factory.db").display()),
            dir.0.join("factory"),
            dir.0.join("outbox"),
        )
        .await
        .unwrap();
        let (_, token) = factory.create_token("test", "cli:test").await.unwrap();
        World {
            router: keyfleet_factory::http::router(factory.clone()),
            factory,
            dir,
            token: token.to_string(),
            customer: EcPrivateKey::generate(&mut OsRng),
        }
    }

    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(b) => request
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        Answer {
            status,
            content_type,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        }
    }

    pub async fn transport_jwks(&self) -> Jwks {
        let a = self.call("GET", "/.well-known/transport-keys.jwks", None, None).await;
        assert_eq!(a.status, StatusCode::OK);
        serde_json::from_value(a.body).unwrap()
    }

    pub async fn sign_jwks(&self) -> Jwks {
        let a = self.call("GET", "/.well-known/sign-keys.jwks", None, None).await;
        assert_eq!(a.status, StatusCode::OK);
        serde_json::from_value(a.body).unwrap()
    }

    /// A shipment body with one credential request for `options`, encrypted to the published key.
    pub async fn shipment_body(&self, options: &PublicKeyCredentialCreationOptions, pin_length: u8) -> Value {
        let jwks = self.transport_jwks().await;
        let request = CredentialRequest {
            origin: ORIGIN.into(),
            public_key: options.clone(),
        };
        let jwe = jwe::encrypt(&serde_json::to_vec(&request).unwrap(), &jwks.keys[0], None, &mut OsRng).unwrap();
        json!({
            "model": "nfc-key",
            "recipient": "Alice Example",
            "address": "1 Example Street\n10115 Berlin\nDE",
            "deliveryType": "standard",
            "pinRequest": PinRequest { length: pin_length },
            "credentialRequests": [jwe],
            "responseKey": self.customer.public_jwk("enc", jwe::ALG),
        })
    }

    /// Creates a shipment; its id.
    pub async fn create(&self, options: &PublicKeyCredentialCreationOptions) -> String {
        let body = self.shipment_body(options, 8).await;
        let a = self.call("POST", "/v1/shipments", Some(&self.token), Some(body)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        assert_eq!(a.body["state"], "received");
        a.body["shipmentId"].as_str().unwrap().to_string()
    }
}

/// Creation options as keyfleet makes them for a worker.
pub fn options(user: &str) -> PublicKeyCredentialCreationOptions {
    let mut challenge = [0u8; 32];
    OsRng.fill_bytes(&mut challenge);
    let mut handle = [0u8; 32];
    OsRng.fill_bytes(&mut handle);
    PublicKeyCredentialCreationOptions {
        timeout: Some(300_000),
        authenticator_selection: Some(AuthenticatorSelection {
            resident_key: Some(ResidentKeyRequirement::Required),
            require_resident_key: Some(true),
            user_verification: Some(UserVerificationRequirement::Required),
            ..Default::default()
        }),
        attestation: Some(AttestationConveyance::Direct),
        ..PublicKeyCredentialCreationOptions::new(
            RelyingParty::new(RP_ID, "keyfleet"),
            UserEntity::new(handle, user, user),
            challenge,
            CredentialParameter::list(&[CoseAlgorithm::Es256, CoseAlgorithm::EdDsa]),
        )
    }
}

/// Everything logged, for the secrets check.
pub static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

#[derive(Clone, Default)]
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every log line of this process (at trace level) into [`LOGS`].
pub fn capture_logs() -> Arc<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(|| LogWriter)
        .with_ansi(false)
        .try_init();
    Arc::new(())
}
