//! Token-signing keys, stored encrypted under the master key.

use crate::Timestamp;

/// A signing key as stored. The private key never leaves the server in the clear: the store
/// sees only the AEAD ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Key id (`kid` in JWT headers and the JWKS).
    pub kid: String,
    /// JOSE algorithm name (`ES256`).
    pub alg: String,
    /// The private key, encrypted under the master key (nonce ‖ ciphertext ‖ tag).
    pub encrypted_private_key: Vec<u8>,
    /// The public key (SEC1 uncompressed point), for verification and the JWKS.
    pub public_key: Vec<u8>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Whether new tokens are signed with it. At most one key is active.
    pub active: bool,
    /// A key made by a rotation, published (in the JWKS) but not used yet: when it may
    /// start signing. `None` for the active key and retired ones.
    pub activates_at: Option<Timestamp>,
    /// When it stopped signing (a newer key took over); it stays published until every token
    /// it signed has expired.
    pub retired_at: Option<Timestamp>,
}
