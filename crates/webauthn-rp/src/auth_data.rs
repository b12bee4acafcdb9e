//! Authenticator data (WebAuthn L3 §6.1), attested credential data (§6.5.1) and the
//! flags the ceremonies check.
//!
//! ```text
//! rpIdHash (32) | flags (1) | signCount (4, big-endian)
//!   [ attestedCredentialData: aaguid (16) | credentialIdLength (2) | credentialId | credentialPublicKey (COSE_Key CBOR) ]   if AT
//!   [ extensions (CBOR map) ]                                                                                       if ED
//! ```
//! No byte may follow: §6.1 fixes the layout, and leftover bytes are how a forged
//! structure hides (go-webauthn #191, #762).

use thiserror::Error;

use crate::cbor::{self, CborError, Value};

/// Flag bit 0: User Present.
pub const FLAG_UP: u8 = 0x01;
/// Flag bit 2: User Verified.
pub const FLAG_UV: u8 = 0x04;
/// Flag bit 3: Backup Eligibility.
pub const FLAG_BE: u8 = 0x08;
/// Flag bit 4: Backup State.
pub const FLAG_BS: u8 = 0x10;
/// Flag bit 6: Attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// Flag bit 7: Extension data included.
pub const FLAG_ED: u8 = 0x80;

/// Longest credential ID accepted (§5.1.3 step 5.x / §7.1 step 25: "at most 1023 bytes").
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// An authenticator's AAGUID (§6.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Aaguid(pub [u8; 16]);

impl Aaguid {
    /// True for the all-zero AAGUID (U2F authenticators, or when attestation was withheld).
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl std::fmt::Display for Aaguid {
    /// Hyphenated lower-case hex, like a UUID.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The flags byte of authenticator data, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthenticatorFlags {
    /// UP: the user was present.
    pub user_present: bool,
    /// UV: the user was verified.
    pub user_verified: bool,
    /// BE: the credential may be backed up (multi-device).
    pub backup_eligible: bool,
    /// BS: the credential is currently backed up.
    pub backup_state: bool,
    /// AT: attested credential data follows.
    pub attested_credential_data: bool,
    /// ED: extension outputs follow.
    pub extension_data: bool,
}

impl AuthenticatorFlags {
    /// Decodes the flags byte.
    pub fn from_byte(b: u8) -> Self {
        Self {
            user_present: b & FLAG_UP != 0,
            user_verified: b & FLAG_UV != 0,
            backup_eligible: b & FLAG_BE != 0,
            backup_state: b & FLAG_BS != 0,
            attested_credential_data: b & FLAG_AT != 0,
            extension_data: b & FLAG_ED != 0,
        }
    }
}

/// Attested credential data (§6.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredentialData<'a> {
    /// The authenticator model's AAGUID.
    pub aaguid: Aaguid,
    /// The credential ID (1..=1023 bytes).
    pub credential_id: &'a [u8],
    /// The credential public key, as the exact COSE_Key CBOR bytes.
    pub credential_public_key: &'a [u8],
}

/// Parsed authenticator data, borrowing from the raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData<'a> {
    /// The raw bytes (signed over in assertions and most attestation formats).
    pub raw: &'a [u8],
    /// SHA-256 of the RP ID the credential is scoped to.
    pub rp_id_hash: &'a [u8; 32],
    /// The raw flags byte.
    pub flags_byte: u8,
    /// The decoded flags.
    pub flags: AuthenticatorFlags,
    /// The signature counter.
    pub sign_count: u32,
    /// Present iff AT is set.
    pub attested_credential_data: Option<AttestedCredentialData<'a>>,
    /// The extensions CBOR map bytes, present iff ED is set.
    pub extensions: Option<&'a [u8]>,
}

/// Why authenticator data is malformed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthDataError {
    /// Fewer than 37 bytes, or the data ends inside a field.
    #[error("authenticator data is truncated")]
    Truncated,
    /// Bytes follow the last field the flags announce.
    #[error("{0} trailing byte(s) after authenticator data")]
    TrailingBytes(usize),
    /// AT is set without attested credential data, or attested data is present without AT.
    #[error("AT flag does not match the presence of attested credential data")]
    AttestedDataFlagMismatch,
    /// ED is set without extensions.
    #[error("ED flag does not match the presence of extensions")]
    ExtensionFlagMismatch,
    /// The credential ID is longer than 1023 bytes (or empty).
    #[error("credential ID length {0} is outside 1..=1023")]
    CredentialIdLength(usize),
    /// The credential public key is not well-formed CBOR.
    #[error("credential public key CBOR: {0}")]
    CredentialKeyCbor(CborError),
    /// The extensions are not a well-formed CBOR map with text keys.
    #[error("extensions are not a CBOR map with text keys")]
    InvalidExtensions,
    /// The extensions are not well-formed CBOR.
    #[error("extensions CBOR: {0}")]
    ExtensionsCbor(CborError),
}

