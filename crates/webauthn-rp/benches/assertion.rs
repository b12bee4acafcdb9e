//! Full `verify_authentication` of an ES256 assertion vs a bare p256 `VerifyingKey::verify`
//! of the same signed data, in one process. Target: full ≤ 1.25 × bare.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyfleet_webauthn_rp::{
    AssertionExpectations, AuthenticationResponseJSON, AuthenticatorAssertionResponseJSON, Base64UrlBytes,
    CounterPolicy, CredentialPublicKey, CrossOriginPolicy, StoredCredential, UserIdentification, verify_authentication,
};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey};
use sha2::{Digest, Sha256};

const RP_ID: &str = "example.com";
const ORIGINS: &[&str] = &["https://example.com"];
const CHALLENGE: &[u8] = b"0123456789abcdef0123456789abcdef";
const CREDENTIAL_ID: &[u8] = b"keyfleet-bench-credential";
const USER_HANDLE: &[u8] = b"user-42";

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    [vec![0x58, b.len() as u8], b.to_vec()].concat()
}

fn setup() -> (
    SigningKey,
    CredentialPublicKey,
    AuthenticationResponseJSON,
    Vec<u8>,
    Vec<u8>,
) {
    let key = SigningKey::from_slice(&Sha256::digest(b"keyfleet bench key")).expect("scalar");
    let point = key.verifying_key().to_encoded_point(false);
    // {1: 2, 3: -7, -1: 1, -2: x, -3: y}
    let cose = [
        vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21],
        cbor_bytes(point.x().expect("x")),
        vec![0x22],
        cbor_bytes(point.y().expect("y")),
    ]
    .concat();
    let stored = CredentialPublicKey::from_cose(&cose).expect("COSE key");
    let client_data = format!(
        r#"{{"type":"webauthn.get","challenge":"{}","origin":"https://example.com","crossOrigin":false}}"#,
        Base64UrlBytes::encode(CHALLENGE)
    )
    .into_bytes();
    let mut auth_data = Sha256::digest(RP_ID.as_bytes()).to_vec();
    auth_data.push(0x05); // UP | UV
    auth_data.extend_from_slice(&42u32.to_be_bytes());
    let message = [auth_data.as_slice(), &Sha256::digest(&client_data)].concat();
    let signature: DerSignature = key.sign(&message);
    let response = AuthenticationResponseJSON {
        id: Base64UrlBytes::encode(CREDENTIAL_ID),
        raw_id: Base64UrlBytes(CREDENTIAL_ID.to_vec()),
        response: AuthenticatorAssertionResponseJSON {
            client_data_json: Base64UrlBytes(client_data),
            authenticator_data: Base64UrlBytes(auth_data),
            signature: Base64UrlBytes(signature.as_bytes().to_vec()),
            user_handle: Some(Base64UrlBytes(USER_HANDLE.to_vec())),
        },
        authenticator_attachment: None,
        client_extension_results: serde_json::json!({}),
        type_: "public-key".into(),
    };
    (key, stored, response, message, signature.as_bytes().to_vec())
}

fn bench(c: &mut Criterion) {
    let (key, stored, response, message, der) = setup();
    let expectations = AssertionExpectations {
        challenge: CHALLENGE,
        origins: ORIGINS,
        cross_origin: CrossOriginPolicy::Deny,
        rp_id: RP_ID,
        user_verification_required: true,
        allow_credentials: &[],
        user: UserIdentification::Usernameless,
        credential: StoredCredential {
            id: CREDENTIAL_ID,
            public_key: &stored,
            sign_count: 41,
            backup_eligible: Some(false),
            user_handle: USER_HANDLE,
        },
        requested_extensions: None,
        counter_policy: CounterPolicy::Reject,
    };
    verify_authentication(&expectations, &response).expect("the bench assertion verifies");

    let verifying_key = *key.verifying_key();
    let signature = Signature::from_der(&der).expect("DER");
    verifying_key.verify(&message, &signature).expect("bare verify");

    let mut group = c.benchmark_group("es256_assertion");
    group.bench_function("full_verify_authentication", |b| {
        b.iter(|| verify_authentication(black_box(&expectations), black_box(&response)).expect("valid"))
    });
    group.bench_function("bare_p256_verify", |b| {
        b.iter(|| {
            black_box(&verifying_key)
                .verify(black_box(&message), black_box(&signature))
                .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
