//! Persistent state: everything that survives a power cycle and lives in the key file.
//!
//! [`State::to_bytes`] writes a 4-byte magic (`KFA` 0x01) followed by a canonical CBOR map with
//! integer keys; [`State::from_bytes`] reads it back strictly. Secrets are zeroized on drop.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::cbor::{self, Value};
use crate::crypto::{self, Alg};

/// Which kind of device a model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// An NFC security key: PIN only, no built-in user verification.
    NfcKey,
    /// A wearable band with a fingerprint sensor: built-in UV while worn and enrolled.
    Band,
}

/// A product model: its identity as reported by authenticatorGetInfo.
#[derive(Debug, PartialEq, Eq)]
pub struct Model {
    /// Short name used in key files and on the command line: `nfc-key` or `band`.
    pub name: &'static str,
    /// The model's AAGUID (fixed, randomly chosen once).
    pub aaguid: [u8; 16],
    /// Human-readable description.
    pub description: &'static str,
    /// getInfo `firmwareVersion`.
    pub firmware_version: u32,
    /// What the model can do.
    pub kind: ModelKind,
}

static MODELS: [Model; 2] = [
    Model {
        name: "nfc-key",
        aaguid: [
            0x35, 0x59, 0xc4, 0x35, 0xff, 0x17, 0x4b, 0xc9, 0xb9, 0x42, 0x32, 0x5c, 0x1f, 0x34, 0x8b, 0x94,
        ],
        description: "keyfleet NFC security key",
        firmware_version: 0x0001_0000,
        kind: ModelKind::NfcKey,
    },
    Model {
        name: "band",
        aaguid: [
            0x9b, 0x74, 0x93, 0xdd, 0xe2, 0x2e, 0x43, 0x69, 0xbb, 0xdf, 0x25, 0x17, 0x7d, 0x6e, 0xb5, 0x96,
        ],
        description: "keyfleet wearable band (fingerprint)",
        firmware_version: 0x0001_0000,
        kind: ModelKind::Band,
    },
];

/// All models this engine can be.
pub fn models() -> &'static [Model] {
    &MODELS
}

/// The model with this name.
pub fn model_by_name(name: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.name == name)
}

/// The attestation key and certificates given by the factory (the transport engineer's CA tooling).
#[derive(Clone, PartialEq, Eq)]
pub struct AttestationMaterial {
    /// The batch attestation private key: a raw P-256 scalar, big-endian.
    pub private_key: Zeroizing<[u8; 32]>,
    /// DER certificates for `x5c`, batch (attestation) certificate first. Empty = self attestation.
    pub cert_chain_der: Vec<Vec<u8>>,
    /// The device serial number (not reported over CTAP; kept with the device identity).
    pub serial_number: String,
}

impl AttestationMaterial {
    /// Builds the material from a PKCS#8 DER P-256 private key.
    pub fn from_pkcs8_der(
        pkcs8_der: &[u8],
        cert_chain_der: Vec<Vec<u8>>,
        serial_number: String,
    ) -> Result<AttestationMaterial, StateError> {
        use p256::pkcs8::DecodePrivateKey;
        let key = p256::SecretKey::from_pkcs8_der(pkcs8_der).map_err(|_| StateError::BadAttestationKey)?;
        Ok(AttestationMaterial {
            private_key: Zeroizing::new(key.to_bytes().into()),
            cert_chain_der,
            serial_number,
        })
    }
}

impl std::fmt::Debug for AttestationMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestationMaterial")
            .field("certificates", &self.cert_chain_der.len())
            .field("serial_number", &self.serial_number)
            .finish_non_exhaustive()
    }
}

