//! authenticatorConfig (0x0D, CTAP 2.1 §6.11) sessions: enableEnterpriseAttestation,
//! toggleAlwaysUv, setMinPINLength; requests signed by the harness as 32×0xff ‖ 0x0d ‖
//! uint8(subCommand) ‖ subCommandParams. See `harness.rs`.
#![no_main]

use keyfleet_authenticator::cbor::Params;
use libfuzzer_sys::fuzz_target;

#[path = "harness.rs"]
mod harness;

fn message(p: &Params) -> Option<Vec<u8>> {
    let sub = u8::try_from(p.get(0x01)?.as_uint().ok()?).ok()?;
    Some([&[0xffu8; 32][..], &[0x0d, sub], p.raw(0x02).unwrap_or_default()].concat())
}

const AUTH: harness::Auth = harness::Auth {
    param_key: 0x04,
    protocol_key: 0x03,
    message,
};

fuzz_target!(|data: &[u8]| harness::run(0x0D, &AUTH, data));
