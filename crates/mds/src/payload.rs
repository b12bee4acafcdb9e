//! The BLOB payload (MDS3 §3.1.6 `MetadataBLOBPayload`, §3.1.1 `MetadataBLOBPayloadEntry`,
//! §3.1.3 `StatusReport`) and the parts of the metadata statement keyfleet uses. Unknown
//! fields are ignored; the fields read must have their specified types, or the BLOB is
//! refused as malformed.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use time::Date;
use time::macros::format_description;

use crate::{Refusal, clean};

/// An AAGUID (16 bytes).
pub type Aaguid = [u8; 16];

/// `AuthenticatorStatus` (MDS3 §3.1.4). Values this version does not know are kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticatorStatus {
    /// NOT_FIDO_CERTIFIED.
    NotFidoCertified,
    /// FIDO_CERTIFIED.
    FidoCertified,
    /// USER_VERIFICATION_BYPASS: malware can bypass user verification.
    UserVerificationBypass,
    /// ATTESTATION_KEY_COMPROMISE: the attestation key is known to be compromised.
    AttestationKeyCompromise,
    /// USER_KEY_REMOTE_COMPROMISE: credential keys can be extracted remotely.
    UserKeyRemoteCompromise,
    /// USER_KEY_PHYSICAL_COMPROMISE: credential keys can be extracted with physical access.
    UserKeyPhysicalCompromise,
    /// UPDATE_AVAILABLE: a firmware update is available.
    UpdateAvailable,
    /// REVOKED: the vendor or the FIDO Alliance revoked the model.
    Revoked,
    /// SELF_ASSERTION_SUBMITTED.
    SelfAssertionSubmitted,
    /// FIDO_CERTIFIED_L1.
    FidoCertifiedL1,
    /// FIDO_CERTIFIED_L1plus.
    FidoCertifiedL1Plus,
    /// FIDO_CERTIFIED_L2.
    FidoCertifiedL2,
    /// FIDO_CERTIFIED_L2plus.
    FidoCertifiedL2Plus,
    /// FIDO_CERTIFIED_L3.
    FidoCertifiedL3,
    /// FIDO_CERTIFIED_L3plus.
    FidoCertifiedL3Plus,
    /// A value this version does not know (cleaned text).
    Other(String),
}

const STATUS_NAMES: &[(&str, AuthenticatorStatus)] = &[
    ("NOT_FIDO_CERTIFIED", AuthenticatorStatus::NotFidoCertified),
    ("FIDO_CERTIFIED", AuthenticatorStatus::FidoCertified),
    ("USER_VERIFICATION_BYPASS", AuthenticatorStatus::UserVerificationBypass),
    (
        "ATTESTATION_KEY_COMPROMISE",
        AuthenticatorStatus::AttestationKeyCompromise,
    ),
    (
        "USER_KEY_REMOTE_COMPROMISE",
        AuthenticatorStatus::UserKeyRemoteCompromise,
    ),
    (
        "USER_KEY_PHYSICAL_COMPROMISE",
        AuthenticatorStatus::UserKeyPhysicalCompromise,
    ),
    ("UPDATE_AVAILABLE", AuthenticatorStatus::UpdateAvailable),
    ("REVOKED", AuthenticatorStatus::Revoked),
    ("SELF_ASSERTION_SUBMITTED", AuthenticatorStatus::SelfAssertionSubmitted),
    ("FIDO_CERTIFIED_L1", AuthenticatorStatus::FidoCertifiedL1),
    ("FIDO_CERTIFIED_L1plus", AuthenticatorStatus::FidoCertifiedL1Plus),
    ("FIDO_CERTIFIED_L2", AuthenticatorStatus::FidoCertifiedL2),
    ("FIDO_CERTIFIED_L2plus", AuthenticatorStatus::FidoCertifiedL2Plus),
    ("FIDO_CERTIFIED_L3", AuthenticatorStatus::FidoCertifiedL3),
    ("FIDO_CERTIFIED_L3plus", AuthenticatorStatus::FidoCertifiedL3Plus),
];

impl AuthenticatorStatus {
    /// The status named `s` (MDS3 spelling).
    pub fn parse(s: &str) -> Self {
        STATUS_NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map_or_else(|| AuthenticatorStatus::Other(clean(s)), |(_, st)| st.clone())
    }

    /// The MDS3 name.
    pub fn as_str(&self) -> &str {
        match self {
            AuthenticatorStatus::Other(s) => s,
            known => STATUS_NAMES
                .iter()
                .find(|(_, st)| st == known)
                .map_or("", |(name, _)| name),
        }
    }