impl AuthDataError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            AuthDataError::Truncated => "auth_data_truncated",
            AuthDataError::TrailingBytes(_) => "auth_data_trailing_bytes",
            AuthDataError::AttestedDataFlagMismatch => "attested_data_flag_mismatch",
            AuthDataError::ExtensionFlagMismatch => "extension_flag_mismatch",
            AuthDataError::CredentialIdLength(_) => "credential_id_too_long",
            AuthDataError::CredentialKeyCbor(_) | AuthDataError::ExtensionsCbor(_) => "invalid_cbor",
            AuthDataError::InvalidExtensions => "invalid_extensions",
        }
    }
}

impl<'a> AuthenticatorData<'a> {
    /// Parses authenticator data; every byte must be accounted for by the flags.
    pub fn parse(raw: &'a [u8]) -> Result<Self, AuthDataError> {
        let (head, mut rest) = raw.split_at_checked(37).ok_or(AuthDataError::Truncated)?;
        let rp_id_hash: &[u8; 32] = head[..32].try_into().map_err(|_| AuthDataError::Truncated)?;
        let flags_byte = head[32];
        let flags = AuthenticatorFlags::from_byte(flags_byte);
        let sign_count = u32::from_be_bytes([head[33], head[34], head[35], head[36]]);

        let attested_credential_data = if flags.attested_credential_data {
            let (data, after) = parse_attested(rest)?;
            rest = after;
            Some(data)
        } else {
            None
        };

        let extensions = if flags.extension_data {
            if rest.is_empty() {
                return Err(AuthDataError::ExtensionFlagMismatch);
            }
            let (value, used) = cbor::decode_prefix(rest).map_err(AuthDataError::ExtensionsCbor)?;
            check_extensions_map(&value)?;
            let (ext, after) = rest.split_at(used);
            rest = after;
            Some(ext)
        } else {
            None
        };

        if !rest.is_empty() {
            return Err(AuthDataError::TrailingBytes(rest.len()));
        }

        Ok(Self {
            raw,
            rp_id_hash,
            flags_byte,
            flags,
            sign_count,
            attested_credential_data,
            extensions,
        })
    }
}

fn parse_attested(data: &[u8]) -> Result<(AttestedCredentialData<'_>, &[u8]), AuthDataError> {
    if data.is_empty() {
        return Err(AuthDataError::AttestedDataFlagMismatch);
    }
    let (aaguid, rest) = data.split_at_checked(16).ok_or(AuthDataError::Truncated)?;
    let (len, rest) = rest.split_at_checked(2).ok_or(AuthDataError::Truncated)?;
    let id_len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if id_len == 0 || id_len > MAX_CREDENTIAL_ID_LEN {
        return Err(AuthDataError::CredentialIdLength(id_len));
    }
    let (credential_id, rest) = rest.split_at_checked(id_len).ok_or(AuthDataError::Truncated)?;
    let (_, used) = cbor::decode_prefix(rest).map_err(|e| match e {
        CborError::Truncated => AuthDataError::Truncated,
        other => AuthDataError::CredentialKeyCbor(other),
    })?;
    let (credential_public_key, rest) = rest.split_at(used);
    let mut aaguid_bytes = [0u8; 16];
    aaguid_bytes.copy_from_slice(aaguid);
    Ok((
        AttestedCredentialData {
            aaguid: Aaguid(aaguid_bytes),
            credential_id,
            credential_public_key,
        },
        rest,
    ))
}

fn check_extensions_map(value: &Value<'_>) -> Result<(), AuthDataError> {
    let entries = value.as_map().ok_or(AuthDataError::InvalidExtensions)?;
    if entries.iter().all(|(k, _)| k.as_text().is_some()) {
        Ok(())
    } else {
        Err(AuthDataError::InvalidExtensions)
    }
}

/// The extension identifiers in an extensions map (already validated by [`AuthenticatorData::parse`]).
pub fn extension_ids(extensions: &[u8]) -> Vec<String> {
    match cbor::decode(extensions) {
        Ok(Value::Map(entries)) => entries
            .iter()
            .filter_map(|(k, _)| k.as_text().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
