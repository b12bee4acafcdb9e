//! A small, strict CBOR codec for CTAP messages (CTAP 2.1 §8 "Message Encoding").
//!
//! Decoding is iterative-by-depth: every nested container costs one level and the decoder refuses
//! more than [`MAX_REQUEST_DEPTH`] levels for requests, so it never recurses unboundedly. It rejects
//! indefinite lengths, tags, duplicate map keys, invalid UTF-8 and trailing bytes
//! (`CTAP2_ERR_INVALID_CBOR`).
//!
//! Encoding is always in the CTAP2 canonical form (§8): integers and lengths in their smallest
//! form, no indefinite lengths, and map keys sorted by the length of their encoding first and then
//! by the bytes of their encoding (RFC 7049 §3.9), which puts `1 < 2 < -1` and `"up" < "alg"`.

use std::ops::Range;

use crate::status::Status;

/// The deepest container nesting a CTAP request can legitimately have: request map →
/// extensions → hmac-secret input → keyAgreement COSE key, or request map → excludeList →
/// descriptor → transports.
pub const MAX_REQUEST_DEPTH: usize = 4;

/// A decoded CBOR data item. Only what CTAP needs; floats are kept as raw bits.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Major types 0 and 1.
    Int(i128),
    /// Major type 2.
    Bytes(Vec<u8>),
    /// Major type 3.
    Text(String),
    /// Major type 4.
    Array(Vec<Value>),
    /// Major type 5, in the order received (decoded) or in any order (to encode; sorted then).
    Map(Vec<(Value, Value)>),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// Any other simple value, or a float (its raw bits), which CTAP never uses.
    Other(u64),
}

impl Value {
    /// A text value.
    pub fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    /// A byte-string value.
    pub fn bytes(b: &[u8]) -> Value {
        Value::Bytes(b.to_vec())
    }

