//! A software WebAuthn client and security key in one, for tests and load generation.
//!
//! [`TestKey`] plays both the browser (it writes `clientDataJSON` from the options and the
//! origin) and the authenticator (an ES256 P-256 key that makes authenticator data, a `none`
//! or `packed` self attestation, and assertion signatures). Given the creation options a
//! server returns under `publicKey`, [`TestKey::register`] returns a `RegistrationResponseJSON`
//! (`credential.toJSON()` after `navigator.credentials.create()`); given request options,
//! [`TestKey::sign_in`] returns an `AuthenticationResponseJSON` with `userHandle`.
//!
//! Every part of the output can be broken on its own through [`Tweaks`], so a test can break
//! exactly one check and expect exactly one rejection:
//!
//! ```
//! use keyfleet_webauthn_testkey::{TestKey, Tweaks};
//! use serde_json::json;
//!
//! let options = json!({
//!     "rp": { "id": "localhost", "name": "keyfleet" },
//!     "user": { "id": "dXNlcg", "name": "pat", "displayName": "Pat" },
//!     "challenge": "AAAAAAAAAAAAAAAAAAAAAA",
//!     "pubKeyCredParams": [{ "type": "public-key", "alg": -7 }],
//! });
//! let mut key = TestKey::from_seed(b"pat's key");
//! let good = key.register(&options, "http://localhost:8080").unwrap();
//! let no_up = key
//!     .register_with(&options, "http://localhost:8080", &Tweaks { up: Some(false), ..Tweaks::default() })
//!     .unwrap();
//! assert_ne!(good["response"]["attestationObject"], no_up["response"]["attestationObject"]);
//! ```
//!
//! The library does no IO and holds no global state: the key is derived from a seed (or from
//! caller-supplied randomness), the counter lives in the value. The `keyfleet-loadgen` binary
//! in this package drives a real server with it.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::SigningKey;
use rand_core::CryptoRngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub mod cbor;

/// User present.
pub const FLAG_UP: u8 = 0x01;
/// User verified.
pub const FLAG_UV: u8 = 0x04;
/// Backup eligible.
pub const FLAG_BE: u8 = 0x08;
/// Backup state.
pub const FLAG_BS: u8 = 0x10;
/// Attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// Extension data included.
pub const FLAG_ED: u8 = 0x80;

/// COSE algorithm ES256 (ECDSA P-256 with SHA-256), the only key type this key holds.
pub const ES256: i64 = -7;

/// The AAGUID the key reports unless told otherwise.
pub const DEFAULT_AAGUID: [u8; 16] = *b"keyfleet-testkey";

/// Which attestation statement a registration carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attestation {
    /// `fmt: "none"`, `attStmt: {}`.
    None,
    /// `fmt: "packed"` self attestation: `{alg, sig}` signed with the credential key.
    #[default]
    PackedSelf,
    /// `fmt: "packed"` full attestation: `{alg, sig, x5c}` signed with the key's
    /// [`BatchAttestation`] (a registration without one fails with [`Error::NoBatch`]).
    PackedFull,
}

/// A batch attestation key and its certificate chain (leaf first), for
/// [`Attestation::PackedFull`].
#[derive(Clone)]
pub struct BatchAttestation {
    key: std::sync::Arc<EcdsaKeyPair>,
    x5c: Vec<Vec<u8>>,
}

impl BatchAttestation {
    /// A P-256 key (PKCS#8 DER) and its chain (DER, leaf first; the root is not sent).
    pub fn from_pkcs8(pkcs8: &[u8], x5c: Vec<Vec<u8>>) -> Result<Self, Error> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8).map_err(|_| Error::NoBatch)?;
        Ok(Self {
            key: std::sync::Arc::new(key),
            x5c,
        })
    }
}

