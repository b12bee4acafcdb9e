//! `android-key` attestation (WebAuthn L3 §8.4).
//!
//! ```text
//! attStmt = { alg: COSEAlgorithmIdentifier, sig: bytes, x5c: [ credCert: bytes, * (caCert: bytes) ] }
//! ```
//! The leaf carries the Android Key Attestation extension (OID 1.3.6.1.4.1.11129.2.1.17):
//! ```text
//! KeyDescription ::= SEQUENCE {
//!   attestationVersion INTEGER, attestationSecurityLevel ENUMERATED,
//!   keyMintVersion INTEGER, keyMintSecurityLevel ENUMERATED,
//!   attestationChallenge OCTET STRING, uniqueId OCTET STRING,
//!   softwareEnforced AuthorizationList, hardwareEnforced AuthorizationList }
//! AuthorizationList ::= SEQUENCE { purpose [1] EXPLICIT SET OF INTEGER OPTIONAL, ...,
//!   allApplications [600] EXPLICIT NULL OPTIONAL, ..., origin [702] EXPLICIT INTEGER OPTIONAL, ... }
//! ```

use super::{
    AttestationError, AttestationType, StatementInput, StatementOutcome, check_same_key, only_members, stmt_alg,
    stmt_bytes, stmt_x5c,
};
use crate::cose::CoseAlgorithm;
use crate::x509::der_walk::{self, Tlv};
use crate::x509::oid;

/// KM_ORIGIN_GENERATED.
const KM_ORIGIN_GENERATED: i64 = 0;
/// KM_PURPOSE_SIGN.
const KM_PURPOSE_SIGN: i64 = 2;
const TAG_PURPOSE: u32 = 1;
const TAG_ALL_APPLICATIONS: u32 = 600;
const TAG_ORIGIN: u32 = 702;

/// Verification procedure (§8.4).
pub fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestationError> {
    // 1. Verify that attStmt is valid CBOR conforming to the syntax defined above.
    only_members(input.att_stmt, &["alg", "sig", "x5c"])?;
    let alg = stmt_alg(input.att_stmt)?;
    if alg == CoseAlgorithm::Rs1 {
        return Err(AttestationError::AlgorithmMismatch(
            "RS1 is only accepted for tpm attestation",
        ));
    }
    let sig = stmt_bytes(input.att_stmt, "sig", "sig missing or not a byte string")?;
    let x5c = stmt_x5c(input.att_stmt)?.ok_or(AttestationError::InvalidStatement("x5c missing"))?;
    let leaf = &x5c[0];
    // 2. Verify that sig is a valid signature over the concatenation of authenticatorData and
    //    clientDataHash using the public key in the first certificate in x5c with alg.
    let key = leaf.public_key().map_err(AttestationError::Certificate)?;
    key.verify(alg, &input.signed_data(), sig)
        .map_err(|_| AttestationError::SignatureInvalid)?;
    // 3. Verify that the public key in the first certificate in x5c matches the credentialPublicKey.
    check_same_key(leaf, input.credential_key)?;
    // 4. Verify that the attestationChallenge field in the attestation certificate extension
    //    data is identical to clientDataHash.
    let (_, ext) = leaf
        .extension(oid::ANDROID_KEY_DESCRIPTION)
        .ok_or(AttestationError::AndroidKey("key description extension missing"))?;
    let description = KeyDescription::parse(ext).ok_or(AttestationError::AndroidKey("malformed key description"))?;
    if description.attestation_challenge != input.client_data_hash {
        return Err(AttestationError::AndroidKey(
            "attestationChallenge is not clientDataHash",
        ));
    }
    // 5. Verify the following using the appropriate authorization list from the attestation
    //    certificate extension data:
    //    - The AuthorizationList.allApplications field is not present on either authorization
    //      list (softwareEnforced nor teeEnforced), since PublicKeyCredential MUST be scoped to the RP ID.
    let lists = [description.software_enforced, description.tee_enforced];
    if lists.iter().any(|l| find(l, TAG_ALL_APPLICATIONS).is_some()) {
        return Err(AttestationError::AndroidKey("allApplications is present"));
    }
    //    - For the following, use only the teeEnforced authorization list if the RP wants to
    //      accept only keys from a trusted execution environment, otherwise use the union of
    //      teeEnforced and softwareEnforced (keyfleet: the union; TEE policy belongs to MDS).
    //      - The value in the AuthorizationList.origin field is equal to KM_ORIGIN_GENERATED.
    let origin_ok = lists
        .iter()
        .any(|l| find(l, TAG_ORIGIN).and_then(integer) == Some(KM_ORIGIN_GENERATED));
    if !origin_ok {
        return Err(AttestationError::AndroidKey("origin is not KM_ORIGIN_GENERATED"));
    }
    //      - The value in the AuthorizationList.purpose field is equal to KM_PURPOSE_SIGN.
    if !lists.iter().any(|l| purposes(l).contains(&KM_PURPOSE_SIGN)) {
        return Err(AttestationError::AndroidKey("purpose does not include KM_PURPOSE_SIGN"));
    }
    // 6. If successful, return attestation type Basic and trust path x5c.
    Ok(StatementOutcome {
        attestation_type: AttestationType::Basic,
        trust_path: x5c,
    })
}

struct KeyDescription<'a> {
    attestation_challenge: &'a [u8],
    software_enforced: Vec<Tlv<'a>>,
    tee_enforced: Vec<Tlv<'a>>,
}

impl<'a> KeyDescription<'a> {
    fn parse(ext: &'a [u8]) -> Option<Self> {
        let fields = der_walk::all(der_walk::expect(ext, 0x30)?)?;
        if fields.len() < 8 {
            return None;
        }
        let challenge = fields[4];
        let (sw, tee) = (fields[6], fields[7]);
        if challenge.first != 0x04 || sw.first != 0x30 || tee.first != 0x30 {
            return None;
        }
        Some(Self {
            attestation_challenge: challenge.content,
            software_enforced: der_walk::all(sw.content)?,
            tee_enforced: der_walk::all(tee.content)?,
        })
    }
}

/// The content of the context-specific explicit tag `number` in an authorization list.
fn find<'a>(list: &[Tlv<'a>], number: u32) -> Option<&'a [u8]> {
    list.iter()
        .find(|t| t.class == 0xa0 && t.number == number)
        .map(|t| t.content)
}

/// A small DER INTEGER, given as a whole TLV.
fn integer(tlv_bytes: &[u8]) -> Option<i64> {
    integer_content(der_walk::expect(tlv_bytes, 0x02)?)
}

/// The value of a small INTEGER's content octets.
fn integer_content(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let negative = content[0] & 0x80 != 0;
    let mut value: i64 = if negative { -1 } else { 0 };
    for b in content {
        value = (value << 8) | i64::from(*b);
    }
    Some(value)
}

/// The purposes in `purpose [1] EXPLICIT SET OF INTEGER`.
fn purposes(list: &[Tlv<'_>]) -> Vec<i64> {
    let Some(set) = find(list, TAG_PURPOSE).and_then(|c| der_walk::expect(c, 0x31)) else {
        return Vec::new();
    };
    der_walk::all(set)
        .unwrap_or_default()
        .iter()
        .filter(|t| t.first == 0x02)
        .filter_map(|t| integer_content(t.content))
        .collect()
}
