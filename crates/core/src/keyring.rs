//! Master-key rotation without downtime, the re-encryption job, and secret settings
//! (docs/secrets.md).
//!
//! [`rotate`] stores a new data key (wrapped under the configured key) as `current`; every
//! process reloads the ring from the database every [`RING_RELOAD`] (the jobs runner), so
//! all of them encrypt under it within that time, while every earlier key not retired still
//! decrypts. The scheduled [`reencrypt`] rewrites every column of
//! [`keyfleet_domain::keyring::ENCRYPTED_COLUMNS`] under the current key, a batch at a
//! time; once a whole pass that started [`RETIRE_GRACE`] after the rotation finds nothing
//! left under an earlier key, those keys are retired (their wrapped bytes erased).

use std::time::Duration;

use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::keyring::{ENCRYPTED_COLUMNS, MasterKeyState, SECRET_SETTING_NAMES, SECRET_SETTINGS};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::access::{Permission, Principal, authorize};
use crate::audit::Detail;
use crate::secrets::MasterKey;
use crate::{CoreError, Ctx};

/// How often each process reloads the ring (the server's ring task).
pub const RING_RELOAD: Duration = Duration::from_secs(5);

/// How long after a rotation a re-encryption pass must start for its result to retire the
/// earlier keys: long enough for every process to have reloaded the ring (so none still
/// encrypts under an earlier key).
pub const RETIRE_GRACE: Duration = Duration::from_secs(120);

/// Ciphertexts read per store call.
pub const BATCH: u32 = 200;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyDetail {
    key_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces: Option<u32>,
}
impl Detail for KeyDetail {}

