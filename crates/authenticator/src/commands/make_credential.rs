//! authenticatorMakeCredential (0x01), CTAP 2.1 §6.1.
//!
//! Request keys: 0x01 clientDataHash, 0x02 rp, 0x03 user, 0x04 pubKeyCredParams, 0x05
//! excludeList, 0x06 extensions, 0x07 options, 0x08 pinUvAuthParam, 0x09 pinUvAuthProtocol, 0x0A
//! enterpriseAttestation. Response: {0x01 fmt, 0x02 authData, 0x03 attStmt, 0x04 epAtt, 0x05
//! largeBlobKey}, `packed` attestation (enterprise attestation: see [`crate::enterprise`]).

use zeroize::Zeroizing;

use super::parse::{self, Options};
use crate::cbor::{Params, Value};
use crate::credential::{self, CRED_PROTECT_OPTIONAL, CRED_PROTECT_REQUIRED, FLAG_UP, FLAG_UV};
use crate::crypto::Alg;
use crate::env::Env;
use crate::extensions::{self, HmacSecret, McInputs};
use crate::pin_protocol::Protocol;
use crate::state::{MAX_RESIDENT_CREDENTIALS, ResidentCredential};
use crate::status::Status;
use crate::token::PERM_MC;
use crate::{Authenticator, collect_user_presence, crypto, enterprise};

/// Longest user handle (WebAuthn: at most 64 bytes).
const MAX_USER_ID_LENGTH: usize = 64;

/// A parsed makeCredential request.
struct Request {
    client_data_hash: Vec<u8>,
    rp_id: String,
    rp_name: Option<String>,
    user_id: Vec<u8>,
    user_name: Option<String>,
    user_display_name: Option<String>,
    /// The first pubKeyCredParams algorithm we support (step 3).
    alg: Option<Alg>,
    exclude_list: Vec<Vec<u8>>,
    extensions: McInputs,
    options: Options,
    pin_uv_auth_param: Option<Vec<u8>>,
    enterprise_attestation: Option<u64>,
}

impl Request {
    fn parse(p: &Params) -> Result<Request, Status> {
        let client_data_hash = p.require(0x01)?.as_bytes()?.to_vec();
        let rp = p.require(0x02)?;
        rp.as_map()?;
        let user = p.require(0x03)?;
        user.as_map()?;
        let user_id = user
            .get_text_key("id")
            .ok_or(Status::MissingParameter)?
            .as_bytes()?
            .to_vec();
        if user_id.len() > MAX_USER_ID_LENGTH {
            return Err(Status::InvalidLength);
        }
        Ok(Request {
            client_data_hash,
            rp_id: parse::opt_text(rp, "id")?.ok_or(Status::MissingParameter)?,
            rp_name: parse::opt_text(rp, "name")?,
            user_id,
            user_name: parse::opt_text(user, "name")?,
            user_display_name: parse::opt_text(user, "displayName")?,
            alg: first_supported_alg(p.require(0x04)?)?,
            exclude_list: parse::descriptor_list(p.get(0x05))?,
            extensions: extensions::parse_mc(p.get(0x06))?,
            options: parse::options(p.get(0x07))?,
            pin_uv_auth_param: parse::pin_uv_auth(p, 0x08, 0x09)?,
            enterprise_attestation: p.get(0x0A).map(Value::as_uint).transpose()?,
        })
    }
}

/// The first {type: "public-key", alg} of pubKeyCredParams whose alg we support (the platform
/// lists them in the RP's order of preference); every element must be well formed.
fn first_supported_alg(params: &Value) -> Result<Option<Alg>, Status> {
    let mut found = None;
    for p in params.as_array()? {
        p.as_map()?;
        let kind = p.get_text_key("type").ok_or(Status::MissingParameter)?.as_text()?;
        let alg = p.get_text_key("alg").ok_or(Status::MissingParameter)?.as_int()?;
        if found.is_none() && kind == "public-key" {
            found = Alg::from_cose(alg);
        }
    }
    Ok(found)
}

