//! X.509 certificates for attestation (RFC 5280) and path validation against trust anchors
//! the caller supplies, at a time the caller supplies.
//!
//! Path validation here is deliberately narrow (WebAuthn L3 §7.1 step 24, checklist §1.3):
//! each certificate in `x5c` must be issued (name chaining plus a verified signature) by
//! the next one, every issuer inside `x5c` must be a CA, every certificate (anchors
//! included) must be valid at `now`, and the last one must be issued by, or be byte-identical
//! to, one of the trust anchors. A self-signed certificate inside `x5c` is never a trust
//! anchor (SimpleWebAuthn GHSA-6hxq-p678-4hr2). Nothing is ever fetched (no AIA, no CRL, no
//! OCSP: revocation comes from MDS, outside this crate).

use std::time::{Duration, SystemTime};

use der::{Decode, Encode, Tagged};
use thiserror::Error;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};

use crate::cose::{self, CoseAlgorithm, EcCurve, HashAlg, PublicKey, SignatureError};

/// Longest `x5c` accepted (leaf plus intermediates).
pub const MAX_CHAIN_LEN: usize = 8;

/// Object identifiers used in attestation certificates.
pub mod oid {
    /// id-fido-gen-ce-aaguid.
    pub const FIDO_GEN_CE_AAGUID: &str = "1.3.6.1.4.1.45724.1.1.4";
    /// Android key attestation extension.
    pub const ANDROID_KEY_DESCRIPTION: &str = "1.3.6.1.4.1.11129.2.1.17";
    /// Apple anonymous attestation nonce extension.
    pub const APPLE_NONCE: &str = "1.2.840.113635.100.8.2";
    /// tcg-kp-AIKCertificate.
    pub const TCG_KP_AIK_CERTIFICATE: &str = "2.23.133.8.3";
    /// tcg-at-tpmManufacturer.
    pub const TCG_AT_TPM_MANUFACTURER: &str = "2.23.133.2.1";
    /// tcg-at-tpmModel.
    pub const TCG_AT_TPM_MODEL: &str = "2.23.133.2.2";
    /// tcg-at-tpmVersion.
    pub const TCG_AT_TPM_VERSION: &str = "2.23.133.2.3";
    /// basicConstraints.
    pub const BASIC_CONSTRAINTS: &str = "2.5.29.19";
    /// extKeyUsage.
    pub const EXT_KEY_USAGE: &str = "2.5.29.37";
    /// subjectAltName.
    pub const SUBJECT_ALT_NAME: &str = "2.5.29.17";
    /// countryName.
    pub const COUNTRY: &str = "2.5.4.6";
    /// organizationName.
    pub const ORGANIZATION: &str = "2.5.4.10";
    /// organizationalUnitName.
    pub const ORGANIZATIONAL_UNIT: &str = "2.5.4.11";
    /// commonName.
    pub const COMMON_NAME: &str = "2.5.4.3";
}

/// Why a certificate could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CertError {
    /// Not a DER X.509 certificate.
    #[error("malformed certificate: {0}")]
    Malformed(String),
    /// The subject public key is of an unsupported type, or invalid.
    #[error("unsupported or invalid certificate public key: {0}")]
    UnsupportedKey(String),
    /// A PEM block could not be decoded.
    #[error("malformed PEM")]
    Pem,
}

/// Why an attestation trust path was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrustError {
    /// The chain does not reach any trust anchor.
    #[error("attestation trust path does not chain to a trust anchor")]
    NotAnchored,
    /// A certificate (index into x5c, or anchor) is expired at `now`.
    #[error("certificate {0} is expired")]
    Expired(String),
    /// A certificate is not yet valid at `now`.
    #[error("certificate {0} is not yet valid")]
    NotYetValid(String),
    /// x5c is misordered, a signature fails, or an issuer is not a CA.
    #[error("invalid certificate chain: {0}")]
    ChainInvalid(String),
}

