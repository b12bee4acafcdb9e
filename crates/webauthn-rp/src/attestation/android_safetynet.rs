//! `android-safetynet` attestation (WebAuthn L3 §8.5). Deprecated by Google; kept because
//! it is cheap and older Android devices still send it.
//!
//! ```text
//! attStmt = { ver: text (non-empty), response: bytes (UTF-8 JWS compact serialization) }
//! ```
//! The JWS header carries `alg` and `x5c` (standard base64 DER, leaf first); the payload
//! carries `nonce` (base64 of SHA-256(authenticatorData ‖ clientDataHash)),
//! `ctsProfileMatch` and `timestampMs`.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use super::{AttestationError, AttestationType, StatementInput, StatementOutcome, only_members, stmt_bytes};
use crate::cbor::{Value, map_get_text};
use crate::cose::CoseAlgorithm;
use crate::x509::{self, oid};

/// The host name the leaf certificate must be issued to.
const ATTEST_HOST: &str = "attest.android.com";
/// How far `timestampMs` may lie in the future of "now" (clock skew).
const MAX_FUTURE: Duration = Duration::from_secs(60);
/// How old `timestampMs` may be.
const MAX_AGE: Duration = Duration::from_secs(60);

/// Verification procedure (§8.5).
pub fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestationError> {
    // 1. Verify that attStmt is valid CBOR conforming to the syntax defined above.
    only_members(input.att_stmt, &["ver", "response"])?;
    if map_get_text(input.att_stmt, "ver")
        .and_then(Value::as_text)
        .is_none_or(str::is_empty)
    {
        return Err(AttestationError::InvalidStatement("ver missing or empty"));
    }
    let response = stmt_bytes(input.att_stmt, "response", "response missing or not a byte string")?;
    let jws = std::str::from_utf8(response).map_err(|_| AttestationError::SafetyNet("response is not UTF-8"))?;
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AttestationError::SafetyNet("response is not a compact JWS"));
    };
    let header: serde_json::Value = decode_json(header_b64)?;
    let payload: serde_json::Value = decode_json(payload_b64)?;
    let signature = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| AttestationError::SafetyNet("bad JWS signature"))?;

    // 2. Verify that nonce in the response is identical to the Base64 encoding of the SHA-256
    //    hash of the concatenation of authenticatorData and clientDataHash.
    let mut hasher = Sha256::new();
    hasher.update(input.auth_data.raw);
    hasher.update(input.client_data_hash);
    let expected_nonce = STANDARD.encode(hasher.finalize());
    if payload.get("nonce").and_then(serde_json::Value::as_str) != Some(expected_nonce.as_str()) {
        return Err(AttestationError::SafetyNet("nonce does not match"));
    }

    // 3. Verify that the SafetyNet response actually came from the SafetyNet service:
    //    - verify that attestationCert is issued to the hostname "attest.android.com";
    let x5c_b64 = header
        .get("x5c")
        .and_then(serde_json::Value::as_array)
        .ok_or(AttestationError::SafetyNet("JWS header lacks x5c"))?;
    let ders = x5c_b64
        .iter()
        .map(|v| v.as_str().and_then(|s| STANDARD.decode(s).ok()))
        .collect::<Option<Vec<Vec<u8>>>>()
        .ok_or(AttestationError::SafetyNet("x5c entry is not base64"))?;
    let der_refs: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
    let x5c = x509::parse_chain(&der_refs).map_err(AttestationError::Certificate)?;
    let leaf = &x5c[0];
    if !leaf.subject_attr(oid::COMMON_NAME).iter().any(|cn| cn == ATTEST_HOST) {
        return Err(AttestationError::SafetyNet(
            "attestation certificate is not issued to attest.android.com",
        ));
    }
    //    - verify that the signature over the JWS header and payload verifies with attestationCert.
    let alg = match header.get("alg").and_then(serde_json::Value::as_str) {
        Some("RS256") => CoseAlgorithm::Rs256,
        Some("ES256") => CoseAlgorithm::Es256,
        _ => return Err(AttestationError::SafetyNet("unsupported JWS alg")),
    };
    let signing_input = &jws.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    let key = leaf.public_key().map_err(AttestationError::Certificate)?;
    let signature = if alg == CoseAlgorithm::Es256 {
        jose_to_der(&signature)?
    } else {
        signature
    };
    key.verify(alg, &[signing_input], &signature)
        .map_err(|_| AttestationError::SignatureInvalid)?;

    // 4. Verify that the ctsProfileMatch attribute in the payload of response is true.
    if payload.get("ctsProfileMatch").and_then(serde_json::Value::as_bool) != Some(true) {
        return Err(AttestationError::SafetyNet("ctsProfileMatch is not true"));
    }
    //    (Freshness, as the spec's note asks:) timestampMs must be close to "now".
    let timestamp = payload
        .get("timestampMs")
        .and_then(serde_json::Value::as_u64)
        .ok_or(AttestationError::SafetyNet("timestampMs missing"))?;
    let issued = SystemTime::UNIX_EPOCH + Duration::from_millis(timestamp);
    if issued > input.now + MAX_FUTURE || issued + MAX_AGE < input.now {
        return Err(AttestationError::SafetyNet("timestampMs is not fresh"));
    }

    // 5. If successful, return attestation type Basic with the trust path set to attestationCert (x5c).
    Ok(StatementOutcome {
        attestation_type: AttestationType::Basic,
        trust_path: x5c,
    })
}

fn decode_json(b64: &str) -> Result<serde_json::Value, AttestationError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| AttestationError::SafetyNet("JWS part is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| AttestationError::SafetyNet("JWS part is not JSON"))
}

/// JWS ES256 signatures are r ‖ s (RFC 7518 §3.4); convert to ASN.1 DER for the verifier,
/// which then checks 1 ≤ r, s < n.
fn jose_to_der(sig: &[u8]) -> Result<Vec<u8>, AttestationError> {
    if sig.len() != 64 {
        return Err(AttestationError::SignatureInvalid);
    }
    let integer = |half: &[u8]| {
        let first = half.iter().position(|b| *b != 0).unwrap_or(half.len() - 1);
        let value = &half[first..];
        let pad = usize::from(value[0] & 0x80 != 0);
        let mut out = vec![0x02, (value.len() + pad) as u8];
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend_from_slice(value);
        out
    };
    let (r, s) = (integer(&sig[..32]), integer(&sig[32..]));
    // At most 2 × (2 + 33) = 70 content bytes: the short length form.
    let mut der = vec![0x30, (r.len() + s.len()) as u8];
    der.extend_from_slice(&r);
    der.extend_from_slice(&s);
    Ok(der)
}
