//! Structured target: a session of CTAP2 requests (command byte ‖ CBOR) against an
//! [`Authenticator`] in a deterministic [`TestEnv`].
//!
//! The first byte sets the scene: bit 0 the model (`nfc-key` or `band`), bit 6 a worn band, bit 5
//! a PIN ("1234") and an enrolled finger, bit 7 user presence refused. The rest is a list of
//! operations:
//!
//! - `0`: power cycle (NFC field off and on);
//! - `1 n`: advance the clock by `n × 100` ms;
//! - `2`: the harness sets the PIN "1234" as a platform would (PIN/UV auth protocol two);
//! - `3 p r`: the harness gets a pinUvAuthToken with permissions `p` for RP `r` (even: the RP the
//!   requests use, odd: another RP);
//! - `4 hi lo bytes`: a raw request of `hi·256 + lo` bytes;
//! - `5 hi lo bytes`: the same, but if the CBOR is a map the harness adds a pinUvAuthParam made with
//!   its token (makeCredential, getAssertion, credentialManagement, authenticatorConfig), so that
//!   the fuzzer reaches the code behind PIN authentication.
//!
//! Checked after every request: no panic, a response that starts with a status byte, and the
//! persistent state unchanged by any request that fails for a reason other than a PIN or UV
//! check (which legitimately count down retries), in particular by anything that is not CBOR.
#![no_main]

use std::sync::OnceLock;

use keyfleet_authenticator::cbor::{self, MAX_REQUEST_DEPTH, Value};
use keyfleet_authenticator::pin_protocol::{KeyAgreementKey, SharedSecret};
use keyfleet_authenticator::{
    AttestationMaterial, Authenticator, CAPTURES_PER_ATTEMPT, CaptureQuality, Env, State, Status, TestEnv, crypto,
    models,
};
use libfuzzer_sys::fuzz_target;

const RP: &str = "example.com";
const OTHER_RP: &str = "other.example";
const PIN: &[u8] = b"1234";

/// Factory-fresh states, one per model, made once (key generation is slow under ASan).
fn factory_states() -> &'static [State] {
    static STATES: OnceLock<Vec<State>> = OnceLock::new();
    STATES.get_or_init(|| {
        let mut env = TestEnv::new(1);
        models()
            .iter()
            .map(|m| {
                let attestation = AttestationMaterial {
                    private_key: [0x42; 32].into(),
                    cert_chain_der: vec![b"\x30\x03\x02\x01\x01".to_vec()],
                    serial_number: "KF-FUZZ".into(),
                };
                State::factory_new(m, attestation, env.rng())
            })
            .collect()
    })
}

struct Session {
    auth: Authenticator,
    env: TestEnv,
    token: Option<[u8; 32]>,
}

impl Session {
    fn request(&mut self, request: &[u8]) -> Vec<u8> {
        let before = self.auth.state().to_bytes();
        let response = self.auth.ctap2(&mut self.env, request);
        let status = Status::try_from(response[0]).expect("a known status byte");
        let changed = self.auth.state().to_bytes() != before;
        let body_is_cbor = request.len() <= 1 || cbor::decode(&request[1..], MAX_REQUEST_DEPTH).is_ok();
        if !body_is_cbor {
            assert_ne!(status, Status::Ok, "accepted a body that is not CBOR");
        }
        if status != Status::Ok {
            assert_eq!(response.len(), 1, "an error with a body");
        }
        if changed {
            let may_change = matches!(
                status,
                Status::Ok
                    | Status::PinInvalid
                    | Status::PinBlocked
                    | Status::PinAuthBlocked
                    | Status::UvInvalid
                    | Status::UvBlocked
            );
            assert!(may_change, "state changed by a request that failed with {status:?}");
        }
        assert_eq!(self.auth.take_dirty(), changed, "dirty flag disagrees with the state");
        response
    }

    /// getKeyAgreement, then our own key pair: the platform side of protocol two.
    fn shared_secret(&mut self) -> Option<(Value, SharedSecret)> {
        let request = [
            &[0x06][..],
            &cbor::encode(&Value::int_map(vec![(1, Value::Int(2)), (2, Value::Int(2))])),
        ]
        .concat();
        let response = self.request(&request);
        let (&0, body) = response.split_first()? else {
            return None;
        };
        let answer = cbor::decode(body, MAX_REQUEST_DEPTH).ok()?;
        let theirs = answer.get_int_key(1)?.clone();
        let mine = KeyAgreementKey::generate(self.env.rng());
        let shared = mine.decapsulate(&theirs).ok()?;
        Some((mine.public_cose(), shared))
    }

    fn set_pin(&mut self) {
        let Some((cose, shared)) = self.shared_secret() else {
            return;
        };
        let mut padded = [0u8; 64];
        padded[..PIN.len()].copy_from_slice(PIN);
        let new_pin_enc = shared.encrypt(self.env.rng(), &padded);
        let param = shared.authenticate(&new_pin_enc);
        self.client_pin(vec![
            (2, Value::Int(3)),
            (3, cose),
            (4, Value::bytes(&param)),
            (5, Value::Bytes(new_pin_enc)),
        ]);
    }

