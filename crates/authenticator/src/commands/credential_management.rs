//! authenticatorCredentialManagement (0x0A), CTAP 2.1 §6.8.
//!
//! Request keys: 0x01 subCommand, 0x02 subCommandParams {0x01 rpIDHash, 0x02 credentialID, 0x03
//! user}, 0x03 pinUvAuthProtocol, 0x04 pinUvAuthParam. Response keys: 0x01
//! existingResidentCredentialsCount, 0x02 maxPossibleRemainingResidentCredentialsCount, 0x03 rp,
//! 0x04 rpIDHash, 0x05 totalRPs, 0x06 user, 0x07 credentialID, 0x08 publicKey, 0x09
//! totalCredentials, 0x0A credProtect.
//!
//! pinUvAuthParam = authenticate(pinUvAuthToken, subCommand ‖ subCommandParams), where
//! subCommandParams are the bytes exactly as the platform sent them.

use super::Pending;
use super::parse;
use crate::cbor::{Params, Value};
use crate::env::Env;
use crate::state::{MAX_RESIDENT_CREDENTIALS, ResidentCredential};
use crate::status::Status;
use crate::token::PERM_CM;
use crate::{Authenticator, check_protocol, crypto};

const GET_CREDS_METADATA: u64 = 0x01;
const ENUMERATE_RPS_BEGIN: u64 = 0x02;
const ENUMERATE_RPS_GET_NEXT: u64 = 0x03;
const ENUMERATE_CREDENTIALS_BEGIN: u64 = 0x04;
const ENUMERATE_CREDENTIALS_GET_NEXT: u64 = 0x05;
const DELETE_CREDENTIAL: u64 = 0x06;
const UPDATE_USER_INFORMATION: u64 = 0x07;

/// RPs not yet returned by enumerateRPsGetNextRP.
pub struct PendingRps {
    remaining: Vec<(String, Option<String>)>,
}

/// Credentials not yet returned by enumerateCredentialsGetNextCredential.
pub struct PendingCredentials {
    remaining: Vec<ResidentCredential>,
}

/// Runs one credential management subcommand.
pub fn run(a: &mut Authenticator, env: &mut dyn Env, p: &Params, pending: Pending) -> Result<Option<Value>, Status> {
    let sub = p.require(0x01)?.as_uint()?;
    let sub_params = p.get(0x02);
    if let Some(sp) = sub_params {
        sp.as_map()?;
    }
    match sub {
        ENUMERATE_RPS_GET_NEXT => next_rp(a, pending).map(Some),
        ENUMERATE_CREDENTIALS_GET_NEXT => next_credential(a, pending).map(Some),
        GET_CREDS_METADATA
        | ENUMERATE_RPS_BEGIN
        | ENUMERATE_CREDENTIALS_BEGIN
        | DELETE_CREDENTIAL
        | UPDATE_USER_INFORMATION => {
            let token_rp = authorize(a, env, p, sub)?;
            let sp = sub_params.unwrap_or(&Value::Null);
            match sub {
                GET_CREDS_METADATA => metadata(a, token_rp.as_deref()).map(Some),
                ENUMERATE_RPS_BEGIN => rps_begin(a, token_rp.as_deref()).map(Some),
                ENUMERATE_CREDENTIALS_BEGIN => credentials_begin(a, sp, token_rp.as_deref()).map(Some),
                DELETE_CREDENTIAL => delete(a, sp, token_rp.as_deref()).map(|()| None),
                _ => update_user(a, sp, token_rp.as_deref()).map(|()| None),
            }
        }
        _ => Err(Status::InvalidSubcommand),
    }
}

