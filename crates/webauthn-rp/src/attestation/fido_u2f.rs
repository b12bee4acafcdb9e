//! `fido-u2f` attestation (WebAuthn L3 §8.6).
//!
//! ```text
//! attStmt = { x5c: [ attestnCert: bytes ], sig: bytes }
//! ```

use super::{AttestationError, AttestationType, StatementInput, StatementOutcome, only_members, stmt_bytes, stmt_x5c};
use crate::cose::{CoseAlgorithm, PublicKey};

/// Verification procedure (§8.6).
pub fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestationError> {
    // 1. Verify that attStmt is valid CBOR conforming to the syntax defined above.
    only_members(input.att_stmt, &["x5c", "sig"])?;
    let sig = stmt_bytes(input.att_stmt, "sig", "sig missing or not a byte string")?;
    // 2. Check that x5c has exactly one element and let attCert be that element. Let
    //    certificate public key be the public key conveyed by attCert. If certificate public
    //    key is not an Elliptic Curve (EC) public key over the P-256 curve, terminate.
    let x5c = stmt_x5c(input.att_stmt)?.ok_or(AttestationError::InvalidStatement("x5c missing"))?;
    if x5c.len() != 1 {
        return Err(AttestationError::InvalidStatement(
            "fido-u2f x5c must hold exactly one certificate",
        ));
    }
    let cert_key = x5c[0].public_key().map_err(AttestationError::Certificate)?;
    if !matches!(cert_key, PublicKey::P256(_)) {
        return Err(AttestationError::CertificateRequirement(
            "fido-u2f certificate key must be P-256",
        ));
    }
    // (Checklist §1.3) U2F authenticators have no AAGUID: it must be all zeros.
    if !input.aaguid.is_zero() {
        return Err(AttestationError::U2fAaguidNotZero);
    }
    // 3. Extract the claimed rpIdHash, credentialId and credentialPublicKey from authenticatorData.
    let attested = input
        .auth_data
        .attested_credential_data
        .as_ref()
        .ok_or(AttestationError::InvalidStatement("no attested credential data"))?;
    // 4. Convert the COSE_KEY formatted credentialPublicKey to Raw ANSI X9.62 public key
    //    format: 0x04 ‖ x ‖ y, each coordinate 32 bytes (an ES256 key on P-256).
    let PublicKey::P256(credential) = input.credential_key.key() else {
        return Err(AttestationError::AlgorithmMismatch(
            "fido-u2f credential key must be ES256 on P-256",
        ));
    };
    // 5. Let verificationData be 0x00 ‖ rpIdHash ‖ clientDataHash ‖ credentialId ‖ publicKeyU2F.
    let verification_data: [&[u8]; 5] = [
        &[0x00],
        input.auth_data.rp_id_hash,
        input.client_data_hash,
        attested.credential_id,
        credential.uncompressed(),
    ];
    // 6. Verify the sig using verificationData and the certificate public key per SEC1 with SHA-256.
    cert_key
        .verify(CoseAlgorithm::Es256, &verification_data, sig)
        .map_err(|_| AttestationError::SignatureInvalid)?;
    // 7. Optionally inspect x5c for Basic or AttCA. 8. Return Basic/AttCA and trust path x5c.
    Ok(StatementOutcome {
        attestation_type: AttestationType::Basic,
        trust_path: x5c,
    })
}
