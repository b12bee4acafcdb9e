//! The WebAuthn Level 3 JSON forms of the two responses (§5.1 `RegistrationResponseJSON`,
//! `AuthenticationResponseJSON`): camelCase members, binary values as unpadded base64url.

use std::fmt;

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Binary data carried as base64url (unpadded on output; padding tolerated on input).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Base64UrlBytes(pub Vec<u8>);

const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

impl Base64UrlBytes {
    /// Decodes base64url text (padding optional).
    pub fn decode(text: &str) -> Option<Self> {
        LENIENT.decode(text).ok().map(Self)
    }

    /// Encodes as unpadded base64url.
    pub fn encode(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}

impl fmt::Debug for Base64UrlBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b64u\"{}\"", Self::encode(&self.0))
    }
}

impl AsRef<[u8]> for Base64UrlBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Base64UrlBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Self::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64UrlBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::decode(&text).ok_or_else(|| serde::de::Error::custom("invalid base64url"))
    }
}

/// `RegistrationResponseJSON` (§5.1, `PublicKeyCredential.toJSON()` after `create()`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::upper_case_acronyms)]
pub struct RegistrationResponseJSON {
    /// The credential ID, base64url (must encode `rawId`).
    pub id: String,
    /// The credential ID.
    pub raw_id: Base64UrlBytes,
    /// The authenticator's response.
    pub response: AuthenticatorAttestationResponseJSON,
    /// `platform` or `cross-platform`, if the client reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Client extension outputs.
    #[serde(default)]
    pub client_extension_results: serde_json::Value,
    /// Must be `public-key`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// `AuthenticatorAttestationResponseJSON` (§5.2.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::upper_case_acronyms)]
pub struct AuthenticatorAttestationResponseJSON {
    /// The raw clientDataJSON bytes.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: Base64UrlBytes,
    /// The CBOR attestation object.
    pub attestation_object: Base64UrlBytes,
    /// Transports the authenticator reported.
    #[serde(default)]
    pub transports: Vec<String>,
    /// Convenience copy of authenticator data (ignored: the attestation object is authoritative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_data: Option<Base64UrlBytes>,
    /// Convenience SPKI copy of the public key (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<Base64UrlBytes>,
    /// Convenience copy of the key's algorithm (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_algorithm: Option<i64>,
}

/// `AuthenticationResponseJSON` (§5.1, `PublicKeyCredential.toJSON()` after `get()`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::upper_case_acronyms)]
pub struct AuthenticationResponseJSON {
    /// The credential ID, base64url (must encode `rawId`).
    pub id: String,
    /// The credential ID.
    pub raw_id: Base64UrlBytes,
    /// The authenticator's response.
    pub response: AuthenticatorAssertionResponseJSON,
    /// `platform` or `cross-platform`, if the client reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Client extension outputs.
    #[serde(default)]
    pub client_extension_results: serde_json::Value,
    /// Must be `public-key`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// `AuthenticatorAssertionResponseJSON` (§5.2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::upper_case_acronyms)]
pub struct AuthenticatorAssertionResponseJSON {
    /// The raw clientDataJSON bytes.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: Base64UrlBytes,
    /// The raw authenticator data.
    pub authenticator_data: Base64UrlBytes,
    /// The assertion signature.
    pub signature: Base64UrlBytes,
    /// The user handle, if the authenticator returned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_handle: Option<Base64UrlBytes>,
}