    /// One of the statuses for which a relying party refuses the model (checklist §1.4
    /// step 7): USER_VERIFICATION_BYPASS, ATTESTATION_KEY_COMPROMISE,
    /// USER_KEY_REMOTE_COMPROMISE, USER_KEY_PHYSICAL_COMPROMISE, REVOKED.
    pub fn is_compromised(&self) -> bool {
        matches!(
            self,
            AuthenticatorStatus::UserVerificationBypass
                | AuthenticatorStatus::AttestationKeyCompromise
                | AuthenticatorStatus::UserKeyRemoteCompromise
                | AuthenticatorStatus::UserKeyPhysicalCompromise
                | AuthenticatorStatus::Revoked
        )
    }

    /// A certification status (NOT_FIDO_CERTIFIED, FIDO_CERTIFIED, FIDO_CERTIFIED_Ln[plus]).
    pub fn is_certification(&self) -> bool {
        matches!(
            self,
            AuthenticatorStatus::NotFidoCertified
                | AuthenticatorStatus::FidoCertified
                | AuthenticatorStatus::FidoCertifiedL1
                | AuthenticatorStatus::FidoCertifiedL1Plus
                | AuthenticatorStatus::FidoCertifiedL2
                | AuthenticatorStatus::FidoCertifiedL2Plus
                | AuthenticatorStatus::FidoCertifiedL3
                | AuthenticatorStatus::FidoCertifiedL3Plus
        )
    }
}

/// One status report (MDS3 §3.1.3), the fields keyfleet reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// `status`.
    pub status: AuthenticatorStatus,
    /// `effectiveDate`, when given.
    pub effective_date: Option<Date>,
    /// `certificateNumber`, when given.
    pub certificate_number: Option<String>,
}

/// One payload entry (MDS3 §3.1.1), the fields keyfleet reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `aaguid` (FIDO2 authenticators).
    pub aaguid: Option<Aaguid>,
    /// `aaid` (UAF authenticators).
    pub aaid: Option<String>,
    /// `attestationCertificateKeyIdentifiers` (U2F and some UAF authenticators).
    pub key_identifiers: Vec<String>,
    /// `metadataStatement.description`.
    pub description: Option<String>,
    /// `metadataStatement.attestationRootCertificates`, DER.
    pub attestation_roots: Vec<Vec<u8>>,
    /// `metadataStatement.icon` (a data: URL).
    pub icon: Option<String>,
    /// `metadataStatement.authenticatorVersion`.
    pub authenticator_version: Option<u64>,
    /// `statusReports`, in the BLOB's order.
    pub status_reports: Vec<StatusReport>,
    /// `timeOfLastStatusChange`.
    pub time_of_last_status_change: Option<Date>,
}

impl Entry {
    /// The latest status report: the greatest `effectiveDate` (a report without one counts
    /// as oldest); among reports of one date, the first listed (the BLOB lists newest first).
    pub fn latest_status(&self) -> Option<&StatusReport> {
        latest(self.status_reports.iter())
    }

    /// The latest certification status report (FIDO_CERTIFIED…, NOT_FIDO_CERTIFIED).
    pub fn certification_level(&self) -> Option<&StatusReport> {
        latest(self.status_reports.iter().filter(|r| r.status.is_certification()))
    }

    /// Whether the latest status is one for which the model is refused
    /// ([`AuthenticatorStatus::is_compromised`]). A later report (UPDATE_AVAILABLE, a new
    /// certification) supersedes an earlier compromise.
    pub fn is_compromised(&self) -> bool {
        self.latest_status().is_some_and(|r| r.status.is_compromised())
    }
}

fn latest<'a>(reports: impl Iterator<Item = &'a StatusReport>) -> Option<&'a StatusReport> {
    let mut best: Option<&StatusReport> = None;
    for r in reports {
        if best.is_none_or(|b| r.effective_date > b.effective_date) {
            best = Some(r);
        }
    }
    best
}

/// The AAGUID as a lower-case UUID string (`8-4-4-4-12`).
pub fn aaguid_to_string(aaguid: &Aaguid) -> String {
    uuid::Uuid::from_bytes(*aaguid).hyphenated().to_string()
}

/// An AAGUID in UUID form (`8-4-4-4-12`, either case).
pub fn parse_aaguid(s: &str) -> Option<Aaguid> {
    // Only the hyphenated form: `Uuid::parse_str` also takes braces, URNs and bare hex.
    if s.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(s).ok().map(|u| *u.as_bytes())
}

