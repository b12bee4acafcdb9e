//! API clients: creation, management, authentication with a secret, rotation, revocation,
//! and the access tokens they get (OAuth 2.0 client credentials, RFC 6749 §4.4).
//!
//! Client secrets are 256-bit random values, so a slow password hash buys nothing: they are
//! stored as HMAC-SHA-256 digests under a key derived from the master key
//! ([`digest_secret`]) and compared in constant time, so a token request costs
//! microseconds and never stalls other requests. Secrets stored by earlier versions as
//! Argon2id hashes still work and are replaced by a digest on their next successful use.
//! Managing clients needs `ManageClients` (administrators and the CLI).

pub mod tokens;

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use hmac::{Hmac, Mac};
use keyfleet_domain::audit::{Action, Actor, Outcome, Target};
use keyfleet_domain::client::{self, ApiClient, ClientSecret, MAX_SECRETS, Scope};
use keyfleet_domain::ids::SecretId;
use rand_core::OsRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::access::{Permission, Principal, authorize};
use crate::audit::{ClientCreated, ClientRef, Reason, SecretRef, TokenIssued};
use crate::limits;
use crate::{CoreError, Ctx};
use tokens::AccessClaims;

/// Prefix of a stored digest of the current scheme.
const DIGEST_PREFIX: &str = "hmac-sha256:";

/// The stored form of a secret: `hmac-sha256:` and the hex HMAC-SHA-256 of the secret under
/// `key`.
pub fn digest_secret(key: &[u8; 32], secret: &str) -> String {
    format!("{DIGEST_PREFIX}{}", hex::encode(mac(key, secret)))
}

fn mac(key: &[u8; 32], secret: &str) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(secret.as_bytes());
    m.finalize().into_bytes().into()
}

/// How a stored secret matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    No,
    Digest,
    /// An Argon2id hash from an earlier version: replace it with a digest.
    Legacy,
}

fn check_secret(key: &[u8; 32], secret: &str, stored: &str) -> Match {
    if let Some(hex_digest) = stored.strip_prefix(DIGEST_PREFIX) {
        let Ok(want) = hex::decode(hex_digest) else {
            return Match::No;
        };
        return if bool::from(mac(key, secret).as_slice().ct_eq(&want)) {
            Match::Digest
        } else {
            Match::No
        };
    }
    let ok = PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok());
    if ok { Match::Legacy } else { Match::No }
}

/// A newly created client and its first secret (shown once).
pub struct CreatedClient {
    /// The client.
    pub client: ApiClient,
    /// The secret in clear.
    pub secret: String,
}

/// Creates a client with one secret (`ManageClients`).
pub async fn create(
    ctx: &Ctx<'_>,
    principal: &Principal,
    name: &str,
    scopes: &[String],
) -> Result<CreatedClient, CoreError> {
    authorize(ctx, principal, Permission::ManageClients).await?;
    let name = client::validate_name(name).map_err(|e| CoreError::invalid("invalid_field", e.to_string()))?;
    let scopes = client::parse_scopes(scopes.iter().map(String::as_str)).map_err(|e| {
        let valid: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        CoreError::invalid("invalid_scope", format!("{e} (valid scopes: {})", valid.join(", ")))
    })?;
    if scopes.is_empty() {
        return Err(CoreError::invalid(
            "invalid_scope",
            client::ClientError::NoScope.to_string(),
        ));
    }
    let client = ApiClient {
        client_id: client::new_client_id(&mut OsRng),
        name,
        scopes,
        enabled: true,
        created_at: ctx.now,
    };
    let secret = client::new_client_secret(&mut OsRng);
    let record = ClientSecret {
        id: SecretId::new_random(&mut OsRng),
        client_id: client.client_id.clone(),
        secret_hash: digest_secret(&ctx.config.clients.secret_digest_key, &secret),
        created_at: ctx.now,
        expires_at: None,
    };
    let detail = ClientCreated {
        name: &client.name,
        scopes: client.scopes.iter().map(|s| s.as_str()).collect(),
        secret_id: record.id.to_string(),
    };
    let audit = ctx.audit_with(
        Action::ClientCreate,
        Some(Target::Client(client.client_id.clone())),
        &detail,
    );
    ctx.stores.clients.create_client(&client, &record, &audit).await?;
    Ok(CreatedClient { client, secret })
}

