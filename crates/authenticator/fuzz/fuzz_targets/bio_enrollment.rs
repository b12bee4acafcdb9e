//! authenticatorBioEnrollment (0x09, CTAP 2.1 §6.7) sessions on either model, with scripted
//! finger captures and the band put on and taken off; requests signed by the harness as
//! uint8(modality) ‖ uint8(subCommand) ‖ subCommandParams. See `harness.rs`.
#![no_main]

use keyfleet_authenticator::cbor::Params;
use libfuzzer_sys::fuzz_target;

#[path = "harness.rs"]
mod harness;

fn message(p: &Params) -> Option<Vec<u8>> {
    let modality = u8::try_from(p.get(0x01)?.as_uint().ok()?).ok()?;
    let sub = u8::try_from(p.get(0x02)?.as_uint().ok()?).ok()?;
    Some([&[modality, sub][..], p.raw(0x03).unwrap_or_default()].concat())
}

const AUTH: harness::Auth = harness::Auth {
    param_key: 0x05,
    protocol_key: 0x04,
    message,
};

fuzz_target!(|data: &[u8]| harness::run(0x09, &AUTH, data));
