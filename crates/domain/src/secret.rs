//! Random secrets and their stored digests.
//!
//! A secret (session token, TAP code, client secret) is shown once and stored only as a
//! digest. High-entropy secrets are stored as a domain-separated SHA-256; client secrets
//! additionally go through a slow hash in the server, because a client may choose to keep a
//! copy in places with weaker protection.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Alphabet for codes a person types: no 0/O, 1/I/L, so a TAP read over the phone survives.
const HUMAN_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A random code of `len` characters from an unambiguous alphabet (about 4.95 bits each).
pub fn human_code(len: usize, rng: &mut dyn rand_core::CryptoRngCore) -> String {
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - (256 % HUMAN_ALPHABET.len());
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut b = [0u8; 1];
        rng.fill_bytes(&mut b);
        if usize::from(b[0]) < limit {
            out.push(char::from(HUMAN_ALPHABET[usize::from(b[0]) % HUMAN_ALPHABET.len()]));
        }
    }
    out
}

/// `n` random bytes as unpadded base64url.
pub fn random_token(n: usize, rng: &mut dyn rand_core::CryptoRngCore) -> String {
    let mut bytes = vec![0u8; n];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 over a domain label and the parts, each length-prefixed so no two inputs collide.
pub fn digest(label: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in std::iter::once(label.as_bytes()).chain(parts.iter().copied()) {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Compares two digests in constant time.
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn human_codes_use_the_alphabet() {
        let code = human_code(200, &mut OsRng);
        assert_eq!(code.len(), 200);
        assert!(code.bytes().all(|b| HUMAN_ALPHABET.contains(&b)));
        assert_ne!(human_code(20, &mut OsRng), human_code(20, &mut OsRng));
    }

    #[test]
    fn digest_is_length_prefixed() {
        assert_ne!(digest("x", &[b"ab", b"c"]), digest("x", &[b"a", b"bc"]));
        assert_ne!(digest("x", &[b"a"]), digest("y", &[b"a"]));
        assert!(digests_equal(&digest("x", &[b"a"]), &digest("x", &[b"a"])));
    }
}