/// Why the client refused to produce a response (as a browser or key would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A required member of the options is missing or has the wrong type.
    Options(&'static str),
    /// The key's credential is listed in `excludeCredentials` (`InvalidStateError`).
    Excluded,
    /// `allowCredentials` is not empty and does not list this key (`NotAllowedError`).
    NotAllowed,
    /// `pubKeyCredParams` does not offer ES256 (`NotSupportedError`).
    AlgorithmNotOffered,
    /// A full attestation without a usable batch key.
    NoBatch,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Options(what) => write!(f, "options: {what}"),
            Error::Excluded => f.write_str("this key is in excludeCredentials"),
            Error::NotAllowed => f.write_str("this key is not in allowCredentials"),
            Error::AlgorithmNotOffered => f.write_str("ES256 is not offered in pubKeyCredParams"),
            Error::NoBatch => f.write_str("a full attestation needs a P-256 batch key"),
        }
    }
}

impl std::error::Error for Error {}

/// One-off changes to a single response. Every field defaults to "behave correctly"; set one
/// to break exactly that thing. Fields that do not apply to a ceremony are ignored by it.
#[derive(Debug, Clone, Default)]
pub struct Tweaks {
    // ---- clientDataJSON ----
    /// `type` (default `webauthn.create` / `webauthn.get`).
    pub client_data_type: Option<String>,
    /// The challenge bytes (default: the options' challenge).
    pub challenge: Option<Vec<u8>>,
    /// `origin` (default: the origin passed in).
    pub origin: Option<String>,
    /// `crossOrigin` (default `false`).
    pub cross_origin: Option<bool>,
    /// `topOrigin`, written only when set.
    pub top_origin: Option<String>,
    /// Raw text inserted before the closing brace, e.g. `,"type":"webauthn.get"` for a
    /// duplicate key or `,"other":1` for an extra member.
    pub client_data_extra: Option<String>,
    /// Replaces the whole clientDataJSON (e.g. bytes that are not UTF-8).
    pub client_data_json: Option<Vec<u8>>,

    // ---- authenticator data ----
    /// The RP ID hashed into `rpIdHash` (default: the options' RP ID).
    pub rp_id: Option<String>,
    /// Replaces `rpIdHash` outright.
    pub rp_id_hash: Option<[u8; 32]>,
    /// Replaces the whole flags byte (the per-flag fields below are then ignored).
    pub flags: Option<u8>,
    /// UP (default set).
    pub up: Option<bool>,
    /// UV (default: [`TestKey::user_verifying`]).
    pub uv: Option<bool>,
    /// BE (default: [`TestKey::backup_eligible`]).
    pub be: Option<bool>,
    /// BS (default: [`TestKey::backup_state`]).
    pub bs: Option<bool>,
    /// AT (default: set on registration, clear on assertion).
    pub at: Option<bool>,
    /// ED (default: set when `extensions` is given).
    pub ed: Option<bool>,
    /// The signature counter, used as is; the key's own counter is left alone.
    pub sign_count: Option<u32>,
    /// Encoded CBOR extension outputs appended to the authenticator data.
    pub extensions: Option<Vec<u8>>,
    /// Bytes appended after everything in the authenticator data.
    pub auth_data_trailing: Vec<u8>,

    // ---- registration ----
    /// The `alg` in the credential key and the packed statement (the key stays P-256).
    pub alg: Option<i64>,
    /// Replaces the encoded COSE credential public key.
    pub cose_key: Option<Vec<u8>>,
    /// Replaces the credential id everywhere (authenticator data, `id`, `rawId`).
    pub credential_id: Option<Vec<u8>>,
    /// Replaces `id`/`rawId` only (they then differ from the attested id).
    pub raw_id: Option<Vec<u8>>,
    /// The AAGUID in attested credential data.
    pub aaguid: Option<[u8; 16]>,
    /// Which statement to make (default: [`TestKey::attestation`]).
    pub attestation: Option<Attestation>,
    /// Replaces `fmt` (the statement is still the one [`Self::attestation`] makes).
    pub fmt: Option<String>,
    /// Replaces the encoded `attStmt`.
    pub att_stmt: Option<Vec<u8>>,
    /// Replaces the whole attestation object.
    pub attestation_object: Option<Vec<u8>>,
    /// Bytes appended after the attestation object.
    pub attestation_object_trailing: Vec<u8>,

