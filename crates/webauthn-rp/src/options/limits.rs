//! Bounded readers for the options' members, so that reading options back rejects absurd input
//! with a serde error instead of building it. Used through `#[serde(deserialize_with)]`.
//!
//! The bounds are far above anything a relying party sends, except where the specification
//! sets one: a user handle is 1 to 64 bytes (§5.4.3, §5.1.3 step 5) and a credential ID at
//! most 1023 bytes (§4 "Credential ID").

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use crate::json::Base64UrlBytes;

/// Longest text member (`rp.name`, `user.displayName`, `rpId`, …), in bytes.
pub const MAX_TEXT: usize = 4096;
/// Longest challenge, in bytes.
pub const MAX_CHALLENGE: usize = 1024;
/// Longest user handle, in bytes (§5.4.3).
pub const MAX_USER_ID: usize = 64;
/// Longest credential ID, in bytes (§4).
pub const MAX_CREDENTIAL_ID: usize = 1023;
/// Most entries in `allowCredentials` / `excludeCredentials`.
pub const MAX_DESCRIPTORS: usize = 1024;
/// Most entries in `pubKeyCredParams`.
pub const MAX_PARAMS: usize = 64;
/// Most entries in the short lists (`transports`, `hints`, `attestationFormats`).
pub const MAX_SHORT_LIST: usize = 16;

/// Text of at most `MAX` bytes.
pub fn text<'de, D: Deserializer<'de>, const MAX: usize>(d: D) -> Result<String, D::Error> {
    let text = Cow::<'de, str>::deserialize(d)?;
    if text.len() > MAX {
        return Err(de::Error::invalid_length(text.len(), &Bound("bytes of text", 0, MAX)));
    }
    Ok(text.into_owned())
}

/// Optional text of at most `MAX` bytes (use with `#[serde(default)]`).
pub fn opt_text<'de, D: Deserializer<'de>, const MAX: usize>(d: D) -> Result<Option<String>, D::Error> {
    text::<D, MAX>(d).map(Some)
}

/// base64url of `MIN` to `MAX` bytes; the text is measured before it is decoded.
pub fn bytes<'de, D: Deserializer<'de>, const MIN: usize, const MAX: usize>(d: D) -> Result<Base64UrlBytes, D::Error> {
    let text = Cow::<'de, str>::deserialize(d)?;
    if text.len() > MAX.div_ceil(3) * 4 {
        return Err(de::Error::invalid_length(
            text.len(),
            &Bound("bytes of base64url", 0, MAX),
        ));
    }
    let bytes = Base64UrlBytes::decode(&text).ok_or_else(|| de::Error::custom("invalid base64url"))?;
    if !(MIN..=MAX).contains(&bytes.0.len()) {
        return Err(de::Error::invalid_length(bytes.0.len(), &Bound("bytes", MIN, MAX)));
    }
    Ok(bytes)
}

/// A list of at most `MAX` entries; reading stops at the first entry over the bound.
pub fn list<'de, D, T, const MAX: usize>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Bounded<T, const MAX: usize>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for Bounded<T, MAX> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of at most {MAX} entries")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX));
            while let Some(item) = seq.next_element()? {
                if out.len() == MAX {
                    return Err(de::Error::invalid_length(MAX + 1, &self));
                }
                out.push(item);
            }
            Ok(out)
        }
    }

    d.deserialize_seq(Bounded::<T, MAX>(PhantomData))
}

/// "`MIN` to `MAX` `what`", for serde's `Expected`.
struct Bound(&'static str, usize, usize);

impl de::Expected for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {} {}", self.1, self.2, self.0)
    }
}
