//! Rotation of the keys that sign every token (API access tokens, ID tokens, application
//! access tokens, logout tokens), so that relying parties never meet a `kid` they could not
//! have fetched:
//!
//! 1. [`rotate`] (`keyfleet admin rotate-signing-key`) makes a new key that *waits*: it is in
//!    `/oauth2/jwks` from then on, and signs nothing for [`PUBLISH_DELAY`] (longer than a
//!    relying party should cache a JWK Set, and far longer than every process takes to
//!    [`crate::clients::tokens::TokenKeys::reload`] it).
//! 2. [`promote_and_purge`] (the hourly housekeeping job) makes a waiting key whose time has
//!    come the active one; the key it replaces is *retired*: it signs no more and stays
//!    published for [`RETAIN`], longer than any token it signed lives.
//! 3. The same job deletes retired keys older than that.

use std::time::Duration;

use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, Target};
use serde::Serialize;

use crate::access::{Permission, Principal, authorize};
use crate::audit::Detail;
use crate::clients::tokens::TokenKeys;
use crate::secrets::MasterKey;
use crate::{CoreError, Ctx};

/// How long a new key is published before it signs.
pub const PUBLISH_DELAY: Duration = Duration::from_secs(24 * 3600);

/// How long a retired key stays published: the longest token lifetime (an hour: access, ID
/// and client-credentials tokens) with a margin.
pub const RETAIN: Duration = Duration::from_secs(2 * 3600);

/// The job name the key changes are audited under.
const TARGET: &str = "signing-keys";

/// A key made by [`rotate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextKey {
    /// Its `kid`.
    pub kid: String,
    /// When it starts signing.
    pub activates_at: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyRef<'a> {
    kid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    activates_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
}
impl Detail for KeyRef<'_> {}

/// Starts a rotation (`ManageClients`: administrators and the CLI): a new key, published now,
/// signing from [`PUBLISH_DELAY`] on. When a rotation is already waiting, that key is the
/// answer and nothing is written. Audited as `signing_key.rotate`.
pub async fn rotate(ctx: &Ctx<'_>, principal: &Principal, master: &MasterKey) -> Result<NextKey, CoreError> {
    authorize(ctx, principal, Permission::ManageClients).await?;
    let keys = ctx.stores.signing_keys.list_signing_keys().await?;
    let waiting = keys.iter().find(|k| !k.active && k.retired_at.is_none());
    if let Some((k, at)) = waiting.and_then(|k| k.activates_at.map(|at| (k, at))) {
        return Ok(NextKey {
            kid: k.kid.clone(),
            activates_at: at,
        });
    }
    let activates_at = ctx.now.plus(PUBLISH_DELAY);
    let stored = TokenKeys::new_stored_key(master, ctx.now, Some(activates_at));
    ctx.stores.signing_keys.insert_signing_key(&stored).await?;
    let event = ctx.audit_with(
        Action::SigningKeyRotate,
        Some(Target::Job(TARGET)),
        &KeyRef {
            kid: &stored.kid,
            activates_at: Some(activates_at.as_millis()),
            count: None,
        },
    );
    ctx.stores.audit.append(&event).await?;
    Ok(NextKey {
        kid: stored.kid,
        activates_at,
    })
}

/// Promotes a waiting key whose time has come and deletes keys retired longer than
/// [`RETAIN`] ago; returns what it did, as named counts (for the housekeeping job).
pub async fn promote_and_purge(ctx: &Ctx<'_>) -> Result<Vec<(&'static str, u64)>, CoreError> {
    let keys = ctx.stores.signing_keys.list_signing_keys().await?;
    let mut promoted = 0;
    let due = keys
        .iter()
        .filter(|k| !k.active && k.retired_at.is_none() && k.activates_at.is_some_and(|at| at <= ctx.now))
        .max_by_key(|k| k.created_at);
    if let Some(k) = due {
        let event = ctx.audit_with(
            Action::SigningKeyPromote,
            Some(Target::Job(TARGET)),
            &KeyRef {
                kid: &k.kid,
                activates_at: None,
                count: None,
            },
        );
        if ctx
            .stores
            .signing_keys
            .promote_signing_key(&k.kid, ctx.now, &event)
            .await?
        {
            promoted = 1;
        }
    }
    let event = ctx.audit_with(
        Action::SigningKeyPurge,
        Some(Target::Job(TARGET)),
        &KeyRef {
            kid: "",
            activates_at: None,
            count: None,
        },
    );
    let purged = ctx
        .stores
        .signing_keys
        .purge_signing_keys(ctx.now.minus(RETAIN), &event)
        .await?;
    Ok(vec![("signingKeysPromoted", promoted), ("signingKeysPurged", purged)])
}
