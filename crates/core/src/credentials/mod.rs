//! Security keys: the two WebAuthn ceremonies, and what happens to a key afterwards.

pub mod ceremony;
pub mod keys;
pub mod onbehalf;
pub mod registration;
pub mod sealed;
pub mod sign_in;
