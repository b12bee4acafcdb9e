//! End-to-end through the public API only, the way the NFC transport drives the engine:
//! power on, raw `command ‖ CBOR` requests, a PIN set by the platform side of protocol two, a
//! discoverable credential, an assertion, and a key-file round trip.

use keyfleet_authenticator::cbor::{self, Value};
use keyfleet_authenticator::pin_protocol::KeyAgreementKey;
use keyfleet_authenticator::{AttestationMaterial, Authenticator, Env, State, TestEnv, crypto, models};

fn call(a: &mut Authenticator, env: &mut TestEnv, cmd: u8, params: Vec<(i128, Value)>) -> Value {
    let mut req = vec![cmd];
    if !params.is_empty() {
        req.extend(cbor::encode(&Value::int_map(params)));
    }
    let resp = a.ctap2(env, &req);
    assert_eq!(resp[0], 0, "command {cmd:#04x} failed with {:#04x}", resp[0]);
    if resp.len() == 1 {
        Value::Null
    } else {
        cbor::decode(&resp[1..], 8).unwrap()
    }
}

fn platform(a: &mut Authenticator, env: &mut TestEnv) -> (Value, keyfleet_authenticator::pin_protocol::SharedSecret) {
    let ka = call(a, env, 0x06, vec![(1, Value::Int(2)), (2, Value::Int(2))]);
    let mine = KeyAgreementKey::generate(env.rng());
    let shared = mine.decapsulate(ka.get_int_key(1).unwrap()).unwrap();
    (mine.public_cose(), shared)
}

#[test]
fn register_sign_in_and_reload() {
    let mut env = TestEnv::new(99);
    let attestation = AttestationMaterial {
        private_key: [9u8; 32].into(),
        cert_chain_der: vec![vec![0x30, 0x00]],
        serial_number: "S".into(),
    };
    let state = State::factory_new(&models()[1], attestation, env.rng());
    let mut key = Authenticator::new(state);
    key.power_on(&mut env);
    assert!(key.u2f_enabled());

    // setPIN "2468".
    let (cose, shared) = platform(&mut key, &mut env);
    let mut padded = b"2468".to_vec();
    padded.resize(64, 0);
    let new_pin_enc = shared.encrypt(env.rng(), &padded);
    let param = shared.authenticate(&new_pin_enc);
    call(
        &mut key,
        &mut env,
        0x06,
        vec![
            (1, Value::Int(2)),
            (2, Value::Int(3)),
            (3, cose),
            (4, Value::bytes(&param)),
            (5, Value::Bytes(new_pin_enc)),
        ],
    );
    assert!(key.take_dirty());

    // A token with mc|ga for example.org.
    let (cose, shared) = platform(&mut key, &mut env);
    let pin_hash_enc = shared.encrypt(env.rng(), &crypto::sha256(b"2468")[..16]);
    let resp = call(
        &mut key,
        &mut env,
        0x06,
        vec![
            (1, Value::Int(2)),
            (2, Value::Int(9)),
            (3, cose),
            (6, Value::Bytes(pin_hash_enc)),
            (9, Value::Int(3)),
            (10, Value::text("example.org")),
        ],
    );
    let token: [u8; 32] = shared
        .decrypt(resp.get_int_key(2).unwrap().as_bytes().unwrap())
        .unwrap()
        .as_slice()
        .try_into()
        .unwrap();
    let cdh = [1u8; 32];
    let pin_auth = crypto::hmac_sha256(&token, &[&cdh]);

    // makeCredential, discoverable.
    let mc = call(
        &mut key,
        &mut env,
        0x01,
        vec![
            (1, Value::bytes(&cdh)),
            (2, Value::text_map(vec![("id", Value::text("example.org"))])),
            (
                3,
                Value::text_map(vec![("id", Value::bytes(b"uid")), ("name", Value::text("u"))]),
            ),
            (
                4,
                Value::Array(vec![Value::text_map(vec![
                    ("alg", Value::Int(-7)),
                    ("type", Value::text("public-key")),
                ])]),
            ),
            (7, Value::text_map(vec![("rk", Value::Bool(true))])),
            (8, Value::bytes(&pin_auth)),
            (9, Value::Int(2)),
        ],
    );
    assert_eq!(mc.get_int_key(1), Some(&Value::text("packed")));
    assert!(key.take_dirty());

    // Save, power off, reload from the key file, sign in without a PIN (no UV), discoverable.
    let file = key.state().to_bytes();
    let mut key = Authenticator::new(State::from_bytes(&file).unwrap());
    key.power_on(&mut env);
    let ga = call(
        &mut key,
        &mut env,
        0x02,
        vec![(1, Value::text("example.org")), (2, Value::bytes(&cdh))],
    );
    assert_eq!(
        ga.get_int_key(4).unwrap().get_text_key("id"),
        Some(&Value::bytes(b"uid"))
    );
    let auth_data = ga.get_int_key(2).unwrap().as_bytes().unwrap();
    assert_eq!(auth_data[32], 0x01, "UP without UV");
    assert!(key.take_dirty(), "the signature counter is persistent");
}
