//! keyfleet's key factory over HTTP, as the connector's [`Fulfilment`]
//! (docs/key-factory.md): `POST /v1/shipments` with an `Idempotency-Key`, `GET` and
//! `DELETE /v1/shipments/{id}`, the two published JWK Sets. Bearer token from
//! `factory_token`; bounded times (connect 5 s, a whole call `factory_timeout_seconds`) and answer sizes (4 MiB);
//! no redirects. Errors are typed ([`FulfilmentError`]) and never carry the token or a body.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use keyfleet_core::secrets::MasterKey;
use keyfleet_core::shipments::connector::{ConnectorEnv, ConnectorSettings};
use keyfleet_core::shipments::fulfilment::{Fulfilment, FulfilmentError};
use keyfleet_provisioning::api::{CreateShipment, Shipment};
use keyfleet_provisioning::jwk::Jwks;
use serde::de::DeserializeOwned;

/// The most an answer may be.
const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// The factory at `base`, with its API token (from the `factory_token` secret setting when it
/// is set, else from the configuration; [`HttpFactory::set_token`]).
pub struct HttpFactory {
    client: reqwest::Client,
    base: String,
    token: std::sync::RwLock<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for HttpFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFactory")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpFactory {
    /// A client for the factory at `base` (`http(s)://host:port`); each call may take
    /// `timeout`.
    pub fn new(base: &str, token: &str, timeout: Duration) -> anyhow::Result<Self> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .user_agent(concat!("keyfleet/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the factory's HTTP client")?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: std::sync::RwLock::new(zeroize::Zeroizing::new(token.to_owned())),
        })
    }

    /// Uses `token` from now on (the `factory_token` secret setting, set or changed while the
    /// process runs).
    pub fn set_token(&self, token: &str) {
        let mut held = match self.token.write() {
            Ok(held) => held,
            Err(poisoned) => poisoned.into_inner(),
        };
        if held.as_str() != token {
            *held = zeroize::Zeroizing::new(token.to_owned());
        }
    }

    /// The token to send.
    fn token(&self) -> zeroize::Zeroizing<String> {
        match self.token.read() {
            Ok(held) => held.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn answer<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, FulfilmentError> {
        let res = req.send().await.map_err(|e| sent_error(&e))?;
        let status = res.status();
        let body = read_bounded(res).await?;
        if !status.is_success() {
            let code = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(clean))
                .unwrap_or_default();
            return Err(FulfilmentError::Refused {
                status: status.as_u16(),
                code,
            });
        }
        serde_json::from_slice(&body).map_err(|e| FulfilmentError::Garbage(format!("the answer does not parse: {e}")))
    }
}

/// A problem code as text we may log: short, printable.
fn clean(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// What a failed send means: not sent (connect), or no answer (it may have arrived).
fn sent_error(e: &reqwest::Error) -> FulfilmentError {
    if e.is_connect() {
        FulfilmentError::Unreachable("could not connect".into())
    } else if e.is_timeout() {
        FulfilmentError::NoAnswer("timed out".into())
    } else {
        FulfilmentError::NoAnswer("the connection failed".into())
    }
}

async fn read_bounded(mut res: reqwest::Response) -> Result<Vec<u8>, FulfilmentError> {
    let mut body = Vec::new();
    loop {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER {
                    return Err(FulfilmentError::Garbage("the answer is too large".into()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(sent_error(&e)),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    shipment_id: String,
}

#[async_trait::async_trait]
impl Fulfilment for HttpFactory {
    fn endpoint(&self) -> String {
        self.base.clone()
    }

    async fn transport_keys(&self) -> Result<Jwks, FulfilmentError> {
        let keys: Jwks = self
            .answer(self.client.get(self.url("/.well-known/transport-keys.jwks")))
            .await?;
        if keys.keys.is_empty() {
            return Err(FulfilmentError::Garbage("no transport key published".into()));
        }
        Ok(keys)
    }

    async fn sign_keys(&self) -> Result<Jwks, FulfilmentError> {
        self.answer(self.client.get(self.url("/.well-known/sign-keys.jwks")))
            .await
    }

    async fn submit(&self, order: &CreateShipment, idempotency_key: &str) -> Result<String, FulfilmentError> {
        let req = self
            .client
            .post(self.url("/v1/shipments"))
            .bearer_auth(self.token().as_str())
            .header("Idempotency-Key", idempotency_key)
            .json(order);
        let created: Created = self.answer(req).await?;
        if created.shipment_id.is_empty() || created.shipment_id.len() > 200 {
            return Err(FulfilmentError::Garbage("no shipment id".into()));
        }
        Ok(created.shipment_id)
    }

    async fn poll(&self, id: &str) -> Result<Shipment, FulfilmentError> {
        let url = self.url(&format!("/v1/shipments/{}", urlencode(id)));
        self.answer(self.client.get(url).bearer_auth(self.token().as_str()))
            .await
    }

    async fn cancel(&self, id: &str) -> Result<(), FulfilmentError> {
        let url = self.url(&format!("/v1/shipments/{}", urlencode(id)));
        let _: serde_json::Value = self
            .answer(self.client.delete(url).bearer_auth(self.token().as_str()))
            .await?;
        Ok(())
    }
}

fn urlencode(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// What the connector needs in this process: the factory, its settings, the schedules.
pub struct Connector {
    /// The factory.
    pub factory: HttpFactory,
    /// How it works.
    pub settings: ConnectorSettings,
    /// This process's lease name for orders.
    pub holder: String,
}

impl Connector {
    /// The core's view of it, with the master key.
    pub fn env<'a>(&'a self, master: &'a MasterKey) -> ConnectorEnv<'a> {
        ConnectorEnv {
            factory: &self.factory,
            master,
            settings: &self.settings,
            holder: &self.holder,
        }
    }
}

/// The connector from the settings: `None` without `factory_url`.
pub fn setup(settings: &crate::config::Settings) -> anyhow::Result<Option<Arc<Connector>>> {
    let Some(url) = &settings.factory_url else {
        return Ok(None);
    };
    let token = settings
        .factory_token
        .as_ref()
        .map_or("", crate::config::SecretText::as_str);
    let factory = HttpFactory::new(url, token, settings.factory_timeout)?;
    Ok(Some(Arc::new(Connector {
        factory,
        settings: ConnectorSettings {
            origin: settings.origins.first().cloned().unwrap_or_default(),
            max_attempts: settings.shipments_max_attempts,
            backoff: settings.shipments_retry_backoff,
            // The fault tests' hook (not a setting: never in production configuration).
            crash_at: std::env::var("KF_TEST_CRASH_AT")
                .ok()
                .and_then(|p| keyfleet_core::shipments::connector::CrashPoint::parse(&p)),
            ..ConnectorSettings::default()
        },
        holder: crate::jobs::holder_name(),
    })))
}
