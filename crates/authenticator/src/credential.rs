//! Credential sources and authenticator data (WebAuthn §6.1, CTAP 2.1 §6.1.2 step 17).
//!
//! Discoverable credentials live in [`State`] with 32 random bytes as their ID. A
//! non-discoverable credential stores nothing: its ID is `0x02 ‖ AES-256-GCM(wrapKey, nonce,
//! alg ‖ credProtect ‖ flags ‖ credBlob length ‖ private key ‖ credBlob, aad = rpIdHash)` (see
//! [`wrap`]; format `0x01` of earlier versions is still accepted), so only this authenticator can open it and
//! only for the RP it was made for. U2F key handles use the same format, with the application
//! parameter as rpIdHash.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::cbor::{self, Value};
use crate::crypto::{self, Alg};
use crate::state::{ResidentCredential, State};

/// Flag UP: user present.
pub const FLAG_UP: u8 = 0x01;
/// Flag UV: user verified.
pub const FLAG_UV: u8 = 0x04;
/// Flag AT: attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// Flag ED: extension data included.
pub const FLAG_ED: u8 = 0x80;

const WRAPPED_VERSION_1: u8 = 0x01;
const WRAPPED_VERSION: u8 = 0x02;
const FLAG_HMAC_SECRET: u8 = 0x01;
const FLAG_CRED_BLOB: u8 = 0x02;

/// credProtect level userVerificationOptional.
pub const CRED_PROTECT_OPTIONAL: u8 = 1;
/// credProtect level userVerificationOptionalWithCredentialIDList.
pub const CRED_PROTECT_OPTIONAL_WITH_LIST: u8 = 2;
/// credProtect level userVerificationRequired.
pub const CRED_PROTECT_REQUIRED: u8 = 3;

/// The user of a discoverable credential.
#[derive(Clone)]
pub struct ResidentUser {
    pub user_id: Vec<u8>,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub created: u64,
}

/// A credential found for a request, discoverable or not.
#[derive(Clone)]
pub struct Found {
    pub id: Vec<u8>,
    pub alg: Alg,
    pub private_key: Zeroizing<Vec<u8>>,
    pub cred_protect: u8,
    pub hmac_secret: bool,
    /// The credBlob stored at creation (§12.2), if any.
    pub cred_blob: Option<Vec<u8>>,
    pub resident: Option<ResidentUser>,
}

impl Found {
    /// Whether credProtect lets this credential be used (§12.1): level 3 needs UV; level 2 needs
    /// UV unless the platform named the credential in an allowList.
    pub fn usable(&self, uv: bool, named_in_allow_list: bool) -> bool {
        match self.cred_protect {
            CRED_PROTECT_REQUIRED => uv,
            CRED_PROTECT_OPTIONAL_WITH_LIST => uv || named_in_allow_list,
            _ => true,
        }
    }
}

impl From<&ResidentCredential> for Found {
    fn from(c: &ResidentCredential) -> Found {
        Found {
            id: c.id.clone(),
            alg: c.alg,
            private_key: c.private_key.clone(),
            cred_protect: c.cred_protect,
            hmac_secret: c.hmac_secret,
            cred_blob: c.cred_blob.clone(),
            resident: Some(ResidentUser {
                user_id: c.user_id.clone(),
                name: c.user_name.clone(),
                display_name: c.user_display_name.clone(),
                created: c.created,
            }),
        }
    }
}

/// What a non-discoverable credential ID seals besides the RP binding.
pub struct Wrapped<'a> {
    pub alg: Alg,
    pub private_key: &'a [u8],
    pub cred_protect: u8,
    pub hmac_secret: bool,
    pub cred_blob: Option<&'a [u8]>,
}

