//! authenticatorLargeBlobs (0x0C), CTAP 2.1 §6.10.
//!
//! Request keys: 0x01 get (length to read), 0x02 set (fragment), 0x03 offset, 0x04 length (total,
//! with the first fragment only), 0x05 pinUvAuthParam, 0x06 pinUvAuthProtocol. Response: {0x01
//! config} for a read.
//!
//! The serialized large-blob array (opaque to us: a CBOR array followed by LEFT(SHA-256(array),
//! 16)) lives in the persistent state. A write arrives in fragments of at most maxFragmentLength
//! = maxMsgSize − 64 bytes; they are collected in volatile state and committed only when the last
//! one arrived and the checksum matches, so a torn write never reaches the key file. Writing
//! needs a pinUvAuthToken with the `lbw` permission when the authenticator is protected by user
//! verification (§6.10.2 step "If the authenticator is protected by some form of user
//! verification or alwaysUv is true").

use crate::cbor::{Params, Value};
use crate::env::Env;
use crate::state::MAX_SERIALIZED_LARGE_BLOB_ARRAY;
use crate::status::Status;
use crate::token::PERM_LBW;
use crate::{Authenticator, check_protocol, crypto};

use super::get_info::MAX_MSG_SIZE;
use super::parse;

/// maxFragmentLength (§6.10.1): maxMsgSize − 64.
pub const MAX_FRAGMENT_LENGTH: usize = MAX_MSG_SIZE as usize - 64;
/// The smallest valid serialized array: an empty CBOR array (1 byte) and the 16-byte checksum.
const MIN_SERIALIZED_LENGTH: u64 = 17;

/// A write in progress: the state variables expectedLength and expectedNextOffset, and the bytes
/// received so far.
pub struct PendingWrite {
    expected_length: usize,
    buffer: Vec<u8>,
}

impl PendingWrite {
    fn expected_next_offset(&self) -> usize {
        self.buffer.len()
    }
}

/// Runs authenticatorLargeBlobs.
pub fn run(a: &mut Authenticator, env: &mut dyn Env, p: &Params) -> Result<Option<Value>, Status> {
    let get = p.get(0x01).map(Value::as_uint).transpose()?;
    let set = p.get(0x02).map(Value::as_bytes).transpose()?;
    let offset = p.get(0x03).map(Value::as_uint).transpose()?;
    let length = p.get(0x04).map(Value::as_uint).transpose()?;
    let param = parse::pin_uv_auth(p, 0x05, 0x06)?;
    // 1. offset is mandatory: CTAP1_ERR_INVALID_PARAMETER.
    let offset = offset.ok_or(Status::InvalidParameter)?;
    match (get, set) {
        // 2.–3. Exactly one of get and set.
        (Some(_), Some(_)) | (None, None) => Err(Status::InvalidParameter),
        (Some(get), None) => read(a, get, offset, length, param.as_deref(), p.get(0x06)).map(Some),
        (None, Some(set)) => write(a, env, set, offset, length, param.as_deref(), p.get(0x06)).map(|()| None),
    }
}

/// §6.10.2 "Reading": returns `get` bytes from `offset`.
fn read(
    a: &Authenticator,
    get: u64,
    offset: u64,
    length: Option<u64>,
    param: Option<&[u8]>,
    protocol: Option<&Value>,
) -> Result<Value, Status> {
    // 1. length, pinUvAuthParam and pinUvAuthProtocol belong to writes.
    if length.is_some() || param.is_some() || protocol.is_some() {
        return Err(Status::InvalidParameter);
    }
    // 2. get > maxFragmentLength: CTAP1_ERR_INVALID_LENGTH.
    if get > MAX_FRAGMENT_LENGTH as u64 {
        return Err(Status::InvalidLength);
    }
    // 3. offset beyond the stored array: CTAP1_ERR_INVALID_PARAMETER.
    let stored = &a.state.large_blob_array;
    let start = usize::try_from(offset)
        .ok()
        .filter(|o| *o <= stored.len())
        .ok_or(Status::InvalidParameter)?;
    // 4. Return up to get bytes from offset.
    let end = start.saturating_add(get as usize).min(stored.len());
    Ok(Value::int_map(vec![(0x01, Value::bytes(&stored[start..end]))]))
}