/// Runs authenticatorMakeCredential.
pub fn run(a: &mut Authenticator, env: &mut dyn Env, p: &Params) -> Result<Value, Status> {
    let req = Request::parse(p)?;
    let param = req.pin_uv_auth_param.as_deref();
    // 1.–2. Zero-length pinUvAuthParam (touch to select) and pinUvAuthProtocol.
    let protocol = parse::pin_uv_auth_preamble(a, env, param, p.get(0x09))?;
    // 3. ES256, EdDSA or ES384: the first of pubKeyCredParams we support.
    let Some(alg) = req.alg else {
        return Err(Status::UnsupportedAlgorithm);
    };
    // 4.–5. Options. pinUvAuthParam takes precedence over "uv"; "up": false is invalid here.
    let rk = req.options.rk.unwrap_or(false);
    let uv_option = param.is_none() && req.options.uv.unwrap_or(false);
    if uv_option && !a.builtin_uv_enrolled() {
        return Err(Status::InvalidOption);
    }
    if req.options.up == Some(false) {
        return Err(Status::InvalidOption);
    }
    // §12.3: largeBlobKey is for discoverable credentials only.
    if req.extensions.large_blob_key && !rk {
        return Err(Status::InvalidOption);
    }
    // 6. alwaysUv (makeCredUvNotRqd then counts as false): an authenticator not protected by any
    //    form of user verification answers CTAP2_ERR_PUAT_REQUIRED, because clientPin is
    //    supported (OPERATION_DENIED is for authenticators without clientPin). With neither
    //    pinUvAuthParam nor "uv", the answer is CTAP2_ERR_PUAT_REQUIRED too (§6.1.2 steps 6.2, 6.4).
    let protected = a.state.uv_protected();
    if a.state.always_uv && (!protected || (param.is_none() && !uv_option)) {
        return Err(Status::PuatRequired);
    }
    // 7.–8. makeCredUvNotRqd is true unless alwaysUv is on (step 6 handled that case): a protected
    //    authenticator needs pinUvAuthParam or "uv" only for a discoverable credential. The error is
    //    CTAP2_ERR_PUAT_REQUIRED when clientPin is set, else CTAP2_ERR_OPERATION_DENIED.
    if protected && rk && param.is_none() && !uv_option {
        return Err(if a.state.pin_is_set() {
            Status::PuatRequired
        } else {
            Status::OperationDenied
        });
    }
    // 9. enterpriseAttestation: not capable or not enabled → CTAP1_ERR_INVALID_PARAMETER; a
    //    value other than 1 (vendor-facilitated) or 2 (platform-managed) → CTAP2_ERR_INVALID_OPTION.
    if let Some(ep) = req.enterprise_attestation {
        if !enterprise::capable(&a.state) || !a.state.ep_enabled {
            return Err(Status::InvalidParameter);
        }
        if !matches!(ep, enterprise::VENDOR_FACILITATED | enterprise::PLATFORM_MANAGED) {
            return Err(Status::InvalidOption);
        }
    }
    // 10.–11. User verification, by pinUvAuthToken (11.1) or the band's built-in UV (11.2). Step
    //    10 (nothing to verify) is the fall-through.
    let mut flags = 0u8;
    let mut up_done = false;
    if let Some(param) = param {
        authorize_token(a, env, protocol.unwrap_or(Protocol::Two), &req, param)?;
        flags |= FLAG_UV;
    } else if uv_option {
        perform_builtin_uv(a)?;
        flags |= FLAG_UV;
        // Built-in UV on the band is also evidence of user interaction.
        up_done = true;
    }
    // 12. excludeList: an existing credential for this RP (not hidden by credProtect) is
    // reported after a touch, so that a platform cannot probe silently.
    for id in &req.exclude_list {
        if let Some(found) = credential::find(&a.state, &req.rp_id, id)
            && found.usable(flags & FLAG_UV != 0, true)
        {
            collect_user_presence(env)?;
            return Err(Status::CredentialExcluded);
        }
    }
    // KEY_STORE_FULL belongs to credential creation (steps 16–18) but is checked before the touch
    // of step 14, a deliberate reordering: the user should not touch for nothing.
    let replaces = a
        .state
        .credentials
        .iter()
        .any(|c| c.rp_id == req.rp_id && c.user_id == req.user_id);
    if rk && !replaces && a.state.credentials.len() >= MAX_RESIDENT_CREDENTIALS {
        return Err(Status::KeyStoreFull);
    }
    // hmac-secret-mc input (CTAP 2.2 §12.7): verified before the touch, so that a bad input
    // fails without one. It only makes sense together with hmac-secret: true.
    let hmac_secret_mc = match (&req.extensions.hmac_secret_mc, req.extensions.hmac_secret) {
        (Some(input), true) => Some(extensions::prepare_hmac_secret_input(a, env, input)?),
        _ => None,
    };
    // 13.–14. User presence, unless built-in UV (step 13) or the token already provided it; then
    //    the token is spent (14.4: clearUserPresentFlag(), clearUserVerifiedFlag(),
    //    clearPinUvAuthTokenPermissionsExceptLbw()).
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
    // 15.–19. Create the credential, store it if discoverable, and attest it.
    create(
        a,
        env,
        &req,
        Created {
            alg,
            rk,
            flags,
            hmac_secret_mc,
        },
    )
}

