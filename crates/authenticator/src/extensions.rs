//! Extensions (CTAP 2.1 §12): credProtect (§12.1), credBlob (§12.2), largeBlobKey (§12.3),
//! minPinLength (§12.4), hmac-secret (§12.5) and hmac-secret-mc (CTAP 2.2 §12.7: hmac-secret
//! outputs at registration, what WebAuthn's PRF extension uses to evaluate at creation).
//! Unknown extensions are ignored, as the spec requires.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::Authenticator;
use crate::cbor::Value;
use crate::credential::{CRED_PROTECT_OPTIONAL, CRED_PROTECT_REQUIRED, Found};
use crate::crypto;
use crate::env::Env;
use crate::pin_protocol::{Protocol, SharedSecret};
use crate::state::MAX_CRED_BLOB_LENGTH;
use crate::status::Status;

/// makeCredential extension inputs.
#[derive(Debug, Default)]
pub struct McInputs {
    /// credProtect level requested (1–3).
    pub cred_protect: Option<u8>,
    /// hmac-secret: true.
    pub hmac_secret: bool,
    /// minPinLength: true.
    pub min_pin_length: bool,
    /// credBlob: the bytes to store (kept only if at most `MAX_CRED_BLOB_LENGTH`).
    pub cred_blob: Option<Vec<u8>>,
    /// largeBlobKey: true.
    pub large_blob_key: bool,
    /// hmac-secret-mc: the salt input, verified by [`prepare_hmac_secret_input`].
    pub hmac_secret_mc: Option<Value>,
}

/// Parses makeCredential's extensions map.
pub fn parse_mc(extensions: Option<&Value>) -> Result<McInputs, Status> {
    let Some(ext) = extensions else {
        return Ok(McInputs::default());
    };
    ext.as_map()?;
    let mut out = McInputs::default();
    if let Some(v) = ext.get_text_key("credProtect") {
        let level = v.as_uint()?;
        // §12.1 names no error for an undefined credProtect value; like trussed's ctap-types we
        // refuse it with CTAP1_ERR_INVALID_PARAMETER rather than guess a protection level.
        if !(u64::from(CRED_PROTECT_OPTIONAL)..=u64::from(CRED_PROTECT_REQUIRED)).contains(&level) {
            return Err(Status::InvalidParameter);
        }
        out.cred_protect = Some(level as u8);
    }
    if let Some(v) = ext.get_text_key("hmac-secret") {
        out.hmac_secret = v.as_bool()?;
    }
    if let Some(v) = ext.get_text_key("minPinLength") {
        out.min_pin_length = v.as_bool()?;
    }
    if let Some(v) = ext.get_text_key("credBlob") {
        out.cred_blob = Some(v.as_bytes()?.to_vec());
    }
    if let Some(v) = ext.get_text_key("largeBlobKey") {
        // §12.3: the only valid input is true; false is CTAP2_ERR_INVALID_OPTION.
        if !v.as_bool()? {
            return Err(Status::InvalidOption);
        }
        out.large_blob_key = true;
    }
    if let Some(v) = ext.get_text_key("hmac-secret-mc") {
        v.as_map()?;
        out.hmac_secret_mc = Some(v.clone());
    }
    Ok(out)
}

/// Whether a credBlob fits (§12.2: longer ones are not stored and the output is false).
pub fn cred_blob_fits(blob: &[u8]) -> bool {
    blob.len() <= MAX_CRED_BLOB_LENGTH
}

/// makeCredential extension outputs for authenticator data (`None` = no ED flag).
/// `hmac_secret_mc` is the encrypted hmac-secret-mc output, when asked for.
pub fn mc_outputs(a: &Authenticator, inputs: &McInputs, rp_id: &str, hmac_secret_mc: Option<Value>) -> Option<Value> {
    let mut out = Vec::new();
    if let Some(level) = inputs.cred_protect {
        out.push(("credProtect", Value::Int(level.into())));
    }
    if let Some(blob) = &inputs.cred_blob {
        out.push(("credBlob", Value::Bool(cred_blob_fits(blob))));
    }
    if inputs.hmac_secret {
        out.push(("hmac-secret", Value::Bool(true)));
    }
    if let Some(v) = hmac_secret_mc {
        out.push(("hmac-secret-mc", v));
    }
    // minPinLength is only disclosed to RPs the authenticatorConfig allow-list names (§12.4).
    if inputs.min_pin_length && a.state.min_pin_length_rp_ids.iter().any(|r| r == rp_id) {
        out.push(("minPinLength", Value::Int(a.state.min_pin_length.into())));
    }
    (!out.is_empty()).then(|| Value::text_map(out))
}

