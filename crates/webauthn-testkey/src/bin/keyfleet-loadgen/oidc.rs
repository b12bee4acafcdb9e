//! The single sign-on modes: authorization-code flows (`/oauth2/authorize` with the worker's
//! session, then the code exchanged at `/oauth2/token` with PKCE and the application's secret),
//! exchanges alone (of codes minted before the clock starts) and refresh-token grants (each worker rotates its own refresh token); client-credentials
//! grants for an API client.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use sha2::Digest as _;

use super::{Args, Conn, admin};

/// The application the load signs in to.
pub struct App {
    client_id: String,
    /// `Basic …` for client_secret_basic.
    basic: String,
}

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "keyfleet-loadgen-pkce-verifier-0123456789-0123456789";

/// Registers the application with `keyfleet admin create-application`.
pub async fn create_app(args: &Args) -> Result<App, String> {
    let name = format!("{}app", args.prefix);
    let out = admin(
        args,
        &["create-application", "--name", &name, "--redirect-uri", REDIRECT],
    )
    .await?;
    let v: Value = serde_json::from_str(&out).map_err(|e| format!("create-application: {e}: {out}"))?;
    let id = v["client_id"].as_str().ok_or("no client_id")?.to_owned();
    let secret = v["client_secret"].as_str().ok_or("no client_secret")?;
    Ok(App {
        basic: format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        client_id: id,
    })
}

/// Creates an API client with `keyfleet admin create-client` (one scope).
pub async fn create_client(args: &Args) -> Result<App, String> {
    let name = format!("{}client", args.prefix);
    let out = admin(args, &["create-client", "--name", &name, "--scope", "users:read"]).await?;
    let v: Value = serde_json::from_str(&out).map_err(|e| format!("create-client: {e}: {out}"))?;
    let id = v["client_id"].as_str().ok_or("no client_id")?.to_owned();
    let secret = v["client_secret"].as_str().ok_or("no client_secret")?;
    Ok(App {
        basic: format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        client_id: id,
    })
}

/// One client-credentials grant (client_secret_basic, the client's scopes).
pub async fn client_credentials(conn: &mut Conn, client: &App) -> Result<(), String> {
    let v = token(conn, client, "grant_type=client_credentials").await?;
    match v["access_token"].as_str() {
        Some(_) => Ok(()),
        None => Err(format!("client_credentials: no access_token in {v}")),
    }
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        for b in v.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// `/oauth2/authorize` with the session `cookie`, then the code's exchange; the token answer.
pub async fn code_flow(conn: &mut Conn, cookie: &str, app: &App) -> Result<Value, String> {
    let code = authorize(conn, cookie, app).await?;
    exchange(conn, app, &code).await
}

/// `/oauth2/authorize` with the session `cookie` (PKCE S256 with [`VERIFIER`]); the code.
pub async fn authorize(conn: &mut Conn, cookie: &str, app: &App) -> Result<String, String> {
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let q = query(&[
        ("client_id", &app.client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile offline_access"),
        ("state", "lg"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let r = conn
        .send("GET", &format!("/oauth2/authorize?{q}"), &[("Cookie", cookie)], b"")
        .await?;
    let location = match (r.status, r.location) {
        (303, Some(l)) => l,
        (s, l) => return Err(format!("authorize: {s} {l:?}")),
    };
    location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .map(str::to_owned)
        .ok_or_else(|| format!("authorize: no code in {location}"))
}

/// The exchange of `code` at `/oauth2/token` (authorization_code, client_secret_basic, the
/// PKCE verifier); the token answer.
pub async fn exchange(conn: &mut Conn, app: &App, code: &str) -> Result<Value, String> {
    let form = query(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]);
    token(conn, app, &form).await
}

/// One refresh-token grant: `refresh` is replaced by the rotated token.
pub async fn refresh(conn: &mut Conn, app: &App, refresh: &mut String) -> Result<(), String> {
    let form = query(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]);
    let v = token(conn, app, &form).await?;
    *refresh = v["refresh_token"].as_str().ok_or("no refresh_token")?.to_owned();
    Ok(())
}

async fn token(conn: &mut Conn, app: &App, form: &str) -> Result<Value, String> {
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Authorization", app.basic.as_str()),
    ];
    let r = conn.send("POST", "/oauth2/token", &headers, form.as_bytes()).await?;
    if r.status != 200 {
        return Err(format!("token: {} {}", r.status, String::from_utf8_lossy(&r.body)));
    }
    r.json()
}
