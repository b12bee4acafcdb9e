//! Attestation statement formats (WebAuthn L3 §8) and the shared types their verification
//! procedures return.
//!
//! Each format lives in its own file and implements the spec's "verification procedure":
//! given `attStmt`, `authenticatorData` and `clientDataHash`, check the statement and
//! return the attestation type and trust path. Whether that trust path is acceptable is
//! decided afterwards, by [`crate::registration`] (§7.1 steps 23–24).

use std::time::SystemTime;

use thiserror::Error;

use crate::auth_data::{Aaguid, AuthenticatorData};
use crate::cbor::{Value, map_get_text};
use crate::cose::{CoseAlgorithm, CredentialPublicKey};
use crate::x509::{self, Cert, CertError};

pub mod android_key;
pub mod android_safetynet;
pub mod apple;
pub mod fido_u2f;
pub mod none;
pub mod packed;
pub mod tpm;

/// An attestation statement format identifier (§8, IANA "WebAuthn Attestation Statement Format Identifiers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttestationFormat {
    /// `none` (§8.7).
    None,
    /// `packed` (§8.2).
    Packed,
    /// `tpm` (§8.3).
    Tpm,
    /// `android-key` (§8.4).
    AndroidKey,
    /// `android-safetynet` (§8.5).
    AndroidSafetynet,
    /// `fido-u2f` (§8.6).
    FidoU2f,
    /// `apple` (§8.8).
    Apple,
}

impl AttestationFormat {
    /// Matches `fmt` case-sensitively (§7.1 step 21: "USASCII case-sensitive match").
    pub fn from_fmt(fmt: &str) -> Option<Self> {
        Some(match fmt {
            "none" => Self::None,
            "packed" => Self::Packed,
            "tpm" => Self::Tpm,
            "android-key" => Self::AndroidKey,
            "android-safetynet" => Self::AndroidSafetynet,
            "fido-u2f" => Self::FidoU2f,
            "apple" => Self::Apple,
            _ => return None,
        })
    }

    /// The identifier as it appears in `fmt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Packed => "packed",
            Self::Tpm => "tpm",
            Self::AndroidKey => "android-key",
            Self::AndroidSafetynet => "android-safetynet",
            Self::FidoU2f => "fido-u2f",
            Self::Apple => "apple",
        }
    }
}

/// Attestation types (§6.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttestationType {
    /// No attestation (`none`).
    None,
    /// Self attestation: signed with the credential key itself.
    SelfAttestation,
    /// Basic attestation, or AttCA that cannot be told apart from it without metadata.
    Basic,
    /// Attestation CA (`tpm`).
    AttCa,
    /// Anonymization CA (`apple`).
    AnonCa,
}

impl AttestationType {
    /// The corpus' spelling: `none`, `self`, `basic`, `attca`, `anonca`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::SelfAttestation => "self",
            Self::Basic => "basic",
            Self::AttCa => "attca",
            Self::AnonCa => "anonca",
        }
    }
}

/// What a format's verification procedure hands back.
#[derive(Debug, Clone)]
pub struct StatementOutcome {
    /// The attestation type.
    pub attestation_type: AttestationType,
    /// The attestation trust path (x5c, leaf first); empty for `none` and self.
    pub trust_path: Vec<Cert>,
}

/// Inputs to a format's verification procedure.
pub struct StatementInput<'a> {
    /// `attStmt` map entries.
    pub att_stmt: &'a [(Value<'a>, Value<'a>)],
    /// The parsed authenticator data (with attested credential data).
    pub auth_data: &'a AuthenticatorData<'a>,
    /// SHA-256 of the raw clientDataJSON.
    pub client_data_hash: &'a [u8; 32],
    /// The credential public key from the attested credential data.
    pub credential_key: &'a CredentialPublicKey,
    /// The AAGUID from the attested credential data.
    pub aaguid: Aaguid,
    /// "Now", for time-dependent statements (SafetyNet timestamps).
    pub now: SystemTime,
}

