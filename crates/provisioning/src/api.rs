//! The JSON shapes of the key factory's API (`docs/key-factory.md`) and of the payloads its
//! JWEs carry. Members are camelCase; binary values unpadded base64url.

use keyfleet_webauthn_rp::{PublicKeyCredentialCreationOptions, RegistrationResponseJSON};
use serde::{Deserialize, Serialize};

use crate::jwk::PublicJwk;

/// The shortest PIN the factory sets.
pub const MIN_PIN_LENGTH: u8 = 4;
/// The longest PIN the factory sets (CTAP 2.1: at most 63 bytes).
pub const MAX_PIN_LENGTH: u8 = 63;
/// The models the factory makes.
pub const MODELS: [&str; 2] = ["nfc-key", "band"];
/// The JWS `typ` of a credential response.
pub const CREDENTIAL_RESPONSE_TYP: &str = "keyfleet-credential-response+jwt";
/// The JWS `typ` of a PIN response.
pub const PIN_RESPONSE_TYP: &str = "keyfleet-pin-response+jwt";

/// How the parcel travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryType {
    /// Standard post.
    Standard,
    /// Express courier.
    Express,
}

impl DeliveryType {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryType::Standard => "standard",
            DeliveryType::Express => "express",
        }
    }

    /// From the JSON name.
    pub fn parse(s: &str) -> Option<DeliveryType> {
        match s {
            "standard" => Some(DeliveryType::Standard),
            "express" => Some(DeliveryType::Express),
            _ => None,
        }
    }
}

/// `pinRequest`: a random PIN of this many digits, to be changed on first use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRequest {
    /// 4–63.
    pub length: u8,
}

/// `POST /v1/shipments`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateShipment {
    /// `nfc-key` or `band`.
    pub model: String,
    /// Who the parcel is addressed to.
    pub recipient: String,
    /// The postal address, as one text.
    pub address: String,
    /// How it travels.
    pub delivery_type: DeliveryType,
    /// The PIN to set.
    pub pin_request: PinRequest,
    /// Each a JWE (compact) to one of the factory's transport keys, of a [`CredentialRequest`].
    pub credential_requests: Vec<String>,
    /// The customer's key the answers are encrypted to.
    pub response_key: PublicJwk,
}

/// `PATCH /v1/shipments/{id}`: what may change until the shipment is locked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateShipment {
    /// A new recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// A new address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A new delivery type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_type: Option<DeliveryType>,
}

/// A shipment as the factory shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipment {
    /// The factory's id.
    pub shipment_id: String,
    /// `received`, `locked`, `programmed`, `shipped`, `delivered`, `cancelled`, `failed`.
    pub state: String,
    /// The model ordered.
    pub model: String,
    /// The recipient.
    pub recipient: String,
    /// The address.
    pub address: String,
    /// The delivery type.
    pub delivery_type: DeliveryType,
    /// The PIN length requested.
    pub pin_length: u8,
    /// How many credentials were requested.
    pub credential_request_count: usize,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// From `shipped` on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// From `shipped` on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// From `shipped` on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// From `shipped` on: a JWE of a signed [`PinResponse`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_response: Option<String>,
    /// From `shipped` on: JWEs of signed [`CredentialResponse`]s, in request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_responses: Vec<String>,
    /// Why it failed, when `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The plaintext of a credential request: the creation options keyfleet made for the worker,
/// and keyfleet's origin, for the clientDataJSON the factory writes (no browser is involved:
/// see `docs/provisioning.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRequest {
    /// keyfleet's origin, e.g. `https://keys.example.com`.
    pub origin: String,
    /// WebAuthn `PublicKeyCredentialCreationOptionsJSON`.
    pub public_key: PublicKeyCredentialCreationOptions,
}