/// Makes a non-discoverable credential ID. Format 2: `0x02 ‖ AES-256-GCM(alg code ‖ credProtect
/// ‖ flags ‖ credBlob length ‖ private key ‖ credBlob)`. Format 1 (ES256 only, no credBlob) is
/// still opened, so that IDs issued by earlier versions keep working.
pub fn wrap(state: &State, rng: &mut dyn CryptoRngCore, rp_id_hash: &[u8; 32], w: &Wrapped<'_>) -> Vec<u8> {
    let mut flags = if w.hmac_secret { FLAG_HMAC_SECRET } else { 0 };
    if w.cred_blob.is_some() {
        flags |= FLAG_CRED_BLOB;
    }
    let blob = w.cred_blob.unwrap_or_default();
    let plaintext = Zeroizing::new(
        [
            &[w.alg.code(), w.cred_protect, flags, blob.len() as u8][..],
            w.private_key,
            blob,
        ]
        .concat(),
    );
    let sealed = crypto::aead_seal(&state.wrap_key, rng, rp_id_hash, &plaintext);
    [&[WRAPPED_VERSION][..], &sealed].concat()
}

/// Opens a non-discoverable credential ID made by this authenticator for `rp_id_hash`.
pub fn unwrap(state: &State, rp_id_hash: &[u8; 32], id: &[u8]) -> Option<Found> {
    let (&version, sealed) = id.split_first()?;
    let plain = match version {
        WRAPPED_VERSION_1 | WRAPPED_VERSION => Zeroizing::new(crypto::aead_open(&state.wrap_key, rp_id_hash, sealed)?),
        _ => return None,
    };
    if version == WRAPPED_VERSION_1 {
        // private key (32) ‖ credProtect ‖ flags
        if plain.len() != 34 {
            return None;
        }
        return Some(Found {
            id: id.to_vec(),
            alg: Alg::Es256,
            private_key: Zeroizing::new(plain[..32].to_vec()),
            cred_protect: plain[32],
            hmac_secret: plain[33] & FLAG_HMAC_SECRET != 0,
            cred_blob: None,
            resident: None,
        });
    }
    let [code, cred_protect, flags, blob_len, rest @ ..] = plain.as_slice() else {
        return None;
    };
    let alg = Alg::from_code(*code)?;
    if rest.len() != alg.key_len() + usize::from(*blob_len) {
        return None;
    }
    let (key, blob) = rest.split_at(alg.key_len());
    Some(Found {
        id: id.to_vec(),
        alg,
        private_key: Zeroizing::new(key.to_vec()),
        cred_protect: *cred_protect,
        hmac_secret: flags & FLAG_HMAC_SECRET != 0,
        cred_blob: (flags & FLAG_CRED_BLOB != 0).then(|| blob.to_vec()),
        resident: None,
    })
}

/// Finds a credential by ID for `rp_id`: a stored discoverable one, or a wrapped one.
pub fn find(state: &State, rp_id: &str, id: &[u8]) -> Option<Found> {
    if let Some(c) = state.credentials.iter().find(|c| c.id == id && c.rp_id == rp_id) {
        return Some(c.into());
    }
    unwrap(state, &crypto::sha256(rp_id.as_bytes()), id)
}

/// Attested credential data: AAGUID ‖ credentialIdLength (2, big-endian) ‖ credentialId ‖ COSE key.
pub fn attested_credential_data(aaguid: &[u8; 16], id: &[u8], cose_key: &Value) -> Vec<u8> {
    let len = u16::try_from(id.len()).unwrap_or(u16::MAX).to_be_bytes();
    [aaguid.as_slice(), &len, id, &cbor::encode(cose_key)].concat()
}

/// Authenticator data: rpIdHash ‖ flags ‖ signCount (4, big-endian) ‖ [attested data] ‖ [extensions].
pub fn auth_data(
    rp_id_hash: &[u8; 32],
    mut flags: u8,
    sign_count: u32,
    attested: Option<&[u8]>,
    extensions: Option<&Value>,
) -> Vec<u8> {
    if attested.is_some() {
        flags |= FLAG_AT;
    }
    if extensions.is_some() {
        flags |= FLAG_ED;
    }
    let mut out = Vec::with_capacity(37 + attested.map_or(0, <[u8]>::len));
    out.extend_from_slice(rp_id_hash);
    out.push(flags);
    out.extend_from_slice(&sign_count.to_be_bytes());
    if let Some(att) = attested {
        out.extend_from_slice(att);
    }
    if let Some(ext) = extensions {
        out.extend_from_slice(&cbor::encode(ext));
    }
    out
}

/// Truncates a string to at most 64 bytes on a character boundary (CTAP 2.1 §6.1.2 permits
/// truncating rp.name, user.name and user.displayName to 64 bytes).
pub fn truncate64(s: &str) -> String {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
