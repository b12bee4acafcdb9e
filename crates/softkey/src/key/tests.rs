use keyfleet_ctap_transport::Applet;

use super::SoftKey;
use crate::factory::Factory;
use crate::keyfile::Protection;
use crate::testutil::TempDir;
use crate::vpcd::ReaderKey;

/// makeCredential for example.com without a PIN: a non-discoverable credential, which still
/// changes the signature counter.
fn make_credential() -> Vec<u8> {
    let rp = b"\x02\xa1\x62id\x6bexample.com";
    let user = b"\x03\xa1\x62id\x41\x07";
    let params = b"\x04\x81\xa2\x63alg\x26\x64type\x6apublic-key";
    [&b"\x01\xa4\x01\x58\x20"[..], &[1; 32], rp, user, params].concat()
}

#[test]
fn only_state_changes_are_saved_and_counted() {
    let dir = TempDir::new("key-saves");
    let path = dir.path().join("k.kfk");
    let factory = Factory::new(dir.path().join("factory"));
    let protection = Protection::FileKey(dir.path().join("file-keys"));
    let mut key = SoftKey::create(&path, "nfc-key", &factory, protection).unwrap();
    let file = || std::fs::read(&path).unwrap();
    let before = file();
    // getInfo and requests that fail to parse change nothing: no save, same bytes.
    assert_eq!(key.ctap2(&[0x04])[0], 0x00);
    assert_eq!(
        key.ctap2(&[0x01, 0xa2, 0x01])[0],
        0x12,
        "truncated CBOR: CTAP2_ERR_INVALID_CBOR"
    );
    assert_eq!(
        key.ctap2(&[0x07, 0xa0])[0],
        0x03,
        "reset with parameters: CTAP1_ERR_INVALID_LENGTH"
    );
    assert_eq!(key.save_stats().count, 0);
    assert_eq!(file(), before);
    assert!(key.describe().ends_with("saves=0 save_us=0"), "{}", key.describe());
    // A new credential bumps the signature counter: one save.
    assert_eq!(key.ctap2(&make_credential())[0], 0x00);
    assert_eq!(key.save_stats().count, 1);
    assert_ne!(file(), before);
    assert!(key.describe().contains(" saves=1 save_us="), "{}", key.describe());
}