impl TrustError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            TrustError::NotAnchored => "untrusted_attestation",
            TrustError::Expired(_) => "certificate_expired",
            TrustError::NotYetValid(_) => "certificate_not_yet_valid",
            TrustError::ChainInvalid(_) => "certificate_chain_invalid",
        }
    }
}

/// A parsed certificate with its original DER.
#[derive(Debug, Clone)]
pub struct Cert {
    der: Vec<u8>,
    cert: Certificate,
    /// Byte range of the TBSCertificate in `der` (signed bytes, taken as received).
    tbs: std::ops::Range<usize>,
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Cert {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let cert = Certificate::from_der(der).map_err(|e| CertError::Malformed(e.to_string()))?;
        let tbs = tbs_range(der).ok_or_else(|| CertError::Malformed("cannot locate TBSCertificate".into()))?;
        Ok(Self {
            der: der.to_vec(),
            cert,
            tbs,
        })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed certificate.
    pub fn inner(&self) -> &Certificate {
        &self.cert
    }

    /// True for an X.509 v3 certificate.
    pub fn is_v3(&self) -> bool {
        self.cert.tbs_certificate.version == x509_cert::Version::V3
    }

    /// True if the subject is an empty sequence.
    pub fn subject_is_empty(&self) -> bool {
        self.cert.tbs_certificate.subject.0.is_empty()
    }

    /// The subject's attribute values for `attr_oid`, as text.
    pub fn subject_attr(&self, attr_oid: &str) -> Vec<String> {
        name_attrs(&self.cert.tbs_certificate.subject, attr_oid)
    }

    /// A short description for error messages (the subject's CN, else the DER subject length).
    pub fn label(&self) -> String {
        self.subject_attr(oid::COMMON_NAME)
            .into_iter()
            .next()
            .unwrap_or_else(|| "(no CN)".into())
    }

    /// The extension with `ext_oid`: (critical, DER value inside the OCTET STRING).
    pub fn extension(&self, ext_oid: &str) -> Option<(bool, &[u8])> {
        let extensions = self.cert.tbs_certificate.extensions.as_ref()?;
        extensions
            .iter()
            .find(|e| e.extn_id.to_string() == ext_oid)
            .map(|e| (e.critical, e.extn_value.as_bytes()))
    }

    /// basicConstraints cA, or `None` if the extension is absent (or unparseable).
    pub fn basic_constraints_ca(&self) -> Option<bool> {
        let (_, value) = self.extension(oid::BASIC_CONSTRAINTS)?;
        BasicConstraints::from_der(value).ok().map(|bc| bc.ca)
    }

    /// True if the extendedKeyUsage extension lists `purpose`.
    pub fn has_eku(&self, purpose: &str) -> bool {
        let Some((_, value)) = self.extension(oid::EXT_KEY_USAGE) else {
            return false;
        };
        ExtendedKeyUsage::from_der(value)
            .map(|eku| eku.0.iter().any(|p| p.to_string() == purpose))
            .unwrap_or(false)
    }

    /// The attribute OIDs and values of every directoryName in subjectAltName.
    pub fn san_directory_attrs(&self) -> Option<Vec<(String, String)>> {
        let (_, value) = self.extension(oid::SUBJECT_ALT_NAME)?;
        let san = SubjectAltName::from_der(value).ok()?;
        let mut out = Vec::new();
        for name in san.0 {
            if let x509_cert::ext::pkix::name::GeneralName::DirectoryName(dn) = name {
                for rdn in dn.0.iter() {
                    for atv in rdn.0.iter() {
                        out.push((atv.oid.to_string(), any_to_text(&atv.value).unwrap_or_default()));
                    }
                }
            }
        }
        Some(out)
    }

    /// The validated subject public key.
    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        spki_to_key(&self.cert.tbs_certificate.subject_public_key_info)
    }

