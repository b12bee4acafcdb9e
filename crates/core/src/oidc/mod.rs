//! Single sign-on: keyfleet as an OpenID Connect 1.0 provider (authorization code flow with
//! PKCE S256 only).
//!
//! - [`authorize`] decides what an authorization request gets: an error page (the redirect
//!   URI is not proven), an error sent back to the application, the sign-in page, or a code.
//! - [`exchange_code`] and [`refresh`] are the token endpoint's grants; [`userinfo`] answers
//!   an access token; [`revoke`] is RFC 7009; [`logout`] is RP-initiated logout.
//!
//! Every code and refresh token belongs to a *grant* (see `keyfleet_domain::oidc`). A code
//! redeemed twice, or a rotated-out refresh token presented again, revokes the grant: every
//! token issued from it stops working (RFC 9700 §2.2.2, §4.14).
//!
//! ID and access tokens are ES256 JWTs signed with the same keys as the API's access tokens
//! ([`crate::clients::tokens`]); an application's access token names a user, so the API's
//! bearer check (which wants a client-credentials token, `sub == client_id`, its own audience)
//! refuses it.

pub mod applications;
pub mod backchannel;
pub mod client_auth;
pub mod consent;
pub mod keys;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use keyfleet_domain::audit::{Action, Actor, Outcome, Target};
use keyfleet_domain::oidc::{self, Application, Grant, RefreshToken};
use keyfleet_domain::session::{Session, SessionKind};
use keyfleet_domain::strength::KeyFacts;
use keyfleet_domain::user::{User, Username};
use keyfleet_domain::{StoreError, Timestamp, UserId};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::audit::{Detail, Reason};
use crate::credentials::keys::BAND_AAGUID;
use crate::limits;
use crate::{CoreError, Ctx};

/// The parameters of an authorization request (GET query or POST form), as received.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    /// The application.
    pub client_id: Option<String>,
    /// Where the answer goes; must be one of the application's, exactly.
    pub redirect_uri: Option<String>,
    /// Must be `code`.
    pub response_type: Option<String>,
    /// Space-separated; must hold `openid`.
    pub scope: Option<String>,
    /// Returned as given.
    pub state: Option<String>,
    /// Put in the ID token.
    pub nonce: Option<String>,
    /// PKCE (RFC 7636): required.
    pub code_challenge: Option<String>,
    /// PKCE: must be `S256`.
    pub code_challenge_method: Option<String>,
    /// `none`, `login`, `consent` (a third-party application's consent page, again);
    /// `select_account` is accepted.
    pub prompt: Option<String>,
    /// Seconds since the key sign-in after which the user signs in again.
    pub max_age: Option<String>,
    /// The username expected.
    pub login_hint: Option<String>,
    /// An ID token this provider issued, naming the user expected.
    pub id_token_hint: Option<String>,
    /// Requested authentication context classes (voluntary).
    pub acr_values: Option<String>,
    /// The claims request (OIDC Core §5.5); only an essential `acr` in `id_token` is acted on.
    pub claims: Option<String>,
    /// Request objects are not supported.
    pub request: Option<String>,
    /// Request objects by reference are not supported.
    pub request_uri: Option<String>,
    /// keyfleet's own marker: the sign-in that a `prompt=login` or `max_age` asked for
    /// happened after this time (`MS.MAC`, made by [`login_marker`]).
    pub kf_login_after: Option<String>,
}

/// The answer to an authorization request.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// The redirect URI is not proven: show an error page, redirect nowhere.
    ErrorPage {
        /// OAuth error code.
        error: &'static str,
        /// What is wrong.
        description: String,
    },
    /// An error for the application, sent to its redirect URI (with `iss`, RFC 9207).
    RedirectError {
        /// The validated redirect URI.
        redirect_uri: String,
        /// OAuth error code.
        error: &'static str,
        /// What is wrong.
        description: String,
        /// The application's state.
        state: Option<String>,
    },
    /// The user must sign in with a key (again) and come back.
    Login {
        /// The username to sign in as, if known.
        login_hint: Option<String>,
        /// Show the sign-in page even to a signed-in user.
        fresh: bool,
        /// The marker to add to the request when it comes back ([`login_marker`]).
        marker: Option<String>,
    },
    /// A third-party application asks for the user's consent: show the consent page.
    Consent {
        /// The application's name.
        application: String,
        /// The scopes it would get.
        scopes: Vec<String>,
    },
    /// A code for the application.
    Code {
        /// The validated redirect URI.
        redirect_uri: String,
        /// The authorization code.
        code: String,
        /// The application's state.
        state: Option<String>,
    },
}

/// The session of the browser making an authorization request, if any.
pub struct BrowserSession<'a> {
    /// The session.
    pub session: &'a Session,
    /// Its user.
    pub user: &'a User,
}

