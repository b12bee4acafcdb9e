//! Decoder tests, including the bounded-resource cases of bad-input row 2.

use super::*;

#[test]
fn decodes_the_webauthn_subset() {
    // {"a": [1, -2, h'0102', "x", true, null]}
    let bytes = [0xa1, 0x61, b'a', 0x86, 0x01, 0x21, 0x42, 1, 2, 0x61, b'x', 0xf5, 0xf6];
    let value = decode(&bytes).unwrap();
    let entries = value.as_map().unwrap();
    let items = map_get_text(entries, "a").unwrap().as_array().unwrap();
    assert_eq!(items[0], Value::Integer(1));
    assert_eq!(items[1], Value::Integer(-2));
    assert_eq!(items[2], Value::Bytes(&[1, 2]));
    assert_eq!(items[3], Value::Text("x"));
    assert_eq!(items[4], Value::Bool(true));
    assert_eq!(items[5], Value::Null);
}

#[test]
fn integers_cover_the_full_range() {
    assert_eq!(
        decode(&[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
        Value::Integer(u64::MAX.into())
    );
    assert_eq!(
        decode(&[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
        Value::Integer(-1 - i128::from(u64::MAX))
    );
    assert_eq!(decode(&[0x39, 0xff, 0xfe]).unwrap(), Value::Integer(-65535));
}

#[test]
fn floats_decode() {
    assert_eq!(decode(&[0xf9, 0x3c, 0x00]).unwrap(), Value::Float(1.0));
    assert_eq!(decode(&[0xfa, 0x3f, 0xc0, 0x00, 0x00]).unwrap(), Value::Float(1.5));
}

#[test]
fn row1_truncated_and_trailing_input_is_rejected() {
    assert_eq!(decode(&[]), Err(CborError::Truncated));
    assert_eq!(decode(&[0x19, 0x01]), Err(CborError::Truncated));
    assert_eq!(decode(&[0x01, 0x00]), Err(CborError::TrailingBytes(1)));
    assert_eq!(decode(&[0x62, b'a']), Err(CborError::LengthTooLarge(2)));
}

#[test]
fn row2_deep_nesting_fails_fast_without_recursion() {
    // 10 000 nested arrays: rejected at depth 17, long before the stack could matter.
    let bomb = vec![0x81; 10_000];
    assert_eq!(decode(&bomb), Err(CborError::TooDeep));
    // Maps too.
    let mut maps = Vec::new();
    for _ in 0..10_000 {
        maps.extend_from_slice(&[0xa1, 0x01]);
    }
    assert_eq!(decode(&maps), Err(CborError::TooDeep));
    // Exactly the limit is fine.
    let mut ok = vec![0x81; MAX_DEPTH];
    ok.push(0x00);
    assert!(decode(&ok).is_ok());
}

#[test]
fn row2_indefinite_lengths_and_length_bombs_are_rejected_before_allocating() {
    assert_eq!(decode(&[0x9f, 0x01, 0xff]), Err(CborError::IndefiniteLength));
    assert_eq!(decode(&[0xbf, 0xff]), Err(CborError::IndefiniteLength));
    assert_eq!(decode(&[0x5f, 0x41, 0x00, 0xff]), Err(CborError::IndefiniteLength));
    // An array that claims 2^64-1 items, a byte string that claims 4 GiB.
    assert!(matches!(
        decode(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Err(CborError::LengthTooLarge(_))
    ));
    assert!(matches!(
        decode(&[0x5a, 0xff, 0xff, 0xff, 0xff]),
        Err(CborError::LengthTooLarge(_))
    ));
    assert!(matches!(
        decode(&[0xba, 0x00, 0x01, 0x00, 0x00, 0x00]),
        Err(CborError::LengthTooLarge(_))
    ));
}

#[test]
fn tags_reserved_values_and_bad_text_are_rejected() {
    assert_eq!(decode(&[0xc0, 0x00]), Err(CborError::Tag));
    assert_eq!(decode(&[0x1c]), Err(CborError::Malformed(0x1c)));
    assert_eq!(decode(&[0xf8, 0x10]), Err(CborError::Malformed(0xf8)));
    assert_eq!(decode(&[0x61, 0xff]), Err(CborError::InvalidUtf8));
}

#[test]
fn map_keys_must_be_unique_integers_or_strings() {
    assert_eq!(decode(&[0xa2, 0x01, 0x00, 0x01, 0x00]), Err(CborError::DuplicateMapKey));
    assert_eq!(
        decode(&[0xa2, 0x61, b'a', 0x00, 0x61, b'a', 0x00]),
        Err(CborError::DuplicateMapKey)
    );
    assert_eq!(decode(&[0xa1, 0x80, 0x00]), Err(CborError::UnsupportedMapKey));
    // Same value, different types: distinct keys.
    assert!(decode(&[0xa2, 0x41, b'a', 0x00, 0x61, b'a', 0x00]).is_ok());
}

#[test]
fn decode_prefix_reports_the_bytes_used() {
    let (value, used) = decode_prefix(&[0x42, 1, 2, 0xff, 0xff]).unwrap();
    assert_eq!(value, Value::Bytes(&[1, 2]));
    assert_eq!(used, 3);
}
