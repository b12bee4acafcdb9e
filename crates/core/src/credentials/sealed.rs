//! Sign-in ceremonies that live with the client instead of the database.
//!
//! Starting a sign-in writes nothing: the ceremony (its id, challenge, the user identified
//! beforehand, the offered keys, the RP ID, the user verification asked for, its lifetime) is
//! encrypted and authenticated under a key derived from the master key (AES-256-GCM, the
//! associated data naming what it is), and the result is the `ceremonyId` the client sends
//! back. Nobody can read or forge one without the key, so the challenge stays the server's.
//!
//! Single use stays a database fact: the transaction that finishes a sign-in, or flags a key as
//! possibly cloned, or spends a failed ceremony, records its id as spent
//! ([`CeremonyStore::finish_authentication`](keyfleet_domain::store::CeremonyStore)); a second
//! use finds it recorded and is refused, on every instance that shares the database. Spent
//! ids are purged once their ceremony has expired, when a replay is refused for expiry anyway.
//!
//! Format: `s1.` then unpadded base64url of `nonce (12) ‖ ciphertext ‖ tag (16)`; the
//! plaintext is a fixed binary layout (below), versioned by the prefix and the associated data.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind};
use keyfleet_domain::ids::CeremonyId;
use keyfleet_domain::{Timestamp, UserId};
use rand_core::{OsRng, RngCore};
use uuid::Uuid;

use super::ceremony::{b64, unb64};

/// What every sealed ceremony id starts with (the layout's version).
const PREFIX: &str = "s1.";
/// Associated data: binds a ciphertext to this use of this key.
const AAD: &[u8] = b"keyfleet sign-in ceremony v1";
/// The most credential ids one sealed ceremony carries (a user's keys; more are not offered).
pub const MAX_ALLOWED: usize = 64;
/// The longest sealed id accepted before any decryption is tried.
const MAX_SEALED_LEN: usize = 96 * 1024;

/// The key sealed ceremonies are encrypted under.
#[derive(Clone)]
pub struct SealKey(Aes256Gcm);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// A key from 32 bytes derived from the master key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    /// Seals an authentication ceremony into the id handed to the client.
    pub fn seal(&self, c: &Ceremony) -> String {
        debug_assert_eq!(c.kind, CeremonyKind::Authentication);
        let mut plain = Vec::with_capacity(128 + c.allow_credentials.iter().map(|a| a.len() + 2).sum::<usize>());
        plain.extend_from_slice(c.id.as_uuid().as_bytes());
        plain.extend_from_slice(&c.created_at.as_millis().to_be_bytes());
        plain.extend_from_slice(&c.expires_at.as_millis().to_be_bytes());
        match c.user_id {
            Some(u) => {
                plain.push(1);
                plain.extend_from_slice(u.as_uuid().as_bytes());
            }
            None => plain.push(0),
        }
        put(&mut plain, c.rp_id.as_bytes());
        put(&mut plain, c.user_verification.as_bytes());
        put(&mut plain, &c.challenge);
        let allowed = &c.allow_credentials[..c.allow_credentials.len().min(MAX_ALLOWED)];
        plain.push(u8::try_from(allowed.len()).unwrap_or(0));
        for id in allowed {
            put(&mut plain, id);
        }
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plain, aad: AAD })
            .expect("AES-GCM encryption of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", b64(&out))
    }

    /// Opens what [`Self::seal`] produced; `None` for anything else (another key, a
    /// tampered or truncated id, a registration ceremony's id).
    pub fn open(&self, text: &str) -> Option<Ceremony> {
        if text.len() > MAX_SEALED_LEN {
            return None;
        }
        let data = unb64(text.strip_prefix(PREFIX)?)?;
        if data.len() < 12 + 16 {
            return None;
        }
        let (nonce, sealed) = data.split_at(12);
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: AAD })
            .ok()?;
        parse(&plain)
    }
}

/// Whether `text` has the shape of a sealed ceremony id (not whether it opens).
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(PREFIX)
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn uuid(&mut self) -> Option<Uuid> {
        Some(Uuid::from_bytes(self.take(16)?.try_into().ok()?))
    }

    fn item(&mut self) -> Option<&'a [u8]> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
        self.take(usize::from(len))
    }
}

