//! authenticatorLargeBlobs (0x0C, CTAP 2.1 §6.10) sessions: reads and fragmented writes, signed
//! by the harness as 32×0xff ‖ 0x0c 0x00 ‖ uint32LE(offset) ‖ SHA-256(set). See `harness.rs`.
#![no_main]

use keyfleet_authenticator::cbor::Params;
use keyfleet_authenticator::crypto;
use libfuzzer_sys::fuzz_target;

#[path = "harness.rs"]
mod harness;

fn message(p: &Params) -> Option<Vec<u8>> {
    let set = p.get(0x02)?.as_bytes().ok()?;
    let offset = u32::try_from(p.get(0x03)?.as_uint().ok()?).ok()?;
    Some(
        [
            &[0xffu8; 32][..],
            &[0x0c, 0x00],
            &offset.to_le_bytes(),
            &crypto::sha256(set),
        ]
        .concat(),
    )
}

const AUTH: harness::Auth = harness::Auth {
    param_key: 0x05,
    protocol_key: 0x06,
    message,
};

fuzz_target!(|data: &[u8]| harness::run(0x0C, &AUTH, data));
