//! The ceremony options the relying party sends, in their JSON forms (W3C WebAuthn Level 3
//! §5.1.8 `PublicKeyCredentialCreationOptionsJSON`, §5.1.9 `PublicKeyCredentialRequestOptionsJSON`):
//! what `PublicKeyCredential.parseCreationOptionsFromJSON()` / `parseRequestOptionsFromJSON()`
//! accept.
//!
//! Members are camelCase, binary values unpadded base64url, and optional members are omitted
//! when absent. Members are declared, and so serialised, in lexicographic order of their JSON
//! names, the order WebIDL gives a dictionary's own members (WebIDL §2.7 "Dictionaries"); it is also
//! the order of a `serde_json::Value` map, so a typed value and the same options built as a
//! `Value` serialise to the same text.
//!
//! From the options come the verification expectations they imply, so that nothing is stated
//! twice: [`PublicKeyCredentialCreationOptions::state`] gives a [`CreationState`], and
//! [`PublicKeyCredentialRequestOptions::state`] a [`RequestState`], which the caller keeps with
//! the ceremony and completes with what only it knows (origins, the stored credential, trust
//! anchors, the clock).
//!
//! ```
//! use keyfleet_webauthn_rp::*;
//! # fn demo(key: &CredentialPublicKey, signed: &AuthenticationResponseJSON) -> Result<(), Box<dyn std::error::Error>> {
//! // Registration: the options sent to the browser, and what verification will expect.
//! let options = PublicKeyCredentialCreationOptions {
//!     timeout: Some(300_000),
//!     exclude_credentials: vec![CredentialDescriptor::stored(b"existing key id", &["usb"])],
//!     authenticator_selection: Some(AuthenticatorSelection {
//!         resident_key: Some(ResidentKeyRequirement::Preferred),
//!         require_resident_key: Some(false),
//!         user_verification: Some(UserVerificationRequirement::Required),
//!         ..Default::default()
//!     }),
//!     attestation: Some(AttestationConveyance::Direct),
//!     extensions: Extensions { cred_props: true, ..Default::default() },
//!     ..PublicKeyCredentialCreationOptions::new(
//!         RelyingParty::new("example.com", "Keyfleet"),
//!         UserEntity::new(*b"user handle", "alice", "Alice"),
//!         *b"the 32 random bytes issued......",
//!         CredentialParameter::list(&[CoseAlgorithm::Es256, CoseAlgorithm::EdDsa]),
//!     )
//! };
//! let json = serde_json::to_string(&options)?;
//! let creation: CreationState = options.state()?;
//! assert!(creation.user_verification_required);
//! # let _ = json;
//!
//! // Sign-in: the options, then (in the finish request) the assertion checked against them.
//! let options = PublicKeyCredentialRequestOptions {
//!     timeout: Some(300_000),
//!     allow_credentials: vec![CredentialDescriptor::stored(b"credential id", &["usb", "nfc"])],
//!     user_verification: Some(UserVerificationRequirement::Required),
//!     ..PublicKeyCredentialRequestOptions::new(*b"the 32 random bytes issued......", "example.com")
//! };
//! let request: RequestState = options.state()?;
//! let verified = request.verify(
//!     AssertionContext {
//!         origins: &["https://keys.example.com"],
//!         cross_origin: CrossOriginPolicy::Deny,
//!         user: UserIdentification::IdentifiedBeforehand,
//!         credential: StoredCredential {
//!             id: b"credential id",
//!             public_key: key,
//!             sign_count: 41,
//!             backup_eligible: Some(false),
//!             user_handle: b"user handle",
//!         },
//!         reject_unsolicited_extensions: false,
//!         counter_policy: CounterPolicy::Reject,
//!     },
//!     signed,
//! );
//! # let _ = verified;
//! # Ok(()) }
//! ```
//!
//! Options read back with `Deserialize` are bounded (see the `limits` constants): absurd input
//! fails with a serde error. Unknown members, and extensions this crate does not model, are
//! ignored.