/// Every client with its secrets (hashes are never shown), by name (`ManageClients`).
pub async fn list(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<(ApiClient, Vec<ClientSecret>)>, CoreError> {
    authorize(ctx, principal, Permission::ManageClients).await?;
    let mut out = Vec::new();
    for c in ctx.stores.clients.list_clients().await? {
        let secrets = ctx.stores.clients.list_secrets(&c.client_id).await?;
        out.push((c, secrets));
    }
    Ok(out)
}

/// One client with its secrets (`ManageClients`).
pub async fn get(
    ctx: &Ctx<'_>,
    principal: &Principal,
    client_id: &str,
) -> Result<(ApiClient, Vec<ClientSecret>), CoreError> {
    authorize(ctx, principal, Permission::ManageClients).await?;
    let client = ctx
        .stores
        .clients
        .get_client(client_id)
        .await?
        .ok_or(CoreError::NotFound)?;
    let secrets = ctx.stores.clients.list_secrets(client_id).await?;
    Ok((client, secrets))
}

/// Enables or disables a client (`ManageClients`); a disabled client's tokens stop working.
pub async fn set_enabled(
    ctx: &Ctx<'_>,
    principal: &Principal,
    client_id: &str,
    enabled: bool,
) -> Result<ApiClient, CoreError> {
    let (mut client, _) = get(ctx, principal, client_id).await?;
    let action = if enabled {
        Action::ClientEnable
    } else {
        Action::ClientDisable
    };
    let audit = ctx.audit_with(
        action,
        Some(Target::Client(client_id.to_owned())),
        &ClientRef { name: &client.name },
    );
    ctx.stores
        .clients
        .set_client_enabled(client_id, enabled, &audit)
        .await?;
    client.enabled = enabled;
    Ok(client)
}

/// Deletes a client and its secrets (`ManageClients`).
pub async fn delete(ctx: &Ctx<'_>, principal: &Principal, client_id: &str) -> Result<(), CoreError> {
    let (client, _) = get(ctx, principal, client_id).await?;
    let audit = ctx.audit_with(
        Action::ClientDelete,
        Some(Target::Client(client_id.to_owned())),
        &ClientRef { name: &client.name },
    );
    ctx.stores.clients.delete_client(client_id, &audit).await?;
    Ok(())
}

/// Checks a client id and secret; returns the client when one of its unexpired secrets
/// matches and it is enabled. A legacy Argon2id hash that matched is replaced by a digest.
pub async fn authenticate(ctx: &Ctx<'_>, client_id: &str, secret: &str) -> Result<Option<ApiClient>, CoreError> {
    let key = &ctx.config.clients.secret_digest_key;
    // The client and its secrets in one read.
    let Some((client, secrets)) = ctx.stores.clients.client_with_secrets(client_id).await? else {
        // The same work as a real check, so timing does not tell whether the id exists.
        let _ = check_secret(key, secret, &digest_secret(key, "keyfleet-dummy-secret"));
        return Ok(None);
    };
    let mut matched = None;
    for s in secrets.iter().filter(|s| s.expires_at.is_none_or(|e| ctx.now < e)) {
        // Check every live secret: the time taken does not tell which one matched.
        let m = check_secret(key, secret, &s.secret_hash);
        if m != Match::No {
            matched = Some((s, m));
        }
    }
    let Some((stored, how)) = matched else {
        return Ok(None);
    };
    if !client.enabled {
        return Ok(None);
    }
    if how == Match::Legacy {
        let audit = ctx.audit_with(
            Action::ClientSecretRehash,
            Some(Target::Client(client_id.to_owned())),
            &SecretRef {
                secret_id: stored.id.to_string(),
            },
        );
        let new = digest_secret(key, secret);
        match ctx
            .stores
            .clients
            .upgrade_secret_hash(client_id, stored.id, &stored.secret_hash, &new, &audit)
            .await
        {
            // A concurrent rotation or upgrade won; this request's check stands.
            Ok(()) | Err(keyfleet_domain::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(client))
}

/// A new secret and when the earlier ones stop working.
pub struct RotatedSecret {
    /// The new secret's id.
    pub id: SecretId,
    /// The secret in clear (shown once).
    pub secret: String,
    /// When the previous secrets expire.
    pub previous_expire_at: keyfleet_domain::Timestamp,
}

/// Adds a second secret and schedules the earlier one to stop after the configured phase-out
/// (`ManageClients`). Expired secrets are removed first; a client never holds more than
/// [`MAX_SECRETS`].
pub async fn rotate(ctx: &Ctx<'_>, principal: &Principal, client_id: &str) -> Result<RotatedSecret, CoreError> {
    let (_, existing) = get(ctx, principal, client_id).await?;
    let phase_out: Duration = ctx.config.clients.secret_phase_out;
    let target = || Some(Target::Client(client_id.to_owned()));
    for s in existing.iter().filter(|s| s.expires_at.is_some_and(|e| e <= ctx.now)) {
        let detail = SecretRef {
            secret_id: s.id.to_string(),
        };
        let audit = ctx.audit_with(Action::ClientSecretPurge, target(), &detail);
        ctx.stores.clients.delete_secret(client_id, s.id, &audit).await?;
    }
    let secret = client::new_client_secret(&mut OsRng);
    let record = ClientSecret {
        id: SecretId::new_random(&mut OsRng),
        client_id: client_id.to_owned(),
        secret_hash: digest_secret(&ctx.config.clients.secret_digest_key, &secret),
        created_at: ctx.now,
        expires_at: None,
    };
    let detail = SecretRef {
        secret_id: record.id.to_string(),
    };
    let audit = ctx.audit_with(Action::ClientSecretAdd, target(), &detail);
    ctx.stores.clients.add_secret(&record, MAX_SECRETS, &audit).await?;
    let previous_expire_at = ctx.now.plus(phase_out);
    for s in existing.iter().filter(|s| s.expires_at.is_none()) {
        let detail = SecretRef {
            secret_id: s.id.to_string(),
        };
        let audit = ctx.audit_with(Action::ClientSecretPhaseOut, target(), &detail);
        ctx.stores
            .clients
            .set_secret_expiry(client_id, s.id, Some(previous_expire_at), &audit)
            .await?;
    }
    Ok(RotatedSecret {
        id: record.id,
        secret,
        previous_expire_at,
    })
}

/// Revokes one secret at once (`ManageClients`).
pub async fn revoke_secret(
    ctx: &Ctx<'_>,
    principal: &Principal,
    client_id: &str,
    id: SecretId,
) -> Result<(), CoreError> {
    authorize(ctx, principal, Permission::ManageClients).await?;
    let detail = SecretRef {
        secret_id: id.to_string(),
    };
    let audit = ctx.audit_with(
        Action::ClientSecretRevoke,
        Some(Target::Client(client_id.to_owned())),
        &detail,
    );
    ctx.stores.clients.delete_secret(client_id, id, &audit).await?;
    Ok(())
}

/// The scopes a token request may have: all of the client's when none are asked for, else
/// the asked ones, each of which the client must hold.
pub fn granted_scopes(client: &ApiClient, requested: Option<&str>) -> Result<Vec<Scope>, CoreError> {
    let Some(req) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(client.scopes.clone());
    };
    let asked = client::parse_scopes(req.split(' ').filter(|s| !s.is_empty()))
        .map_err(|e| CoreError::invalid("invalid_scope", e.to_string()))?;
    if let Some(s) = asked.iter().find(|s| !client.scopes.contains(s)) {
        return Err(CoreError::invalid(
            "invalid_scope",
            format!("the client may not request {s}"),
        ));
    }
    Ok(asked)
}

/// An access token issued to a client.
pub struct IssuedToken {
    /// The compact JWS.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The scopes granted, space-separated.
    pub scope: String,
}

/// Why a token request was refused (RFC 6749 §5.2).
#[derive(Debug)]
pub enum TokenRefusal {
    /// Unknown client, wrong secret, or a disabled client (401 `invalid_client`).
    InvalidClient,
    /// A scope the client does not hold (400 `invalid_scope`).
    InvalidScope(String),
    /// Too many failed authentications from this address (429), retry after seconds.
    SlowDown(u64),
    /// Anything else.
    Core(CoreError),
}

impl From<CoreError> for TokenRefusal {
    fn from(e: CoreError) -> Self {
        TokenRefusal::Core(e)
    }
}

impl From<keyfleet_domain::StoreError> for TokenRefusal {
    fn from(e: keyfleet_domain::StoreError) -> Self {
        TokenRefusal::Core(e.into())
    }
}

/// The client-credentials grant from `client_addr`: admits the attempt under the address's
/// failure limit (nothing written unless it fails), authenticates the client, and issues a token for the granted
/// scopes. Every outcome is audited (never the secret).
pub async fn issue_token(
    ctx: &Ctx<'_>,
    client_id: &str,
    secret: &str,
    scope: Option<&str>,
    client_addr: &str,
) -> Result<IssuedToken, TokenRefusal> {
    let target = Some(Target::Client(client_id.to_owned()));
    let attempt = match limits::admit_token(ctx, client_addr).await {
        Ok(a) => a,
        Err(CoreError::Limited { retry_after_s, .. }) => {
            let event = ctx
                .audit_with(Action::TokenIssue, target, &Reason { reason: "rate_limited" })
                .with_outcome(Outcome::Denied);
            ctx.stores.audit.append(&event).await?;
            return Err(TokenRefusal::SlowDown(retry_after_s));
        }
        Err(e) => return Err(e.into()),
    };
    let client = match authenticate(ctx, client_id, secret).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            attempt.failed(ctx).await?;
            let event = ctx
                .audit_with(
                    Action::TokenIssue,
                    target,
                    &Reason {
                        reason: "invalid_client",
                    },
                )
                .with_outcome(Outcome::Failure);
            ctx.stores.audit.append(&event).await?;
            return Err(TokenRefusal::InvalidClient);
        }
        Err(e) => {
            attempt.succeeded();
            return Err(e.into());
        }
    };
    attempt.succeeded();
    let scopes = granted_scopes(&client, scope).map_err(|e| TokenRefusal::InvalidScope(e.to_string()))?;
    let scope = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
    let config = &ctx.config.clients;
    let now_s = ctx.now.as_millis() / 1000;
    let lifetime = config.access_token_lifetime.as_secs();
    let claims = AccessClaims {
        iss: config.issuer.clone(),
        sub: client.client_id.clone(),
        aud: config.audience.clone(),
        exp: now_s + i64::try_from(lifetime).unwrap_or(600),
        iat: now_s,
        nbf: now_s,
        jti: keyfleet_domain::secret::random_token(16, &mut OsRng),
        scope: scope.clone(),
        client_id: client.client_id.clone(),
    };
    let access_token = ctx.core.tokens.sign(&claims);
    let event = ctx.as_actor(Actor::Client(client.client_id.clone())).audit_with(
        Action::TokenIssue,
        Some(Target::Client(client.client_id.clone())),
        &TokenIssued {
            jti: &claims.jti,
            scope: &scope,
        },
    );
    ctx.stores.audit.append(&event).await?;
    Ok(IssuedToken {
        access_token,
        expires_in: lifetime,
        scope,
    })
}

/// The client an access token names, if the token verifies and the client is enabled, with
/// the token's scopes that the client still holds.
pub async fn from_token(ctx: &Ctx<'_>, token: &str) -> Result<Option<(ApiClient, Vec<Scope>)>, CoreError> {
    let config = &ctx.config.clients;
    let Ok(claims) = ctx
        .core
        .tokens
        .verify(token, &config.issuer, &config.audience, ctx.now.as_millis() / 1000)
    else {
        return Ok(None);
    };
    // A disabled or deleted client's tokens stop working at once.
    let Some(client) = ctx
        .stores
        .clients
        .get_client(&claims.client_id)
        .await?
        .filter(|c| c.enabled)
    else {
        return Ok(None);
    };
    let scopes = claims
        .scope
        .split(' ')
        .filter_map(Scope::parse)
        .filter(|s| client.scopes.contains(s))
        .collect();
    Ok(Some((client, scopes)))
}

#[cfg(test)]
mod tests;
