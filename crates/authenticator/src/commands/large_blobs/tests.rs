//! authenticatorLargeBlobs (CTAP 2.1 §6.10), driven the way python-fido2's `LargeBlobs` does.

use super::MAX_FRAGMENT_LENGTH;
use crate::cbor::Value;
use crate::crypto;
use crate::pin_protocol::Protocol;
use crate::state::{MAX_SERIALIZED_LARGE_BLOB_ARRAY, empty_large_blob_array};
use crate::status::Status;
use crate::test_support::{Fixture, auth_param};
use crate::token::{PERM_CM, PERM_LBW};

/// A serialized array: CBOR ‖ LEFT(SHA-256(CBOR), 16).
fn serialized(cbor_array: &[u8]) -> Vec<u8> {
    [cbor_array, &crypto::sha256(cbor_array)[..16]].concat()
}

/// The pinUvAuthParam of a write fragment (§6.10.2): 32×0xff ‖ 0x0c 0x00 ‖ uint32LE(offset) ‖ SHA-256(set).
fn write_param(token: &[u8; 32], offset: u32, set: &[u8]) -> Vec<u8> {
    let message = [
        &[0xffu8; 32][..],
        &[0x0c, 0x00],
        &offset.to_le_bytes(),
        &crypto::sha256(set),
    ]
    .concat();
    auth_param(token, &message)
}

fn read(fx: &mut Fixture, get: u64, offset: u64) -> Result<Vec<u8>, Status> {
    let r = fx.call(0x0C, vec![(1, Value::Int(get.into())), (3, Value::Int(offset.into()))])?;
    Ok(r.get_int_key(1).unwrap().as_bytes().unwrap().to_vec())
}

fn write(
    fx: &mut Fixture,
    token: Option<&[u8; 32]>,
    set: &[u8],
    offset: u32,
    length: Option<usize>,
) -> Result<(), Status> {
    let mut params = vec![(2, Value::bytes(set)), (3, Value::Int(offset.into()))];
    if let Some(n) = length {
        params.push((4, Value::Int(n as i128)));
    }
    if let Some(t) = token {
        params.push((5, Value::bytes(&write_param(t, offset, set))));
        params.push((6, Value::Int(2)));
    }
    fx.call(0x0C, params).map(|_| ())
}

/// Writes a whole serialized array in maxFragmentLength pieces.
fn write_all(fx: &mut Fixture, token: Option<&[u8; 32]>, data: &[u8]) -> Result<(), Status> {
    for (i, chunk) in data.chunks(MAX_FRAGMENT_LENGTH).enumerate() {
        let offset = (i * MAX_FRAGMENT_LENGTH) as u32;
        write(fx, token, chunk, offset, (offset == 0).then_some(data.len()))?;
    }
    Ok(())
}

#[test]
fn a_fresh_key_holds_the_empty_array() {
    // §6.10.2: the initial serialized large-blob array is h'80' ‖ LEFT(SHA-256(h'80'), 16).
    let mut fx = Fixture::new();
    let got = read(&mut fx, 1024, 0).unwrap();
    assert_eq!(got, empty_large_blob_array());
    assert_eq!(got.len(), 17);
    assert_eq!(&got[1..], &crypto::sha256(&[0x80])[..16]);
}

#[test]
fn write_without_a_pin_then_read_back_in_pieces() {
    // Not protected by user verification: no pinUvAuthParam needed (§6.10.2 writing, step 4).
    let mut fx = Fixture::new();
    let data = serialized(&[&[0x81, 0x59, 0x0b, 0xb8][..], &[7u8; 3000]].concat());
    write_all(&mut fx, None, &data).unwrap();
    assert_eq!(fx.auth.state().large_blob_array(), data.as_slice());
    assert!(fx.auth.take_dirty());
    let mut back = Vec::new();
    while back.len() < data.len() {
        back.extend(read(&mut fx, MAX_FRAGMENT_LENGTH as u64, back.len() as u64).unwrap());
    }
    assert_eq!(back, data);
    // Reading at the end returns nothing; beyond it is INVALID_PARAMETER (reading, step 3).
    assert_eq!(read(&mut fx, 10, data.len() as u64).unwrap(), Vec::<u8>::new());
    assert_eq!(
        read(&mut fx, 10, data.len() as u64 + 1).unwrap_err(),
        Status::InvalidParameter
    );
}

