//! Single sign-on: the applications that sign their users in through keyfleet (OpenID Connect
//! relying parties), the grants an authorization code opens, and their refresh tokens.
//!
//! A *grant* is one sign-in of one user to one application: the authorization code's row,
//! and the family of every token issued from it. Revoking the grant (a reused code, a
//! replayed refresh token, a logout, RFC 7009 revocation) ends every token of the family at
//! once: refresh tokens are refused and access tokens stop working at the userinfo endpoint.

use async_trait::async_trait;
use thiserror::Error;

use crate::audit::NewAuditEvent;
use crate::backchannel::{LogoutAttempt, LogoutDelivery};
use crate::ids::SessionId;
use crate::store::StoreResult;
use crate::user::has_forbidden_formatting;
use crate::{Timestamp, UserId, secret};

/// The OpenID Connect scopes an application may be allowed and may ask for.
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "groups", "offline_access"];

/// Longest redirect URI accepted, in bytes.
pub const MAX_URI_LEN: usize = 2000;

/// At most this many redirect URIs (and as many post-logout ones) per application.
pub const MAX_URIS: usize = 20;

/// How long an authorization code may be redeemed (RFC 9700 §4.1: at most 10 minutes).
pub const CODE_LIFETIME_MS: i64 = 60_000;

/// Whether the application can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// A server-side application: authenticates at the token endpoint with its secret.
    Confidential,
    /// A browser or native application: no secret; PKCE alone binds the code.
    Public,
}

impl ClientType {
    /// The stable name (`confidential`, `public`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Confidential => "confidential",
            ClientType::Public => "public",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confidential" => Some(ClientType::Confidential),
            "public" => Some(ClientType::Public),
            _ => None,
        }
    }
}

/// An application as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Public identifier (`client_id`, `kfa_…`).
    pub client_id: String,
    /// Name shown to administrators and users.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Keyed digest of the secret (confidential applications only); never shown.
    pub secret_hash: Option<String>,
    /// Where codes may be sent, compared as exact strings.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return, compared as exact strings.
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes it may ask for (a subset of [`SCOPES`], always with `openid`).
    pub scopes: Vec<String>,
    /// Lifetime of its access and ID tokens, in seconds.
    pub access_token_lifetime_s: i64,
    /// Lifetime of its refresh tokens, in seconds.
    pub refresh_token_lifetime_s: i64,
    /// The authentication strength a session's key must meet, by id.
    pub authentication_strength: Option<String>,
    /// Where OpenID back-channel logout tokens are posted.
    pub backchannel_logout_uri: Option<String>,
    /// The application's public keys (a JWK Set, as JSON) when it authenticates with
    /// `private_key_jwt` (RFC 7523) instead of a secret.
    pub jwks: Option<String>,
    /// A third-party application: its users are asked for their consent (the scopes it may
    /// learn) before it gets a code. First-party ones (the default) are not.
    pub third_party: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

/// An application's settings that break a rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApplicationError {
    /// The name is empty, too long or holds control characters.
    #[error("application name must be 1 to 128 printable characters")]
    Name,
    /// A redirect URI is not absolute https (or http on a loopback host), or has a fragment.
    #[error("{0}")]
    Uri(String),
    /// No redirect URI.
    #[error("an application needs at least one redirect URI")]
    NoRedirectUri,
    /// Too many URIs.
    #[error("at most {MAX_URIS} URIs of each kind")]
    TooManyUris,
    /// A scope that is not one of [`SCOPES`].
    #[error("unknown scope {0:?} (valid scopes: openid, profile, email, groups, offline_access)")]
    Scope(String),
    /// A lifetime outside its range.
    #[error("{0}")]
    Lifetime(&'static str),
}

/// Validates an application name.
pub fn validate_name(name: &str) -> Result<String, ApplicationError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 || has_forbidden_formatting(name) {
        return Err(ApplicationError::Name);
    }
    Ok(name.to_owned())
}