/// Why a key file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// The bytes do not start with the key-file magic.
    #[error("not a keyfleet authenticator state (bad magic)")]
    BadMagic,
    /// The state was written by an unknown format version.
    #[error("unsupported state version {0}")]
    UnsupportedVersion(u64),
    /// The CBOR body is malformed or a field is missing or of the wrong type.
    #[error("malformed state: {0}")]
    Malformed(&'static str),
    /// The state names a model this build does not know.
    #[error("unknown model {0:?}")]
    UnknownModel(String),
    /// The attestation private key is not a valid P-256 key.
    #[error("invalid attestation private key")]
    BadAttestationKey,
    /// An enterprise-attestation certificate that does not parse or does not certify the batch
    /// attestation key.
    #[error("the enterprise attestation certificate does not certify the batch attestation key")]
    BadEnterpriseCertificate,
}

/// A discoverable (resident) credential.
#[derive(Clone, PartialEq, Eq)]
pub struct ResidentCredential {
    /// Credential ID: 32 random bytes.
    pub id: Vec<u8>,
    /// Relying party ID.
    pub rp_id: String,
    /// Relying party name, if given.
    pub rp_name: Option<String>,
    /// User handle.
    pub user_id: Vec<u8>,
    /// User name, if given.
    pub user_name: Option<String>,
    /// User display name, if given.
    pub user_display_name: Option<String>,
    /// The signature algorithm (key files before it was recorded hold ES256 keys).
    pub alg: Alg,
    pub(crate) private_key: Zeroizing<Vec<u8>>,
    /// credProtect level (1, 2 or 3).
    pub cred_protect: u8,
    /// Whether the hmac-secret extension was enabled at creation.
    pub hmac_secret: bool,
    /// The credBlob given at creation (CTAP 2.1 §12.2), at most `MAX_CRED_BLOB_LENGTH` bytes.
    pub cred_blob: Option<Vec<u8>>,
    /// Creation order (higher = newer).
    pub created: u64,
}

impl std::fmt::Debug for ResidentCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResidentCredential")
            .field("rp_id", &self.rp_id)
            .field("user_name", &self.user_name)
            .field("cred_protect", &self.cred_protect)
            .finish_non_exhaustive()
    }
}

/// The wearable's own state (unused on other models).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BandState {
    /// Whether the band is on a wrist (a physical fact the simulator keeps across restarts).
    pub worn: bool,
    /// Whether a fingerprint template is enrolled.
    pub enrolled: bool,
    /// Failed enrolment attempts since the last success or delete-user-data.
    pub failed_attempts: u8,
    /// After three failed enrolment attempts the band shows "See Admin" until delete user data.
    pub see_admin: bool,
    /// The enrolled template's ID (authenticatorBioEnrollment templateId), when enrolled.
    pub template_id: Vec<u8>,
    /// The enrolled template's friendly name ("" until named).
    pub template_name: String,
}

/// Default and factory minimum PIN length, in Unicode code points.
pub const DEFAULT_MIN_PIN_LENGTH: u8 = 4;
/// PIN retries after a successful PIN entry or reset.
pub const MAX_PIN_RETRIES: u8 = 8;
/// Built-in UV retries.
pub const MAX_UV_RETRIES: u8 = 8;
/// How many discoverable credentials fit.
pub const MAX_RESIDENT_CREDENTIALS: usize = 50;
/// maxCredBlobLength (CTAP 2.1 §12.2: at least 32).
pub const MAX_CRED_BLOB_LENGTH: usize = 32;
/// maxSerializedLargeBlobArray (CTAP 2.1 §6.10: at least 1024).
pub const MAX_SERIALIZED_LARGE_BLOB_ARRAY: usize = 4096;

/// The initial serialized large-blob array: an empty CBOR array (0x80) and LEFT(SHA-256(0x80), 16)
/// (CTAP 2.1 §6.10.2).
pub fn empty_large_blob_array() -> Vec<u8> {
    let digest = crypto::sha256(&[0x80]);
    [&[0x80u8][..], &digest[..16]].concat()
}

