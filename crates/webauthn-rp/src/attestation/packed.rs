//! `packed` attestation (WebAuthn L3 §8.2), full (x5c) and self.
//!
//! ```text
//! attStmt = { alg: COSEAlgorithmIdentifier, sig: bytes, x5c?: [ attestnCert: bytes, * (caCert: bytes) ] }
//! ```

use super::{
    AttestationError, AttestationType, StatementInput, StatementOutcome, check_aaguid_extension, check_not_ca,
    only_members, stmt_alg, stmt_bytes, stmt_x5c,
};
use crate::cose::CoseAlgorithm;
use crate::x509::{Cert, oid};

/// Verification procedure (§8.2).
pub fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestationError> {
    // 1. Verify that attStmt is valid CBOR conforming to the syntax defined above and
    //    perform CBOR decoding on it to extract the contained fields.
    only_members(input.att_stmt, &["alg", "sig", "x5c"])?;
    let alg = stmt_alg(input.att_stmt)?;
    let sig = stmt_bytes(input.att_stmt, "sig", "sig missing or not a byte string")?;
    if alg == CoseAlgorithm::Rs1 {
        return Err(AttestationError::AlgorithmMismatch(
            "RS1 is only accepted for tpm attestation",
        ));
    }
    match stmt_x5c(input.att_stmt)? {
        // 2. If x5c is present:
        Some(x5c) => {
            let leaf = &x5c[0];
            // Verify that sig is a valid signature over the concatenation of authenticatorData
            // and clientDataHash using the attestation public key in attestnCert with the
            // algorithm specified in alg.
            let key = leaf.public_key().map_err(AttestationError::Certificate)?;
            key.verify(alg, &input.signed_data(), sig)
                .map_err(|_| AttestationError::SignatureInvalid)?;
            // Verify that attestnCert meets the requirements in §8.2.1.
            check_certificate(leaf)?;
            // If attestnCert contains an extension with OID 1.3.6.1.4.1.45724.1.1.4
            // (id-fido-gen-ce-aaguid) verify that the value of this extension matches the
            // aaguid in authenticatorData.
            check_aaguid_extension(leaf, input.aaguid)?;
            // Optionally, inspect x5c and consult externally provided knowledge to determine
            // whether attStmt conveys a Basic or AttCA attestation (needs metadata: Basic here).
            // If successful, return attestation type Basic, AttCA or uncertainty, and trust path x5c.
            Ok(StatementOutcome {
                attestation_type: AttestationType::Basic,
                trust_path: x5c,
            })
        }
        // 3. If x5c is not present, self attestation is in use.
        None => {
            // Validate that alg matches the algorithm of the credentialPublicKey in authenticatorData.
            if alg != input.credential_key.alg() {
                return Err(AttestationError::AlgorithmMismatch(
                    "self attestation alg differs from the credential's",
                ));
            }
            // Verify that sig is a valid signature over the concatenation of authenticatorData
            // and clientDataHash using the credential public key with alg.
            input
                .credential_key
                .verify(&input.signed_data(), sig)
                .map_err(|_| AttestationError::SignatureInvalid)?;
            // If successful, return attestation type Self and an empty trust path.
            Ok(StatementOutcome {
                attestation_type: AttestationType::SelfAttestation,
                trust_path: Vec::new(),
            })
        }
    }
}

/// §8.2.1 Certificate Requirements for Packed Attestation Statements.
fn check_certificate(cert: &Cert) -> Result<(), AttestationError> {
    // Version MUST be set to 3.
    if !cert.is_v3() {
        return Err(AttestationError::CertificateRequirement(
            "packed attestation certificate must be X.509 v3",
        ));
    }
    // Subject-C: ISO 3166 code specifying the country where the Authenticator vendor is incorporated.
    let country = cert.subject_attr(oid::COUNTRY);
    if !country
        .iter()
        .any(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(AttestationError::CertificateRequirement(
            "subject C must be an ISO 3166 code",
        ));
    }
    // Subject-O: legal name of the Authenticator vendor.
    if cert.subject_attr(oid::ORGANIZATION).iter().all(String::is_empty) {
        return Err(AttestationError::CertificateRequirement("subject O missing"));
    }
    // Subject-OU: literal string "Authenticator Attestation".
    if !cert
        .subject_attr(oid::ORGANIZATIONAL_UNIT)
        .iter()
        .any(|ou| ou == "Authenticator Attestation")
    {
        return Err(AttestationError::CertificateRequirement(
            "subject OU must be \"Authenticator Attestation\"",
        ));
    }
    // Subject-CN: a UTF8String of the vendor's choosing.
    if cert.subject_attr(oid::COMMON_NAME).iter().all(String::is_empty) {
        return Err(AttestationError::CertificateRequirement("subject CN missing"));
    }
    // The Basic Constraints extension MUST have the CA component set to false.
    check_not_ca(cert)
}
