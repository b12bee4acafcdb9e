//! Authenticator metadata: the last good FIDO Metadata Service BLOB and the entries a relying
//! party looks up by AAGUID (their attestation roots and latest status). Verifying a BLOB is
//! `keyfleet-mds`'s work; these are the values the store keeps and gives back.

use async_trait::async_trait;

use crate::Timestamp;
use crate::audit::NewAuditEvent;
use crate::report::Aaguid;
use crate::store::StoreResult;

/// Where an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntrySource {
    /// The FIDO Metadata Service BLOB.
    Mds,
    /// keyfleet's own statement for one of its models (merged at import).
    Local,
}

impl EntrySource {
    /// Stable name (`mds`, `local`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntrySource::Mds => "mds",
            EntrySource::Local => "local",
        }
    }

    /// The source with this stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mds" => Some(EntrySource::Mds),
            "local" => Some(EntrySource::Local),
            _ => None,
        }
    }
}

/// The stored BLOB's facts (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataBlob {
    /// The BLOB's serial number (`no`); a newer BLOB must have a greater one.
    pub no: i64,
    /// `nextUpdate` as `YYYY-MM-DD`.
    pub next_update: String,
    /// How many entries the BLOB holds (all of them, AAGUID or not).
    pub entry_count: i64,
    /// When it was imported.
    pub imported_at: Timestamp,
    /// The verification time used.
    pub verified_at: Timestamp,
    /// How revocation was decided (`crl`, `offline`).
    pub revocation: String,
}

/// One authenticator model's entry, by AAGUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataEntry {
    /// The AAGUID.
    pub aaguid: Aaguid,
    /// The model's description.
    pub description: String,
    /// The latest status report's status (MDS3 name), `None` without reports (local entries).
    pub status: Option<String>,
    /// That report's effective date (`YYYY-MM-DD`), when given.
    pub status_date: Option<String>,
    /// The latest certification status (`FIDO_CERTIFIED_L1`, …), when any.
    pub certification_level: Option<String>,
    /// Whether the latest status is one for which the model is refused.
    pub compromised: bool,
    /// The attestation roots (DER), trust anchors for this AAGUID.
    pub attestation_roots: Vec<Vec<u8>>,
    /// The icon (a data: URL), when given.
    pub icon: Option<String>,
    /// Where it comes from.
    pub source: EntrySource,
}

/// The HTTP validators of the last good BLOB as the scheduled refresh downloaded it, sent
/// back as `If-None-Match` / `If-Modified-Since` (RFC 9110 §13.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchValidators {
    /// The `ETag` it came with.
    pub etag: Option<String>,
    /// The `Last-Modified` it came with.
    pub last_modified: Option<String>,
}

/// The last good BLOB and its entries.
#[async_trait]
pub trait MetadataStore: Send + Sync {
    /// Stores a verified BLOB (`raw`: its bytes, the last good copy) and replaces every entry
    /// with `entries`, with the audit event, in one transaction; only if no stored BLOB has a
    /// `no` greater than or equal to `blob.no` (checked in the same transaction):
    /// `Conflict("metadata_no")` otherwise, and nothing changes.
    async fn import_metadata(
        &self,
        blob: &MetadataBlob,
        raw: &[u8],
        entries: &[MetadataEntry],
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// The stored BLOB's facts, if one was imported.
    async fn metadata_blob(&self) -> StoreResult<Option<MetadataBlob>>;
    /// The stored BLOB's bytes, if one was imported.
    async fn metadata_blob_raw(&self) -> StoreResult<Option<Vec<u8>>>;
    /// The entry for `aaguid`.
    async fn metadata_entry(&self, aaguid: &Aaguid) -> StoreResult<Option<MetadataEntry>>;
    /// The entries for those of `aaguids` that have one, in no particular order (one query
    /// per 500 AAGUIDs; the models on a page).
    async fn metadata_entries(&self, aaguids: &[Aaguid]) -> StoreResult<Vec<MetadataEntry>>;
    /// Every entry, by AAGUID.
    async fn list_metadata_entries(&self) -> StoreResult<Vec<MetadataEntry>>;
    /// The validators of the last good BLOB's download (empty before the first one).
    async fn metadata_validators(&self) -> StoreResult<FetchValidators>;
    /// Replaces the validators (after a downloaded BLOB was stored).
    async fn set_metadata_validators(&self, validators: &FetchValidators) -> StoreResult<()>;
}
