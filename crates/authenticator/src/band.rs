//! The wearable band (model `band`): fingerprint enrolment, wearing, "See Admin" and "delete user
//! data", after the Nymi Band's standalone mode (seed 000, "Enrolling a Standalone Mode Nymi Band").
//!
//! - Enrolment: the user wears the band and gives 15 captures per attempt; a template is made
//!   only if all 15 are good. After three failed attempts the band shows "See Admin" and refuses
//!   enrolment, wearing and built-in UV until an administrator deletes the user data.
//! - While worn and enrolled, built-in UV succeeds without a PIN. Taking the band off
//!   deauthenticates at once: tokens obtained by UV are revoked.
//! - Delete user data: a full reset (credentials, PIN, configuration, fingerprint, See Admin),
//!   allowed at any time, unlike authenticatorReset's 10 s window.

use crate::env::Env;
use crate::state::ModelKind;
use crate::{Authenticator, commands};

/// Fingerprint captures per enrolment attempt.
pub const CAPTURES_PER_ATTEMPT: usize = 15;
/// Failed attempts before "See Admin".
pub const MAX_ENROL_ATTEMPTS: u8 = 3;

/// The quality of one fingerprint capture (simulated sensor input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureQuality {
    /// Usable for a template.
    Good,
    /// Smudged, partial or moved: spoils the attempt.
    Poor,
}

impl std::str::FromStr for CaptureQuality {
    type Err = BandError;

    /// `good` or `poor` (for the CLI's `enrol-finger`).
    fn from_str(s: &str) -> Result<CaptureQuality, BandError> {
        match s {
            "good" => Ok(CaptureQuality::Good),
            "poor" | "bad" => Ok(CaptureQuality::Poor),
            _ => Err(BandError::BadCaptureName),
        }
    }
}

/// The result of one enrolment attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrolOutcome {
    /// A template was created; built-in UV is now available while worn.
    Enrolled,
    /// The captures could not make a template; the user may try again.
    Retry {
        /// Attempts left before "See Admin".
        attempts_left: u8,
    },
    /// Third failure: the band now shows "See Admin".
    SeeAdmin,
}

/// Why a band control was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BandError {
    /// The model is not a band.
    #[error("this authenticator is not a band")]
    NotABand,
    /// The band shows "See Admin": delete user data first.
    #[error("the band shows See Admin: delete user data and enrol again")]
    SeeAdmin,
    /// Enrolment needs the band on the wrist.
    #[error("the band must be worn")]
    NotWorn,
    /// A fingerprint is already enrolled.
    #[error("a fingerprint is already enrolled")]
    AlreadyEnrolled,
    /// An attempt is exactly 15 captures.
    #[error("an enrolment attempt takes exactly {CAPTURES_PER_ATTEMPT} captures")]
    WrongCaptureCount,
    /// A capture quality that is neither `good` nor `poor`.
    #[error("capture quality must be good or poor")]
    BadCaptureName,
}

/// A summary of the band for status displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BandStatus {
    /// On the wrist.
    pub worn: bool,
    /// A fingerprint is enrolled.
    pub enrolled: bool,
    /// Showing "See Admin".
    pub see_admin: bool,
    /// Built-in UV would succeed now.
    pub uv_ready: bool,
    /// Failed enrolment attempts so far.
    pub failed_attempts: u8,
}

impl Authenticator {
    fn band_check(&self) -> Result<(), BandError> {
        if self.state.model.kind != ModelKind::Band {
            return Err(BandError::NotABand);
        }
        Ok(())
    }

    /// Puts the band on: with a fingerprint enrolled, the wearer is authenticated until it comes off.
    pub fn band_wear(&mut self) -> Result<(), BandError> {
        self.band_check()?;
        if self.state.band.see_admin {
            return Err(BandError::SeeAdmin);
        }
        self.tracked(|a| a.state.band.worn = true);
        Ok(())
    }

    /// Takes the band off: deauthenticates at once (UV tokens revoked, built-in UV fails).
    pub fn band_take_off(&mut self) -> Result<(), BandError> {
        self.band_check()?;
        self.tracked(|a| a.state.band.worn = false);
        if self.vol.token.as_ref().is_some_and(|t| t.from_uv) {
            self.vol.token = None;
        }
        Ok(())
    }

    /// One enrolment attempt of exactly [`CAPTURES_PER_ATTEMPT`] captures.
    pub fn band_enrol_finger(
        &mut self,
        env: &mut dyn Env,
        captures: &[CaptureQuality],
    ) -> Result<EnrolOutcome, BandError> {
        self.band_check()?;
        let band = &self.state.band;
        if band.see_admin {
            return Err(BandError::SeeAdmin);
        }
        if !band.worn {
            return Err(BandError::NotWorn);
        }
        if band.enrolled {
            return Err(BandError::AlreadyEnrolled);
        }
        if captures.len() != CAPTURES_PER_ATTEMPT {
            return Err(BandError::WrongCaptureCount);
        }
        let good = captures.iter().all(|c| *c == CaptureQuality::Good);
        let template_id = crate::crypto::random::<4>(env.rng()).to_vec();
        self.vol.enrollment = None;
        Ok(self.tracked(|a| {
            let band = &mut a.state.band;
            if good {
                band.enrolled = true;
                band.template_id = template_id;
                band.template_name = String::new();
                band.failed_attempts = 0;
                a.state.uv_retries = crate::state::MAX_UV_RETRIES;
                return EnrolOutcome::Enrolled;
            }
            band.failed_attempts += 1;
            if band.failed_attempts >= MAX_ENROL_ATTEMPTS {
                band.see_admin = true;
                EnrolOutcome::SeeAdmin
            } else {
                EnrolOutcome::Retry {
                    attempts_left: MAX_ENROL_ATTEMPTS - band.failed_attempts,
                }
            }
        }))
    }

    /// "Delete user data": a full reset of credentials (discoverable ones deleted, every
    /// non-discoverable one dead with the old wrapping key), large blobs, PIN, configuration and
    /// the fingerprint template, leaving the band ready to enrol its next wearer. This is the
    /// "reassign" primitive.
    pub fn band_delete_user_data(&mut self, env: &mut dyn Env) -> Result<(), BandError> {
        self.band_check()?;
        self.tracked(|a| commands::reset::wipe(a, env));
        Ok(())
    }

    /// The band's state, or `None` on other models.
    pub fn band_status(&self) -> Option<BandStatus> {
        self.band_check().ok()?;
        let b = &self.state.band;
        Some(BandStatus {
            worn: b.worn,
            enrolled: b.enrolled,
            see_admin: b.see_admin,
            uv_ready: self.builtin_uv_ready(),
            failed_attempts: b.failed_attempts,
        })
    }
}

#[cfg(test)]
mod tests;