/// Longest `state` or `nonce` accepted.
const MAX_PARAM_LEN: usize = 512;

fn mac(key: &[u8; 32], label: &str, data: &str) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(label.as_bytes());
    m.update(b"\0");
    m.update(data.as_bytes());
    hex::encode(&m.finalize().into_bytes()[..16])
}

/// A marker saying "a key sign-in after now is fresh enough", for the request that is sent to
/// sign in again; MACed, so a browser cannot make one up.
pub fn login_marker(ctx: &Ctx<'_>) -> String {
    let ms = ctx.now.as_millis().to_string();
    let tag = mac(&ctx.config.clients.secret_digest_key, "oidc-login-after", &ms);
    format!("{ms}.{tag}")
}

fn verify_marker(ctx: &Ctx<'_>, marker: &str) -> Option<Timestamp> {
    let (ms, tag) = marker.split_once('.')?;
    let want = mac(&ctx.config.clients.secret_digest_key, "oidc-login-after", ms);
    if !bool::from(want.as_bytes().ct_eq(tag.as_bytes())) {
        return None;
    }
    ms.parse().ok().map(Timestamp::from_millis)
}

/// Claims of the ID tokens this provider issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The user's immutable id.
    pub sub: String,
    /// The application.
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// When the user signed in with their key.
    pub auth_time: i64,
    /// The application's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// RFC 8176 methods.
    pub amr: Vec<String>,
    /// The authentication context class met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The authorized party (the application).
    pub azp: String,
    /// Left half of the access token's SHA-256, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The grant (session of this application).
    pub sid: String,
    /// The user's claims, by scope.
    #[serde(flatten)]
    pub profile: BTreeMap<String, serde_json::Value>,
}

/// Claims of an application's access token (RFC 9068).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserAccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user's id.
    pub sub: String,
    /// The application.
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// Granted scopes.
    pub scope: String,
    /// The application.
    pub client_id: String,
    /// The grant it was issued from.
    pub sid: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GrantDetail<'a> {
    grant_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}
impl Detail for GrantDetail<'_> {}

fn page(error: &'static str, description: impl Into<String>) -> AuthorizeOutcome {
    AuthorizeOutcome::ErrorPage {
        error,
        description: description.into(),
    }
}