mod enums;
mod limits;
mod state;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::cose::CoseAlgorithm;
use crate::json::Base64UrlBytes;

pub use enums::{
    AttestationConveyance, AuthenticatorAttachment, AuthenticatorTransport, CredentialType, PublicKeyCredentialHint,
    ResidentKeyRequirement, UserVerificationRequirement,
};
pub use limits::{
    MAX_CHALLENGE, MAX_CREDENTIAL_ID, MAX_DESCRIPTORS, MAX_PARAMS, MAX_SHORT_LIST, MAX_TEXT, MAX_USER_ID,
};
pub use state::{AssertionContext, CreationState, OptionsError, RegistrationContext, RequestState};

/// `PublicKeyCredentialCreationOptionsJSON` (§5.1.8; the members are those of
/// `PublicKeyCredentialCreationOptions`, §5.4): the options of a registration ceremony.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialCreationOptions {
    /// `attestation` (§5.4.7); absent means `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationConveyance>,
    /// `attestationFormats` (§5.4): preferred attestation statement format identifiers (§8),
    /// most preferred first; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(deserialize_with = "limits::list::<_, _, { limits::MAX_SHORT_LIST }>")]
    pub attestation_formats: Vec<String>,
    /// `authenticatorSelection` (§5.4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_selection: Option<AuthenticatorSelection>,
    /// `challenge` (§5.4, §13.4.3): the random bytes the RP issued.
    #[serde(deserialize_with = "limits::bytes::<_, 0, { limits::MAX_CHALLENGE }>")]
    pub challenge: Base64UrlBytes,
    /// `excludeCredentials` (§5.4): the user's existing credentials. Always sent, `[]` when
    /// empty (the IDL default), as keyfleet's server always sent it.
    #[serde(default, deserialize_with = "limits::list::<_, _, { limits::MAX_DESCRIPTORS }>")]
    pub exclude_credentials: Vec<CredentialDescriptor>,
    /// `extensions` (§5.4, §9); omitted when no extension is requested.
    #[serde(default, skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
    /// `hints` (§5.4, §5.8.7); omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(deserialize_with = "limits::list::<_, _, { limits::MAX_SHORT_LIST }>")]
    pub hints: Vec<PublicKeyCredentialHint>,
    /// `pubKeyCredParams` (§5.4): acceptable key types, most preferred first.
    #[serde(deserialize_with = "limits::list::<_, _, { limits::MAX_PARAMS }>")]
    pub pub_key_cred_params: Vec<CredentialParameter>,
    /// `rp` (§5.4.2).
    pub rp: RelyingParty,
    /// `timeout` (§5.4): a hint, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// `user` (§5.4.3).
    pub user: UserEntity,
}

impl PublicKeyCredentialCreationOptions {
    /// Options with the required members; every optional member absent, `excludeCredentials`
    /// empty. Set the others with struct update syntax.
    pub fn new(
        rp: RelyingParty,
        user: UserEntity,
        challenge: impl Into<Vec<u8>>,
        pub_key_cred_params: Vec<CredentialParameter>,
    ) -> Self {
        Self {
            attestation: None,
            attestation_formats: Vec::new(),
            authenticator_selection: None,
            challenge: Base64UrlBytes(challenge.into()),
            exclude_credentials: Vec::new(),
            extensions: Extensions::default(),
            hints: Vec::new(),
            pub_key_cred_params,
            rp,
            timeout: None,
            user,
        }
    }
}

