//! §7.1 Registering a New Credential (W3C WebAuthn Level 3).
//!
//! <https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential>
//!
//! [`verify_registration`] runs the RP's steps on a `RegistrationResponseJSON` and returns
//! what must be stored (§7.1 step 27). It does no IO: the caller supplies the challenge it
//! issued, the clock, and the trust anchors. Steps that need storage stay with the
//! caller: consuming the challenge atomically, and rejecting a credential ID that is
//! already registered (step 26, R21).

use std::time::SystemTime;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::attestation::{self, AttestationError, AttestationFormat, AttestationType, StatementInput};
use crate::auth_data::{self, Aaguid, AuthDataError, AuthenticatorData, AuthenticatorFlags};
use crate::cbor::{self, CborError, Value, map_get_text};
use crate::client_data::{self, ClientDataError, ClientDataExpectations, CrossOriginPolicy};
use crate::cose::{CoseAlgorithm, CoseError, CredentialPublicKey};
use crate::json::{Base64UrlBytes, RegistrationResponseJSON};
use crate::x509::{self, TrustAnchor, TrustError};

/// Supplies trust anchors for an attestation (§7.1 step 23), e.g. from FIDO MDS by AAGUID,
/// or from policy. Lookups are in memory: this crate never fetches anything.
pub trait TrustAnchorProvider {
    /// The anchors acceptable for this format and AAGUID (U2F authenticators have the zero AAGUID).
    fn anchors(&self, fmt: AttestationFormat, aaguid: Aaguid) -> &[TrustAnchor];
}

impl TrustAnchorProvider for [TrustAnchor] {
    fn anchors(&self, _: AttestationFormat, _: Aaguid) -> &[TrustAnchor] {
        self
    }
}

impl TrustAnchorProvider for Vec<TrustAnchor> {
    fn anchors(&self, _: AttestationFormat, _: Aaguid) -> &[TrustAnchor] {
        self
    }
}

/// How attestation trustworthiness is assessed (§7.1 step 24, checklist R18–R19).
#[derive(Clone, Copy)]
pub enum AttestationPolicy<'a> {
    /// Verify the attestation statement only; do not evaluate its trust path. Any attestation
    /// type is accepted and the outcome is [`TrustOutcome::NotEvaluated`].
    StatementOnly,
    /// The trust path must chain to an anchor from `anchors`, valid at `now`. `none` and self
    /// attestation are accepted only if allowed (never allow them under an AAGUID allow-list).
    Trusted {
        /// Where anchors come from.
        anchors: &'a dyn TrustAnchorProvider,
        /// Accept `none` attestation.
        allow_none: bool,
        /// Accept self attestation.
        allow_self: bool,
    },
}

impl std::fmt::Debug for AttestationPolicy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::StatementOnly => f.write_str("StatementOnly"),
            Self::Trusted {
                allow_none, allow_self, ..
            } => f
                .debug_struct("Trusted")
                .field("allow_none", allow_none)
                .field("allow_self", allow_self)
                .finish_non_exhaustive(),
        }
    }
}

/// What the RP expects of a registration: the options it sent and its policy.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationExpectations<'a> {
    /// The challenge bytes the RP issued (and must consume atomically).
    pub challenge: &'a [u8],
    /// Acceptable origins (exact match).
    pub origins: &'a [&'a str],
    /// The iframe policy (R6–R7).
    pub cross_origin: CrossOriginPolicy<'a>,
    /// The RP ID.
    pub rp_id: &'a str,
    /// The algorithms offered in `pubKeyCredParams` (R15).
    pub allowed_algs: &'a [CoseAlgorithm],
    /// Require the UV flag (R12).
    pub user_verification_required: bool,
    /// Require the UP flag; `false` only for conditional-mediation create (R11).
    pub user_presence_required: bool,
    /// Extensions the RP requested; `Some` rejects unsolicited authenticator extension
    /// outputs (R23), `None` ignores them.
    pub requested_extensions: Option<&'a [&'a str]>,
    /// Attestation trust assessment.
    pub attestation: AttestationPolicy<'a>,
    /// "Now" for certificate validity.
    pub now: SystemTime,
}

/// How the attestation's trust was assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustOutcome {
    /// Policy [`AttestationPolicy::StatementOnly`]: not evaluated.
    NotEvaluated,
    /// The trust path chains to the anchor with this SHA-256 certificate fingerprint.
    Anchored {
        /// SHA-256 of the anchor certificate's DER.
        anchor_sha256: [u8; 32],
    },
    /// `none` attestation, accepted by policy.
    NoneAllowed,
    /// Self attestation, accepted by policy.
    SelfAllowed,
}

