use crate::atr::{ATR, HISTORICAL_BYTES, declares_extended_length};

#[test]
fn atr_has_a_valid_check_byte() {
    assert_eq!(ATR.iter().skip(1).fold(0, |acc, b| acc ^ b), 0);
}

#[test]
fn atr_carries_the_historical_bytes() {
    assert_eq!(ATR[..4], [0x3B, 0x8E, 0x80, 0x01]);
    assert_eq!(ATR[1] & 0x0F, 14);
    assert_eq!(ATR[4..18], HISTORICAL_BYTES);
}

#[test]
fn atr_declares_extended_length_and_chaining() {
    assert!(declares_extended_length(&HISTORICAL_BYTES));
    assert_eq!(HISTORICAL_BYTES[4] & 0x80, 0x80, "command chaining");
}

#[test]
fn extended_length_detection() {
    assert!(!declares_extended_length(&[]));
    assert!(!declares_extended_length(&[0x00, 0x73, 0xC0, 0x21, 0xC0]));
    assert!(!declares_extended_length(&[0x80, 0x73, 0xC0, 0x21, 0x80]));
    assert!(!declares_extended_length(&[0x80, 0x73, 0xC0]));
    assert!(!declares_extended_length(&[0x80, 0x58, b'k']));
    assert!(declares_extended_length(&[0x80, 0x31, 0x80, 0x73, 0xC0, 0x21, 0xC0]));
    assert!(!declares_extended_length(&[0x80, 0x31, 0x80, 0x43, 0xC0, 0x21, 0xC0]));
}
