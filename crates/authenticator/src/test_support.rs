//! Test helpers: a fixture around an [`Authenticator`] and the platform side of PIN/UV auth
//! protocol two, so tests can drive PIN flows the way python-fido2 does.

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};

use crate::cbor::{self, Value};
use crate::pin_protocol::{KeyAgreementKey, Protocol, SharedSecret};
use crate::status::Status;
use crate::{AttestationMaterial, Authenticator, Env, State, TestEnv, crypto, model_by_name};

/// The batch attestation scalar used by every fixture.
pub const ATTESTATION_KEY: [u8; 32] = [0x42; 32];
/// The fixtures' batch certificate: a real X.509 certificate for [`ATTESTATION_KEY`] (self-signed,
/// subject `CN=Test Batch,OU=Authenticator Attestation,O=keyfleet,C=DE`), made once, so that
/// enterprise attestation can issue under it.
pub fn batch_cert() -> &'static [u8] {
    use std::str::FromStr;
    use std::sync::OnceLock;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    static CERT: OnceLock<Vec<u8>> = OnceLock::new();
    CERT.get_or_init(|| {
        use der::Encode;
        let key = p256::ecdsa::SigningKey::from_slice(&ATTESTATION_KEY).unwrap();
        let name =
            x509_cert::name::Name::from_str("CN=Test Batch,OU=Authenticator Attestation,O=keyfleet,C=DE").unwrap();
        let validity = x509_cert::time::Validity {
            not_before: x509_cert::time::Time::UtcTime(
                der::asn1::UtcTime::from_unix_duration(std::time::Duration::from_secs(1_700_000_000)).unwrap(),
            ),
            not_after: x509_cert::time::Time::UtcTime(
                der::asn1::UtcTime::from_unix_duration(std::time::Duration::from_secs(2_000_000_000)).unwrap(),
            ),
        };
        let spki = spki::SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).unwrap();
        let serial = x509_cert::serial_number::SerialNumber::new(&[1]).unwrap();
        let builder = CertificateBuilder::new(Profile::Root, serial, validity, name, spki, &key).unwrap();
        builder.build::<p256::ecdsa::DerSignature>().unwrap().to_der().unwrap()
    })
}
/// The rp.id most tests use.
pub const RP: &str = "example.com";
/// A client data hash.
pub const CDH: [u8; 32] = [0xcd; 32];

/// An authenticator, powered on, with a deterministic environment.
pub struct Fixture {
    pub auth: Authenticator,
    pub env: TestEnv,
}

impl Fixture {
    /// A factory-new `nfc-key`.
    pub fn new() -> Fixture {
        Fixture::model("nfc-key")
    }

    /// A factory-new device of the named model.
    pub fn model(name: &str) -> Fixture {
        let mut env = TestEnv::new(7);
        let attestation = AttestationMaterial {
            private_key: ATTESTATION_KEY.into(),
            cert_chain_der: vec![batch_cert().to_vec()],
            serial_number: "KF-TEST-1".into(),
        };
        let model = model_by_name(name).unwrap();
        let state = State::factory_new(model, attestation, env.rng());
        let mut auth = Authenticator::new(state);
        auth.power_on(&mut env);
        Fixture { auth, env }
    }

    /// Sends raw request bytes.
    pub fn raw(&mut self, request: &[u8]) -> Vec<u8> {
        self.auth.ctap2(&mut self.env, request)
    }

    /// Sends a command with integer-keyed parameters and decodes the answer.
    pub fn call(&mut self, command: u8, params: Vec<(i128, Value)>) -> Result<Value, Status> {
        let mut request = vec![command];
        if !params.is_empty() {
            request.extend(cbor::encode(&Value::int_map(params)));
        }
        decode_response(&self.raw(&request))
    }

    /// Power cycle (NFC field off and on).
    pub fn power_cycle(&mut self) {
        self.auth.power_off();
        self.auth.power_on(&mut self.env);
    }

    /// The platform side of key agreement: getKeyAgreement, then our own key pair.
    pub fn platform(&mut self) -> Platform {
        self.platform_with(Protocol::Two)
    }

