//! Authenticator metadata (FIDO Metadata Service v3): importing a BLOB, its status, one
//! entry, and the relying party's lookup of trust anchors and status by AAGUID.
//!
//! [`import`] verifies a BLOB with `keyfleet-mds` (JWS, chain to the root at the chosen time,
//! CRLs or the explicit offline decision), refuses one whose `no` is not greater than the
//! stored one's, and stores it with its entries (the BLOB's AAGUID entries, plus keyfleet's
//! own statements for AAGUIDs the BLOB does not list) and the `metadata.import` event in one
//! transaction. Any refusal leaves the last good BLOB as it was and is audited as
//! `metadata.refused` with its reason: the alarm (checklist bad input 24).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, Outcome};
use keyfleet_domain::metadata::{EntrySource, FetchValidators, MetadataBlob, MetadataEntry};
use keyfleet_domain::report::Aaguid;
use keyfleet_domain::{StoreError, store::StoreResult};
use keyfleet_mds::local::local_entries;
use keyfleet_mds::{Refusal, Revocation, VerifiedBlob, Verifier};
use keyfleet_webauthn_rp::x509::TrustAnchor;
use serde::Serialize;

use crate::access::{Permission, Principal, authorize};
use crate::audit::Detail;
use crate::{CoreError, Ctx};

/// How the import decides revocation of the BLOB's signing chain.
#[derive(Debug, Clone)]
pub enum RevocationInput {
    /// The CRLs (DER) fetched from the chain's distribution points.
    Crls(Vec<Vec<u8>>),
    /// The explicit decision to go without CRLs (`--offline`).
    Offline,
}

/// What [`import`] is given.
#[derive(Debug, Clone)]
pub struct ImportBlob {
    /// The BLOB file's bytes.
    pub blob: Vec<u8>,
    /// The trust anchors (usually [`keyfleet_mds::globalsign_root_r3`]).
    pub roots: Vec<TrustAnchor>,
    /// The verification time; `None` for now.
    pub at: Option<Timestamp>,
    /// How revocation is decided.
    pub revocation: RevocationInput,
    /// Where the BLOB was downloaded from (the `x5u` rule); `None` for a file.
    pub blob_url: Option<String>,
    /// The key factory's attestation roots, `(model, DER)`, for keyfleet's own statements.
    pub local_roots: Vec<(String, Vec<u8>)>,
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The BLOB's `no`.
    pub no: u64,
    /// Its `nextUpdate` (`YYYY-MM-DD`).
    pub next_update: String,
    /// How many entries the BLOB holds.
    pub entries: usize,
    /// How many were stored by AAGUID (the BLOB's, then keyfleet's own).
    pub stored_entries: usize,
    /// How revocation was decided (`crl`, `offline`).
    pub revocation: &'static str,
    /// Whether the BLOB was already past its `nextUpdate` at the verification time.
    pub stale: bool,
}

/// The stored BLOB as the status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataStatus {
    /// The stored BLOB's facts.
    pub blob: MetadataBlob,
    /// Whether it is past its `nextUpdate` now (the caller alarms).
    pub stale: bool,
}

/// The last failure to get a new BLOB: a refused BLOB (`metadata.refused`) or a refresh that
/// could not fetch one (`metadata.refresh_failed`), from the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataFailure {
    /// When.
    pub at: Timestamp,
    /// The stable reason (`rollback`, `bad_signature`, `fetch_failed`, …).
    pub reason: String,
    /// The reason in words.
    pub message: String,
}

/// Everything `GET /api/v1/metadata/status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataReport {
    /// The last good BLOB and whether it is stale, `None` before the first import.
    pub current: Option<MetadataStatus>,
    /// When the scheduled refresh last finished, and how (`ok`, `error`), if it ever ran.
    pub last_check: Option<(Timestamp, String)>,
    /// The newest failure, if any.
    pub last_failure: Option<MetadataFailure>,
    /// Whether to alarm: no BLOB is stale, or a failure came after the last good import.
    pub alarm: bool,
}