/// Whether `s` is a valid S256 code challenge: the base64url SHA-256 (43 characters).
fn is_s256_challenge(s: &str) -> bool {
    s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The RFC 8176 methods of a session opened with a key: `hwk`, with `user` when the key
/// verified its user by a built-in method (the band: its fingerprint sensor) or `pin` when by
/// PIN (any other key), as the sign-in's UV flag says. `facts` are the session's sign-in and
/// key ([`crate::strengths::key_facts`]), `None` when the key is gone.
fn amr(facts: Option<&KeyFacts>) -> Vec<String> {
    let mut out = vec!["hwk".to_owned()];
    if let Some(f) = facts.filter(|f| f.user_verified) {
        out.push(if f.aaguid == BAND_AAGUID { "user" } else { "pin" }.to_owned());
    }
    out
}

/// The `acr` values asked for as essential in the `claims` parameter (OIDC Core §5.5.1.1),
/// if any; `Err` when the parameter is not JSON.
fn essential_acr(claims: Option<&str>) -> Result<Option<Vec<String>>, ()> {
    let Some(raw) = claims.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|_| ())?;
    let acr = &v["id_token"]["acr"];
    if acr["essential"] != serde_json::Value::Bool(true) {
        return Ok(None);
    }
    let mut values: Vec<String> = acr["values"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if let Some(one) = acr["value"].as_str() {
        values.push(one.to_owned());
    }
    Ok((!values.is_empty()).then_some(values))
}

/// Decides an authorization request (OIDC Core §3.1.2). Nothing is written unless a code is
/// issued.
pub async fn authorize(
    ctx: &Ctx<'_>,
    p: &AuthorizeParams,
    browser: Option<BrowserSession<'_>>,
) -> Result<AuthorizeOutcome, CoreError> {
    authorize_with(ctx, p, browser, consent::Decision::Ask).await
}

/// [`authorize`] with the user's answer on the consent page (third-party applications): the
/// whole request is decided again, so an answer counts only for a valid request of the
/// signed-in user. An approval is stored (see [`consent`]).
pub async fn authorize_with(
    ctx: &Ctx<'_>,
    p: &AuthorizeParams,
    browser: Option<BrowserSession<'_>>,
    decision: consent::Decision,
) -> Result<AuthorizeOutcome, CoreError> {
    // 1. The application and its redirect URI, before anything is sent anywhere.
    let Some(client_id) = p.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(page("invalid_request", "client_id is missing"));
    };
    let Some(app) = ctx.stores.oidc.get_application(client_id).await? else {
        return Ok(page("invalid_client", "no application has this client_id"));
    };
    let Some(redirect_uri) = p.redirect_uri.as_deref() else {
        return Ok(page("invalid_request", "redirect_uri is missing"));
    };
    if !app.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Ok(page(
            "invalid_request",
            "redirect_uri is not one of the application's registered redirect URIs",
        ));
    }
    let state = p.state.clone().filter(|s| s.len() <= MAX_PARAM_LEN);
    let back = |error: &'static str, description: &str| {
        Ok(AuthorizeOutcome::RedirectError {
            redirect_uri: redirect_uri.to_owned(),
            error,
            description: description.to_owned(),
            state: state.clone(),
        })
    };
    // 2. The request itself.
    if p.request.is_some() {
        return back("request_not_supported", "request objects are not supported");
    }
    if p.request_uri.is_some() {
        return back("request_uri_not_supported", "request_uri is not supported");
    }
    match p.response_type.as_deref() {
        None | Some("") => return back("invalid_request", "response_type is missing"),
        Some("code") => {}
        Some(_) => return back("unsupported_response_type", "only response_type=code is supported"),
    }
    if p.state.as_ref().is_some_and(|s| s.len() > MAX_PARAM_LEN)
        || p.nonce.as_ref().is_some_and(|n| n.len() > MAX_PARAM_LEN)
    {
        return back("invalid_request", "state and nonce are at most 512 characters");
    }
    let asked: Vec<&str> = p
        .scope
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if !asked.contains(&"openid") {
        return back("invalid_scope", "scope must include openid");
    }
    // Scopes the application may not have, or that are unknown, are ignored (OIDC Core §3.1.2.1).
    let scope = app
        .scopes
        .iter()
        .filter(|s| asked.contains(&s.as_str()))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let Some(challenge) = p.code_challenge.as_deref().filter(|c| !c.is_empty()) else {
        return back(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        );
    };
    if p.code_challenge_method.as_deref() != Some("S256") {
        return back("invalid_request", "code_challenge_method must be S256");
    }
    if !is_s256_challenge(challenge) {
        return back(
            "invalid_request",
            "code_challenge is not a base64url SHA-256 (43 characters)",
        );
    }
    let prompts: Vec<&str> = p
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return back("invalid_request", "prompt=none cannot be combined with other values");
    }
    let max_age = match p.max_age.as_deref().filter(|m| !m.is_empty()) {
        None => None,
        Some(m) => match m.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => return back("invalid_request", "max_age must be a whole number of seconds"),
        },
    };
    let hinted_sub = match p.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
        None => None,
        Some(h) => match id_token_subject(ctx, h) {
            Some(sub) => Some(sub),
            None => {
                return back(
                    "invalid_request",
                    "id_token_hint is not an ID token this provider issued",
                );
            }
        },
    };
    let login_hint = p
        .login_hint
        .as_deref()
        .and_then(|h| Username::parse(h).ok())
        .map(|u| u.as_str().to_owned());
    // 3. Who is signed in, and whether that is enough.
    let fresh_after = p.kf_login_after.as_deref().and_then(|m| verify_marker(ctx, m));
    let usable = browser.filter(|b| b.session.kind == SessionKind::Full && b.session.credential_id.is_some());
    let needs_fresh = prompts.contains(&"login")
        || max_age.is_some_and(|m| {
            usable.as_ref().is_some_and(|b| {
                ctx.now.as_millis() - b.session.created_at.as_millis()
                    > i64::try_from(m).unwrap_or(i64::MAX).saturating_mul(1000)
            })
        });
    let satisfied = usable.as_ref().is_some_and(|b| {
        let fresh_ok = !needs_fresh || fresh_after.is_some_and(|t| b.session.created_at > t);
        let hint_ok = login_hint.as_deref().is_none_or(|h| h == b.user.username.as_str());
        let sub_ok = hinted_sub.as_deref().is_none_or(|s| s == b.user.id.to_string());
        fresh_ok && hint_ok && sub_ok
    });
    let Some(b) = usable.filter(|_| satisfied) else {
        if prompt_none {
            return back("login_required", "the user must sign in with their security key");
        }
        return Ok(AuthorizeOutcome::Login {
            login_hint,
            fresh: true,
            marker: needs_fresh.then(|| login_marker(ctx)),
        });
    };
    // 4. Authentication strengths: the application's, and an essential acr (RFC 9470).
    // The session's key is read once, for the strengths and for `amr`.
    let facts = crate::strengths::key_facts(ctx, b.session).await?;
    let met = crate::strengths::met_by(ctx, facts.as_ref()).await?;
    if let Some(required) = app.authentication_strength.as_deref()
        && !met.iter().any(|s| s.id == required)
    {
        if prompt_none {
            return back(
                "login_required",
                "the application needs a sign-in with a key that meets its authentication strength",
            );
        }
        return Ok(AuthorizeOutcome::Login {
            login_hint: Some(b.user.username.as_str().to_owned()),
            fresh: true,
            marker: Some(login_marker(ctx)),
        });
    }
    let essential = match essential_acr(p.claims.as_deref()) {
        Ok(e) => e,
        Err(()) => return back("invalid_request", "claims is not a JSON object"),
    };
    let voluntary: Vec<&str> = p
        .acr_values
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|a| !a.is_empty())
        .collect();
    let acr = if let Some(wanted) = essential {
        match met.iter().find(|s| wanted.contains(&s.acr)) {
            Some(s) => Some(s.acr.clone()),
            None => {
                return back(
                    "unmet_authentication_requirements",
                    "the sign-in does not meet the essential authentication context asked for",
                );
            }
        }
    } else if let Some(required) = app.authentication_strength.as_deref() {
        met.iter().find(|s| s.id == required).map(|s| s.acr.clone())
    } else {
        met.iter()
            .find(|s| voluntary.contains(&s.acr.as_str()))
            // Else the stronger built-in one met (`phrh` over `phr`).
            .or_else(|| met.iter().rev().find(|s| s.built_in))
            .map(|s| s.acr.clone())
    };
    // 5. Consent, for a third-party application.
    let forced = prompts.contains(&"consent");
    match consent::step(ctx, &app, b.user.id, &scope, forced, prompt_none, decision).await? {
        consent::Step::Proceed => {}
        consent::Step::Ask => {
            return Ok(AuthorizeOutcome::Consent {
                application: app.name.clone(),
                scopes: scope.split(' ').map(str::to_owned).collect(),
            });
        }
        consent::Step::Refuse(error, description) => return back(error, description),
    }
    // 6. A code.
    let code = oidc::new_code(&mut OsRng);
    let grant = Grant {
        id: uuid_like(),
        code_hash: oidc::code_hash(&code),
        client_id: app.client_id.clone(),
        user_id: b.user.id,
        session_id: b.session.id,
        redirect_uri: redirect_uri.to_owned(),
        scope,
        nonce: p.nonce.clone().filter(|n| !n.is_empty()),
        code_challenge: challenge.to_owned(),
        auth_time: b.session.created_at,
        amr: amr(facts.as_ref()).join(" "),
        acr,
        created_at: ctx.now,
        code_expires_at: Timestamp::from_millis(ctx.now.as_millis() + oidc::CODE_LIFETIME_MS),
        code_used_at: None,
        revoked_at: None,
    };
    let detail = GrantDetail {
        grant_id: &grant.id,
        grant_type: None,
        reason: None,
    };
    let audit = ctx.as_actor(Actor::User(b.user.id)).audit_with(
        Action::OidcAuthorize,
        Some(Target::Application(app.client_id.clone())),
        &detail,
    );
    ctx.stores.oidc.create_grant(&grant, &audit).await?;
    Ok(AuthorizeOutcome::Code {
        redirect_uri: redirect_uri.to_owned(),
        code,
        state,
    })
}