fn parse(plain: &[u8]) -> Option<Ceremony> {
    let mut r = Reader(plain);
    let id = CeremonyId::from_uuid(r.uuid()?);
    let created_at = Timestamp::from_millis(r.i64()?);
    let expires_at = Timestamp::from_millis(r.i64()?);
    let user_id = match r.byte()? {
        0 => None,
        1 => Some(UserId::from_uuid(r.uuid()?)),
        _ => return None,
    };
    let rp_id = String::from_utf8(r.item()?.to_vec()).ok()?;
    let user_verification = String::from_utf8(r.item()?.to_vec()).ok()?;
    let challenge = r.item()?.to_vec();
    let count = r.byte()?;
    let allow_credentials = (0..count)
        .map(|_| r.item().map(<[u8]>::to_vec))
        .collect::<Option<Vec<_>>>()?;
    if !r.0.is_empty() {
        return None;
    }
    Some(Ceremony {
        id,
        kind: CeremonyKind::Authentication,
        challenge,
        user_id,
        session_id: None,
        rp_id,
        user_verification,
        allow_credentials,
        params: String::new(),
        created_at,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ceremony(user: Option<UserId>, allow: Vec<Vec<u8>>) -> Ceremony {
        Ceremony {
            id: CeremonyId::new_random(&mut OsRng),
            kind: CeremonyKind::Authentication,
            challenge: vec![9; 32],
            user_id: user,
            session_id: None,
            rp_id: "keyfleet.example".into(),
            user_verification: "preferred".into(),
            allow_credentials: allow,
            params: String::new(),
            created_at: Timestamp::from_millis(1_000),
            expires_at: Timestamp::from_millis(301_000),
        }
    }

    #[test]
    fn round_trips_with_and_without_a_user() {
        let key = SealKey::new(&[1; 32]);
        for c in [
            ceremony(None, vec![]),
            ceremony(Some(UserId::new_random(&mut OsRng)), vec![vec![1; 64], vec![2; 1023]]),
        ] {
            let sealed = key.seal(&c);
            assert!(is_sealed(&sealed));
            assert_eq!(key.open(&sealed), Some(c));
        }
    }

    #[test]
    fn refuses_other_keys_tampering_and_truncation() {
        let key = SealKey::new(&[1; 32]);
        let sealed = key.seal(&ceremony(None, vec![vec![3; 16]]));
        assert_eq!(SealKey::new(&[2; 32]).open(&sealed), None, "another master key");
        let raw = unb64(&sealed[PREFIX.len()..]).unwrap();
        for i in [0, 12, 20, raw.len() - 1] {
            let mut bad = raw.clone();
            bad[i] ^= 0x40;
            assert_eq!(key.open(&format!("{PREFIX}{}", b64(&bad))), None, "byte {i} flipped");
        }
        assert_eq!(key.open(&format!("{PREFIX}{}", b64(&raw[..raw.len() - 1]))), None);
        assert_eq!(key.open(&sealed[1..]), None, "prefix");
        assert_eq!(key.open(&format!("{sealed}x")), None, "not base64url");
        assert_eq!(key.open(""), None);
        assert_eq!(key.open(&"s1.".repeat(40_000)), None, "too long");
        // A registration ceremony's id (a UUID) is not a sealed sign-in.
        assert_eq!(key.open(&CeremonyId::new_random(&mut OsRng).to_string()), None);
    }

    #[test]
    fn two_seals_of_one_ceremony_differ() {
        let key = SealKey::new(&[1; 32]);
        let c = ceremony(None, vec![]);
        assert_ne!(key.seal(&c), key.seal(&c), "fresh nonce each time");
    }

    #[test]
    fn parse_rejects_trailing_bytes_and_bad_user_tags() {
        let key = SealKey::new(&[1; 32]);
        let c = ceremony(None, vec![vec![5; 8]]);
        let raw = unb64(&key.seal(&c)[PREFIX.len()..]).unwrap();
        let (nonce, sealed) = raw.split_at(12);
        let plain = key
            .0
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: AAD })
            .unwrap();
        assert_eq!(parse(&plain), Some(c));
        let mut trailing = plain.clone();
        trailing.push(0);
        assert_eq!(parse(&trailing), None, "a trailing byte");
        let mut bad_tag = plain.clone();
        bad_tag[16 + 8 + 8] = 7;
        assert_eq!(parse(&bad_tag), None, "a user tag other than 0 or 1");
        assert_eq!(parse(&plain[..plain.len() - 1]), None, "truncated");
    }
}
