//! Test helpers: a tiny CBOR encoder and a software ES256 authenticator that makes valid
//! packed-self registrations and assertions, so each negative test breaks exactly one thing.
//! The key is derived from fixed bytes: every run produces the same credential.

use std::time::{Duration, SystemTime};

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use sha2::{Digest, Sha256};

use crate::authentication::{AssertionExpectations, CounterPolicy, StoredCredential, UserIdentification};
use crate::client_data::CrossOriginPolicy;
use crate::cose::{CoseAlgorithm, CredentialPublicKey};
use crate::json::{
    AuthenticationResponseJSON, AuthenticatorAssertionResponseJSON, AuthenticatorAttestationResponseJSON,
    Base64UrlBytes, RegistrationResponseJSON,
};
use crate::registration::{AttestationPolicy, RegistrationExpectations};

pub const RP_ID: &str = "example.com";
pub const ORIGIN: &str = "https://example.com";
pub const ORIGINS: &[&str] = &[ORIGIN];
pub const CHALLENGE: &[u8] = b"0123456789abcdef0123456789abcdef";
pub const CREDENTIAL_ID: &[u8] = b"keyfleet-test-credential-0001";
pub const USER_HANDLE: &[u8] = b"user-42";
pub const AAGUID: [u8; 16] = *b"keyfleet-aaguid!";
pub const ES256_ONLY: &[CoseAlgorithm] = &[CoseAlgorithm::Es256];

/// 2025-01-01T00:00:00Z.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

// ---- CBOR encoding (definite lengths, shortest form) ----

pub fn head(major: u8, n: u64) -> Vec<u8> {
    let m = major << 5;
    match n {
        0..=23 => vec![m | n as u8],
        24..=0xff => vec![m | 24, n as u8],
        0x100..=0xffff => [vec![m | 25], (n as u16).to_be_bytes().to_vec()].concat(),
        0x1_0000..=0xffff_ffff => [vec![m | 26], (n as u32).to_be_bytes().to_vec()].concat(),
        _ => [vec![m | 27], n.to_be_bytes().to_vec()].concat(),
    }
}
pub fn int(i: i64) -> Vec<u8> {
    if i >= 0 {
        head(0, i as u64)
    } else {
        head(1, (-1 - i) as u64)
    }
}
pub fn bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len() as u64), b.to_vec()].concat()
}
pub fn text(s: &str) -> Vec<u8> {
    [head(3, s.len() as u64), s.as_bytes().to_vec()].concat()
}
pub fn array(items: &[Vec<u8>]) -> Vec<u8> {
    [head(4, items.len() as u64), items.concat()].concat()
}
pub fn map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = head(5, entries.len() as u64);
    for (k, v) in entries {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out
}

// ---- the software authenticator ----

pub fn signing_key() -> SigningKey {
    SigningKey::from_slice(&Sha256::digest(b"keyfleet webauthn-rp test key")).expect("valid scalar")
}

/// The credential's COSE_Key (EC2, ES256, P-256).
pub fn cose_es256(key: &SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_encoded_point(false);
    map(&[
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), bytes(point.x().expect("x"))),
        (int(-3), bytes(point.y().expect("y"))),
    ])
}

pub fn stored_key() -> CredentialPublicKey {
    CredentialPublicKey::from_cose(&cose_es256(&signing_key())).expect("valid COSE key")
}

pub fn client_data(type_: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"{type_}","challenge":"{}","origin":"{origin}","crossOrigin":false}}"#,
        Base64UrlBytes::encode(challenge)
    )
    .into_bytes()
}

pub fn sign(key: &SigningKey, parts: &[&[u8]]) -> Vec<u8> {
    let sig: DerSignature = key.sign(&parts.concat());
    sig.as_bytes().to_vec()
}

/// Everything that goes into a registration; tests change one field and call [`Self::build`].
#[derive(Clone)]
pub struct Registration {
    pub client_data: Vec<u8>,
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub aaguid: [u8; 16],
    pub credential_id: Vec<u8>,
    pub cose_key: Vec<u8>,
    pub extensions: Option<Vec<u8>>,
    pub fmt: String,
    /// `None`: a packed self attestation statement signed over the final data.
    pub att_stmt: Option<Vec<u8>>,
}

impl Default for Registration {
    fn default() -> Self {
        Self {
            client_data: client_data("webauthn.create", CHALLENGE, ORIGIN),
            rp_id_hash: Sha256::digest(RP_ID.as_bytes()).into(),
            flags: crate::auth_data::FLAG_UP | crate::auth_data::FLAG_UV | crate::auth_data::FLAG_AT,
            sign_count: 0,
            aaguid: AAGUID,
            credential_id: CREDENTIAL_ID.to_vec(),
            cose_key: cose_es256(&signing_key()),
            extensions: None,
            fmt: "packed".into(),
            att_stmt: None,
        }
    }
}

impl Registration {
    pub fn auth_data(&self) -> Vec<u8> {
        let mut out = self.rp_id_hash.to_vec();
        out.push(self.flags);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        out.extend_from_slice(&self.aaguid);
        out.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.credential_id);
        out.extend_from_slice(&self.cose_key);
        if let Some(ext) = &self.extensions {
            out.extend_from_slice(ext);
        }
        out
    }

    pub fn att_stmt(&self, auth_data: &[u8]) -> Vec<u8> {
        self.att_stmt.clone().unwrap_or_else(|| {
            let client_data_hash = Sha256::digest(&self.client_data);
            let sig = sign(&signing_key(), &[auth_data, &client_data_hash]);
            map(&[(text("alg"), int(-7)), (text("sig"), bytes(&sig))])
        })
    }

    pub fn attestation_object(&self) -> Vec<u8> {
        let auth_data = self.auth_data();
        let att_stmt = self.att_stmt(&auth_data);
        map(&[
            (text("fmt"), text(&self.fmt)),
            (text("attStmt"), att_stmt),
            (text("authData"), bytes(&auth_data)),
        ])
    }

    pub fn build(&self) -> RegistrationResponseJSON {
        response_with(&self.credential_id, self.client_data.clone(), self.attestation_object())
    }
}

