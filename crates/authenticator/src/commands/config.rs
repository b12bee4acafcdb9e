//! authenticatorConfig (0x0D), CTAP 2.1 §6.11: enableEnterpriseAttestation (on an
//! enterprise-attestation capable device, see [`crate::enterprise`]), toggleAlwaysUv and
//! setMinPINLength.
//!
//! Request keys: 0x01 subCommand, 0x02 subCommandParams, 0x03 pinUvAuthProtocol, 0x04
//! pinUvAuthParam = authenticate(pinUvAuthToken, 32×0xff ‖ 0x0d ‖ uint8(subCommand) ‖
//! subCommandParams). setMinPINLength params: 0x01 newMinPINLength, 0x02 minPinLengthRPIDs,
//! 0x03 forceChangePin.

use super::parse;
use crate::cbor::{Params, Value};
use crate::env::Env;
use crate::status::Status;
use crate::token::PERM_ACFG;
use crate::{Authenticator, check_protocol, enterprise};

use super::client_pin::MAX_PIN_BYTES;
use super::get_info::MAX_RP_IDS_FOR_SET_MIN_PIN_LENGTH;

const ENABLE_ENTERPRISE_ATTESTATION: u64 = 0x01;
const TOGGLE_ALWAYS_UV: u64 = 0x02;
const SET_MIN_PIN_LENGTH: u64 = 0x03;

/// Runs one authenticatorConfig subcommand.
pub fn run(a: &mut Authenticator, env: &mut dyn Env, p: &Params) -> Result<(), Status> {
    let sub = p.require(0x01)?.as_uint()?;
    let sp = p.get(0x02);
    if let Some(sp) = sp {
        sp.as_map()?;
    }
    let param = parse::pin_uv_auth(p, 0x04, 0x03)?;
    // 1. vendorPrototype (0xFF) is not implemented; enableEnterpriseAttestation only on a
    //    capable device (getInfo then lists the "ep" option).
    let ep_capable = enterprise::capable(&a.state);
    let known = match sub {
        ENABLE_ENTERPRISE_ATTESTATION => ep_capable,
        TOGGLE_ALWAYS_UV | SET_MIN_PIN_LENGTH => true,
        _ => false,
    };
    if !known {
        return Err(Status::InvalidSubcommand);
    }
    // 2.–4. An authenticator protected by UV (or with alwaysUv on) needs an acfg token.
    match param {
        None if a.state.uv_protected() || a.state.always_uv => return Err(Status::PuatRequired),
        None => {}
        Some(param) => {
            let protocol = check_protocol(p.get(0x03))?;
            let message = [&[0xffu8; 32][..], &[0x0d, sub as u8], p.raw(0x02).unwrap_or_default()].concat();
            let token = a.verify_token(env, protocol, &message, &param)?;
            if token.permissions & PERM_ACFG == 0 {
                return Err(Status::PinAuthInvalid);
            }
        }
    }
    match sub {
        ENABLE_ENTERPRISE_ATTESTATION => {
            // §6.11.1: enable (again); already enabled is fine.
            a.state.ep_enabled = true;
            Ok(())
        }
        TOGGLE_ALWAYS_UV => {
            // §6.11.2: flip alwaysUv. While on, U2F is off and makeCredUvNotRqd is false.
            a.state.always_uv = !a.state.always_uv;
            Ok(())
        }
        _ => set_min_pin_length(a, sp),
    }
}

/// §6.11.4 setMinPINLength.
fn set_min_pin_length(a: &mut Authenticator, sp: Option<&Value>) -> Result<(), Status> {
    let get = |k: i128| sp.and_then(|v| v.get_int_key(k));
    let new_min = get(0x01)
        .map(Value::as_uint)
        .transpose()?
        .unwrap_or(a.state.min_pin_length.into());
    let rp_ids = get(0x02)
        .map(|v| {
            v.as_array()?
                .iter()
                .map(|r| r.as_text().map(str::to_owned))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let force = get(0x03).map(Value::as_bool).transpose()?.unwrap_or(false);
    // 1. The minimum may only grow, and must leave room for a PIN.
    if new_min < a.state.min_pin_length.into() || new_min > MAX_PIN_BYTES as u64 {
        return Err(Status::PinPolicyViolation);
    }
    // 2. Too many RP IDs to store: CTAP2_ERR_KEY_STORE_FULL.
    if rp_ids
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RP_IDS_FOR_SET_MIN_PIN_LENGTH)
    {
        return Err(Status::KeyStoreFull);
    }
    // 3. forceChangePin needs a PIN to change.
    if force && !a.state.pin_is_set() {
        return Err(Status::PinNotSet);
    }
    // 4.–6. Store, and force a PIN change if asked or if the current PIN is now too short.
    a.state.min_pin_length = new_min as u8;
    if let Some(rp_ids) = rp_ids {
        a.state.min_pin_length_rp_ids = rp_ids;
    }
    if a.state.pin_is_set() && (force || a.state.pin_code_points < a.state.min_pin_length) {
        a.state.force_pin_change = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