/// All persistent state.
#[derive(Clone, PartialEq, Eq)]
pub struct State {
    pub(crate) model: &'static Model,
    pub(crate) attestation: AttestationMaterial,
    /// AES-256-GCM key wrapping non-discoverable credential IDs; replaced by reset.
    pub(crate) wrap_key: Zeroizing<[u8; 32]>,
    /// Seed of every credential's hmac-secret CredRandom values; replaced by reset.
    pub(crate) cred_random_key: Zeroizing<[u8; 32]>,
    /// Salt under which the PIN hash is stored.
    pub(crate) pin_salt: [u8; 32],
    /// HMAC-SHA-256(pin_salt, LEFT(SHA-256(PIN), 16)), if a PIN is set.
    pub(crate) pin_hash: Option<[u8; 32]>,
    /// Length of the current PIN in code points (to force a change when the minimum rises).
    pub(crate) pin_code_points: u8,
    pub(crate) pin_retries: u8,
    pub(crate) uv_retries: u8,
    pub(crate) min_pin_length: u8,
    pub(crate) min_pin_length_rp_ids: Vec<String>,
    pub(crate) force_pin_change: bool,
    pub(crate) always_uv: bool,
    /// Global signature counter.
    pub(crate) sign_count: u32,
    pub(crate) next_created: u64,
    pub(crate) credentials: Vec<ResidentCredential>,
    pub(crate) band: BandState,
    /// The serialized large-blob array with its 16-byte checksum (CTAP 2.1 §6.10.2).
    pub(crate) large_blob_array: Vec<u8>,
    /// Whether enterprise attestation is enabled (authenticatorConfig enableEnterpriseAttestation,
    /// §6.11.1); reset disables it.
    pub(crate) ep_enabled: bool,
    /// RP IDs for vendor-facilitated enterprise attestation (§7.1), set by the factory; kept by reset.
    pub(crate) ep_rp_ids: Vec<String>,
    /// A device certificate for enterprise attestation issued by the factory (DER), used instead
    /// of the one the engine makes itself (see [`crate::enterprise`]); kept by reset.
    pub(crate) ep_certificate: Option<Vec<u8>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("model", &self.model.name)
            .field("pin_set", &self.pin_hash.is_some())
            .field("pin_retries", &self.pin_retries)
            .field("credentials", &self.credentials)
            .field("band", &self.band)
            .finish_non_exhaustive()
    }
}

const MAGIC: &[u8; 4] = b"KFA\x01";
const VERSION: u64 = 1;

impl State {
    /// A factory-fresh device of `model` with the given attestation material.
    pub fn factory_new(model: &Model, attestation: AttestationMaterial, rng: &mut dyn CryptoRngCore) -> State {
        // `model` may be a copy; key files refer to models by name, so resolve to the static one.
        let model = model_by_name(model.name).unwrap_or(&MODELS[0]);
        let mut state = State {
            model,
            attestation,
            wrap_key: Zeroizing::new([0; 32]),
            cred_random_key: Zeroizing::new([0; 32]),
            pin_salt: [0; 32],
            pin_hash: None,
            pin_code_points: 0,
            pin_retries: MAX_PIN_RETRIES,
            uv_retries: MAX_UV_RETRIES,
            min_pin_length: DEFAULT_MIN_PIN_LENGTH,
            min_pin_length_rp_ids: Vec::new(),
            force_pin_change: false,
            always_uv: false,
            sign_count: 0,
            next_created: 0,
            credentials: Vec::new(),
            band: BandState::default(),
            large_blob_array: empty_large_blob_array(),
            ep_enabled: false,
            ep_rp_ids: Vec::new(),
            ep_certificate: None,
        };
        state.wipe_user_data(rng);
        state
    }