    // ---- assertion ----
    /// Signs with another key than the registered one.
    pub wrong_signature_key: bool,
    /// Replaces the signature.
    pub signature: Option<Vec<u8>>,
    /// `Some(None)` omits `userHandle`; `Some(Some(h))` sends `h` (default: the handle learnt
    /// at registration, if any).
    pub user_handle: Option<Option<Vec<u8>>>,

    // ---- both ----
    /// Answers even if the key is in `excludeCredentials` or missing from `allowCredentials`.
    pub ignore_credential_lists: bool,
    /// The outer `type` (default `public-key`).
    pub credential_type: Option<String>,
    /// `response.transports` on registration (default: [`TestKey::transports`]).
    pub transports: Option<Vec<String>>,
    /// `clientExtensionResults` (default `{}`).
    pub client_extension_results: Option<Value>,
}

/// A software security key with one ES256 credential, and the browser in front of it.
#[derive(Clone)]
pub struct TestKey {
    signing_key: SigningKey,
    /// The credential's key and a wrong one, for AWS-LC, which signs in about a tenth of the time: a load
    /// generator on the server's cores must cost the server as little as it can.
    fast: std::sync::Arc<(EcdsaKeyPair, EcdsaKeyPair)>,
    /// The credential id (32 bytes from the seed unless set).
    pub credential_id: Vec<u8>,
    /// The user handle learnt at registration (`user.id`), returned on sign-in.
    pub user_handle: Option<Vec<u8>>,
    /// The AAGUID reported at registration.
    pub aaguid: [u8; 16],
    /// The signature counter: the last value used.
    pub sign_count: u32,
    /// Whether each sign-in increments the counter first (true) or the key keeps 0 (false,
    /// as synced passkeys do).
    pub increment_counter: bool,
    /// BE flag.
    pub backup_eligible: bool,
    /// BS flag.
    pub backup_state: bool,
    /// Whether the key verifies its user (UV flag).
    pub user_verifying: bool,
    /// Transports reported at registration.
    pub transports: Vec<String>,
    /// Attestation statement made at registration.
    pub attestation: Attestation,
    /// `authenticatorAttachment` (default `cross-platform`).
    pub attachment: Option<String>,
    /// The batch attestation key of [`Attestation::PackedFull`].
    pub batch: Option<BatchAttestation>,
}

impl fmt::Debug for TestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestKey")
            .field("credential_id", &b64(&self.credential_id))
            .field("sign_count", &self.sign_count)
            .finish_non_exhaustive()
    }
}

fn fast_key(key: &SigningKey) -> EcdsaKeyPair {
    let public = key.verifying_key().to_encoded_point(false);
    EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_ASN1_SIGNING, &key.to_bytes(), public.as_bytes())
        .expect("a valid P-256 key pair")
}

fn derive_key(label: &[u8], seed: &[u8]) -> SigningKey {
    let mut counter = 0u8;
    loop {
        let digest = Sha256::new()
            .chain_update(label)
            .chain_update(seed)
            .chain_update([counter])
            .finalize();
        // A digest outside the scalar range (probability ~2^-32) moves on to the next counter.
        if let Ok(key) = SigningKey::from_slice(&digest) {
            return key;
        }
        counter = counter.wrapping_add(1);
    }
}

impl TestKey {
    /// A key derived from `seed`: the same seed always gives the same key and credential id.
    pub fn from_seed(seed: &[u8]) -> Self {
        let credential_id = Sha256::new()
            .chain_update(b"keyfleet-testkey credential id")
            .chain_update(seed)
            .finalize()
            .to_vec();
        let signing_key = derive_key(b"keyfleet-testkey credential key", seed);
        let other_key = derive_key(b"keyfleet-testkey wrong key", seed);
        Self {
            fast: std::sync::Arc::new((fast_key(&signing_key), fast_key(&other_key))),
            signing_key,
            credential_id,
            user_handle: None,
            aaguid: DEFAULT_AAGUID,
            sign_count: 0,
            increment_counter: true,
            backup_eligible: false,
            backup_state: false,
            user_verifying: true,
            transports: vec!["usb".into()],
            attestation: Attestation::PackedSelf,
            attachment: Some("cross-platform".into()),
            batch: None,
        }
    }