    /// Checks notBefore ≤ now ≤ notAfter.
    pub fn check_validity(&self, now: SystemTime, label: &str) -> Result<(), TrustError> {
        let now = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let validity = &self.cert.tbs_certificate.validity;
        if now < validity.not_before.to_unix_duration() {
            return Err(TrustError::NotYetValid(label.to_owned()));
        }
        if now > validity.not_after.to_unix_duration() {
            return Err(TrustError::Expired(label.to_owned()));
        }
        Ok(())
    }

    fn issuer_der(&self) -> Option<Vec<u8>> {
        self.cert.tbs_certificate.issuer.to_der().ok()
    }

    fn subject_der(&self) -> Option<Vec<u8>> {
        self.cert.tbs_certificate.subject.to_der().ok()
    }

    /// True if `issuer`'s subject names this certificate's issuer and its key verifies the signature.
    pub fn is_issued_by(&self, issuer: &Cert) -> bool {
        match (self.issuer_der(), issuer.subject_der()) {
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
        match issuer.public_key() {
            Ok(key) => self.verify_signature(&key).is_ok(),
            Err(_) => false,
        }
    }

    /// Verifies this certificate's signature with `key`.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), SignatureError> {
        let tbs = &self.der[self.tbs.clone()];
        let signature = self.cert.signature.as_bytes().ok_or(SignatureError::Malformed)?;
        let alg = self.cert.signature_algorithm.oid.to_string();
        let ecdsa = |hash: HashAlg| key.verify_ecdsa_prehash(&hash.digest(&[tbs]), signature);
        let rsa = |cose_alg: CoseAlgorithm| match key {
            PublicKey::Rsa(k) => cose::rsa_verify(k, cose_alg, &cose_alg.hash().digest(&[tbs]), signature),
            _ => Err(SignatureError::AlgorithmKeyMismatch),
        };
        match alg.as_str() {
            "1.2.840.10045.4.3.2" => ecdsa(HashAlg::Sha256),
            "1.2.840.10045.4.3.3" => ecdsa(HashAlg::Sha384),
            "1.2.840.10045.4.3.4" => ecdsa(HashAlg::Sha512),
            "1.2.840.113549.1.1.5" => rsa(CoseAlgorithm::Rs1),
            "1.2.840.113549.1.1.11" => rsa(CoseAlgorithm::Rs256),
            "1.2.840.113549.1.1.12" => rsa(CoseAlgorithm::Rs384),
            "1.2.840.113549.1.1.13" => rsa(CoseAlgorithm::Rs512),
            "1.3.101.112" => key.verify(CoseAlgorithm::Ed25519, &[tbs], signature),
            _ => Err(SignatureError::AlgorithmKeyMismatch),
        }
    }
}

/// A trust anchor: a root (or pinned intermediate) certificate the caller trusts.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustAnchor {
    cert: Cert,
}

impl TrustAnchor {
    /// A trust anchor from DER.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        Ok(Self {
            cert: Cert::from_der(der)?,
        })
    }

    /// Every `CERTIFICATE` block in a PEM text.
    pub fn from_pem(pem: &str) -> Result<Vec<Self>, CertError> {
        pem_blocks(pem)?.iter().map(|der| Self::from_der(der)).collect()
    }

    /// The anchor's certificate.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }
}

/// Decodes every `-----BEGIN CERTIFICATE-----` block.
pub fn pem_blocks(pem: &str) -> Result<Vec<Vec<u8>>, CertError> {
    use base64::Engine;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after.find(END).ok_or(CertError::Pem)?;
        let body: String = after[..end].chars().filter(|c| !c.is_whitespace()).collect();
        out.push(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| CertError::Pem)?,
        );
        rest = &after[end + END.len()..];
    }
    if out.is_empty() { Err(CertError::Pem) } else { Ok(out) }
}

/// Parses an x5c array of DER certificates (leaf first).
pub fn parse_chain(x5c: &[&[u8]]) -> Result<Vec<Cert>, CertError> {
    if x5c.is_empty() || x5c.len() > MAX_CHAIN_LEN {
        return Err(CertError::Malformed(format!(
            "x5c must hold 1..={MAX_CHAIN_LEN} certificates"
        )));
    }
    x5c.iter().map(|der| Cert::from_der(der)).collect()
}