    /// Forgets credentials, PIN and configuration and draws new credential keys, so that every
    /// credential ever issued becomes unusable. Keeps the model, attestation material, signature
    /// counter (it must never go back) and whether the band is worn.
    pub(crate) fn wipe_user_data(&mut self, rng: &mut dyn CryptoRngCore) {
        *self.wrap_key = crypto::random(rng);
        *self.cred_random_key = crypto::random(rng);
        self.pin_salt = crypto::random(rng);
        self.pin_hash = None;
        self.pin_code_points = 0;
        self.pin_retries = MAX_PIN_RETRIES;
        self.uv_retries = MAX_UV_RETRIES;
        self.min_pin_length = DEFAULT_MIN_PIN_LENGTH;
        self.min_pin_length_rp_ids.clear();
        self.force_pin_change = false;
        self.always_uv = false;
        self.credentials.clear();
        self.large_blob_array = empty_large_blob_array();
        self.ep_enabled = false;
        self.band = BandState {
            worn: self.band.worn,
            ..BandState::default()
        };
    }

    /// The model this device is.
    pub fn model(&self) -> &'static Model {
        self.model
    }

    /// The attestation material.
    pub fn attestation(&self) -> &AttestationMaterial {
        &self.attestation
    }

    /// Whether a PIN is set.
    pub fn pin_is_set(&self) -> bool {
        self.pin_hash.is_some()
    }

    /// Remaining PIN retries.
    pub fn pin_retries(&self) -> u8 {
        self.pin_retries
    }

    /// Current minimum PIN length.
    pub fn min_pin_length(&self) -> u8 {
        self.min_pin_length
    }

    /// Whether the next PIN use must be a change (forcePINChange).
    pub fn force_pin_change(&self) -> bool {
        self.force_pin_change
    }

    /// Whether alwaysUv is on.
    pub fn always_uv(&self) -> bool {
        self.always_uv
    }

    /// The global signature counter.
    pub fn sign_count(&self) -> u32 {
        self.sign_count
    }

    /// Moves the signature counter up to `at_least` (never down). The key file uses it to persist
    /// a counter high-water mark ahead of the values handed out, so that a counter value is never
    /// repeated after a crash even though counter-only changes are not saved one by one.
    pub fn raise_sign_count(&mut self, at_least: u32) {
        self.sign_count = self.sign_count.max(at_least);
    }

    /// Discoverable credentials, oldest first.
    pub fn credentials(&self) -> &[ResidentCredential] {
        &self.credentials
    }

    /// The band's state (`None` on models other than the band).
    pub fn band(&self) -> Option<&BandState> {
        (self.model.kind == ModelKind::Band).then_some(&self.band)
    }

    /// Whether the device is "protected by some form of user verification" (CTAP 2.1 §6.1.2):
    /// a PIN is set or built-in UV is enrolled.
    pub(crate) fn uv_protected(&self) -> bool {
        self.pin_is_set() || (self.model.kind == ModelKind::Band && self.band.enrolled)
    }

    /// The hmac-secret CredRandom of a credential (CTAP 2.1 §12.5): derived, not stored.
    pub(crate) fn cred_random(&self, private_key: &[u8], with_uv: bool) -> [u8; 32] {
        crypto::hmac_sha256(self.cred_random_key.as_slice(), &[&[u8::from(with_uv)], private_key])
    }

    /// A credential's largeBlobKey (CTAP 2.1 §12.3): derived from the credential's private key
    /// under the per-reset `cred_random_key`, so it dies with a reset and needs no storage. The
    /// label's first byte differs from CredRandom's 0/1 prefix, keeping the two apart.
    pub(crate) fn large_blob_key(&self, private_key: &[u8]) -> [u8; 32] {
        crypto::hmac_sha256(self.cred_random_key.as_slice(), &[b"largeBlobKey", private_key])
    }

    /// The serialized large-blob array (with its checksum).
    pub fn large_blob_array(&self) -> &[u8] {
        &self.large_blob_array
    }

    /// Whether enterprise attestation is enabled.
    pub fn enterprise_attestation_enabled(&self) -> bool {
        self.ep_enabled
    }

    /// The RP IDs that get vendor-facilitated enterprise attestation.
    pub fn enterprise_rp_ids(&self) -> &[String] {
        &self.ep_rp_ids
    }

    /// Sets the RP IDs for vendor-facilitated enterprise attestation (the factory's job, §7.1.1).
    pub fn set_enterprise_rp_ids(&mut self, rp_ids: Vec<String>) {
        self.ep_rp_ids = rp_ids;
    }

    /// The factory-issued enterprise-attestation certificate, if one was set.
    pub fn enterprise_certificate(&self) -> Option<&[u8]> {
        self.ep_certificate.as_deref()
    }

    /// Sets (or with `None` clears) a factory-issued device certificate for enterprise
    /// attestation: an X.509 certificate for the batch attestation key, naming the device's serial
    /// number, issued by the factory CA. Enterprise attestations then present `x5c = [it]`, a
    /// chain an RFC 5280 validator accepts against the factory CA, instead of the certificate the
    /// engine issues under the batch certificate itself. Refused (`StateError::BadEnterpriseCertificate`)
    /// unless it parses and certifies the batch attestation key.
    pub fn set_enterprise_certificate(&mut self, der: Option<Vec<u8>>) -> Result<(), StateError> {
        if let Some(der) = &der
            && !crate::enterprise::certifies_batch_key(self, der)
        {
            return Err(StateError::BadEnterpriseCertificate);
        }
        self.ep_certificate = der;
        Ok(())
    }

    /// Serialises the state for the key file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let opt_text = |s: &Option<String>| s.as_deref().map_or(Value::Null, Value::text);
        let creds = self
            .credentials
            .iter()
            .map(|c| {
                Value::int_map(vec![
                    (1, Value::bytes(&c.id)),
                    (2, Value::text(&c.rp_id)),
                    (3, opt_text(&c.rp_name)),
                    (4, Value::bytes(&c.user_id)),
                    (5, opt_text(&c.user_name)),
                    (6, opt_text(&c.user_display_name)),
                    (7, Value::bytes(c.private_key.as_slice())),
                    (8, Value::Int(c.cred_protect.into())),
                    (9, Value::Bool(c.hmac_secret)),
                    (10, Value::Int(c.created.into())),
                    (11, Value::Int(c.alg.cose())),
                    (12, c.cred_blob.as_deref().map_or(Value::Null, Value::bytes)),
                ])
            })
            .collect();
        let band = Value::int_map(vec![
            (1, Value::Bool(self.band.worn)),
            (2, Value::Bool(self.band.enrolled)),
            (3, Value::Int(self.band.failed_attempts.into())),
            (4, Value::Bool(self.band.see_admin)),
            (5, Value::bytes(&self.band.template_id)),
            (6, Value::text(&self.band.template_name)),
        ]);
        let body = Value::int_map(vec![
            (0, Value::Int(VERSION.into())),
            (1, Value::text(self.model.name)),
            (2, Value::bytes(self.attestation.private_key.as_slice())),
            (
                3,
                Value::Array(
                    self.attestation
                        .cert_chain_der
                        .iter()
                        .map(|c| Value::bytes(c))
                        .collect(),
                ),
            ),
            (4, Value::text(&self.attestation.serial_number)),
            (5, Value::bytes(self.wrap_key.as_slice())),
            (6, Value::bytes(self.cred_random_key.as_slice())),
            (7, Value::bytes(&self.pin_salt)),
            (8, self.pin_hash.as_ref().map_or(Value::Null, |h| Value::bytes(h))),
            (9, Value::Int(self.pin_code_points.into())),
            (10, Value::Int(self.pin_retries.into())),
            (11, Value::Int(self.uv_retries.into())),
            (12, Value::Int(self.min_pin_length.into())),
            (
                13,
                Value::Array(self.min_pin_length_rp_ids.iter().map(|s| Value::text(s)).collect()),
            ),
            (14, Value::Bool(self.force_pin_change)),
            (15, Value::Bool(self.always_uv)),
            (16, Value::Int(self.sign_count.into())),
            (17, Value::Int(self.next_created.into())),
            (18, Value::Array(creds)),
            (19, band),
            (20, Value::bytes(&self.large_blob_array)),
            (21, Value::Bool(self.ep_enabled)),
            (
                22,
                Value::Array(self.ep_rp_ids.iter().map(|s| Value::text(s)).collect()),
            ),
            (23, self.ep_certificate.as_deref().map_or(Value::Null, Value::bytes)),
        ]);
        [MAGIC.as_slice(), &cbor::encode(&body)].concat()
    }

    /// Reads a key file written by [`State::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<State, StateError> {
        let body = bytes.strip_prefix(MAGIC.as_slice()).ok_or(StateError::BadMagic)?;
        let map = cbor::decode(body, 3).map_err(|_| StateError::Malformed("CBOR"))?;
        let f = Fields(&map);
        let version = f.uint(0)?;
        if version != VERSION {
            return Err(StateError::UnsupportedVersion(version));
        }
        let model_name = f.text(1)?;
        let model = model_by_name(&model_name).ok_or(StateError::UnknownModel(model_name))?;
        let private_key = Zeroizing::new(f.key32(2)?);
        p256::SecretKey::from_slice(private_key.as_slice()).map_err(|_| StateError::BadAttestationKey)?;
        let cert_chain_der = f
            .array(3)?
            .iter()
            .map(|c| bytes_of(c).map(<[u8]>::to_vec))
            .collect::<Result<_, _>>()?;
        let attestation = AttestationMaterial {
            private_key,
            cert_chain_der,
            serial_number: f.text(4)?,
        };
        let pin_hash = match f.get(8)? {
            Value::Null => None,
            v => Some(bytes_of(v)?.try_into().map_err(|_| StateError::Malformed("PIN hash"))?),
        };
        let credentials = f.array(18)?.iter().map(credential_from).collect::<Result<_, _>>()?;
        let band = Fields(f.get(19)?);
        Ok(State {
            model,
            attestation,
            wrap_key: Zeroizing::new(f.key32(5)?),
            cred_random_key: Zeroizing::new(f.key32(6)?),
            pin_salt: f.key32(7)?,
            pin_hash,
            pin_code_points: f.small(9)?,
            pin_retries: f.small(10)?,
            uv_retries: f.small(11)?,
            min_pin_length: f.small(12)?,
            min_pin_length_rp_ids: f.array(13)?.iter().map(text_of).collect::<Result<_, _>>()?,
            force_pin_change: f.bool(14)?,
            always_uv: f.bool(15)?,
            sign_count: u32::try_from(f.uint(16)?).map_err(|_| StateError::Malformed("counter"))?,
            next_created: f.uint(17)?,
            credentials,
            band: BandState {
                worn: band.bool(1)?,
                enrolled: band.bool(2)?,
                failed_attempts: band.small(3)?,
                see_admin: band.bool(4)?,
                // Fields 5 and 6 came with authenticatorBioEnrollment; older files enrolled
                // through the control socket only, with template ID 0x01 and no name.
                template_id: match band.opt(5) {
                    Some(v) => bytes_of(v)?.to_vec(),
                    None if band.bool(2)? => vec![1],
                    None => Vec::new(),
                },
                template_name: band.opt(6).map(text_of).transpose()?.unwrap_or_default(),
            },
            // Fields 20–23 came with largeBlobs and enterprise attestation (version 1 files
            // without them load as factory defaults).
            large_blob_array: match f.opt(20) {
                Some(v) => bytes_of(v)?.to_vec(),
                None => empty_large_blob_array(),
            },
            ep_enabled: f
                .opt(21)
                .map(|v| v.as_bool())
                .transpose()
                .map_err(|_| StateError::Malformed("expected bool"))?
                .unwrap_or(false),
            ep_rp_ids: match f.opt(22) {
                Some(v) => v
                    .as_array()
                    .map_err(|_| StateError::Malformed("expected array"))?
                    .iter()
                    .map(text_of)
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            },
            ep_certificate: match f.opt(23) {
                None | Some(Value::Null) => None,
                Some(v) => Some(bytes_of(v)?.to_vec()),
            },
        })
    }
}

