//! Enterprise attestation (CTAP 2.1 §7.1): an attestation that identifies the individual device.
//!
//! - Capable: the factory provisioned a batch certificate (`x5c` non-empty, first certificate
//!   parseable). getInfo then carries the `ep` option: false until authenticatorConfig
//!   enableEnterpriseAttestation (§6.11.1) turns it on; authenticatorReset turns it off again.
//! - Vendor-facilitated (enterpriseAttestation = 1, §7.1.1): only for the RP IDs the factory
//!   listed in the state ([`State::set_enterprise_rp_ids`](crate::State::set_enterprise_rp_ids));
//!   any other RP gets the ordinary batch attestation and no `epAtt`.
//! - Platform-managed (enterpriseAttestation = 2, §7.1.2): for any RP ID; the platform decides
//!   (python-fido2 sends 2 for the RP IDs of its enterprise list).
//!
//! What carries the serial number: a device certificate made on the fly, placed first in `x5c`
//! before the batch chain. Its subject is `CN=keyfleet <model> <serial>, serialNumber=<serial>,
//! OU=Authenticator Attestation, O=keyfleet, C=DE` (the packed-attestation subject rules, with the
//! X.520 serialNumber attribute added); its public key is the batch attestation key (which signs
//! the attestation statement, so the `sig` check against `x5c[0]` holds); it carries the AAGUID
//! extension (1.3.6.1.4.1.45724.1.1.4); it is issued under the batch certificate's subject and
//! signed with the batch key, with the batch certificate's validity; its serial number is
//! LEFT(SHA-256(serial), 16) with the sign bit cleared. Everything is deterministic (RFC 6979
//! ECDSA), so the same device always presents the same certificate and no clock is needed.
//!
//! A relying party that wants the serial reads it from `x5c[0]`'s subject and checks that
//! `x5c[0]` is signed by `x5c[1]`'s key and `x5c[1]` chains to the factory CA. A strict RFC 5280
//! path validator does not accept the batch certificate as an issuer (it is not a CA); that is
//! the price of not holding a CA key in the device. The factory can avoid it: it issues the
//! device certificate itself with its CA ([`State::set_enterprise_certificate`]), and enterprise
//! attestations then present `x5c = [that certificate]`, which chains to the factory CA.

use std::str::FromStr;

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use p256::ecdsa::{DerSignature, SigningKey};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::ext::AsExtension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

use crate::crypto;
use crate::state::State;

/// enterpriseAttestation value of vendor-facilitated enterprise attestation.
pub const VENDOR_FACILITATED: u64 = 1;
/// enterpriseAttestation value of platform-managed enterprise attestation.
pub const PLATFORM_MANAGED: u64 = 2;

/// id-fido-gen-ce-aaguid: the attestation certificate extension naming the model's AAGUID
/// (WebAuthn L3 §8.2.1).
pub const AAGUID_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.45724.1.1.4");

/// Whether this device can give enterprise attestation: it has a parseable batch certificate.
pub fn capable(state: &State) -> bool {
    state
        .attestation
        .cert_chain_der
        .first()
        .is_some_and(|c| Certificate::from_der(c).is_ok())
}

/// Whether `der` is an X.509 certificate for the batch attestation key.
pub fn certifies_batch_key(state: &State, der: &[u8]) -> bool {
    let Ok(cert) = Certificate::from_der(der) else {
        return false;
    };
    let Ok(key) = SigningKey::from_slice(state.attestation.private_key.as_slice()) else {
        return false;
    };
    SubjectPublicKeyInfoOwned::from_key(*key.verifying_key())
        .is_ok_and(|spki| spki == cert.tbs_certificate.subject_public_key_info)
}

/// The `x5c` of an enterprise attestation: the factory-issued device certificate alone if one
/// was set, else the engine's own device certificate followed by the batch chain. `None` when the
/// device is not capable.
pub fn chain(state: &State) -> Option<Vec<Vec<u8>>> {
    if let Some(cert) = &state.ep_certificate {
        return Some(vec![cert.clone()]);
    }
    let mut chain = vec![certificate(state)?];
    chain.extend(state.attestation.cert_chain_der.iter().cloned());
    Some(chain)
}

/// The device certificate (DER) described in the module documentation; `None` when the device
/// is not capable or the batch key is unusable.
pub fn certificate(state: &State) -> Option<Vec<u8>> {
    let batch = Certificate::from_der(state.attestation.cert_chain_der.first()?).ok()?;
    let key = SigningKey::from_slice(state.attestation.private_key.as_slice()).ok()?;
    let serial = printable(&state.attestation.serial_number);
    let subject = Name::from_str(&format!(
        "CN=keyfleet {} {serial},serialNumber={serial},OU=Authenticator Attestation,O=keyfleet,C=DE",
        state.model.name
    ))
    .ok()?;
    let mut cert_serial: [u8; 16] = crypto::sha256(state.attestation.serial_number.as_bytes())[..16]
        .try_into()
        .ok()?;
    cert_serial[0] &= 0x7F; // positive
    cert_serial[0] |= 0x01; // and without a leading zero byte
    let profile = Profile::Leaf {
        issuer: batch.tbs_certificate.subject.clone(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
    };
    let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).ok()?;
    let mut builder = CertificateBuilder::new(
        profile,
        SerialNumber::new(&cert_serial).ok()?,
        batch.tbs_certificate.validity,
        subject,
        spki,
        &key,
    )
    .ok()?;
    builder.add_extension(&AaguidExtension(state.model.aaguid)).ok()?;
    builder.build::<DerSignature>().ok()?.to_der().ok()
}

/// The serial number as a PrintableString-safe RDN value: ASCII letters, digits, `-` and
/// space are kept, anything else becomes `-` (factory serials are `KF-` and hex digits).
fn printable(serial: &str) -> String {
    serial
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == ' ' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The extension carrying a model's AAGUID, for every attestation certificate keyfleet makes
/// (the factory's batch and device certificates, and the engine's own).
pub struct AaguidExtension(pub [u8; 16]);

impl der::oid::AssociatedOid for AaguidExtension {
    const OID: ObjectIdentifier = AAGUID_OID;
}

impl Encode for AaguidExtension {
    fn encoded_len(&self) -> der::Result<der::Length> {
        OctetString::new(self.0.as_slice())?.encoded_len()
    }

    fn encode(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        OctetString::new(self.0.as_slice())?.encode(writer)
    }
}

impl AsExtension for AaguidExtension {
    fn critical(&self, _subject: &Name, _extensions: &[x509_cert::ext::Extension]) -> bool {
        // WebAuthn: "This extension MUST NOT be marked as critical."
        false
    }
}

#[cfg(test)]
mod tests;
