//! A depth- and size-bounded CBOR decoder (RFC 8949) for the subset WebAuthn needs.
//!
//! Attestation objects, COSE keys and authenticator extension outputs are CTAP2
//! canonical CBOR (CTAP 2.1 §8 "Message Encoding"): definite lengths only, no tags,
//! integer, byte/text string, array, map and simple/float items. This decoder accepts
//! exactly that and fails fast on everything else:
//!
//! - nesting deeper than [`MAX_DEPTH`] is rejected before recursing further, so no input
//!   can overflow the stack (the class of RUSTSEC-2019-0025);
//! - indefinite lengths and tags are rejected at their initial byte;
//! - a declared length larger than the bytes left is rejected before anything is allocated,
//!   so "length bombs" cost nothing;
//! - map keys must be integers or strings, and duplicate keys are rejected.
//!
//! Values borrow from the input (`&[u8]`, `&str`), so decoding allocates only the
//! `Vec`s of arrays and maps.

use thiserror::Error;

/// Deepest nesting of arrays and maps accepted. WebAuthn structures need 4 at most
/// (attestation object → attStmt → x5c array → bytes); 16 leaves room for extensions.
pub const MAX_DEPTH: usize = 16;

/// A decoded CBOR data item, borrowing strings from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Major types 0 and 1: an integer in -2^64 ..= 2^64-1.
    Integer(i128),
    /// Major type 2.
    Bytes(&'a [u8]),
    /// Major type 3 (checked to be UTF-8).
    Text(&'a str),
    /// Major type 4.
    Array(Vec<Value<'a>>),
    /// Major type 5, entries in encoded order.
    Map(Vec<(Value<'a>, Value<'a>)>),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `undefined`.
    Undefined,
    /// Another simple value (0..=19, 32..=255).
    Simple(u8),
    /// A half, single or double precision float.
    Float(f64),
}

/// Why a CBOR item could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CborError {
    /// The input ended inside an item.
    #[error("CBOR input is truncated")]
    Truncated,
    /// Bytes remain after the top-level item.
    #[error("{0} trailing byte(s) after the CBOR item")]
    TrailingBytes(usize),
    /// Arrays/maps nested deeper than [`MAX_DEPTH`].
    #[error("CBOR nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    /// An indefinite-length string, array or map (not allowed in CTAP2 canonical CBOR).
    #[error("indefinite-length CBOR item")]
    IndefiniteLength,
    /// A tag (major type 6); WebAuthn structures have none.
    #[error("CBOR tags are not supported")]
    Tag,
    /// Reserved additional information (28..=30) or a malformed simple value.
    #[error("malformed CBOR initial byte {0:#04x}")]
    Malformed(u8),
    /// A declared length exceeds the bytes left.
    #[error("CBOR length {0} exceeds the input")]
    LengthTooLarge(u64),
    /// A text string is not UTF-8.
    #[error("CBOR text string is not UTF-8")]
    InvalidUtf8,
    /// A map key that is not an integer or a string.
    #[error("CBOR map key is not an integer or a string")]
    UnsupportedMapKey,
    /// The same key twice in one map.
    #[error("duplicate CBOR map key")]
    DuplicateMapKey,
}

/// Decodes exactly one CBOR item that must span the whole input.
pub fn decode(input: &[u8]) -> Result<Value<'_>, CborError> {
    let (value, used) = decode_prefix(input)?;
    match input.len() - used {
        0 => Ok(value),
        extra => Err(CborError::TrailingBytes(extra)),
    }
}

