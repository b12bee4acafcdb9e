//! authenticatorBioEnrollment (0x09), CTAP 2.1 §6.7: fingerprint enrolment on the `band`.
//!
//! Request keys: 0x01 modality, 0x02 subCommand, 0x03 subCommandParams {0x01 templateId, 0x02
//! templateFriendlyName, 0x03 timeoutMilliseconds}, 0x04 pinUvAuthProtocol, 0x05 pinUvAuthParam,
//! 0x06 getModality. Response keys: 0x01 modality, 0x02 fingerprintKind, 0x03
//! maxCaptureSamplesRequiredForEnroll, 0x04 templateId, 0x05 lastEnrollSampleStatus, 0x06
//! remainingSamples, 0x07 templateInfos, 0x08 maxTemplateFriendlyName.
//!
//! pinUvAuthParam = authenticate(pinUvAuthToken, uint8(modality) ‖ uint8(subCommand) ‖
//! subCommandParams) with the `be` permission; getModality, getFingerprintSensorInfo and
//! cancelCurrentEnrollment need no token.
//!
//! The band holds one template (a second enrollBegin is CTAP2_ERR_FP_DATABASE_FULL), the same
//! one the control socket's `enrol-finger` makes: enrolment through CTAP and through the band's
//! own controls are two doors to one fingerprint. Like the control socket, enrolment needs the
//! band on the wrist and not in "See Admin" (else CTAP2_ERR_OPERATION_DENIED). A capture is one
//! [`Env::fingerprint_capture`]: [`CAPTURES_PER_ATTEMPT`] good samples make the template; a poor
//! sample is reported (lastEnrollSampleStatus CTAP2_ENROLL_FEEDBACK_FP_POOR_QUALITY) and simply
//! retaken, as fingerprint keys do, instead of spoiling an attempt as on the control socket; no
//! finger before the timeout ends the enrolment with CTAP2_ERR_USER_ACTION_TIMEOUT.

use crate::band::{CAPTURES_PER_ATTEMPT, CaptureQuality};
use crate::cbor::{Params, Value};
use crate::env::Env;
use crate::state::{MAX_UV_RETRIES, ModelKind};
use crate::status::Status;
use crate::token::PERM_BE;
use crate::{Authenticator, check_protocol, crypto};

use super::parse;

const ENROLL_BEGIN: u64 = 0x01;
const ENROLL_CAPTURE_NEXT_SAMPLE: u64 = 0x02;
const CANCEL_CURRENT_ENROLLMENT: u64 = 0x03;
const ENUMERATE_ENROLLMENTS: u64 = 0x04;
const SET_FRIENDLY_NAME: u64 = 0x05;
const REMOVE_ENROLLMENT: u64 = 0x06;
const GET_FINGERPRINT_SENSOR_INFO: u64 = 0x07;

/// modality fingerprint.
pub const MODALITY_FINGERPRINT: u64 = 0x01;
/// fingerprintKind touch sensor.
pub const FINGERPRINT_KIND_TOUCH: u64 = 0x01;
/// maxTemplateFriendlyName, in bytes.
pub const MAX_TEMPLATE_FRIENDLY_NAME: usize = 32;
/// lastEnrollSampleStatus CTAP2_ENROLL_FEEDBACK_FP_GOOD.
pub const FEEDBACK_FP_GOOD: u64 = 0x00;
/// lastEnrollSampleStatus CTAP2_ENROLL_FEEDBACK_FP_POOR_QUALITY.
pub const FEEDBACK_FP_POOR_QUALITY: u64 = 0x07;
/// Length of a template ID.
const TEMPLATE_ID_LEN: usize = 4;

/// An enrolment in progress (volatile: a power cycle abandons it).
pub struct Enrollment {
    template_id: Vec<u8>,
    remaining: usize,
}