/// Validates `chain` (leaf first) up to one of `anchors` at `now`; returns the anchor used.
pub fn verify_chain<'a>(
    chain: &[Cert],
    anchors: &'a [TrustAnchor],
    now: SystemTime,
) -> Result<&'a TrustAnchor, TrustError> {
    for (i, cert) in chain.iter().enumerate() {
        cert.check_validity(now, &format!("x5c[{i}] ({})", cert.label()))?;
    }
    // Every certificate in x5c must be issued by the next one, which must be a CA: x5c is
    // one ordered path, with nothing misordered or unrelated in it.
    for (i, pair) in chain.windows(2).enumerate() {
        if !pair[0].is_issued_by(&pair[1]) {
            return Err(TrustError::ChainInvalid(format!(
                "x5c[{}] is not issued by x5c[{}]",
                i,
                i + 1
            )));
        }
        if pair[1].basic_constraints_ca() != Some(true) {
            return Err(TrustError::ChainInvalid(format!(
                "x5c[{}] issues certificates but is not a CA",
                i + 1
            )));
        }
    }
    for (i, cert) in chain.iter().enumerate() {
        // The certificate is itself an anchor (some authenticators include the root in x5c).
        // Only a byte-identical copy counts: a self-signed look-alike does not.
        if i > 0
            && let Some(anchor) = anchors.iter().find(|a| a.cert == *cert)
        {
            anchor
                .cert
                .check_validity(now, &format!("trust anchor ({})", anchor.cert.label()))?;
            return Ok(anchor);
        }
        // Or an anchor issued it.
        if let Some(anchor) = anchors.iter().find(|a| cert.is_issued_by(&a.cert)) {
            anchor
                .cert
                .check_validity(now, &format!("trust anchor ({})", anchor.cert.label()))?;
            return Ok(anchor);
        }
    }
    Err(TrustError::NotAnchored)
}

fn name_attrs(name: &x509_cert::name::Name, attr_oid: &str) -> Vec<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid.to_string() == attr_oid)
        .filter_map(|atv| any_to_text(&atv.value))
        .collect()
}

/// The text of a DirectoryString-like value (PrintableString, UTF8String, IA5String, TeletexString).
fn any_to_text(value: &der::Any) -> Option<String> {
    match value.tag() {
        der::Tag::PrintableString | der::Tag::Utf8String | der::Tag::Ia5String | der::Tag::TeletexString => {
            std::str::from_utf8(value.value()).ok().map(str::to_owned)
        }
        _ => None,
    }
}

fn spki_to_key(spki: &spki::SubjectPublicKeyInfoOwned) -> Result<PublicKey, CertError> {
    let alg = spki.algorithm.oid.to_string();
    let key_bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| CertError::UnsupportedKey("unaligned key bits".into()))?;
    match alg.as_str() {
        // id-ecPublicKey: the curve is the parameter.
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|o| o.to_string())
                .unwrap_or_default();
            let curve = match curve.as_str() {
                "1.2.840.10045.3.1.7" => EcCurve::P256,
                "1.3.132.0.34" => EcCurve::P384,
                "1.3.132.0.35" => EcCurve::P521,
                other => return Err(CertError::UnsupportedKey(format!("EC curve {other}"))),
            };
            PublicKey::ec_from_sec1(curve, key_bytes).ok_or_else(|| {
                CertError::UnsupportedKey(
                    match curve {
                        EcCurve::P256 => "invalid P-256 point",
                        EcCurve::P384 => "invalid P-384 point",
                        EcCurve::P521 => "invalid P-521 point",
                    }
                    .into(),
                )
            })
        }
        // rsaEncryption: RSAPublicKey ::= SEQUENCE { modulus, publicExponent } (RFC 8017 A.1.1).
        "1.2.840.113549.1.1.1" => {
            let key = pkcs1::RsaPublicKey::from_der(key_bytes)
                .map_err(|e| CertError::UnsupportedKey(format!("RSA key: {e}")))?;
            cose::rsa_key(key.modulus.as_bytes(), key.public_exponent.as_bytes())
                .map_err(|e| CertError::UnsupportedKey(e.to_string()))
        }
        "1.3.101.112" => cose::ed25519_key(key_bytes).map_err(|e| CertError::UnsupportedKey(e.to_string())),
        other => Err(CertError::UnsupportedKey(format!("key algorithm {other}"))),
    }
}