/// `PublicKeyCredentialRequestOptionsJSON` (§5.1.9; the members are those of
/// `PublicKeyCredentialRequestOptions`, §5.5): the options of an authentication ceremony.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialRequestOptions {
    /// `allowCredentials` (§5.5): the acceptable credentials; empty allows any discoverable
    /// credential. Always sent, `[]` when empty (the IDL default), as keyfleet's server always
    /// sent it.
    #[serde(default, deserialize_with = "limits::list::<_, _, { limits::MAX_DESCRIPTORS }>")]
    pub allow_credentials: Vec<CredentialDescriptor>,
    /// `challenge` (§5.5, §13.4.3): the random bytes the RP issued.
    #[serde(deserialize_with = "limits::bytes::<_, 0, { limits::MAX_CHALLENGE }>")]
    pub challenge: Base64UrlBytes,
    /// `extensions` (§5.5, §9); omitted when no extension is requested.
    #[serde(default, skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
    /// `hints` (§5.5, §5.8.7); omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(deserialize_with = "limits::list::<_, _, { limits::MAX_SHORT_LIST }>")]
    pub hints: Vec<PublicKeyCredentialHint>,
    /// `rpId` (§5.5); absent means the caller origin's effective domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "limits::opt_text::<_, { limits::MAX_TEXT }>")]
    pub rp_id: Option<String>,
    /// `timeout` (§5.5): a hint, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// `userVerification` (§5.5, §5.8.6); absent means `preferred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<UserVerificationRequirement>,
}

impl PublicKeyCredentialRequestOptions {
    /// Options with the challenge and RP ID; every other optional member absent,
    /// `allowCredentials` empty. Set the others with struct update syntax.
    pub fn new(challenge: impl Into<Vec<u8>>, rp_id: impl Into<String>) -> Self {
        Self {
            allow_credentials: Vec::new(),
            challenge: Base64UrlBytes(challenge.into()),
            extensions: Extensions::default(),
            hints: Vec::new(),
            rp_id: Some(rp_id.into()),
            timeout: None,
            user_verification: None,
        }
    }
}

/// `PublicKeyCredentialRpEntity` (§5.4.2): the relying party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelyingParty {
    /// `id`: the RP ID; absent means the caller origin's effective domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "limits::opt_text::<_, { limits::MAX_TEXT }>")]
    pub id: Option<String>,
    /// `name` (§5.4.1): a human-palatable name for the RP.
    #[serde(deserialize_with = "limits::text::<_, { limits::MAX_TEXT }>")]
    pub name: String,
}

impl RelyingParty {
    /// The RP with this RP ID and name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            name: name.into(),
        }
    }
}

/// `PublicKeyCredentialUserEntityJSON` (§5.1.8, §5.4.3): the user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEntity {
    /// `displayName` (§5.4.3): a human-palatable name for the account.
    #[serde(deserialize_with = "limits::text::<_, { limits::MAX_TEXT }>")]
    pub display_name: String,
    /// `id`: the user handle, 1 to 64 bytes, with no personally identifying information.
    #[serde(deserialize_with = "limits::bytes::<_, 1, { limits::MAX_USER_ID }>")]
    pub id: Base64UrlBytes,
    /// `name` (§5.4.1): a human-palatable identifier (e.g. the username).
    #[serde(deserialize_with = "limits::text::<_, { limits::MAX_TEXT }>")]
    pub name: String,
}

impl UserEntity {
    /// The account with this user handle, name and display name.
    pub fn new(id: impl Into<Vec<u8>>, name: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            display_name: display_name.into(),
            id: Base64UrlBytes(id.into()),
            name: name.into(),
        }
    }
}

/// `PublicKeyCredentialParameters` (§5.3): one acceptable key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialParameter {
    /// `alg`: the COSE algorithm identifier. Reading back rejects identifiers this crate
    /// does not verify.
    #[serde(with = "alg_id")]
    pub alg: CoseAlgorithm,
    /// `type`: always `public-key`.
    #[serde(rename = "type")]
    pub type_: CredentialType,
}

impl CredentialParameter {
    /// A `public-key` credential with this algorithm.
    pub fn new(alg: CoseAlgorithm) -> Self {
        Self {
            alg,
            type_: CredentialType::PublicKey,
        }
    }

    /// `pubKeyCredParams` for these algorithms, in this order.
    pub fn list(algs: &[CoseAlgorithm]) -> Vec<Self> {
        algs.iter().copied().map(Self::new).collect()
    }
}

