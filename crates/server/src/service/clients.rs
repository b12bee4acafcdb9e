//! API clients: creation, authentication with a secret, rotation and revocation.
//!
//! Secrets are hashed with Argon2id (RFC 9106; OWASP's 19 MiB, 2 passes, 1 lane), so a copy
//! of the database does not give a usable secret even for clients that chose weak handling.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use keyfleet_domain::client::{self, ApiClient, ClientSecret, MAX_SECRETS, Scope};
use keyfleet_domain::ids::SecretId;
use rand_core::OsRng;

use super::Ctx;
use crate::error::ServiceError;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a secret into a PHC string.
pub fn hash_secret(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(secret.as_bytes(), &salt)
        .expect("Argon2 hashing with valid parameters")
        .to_string()
}

fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(secret.as_bytes(), &h).is_ok())
}

/// A newly created client and its first secret (shown once).
pub struct CreatedClient {
    /// The client.
    pub client: ApiClient,
    /// The secret in clear.
    pub secret: String,
}

/// Creates a client with one secret.
pub async fn create(ctx: &Ctx<'_>, name: &str, scopes: &[String]) -> Result<CreatedClient, ServiceError> {
    let name = client::validate_name(name).map_err(|e| ServiceError::invalid("invalid_field", e.to_string()))?;
    let scopes = client::parse_scopes(scopes.iter().map(String::as_str))
        .map_err(|e| ServiceError::invalid("invalid_scope", e.to_string()))?;
    if scopes.is_empty() {
        return Err(ServiceError::invalid(
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
        secret_hash: hash_secret(&secret),
        created_at: ctx.now,
        expires_at: None,
    };
    let scope_names: Vec<&str> = client.scopes.iter().map(|s| s.as_str()).collect();
    let audit = ctx
        .audit("client.create", Some(format!("client:{}", client.client_id)))
        .with_detail(
            serde_json::json!({ "name": client.name, "scopes": scope_names, "secretId": record.id.to_string() })
                .to_string(),
        );
    ctx.stores.clients.create_client(&client, &record, &audit).await?;
    Ok(CreatedClient { client, secret })
}

/// A dummy hash verified when the client id is unknown, so the answer takes as long either way.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_secret("keyfleet-dummy-secret"))
}

/// Checks a client id and secret; returns the client when one of its unexpired secrets
/// matches and it is enabled.
pub async fn authenticate(ctx: &Ctx<'_>, client_id: &str, secret: &str) -> Result<Option<ApiClient>, ServiceError> {
    let Some(client) = ctx.stores.clients.get_client(client_id).await? else {
        verify_secret(secret, dummy_hash());
        return Ok(None);
    };
    let secrets = ctx.stores.clients.list_secrets(client_id).await?;
    let live = secrets.iter().filter(|s| s.expires_at.is_none_or(|e| ctx.now < e));
    let mut ok = false;
    for s in live {
        // Verify every live secret: the time taken does not tell which one matched.
        ok |= verify_secret(secret, &s.secret_hash);
    }
    Ok((ok && client.enabled).then_some(client))
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

/// Adds a second secret and schedules the earlier one to stop after `phase_out`. Expired
/// secrets are removed first; a client never holds more than [`MAX_SECRETS`].
pub async fn rotate(ctx: &Ctx<'_>, client_id: &str, phase_out: Duration) -> Result<RotatedSecret, ServiceError> {
    ctx.stores
        .clients
        .get_client(client_id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let existing = ctx.stores.clients.list_secrets(client_id).await?;
    for s in existing.iter().filter(|s| s.expires_at.is_some_and(|e| e <= ctx.now)) {
        let audit = ctx
            .audit("client.secret.purge", Some(format!("client:{client_id}")))
            .with_detail(serde_json::json!({ "secretId": s.id.to_string() }).to_string());
        ctx.stores.clients.delete_secret(client_id, s.id, &audit).await?;
    }
    let secret = client::new_client_secret(&mut OsRng);
    let record = ClientSecret {
        id: SecretId::new_random(&mut OsRng),
        client_id: client_id.to_owned(),
        secret_hash: hash_secret(&secret),
        created_at: ctx.now,
        expires_at: None,
    };
    let audit = ctx
        .audit("client.secret.add", Some(format!("client:{client_id}")))
        .with_detail(serde_json::json!({ "secretId": record.id.to_string() }).to_string());
    ctx.stores.clients.add_secret(&record, MAX_SECRETS, &audit).await?;
    let previous_expire_at = ctx.now.plus(phase_out);
    for s in existing.iter().filter(|s| s.expires_at.is_none()) {
        let audit = ctx
            .audit("client.secret.phase_out", Some(format!("client:{client_id}")))
            .with_detail(serde_json::json!({ "secretId": s.id.to_string() }).to_string());
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

/// Revokes one secret at once.
pub async fn revoke_secret(ctx: &Ctx<'_>, client_id: &str, id: SecretId) -> Result<(), ServiceError> {
    let audit = ctx
        .audit("client.secret.revoke", Some(format!("client:{client_id}")))
        .with_detail(serde_json::json!({ "secretId": id.to_string() }).to_string());
    ctx.stores.clients.delete_secret(client_id, id, &audit).await?;
    Ok(())
}

/// The scopes a token request may have: all of the client's when none are asked for, else
/// the asked ones, each of which the client must hold.
pub fn granted_scopes(client: &ApiClient, requested: Option<&str>) -> Result<Vec<Scope>, ServiceError> {
    let Some(req) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(client.scopes.clone());
    };
    let asked = client::parse_scopes(req.split(' ').filter(|s| !s.is_empty()))
        .map_err(|e| ServiceError::invalid("invalid_scope", e.to_string()))?;
    if let Some(s) = asked.iter().find(|s| !client.scopes.contains(s)) {
        return Err(ServiceError::invalid(
            "invalid_scope",
            format!("the client may not request {s}"),
        ));
    }
    Ok(asked)
}
