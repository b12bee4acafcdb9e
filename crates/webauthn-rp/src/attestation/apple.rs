//! `apple` anonymous attestation (WebAuthn L3 §8.8).
//!
//! ```text
//! attStmt = { x5c: [ credCert: bytes, * (caCert: bytes) ] }
//! ```
//! The nonce extension (OID 1.2.840.113635.100.8.2) is
//! `SEQUENCE { [1] EXPLICIT OCTET STRING nonce }`.

use sha2::{Digest, Sha256};

use super::{
    AttestationError, AttestationType, StatementInput, StatementOutcome, check_same_key, only_members, stmt_x5c,
};
use crate::x509::{self, oid};

/// Verification procedure (§8.8).
pub fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestationError> {
    // 1. Verify that attStmt is valid CBOR conforming to the syntax defined above.
    only_members(input.att_stmt, &["x5c", "alg"])?;
    let x5c = stmt_x5c(input.att_stmt)?.ok_or(AttestationError::InvalidStatement("x5c missing"))?;
    let cred_cert = &x5c[0];
    // 2. Concatenate authenticatorData and clientDataHash to form nonceToHash.
    // 3. Perform SHA-256 hash of nonceToHash to produce nonce.
    let mut hasher = Sha256::new();
    hasher.update(input.auth_data.raw);
    hasher.update(input.client_data_hash);
    let nonce = hasher.finalize();
    // 4. Verify that nonce equals the value of the extension with OID 1.2.840.113635.100.8.2 in credCert.
    let (_, ext) = cred_cert
        .extension(oid::APPLE_NONCE)
        .ok_or(AttestationError::AppleNonceMismatch)?;
    if extension_nonce(ext) != Some(&nonce[..]) {
        return Err(AttestationError::AppleNonceMismatch);
    }
    // 5. Verify that the credential public key equals the Subject Public Key of credCert.
    check_same_key(cred_cert, input.credential_key)?;
    // 6. If successful, return attestation type Anonymization CA and trust path x5c.
    Ok(StatementOutcome {
        attestation_type: AttestationType::AnonCa,
        trust_path: x5c,
    })
}

/// Extracts the nonce from `SEQUENCE { [1] EXPLICIT OCTET STRING }`.
fn extension_nonce(ext: &[u8]) -> Option<&[u8]> {
    let seq = x509::der_walk::expect(ext, 0x30)?;
    let tagged = x509::der_walk::expect(seq, 0xa1)?;
    x509::der_walk::expect(tagged, 0x04)
}