/// Makes a new data key current (`ManageSecrets`: administrators and the CLI); returns its
/// id. Audited as `master_key.rotate`. This process uses it at once; others within
/// [`RING_RELOAD`].
pub async fn rotate(ctx: &Ctx<'_>, principal: &Principal, master: &MasterKey) -> Result<u32, CoreError> {
    authorize(ctx, principal, Permission::ManageSecrets).await?;
    master.reload(ctx.stores.keyring.as_ref()).await.map_err(ring_error)?;
    let keys = ctx.stores.keyring.master_keys().await?;
    let id = keys.iter().map(|k| k.id).max().unwrap_or(0) + 1;
    let replaces = keys.iter().find(|k| k.state == MasterKeyState::Current).map(|k| k.id);
    let wrapped = master.new_wrapped_key(id);
    let event = ctx.audit_with(
        Action::MasterKeyRotate,
        Some(Target::MasterKey(id)),
        &KeyDetail {
            key_id: id,
            replaces: Some(replaces.unwrap_or(0)),
        },
    );
    match ctx.stores.keyring.add_master_key(id, &wrapped, ctx.now, &event).await {
        Ok(()) => {}
        Err(keyfleet_domain::StoreError::Conflict(_)) => {
            return Err(CoreError::conflict(
                "rotation_in_progress",
                "another rotation of the master key happened at the same time; try again",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    master.reload(ctx.stores.keyring.as_ref()).await.map_err(ring_error)?;
    Ok(id)
}

fn ring_error(e: crate::secrets::SecretError) -> CoreError {
    CoreError::conflict("master_key_ring", e.to_string())
}

/// One pass of re-encryption: every encrypted column rewritten under the current key; then,
/// when nothing is left under an earlier key and the pass began [`RETIRE_GRACE`] after the
/// current key was made, the earlier keys are retired (`master_key.retire` each). Returns
/// named counts. A value that does not decrypt is counted (`undecryptable`) and left alone.
pub async fn reencrypt(ctx: &Ctx<'_>, master: &MasterKey) -> Result<Vec<(&'static str, u64)>, CoreError> {
    master.reload(ctx.stores.keyring.as_ref()).await.map_err(ring_error)?;
    let keys = ctx.stores.keyring.master_keys().await?;
    let current = keys.iter().find(|k| k.state == MasterKeyState::Current);
    let previous: Vec<u32> = keys
        .iter()
        .filter(|k| k.state == MasterKeyState::Previous)
        .map(|k| k.id)
        .collect();
    let (mut rewritten, mut left, mut undecryptable) = (0u64, 0u64, 0u64);
    for column in ENCRYPTED_COLUMNS {
        let mut after: Option<String> = None;
        loop {
            let page = ctx.stores.keyring.ciphertexts(column, after.as_deref(), BATCH).await?;
            let full = page.len() == BATCH as usize;
            for (id, old) in &page {
                if master.is_current(old) {
                    continue;
                }
                let aad = column.aad(id);
                match master.decrypt(old, &aad) {
                    Ok(plain) => {
                        let new = master.encrypt(&plain, &aad);
                        if ctx.stores.keyring.replace_ciphertext(column, id, old, &new).await? {
                            rewritten += 1;
                        } else {
                            // Changed meanwhile (by whoever wrote it): read again next pass.
                            left += 1;
                        }
                    }
                    Err(e) => {
                        undecryptable += 1;
                        tracing::warn!(table = column.table, row = %id, error = %e, "a stored secret does not decrypt; left as it is");
                    }
                }
            }
            after = page.last().map(|(id, _)| id.clone());
            if !full {
                break;
            }
        }
    }
    let mut retired = 0u64;
    let settled = current.is_some_and(|c| ctx.now.as_millis() >= c.created_at.plus(RETIRE_GRACE).as_millis());
    if settled && left == 0 && undecryptable == 0 {
        for id in previous {
            let event = ctx.audit_with(
                Action::MasterKeyRetire,
                Some(Target::MasterKey(id)),
                &KeyDetail {
                    key_id: id,
                    replaces: None,
                },
            );
            match ctx.stores.keyring.retire_master_key(id, ctx.now, &event).await {
                Ok(()) => retired += 1,
                Err(keyfleet_domain::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if retired > 0 {
            master.reload(ctx.stores.keyring.as_ref()).await.map_err(ring_error)?;
        }
    }
    let mut counts = Vec::new();
    for (name, n) in [
        ("secretsReencrypted", rewritten),
        ("secretsChangedMeanwhile", left),
        ("secretsUndecryptable", undecryptable),
        ("masterKeysRetired", retired),
    ] {
        if n > 0 {
            counts.push((name, n));
        }
    }
    Ok(counts)
}

/// The state of the ring, for `keyfleet admin master-keys` and the status page.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// Its id.
    pub id: u32,
    /// `current`, `previous` or `retired`.
    pub state: &'static str,
    /// When it was made (ms).
    pub created_at: i64,
    /// When it was retired (ms).
    pub retired_at: Option<i64>,
}

/// The data keys, by id (`ManageSecrets`).
pub async fn keys(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<KeyInfo>, CoreError> {
    authorize(ctx, principal, Permission::ManageSecrets).await?;
    Ok(ctx
        .stores
        .keyring
        .master_keys()
        .await?
        .into_iter()
        .map(|k| KeyInfo {
            id: k.id,
            state: k.state.as_str(),
            created_at: k.created_at.as_millis(),
            retired_at: k.retired_at.map(Timestamp::as_millis),
        })
        .collect())
}

#[derive(Serialize)]
struct SecretDetail<'a> {
    name: &'a str,
    set: bool,
}
impl Detail for SecretDetail<'_> {}

/// Sets (or with `None` removes) the secret setting `name` (one of
/// [`SECRET_SETTING_NAMES`]), sealed under the master key (`ManageSecrets`). Audited as
/// `secret_setting.set`, without the value.
pub async fn set_secret(
    ctx: &Ctx<'_>,
    principal: &Principal,
    master: &MasterKey,
    name: &str,
    value: Option<&str>,
) -> Result<(), CoreError> {
    authorize(ctx, principal, Permission::ManageSecrets).await?;
    if !SECRET_SETTING_NAMES.contains(&name) {
        return Err(CoreError::invalid(
            "unknown_secret",
            format!("name must be one of {}", SECRET_SETTING_NAMES.join(", ")),
        ));
    }
    if value.is_some_and(|v| v.is_empty() || v.len() > 4096 || v.chars().any(char::is_control)) {
        return Err(CoreError::invalid(
            "invalid_secret",
            "value must be 1 to 4096 characters without control characters",
        ));
    }
    let sealed = value.map(|v| master.encrypt(v.as_bytes(), &SECRET_SETTINGS.aad(name)));
    let event = ctx.audit_with(
        Action::SecretSettingSet,
        Some(Target::SecretSetting(name.to_owned())),
        &SecretDetail {
            name,
            set: value.is_some(),
        },
    );
    ctx.stores
        .keyring
        .set_secret_setting(name, sealed.as_deref(), ctx.now, &event)
        .await?;
    Ok(())
}

/// The secret setting `name`, decrypted (`None` when not set). For the server's own use
/// (the SMTP password, the factory token): never shown.
pub async fn secret(ctx: &Ctx<'_>, master: &MasterKey, name: &str) -> Result<Option<Zeroizing<String>>, CoreError> {
    let Some(sealed) = ctx.stores.keyring.secret_setting(name).await? else {
        return Ok(None);
    };
    let aad = SECRET_SETTINGS.aad(name);
    let plain = match master.decrypt(&sealed, &aad) {
        // Sealed under a data key made since this process last loaded the ring.
        Err(crate::secrets::SecretError::UnknownKey { .. }) => {
            master.reload(ctx.stores.keyring.as_ref()).await.map_err(ring_error)?;
            master.decrypt(&sealed, &aad)
        }
        other => other,
    }
    .map_err(|e| CoreError::conflict("secret_undecryptable", format!("secret setting {name}: {e}")))?;
    let text = String::from_utf8(plain.to_vec())
        .map_err(|_| CoreError::conflict("secret_undecryptable", format!("secret setting {name} is not text")))?;
    Ok(Some(Zeroizing::new(text)))
}

/// Whether the outcome of a pass is worth an audited job run (something happened).
pub fn did_something(counts: &[(&'static str, u64)]) -> bool {
    counts.iter().any(|(_, n)| *n > 0)
}