#[test]
fn writing_needs_an_lbw_token_once_a_pin_is_set() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let data = serialized(&[0x81, 0x01]);
    // No pinUvAuthParam: CTAP2_ERR_PUAT_REQUIRED (python-fido2 test_largeblobs::test_missing_permissions).
    assert_eq!(write_all(&mut fx, None, &data).unwrap_err(), Status::PuatRequired);
    // A token without lbw: CTAP2_ERR_PIN_AUTH_INVALID.
    let cm = fx.pin_token("1234", PERM_CM, None).unwrap();
    assert_eq!(
        write_all(&mut fx, Some(&cm), &data).unwrap_err(),
        Status::PinAuthInvalid
    );
    // A wrong pinUvAuthParam: PIN_AUTH_INVALID.
    let lbw = fx.pin_token("1234", PERM_LBW, None).unwrap();
    let bad = fx.call(
        0x0C,
        vec![
            (2, Value::bytes(&data)),
            (3, Value::Int(0)),
            (4, Value::Int(data.len() as i128)),
            (5, Value::bytes(&[0u8; 32])),
            (6, Value::Int(2)),
        ],
    );
    assert_eq!(bad.unwrap_err(), Status::PinAuthInvalid);
    // An unknown protocol: INVALID_PARAMETER; none: MISSING_PARAMETER.
    let no_protocol = fx.call(
        0x0C,
        vec![
            (2, Value::bytes(&data)),
            (3, Value::Int(0)),
            (4, Value::Int(data.len() as i128)),
            (5, Value::bytes(&write_param(&lbw, 0, &data))),
        ],
    );
    assert_eq!(no_protocol.unwrap_err(), Status::MissingParameter);
    assert_eq!(fx.auth.state().large_blob_array(), empty_large_blob_array().as_slice());
    // With lbw it works.
    write_all(&mut fx, Some(&lbw), &data).unwrap();
    assert_eq!(fx.auth.state().large_blob_array(), data.as_slice());
    // Reading needs no token at all.
    assert_eq!(read(&mut fx, 100, 0).unwrap(), data);
}

#[test]
fn protocol_one_tokens_write_too() {
    let mut fx = Fixture::new();
    fx.set_pin("1234").unwrap();
    let lbw = fx.pin_token_with(Protocol::One, "1234", PERM_LBW, None).unwrap();
    let data = serialized(&[0x80]);
    let message = [
        &[0xffu8; 32][..],
        &[0x0c, 0x00],
        &0u32.to_le_bytes(),
        &crypto::sha256(&data),
    ]
    .concat();
    let param = Protocol::One.authenticate(&lbw, &message);
    assert_eq!(param.len(), 16);
    fx.call(
        0x0C,
        vec![
            (2, Value::bytes(&data)),
            (3, Value::Int(0)),
            (4, Value::Int(data.len() as i128)),
            (5, Value::Bytes(param)),
            (6, Value::Int(1)),
        ],
    )
    .unwrap();
}

#[test]
fn a_bad_checksum_is_an_integrity_failure_and_changes_nothing() {
    // python-fido2 test_largeblobs::test_invalid_checksum.
    let mut fx = Fixture::new();
    let mut data = serialized(&[0x80]);
    *data.last_mut().unwrap() ^= 0xff;
    let before = fx.state_bytes();
    assert_eq!(write_all(&mut fx, None, &data).unwrap_err(), Status::IntegrityFailure);
    assert_eq!(fx.state_bytes(), before);
    // The failed write is over: a continuation is out of sequence.
    assert_eq!(write(&mut fx, None, &[0], 17, None).unwrap_err(), Status::InvalidSeq);
}

#[test]
fn size_bounds() {
    // python-fido2 test_largeblobs::test_size_bounds: exactly maxSerializedLargeBlobArray fits,
    // one byte more is CTAP2_ERR_LARGE_BLOB_STORAGE_FULL.
    let mut fx = Fixture::new();
    let max = MAX_SERIALIZED_LARGE_BLOB_ARRAY;
    // A CBOR array of one byte string filling the space: 0x81 0x59 len16 ‖ bytes.
    let body_len = max - 16 - 4;
    let array = [
        &[0x81, 0x59][..],
        &(body_len as u16).to_be_bytes(),
        &vec![1u8; body_len],
    ]
    .concat();
    let data = serialized(&array);
    assert_eq!(data.len(), max);
    write_all(&mut fx, None, &data).unwrap();
    let too_big = [data.as_slice(), &[0]].concat();
    assert_eq!(
        write(&mut fx, None, &too_big[..10], 0, Some(too_big.len())).unwrap_err(),
        Status::LargeBlobStorageFull
    );
}

