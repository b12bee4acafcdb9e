//! authenticatorGetAssertion (0x02), CTAP 2.1 §6.2.
//!
//! Request keys: 0x01 rpId, 0x02 clientDataHash, 0x03 allowList, 0x04 extensions, 0x05 options,
//! 0x06 pinUvAuthParam, 0x07 pinUvAuthProtocol. Response keys: 0x01 credential, 0x02 authData,
//! 0x03 signature, 0x04 user, 0x05 numberOfCredentials, 0x07 largeBlobKey.

use super::Pending;
use super::get_next_assertion::PendingAssertions;
use super::make_credential::perform_builtin_uv;
use super::parse::{self, Options};
use crate::cbor::{Params, Value};
use crate::credential::{self, FLAG_UP, FLAG_UV, Found};
use crate::env::Env;
use crate::extensions::{self, HmacSecret};
use crate::pin_protocol::Protocol;
use crate::status::Status;
use crate::token::PERM_GA;
use crate::{Authenticator, collect_user_presence, crypto};

struct Request {
    rp_id: String,
    client_data_hash: Vec<u8>,
    allow_list: Option<Vec<Vec<u8>>>,
    options: Options,
    pin_uv_auth_param: Option<Vec<u8>>,
}

impl Request {
    fn parse(p: &Params) -> Result<Request, Status> {
        Ok(Request {
            rp_id: p.require(0x01)?.as_text()?.to_owned(),
            client_data_hash: p.require(0x02)?.as_bytes()?.to_vec(),
            allow_list: p.get(0x03).map(|v| parse::descriptor_list(Some(v))).transpose()?,
            options: parse::options(p.get(0x05))?,
            pin_uv_auth_param: parse::pin_uv_auth(p, 0x06, 0x07)?,
        })
    }
}

/// What every assertion of one request shares (also kept for authenticatorGetNextAssertion).
pub struct Context {
    pub rp_id_hash: [u8; 32],
    pub client_data_hash: Vec<u8>,
    pub flags: u8,
    pub hmac_secret: Option<HmacSecret>,
    /// credBlob: true (§12.2): return each credential's credBlob.
    pub cred_blob: bool,
    /// largeBlobKey: true (§12.3): return each discoverable credential's largeBlobKey.
    pub large_blob_key: bool,
}

/// Runs authenticatorGetAssertion.
pub fn run(a: &mut Authenticator, env: &mut dyn Env, p: &Params) -> Result<Value, Status> {
    let mut cred_blob = false;
    let mut large_blob_key = false;
    if let Some(ext) = p.get(0x04) {
        ext.as_map()?;
        if let Some(v) = ext.get_text_key("credBlob") {
            cred_blob = v.as_bool()?;
        }
        if let Some(v) = ext.get_text_key("largeBlobKey") {
            // §12.3: the only valid input is true.
            if !v.as_bool()? {
                return Err(Status::InvalidOption);
            }
            large_blob_key = true;
        }
    }
    let req = Request::parse(p)?;
    let param = req.pin_uv_auth_param.as_deref();
    // 1.–2. Zero-length pinUvAuthParam (touch to select) and pinUvAuthProtocol.
    let protocol = parse::pin_uv_auth_preamble(a, env, param, p.get(0x07))?;
    // 3.–4. Options: "rk" is not an assertion option; "up" defaults to true.
    if req.options.rk.is_some() {
        return Err(Status::UnsupportedOption);
    }
    let up = req.options.up.unwrap_or(true);
    let mut uv_option = param.is_none() && req.options.uv.unwrap_or(false);
    if uv_option && !a.builtin_uv_enrolled() {
        return Err(Status::InvalidOption);
    }
    // 5. "If the alwaysUv option ID is present and true and the "up" option is present and true":
    //    not protected by any form of user verification → CTAP2_ERR_PUAT_REQUIRED (clientPin is
    //    supported, so not OPERATION_DENIED); no pinUvAuthParam and "uv" false → use the enabled
    //    built-in UV method as if "uv" were true, else CTAP2_ERR_PUAT_REQUIRED.
    if a.state.always_uv && up {
        if !a.state.uv_protected() {
            return Err(Status::PuatRequired);
        }
        if param.is_none() && !uv_option {
            if !a.builtin_uv_enrolled() {
                return Err(Status::PuatRequired);
            }
            uv_option = true;
        }
    }
    // 6. User verification, by pinUvAuthToken or the band's built-in UV.
    let mut flags = 0u8;
    let mut up_done = false;
    if let Some(param) = param {
        authorize_token(a, env, protocol.unwrap_or(Protocol::Two), &req, param)?;
        flags |= FLAG_UV;
    } else if uv_option {
        perform_builtin_uv(a)?;
        flags |= FLAG_UV;
        up_done = true;
    }
    // 7. Locate eligible credentials (newest first when discoverable); an empty list is
    //    CTAP2_ERR_NO_CREDENTIALS (python-fido2's silent pre-flight relies on this).
    let uv = flags & FLAG_UV != 0;
    let mut creds = locate(a, &req, uv);
    if creds.is_empty() {
        return Err(Status::NoCredentials);
    }
    let hmac_secret = extensions::prepare_hmac_secret(a, env, p.get(0x04))?;
    // 8.–9. User presence, unless not requested or already given by built-in UV (step 8) or the
    //    token; a used token is then spent (clearUserPresentFlag() and the rest).
    if up {
        let token_up = param.is_some() && a.vol.token.as_ref().is_some_and(|t| t.user_present);
        if !up_done && !token_up {
            collect_user_presence(env)?;
        }
        if param.is_some()
            && let Some(t) = a.vol.token.as_mut()
        {
            t.consume();
        }
        flags |= FLAG_UP;
    }
    let ctx = Context {
        rp_id_hash: crypto::sha256(req.rp_id.as_bytes()),
        client_data_hash: req.client_data_hash,
        flags,
        hmac_secret,
        cred_blob,
        large_blob_key,
    };
    // 10.–12. Sign with the first credential; keep the rest for authenticatorGetNextAssertion.
    let first = creds.remove(0);
    let total = (req.allow_list.is_none() && !creds.is_empty()).then_some(creds.len() + 1);
    let response = assertion(a, env, &ctx, &first, total)?;
    if total.is_some() {
        a.vol.pending = Pending::Assertions(PendingAssertions {
            ctx,
            remaining: creds,
            last_at: env.now_ms(),
        });
    }
    Ok(response)
}