/// A verified registration: everything to store (§7.1 step 27, checklist R22).
#[derive(Debug, Clone)]
pub struct VerifiedRegistration {
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// The credential public key (parsed; store `public_key.cose_bytes()`).
    pub public_key: CredentialPublicKey,
    /// The key's algorithm.
    pub alg: CoseAlgorithm,
    /// The initial signature counter.
    pub sign_count: u32,
    /// The authenticator's AAGUID (authenticated only by a trusted attestation).
    pub aaguid: Aaguid,
    /// Flags: UV (uvInitialized), BE, BS.
    pub flags: AuthenticatorFlags,
    /// Transports the client reported.
    pub transports: Vec<String>,
    /// The attestation statement format.
    pub fmt: AttestationFormat,
    /// The attestation type.
    pub attestation_type: AttestationType,
    /// How trust was assessed.
    pub trust: TrustOutcome,
    /// The raw attestation object (keep it for MDS re-evaluation).
    pub attestation_object: Vec<u8>,
    /// The authenticator extension outputs (CBOR map), if any.
    pub authenticator_extensions: Option<Vec<u8>>,
    /// The client extension outputs, as sent.
    pub client_extension_results: serde_json::Value,
    /// `platform` / `cross-platform`, if reported.
    pub authenticator_attachment: Option<String>,
}

