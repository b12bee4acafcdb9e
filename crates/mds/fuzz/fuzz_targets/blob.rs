//! A metadata BLOB from anywhere: JWS splitting and decoding, the header, x5c parsing and
//! chain verification, CRL parsing, the payload JSON. Any input must give a verdict, never a
//! panic. The test root and CRLs of `tests/data` make inputs built from the test BLOBs reach
//! the payload.
#![no_main]

use std::time::{Duration, SystemTime};

use keyfleet_mds::{Revocation, Verifier, verify};
use keyfleet_webauthn_rp::x509::TrustAnchor;
use libfuzzer_sys::fuzz_target;

const TEST_ROOT: &[u8] = include_bytes!("../../tests/data/test-root.der");
const CRLS: [&[u8]; 2] = [
    include_bytes!("../../tests/data/crl-root.der"),
    include_bytes!("../../tests/data/crl-ca.der"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(root) = TrustAnchor::from_der(TEST_ROOT) else { return };
    let roots = [root, keyfleet_mds::globalsign_root_r3()];
    let crls: Vec<Vec<u8>> = CRLS.iter().map(|c| c.to_vec()).collect();
    // 2027-01-15T12:00:00Z, the test BLOBs' pinned time.
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_014_400);
    for revocation in [Revocation::Crls(&crls), Revocation::Offline] {
        let verifier = Verifier {
            roots: &roots,
            at,
            revocation,
            blob_url: Some("https://mds.test.keyfleet.invalid/blob.jwt"),
        };
        if let Ok(blob) = verify(data, &verifier) {
            for entry in &blob.entries {
                let _ = (entry.latest_status(), entry.certification_level(), entry.is_compromised());
            }
        }
    }
});
