//! Request pieces shared by several commands: options, credential descriptors, the
//! pinUvAuthParam rules of §6.1.2/§6.2.2 steps 1–2.

use crate::cbor::{Params, Value};
use crate::env::Env;
use crate::pin_protocol::Protocol;
use crate::status::Status;
use crate::{Authenticator, check_protocol, collect_user_presence};

/// The `options` map: each known key, if present.
#[derive(Debug, Default)]
pub struct Options {
    pub rk: Option<bool>,
    pub up: Option<bool>,
    pub uv: Option<bool>,
}

/// Parses an options map; values must be booleans, unknown keys are ignored.
pub fn options(v: Option<&Value>) -> Result<Options, Status> {
    let Some(v) = v else { return Ok(Options::default()) };
    let mut out = Options::default();
    for (k, val) in v.as_map()? {
        let slot = match k.as_text()? {
            "rk" => &mut out.rk,
            "up" => &mut out.up,
            "uv" => &mut out.uv,
            _ => {
                val.as_bool()?;
                continue;
            }
        };
        *slot = Some(val.as_bool()?);
    }
    Ok(out)
}

/// A PublicKeyCredentialDescriptor's ID; `None` for a type other than "public-key" (skipped).
pub fn descriptor_id(v: &Value) -> Result<Option<Vec<u8>>, Status> {
    v.as_map()?;
    let kind = v.get_text_key("type").ok_or(Status::MissingParameter)?.as_text()?;
    let id = v.get_text_key("id").ok_or(Status::MissingParameter)?.as_bytes()?;
    if let Some(t) = v.get_text_key("transports") {
        t.as_array()?;
    }
    Ok((kind == "public-key").then(|| id.to_vec()))
}

/// A list of descriptors (allowList, excludeList); absent = empty.
pub fn descriptor_list(v: Option<&Value>) -> Result<Vec<Vec<u8>>, Status> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for d in v.as_array()? {
        if let Some(id) = descriptor_id(d)? {
            out.push(id);
        }
    }
    Ok(out)
}

/// An optional text member of a map.
pub fn opt_text(map: &Value, key: &str) -> Result<Option<String>, Status> {
    map.get_text_key(key)
        .map(|v| v.as_text().map(str::to_owned))
        .transpose()
}

/// pinUvAuthParam and pinUvAuthProtocol, type-checked.
pub fn pin_uv_auth(p: &Params, param_key: i128, protocol_key: i128) -> Result<Option<Vec<u8>>, Status> {
    let param = p.get(param_key).map(|v| v.as_bytes().map(<[u8]>::to_vec)).transpose()?;
    if let Some(v) = p.get(protocol_key) {
        v.as_uint()?;
    }
    Ok(param)
}

/// Steps 1–2 of makeCredential and getAssertion. A zero-length pinUvAuthParam is a platform
/// asking for a touch to select this authenticator: after the touch answer PIN_INVALID if a PIN
/// is set, else PIN_NOT_SET. A non-empty one needs a supported pinUvAuthProtocol.
pub fn pin_uv_auth_preamble(
    a: &Authenticator,
    env: &mut dyn Env,
    param: Option<&[u8]>,
    protocol: Option<&Value>,
) -> Result<Option<Protocol>, Status> {
    match param {
        Some([]) => {
            collect_user_presence(env)?;
            Err(if a.state.pin_is_set() {
                Status::PinInvalid
            } else {
                Status::PinNotSet
            })
        }
        Some(_) => check_protocol(protocol).map(Some),
        None => Ok(None),
    }
}
