//! Authentication strengths: named combinations of what a sign-in's key must have shown, each
//! with the `acr` value an ID token carries when a session meets it.
//!
//! The same idea as Entra ID's Conditional Access authentication strengths and Okta's
//! phishing-resistant `acr` values (`phr`, `phrh`). A strength is evaluated against the facts
//! of the key a session signed in with ([`KeyFacts`]); a single sign-on application may
//! require one, and a relying party may ask for one by its `acr`.
//!
//! Two strengths are built in ([`built_in`]) and cannot be changed or deleted; administrators
//! add their own, stored through [`StrengthStore`].

use async_trait::async_trait;
use thiserror::Error;

use crate::Timestamp;
use crate::audit::NewAuditEvent;
use crate::report::Aaguid;
use crate::store::StoreResult;
use crate::user::has_forbidden_formatting;

/// Id of the built-in strength any security key meets (`acr` `phr`).
pub const PHISHING_RESISTANT: &str = "phishing-resistant";
/// Id of the built-in strength for a device-bound, attested key that verified its user (`acr`
/// `phrh`).
pub const HARDWARE_PROTECTED: &str = "hardware-protected";

/// Longest id, in characters.
pub const ID_MAX: usize = 64;
/// Longest name, in characters.
pub const NAME_MAX: usize = 100;
/// Longest `acr` value, in characters.
pub const ACR_MAX: usize = 255;
/// Most AAGUIDs in an allow list.
pub const AAGUIDS_MAX: usize = 500;

/// A named combination of requirements on the key a session signed in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationStrength {
    /// Stable id, lower-case letters, digits and hyphens (`hardware-protected`).
    pub id: String,
    /// What people see.
    pub name: String,
    /// The Authentication Context Class Reference carried in ID tokens when it is met.
    pub acr: String,
    /// The sign-in must have verified the user (the UV flag).
    pub require_user_verification: bool,
    /// The key's attestation must have reached a trusted root at registration.
    pub require_attestation: bool,
    /// Whether a synced passkey (backup eligible) meets it.
    pub allow_synced: bool,
    /// When set, only these models meet it, and only with a trusted attestation (an AAGUID
    /// without one is just a claim the key made about itself).
    pub allowed_aaguids: Option<Vec<Aaguid>>,
    /// Built in: cannot be changed or deleted.
    pub built_in: bool,
    /// When it was created (the epoch for the built-in ones).
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// The two built-in strengths: any phishing-resistant key (`phr`), and a device-bound key
/// with a trusted attestation that verified its user (`phrh`).
pub fn built_in() -> [AuthenticationStrength; 2] {
    let epoch = Timestamp::from_millis(0);
    [
        AuthenticationStrength {
            id: PHISHING_RESISTANT.to_owned(),
            name: "Phishing-resistant".to_owned(),
            acr: "phr".to_owned(),
            require_user_verification: false,
            require_attestation: false,
            allow_synced: true,
            allowed_aaguids: None,
            built_in: true,
            created_at: epoch,
            updated_at: epoch,
        },
        AuthenticationStrength {
            id: HARDWARE_PROTECTED.to_owned(),
            name: "Phishing-resistant, hardware-protected".to_owned(),
            acr: "phrh".to_owned(),
            require_user_verification: true,
            require_attestation: true,
            allow_synced: false,
            allowed_aaguids: None,
            built_in: true,
            created_at: epoch,
            updated_at: epoch,
        },
    ]
}

/// What is known of a sign-in and the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    /// The sign-in's UV flag.
    pub user_verified: bool,
    /// The key's attestation reached a trusted root when it was registered.
    pub attestation_trusted: bool,
    /// The key is a synced passkey (backup eligible, BE = 1).
    pub synced: bool,
    /// The key's model.
    pub aaguid: Aaguid,
}

/// Why a key does not meet a strength (every reason that applies, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmet {
    /// The sign-in did not verify the user.
    UserVerification,
    /// The key's attestation did not reach a trusted root.
    Attestation,
    /// The key is a synced passkey and the strength wants a device-bound one.
    Synced,
    /// The key's model is not in the strength's list, or its AAGUID is not attested.
    Model,
}

impl Unmet {
    /// The stable name (for problem details and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Unmet::UserVerification => "user_verification",
            Unmet::Attestation => "attestation",
            Unmet::Synced => "synced",
            Unmet::Model => "model",
        }
    }
}