/// Whether `host` (as written in a URI's authority, port removed) is a loopback host.
fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    let Some(rest) = host.strip_prefix("127.") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Validates a redirect URI (OIDC Core §3.1.2.1, RFC 9700 §2.1): an absolute `https` URI, or
/// `http` on a loopback host (RFC 8252 §7.3); no fragment, no user information, no spaces or
/// control characters. Compared later as an exact string, so it is kept exactly as given.
pub fn validate_redirect_uri(uri: &str) -> Result<String, ApplicationError> {
    let bad = |why: &str| ApplicationError::Uri(format!("redirect URI {:?}: {why}", truncate(uri)));
    if uri.is_empty() || uri.len() > MAX_URI_LEN {
        return Err(bad("must be 1 to 2000 characters"));
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("must be ASCII without spaces or control characters"));
    }
    if uri.contains('#') {
        return Err(bad("must not have a fragment"));
    }
    let (https, rest) = if let Some(rest) = uri.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = uri.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad("must be an absolute https URI (http only on a loopback host)"));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("must not carry user information"));
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if !h.is_empty() && !port.contains(']') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
                return Err(bad("has a malformed port"));
            }
            h
        }
        _ => authority,
    };
    if host.is_empty() || host.contains('\\') {
        return Err(bad("must name a host"));
    }
    if !https && !is_loopback(&host.to_ascii_lowercase()) {
        return Err(bad(
            "http is allowed only on a loopback host (127.0.0.1, [::1], localhost)",
        ));
    }
    Ok(uri.to_owned())
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Validates a list of URIs (each as [`validate_redirect_uri`]), dropping exact duplicates.
pub fn validate_uris(uris: &[String]) -> Result<Vec<String>, ApplicationError> {
    if uris.len() > MAX_URIS {
        return Err(ApplicationError::TooManyUris);
    }
    let mut out: Vec<String> = Vec::new();
    for u in uris {
        let u = validate_redirect_uri(u)?;
        if !out.contains(&u) {
            out.push(u);
        }
    }
    Ok(out)
}

/// Validates allowed scopes: each one of [`SCOPES`]; `openid` is always included. Sorted as
/// in [`SCOPES`].
pub fn validate_scopes(scopes: &[String]) -> Result<Vec<String>, ApplicationError> {
    if let Some(s) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(ApplicationError::Scope(truncate(s)));
    }
    Ok(SCOPES
        .iter()
        .filter(|s| **s == "openid" || scopes.iter().any(|x| x == *s))
        .map(|s| (*s).to_owned())
        .collect())
}

/// A fresh application client id (`kfa_` and 16 random bytes).
pub fn new_client_id(rng: &mut dyn rand_core::CryptoRngCore) -> String {
    format!("kfa_{}", secret::random_token(16, rng))
}

/// A fresh application secret (`kfas_` and 32 random bytes). Shown once.
pub fn new_client_secret(rng: &mut dyn rand_core::CryptoRngCore) -> String {
    format!("kfas_{}", secret::random_token(32, rng))
}

/// A fresh authorization code (32 random bytes). Given to the browser once; stored as a digest.
pub fn new_code(rng: &mut dyn rand_core::CryptoRngCore) -> String {
    secret::random_token(32, rng)
}

/// A fresh refresh token (`kfr_` and 32 random bytes). Stored as a digest.
pub fn new_refresh_token(rng: &mut dyn rand_core::CryptoRngCore) -> String {
    format!("kfr_{}", secret::random_token(32, rng))
}

/// Digest of an authorization code, as stored.
pub fn code_hash(code: &str) -> [u8; 32] {
    secret::digest("keyfleet-oidc-code-v1", &[code.as_bytes()])
}

/// Digest of a refresh token, as stored.
pub fn refresh_hash(token: &str) -> [u8; 32] {
    secret::digest("keyfleet-oidc-refresh-v1", &[token.as_bytes()])
}

/// One sign-in of a user to an application: the authorization code and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Identifier (the `sid`-like family id carried in the tokens).
    pub id: String,
    /// Digest of the authorization code.
    pub code_hash: [u8; 32],
    /// The application.
    pub client_id: String,
    /// The user.
    pub user_id: UserId,
    /// The keyfleet session it came from.
    pub session_id: SessionId,
    /// The redirect URI the code was sent to (the token request must repeat it).
    pub redirect_uri: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The application's nonce, if it sent one.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// When the user signed in with their key.
    pub auth_time: Timestamp,
    /// RFC 8176 methods, space-separated (`hwk pin`).
    pub amr: String,
    /// The authentication context class met, if any.
    pub acr: Option<String>,
    /// When the code was issued.
    pub created_at: Timestamp,
    /// When the code stops being redeemable.
    pub code_expires_at: Timestamp,
    /// When the code was redeemed, if it was.
    pub code_used_at: Option<Timestamp>,
    /// When the grant (every token of the family) was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// A refresh token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Digest of the token.
    pub token_hash: [u8; 32],
    /// The grant (token family) it belongs to.
    pub grant_id: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was used (rotated out); a second use is a replay.
    pub used_at: Option<Timestamp>,
}

