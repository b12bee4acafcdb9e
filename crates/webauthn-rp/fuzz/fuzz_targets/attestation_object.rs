//! Attestation objects: CBOR structure, authenticator data, the credential key, and every
//! attestation statement format's verification procedure (certificates included).
#![no_main]

use std::time::{Duration, SystemTime};

use keyfleet_webauthn_rp::attestation::{self, AttestationFormat, StatementInput};
use keyfleet_webauthn_rp::registration::AttestationObject;
use keyfleet_webauthn_rp::{AuthenticatorData, CredentialPublicKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(object) = AttestationObject::parse(data) else { return };
    let Ok(auth_data) = AuthenticatorData::parse(object.auth_data) else { return };
    let Some(attested) = auth_data.attested_credential_data.as_ref() else { return };
    let Ok(key) = CredentialPublicKey::from_cose(attested.credential_public_key) else { return };
    let Some(format) = AttestationFormat::from_fmt(object.fmt) else { return };
    let input = StatementInput {
        att_stmt: &object.att_stmt,
        auth_data: &auth_data,
        client_data_hash: &[0x5a; 32],
        credential_key: &key,
        aaguid: attested.aaguid,
        now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600),
    };
    let _ = attestation::verify_statement(format, &input);
});