    /// The platform side of key agreement for the given PIN/UV auth protocol.
    pub fn platform_with(&mut self, protocol: Protocol) -> Platform {
        let number = Value::Int(protocol.number().into());
        let info = self.call(0x06, vec![(1, number), (2, Value::Int(2))]).unwrap();
        let auth_key = info.get_int_key(1).unwrap().clone();
        let mine = KeyAgreementKey::generate(self.env.rng());
        let shared = mine.decapsulate_with(protocol, &auth_key).unwrap();
        Platform {
            cose: mine.public_cose(),
            shared,
        }
    }

    /// getPinUvAuthTokenUsingPinWithPermissions (0x09) over the given protocol.
    pub fn pin_token_with(
        &mut self,
        protocol: Protocol,
        pin: &str,
        permissions: u8,
        rp_id: Option<&str>,
    ) -> Result<[u8; 32], Status> {
        let p = self.platform_with(protocol);
        let pin_hash_enc = p.shared.encrypt(self.env.rng(), &pin_hash(pin));
        let mut params = vec![
            (1, Value::Int(protocol.number().into())),
            (2, Value::Int(9)),
            (3, p.cose.clone()),
            (6, Value::Bytes(pin_hash_enc)),
            (9, Value::Int(permissions.into())),
        ];
        if let Some(rp) = rp_id {
            params.push((0x0A, Value::text(rp)));
        }
        let resp = self.call(0x06, params)?;
        Ok(p.open_token(&resp))
    }

    /// setPIN as a platform would.
    pub fn set_pin(&mut self, pin: &str) -> Result<(), Status> {
        let p = self.platform();
        let new_pin_enc = p.shared.encrypt(self.env.rng(), &pad_pin(pin));
        let param = p.shared.authenticate(&new_pin_enc);
        self.call(
            0x06,
            vec![
                (1, Value::Int(2)),
                (2, Value::Int(3)),
                (3, p.cose.clone()),
                (4, Value::bytes(&param)),
                (5, Value::Bytes(new_pin_enc)),
            ],
        )
        .map(|_| ())
    }

    /// changePIN as a platform would.
    pub fn change_pin(&mut self, old: &str, new: &str) -> Result<(), Status> {
        let p = self.platform();
        let pin_hash_enc = p.shared.encrypt(self.env.rng(), &pin_hash(old));
        let new_pin_enc = p.shared.encrypt(self.env.rng(), &pad_pin(new));
        let param = p.shared.authenticate(&[new_pin_enc.as_slice(), &pin_hash_enc].concat());
        self.call(
            0x06,
            vec![
                (1, Value::Int(2)),
                (2, Value::Int(4)),
                (3, p.cose.clone()),
                (4, Value::bytes(&param)),
                (5, Value::Bytes(new_pin_enc)),
                (6, Value::Bytes(pin_hash_enc)),
            ],
        )
        .map(|_| ())
    }

    /// getPinUvAuthTokenUsingPinWithPermissions (0x09); returns the decrypted token.
    pub fn pin_token(&mut self, pin: &str, permissions: u8, rp_id: Option<&str>) -> Result<[u8; 32], Status> {
        let p = self.platform();
        let pin_hash_enc = p.shared.encrypt(self.env.rng(), &pin_hash(pin));
        let mut params = vec![
            (1, Value::Int(2)),
            (2, Value::Int(9)),
            (3, p.cose.clone()),
            (6, Value::Bytes(pin_hash_enc)),
            (9, Value::Int(permissions.into())),
        ];
        if let Some(rp) = rp_id {
            params.push((0x0A, Value::text(rp)));
        }
        let resp = self.call(0x06, params)?;
        Ok(p.open_token(&resp))
    }