/// What the relying party needs about one authenticator model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorTrust {
    /// The attestation roots for this AAGUID (DER).
    pub roots: Vec<Vec<u8>>,
    /// The latest status (MDS3 name), when known.
    pub status: Option<String>,
    /// Whether the model is refused at registration (`authenticator_compromised`).
    pub compromised: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportedDetail<'a> {
    no: u64,
    next_update: &'a str,
    entries: usize,
    revocation: &'a str,
    stale: bool,
}
impl Detail for ImportedDetail<'_> {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefusedDetail<'a> {
    reason: &'a str,
    message: &'a str,
}
impl Detail for RefusedDetail<'_> {}

fn system_time(t: Timestamp) -> SystemTime {
    let ms = u64::try_from(t.as_millis()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// A refusal as the core reports it: rollback is a conflict with the stored state, the rest
/// are invalid input; each keeps `keyfleet-mds`'s stable code.
fn refusal_error(r: &Refusal) -> CoreError {
    match r {
        Refusal::Rollback { .. } => CoreError::conflict(r.code(), r.to_string()),
        _ => CoreError::invalid(r.code(), r.to_string()),
    }
}

/// Audits `refusal` as `metadata.refused` (the alarm) and returns it as an error.
async fn refused(ctx: &Ctx<'_>, refusal: Refusal) -> CoreError {
    let message = refusal.to_string();
    let event = ctx
        .audit_with(
            Action::MetadataRefused,
            None,
            &RefusedDetail {
                reason: refusal.code(),
                message: &message,
            },
        )
        .with_outcome(Outcome::Failure);
    if let Err(e) = ctx.stores.audit.append(&event).await {
        return e.into();
    }
    refusal_error(&refusal)
}

/// Verifies and stores a BLOB; see the module documentation. Needs
/// [`Permission::ManageMetadata`].
pub async fn import(ctx: &Ctx<'_>, principal: &Principal, input: ImportBlob) -> Result<Imported, CoreError> {
    authorize(ctx, principal, Permission::ManageMetadata).await?;
    let at = system_time(input.at.unwrap_or(ctx.now));
    let revocation = match &input.revocation {
        RevocationInput::Crls(crls) => Revocation::Crls(crls),
        RevocationInput::Offline => Revocation::Offline,
    };
    let verifier = Verifier {
        roots: &input.roots,
        at,
        revocation,
        blob_url: input.blob_url.as_deref(),
    };
    let verified = match keyfleet_mds::verify(&input.blob, &verifier) {
        Ok(v) => v,
        Err(refusal) => return Err(refused(ctx, refusal).await),
    };
    // MDS3 §3.2 step 5: anti-rollback against the stored BLOB (the store checks again in the
    // transaction that saves it, for a concurrent import).
    let stored = ctx.stores.metadata.metadata_blob().await?;
    let stored_no = stored.map(|b| u64::try_from(b.no).unwrap_or(0));
    if let Err(refusal) = verified.check_newer(stored_no) {
        return Err(refused(ctx, refusal).await);
    }
    let Ok(no) = i64::try_from(verified.no) else {
        return Err(refused(ctx, Refusal::Malformed(format!("no {} is too large", verified.no))).await);
    };
    let entries = entries(&verified, &input.local_roots)?;
    // §1.4 step 7: the models this BLOB newly reports compromised, to re-check their keys.
    let mut newly_compromised = Vec::new();
    for e in entries.iter().filter(|e| e.compromised) {
        let before = ctx.stores.metadata.metadata_entry(&e.aaguid).await?;
        if !before.is_some_and(|b| b.compromised) {
            newly_compromised.push(e);
        }
    }
    let next_update = keyfleet_mds::format_date(verified.next_update);
    let revocation = verified.revocation.as_str();
    let imported = Imported {
        no: verified.no,
        next_update: next_update.clone(),
        entries: verified.entries.len(),
        stored_entries: entries.len(),
        revocation,
        stale: verified.is_stale(at),
    };
    let blob = MetadataBlob {
        no,
        next_update: next_update.clone(),
        entry_count: i64::try_from(verified.entries.len()).unwrap_or(i64::MAX),
        imported_at: ctx.now,
        verified_at: Timestamp::from_millis(
            i64::try_from(
                at.duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis(),
            )
            .unwrap_or(0),
        ),
        revocation: revocation.to_owned(),
    };
    let detail = ImportedDetail {
        no: verified.no,
        next_update: &next_update,
        entries: verified.entries.len(),
        revocation,
        stale: imported.stale,
    };
    let event = ctx.audit_with(Action::MetadataImport, None, &detail);
    match ctx
        .stores
        .metadata
        .import_metadata(&blob, &input.blob, &entries, &event)
        .await
    {
        Ok(()) => {
            flag_keys(ctx, verified.no, &newly_compromised).await?;
            Ok(imported)
        }
        Err(StoreError::Conflict("metadata_no")) => {
            // Another import stored a BLOB with this number or a greater one meanwhile.
            let stored = ctx.stores.metadata.metadata_blob().await?;
            let stored = stored.map_or(verified.no, |b| u64::try_from(b.no).unwrap_or(0));
            Err(refused(
                ctx,
                Refusal::Rollback {
                    stored,
                    got: verified.no,
                },
            )
            .await)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FlaggedModel<'a> {
    aaguid: String,
    description: &'a str,
    status: &'a str,
    keys: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeysFlagged<'a> {
    no: u64,
    keys: u64,
    models: Vec<FlaggedModel<'a>>,
}
impl Detail for KeysFlagged<'_> {}

/// Re-checks the stored keys of the models an import newly reports compromised (§1.4 step
/// 7): a key's flag is computed from its model's entry, so re-checking is counting them, and
/// one `metadata.keys_flagged` event records the models and the number of keys (none when no
/// key of such a model is stored).
async fn flag_keys(ctx: &Ctx<'_>, no: u64, models: &[&MetadataEntry]) -> Result<(), CoreError> {
    if models.is_empty() {
        return Ok(());
    }
    let counts = ctx.stores.reports.count_keys_by_model().await?;
    let flagged: Vec<FlaggedModel<'_>> = models
        .iter()
        .filter_map(|m| {
            let keys = counts.iter().find(|c| c.aaguid == m.aaguid)?.keys;
            (keys > 0).then(|| FlaggedModel {
                aaguid: uuid::Uuid::from_bytes(m.aaguid).hyphenated().to_string(),
                description: &m.description,
                status: m.status.as_deref().unwrap_or_default(),
                keys,
            })
        })
        .collect();
    if flagged.is_empty() {
        return Ok(());
    }
    let detail = KeysFlagged {
        no,
        keys: flagged.iter().map(|m| m.keys).sum(),
        models: flagged,
    };
    let event = ctx.audit_with(Action::MetadataKeysFlagged, None, &detail);
    ctx.stores.audit.append(&event).await?;
    Ok(())
}

/// The entries to store: the BLOB's entries that name an AAGUID, then keyfleet's own
/// statements for AAGUIDs the BLOB does not list.
fn entries(verified: &VerifiedBlob, local_roots: &[(String, Vec<u8>)]) -> Result<Vec<MetadataEntry>, CoreError> {
    let mut out: Vec<MetadataEntry> = verified
        .aaguid_entries()
        .map(|(aaguid, e)| entry(*aaguid, e, EntrySource::Mds))
        .collect();
    let local = local_entries(local_roots).map_err(|e| CoreError::invalid("local_metadata", e.to_string()))?;
    for l in local {
        if let Some(aaguid) = l.entry.aaguid
            && !out.iter().any(|e| e.aaguid == aaguid)
        {
            out.push(entry(aaguid, &l.entry, EntrySource::Local));
        }
    }
    Ok(out)
}

fn entry(aaguid: Aaguid, e: &keyfleet_mds::Entry, source: EntrySource) -> MetadataEntry {
    let latest = e.latest_status();
    MetadataEntry {
        aaguid,
        description: e.description.clone().unwrap_or_default(),
        status: latest.map(|r| r.status.as_str().to_owned()),
        status_date: latest.and_then(|r| r.effective_date).map(keyfleet_mds::format_date),
        certification_level: e.certification_level().map(|r| r.status.as_str().to_owned()),
        compromised: e.is_compromised(),
        attestation_roots: e.attestation_roots.clone(),
        icon: e.icon.clone(),
        source,
    }
}

/// The stored BLOB and whether it is stale now; `None` before the first import. Needs
/// [`Permission::ReadMetadata`].
pub async fn status(ctx: &Ctx<'_>, principal: &Principal) -> Result<Option<MetadataStatus>, CoreError> {
    authorize(ctx, principal, Permission::ReadMetadata).await?;
    let Some(blob) = ctx.stores.metadata.metadata_blob().await? else {
        return Ok(None);
    };
    // A date that does not parse was not written by this version: call it stale.
    let stale = keyfleet_mds::next_update_passed(&blob.next_update, system_time(ctx.now)).unwrap_or(true);
    Ok(Some(MetadataStatus { blob, stale }))
}

/// The metadata's state for the status route and the console's banner: the last good BLOB,
/// the scheduled refresh's last run, the newest failure, and whether that is an alarm. Needs
/// [`Permission::ReadMetadata`].
pub async fn report(ctx: &Ctx<'_>, principal: &Principal) -> Result<MetadataReport, CoreError> {
    let current = status(ctx, principal).await?;
    let last_check = ctx
        .stores
        .jobs
        .list_jobs()
        .await?
        .into_iter()
        .find(|j| j.job == crate::jobs::Job::MetadataRefresh.name())
        .and_then(|j| Some((j.last_finished_at?, j.last_outcome?)));
    let last_failure = last_failure(ctx).await?;
    let failed_since_import = match (&last_failure, &current) {
        (Some(f), Some(c)) => f.at >= c.blob.imported_at,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let alarm = failed_since_import || current.as_ref().is_some_and(|c| c.stale);
    Ok(MetadataReport {
        current,
        last_check,
        last_failure,
        alarm,
    })
}

/// The newest metadata failure in the audit log (`metadata.refused` or
/// `metadata.refresh_failed`: exact actions, so the lookup stays on the action index).
async fn last_failure(ctx: &Ctx<'_>) -> Result<Option<MetadataFailure>, CoreError> {
    let mut newest: Option<keyfleet_domain::audit::AuditEvent> = None;
    for action in [Action::MetadataRefused, Action::MetadataRefreshFailed] {
        let events = ctx
            .stores
            .audit
            .list(&keyfleet_domain::audit::AuditQuery {
                action: Some(action.as_str().to_owned()),
                limit: 1,
                ..Default::default()
            })
            .await?;
        if let Some(e) = events.into_iter().next()
            && newest.as_ref().is_none_or(|n| e.id > n.id)
        {
            newest = Some(e);
        }
    }
    Ok(newest.map(|e| {
        let detail: serde_json::Value = e
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let field = |k: &str| detail.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        MetadataFailure {
            at: e.at,
            reason: field("reason"),
            message: field("message"),
        }
    }))
}

/// The console's metadata alarm in words, `None` when all is well. Needs
/// [`Permission::ReadMetadata`].
pub async fn alarm(ctx: &Ctx<'_>, principal: &Principal) -> Result<Option<String>, CoreError> {
    let r = report(ctx, principal).await?;
    if !r.alarm {
        return Ok(None);
    }
    let kept = match &r.current {
        Some(c) => format!(
            "The last good metadata (no {}, next update {}) is kept.",
            c.blob.no, c.blob.next_update
        ),
        None => "No metadata has been imported yet.".to_owned(),
    };
    Ok(Some(match (&r.last_failure, &r.current) {
        (Some(f), c) if c.as_ref().is_none_or(|c| f.at >= c.blob.imported_at) => format!(
            "Authenticator metadata: the last update failed ({}): {} {kept}",
            f.reason, f.message
        ),
        _ => format!("Authenticator metadata is out of date: it is past its next update. {kept}"),
    }))
}

/// The entry for `aaguid` (`NotFound` when none). Needs [`Permission::ReadMetadata`].
pub async fn show(ctx: &Ctx<'_>, principal: &Principal, aaguid: &Aaguid) -> Result<MetadataEntry, CoreError> {
    authorize(ctx, principal, Permission::ReadMetadata).await?;
    ctx.stores
        .metadata
        .metadata_entry(aaguid)
        .await?
        .ok_or(CoreError::NotFound)
}

/// The entries by AAGUID: the one of `aaguid` (none when it has none), else every one;
/// with `compromised_only`, only models reported compromised. Needs
/// [`Permission::ReadMetadata`].
pub async fn authenticators(
    ctx: &Ctx<'_>,
    principal: &Principal,
    aaguid: Option<Aaguid>,
    compromised_only: bool,
) -> Result<Vec<MetadataEntry>, CoreError> {
    authorize(ctx, principal, Permission::ReadMetadata).await?;
    let entries = match aaguid {
        Some(a) => ctx.stores.metadata.metadata_entry(&a).await?.into_iter().collect(),
        None => ctx.stores.metadata.list_metadata_entries().await?,
    };
    Ok(entries
        .into_iter()
        .filter(|e| !compromised_only || e.compromised)
        .collect())
}

/// Every entry, by AAGUID. Needs [`Permission::ReadMetadata`].
pub async fn list(ctx: &Ctx<'_>, principal: &Principal) -> Result<Vec<MetadataEntry>, CoreError> {
    authorize(ctx, principal, Permission::ReadMetadata).await?;
    Ok(ctx.stores.metadata.list_metadata_entries().await?)
}

/// The relying party's lookup at registration (checklist R18, §1.4 step 7): the attestation
/// roots and status for `aaguid`, `None` for a model the metadata does not know. Not a
/// person's request, so no permission applies.
pub async fn trust_for_aaguid(ctx: &Ctx<'_>, aaguid: &Aaguid) -> StoreResult<Option<AuthenticatorTrust>> {
    Ok(ctx
        .stores
        .metadata
        .metadata_entry(aaguid)
        .await?
        .map(|e| AuthenticatorTrust {
            roots: e.attestation_roots,
            status: e.status,
            compromised: e.compromised,
        }))
}

/// What a page shows about a key's model, from its metadata entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFacts {
    /// The model's description (its name).
    pub description: String,
    /// The icon, a `data:` URL of an image, when the entry has one that is safe to show.
    pub icon: Option<String>,
    /// The latest status.
    pub status: Option<String>,
    /// Whether the model is reported compromised: its keys are flagged.
    pub compromised: bool,
}

/// The metadata facts of each of these models that has an entry (for keys the caller already
/// may see: their names, icons and compromise flags). No permission of its own.
pub async fn models(ctx: &Ctx<'_>, aaguids: &[Aaguid]) -> StoreResult<Vec<(Aaguid, ModelFacts)>> {
    let mut wanted: Vec<Aaguid> = Vec::new();
    for aaguid in aaguids {
        if *aaguid != [0; 16] && !wanted.contains(aaguid) {
            wanted.push(*aaguid);
        }
    }
    let mut found = entries_of(ctx, &wanted).await?;
    // In the order asked, one query for all of them.
    Ok(wanted
        .into_iter()
        .filter_map(|aaguid| {
            let e = found.remove(&aaguid)?;
            Some((
                aaguid,
                ModelFacts {
                    description: e.description,
                    icon: e.icon.filter(|i| safe_icon(i)),
                    status: e.status,
                    compromised: e.compromised,
                },
            ))
        })
        .collect())
}

/// The entries of `aaguids` that have one, by AAGUID, read in one query (per 500; none for
/// no AAGUIDs).
pub(crate) async fn entries_of(ctx: &Ctx<'_>, aaguids: &[Aaguid]) -> StoreResult<HashMap<Aaguid, MetadataEntry>> {
    Ok(ctx
        .stores
        .metadata
        .metadata_entries(aaguids)
        .await?
        .into_iter()
        .map(|e| (e.aaguid, e))
        .collect())
}

/// An icon a page may put in `<img src>`: a base64 `data:` URL of a raster image (PNG, JPEG,
/// GIF, WebP) of at most 64 KiB. SVG is left out (it may carry script when opened alone).
fn safe_icon(icon: &str) -> bool {
    const TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];
    let Some(rest) = icon.strip_prefix("data:") else {
        return false;
    };
    let Some((media, data)) = rest.split_once(";base64,") else {
        return false;
    };
    icon.len() <= 64 * 1024
        && TYPES.contains(&media)
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// A model reported compromised that keys are stored of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompromisedModel {
    /// The AAGUID.
    pub aaguid: Aaguid,
    /// The model's description.
    pub description: String,
    /// Its latest status.
    pub status: String,
    /// How many stored keys are of it.
    pub keys: u64,
}

/// The models in use whose metadata reports them compromised, with how many keys each: the
/// console's banner and list. `counts` are the keys by model when the caller has them (the
/// dashboard does), else they are counted. Needs [`Permission::ReadMetadata`].
pub async fn compromised_in_use(
    ctx: &Ctx<'_>,
    principal: &Principal,
    counts: Option<&[keyfleet_domain::report::ModelCount]>,
) -> Result<Vec<CompromisedModel>, CoreError> {
    authorize(ctx, principal, Permission::ReadMetadata).await?;
    let counted;
    let counts = match counts {
        Some(c) => c,
        None => {
            counted = ctx.stores.reports.count_keys_by_model().await?;
            &counted
        }
    };
    let in_use: Vec<&keyfleet_domain::report::ModelCount> =
        counts.iter().filter(|c| c.keys > 0 && c.aaguid != [0; 16]).collect();
    let aaguids: Vec<Aaguid> = in_use.iter().map(|c| c.aaguid).collect();
    let entries = entries_of(ctx, &aaguids).await?;
    let mut out = Vec::new();
    for c in in_use {
        if let Some(e) = entries.get(&c.aaguid)
            && e.compromised
        {
            out.push(CompromisedModel {
                aaguid: c.aaguid,
                description: e.description.clone(),
                status: e.status.clone().unwrap_or_default(),
                keys: c.keys,
            });
        }
    }
    Ok(out)
}

/// What a download of the BLOB gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// `304 Not Modified`: the stored BLOB is still the current one.
    NotModified,
    /// A body, with the validators it came with.
    Blob {
        /// The body.
        bytes: Vec<u8>,
        /// Its `ETag` and `Last-Modified`.
        validators: FetchValidators,
    },
}

/// Where the scheduled refresh downloads from: the server implements it over HTTP (the core
/// does no IO). Errors are one line for people (no secrets: the URLs are configuration).
#[async_trait::async_trait]
pub trait MetadataSource: Send + Sync {
    /// `GET url`, conditional on `validators` (`If-None-Match`, `If-Modified-Since`).
    async fn fetch_blob(&self, url: &str, validators: &FetchValidators) -> Result<Fetched, String>;
    /// `GET url` of a CRL distribution point (DER).
    async fn fetch_crl(&self, url: &str) -> Result<Vec<u8>, String>;
}

/// The scheduled refresh's configuration.
#[derive(Debug, Clone)]
pub struct RefreshConfig {
    /// `mds_url`.
    pub url: String,
    /// The BLOB's trust anchors (default: the bundled GlobalSign Root CA - R3).
    pub roots: Vec<TrustAnchor>,
    /// The key factory's roots, `(model, DER)`, for keyfleet's own statements.
    pub local_roots: Vec<(String, Vec<u8>)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefreshFailed<'a> {
    reason: &'a str,
    message: &'a str,
    url: &'a str,
}
impl Detail for RefreshFailed<'_> {}

/// One scheduled refresh (MDS3 §3.2 steps 2–6): a conditional download of `mds_url`; on a
/// new body, the CRLs of its chain where they can be fetched, then [`import`] as the system.
/// Returns what it did as named counts. A download that fails is audited as
/// `metadata.refresh_failed`, a BLOB that is refused as `metadata.refused` (by [`import`]);
/// either way the last good BLOB stays and the run ends in error (the alarm).
///
/// Revocation (the documented decision, docs/metadata.md): when every certificate of the
/// chain names a CRL distribution point and each one was fetched, the BLOB is verified
/// against those CRLs (a revoked or uncovered certificate refuses it); when any is missing or
/// unreachable, the BLOB is verified without CRLs and stored as `revocation: "offline"`.
pub async fn refresh(
    ctx: &Ctx<'_>,
    source: &dyn MetadataSource,
    config: &RefreshConfig,
) -> Result<Vec<(&'static str, u64)>, CoreError> {
    let stored = ctx.stores.metadata.metadata_blob().await?;
    // Validators only count while there is a BLOB they describe.
    let validators = match stored {
        Some(_) => ctx.stores.metadata.metadata_validators().await?,
        None => FetchValidators::default(),
    };
    let (bytes, validators) = match source.fetch_blob(&config.url, &validators).await {
        Ok(Fetched::NotModified) => return Ok(vec![("notModified", 1)]),
        Ok(Fetched::Blob { bytes, validators }) => (bytes, validators),
        Err(message) => return Err(refresh_failed(ctx, "fetch_failed", &message, &config.url).await),
    };
    let revocation = crls_for(source, &bytes).await;
    let crls = matches!(revocation, RevocationInput::Crls(_));
    let input = ImportBlob {
        blob: bytes,
        roots: config.roots.clone(),
        at: None,
        revocation,
        blob_url: Some(config.url.clone()),
        local_roots: config.local_roots.clone(),
    };
    let imported = import(ctx, &Principal::System, input).await?;
    ctx.stores.metadata.set_metadata_validators(&validators).await?;
    Ok(vec![
        ("imported", 1),
        ("no", imported.no),
        ("entries", u64::try_from(imported.entries).unwrap_or(u64::MAX)),
        ("crlChecked", u64::from(crls)),
    ])
}

/// The CRLs of every certificate of the BLOB's chain, or the offline decision when one of
/// them names no distribution point or none of its points answers.
async fn crls_for(source: &dyn MetadataSource, blob: &[u8]) -> RevocationInput {
    // A BLOB whose chain does not read is refused by the verification itself.
    let Ok(points) = keyfleet_mds::distribution_points(blob) else {
        return RevocationInput::Offline;
    };
    if points.is_empty() {
        return RevocationInput::Offline;
    }
    let mut crls = Vec::new();
    for cert_points in &points {
        let mut got = None;
        for url in cert_points {
            match source.fetch_crl(url).await {
                Ok(crl) => {
                    got = Some(crl);
                    break;
                }
                Err(e) => tracing::warn!(url, error = %e, "CRL distribution point unreachable"),
            }
        }
        match got {
            Some(crl) => crls.push(crl),
            None => return RevocationInput::Offline,
        }
    }
    RevocationInput::Crls(crls)
}

/// Audits a refresh that could not download (`metadata.refresh_failed`) and returns the error.
async fn refresh_failed(ctx: &Ctx<'_>, reason: &str, message: &str, url: &str) -> CoreError {
    let event = ctx
        .audit_with(
            Action::MetadataRefreshFailed,
            None,
            &RefreshFailed { reason, message, url },
        )
        .with_outcome(Outcome::Failure);
    if let Err(e) = ctx.stores.audit.append(&event).await {
        return e.into();
    }
    CoreError::invalid("metadata_fetch_failed", message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::safe_icon;

    #[test]
    fn only_small_raster_data_urls_are_shown() {
        assert!(safe_icon("data:image/png;base64,iVBORw0KGgo="));
        assert!(safe_icon("data:image/jpeg;base64,/9j/4AAQ"));
        for bad in [
            "data:image/svg+xml;base64,PHN2Zz4=",
            "data:text/html;base64,PHNjcmlwdD4=",
            "javascript:alert(1)",
            "https://example.com/icon.png",
            "data:image/png,raw-not-base64",
            "data:image/png;base64,AAAA\"><script>",
        ] {
            assert!(!safe_icon(bad), "{bad}");
        }
        let big = format!("data:image/png;base64,{}", "A".repeat(64 * 1024));
        assert!(!safe_icon(&big));
    }
}