/// Steps 1–4 for the authenticated subcommands: pinUvAuthParam present (else PUAT_REQUIRED),
/// protocol two, verify(token, subCommand ‖ subCommandParams), cm permission. Returns the
/// token's permissions RP ID.
fn authorize(a: &mut Authenticator, env: &mut dyn Env, p: &Params, sub: u64) -> Result<Option<String>, Status> {
    let param = p.get(0x04).ok_or(Status::PuatRequired)?.as_bytes()?;
    let protocol = check_protocol(p.get(0x03))?;
    let message = [&[sub as u8][..], p.raw(0x02).unwrap_or_default()].concat();
    let token = a.verify_token(env, protocol, &message, param)?;
    if token.permissions & PERM_CM == 0 {
        return Err(Status::PinAuthInvalid);
    }
    Ok(token.rp_id.clone())
}

/// Metadata and RP enumeration span all RPs, so an RP-bound token may not ask for them.
fn require_unbound(token_rp: Option<&str>) -> Result<(), Status> {
    if token_rp.is_some() {
        Err(Status::PinAuthInvalid)
    } else {
        Ok(())
    }
}

/// A token bound to an RP may only touch that RP's credentials.
fn require_rp(token_rp: Option<&str>, rp_id: &str) -> Result<(), Status> {
    match token_rp {
        Some(rp) if rp != rp_id => Err(Status::PinAuthInvalid),
        _ => Ok(()),
    }
}

/// §6.8.2 getCredsMetadata.
fn metadata(a: &Authenticator, token_rp: Option<&str>) -> Result<Value, Status> {
    require_unbound(token_rp)?;
    let n = a.state.credentials.len();
    Ok(Value::int_map(vec![
        (0x01, Value::Int(n as i128)),
        (0x02, Value::Int(MAX_RESIDENT_CREDENTIALS.saturating_sub(n) as i128)),
    ]))
}

fn rp_entry(rp_id: &str, rp_name: Option<&str>) -> Vec<(i128, Value)> {
    let mut rp = vec![("id", Value::text(rp_id))];
    if let Some(name) = rp_name {
        rp.push(("name", Value::text(name)));
    }
    vec![
        (0x03, Value::text_map(rp)),
        (0x04, Value::bytes(&crypto::sha256(rp_id.as_bytes()))),
    ]
}

/// §6.8.3 enumerateRPsBegin.
fn rps_begin(a: &mut Authenticator, token_rp: Option<&str>) -> Result<Value, Status> {
    require_unbound(token_rp)?;
    let mut rps: Vec<(String, Option<String>)> = Vec::new();
    for c in &a.state.credentials {
        if !rps.iter().any(|(id, _)| *id == c.rp_id) {
            rps.push((c.rp_id.clone(), c.rp_name.clone()));
        }
    }
    if rps.is_empty() {
        return Err(Status::NoCredentials);
    }
    let total = rps.len();
    let (rp_id, rp_name) = rps.remove(0);
    let mut out = rp_entry(&rp_id, rp_name.as_deref());
    out.push((0x05, Value::Int(total as i128)));
    if !rps.is_empty() {
        a.vol.pending = Pending::Rps(PendingRps { remaining: rps });
    }
    Ok(Value::int_map(out))
}

/// §6.8.3 enumerateRPsGetNextRP.
fn next_rp(a: &mut Authenticator, pending: Pending) -> Result<Value, Status> {
    let Pending::Rps(mut state) = pending else {
        return Err(Status::NotAllowed);
    };
    if state.remaining.is_empty() {
        return Err(Status::NotAllowed);
    }
    let (rp_id, rp_name) = state.remaining.remove(0);
    if !state.remaining.is_empty() {
        a.vol.pending = Pending::Rps(state);
    }
    Ok(Value::int_map(rp_entry(&rp_id, rp_name.as_deref())))
}