/// Applications, grants and refresh tokens.
#[async_trait]
pub trait OidcStore: Send + Sync {
    /// Inserts an application. `Conflict("client_id")` on a duplicate id.
    async fn create_application(&self, app: &Application, audit: &NewAuditEvent) -> StoreResult<()>;
    /// An application by client id.
    async fn get_application(&self, client_id: &str) -> StoreResult<Option<Application>>;
    /// Every application, by name.
    async fn list_applications(&self) -> StoreResult<Vec<Application>>;
    /// Replaces an application's settings (not its id nor creation time). `NotFound` when
    /// unknown.
    async fn update_application(&self, app: &Application, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes an application with its grants and their tokens. `NotFound` when unknown.
    async fn delete_application(&self, client_id: &str, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Stores a grant with its code. `NotFound` when the application or user is gone.
    async fn create_grant(&self, grant: &Grant, audit: &NewAuditEvent) -> StoreResult<()>;
    /// A grant by the digest of its code.
    async fn find_grant_by_code(&self, code_hash: &[u8; 32]) -> StoreResult<Option<Grant>>;
    /// A grant by id.
    async fn get_grant(&self, id: &str) -> StoreResult<Option<Grant>>;
    /// Redeems a grant's code in one transaction: marks it used only if it is unused,
    /// unrevoked and unexpired at `now`, inserts `refresh` (if any), appends the audit event.
    /// `Conflict("code_used")` when it was already redeemed or revoked, `Conflict("code_expired")`
    /// when expired; nothing is written then.
    async fn redeem_code(
        &self,
        grant_id: &str,
        now: Timestamp,
        refresh: Option<&RefreshToken>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// A refresh token by digest, with its grant.
    async fn find_refresh_token(&self, token_hash: &[u8; 32]) -> StoreResult<Option<(RefreshToken, Grant)>>;
    /// Rotates a refresh token in one transaction: marks `old_hash` used only if it is unused
    /// and its grant unrevoked, inserts `new`, appends the audit event. `Conflict("refresh_used")`
    /// when it was already used or its grant revoked; nothing is written then.
    async fn rotate_refresh_token(
        &self,
        old_hash: &[u8; 32],
        now: Timestamp,
        new: &RefreshToken,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Revokes a grant (every token of its family) if it is not revoked yet; true when this
    /// call revoked it. The audit event is appended either way only when it revoked.
    async fn revoke_grant(&self, grant_id: &str, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<bool>;
    /// Revokes every unrevoked grant opened from the session `session`; returns how many.
    /// The audit event is appended only when one was revoked.
    async fn revoke_session_grants(
        &self,
        session: SessionId,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<u64>;
    /// Revokes every unrevoked grant of `user` (signed out everywhere, disabled, keys reset);
    /// returns how many. The audit event is appended only when one was revoked.
    async fn revoke_user_grants(&self, user: UserId, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<u64>;
    /// Revokes every unrevoked grant opened from a session of the key `credential_id` (a
    /// removed, lost or reassigned key); returns how many. The audit event is appended only
    /// when one was revoked.
    async fn revoke_credential_grants(
        &self,
        credential_id: &[u8],
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<u64>;
    // The three revoke-many calls above also queue a back-channel logout (in the same
    // transaction) for each redeemed grant they revoke whose application has a
    // `backchannel_logout_uri` (see `crate::backchannel`).
    /// At most `limit` queued back-channel logouts due at `now`, oldest due first.
    async fn due_logouts(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<LogoutDelivery>>;
    /// Records an attempt at a queued logout (and appends `audit`, if any, in the same
    /// transaction). `NotFound` when it is not pending any more.
    async fn record_logout_attempt(
        &self,
        grant_id: &str,
        now: Timestamp,
        attempt: &LogoutAttempt,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<()>;
    /// Deletes the queued logouts delivered or given up on before `before`; returns how many.
    async fn purge_logouts(&self, before: Timestamp) -> StoreResult<u64>;
    /// The digests of an application's earlier secrets still working at `now` (a rotation's
    /// overlap); the current one is the application's `secret_hash`.
    async fn previous_secrets(&self, client_id: &str, now: Timestamp) -> StoreResult<Vec<String>>;
    /// Replaces a confidential application's secret in one transaction: the current digest
    /// is kept working until `previous_expires_at`, earlier ones expired at `now` are dropped,
    /// `new_hash` becomes the current one (`updated_at` = `now`), the audit event is appended. `NotFound` when
    /// unknown; `Conflict("public_client")` for a public application.
    async fn rotate_application_secret(
        &self,
        client_id: &str,
        new_hash: &str,
        now: Timestamp,
        previous_expires_at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Spends a client assertion's `jti` (RFC 7523 §3 item 7): records it until `expires_at`
    /// unless the application already spent it, dropping its spent ones expired at `now`.
    /// False when it was spent before (a replay).
    async fn spend_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragment() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com:8443/cb?x=1",
            "http://127.0.0.1:5555/callback",
            "http://localhost/cb",
            "http://[::1]:80/cb",
        ] {
            assert_eq!(validate_redirect_uri(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "",
            "/relative",
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "https://user@app.example.com/cb",
            "https://app.example.com/c b",
            "javascript:alert(1)",
            "https:///cb",
            "https://app.example.com:x/cb",
            "http://127.0.0.1.evil.com/cb",
            "http://localhost.evil.com/cb",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn scopes_always_hold_openid() {
        assert_eq!(validate_scopes(&["email".into()]).unwrap(), vec!["openid", "email"]);
        assert!(validate_scopes(&["admin".into()]).is_err());
    }
}