/// Runs one bioEnrollment request.
pub fn run(a: &mut Authenticator, env: &mut dyn Env, p: &Params) -> Result<Option<Value>, Status> {
    // Only the band has a sensor; on other models the command does not exist.
    if a.state.model.kind != ModelKind::Band {
        return Err(Status::InvalidCommand);
    }
    // getModality (0x06 = true) answers alone.
    if let Some(v) = p.get(0x06)
        && v.as_bool()?
    {
        return Ok(Some(Value::int_map(vec![(
            0x01,
            Value::Int(MODALITY_FINGERPRINT.into()),
        )])));
    }
    let modality = p.require(0x01)?.as_uint()?;
    let sub = p.require(0x02)?.as_uint()?;
    let sp = p.get(0x03);
    if let Some(sp) = sp {
        sp.as_map()?;
        if let Some(t) = sp.get_int_key(0x03) {
            // timeoutMilliseconds: the transport's presence policy decides how long we wait.
            t.as_uint()?;
        }
    }
    let param = parse::pin_uv_auth(p, 0x05, 0x04)?;
    if modality != MODALITY_FINGERPRINT {
        return Err(Status::InvalidParameter);
    }
    let sp = sp.unwrap_or(&Value::Null);
    match sub {
        GET_FINGERPRINT_SENSOR_INFO => Ok(Some(sensor_info())),
        CANCEL_CURRENT_ENROLLMENT => {
            a.vol.enrollment = None;
            Ok(None)
        }
        ENROLL_BEGIN | ENROLL_CAPTURE_NEXT_SAMPLE | ENUMERATE_ENROLLMENTS | SET_FRIENDLY_NAME | REMOVE_ENROLLMENT => {
            authorize(a, env, p, modality, sub, param.as_deref())?;
            match sub {
                ENROLL_BEGIN => enroll_begin(a, env).map(Some),
                ENROLL_CAPTURE_NEXT_SAMPLE => capture_next(a, env, sp).map(Some),
                ENUMERATE_ENROLLMENTS => enumerate(a).map(Some),
                SET_FRIENDLY_NAME => set_friendly_name(a, sp).map(|()| None),
                _ => remove(a, sp).map(|()| None),
            }
        }
        _ => Err(Status::InvalidSubcommand),
    }
}

/// §6.7.2 getFingerprintSensorInfo.
fn sensor_info() -> Value {
    Value::int_map(vec![
        (0x01, Value::Int(MODALITY_FINGERPRINT.into())),
        (0x02, Value::Int(FINGERPRINT_KIND_TOUCH.into())),
        (0x03, Value::Int(CAPTURES_PER_ATTEMPT as i128)),
        (0x08, Value::Int(MAX_TEMPLATE_FRIENDLY_NAME as i128)),
    ])
}

/// pinUvAuthParam present (else CTAP2_ERR_PUAT_REQUIRED), a supported protocol, verify(token,
/// modality ‖ subCommand ‖ subCommandParams), and the `be` permission (else PIN_AUTH_INVALID).
fn authorize(
    a: &mut Authenticator,
    env: &mut dyn Env,
    p: &Params,
    modality: u64,
    sub: u64,
    param: Option<&[u8]>,
) -> Result<(), Status> {
    let param = param.ok_or(Status::PuatRequired)?;
    let protocol = check_protocol(p.get(0x04))?;
    let message = [&[modality as u8, sub as u8][..], p.raw(0x03).unwrap_or_default()].concat();
    let token = a.verify_token(env, protocol, &message, param)?;
    if token.permissions & PERM_BE == 0 {
        return Err(Status::PinAuthInvalid);
    }
    Ok(())
}

/// §6.7.3 enrollBegin: a new template and its first sample.
fn enroll_begin(a: &mut Authenticator, env: &mut dyn Env) -> Result<Value, Status> {
    let band = &a.state.band;
    if band.see_admin || !band.worn {
        return Err(Status::OperationDenied);
    }
    if band.enrolled {
        return Err(Status::FpDatabaseFull);
    }
    let template_id = crypto::random::<TEMPLATE_ID_LEN>(env.rng()).to_vec();
    a.vol.enrollment = Some(Enrollment {
        template_id: template_id.clone(),
        remaining: CAPTURES_PER_ATTEMPT,
    });
    let mut out = capture(a, env)?;
    out.insert(0, (0x04, Value::Bytes(template_id)));
    Ok(Value::int_map(out))
}