/// What steps 1–14 decided for credential creation.
struct Created {
    alg: Alg,
    rk: bool,
    flags: u8,
    hmac_secret_mc: Option<HmacSecret>,
}

/// Step 11.1: verify pinUvAuthParam with the token, its mc permission and its RP ID.
fn authorize_token(
    a: &mut Authenticator,
    env: &mut dyn Env,
    protocol: Protocol,
    req: &Request,
    param: &[u8],
) -> Result<(), Status> {
    let token = a.verify_token(env, protocol, &req.client_data_hash, param)?;
    if token.permissions & PERM_MC == 0 || !token.user_verified {
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

/// performBuiltInUv() for the uv option: the band verifies its wearer while worn.
pub(crate) fn perform_builtin_uv(a: &Authenticator) -> Result<(), Status> {
    if a.state.uv_retries == 0 {
        return Err(Status::UvBlocked);
    }
    if a.builtin_uv_ready() {
        Ok(())
    } else {
        Err(Status::OperationDenied)
    }
}

fn create(a: &mut Authenticator, env: &mut dyn Env, req: &Request, c: Created) -> Result<Value, Status> {
    let rp_id_hash = crypto::sha256(req.rp_id.as_bytes());
    let private_key = c.alg.generate(env.rng());
    let cose_key = c.alg.cose_public_key(&private_key).ok_or(Status::Other)?;
    let cred_protect = req.extensions.cred_protect.unwrap_or(CRED_PROTECT_OPTIONAL);
    // §12.2: a credBlob longer than maxCredBlobLength is not stored (the output says false).
    let cred_blob = req
        .extensions
        .cred_blob
        .as_deref()
        .filter(|b| extensions::cred_blob_fits(b));
    let id = if c.rk {
        let id = crypto::random::<32>(env.rng()).to_vec();
        store_resident(a, req, &id, c.alg, &private_key, cred_protect, cred_blob);
        id
    } else {
        let wrapped = credential::Wrapped {
            alg: c.alg,
            private_key: &private_key,
            cred_protect,
            hmac_secret: req.extensions.hmac_secret,
            cred_blob,
        };
        credential::wrap(&a.state, env.rng(), &rp_id_hash, &wrapped)
    };
    a.state.sign_count = a.state.sign_count.wrapping_add(1);
    let attested = credential::attested_credential_data(&a.state.model.aaguid, &id, &cose_key);
    let uv = c.flags & FLAG_UV != 0;
    let mc_output = c
        .hmac_secret_mc
        .as_ref()
        .map(|h| h.output_for_key(a, env.rng(), &private_key, uv));
    let ext = extensions::mc_outputs(a, &req.extensions, &req.rp_id, mc_output);
    let auth_data = credential::auth_data(&rp_id_hash, c.flags, a.state.sign_count, Some(&attested), ext.as_ref());
    // Step 19 with §7.1: enterprise attestation for a platform-managed request, or a
    // vendor-facilitated one for an RP ID the factory listed; otherwise the batch attestation.
    let enterprise = match req.enterprise_attestation {
        Some(enterprise::PLATFORM_MANAGED) => true,
        Some(enterprise::VENDOR_FACILITATED) => a.state.ep_rp_ids.contains(&req.rp_id),
        _ => false,
    };
    let att_stmt = packed_attestation(a, &auth_data, &req.client_data_hash, c.alg, &private_key, enterprise)?;
    let mut response = vec![
        (0x01, Value::text("packed")),
        (0x02, Value::Bytes(auth_data)),
        (0x03, att_stmt),
    ];
    if enterprise {
        response.push((0x04, Value::Bool(true)));
    }
    if req.extensions.large_blob_key {
        response.push((0x05, Value::bytes(&a.state.large_blob_key(&private_key))));
    }
    Ok(Value::int_map(response))
}

/// Stores a discoverable credential, replacing any for the same RP and user handle (step 18).
fn store_resident(
    a: &mut Authenticator,
    req: &Request,
    id: &[u8],
    alg: Alg,
    key: &[u8],
    cred_protect: u8,
    cred_blob: Option<&[u8]>,
) {
    a.state
        .credentials
        .retain(|c| !(c.rp_id == req.rp_id && c.user_id == req.user_id));
    a.state.next_created += 1;
    a.state.credentials.push(ResidentCredential {
        id: id.to_vec(),
        rp_id: req.rp_id.clone(),
        rp_name: req.rp_name.as_deref().map(credential::truncate64),
        user_id: req.user_id.clone(),
        user_name: req.user_name.as_deref().map(credential::truncate64),
        user_display_name: req.user_display_name.as_deref().map(credential::truncate64),
        alg,
        private_key: Zeroizing::new(key.to_vec()),
        cred_protect: cred_protect.min(CRED_PROTECT_REQUIRED),
        hmac_secret: req.extensions.hmac_secret,
        cred_blob: cred_blob.map(<[u8]>::to_vec),
        created: a.state.next_created,
    });
}

/// `packed` attestation (WebAuthn §8.2): ES256 over authData ‖ clientDataHash with the batch key
/// and x5c (for enterprise attestation, the device's own certificate first: see
/// [`crate::enterprise`]), or self attestation with the credential key when no certificate was
/// provisioned.
fn packed_attestation(
    a: &Authenticator,
    auth_data: &[u8],
    cdh: &[u8],
    cred_alg: Alg,
    cred_key: &[u8],
    enterprise: bool,
) -> Result<Value, Status> {
    let message = [auth_data, cdh].concat();
    let chain = &a.state.attestation.cert_chain_der;
    if chain.is_empty() {
        let sig = cred_alg.sign(cred_key, &message).ok_or(Status::Other)?;
        return Ok(Value::text_map(vec![
            ("alg", Value::Int(cred_alg.cose())),
            ("sig", Value::Bytes(sig)),
        ]));
    }
    let sig = crypto::sign_es256(&a.state.attestation.private_key, &message).ok_or(Status::Other)?;
    let x5c: Vec<Value> = if enterprise {
        enterprise::chain(&a.state)
            .ok_or(Status::Other)?
            .into_iter()
            .map(Value::Bytes)
            .collect()
    } else {
        chain.iter().map(|c| Value::bytes(c)).collect()
    };
    Ok(Value::text_map(vec![
        ("alg", Value::Int(crypto::ES256)),
        ("sig", Value::Bytes(sig)),
        ("x5c", Value::Array(x5c)),
    ]))
}

#[cfg(test)]
mod tests;
