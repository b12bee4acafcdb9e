//! A runner for keyfleet's WebAuthn conformance corpus (`shared/conformance/webauthn`).
//!
//! [`run_case`] takes one case file's text and follows the corpus README's "How a runner
//! should use a case": the case's `rpId`, origin(s), challenge and UV requirement become the
//! expectations; `verifyAt` is "now"; attestation trust is evaluated **only** when the case
//! lists `trustAnchors` (otherwise only the statement is verified); assertions are checked
//! against `credentialPublicKey` and `storedSignCount`. No IO: the caller reads the file.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::authentication::{
    AssertionExpectations, CounterPolicy, StoredCredential, UserIdentification, verify_authentication,
};
use crate::client_data::CrossOriginPolicy;
use crate::cose::{CoseAlgorithm, CredentialPublicKey};
use crate::json::{AuthenticationResponseJSON, Base64UrlBytes, RegistrationResponseJSON};
use crate::registration::{AttestationPolicy, RegistrationExpectations, verify_registration};
use crate::x509::TrustAnchor;

/// Every credential algorithm this crate supports (RS1 is attestation-only).
pub const ALL_CREDENTIAL_ALGS: &[CoseAlgorithm] = &[
    CoseAlgorithm::Es256,
    CoseAlgorithm::Es384,
    CoseAlgorithm::Es512,
    CoseAlgorithm::EdDsa,
    CoseAlgorithm::Ed25519,
    CoseAlgorithm::Rs256,
    CoseAlgorithm::Rs384,
    CoseAlgorithm::Rs512,
    CoseAlgorithm::Ps256,
    CoseAlgorithm::Ps384,
    CoseAlgorithm::Ps512,
];

/// A verdict: accept, or reject with a reason (the corpus' words) or an error code (ours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The ceremony succeeded.
    Accept,
    /// The ceremony failed.
    Reject(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => f.write_str("accept"),
            Verdict::Reject(why) => write!(f, "reject ({why})"),
        }
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// True if the verifier gave the expected verdict (for rejects: an error code of the
    /// reason's family), and for accepts the expected fmt, AAGUID and attestation type.
    pub verdict_ok: bool,
    /// The case's verdict (reject reason in the corpus' words).
    pub expected: Verdict,
    /// Our verdict (reject with our error code).
    pub got: Verdict,
    /// The error message, or a description of a mismatch.
    pub detail: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    ceremony: String,
    expect: String,
    reason: Option<String>,
    rp_id: String,
    origin: Option<String>,
    origins: Option<Vec<String>>,
    challenge: String,
    verify_at: String,
    user_verification_required: bool,
    expected_fmt: Option<String>,
    expected_aaguid: Option<String>,
    expected_attestation_type: Option<String>,
    trust_anchors: Option<Vec<String>>,
    credential_public_key: Option<String>,
    stored_sign_count: Option<u32>,
    response: serde_json::Value,
}

/// Runs one corpus case (the text of one `.json` file).
pub fn run_case(json: &str) -> CaseReport {
    let case: Case = match serde_json::from_str(json) {
        Ok(case) => case,
        Err(e) => return broken(format!("case file does not parse: {e}")),
    };
    let expected = match (case.expect.as_str(), &case.reason) {
        ("accept", _) => Verdict::Accept,
        ("reject", Some(reason)) => Verdict::Reject(reason.clone()),
        _ => return broken("case has no valid expect/reason".into()),
    };
    let outcome = match case.ceremony.as_str() {
        "registration" => run_registration(&case),
        "authentication" => run_authentication(&case),
        other => Err(format!("unknown ceremony {other:?}")),
    };
    let (got, detail) = match outcome {
        Ok(Ok(mismatch)) => (Verdict::Accept, mismatch.unwrap_or_default()),
        Ok(Err((code, message))) => (Verdict::Reject(code.to_owned()), message),
        Err(setup) => {
            return CaseReport {
                verdict_ok: false,
                expected,
                got: Verdict::Reject("setup".into()),
                detail: setup,
            };
        }
    };
    let verdict_ok = match (&expected, &got) {
        (Verdict::Accept, Verdict::Accept) => detail.is_empty(),
        (Verdict::Reject(reason), Verdict::Reject(code)) => reason_codes(reason).contains(&code.as_str()),
        _ => false,
    };
    CaseReport {
        verdict_ok,
        expected,
        got,
        detail,
    }
}

fn broken(detail: String) -> CaseReport {
    CaseReport {
        verdict_ok: false,
        expected: Verdict::Reject("?".into()),
        got: Verdict::Reject("setup".into()),
        detail,
    }
}

/// Our error codes that correspond to a README reason (its "first failing check").
pub fn reason_codes(reason: &str) -> &'static [&'static str] {
    match reason {
        "clientDataJSON type mismatch" => &["client_data_type_mismatch"],
        "challenge mismatch" => &["challenge_mismatch"],
        "origin mismatch" => &["origin_mismatch"],
        "rpIdHash mismatch" => &["rp_id_hash_mismatch"],
        "user presence required" => &["user_presence_required"],
        "user verification required" => &["uv_required"],
        "signature invalid" => &["signature_invalid"],
        "aaguid extension mismatch" => &["aaguid_extension_mismatch"],
        "attestation trust path not anchored" => &[
            "untrusted_attestation",
            "certificate_expired",
            "certificate_not_yet_valid",
            "certificate_chain_invalid",
        ],
        "attestation signature invalid" => &[
            "attestation_signature_invalid",
            "invalid_attestation_statement",
            "attestation_alg_mismatch",
            "invalid_attestation_certificate",
            "attestation_certificate_invalid",
            "attestation_public_key_mismatch",
            "u2f_aaguid_not_zero",
            "tpm_attestation_invalid",
            "android_key_attestation_invalid",
            "safetynet_attestation_invalid",
            "apple_nonce_mismatch",
        ],
        _ => &[],
    }
}