fn credential_from(v: &Value) -> Result<ResidentCredential, StateError> {
    let f = Fields(v);
    // Field 11 (the COSE algorithm) came with EdDSA and ES384; older credentials are ES256.
    let alg = match f.opt(11) {
        Some(v) => Alg::from_cose(v.as_int().map_err(|_| StateError::Malformed("expected int"))?)
            .ok_or(StateError::Malformed("unknown algorithm"))?,
        None => Alg::Es256,
    };
    let key = bytes_of(f.get(7)?)?;
    if key.len() != alg.key_len() {
        return Err(StateError::Malformed("credential key length"));
    }
    Ok(ResidentCredential {
        id: bytes_of(f.get(1)?)?.to_vec(),
        rp_id: f.text(2)?,
        rp_name: f.opt_text(3)?,
        user_id: bytes_of(f.get(4)?)?.to_vec(),
        user_name: f.opt_text(5)?,
        user_display_name: f.opt_text(6)?,
        alg,
        private_key: Zeroizing::new(key.to_vec()),
        cred_protect: f.small(8)?,
        hmac_secret: f.bool(9)?,
        created: f.uint(10)?,
        cred_blob: match f.opt(12) {
            None | Some(Value::Null) => None,
            Some(v) => Some(bytes_of(v)?.to_vec()),
        },
    })
}

