//! Client data (WebAuthn L3 §5.8.1 `CollectedClientData`) and the checks both ceremonies
//! run on it (§7.1 steps 5–12, §7.2 steps 9–15).
//!
//! The raw bytes are what the authenticator signed over (through their SHA-256), so they
//! are hashed exactly as received and never re-serialised. For parsing, a leading UTF-8
//! BOM is stripped ("UTF-8 decode", as the spec's step 5/9 says), the rest must be UTF-8
//! and one JSON object, and no object at any depth may repeat a member name: a duplicate
//! `challenge` or `origin` could otherwise be read differently by us and by the browser.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// `type` of a registration's client data.
pub const TYPE_CREATE: &str = "webauthn.create";
/// `type` of an authentication's client data.
pub const TYPE_GET: &str = "webauthn.get";

/// Whether the RP expects ceremonies inside cross-origin iframes (§7.1 steps 10–11 / §7.2 steps 14–15).
#[derive(Debug, Clone, Copy, Default)]
pub enum CrossOriginPolicy<'a> {
    /// `crossOrigin: true` and any `topOrigin` are rejected (the default).
    #[default]
    Deny,
    /// `crossOrigin: true` is accepted; a `topOrigin`, if sent, must be one of these exactly.
    Allow {
        /// Pages the RP expects to be framed within.
        top_origins: &'a [&'a str],
    },
}

/// What the relying party expects in the client data.
#[derive(Debug, Clone, Copy)]
pub struct ClientDataExpectations<'a> {
    /// `webauthn.create` or `webauthn.get`.
    pub type_: &'a str,
    /// The challenge bytes the RP issued.
    pub challenge: &'a [u8],
    /// Acceptable origins, compared exactly as strings.
    pub origins: &'a [&'a str],
    /// The iframe policy.
    pub cross_origin: CrossOriginPolicy<'a>,
}

/// Why client data was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientDataError {
    /// The bytes (after an optional BOM) are not UTF-8.
    #[error("clientDataJSON is not UTF-8")]
    NotUtf8,
    /// The text is not a JSON object.
    #[error("clientDataJSON is not a JSON object: {0}")]
    NotJson(String),
    /// A member name appears twice in one object.
    #[error("clientDataJSON repeats the member {0:?}")]
    DuplicateKey(String),
    /// `type`, `challenge` or `origin` is missing or not a string; or `crossOrigin`/`topOrigin` mistyped.
    #[error("clientDataJSON member {0} is missing or has the wrong type")]
    MissingMember(&'static str),
    /// `type` is not the ceremony's.
    #[error("clientDataJSON type is {got:?}, expected {expected:?}")]
    TypeMismatch {
        /// What the RP expected.
        expected: &'static str,
        /// What the client sent.
        got: String,
    },
    /// `challenge` does not encode the issued challenge.
    #[error("challenge does not match the issued challenge")]
    ChallengeMismatch,
    /// `origin` is not on the allow-list.
    #[error("origin {0:?} is not an expected origin")]
    OriginMismatch(String),
    /// `crossOrigin` is true but the RP does not expect iframes.
    #[error("crossOrigin is true but cross-origin ceremonies are not allowed")]
    CrossOriginNotAllowed,
    /// `topOrigin` is present but not expected or not allowed.
    #[error("topOrigin {0:?} is not allowed")]
    TopOriginNotAllowed(String),
}

impl ClientDataError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ClientDataError::NotUtf8 => "client_data_not_utf8",
            ClientDataError::NotJson(_) => "client_data_not_json",
            ClientDataError::DuplicateKey(_) => "client_data_duplicate_key",
            ClientDataError::MissingMember(_) => "client_data_missing_member",
            ClientDataError::TypeMismatch { .. } => "client_data_type_mismatch",
            ClientDataError::ChallengeMismatch => "challenge_mismatch",
            ClientDataError::OriginMismatch(_) => "origin_mismatch",
            ClientDataError::CrossOriginNotAllowed => "cross_origin_not_allowed",
            ClientDataError::TopOriginNotAllowed(_) => "top_origin_not_allowed",
        }
    }
}

/// The members of `CollectedClientData` the RP checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedClientData<'a> {
    /// `type`.
    pub type_: Cow<'a, str>,
    /// `challenge` (base64url text).
    pub challenge: Cow<'a, str>,
    /// `origin`.
    pub origin: Cow<'a, str>,
    /// `crossOrigin`, if present.
    pub cross_origin: Option<bool>,
    /// `topOrigin`, if present.
    pub top_origin: Option<Cow<'a, str>>,
}

/// Parses client data strictly (BOM stripped, UTF-8, one object, no duplicate names).
pub fn parse(raw: &[u8]) -> Result<CollectedClientData<'_>, ClientDataError> {
    let bytes = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let text = std::str::from_utf8(bytes).map_err(|_| ClientDataError::NotUtf8)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let json = Json::deserialize(&mut de).map_err(|e| ClientDataError::NotJson(e.to_string()))?;
    de.end().map_err(|e| ClientDataError::NotJson(e.to_string()))?;
    if let Some(name) = json.find_duplicate() {
        return Err(ClientDataError::DuplicateKey(name.to_owned()));
    }
    let Json::Object { members, .. } = json else {
        return Err(ClientDataError::NotJson("top level is not an object".into()));
    };
    let mut out = CollectedClientData {
        type_: Cow::Borrowed(""),
        challenge: Cow::Borrowed(""),
        origin: Cow::Borrowed(""),
        cross_origin: None,
        top_origin: None,
    };
    let (mut has_type, mut has_challenge, mut has_origin) = (false, false, false);
    for (name, value) in members {
        match (name.as_ref(), value) {
            ("type", Json::String(s)) => (out.type_, has_type) = (s, true),
            ("challenge", Json::String(s)) => (out.challenge, has_challenge) = (s, true),
            ("origin", Json::String(s)) => (out.origin, has_origin) = (s, true),
            ("crossOrigin", Json::Bool(b)) => out.cross_origin = Some(b),
            ("topOrigin", Json::String(s)) => out.top_origin = Some(s),
            ("type", _) => return Err(ClientDataError::MissingMember("type")),
            ("challenge", _) => return Err(ClientDataError::MissingMember("challenge")),
            ("origin", _) => return Err(ClientDataError::MissingMember("origin")),
            ("crossOrigin", _) => return Err(ClientDataError::MissingMember("crossOrigin")),
            ("topOrigin", _) => return Err(ClientDataError::MissingMember("topOrigin")),
            // Unknown members (tokenBinding, androidPackageName, ...) are ignored (§5.8.1.2).
            _ => {}
        }
    }
    for (present, name) in [(has_type, "type"), (has_challenge, "challenge"), (has_origin, "origin")] {
        if !present {
            return Err(ClientDataError::MissingMember(name));
        }
    }
    Ok(out)
}