fn credential_entry(c: &ResidentCredential) -> Result<Vec<(i128, Value)>, Status> {
    let mut user = vec![("id", Value::bytes(&c.user_id))];
    if let Some(n) = &c.user_name {
        user.push(("name", Value::text(n)));
    }
    if let Some(d) = &c.user_display_name {
        user.push(("displayName", Value::text(d)));
    }
    let public_key = c.alg.cose_public_key(&c.private_key).ok_or(Status::Other)?;
    Ok(vec![
        (0x06, Value::text_map(user)),
        (
            0x07,
            Value::text_map(vec![("id", Value::bytes(&c.id)), ("type", Value::text("public-key"))]),
        ),
        (0x08, public_key),
        (0x0A, Value::Int(c.cred_protect.into())),
    ])
}

/// §6.8.4 enumerateCredentialsBegin.
fn credentials_begin(a: &mut Authenticator, sp: &Value, token_rp: Option<&str>) -> Result<Value, Status> {
    let hash = sp.get_int_key(0x01).ok_or(Status::MissingParameter)?.as_bytes()?;
    if let Some(rp) = token_rp
        && crypto::sha256(rp.as_bytes()).as_slice() != hash
    {
        return Err(Status::PinAuthInvalid);
    }
    let mut creds: Vec<ResidentCredential> = a
        .state
        .credentials
        .iter()
        .filter(|c| crypto::sha256(c.rp_id.as_bytes()).as_slice() == hash)
        .cloned()
        .collect();
    if creds.is_empty() {
        return Err(Status::NoCredentials);
    }
    let total = creds.len();
    let first = creds.remove(0);
    let mut out = credential_entry(&first)?;
    out.push((0x09, Value::Int(total as i128)));
    if !creds.is_empty() {
        a.vol.pending = Pending::Credentials(PendingCredentials { remaining: creds });
    }
    Ok(Value::int_map(out))
}

/// §6.8.4 enumerateCredentialsGetNextCredential.
fn next_credential(a: &mut Authenticator, pending: Pending) -> Result<Value, Status> {
    let Pending::Credentials(mut state) = pending else {
        return Err(Status::NotAllowed);
    };
    if state.remaining.is_empty() {
        return Err(Status::NotAllowed);
    }
    let c = state.remaining.remove(0);
    if !state.remaining.is_empty() {
        a.vol.pending = Pending::Credentials(state);
    }
    credential_entry(&c).map(Value::int_map)
}

/// The stored credential named by subCommandParams.credentialID, or NO_CREDENTIALS.
fn target(a: &Authenticator, sp: &Value, token_rp: Option<&str>) -> Result<usize, Status> {
    let descriptor = sp.get_int_key(0x02).ok_or(Status::MissingParameter)?;
    let id = parse::descriptor_id(descriptor)?.ok_or(Status::NoCredentials)?;
    let index = a
        .state
        .credentials
        .iter()
        .position(|c| c.id == id)
        .ok_or(Status::NoCredentials)?;
    require_rp(token_rp, &a.state.credentials[index].rp_id)?;
    Ok(index)
}

/// §6.8.5 deleteCredential.
fn delete(a: &mut Authenticator, sp: &Value, token_rp: Option<&str>) -> Result<(), Status> {
    let index = target(a, sp, token_rp)?;
    a.state.credentials.remove(index);
    Ok(())
}

/// §6.8.6 updateUserInformation: the user handle must match; name and displayName are replaced
/// (absent = removed).
fn update_user(a: &mut Authenticator, sp: &Value, token_rp: Option<&str>) -> Result<(), Status> {
    let user = sp.get_int_key(0x03).ok_or(Status::MissingParameter)?;
    user.as_map()?;
    let user_id = user.get_text_key("id").ok_or(Status::MissingParameter)?.as_bytes()?;
    let name = parse::opt_text(user, "name")?;
    let display_name = parse::opt_text(user, "displayName")?;
    let index = target(a, sp, token_rp)?;
    let c = &mut a.state.credentials[index];
    if c.user_id != user_id {
        return Err(Status::InvalidParameter);
    }
    c.user_name = name.as_deref().map(crate::credential::truncate64);
    c.user_display_name = display_name.as_deref().map(crate::credential::truncate64);
    Ok(())
}

#[cfg(test)]
mod tests;