    /// Builds a map from integer keys.
    pub fn int_map(entries: Vec<(i128, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (Value::Int(k), v)).collect())
    }

    /// Builds a map from text keys.
    pub fn text_map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (Value::text(k), v)).collect())
    }

    /// The byte string, or `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`.
    pub fn as_bytes(&self) -> Result<&[u8], Status> {
        match self {
            Value::Bytes(b) => Ok(b),
            _ => Err(Status::CborUnexpectedType),
        }
    }

    /// The text string, or `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`.
    pub fn as_text(&self) -> Result<&str, Status> {
        match self {
            Value::Text(s) => Ok(s),
            _ => Err(Status::CborUnexpectedType),
        }
    }

    /// The integer, or `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`.
    pub fn as_int(&self) -> Result<i128, Status> {
        match self {
            Value::Int(i) => Ok(*i),
            _ => Err(Status::CborUnexpectedType),
        }
    }

    /// The integer as a `u64`: negative values are of the wrong type for CTAP's unsigned fields.
    pub fn as_uint(&self) -> Result<u64, Status> {
        u64::try_from(self.as_int()?).map_err(|_| Status::CborUnexpectedType)
    }

    /// The boolean, or `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`.
    pub fn as_bool(&self) -> Result<bool, Status> {
        match self {
            Value::Bool(b) => Ok(*b),
            _ => Err(Status::CborUnexpectedType),
        }
    }

    /// The array elements, or `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`.
    pub fn as_array(&self) -> Result<&[Value], Status> {
        match self {
            Value::Array(a) => Ok(a),
            _ => Err(Status::CborUnexpectedType),
        }
    }

    /// The map entries, or `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`.
    pub fn as_map(&self) -> Result<&[(Value, Value)], Status> {
        match self {
            Value::Map(m) => Ok(m),
            _ => Err(Status::CborUnexpectedType),
        }
    }

    /// Looks up a text key in a map value (`None` if absent or `self` is not a map).
    pub fn get_text_key(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m
                .iter()
                .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Looks up an integer key in a map value (`None` if absent or `self` is not a map).
    pub fn get_int_key(&self, key: i128) -> Option<&Value> {
        match self {
            Value::Map(m) => m
                .iter()
                .find(|(k, _)| matches!(k, Value::Int(i) if *i == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Encodes `value` in CTAP2 canonical form.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

fn encode_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        // Integers outside the CBOR range cannot be built by this crate; clamp defensively.
        Value::Int(i) if *i >= 0 => encode_head(0, u64::try_from(*i).unwrap_or(u64::MAX), out),
        Value::Int(i) => encode_head(1, u64::try_from(-1 - *i).unwrap_or(u64::MAX), out),
        Value::Bytes(b) => {
            encode_head(2, b.len() as u64, out);
            out.extend_from_slice(b);
        }
        Value::Text(s) => {
            encode_head(3, s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            encode_head(4, a.len() as u64, out);
            a.iter().for_each(|v| encode_into(v, out));
        }
        Value::Map(m) => {
            let mut entries: Vec<(Vec<u8>, &Value)> = m.iter().map(|(k, v)| (encode(k), v)).collect();
            entries.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            encode_head(5, entries.len() as u64, out);
            for (k, v) in entries {
                out.extend_from_slice(&k);
                encode_into(v, out);
            }
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Other(bits) => {
            out.push(0xfb);
            out.extend_from_slice(&bits.to_be_bytes());
        }
    }
}

/// Decodes exactly one data item spanning all of `bytes`, with at most `max_depth` nested containers.
pub fn decode(bytes: &[u8], max_depth: usize) -> Result<Value, Status> {
    let mut d = Decoder { bytes, pos: 0 };
    let v = d.item(max_depth)?;
    d.finish()?;
    Ok(v)
}

/// A decoded CTAP parameter map with integer keys, remembering the raw bytes of each value
/// (credentialManagement and authenticatorConfig authenticate `subCommandParams` as sent).
#[derive(Debug, Default)]
pub struct Params {
    entries: Vec<(i128, Value, Range<usize>)>,
    bytes: Vec<u8>,
}

impl Params {
    /// Decodes a request's parameter map. An empty input is an empty map.
    /// Non-integer keys are legal CBOR but meaningless here; they are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Params, Status> {
        if bytes.is_empty() {
            return Ok(Params::default());
        }
        let mut d = Decoder { bytes, pos: 0 };
        let (major, n) = d.head()?;
        if major != 5 {
            // Validate the rest so that garbage is reported as garbage, then complain about the type.
            d.pos = 0;
            d.item(MAX_REQUEST_DEPTH)?;
            d.finish()?;
            return Err(Status::CborUnexpectedType);
        }
        let mut entries = Vec::new();
        let mut seen_keys: Vec<Vec<u8>> = Vec::new();
        for _ in 0..n {
            let key = d.item(MAX_REQUEST_DEPTH - 1)?;
            seen_keys.push(encode(&key));
            let start = d.pos;
            let value = d.item(MAX_REQUEST_DEPTH - 1)?;
            if let Value::Int(k) = key {
                entries.push((k, value, start..d.pos));
            }
        }
        d.finish()?;
        check_unique(seen_keys)?;
        Ok(Params {
            entries,
            bytes: bytes.to_vec(),
        })
    }

    /// The value under `key`, if present.
    pub fn get(&self, key: i128) -> Option<&Value> {
        self.entries.iter().find(|(k, _, _)| *k == key).map(|(_, v, _)| v)
    }

    /// The value under `key`, or `CTAP2_ERR_MISSING_PARAMETER`.
    pub fn require(&self, key: i128) -> Result<&Value, Status> {
        self.get(key).ok_or(Status::MissingParameter)
    }

    /// The raw encoded bytes of the value under `key`, exactly as the platform sent them.
    pub fn raw(&self, key: i128) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, r)| &self.bytes[r.clone()])
    }
}

fn check_unique(mut keys: Vec<Vec<u8>>) -> Result<(), Status> {
    let n = keys.len();
    keys.sort();
    keys.dedup();
    if keys.len() == n {
        Ok(())
    } else {
        Err(Status::InvalidCbor)
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn finish(&self) -> Result<(), Status> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(Status::InvalidCbor)
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Status> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(Status::InvalidCbor)?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads an initial byte and its argument. Indefinite lengths and reserved values are invalid.
    fn head(&mut self) -> Result<(u8, u64), Status> {
        let ib = self.take(1)?[0];
        let (major, info) = (ib >> 5, ib & 0x1f);
        let n = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.take(1)?[0]),
            25 => u64::from(u16::from_be_bytes([self.take(1)?[0], self.take(1)?[0]])),
            26 => u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().map_err(|_| Status::InvalidCbor)?,
            )),
            27 => u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| Status::InvalidCbor)?),
            _ => return Err(Status::InvalidCbor),
        };
        Ok((major, n))
    }

    /// A length that cannot exceed what is left of the input (each element takes ≥ 1 byte).
    fn len(&self, n: u64) -> Result<usize, Status> {
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.bytes.len() - self.pos)
            .ok_or(Status::InvalidCbor)
    }

    fn item(&mut self, depth: usize) -> Result<Value, Status> {
        let (major, n) = self.head()?;
        match major {
            0 => Ok(Value::Int(i128::from(n))),
            1 => Ok(Value::Int(-1 - i128::from(n))),
            2 => {
                let len = self.len(n)?;
                Ok(Value::Bytes(self.take(len)?.to_vec()))
            }
            3 => {
                let len = self.len(n)?;
                let s = std::str::from_utf8(self.take(len)?).map_err(|_| Status::InvalidCbor)?;
                Ok(Value::Text(s.to_owned()))
            }
            4 | 5 if depth == 0 => Err(Status::InvalidCbor),
            4 => {
                let len = self.len(n)?;
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.item(depth - 1)?);
                }
                Ok(Value::Array(items))
            }
            5 => {
                let len = self.len(n)?;
                let mut entries = Vec::with_capacity(len);
                let mut keys = Vec::with_capacity(len);
                for _ in 0..len {
                    let k = self.item(depth - 1)?;
                    // Compare canonical encodings, so that 1 and a non-minimal 1 are the same key.
                    keys.push(encode(&k));
                    entries.push((k, self.item(depth - 1)?));
                }
                check_unique(keys)?;
                Ok(Value::Map(entries))
            }
            // Tags are not part of CTAP's data model.
            6 => Err(Status::InvalidCbor),
            _ => Ok(match n {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 => Value::Null,
                other => Value::Other(other),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