pub fn response_with(raw_id: &[u8], client_data: Vec<u8>, attestation_object: Vec<u8>) -> RegistrationResponseJSON {
    RegistrationResponseJSON {
        id: Base64UrlBytes::encode(raw_id),
        raw_id: Base64UrlBytes(raw_id.to_vec()),
        response: AuthenticatorAttestationResponseJSON {
            client_data_json: Base64UrlBytes(client_data),
            attestation_object: Base64UrlBytes(attestation_object),
            transports: vec!["usb".into()],
            authenticator_data: None,
            public_key: None,
            public_key_algorithm: None,
        },
        authenticator_attachment: None,
        client_extension_results: serde_json::json!({}),
        type_: "public-key".into(),
    }
}

pub fn registration_expectations() -> RegistrationExpectations<'static> {
    RegistrationExpectations {
        challenge: CHALLENGE,
        origins: ORIGINS,
        cross_origin: CrossOriginPolicy::Deny,
        rp_id: RP_ID,
        allowed_algs: ES256_ONLY,
        user_verification_required: true,
        user_presence_required: true,
        requested_extensions: None,
        attestation: AttestationPolicy::StatementOnly,
        now: now(),
    }
}

/// Everything that goes into an assertion; tests change one field and call [`Self::build`].
#[derive(Clone)]
pub struct Assertion {
    pub client_data: Vec<u8>,
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub extensions: Option<Vec<u8>>,
    pub credential_id: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
    /// `None`: sign the final data with the test key.
    pub signature: Option<Vec<u8>>,
}

impl Default for Assertion {
    fn default() -> Self {
        Self {
            client_data: client_data("webauthn.get", CHALLENGE, ORIGIN),
            rp_id_hash: Sha256::digest(RP_ID.as_bytes()).into(),
            flags: crate::auth_data::FLAG_UP | crate::auth_data::FLAG_UV,
            sign_count: 42,
            extensions: None,
            credential_id: CREDENTIAL_ID.to_vec(),
            user_handle: Some(USER_HANDLE.to_vec()),
            signature: None,
        }
    }
}

impl Assertion {
    pub fn auth_data(&self) -> Vec<u8> {
        let mut out = self.rp_id_hash.to_vec();
        out.push(self.flags);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        if let Some(ext) = &self.extensions {
            out.extend_from_slice(ext);
        }
        out
    }

    pub fn build(&self) -> AuthenticationResponseJSON {
        let auth_data = self.auth_data();
        let signature = self
            .signature
            .clone()
            .unwrap_or_else(|| sign(&signing_key(), &[&auth_data, &Sha256::digest(&self.client_data)]));
        AuthenticationResponseJSON {
            id: Base64UrlBytes::encode(&self.credential_id),
            raw_id: Base64UrlBytes(self.credential_id.clone()),
            response: AuthenticatorAssertionResponseJSON {
                client_data_json: Base64UrlBytes(self.client_data.clone()),
                authenticator_data: Base64UrlBytes(auth_data),
                signature: Base64UrlBytes(signature),
                user_handle: self.user_handle.clone().map(Base64UrlBytes),
            },
            authenticator_attachment: None,
            client_extension_results: serde_json::json!({}),
            type_: "public-key".into(),
        }
    }
}

pub fn assertion_expectations(key: &CredentialPublicKey) -> AssertionExpectations<'_> {
    AssertionExpectations {
        challenge: CHALLENGE,
        origins: ORIGINS,
        cross_origin: CrossOriginPolicy::Deny,
        rp_id: RP_ID,
        user_verification_required: true,
        allow_credentials: &[],
        user: UserIdentification::Usernameless,
        credential: StoredCredential {
            id: CREDENTIAL_ID,
            public_key: key,
            sign_count: 41,
            backup_eligible: Some(false),
            user_handle: USER_HANDLE,
        },
        requested_extensions: None,
        counter_policy: CounterPolicy::Reject,
    }
}

/// Re-encodes a decoded CBOR value (shortest form), for mutating captured attestation objects.
pub fn encode(value: &crate::cbor::Value<'_>) -> Vec<u8> {
    use crate::cbor::Value;
    match value {
        Value::Integer(i) if *i >= 0 => head(0, *i as u64),
        Value::Integer(i) => head(1, (-1 - *i) as u64),
        Value::Bytes(b) => bytes(b),
        Value::Text(t) => text(t),
        Value::Array(items) => array(&items.iter().map(encode).collect::<Vec<_>>()),
        Value::Map(entries) => map(&entries.iter().map(|(k, v)| (encode(k), encode(v))).collect::<Vec<_>>()),
        Value::Bool(false) => vec![0xf4],
        Value::Bool(true) => vec![0xf5],
        Value::Null => vec![0xf6],
        Value::Undefined => vec![0xf7],
        Value::Simple(v) if *v < 24 => vec![0xe0 | v],
        Value::Simple(v) => vec![0xf8, *v],
        Value::Float(f) => [vec![0xfb], f.to_bits().to_be_bytes().to_vec()].concat(),
    }
}
