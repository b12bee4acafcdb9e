use super::*;

#[test]
fn bytes_round_trip() {
    for s in ALL {
        assert_eq!(Status::try_from(u8::from(s)), Ok(s));
    }
    assert_eq!(Status::try_from(0x13), Err(0x13));
}

#[test]
fn spec_values() {
    assert_eq!(u8::from(Status::CborUnexpectedType), 0x11);
    assert_eq!(u8::from(Status::InvalidCbor), 0x12);
    assert_eq!(u8::from(Status::MissingParameter), 0x14);
    assert_eq!(u8::from(Status::NotAllowed), 0x30);
    assert_eq!(u8::from(Status::PinInvalid), 0x31);
    assert_eq!(u8::from(Status::PinBlocked), 0x32);
    assert_eq!(u8::from(Status::PinAuthInvalid), 0x33);
    assert_eq!(u8::from(Status::PinAuthBlocked), 0x34);
    assert_eq!(u8::from(Status::PinPolicyViolation), 0x37);
    assert_eq!(u8::from(Status::UvInvalid), 0x3F);
    assert_eq!(u8::from(Status::UnauthorizedPermission), 0x40);
}

#[test]
fn all_is_sorted_and_unique() {
    assert!(ALL.windows(2).all(|w| u8::from(w[0]) < u8::from(w[1])));
}
