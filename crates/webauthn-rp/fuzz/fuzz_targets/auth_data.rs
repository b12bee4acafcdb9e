//! Authenticator data: flags, attested credential data, extensions, trailing bytes.
#![no_main]

use keyfleet_webauthn_rp::AuthenticatorData;
use keyfleet_webauthn_rp::auth_data::extension_ids;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = AuthenticatorData::parse(data) {
        // Every byte is accounted for: the flags decide what follows the 37-byte header.
        assert_eq!(parsed.attested_credential_data.is_some(), parsed.flags.attested_credential_data);
        assert_eq!(parsed.extensions.is_some(), parsed.flags.extension_data);
        if let Some(ext) = parsed.extensions {
            let _ = extension_ids(ext);
        }
    }
});