    /// A key from fresh randomness.
    pub fn random(rng: &mut impl CryptoRngCore) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_seed(&seed)
    }

    /// The credential public key as a COSE_Key (EC2, P-256) with this `alg`.
    pub fn cose_public_key(&self, alg: i64) -> Vec<u8> {
        let point = self.signing_key.verifying_key().to_encoded_point(false);
        let x = point.x().map(|x| x.to_vec()).unwrap_or_default();
        let y = point.y().map(|y| y.to_vec()).unwrap_or_default();
        cbor::map(&[
            (cbor::int(1), cbor::int(2)),
            (cbor::int(3), cbor::int(alg)),
            (cbor::int(-1), cbor::int(1)),
            (cbor::int(-2), cbor::bytes(&x)),
            (cbor::int(-3), cbor::bytes(&y)),
        ])
    }

    /// `navigator.credentials.create()` then `toJSON()`, done right.
    pub fn register(&mut self, options: &Value, origin: &str) -> Result<Value, Error> {
        self.register_with(options, origin, &Tweaks::default())
    }

    /// `navigator.credentials.create()` with `tweaks` applied. `options` is the
    /// `publicKey` member (or the whole `{ceremonyId, publicKey}` answer). Learns the user
    /// handle from `user.id`.
    pub fn register_with(&mut self, options: &Value, origin: &str, tweaks: &Tweaks) -> Result<Value, Error> {
        let options = options.get("publicKey").unwrap_or(options);
        let challenge = challenge(options)?;
        let rp_id = options
            .pointer("/rp/id")
            .and_then(Value::as_str)
            .ok_or(Error::Options("rp.id"))?;
        let user_handle = options
            .pointer("/user/id")
            .and_then(Value::as_str)
            .and_then(unb64)
            .ok_or(Error::Options("user.id"))?;
        let offered = options
            .get("pubKeyCredParams")
            .and_then(Value::as_array)
            .ok_or(Error::Options("pubKeyCredParams"))?;
        if tweaks.alg.is_none() && !offered.iter().any(|p| p["alg"].as_i64() == Some(ES256)) {
            return Err(Error::AlgorithmNotOffered);
        }
        let credential_id = tweaks
            .credential_id
            .clone()
            .unwrap_or_else(|| self.credential_id.clone());
        if !tweaks.ignore_credential_lists && listed(options.get("excludeCredentials"), &credential_id) {
            return Err(Error::Excluded);
        }
        self.user_handle = Some(user_handle);

        let client_data = client_data(tweaks, "webauthn.create", &challenge, origin);
        let alg = tweaks.alg.unwrap_or(ES256);
        let mut auth_data = self.auth_data_head(tweaks, rp_id, true, self.sign_count);
        auth_data.extend_from_slice(&tweaks.aaguid.unwrap_or(self.aaguid));
        let id_len = u16::try_from(credential_id.len()).unwrap_or(u16::MAX);
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&credential_id);
        auth_data.extend_from_slice(&tweaks.cose_key.clone().unwrap_or_else(|| self.cose_public_key(alg)));
        auth_data_tail(tweaks, &mut auth_data);

        let attestation = tweaks.attestation.unwrap_or(self.attestation);
        let att_stmt = match (&tweaks.att_stmt, attestation) {
            (Some(stmt), _) => stmt.clone(),
            (None, Attestation::None) => cbor::map(&[]),
            (None, Attestation::PackedSelf) => {
                let sig = sign(&self.fast.0, &auth_data, &client_data);
                cbor::map(&[
                    (cbor::text("alg"), cbor::int(alg)),
                    (cbor::text("sig"), cbor::bytes(&sig)),
                ])
            }
            (None, Attestation::PackedFull) => {
                let batch = self.batch.as_ref().ok_or(Error::NoBatch)?;
                let sig = sign(&batch.key, &auth_data, &client_data);
                let x5c: Vec<Vec<u8>> = batch.x5c.iter().map(|c| cbor::bytes(c)).collect();
                cbor::map(&[
                    (cbor::text("alg"), cbor::int(ES256)),
                    (cbor::text("sig"), cbor::bytes(&sig)),
                    (cbor::text("x5c"), cbor::array(&x5c)),
                ])
            }
        };
        let fmt = tweaks.fmt.clone().unwrap_or_else(|| match attestation {
            Attestation::None => "none".into(),
            Attestation::PackedSelf | Attestation::PackedFull => "packed".into(),
        });
        let mut attestation_object = tweaks.attestation_object.clone().unwrap_or_else(|| {
            cbor::map(&[
                (cbor::text("fmt"), cbor::text(&fmt)),
                (cbor::text("attStmt"), att_stmt),
                (cbor::text("authData"), cbor::bytes(&auth_data)),
            ])
        });
        attestation_object.extend_from_slice(&tweaks.attestation_object_trailing);

        let raw_id = tweaks.raw_id.clone().unwrap_or(credential_id);
        let transports = tweaks.transports.clone().unwrap_or_else(|| self.transports.clone());
        let mut out = json!({
            "id": b64(&raw_id),
            "rawId": b64(&raw_id),
            "type": tweaks.credential_type.as_deref().unwrap_or("public-key"),
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation_object),
                "transports": transports,
            },
            "clientExtensionResults": tweaks.client_extension_results.clone().unwrap_or_else(|| json!({})),
        });
        if let Some(a) = &self.attachment {
            out["authenticatorAttachment"] = json!(a);
        }
        Ok(out)
    }

    /// `navigator.credentials.get()` then `toJSON()`, done right.
    pub fn sign_in(&mut self, options: &Value, origin: &str) -> Result<Value, Error> {
        self.sign_in_with(options, origin, &Tweaks::default())
    }

    /// `navigator.credentials.get()` with `tweaks` applied. `options` is the `publicKey`
    /// member (or the whole `{ceremonyId, publicKey}` answer). Unless `tweaks.sign_count` is
    /// set, the key's counter moves on first (when [`Self::increment_counter`]).
    pub fn sign_in_with(&mut self, options: &Value, origin: &str, tweaks: &Tweaks) -> Result<Value, Error> {
        let options = options.get("publicKey").unwrap_or(options);
        let challenge = challenge(options)?;
        let rp_id = options
            .get("rpId")
            .and_then(Value::as_str)
            .ok_or(Error::Options("rpId"))?;
        let credential_id = tweaks
            .credential_id
            .clone()
            .unwrap_or_else(|| self.credential_id.clone());
        let allow = options.get("allowCredentials");
        let allow_empty = allow.and_then(Value::as_array).is_none_or(Vec::is_empty);
        if !tweaks.ignore_credential_lists && !allow_empty && !listed(allow, &credential_id) {
            return Err(Error::NotAllowed);
        }
        let count = match tweaks.sign_count {
            Some(n) => n,
            None => {
                if self.increment_counter {
                    self.sign_count = self.sign_count.wrapping_add(1);
                }
                self.sign_count
            }
        };
        let client_data = client_data(tweaks, "webauthn.get", &challenge, origin);
        let mut auth_data = self.auth_data_head(tweaks, rp_id, false, count);
        auth_data_tail(tweaks, &mut auth_data);
        let key = if tweaks.wrong_signature_key {
            &self.fast.1
        } else {
            &self.fast.0
        };
        let signature = tweaks
            .signature
            .clone()
            .unwrap_or_else(|| sign(key, &auth_data, &client_data));
        let raw_id = tweaks.raw_id.clone().unwrap_or(credential_id);
        let mut out = json!({
            "id": b64(&raw_id),
            "rawId": b64(&raw_id),
            "type": tweaks.credential_type.as_deref().unwrap_or("public-key"),
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(&signature),
            },
            "clientExtensionResults": tweaks.client_extension_results.clone().unwrap_or_else(|| json!({})),
        });
        let handle = tweaks.user_handle.clone().unwrap_or_else(|| self.user_handle.clone());
        if let Some(h) = handle {
            out["response"]["userHandle"] = json!(b64(&h));
        }
        if let Some(a) = &self.attachment {
            out["authenticatorAttachment"] = json!(a);
        }
        Ok(out)
    }

    /// rpIdHash ‖ flags ‖ signCount (§6.1).
    fn auth_data_head(&self, tweaks: &Tweaks, rp_id: &str, attested: bool, count: u32) -> Vec<u8> {
        let rp_id_hash = tweaks
            .rp_id_hash
            .unwrap_or_else(|| Sha256::digest(tweaks.rp_id.as_deref().unwrap_or(rp_id).as_bytes()).into());
        let flags = tweaks.flags.unwrap_or_else(|| {
            let mut f = 0;
            let mut set = |on: bool, bit: u8| {
                if on {
                    f |= bit;
                }
            };
            set(tweaks.up.unwrap_or(true), FLAG_UP);
            set(tweaks.uv.unwrap_or(self.user_verifying), FLAG_UV);
            set(tweaks.be.unwrap_or(self.backup_eligible), FLAG_BE);
            set(tweaks.bs.unwrap_or(self.backup_state), FLAG_BS);
            set(tweaks.at.unwrap_or(attested), FLAG_AT);
            set(tweaks.ed.unwrap_or(tweaks.extensions.is_some()), FLAG_ED);
            f
        });
        let mut out = rp_id_hash.to_vec();
        out.push(flags);
        out.extend_from_slice(&count.to_be_bytes());
        out
    }
}

