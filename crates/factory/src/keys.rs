//! The factory's JOSE keys: transport keys (customers encrypt credential requests to them) and
//! signing keys (the factory signs its answers). The private halves are files in the factory
//! directory (`jose/PURPOSE-KID.key`, the 32-byte scalar, mode 0600, like the factory CAs'
//! keys); the database records the public JWKs, when each was made and when a newer one
//! replaced it.
//!
//! Rotation (`keyfleet factory rotate-keys`) makes a new key of each purpose; the old ones are
//! retired but kept for [`RETAIN_SECONDS`]: retired transport keys still decrypt requests
//! encrypted before the rotation, retired signing keys stay in the published set so answers
//! signed before it still verify. The transport JWKS publishes the current key only.

use std::path::{Path, PathBuf};

use keyfleet_provisioning::jwk::{EcPrivateKey, Jwks, PublicJwk};
use keyfleet_provisioning::{jwe, jws};
use keyfleet_softkey::keyfile::{StdFs, create_private_dir, write_atomically};
use rand_core::OsRng;

use crate::error::FactoryError;
use crate::store::{Audit, KeyRecord, Store};

/// How long a retired key is kept: 30 days.
pub const RETAIN_SECONDS: i64 = 30 * 24 * 3600;

/// Key purposes.
pub const TRANSPORT: &str = "transport";
/// Key purposes.
pub const SIGN: &str = "sign";

fn path(dir: &Path, purpose: &str, kid: &str) -> PathBuf {
    dir.join("jose").join(format!("{purpose}-{kid}.key"))
}

fn load(dir: &Path, purpose: &str, kid: &str) -> Result<EcPrivateKey, FactoryError> {
    let file = path(dir, purpose, kid);
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(&file).map_err(|e| FactoryError::Internal(format!("{}: {e}", file.display())))?,
    );
    EcPrivateKey::from_bytes(kid, &bytes)
        .map_err(|_| FactoryError::Internal(format!("{}: damaged key", file.display())))
}

/// Makes a new key of `purpose`, retiring the current one.
pub async fn create(
    store: &Store,
    dir: &Path,
    purpose: &'static str,
    now: i64,
    actor: &str,
) -> Result<String, FactoryError> {
    let key = EcPrivateKey::generate(&mut OsRng);
    let alg = if purpose == TRANSPORT { jwe::ALG } else { jws::ALG };
    let use_ = if purpose == TRANSPORT { "enc" } else { "sig" };
    let public = key.public_jwk(use_, alg);
    let jose = dir.join("jose");
    create_private_dir(&jose).map_err(|e| FactoryError::Internal(format!("{}: {e}", jose.display())))?;
    let file = path(dir, purpose, key.kid());
    write_atomically(&mut StdFs, &file, &key.to_bytes())
        .map_err(|e| FactoryError::Internal(format!("{}: {e}", file.display())))?;
    let record = KeyRecord {
        kid: key.kid().to_string(),
        purpose: purpose.to_string(),
        public_jwk: serde_json::to_string(&public).unwrap_or_default(),
        created_at: now,
        retired_at: None,
    };
    let audit = Audit {
        actor,
        action: "keys.created",
        shipment_id: None,
        detail: serde_json::json!({"purpose": purpose, "kid": key.kid()}),
    };
    store.insert_key(&record, audit).await?;
    Ok(key.kid().to_string())
}

/// Makes the first transport and signing keys if there are none.
pub async fn ensure(store: &Store, dir: &Path, now: i64) -> Result<(), FactoryError> {
    for purpose in [TRANSPORT, SIGN] {
        if !store.keys(purpose, now).await?.iter().any(|k| k.retired_at.is_none()) {
            create(store, dir, purpose, now, "system").await?;
        }
    }
    Ok(())
}

/// Rotates both: new current keys, the old ones retired (kept for [`RETAIN_SECONDS`]).
pub async fn rotate(store: &Store, dir: &Path, now: i64, actor: &str) -> Result<(String, String), FactoryError> {
    let transport = create(store, dir, TRANSPORT, now, actor).await?;
    let sign = create(store, dir, SIGN, now, actor).await?;
    Ok((transport, sign))
}

fn jwks(records: &[KeyRecord]) -> Jwks {
    Jwks {
        keys: records
            .iter()
            .filter_map(|r| serde_json::from_str::<PublicJwk>(&r.public_jwk).ok())
            .collect(),
    }
}

/// The published transport keys: the current one.
pub async fn transport_jwks(store: &Store, now: i64) -> Result<Jwks, FactoryError> {
    let current: Vec<KeyRecord> = store
        .keys(TRANSPORT, now)
        .await?
        .into_iter()
        .filter(|k| k.retired_at.is_none())
        .collect();
    Ok(jwks(&current))
}

/// The published signing keys: the current one and those retired less than
/// [`RETAIN_SECONDS`] ago.
pub async fn sign_jwks(store: &Store, now: i64) -> Result<Jwks, FactoryError> {
    Ok(jwks(&store.keys(SIGN, now - RETAIN_SECONDS).await?))
}

/// The transport private keys that still decrypt: current and recently retired.
pub async fn transport_keys(store: &Store, dir: &Path, now: i64) -> Result<Vec<EcPrivateKey>, FactoryError> {
    store
        .keys(TRANSPORT, now - RETAIN_SECONDS)
        .await?
        .iter()
        .map(|r| load(dir, TRANSPORT, &r.kid))
        .collect()
}

/// The current signing key.
pub async fn signing_key(store: &Store, dir: &Path, now: i64) -> Result<EcPrivateKey, FactoryError> {
    let current = store
        .keys(SIGN, now)
        .await?
        .into_iter()
        .find(|k| k.retired_at.is_none())
        .ok_or_else(|| FactoryError::Internal("no signing key".into()))?;
    load(dir, SIGN, &current.kid)
}