impl AuthenticationStrength {
    /// What `key` lacks to meet this strength; empty when it meets it.
    pub fn unmet(&self, key: &KeyFacts) -> Vec<Unmet> {
        let mut unmet = Vec::new();
        if self.require_user_verification && !key.user_verified {
            unmet.push(Unmet::UserVerification);
        }
        if self.require_attestation && !key.attestation_trusted {
            unmet.push(Unmet::Attestation);
        }
        if !self.allow_synced && key.synced {
            unmet.push(Unmet::Synced);
        }
        if let Some(allowed) = &self.allowed_aaguids {
            // An unattested AAGUID is the key's own claim: it never satisfies an allow list.
            if !key.attestation_trusted || !allowed.contains(&key.aaguid) {
                unmet.push(Unmet::Model);
            }
        }
        unmet
    }

    /// Whether `key` meets this strength.
    pub fn is_met_by(&self, key: &KeyFacts) -> bool {
        self.unmet(key).is_empty()
    }
}

/// Why a strength's fields were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StrengthError {
    /// The id is not 1–64 lower-case letters, digits and hyphens, starting with a letter.
    #[error("id must be 1 to {ID_MAX} lower-case letters, digits and hyphens, starting with a letter")]
    Id,
    /// The id names a built-in strength.
    #[error("id {0} belongs to a built-in strength")]
    BuiltInId(String),
    /// The name is empty, too long, or holds control characters.
    #[error("name must be 1 to {NAME_MAX} printable characters")]
    Name,
    /// The `acr` value is not 1–255 printable ASCII characters without spaces or quotes.
    #[error("acr must be 1 to {ACR_MAX} printable ASCII characters without spaces, quotes or backslashes")]
    Acr,
    /// The allow list is empty or too long.
    #[error("allowedAaguids must hold 1 to {AAGUIDS_MAX} AAGUIDs when given")]
    Aaguids,
}

/// Validates an id: 1–64 of `a-z`, `0-9`, `-`, starting with a letter, not a built-in's.
pub fn validate_id(id: &str) -> Result<(), StrengthError> {
    let ok = !id.is_empty()
        && id.len() <= ID_MAX
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(StrengthError::Id);
    }
    if built_in().iter().any(|b| b.id == id) {
        return Err(StrengthError::BuiltInId(id.to_owned()));
    }
    Ok(())
}

/// Validates a name (trimmed, 1–100 characters, no control or bidirectional formatting
/// characters) and returns it trimmed.
pub fn validate_name(raw: &str) -> Result<String, StrengthError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || has_forbidden_formatting(name) {
        return Err(StrengthError::Name);
    }
    Ok(name.to_owned())
}

/// Validates an `acr` value: 1–255 characters of printable ASCII other than space, `"` and
/// `\` (so that it stands alone in a space-separated `acr_values` and in a JSON string
/// without escaping).
pub fn validate_acr(acr: &str) -> Result<(), StrengthError> {
    let ok = !acr.is_empty()
        && acr.len() <= ACR_MAX
        && acr
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
    if ok { Ok(()) } else { Err(StrengthError::Acr) }
}

