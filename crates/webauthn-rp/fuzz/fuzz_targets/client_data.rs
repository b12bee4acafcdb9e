//! clientDataJSON: UTF-8, JSON, duplicate members, and the ceremony checks.
#![no_main]

use keyfleet_webauthn_rp::client_data::{self, ClientDataExpectations, CrossOriginPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = client_data::parse(data);
    let _ = client_data::verify(
        data,
        &ClientDataExpectations {
            type_: client_data::TYPE_GET,
            challenge: b"0123456789abcdef",
            origins: &["https://example.com"],
            cross_origin: CrossOriginPolicy::Allow { top_origins: &["https://top.example"] },
        },
    );
});