    /// getPinToken (0x05); returns the decrypted token.
    pub fn legacy_pin_token(&mut self, pin: &str) -> Result<[u8; 32], Status> {
        let p = self.platform();
        let pin_hash_enc = p.shared.encrypt(self.env.rng(), &pin_hash(pin));
        let resp = self.call(
            0x06,
            vec![
                (1, Value::Int(2)),
                (2, Value::Int(5)),
                (3, p.cose.clone()),
                (6, Value::Bytes(pin_hash_enc)),
            ],
        )?;
        Ok(p.open_token(&resp))
    }

    /// getPinUvAuthTokenUsingUvWithPermissions (0x06); returns the decrypted token.
    pub fn uv_token(&mut self, permissions: u8, rp_id: Option<&str>) -> Result<[u8; 32], Status> {
        let p = self.platform();
        let mut params = vec![
            (1, Value::Int(2)),
            (2, Value::Int(6)),
            (3, p.cose.clone()),
            (9, Value::Int(permissions.into())),
        ];
        if let Some(rp) = rp_id {
            params.push((0x0A, Value::text(rp)));
        }
        let resp = self.call(0x06, params)?;
        Ok(p.open_token(&resp))
    }

    /// getPINRetries: (pinRetries, powerCycleState).
    pub fn pin_retries(&mut self) -> (i128, bool) {
        let r = self.call(0x06, vec![(1, Value::Int(2)), (2, Value::Int(1))]).unwrap();
        (
            r.get_int_key(3).unwrap().as_int().unwrap(),
            r.get_int_key(4).unwrap().as_bool().unwrap(),
        )
    }

    /// makeCredential for `rp` with user handle `user`; `token` adds pinUvAuthParam.
    pub fn make_credential(
        &mut self,
        rp: &str,
        user: &[u8],
        rk: bool,
        token: Option<&[u8; 32]>,
        extra: Vec<(i128, Value)>,
    ) -> Result<Value, Status> {
        let mut params = vec![
            (1, Value::bytes(&CDH)),
            (
                2,
                Value::text_map(vec![("id", Value::text(rp)), ("name", Value::text("Example"))]),
            ),
            (
                3,
                Value::text_map(vec![
                    ("id", Value::bytes(user)),
                    ("name", Value::text("alice@example.com")),
                    ("displayName", Value::text("Alice")),
                ]),
            ),
            (4, Value::Array(vec![es256_param()])),
        ];
        if rk {
            params.push((7, Value::text_map(vec![("rk", Value::Bool(true))])));
        }
        if let Some(t) = token {
            params.push((8, Value::bytes(&auth_param(t, &CDH))));
            params.push((9, Value::Int(2)));
        }
        for (k, v) in extra {
            params.retain(|(key, _)| *key != k);
            params.push((k, v));
        }
        self.call(0x01, params)
    }

    /// getAssertion for `rp`, optionally with an allowList and a token.
    pub fn get_assertion(
        &mut self,
        rp: &str,
        allow: Option<&[Vec<u8>]>,
        token: Option<&[u8; 32]>,
        extra: Vec<(i128, Value)>,
    ) -> Result<Value, Status> {
        let mut params = vec![(1, Value::text(rp)), (2, Value::bytes(&CDH))];
        if let Some(list) = allow {
            params.push((3, Value::Array(list.iter().map(|id| descriptor(id)).collect())));
        }
        if let Some(t) = token {
            params.push((6, Value::bytes(&auth_param(t, &CDH))));
            params.push((7, Value::Int(2)));
        }
        for (k, v) in extra {
            params.retain(|(key, _)| *key != k);
            params.push((k, v));
        }
        self.call(0x02, params)
    }

    /// The persistent state's bytes (to check that failures change nothing).
    pub fn state_bytes(&self) -> Vec<u8> {
        self.auth.state().to_bytes()
    }
}

/// The platform's half of a key agreement.
pub struct Platform {
    pub cose: Value,
    pub shared: SharedSecret,
}

impl Platform {
    fn open_token(&self, resp: &Value) -> [u8; 32] {
        let enc = resp.get_int_key(2).unwrap().as_bytes().unwrap();
        self.shared.decrypt(enc).unwrap().as_slice().try_into().unwrap()
    }
}