/// Decodes one CBOR item from the start of `input`, returning it and the number of bytes it used.
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), CborError> {
    let mut decoder = Decoder { input, pos: 0 };
    let value = decoder.item(0)?;
    Ok((value, decoder.pos))
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self.pos.checked_add(n).ok_or(CborError::Truncated)?;
        let bytes = self.input.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Reads the argument that follows an initial byte with additional information `info`.
    fn argument(&mut self, initial: u8, info: u8) -> Result<u64, CborError> {
        Ok(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.take(1)?[0]),
            25 => u64::from(u16::from_be_bytes(
                self.take(2)?.try_into().map_err(|_| CborError::Truncated)?,
            )),
            26 => u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().map_err(|_| CborError::Truncated)?,
            )),
            27 => u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| CborError::Truncated)?),
            31 => return Err(CborError::IndefiniteLength),
            _ => return Err(CborError::Malformed(initial)),
        })
    }

    /// A length that must fit in the remaining input (every element needs at least one byte).
    fn length(&mut self, initial: u8, info: u8) -> Result<usize, CborError> {
        let len = self.argument(initial, info)?;
        match usize::try_from(len) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(CborError::LengthTooLarge(len)),
        }
    }

    fn item(&mut self, depth: usize) -> Result<Value<'a>, CborError> {
        let initial = self.take(1)?[0];
        let major = initial >> 5;
        let info = initial & 0x1f;
        match major {
            0 => Ok(Value::Integer(i128::from(self.argument(initial, info)?))),
            1 => Ok(Value::Integer(-1 - i128::from(self.argument(initial, info)?))),
            2 => {
                let len = self.length(initial, info)?;
                Ok(Value::Bytes(self.take(len)?))
            }
            3 => {
                let len = self.length(initial, info)?;
                let bytes = self.take(len)?;
                std::str::from_utf8(bytes)
                    .map(Value::Text)
                    .map_err(|_| CborError::InvalidUtf8)
            }
            4 => {
                let len = self.length(initial, info)?;
                let depth = Self::deeper(depth)?;
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.item(depth)?);
                }
                Ok(Value::Array(items))
            }
            5 => self.map(initial, info, depth),
            6 => Err(CborError::Tag),
            _ => self.simple(initial, info),
        }
    }

    fn deeper(depth: usize) -> Result<usize, CborError> {
        if depth >= MAX_DEPTH {
            Err(CborError::TooDeep)
        } else {
            Ok(depth + 1)
        }
    }

    fn map(&mut self, initial: u8, info: u8, depth: usize) -> Result<Value<'a>, CborError> {
        let len = self.length(initial, info)?;
        // Each entry needs at least two bytes.
        if len > self.remaining() / 2 {
            return Err(CborError::LengthTooLarge(len as u64));
        }
        let depth = Self::deeper(depth)?;
        let mut entries = Vec::with_capacity(len);
        for _ in 0..len {
            let key = self.item(depth)?;
            if !matches!(key, Value::Integer(_) | Value::Text(_) | Value::Bytes(_)) {
                return Err(CborError::UnsupportedMapKey);
            }
            let value = self.item(depth)?;
            entries.push((key, value));
        }
        check_unique_keys(&entries)?;
        Ok(Value::Map(entries))
    }

    fn simple(&mut self, initial: u8, info: u8) -> Result<Value<'a>, CborError> {
        match info {
            20 => Ok(Value::Bool(false)),
            21 => Ok(Value::Bool(true)),
            22 => Ok(Value::Null),
            23 => Ok(Value::Undefined),
            0..=19 => Ok(Value::Simple(info)),
            24 => match self.take(1)?[0] {
                // RFC 8949 §3.3: values below 32 must use the one-byte form.
                v if v < 32 => Err(CborError::Malformed(initial)),
                v => Ok(Value::Simple(v)),
            },
            25 => {
                let bits = u16::from_be_bytes(self.take(2)?.try_into().map_err(|_| CborError::Truncated)?);
                Ok(Value::Float(half_to_f64(bits)))
            }
            26 => {
                let bits = u32::from_be_bytes(self.take(4)?.try_into().map_err(|_| CborError::Truncated)?);
                Ok(Value::Float(f64::from(f32::from_bits(bits))))
            }
            27 => {
                let bits = u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| CborError::Truncated)?);
                Ok(Value::Float(f64::from_bits(bits)))
            }
            31 => Err(CborError::IndefiniteLength),
            _ => Err(CborError::Malformed(initial)),
        }
    }
}

/// Comparable form of a map key.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum KeyRef<'a> {
    Integer(i128),
    Bytes(&'a [u8]),
    Text(&'a str),
}

fn check_unique_keys(entries: &[(Value<'_>, Value<'_>)]) -> Result<(), CborError> {
    if entries.len() < 2 {
        return Ok(());
    }
    let mut keys: Vec<KeyRef<'_>> = entries
        .iter()
        .map(|(k, _)| match k {
            Value::Integer(i) => KeyRef::Integer(*i),
            Value::Bytes(b) => KeyRef::Bytes(b),
            Value::Text(t) => KeyRef::Text(t),
            // Rejected while decoding; treated as distinct here.
            _ => KeyRef::Integer(i128::MIN),
        })
        .collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        Err(CborError::DuplicateMapKey)
    } else {
        Ok(())
    }
}

fn half_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f64::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + mantissa / 1024.0) * 2f64.powi(e - 15),
    };
    sign * magnitude
}

impl<'a> Value<'a> {
    /// The entries if this is a map.
    pub fn as_map(&self) -> Option<&[(Value<'a>, Value<'a>)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The bytes if this is a byte string.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text if this is a text string.
    pub fn as_text(&self) -> Option<&'a str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The integer if this is an integer.
    pub fn as_integer(&self) -> Option<i128> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The items if this is an array.
    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// Looks up a text key in map entries.
pub fn map_get_text<'v, 'a>(entries: &'v [(Value<'a>, Value<'a>)], key: &str) -> Option<&'v Value<'a>> {
    entries.iter().find(|(k, _)| k.as_text() == Some(key)).map(|(_, v)| v)
}

/// Looks up an integer key in map entries.
pub fn map_get_int<'v, 'a>(entries: &'v [(Value<'a>, Value<'a>)], key: i128) -> Option<&'v Value<'a>> {
    entries
        .iter()
        .find(|(k, _)| k.as_integer() == Some(key))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests;
