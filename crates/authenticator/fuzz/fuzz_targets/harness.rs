//! Shared session harness of the per-command fuzz targets (`large_blobs`, `bio_enrollment`,
//! `config`): one authenticator in a deterministic [`TestEnv`], a PIN, a pinUvAuthToken with
//! every permission the model grants, and a list of operations from the fuzzer.
//!
//! Input: the first byte sets the scene: bit 0 the model (`nfc-key` or `band`), bit 1 PIN/UV auth
//! protocol one instead of two, bit 5 a PIN ("1234") and a token, bit 6 a worn band, bit 7 user
//! presence (and finger captures) refused. Then operations:
//!
//! - `0`: power cycle; `1 n`: advance the clock by `n × 100` ms;
//! - `2`: take the band off / put it on (alternating);
//! - `3 q`: queue a finger capture (`q % 3`: good, poor, none);
//! - `4 hi lo bytes`: the command's CBOR parameters as given;
//! - `5 hi lo bytes`: the same, with pinUvAuthParam/pinUvAuthProtocol added by the harness (signed
//!   with its token the way the command defines), so that the fuzzer gets past authentication.
//!
//! Checked after every request: no panic, a known status byte, no body on errors, the dirty flag
//! agrees with the state, and the persistent state unchanged by any request that failed for a
//! reason other than a PIN or UV check.

use std::sync::OnceLock;

use keyfleet_authenticator::cbor::{self, MAX_REQUEST_DEPTH, Params, Value};
use keyfleet_authenticator::pin_protocol::{KeyAgreementKey, Protocol};
use keyfleet_authenticator::{AttestationMaterial, Authenticator, CaptureQuality, Env, State, Status, TestEnv, models};

const PIN: &[u8] = b"1234";

/// How a command authenticates its request: the CBOR keys of pinUvAuthParam and
/// pinUvAuthProtocol, and the message signed, from the command's parameters.
pub struct Auth {
    pub param_key: i128,
    pub protocol_key: i128,
    pub message: fn(&Params) -> Option<Vec<u8>>,
}

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
    protocol: Protocol,
    token: Option<[u8; 32]>,
}

impl Session {
    fn request(&mut self, request: &[u8]) -> Vec<u8> {
        let before = self.auth.state().to_bytes();
        let response = self.auth.ctap2(&mut self.env, request);
        let status = Status::try_from(response[0]).expect("a known status byte");
        let changed = self.auth.state().to_bytes() != before;
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

    fn client_pin(&mut self, params: Vec<(i128, Value)>) -> Option<Value> {
        let mut params = params;
        params.push((1, Value::Int(self.protocol.number().into())));
        let response = self.request(&[&[0x06][..], &cbor::encode(&Value::int_map(params))].concat());
        let (&0, body) = response.split_first()? else {
            return None;
        };
        cbor::decode(body, MAX_REQUEST_DEPTH).ok()
    }

    fn setup_pin_and_token(&mut self) {
        let Some(theirs) = self
            .client_pin(vec![(2, Value::Int(2))])
            .and_then(|a| a.get_int_key(1).cloned())
        else {
            return;
        };
        let mine = KeyAgreementKey::generate(self.env.rng());
        let Ok(shared) = mine.decapsulate_with(self.protocol, &theirs) else {
            return;
        };
        let mut padded = [0u8; 64];
        padded[..PIN.len()].copy_from_slice(PIN);
        let new_pin_enc = shared.encrypt(self.env.rng(), &padded);
        let param = shared.authenticate(&new_pin_enc);
        self.client_pin(vec![
            (2, Value::Int(3)),
            (3, mine.public_cose()),
            (4, Value::Bytes(param)),
            (5, Value::Bytes(new_pin_enc)),
        ]);
        let pin_hash_enc = shared.encrypt(self.env.rng(), &keyfleet_authenticator::crypto::sha256(PIN)[..16]);
        // Every permission: mc ga cm be lbw acfg (be is refused on the key; then without it).
        for permissions in [0x3f, 0x37] {
            let answer = self.client_pin(vec![
                (2, Value::Int(9)),
                (3, mine.public_cose()),
                (6, Value::Bytes(pin_hash_enc.clone())),
                (9, Value::Int(permissions)),
                (0x0A, Value::text("example.com")),
            ]);
            let token = answer
                .as_ref()
                .and_then(|a| a.get_int_key(2))
                .and_then(|t| t.as_bytes().ok())
                .and_then(|t| shared.decrypt(t))
                .and_then(|t| <[u8; 32]>::try_from(t.as_slice()).ok());
            if token.is_some() {
                self.token = token;
                return;
            }
        }
    }

    fn signed(&self, command: u8, auth: &Auth, body: &[u8]) -> Option<Vec<u8>> {
        let token = self.token?;
        let params = Params::decode(body).ok()?;
        let message = (auth.message)(&params)?;
        let Ok(Value::Map(mut entries)) = cbor::decode(body, MAX_REQUEST_DEPTH) else {
            return None;
        };
        let param = self.protocol.authenticate(&token, &message);
        entries.retain(|(k, _)| *k != Value::Int(auth.param_key) && *k != Value::Int(auth.protocol_key));
        entries.push((Value::Int(auth.param_key), Value::Bytes(param)));
        entries.push((Value::Int(auth.protocol_key), Value::Int(self.protocol.number().into())));
        Some([&[command][..], &cbor::encode(&Value::Map(entries))].concat())
    }
}

/// Runs one fuzz input against `command`.
pub fn run(command: u8, auth: &Auth, data: &[u8]) {
    let Some((&flags, mut ops)) = data.split_first() else {
        return;
    };
    let states = factory_states();
    let mut env = TestEnv::new(u64::from(flags));
    env.set_presence_default(flags & 0x80 == 0);
    let mut a = Authenticator::new(states[usize::from(flags) % states.len()].clone());
    a.power_on(&mut env);
    if flags & 0x40 != 0 {
        let _ = a.band_wear();
        a.take_dirty();
    }
    let protocol = if flags & 0x02 != 0 {
        Protocol::One
    } else {
        Protocol::Two
    };
    let mut s = Session {
        auth: a,
        env,
        protocol,
        token: None,
    };
    if flags & 0x20 != 0 {
        s.setup_pin_and_token();
    }
    let mut worn = flags & 0x40 != 0;
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
            2 => {
                worn = !worn;
                let _ = if worn {
                    s.auth.band_wear()
                } else {
                    s.auth.band_take_off()
                };
                s.auth.take_dirty();
            }
            3 => {
                let Some((&q, rest)) = ops.split_first() else { return };
                ops = rest;
                let sample = match q % 3 {
                    0 => Some(CaptureQuality::Good),
                    1 => Some(CaptureQuality::Poor),
                    _ => None,
                };
                s.env.script_captures(&[sample]);
            }
            _ => {
                let [hi, lo, rest @ ..] = ops else { return };
                let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
                let (body, rest) = rest.split_at(len);
                ops = rest;
                let signed = if op % 6 == 5 {
                    s.signed(command, auth, body)
                } else {
                    None
                };
                let request = signed.unwrap_or_else(|| [&[command][..], body].concat());
                s.request(&request);
            }
        }
    }
}
