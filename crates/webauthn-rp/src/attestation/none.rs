//! `none` attestation (WebAuthn L3 §8.7).
//!
//! "The none attestation statement format is used to replace any authenticator-provided
//! attestation statement when a WebAuthn Relying Party indicates it does not wish to
//! receive attestation information." Its `attStmt` is the empty map. Nothing is signed,
//! so the AAGUID is unauthenticated: never accept `none` under an AAGUID allow-list.

use super::{AttestationError, AttestationType, StatementInput, StatementOutcome};

/// Verification procedure (§8.7): "Return implementation-specific values representing
/// attestation type None and an empty attestation trust path."
pub fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestationError> {
    if !input.att_stmt.is_empty() {
        return Err(AttestationError::InvalidStatement(
            "none attestation requires an empty attStmt",
        ));
    }
    Ok(StatementOutcome {
        attestation_type: AttestationType::None,
        trust_path: Vec::new(),
    })
}