/// Step 6.1: verify pinUvAuthParam with the token, its ga permission and its RP ID.
fn authorize_token(
    a: &mut Authenticator,
    env: &mut dyn Env,
    protocol: Protocol,
    req: &Request,
    param: &[u8],
) -> Result<(), Status> {
    let token = a.verify_token(env, protocol, &req.client_data_hash, param)?;
    if token.permissions & PERM_GA == 0 || !token.user_verified {
        return Err(Status::PinAuthInvalid);
    }
    match &token.rp_id {
        Some(rp) if *rp != req.rp_id => Err(Status::PinAuthInvalid),
        Some(_) => Ok(()),
        None => {
            token.rp_id = Some(req.rp_id.clone());
            Ok(())
        }
    }
}

/// Step 7: the allowList's first usable credential, or every usable discoverable credential of
/// the RP, newest first.
fn locate(a: &Authenticator, req: &Request, uv: bool) -> Vec<Found> {
    match &req.allow_list {
        Some(list) => list
            .iter()
            .filter_map(|id| credential::find(&a.state, &req.rp_id, id))
            .filter(|c| c.usable(uv, true))
            .take(1)
            .collect(),
        None => {
            let mut found: Vec<Found> = a
                .state
                .credentials
                .iter()
                .filter(|c| c.rp_id == req.rp_id)
                .map(Found::from)
                .filter(|c| c.usable(uv, false))
                .collect();
            found.sort_by_key(|c| std::cmp::Reverse(c.resident.as_ref().map_or(0, |r| r.created)));
            found
        }
    }
}

/// Signs one assertion (step 12) and builds the response map.
pub fn assertion(
    a: &mut Authenticator,
    env: &mut dyn Env,
    ctx: &Context,
    cred: &Found,
    number_of_credentials: Option<usize>,
) -> Result<Value, Status> {
    let uv = ctx.flags & FLAG_UV != 0;
    let mut ext = Vec::new();
    if ctx.cred_blob {
        // §12.2: the stored blob, or an empty byte string when there is none.
        ext.push(("credBlob", Value::bytes(cred.cred_blob.as_deref().unwrap_or_default())));
    }
    if let Some(out) = ctx.hmac_secret.as_ref().and_then(|h| h.output(a, env.rng(), cred, uv)) {
        ext.push(("hmac-secret", out));
    }
    let ext = (!ext.is_empty()).then(|| Value::text_map(ext));
    a.state.sign_count = a.state.sign_count.wrapping_add(1);
    let auth_data = credential::auth_data(&ctx.rp_id_hash, ctx.flags, a.state.sign_count, None, ext.as_ref());
    let sig = cred
        .alg
        .sign(
            &cred.private_key,
            &[auth_data.as_slice(), &ctx.client_data_hash].concat(),
        )
        .ok_or(Status::Other)?;
    let mut response = vec![
        (
            0x01,
            Value::text_map(vec![
                ("id", Value::bytes(&cred.id)),
                ("type", Value::text("public-key")),
            ]),
        ),
        (0x02, Value::Bytes(auth_data)),
        (0x03, Value::Bytes(sig)),
    ];
    if let Some(user) = &cred.resident {
        // User-identifying fields only after user verification (§6.2.2 step 12).
        let mut u = vec![("id", Value::bytes(&user.user_id))];
        if uv {
            if let Some(n) = &user.name {
                u.push(("name", Value::text(n)));
            }
            if let Some(d) = &user.display_name {
                u.push(("displayName", Value::text(d)));
            }
        }
        response.push((0x04, Value::text_map(u)));
    }
    if let Some(n) = number_of_credentials {
        response.push((0x05, Value::Int(n as i128)));
    }
    if ctx.large_blob_key && cred.resident.is_some() {
        response.push((0x07, Value::bytes(&a.state.large_blob_key(&cred.private_key))));
    }
    Ok(Value::int_map(response))
}

#[cfg(test)]
mod tests;