/// A verified hmac-secret getAssertion input: the shared secret and the decrypted salts.
pub struct HmacSecret {
    shared: SharedSecret,
    salts: Zeroizing<Vec<u8>>,
}

/// Parses and verifies getAssertion's hmac-secret input {1: keyAgreement, 2: saltEnc, 3:
/// saltAuth, 4: pinUvAuthProtocol} (§12.5 authenticator processing steps 1–4).
pub fn prepare_hmac_secret(
    a: &mut Authenticator,
    env: &mut dyn Env,
    extensions: Option<&Value>,
) -> Result<Option<HmacSecret>, Status> {
    let Some(input) = extensions.and_then(|e| e.get_text_key("hmac-secret")) else {
        return Ok(None);
    };
    prepare_hmac_secret_input(a, env, input).map(Some)
}

/// Verifies one hmac-secret (or hmac-secret-mc) input map.
pub fn prepare_hmac_secret_input(
    a: &mut Authenticator,
    env: &mut dyn Env,
    input: &Value,
) -> Result<HmacSecret, Status> {
    input.as_map()?;
    let field = |k: i128| input.get_int_key(k).ok_or(Status::MissingParameter);
    let key_agreement = field(1)?;
    let salt_enc = field(2)?.as_bytes()?;
    let salt_auth = field(3)?.as_bytes()?;
    // An absent pinUvAuthProtocol means protocol one (§12.5, for CTAP 2.0 platforms). A present
    // but unsupported protocol is CTAP1_ERR_INVALID_PARAMETER, as everywhere else.
    let protocol = match input.get_int_key(4).map(Value::as_uint).transpose()? {
        None => Protocol::One,
        Some(n) => Protocol::from_number(n).ok_or(Status::InvalidParameter)?,
    };
    let shared = a.key_agreement(env).decapsulate_with(protocol, key_agreement)?;
    // "verify(shared secret, saltEnc, saltAuth). If the verification fails, return
    // CTAP2_ERR_PIN_AUTH_INVALID."
    if !shared.verify(salt_enc, salt_auth) {
        return Err(Status::PinAuthInvalid);
    }
    // "decrypt(shared secret, saltEnc). If the decryption fails, or if the result is not 32 or 64
    // bytes long, return CTAP1_ERR_INVALID_PARAMETER."
    let salts = shared.decrypt(salt_enc).ok_or(Status::InvalidParameter)?;
    if salts.len() != 32 && salts.len() != 64 {
        return Err(Status::InvalidParameter);
    }
    Ok(HmacSecret { shared, salts })
}

impl HmacSecret {
    /// The encrypted output1 [‖ output2] for one credential (§12.5 steps 5–7), `None` when the
    /// credential was made without hmac-secret.
    pub fn output(&self, a: &Authenticator, rng: &mut dyn CryptoRngCore, cred: &Found, uv: bool) -> Option<Value> {
        if !cred.hmac_secret {
            return None;
        }
        Some(self.output_for_key(a, rng, &cred.private_key, uv))
    }

    /// The encrypted outputs for a credential key (hmac-secret-mc uses it before a `Found` exists).
    pub fn output_for_key(
        &self,
        a: &Authenticator,
        rng: &mut dyn CryptoRngCore,
        private_key: &[u8],
        uv: bool,
    ) -> Value {
        let cred_random = Zeroizing::new(a.state.cred_random(private_key, uv));
        let mut outputs = Zeroizing::new(Vec::with_capacity(64));
        for salt in self.salts.chunks(32) {
            outputs.extend_from_slice(&crypto::hmac_sha256(cred_random.as_slice(), &[salt]));
        }
        Value::Bytes(self.shared.encrypt(rng, &outputs))
    }
}

#[cfg(test)]
mod tests;
