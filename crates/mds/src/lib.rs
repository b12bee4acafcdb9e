//! The FIDO Metadata Service BLOB (MDS3, "FIDO Metadata Service" v3.0, §3.1.7 and §3.2):
//! verify it, read its entries, and keyfleet's own metadata statements. No IO: bytes, trust
//! anchors, CRLs and a time come in, a [`VerifiedBlob`] or a typed [`Refusal`] comes out.
//!
//! [`verify`] follows the metadata BLOB processing rules of MDS3 §3.2 (the numbered steps
//! are cited in the code):
//!
//! - the BLOB is a compact JWS (RFC 7515 §7.1) signed with RS256 or ES256 (RFC 7518 §3.3,
//!   §3.4); any other `alg`, and any `crit` header, is refused;
//! - `x5u` is not supported: one on another web origin than the BLOB's URL (or with no URL
//!   to compare, as for a file) is refused as [`Refusal::X5uForeignOrigin`], one on the same
//!   origin as [`Refusal::X5uNotSupported`] (fetching it would be IO; the FIDO Alliance's
//!   BLOB carries `x5c`);
//! - the `x5c` chain must lead to one of the caller's trust anchors (default: the bundled
//!   GlobalSign Root CA - R3, [`globalsign_root_r3`]) with every certificate valid at the
//!   verification time (`keyfleet-webauthn-rp`'s `x509::verify_chain`); without `x5c` the
//!   anchor itself is the signer (step 4);
//! - revocation: the caller either passes the CRLs it fetched ([`Revocation::Crls`]; every
//!   certificate of the chain must then be covered by a current CRL signed by its issuer,
//!   or the BLOB is refused as [`Refusal::RevocationUnknown`]) or decides explicitly to do
//!   without ([`Revocation::Offline`]), which the result records;
//! - the payload's `no` must be greater than the stored one ([`VerifiedBlob::check_newer`]),
//!   and a BLOB past its `nextUpdate` is stale ([`VerifiedBlob::is_stale`]: reported, the
//!   caller alarms).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use keyfleet_mds::{Revocation, Verifier, globalsign_root_r3};
//!
//! let roots = [globalsign_root_r3()];
//! let verifier = Verifier {
//!     roots: &roots,
//!     at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_666_440_000),
//!     revocation: Revocation::Offline,
//!     blob_url: None,
//! };
//! // Not a JWS at all: refused, typed.
//! let refusal = keyfleet_mds::verify(b"not a blob", &verifier).unwrap_err();
//! assert_eq!(refusal.code(), "malformed_blob");
//! ```

mod crl;
mod jws;
pub mod local;
mod payload;

use std::time::SystemTime;

use keyfleet_webauthn_rp::x509::{self, TrustAnchor, TrustError};
use thiserror::Error;

pub use crl::distribution_points;
pub use payload::{Aaguid, AuthenticatorStatus, Entry, StatusReport, aaguid_to_string, parse_aaguid};

/// Largest BLOB accepted, in bytes (the FIDO Alliance's is about 2 MB in 2022).
pub const MAX_BLOB_LEN: usize = 32 * 1024 * 1024;

/// GlobalSign Root CA - R3 (DER), the trust anchor of the FIDO Alliance's MDS3 BLOB
/// (MDS3 §3.2 step 1). The same file as `shared/conformance/mds/globalsign-root-r3.der`
/// and Debian's `ca-certificates` copy.
pub const GLOBALSIGN_ROOT_R3_DER: &[u8] = include_bytes!("../roots/globalsign-root-r3.der");

/// The bundled GlobalSign Root CA - R3 as a trust anchor.
pub fn globalsign_root_r3() -> TrustAnchor {
    // The bundled file parses: `tests::the_bundled_root_parses` checks it.
    TrustAnchor::from_der(GLOBALSIGN_ROOT_R3_DER).unwrap_or_else(|e| panic!("bundled GlobalSign root: {e}"))
}

/// How revocation of the signing chain is decided.
#[derive(Debug, Clone, Copy)]
pub enum Revocation<'a> {
    /// The CRLs (DER `CertificateList`s) the caller fetched from the chain's distribution
    /// points. Every certificate of `x5c` must be covered by one that its issuer signed and
    /// that is current at the verification time; a listed serial refuses the BLOB.
    Crls(&'a [Vec<u8>]),
    /// The explicit decision to verify without revocation information (no network, or a
    /// pinned historical verification). Recorded in [`VerifiedBlob::revocation`].
    Offline,
}

/// What revocation checking was done for an accepted BLOB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationChecked {
    /// Every certificate of the chain was checked against a current CRL.
    Crls,
    /// The caller chose to decide without CRLs.
    Offline,
}

impl RevocationChecked {
    /// Stable name (`crl`, `offline`).
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationChecked::Crls => "crl",
            RevocationChecked::Offline => "offline",
        }
    }
}