/// Validates an allow list: 1–500 AAGUIDs; duplicates are removed, order kept.
pub fn validate_aaguids(list: &[Aaguid]) -> Result<Vec<Aaguid>, StrengthError> {
    if list.is_empty() || list.len() > AAGUIDS_MAX {
        return Err(StrengthError::Aaguids);
    }
    let mut out: Vec<Aaguid> = Vec::with_capacity(list.len());
    for a in list {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    Ok(out)
}

/// The administrators' own strengths (the built-in ones are not stored).
#[async_trait]
pub trait StrengthStore: Send + Sync {
    /// Stores a new strength. `Conflict("strength_id")`, `Conflict("strength_name")` or
    /// `Conflict("strength_acr")` when one of these is taken (names compared as given).
    async fn create_strength(&self, strength: &AuthenticationStrength, audit: &NewAuditEvent) -> StoreResult<()>;
    /// A strength by id.
    async fn get_strength(&self, id: &str) -> StoreResult<Option<AuthenticationStrength>>;
    /// Every stored strength, by name.
    async fn list_strengths(&self) -> StoreResult<Vec<AuthenticationStrength>>;
    /// Replaces a strength's fields (not its id nor `created_at`). `NotFound` when unknown,
    /// the same conflicts as [`StrengthStore::create_strength`].
    async fn update_strength(&self, strength: &AuthenticationStrength, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Deletes a strength. `NotFound` when unknown.
    async fn delete_strength(&self, id: &str, audit: &NewAuditEvent) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const YUBI: Aaguid = [1; 16];
    const OTHER: Aaguid = [2; 16];

    fn key(user_verified: bool, attestation_trusted: bool, synced: bool, aaguid: Aaguid) -> KeyFacts {
        KeyFacts {
            user_verified,
            attestation_trusted,
            synced,
            aaguid,
        }
    }

    fn custom(uv: bool, att: bool, synced: bool, aaguids: Option<Vec<Aaguid>>) -> AuthenticationStrength {
        AuthenticationStrength {
            id: "custom".into(),
            name: "Custom".into(),
            acr: "urn:example:custom".into(),
            require_user_verification: uv,
            require_attestation: att,
            allow_synced: synced,
            allowed_aaguids: aaguids,
            built_in: false,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    /// Strength × key facts → what is unmet.
    #[test]
    fn evaluation_table() {
        use Unmet::*;
        let [phr, phrh] = built_in();
        let allow = custom(false, false, true, Some(vec![YUBI]));
        let cases: Vec<(&AuthenticationStrength, KeyFacts, Vec<Unmet>)> = vec![
            // Any key meets `phr`, synced or not, verified or not.
            (&phr, key(false, false, true, OTHER), vec![]),
            (&phr, key(true, true, false, YUBI), vec![]),
            // `phrh`: UV, trusted attestation, device-bound.
            (&phrh, key(true, true, false, YUBI), vec![]),
            (&phrh, key(false, true, false, YUBI), vec![UserVerification]),
            (&phrh, key(true, false, false, YUBI), vec![Attestation]),
            (&phrh, key(true, true, true, YUBI), vec![Synced]),
            (
                &phrh,
                key(false, false, true, YUBI),
                vec![UserVerification, Attestation, Synced],
            ),
            // An allow list needs the model AND a trusted attestation of it.
            (&allow, key(false, true, false, YUBI), vec![]),
            (&allow, key(false, true, false, OTHER), vec![Model]),
            (&allow, key(true, false, false, YUBI), vec![Model]),
        ];
        for (i, (strength, facts, want)) in cases.into_iter().enumerate() {
            assert_eq!(strength.unmet(&facts), want, "case {i}: {} with {facts:?}", strength.id);
            assert_eq!(strength.is_met_by(&facts), want.is_empty(), "case {i}");
        }
    }

    #[test]
    fn built_ins_are_distinct_and_valid() {
        let b = built_in();
        assert_ne!(b[0].id, b[1].id);
        assert_ne!(b[0].acr, b[1].acr);
        for s in &b {
            assert!(s.built_in);
            validate_acr(&s.acr).unwrap();
            assert_eq!(validate_id(&s.id), Err(StrengthError::BuiltInId(s.id.clone())));
        }
    }

    #[test]
    fn ids_are_slugs() {
        assert!(validate_id("finance-apps").is_ok());
        assert!(validate_id("a").is_ok());
        assert!(validate_id(&"a".repeat(64)).is_ok());
        for bad in ["", "A", "1abc", "-abc", "a b", "a_b", "é", &"a".repeat(65)] {
            assert_eq!(validate_id(bad), Err(StrengthError::Id), "{bad:?}");
        }
    }

    #[test]
    fn acr_values_stand_alone() {
        assert!(validate_acr("urn:okta:loa:2fa:any").is_ok());
        assert!(validate_acr("phr").is_ok());
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\u{0}", &"a".repeat(256)] {
            assert_eq!(validate_acr(bad), Err(StrengthError::Acr), "{bad:?}");
        }
    }

    #[test]
    fn names_are_trimmed_and_printable() {
        assert_eq!(validate_name("  Finance  ").unwrap(), "Finance");
        assert_eq!(validate_name(" "), Err(StrengthError::Name));
        assert_eq!(validate_name("a\u{202e}b"), Err(StrengthError::Name));
        assert_eq!(validate_name(&"n".repeat(101)), Err(StrengthError::Name));
    }

    #[test]
    fn allow_lists_are_bounded_and_deduplicated() {
        assert_eq!(validate_aaguids(&[]), Err(StrengthError::Aaguids));
        assert_eq!(validate_aaguids(&[YUBI, OTHER, YUBI]).unwrap(), vec![YUBI, OTHER]);
        assert_eq!(validate_aaguids(&vec![YUBI; 501]), Err(StrengthError::Aaguids));
    }
}