    fn get_token(&mut self, permissions: u8, rp: u8) {
        let Some((cose, shared)) = self.shared_secret() else {
            return;
        };
        let pin_hash = &crypto::sha256(PIN)[..16];
        let pin_hash_enc = shared.encrypt(self.env.rng(), pin_hash);
        let rp = if rp & 1 == 0 { RP } else { OTHER_RP };
        let answer = self.client_pin(vec![
            (2, Value::Int(9)),
            (3, cose),
            (6, Value::Bytes(pin_hash_enc)),
            (9, Value::Int(permissions.into())),
            (0x0A, Value::text(rp)),
        ]);
        let token = answer
            .as_ref()
            .and_then(|a| a.get_int_key(2))
            .and_then(|t| t.as_bytes().ok())
            .and_then(|t| shared.decrypt(t))
            .and_then(|t| <[u8; 32]>::try_from(t.as_slice()).ok());
        if token.is_some() {
            self.token = token;
        }
    }

    fn client_pin(&mut self, mut params: Vec<(i128, Value)>) -> Option<Value> {
        params.push((1, Value::Int(2)));
        let request = [&[0x06][..], &cbor::encode(&Value::int_map(params))].concat();
        let response = self.request(&request);
        let (&0, body) = response.split_first()? else {
            return None;
        };
        cbor::decode(body, MAX_REQUEST_DEPTH).ok()
    }

    /// Adds pinUvAuthParam (and protocol two) to a request map, signed with the harness's token.
    fn authenticated(&self, request: &[u8]) -> Option<Vec<u8>> {
        let token = self.token?;
        let (&command, body) = request.split_first()?;
        let Ok(Value::Map(mut entries)) = cbor::decode(body, MAX_REQUEST_DEPTH) else {
            return None;
        };
        let raw_sub_params = cbor::Params::decode(body).ok()?.raw(0x02).unwrap_or_default().to_vec();
        let int = |entries: &[(Value, Value)], k: i128| {
            entries
                .iter()
                .find(|(key, _)| *key == Value::Int(k))
                .map(|(_, v)| v.clone())
        };
        let (param_key, protocol_key, message) = match command {
            0x01 | 0x02 => (8, 9, int(&entries, 1)?.as_bytes().ok()?.to_vec()),
            0x0A => {
                let sub = u8::try_from(int(&entries, 1)?.as_uint().ok()?).ok()?;
                (4, 3, [&[sub][..], &raw_sub_params].concat())
            }
            0x0D => {
                let sub = u8::try_from(int(&entries, 1)?.as_uint().ok()?).ok()?;
                (4, 3, [&[0xff; 32][..], &[0x0d, sub], &raw_sub_params].concat())
            }
            _ => return None,
        };
        let param = crypto::hmac_sha256(&token, &[&message]);
        entries.retain(|(k, _)| *k != Value::Int(param_key) && *k != Value::Int(protocol_key));
        entries.push((Value::Int(param_key), Value::bytes(&param)));
        entries.push((Value::Int(protocol_key), Value::Int(2)));
        Some([&[command][..], &cbor::encode(&Value::Map(entries))].concat())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut ops)) = data.split_first() else {
        return;
    };
    let states = factory_states();
    let mut env = TestEnv::new(u64::from(flags));
    env.set_presence_default(flags & 0x80 == 0);
    let mut auth = Authenticator::new(states[usize::from(flags) % states.len()].clone());
    auth.power_on(&mut env);
    if flags & 0x40 != 0 {
        // A worn band (refused on a key, which is fine).
        let _ = auth.band_wear();
        auth.take_dirty();
    }
    let mut s = Session { auth, env, token: None };
    if flags & 0x20 != 0 {
        s.set_pin();
        let good = [CaptureQuality::Good; CAPTURES_PER_ATTEMPT];
        let _ = s.auth.band_enrol_finger(&mut s.env, &good);
        s.auth.take_dirty();
    }
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        match op % 6 {
            0 => {
                s.auth.power_off();
                s.auth.power_on(&mut s.env);
            }
            1 => {
                let Some((&n, rest)) = ops.split_first() else { return };
                ops = rest;
                s.env.advance(u64::from(n) * 100);
            }
            2 => s.set_pin(),
            3 => {
                let [p, r, rest @ ..] = ops else { return };
                ops = rest;
                s.get_token(*p, *r);
            }
            _ => {
                let [hi, lo, rest @ ..] = ops else { return };
                let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
                let (request, rest) = rest.split_at(len);
                ops = rest;
                if request.is_empty() {
                    continue;
                }
                let signed = if op % 6 == 5 { s.authenticated(request) } else { None };
                s.request(signed.as_deref().unwrap_or(request));
            }
        }
    }
});