/// `PublicKeyCredentialDescriptorJSON` (§5.1.8, §5.8.3): a credential in `excludeCredentials`
/// or `allowCredentials`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialDescriptor {
    /// `id`: the credential ID.
    #[serde(deserialize_with = "limits::bytes::<_, 0, { limits::MAX_CREDENTIAL_ID }>")]
    pub id: Base64UrlBytes,
    /// `transports`: those the credential's authenticator reported; omitted when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(deserialize_with = "limits::list::<_, _, { limits::MAX_SHORT_LIST }>")]
    pub transports: Vec<AuthenticatorTransport>,
    /// `type`: always `public-key`.
    #[serde(rename = "type")]
    pub type_: CredentialType,
}

impl CredentialDescriptor {
    /// The `public-key` credential with this ID and these transports.
    pub fn new(id: impl Into<Vec<u8>>, transports: Vec<AuthenticatorTransport>) -> Self {
        Self {
            id: Base64UrlBytes(id.into()),
            transports,
            type_: CredentialType::PublicKey,
        }
    }

    /// The credential as stored: its ID and the transport names the client reported
    /// (`getTransports()`, §5.2.1), unknown names kept as text.
    pub fn stored<S: AsRef<str>>(id: &[u8], transports: &[S]) -> Self {
        let transports = transports
            .iter()
            .map(|t| AuthenticatorTransport::parse(t.as_ref()))
            .collect();
        Self::new(id, transports)
    }
}

/// `AuthenticatorSelectionCriteria` (§5.4.4): which authenticators may take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    /// `authenticatorAttachment`; absent means any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<AuthenticatorAttachment>,
    /// `requireResidentKey`: WebAuthn Level 1's form of `residentKey`; set it to
    /// `residentKey == required`. Absent means `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_resident_key: Option<bool>,
    /// `residentKey` (§5.4.6); absent means `required` if `requireResidentKey`, else
    /// `discouraged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_key: Option<ResidentKeyRequirement>,
    /// `userVerification` (§5.8.6); absent means `preferred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<UserVerificationRequirement>,
}

/// `AuthenticationExtensionsClientInputsJSON` (§5.1.8, §9): the extensions this crate models.
/// More can be added as fields; each is omitted when not requested, and `extensions` itself
/// when none is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extensions {
    /// `appid` (§10.1.1, authentication only): the FIDO AppID of U2F-era credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "limits::opt_text::<_, { limits::MAX_TEXT }>")]
    pub appid: Option<String>,
    /// `appidExclude` (§10.1.2, registration only): the FIDO AppID whose U2F credentials
    /// `excludeCredentials` may name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "limits::opt_text::<_, { limits::MAX_TEXT }>")]
    pub appid_exclude: Option<String>,
    /// `credProps` (§10.1.3, registration only): ask the client whether the credential is
    /// discoverable. `false` is the same as not asking, and is not sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cred_props: bool,
}

impl Extensions {
    /// No extension requested: `extensions` is not sent.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The authenticator extension identifiers (§9) these inputs ask the authenticator to
    /// process, which verification may then see in the authenticator data. `appid`,
    /// `appidExclude` and `credProps` are client extensions: none.
    pub fn authenticator_extension_ids(&self) -> Vec<&'static str> {
        Vec::new()
    }
}

/// `alg` as its COSE integer identifier.
mod alg_id {
    use serde::{Deserialize, Deserializer, Serializer, de};

    use crate::cose::CoseAlgorithm;

    pub fn serialize<S: Serializer>(alg: &CoseAlgorithm, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(alg.id())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CoseAlgorithm, D::Error> {
        let id = i64::deserialize(d)?;
        CoseAlgorithm::from_id(id).ok_or_else(|| {
            de::Error::invalid_value(de::Unexpected::Signed(id), &"a COSE algorithm this crate verifies")
        })
    }
}
