//! The metadata refresh's downloads over HTTP (`keyfleet_core::metadata::MetadataSource`):
//! the BLOB from `mds_url` with conditional requests (`If-None-Match`, `If-Modified-Since`),
//! and the CRLs of its signing chain. Bounded: 30-second timeouts, at most 32 MiB for a BLOB
//! and 4 MiB for a CRL, at most 3 redirects, `http`/`https` only.
//!
//! [`refresh_setup`] reads the refresh's settings (`mds_url`, `mds_root_file`,
//! `mds_factory_dir`) into the core's [`RefreshConfig`].

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use keyfleet_core::metadata::{Fetched, MetadataSource, RefreshConfig};
use keyfleet_domain::metadata::FetchValidators;
use keyfleet_webauthn_rp::x509::TrustAnchor;
use reqwest::StatusCode;
use reqwest::header::{ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

use crate::config::Settings;

/// The largest CRL accepted.
const MAX_CRL_LEN: usize = 4 * 1024 * 1024;

/// Downloads over HTTP with one client.
pub struct HttpSource {
    client: reqwest::Client,
}

impl HttpSource {
    /// A client with keyfleet's limits.
    pub fn new() -> anyhow::Result<Self> {
        // rustls is built without a default provider: aws-lc-rs, which the workspace already
        // uses (another caller may have installed it first, which is fine).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("keyfleet/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { client })
    }

    async fn get(&self, url: &str, headers: HeaderMap, max: usize) -> Result<reqwest::Response, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("{url}: only http and https are fetched"));
        }
        let res = self
            .client
            .get(url)
            .headers(headers)
            .send()
            .await
            .map_err(|e| format!("{url}: {}", one_line(&e)))?;
        if res.content_length().is_some_and(|n| n > max as u64) {
            return Err(format!("{url}: larger than {max} bytes"));
        }
        Ok(res)
    }
}

/// An error and its causes on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Reads a body of at most `max` bytes.
async fn body(url: &str, mut res: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("{url}: {}", one_line(&e)))? {
        if out.len() + chunk.len() > max {
            return Err(format!("{url}: larger than {max} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

#[async_trait::async_trait]
impl MetadataSource for HttpSource {
    async fn fetch_blob(&self, url: &str, validators: &FetchValidators) -> Result<Fetched, String> {
        let mut headers = HeaderMap::new();
        if let Some(v) = validators.etag.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(IF_NONE_MATCH, v);
        }
        if let Some(v) = validators
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(IF_MODIFIED_SINCE, v);
        }
        let res = self.get(url, headers, keyfleet_mds::MAX_BLOB_LEN).await?;
        match res.status() {
            StatusCode::NOT_MODIFIED => Ok(Fetched::NotModified),
            StatusCode::OK => {
                let validators = FetchValidators {
                    etag: header_text(res.headers(), ETAG),
                    last_modified: header_text(res.headers(), LAST_MODIFIED),
                };
                let bytes = body(url, res, keyfleet_mds::MAX_BLOB_LEN).await?;
                Ok(Fetched::Blob { bytes, validators })
            }
            other => Err(format!("{url}: HTTP {other}")),
        }
    }

    async fn fetch_crl(&self, url: &str) -> Result<Vec<u8>, String> {
        let res = self.get(url, HeaderMap::new(), MAX_CRL_LEN).await?;
        if res.status() != StatusCode::OK {
            return Err(format!("{url}: HTTP {}", res.status()));
        }
        body(url, res, MAX_CRL_LEN).await
    }
}

/// One trust anchor from a file: PEM when it reads as PEM, else DER.
pub fn read_root(path: &Path) -> anyhow::Result<TrustAnchor> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    match std::str::from_utf8(&bytes).ok().filter(|t| t.contains("-----BEGIN")) {
        Some(pem) => TrustAnchor::from_pem(pem)
            .ok()
            .and_then(|mut all| (all.len() == 1).then(|| all.remove(0)))
            .ok_or_else(|| anyhow!("{}: expected one PEM certificate", path.display())),
        None => TrustAnchor::from_der(&bytes).map_err(|e| anyhow!("{}: {e}", path.display())),
    }
}

/// The factory roots of keyfleet's models in `dir` (`factory-ca-MODEL.der`), those present.
pub fn factory_roots(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut roots = Vec::new();
    for (model, _) in keyfleet_mds::local::STATEMENTS {
        let path = dir.join(format!("factory-ca-{model}.der"));
        if path.is_file() {
            let der = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            roots.push(((*model).to_owned(), der));
        }
    }
    Ok(roots)
}

/// The scheduled refresh's download and configuration, `None` when `mds_url` is not set.
pub fn refresh_setup(settings: &Settings) -> anyhow::Result<Option<(HttpSource, RefreshConfig)>> {
    let Some(url) = &settings.mds_url else {
        return Ok(None);
    };
    let roots = match &settings.mds_root_file {
        Some(path) => vec![read_root(path).context("mds_root_file")?],
        None => vec![keyfleet_mds::globalsign_root_r3()],
    };
    let local_roots = match &settings.mds_factory_dir {
        Some(dir) => factory_roots(dir).context("mds_factory_dir")?,
        None => Vec::new(),
    };
    Ok(Some((
        HttpSource::new()?,
        RefreshConfig {
            url: url.clone(),
            roots,
            local_roots,
        },
    )))
}
