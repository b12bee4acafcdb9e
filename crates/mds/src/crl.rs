//! Revocation of the BLOB's signing chain from CRLs the caller fetched (RFC 5280 §5, §6.3,
//! narrowed): each certificate of `x5c` must be covered by a CRL whose issuer name is the
//! certificate's issuer, whose signature verifies with the issuer's key (the next
//! certificate in `x5c`, or the trust anchor), and that is current at the verification time
//! (`thisUpdate ≤ at ≤ nextUpdate`). A CRL that fails any of these is not used; a certificate
//! with no usable CRL leaves revocation unknown, and MDS3 §3.2 step 1 (checklist §1.4)
//! refuses the BLOB then. Delta CRLs, indirect CRLs and distribution-point scoping are not
//! supported: a CRL with critical extensions is not used.

use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use keyfleet_webauthn_rp::x509::{Cert, TrustAnchor};
use x509_cert::crl::CertificateList;

use crate::jws::verify_x509_signature;
use crate::{Refusal, clean};

/// A CRL that parsed, with the bytes its signature covers.
struct Crl<'a> {
    list: CertificateList,
    tbs: &'a [u8],
}

impl<'a> Crl<'a> {
    fn parse(der: &'a [u8]) -> Option<Self> {
        let list = CertificateList::from_der(der).ok()?;
        let tbs = der.get(keyfleet_webauthn_rp::x509::tbs_range(der)?)?;
        Some(Self { list, tbs })
    }

    /// Issued by `issuer` (name and signature), current at `at`, no critical extension.
    fn usable_for(&self, cert: &Cert, issuer: &Cert, at: SystemTime) -> bool {
        let tbs = &self.list.tbs_cert_list;
        let names_issuer = match (tbs.issuer.to_der(), cert.inner().tbs_certificate.issuer.to_der()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !names_issuer {
            return false;
        }
        let critical = tbs
            .crl_extensions
            .as_ref()
            .is_some_and(|exts| exts.iter().any(|e| e.critical));
        if critical {
            return false;
        }
        let at = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let current =
            tbs.this_update.to_unix_duration() <= at && tbs.next_update.is_some_and(|n| at <= n.to_unix_duration());
        if !current {
            return false;
        }
        let Some(sig) = self.list.signature.as_bytes() else {
            return false;
        };
        let alg = self.list.signature_algorithm.oid.to_string();
        verify_x509_signature(issuer, &alg, self.tbs, sig)
    }

    fn lists(&self, cert: &Cert) -> bool {
        let serial = &cert.inner().tbs_certificate.serial_number;
        self.list
            .tbs_cert_list
            .revoked_certificates
            .as_ref()
            .is_some_and(|revoked| revoked.iter().any(|r| r.serial_number == *serial))
    }
}

/// Checks every certificate of `chain` (leaf first, validated up to `anchor`) against `crls`.
pub(crate) fn check_chain(
    chain: &[Cert],
    anchor: &TrustAnchor,
    crls: &[Vec<u8>],
    at: SystemTime,
) -> Result<(), Refusal> {
    let parsed: Vec<Crl<'_>> = crls.iter().filter_map(|der| Crl::parse(der)).collect();
    for (i, cert) in chain.iter().enumerate() {
        // The anchor's own copy inside x5c (some chains carry it) has no issuer to ask.
        if *cert == *anchor.cert() {
            continue;
        }
        let issuer = chain.get(i + 1).unwrap_or(anchor.cert());
        let usable: Vec<&Crl<'_>> = parsed.iter().filter(|c| c.usable_for(cert, issuer, at)).collect();
        if usable.is_empty() {
            return Err(Refusal::RevocationUnknown(format!(
                "no current CRL signed by the issuer of x5c[{i}] ({})",
                clean(&cert.label())
            )));
        }
        if usable.iter().any(|c| c.lists(cert)) {
            return Err(Refusal::CertificateRevoked(format!(
                "x5c[{i}] ({})",
                clean(&cert.label())
            )));
        }
    }
    Ok(())
}

/// The CRL distribution points of each certificate of a BLOB's `x5c` (signer first): the
/// `http`/`https` URIs of the extension's full names (RFC 5280 §4.2.1.13), for a fetcher to
/// fill [`crate::Revocation::Crls`]. A certificate without the extension, or with none of those
/// URIs, gets an empty list. Does not verify anything; an unreadable BLOB or `x5c` is refused
/// as [`crate::verify`] would refuse it.
pub fn distribution_points(blob: &[u8]) -> Result<Vec<Vec<String>>, Refusal> {
    use x509_cert::ext::pkix::CrlDistributionPoints;
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    const CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
    let compact = crate::jws::Compact::parse(blob)?;
    let Some(x5c) = &compact.header.x5c else {
        return Ok(Vec::new());
    };
    let certs = crate::jws::decode_x5c(x5c)?;
    Ok(certs
        .iter()
        .map(|cert| {
            let Some((_, value)) = cert.extension(CRL_DISTRIBUTION_POINTS) else {
                return Vec::new();
            };
            let Ok(points) = CrlDistributionPoints::from_der(value) else {
                return Vec::new();
            };
            points
                .0
                .iter()
                .filter_map(|p| match &p.distribution_point {
                    Some(DistributionPointName::FullName(names)) => Some(names),
                    _ => None,
                })
                .flatten()
                .filter_map(|n| match n {
                    GeneralName::UniformResourceIdentifier(uri) => Some(uri.as_str().to_owned()),
                    _ => None,
                })
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                .collect()
        })
        .collect())
}