/// Reads a DER tag and length at the start of `data`: (header length, content length).
pub(crate) fn der_header(data: &[u8]) -> Option<(usize, usize)> {
    let first_len = *data.get(1)?;
    if first_len < 0x80 {
        return Some((2, usize::from(first_len)));
    }
    let n = usize::from(first_len & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for b in data.get(2..2 + n)? {
        len = (len << 8) | usize::from(*b);
    }
    Some((2 + n, len))
}

/// The byte range of the signed part of a SIGNED{…} structure, `SEQUENCE { tbs, alg, sig }`:
/// TBSCertificate inside a Certificate, TBSCertList inside a CertificateList (RFC 5280 §4.1,
/// §5.1).
pub fn tbs_range(der: &[u8]) -> Option<std::ops::Range<usize>> {
    let (outer_header, _) = der_header(der)?;
    let (tbs_header, tbs_len) = der_header(der.get(outer_header..)?)?;
    let end = outer_header.checked_add(tbs_header)?.checked_add(tbs_len)?;
    (end <= der.len()).then_some(outer_header..end)
}

/// A minimal DER walker for the few attestation extensions x509-cert has no type for
/// (android-key's KeyDescription with its high tag numbers, apple's nonce).
pub(crate) mod der_walk {
    /// One TLV: its class/constructed bits, tag number and content.
    #[derive(Debug, Clone, Copy)]
    pub struct Tlv<'a> {
        /// Class and constructed bits of the first identifier octet (`0xe0` mask).
        pub class: u8,
        /// The tag number (multi-byte tags decoded).
        pub number: u32,
        /// The first identifier octet as received.
        pub first: u8,
        /// The contents octets.
        pub content: &'a [u8],
    }

    /// Reads one TLV (definite lengths only) and returns it with the bytes after it.
    pub fn read(data: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
        let first = *data.first()?;
        let mut pos = 1;
        let mut number = u32::from(first & 0x1f);
        if number == 0x1f {
            number = 0;
            loop {
                let b = *data.get(pos)?;
                pos += 1;
                number = number.checked_mul(128)?.checked_add(u32::from(b & 0x7f))?;
                if b & 0x80 == 0 {
                    break;
                }
                if pos > 5 {
                    return None;
                }
            }
        }
        let len_byte = *data.get(pos)?;
        pos += 1;
        let len = if len_byte < 0x80 {
            usize::from(len_byte)
        } else {
            let n = usize::from(len_byte & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for b in data.get(pos..pos + n)? {
                len = (len << 8) | usize::from(*b);
            }
            pos += n;
            len
        };
        let end = pos.checked_add(len)?;
        let content = data.get(pos..end)?;
        Some((
            Tlv {
                class: first & 0xe0,
                number,
                first,
                content,
            },
            &data[end..],
        ))
    }

    /// The content of the single TLV spanning `data`, if its first identifier octet is `tag`.
    pub fn expect(data: &[u8], tag: u8) -> Option<&[u8]> {
        match read(data)? {
            (tlv, []) if tlv.first == tag => Some(tlv.content),
            _ => None,
        }
    }

    /// Splits `data` into consecutive TLVs; `None` if any is malformed.
    pub fn all(mut data: &[u8]) -> Option<Vec<Tlv<'_>>> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let (tlv, rest) = read(data)?;
            out.push(tlv);
            data = rest;
        }
        Some(out)
    }
}

#[cfg(test)]
pub(crate) mod tests;
