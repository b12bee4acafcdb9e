//! Text holding a NUL character, the same way in both databases.
//!
//! PostgreSQL cannot hold a NUL in text and fails the whole statement; SQLite stores it. So
//! that both stores answer alike (and PostgreSQL's refusal never looks like an outage), the
//! stores check text before it reaches the database:
//!
//! - a *lookup* or *filter* whose text holds a NUL matches nothing, since no stored text can
//!   hold one: the method answers as for an unknown key (`None`, an empty list, `NotFound`)
//!   without asking the database;
//! - a *write* whose text holds a NUL is refused with `StoreError::Invalid("nul")` and writes
//!   nothing.

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::NewAuditEvent;
use keyfleet_domain::ceremony::Ceremony;
use keyfleet_domain::client::{ApiClient, ClientSecret};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::group::Group;
use keyfleet_domain::session::Session;
use keyfleet_domain::signing_key::StoredSigningKey;
use keyfleet_domain::store::StoreResult;
use keyfleet_domain::user::User;

/// The reason [`StoreError::Invalid`] carries for text holding a NUL.
pub const NUL: &str = "nul";

/// Whether `text` holds a NUL character.
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// Whether any of `keys` holds a NUL: a lookup by them matches nothing.
pub fn matches_nothing(keys: &[&str]) -> bool {
    keys.iter().any(|k| has_nul(k))
}

/// `Invalid("nul")` when any text to be written holds a NUL.
pub fn check_write(texts: &[&str]) -> StoreResult<()> {
    if matches_nothing(texts) {
        return Err(StoreError::Invalid(NUL));
    }
    Ok(())
}

/// [`check_write`] for optional text.
pub fn check_write_opt(texts: &[Option<&str>]) -> StoreResult<()> {
    check_write(&texts.iter().flatten().copied().collect::<Vec<_>>())
}

/// `Invalid("nul")` when the text of an audit event holds a NUL (the domain cleans what
/// outsiders typed; this guards the rest).
pub fn check_audit(event: &NewAuditEvent) -> StoreResult<()> {
    let actor = event.actor.to_string();
    let target = event.target.as_ref().map(ToString::to_string);
    check_write(&[&actor])?;
    check_write_opt(&[target.as_deref(), event.request_id.as_deref(), event.detail.as_deref()])
}

/// [`check_write`] for every text field of a user.
pub fn check_user(u: &User) -> StoreResult<()> {
    check_write(&[u.username.as_str(), &u.display_name, &u.email])?;
    check_write_opt(&[u.manager_email.as_deref(), u.shipping_address.as_deref()])
}

/// [`check_write`] for every text field of a group.
pub fn check_group(g: &Group) -> StoreResult<()> {
    check_write(&[&g.name, &g.name_key, &g.description])
}

/// [`check_write`] for every text field of an API client.
pub fn check_client(c: &ApiClient) -> StoreResult<()> {
    check_write(&[&c.client_id, &c.name])
}

/// [`check_write`] for the digest of a client secret (its `client_id` names the client it
/// is added to: the caller treats it as a key, or has checked it with the client).
pub fn check_secret(s: &ClientSecret) -> StoreResult<()> {
    check_write(&[&s.secret_hash])
}

/// [`check_write`] for every text field of a session.
pub fn check_session(s: &Session) -> StoreResult<()> {
    check_write_opt(&[s.client_addr.as_deref()])
}

/// [`check_write`] for every text field of a signing key.
pub fn check_signing_key(k: &StoredSigningKey) -> StoreResult<()> {
    check_write(&[&k.kid, &k.alg])
}

/// [`check_write`] for every text field of a credential, its transports included.
pub fn check_credential(c: &Credential) -> StoreResult<()> {
    check_write(&[&c.attestation_format, &c.attestation_trust, &c.nickname])?;
    check_write(&c.transports.iter().map(String::as_str).collect::<Vec<_>>())
}

/// [`check_write`] for every text field of a ceremony.
pub fn check_ceremony(c: &Ceremony) -> StoreResult<()> {
    check_write(&[&c.rp_id, &c.user_verification, &c.params])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_anywhere_counts() {
        assert!(has_nul("\0"));
        assert!(has_nul("a\0b"));
        assert!(!has_nul("a\u{FFFD}b"));
        assert!(matches_nothing(&["ok", "x\0"]));
        assert!(!matches_nothing(&[]));
        assert!(matches!(check_write(&["a", "b\0"]), Err(StoreError::Invalid("nul"))));
        assert!(check_write_opt(&[None, Some("fine")]).is_ok());
        assert!(check_write_opt(&[Some("\0")]).is_err());
    }
}
