//! COSE keys: structure, algorithm/key-type agreement, point and RSA validation; then a
//! signature check with whatever key parsed.
#![no_main]

use keyfleet_webauthn_rp::CredentialPublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte says where the key ends; the rest is a signature to check.
    let Some((&split, rest)) = data.split_first() else { return };
    let split = usize::from(split).min(rest.len());
    let (cose, signature) = rest.split_at(rest.len() - split);
    if let Ok(key) = CredentialPublicKey::from_cose(cose) {
        let _ = key.verify(&[b"message"], signature);
    }
});
