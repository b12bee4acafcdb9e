//! The BLOB as a compact JWS (RFC 7515 §7.1): three base64url segments, a JOSE header with
//! `x5c`, and an RS256 or ES256 signature over the first two segments as received.

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyfleet_webauthn_rp::x509::{self, Cert};
use serde::Deserialize;

use crate::{JwsAlg, Refusal, clean};

/// rsaEncryption.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
/// id-ecPublicKey.
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// secp256r1 (P-256).
const P256: &str = "1.2.840.10045.3.1.7";
/// secp384r1 (P-384).
const P384: &str = "1.3.132.0.34";

/// The JOSE header fields keyfleet reads (RFC 7515 §4.1); others are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct Header {
    /// `alg`.
    pub alg: String,
    /// `x5c`: standard base64 (not base64url) DER certificates, signer first (§4.1.6).
    #[serde(default)]
    pub x5c: Option<Vec<String>>,
    /// `x5u`.
    #[serde(default)]
    pub x5u: Option<String>,
    /// `crit`: extensions the signer requires to be understood (§4.1.11); keyfleet knows none.
    #[serde(default)]
    pub crit: Option<serde_json::Value>,
}

/// A compact JWS split and decoded.
#[derive(Debug)]
pub(crate) struct Compact<'a> {
    /// The header.
    pub header: Header,
    /// The decoded payload.
    pub payload: Vec<u8>,
    /// ASCII(BASE64URL(header) || '.' || BASE64URL(payload)), as received (§5.2 step 8).
    pub signing_input: &'a [u8],
    /// The decoded signature.
    pub signature: Vec<u8>,
}

impl<'a> Compact<'a> {
    /// Splits `blob` into its three segments and decodes them (RFC 7515 §5.2 steps 1–7).
    pub fn parse(blob: &'a [u8]) -> Result<Self, Refusal> {
        let text = std::str::from_utf8(blob).map_err(|_| Refusal::Malformed("not UTF-8 text".into()))?;
        // A file may end with a newline; nothing else around the JWS is accepted.
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        let mut parts = text.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(Refusal::Malformed(
                "not a compact JWS (three dot-separated parts)".into(),
            ));
        };
        let header_bytes = b64url(h, "header")?;
        let header: Header = serde_json::from_slice(&header_bytes)
            .map_err(|e| Refusal::Malformed(format!("JWS header: {}", clean(&e.to_string()))))?;
        let payload = b64url(p, "payload")?;
        let signature = b64url(s, "signature")?;
        let signing_input = &blob[..h.len() + 1 + p.len()];
        Ok(Self {
            header,
            payload,
            signing_input,
            signature,
        })
    }

    /// The header's algorithm, when keyfleet accepts it (RFC 7515 §4.1.1, §4.1.11).
    pub fn alg(&self) -> Result<JwsAlg, Refusal> {
        if self.header.crit.is_some() {
            return Err(Refusal::UnsupportedAlgorithm("crit header".into()));
        }
        match self.header.alg.as_str() {
            "RS256" => Ok(JwsAlg::Rs256),
            "ES256" => Ok(JwsAlg::Es256),
            other => Err(Refusal::UnsupportedAlgorithm(clean(other))),
        }
    }
}

fn b64url(segment: &str, what: &str) -> Result<Vec<u8>, Refusal> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Refusal::Malformed(format!("JWS {what} is not base64url")))
}

/// Decodes and parses `x5c` (signer first).
pub(crate) fn decode_x5c(x5c: &[String]) -> Result<Vec<Cert>, Refusal> {
    let ders = x5c
        .iter()
        .enumerate()
        .map(|(i, c)| {
            STANDARD
                .decode(c)
                .map_err(|_| Refusal::Certificate(format!("x5c[{i}] is not base64")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
    x509::parse_chain(&refs).map_err(|e| Refusal::Certificate(clean(&e.to_string())))
}

/// The signer's public key as the algorithm needs it: (curve or `rsa`, key bytes).
fn spki_key(cert: &Cert) -> Result<(&'static str, &[u8]), Refusal> {
    let spki = &cert.inner().tbs_certificate.subject_public_key_info;
    let bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| Refusal::Certificate("unaligned public key".into()))?;
    match spki.algorithm.oid.to_string().as_str() {
        // RSAPublicKey (RFC 8017 A.1.1), as aws-lc-rs takes it.
        RSA_ENCRYPTION => Ok(("rsa", bytes)),
        EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|o| o.to_string())
                .unwrap_or_default();
            match curve.as_str() {
                P256 => Ok(("p256", bytes)),
                P384 => Ok(("p384", bytes)),
                other => Err(Refusal::Certificate(format!("EC curve {other}"))),
            }
        }
        other => Err(Refusal::Certificate(format!("key algorithm {other}"))),
    }
}

/// RFC 7515 §5.2 step 8: the signature over the signing input with the signer's key; the key
/// must be of the algorithm's type (RSA for RS256, P-256 for ES256: RFC 7518 §3.3, §3.4).
pub(crate) fn verify_signature(alg: JwsAlg, signer: &Cert, input: &[u8], sig: &[u8]) -> Result<(), Refusal> {
    let (kind, key) = spki_key(signer)?;
    let algorithm: &'static dyn signature::VerificationAlgorithm = match (alg, kind) {
        (JwsAlg::Rs256, "rsa") => &signature::RSA_PKCS1_2048_8192_SHA256,
        (JwsAlg::Es256, "p256") => &signature::ECDSA_P256_SHA256_FIXED,
        (alg, kind) => {
            return Err(Refusal::UnsupportedAlgorithm(format!(
                "{} with a {kind} signing key",
                alg.as_str()
            )));
        }
    };
    UnparsedPublicKey::new(algorithm, key)
        .verify(input, sig)
        .map_err(|_| Refusal::BadSignature)
}

/// An X.509 signature (`signatureAlgorithm`, RFC 5280 §4.1.1.2) over `tbs` by `issuer`'s key:
/// what a CRL needs, with the algorithms the CAs of MDS chains use.
pub(crate) fn verify_x509_signature(issuer: &Cert, alg_oid: &str, tbs: &[u8], sig: &[u8]) -> bool {
    let Ok((kind, key)) = spki_key(issuer) else {
        return false;
    };
    let algorithm: &'static dyn signature::VerificationAlgorithm = match (alg_oid, kind) {
        ("1.2.840.113549.1.1.11", "rsa") => &signature::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.113549.1.1.12", "rsa") => &signature::RSA_PKCS1_2048_8192_SHA384,
        ("1.2.840.113549.1.1.13", "rsa") => &signature::RSA_PKCS1_2048_8192_SHA512,
        ("1.2.840.10045.4.3.2", "p256") => &signature::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", "p256") => &signature::ECDSA_P256_SHA384_ASN1,
        ("1.2.840.10045.4.3.2", "p384") => &signature::ECDSA_P384_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", "p384") => &signature::ECDSA_P384_SHA384_ASN1,
        _ => return false,
    };
    UnparsedPublicKey::new(algorithm, key).verify(tbs, sig).is_ok()
}