fn auth_data_tail(tweaks: &Tweaks, auth_data: &mut Vec<u8>) {
    if let Some(ext) = &tweaks.extensions {
        auth_data.extend_from_slice(ext);
    }
    auth_data.extend_from_slice(&tweaks.auth_data_trailing);
}

fn challenge(options: &Value) -> Result<Vec<u8>, Error> {
    options
        .get("challenge")
        .and_then(Value::as_str)
        .and_then(unb64)
        .ok_or(Error::Options("challenge"))
}

/// Whether a descriptor list (`excludeCredentials` / `allowCredentials`) names `id`.
fn listed(list: Option<&Value>, id: &[u8]) -> bool {
    list.and_then(Value::as_array).is_some_and(|l| {
        l.iter()
            .filter_map(|d| d["id"].as_str().and_then(unb64))
            .any(|listed| listed == id)
    })
}

/// The clientDataJSON a browser would write (§5.8.1.1 serialisation order), with tweaks.
fn client_data(tweaks: &Tweaks, type_: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    if let Some(raw) = &tweaks.client_data_json {
        return raw.clone();
    }
    let quote = |s: &str| Value::from(s).to_string();
    let mut out = format!(
        "{{\"type\":{},\"challenge\":{},\"origin\":{},\"crossOrigin\":{}",
        quote(tweaks.client_data_type.as_deref().unwrap_or(type_)),
        quote(&b64(tweaks.challenge.as_deref().unwrap_or(challenge))),
        quote(tweaks.origin.as_deref().unwrap_or(origin)),
        tweaks.cross_origin.unwrap_or(false),
    );
    if let Some(top) = &tweaks.top_origin {
        out.push_str(&format!(",\"topOrigin\":{}", quote(top)));
    }
    if let Some(extra) = &tweaks.client_data_extra {
        out.push_str(extra);
    }
    out.push('}');
    out.into_bytes()
}

/// ECDSA over `authData ‖ SHA-256(clientDataJSON)`, DER-encoded (§6.3.3 step 11).
fn sign(key: &EcdsaKeyPair, auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
    let signed = [auth_data, Sha256::digest(client_data).as_slice()].concat();
    key.sign(&SystemRandom::new(), &signed)
        .expect("ECDSA signing with the system's randomness")
        .as_ref()
        .to_vec()
}

/// Unpadded base64url.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests;
