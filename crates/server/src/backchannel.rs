//! OpenID back-channel logout over HTTP ([`keyfleet_core::oidc::backchannel::LogoutSender`]):
//! each logout token is posted as the form field `logout_token`, every one of a batch at
//! once, each bounded by a 10-second timeout and following no redirect. A 2xx answer is a
//! delivery; anything else is retried by the job (the core decides when).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use keyfleet_core::oidc::backchannel::LogoutSender;

/// Posts logout tokens with one client.
#[derive(Clone)]
pub struct HttpLogoutSender {
    client: reqwest::Client,
}

impl HttpLogoutSender {
    /// A client with keyfleet's limits.
    pub fn new() -> anyhow::Result<Self> {
        // As in mds_fetch: rustls over aws-lc-rs (installed once per process).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("keyfleet/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { client })
    }

    async fn post(client: reqwest::Client, uri: String, token: String) -> Result<(), String> {
        let res = client
            .post(&uri)
            .header(reqwest::header::CACHE_CONTROL, "no-store")
            .form(&[("logout_token", token.as_str())])
            .send()
            .await
            // Without the URL's query or the token: the error's kind is enough.
            .map_err(|e| format!("{uri}: {}", kind(&e)))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(format!("{uri}: answered {}", res.status().as_u16()))
        }
    }
}

fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "redirected"
    } else {
        "request failed"
    }
}

#[async_trait::async_trait]
impl LogoutSender for HttpLogoutSender {
    async fn post_all(&self, batch: &[(String, String)]) -> Vec<Result<(), String>> {
        let tasks: Vec<_> = batch
            .iter()
            .map(|(uri, token)| tokio::spawn(Self::post(self.client.clone(), uri.clone(), token.clone())))
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(
                t.await
                    .unwrap_or_else(|_| Err("the delivery task ended early".to_owned())),
            );
        }
        out
    }
}

/// The sender as the jobs runner holds it.
pub fn sender() -> anyhow::Result<Arc<HttpLogoutSender>> {
    Ok(Arc::new(HttpLogoutSender::new()?))
}