/// The payload as it decodes.
#[derive(Debug)]
pub(crate) struct Payload {
    pub legal_header: Option<String>,
    pub no: u64,
    pub next_update: Date,
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPayload {
    #[serde(default)]
    legal_header: Option<String>,
    no: u64,
    next_update: String,
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(default)]
    aaguid: Option<String>,
    #[serde(default)]
    aaid: Option<String>,
    #[serde(default)]
    attestation_certificate_key_identifiers: Option<Vec<String>>,
    #[serde(default)]
    metadata_statement: Option<RawStatement>,
    status_reports: Vec<RawStatusReport>,
    #[serde(default)]
    time_of_last_status_change: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawStatement {
    pub description: String,
    #[serde(default)]
    pub attestation_root_certificates: Vec<String>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub authenticator_version: Option<u64>,
    #[serde(default)]
    pub aaguid: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatusReport {
    status: String,
    #[serde(default)]
    effective_date: Option<String>,
    #[serde(default)]
    certificate_number: Option<String>,
}

fn malformed(what: String) -> Refusal {
    Refusal::Malformed(clean(&what))
}

/// An ISO 8601 date (`YYYY-MM-DD`).
pub(crate) fn date(s: &str, what: &str) -> Result<Date, Refusal> {
    Date::parse(s, format_description!("[year]-[month]-[day]"))
        .map_err(|_| malformed(format!("{what} {s:?} is not a date (YYYY-MM-DD)")))
}

/// Whether `at` is on or after 00:00 UTC of `day`.
pub(crate) fn is_past(day: Date, at: SystemTime) -> bool {
    let start = day.midnight().assume_utc().unix_timestamp();
    let at = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    i64::try_from(at).unwrap_or(i64::MAX) >= start
}

/// Decodes the payload JSON.
pub(crate) fn parse(json: &[u8]) -> Result<Payload, Refusal> {
    let raw: RawPayload = serde_json::from_slice(json).map_err(|e| malformed(format!("payload: {e}")))?;
    let next_update = date(&raw.next_update, "nextUpdate")?;
    let mut entries = Vec::with_capacity(raw.entries.len());
    let mut seen = std::collections::HashSet::new();
    for (i, e) in raw.entries.into_iter().enumerate() {
        let entry = entry(e).map_err(|m| malformed(format!("entries[{i}]: {m}")))?;
        if let Some(aaguid) = entry.aaguid
            && !seen.insert(aaguid)
        {
            return Err(malformed(format!(
                "entries[{i}]: AAGUID {} appears twice",
                aaguid_to_string(&aaguid)
            )));
        }
        entries.push(entry);
    }
    Ok(Payload {
        legal_header: raw.legal_header,
        no: raw.no,
        next_update,
        entries,
    })
}

fn entry(raw: RawEntry) -> Result<Entry, String> {
    let aaguid = raw
        .aaguid
        .as_deref()
        .map(|s| parse_aaguid(s).ok_or_else(|| format!("aaguid {s:?} is not a UUID")))
        .transpose()?;
    let status_reports = raw
        .status_reports
        .into_iter()
        .map(|r| {
            Ok(StatusReport {
                status: AuthenticatorStatus::parse(&r.status),
                effective_date: r
                    .effective_date
                    .as_deref()
                    .map(|d| date(d, "effectiveDate").map_err(|e| e.to_string()))
                    .transpose()?,
                certificate_number: r.certificate_number,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let time_of_last_status_change = raw
        .time_of_last_status_change
        .as_deref()
        .map(|d| date(d, "timeOfLastStatusChange").map_err(|e| e.to_string()))
        .transpose()?;
    let mut out = Entry {
        aaguid,
        aaid: raw.aaid,
        key_identifiers: raw.attestation_certificate_key_identifiers.unwrap_or_default(),
        description: None,
        attestation_roots: Vec::new(),
        icon: None,
        authenticator_version: None,
        status_reports,
        time_of_last_status_change,
    };
    if let Some(statement) = raw.metadata_statement {
        apply_statement(&mut out, statement)?;
    }
    Ok(out)
}

/// Fills `entry` from a metadata statement (MDS3 §3.1.1 `metadataStatement`; the statement
/// format is FIDO Metadata Statement v3.0 §4). Every attestation root must be base64; it is
/// not parsed here: real BLOBs carry roots that strict DER parsers refuse (a negative serial
/// number), and such a root simply never serves as an anchor when a key is verified.
pub(crate) fn apply_statement(entry: &mut Entry, s: RawStatement) -> Result<(), String> {
    if let (Some(outer), Some(inner)) = (entry.aaguid, s.aaguid.as_deref())
        && parse_aaguid(inner) != Some(outer)
    {
        return Err("metadataStatement.aaguid differs from the entry's".into());
    }
    let mut roots = Vec::with_capacity(s.attestation_root_certificates.len());
    for (i, b64) in s.attestation_root_certificates.iter().enumerate() {
        let der = STANDARD
            .decode(b64)
            .map_err(|_| format!("attestationRootCertificates[{i}] is not base64"))?;
        roots.push(der);
    }
    entry.description = Some(s.description);
    entry.attestation_roots = roots;
    entry.icon = s.icon;
    entry.authenticator_version = s.authenticator_version;
    Ok(())
}