/// §6.10.2 "Writing": one fragment.
fn write(
    a: &mut Authenticator,
    env: &mut dyn Env,
    set: &[u8],
    offset: u64,
    length: Option<u64>,
    param: Option<&[u8]>,
    protocol: Option<&Value>,
) -> Result<(), Status> {
    // 1. A fragment longer than maxFragmentLength: CTAP1_ERR_INVALID_LENGTH.
    if set.len() > MAX_FRAGMENT_LENGTH {
        return Err(Status::InvalidLength);
    }
    let offset = usize::try_from(offset).map_err(|_| Status::InvalidParameter)?;
    let new_length = if offset == 0 {
        // 2. The first fragment carries the total length: absent → INVALID_PARAMETER, more than
        //    maxSerializedLargeBlobArray → LARGE_BLOB_STORAGE_FULL, less than 17 → INVALID_PARAMETER.
        let length = length.ok_or(Status::InvalidParameter)?;
        if length > MAX_SERIALIZED_LARGE_BLOB_ARRAY as u64 {
            return Err(Status::LargeBlobStorageFull);
        }
        if length < MIN_SERIALIZED_LENGTH {
            return Err(Status::InvalidParameter);
        }
        Some(length as usize)
    } else {
        // 3. Later fragments: no length, and exactly at expectedNextOffset (else INVALID_SEQ).
        if length.is_some() {
            return Err(Status::InvalidParameter);
        }
        match &a.vol.large_blob_write {
            Some(w) if w.expected_next_offset() == offset => {}
            _ => return Err(Status::InvalidSeq),
        }
        None
    };
    // 4. Protected by user verification (or alwaysUv): a pinUvAuthParam with the lbw permission,
    //    verify(token, 32×0xff ‖ h'0c00' ‖ uint32LittleEndian(offset) ‖ SHA-256(set)).
    if a.state.uv_protected() || a.state.always_uv {
        let param = param.ok_or(Status::PuatRequired)?;
        let protocol = check_protocol(protocol)?;
        let message = [
            &[0xffu8; 32][..],
            &[0x0c, 0x00],
            &(offset as u32).to_le_bytes(),
            &crypto::sha256(set),
        ]
        .concat();
        let token = a.verify_token(env, protocol, &message, param)?;
        if token.permissions & PERM_LBW == 0 {
            return Err(Status::PinAuthInvalid);
        }
    }
    // 5. A fragment past expectedLength: CTAP1_ERR_INVALID_PARAMETER.
    let expected_length = match (new_length, &a.vol.large_blob_write) {
        (Some(n), _) => n,
        (None, Some(w)) => w.expected_length,
        (None, None) => return Err(Status::InvalidSeq),
    };
    if offset + set.len() > expected_length {
        return Err(Status::InvalidParameter);
    }
    // 6. offset 0 starts a new buffer; append the fragment.
    if new_length.is_some() {
        a.vol.large_blob_write = Some(PendingWrite {
            expected_length,
            buffer: Vec::with_capacity(expected_length),
        });
    }
    let Some(w) = a.vol.large_blob_write.as_mut() else {
        return Err(Status::InvalidSeq);
    };
    w.buffer.extend_from_slice(set);
    if w.buffer.len() < w.expected_length {
        return Ok(());
    }
    // 7. Complete: the last 16 bytes must be LEFT(SHA-256(the rest), 16), else
    //    CTAP2_ERR_INTEGRITY_FAILURE; then commit. Either way the write is over.
    let done = a.vol.large_blob_write.take().map(|w| w.buffer).unwrap_or_default();
    let (array, checksum) = done.split_at(done.len() - 16);
    if !crypto::ct_eq(&crypto::sha256(array)[..16], checksum) {
        return Err(Status::IntegrityFailure);
    }
    a.state.large_blob_array = done;
    Ok(())
}

#[cfg(test)]
mod tests;
