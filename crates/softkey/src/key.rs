//! A software key: the CTAP engine, its environment and its key file, as one [`Applet`].

use std::path::Path;
use std::time::{Duration, Instant};

use keyfleet_authenticator::{Authenticator, CaptureQuality, EnrolOutcome, Env, Model, State, models};
use keyfleet_ctap_transport::Applet;
use rand_core::{CryptoRngCore, OsRng};

use crate::factory::{Factory, serial_number};
use crate::keyfile::{KeyFile, KeyLock, Protection, passphrase_from_env};
use crate::vpcd::ReaderKey;

/// CTAP1_ERR_OTHER, sent instead of a result whose state change could not be saved.
const CTAP1_ERR_OTHER: u8 = 0x7F;
/// ISO "no precise diagnosis", the U2F counterpart.
const SW_UNKNOWN: u16 = 0x6F00;

/// The engine's environment on a real machine: a monotonic clock that tests may push forward,
/// the OS RNG, user presence granted by default (on NFC, the tap is the presence), and the band's
/// fingerprint sensor, which sees only the fingers put on it (`finger good|poor` on the control
/// socket): with none waiting, a capture times out, as a real sensor nobody touches.
pub struct SoftEnv {
    start: Instant,
    skew_ms: u64,
    rng: OsRng,
    /// The answer to the next user-presence checks.
    pub presence: bool,
    /// Fingers put on the sensor and not yet captured, oldest first.
    pub fingers: std::collections::VecDeque<CaptureQuality>,
}

impl Default for SoftEnv {
    fn default() -> Self {
        SoftEnv {
            start: Instant::now(),
            skew_ms: 0,
            rng: OsRng,
            presence: true,
            fingers: std::collections::VecDeque::new(),
        }
    }
}

impl SoftEnv {
    /// Moves the engine's clock forward (test control: "wait 10 s" without waiting).
    pub fn advance(&mut self, ms: u64) {
        self.skew_ms = self.skew_ms.saturating_add(ms);
    }
}

impl Env for SoftEnv {
    fn now_ms(&mut self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(self.skew_ms)
    }

    fn rng(&mut self) -> &mut dyn CryptoRngCore {
        &mut self.rng
    }

    fn user_presence(&mut self) -> bool {
        self.presence
    }

    /// authenticatorBioEnrollment's capture: the oldest finger put on the sensor, or a timeout.
    fn fingerprint_capture(&mut self) -> Option<CaptureQuality> {
        self.fingers.pop_front()
    }
}

