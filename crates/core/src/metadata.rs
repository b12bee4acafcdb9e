//! Authenticator metadata (FIDO Metadata Service v3): importing a BLOB, its status, one
//! entry, and the relying party's lookup of trust anchors and status by AAGUID.
//!
//! [`import`] verifies a BLOB with `keyfleet-mds` (JWS, chain to the root at the chosen time,
//! CRLs or the explicit offline decision), refuses one whose `no` is not greater than the
//! stored one's, and stores it with its entries (the BLOB's AAGUID entries, plus keyfleet's
//! own statements for AAGUIDs the BLOB does not list) and the `metadata.import` event in one
//! transaction. Any refusal leaves the last good BLOB as it was and is audited as
//! `metadata.refused` with its reason: the alarm (checklist bad input 24).

use std::time::{Duration, SystemTime};

use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, Outcome};
use keyfleet_domain::metadata::{EntrySource, MetadataBlob, MetadataEntry};
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
        Ok(()) => Ok(imported),
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

/// The entry for `aaguid` (`NotFound` when none). Needs [`Permission::ReadMetadata`].
pub async fn show(ctx: &Ctx<'_>, principal: &Principal, aaguid: &Aaguid) -> Result<MetadataEntry, CoreError> {
    authorize(ctx, principal, Permission::ReadMetadata).await?;
    ctx.stores
        .metadata
        .metadata_entry(aaguid)
        .await?
        .ok_or(CoreError::NotFound)
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
