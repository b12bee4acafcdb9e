//! A web application that signs its users in through keyfleet and shows who signed in, with the
//! `amr` (how: `hwk`, a hardware key, plus `pin` or `user`) and `acr` (which authentication
//! strength the key met) of the ID token. Authorization code flow with PKCE; the ID token is
//! verified (signature from the JWKS, issuer, audience, expiry, nonce) by `openidconnect`.
//!
//! ```text
//! SSO_ISSUER=http://localhost:8080 SSO_CLIENT_ID=kfa_… SSO_CLIENT_SECRET=kfas_… cargo run
//! ```
//! then open http://127.0.0.1:5555/ (register `http://127.0.0.1:5555/callback` as its redirect URI).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, reqwest,
};

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

struct App {
    client: Client,
    http: reqwest::Client,
    /// Sign-ins under way, by `state`: the PKCE verifier and the nonce.
    pending: Mutex<HashMap<String, (PkceCodeVerifier, Nonce)>>,
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let http = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let issuer = IssuerUrl::new(env("SSO_ISSUER", "http://localhost:8080"))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http).await?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(std::env::var("SSO_CLIENT_ID")?),
        std::env::var("SSO_CLIENT_SECRET").ok().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(env(
        "SSO_REDIRECT_URI",
        "http://127.0.0.1:5555/callback",
    ))?);
    let app = Arc::new(App {
        client,
        http,
        pending: Mutex::default(),
    });
    let router = axum::Router::new()
        .route("/", axum::routing::get(start))
        .route("/callback", axum::routing::get(callback))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(env("SSO_LISTEN", "127.0.0.1:5555")).await?;
    println!("sso-demo: open http://{}/", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

/// Sends the browser to keyfleet's authorization endpoint.
async fn start(State(app): State<Arc<App>>) -> Redirect {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = app
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    app.pending
        .lock()
        .unwrap()
        .insert(state.secret().clone(), (verifier, nonce));
    Redirect::to(url.as_str())
}

/// Where keyfleet sends the browser back: the code is exchanged, the ID token verified.
async fn callback(State(app): State<Arc<App>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some((verifier, nonce)) = q.get("state").and_then(|s| app.pending.lock().unwrap().remove(s)) else {
        return Html(format!(
            "<p>Unknown sign-in ({:?}). <a href=\"/\">Start again</a></p>",
            q.get("error")
        ))
        .into_response();
    };
    let code = AuthorizationCode::new(q.get("code").cloned().unwrap_or_default());
    let shown = async {
        let tokens = app
            .client
            .exchange_code(code)?
            .set_pkce_verifier(verifier)
            .request_async(&app.http)
            .await?;
        let id_token = tokens.id_token().ok_or("no ID token")?;
        let claims = id_token.claims(&app.client.id_token_verifier(), &nonce)?;
        let amr: Vec<&str> = claims
            .auth_method_refs()
            .into_iter()
            .flatten()
            .map(|m| m.as_str())
            .collect();
        let name = claims
            .preferred_username()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default();
        let acr = claims
            .auth_context_ref()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        Ok::<_, Box<dyn std::error::Error>>(format!(
            "<h1>Signed in as <span id=\"who\">{}</span></h1><p>sub <code id=\"sub\">{}</code></p>\
             <p>amr <code id=\"amr\">{}</code> · acr <code id=\"acr\">{}</code></p>",
            escape(&name),
            escape(claims.subject()),
            escape(&amr.join(" ")),
            escape(&acr)
        ))
    };
    match shown.await {
        Ok(html) => Html(html).into_response(),
        Err(e) => Html(format!("<p>Sign-in failed: {}</p>", escape(&e.to_string()))).into_response(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
