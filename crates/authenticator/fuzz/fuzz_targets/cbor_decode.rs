//! Raw target: any byte string through the engine's CBOR decoder (CTAP 2.1 §8).
//!
//! The first byte picks the depth limit; the rest is the input. Whatever decodes must survive a
//! round trip through the canonical encoder, and `Params::decode` (the request-map decoder) must
//! agree with the generic decoder on what is well-formed.
#![no_main]

use keyfleet_authenticator::cbor::{MAX_REQUEST_DEPTH, Params, Value, decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&depth, input)) = data.split_first() else {
        return;
    };
    let depth = usize::from(depth % 8);
    if let Ok(value) = decode(input, depth) {
        // The canonical form decodes to the same canonical form, within the same depth.
        let canonical = encode(&value);
        let again = decode(&canonical, depth).expect("canonical re-encoding decodes");
        assert_eq!(encode(&again), canonical);
        assert!(canonical.len() <= input.len().max(9) * 9, "encoding blew up");
    }
    let generic = decode(input, MAX_REQUEST_DEPTH);
    match Params::decode(input) {
        Ok(_) => assert!(
            input.is_empty() || matches!(generic, Ok(Value::Map(_))),
            "Params accepted what the decoder refuses: {generic:?}"
        ),
        Err(_) => assert!(!matches!(generic, Ok(Value::Map(_))), "Params refused a valid map"),
    }
});
