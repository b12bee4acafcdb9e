//! The pinUvAuthToken and its state (CTAP 2.1 §6.5.2.1 "pinUvAuthToken state").
//!
//! One token exists at a time; issuing a new one (`resetPinUvAuthToken()`) replaces it. On NFC
//! its usage window is 19.8 s from issuance (the NFC limit OpenSK cites from the spec), after which
//! `stopUsingPinUvAuthToken()` applies.

use zeroize::Zeroizing;

/// Permission mc: authenticatorMakeCredential.
pub const PERM_MC: u8 = 0x01;
/// Permission ga: authenticatorGetAssertion.
pub const PERM_GA: u8 = 0x02;
/// Permission cm: authenticatorCredentialManagement.
pub const PERM_CM: u8 = 0x04;
/// Permission be: authenticatorBioEnrollment (the band only).
pub const PERM_BE: u8 = 0x08;
/// Permission lbw: largeBlobs write.
pub const PERM_LBW: u8 = 0x10;
/// Permission acfg: authenticatorConfig.
pub const PERM_ACFG: u8 = 0x20;
/// The permissions every model can grant (the band adds `be`).
pub const SUPPORTED_PERMISSIONS: u8 = PERM_MC | PERM_GA | PERM_CM | PERM_LBW | PERM_ACFG;
/// Every permission CTAP 2.1 defines (§6.5.5.7); other bits of a request are ignored.
pub const DEFINED_PERMISSIONS: u8 = PERM_MC | PERM_GA | PERM_CM | PERM_BE | PERM_LBW | PERM_ACFG;

/// Maximum usage period of a token over NFC, in milliseconds.
pub const MAX_USAGE_MS: u64 = 19_800;

/// The current pinUvAuthToken and its state variables.
pub struct Token {
    /// The token itself: 32 random bytes, the HMAC key of pinUvAuthParam.
    pub value: Zeroizing<[u8; 32]>,
    /// Granted permissions (bit set of `PERM_*`).
    pub permissions: u8,
    /// The permissions RP ID, once associated.
    pub rp_id: Option<String>,
    /// When `beginUsingPinUvAuthToken()` ran.
    pub issued_at: u64,
    /// `userPresent` flag.
    pub user_present: bool,
    /// `userVerified` flag.
    pub user_verified: bool,
    /// Whether the token came from built-in UV (the band), so taking the band off revokes it.
    pub from_uv: bool,
}

impl Token {
    /// Whether the usage timer has run out.
    pub fn expired(&self, now: u64) -> bool {
        now.saturating_sub(self.issued_at) >= MAX_USAGE_MS
    }

    /// `clearUserPresentFlag()`, `clearUserVerifiedFlag()` and `clearPinUvAuthTokenPermissionsExceptLbw()`.
    pub fn consume(&mut self) {
        self.user_present = false;
        self.user_verified = false;
        self.permissions &= PERM_LBW;
    }
}