/// `Ok(Ok(None))` accepted as expected, `Ok(Ok(Some(why)))` accepted with a mismatch,
/// `Ok(Err((code, message)))` rejected, `Err` the case could not be set up.
type Outcome = Result<Result<Option<String>, (&'static str, String)>, String>;

struct Common {
    challenge: Vec<u8>,
    origins: Vec<String>,
    now: SystemTime,
}

fn common(case: &Case) -> Result<Common, String> {
    let challenge = Base64UrlBytes::decode(&case.challenge)
        .ok_or("challenge is not base64url")?
        .0;
    let origins = match (&case.origin, &case.origins) {
        (Some(o), None) => vec![o.clone()],
        (None, Some(list)) => list.clone(),
        _ => return Err("exactly one of origin/origins is required".into()),
    };
    let now = parse_rfc3339(&case.verify_at).ok_or("verifyAt is not RFC 3339 UTC")?;
    Ok(Common {
        challenge,
        origins,
        now,
    })
}

fn run_registration(case: &Case) -> Outcome {
    let common = common(case)?;
    let response: RegistrationResponseJSON =
        serde_json::from_value(case.response.clone()).map_err(|e| format!("response: {e}"))?;
    let anchors = match &case.trust_anchors {
        Some(pems) => {
            let mut all = Vec::new();
            for pem in pems {
                all.extend(TrustAnchor::from_pem(pem).map_err(|e| format!("trust anchor: {e}"))?);
            }
            Some(all)
        }
        None => None,
    };
    let origins: Vec<&str> = common.origins.iter().map(String::as_str).collect();
    let attestation = match &anchors {
        // Trust is evaluated only when the case lists anchors; none/self have no chain.
        Some(anchors) => AttestationPolicy::Trusted {
            anchors,
            allow_none: true,
            allow_self: true,
        },
        None => AttestationPolicy::StatementOnly,
    };
    let expectations = RegistrationExpectations {
        challenge: &common.challenge,
        origins: &origins,
        cross_origin: CrossOriginPolicy::Deny,
        rp_id: &case.rp_id,
        allowed_algs: ALL_CREDENTIAL_ALGS,
        user_verification_required: case.user_verification_required,
        user_presence_required: true,
        requested_extensions: None,
        attestation,
        now: common.now,
    };
    Ok(match verify_registration(&expectations, &response) {
        Ok(reg) => {
            let mut mismatches = Vec::new();
            if let Some(fmt) = &case.expected_fmt
                && fmt != reg.fmt.as_str()
            {
                mismatches.push(format!("fmt {} != expected {fmt}", reg.fmt.as_str()));
            }
            if let Some(aaguid) = &case.expected_aaguid
                && *aaguid != reg.aaguid.to_string()
            {
                mismatches.push(format!("aaguid {} != expected {aaguid}", reg.aaguid));
            }
            if let Some(t) = &case.expected_attestation_type
                && t != reg.attestation_type.as_str()
            {
                mismatches.push(format!(
                    "attestation type {} != expected {t}",
                    reg.attestation_type.as_str()
                ));
            }
            Ok((!mismatches.is_empty()).then(|| mismatches.join("; ")))
        }
        Err(e) => Err((e.code(), e.to_string())),
    })
}

fn run_authentication(case: &Case) -> Outcome {
    let common = common(case)?;
    let response: AuthenticationResponseJSON =
        serde_json::from_value(case.response.clone()).map_err(|e| format!("response: {e}"))?;
    let cose = case
        .credential_public_key
        .as_deref()
        .ok_or("credentialPublicKey missing")?;
    let cose = Base64UrlBytes::decode(cose).ok_or("credentialPublicKey is not base64url")?;
    let key = CredentialPublicKey::from_cose(&cose.0).map_err(|e| format!("credentialPublicKey: {e}"))?;
    let origins: Vec<&str> = common.origins.iter().map(String::as_str).collect();
    // The RP looked the credential up by rawId; the corpus states no owner, so the owner's
    // handle is whatever the authenticator returned (A3 is tested elsewhere).
    let owner = response
        .response
        .user_handle
        .as_ref()
        .map(|h| h.0.clone())
        .unwrap_or_default();
    let expectations = AssertionExpectations {
        challenge: &common.challenge,
        origins: &origins,
        cross_origin: CrossOriginPolicy::Deny,
        rp_id: &case.rp_id,
        user_verification_required: case.user_verification_required,
        allow_credentials: &[],
        user: UserIdentification::IdentifiedBeforehand,
        credential: StoredCredential {
            id: &response.raw_id.0,
            public_key: &key,
            sign_count: case.stored_sign_count.unwrap_or(0),
            backup_eligible: None,
            user_handle: &owner,
        },
        requested_extensions: None,
        counter_policy: CounterPolicy::Reject,
    };
    Ok(match verify_authentication(&expectations, &response) {
        Ok(_) => Ok(None),
        Err(e) => Err((e.code(), e.to_string())),
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (RFC 3339, UTC only).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { text.get(r)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = &text[19..];
    let rest = match rest.strip_prefix('.') {
        Some(frac) => frac.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    if !matches!(rest, "Z" | "z") || !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 {
        return None;
    }
    if minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests;
