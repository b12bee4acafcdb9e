//! What the engine needs from the outside world: a clock, randomness and user presence.
//!
//! The engine does no IO. The transport (the NFC/APDU bridge) implements [`Env`] on real time,
//! the OS RNG and its own presence policy; tests use the deterministic [`TestEnv`].

use std::collections::VecDeque;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_core::CryptoRngCore;

use crate::band::CaptureQuality;

/// The authenticator's environment.
pub trait Env {
    /// Milliseconds on a monotonic clock (the engine measures the 10-second reset window, token lifetimes).
    fn now_ms(&mut self) -> u64;
    /// A cryptographically secure random number generator.
    fn rng(&mut self) -> &mut dyn CryptoRngCore;
    /// Ask for user presence (a touch). Return false = denied/timeout.
    fn user_presence(&mut self) -> bool;

    /// Wait for a finger on the band's sensor and return the sample's quality; `None` = nobody
    /// put a finger on it before the timeout (authenticatorBioEnrollment's captures).
    ///
    /// The default treats the sensor like the touch it also is: a granted presence is a good
    /// sample, a refused one a timeout, so a transport that only knows presence can drive an
    /// enrolment; a transport with a finger model of its own overrides this.
    fn fingerprint_capture(&mut self) -> Option<CaptureQuality> {
        self.user_presence().then_some(CaptureQuality::Good)
    }
}

/// A deterministic environment for tests: seeded RNG, a clock that only moves with
/// [`TestEnv::advance`], and scripted user-presence answers.
pub struct TestEnv {
    now: u64,
    rng: StdRng,
    presence_script: VecDeque<bool>,
    presence_default: bool,
    presence_requests: usize,
    capture_script: VecDeque<Option<CaptureQuality>>,
}

impl TestEnv {
    /// A test environment at time 0 whose RNG is seeded with `seed`. Presence is granted by default.
    pub fn new(seed: u64) -> TestEnv {
        TestEnv {
            now: 0,
            rng: StdRng::seed_from_u64(seed),
            presence_script: VecDeque::new(),
            presence_default: true,
            presence_requests: 0,
            capture_script: VecDeque::new(),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    /// Queues answers for the next presence requests; after they run out, the default applies.
    pub fn script_presence(&mut self, answers: &[bool]) {
        self.presence_script.extend(answers);
    }

    /// The answer given when no scripted answer is left.
    pub fn set_presence_default(&mut self, granted: bool) {
        self.presence_default = granted;
    }

    /// Queues fingerprint samples (`None` = timeout) for the next captures; after they run out,
    /// captures follow presence (the [`Env::fingerprint_capture`] default).
    pub fn script_captures(&mut self, samples: &[Option<CaptureQuality>]) {
        self.capture_script.extend(samples);
    }

    /// How many times the engine asked for user presence so far.
    pub fn presence_requests(&self) -> usize {
        self.presence_requests
    }
}

impl Env for TestEnv {
    fn now_ms(&mut self) -> u64 {
        self.now
    }

    fn rng(&mut self) -> &mut dyn CryptoRngCore {
        &mut self.rng
    }

    fn user_presence(&mut self) -> bool {
        self.presence_requests += 1;
        self.presence_script.pop_front().unwrap_or(self.presence_default)
    }

    fn fingerprint_capture(&mut self) -> Option<CaptureQuality> {
        match self.capture_script.pop_front() {
            Some(sample) => sample,
            None => self.user_presence().then_some(CaptureQuality::Good),
        }
    }
}