/// Everything [`verify`] needs besides the BLOB.
#[derive(Debug, Clone, Copy)]
pub struct Verifier<'a> {
    /// The trust anchors for the signing chain (usually just [`globalsign_root_r3`]).
    pub roots: &'a [TrustAnchor],
    /// The verification time (certificate and CRL validity).
    pub at: SystemTime,
    /// How revocation is decided.
    pub revocation: Revocation<'a>,
    /// The URL the BLOB was downloaded from, for the `x5u` origin rule; `None` for a file.
    pub blob_url: Option<&'a str>,
}

/// The JWS signature algorithm of a BLOB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4).
    Es256,
}

impl JwsAlg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlg::Rs256 => "RS256",
            JwsAlg::Es256 => "ES256",
        }
    }
}

/// Why a BLOB was refused. Each has a stable [`Refusal::code`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Not a compact JWS, or its header or payload do not decode (a truncated file too).
    #[error("malformed BLOB: {0}")]
    Malformed(String),
    /// `alg` is not RS256 or ES256 (or does not fit the signer's key), or a `crit` header.
    #[error("unsupported JWS algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// `x5u` on another web origin than the BLOB (MDS3 §3.2 step 3).
    #[error("x5u {0} is not on the BLOB's origin")]
    X5uForeignOrigin(String),
    /// `x5u` on the BLOB's origin: keyfleet does not fetch certificate chains.
    #[error("x5u is not supported (the BLOB must carry x5c)")]
    X5uNotSupported,
    /// A certificate of `x5c` does not parse.
    #[error("malformed certificate: {0}")]
    Certificate(String),
    /// The chain does not lead to a configured root.
    #[error("the signing chain does not lead to the configured root")]
    UntrustedChain,
    /// A certificate of the chain (or the root) has expired at the verification time.
    #[error("certificate {0} is expired at the verification time")]
    CertificateExpired(String),
    /// A certificate of the chain (or the root) is not yet valid at the verification time.
    #[error("certificate {0} is not yet valid at the verification time")]
    CertificateNotYetValid(String),
    /// The chain is misordered or a certificate signature fails.
    #[error("invalid certificate chain: {0}")]
    ChainInvalid(String),
    /// Revocation could not be decided: no current CRL signed by the issuer.
    #[error("revocation status unknown: {0}")]
    RevocationUnknown(String),
    /// A certificate of the chain is listed in its issuer's CRL.
    #[error("certificate {0} is revoked")]
    CertificateRevoked(String),
    /// The JWS signature does not verify with the signer's key.
    #[error("the BLOB's signature does not verify")]
    BadSignature,
    /// `no` is not greater than the stored BLOB's (MDS3 §3.2 step 5, anti-rollback).
    #[error("BLOB number {got} is not greater than the stored {stored}")]
    Rollback {
        /// The stored BLOB's `no`.
        stored: u64,
        /// This BLOB's `no`.
        got: u64,
    },
}

impl Refusal {
    /// Stable machine code (audit details, problem `code`s, the CLI's line).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed_blob",
            Refusal::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Refusal::X5uForeignOrigin(_) => "x5u_foreign_origin",
            Refusal::X5uNotSupported => "x5u_not_supported",
            Refusal::Certificate(_) => "certificate_malformed",
            Refusal::UntrustedChain => "untrusted_chain",
            Refusal::CertificateExpired(_) => "certificate_expired",
            Refusal::CertificateNotYetValid(_) => "certificate_not_yet_valid",
            Refusal::ChainInvalid(_) => "certificate_chain_invalid",
            Refusal::RevocationUnknown(_) => "revocation_unknown",
            Refusal::CertificateRevoked(_) => "certificate_revoked",
            Refusal::BadSignature => "bad_signature",
            Refusal::Rollback { .. } => "rollback",
        }
    }
}

impl From<TrustError> for Refusal {
    /// The certificate names in the messages come from the BLOB: cleaned, so that a refusal
    /// stays one line.
    fn from(e: TrustError) -> Self {
        match e {
            TrustError::NotAnchored => Refusal::UntrustedChain,
            TrustError::Expired(c) => Refusal::CertificateExpired(clean(&c)),
            TrustError::NotYetValid(c) => Refusal::CertificateNotYetValid(clean(&c)),
            TrustError::ChainInvalid(c) => Refusal::ChainInvalid(clean(&c)),
        }
    }
}

/// A BLOB that passed every check: its header facts and its typed payload.
#[derive(Debug, Clone)]
pub struct VerifiedBlob {
    /// The serial number (`no`).
    pub no: u64,
    /// `nextUpdate` (ISO 8601 date, UTC).
    pub next_update: time::Date,
    /// `legalHeader`, when present.
    pub legal_header: Option<String>,
    /// Every entry, in the BLOB's order.
    pub entries: Vec<Entry>,
    /// The signature algorithm.
    pub alg: JwsAlg,
    /// The signer: the leaf's common name (the root's, without `x5c`).
    pub signer: String,
    /// How revocation was decided.
    pub revocation: RevocationChecked,
}