/// Why a registration was rejected. Every variant names the failed check; [`Self::code`]
/// gives a stable machine code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistrationError {
    /// The credential is not a `public-key` credential, or `id` does not encode `rawId` (R1).
    #[error("invalid response: {0}")]
    InvalidResponse(&'static str),
    /// A client data check failed (R2–R8).
    #[error(transparent)]
    ClientData(#[from] ClientDataError),
    /// The attestation object is not well-formed CBOR (R9).
    #[error("attestation object: {0}")]
    Cbor(CborError),
    /// The attestation object is well-formed CBOR but not a map (R9, bad-input row 1).
    #[error("attestation object is not a CBOR map")]
    AttestationObjectNotMap,
    /// The attestation object is not a map of fmt/authData/attStmt with the right types (R9).
    #[error("attestation object: {0}")]
    AttestationObject(&'static str),
    /// The authenticator data is malformed (structure checks, R20).
    #[error(transparent)]
    AuthData(#[from] AuthDataError),
    /// rpIdHash is not SHA-256 of the RP ID (R10).
    #[error("rpIdHash does not match the RP ID")]
    RpIdHashMismatch,
    /// UP is clear (R11).
    #[error("user presence flag is not set")]
    UserPresenceRequired,
    /// UV is clear but required (R12).
    #[error("user verification is required but the UV flag is not set")]
    UserVerificationRequired,
    /// BS is set without BE (R13).
    #[error("backup state set without backup eligibility")]
    BackupStateInvalid,
    /// The credential public key is malformed, unsupported or weak.
    #[error(transparent)]
    CredentialKey(#[from] CoseError),
    /// The key's algorithm was not offered in pubKeyCredParams (R15).
    #[error("credential algorithm {0} was not offered")]
    AlgNotAllowed(i64),
    /// rawId differs from the credential ID in authenticator data.
    #[error("rawId does not match the attested credential ID")]
    CredentialIdMismatch,
    /// An authenticator extension output that was not requested (R23).
    #[error("unsolicited extension output {0:?}")]
    UnsolicitedExtension(String),
    /// The attestation statement failed its format's verification (R16–R17).
    #[error(transparent)]
    Attestation(#[from] AttestationError),
    /// The attestation trust path is not acceptable (R18–R19).
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// `none` attestation under a policy that does not allow it (R19).
    #[error("none attestation is not allowed by policy")]
    NoneAttestationNotAllowed,
    /// Self attestation under a policy that does not allow it (R19).
    #[error("self attestation is not allowed by policy")]
    SelfAttestationNotAllowed,
}

impl RegistrationError {
    /// Stable machine code for the HTTP layer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidResponse(_) => "invalid_response",
            Self::ClientData(e) => e.code(),
            Self::Cbor(_) | Self::AttestationObjectNotMap => "invalid_cbor",
            Self::AttestationObject(_) => "invalid_attestation_object",
            Self::AuthData(e) => e.code(),
            Self::RpIdHashMismatch => "rp_id_hash_mismatch",
            Self::UserPresenceRequired => "user_presence_required",
            Self::UserVerificationRequired => "uv_required",
            Self::BackupStateInvalid => "backup_state_invalid",
            Self::CredentialKey(e) => e.code(),
            Self::AlgNotAllowed(_) => "alg_not_allowed",
            Self::CredentialIdMismatch => "credential_id_mismatch",
            Self::UnsolicitedExtension(_) => "unsolicited_extension",
            Self::Attestation(e) => e.code(),
            Self::Trust(e) => e.code(),
            Self::NoneAttestationNotAllowed => "none_attestation_not_allowed",
            Self::SelfAttestationNotAllowed => "self_attestation_not_allowed",
        }
    }
}

/// The three members of an attestation object (§6.5.4), borrowing from its bytes.
pub struct AttestationObject<'a> {
    /// `fmt`.
    pub fmt: &'a str,
    /// `authData`.
    pub auth_data: &'a [u8],
    /// `attStmt` entries.
    pub att_stmt: Vec<(Value<'a>, Value<'a>)>,
}

impl<'a> AttestationObject<'a> {
    /// Decodes an attestation object: a CBOR map of exactly `fmt` (text), `authData` (bytes)
    /// and `attStmt` (map), with no trailing bytes (R9).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, RegistrationError> {
        let value = cbor::decode(bytes).map_err(RegistrationError::Cbor)?;
        let Value::Map(entries) = value else {
            return Err(RegistrationError::AttestationObjectNotMap);
        };
        if entries.len() != 3 {
            return Err(RegistrationError::AttestationObject(
                "must hold exactly fmt, authData and attStmt",
            ));
        }
        let fmt = map_get_text(&entries, "fmt")
            .and_then(Value::as_text)
            .ok_or(RegistrationError::AttestationObject("fmt missing or not text"))?;
        let auth_data = map_get_text(&entries, "authData")
            .and_then(Value::as_bytes)
            .ok_or(RegistrationError::AttestationObject("authData missing or not bytes"))?;
        let att_stmt = entries
            .into_iter()
            .find_map(|(k, v)| match (k.as_text(), v) {
                (Some("attStmt"), Value::Map(m)) => Some(m),
                _ => None,
            })
            .ok_or(RegistrationError::AttestationObject("attStmt missing or not a map"))?;
        Ok(Self {
            fmt,
            auth_data,
            att_stmt,
        })
    }
}

/// Verifies a registration response (§7.1).
pub fn verify_registration(
    expected: &RegistrationExpectations<'_>,
    credential: &RegistrationResponseJSON,
) -> Result<VerifiedRegistration, RegistrationError> {
    // 3. Let response be credential.response. If response is not an
    //    AuthenticatorAttestationResponse, abort (R1): the JSON type guarantees the shape;
    //    check the credential type and that id encodes rawId.
    if credential.type_ != "public-key" {
        return Err(RegistrationError::InvalidResponse("type must be \"public-key\""));
    }
    if credential.id != Base64UrlBytes::encode(&credential.raw_id.0) {
        return Err(RegistrationError::InvalidResponse("id does not encode rawId"));
    }
    let response = &credential.response;

    // 5–12. Client data: type webauthn.create, challenge, origin, crossOrigin, topOrigin;
    //       hash = SHA-256(response.clientDataJSON) over the raw bytes.
    let client_data_hash = client_data::verify(
        &response.client_data_json.0,
        &ClientDataExpectations {
            type_: client_data::TYPE_CREATE,
            challenge: expected.challenge,
            origins: expected.origins,
            cross_origin: expected.cross_origin,
        },
    )?;

    // 13. Perform CBOR decoding on the attestationObject to obtain fmt, authData and attStmt.
    let attestation_object = AttestationObject::parse(&response.attestation_object.0)?;
    if attestation_object.auth_data.len() > 32 && attestation_object.auth_data[32] & auth_data::FLAG_AT == 0 {
        // Registration requires attested credential data; without AT any key bytes are "trailing".
        return Err(AuthDataError::AttestedDataFlagMismatch.into());
    }
    let auth_data = AuthenticatorData::parse(attestation_object.auth_data)?;

    // 14. Verify that the rpIdHash in authData is the SHA-256 hash of the RP ID.
    check_rp_id_hash(&auth_data, expected.rp_id)?;
    // 15. If options.mediation is not set to conditional, verify that the UP bit is set.
    if expected.user_presence_required && !auth_data.flags.user_present {
        return Err(RegistrationError::UserPresenceRequired);
    }
    // 16. If user verification was required, verify that the UV bit is set.
    if expected.user_verification_required && !auth_data.flags.user_verified {
        return Err(RegistrationError::UserVerificationRequired);
    }
    // 17. If the BE bit is not set, verify that the BS bit is not set.
    if !auth_data.flags.backup_eligible && auth_data.flags.backup_state {
        return Err(RegistrationError::BackupStateInvalid);
    }
    // 18–19. BE/BS group policy (R14) is the caller's: both flags are returned.

    let attested = auth_data
        .attested_credential_data
        .as_ref()
        .ok_or(AuthDataError::AttestedDataFlagMismatch)?;
    if !bool::from(attested.credential_id.ct_eq(&credential.raw_id.0)) {
        return Err(RegistrationError::CredentialIdMismatch);
    }
    // 20. Verify that the alg parameter in the credential public key matches one of the
    //     pubKeyCredParams the RP offered (R15). Parse and validate the key first.
    let public_key = CredentialPublicKey::from_cose(attested.credential_public_key)?;
    if !expected.allowed_algs.contains(&public_key.alg()) {
        return Err(RegistrationError::AlgNotAllowed(public_key.alg().id()));
    }

    // (Extensions, §7.1 "verify that the values of the client extension outputs ... and the
    //  authenticator extension outputs ... are as expected"): reject unsolicited outputs (R23).
    if let (Some(requested), Some(ext)) = (expected.requested_extensions, auth_data.extensions) {
        check_extensions(ext, requested)?;
    }

    // 21. Determine the attestation statement format by a case-sensitive match on fmt (R16).
    let fmt = AttestationFormat::from_fmt(attestation_object.fmt)
        .ok_or_else(|| AttestationError::UnknownFormat(attestation_object.fmt.to_owned()))?;
    // 22. Verify that attStmt is a correct attestation statement, conveying a valid attestation
    //     signature, using fmt's verification procedure (R17).
    let outcome = attestation::verify_statement(
        fmt,
        &StatementInput {
            att_stmt: &attestation_object.att_stmt,
            auth_data: &auth_data,
            client_data_hash: &client_data_hash,
            credential_key: &public_key,
            aaguid: attested.aaguid,
            now: expected.now,
        },
    )?;
    // 23–24. Obtain acceptable trust anchors and assess the attestation's trustworthiness.
    let trust = assess_trust(expected, fmt, attested.aaguid, &outcome)?;

    // 25. Verify that the credentialId is ≤ 1023 bytes: enforced by AuthenticatorData::parse (R20).
    // 26. Verify that the credentialId is not yet registered: the caller's, in the same
    //     transaction that stores the credential (R21).
    // 27. Return what must be stored.
    Ok(VerifiedRegistration {
        credential_id: attested.credential_id.to_vec(),
        alg: public_key.alg(),
        public_key,
        sign_count: auth_data.sign_count,
        aaguid: attested.aaguid,
        flags: auth_data.flags,
        transports: response.transports.clone(),
        fmt,
        attestation_type: outcome.attestation_type,
        trust,
        attestation_object: response.attestation_object.0.clone(),
        authenticator_extensions: auth_data.extensions.map(<[u8]>::to_vec),
        client_extension_results: credential.client_extension_results.clone(),
        authenticator_attachment: credential.authenticator_attachment.clone(),
    })
}

fn check_rp_id_hash(auth_data: &AuthenticatorData<'_>, rp_id: &str) -> Result<(), RegistrationError> {
    let expected: [u8; 32] = Sha256::digest(rp_id.as_bytes()).into();
    if bool::from(auth_data.rp_id_hash.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(RegistrationError::RpIdHashMismatch)
    }
}

fn check_extensions(ext: &[u8], requested: &[&str]) -> Result<(), RegistrationError> {
    match auth_data::extension_ids(ext)
        .into_iter()
        .find(|id| !requested.contains(&id.as_str()))
    {
        Some(id) => Err(RegistrationError::UnsolicitedExtension(id)),
        None => Ok(()),
    }
}

/// §7.1 step 24: "Assess the attestation trustworthiness using the outputs of the
/// verification procedure in step 22."
fn assess_trust(
    expected: &RegistrationExpectations<'_>,
    fmt: AttestationFormat,
    aaguid: Aaguid,
    outcome: &attestation::StatementOutcome,
) -> Result<TrustOutcome, RegistrationError> {
    let AttestationPolicy::Trusted {
        anchors,
        allow_none,
        allow_self,
    } = expected.attestation
    else {
        return Ok(TrustOutcome::NotEvaluated);
    };
    match outcome.attestation_type {
        // If no attestation was provided, verify that None attestation is acceptable under RP policy.
        AttestationType::None if allow_none => Ok(TrustOutcome::NoneAllowed),
        AttestationType::None => Err(RegistrationError::NoneAttestationNotAllowed),
        // If self attestation was used, verify that self attestation is acceptable under RP policy.
        AttestationType::SelfAttestation if allow_self => Ok(TrustOutcome::SelfAllowed),
        AttestationType::SelfAttestation => Err(RegistrationError::SelfAttestationNotAllowed),
        // Otherwise, use the X.509 certificates returned as the attestation trust path to
        // verify that the attestation public key chains to an acceptable root certificate.
        AttestationType::Basic | AttestationType::AttCa | AttestationType::AnonCa => {
            let anchor = x509::verify_chain(&outcome.trust_path, anchors.anchors(fmt, aaguid), expected.now)?;
            Ok(TrustOutcome::Anchored {
                anchor_sha256: Sha256::digest(anchor.cert().der()).into(),
            })
        }
    }
}

#[cfg(test)]
mod tests;
