//! The JSON shapes of the on-behalf API (`/api/v1/users/{id}/fido2/…`), following Microsoft
//! Graph's `fido2Methods` (`webauthnCredentialCreationOptions`, `fido2AuthenticationMethod`).

use keyfleet_core::credentials::onbehalf::{IssuedOptions, Method};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::state::rfc3339;

/// Asks for creation options on behalf of a user.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreationOptionsRequest {
    /// How long the challenge is accepted, in minutes (5–43200); default: the
    /// `onbehalf_challenge_timeout_minutes` setting.
    pub challenge_timeout_minutes: Option<i64>,
    /// The model ordered, by keyfleet's short name (`nfc-key`, `band`): a key of another
    /// model is refused with `model_mismatch`.
    pub model: Option<String>,
    /// The model ordered, by AAGUID (a UUID), for models keyfleet has no short name for.
    pub aaguid: Option<String>,
}

/// Graph's `webauthnCredentialCreationOptions`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptionsJson {
    /// When the challenge stops being accepted (RFC 3339, UTC).
    pub challenge_timeout_date_time: String,
    /// `PublicKeyCredentialCreationOptionsJSON` (WebAuthn L3 §5.1.8): the user's handle and
    /// name, their keys in `excludeCredentials`, `residentKey` and `userVerification`
    /// required, `attestation` `direct`.
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

impl From<IssuedOptions> for CreationOptionsJson {
    fn from(o: IssuedOptions) -> Self {
        Self {
            challenge_timeout_date_time: rfc3339(o.options.expires_at),
            public_key: o.public_key,
        }
    }
}

/// Registers a key on behalf of a user (Graph's `POST …/fido2Methods` body).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MethodRequest {
    /// The key's name (1 to 64 characters).
    pub display_name: String,
    /// `RegistrationResponseJSON`: `{id, rawId, type, response: {clientDataJSON,
    /// attestationObject, transports?}, clientExtensionResults}`, base64url without padding.
    /// Without a browser, clientDataJSON is `{"type":"webauthn.create","challenge":…,
    /// "origin":<one of keyfleet's origins>,"crossOrigin":false}` (docs/provisioning.md).
    #[schema(value_type = Object)]
    pub public_key_credential: serde_json::Value,
}

/// Graph's `fido2AuthenticationMethod`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fido2MethodJson {
    /// The credential id (base64url).
    pub id: String,
    /// The key's name.
    pub display_name: String,
    /// When it was registered (RFC 3339, UTC).
    pub created_date_time: String,
    /// The model's AAGUID (a UUID).
    pub aa_guid: String,
    /// The model's name, when known (FIDO metadata, else the community list).
    pub model: Option<String>,
    /// Lowercase hex SHA-256 thumbprints of the attestation certificates, leaf first.
    pub attestation_certificates: Vec<String>,
    /// `attested` (the attestation chained to a trusted root) or `notAttested`.
    pub attestation_level: String,
    /// `deviceBound` or `synced` (backup eligible).
    pub passkey_type: String,
}

impl From<&Method> for Fido2MethodJson {
    fn from(m: &Method) -> Self {
        Self {
            id: m.id(),
            display_name: m.credential.nickname.clone(),
            created_date_time: rfc3339(m.credential.created_at),
            aa_guid: keyfleet_core::models::aaguid_text(&m.credential.aaguid),
            model: m.model.clone(),
            attestation_certificates: m.attestation_certificates.clone(),
            attestation_level: m.attestation_level().to_owned(),
            passkey_type: m.passkey_type().to_owned(),
        }
    }
}

/// A list of methods (Graph's collection shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct Fido2MethodsJson {
    /// The methods, oldest first.
    pub value: Vec<Fido2MethodJson>,
}