/// §6.7.4 enrollCaptureNextSample.
fn capture_next(a: &mut Authenticator, env: &mut dyn Env, sp: &Value) -> Result<Value, Status> {
    let id = sp.get_int_key(0x01).ok_or(Status::MissingParameter)?.as_bytes()?;
    if a.vol.enrollment.as_ref().is_none_or(|e| e.template_id != id) {
        return Err(Status::InvalidParameter);
    }
    if !a.state.band.worn {
        a.vol.enrollment = None;
        return Err(Status::OperationDenied);
    }
    capture(a, env).map(Value::int_map)
}

/// One sample: lastEnrollSampleStatus and remainingSamples; the last good one stores the template.
fn capture(a: &mut Authenticator, env: &mut dyn Env) -> Result<Vec<(i128, Value)>, Status> {
    let Some(sample) = env.fingerprint_capture() else {
        a.vol.enrollment = None;
        return Err(Status::UserActionTimeout);
    };
    let Some(e) = a.vol.enrollment.as_mut() else {
        return Err(Status::InvalidParameter);
    };
    let status = match sample {
        CaptureQuality::Good => {
            e.remaining -= 1;
            FEEDBACK_FP_GOOD
        }
        CaptureQuality::Poor => FEEDBACK_FP_POOR_QUALITY,
    };
    let remaining = e.remaining;
    if remaining == 0 {
        let template_id = a.vol.enrollment.take().map(|e| e.template_id).unwrap_or_default();
        let band = &mut a.state.band;
        band.enrolled = true;
        band.template_id = template_id;
        band.template_name = String::new();
        band.failed_attempts = 0;
        a.state.uv_retries = MAX_UV_RETRIES;
    }
    Ok(vec![
        (0x05, Value::Int(status.into())),
        (0x06, Value::Int(remaining as i128)),
    ])
}

/// §6.7.6 enumerateEnrollments: no template → CTAP2_ERR_INVALID_OPTION.
fn enumerate(a: &Authenticator) -> Result<Value, Status> {
    let band = &a.state.band;
    if !band.enrolled {
        return Err(Status::InvalidOption);
    }
    Ok(Value::int_map(vec![(
        0x07,
        Value::Array(vec![Value::int_map(vec![
            (0x01, Value::bytes(&band.template_id)),
            (0x02, Value::text(&band.template_name)),
        ])]),
    )]))
}

/// The enrolled template named by subCommandParams.templateId, or CTAP2_ERR_INVALID_OPTION.
fn check_template(a: &Authenticator, sp: &Value) -> Result<(), Status> {
    let id = sp.get_int_key(0x01).ok_or(Status::MissingParameter)?.as_bytes()?;
    if a.state.band.enrolled && a.state.band.template_id == id {
        Ok(())
    } else {
        Err(Status::InvalidOption)
    }
}

/// §6.7.7 setFriendlyName.
fn set_friendly_name(a: &mut Authenticator, sp: &Value) -> Result<(), Status> {
    let name = sp.get_int_key(0x02).ok_or(Status::MissingParameter)?.as_text()?;
    check_template(a, sp)?;
    if name.len() > MAX_TEMPLATE_FRIENDLY_NAME {
        return Err(Status::InvalidParameter);
    }
    a.state.band.template_name = name.to_owned();
    Ok(())
}

/// §6.7.8 removeEnrollment: the fingerprint is gone, and with it built-in UV (tokens obtained by
/// UV are revoked). Credentials stay: they still work with the PIN.
fn remove(a: &mut Authenticator, sp: &Value) -> Result<(), Status> {
    check_template(a, sp)?;
    let band = &mut a.state.band;
    band.enrolled = false;
    band.template_id.clear();
    band.template_name.clear();
    if a.vol.token.as_ref().is_some_and(|t| t.from_uv) {
        a.vol.token = None;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
