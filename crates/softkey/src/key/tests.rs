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
    assert!(
        key.describe().ends_with("saves=0 save_us=0 counter_only=0"),
        "{}",
        key.describe()
    );
    // A new credential bumps the signature counter: one save.
    assert_eq!(key.ctap2(&make_credential())[0], 0x00);
    assert_eq!(key.save_stats().count, 1);
    assert_ne!(file(), before);
    assert!(key.describe().contains(" saves=1 save_us="), "{}", key.describe());
    // The next ones change only the counter, below the reserved high-water mark: no save.
    assert_eq!(key.ctap2(&make_credential())[0], 0x00);
    assert_eq!(key.save_stats().count, 1);
    assert_eq!(key.save_stats().counter_only, 1);
}

/// The signature counter in a makeCredential response's authenticator data (§6.1, authData:
/// rpIdHash (32) ‖ flags (1) ‖ signCount (4, big-endian) ‖ …).
fn counter_of(response: &[u8]) -> u32 {
    assert_eq!(response[0], 0x00, "makeCredential failed: {:#04x}", response[0]);
    let map = keyfleet_authenticator::cbor::decode(&response[1..], 8).unwrap();
    let auth_data = map.get_int_key(2).unwrap().as_bytes().unwrap();
    u32::from_be_bytes(auth_data[33..37].try_into().unwrap())
}

/// A crash (the process killed: the key dropped without any further save) never makes the key
/// hand out a counter value again, however many values it handed out from memory before, and
/// across several blocks of reserved values.
#[test]
fn a_crash_never_repeats_a_signature_counter() {
    let dir = TempDir::new("key-crash");
    let path = dir.path().join("k.kfk");
    let file_keys = dir.path().join("file-keys");
    let factory = Factory::new(dir.path().join("factory"));
    let block = 8;
    drop(SoftKey::create(&path, "nfc-key", &factory, Protection::FileKey(file_keys.clone())).unwrap());
    let mut seen: Vec<u32> = Vec::new();
    // Crash after 0, 1, 7, 8, 9 and 20 requests: inside, at and past the end of a block.
    for requests in [0, 1, 7, 8, 9, 20, 3] {
        let mut key = SoftKey::open(&path, &file_keys).unwrap().with_counter_block(block);
        key.power_on();
        for _ in 0..requests {
            let counter = counter_of(&key.ctap2(&make_credential()));
            if let Some(&last) = seen.last() {
                assert!(counter > last, "counter {counter} after {last}: repeated or went back");
            }
            seen.push(counter);
        }
        // No save on the way out: this is what kill -9 leaves behind.
        drop(key);
    }
    assert_eq!(seen.len(), 48);
    // The reservation saved once per block, not once per request.
    let mut key = SoftKey::open(&path, &file_keys).unwrap().with_counter_block(block);
    key.power_on();
    for _ in 0..3 * block {
        key.ctap2(&make_credential());
    }
    assert!(key.save_stats().count <= 4, "{:?}", key.save_stats());
}

/// A discoverable credential is a state change beyond the counter: saved before the response,
/// so a crash right after it keeps the credential.
#[test]
fn a_discoverable_credential_is_saved_before_the_response() {
    let dir = TempDir::new("key-rk");
    let path = dir.path().join("k.kfk");
    let file_keys = dir.path().join("file-keys");
    let factory = Factory::new(dir.path().join("factory"));
    let mut key = SoftKey::create(&path, "nfc-key", &factory, Protection::FileKey(file_keys.clone())).unwrap();
    key.power_on();
    assert_eq!(key.ctap2(&make_credential())[0], 0x00, "counter block reserved");
    let saves = key.save_stats().count;
    // The same request with options {rk: true} (key 7).
    let mut rk = make_credential();
    rk[1] = 0xa5;
    rk.extend_from_slice(b"\x07\xa1\x62rk\xf5");
    assert_eq!(key.ctap2(&rk)[0], 0x00);
    assert_eq!(key.save_stats().count, saves + 1, "saved at once");
    drop(key);
    let key = SoftKey::open(&path, &file_keys).unwrap();
    assert_eq!(key.authenticator().state().credentials().len(), 1);
}

/// Reassigning a band wipes its discoverable credentials and enrolment, durably.
#[test]
fn reassign_wipes_a_band_durably() {
    let dir = TempDir::new("key-reassign");
    let path = dir.path().join("b.kfk");
    let file_keys = dir.path().join("file-keys");
    let factory = Factory::new(dir.path().join("factory"));
    let mut key = SoftKey::create(&path, "band", &factory, Protection::FileKey(file_keys.clone())).unwrap();
    key.power_on();
    assert_eq!(key.control(&["wear"]), Some(Ok(String::new())));
    assert_eq!(key.control(&["enrol-finger"]), Some(Ok("Enrolled".into())));
    let mut rk = make_credential();
    rk[1] = 0xa5;
    // options {rk: true, uv: true}: the worn band verifies its wearer.
    rk.extend_from_slice(b"\x07\xa2\x62rk\xf5\x62uv\xf5");
    assert_eq!(key.ctap2(&rk)[0], 0x00);
    assert_eq!(key.authenticator().state().credentials().len(), 1);
    assert_eq!(key.control(&["reassign"]), Some(Ok(String::new())));
    drop(key);
    let key = SoftKey::open(&path, &file_keys).unwrap();
    let status = key.authenticator().band_status().unwrap();
    assert!(key.authenticator().state().credentials().is_empty());
    assert!(!status.enrolled && status.worn && !key.authenticator().state().pin_is_set());
}

/// The band's sensor sees only the fingers put on it through the control socket, in order; with
/// none waiting a capture times out.
#[test]
fn fingers_on_the_sensor_are_captured_in_order() {
    use keyfleet_authenticator::{CaptureQuality, Env};
    let dir = TempDir::new("key-finger");
    let factory = Factory::new(dir.path().join("factory"));
    let protection = Protection::FileKey(dir.path().join("file-keys"));
    let mut key = SoftKey::create(&dir.path().join("b.kfk"), "band", &factory, protection).unwrap();
    assert_eq!(key.env.fingerprint_capture(), None, "nobody touched the sensor");
    assert_eq!(key.control(&["finger", "good"]), Some(Ok(String::new())));
    assert_eq!(key.control(&["finger", "poor"]), Some(Ok(String::new())));
    assert!(matches!(key.control(&["finger", "wet"]), Some(Err(_))));
    assert_eq!(key.env.fingerprint_capture(), Some(CaptureQuality::Good));
    assert_eq!(key.env.fingerprint_capture(), Some(CaptureQuality::Poor));
    assert_eq!(key.env.fingerprint_capture(), None);
}
