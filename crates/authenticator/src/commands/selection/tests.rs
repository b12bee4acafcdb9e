use crate::status::Status;
use crate::test_support::*;

#[test]
fn touch_selects() {
    let mut fx = Fixture::new();
    assert_eq!(fx.raw(&[0x0B]), [0x00]);
    fx.env.script_presence(&[false]);
    assert_eq!(fx.call(0x0B, vec![]).unwrap_err(), Status::OperationDenied);
    assert_eq!(fx.raw(&[0x0B, 0xa0]), [0x03]);
}