impl StatementInput<'_> {
    /// authenticatorData ‖ clientDataHash, the bytes most formats sign.
    pub fn signed_data(&self) -> [&[u8]; 2] {
        [self.auth_data.raw, self.client_data_hash]
    }
}

/// Why an attestation statement failed its format's verification procedure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AttestationError {
    /// `fmt` is not a registered format this crate knows (§7.1 step 21).
    #[error("unknown attestation format {0:?}")]
    UnknownFormat(String),
    /// `attStmt` lacks a member or has one of the wrong type.
    #[error("malformed attestation statement: {0}")]
    InvalidStatement(&'static str),
    /// `alg` is unknown, not allowed for this format, or does not fit the key.
    #[error("attestation algorithm not acceptable: {0}")]
    AlgorithmMismatch(&'static str),
    /// The statement's signature does not verify.
    #[error("attestation signature does not verify")]
    SignatureInvalid,
    /// An x5c certificate could not be parsed.
    #[error("attestation certificate: {0}")]
    Certificate(CertError),
    /// The attestation certificate breaks the format's requirements.
    #[error("attestation certificate requirement not met: {0}")]
    CertificateRequirement(&'static str),
    /// id-fido-gen-ce-aaguid is present and differs from the AAGUID in authenticator data.
    #[error("id-fido-gen-ce-aaguid extension does not match the AAGUID")]
    AaguidExtensionMismatch,
    /// The attested key (certificate or TPM pubArea) is not the credential public key.
    #[error("attested public key does not match the credential public key")]
    PublicKeyMismatch,
    /// fido-u2f with a non-zero AAGUID.
    #[error("fido-u2f attestation with a non-zero AAGUID")]
    U2fAaguidNotZero,
    /// A TPM structure check failed.
    #[error("tpm attestation: {0}")]
    Tpm(&'static str),
    /// An android-key check failed.
    #[error("android-key attestation: {0}")]
    AndroidKey(&'static str),
    /// An android-safetynet check failed.
    #[error("android-safetynet attestation: {0}")]
    SafetyNet(&'static str),
    /// The apple nonce extension does not match.
    #[error("apple attestation nonce does not match")]
    AppleNonceMismatch,
}

impl AttestationError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            AttestationError::UnknownFormat(_) => "unknown_attestation_format",
            AttestationError::InvalidStatement(_) => "invalid_attestation_statement",
            AttestationError::AlgorithmMismatch(_) => "attestation_alg_mismatch",
            AttestationError::SignatureInvalid => "attestation_signature_invalid",
            AttestationError::Certificate(_) => "invalid_attestation_certificate",
            AttestationError::CertificateRequirement(_) => "attestation_certificate_invalid",
            AttestationError::AaguidExtensionMismatch => "aaguid_extension_mismatch",
            AttestationError::PublicKeyMismatch => "attestation_public_key_mismatch",
            AttestationError::U2fAaguidNotZero => "u2f_aaguid_not_zero",
            AttestationError::Tpm(_) => "tpm_attestation_invalid",
            AttestationError::AndroidKey(_) => "android_key_attestation_invalid",
            AttestationError::SafetyNet(_) => "safetynet_attestation_invalid",
            AttestationError::AppleNonceMismatch => "apple_nonce_mismatch",
        }
    }
}

/// Runs the verification procedure of `format`.
pub fn verify_statement(
    format: AttestationFormat,
    input: &StatementInput<'_>,
) -> Result<StatementOutcome, AttestationError> {
    match format {
        AttestationFormat::None => none::verify(input),
        AttestationFormat::Packed => packed::verify(input),
        AttestationFormat::Tpm => tpm::verify(input),
        AttestationFormat::AndroidKey => android_key::verify(input),
        AttestationFormat::AndroidSafetynet => android_safetynet::verify(input),
        AttestationFormat::FidoU2f => fido_u2f::verify(input),
        AttestationFormat::Apple => apple::verify(input),
    }
}

/// `attStmt.alg` as a known COSE algorithm.
pub(crate) fn stmt_alg(stmt: &[(Value<'_>, Value<'_>)]) -> Result<CoseAlgorithm, AttestationError> {
    let id = map_get_text(stmt, "alg")
        .and_then(Value::as_integer)
        .ok_or(AttestationError::InvalidStatement("alg missing or not an integer"))?;
    i64::try_from(id)
        .ok()
        .and_then(CoseAlgorithm::from_id)
        .ok_or(AttestationError::AlgorithmMismatch("unsupported COSE algorithm"))
}

/// A byte-string member of `attStmt`.
pub(crate) fn stmt_bytes<'a>(
    stmt: &[(Value<'a>, Value<'a>)],
    key: &str,
    missing: &'static str,
) -> Result<&'a [u8], AttestationError> {
    map_get_text(stmt, key)
        .and_then(Value::as_bytes)
        .ok_or(AttestationError::InvalidStatement(missing))
}