/// The signed payload of a credential response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialResponse {
    /// The shipment it answers.
    pub shipment_id: String,
    /// Which request (0-based) it answers.
    pub request_index: usize,
    /// The key's model.
    pub model: String,
    /// The model's AAGUID, as a UUID string.
    pub aaguid: String,
    /// The key's serial number.
    pub serial_number: String,
    /// The firmware version, `major.minor.patch`.
    pub firmware_version: String,
    /// The new credential as a browser would have returned it: `clientDataJSON` (written by the
    /// factory) and `attestationObject`.
    pub public_key_credential: RegistrationResponseJSON,
}

/// The signed payload of a PIN response. The PIN must be changed on first use.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinResponse {
    /// The shipment it answers.
    pub shipment_id: String,
    /// The key's serial number.
    pub serial_number: String,
    /// The PIN.
    pub pin: String,
    /// Always true: the key refuses the PIN for anything but changing it.
    pub force_pin_change: bool,
}

impl std::fmt::Debug for PinResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinResponse")
            .field("shipment_id", &self.shipment_id)
            .field("serial_number", &self.serial_number)
            .field("force_pin_change", &self.force_pin_change)
            .finish_non_exhaustive()
    }
}

impl Drop for PinResponse {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.pin);
    }
}

/// Why a credential response does not belong to the shipment it came with (checklist bad
/// input 45: an attestation for another shipment, AAGUID or serial is rejected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// It answers another shipment.
    #[error("the credential response answers another shipment")]
    OtherShipment,
    /// It names another serial number than the shipment, or its attestation certificate does.
    #[error("the credential response is for another serial number")]
    OtherSerial,
    /// The attested AAGUID is not the one the response names.
    #[error("the attested AAGUID is not the response's")]
    OtherAaguid,
    /// The attestation does not name a serial number (not an enterprise attestation).
    #[error("the attestation does not name the key's serial number")]
    NoSerial,
    /// The attestation object does not parse.
    #[error("malformed attestation: {0}")]
    Malformed(&'static str),
}

/// X.520 serialNumber.
const SERIAL_NUMBER_OID: &str = "2.5.4.5";

impl CredentialResponse {
    /// Checks that this response belongs to `shipment_id`, whose key has serial `serial`: the
    /// signed members say so, the attestation's certificate (`x5c[0]`, the key's enterprise
    /// attestation certificate) names the serial, and the attested AAGUID is `aaguid`. The
    /// attestation's signature and chain are keyfleet's registration's to verify.
    pub fn check_binding(&self, shipment_id: &str, serial: &str) -> Result<(), BindingError> {
        use keyfleet_webauthn_rp::cbor::{Value, map_get_text};
        use keyfleet_webauthn_rp::registration::AttestationObject;
        use keyfleet_webauthn_rp::x509::Cert;

        if self.shipment_id != shipment_id {
            return Err(BindingError::OtherShipment);
        }
        if self.serial_number != serial {
            return Err(BindingError::OtherSerial);
        }
        let bytes = &self.public_key_credential.response.attestation_object.0;
        let object = AttestationObject::parse(bytes).map_err(|_| BindingError::Malformed("attestation object"))?;
        let auth_data = keyfleet_webauthn_rp::AuthenticatorData::parse(object.auth_data)
            .map_err(|_| BindingError::Malformed("authenticator data"))?;
        let attested = auth_data
            .attested_credential_data
            .ok_or(BindingError::Malformed("no attested credential data"))?;
        if attested.aaguid.to_string() != self.aaguid {
            return Err(BindingError::OtherAaguid);
        }
        let leaf = map_get_text(&object.att_stmt, "x5c")
            .and_then(Value::as_array)
            .and_then(|chain| chain.first())
            .and_then(Value::as_bytes)
            .ok_or(BindingError::NoSerial)?;
        let cert = Cert::from_der(leaf).map_err(|_| BindingError::Malformed("attestation certificate"))?;
        match cert.subject_attr(SERIAL_NUMBER_OID).as_slice() {
            [] => Err(BindingError::NoSerial),
            [one] if one == serial => Ok(()),
            _ => Err(BindingError::OtherSerial),
        }
    }
}
