//! Credential requests: decrypted with the transport keys, checked as a browser would check
//! creation options before calling a key, and the clientDataJSON the factory writes for them.
//!
//! No browser is involved, so the factory plays the client (WebAuthn Level 3 §5.1.3, "Create a
//! new credential"): the origin is the one keyfleet put in the request, the RP ID must be that
//! origin's host or a registrable suffix of it (step 8), and the clientDataJSON is
//! `{"type":"webauthn.create","challenge":B64URL,"origin":ORIGIN,"crossOrigin":false}` in that
//! order, as §5.8.1.1's serialization writes it (`docs/provisioning.md`).

use keyfleet_provisioning::api::CredentialRequest;
use keyfleet_provisioning::jwe;
use keyfleet_provisioning::jwk::EcPrivateKey;
use keyfleet_webauthn_rp::CoseAlgorithm;
use serde::Serialize;

/// The COSE algorithms the software key makes credentials for.
pub const SUPPORTED_ALGORITHMS: [CoseAlgorithm; 3] = [CoseAlgorithm::Es256, CoseAlgorithm::EdDsa, CoseAlgorithm::Es384];

/// Decrypts and checks one request; the error says why (never with the request's content).
pub fn open(compact: &str, transport: &[EcPrivateKey]) -> Result<CredentialRequest, String> {
    let decrypted = jwe::decrypt(compact, transport).map_err(|e| e.to_string())?;
    let request: CredentialRequest =
        serde_json::from_slice(&decrypted.plaintext).map_err(|_| "not a credential request".to_string())?;
    check(&request)?;
    Ok(request)
}

/// The RP ID the request names.
pub fn rp_id(request: &CredentialRequest) -> &str {
    request.public_key.rp.id.as_deref().unwrap_or_default()
}

fn host_of(origin: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = origin.split_once("://")?;
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return None;
    }
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => host,
        Some(_) => return None,
        None => rest,
    };
    Some((scheme, host))
}

/// What a client checks before it calls the key.
pub fn check(request: &CredentialRequest) -> Result<(), String> {
    let (scheme, host) = host_of(&request.origin).ok_or("origin is not scheme://host[:port]")?;
    let local = host == "localhost" || host == "127.0.0.1";
    if scheme != "https" && !(scheme == "http" && local) {
        return Err("origin must be https (http only for localhost)".into());
    }
    let options = &request.public_key;
    let rp_id = options.rp.id.as_deref().ok_or("rp.id is missing")?;
    if rp_id.is_empty() || !(host == rp_id || host.ends_with(&format!(".{rp_id}"))) {
        return Err("rp.id is not the origin's host or a suffix of it".into());
    }
    if options.challenge.0.len() < 16 {
        return Err("challenge is shorter than 16 bytes".into());
    }
    if !options
        .pub_key_cred_params
        .iter()
        .any(|p| SUPPORTED_ALGORITHMS.contains(&p.alg))
    {
        return Err("no supported algorithm in pubKeyCredParams".into());
    }
    Ok(())
}

#[derive(Serialize)]
struct ClientData<'a> {
    #[serde(rename = "type")]
    type_: &'a str,
    challenge: String,
    origin: &'a str,
    #[serde(rename = "crossOrigin")]
    cross_origin: bool,
}

/// The clientDataJSON for a request (see the module documentation).
pub fn client_data_json(request: &CredentialRequest) -> Vec<u8> {
    serde_json::to_vec(&ClientData {
        type_: "webauthn.create",
        challenge: keyfleet_provisioning::b64::encode(&request.public_key.challenge.0),
        origin: &request.origin,
        cross_origin: false,
    })
    .unwrap_or_default()
}

/// Whether the options ask for a discoverable credential.
pub fn resident_key(request: &CredentialRequest) -> bool {
    let Some(selection) = request.public_key.authenticator_selection.as_ref() else {
        return false;
    };
    selection.require_resident_key == Some(true)
        || selection
            .resident_key
            .as_ref()
            .is_some_and(|r| matches!(r.as_str(), "required" | "preferred"))
}