#[test]
fn parameter_errors() {
    let mut fx = Fixture::new();
    let before = fx.state_bytes();
    let data = serialized(&[0x80]);
    let cases: Vec<(Vec<(i128, Value)>, Status)> = vec![
        // No offset.
        (vec![(1, Value::Int(10))], Status::InvalidParameter),
        // Neither get nor set, or both.
        (vec![(3, Value::Int(0))], Status::InvalidParameter),
        (
            vec![(1, Value::Int(10)), (2, Value::bytes(&data)), (3, Value::Int(0))],
            Status::InvalidParameter,
        ),
        // get with length or a pinUvAuthParam.
        (
            vec![(1, Value::Int(10)), (3, Value::Int(0)), (4, Value::Int(17))],
            Status::InvalidParameter,
        ),
        (
            vec![(1, Value::Int(10)), (3, Value::Int(0)), (5, Value::bytes(&[0; 32]))],
            Status::InvalidParameter,
        ),
        // get longer than maxFragmentLength.
        (
            vec![(1, Value::Int(MAX_FRAGMENT_LENGTH as i128 + 1)), (3, Value::Int(0))],
            Status::InvalidLength,
        ),
        // A fragment longer than maxFragmentLength.
        (
            vec![
                (2, Value::bytes(&vec![0; MAX_FRAGMENT_LENGTH + 1])),
                (3, Value::Int(0)),
                (4, Value::Int(3000)),
            ],
            Status::InvalidLength,
        ),
        // First fragment without length, or a length under 17.
        (
            vec![(2, Value::bytes(&data)), (3, Value::Int(0))],
            Status::InvalidParameter,
        ),
        (
            vec![(2, Value::bytes(&data[..16])), (3, Value::Int(0)), (4, Value::Int(16))],
            Status::InvalidParameter,
        ),
        // A complete write of the initial array (succeeds; the state ends up the same).
        (
            vec![(2, Value::bytes(&data)), (3, Value::Int(0)), (4, Value::Int(17))],
            Status::Ok,
        ),
        // A continuation with no write in progress, or with a length.
        (vec![(2, Value::bytes(&[1])), (3, Value::Int(5))], Status::InvalidSeq),
        (
            vec![(2, Value::bytes(&[1])), (3, Value::Int(5)), (4, Value::Int(20))],
            Status::InvalidParameter,
        ),
        // Wrong types.
        (
            vec![(1, Value::text("x")), (3, Value::Int(0))],
            Status::CborUnexpectedType,
        ),
        (
            vec![(1, Value::Int(1)), (3, Value::Int(-1))],
            Status::CborUnexpectedType,
        ),
    ];
    for (params, want) in cases {
        let got = fx.call(0x0C, params.clone()).err().unwrap_or(Status::Ok);
        assert_eq!(got, want, "{params:?}");
    }
    // The only successful case rewrote the array with the same content.
    assert_eq!(fx.state_bytes(), before);
    // Overrun: announce 20 bytes, send 17, then 4 more.
    write(&mut fx, None, &data, 0, Some(20)).unwrap();
    assert_eq!(
        write(&mut fx, None, &[0; 4], 17, None).unwrap_err(),
        Status::InvalidParameter
    );
    // Out of sequence.
    assert_eq!(write(&mut fx, None, &[0; 3], 18, None).unwrap_err(), Status::InvalidSeq);
}

#[test]
fn a_power_cycle_abandons_a_partial_write() {
    let mut fx = Fixture::new();
    let data = serialized(&[&[0x81, 0x59, 0x0b, 0xb8][..], &[7u8; 3000]].concat());
    write(&mut fx, None, &data[..MAX_FRAGMENT_LENGTH], 0, Some(data.len())).unwrap();
    fx.power_cycle();
    assert_eq!(
        write(
            &mut fx,
            None,
            &data[MAX_FRAGMENT_LENGTH..],
            MAX_FRAGMENT_LENGTH as u32,
            None
        )
        .unwrap_err(),
        Status::InvalidSeq
    );
    assert_eq!(fx.auth.state().large_blob_array(), empty_large_blob_array().as_slice());
}