fn uuid_like() -> String {
    keyfleet_domain::ids::SessionId::new_random(&mut OsRng).to_string()
}

/// The subject of an ID token this provider issued (signature and issuer checked; it may have
/// expired, OIDC Core §3.1.2.1).
fn id_token_subject(ctx: &Ctx<'_>, token: &str) -> Option<String> {
    let claims: IdTokenClaims = ctx.core.tokens.verify_jwt(token, "JWT").ok()?;
    (claims.iss == ctx.config.clients.issuer).then_some(claims.sub)
}

/// How an application authenticated at the token endpoint. Its `Debug` shows the client id
/// only.
#[derive(Clone)]
pub struct ClientAuth {
    /// The client id.
    pub client_id: String,
    /// The secret (client_secret_basic or client_secret_post); none for a public client.
    pub secret: Option<String>,
    /// A client assertion (private_key_jwt, RFC 7523), its type already checked.
    pub assertion: Option<String>,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("assertion", &self.assertion.as_ref().map(|_| "…"))
            .finish()
    }
}

/// Why a token request was refused (RFC 6749 §5.2).
#[derive(Debug)]
pub enum TokenError {
    /// Unknown application, wrong or missing secret (401 `invalid_client`).
    InvalidClient,
    /// A code or refresh token that is unknown, someone else's, used, expired or revoked, a
    /// redirect URI or PKCE verifier that does not match (400 `invalid_grant`).
    InvalidGrant(&'static str),
    /// A required parameter is missing (400 `invalid_request`).
    InvalidRequest(&'static str),
    /// Too many failed client authentications from this address (429).
    SlowDown(u64),
    /// Anything else.
    Core(CoreError),
}

impl From<CoreError> for TokenError {
    fn from(e: CoreError) -> Self {
        TokenError::Core(e)
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::Core(e.into())
    }
}

/// Tokens issued to an application.
#[derive(Debug)]
pub struct Tokens {
    /// The access token (JWT).
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The ID token.
    pub id_token: String,
    /// A refresh token, when `offline_access` was granted.
    pub refresh_token: Option<String>,
    /// Granted scopes.
    pub scope: String,
}

/// Authenticates the application, admitting the attempt under the address's failure limit
/// (nothing written unless it fails).
async fn authenticate(ctx: &Ctx<'_>, auth: &ClientAuth, client_addr: &str) -> Result<Application, TokenError> {
    let target = Some(Target::Application(auth.client_id.clone()));
    let attempt = match limits::admit_token(ctx, client_addr).await {
        Ok(a) => a,
        Err(CoreError::Limited { retry_after_s, .. }) => return Err(TokenError::SlowDown(retry_after_s)),
        Err(e) => return Err(e.into()),
    };
    let (app, why) = match ctx.stores.oidc.get_application(&auth.client_id).await? {
        Some(a) => match client_auth::check(ctx, &a, auth).await? {
            Ok(()) => (Some(a), ""),
            Err(why) => (None, why),
        },
        None => (None, "invalid_client"),
    };
    match app {
        Some(app) => {
            attempt.succeeded();
            Ok(app)
        }
        None => {
            attempt.failed(ctx).await?;
            let event = ctx
                .audit_with(Action::OidcToken, target, &Reason { reason: why })
                .with_outcome(Outcome::Failure);
            ctx.stores.audit.append(&event).await?;
            Err(TokenError::InvalidClient)
        }
    }
}

async fn refuse(ctx: &Ctx<'_>, app: &Application, grant_id: Option<&str>, reason: &'static str) -> TokenError {
    let detail = GrantDetail {
        grant_id: grant_id.unwrap_or(""),
        grant_type: None,
        reason: Some(reason),
    };
    let event = ctx
        .audit_with(
            Action::OidcToken,
            Some(Target::Application(app.client_id.clone())),
            &detail,
        )
        .with_outcome(Outcome::Denied);
    if let Err(e) = ctx.stores.audit.append(&event).await {
        return e.into();
    }
    TokenError::InvalidGrant(reason)
}

/// Revokes a grant (every token issued from it), audited as `oidc.revoke` with `reason`.
async fn revoke_family(ctx: &Ctx<'_>, grant: &Grant, reason: &'static str) -> Result<bool, StoreError> {
    let detail = GrantDetail {
        grant_id: &grant.id,
        grant_type: None,
        reason: Some(reason),
    };
    let audit = ctx.audit_with(
        Action::OidcRevoke,
        Some(Target::Application(grant.client_id.clone())),
        &detail,
    );
    ctx.stores.oidc.revoke_grant(&grant.id, ctx.now, &audit).await
}

/// The authorization-code grant (RFC 6749 §4.1.3, RFC 7636 §4.6). A code that was redeemed
/// before revokes every token issued from it.
pub async fn exchange_code(
    ctx: &Ctx<'_>,
    auth: &ClientAuth,
    code: Option<&str>,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    client_addr: &str,
) -> Result<Tokens, TokenError> {
    let app = authenticate(ctx, auth, client_addr).await?;
    let Some(code) = code.filter(|c| !c.is_empty() && c.len() <= 128) else {
        return Err(TokenError::InvalidRequest("code is missing"));
    };
    let Some(grant) = ctx.stores.oidc.find_grant_by_code(&oidc::code_hash(code)).await? else {
        return Err(refuse(ctx, &app, None, "unknown_code").await);
    };
    // A code issued to another application changes nothing (code injection).
    if grant.client_id != app.client_id {
        return Err(refuse(ctx, &app, None, "code_of_another_client").await);
    }
    if redirect_uri != Some(grant.redirect_uri.as_str()) {
        return Err(refuse(ctx, &app, Some(&grant.id), "redirect_uri_mismatch").await);
    }
    let Some(verifier) = code_verifier.filter(|v| (43..=128).contains(&v.len())) else {
        return Err(refuse(ctx, &app, Some(&grant.id), "code_verifier_missing").await);
    };
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !bool::from(computed.as_bytes().ct_eq(grant.code_challenge.as_bytes())) {
        return Err(refuse(ctx, &app, Some(&grant.id), "pkce_mismatch").await);
    }
    if grant.code_used_at.is_some() || grant.revoked_at.is_some() {
        revoke_family(ctx, &grant, "code_reused").await?;
        return Err(refuse(ctx, &app, Some(&grant.id), "code_used").await);
    }
    let user = live_user(ctx, grant.user_id).await?;
    let Some(user) = user else {
        return Err(refuse(ctx, &app, Some(&grant.id), "user_disabled").await);
    };
    let (tokens, refresh) = mint(ctx, &app, &grant, &user).await?;
    let detail = GrantDetail {
        grant_id: &grant.id,
        grant_type: Some("authorization_code"),
        reason: None,
    };
    let audit = ctx.as_actor(Actor::Client(app.client_id.clone())).audit_with(
        Action::OidcToken,
        Some(Target::Application(app.client_id.clone())),
        &detail,
    );
    match ctx
        .stores
        .oidc
        .redeem_code(&grant.id, ctx.now, refresh.as_ref(), &audit)
        .await
    {
        Ok(()) => Ok(tokens),
        Err(StoreError::Conflict("code_used")) => {
            // Another request redeemed it first: this is a reuse.
            revoke_family(ctx, &grant, "code_reused").await?;
            Err(refuse(ctx, &app, Some(&grant.id), "code_used").await)
        }
        Err(StoreError::Conflict("code_expired")) => Err(refuse(ctx, &app, Some(&grant.id), "code_expired").await),
        Err(e) => Err(e.into()),
    }
}

/// The refresh-token grant (RFC 6749 §6) with rotation: the token presented is used up and a
/// new one issued; a used one presented again revokes its whole family.
pub async fn refresh(
    ctx: &Ctx<'_>,
    auth: &ClientAuth,
    refresh_token: Option<&str>,
    client_addr: &str,
) -> Result<Tokens, TokenError> {
    let app = authenticate(ctx, auth, client_addr).await?;
    let Some(token) = refresh_token.filter(|t| !t.is_empty() && t.len() <= 128) else {
        return Err(TokenError::InvalidRequest("refresh_token is missing"));
    };
    let hash = oidc::refresh_hash(token);
    let Some((stored, grant)) = ctx.stores.oidc.find_refresh_token(&hash).await? else {
        return Err(refuse(ctx, &app, None, "unknown_refresh_token").await);
    };
    if grant.client_id != app.client_id {
        return Err(refuse(ctx, &app, None, "refresh_token_of_another_client").await);
    }
    if stored.used_at.is_some() {
        revoke_family(ctx, &grant, "refresh_token_reused").await?;
        return Err(refuse(ctx, &app, Some(&grant.id), "refresh_token_reused").await);
    }
    if grant.revoked_at.is_some() {
        return Err(refuse(ctx, &app, Some(&grant.id), "grant_revoked").await);
    }
    if stored.expires_at <= ctx.now {
        return Err(refuse(ctx, &app, Some(&grant.id), "refresh_token_expired").await);
    }
    let Some(user) = live_user(ctx, grant.user_id).await? else {
        return Err(refuse(ctx, &app, Some(&grant.id), "user_disabled").await);
    };
    let (tokens, new) = mint(ctx, &app, &grant, &user).await?;
    let new = new.expect("a grant with a refresh token holds offline_access");
    let detail = GrantDetail {
        grant_id: &grant.id,
        grant_type: Some("refresh_token"),
        reason: None,
    };
    let audit = ctx.as_actor(Actor::Client(app.client_id.clone())).audit_with(
        Action::OidcToken,
        Some(Target::Application(app.client_id.clone())),
        &detail,
    );
    match ctx.stores.oidc.rotate_refresh_token(&hash, ctx.now, &new, &audit).await {
        Ok(()) => Ok(tokens),
        Err(StoreError::Conflict("refresh_used")) => {
            // Another request rotated it first (or the family was revoked meanwhile).
            revoke_family(ctx, &grant, "refresh_token_reused").await?;
            Err(refuse(ctx, &app, Some(&grant.id), "refresh_token_reused").await)
        }
        Err(e) => Err(e.into()),
    }
}

async fn live_user(ctx: &Ctx<'_>, id: UserId) -> Result<Option<User>, StoreError> {
    Ok(ctx.stores.users.get_user(id).await?.filter(|u| u.enabled))
}

/// The user's claims for `scope` (OIDC Core §5.4).
async fn profile_claims(
    ctx: &Ctx<'_>,
    user: &User,
    scope: &str,
) -> Result<BTreeMap<String, serde_json::Value>, StoreError> {
    let has = |s: &str| scope.split(' ').any(|x| x == s);
    let mut out = BTreeMap::new();
    if has("profile") {
        out.insert("preferred_username".into(), user.username.as_str().into());
        out.insert("name".into(), user.display_name.clone().into());
        out.insert("updated_at".into(), (user.updated_at.as_millis() / 1000).into());
    }
    if has("email") {
        out.insert("email".into(), user.email.clone().into());
        // Set by an administrator or the directory, never proven by the user.
        out.insert("email_verified".into(), false.into());
    }
    if has("groups") {
        let groups = ctx.stores.groups.list_user_groups(user.id).await?;
        let names: Vec<serde_json::Value> = groups.into_iter().map(|g| g.name.into()).collect();
        out.insert("groups".into(), names.into());
    }
    Ok(out)
}

/// Signs the access and ID tokens for `grant`, and makes a refresh token when `offline_access`
/// was granted (returned for the store to keep).
async fn mint(
    ctx: &Ctx<'_>,
    app: &Application,
    grant: &Grant,
    user: &User,
) -> Result<(Tokens, Option<RefreshToken>), StoreError> {
    let now_s = ctx.now.as_millis() / 1000;
    let issuer = ctx.config.clients.issuer.clone();
    let access = UserAccessClaims {
        iss: issuer.clone(),
        sub: user.id.to_string(),
        aud: app.client_id.clone(),
        exp: now_s + app.access_token_lifetime_s,
        iat: now_s,
        nbf: now_s,
        jti: keyfleet_domain::secret::random_token(16, &mut OsRng),
        scope: grant.scope.clone(),
        client_id: app.client_id.clone(),
        sid: grant.id.clone(),
    };
    let access_token = ctx.core.tokens.sign_jwt("at+jwt", &access);
    let digest = Sha256::digest(access_token.as_bytes());
    let id = IdTokenClaims {
        iss: issuer,
        sub: user.id.to_string(),
        aud: app.client_id.clone(),
        exp: now_s + app.access_token_lifetime_s,
        iat: now_s,
        auth_time: grant.auth_time.as_millis() / 1000,
        nonce: grant.nonce.clone(),
        amr: grant
            .amr
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        acr: grant.acr.clone(),
        azp: app.client_id.clone(),
        at_hash: Some(URL_SAFE_NO_PAD.encode(&digest[..16])),
        sid: grant.id.clone(),
        profile: profile_claims(ctx, user, &grant.scope).await?,
    };
    let id_token = ctx.core.tokens.sign_jwt("JWT", &id);
    let (refresh_token, stored) = if grant.scope.split(' ').any(|s| s == "offline_access") {
        let token = oidc::new_refresh_token(&mut OsRng);
        let stored = RefreshToken {
            token_hash: oidc::refresh_hash(&token),
            grant_id: grant.id.clone(),
            created_at: ctx.now,
            expires_at: Timestamp::from_millis(ctx.now.as_millis() + app.refresh_token_lifetime_s * 1000),
            used_at: None,
        };
        (Some(token), Some(stored))
    } else {
        (None, None)
    };
    Ok((
        Tokens {
            access_token,
            expires_in: app.access_token_lifetime_s,
            id_token,
            refresh_token,
            scope: grant.scope.clone(),
        },
        stored,
    ))
}

/// The grant behind an application's access token, if the token verifies, has not expired,
/// and its grant, application and user are all still there and live.
async fn live_access_token(ctx: &Ctx<'_>, token: &str) -> Result<Option<(UserAccessClaims, Grant, User)>, CoreError> {
    let Ok(claims) = ctx.core.tokens.verify_jwt::<UserAccessClaims>(token, "at+jwt") else {
        return Ok(None);
    };
    let now_s = ctx.now.as_millis() / 1000;
    if claims.iss != ctx.config.clients.issuer
        || claims.aud != claims.client_id
        || now_s >= claims.exp
        || now_s < claims.nbf
    {
        return Ok(None);
    }
    let Some(grant) = ctx.stores.oidc.get_grant(&claims.sid).await? else {
        return Ok(None);
    };
    if grant.revoked_at.is_some() || grant.client_id != claims.client_id || grant.user_id.to_string() != claims.sub {
        return Ok(None);
    }
    let Some(user) = live_user(ctx, grant.user_id).await? else {
        return Ok(None);
    };
    Ok(Some((claims, grant, user)))
}

/// The UserInfo answer for an access token (OIDC Core §5.3); `None` when the token is not a
/// live one (401 `invalid_token`).
pub async fn userinfo(ctx: &Ctx<'_>, token: &str) -> Result<Option<serde_json::Value>, CoreError> {
    let Some((claims, grant, user)) = live_access_token(ctx, token).await? else {
        return Ok(None);
    };
    let mut out = profile_claims(ctx, &user, &grant.scope).await?;
    out.insert("sub".into(), claims.sub.into());
    Ok(Some(serde_json::Value::Object(out.into_iter().collect())))
}

/// Token revocation (RFC 7009): a refresh token or access token of the authenticated
/// application revokes its grant. Unknown tokens and other applications' tokens change nothing
/// and are answered alike (§2.2).
pub async fn revoke(ctx: &Ctx<'_>, auth: &ClientAuth, token: &str, client_addr: &str) -> Result<(), TokenError> {
    let app = authenticate(ctx, auth, client_addr).await?;
    let grant = if let Some((_, grant)) = ctx.stores.oidc.find_refresh_token(&oidc::refresh_hash(token)).await? {
        Some(grant)
    } else {
        live_access_token(ctx, token).await?.map(|(_, g, _)| g)
    };
    if let Some(grant) = grant.filter(|g| g.client_id == app.client_id) {
        revoke_family(ctx, &grant, "revoked_by_client").await?;
    }
    Ok(())
}

/// What RP-initiated logout does (OpenID Connect RP-Initiated Logout 1.0).
#[derive(Debug, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// Show an error page; nothing was changed.
    ErrorPage(String),
    /// Signed out; go to the application's post-logout URI (with its state) if one was given,
    /// else keyfleet's signed-out page.
    SignedOut {
        /// The validated post-logout redirect URI.
        redirect: Option<String>,
    },
}

/// RP-initiated logout: the keyfleet session ends and every grant opened from it is revoked.
/// The request must carry an ID token this provider issued to the signed-in user
/// (`id_token_hint`), so another site cannot sign a user out; a `post_logout_redirect_uri`
/// must be one the hinted application registered, exactly.
pub async fn logout(
    ctx: &Ctx<'_>,
    id_token_hint: Option<&str>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
    browser: Option<BrowserSession<'_>>,
) -> Result<LogoutOutcome, CoreError> {
    let Some(hint) = id_token_hint.filter(|h| !h.is_empty()) else {
        return Ok(LogoutOutcome::ErrorPage(
            "The application did not say who is signing out (id_token_hint). Sign out from keyfleet's own pages instead."
                .into(),
        ));
    };
    let Some(claims) = ctx
        .core
        .tokens
        .verify_jwt::<IdTokenClaims>(hint, "JWT")
        .ok()
        .filter(|c| c.iss == ctx.config.clients.issuer)
    else {
        return Ok(LogoutOutcome::ErrorPage(
            "id_token_hint is not an ID token keyfleet issued.".into(),
        ));
    };
    if client_id.is_some_and(|c| c != claims.aud) {
        return Ok(LogoutOutcome::ErrorPage(
            "client_id does not match id_token_hint.".into(),
        ));
    }
    let redirect = match post_logout_redirect_uri.filter(|u| !u.is_empty()) {
        None => None,
        Some(uri) => {
            let app = ctx.stores.oidc.get_application(&claims.aud).await?;
            if !app.is_some_and(|a| a.post_logout_redirect_uris.iter().any(|u| u == uri)) {
                return Ok(LogoutOutcome::ErrorPage(
                    "post_logout_redirect_uri is not one the application registered.".into(),
                ));
            }
            Some(uri.to_owned())
        }
    };
    if let Some(b) = browser.filter(|b| b.user.id.to_string() == claims.sub) {
        let actor = ctx.as_actor(Actor::User(b.user.id));
        let audit = actor.audit_with(
            Action::OidcRevoke,
            Some(Target::User(b.user.id)),
            &Reason { reason: "logout" },
        );
        actor
            .stores
            .oidc
            .revoke_session_grants(b.session.id, ctx.now, &audit)
            .await?;
        let principal = crate::access::Principal::for_session(b.user, b.session);
        match crate::identity::sessions::sign_out(&actor, &principal, false).await {
            Ok(_) | Err(CoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(LogoutOutcome::SignedOut { redirect })
}

/// Ends every application grant of `user` (their refresh tokens die, their access tokens stop
/// working at UserInfo): called when the user signs out everywhere, is disabled, or has every
/// key removed. Audited as `oidc.revoke` with `reason`, when there was any.
pub async fn end_user_grants(ctx: &Ctx<'_>, user: UserId, reason: &'static str) -> Result<u64, CoreError> {
    let audit = ctx.audit_with(Action::OidcRevoke, Some(Target::User(user)), &Reason { reason });
    Ok(ctx.stores.oidc.revoke_user_grants(user, ctx.now, &audit).await?)
}

/// Ends every application grant opened from the session `session` (signed out, or ended by
/// its user or the helpdesk). Audited as `oidc.revoke` with `reason`, when there was any.
pub async fn end_session_grants(
    ctx: &Ctx<'_>,
    user: UserId,
    session: keyfleet_domain::ids::SessionId,
    reason: &'static str,
) -> Result<u64, CoreError> {
    let audit = ctx.audit_with(Action::OidcRevoke, Some(Target::User(user)), &Reason { reason });
    Ok(ctx.stores.oidc.revoke_session_grants(session, ctx.now, &audit).await?)
}

/// Ends every application grant opened from a session of the key `credential_id` (removed,
/// reported lost, reassigned). Audited as `oidc.revoke` with `reason`, when there was any.
pub async fn end_credential_grants(
    ctx: &Ctx<'_>,
    user: UserId,
    credential_id: &[u8],
    reason: &'static str,
) -> Result<u64, CoreError> {
    let audit = ctx.audit_with(Action::OidcRevoke, Some(Target::User(user)), &Reason { reason });
    Ok(ctx
        .stores
        .oidc
        .revoke_credential_grants(credential_id, ctx.now, &audit)
        .await?)
}
