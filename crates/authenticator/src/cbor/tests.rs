use super::*;

#[test]
fn integers_use_the_smallest_form() {
    let cases: [(i128, &[u8]); 8] = [
        (0, &[0x00]),
        (23, &[0x17]),
        (24, &[0x18, 0x18]),
        (255, &[0x18, 0xff]),
        (256, &[0x19, 0x01, 0x00]),
        (65536, &[0x1a, 0x00, 0x01, 0x00, 0x00]),
        (-1, &[0x20]),
        (-25, &[0x38, 0x18]),
    ];
    for (i, bytes) in cases {
        assert_eq!(encode(&Value::Int(i)), bytes, "{i}");
        assert_eq!(decode(bytes, 1).unwrap(), Value::Int(i));
    }
}

#[test]
fn map_keys_follow_ctap_canonical_order() {
    // CTAP §8: integer keys 1 < 2 < -1 < -2 (by encoded length, then bytes); text keys shorter first.
    let v = Value::int_map(vec![
        (-3, Value::Int(0)),
        (-1, Value::Int(0)),
        (3, Value::Int(0)),
        (1, Value::Int(0)),
    ]);
    assert_eq!(encode(&v), [0xa4, 0x01, 0x00, 0x03, 0x00, 0x20, 0x00, 0x22, 0x00]);
    let t = Value::text_map(vec![
        ("type", Value::Null),
        ("alg", Value::Null),
        ("up", Value::Null),
        ("id", Value::Null),
    ]);
    let keys: Vec<String> = match decode(&encode(&t), 2).unwrap() {
        Value::Map(m) => m.into_iter().map(|(k, _)| k.as_text().unwrap().to_owned()).collect(),
        _ => unreachable!(),
    };
    assert_eq!(keys, ["id", "up", "alg", "type"]);
}

#[test]
fn round_trips_every_type() {
    let v = Value::int_map(vec![
        (1, Value::bytes(b"\x00\x01")),
        (2, Value::text("é")),
        (
            3,
            Value::Array(vec![Value::Bool(true), Value::Bool(false), Value::Null]),
        ),
        (-7, Value::Int(i128::from(u64::MAX))),
        (4, Value::Int(-1 - i128::from(u64::MAX))),
    ]);
    let bytes = encode(&v);
    let back = decode(&bytes, 2).unwrap();
    assert_eq!(encode(&back), bytes);
    assert_eq!(back.get_int_key(-7), Some(&Value::Int(i128::from(u64::MAX))));
}

#[test]
fn rejects_malformed_input() {
    let bad: [&[u8]; 10] = [
        &[],                                   // nothing
        &[0x18],                               // truncated argument
        &[0x42, 0x00],                         // truncated bytes
        &[0x62, 0xff, 0xfe],                   // invalid UTF-8
        &[0x9f, 0xff],                         // indefinite array
        &[0xc0, 0x00],                         // tag
        &[0x01, 0x02],                         // trailing byte
        &[0xa2, 0x01, 0x00, 0x01, 0x00],       // duplicate key
        &[0xa2, 0x01, 0x00, 0x18, 0x01, 0x00], // duplicate key, one non-minimal
        &[0x1c],                               // reserved additional information
    ];
    for b in bad {
        assert_eq!(decode(b, 4), Err(Status::InvalidCbor), "{b:02x?}");
    }
}

#[test]
fn huge_declared_lengths_are_rejected_without_allocating() {
    assert_eq!(
        decode(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 4),
        Err(Status::InvalidCbor)
    );
    assert_eq!(decode(&[0x5a, 0xff, 0xff, 0xff, 0xff], 4), Err(Status::InvalidCbor));
}

#[test]
fn depth_is_bounded() {
    // [[[[1]]]] is four levels; five is refused, and so is a 10 000-level bomb.
    assert!(decode(&[0x81, 0x81, 0x81, 0x81, 0x01], 4).is_ok());
    assert_eq!(
        decode(&[0x81, 0x81, 0x81, 0x81, 0x81, 0x01], 4),
        Err(Status::InvalidCbor)
    );
    let bomb = [vec![0x81u8; 10_000], vec![0x01]].concat();
    assert_eq!(decode(&bomb, 4), Err(Status::InvalidCbor));
    assert_eq!(
        Params::decode(&[&[0xa1, 0x01][..], &bomb].concat()).unwrap_err(),
        Status::InvalidCbor
    );
}

#[test]
fn params_keep_raw_value_bytes() {
    // {1: 2, 2: {1: h'00'}} with the inner map as sent.
    let bytes = [0xa2, 0x01, 0x02, 0x02, 0xa1, 0x01, 0x41, 0x00];
    let p = Params::decode(&bytes).unwrap();
    assert_eq!(p.get(1), Some(&Value::Int(2)));
    assert_eq!(p.raw(2), Some(&bytes[4..]));
    assert_eq!(p.require(3).unwrap_err(), Status::MissingParameter);
}

#[test]
fn params_must_be_a_map() {
    assert_eq!(Params::decode(&[0x80]).unwrap_err(), Status::CborUnexpectedType);
    assert_eq!(Params::decode(&[0x80, 0x00]).unwrap_err(), Status::InvalidCbor);
    assert!(Params::decode(&[]).unwrap().get(1).is_none());
}

#[test]
fn typed_accessors_report_unexpected_type() {
    assert_eq!(Value::Int(1).as_bytes().unwrap_err(), Status::CborUnexpectedType);
    assert_eq!(Value::Int(-1).as_uint().unwrap_err(), Status::CborUnexpectedType);
    assert_eq!(Value::Null.as_map().unwrap_err(), Status::CborUnexpectedType);
}
