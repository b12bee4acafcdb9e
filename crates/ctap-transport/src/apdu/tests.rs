use super::*;

/// Parses `raw` and compares (data, le, extended) with the expectation.
fn check(raw: &[u8], data: &[u8], le: Option<usize>, extended: bool) {
    let cmd = parse(raw).unwrap_or_else(|e| panic!("{raw:02x?}: {e:?}"));
    assert_eq!((cmd.cla, cmd.ins, cmd.p1, cmd.p2), (raw[0], raw[1], raw[2], raw[3]));
    assert_eq!((cmd.data, cmd.le, cmd.extended), (data, le, extended), "{raw:02x?}");
}

fn check_err(raw: &[u8], err: ParseError) {
    assert_eq!(parse(raw), Err(err), "{raw:02x?}");
}

#[test]
fn case_1() {
    check(&[0x80, 0x12, 0x01, 0x00], &[], None, false);
}

#[test]
fn case_2_short() {
    check(&[0x00, 0xC0, 0x00, 0x00, 0x10], &[], Some(16), false);
    check(&[0x00, 0xC0, 0x00, 0x00, 0x00], &[], Some(256), false);
    check(&[0x00, 0xC0, 0x00, 0x00, 0xFF], &[], Some(255), false);
}

#[test]
fn case_2_extended() {
    check(&[0x80, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00], &[], Some(65536), true);
    check(&[0x80, 0x11, 0x00, 0x00, 0x00, 0x01, 0x00], &[], Some(256), true);
    check(&[0x80, 0x11, 0x00, 0x00, 0x00, 0xFF, 0xFF], &[], Some(65535), true);
}

#[test]
fn case_3_short() {
    check(&[0x80, 0x10, 0x80, 0x00, 0x01, 0x04], &[0x04], None, false);
    let mut raw = vec![0x80, 0x10, 0x80, 0x00, 0xFF];
    raw.extend(std::iter::repeat_n(0xAB, 255));
    check(&raw, &[0xAB; 255], None, false);
}

#[test]
fn case_4_short() {
    check(
        &[0x80, 0x10, 0x80, 0x00, 0x02, 0x04, 0x05, 0x00],
        &[0x04, 0x05],
        Some(256),
        false,
    );
    check(&[0x80, 0x10, 0x80, 0x00, 0x01, 0x04, 0x07], &[0x04], Some(7), false);
}

#[test]
fn case_3_extended_without_le_as_python_fido2_sends() {
    check(&[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x01, 0x04], &[0x04], None, true);
    let mut raw = vec![0x80, 0x10, 0x80, 0x00, 0x00, 0x01, 0x2C];
    raw.extend(std::iter::repeat_n(0x11, 300));
    check(&raw, &[0x11; 300], None, true);
}

#[test]
fn case_4_extended() {
    check(
        &[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00],
        &[0x04],
        Some(65536),
        true,
    );
    check(
        &[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x02],
        &[0x04],
        Some(258),
        true,
    );
    let mut raw = vec![0x80, 0x10, 0x80, 0x00, 0x00, 0xFF, 0xFF];
    raw.extend(std::iter::repeat_n(0x22, 65535));
    raw.extend([0x00, 0x00]);
    check(&raw, &[0x22; 65535], Some(65536), true);
}

#[test]
fn too_short() {
    for len in 0..4 {
        check_err(&[0x00, 0xA4, 0x04][..len.min(3)], ParseError::TooShort);
    }
}

#[test]
fn wrong_short_lengths() {
    // Lc says 2 but one byte follows.
    check_err(&[0x80, 0x10, 0x80, 0x00, 0x02, 0x04], ParseError::LengthMismatch);
    // Lc says 1 but three bytes follow (data, Le and one extra).
    check_err(
        &[0x80, 0x10, 0x80, 0x00, 0x01, 0x04, 0x00, 0x00],
        ParseError::LengthMismatch,
    );
    // A lone zero after a zero length byte is neither short nor extended.
    check_err(&[0x80, 0x10, 0x80, 0x00, 0x00, 0x00], ParseError::LengthMismatch);
}

#[test]
fn wrong_extended_lengths() {
    check_err(
        &[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x00, 0x04],
        ParseError::ZeroExtendedLc,
    );
    check_err(
        &[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        ParseError::ZeroExtendedLc,
    );
    // Lc = 2 with one data byte.
    check_err(
        &[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x02, 0x04],
        ParseError::LengthMismatch,
    );
    // Lc = 1 with a one-byte Le (extended Le needs two bytes).
    check_err(
        &[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00],
        ParseError::LengthMismatch,
    );
    // Lc = 1 with three trailing bytes.
    check_err(
        &[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00],
        ParseError::LengthMismatch,
    );
}

#[test]
fn chaining_bit() {
    let cmd = parse(&[0x90, 0x10, 0x80, 0x00, 0x01, 0x04]).unwrap();
    assert!(cmd.is_chained());
    assert_eq!(cmd.base_cla(), 0x80);
    assert!(!parse(&[0x80, 0x10, 0x80, 0x00]).unwrap().is_chained());
}

#[test]
fn status_words_round_trip() {
    let all = [
        (StatusWord::Success, 0x9000),
        (StatusWord::StatusUpdate, 0x9100),
        (StatusWord::MoreData(0x00), 0x6100),
        (StatusWord::MoreData(0x2A), 0x612A),
        (StatusWord::WrongLength, 0x6700),
        (StatusWord::LogicalChannelNotSupported, 0x6881),
        (StatusWord::LastCommandOfChainExpected, 0x6883),
        (StatusWord::SecurityStatusNotSatisfied, 0x6982),
        (StatusWord::ConditionsNotSatisfied, 0x6985),
        (StatusWord::WrongData, 0x6A80),
        (StatusWord::FileNotFound, 0x6A82),
        (StatusWord::IncorrectP1P2, 0x6A86),
        (StatusWord::InsNotSupported, 0x6D00),
        (StatusWord::ClaNotSupported, 0x6E00),
        (StatusWord::Unknown, 0x6F00),
        (StatusWord::Other(0x6A84), 0x6A84),
    ];
    for (sw, raw) in all {
        assert_eq!(u16::from(sw), raw);
        assert_eq!(StatusWord::from(raw), sw);
        assert_eq!(sw.to_bytes(), raw.to_be_bytes());
    }
}

#[test]
fn response_helpers() {
    assert_eq!(response(b"ab", StatusWord::Success), b"ab\x90\x00");
    assert_eq!(
        split_response(b"ab\x61\x05"),
        Some((&b"ab"[..], StatusWord::MoreData(5)))
    );
    assert_eq!(split_response(b"\x90"), None);
}