/// Why a key could not be made or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file.
    #[error(transparent)]
    File(#[from] crate::keyfile::KeyFileError),
    /// The factory.
    #[error(transparent)]
    Factory(#[from] crate::factory::FactoryError),
    /// The decrypted state does not parse.
    #[error("key state: {0}")]
    State(#[from] keyfleet_authenticator::StateError),
    /// No such model.
    #[error("unknown model {0:?} (see `keyfleet key models`)")]
    UnknownModel(String),
    /// The band controls refused.
    #[error("{0}")]
    Band(#[from] keyfleet_authenticator::BandError),
}

/// How many signature-counter values a save reserves ahead (see [`SoftKey::persist`]).
pub const COUNTER_BLOCK: u32 = 256;

/// An open software key: the engine, its environment, its key file and the lock on it.
///
/// # Signature counters without one fsync each
///
/// Every makeCredential and getAssertion moves the global signature counter, and a counter value
/// must never be handed out twice, even after a crash. Instead of saving the key file for each
/// value, a save writes the counter as a *high-water mark*: the current value plus
/// [`COUNTER_BLOCK`]. Values up to the mark are then handed out from memory; the first value past
/// it saves again (before the response leaves) with a new mark. A key opened after a crash starts
/// from the saved mark, above every value it handed out before. Every other change of the
/// persistent state (a PIN, a discoverable credential, a reset, a band enrolment) is still saved
/// before the response.
pub struct SoftKey {
    auth: Authenticator,
    /// The engine's environment.
    pub env: SoftEnv,
    file: KeyFile,
    _lock: KeyLock,
    saves: SaveStats,
    /// The state as last saved, its counter being the high-water mark.
    saved: State,
    counter_block: u32,
}

/// How many times the key file was saved and how long that took (write, fsync, rename, fsync of
/// the directory): reported by the bridge's `status` so that latency can be split into the engine
/// and the disk.
#[derive(Clone, Copy, Debug, Default)]
pub struct SaveStats {
    /// Completed saves.
    pub count: u64,
    /// Their total duration.
    pub total: Duration,
    /// Changes of the signature counter alone that needed no save (below the high-water mark).
    pub counter_only: u64,
}

impl SoftKey {
    /// Makes a factory-fresh key of `model` at `path` (no PIN, no fingerprint), protected by
    /// `protection`, with a batch certificate from `factory`.
    pub fn create(
        path: &Path,
        model_name: &str,
        factory: &Factory,
        protection: Protection,
    ) -> Result<SoftKey, KeyError> {
        Self::create_with_enterprise(path, model_name, factory, protection, Vec::new())
    }

    /// [`SoftKey::create`], with the RP IDs the factory allows vendor-facilitated enterprise
    /// attestation for (CTAP 2.1 §7.1.1; the attestation then carries the key's serial number).
    pub fn create_with_enterprise(
        path: &Path,
        model_name: &str,
        factory: &Factory,
        protection: Protection,
        enterprise_rp_ids: Vec<String>,
    ) -> Result<SoftKey, KeyError> {
        let model = model(model_name)?;
        let lock = KeyLock::acquire(path)?;
        let mut rng = OsRng;
        let batch = factory.batch(model.name, model.aaguid, &mut rng)?;
        let serial = serial_number(&mut rng);
        let device_cert = factory.device_certificate(model.name, model.aaguid, &batch, &serial, &mut rng)?;
        let attestation = keyfleet_authenticator::AttestationMaterial::from_pkcs8_der(
            &batch.key_pkcs8()?,
            vec![batch.cert_der.clone()],
            serial,
        )?;
        let mut state = State::factory_new(model, attestation, &mut rng);
        state.set_enterprise_rp_ids(enterprise_rp_ids);
        // Enterprise attestations present the factory's certificate naming this key's serial.
        state.set_enterprise_certificate(Some(device_cert))?;
        let file = KeyFile::create(path, protection, &state.to_bytes(), &mut rng)?;
        Ok(SoftKey {
            saved: state.clone(),
            auth: Authenticator::new(state),
            env: SoftEnv::default(),
            file,
            _lock: lock,
            saves: SaveStats::default(),
            counter_block: COUNTER_BLOCK,
        })
    }

    /// Opens the key at `path` with `KEYFLEET_KEY_PASSPHRASE` if the file needs it, else with its
    /// file key from the file-keys directory `file_keys`.
    pub fn open(path: &Path, file_keys: &Path) -> Result<SoftKey, KeyError> {
        let lock = KeyLock::acquire(path)?;
        let passphrase = passphrase_from_env();
        let (file, plaintext) = KeyFile::open(path, passphrase.as_deref().map(String::as_str), file_keys)?;
        // The saved counter is the high-water mark: every value handed out before is at most it.
        let state = State::from_bytes(&plaintext)?;
        Ok(SoftKey {
            saved: state.clone(),
            auth: Authenticator::new(state),
            env: SoftEnv::default(),
            file,
            _lock: lock,
            saves: SaveStats::default(),
            counter_block: COUNTER_BLOCK,
        })
    }

    /// Reserves `block` counter values per save instead of [`COUNTER_BLOCK`] (tests; at least 1).
    pub fn with_counter_block(mut self, block: u32) -> SoftKey {
        self.counter_block = block.max(1);
        self
    }

    /// The engine.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// Saves the key file, before a response leaves, if the engine's persistent state changed in
    /// more than its signature counter or the counter passed the saved high-water mark (see
    /// [`SoftKey`]).
    pub fn persist(&mut self) -> Result<(), KeyError> {
        if !self.auth.take_dirty() {
            return Ok(());
        }
        let current = self.auth.state();
        let high_water = self.saved.sign_count();
        if current.sign_count() <= high_water {
            let mut probe = current.clone();
            probe.raise_sign_count(high_water);
            if probe == self.saved {
                self.saves.counter_only += 1;
                return Ok(());
            }
        }
        let mut to_save = current.clone();
        if current.sign_count() > high_water {
            to_save.raise_sign_count(current.sign_count().saturating_add(self.counter_block));
        } else {
            to_save.raise_sign_count(high_water);
        }
        let started = Instant::now();
        self.file.save(&to_save.to_bytes(), &mut OsRng)?;
        self.saves.count += 1;
        self.saves.total += started.elapsed();
        self.saved = to_save;
        Ok(())
    }

    /// Key-file saves since the key was opened.
    pub fn save_stats(&self) -> SaveStats {
        self.saves
    }

    /// Runs a band control on the engine and saves.
    pub fn band<R>(
        &mut self,
        f: impl FnOnce(&mut Authenticator, &mut SoftEnv) -> Result<R, keyfleet_authenticator::BandError>,
    ) -> Result<R, KeyError> {
        let out = f(&mut self.auth, &mut self.env)?;
        self.persist()?;
        Ok(out)
    }

    /// Band: reassign it to another wearer ("delete user data", seed 000): every credential, the
    /// PIN, the configuration and the fingerprint are wiped, and the band is ready to enrol. Saved
    /// before it returns. Refused on other models.
    pub fn reassign(&mut self) -> Result<(), KeyError> {
        self.band(|auth, env| auth.band_delete_user_data(env))
    }

    /// One enrolment attempt from capture names (`good`/`poor`).
    pub fn enrol_finger(&mut self, captures: &[CaptureQuality]) -> Result<EnrolOutcome, KeyError> {
        self.band(|auth, env| auth.band_enrol_finger(env, captures))
    }

    /// A one-line description for `status` and `info`.
    pub fn summary(&self) -> String {
        let state = self.auth.state();
        let mut out = format!(
            "model={} pin_set={} pin_retries={} credentials={} force_pin_change={}",
            state.model().name,
            state.pin_is_set(),
            state.pin_retries(),
            state.credentials().len(),
            state.force_pin_change()
        );
        if let Some(band) = self.auth.band_status() {
            out.push_str(&format!(
                " worn={} enrolled={} see_admin={} uv_ready={}",
                band.worn, band.enrolled, band.see_admin, band.uv_ready
            ));
        }
        out
    }
}

/// The model called `name`.
pub fn model(name: &str) -> Result<&'static Model, KeyError> {
    models()
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| KeyError::UnknownModel(name.to_string()))
}

impl Applet for SoftKey {
    fn ctap2(&mut self, request: &[u8]) -> Vec<u8> {
        let response = self.auth.ctap2(&mut self.env, request);
        match self.persist() {
            Ok(()) => response,
            Err(e) => {
                eprintln!("keyfleet-key: cannot save the key file: {e}");
                vec![CTAP1_ERR_OTHER]
            }
        }
    }

    fn u2f(&mut self, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Result<Vec<u8>, u16> {
        let response = self.auth.u2f(&mut self.env, ins, p1, p2, data);
        match self.persist() {
            Ok(()) => response,
            Err(e) => {
                eprintln!("keyfleet-key: cannot save the key file: {e}");
                Err(SW_UNKNOWN)
            }
        }
    }

    fn u2f_enabled(&self) -> bool {
        self.auth.u2f_enabled()
    }

    fn power_on(&mut self) {
        self.auth.power_on(&mut self.env);
    }

    fn power_off(&mut self) {
        self.auth.power_off();
    }
}

impl ReaderKey for SoftKey {
    fn control(&mut self, words: &[&str]) -> Option<Result<String, String>> {
        let result = match words {
            ["wear"] => self.band(|auth, _| auth.band_wear()).map(|()| String::new()),
            ["take-off"] => self.band(|auth, _| auth.band_take_off()).map(|()| String::new()),
            ["reassign"] => self.reassign().map(|()| String::new()),
            ["enrol-finger", captures @ ..] => match parse_captures(captures) {
                Ok(captures) => self.enrol_finger(&captures).map(|outcome| format!("{outcome:?}")),
                Err(e) => return Some(Err(e)),
            },
            ["advance", ms] => match ms.parse::<u64>() {
                Ok(ms) => {
                    self.env.advance(ms);
                    Ok(String::new())
                }
                Err(_) => return Some(Err("advance takes milliseconds".into())),
            },
            ["finger", quality] => match quality.parse::<CaptureQuality>() {
                Ok(q) => {
                    self.env.fingers.push_back(q);
                    Ok(String::new())
                }
                Err(e) => return Some(Err(e.to_string())),
            },
            ["presence", "grant"] => {
                self.env.presence = true;
                Ok(String::new())
            }
            ["presence", "deny"] => {
                self.env.presence = false;
                Ok(String::new())
            }
            _ => return None,
        };
        Some(result.map_err(|e| e.to_string()))
    }

    fn describe(&self) -> String {
        let saves = self.save_stats();
        format!(
            "{} saves={} save_us={} counter_only={}",
            self.summary(),
            saves.count,
            saves.total.as_micros(),
            saves.counter_only
        )
    }
}

/// Capture names for `enrol-finger`: none means 15 good captures.
pub fn parse_captures(words: &[&str]) -> Result<Vec<CaptureQuality>, String> {
    if words.is_empty() {
        return Ok(vec![CaptureQuality::Good; keyfleet_authenticator::CAPTURES_PER_ATTEMPT]);
    }
    words
        .iter()
        .map(|w| w.parse::<CaptureQuality>().map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests;