fn bytes_of(v: &Value) -> Result<&[u8], StateError> {
    v.as_bytes().map_err(|_| StateError::Malformed("expected bytes"))
}

fn text_of(v: &Value) -> Result<String, StateError> {
    v.as_text()
        .map(str::to_owned)
        .map_err(|_| StateError::Malformed("expected text"))
}

/// Typed access to an integer-keyed map in the key file.
struct Fields<'a>(&'a Value);

impl Fields<'_> {
    fn get(&self, key: i128) -> Result<&Value, StateError> {
        self.0.get_int_key(key).ok_or(StateError::Malformed("missing field"))
    }
    /// A field added after version 1's first release: absent in older files.
    fn opt(&self, key: i128) -> Option<&Value> {
        self.0.get_int_key(key)
    }
    fn uint(&self, key: i128) -> Result<u64, StateError> {
        self.get(key)?
            .as_uint()
            .map_err(|_| StateError::Malformed("expected unsigned"))
    }
    fn small(&self, key: i128) -> Result<u8, StateError> {
        u8::try_from(self.uint(key)?).map_err(|_| StateError::Malformed("out of range"))
    }
    fn bool(&self, key: i128) -> Result<bool, StateError> {
        self.get(key)?
            .as_bool()
            .map_err(|_| StateError::Malformed("expected bool"))
    }
    fn text(&self, key: i128) -> Result<String, StateError> {
        text_of(self.get(key)?)
    }
    fn opt_text(&self, key: i128) -> Result<Option<String>, StateError> {
        match self.get(key)? {
            Value::Null => Ok(None),
            v => text_of(v).map(Some),
        }
    }
    fn array(&self, key: i128) -> Result<&[Value], StateError> {
        self.get(key)?
            .as_array()
            .map_err(|_| StateError::Malformed("expected array"))
    }
    fn key32(&self, key: i128) -> Result<[u8; 32], StateError> {
        bytes_of(self.get(key)?)?
            .try_into()
            .map_err(|_| StateError::Malformed("expected 32 bytes"))
    }
}

#[cfg(test)]
mod tests;