/// Decodes `status ‖ CBOR`.
pub fn decode_response(resp: &[u8]) -> Result<Value, Status> {
    match resp.split_first() {
        Some((0, [])) => Ok(Value::Null),
        Some((0, body)) => Ok(cbor::decode(body, 8).expect("response CBOR")),
        Some((s, rest)) => {
            assert!(rest.is_empty(), "an error carries no body");
            Err(Status::try_from(*s).expect("known status"))
        }
        None => panic!("empty response"),
    }
}

/// The PIN padded to 64 bytes.
pub fn pad_pin(pin: &str) -> Vec<u8> {
    let mut out = pin.as_bytes().to_vec();
    out.resize(64, 0);
    out
}

/// LEFT(SHA-256(pin), 16).
pub fn pin_hash(pin: &str) -> Vec<u8> {
    crypto::sha256(pin.as_bytes())[..16].to_vec()
}

/// authenticate(pinUvAuthToken, message).
pub fn auth_param(token: &[u8; 32], message: &[u8]) -> Vec<u8> {
    crypto::hmac_sha256(token, &[message]).to_vec()
}

/// {alg: -7, type: "public-key"}.
pub fn es256_param() -> Value {
    Value::text_map(vec![("alg", Value::Int(-7)), ("type", Value::text("public-key"))])
}

/// A public-key credential descriptor.
pub fn descriptor(id: &[u8]) -> Value {
    Value::text_map(vec![("id", Value::bytes(id)), ("type", Value::text("public-key"))])
}

/// Parsed authenticator data.
#[derive(Debug)]
pub struct AuthData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub aaguid: Option<[u8; 16]>,
    pub credential_id: Option<Vec<u8>>,
    /// The P-256 public point, for an ES256 credential.
    pub public_key: Option<[u8; 65]>,
    /// The credential's COSE_Key, whatever its algorithm.
    pub cose_key: Option<Value>,
    pub extensions: Option<Value>,
}

/// Parses authenticator data (WebAuthn §6.1) with a small CBOR item splitter.
pub fn parse_auth_data(data: &[u8]) -> AuthData {
    let mut out = AuthData {
        rp_id_hash: data[..32].try_into().unwrap(),
        flags: data[32],
        sign_count: u32::from_be_bytes(data[33..37].try_into().unwrap()),
        aaguid: None,
        credential_id: None,
        public_key: None,
        cose_key: None,
        extensions: None,
    };
    let mut rest = &data[37..];
    if out.flags & 0x40 != 0 {
        out.aaguid = Some(rest[..16].try_into().unwrap());
        let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        out.credential_id = Some(rest[18..18 + len].to_vec());
        rest = &rest[18 + len..];
        let (cose, used) = first_item(rest);
        if cose.get_int_key(3) == Some(&Value::Int(-7)) {
            let x = cose.get_int_key(-2).unwrap().as_bytes().unwrap();
            let y = cose.get_int_key(-3).unwrap().as_bytes().unwrap();
            out.public_key = Some([&[4u8][..], x, y].concat().try_into().unwrap());
        }
        out.cose_key = Some(cose);
        rest = &rest[used..];
    }
    if out.flags & 0x80 != 0 {
        out.extensions = Some(cbor::decode(rest, 4).unwrap());
    } else {
        assert!(rest.is_empty());
    }
    out
}

/// Decodes the first CBOR item of `bytes`, returning it and its length.
fn first_item(bytes: &[u8]) -> (Value, usize) {
    (1..=bytes.len())
        .find_map(|n| cbor::decode(&bytes[..n], 4).ok().map(|v| (v, n)))
        .unwrap()
}

/// Verifies an ES256 DER signature.
pub fn verify_es256(public_key: &[u8; 65], message: &[u8], der: &[u8]) -> bool {
    let key = VerifyingKey::from_sec1_bytes(public_key).unwrap();
    let sig = Signature::from_der(der).unwrap();
    key.verify(message, &sig).is_ok()
}

/// The attestation public key of every fixture.
pub fn attestation_public_key() -> [u8; 65] {
    crypto::public_point(&ATTESTATION_KEY).unwrap()
}
