//! Raw target: any byte string through the APDU parser.
#![no_main]

use keyfleet_ctap_transport::apdu::{EXTENDED_LE_MAX, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = parse(data) {
        // A parsed body is always a slice of the input, and Le is within the ISO bounds.
        assert!(cmd.data.len() + 4 <= data.len());
        assert!(cmd.le.is_none_or(|le| (1..=EXTENDED_LE_MAX).contains(&le)));
    }
});