/// `attStmt.x5c` parsed, or `None` if absent. Present but empty or mistyped is an error.
pub(crate) fn stmt_x5c(stmt: &[(Value<'_>, Value<'_>)]) -> Result<Option<Vec<Cert>>, AttestationError> {
    let Some(value) = map_get_text(stmt, "x5c") else {
        return Ok(None);
    };
    let items = value
        .as_array()
        .ok_or(AttestationError::InvalidStatement("x5c is not an array"))?;
    let ders = items
        .iter()
        .map(|v| {
            v.as_bytes()
                .ok_or(AttestationError::InvalidStatement("x5c item is not a byte string"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    x509::parse_chain(&ders)
        .map(Some)
        .map_err(AttestationError::Certificate)
}

/// Rejects members other than `allowed` (so a statement cannot smuggle e.g. `ecdaaKeyId`).
pub(crate) fn only_members(stmt: &[(Value<'_>, Value<'_>)], allowed: &[&str]) -> Result<(), AttestationError> {
    if stmt
        .iter()
        .all(|(k, _)| k.as_text().is_some_and(|k| allowed.contains(&k)))
    {
        Ok(())
    } else {
        Err(AttestationError::InvalidStatement("unexpected attStmt member"))
    }
}

/// If id-fido-gen-ce-aaguid is present it must be non-critical and equal the AAGUID (§8.2.1, §8.3.1).
pub(crate) fn check_aaguid_extension(cert: &Cert, aaguid: Aaguid) -> Result<(), AttestationError> {
    let Some((critical, value)) = cert.extension(x509::oid::FIDO_GEN_CE_AAGUID) else {
        return Ok(());
    };
    if critical {
        return Err(AttestationError::CertificateRequirement(
            "id-fido-gen-ce-aaguid must not be critical",
        ));
    }
    // The extension value is an OCTET STRING holding the 16 AAGUID bytes.
    match value {
        [0x04, 0x10, rest @ ..] if rest.len() == 16 => {
            if rest == aaguid.0 {
                Ok(())
            } else {
                Err(AttestationError::AaguidExtensionMismatch)
            }
        }
        _ => Err(AttestationError::CertificateRequirement(
            "id-fido-gen-ce-aaguid is not a 16-byte OCTET STRING",
        )),
    }
}

/// basicConstraints must be absent or have cA = false.
pub(crate) fn check_not_ca(cert: &Cert) -> Result<(), AttestationError> {
    if cert.extension(x509::oid::BASIC_CONSTRAINTS).is_some() && cert.basic_constraints_ca() != Some(false) {
        return Err(AttestationError::CertificateRequirement(
            "basicConstraints cA must be false",
        ));
    }
    Ok(())
}

/// The leaf certificate's public key must be the credential public key.
pub(crate) fn check_same_key(cert: &Cert, credential_key: &CredentialPublicKey) -> Result<(), AttestationError> {
    let key = cert.public_key().map_err(AttestationError::Certificate)?;
    if key.same_key(credential_key.key()) {
        Ok(())
    } else {
        Err(AttestationError::PublicKeyMismatch)
    }
}

#[cfg(test)]
mod tests;