/// Runs the client-data steps of §7.1 (5–12) or §7.2 (9–15) and returns SHA-256 of the raw bytes.
pub fn verify(raw: &[u8], expected: &ClientDataExpectations<'_>) -> Result<[u8; 32], ClientDataError> {
    // Steps 5–6 (§7.1) / 9–10 (§7.2): UTF-8 decode and parse JSON into C.
    let c = parse(raw)?;
    // Step 7 / 11: verify that C.type is webauthn.create / webauthn.get.
    if c.type_ != expected.type_ {
        let expected_type = if expected.type_ == TYPE_CREATE {
            TYPE_CREATE
        } else {
            TYPE_GET
        };
        return Err(ClientDataError::TypeMismatch {
            expected: expected_type,
            got: c.type_.into_owned(),
        });
    }
    // Step 8 / 12: C.challenge equals the base64url encoding of the issued challenge.
    if !challenge_matches(&c.challenge, expected.challenge) {
        return Err(ClientDataError::ChallengeMismatch);
    }
    // Step 9 / 13: C.origin is an origin the RP expects (exact string match, never a host suffix).
    if !expected.origins.iter().any(|o| *o == c.origin) {
        return Err(ClientDataError::OriginMismatch(c.origin.into_owned()));
    }
    // Steps 10–11 / 14–15: crossOrigin and topOrigin.
    check_cross_origin(&c, expected.cross_origin)?;
    // Step 12 / 19: hash the raw bytes.
    Ok(Sha256::digest(raw).into())
}

fn challenge_matches(sent: &str, issued: &[u8]) -> bool {
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    // Decoded on the stack: a challenge is usually 16–64 bytes.
    let mut buf = [0u8; 96];
    match ENGINE.decode_slice(sent, &mut buf) {
        Ok(n) => n == issued.len() && bool::from(buf[..n].ct_eq(issued)),
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => match ENGINE.decode(sent) {
            Ok(bytes) => bytes.len() == issued.len() && bool::from(bytes.ct_eq(issued)),
            Err(_) => false,
        },
        Err(base64::DecodeSliceError::DecodeError(_)) => false,
    }
}

fn check_cross_origin(c: &CollectedClientData<'_>, policy: CrossOriginPolicy<'_>) -> Result<(), ClientDataError> {
    match policy {
        CrossOriginPolicy::Deny => {
            if c.cross_origin == Some(true) {
                return Err(ClientDataError::CrossOriginNotAllowed);
            }
            if let Some(top) = &c.top_origin {
                return Err(ClientDataError::TopOriginNotAllowed(top.clone().into_owned()));
            }
        }
        CrossOriginPolicy::Allow { top_origins } => {
            if let Some(top) = &c.top_origin
                && !top_origins.iter().any(|o| *o == top.as_ref())
            {
                return Err(ClientDataError::TopOriginNotAllowed(top.clone().into_owned()));
            }
        }
    }
    Ok(())
}

/// A JSON value that remembers, per object, the first repeated member name.
enum Json<'a> {
    Null,
    Bool(bool),
    Number,
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object {
        members: Vec<(Cow<'a, str>, Json<'a>)>,
        duplicate: Option<Cow<'a, str>>,
    },
}

impl Json<'_> {
    /// The first duplicate member name anywhere in the value (depth is bounded by serde_json's
    /// recursion limit of 128).
    fn find_duplicate(&self) -> Option<&str> {
        match self {
            Json::Object { members, duplicate } => duplicate
                .as_deref()
                .or_else(|| members.iter().find_map(|(_, v)| v.find_duplicate())),
            Json::Array(items) => items.iter().find_map(Json::find_duplicate),
            _ => None,
        }
    }
}

/// A map key that borrows when the input has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Json::Number)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Json::Number)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Json::Number)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json<'de>>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        // Linear search while small (client data has about five members), a set beyond.
        let mut seen: Option<std::collections::HashSet<Cow<'de, str>>> = None;
        let mut duplicate = None;
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            let repeated = match &mut seen {
                Some(set) => !set.insert(name.clone()),
                None => {
                    let repeated = members.iter().any(|(n, _)| *n == name);
                    if members.len() >= 16 {
                        seen = Some(members.iter().map(|(n, _)| n.clone()).chain([name.clone()]).collect());
                    }
                    repeated
                }
            };
            if repeated && duplicate.is_none() {
                duplicate = Some(name.clone());
            }
            let value = map.next_value::<Json<'de>>()?;
            members.push((name, value));
        }
        Ok(Json::Object { members, duplicate })
    }
}

#[cfg(test)]
mod tests;
