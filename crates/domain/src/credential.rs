//! WebAuthn credentials: the security keys registered to a user.
//!
//! A credential is stored with everything later checks need (WebAuthn L3 §7.1 step 27):
//! the COSE public key and its algorithm, the signature counter, the backup flags, whether
//! user verification was ever performed, the transports, and the attestation object itself
//! so that its trust can be re-evaluated when the FIDO metadata changes.

use thiserror::Error;

use crate::user::has_forbidden_formatting;
use crate::{Timestamp, UserId};

/// Longest credential id a relying party accepts (WebAuthn L3 §7.1 step 24).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// Longest nickname, in characters.
pub const MAX_NICKNAME_CHARS: usize = 64;

/// Whether `id` has an acceptable length for a credential id: 1 to 1023 bytes.
pub fn is_valid_credential_id(id: &[u8]) -> bool {
    (1..=MAX_CREDENTIAL_ID_LEN).contains(&id.len())
}

/// A credential as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The credential id (1 to 1023 bytes), unique across all users.
    pub id: Vec<u8>,
    /// Whose key it is.
    pub user_id: UserId,
    /// The credential public key as COSE_Key bytes.
    pub public_key: Vec<u8>,
    /// The COSE algorithm of the key (`-7` for ES256).
    pub alg: i64,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// The authenticator model, from the attested credential data.
    pub aaguid: [u8; 16],
    /// The transports the client reported (`usb`, `nfc`, …), possibly none.
    pub transports: Vec<String>,
    /// The BE flag at registration: the key may be synced. Never changes afterwards.
    pub backup_eligible: bool,
    /// The BS flag as last seen: the key is currently backed up.
    pub backup_state: bool,
    /// Whether user verification has ever been performed with this key.
    pub uv_initialized: bool,
    /// The attestation statement format (`packed`, `tpm`, `none`, …).
    pub attestation_format: String,
    /// What the attestation was found to be worth (`trusted`, `self`, `none`, `untrusted`).
    pub attestation_trust: String,
    /// The attestation object as received, for re-evaluation against newer metadata.
    pub attestation_object: Vec<u8>,
    /// The name the user gave the key (see [`validate_nickname`]).
    pub nickname: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last signed in.
    pub last_used_at: Option<Timestamp>,
    /// Set when a signature counter went backwards: the key may have been cloned.
    pub possibly_cloned: bool,
}

impl Credential {
    /// Whether the key's attestation reached a trusted root when it was registered (`none`,
    /// self and unevaluated attestations did not): the one reading of `attestation_trust`
    /// that policies, authentication strengths and the console share.
    pub fn is_attested(&self) -> bool {
        self.attestation_trust == "trusted"
    }
}

/// Why a nickname was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NicknameError {
    /// Empty, or longer than 64 characters, after trimming.
    #[error("nickname must be 1 to {MAX_NICKNAME_CHARS} characters long")]
    Length,
    /// Holds a control or bidirectional formatting character.
    #[error("nickname contains control or bidirectional formatting characters")]
    ControlCharacters,
}

/// Validates a credential nickname: trimmed, 1–64 characters (not bytes), no control or
/// bidirectional formatting characters. Returns the trimmed name.
pub fn validate_nickname(raw: &str) -> Result<String, NicknameError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NICKNAME_CHARS {
        return Err(NicknameError::Length);
    }
    if has_forbidden_formatting(name) {
        return Err(NicknameError::ControlCharacters);
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_are_trimmed() {
        assert_eq!(validate_nickname("  YubiKey 5 NFC \t").unwrap(), "YubiKey 5 NFC");
        assert_eq!(
            validate_nickname("'; DROP TABLE credentials; --").unwrap(),
            "'; DROP TABLE credentials; --",
            "stored literally; queries are parameterised"
        );
        assert_eq!(
            validate_nickname("<script>").unwrap(),
            "<script>",
            "escaping is the renderer's job"
        );
    }

    #[test]
    fn nickname_length_counts_characters() {
        assert_eq!(validate_nickname(""), Err(NicknameError::Length));
        assert_eq!(validate_nickname(" \t "), Err(NicknameError::Length));
        assert!(validate_nickname(&"k".repeat(64)).is_ok());
        assert_eq!(validate_nickname(&"k".repeat(65)), Err(NicknameError::Length));
        // 64 characters of two bytes each: 128 bytes, still allowed.
        assert!(validate_nickname(&"é".repeat(64)).is_ok());
        assert_eq!(validate_nickname(&"é".repeat(65)), Err(NicknameError::Length));
        assert_eq!(validate_nickname(&"x".repeat(10_000)), Err(NicknameError::Length));
    }

    #[test]
    fn nicknames_refuse_controls_and_bidi() {
        for bad in [
            "key\u{202E}gpj.exe",
            "a\nb",
            "a\u{0}b",
            "a\u{2066}b",
            "a\u{200F}b",
            "a\u{7}b",
        ] {
            assert_eq!(validate_nickname(bad), Err(NicknameError::ControlCharacters), "{bad:?}");
        }
    }

    #[test]
    fn credential_id_length() {
        assert!(!is_valid_credential_id(&[]));
        assert!(is_valid_credential_id(&[0]));
        assert!(is_valid_credential_id(&[0; MAX_CREDENTIAL_ID_LEN]));
        assert!(!is_valid_credential_id(&[0; MAX_CREDENTIAL_ID_LEN + 1]));
    }
}