impl VerifiedBlob {
    /// MDS3 §3.2 step 5: refuses a BLOB whose `no` is not greater than `stored` (the last
    /// good BLOB's). The store enforces the same rule again in the transaction that saves it.
    pub fn check_newer(&self, stored: Option<u64>) -> Result<(), Refusal> {
        match stored {
            Some(stored) if self.no <= stored => Err(Refusal::Rollback { stored, got: self.no }),
            _ => Ok(()),
        }
    }

    /// Whether the BLOB is past its `nextUpdate` at `at` (from 00:00 UTC of that day): the
    /// caller should have a newer one and alarms (MDS3 §3.2 step 2).
    pub fn is_stale(&self, at: SystemTime) -> bool {
        payload::is_past(self.next_update, at)
    }

    /// The entries that name an AAGUID (FIDO2 authenticators), the only ones a WebAuthn
    /// relying party can look up.
    pub fn aaguid_entries(&self) -> impl Iterator<Item = (&Aaguid, &Entry)> {
        self.entries.iter().filter_map(|e| e.aaguid.as_ref().map(|a| (a, e)))
    }
}

/// Verifies `blob` (the BLOB file's bytes) as MDS3 §3.2 says; see the crate documentation.
pub fn verify(blob: &[u8], verifier: &Verifier<'_>) -> Result<VerifiedBlob, Refusal> {
    if blob.len() > MAX_BLOB_LEN {
        return Err(Refusal::Malformed(format!("larger than {MAX_BLOB_LEN} bytes")));
    }
    let compact = jws::Compact::parse(blob)?;
    let alg = compact.alg()?;
    // Step 3: x5u only on the BLOB's own origin; keyfleet fetches nothing, so even then it
    // is refused (the FIDO Alliance's BLOB carries x5c).
    if let Some(x5u) = &compact.header.x5u {
        return Err(x5u_refusal(x5u, verifier.blob_url));
    }
    // Step 4: the chain from x5c, verified to a root at the verification time; without x5c
    // the root itself is the signer (it has no issuer whose CRL could list it).
    let leaf = match &compact.header.x5c {
        Some(x5c) => {
            let chain = jws::decode_x5c(x5c)?;
            let anchor = x509::verify_chain(&chain, verifier.roots, verifier.at)?;
            if let Revocation::Crls(crls) = verifier.revocation {
                crl::check_chain(&chain, anchor, crls, verifier.at)?;
            }
            chain
                .into_iter()
                .next()
                .ok_or_else(|| Refusal::Malformed("empty x5c".into()))?
        }
        None => {
            let root = verifier.roots.first().ok_or(Refusal::UntrustedChain)?;
            root.cert()
                .check_validity(verifier.at, &format!("trust anchor ({})", root.cert().label()))?;
            root.cert().clone()
        }
    };
    let revocation = match verifier.revocation {
        Revocation::Crls(_) => RevocationChecked::Crls,
        Revocation::Offline => RevocationChecked::Offline,
    };
    // Step 5: the signature.
    jws::verify_signature(alg, &leaf, compact.signing_input, &compact.signature)?;
    let payload = payload::parse(&compact.payload)?;
    Ok(VerifiedBlob {
        no: payload.no,
        next_update: payload.next_update,
        legal_header: payload.legal_header,
        entries: payload.entries,
        alg,
        signer: clean(&leaf.label()),
        revocation,
    })
}

/// Whether a stored `nextUpdate` (`YYYY-MM-DD`) has passed at `at` (from 00:00 UTC of that
/// day); `None` when the text is not such a date.
pub fn next_update_passed(next_update: &str, at: SystemTime) -> Option<bool> {
    payload::date(next_update, "nextUpdate")
        .ok()
        .map(|d| payload::is_past(d, at))
}

/// The start (00:00 UTC) of a stored `nextUpdate` (`YYYY-MM-DD`), in milliseconds since the
/// Unix epoch; `None` when the text is not such a date.
pub fn next_update_millis(next_update: &str) -> Option<i64> {
    let d = payload::date(next_update, "nextUpdate").ok()?;
    let secs = d.midnight().assume_utc().unix_timestamp();
    secs.checked_mul(1000)
}

/// `nextUpdate` as stored (`YYYY-MM-DD`).
pub fn format_date(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// The refusal for a header with `x5u` (MDS3 §3.2 step 3).
fn x5u_refusal(x5u: &str, blob_url: Option<&str>) -> Refusal {
    let origin = |u: &str| {
        url::Url::parse(u)
            .ok()
            .map(|u| u.origin())
            .filter(url::Origin::is_tuple)
    };
    match (origin(x5u), blob_url.and_then(origin)) {
        (Some(a), Some(b)) if a == b => Refusal::X5uNotSupported,
        _ => Refusal::X5uForeignOrigin(clean(x5u)),
    }
}

/// Text from the BLOB made fit for one line of a message: no control characters, at most
/// 120 characters.
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests;
