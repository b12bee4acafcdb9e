//! A factory-fresh authenticator on stdin/stdout, for driving the engine from another process
//! (`tests/device-suite/` runs python-fido2's device suite against it; no NFC, no pcscd).
//!
//! Usage: `cargo run -p keyfleet-authenticator --example stdio_device -- [nfc-key|band]`
//!
//! Frames in: type (1 byte) ‖ length (4 bytes, big-endian) ‖ payload. Types: 0 = CTAP2 request
//! (command ‖ CBOR), 1 = power cycle (field off and on), 2 = put the band on, 3 = take the band
//! off, 4 = refuse the next user presence. Frames out: length (4 bytes, big-endian) ‖ payload (the
//! CTAP2 response; empty for the controls). User presence is granted unless refused; the clock
//! is the real monotonic clock; the batch certificate is a self-signed one made at start.

use std::io::{Read, Write};
use std::str::FromStr;
use std::time::{Duration, Instant};

use der::Encode;
use keyfleet_authenticator::{AttestationMaterial, Authenticator, Env, State, model_by_name};
use rand_core::{CryptoRngCore, OsRng};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};

struct StdioEnv {
    start: Instant,
    rng: OsRng,
    refuse_next: bool,
}

impl Env for StdioEnv {
    fn now_ms(&mut self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
    fn rng(&mut self) -> &mut dyn CryptoRngCore {
        &mut self.rng
    }
    fn user_presence(&mut self) -> bool {
        !std::mem::take(&mut self.refuse_next)
    }
}

fn batch_certificate(key: &[u8; 32]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let key = p256::ecdsa::SigningKey::from_slice(key)?;
    let name = x509_cert::name::Name::from_str("CN=stdio Batch,OU=Authenticator Attestation,O=keyfleet,C=DE")?;
    let validity = x509_cert::time::Validity::from_now(Duration::from_secs(3600 * 24 * 365))?;
    let spki = spki::SubjectPublicKeyInfoOwned::from_key(*key.verifying_key())?;
    let serial = x509_cert::serial_number::SerialNumber::new(&[1])?;
    let builder = CertificateBuilder::new(Profile::Root, serial, validity, name, spki, &key)?;
    Ok(builder.build::<p256::ecdsa::DerSignature>()?.to_der()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model_name = std::env::args().nth(1).unwrap_or_else(|| "nfc-key".into());
    let model = model_by_name(&model_name).ok_or("unknown model")?;
    let mut env = StdioEnv {
        start: Instant::now(),
        rng: OsRng,
        refuse_next: false,
    };
    let key: [u8; 32] = p256::SecretKey::random(&mut OsRng).to_bytes().into();
    let attestation = AttestationMaterial {
        private_key: key.into(),
        cert_chain_der: vec![batch_certificate(&key)?],
        serial_number: "KF-STDIO".into(),
    };
    let mut state = State::factory_new(model, attestation, &mut OsRng);
    if let Ok(rp_ids) = std::env::var("EP_RP_IDS") {
        state.set_enterprise_rp_ids(rp_ids.split(',').map(str::to_owned).collect());
    }
    let mut auth = Authenticator::new(state);
    auth.power_on(&mut env);
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    loop {
        let mut head = [0u8; 5];
        if stdin.read_exact(&mut head).is_err() {
            return Ok(());
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut payload = vec![0u8; len];
        stdin.read_exact(&mut payload)?;
        let out = match head[0] {
            0 => auth.ctap2(&mut env, &payload),
            1 => {
                auth.power_off();
                auth.power_on(&mut env);
                Vec::new()
            }
            2 => {
                let _ = auth.band_wear();
                Vec::new()
            }
            3 => {
                let _ = auth.band_take_off();
                Vec::new()
            }
            4 => {
                env.refuse_next = true;
                Vec::new()
            }
            _ => return Err("unknown frame type".into()),
        };
        stdout.write_all(&(out.len() as u32).to_be_bytes())?;
        stdout.write_all(&out)?;
        stdout.flush()?;
    }
}
